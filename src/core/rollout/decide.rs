//! What a `rollout` run does, decided from what was read: the StatefulSet (with its journal),
//! its pods and the request. The shell fetches, calls [`decide`], then applies the decision
//! and waits; every refusal and every path is here, under a table of unit tests (the split
//! argo-rollouts makes between `getPatches` and `PromoteRollout`).

use crate::core::objects::LivePods;
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Namespace, Pod, PodTemplateSpec};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::conditions::{is_observed, is_settled, update_pending};
use super::gates::Gates;
use super::journal::{Journal, JournalError};
use super::order::{ZONE_LABEL, eviction_plan, replacement_order};
use super::plan::{Step, Steps, plan, released, single_step};
use crate::core::facts::{Honoured, MaxUnavailableFinding, RECREATE, pods_at_once, same_template};
use crate::core::failures::{blockers, controller_failures};
use crate::core::names::{pod_name, pod_ordinal};
use crate::core::objects::{
    ON_DELETE, ROLLING_UPDATE, current_revision, ordinal_range, owned_by, partition, pod_revision, pods_of,
    replicas, short_revision, update_revision, update_strategy,
};
use crate::core::orphans::describe_range;
use crate::core::owners::{Contested, Owners, partition_snippet};

/// What the person asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    /// The pod template `--image` or `--patch` produce, when it differs from the current one.
    pub template: Option<&'a PodTemplateSpec>,
    /// `--partition N`: one explicit step.
    pub partition: Option<i64>,
    /// `--steps`.
    pub steps: Option<&'a Steps>,
    /// `--abort`.
    pub abort: bool,
    /// `--hold`: hold every pod back for a template change the StatefulSet's owner applies.
    pub hold: bool,
    /// `--override-owner`: write fields a GitOps tool or Helm owns, though it sets them back.
    pub override_owner: bool,
    /// The gates given on the command line (`--gate-exec`, …); `None` when none was given.
    pub gates: Option<&'a Gates>,
    /// `--by-zone`: replace pods one zone at a time ([`Cluster::zones`] holds where they run).
    pub by_zone: bool,
    /// `--evict`: replace a RollingUpdate StatefulSet's pods by eviction, as for OnDelete, so
    /// that PodDisruptionBudgets are enforced by the API server at each pod.
    pub evict: bool,
}

/// Why a run must not change anything.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(
        "--partition has no meaning for {name}: it uses the OnDelete update strategy, which has no partition; \
         use --steps to choose how many pods each step replaces"
    )]
    PartitionOnDelete { name: String },
    #[error(
        "--by-zone needs a StatefulSet whose pods this tool replaces itself (OnDelete, or with --evict): {name} uses \
         RollingUpdate, where the controller replaces pods highest ordinal first whatever their zone"
    )]
    ZonesNeedOnDelete { name: String },
    #[error(
        "--evict starts a rollout: a rollout of {name} is in progress already; run it without --evict to resume it, \
         or add --abort; nothing was changed"
    )]
    EvictMidRollout { name: String },
    #[error(
        "--gate-container {container}: no container {container:?} in the pod template (containers: {known})"
    )]
    UnknownGateContainer { container: String, known: String },
    #[error(
        "--hold is not needed for {name}: under the OnDelete update strategy no pod moves until it is deleted; \
         change the template in Git, then `kubectl stateful rollout {name}` steps it through; nothing was changed"
    )]
    HoldOnDelete { name: String },
    #[error(
        "{name} uses the Recreate update strategy (KEP-3541): the controller deletes every pod before it creates \
         any on the new revision, so there is no partition to step; nothing was changed. To roll it out in steps, \
         switch it to RollingUpdate with every pod held back first (`kubectl patch statefulset {name} -n \
         {namespace} --type merge -p '{{\"spec\":{{\"updateStrategy\":{{\"type\":\"RollingUpdate\",\"rollingUpdate\":\
         {{\"partition\":{replicas}}}}}}}}}'`), then run this again"
    )]
    Recreate { name: String, namespace: String, replicas: i32 },
    #[error("{0}")]
    Owned(Box<OwnedField>),
    #[error(
        "the template of {name} came from {owner}, not from this tool: an abort here would write the old template, \
         which its owner sets back at its next sync; nothing was changed. Revert the change in Git instead: once it \
         is applied, the controller rolls back the pods released so far ({released}), and `kubectl stateful \
         rollout {name} --abort` then waits for them, restores partition {partition_before} and ends the rollout. \
         To roll back now anyway, add --override-owner"
    )]
    RevertInGit { name: String, owner: String, released: String, partition_before: i32 },
    #[error("{name} has an unknown update strategy {strategy:?}")]
    UnknownStrategy { name: String, strategy: String },
    #[error("--partition {partition} is out of range: {name} has {replicas} replicas (0..={replicas})")]
    PartitionOutOfRange { name: String, partition: i64, replicas: i32 },
    #[error(
        "the controller has not observed the latest spec of {name} yet: its revisions and counts are stale"
    )]
    NotObserved { name: String },
    #[error(
        "{name} is scaling (status.replicas {counted} of {replicas}): a partition does not hold back pods created \
         meanwhile; wait until it settles. If a broken template blocks the scale-up, fix the template itself or \
         scale back"
    )]
    Scaling { name: String, counted: i32, replicas: i32 },
    #[error(
        "a rollout of {name} started at {started_at} is in progress: run `kubectl stateful rollout {name}` to \
         resume it, or {abort} before staging another"
    )]
    InProgress { name: String, started_at: Timestamp, abort: &'static str },
    #[error("{name} cannot be rolled out now: {reason}; nothing was changed")]
    Blocked { name: String, reason: String },
    #[error(
        "ordinal {ordinal} of {name} has no pod ({pod}) and the controller has not created it: a rollout would \
         wait for it forever; nothing was changed. `kubectl stateful status {name}` shows why"
    )]
    PodMissing { name: String, ordinal: i32, pod: String },
    #[error(
        "pod {pod} belongs to {name} but holds an ordinal outside its live ordinals {range} (a scale-down that \
         has not finished, or a pod the StatefulSet adopted): a partition does not hold it back; nothing was \
         changed. Wait for the scale-down to finish, or delete the pod if it is a stray"
    )]
    StrayPod { name: String, pod: String, range: String },
    #[error("{what} is being deleted{}: nothing to roll out or back; nothing was changed",
        if finalizers.is_empty() { String::new() } else { format!(" (finalizers {})", finalizers.join(", ")) })]
    Deleting { what: String, finalizers: Vec<String> },
    #[error(
        "an abort of {name} was interrupted and is not finished: run `kubectl stateful rollout {name} --abort` \
         to finish it before --image, --patch or --partition; nothing was changed"
    )]
    AbortPending { name: String },
    #[error(
        "{source}; nothing was changed. `kubectl stateful rollout {name} --discard-journal` shows it and removes it \
         (the StatefulSet stays as it is)"
    )]
    Journal {
        name: String,
        #[source]
        source: JournalError,
    },
}

/// A field this run would write that a tool which sets it back owns.
#[derive(Debug, thiserror::Error)]
#[error(
    "{field} of {name} is owned by {owner}, which sets it back {when}: {consequence}; nothing was changed. {remedy}"
)]
pub struct OwnedField {
    pub name: String,
    /// `The partition`, `The image of container app`, `The pod template`.
    pub field: String,
    pub owner: String,
    /// When the owner sets it back (`at its next sync (at once with self-heal)`).
    pub when: &'static str,
    pub consequence: &'static str,
    pub remedy: String,
    /// What to change in the owner's configuration, to print above the error.
    pub snippet: Option<String>,
}

impl Refusal {
    /// A refusal caused by the command line alone (exit 2), not by the cluster's state.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Refusal::PartitionOutOfRange { .. }
                | Refusal::PartitionOnDelete { .. }
                | Refusal::ZonesNeedOnDelete { .. }
                | Refusal::UnknownGateContainer { .. }
        )
    }

    /// A refusal that waiting may lift: the controller catching up with the spec, or a pod
    /// count that is off only while a pod is replaced (the shell waits, then decides again).
    pub fn may_pass(&self) -> bool {
        matches!(
            self,
            Refusal::NotObserved { .. }
                | Refusal::Scaling { .. }
                | Refusal::PodMissing { .. }
                | Refusal::StrayPod { .. }
        )
    }

    /// A refusal about the pods (missing, strays, a short count): the shell waits for them to
    /// settle before deciding again.
    pub fn waits_for_pods(&self) -> bool {
        matches!(self, Refusal::Scaling { .. } | Refusal::PodMissing { .. } | Refusal::StrayPod { .. })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nothing is pending and no partition was asked for: every pod runs `revision`.
    NothingToDo {
        revision: String,
    },
    /// No update is pending: `--partition` only moves the partition (no journal, no wait).
    MovePartition {
        to: i32,
        revision: String,
    },
    Roll(Box<Roll>),
    Abort(Abort),
    /// `--abort` with nothing to roll back: every pod runs `revision`.
    NothingToAbort {
        revision: String,
    },
    /// `--hold`: raise the partition to hold every pod back and write a held journal.
    Hold(Hold),
    /// A held rollout with no template change yet: nothing to step.
    Held {
        partition: i32,
        revision: String,
    },
}

