//! Applying a rollout decision: staging, each step behind its gate, the finish, and the abort
//! with its forced rollback. Every write is a guarded JSON patch from
//! [`crate::core::patches`]; every wait is one [`Waiter::until`] on a pure condition.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::ResourceExt;
use kube::api::{Api, Patch};

use super::Args;
use super::report::{Event, Reporter};
use super::wait::{Waiter, Wake, deadline};
use crate::access::{self, Permission};
use crate::apply::patch_params;
use crate::client::Kube;
use crate::core::names::pod_name;
use crate::core::objects::{current_revision, partition, short_revision, update_revision};
use crate::core::patches;
use crate::core::rollout::conditions::{foreign_changes, is_observed, is_promoted, stragglers};
use crate::core::rollout::{Journal, Roll, Step, StepVerdict, StepWatch};
use crate::error::{Error, Result};
use crate::ui::Terminal;

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

/// What the person chose at the gate before a step.
enum Choice {
    Continue,
    Stop,
    Abort,
}

/// One rollout run: the connection, the person (or CI job) at the other end, and the flags.
pub struct Executor<'a, 'io> {
    pub kube: &'a Kube,
    pub args: &'a Args,
    pub term: &'a Terminal,
    pub reporter: &'a mut Reporter<'io>,
    pub started: Instant,
    /// Steps this run took (a resumed run takes fewer than its plan has).
    pub steps_taken: usize,
    /// Whether this run has changed the StatefulSet yet.
    pub wrote: bool,
}

impl Executor<'_, '_> {
    pub(super) fn name(&self) -> &str {
        &self.args.name
    }

    /// No update pending: moving the partition changes no pod, so no journal and no wait.
    pub async fn move_partition(&mut self, sts: &StatefulSet, to: i32, revision: &str) -> Result<()> {
        if !self.args.dry_run {
            self.term.require_consent(self.args.yes, &format!("change the partition of {}", self.name()))?;
            self.require_permissions(false, sts).await?;
            let what = format!("set the partition of {} to {to}", self.name());
            self.patch(sts, patches::move_partition(sts, to, None), &what).await?;
        }
        let line = format!(
            "partition of {} is {to}; no update is pending, every pod runs revision {revision}",
            self.name()
        );
        self.reporter.say(line);
        Ok(())
    }

    /// Shows the plan; false for a dry run. Otherwise checks consent and permissions.
    pub async fn confirm_roll(&mut self, sts: &StatefulSet, roll: &Roll) -> Result<bool> {
        self.reporter.event(Event::Plan {
            from_revision: roll.from_revision.clone(),
            to_revision: roll.to_revision.clone(),
            replicas: roll.replicas,
            partition: roll.partition,
            staged_partition: roll.stage.as_ref().map(|s| s.partition),
            steps: roll.steps.clone(),
        })?;
        for message in &roll.warnings {
            self.reporter.event(Event::Warning { message: message.clone() })?;
        }
        if self.args.dry_run {
            self.reporter.say("dry run: nothing was changed");
            return Ok(false);
        }
        self.term.require_consent(self.args.yes, &format!("roll out {}", self.name()))?;
        self.require_permissions(false, sts).await?;
        Ok(true)
    }

