//! `scale NAME --replicas N`: a scale-down one member at a time from the highest ordinal, each
//! member leaving its cluster first (its decommission hooks, until they pass) and only while the
//! set keeps its quorum, the claims of the members removed kept or pruned (`pvc prune`'s own
//! rules and guards, chosen up front); a scale-up in one guarded write, each new member waited
//! for until Ready, with the claims it will mount again named. Refused with nothing changed
//! where a GitOps tool or a HorizontalPodAutoscaler owns `replicas`.
//!
//! The run is journaled on the StatefulSet ([`SCALE_ANNOTATION`]): where it goes from and to,
//! its hooks and the choices made up front, and the members whose hooks passed (they have left
//! their cluster). A later run resumes from it and the live replica count: a member whose hook
//! passed is not asked again, a member removed already is not counted again.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde::{Deserialize, Serialize};

use super::quorum::{Hold, Quorum, down, may_take_down, members};
use super::restart::RESTART_ANNOTATION;
use super::{WaitWords, pod_state};
use crate::core::advice::{RunFlags, shell_word};
use crate::core::claims::claims_of;
use crate::core::names::pod_name;
use crate::core::objects::{
    holding_finalizers, min_ready_seconds, node_name, ordinal_range, pod_available, pods_of, pvc_retention,
    replicas, scaling_settled, terminating,
};
use crate::core::orphans::RESTORED_FROM;
use crate::core::owners::Owners;
use crate::core::prune::{self, PruneOptions, PrunePlan, Verdict};
use crate::core::reads::Reads;
use crate::core::rollout::ROLLOUT_ANNOTATION;
use crate::core::rollout::gates::Gates;
use crate::core::volume_snapshots::{self as vsnap, SnapshotClass};

/// The annotation that holds a scale's journal (schema in docs/scale.md).
pub const SCALE_ANNOTATION: &str = "kubectl-stateful.dev/scale";

/// What happens to the claims of the members a scale-down removes, chosen up front.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "camelCase")]
pub enum Claims {
    /// Keep them: a later scale-up re-attaches each to its ordinal, with its old data
    #[default]
    Keep,
    /// Delete them once their members are gone, through `pvc prune`'s rules and guards
    Prune,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `--replicas`; `None`: resume the journal.
    pub replicas: Option<i32>,
    /// The decommission hooks (`--decommission-exec`, `--decommission-http`), run in (or about)
    /// each member before it is removed; all passing means it has left.
    pub hooks: Gates,
    /// `--min-available`: the members that must stay up; `None`: the majority.
    pub min_available: Option<i32>,
    pub claims: Claims,
    /// `--snapshot`: a ready, Retain snapshot of each claim before prune deletes it.
    pub snapshot: bool,
    pub snapshot_class: Option<String>,
    /// The run's connection flags, for the commands a refusal prints.
    pub flags: RunFlags,
}

/// What a scale writes on the StatefulSet while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Journal {
    pub started_at: Timestamp,
    /// The replicas when the scale began.
    pub from: i32,
    /// The replicas asked for.
    pub to: i32,
    /// Scale-down: the ordinals whose decommission hooks passed (they left their cluster).
    #[serde(default)]
    pub left: Vec<i32>,
    #[serde(default, skip_serializing_if = "Gates::is_default")]
    pub hooks: Gates,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<i32>,
    #[serde(default)]
    pub claims: Claims,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub snapshot: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_class: Option<String>,
}

impl Journal {
    /// The journal on `sts`, if any.
    ///
    /// # Errors
    /// [`Refusal::JournalUnreadable`] when the annotation holds no journal, with the
    /// `--discard-journal` that removes it (with the run's `flags`).
    pub fn of(sts: &StatefulSet, flags: &RunFlags) -> Result<Option<Journal>, Refusal> {
        match sts.annotations().get(SCALE_ANNOTATION) {
            None => Ok(None),
            Some(text) => serde_json::from_str(text).map(Some).map_err(|e| Refusal::JournalUnreadable {
                object: format!("StatefulSet {}", sts.name_any()),
                annotation: SCALE_ANNOTATION,
                error: e.to_string(),
                discard: flags.plugin(
                    &sts.namespace().unwrap_or_default(),
                    &format!("scale {} --discard-journal", shell_word(&sts.name_any())),
                ),
            }),
        }
    }

    /// The journal of a new run of `plan`.
    pub fn new(plan: &Plan, now: Timestamp) -> Journal {
        Journal {
            started_at: now,
            from: plan.from,
            to: plan.to,
            left: Vec::new(),
            hooks: plan.hooks.clone(),
            min_available: plan.quorum.filter(|q| q.given).map(|q| q.floor),
            claims: plan.claims,
            snapshot: plan.snapshot,
            snapshot_class: plan.snapshot_class.clone(),
        }
    }

    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).expect("a journal always serializes")
    }

    fn direction(&self) -> Direction {
        Direction::of(self.from, self.to)
    }

    fn has_hooks(&self) -> bool {
        !self.hooks.exec.is_empty() || !self.hooks.http.is_empty()
    }
}

/// Which way a scale goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    Up,
    Down,
    /// Already there.
    None,
}

impl Direction {
    fn of(from: i32, to: i32) -> Direction {
        match to.cmp(&from) {
            std::cmp::Ordering::Greater => Direction::Up,
            std::cmp::Ordering::Less => Direction::Down,
            std::cmp::Ordering::Equal => Direction::None,
        }
    }
}

/// What becomes of a claim of a member that goes or comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Fate {
    /// Scale-down, `--claims keep`: it stays, with its data, for a later scale-up.
    Kept,
    /// Scale-down, `--claims prune`: prune's rules say it goes once its member is gone (prune
    /// judges it again, with its guards, right before the delete).
    Pruned,
    /// Scale-down, `--claims prune`: prune's rules keep it (the reason says why).
    KeptByPrune,
    /// Scale-down: the StatefulSet's `whenScaled: Delete` retention policy makes the
    /// controller delete it.
    DeletedByController,
    /// Scale-up: the new member mounts this claim, left by an earlier scale-down: it starts on
    /// that old data, not on an empty volume.
    Stale,
    /// Scale-up: `pvc restore` made it from a snapshot for this ordinal.
    Restored,
}

/// A claim of a member that goes or comes, and its fate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberClaim {
    pub name: String,
    pub fate: Fate,
    /// Why prune keeps it, or the snapshot it was restored from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
}

/// A member that a scale removes or adds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub ordinal: i32,
    pub pod: String,
    /// Its pod's uid and node now (a member to remove).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The claims that go with it, or that it mounts again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<MemberClaim>,
}

