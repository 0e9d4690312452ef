//! `drain NODE…`: the StatefulSet members on nodes going down for maintenance, moved one at a
//! time, each only while its set keeps its quorum, the next only once the replacement (the
//! same name with another uid) is Ready on another node, has soaked and passed its gates.
//! Pods of anything else are left to `kubectl drain`, which handles them well.
//!
//! Refused before the first write (the cordon): a member whose volume pins it to a node being
//! drained (it could start nowhere else), a set whose quorum tolerates nobody down, a budget that
//! never allows an eviction. The journal ([`DRAIN_ANNOTATION`], on the first node named) holds
//! the members with the uids read, and those done.
//!
//! With `--all-pods` ([`AllPods`]), the other pods are judged by `kubectl drain`'s own filters
//! (k8s.io/kubectl/pkg/drain, filters.go) and its flags: evicted after the members, skipped, or
//! the drain refused before the cordon ([`judge`]).

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde::{Deserialize, Serialize};

use super::quorum::{Hold, Quorum, may_take_down, may_take_down_together, members};
use super::replace::{Progress, Target, never_allowing, progress};
use super::{MaintenanceRefusal as Refusal, WaitWords, pinned_member, pod_state};
use crate::core::advice::{RunFlags, shell_word};
use crate::core::budgets::covering;
use crate::core::objects::{controller_of, node_name, pods_of, replicas, terminating};
use crate::core::placement::cordoned;
use crate::core::rollout::gates::Gates;

/// The annotation on the first node named that holds a drain's journal (docs/drain.md).
pub const DRAIN_ANNOTATION: &str = "kubectl-stateful.dev/drain";

/// `--min-available`: for every set (`N`), or per set (`NAME=N`, `NAMESPACE/NAME=N`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MinAvailable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<i32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sets: BTreeMap<String, i32>,
}

impl MinAvailable {
    /// Adds one `--min-available` value.
    ///
    /// # Errors
    /// Why it is not `N` or `NAME=N` with N ≥ 0.
    pub fn add(&mut self, text: &str) -> Result<(), String> {
        let count =
            |n: &str| n.parse::<i32>().ok().filter(|n| *n >= 0).ok_or("not a count of members (N ≥ 0)");
        match text.split_once('=') {
            Some((set, n)) if !set.is_empty() => {
                self.sets.insert(set.to_owned(), count(n)?);
            }
            Some(_) => return Err("expected N or NAME=N".to_owned()),
            None => self.all = Some(count(text)?),
        }
        Ok(())
    }

    /// The floor given for `namespace/name`, the most specific first.
    pub fn of(&self, namespace: &str, name: &str) -> Option<i32> {
        self.sets.get(&format!("{namespace}/{name}")).or_else(|| self.sets.get(name)).copied().or(self.all)
    }
}

/// `--all-pods` and the flags of `kubectl drain` that decide the other pods' fate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllPods {
    /// `--force`: pods that declare no controller (or whose DaemonSet is gone) are evicted too.
    #[serde(default)]
    pub force: bool,
    /// `--ignore-daemonsets`: a DaemonSet's pods stay (its controller would put them back).
    #[serde(default)]
    pub ignore_daemonsets: bool,
    /// `--delete-emptydir-data`: pods with an emptyDir volume are evicted, its data lost.
    #[serde(default)]
    pub delete_emptydir_data: bool,
    /// `--grace-period`: seconds each evicted pod has to end, instead of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<u32>,
}

/// What `--all-pods` does with a pod that is no StatefulSet's member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// Evicted through the Eviction API (budgets honoured), then waited for until it is gone.
    Evict,
    /// Left on the node (a DaemonSet's pod with `--ignore-daemonsets`, a mirror pod).
    Skip,
    /// Already being deleted: waited for until it is gone, not evicted again.
    Wait,
}

/// kubectl drain's verdict on one pod: what to do with it and its warning, or why the drain
/// cannot go on (kubectl's words, with the flag that overrides).
pub type Verdict = Result<(Action, Option<&'static str>), &'static str>;

/// The annotation the kubelet puts on the mirror of a static pod.
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

fn finished(pod: &Pod) -> bool {
    matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

/// `kubectl drain`'s filters on a pod that is not a StatefulSet member, in its order
/// (filters.go: deleted, DaemonSet, mirror, local storage, unreplicated; the first that does
/// not delete decides). `daemon_set_exists` says whether the DaemonSet named as its controller
/// (namespace, name) still exists. Unlike kubectl, every warning is kept, not only the last.
pub fn judge(pod: &Pod, rules: &AllPods, daemon_set_exists: impl Fn(&str, &str) -> bool) -> Verdict {
    if terminating(pod) {
        return Ok((Action::Wait, None));
    }
    let done = finished(pod);
    let controller = controller_of(pod);
    if let Some(owner) = controller.filter(|o| o.kind == "DaemonSet")
        && !done
    {
        if !daemon_set_exists(&pod.namespace().unwrap_or_default(), &owner.name) {
            return match rules.force {
                true => Ok((Action::Evict, Some("deleting Pods whose DaemonSet is gone"))),
                false => Err("DaemonSet-managed Pods whose DaemonSet is gone (use --force to override)"),
            };
        }
        return match rules.ignore_daemonsets {
            true => Ok((Action::Skip, Some("ignoring DaemonSet-managed Pods"))),
            false => Err("DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"),
        };
    }
    if pod.annotations().contains_key(MIRROR_ANNOTATION) {
        return Ok((Action::Skip, Some("mirror Pods of static Pods (the kubelet's)")));
    }
    let mut warning = None;
    let empty_dir = pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()).any(|v| v.empty_dir.is_some());
    if empty_dir && !done {
        if !rules.delete_emptydir_data {
            return Err("Pods with local storage (use --delete-emptydir-data to override)");
        }
        warning = Some("deleting Pods with local storage");
    }
    if controller.is_none() && !done {
        if !rules.force {
            return Err("Pods that declare no controller (use --force to override)");
        }
        warning = Some(match warning {
            Some(_) => "deleting Pods with local storage that declare no controller",
            None => "deleting Pods that declare no controller",
        });
    }
    Ok((Action::Evict, warning))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub nodes: Vec<String>,
    pub min_available: MinAvailable,
    pub gates: Gates,
    pub soak_seconds: u64,
    /// `--all-pods`: the other pods by kubectl drain's rules; `None` leaves them to it.
    pub all_pods: Option<AllPods>,
    /// `--wait-for-return`: a member pinned to a node goes down with it and is waited for.
    pub wait_for_return: bool,
    pub flags: RunFlags,
}

/// What a drain writes on the first node it names while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Journal {
    pub started_at: Timestamp,
    pub nodes: Vec<String>,
    /// The members to move, in order, each with the uid read before.
    pub members: Vec<Target>,
    /// Members moved, soaked and gated (`namespace/pod`).
    #[serde(default)]
    pub done: Vec<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub min_available: MinAvailable,
    #[serde(default, skip_serializing_if = "Gates::is_default")]
    pub gates: Gates,
    #[serde(default)]
    pub soak_seconds: u64,
    /// `--all-pods` and its flags, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_pods: Option<AllPods>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wait_for_return: bool,
    /// `--wait-for-return`: the members pinned to the nodes, with the uids read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pinned: Vec<Target>,
    /// The pinned members were taken down: the nodes are in their maintenance, this run only
    /// waits (a resume cordons nothing again).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned_down: bool,
}

