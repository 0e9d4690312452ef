//! The quorum of a StatefulSet and which of its members are down: the one rule `drain`,
//! `restart`, `scale` and `status`'s audit share. A set of `n` members keeps `⌊n/2⌋+1` of them
//! up (the majority a Raft or Paxos group needs), or what `--min-available` says; a member is
//! down when it has no pod, or its pod is not Ready, is being deleted, has finished (evicted by
//! its kubelet), is not scheduled, or runs on a node that is NotReady or gone.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::ResourceExt;
use serde::{Deserialize, Serialize};

use crate::core::names::pod_name;
use crate::core::objects::{node_name, node_ready, ordinal_range, pod_ready, pods_of, terminating};

/// The majority of `members`: `⌊n/2⌋+1` (0 for none).
pub fn majority(members: i32) -> i32 {
    if members <= 0 { 0 } else { members / 2 + 1 }
}

/// How many members of a set must stay up, and where that number comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quorum {
    /// The set's replicas.
    pub members: i32,
    /// The members that must stay up.
    pub floor: i32,
    /// The floor was given (`--min-available`) rather than the majority.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub given: bool,
}

impl Quorum {
    /// `min_available` when given, else the majority of `members`.
    pub fn of(members: i32, min_available: Option<i32>) -> Quorum {
        match min_available {
            Some(floor) => Quorum { members, floor, given: true },
            None => Quorum { members, floor: majority(members), given: false },
        }
    }

    /// How many members may be down at once.
    pub fn tolerance(self) -> i32 {
        (self.members - self.floor).max(0)
    }

    /// `2 of 3 up (its majority)`, `3 of 3 up (--min-available 3)`.
    pub fn describe(self) -> String {
        let source =
            if self.given { format!("--min-available {}", self.floor) } else { "its majority".to_owned() };
        format!("{} of {} up ({source})", self.floor, self.members)
    }
}

/// Why a member is down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "reason")]
pub enum Down {
    /// No pod: the controller has not created it (yet).
    Missing,
    /// Its pod is being deleted.
    Terminating,
    /// Its pod has finished (`Failed`, as a kubelet leaves a pod it evicted, or `Succeeded`).
    Finished { phase: String },
    /// Its pod is bound to a node whose Node object is gone.
    NodeGone { node: String },
    /// Its pod's node is NotReady (or its state unknown): nobody knows whether it runs.
    NodeNotReady { node: String },
    /// Its pod waits for a node.
    Unscheduled,
    /// Its pod runs but is not Ready.
    NotReady,
}

impl Down {
    /// `web-2 is not Ready`, `web-1 has no pod`, `web-0 is on node n1, which is NotReady`.
    pub fn describe(&self, member: &str) -> String {
        match self {
            Down::Missing => format!("{member} has no pod"),
            Down::Terminating => format!("{member} is being deleted"),
            Down::Finished { phase } => format!("{member} has finished ({phase})"),
            Down::NodeGone { node } => format!("{member} is on node {node}, which is gone"),
            Down::NodeNotReady { node } => format!("{member} is on node {node}, which is NotReady"),
            Down::Unscheduled => format!("{member} is not scheduled"),
            Down::NotReady => format!("{member} is not Ready"),
        }
    }
}

/// One live member of a set as read now.
#[derive(Debug, Clone)]
pub struct Member<'p> {
    pub ordinal: i32,
    /// Its pod's name, `<set>-<ordinal>`.
    pub name: String,
    pub pod: Option<&'p Pod>,
    /// `None` when it is up.
    pub down: Option<Down>,
}

impl Member<'_> {
    pub fn uid(&self) -> Option<String> {
        self.pod.and_then(|p| p.uid())
    }

    pub fn node(&self) -> Option<&str> {
        self.pod.and_then(node_name)
    }
}

