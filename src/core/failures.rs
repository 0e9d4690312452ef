//! Failures the StatefulSet controller reports as Warning events on the StatefulSet. A
//! controller that fails every time is blocked, not slow: this turns its events into what
//! failed, for which pod, how often, and whether it still holds.
//!
//! The reasons and messages come from the controller (`pkg/controller/statefulset/
//! stateful_pod_control.go`, `recordPodEvent` and `recordClaimEvent`): reason `FailedCreate`,
//! `FailedUpdate` or `FailedDelete`, and a message
//! `"<verb> Pod <pod> in StatefulSet <set> failed error: <error>"` or
//! `"<verb> Claim <claim> for Pod <pod> in StatefulSet <set> failed error: <error>"`.
//! The verb is lower case up to 1.36 (`strings.ToLower`) and title case from 1.37
//! (`cases.Title`): `create Pod web-1` became `Create Pod web-1`. The model always says it in
//! lower case.

use crate::core::objects::LivePods;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde::Serialize;

use super::advice::{RunFlags, shell_word};
use super::facts::RECREATE;
use super::members::{Place, Stray, strays};
use super::names::{pod_ordinal, pvc_name};
use super::objects::{
    claim_templates, creation, mounted_claims, ordinal_range, pods_of, terminating, update_strategy,
};

// The texts Kubernetes gives no structure for, quoted from their source: an event has a
// reason, but the controller's error reaches it only as text. stateful_set_control.go writes
// "%s %s in StatefulSet %s failed error: %s"; the quota admission plugin's refusal says
// "exceeded quota"; pod validation's "Forbidden: pod updates may not change". The only text this
// tool reads, all here (and one in core::resize); tests run them on 1.34 and 1.37.
const FAILED_ERROR: &str = " failed error: ";
const EXCEEDED_QUOTA: &str = "exceeded quota";
const IMMUTABLE_POD: &str = "Forbidden: pod updates may not change";

/// The newest Warning event about a pod (by uid: its predecessor's under the same name do not
/// count), as `kubectl describe pod` shows it: the kubelet's `Unhealthy` (a probe failing, with
/// the probe's output), `BackOff`, `FailedMount`, the scheduler's `FailedScheduling`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodWarning {
    pub reason: String,
    /// The event's message, its first line.
    pub message: String,
    /// Who reported it (`kubelet`, `default-scheduler`), when the event says.
    pub source: Option<String>,
    pub count: i32,
    pub last_seen: Option<Timestamp>,
}

/// How long after its last occurrence a pod's Warning event still explains its state: a
/// failing probe is reported every period (seconds), a back-off at most every 5 minutes.
pub const POD_WARNING_SECONDS: i64 = 10 * 60;

/// The newest recent Warning event about `pod` (this uid), if any.
pub fn pod_warning(pod: &Pod, events: &[Event], now: Timestamp) -> Option<PodWarning> {
    let uid = pod.uid();
    events
        .iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .filter(|e| {
            let object = &e.involved_object;
            object.kind.as_deref() == Some("Pod")
                && object.name.as_deref() == Some(pod.name_any().as_str())
                && object.namespace == pod.namespace()
                && match (&object.uid, &uid) {
                    (Some(event), Some(ours)) => event == ours,
                    _ => true,
                }
        })
        .filter_map(|e| Some((last_seen(e)?, e)))
        .filter(|(seen, _)| now.as_second() - seen.as_second() <= POD_WARNING_SECONDS)
        .max_by_key(|(seen, _)| *seen)
        .map(|(seen, e)| PodWarning {
            reason: e.reason.clone().unwrap_or_default(),
            message: e
                .message
                .as_deref()
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned(),
            source: e
                .source
                .as_ref()
                .and_then(|s| s.component.clone())
                .or_else(|| e.reporting_component.clone())
                .filter(|c| !c.is_empty()),
            count: e.series.as_ref().and_then(|s| s.count).or(e.count).unwrap_or(1).max(1),
            last_seen: Some(seen),
        })
}

