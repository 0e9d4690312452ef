//! `kubectl stateful drain NODE…`: cordon the nodes, then move the StatefulSet members on them
//! one at a time, each only while its set keeps its quorum, the next once the replacement (the
//! same name with a new uid) is Ready on another node, has soaked and passed the gates. Pods
//! that are not StatefulSet members are left to `kubectl drain`. The plan and decisions are
//! [`crate::core::maintenance::drain`]'s; this fetches, asks, applies and waits.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{DaemonSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use super::maintenance::{
    Discard, Event, Format, Mover, RETRY, Reporter, check_take_down, discard_journal, pod_of,
};
use crate::access::{self, Permission};
use crate::client::{Kube, KubeArgs};
use crate::cmd::gates::{check_gate_urls, environment};
use crate::core::advice::shell_word;
use crate::core::maintenance::Method;
use crate::core::maintenance::drain::{
    Action, AllPods, DRAIN_ANNOTATION, Journal, MinAvailable, Next, Other, Plan, Request, Return, Seen, next,
    next_return, plan,
};
use crate::core::maintenance::replace::Target;
use crate::core::maintenance::{WaitWords, going_down};
use crate::core::objects::{controller_of, selector, terminating};
use crate::core::patches;
use crate::core::rollout::gates::Gates;
use crate::error::{Error, Result, Stop};
use crate::output::{DRAIN_EVENT, Streams, output_error};
use crate::ui::Terminal;
use crate::wait::{Kinds, Showing, Shown, Until, View, Waiter, Wake, deadline};
use crate::write::{DryRun, Evicted, Mode, ServerAnswer, ServerCheck, ServerDryRun, Writer, Written};

pub const LONG_ABOUT: &str = "\
Drain nodes of StatefulSet members without losing any set's quorum: cordon the nodes, then for
each StatefulSet pod on them, one at a time, check that its set keeps its quorum (the majority
of its members, or --min-available, with no other member down anywhere), evict it (budgets
honoured; a refusal names the budget and its numbers) and wait until its replacement, the same
name with a new uid, is Ready on another node, has stayed Ready for --soak and passed the gates.
It follows each member by its uid, so a replacement under the same name does not make it wait
for ever (kubernetes#138229).

Refused before the cordon: a member whose volume is pinned to a node being drained (a local or
zonal volume: it could start nowhere else; with --wait-for-return it goes down with the node
once the others moved, and the run waits until the node is uncordoned and it is Ready there
again), a set whose quorum tolerates nobody down, a budget that never allows an eviction.
Pods that are not StatefulSet members are left to `kubectl drain`, which is printed; with
--all-pods they are evicted after the members by kubectl drain's rules (--force,
--ignore-daemonsets, --delete-emptydir-data, --grace-period; a pod that needs a flag not given
refuses the drain before the cordon). The nodes stay cordoned; the run is journaled on the
first node named (annotation kubectl-stateful.dev/drain): run the same command again to resume.";

pub const EXAMPLES: &str = "\
Examples:
  kubectl stateful drain node-7 --dry-run
  kubectl stateful drain node-7 --soak 30s --gate-exec 'etcdctl endpoint health' --yes
  kubectl stateful drain node-7 node-8 --min-available etcd=3 -o json --yes
  kubectl stateful drain node-7 --all-pods --ignore-daemonsets --delete-emptydir-data --yes
  kubectl stateful drain node-7 --wait-for-return --timeout 1h --yes
  kubectl stateful drain node-7                      # resume an interrupted drain";

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The nodes
    #[arg(required = true, value_name = "NODE", value_parser = crate::parse::object_name)]
    pub nodes: Vec<String>,

    /// Members that must stay up: N for every set, or NAME=N (NAMESPACE/NAME=N) for one
    /// [default: each set's majority, floor(n/2)+1] (repeatable)
    #[arg(long, value_name = "N|NAME=N", value_parser = parse_min_available)]
    pub min_available: Vec<String>,

    /// How long each replacement must stay Ready, without a container restart, before the next
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = crate::parse::duration)]
    pub soak: Duration,

    /// After each replacement, run CMD with `sh -c` in it; exit 0 passes ({pod}, {ordinal},
    /// {namespace} are filled in; repeatable)
    #[arg(long, value_name = "CMD", help_heading = "Gates")]
    pub gate_exec: Vec<String>,

    /// After each replacement, GET URL until it answers 2xx (a redirect is not followed); a
    /// credential in it must come from the environment, named as ${NAME} (repeatable)
    #[arg(long, value_name = "URL", help_heading = "Gates")]
    pub gate_http: Vec<String>,

    /// How long one try of a gate may take
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::parse::duration, help_heading = "Gates")]
    pub gate_timeout: Duration,

    /// How long each wait may take (a replacement, a budget, the quorum, a gate)
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::parse::duration)]
    pub timeout: Duration,

    /// Print the plan and change nothing
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_value_t, default_missing_value = "client", value_name = "HOW")]
    pub dry_run: DryRun,

    /// Do not ask for confirmation
    #[arg(short, long)]
    pub yes: bool,

    /// Output: text, or json for one event per line
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,

    /// After the members, evict the node's other pods by kubectl drain's rules (refused before
    /// the cordon where those need a flag below)
    #[arg(long, help_heading = "Other pods")]
    pub all_pods: bool,

    /// With --all-pods: evict pods that declare no controller too (or whose DaemonSet is gone)
    #[arg(long, requires = "all_pods", help_heading = "Other pods")]
    pub force: bool,

    /// With --all-pods: leave the DaemonSets' pods (their controller would put them back)
    #[arg(long, requires = "all_pods", help_heading = "Other pods")]
    pub ignore_daemonsets: bool,

    /// With --all-pods: evict pods with an emptyDir volume too (its data is lost)
    #[arg(long, requires = "all_pods", help_heading = "Other pods")]
    pub delete_emptydir_data: bool,

    /// With --all-pods: seconds each evicted pod has to end [default: its own]
    #[arg(long, value_name = "SECONDS", requires = "all_pods", help_heading = "Other pods")]
    pub grace_period: Option<u32>,

    /// A member whose volume is pinned to a node drained goes down with it (its set keeping its
    /// quorum), once the others moved; then wait, for --timeout, until the node is uncordoned and
    /// the member is Ready on it again
    #[arg(long)]
    pub wait_for_return: bool,

    /// Show the journal of an interrupted drain on NODE and remove it; the node stays cordoned
    /// and no pod is touched (a drain run after plans anew)
    #[arg(
        long,
        conflicts_with_all = ["min_available", "gate_exec", "gate_http", "all_pods", "wait_for_return"]
    )]
    pub discard_journal: bool,
}