/// Why the pod `pod` is down, judged with `nodes` (`None` when Nodes could not be read: node
/// trouble is then unknown, not assumed).
pub fn down(pod: &Pod, nodes: Option<&[Node]>) -> Option<Down> {
    if terminating(pod) {
        return Some(Down::Terminating);
    }
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    if matches!(phase, "Failed" | "Succeeded") {
        return Some(Down::Finished { phase: phase.to_owned() });
    }
    let Some(node) = node_name(pod) else { return Some(Down::Unscheduled) };
    if let Some(nodes) = nodes {
        match nodes.iter().find(|n| n.metadata.name.as_deref() == Some(node)) {
            None => return Some(Down::NodeGone { node: node.to_owned() }),
            Some(n) if !node_ready(n) => return Some(Down::NodeNotReady { node: node.to_owned() }),
            Some(_) => {}
        }
    }
    (!pod_ready(pod)).then_some(Down::NotReady)
}

/// The live members of `sts` (its ordinal range), each with its pod and whether it is down.
pub fn members<'p>(sts: &StatefulSet, pods: &'p [Pod], nodes: Option<&[Node]>) -> Vec<Member<'p>> {
    let own = pods_of(sts, pods);
    let name = sts.name_any();
    ordinal_range(sts)
        .ordinals()
        .map(|ordinal| {
            let pod = own.iter().find(|(o, _)| *o == ordinal).map(|(_, p)| *p);
            Member {
                ordinal,
                name: pod_name(&name, ordinal),
                pod,
                down: match pod {
                    None => Some(Down::Missing),
                    Some(pod) => down(pod, nodes),
                },
            }
        })
        .collect()
}

/// Why a member may not be taken down now: the set would not keep its quorum. Waiting may
/// lift it (the other member comes back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "hold")]
pub enum Hold {
    /// Other members are down already: one member of a set at a time.
    OthersDown { down: Vec<(String, Down)> },
    /// Taking it down leaves fewer members up than the floor.
    BelowFloor { up_after: i32, quorum: Quorum },
}

impl Hold {
    /// `web-1 is not Ready` / `2 of 3 would be up, fewer than the 3 it needs (--min-available 3)`.
    pub fn describe(&self) -> String {
        match self {
            Hold::OthersDown { down } => {
                down.iter().map(|(name, why)| why.describe(name)).collect::<Vec<_>>().join("; ")
            }
            Hold::BelowFloor { up_after, quorum } => {
                format!("{up_after} of {} would be up, fewer than {}", quorum.members, quorum.describe())
            }
        }
    }
}

/// Whether member `ordinal` may be taken down now: no other member is down anywhere, and the
/// members left up are at least the floor. A member already down may be taken down (it counts
/// as down either way) as long as it is the only one.
///
/// # Errors
/// The [`Hold`] that keeps it up.
pub fn may_take_down(members: &[Member], ordinal: i32, quorum: Quorum) -> Result<(), Hold> {
    may_take_down_together(members, &[ordinal], quorum)
}

