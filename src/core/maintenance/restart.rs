//! `restart NAME [ORDINAL…]`: exactly the chosen members, one at a time, each taken down only
//! while the set keeps its quorum, and the next only once the replacement is Ready (followed by
//! its uid), has soaked and passed its gates. Unlike `kubectl rollout restart`, which changes the
//! pod template and so restarts only ordinals at or above the partition (and nothing under
//! OnDelete), this replaces the pods themselves: it works below a partition and under OnDelete,
//! and members not chosen keep their uids.
//!
//! The plan is journaled on the StatefulSet ([`RESTART_ANNOTATION`]): the members in order with
//! the uid each had, and those that passed. A later run resumes from it: a member whose pod has
//! another uid was restarted already.

use std::collections::HashMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde::{Deserialize, Serialize};

use super::quorum::{Hold, Member, Quorum, may_take_down, members};
use super::replace::{Progress, Target, never_allowing, progress};
use super::{MaintenanceRefusal as Refusal, Method, WaitWords, pinned_member, pod_state};
use crate::core::advice::{RunFlags, shell_word};
use crate::core::budgets::covering;
use crate::core::objects::{ordinal_range, replicas};
use crate::core::rollout::gates::Gates;

/// The annotation that holds a restart's journal (schema in docs/restart.md).
pub const RESTART_ANNOTATION: &str = "kubectl-stateful.dev/restart";

/// In which order the chosen members go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "camelCase")]
pub enum Order {
    /// Highest ordinal first, as the controller rolls.
    #[default]
    HighestFirst,
    LowestFirst,
    /// As the ordinals were given.
    AsGiven,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The ordinals to restart; empty: every member.
    pub ordinals: Vec<i32>,
    pub order: Order,
    pub method: Method,
    /// `--min-available`: the members that must stay up; `None`: the majority.
    pub min_available: Option<i32>,
    pub gates: Gates,
    /// `--soak`: how long each replacement must stay Ready (no container restart) before the
    /// next member goes.
    pub soak_seconds: u64,
    /// The run's connection flags, for the commands a refusal prints.
    pub flags: RunFlags,
}

/// What a restart writes on the StatefulSet while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Journal {
    pub started_at: Timestamp,
    /// The members, in the order they go, each with the uid of its pod when the restart began.
    pub members: Vec<Target>,
    /// The ordinals whose replacement was Ready, soaked and passed its gates.
    #[serde(default)]
    pub done: Vec<i32>,
    pub method: Method,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<i32>,
    #[serde(default, skip_serializing_if = "Gates::is_default")]
    pub gates: Gates,
    #[serde(default)]
    pub soak_seconds: u64,
}

impl Journal {
    /// The journal on `sts`, if any.
    ///
    /// # Errors
    /// [`Refusal::JournalUnreadable`] when the annotation holds no journal, with the
    /// `--discard-journal` that removes it (with the run's `flags`).
    pub fn of(sts: &StatefulSet, flags: &RunFlags) -> Result<Option<Journal>, Refusal> {
        match sts.annotations().get(RESTART_ANNOTATION) {
            None => Ok(None),
            Some(text) => serde_json::from_str(text).map(Some).map_err(|e| Refusal::JournalUnreadable {
                object: format!("StatefulSet {}", sts.name_any()),
                annotation: RESTART_ANNOTATION,
                error: e.to_string(),
                discard: flags.plugin(
                    &sts.namespace().unwrap_or_default(),
                    &format!("restart {} --discard-journal", shell_word(&sts.name_any())),
                ),
            }),
        }
    }

    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).expect("a journal always serializes")
    }

    /// The request a resumed run carries on with.
    pub fn request(&self, flags: &RunFlags) -> Request {
        Request {
            ordinals: self.members.iter().map(|t| t.ordinal).collect(),
            order: Order::AsGiven,
            method: self.method,
            min_available: self.min_available,
            gates: self.gates.clone(),
            soak_seconds: self.soak_seconds,
            flags: flags.clone(),
        }
    }
}

