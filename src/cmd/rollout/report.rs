//! What a rollout tells its watcher: the plan and a summary on stdout and progress on stderr,
//! or with `-o json` one event per line on stdout for CI (schema in docs/rollout.md). Written
//! through the [`Streams`] the command was given, so tests see every byte.

use std::collections::HashSet;
use std::io::{self, Write};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde::Serialize;

use crate::core::names::{pod_name, pod_ordinal};
use crate::core::objects::{pod_ready, short_revision};
use crate::core::rollout::gates::{GateKind, Gates};
use crate::core::rollout::{PodProgress, Replace, Step};
use crate::error::Result;
use crate::output::{
    Canvas, Document, ROLLOUT_EVENT, Streams, output_error, write_fitted_prose_table, write_json_line,
};
use crate::progress::Progress;
use crate::ui::Terminal;

use super::strip::Strip;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Plan and summary on stdout, progress on stderr
    #[default]
    Text,
    /// One JSON event per line on stdout (NDJSON)
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Event {
    #[serde(rename_all = "camelCase")]
    Plan {
        from_revision: Option<String>,
        /// `None` when the new revision is staged by this run (its name is known once staged).
        to_revision: Option<String>,
        replicas: i32,
        /// The partition now; under OnDelete (`replace: eviction`), which has none, the pods
        /// not on the update revision.
        partition: i32,
        /// Who replaces the pods a step releases: `controller` (RollingUpdate: the partition
        /// releases them) or `eviction` (OnDelete: this tool evicts them one at a time).
        replace: Replace,
        /// The partition staging raises it to before the first step, when this run stages.
        staged_partition: Option<i32>,
        steps: Vec<Step>,
        /// How many released pods the controller updates at once (`maxUnavailable` when this
        /// server honours it, else 1).
        pods_at_once: i32,
        /// What each step must pass besides readiness (the defaults: PodDisruptionBudgets
        /// respected, a failure stops).
        gates: Gates,
    },
    #[serde(rename_all = "camelCase")]
    Staged { revision: Option<String>, partition: i32 },
    #[serde(rename_all = "camelCase")]
    StepStarted { step: usize, steps: usize, partition: i32, ordinals: Vec<i32> },
    #[serde(rename_all = "camelCase")]
    PodUpdated { pod: String, revision: Option<String> },
    #[serde(rename_all = "camelCase")]
    PodReady { pod: String },
    #[serde(rename_all = "camelCase")]
    StepDone { step: usize, steps: usize, partition: i32, seconds: f64 },
    #[serde(rename_all = "camelCase")]
    Stopped { partition: i32, reason: String },
    #[serde(rename_all = "camelCase")]
    Failed { step: Option<usize>, partition: i32, reasons: Vec<String> },
    #[serde(rename_all = "camelCase")]
    PodDeleted { pod: String, reason: String },
    /// OnDelete: `pod`, on `revision`, was evicted (pods/eviction) for its replacement.
    #[serde(rename_all = "camelCase")]
    PodEvicted { pod: String, revision: String },
    /// OnDelete: the eviction of `pod` was refused (429, a PodDisruptionBudget); it is tried
    /// again until the step times out. `reason` is the API server's, with the budget's cause;
    /// `budgets` the PodDisruptionBudgets over the pod with their numbers, as read right after.
    #[serde(rename_all = "camelCase")]
    EvictionRefused { pod: String, reason: String, budgets: Vec<crate::core::objects::Budget> },
    /// Nothing to roll out (or back): every pod runs `revision`.
    #[serde(rename_all = "camelCase")]
    NothingToDo { revision: String, reason: String },
    /// No update was pending: only the partition moved; no pod changed.
    #[serde(rename_all = "camelCase")]
    PartitionMoved { from: i32, partition: i32, revision: String },
    /// `--hold`: every pod is held back at `partition` for a template change from the owner;
    /// pods run `revision`.
    #[serde(rename_all = "camelCase")]
    Held {
        partition: i32,
        revision: String,
        /// The command that steps the change through once applied (text output only).
        #[serde(skip)]
        resume: String,
    },
    /// Someone else changed the StatefulSet while the rollout waited or before it wrote: the
    /// field manager that did (from managedFields), what changed, and the partition left.
    #[serde(rename_all = "camelCase")]
    Drift { manager: Option<String>, changes: Vec<String>, partition: i32 },
    /// A PodDisruptionBudget holds the next step: it allows `allowed` disruptions (`null`: not
    /// evaluated for its spec yet) and the step takes `needed` pods down at once.
    #[serde(rename_all = "camelCase")]
    PdbWait { pdb: String, allowed: Option<i32>, needed: i32 },
    /// A gate passed after a step, for `pod` (`null`: once for the step), on try `attempt`.
    #[serde(rename_all = "camelCase")]
    GatePassed { step: usize, gate: String, gate_kind: GateKind, pod: Option<String>, attempt: u32 },
    /// A try of a gate failed; it is tried again until the step times out.
    #[serde(rename_all = "camelCase")]
    GateFailed {
        step: usize,
        gate: String,
        /// `exec` or `http` (not `kind`: that is the envelope's).
        gate_kind: GateKind,
        pod: Option<String>,
        attempt: u32,
        output: String,
    },
    /// Something the person should know before the rollout goes on.
    #[serde(rename_all = "camelCase")]
    Warning { message: String },
    /// An abort's plan: the template of `revision`, the partition at `rollbackPartition` while
    /// pods roll back, then `partition` again.
    #[serde(rename_all = "camelCase")]
    AbortPlanned { revision: String, rollback_partition: i32, partition: i32, restore_template: bool },
    /// A pod the abort rolled back now runs `revision` and is Ready.
    #[serde(rename_all = "camelCase")]
    PodRolledBack {
        pod: String,
        revision: String,
        /// False for a pod that was not Ready at the rollout's start either: it is not waited for.
        ready: bool,
    },
    #[serde(rename_all = "camelCase")]
    Aborted {
        revision: String,
        partition: i32,
        seconds: f64,
        /// The pods back on the revision that are not Ready, as they were not at the rollout's
        /// start (the abort did not wait for them).
        not_ready: Vec<String>,
    },
    #[serde(rename_all = "camelCase")]
    Finished { revision: Option<String>, steps: usize, seconds: f64 },
    /// `--dry-run=server`: each write of the plan, in order, with the API server's answer
    /// (`accepted`, `refused` with its `reason`, or `notChecked` with the step it `dependsOn`).
    #[serde(rename_all = "camelCase")]
    ServerDryRun { writes: crate::write::ServerDryRun },
    /// The run ended with an error (`-o json` only): the line stderr says, the exit code, and
    /// for an interruption, a lost API server or an error after changes, what was left and how
    /// to go on. The last line of every run that ends with an error.
    #[serde(rename_all = "camelCase")]
    Error { error: String, exit_code: u8, left: Option<String>, resume: Option<String> },
}