/// The plan: from and to, the members in the order they go or come, the claims' fate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub namespace: String,
    pub stateful_set: String,
    pub from: i32,
    pub to: i32,
    pub direction: Direction,
    /// Scale-down: the quorum of the members at the start, which the last removal keeps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum: Option<Quorum>,
    /// Scale-down: highest ordinal first; scale-up: lowest first.
    pub members: Vec<Member>,
    /// Scale-down: the members removed already (a resumed run).
    pub done: Vec<i32>,
    /// Scale-down: the members whose hooks passed already (a resumed run).
    pub left: Vec<i32>,
    pub hooks: Gates,
    pub claims: Claims,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub snapshot: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_class: Option<String>,
    /// What a person must know before saying yes (stale data, a retention policy).
    pub warnings: Vec<String>,
    /// A journal was found: this run resumes it.
    pub resumed: bool,
}

/// Everything the plan is judged on, as read: the set and its namespace (pods, claims,
/// PersistentVolumes, HorizontalPodAutoscalers, `pvc resize` journals).
pub struct Seen<'a> {
    pub sts: &'a StatefulSet,
    pub reads: &'a Reads,
    /// The VolumeSnapshotClasses, read for `--claims prune --snapshot` (`None`: no
    /// VolumeSnapshot API, or not asked).
    pub classes: Option<&'a [SnapshotClass]>,
}

/// Why `scale` will not start: decided before the first write, so nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("pass --replicas N: no scale of {name} is in progress to resume")]
    NoTarget { name: String },
    #[error("{flag} is for a scale-down, and {name} scales up from {from} to {to}")]
    DownOnly { flag: &'static str, name: String, from: i32, to: i32 },
    #[error("--min-available {floor} for {name} is more than its {members} members")]
    FloorAboveMembers { name: String, floor: i32, members: i32 },
    #[error(
        "refusing to scale {name} from {from} to {to}: it must keep {}; pass --min-available {to} to accept {to} \
         members; nothing was changed",
        .quorum.describe()
    )]
    BelowFloor { name: String, from: i32, to: i32, quorum: Quorum },
    #[error(
        "refusing to scale {name} down: {}; a member leaves only while every other is up; nothing was changed",
        .hold.describe()
    )]
    MemberDown { name: String, hold: Hold },
    #[error(
        "refusing to scale {name}: its replicas are owned by {owner}, which sets them back {when}; change them \
         there instead; nothing was changed"
    )]
    Owned { name: String, owner: String, when: &'static str },
    #[error(
        "refusing to scale {name}: HorizontalPodAutoscaler {autoscaler} sets its replicas (between {min} and \
         {max}); change its minReplicas and maxReplicas instead, or delete it; nothing was changed"
    )]
    Autoscaled { name: String, autoscaler: String, min: i32, max: i32 },
    #[error("refusing to scale {name}: {what}; nothing was changed")]
    Busy { name: String, what: String },
    #[error(
        "refusing to scale {name}: it is scaling already (status.replicas {counted} of {replicas}); try again once \
         it settles; nothing was changed"
    )]
    Scaling { name: String, counted: i32, replicas: i32 },
    #[error(
        "a scale of {name} from {from} to {to} is in progress: run `{resume}` to resume it, or `{discard}` to give \
         it up; nothing was changed"
    )]
    OtherScaleInProgress { name: String, from: i32, to: i32, resume: String, discard: String },
    #[error(
        "{name} has {replicas} replicas, outside the scale from {from} to {to} its journal records (someone else \
         scaled it): `{discard}` gives the journal up; nothing was changed"
    )]
    JournalOutrun { name: String, replicas: i32, from: i32, to: i32, discard: String },
    #[error(
        "annotation {annotation} on {object} is not a journal ({error}); nothing was changed: `{discard}` removes it"
    )]
    JournalUnreadable { object: String, annotation: &'static str, error: String, discard: String },
}

impl Refusal {
    /// Caused by the command line alone (exit 2).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Refusal::NoTarget { .. } | Refusal::DownOnly { .. } | Refusal::FloorAboveMembers { .. }
        )
    }
}

/// The plan for `request` on what was `seen`, or for the journal of a run to resume. Refused
/// before anything is written: no target (usage); flags of a scale-down on a scale-up (usage);
/// a target below the quorum floor; another member down; `replicas` owned by a GitOps tool, an
/// autoscaler; another run's journal (rollout, restart, resize, a scale elsewhere); a set the
/// controller is scaling already; `--snapshot` that prune could not take.
///
/// # Errors
/// The scale's [`Refusal`], or `--snapshot`'s as prune gives it.
pub fn plan(
    seen: &Seen,
    request: &Request,
    journal: Option<&Journal>,
    now: Timestamp,
) -> Result<Plan, crate::core::refusal::Refusal> {
    let sts = seen.sts;
    let name = sts.name_any();
    let namespace = sts.namespace().unwrap_or_default();
    let replicas_now = replicas(sts);
    let set = shell_word(&name).into_owned();
    let discard = request.flags.plugin(&namespace, &format!("scale {set} --discard-journal"));
    let resumed = journal.is_some();
    let journal = match journal {
        Some(journal) => {
            if request.replicas.is_some_and(|r| r != journal.to) {
                return Err(Refusal::OtherScaleInProgress {
                    name,
                    from: journal.from,
                    to: journal.to,
                    resume: request.flags.plugin(&namespace, &format!("scale {set}")),
                    discard,
                }
                .into());
            }
            let (low, high) = (journal.from.min(journal.to), journal.from.max(journal.to));
            if !(low..=high).contains(&replicas_now) {
                return Err(Refusal::JournalOutrun {
                    name,
                    replicas: replicas_now,
                    from: journal.from,
                    to: journal.to,
                    discard,
                }
                .into());
            }
            journal.clone()
        }
        None => {
            let Some(to) = request.replicas else { return Err(Refusal::NoTarget { name }.into()) };
            refuse_owned(seen, &name)?;
            let fresh = Journal {
                started_at: now,
                from: replicas_now,
                to,
                left: Vec::new(),
                hooks: request.hooks.clone(),
                min_available: request.min_available,
                claims: request.claims,
                snapshot: request.snapshot,
                snapshot_class: request.snapshot_class.clone(),
            };
            refuse_flags(&fresh, request, &name)?;
            if fresh.direction() != Direction::None && !scaling_settled(sts) {
                let counted = sts.status.as_ref().map_or(0, |s| s.replicas);
                return Err(Refusal::Scaling { name, counted, replicas: replicas_now }.into());
            }
            fresh
        }
    };
    let direction = journal.direction();
    let range = ordinal_range(sts);
    let start = range.start;
    let own = pods_of(sts, &seen.reads.pods);
    let member = |ordinal: i32| {
        let pod = own.iter().find(|(o, _)| *o == ordinal).map(|(_, p)| *p);
        Member {
            ordinal,
            pod: pod_name(&name, ordinal),
            uid: pod.and_then(|p| p.uid()),
            node: pod.and_then(node_name).map(str::to_owned),
            claims: Vec::new(),
        }
    };
    let mut warnings = Vec::new();
    let (quorum, mut members, done) = match direction {
        Direction::None => (None, Vec::new(), Vec::new()),
        Direction::Up => (None, (start + journal.from..start + journal.to).map(member).collect(), Vec::new()),
        Direction::Down => {
            let quorum = Quorum::of(journal.from, journal.min_available);
            let leaving: Vec<i32> = (start + journal.to..start + journal.from).rev().collect();
            let done: Vec<i32> = leaving.iter().copied().filter(|o| !range.contains(*o)).collect();
            if !resumed {
                // A fresh start: every other member must be up now (a resumed run waits).
                let live = members(sts, &seen.reads.pods, None);
                if let Some(&first) = leaving.first()
                    && let Err(hold @ Hold::OthersDown { .. }) = may_take_down(&live, first, quorum)
                {
                    return Err(Refusal::MemberDown { name, hold }.into());
                }
            }
            (Some(quorum), leaving.into_iter().map(member).collect(), done)
        }
    };
    match direction {
        Direction::Down => claims_going(seen, &journal, &mut members, &mut warnings, now)?,
        Direction::Up => claims_coming(seen, &mut members, &mut warnings, &request.flags),
        Direction::None => {}
    }
    Ok(Plan {
        namespace,
        stateful_set: name,
        from: journal.from,
        to: journal.to,
        direction,
        quorum,
        members,
        done,
        left: journal.left.clone(),
        hooks: journal.hooks.clone(),
        claims: journal.claims,
        snapshot: journal.snapshot,
        snapshot_class: journal.snapshot_class.clone(),
        warnings,
        resumed,
    })
}