/// Holding every pod back for a template change that comes from the StatefulSet's owner: the
/// partition raised to `partition` (the replica count) with a held journal, nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct Hold {
    pub partition: i32,
    pub journal: Journal,
    /// Who applies the StatefulSet, when its labels and annotations say (the next template
    /// change is expected from there).
    pub owner: Option<String>,
}

/// A rollout to run: an optional stage, then steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Roll {
    pub from_revision: Option<String>,
    /// `None` when this run stages a new template (its revision is named once staged).
    pub to_revision: Option<String>,
    pub replicas: i32,
    /// The partition now (for [`Replace::Eviction`], the pods not on the update revision).
    pub partition: i32,
    /// Who replaces the pods a step releases.
    pub replace: Replace,
    pub stage: Option<Stage>,
    /// The journal a new rollout writes: with the stage, or with the first step when it does
    /// not stage (an explicit step on a template someone else changed).
    pub journal: Option<Journal>,
    /// A resumed rollout first waits for what the partition already releases (step 0).
    pub settle_first: Option<Step>,
    pub steps: Vec<Step>,
    /// How many released pods the controller updates at once: `maxUnavailable` when this
    /// server honours it, else 1 (`core::facts::pods_at_once`).
    pub pods_at_once: i32,
    /// The gates each step passes: the journal's for a resumed rollout, else the request's.
    pub gates: Gates,
    /// What the person should know before it goes on (pods no step released that already run
    /// the update revision, a `maxUnavailable` the server ignores, revisions that differ only
    /// in encoding).
    pub warnings: Vec<String>,
}

/// Staging: the new template (if any) and the partition raised so that no pod moves.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub template: Option<PodTemplateSpec>,
    /// `None` under OnDelete: there is no partition, and no pod moves until it is deleted.
    pub partition: Option<i32>,
    /// `--evict`: switch the update strategy to OnDelete for the rollout (the journal keeps the
    /// strategy from before, restored at the end).
    pub switch_to_on_delete: bool,
}

/// Who replaces the pods of a step (`controller` or `eviction` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Replace {
    /// The StatefulSet controller, once the partition releases them (RollingUpdate).
    #[default]
    Controller,
    /// This tool, through the Eviction API (`pods/eviction`, so PodDisruptionBudgets are
    /// honoured), one pod at a time; the controller re-creates each on the update revision
    /// (OnDelete: `newVersionedStatefulSetPod` in stateful_set_utils.go).
    Eviction,
}

/// A rollback to `target`, in two writes: the template of `target` with the partition at
/// `rollback_partition` (so the controller rolls back every live pod on another revision), then,
/// once every live pod runs `target` and is Ready, the partition from before (`partition`) with
/// the journal removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Abort {
    /// The revision whose template is restored.
    pub target: String,
    /// The partition while the controller rolls pods back: at or below the lowest replica index
    /// of any live pod not on `target`, and never above the partition from before.
    pub rollback_partition: i32,
    /// The partition restored at the end.
    pub partition: i32,
    /// The template still has to be written (the update revision is not `target` yet); false
    /// when an interrupted abort already restored it.
    pub restore_template: bool,
    /// The journal written with the restored template, marked `aborting`.
    pub journal: Journal,
    /// An abort an earlier run started and did not finish.
    pub resumed: bool,
    /// Who rolls the pods back: the controller, or this tool by eviction (OnDelete).
    pub replace: Replace,
    /// What the person should know first (an owner that will set the restored template back).
    pub warnings: Vec<String>,
}

/// What was read from the cluster for a decision.
#[derive(Debug, Clone, Copy)]
pub struct Cluster<'a> {
    /// The StatefulSet's namespace, when it could be read.
    pub namespace: Option<&'a Namespace>,
    pub sts: &'a StatefulSet,
    /// The StatefulSet's pods.
    pub pods: &'a [Pod],
    /// Warning events about the StatefulSet (empty when they could not be read).
    pub events: &'a [Event],
    /// Whether the API server keeps `maxUnavailable` (`None`: not asked, it does not matter).
    pub max_unavailable: Option<&'a Honoured>,
    /// The StatefulSet's ControllerRevisions (empty when they could not be read, or its
    /// revisions are the same).
    pub revisions: &'a [ControllerRevision],
    /// The zone of each live ordinal's node, read for `--by-zone` (`None` otherwise).
    pub zones: Option<&'a BTreeMap<i32, Option<String>>>,
}