impl Event {
    /// The last event of a run that ended with `error`.
    pub fn ended(error: &crate::error::Error) -> Event {
        let (left, resume) = error.left_and_resume();
        Event::Error {
            error: error.to_string(),
            exit_code: error.exit_code(),
            left: left.map(str::to_owned),
            resume: resume.map(str::to_owned),
        }
    }
}

/// An event as printed in `-o json`: the document envelope, when, and for which StatefulSet.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Line<'a> {
    time: Timestamp,
    namespace: &'a str,
    stateful_set: &'a str,
    #[serde(flatten)]
    event: &'a Event,
}

pub struct Reporter<'io> {
    format: Format,
    namespace: String,
    name: String,
    io: &'io mut Streams,
    bar: ProgressBar,
    /// Where each ordinal is, and its line above the spinner on a terminal (`None` elsewhere:
    /// the log lines alone).
    strip: Strip,
    strip_bar: Option<ProgressBar>,
    /// Reads the time stamped on each event (fixed in tests).
    clock: fn() -> Timestamp,
    /// (pod, revision) pairs already announced as updated, and as Ready: each is said once.
    announced_updated: HashSet<(String, String)>,
    announced_ready: HashSet<(String, String)>,
    /// stdout's reader went away: a rollout does not stop halfway because nobody reads its
    /// events any more; it goes on, and its exit code says how it ended.
    out_closed: bool,
    /// Who replaces the pods, as the plan said: under OnDelete the lines speak of evictions,
    /// not partitions.
    replace: Replace,
    /// How the plan's table fits stdout (a terminal's width, or none in a pipe).
    canvas: Canvas,
    /// The run's terminal, for the progress of a wait where the spinner is not drawn.
    term: Terminal,
    /// Where the pods of the step waited on stand, as [`Reporter::progress`] last said.
    status: String,
}

