//! What looks wrong with a StatefulSet, and what to do about it: the warnings of the status
//! model, each family in a function of its own. Advice names only commands that would work:
//! where `kubectl stateful rollout` or `pvc prune` would refuse, the warning says what to fix
//! instead.

use std::collections::HashMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::seen;
use super::{
    ClaimStatus, PodStatus, RevisionRole, StatefulSetStatus, StatusOptions, StrayPlace, Warning, WarningCode,
};
use crate::core::advice::{RunFlags, shell_word};
use crate::core::facts::{MaxUnavailableFinding, RECREATE};
use crate::core::failures::{Blocker, blockers};
use crate::core::maintenance::MaintenanceRefusal;
use crate::core::names::{OrdinalRange, pod_name};
use crate::core::objects::*;
use crate::core::orphans::Keep;
use crate::core::reads::Reads;
use crate::core::resize::{Expansion, class_expansion};
use crate::core::rollout::Journal;

type Found = Vec<(WarningCode, String)>;

/// ` -n NS --context C --kubeconfig K`: what a printed command needs after its arguments to run
/// as printed (the run's connection flags, the StatefulSet's namespace).
fn on(namespace: &str, flags: &RunFlags) -> String {
    format!(" -n {}{}", shell_word(namespace), flags.connection())
}

/// Every warning, family by family, in the order a person should read them.
pub(super) fn warnings(
    status: &StatefulSetStatus,
    sts: &StatefulSet,
    snapshot: &Reads,
    nodes: Option<&HashMap<&str, &Node>>,
    unverified: &[String],
    options: &StatusOptions,
) -> Vec<Warning> {
    let now = options.now;
    let flags = &options.flags;
    let blockers = blockers(sts, &snapshot.pods, status.controller_failures.as_deref().unwrap_or_default());
    let families = [
        deletion_warnings(status),
        service_warnings(status),
        seen::stray_warnings(status, sts, snapshot, flags),
        pod_warnings(status, nodes, &blockers, now, flags),
        seen::node_warnings(status, sts, snapshot, nodes, flags),
        seen::availability_warnings(status, now),
        seen::claim_owner_warnings(status, sts, snapshot, flags),
        dns_warnings(status, flags),
        controller_warnings(status, sts, snapshot, &blockers, now, flags),
        rollout_warnings(status, sts, &blockers, flags),
        maintenance_warnings(sts, flags),
        version_warnings(sts, snapshot),
        storage_warnings(status, unverified, flags),
        resize_warnings(status, snapshot, flags),
        swap_warnings(sts, snapshot, flags),
    ];
    families.into_iter().flatten().map(|(code, message)| Warning { code, message }).collect()
}

fn deletion_warnings(status: &StatefulSetStatus) -> Found {
    let Some(deletion) = &status.deletion else { return Found::new() };
    let held = if deletion.finalizers.is_empty() {
        String::new()
    } else {
        format!(" (finalizers {})", deletion.finalizers.join(", "))
    };
    let what = if deletion.kind == "Namespace" { "namespace" } else { "StatefulSet" };
    vec![(
        WarningCode::BeingDeleted,
        format!(
            "{what} {} is being deleted{held}: its pods go with it, and the plugin's rollout and prune refuse to start",
            deletion.name
        ),
    )]
}

fn service_warnings(status: &StatefulSetStatus) -> Found {
    let name = &status.name;
    let svc = &status.service;
    let mut out = Found::new();
    match (&svc.name, svc.exists) {
        (None, _) => out.push((
            WarningCode::ServiceMissing,
            "spec.serviceName is empty: pods get no stable DNS names; set it to a headless Service"
                .to_owned(),
        )),
        (Some(svc_name), false) => out.push((
            WarningCode::ServiceMissing,
            format!(
                "governing Service {svc_name} does not exist: the pods' DNS names will not resolve; \
                 create a headless Service (clusterIP: None) named {svc_name} selecting the pods"
            ),
        )),
        (Some(svc_name), true) => {
            if svc.headless == Some(false) {
                out.push((
                    WarningCode::ServiceNotHeadless,
                    format!(
                        "Service {svc_name} is not headless: per-pod DNS names will not resolve; \
                         recreate it with clusterIP: None"
                    ),
                ));
            }
            if svc.selects_pods == Some(false) {
                out.push((
                    WarningCode::ServiceSelectorMismatch,
                    format!(
                        "Service {svc_name} does not select the pods of {name}: their DNS names will not \
                         resolve; make its selector match the pod template labels"
                    ),
                ));
            }
        }
    }
    out
}

