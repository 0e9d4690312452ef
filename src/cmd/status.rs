//! `kubectl stateful status [NAME]`: the ordinal → pod → node → PVC → PV → DNS map of one
//! StatefulSet, or one line per StatefulSet of a namespace (or all of them).

use std::io::{self, Write};

use comfy_table::{Cell, Color};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde::Serialize;

use crate::client::{Kube, KubeArgs};
use crate::core::advice::{RunFlags, shell_word};
use crate::core::facts::max_unavailable_matters;
use crate::core::fleet::{self, ContextResult, FleetSummary};
use crate::core::jsonpath::Template;
use crate::core::narrow;
use crate::core::objects::{age, current_revision, selector, short_revision, update_revision};
use crate::core::owners::{Manager, Owners};
use crate::core::prune::describe_range;
use crate::core::resize::quantity;
use crate::core::status::dns::{PortSelector, dns_names};
use crate::core::status::quorum::Level;
use crate::core::status::snapshots::{DeletedClaimSnapshots, Snapshots};
use crate::core::status::{
    self, ClaimStatus, Health, OrdinalStatus, RevisionRole, StatefulSetStatus, StatusOptions, WarningCode,
};
use crate::error::{Error, Result, Stop};
use crate::fetch::{self, Extras, Scope};
use crate::live::{self, Live};
use crate::output::{
    Canvas, Document, FLEET_STATUS, OutputFormat, STATUS, STATUS_LIST, Streams, cell, or_dash, rendered,
    table, write_document, write_fitted_table, write_table,
};
use crate::ui::Terminal;

mod view;

pub const LONG_ABOUT: &str = "\
Show a StatefulSet ordinal by ordinal: each pod with its readiness, revision, node and stable DNS
name, and each PVC from its volumeClaimTemplates with phase, capacity, StorageClass and PV. PVCs
left behind by a scale-down and misconfigurations are flagged, each with what to do.

Without NAME, one line per StatefulSet in the namespace (or all namespaces with -A).

-o dns prints only the stable DNS names of the live ordinals, one a line, in ordinal order
(with :PORT for --port), to build the peer list of clustered software. It refuses, with exit 1,
when the names would not resolve: no governing Service, or one that is not headless or does not
select the pods.";

pub const EXAMPLES: &str = "\
Examples:
  kubectl stateful status web
  kubectl stateful status web -o wide
  kubectl stateful status web -o json | jq '.ordinals[] | select(.pod.ready | not)'
  kubectl stateful status -A
  kubectl stateful status -A --context staging --context prod-eu -o json
  kubectl stateful status -A --all-contexts
  kubectl stateful status web --watch
  kubectl stateful status mongodb -o dns --port mongodb | paste -sd, -";

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The StatefulSet; without it, every StatefulSet in the namespace
    #[arg(value_parser = crate::parse::object_name)]
    pub name: Option<String>,

    /// List StatefulSets in all namespaces
    #[arg(short = 'A', long, conflicts_with = "name")]
    pub all_namespaces: bool,

    /// Output format; `name` and `jsonpath=TEMPLATE` as kubectl's (`{.name}`, `{.items[*].name}`;
    /// no `{range}`)
    #[arg(short, long, value_parser = OutputFormat::for_status(), default_value = "table", requires_if("dns", "name"))]
    pub output: OutputFormat,

    /// Cluster domain used in the pods' DNS names
    #[arg(long, default_value = "cluster.local", value_name = "DOMAIN")]
    pub cluster_domain: String,

    /// With -o dns, append :PORT to each name: a port number, or the name of a port of the
    /// governing Service (the port it reaches on the pods)
    #[arg(long, value_name = "NAME|NUMBER", value_parser = crate::parse::port)]
    pub port: Option<PortSelector>,

    /// Only the StatefulSets with these labels (without NAME), as kubectl's -l (`app=web`,
    /// `tier in (db,cache)`, `!canary`): the API server evaluates it
    #[arg(short = 'l', long, conflicts_with = "name", value_name = "SELECTOR")]
    pub selector: Option<String>,

    /// With -A, every context of the kubeconfig, as with --context repeated: one list with a
    /// CONTEXT column, a summary, and a context that cannot be read as an error row
    #[arg(long, requires = "all_namespaces")]
    pub all_contexts: bool,

    /// Keep watching and redraw on every change (needs NAME)
    #[arg(short, long, requires = "name", conflicts_with = "all_namespaces")]
    pub watch: bool,
}

impl Args {
    /// The combinations clap cannot express (it has no conflict on a value), refused before
    /// any request: usage errors, worded as clap words its own.
    fn check(&self) -> Result<()> {
        let dns = self.output == OutputFormat::Dns;
        // Without NAME clap says NAME is required; with -A (which conflicts with NAME) it does not.
        if dns && self.all_namespaces {
            return Err(Stop::FlagConflict { flag: "--output dns", other: "--all-namespaces" }.into());
        }
        if dns && self.watch {
            return Err(Stop::FlagConflict { flag: "--output dns", other: "--watch" }.into());
        }
        let kubectl_shape = matches!(self.output, OutputFormat::Name | OutputFormat::Jsonpath(_));
        if kubectl_shape && self.watch {
            return Err(Stop::FlagConflict { flag: "--output name|jsonpath", other: "--watch" }.into());
        }
        if kubectl_shape && self.all_contexts {
            return Err(Stop::FlagConflict { flag: "--output name|jsonpath", other: "--all-contexts" }.into());
        }
        if self.port.is_some() && !dns {
            return Err(Stop::FlagRequires { flag: "--port <NAME|NUMBER>", requires: "--output dns" }.into());
        }
        Ok(())
    }
}

/// Everything `status` reads for one StatefulSet.
const EXTRAS: Extras = Extras {
    volumes: true,
    nodes: true,
    services: true,
    autoscalers: false,
    facts: true,
    events: true,
    namespaces: true,
    storage_classes: true,
    volume_snapshots: true,
    budgets: true,
    swaps: true,
};

pub async fn run(args: Args, kube_args: &KubeArgs, term: &Terminal, io: &mut Streams) -> Result<()> {
    args.check()?;
    if args.all_namespaces
        && kube_args.context.len() > 1
        && matches!(args.output, OutputFormat::Name | OutputFormat::Jsonpath(_))
    {
        return Err(Stop::FlagConflict { flag: "--output name|jsonpath", other: "several --context" }.into());
    }
    if args.all_namespaces && (args.all_contexts || kube_args.context.len() > 1) {
        return fleet(&args, kube_args, term, io).await;
    }
    let kube = kube_args.connect().await?;
    let options =
        |now| StatusOptions { cluster_domain: args.cluster_domain.clone(), now, flags: kube.flags.clone() };
    let Some(name) = &args.name else {
        let scope = Scope::from_flags(args.all_namespaces, &kube);
        let snapshot = fetch::reads_in(&kube, &scope, EXTRAS).await?;
        let now = Timestamp::now();
        let mut statuses = status::build_all(&snapshot, &options(now));
        // The whole namespace is read all the same: other sets' claims and pods matter to each.
        if let Some(selector) = &args.selector {
            let selected = fetch::selected(&kube, &scope, selector).await?;
            statuses.retain(|s| selected.contains(&(s.namespace.clone(), s.name.clone())));
        }
        if statuses.is_empty() && !args.output.is_machine() {
            io.say(format_args!(
                "No StatefulSets found{}{}.",
                match &scope {
                    Scope::Namespace(ns) => format!(" in namespace {ns}"),
                    Scope::All => String::new(),
                },
                match &args.selector {
                    Some(selector) => format!(" matching -l {}", shell_word(selector)),
                    None => String::new(),
                }
            ));
            return Ok(());
        }
        return rendered(render_list(
            &mut io.out,
            &statuses,
            args.output,
            args.all_namespaces,
            term.canvas(),
            now,
        ));
    };
    let sts = match fetch::statefulset(&kube, &kube.namespace, name).await {
        Ok(sts) => sts,
        // Its object is gone mid-swap: the map as its journal records it, with the way out.
        Err(Error::Stopped(stop)) if matches!(*stop, Stop::MidResize(_)) && !args.watch => {
            let scope = Scope::Namespace(kube.namespace.clone());
            let snapshot = fetch::reads_in(&kube, &scope, EXTRAS).await?;
            let now = Timestamp::now();
            let statuses = status::build_all(&snapshot, &options(now));
            let Some(model) = statuses.into_iter().find(|s| s.name == *name) else {
                return Err(Error::Stopped(stop));
            };
            if args.output == OutputFormat::Dns {
                return print_dns(&model, args.port.as_ref(), io);
            }
            note_degraded(&model, args.output, io);
            return rendered(render(&mut io.out, &model, args.output, term.canvas(), &kube.flags, now));
        }
        Err(error) => return Err(error),
    };
    if args.watch {
        // The request log of -v 6 is written on stderr as it comes: it would land in a
        // full-screen view's raw alternate screen, so with it the watch keeps its stream.
        let on_screen = !args.output.is_machine() && !kube_args.logs_requests() && crate::screen::available();
        return watch(&kube, sts, &args, on_screen, term, io).await;
    }
    let snapshot = fetch::reads_of(&kube, sts, EXTRAS).await?;
    let now = Timestamp::now();
    let model = status::build(&snapshot.statefulsets[0], &snapshot, &options(now));
    if args.output == OutputFormat::Dns {
        return print_dns(&model, args.port.as_ref(), io);
    }
    note_degraded(&model, args.output, io);
    rendered(render(&mut io.out, &model, args.output, term.canvas(), &kube.flags, now))
}

