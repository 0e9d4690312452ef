//! Applying a rollout decision: staging, each step behind its gate, the finish, and the abort
//! with its forced rollback. Every write is a guarded JSON patch from
//! [`crate::core::patches`] sent by [`crate::write::Writer`]; every wait is one
//! [`crate::wait::Waiter::until`] on a pure condition ([`wait`], in a rollout's words).

use std::cell::RefCell;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::Api;

use super::Args;
use super::gate::Choice;
use super::report::{Event, Reporter};
use super::words::{wait, wait_shown};
use crate::access::{self, Permission};
use crate::client::Kube;
use crate::core::advice::shell_word;
use crate::core::objects::{ON_DELETE, ordinal_range, update_strategy};
use crate::core::objects::{current_revision, partition, short_revision, update_revision};
use crate::core::patches;
use crate::core::rollout::conditions::{
    describe_position, foreign_changes, is_observed, is_promoted, position, stragglers_of,
};
use crate::core::rollout::decide::{Hold, abort_hint, git_first_owner, rollout_command};
use crate::core::rollout::gates::{self, Gates, OnFailure};
use crate::core::rollout::plan::released;
use crate::core::rollout::{Journal, Replace, Roll, StepVerdict, StepWatch};
use crate::error::{Error, Result, Stop};
use crate::ui::Terminal;
use crate::wait::{Showing, View, Waiter, Wake, deadline};
use crate::write::{Changed, Tested, Writer, Written};

/// How a rollout's steps ended, when not with an error.
pub enum Outcome {
    /// Partition 0, the update revision promoted, the journal removed.
    Finished,
    /// Stopped by the person at the gate, or after an explicit `--partition` step.
    Stopped,
    /// The person chose to abort at the gate.
    AbortChosen,
    /// A step (`None`: the wait on what was already released) failed or timed out; the
    /// partition was left where it was.
    Failed { step: Option<usize>, reasons: Vec<String> },
}

/// How one wait of a step ended.
enum StepEnd {
    Done,
    Failed(Vec<String>),
    Stuck(Vec<Pod>),
}

/// One rollout run: the connection, the person (or CI job) at the other end, and the flags.
pub struct Executor<'a, 'io> {
    pub kube: &'a Kube,
    /// Every write of the run goes through it; a dry run has none, so it never gets here.
    pub writer: Writer,
    pub args: &'a Args,
    pub term: &'a Terminal,
    pub reporter: &'a mut Reporter<'io>,
    pub started: Instant,
    /// Steps this run took (a resumed run takes fewer than its plan has).
    pub steps_taken: usize,
    /// Whether this run has changed the StatefulSet yet.
    pub wrote: bool,
    /// Where this run's last write left the rollout (`at partition 2`,
    /// `core::rollout::conditions::describe_position`).
    pub left_written: Option<String>,
    /// How to roll back, as the messages of this run say it (`core::rollout::decide::abort_hint`).
    pub abort_hint: String,
    /// The gates of the rollout this run drives (a failure aborts with `--on-failure abort`).
    pub gates: Gates,
    /// An abort was consented to in advance (`--on-failure abort`): it asks nothing.
    pub consented_abort: bool,
}

impl Executor<'_, '_> {
    pub(super) fn name(&self) -> &str {
        &self.args.name
    }

    /// An error after this run's first write that does not say itself what was left (an API
    /// request that failed, say): now it does, and how to go on.
    pub fn stranded(&self, error: Error) -> Error {
        match (&self.left_written, &error) {
            (Some(left), Error::Kube { .. } | Error::Output(_)) => Error::Stranded {
                left: format!("{} is left {left}, with its rollout journal", self.name()),
                resume: format!("run `{}` to resume, or {} to roll back", self.resume(), self.abort_hint),
                error: Box::new(error),
            },
            _ => error,
        }
    }

    /// `kubectl stateful rollout NAME ARGS -n NS …`: a rollout command on this run's
    /// StatefulSet with the run's flags, to print as advice.
    pub(super) fn command(&self, args: &str) -> String {
        let name = shell_word(self.name());
        let rollout =
            if args.is_empty() { format!("rollout {name}") } else { format!("rollout {name} {args}") };
        self.kube.flags.plugin(&self.kube.namespace, &rollout)
    }

    /// The command that resumes this rollout.
    pub(super) fn resume(&self) -> String {
        self.command("")
    }

