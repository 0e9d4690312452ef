//! What `restart`, `drain` and `scale` share in the shell: their events (one JSON line each with
//! `-o json`, else a line on stderr), taking a member down through the one write (an eviction
//! that honours budgets, or a delete, each guarded by the pod's uid), the soak and the gates of
//! its replacement through the one wait. What to do is the core's
//! ([`crate::core::maintenance`]); this is the I/O.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use serde::Serialize;
use tokio::time::Instant;

use crate::client::Kube;
use crate::cmd::gates::{http_client, pods_now, try_gate};
use crate::core::budgets::covering;
use crate::core::maintenance::replace::{OnRefusal, Target, on_refused, soak_failure};
use crate::core::maintenance::{Method, budget_words, pod_state};
use crate::core::objects::{budgets_of, pod_restarts, replicas, terminating};
use crate::core::patches;
use crate::core::rollout::gates::{self as gate_runs, GateKind, Gates};
use crate::error::{Error, Result, Stop};
use crate::output::{Document, Kind, Streams, output_error, write_json_line};
use crate::progress::Progress;
use crate::ui::Terminal;
use crate::wait::{Said, Showing, Until, View, Waiter, Wake, deadline};
use crate::write::{
    Deleted, Deletion, Evicted, Guard, Mode, ServerAnswer, ServerCheck, ServerDryRun, Writer, Written,
};

/// How long to wait before trying again a gate that did not pass, or an eviction refused while
/// the budget's numbers already allowed it (the refusal counted before the controller did).
pub const RETRY: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The plan on stdout, progress on stderr
    #[default]
    Text,
    /// One JSON event per line on stdout (NDJSON)
    Json,
}

/// One thing that happened (schemas in docs/restart.md, docs/drain.md and docs/scale.md).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Event {
    /// What the run will do, before it writes anything.
    Plan { plan: serde_json::Value },
    /// `drain`: the node takes no new pods.
    #[serde(rename_all = "camelCase")]
    Cordoned { node: String },
    /// Nothing moves until this changes.
    #[serde(rename_all = "camelCase")]
    Waiting { pod: String, reason: String },
    /// The member's pod (this uid) was evicted (pods/eviction).
    #[serde(rename_all = "camelCase")]
    Evicted { pod: String, uid: String, node: Option<String> },
    /// The member's pod (this uid) was deleted (`--delete`).
    #[serde(rename_all = "camelCase")]
    Deleted { pod: String, uid: String, node: Option<String> },
    /// The Eviction API refused (429): the budget, with its numbers; tried again while
    /// waiting can help.
    #[serde(rename_all = "camelCase")]
    EvictionRefused { pod: String, reason: String },
    /// The replacement (same name, another uid) is Ready and available on `node`.
    #[serde(rename_all = "camelCase")]
    Replaced { pod: String, old_uid: String, uid: String, node: String },
    /// The replacement stayed Ready, without a container restart, for `seconds`.
    #[serde(rename_all = "camelCase")]
    Soaked { pod: String, seconds: u64 },
    #[serde(rename_all = "camelCase")]
    GatePassed { pod: String, gate: String, gate_kind: GateKind, attempt: u32 },
    #[serde(rename_all = "camelCase")]
    GateFailed { pod: String, gate: String, gate_kind: GateKind, attempt: u32, output: String },
    /// The member is done (journaled).
    #[serde(rename_all = "camelCase")]
    MemberDone { pod: String },
    /// `drain --wait-for-return`: the members pinned to the nodes are down with them; the
    /// maintenance can start, then `uncordon`; the run waits for them to come back.
    #[serde(rename_all = "camelCase")]
    ReadyForMaintenance { nodes: Vec<String>, pods: Vec<String>, uncordon: String, resume: String },
    /// `drain`: pods that are no StatefulSet's members, left to `kubectl drain`.
    #[serde(rename_all = "camelCase")]
    LeftToKubectlDrain { pods: Vec<String>, command: String },
    /// `scale`: one try of a decommission hook that did not pass (the member has not left yet).
    #[serde(rename_all = "camelCase")]
    HookFailed { pod: String, hook: String, hook_kind: GateKind, attempt: u32, output: String },
    /// `scale`: a decommission hook passed.
    #[serde(rename_all = "camelCase")]
    HookPassed { pod: String, hook: String, hook_kind: GateKind, attempt: u32 },
    /// `scale`: every hook of the member passed: it has left its cluster (journaled).
    #[serde(rename_all = "camelCase")]
    Left { pod: String },
    /// `scale`: `spec.replicas` written (guarded by the count read).
    #[serde(rename_all = "camelCase")]
    ReplicasSet { stateful_set: String, from: i32, to: i32 },
    /// `scale`: the pod of a member removed is gone.
    #[serde(rename_all = "camelCase")]
    Removed { pod: String },
    /// `scale`: a new member is Ready (and available) on `node`.
    #[serde(rename_all = "camelCase")]
    Joined { pod: String, uid: String, node: String },
    /// `scale`: the claims of the members removed stay (`--claims keep`); `prune` deletes them.
    #[serde(rename_all = "camelCase")]
    ClaimsKept { claims: Vec<String>, prune: String },
    /// `scale --claims prune`: what prune deleted, what it kept (with why), the snapshots it took.
    #[serde(rename_all = "camelCase")]
    ClaimsPruned { deleted: Vec<String>, kept: Vec<String>, snapshots: Vec<String>, storage_freed: String },
    #[serde(rename_all = "camelCase")]
    Finished { members: usize, seconds: f64 },
    /// `--dry-run=server`: each write of the plan, in order, with the API server's answer
    /// (`accepted`, `refused` with its `reason`, or `notChecked` with the step it `dependsOn`).
    #[serde(rename_all = "camelCase")]
    ServerDryRun { writes: ServerDryRun },
    /// The run ended with an error: the line stderr says, the exit code, what was left and how
    /// to go on. The last line of a run that failed.
    #[serde(rename_all = "camelCase")]
    Error { error: String, exit_code: u8, left: Option<String>, resume: Option<String> },
}

