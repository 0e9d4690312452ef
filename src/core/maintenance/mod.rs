//! Taking members of StatefulSets down on purpose without losing their quorum: `drain` (every
//! member on some nodes, one at a time), `restart` (chosen members), `scale` with decommission
//! (the highest members, each leaving its cluster first). The decisions and plans only, as pure
//! functions of what was read; the shell (one write primitive, one wait) applies them.
//!
//! - [`quorum`]: the majority a set keeps and which members are down (shared with `status`).
//! - [`replace`]: a member followed by its uid to its replacement, and a refused eviction.
//! - [`restart`]: which members, in which order, and the journal of a restart.
//! - [`drain`]: the members on the nodes drained, the pods left to `kubectl drain`, the journal.
//! - [`scale`]: a scale-down member by member (each leaving first), a scale-up, the claims'
//!   fate, the journal.

pub mod drain;
pub mod quorum;
pub mod replace;
pub mod restart;
pub mod scale;

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use kube::ResourceExt;
use serde::{Deserialize, Serialize};

use crate::core::objects::{Budget, mounted_claims, node_name, pod_ready, pod_status_text, pvc_volume};
use crate::core::placement::pinned;
use quorum::Quorum;

/// How a member is taken down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "camelCase")]
pub enum Method {
    /// Through the Eviction API (`pods/eviction`): PodDisruptionBudgets are honoured.
    #[default]
    Evict,
    /// A delete (guarded by the pod's uid): no budget is asked.
    Delete,
}

/// What a wait of `restart`, `drain` or `scale` says while it lasts (its progress line): what
/// it waits for (`the replacement of web-1`) and where that stands (`Pending on node-2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitWords {
    pub what: String,
    pub state: String,
}

/// Where the pod named `name` (in `namespace`, when pods of several namespaces are in `pods`)
/// stands, as kubectl's STATUS column says it (`Ready` for a running pod that is), with its
/// node: `Running, not Ready on node-2`, `Pending:Unschedulable`, `no pod yet`; the pod of uid `old` (the one taken down) is `the old
/// pod, Terminating on node-1`.
pub fn pod_state(namespace: Option<&str>, name: &str, old: Option<&str>, pods: &[Pod]) -> String {
    let Some(pod) = pods
        .iter()
        .find(|p| p.name_any() == name && namespace.is_none_or(|ns| p.namespace().as_deref() == Some(ns)))
    else {
        return "no pod yet".to_owned();
    };
    let status = match pod_status_text(pod) {
        running if running == "Running" && pod_ready(pod) => "Ready".to_owned(),
        running if running == "Running" => "Running, not Ready".to_owned(),
        status => status,
    };
    let on = node_name(pod).map(|node| format!(" on {node}")).unwrap_or_default();
    match old.is_some() && pod.uid().as_deref() == old {
        true => format!("the old pod, {status}{on}"),
        false => format!("{status}{on}"),
    }
}

/// What the wait for `target`'s pod, taken down, to go says: `web-1 to go down: the old pod,
/// Terminating on node-1`.
pub fn going_down(target: &replace::Target, pods: &[Pod]) -> WaitWords {
    WaitWords {
        what: format!("{} to go down", target.pod),
        state: pod_state(Some(&target.namespace), &target.pod, Some(&target.uid), pods),
    }
}

