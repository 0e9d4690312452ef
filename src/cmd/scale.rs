//! `kubectl stateful scale NAME --replicas N`: a scale-down one member at a time from the
//! highest ordinal, each first leaving its cluster (its decommission hooks, until they pass) and
//! only while the set keeps its quorum, then the claims kept or pruned (`pvc prune`'s own path);
//! a scale-up in one guarded write, waiting until each new member is Ready. The plan and the
//! decisions are [`crate::core::maintenance::scale`]'s; this fetches, asks, applies and waits.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;

use super::maintenance::{
    Discard, Event, Format, Mover, Reporter, check_journal_removal, check_journal_write, discard_set_journal,
    one_line,
};
use crate::access::{self, Permission};
use crate::client::{Kube, KubeArgs};
use crate::cmd::gates::{http_client, try_gate};
use crate::cmd::pvc::prune::{Removed, prune_removed};
use crate::core::advice::shell_word;
use crate::core::maintenance::WaitWords;
use crate::core::maintenance::scale::{
    Claims, Direction, Fate, Journal, Member, Next, Plan, Request, SCALE_ANNOTATION, Seen, claims_of_removed,
    joined, next, plan,
};
use crate::core::objects::{ordinal_range, pods_of};
use crate::core::patches;
use crate::core::rollout::gates::{self as gate_runs, Gates};
use crate::error::{Error, Result, Stop};
use crate::fetch::{self, Extras, Scope};
use crate::output::{SCALE_EVENT, Streams, output_error};
use crate::ui::Terminal;
use crate::wait::{Kinds, Showing, Until, Waiter, Wake, deadline};
use crate::write::{DryRun, Mode, ServerAnswer, ServerCheck, ServerDryRun, Writer, Written};

pub const LONG_ABOUT: &str = "\
Scale a StatefulSet, one member at a time when it shrinks, without losing its quorum.

Scale-down: from the highest ordinal, each member first runs its decommission hooks
(--decommission-exec in the member, --decommission-http POSTed), tried again until they pass (the
member has left its cluster), then replicas go down by one (a JSON patch that tests the count read)
and the next member goes only once its pod is gone. Each member leaves only while every other is up
and the set keeps its quorum (the majority of its members, or --min-available); a target below the
majority of the members now is refused unless --min-available allows it. Then the claims of the
members removed are kept (a later scale-up re-attaches them, with their old data) or, with --claims
prune, deleted through `pvc prune`'s own rules and guards (--snapshot first).

Scale-up: replicas set in one guarded write, then each new member waited for until Ready; a new
member that will mount a claim left by an earlier scale-down is named (it starts on that old data).

Refused with nothing changed where Argo CD, Flux or Helm owns replicas, or a HorizontalPodAutoscaler
scales the set. The plan is shown first; on a terminal you confirm it, elsewhere pass --yes. The
run is journaled on the StatefulSet (annotation kubectl-stateful.dev/scale): run `kubectl stateful
scale NAME` again to resume an interrupted scale.";

pub const EXAMPLES: &str = "\
Examples:
  kubectl stateful scale web --replicas 5                 # a scale-up: each new member waited for
  kubectl stateful scale etcd --replicas 3 \\
      --decommission-exec 'etcd-leave.sh {pod}'           # each member leaves etcd before it goes
  kubectl stateful scale web --replicas 2 --claims prune --snapshot --yes -o json
  kubectl stateful scale web --replicas 1 --min-available 1 --dry-run
  kubectl stateful scale web                              # resume an interrupted scale";