/// Decides what this run does. `now` stamps a new journal. When the refusal
/// [`may_pass`](Refusal::may_pass), the shell waits for the controller and decides again.
///
/// # Errors
/// A [`Refusal`] naming why nothing may change.
pub fn decide(cluster: &Cluster, request: &Request, now: Timestamp) -> Result<Decision, Refusal> {
    let Cluster { namespace, sts, pods, events, max_unavailable, revisions, zones } = *cluster;
    let name = sts.name_any();
    for (what, meta) in [
        (format!("StatefulSet {name}"), Some(&sts.metadata)),
        (format!("namespace {}", sts.namespace().unwrap_or_default()), namespace.map(|n| &n.metadata)),
    ] {
        if let Some(meta) = meta.filter(|m| m.deletion_timestamp.is_some()) {
            return Err(Refusal::Deleting { what, finalizers: meta.finalizers.clone().unwrap_or_default() });
        }
    }
    let replace = match update_strategy(sts) {
        ROLLING_UPDATE => Replace::Controller,
        ON_DELETE => Replace::Eviction,
        RECREATE => {
            let namespace = sts.namespace().unwrap_or_default();
            return Err(Refusal::Recreate { name, namespace, replicas: replicas(sts) });
        }
        other => return Err(Refusal::UnknownStrategy { name, strategy: other.to_owned() }),
    };
    // --evict on a RollingUpdate set: replaced by eviction like OnDelete, with the strategy
    // switched for the rollout's duration (staged with it, restored at its end).
    let switching = request.evict && replace == Replace::Controller && !request.abort;
    let replace = if switching { Replace::Eviction } else { replace };
    let evicting = replace == Replace::Eviction;
    match (evicting, request.partition.is_some(), request.by_zone, request.hold) {
        (true, true, _, _) => return Err(Refusal::PartitionOnDelete { name }),
        (false, _, true, _) => return Err(Refusal::ZonesNeedOnDelete { name }),
        (true, _, _, true) => return Err(Refusal::HoldOnDelete { name }),
        _ => {}
    }
    // The container an exec gate runs in must exist in the template the pods will run.
    if let Some(container) = request.gates.and_then(|g| g.container.as_deref()) {
        let template = request.template.or(sts.spec.as_ref().map(|s| &s.template));
        let known: Vec<&str> = template
            .and_then(|t| t.spec.as_ref())
            .map(|s| s.containers.iter().map(|c| c.name.as_str()).collect())
            .unwrap_or_default();
        if !known.contains(&container) {
            return Err(Refusal::UnknownGateContainer {
                container: container.to_owned(),
                known: known.join(", "),
            });
        }
    }
    let replicas = replicas(sts);
    if let Some(n) = request.partition
        && !(0..=i64::from(replicas)).contains(&n)
    {
        return Err(Refusal::PartitionOutOfRange { name, partition: n, replicas });
    }
    // Revisions and counts in the status mean something only once the controller has seen the
    // latest spec (a template just applied by someone else, say).
    if !is_observed(sts) {
        return Err(Refusal::NotObserved { name });
    }
    let journal = Journal::of(sts).map_err(|source| Refusal::Journal { name: name.clone(), source })?;
    let aborting = journal.as_ref().is_some_and(|j| j.aborting);
    if aborting && !request.abort && (request.template.is_some() || request.partition.is_some()) {
        return Err(Refusal::AbortPending { name });
    }
    let owners = Owners::of(sts);
    if request.abort || aborting {
        return owned_abort(
            abort(sts, pods, journal.clone(), now),
            sts,
            pods,
            journal.as_ref(),
            &owners,
            request,
        );
    }
    if request.hold {
        return hold(sts, journal, &owners, request, now);
    }
    if let (Some(journal), Some(_)) = (&journal, request.template) {
        return Err(Refusal::InProgress { name, started_at: journal.started_at, abort: abort_hint(sts) });
    }
    if switching && journal.is_some() {
        return Err(Refusal::EvictMidRollout { name });
    }
    let explicit = request.partition.map(|n| n as i32);
    let pending = request.template.is_some() || update_pending(sts, pods);
    if journal.is_none() && !pending {
        let revision = update_revision(sts).unwrap_or("?").to_owned();
        return match explicit {
            Some(to) => {
                owned_partition(sts, &owners, request)?;
                Ok(Decision::MovePartition { to, revision })
            }
            None => Ok(Decision::NothingToDo { revision }),
        };
    }
    if let (Some(journal), false, None) = (&journal, pending, explicit)
        && journal.held
    {
        let revision = update_revision(sts).unwrap_or("?").to_owned();
        return Ok(Decision::Held { partition: partition(sts), revision });
    }
    // Every run from here writes the partition; one that stages also writes the template.
    let mut overridden = Vec::new();
    // The partition, or for --evict the whole update strategy it lives in.
    if !evicting || switching {
        overridden.extend(owned_partition(sts, &owners, request)?);
    }
    if let Some(template) = request.template {
        overridden.extend(owned_template(sts, &owners, template, request)?);
    }
    preflight(sts, pods, events, journal.is_none(), now)?;
    let sizes = match (request.steps, &journal) {
        (Some(steps), _) => steps.clone(),
        (None, Some(journal)) => {
            journal.step_sizes().map_err(|source| Refusal::Journal { name: name.clone(), source })?
        }
        (None, None) => Steps::default(),
    };
    let range = ordinal_range(sts);
    // Pods already on the update revision (released earlier, or created by a scale-up) are
    // not what a step updates: name only those it will. A new template has no pod yet.
    let updated: Vec<i32> = match request.template {
        Some(_) => Vec::new(),
        None => pods_on_update_revision(sts, pods).iter().map(|(o, _)| *o).collect(),
    };
    let now_partition = if evicting { replicas - updated.len() as i32 } else { partition(sts) };
    // A new rollout first holds every pod back (stages); an explicit step on an unchanged
    // template, and a resumed rollout, start from where the partition stands. Under OnDelete
    // only a new template is staged: no pod moves until this tool evicts it.
    let stages = match evicting {
        true => journal.is_none() && (request.template.is_some() || switching),
        false => journal.is_none() && (request.template.is_some() || explicit.is_none()),
    };
    let hold = if stages { replicas.max(now_partition) } else { now_partition };
    let mut steps: Vec<Step> = match explicit {
        _ if evicting => eviction_plan(&replacement_order(range, zones), &sizes.0, &updated),
        Some(n) => vec![single_step(range, hold.min(replicas), n)],
        None => {
            plan(range, &sizes.0, replicas).into_iter().filter(|s| s.partition < hold.min(replicas)).collect()
        }
    };
    for step in &mut steps {
        step.ordinals.retain(|o| !updated.contains(o));
    }
    let settle_first = (journal.is_some() && explicit.is_none() && now_partition < replicas).then(|| {
        let in_flight = match evicting {
            true => updated.iter().rev().copied().collect(),
            false => released(range, now_partition, range.replicas),
        };
        Step { number: 0, partition: now_partition, updated: in_flight.len() as i32, ordinals: in_flight }
    });
    let mut warnings = overridden;
    if let Some(staged) = journal.as_ref().and_then(|j| j.staged_replicas) {
        let unreleased: Vec<String> = pods_on_update_revision(sts, pods)
            .into_iter()
            .filter(|(o, _)| range.index_of(*o) >= i64::from(staged))
            .map(|(_, p)| p.name_any())
            .collect();
        if !unreleased.is_empty() {
            warnings.push(format!(
                "{} run the update revision though no step released them: a scale-up created them while the \
                 rollout held {staged} replicas back",
                unreleased.join(", ")
            ));
        }
    }
    if let Some(finding) = MaxUnavailableFinding::of(sts, max_unavailable).filter(|_| !evicting) {
        warnings.push(finding.describe());
    }
    let revision =
        |name: Option<&str>| revisions.iter().find(|r| name.is_some() && r.metadata.name.as_deref() == name);
    if request.template.is_none()
        && let (Some(from), Some(to)) = (revision(current_revision(sts)), revision(update_revision(sts)))
        && from.metadata.name != to.metadata.name
        && same_template(from, to) == Some(true)
    {
        warnings.push(format!(
            "revisions {} and {} record the same pod template (they differ only in how it was encoded, as after \
             the 1.33 → 1.34 upgrade, kubernetes#134773): this rollout only restarts pods",
            short_revision(&name, from.metadata.name.as_deref().unwrap_or_default()),
            short_revision(&name, to.metadata.name.as_deref().unwrap_or_default()),
        ));
    }
    let gates = match (&journal, request.gates) {
        (Some(journal), Some(asked)) if *asked != journal.gates => {
            warnings.push(format!(
                "this rollout keeps the gates it was started with ({}); to change them, finish it or abort it first",
                journal.gates.describe()
            ));
            journal.gates.clone()
        }
        (Some(journal), _) => journal.gates.clone(),
        (None, asked) => asked.cloned().unwrap_or_default(),
    };
    let before = base_revision(sts, pods);
    if let Some(zones) = zones.filter(|z| evicting && z.values().all(Option::is_none)) {
        warnings.push(format!(
            "--by-zone: no node of the {} pod(s) has a {ZONE_LABEL} label: the pods are replaced highest ordinal \
             first, as without it",
            zones.len()
        ));
    }
    if switching {
        warnings.push(format!(
            "--evict: the update strategy of {name} is OnDelete while this rollout runs, so that each pod is replaced \
             by eviction (PodDisruptionBudgets apply); finishing or aborting the rollout restores it as it is now"
        ));
    }
    let new_journal = journal.is_none().then(|| Journal {
        steps: sizes.0.iter().map(ToString::to_string).collect(),
        staged_replicas: stages.then_some(replicas),
        gates: gates.clone(),
        strategy_before: switching
            .then(|| sts.spec.as_ref().and_then(|s| s.update_strategy.clone()).unwrap_or_default()),
        by_zone: request.by_zone,
        ..Journal::new(sts, before.clone().unwrap_or_default(), now)
    });
    Ok(Decision::Roll(Box::new(Roll {
        from_revision: journal.as_ref().map(|j| j.from_revision.clone()).or(before),
        to_revision: match request.template {
            Some(_) => None,
            None => update_revision(sts).map(str::to_owned),
        },
        replicas,
        partition: now_partition,
        replace,
        stage: stages.then(|| Stage {
            template: request.template.cloned(),
            partition: (!evicting).then_some(hold),
            switch_to_on_delete: switching,
        }),
        journal: new_journal,
        settle_first,
        steps,
        pods_at_once: if evicting { 1 } else { pods_at_once(sts, max_unavailable) },
        gates,
        warnings,
    })))
}

/// The owner whose template a held rollout of `sts` steps through, when that owner sets the
/// template back: an abort must not write it (revert the change in Git instead).
pub fn git_first_owner(sts: &StatefulSet) -> Option<String> {
    let held = Journal::of(sts).ok().flatten().is_some_and(|j| j.held);
    if !held {
        return None;
    }
    Owners::of(sts).template_reverter().map(|c| c.owner())
}

/// How to roll `sts` back, as advice that works: `add --abort`, or for a held rollout of a
/// template Git owns, `revert the change in Git, then add --abort`.
pub fn abort_hint(sts: &StatefulSet) -> &'static str {
    if git_first_owner(sts).is_some() { "revert the change in Git, then add --abort" } else { "add --abort" }
}

/// An abort whose restored template a tool that sets it back owns. For a held rollout (the
/// template came from Git) it is refused, unless overridden: reverting in Git rolls the
/// released pods back instead. Otherwise, or overridden, a warning.
fn owned_abort(
    decision: Decision,
    sts: &StatefulSet,
    pods: &[Pod],
    journal: Option<&Journal>,
    owners: &Owners,
    request: &Request,
) -> Result<Decision, Refusal> {
    let Decision::Abort(mut abort) = decision else { return Ok(decision) };
    let contested = owners.template_reverter().filter(|_| abort.restore_template);
    let Some(contested) = contested else { return Ok(Decision::Abort(abort)) };
    let git_first = journal.is_some_and(|j| j.held && !j.aborting);
    if git_first && !request.override_owner {
        let released: Vec<String> =
            LivePods::of(sts, pods).not_on(&abort.target).map(|(_, p)| p.name_any()).collect();
        return Err(Refusal::RevertInGit {
            name: sts.name_any(),
            owner: contested.owner(),
            released: if released.is_empty() { "none".to_owned() } else { released.join(", ") },
            partition_before: abort.partition,
        });
    }
    abort.warnings.push(format!(
        "{} is owned by {}, which sets it back {}: revert the change there too, or the pods roll forward again",
        contested.field.replacen("the ", "the restored ", 1),
        contested.owner(),
        contested.manager.tool.reverts_when()
    ));
    Ok(Decision::Abort(abort))
}

/// `--hold`: the partition raised to the replica count with a held journal, so that the next
/// template change the owner applies is staged, not rolled out. Holding again is nothing to do.
fn hold(
    sts: &StatefulSet,
    journal: Option<Journal>,
    owners: &Owners,
    request: &Request,
    now: Timestamp,
) -> Result<Decision, Refusal> {
    let name = sts.name_any();
    if let Some(journal) = journal {
        if journal.held {
            let revision = update_revision(sts).unwrap_or("?").to_owned();
            return Ok(Decision::Held { partition: partition(sts), revision });
        }
        return Err(Refusal::InProgress { name, started_at: journal.started_at, abort: abort_hint(sts) });
    }
    owned_partition(sts, owners, request)?;
    let replicas = replicas(sts);
    let steps = request.steps.cloned().unwrap_or_default();
    Ok(Decision::Hold(Hold {
        partition: replicas.max(partition(sts)),
        journal: Journal {
            steps: steps.0.iter().map(ToString::to_string).collect(),
            staged_replicas: Some(replicas),
            held: true,
            gates: request.gates.cloned().unwrap_or_default(),
            ..Journal::new(sts, current_revision(sts).unwrap_or_default().to_owned(), now)
        },
        owner: owners.applier.as_ref().map(|a| a.describe()),
    }))
}