/// Refuses a set whose `replicas` someone else sets back: a GitOps tool or Helm that owns the
/// field, a HorizontalPodAutoscaler that targets the set; or a set another run of this tool is
/// working on.
fn refuse_owned(seen: &Seen, name: &str) -> Result<(), Refusal> {
    let sts = seen.sts;
    if let Some(contested) = Owners::of(sts).replicas_reverter() {
        return Err(Refusal::Owned {
            name: name.to_owned(),
            owner: contested.owner(),
            when: contested.manager.tool.reverts_when(),
        });
    }
    if let Some(hpa) = autoscaler_of(seen.reads.autoscalers.as_deref().unwrap_or_default(), sts) {
        let spec = hpa.spec.as_ref();
        return Err(Refusal::Autoscaled {
            name: name.to_owned(),
            autoscaler: hpa.name_any(),
            min: spec.and_then(|s| s.min_replicas).unwrap_or(1),
            max: spec.map_or(0, |s| s.max_replicas),
        });
    }
    let busy = |what: String| Err(Refusal::Busy { name: name.to_owned(), what });
    if sts.annotations().contains_key(ROLLOUT_ANNOTATION) {
        return busy(format!("a rollout of it is in progress (annotation {ROLLOUT_ANNOTATION})"));
    }
    if sts.annotations().contains_key(RESTART_ANNOTATION) {
        return busy(format!("a restart of it is in progress (annotation {RESTART_ANNOTATION})"));
    }
    Ok(())
}

/// The HorizontalPodAutoscaler of `autoscalers` that scales `sts`, if any.
pub fn autoscaler_of<'h>(
    autoscalers: &'h [HorizontalPodAutoscaler],
    sts: &StatefulSet,
) -> Option<&'h HorizontalPodAutoscaler> {
    autoscalers.iter().find(|hpa| {
        hpa.namespace() == sts.namespace()
            && hpa.spec.as_ref().is_some_and(|s| {
                s.scale_target_ref.kind == "StatefulSet" && s.scale_target_ref.name == sts.name_any()
            })
    })
}

/// The flags that only a scale-down uses, refused on a scale-up; a floor above the members;
/// a target below the floor.
fn refuse_flags(journal: &Journal, request: &Request, name: &str) -> Result<(), Refusal> {
    let (from, to) = (journal.from, journal.to);
    if let Some(floor) = request.min_available
        && floor > from
    {
        return Err(Refusal::FloorAboveMembers { name: name.to_owned(), floor, members: from });
    }
    if journal.direction() == Direction::Up {
        let flag = if !request.hooks.exec.is_empty() {
            Some("--decommission-exec")
        } else if !request.hooks.http.is_empty() {
            Some("--decommission-http")
        } else if request.claims == Claims::Prune {
            Some("--claims prune")
        } else if request.min_available.is_some() {
            Some("--min-available")
        } else {
            None
        };
        if let Some(flag) = flag {
            return Err(Refusal::DownOnly { flag, name: name.to_owned(), from, to });
        }
    }
    if journal.direction() == Direction::Down {
        let quorum = Quorum::of(from, request.min_available);
        if to < quorum.floor {
            return Err(Refusal::BelowFloor { name: name.to_owned(), from, to, quorum });
        }
    }
    Ok(())
}

/// The claims of the members a scale-down removes, with their fate: kept, or judged by
/// prune's own rules as they will stand once those members are gone ([`prune_preview`]).
fn claims_going(
    seen: &Seen,
    journal: &Journal,
    members: &mut [Member],
    warnings: &mut Vec<String>,
    now: Timestamp,
) -> Result<(), vsnap::Refusal> {
    let sts = seen.sts;
    let (_, when_scaled) = pvc_retention(sts);
    let by_controller = when_scaled == "Delete";
    let ordinals: Vec<i32> = members.iter().map(|m| m.ordinal).collect();
    let preview = match (journal.claims, by_controller) {
        (Claims::Prune, false) => Some(prune_preview(
            seen.reads,
            sts,
            journal.to,
            &ordinals,
            journal.snapshot.then_some((seen.classes, journal.snapshot_class.as_deref())),
            now,
        )?),
        _ => None,
    };
    let existing = claims_of(sts, &seen.reads.pvcs);
    for member in members.iter_mut() {
        for claim in existing.iter().filter(|c| c.ordinal == member.ordinal) {
            let name = claim.pvc.name_any();
            let (fate, reason) = match (&preview, by_controller) {
                (_, true) => (Fate::DeletedByController, None),
                (None, false) => (Fate::Kept, None),
                (Some(preview), false) => match preview.candidates.iter().find(|c| c.name == name) {
                    Some(c) if c.verdict == Verdict::Prune => (Fate::Pruned, None),
                    Some(c) => (Fate::KeptByPrune, Some(c.reason.clone())),
                    None => {
                        (Fate::KeptByPrune, Some("prune does not judge it a claim of this set".to_owned()))
                    }
                },
            };
            member.claims.push(MemberClaim {
                name,
                fate,
                reason,
                created_at: claim.pvc.creation_timestamp().map(|t| t.0),
            });
        }
    }
    let claims: Vec<&str> = members.iter().flat_map(|m| m.claims.iter()).map(|c| c.name.as_str()).collect();
    if by_controller && !claims.is_empty() {
        warnings.push(format!(
            "{} has the retention policy whenScaled: Delete: the controller deletes {} itself as their members go{}",
            sts.name_any(),
            claims.join(", "),
            if journal.claims == Claims::Keep { ", whatever --claims keep says" } else { "" }
        ));
    }
    if journal.claims == Claims::Keep && !by_controller && !claims.is_empty() {
        warnings.push(format!(
            "{} stay with their data: a later scale-up re-attaches each to its ordinal, and its member starts on that \
             old data, not on an empty volume",
            claims.join(", ")
        ));
    }
    Ok(())
}