/// How long to wait before trying a decommission hook again.
const RETRY: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The StatefulSet
    #[arg(value_parser = crate::parse::object_name)]
    pub name: String,

    /// The replicas to scale to [default: resume the scale in progress]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
    pub replicas: Option<i32>,

    /// Before each member is removed, run CMD with `sh -c` in it until it exits 0 (the member has
    /// left its cluster); {pod}, {ordinal} and {namespace} are filled in (repeatable)
    #[arg(long, value_name = "CMD", help_heading = "Decommission")]
    pub decommission_exec: Vec<String>,

    /// The container --decommission-exec runs in [default: the pod's first]
    #[arg(long, value_name = "NAME", requires = "decommission_exec", help_heading = "Decommission")]
    pub decommission_container: Option<String>,

    /// Before each member is removed, POST to URL until it answers 2xx (the member has left);
    /// {pod}, {ordinal} and {namespace} are filled in (repeatable)
    #[arg(long, value_name = "URL", help_heading = "Decommission")]
    pub decommission_http: Vec<String>,

    /// Members that must stay up while one leaves, and the fewest a scale-down may leave
    /// [default: the majority of the members now, floor(n/2)+1]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
    pub min_available: Option<i32>,

    /// What becomes of the claims of the members a scale-down removes
    #[arg(long, value_enum, value_name = "FATE", default_value_t, help_heading = "Claims")]
    pub claims: Claims,

    /// With --claims prune: a ready VolumeSnapshot with a Retain content of each claim first
    #[arg(long, help_heading = "Claims")]
    pub snapshot: bool,

    /// The VolumeSnapshotClass to use [default: the one default class of the volume's driver]
    #[arg(long, requires = "snapshot", value_parser = crate::parse::object_name, help_heading = "Claims")]
    pub snapshot_class: Option<String>,

    /// How long to wait for each snapshot to become ready
    #[arg(long, default_value = "5m", requires = "snapshot", value_parser = crate::parse::duration, help_heading = "Claims")]
    pub snapshot_timeout: Duration,

    /// How long each wait may take (a hook to pass, the quorum, a member to go or to be Ready)
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::parse::duration)]
    pub timeout: Duration,

    /// Show the journal of an interrupted scale and remove it; replicas stay as they are
    #[arg(long, conflicts_with_all = ["replicas", "decommission_exec", "decommission_http", "min_available", "snapshot"])]
    pub discard_journal: bool,

    /// Print the plan and change nothing
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_value_t, default_missing_value = "client", value_name = "HOW")]
    pub dry_run: DryRun,

    /// Do not ask for confirmation
    #[arg(short, long)]
    pub yes: bool,

    /// Output: text, or json for one event per line
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

impl Args {
    fn hooks(&self) -> Gates {
        Gates {
            exec: self.decommission_exec.clone(),
            container: self.decommission_container.clone(),
            http: self.decommission_http.clone(),
            http_post: !self.decommission_http.is_empty(),
            ..Gates::default()
        }
    }
}

pub async fn run(args: Args, kube_args: &KubeArgs, term: &Terminal, io: &mut Streams) -> Result<()> {
    if args.snapshot && args.claims != Claims::Prune {
        return Err(Stop::FlagRequires { flag: "--snapshot", requires: "--claims prune" }.into());
    }
    for url in &args.decommission_http {
        crate::core::gate_url::check("--decommission-http", url)?;
    }
    let mut reporter = Reporter { io, format: args.output, kind: SCALE_EVENT, term: *term };
    let result = scale(&args, kube_args, term, &mut reporter).await;
    if let Err(error) = &result {
        reporter.ended(error);
    }
    result
}

