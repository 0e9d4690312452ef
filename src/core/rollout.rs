//! Partitioned canary rollouts as pure functions: step sizes, the plan of partitions, the
//! journal kept in an annotation, and the verdict on a step from what the pods show.
//!
//! The controller updates a pod when its replica index (ordinal − `ordinals.start`) is at or
//! above the partition (`stateful_set_control.go`: `replicas[getOrdinal(pod)-getStartOrdinal(set)]`),
//! highest index first. So "update `n` pods" means "partition = replicas − n", and the pods it
//! releases are the ordinals `start + replicas − n .. start + replicas`.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::names::OrdinalRange;
use super::objects::{
    min_ready_seconds, observed_current, ordinal_range, pod_available, pod_crash_looping, pod_ready,
    pod_revision, pods_of, terminating, update_revision,
};

/// The journal of a rollout started by this tool, kept on the StatefulSet so that any later
/// invocation can resume or abort it.
pub const ROLLOUT_ANNOTATION: &str = "kubectl-stateful.dev/rollout";

/// How many pods a step updates in total: a count or a percentage of replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepSize {
    Pods(u32),
    Percent(u32),
}

impl StepSize {
    /// Pods updated once this step is done, out of `replicas` (percentages round up, so 1% of
    /// 3 replicas is one pod, never zero).
    pub fn pods(self, replicas: i32) -> i32 {
        let replicas = replicas.max(0);
        let pods = match self {
            StepSize::Pods(n) => i64::from(n),
            StepSize::Percent(p) => (i64::from(replicas) * i64::from(p) + 99) / 100,
        };
        pods.min(i64::from(replicas)) as i32
    }
}

impl FromStr for StepSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (digits, percent) = match text.strip_suffix('%') {
            Some(digits) => (digits, true),
            None => (text, false),
        };
        let value: u32 = digits
            .parse()
            .map_err(|_| format!("step {text:?} is neither a pod count (3) nor a percentage (50%)"))?;
        match (percent, value) {
            (_, 0) => Err(format!("step {text:?} updates no pod")),
            (true, p) if p > 100 => Err(format!("step {text:?} is more than 100%")),
            (true, p) => Ok(StepSize::Percent(p)),
            (false, n) => Ok(StepSize::Pods(n)),
        }
    }
}

impl fmt::Display for StepSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepSize::Pods(n) => write!(f, "{n}"),
            StepSize::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// The step sizes of a plan, as `--steps 1,50%,100%` gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Steps(pub Vec<StepSize>);

impl Default for Steps {
    /// One pod, then half, then all.
    fn default() -> Self {
        Steps(vec![StepSize::Pods(1), StepSize::Percent(50), StepSize::Percent(100)])
    }
}

impl FromStr for Steps {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_steps(text).map(Steps)
    }
}

impl fmt::Display for Steps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sizes: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&sizes.join(","))
    }
}

/// Parses `--steps 1,50%,100%`. Sizes must grow; the plan adds a final 100% step itself.
fn parse_steps(text: &str) -> Result<Vec<StepSize>, String> {
    let sizes = text.split(',').map(str::parse).collect::<Result<Vec<StepSize>, _>>()?;
    for pair in sizes.windows(2) {
        let comparable = match (pair[0], pair[1]) {
            (StepSize::Pods(a), StepSize::Pods(b)) | (StepSize::Percent(a), StepSize::Percent(b)) => {
                Some(a >= b)
            }
            _ => None,
        };
        if comparable == Some(true) {
            return Err(format!("steps must grow: {} is followed by {}", pair[0], pair[1]));
        }
    }
    Ok(sizes)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// 1-based.
    pub number: usize,
    pub partition: i32,
    /// Pods updated once this step is done.
    pub updated: i32,
    /// The ordinals this step releases, in the order the controller updates them.
    pub ordinals: Vec<i32>,
}

/// The partitions a rollout walks through, from `from_partition` (exclusive) down to 0.
/// Steps that would not lower the partition below `from_partition` are dropped, so a plan
/// never raises it.
pub fn plan(range: OrdinalRange, sizes: &[StepSize], from_partition: i32) -> Vec<Step> {
    let replicas = range.replicas.max(0);
    let mut counts: Vec<i32> = sizes.iter().map(|s| s.pods(replicas)).collect();
    counts.push(replicas);
    counts.sort_unstable();
    counts.dedup();
    let mut previous = from_partition.clamp(0, replicas);
    let mut steps = Vec::new();
    for count in counts {
        let partition = replicas - count;
        if partition >= previous {
            continue;
        }
        steps.push(Step {
            number: steps.len() + 1,
            partition,
            updated: count,
            ordinals: released(range, partition, previous),
        });
        previous = partition;
    }
    steps
}