/// The claims the new members of a scale-up will mount because they exist already: left by an
/// earlier scale-down (stale data, a warning that names each), or restored by `pvc restore`.
fn claims_coming(seen: &Seen, members: &mut [Member], warnings: &mut Vec<String>, flags: &RunFlags) {
    let sts = seen.sts;
    let existing = claims_of(sts, &seen.reads.pvcs);
    let mut stale = Vec::new();
    for member in members.iter_mut() {
        for claim in existing.iter().filter(|c| c.ordinal == member.ordinal && !terminating(c.pvc)) {
            let restored = claim.pvc.annotations().get(RESTORED_FROM);
            let name = claim.pvc.name_any();
            if restored.is_none() {
                stale.push(format!("{} will mount {name}", member.pod));
            }
            member.claims.push(MemberClaim {
                name,
                fate: if restored.is_some() { Fate::Restored } else { Fate::Stale },
                reason: restored.map(|s| format!("restored from VolumeSnapshot {s}")),
                created_at: claim.pvc.creation_timestamp().map(|t| t.0),
            });
        }
    }
    if !stale.is_empty() {
        let namespace = sts.namespace().unwrap_or_default();
        let prune = flags.plugin(&namespace, &format!("pvc prune {}", shell_word(&sts.name_any())));
        warnings.push(format!(
            "{}, left by an earlier scale-down: each starts on that old data, not on an empty volume; for empty \
             ones, delete those claims first (`{prune}` shows them)",
            stale.join(", ")
        ));
    }
}

/// What `pvc prune` will make of the claims of `ordinals` once a scale-down to `to` is done:
/// its own plan, on what was read with the set at `to` replicas (settled) and the pods of those
/// ordinals gone; with `snapshot` (the VolumeSnapshotClasses read, and `--snapshot-class`), the
/// snapshots it will take, or why it cannot.
///
/// # Errors
/// `--snapshot`'s refusal, as prune gives it.
pub fn prune_preview(
    reads: &Reads,
    sts: &StatefulSet,
    to: i32,
    ordinals: &[i32],
    snapshot: Option<(Option<&[SnapshotClass]>, Option<&str>)>,
    now: Timestamp,
) -> Result<PrunePlan, vsnap::Refusal> {
    let mut after = sts.clone();
    if let Some(spec) = after.spec.as_mut() {
        spec.replicas = Some(to);
    }
    if let Some(status) = after.status.as_mut() {
        status.replicas = to;
        status.observed_generation = after.metadata.generation;
    }
    let gone: Vec<String> = ordinals.iter().map(|o| pod_name(&sts.name_any(), *o)).collect();
    let mut world = reads.clone();
    world.pods.retain(|p| !(p.namespace() == sts.namespace() && gone.contains(&p.name_any())));
    for s in &mut world.statefulsets {
        if s.name_any() == sts.name_any() && s.namespace() == sts.namespace() {
            *s = after.clone();
        }
    }
    if !world.statefulsets.iter().any(|s| s.name_any() == sts.name_any() && s.namespace() == sts.namespace())
    {
        world.statefulsets.push(after.clone());
    }
    let options = PruneOptions { include_scaled_to_zero: to == 0, retain_volumes: false };
    let mut plan = prune::plan(&world, &[&after], &options);
    plan.candidates.retain(|c| ordinals.contains(&c.ordinal));
    plan.storage_freed = prune::total_capacity(plan.candidates.iter().filter(|c| c.destroys_data()));
    if let Some((classes, explicit)) = snapshot {
        prune::plan_snapshots(&mut plan, &world, &[&after], classes, explicit, now)?;
    }
    Ok(plan)
}

/// What the run does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Scale-up: replicas from `from` to `to`, in one write guarded by the count read.
    SetReplicas {
        from: i32,
        to: i32,
    },
    /// Scale-down: run the decommission hooks of this member, the highest left; then record
    /// that it left.
    Decommission(Member),
    /// Scale-down: this member has left (or there are no hooks): replicas from `replicas` to
    /// `replicas - 1`, guarded by the count read.
    Remove {
        member: Member,
        replicas: i32,
    },
    /// Scale-down with `--claims prune`: every member is gone and the controller has counted
    /// it: prune the claims of the members removed.
    PruneClaims,
    Wait(Waiting),
    /// The replicas are outside the journal's range: someone else scaled the set.
    Outrun {
        replicas: i32,
    },
    Finished,
}

/// Why the run waits.
#[derive(Debug, Clone, PartialEq)]
pub enum Waiting {
    /// The next member may not leave yet: the set would not keep its quorum.
    Quorum { pod: String, hold: Hold },
    /// A member removed still has its pod: one member at a time.
    Leaving { pod: String, why: String },
    /// A new member is not up yet.
    Joining { pod: String, why: String },
    /// The controller has not counted the scale-down yet (prune keeps the claims of a set
    /// still scaling).
    Settling { pod: String, why: String },
}

impl Waiting {
    /// The member waited on.
    pub fn pod(&self) -> &str {
        match self {
            Waiting::Quorum { pod, .. }
            | Waiting::Leaving { pod, .. }
            | Waiting::Joining { pod, .. }
            | Waiting::Settling { pod, .. } => pod,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Waiting::Quorum { pod, hold } => format!("{pod} waits: {}", hold.describe()),
            Waiting::Leaving { why, .. } | Waiting::Joining { why, .. } | Waiting::Settling { why, .. } => {
                why.clone()
            }
        }
    }