/// How long after its last occurrence a failure still counts. The controller retries a failing
/// StatefulSet with exponential backoff capped at 1000 s (client-go's default controller rate
/// limiter), so a failure that persists is reported again within about 17 minutes.
pub const RECENT_SECONDS: i64 = 30 * 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ControllerFailure {
    /// The event's reason: `FailedCreate`, `FailedUpdate`, `FailedDelete`, or
    /// `UnknownStrategy` (a Recreate StatefulSet on a controller without the gate).
    pub reason: String,
    /// What failed, as the controller says it: `create Pod web-1`, `create Claim data-web-1`.
    pub operation: String,
    pub pod: Option<String>,
    /// The error the API server gave the controller (or the controller's own, for
    /// `UnknownStrategy`).
    pub message: String,
    /// How many times it failed (the event's count).
    pub count: i32,
    pub last_seen: Option<Timestamp>,
    /// What the error is about, where it is recognisable.
    pub cause: FailureCause,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum FailureCause {
    /// A ResourceQuota refuses the pod (`exceeded quota`).
    Quota,
    /// The controller tried to change a pod's spec, which is immutable (adopted pods that lack
    /// a volume the claim templates add, kubernetes#141876).
    ImmutablePod,
    /// The StatefulSet uses the Recreate strategy and the controller's
    /// `StatefulSetRecreateStrategy` gate is off: it manages nothing of the set
    /// (`stateful_set_control.go`, event reason `UnknownStrategy`, 1.37).
    StrategyDisabled,
    Other,
}

/// The controller's failures for `sts` that still hold: recent, and about a pod that is still
/// missing (a failed create) or still there (a failed update or delete). Newest first, one per
/// operation.
pub fn controller_failures(
    sts: &StatefulSet,
    events: &[Event],
    pods: &[Pod],
    now: Timestamp,
) -> Vec<ControllerFailure> {
    let name = sts.name_any();
    let ours = pods_of(sts, pods);
    let exists = |pod: &str| ours.iter().any(|(_, p)| p.name_any() == pod && !terminating(*p));
    // A failure about a pod that was created afterwards was about its predecessor.
    let since_created = |pod: &str, seen: Option<Timestamp>| {
        ours.iter().any(|(_, p)| {
            p.name_any() == pod
                && !terminating(*p)
                && seen.is_some_and(|t| creation(*p).is_none_or(|c| t > c))
        })
    };
    let mut failures: Vec<ControllerFailure> = events
        .iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .filter(|e| about(e, sts))
        .filter_map(|e| parse(e, &name))
        .filter(|f| f.last_seen.is_some_and(|t| now.as_second() - t.as_second() <= RECENT_SECONDS))
        .filter(|f| match (f.reason.as_str(), &f.pod) {
            // Switching the strategy away from Recreate ends it.
            (UNKNOWN_STRATEGY, _) => update_strategy(sts) == RECREATE,
            ("FailedCreate", Some(pod)) if f.operation.starts_with("create Pod") => !exists(pod),
            ("FailedUpdate" | "FailedDelete", Some(pod)) => since_created(pod, f.last_seen),
            _ => true,
        })
        .collect();
    failures.sort_by_key(|f| std::cmp::Reverse(f.last_seen));
    let mut seen = std::collections::HashSet::new();
    failures.retain(|f| seen.insert(f.operation.clone()));
    failures
}

/// Whether the event is about this StatefulSet (by uid when the event has one).
fn about(event: &Event, sts: &StatefulSet) -> bool {
    let object = &event.involved_object;
    let kind = object.kind.as_deref() == Some("StatefulSet");
    match (&object.uid, sts.uid()) {
        (Some(uid), Some(ours)) => kind && *uid == ours,
        _ => {
            kind && object.name.as_deref() == Some(sts.name_any().as_str())
                && object.namespace == sts.namespace()
        }
    }
}

/// The reason of the controller's event for a Recreate StatefulSet it may not manage.
const UNKNOWN_STRATEGY: &str = "UnknownStrategy";

fn parse(event: &Event, sts: &str) -> Option<ControllerFailure> {
    let reason = event.reason.clone()?;
    if reason == UNKNOWN_STRATEGY {
        return Some(ControllerFailure {
            operation: "use the Recreate update strategy".to_owned(),
            pod: None,
            message: event.message.clone().unwrap_or_default().lines().next().unwrap_or_default().to_owned(),
            count: event.count.unwrap_or(1).max(1),
            last_seen: last_seen(event),
            cause: FailureCause::StrategyDisabled,
            reason,
        });
    }
    if !reason.starts_with("Failed") {
        return None;
    }
    let text = event.message.clone().unwrap_or_default();
    let (head, error) = text.split_once(FAILED_ERROR).unwrap_or((text.as_str(), ""));
    // "create Pod web-1 in StatefulSet web" or "create Claim data-web-1 for Pod web-1 in StatefulSet web"
    let head = head.strip_suffix(&format!(" in StatefulSet {sts}")).unwrap_or(head);
    // The verb's case changed in 1.37 (see the module documentation).
    let head = match head.split_once(' ') {
        Some((verb, rest)) => format!("{} {rest}", verb.to_lowercase()),
        None => head.to_lowercase(),
    };
    let head = head.as_str();
    let (operation, pod) = match head.split_once(" for Pod ") {
        Some((operation, pod)) => (operation.to_owned(), Some(pod.to_owned())),
        None => {
            let pod = head.rsplit_once(" Pod ").map(|(_, pod)| pod.to_owned());
            (head.to_owned(), pod)
        }
    };
    let pod = pod.filter(|p| pod_ordinal(p, sts).is_some());
    let cause = if error.contains(EXCEEDED_QUOTA) {
        FailureCause::Quota
    } else if reason == "FailedUpdate" && error.contains(IMMUTABLE_POD) {
        FailureCause::ImmutablePod
    } else {
        FailureCause::Other
    };
    let last_seen = last_seen(event);
    Some(ControllerFailure {
        reason,
        operation,
        pod,
        // The API server's error can carry a multi-line diff of the object: its first line says it.
        message: if error.is_empty() { &text } else { error }
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned(),
        count: event.count.unwrap_or(1).max(1),
        last_seen,
        cause,
    })
}

/// When the event last happened, by the newest of its timestamps that is set.
fn last_seen(event: &Event) -> Option<Timestamp> {
    event
        .series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref().map(|t| t.0))
        .or_else(|| event.last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
        .or_else(|| event.first_timestamp.as_ref().map(|t| t.0))
}

/// What keeps the StatefulSet controller from making progress, with what to do about it.
/// `status` shows each as a warning; `rollout` refuses to start while there is one, because
/// it would wait for a controller that cannot act.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocker {
    /// The controller keeps failing an operation.
    Failing(ControllerFailure),
    /// A pod does not mount claims its claim templates say it must (a pod adopted by a
    /// StatefulSet re-created with more templates): the controller tries to add them, which the
    /// API forbids, and stops there on every sync (kubernetes#141876).
    LacksClaims { pod: String, claims: Vec<String> },
    /// A pod the controller reads as a live ordinal's by its own rules though it is not that
    /// ordinal's pod, or one that holds a live ordinal's name (`core::members`): it stands in
    /// the place of the set's own pod, which the controller then never creates, or takes turns
    /// with it, so what the controller updates or deletes at that ordinal is either; a rollout
    /// would wait for a pod that never comes, or replace someone's pod.
    Stray(Stray),
}