/// `status -A` in several contexts: each queried on its own ([`crate::fleet::each_with_cluster`]), one list
/// and a summary; a context that could not be read is an error row (entry), and makes the exit
/// code 1 after everything else is written.
async fn fleet(args: &Args, kube_args: &KubeArgs, term: &Terminal, io: &mut Streams) -> Result<()> {
    let contexts = crate::fleet::contexts(kube_args, args.all_contexts)?;
    let cluster_domain = &args.cluster_domain;
    let selector = args.selector.as_deref();
    let mut outcomes = crate::fleet::each_with_cluster(kube_args, &contexts, |kube| async move {
        let snapshot = fetch::reads_in(&kube, &Scope::All, EXTRAS).await?;
        let options = StatusOptions {
            cluster_domain: cluster_domain.clone(),
            now: Timestamp::now(),
            flags: kube.flags.clone(),
        };
        let mut statuses = status::build_all(&snapshot, &options);
        if let Some(selector) = selector {
            let selected = fetch::selected(&kube, &Scope::All, selector).await?;
            statuses.retain(|s| selected.contains(&(s.namespace.clone(), s.name.clone())));
        }
        Ok(statuses)
    })
    .await;
    // A -l no API server can parse is the run's mistake (exit 2), not one context's failure.
    if let Some(error) = crate::fleet::usage_error(&mut outcomes) {
        return Err(error);
    }
    let results: Vec<ContextResult> = outcomes
        .into_iter()
        .map(|o| ContextResult { context: o.context, outcome: o.result, cluster: o.cluster })
        .collect();
    let summary = fleet::summarize(&results);
    rendered(render_fleet(&mut io.out, &results, &summary, args.output, term.canvas(), Timestamp::now()))?;
    crate::fleet::failures(summary.per_context.iter().map(|c| (c.context.as_str(), c.error.as_deref())))
}

/// One StatefulSet of a fleet list, with the context it came from.
#[derive(Serialize)]
struct FleetItem<'a> {
    context: &'a str,
    #[serde(flatten)]
    status: Document<'a, StatefulSetStatus>,
}

/// A context that could not be read, in a fleet list.
#[derive(Serialize)]
struct FleetError<'a> {
    context: &'a str,
    error: &'a str,
}

#[derive(Serialize)]
struct FleetList<'a> {
    items: Vec<FleetItem<'a>>,
    errors: Vec<FleetError<'a>>,
    summary: &'a FleetSummary,
}

/// The fleet list: a `FleetStatus` document (json, yaml), or the `-A` table with a CONTEXT
/// column, an error row per context that could not be read, a row per context that reaches a
/// cluster another context already listed (counted once), the notes that say which, and the
/// summary line.
pub fn render_fleet(
    w: &mut dyn Write,
    results: &[ContextResult],
    summary: &FleetSummary,
    format: OutputFormat,
    canvas: Canvas,
    now: Timestamp,
) -> io::Result<()> {
    let counted_as = fleet::counted_as(results);
    let list = FleetList {
        items: results
            .iter()
            .zip(&counted_as)
            .filter(|(_, same)| same.is_none())
            .filter_map(|(r, _)| Some((r.context.as_str(), r.outcome.as_ref().ok()?)))
            .flat_map(|(context, statuses)| {
                statuses.iter().map(move |s| FleetItem { context, status: Document::new(STATUS, s) })
            })
            .collect(),
        errors: results
            .iter()
            .filter_map(|r| Some(FleetError { context: &r.context, error: r.outcome.as_ref().err()? }))
            .collect(),
        summary,
    };
    if write_document(w, format, FLEET_STATUS, &list)? {
        return Ok(());
    }
    let mut headers = LIST_HEADERS.to_vec();
    headers.splice(0..0, ["CONTEXT", "NAMESPACE"]);
    let mut t = table(headers);
    if canvas.color {
        t.enforce_styling();
    }
    for (result, same) in results.iter().zip(&counted_as) {
        match &result.outcome {
            Ok(_) if same.is_some() => {
                let mut row = vec!["-".to_owned(); LIST_HEADERS.len() + 2];
                row[0].clone_from(&result.context);
                row[2] = format!("(same cluster as {})", same.as_deref().unwrap_or_default());
                t.add_row(row.into_iter().map(cell).collect::<Vec<_>>());
            }
            Ok(statuses) => {
                for s in statuses {
                    let mut row = list_cells(s, canvas.color, now);
                    row.splice(0..0, [cell(&result.context), cell(&s.namespace)]);
                    t.add_row(row);
                }
            }
            // The reason goes below the table: a long message would widen the NAME column.
            Err(_) => {
                let mut row = vec!["-".to_owned(); LIST_HEADERS.len() + 2];
                row[0].clone_from(&result.context);
                row[2] = "(not read)".to_owned();
                t.add_row(row.into_iter().map(cell).collect::<Vec<_>>());
            }
        }
    }
    write_fitted_table(w, t, canvas)?;
    // The lines under the table wrap to a terminal's width.
    for error in &list.errors {
        canvas.write_wrapped(w, &format!("context {}: ", error.context), "  ", error.error)?;
    }
    for same in &summary.same_cluster {
        let line = format!(
            "contexts {} reach the same cluster ({}): counted once, as {}",
            join_and(&same.contexts),
            same.identity,
            same.counted
        );
        canvas.write_wrapped(w, "", "  ", &line)?;
    }
    let clusters = match summary.clusters + summary.failed == summary.contexts {
        true => String::new(),
        false => format!(", {} cluster{}", summary.clusters, if summary.clusters == 1 { "" } else { "s" }),
    };
    let health = match summary.health.describe() {
        counts if counts.is_empty() => String::new(),
        counts => format!(" ({counts})"),
    };
    let line = format!(
        "{} context{} ({} could not be read{clusters}), {} StatefulSets{health}, {} stuck rollout{}, {} at quorum risk, {} orphaned claim{} ({})",
        summary.contexts,
        if summary.contexts == 1 { "" } else { "s" },
        summary.failed,
        summary.statefulsets,
        summary.stuck_rollouts,
        if summary.stuck_rollouts == 1 { "" } else { "s" },
        summary.quorum_risks,
        summary.orphaned_claims,
        if summary.orphaned_claims == 1 { "" } else { "s" },
        crate::core::prune::human_bytes(summary.orphaned_bytes as f64),
    );
    canvas.write_wrapped(w, "", "  ", &line)
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `-o dns`: the names on stdout, then what a person building a peer list must know on stderr.
fn print_dns(model: &StatefulSetStatus, port: Option<&PortSelector>, io: &mut Streams) -> Result<()> {
    render_dns(&mut io.out, model, port)?;
    warn_dns(model, io);
    Ok(())
}

/// With `-o dns`, what a person building a peer list must know, on stderr (stdout holds names
/// only): that there are none, or that some will not resolve yet (the bootstrap trap).
fn warn_dns(model: &StatefulSetStatus, io: &mut Streams) {
    if model.replicas.desired == 0 {
        io.note(format_args!("{} is scaled to 0: no live ordinals, no names", model.name));
    }
    for warning in model.warnings.iter().filter(|w| w.code == WarningCode::NotReadyPodsUnresolvable) {
        io.warn(format_args!("{:?}: {}", warning.code, warning.message));
    }
}

/// `-o dns`: the names [`dns_names`] gives for the model (one per live ordinal, with `:PORT`),
/// one a line and nothing else, so `| paste -sd, -` joins them.
///
/// # Errors
///
/// [`crate::error::Error::Refused`] ([`DnsRefusal`](crate::core::status::dns::DnsRefusal)) when the names would not resolve or the port is unknown, before anything is
/// written; [`Error::Output`] when stdout fails.
pub fn render_dns(w: &mut dyn Write, model: &StatefulSetStatus, port: Option<&PortSelector>) -> Result<()> {
    rendered(write_names(w, &dns_names(model, port)?))
}

fn write_names(w: &mut dyn Write, names: &[String]) -> io::Result<()> {
    names.iter().try_for_each(|name| writeln!(w, "{name}"))
}

/// In table output, what could not be read is said once on stderr (JSON carries it as `notes`).
fn note_degraded(model: &StatefulSetStatus, format: OutputFormat, io: &mut Streams) {
    if !format.is_machine() {
        for note in &model.notes {
            io.note(note);
        }
    }
}

/// `--watch`: the full-screen view when `on_screen` (a terminal people read), else the stream
/// (a pipe, -o json, the request log of -v 6).
async fn watch(
    kube: &Kube,
    sts: k8s_openapi::api::apps::v1::StatefulSet,
    args: &Args,
    on_screen: bool,
    term: &Terminal,
    io: &mut Streams,
) -> Result<()> {
    let mut watched = Watched::start(kube, &sts, args).await?;
    let name = sts.name_any();
    if on_screen {
        return watch_on_screen(watched, &name, args.output == OutputFormat::Wide, term, io).await;
    }
    let redraw = term.color && !args.output.is_machine();
    let mut last: Option<StatefulSetStatus> = None;
    let mut on_screen: Option<OnScreen> = None;
    loop {
        let Some((model, now)) = watched.model().await? else {
            io.say(format_args!("StatefulSet {}/{} was deleted", kube.namespace, name));
            return Ok(());
        };
        if last.is_none() {
            note_degraded(&model, args.output, io);
        }
        // Redraw only when the model changed: the watches also fire for changes it does not show.
        if last.as_ref() != Some(&model) {
            let size = console::Term::stdout().size_checked();
            // After a resize the terminal has reflowed what it shows, and after a while it may
            // have scrolled: draw the frame whole.
            let previous = on_screen
                .as_ref()
                .filter(|o| o.size == size && o.whole_at.elapsed() < WHOLE_FRAME_EVERY)
                .map(|o| o.frame.as_str());
            let whole_at = match (&on_screen, previous) {
                (Some(o), Some(_)) => o.whole_at,
                _ => std::time::Instant::now(),
            };
            let screen = redraw.then_some(Screen { previous, size });
            let frame = rendered(draw_frame(
                &mut io.out,
                &model,
                args.output,
                screen,
                last.is_some(),
                Pen { canvas: term.canvas(), flags: &kube.flags },
                now,
            ))?;
            on_screen = redraw.then_some(OnScreen { frame, size, whole_at });
            last = Some(model);
        }
        let wake = last.as_ref().map_or(UNWATCHED_EVERY, wake_after);
        tokio::select! {
            changed = watched.live.settled(FRAME_SETTLE) => changed?,
            () = tokio::time::sleep(wake) => {}
            () = crate::signal::interrupted() => return Ok(()),
        }
    }
}

/// `--watch` on a terminal: the full-screen view ([`view`]) until `q`, Esc or Ctrl-C (exit 0),
/// a signal (exit 130), or the StatefulSet's deletion. The terminal is restored on every way
/// out, errors and panics included ([`crate::screen::Screen`]).
async fn watch_on_screen(
    mut watched: Watched<'_>,
    name: &str,
    wide: bool,
    term: &Terminal,
    io: &mut Streams,
) -> Result<()> {
    let namespace = watched.kube.namespace.clone();
    let deleted = |io: &mut Streams| io.say(format_args!("StatefulSet {namespace}/{name} was deleted"));
    let Some((mut model, mut now)) = watched.model().await? else {
        deleted(io);
        return Ok(());
    };
    let mut state = view::ViewState { wide, ..view::ViewState::new(now) };
    // What the warnings pane names when it has no room for them all.
    let whole = watched.kube.flags.plugin(&namespace, &format!("status {}", shell_word(name)));
    let mut screen = crate::screen::Screen::enter().map_err(crate::output::output_error)?;
    loop {
        screen
            .draw(|frame| view::draw(frame, &model, &state, term.color, now, &whole))
            .map_err(crate::output::output_error)?;
        let wake = wake_after(&model);
        tokio::select! {
            changed = watched.live.settled(FRAME_SETTLE) => changed?,
            () = tokio::time::sleep(wake) => {}
            event = screen.next_event() => match event {
                Some(Ok(crossterm::event::Event::Key(key))) => {
                    if view::on_key(&mut state, key) == view::Key::Quit {
                        return Ok(());
                    }
                }
                Some(Ok(crossterm::event::Event::Resize(..))) => {
                    screen.resized().map_err(crate::output::output_error)?;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(crate::output::output_error(e)),
                // The terminal's input is gone (its window closed): nobody is watching.
                None => return Ok(()),
            },
            () = crate::signal::interrupted() => {
                return Err(Error::interrupted("the watch stopped; it changes nothing", None));
            }
        }
        // Whatever woke the view, it shows the cluster as it is now: a change taken in while a
        // key was read is not left for the next one.
        match watched.model().await? {
            Some((next, at)) => {
                if next != model {
                    state.last_event = at;
                    model = next;
                }
                now = at;
            }
            None => {
                drop(screen);
                deleted(io);
                return Ok(());
            }
        }
    }
}

/// How long `--watch` may sleep with no change: time alone changes the model when a pod becomes
/// available (minReadySeconds), and what is not watched is read again: whichever comes first.
fn wake_after(model: &StatefulSetStatus) -> std::time::Duration {
    let now = Timestamp::now();
    let available = model
        .ordinals
        .iter()
        .filter_map(|o| o.pod.as_ref())
        .filter(|p| p.ready && !p.available)
        .filter_map(|p| p.available_at)
        .map(|at| std::time::Duration::from_secs((at.as_second() - now.as_second()).max(0) as u64 + 1))
        .min();
    available.map_or(UNWATCHED_EVERY, |a| a.min(UNWATCHED_EVERY))
}

/// What `--watch` keeps between frames: the watches, and what it reads now and then instead of
/// watching (the server's facts, StorageClasses, Events, budgets, other pods).
struct Watched<'a> {
    kube: &'a Kube,
    cluster_domain: String,
    scope: Scope,
    live: Live,
    /// The server's facts are read again only when what they answer changes: the revisions
    /// compared, or whether maxUnavailable matters.
    facts_key: Option<(Option<String>, Option<String>, bool)>,
    facts:
        (Option<crate::core::facts::Honoured>, Option<Vec<k8s_openapi::api::apps::v1::ControllerRevision>>),
    classes: Option<Option<Vec<k8s_openapi::api::storage::v1::StorageClass>>>,
    unwatched: Option<Unwatched>,
}

impl<'a> Watched<'a> {
    async fn start(
        kube: &'a Kube,
        sts: &k8s_openapi::api::apps::v1::StatefulSet,
        args: &Args,
    ) -> Result<Watched<'a>> {
        // Watch the cluster-scoped kinds only if this user may read them at all.
        let extras = Extras { volumes: true, nodes: true, ..Extras::default() };
        let probe = fetch::reads_of(kube, sts.clone(), extras).await?;
        let kinds = live::Kinds {
            claims: true,
            service: true,
            nodes: probe.nodes.is_some(),
            volumes: probe.volumes.is_some(),
            ..live::Kinds::default()
        };
        Ok(Watched {
            kube,
            cluster_domain: args.cluster_domain.clone(),
            scope: Scope::Namespace(kube.namespace.clone()),
            live: Live::start(kube, sts, kinds).await?,
            facts_key: None,
            facts: (None, None),
            classes: None,
            unwatched: None,
        })
    }

    /// The status now, with the time it was built; `None` once the StatefulSet is deleted.
    async fn model(&mut self) -> Result<Option<(StatefulSetStatus, Timestamp)>> {
        let kube = self.kube;
        let scope = &self.scope;
        let Some(mut snapshot) = self.live.reads() else { return Ok(None) };
        // The controller's Warning events and the namespace's other pods are not watched (a
        // watch of every pod of a busy namespace would wake on changes nothing here shows): read
        // again at most every UNWATCHED_EVERY, the pods only while a live ordinal has no pod of
        // the set (a pod the selector does not match may hold its name).
        let unheld = narrow::unheld(&snapshot.statefulsets[0], &snapshot.pods);
        if self.unwatched.as_ref().is_none_or(|u| u.at.elapsed() >= UNWATCHED_EVERY || u.unheld != unheld) {
            let name = snapshot.statefulsets[0].name_any();
            let events = fetch::optional_events(&kube.client, scope, Some(&name), true).await?;
            let budgets = fetch::optional_budgets(&kube.client, scope, true).await?;
            let pods = if unheld { fetch::list::<Pod>(&kube.client, scope, None).await? } else { Vec::new() };
            self.unwatched = Some(Unwatched { at: std::time::Instant::now(), unheld, events, budgets, pods });
        }
        if let Some(u) = &self.unwatched {
            snapshot.events.clone_from(&u.events);
            snapshot.budgets.clone_from(&u.budgets);
            let others: Vec<Pod> = u
                .pods
                .iter()
                .filter(|p| !snapshot.pods.iter().any(|q| q.uid() == p.uid()))
                .cloned()
                .collect();
            snapshot.pods.extend(others);
        }
        let sts = &snapshot.statefulsets[0];
        let key = (
            current_revision(sts).map(str::to_owned),
            update_revision(sts).map(str::to_owned),
            max_unavailable_matters(sts),
        );
        if self.facts_key.as_ref() != Some(&key) {
            self.facts =
                fetch::server_facts(kube, scope, std::slice::from_ref(sts), selector(sts).as_ref()).await?;
            self.facts_key = Some(key);
        }
        (snapshot.max_unavailable, snapshot.revisions) = self.facts.clone();
        // StorageClasses change rarely and are not watched: read once, when a claim smaller
        // than its template (or resizing) first makes them matter.
        if self.classes.is_none() && status::wants_storage_classes(&snapshot) {
            self.classes = Some(fetch::storage_classes_for(&kube.client, &snapshot, true).await?);
        }
        snapshot.storage_classes = self.classes.clone().flatten();
        let now = Timestamp::now();
        let options =
            StatusOptions { cluster_domain: self.cluster_domain.clone(), now, flags: kube.flags.clone() };
        Ok(Some((status::build(&snapshot.statefulsets[0], &snapshot, &options), now)))
    }
}