/// The plan: which members, in which order, and what each needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub namespace: String,
    pub stateful_set: String,
    pub quorum: Quorum,
    pub method: Method,
    /// The members to restart, in order, with the uid each has now.
    pub members: Vec<Target>,
    /// Members restarted already by the run this one resumes.
    pub done: Vec<i32>,
    /// Members not chosen: their pods are not touched.
    pub untouched: Vec<String>,
    pub gates: Gates,
    pub soak_seconds: u64,
    /// A journal was found: this run resumes it.
    pub resumed: bool,
}

/// Everything the plan is judged on, as read.
pub struct Seen<'a> {
    pub sts: &'a StatefulSet,
    pub pods: &'a [Pod],
    pub nodes: Option<&'a [Node]>,
    pub budgets: &'a [PodDisruptionBudget],
    pub claims: &'a [PersistentVolumeClaim],
    /// PersistentVolumes by name (those read; others are not judged).
    pub volumes: &'a HashMap<&'a str, &'a PersistentVolume>,
}

/// The plan for `request` on what was `seen`, or for the journal of a run to resume. Refused
/// before anything is written: an ordinal out of range (usage); a journal of other members; a
/// member with no pod to restart; a set whose quorum tolerates nobody down; a member whose
/// volume pins it where it cannot start again; a budget that never allows the eviction.
///
/// # Errors
/// The [`Refusal`].
pub fn plan(seen: &Seen, request: &Request, journal: Option<&Journal>) -> Result<Plan, Refusal> {
    let sts = seen.sts;
    let name = sts.name_any();
    let namespace = sts.namespace().unwrap_or_default();
    let range = ordinal_range(sts);
    for &ordinal in &request.ordinals {
        if !range.contains(ordinal) {
            let last = range.end() - 1;
            return Err(Refusal::OrdinalOutOfRange {
                name,
                ordinal,
                range: format!("{}..{last}", range.start),
            });
        }
    }
    let live = members(sts, seen.pods, seen.nodes);
    let (targets, done, request) = match journal {
        Some(journal) => {
            let given: Vec<i32> = journal.members.iter().map(|t| t.ordinal).collect();
            let mut wanted = request.ordinals.clone();
            wanted.sort_unstable();
            let mut had = given.clone();
            had.sort_unstable();
            if !request.ordinals.is_empty() && wanted != had {
                let set = shell_word(&name);
                return Err(Refusal::OtherRestartInProgress {
                    members: journal.members.iter().map(|t| t.pod.clone()).collect(),
                    resume: request.flags.plugin(&namespace, &format!("restart {set}")),
                    discard: request.flags.plugin(&namespace, &format!("restart {set} --discard-journal")),
                });
            }
            (journal.members.clone(), journal.done.clone(), journal.request(&request.flags))
        }
        None => (choose(&live, request, &namespace, &name)?, Vec::new(), request.clone()),
    };
    let quorum = Quorum::of(replicas(sts), request.min_available);
    if quorum.tolerance() == 0 {
        let flag = format!("--min-available {}", quorum.members - 1);
        return Err(Refusal::NoneMayBeDown { name, quorum, flag });
    }
    let covers = covering(seen.budgets, sts, seen.pods);
    for target in targets.iter().filter(|t| !done.contains(&t.ordinal)) {
        let pod = live.iter().find(|m| m.ordinal == target.ordinal).and_then(|m| m.pod);
        if let (Some(pod), Some(nodes)) = (pod, seen.nodes)
            && let Some(pinned) = pinned_member(pod, seen.claims, nodes, seen.volumes, &[])
        {
            return Err(Refusal::Pinned { pod: target.pod.clone(), why: pinned, draining: false });
        }
        if request.method == Method::Evict {
            let never = never_allowing(&covers, target.ordinal, replicas(sts));
            if !never.is_empty() {
                return Err(Refusal::BudgetNeverAllows {
                    pod: target.pod.clone(),
                    budgets: never,
                    way_out: "change the budget, or pass --delete to restart without eviction".to_owned(),
                });
            }
        }
    }
    let chosen: Vec<i32> = targets.iter().map(|t| t.ordinal).collect();
    Ok(Plan {
        untouched: live.iter().filter(|m| !chosen.contains(&m.ordinal)).map(|m| m.name.clone()).collect(),
        namespace,
        stateful_set: name,
        quorum,
        method: request.method,
        members: targets,
        done,
        gates: request.gates.clone(),
        soak_seconds: request.soak_seconds,
        resumed: journal.is_some(),
    })
}