/// The blockers of `sts`: the pods that stand in a live ordinal's place without being its pod,
/// its controller's current failures (but those the strays explain), and its live pods that lack
/// a claim of its templates.
pub fn blockers(sts: &StatefulSet, pods: &[Pod], failures: &[ControllerFailure]) -> Vec<Blocker> {
    let name = sts.name_any();
    let templates = claim_templates(sts);
    let strays: Vec<Stray> = strays(sts, pods)
        .into_iter()
        .filter(|s| {
            matches!(
                s,
                Stray::NameTaken { .. }
                    | Stray::Impostor { place: Place::Holds { .. } | Place::Shares { .. }, .. }
            )
        })
        .collect();
    // The pod names whose failed creates (name taken) and updates (a stray renamed to them)
    // the strays explain.
    let stray_names: Vec<String> = strays
        .iter()
        .filter_map(|s| match s {
            Stray::NameTaken { pod, .. } => Some(pod.clone()),
            Stray::Impostor { place: Place::Holds { missing }, .. } => Some(missing.clone()),
            Stray::Impostor { .. } => None,
        })
        .collect();
    let mut blockers: Vec<Blocker> = strays.into_iter().map(Blocker::Stray).collect();
    let mut lacking = Vec::new();
    for (ordinal, pod) in LivePods::of(sts, pods).running() {
        let claims: Vec<String> = templates
            .iter()
            .map(|t| pvc_name(t, &name, ordinal))
            .filter(|claim| !mounted_claims(pod).any(|m| m == claim))
            .collect();
        if !claims.is_empty() {
            lacking.push(Blocker::LacksClaims { pod: pod.name_any(), claims });
        }
    }
    // A pod that lacks claims is what the controller's forbidden updates are about: the
    // lacking pods say it better than the API server's error.
    let explained = |f: &ControllerFailure| {
        (f.cause == FailureCause::ImmutablePod && !lacking.is_empty())
            || f.pod
                .as_ref()
                .is_some_and(|p| stray_names.contains(p) && f.operation.ends_with(&format!("Pod {p}")))
    };
    blockers.extend(failures.iter().filter(|f| !explained(f)).cloned().map(Blocker::Failing));
    blockers.extend(lacking);
    blockers
}