/// Refuses to write the partition when a tool that sets it back owns it, with what to change in
/// that tool's configuration; overridden, a warning saying what will happen.
fn owned_partition(sts: &StatefulSet, owners: &Owners, request: &Request) -> Result<Option<String>, Refusal> {
    match owners.partition_reverter() {
        Some(contested) if request.override_owner => Ok(Some(overridden(&contested))),
        Some(contested) => Err(owned(
            sts,
            &contested,
            "each step would be undone, and the pods it released rolled again",
            format!(
                "Make {} leave the partition to kubectl stateful (as printed above), or pass --override-owner to step it \
                 anyway",
                contested.manager.tool.name()
            ),
            Some(partition_snippet(&contested, sts)),
        )),
        None => Ok(None),
    }
}

/// The warning of an --override-owner: who will set the field back.
fn overridden(contested: &Contested) -> String {
    format!(
        "--override-owner: {} is owned by {}, which sets it back {}",
        contested.field,
        contested.owner(),
        contested.manager.tool.reverts_when()
    )
}

/// Refuses to stage a template whose changed fields a tool that sets them back owns: the
/// change belongs in Git, staged with `--hold`. Overridden, a warning.
fn owned_template(
    sts: &StatefulSet,
    owners: &Owners,
    template: &PodTemplateSpec,
    request: &Request,
) -> Result<Option<String>, Refusal> {
    let current = sts.spec.as_ref().map(|s| &s.template);
    let containers = |t: Option<&PodTemplateSpec>| -> Vec<(String, Option<String>)> {
        t.and_then(|t| t.spec.as_ref())
            .map(|s| s.containers.iter().map(|c| (c.name.clone(), c.image.clone())).collect())
            .unwrap_or_default()
    };
    let (before, after) = (containers(current), containers(Some(template)));
    let changed: Vec<&str> =
        after.iter().filter(|c| !before.contains(c)).map(|(name, _)| name.as_str()).collect();
    // Only images changed (`--image`): the owners of those images; otherwise the template's.
    let mut images_reset = template.clone();
    if let (Some(spec), Some(current)) = (images_reset.spec.as_mut(), current.and_then(|t| t.spec.as_ref())) {
        for container in &mut spec.containers {
            if let Some(was) = current.containers.iter().find(|c| c.name == container.name) {
                container.image.clone_from(&was.image);
            }
        }
    }
    let contested = if Some(&images_reset) == current {
        owners.image_reverter(changed)
    } else {
        owners.template_reverter()
    };
    let name = sts.name_any();
    match contested {
        Some(contested) if request.override_owner => Ok(Some(overridden(&contested))),
        Some(contested) => Err(owned(
            sts,
            &contested,
            "the new template would be set back mid-rollout, and the updated pods rolled again",
            format!(
                "Change it in Git instead, held back: run `kubectl stateful rollout {name} --hold`, commit the \
                 change, and once {} has applied it, `kubectl stateful rollout {name}` steps it through. Or pass \
                 --override-owner to write it anyway",
                contested.manager.tool.name()
            ),
            None,
        )),
        None => Ok(None),
    }
}

fn owned(
    sts: &StatefulSet,
    contested: &Contested,
    consequence: &'static str,
    remedy: String,
    snippet: Option<String>,
) -> Refusal {
    let field = contested.field.clone();
    let mut chars = field.chars();
    let field = chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or(field);
    Refusal::Owned(Box::new(OwnedField {
        name: sts.name_any(),
        field,
        owner: contested.owner(),
        when: contested.manager.tool.reverts_when(),
        consequence,
        remedy,
        snippet: snippet.filter(|s| !s.is_empty()),
    }))
}

/// The refusals that keep a rollout from starting or going on: a controller that cannot act
/// (its failures, pods it cannot update), a scale in progress (for a new rollout: a partition
/// does not hold back pods created meanwhile), a live ordinal without a pod, a pod outside the
/// live ordinals. A rollout would wait for the controller forever, or release pods it did not
/// plan, in each case. A blocked controller comes first: it is why a set stays short.
fn preflight(
    sts: &StatefulSet,
    pods: &[Pod],
    events: &[Event],
    new: bool,
    now: Timestamp,
) -> Result<(), Refusal> {
    let name = sts.name_any();
    let failures = controller_failures(sts, events, pods, now);
    if let Some(blocker) = blockers(sts, pods, &failures).first() {
        return Err(Refusal::Blocked { name, reason: blocker.describe(sts, pods, now) });
    }
    if new && !is_settled(sts) {
        let counted = sts.status.as_ref().map_or(0, |s| s.replicas);
        return Err(Refusal::Scaling { name, counted, replicas: replicas(sts) });
    }
    let range = ordinal_range(sts);
    let ours = pods_of(sts, pods);
    if let Some(ordinal) = range.ordinals().find(|o| !ours.iter().any(|(p, _)| p == o)) {
        return Err(Refusal::PodMissing { pod: pod_name(&name, ordinal), name, ordinal });
    }
    if let Some((_, stray)) = ours.iter().rev().find(|(o, _)| !range.contains(*o)) {
        return Err(Refusal::StrayPod { pod: stray.name_any(), range: describe_range(range), name });
    }
    // A pod the StatefulSet controls whose name is no ordinal of it (adopted by its labels).
    let nameless = pods.iter().find(|p| owned_by(*p, sts) && pod_ordinal(&p.name_any(), &name).is_none());
    if let Some(stray) = nameless {
        return Err(Refusal::StrayPod { pod: stray.name_any(), range: describe_range(range), name });
    }
    Ok(())
}

/// A rollback of whatever is in flight: to the journal's revision and partition, or without a
/// journal (someone else's rollout) to the current revision with the partition left as it is.
/// Either way the rollback itself runs with the partition low enough to reach every live pod on
/// another revision ([`Abort::rollback_partition`]), so it can always finish.
pub fn abort(sts: &StatefulSet, pods: &[Pod], journal: Option<Journal>, now: Timestamp) -> Decision {
    let target = match &journal {
        Some(j) => j.from_revision.clone(),
        None => base_revision(sts, pods).unwrap_or_default(),
    };
    if journal.is_none() && update_revision(sts) == Some(target.as_str()) && !update_pending(sts, pods) {
        return Decision::NothingToAbort { revision: target };
    }
    let resumed = journal.as_ref().is_some_and(|j| j.aborting);
    let journal = match journal {
        Some(j) => Journal { aborting: true, ..j },
        None => Journal { aborting: true, ..Journal::new(sts, target.clone(), now) },
    };
    let range = ordinal_range(sts);
    let lowest_elsewhere = LivePods::of(sts, pods)
        .not_on(&target)
        .map(|(o, _)| range.index_of(o))
        .min()
        .map_or(i32::MAX, |i| i32::try_from(i).unwrap_or(i32::MAX));
    let rollback_partition = partition(sts).min(journal.partition_before).min(lowest_elsewhere).max(0);
    Decision::Abort(Abort {
        restore_template: update_revision(sts) != Some(target.as_str()),
        target,
        rollback_partition,
        partition: journal.partition_before,
        journal,
        resumed,
        replace: if update_strategy(sts) == ON_DELETE { Replace::Eviction } else { Replace::Controller },
        warnings: Vec::new(),
    })
}

/// The revision the pods ran before an update: the current revision, except under OnDelete,
/// where the controller never promotes the update revision to current (kubernetes#73492, the
/// `completeRollingUpdate` check in stateful_set_utils.go is for RollingUpdate only), so it is
/// read from the pods: the revision most live pods not on the update revision run (the highest
/// ordinal's on a tie), or the update revision when every pod runs it.
pub fn base_revision(sts: &StatefulSet, pods: &[Pod]) -> Option<String> {
    if update_strategy(sts) != ON_DELETE {
        return current_revision(sts).map(str::to_owned);
    }
    let range = ordinal_range(sts);
    let update = update_revision(sts);
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for (_, pod) in pods_of(sts, pods).into_iter().rev().filter(|(o, _)| range.contains(*o)) {
        if let Some(r) = pod_revision(pod).filter(|r| Some(*r) != update) {
            match counts.iter_mut().find(|(c, _)| *c == r) {
                Some((_, n)) => *n += 1,
                None => counts.push((r, 1)),
            }
        }
    }
    // max_by_key keeps the last of equals: reversed, the first seen (highest ordinal) wins.
    match counts.into_iter().rev().max_by_key(|(_, n)| *n) {
        Some((r, _)) => Some(r.to_owned()),
        None if range.replicas > 0 && !pods_of(sts, pods).is_empty() => update.map(str::to_owned),
        None => current_revision(sts).or(update).map(str::to_owned),
    }
}

/// Live pods of `sts` on its update revision, with their ordinals.
fn pods_on_update_revision<'p>(sts: &StatefulSet, pods: &'p [Pod]) -> Vec<(i32, &'p Pod)> {
    LivePods::of(sts, pods).on(update_revision(sts)).collect()
}