impl Args {
    fn all_pods(&self) -> Option<AllPods> {
        self.all_pods.then_some(AllPods {
            force: self.force,
            ignore_daemonsets: self.ignore_daemonsets,
            delete_emptydir_data: self.delete_emptydir_data,
            grace_period_seconds: self.grace_period,
        })
    }
}

/// `N` or `NAME=N`, checked at parse time.
fn parse_min_available(text: &str) -> std::result::Result<String, String> {
    MinAvailable::default().add(text).map(|()| text.to_owned())
}

pub async fn run(args: Args, kube_args: &KubeArgs, term: &Terminal, io: &mut Streams) -> Result<()> {
    // Bad gate URLs are usage errors, refused before anything is read (shown masked).
    check_gate_urls(&args.gate_http)?;
    let mut reporter = Reporter { io, format: args.output, kind: DRAIN_EVENT, term: *term };
    let result = drain(&args, kube_args, term, &mut reporter).await;
    if let Err(error) = &result {
        reporter.ended(error);
    }
    result
}

/// `--discard-journal`: the journal is on the first node named, where a drain writes it.
async fn discard(kube: &Kube, args: &Args, term: &Terminal, reporter: &mut Reporter<'_>) -> Result<()> {
    let node_name = &args.nodes[0];
    let api: Api<Node> = kube.api_all();
    let node =
        api.get_opt(node_name).await.map_err(Error::kube(format!("read node {node_name}")))?.ok_or_else(
            || Error::NotFound { kind: "node", name: node_name.clone(), namespace: "the cluster".into() },
        )?;
    let discard = Discard {
        command: "drain",
        annotation: DRAIN_ANNOTATION,
        after: format!("{node_name} stays cordoned; no pod is touched"),
        again: kube.flags.plugin_cluster(&format!("drain {} --discard-journal", shell_word(node_name))),
        dry_run: args.dry_run,
        yes: args.yes,
    };
    discard_journal(kube, &api, &node, &discard, term, reporter).await
}

/// What was read.
struct Read {
    nodes: Vec<Node>,
    on_nodes: Vec<Pod>,
    sets: Vec<(StatefulSet, Vec<Pod>)>,
    budgets: Vec<PodDisruptionBudget>,
    claims: Vec<PersistentVolumeClaim>,
    volumes: Vec<PersistentVolume>,
    /// The journal on the first node named.
    journal: Option<Journal>,
}

async fn read(kube: &Kube, names: &[String]) -> Result<Read> {
    let nodes_api: Api<Node> = kube.api_all();
    let nodes = nodes_api.list(&ListParams::default()).await.map_err(Error::kube("list nodes"))?.items;
    for name in names {
        if !nodes.iter().any(|n| n.name_any() == *name) {
            return Err(Error::NotFound {
                kind: "node",
                name: name.clone(),
                namespace: "the cluster".into(),
            });
        }
    }
    let pods_api: Api<Pod> = Api::all(kube.client.clone());
    let mut on_nodes = Vec::new();
    for name in names {
        let fields = format!("spec.nodeName={name}");
        let list = pods_api
            .list(&ListParams::default().fields(&fields))
            .await
            .map_err(Error::kube(format!("list the pods on node {name}")))?;
        // Finished pods too: the plan leaves them out, or removes them with --all-pods.
        on_nodes.extend(list.items);
    }
    let anchor = nodes.iter().find(|n| n.name_any() == names[0]).expect("checked above");
    let journal = Journal::of(anchor, &kube.flags)?;
    let mut owners: BTreeSet<(String, String)> = on_nodes
        .iter()
        .filter_map(|p| {
            let owner = controller_of(p).filter(|o| o.kind == "StatefulSet")?;
            Some((p.namespace().unwrap_or_default(), owner.name.clone()))
        })
        .collect();
    // A resumed run follows the sets its journal names, wherever their members are now (a
    // replacement elsewhere, a pinned member down with its node).
    if let Some(journal) = &journal {
        owners.extend(
            journal
                .members
                .iter()
                .chain(&journal.pinned)
                .map(|t| (t.namespace.clone(), t.stateful_set.clone())),
        );
    }
    let namespaces: BTreeSet<&str> = owners.iter().map(|(n, _)| n.as_str()).collect();
    let mut sets = Vec::new();
    for (namespace, name) in &owners {
        let api: Api<StatefulSet> = kube.api_in(namespace);
        let Some(sts) =
            api.get_opt(name).await.map_err(Error::kube(format!("read StatefulSet {namespace}/{name}")))?
        else {
            continue;
        };
        let labels = selector(&sts).map(|s| s.to_string()).unwrap_or_default();
        let pods: Api<Pod> = kube.api_in(namespace);
        let pods = pods
            .list(&ListParams::default().labels(&labels))
            .await
            .map_err(Error::kube(format!("list the pods of {namespace}/{name}")))?;
        sets.push((sts, pods.items));
    }
    let mut budgets = Vec::new();
    let mut claims = Vec::new();
    for namespace in namespaces {
        let b: Api<PodDisruptionBudget> = kube.api_in(namespace);
        budgets.extend(
            b.list(&ListParams::default()).await.map_err(Error::kube("list PodDisruptionBudgets"))?.items,
        );
        let c: Api<PersistentVolumeClaim> = kube.api_in(namespace);
        claims.extend(
            c.list(&ListParams::default()).await.map_err(Error::kube("list PersistentVolumeClaims"))?.items,
        );
    }
    let volumes_api: Api<PersistentVolume> = kube.api_all();
    let volumes =
        volumes_api.list(&ListParams::default()).await.map_err(Error::kube("list PersistentVolumes"))?.items;
    Ok(Read { nodes, on_nodes, sets, budgets, claims, volumes, journal })
}

