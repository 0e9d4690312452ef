//! `kubectl stateful restart NAME [ORDINAL…]`: restart exactly the chosen members, one at a
//! time, each only while the set keeps its quorum, by eviction (budgets honoured) or delete;
//! the next once the replacement is Ready, has soaked and passed the gates. The plan and the
//! decisions are [`crate::core::maintenance::restart`]'s; this fetches, asks, applies and waits.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use super::maintenance::{
    Discard, Event, Format, Mover, Reporter, check_journal_removal, check_journal_write, check_take_down,
    discard_set_journal, pod_of,
};
use crate::access::{self, Permission};
use crate::client::{Kube, KubeArgs};
use crate::cmd::gates::{check_gate_urls, environment};
use crate::core::advice::shell_word;
use crate::core::maintenance::replace::Target;
use crate::core::maintenance::restart::{
    Journal, Next, Order, Plan, RESTART_ANNOTATION, Request, Seen, next, plan,
};
use crate::core::maintenance::{Method, WaitWords, going_down};
use crate::core::objects::pods_of;
use crate::core::patches;
use crate::core::rollout::gates::Gates;
use crate::error::{Error, Result};
use crate::fetch;
use crate::output::{RESTART_EVENT, Streams, output_error};
use crate::ui::Terminal;
use crate::wait::{Kinds, Showing, Until, Waiter, Wake, deadline};
use crate::write::{DryRun, Mode, ServerAnswer, ServerCheck, ServerDryRun, Writer, Written};

pub const LONG_ABOUT: &str = "\
Restart exactly the chosen members of a StatefulSet (all by default), one at a time: each pod is
evicted (PodDisruptionBudgets honoured) or with --delete deleted, only while the set keeps its
quorum (the majority of its members, or --min-available, with no other member down), and the
next goes only once the replacement (the same name with a new uid) is Ready, has stayed Ready for
--soak and passed the gates. Works under OnDelete and below a partition, where `kubectl rollout
restart` does not; members not chosen keep their pods.

The plan is shown first; on a terminal you confirm it, elsewhere pass --yes. The run is journaled
on the StatefulSet (annotation kubectl-stateful.dev/restart): run the same command again to
resume an interrupted restart.";

pub const EXAMPLES: &str = "\
Examples:
  kubectl stateful restart etcd 2                      # one member
  kubectl stateful restart etcd --soak 30s --gate-exec 'etcdctl endpoint health'
  kubectl stateful restart web 0 2 --order as-given --yes -o json
  kubectl stateful restart web --dry-run
  kubectl stateful restart web                         # resume an interrupted restart";

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The StatefulSet
    #[arg(value_parser = crate::parse::object_name)]
    pub name: String,

    /// The ordinals to restart [default: every member]
    #[arg(value_name = "ORDINAL", value_parser = clap::value_parser!(i32).range(0..))]
    pub ordinals: Vec<i32>,

    /// In which order the members go
    #[arg(long, value_enum, default_value_t)]
    pub order: Order,

    /// Delete each pod instead of evicting it (no PodDisruptionBudget is asked)
    #[arg(long)]
    pub delete: bool,

    /// Members that must stay up [default: the majority, floor(n/2)+1]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
    pub min_available: Option<i32>,

    /// How long each replacement must stay Ready, without a container restart, before the next
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = crate::parse::duration)]
    pub soak: Duration,

    /// After each replacement, run CMD with `sh -c` in it; exit 0 passes, else it is tried again
    /// until --timeout ({pod}, {ordinal}, {namespace} are filled in; repeatable)
    #[arg(long, value_name = "CMD", help_heading = "Gates")]
    pub gate_exec: Vec<String>,

    /// The container --gate-exec runs in [default: the pod's first]
    #[arg(long, value_name = "NAME", requires = "gate_exec", help_heading = "Gates")]
    pub gate_container: Option<String>,

    /// After each replacement, GET URL until it answers 2xx (a redirect is not followed); a
    /// credential in it must come from the environment, named as ${NAME} (repeatable)
    #[arg(long, value_name = "URL", help_heading = "Gates")]
    pub gate_http: Vec<String>,

    /// The body of each --gate-http answer must contain TEXT
    #[arg(long, value_name = "TEXT", requires = "gate_http", help_heading = "Gates")]
    pub gate_http_expect: Option<String>,

    /// How long one try of a gate may take
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::parse::duration, help_heading = "Gates")]
    pub gate_timeout: Duration,

    /// How long each wait may take (a replacement, a budget, the quorum, a gate)
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::parse::duration)]
    pub timeout: Duration,

    /// Show the journal of an interrupted restart and remove it; no pod is touched
    #[arg(long, conflicts_with_all = ["ordinals", "delete", "min_available", "gate_exec", "gate_http"])]
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
    fn gates(&self) -> Gates {
        Gates {
            exec: self.gate_exec.clone(),
            container: self.gate_container.clone(),
            http: self.gate_http.clone(),
            http_expect: self.gate_http_expect.clone(),
            try_seconds: self.gate_timeout.as_secs().max(1),
            ..Gates::default()
        }
    }
}