fn is_default(m: &MinAvailable) -> bool {
    *m == MinAvailable::default()
}

impl Journal {
    /// The journal on `node`, if any.
    ///
    /// # Errors
    /// [`Refusal::JournalUnreadable`] when the annotation holds no journal, with the `drain NODE
    /// --discard-journal` that removes it (with the run's `flags`).
    pub fn of(node: &Node, flags: &RunFlags) -> Result<Option<Journal>, Refusal> {
        match node.annotations().get(DRAIN_ANNOTATION) {
            None => Ok(None),
            Some(text) => serde_json::from_str(text).map(Some).map_err(|e| Refusal::JournalUnreadable {
                object: format!("node {}", node.name_any()),
                annotation: DRAIN_ANNOTATION,
                error: e.to_string(),
                // The node stays cordoned; the drain run after plans anew.
                discard: flags
                    .plugin_cluster(&format!("drain {} --discard-journal", shell_word(&node.name_any()))),
            }),
        }
    }

    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).expect("a journal always serializes")
    }
}

/// A pod on a drained node that is not a StatefulSet member: `kubectl drain`'s to handle, or
/// with `--all-pods` this run's, by its rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Other {
    pub namespace: String,
    pub pod: String,
    pub uid: String,
    pub node: String,
    /// Its controller's kind (`DaemonSet`, `ReplicaSet`…), `null` for a bare pod.
    pub owner: Option<String>,
    /// With `--all-pods`: what is done with it; `null` without (left to kubectl drain).
    pub action: Option<Action>,
    /// kubectl drain's warning about it (`deleting Pods that declare no controller`).
    pub warning: Option<&'static str>,
}

impl Other {
    /// `namespace/pod`.
    pub fn qualified(&self) -> String {
        format!("{}/{}", self.namespace, self.pod)
    }
}

/// A set with members on the drained nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetPlan {
    pub namespace: String,
    pub name: String,
    pub quorum: Quorum,
    /// Its members on the drained nodes.
    pub members: Vec<String>,
    /// Those of them pinned there (`--wait-for-return`): down with the nodes, back after.
    pub pinned: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub nodes: Vec<String>,
    pub sets: Vec<SetPlan>,
    /// The members to move, in order.
    pub members: Vec<Target>,
    /// `--wait-for-return`: the members pinned to the nodes, taken down with them once the
    /// others have moved, and waited for until they are back there.
    pub pinned: Vec<Target>,
    pub done: Vec<String>,
    /// Pods left to `kubectl drain`, or with `--all-pods` handled after the members.
    pub others: Vec<Other>,
    pub gates: Gates,
    pub soak_seconds: u64,
    /// `--all-pods` and its flags (from the journal when resumed).
    pub all_pods: Option<AllPods>,
    pub wait_for_return: bool,
    /// Resumed once the pinned members were down: only their return is waited for.
    pub pinned_down: bool,
    pub resumed: bool,
}

/// What the plan is judged on, as read.
pub struct Seen<'a> {
    /// Every node (to judge where a member can go).
    pub nodes: &'a [Node],
    /// The pods on the drained nodes.
    pub on_nodes: &'a [Pod],
    /// The StatefulSets of those pods, each with all its pods.
    pub sets: &'a [(StatefulSet, Vec<Pod>)],
    /// The budgets of their namespaces.
    pub budgets: &'a [PodDisruptionBudget],
    pub claims: &'a [PersistentVolumeClaim],
    pub volumes: &'a HashMap<&'a str, &'a PersistentVolume>,
    /// The DaemonSets (namespace, name) that own pods on the drained nodes and still exist.
    pub daemon_sets: &'a [(String, String)],
}

impl<'a> Seen<'a> {
    /// What a step of the run reads again while it waits: the nodes and the sets as they are
    /// now (the pods on the nodes, budgets, claims and DaemonSets were judged by the plan).
    pub fn of_sets(
        nodes: &'a [Node],
        sets: &'a [(StatefulSet, Vec<Pod>)],
        volumes: &'a HashMap<&'a str, &'a PersistentVolume>,
    ) -> Seen<'a> {
        Seen { nodes, on_nodes: &[], sets, budgets: &[], claims: &[], volumes, daemon_sets: &[] }
    }

    fn set_of(&self, pod: &Pod) -> Option<&(StatefulSet, Vec<Pod>)> {
        let owner = controller_of(pod).filter(|o| o.kind == "StatefulSet")?;
        self.sets
            .iter()
            .find(|(s, _)| s.namespace() == pod.namespace() && s.uid().as_deref() == Some(&owner.uid))
    }
}