/// How often `--watch` reads again what it does not watch: the StatefulSet's Warning events, the
/// namespace's PodDisruptionBudgets, and while a live ordinal has no pod of the set, the
/// namespace's other pods.
const UNWATCHED_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// What `--watch` last read of what it does not watch, and when.
struct Unwatched {
    at: std::time::Instant,
    /// Whether a live ordinal had no pod of the set then (the other pods were read).
    unheld: bool,
    events: Option<Vec<k8s_openapi::api::core::v1::Event>>,
    budgets: Option<Vec<k8s_openapi::api::policy::v1::PodDisruptionBudget>>,
    pods: Vec<Pod>,
}

/// Who applies the StatefulSet, then the managers of the fields this tool writes:
/// `Argo CD application shop; template argocd-controller, partition kubectl-stateful, …`.
fn owner_line(owners: &Owners) -> String {
    let names = |managers: &[Manager]| -> String {
        let mut names: Vec<&str> = managers.iter().map(|m| m.manager.as_str()).collect();
        names.dedup();
        if names.is_empty() { "-".to_owned() } else { names.join("+") }
    };
    let applier = owners.applier.as_ref().map_or_else(
        || "no GitOps or Helm labels".to_owned(),
        |a| {
            format!(
                "{}{}{}",
                a.describe(),
                if a.paused { " (reconciliation disabled on this object)" } else { "" },
                // Each sync resets every field Git does not set: say so where the owners are.
                if a.replace_sync.is_some() { " (syncs with Replace=true: owns every field)" } else { "" }
            )
        },
    );
    let mut fields = vec![format!("template {}", names(&owners.template))];
    for image in &owners.images {
        if image.managers != owners.template {
            fields.push(format!("image {} {}", image.container, names(&image.managers)));
        }
    }
    fields.push(format!("partition {}", names(&owners.partition)));
    // The update strategy only where a tool that sets it back owns it (rollout --evict switches
    // it): elsewhere it is nobody's concern.
    if owners.strategy.iter().any(|m| m.tool.reverts()) {
        fields.push(format!("updateStrategy {}", names(&owners.strategy)));
    }
    fields.push(format!("replicas {}", names(&owners.replicas)));
    format!("{applier}; {}", fields.join(", "))
}

/// How long `--watch` keeps taking in changes after one arrives before it draws: a rollout
/// replacing pods or nodes reporting in then cost one frame, not one per event (at most ten
/// frames a second).
const FRAME_SETTLE: std::time::Duration = std::time::Duration::from_millis(100);

/// How often `--watch` draws a frame whole on a terminal even when only some lines changed:
/// output scrolled under the view (Enter pressed, another program writing) moves what is on
/// the screen, which line-by-line repaints by position cannot see.
const WHOLE_FRAME_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// What `--watch` last drew on a terminal: the frame, the terminal's size (rows, columns) then,
/// and when a frame was last drawn whole.
struct OnScreen {
    frame: String,
    size: Option<(u16, u16)>,
    whole_at: std::time::Instant,
}