/// The members `request` names (all by default), in its order, each with its pod's uid now.
fn choose(live: &[Member], request: &Request, namespace: &str, name: &str) -> Result<Vec<Target>, Refusal> {
    let mut ordinals: Vec<i32> = match request.ordinals.is_empty() {
        true => live.iter().map(|m| m.ordinal).collect(),
        false => request.ordinals.clone(),
    };
    let mut seen = Vec::new();
    ordinals.retain(|o| match seen.contains(o) {
        true => false,
        false => {
            seen.push(*o);
            true
        }
    });
    match request.order {
        Order::HighestFirst => ordinals.sort_unstable_by(|a, b| b.cmp(a)),
        Order::LowestFirst => ordinals.sort_unstable(),
        Order::AsGiven => {}
    }
    ordinals
        .into_iter()
        .map(|ordinal| {
            let member = live.iter().find(|m| m.ordinal == ordinal).expect("ordinals are in range");
            let uid = member.uid().ok_or_else(|| Refusal::NoPod { pod: member.name.clone() })?;
            Ok(Target {
                namespace: namespace.to_owned(),
                stateful_set: name.to_owned(),
                ordinal,
                pod: member.name.clone(),
                uid,
                node: member.node().map(str::to_owned),
            })
        })
        .collect()
}

/// What the run does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Take this member down (evict or delete its pod, guarded by its uid).
    TakeDown(Target),
    /// This member was replaced and its replacement is up: soak it, run the gates, then mark
    /// it done in the journal.
    Verify { target: Target, uid: String, node: String },
    /// Wait: a member taken down is being replaced (why), or the quorum holds the next one.
    Wait(Waiting),
    /// Every member is done.
    Finished,
}

/// Why the run waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waiting {
    /// The replacement of a member taken down is not up yet.
    Replacing { target: Target, why: String },
    /// The next member may not go down yet: the set would not keep its quorum.
    Quorum { target: Target, hold: Hold },
}

impl Waiting {
    /// The member waited on.
    pub fn target(&self) -> &Target {
        match self {
            Waiting::Replacing { target, .. } | Waiting::Quorum { target, .. } => target,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Waiting::Replacing { why, .. } => why.clone(),
            Waiting::Quorum { target, hold } => format!("{} waits: {}", target.pod, hold.describe()),
        }
    }

    /// What the wait says while it lasts, of the set's `pods` as seen now: `the replacement of
    /// web-1: Pending on node-2`, `the other members of web before web-2 goes down: web-1 is not
    /// Ready`.
    pub fn words(&self, pods: &[Pod]) -> WaitWords {
        match self {
            Waiting::Replacing { target, .. } => WaitWords {
                what: format!("the replacement of {}", target.pod),
                state: pod_state(None, &target.pod, Some(&target.uid), pods),
            },
            Waiting::Quorum { target, hold } => WaitWords {
                what: format!("the other members of {} before {} goes down", target.stateful_set, target.pod),
                state: hold.describe(),
            },
        }
    }
}

