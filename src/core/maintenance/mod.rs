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

use crate::core::objects::{mounted_claims, pvc_volume};
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