/// The plan for `request` on what was `seen`, or for the journal of a run to resume.
///
/// # Errors
/// The [`Refusal`] that keeps the drain from starting.
pub fn plan(seen: &Seen, request: &Request, journal: Option<&Journal>) -> Result<Plan, Refusal> {
    let draining: Vec<&str> = request.nodes.iter().map(String::as_str).collect();
    for given in request.min_available.sets.keys() {
        let (namespace, name) = given.split_once('/').map_or((None, given.as_str()), |(n, s)| (Some(n), s));
        let known = seen.sets.iter().any(|(s, _)| {
            s.name_any() == name && namespace.is_none_or(|n| s.namespace().as_deref() == Some(n))
        });
        if !known {
            return Err(Refusal::MinAvailableUnknown {
                given: format!("{given}={}", request.min_available.sets[given]),
                nodes: request.nodes.join(", "),
            });
        }
    }
    let all_pods = journal.map_or(request.all_pods, |j| j.all_pods);
    let mut members = Vec::new();
    let mut others = Vec::new();
    let mut cannot: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for pod in seen.on_nodes {
        let node = node_name(pod).unwrap_or_default().to_owned();
        let member = seen.set_of(pod).filter(|_| !finished(pod));
        let Some((sts, pods)) = member else {
            // Finished pods hold nothing: kubectl drain removes them, and so does --all-pods.
            if finished(pod) && all_pods.is_none() {
                continue;
            }
            let (action, warning) = match all_pods.map(|rules| {
                judge(pod, &rules, |ns, name| seen.daemon_sets.iter().any(|(n, d)| n == ns && d == name))
            }) {
                None => (None, None),
                Some(Ok((action, warning))) => (Some(action), warning),
                Some(Err(why)) => {
                    cannot.entry(why).or_default().push(format!(
                        "{}/{}",
                        pod.namespace().unwrap_or_default(),
                        pod.name_any()
                    ));
                    continue;
                }
            };
            others.push(Other {
                namespace: pod.namespace().unwrap_or_default(),
                pod: pod.name_any(),
                uid: pod.uid().unwrap_or_default(),
                node,
                owner: controller_of(pod).map(|o| o.kind.clone()),
                action,
                warning,
            });
            continue;
        };
        let Some((ordinal, _)) = pods_of(sts, pods).into_iter().find(|(_, p)| p.uid() == pod.uid()) else {
            continue; // not a live member (an ordinal beyond replicas, going away)
        };
        members.push(Target {
            namespace: sts.namespace().unwrap_or_default(),
            stateful_set: sts.name_any(),
            ordinal,
            pod: pod.name_any(),
            uid: pod.uid().unwrap_or_default(),
            node: Some(node),
        });
    }
    // Set by set, highest ordinal first: the order the controller itself would take them.
    members.sort_by(|a, b| {
        (&a.namespace, &a.stateful_set, b.ordinal).cmp(&(&b.namespace, &b.stateful_set, a.ordinal))
    });
    others.sort_by(|a, b| (&a.namespace, &a.pod).cmp(&(&b.namespace, &b.pod)));
    if !cannot.is_empty() {
        let errors = cannot.into_iter().map(|(why, pods)| format!("{why}: {}", pods.join(", "))).collect();
        return Err(Refusal::OtherPods { errors });
    }
    let (mut members, done, request, mut pinned) = match journal {
        Some(j) => {
            let resumed = Request {
                min_available: j.min_available.clone(),
                gates: j.gates.clone(),
                soak_seconds: j.soak_seconds,
                wait_for_return: j.wait_for_return,
                ..request.clone()
            };
            (j.members.clone(), j.done.clone(), resumed, j.pinned.clone())
        }
        None => (members, Vec::new(), request.clone(), Vec::new()),
    };
    let mut sets: Vec<SetPlan> = Vec::new();
    let mut newly_pinned: Vec<String> = Vec::new();
    let judged: Vec<Target> =
        members.iter().chain(&pinned).filter(|t| !done.contains(&t.qualified())).cloned().collect();
    for target in &judged {
        let Some((sts, pods)) = seen.sets.iter().find(|(s, _)| {
            s.name_any() == target.stateful_set && s.namespace().as_deref() == Some(&target.namespace)
        }) else {
            continue;
        };
        let floor = request.min_available.of(&target.namespace, &target.stateful_set);
        let quorum = Quorum::of(replicas(sts), floor);
        if quorum.floor > quorum.members {
            return Err(Refusal::FloorAboveMembers {
                name: target.stateful_set.clone(),
                floor: quorum.floor,
                members: quorum.members,
            });
        }
        if quorum.tolerance() == 0 {
            let flag = format!("--min-available {}={}", target.stateful_set, quorum.members - 1);
            return Err(Refusal::NoneMayBeDown { name: target.stateful_set.clone(), quorum, flag });
        }
        let mut is_pinned = pinned.contains(target);
        if let Some(pod) = pods.iter().find(|p| p.uid().as_deref() == Some(&target.uid))
            && !is_pinned
            && let Some(why) = pinned_member(pod, seen.claims, seen.nodes, seen.volumes, &draining)
        {
            if !request.wait_for_return {
                return Err(Refusal::Pinned { pod: target.qualified(), why, draining: true });
            }
            newly_pinned.push(target.qualified());
            is_pinned = true;
        }
        let covers = covering(seen.budgets, sts, pods);
        let never = never_allowing(&covers, target.ordinal, replicas(sts));
        if !never.is_empty() {
            return Err(Refusal::BudgetNeverAllows {
                pod: target.qualified(),
                budgets: never,
                way_out: "change the budget first (kubectl drain would wait on it for ever too)".to_owned(),
            });
        }
        let set = match sets
            .iter_mut()
            .position(|s| s.name == target.stateful_set && s.namespace == target.namespace)
        {
            Some(i) => &mut sets[i],
            None => {
                sets.push(SetPlan {
                    namespace: target.namespace.clone(),
                    name: target.stateful_set.clone(),
                    quorum,
                    members: Vec::new(),
                    pinned: Vec::new(),
                });
                sets.last_mut().expect("pushed")
            }
        };
        set.members.push(target.pod.clone());
        if is_pinned {
            set.pinned.push(target.pod.clone());
        }
    }
    // Members pinned to the nodes go down with them, all at once: their set must keep its
    // quorum with every one of them down.
    if let Some(set) = sets.iter().find(|s| s.pinned.len() as i32 > s.quorum.tolerance()) {
        return Err(Refusal::PinnedBreakQuorum {
            name: format!("{}/{}", set.namespace, set.name),
            pinned: set.pinned.clone(),
            quorum: set.quorum,
            nodes: request.nodes.join(", "),
        });
    }
    pinned.extend(members.iter().filter(|t| newly_pinned.contains(&t.qualified())).cloned());
    members.retain(|t| !newly_pinned.contains(&t.qualified()));
    Ok(Plan {
        nodes: request.nodes.clone(),
        sets,
        members,
        pinned,
        done,
        others,
        gates: request.gates,
        soak_seconds: request.soak_seconds,
        all_pods,
        wait_for_return: request.wait_for_return,
        pinned_down: journal.is_some_and(|j| j.pinned_down),
        resumed: journal.is_some(),
    })
}

/// What the wait for the pinned members does next (`--wait-for-return`, once every member that
/// can move has moved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Return {
    /// Take these members (of one set) down now: the set keeps its quorum with all of them down.
    TakeDown(Vec<Target>),
    /// Not yet: the set would lose its quorum now (another member down).
    Held {
        target: Target,
        hold: Hold,
    },
    /// Every pinned member is down: the node's maintenance, then its return.
    Wait {
        target: Target,
        why: String,
    },
    /// Back, Ready on its node again (a new uid): soak, gates, done.
    Back {
        target: Target,
        uid: String,
        node: String,
    },
    /// Came back Ready on another node than the one its volume was pinned to.
    Elsewhere {
        target: Target,
        node: String,
    },
    /// The node it is pinned to is gone.
    NodeGone {
        target: Target,
        node: String,
    },
    Finished,
}

