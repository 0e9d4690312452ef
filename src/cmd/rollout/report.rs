//! What a rollout tells its watcher: a plan and a summary on stdout, progress on stderr, or
//! with `-o json` one event per line on stdout for CI (schema in docs/rollout.md).

use std::collections::HashSet;
use std::io::Write;

use indicatif::ProgressBar;
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use crate::core::rollout::{PodProgress, Step};
use crate::core::status::SCHEMA_VERSION;
use crate::error::Result;
use crate::output::{table, write_json_line, write_table};
use crate::ui::Terminal;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Plan and summary on stdout, progress on stderr
    #[default]
    Text,
    /// One JSON event per line on stdout (NDJSON)
    Json,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Event {
    #[serde(rename_all = "camelCase")]
    Plan {
        from_revision: Option<String>,
        /// `None` when the new revision is staged by this run (its name is known once staged).
        to_revision: Option<String>,
        replicas: i32,
        partition: i32,
        /// The partition staging raises it to before the first step, when this run stages.
        staged_partition: Option<i32>,
        steps: Vec<Step>,
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
    #[serde(rename_all = "camelCase")]
    Aborted { revision: String, partition: i32, seconds: f64 },
    #[serde(rename_all = "camelCase")]
    Finished { revision: Option<String>, steps: usize, seconds: f64 },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    kind: &'static str,
    schema_version: &'static str,
    time: Timestamp,
    namespace: &'a str,
    stateful_set: &'a str,
    #[serde(flatten)]
    event: &'a Event,
}

pub struct Reporter {
    format: Format,
    namespace: String,
    name: String,
    bar: ProgressBar,
    /// (pod, revision) pairs already announced as updated, and as Ready: each is said once.
    announced_updated: HashSet<(String, String)>,
    announced_ready: HashSet<(String, String)>,
    stdout_closed: bool,
}

impl Reporter {
    pub fn new(format: Format, namespace: &str, name: &str, term: &Terminal) -> Reporter {
        let bar = if format == Format::Text { term.spinner() } else { ProgressBar::hidden() };
        Reporter {
            format,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            bar,
            announced_updated: HashSet::new(),
            announced_ready: HashSet::new(),
            stdout_closed: false,
        }
    }

    /// Records an event: a JSON line, or for people a line on stderr (the plan and the final
    /// summary go to stdout, being the command's result).
    pub fn event(&mut self, event: Event) -> Result<()> {
        if self.format == Format::Json {
            let (namespace, name) = (self.namespace.clone(), self.name.clone());
            let envelope = Envelope {
                kind: "RolloutEvent",
                schema_version: SCHEMA_VERSION,
                time: Timestamp::now(),
                namespace: &namespace,
                stateful_set: &name,
                event: &event,
            };
            return self.write_stdout(|out| write_json_line(out, &envelope));
        }
        match &event {
            Event::Plan { .. } => {
                let (bar, name) = (self.bar.clone(), self.name.clone());
                bar.suspend(|| self.write_stdout(|out| write_plan(out, &name, &event)))
            }
            Event::Finished { .. } | Event::Aborted { .. } => {
                self.bar.finish_and_clear();
                let line = describe(&self.name, &event);
                self.write_stdout(|out| writeln!(out, "{line}").map_err(Into::into))
            }
            _ => {
                self.bar.suspend(|| eprintln!("{}", describe(&self.name, &event)));
                Ok(())
            }
        }
    }

    /// Writes to stdout unless its reader went away. A rollout does not stop halfway because
    /// nobody reads its events any more: it goes on, and its exit code says how it ended.
    fn write_stdout(
        &mut self,
        write: impl FnOnce(&mut std::io::StdoutLock<'static>) -> Result<()>,
    ) -> Result<()> {
        if self.stdout_closed {
            return Ok(());
        }
        match write(&mut std::io::stdout().lock()) {
            Err(e) if e.is_broken_pipe() => {
                self.stdout_closed = true;
                Ok(())
            }
            other => other,
        }
    }

    /// Marks pods already on `revision` (and Ready) before this run as announced.
    pub fn already_updated(
        &mut self,
        pods: &[(i32, &k8s_openapi::api::core::v1::Pod)],
        revision: Option<&str>,
    ) {
        use crate::core::objects::{pod_ready, pod_revision};
        for (_, pod) in pods.iter().filter(|(_, p)| revision.is_some() && pod_revision(p) == revision) {
            let key = (kube::ResourceExt::name_any(*pod), revision.unwrap_or_default().to_owned());
            if pod_ready(pod) {
                self.announced_ready.insert(key.clone());
            }
            self.announced_updated.insert(key);
        }
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
        for event in events {
            self.event(event)?;
        }
        let updated = pods.iter().filter(|p| p.updated).count();
        let ready = pods.iter().filter(|p| p.updated && p.ready).count();
        let states: Vec<String> = pods.iter().map(|p| format!("{} {}", p.name, p.state)).collect();
        self.bar.set_prefix(prefix.to_owned());
        self.bar.set_message(format!(
            "{updated}/{n} updated, {ready}/{n} ready: {}",
            states.join(", "),
            n = pods.len()
        ));
        Ok(())
    }

    /// Hides the spinner while a prompt is on screen.
    pub fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        self.bar.suspend(f)
    }

    pub fn clear(&self) {
        self.bar.finish_and_clear();
    }
}

fn write_plan(w: &mut impl Write, name: &str, plan: &Event) -> Result<()> {
    let Event::Plan { from_revision, to_revision, replicas, partition, staged_partition, steps } = plan
    else {
        return Ok(());
    };
    let short =
        |r: &Option<String>| r.as_deref().map(|r| crate::core::objects::short_revision(name, r).to_owned());
    writeln!(
        w,
        "Rollout of {name}: revision {} -> {}, {replicas} replicas, partition now {partition}",
        short(from_revision).unwrap_or_else(|| "?".into()),
        short(to_revision).unwrap_or_else(|| "(staged next)".into()),
    )?;
    let mut t = table(["STEP", "PARTITION", "UPDATES", "UPDATED AFTER"]);
    let mut previous = *partition;
    if let Some(staged) = staged_partition.filter(|s| *s != previous) {
        // Without a new revision to name, this run stages no template: it only holds pods back.
        let (what, updated) = match to_revision {
            None => ("none (template staged)", format!("0/{replicas}")),
            Some(_) => ("none (holds every pod back)", "-".to_owned()),
        };
        t.add_row(["stage".to_owned(), format!("{previous} -> {staged}"), what.to_owned(), updated]);
        previous = staged;
    }
    for step in steps {
        let pods: Vec<String> =
            step.ordinals.iter().map(|o| crate::core::names::pod_name(name, *o)).collect();
        t.add_row([
            format!("{}/{}", step.number, steps.last().map_or(0, |s| s.number)),
            format!("{previous} -> {}", step.partition),
            pods.join(", "),
            format!("{}/{replicas}", step.updated),
        ]);
        previous = step.partition;
    }
    write_table(w, t)
}

fn describe(name: &str, event: &Event) -> String {
    let short = |r: &str| crate::core::objects::short_revision(name, r).to_owned();
    match event {
        Event::Plan { .. } => String::new(),
        Event::Staged { revision, partition } => format!(
            "staged revision {} with partition {partition}: no further pod moves before the first step",
            revision.as_deref().map_or_else(|| "?".to_owned(), short)
        ),
        Event::StepStarted { step, steps, partition, ordinals } => {
            let pods: Vec<String> = ordinals.iter().map(|o| crate::core::names::pod_name(name, *o)).collect();
            format!("step {step}/{steps}: partition -> {partition}, updating {}", pods.join(", "))
        }
        Event::PodUpdated { pod, revision } => {
            format!("  {pod} runs revision {}", revision.as_deref().map_or_else(|| "?".to_owned(), short))
        }
        Event::PodReady { pod } => format!("  {pod} is Ready"),
        Event::StepDone { step, steps, seconds, .. } => format!("step {step}/{steps} done in {seconds:.1}s"),
        Event::Stopped { reason, .. } => reason.clone(),
        Event::Failed { reasons, .. } => format!("FAILED: {}", reasons.join("; ")),
        Event::PodDeleted { pod, reason } => format!("  deleted pod {pod}: {reason}"),
        Event::Aborted { revision, partition, seconds } => {
            format!(
                "{name} rolled back to revision {} (partition {partition}) in {seconds:.1}s",
                short(revision)
            )
        }
        Event::Finished { revision, steps, seconds } => format!(
            "{name} rolled out to revision {} in {seconds:.1}s ({steps} step{})",
            revision.as_deref().map_or_else(|| "?".to_owned(), short),
            if *steps == 1 { "" } else { "s" }
        ),
    }
}