impl Event {
    /// The line a person reads on stderr.
    fn text(&self) -> Option<String> {
        Some(match self {
            Event::Plan { .. } => return None,
            Event::Cordoned { node } => format!("node/{node} cordoned"),
            Event::Waiting { pod, reason } => format!("{pod}: waiting: {reason}"),
            Event::Evicted { pod, uid, node } => {
                format!(
                    "{pod}: evicted (uid {uid}{})",
                    node.as_ref().map(|n| format!(", on {n}")).unwrap_or_default()
                )
            }
            Event::Deleted { pod, uid, node } => {
                format!(
                    "{pod}: deleted (uid {uid}{})",
                    node.as_ref().map(|n| format!(", on {n}")).unwrap_or_default()
                )
            }
            Event::EvictionRefused { pod, reason } => format!("{pod}: eviction refused: {reason}; waiting"),
            Event::Replaced { pod, uid, node, .. } => format!("{pod}: replaced, Ready on {node} (uid {uid})"),
            Event::Soaked { pod, seconds } => format!("{pod}: stayed Ready for {seconds}s"),
            Event::GatePassed { pod, gate, attempt, .. } => {
                format!("{pod}: gate '{gate}' passed (try {attempt})")
            }
            Event::GateFailed { pod, gate, attempt, output, .. } => {
                format!("{pod}: gate '{gate}' failed (try {attempt}): {output}")
            }
            Event::MemberDone { pod } => format!("{pod}: done"),
            Event::ReadyForMaintenance { nodes, pods, uncordon, resume } => format!(
                "ready for maintenance: {} down with {} (pinned there); do the maintenance (a reboot), then run \
                 `{uncordon}`; this waits until {} Ready there again (Ctrl-C is safe: `{resume}` goes on waiting)",
                pods.join(", "),
                nodes.join(", "),
                if pods.len() == 1 { "it is" } else { "they are" }
            ),
            Event::LeftToKubectlDrain { pods, command } => format!(
                "left to kubectl drain (not StatefulSet members): {}; run `{command}` for them",
                pods.join(", ")
            ),
            Event::HookFailed { pod, hook, attempt, output, .. } => {
                format!(
                    "{pod}: decommission hook '{}' has not passed (try {attempt}): {output}",
                    one_line(hook)
                )
            }
            Event::HookPassed { pod, hook, attempt, .. } => {
                format!("{pod}: decommission hook '{}' passed (try {attempt})", one_line(hook))
            }
            Event::Left { pod } => format!("{pod}: left its cluster"),
            Event::ReplicasSet { stateful_set, from, to } => {
                format!("{stateful_set}: replicas {from} -> {to}")
            }
            Event::Removed { pod } => format!("{pod}: removed (its pod is gone)"),
            Event::Joined { pod, uid, node } => format!("{pod}: joined, Ready on {node} (uid {uid})"),
            Event::ClaimsKept { claims, prune } => format!(
                "kept {} with their data (a later scale-up re-attaches them; `{prune}` deletes them)",
                claims.join(", ")
            ),
            Event::ClaimsPruned { deleted, kept, snapshots, storage_freed } => {
                let mut text = match deleted.is_empty() {
                    true => "pruned no claim".to_owned(),
                    false => format!("pruned {}, freeing {storage_freed}", deleted.join(", ")),
                };
                if !snapshots.is_empty() {
                    text.push_str(&format!("; snapshots {}", snapshots.join(", ")));
                }
                if !kept.is_empty() {
                    text.push_str(&format!("; kept {}", kept.join(", ")));
                }
                text
            }
            Event::Finished { members, seconds } => {
                format!("done: {members} member{} in {seconds:.0}s", if *members == 1 { "" } else { "s" })
            }
            Event::Error { .. } | Event::ServerDryRun { .. } => return None,
        })
    }
}

