//! The abort: restore the template of the revision pods ran before, wait while the controller
//! rolls pods back, and break the forced-rollback trap by deleting, after consent, pods stuck
//! not Ready on the abandoned revision (kubernetes#67250).

use crate::core::objects::LivePods;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;

use std::time::Duration;

use super::Args;
use super::evict::{Replaced, not_on};
use super::execute::{Executor, budgets_of, require_one_budget};
use super::report::{Event, Reporter};
use super::words::{wait, wait_shown};
use crate::client::Kube;
use crate::core::advice::shell_word;
use crate::core::objects::{partition, pod_ready, pod_revision, pods_of, terminating};
use crate::core::patches;
use crate::core::rollout::conditions::{
    Rollback, describe_position, not_moved_back, position, rollback_progress, rollback_stragglers,
};
use crate::core::rollout::decide::{abort as abort_decision, not_ready_after_abort};
use crate::core::rollout::{Abort, Decision, Journal, Replace, revision_template};
use crate::error::{Error, Result, Stop};
use crate::wait::{Showing, View, Waiter, Wake, deadline};
use crate::write::{Deleted, Deletion, Guard};

/// What a confirmed abort writes: the template to restore, unless an interrupted abort
/// already restored it.
pub struct Confirmed {
    template: Option<serde_json::Value>,
}

/// Shows what an abort does and reads the template it restores (from the ControllerRevision
/// of its target), the same for a dry run and a real one; `left` says what state a refusal
/// leaves.
pub async fn show(
    kube: &Kube,
    args: &Args,
    reporter: &mut Reporter<'_>,
    sts: &StatefulSet,
    pods: &[Pod],
    abort: &Abort,
    left: &str,
) -> Result<Option<serde_json::Value>> {
    let template = if abort.restore_template {
        let revisions: Api<ControllerRevision> = kube.api();
        let revision = revisions
            .get_opt(&abort.target)
            .await
            .map_err(Error::kube(format!("read ControllerRevision {}", abort.target)))?
            .ok_or_else(|| {
                Error::from(Stop::RevisionGone {
                    revision: abort.target.clone(),
                    left: left.to_owned(),
                    discard: kube.flags.plugin(
                        &kube.namespace,
                        &format!("rollout {} --discard-journal", shell_word(&args.name)),
                    ),
                })
            })?;
        Some(revision_template(&revision)?)
    } else {
        None
    };
    reporter.replacing(abort.replace);
    reporter.event(Event::AbortPlanned {
        revision: abort.target.clone(),
        rollback_partition: abort.rollback_partition,
        partition: abort.partition,
        restore_template: abort.restore_template,
    })?;
    for message in &abort.warnings {
        reporter.event(Event::Warning { message: message.clone() })?;
    }
    if abort.replace == Replace::Eviction && !(abort.journal.gates.ignore_pdb || args.ignore_pdb) {
        require_one_budget(&budgets_of(kube).await?, &args.name, sts, pods, left)?;
    }
    Ok(template)
}

impl Executor<'_, '_> {
    /// An abort chosen during this run (at the gate, or after a failed step).
    pub async fn abort_now(&mut self, waiter: &mut Waiter, sts: StatefulSet) -> Result<()> {
        let journal = Journal::of(&sts).map_err(|source| {
            crate::core::rollout::decide::journal_refusal(&sts, &self.kube.flags, source)
        })?;
        let Decision::Abort(abort) = abort_decision(&sts, &waiter.pods(), journal, Timestamp::now()) else {
            return Ok(());
        };
        let left = self.left(&sts);
        let template = show(self.kube, self.args, self.reporter, &sts, &waiter.pods(), &abort, &left).await?;
        match self.confirm_abort(&sts, &abort, template).await? {
            Some(confirmed) => self.abort(waiter, sts, abort, confirmed).await,
            None => Ok(()),
        }
    }