/// The DaemonSets that own pods in `pods` and still exist (`--all-pods`: an orphan needs
/// `--force`, as in kubectl drain).
async fn daemon_sets(kube: &Kube, pods: &[Pod]) -> Result<Vec<(String, String)>> {
    let owners: BTreeSet<(String, String)> = pods
        .iter()
        .filter_map(|p| {
            let owner = controller_of(p).filter(|o| o.kind == "DaemonSet")?;
            Some((p.namespace().unwrap_or_default(), owner.name.clone()))
        })
        .collect();
    let mut existing = Vec::new();
    for (namespace, name) in owners {
        let api: Api<DaemonSet> = kube.api_in(&namespace);
        let found =
            api.get_opt(&name).await.map_err(Error::kube(format!("read DaemonSet {namespace}/{name}")))?;
        if found.is_some() {
            existing.push((namespace, name));
        }
    }
    Ok(existing)
}

async fn drain(
    args: &Args,
    kube_args: &KubeArgs,
    term: &Terminal,
    reporter: &mut Reporter<'_>,
) -> Result<()> {
    if let (true, [_, extra, ..]) = (args.discard_journal, args.nodes.as_slice()) {
        return Err(Stop::DiscardOneNode { extra: extra.clone() }.into());
    }
    let kube = kube_args.connect().await?;
    if args.discard_journal {
        return discard(&kube, args, term, reporter).await;
    }
    let mut min_available = MinAvailable::default();
    for given in &args.min_available {
        // Checked at parse time already (parse_min_available).
        let _ = min_available.add(given);
    }
    let read = read(&kube, &args.nodes).await?;
    let anchor =
        read.nodes.iter().find(|n| n.name_any() == args.nodes[0]).expect("read checks every node").clone();
    let journal = read.journal.clone();
    let by_name: HashMap<&str, &PersistentVolume> =
        read.volumes.iter().map(|v| (v.metadata.name.as_deref().unwrap_or_default(), v)).collect();
    let request = Request {
        nodes: args.nodes.clone(),
        min_available,
        gates: Gates {
            exec: args.gate_exec.clone(),
            http: args.gate_http.clone(),
            try_seconds: args.gate_timeout.as_secs().max(1),
            ..Gates::default()
        },
        soak_seconds: args.soak.as_secs(),
        all_pods: args.all_pods(),
        wait_for_return: args.wait_for_return,
        flags: kube.flags.clone(),
    };
    let judged = journal.as_ref().map_or(request.all_pods, |j| j.all_pods).is_some();
    let daemon_sets = if judged { daemon_sets(&kube, &read.on_nodes).await? } else { Vec::new() };
    let seen = Seen {
        nodes: &read.nodes,
        on_nodes: &read.on_nodes,
        sets: &read.sets,
        budgets: &read.budgets,
        claims: &read.claims,
        volumes: &by_name,
        daemon_sets: &daemon_sets,
    };
    let plan = plan(&seen, &request, journal.as_ref())?;
    // The variables its HTTP gates name (a resumed run's journaled ones too), before any write.
    plan.gates.check_environment(environment)?;
    let nodes_words: Vec<String> = args.nodes.iter().map(|n| shell_word(n).into_owned()).collect();
    let resume = kube.flags.plugin_cluster(&format!("drain {}", nodes_words.join(" ")));
    let uncordon = kube.flags.kubectl_cluster(&format!("uncordon {}", nodes_words.join(" ")));
    let give_up =
        kube.flags.plugin_cluster(&format!("drain {} --discard-journal", shell_word(&args.nodes[0])));
    let kubectl_drain = kube.flags.kubectl_cluster(&format!(
        "drain {} --ignore-daemonsets --delete-emptydir-data",
        nodes_words.join(" ")
    ));
    show(reporter, &plan)?;
    let Some(writer) = Writer::of(&kube, Mode::from_dry_run(args.dry_run), format!("`{resume}` resumes it"))
    else {
        reporter.io.say("dry run: nothing was changed");
        if let Some(check) = ServerCheck::of(&kube, Mode::from_dry_run(args.dry_run)) {
            let journal = journal.unwrap_or_else(|| new_journal(&request, &plan));
            let server = server_dry_run(&check, &kube, &read, &plan, &journal).await;
            return reporter.server_dry_run(&server);
        }
        return Ok(());
    };
    let mut permissions =
        vec![Permission { verb: "patch", group: "", resource: "nodes", namespace: None, subresource: None }];
    let mut namespaces: BTreeSet<&str> =
        plan.members.iter().chain(&plan.pinned).map(|t| t.namespace.as_str()).collect();
    namespaces
        .extend(plan.others.iter().filter(|o| o.action == Some(Action::Evict)).map(|o| o.namespace.as_str()));
    permissions.extend(namespaces.iter().map(|ns| Permission {
        verb: "create",
        group: "",
        resource: "pods",
        namespace: Some(ns),
        subresource: Some("eviction"),
    }));
    access::require(&kube, &permissions, "nothing was changed").await?;
    let evicted = plan.others.iter().filter(|o| o.action == Some(Action::Evict)).count();
    let moving = plan.members.iter().filter(|t| !plan.done.contains(&t.qualified())).count();
    let pinned: Vec<String> =
        plan.pinned.iter().filter(|t| !plan.done.contains(&t.qualified())).map(Target::qualified).collect();
    let waiting_only = journal.as_ref().is_some_and(|j| j.pinned_down);
    let question = if waiting_only {
        format!("Go on waiting for {} to come back on {}?", pinned.join(", "), args.nodes.join(", "))
    } else {
        format!(
            "Cordon {} and move {moving} member{} one at a time{}{}?",
            args.nodes.join(", "),
            if moving == 1 { "" } else { "s" },
            match plan.all_pods {
                Some(_) => format!(", then evict {evicted} other pod{}", if evicted == 1 { "" } else { "s" }),
                None => String::new(),
            },
            match pinned.is_empty() {
                true => String::new(),
                false => format!(
                    ", then take {} down with the node and wait for it to come back",
                    pinned.join(", ")
                ),
            }
        )
    };
    if !term.confirm(args.yes, &question)? {
        reporter.io.say("not confirmed: nothing was changed");
        return Ok(());
    }
    let what = format!("the drain of {}", args.nodes.join(", "));
    let mover = Mover {
        gates: plan.gates.clone(),
        soak: Duration::from_secs(plan.soak_seconds),
        qualified: true,
        ..Mover::new(&kube, writer, args.timeout, what, resume.clone())
    };
    let mut journal = journal.unwrap_or_else(|| new_journal(&request, &plan));
    // Cordon every node first, so no replacement lands on a node drained next; the journal
    // goes on the first, in the same request.
    let mut anchor_now = anchor.clone();
    // Once the pinned members went down, the nodes are in their maintenance: a resume only waits,
    // and cordons nothing the person uncordoned.
    let cordoning: &[String] = if journal.pinned_down { &[] } else { &args.nodes };
    for name in cordoning {
        let node = read.nodes.iter().find(|n| n.name_any() == *name).expect("read checks every node");
        let text = (name == &args.nodes[0]).then(|| journal.to_annotation());
        let patch = patches::cordon_with_journal(node, DRAIN_ANNOTATION, text.as_deref());
        let api: Api<Node> = kube.api_all();
        match mover.writer.patch(&api, name, &patch, &format!("cordon node {name}")).await? {
            Written::Done(node) => {
                if name == &args.nodes[0] {
                    anchor_now = node;
                }
                reporter.event(Event::Cordoned { node: name.clone() })?;
            }
            Written::Gone | Written::Changed(_) => {
                return Err(mover.stopped(
                    format!("node {name} was deleted or replaced since it was read"),
                    "no member was moved".into(),
                ));
            }
        }
    }
    let request_timeout =
        kube_args.request_timeout.filter(|t| !t.is_zero()).unwrap_or(Duration::from_secs(30));
    let kinds = Kinds { budgets: true, nodes: true, ..Kinds::default() };
    let mut waiters: Vec<Waiter> = Vec::new();
    for (sts, _) in &read.sets {
        waiters.push(Waiter::start(&kube, sts, kinds, request_timeout).await?);
    }
    let started = Instant::now();
    let mut said: Option<String> = None;
    let mut taken: Option<String> = None;
    // The set waited on: the one of the member in flight, or held by its quorum.
    let mut focus = 0;
    loop {
        if waiters.is_empty() {
            break;
        }
        // Every set as it is now, not as when its watch was last waited on: the quorum check
        // of one set must not read another's past.
        waiters.iter_mut().for_each(Waiter::catch_up);
        let views: Vec<View> = waiters.iter().map(Waiter::view).collect();
        let words = mover.words(left(&plan, &journal));
        let how = Until { deadline: deadline(args.timeout), words: &words, ours: None };
        let mut waiting_on: Option<usize> = None;
        // What the wait says while it lasts: the condition words it, the progress line shows it.
        let waited: RefCell<Option<WaitWords>> = RefCell::new(None);
        let mut progress = reporter.progress(mover.what.clone(), how.deadline);
        let (_, step) = waiters[focus]
            .until_progress(
                how,
                &mut progress,
                &|_| Showing::of(waited.borrow().as_ref()),
                |view, now| {
                    let mut all = views.clone();
                    all[focus] = view.clone();
                    let sets = sets_of(&all);
                    let nodes = view.nodes.clone().unwrap_or_else(|| read.nodes.clone());
                    let seen = Seen::of_sets(&nodes, &sets, &by_name);
                    Ok(match next(&plan, &journal.done, &seen, now) {
                        crate::core::maintenance::drain::Next::Wait(waiting) => {
                            waited.replace(Some(waiting.words(&pods_of_all(&all))));
                            let reason = waiting.describe();
                            let target = match &waiting {
                                crate::core::maintenance::drain::Waiting::Replacing { target, .. }
                                | crate::core::maintenance::drain::Waiting::Quorum { target, .. } => {
                                    target.clone()
                                }
                            };
                            let index = set_index(&read.sets, &target);
                            if said.as_ref() != Some(&reason) {
                                reporter.event(Event::Waiting {
                                    pod: target.qualified(),
                                    reason: reason.clone(),
                                })?;
                                said = Some(reason);
                            }
                            if index != Some(focus) {
                                waiting_on = index;
                                return Ok(Wake::Done(None));
                            }
                            Wake::Soon
                        }
                        Next::TakeDown(t) if taken.as_ref() == Some(&t.uid) => {
                            waited.replace(Some(going_down(&t, &pods_of_all(&all))));
                            Wake::Soon
                        }
                        step => Wake::Done(Some(step)),
                    })
                },
                |_| Ok(None),
            )
            .await?;
        progress.finish();
        if let Some(index) = waiting_on {
            focus = index;
            continue;
        }
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
                let Some(index) = set_index(&read.sets, &target) else { continue };
                if index != focus {
                    // Decided on a snapshot of that set: decide again on its own watch, caught up.
                    focus = index;
                    continue;
                }
                let view = waiters[index].view();
                let Some(sts) = view.sts.clone() else { continue };
                let Some(pod) = view.pods.iter().find(|p| p.uid().as_deref() == Some(&target.uid)).cloned()
                else {
                    continue;
                };
                mover.take_down(reporter, &mut waiters[index], &sts, &target, &pod).await?;
                taken = Some(target.uid.clone());
            }
            Next::Verify { target, uid, node } => {
                let Some(index) = set_index(&read.sets, &target) else { continue };
                let Some(sts) = waiters[index].view().sts else { continue };
                reporter.event(Event::Replaced {
                    pod: target.qualified(),
                    old_uid: target.uid.clone(),
                    uid: uid.clone(),
                    node,
                })?;
                mover.verify(reporter, &mut waiters[index], &sts, &target, &uid).await?;
                journal.done.push(target.qualified());
                anchor_now = write_journal(&mover, &anchor_now, Some(&journal)).await?;
                reporter.event(Event::MemberDone { pod: target.qualified() })?;
            }
            Next::Misplaced { target, node } => {
                return Err(mover.stopped(
                    format!(
                        "the replacement of {} started on {node}, which is being drained (it tolerates the cordon?)",
                        target.qualified()
                    ),
                    left(&plan, &journal),
                ));
            }
            Next::Finished => break,
        }
    }
    if let Some(rules) = plan.all_pods
        && !journal.pinned_down
    {
        remove_others(&mover, reporter, &plan, rules.grace_period_seconds, request_timeout).await?;
    }
    // Said before a pinned member goes down with the node: those pods are the person's to drain
    // before the maintenance.
    if !plan.others.is_empty() && plan.all_pods.is_none() && !journal.pinned_down {
        let pods = plan.others.iter().map(|o| format!("{}/{}", o.namespace, o.pod)).collect();
        reporter.event(Event::LeftToKubectlDrain { pods, command: kubectl_drain })?;
    }
    // --wait-for-return: the pinned members down with the nodes, then waited for until back.
    let mut taken: Vec<String> = Vec::new();
    while !plan.pinned.is_empty() {
        waiters.iter_mut().for_each(Waiter::catch_up);
        let views: Vec<View> = waiters.iter().map(Waiter::view).collect();
        let words = mover.words(left(&plan, &journal));
        let how = Until { deadline: deadline(args.timeout), words: &words, ours: None };
        let mut waiting_on: Option<usize> = None;
        let waited: RefCell<Option<WaitWords>> = RefCell::new(None);
        let mut progress = reporter.progress(mover.what.clone(), how.deadline);
        let (_, step) = waiters[focus]
            .until_progress(
                how,
                &mut progress,
                &|_| Showing::of(waited.borrow().as_ref()),
                |view, now| {
                    let mut all = views.clone();
                    all[focus] = view.clone();
                    let sets = sets_of(&all);
                    let nodes = view.nodes.clone().unwrap_or_else(|| read.nodes.clone());
                    let seen = Seen::of_sets(&nodes, &sets, &by_name);
                    let step = next_return(&plan, &journal.done, &seen, now);
                    waited.replace(step.words(&pods_of_all(&all)));
                    let (target, reason) = match &step {
                        // Ready for the maintenance once every pinned member's pod is gone, not going.
                        Return::Wait { .. }
                            if !journal.pinned_down
                                && !all.iter().flat_map(|v| &v.pods).any(|p| {
                                    plan.pinned.iter().any(|t| p.uid().as_deref() == Some(t.uid.as_str()))
                                }) =>
                        {
                            return Ok(Wake::Done(Some(step)));
                        }
                        Return::Wait { target, why } => (target.clone(), why.clone()),
                        Return::Held { target, hold } => (
                            target.clone(),
                            format!(
                                "{} waits, its set would lose its quorum: {}",
                                target.qualified(),
                                hold.describe()
                            ),
                        ),
                        Return::TakeDown(targets) if targets.iter().all(|t| taken.contains(&t.uid)) => {
                            return Ok(Wake::Soon);
                        }
                        _ => return Ok(Wake::Done(Some(step))),
                    };
                    if said.as_ref() != Some(&reason) {
                        reporter.event(Event::Waiting { pod: target.qualified(), reason: reason.clone() })?;
                        said = Some(reason);
                    }
                    let index = set_index(&read.sets, &target);
                    if index.is_some() && index != Some(focus) {
                        waiting_on = index;
                        return Ok(Wake::Done(None));
                    }
                    Ok(Wake::Soon)
                },
                |_| Ok(None),
            )
            .await?;
        progress.finish();
        if let Some(index) = waiting_on {
            focus = index;
            continue;
        }
        let Some(step) = step else {
            let reason = said.clone().unwrap_or_else(|| "no progress".to_owned());
            return Err(mover.stopped(
                format!("{reason} after {}", humantime::format_duration(args.timeout)),
                left(&plan, &journal),
            ));
        };
        said = None;
        match step {
            Return::TakeDown(targets) => {
                let Some(index) = targets.first().and_then(|t| set_index(&read.sets, t)) else { break };
                if index != focus {
                    focus = index;
                    continue;
                }
                let view = waiters[index].view();
                let Some(sts) = view.sts.clone() else { continue };
                for target in &targets {
                    let Some(pod) =
                        view.pods.iter().find(|p| p.uid().as_deref() == Some(target.uid.as_str())).cloned()
                    else {
                        continue;
                    };
                    mover.take_down(reporter, &mut waiters[index], &sts, target, &pod).await?;
                    taken.push(target.uid.clone());
                }
            }
            Return::Held { .. } => {}
            Return::Wait { .. } => {
                // Every pinned member is down: the nodes are the person's now.
                journal.pinned_down = true;
                anchor_now = write_journal(&mover, &anchor_now, Some(&journal)).await?;
                let pods: Vec<String> = plan
                    .pinned
                    .iter()
                    .filter(|t| !journal.done.contains(&t.qualified()))
                    .map(Target::qualified)
                    .collect();
                reporter.event(Event::ReadyForMaintenance {
                    nodes: plan.nodes.clone(),
                    pods,
                    uncordon: uncordon.clone(),
                    resume: resume.clone(),
                })?;
            }
            Return::Back { target, uid, node } => {
                let Some(index) = set_index(&read.sets, &target) else { continue };
                let Some(sts) = waiters[index].view().sts else { continue };
                reporter.event(Event::Replaced {
                    pod: target.qualified(),
                    old_uid: target.uid.clone(),
                    uid: uid.clone(),
                    node,
                })?;
                mover.verify(reporter, &mut waiters[index], &sts, &target, &uid).await?;
                journal.done.push(target.qualified());
                anchor_now = write_journal(&mover, &anchor_now, Some(&journal)).await?;
                reporter.event(Event::MemberDone { pod: target.qualified() })?;
            }
            Return::Elsewhere { target, node } => {
                let pinned_to = target.node.clone().unwrap_or_default();
                return Err(Stop::MaintenanceStopped {
                    what: mover.what.clone(),
                    reason: format!(
                        "{} came back on {node}, not on {pinned_to} where its volume was pinned (its claim was \
                         replaced, or its volume was not pinned after all): check its data before anything else",
                        target.qualified()
                    ),
                    left: format!("{} is up on {node}", target.qualified()),
                    resume: format!("once it is checked, `{give_up}` gives the drain up"),
                }
                .into());
            }
            Return::NodeGone { target, node } => {
                let recover =
                    kube.flags.plugin(&target.namespace, &format!("recover {}", shell_word(&target.pod)));
                let way_out = match node == args.nodes[0] {
                    true => format!("`{recover}` shows its choices (the drain's journal went with the node)"),
                    false => format!("`{recover}` shows its choices; `{give_up}` gives the drain up"),
                };
                return Err(Stop::MaintenanceStopped {
                    what: mover.what.clone(),
                    reason: format!(
                        "node {node} was deleted while {} waited for it: its volume is pinned to that node, so it \
                         can start nowhere else",
                        target.qualified()
                    ),
                    left: format!("{} is down", target.qualified()),
                    resume: way_out,
                }
                .into());
            }
            Return::Finished => break,
        }
    }
    write_journal(&mover, &anchor_now, None).await?;
    let members = plan.members.len() + plan.pinned.len() - plan.done.len();
    reporter.event(Event::Finished { members, seconds: started.elapsed().as_secs_f64() })
}