    /// Stages (if the decision says so), then takes the steps with the gate before each;
    /// finishes when the partition reaches 0.
    pub async fn roll(
        &mut self,
        waiter: &mut Waiter,
        mut sts: StatefulSet,
        roll: Roll,
    ) -> Result<(StatefulSet, Outcome)> {
        let mut journal = roll.journal;
        if let Some(stage) = roll.stage {
            let staging = journal.take().expect("a stage always writes the new rollout's journal");
            let patch = patches::stage(&sts, stage.template.as_ref(), stage.partition, &staging);
            sts = self.patch(&sts, patch, "stage the rollout").await?;
            sts = self.observed(waiter, sts).await?;
            self.reporter.event(Event::Staged {
                revision: update_revision(&sts).map(str::to_owned),
                partition: stage.partition,
            })?;
        }
        let total = roll.steps.last().map_or(0, |s| s.number);
        if let Some(settle) = &roll.settle_first {
            // Resuming: whatever the partition already releases must be healthy before more moves.
            let (next, failure) = self.wait_step(waiter, sts, settle, total).await?;
            sts = next;
            if let Some(reasons) = failure {
                return Ok((sts, Outcome::Failed { step: None, reasons }));
            }
        }
        for step in &roll.steps {
            match self.gate(&sts, step, total)? {
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
            let patch = patches::move_partition(&sts, step.partition, journal.take().as_ref());
            let what = format!("set the partition of {} to {}", self.name(), step.partition);
            sts = self.patch(&sts, patch, &what).await?;
            let (next, failure) = self.wait_step(waiter, sts, step, total).await?;
            sts = next;
            if let Some(reasons) = failure {
                return Ok((sts, Outcome::Failed { step: Some(step.number), reasons }));
            }
            self.steps_taken += 1;
        }
        if partition(&sts) == 0 {
            let sts = self.finish(waiter, sts).await?;
            return Ok((sts, Outcome::Finished));
        }
        self.reporter.event(Event::Stopped {
            partition: partition(&sts),
            reason: format!(
                "partition is {}: run `kubectl stateful rollout {}` to continue with the plan, or add --abort",
                partition(&sts),
                self.name()
            ),
        })?;
        Ok((sts, Outcome::Stopped))
    }

    /// Between steps: continue, stop here, or abort. With --yes, continue (after --pause).
    fn gate(&mut self, sts: &StatefulSet, next: &Step, total: usize) -> Result<Choice> {
        if self.args.yes {
            return Ok(Choice::Continue);
        }
        let pods: Vec<String> = next.ordinals.iter().map(|o| pod_name(self.name(), *o)).collect();
        let question = format!(
            "Next: step {}/{total}, partition {} -> {}, updates {}",
            next.number,
            partition(sts),
            next.partition,
            pods.join(", ")
        );
        let choices = ["continue", "stop here (resume later)", "abort and roll back"];
        let answer =
            self.reporter.suspend(|| self.term.choose(&question, &choices)).map_err(|e| match e {
                Error::Interrupted { at_prompt, .. } => Error::Interrupted {
                    at_prompt,
                    left: format!("{} is left at partition {}", self.name(), partition(sts)),
                    resume: Some(format!(
                        "run `kubectl stateful rollout {}` to resume, or add --abort",
                        self.name()
                    )),
                },
                other => other,
            })?;
        Ok(match answer {
            0 => Choice::Continue,
            1 => {
                self.reporter.event(Event::Stopped {
                    partition: partition(sts),
                    reason: format!(
                        "stopped at partition {}: run `kubectl stateful rollout {}` to resume",
                        partition(sts),
                        self.name()
                    ),
                })?;
                Choice::Stop
            }
            _ => Choice::Abort,
        })
    }

    /// Waits for a step: the released pods updated, Ready and available, then still so for
    /// `--pause` (with `--yes`). Returns the failure reasons if the step failed or timed out.
    async fn wait_step(
        &mut self,
        waiter: &mut Waiter,
        sts: StatefulSet,
        step: &Step,
        total: usize,
    ) -> Result<(StatefulSet, Option<Vec<String>>)> {
        let started = Instant::now();
        let label =
            if step.number == 0 { "resuming".to_owned() } else { format!("step {}/{total}", step.number) };
        let pause = if self.args.yes { self.args.pause } else { Duration::ZERO };
        let timeout = self.args.timeout;
        let mut watch = StepWatch::new(pause);
        let reporter = &mut *self.reporter;
        let (sts, failure) = waiter
            .until(
                &sts,
                deadline(timeout),
                |sts, pods, now| match watch.observe(sts, pods, step.partition, now) {
                    StepVerdict::Failed(reasons) => Ok(Wake::Done(Some(reasons))),
                    StepVerdict::Done(progress) => {
                        reporter.progress(&label, &progress, update_revision(sts))?;
                        Ok(Wake::Done(None))
                    }
                    StepVerdict::Waiting { pods: progress, soon } => {
                        reporter.progress(&label, &progress, update_revision(sts))?;
                        Ok(if soon { Wake::Soon } else { Wake::Wait })
                    }
                },
                |sts, pods| {
                    let late = stragglers(sts, pods, step.partition);
                    Ok(Some(vec![format!(
                        "timed out after {}: {}",
                        humantime::format_duration(timeout),
                        late.join(", ")
                    )]))
                },
            )
            .await?;
        if failure.is_none() && step.number > 0 {
            self.reporter.event(Event::StepDone {
                step: step.number,
                steps: total,
                partition: step.partition,
                seconds: started.elapsed().as_secs_f64(),
            })?;
        }
        Ok((sts, failure))
    }

    /// A failed step: say which pods and why, leave the partition where it is, offer the abort.
    pub async fn failed(
        &mut self,
        waiter: &mut Waiter,
        sts: StatefulSet,
        step: Option<usize>,
        reasons: Vec<String>,
    ) -> Result<()> {
        self.reporter.event(Event::Failed { step, partition: partition(&sts), reasons: reasons.clone() })?;
        let name = self.name().to_owned();
        if self.term.interactive && !self.args.yes {
            let question = "The step failed. Abort and roll back now?";
            if self.reporter.suspend(|| self.term.confirm(false, question))? {
                let target = Journal::of(&sts)
                    .ok()
                    .flatten()
                    .map(|j| j.from_revision)
                    .or_else(|| current_revision(&sts).map(str::to_owned))
                    .unwrap_or_default();
                self.abort_now(waiter, sts).await?;
                return Err(Error::StepFailed(format!(
                    "rollout of {name} failed ({}) and was rolled back to revision {}",
                    reasons.join("; "),
                    short_revision(&name, &target)
                )));
            }
        }
        Err(Error::StepFailed(format!(
            "rollout of {name} stopped at partition {}: {}; no further pod was updated. Fix and run \
             `kubectl stateful rollout {name}` to resume, or add --abort to roll back",
            partition(&sts),
            reasons.join("; "),
        )))
    }

    /// After the last step: waits until the controller promotes the update revision, then
    /// removes the journal.
    async fn finish(&mut self, waiter: &mut Waiter, sts: StatefulSet) -> Result<StatefulSet> {
        let name = self.name().to_owned();
        let (sts, ()) = waiter
            .until(
                &sts,
                deadline(self.args.timeout),
                |sts, _, _| Ok(if is_promoted(sts) { Wake::Done(()) } else { Wake::Wait }),
                |sts, _| {
                    Err(Error::StepFailed(format!(
                        "every pod of {name} is updated, but the controller has not promoted revision {} to current",
                        update_revision(sts).unwrap_or("?")
                    )))
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
    async fn observed(&mut self, waiter: &mut Waiter, sts: StatefulSet) -> Result<StatefulSet> {
        let name = self.name().to_owned();
        let (sts, ()) = waiter
            .until(
                &sts,
                deadline(self.args.timeout),
                |sts, _, _| Ok(if is_observed(sts) { Wake::Done(()) } else { Wake::Wait }),
                |_, _| {
                    Err(Error::StepFailed(format!(
                        "the controller did not observe the change to {name} in time"
                    )))
                },
            )
            .await?;
        Ok(sts)
    }

    /// A guarded JSON patch; a failed guard means someone else changed the StatefulSet.
    pub(super) async fn patch(
        &mut self,
        sts: &StatefulSet,
        patch: json_patch::Patch,
        what: &str,
    ) -> Result<StatefulSet> {
        let api: Api<StatefulSet> = self.kube.api();
        match api.patch(self.name(), &patch_params(), &Patch::<()>::Json(patch)).await {
            Ok(sts) => {
                self.wrote = true;
                Ok(sts)
            }
            // A failed `test` guard (422) or a write conflict (409): if the StatefulSet is no
            // longer what we read, someone else changed it.
            Err(kube::Error::Api(status)) if matches!(status.code, 409 | 422) => {
                let now = api.get_opt(self.name()).await.ok().flatten();
                match now {
                    Some(now)
                        if now.metadata.generation == sts.metadata.generation
                            && now.annotations() == sts.annotations() =>
                    {
                        Err(Error::kube(what)(kube::Error::Api(status)))
                    }
                    Some(now) => Err(Error::Conflict {
                        name: self.name().to_owned(),
                        during: format!("before this run could {what}"),
                        changes: foreign_changes(sts, &now),
                    }),
                    None => Err(Error::Refused(format!(
                        "cannot {what}: {} was deleted since it was read; nothing was overwritten",
                        self.name()
                    ))),
                }
            }
            Err(e @ kube::Error::Api(_)) => Err(Error::kube(what)(e)),
            // No answer: the write may or may not have landed. The StatefulSet (and the journal)
            // say which, and the next run reads them.
            Err(source) => Err(Error::Unanswered {
                what: what.to_owned(),
                resume: format!("`kubectl stateful rollout {}` reads the state and resumes", self.name()),
                source,
            }),
        }
    }

    /// What a rollout writes: the StatefulSet, and for an abort the pods it may delete.
    pub(super) async fn require_permissions(&self, abort: bool, sts: &StatefulSet) -> Result<()> {
        let namespace = Some(self.kube.namespace.as_str());
        let mut needed =
            vec![Permission { verb: "patch", group: "apps", resource: "statefulsets", namespace }];
        if abort {
            needed.push(Permission { verb: "delete", group: "", resource: "pods", namespace });
        }
        // An abort chosen at the gate or after a failure comes after this run's own changes.
        let left = if !self.wrote {
            "nothing was changed".to_owned()
        } else {
            format!("{} is left at partition {}", self.name(), partition(sts))
        };
        access::require(self.kube, &needed, &left).await
    }
}
