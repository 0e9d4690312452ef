//! What a rollout waits for, as pure predicates over the StatefulSet and its pods (kube-rs
//! names its conditions the same way, `kube::runtime::conditions::is_deployment_completed`;
//! it has none for StatefulSets). The shell's one wait loop calls them on every change.

use crate::core::objects::LivePods;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde::Serialize;

use super::journal::ReadyAtStart;
#[cfg(test)]
use super::plan::released;
use crate::core::names::pod_name;
use crate::core::objects::{
    ON_DELETE, ORDERED_READY, current_revision, held_terminating, holding_finalizers, min_ready_seconds,
    observed_current, ordinal_range, partition, pod_available, pod_crash_looping, pod_management_policy,
    pod_ready, pod_restarts, pod_revision, pod_status_text, pods_of, replicas, scaling_settled, terminating,
    update_revision, update_strategy,
};

/// The controller has seen the latest spec: the revisions and counts in the status are current.
pub fn is_observed(sts: &StatefulSet) -> bool {
    observed_current(sts)
}

/// The controller reports as many pods as the spec asks for.
pub fn is_settled(sts: &StatefulSet) -> bool {
    scaling_settled(sts)
}

/// Every live ordinal has a pod, and no pod of the StatefulSet holds an ordinal outside them.
pub fn has_its_pods(sts: &StatefulSet, pods: &[Pod]) -> bool {
    let range = ordinal_range(sts);
    let ours = pods_of(sts, pods);
    ours.iter().all(|(o, _)| range.contains(*o))
        && range.ordinals().all(|o| ours.iter().any(|(p, _)| *p == o))
}

/// After the last step: the controller has promoted the update revision to current.
pub fn is_promoted(sts: &StatefulSet) -> bool {
    observed_current(sts) && current_revision(sts) == update_revision(sts)
}

/// Some live pod does not run the update revision yet (or, under RollingUpdate, the revisions
/// differ; under OnDelete the current revision is never promoted, kubernetes#73492, so only the
/// pods tell).
pub fn update_pending(sts: &StatefulSet, pods: &[Pod]) -> bool {
    let update = update_revision(sts);
    let range = ordinal_range(sts);
    (update != current_revision(sts) && update_strategy(sts) != ON_DELETE)
        || pods_of(sts, pods).iter().any(|(o, p)| range.contains(*o) && pod_revision(p) != update)
}

/// Where a rollout of `sts` stands, as one number: the partition (RollingUpdate), or under
/// OnDelete, which has none, the pods not yet on the update revision (what the partition would
/// be; from `status.updatedReplicas`, which the controller counts under either strategy).
pub fn position(sts: &StatefulSet) -> i32 {
    if update_strategy(sts) != ON_DELETE {
        return partition(sts);
    }
    let updated = sts.status.as_ref().and_then(|s| s.updated_replicas).unwrap_or(0);
    (replicas(sts) - updated).max(0)
}