    /// The command that rolls it back.
    pub(super) fn abort_command(&self) -> String {
        self.command("--abort")
    }

    /// No update pending: moving the partition changes no pod, so no journal and no wait.
    pub async fn move_partition(&mut self, sts: &StatefulSet, to: i32, revision: &str) -> Result<()> {
        let from = partition(sts);
        self.term.require_consent(self.args.yes, &format!("change the partition of {}", self.name()))?;
        self.require_permissions(true, sts).await?;
        let what = format!("set the partition of {} to {to}", self.name());
        self.patch(sts, patches::move_partition(sts, to, None), &what).await?;
        self.reporter.event(Event::PartitionMoved { from, partition: to, revision: revision.to_owned() })
    }

    /// `--hold`: raises the partition to hold every pod back and writes the held journal, so
    /// that the next template change from the StatefulSet's owner is staged, not rolled out.
    pub async fn hold(&mut self, sts: &StatefulSet, hold: &Hold) -> Result<()> {
        self.term.require_consent(self.args.yes, &format!("hold {}", self.name()))?;
        self.require_permissions(true, sts).await?;
        let what = format!("hold {} at partition {}", self.name(), hold.partition);
        let written =
            self.patch(sts, patches::move_partition(sts, hold.partition, Some(&hold.journal)), &what).await?;
        let revision = crate::core::objects::update_revision(&written).unwrap_or("?").to_owned();
        let resume = rollout_command(sts, &self.kube.flags, "");
        self.reporter.event(Event::Held { partition: hold.partition, revision, resume })
    }

    /// Before the first write of a roll ([`show_roll`] showed its plan): consent and
    /// permissions.
    pub async fn confirm_roll(&mut self, sts: &StatefulSet, roll: &Roll) -> Result<()> {
        self.gates = roll.gates.clone();
        self.term.require_consent(self.args.yes, &format!("roll out {}", self.name()))?;
        self.require_permissions(false, sts).await
    }

