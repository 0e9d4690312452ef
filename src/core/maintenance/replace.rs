//! What `drain` and `restart` share once a member is chosen: which member it is (its pod's name
//! *and* uid, as read before it was taken down), how far its replacement has come, and what to
//! do when a PodDisruptionBudget refuses its eviction.
//!
//! The StatefulSet controller re-creates a member under the same name, so a name alone cannot
//! tell the member taken down from its replacement: `kubectl drain` waits on the name and, when
//! the replacement lands on another node, waits for ever (kubernetes#138229). Here the member is
//! its uid: a pod of that name with another uid *is* the replacement.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde::{Deserialize, Serialize};

use super::quorum::{Down, down};
use crate::core::budgets::{Cover, numbers};
use crate::core::objects::{
    min_ready_seconds, node_name, pod_available, pod_ready, pod_restarts, terminating,
};

/// A member to take down, as read before: its replacement is the pod of the same name with
/// another uid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub namespace: String,
    pub stateful_set: String,
    pub ordinal: i32,
    pub pod: String,
    /// The uid of the pod taken down.
    pub uid: String,
    /// Where it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl Target {
    /// `shop/web-2`.
    pub fn qualified(&self) -> String {
        format!("{}/{}", self.namespace, self.pod)
    }
}

/// How the soak of a replacement (the pod `uid`, named `pod`, with `restarts` container restarts
/// when it began) stands in `pods`: `Some(why)` once it failed, the replacement followed by its
/// uid (replaced again, being deleted, no longer Ready, a container restarted); `None` while
/// it holds.
pub fn soak_failure(pods: &[Pod], uid: &str, pod: &str, restarts: i32) -> Option<String> {
    let Some(p) = pods.iter().find(|p| p.uid().as_deref() == Some(uid)) else {
        return Some(format!("{pod} was replaced again while it soaked (uid {uid})"));
    };
    if terminating(p) {
        return Some(format!("{pod} is being deleted while it soaked"));
    }
    if !pod_ready(p) {
        return Some(format!("{pod} stopped being Ready while it soaked"));
    }
    (pod_restarts(p) > restarts).then(|| format!("a container of {pod} restarted while it soaked"))
}

/// How far a target is, judged from the pod that holds its name now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Its pod (the uid read) still runs: it has not been taken down.
    Pending,
    /// Taken down; the replacement is not there yet (why, in a few words).
    Replacing(String),
    /// The replacement (another uid) is Ready and available (minReadySeconds) on `node`.
    Replaced { uid: String, node: String },
    /// The replacement is up, but on a node it had to leave (a drained node): it tolerates the
    /// cordon, or its volume holds it there.
    Misplaced { uid: String, node: String },
}

/// How far `target` is: `pod` is the pod that holds its name now (if any), judged with `nodes`
/// at `now`; a replacement on one of `avoid` (the nodes being drained) is misplaced.
pub fn progress(
    target: &Target,
    sts: &StatefulSet,
    pod: Option<&Pod>,
    nodes: Option<&[Node]>,
    avoid: &[String],
    now: Timestamp,
) -> Progress {
    let Some(pod) = pod else {
        return Progress::Replacing(format!("{} has no pod yet", target.pod));
    };
    let uid = pod.uid().unwrap_or_default();
    if uid == target.uid {
        return match terminating(pod) {
            true => Progress::Replacing(format!("{} is being deleted", target.pod)),
            false => Progress::Pending,
        };
    }
    if let Some(why) = down(pod, nodes) {
        return Progress::Replacing(match why {
            Down::NotReady => format!("its replacement {} is not Ready", target.pod),
            other => format!("its replacement: {}", other.describe(&target.pod)),
        });
    }
    if !pod_available(pod, min_ready_seconds(sts), now) {
        return Progress::Replacing(format!(
            "its replacement {} is Ready, not yet for minReadySeconds ({}s)",
            target.pod,
            min_ready_seconds(sts)
        ));
    }
    let node = node_name(pod).unwrap_or_default().to_owned();
    match avoid.contains(&node) {
        true => Progress::Misplaced { uid, node },
        false => Progress::Replaced { uid, node },
    }
}

/// What to do after the Eviction API refused (429).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnRefusal {
    /// The budget may allow it once another member is back (or its numbers are recounted):
    /// wait, until the run's timeout.
    Wait(String),
    /// Waiting cannot help: a budget over the member never allows a disruption (every pod it
    /// counts must stay healthy). Stop, naming it.
    Stop(String),
}

