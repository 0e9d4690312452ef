//! What this API server does, as opposed to what its version string suggests: facts the shell
//! reads from the server (a server-side dry run, the ControllerRevisions) and the core turns
//! into what a command shows. Nothing here guesses from a version number: feature gates are
//! switched per cluster, and releases of one minor differ (docs/compatibility.md).

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use serde_json::{Value, json};

use super::objects::{ROLLING_UPDATE, max_unavailable, replicas, update_strategy};

/// The annotation `kubectl apply` (client-side) keeps the last applied manifest in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The update strategy of KEP-3541 (alpha in 1.37, gate `StatefulSetRecreateStrategy`): every
/// pod is deleted before any is created on the new revision; there is no partition.
pub const RECREATE: &str = "Recreate";

/// The `maxUnavailable` the probe asks for: any value above one shows whether it survives.
const PROBE_MAX_UNAVAILABLE: i32 = 2;

/// Whether this API server keeps `spec.updateStrategy.rollingUpdate.maxUnavailable` (feature
/// gate `MaxUnavailableStatefulSet`; when it is off the server drops the field from a new
/// object: `pkg/registry/apps/statefulset/strategy.go`, `dropStatefulSetDisabledFields`). Read
/// from a server-side dry run of creating a StatefulSet that asks for it ([`probe`]).
///
/// The dry run answers for kube-apiserver. Whether kube-controller-manager acts on the field
/// is its own gate, which the API does not show; both follow the same defaults per release,
/// and the plugin assumes they agree (docs/compatibility.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Honoured {
    /// The dry run kept the field.
    Yes,
    /// The dry run dropped it: the gate is off.
    No,
    /// The dry run could not be made (no permission to create StatefulSets, an admission
    /// webhook refused it, …): why, in a few words.
    Unknown(String),
}

impl Honoured {
    /// `Some(true|false)` when known: the JSON of `status` (`maxUnavailableHonoured`).
    pub fn known(&self) -> Option<bool> {
        match self {
            Honoured::Yes => Some(true),
            Honoured::No => Some(false),
            Honoured::Unknown(_) => None,
        }
    }

    /// Reads the dry run's answer: the StatefulSet as the server would have stored it.
    pub fn from_dry_run(created: &StatefulSet) -> Honoured {
        if max_unavailable(created).is_some() { Honoured::Yes } else { Honoured::No }
    }
}

/// The StatefulSet a server-side dry run creates to see whether `maxUnavailable` survives: a
/// copy of `sts`'s spec (so that the admission policies `sts` passes see what they know), under
/// a generated name, with no replicas and `maxUnavailable: 2`. Nothing is stored (dry run).
pub fn probe(sts: &StatefulSet) -> StatefulSet {
    let mut spec = sts.spec.clone().unwrap_or_default();
    spec.replicas = Some(0);
    spec.update_strategy = Some(
        serde_json::from_value(json!({
            "type": ROLLING_UPDATE,
            "rollingUpdate": {"maxUnavailable": PROBE_MAX_UNAVAILABLE},
        }))
        .expect("a valid update strategy"),
    );
    let mut probe = StatefulSet { spec: Some(spec), ..StatefulSet::default() };
    // generateName: the server picks a free name (a dry run never stores it).
    probe.metadata.generate_name = Some(format!("{}-", sts.name_any()));
    probe.metadata.namespace = sts.namespace();
    probe
}

/// `spec.updateStrategy.rollingUpdate.maxUnavailable` as the person last applied it with
/// client-side `kubectl apply` (its last-applied annotation), whatever the server stored.
pub fn max_unavailable_requested(sts: &StatefulSet) -> Option<String> {
    let applied: Value = serde_json::from_str(sts.annotations().get(LAST_APPLIED)?).ok()?;
    let value = applied.pointer("/spec/updateStrategy/rollingUpdate/maxUnavailable")?;
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Whether the question "does this server honour maxUnavailable?" matters for `sts`: a
/// RollingUpdate set whose stored or requested value is above one pod. (One pod at a time is
/// what the controller does either way; 1.37 stores `maxUnavailable: 1` on every set.)
pub fn max_unavailable_matters(sts: &StatefulSet) -> bool {
    let above_one = |text: &str| text != "1";
    update_strategy(sts) == ROLLING_UPDATE
        && (max_unavailable(sts).is_some_and(|m| above_one(&m))
            || max_unavailable_requested(sts).is_some_and(|m| above_one(&m)))
}

/// The pods the controller takes down at once during a rolling update: `maxUnavailable` when
/// the server honours it (a percentage of replicas, rounded down, at least one:
/// `pkg/controller/statefulset/stateful_set_utils.go`, `getStatefulSetMaxUnavailable`), else one.
pub fn pods_at_once(sts: &StatefulSet, honoured: Option<&Honoured>) -> i32 {
    if honoured != Some(&Honoured::Yes) {
        return 1;
    }
    let replicas = replicas(sts).max(0);
    let max = sts
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.max_unavailable.as_ref());
    let value = match max {
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(p)) => {
            let percent: i64 = p.trim_end_matches('%').parse().unwrap_or(0);
            (i64::from(replicas) * percent / 100) as i32
        }
        None => 1,
    };
    value.max(1)
}