    /// Stages (if the decision says so), then takes the steps with the gate before each;
    /// finishes when the partition reaches 0.
    pub async fn roll(
        &mut self,
        waiter: &mut Waiter,
        mut sts: StatefulSet,
        mut roll: Roll,
    ) -> Result<(StatefulSet, Outcome)> {
        let total = roll.steps.last().map_or(0, |s| s.number);
        // On a terminal, nothing is written before the person has seen the plan and said yes:
        // the question of the first step comes before staging (or before the step that writes
        // the journal), and covers both.
        let mut asked_first = false;
        if roll.journal.is_some() {
            match self.gate_before_writing(&sts, &roll, total)? {
                Choice::Continue => asked_first = true,
                Choice::Stop | Choice::Abort => return Ok((sts, Outcome::Stopped)),
            }
        }
        let mut journal = roll.journal.take();
        if let Some(stage) = roll.stage.take() {
            let staging = journal.take().expect("a stage always writes the new rollout's journal");
            let patch = patches::stage(&sts, stage.template.as_ref(), stage.partition, &staging);
            sts = self.patch(&sts, patch, "stage the rollout").await?;
            sts = self.observed(waiter, sts).await?;
            self.reporter.event(Event::Staged {
                revision: update_revision(&sts).map(str::to_owned),
                partition: stage.partition.unwrap_or(roll.replicas),
            })?;
        }
        if let Some(settle) = &roll.settle_first {
            // Resuming: whatever the partition already releases (under OnDelete: the pods
            // already replaced) must be healthy, and pass the gates, before more moves.
            let until = deadline(self.args.timeout);
            let (next, failure) = self
                .wait_pods(waiter, sts, "resuming".to_owned(), &settle.ordinals, self.pause(), until)
                .await?;
            sts = next;
            let failure = match failure {
                None => self.run_gates(waiter, &sts, &roll.gates, &settle.ordinals, 0, until).await?,
                failed => failed,
            };
            if let Some(reasons) = failure {
                return Ok((sts, Outcome::Failed { step: None, reasons }));
            }
        }
        for (i, step) in roll.steps.iter().enumerate() {
            let choice = if i == 0 && asked_first { Choice::Continue } else { self.gate(&sts, step, total)? };
            match choice {
                Choice::Continue => {}
                Choice::Stop => return Ok((sts, Outcome::Stopped)),
                Choice::Abort => return Ok((sts, Outcome::AbortChosen)),
            }
            self.reporter.event(Event::StepStarted {
                step: step.number,
                steps: total,
                partition: step.partition,
                ordinals: step.ordinals.clone(),
            })?;
            let until = deadline(self.args.timeout);
            let started = Instant::now();
            let (next, failure) = match roll.replace {
                Replace::Controller => {
                    // The controller deletes pods without eviction, so the budgets are checked
                    // here: as many pods as it takes down at once must be allowed down.
                    let at_once = roll.at_once(step);
                    if let Some(reasons) = self
                        .wait_for_budgets(waiter, &sts, roll.gates.ignore_pdb, &step.ordinals, at_once, until)
                        .await?
                    {
                        return Ok((sts, Outcome::Failed { step: Some(step.number), reasons }));
                    }
                    let patch = patches::move_partition(&sts, step.partition, journal.take().as_ref());
                    let what = format!("set the partition of {} to {}", self.name(), step.partition);
                    sts = self.patch(&sts, patch, &what).await?;
                    let range = ordinal_range(&sts);
                    let released = released(range, step.partition, range.replicas);
                    let label = format!("step {}/{total}", step.number);
                    let (next, failure) =
                        self.wait_pods(waiter, sts, label, &released, self.pause(), until).await?;
                    match failure {
                        None => {
                            let gates = self
                                .run_gates(waiter, &next, &roll.gates, &step.ordinals, step.number, until)
                                .await?;
                            (next, gates)
                        }
                        failed => (next, failed),
                    }
                }
                Replace::Eviction => {
                    if let Some(journal) = journal.take() {
                        sts = self
                            .patch(&sts, patches::journal(&sts, &journal), "write the rollout journal")
                            .await?;
                    }
                    self.evict_step(waiter, sts, step, total, &roll.gates, until).await?
                }
            };
            sts = next;
            if let Some(reasons) = failure {
                return Ok((sts, Outcome::Failed { step: Some(step.number), reasons }));
            }
            self.reporter.event(Event::StepDone {
                step: step.number,
                steps: total,
                partition: step.partition,
                seconds: started.elapsed().as_secs_f64(),
            })?;
            self.steps_taken += 1;
        }
        if roll.replace == Replace::Eviction {
            if let Some(sts) = self.finish_evicted(waiter, sts.clone()).await? {
                return Ok((sts, Outcome::Finished));
            }
            // A pod on another revision no step planned (a scale-up meanwhile, say).
            self.reporter.event(Event::Stopped {
                partition: position(&sts),
                reason: format!(
                    "the planned pods run the update revision, but not every pod of {} does: run `{}` to replace the \
                     rest, or {} to roll back",
                    self.name(),
                    self.resume(),
                    abort_hint(&sts, &self.kube.flags)
                ),
            })?;
            return Ok((sts, Outcome::Stopped));
        }
        if partition(&sts) == 0 {
            let sts = self.finish(waiter, sts).await?;
            return Ok((sts, Outcome::Finished));
        }
        self.reporter.event(Event::Stopped {
            partition: partition(&sts),
            reason: format!(
                "partition is {}: run `{}` to continue with the plan, or {} to roll back",
                partition(&sts),
                self.resume(),
                abort_hint(&sts, &self.kube.flags)
            ),
        })?;
        Ok((sts, Outcome::Stopped))
    }

    /// How long a finished step is watched before the next: `--pause`, with `--yes` (without
    /// it, the person at the gate decides when to go on).
    pub(super) fn pause(&self) -> Duration {
        if self.args.yes { self.args.pause } else { Duration::ZERO }
    }

