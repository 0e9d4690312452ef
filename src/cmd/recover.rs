//! `kubectl stateful recover POD`: after a node failure, force-delete a StatefulSet pod stuck
//! on the dead node, only on evidence that the node is gone, then watch its replacement come up
//! on another node with the same PVCs.

use std::io::{self, Write};
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use serde::Serialize;

use crate::access::{self, Permission};
use crate::client::{Kube, KubeArgs};
use crate::core::names::pod_name;
use crate::core::objects::{mounted_claims, node_name, pod_status_text, pvc_volume, terminating};
use crate::core::patches;
use crate::core::recover::{
    Evidence, Judgement, PinnedVolume, Refusal as RecoverRefusal, Replacement as Verdict, judge,
    pinned_volumes, replacement, replacement_pod,
};
use crate::error::{Error, Result, Stop};
use crate::fetch;
use crate::output::{
    ErrStream, OutputFormat, RECOVERY, Streams, rendered, shell_word, write_checked_document, write_document,
};
use crate::ui::Terminal;
use crate::wait::{Kinds, Said, Shown, Until, View, Waiter, Wake, deadline};
use crate::write::{
    Deleted, Deletion, DryRun, Guard, Mode, ServerAnswer, ServerCheck, ServerDryRun, Writer, Written,
};

pub const LONG_ABOUT: &str = "\
Recover a StatefulSet pod from a failed node. When a node dies, its pods stay Terminating or
Unknown and the StatefulSet controller will not create replacements: two pods with one identity
could corrupt data. This checks the evidence that the node is really gone (its Ready condition
False or Unknown for longer than --min-down, and its Lease not renewed for as long), shows it
with the risk, and only then force-deletes the pod (grace period 0) after confirmation. It then
waits until the replacement is scheduled on another node, Ready, and bound to the same PVCs.

When the node looks alive it refuses, explains, and deletes nothing.";

pub const EXAMPLES: &str = "\
Examples:
  kubectl stateful recover pg-2
  kubectl stateful recover pg --ordinal 2 --cordon
  kubectl stateful recover pg-2 --min-down 10m --yes";

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The pod, or with --ordinal the StatefulSet
    #[arg(value_parser = crate::parse::object_name)]
    pub target: String,

    /// Take TARGET as a StatefulSet and recover its pod with this ordinal
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
    pub ordinal: Option<i32>,

    /// How long the node must have been NotReady, with its Lease unrenewed
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::parse::duration)]
    pub min_down: Duration,

    /// Cordon the node first, so it takes no pods if it comes back
    #[arg(long)]
    pub cordon: bool,

    /// Do not ask for confirmation
    #[arg(short, long)]
    pub yes: bool,

    /// Show the evidence and change nothing
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_value_t, default_missing_value = "client", value_name = "HOW")]
    pub dry_run: DryRun,

    /// How long to wait for the replacement pod to be Ready
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::parse::duration)]
    pub timeout: Duration,

    /// Output format (table and wide print the same)
    #[arg(short, long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recovery {
    pub namespace: String,
    pub stateful_set: String,
    pub evidence: Evidence,
    /// "refused", "dryRun" or "forceDeleted".
    pub action: &'static str,
    pub reasons: Vec<String>,
    pub cordoned: bool,
    pub replacement: Option<Replacement>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replacement {
    pub pod: String,
    pub uid: String,
    pub node: String,
    pub pvcs: Vec<String>,
}

