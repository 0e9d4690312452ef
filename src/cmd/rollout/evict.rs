//! Rollouts of OnDelete StatefulSets, where the controller never replaces a pod until it is
//! deleted: this tool replaces them, one at a time, through the Eviction API (`pods/eviction`,
//! so PodDisruptionBudgets are honoured by the API server itself), and the controller
//! re-creates each on the update revision. The order and the steps are the core's
//! ([`crate::core::rollout::order`]); this is the I/O.

use crate::core::objects::LivePods;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::checks::RETRY;
use super::execute::Executor;
use super::report::Event;
use super::words::wait_shown;
use crate::core::advice::shell_word;
use crate::core::maintenance::budget_words;
use crate::core::objects::{budgets_of, pod_ready, pod_revision, pods_of, terminating, update_revision};
use crate::core::patches;
use crate::core::rollout::conditions::{describe_position, update_pending};
use crate::core::rollout::gates::Gates;
use crate::core::rollout::{Journal, Step};
use crate::error::Result;
use crate::wait::{Showing, View, Waiter, Wake};
use crate::write::{Deleted, Deletion, Evicted, Guard};

/// How a pod was taken down for its replacement.
pub(super) enum Replaced {
    /// Evicted or deleted: the controller re-creates it.
    Yes,
    /// A PodDisruptionBudget kept refusing until the deadline; the reason.
    Refused(String),
    /// Not Ready and refused by a budget; the person did not consent to deleting it.
    Declined(String),
}

impl Executor<'_, '_> {
    /// One step of an OnDelete rollout: each pod of the step not on the update revision is
    /// evicted, its replacement waited for (on the update revision, Ready, available) and the
    /// gates run for it, one pod after the other; then the step's pods are watched for
    /// `--pause`. `Some(reasons)` when it failed.
    pub(super) async fn evict_step(
        &mut self,
        waiter: &mut Waiter,
        mut sts: StatefulSet,
        step: &Step,
        total: usize,
        gates: &Gates,
        until: tokio::time::Instant,
    ) -> Result<(StatefulSet, Option<Vec<String>>)> {
        let label = format!("step {}/{total}", step.number);
        for &ordinal in &step.ordinals {
            let update = update_revision(&sts).map(str::to_owned);
            let pods = waiter.pods();
            let pod = pods_of(&sts, &pods).into_iter().find(|(o, _)| *o == ordinal).map(|(_, p)| p.clone());
            if let Some(pod) = pod.filter(|p| pod_revision(p) != update.as_deref() && !terminating(p)) {
                match self.replace_pod(waiter, &sts, &pod, gates.ignore_pdb, until).await? {
                    Replaced::Yes => {}
                    Replaced::Refused(reason) | Replaced::Declined(reason) => {
                        return Ok((sts, Some(vec![reason])));
                    }
                }
            }
            let (next, failure) =
                self.wait_pods(waiter, sts, label.clone(), &[ordinal], Duration::ZERO, until).await?;
            sts = next;
            // Evictions are no patches: where an error now leaves the rollout, counted anew.
            self.left_written = Some(describe_position(&sts, Some(&waiter.pods())));
            if failure.is_some() {
                return Ok((sts, failure));
            }
            if let Some(failure) = self.run_gates(waiter, &sts, gates, &[ordinal], step.number, until).await?
            {
                return Ok((sts, Some(failure)));
            }
        }
        let pause = self.pause();
        if pause.is_zero() {
            return Ok((sts, None));
        }
        self.wait_pods(waiter, sts, label, &step.ordinals, pause, until).await
    }