async fn scale(
    args: &Args,
    kube_args: &KubeArgs,
    term: &Terminal,
    reporter: &mut Reporter<'_>,
) -> Result<()> {
    let kube = kube_args.connect().await?;
    let namespace = kube.namespace.clone();
    let sts = fetch::statefulset(&kube, &namespace, &args.name).await?;
    let set = shell_word(&args.name).into_owned();
    let resume = kube.flags.plugin(&namespace, &format!("scale {set}"));
    if args.discard_journal {
        let replicas = sts.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let discard = Discard {
            command: "scale",
            annotation: SCALE_ANNOTATION,
            after: format!("it stays at {replicas} replicas"),
            again: kube
                .flags
                .plugin(&namespace, &format!("scale {} --discard-journal", shell_word(&args.name))),
            dry_run: args.dry_run,
            yes: args.yes,
        };
        return discard_set_journal(&kube, &sts, &discard, term, reporter).await;
    }
    let journal = Journal::of(&sts, &kube.flags)?;
    let extras = Extras { volumes: true, autoscalers: true, swaps: true, ..Extras::default() };
    let reads = fetch::reads_in(&kube, &Scope::Namespace(namespace.clone()), extras).await?;
    // A set mid-swap (`pvc resize`): its pods may have no controller, its claims change hands.
    let swaps = crate::core::resize::mid_swaps(&reads, &kube.flags);
    if let Some(mid) = swaps.into_iter().find(|m| m.namespace == namespace && m.stateful_set == args.name) {
        return Err(Stop::MidResize(Box::new(mid)).into());
    }
    let sts = reads.statefulsets.iter().find(|s| s.name_any() == args.name).cloned().unwrap_or(sts);
    let snapshot = match &journal {
        Some(journal) => journal.snapshot && journal.claims == Claims::Prune,
        None => args.snapshot && args.claims == Claims::Prune,
    };
    let classes = if snapshot { crate::volume_snapshots::classes(&kube).await? } else { None };
    let request = Request {
        replicas: args.replicas,
        hooks: args.hooks(),
        min_available: args.min_available,
        claims: args.claims,
        snapshot: args.snapshot,
        snapshot_class: args.snapshot_class.clone(),
        flags: kube.flags.clone(),
    };
    let seen = Seen { sts: &sts, reads: &reads, classes: classes.as_deref() };
    let plan = plan(&seen, &request, journal.as_ref(), Timestamp::now())?;
    show(reporter, &plan)?;
    for warning in &plan.warnings {
        reporter.io.warn(warning);
    }
    if plan.direction == Direction::None {
        reporter
            .io
            .say(format_args!("{} has {} replicas already: nothing to do", plan.stateful_set, plan.to));
        return Ok(());
    }
    let Some(writer) = Writer::of(&kube, Mode::from_dry_run(args.dry_run), format!("`{resume}` resumes it"))
    else {
        reporter.io.say("dry run: nothing was changed");
        if let Some(check) = ServerCheck::of(&kube, Mode::from_dry_run(args.dry_run)) {
            let server = server_dry_run(&check, &kube, &sts, &plan, journal.is_some()).await;
            return reporter.server_dry_run(&server);
        }
        return Ok(());
    };
    require_permissions(&kube, &plan).await?;
    let question = match plan.direction {
        Direction::Down => format!(
            "Scale {} from {} to {} ({} leaving one at a time)?",
            plan.stateful_set,
            plan.from,
            plan.to,
            plan.members
                .iter()
                .filter(|m| !plan.done.contains(&m.ordinal))
                .map(|m| m.pod.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => format!("Scale {} from {} to {}?", plan.stateful_set, plan.from, plan.to),
    };
    if !term.confirm(args.yes, &question)? {
        reporter.io.say(format_args!("not confirmed: {} was left as it was", plan.stateful_set));
        return Ok(());
    }
    let request_timeout =
        kube_args.request_timeout.filter(|t| !t.is_zero()).unwrap_or(Duration::from_secs(30));
    let what = format!("the scale of {} from {} to {}", plan.stateful_set, plan.from, plan.to);
    let mover =
        Mover { gates: plan.hooks.clone(), ..Mover::new(&kube, writer, args.timeout, what, resume.clone()) };
    let mut waiter = Waiter::start(&kube, &sts, Kinds::default(), request_timeout).await?;
    let mut journal = journal.unwrap_or_else(|| Journal::new(&plan, Timestamp::now()));
    let mut ours = write_journal(&mover, &sts, Some(&journal)).await?;
    let started = Instant::now();
    let mut said: Option<String> = None;
    // Members said to have joined (scale-up) or to be gone (scale-down), once each.
    let mut joined_said: Vec<String> = Vec::new();
    let mut gone_said: Vec<i32> = plan.done.clone();
    loop {
        let words = mover.words(left(&plan, &journal, &ours));
        let how = Until { deadline: deadline(args.timeout), words: &words, ours: Some(&ours) };
        // What the wait says while it lasts: the condition words it, the progress line shows it.
        let waited: RefCell<Option<WaitWords>> = RefCell::new(None);
        let mut progress = reporter.progress(mover.what.clone(), how.deadline);
        let (view, step) = waiter
            .until_progress(
                how,
                &mut progress,
                &|_| Showing::of(waited.borrow().as_ref()),
                |view, now| {
                    let Some(sts) = &view.sts else { return Ok(Wake::Done(None)) };
                    for (pod, uid, node) in joined(&journal, sts, &view.pods, now) {
                        if !joined_said.contains(&pod) {
                            reporter.event(Event::Joined { pod: pod.clone(), uid, node })?;
                            joined_said.push(pod);
                        }
                    }
                    let range = ordinal_range(sts);
                    let own = pods_of(sts, &view.pods);
                    let down = plan.direction == Direction::Down;
                    for member in plan.members.iter().filter(|_| down) {
                        let gone =
                            !range.contains(member.ordinal) && !own.iter().any(|(o, _)| *o == member.ordinal);
                        if gone && !gone_said.contains(&member.ordinal) {
                            reporter.event(Event::Removed { pod: member.pod.clone() })?;
                            gone_said.push(member.ordinal);
                        }
                    }
                    Ok(match next(&journal, sts, &view.pods, now) {
                        Next::Wait(waiting) => {
                            waited.replace(Some(waiting.words(&view.pods)));
                            let reason = waiting.describe();
                            if said.as_ref() != Some(&reason) {
                                reporter.event(Event::Waiting {
                                    pod: waiting.pod().to_owned(),
                                    reason: reason.clone(),
                                })?;
                                said = Some(reason);
                            }
                            Wake::Soon
                        }
                        step => Wake::Done(Some(step)),
                    })
                },
                |_| Ok(None),
            )
            .await?;
        progress.finish();
        let name = plan.stateful_set.clone();
        if view.sts.is_none() {
            return Err(
                mover.stopped(format!("StatefulSet {name} was deleted"), "nothing more was changed".into())
            );
        }
        let Some(step) = step else {
            let reason = said.clone().unwrap_or_else(|| "no progress".to_owned());
            return Err(mover.stopped(
                format!("{reason} after {}", humantime::format_duration(args.timeout)),
                left(&plan, &journal, &ours),
            ));
        };
        said = None;
        match step {
            Next::Wait(_) => {}
            Next::Outrun { replicas } => {
                return Err(mover.stopped(
                    format!(
                        "{name} has {replicas} replicas, outside the scale from {} to {} (someone else scaled it)",
                        journal.from, journal.to
                    ),
                    "the scale journal stays".into(),
                ));
            }
            Next::SetReplicas { from, to } => {
                ours = set_replicas(&mover, &ours, from, to).await?;
                reporter.event(Event::ReplicasSet { stateful_set: name, from, to })?;
            }
            Next::Decommission(member) => {
                decommission(&mover, reporter, &mut waiter, &ours, &member).await?;
                journal.left.push(member.ordinal);
                ours = write_journal(&mover, &ours, Some(&journal)).await?;
                reporter.event(Event::Left { pod: member.pod.clone() })?;
                crate::seam::pause("scale-left").await;
            }
            Next::Remove { replicas, .. } => {
                ours = set_replicas(&mover, &ours, replicas, replicas - 1).await?;
                reporter.event(Event::ReplicasSet {
                    stateful_set: name,
                    from: replicas,
                    to: replicas - 1,
                })?;
            }
            Next::PruneClaims => {
                let ordinals: Vec<i32> = plan.members.iter().map(|m| m.ordinal).collect();
                let again = format!("run `{resume}` to finish");
                let removed = Removed {
                    name: &name,
                    ordinals: &ordinals,
                    snapshot: journal.snapshot,
                    snapshot_class: journal.snapshot_class.as_deref(),
                    snapshot_timeout: args.snapshot_timeout,
                    resume: &again,
                };
                let result = match prune_removed(&kube, request_timeout, term, &mut *reporter.io, removed)
                    .await
                {
                    Ok(result) => result,
                    Err(error) => {
                        return Err(Error::Stranded {
                            error: Box::new(error),
                            left: format!(
                                "{name} is at {} replicas, the claims of the members removed were not all pruned and \
                                 the scale journal stays",
                                journal.to
                            ),
                            resume: format!("run `{resume}` to prune them again"),
                        });
                    }
                };
                reporter.event(Event::ClaimsPruned {
                    deleted: result.deleted.iter().map(|c| c.name.clone()).collect(),
                    kept: result.kept.iter().map(|k| format!("{} ({})", k.name, k.reason)).collect(),
                    snapshots: result.snapshots.iter().map(|s| s.name.clone()).collect(),
                    storage_freed: result.storage_freed.clone(),
                })?;
                return finish(&mover, reporter, &ours, &plan, started).await;
            }
            Next::Finished => {
                let kept = claims_of_removed(&plan);
                if plan.direction == Direction::Down
                    && plan.claims == Claims::Keep
                    && !kept.is_empty()
                    && !plan
                        .members
                        .iter()
                        .flat_map(|m| &m.claims)
                        .any(|c| c.fate == Fate::DeletedByController)
                {
                    let prune = kube.flags.plugin(&namespace, &format!("pvc prune {set}"));
                    reporter.event(Event::ClaimsKept { claims: kept, prune })?;
                }
                return finish(&mover, reporter, &ours, &plan, started).await;
            }
        }
    }
}

/// `--dry-run=server`: the writes of the plan in order, those that can be judged now sent with
/// `dryRun=All`: the journal (a new run's), and the first replicas patch, judged against the set
/// as read (a real run's also tests the journal it wrote). Each later replicas patch waits for the
/// member before it to be gone, the claims' prune and the journal's removal for the last: not
/// checked. The journal's updates between members (a member has left) are not listed.
async fn server_dry_run(
    check: &ServerCheck,
    kube: &Kube,
    sts: &StatefulSet,
    plan: &Plan,
    resumed: bool,
) -> ServerDryRun {
    let api: Api<StatefulSet> = kube.api_in(&plan.namespace);
    let name = plan.stateful_set.as_str();
    let mut run = ServerDryRun::default();
    if !resumed {
        let text = Journal::new(plan, Timestamp::now()).to_annotation();
        check_journal_write(check, &api, sts, SCALE_ANNOTATION, "scale", &text, &mut run).await;
    }
    let journal = sts.annotations().get(SCALE_ANNOTATION).map(String::as_str);
    let mut from = sts.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let mut last: Option<usize> = None;
    while from != plan.to {
        let to = match plan.direction {
            Direction::Down if from > plan.to => from - 1,
            Direction::Up if from < plan.to => plan.to,
            _ => break,
        };
        let what = format!("scale StatefulSet {name} from {from} to {to}");
        let answer = match last {
            Some(step) => ServerAnswer::NotChecked { depends_on: step },
            None => {
                let patch = patches::scale_replicas(sts, from, to, SCALE_ANNOTATION, journal);
                ServerAnswer::of_written(check.patch(&api, name, &patch, &what).await)
            }
        };
        last = Some(run.add(what, answer));
        from = to;
    }
    if let (Some(last), Direction::Down, Claims::Prune) = (last, plan.direction, plan.claims) {
        let what = format!("prune the claims of the members removed (pvc prune's writes) of {name}");
        run.add(what, ServerAnswer::NotChecked { depends_on: last });
    }
    check_journal_removal(check, &api, sts, SCALE_ANNOTATION, "scale", &mut run).await;
    run
}

/// Removes the journal and says the run is done.
async fn finish(
    mover: &Mover<'_>,
    reporter: &mut Reporter<'_>,
    ours: &StatefulSet,
    plan: &Plan,
    started: Instant,
) -> Result<()> {
    write_journal(mover, ours, None).await?;
    let members = plan.members.len() - plan.done.len();
    reporter.event(Event::Finished { members, seconds: started.elapsed().as_secs_f64() })
}

/// Runs every decommission hook of `member` until it passes (tried again every [`RETRY`] until
/// the run's timeout): then the member has left its cluster.
async fn decommission(
    mover: &Mover<'_>,
    reporter: &mut Reporter<'_>,
    waiter: &mut Waiter,
    sts: &StatefulSet,
    member: &Member,
) -> Result<()> {
    let runs = gate_runs::runs(&mover.gates, sts, &[member.ordinal]);
    let http = match mover.gates.http.is_empty() {
        true => None,
        false => Some(http_client()?),
    };
    let state = format!("{} has not left yet (its hooks did not all pass); nothing was removed", member.pod);
    let until = deadline(mover.timeout);
    for run in &runs {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = try_gate(mover.kube, run, &mover.gates, http.as_ref()).await?;
            let (pod, hook, hook_kind) = (member.pod.clone(), run.gate.clone(), run.kind);
            if outcome.passed {
                reporter.event(Event::HookPassed { pod, hook, hook_kind, attempt })?;
                break;
            }
            reporter.event(Event::HookFailed {
                pod,
                hook,
                hook_kind,
                attempt,
                output: outcome.output.clone(),
            })?;
            let again = tokio::time::Instant::now() + RETRY;
            if again >= until {
                return Err(mover.stopped(
                    format!(
                        "the decommission hook '{}' of {} did not pass in {attempt} tries (last: {})",
                        run.expanded, member.pod, outcome.output
                    ),
                    state,
                ));
            }
            waiter.pause(&mover.words(state.clone()), again).await?;
        }
    }
    Ok(())
}

/// Where an interruption leaves the run, from the set as this run last wrote it.
fn left(plan: &Plan, journal: &Journal, ours: &StatefulSet) -> String {
    let replicas = ours.spec.as_ref().and_then(|s| s.replicas).unwrap_or(plan.from);
    let name = &plan.stateful_set;
    match plan.direction {
        Direction::Up => format!("{name} is at {replicas} replicas (the new members may still be starting)"),
        _ => {
            let removed: Vec<&str> = plan
                .members
                .iter()
                .filter(|m| !ordinal_range(ours).contains(m.ordinal))
                .map(|m| m.pod.as_str())
                .collect();
            let waiting: Vec<&str> = plan
                .members
                .iter()
                .filter(|m| journal.left.contains(&m.ordinal) && ordinal_range(ours).contains(m.ordinal))
                .map(|m| m.pod.as_str())
                .collect();
            let mut text = format!("{name} is at {replicas} replicas");
            if !removed.is_empty() {
                text.push_str(&format!(" ({} removed)", removed.join(", ")));
            }
            if !waiting.is_empty() {
                text.push_str(&format!(", {} left its cluster and is not removed yet", waiting.join(", ")));
            }
            text
        }
    }
}

/// Writes the journal on `sts` (or removes it), guarded by its uid and the journal as read.
async fn write_journal(
    mover: &Mover<'_>,
    sts: &StatefulSet,
    journal: Option<&Journal>,
) -> Result<StatefulSet> {
    let text = journal.map(Journal::to_annotation);
    if sts.annotations().get(SCALE_ANNOTATION) == text.as_ref() {
        return Ok(sts.clone());
    }
    let api: Api<StatefulSet> = mover.kube.api_in(&sts.namespace().unwrap_or_default());
    let patch = patches::maintenance_journal(sts, SCALE_ANNOTATION, text.as_deref());
    let what = if journal.is_some() { "write the scale journal" } else { "remove the scale journal" };
    written(mover, sts, mover.writer.patch(&api, &sts.name_any(), &patch, what).await?, "its scale journal")
}

/// Sets the replicas of `sts` from `from` to `to`, guarded by its uid, the count read and the
/// journal as this run wrote it.
async fn set_replicas(mover: &Mover<'_>, sts: &StatefulSet, from: i32, to: i32) -> Result<StatefulSet> {
    let api: Api<StatefulSet> = mover.kube.api_in(&sts.namespace().unwrap_or_default());
    let journal = sts.annotations().get(SCALE_ANNOTATION).map(String::as_str);
    let patch = patches::scale_replicas(sts, from, to, SCALE_ANNOTATION, journal);
    let what = format!("scale StatefulSet {} from {from} to {to}", sts.name_any());
    written(
        mover,
        sts,
        mover.writer.patch(&api, &sts.name_any(), &patch, &what).await?,
        "its replicas or journal",
    )
}

/// The set as written, or the stop that says why not (gone, or changed by someone else).
fn written(
    mover: &Mover<'_>,
    sts: &StatefulSet,
    outcome: Written<StatefulSet>,
    what: &str,
) -> Result<StatefulSet> {
    match outcome {
        Written::Done(sts) => Ok(sts),
        Written::Gone => Err(mover.stopped(
            format!("StatefulSet {} was deleted", sts.name_any()),
            "nothing more was changed".into(),
        )),
        Written::Changed(changed) => {
            let by = changed.by().map(|m| format!(" by {}", m.describe())).unwrap_or_default();
            Err(mover.stopped(
                format!(
                    "{} of {} changed since it was read{by} (another run, or a scale?)",
                    what,
                    sts.name_any()
                ),
                "nothing of theirs was overwritten".into(),
            ))
        }
    }
}

/// What the run needs to be allowed before it changes anything.
async fn require_permissions(kube: &Kube, plan: &Plan) -> Result<()> {
    let namespace = plan.namespace.as_str();
    let mut needed = vec![Permission {
        verb: "patch",
        group: "apps",
        resource: "statefulsets",
        namespace: Some(namespace),
        subresource: None,
    }];
    if plan.direction == Direction::Down && !plan.hooks.exec.is_empty() {
        needed.push(Permission {
            verb: "create",
            group: "",
            resource: "pods",
            namespace: Some(namespace),
            subresource: Some("exec"),
        });
    }
    if plan.direction == Direction::Down && plan.claims == Claims::Prune {
        needed.push(Permission {
            verb: "delete",
            group: "",
            resource: "persistentvolumeclaims",
            namespace: Some(namespace),
            subresource: None,
        });
        if plan.snapshot {
            needed.push(Permission {
                verb: "create",
                group: crate::core::volume_snapshots::GROUP,
                resource: "volumesnapshots",
                namespace: Some(namespace),
                subresource: None,
            });
            needed.push(Permission {
                verb: "patch",
                group: crate::core::volume_snapshots::GROUP,
                resource: "volumesnapshotcontents",
                namespace: None,
                subresource: None,
            });
        }
    }
    access::require(kube, &needed, "nothing was changed").await
}

/// The plan: on stdout as text, or as the first event.
fn show(reporter: &mut Reporter<'_>, plan: &Plan) -> Result<()> {
    if reporter.format == Format::Json {
        let plan = serde_json::to_value(plan).expect("a plan always serializes");
        return reporter.event(Event::Plan { plan });
    }
    let resumed = if plan.resumed { ", resumed from its journal" } else { "" };
    let head = format!(
        "Scale of {} (namespace {}) from {} to {}{resumed}",
        plan.stateful_set, plan.namespace, plan.from, plan.to
    );
    let mut lines = Vec::new();
    match plan.direction {
        Direction::None => lines.push(format!("{head}: nothing to do")),
        Direction::Up => lines.push(format!(
            "{head}: replicas set to {} (guarded), then wait until each new member is Ready",
            plan.to
        )),
        Direction::Down => lines.push(format!(
            "{head}: one member at a time, highest ordinal first, each only while every other is up, keeping {}",
            plan.quorum.map(|q| q.describe()).unwrap_or_default()
        )),
    }
    for (i, m) in plan.members.iter().enumerate() {
        let mut line = format!("  {}. {}", i + 1, m.pod);
        if let Some(uid) = &m.uid {
            line.push_str(&format!("  uid {uid}  on {}", m.node.as_deref().unwrap_or("-")));
        }
        let claims: Vec<String> = m
            .claims
            .iter()
            .map(|c| {
                let fate = match c.fate {
                    Fate::Kept => "kept".to_owned(),
                    Fate::Pruned => "pruned".to_owned(),
                    Fate::KeptByPrune => format!("kept: {}", c.reason.as_deref().unwrap_or("prune keeps it")),
                    Fate::DeletedByController => "deleted by the controller (whenScaled: Delete)".to_owned(),
                    Fate::Stale => "exists: its old data".to_owned(),
                    Fate::Restored => c.reason.clone().unwrap_or_else(|| "restored".to_owned()),
                };
                format!("{} ({fate})", c.name)
            })
            .collect();
        if !claims.is_empty() {
            line.push_str(&format!("  claims: {}", claims.join(", ")));
        }
        if plan.done.contains(&m.ordinal) {
            line.push_str("  (removed)");
        } else if plan.left.contains(&m.ordinal) {
            line.push_str("  (left its cluster)");
        }
        lines.push(line);
    }
    if plan.direction == Direction::Down {
        let hooks = match plan.hooks.exec.is_empty() && plan.hooks.http.is_empty() {
            true => "no decommission hook (the member does not leave its cluster first)".to_owned(),
            false => {
                let mut parts: Vec<String> =
                    plan.hooks.exec.iter().map(|c| format!("exec '{}' in the member", one_line(c))).collect();
                parts.extend(plan.hooks.http.iter().map(|u| format!("POST {u} answers 2xx")));
                format!("its decommission hooks, tried until they pass (it has left): {}", parts.join("; "))
            }
        };
        lines.push(format!(
            "Each: {hooks}; then replicas down by one (guarded); then wait until its pod is gone"
        ));
        lines.push(match plan.claims {
            Claims::Keep => {
                "Claims: keep (a later scale-up re-attaches them, with their old data)".to_owned()
            }
            Claims::Prune => format!(
                "Claims: prune, through pvc prune's rules and guards, once the members are gone{}",
                if plan.snapshot { ", each snapshotted first" } else { "" }
            ),
        });
    }
    for line in lines {
        std::io::Write::write_all(&mut reporter.io.out, format!("{line}\n").as_bytes())
            .map_err(output_error)?;
    }
    Ok(())
}