/// Ordinals whose replica index is in `[partition, previous)`, highest first.
pub fn released(range: OrdinalRange, partition: i32, previous: i32) -> Vec<i32> {
    range
        .ordinals()
        .rev()
        .filter(|&o| (i64::from(partition)..i64::from(previous)).contains(&range.index_of(o)))
        .collect()
}

/// What this tool writes on the StatefulSet while a rollout runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Journal {
    /// Step sizes as given (`1`, `50%`), re-planned against the replicas on resume.
    pub steps: Vec<String>,
    /// The partition before the rollout, restored on abort.
    pub partition_before: i32,
    /// The revision pods ran before the rollout, restored on abort.
    pub from_revision: String,
    pub started_at: Timestamp,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub aborting: bool,
}

impl Journal {
    pub fn of(sts: &StatefulSet) -> Option<Result<Journal, String>> {
        let text = sts.annotations().get(ROLLOUT_ANNOTATION)?;
        Some(
            serde_json::from_str(text)
                .map_err(|e| format!("annotation {ROLLOUT_ANNOTATION} is not readable: {e}")),
        )
    }

    pub fn step_sizes(&self) -> Result<Steps, String> {
        self.steps.iter().map(|s| s.parse()).collect::<Result<_, _>>().map(Steps)
    }

    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `CONTAINER=IMAGE`, as `kubectl set image` takes it.
pub fn parse_image(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((container, image)) if !container.is_empty() && !image.is_empty() => {
            Ok((container.to_owned(), image.to_owned()))
        }
        _ => Err(format!("{text:?} is not CONTAINER=IMAGE")),
    }
}

/// The pod template with each named container's image replaced (containers and init
/// containers, as `kubectl set image` does).
pub fn with_images(
    template: &PodTemplateSpec,
    images: &[(String, String)],
) -> Result<PodTemplateSpec, String> {
    let mut template = template.clone();
    let spec = template.spec.get_or_insert_with(Default::default);
    for (name, image) in images {
        let container = spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
            .find(|c| &c.name == name);
        match container {
            Some(container) => container.image = Some(image.clone()),
            None => {
                let known: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
                return Err(format!(
                    "no container {name:?} in the pod template (containers: {})",
                    known.join(", ")
                ));
            }
        }
    }
    Ok(template)
}

/// The pod template a ControllerRevision recorded. Its data is the StatefulSet patch
/// `{"spec":{"template":{..., "$patch":"replace"}}}` that `kubectl rollout undo` applies.
pub fn revision_template(revision: &ControllerRevision) -> Result<Value, String> {
    let name = revision.name_any();
    let mut template = revision
        .data
        .as_ref()
        .and_then(|d| d.0.pointer("/spec/template"))
        .cloned()
        .ok_or_else(|| format!("ControllerRevision {name} holds no pod template"))?;
    if let Some(fields) = template.as_object_mut() {
        fields.remove("$patch");
    }
    Ok(template)
}

/// A released pod as a step sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodProgress {
    pub ordinal: i32,
    pub name: String,
    pub updated: bool,
    pub ready: bool,
    pub available: bool,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepVerdict {
    /// Still converging; the pods the partition releases and how far each is.
    Waiting(Vec<PodProgress>),
    Done(Vec<PodProgress>),
    /// An updated pod crash-loops or stopped being Ready: stop here.
    Failed(Vec<String>),
}

/// Watches one step converge: every pod at or above `partition` on `revision`, Ready, and
/// Ready for minReadySeconds. Remembers which updated pods have been Ready, so that one that
/// later turns not Ready fails the step instead of counting as "still starting".
#[derive(Debug, Default)]
pub struct StepWatch {
    ready_seen: HashSet<String>,
}