/// A command as one line for people: a script's first line and how many more it has.
pub fn one_line(command: &str) -> String {
    let mut lines = command.lines();
    let first = lines.next().unwrap_or_default();
    match lines.count() {
        0 => first.to_owned(),
        more => format!("{first} … (+{more} lines)"),
    }
}

/// Where the events go.
pub struct Reporter<'io> {
    pub io: &'io mut Streams,
    pub format: Format,
    pub kind: Kind,
    /// The run's terminal: whether a wait's progress is a spinner or plain lines.
    pub term: Terminal,
}

impl Reporter<'_> {
    /// The progress of a wait for `what` until `deadline`: a spinner on a terminal, else a
    /// plain line per change on the run's stream for people ([`Progress`]).
    pub fn progress(&self, what: String, deadline: Instant) -> Progress {
        Progress::start(&self.term, self.io.err_stream(), what, deadline)
            .quiet_under(self.format == Format::Json)
    }

    pub fn event(&mut self, event: Event) -> Result<()> {
        match self.format {
            Format::Json => {
                write_json_line(&mut self.io.out, &Document::new(self.kind, &event)).map_err(output_error)
            }
            Format::Text => {
                if let Some(line) = event.text() {
                    self.io.say(line);
                }
                Ok(())
            }
        }
    }

    /// The end of a `--dry-run=server` run: its answers on stderr and, with `-o json`, as a
    /// `serverDryRun` event.
    ///
    /// # Errors
    /// [`crate::error::Stop::ServerDryRunRefused`] when a write was refused (exit 1).
    pub fn server_dry_run(&mut self, server: &ServerDryRun) -> Result<()> {
        for line in server.lines() {
            self.io.say(line);
        }
        self.event(Event::ServerDryRun { writes: server.clone() })?;
        server.ending()
    }

    /// With `-o json`, the error as the run's last line (stderr says it too).
    pub fn ended(&mut self, error: &Error) {
        if self.format == Format::Json {
            let (left, resume) = error.left_and_resume();
            let (left, resume) = match error {
                Error::Stopped(stop) => match &**stop {
                    Stop::MaintenanceStopped { left, resume, .. } => {
                        (Some(left.as_str()), Some(resume.as_str()))
                    }
                    _ => (left, resume),
                },
                _ => (left, resume),
            };
            let _ = self.event(Event::Error {
                error: error.to_string(),
                exit_code: error.exit_code(),
                left: left.map(str::to_owned),
                resume: resume.map(str::to_owned),
            });
        }
    }
}

