//! `kubectl stateful rollout NAME`: a partitioned canary rollout, step by step, with a safe
//! abort. Nothing is installed in the cluster: the plan and the partition before the rollout
//! live in an annotation on the StatefulSet (see [`crate::core::rollout::Journal`]), so any
//! later run can resume or abort what an interrupted one started.
//!
//! The run reads top to bottom: fetch the StatefulSet and its pods, let the core
//! [`decide`](crate::core::rollout::decide), then apply the decision and wait ([`execute`]),
//! reporting as it goes ([`report`]).

mod abort;
mod checks;
mod evict;
mod execute;
mod gate;
mod report;
mod strip;
mod words;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;

use crate::client::{Kube, KubeArgs};
use crate::cmd::gates::{check_gate_urls, environment};
use crate::core::advice::shell_word;
use crate::core::objects::short_revision;
use crate::core::owners::Owners;
use crate::core::rollout::conditions::{has_its_pods, is_observed, is_settled};
use crate::core::rollout::decide::{already_updated, rollout_command};
use crate::core::rollout::gates::{Gates, OnFailure};
use crate::core::rollout::{
    Cluster, Decision, ROLLOUT_ANNOTATION, Refusal, Request, Steps, TemplateError, decide, parse_image,
    with_images,
};
use crate::error::{Error, Result, Stop};
use crate::fetch::{self, Scope};
use crate::output::Streams;
use crate::ui::Terminal;
use crate::wait::{Kinds, Waiter, Wake, deadline};
use crate::write::{DryRun, Mode, ServerAnswer, ServerCheck, ServerDryRun, Writer, Written};
use execute::{Executor, Outcome};
pub use report::Format;
use report::{Event, Reporter};
use words::wait;

pub const LONG_ABOUT: &str = "\
Roll a StatefulSet out to a new revision as a canary: stage the new pod template with the
partition raised to the replica count (no pod moves), then lower the partition step by step,
highest ordinal first, waiting after each step until the released pods run the new revision and
are Ready (and available for minReadySeconds). Between steps you choose: continue, stop, or
abort and roll back. A failed or timed-out step stops the rollout where it is (exit 3).

Run it again to resume an interrupted rollout; --abort restores the previous pod template and
partition and, when a broken pod blocks the rollback, deletes it after confirmation.

OnDelete StatefulSets, whose controller replaces a pod only once it is deleted, are rolled out
the same way with this tool as the controller: it stages the template (no pod moves), then
evicts the pods of each step one at a time (pods/eviction, so PodDisruptionBudgets hold it),
highest ordinal first or one zone at a time (--by-zone), waiting for each replacement and its
gates; --abort restores the template and evicts the updated pods back.