pub async fn run(args: Args, kube_args: &KubeArgs, term: &Terminal, io: &mut Streams) -> Result<()> {
    let kube = kube_args.connect().await?;
    let pods: Api<Pod> = kube.api();
    let (sts, pod) = resolve(&kube, &pods, &args).await?;
    let nodes: Api<Node> = kube.api_all();
    let leases: Api<Lease> = kube.api_in("kube-node-lease");
    let node_name = node_name(&pod).map(str::to_owned);
    let (node, lease) = match &node_name {
        Some(name) => tokio::try_join!(
            async { nodes.get_opt(name).await.map_err(Error::kube(format!("read node {name}"))) },
            async {
                leases.get_opt(name).await.map_err(Error::kube(format!("read the Lease of node {name}")))
            },
        )?,
        None => (None, None),
    };
    let min_down = i64::try_from(args.min_down.as_secs()).unwrap_or(i64::MAX);
    let (pinned, replaced_claims) = pinned(&kube, &pod, node.as_ref()).await?;
    let (evidence, reasons) =
        match judge(&pod, node.as_ref(), lease.as_ref(), &pinned, min_down, Timestamp::now()) {
            Judgement::Gone(evidence) => (evidence, Vec::new()),
            Judgement::Alive(evidence, reasons) => (evidence, reasons),
        };
    let mut recovery = Recovery {
        namespace: kube.namespace.clone(),
        stateful_set: sts.name_any(),
        evidence,
        action: if reasons.is_empty() { "dryRun" } else { "refused" },
        reasons,
        cordoned: false,
        replacement: None,
    };
    if !args.output.is_machine() {
        rendered(write_evidence(&mut io.out, &recovery.evidence))?;
    }
    if !recovery.reasons.is_empty() {
        finish(io, &args, &recovery)?;
        return Err(
            RecoverRefusal::NodeAlive { pod: pod.name_any(), reasons: recovery.reasons.clone() }.into()
        );
    }
    let node_label = node_name.clone().unwrap_or_default();
    io.say(format_args!(
        "risk: a force delete removes {pod} without its kubelet's confirmation. If {node_label} is in fact still running \
         it (a network partition rather than a dead machine), two copies of {pod} could write to the same volumes. \
         Go on only if {node_label} is powered off or cut off from its storage.",
        pod = pod.name_any()
    ));
    if !pinned.is_empty() {
        io.say(format_args!(
            "note: the replacement of {} can start only on {node_label}: {}",
            pod.name_any(),
            pinned_truth(&kube, &pod.name_any(), &node_label, &pinned)
        ));
    }
    let resume = format!(
        "`{}` shows where it stands",
        kube.flags.plugin(&kube.namespace, &format!("recover {} --dry-run", shell_word(&pod.name_any())))
    );
    let Some(writer) = Writer::of(&kube, Mode::from_dry_run(args.dry_run), resume) else {
        io.say("dry run: nothing was changed");
        if let Some(check) = ServerCheck::of(&kube, Mode::from_dry_run(args.dry_run)) {
            let cordon = node.as_ref().filter(|_| args.cordon);
            let server = server_dry_run(&check, &nodes, &pods, cordon, &pod).await;
            let document =
                write_checked_document(&mut io.out, args.output, RECOVERY, &recovery, Some(&server));
            rendered(document.map(|_| ()))?;
            for line in server.lines() {
                io.say(line);
            }
            return server.ending();
        }
        return finish(io, &args, &recovery);
    };
    let mut needed = vec![Permission {
        verb: "delete",
        group: "",
        resource: "pods",
        namespace: Some(&kube.namespace),
        subresource: None,
    }];
    if args.cordon {
        needed.push(Permission {
            verb: "patch",
            group: "",
            resource: "nodes",
            namespace: None,
            subresource: None,
        });
    }
    access::require(&kube, &needed, "nothing was changed").await?;
    if !term.confirm_typed(args.yes, &format!("Force-delete pod {}?", pod.name_any()), &pod.name_any())? {
        // Stopped by the user's choice: exit 0, as everywhere.
        io.say(format_args!("not confirmed: pod {} was left alone", pod.name_any()));
        return Ok(());
    }
    if args.cordon
        && let Some(node) = &node
    {
        // Guarded by the node's uid: a node re-registered under this name is not the one judged.
        let what = format!("cordon node {node_label}");
        match writer
            .patch(&nodes, &node_label, &patches::cordon(&node.uid().unwrap_or_default()), &what)
            .await?
        {
            Written::Done(_) => {
                recovery.cordoned = true;
                io.say(format_args!("node/{node_label} cordoned"));
            }
            Written::Gone | Written::Changed(_) => io.say(format_args!(
                "node/{node_label} was deleted or replaced since it was read: not cordoned"
            )),
        }
    }
    // Watch before deleting, so the replacement cannot slip by unseen.
    let request_timeout =
        kube_args.request_timeout.filter(|t| !t.is_zero()).unwrap_or(Duration::from_secs(30));
    let mut waiter = Waiter::start(&kube, &sts, Kinds::default(), request_timeout).await?;
    let guard = Guard::identity(&pod);
    let how = Deletion { grace_period_seconds: Some(0), ..Deletion::default() };
    let what = format!("force-delete pod {}", pod.name_any());
    if writer.delete(&pods, &pod.name_any(), guard, how, &what).await? != Deleted::Done {
        io.say(format_args!("pod {} was already gone or replaced", pod.name_any()));
    }
    recovery.action = "forceDeleted";
    io.say(format_args!("pod \"{}\" force deleted; waiting for its replacement", pod.name_any()));
    let words = left_behind(&kube, &pod.name_any(), &recovery.stateful_set);
    if !pinned.is_empty() {
        // Its replacement cannot become Ready anywhere else: no use waiting --timeout for it.
        let created =
            match replacement_created(&mut waiter, &words, (term, io.err_stream()), &pod, args.timeout).await
            {
                Ok(created) => created,
                Err(error) => {
                    finish(io, &args, &recovery)?;
                    return Err(error);
                }
            };
        finish(io, &args, &recovery)?;
        return Err(Stop::ReplacementPinned {
            pod: pod.name_any(),
            state: created.map_or_else(|| "not created yet".to_owned(), |p| pod_status_text(&p)),
            node: node_label.clone(),
            why: pinned_truth(&kube, &pod.name_any(), &node_label, &pinned),
        }
        .into());
    }
    let claims: Vec<String> = mounted_claims(&pod).map(str::to_owned).collect();
    // With -o json the document is written however the wait ends: the pod is gone, and stdout
    // still says so.
    let replacement = match wait_for_replacement(
        &mut waiter,
        &words,
        (term, io.err_stream()),
        &pod,
        &node_label,
        &claims,
        args.timeout,
    )
    .await
    {
        Ok(replacement) => replacement,
        Err(error) => {
            finish(io, &args, &recovery)?;
            return Err(error);
        }
    };
    io.say(format_args!(
        "{} recovered: the replacement is Ready on {} with {}{}",
        replacement.pod,
        replacement.node,
        if replacement.pvcs.is_empty() { "no PVCs".to_owned() } else { replacement.pvcs.join(", ") },
        if replaced_claims.is_empty() {
            String::new()
        } else {
            format!(" (new, empty: {} was being deleted)", replaced_claims.join(", "))
        }
    ));
    recovery.replacement = Some(replacement);
    finish(io, &args, &recovery)
}