/// What a person should know about `maxUnavailable` on a StatefulSet, given what the server
/// does with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaxUnavailableFinding {
    /// Stored above one, but the server drops the field: the controller, which follows the
    /// same gate, updates one pod at a time.
    Ignored { value: String },
    /// `kubectl apply` asked for it and the server dropped it when it was applied.
    Dropped { requested: String, honoured: Option<bool> },
    /// Stored (or asked for) above one; whether it is honoured could not be found out.
    Unknown { value: String, reason: String },
}

impl MaxUnavailableFinding {
    /// The finding for `sts`, or `None` when there is nothing to say (not above one, or
    /// honoured as stored). `honoured` is `None` when nobody asked the server.
    pub fn of(sts: &StatefulSet, honoured: Option<&Honoured>) -> Option<MaxUnavailableFinding> {
        if !max_unavailable_matters(sts) {
            return None;
        }
        let stored = max_unavailable(sts);
        if let (None, Some(requested)) = (&stored, max_unavailable_requested(sts)) {
            let honoured = honoured.and_then(Honoured::known);
            return Some(MaxUnavailableFinding::Dropped { requested, honoured });
        }
        let value = stored?;
        match honoured {
            Some(Honoured::Yes) => None,
            Some(Honoured::No) => Some(MaxUnavailableFinding::Ignored { value }),
            Some(Honoured::Unknown(reason)) => {
                Some(MaxUnavailableFinding::Unknown { value, reason: reason.clone() })
            }
            None => Some(MaxUnavailableFinding::Unknown { value, reason: "not checked".to_owned() }),
        }
    }

    /// One sentence for people.
    pub fn describe(&self) -> String {
        const GATE: &str = "the MaxUnavailableStatefulSet feature gate is off";
        match self {
            MaxUnavailableFinding::Ignored { value } => format!(
                "maxUnavailable is {value}, but this API server drops the field from new StatefulSets ({GATE}; \
                 a server-side dry run shows it): the controller ignores it and updates one pod at a time"
            ),
            MaxUnavailableFinding::Dropped { requested, honoured } => {
                let now = match honoured {
                    Some(false) => "; it still does: the controller updates one pod at a time",
                    Some(true) => "; this server keeps it now: applying the manifest again sets it",
                    None => "",
                };
                format!(
                    "the last `kubectl apply` asked for maxUnavailable {requested}, but the StatefulSet has none: \
                     the API server dropped it (the MaxUnavailableStatefulSet feature gate was off when it was \
                     applied){now}"
                )
            }
            MaxUnavailableFinding::Unknown { value, reason } => format!(
                "maxUnavailable is {value}; whether this server honours it is unknown ({reason}): up to {value} \
                 pods may be updated at once"
            ),
        }
    }
}