Fields that Argo CD, Flux or Helm owns (managedFields, or every field when Argo CD syncs with
Replace=true), which they would set back, are not written without --override-owner: for such a
StatefulSet, run --hold, change the template in Git (or the Helm release's values), then run
without flags to step the change through.";

pub const EXAMPLES: &str = "\
Examples:
  kubectl stateful rollout web --image app=registry.example/app:v2
  kubectl stateful rollout web --image app=registry.example/app:v2 --steps 1,25%,100% --dry-run
  kubectl stateful rollout web --patch template-patch.yaml --yes --pause 2m -o json
  kubectl stateful rollout web --partition 2        # one explicit step
  kubectl stateful rollout web --hold               # then change the template in Git
  kubectl stateful rollout etcd --image etcd=registry.example/etcd:v3.6 --by-zone   # OnDelete
  kubectl stateful rollout web                      # resume, or pick up a pending update
  kubectl stateful rollout web --abort";

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The StatefulSet
    #[arg(value_parser = crate::parse::object_name)]
    pub name: String,

    /// Stage a new image for a container: CONTAINER=IMAGE (repeatable)
    #[arg(long, value_name = "CONTAINER=IMAGE", value_parser = parse_image_arg)]
    pub image: Vec<(String, String)>,

    /// Stage a strategic-merge patch of the pod template, from a YAML or JSON file
    #[arg(long, value_name = "FILE", conflicts_with_all = ["abort", "image"])]
    pub patch: Option<std::path::PathBuf>,

    /// Step sizes as pod counts or percentages of replicas [default: 1,50%,100%, or the
    /// resumed rollout's own]
    #[arg(long, value_name = "LIST")]
    pub steps: Option<Steps>,

    /// Move the partition to N and wait: one explicit step instead of the plan
    #[arg(long, value_name = "N", conflicts_with_all = ["abort", "steps"], allow_negative_numbers = true)]
    pub partition: Option<i64>,

    /// Roll back: restore the previous pod template and partition
    #[arg(long, conflicts_with_all = ["image", "patch"])]
    pub abort: bool,

    /// Hold every pod back (partition = replicas, journaled) for a template change that Git
    /// applies through Argo CD, Flux or Helm; then run without flags to step it through
    #[arg(long, conflicts_with_all = ["image", "patch", "partition", "abort"])]
    pub hold: bool,

    /// Write fields that Argo CD, Flux or Helm owns, though it sets them back (at its next sync,
    /// or the next helm upgrade)
    #[arg(long)]
    pub override_owner: bool,

    /// After each step, run CMD with `sh -c` in each updated pod; exit 0 passes, else it is
    /// tried again until the step times out ({pod}, {ordinal}, {namespace} are filled in;
    /// repeatable)
    #[arg(long, value_name = "CMD", help_heading = "Gates")]
    pub gate_exec: Vec<String>,

    /// The container --gate-exec runs in [default: the pod's first]
    #[arg(long, value_name = "NAME", requires = "gate_exec", help_heading = "Gates")]
    pub gate_container: Option<String>,

    /// After each step, GET URL until it answers 2xx (a redirect is not followed); once per
    /// step, or per updated pod when it names {pod} or {ordinal}. A credential in it must come
    /// from the environment, named as ${NAME} (repeatable)
    #[arg(long, value_name = "URL", help_heading = "Gates")]
    pub gate_http: Vec<String>,

    /// The body of each --gate-http answer must contain TEXT
    #[arg(long, value_name = "TEXT", requires = "gate_http", help_heading = "Gates")]
    pub gate_http_expect: Option<String>,

    /// How long one try of a gate may take
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::parse::duration, help_heading = "Gates")]
    pub gate_timeout: Duration,

    /// Do not wait for PodDisruptionBudgets over the pods before releasing the next ones
    #[arg(long, help_heading = "Gates")]
    pub ignore_pdb: bool,

    /// OnDelete: replace pods one zone at a time (their nodes' topology.kubernetes.io/zone),
    /// the zone of the highest ordinal first; no step spans two zones
    #[arg(long, conflicts_with_all = ["abort", "hold"])]
    pub by_zone: bool,

    /// RollingUpdate: replace each pod by eviction instead, so PodDisruptionBudgets are
    /// enforced at every pod (the strategy is OnDelete while the rollout runs, then restored)
    #[arg(long, conflicts_with_all = ["abort", "hold", "partition"])]
    pub evict: bool,

    /// What a failed step or gate does: stop with the partition where it is, or abort
    #[arg(long, value_enum, value_name = "ACTION", default_value_t, help_heading = "Gates")]
    pub on_failure: OnFailure,

    /// Show the rollout journal (the annotation that makes a rollout resumable) and remove it,
    /// giving up the rollout or abort it records; the StatefulSet stays as it is
    #[arg(long, conflicts_with_all = ["image", "patch", "partition", "steps", "abort", "hold"])]
    pub discard_journal: bool,

    /// Print the plan and change nothing
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_value_t, default_missing_value = "client", value_name = "HOW")]
    pub dry_run: DryRun,

    /// Do not ask: go on after each step (after --pause) and confirm deletions
    #[arg(short, long)]
    pub yes: bool,

    /// With --yes, how long to watch each finished step before the next (updated pods must stay Ready)
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = crate::parse::duration)]
    pub pause: Duration,

    /// How long each step may take before it fails
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::parse::duration)]
    pub timeout: Duration,

    /// Output: text, or json for one event per line
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

fn parse_image_arg(text: &str) -> Result<(String, String), TemplateError> {
    parse_image(text)
}

impl Args {
    /// The gates the command line asks for; `None` when it names none (a resumed rollout then
    /// keeps its journal's).
    fn gates(&self) -> Option<Gates> {
        let gates = Gates {
            exec: self.gate_exec.clone(),
            container: self.gate_container.clone(),
            http: self.gate_http.clone(),
            http_expect: self.gate_http_expect.clone(),
            http_post: false,
            ignore_pdb: self.ignore_pdb,
            on_failure: self.on_failure,
            try_seconds: self.gate_timeout.as_secs().max(1),
        };
        (!gates.is_default()).then_some(gates)
    }
}

