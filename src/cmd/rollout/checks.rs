//! The gates after each step, run: commands in the updated pods (pods/exec), HTTP checks, and
//! the wait for PodDisruptionBudgets (watched) before pods are released. What runs where, and what a
//! budget allows, are decided in [`crate::core::rollout::gates`]; this is the I/O.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use tokio::time::Instant;

use super::execute::Executor;
use super::report::Event;
use super::words::{RolloutWords, wait_shown};
use crate::cmd::gates::{http_client, pods_now, try_gate};
use crate::core::rollout::gates::{self, Gates, PdbHold};
use crate::error::Result;
use crate::wait::{Showing, View, Waiter, Wake};

/// How long to wait between tries of a gate that did not pass, and before trying again an
/// eviction refused while its budget's numbers already allowed it.
pub(super) const RETRY: Duration = Duration::from_secs(2);

/// The most of a command's output or an HTTP body a failure message carries.
impl Executor<'_, '_> {
    /// Before pods are released: waits until every PodDisruptionBudget over the healthy pods at
    /// `ordinals` allows as many of them down as go at once (`at_once`; the budgets are
    /// watched, and matched against the pods themselves), until `deadline`. `Some(reasons)`
    /// when it timed out.
    pub(super) async fn wait_for_budgets(
        &mut self,
        waiter: &mut Waiter,
        sts: &StatefulSet,
        ignore_pdb: bool,
        ordinals: &[i32],
        at_once: i32,
        deadline: Instant,
    ) -> Result<Option<Vec<String>>> {
        if ignore_pdb || at_once == 0 || ordinals.is_empty() {
            return Ok(None);
        }
        let mut said: Vec<PdbHold> = Vec::new();
        let reporter = &mut *self.reporter;
        // In a pipe or under NO_COLOR, a plain line per change of the budgets' numbers.
        let mut plain =
            reporter.plain_progress("the PodDisruptionBudgets to allow the step".to_owned(), deadline);
        let state = |view: &View| {
            Showing::from(match &view.sts {
                Some(sts) => gates::pdb_holds(&view.budgets, sts, &view.pods, ordinals, at_once)
                    .iter()
                    .map(PdbHold::describe)
                    .collect::<Vec<_>>()
                    .join("; "),
                None => "the StatefulSet is gone".to_owned(),
            })
        };
        let shown = plain.as_mut().map(|progress| (progress, &state as &dyn Fn(&View) -> Showing));
        let (_, reasons) = wait_shown(
            waiter,
            &self.args.name,
            sts,
            deadline,
            shown,
            |sts, view, _| {
                let holds = gates::pdb_holds(&view.budgets, sts, &view.pods, ordinals, at_once);
                if holds.is_empty() {
                    return Ok(Wake::Done(None));
                }
                for hold in holds.iter().filter(|h| !said.contains(h)) {
                    reporter.event(Event::PdbWait {
                        pdb: hold.name.clone(),
                        allowed: hold.allowed,
                        needed: hold.needed,
                    })?;
                }
                said = holds;
                Ok(Wake::Wait)
            },
            |sts, view| {
                let holds = gates::pdb_holds(&view.budgets, sts, &view.pods, ordinals, at_once);
                Ok(Some(holds.iter().map(|h| format!("{}; the step waited for it", h.describe())).collect()))
            },
        )
        .await?;
        Ok(reasons)
    }

    /// After a step that updated the pods at `ordinals`: every gate until it passes or
    /// `deadline`. `Some(reasons)` for the gates that never passed.
    pub(super) async fn run_gates(
        &mut self,
        waiter: &mut Waiter,
        sts: &StatefulSet,
        gates: &Gates,
        ordinals: &[i32],
        step: usize,
        deadline: Instant,
    ) -> Result<Option<Vec<String>>> {
        let runs = gates::runs(gates, sts, ordinals);
        if runs.is_empty() {
            return Ok(None);
        }
        let http = match gates.http.is_empty() {
            true => None,
            false => Some(http_client()?),
        };
        // The pods the gates are about, followed by uid: a gate that passes in a replacement
        // passed about another pod than the one that soaked.
        waiter.catch_up();
        let watched = gates::followed(sts, &waiter.pods(), ordinals);
        let mut failures = Vec::new();
        for run in &runs {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let outcome = try_gate(self.kube, run, gates, http.as_ref()).await?;
                if outcome.passed {
                    self.reporter.event(Event::GatePassed {
                        step,
                        gate: run.gate.clone(),
                        gate_kind: run.kind,
                        pod: run.pod.clone(),
                        attempt,
                    })?;
                    break;
                }
                self.reporter.event(Event::GateFailed {
                    step,
                    gate: run.gate.clone(),
                    gate_kind: run.kind,
                    pod: run.pod.clone(),
                    attempt,
                    output: outcome.output.clone(),
                })?;
                let again = Instant::now() + RETRY;
                if again >= deadline {
                    let on = run.pod.as_ref().map(|p| format!(" in {p}")).unwrap_or_default();
                    failures.push(format!(
                        "gate '{}'{on} did not pass in {attempt} tr{} (last: {})",
                        run.expanded,
                        if attempt == 1 { "y" } else { "ies" },
                        outcome.output
                    ));
                    break;
                }
                // Time alone changes a gate's answer: tried again after a pause.
                waiter
                    .pause(&RolloutWords { name: &self.args.name, ours: sts, flags: &self.kube.flags }, again)
                    .await?;
            }
        }
        if failures.is_empty() {
            // What happened while the gates ran, read now: the watches may lag behind.
            let names: Vec<String> =
                ordinals.iter().map(|o| crate::core::names::pod_name(&self.args.name, *o)).collect();
            let namespace = sts.metadata.namespace.clone().unwrap_or_else(|| self.kube.namespace.clone());
            let now = pods_now(self.kube, &namespace, &names).await?;
            failures = gates::replaced_since(sts, &now, &watched);
        }
        Ok((!failures.is_empty()).then_some(failures))
    }
}