/// `--all-pods`, once every member has moved: node by node, the other pods evicted (budgets
/// honoured: a refusal is named with the budget's numbers and tried again until `--timeout`),
/// then waited for, each by its uid, until gone; the pods already going only waited for.
async fn remove_others(
    mover: &Mover<'_>,
    reporter: &mut Reporter<'_>,
    plan: &Plan,
    grace: Option<u32>,
    request_timeout: Duration,
) -> Result<()> {
    let left =
        format!("{} cordoned, every member moved; the other pods are being evicted", plan.nodes.join(", "));
    let words = mover.words(left.clone());
    for node in &plan.nodes {
        let others: Vec<&Other> = plan
            .others
            .iter()
            .filter(|o| o.node == *node && matches!(o.action, Some(Action::Evict | Action::Wait)))
            .collect();
        if others.is_empty() {
            continue;
        }
        let mut waiter = Waiter::on_node(mover.kube, node, request_timeout).await?;
        let until = deadline(mover.timeout);
        let mut pending: Vec<&Other> =
            others.iter().copied().filter(|o| o.action == Some(Action::Evict)).collect();
        let mut said: HashMap<String, String> = HashMap::new();
        while !pending.is_empty() {
            let view = waiter.view();
            let mut refused: Vec<(&Other, String)> = Vec::new();
            for other in pending {
                // Gone already, or going: followed by its uid below.
                let Some(pod) = view.pods.iter().find(|p| p.uid().as_deref() == Some(other.uid.as_str()))
                else {
                    continue;
                };
                if terminating(pod) {
                    continue;
                }
                let what = format!("evict pod {}", other.qualified());
                match mover.writer.evict_within(pod, grace, &what).await? {
                    Evicted::Done => reporter.event(Event::Evicted {
                        pod: other.qualified(),
                        uid: other.uid.clone(),
                        node: Some(node.clone()),
                    })?,
                    Evicted::Gone | Evicted::Changed => {}
                    Evicted::Refused(why) => {
                        let reason = why.describe();
                        if said.get(&other.uid) != Some(&reason) {
                            reporter.event(Event::EvictionRefused {
                                pod: other.qualified(),
                                reason: reason.clone(),
                            })?;
                            said.insert(other.uid.clone(), reason.clone());
                        }
                        refused.push((other, reason));
                    }
                }
            }
            if let Some((other, reason)) = refused.first() {
                let again = tokio::time::Instant::now() + RETRY;
                if again >= until {
                    return Err(mover.stopped(
                        format!(
                            "the eviction of {} was refused for {}: {reason}",
                            other.qualified(),
                            humantime::format_duration(mover.timeout)
                        ),
                        left,
                    ));
                }
                waiter.pause(&words, again).await?;
            }
            pending = refused.into_iter().map(|(o, _)| o).collect();
        }
        let mut waited: Option<String> = None;
        let how = Until { deadline: until, words: &words, ours: None };
        let state = |view: &View| {
            let still: Vec<String> = others
                .iter()
                .filter(|o| view.pods.iter().any(|p| p.uid().as_deref() == Some(o.uid.as_str())))
                .map(|o| o.qualified())
                .collect();
            format!("{} still there", still.join(", "))
        };
        let term = reporter.term;
        let shown = Shown {
            term: &term,
            err: reporter.io.err_stream(),
            what: format!("the other pods on {node} to be gone"),
            state: &state,
        };
        let (view, gone) = waiter
            .until_shown(
                how,
                shown,
                |view, _| {
                    let still: Vec<String> = others
                        .iter()
                        .filter(|o| view.pods.iter().any(|p| p.uid().as_deref() == Some(o.uid.as_str())))
                        .map(|o| o.qualified())
                        .collect();
                    let Some(first) = still.first() else { return Ok(Wake::Done(true)) };
                    let reason = format!("{} still on {node}", still.join(", "));
                    if waited.as_ref() != Some(&reason) {
                        reporter.event(Event::Waiting { pod: first.clone(), reason: reason.clone() })?;
                        waited = Some(reason);
                    }
                    Ok(Wake::Wait)
                },
                |_| Ok(false),
            )
            .await?;
        if !gone {
            let still: Vec<String> = others
                .iter()
                .filter(|o| view.pods.iter().any(|p| p.uid().as_deref() == Some(o.uid.as_str())))
                .map(|o| o.qualified())
                .collect();
            return Err(mover.stopped(
                format!(
                    "{} still on {node} after {}",
                    still.join(", "),
                    humantime::format_duration(mover.timeout)
                ),
                left,
            ));
        }
        for other in others {
            reporter.event(Event::Removed { pod: other.qualified() })?;
        }
    }
    Ok(())
}