/// What the wait after a refused eviction of `pod` says, of the budgets over it as seen now
/// (`refused`: the API server's words, when no budget is seen): `PodDisruptionBudget web to
/// allow a disruption: 0 allowed (2 healthy, 3 needed)`.
pub fn budget_words(pod: &str, budgets: &[Budget], refused: &str) -> WaitWords {
    let numbers = |b: &Budget| {
        format!(
            "{} allowed ({} healthy, {} needed)",
            b.disruptions_allowed, b.current_healthy, b.desired_healthy
        )
    };
    match budgets {
        [] => WaitWords { what: format!("the eviction of {pod} to be allowed"), state: refused.to_owned() },
        [budget] => WaitWords {
            what: format!("PodDisruptionBudget {} to allow a disruption", budget.name),
            state: numbers(budget),
        },
        budgets => WaitWords {
            what: format!(
                "PodDisruptionBudgets {} to allow a disruption",
                budgets.iter().map(|b| b.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
            state: budgets
                .iter()
                .map(|b| format!("{}: {}", b.name, numbers(b)))
                .collect::<Vec<_>>()
                .join("; "),
        },
    }
}

/// Why the volumes of `pod` keep it from starting anywhere but where it cannot (a node being
/// drained in `draining`, a cordoned or gone node): `None` when it can move. Claims and volumes
/// not read are not judged.
pub fn pinned_member(
    pod: &Pod,
    claims: &[PersistentVolumeClaim],
    nodes: &[Node],
    volumes: &HashMap<&str, &PersistentVolume>,
    draining: &[&str],
) -> Option<String> {
    let namespace = pod.namespace();
    let bound: Vec<(String, Option<String>)> = mounted_claims(pod)
        .map(|claim| {
            let volume = claims
                .iter()
                .find(|c| c.name_any() == claim && c.namespace() == namespace)
                .and_then(|c| pvc_volume(c).map(str::to_owned));
            (claim.to_owned(), volume)
        })
        .collect();
    let pins = pinned(pod, &bound, nodes, volumes, draining);
    (!pins.is_empty()).then(|| pins.iter().map(|p| p.describe()).collect::<Vec<_>>().join("; "))
}

/// Why `drain` or `restart` will not start: decided before the first write, so nothing was
/// changed.
#[derive(Debug, thiserror::Error)]
pub enum MaintenanceRefusal {
    #[error("{name} has no ordinal {ordinal} (its members are {range})")]
    OrdinalOutOfRange { name: String, ordinal: i32, range: String },
    #[error("{pod} has no pod to restart (the controller has not created it); nothing was changed")]
    NoPod { pod: String },
    #[error(
        "{name} must keep {} of {} up ({}): no member may go down; pass {flag} to accept one down; nothing was \
         changed",
        .quorum.floor, .quorum.members, source(.quorum)
    )]
    NoneMayBeDown { name: String, quorum: Quorum, flag: String },
    #[error(
        "refusing to {}: {pod} cannot start anywhere else, {why}; {}; nothing was changed",
        if *.draining { "drain" } else { "restart it" },
        if *.draining {
            "wait for the node to come back rather than draining it (its member stays where its data is), take it \
             down with the node and wait for it to come back there (--wait-for-return), or uncordon a node its \
             volume allows"
        } else {
            "uncordon a node its volume allows first"
        }
    )]
    Pinned { pod: String, why: String, draining: bool },
    #[error("refusing to evict {pod}: {}; {way_out}; nothing was changed", .budgets.join("; "))]
    BudgetNeverAllows { pod: String, budgets: Vec<String>, way_out: String },
    #[error(
        "a restart of {} is in progress: run `{resume}` to resume it, or `{discard}` to give it up; nothing was changed",
        .members.join(", ")
    )]
    OtherRestartInProgress { members: Vec<String>, resume: String, discard: String },
    #[error(
        "annotation {annotation} on {object} is not a journal ({error}); nothing was changed: `{discard}` removes it"
    )]
    JournalUnreadable { object: String, annotation: &'static str, error: String, discard: String },
    #[error("refusing to drain: cannot delete {}; nothing was changed", .errors.join("; cannot delete "))]
    OtherPods { errors: Vec<String> },
    #[error(
        "refusing to drain: {} of {name} {} pinned to {nodes} and would go down together with it, but {name} must \
         keep {} of {} up ({}); drain those nodes one at a time, or accept it with --min-available; nothing was \
         changed",
        .pinned.join(", "),
        if .pinned.len() == 1 { "is" } else { "are" },
        .quorum.floor, .quorum.members, source(.quorum)
    )]
    PinnedBreakQuorum { name: String, pinned: Vec<String>, quorum: Quorum, nodes: String },
    #[error("--min-available {given} names no StatefulSet with pods on {nodes}")]
    MinAvailableUnknown { given: String, nodes: String },
    #[error("--min-available {floor} for {name} is more than its {members} members")]
    FloorAboveMembers { name: String, floor: i32, members: i32 },
}

/// `its majority`, `--min-available 3`.
fn source(quorum: &Quorum) -> String {
    match quorum.given {
        true => format!("--min-available {}", quorum.floor),
        false => "its majority".to_owned(),
    }
}

impl MaintenanceRefusal {
    /// Caused by the command line alone (exit 2).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            MaintenanceRefusal::OrdinalOutOfRange { .. }
                | MaintenanceRefusal::MinAvailableUnknown { .. }
                | MaintenanceRefusal::FloorAboveMembers { .. }
        )
    }
}

#[cfg(test)]
mod wait_words_tests {
    use super::{Budget, budget_words, pod_state};
    use crate::core::fixtures::{pod, sts};

    #[test]
    fn a_pod_waited_on_is_said_as_kubectl_says_it_with_its_node() {
        let web = sts("web", 3).build();
        let pods = vec![
            pod(&web, 0).node("node-0").build(),
            pod(&web, 1).uid("uid-old").node("node-1").terminating().build(),
            pod(&web, 2).ready(false).node("node-2").build(),
        ];
        let ns = web.metadata.namespace.as_deref();
        let cases = [
            ("web-0", None, "Ready on node-0"),
            ("web-1", Some("uid-old"), "the old pod, Terminating on node-1"),
            ("web-1", Some("uid-other"), "Terminating on node-1"),
            ("web-2", None, "Running, not Ready on node-2"),
            ("web-3", None, "no pod yet"),
        ];
        for (name, old, expected) in cases {
            assert_eq!(pod_state(ns, name, old, &pods), expected, "{name}");
        }
        assert_eq!(pod_state(Some("elsewhere"), "web-0", None, &pods), "no pod yet");
    }

    #[test]
    fn a_refused_eviction_waits_for_its_budgets_by_name_with_their_numbers() {
        let budget = |name: &str, allowed| Budget {
            name: name.into(),
            disruptions_allowed: allowed,
            current_healthy: 2,
            desired_healthy: 3,
        };
        let one = budget_words("web-1", &[budget("web", 0)], "Cannot evict pod");
        assert_eq!(
            (one.what.as_str(), one.state.as_str()),
            ("PodDisruptionBudget web to allow a disruption", "0 allowed (2 healthy, 3 needed)")
        );
        let two = budget_words("web-1", &[budget("web", 0), budget("all", 1)], "Cannot evict pod");
        assert_eq!(
            (two.what.as_str(), two.state.as_str()),
            (
                "PodDisruptionBudgets web, all to allow a disruption",
                "web: 0 allowed (2 healthy, 3 needed); all: 1 allowed (2 healthy, 3 needed)"
            )
        );
        let none =
            budget_words("web-1", &[], "Cannot evict pod as it would violate the pod's disruption budget.");
        assert_eq!(none.what, "the eviction of web-1 to be allowed");
        assert_eq!(none.state, "Cannot evict pod as it would violate the pod's disruption budget.");
    }
}