/// Where a rollout of `sts` stands, for a message: `at partition 2`, or under OnDelete `with 1
/// of 3 pods on the update revision`, counted from `pods` once the controller has observed the
/// spec (its status lags evictions and a staged template; without pods, or before that, it says
/// so without a count).
pub fn describe_position(sts: &StatefulSet, pods: Option<&[Pod]>) -> String {
    if update_strategy(sts) != ON_DELETE {
        return format!("at partition {}", partition(sts));
    }
    match pods.filter(|_| observed_current(sts)) {
        Some(pods) => {
            let updated = LivePods::of(sts, pods).on(update_revision(sts)).count();
            format!("with {updated} of {} pods on the update revision", replicas(sts))
        }
        None => "mid-rollout (OnDelete: the pods replaced so far run the update revision, the others their old one)"
            .to_owned(),
    }
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

#[derive(Debug, Clone, PartialEq)]
pub enum StepVerdict {
    /// Still converging; the pods the partition releases and how far each is. `soon`: time
    /// alone will change the verdict (minReadySeconds, the pause), so look again shortly.
    Waiting {
        pods: Vec<PodProgress>,
        soon: bool,
    },
    Done(Vec<PodProgress>),
    /// An updated pod crash-loops or stopped being Ready: stop here.
    Failed(Vec<String>),
    /// Released pods not Ready on another revision than the update revision (a canary of a
    /// revision since replaced, say): under OrderedReady the controller waits for them forever
    /// and never replaces them (the forced-rollback trap, going forward). Deleting them lets it.
    Stuck(Vec<Pod>),
}

/// Watches one step converge: every pod at or above `partition` on the update revision, Ready,
/// and Ready for minReadySeconds; then, for `pause`, still so. Remembers which updated pods
/// have been Ready, so that one that later turns not Ready fails the step instead of counting
/// as "still starting"; and follows each by its uid, so that one replaced since (deleted,
/// evicted, its node gone) fails the step too, instead of its replacement starting the soak
/// afresh.
#[derive(Debug, Default)]
pub struct StepWatch {
    pause: Duration,
    ready_seen: HashSet<String>,
    /// The uid of each updated pod once seen Ready, by ordinal: the pod the step judges.
    followed: HashMap<i32, String>,
    /// When every released pod was first seen available (the pause counts from there).
    done_since: Option<Timestamp>,
    /// Container restarts of each updated pod (by uid) when the soak began: any restart during
    /// the soak fails the step.
    soak_restarts: HashMap<String, i32>,
}

impl StepWatch {
    pub fn new(pause: Duration) -> StepWatch {
        StepWatch { pause, ..StepWatch::default() }
    }

    /// Judges the pods the partition `partition` releases.
    #[cfg(test)]
    pub fn observe(
        &mut self,
        sts: &StatefulSet,
        pods: &[Pod],
        partition: i32,
        now: Timestamp,
    ) -> StepVerdict {
        let range = ordinal_range(sts);
        self.observe_ordinals(sts, pods, &released(range, partition, range.replicas), now)
    }

    /// Judges the pods at `ordinals` (those a step replaces by eviction, say).
    pub fn observe_ordinals(
        &mut self,
        sts: &StatefulSet,
        pods: &[Pod],
        ordinals: &[i32],
        now: Timestamp,
    ) -> StepVerdict {
        // Until the controller has seen the latest spec, its update revision may be stale.
        if !observed_current(sts) {
            return StepVerdict::Waiting { pods: Vec::new(), soon: false };
        }
        let revision = update_revision(sts);
        let min_ready = min_ready_seconds(sts);
        let by_ordinal = pods_of(sts, pods);
        let mut progress = Vec::new();
        let mut failures = Vec::new();
        let mut stuck = Vec::new();
        let mut restarts = Vec::new();
        let ordered = pod_management_policy(sts) == ORDERED_READY;
        for &ordinal in ordinals {
            let pod = by_ordinal.iter().find(|(o, _)| *o == ordinal).map(|(_, p)| *p);
            let name = pod_name(&sts.name_any(), ordinal);
            // The updated pod seen Ready here is gone or going: the step does not start over
            // with its replacement.
            if let Some(uid) = self.followed.get(&ordinal) {
                let same = pod.filter(|p| !terminating(*p)).is_some_and(|p| p.uid().as_deref() == Some(uid));
                if !same {
                    let when =
                        if self.done_since.is_some() { "during the soak" } else { "after it was Ready" };
                    failures
                        .push(format!("pod {name} on the update revision was replaced {when} (uid {uid})"));
                    continue;
                }
            }
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
            if ordered && !updated && !ready {
                stuck.push(Pod::clone(pod));
            }
            if updated {
                restarts.push((uid.clone(), name.clone(), pod_restarts(pod)));
            }
            if updated && pod_crash_looping(pod) {
                failures.push(format!("pod {name} on the update revision is in CrashLoopBackOff"));
            } else if updated && ready {
                self.followed.insert(ordinal, uid.clone());
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
            return StepVerdict::Failed(failures);
        }
        if !stuck.is_empty() {
            return StepVerdict::Stuck(stuck);
        }
        if !progress.iter().all(|p| p.available) {
            self.done_since = None;
            // Readiness ages into availability without any event: look again soon.
            let soon = progress.iter().any(|p| p.ready && !p.available);
            return StepVerdict::Waiting { pods: progress, soon };
        }
        let since = *self.done_since.get_or_insert(now);
        if self.soak_restarts.is_empty() {
            self.soak_restarts = restarts.iter().map(|(uid, _, n)| (uid.clone(), *n)).collect();
        }
        let restarted: Vec<String> = restarts
            .iter()
            .filter_map(|(uid, name, n)| {
                let before = *self.soak_restarts.get(uid)?;
                (*n > before)
                    .then(|| format!("pod {name} restarted during the soak (restarts {before} -> {n})"))
            })
            .collect();
        if !restarted.is_empty() {
            return StepVerdict::Failed(restarted);
        }
        let paused = Duration::try_from(now.duration_since(since)).unwrap_or_default();
        if paused >= self.pause {
            StepVerdict::Done(progress)
        } else {
            StepVerdict::Waiting { pods: progress, soon: true }
        }
    }
}

/// Pods at `ordinals` that are not yet updated and Ready, described.
pub fn stragglers_of(sts: &StatefulSet, pods: &[Pod], ordinals: &[i32]) -> Vec<String> {
    late_of(sts, pods, ordinals, |_| true)
}

/// What a rollback still waits for: every live pod not yet on the restored revision, and not
/// Ready among those that were Ready when the rollout started (`before`; all of them without
/// that record), described.
pub fn rollback_stragglers(sts: &StatefulSet, pods: &[Pod], before: Option<&ReadyAtStart>) -> Vec<String> {
    let range = ordinal_range(sts);
    let ordinals: Vec<i32> = range.ordinals().rev().collect();
    late_of(sts, pods, &ordinals, |o| before.is_none_or(|b| b.was_ready(o, range)))
}

/// Pods at `ordinals` not yet on the update revision (Ready or not), described.
pub fn not_moved_back(sts: &StatefulSet, pods: &[Pod], ordinals: &[i32]) -> Vec<String> {
    late_of(sts, pods, ordinals, |_| false)
}

/// Pods at `ordinals` not yet updated, or not Ready where `ready_needed` says they must be.
fn late_of(
    sts: &StatefulSet,
    pods: &[Pod],
    ordinals: &[i32],
    ready_needed: impl Fn(i32) -> bool,
) -> Vec<String> {
    let update = update_revision(sts);
    let by_ordinal = pods_of(sts, pods);
    let mut late = Vec::new();
    for &ordinal in ordinals {
        let pod = by_ordinal.iter().find(|(o, _)| *o == ordinal).map(|(_, p)| *p);
        let name = pod_name(&sts.name_any(), ordinal);
        match pod {
            None => late.push(format!("{name} missing")),
            // Named before its revision: a pod held Terminating is why nothing moves there.
            Some(p) if !holding_finalizers(p).is_empty() => {
                late.push(held_terminating(&name, &holding_finalizers(p)))
            }
            Some(p) if pod_revision(p) != update => late.push(format!("{name} not updated")),
            Some(p) if !pod_ready(p) && ready_needed(ordinal) => {
                late.push(format!("{name} not Ready ({})", pod_status_text(p)))
            }
            Some(_) => {}
        }
    }
    if late.is_empty() { vec!["pods not available yet".to_owned()] } else { late }
}

/// How far a rollback (an abort) has come.
#[derive(Debug, Clone, PartialEq)]
pub enum Rollback {
    /// Every live pod runs the restored (update) revision, not terminating; those that were
    /// Ready when the rollout started are Ready again; and, when every pod is Ready, the
    /// controller has promoted the revision. `not_ready`: the pods back on it that are not
    /// Ready, as they were not at the rollout's start either (not waited for).
    Done {
        not_ready: Vec<String>,
    },
    /// Live pods the controller will never replace by itself (forced rollback): not Ready, on
    /// another revision, not terminating, not already deleted by us (`deleted` holds uids).
    Stuck(Vec<Pod>),
    Waiting,
}

/// Judges a rollback whose template has been restored (so the update revision is the target).
/// `before`: which pods were Ready when the rollout started (the journal's record); only those
/// must be Ready again. Without it, every pod must be.
pub fn rollback_progress(
    sts: &StatefulSet,
    pods: &[Pod],
    deleted: &[String],
    before: Option<&ReadyAtStart>,
) -> Rollback {
    if !observed_current(sts) {
        return Rollback::Waiting;
    }
    let range = ordinal_range(sts);
    let live: Vec<(i32, &Pod)> = pods_of(sts, pods).into_iter().filter(|(o, _)| range.contains(*o)).collect();
    let update = update_revision(sts);
    let stuck: Vec<Pod> = live
        .iter()
        .map(|(_, p)| *p)
        .filter(|p| pod_revision(p) != update && !pod_ready(p) && !terminating(*p))
        .filter(|p| !deleted.contains(&p.uid().unwrap_or_default()))
        .cloned()
        .collect();
    if !stuck.is_empty() {
        return Rollback::Stuck(stuck);
    }
    let ready_needed = |o: i32| before.is_none_or(|b| b.was_ready(o, range));
    let back = live.len() == range.replicas.max(0) as usize
        && live.iter().all(|(o, p)| {
            pod_revision(p) == update && !terminating(*p) && (pod_ready(p) || !ready_needed(*o))
        });
    let not_ready: Vec<String> =
        live.iter().filter(|(_, p)| !pod_ready(p)).map(|(_, p)| p.name_any()).collect();
    // The controller promotes the update revision only once every pod is Ready
    // (`completeUpdate`): with pods that never were, that is not waited for.
    let promoted = current_revision(sts) == update || !not_ready.is_empty();
    if back && promoted { Rollback::Done { not_ready } } else { Rollback::Waiting }
}

/// What someone else changed between `ours` (as we last wrote or read it) and `now`.
pub fn foreign_changes(ours: &StatefulSet, now: &StatefulSet) -> Vec<String> {
    let mut changes = Vec::new();
    if partition(now) != partition(ours) {
        changes.push(format!("partition {} -> {}", partition(ours), partition(now)));
    }
    if now.spec.as_ref().map(|s| &s.template) != ours.spec.as_ref().map(|s| &s.template) {
        changes.push("pod template changed".to_owned());
    }
    if replicas(now) != replicas(ours) {
        changes.push(format!("replicas {} -> {}", replicas(ours), replicas(now)));
    }
    if changes.is_empty() {
        changes.push(format!(
            "generation {} -> {}",
            ours.metadata.generation.unwrap_or(0),
            now.metadata.generation.unwrap_or(0)
        ));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::{pod, sts};

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + second).unwrap()
    }

    #[test]
    fn step_waits_then_finishes_then_fails_when_an_updated_pod_turns_unready() {
        let web = sts("web", 3).revisions("web-old", "web-new").build();
        let mut watch = StepWatch::default();
        let starting = [pod(&web, 2).revision("web-new").ready(false).build()];
        assert!(matches!(watch.observe(&web, &starting, 2, at(100)), StepVerdict::Waiting { .. }));
        let ready = [pod(&web, 2).revision("web-new").ready(true).build()];
        assert!(matches!(watch.observe(&web, &ready, 2, at(100)), StepVerdict::Done(_)));
        assert!(matches!(watch.observe(&web, &starting, 2, at(100)), StepVerdict::Failed(_)));
        let crashing = [pod(&web, 1).revision("web-new").crash_looping().build()];
        assert!(matches!(StepWatch::default().observe(&web, &crashing, 1, at(100)), StepVerdict::Failed(_)));
    }

    #[test]
    fn a_container_restart_during_the_soak_fails_the_step() {
        let web = sts("web", 3).revisions("web-old", "web-new").build();
        let restarted = |count: i32| {
            let mut p = pod(&web, 2).revision("web-new").ready(true).build();
            p.status.as_mut().unwrap().container_statuses =
                Some(vec![k8s_openapi::api::core::v1::ContainerStatus {
                    name: "app".into(),
                    restart_count: count,
                    ready: true,
                    ..Default::default()
                }]);
            [p]
        };
        let mut watch = StepWatch::new(Duration::from_secs(60));
        // One restart before the soak began is the past; the soak counts from there.
        assert!(matches!(watch.observe(&web, &restarted(1), 2, at(100)), StepVerdict::Waiting { .. }));
        assert!(matches!(watch.observe(&web, &restarted(1), 2, at(130)), StepVerdict::Waiting { .. }));
        match watch.observe(&web, &restarted(2), 2, at(140)) {
            StepVerdict::Failed(reasons) => {
                assert_eq!(reasons, ["pod web-2 restarted during the soak (restarts 1 -> 2)"]);
            }
            other => panic!("{other:?}"),
        }
        let mut calm = StepWatch::new(Duration::from_secs(60));
        assert!(matches!(calm.observe(&web, &restarted(1), 2, at(100)), StepVerdict::Waiting { .. }));
        assert!(matches!(calm.observe(&web, &restarted(1), 2, at(161)), StepVerdict::Done(_)));
    }

    /// An updated pod replaced during the soak (gone, going, or another uid at its ordinal), or
    /// once Ready before the soak began, fails the step: its replacement does not start the
    /// soak over.
    #[test]
    fn an_updated_pod_replaced_during_the_soak_fails_the_step() {
        let web = sts("web", 3).revisions("web-old", "web-new").build();
        let ready = |uid: &str| pod(&web, 2).revision("web-new").uid(uid).build();
        let rows: [(Vec<Pod>, i64); 3] = [
            (vec![], 110),
            (vec![pod(&web, 2).revision("web-new").uid("a").terminating().build()], 110),
            (vec![ready("b")], 170),
        ];
        for (pods, when) in rows {
            let mut watch = StepWatch::new(Duration::from_secs(60));
            assert!(matches!(watch.observe(&web, &[ready("a")], 2, at(100)), StepVerdict::Waiting { .. }));
            match watch.observe(&web, &pods, 2, at(when)) {
                StepVerdict::Failed(reasons) => {
                    assert_eq!(
                        reasons,
                        ["pod web-2 on the update revision was replaced during the soak (uid a)"]
                    )
                }
                other => panic!("{other:?}"),
            }
        }
        let mut calm = StepWatch::new(Duration::from_secs(60));
        assert!(matches!(calm.observe(&web, &[ready("a")], 2, at(100)), StepVerdict::Waiting { .. }));
        assert!(
            matches!(calm.observe(&web, &[ready("a")], 2, at(160)), StepVerdict::Done(_)),
            "the same pod"
        );

        // Ready, then replaced while minReadySeconds ran, before the soak.
        let slow = sts("web", 3).revisions("web-old", "web-new").min_ready_seconds(30).build();
        let on = |uid: &str| pod(&slow, 2).revision("web-new").uid(uid).ready_since(at(0)).build();
        let mut watch = StepWatch::default();
        assert!(matches!(watch.observe(&slow, &[on("a")], 2, at(10)), StepVerdict::Waiting { .. }));
        match watch.observe(&slow, &[on("b")], 2, at(40)) {
            StepVerdict::Failed(reasons) => {
                assert_eq!(
                    reasons,
                    ["pod web-2 on the update revision was replaced after it was Ready (uid a)"]
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_pod_being_replaced_is_waited_for() {
        let web = sts("web", 2).revisions("web-old", "web-new").build();
        let pods = [
            pod(&web, 0).revision("web-old").build(),
            pod(&web, 1).revision("web-old").terminating().build(),
        ];
        let StepVerdict::Waiting { pods: progress, soon } =
            StepWatch::default().observe(&web, &pods, 1, at(5))
        else {
            panic!("not waiting")
        };
        assert!(!soon);
        assert_eq!(progress[0].state, "being replaced");
    }

    #[test]
    fn a_released_pod_stuck_on_an_abandoned_revision_is_named() {
        let web = sts("web", 3).revisions("web-old", "web-new").build();
        let pods = [
            pod(&web, 0).revision("web-old").build(),
            pod(&web, 1).revision("web-old").build(),
            pod(&web, 2).revision("web-gone").ready(false).build(),
        ];
        let StepVerdict::Stuck(stuck) = StepWatch::default().observe(&web, &pods, 2, at(5)) else {
            panic!("not stuck")
        };
        assert_eq!(stuck.iter().map(ResourceExt::name_any).collect::<Vec<_>>(), ["web-2"]);
        assert!(
            matches!(StepWatch::default().observe(&web, &pods, 3, at(5)), StepVerdict::Done(_)),
            "held back: not ours"
        );
    }

    #[test]
    fn min_ready_seconds_holds_a_step_back() {
        let web = sts("web", 1).revisions("web-old", "web-new").min_ready_seconds(30).build();
        let pods = [pod(&web, 0).revision("web-new").ready_since(at(0)).build()];
        let mut watch = StepWatch::default();
        assert!(matches!(watch.observe(&web, &pods, 0, at(10)), StepVerdict::Waiting { soon: true, .. }));
        assert!(matches!(watch.observe(&web, &pods, 0, at(30)), StepVerdict::Done(_)));
    }

    #[test]
    fn the_pause_counts_from_when_the_step_was_first_done() {
        let web = sts("web", 1).revisions("web-old", "web-new").build();
        let pods = [pod(&web, 0).revision("web-new").ready(true).build()];
        let mut watch = StepWatch::new(Duration::from_secs(60));
        assert!(matches!(watch.observe(&web, &pods, 0, at(100)), StepVerdict::Waiting { soon: true, .. }));
        assert!(matches!(watch.observe(&web, &pods, 0, at(159)), StepVerdict::Waiting { .. }));
        assert!(matches!(watch.observe(&web, &pods, 0, at(160)), StepVerdict::Done(_)));
    }

    #[test]
    fn conditions_read_the_status() {
        let web = sts("web", 3).revisions("web-old", "web-new").build();
        assert!(is_observed(&web) && is_settled(&web) && !is_promoted(&web));
        let done = sts("web", 3).revisions("web-new", "web-new").build();
        assert!(is_promoted(&done));
        let pods = [pod(&done, 0).build(), pod(&done, 1).build(), pod(&done, 2).revision("web-old").build()];
        assert!(update_pending(&done, &pods));
        let all_new: Vec<Pod> = (0..3).map(|o| pod(&done, o).revision("web-new").build()).collect();
        assert!(!update_pending(&done, &all_new));
    }

    #[test]
    fn a_rollback_names_the_pods_the_controller_will_not_replace() {
        let web = sts("web", 3).revisions("web-old", "web-old").build();
        let stuck = pod(&web, 2).revision("web-bad").ready(false).build();
        let pods = [
            pod(&web, 0).revision("web-old").build(),
            pod(&web, 1).revision("web-old").build(),
            stuck.clone(),
        ];
        let Rollback::Stuck(found) = rollback_progress(&web, &pods, &[], None) else { panic!("not stuck") };
        assert_eq!(found.iter().map(ResourceExt::name_any).collect::<Vec<_>>(), ["web-2"]);
        let deleted = [stuck.uid().unwrap()];
        assert_eq!(rollback_progress(&web, &pods, &deleted, None), Rollback::Waiting);
        let back: Vec<Pod> = (0..3).map(|o| pod(&web, o).revision("web-old").build()).collect();
        assert_eq!(rollback_progress(&web, &back, &[], None), Rollback::Done { not_ready: vec![] });
        assert_eq!(stragglers_of(&web, &pods, &[2]), ["web-2 not updated"]);
        assert_eq!(not_moved_back(&web, &pods, &[1, 2]), ["web-2 not updated"]);
    }

    /// An abort waits for the pods that were Ready at the rollout's start, and only for those:
    /// a pod that never was is moved back to the restored revision, not waited for (and the
    /// promotion the controller makes only once every pod is Ready is not waited for then).
    #[test]
    fn a_rollback_waits_only_for_the_pods_ready_at_the_start() {
        let web = sts("web", 3).revisions("web-old", "web-old").build();
        let unpromoted = sts("web", 3).revisions("web-older", "web-old").build();
        let on = |o: i32, ready: bool| pod(&web, o).revision("web-old").ready(ready).build();
        let none = ReadyAtStart { ordinals: vec![], replicas: 3 };
        let mixed = ReadyAtStart { ordinals: vec![0, 1], replicas: 3 };
        let all = ReadyAtStart { ordinals: vec![0, 1, 2], replicas: 3 };
        let fewer = ReadyAtStart { ordinals: vec![], replicas: 2 };
        let done =
            |names: &[&str]| Rollback::Done { not_ready: names.iter().map(|n| n.to_string()).collect() };
        let unready = vec![on(0, false), on(1, false), on(2, false)];
        let bad = pod(&web, 2).revision("web-bad").ready(false).build();
        let going = pod(&web, 2).revision("web-old").ready(false).terminating().build();
        /// What, on which set, its pods, the record of the start, and the verdict.
        type Row<'a> = (&'a str, &'a StatefulSet, Vec<Pod>, Option<&'a ReadyAtStart>, Rollback);
        let rows: Vec<Row> = vec![
            ("no record: every pod must be Ready", &web, unready.clone(), None, Rollback::Waiting),
            (
                "none Ready at the start",
                &web,
                unready.clone(),
                Some(&none),
                done(&["web-0", "web-1", "web-2"]),
            ),
            (
                "none Ready, promotion not waited",
                &unpromoted,
                unready.clone(),
                Some(&none),
                done(&["web-0", "web-1", "web-2"]),
            ),
            (
                "a changed pod is still moved back",
                &web,
                vec![on(0, false), on(1, false), bad.clone()],
                Some(&none),
                Rollback::Stuck(vec![bad]),
            ),
            (
                "a pod still going",
                &web,
                vec![on(0, false), on(1, false), going],
                Some(&none),
                Rollback::Waiting,
            ),
            ("a pod missing", &web, vec![on(0, false), on(1, false)], Some(&none), Rollback::Waiting),
            (
                "mixed: web-1 was Ready",
                &web,
                vec![on(0, true), on(1, false), on(2, false)],
                Some(&mixed),
                Rollback::Waiting,
            ),
            (
                "mixed: those Ready again",
                &web,
                vec![on(0, true), on(1, true), on(2, false)],
                Some(&mixed),
                done(&["web-2"]),
            ),
            (
                "all Ready at the start: as before",
                &web,
                vec![on(0, true), on(1, true), on(2, false)],
                Some(&all),
                Rollback::Waiting,
            ),
            (
                "all Ready, not promoted yet",
                &unpromoted,
                vec![on(0, true), on(1, true), on(2, true)],
                Some(&all),
                Rollback::Waiting,
            ),
            ("all Ready, promoted", &web, vec![on(0, true), on(1, true), on(2, true)], Some(&all), done(&[])),
            ("web-2 came with a scale-up since", &web, unready, Some(&fewer), Rollback::Waiting),
        ];
        for (what, sts, pods, before, expected) in rows {
            assert_eq!(rollback_progress(sts, &pods, &[], before), expected, "{what}");
        }
        let pods = [on(0, true), on(1, false), on(2, false)];
        assert_eq!(rollback_stragglers(&web, &pods, Some(&mixed)), ["web-1 not Ready (Running)"]);
        assert_eq!(
            rollback_stragglers(&web, &pods, None),
            ["web-2 not Ready (Running)", "web-1 not Ready (Running)"]
        );
    }

    #[test]
    fn foreign_changes_are_named() {
        let ours = sts("web", 3).partition(2).build();
        let theirs = sts("web", 3).partition(0).build();
        assert_eq!(foreign_changes(&ours, &theirs), ["partition 2 -> 0"]);
        let mut bumped = ours.clone();
        bumped.metadata.generation = Some(9);
        assert_eq!(foreign_changes(&ours, &bumped), ["generation 1 -> 9"]);
    }

    #[test]
    fn a_straggler_held_terminating_names_its_finalizers() {
        let web = sts("web", 3).revisions("web-old", "web-new").build();
        let mut held = pod(&web, 2).revision("web-old").terminating().build();
        held.metadata.finalizers = Some(vec!["example.com/a".into(), "example.com/b".into()]);
        let pods =
            vec![pod(&web, 0).revision("web-old").build(), pod(&web, 1).revision("web-old").build(), held];
        assert_eq!(
            stragglers_of(&web, &pods, &[2, 1]),
            [
                "web-2 is held Terminating by finalizers example.com/a, example.com/b: the StatefulSet controller cannot \
                 replace it until whatever set them removes them",
                "web-1 not updated"
            ]
        );
    }
}