/// `--dry-run=server` of taking `pod` (the member `target`, still that uid) down as
/// [`Mover::take_down`] would: its eviction, or its delete, with `dryRun=All`. What it does, and
/// the answer.
pub async fn check_take_down(
    check: &ServerCheck,
    kube: &Kube,
    method: Method,
    target: &Target,
    pod: &Pod,
) -> (String, ServerAnswer) {
    match method {
        Method::Delete => {
            let api: Api<Pod> = kube.api_in(&target.namespace);
            let what = format!("delete pod {}", target.qualified());
            let deleted =
                check.delete(&api, &target.pod, Guard::identity(pod), Deletion::default(), &what).await;
            (what, ServerAnswer::of_deleted(deleted))
        }
        Method::Evict => {
            let what = format!("evict pod {}", target.qualified());
            let answer = ServerAnswer::of_evicted(check.evict(pod, &what).await);
            (what, answer)
        }
    }
}

/// The pod of `target` in `pods` while it is still the one the plan read (its uid): the one a
/// server dry run can check taking down.
pub fn pod_of<'p>(pods: &'p [Pod], target: &Target) -> Option<&'p Pod> {
    pods.iter().find(|p| {
        p.name_any() == target.pod
            && p.namespace().as_deref() == Some(target.namespace.as_str())
            && p.uid().as_deref() == Some(target.uid.as_str())
    })
}

/// Takes members down and follows them, for one run.
pub struct Mover<'a> {
    pub kube: &'a Kube,
    pub writer: Writer,
    pub method: Method,
    pub gates: Gates,
    pub soak: Duration,
    /// How long one wait (a replacement, a budget, a quorum hold, a gate) may take.
    pub timeout: Duration,
    /// `restart of web`, `drain of node-a`.
    pub what: String,
    /// The command that resumes the run, as printed.
    pub resume: String,
    /// Events name pods `namespace/pod` (a drain spans namespaces).
    pub qualified: bool,
}