/// The next move for `plan` (with the journal's `done`), on the set as seen now at `now`.
pub fn next(plan: &Plan, done: &[i32], seen: &Seen, now: Timestamp) -> Next {
    let live = members(seen.sts, seen.pods, seen.nodes);
    let quorum = plan.quorum;
    // The first member not done decides: one member in flight at a time, in the plan's order.
    let Some(target) = plan.members.iter().find(|t| !done.contains(&t.ordinal)) else {
        return Next::Finished;
    };
    let pod = live.iter().find(|m| m.ordinal == target.ordinal).and_then(|m| m.pod);
    match progress(target, seen.sts, pod, seen.nodes, &[], now) {
        Progress::Pending => match may_take_down(&live, target.ordinal, quorum) {
            Ok(()) => Next::TakeDown(target.clone()),
            Err(hold) => Next::Wait(Waiting::Quorum { target: target.clone(), hold }),
        },
        Progress::Replacing(why) => Next::Wait(Waiting::Replacing { target: target.clone(), why }),
        Progress::Replaced { uid, node } | Progress::Misplaced { uid, node } => {
            Next::Verify { target: target.clone(), uid, node }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::budgets::pdb;
    use crate::core::fixtures::{created, node, pod, sts};

    /// What a restart's wait says while it lasts: the member it waits on and its pod, or the
    /// hold that keeps the next one up.
    #[test]
    fn a_wait_says_what_it_waits_for_and_where_that_stands() {
        let web = sts("web", 3).build();
        let target = Target {
            namespace: "db".into(),
            stateful_set: "web".into(),
            ordinal: 1,
            pod: "web-1".into(),
            uid: "uid-old".into(),
            node: Some("node-1".into()),
        };
        let replacing =
            Waiting::Replacing { target: target.clone(), why: "its replacement web-1 is not Ready".into() };
        let pending = vec![pod(&web, 1).uid("uid-new").unscheduled().build()];
        let words = replacing.words(&pending);
        assert_eq!(words.what, "the replacement of web-1");
        assert_eq!(words.state, "Pending");
        assert_eq!(replacing.words(&[]).state, "no pod yet");
        let quorum = Waiting::Quorum {
            target,
            hold: Hold::OthersDown { down: vec![("web-0".into(), super::super::quorum::Down::NotReady)] },
        };
        assert_eq!(
            quorum.words(&[]),
            WaitWords {
                what: "the other members of web before web-1 goes down".into(),
                state: "web-0 is not Ready".into()
            }
        );
    }

    /// An unreadable restart journal names its way out: the `--discard-journal` with the run's
    /// flags (which removes it without reading it).
    #[test]
    fn an_unreadable_journal_names_its_discard() {
        let web = sts("web", 3).annotation(RESTART_ANNOTATION, "{").build();
        let flags = RunFlags { context: Some("prod eu".into()), kubeconfig: None, ..Default::default() };
        let refused = Journal::of(&web, &flags).unwrap_err().to_string();
        assert!(
            refused
                .starts_with("annotation kubectl-stateful.dev/restart on StatefulSet web is not a journal")
        );
        assert!(
            refused.ends_with(&format!(
                "nothing was changed: `kubectl stateful restart web --discard-journal -n {} --context 'prod eu'` \
                 removes it",
                crate::core::fixtures::NAMESPACE
            )),
            "{refused}"
        );
    }

    fn request(ordinals: &[i32], order: Order) -> Request {
        Request {
            ordinals: ordinals.to_vec(),
            order,
            method: Method::Evict,
            min_available: None,
            gates: Gates::default(),
            soak_seconds: 0,
            flags: RunFlags::default(),
        }
    }

    fn renewed(mut p: Pod, node: &str) -> Pod {
        p.metadata.uid = Some(format!("new-{}", p.name_any()));
        p.spec.as_mut().unwrap().node_name = Some(node.to_owned());
        p
    }

    fn planned(
        sts: &StatefulSet,
        pods: &[Pod],
        req: &Request,
        journal: Option<&Journal>,
    ) -> Result<Plan, String> {
        let nodes = vec![node("node-0", "True"), node("node-1", "True")];
        let volumes = HashMap::new();
        let seen = Seen { sts, pods, nodes: Some(&nodes), budgets: &[], claims: &[], volumes: &volumes };
        plan(&seen, req, journal).map_err(|e| e.to_string())
    }

    /// (replicas, ordinals, order) → the members in the order they go, and those left alone.
    #[test]
    fn the_members_chosen_go_in_the_order_asked() {
        let web = sts("web", 4).build();
        let pods: Vec<Pod> = (0..4).map(|o| pod(&web, o).build()).collect();
        type Row = (&'static str, Vec<i32>, Order, Vec<&'static str>, Vec<&'static str>);
        let cases: Vec<Row> = vec![
            (
                "all, highest first",
                vec![],
                Order::HighestFirst,
                vec!["web-3", "web-2", "web-1", "web-0"],
                vec![],
            ),
            (
                "all, lowest first",
                vec![],
                Order::LowestFirst,
                vec!["web-0", "web-1", "web-2", "web-3"],
                vec![],
            ),
            ("one", vec![1], Order::HighestFirst, vec!["web-1"], vec!["web-0", "web-2", "web-3"]),
            (
                "as given, once each",
                vec![0, 3, 0],
                Order::AsGiven,
                vec!["web-0", "web-3"],
                vec!["web-1", "web-2"],
            ),
            (
                "highest first",
                vec![0, 3],
                Order::HighestFirst,
                vec!["web-3", "web-0"],
                vec!["web-1", "web-2"],
            ),
        ];
        for (case, ordinals, order, expected, untouched) in cases {
            let plan = planned(&web, &pods, &request(&ordinals, order), None).unwrap();
            assert_eq!(plan.members.iter().map(|t| t.pod.as_str()).collect::<Vec<_>>(), expected, "{case}");
            assert_eq!(plan.untouched, untouched, "{case}");
            assert_eq!(plan.members[0].uid, format!("uid-default-{}", expected[0]), "{case}: the uid read");
        }
    }

    /// Refused before anything is written, each with its words.
    #[test]
    fn a_restart_that_cannot_finish_is_refused_up_front() {
        let web = sts("web", 3).build();
        let pods: Vec<Pod> = (0..3).map(|o| pod(&web, o).build()).collect();
        let two = sts("web", 2).build();
        let two_pods: Vec<Pod> = (0..2).map(|o| pod(&two, o).build()).collect();
        let cases: Vec<(&str, &StatefulSet, Vec<Pod>, Request, &str)> = vec![
            (
                "out of range",
                &web,
                pods.clone(),
                request(&[3], Order::HighestFirst),
                "web has no ordinal 3 (its members are 0..2)",
            ),
            (
                "no pod",
                &web,
                pods[..2].to_vec(),
                request(&[2], Order::HighestFirst),
                "web-2 has no pod to restart (the controller has not created it); nothing was changed",
            ),
            (
                "two members keep both up",
                &two,
                two_pods.clone(),
                request(&[1], Order::HighestFirst),
                "web must keep 2 of 2 up (its majority): no member may go down; pass --min-available 1 to \
                 accept one down; nothing was changed",
            ),
        ];
        for (case, set, pods, req, expected) in cases {
            assert_eq!(planned(set, &pods, &req, None).unwrap_err(), expected, "{case}");
        }
        let mut accepted = request(&[1], Order::HighestFirst);
        accepted.min_available = Some(1);
        assert!(planned(&two, &two_pods, &accepted, None).is_ok(), "--min-available 1 accepts it");
        let covered = [pdb(
            "web-zero",
            json!({"selector": {"matchLabels": {"app": "web"}}, "maxUnavailable": 0}),
            Some(json!({"observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 3,
                        "desiredHealthy": 3, "expectedPods": 3})),
        )];
        let nodes = vec![node("node-0", "True")];
        let volumes = HashMap::new();
        let seen = Seen {
            sts: &web,
            pods: &pods,
            nodes: Some(&nodes),
            budgets: &covered,
            claims: &[],
            volumes: &volumes,
        };
        let refused = plan(&seen, &request(&[1], Order::HighestFirst), None).unwrap_err().to_string();
        assert_eq!(
            refused,
            "refusing to evict web-1: PodDisruptionBudget web-zero (maxUnavailable 0) allows no disruption of its 3 \
             pods (3 healthy, 3 needed, 0 allowed now); change the budget, or pass --delete to restart without \
             eviction; nothing was changed"
        );
        let mut delete = request(&[1], Order::HighestFirst);
        delete.method = Method::Delete;
        assert!(plan(&seen, &delete, None).is_ok(), "--delete does not ask the Eviction API");
    }

    /// Step by step over a 3-member set restarting web-2 then web-1: take down, wait for the
    /// replacement (new uid), verify it, then the next only when nobody else is down.
    #[test]
    fn one_member_at_a_time_following_each_by_its_uid() {
        let web = sts("web", 3).build();
        let nodes = vec![node("node-0", "True"), node("node-1", "True")];
        let volumes = HashMap::new();
        let up: Vec<Pod> = (0..3).map(|o| pod(&web, o).build()).collect();
        let plan = planned(&web, &up, &request(&[1, 2], Order::HighestFirst), None).unwrap();
        let now = created();
        let at = |pods: &[Pod], done: &[i32]| {
            let seen =
                Seen { sts: &web, pods, nodes: Some(&nodes), budgets: &[], claims: &[], volumes: &volumes };
            match next(&plan, done, &seen, now) {
                Next::TakeDown(t) => format!("take down {}", t.pod),
                Next::Verify { target, node, .. } => format!("verify {} on {node}", target.pod),
                Next::Wait(w) => format!("wait: {}", w.describe()),
                Next::Finished => "finished".into(),
            }
        };
        let evicted = vec![up[0].clone(), up[1].clone(), pod(&web, 2).terminating().build()];
        let gone = vec![up[0].clone(), up[1].clone()];
        let back_not_ready =
            vec![up[0].clone(), up[1].clone(), renewed(pod(&web, 2).ready(false).build(), "node-1")];
        let back = vec![up[0].clone(), up[1].clone(), renewed(pod(&web, 2).build(), "node-1")];
        let zero_down =
            vec![pod(&web, 0).ready(false).build(), up[1].clone(), renewed(pod(&web, 2).build(), "node-1")];
        let cases: Vec<(&str, Vec<Pod>, Vec<i32>, &str)> = vec![
            ("start", up.clone(), vec![], "take down web-2"),
            ("evicted", evicted, vec![], "wait: web-2 is being deleted"),
            ("gone", gone, vec![], "wait: web-2 has no pod yet"),
            ("back, not ready", back_not_ready, vec![], "wait: its replacement web-2 is not Ready"),
            ("back", back.clone(), vec![], "verify web-2 on node-1"),
            ("verified", back.clone(), vec![2], "take down web-1"),
            ("another member down", zero_down, vec![2], "wait: web-1 waits: web-0 is not Ready"),
            ("all done", back, vec![2, 1], "finished"),
        ];
        for (case, pods, done, expected) in cases {
            assert_eq!(at(&pods, &done), expected, "{case}");
        }
    }

    /// A resumed run follows its journal: its members and uids, not a new reading; other
    /// ordinals on the command line are refused.
    #[test]
    fn a_run_resumes_its_journal() {
        let web = sts("web", 3).build();
        let pods: Vec<Pod> = (0..3).map(|o| pod(&web, o).build()).collect();
        let first = planned(&web, &pods, &request(&[2, 1], Order::HighestFirst), None).unwrap();
        let journal = Journal {
            started_at: created(),
            members: first.members.clone(),
            done: vec![2],
            method: Method::Evict,
            min_available: None,
            gates: Gates::default(),
            soak_seconds: 10,
        };
        let text = journal.to_annotation();
        assert_eq!(serde_json::from_str::<Journal>(&text).unwrap(), journal);
        let resumed = planned(&web, &pods, &request(&[], Order::HighestFirst), Some(&journal)).unwrap();
        assert_eq!((resumed.resumed, resumed.done.clone(), resumed.soak_seconds), (true, vec![2], 10));
        assert_eq!(resumed.members, first.members);
        assert!(planned(&web, &pods, &request(&[1, 2], Order::LowestFirst), Some(&journal)).is_ok());
        assert_eq!(
            planned(&web, &pods, &request(&[0], Order::HighestFirst), Some(&journal)).unwrap_err(),
            "a restart of web-2, web-1 is in progress: run `kubectl stateful restart web -n default` to resume it, or \
             `kubectl stateful restart web --discard-journal -n default` to give it up; nothing was changed"
        );
    }
}