    /// Waits for the pods at `ordinals` (a step's): updated, Ready and available, then still so
    /// for `pause`. A pod there stuck not Ready on another revision is deleted after consent,
    /// as the abort does (the controller would wait for it forever). Returns the failure
    /// reasons if the wait failed or timed out.
    pub(super) async fn wait_pods(
        &mut self,
        waiter: &mut Waiter,
        sts: StatefulSet,
        label: String,
        ordinals: &[i32],
        pause: Duration,
        until: tokio::time::Instant,
    ) -> Result<(StatefulSet, Option<Vec<String>>)> {
        let timeout = self.args.timeout;
        let name = self.args.name.clone();
        let mut watch = StepWatch::new(pause);
        let mut deleted: Vec<String> = Vec::new();
        let mut sts = sts;
        loop {
            let reporter = &mut *self.reporter;
            // In a pipe or under NO_COLOR, a plain line per change of where the step stands.
            let status = RefCell::new(String::new());
            let mut plain = reporter.plain_progress(format!("the rollout of {name} ({label})"), until);
            let state = |_: &View| Showing::from(status.borrow().clone());
            let shown = plain.as_mut().map(|progress| (progress, &state as &dyn Fn(&View) -> Showing));
            let (now, end) = wait_shown(
                waiter,
                &name,
                &sts,
                until,
                shown,
                |sts, view, now| match watch.observe_ordinals(sts, &view.pods, ordinals, now) {
                    StepVerdict::Failed(reasons) => Ok(Wake::Done(StepEnd::Failed(reasons))),
                    StepVerdict::Stuck(stuck) => {
                        let fresh: Vec<Pod> = stuck
                            .into_iter()
                            .filter(|p| !deleted.contains(&p.uid().unwrap_or_default()))
                            .collect();
                        Ok(if fresh.is_empty() { Wake::Wait } else { Wake::Done(StepEnd::Stuck(fresh)) })
                    }
                    StepVerdict::Done(progress) => {
                        reporter.progress(&label, &progress, update_revision(sts))?;
                        Ok(Wake::Done(StepEnd::Done))
                    }
                    StepVerdict::Waiting { pods: progress, soon } => {
                        reporter.progress(&label, &progress, update_revision(sts))?;
                        status.replace(reporter.status().to_owned());
                        Ok(if soon { Wake::Soon } else { Wake::Wait })
                    }
                },
                |sts, view| {
                    let late = stragglers_of(sts, &view.pods, ordinals);
                    let reason = format!(
                        "timed out after {}: {}",
                        humantime::format_duration(timeout),
                        late.join(", ")
                    );
                    Ok(StepEnd::Failed(vec![reason]))
                },
            )
            .await?;
            sts = now;
            let stuck = match end {
                StepEnd::Failed(reasons) => return Ok((sts, Some(reasons))),
                StepEnd::Done => break,
                StepEnd::Stuck(stuck) => stuck,
            };
            let names: Vec<String> = stuck.iter().map(ResourceExt::name_any).collect();
            let them = if names.len() == 1 { "it" } else { "them" };
            let question = format!(
                "{} stuck not Ready on a revision the rollout no longer runs; the controller will not replace {them} \
                 (OrderedReady). Delete {them}, so that {them} come back on the update revision?",
                names.join(", ")
            );
            let yes = self.args.yes;
            if !self.reporter.suspend(|| self.term.confirm(yes, &question))? {
                let words: Vec<String> = names.iter().map(|n| shell_word(n).into_owned()).collect();
                let reason = format!(
                    "{} stuck not Ready on a revision the rollout no longer runs, which the controller will not \
                     replace: delete {them} (`{}`), or run `{}`",
                    names.join(", "),
                    self.kube.flags.kubectl(&self.kube.namespace, &format!("delete pod {}", words.join(" "))),
                    self.abort_command()
                );
                return Ok((sts, Some(vec![reason])));
            }
            for pod in stuck {
                self.delete_stuck(&pod).await?;
                deleted.push(pod.uid().unwrap_or_default());
            }
        }
        Ok((sts, None))
    }

    /// A failed step: say which pods and why, leave the partition where it is, offer the abort.
    pub async fn failed(
        &mut self,
        waiter: &mut Waiter,
        sts: StatefulSet,
        step: Option<usize>,
        reasons: Vec<String>,
    ) -> Result<()> {
        self.reporter.event(Event::Failed { step, partition: position(&sts), reasons: reasons.clone() })?;
        let name = self.name().to_owned();
        // A held rollout of Git's template is rolled back in Git, not here.
        let git_first = git_first_owner(&sts).is_some();
        let abort_now = self.gates.on_failure == OnFailure::Abort && !git_first;
        let ask = !abort_now && self.term.interactive && !self.args.yes && !git_first;
        let question = "The step failed. Abort and roll back now?";
        if abort_now || (ask && self.reporter.suspend(|| self.term.confirm(false, question))?) {
            // --on-failure abort is the consent to this abort.
            self.consented_abort = abort_now;
            let target = Journal::of(&sts)
                .ok()
                .flatten()
                .map(|j| j.from_revision)
                .or_else(|| current_revision(&sts).map(str::to_owned))
                .unwrap_or_default();
            self.abort_now(waiter, sts).await?;
            let revision = short_revision(&name, &target).to_owned();
            return Err(Stop::RolledBack { name, reasons, revision }.into());
        }
        let position = describe_position(&sts, Some(&waiter.pods()));
        Err(Stop::StepStopped {
            name,
            position,
            reasons,
            resume: self.resume(),
            abort: abort_hint(&sts, &self.kube.flags),
        }
        .into())
    }