impl Blocker {
    /// [`Blocker::describe_with`] without connection flags (the tests' fixtures).
    #[cfg(test)]
    pub fn describe(&self, sts: &StatefulSet, pods: &[Pod], now: Timestamp) -> String {
        self.describe_with(sts, pods, now, &RunFlags::default())
    }

    /// The blocker and its remedy, in one line, its commands carrying the run's connection
    /// `flags`. `lacking` are the pods that lack claims (the remedy of an immutable-pod failure
    /// is to replace them), `outside` the pods outside the live ordinals (under a quota, they
    /// hold what the missing pods need).
    pub fn describe_with(&self, sts: &StatefulSet, pods: &[Pod], now: Timestamp, flags: &RunFlags) -> String {
        let name = sts.name_any();
        let namespace = sts.namespace().unwrap_or_default();
        let conn = flags.connection();
        let delete = |pod: &str| format!("`kubectl delete pod {pod} -n {namespace}{conn}`");
        let lacking: Vec<String> = blockers(sts, pods, &[])
            .into_iter()
            .filter_map(|b| match b {
                Blocker::LacksClaims { pod, .. } => Some(pod),
                Blocker::Failing(_) | Blocker::Stray(_) => None,
            })
            .collect();
        let replace_lacking = |first: &str| {
            format!(
                "delete the pods that lack claims one at a time, lowest ordinal first, waiting for each \
                 replacement to be Ready ({}): the controller recreates each with every claim",
                delete(first)
            )
        };
        // Taking a stray out of the set keeps it running: remove a label the selector needs.
        let release = |pod: &str| {
            let key = sts
                .spec
                .as_ref()
                .and_then(|s| s.selector.match_labels.as_ref())
                .and_then(|l| l.keys().next());
            match key {
                Some(key) => format!(
                    "take it out of {name} with `kubectl label pod {pod} {}- -n {namespace}{conn}` (the controller then \
                     lets it go), or delete it",
                    shell_word(key)
                ),
                None => {
                    format!("delete it, or change its labels so that {name}'s selector no longer matches")
                }
            }
        };
        match self {
            Blocker::Stray(Stray::Impostor { pod, place: Place::Holds { missing }, .. }) => format!(
                "pod {pod} stands in {missing}'s place: the StatefulSet controller reads its name as {name}'s ordinal \
                 and takes it (its selector matches), so it never creates {missing}; {} (and the controller creates \
                 {missing})",
                release(pod)
            ),
            Blocker::Stray(Stray::Impostor { pod, place: Place::Shares { pod: own }, .. }) => format!(
                "pod {pod} is not {own}, but the StatefulSet controller reads its name as {own}'s ordinal and takes it \
                 (its selector matches), so what it updates or deletes at that ordinal is {pod} or {own}, as it happens \
                 to list them: {}",
                release(pod)
            ),
            Blocker::Stray(Stray::Impostor { pod, .. }) => {
                format!(
                    "the StatefulSet controller takes pod {pod} as {name}'s, though it is not: {}",
                    release(pod)
                )
            }
            Blocker::Stray(Stray::NameTaken { pod, .. }) => format!(
                "a pod named {pod} exists but is not {name}'s, so the StatefulSet controller cannot create its own {pod}; \
                 if it is not {name}'s, delete it ({})",
                delete(pod)
            ),
            Blocker::LacksClaims { pod, claims } => format!(
                "pod {pod} does not mount {}, which the claim templates of {name} give every pod: it predates them \
                 (the StatefulSet was re-created with more claim templates, and a pod cannot gain volumes), so the \
                 controller fails on it at every sync; {}",
                claims.join(", "),
                replace_lacking(pod)
            ),
            Blocker::Failing(failure) => {
                let when = failure
                    .last_seen
                    .map(|t| format!(", last {} ago", super::objects::age(Some(t), now)))
                    .unwrap_or_default();
                let remedy = match failure.cause {
                    FailureCause::Quota => {
                        let outside: Vec<String> =
                            pods_outside_range(sts, pods).iter().map(|p| p.name_any()).collect();
                        match (outside.first(), &failure.pod) {
                            (Some(first), Some(missing)) => format!(
                                "pods {} outside the live ordinals still count against the quota: delete them, \
                                 highest first ({}), so the controller can create {missing}",
                                outside.join(", "),
                                delete(first)
                            ),
                            _ => format!(
                                "the ResourceQuota leaves no room: raise it or free pods \
                                 (`kubectl describe resourcequota -n {namespace}{conn}`)"
                            ),
                        }
                    }
                    FailureCause::ImmutablePod if !lacking.is_empty() => replace_lacking(&lacking[0]),
                    FailureCause::StrategyDisabled => format!(
                        "its StatefulSetRecreateStrategy feature gate is off, so nothing of {name} is managed: turn \
                         the gate on, or switch spec.updateStrategy to RollingUpdate or OnDelete"
                    ),
                    _ => format!("see `kubectl describe statefulset {name} -n {namespace}{conn}`"),
                };
                format!(
                    "the StatefulSet controller fails to {} ({} time{}{when}): {}; {remedy}",
                    failure.operation,
                    failure.count,
                    if failure.count == 1 { "" } else { "s" },
                    failure.message
                )
            }
        }
    }
}