impl<'io> Reporter<'io> {
    pub fn new(format: Format, namespace: &str, name: &str, term: &Terminal, io: &'io mut Streams) -> Self {
        let (bar, strip_bar) = match format {
            // On a terminal, the strip above the spinner, both redrawn in place.
            Format::Text if term.animate => {
                let both = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
                let strip = both.add(ProgressBar::new_spinner());
                strip.set_style(
                    ProgressStyle::with_template("{msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                (both.add(term.spinner()), Some(strip))
            }
            Format::Text => (term.spinner(), None),
            Format::Json => (ProgressBar::hidden(), None),
        };
        Reporter {
            format,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            io,
            bar,
            strip: Strip::default(),
            strip_bar,
            clock: Timestamp::now,
            announced_updated: HashSet::new(),
            announced_ready: HashSet::new(),
            out_closed: false,
            replace: Replace::Controller,
            canvas: term.canvas(),
            term: *term,
            status: String::new(),
        }
    }

    /// The progress of a wait for `what` until `deadline` where the spinner is not drawn (a
    /// pipe, `NO_COLOR`): a plain line per change of [`Reporter::status`] on the run's stream
    /// for people. `None` on a terminal, where the spinner and the strip are the one display,
    /// and under `-o json`, whose events say where each step stands.
    pub fn plain_progress(&self, what: String, deadline: tokio::time::Instant) -> Option<Progress> {
        let plain = Terminal { animate: false, ..self.term };
        // Under -o json the events say where each step stands: stderr stays for errors.
        (self.strip_bar.is_none() && self.format != Format::Json)
            .then(|| Progress::start(&plain, self.io.err_stream(), what, deadline))
    }

    /// Where the pods of the step waited on stand: `1/3 updated, 0/3 ready: web-2 Pending`.
    pub fn status(&self) -> &str {
        &self.status
    }

    #[cfg(test)]
    pub fn with_clock(mut self, clock: fn() -> Timestamp) -> Self {
        self.clock = clock;
        self
    }

    /// Records an event: a JSON line, or for people a line on stderr (the plan and the final
    /// summary go to stdout, being the command's result).
    pub fn event(&mut self, event: Event) -> Result<()> {
        if let Event::Plan { replace, .. } = &event {
            self.replace = *replace;
        }
        self.strip.event(&self.name, &event);
        self.draw_strip();
        if self.format == Format::Json {
            let line = Line {
                time: (self.clock)(),
                namespace: &self.namespace,
                stateful_set: &self.name,
                event: &event,
            };
            let document = Document::new(ROLLOUT_EVENT, &line);
            let (io, closed) = (&mut *self.io, &mut self.out_closed);
            return write_stdout(io, closed, |out| write_json_line(out, &document));
        }
        match &event {
            Event::Plan { .. } => {
                let bar = self.bar.clone();
                let (io, closed, name, canvas) =
                    (&mut *self.io, &mut self.out_closed, &self.name, self.canvas);
                bar.suspend(|| write_stdout(io, closed, |out| write_plan(out, name, &event, canvas)))
            }
            Event::Finished { .. } | Event::Aborted { .. } => {
                self.clear();
                let line = match self.replace {
                    Replace::Eviction => describe_eviction(&self.name, &event),
                    Replace::Controller => describe(&self.name, &event),
                };
                write_stdout(self.io, &mut self.out_closed, |out| writeln!(out, "{line}"))
            }
            _ => {
                let line = match self.replace {
                    Replace::Eviction => describe_eviction(&self.name, &event),
                    Replace::Controller => describe(&self.name, &event),
                };
                self.say(line);
                Ok(())
            }
        }
    }

    /// Who replaces the pods of what follows (an abort has no plan event to say it).
    pub fn replacing(&mut self, replace: Replace) {
        self.replace = replace;
    }

    /// Records an event only in `-o json`: for people, the error that follows says the same.
    pub fn event_for_machines(&mut self, event: Event) -> Result<()> {
        if self.format == Format::Json { self.event(event) } else { Ok(()) }
    }

    /// A line for people on stderr, above the spinner.
    pub fn say(&mut self, line: impl std::fmt::Display) {
        let io = &mut *self.io;
        self.bar.suspend(|| io.say(line));
    }

    /// Marks pods already on `revision` (and Ready) before this run as announced.
    pub fn already_updated(&mut self, pods: &[&Pod], revision: Option<&str>) {
        let Some(revision) = revision else { return };
        for pod in pods {
            let key = (pod.name_any(), revision.to_owned());
            if pod_ready(pod) {
                self.announced_ready.insert(key.clone());
                self.strip.already(pod_ordinal(&pod.name_any(), &self.name));
            }
            self.announced_updated.insert(key);
        }
    }

    /// Redraws the strip (on a terminal, once a plan was seen), fitted to stderr's width.
    fn draw_strip(&self) {
        let Some(bar) = &self.strip_bar else { return };
        if self.strip.is_empty() {
            return;
        }
        let width = console::Term::stderr().size_checked().map_or(80, |(_, columns)| usize::from(columns));
        bar.set_message(self.strip.render(&self.name, width.saturating_sub(1).max(1)));
    }

    /// Announces pods that became updated or Ready since the last call, and refreshes the spinner.
    pub fn progress(&mut self, prefix: &str, pods: &[PodProgress], revision: Option<&str>) -> Result<()> {
        let mut events = Vec::new();
        for pod in pods.iter().filter(|p| p.updated) {
            let key = (pod.name.clone(), revision.unwrap_or_default().to_owned());
            if self.announced_updated.insert(key.clone()) {
                events
                    .push(Event::PodUpdated { pod: pod.name.clone(), revision: revision.map(str::to_owned) });
            }
            if pod.ready && self.announced_ready.insert(key) {
                events.push(Event::PodReady { pod: pod.name.clone() });
            }
        }
        self.strip.progress(pods);
        for event in events {
            self.event(event)?;
        }
        self.draw_strip();
        let updated = pods.iter().filter(|p| p.updated).count();
        let ready = pods.iter().filter(|p| p.updated && p.ready).count();
        let states: Vec<String> = pods.iter().map(|p| format!("{} {}", p.name, p.state)).collect();
        self.status =
            format!("{updated}/{n} updated, {ready}/{n} ready: {}", states.join(", "), n = pods.len());
        self.bar.set_prefix(prefix.to_owned());
        self.bar.set_message(self.status.clone());
        Ok(())
    }

    /// Hides the spinner while a prompt is on screen.
    pub fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        self.bar.suspend(f)
    }

    pub fn clear(&self) {
        self.bar.finish_and_clear();
        if let Some(strip) = &self.strip_bar {
            strip.finish_and_clear();
        }
    }
}

fn write_stdout(
    io: &mut Streams,
    closed: &mut bool,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    if *closed {
        return Ok(());
    }
    match write(&mut io.out) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            *closed = true;
            Ok(())
        }
        other => other.map_err(output_error),
    }
}