    /// Before the abort's first write ([`show`] showed it): permissions, and the question;
    /// `None` when the person declines.
    pub async fn confirm_abort(
        &mut self,
        sts: &StatefulSet,
        abort: &Abort,
        template: Option<serde_json::Value>,
    ) -> Result<Option<Confirmed>> {
        self.require_permissions(false, sts).await?;
        let question = format!("Roll {} back to revision {}?", self.name(), abort.target);
        let yes = self.args.yes || self.consented_abort;
        let confirmed = self.reporter.suspend(|| self.term.confirm(yes, &question))?;
        Ok(confirmed.then_some(Confirmed { template }))
    }

    /// Restores the pod template of the revision pods ran before with the partition at
    /// [`Abort::rollback_partition`], waits while the controller rolls every pod on another
    /// revision back (deleting, after consent, pods stuck not Ready on the abandoned revision:
    /// forced rollback), then restores the partition from before and removes the journal.
    pub async fn abort(
        &mut self,
        waiter: &mut Waiter,
        sts: StatefulSet,
        abort: Abort,
        confirmed: Confirmed,
    ) -> Result<()> {
        // The pods the abort rolls back; each is announced once it runs the target and is Ready.
        let pods = waiter.pods();
        let mut rolling_back: Vec<String> =
            LivePods::of(&sts, &pods).not_on(&abort.target).map(|(_, p)| p.name_any()).collect();
        // The controller deletes the pods it rolls back without eviction: the budgets over the
        // healthy ones must allow it first, as before a step (a budget that just failed a step
        // still protects the pods the rollback would take down). One at a time: the controller
        // rolls back in order.
        let ignore_pdb = abort.journal.gates.ignore_pdb || self.args.ignore_pdb;
        if abort.replace == Replace::Controller {
            let ordinals: Vec<i32> =
                LivePods::of(&sts, &pods).not_on(&abort.target).map(|(o, _)| o).collect();
            let until = deadline(self.args.timeout);
            if let Some(reasons) =
                self.wait_for_budgets(waiter, &sts, ignore_pdb, &ordinals, 1, until).await?
            {
                return Err(Stop::RollbackHeldByBudget {
                    name: self.name().to_owned(),
                    reasons,
                    again: self.abort_command(),
                    ignoring: self.command("--abort --ignore-pdb"),
                }
                .into());
            }
        }
        let patch =
            patches::abort(&sts, confirmed.template.as_ref(), abort.rollback_partition, &abort.journal);
        let mut sts = self.patch(&sts, patch, "restore the previous pod template").await?;
        if abort.replace == Replace::Eviction {
            return self.abort_by_eviction(waiter, sts, abort).await;
        }
        let until = deadline(self.args.timeout);
        let mut deleted: Vec<String> = Vec::new();
        // Which pods were Ready when the rollout started: only those are waited for.
        let before = abort.journal.ready_at_start.clone();
        let range = crate::core::objects::ordinal_range(&sts);
        let not_ready = loop {
            let name = self.name().to_owned();
            let again = self.abort_command();
            let target = &abort.target;
            let before = before.as_ref();
            let reporter = &mut *self.reporter;
            // In a pipe or under NO_COLOR, a plain line per change of the pods not back yet.
            let mut plain = reporter.plain_progress(format!("the rollback of {name} to {target}"), until);
            let state = |view: &View| {
                Showing::from(match &view.sts {
                    Some(sts) => match rollback_stragglers(sts, &view.pods, before) {
                        late if late.is_empty() => "every pod back".to_owned(),
                        late => format!("not back yet: {}", late.join(", ")),
                    },
                    None => "the StatefulSet is gone".to_owned(),
                })
            };
            let shown = plain.as_mut().map(|progress| (progress, &state as &dyn Fn(&View) -> Showing));
            let (now, end) = wait_shown(
                waiter,
                &name,
                &sts,
                until,
                shown,
                |sts, view, _| {
                    let pods = &view.pods;
                    for (ordinal, pod) in pods_of(sts, pods) {
                        let ready = pod_ready(pod);
                        let waited = ready || before.is_some_and(|b| !b.was_ready(ordinal, range));
                        let back = pod_revision(pod) == Some(target.as_str()) && waited && !terminating(pod);
                        if back && let Some(i) = rolling_back.iter().position(|n| *n == pod.name_any()) {
                            rolling_back.remove(i);
                            reporter.event(Event::PodRolledBack {
                                pod: pod.name_any(),
                                revision: target.clone(),
                                ready,
                            })?;
                        }
                    }
                    Ok(match rollback_progress(sts, pods, &deleted, before) {
                        Rollback::Done { not_ready } => Wake::Done(Ok(not_ready)),
                        Rollback::Stuck(pods) => Wake::Done(Err(pods)),
                        Rollback::Waiting => Wake::Wait,
                    })
                },
                |sts, view| {
                    Err(Stop::RollbackTimedOut {
                        name: name.clone(),
                        stragglers: rollback_stragglers(sts, &view.pods, before),
                        again,
                    }
                    .into())
                },
            )
            .await?;
            sts = now;
            let stuck = match end {
                Ok(not_ready) => break not_ready,
                Err(stuck) => stuck,
            };
            let names: Vec<String> = stuck.iter().map(ResourceExt::name_any).collect();
            let them = if names.len() == 1 { "it" } else { "them" };
            let question = format!(
                "{} stuck not Ready on the abandoned revision; the controller will not replace {them} (forced rollback). Delete {them}?",
                names.join(", ")
            );
            let yes = self.args.yes;
            if !self.reporter.suspend(|| self.term.confirm(yes, &question))? {
                return Err(Stop::AbortIncomplete { pods: names, again: self.abort_command() }.into());
            }
            for pod in stuck {
                self.delete_stuck(&pod).await?;
                deleted.push(pod.uid().unwrap_or_default());
            }
        };
        let patch = patches::end_abort(&sts, abort.partition);
        let sts = self.patch(&sts, patch, "restore the partition and clear the rollout journal").await?;
        if !not_ready.is_empty() {
            let message =
                not_ready_after_abort(&sts, &abort.target, &not_ready, before.as_ref(), &self.kube.flags);
            self.reporter.event(Event::Warning { message })?;
        }
        self.reporter.event(Event::Aborted {
            revision: abort.target,
            partition: partition(&sts),
            seconds: self.started.elapsed().as_secs_f64(),
            not_ready,
        })
    }