/// Pods of `sts` that hold an ordinal outside the live range (being scaled away, or strays
/// it adopted), highest first: under a quota, these are what keeps the controller from creating
/// the pods it needs.
pub fn pods_outside_range<'p>(sts: &StatefulSet, pods: &'p [Pod]) -> Vec<&'p Pod> {
    let range = ordinal_range(sts);
    let mut outside: Vec<&Pod> =
        pods_of(sts, pods).into_iter().filter(|(o, _)| !range.contains(*o)).map(|(_, p)| p).collect();
    outside.reverse();
    outside
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::core::fixtures::{created, pod, sts};
    use k8s_openapi::api::core::v1::ObjectReference;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn event(sts: &StatefulSet, reason: &str, message: &str, count: i32, seconds_after: i64) -> Event {
        Event {
            metadata: ObjectMeta { name: Some(format!("{}.{reason}", sts.name_any())), ..Default::default() },
            involved_object: ObjectReference {
                kind: Some("StatefulSet".into()),
                name: Some(sts.name_any()),
                namespace: sts.namespace(),
                uid: sts.uid(),
                ..Default::default()
            },
            reason: Some(reason.into()),
            message: Some(message.into()),
            type_: Some("Warning".into()),
            count: Some(count),
            last_timestamp: Some(Time(at(seconds_after))),
            ..Default::default()
        }
    }

    fn at(seconds_after: i64) -> Timestamp {
        Timestamp::from_second(created().as_second() + seconds_after).unwrap()
    }

    #[test]
    fn a_quota_blocking_a_create_is_current_while_the_pod_is_missing() {
        let web = sts("web", 3).build();
        let quota = r#"pods "web-1" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=3, limited: pods=3"#;
        let pods = [pod(&web, 0).build(), pod(&web, 2).build(), pod(&web, 3).build()];
        // Up to 1.36 the controller writes the verb in lower case, from 1.37 in title case.
        for verb in ["create", "Create"] {
            let message = format!("{verb} Pod web-1 in StatefulSet web failed error: {quota}");
            let failures =
                controller_failures(&web, &[event(&web, "FailedCreate", &message, 7, 100)], &pods, at(160));
            assert_eq!(failures.len(), 1, "{verb}");
            let f = &failures[0];
            assert_eq!(
                (f.operation.as_str(), f.pod.as_deref(), f.count, f.cause),
                ("create Pod web-1", Some("web-1"), 7, FailureCause::Quota),
                "{verb}"
            );
            assert_eq!(f.message, quota);
            let created_since = [pod(&web, 0).build(), pod(&web, 1).build(), pod(&web, 2).build()];
            let after = controller_failures(
                &web,
                &[event(&web, "FailedCreate", &message, 7, 100)],
                &created_since,
                at(160),
            );
            assert!(after.is_empty(), "web-1 exists now ({verb})");
        }
        let events = [event(
            &web,
            "FailedCreate",
            &format!("Create Pod web-1 in StatefulSet web failed error: {quota}"),
            7,
            100,
        )];
        let names: Vec<String> = pods_outside_range(&web, &pods).iter().map(|p| p.name_any()).collect();
        assert_eq!(names, ["web-3"]);

        let created_since = [pod(&web, 0).build(), pod(&web, 1).build(), pod(&web, 2).build()];
        assert!(controller_failures(&web, &events, &created_since, at(160)).is_empty(), "web-1 exists now");
        assert!(
            controller_failures(&web, &events, &pods, at(100 + RECENT_SECONDS + 1)).is_empty(),
            "too old"
        );
    }

    #[test]
    fn the_remedy_of_a_quota_is_the_pod_being_scaled_away() {
        let web = sts("web", 3).build();
        let quota = "pods \"web-1\" is forbidden: exceeded quota: pods";
        let events = [event(
            &web,
            "FailedCreate",
            &format!("create Pod web-1 in StatefulSet web failed error: {quota}"),
            2,
            100,
        )];
        let pods = [pod(&web, 0).build(), pod(&web, 2).build(), pod(&web, 3).build()];
        let failures = controller_failures(&web, &events, &pods, at(160));
        let blockers = blockers(&web, &pods, &failures);
        assert_eq!(
            blockers[0].describe(&web, &pods, at(160)),
            format!(
                "the StatefulSet controller fails to create Pod web-1 (2 times, last 60s ago): {quota}; pods web-3 \
                 outside the live ordinals still count against the quota: delete them, highest first \
                 (`kubectl delete pod web-3 -n default`), so the controller can create web-1"
            )
        );
    }

    #[test]
    fn a_pod_without_a_templated_claim_blocks_the_controller() {
        let web = sts("web", 2).templates(&["data", "logs"]).build();
        let mut adopted = pod(&web, 0).build();
        adopted.spec.as_mut().unwrap().volumes.as_mut().unwrap().retain(|v| v.name != "logs");
        let pods = [adopted, pod(&web, 1).build()];
        let found = blockers(&web, &pods, &[]);
        assert_eq!(found, [Blocker::LacksClaims { pod: "web-0".into(), claims: vec!["logs-web-0".into()] }]);
        let text = found[0].describe(&web, &pods, at(0));
        assert!(
            text.contains("lowest ordinal first") && text.contains("`kubectl delete pod web-0 -n default`"),
            "{text}"
        );
    }

    #[test]
    fn a_stray_in_a_live_place_blocks_and_explains_the_failures_it_causes() {
        let web = sts("web", 3).build();
        let mut stray = pod(&web, 0).build();
        stray.metadata.name = Some("web-01".into());
        stray.metadata.owner_references = None;
        let pods = [pod(&web, 0).build(), pod(&web, 2).build(), stray.clone()];
        let update = "Update Pod web-1 in StatefulSet web failed error: pods \"web-1\" not found";
        let failures = [ControllerFailure {
            reason: "FailedUpdate".into(),
            operation: "update Pod web-1".into(),
            pod: Some("web-1".into()),
            message: update.into(),
            count: 4,
            last_seen: Some(at(10)),
            cause: FailureCause::Other,
        }];
        let found = blockers(&web, &pods, &failures);
        assert_eq!(found.len(), 1, "the failed update is the stray's doing: {found:?}");
        let text = found[0].describe(&web, &pods, at(20));
        assert!(
            text.starts_with("pod web-01 stands in web-1's place: the StatefulSet controller reads its name as web's ordinal")
                && text.contains("`kubectl label pod web-01 app- -n default`"),
            "{text}"
        );
        // Beside the set's own web-1: the two take turns, which a rollout must not run into.
        let pods = [pod(&web, 0).build(), pod(&web, 1).build(), pod(&web, 2).build(), stray];
        let text = blockers(&web, &pods, &[])[0].describe(&web, &pods, at(20));
        assert!(
            text.starts_with("pod web-01 is not web-1, but the StatefulSet controller reads its name"),
            "{text}"
        );
        // Outside the live ordinals the controller deletes it: nothing to block on.
        let mut condemned = pod(&web, 0).build();
        condemned.metadata.name = Some("web-07".into());
        assert!(
            blockers(
                &web,
                &[pod(&web, 0).build(), pod(&web, 1).build(), pod(&web, 2).build(), condemned],
                &[]
            )
            .is_empty()
        );
    }

    #[test]
    fn an_update_the_api_forbids_is_recognised() {
        let web = sts("web", 2).build();
        let message = "update Pod web-0 in StatefulSet web failed error: Pod \"web-0\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`\n@@ -13,6 +13,42 @@\n \"Glusterfs\": null,";
        let events = [
            event(&web, "FailedUpdate", message, 3, 10),
            event(&web, "SuccessfulCreate", "create Pod web-1 in StatefulSet web successful", 1, 5),
        ];
        let failures = controller_failures(&web, &events, &[pod(&web, 0).build()], at(20));
        assert_eq!(failures.iter().map(|f| f.cause).collect::<Vec<_>>(), [FailureCause::ImmutablePod]);
        let mut replaced = pod(&web, 0).build();
        replaced.metadata.creation_timestamp = Some(Time(at(15)));
        assert!(
            controller_failures(&web, &events, &[replaced], at(20)).is_empty(),
            "about the pod it replaced"
        );
        assert!(
            failures[0].message.ends_with("other than `spec.containers[*].image`"),
            "one line: {}",
            failures[0].message
        );
    }

    #[test]
    fn a_recreate_set_the_controller_may_not_manage_is_blocked_until_its_strategy_changes() {
        let web = sts("web", 2).recreate().build();
        let message = "statefulset default/web uses Recreate strategy but feature gate StatefulSetRecreateStrategy is disabled";
        let events = [event(&web, "UnknownStrategy", message, 3, 100)];
        let failures = controller_failures(&web, &events, &[], at(160));
        assert_eq!(failures.len(), 1);
        assert_eq!(
            (failures[0].cause, failures[0].message.as_str()),
            (FailureCause::StrategyDisabled, message)
        );
        let text = Blocker::Failing(failures[0].clone()).describe(&web, &[], at(160));
        assert!(
            text.contains("fails to use the Recreate update strategy") && text.contains("RollingUpdate"),
            "{text}"
        );
        let switched = sts("web", 2).build();
        let events = [event(&switched, "UnknownStrategy", message, 3, 100)];
        assert!(controller_failures(&switched, &events, &[], at(160)).is_empty(), "no longer Recreate");
    }

    #[test]
    fn claim_failures_name_their_pod_and_other_sets_are_ignored() {
        let web = sts("web", 1).build();
        let other = sts("web-app", 1).build();
        let events = [
            event(
                &web,
                "FailedCreate",
                "create Claim data-web-0 for Pod web-0 in StatefulSet web failed error: storage quota",
                1,
                1,
            ),
            event(
                &other,
                "FailedCreate",
                "create Pod web-app-0 in StatefulSet web-app failed error: nope",
                1,
                1,
            ),
        ];
        let failures = controller_failures(&web, &events, &[], at(2));
        assert_eq!(failures.len(), 1);
        assert_eq!(
            (failures[0].operation.as_str(), failures[0].pod.as_deref()),
            ("create Claim data-web-0", Some("web-0"))
        );
    }

    /// A Warning event about `pod` as its kubelet reports it.
    pub(crate) fn pod_event(pod: &Pod, reason: &str, message: &str, count: i32, seconds_after: i64) -> Event {
        Event {
            metadata: ObjectMeta { name: Some(format!("{}.{reason}", pod.name_any())), ..Default::default() },
            involved_object: ObjectReference {
                kind: Some("Pod".into()),
                name: Some(pod.name_any()),
                namespace: pod.namespace(),
                uid: pod.uid(),
                ..Default::default()
            },
            reason: Some(reason.into()),
            message: Some(message.into()),
            type_: Some("Warning".into()),
            count: Some(count),
            last_timestamp: Some(Time(at(seconds_after))),
            source: Some(k8s_openapi::api::core::v1::EventSource {
                component: Some("kubelet".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_pods_warning_is_its_newest_recent_one_about_this_uid() {
        let web = sts("web", 3).build();
        let web1 = pod(&web, 1).build();
        let probe = "Readiness probe failed: HTTP probe failed with statuscode: 503\nmore";
        let unhealthy = pod_event(&web1, "Unhealthy", probe, 7, 100);
        let mut predecessor = pod_event(&web1, "BackOff", "Back-off restarting failed container", 3, 150);
        predecessor.involved_object.uid = Some("an-older-web-1".into());
        let mut normal = pod_event(&web1, "Pulled", "Container image pulled", 1, 160);
        normal.type_ = Some("Normal".into());
        let other = pod_event(&pod(&web, 2).build(), "FailedMount", "MountVolume failed", 1, 170);
        let older = pod_event(&web1, "FailedScheduling", "0/3 nodes are available", 1, 50);
        let events = [older, unhealthy, predecessor, normal, other];
        let now = at(200);
        let got = pod_warning(&web1, &events, now).unwrap();
        assert_eq!(
            (got.reason.as_str(), got.message.as_str(), got.source.as_deref(), got.count),
            (
                "Unhealthy",
                "Readiness probe failed: HTTP probe failed with statuscode: 503",
                Some("kubelet"),
                7
            ),
            "the newest about this uid, its first line"
        );
        let later = at(100 + POD_WARNING_SECONDS + 1);
        assert_eq!(pod_warning(&web1, &events, later).map(|w| w.reason), None, "older than 10 minutes");
        assert_eq!(pod_warning(&web1, &[], now), None);
    }
}