/// The next step for the pinned members of `plan`: first down together, set by set, each set
/// only while it keeps its quorum with all of its pinned members down and no other member down;
/// then each followed by its uid until it is Ready again on its node and that node takes pods
/// again (uncordoned).
pub fn next_return(plan: &Plan, done: &[String], seen: &Seen, now: Timestamp) -> Return {
    let pending: Vec<&Target> = plan.pinned.iter().filter(|t| !done.contains(&t.qualified())).collect();
    if pending.is_empty() {
        return Return::Finished;
    }
    let find = |t: &Target| {
        seen.sets.iter().find(|(s, _)| {
            s.name_any() == t.stateful_set && s.namespace().as_deref() == Some(t.namespace.as_str())
        })
    };
    // Still up (the uid read, not being deleted): down together with the rest of its set's.
    for target in &pending {
        let Some((sts, pods)) = find(target) else { continue };
        let up = pods.iter().any(|p| p.uid().as_deref() == Some(target.uid.as_str()) && !terminating(p));
        if !up {
            continue;
        }
        let group: Vec<&Target> = pending
            .iter()
            .copied()
            .filter(|t| t.namespace == target.namespace && t.stateful_set == target.stateful_set)
            .collect();
        let quorum = plan
            .sets
            .iter()
            .find(|s| s.name == target.stateful_set && s.namespace == target.namespace)
            .map_or_else(|| Quorum::of(replicas(sts), None), |s| s.quorum);
        let live = members(sts, pods, Some(seen.nodes));
        let ordinals: Vec<i32> = group.iter().map(|t| t.ordinal).collect();
        if let Err(hold) = may_take_down_together(&live, &ordinals, quorum) {
            return Return::Held { target: (*target).clone(), hold };
        }
        let still_up = group
            .into_iter()
            .filter(|t| pods.iter().any(|p| p.uid().as_deref() == Some(t.uid.as_str()) && !terminating(p)))
            .cloned()
            .collect();
        return Return::TakeDown(still_up);
    }
    let mut waiting: Option<Return> = None;
    for target in pending {
        let node = target.node.clone().unwrap_or_default();
        let Some(on) = seen.nodes.iter().find(|n| n.name_any() == node) else {
            return Return::NodeGone { target: target.clone(), node };
        };
        let Some((sts, pods)) = find(target) else { continue };
        let live = members(sts, pods, Some(seen.nodes));
        let pod = live.iter().find(|m| m.ordinal == target.ordinal).and_then(|m| m.pod);
        let why = match progress(target, sts, pod, Some(seen.nodes), &[], now) {
            Progress::Replaced { node: back_on, .. } | Progress::Misplaced { node: back_on, .. }
                if back_on != node =>
            {
                return Return::Elsewhere { target: target.clone(), node: back_on };
            }
            Progress::Replaced { .. } | Progress::Misplaced { .. } if cordoned(on) => {
                format!("{} is Ready, but node {node} is still cordoned", target.pod)
            }
            Progress::Replaced { uid, .. } | Progress::Misplaced { uid, .. } => {
                return Return::Back { target: target.clone(), uid, node };
            }
            Progress::Replacing(why) if cordoned(on) => format!("node {node} is cordoned ({why})"),
            Progress::Replacing(why) => why,
            Progress::Pending => format!("{} is still up", target.pod),
        };
        waiting.get_or_insert(Return::Wait { target: target.clone(), why });
    }
    waiting.unwrap_or(Return::Finished)
}