pub async fn run(args: Args, kube_args: &KubeArgs, term: &Terminal, io: &mut Streams) -> Result<()> {
    // Bad gate URLs are usage errors, refused before anything is read (shown masked).
    check_gate_urls(&args.gate_http)?;
    let mut reporter = Reporter { io, format: args.output, kind: RESTART_EVENT, term: *term };
    let result = restart(&args, kube_args, term, &mut reporter).await;
    if let Err(error) = &result {
        reporter.ended(error);
    }
    result
}

async fn restart(
    args: &Args,
    kube_args: &KubeArgs,
    term: &Terminal,
    reporter: &mut Reporter<'_>,
) -> Result<()> {
    let kube = kube_args.connect().await?;
    let namespace = kube.namespace.clone();
    let sts = fetch::statefulset(&kube, &namespace, &args.name).await?;
    let resume = kube.flags.plugin(&namespace, &format!("restart {}", shell_word(&args.name)));
    if args.discard_journal {
        let discard = Discard {
            command: "restart",
            annotation: RESTART_ANNOTATION,
            after: "no pod is touched".to_owned(),
            again: kube
                .flags
                .plugin(&namespace, &format!("restart {} --discard-journal", shell_word(&args.name))),
            dry_run: args.dry_run,
            yes: args.yes,
        };
        return discard_set_journal(&kube, &sts, &discard, term, reporter).await;
    }
    let journal = Journal::of(&sts, &kube.flags)?;
    let (pods, budgets, claims, volumes) = read(&kube, &namespace, &sts).await?;
    let by_name: HashMap<&str, &PersistentVolume> =
        volumes.iter().map(|v| (v.metadata.name.as_deref().unwrap_or_default(), v)).collect();
    let request = Request {
        ordinals: args.ordinals.clone(),
        order: args.order,
        method: if args.delete { Method::Delete } else { Method::Evict },
        min_available: args.min_available,
        gates: args.gates(),
        soak_seconds: args.soak.as_secs(),
        flags: kube.flags.clone(),
    };
    let seen =
        Seen { sts: &sts, pods: &pods, nodes: None, budgets: &budgets, claims: &claims, volumes: &by_name };
    let plan = plan(&seen, &request, journal.as_ref())?;
    // The variables its HTTP gates name (a resumed run's journaled ones too), before any write.
    plan.gates.check_environment(environment)?;
    show(reporter, &plan)?;
    let Some(writer) = Writer::of(&kube, Mode::from_dry_run(args.dry_run), format!("`{resume}` resumes it"))
    else {
        reporter.io.say("dry run: nothing was changed");
        if let Some(check) = ServerCheck::of(&kube, Mode::from_dry_run(args.dry_run)) {
            let server = server_dry_run(&check, &kube, &sts, &pods, &plan, journal.is_some()).await;
            return reporter.server_dry_run(&server);
        }
        return Ok(());
    };
    let verb = if plan.method == Method::Delete {
        ("delete", "pods", None)
    } else {
        ("create", "pods", Some("eviction"))
    };
    access::require(
        &kube,
        &[
            Permission {
                verb: verb.0,
                group: "",
                resource: verb.1,
                namespace: Some(&namespace),
                subresource: verb.2,
            },
            Permission {
                verb: "patch",
                group: "apps",
                resource: "statefulsets",
                namespace: Some(&namespace),
                subresource: None,
            },
        ],
        "nothing was changed",
    )
    .await?;
    let pending: Vec<&str> =
        plan.members.iter().filter(|t| !plan.done.contains(&t.ordinal)).map(|t| t.pod.as_str()).collect();
    let question = format!("Restart {} one at a time?", pending.join(", "));
    if !reporter.io_confirm(term, args.yes, &question)? {
        reporter.io.say(format_args!("not confirmed: {} was left as it was", plan.stateful_set));
        return Ok(());
    }
    let mover = Mover {
        method: plan.method,
        gates: plan.gates.clone(),
        soak: Duration::from_secs(plan.soak_seconds),
        ..Mover::new(&kube, writer, args.timeout, format!("the restart of {}", plan.stateful_set), resume)
    };
    let request_timeout =
        kube_args.request_timeout.filter(|t| !t.is_zero()).unwrap_or(Duration::from_secs(30));
    let kinds = Kinds { budgets: true, ..Kinds::default() };
    let mut waiter = Waiter::start(&kube, &sts, kinds, request_timeout).await?;
    let mut journal = journal.unwrap_or_else(|| new_journal(&plan));
    let mut ours = write_journal(&mover, &sts, Some(&journal)).await?;
    let started = Instant::now();
    let mut said: Option<String> = None;
    // The uid this run took down last: until the watch shows it going, the member still looks
    // pending.
    let mut taken: Option<String> = None;
    loop {
        let words = mover.words(left(&plan, &journal));
        let how = Until { deadline: deadline(args.timeout), words: &words, ours: None };
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
                    let seen = Seen {
                        sts,
                        pods: &view.pods,
                        nodes: None,
                        budgets: &[],
                        claims: &[],
                        volumes: &by_name,
                    };
                    Ok(match next(&plan, &journal.done, &seen, now) {
                        Next::Wait(waiting) => {
                            waited.replace(Some(waiting.words(&view.pods)));
                            let reason = waiting.describe();
                            if said.as_ref() != Some(&reason) {
                                reporter.event(Event::Waiting {
                                    pod: waiting.target().pod.clone(),
                                    reason: reason.clone(),
                                })?;
                                said = Some(reason);
                            }
                            Wake::Soon
                        }
                        Next::TakeDown(t) if taken.as_ref() == Some(&t.uid) => {
                            waited.replace(Some(going_down(&t, &view.pods)));
                            Wake::Soon
                        }
                        step => Wake::Done(Some(step)),
                    })
                },
                |_| Ok(None),
            )
            .await?;
        progress.finish();
        let Some(now_sts) = view.sts.clone() else {
            return Err(mover.stopped(
                format!("StatefulSet {} was deleted", plan.stateful_set),
                "nothing more was restarted".into(),
            ));
        };
        let Some(step) = step else {
            let reason = said.clone().unwrap_or_else(|| "no progress".to_owned());
            return Err(mover.stopped(
                format!("{reason} after {}", humantime::format_duration(args.timeout)),
                left(&plan, &journal),
            ));
        };
        said = None;
        match step {
            Next::Wait(_) => {}
            Next::TakeDown(target) => {
                let Some(pod) = member_pod(&now_sts, &view.pods, &target) else { continue };
                mover.take_down(reporter, &mut waiter, &now_sts, &target, &pod).await?;
                taken = Some(target.uid.clone());
            }
            Next::Verify { target, uid, node } => {
                reporter.event(Event::Replaced {
                    pod: target.pod.clone(),
                    old_uid: target.uid.clone(),
                    uid: uid.clone(),
                    node,
                })?;
                mover.verify(reporter, &mut waiter, &now_sts, &target, &uid).await?;
                journal.done.push(target.ordinal);
                ours = write_journal(&mover, &ours, Some(&journal)).await?;
                reporter.event(Event::MemberDone { pod: target.pod.clone() })?;
            }
            Next::Finished => {
                write_journal(&mover, &ours, None).await?;
                let members = plan.members.len() - plan.done.len();
                let seconds = started.elapsed().as_secs_f64();
                return reporter.event(Event::Finished { members, seconds });
            }
        }
    }
}