impl StepWatch {
    pub fn observe(
        &mut self,
        sts: &StatefulSet,
        pods: &[Pod],
        partition: i32,
        now: Timestamp,
    ) -> StepVerdict {
        // Until the controller has seen the latest spec, its update revision may be stale.
        if !observed_current(sts) {
            return StepVerdict::Waiting(Vec::new());
        }
        let range = ordinal_range(sts);
        let revision = update_revision(sts);
        let min_ready = min_ready_seconds(sts);
        let by_ordinal = pods_of(sts, pods);
        let mut progress = Vec::new();
        let mut failures = Vec::new();
        for ordinal in released(range, partition, range.replicas) {
            let pod = by_ordinal.iter().find(|(o, _)| *o == ordinal).map(|(_, p)| *p);
            let name = super::names::pod_name(&sts.name_any(), ordinal);
            let Some(pod) = pod.filter(|p| !terminating(*p)) else {
                progress.push(PodProgress {
                    ordinal,
                    name,
                    updated: false,
                    ready: false,
                    available: false,
                    state: "being replaced".into(),
                });
                continue;
            };
            let updated = revision.is_some() && pod_revision(pod) == revision;
            let ready = pod_ready(pod);
            let uid = pod.uid().unwrap_or_default();
            if updated && pod_crash_looping(pod) {
                failures.push(format!("pod {name} on the update revision is in CrashLoopBackOff"));
            } else if updated && ready {
                self.ready_seen.insert(uid);
            } else if updated && self.ready_seen.contains(&uid) {
                failures.push(format!("pod {name} on the update revision stopped being Ready"));
            }
            let available = updated && pod_available(pod, min_ready, now);
            let state = match (updated, ready, available) {
                (false, _, _) => "old revision",
                (true, false, _) => "starting",
                (true, true, false) => "ready, waiting minReadySeconds",
                (true, true, true) => "available",
            };
            progress.push(PodProgress { ordinal, name, updated, ready, available, state: state.into() });
        }
        if !failures.is_empty() {
            StepVerdict::Failed(failures)
        } else if progress.iter().all(|p| p.available) {
            StepVerdict::Done(progress)
        } else {
            StepVerdict::Waiting(progress)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::{pod, sts};
    use proptest::prelude::*;

    #[test]
    fn parses_step_lists() {
        assert_eq!("1,50%,100%".parse::<Steps>().unwrap(), Steps::default());
        assert_eq!(Steps::default().to_string(), "1,50%,100%");
        assert_eq!(parse_steps(" 2 , 10% ").unwrap(), vec![StepSize::Pods(2), StepSize::Percent(10)]);
        for bad in ["", "0", "1,,2", "abc", "150%", "-1", "3,1", "50%,10%", "%"] {
            assert!(parse_steps(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn default_plan_is_one_pod_then_half_then_all() {
        let steps = plan(OrdinalRange { start: 0, replicas: 5 }, &Steps::default().0, 5);
        let summary: Vec<_> = steps.iter().map(|s| (s.partition, s.ordinals.clone())).collect();
        assert_eq!(summary, vec![(4, vec![4]), (2, vec![3, 2]), (0, vec![1, 0])]);
    }

    #[test]
    fn plan_counts_replica_indexes_from_the_start_ordinal() {
        let steps = plan(OrdinalRange { start: 10, replicas: 3 }, &Steps::default().0, 3);
        let summary: Vec<_> = steps.iter().map(|s| (s.partition, s.ordinals.clone())).collect();
        assert_eq!(summary, vec![(2, vec![12]), (1, vec![11]), (0, vec![10])]);
    }

    #[test]
    fn resumed_plan_skips_steps_already_taken() {
        let steps = plan(OrdinalRange { start: 0, replicas: 4 }, &Steps::default().0, 2);
        let summary: Vec<_> = steps.iter().map(|s| (s.number, s.partition, s.ordinals.clone())).collect();
        assert_eq!(summary, vec![(1, 0, vec![1, 0])]);
    }

    #[test]
    fn single_replica_is_one_step() {
        let steps = plan(OrdinalRange { start: 0, replicas: 1 }, &Steps::default().0, 1);
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].ordinals, vec![0]);
        assert!(plan(OrdinalRange { start: 0, replicas: 0 }, &Steps::default().0, 0).is_empty());
    }

    #[test]
    fn journal_round_trips_through_the_annotation() {
        let journal = Journal {
            steps: vec!["1".into(), "50%".into()],
            partition_before: 2,
            from_revision: "web-abc".into(),
            started_at: Timestamp::from_second(1_700_000_000).unwrap(),
            aborting: false,
        };
        let web = sts("web", 3).annotation(ROLLOUT_ANNOTATION, &journal.to_annotation()).build();
        assert_eq!(Journal::of(&web).unwrap().unwrap(), journal);
        let broken = sts("web", 3).annotation(ROLLOUT_ANNOTATION, "{").build();
        assert!(Journal::of(&broken).unwrap().is_err());
    }

    #[test]
    fn step_waits_then_finishes_then_fails_when_an_updated_pod_turns_unready() {
        let web = sts("web", 3).revisions("web-old", "web-new").build();
        let now = Timestamp::from_second(1_700_000_100).unwrap();
        let mut watch = StepWatch::default();
        let starting = [pod(&web, 2).revision("web-new").ready(false).build()];
        assert!(matches!(watch.observe(&web, &starting, 2, now), StepVerdict::Waiting(_)));
        let ready = [pod(&web, 2).revision("web-new").ready(true).build()];
        assert!(matches!(watch.observe(&web, &ready, 2, now), StepVerdict::Done(_)));
        assert!(matches!(watch.observe(&web, &starting, 2, now), StepVerdict::Failed(_)));
        let crashing = [pod(&web, 1).revision("web-new").crash_looping().build()];
        assert!(matches!(StepWatch::default().observe(&web, &crashing, 1, now), StepVerdict::Failed(_)));
    }

    #[test]
    fn min_ready_seconds_holds_a_step_back() {
        let web = sts("web", 1).revisions("web-old", "web-new").min_ready_seconds(30).build();
        let ready_at = Timestamp::from_second(1_700_000_000).unwrap();
        let pods = [pod(&web, 0).revision("web-new").ready_since(ready_at).build()];
        let mut watch = StepWatch::default();
        let early = Timestamp::from_second(1_700_000_010).unwrap();
        let late = Timestamp::from_second(1_700_000_030).unwrap();
        assert!(matches!(watch.observe(&web, &pods, 0, early), StepVerdict::Waiting(_)));
        assert!(matches!(watch.observe(&web, &pods, 0, late), StepVerdict::Done(_)));
    }

    #[test]
    fn images_are_set_by_container_name() {
        let web = sts("web", 1).build();
        let template = &web.spec.as_ref().unwrap().template;
        let images = vec![parse_image("app=example.invalid/app:v2").unwrap()];
        let updated = with_images(template, &images).unwrap();
        assert_eq!(updated.spec.unwrap().containers[0].image.as_deref(), Some("example.invalid/app:v2"));
        let unknown = with_images(template, &[parse_image("sidecar=x").unwrap()]).unwrap_err();
        assert_eq!(unknown, r#"no container "sidecar" in the pod template (containers: app)"#);
        for bad in ["app", "=img", "app=", ""] {
            assert!(parse_image(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn revision_template_drops_the_replace_directive() {
        let revision: ControllerRevision = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-abc"},
            "revision": 1,
            "data": {"spec": {"template": {"$patch": "replace", "spec": {"containers": [{"name": "app", "image": "v1"}]}}}}
        }))
        .unwrap();
        assert_eq!(
            revision_template(&revision).unwrap(),
            serde_json::json!({"spec": {"containers": [{"name": "app", "image": "v1"}]}})
        );
    }

    fn sizes() -> impl Strategy<Value = Vec<StepSize>> {
        let size = prop_oneof![(1u32..50).prop_map(StepSize::Pods), (1u32..=100).prop_map(StepSize::Percent)];
        proptest::collection::vec(size, 0..6)
    }

    proptest! {
        #[test]
        fn plans_only_lower_the_partition_and_release_each_pod_once(
            start in 0i32..1000, replicas in 0i32..300, sizes in sizes(), from in -5i32..400,
        ) {
            let range = OrdinalRange { start, replicas };
            let steps = plan(range, &sizes, from);
            let from = from.clamp(0, replicas);
            let mut previous = from;
            let mut released_all = Vec::new();
            for step in &steps {
                prop_assert!(step.partition < previous, "partition must fall: {} then {}", previous, step.partition);
                prop_assert!(step.partition >= 0);
                prop_assert_eq!(step.updated, replicas - step.partition);
                prop_assert!(step.ordinals.windows(2).all(|w| w[0] > w[1]), "highest ordinal first");
                released_all.extend(step.ordinals.iter().copied());
                previous = step.partition;
            }
            if replicas > 0 && from > 0 {
                prop_assert_eq!(steps.last().map(|s| s.partition), Some(0));
            }
            // Exactly the ordinals the starting partition held back, each once.
            let mut expected: Vec<i32> = range.ordinals().filter(|&o| range.index_of(o) < i64::from(from)).collect();
            released_all.sort_unstable();
            expected.sort_unstable();
            prop_assert_eq!(released_all, expected);
        }

        #[test]
        fn step_parser_never_panics(text in "\\PC*") {
            let _ = parse_steps(&text);
        }
    }
}