/// The pod's claims whose volumes only its node can use ([`pinned_volumes`]), from the claims,
/// their PVs and the other nodes, and the claims being deleted (the replacement gets new ones).
/// What these credentials may not read is left out: claims or PVs unreadable, nothing is judged
/// pinned (as before this check); nodes unreadable, the volumes' hostname affinity alone tells.
async fn pinned(kube: &Kube, pod: &Pod, node: Option<&Node>) -> Result<(Vec<PinnedVolume>, Vec<String>)> {
    if node_name(pod).is_none() {
        return Ok((Vec::new(), Vec::new()));
    }
    let (claims_api, pvs): (Api<PersistentVolumeClaim>, Api<PersistentVolume>) = (kube.api(), kube.api_all());
    let (mut claims, mut volumes) = (Vec::new(), Vec::new());
    for name in mounted_claims(pod) {
        let read = claims_api.get_opt(name).await.map_err(Error::kube(format!("read PVC {name}")));
        let Some(claim) = fetch::forbidden_as_none(read)? else { return Ok((Vec::new(), Vec::new())) };
        let Some(claim) = claim else { continue };
        if let Some(volume) = pvc_volume(&claim) {
            let read = pvs.get_opt(volume).await.map_err(Error::kube(format!("read PV {volume}")));
            let Some(pv) = fetch::forbidden_as_none(read)? else { return Ok((Vec::new(), Vec::new())) };
            volumes.extend(pv);
        }
        claims.push(claim);
    }
    let deleting: Vec<String> =
        claims.iter().filter(|c| terminating(*c)).map(ResourceExt::name_any).collect();
    if volumes.is_empty() {
        return Ok((Vec::new(), deleting));
    }
    let others = kube.api_all::<Node>().list(&Default::default()).await.map_err(Error::kube("list nodes"));
    let others = fetch::forbidden_as_none(others)?.map(|list| list.items);
    Ok((pinned_volumes(pod, &claims, &volumes, node, others.as_deref()), deleting))
}