/// The pod of `target` as seen, if it is still the uid read.
fn member_pod(sts: &StatefulSet, pods: &[Pod], target: &Target) -> Option<Pod> {
    pods_of(sts, pods)
        .into_iter()
        .find(|(o, p)| *o == target.ordinal && p.uid().as_deref() == Some(&target.uid))
        .map(|(_, p)| p.clone())
}

/// Where an interruption leaves the run.
fn left(plan: &Plan, journal: &Journal) -> String {
    let done: Vec<&str> =
        plan.members.iter().filter(|t| journal.done.contains(&t.ordinal)).map(|t| t.pod.as_str()).collect();
    match done.is_empty() {
        true => format!("no member of {} was restarted yet (one may be being replaced)", plan.stateful_set),
        false => format!("{} restarted (the next may be being replaced)", done.join(", ")),
    }
}

/// Writes the journal on `sts` (or removes it), guarded by its uid and the journal as read.
async fn write_journal(
    mover: &Mover<'_>,
    sts: &StatefulSet,
    journal: Option<&Journal>,
) -> Result<StatefulSet> {
    let text = journal.map(Journal::to_annotation);
    if sts.annotations().get(RESTART_ANNOTATION) == text.as_ref() {
        return Ok(sts.clone());
    }
    let api: Api<StatefulSet> = mover.kube.api_in(&sts.namespace().unwrap_or_default());
    let patch = patches::maintenance_journal(sts, RESTART_ANNOTATION, text.as_deref());
    let what = if journal.is_some() { "write the restart journal" } else { "remove the restart journal" };
    match mover.writer.patch(&api, &sts.name_any(), &patch, what).await? {
        Written::Done(sts) => Ok(sts),
        Written::Gone => Err(mover.stopped(
            format!("StatefulSet {} was deleted", sts.name_any()),
            "nothing more was restarted".into(),
        )),
        Written::Changed(_) => Err(mover.stopped(
            format!("the restart journal of {} changed since it was read (another run?)", sts.name_any()),
            "nothing more was restarted".into(),
        )),
    }
}