/// The pods of every set waited on, as seen now.
fn pods_of_all(views: &[View]) -> Vec<Pod> {
    views.iter().flat_map(|v| v.pods.iter().cloned()).collect()
}

fn sets_of(views: &[View]) -> Vec<(StatefulSet, Vec<Pod>)> {
    views.iter().filter_map(|v| Some((v.sts.clone()?, v.pods.clone()))).collect()
}

fn set_index(sets: &[(StatefulSet, Vec<Pod>)], target: &Target) -> Option<usize> {
    sets.iter().position(|(s, _)| {
        s.name_any() == target.stateful_set && s.namespace().as_deref() == Some(target.namespace.as_str())
    })
}

fn left(plan: &Plan, journal: &Journal) -> String {
    let nodes = plan.nodes.join(", ");
    if journal.pinned_down {
        let down: Vec<String> = plan
            .pinned
            .iter()
            .filter(|t| !journal.done.contains(&t.qualified()))
            .map(Target::qualified)
            .collect();
        return format!("{} down with {nodes}, waiting for them to come back there", down.join(", "));
    }
    match journal.done.is_empty() {
        true => format!("{nodes} cordoned, no member moved yet (one may be being replaced)"),
        false => format!("{nodes} cordoned; moved: {}", journal.done.join(", ")),
    }
}