    /// The rest of an abort of an OnDelete rollout, once the template is restored: the
    /// controller rolls nothing back by itself, so every live pod on another revision is
    /// evicted back, highest ordinal first, one at a time, each waited for on the restored
    /// revision and Ready (a pod not Ready whose eviction a budget refuses is deleted after
    /// consent); then the journal goes.
    async fn abort_by_eviction(&mut self, waiter: &mut Waiter, sts: StatefulSet, abort: Abort) -> Result<()> {
        let mut sts = self.observed(waiter, sts).await?;
        let until = deadline(self.args.timeout);
        // --ignore-pdb on the abort itself counts too: the way out of a budget that allows nothing.
        let ignore_pdb = abort.journal.gates.ignore_pdb || self.args.ignore_pdb;
        // Which pods were Ready when the rollout started: only those are waited for Ready.
        let before = abort.journal.ready_at_start.clone();
        let range = crate::core::objects::ordinal_range(&sts);
        let mut not_ready = Vec::new();
        while let Some((ordinal, pod)) = not_on(&sts, &waiter.pods(), &abort.target).into_iter().next() {
            match self.replace_pod(waiter, &sts, &pod, ignore_pdb, until).await? {
                Replaced::Yes => {}
                Replaced::Refused(reason) => {
                    let ignoring = self.command("--abort --ignore-pdb");
                    return Err(Stop::RollbackRefusedByBudget {
                        name: self.name().to_owned(),
                        reason,
                        ignoring,
                    }
                    .into());
                }
                Replaced::Declined(reason) => {
                    let again = self.abort_command();
                    return Err(Stop::RollbackDeclined { name: self.name().to_owned(), reason, again }.into());
                }
            }
            let ready_needed = before.as_ref().is_none_or(|b| b.was_ready(ordinal, range));
            let (next, failure) = match ready_needed {
                true => {
                    let label = "rolling back".to_owned();
                    self.wait_pods(waiter, sts, label, &[ordinal], Duration::ZERO, until).await?
                }
                false => self.wait_back(waiter, sts, ordinal, &abort.target, until).await?,
            };
            sts = next;
            self.left_written = Some(describe_position(&sts, Some(&waiter.pods())));
            if let Some(reasons) = failure {
                let again = self.abort_command();
                return Err(Stop::RollbackFailed { name: self.name().to_owned(), reasons, again }.into());
            }
            let ready = waiter
                .pods()
                .iter()
                .any(|p| p.name_any() == pod.name_any() && pod_ready(p) && !terminating(p));
            if !ready {
                not_ready.push(pod.name_any());
            }
            self.reporter.event(Event::PodRolledBack {
                pod: pod.name_any(),
                revision: abort.target.clone(),
                ready,
            })?;
        }
        let patch = match abort.journal.strategy_before {
            Some(_) => patches::end_eviction(&sts, &abort.journal),
            None => patches::end_abort(&sts, abort.partition),
        };
        let sts = self.patch(&sts, patch, "clear the rollout journal").await?;
        if !not_ready.is_empty() {
            let message =
                not_ready_after_abort(&sts, &abort.target, &not_ready, before.as_ref(), &self.kube.flags);
            self.reporter.event(Event::Warning { message })?;
        }
        self.reporter.event(Event::Aborted {
            revision: abort.target,
            partition: position(&sts),
            seconds: self.started.elapsed().as_secs_f64(),
            not_ready,
        })
    }