/// The journal a new run writes before its first member goes.
fn new_journal(plan: &Plan) -> Journal {
    Journal {
        started_at: Timestamp::now(),
        members: plan.members.clone(),
        done: Vec::new(),
        method: plan.method,
        min_available: plan.quorum.given.then_some(plan.quorum.floor),
        gates: plan.gates.clone(),
        soak_seconds: plan.soak_seconds,
    }
}

/// `--dry-run=server`: the writes of the plan in order, those that can be judged now sent with
/// `dryRun=All`: the journal (a new run's) and taking the first member down (its eviction or
/// delete). Each later member goes only once the one before is back: not checked, nor is the
/// journal's removal at the end. The journal's updates between members are not listed.
async fn server_dry_run(
    check: &ServerCheck,
    kube: &Kube,
    sts: &StatefulSet,
    pods: &[Pod],
    plan: &Plan,
    resumed: bool,
) -> ServerDryRun {
    let api: Api<StatefulSet> = kube.api_in(&plan.namespace);
    let mut run = ServerDryRun::default();
    if !resumed {
        let text = new_journal(plan).to_annotation();
        check_journal_write(check, &api, sts, RESTART_ANNOTATION, "restart", &text, &mut run).await;
    }
    let mut last: Option<usize> = None;
    for target in plan.members.iter().filter(|t| !plan.done.contains(&t.ordinal)) {
        // A member whose pod was replaced already (a resumed run) is only waited for.
        let Some(pod) = pod_of(pods, target) else { continue };
        let (what, answer) = match last {
            Some(step) => {
                let verb = if plan.method == Method::Delete { "delete" } else { "evict" };
                (format!("{verb} pod {}", target.qualified()), ServerAnswer::NotChecked { depends_on: step })
            }
            None => check_take_down(check, kube, plan.method, target, pod).await,
        };
        last = Some(run.add(what, answer));
    }
    check_journal_removal(check, &api, sts, RESTART_ANNOTATION, "restart", &mut run).await;
    run
}