    /// Takes `pod` down so that the controller re-creates it: by eviction, waiting while a
    /// PodDisruptionBudget refuses (each new reason reported) until `until`. A pod that is not
    /// Ready serves nothing, and a budget may refuse its eviction for ever (its
    /// `unhealthyPodEvictionPolicy`); it is deleted instead, after consent. With `ignore_pdb`,
    /// every pod is deleted without eviction. Every delete is guarded by the pod's uid.
    pub(super) async fn replace_pod(
        &mut self,
        waiter: &mut Waiter,
        sts: &StatefulSet,
        pod: &Pod,
        ignore_pdb: bool,
        until: tokio::time::Instant,
    ) -> Result<Replaced> {
        let name = pod.name_any();
        let revision = pod_revision(pod).unwrap_or("?").to_owned();
        if ignore_pdb {
            self.delete_pod(
                pod,
                format!("replaced without eviction (--ignore-pdb), was on revision {revision}"),
            )
            .await?;
            return Ok(Replaced::Yes);
        }
        let mut said: Option<String> = None;
        loop {
            let what = format!("evict pod {name}");
            let refused = match self.writer.evict(pod, &what).await? {
                Evicted::Done => {
                    self.wrote = true;
                    self.reporter.event(Event::PodEvicted { pod: name, revision })?;
                    return Ok(Replaced::Yes);
                }
                // Gone or already replaced: the controller got there first.
                Evicted::Gone | Evicted::Changed => return Ok(Replaced::Yes),
                Evicted::Refused(refused) => refused,
            };
            let reason = refused.describe();
            if !pod_ready(pod) {
                let question = format!(
                    "{name} is not Ready and its eviction was refused ({reason}); it serves nothing. Delete it, \
                     so that it comes back on the update revision?"
                );
                let yes = self.args.yes || self.consented_abort;
                if !self.reporter.suspend(|| self.term.confirm(yes, &question))? {
                    return Ok(Replaced::Declined(format!(
                        "{name} is not Ready and its eviction was refused ({reason}): delete it (`{}`), or run `{}`",
                        self.kube
                            .flags
                            .kubectl(&self.kube.namespace, &format!("delete pod {}", shell_word(&name))),
                        self.abort_command()
                    )));
                }
                self.delete_pod(pod, format!("not Ready on revision {revision}, eviction refused")).await?;
                return Ok(Replaced::Yes);
            }
            if said.as_ref() != Some(&reason) {
                self.reporter.event(Event::EvictionRefused {
                    pod: name.clone(),
                    reason: refused.message.clone(),
                    budgets: refused.budgets.clone(),
                })?;
                said = Some(reason.clone());
            }
            // Tried again once the budgets over the pod allow a disruption: as soon as their
            // numbers change (the disruption controller recounts them as pods come and go), or,
            // when the numbers read right after the refusal already allowed one (the refusal
            // counted before the controller did), after RETRY; or once the pod is gone. Until the
            // step's deadline.
            let uid = pod.uid();
            let refused_at = k8s_openapi::jiff::Timestamp::now();
            // In a pipe or under NO_COLOR, a plain line per change of the budgets' numbers.
            let first = budget_words(&name, &refused.budgets, &refused.message);
            let mut plain = self.reporter.plain_progress(first.what, until);
            let state = |view: &View| {
                let now = budget_words(&name, &budgets_of(&view.budgets, pod), &refused.message);
                Showing { what: Some(now.what), state: now.state }
            };
            let shown = plain.as_mut().map(|progress| (progress, &state as &dyn Fn(&View) -> Showing));
            let (_, again) = wait_shown(
                waiter,
                &self.args.name,
                sts,
                until,
                shown,
                |_, view, now| {
                    let gone = !view.pods.iter().any(|p| p.uid() == uid && !terminating(p));
                    let budgets = budgets_of(&view.budgets, pod);
                    let allows = budgets.iter().all(|b| b.disruptions_allowed > 0);
                    let recounted = budgets != refused.budgets;
                    let waited = now.duration_since(refused_at).unsigned_abs() >= RETRY;
                    Ok(match (gone, allows, recounted || waited) {
                        (true, _, _) | (false, true, true) => Wake::Done(true),
                        (false, true, false) => Wake::Soon,
                        (false, false, _) => Wake::Wait,
                    })
                },
                |_, _| Ok(false),
            )
            .await?;
            if !again {
                return Ok(Replaced::Refused(format!(
                    "the eviction of {name} was refused until the step timed out: {reason}"
                )));
            }
        }
    }

    /// Deletes `pod`, only if it is still that pod (its uid), and reports why.
    async fn delete_pod(&mut self, pod: &Pod, reason: String) -> Result<()> {
        let name = pod.name_any();
        let what = format!("delete pod {name}");
        let api = self.kube.api::<Pod>();
        let deleted = self.writer.delete(&api, &name, Guard::identity(pod), Deletion::default(), &what);
        if deleted.await? == Deleted::Done {
            self.wrote = true;
            self.reporter.event(Event::PodDeleted { pod: name, reason })?;
        }
        Ok(())
    }

    /// After the last step of an OnDelete rollout: every live pod runs the update revision (the
    /// steps waited for each), so the journal goes. The controller never promotes the update
    /// revision to current under OnDelete (kubernetes#73492); nothing waits for that.
    pub(super) async fn finish_evicted(
        &mut self,
        waiter: &mut Waiter,
        sts: StatefulSet,
    ) -> Result<Option<StatefulSet>> {
        if update_pending(&sts, &waiter.pods()) {
            return Ok(None);
        }
        // An unreadable journal must stop here: clearing it blindly would lose the strategy an
        // --evict rollout restores (`strategyBefore`), leaving the set OnDelete.
        let journal = Journal::of(&sts).map_err(|source| {
            crate::core::rollout::decide::journal_refusal(&sts, &self.kube.flags, source)
        })?;
        let patch = match journal {
            Some(journal) => patches::end_eviction(&sts, &journal),
            None => patches::clear_journal(&sts),
        };
        let sts = self.patch(&sts, patch, "clear the rollout journal").await?;
        self.reporter.event(Event::Finished {
            revision: update_revision(&sts).map(str::to_owned),
            steps: self.steps_taken,
            seconds: self.started.elapsed().as_secs_f64(),
        })?;
        Ok(Some(sts))
    }
}

/// The live pods of `sts` not on `revision` and not going, highest ordinal first: what an abort
/// of an OnDelete rollout evicts back, in the order the controller would roll them back.
pub(super) fn not_on(sts: &StatefulSet, pods: &[Pod], revision: &str) -> Vec<(i32, Pod)> {
    LivePods::of(sts, pods)
        .not_on(revision)
        .rev()
        .filter(|(_, p)| !terminating(*p))
        .map(|(o, p)| (o, p.clone()))
        .collect()
}
