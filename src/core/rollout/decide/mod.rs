//! What a `rollout` run does, decided from what was read: the StatefulSet (with its journal),
//! its pods and the request. The shell fetches, calls [`decide`], then applies the decision
//! and waits; every refusal and every path is here, under a table of unit tests (the split
//! argo-rollouts makes between `getPatches` and `PromoteRollout`).

mod abort;
mod owners;
mod preflight;
mod refusal;
mod request;
#[cfg(test)]
mod tests;
mod warnings;

pub use abort::{abort, base_revision, not_ready_after_abort};
pub use owners::{abort_hint, git_first_owner, undo_first};
use owners::{owned_abort, owned_partition, owned_strategy, owned_template};
use preflight::preflight;
pub use refusal::{OwnedField, Refusal};
pub use request::{Cluster, Request};
use request::{Validated, validate};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::conditions::{is_observed, update_pending};
use super::gates::Gates;
use super::journal::{Journal, ReadyAtStart};
use super::order::{eviction_plan, replacement_order};
use super::plan::{Step, Steps, plan, released, single_step};
use crate::core::advice::{RunFlags, shell_word};
use crate::core::facts::{MaxUnavailableFinding, pods_at_once};
use crate::core::objects::{
    LivePods, current_revision, ordinal_range, partition, pod_revision, pods_of, replicas, update_revision,
};
use crate::core::owners::{AppSync, Owners};

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
    /// What the person should know first: an Argo CD Application that could not be read may
    /// sync with `Replace=true`, which would release every pod with the change.
    pub warnings: Vec<String>,
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