/// Why the replacement of a pod whose volumes are pinned to its failed node can start only
/// there, and the way to start it elsewhere instead, as a command with the run's flags: said
/// before the force delete, and again after it.
fn pinned_truth(kube: &Kube, pod: &str, node: &str, pinned: &[PinnedVolume]) -> String {
    let volumes: Vec<String> = pinned
        .iter()
        .map(|p| format!("its volume {} (PVC {}) is pinned to {node}", p.volume, p.claim))
        .collect();
    let claims: Vec<String> = pinned.iter().map(|p| shell_word(&p.claim).into_owned()).collect();
    format!(
        "{}. It stays Pending until {node} is back, and then starts there on the same data; to start it elsewhere \
         with an empty claim instead, giving up the data on {node}, delete the claim too with `{}` (it goes once \
         {pod} is gone)",
        volumes.join("; "),
        kube.flags.kubectl(&kube.namespace, &format!("delete pvc {} --wait=false", claims.join(" ")))
    )
}

/// Waits for the StatefulSet controller to create the replacement of `old` (a pod of its name
/// with another uid), for up to `timeout`; `None` when it did not.
async fn replacement_created(
    waiter: &mut Waiter,
    words: &Said,
    (term, err): (&Terminal, ErrStream),
    old: &Pod,
    timeout: Duration,
) -> Result<Option<Pod>> {
    let until = Until { deadline: deadline(timeout), words, ours: None };
    let state = |_: &View| "not created yet".to_owned();
    let shown = Shown {
        term,
        err,
        what: format!("the controller to create the replacement of {}", old.name_any()),
        state: &state,
    };
    let (_, created) =
        waiter
            .until_shown(
                until,
                shown,
                |view, _| {
                    Ok(replacement_pod(old, &view.pods).map_or(Wake::Wait, |p| Wake::Done(Some(p.clone()))))
                },
                |_| Ok(None),
            )
            .await?;
    Ok(created)
}

/// What an interrupted or lost wait leaves once the pod was force-deleted, and where to see
/// how it goes on.
fn left_behind(kube: &Kube, pod: &str, sts: &str) -> Said {
    Said {
        left: format!(
            "pod {pod} was force-deleted; the StatefulSet controller creates its replacement on its own"
        ),
        resume: format!(
            "`{}` shows it come up",
            kube.flags.plugin(&kube.namespace, &format!("status {}", shell_word(sts)))
        ),
    }
}

/// Finds the pod and the StatefulSet that owns it; anything else is refused.
async fn resolve(kube: &Kube, pods: &Api<Pod>, args: &Args) -> Result<(StatefulSet, Pod)> {
    let pod_name = match args.ordinal {
        Some(ordinal) => {
            let sts = fetch::statefulset(kube, &kube.namespace, &args.target).await?;
            pod_name(&sts.name_any(), ordinal)
        }
        None => args.target.clone(),
    };
    let Some(pod) = pods.get_opt(&pod_name).await.map_err(Error::kube(format!("read pod {pod_name}")))?
    else {
        return Err(fetch::missing(kube, &kube.namespace, "pod", &pod_name).await);
    };
    let owner = pod.owner_references().iter().find(|o| o.kind == "StatefulSet" && o.controller == Some(true));
    let Some(owner) = owner else {
        // A pod whose StatefulSet a `pvc resize` swap deleted has no controller for a while.
        if let Some((parent, _)) = crate::core::objects::controller_parent_and_ordinal(&pod_name)
            && let Some(mid) = fetch::mid_swap(kube, &kube.namespace, parent, None).await?
        {
            return Err(Stop::MidResize(Box::new(mid)).into());
        }
        return Err(RecoverRefusal::NotAStatefulSetPod { pod: pod_name }.into());
    };
    let sts = fetch::statefulset(kube, &kube.namespace, &owner.name).await?;
    fetch::refuse_mid_swap(kube, &sts).await?;
    Ok((sts, pod))
}

