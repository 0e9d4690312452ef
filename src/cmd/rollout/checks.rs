//! The gates after each step, run: commands in the updated pods (pods/exec), HTTP checks, and
//! the wait for PodDisruptionBudgets (watched) before pods are released. What runs where, and what a
//! budget allows, are decided in [`crate::core::rollout::gates`]; this is the I/O.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

use super::execute::Executor;
use super::report::Event;
use super::words::{RolloutWords, wait};
use crate::core::rollout::gates::{self, GateKind, GateRun, Gates, PdbHold};
use crate::error::{Result, Stop, describe_kube_error};
use crate::wait::{Waiter, Wake};

/// How long to wait between tries of a gate that did not pass, and before trying again an
/// eviction refused while its budget's numbers already allowed it.
pub(super) const RETRY: Duration = Duration::from_secs(2);

/// The most of a command's output or an HTTP body a failure message carries.
const OUTPUT_LIMIT: usize = 400;

/// What one try of a gate found.
struct Outcome {
    passed: bool,
    /// The command's output, or the HTTP status and body, trimmed to its last lines.
    output: String,
}

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
        let (_, reasons) = wait(
            waiter,
            &self.args.name,
            sts,
            deadline,
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
        let mut failures = Vec::new();
        for run in &runs {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let outcome = self.try_gate(run, gates, http.as_ref()).await?;
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
                waiter.pause(&RolloutWords { name: &self.args.name, ours: sts }, again).await?;
            }
        }
        Ok((!failures.is_empty()).then_some(failures))
    }

    async fn try_gate(
        &self,
        run: &GateRun,
        gates: &Gates,
        http: Option<&reqwest::Client>,
    ) -> Result<Outcome> {
        let limit = Duration::from_secs(gates.try_seconds);
        let attempt = async {
            match (run.kind, http) {
                (GateKind::Exec, _) => self.exec(run, gates).await,
                (GateKind::Http, Some(client)) => {
                    Ok(get(client, &run.expanded, gates.http_expect.as_deref()).await)
                }
                (GateKind::Http, None) => Ok(Outcome { passed: false, output: "no HTTP client".into() }),
            }
        };
        match tokio::time::timeout(limit, attempt).await {
            Ok(outcome) => outcome,
            Err(_) => Ok(Outcome {
                passed: false,
                output: format!("no answer within {}", humantime::format_duration(limit)),
            }),
        }
    }

    /// Runs the gate's command with `sh -c` in its pod (pods/exec): passes on exit 0.
    async fn exec(&self, run: &GateRun, gates: &Gates) -> Result<Outcome> {
        let Some(pod) = &run.pod else {
            return Ok(Outcome { passed: false, output: "no pod to run in".into() });
        };
        let api: Api<Pod> = self.kube.api();
        let mut params = AttachParams::default().stdin(false).stdout(true).stderr(true);
        if let Some(container) = &gates.container {
            params = params.container(container);
        }
        let mut process = match api.exec(pod, ["sh", "-c", run.expanded.as_str()], &params).await {
            Ok(process) => process,
            // The pod may be restarting, or exec refused: a try that did not pass, with why.
            Err(e) => return Ok(Outcome { passed: false, output: describe_kube_error(&e) }),
        };
        // Both streams at once: a full buffer on one would stall the command, and us with it.
        let drain = |stream: Option<tokio::io::ReadHalf<tokio::io::SimplexStream>>| async move {
            let mut bytes = Vec::new();
            if let Some(mut stream) = stream {
                let _ = stream.read_to_end(&mut bytes).await;
            }
            bytes
        };
        let status = process.take_status();
        let (mut output, errors) = tokio::join!(drain(process.stdout()), drain(process.stderr()));
        output.extend(errors);
        let status = match status {
            Some(status) => status.await,
            None => None,
        };
        let _ = process.join().await;
        let text = last_of(&String::from_utf8_lossy(&output));
        let passed = status.as_ref().is_some_and(|s| s.status.as_deref() == Some("Success"));
        let exit = status
            .as_ref()
            .and_then(|s| s.details.as_ref())
            .and_then(|d| d.causes.as_ref()?.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
            .and_then(|c| c.message.clone());
        let output = match (passed, exit) {
            (false, Some(code)) if text.is_empty() => format!("exit {code}"),
            (false, Some(code)) => format!("exit {code}: {text}"),
            _ => text,
        };
        Ok(Outcome { passed, output })
    }
}

/// The HTTP client of the gates: rustls with the ring provider kube uses too, the system's
/// roots and proxy settings.
fn http_client() -> Result<reqwest::Client> {
    // reqwest is built without a crypto provider of its own; install ring once for the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("kubectl-stateful/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Stop::GateHttpClient { error: e.to_string() }.into())
}

/// One GET: passes on a 2xx status whose body contains `expect` (when given).
async fn get(client: &reqwest::Client, url: &str, expect: Option<&str>) -> Outcome {
    let response = match client.get(url).send().await {
        Ok(response) => response,
        Err(e) => return Outcome { passed: false, output: crate::error::chain(&e) },
    };
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let matched = expect.is_none_or(|text| body.contains(text));
    let passed = status.is_success() && matched;
    let mut output = format!("HTTP {}", status.as_u16());
    if let (false, Some(text)) = (matched, expect) {
        output.push_str(&format!(", body without '{text}'"));
    }
    let body = last_of(&body);
    if !passed && !body.is_empty() {
        output.push_str(&format!(": {body}"));
    }
    Outcome { passed, output }
}

/// The end of `text`, at most [`OUTPUT_LIMIT`] characters, on one line.
fn last_of(text: &str) -> String {
    let text = text.trim().replace('\n', " | ");
    let count = text.chars().count();
    if count <= OUTPUT_LIMIT {
        return text;
    }
    let tail: String = text.chars().skip(count - OUTPUT_LIMIT).collect();
    format!("…{tail}")
}