    /// After the last step: waits until the controller promotes the update revision, then
    /// removes the journal.
    async fn finish(&mut self, waiter: &mut Waiter, sts: StatefulSet) -> Result<StatefulSet> {
        let name = self.name().to_owned();
        let (sts, ()) = wait(
            waiter,
            &name,
            &sts,
            deadline(self.args.timeout),
            |sts, _, _| Ok(if is_promoted(sts) { Wake::Done(()) } else { Wake::Wait }),
            |sts, _| {
                let revision = update_revision(sts).unwrap_or("?").to_owned();
                Err(Stop::NotPromoted { name: name.clone(), revision }.into())
            },
        )
        .await?;
        let sts = self.patch(&sts, patches::clear_journal(&sts), "clear the rollout journal").await?;
        self.reporter.event(Event::Finished {
            revision: update_revision(&sts).map(str::to_owned),
            steps: self.steps_taken,
            seconds: self.started.elapsed().as_secs_f64(),
        })?;
        Ok(sts)
    }

    /// Waits until the controller has observed what this run wrote.
    pub(super) async fn observed(&mut self, waiter: &mut Waiter, sts: StatefulSet) -> Result<StatefulSet> {
        let name = self.name().to_owned();
        let (sts, ()) = wait(
            waiter,
            &name,
            &sts,
            deadline(self.args.timeout),
            |sts, _, _| Ok(if is_observed(sts) { Wake::Done(()) } else { Wake::Wait }),
            |_, _| Err(Stop::NotObservedInTime { name: name.clone() }.into()),
        )
        .await?;
        Ok(sts)
    }

    /// A guarded JSON patch; a failed guard means someone else changed the StatefulSet.
    pub(super) async fn patch(
        &mut self,
        sts: &StatefulSet,
        patch: Tested,
        what: &str,
    ) -> Result<StatefulSet> {
        let api: Api<StatefulSet> = self.kube.api();
        match self.writer.patch(&api, self.name(), &patch, what).await? {
            Written::Done(sts) => {
                self.wrote = true;
                self.left_written = Some(describe_position(&sts, None));
                Ok(sts)
            }
            Written::Changed(Changed { now: Some(now) }) => Err(Error::Conflict {
                name: self.name().to_owned(),
                during: format!("before this run could {what}"),
                changes: foreign_changes(sts, &now),
                by: crate::core::owners::changed_by(&now).map(Box::new),
                partition: partition(&now),
                ways_on: Error::conflict_ways_on(&self.resume(), &abort_hint(&now, &self.kube.flags)),
            }),
            Written::Changed(Changed { now: None }) | Written::Gone => {
                Err(Stop::DeletedSinceRead { what: what.to_owned(), name: self.name().to_owned() }.into())
            }
        }
    }

    /// Where an error now leaves the StatefulSet, for a refusal after this run's writes.
    pub(super) fn left(&self, sts: &StatefulSet) -> String {
        match self.wrote {
            true => format!("{} is left {}", self.name(), describe_position(sts, None)),
            false => "nothing was changed".to_owned(),
        }
    }