/// Pods of `sts` already on the update revision (they are not news to a resumed run).
pub fn already_updated<'p>(sts: &StatefulSet, pods: &'p [Pod]) -> Vec<&'p Pod> {
    let update = update_revision(sts);
    pods_of(sts, pods)
        .into_iter()
        .filter(|(_, p)| update.is_some() && pod_revision(p) == update)
        .map(|(_, p)| p)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::{pod, sts};
    use crate::core::rollout::ROLLOUT_ANNOTATION;

    fn now() -> Timestamp {
        Timestamp::from_second(1_700_000_500).unwrap()
    }

    fn decided(sts: &StatefulSet, pods: &[Pod], request: &Request) -> Result<Decision, Refusal> {
        decide(
            &Cluster {
                namespace: None,
                sts,
                pods,
                events: &[],
                max_unavailable: None,
                revisions: &[],
                zones: None,
            },
            request,
            now(),
        )
    }

    /// The pods of `web` from its first ordinal on, one per revision given.
    fn pods(web: &StatefulSet, revisions: &[&str]) -> Vec<Pod> {
        let start = crate::core::objects::start_ordinal(web);
        revisions.iter().zip(start..).map(|(r, o)| pod(web, o).revision(r).build()).collect()
    }

    fn journal(partition_before: i32, aborting: bool) -> String {
        Journal {
            steps: vec!["1".into(), "50%".into(), "100%".into()],
            partition_before,
            from_revision: "web-old".into(),
            started_at: Timestamp::from_second(1_700_000_000).unwrap(),
            staged_replicas: None,
            aborting,
            held: false,
            gates: Gates::default(),
            strategy_before: None,
            by_zone: false,
        }
        .to_annotation()
    }

    fn template(web: &StatefulSet) -> PodTemplateSpec {
        let mut template = web.spec.as_ref().unwrap().template.clone();
        template.spec.as_mut().unwrap().containers[0].image = Some("example.invalid/app:v2".into());
        template
    }

    fn roll(decision: Result<Decision, Refusal>) -> Roll {
        match decision {
            Ok(Decision::Roll(roll)) => *roll,
            other => panic!("expected a rollout, got {other:?}"),
        }
    }

    fn partitions(steps: &[Step]) -> Vec<(usize, i32, Vec<i32>)> {
        steps.iter().map(|s| (s.number, s.partition, s.ordinals.clone())).collect()
    }

    #[test]
    fn a_new_template_stages_then_steps_down_from_replicas() {
        let web = sts("web", 4).revisions("web-old", "web-old").build();
        let new = template(&web);
        let request = Request { template: Some(&new), ..Request::default() };
        let roll = roll(decided(&web, &pods(&web, &["web-old"; 4]), &request));
        assert_eq!(
            roll.stage,
            Some(Stage { template: Some(new), partition: Some(4), switch_to_on_delete: false })
        );
        assert_eq!(partitions(&roll.steps), [(1, 3, vec![3]), (2, 2, vec![2]), (3, 0, vec![1, 0])]);
        assert_eq!(roll.to_revision, None, "named once staged");
        assert_eq!(roll.settle_first, None);
        let journal = roll.journal.unwrap();
        assert_eq!((journal.partition_before, journal.from_revision.as_str()), (0, "web-old"));
        assert_eq!(journal.started_at, now());
    }

    #[test]
    fn a_pending_update_is_picked_up_by_holding_every_pod_back() {
        let web = sts("web", 3).revisions("web-old", "web-new").partition(2).build();
        let roll = roll(decided(&web, &pods(&web, &["web-old", "web-old", "web-new"]), &Request::default()));
        assert_eq!(
            roll.stage,
            Some(Stage { template: None, partition: Some(3), switch_to_on_delete: false })
        );
        assert_eq!(roll.to_revision.as_deref(), Some("web-new"));
        // web-2 already runs the update revision: no step names it again.
        assert_eq!(partitions(&roll.steps), [(1, 2, vec![]), (2, 1, vec![1]), (3, 0, vec![0])]);
    }

    #[test]
    fn nothing_pending_is_nothing_to_do_or_a_partition_move() {
        let web = sts("web", 3).partition(2).build();
        let all = pods(&web, &["web-rev1"; 3]);
        assert_eq!(
            decided(&web, &all, &Request::default()).unwrap(),
            Decision::NothingToDo { revision: "web-rev1".into() }
        );
        let request = Request { partition: Some(0), ..Request::default() };
        assert_eq!(
            decided(&web, &all, &request).unwrap(),
            Decision::MovePartition { to: 0, revision: "web-rev1".into() }
        );
    }

    #[test]
    fn an_explicit_step_on_a_changed_template_writes_the_journal_with_the_step() {
        let web = sts("web", 3).revisions("web-old", "web-new").partition(3).build();
        let request = Request { partition: Some(2), ..Request::default() };
        let roll = roll(decided(&web, &pods(&web, &["web-old"; 3]), &request));
        assert_eq!(roll.stage, None, "the partition already holds every pod");
        assert_eq!(partitions(&roll.steps), [(1, 2, vec![2])]);
        assert!(roll.journal.is_some());
    }

    #[test]
    fn an_explicit_step_with_a_new_template_stages_first() {
        let web = sts("db", 3).start(10).build();
        let new = template(&web);
        let request = Request { template: Some(&new), partition: Some(2), ..Request::default() };
        let roll = roll(decided(&web, &pods(&web, &["db-rev1"; 3]), &request));
        assert_eq!(roll.stage.and_then(|s| s.partition), Some(3));
        assert_eq!(partitions(&roll.steps), [(1, 2, vec![12])], "replica index 2 is ordinal 12");
    }

    #[test]
    fn a_resumed_rollout_settles_first_and_keeps_its_step_numbers() {
        let web = sts("web", 4)
            .revisions("web-old", "web-new")
            .partition(3)
            .annotation(ROLLOUT_ANNOTATION, &journal(0, false))
            .build();
        let roll = roll(decided(
            &web,
            &pods(&web, &["web-old", "web-old", "web-old", "web-new"]),
            &Request::default(),
        ));
        assert_eq!(roll.stage, None);
        assert_eq!(roll.journal, None, "the journal is already there");
        assert_eq!(roll.settle_first.map(|s| s.ordinals), Some(vec![3]));
        assert_eq!(partitions(&roll.steps), [(2, 2, vec![2]), (3, 0, vec![1, 0])]);
        assert_eq!(roll.from_revision.as_deref(), Some("web-old"));
    }

    #[test]
    fn an_on_delete_set_is_rolled_out_by_eviction_from_the_revision_its_pods_run() {
        // The controller never promotes a revision to current under OnDelete: the current
        // revision is stale, the pods say what runs.
        let web = sts("web", 4).on_delete().revisions("web-ancient", "web-old").build();
        let new = template(&web);
        let request = Request { template: Some(&new), ..Request::default() };
        let roll = roll(decided(&web, &pods(&web, &["web-old"; 4]), &request));
        assert_eq!(roll.replace, Replace::Eviction);
        assert_eq!(
            roll.stage,
            Some(Stage { template: Some(new), partition: None, switch_to_on_delete: false }),
            "no partition under OnDelete"
        );
        assert_eq!(partitions(&roll.steps), [(1, 3, vec![3]), (2, 2, vec![2]), (3, 0, vec![1, 0])]);
        assert_eq!((roll.pods_at_once, roll.partition), (1, 4));
        assert_eq!(roll.from_revision.as_deref(), Some("web-old"));
        let journal = roll.journal.unwrap();
        assert_eq!((journal.partition_before, journal.from_revision.as_str()), (0, "web-old"));
    }

    #[test]
    fn an_on_delete_update_someone_else_applied_is_picked_up_where_the_pods_stand() {
        // The template changed; web-3 and web-2 were deleted by hand and came back updated.
        let web = sts("web", 4).on_delete().revisions("web-old", "web-new").build();
        let roll = roll(decided(
            &web,
            &pods(&web, &["web-old", "web-old", "web-new", "web-new"]),
            &Request::default(),
        ));
        assert_eq!(roll.stage, None, "nothing to stage");
        assert!(roll.journal.is_some(), "written before the first eviction");
        assert_eq!(partitions(&roll.steps), [(3, 0, vec![1, 0])]);
        assert_eq!(roll.partition, 2);
        assert_eq!(roll.from_revision.as_deref(), Some("web-old"));
        // Resumed (journal there): what was replaced is waited for first.
        let resumed = sts("web", 4)
            .on_delete()
            .revisions("web-old", "web-new")
            .annotation(ROLLOUT_ANNOTATION, &journal(0, false))
            .build();
        let resumed_pods = pods(&resumed, &["web-old", "web-old", "web-new", "web-new"]);
        let again = self::roll(decided(&resumed, &resumed_pods, &Request::default()));
        assert_eq!(again.settle_first.map(|s| s.ordinals), Some(vec![3, 2]));
        assert_eq!(partitions(&again.steps), [(3, 0, vec![1, 0])]);
    }

    #[test]
    fn an_on_delete_set_whose_pods_all_run_the_update_revision_has_nothing_to_do() {
        let web = sts("web", 3).on_delete().revisions("web-ancient", "web-new").build();
        assert_eq!(
            decided(&web, &pods(&web, &["web-new"; 3]), &Request::default()).unwrap(),
            Decision::NothingToDo { revision: "web-new".into() }
        );
    }

    #[test]
    fn an_on_delete_abort_evicts_back_to_the_journal_revision() {
        let web = sts("web", 3)
            .on_delete()
            .revisions("web-ancient", "web-new")
            .annotation(ROLLOUT_ANNOTATION, &journal(0, false))
            .build();
        let request = Request { abort: true, ..Request::default() };
        match decided(&web, &pods(&web, &["web-old", "web-new", "web-new"]), &request).unwrap() {
            Decision::Abort(abort) => {
                assert_eq!(abort.replace, Replace::Eviction);
                assert_eq!(abort.target, "web-old");
                assert!(abort.restore_template);
                assert_eq!((abort.rollback_partition, abort.partition), (0, 0), "no partition is written");
            }
            other => panic!("expected an abort, got {other:?}"),
        }
        // Without a journal, back to what most pods not on the update revision run.
        let bare = sts("web", 3).on_delete().revisions("web-ancient", "web-new").build();
        match decided(&bare, &pods(&bare, &["web-old", "web-old", "web-new"]), &request).unwrap() {
            Decision::Abort(abort) => assert_eq!(abort.target, "web-old"),
            other => panic!("expected an abort, got {other:?}"),
        }
    }

    #[test]
    fn evict_replaces_a_rolling_update_set_by_eviction_and_keeps_its_strategy_to_restore() {
        let web = sts("web", 3).revisions("web-old", "web-old").partition(1).build();
        let new = template(&web);
        let request = Request { template: Some(&new), evict: true, ..Request::default() };
        let roll = roll(decided(&web, &pods(&web, &["web-old"; 3]), &request));
        assert_eq!(roll.replace, Replace::Eviction);
        let stage = roll.stage.unwrap();
        assert!(stage.switch_to_on_delete && stage.partition.is_none());
        let journal = roll.journal.unwrap();
        assert_eq!(
            serde_json::to_value(&journal.strategy_before).unwrap(),
            serde_json::json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 1}})
        );
        assert_eq!(partitions(&roll.steps), [(1, 2, vec![2]), (2, 1, vec![1]), (3, 0, vec![0])]);
        assert!(
            roll.warnings.iter().any(|w| w.starts_with("--evict: the update strategy of web is OnDelete"))
        );
        // A partitioned rollout in progress is not switched half-way.
        let started = sts("web", 3)
            .revisions("web-old", "web-new")
            .partition(2)
            .annotation(ROLLOUT_ANNOTATION, &self::journal(0, false))
            .build();
        let again = Request { evict: true, ..Request::default() };
        let error =
            decided(&started, &pods(&started, &["web-old", "web-old", "web-new"]), &again).unwrap_err();
        assert!(matches!(error, Refusal::EvictMidRollout { .. }), "{error}");
        // Once switched (OnDelete with the journal), --evict changes nothing: it resumes.
        let switched =
            sts("web", 3).on_delete().annotation(ROLLOUT_ANNOTATION, &journal.to_annotation()).build();
        assert!(decided(&switched, &pods(&switched, &["web-old"; 3]), &again).is_ok());
        // With --evict, zones are allowed on a RollingUpdate set.
        let zoned = Request { template: Some(&new), evict: true, by_zone: true, ..Request::default() };
        assert!(decided(&web, &pods(&web, &["web-old"; 3]), &zoned).is_ok());
    }

    #[test]
    fn a_gate_container_must_be_in_the_template_and_by_zone_is_journaled() {
        let web = sts("web", 3).on_delete().build();
        let gates = Gates { exec: vec!["true".into()], container: Some("nope".into()), ..Gates::default() };
        let request = Request { gates: Some(&gates), ..Request::default() };
        let error = decided(&web, &pods(&web, &["web-rev1"; 3]), &request).unwrap_err();
        assert!(matches!(error, Refusal::UnknownGateContainer { .. }) && error.is_usage(), "{error}");
        let new = template(&web);
        let zoned = Request { template: Some(&new), by_zone: true, ..Request::default() };
        let roll = roll(decided(&web, &pods(&web, &["web-rev1"; 3]), &zoned));
        assert!(roll.journal.unwrap().by_zone, "a resumed run goes on by zone");
    }

    #[test]
    fn by_zone_no_step_spans_two_zones() {
        let web = sts("web", 4).on_delete().revisions("web-old", "web-old").build();
        let new = template(&web);
        let zones: BTreeMap<i32, Option<String>> = [(0, "a"), (1, "b"), (2, "a"), (3, "b")]
            .into_iter()
            .map(|(o, z)| (o, Some(z.to_owned())))
            .collect();
        let request = Request { template: Some(&new), by_zone: true, ..Request::default() };
        let all = pods(&web, &["web-old"; 4]);
        let cluster = Cluster {
            namespace: None,
            sts: &web,
            pods: &all,
            events: &[],
            max_unavailable: None,
            revisions: &[],
            zones: Some(&zones),
        };
        let roll = roll(decide(&cluster, &request, now()));
        assert_eq!(partitions(&roll.steps), [(1, 3, vec![3]), (2, 2, vec![1]), (3, 0, vec![2, 0])]);
    }

    #[test]
    fn refusals() {
        let web = sts("web", 3).build();
        let all = pods(&web, &["web-rev1"; 3]);
        let refused = |sts: &StatefulSet, request: Request| decided(sts, &all, &request).unwrap_err();

        let on_delete = sts("web", 3).on_delete().build();
        let explicit = Request { partition: Some(1), ..Request::default() };
        assert!(matches!(refused(&on_delete, explicit), Refusal::PartitionOnDelete { .. }));
        assert!(refused(&on_delete, explicit).is_usage());
        let zoned = Request { by_zone: true, ..Request::default() };
        assert!(matches!(refused(&web, zoned), Refusal::ZonesNeedOnDelete { .. }));
        assert!(refused(&web, zoned).is_usage());
        let hold = Request { hold: true, ..Request::default() };
        let text = refused(&on_delete, hold).to_string();
        assert!(text.contains("`kubectl stateful rollout web` steps it through"), "{text}");
        let recreate = sts("web", 3).recreate().build();
        let error = refused(&recreate, Request::default());
        assert!(matches!(error, Refusal::Recreate { replicas: 3, .. }));
        let text = error.to_string();
        assert!(text.contains("no partition to step") && text.contains("nothing was changed"), "{text}");
        assert!(
            text.contains(
                r#"-p '{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":3}}}}'"#
            ),
            "{text}"
        );

        for n in [-1, 4] {
            let error = refused(&web, Request { partition: Some(n), ..Request::default() });
            assert!(matches!(error, Refusal::PartitionOutOfRange { partition, .. } if partition == n));
            assert!(error.is_usage());
        }

        let mut scaling = sts("web", 3).build();
        scaling.status.as_mut().unwrap().replicas = 2;
        let new = template(&web);
        let error = refused(&scaling, Request { template: Some(&new), ..Request::default() });
        assert_eq!(error.to_string().split(':').next(), Some("web is scaling (status.replicas 2 of 3)"));
        assert!(!error.is_usage());

        let in_flight = sts("web", 3).annotation(ROLLOUT_ANNOTATION, &journal(0, false)).build();
        let new = template(&web);
        let error = refused(&in_flight, Request { template: Some(&new), ..Request::default() });
        assert!(matches!(error, Refusal::InProgress { .. }), "{error}");

        let unreadable = sts("web", 3).annotation(ROLLOUT_ANNOTATION, "{").build();
        let error = refused(&unreadable, Request::default());
        assert!(matches!(error, Refusal::Journal { .. }), "{error}");
        assert!(error.to_string().contains("--discard-journal"), "a way out: {error}");
    }

    #[test]
    fn a_journal_keeps_a_rollout_going_through_a_scale() {
        let mut scaling = sts("web", 3).annotation(ROLLOUT_ANNOTATION, &journal(0, false)).build();
        scaling.status.as_mut().unwrap().replicas = 2;
        let all = pods(&scaling, &["web-rev1"; 3]);
        assert!(matches!(decided(&scaling, &all, &Request::default()), Ok(Decision::Roll(_))));
    }

    #[test]
    fn waiting_may_lift_what_the_controller_has_not_caught_up_with() {
        let behind = sts("web", 3).scaling(2).build();
        let error = decided(&behind, &[], &Request::default()).unwrap_err();
        assert!(matches!(error, Refusal::NotObserved { .. }) && error.may_pass());
        let mut short = sts("web", 3).build();
        short.status.as_mut().unwrap().replicas = 2;
        let new = template(&short);
        let error =
            decided(&short, &[], &Request { template: Some(&new), ..Request::default() }).unwrap_err();
        assert!(matches!(error, Refusal::Scaling { .. }) && error.may_pass());
        assert_eq!(
            decided(&short, &[], &Request::default()).unwrap(),
            Decision::NothingToDo { revision: "web-rev1".into() },
            "nothing to roll out is true even mid-scale"
        );
    }

    #[test]
    fn abort_targets_the_journal_or_the_current_revision() {
        let web = sts("web", 3)
            .revisions("web-old", "web-new")
            .partition(2)
            .annotation(ROLLOUT_ANNOTATION, &journal(0, false))
            .build();
        let request = Request { abort: true, ..Request::default() };
        let Decision::Abort(abort) = decided(&web, &[], &request).unwrap() else { panic!() };
        assert_eq!((abort.target.as_str(), abort.partition, abort.resumed), ("web-old", 0, false));
        assert!(abort.journal.aborting);

        let theirs = sts("web", 3).revisions("web-old", "web-new").partition(2).build();
        let Decision::Abort(abort) = decided(&theirs, &[], &request).unwrap() else { panic!() };
        assert_eq!(
            (abort.target.as_str(), abort.partition),
            ("web-old", 2),
            "someone else's partition stays"
        );

        let settled = sts("web", 3).build();
        assert_eq!(
            decided(&settled, &pods(&settled, &["web-rev1"; 3]), &request).unwrap(),
            Decision::NothingToAbort { revision: "web-rev1".into() }
        );
    }

    #[test]
    fn nothing_is_rolled_while_the_statefulset_or_its_namespace_is_being_deleted() {
        let mut web = sts("web", 1).build();
        web.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()));
        web.metadata.finalizers = Some(vec!["example.com/backup".into()]);
        let error = decided(&web, &pods(&web, &["web-rev1"]), &Request { abort: true, ..Request::default() })
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "StatefulSet web is being deleted (finalizers example.com/backup): nothing to roll out or back; nothing was changed"
        );
        let web = sts("web", 1).build();
        let namespace: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "default", "deletionTimestamp": "2023-11-14T22:13:20Z"}
        }))
        .unwrap();
        let cluster = Cluster {
            namespace: Some(&namespace),
            sts: &web,
            pods: &[],
            events: &[],
            max_unavailable: None,
            revisions: &[],
            zones: None,
        };
        assert!(matches!(decide(&cluster, &Request::default(), now()), Err(Refusal::Deleting { .. })));
    }

    #[test]
    fn an_interrupted_abort_is_not_overridden_by_new_flags() {
        let web = sts("web", 3).annotation(ROLLOUT_ANNOTATION, &journal(0, true)).build();
        let new = template(&web);
        for request in [
            Request { template: Some(&new), ..Request::default() },
            Request { partition: Some(0), ..Request::default() },
        ] {
            assert!(matches!(decided(&web, &[], &request), Err(Refusal::AbortPending { .. })));
        }
    }

    #[test]
    fn an_interrupted_abort_resumes_as_an_abort() {
        let web = sts("web", 3).annotation(ROLLOUT_ANNOTATION, &journal(0, true)).build();
        let Decision::Abort(abort) = decided(&web, &[], &Request::default()).unwrap() else { panic!() };
        assert!(abort.resumed);
    }

    #[test]
    fn a_rollout_is_refused_while_the_controller_cannot_act() {
        let web = sts("web", 3).build();
        let new = template(&web);
        let request = Request { template: Some(&new), ..Request::default() };

        let missing = [pod(&web, 0).build(), pod(&web, 2).build()];
        let error = decided(&web, &missing, &request).unwrap_err();
        assert!(matches!(&error, Refusal::PodMissing { pod, .. } if pod == "web-1"), "{error}");
        assert!(error.may_pass() && error.waits_for_pods());

        let stray = [pod(&web, 0).build(), pod(&web, 1).build(), pod(&web, 2).build(), pod(&web, 3).build()];
        let error = decided(&web, &stray, &request).unwrap_err();
        assert!(matches!(&error, Refusal::StrayPod { pod, .. } if pod == "web-3"), "{error}");

        let web = sts("web", 2).templates(&["data", "logs"]).build();
        let mut adopted = pod(&web, 0).build();
        adopted.spec.as_mut().unwrap().volumes.as_mut().unwrap().retain(|v| v.name != "logs");
        let error = decided(&web, &[adopted, pod(&web, 1).build()], &request).unwrap_err();
        assert!(matches!(error, Refusal::Blocked { .. }), "{error}");
        assert!(!error.may_pass(), "waiting does not help");
        assert!(error.to_string().contains("does not mount logs-web-0"), "{error}");
    }

    #[test]
    fn a_failing_controller_blocks_even_a_resumed_rollout() {
        use k8s_openapi::api::core::v1::ObjectReference;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
        let web = sts("web", 2)
            .revisions("web-old", "web-new")
            .partition(1)
            .annotation(ROLLOUT_ANNOTATION, &journal(0, false))
            .build();
        let failure = Event {
            involved_object: ObjectReference { kind: Some("StatefulSet".into()), uid: web.uid(), ..Default::default() },
            reason: Some("FailedCreate".into()),
            type_: Some("Warning".into()),
            message: Some("create Pod web-0 in StatefulSet web failed error: pods \"web-0\" is forbidden: exceeded quota".into()),
            last_timestamp: Some(Time(now())),
            ..Default::default()
        };
        let pods = [pod(&web, 1).revision("web-new").build()];
        let error = decide(
            &Cluster {
                namespace: None,
                sts: &web,
                pods: &pods,
                events: &[failure],
                max_unavailable: None,
                revisions: &[],
                zones: None,
            },
            &Request::default(),
            now(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("fails to create Pod web-0"), "{error}");
    }

    #[test]
    fn a_resumed_plan_names_pods_a_scale_up_created_on_the_new_revision() {
        let journal = Journal {
            steps: vec!["1".into(), "100%".into()],
            partition_before: 0,
            from_revision: "web-old".into(),
            started_at: now(),
            staged_replicas: Some(3),
            aborting: false,
            held: false,
            gates: Gates::default(),
            strategy_before: None,
            by_zone: false,
        };
        let web = sts("web", 5)
            .revisions("web-old", "web-new")
            .partition(3)
            .annotation(ROLLOUT_ANNOTATION, &journal.to_annotation())
            .build();
        let all = pods(&web, &["web-old", "web-old", "web-old", "web-new", "web-new"]);
        let roll = roll(decided(&web, &all, &Request::default()));
        assert_eq!(roll.warnings.len(), 1);
        assert!(roll.warnings[0].starts_with("web-3, web-4 run the update revision"), "{:?}", roll.warnings);
        assert!(roll.steps.iter().all(|s| !s.ordinals.contains(&3) && !s.ordinals.contains(&4)));
    }

    #[test]
    fn the_plan_counts_on_max_unavailable_only_when_the_server_honours_it() {
        use crate::core::facts::Honoured;
        let web = sts("web", 5).max_unavailable(2).build();
        let new = template(&web);
        let request = Request { template: Some(&new), ..Request::default() };
        let all = pods(&web, &["web-rev1"; 5]);
        let with = |honoured: Honoured| {
            let cluster = Cluster {
                namespace: None,
                sts: &web,
                pods: &all,
                events: &[],
                max_unavailable: Some(&honoured),
                revisions: &[],
                zones: None,
            };
            roll(decide(&cluster, &request, now()))
        };
        let honoured = with(Honoured::Yes);
        assert_eq!((honoured.pods_at_once, honoured.warnings.len()), (2, 0));
        let ignored = with(Honoured::No);
        assert_eq!(ignored.pods_at_once, 1);
        assert!(ignored.warnings[0].contains("updates one pod at a time"), "{:?}", ignored.warnings);
        let unknown = with(Honoured::Unknown("no permission".into()));
        assert_eq!(unknown.pods_at_once, 1);
        assert!(
            unknown.warnings[0].contains("up to 2 pods may be updated at once"),
            "{:?}",
            unknown.warnings
        );
        assert_eq!(honoured.steps, ignored.steps, "the partitions are the same either way");
    }

    #[test]
    fn a_rollout_between_revisions_of_one_template_says_it_only_restarts_pods() {
        use crate::core::fixtures::controller_revision;
        let web = sts("web", 2).revisions("web-old", "web-new").build();
        let all = pods(&web, &["web-old", "web-old"]);
        let spec = serde_json::json!({"containers": [{"name": "app", "image": "app:v1"}]});
        let revisions = [
            controller_revision(
                &web,
                "web-old",
                serde_json::json!({"metadata": {"creationTimestamp": null}, "spec": spec}),
            ),
            controller_revision(&web, "web-new", serde_json::json!({"metadata": {}, "spec": spec})),
        ];
        let cluster = Cluster {
            namespace: None,
            sts: &web,
            pods: &all,
            events: &[],
            max_unavailable: None,
            revisions: &revisions,
            zones: None,
        };
        let roll = roll(decide(&cluster, &Request::default(), now()));
        assert_eq!(roll.warnings.len(), 1);
        assert!(roll.warnings[0].contains("only restarts pods"), "{:?}", roll.warnings);
    }

    /// Argo CD applies the template (its image included); `partition` adds the partition to
    /// what a chart renders, owned by `helm`.
    fn owned(replicas: i32, partition_by_helm: bool) -> crate::core::fixtures::StsBuilder {
        let image = serde_json::json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
            "k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}});
        let builder = sts("web", replicas);
        if partition_by_helm {
            builder
                .annotation("meta.helm.sh/release-name", "db")
                .annotation("meta.helm.sh/release-namespace", "default")
                .managed_by("helm", "Apply", image)
                .managed_by(
                    "helm",
                    "Apply",
                    serde_json::json!({"f:spec": {"f:updateStrategy": {"f:rollingUpdate": {"f:partition": {}}}}}),
                )
        } else {
            builder
                .annotation("argocd.argoproj.io/tracking-id", "shop:apps/StatefulSet:default/web")
                .managed_by("argocd-controller", "Apply", image)
        }
    }

    #[test]
    fn a_template_git_owns_is_changed_in_git_held_back_not_here() {
        let web = owned(3, false).build();
        let all = pods(&web, &["web-rev1"; 3]);
        let new = template(&web);
        let request = Request { template: Some(&new), ..Request::default() };
        let error = decided(&web, &all, &request).unwrap_err();
        let text = error.to_string();
        assert!(matches!(&error, Refusal::Owned(owned) if owned.snippet.is_none()), "{error:?}");
        assert!(
            text.starts_with(
                "The image of container app of web is owned by Argo CD application shop (field manager \
                 argocd-controller)"
            ),
            "{text}"
        );
        assert!(
            text.contains("nothing was changed") && text.contains("`kubectl stateful rollout web --hold`"),
            "{text}"
        );

        let forced = roll(decided(&web, &all, &Request { override_owner: true, ..request }));
        assert!(
            forced.warnings[0]
                .starts_with("--override-owner: the image of container app is owned by Argo CD")
        );
        // Picking up a change Git made writes only the partition, which Git does not set.
        let synced = owned(3, false).revisions("web-rev1", "web-rev2").build();
        assert!(decided(&synced, &all, &Request::default()).is_ok());
    }

    #[test]
    fn a_partition_a_chart_renders_is_refused_with_what_to_change() {
        let web = owned(3, true).revisions("web-rev1", "web-rev2").build();
        let all = pods(&web, &["web-rev1"; 3]);
        for request in [Request::default(), Request { hold: true, ..Request::default() }] {
            let error = decided(&web, &all, &request).unwrap_err();
            let Refusal::Owned(owned) = &error else { panic!("{error:?}") };
            let snippet = owned.snippet.as_deref().unwrap();
            assert!(
                error.to_string().starts_with("The partition of web is owned by Helm release default/db"),
                "{error}"
            );
            assert!(snippet.contains("release db") && snippet.contains("partition"), "{snippet}");
        }
        let forced = roll(decided(&web, &all, &Request { override_owner: true, ..Request::default() }));
        assert!(
            forced.warnings[0].contains("the partition is owned by Helm release default/db"),
            "{:?}",
            forced.warnings
        );
    }

    #[test]
    fn hold_then_git_then_step() {
        let web = owned(3, false).build();
        let all = pods(&web, &["web-rev1"; 3]);
        let Decision::Hold(hold) =
            decided(&web, &all, &Request { hold: true, ..Request::default() }).unwrap()
        else {
            panic!("a hold")
        };
        assert_eq!((hold.partition, hold.journal.held, hold.journal.partition_before), (3, true, 0));
        assert_eq!(hold.owner.as_deref(), Some("Argo CD application shop"));

        let held = owned(3, false).partition(3).annotation(ROLLOUT_ANNOTATION, &hold.journal.to_annotation());
        let waiting = held.clone().build();
        for request in [Request::default(), Request { hold: true, ..Request::default() }] {
            assert_eq!(
                decided(&waiting, &all, &request).unwrap(),
                Decision::Held { partition: 3, revision: "web-rev1".into() }
            );
        }
        // Git applies the new template: the controller names a new update revision, no pod moves.
        let synced = held.revisions("web-rev1", "web-rev2").build();
        let roll = roll(decided(&synced, &all, &Request::default()));
        assert_eq!((roll.stage, roll.journal), (None, None), "nothing to stage: the journal is there");
        assert_eq!(partitions(&roll.steps), [(1, 2, vec![2]), (2, 1, vec![1]), (3, 0, vec![0])]);

        let not_held = sts("web", 3).partition(3).annotation(ROLLOUT_ANNOTATION, &journal(0, false)).build();
        let error = decided(&not_held, &all, &Request { hold: true, ..Request::default() }).unwrap_err();
        assert!(matches!(error, Refusal::InProgress { .. }), "{error:?}");
    }

    #[test]
    fn an_abort_of_a_held_rollout_is_a_revert_in_git() {
        let web = owned(3, false).build();
        let all = pods(&web, &["web-rev1"; 3]);
        let Ok(Decision::Hold(hold)) = decided(&web, &all, &Request { hold: true, ..Request::default() })
        else {
            panic!("a hold")
        };
        let journal = Journal { from_revision: "web-rev1".into(), ..hold.journal };
        let held = owned(3, false).partition(2).annotation(ROLLOUT_ANNOTATION, &journal.to_annotation());
        let mid = held.clone().revisions("web-rev1", "web-rev2").build();
        let released = pods(&mid, &["web-rev1", "web-rev1", "web-rev2"]);
        let abort = Request { abort: true, ..Request::default() };
        let error = decided(&mid, &released, &abort).unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, Refusal::RevertInGit { partition_before: 0, .. }), "{error:?}");
        assert!(text.contains("Revert the change in Git") && text.contains("(web-2)"), "{text}");

        let Decision::Abort(forced) =
            decided(&mid, &released, &Request { override_owner: true, ..abort }).unwrap()
        else {
            panic!("an abort")
        };
        assert!(forced.restore_template);
        assert!(
            forced.warnings[0].contains("the restored pod template is owned by Argo CD"),
            "{:?}",
            forced.warnings
        );

        // Git reverted: the update revision is the one from before again; the abort only ends it.
        let reverted = held.revisions("web-rev1", "web-rev1").build();
        let Decision::Abort(end) = decided(&reverted, &released, &abort).unwrap() else { panic!("an abort") };
        assert!(!end.restore_template);
        assert_eq!((end.partition, end.warnings.len()), (0, 0));
    }

    #[test]
    fn a_set_applied_with_plain_kubectl_is_rolled_out_as_ever() {
        let web = sts("web", 2)
            .managed_by(
                "kubectl-client-side-apply",
                "Update",
                serde_json::json!({"f:spec": {"f:template": {}}}),
            )
            .build();
        let new = template(&web);
        let request = Request { template: Some(&new), ..Request::default() };
        assert!(roll(decided(&web, &pods(&web, &["web-rev1"; 2]), &request)).warnings.is_empty());
    }

    #[test]
    fn a_pod_the_statefulset_controls_under_another_name_is_a_stray() {
        let web = sts("web", 1).build();
        let mut adopted = pod(&web, 0).build();
        adopted.metadata.name = Some("web-canary".into());
        let error = decided(
            &web,
            &[pod(&web, 0).build(), adopted],
            &Request { partition: Some(0), ..Request::default() },
        );
        assert!(
            matches!(error, Ok(Decision::MovePartition { .. })),
            "moving the partition of a settled set is fine"
        );
        let new = template(&web);
        let request = Request { template: Some(&new), ..Request::default() };
        let mut adopted = pod(&web, 0).build();
        adopted.metadata.name = Some("web-canary".into());
        let error = decided(&web, &[pod(&web, 0).build(), adopted], &request).unwrap_err();
        assert!(matches!(&error, Refusal::StrayPod { pod, .. } if pod == "web-canary"), "{error}");
    }

    proptest::proptest! {
        /// Whatever partition stood before the rollout (`before`) and however far it got
        /// (`reached`), the abort rolls back with the partition low enough that the controller
        /// brings back every pod on another revision, and then restores `before`.
        #[test]
        fn an_abort_reaches_every_index_the_rollout_released(
            replicas in 1i32..8, start in 0i32..3, before in 0i32..9, reached in 0i32..9,
        ) {
            let web = sts("web", replicas)
                .start(start)
                .revisions("web-old", "web-new")
                .partition(reached)
                .annotation(ROLLOUT_ANNOTATION, &journal(before, false))
                .build();
            // Pods at or above the partition the rollout reached run the new revision.
            let revisions: Vec<&str> = (0..replicas).map(|i| if i >= reached { "web-new" } else { "web-old" }).collect();
            let all = pods(&web, &revisions);
            let request = Request { abort: true, ..Request::default() };
            let Decision::Abort(abort) = decided(&web, &all, &request).unwrap() else { panic!("not an abort") };
            proptest::prop_assert!(abort.rollback_partition >= 0);
            proptest::prop_assert!(abort.rollback_partition <= reached.min(before));
            proptest::prop_assert_eq!(abort.partition, before);
            proptest::prop_assert!(abort.restore_template);
            let range = ordinal_range(&web);
            for (ordinal, pod) in pods_of(&web, &all) {
                if pod_revision(pod) != Some("web-old") {
                    proptest::prop_assert!(range.index_of(ordinal) >= i64::from(abort.rollback_partition));
                }
            }
        }
    }
}