impl<'a> Mover<'a> {
    /// A mover for one run: evictions, no gates, no soak, pods named without their namespace;
    /// each command sets what differs (`Mover { gates, ..Mover::new(…) }`).
    pub fn new(kube: &'a Kube, writer: Writer, timeout: Duration, what: String, resume: String) -> Mover<'a> {
        Mover {
            kube,
            writer,
            method: Method::Evict,
            gates: Gates::default(),
            soak: Duration::ZERO,
            timeout,
            what,
            resume,
            qualified: false,
        }
    }

    /// How events name `target`.
    pub fn name(&self, target: &Target) -> String {
        if self.qualified { target.qualified() } else { target.pod.clone() }
    }

    /// The words of a wait that ends before its condition.
    pub fn words(&self, left: String) -> Said {
        Said { left, resume: format!("run `{}` to resume", self.resume) }
    }

    /// A stop with the state left safe (exit 3).
    pub fn stopped(&self, reason: String, left: String) -> Error {
        Stop::MaintenanceStopped {
            what: self.what.clone(),
            reason,
            left,
            resume: format!("run `{}` to resume", self.resume),
        }
        .into()
    }

    /// Takes `pod` (the member `target`, still the uid read) down: an eviction, waited out
    /// while a budget refuses and waiting can help, or a delete; each guarded by its uid.
    pub async fn take_down(
        &self,
        reporter: &mut Reporter<'_>,
        waiter: &mut Waiter,
        sts: &StatefulSet,
        target: &Target,
        pod: &Pod,
    ) -> Result<()> {
        let node = target.node.clone();
        if self.method == Method::Delete {
            let api: Api<Pod> = self.kube.api_in(&target.namespace);
            let what = format!("delete pod {}", target.pod);
            let deleted = self
                .writer
                .delete(&api, &target.pod, Guard::identity(pod), Deletion::default(), &what)
                .await?;
            if deleted == Deleted::Done {
                reporter.event(Event::Deleted { pod: self.name(target), uid: target.uid.clone(), node })?;
            }
            return Ok(());
        }
        let until = deadline(self.timeout);
        let mut said: Option<String> = None;
        loop {
            let what = format!("evict pod {}", target.pod);
            let refused = match self.writer.evict(pod, &what).await? {
                Evicted::Done => {
                    reporter.event(Event::Evicted {
                        pod: self.name(target),
                        uid: target.uid.clone(),
                        node,
                    })?;
                    return Ok(());
                }
                // Gone, or replaced already: the controller got there first; followed by uid.
                Evicted::Gone | Evicted::Changed => return Ok(()),
                Evicted::Refused(refused) => refused,
            };
            let view = waiter.view();
            let covers = covering(&view.budgets, sts, &view.pods);
            let reason = match on_refused(&refused.describe(), &covers, replicas(sts)) {
                OnRefusal::Stop(reason) => {
                    return Err(self.stopped(
                        format!("the eviction of {} was refused: {reason}", target.pod),
                        format!("{} was not taken down", target.pod),
                    ));
                }
                OnRefusal::Wait(reason) => reason,
            };
            if said.as_ref() != Some(&reason) {
                reporter.event(Event::EvictionRefused { pod: self.name(target), reason: reason.clone() })?;
                said = Some(reason.clone());
            }
            // Tried again once the budgets over the pod allow a disruption and their numbers
            // changed (or RETRY passed), or once the pod is gone; until the timeout.
            let uid = pod.uid();
            let refused_at = Timestamp::now();
            let words = self.words(format!("{} was not taken down", target.pod));
            let how = Until { deadline: until, words: &words, ours: None };
            let what = budget_words(&target.pod, &refused.budgets, &refused.message);
            let mut progress = reporter.progress(what.what, until);
            let state = |view: &View| {
                let now = budget_words(&target.pod, &budgets_of(&view.budgets, pod), &refused.message);
                Showing { what: Some(now.what), state: now.state }
            };
            let (_, again) = waiter
                .until_progress(
                    how,
                    &mut progress,
                    &state,
                    |view, now| {
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
                    |_| Ok(false),
                )
                .await?;
            progress.finish();
            if !again {
                return Err(self.stopped(
                    format!(
                        "the eviction of {} was refused for {}: {reason}",
                        target.pod,
                        humantime::format_duration(self.timeout)
                    ),
                    format!("{} was not taken down", target.pod),
                ));
            }
        }
    }

    /// After the replacement of `target` (uid `uid`) is up: it must stay Ready without a
    /// container restart for the soak, then pass every gate.
    pub async fn verify(
        &self,
        reporter: &mut Reporter<'_>,
        waiter: &mut Waiter,
        sts: &StatefulSet,
        target: &Target,
        uid: &str,
    ) -> Result<()> {
        let left = format!("{} was replaced; it was not yet checked", target.pod);
        if !self.soak.is_zero() {
            let restarts = waiter
                .view()
                .pods
                .iter()
                .find(|p| p.uid().as_deref() == Some(uid))
                .map(pod_restarts)
                .unwrap_or_default();
            let words = self.words(left.clone());
            let how = Until { deadline: deadline(self.soak), words: &words, ours: None };
            let mut progress = reporter.progress(
                format!("{} to stay Ready for {}", self.name(target), humantime::format_duration(self.soak)),
                how.deadline,
            );
            let state = |view: &View| {
                Showing::from(pod_state(Some(&target.namespace), &target.pod, None, &view.pods))
            };
            let (_, failed) = waiter
                .until_progress(
                    how,
                    &mut progress,
                    &state,
                    |view, _| {
                        Ok(match soak_failure(&view.pods, uid, &target.pod, restarts) {
                            Some(why) => Wake::Done(Some(why)),
                            None => Wake::Wait,
                        })
                    },
                    |_| Ok(None),
                )
                .await?;
            progress.finish();
            if let Some(reason) = failed {
                return Err(self.stopped(reason, left));
            }
            reporter.event(Event::Soaked { pod: self.name(target), seconds: self.soak.as_secs() })?;
        }
        self.run_gates(reporter, waiter, sts, target, uid, left).await
    }

    async fn run_gates(
        &self,
        reporter: &mut Reporter<'_>,
        waiter: &mut Waiter,
        sts: &StatefulSet,
        target: &Target,
        uid: &str,
        left: String,
    ) -> Result<()> {
        let runs = gate_runs::runs(&self.gates, sts, &[target.ordinal]);
        if runs.is_empty() {
            return Ok(());
        }
        let http = match self.gates.http.is_empty() {
            true => None,
            false => Some(http_client()?),
        };
        let until = deadline(self.timeout);
        // The replacement the gates are about, followed by its uid (the one that soaked).
        let watched = [(target.ordinal, Some(uid.to_owned()))];
        for run in &runs {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let outcome = try_gate(self.kube, run, &self.gates, http.as_ref()).await?;
                let (pod, gate, gate_kind) = (self.name(target), run.gate.clone(), run.kind);
                if outcome.passed {
                    reporter.event(Event::GatePassed { pod, gate, gate_kind, attempt })?;
                    break;
                }
                reporter.event(Event::GateFailed {
                    pod,
                    gate,
                    gate_kind,
                    attempt,
                    output: outcome.output.clone(),
                })?;
                let again = Instant::now() + RETRY;
                if again >= until {
                    return Err(self.stopped(
                        format!(
                            "gate '{}' did not pass in {attempt} tries (last: {})",
                            run.expanded, outcome.output
                        ),
                        left,
                    ));
                }
                waiter.pause(&self.words(left.clone()), again).await?;
            }
        }
        // What happened while the gates ran, read now: the watches may lag behind.
        let now = pods_now(self.kube, &target.namespace, std::slice::from_ref(&target.pod)).await?;
        if let Some(reason) = gate_runs::replaced_since(sts, &now, &watched).into_iter().next() {
            return Err(self.stopped(reason, left));
        }
        Ok(())
    }
}

/// What `--discard-journal` removes, and what it says.
pub struct Discard<'a> {
    /// The command whose journal it is (`restart`, `scale`, `drain`).
    pub command: &'a str,
    /// The annotation that holds it.
    pub annotation: &'static str,
    /// What stays as it is (`no pod is touched`).
    pub after: String,
    /// The command that shows the journal again (the run's own, as the person would type it).
    pub again: String,
    pub dry_run: crate::write::DryRun,
    pub yes: bool,
}