/// After a 429 for a member of a set of `replicas` members: `refused` says it (the budgets over
/// the pod with their numbers as read right after, or the API server's words), `covers` are the
/// budgets over the set. A budget whose rule tolerates no disruption at all stops the run; any
/// other refusal is waited out.
pub fn on_refused(refused: &str, covers: &[Cover], replicas: i32) -> OnRefusal {
    let never: Vec<String> =
        covers.iter().filter(|c| c.never_allows(replicas)).map(|c| describe_never(c, replicas)).collect();
    if !never.is_empty() {
        return OnRefusal::Stop(never.join("; "));
    }
    OnRefusal::Wait(refused.to_owned())
}

/// The budgets over `ordinal` that never allow a disruption, described: checked in the plan,
/// before anything moves.
pub fn never_allowing(covers: &[Cover], ordinal: i32, replicas: i32) -> Vec<String> {
    covers
        .iter()
        .filter(|c| c.ordinals.contains(&ordinal) && c.never_allows(replicas))
        .map(|c| describe_never(c, replicas))
        .collect()
}

/// `PodDisruptionBudget web (maxUnavailable 0) allows no disruption of its 3 pods (3 healthy,
/// 3 needed)`.
fn describe_never(cover: &Cover, replicas: i32) -> String {
    let counted = match numbers(cover.pdb) {
        Some(n) => format!(
            " ({} healthy, {} needed, {} allowed now)",
            n.current_healthy, n.desired_healthy, n.disruptions_allowed
        ),
        None => String::new(),
    };
    format!(
        "PodDisruptionBudget {} ({}) allows no disruption of its {} pods{counted}",
        cover.name(),
        cover.rule().describe(),
        cover.expected(replicas)
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::budgets::{covering, pdb};
    use crate::core::fixtures::{created, node, pod, sts};

    /// The soak follows the replacement by its uid: another pod under its name fails it.
    #[test]
    fn a_soak_fails_when_the_replacement_is_replaced_again() {
        let web = sts("web", 3).build();
        let up = pod(&web, 1).uid("new").build();
        let rows: [(Vec<Pod>, Option<&str>); 5] = [
            (vec![up.clone()], None),
            (
                vec![pod(&web, 1).uid("newer").build()],
                Some("web-1 was replaced again while it soaked (uid new)"),
            ),
            (vec![], Some("web-1 was replaced again while it soaked (uid new)")),
            (
                vec![pod(&web, 1).uid("new").terminating().build()],
                Some("web-1 is being deleted while it soaked"),
            ),
            (
                vec![pod(&web, 1).uid("new").ready(false).build()],
                Some("web-1 stopped being Ready while it soaked"),
            ),
        ];
        for (pods, failed) in rows {
            assert_eq!(soak_failure(&pods, "new", "web-1", 0), failed.map(str::to_owned), "{failed:?}");
        }
        let mut restarted = up.clone();
        restarted.status.as_mut().unwrap().container_statuses =
            Some(vec![k8s_openapi::api::core::v1::ContainerStatus {
                restart_count: 1,
                ..Default::default()
            }]);
        assert_eq!(
            soak_failure(&[restarted], "new", "web-1", 0).as_deref(),
            Some("a container of web-1 restarted while it soaked")
        );
    }

    fn target(web: &StatefulSet, ordinal: i32) -> Target {
        let p = pod(web, ordinal).build();
        Target {
            namespace: "default".into(),
            stateful_set: "web".into(),
            ordinal,
            pod: p.name_any(),
            uid: p.uid().unwrap(),
            node: Some("node-0".into()),
        }
    }

    fn replacement(web: &StatefulSet, ordinal: i32) -> crate::core::fixtures::PodBuilder {
        let mut p = pod(web, ordinal);
        p = p.node("node-1");
        p
    }

    fn renewed(mut p: Pod) -> Pod {
        p.metadata.uid = Some("uid-new".into());
        p
    }

    /// (the pod under the name now, nodes to avoid, minReadySeconds) → progress: the old uid is
    /// pending; another uid is the replacement, Replaced only once up, available and off the
    /// drained nodes. The kubernetes#138229 shape (same name, new uid, another node) is done.
    #[test]
    fn a_member_is_followed_by_its_uid_not_its_name() {
        let web = sts("web", 3).build();
        let slow = sts("web", 3).min_ready_seconds(30).build();
        let nodes = vec![node("node-0", "True"), node("node-1", "True")];
        let t = target(&web, 2);
        let now = created();
        let later = Timestamp::from_second(created().as_second() + 60).unwrap();
        type Row = (&'static str, StatefulSet, Option<Pod>, Vec<String>, Timestamp, Progress);
        let cases: Vec<Row> = vec![
            ("old pod still runs", web.clone(), Some(pod(&web, 2).build()), vec![], now, Progress::Pending),
            (
                "old pod being deleted",
                web.clone(),
                Some(pod(&web, 2).terminating().build()),
                vec![],
                now,
                Progress::Replacing("web-2 is being deleted".into()),
            ),
            ("no pod", web.clone(), None, vec![], now, Progress::Replacing("web-2 has no pod yet".into())),
            (
                "replacement not ready",
                web.clone(),
                Some(renewed(replacement(&web, 2).ready(false).build())),
                vec![],
                now,
                Progress::Replacing("its replacement web-2 is not Ready".into()),
            ),
            (
                "replacement unscheduled",
                web.clone(),
                Some(renewed(pod(&web, 2).unscheduled().build())),
                vec![],
                now,
                Progress::Replacing("its replacement: web-2 is not scheduled".into()),
            ),
            (
                "same name, new uid, another node (kubernetes#138229)",
                web.clone(),
                Some(renewed(replacement(&web, 2).build())),
                vec!["node-0".into()],
                now,
                Progress::Replaced { uid: "uid-new".into(), node: "node-1".into() },
            ),
            (
                "back on the drained node",
                web.clone(),
                Some(renewed(pod(&web, 2).build())),
                vec!["node-0".into()],
                now,
                Progress::Misplaced { uid: "uid-new".into(), node: "node-0".into() },
            ),
            (
                "ready, not for minReadySeconds",
                slow.clone(),
                Some(renewed(replacement(&slow, 2).ready_since(now).build())),
                vec![],
                now,
                Progress::Replacing(
                    "its replacement web-2 is Ready, not yet for minReadySeconds (30s)".into(),
                ),
            ),
            (
                "available after minReadySeconds",
                slow.clone(),
                Some(renewed(replacement(&slow, 2).ready_since(now).build())),
                vec![],
                later,
                Progress::Replaced { uid: "uid-new".into(), node: "node-1".into() },
            ),
        ];
        for (case, set, p, avoid, at, expected) in cases {
            assert_eq!(progress(&t, &set, p.as_ref(), Some(&nodes), &avoid, at), expected, "{case}");
        }
    }

    fn counted(allowed: i32, healthy: i32, desired: i32, expected: i32) -> serde_json::Value {
        json!({"observedGeneration": 1, "disruptionsAllowed": allowed, "currentHealthy": healthy,
               "desiredHealthy": desired, "expectedPods": expected})
    }

    /// A 429 is waited out unless a budget over the set can never allow a disruption; either
    /// way the budget is named with its numbers.
    #[test]
    fn a_refused_eviction_names_the_budget_and_waits_only_when_waiting_can_help() {
        let web = sts("web", 3).build();
        let pods: Vec<Pod> = (0..3).map(|o| pod(&web, o).build()).collect();
        let selector = json!({"matchLabels": {"app": "web"}});
        let zero =
            [pdb("web-zero", json!({"selector": selector, "maxUnavailable": 0}), Some(counted(0, 3, 3, 3)))];
        let one =
            [pdb("web-one", json!({"selector": selector, "maxUnavailable": 1}), Some(counted(0, 2, 2, 3)))];
        let covers = covering(&zero, &web, &pods);
        assert_eq!(
            on_refused("PodDisruptionBudget web-zero allows 0 disruptions (3 healthy, 3 needed)", &covers, 3),
            OnRefusal::Stop(
                "PodDisruptionBudget web-zero (maxUnavailable 0) allows no disruption of its 3 pods (3 healthy, 3 \
                 needed, 0 allowed now)"
                    .into()
            )
        );
        assert_eq!(never_allowing(&covers, 2, 3).len(), 1, "the plan sees it before anything moves");
        let covers = covering(&one, &web, &pods);
        assert_eq!(
            on_refused("PodDisruptionBudget web-one allows 0 disruptions (2 healthy, 2 needed)", &covers, 3),
            OnRefusal::Wait("PodDisruptionBudget web-one allows 0 disruptions (2 healthy, 2 needed)".into())
        );
        assert!(never_allowing(&covers, 2, 3).is_empty());
    }
}