/// `--dry-run=server`: the cordon (with `--cordon`) and the force delete, each sent with
/// `dryRun=All`; neither waits for the other.
async fn server_dry_run(
    check: &ServerCheck,
    nodes: &Api<Node>,
    pods: &Api<Pod>,
    cordon: Option<&Node>,
    pod: &Pod,
) -> ServerDryRun {
    let mut run = ServerDryRun::default();
    if let Some(node) = cordon {
        let name = node.name_any();
        let what = format!("cordon node {name}");
        let patch = patches::cordon(&node.uid().unwrap_or_default());
        let answer = ServerAnswer::of_written(check.patch(nodes, &name, &patch, &what).await);
        run.add(what, answer);
    }
    let what = format!("force-delete pod {}", pod.name_any());
    let how = Deletion { grace_period_seconds: Some(0), ..Deletion::default() };
    let deleted = check.delete(pods, &pod.name_any(), Guard::identity(pod), how, &what).await;
    run.add(what, ServerAnswer::of_deleted(deleted));
    run
}

fn finish(io: &mut Streams, args: &Args, recovery: &Recovery) -> Result<()> {
    rendered(write_document(&mut io.out, args.output, RECOVERY, recovery).map(|_| ()))
}

pub fn write_evidence(w: &mut dyn Write, e: &Evidence) -> io::Result<()> {
    let seconds = |s: Option<i64>| {
        s.map_or_else(
            || "-".to_owned(),
            |s| humantime::format_duration(Duration::from_secs(s.max(0) as u64)).to_string(),
        )
    };
    writeln!(w, "Pod:           {}{}", e.pod, if e.pod_terminating { " (Terminating)" } else { "" })?;
    writeln!(
        w,
        "Node:          {}{}",
        e.node.as_deref().unwrap_or("-"),
        if e.node_exists { "" } else { " (node object gone)" }
    )?;
    match (&e.ready, e.node_exists) {
        (Some(ready), _) => writeln!(w, "Ready:         {ready} for {}", seconds(e.ready_for_seconds))?,
        (None, false) => writeln!(w, "Ready:         - (no Node object to ask)")?,
        (None, true) => writeln!(w, "Ready:         - (the node reports no Ready condition)")?,
    }
    writeln!(
        w,
        "Lease renewed: {}",
        e.lease_renewed_seconds_ago
            .map_or_else(|| "never (no Lease)".to_owned(), |s| format!("{} ago", seconds(Some(s))))
    )?;
    writeln!(
        w,
        "Pod down:      {}",
        e.pod_down_seconds.map_or_else(
            || "- (nothing in the pod's record)".to_owned(),
            |s| format!("for {} (its Ready condition, eviction or deletion)", seconds(Some(s)))
        )
    )?;
    for pinned in &e.pinned_volumes {
        writeln!(
            w,
            "Pinned:        {} (PV {}) can be used on {} only",
            pinned.claim,
            pinned.volume,
            e.node.as_deref().unwrap_or("-")
        )?;
    }
    Ok(())
}

/// Waits for a new pod of the same name on another node, Ready, mounting the same claims
/// ([`core::recover::replacement`](crate::core::recover::replacement) judges).
async fn wait_for_replacement(
    waiter: &mut Waiter,
    words: &Said,
    (term, err): (&Terminal, ErrStream),
    old: &Pod,
    old_node: &str,
    claims: &[String],
    timeout: Duration,
) -> Result<Replacement> {
    let name = old.name_any();
    let until = Until { deadline: deadline(timeout), words, ours: None };
    let state = |view: &View| {
        replacement_pod(old, &view.pods).map_or_else(|| "not created yet".to_owned(), pod_status_text)
    };
    let shown = Shown { term, err, what: format!("the replacement of {name} to be Ready"), state: &state };
    let (view, verdict) = waiter
        .until_shown(
            until,
            shown,
            |view, _| match replacement(old, old_node, claims, &view.pods) {
                Verdict::Waiting => Ok(Wake::Wait),
                settled => Ok(Wake::Done(settled)),
            },
            |_| Ok(Verdict::Waiting),
        )
        .await?;
    match verdict {
        Verdict::Recovered { node, claims } => {
            let uid = replacement_pod(old, &view.pods).and_then(ResourceExt::uid);
            Ok(Replacement { pod: name, uid: uid.unwrap_or_default(), node, pvcs: claims })
        }
        Verdict::Wrong { why } => Err(Stop::ReplacementWrong { pod: name, why }.into()),
        Verdict::Waiting => {
            let state =
                replacement_pod(old, &view.pods).map_or_else(|| "not created".to_owned(), pod_status_text);
            let within = humantime::format_duration(timeout).to_string();
            Err(Stop::ReplacementNotReady { pod: name, within, state }.into())
        }
    }
}