/// [`discard_journal`] of the journal on the StatefulSet `sts` (`restart`, `scale`).
///
/// # Errors
/// As [`discard_journal`].
pub async fn discard_set_journal(
    kube: &Kube,
    sts: &StatefulSet,
    discard: &Discard<'_>,
    term: &Terminal,
    reporter: &mut Reporter<'_>,
) -> Result<()> {
    let api: Api<StatefulSet> = kube.api_in(&sts.namespace().unwrap_or_default());
    discard_journal(kube, &api, sts, discard, term, reporter).await
}

/// `--discard-journal` of `restart`, `scale` and `drain`: shows the journal on `object` (a
/// StatefulSet, a node) as stored (read as a journal or not: an unreadable one is the reason to
/// discard it), asks, and removes exactly that annotation, guarded by the object's uid and the
/// journal as read (one changed meanwhile stays).
///
/// # Errors
/// A refused prompt without a terminal, [`Stop::JournalChangedSinceRead`] when the journal
/// changed since it was read, and [`Stop::DeletedSinceRead`] when the object is gone.
pub async fn discard_journal<K>(
    kube: &Kube,
    api: &Api<K>,
    object: &K,
    discard: &Discard<'_>,
    term: &Terminal,
    reporter: &mut Reporter<'_>,
) -> Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + Serialize + std::fmt::Debug,
{
    let (name, command) = (object.name_any(), discard.command);
    let Some(text) = object.annotations().get(discard.annotation) else {
        reporter.io.say(format_args!("{name} has no {command} journal: nothing to discard"));
        return Ok(());
    };
    reporter.io.say(format_args!("{command} journal of {name}: {text}"));
    let again = discard.again.clone();
    let Some(writer) = Writer::of(
        kube,
        Mode::from_dry_run(discard.dry_run),
        format!("`{again}` shows whether it was removed"),
    ) else {
        reporter.io.say("dry run: nothing was changed");
        if let Some(check) = ServerCheck::of(kube, Mode::from_dry_run(discard.dry_run)) {
            let patch = patches::maintenance_journal(object, discard.annotation, None);
            let what = format!("remove the {command} journal of {name}");
            let answer = ServerAnswer::of_written(check.patch(api, &name, &patch, &what).await);
            let mut server = ServerDryRun::default();
            server.add(what, answer);
            return reporter.server_dry_run(&server);
        }
        return Ok(());
    };
    if !term.confirm(discard.yes, &format!("Remove it? ({})", discard.after))? {
        reporter.io.say("not confirmed: nothing was changed");
        return Ok(());
    }
    let patch = patches::maintenance_journal(object, discard.annotation, None);
    let what = format!("remove the {command} journal of {name}");
    match writer.patch(api, &name, &patch, &what).await? {
        Written::Done(_) => {
            reporter.io.say(format_args!("{command} journal of {name} removed; {}", discard.after));
            Ok(())
        }
        Written::Changed(_) => Err(Stop::JournalChangedSinceRead { name, again }.into()),
        Written::Gone => Err(Stop::DeletedSinceRead { what, name }.into()),
    }
}