/// How long a StatefulSet whose pod count is short may take to settle before a new rollout is
/// refused as mid-scale.
const SETTLE_GRACE: Duration = Duration::from_secs(30);

pub async fn run(args: Args, kube_args: &KubeArgs, term: &Terminal, io: &mut Streams) -> Result<()> {
    // Bad gate URLs are usage errors, refused before anything is read (shown masked).
    check_gate_urls(&args.gate_http)?;
    let kube = kube_args.connect().await?;
    let request_timeout =
        kube_args.request_timeout.filter(|t| !t.is_zero()).unwrap_or(Duration::from_secs(30));
    let mut reporter = Reporter::new(args.output, &kube.namespace, &args.name, term, io);
    let result = rollout(&kube, &args, term, request_timeout, &mut reporter).await;
    // -o json ends with a line, however the run ends.
    if let Err(error) = &result
        && !error.is_broken_pipe()
    {
        let _ = reporter.event_for_machines(Event::ended(error));
    }
    reporter.clear();
    result
}

async fn rollout(
    kube: &Kube,
    args: &Args,
    term: &Terminal,
    request_timeout: Duration,
    reporter: &mut Reporter<'_>,
) -> Result<()> {
    let started = Instant::now();
    // Fetch: the StatefulSet, its pods, the controller's Warning events about it (what it fails
    // to do) and the template asked for.
    let sts = fetch::statefulset(kube, &kube.namespace, &args.name).await?;
    fetch::refuse_mid_swap(kube, &sts).await?;
    if args.discard_journal {
        return discard_journal(kube, args, term, reporter, &sts).await;
    }
    let scope = Scope::Namespace(kube.namespace.clone());
    let selector = crate::core::objects::selector(&sts);
    let (pods, events, namespace, (max_unavailable, revisions)) = tokio::try_join!(
        pods_of(kube, &sts),
        fetch::optional_events(&kube.client, &scope, Some(&args.name), true),
        fetch::optional_namespace(kube, &kube.namespace),
        fetch::server_facts(kube, &scope, std::slice::from_ref(&sts), selector.as_ref()),
    )?;
    let revisions = revisions.unwrap_or_default();
    let events = events.unwrap_or_default();
    let template = new_template(kube, args, &sts).await?;
    if let (Some(path), None) = (&args.patch, &template) {
        reporter.say(format_args!(
            "the patch in {} changes nothing in the pod template of {}",
            path.display(),
            args.name
        ));
    }

    // Decide. A refusal that waiting may lift (the controller catching up with the spec, a
    // pod count off only while a pod is replaced) is decided again after waiting.
    let asked_gates = args.gates();
    let request = Request {
        template: template.as_ref(),
        partition: args.partition,
        steps: args.steps.as_ref(),
        abort: args.abort,
        hold: args.hold,
        override_owner: args.override_owner,
        gates: asked_gates.as_ref(),
        by_zone: args.by_zone,
        evict: args.evict,
        flags: &kube.flags,
    };
    // A resumed --by-zone rollout keeps replacing one zone at a time (its journal says so).
    let journaled = crate::core::rollout::Journal::of(&sts).ok().flatten().is_some_and(|j| j.by_zone);
    let zones = match args.by_zone || journaled {
        true => Some(zones_of(kube, &sts, &pods).await?),
        false => None,
    };
    // How its Argo CD Application syncs, when one applies it: Replace=true set there does not
    // show on the object, and makes the application the owner of every field.
    let application = match Owners::of(&sts).applier.and_then(|a| a.application()) {
        Some((namespace, name)) => Some(fetch::argo_application_sync(kube, &namespace, &name).await),
        None => None,
    };
    let decide_on = |sts: &StatefulSet, pods: &[Pod]| {
        decide(
            &Cluster {
                namespace: namespace.as_ref(),
                sts,
                pods,
                events: &events,
                max_unavailable: max_unavailable.as_ref(),
                revisions: &revisions,
                zones: zones.as_ref(),
                application: application.as_ref(),
            },
            &request,
            Timestamp::now(),
        )
    };
    let (mut sts, mut pods) = (sts, pods);
    let mut decision = decide_on(&sts, &pods);
    let mut waiter = None;
    if let Err(refusal) = &decision
        && refusal.may_pass()
    {
        let watch = waiter.insert(Waiter::start(kube, &sts, Kinds::default(), request_timeout).await?);
        if let Err(Refusal::NotObserved { .. }) = &decision {
            sts = observed(watch, sts).await?;
            pods = watch.pods();
            decision = decide_on(&sts, &pods);
        }
        if let Err(refusal) = &decision
            && refusal.waits_for_pods()
        {
            sts = settled(watch, sts).await?;
            pods = watch.pods();
            decision = decide_on(&sts, &pods);
        }
    }
    // What to change in an owner's configuration goes to stderr above the one-line error
    // (`Refusal::way_out`, printed with it).
    let decision = decision?;
    // The variables the HTTP gates name (a resumed rollout's journaled ones too) must be set
    // before the first write: a gate that cannot be requested would only fail its step.
    match &decision {
        Decision::Roll(roll) => roll.gates.check_environment(environment)?,
        Decision::Hold(hold) => hold.journal.gates.check_environment(environment)?,
        _ => {}
    }

    // Show what this run does. A dry run stops here: it holds no Writer, so nothing below
    // can write.
    let template = match show(kube, args, reporter, &sts, &pods, &decision).await? {
        Shown::Nothing => return Ok(()),
        Shown::Writes { template } => template,
    };
    let resume = format!("`{}` reads the state and resumes", rollout_command(&sts, &kube.flags, ""));
    let Some(writer) = Writer::of(kube, Mode::from_dry_run(args.dry_run), resume) else {
        reporter.say("dry run: nothing was changed");
        if let Some(check) = ServerCheck::of(kube, Mode::from_dry_run(args.dry_run)) {
            let server = server_dry_run(&check, kube, &sts, &pods, &decision, template.as_ref()).await;
            return server_dry_run_said(reporter, server);
        }
        return Ok(());
    };

    // Apply and wait.
    let mut executor = Executor {
        kube,
        writer,
        args,
        term,
        reporter,
        started,
        steps_taken: 0,
        wrote: false,
        left_written: None,
        abort_hint: crate::core::rollout::decide::abort_hint(&sts, &kube.flags),
        gates: Gates::default(),
        consented_abort: false,
    };
    // The waits of the roll or abort watch the budgets too, unless they are ignored (a
    // budget the run may not watch fails the start: it never reads as no budget).
    drop(waiter);
    let start_waiter = |sts: &StatefulSet, ignore_pdb: bool| {
        let sts = sts.clone();
        let kinds = Kinds { budgets: !ignore_pdb, ..Kinds::default() };
        async move { Waiter::start(kube, &sts, kinds, request_timeout).await }
    };
    let result = async {
        match decision {
            Decision::NothingToDo { .. } | Decision::NothingToAbort { .. } | Decision::Held { .. } => Ok(()),
            Decision::MovePartition { to, revision } => executor.move_partition(&sts, to, &revision).await,
            Decision::Hold(hold) => executor.hold(&sts, &hold).await,
            Decision::Abort(abort) => {
                let Some(confirmed) = executor.confirm_abort(&sts, &abort, template).await? else {
                    return Ok(());
                };
                let ignore_pdb = abort.journal.gates.ignore_pdb || args.ignore_pdb;
                let mut waiter = start_waiter(&sts, ignore_pdb).await?;
                executor.abort(&mut waiter, sts, abort, confirmed).await
            }
            Decision::Roll(roll) => {
                executor.confirm_roll(&sts, &roll).await?;
                let mut waiter = start_waiter(&sts, roll.gates.ignore_pdb).await?;
                let (sts, outcome) = executor.roll(&mut waiter, sts, *roll).await?;
                match outcome {
                    Outcome::Finished | Outcome::Stopped => Ok(()),
                    Outcome::AbortChosen => executor.abort_now(&mut waiter, sts).await,
                    Outcome::Failed { step, reasons } => {
                        executor.failed(&mut waiter, sts, step, reasons).await
                    }
                }
            }
        }
    }
    .await;
    // A foreign change, for CI: who made it, as an event before the error.
    if let Err(Error::Conflict { changes, by, partition, .. }) = &result {
        let manager = by.as_ref().map(|m| m.manager.clone());
        let drift = Event::Drift { manager, changes: changes.clone(), partition: *partition };
        executor.reporter.event_for_machines(drift)?;
    }
    result.map_err(|e| executor.stranded(e))
}