    /// Everything the run may need, checked before its first write: patching the StatefulSet;
    /// for anything that waits, watching it and its pods; and, because any step may end in an
    /// abort, reading ControllerRevisions (the template it restores) and deleting pods (a pod
    /// stuck on a broken revision, forced rollback). `moves_only`: a partition move with no
    /// update pending, which neither waits nor can need an abort.
    pub(super) async fn require_permissions(&self, moves_only: bool, sts: &StatefulSet) -> Result<()> {
        let namespace = Some(self.kube.namespace.as_str());
        let apps =
            |verb, resource| Permission { verb, group: "apps", resource, namespace, subresource: None };
        let core = |verb, resource| Permission { verb, group: "", resource, namespace, subresource: None };
        let mut needed = vec![apps("patch", "statefulsets")];
        if !moves_only {
            needed.extend([
                apps("list", "statefulsets"),
                apps("watch", "statefulsets"),
                core("list", "pods"),
                core("watch", "pods"),
                apps("get", "controllerrevisions"),
                core("delete", "pods"),
            ]);
            // The waits watch the budgets (unless ignored).
            if !self.gates.ignore_pdb {
                for verb in ["list", "watch"] {
                    needed.push(Permission {
                        verb,
                        group: "policy",
                        resource: "poddisruptionbudgets",
                        namespace,
                        subresource: None,
                    });
                }
            }
            // OnDelete (or --evict): this tool replaces the pods, by eviction.
            if (update_strategy(sts) == ON_DELETE || self.args.evict) && !self.gates.ignore_pdb {
                needed.push(Permission {
                    verb: "create",
                    group: "",
                    resource: "pods",
                    namespace,
                    subresource: Some("eviction"),
                });
            }
            // From 1.35 exec takes both verbs on the subresource (websocket exec is a GET).
            if !self.gates.exec.is_empty() {
                for verb in ["create", "get"] {
                    needed.push(Permission {
                        verb,
                        group: "",
                        resource: "pods",
                        namespace,
                        subresource: Some("exec"),
                    });
                }
            }
        }
        // An abort chosen at the gate or after a failure comes after this run's own changes.
        let left = if !self.wrote {
            "nothing was changed".to_owned()
        } else {
            format!("{} is left {}", self.name(), describe_position(sts, None))
        };
        access::require(self.kube, &needed, &left).await
    }
}

/// Shows a roll's plan and warnings, the same for a dry run and a real one: whether a budget
/// keeps its first step from starting now, and what replacing by eviction needs
/// ([`require_one_budget`]).
pub async fn show_roll(
    kube: &Kube,
    args: &Args,
    reporter: &mut Reporter<'_>,
    sts: &StatefulSet,
    pods: &[Pod],
    roll: &Roll,
) -> Result<()> {
    reporter.event(Event::Plan {
        from_revision: roll.from_revision.clone(),
        to_revision: roll.to_revision.clone(),
        replicas: roll.replicas,
        partition: roll.partition,
        replace: roll.replace,
        staged_partition: roll.stage.as_ref().map(|s| s.partition.unwrap_or(roll.replicas)),
        steps: roll.steps.clone(),
        pods_at_once: roll.pods_at_once,
        gates: roll.gates.clone(),
    })?;
    for message in &roll.warnings {
        reporter.event(Event::Warning { message: message.clone() })?;
    }
    if roll.gates.ignore_pdb {
        return Ok(());
    }
    // Budgets that may not be read are not "no budget": the waits' watch fails the start.
    let scope = crate::fetch::Scope::Namespace(kube.namespace.clone());
    let Some(budgets) = crate::fetch::optional_budgets(&kube.client, &scope, true).await? else {
        return Ok(());
    };
    if let Some(step) = roll.steps.first() {
        let holds = gates::pdb_holds(&budgets, sts, pods, &step.ordinals, roll.at_once(step));
        let timeout = humantime::format_duration(args.timeout).to_string();
        if let Some(message) = gates::first_step_held(&holds, &timeout) {
            reporter.event(Event::Warning { message })?;
        }
    }
    if roll.replace == Replace::Eviction {
        require_one_budget(&budgets, &args.name, sts, pods, "nothing was changed")?;
    }
    Ok(())
}

/// Replacing by eviction needs at most one PodDisruptionBudget over each pod: the Eviction
/// API refuses a pod two select ([`gates::shared_pod`], by the pods' own labels). Checked
/// before the first write, naming the pod and the budgets; `left` says what state a refusal
/// leaves.
pub(super) fn require_one_budget(
    budgets: &[k8s_openapi::api::policy::v1::PodDisruptionBudget],
    name: &str,
    sts: &StatefulSet,
    pods: &[Pod],
    left: &str,
) -> Result<()> {
    match gates::shared_pod(budgets, sts, pods) {
        None => Ok(()),
        Some((pod, over)) => {
            Err(Stop::TwoBudgets { name: name.to_owned(), pod, budgets: over, left: left.to_owned() }.into())
        }
    }
}

/// The budgets of the namespace, for [`require_one_budget`]: they must be read.
pub(super) async fn budgets_of(
    kube: &Kube,
) -> Result<Vec<k8s_openapi::api::policy::v1::PodDisruptionBudget>> {
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    let api: Api<PodDisruptionBudget> = kube.api();
    let budgets = api
        .list(&Default::default())
        .await
        .map_err(Error::kube(format!("list poddisruptionbudgets in namespace {}", kube.namespace)))?;
    Ok(budgets.items)
}