impl Roll {
    /// How many pods of `step` go down at once: its pods, at most what the controller takes
    /// down together (one at a time by eviction).
    pub fn at_once(&self, step: &Step) -> i32 {
        (step.ordinals.len() as i32).min(self.pods_at_once)
    }
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

/// Decides what this run does. `now` stamps a new journal. When the refusal
/// [`may_pass`](Refusal::may_pass), the shell waits for the controller and decides again.
///
/// # Errors
/// A [`Refusal`] naming why nothing may change.
pub fn decide(cluster: &Cluster, request: &Request, now: Timestamp) -> Result<Decision, Refusal> {
    let Cluster { sts, pods, events, max_unavailable, revisions, zones, application, .. } = *cluster;
    let name = sts.name_any();
    let Validated { replace, switching } = validate(cluster, request)?;
    let evicting = replace == Replace::Eviction;
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
    let flags = request.flags;
    let journal = Journal::of(sts).map_err(|source| journal_refusal(sts, flags, source))?;
    let aborting = journal.as_ref().is_some_and(|j| j.aborting);
    if aborting && !request.abort && (request.template.is_some() || request.partition.is_some()) {
        return Err(Refusal::AbortPending { name, abort: rollout_command(sts, flags, "--abort") });
    }
    let owners = Owners::of(sts).with_application(application);
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
        return hold(sts, pods, journal, &owners, application, request, now);
    }
    if let (Some(journal), Some(_)) = (&journal, request.template) {
        return Err(in_progress(sts, journal, flags));
    }
    if switching && journal.is_some() {
        return Err(Refusal::EvictMidRollout {
            name,
            resume: rollout_command(sts, flags, ""),
            abort: rollout_command(sts, flags, "--abort"),
        });
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
    if switching {
        overridden.extend(owned_strategy(sts, &owners, request)?);
    }
    if let Some(template) = request.template {
        overridden.extend(owned_template(sts, &owners, template, request)?);
    }
    preflight(sts, pods, events, journal.is_none(), now, flags)?;
    let sizes = match (request.steps, &journal) {
        (Some(steps), _) => steps.clone(),
        (None, Some(journal)) => {
            journal.step_sizes().map_err(|source| journal_refusal(sts, flags, source))?
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
        // A set parked at 0 replicas with a partition: one step to 0 that moves no pod
        // (core::rollout::plan), else the rollout could never finish.
        None if replicas == 0 => plan(range, &sizes.0, hold),
        // Numbered as in the whole plan, so a resumed rollout keeps its step numbers.
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
    // What the person should know before it goes on, in this order.
    let mut warnings = overridden;
    let staged = journal.as_ref().and_then(|j| j.staged_replicas);
    warnings.extend(staged.and_then(|staged| warnings::unreleased(sts, pods, staged)));
    warnings
        .extend(MaxUnavailableFinding::of(sts, max_unavailable).filter(|_| !evicting).map(|f| f.describe()));
    warnings.extend(request.template.is_none().then(|| warnings::same_template(sts, revisions)).flatten());
    // A resumed rollout keeps its journaled gates, but `--ignore-pdb` is this run's choice (the
    // way past a budget that holds a step, as for `--abort`): it is honoured, never dropped.
    let gates = match (&journal, request.gates) {
        (Some(journal), Some(asked)) => {
            let ignore_pdb = journal.gates.ignore_pdb || asked.ignore_pdb;
            let kept = Gates { ignore_pdb, ..journal.gates.clone() };
            if (Gates { ignore_pdb, ..asked.clone() }) != kept {
                warnings.push(warnings::gates_kept(&kept));
            }
            kept
        }
        (Some(journal), None) => journal.gates.clone(),
        (None, asked) => asked.cloned().unwrap_or_default(),
    };
    let before = base_revision(sts, pods);
    warnings.extend(zones.filter(|_| evicting).and_then(warnings::zones_unlabelled));
    warnings.extend(switching.then(|| warnings::evict_switch(&name)));
    let new_journal = journal.is_none().then(|| Journal {
        steps: sizes.0.iter().map(ToString::to_string).collect(),
        staged_replicas: stages.then_some(replicas),
        gates: gates.clone(),
        strategy_before: switching
            .then(|| sts.spec.as_ref().and_then(|s| s.update_strategy.clone()).unwrap_or_default()),
        by_zone: request.by_zone,
        ready_at_start: Some(ReadyAtStart::of(sts, pods)),
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

/// `kubectl stateful rollout NAME ARGS -n NS …`: a rollout of `sts` (`args` after its name, as
/// written) with the run's connection `flags`, to print as advice.
pub fn rollout_command(sts: &StatefulSet, flags: &RunFlags, args: &str) -> String {
    let name = sts.name_any();
    let rollout = match args {
        "" => format!("rollout {}", shell_word(&name)),
        args => format!("rollout {} {args}", shell_word(&name)),
    };
    flags.plugin(&sts.namespace().unwrap_or_default(), &rollout)
}

/// A journal that cannot be read: the refusal, with the command that discards it.
pub fn journal_refusal(sts: &StatefulSet, flags: &RunFlags, source: super::journal::JournalError) -> Refusal {
    Refusal::Journal {
        name: sts.name_any(),
        discard: rollout_command(sts, flags, "--discard-journal"),
        source,
    }
}

/// A rollout in progress where a new one was asked for: resume it, or roll it back.
fn in_progress(sts: &StatefulSet, journal: &Journal, flags: &RunFlags) -> Refusal {
    Refusal::InProgress {
        name: sts.name_any(),
        started_at: journal.started_at,
        resume: rollout_command(sts, flags, ""),
        abort: abort_hint(sts, flags),
    }
}

/// `--hold`: the partition raised to the replica count with a held journal, so that the next
/// template change the owner applies is staged, not rolled out. Holding again is nothing to do.
fn hold(
    sts: &StatefulSet,
    pods: &[Pod],
    journal: Option<Journal>,
    owners: &Owners,
    application: Option<&AppSync>,
    request: &Request,
    now: Timestamp,
) -> Result<Decision, Refusal> {
    if let Some(journal) = journal {
        if journal.held {
            let revision = update_revision(sts).unwrap_or("?").to_owned();
            return Ok(Decision::Held { partition: partition(sts), revision });
        }
        return Err(in_progress(sts, &journal, request.flags));
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
            ready_at_start: Some(ReadyAtStart::of(sts, pods)),
            ..Journal::new(sts, current_revision(sts).unwrap_or_default().to_owned(), now)
        },
        owner: owners.applier.as_ref().map(|a| a.describe()),
        warnings: warnings::hold_unverified(owners, application).into_iter().collect(),
    }))
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