/// What [`show`] found: nothing to write, or writes to make (for an abort, with the template
/// it restores, read from its ControllerRevision).
enum Shown {
    Nothing,
    Writes { template: Option<serde_json::Value> },
}

/// Shows what the decision does, the same for a dry run and a real one: the plan, its
/// warnings, and for a decision that writes nothing, why. Reads what the plan needs (the
/// budgets over the pods, an abort's template), never writes.
async fn show(
    kube: &Kube,
    args: &Args,
    reporter: &mut Reporter<'_>,
    sts: &StatefulSet,
    pods: &[Pod],
    decision: &Decision,
) -> Result<Shown> {
    let writes = Shown::Writes { template: None };
    match decision {
        Decision::NothingToDo { revision } => {
            let short = short_revision(&args.name, revision);
            let reason = format!("nothing to roll out: every pod of {} runs revision {short}", args.name);
            reporter.event(Event::NothingToDo { revision: revision.clone(), reason })?;
            Ok(Shown::Nothing)
        }
        Decision::NothingToAbort { revision } => {
            let short = short_revision(&args.name, revision);
            let reason = format!("nothing to abort: every pod of {} runs revision {short}", args.name);
            reporter.event(Event::NothingToDo { revision: revision.clone(), reason })?;
            Ok(Shown::Nothing)
        }
        Decision::Held { partition, revision } => {
            let reason = format!(
                "{} is held at partition {partition} for a template change from its owner, and every pod runs \
                 revision {}: nothing to step yet. Once the change is applied, run `{}`; `{}` releases the hold",
                args.name,
                short_revision(&args.name, revision),
                rollout_command(sts, &kube.flags, ""),
                rollout_command(sts, &kube.flags, "--abort"),
            );
            reporter.event(Event::NothingToDo { revision: revision.clone(), reason })?;
            Ok(Shown::Nothing)
        }
        Decision::MovePartition { to, revision } => {
            if args.dry_run.is_dry() {
                reporter.say(format!(
                    "the partition of {} would move {} -> {to}; no update is pending, every pod runs revision {revision}",
                    args.name,
                    crate::core::objects::partition(sts)
                ));
            }
            Ok(writes)
        }
        Decision::Hold(hold) => {
            let source = hold.owner.as_deref().unwrap_or("its owner");
            reporter.say(format!(
                "hold {}: partition {} -> {}, journaled; the next template change from {source} is staged, not \
                 rolled out, and no pod moves until `{}` steps it through",
                args.name,
                crate::core::objects::partition(sts),
                hold.partition,
                rollout_command(sts, &kube.flags, "")
            ));
            for warning in &hold.warnings {
                reporter.event(Event::Warning { message: warning.clone() })?;
            }
            Ok(writes)
        }
        Decision::Abort(abort) => {
            if abort.resumed && !args.abort {
                reporter.say("an abort of this rollout was interrupted; continuing the abort");
            }
            let template = abort::show(kube, args, reporter, sts, pods, abort, "nothing was changed").await?;
            Ok(Shown::Writes { template })
        }
        Decision::Roll(roll) => {
            let updated = already_updated(sts, pods);
            reporter.already_updated(&updated, roll.to_revision.as_deref());
            execute::show_roll(kube, args, reporter, sts, pods, roll).await?;
            Ok(writes)
        }
    }
}