/// Whether the members `ordinals` may go down together now (`drain --wait-for-return`: the
/// members pinned to a node go down with it): no other member is down anywhere, and the members
/// left up are at least the floor. Those of them down already count as down either way.
///
/// # Errors
/// The [`Hold`] that keeps them up.
pub fn may_take_down_together(members: &[Member], ordinals: &[i32], quorum: Quorum) -> Result<(), Hold> {
    let others: Vec<(String, Down)> = members
        .iter()
        .filter(|m| !ordinals.contains(&m.ordinal))
        .filter_map(|m| Some((m.name.clone(), m.down.clone()?)))
        .collect();
    if !others.is_empty() {
        return Err(Hold::OthersDown { down: others });
    }
    let up_after =
        members.iter().filter(|m| !ordinals.contains(&m.ordinal) && m.down.is_none()).count() as i32;
    if up_after < quorum.floor {
        return Err(Hold::BelowFloor { up_after, quorum });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Pod;

    use super::*;
    use crate::core::fixtures::{node, pod, sts};

    #[test]
    fn the_majority_and_what_it_tolerates() {
        let cases = [(0, 0, 0), (1, 1, 0), (2, 2, 0), (3, 2, 1), (4, 3, 1), (5, 3, 2), (6, 4, 2), (7, 4, 3)];
        for (members, floor, tolerance) in cases {
            let q = Quorum::of(members, None);
            assert_eq!((q.floor, q.tolerance()), (floor, tolerance), "{members} members");
        }
        let given = Quorum::of(3, Some(3));
        assert_eq!((given.floor, given.tolerance(), given.given), (3, 0, true));
        assert_eq!(given.describe(), "3 of 3 up (--min-available 3)");
        assert_eq!(Quorum::of(5, None).describe(), "3 of 5 up (its majority)");
        assert_eq!(Quorum::of(2, Some(0)).tolerance(), 2);
    }

    #[test]
    fn a_member_is_down_for_each_reason_the_objects_show() {
        let web = sts("web", 1).build();
        let nodes = vec![node("node-0", "True"), node("node-down", "Unknown")];
        let mut failed = pod(&web, 0).build();
        failed.status.as_mut().unwrap().phase = Some("Failed".into());
        failed.status.as_mut().unwrap().reason = Some("Evicted".into());
        type Row<'n> = (&'static str, Pod, Option<&'n [k8s_openapi::api::core::v1::Node]>, Option<Down>);
        let cases: Vec<Row> = vec![
            ("up", pod(&web, 0).build(), Some(&nodes), None),
            ("not ready", pod(&web, 0).ready(false).build(), Some(&nodes), Some(Down::NotReady)),
            ("terminating", pod(&web, 0).terminating().build(), Some(&nodes), Some(Down::Terminating)),
            ("evicted by its kubelet", failed, Some(&nodes), Some(Down::Finished { phase: "Failed".into() })),
            ("unscheduled", pod(&web, 0).unscheduled().build(), Some(&nodes), Some(Down::Unscheduled)),
            (
                "node down",
                pod(&web, 0).node("node-down").build(),
                Some(&nodes),
                Some(Down::NodeNotReady { node: "node-down".into() }),
            ),
            (
                "node gone",
                pod(&web, 0).node("n9").build(),
                Some(&nodes),
                Some(Down::NodeGone { node: "n9".into() }),
            ),
            ("nodes unknown", pod(&web, 0).node("n9").build(), None, None),
        ];
        for (case, p, nodes, expected) in cases {
            assert_eq!(down(&p, nodes), expected, "{case}");
        }
        let members = members(&sts("web", 2).build(), &[], Some(&nodes));
        assert_eq!(
            members.iter().map(|m| m.down.clone()).collect::<Vec<_>>(),
            [Some(Down::Missing), Some(Down::Missing)]
        );
    }

    /// One member of a set at a time, and never below the floor: (members' states, the one to
    /// take down, floor given) → allowed or why not.
    #[test]
    fn a_member_goes_down_only_when_no_other_is_and_the_floor_holds() {
        let nodes = vec![node("node-0", "True")];
        let web = sts("web", 3).build();
        let up = |o| pod(&web, o).build();
        let not_ready = |o| pod(&web, o).ready(false).build();
        type Row = (&'static str, Vec<Pod>, i32, Option<i32>, Result<(), &'static str>);
        let cases: Vec<Row> = vec![
            ("all up", vec![up(0), up(1), up(2)], 2, None, Ok(())),
            ("another not ready", vec![up(0), not_ready(1), up(2)], 2, None, Err("web-1 is not Ready")),
            ("another missing", vec![up(0), up(2)], 2, None, Err("web-1 has no pod")),
            ("itself not ready", vec![up(0), up(1), not_ready(2)], 2, None, Ok(())),
            (
                "floor 3 of 3",
                vec![up(0), up(1), up(2)],
                2,
                Some(3),
                Err("2 of 3 would be up, fewer than 3 of 3 up (--min-available 3)"),
            ),
            ("floor 0", vec![up(0), up(1), up(2)], 2, Some(0), Ok(())),
        ];
        for (case, pods, ordinal, min, expected) in cases {
            let members = members(&web, &pods, Some(&nodes));
            let verdict = may_take_down(&members, ordinal, Quorum::of(3, min)).map_err(|h| h.describe());
            assert_eq!(verdict, expected.map_err(str::to_owned), "{case}");
        }
        let two = sts("web", 2).build();
        let pods = [pod(&two, 0).build(), pod(&two, 1).build()];
        let members = members(&two, &pods, Some(&nodes));
        assert!(
            matches!(
                may_take_down(&members, 1, Quorum::of(2, None)),
                Err(Hold::BelowFloor { up_after: 1, .. })
            ),
            "two members: the majority is both"
        );
    }
}