/// The journal a new drain writes on its first node, with its cordon.
fn new_journal(request: &Request, plan: &Plan) -> Journal {
    Journal {
        started_at: Timestamp::now(),
        nodes: request.nodes.clone(),
        members: plan.members.clone(),
        done: Vec::new(),
        min_available: request.min_available.clone(),
        gates: plan.gates.clone(),
        soak_seconds: plan.soak_seconds,
        all_pods: plan.all_pods,
        wait_for_return: plan.wait_for_return,
        pinned: plan.pinned.clone(),
        pinned_down: false,
    }
}

/// `--dry-run=server`: the writes of the plan in order, those that can be judged now sent with
/// `dryRun=All`: each node's cordon (the first with the journal) and the first member's
/// eviction. Each later member goes only once the one before is back, the other pods
/// (`--all-pods`) and the pinned members (`--wait-for-return`) after the last, and the journal's
/// removal at the end: not checked. The journal's updates between members are not listed.
async fn server_dry_run(
    check: &ServerCheck,
    kube: &Kube,
    read: &Read,
    plan: &Plan,
    journal: &Journal,
) -> ServerDryRun {
    let api: Api<Node> = kube.api_all();
    let mut run = ServerDryRun::default();
    let cordoning: &[String] = if journal.pinned_down { &[] } else { &plan.nodes };
    for name in cordoning {
        let Some(node) = read.nodes.iter().find(|n| n.name_any() == *name) else { continue };
        let text = (Some(name) == plan.nodes.first()).then(|| journal.to_annotation());
        let patch = patches::cordon_with_journal(node, DRAIN_ANNOTATION, text.as_deref());
        let what = match text {
            Some(_) => format!("cordon node {name} and write the drain journal on it"),
            None => format!("cordon node {name}"),
        };
        let answer = ServerAnswer::of_written(check.patch(&api, name, &patch, &what).await);
        run.add(what, answer);
    }
    // Each member after the first goes once the one before is back; the other pods once every
    // member moved; the pinned members, together, after those.
    let mut last: Option<usize> = None;
    let pods: Vec<Pod> = read.on_nodes.iter().chain(read.sets.iter().flat_map(|(_, p)| p)).cloned().collect();
    /// A member's eviction: checked when nothing comes before it, else waiting on `last`;
    /// `None` when its pod is no longer the one read.
    async fn evict(
        check: &ServerCheck,
        kube: &Kube,
        pods: &[Pod],
        target: &Target,
        last: Option<usize>,
    ) -> Option<(String, ServerAnswer)> {
        match (last, pod_of(pods, target)) {
            (Some(step), _) => Some((
                format!("evict pod {}", target.qualified()),
                ServerAnswer::NotChecked { depends_on: step },
            )),
            (None, Some(pod)) => Some(check_take_down(check, kube, Method::Evict, target, pod).await),
            (None, None) => None,
        }
    }
    for target in plan.members.iter().filter(|t| !journal.done.contains(&t.qualified())) {
        if let Some((what, answer)) = evict(check, kube, &pods, target, last).await {
            last = Some(run.add(what, answer));
        }
    }
    let mut after_others = last;
    if plan.all_pods.is_some() && !journal.pinned_down {
        for other in plan.others.iter().filter(|o| o.action == Some(Action::Evict)) {
            let what = format!("evict pod {}", other.qualified());
            let answer = match (last, pods.iter().find(|p| p.uid().as_deref() == Some(other.uid.as_str()))) {
                (Some(step), _) => ServerAnswer::NotChecked { depends_on: step },
                (None, Some(pod)) => ServerAnswer::of_evicted(check.evict(pod, &what).await),
                (None, None) => continue,
            };
            after_others = Some(run.add(what, answer));
        }
    }
    if !journal.pinned_down {
        for target in plan.pinned.iter().filter(|t| !journal.done.contains(&t.qualified())) {
            if let Some((what, answer)) = evict(check, kube, &pods, target, after_others).await {
                run.add(what, answer);
            }
        }
    }
    if let Some(first) = plan.nodes.first() {
        let what = format!("remove the drain journal of node {first}");
        match run.writes.len() {
            0 => {
                if let Some(node) = read.nodes.iter().find(|n| n.name_any() == *first) {
                    let patch = patches::maintenance_journal(node, DRAIN_ANNOTATION, None);
                    let answer = ServerAnswer::of_written(check.patch(&api, first, &patch, &what).await);
                    run.add(what, answer);
                }
            }
            depends_on => {
                run.add(what, ServerAnswer::NotChecked { depends_on });
            }
        }
    }
    run
}