    /// What the wait says while it lasts, of the set's `pods` as seen now: `the new member
    /// web-3: Pending on node-2`, `web-4 to be removed: web-4 is being deleted`.
    pub fn words(&self, pods: &[Pod]) -> WaitWords {
        let (what, state) = match self {
            Waiting::Quorum { pod, hold } => {
                (format!("the other members before {pod} leaves"), hold.describe())
            }
            Waiting::Leaving { pod, why } => (format!("{pod} to be removed"), why.clone()),
            Waiting::Joining { pod, .. } => {
                (format!("the new member {pod}"), pod_state(None, pod, None, pods))
            }
            Waiting::Settling { why, .. } => ("the controller to count the scale".to_owned(), why.clone()),
        };
        WaitWords { what, state }
    }
}

/// The next move of the scale `journal` records, on the set as seen now (`pods` its pods) at
/// `now`.
pub fn next(journal: &Journal, sts: &StatefulSet, pods: &[Pod], now: Timestamp) -> Next {
    let name = sts.name_any();
    let range = ordinal_range(sts);
    let replicas_now = range.replicas;
    let own = pods_of(sts, pods);
    let (low, high) = (journal.from.min(journal.to), journal.from.max(journal.to));
    if !(low..=high).contains(&replicas_now) {
        return Next::Outrun { replicas: replicas_now };
    }
    // A member removed whose pod is still there (or being deleted): one at a time.
    if let Some((ordinal, pod)) = own.iter().rev().find(|(o, _)| i64::from(*o) >= range.end()) {
        let pod_name = pod_name(&name, *ordinal);
        let held = holding_finalizers(pod);
        let why = match (terminating(*pod), held.as_slice()) {
            (true, []) => format!("{pod_name} is being deleted"),
            (true, held) => format!(
                "{pod_name} is being deleted, held by finalizer{} {}: it goes once whatever set {} removes {}",
                if held.len() == 1 { "" } else { "s" },
                held.join(", "),
                if held.len() == 1 { "it" } else { "them" },
                if held.len() == 1 { "it" } else { "them" },
            ),
            (false, _) => format!("{pod_name} is still there (the controller has not removed it yet)"),
        };
        return Next::Wait(Waiting::Leaving { pod: pod_name, why });
    }
    match journal.direction() {
        Direction::None => Next::Finished,
        Direction::Up => {
            if replicas_now < journal.to {
                return Next::SetReplicas { from: replicas_now, to: journal.to };
            }
            for ordinal in range.start + journal.from..range.start + journal.to {
                let pod = own.iter().find(|(o, _)| *o == ordinal).map(|(_, p)| *p);
                if let Some(why) = not_up(&name, ordinal, pod, sts, now) {
                    return Next::Wait(Waiting::Joining { pod: pod_name(&name, ordinal), why });
                }
            }
            match scaling_settled(sts) {
                true => Next::Finished,
                false => settling(sts),
            }
        }
        Direction::Down if replicas_now > journal.to => {
            let ordinal = range.start + replicas_now - 1;
            let pod = own.iter().find(|(o, _)| *o == ordinal).map(|(_, p)| *p);
            let member = Member {
                ordinal,
                pod: pod_name(&name, ordinal),
                uid: pod.and_then(|p| p.uid()),
                node: pod.and_then(node_name).map(str::to_owned),
                claims: Vec::new(),
            };
            if journal.left.contains(&ordinal) {
                return Next::Remove { member, replicas: replicas_now };
            }
            let live = members(sts, pods, None);
            if let Err(hold) = may_take_down(&live, ordinal, Quorum::of(replicas_now, journal.min_available))
            {
                return Next::Wait(Waiting::Quorum { pod: member.pod, hold });
            }
            match journal.has_hooks() {
                true => Next::Decommission(member),
                false => Next::Remove { member, replicas: replicas_now },
            }
        }
        // Done once the controller has counted it too (prune keeps the claims of a set still
        // scaling, and a next scale would find it scaling).
        Direction::Down if !scaling_settled(sts) => settling(sts),
        Direction::Down => match journal.claims {
            Claims::Keep => Next::Finished,
            Claims::Prune => Next::PruneClaims,
        },
    }
}

/// Wait until the controller has counted the scale (`status.replicas`, its observed generation).
fn settling(sts: &StatefulSet) -> Next {
    let name = sts.name_any();
    let counted = sts.status.as_ref().map_or(0, |s| s.replicas);
    Next::Wait(Waiting::Settling {
        pod: name.clone(),
        why: format!(
            "the controller has not counted the scale of {name} yet (status.replicas {counted} of {})",
            replicas(sts)
        ),
    })
}

/// Why the new member `ordinal` (its pod `pod`) is not up yet: no pod, down, or Ready for less
/// than minReadySeconds; `None` once it is.
fn not_up(name: &str, ordinal: i32, pod: Option<&Pod>, sts: &StatefulSet, now: Timestamp) -> Option<String> {
    let member = pod_name(name, ordinal);
    let Some(pod) = pod else { return Some(format!("{member} has no pod yet")) };
    if let Some(why) = down(pod, None) {
        return Some(why.describe(&member));
    }
    (!pod_available(pod, min_ready_seconds(sts), now))
        .then(|| format!("{member} is Ready, not yet for minReadySeconds ({}s)", min_ready_seconds(sts)))
}

/// The new members of a scale-up that are up (Ready and available) now: (pod, uid, node).
pub fn joined(
    journal: &Journal,
    sts: &StatefulSet,
    pods: &[Pod],
    now: Timestamp,
) -> Vec<(String, String, String)> {
    if journal.direction() != Direction::Up {
        return Vec::new();
    }
    let name = sts.name_any();
    let start = ordinal_range(sts).start;
    pods_of(sts, pods)
        .into_iter()
        .filter(|(o, _)| (start + journal.from..start + journal.to).contains(o))
        .filter(|(o, p)| not_up(&name, *o, Some(*p), sts, now).is_none())
        .map(|(o, p)| {
            (pod_name(&name, o), p.uid().unwrap_or_default(), node_name(p).unwrap_or_default().to_owned())
        })
        .collect()
}

