//! The gate: before each step the person chooses to continue, stop (and resume later), or
//! abort; before a new rollout's first write, to continue or stop with nothing changed. With
//! `--yes` every gate continues.

use k8s_openapi::api::apps::v1::StatefulSet;

use super::execute::Executor;
use super::report::Event;
use crate::core::names::pod_name;
use crate::core::objects::{ON_DELETE, partition, update_strategy};
use crate::core::rollout::conditions::{describe_position, position};
use crate::core::rollout::decide::{abort_hint, undo_first};
use crate::core::rollout::{Roll, Step};
use crate::error::{Error, Result};

/// What the person chose at the gate before a step.
pub enum Choice {
    Continue,
    Stop,
    Abort,
}

impl Executor<'_, '_> {
    /// Before the first write of a new rollout: continue (stage and take the first step), or
    /// stop with nothing changed. With --yes, continue.
    pub(super) fn gate_before_writing(
        &mut self,
        sts: &StatefulSet,
        roll: &Roll,
        total: usize,
    ) -> Result<Choice> {
        if self.args.yes {
            return Ok(Choice::Continue);
        }
        let staging = roll.stage.as_ref().map(|stage| {
            let what =
                if stage.template.is_some() { "stages the new template" } else { "holds every pod back" };
            match stage.partition {
                Some(partition) => format!("first {what} with partition {partition}"),
                None => format!("first {what}"),
            }
        });
        let question = match roll.steps.first() {
            Some(step) => {
                let from = roll.stage.as_ref().and_then(|s| s.partition).unwrap_or_else(|| partition(sts));
                format!(
                    "Next: step {}/{total}, {}{}",
                    step.number,
                    self.step_text(sts, from, step),
                    staging.map(|s| format!(" ({s})")).unwrap_or_default()
                )
            }
            None => format!("Next: {}", staging.unwrap_or_else(|| "write the rollout journal".to_owned())),
        };
        let choices = ["continue", "stop here (nothing is changed)"];
        let answer = self.reporter.suspend(|| self.term.choose(&question, &choices))?;
        if answer == 0 {
            return Ok(Choice::Continue);
        }
        self.reporter.event(Event::Stopped {
            partition: position(sts),
            reason: format!("stopped before any change: {} was left as it was", self.name()),
        })?;
        Ok(Choice::Stop)
    }

    /// Between steps: continue, stop here, or abort. With --yes, continue (after --pause).
    pub(super) fn gate(&mut self, sts: &StatefulSet, next: &Step, total: usize) -> Result<Choice> {
        if self.args.yes {
            return Ok(Choice::Continue);
        }
        let question =
            format!("Next: step {}/{total}, {}", next.number, self.step_text(sts, partition(sts), next));
        // A held rollout of Git's template is rolled back by reverting Git, not from here.
        let undo_first = undo_first(sts);
        let stop_here = format!("stop here (resume later, or {} and abort)", undo_first.unwrap_or_default());
        let choices: Vec<&str> = if undo_first.is_some() {
            vec!["continue", stop_here.as_str()]
        } else {
            vec!["continue", "stop here (resume later)", "abort and roll back"]
        };
        let answer =
            self.reporter.suspend(|| self.term.choose(&question, &choices)).map_err(|e| match e {
                Error::Interrupted { at_prompt, .. } => Error::Interrupted {
                    at_prompt,
                    left: format!("{} is left {}", self.name(), describe_position(sts, None)),
                    resume: Some(format!(
                        "run `{}` to resume, or {} to roll back",
                        self.resume(),
                        abort_hint(sts, &self.kube.flags)
                    )),
                },
                other => other,
            })?;
        Ok(match answer {
            0 => Choice::Continue,
            1 => {
                self.reporter.event(Event::Stopped {
                    partition: position(sts),
                    reason: format!(
                        "stopped {}: run `{}` to resume",
                        describe_position(sts, None),
                        self.resume()
                    ),
                })?;
                Choice::Stop
            }
            _ => Choice::Abort,
        })
    }
}

impl Executor<'_, '_> {
    /// What a step does, for the question before it: the partition move and the pods it
    /// updates, or under OnDelete the pods it evicts one at a time.
    fn step_text(&self, sts: &StatefulSet, from: i32, step: &Step) -> String {
        let pods: Vec<String> = step.ordinals.iter().map(|o| pod_name(self.name(), *o)).collect();
        if update_strategy(sts) == ON_DELETE {
            return format!("evicts {} one at a time", pods.join(", "));
        }
        format!("partition {from} -> {}, updates {}", step.partition, pods.join(", "))
    }
}