async fn write_journal(mover: &Mover<'_>, node: &Node, journal: Option<&Journal>) -> Result<Node> {
    let text = journal.map(Journal::to_annotation);
    if node.annotations().get(DRAIN_ANNOTATION) == text.as_ref() {
        return Ok(node.clone());
    }
    let api: Api<Node> = mover.kube.api_all();
    let patch = patches::maintenance_journal(node, DRAIN_ANNOTATION, text.as_deref());
    let what = if journal.is_some() { "write the drain journal" } else { "remove the drain journal" };
    match mover.writer.patch(&api, &node.name_any(), &patch, what).await? {
        Written::Done(node) => Ok(node),
        Written::Gone | Written::Changed(_) => Err(mover.stopped(
            format!("the drain journal on node {} changed since it was read (another run?)", node.name_any()),
            "the node stays cordoned".into(),
        )),
    }
}

fn show(reporter: &mut Reporter<'_>, plan: &Plan) -> Result<()> {
    if reporter.format == Format::Json {
        let plan = serde_json::to_value(plan).expect("a plan always serializes");
        return reporter.event(Event::Plan { plan });
    }
    let mut lines = vec![match plan.pinned_down {
        true => format!(
            "Drain of {}, resumed from its journal: its pinned members are down with it, waiting for them to come \
             back there",
            plan.nodes.join(", ")
        ),
        false => format!(
            "Drain of {}{}: cordon, then move each StatefulSet member one at a time{}",
            plan.nodes.join(", "),
            if plan.resumed { ", resumed from its journal" } else { "" },
            if plan.all_pods.is_some() { ", then evict the other pods" } else { "" }
        ),
    }];
    for set in &plan.sets {
        lines.push(format!("  {}/{}: keeps {}", set.namespace, set.name, set.quorum.describe()));
    }
    for (i, t) in plan.members.iter().enumerate() {
        let done = if plan.done.contains(&t.qualified()) { "  (done)" } else { "" };
        lines.push(format!(
            "  {}. {}  uid {}  on {}{done}",
            i + 1,
            t.qualified(),
            t.uid,
            t.node.as_deref().unwrap_or("-")
        ));
    }
    if plan.members.is_empty() && plan.pinned.is_empty() {
        lines.push("  no StatefulSet member on these nodes".to_owned());
    }
    if !plan.pinned.is_empty() {
        lines.push(
            "Pinned to these nodes (--wait-for-return): down with them once the others moved, then waited for \
             until Ready there again:"
                .to_owned(),
        );
        for t in &plan.pinned {
            let done = if plan.done.contains(&t.qualified()) { "  (done)" } else { "" };
            lines.push(format!(
                "  {}  uid {}  on {}{done}",
                t.qualified(),
                t.uid,
                t.node.as_deref().unwrap_or("-")
            ));
        }
    }
    if let Some(rules) = plan.all_pods
        && !plan.others.is_empty()
    {
        lines.push(format!(
            "Other pods (--all-pods, by kubectl drain's rules), after the members{}:",
            rules.grace_period_seconds.map(|s| format!(", each given {s}s to end")).unwrap_or_default()
        ));
        for other in &plan.others {
            let action = match other.action {
                Some(Action::Evict) => "evict",
                Some(Action::Skip) => "skip ",
                Some(Action::Wait) => "wait ",
                None => "-    ",
            };
            let note = match (other.action, other.warning) {
                (Some(Action::Wait), _) => "  (being deleted already)".to_owned(),
                (_, Some(warning)) => format!("  ({warning})"),
                (_, None) => String::new(),
            };
            lines.push(format!("  {action}  {}  on {}{note}", other.qualified(), other.node));
        }
    } else if !plan.others.is_empty() {
        lines.push(format!(
            "Left to kubectl drain (not StatefulSet members): {}",
            plan.others.iter().map(|o| format!("{}/{}", o.namespace, o.pod)).collect::<Vec<_>>().join(", ")
        ));
    }
    for line in lines {
        std::io::Write::write_all(&mut reporter.io.out, format!("{line}\n").as_bytes())
            .map_err(output_error)?;
    }
    Ok(())
}