fn pod_warnings(
    status: &StatefulSetStatus,
    nodes: Option<&HashMap<&str, &Node>>,
    blockers: &[Blocker],
    now: Timestamp,
    flags: &RunFlags,
) -> Found {
    let name = &status.name;
    let on = on(&status.namespace, flags);
    let mut out = Found::new();
    let failing_for = |pod: &str| {
        blockers.iter().any(|b| matches!(b, Blocker::Failing(f) if f.pod.as_deref() == Some(pod)))
    };
    // A stray holds the ordinal, or another pod its name: the stray warnings say why it is missing.
    let explained = seen::explained_missing(status);
    for o in status.ordinals.iter().filter(|o| o.live) {
        let Some(pod) = &o.pod else {
            let missing = pod_name(name, o.ordinal);
            // A failure names it: ControllerFailing says what keeps the controller from creating
            // it. A StatefulSet being deleted creates nothing.
            if !failing_for(&missing) && status.deletion.is_none() && !explained.contains(&missing) {
                out.push((
                    WarningCode::PodMissing,
                    format!(
                        "ordinal {} has no pod {missing}: the controller has not created it yet",
                        o.ordinal
                    ),
                ));
            }
            continue;
        };
        if !pod.ready {
            // What its kubelet (or the scheduler) said last, as `kubectl describe pod` shows it.
            let message = match &pod.last_warning {
                Some(w) => {
                    let times = if w.count > 1 { format!("{}x, ", w.count) } else { String::new() };
                    format!(
                        "pod {} is not Ready ({}): {} reports {} ({times}last {} ago): {}; check `kubectl describe pod {}{on}`",
                        pod.name,
                        pod.status,
                        w.source.as_deref().unwrap_or("an event"),
                        w.reason,
                        age(w.last_seen, now),
                        w.message,
                        pod.name
                    )
                }
                None => format!(
                    "pod {} is not Ready ({}): check `kubectl describe pod {}{on}`",
                    pod.name, pod.status, pod.name
                ),
            };
            out.push((WarningCode::PodNotReady, message));
        }
        if !pod.held_by_finalizers.is_empty() {
            let remove = shell_word(r#"[{"op":"remove","path":"/metadata/finalizers"}]"#);
            out.push((
                WarningCode::PodHeldByFinalizers,
                format!(
                    "pod {}; once you know its data is safe to let go, `kubectl patch pod {}{on} --type json -p {remove}` \
                     releases it and the controller re-creates it",
                    held_terminating(&pod.name, &pod.held_by_finalizers),
                    pod.name
                ),
            ));
        }
        if pod.node_ready == Some(false) {
            let node = pod.node.as_deref().unwrap_or_default();
            let since = nodes
                .and_then(|n| n.get(node))
                .and_then(|n| node_ready_condition(n))
                .map(|(state, since)| format!(" ({state} for {})", age(since.map(|t| t.0), now)))
                .unwrap_or_default();
            let waiting = if matches!(pod.status.as_str(), "Terminating" | "Unknown") {
                format!("{} was evicted, but no kubelet can confirm it stopped, so", pod.name)
            } else {
                format!("until {} is deleted", pod.name)
            };
            let blocked = if status.pod_management_policy == ORDERED_READY {
                " (and, OrderedReady, holds back every change to higher ordinals)"
            } else {
                ""
            };
            out.push((
                WarningCode::PodOnNotReadyNode,
                format!(
                    "pod {} is on node {node}, which is NotReady{since}: {waiting} the StatefulSet will not create a \
                     replacement{blocked}; if the node is gone for good, run `kubectl stateful recover {}{on}`",
                    pod.name, pod.name
                ),
            ));
        }
        for claim in &o.pvcs {
            match claim.phase.as_deref() {
                None => out.push((
                    WarningCode::PvcMissing,
                    format!(
                        "PVC {} is missing: the controller recreates it empty when pod {} is created",
                        claim.name, pod.name
                    ),
                )),
                Some("Pending") => out.push((
                    WarningCode::PvcPending,
                    format!(
                        "PVC {} is Pending: check its StorageClass and `kubectl describe pvc {}{on}`",
                        claim.name, claim.name
                    ),
                )),
                Some("Lost") => out.push((
                    WarningCode::PvcLost,
                    format!(
                        "PVC {} is Lost: its PersistentVolume {} is gone; restore it from a backup",
                        claim.name,
                        claim.volume.as_deref().unwrap_or("?")
                    ),
                )),
                _ => {}
            }
        }
    }
    out
}

/// The bootstrap trap (kubernetes#58662, #92559): a Service that publishes only Ready pods
/// gives a pod that is not Ready no DNS record, so peers that must reach it before it can be
/// Ready (a cluster forming or rejoining its quorum) never can. Raised only when the names
/// resolve at all (the Service warnings cover the rest) and for pods that publishing not-Ready
/// addresses would make resolvable now: with an IP, not being deleted, on a node not known to be
/// down (the EndpointSlice controller publishes no pod without an IP, and no peer reaches a pod
/// on a lost node either way).
fn dns_warnings(status: &StatefulSetStatus, flags: &RunFlags) -> Found {
    let svc = &status.service;
    let Some(service) = svc.name.as_deref() else { return Found::new() };
    let resolves = svc.exists && svc.headless == Some(true) && svc.selects_pods == Some(true);
    if !resolves || svc.publish_not_ready_addresses != Some(false) {
        return Found::new();
    }
    let live = || status.ordinals.iter().filter(|o| o.live);
    let not_ready: Vec<&str> = live()
        .filter_map(|o| o.pod.as_ref())
        .filter(|p| !p.ready && p.ip.is_some() && p.node_ready != Some(false))
        .filter(|p| !matches!(p.status.as_str(), "Terminating" | "Unknown"))
        .map(|p| p.name.as_str())
        .collect();
    if not_ready.is_empty() {
        return Found::new();
    }
    let namespace = &status.namespace;
    let conn = flags.connection();
    let (pods, names, they, them) = match not_ready.as_slice() {
        [one] => (format!("pod {one} is"), "its DNS name does", "it is", "it"),
        many => (format!("pods {} are", many.join(", ")), "their DNS names do", "they are", "them"),
    };
    let mut message = format!(
        "{pods} not Ready and Service {service} publishes only Ready pods: {names} not resolve until {they} \
         Ready, so peers that must reach {them} before then (a cluster forming or rejoining its quorum) cannot; if \
         this software needs that, set publishNotReadyAddresses: true on Service {service} (`kubectl patch \
         service {service} -n {namespace}{conn} -p '{{\"spec\":{{\"publishNotReadyAddresses\":true}}}}'`, or in its \
         manifest)"
    );
    // Under OrderedReady the peers may not even exist yet: publishing the first pod's name does
    // not create them.
    let missing: Vec<String> =
        live().filter(|o| o.pod.is_none()).map(|o| pod_name(&status.name, o.ordinal)).collect();
    if status.pod_management_policy == ORDERED_READY && !missing.is_empty() {
        message.push_str(&format!(
            "; under OrderedReady the controller creates {} only once every pod before {} is Ready, so software \
             that needs its peers to become Ready also needs podManagementPolicy: Parallel, which is immutable: \
             re-create the StatefulSet with it (`kubectl delete statefulset {} -n {namespace}{conn} --cascade=orphan` \
             leaves the pods and claims to the new one)",
            missing.join(", "),
            if missing.len() == 1 { "it" } else { "each" },
            status.name
        ));
    }
    vec![(WarningCode::NotReadyPodsUnresolvable, message)]
}

/// What keeps the controller from making progress: its failures, and pods it cannot update. A
/// failed create of a pod whose name another pod holds is said by `PodNameTaken`, with its cause.
fn controller_warnings(
    status: &StatefulSetStatus,
    sts: &StatefulSet,
    snapshot: &Reads,
    blockers: &[Blocker],
    now: Timestamp,
    flags: &RunFlags,
) -> Found {
    let taken: Vec<&str> = status
        .stray_pods
        .iter()
        .filter(|s| s.place == StrayPlace::NameTaken)
        .map(|s| s.name.as_str())
        .collect();
    let explained = |b: &&Blocker| {
        matches!(b, Blocker::Failing(f) if f.operation.starts_with("create Pod")
            && f.pod.as_deref().is_some_and(|p| taken.contains(&p)))
    };
    blockers
        .iter()
        .filter(|b| !explained(b))
        .filter_map(|b| {
            let code = match b {
                Blocker::Failing(_) => WarningCode::ControllerFailing,
                Blocker::LacksClaims { .. } => WarningCode::PodMissingClaim,
                // The stray warnings say these, with more of what status sees.
                Blocker::Stray(_) => return None,
            };
            Some((code, b.describe_with(sts, &snapshot.pods, now, flags)))
        })
        .collect()
}

/// A `restart` or `scale` that did not finish leaves its journal on the StatefulSet: status
/// names it with both ways on (resume, or give it up), and a journal that does not read with
/// the command that removes it.
fn maintenance_warnings(sts: &StatefulSet, flags: &RunFlags) -> Found {
    use crate::core::maintenance::{restart, scale};
    let mut out = Found::new();
    let namespace = sts.namespace().unwrap_or_default();
    let set = shell_word(&sts.name_any()).into_owned();
    let command = |verb: &str, extra: &str| flags.plugin(&namespace, &format!("{verb} {set}{extra}"));
    match restart::Journal::of(sts, flags) {
        Ok(Some(journal)) => {
            let members: Vec<&str> = journal.members.iter().map(|m| m.pod.as_str()).collect();
            out.push((
                WarningCode::RestartInProgress,
                format!(
                    "a `kubectl stateful restart` of {} started at {} did not finish ({} of {} done): run `{}` to \
                     resume it, or `{}` to give it up",
                    members.join(", "),
                    journal.started_at,
                    journal.done.len(),
                    members.len(),
                    command("restart", ""),
                    command("restart", " --discard-journal"),
                ),
            ));
        }
        Ok(None) => {}
        Err(MaintenanceRefusal::JournalUnreadable { object, annotation, error, discard }) => {
            out.push((WarningCode::JournalUnreadable, unreadable(&object, annotation, &error, &discard)));
        }
        Err(refusal) => out.push((WarningCode::JournalUnreadable, refusal.to_string())),
    }
    match scale::Journal::of(sts, flags) {
        Ok(Some(journal)) => out.push((
            WarningCode::ScaleInProgress,
            format!(
                "a `kubectl stateful scale` from {} to {} replicas started at {} did not finish: run `{}` to resume \
                 it, or `{}` to give it up",
                journal.from,
                journal.to,
                journal.started_at,
                command("scale", ""),
                command("scale", " --discard-journal"),
            ),
        )),
        Ok(None) => {}
        Err(scale::Refusal::JournalUnreadable { object, annotation, error, discard }) => {
            out.push((WarningCode::JournalUnreadable, unreadable(&object, annotation, &error, &discard)));
        }
        Err(refusal) => out.push((WarningCode::JournalUnreadable, refusal.to_string())),
    }
    out
}

/// The status line of a maintenance journal that does not read: in a read-only command, what it
/// is and the command that shows and removes it (the refusal's words say what a run left alone).
fn unreadable(object: &str, annotation: &str, error: &str, discard: &str) -> String {
    format!(
        "annotation {annotation} on {object} is not a journal ({error}): the command that wrote it cannot \
         resume; `{discard}` shows it and removes it"
    )
}

fn rollout_warnings(
    status: &StatefulSetStatus,
    sts: &StatefulSet,
    blockers: &[Blocker],
    flags: &RunFlags,
) -> Found {
    let mut out = Found::new();
    let name = &status.name;
    let namespace = &status.namespace;
    let on = on(namespace, flags);
    let conn = flags.connection();
    let Some(update) = &status.revisions.update else {
        return out;
    };
    let live: Vec<&PodStatus> =
        status.ordinals.iter().filter(|o| o.live).filter_map(|o| o.pod.as_ref()).collect();
    let older: Vec<&PodStatus> =
        live.iter().copied().filter(|p| p.revision_role != Some(RevisionRole::Update)).collect();
    let partition = status.update_strategy.partition.unwrap_or(0);
    let journal = match Journal::of(sts) {
        Ok(journal) => journal,
        Err(error) => {
            out.push((
                WarningCode::JournalUnreadable,
                format!(
                    "{error}: `kubectl stateful rollout {name}{on}` refuses while it is there; \
                     `kubectl stateful rollout {name} --discard-journal{on}` shows it and removes it"
                ),
            ));
            None
        }
    };
    let on_delete = status.update_strategy.kind == ON_DELETE;
    let equivalent = status.revisions.same_template == Some(true);
    if let (true, Some(current)) = (equivalent && !older.is_empty(), &status.revisions.current) {
        // Not a pending update: the 1.33 → 1.34 upgrade case (kubernetes#134773).
        let restart = if status.update_strategy.kind == ROLLING_UPDATE || on_delete {
            format!("; `kubectl stateful rollout {name}{on}` restarts them step by step")
        } else {
            String::new()
        };
        out.push((
            WarningCode::RevisionsEquivalent,
            format!(
                "{} pod(s) run revision {}, which records the same pod template as update revision {}: the two \
                 differ only in how the template was encoded (as after the 1.33 → 1.34 upgrade, kubernetes#134773), \
                 so no template change is pending; replacing those pods only restarts them{restart}",
                older.len(),
                short_revision(name, &current.name),
                short_revision(name, &update.name),
            ),
        ));
    }
    if !older.is_empty() {
        let held = status.ordinals.iter().filter(|o| o.held_back).count();
        let guide = if !blockers.is_empty() {
            "the controller is blocked (see below): fix that first; `kubectl stateful rollout` refuses until then"
                .to_owned()
        } else if on_delete && journal.is_some() {
            let evict = match journal.as_ref().is_some_and(|j| j.strategy_before.is_some()) {
                true => {
                    " (started with --evict: the strategy is OnDelete until it ends; both restore RollingUpdate)"
                }
                false => "",
            };
            format!(
                "OnDelete: a rollout by this tool replaces the pods by eviction; `kubectl stateful rollout {name} -n \
                 {namespace}{conn}` resumes it, `--abort` rolls it back{evict}"
            )
        } else if on_delete {
            format!(
                "OnDelete: the controller replaces a pod only once it is deleted; `kubectl stateful rollout {name} -n \
                 {namespace}{conn}` evicts the {} pod(s) on older revisions one at a time, highest ordinal first, waiting \
                 for each replacement to be Ready",
                older.len()
            )
        } else if status.update_strategy.kind == RECREATE {
            "Recreate: the controller deletes every pod on an older revision, then creates them all on the update \
             revision, with no partition; `kubectl stateful rollout` does not step Recreate StatefulSets"
                .to_owned()
        } else if let Some(contested) = status.owners.partition_reverter() {
            format!(
                "the partition is owned by {}, which sets it back: make it leave the partition to kubectl stateful \
                 (docs/gitops.md), then `kubectl stateful rollout {name}{on}` steps it through",
                contested.owner()
            )
        } else if let Some(owner) =
            status.owners.template_reverter().filter(|_| journal.as_ref().is_some_and(|j| j.held))
        {
            let from =
                status.owners.applier.as_ref().map_or_else(|| "its owner".to_owned(), |a| a.describe());
            format!(
                "held by `kubectl stateful rollout --hold` for this change from {from}: `kubectl stateful rollout \
                 {name}{on}` steps it through; to give it up, {}, then run `kubectl stateful rollout {name} --abort{on}`",
                owner.tool().undo()
            )
        } else if let Some(journal) = &journal {
            // Pods that were not Ready when it started are not waited for by its abort.
            let start = match &journal.ready_at_start {
                Some(before) if !before.all() => format!(
                    "; not every pod was Ready when it started ({}): its abort moves the pods it changed back and \
                     waits for Ready only where a pod was Ready then",
                    before.describe()
                ),
                _ => String::new(),
            };
            match journal.aborting {
                true => format!(
                    "the abort of a `kubectl stateful rollout` did not finish: run `kubectl stateful rollout {name} \
                     --abort{on}` to finish it{start}"
                ),
                false => format!(
                    "a `kubectl stateful rollout` is in progress: run `kubectl stateful rollout {name}{on}` to resume, \
                     or `kubectl stateful rollout {name} --abort{on}` to roll it back{start}"
                ),
            }
        } else {
            format!("`kubectl stateful rollout {name}{on}` steps it through")
        };
        let verb = if on_delete { "waiting for deletion" } else { "in progress" };
        if !equivalent {
            out.push((
                WarningCode::RolloutInProgress,
                format!(
                    "rollout {verb}: {} of {} pods on update revision {}{}; {guide}",
                    status.replicas.updated,
                    status.replicas.desired,
                    short_revision(name, &update.name),
                    if held > 0 {
                        format!(", {held} held back by partition {partition}")
                    } else {
                        String::new()
                    },
                ),
            ));
        }
        // A released pod not Ready on a revision the rollout no longer runs (a canary of a
        // template someone replaced since): under OrderedReady the controller waits for it and
        // never replaces it.
        let released = |p: &&&PodStatus| {
            status.ordinals.iter().any(|o| o.pod.as_ref().is_some_and(|q| q.name == p.name) && !o.held_back)
        };
        if status.pod_management_policy == ORDERED_READY && status.update_strategy.kind == ROLLING_UPDATE {
            for pod in older.iter().filter(|p| !p.ready).filter(released) {
                let remedy = if journal.is_some() {
                    format!("`kubectl stateful rollout {name}{on}` offers to delete it when it resumes")
                } else {
                    format!(
                        "`kubectl delete pod {} -n {namespace}{conn}` lets the controller replace it",
                        pod.name
                    )
                };
                out.push((
                    WarningCode::RolloutStalled,
                    format!(
                        "pod {} is not Ready ({}) on revision {}, which is not the update revision: under OrderedReady \
                         the controller waits for it and never replaces it; {remedy}",
                        pod.name,
                        pod.status,
                        pod.revision.as_deref().map(|r| short_revision(name, r)).unwrap_or("?")
                    ),
                ));
            }
        }
        for pod in live.iter().filter(|p| p.revision_role == Some(RevisionRole::Update) && !p.ready) {
            let trap = if status.pod_management_policy == ORDERED_READY {
                "the controller waits for it and will not roll back even if the template is reverted (forced rollback)"
            } else {
                "the rollout cannot complete until it is Ready"
            };
            out.push((
                WarningCode::RolloutStalled,
                format!(
                    "pod {} runs the update revision but is not Ready ({}): {trap}; fix the template, or run \
                     `kubectl stateful rollout {name} --abort{on}`, which deletes stuck pods after confirmation",
                    pod.name, pod.status
                ),
            ));
        }
    } else if journal.as_ref().is_some_and(|j| j.held) {
        let from = status.owners.applier.as_ref().map_or_else(|| "its owner".to_owned(), |a| a.describe());
        // The promise of a hold, unless the partition's owner sets it back with the change.
        let promise = match status.owners.partition_reverter() {
            Some(contested) => format!(
                "but the partition is owned by {}, which sets it back {}: the change then releases every pod at \
                 once (docs/gitops.md)",
                contested.owner(),
                contested.tool().reverts_when()
            ),
            None => format!(
                "once it is applied, no pod moves until `kubectl stateful rollout {name}{on}` steps it through"
            ),
        };
        out.push((
            WarningCode::RolloutHeld,
            format!(
                "held at partition {partition} by `kubectl stateful rollout --hold` for the next template change from \
                 {from}: {promise}; `kubectl stateful rollout {name} --abort{on}` releases the hold"
            ),
        ));
    } else if partition > 0 && status.update_strategy.kind == ROLLING_UPDATE {
        let remedy = match status.owners.partition_reverter() {
            Some(contested) => {
                format!("{} owns it: set it to 0 there unless you are staging a canary", contested.owner())
            }
            None => {
                format!(
                    "run `kubectl stateful rollout {name} --partition 0{on}` unless you are staging a canary"
                )
            }
        };
        out.push((
            WarningCode::PartitionWithoutUpdate,
            format!(
                "partition is {partition} with no update pending: the next template change will reach only ordinals \
                 ≥ {}; {remedy}",
                i64::from(status.ordinals_start) + i64::from(partition)
            ),
        ));
    }
    // A rollout of ours whose partition a tool that sets it back now owns (it re-applied it).
    if journal.is_some()
        && let Some(contested) = status.owners.partition_reverter()
    {
        out.push((
            WarningCode::OwnedPartition,
            format!(
                "the partition of this rollout is owned by {}, which sets it back {}: make it leave the partition to \
                 kubectl stateful (docs/gitops.md) before the next step",
                contested.owner(),
                contested.manager.tool.reverts_when()
            ),
        ));
    }
    // Pods a scale-up created on the update revision while the canary held the others back: no
    // step released them, yet they run the new revision.
    if let Some(staged) = journal.and_then(|j| j.staged_replicas) {
        let range = OrdinalRange { start: status.ordinals_start, replicas: status.replicas.desired };
        let unreleased: Vec<&str> = status
            .ordinals
            .iter()
            .filter(|o| o.live && range.index_of(o.ordinal) >= i64::from(staged))
            .filter_map(|o| o.pod.as_ref())
            .filter(|p| p.revision_role == Some(RevisionRole::Update))
            .map(|p| p.name.as_str())
            .collect();
        if !unreleased.is_empty() {
            out.push((
                WarningCode::UnreleasedUpdate,
                format!(
                    "{} run the update revision though no step released them: a scale-up created them while the \
                     rollout held {staged} replicas back; `kubectl stateful rollout {name} --abort{on}` rolls them back too",
                    unreleased.join(", ")
                ),
            ));
        }
    }
    out
}

/// Where this server's version or feature gates change what the StatefulSet's spec means
/// (facts read from the server, `core::facts`).
fn version_warnings(sts: &StatefulSet, snapshot: &Reads) -> Found {
    match MaxUnavailableFinding::of(sts, snapshot.max_unavailable.as_ref()) {
        Some(finding @ MaxUnavailableFinding::Ignored { .. }) => {
            vec![(WarningCode::MaxUnavailableIgnored, finding.describe())]
        }
        Some(finding @ MaxUnavailableFinding::Dropped { .. }) => {
            vec![(WarningCode::MaxUnavailableDropped, finding.describe())]
        }
        // Unknown is a note (what could not be read), not a warning.
        _ => Found::new(),
    }
}

/// Claims outside the live ordinals, named-alike claims, and volumes a deleted claim left.
fn storage_warnings(status: &StatefulSetStatus, unverified: &[String], flags: &RunFlags) -> Found {
    let name = &status.name;
    let namespace = &status.namespace;
    let on = on(namespace, flags);
    let conn = flags.connection();
    let mut out = Found::new();
    if !status.orphaned_pvcs.is_empty() {
        let names: Vec<&str> = status.orphaned_pvcs.iter().map(|c| c.name.as_str()).collect();
        out.push((
            WarningCode::OrphanedPvcs,
            format!(
                "{} PVC(s) outside the live ordinals ({}): a scale-up re-attaches them with their old data; \
                 `kubectl stateful pvc prune {name}{on}` removes them safely",
                names.len(),
                names.join(", ")
            ),
        ));
    }
    let parked: Vec<&str> =
        status.kept_pvcs.iter().filter(|k| k.keep == Keep::Parked).map(|k| k.claim.name.as_str()).collect();
    if !parked.is_empty() {
        out.push((
            WarningCode::KeptPvcs,
            format!(
                "{name} is scaled to 0 and keeps {} PVC(s) ({}): scaling it up re-attaches them with their data; \
                 if that data is no longer wanted, `kubectl stateful pvc prune {name} --include-scaled-to-zero{on}` removes them",
                parked.len(),
                parked.join(", ")
            ),
        ));
    }
    for pvc in unverified {
        out.push((
            WarningCode::UnverifiedPvc,
            format!(
                "PVC {pvc} is named like a claim of {name} but has neither its selector labels nor an \
                 ownerReference: not counted as its orphan; check who created it"
            ),
        ));
    }
    for volume in &status.released_volumes {
        // A Delete (or Recycle) volume is its provisioner's to reclaim, now or at its next try:
        // the data is on its way out, and binding it again races that deletion.
        if volume.reclaim_policy != "Retain" {
            out.push((
                WarningCode::ReleasedVolume,
                format!(
                    "PersistentVolume {} is Released with reclaim policy {}: its provisioner deletes it, and the data \
                     of {} with it; to keep that data, switch it to Retain before that happens with `kubectl patch pv {}{conn} \
                     -p '{{\"spec\":{{\"persistentVolumeReclaimPolicy\":\"Retain\"}}}}'`",
                    volume.name, volume.reclaim_policy, volume.claim, volume.name
                ),
            ));
            continue;
        }
        out.push((
            WarningCode::ReleasedVolume,
            format!(
                "PersistentVolume {} is Released (reclaim policy {}) and still holds the data of {}: to bind it \
                 again, clear its old binding with `kubectl patch pv {}{conn} --type json -p \
                 '[{{\"op\":\"remove\",\"path\":\"/spec/claimRef/uid\"}},{{\"op\":\"remove\",\"path\":\"/spec/claimRef/resourceVersion\"}}]'`; \
                 the next claim named {} in namespace {namespace} (created when {name} scales up to include ordinal {}) then binds to it",
                volume.name, volume.reclaim_policy, volume.claim, volume.name, volume.claim, volume.ordinal
            ),
        ));
    }
    out
}

/// Claims whose size is not what it should be: an expansion that failed, one that waits for
/// something, and claims smaller than their template. The advice never names
/// `kubectl stateful pvc resize NAME --size TEMPLATE=SIZE` for the template's own size: that
/// command refuses an unchanged size (a usage error), so the remedy is the claim's own patch,
/// which is what the resizer acts on.
/// A half-done `pvc resize` swap of a set whose object exists (the old one being deleted, or
/// the re-created one not yet verified). A set whose object is gone gets its warning where its
/// status is built from the journal (`mid_swap_statuses`), whose object has no resourceVersion.
fn swap_warnings(sts: &StatefulSet, snapshot: &Reads, flags: &RunFlags) -> Found {
    if sts.metadata.resource_version.is_none() {
        return Found::new();
    }
    let namespace = sts.namespace().unwrap_or_default();
    let name = crate::core::resize::journal_name(&sts.name_any());
    snapshot
        .swap_journals
        .iter()
        .filter(|cm| cm.name_any() == name && cm.namespace().as_deref() == Some(namespace.as_str()))
        .filter_map(|cm| {
            let journal = crate::core::resize::journal_of(cm)?;
            let since = cm.metadata.creation_timestamp.as_ref().map(|t| t.0);
            let mid = crate::core::resize::MidSwap::of(
                &journal,
                &namespace,
                since,
                Some(sts),
                &snapshot.pods,
                flags,
            );
            Some((WarningCode::MidResize, mid.describe()))
        })
        .collect()
}

fn resize_warnings(status: &StatefulSetStatus, snapshot: &Reads, flags: &RunFlags) -> Found {
    let name = &status.name;
    let namespace = &status.namespace;
    let conn = flags.connection();
    let range = OrdinalRange { start: status.ordinals_start, replicas: status.replicas.desired };
    let claims = status
        .ordinals
        .iter()
        .flat_map(|o| &o.pvcs)
        .chain(&status.orphaned_pvcs)
        .chain(status.kept_pvcs.iter().map(|k| &k.claim))
        .filter(|c| c.phase.is_some());
    let patch = |claim: &str, size: &str| {
        format!(
            "kubectl -n {namespace}{conn} patch pvc {claim} -p '{{\"spec\":{{\"resources\":{{\"requests\":{{\"storage\":\"{size}\"}}}}}}}}'"
        )
    };
    // Stopping the pod that mounts a live claim: a StatefulSet re-creates a deleted pod at
    // once, so only scaling below its ordinal stops it (and every pod above it).
    let stop = |claim: &ClaimStatus, pod: &str| {
        if range.contains(claim.ordinal) && pod == pod_name(name, claim.ordinal) {
            let keep = i64::from(claim.ordinal) - i64::from(range.start);
            format!(
                "pod {pod} uses it, and only scaling below its ordinal stops it: `kubectl -n {namespace}{conn} scale \
                 statefulset {name} --replicas {keep}` (it stops every pod from {pod} up), then back to {}",
                range.replicas
            )
        } else {
            format!("pod {pod} uses it")
        }
    };
    let mut out = Found::new();
    for claim in claims {
        let pod = mounted_by(snapshot, namespace, &claim.name);
        let expansion = class_expansion(claim.storage_class.as_deref(), snapshot.storage_classes.as_deref());
        let capacity = claim.capacity.as_deref().unwrap_or("?");
        let request = claim.request.as_deref().unwrap_or("?");
        if let Some(resize) = &claim.resize {
            let condition = match (&resize.condition, &resize.message) {
                (Some(kind), Some(message)) => format!("{kind}: {message}"),
                (Some(kind), None) => kind.clone(),
                (None, _) => resize.allocated_resource_status.clone().unwrap_or_default(),
            };
            let node_side = resize.condition.as_deref() == Some("NodeResizeError")
                || resize.allocated_resource_status.as_deref() == Some(crate::core::resize::NODE_INFEASIBLE);
            if resize.infeasible() && !node_side {
                // KEP-1790: the request may be lowered, but only to more than the capacity.
                out.push((
                    WarningCode::PvcResizeFailed,
                    format!(
                        "PVC {} cannot grow to {request} ({condition}): the driver gave up and does not retry; to give \
                         up too, lower its request to a size above its capacity {capacity} that the driver can provide \
                         (the API server refuses {capacity} itself): `{}`; `kubectl -n {namespace}{conn} describe pvc {}` says \
                         why it failed",
                        claim.name,
                        patch(&claim.name, "SIZE"),
                        claim.name
                    ),
                ));
            } else if resize.infeasible() {
                out.push((
                    WarningCode::PvcResizeFailed,
                    format!(
                        "PVC {}: the volume grew but its filesystem cannot grow to {request} on the node ({condition}), \
                         and the kubelet does not retry; `kubectl -n {namespace}{conn} describe pvc {}` and the events of the \
                         pod that mounts it say why",
                        claim.name, claim.name
                    ),
                ));
            } else if matches!(resize.condition.as_deref(), Some("ControllerResizeError" | "NodeResizeError"))
            {
                let waits = match (expansion, &pod) {
                    (Expansion::Offline, Some(pod)) => format!(
                        "its StorageClass {} expands offline only, so it grows once no pod uses it; {}",
                        claim.storage_class.as_deref().unwrap_or("?"),
                        stop(claim, pod)
                    ),
                    _ => format!(
                        "the resizer retries; `kubectl -n {namespace}{conn} describe pvc {}` says why it fails",
                        claim.name
                    ),
                };
                out.push((
                    WarningCode::PvcResizeRetrying,
                    format!("PVC {} has not grown to {request} ({condition}): {waits}", claim.name),
                ));
            } else if resize.condition.as_deref() == Some("FileSystemResizePending")
                && let Some(pod) = &pod
            {
                let restart = if range.contains(claim.ordinal) && *pod == pod_name(name, claim.ordinal) {
                    format!(
                        "restarting pod {pod} finishes it (`kubectl -n {namespace}{conn} delete pod {pod}`: the StatefulSet \
                         re-creates it)"
                    )
                } else {
                    format!("restarting pod {pod}, which uses it, finishes it")
                };
                out.push((
                    WarningCode::PvcFilesystemResizePending,
                    format!(
                        "PVC {}: the volume has grown, but its filesystem grows to {request} only when the kubelet \
                         mounts it again; {restart}",
                        claim.name
                    ),
                ));
            }
        }
        let Some(template_size) = claim.template_request.as_deref() else { continue };
        let asked = claim.request.as_deref().and_then(crate::core::resize::quantity);
        let asked_for_template =
            asked.zip(crate::core::resize::quantity(template_size)).is_some_and(|(has, wants)| has >= wants);
        // A claim that asks for the template's size already is growing (or says above why not).
        if !claim.smaller_than_template || asked_for_template {
            continue;
        }
        let how = match (expansion, claim.storage_class.as_deref()) {
            (_, None) => {
                "it has no StorageClass, so it cannot grow (only dynamically provisioned claims can)"
                    .to_owned()
            }
            (Expansion::None, Some(class)) => format!(
                "its StorageClass {class} does not allow volume expansion, so it cannot grow (the API server refuses a \
                 bigger request)"
            ),
            (Expansion::Online, Some(class)) => {
                format!(
                    "its StorageClass {class} expands online: `{}` grows it",
                    patch(&claim.name, template_size)
                )
            }
            (Expansion::Offline, Some(class)) => match &pod {
                Some(pod) => format!(
                    "its StorageClass {class} expands offline only: after `{}` it grows once no pod uses it; {}",
                    patch(&claim.name, template_size),
                    stop(claim, pod)
                ),
                None => format!(
                    "its StorageClass {class} expands offline only and no pod uses it: `{}` grows it",
                    patch(&claim.name, template_size)
                ),
            },
            (Expansion::Unknown, Some(class)) => format!(
                "if its StorageClass {class} allows volume expansion (it could not be read), `{}` grows it",
                patch(&claim.name, template_size)
            ),
        };
        let reattached = if range.contains(claim.ordinal) {
            String::new()
        } else {
            format!(", and a scale-up that includes ordinal {} re-attaches it at {capacity}", claim.ordinal)
        };
        out.push((
            WarningCode::PvcSmallerThanTemplate,
            format!(
                "PVC {} has {capacity}, less than the {template_size} its template {} asks for (it was created when the \
                 template asked for less, or by hand{reattached}); {how}",
                claim.name, claim.template
            ),
        ));
    }
    out
}

/// The running pod of `namespace` that mounts `claim`, if any.
fn mounted_by(snapshot: &Reads, namespace: &str, claim: &str) -> Option<String> {
    snapshot
        .pods
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(namespace))
        .filter(|p| {
            !matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
        })
        .find(|p| mounted_claims(p).any(|c| c == claim))
        .and_then(|p| p.metadata.name.clone())
}