    /// Waits until the pod at `ordinal` runs `target` and is not terminating, Ready or not: a pod
    /// that was not Ready when the rollout started is moved back, not waited for.
    async fn wait_back(
        &mut self,
        waiter: &mut Waiter,
        sts: StatefulSet,
        ordinal: i32,
        target: &str,
        until: tokio::time::Instant,
    ) -> Result<(StatefulSet, Option<Vec<String>>)> {
        let name = self.name().to_owned();
        let timeout = self.args.timeout;
        wait(
            waiter,
            &name,
            &sts,
            until,
            |sts, view, _| {
                let back = pods_of(sts, &view.pods)
                    .iter()
                    .any(|(o, p)| *o == ordinal && pod_revision(p) == Some(target) && !terminating(*p));
                Ok(if back { Wake::Done(None) } else { Wake::Wait })
            },
            |sts, view| {
                let late = not_moved_back(sts, &view.pods, &[ordinal]);
                Ok(Some(vec![format!(
                    "timed out after {}: {}",
                    humantime::format_duration(timeout),
                    late.join(", ")
                )]))
            },
        )
        .await
    }

    /// Deletes a pod stuck on an abandoned revision, only if it is still that pod (its uid).
    pub(super) async fn delete_stuck(&mut self, pod: &Pod) -> Result<()> {
        let name = pod.name_any();
        let what = format!("delete pod {name}");
        let api = self.kube.api::<Pod>();
        let deleted = self.writer.delete(&api, &name, Guard::identity(pod), Deletion::default(), &what);
        // Already gone or replaced: the controller got there first; nothing to report.
        if deleted.await? == Deleted::Done {
            self.reporter.event(Event::PodDeleted {
                pod: name,
                reason: format!("not Ready on revision {}", pod_revision(pod).unwrap_or("?")),
            })?;
        }
        Ok(())
    }
}