/// `--discard-journal`: the way out of a journal that cannot be used (unreadable, or an abort
/// whose revision is gone). Shows it, asks, and removes exactly that annotation (a guarded
/// patch: if the journal changed meanwhile, nothing is removed).
async fn discard_journal(
    kube: &Kube,
    args: &Args,
    term: &Terminal,
    reporter: &mut Reporter<'_>,
    sts: &StatefulSet,
) -> Result<()> {
    use kube::ResourceExt;
    let Some(text) = sts.annotations().get(ROLLOUT_ANNOTATION) else {
        reporter.say(format_args!("{} has no rollout journal: nothing to discard", args.name));
        return Ok(());
    };
    reporter.say(format_args!("the rollout journal of {} ({ROLLOUT_ANNOTATION}): {text}", args.name));
    // An --evict rollout switched the strategy to OnDelete; discarding its journal leaves it so.
    if let Ok(Some(journal)) = crate::core::rollout::Journal::of(sts)
        && let (Some(strategy), Some(held)) =
            (&journal.strategy_before, journal.held_strategy_before(crate::core::objects::replicas(sts)))
    {
        let held = serde_json::to_string(&held).expect("an update strategy always serializes");
        let patch = format!(r#"{{"spec":{{"updateStrategy":{held}}}}}"#);
        reporter.say(format_args!(
            "it was started with --evict: the update strategy stays OnDelete. To go back to RollingUpdate with \
             every pod held back: `{}` (then `{}` steps the rest through); its partition before the rollout was {}",
            kube.flags.kubectl(
                &kube.namespace,
                &format!("patch statefulset {} --type merge -p {}", shell_word(&args.name), shell_word(&patch))
            ),
            rollout_command(sts, &kube.flags, ""),
            strategy.rolling_update.as_ref().and_then(|r| r.partition).unwrap_or(0)
        ));
    }
    let status = kube.flags.plugin(&kube.namespace, &format!("status {}", shell_word(&args.name)));
    let resume = format!("`{status}` shows whether it was removed");
    let Some(writer) = Writer::of(kube, Mode::from_dry_run(args.dry_run), resume) else {
        reporter.say("dry run: nothing was changed");
        if let Some(check) = ServerCheck::of(kube, Mode::from_dry_run(args.dry_run)) {
            let api: Api<StatefulSet> = kube.api();
            let patch = crate::core::patches::clear_journal(sts);
            let what = format!("remove the rollout journal of {}", args.name);
            let answer = ServerAnswer::of_written(check.patch(&api, &args.name, &patch, &what).await);
            let mut server = ServerDryRun::default();
            server.add(what, answer);
            return server_dry_run_said(reporter, server);
        }
        return Ok(());
    };
    let question =
        format!("Remove it? {} keeps its template, partition and pods as they are now.", args.name);
    if !reporter.suspend(|| term.confirm(args.yes, &question))? {
        return Ok(());
    }
    let api: Api<StatefulSet> = kube.api();
    let patch = crate::core::patches::clear_journal(sts);
    let what = format!("remove the rollout journal of {}", args.name);
    match writer.patch(&api, &args.name, &patch, &what).await? {
        Written::Done(_) => {
            reporter.say(format_args!(
                "removed the rollout journal of {}; `{status}` shows where it stands",
                args.name
            ));
            Ok(())
        }
        Written::Changed(_) => Err(Stop::JournalChangedSinceRead {
            name: args.name.clone(),
            again: rollout_command(sts, &kube.flags, "--discard-journal"),
        }
        .into()),
        Written::Gone => Err(Stop::DeletedSinceRead { what, name: args.name.clone() }.into()),
    }
}

/// The end of a `--dry-run=server` run: its answers on stderr and, with `-o json`, as a
/// `serverDryRun` event; exit 1 when one was refused.
fn server_dry_run_said(reporter: &mut Reporter<'_>, server: ServerDryRun) -> Result<()> {
    for line in server.lines() {
        reporter.say(line);
    }
    let ending = server.ending();
    reporter.event_for_machines(Event::ServerDryRun { writes: server })?;
    ending
}

/// `--dry-run=server`: the writes of the decision in order, those that can be judged now sent
/// with `dryRun=All`: the first (the stage with its journal, the partition of the first step,
/// a hold, the start of an abort; under `--evict` without a stage, the journal and the first
/// eviction). Each later step waits for the one before (its pods replaced, its gates passed),
/// and so does the end (the journal removed, the partition or strategy from before): not
/// checked.
async fn server_dry_run(
    check: &ServerCheck,
    kube: &Kube,
    sts: &StatefulSet,
    pods: &[Pod],
    decision: &Decision,
    template: Option<&serde_json::Value>,
) -> ServerDryRun {
    use crate::core::names::pod_name;
    use crate::core::patches;
    use crate::core::rollout::Replace;
    let api: Api<StatefulSet> = kube.api();
    let name = kube::ResourceExt::name_any(sts);
    let namespace = kube.namespace.as_str();
    let mut run = ServerDryRun::default();
    let mut last: Option<usize> = None;
    // A write that waits for the one before it (`last`): not checked. (Without one before, it
    // is a write that depends on what this run cannot foresee: not listed.)
    fn after(run: &mut ServerDryRun, what: String, last: &mut Option<usize>) {
        if let Some(depends_on) = *last {
            *last = Some(run.add(what, ServerAnswer::NotChecked { depends_on }));
        }
    }
    match decision {
        Decision::NothingToDo { .. } | Decision::NothingToAbort { .. } | Decision::Held { .. } => {}
        Decision::MovePartition { to, .. } => {
            let what = format!("set the partition of {name} to {to}");
            let (what, answer) =
                check_patch(check, &api, &name, what, patches::move_partition(sts, *to, None)).await;
            run.add(what, answer);
        }
        Decision::Hold(hold) => {
            let what = format!("hold {name} at partition {} (and write its journal)", hold.partition);
            let written = patches::move_partition(sts, hold.partition, Some(&hold.journal));
            let (what, answer) = check_patch(check, &api, &name, what, written).await;
            run.add(what, answer);
        }
        Decision::Abort(abort) => {
            let what = format!(
                "restore the pod template of revision {} with the partition at {} (and write the journal)",
                abort.target, abort.rollback_partition
            );
            let written = patches::abort(sts, template, abort.rollback_partition, &abort.journal);
            let (what, answer) = check_patch(check, &api, &name, what, written).await;
            last = Some(run.add(what, answer));
            if abort.replace == Replace::Eviction {
                for (_, pod) in evict::not_on(sts, pods, &abort.target) {
                    let pod = kube::ResourceExt::name_any(&pod);
                    after(&mut run, format!("evict pod {namespace}/{pod}"), &mut last);
                }
            }
            let end = format!(
                "end the abort of {name}: the partition back to {}, the journal removed",
                abort.partition
            );
            after(&mut run, end, &mut last);
        }
        Decision::Roll(roll) => {
            if let Some(stage) = &roll.stage
                && let Some(journal) = &roll.journal
            {
                let what = format!("stage the rollout of {name} (its template, partition and journal)");
                let written = patches::stage(sts, stage.template.as_ref(), stage.partition, journal);
                let (what, answer) = check_patch(check, &api, &name, what, written).await;
                last = Some(run.add(what, answer));
            } else if let (Replace::Eviction, Some(journal)) = (roll.replace, &roll.journal) {
                let what = format!("write the rollout journal of {name}");
                let (what, answer) =
                    check_patch(check, &api, &name, what, patches::journal(sts, journal)).await;
                run.add(what, answer);
            }
            let journal = if roll.stage.is_some() { None } else { roll.journal.as_ref() };
            for step in &roll.steps {
                match roll.replace {
                    Replace::Controller => {
                        let what = format!(
                            "set the partition of {name} to {} (step {})",
                            step.partition, step.number
                        );
                        match last {
                            Some(_) => after(&mut run, what, &mut last),
                            None => {
                                let written = patches::move_partition(sts, step.partition, journal);
                                let (what, answer) = check_patch(check, &api, &name, what, written).await;
                                last = Some(run.add(what, answer));
                            }
                        }
                    }
                    Replace::Eviction => {
                        for ordinal in &step.ordinals {
                            let pod_name = pod_name(&name, *ordinal);
                            let what = format!("evict pod {namespace}/{pod_name} (step {})", step.number);
                            let pod = pods.iter().find(|p| kube::ResourceExt::name_any(*p) == pod_name);
                            match (last, pod) {
                                (None, Some(pod)) => {
                                    let answer = ServerAnswer::of_evicted(check.evict(pod, &what).await);
                                    last = Some(run.add(what, answer));
                                }
                                _ => after(&mut run, what, &mut last),
                            }
                        }
                    }
                }
            }
            let end = match roll.replace {
                Replace::Controller => format!("remove the rollout journal of {name}"),
                Replace::Eviction => format!("restore the update strategy of {name} and remove its journal"),
            };
            after(&mut run, end, &mut last);
        }
    }
    run
}

/// A patch of the StatefulSet `name`, sent with `dryRun=All`: what it does, and the answer.
async fn check_patch(
    check: &ServerCheck,
    api: &Api<StatefulSet>,
    name: &str,
    what: String,
    body: crate::write::Tested,
) -> (String, ServerAnswer) {
    let answer = ServerAnswer::of_written(check.patch(api, name, &body, &what).await);
    (what, answer)
}

/// Waits up to [`SETTLE_GRACE`] until the controller has observed the latest spec: revisions
/// and counts in the status mean something only then. A controller that takes longer is down or
/// blocked, and nothing is changed.
async fn observed(waiter: &mut Waiter, sts: StatefulSet) -> Result<StatefulSet> {
    let name = kube::ResourceExt::name_any(&sts);
    let (sts, ()) = wait(
        waiter,
        &name,
        &sts,
        deadline(SETTLE_GRACE),
        |sts, _, _| Ok(if is_observed(sts) { Wake::Done(()) } else { Wake::Wait }),
        |sts, _| {
            let name = kube::ResourceExt::name_any(sts);
            let generation = sts.metadata.generation.unwrap_or(0);
            let seen = sts.status.as_ref().and_then(|s| s.observed_generation).unwrap_or(0);
            let within = humantime::format_duration(SETTLE_GRACE).to_string();
            Err(Stop::NotObservedWithin { name, generation, observed: seen, within }.into())
        },
    )
    .await?;
    Ok(sts)
}

/// Waits up to [`SETTLE_GRACE`] for the pods to settle (the count the spec asks for, a pod for
/// every live ordinal, none outside them); the core then decides what an unsettled one means.
async fn settled(waiter: &mut Waiter, sts: StatefulSet) -> Result<StatefulSet> {
    let name = kube::ResourceExt::name_any(&sts);
    let (sts, ()) = wait(
        waiter,
        &name,
        &sts,
        deadline(SETTLE_GRACE),
        |sts, view, _| {
            Ok(if is_settled(sts) && has_its_pods(sts, &view.pods) { Wake::Done(()) } else { Wake::Wait })
        },
        |_, _| Ok(()),
    )
    .await?;
    Ok(sts)
}

/// The zone of each live ordinal's node (`topology.kubernetes.io/zone`), for `--by-zone`;
/// `None` for a pod not scheduled yet or a node without the label.
async fn zones_of(kube: &Kube, sts: &StatefulSet, pods: &[Pod]) -> Result<BTreeMap<i32, Option<String>>> {
    use crate::core::rollout::order::ZONE_LABEL;
    use k8s_openapi::api::core::v1::Node;
    use kube::ResourceExt;
    let nodes: Api<Node> = Api::all(kube.client.clone());
    let mut zone_of_node: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut zones = BTreeMap::new();
    for (ordinal, pod) in crate::core::objects::pods_of(sts, pods) {
        let zone = match crate::core::objects::node_name(pod) {
            Some(node) => {
                if !zone_of_node.contains_key(node) {
                    let read = nodes.get_opt(node).await.map_err(Error::kube(format!("read node {node}")))?;
                    let zone = read.and_then(|n| n.labels().get(ZONE_LABEL).cloned());
                    zone_of_node.insert(node.to_owned(), zone);
                }
                zone_of_node[node].clone()
            }
            None => None,
        };
        zones.insert(ordinal, zone);
    }
    Ok(zones)
}

/// The StatefulSet's pods, by its selector.
async fn pods_of(kube: &Kube, sts: &StatefulSet) -> Result<Vec<Pod>> {
    let selector = crate::core::objects::selector(sts);
    fetch::list(&kube.client, &Scope::Namespace(kube.namespace.clone()), selector.as_ref()).await
}

/// The pod template to stage from --image / --patch, or `None` when neither was given or it
/// equals the current one.
async fn new_template(kube: &Kube, args: &Args, sts: &StatefulSet) -> Result<Option<PodTemplateSpec>> {
    let current = sts.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let template = match &args.patch {
        Some(path) => patched_template(kube, &args.name, path).await?,
        None => with_images(&current, &args.image)?,
    };
    Ok((template != current).then_some(template))
}

/// Applies the patch file the way `kubectl patch` would (strategic merge), by asking the API
/// server for a dry run: the result is exact, and nothing is stored.
async fn patched_template(kube: &Kube, name: &str, path: &std::path::Path) -> Result<PodTemplateSpec> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Stop::PatchUnreadable { path: path.display().to_string(), error: e.to_string() })?;
    let patch: serde_json::Value = serde_saphyr::from_str(&text).map_err(|e| {
        // The parser's first line says where and what; the rest is its advice for its own API.
        let what = e.to_string();
        Stop::PatchNotYaml {
            path: path.display().to_string(),
            error: what.lines().next().unwrap_or_default().trim().to_owned(),
        }
    })?;
    if !patch.is_object() {
        return Err(Stop::PatchNotAMap { path: path.display().to_string() }.into());
    }
    let body = serde_json::json!({"spec": {"template": patch}});
    // A server-side dry run, strictly validated: a field the API does not know (a typo, or a
    // patch written for the StatefulSet rather than its pod template) is an error naming the
    // field, not silently dropped.
    let probe = crate::write::Probe::new(kube);
    match probe.strategic_patch::<StatefulSet>(&kube.namespace, name, &body).await {
        Ok(result) => Ok(result.spec.map(|s| s.template).unwrap_or_default()),
        Err(kube::Error::Api(status)) if status.code == 400 || status.code == 422 => {
            Err(Stop::PatchInvalid {
                path: path.display().to_string(),
                message: status.message.lines().next().unwrap_or_default().to_owned(),
            }
            .into())
        }
        Err(e) => Err(Error::kube(format!("apply {} to the pod template (dry run)", path.display()))(e)),
    }
}