/// Whether two ControllerRevisions record the same pod template, compared as decoded objects
/// rather than as stored bytes: what the controller's StatefulSetSemanticRevisionComparison
/// does since the 1.33 → 1.34 upgrade rolled every StatefulSet out over an encoding difference
/// (`creationTimestamp: null` in one, absent in the other; kubernetes#134773, fixed by
/// kubernetes#135017). `None` when either holds no readable template.
pub fn same_template(a: &ControllerRevision, b: &ControllerRevision) -> Option<bool> {
    let template = |revision: &ControllerRevision| -> Option<PodTemplateSpec> {
        let value = revision.data.as_ref()?.0.pointer("/spec/template")?.clone();
        let mut value = value;
        if let Some(fields) = value.as_object_mut() {
            fields.remove("$patch");
        }
        serde_json::from_value(value).ok()
    };
    Some(template(a)? == template(b)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::sts;
    use serde_json::json;

    #[test]
    fn what_was_asked_for_is_read_from_the_last_applied_manifest() {
        let applied =
            json!({"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 2}}}}).to_string();
        let dropped = sts("web", 3).annotation(LAST_APPLIED, &applied).build();
        assert_eq!(max_unavailable_requested(&dropped).as_deref(), Some("2"));
        assert!(max_unavailable_matters(&dropped), "asked for 2, stored nothing");
        assert!(
            !max_unavailable_matters(&sts("web", 3).max_unavailable(1).build()),
            "1 is what happens either way"
        );
        assert!(max_unavailable_matters(&sts("web", 3).max_unavailable(2).build()));
        assert!(!max_unavailable_matters(&sts("web", 3).on_delete().build()));
    }

    #[test]
    fn pods_at_once_follow_the_controller() {
        let two = sts("web", 5).max_unavailable(2).build();
        assert_eq!(pods_at_once(&two, Some(&Honoured::Yes)), 2);
        assert_eq!(pods_at_once(&two, Some(&Honoured::No)), 1, "the server drops or ignores it");
        assert_eq!(
            pods_at_once(&two, Some(&Honoured::Unknown("forbidden".into()))),
            1,
            "unknown: the plan does not count on it"
        );
        assert_eq!(pods_at_once(&two, None), 1);
        let mut half = sts("web", 5).build();
        half.spec
            .as_mut()
            .unwrap()
            .update_strategy
            .as_mut()
            .unwrap()
            .rolling_update
            .as_mut()
            .unwrap()
            .max_unavailable = Some(IntOrString::String("50%".into()));
        assert_eq!(pods_at_once(&half, Some(&Honoured::Yes)), 2, "50% of 5, rounded down");
        let mut tiny = half.clone();
        tiny.spec.as_mut().unwrap().replicas = Some(1);
        assert_eq!(pods_at_once(&tiny, Some(&Honoured::Yes)), 1, "at least one");
    }

    #[test]
    fn findings_follow_what_the_server_does() {
        let unknown = Honoured::Unknown("no permission".into());
        let stored_two = sts("web", 3).max_unavailable(2).build();
        let applied =
            json!({"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 2}}}}).to_string();
        let dropped = sts("web", 3).annotation(LAST_APPLIED, &applied).build();
        let cases = [
            (&stored_two, Some(&Honoured::Yes), None),
            (&stored_two, Some(&Honoured::No), Some(MaxUnavailableFinding::Ignored { value: "2".into() })),
            (
                &stored_two,
                Some(&unknown),
                Some(MaxUnavailableFinding::Unknown { value: "2".into(), reason: "no permission".into() }),
            ),
            (
                &dropped,
                Some(&Honoured::No),
                Some(MaxUnavailableFinding::Dropped { requested: "2".into(), honoured: Some(false) }),
            ),
            (
                &dropped,
                Some(&Honoured::Yes),
                Some(MaxUnavailableFinding::Dropped { requested: "2".into(), honoured: Some(true) }),
            ),
            (
                &dropped,
                Some(&unknown),
                Some(MaxUnavailableFinding::Dropped { requested: "2".into(), honoured: None }),
            ),
        ];
        for (set, honoured, expected) in cases {
            assert_eq!(MaxUnavailableFinding::of(set, honoured), expected, "{honoured:?}");
        }
        let one = sts("web", 3).max_unavailable(1).build();
        assert_eq!(
            MaxUnavailableFinding::of(&one, Some(&Honoured::No)),
            None,
            "one pod at a time either way"
        );
        let text = MaxUnavailableFinding::Ignored { value: "2".into() }.describe();
        assert!(text.contains("MaxUnavailableStatefulSet") && text.contains("one pod at a time"), "{text}");
    }

    #[test]
    fn the_probe_asks_for_two_under_a_generated_name_and_creates_no_pod() {
        let web = sts("web", 3).on_delete().build();
        let probe = probe(&web);
        assert_eq!(probe.metadata.name, None);
        assert_eq!(probe.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(probe.metadata.namespace, web.metadata.namespace);
        let spec = probe.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, Some(0));
        assert_eq!(update_strategy(&probe), ROLLING_UPDATE);
        assert_eq!(max_unavailable(&probe).as_deref(), Some("2"));
        assert_eq!(
            spec.template,
            web.spec.as_ref().unwrap().template,
            "the template admission sees is the set's"
        );
        assert_eq!(Honoured::from_dry_run(&probe), Honoured::Yes);
        assert_eq!(Honoured::from_dry_run(&sts("web", 3).build()), Honoured::No);
    }

    #[test]
    fn revisions_that_differ_only_in_encoding_record_the_same_template() {
        let revision = |name: &str, template: Value| -> ControllerRevision {
            serde_json::from_value(
                json!({"metadata": {"name": name}, "revision": 1, "data": {"spec": {"template": template}}}),
            )
            .unwrap()
        };
        let spec = json!({"containers": [{"name": "app", "image": "v1"}]});
        let old = revision(
            "web-1",
            json!({"$patch": "replace", "metadata": {"creationTimestamp": null, "labels": {"app": "web"}}, "spec": spec}),
        );
        let new = revision(
            "web-2",
            json!({"$patch": "replace", "metadata": {"labels": {"app": "web"}}, "spec": spec}),
        );
        assert_eq!(same_template(&old, &new), Some(true));
        let changed = revision(
            "web-3",
            json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "v2"}]}}),
        );
        assert_eq!(same_template(&old, &changed), Some(false));
    }
}