/// `--dry-run=server`: the write of a restart's or scale's journal (`text`) on `sts`, under its
/// `annotation`, sent with `dryRun=All` and recorded in `run` as `write the {command} journal`.
pub async fn check_journal_write(
    check: &ServerCheck,
    api: &Api<StatefulSet>,
    sts: &StatefulSet,
    annotation: &str,
    command: &str,
    text: &str,
    run: &mut ServerDryRun,
) {
    let name = sts.name_any();
    let patch = patches::maintenance_journal(sts, annotation, Some(text));
    let what = format!("write the {command} journal of {name}");
    let answer = ServerAnswer::of_written(check.patch(api, &name, &patch, &what).await);
    run.add(what, answer);
}

/// `--dry-run=server`: the removal of a restart's or scale's journal that ends the run, checked
/// only when it is the run's first write (the set as read is what it applies to); after other
/// writes it depends on the one before it.
pub async fn check_journal_removal(
    check: &ServerCheck,
    api: &Api<StatefulSet>,
    sts: &StatefulSet,
    annotation: &str,
    command: &str,
    run: &mut ServerDryRun,
) {
    let name = sts.name_any();
    let what = format!("remove the {command} journal of {name}");
    let answer = match run.writes.len() {
        0 => {
            let patch = patches::maintenance_journal(sts, annotation, None);
            ServerAnswer::of_written(check.patch(api, &name, &patch, &what).await)
        }
        depends_on => ServerAnswer::NotChecked { depends_on },
    };
    run.add(what, answer);
}