/// The plan as a table, headed by the revisions it moves between; on a terminal (`canvas`'s
/// width) a step's list of pods wraps under itself rather than past the screen's edge.
pub fn write_plan(w: &mut dyn Write, name: &str, plan: &Event, canvas: Canvas) -> io::Result<()> {
    let Event::Plan {
        from_revision,
        to_revision,
        replicas,
        partition,
        replace,
        staged_partition,
        steps,
        pods_at_once,
        gates,
    } = plan
    else {
        return Ok(());
    };
    if *replace == Replace::Eviction {
        return write_eviction_plan(w, name, plan, canvas);
    }
    let short = |r: &Option<String>| r.as_deref().map(|r| short_revision(name, r).to_owned());
    let heading = format!(
        "Rollout of {name}: revision {} -> {}, {replicas} replicas, partition now {partition}{}",
        short(from_revision).unwrap_or_else(|| "?".into()),
        short(to_revision).unwrap_or_else(|| "(staged next)".into()),
        if *pods_at_once > 1 {
            format!(", up to {pods_at_once} released pods updated at once (maxUnavailable)")
        } else {
            String::new()
        },
    );
    canvas.write_wrapped(w, "", "  ", &heading)?;
    if !gates.is_default() {
        canvas.write_wrapped(w, "Gates after each step: ", "  ", &gates.describe())?;
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut previous = *partition;
    if let Some(staged) = staged_partition.filter(|s| *s != previous) {
        // Without a new revision to name, this run stages no template: it only holds pods back.
        let (what, updated) = match to_revision {
            None => ("none (template staged)", format!("0/{replicas}")),
            Some(_) => ("none (holds every pod back)", "-".to_owned()),
        };
        rows.push(vec!["stage".to_owned(), format!("{previous} -> {staged}"), what.to_owned(), updated]);
        previous = staged;
    }
    for step in steps {
        let pods: Vec<String> = step.ordinals.iter().map(|o| pod_name(name, *o)).collect();
        rows.push(vec![
            format!("{}/{}", step.number, steps.last().map_or(0, |s| s.number)),
            format!("{previous} -> {}", step.partition),
            pods.join(", "),
            format!("{}/{replicas}", step.updated),
        ]);
        previous = step.partition;
    }
    write_fitted_prose_table(w, &["STEP", "PARTITION", "UPDATES", "UPDATED AFTER"], rows, canvas, "UPDATES")
}

/// The plan of an OnDelete rollout: no partition; the pods each step evicts, one at a time.
fn write_eviction_plan(w: &mut dyn Write, name: &str, plan: &Event, canvas: Canvas) -> io::Result<()> {
    let Event::Plan {
        from_revision, to_revision, replicas, partition, staged_partition, steps, gates, ..
    } = plan
    else {
        return Ok(());
    };
    let short = |r: &Option<String>| r.as_deref().map(|r| short_revision(name, r).to_owned());
    let heading = format!(
        "Rollout of {name} (OnDelete): revision {} -> {}, {replicas} replicas{}; {} and re-created by the \
         controller",
        short(from_revision).unwrap_or_else(|| "?".into()),
        short(to_revision).unwrap_or_else(|| "(staged next)".into()),
        match replicas - partition {
            0 => String::new(),
            n => format!(", {n} on the update revision already"),
        },
        match gates.ignore_pdb {
            false => "each pod is evicted in turn (PodDisruptionBudgets apply)",
            true => "each pod is deleted in turn (--ignore-pdb: no eviction)",
        },
    );
    canvas.write_wrapped(w, "", "  ", &heading)?;
    if !gates.is_default() {
        canvas.write_wrapped(w, "Gates after each pod: ", "  ", &gates.describe())?;
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    if staged_partition.is_some() {
        rows.push(vec!["stage".to_owned(), "none (template staged)".to_owned(), format!("0/{replicas}")]);
    }
    for step in steps {
        let pods: Vec<String> = step.ordinals.iter().map(|o| pod_name(name, *o)).collect();
        rows.push(vec![
            format!("{}/{}", step.number, steps.last().map_or(0, |s| s.number)),
            pods.join(", "),
            format!("{}/{replicas}", step.updated),
        ]);
    }
    write_fitted_prose_table(w, &["STEP", "EVICTS", "UPDATED AFTER"], rows, canvas, "EVICTS")
}

/// `; not Ready, as at the rollout's start: web-0, web-1` after an abort's summary, when it
/// left such pods.
fn not_ready_note(not_ready: &[String]) -> String {
    match not_ready {
        [] => String::new(),
        pods => format!("; not Ready, as when the rollout started: {}", pods.join(", ")),
    }
}

/// The text line of an event of an OnDelete rollout, where nothing speaks of a partition.
pub fn describe_eviction(name: &str, event: &Event) -> String {
    match event {
        Event::Staged { revision, .. } => format!(
            "staged revision {}: no pod moves until it is evicted (OnDelete)",
            revision.as_deref().map_or("?", |r| short_revision(name, r))
        ),
        Event::StepStarted { step, steps, ordinals, .. } => {
            let pods: Vec<String> = ordinals.iter().map(|o| pod_name(name, *o)).collect();
            format!("step {step}/{steps}: evicting {}, one at a time", pods.join(", "))
        }
        Event::Aborted { revision, seconds, not_ready, .. } => {
            format!(
                "{name} rolled back to revision {} in {seconds:.1}s{}",
                short_revision(name, revision),
                not_ready_note(not_ready)
            )
        }
        Event::AbortPlanned { revision, restore_template, .. } => {
            let template = if *restore_template {
                format!("restore the pod template of revision {revision}")
            } else {
                format!("the pod template is revision {revision}'s already")
            };
            format!(
                "abort: {template}; then evict the pods on other revisions back, highest ordinal first (OnDelete)"
            )
        }
        other => describe(name, other),
    }
}

/// The text line of an event.
pub fn describe(name: &str, event: &Event) -> String {
    let short = |r: &str| short_revision(name, r).to_owned();
    let short_or = |r: &Option<String>| r.as_deref().map_or_else(|| "?".to_owned(), short);
    match event {
        Event::Plan { .. } => String::new(),
        // For machines only: stderr has the error itself.
        Event::Error { error, .. } => error.clone(),
        Event::ServerDryRun { writes } => writes.lines().join("\n"),
        Event::Staged { revision, partition } => format!(
            "staged revision {} with partition {partition}: no further pod moves before the first step",
            short_or(revision)
        ),
        Event::StepStarted { step, steps, partition, ordinals } => {
            let pods: Vec<String> = ordinals.iter().map(|o| pod_name(name, *o)).collect();
            match pods.is_empty() {
                // A set parked at 0 replicas: the step only lowers the partition.
                true => format!("step {step}/{steps}: partition -> {partition}, no pod to update"),
                false => {
                    format!("step {step}/{steps}: partition -> {partition}, updating {}", pods.join(", "))
                }
            }
        }
        Event::PodUpdated { pod, revision } => format!("  {pod} runs revision {}", short_or(revision)),
        Event::PodReady { pod } => format!("  {pod} is Ready"),
        Event::StepDone { step, steps, seconds, .. } => format!("step {step}/{steps} done in {seconds:.1}s"),
        Event::Stopped { reason, .. } => reason.clone(),
        Event::Failed { reasons, .. } => format!("FAILED: {}", reasons.join("; ")),
        Event::Warning { message } => format!("warning: {message}"),
        Event::PdbWait { pdb, allowed, needed } => match allowed {
            Some(allowed) => format!(
                "  waiting: PodDisruptionBudget {pdb} allows {allowed} disruption{}, the step takes {needed} pod{} down",
                if *allowed == 1 { "" } else { "s" },
                if *needed == 1 { "" } else { "s" }
            ),
            None => format!("  waiting: PodDisruptionBudget {pdb} is not evaluated for its current spec yet"),
        },
        Event::GatePassed { gate, pod, attempt, .. } => format!(
            "  gate '{gate}' passed{}{}",
            pod.as_ref().map(|p| format!(" in {p}")).unwrap_or_default(),
            if *attempt > 1 { format!(" (try {attempt})") } else { String::new() }
        ),
        Event::GateFailed { gate, pod, attempt, output, .. } => format!(
            "  gate '{gate}' not passed yet{} (try {attempt}): {output}",
            pod.as_ref().map(|p| format!(" in {p}")).unwrap_or_default()
        ),
        Event::Held { partition, revision, resume } => format!(
            "held {name} at partition {partition} (pods run revision {}): once its owner has applied the template \
             change, `{resume}` steps it through",
            short(revision)
        ),
        Event::Drift { manager, changes, partition } => format!(
            "{} changed {name} ({}); stopped at partition {partition}",
            manager.as_deref().map_or_else(|| "someone else".to_owned(), |m| format!("field manager {m}")),
            changes.join(", ")
        ),
        Event::NothingToDo { revision, reason } => {
            format!(
                "{} ({})",
                reason.replace("this revision", &format!("revision {}", short(revision))),
                revision
            )
        }
        Event::PartitionMoved { from, partition, revision } => format!(
            "partition of {name} moved {from} -> {partition}; no update is pending, every pod runs revision {}",
            short(revision)
        ),
        Event::PodDeleted { pod, reason } => format!("  deleted pod {pod}: {reason}"),
        Event::PodEvicted { pod, revision } => format!("  evicted {pod} (revision {})", short(revision)),
        Event::EvictionRefused { pod, reason, budgets } => match budgets.as_slice() {
            [] => format!("  waiting: eviction of {pod} refused: {reason}"),
            budgets => format!(
                "  waiting: eviction of {pod} refused: {}",
                budgets.iter().map(crate::core::objects::Budget::describe).collect::<Vec<_>>().join("; ")
            ),
        },
        Event::AbortPlanned { revision, rollback_partition, partition, restore_template } => {
            let back = if rollback_partition == partition {
                format!("partition {partition}")
            } else {
                format!("partition {rollback_partition} while pods roll back, then {partition} again")
            };
            let template = if *restore_template {
                format!("restore the pod template of revision {revision}")
            } else {
                format!("the pod template is revision {revision}'s already")
            };
            format!("abort: {template}, with {back}; pods on other revisions roll back")
        }
        Event::PodRolledBack { pod, revision, ready: true } => {
            format!("  {pod} rolled back to revision {}", short(revision))
        }
        Event::PodRolledBack { pod, revision, ready: false } => {
            format!(
                "  {pod} rolled back to revision {} (not Ready, nor was it when the rollout started)",
                short(revision)
            )
        }
        Event::Aborted { revision, partition, seconds, not_ready } => {
            format!(
                "{name} rolled back to revision {} (partition {partition}) in {seconds:.1}s{}",
                short(revision),
                not_ready_note(not_ready)
            )
        }
        Event::Finished { revision, steps, seconds } => format!(
            "{name} rolled out to revision {} in {seconds:.1}s ({steps} step{})",
            short_or(revision),
            if *steps == 1 { "" } else { "s" }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::names::OrdinalRange;
    use crate::core::rollout::plan::{Steps, plan};

    fn noon() -> Timestamp {
        Timestamp::from_second(1_700_000_000).unwrap()
    }

    fn plan_event() -> Event {
        Event::Plan {
            from_revision: Some("web-7d4b9c".into()),
            to_revision: None,
            replicas: 4,
            partition: 0,
            replace: Replace::Controller,
            staged_partition: Some(4),
            steps: plan(OrdinalRange { start: 0, replicas: 4 }, &Steps::default().0, 4),
            pods_at_once: 1,
            gates: Gates::default(),
        }
    }

    fn events() -> Vec<Event> {
        vec![
            plan_event(),
            Event::Staged { revision: Some("web-5f6a8e".into()), partition: 4 },
            Event::StepStarted { step: 1, steps: 3, partition: 3, ordinals: vec![3] },
            Event::PodUpdated { pod: "web-3".into(), revision: Some("web-5f6a8e".into()) },
            Event::PodReady { pod: "web-3".into() },
            Event::GateFailed {
                step: 1,
                gate: "pg_isready".into(),
                gate_kind: GateKind::Exec,
                pod: Some("web-3".into()),
                attempt: 1,
                output: "exit 1: no response".into(),
            },
            Event::GatePassed {
                step: 1,
                gate: "pg_isready".into(),
                gate_kind: GateKind::Exec,
                pod: Some("web-3".into()),
                attempt: 2,
            },
            Event::StepDone { step: 1, steps: 3, partition: 3, seconds: 0.3 },
            Event::Failed {
                step: Some(2),
                partition: 2,
                reasons: vec!["timed out after 5m: web-2 not Ready (Running)".into()],
            },
            Event::PodDeleted { pod: "web-2".into(), reason: "not Ready on revision web-5f6a8e".into() },
            Event::Aborted { revision: "web-7d4b9c".into(), partition: 0, seconds: 12.5, not_ready: vec![] },
        ]
    }

    /// A plan whose last step releases 30 pods: its UPDATES cell is wider than any terminal.
    #[test]
    fn the_plan_at_80_and_120_columns() {
        let Event::Plan { steps, .. } = plan_event() else { unreachable!() };
        assert!(!steps.is_empty());
        let big = Event::Plan {
            from_revision: Some("web-7d4b9c".into()),
            to_revision: Some("web-5f6a8e".into()),
            replicas: 40,
            partition: 40,
            replace: Replace::Controller,
            staged_partition: None,
            steps: plan(OrdinalRange { start: 0, replicas: 40 }, &Steps::default().0, 40),
            pods_at_once: 1,
            gates: Gates::default(),
        };
        for width in [80, 120] {
            let mut out = Vec::new();
            write_plan(&mut out, "web", &big, Canvas { color: false, width: Some(width) }).unwrap();
            let shown = String::from_utf8(out).unwrap();
            assert!(shown.lines().all(|l| l.chars().count() <= width), "{shown}");
            // Every pod is named, none cut.
            for o in 0..40 {
                assert!(shown.split([' ', ',', '\n']).any(|w| w == format!("web-{o}")), "web-{o}: {shown}");
            }
            insta::assert_snapshot!(format!("plan_at_{width}_columns"), shown);
        }
    }

    fn transcript(format: Format) -> (String, String) {
        let (mut io, out, err) = Streams::captured();
        let term = Terminal { interactive: false, color: false, animate: false, columns: None };
        let mut reporter = Reporter::new(format, "shop", "web", &term, &mut io).with_clock(noon);
        for event in events() {
            reporter.event(event).unwrap();
        }
        (out.text(), err.text())
    }

    #[test]
    fn text_transcript() {
        let (out, err) = transcript(Format::Text);
        insta::assert_snapshot!("text_stdout", out);
        insta::assert_snapshot!("text_stderr", err);
    }

    /// An OnDelete rollout and its abort, as people read them: evictions, no partition.
    #[test]
    fn eviction_transcript() {
        use crate::core::rollout::order::{eviction_plan, replacement_order};
        let order = replacement_order(OrdinalRange { start: 0, replicas: 3 }, None);
        let events = vec![
            Event::Plan {
                from_revision: Some("etcd-6dc967".into()),
                to_revision: None,
                replicas: 3,
                partition: 3,
                replace: Replace::Eviction,
                staged_partition: Some(3),
                steps: eviction_plan(&order, &Steps::default().0, &[]),
                pods_at_once: 1,
                gates: Gates::default(),
            },
            Event::Staged { revision: Some("etcd-5f6a8e".into()), partition: 3 },
            Event::StepStarted { step: 1, steps: 3, partition: 2, ordinals: vec![2] },
            Event::EvictionRefused {
                pod: "etcd-2".into(),
                reason:
                    "Cannot evict pod as it would violate the pod's disruption budget: The disruption budget \
                         etcd needs 3 healthy pods and has 3 currently"
                        .into(),
                budgets: vec![crate::core::objects::Budget {
                    name: "etcd".into(),
                    disruptions_allowed: 0,
                    current_healthy: 3,
                    desired_healthy: 3,
                }],
            },
            Event::PodEvicted { pod: "etcd-2".into(), revision: "etcd-6dc967".into() },
            Event::PodUpdated { pod: "etcd-2".into(), revision: Some("etcd-5f6a8e".into()) },
            Event::PodReady { pod: "etcd-2".into() },
            Event::StepDone { step: 1, steps: 3, partition: 2, seconds: 4.2 },
            Event::Stopped { partition: 2, reason: "stopped with 1 of 3 pods on the update revision".into() },
            Event::AbortPlanned {
                revision: "etcd-6dc967".into(),
                rollback_partition: 0,
                partition: 0,
                restore_template: true,
            },
            Event::PodEvicted { pod: "etcd-2".into(), revision: "etcd-5f6a8e".into() },
            Event::PodRolledBack { pod: "etcd-2".into(), revision: "etcd-6dc967".into(), ready: true },
            Event::Aborted { revision: "etcd-6dc967".into(), partition: 0, seconds: 3.1, not_ready: vec![] },
        ];
        let (mut io, out, err) = Streams::captured();
        let term = Terminal { interactive: false, color: false, animate: false, columns: None };
        let mut reporter = Reporter::new(Format::Text, "db", "etcd", &term, &mut io).with_clock(noon);
        for event in events {
            reporter.event(event).unwrap();
        }
        insta::assert_snapshot!("eviction_stdout", out.text());
        insta::assert_snapshot!("eviction_stderr", err.text());
    }

    #[test]
    fn json_events_one_per_line_on_stdout() {
        let (out, err) = transcript(Format::Json);
        assert_eq!(err, "", "progress goes nowhere near the data");
        assert!(out.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
        // One `kind` per line, the envelope's: serde_json would silently keep the last of two.
        assert!(out.lines().all(|l| l.matches("\"kind\"").count() == 1), "{out}");
        insta::assert_snapshot!("json_events", out);
    }
}