/// The terminal `--watch` draws on: the frame now on it, and its size (rows, columns) when
/// known.
struct Screen<'a> {
    previous: Option<&'a str>,
    size: Option<(u16, u16)>,
}

/// How a table frame is drawn: in colour or not, its commands with the run's connection flags.
#[derive(Clone, Copy, Default)]
struct Pen<'a> {
    canvas: Canvas,
    flags: &'a RunFlags,
}

/// One frame of `--watch`, returned as drawn: on a terminal (`screen`) one live view instead of
/// scrollback, where only the lines that changed are rewritten when both frames fit the screen
/// ([`crate::ui::repaint`]), else the screen is cleared and the frame written whole; otherwise
/// frames follow each other (NDJSON, YAML documents, tables apart).
fn draw_frame(
    out: &mut dyn Write,
    model: &StatefulSetStatus,
    format: OutputFormat,
    screen: Option<Screen>,
    not_first: bool,
    pen: Pen,
    now: Timestamp,
) -> io::Result<String> {
    let mut frame = Vec::new();
    match format {
        OutputFormat::Json => crate::output::write_json_line(&mut frame, &Document::new(STATUS, model))?,
        OutputFormat::Yaml => {
            writeln!(frame, "---")?;
            crate::output::write_yaml(&mut frame, &Document::new(STATUS, model))?;
        }
        _ => render(&mut frame, model, format, pen.canvas, pen.flags, now)?,
    }
    let frame = String::from_utf8_lossy(&frame).into_owned();
    if let Some(screen) = screen {
        let repainted = match (screen.previous, screen.size) {
            (Some(previous), Some((rows, columns))) => {
                crate::ui::repaint(previous, &frame, usize::from(rows), usize::from(columns))
            }
            _ => None,
        };
        match repainted {
            Some(changes) => out.write_all(changes.as_bytes())?,
            None => write!(out, "{ClearScreen}{frame}")?,
        }
    } else {
        if not_first && !format.is_machine() {
            writeln!(out)?;
        }
        out.write_all(frame.as_bytes())?;
    }
    out.flush()?;
    Ok(frame)
}

/// Clears the terminal and homes the cursor, as `console::Term::clear_screen` does, but into
/// the stream we were given.
struct ClearScreen;

impl std::fmt::Display for ClearScreen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\x1b[H\x1b[2J")
    }
}

/// One StatefulSet's status as `format` asks; the commands the tables print (a prune, a
/// restore) carry the run's connection `flags`.
pub fn render(
    w: &mut dyn Write,
    model: &StatefulSetStatus,
    format: OutputFormat,
    canvas: Canvas,
    flags: &RunFlags,
    now: Timestamp,
) -> io::Result<()> {
    if write_document(w, format, STATUS, model)? {
        return Ok(());
    }
    if write_kubectl_shape(w, format, std::slice::from_ref(model), &Document::new(STATUS, model))? {
        return Ok(());
    }
    if format == OutputFormat::Dns {
        // `run` renders `-o dns` with its --port through `render_dns`; this is the same lines
        // without a port, the refusal as the error's source.
        return write_names(w, &dns_names(model, None).map_err(io::Error::other)?);
    }
    let wide = format == OutputFormat::Wide;
    // `-o wide` asks for every column whole: nothing is cut there, only the header wrapped.
    let fit = if wide { Canvas { width: None, ..canvas } } else { canvas };
    write_header(w, model, wide, canvas, now)?;
    writeln!(w)?;
    write_ordinals(w, model, wide, fit, now)?;
    if !model.orphaned_pvcs.is_empty() {
        writeln!(w)?;
        write_orphans(w, model, wide, flags, fit, now)?;
    }
    if !model.kept_pvcs.is_empty() {
        writeln!(w)?;
        write_kept(w, model, wide, fit, now)?;
    }
    if model.deleted_claim_snapshots.as_ref().is_some_and(|d| wide && !d.is_empty()) {
        writeln!(w)?;
        write_deleted_claim_snapshots(w, model, flags, now)?;
    }
    if !model.warnings.is_empty() {
        writeln!(w)?;
        writeln!(w, "Warnings:")?;
        let messages: Vec<(String, &str)> =
            model.warnings.iter().map(|w| (format!("{:?}", w.code), w.message.as_str())).collect();
        for (lead, text) in grouped_warnings(&messages) {
            let mut lines = Vec::new();
            canvas.write_wrapped(&mut lines, &lead, "    ", &text)?;
            write!(
                w,
                "{}",
                console::style(String::from_utf8_lossy(&lines)).yellow().force_styling(canvas.color)
            )?;
        }
    }
    write_audit(w, model, canvas)
}

/// The text renderer's warning lines, each a lead (`  Code: `) and its text, grouped by code in
/// the order the codes first come: one line per code. Several warnings of one code that end in
/// the same remedy (after `: ` or `; `) share one line, `Code ×N: ` with what differs between
/// them (the affected objects), `; `-separated, then the remedy once; without a shared remedy,
/// a `Code ×N:` line with each warning on a line of its own under it. A warning repeated word
/// for word is said once. JSON keeps every warning as it is.
pub fn grouped_warnings(warnings: &[(String, &str)]) -> Vec<(String, String)> {
    let mut codes: Vec<(&str, Vec<&str>)> = Vec::new();
    for (code, message) in warnings {
        match codes.iter_mut().find(|(c, _)| c == code) {
            Some((_, messages)) if messages.contains(message) => {}
            Some((_, messages)) => messages.push(message),
            None => codes.push((code, vec![message])),
        }
    }
    let mut lines = Vec::new();
    for (code, messages) in codes {
        if let [message] = messages[..] {
            lines.push((format!("  {code}: "), message.to_owned()));
            continue;
        }
        let count = messages.len();
        match shared_remedy(&messages) {
            Some(at) => {
                let own: Vec<&str> =
                    messages.iter().map(|m| m[..m.len() - at].trim_end_matches([':', ';', ' '])).collect();
                let remedy = &messages[0][messages[0].len() - at..];
                lines.push((format!("  {code} ×{count}: "), format!("{}: {remedy}", own.join("; "))));
            }
            None => {
                lines.push((format!("  {code} ×{count}:"), String::new()));
                lines.extend(messages.iter().map(|m| ("    ".to_owned(), (*m).to_owned())));
            }
        }
    }
    lines
}

/// The length of the longest tail every message ends with that starts after a `: ` or `; ` in
/// each of them (a remedy they share), when at least one word long.
fn shared_remedy(messages: &[&str]) -> Option<usize> {
    let first = messages[0];
    let boundaries =
        first.match_indices(": ").chain(first.match_indices("; ")).map(|(at, sep)| at + sep.len());
    boundaries
        .map(|start| &first[start..])
        .filter(|tail| tail.contains(' '))
        .filter(|tail| {
            messages.iter().all(|m| {
                m.len() > tail.len()
                    && m.ends_with(tail)
                    && [": ", "; "].iter().any(|sep| m[..m.len() - tail.len()].ends_with(sep))
            })
        })
        .map(str::len)
        .max()
}

/// The quorum and topology findings, after the warnings: each with its level, a risk in
/// yellow like a warning, the others plain.
fn write_audit(w: &mut dyn Write, model: &StatefulSetStatus, canvas: Canvas) -> io::Result<()> {
    let Some(quorum) = model.quorum.as_ref().filter(|q| !q.findings.is_empty()) else { return Ok(()) };
    writeln!(w)?;
    writeln!(w, "Quorum and topology:")?;
    for finding in &quorum.findings {
        let level = match finding.level {
            Level::Risk => "risk",
            Level::Blocks => "blocks",
            Level::Notice => "notice",
        };
        let mut lines = Vec::new();
        canvas.write_wrapped(
            &mut lines,
            &format!("  {:?} ({level}): ", finding.code),
            "    ",
            &finding.message,
        )?;
        let lines = String::from_utf8_lossy(&lines);
        match finding.level {
            Level::Risk => write!(w, "{}", console::style(lines).yellow().force_styling(canvas.color))?,
            _ => write!(w, "{lines}")?,
        }
    }
    Ok(())
}