/// The claims of the members a scale-down removed, as the plan named them.
pub fn claims_of_removed(plan: &Plan) -> Vec<String> {
    plan.members.iter().flat_map(|m| m.claims.iter().map(|c| c.name.clone())).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::fixtures::{created, pod, pvc, sts};
    use crate::core::volume_snapshots::SnapshotClass;

    fn request(replicas: Option<i32>) -> Request {
        Request {
            replicas,
            hooks: Gates::default(),
            min_available: None,
            claims: Claims::Keep,
            snapshot: false,
            snapshot_class: None,
            flags: RunFlags::default(),
        }
    }

    fn hooked(replicas: i32) -> Request {
        Request {
            hooks: Gates { exec: vec!["leave {pod}".into()], ..Gates::default() },
            ..request(Some(replicas))
        }
    }

    /// What was read: `sts`, its pods, its claims.
    fn reads(
        sts: &StatefulSet,
        pods: Vec<Pod>,
        claims: Vec<k8s_openapi::api::core::v1::PersistentVolumeClaim>,
    ) -> Reads {
        Reads {
            statefulsets: vec![sts.clone()],
            pods,
            pvcs: claims,
            autoscalers: Some(Vec::new()),
            ..Reads::default()
        }
    }

    fn planned(reads: &Reads, req: &Request, journal: Option<&Journal>) -> Result<Plan, String> {
        let seen = Seen { sts: &reads.statefulsets[0], reads, classes: None };
        plan(&seen, req, journal, created()).map_err(|e| e.to_string())
    }

    fn web(replicas: i32) -> StatefulSet {
        sts("web", replicas).templates(&["data"]).build()
    }

    fn up(set: &StatefulSet, count: i32) -> Vec<Pod> {
        (0..count).map(|o| pod(set, o).build()).collect()
    }

    fn journal(from: i32, to: i32) -> Journal {
        Journal {
            started_at: created(),
            from,
            to,
            left: Vec::new(),
            hooks: Gates { exec: vec!["leave {pod}".into()], ..Gates::default() },
            min_available: None,
            claims: Claims::Keep,
            snapshot: false,
            snapshot_class: None,
        }
    }

    /// Refused before anything is written, each with its words; usage errors say so.
    #[test]
    fn a_scale_that_cannot_finish_or_would_fight_an_owner_is_refused_up_front() {
        let five = web(5);
        let pods = up(&five, 5);
        let mut not_ready = pods.clone();
        not_ready[1] = pod(&five, 1).ready(false).build();
        let argo = sts("web", 5)
            .annotation("argocd.argoproj.io/tracking-id", "shop:apps/StatefulSet:default/web")
            .managed_by("argocd-controller", "Apply", json!({"f:spec": {"f:replicas": {}}}))
            .build();
        let rolling = sts("web", 5).annotation(ROLLOUT_ANNOTATION, "{}").build();
        let scaling = sts("web", 5).scaling(4).build();
        let hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({
            "metadata": {"name": "web-hpa", "namespace": "default"},
            "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "web", "apiVersion": "apps/v1"},
                     "minReplicas": 3, "maxReplicas": 7}
        }))
        .unwrap();
        let mut autoscaled = reads(&five, pods.clone(), vec![]);
        autoscaled.autoscalers = Some(vec![hpa]);
        let mut min_six = request(Some(3));
        min_six.min_available = Some(6);
        let three = web(3);
        let three_pods = up(&three, 3);
        let mut prune_up = request(Some(5));
        prune_up.claims = Claims::Prune;
        type Row = (&'static str, Reads, Request, Option<Journal>, &'static str, bool);
        let cases: Vec<Row> = vec![
            (
                "no target",
                reads(&five, pods.clone(), vec![]),
                request(None),
                None,
                "pass --replicas N: no scale of web is in progress to resume",
                true,
            ),
            (
                "below the majority",
                reads(&five, pods.clone(), vec![]),
                request(Some(2)),
                None,
                "refusing to scale web from 5 to 2: it must keep 3 of 5 up (its majority); pass --min-available 2 to \
              accept 2 members; nothing was changed",
                false,
            ),
            (
                "a floor above the members",
                reads(&five, pods.clone(), vec![]),
                min_six,
                None,
                "--min-available 6 for web is more than its 5 members",
                true,
            ),
            (
                "another member down",
                reads(&five, not_ready, vec![]),
                hooked(3),
                None,
                "refusing to scale web down: web-1 is not Ready; a member leaves only while every other is up; \
              nothing was changed",
                false,
            ),
            (
                "a hook on a scale-up",
                reads(&three, three_pods.clone(), vec![]),
                hooked(5),
                None,
                "--decommission-exec is for a scale-down, and web scales up from 3 to 5",
                true,
            ),
            (
                "a prune on a scale-up",
                reads(&three, three_pods, vec![]),
                prune_up,
                None,
                "--claims prune is for a scale-down, and web scales up from 3 to 5",
                true,
            ),
            (
                "Argo CD owns replicas",
                reads(&argo, pods.clone(), vec![]),
                request(Some(3)),
                None,
                "refusing to scale web: its replicas are owned by Argo CD application shop (field manager \
              argocd-controller), which sets them back at its next sync (at once with self-heal); change them there \
              instead; nothing was changed",
                false,
            ),
            (
                "an autoscaler",
                autoscaled,
                request(Some(3)),
                None,
                "refusing to scale web: HorizontalPodAutoscaler web-hpa sets its replicas (between 3 and 7); change its \
              minReplicas and maxReplicas instead, or delete it; nothing was changed",
                false,
            ),
            (
                "mid-rollout",
                reads(&rolling, pods.clone(), vec![]),
                request(Some(3)),
                None,
                "refusing to scale web: a rollout of it is in progress (annotation kubectl-stateful.dev/rollout); \
              nothing was changed",
                false,
            ),
            (
                "scaling already",
                reads(&scaling, pods.clone(), vec![]),
                request(Some(3)),
                None,
                "refusing to scale web: it is scaling already (status.replicas 4 of 5); try again once it settles; \
              nothing was changed",
                false,
            ),
            (
                "another scale in progress",
                reads(&five, pods.clone(), vec![]),
                request(Some(2)),
                Some(journal(5, 3)),
                "a scale of web from 5 to 3 is in progress: run `kubectl stateful scale web -n default` to resume it, or \
              `kubectl stateful scale web --discard-journal -n default` to give it up; nothing was changed",
                false,
            ),
            (
                "outrun",
                reads(&web(6), up(&web(6), 6), vec![]),
                request(None),
                Some(journal(5, 3)),
                "web has 6 replicas, outside the scale from 5 to 3 its journal records (someone else scaled it): \
              `kubectl stateful scale web --discard-journal -n default` gives the journal up; nothing was changed",
                false,
            ),
        ];
        for (case, reads, req, journal, expected, usage) in cases {
            let seen = Seen { sts: &reads.statefulsets[0], reads: &reads, classes: None };
            let refused = plan(&seen, &req, journal.as_ref(), created()).expect_err(case);
            assert_eq!(refused.to_string(), expected, "{case}");
            assert_eq!(refused.is_usage(), usage, "{case}: usage");
        }
        let mut accepted = request(Some(2));
        accepted.min_available = Some(2);
        assert!(planned(&reads(&five, pods.clone(), vec![]), &accepted, None).is_ok(), "--min-available 2");
        assert!(
            planned(&reads(&five, pods, vec![]), &request(Some(3)), None).is_ok(),
            "3 of 5 keeps its majority"
        );
    }

    /// A scale-down goes highest first; the claims of the members that go are kept (and said to
    /// come back with their data) or judged by prune's own rules as they will stand.
    #[test]
    fn a_scale_down_plans_the_members_highest_first_and_the_fate_of_their_claims() {
        let five = web(5);
        let claims: Vec<_> = (0..5).map(|o| pvc(&format!("data-web-{o}")).of(&five).build()).collect();
        let mut restored = pvc("data-web-3").of(&five).build();
        restored.annotations_mut().insert(RESTORED_FROM.into(), "snap-1".into());
        let kept = planned(&reads(&five, up(&five, 5), claims.clone()), &hooked(3), None).unwrap();
        assert_eq!(kept.direction, Direction::Down);
        assert_eq!(kept.members.iter().map(|m| m.pod.as_str()).collect::<Vec<_>>(), ["web-4", "web-3"]);
        assert_eq!(kept.members[0].uid.as_deref(), Some("uid-default-web-4"));
        assert_eq!(kept.quorum, Some(Quorum::of(5, None)));
        let fates = |p: &Plan| -> Vec<(String, Fate)> {
            p.members.iter().flat_map(|m| m.claims.iter().map(|c| (c.name.clone(), c.fate))).collect()
        };
        assert_eq!(
            fates(&kept),
            [("data-web-4".to_owned(), Fate::Kept), ("data-web-3".to_owned(), Fate::Kept)]
        );
        assert_eq!(
            kept.warnings,
            [
                "data-web-4, data-web-3 stay with their data: a later scale-up re-attaches each to its ordinal, and its \
              member starts on that old data, not on an empty volume"
            ]
        );
        let mut prune = hooked(3);
        prune.claims = Claims::Prune;
        let mut with_restored = claims.clone();
        with_restored[3] = restored;
        let pruned = planned(&reads(&five, up(&five, 5), with_restored), &prune, None).unwrap();
        assert_eq!(
            fates(&pruned),
            [("data-web-4".to_owned(), Fate::Pruned), ("data-web-3".to_owned(), Fate::KeptByPrune)]
        );
        assert!(
            pruned.members[1].claims[0]
                .reason
                .as_deref()
                .unwrap()
                .contains("restored from VolumeSnapshot snap-1"),
            "{pruned:?}"
        );
        assert!(pruned.warnings.is_empty(), "{:?}", pruned.warnings);
        let mut snapshot = prune.clone();
        snapshot.snapshot = true;
        let reads = reads(&five, up(&five, 5), claims);
        let no_api = Seen { sts: &five, reads: &reads, classes: None };
        assert!(
            plan(&no_api, &snapshot, None, created())
                .unwrap_err()
                .to_string()
                .starts_with("--snapshot refused: this cluster has no VolumeSnapshot API"),
            "prune's own refusal, before anything is written"
        );
        let classes: Vec<SnapshotClass> = Vec::new();
        let no_volumes = Seen { sts: &five, reads: &reads, classes: Some(&classes) };
        assert!(
            plan(&no_volumes, &snapshot, None, created())
                .unwrap_err()
                .to_string()
                .contains("PersistentVolumes are not readable")
        );
        let deleting = sts("web", 5).templates(&["data"]).build();
        let mut deleting = deleting;
        deleting.spec.as_mut().unwrap().persistent_volume_claim_retention_policy =
            Some(serde_json::from_value(json!({"whenScaled": "Delete"})).unwrap());
        let claims: Vec<_> = (3..5).map(|o| pvc(&format!("data-web-{o}")).of(&deleting).build()).collect();
        let by_controller =
            planned(&self::reads(&deleting, up(&deleting, 5), claims), &request(Some(3)), None).unwrap();
        assert_eq!(by_controller.members[0].claims[0].fate, Fate::DeletedByController);
        assert!(by_controller.warnings[0].contains("whenScaled: Delete"), "{:?}", by_controller.warnings);
    }

    /// A scale-up names the claims its new members will mount: stale data, warned about with the
    /// prune that shows them; a restored claim is what a person meant.
    #[test]
    fn a_scale_up_names_the_old_claims_its_members_will_mount() {
        let three = web(3);
        let mut restored = pvc("data-web-4").of(&three).build();
        restored.annotations_mut().insert(RESTORED_FROM.into(), "snap-1".into());
        let claims = vec![pvc("data-web-3").of(&three).build(), restored];
        let plan = planned(&reads(&three, up(&three, 3), claims), &request(Some(6)), None).unwrap();
        assert_eq!((plan.direction, plan.quorum), (Direction::Up, None));
        assert_eq!(
            plan.members.iter().map(|m| m.pod.as_str()).collect::<Vec<_>>(),
            ["web-3", "web-4", "web-5"]
        );
        assert_eq!(plan.members[0].claims[0].fate, Fate::Stale);
        assert_eq!(plan.members[1].claims[0].fate, Fate::Restored);
        assert!(plan.members[2].claims.is_empty());
        assert_eq!(
            plan.warnings,
            [
                "web-3 will mount data-web-3, left by an earlier scale-down: each starts on that old data, not on an \
              empty volume; for empty ones, delete those claims first (`kubectl stateful pvc prune web -n default` \
              shows them)"
            ]
        );
        let same = planned(&reads(&three, up(&three, 3), vec![]), &request(Some(3)), None).unwrap();
        assert_eq!((same.direction, same.members.len()), (Direction::None, 0));
    }

    /// Step by step over 5 -> 3 with a hook: the quorum checked, the hook of the highest member,
    /// then its removal, then the next only once its pod is gone; a member whose hook passed is
    /// not asked again.
    #[test]
    fn a_scale_down_goes_one_member_at_a_time_each_leaving_first() {
        let at = |replicas: i32, pods: Vec<Pod>, left: &[i32], claims: Claims| {
            let set = sts("web", replicas).templates(&["data"]).build();
            let pods: Vec<Pod> = pods
                .into_iter()
                .map(|mut p| {
                    p.metadata.owner_references.as_mut().unwrap()[0].uid = set.uid().unwrap();
                    p
                })
                .collect();
            let journal = Journal { left: left.to_vec(), claims, ..journal(5, 3) };
            match next(&journal, &set, &pods, created()) {
                Next::Decommission(m) => format!("decommission {}", m.pod),
                Next::Remove { member, replicas } => {
                    format!("remove {} ({replicas} -> {})", member.pod, replicas - 1)
                }
                Next::Wait(w) => format!("wait: {}", w.describe()),
                Next::PruneClaims => "prune".into(),
                Next::SetReplicas { from, to } => format!("set {from} -> {to}"),
                Next::Outrun { replicas } => format!("outrun at {replicas}"),
                Next::Finished => "finished".into(),
            }
        };
        let five = web(5);
        let all = up(&five, 5);
        let mut one_down = all.clone();
        one_down[0] = pod(&five, 0).ready(false).build();
        let mut leaving = all.clone();
        leaving[4] = pod(&five, 4).terminating().build();
        let mut left_not_ready = all.clone();
        left_not_ready[4] = pod(&five, 4).ready(false).build();
        type Row = (&'static str, i32, Vec<Pod>, Vec<i32>, Claims, &'static str);
        let cases: Vec<Row> = vec![
            ("start", 5, all.clone(), vec![], Claims::Keep, "decommission web-4"),
            (
                "another member down",
                5,
                one_down,
                vec![],
                Claims::Keep,
                "wait: web-4 waits: web-0 is not Ready",
            ),
            ("its hook passed", 5, left_not_ready, vec![4], Claims::Keep, "remove web-4 (5 -> 4)"),
            ("its pod goes", 4, leaving, vec![4], Claims::Keep, "wait: web-4 is being deleted"),
            (
                "still there",
                4,
                all.clone(),
                vec![4],
                Claims::Keep,
                "wait: web-4 is still there (the controller has not removed it yet)",
            ),
            ("gone", 4, all[..4].to_vec(), vec![4], Claims::Keep, "decommission web-3"),
            ("both left", 3, all[..3].to_vec(), vec![4, 3], Claims::Keep, "finished"),
            ("both left, prune", 3, all[..3].to_vec(), vec![4, 3], Claims::Prune, "prune"),
            ("someone scaled it", 6, all.clone(), vec![], Claims::Keep, "outrun at 6"),
        ];
        for (case, replicas, pods, left, claims, expected) in cases {
            assert_eq!(at(replicas, pods, &left, claims), expected, "{case}");
        }
        let unsettled = sts("web", 3).templates(&["data"]).scaling(4).build();
        let journal = Journal { claims: Claims::Prune, ..journal(5, 3) };
        assert!(
            matches!(next(&journal, &unsettled, &[], created()), Next::Wait(Waiting::Settling { .. })),
            "prune waits until the controller has counted the scale-down"
        );
        let no_hooks = Journal { hooks: Gates::default(), ..journal };
        assert!(
            matches!(next(&no_hooks, &five, &all, created()), Next::Remove { replicas: 5, .. }),
            "without hooks a member is removed once the quorum allows"
        );
    }

    /// A scale-up: replicas set once, then each new member waited for until Ready.
    #[test]
    fn a_scale_up_sets_replicas_once_then_waits_for_each_new_member() {
        let journal = Journal { hooks: Gates::default(), ..journal(3, 5) };
        let three = web(3);
        assert_eq!(next(&journal, &three, &up(&three, 3), created()), Next::SetReplicas { from: 3, to: 5 });
        let five = web(5);
        let mut pods = up(&five, 4);
        pods[3] = pod(&five, 3).ready(false).build();
        let step = next(&journal, &five, &pods, created());
        assert!(
            matches!(&step, Next::Wait(Waiting::Joining { why, .. }) if why == "web-3 is not Ready"),
            "{step:?}"
        );
        // Its progress line: the new member and its pod as kubectl says it, with its node.
        let Next::Wait(waiting) = &step else { unreachable!() };
        assert_eq!(
            waiting.words(&pods),
            WaitWords { what: "the new member web-3".into(), state: "Running, not Ready on node-0".into() }
        );
        assert_eq!(joined(&journal, &five, &pods, created()), Vec::<(String, String, String)>::new());
        let pods = up(&five, 4);
        let step = next(&journal, &five, &pods, created());
        assert!(
            matches!(&step, Next::Wait(Waiting::Joining { why, .. }) if why == "web-4 has no pod yet"),
            "{step:?}"
        );
        assert_eq!(
            joined(&journal, &five, &pods, created()),
            [("web-3".to_owned(), "uid-default-web-3".to_owned(), "node-0".to_owned())]
        );
        assert_eq!(next(&journal, &five, &up(&five, 5), created()), Next::Finished);
    }

    #[test]
    fn the_journal_round_trips_and_a_resumed_plan_keeps_its_choices() {
        let mut written = journal(5, 3);
        written.hooks.exec = vec!["leave {pod} 2>/dev/null && echo '<ok>'".into()];
        written.left = vec![4];
        written.claims = Claims::Prune;
        let text = written.to_annotation();
        assert_eq!(serde_json::from_str::<Journal>(&text).unwrap(), written);
        // Sent with Go's escapes (the write primitive's), so that a later `test` of it compares as
        // the API server stored it: a hook's `2>/dev/null` must not fail the next write.
        let on = sts("web", 5).annotation(SCALE_ANNOTATION, &text).build();
        let body = String::from_utf8(
            crate::core::patches::scale_replicas(&on, 4, 3, SCALE_ANNOTATION, Some(&text)).body(),
        )
        .unwrap();
        assert!(body.contains(r"2\u003e/dev/null \u0026\u0026 echo '\u003cok\u003e'"), "{body}");
        assert!(!body.contains(['<', '>', '&']), "{body}");
        let sent: serde_json::Value = serde_json::from_str(&body).unwrap();
        let tested = sent
            .as_array()
            .unwrap()
            .iter()
            .find(|op| op["path"] == "/metadata/annotations/kubectl-stateful.dev~1scale");
        assert_eq!(tested.unwrap()["value"], text.as_str(), "the journal itself, unchanged");
        let four = web(4);
        let resumed = planned(&reads(&four, up(&four, 4), vec![]), &request(None), Some(&written)).unwrap();
        assert!(resumed.resumed);
        assert_eq!((resumed.from, resumed.to, resumed.claims), (5, 3, Claims::Prune));
        assert_eq!(resumed.done, [4]);
        assert_eq!(resumed.left, [4]);
        assert_eq!(resumed.members.iter().map(|m| m.pod.as_str()).collect::<Vec<_>>(), ["web-4", "web-3"]);
        let unreadable = sts("web", 4).annotation(SCALE_ANNOTATION, "{").build();
        let refused = Journal::of(&unreadable, &RunFlags::default()).unwrap_err().to_string();
        assert!(refused.starts_with("annotation kubectl-stateful.dev/scale on StatefulSet web"), "{refused}");
        assert!(
            refused.ends_with(&format!(
                "nothing was changed: `kubectl stateful scale web --discard-journal -n {}` removes it",
                crate::core::fixtures::NAMESPACE
            )),
            "{refused}"
        );
    }
}