async fn read(
    kube: &Kube,
    namespace: &str,
    sts: &StatefulSet,
) -> Result<(Vec<Pod>, Vec<PodDisruptionBudget>, Vec<PersistentVolumeClaim>, Vec<PersistentVolume>)> {
    let pods: Api<Pod> = kube.api_in(namespace);
    let budgets: Api<PodDisruptionBudget> = kube.api_in(namespace);
    let claims: Api<PersistentVolumeClaim> = kube.api_in(namespace);
    let volumes: Api<PersistentVolume> = kube.api_all();
    let selector = crate::core::objects::selector(sts).map(|s| s.to_string()).unwrap_or_default();
    let (pods, budgets, claims) = tokio::try_join!(
        async { pods.list(&ListParams::default().labels(&selector)).await.map_err(Error::kube("list pods")) },
        async {
            budgets.list(&ListParams::default()).await.map_err(Error::kube("list PodDisruptionBudgets"))
        },
        async {
            claims.list(&ListParams::default()).await.map_err(Error::kube("list PersistentVolumeClaims"))
        },
    )?;
    // Volumes are read to judge pinned members; without the right to, they are not judged.
    let volumes = volumes.list(&ListParams::default()).await.map(|l| l.items).unwrap_or_default();
    Ok((pods.items, budgets.items, claims.items, volumes))
}

/// The plan: on stdout as text, or as the first event.
fn show(reporter: &mut Reporter<'_>, plan: &Plan) -> Result<()> {
    if reporter.format == Format::Json {
        let plan = serde_json::to_value(plan).expect("a plan always serializes");
        return reporter.event(Event::Plan { plan });
    }
    let out = &mut reporter.io.out;
    let mut lines = vec![format!(
        "Restart of {} (namespace {}){}: one member at a time, keeping {}",
        plan.stateful_set,
        plan.namespace,
        if plan.resumed { ", resumed from its journal" } else { "" },
        plan.quorum.describe()
    )];
    for (i, t) in plan.members.iter().enumerate() {
        let done = if plan.done.contains(&t.ordinal) { "  (done)" } else { "" };
        lines.push(format!(
            "  {}. {}  uid {}  on {}{done}",
            i + 1,
            t.pod,
            t.uid,
            t.node.as_deref().unwrap_or("-")
        ));
    }
    if !plan.untouched.is_empty() {
        lines.push(format!("Not touched: {}", plan.untouched.join(", ")));
    }
    lines.push(format!(
        "Each: {}; then wait until its replacement is Ready{}{}",
        match plan.method {
            Method::Evict => "evicted (PodDisruptionBudgets honoured)",
            Method::Delete => "deleted (--delete: no budget is asked)",
        },
        if plan.soak_seconds > 0 {
            format!(", stays Ready for {}s", plan.soak_seconds)
        } else {
            String::new()
        },
        if plan.gates.exec.is_empty() && plan.gates.http.is_empty() {
            String::new()
        } else {
            format!(", passes: {}", plan.gates.describe())
        }
    ));
    for line in lines {
        std::io::Write::write_all(out, format!("{line}\n").as_bytes()).map_err(output_error)?;
    }
    Ok(())
}

impl Reporter<'_> {
    /// Asks on a terminal (or takes --yes); elsewhere refuses with the way to pass --yes.
    pub fn io_confirm(&mut self, term: &Terminal, yes: bool, question: &str) -> Result<bool> {
        term.confirm(yes, question)
    }
}