fn write_header(
    w: &mut dyn Write,
    m: &StatefulSetStatus,
    wide: bool,
    canvas: Canvas,
    now: Timestamp,
) -> io::Result<()> {
    let r = &m.replicas;
    let mut rows: Vec<(&str, String)> = vec![("StatefulSet", format!("{}/{}", m.namespace, m.name))];
    if let Some(deletion) = &m.deletion {
        let held = if deletion.finalizers.is_empty() {
            String::new()
        } else {
            format!(" (finalizers {})", deletion.finalizers.join(", "))
        };
        let what = if deletion.kind == "Namespace" {
            format!("namespace {}", deletion.name)
        } else {
            "yes".to_owned()
        };
        rows.push(("Being deleted", format!("{what}, for {}{held}", age(deletion.since, now))));
    }
    rows.extend([(
        "Replicas",
        format!(
            "{} desired | {} ready | {} available | {} updated",
            r.desired, r.ready, r.available, r.updated
        ),
    )]);
    if m.ordinals_start != 0 {
        rows.push((
            "Ordinals",
            format!("start {} (live {})", m.ordinals_start, describe_range(status::live_range(m))),
        ));
    }
    rows.push(("Pod policy", m.pod_management_policy.clone()));
    let mut strategy = m.update_strategy.kind.clone();
    if let Some(partition) = m.update_strategy.partition {
        strategy.push_str(&format!(", partition {partition}"));
    }
    let honoured = match m.update_strategy.max_unavailable_honoured {
        Some(true) => " (honoured)",
        Some(false) => " (ignored by this server)",
        None => "",
    };
    if let Some(max) = &m.update_strategy.max_unavailable {
        strategy.push_str(&format!(", maxUnavailable {max}{honoured}"));
    } else if let Some(requested) = &m.update_strategy.max_unavailable_requested {
        strategy.push_str(&format!(", maxUnavailable {requested} applied but dropped by the server"));
    }
    rows.push(("Update", strategy));
    rows.push(("Owner", owner_line(&m.owners)));
    let revision = |rc: &Option<status::RevisionCount>| {
        rc.as_ref().map_or("-".to_owned(), |rc| {
            let plural = if rc.pods == 1 { "" } else { "s" };
            format!("{} ({} pod{plural})", short_revision(&m.name, &rc.name), rc.pods)
        })
    };
    rows.push((
        "Revisions",
        format!(
            "current {}, update {}{}",
            revision(&m.revisions.current),
            revision(&m.revisions.update),
            if m.revisions.same_template == Some(true) { " (the same pod template)" } else { "" }
        ),
    ));
    rows.push(("MinReadySeconds", m.min_ready_seconds.to_string()));
    rows.push((
        "PVC retention",
        format!(
            "whenDeleted {}, whenScaled {}",
            m.pvc_retention_policy.when_deleted, m.pvc_retention_policy.when_scaled
        ),
    ));
    let svc = &m.service;
    let service = match (&svc.name, svc.exists) {
        (None, _) => "none (spec.serviceName is empty)".to_owned(),
        (Some(name), false) => format!("{name} (missing)"),
        (Some(name), true) => {
            let headless = if svc.headless == Some(true) { "headless" } else { "NOT headless" };
            let selects =
                if svc.selects_pods == Some(true) { "selects the pods" } else { "does NOT select the pods" };
            format!("{name} ({headless}, {selects})")
        }
    };
    rows.push(("Service", service));
    // From when the pods' names resolve; only said when they resolve at all (the Service row
    // and its warnings say why not).
    if svc.exists && svc.headless == Some(true) && svc.selects_pods == Some(true) {
        let when = match svc.publish_not_ready_addresses {
            Some(true) => "names resolve before pods are Ready (publishNotReadyAddresses: true)",
            _ => "names resolve once pods are Ready (publishNotReadyAddresses: false)",
        };
        // The table leaves the DNS column to `-o wide`: the names differ only by ordinal, so
        // their pattern is said once here.
        let pattern = (!wide).then(|| dns_pattern(m)).flatten();
        rows.push(("Pod DNS", pattern.map_or_else(|| when.to_owned(), |p| format!("{p}; {when}"))));
    }
    rows.extend(images_line(m).map(|images| ("Images", images)));
    let templates: Vec<&str> =
        m.ordinals.first().map(|o| o.pvcs.iter().map(|c| c.template.as_str()).collect()).unwrap_or_default();
    let of_templates = match templates.as_slice() {
        [] => String::new(),
        [one] => format!(" (template {one})"),
        many => format!(" (templates {})", many.join(", ")),
    };
    rows.push(("PVCs", format!("{}/{} Bound{of_templates}", r.pvcs_bound, r.pvcs_expected)));
    if let Some(quorum) = &m.quorum {
        rows.push(("Quorum", quorum.summary()));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 2;
    for (key, value) in rows {
        canvas.write_field(w, key, &value, width)?;
    }
    Ok(())
}

/// `web-{0..2}.web.shop.svc.cluster.local`: the live pods' DNS names, said once; `None` when
/// no live ordinal has one.
fn dns_pattern(m: &StatefulSetStatus) -> Option<String> {
    let (pod, dns) = m
        .ordinals
        .iter()
        .filter(|o| o.live)
        .find_map(|o| Some((format!("{}-{}", m.name, o.ordinal), o.dns.as_deref()?)))?;
    let domain = dns.strip_prefix(&pod)?;
    let range = status::live_range(m);
    let ordinals = if range.replicas == 1 {
        range.start.to_string()
    } else {
        format!("{{{}..{}}}", range.start, range.end() - 1)
    };
    Some(format!("{}-{ordinals}{domain}", m.name))
}

/// The images the pods run, each with the pods that run it, in ordinal order:
/// `nginx:1.25 (web-0, web-1), nginx:1.26 (web-2)`; with several containers each image is
/// named by its container (`app=nginx:1.25 log=fluent-bit:3`). `None` without pods.
fn images_line(m: &StatefulSetStatus) -> Option<String> {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for pod in m.ordinals.iter().filter_map(|o| o.pod.as_ref()).filter(|p| !p.images.is_empty()) {
        let images = match pod.images.as_slice() {
            [one] => one.image.clone(),
            many => many.iter().map(|c| format!("{}={}", c.container, c.image)).collect::<Vec<_>>().join(" "),
        };
        match groups.iter_mut().find(|(i, _)| *i == images) {
            Some((_, pods)) => pods.push(&pod.name),
            None => groups.push((images, vec![&pod.name])),
        }
    }
    match groups.as_slice() {
        [] => None,
        [(images, _)] => Some(format!("{images} (every pod)")),
        _ => Some(
            groups
                .iter()
                .map(|(images, pods)| format!("{images} ({})", pods.join(", ")))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    }
}

fn write_ordinals(
    w: &mut dyn Write,
    m: &StatefulSetStatus,
    wide: bool,
    canvas: Canvas,
    now: Timestamp,
) -> io::Result<()> {
    let color = canvas.color;
    let templates: Vec<String> = m
        .ordinals
        .first()
        .map(|o| o.pvcs.iter().map(|c| c.template.to_uppercase()).collect())
        .unwrap_or_default();
    let mut headers = vec!["ORDINAL", "POD", "READY", "STATUS", "RESTARTS", "REVISION", "NODE"];
    if wide {
        headers.extend(["IP", "AGE", "IMAGES", "DNS"]);
    }
    // Only where the cluster has a VolumeSnapshot API that could be read.
    let snapshots = wide && m.ordinals.iter().any(|o| o.snapshots.is_some());
    let mut t = table(
        headers
            .into_iter()
            .map(String::from)
            // `-o wide` says PVC DATA; the table the template alone, for width (the PVCs
            // header row names the templates).
            .chain(templates.iter().map(|t| if wide { format!("PVC {t}") } else { t.clone() }))
            .chain(snapshots.then(|| "SNAPSHOTS".to_owned())),
    );
    if color {
        t.enforce_styling();
    }
    for o in &m.ordinals {
        let mut row: Vec<Cell> = vec![cell(ordinal_label(o))];
        match &o.pod {
            Some(p) => {
                let ready = cell(ready_label(p, now));
                row.extend([
                    cell(&p.name),
                    if p.ready { ready } else { ready.fg(Color::Red) },
                    cell(&p.status),
                    cell(p.restarts),
                    cell(revision_label(m, o, wide)),
                    cell(node_label(p.node.as_deref(), p.node_ready, p.node_exists)),
                ]);
                if wide {
                    let images: Vec<String> =
                        p.images.iter().map(|c| format!("{}={}", c.container, c.image)).collect();
                    row.extend([
                        cell(or_dash(p.ip.as_deref())),
                        cell(age(p.created_at, now)),
                        cell(or_dash(Some(images.join(",")))),
                    ]);
                }
            }
            None => {
                let missing = cell("missing");
                row.extend([
                    if color { missing.fg(Color::Red) } else { missing },
                    cell("-"),
                    cell("-"),
                    cell("-"),
                    cell("-"),
                    cell("-"),
                ]);
                if wide {
                    row.extend([cell("-"), cell("-"), cell("-")]);
                }
            }
        }
        if wide {
            row.push(cell(or_dash(o.dns.as_deref())));
        }
        row.extend(o.pvcs.iter().map(|c| cell(claim_label(c, wide))));
        if snapshots {
            row.push(cell(snapshots_label(o.snapshots.as_ref(), now)));
        }
        t.add_row(row);
    }
    write_fitted_table(w, t, canvas)
}

fn ordinal_label(o: &OrdinalStatus) -> String {
    if o.live { o.ordinal.to_string() } else { format!("{} (scaling away)", o.ordinal) }
}

/// The pod's revision and its role; "held by partition" is said whole in `-o wide` and as
/// "held" in the table, whose header says the partition.
fn revision_label(m: &StatefulSetStatus, o: &OrdinalStatus, wide: bool) -> String {
    let Some(pod) = &o.pod else { return "-".to_owned() };
    let Some(revision) = &pod.revision else { return "-".to_owned() };
    let role = match pod.revision_role {
        Some(RevisionRole::Update)
            if m.revisions.update.as_ref().map(|u| &u.name)
                == m.revisions.current.as_ref().map(|c| &c.name) =>
        {
            ""
        }
        Some(RevisionRole::Update) => " (update)",
        Some(RevisionRole::Current) if o.held_back && wide => " (current, held by partition)",
        Some(RevisionRole::Current) if o.held_back => " (current, held)",
        Some(RevisionRole::Current) => " (current)",
        Some(RevisionRole::Other) if o.held_back && wide => " (old, held by partition)",
        Some(RevisionRole::Other) if o.held_back => " (old, held)",
        Some(RevisionRole::Other) | None => " (old)",
    };
    format!("{}{role}", short_revision(&m.name, revision))
}

/// `yes`, `no`, or `yes (available in 18s)` for a pod Ready but not yet available under
/// minReadySeconds: the controller does not count it until then.
fn ready_label(pod: &status::PodStatus, now: Timestamp) -> String {
    match (pod.ready, pod.available, pod.available_at) {
        (false, _, _) => "no".to_owned(),
        (true, false, Some(at)) => {
            format!("yes (available in {}s)", (at.as_second() - now.as_second()).max(0))
        }
        (true, _, _) => "yes".to_owned(),
    }
}

fn node_label(node: Option<&str>, ready: Option<bool>, exists: Option<bool>) -> String {
    match (node, ready, exists) {
        (None, _, _) => "-".to_owned(),
        (Some(n), _, Some(false)) => format!("{n} (deleted)"),
        (Some(n), Some(false), _) => format!("{n} (NotReady)"),
        (Some(n), _, _) => n.to_owned(),
    }
}

/// `-o wide`: the claim's name, phase, capacity, class, volume, reclaim policy and access
/// modes. The table: its capacity (and phase unless Bound), since its name is always
/// `<template>-<set>-<ordinal>`.
fn claim_label(c: &ClaimStatus, wide: bool) -> String {
    let Some(phase) = &c.phase else {
        return if wide { format!("{} missing", c.name) } else { "missing".to_owned() };
    };
    if !wide {
        let capacity = short_capacity_label(c);
        return if phase == "Bound" { capacity } else { format!("{phase} {capacity}") };
    }
    let mut parts = vec![c.name.clone(), phase.clone(), capacity_label(c)];
    {
        parts.extend([
            or_dash(c.storage_class.as_deref()),
            or_dash(c.volume.as_deref()),
            or_dash(c.reclaim_policy.as_deref()),
            access_modes(&c.access_modes),
        ]);
    }
    parts.join(" ")
}

/// The capacity, then what differs from it: the request while an expansion is asked for, the
/// template's size when the claim is smaller, and the resizer's condition (or, without one,
/// its allocatedResourceStatus): `1Gi (requests 2Gi, Resizing)`.
fn capacity_label(c: &ClaimStatus) -> String {
    let capacity = or_dash(c.capacity.as_deref());
    let mut notes = Vec::new();
    // Only a request above the capacity: one below it is a volume provisioned bigger than asked.
    let bytes = |q: Option<&str>| q.and_then(quantity);
    if let Some(request) = c.request.as_deref().filter(|r| bytes(Some(r)) > bytes(c.capacity.as_deref())) {
        notes.push(format!("requests {request}"));
    }
    if c.smaller_than_template
        && let Some(template) =
            c.template_request.as_deref().filter(|t| bytes(Some(t)) > bytes(c.request.as_deref()))
    {
        notes.push(format!("template {template}"));
    }
    if let Some(resize) = &c.resize {
        notes.extend(resize.condition.clone().or_else(|| resize.allocated_resource_status.clone()));
    }
    if notes.is_empty() { capacity } else { format!("{capacity} ({})", notes.join(", ")) }
}

/// [`capacity_label`] for the table: `1Gi->2Gi Resizing` for a claim asked to grow, the
/// template's size as `1Gi (template 2Gi)`, the resizer's condition as is.
fn short_capacity_label(c: &ClaimStatus) -> String {
    let capacity = or_dash(c.capacity.as_deref());
    let bytes = |q: Option<&str>| q.and_then(quantity);
    let mut label = match c.request.as_deref().filter(|r| bytes(Some(r)) > bytes(c.capacity.as_deref())) {
        Some(request) => format!("{capacity}->{request}"),
        None => capacity,
    };
    if c.smaller_than_template
        && let Some(template) =
            c.template_request.as_deref().filter(|t| bytes(Some(t)) > bytes(c.request.as_deref()))
    {
        label.push_str(&format!(" (template {template})"));
    }
    if let Some(resize) = &c.resize
        && let Some(condition) = resize.condition.clone().or_else(|| resize.allocated_resource_status.clone())
    {
        label.push_str(&format!(" {condition}"));
    }
    label
}

/// kubectl's short access modes: RWO, ROX, RWX, RWOP.
fn access_modes(modes: &[String]) -> String {
    let short: Vec<&str> = modes
        .iter()
        .map(|m| match m.as_str() {
            "ReadWriteOnce" => "RWO",
            "ReadOnlyMany" => "ROX",
            "ReadWriteMany" => "RWX",
            "ReadWriteOncePod" => "RWOP",
            other => other,
        })
        .collect();
    if short.is_empty() { "-".to_owned() } else { short.join(",") }
}

/// `2 (newest 3m, ready)`: how many snapshots, and the newest one's age and readiness; `-`
/// when they could not be read.
fn snapshots_label(s: Option<&Snapshots>, now: Timestamp) -> String {
    match s {
        None => "-".to_owned(),
        Some(Snapshots { count, newest: Some(newest), .. }) => format!(
            "{count} (newest {}, {})",
            age(newest.created_at, now),
            if newest.ready_to_use { "ready" } else { "not ready" }
        ),
        Some(s) => s.count.to_string(),
    }
}

/// `-o wide` only: the snapshots of claims that are gone, which no other table shows.
fn write_deleted_claim_snapshots(
    w: &mut dyn Write,
    m: &StatefulSetStatus,
    flags: &RunFlags,
    now: Timestamp,
) -> io::Result<()> {
    let deleted = m.deleted_claim_snapshots.as_deref().unwrap_or_default();
    writeln!(w, "Snapshots of deleted PVCs:")?;
    let mut t = table(["ORDINAL", "TEMPLATE", "PVC", "SNAPSHOTS", "NEWEST"]);
    for d in deleted {
        t.add_row([
            d.ordinal.to_string(),
            d.template.clone(),
            d.claim.clone(),
            snapshots_label(Some(&d.snapshots), now),
            d.snapshots.newest.as_ref().map_or_else(|| "-".to_owned(), |n| n.name.clone()),
        ]);
    }
    write_table(w, t)?;
    let restores: Vec<String> = deleted.iter().filter_map(|d| restore_newest(m, d, flags)).collect();
    if !restores.is_empty() {
        writeln!(w, "To bring the newest back into its ordinal (for its next scale-up to adopt):")?;
        for restore in restores {
            writeln!(w, "  {restore}")?;
        }
    }
    Ok(())
}

/// `kubectl stateful pvc restore NAME --ordinal N --from NEWEST --template T -n NS …`: the
/// restore of a deleted claim from its newest snapshot, when it has one.
fn restore_newest(m: &StatefulSetStatus, d: &DeletedClaimSnapshots, flags: &RunFlags) -> Option<String> {
    let newest = d.snapshots.newest.as_ref()?;
    Some(flags.plugin(
        &m.namespace,
        &format!(
            "pvc restore {} --ordinal {} --from {} --template {}",
            shell_word(&m.name),
            d.ordinal,
            shell_word(&newest.name),
            shell_word(&d.template)
        ),
    ))
}

fn write_orphans(
    w: &mut dyn Write,
    m: &StatefulSetStatus,
    wide: bool,
    flags: &RunFlags,
    canvas: Canvas,
    now: Timestamp,
) -> io::Result<()> {
    let range = describe_range(status::live_range(m));
    canvas.write_wrapped(
        w,
        "",
        "",
        &format!(
            "Orphaned PVCs (ordinals outside {range}): a scale-up re-attaches them with their old data;"
        ),
    )?;
    let prune = flags.plugin(&m.namespace, &format!("pvc prune {}", shell_word(&m.name)));
    canvas.write_wrapped(w, "", "", &format!("`{prune}` removes them safely."))?;
    let snapshots = wide && m.orphaned_pvcs.iter().any(|c| c.snapshots.is_some());
    let mut headers = vec!["ORDINAL", "TEMPLATE", "PVC", "PHASE", "CAPACITY", "PV", "RECLAIM", "AGE"];
    headers.extend(snapshots.then_some("SNAPSHOTS"));
    let mut t = table(headers);
    for c in &m.orphaned_pvcs {
        let mut row = vec![
            c.ordinal.to_string(),
            c.template.clone(),
            c.name.clone(),
            or_dash(c.phase.as_deref()),
            capacity_label(c),
            or_dash(c.volume.as_deref()),
            or_dash(c.reclaim_policy.as_deref()),
            age(c.created_at, now),
        ];
        row.extend(snapshots.then(|| snapshots_label(c.snapshots.as_ref(), now)));
        t.add_row(row.into_iter().map(cell).collect::<Vec<_>>());
    }
    write_fitted_table(w, t, canvas)
}

/// The claims outside the live ordinals that `pvc prune` keeps, with why.
fn write_kept(
    w: &mut dyn Write,
    m: &StatefulSetStatus,
    wide: bool,
    canvas: Canvas,
    now: Timestamp,
) -> io::Result<()> {
    writeln!(w, "PVCs outside the live ordinals that `pvc prune` keeps:")?;
    let snapshots = wide && m.kept_pvcs.iter().any(|k| k.claim.snapshots.is_some());
    let mut headers = vec!["ORDINAL", "TEMPLATE", "PVC", "PHASE", "CAPACITY", "PV", "AGE"];
    headers.extend(snapshots.then_some("SNAPSHOTS"));
    headers.push("KEPT BECAUSE");
    let mut t = table(headers);
    for k in &m.kept_pvcs {
        let c = &k.claim;
        let mut row = vec![
            c.ordinal.to_string(),
            c.template.clone(),
            c.name.clone(),
            or_dash(c.phase.as_deref()),
            capacity_label(c),
            or_dash(c.volume.as_deref()),
            age(c.created_at, now),
        ];
        row.extend(snapshots.then(|| snapshots_label(c.snapshots.as_ref(), now)));
        row.push(k.reason.clone());
        t.add_row(row.into_iter().map(cell).collect::<Vec<_>>());
    }
    write_fitted_table(w, t, canvas)
}

/// The list document: each item is a whole `StatefulSetStatus` document.
#[derive(Serialize)]
struct StatusList<'a> {
    items: Vec<Document<'a, StatefulSetStatus>>,
}

/// `-o name` (`statefulset.apps/NAME` a line, without the namespace even with -A, as kubectl
/// prints it) and `-o jsonpath=TEMPLATE` over `document` (the JSON of `-o json`); false for any
/// other format.
fn write_kubectl_shape(
    w: &mut dyn Write,
    format: OutputFormat,
    statuses: &[StatefulSetStatus],
    document: &impl Serialize,
) -> io::Result<bool> {
    match format {
        OutputFormat::Name => {
            for s in statuses {
                writeln!(w, "statefulset.apps/{}", s.name)?;
            }
            Ok(true)
        }
        OutputFormat::Jsonpath(text) => {
            let template = Template::parse(text).map_err(io::Error::other)?;
            let document = serde_json::to_value(document).map_err(io::Error::other)?;
            write!(w, "{}", template.render(&document))?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

pub fn render_list(
    w: &mut dyn Write,
    statuses: &[StatefulSetStatus],
    format: OutputFormat,
    all_namespaces: bool,
    canvas: Canvas,
    now: Timestamp,
) -> io::Result<()> {
    let list = StatusList { items: statuses.iter().map(|s| Document::new(STATUS, s)).collect() };
    if write_document(w, format, STATUS_LIST, &list)? {
        return Ok(());
    }
    if write_kubectl_shape(w, format, statuses, &Document::new(STATUS_LIST, &list))? {
        return Ok(());
    }
    let mut headers = LIST_HEADERS.to_vec();
    if all_namespaces {
        headers.insert(0, "NAMESPACE");
    }
    let mut t = table(headers);
    if canvas.color {
        t.enforce_styling();
    }
    for s in statuses {
        let mut row = list_cells(s, canvas.color, now);
        if all_namespaces {
            row.insert(0, cell(&s.namespace));
        }
        t.add_row(row);
    }
    write_fitted_table(w, t, canvas)
}

/// [`list_row`] as cells, the HEALTH cell in colour on a terminal: red for stuck and down,
/// yellow for degraded.
fn list_cells(s: &StatefulSetStatus, color: bool, now: Timestamp) -> Vec<Cell> {
    list_row(s, now)
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            let shade = match s.health {
                Health::Stuck | Health::Down => Some(Color::Red),
                Health::Degraded => Some(Color::Yellow),
                Health::Progressing | Health::Healthy => None,
            };
            match shade.filter(|_| color && LIST_HEADERS.get(i) == Some(&"HEALTH")) {
                Some(shade) => cell(text).fg(shade),
                None => cell(text),
            }
        })
        .collect()
}

/// The columns of the list (`status` without NAME).
const LIST_HEADERS: [&str; 11] = [
    "NAME",
    "READY",
    "HEALTH",
    "UPDATED",
    "PARTITION",
    "REVISIONS",
    "SERVICE",
    "PVCS",
    "ORPHANED",
    "QUORUM",
    "AGE",
];

/// One StatefulSet's row of the list, as [`LIST_HEADERS`] name the columns.
fn list_row(s: &StatefulSetStatus, now: Timestamp) -> Vec<String> {
    {
        let revisions: std::collections::BTreeSet<&str> =
            s.ordinals.iter().filter_map(|o| o.pod.as_ref()?.revision.as_deref()).collect();
        let service = match (&s.service.name, s.service.exists) {
            (None, _) => "none",
            (Some(_), false) => "missing",
            _ if s.service.headless != Some(true) => "not headless",
            _ if s.service.selects_pods != Some(true) => "no match",
            _ => "ok",
        };
        vec![
            s.name.clone(),
            format!("{}/{}", s.replicas.ready, s.replicas.desired),
            s.health.word().to_owned(),
            format!("{}/{}", s.replicas.updated, s.replicas.desired),
            s.update_strategy.partition.map_or_else(|| "-".to_owned(), |p| p.to_string()),
            revisions.len().to_string(),
            service.to_owned(),
            format!("{}/{}", s.replicas.pvcs_bound, s.replicas.pvcs_expected),
            s.orphaned_pvcs.len().to_string(),
            quorum_label(s),
            age(s.created_at, now),
        ]
    }
}

/// The QUORUM column: `ok`, the worst finding at risk or blocking in a few words (`no budget`,
/// `one node +1` when there are more), or `-` at 0 replicas.
fn quorum_label(s: &StatefulSetStatus) -> String {
    let Some(quorum) = &s.quorum else { return "-".to_owned() };
    let mut serious = quorum.serious();
    match serious.next() {
        None => "ok".to_owned(),
        Some(first) => match serious.count() {
            0 => first.code.short().to_owned(),
            more => format!("{} +{more}", first.code.short()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::*;
    use crate::core::reads::{Reads, VolumeSnapshots};
    use crate::core::status::dns::DnsRefusal;
    use crate::core::volume_snapshots::VolumeSnapshot;

    /// A StatefulSet mid-canary with a scale-down leftover: every part of the table at once.
    pub(super) fn model() -> StatefulSetStatus {
        let mut web = sts("web", 3)
            .templates(&["data", "logs"])
            .revisions("web-7d4b9c", "web-5f6a8e")
            .partition(2)
            .annotation("argocd.argoproj.io/tracking-id", "shop:apps/StatefulSet:default/web")
            .container_ports(&[("http", 8080)])
            .template_size("1Gi")
            .build();
        // data grew to 2Gi (the claims follow, each at its own pace); logs did not.
        let data = &mut web.spec.as_mut().unwrap().volume_claim_templates.as_mut().unwrap()[0];
        let requests = data.spec.as_mut().unwrap().resources.as_mut().unwrap().requests.as_mut().unwrap();
        requests
            .insert("storage".into(), k8s_openapi::apimachinery::pkg::api::resource::Quantity("2Gi".into()));
        // Argo CD applies the manifest (server-side); this tool moved the partition.
        web.metadata.managed_fields = Some(
            serde_json::from_value(serde_json::json!([
                {"manager": "argocd-controller", "operation": "Apply", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                     "k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}},
                {"manager": "kubectl-stateful", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:spec": {"f:updateStrategy": {"f:rollingUpdate": {"f:partition": {}}}}}}
            ]))
            .unwrap(),
        );
        let pods = vec![
            pod(&web, 0).revision("web-7d4b9c").build(),
            pod(&web, 1).revision("web-7d4b9c").node("node-1").build(),
            pod(&web, 2).revision("web-5f6a8e").image("example.invalid/app:v2").ready(false).build(),
            // Someone reads the old logs of ordinal 3: that claim is in use, not an orphan.
            bare_pod("log-reader").mounting("logs-web-3").build(),
        ];
        let pvcs = ["data", "logs"]
            .iter()
            .flat_map(|t| (0..4).map(move |o| format!("{t}-web-{o}")))
            .map(|n| {
                let claim = pvc(&n).labels(&[("app", "web")]);
                match n.as_str() {
                    "data-web-0" => claim.request("2Gi").resizing(Some("Resizing"), "", Some("ControllerResizeInProgress")),
                    "data-web-1" => claim.request("2Gi").capacity("2Gi"),
                    "data-web-2" => claim.request("2Gi").resizing(
                        Some("FileSystemResizePending"),
                        "Waiting for user to (re-)start a pod to finish file system resize of volume on node.",
                        Some("NodeResizePending"),
                    ),
                    // data-web-3, left by a scale-down before data grew, stays at 1Gi.
                    _ => claim,
                }
                .build()
            })
            .collect::<Vec<_>>();
        // web-2's kubelet says why it is not Ready.
        let unhealthy = crate::core::failures::tests::pod_event(
            pods.iter().find(|p| p.name_any() == "web-2").unwrap(),
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
            12,
            3_690,
        );
        let snapshot = Reads {
            volumes: Some(pvcs.iter().map(|p| pv(&p.name_any(), "Delete")).collect()),
            statefulsets: vec![web.clone()],
            pods,
            pvcs,
            services: vec![governing_service()],
            nodes: Some(vec![node("node-0", "True"), node("node-1", "Unknown")]),
            events: Some(vec![unhealthy]),
            storage_classes: Some(vec![storage_class("standard", true, false)]),
            // A budget keeping 2 of 3 up, at 0 now: web-1's node is down and web-2 not Ready.
            budgets: Some(vec![crate::core::budgets::pdb(
                "web",
                serde_json::json!({"selector": {"matchLabels": {"app": "web"}}, "minAvailable": 2}),
                Some(
                    serde_json::json!({"observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 1,
                                        "desiredHealthy": 2, "expectedPods": 3}),
                ),
            )]),
            // Two snapshots of data-web-0, one of the orphan data-web-3, one (not ready) of
            // data-web-5, a claim already pruned.
            volume_snapshots: VolumeSnapshots::Read(vec![
                volume_snapshot("data-web-0-a", "data-web-0", 600, true),
                volume_snapshot("data-web-0-b", "data-web-0", 3_500, true),
                volume_snapshot("data-web-3-a", "data-web-3", 1_800, true),
                volume_snapshot("data-web-5-a", "data-web-5", 3_640, false),
            ]),
            ..Default::default()
        };
        let now = Timestamp::from_second(created().as_second() + 3_700).unwrap();
        status::build(
            &web,
            &snapshot,
            &StatusOptions { cluster_domain: "cluster.local".into(), now, flags: Default::default() },
        )
    }

    fn volume_snapshot(name: &str, claim: &str, after: i64, ready: bool) -> VolumeSnapshot {
        VolumeSnapshot {
            name: name.into(),
            namespace: "default".into(),
            claim: Some(claim.into()),
            class: Some("kwok-snapclass".into()),
            content: Some(format!("snapcontent-{name}")),
            ready,
            restore_size: Some("1Gi".into()),
            created_at: Some(Timestamp::from_second(created().as_second() + after).unwrap()),
            error: None,
            labels: Default::default(),
            deleting: false,
        }
    }

    /// Headless, with one port that the pods serve on another number (a headless Service
    /// forwards nothing, so clients of the pods' names connect to 8080).
    fn governing_service() -> k8s_openapi::api::core::v1::Service {
        use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
        let mut svc = service("web");
        svc.spec.as_mut().unwrap().ports =
            Some(vec![service_port(Some("http"), 80, Some(IntOrString::String("http".into())))]);
        svc
    }

    fn rendered(format: OutputFormat) -> String {
        let mut out = Vec::new();
        let now = Timestamp::from_second(created().as_second() + 3_700).unwrap();
        render(&mut out, &model(), format, Canvas::default(), &RunFlags::default(), now).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn table() {
        insta::assert_snapshot!(rendered(OutputFormat::Table));
    }

    #[test]
    fn a_watch_frame_on_a_terminal_rewrites_only_the_lines_that_changed() {
        let now = Timestamp::from_second(created().as_second() + 3_700).unwrap();
        let screen = |previous| Some(Screen { previous, size: Some((80, 200)) });
        let mut out = Vec::new();
        let first = draw_frame(
            &mut out,
            &model(),
            OutputFormat::Table,
            screen(None),
            false,
            Pen { canvas: Canvas::default(), flags: &RunFlags::default() },
            now,
        )
        .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), format!("{ClearScreen}{first}"));

        let mut restarted = model();
        restarted.ordinals[0].pod.as_mut().unwrap().restarts += 1;
        let mut out = Vec::new();
        let second = draw_frame(
            &mut out,
            &restarted,
            OutputFormat::Table,
            screen(Some(&first)),
            true,
            Pen { canvas: Canvas::default(), flags: &RunFlags::default() },
            now,
        )
        .unwrap();
        let changed: Vec<(usize, &str)> = first
            .lines()
            .zip(second.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(i, (_, b))| (i, b))
            .collect();
        assert_eq!(changed.len(), 1, "one pod's row");
        let (_, line) = changed[0];
        // Written alone (some lines above it wrap on 200 columns, so its row is repaint's to
        // work out), then the cursor goes below the frame.
        let written = String::from_utf8(out).unwrap();
        assert_eq!(written, crate::ui::repaint(&first, &second, 80, 200).unwrap());
        assert!(written.contains(line) && written.ends_with("\x1b[J"), "{written:?}");
        assert!(written.len() < second.len() / 10, "{written:?}");

        // A screen too small for the frame: cleared and drawn whole.
        let mut out = Vec::new();
        let small = Some(Screen { previous: Some(&first), size: Some((5, 200)) });
        draw_frame(&mut out, &restarted, OutputFormat::Table, small, true, Pen::default(), now).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), format!("{ClearScreen}{second}"));
    }

    #[test]
    fn wide() {
        insta::assert_snapshot!(rendered(OutputFormat::Wide));
    }

    #[test]
    fn json() {
        insta::assert_snapshot!(rendered(OutputFormat::Json));
    }

    #[test]
    fn yaml_is_the_same_model() {
        let yaml: serde_json::Value = serde_saphyr::from_str(&rendered(OutputFormat::Yaml)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&rendered(OutputFormat::Json)).unwrap();
        assert_eq!(yaml, json);
    }

    fn rendered_at(format: OutputFormat, width: usize) -> String {
        let mut out = Vec::new();
        let canvas = Canvas { color: false, width: Some(width) };
        render(&mut out, &model(), format, canvas, &RunFlags::default(), created()).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Every line fits `width`, but for one that is a single word too long to break (a command
    /// in backquotes, which must stay pasteable whole).
    fn assert_fits(text: &str, width: usize) {
        for line in text.lines() {
            let longest_command =
                line.split('`').skip(1).step_by(2).map(console::measure_text_width).max().unwrap_or(0);
            assert!(
                console::measure_text_width(line) <= width || longest_command > width / 2,
                "wider than {width}: {line}"
            );
        }
    }

    #[test]
    fn table_at_80_columns() {
        let text = rendered_at(OutputFormat::Table, 80);
        assert_fits(&text, 80);
        insta::assert_snapshot!(text);
    }

    /// Several warnings of one kind: one line each kind, the affected objects listed and a
    /// shared remedy said once; a warning repeated word for word, once.
    fn with_repeated_warnings() -> StatefulSetStatus {
        use crate::core::status::Warning;
        let mut m = model();
        let warning = |code, message: &str| Warning { code, message: message.to_owned() };
        m.warnings = vec![
            warning(
                WarningCode::PodMissing,
                "ordinal 1 has no pod web-1: the controller has not created it yet",
            ),
            warning(
                WarningCode::PodNotReady,
                "pod web-0 is not Ready (Running): check `kubectl describe pod web-0 -n shop`",
            ),
            warning(
                WarningCode::PodMissing,
                "ordinal 2 has no pod web-2: the controller has not created it yet",
            ),
            warning(
                WarningCode::PodNotReady,
                "pod web-3 is not Ready (Running): check `kubectl describe pod web-3 -n shop`",
            ),
            warning(
                WarningCode::PvcPending,
                "PVC data-web-1 is Pending: check its StorageClass and `kubectl describe pvc data-web-1 -n shop`",
            ),
            warning(
                WarningCode::PvcPending,
                "PVC data-web-1 is Pending: check its StorageClass and `kubectl describe pvc data-web-1 -n shop`",
            ),
        ];
        m
    }

    fn warnings_at(width: usize) -> String {
        let mut out = Vec::new();
        let canvas = Canvas { color: false, width: Some(width) };
        let model = with_repeated_warnings();
        render(&mut out, &model, OutputFormat::Table, canvas, &RunFlags::default(), created()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_fits(&text, width);
        text.lines()
            .skip_while(|l| *l != "Warnings:")
            .take_while(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn warnings_grouped_at_80_columns() {
        insta::assert_snapshot!(warnings_at(80));
    }

    #[test]
    fn warnings_grouped_at_120_columns() {
        insta::assert_snapshot!(warnings_at(120));
    }

    #[test]
    fn warnings_stay_whole_in_json() {
        let mut out = Vec::new();
        render(
            &mut out,
            &with_repeated_warnings(),
            OutputFormat::Json,
            Canvas::default(),
            &RunFlags::default(),
            created(),
        )
        .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(json["warnings"].as_array().unwrap().len(), 6);
    }

    #[test]
    fn table_at_120_columns() {
        let text = rendered_at(OutputFormat::Table, 120);
        assert_fits(&text, 120);
        insta::assert_snapshot!(text);
    }

    /// `-o wide` on a terminal keeps every cell whole (only the header and the warnings wrap).
    #[test]
    fn wide_on_a_terminal_cuts_no_cell() {
        let text = rendered_at(OutputFormat::Wide, 80);
        assert!(text.contains("data-web-2 Bound 1Gi (requests 2Gi, FileSystemResizePending)"), "{text}");
        assert!(!text.contains('…'), "{text}");
    }

    #[test]
    fn the_pod_dns_row_says_from_when_names_resolve() {
        let row = |model: &StatefulSetStatus| {
            let mut out = Vec::new();
            render(&mut out, model, OutputFormat::Table, Canvas::default(), &RunFlags::default(), created())
                .unwrap();
            String::from_utf8(out).unwrap().lines().find(|l| l.starts_with("Pod DNS:")).map(str::to_owned)
        };
        let mut published = model();
        published.service.publish_not_ready_addresses = Some(true);
        assert_eq!(
            row(&published).as_deref(),
            Some(
                "Pod DNS:         web-{0..2}.web.default.svc.cluster.local; names resolve before pods are Ready \
                 (publishNotReadyAddresses: true)"
            )
        );
        let mut not_headless = model();
        not_headless.service.headless = Some(false);
        assert_eq!(row(&not_headless), None, "no name resolves: the Service row says why");
    }

    /// `-o dns --port http`: the names alone on stdout (the Service's port `http` reaches 8080
    /// on the pods), the bootstrap trap for web-2 on stderr.
    #[test]
    fn dns() {
        let (mut io, out, err) = Streams::captured();
        print_dns(&model(), Some(&PortSelector::Name("http".into())), &mut io).unwrap();
        insta::assert_snapshot!(out.text());
        insta::assert_snapshot!("dns_stderr", err.text());
    }

    #[test]
    fn dns_refused_writes_nothing() {
        let mut missing = model();
        missing.service.exists = false;
        let (mut io, out, err) = Streams::captured();
        let error = print_dns(&missing, None, &mut io).unwrap_err();
        let crate::error::Error::Refused(refusal) = &error else { panic!("{error:?}") };
        assert!(
            matches!(**refusal, crate::core::refusal::Refusal::Dns(DnsRefusal::ServiceMissing { .. })),
            "{error:?}"
        );
        assert_eq!(error.exit_code(), crate::error::exit::ERROR);
        assert_eq!((out.text(), err.text()), (String::new(), String::new()));
    }

    #[test]
    fn list() {
        let mut out = Vec::new();
        let now = Timestamp::from_second(created().as_second() + 3_700).unwrap();
        render_list(&mut out, &[model()], OutputFormat::Table, true, Canvas::default(), now).unwrap();
        insta::assert_snapshot!(String::from_utf8(out).unwrap());
        for width in [80, 120] {
            let mut out = Vec::new();
            let canvas = Canvas { color: false, width: Some(width) };
            render_list(&mut out, &[model()], OutputFormat::Table, true, canvas, now).unwrap();
            let text = String::from_utf8(out).unwrap();
            // The headers alone need about 99 columns (the 100 asked of a default table): at 80
            // the table is as narrow as they allow, names whole.
            assert_fits(&text, width.max(100));
            insta::assert_snapshot!(format!("list_at_{width}_columns"), text);
        }
    }

    /// Two contexts, one unreachable: the table with its error row and reason, and the same
    /// list as one JSON document.
    #[test]
    fn fleet() {
        let now = Timestamp::from_second(created().as_second() + 3_700).unwrap();
        let prod_eu = Some(fleet::ClusterIdentity::KubeSystemUid("0b5e7a1c".into()));
        let results = vec![
            ContextResult { context: "prod-eu".into(), outcome: Ok(vec![model()]), cluster: prod_eu.clone() },
            ContextResult {
                context: "prod-us".into(),
                outcome: Err("cannot list statefulsets.apps in all namespaces: connection refused".into()),
                cluster: None,
            },
            // The same cluster through another user: listed once.
            ContextResult { context: "prod-eu-admin".into(), outcome: Ok(vec![model()]), cluster: prod_eu },
        ];
        let summary = fleet::summarize(&results);
        let mut out = Vec::new();
        render_fleet(&mut out, &results, &summary, OutputFormat::Table, Canvas::default(), now).unwrap();
        insta::assert_snapshot!("fleet_table", String::from_utf8(out).unwrap());
        for width in [80, 120] {
            let mut out = Vec::new();
            let canvas = Canvas { color: false, width: Some(width) };
            render_fleet(&mut out, &results, &summary, OutputFormat::Table, canvas, now).unwrap();
            let text = String::from_utf8(out).unwrap();
            // The headers alone, with CONTEXT, need about 108 columns: at 80 the table is as
            // narrow as they allow, names whole.
            assert_fits(&text, width.max(110));
            insta::assert_snapshot!(format!("fleet_table_at_{width}_columns"), text);
        }
        let mut out = Vec::new();
        render_fleet(&mut out, &results, &summary, OutputFormat::Json, Canvas::default(), now).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            (json["kind"].as_str(), json["items"][0]["context"].as_str()),
            (Some("FleetStatus"), Some("prod-eu"))
        );
        assert_eq!(json["items"][0]["kind"], "StatefulSetStatus");
        assert_eq!(json["errors"][0]["context"], "prod-us");
        assert_eq!(json["summary"]["failed"], 1);
        assert_eq!(json["items"].as_array().unwrap().len(), 1, "prod-eu-admin's StatefulSets are prod-eu's");
        assert_eq!(json["summary"]["statefulsets"], 1);
        assert_eq!(json["summary"]["clusters"], 1);
        assert_eq!(
            json["summary"]["sameCluster"],
            serde_json::json!([{"contexts": ["prod-eu", "prod-eu-admin"], "counted": "prod-eu", "identity": "kube-system namespace uid 0b5e7a1c"}])
        );
        assert_eq!(json["summary"]["perContext"][2]["sameClusterAs"], "prod-eu");
    }
}