impl Return {
    /// What the wait for the pinned members says while it lasts (`--wait-for-return`): `shop/web-1
    /// back on node-a: node node-a is cordoned (web-1 has no pod yet)`, of the pods as seen now
    /// (of every namespace); `None` for a step that is no wait.
    pub fn words(&self, pods: &[Pod]) -> Option<WaitWords> {
        match self {
            Return::TakeDown(targets) => Some(WaitWords {
                what: format!(
                    "{} to go down",
                    targets.iter().map(Target::qualified).collect::<Vec<_>>().join(", ")
                ),
                state: targets
                    .iter()
                    .map(|t| pod_state(Some(&t.namespace), &t.pod, Some(&t.uid), pods))
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
            Return::Wait { target, why } => Some(WaitWords {
                what: format!(
                    "{} back on {}",
                    target.qualified(),
                    target.node.as_deref().unwrap_or("its node")
                ),
                state: why.clone(),
            }),
            Return::Held { target, hold } => {
                Some(Waiting::Quorum { target: target.clone(), hold: hold.clone() }.words(pods))
            }
            _ => None,
        }
    }
}

/// What the run does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    TakeDown(Target),
    /// The replacement is up on another node: soak, gates, then done.
    Verify {
        target: Target,
        uid: String,
        node: String,
    },
    /// The replacement came up on a node being drained: it would be moved again and again.
    Misplaced {
        target: Target,
        node: String,
    },
    Wait(Waiting),
    Finished,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waiting {
    Replacing {
        target: Target,
        why: String,
    },
    /// No member may go now: each set with members left would lose its quorum (the first).
    Quorum {
        target: Target,
        hold: Hold,
    },
}

impl Waiting {
    pub fn describe(&self) -> String {
        match self {
            Waiting::Replacing { why, .. } => why.clone(),
            Waiting::Quorum { target, hold } => {
                format!("{} waits, its set would lose its quorum: {}", target.qualified(), hold.describe())
            }
        }
    }

    /// What the wait says while it lasts, of the pods as seen now (of every namespace): `the
    /// replacement of shop/web-1: Pending on node-2`.
    pub fn words(&self, pods: &[Pod]) -> WaitWords {
        match self {
            Waiting::Replacing { target, .. } => WaitWords {
                what: format!("the replacement of {}", target.qualified()),
                state: pod_state(Some(&target.namespace), &target.pod, Some(&target.uid), pods),
            },
            Waiting::Quorum { target, hold } => WaitWords {
                what: format!(
                    "the other members of {}/{} before {} goes down",
                    target.namespace, target.stateful_set, target.pod
                ),
                state: hold.describe(),
            },
        }
    }
}

/// The next move: one member in flight at a time (a member taken down is followed to its
/// replacement before anything else moves); the first member whose set keeps its quorum goes.
pub fn next(plan: &Plan, done: &[String], seen: &Seen, now: Timestamp) -> Next {
    let mut held: Option<Waiting> = None;
    let mut candidate: Option<Target> = None;
    for target in plan.members.iter().filter(|t| !done.contains(&t.qualified())) {
        let Some((sts, pods)) = seen.sets.iter().find(|(s, _)| {
            s.name_any() == target.stateful_set && s.namespace().as_deref() == Some(&target.namespace)
        }) else {
            continue; // the set is gone: nothing of it to move
        };
        let live = members(sts, pods, Some(seen.nodes));
        let pod = live.iter().find(|m| m.ordinal == target.ordinal).and_then(|m| m.pod);
        match progress(target, sts, pod, Some(seen.nodes), &plan.nodes, now) {
            Progress::Replacing(why) => {
                return Next::Wait(Waiting::Replacing { target: target.clone(), why });
            }
            Progress::Replaced { uid, node } => return Next::Verify { target: target.clone(), uid, node },
            Progress::Misplaced { node, .. } => return Next::Misplaced { target: target.clone(), node },
            Progress::Pending if candidate.is_none() => {
                let floor = plan
                    .sets
                    .iter()
                    .find(|s| s.name == target.stateful_set && s.namespace == target.namespace)
                    .map_or_else(|| Quorum::of(replicas(sts), None), |s| s.quorum);
                match may_take_down(&live, target.ordinal, floor) {
                    Ok(()) => candidate = Some(target.clone()),
                    Err(hold) => {
                        held.get_or_insert(Waiting::Quorum { target: target.clone(), hold });
                    }
                }
            }
            Progress::Pending => {}
        }
    }
    match (candidate, held) {
        (Some(target), _) => Next::TakeDown(target),
        (None, Some(waiting)) => Next::Wait(waiting),
        (None, None) => Next::Finished,
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{
        NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, VolumeNodeAffinity,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use serde_json::json;

    use super::*;
    use crate::core::budgets::pdb;
    use crate::core::fixtures::{created, node, pod, pv, pvc, sts};

    /// An unreadable drain journal names its way out: the `drain NODE --discard-journal` that
    /// removes it.
    #[test]
    fn an_unreadable_journal_names_the_discard_that_removes_it() {
        let mut n = node("node-a", "True");
        n.metadata.annotations = Some([(DRAIN_ANNOTATION.to_owned(), "{".to_owned())].into());
        let refused = Journal::of(&n, &RunFlags::default()).unwrap_err().to_string();
        assert!(refused.starts_with("annotation kubectl-stateful.dev/drain on node node-a is not a journal"));
        assert!(
            refused.ends_with(
                "nothing was changed: `kubectl stateful drain node-a --discard-journal` removes it"
            ),
            "{refused}"
        );
    }

    fn request(nodes: &[&str]) -> Request {
        Request {
            nodes: nodes.iter().map(|n| (*n).to_owned()).collect(),
            min_available: MinAvailable::default(),
            gates: Gates::default(),
            soak_seconds: 0,
            all_pods: None,
            wait_for_return: false,
            flags: RunFlags::default(),
        }
    }

    fn on(p: Pod, node: &str) -> Pod {
        let mut p = p;
        p.spec.as_mut().unwrap().node_name = Some(node.to_owned());
        p
    }

    fn renewed(p: Pod, node: &str) -> Pod {
        let mut p = on(p, node);
        p.metadata.uid = Some(format!("new-{}", p.name_any()));
        p
    }

    /// Two sets with one member each on node-a (and a Deployment's pod): both moved, one at a
    /// time; the Deployment's pod is left to kubectl drain.
    #[test]
    fn members_move_one_at_a_time_and_other_pods_are_left_to_kubectl_drain() {
        let web = sts("web", 3).build();
        let mut db = sts("db", 3).build();
        db.metadata.uid = Some("uid-db".into());
        let db_pod = |o: i32| {
            let mut p = pod(&db, o).build();
            p.metadata.owner_references.as_mut().unwrap()[0].uid = "uid-db".into();
            p.metadata.uid = Some(format!("uid-db-{o}"));
            p.metadata.labels.as_mut().unwrap().insert("app".into(), "db".into());
            p
        };
        let mut web_pods: Vec<Pod> = vec![
            on(pod(&web, 0).build(), "node-b"),
            on(pod(&web, 1).build(), "node-a"),
            on(pod(&web, 2).build(), "node-c"),
        ];
        let mut db_pods: Vec<Pod> =
            vec![on(db_pod(0), "node-a"), on(db_pod(1), "node-b"), on(db_pod(2), "node-c")];
        let mut deployment = crate::core::fixtures::bare_pod("api-7c9f").node("node-a").build();
        deployment.metadata.owner_references =
            Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                kind: "ReplicaSet".into(),
                name: "api-7c9f".into(),
                controller: Some(true),
                ..Default::default()
            }]);
        let nodes = vec![node("node-a", "True"), node("node-b", "True"), node("node-c", "True")];
        let volumes = HashMap::new();
        let state = |web_pods: &[Pod], db_pods: &[Pod]| {
            vec![(web.clone(), web_pods.to_vec()), (db.clone(), db_pods.to_vec())]
        };
        let sets = state(&web_pods, &db_pods);
        let on_a = vec![db_pods[0].clone(), web_pods[1].clone(), deployment];
        let seen = Seen {
            nodes: &nodes,
            on_nodes: &on_a,
            sets: &sets,
            budgets: &[],
            claims: &[],
            volumes: &volumes,
            daemon_sets: &[],
        };
        let plan = plan(&seen, &request(&["node-a"]), None).unwrap();
        assert_eq!(
            plan.members.iter().map(Target::qualified).collect::<Vec<_>>(),
            ["default/db-0", "default/web-1"]
        );
        assert_eq!(
            plan.others.iter().map(|o| (o.pod.as_str(), o.owner.as_deref())).collect::<Vec<_>>(),
            [("api-7c9f", Some("ReplicaSet"))]
        );
        assert_eq!(plan.sets.iter().map(|s| s.quorum.floor).collect::<Vec<_>>(), [2, 2]);
        let step = |web_pods: &[Pod], db_pods: &[Pod], done: &[&str]| {
            let sets = state(web_pods, db_pods);
            let seen = Seen {
                nodes: &nodes,
                on_nodes: &[],
                sets: &sets,
                budgets: &[],
                claims: &[],
                volumes: &volumes,
                daemon_sets: &[],
            };
            let done: Vec<String> = done.iter().map(|d| (*d).to_owned()).collect();
            match next(&plan, &done, &seen, created()) {
                Next::TakeDown(t) => format!("take down {}", t.pod),
                Next::Verify { target, node, .. } => format!("verify {} on {node}", target.pod),
                Next::Misplaced { target, node } => format!("{} came back on {node}", target.pod),
                Next::Wait(w) => format!("wait: {}", w.describe()),
                Next::Finished => "finished".into(),
            }
        };
        assert_eq!(step(&web_pods, &db_pods, &[]), "take down db-0");
        db_pods[0] = on(db_pod(0), "node-a");
        db_pods[0].metadata.deletion_timestamp = web_pods[0].metadata.creation_timestamp.clone();
        assert_eq!(
            step(&web_pods, &db_pods, &[]),
            "wait: db-0 is being deleted",
            "no second member while one is down"
        );
        db_pods[0] = renewed(db_pod(0), "node-b");
        assert_eq!(
            step(&web_pods, &db_pods, &[]),
            "verify db-0 on node-b",
            "kubernetes#138229: same name, new uid"
        );
        assert_eq!(step(&web_pods, &db_pods, &["default/db-0"]), "take down web-1");
        web_pods[0] = on(pod(&web, 0).ready(false).build(), "node-b");
        assert_eq!(
            step(&web_pods, &db_pods, &["default/db-0"]),
            "wait: default/web-1 waits, its set would lose its quorum: web-0 is not Ready"
        );
        web_pods[0] = on(pod(&web, 0).build(), "node-b");
        web_pods[1] = renewed(pod(&web, 1).build(), "node-a");
        assert_eq!(step(&web_pods, &db_pods, &["default/db-0"]), "web-1 came back on node-a");
        web_pods[1] = renewed(pod(&web, 1).build(), "node-c");
        assert_eq!(step(&web_pods, &db_pods, &["default/db-0", "default/web-1"]), "finished");
    }

    /// Refused before the cordon: each with its words.
    #[test]
    fn a_drain_that_cannot_finish_is_refused_before_the_cordon() {
        let web = sts("web", 3).templates(&["data"]).build();
        let pods: Vec<Pod> = vec![
            on(pod(&web, 0).build(), "node-a"),
            on(pod(&web, 1).build(), "node-b"),
            on(pod(&web, 2).build(), "node-c"),
        ];
        let nodes = vec![node("node-a", "True"), node("node-b", "True"), node("node-c", "True")];
        let sets = vec![(web.clone(), pods.clone())];
        let on_a = vec![pods[0].clone()];
        let claims = vec![pvc("data-web-0").of(&web).build()];
        let mut pinned = pv("data-web-0", "Retain");
        pinned.spec.as_mut().unwrap().node_affinity = Some(VolumeNodeAffinity {
            required: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_fields: Some(vec![NodeSelectorRequirement {
                        key: "metadata.name".into(),
                        operator: "In".into(),
                        values: Some(vec!["node-a".into()]),
                    }]),
                    match_expressions: None,
                }],
            }),
        });
        let none = HashMap::new();
        let pinned_volumes: HashMap<&str, &PersistentVolume> = HashMap::from([("pv-data-web-0", &pinned)]);
        let zero = [pdb(
            "web-zero",
            json!({"selector": {"matchLabels": {"app": "web"}}, "maxUnavailable": 0}),
            Some(
                json!({"observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 3, "desiredHealthy": 3, "expectedPods": 3}),
            ),
        )];
        let seen = |budgets: &'static [PodDisruptionBudget], volumes| Seen {
            nodes: &nodes,
            on_nodes: &on_a,
            sets: &sets,
            budgets,
            claims: &claims,
            volumes,
            daemon_sets: &[],
        };
        let zero: &'static [PodDisruptionBudget] = Box::leak(Box::new(zero));
        let mut strict = request(&["node-a"]);
        strict.min_available.add("web=3").unwrap();
        let mut unknown = request(&["node-a"]);
        unknown.min_available.add("api=1").unwrap();
        let mut above = request(&["node-a"]);
        above.min_available.add("4").unwrap();
        let cases: Vec<(&str, Seen, Request, &str)> = vec![
            (
                "pinned",
                seen(&[], &pinned_volumes),
                request(&["node-a"]),
                "refusing to drain: default/web-0 cannot start anywhere else, its volume pv-data-web-0 (PVC data-web-0) \
                 is pinned to node-a, which is being drained; wait for the node to come back rather than draining it \
                 (its member stays where its data is), take it down with the node and wait for it to come back there \
                 (--wait-for-return), or uncordon a node its volume allows; nothing was changed",
            ),
            (
                "budget 0",
                seen(zero, &none),
                request(&["node-a"]),
                "refusing to evict default/web-0: PodDisruptionBudget web-zero (maxUnavailable 0) allows no \
                 disruption of its 3 pods (3 healthy, 3 needed, 0 allowed now); change the budget first (kubectl \
                 drain would wait on it for ever too); nothing was changed",
            ),
            (
                "floor of all",
                seen(&[], &none),
                strict,
                "web must keep 3 of 3 up (--min-available 3): no member may go down; pass --min-available web=2 to \
                 accept one down; nothing was changed",
            ),
            (
                "unknown set",
                seen(&[], &none),
                unknown,
                "--min-available api=1 names no StatefulSet with pods on node-a",
            ),
            ("above", seen(&[], &none), above, "--min-available 4 for web is more than its 3 members"),
        ];
        for (case, seen, req, expected) in cases {
            assert_eq!(plan(&seen, &req, None).unwrap_err().to_string(), expected, "{case}");
        }
        assert!(plan(&seen(&[], &none), &request(&["node-a"]), None).is_ok());
    }

    fn owned(
        kind: &str,
        name: &str,
    ) -> Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>> {
        Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            kind: kind.into(),
            name: name.into(),
            controller: Some(true),
            ..Default::default()
        }])
    }

    /// The other pods of a node, judged as kubectl drain's filters.go judges them, flag by flag.
    #[test]
    fn other_pods_are_judged_by_kubectl_drains_filters() {
        use crate::core::fixtures::bare_pod;
        use k8s_openapi::api::core::v1::{EmptyDirVolumeSource, Volume};
        let with = |owner: Option<(&str, &str)>, edit: &dyn Fn(&mut Pod)| {
            let mut p = bare_pod("p").node("node-a").build();
            p.metadata.owner_references = owner.and_then(|(k, n)| owned(k, n));
            edit(&mut p);
            p
        };
        let nothing = |_: &mut Pod| {};
        let phase = |phase: &'static str| {
            move |p: &mut Pod| p.status.as_mut().unwrap().phase = Some(phase.to_owned())
        };
        let empty_dir = |p: &mut Pod| {
            p.spec.as_mut().unwrap().volumes = Some(vec![Volume {
                name: "scratch".into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            }]);
        };
        let mirror = |p: &mut Pod| {
            p.metadata.annotations = Some([(MIRROR_ANNOTATION.to_owned(), "h".to_owned())].into());
        };
        let deleting = |p: &mut Pod| p.metadata.deletion_timestamp = Some(Time(created()));
        let none = AllPods::default();
        let force = AllPods { force: true, ..none };
        let ignore = AllPods { ignore_daemonsets: true, ..none };
        let emptydir = AllPods { delete_emptydir_data: true, ..none };
        let replica_set = Some(("ReplicaSet", "api-7c9f"));
        let daemon_set = Some(("DaemonSet", "agent"));
        let gone_set = Some(("DaemonSet", "gone"));
        let cases: Vec<(&str, Pod, AllPods, Verdict)> = vec![
            ("a ReplicaSet's pod", with(replica_set, &nothing), none, Ok((Action::Evict, None))),
            (
                "a bare pod",
                with(None, &nothing),
                none,
                Err("Pods that declare no controller (use --force to override)"),
            ),
            (
                "a bare pod, --force",
                with(None, &nothing),
                force,
                Ok((Action::Evict, Some("deleting Pods that declare no controller"))),
            ),
            (
                "a DaemonSet's pod",
                with(daemon_set, &nothing),
                none,
                Err("DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"),
            ),
            (
                "a DaemonSet's pod, --ignore-daemonsets",
                with(daemon_set, &nothing),
                ignore,
                Ok((Action::Skip, Some("ignoring DaemonSet-managed Pods"))),
            ),
            (
                "a DaemonSet's pod, --force is not enough",
                with(daemon_set, &nothing),
                force,
                Err("DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"),
            ),
            (
                "an orphan of a DaemonSet gone",
                with(gone_set, &nothing),
                ignore,
                Err("DaemonSet-managed Pods whose DaemonSet is gone (use --force to override)"),
            ),
            (
                "an orphan of a DaemonSet gone, --force",
                with(gone_set, &nothing),
                force,
                Ok((Action::Evict, Some("deleting Pods whose DaemonSet is gone"))),
            ),
            (
                "a finished DaemonSet pod",
                with(daemon_set, &phase("Succeeded")),
                none,
                Ok((Action::Evict, None)),
            ),
            (
                "a mirror pod",
                with(None, &mirror),
                none,
                Ok((Action::Skip, Some("mirror Pods of static Pods (the kubelet's)"))),
            ),
            (
                "an emptyDir",
                with(replica_set, &empty_dir),
                none,
                Err("Pods with local storage (use --delete-emptydir-data to override)"),
            ),
            (
                "an emptyDir, --delete-emptydir-data",
                with(replica_set, &empty_dir),
                emptydir,
                Ok((Action::Evict, Some("deleting Pods with local storage"))),
            ),
            (
                "a bare pod with an emptyDir, --delete-emptydir-data",
                with(None, &empty_dir),
                emptydir,
                Err("Pods that declare no controller (use --force to override)"),
            ),
            (
                "a bare pod with an emptyDir, both flags",
                with(None, &empty_dir),
                AllPods { force: true, delete_emptydir_data: true, ..none },
                Ok((Action::Evict, Some("deleting Pods with local storage that declare no controller"))),
            ),
            (
                "a failed bare pod with an emptyDir",
                with(None, &|p| {
                    empty_dir(p);
                    phase("Failed")(p)
                }),
                none,
                Ok((Action::Evict, None)),
            ),
            ("a bare pod being deleted", with(None, &deleting), none, Ok((Action::Wait, None))),
        ];
        for (case, pod, rules, expected) in cases {
            assert_eq!(
                judge(&pod, &rules, |ns, name| ns == "default" && name == "agent"),
                expected,
                "{case}"
            );
        }
    }

    /// `--all-pods`: the others planned with their fate; what cannot be evicted refuses the
    /// drain before the cordon, every such pod named under kubectl's words.
    #[test]
    fn all_pods_plans_the_others_or_refuses_before_the_cordon() {
        use crate::core::fixtures::bare_pod;
        let web = sts("web", 3).build();
        let pods: Vec<Pod> =
            (0..3).map(|o| on(pod(&web, o).build(), ["node-a", "node-b", "node-c"][o as usize])).collect();
        let other = |name: &str, owner: Option<(&str, &str)>| {
            let mut p = bare_pod(name).node("node-a").uid(&format!("uid-{name}")).build();
            p.metadata.owner_references = owner.and_then(|(k, n)| owned(k, n));
            p
        };
        let mut finished_bare = other("job-done", None);
        finished_bare.status.as_mut().unwrap().phase = Some("Succeeded".into());
        let on_a = vec![
            pods[0].clone(),
            other("api-1", Some(("ReplicaSet", "api"))),
            other("agent-x", Some(("DaemonSet", "agent"))),
            other("bare", None),
            other("tmp", None),
            finished_bare,
        ];
        let nodes = vec![node("node-a", "True"), node("node-b", "True"), node("node-c", "True")];
        let sets = vec![(web.clone(), pods.clone())];
        let volumes = HashMap::new();
        let daemon_sets = [("default".to_owned(), "agent".to_owned())];
        let seen = Seen {
            nodes: &nodes,
            on_nodes: &on_a,
            sets: &sets,
            budgets: &[],
            claims: &[],
            volumes: &volumes,
            daemon_sets: &daemon_sets,
        };
        let mut all = request(&["node-a"]);
        all.all_pods = Some(AllPods::default());
        assert_eq!(
            plan(&seen, &all, None).unwrap_err().to_string(),
            "refusing to drain: cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): \
             default/agent-x; cannot delete Pods that declare no controller (use --force to override): default/bare, \
             default/tmp; nothing was changed"
        );
        all.all_pods = Some(AllPods { force: true, ignore_daemonsets: true, ..AllPods::default() });
        let planned = plan(&seen, &all, None).unwrap();
        assert_eq!(planned.members.iter().map(Target::qualified).collect::<Vec<_>>(), ["default/web-0"]);
        assert_eq!(
            planned.others.iter().map(|o| (o.pod.as_str(), o.action, o.warning)).collect::<Vec<_>>(),
            [
                ("agent-x", Some(Action::Skip), Some("ignoring DaemonSet-managed Pods")),
                ("api-1", Some(Action::Evict), None),
                ("bare", Some(Action::Evict), Some("deleting Pods that declare no controller")),
                ("job-done", Some(Action::Evict), None),
                ("tmp", Some(Action::Evict), Some("deleting Pods that declare no controller")),
            ]
        );
        // Without --all-pods, as before: left to kubectl drain, the finished pod not even named.
        let left = plan(&seen, &request(&["node-a"]), None).unwrap();
        assert_eq!(
            left.others.iter().map(|o| (o.pod.as_str(), o.action)).collect::<Vec<_>>(),
            [("agent-x", None), ("api-1", None), ("bare", None), ("tmp", None)]
        );
        // Resumed: the journal's rules, whatever the flags of the run that resumes.
        let journal = Journal {
            started_at: created(),
            nodes: vec!["node-a".into()],
            members: planned.members.clone(),
            done: vec!["default/web-0".into()],
            min_available: MinAvailable::default(),
            gates: Gates::default(),
            soak_seconds: 0,
            all_pods: all.all_pods,
            wait_for_return: false,
            pinned: vec![],
            pinned_down: false,
        };
        let resumed = plan(&seen, &request(&["node-a"]), Some(&journal)).unwrap();
        assert_eq!(resumed.all_pods, all.all_pods);
        assert_eq!(resumed.others, planned.others);
    }

    fn pinned_to(claim: &str, node: &str) -> PersistentVolume {
        let mut volume = pv(claim, "Retain");
        volume.spec.as_mut().unwrap().node_affinity = Some(VolumeNodeAffinity {
            required: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_fields: Some(vec![NodeSelectorRequirement {
                        key: "metadata.name".into(),
                        operator: "In".into(),
                        values: Some(vec![node.into()]),
                    }]),
                    match_expressions: None,
                }],
            }),
        });
        volume
    }

    /// `--wait-for-return`: a member pinned to the drained node is planned apart, taken down
    /// with it once its set holds, then followed by its uid until it is Ready on that node again
    /// and the node takes pods; back elsewhere, or the node gone, is said as such. Two pinned
    /// members of one set of 3 would break its quorum together: refused before the cordon.
    #[test]
    fn a_pinned_member_goes_down_with_its_node_and_is_waited_for_until_back_there() {
        let web = sts("web", 3).templates(&["data"]).build();
        let mut pods: Vec<Pod> = vec![
            on(pod(&web, 0).build(), "node-a"),
            on(pod(&web, 1).build(), "node-b"),
            on(pod(&web, 2).build(), "node-c"),
        ];
        let mut nodes = vec![node("node-a", "True"), node("node-b", "True"), node("node-c", "True")];
        let claims: Vec<PersistentVolumeClaim> =
            (0..3).map(|o| pvc(&format!("data-web-{o}")).of(&web).build()).collect();
        let local = [pinned_to("data-web-0", "node-a"), pinned_to("data-web-1", "node-a")];
        let volumes: HashMap<&str, &PersistentVolume> = HashMap::from([("pv-data-web-0", &local[0])]);
        let on_a = vec![pods[0].clone()];
        let sets = vec![(web.clone(), pods.clone())];
        let seen = Seen {
            nodes: &nodes,
            on_nodes: &on_a,
            sets: &sets,
            budgets: &[],
            claims: &claims,
            volumes: &volumes,
            daemon_sets: &[],
        };
        let mut wait = request(&["node-a"]);
        wait.wait_for_return = true;
        let plan = plan(&seen, &wait, None).unwrap();
        assert!(plan.members.is_empty());
        assert_eq!(plan.pinned.iter().map(Target::qualified).collect::<Vec<_>>(), ["default/web-0"]);
        assert_eq!(plan.sets[0].pinned, ["web-0"]);
        let step = |pods: &[Pod], nodes: &[Node], done: &[&str]| {
            let sets = vec![(web.clone(), pods.to_vec())];
            let seen = Seen {
                nodes,
                on_nodes: &[],
                sets: &sets,
                budgets: &[],
                claims: &[],
                volumes: &volumes,
                daemon_sets: &[],
            };
            let done: Vec<String> = done.iter().map(|d| (*d).to_owned()).collect();
            match next_return(&plan, &done, &seen, created()) {
                Return::TakeDown(t) => {
                    format!("take down {}", t.iter().map(|t| t.pod.as_str()).collect::<Vec<_>>().join(", "))
                }
                Return::Held { target, hold } => format!("{} held: {}", target.pod, hold.describe()),
                Return::Wait { why, .. } => format!("wait: {why}"),
                Return::Back { target, node, .. } => format!("{} back on {node}", target.pod),
                Return::Elsewhere { target, node } => format!("{} elsewhere, on {node}", target.pod),
                Return::NodeGone { target, node } => format!("{}: {node} gone", target.pod),
                Return::Finished => "finished".into(),
            }
        };
        pods[1] = on(pod(&web, 1).ready(false).build(), "node-b");
        assert_eq!(step(&pods, &nodes, &[]), "web-0 held: web-1 is not Ready", "one down at a time");
        pods[1] = on(pod(&web, 1).build(), "node-b");
        assert_eq!(step(&pods, &nodes, &[]), "take down web-0");
        nodes[0].spec.get_or_insert_default().unschedulable = Some(true);
        pods[0] = on(pod(&web, 0).terminating().build(), "node-a");
        assert_eq!(step(&pods, &nodes, &[]), "wait: node node-a is cordoned (web-0 is being deleted)");
        pods[0] = renewed(pod(&web, 0).unscheduled().build(), "node-a");
        pods[0].spec.as_mut().unwrap().node_name = None;
        assert_eq!(
            step(&pods, &nodes, &[]),
            "wait: node node-a is cordoned (its replacement: web-0 is not scheduled)"
        );
        pods[0] = renewed(pod(&web, 0).build(), "node-a");
        assert_eq!(step(&pods, &nodes, &[]), "wait: web-0 is Ready, but node node-a is still cordoned");
        nodes[0].spec.as_mut().unwrap().unschedulable = None;
        assert_eq!(step(&pods, &nodes, &[]), "web-0 back on node-a");
        assert_eq!(step(&pods, &nodes, &["default/web-0"]), "finished");
        pods[0] = renewed(pod(&web, 0).build(), "node-b");
        assert_eq!(step(&pods, &nodes, &[]), "web-0 elsewhere, on node-b");
        assert_eq!(step(&pods, &nodes[1..], &[]), "web-0: node-a gone");

        // Two of a set of 3 pinned to the node: down together they break its majority.
        let mut both = pods.clone();
        both[0] = on(pod(&web, 0).build(), "node-a");
        both[1] = on(pod(&web, 1).build(), "node-a");
        let sets = vec![(web.clone(), both.clone())];
        let on_a = vec![both[0].clone(), both[1].clone()];
        let volumes: HashMap<&str, &PersistentVolume> =
            HashMap::from([("pv-data-web-0", &local[0]), ("pv-data-web-1", &local[1])]);
        let seen = Seen {
            nodes: &nodes,
            on_nodes: &on_a,
            sets: &sets,
            budgets: &[],
            claims: &claims,
            volumes: &volumes,
            daemon_sets: &[],
        };
        assert_eq!(
            super::plan(&seen, &wait, None).unwrap_err().to_string(),
            "refusing to drain: web-1, web-0 of default/web are pinned to node-a and would go down together with it, \
             but default/web must keep 2 of 3 up (its majority); drain those nodes one at a time, or accept it with \
             --min-available; nothing was changed"
        );
        wait.min_available.add("web=1").unwrap();
        assert_eq!(super::plan(&seen, &wait, None).unwrap().pinned.len(), 2);
    }

    #[test]
    fn min_available_is_per_set_or_for_all() {
        let mut m = MinAvailable::default();
        for ok in ["2", "web=3", "shop/web=1"] {
            m.add(ok).unwrap();
        }
        assert_eq!(
            (m.of("shop", "web"), m.of("db", "web"), m.of("db", "kafka")),
            (Some(1), Some(3), Some(2))
        );
        for bad in ["-1", "=2", "web=x", "x"] {
            assert!(MinAvailable::default().add(bad).is_err(), "{bad}");
        }
        let journal = Journal {
            started_at: created(),
            nodes: vec!["node-a".into()],
            members: vec![],
            done: vec![],
            min_available: m,
            gates: Gates::default(),
            soak_seconds: 5,
            all_pods: Some(AllPods { force: true, grace_period_seconds: Some(10), ..AllPods::default() }),
            wait_for_return: true,
            pinned: vec![],
            pinned_down: true,
        };
        assert_eq!(serde_json::from_str::<Journal>(&journal.to_annotation()).unwrap(), journal);
    }
}
