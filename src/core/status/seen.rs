//! What the StatefulSet controller, the garbage collector and the scheduler see that the ordinal
//! map alone does not: pods the controller takes (or cannot replace) by its own reading of their
//! names, claims another object's deletion takes with it, pods on a Node that was deleted,
//! pods Ready but not yet available, and pods whose volume pins them where they cannot run.
//! Each rule returns its warnings; advice carries the run's flags (`RunFlags`).

use std::collections::HashMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::{StatefulSetStatus, WarningCode};
use crate::core::advice::{RunFlags, shell_word};
use crate::core::members::{Holder, Place, Stray, strays};
use crate::core::names::pod_name;
use crate::core::objects::*;
use crate::core::placement::{self, Pinned};
use crate::core::prune::describe_range;
use crate::core::reads::Reads;

type Found = Vec<(WarningCode, String)>;

/// How to take a stray out of the set without deleting it: remove a label the selector needs
/// (the controller then releases it). `None` when the selector has no plain label to remove.
fn release_command(sts: &StatefulSet, pod: &str, namespace: &str, flags: &RunFlags) -> Option<String> {
    let key = sts.spec.as_ref()?.selector.match_labels.as_ref()?.keys().next()?;
    Some(flags.kubectl(namespace, &format!("label pod {} {}-", shell_word(pod), shell_word(key))))
}

/// The ways out for a stray: release it (keeps it running, outside the set) or delete it.
fn ways_out(sts: &StatefulSet, pod: &str, namespace: &str, flags: &RunFlags) -> String {
    let delete = flags.kubectl(namespace, &format!("delete pod {}", shell_word(pod)));
    match release_command(sts, pod, namespace, flags) {
        Some(release) => format!(
            "take it out of the set with `{release}` (the controller then lets it go), or delete it with `{delete}`"
        ),
        None => {
            format!("delete it with `{delete}`, or change its labels so that the selector no longer matches")
        }
    }
}

/// Pods the controller takes though their names are not the ones it gives, and pods named
/// like a live ordinal's that it cannot replace (see `core::members`).
pub(super) fn stray_warnings(
    status: &StatefulSetStatus,
    sts: &StatefulSet,
    snapshot: &Reads,
    flags: &RunFlags,
) -> Found {
    let name = &status.name;
    let namespace = &status.namespace;
    let ordered = status.pod_management_policy == ORDERED_READY;
    let mut out = Found::new();
    for stray in strays(sts, &snapshot.pods) {
        match &stray {
            Stray::Impostor { pod, ordinal, adopted, place } => {
                let takes = if *adopted { "has adopted it" } else { "adopts it at its next sync" };
                let reads = match ordinal {
                    Some(o) => format!("reads its name as {name}'s ordinal {o}"),
                    None => format!("reads its name as {name}'s (the digits are too large for an ordinal)"),
                };
                let why = format!(
                    "pod {pod} is not one of the names {name} gives its pods, but the StatefulSet controller {reads} and \
                     {name}'s selector matches its labels, so it {takes}"
                );
                let out_of_it = ways_out(sts, pod, namespace, flags);
                let (code, message) = match place {
                    Place::Shares { pod: own } => {
                        // A rolling update deletes a pod in a place at or above the partition
                        // that does not run the update revision: this one, once it has the place.
                        let revision = snapshot
                            .pods
                            .iter()
                            .find(|p| p.name_any() == *pod && p.namespace() == sts.namespace())
                            .and_then(pod_revision);
                        let index = ordinal.map_or(0, |o| ordinal_range(sts).index_of(o));
                        let deleted = update_strategy(sts) == ROLLING_UPDATE
                            && index >= i64::from(partition(sts))
                            && update_revision(sts).is_some_and(|u| revision != Some(u));
                        let there = if deleted {
                            format!(
                                "and there, since it does not run {name}'s update revision, the rolling update deletes \
                                 it at once; to keep it, take it out of the set now: {}",
                                release_command(sts, pod, namespace, flags)
                                    .map_or_else(|| "change its labels".to_owned(), |c| format!("`{c}`"))
                            )
                        } else {
                            format!(
                                "where the controller's updates and scale-downs act on it instead of {own}; it has no \
                                 DNS name of its own. If it is not part of {name}, {out_of_it}"
                            )
                        };
                        (
                            WarningCode::StrayPod,
                            format!(
                                "{why}: in some of its syncs it puts {pod} in {own}'s place (and counts it instead), \
                                 {there}"
                            ),
                        )
                    }
                    Place::Holds { missing } => {
                        let blocked = if ordered {
                            format!(
                                ", and under OrderedReady it creates or updates no pod after {missing} either"
                            )
                        } else {
                            String::new()
                        };
                        (
                            WarningCode::StrayPodHoldsOrdinal,
                            format!(
                                "ordinal {} has no pod {missing}, and the controller will not create it: {why}, and it \
                                 stands in {missing}'s place; the controller tries to make it {missing} by updating a \
                                 pod named {missing}, which fails (not found) at every sync{blocked}. Free the place: \
                                 {out_of_it}; the controller then creates {missing}",
                                ordinal.unwrap_or_default()
                            ),
                        )
                    }
                    Place::Condemned => {
                        let when =
                            if ordered { ", once every pod of it is Ready (OrderedReady)" } else { "" };
                        (
                            WarningCode::StrayPod,
                            format!(
                                "{why}: ordinal {} is outside the live ordinals {}, so the controller deletes {pod} as \
                                 it would a pod being scaled away{when}. To keep it, take it out of the set first: {}",
                                ordinal.unwrap_or_default(),
                                describe_range(ordinal_range(sts)),
                                release_command(sts, pod, namespace, flags)
                                    .map_or_else(|| "change its labels".to_owned(), |c| format!("`{c}`"))
                            ),
                        )
                    }
                    Place::Unnumbered => (
                        WarningCode::StrayPod,
                        format!(
                            "{why}: it does nothing else with it, but {pod} then carries {name}'s controller \
                             reference, so deleting {name} deletes {pod} too; if it is not part of {name}, {out_of_it}"
                        ),
                    ),
                };
                out.push((code, message));
            }
            Stray::NameTaken { pod, ordinal, holder } => {
                let whose = match holder {
                    Holder::Controller { kind, name: owner } => format!("{kind} {owner} controls it"),
                    Holder::Unselected => {
                        format!("nothing controls it and {name}'s selector does not match its labels")
                    }
                };
                let blocked = if ordered { " (and, OrderedReady, no pod after it either)" } else { "" };
                let delete = flags.kubectl(namespace, &format!("delete pod {}", shell_word(pod)));
                let adopt = match holder {
                    Holder::Unselected => format!(
                        "; if it is meant to be {name}'s, give it the labels of {name}'s pod template instead and the controller adopts it"
                    ),
                    Holder::Controller { .. } => String::new(),
                };
                out.push((
                    WarningCode::PodNameTaken,
                    format!(
                        "ordinal {ordinal} has no pod of {name}: a pod named {pod} exists, but {whose}, so the StatefulSet \
                         controller cannot create its own {pod} (its create fails: already exists){blocked}. If that pod \
                         is not {name}'s, delete it with `{delete}` and the controller creates {pod}{adopt}"
                    ),
                ));
            }
        }
    }
    out
}

/// Claims of the live ordinals whose deletion another object decides: an ownerReference to
/// something other than this StatefulSet (and none to it) makes the garbage collector delete the
/// claim when that owner is deleted, mounted or not; and claims already being deleted.
pub(super) fn claim_owner_warnings(
    status: &StatefulSetStatus,
    sts: &StatefulSet,
    snapshot: &Reads,
    flags: &RunFlags,
) -> Found {
    let namespace = &status.namespace;
    let name = &status.name;
    let uid = sts.metadata.uid.as_deref();
    let pods = pods_of(sts, &snapshot.pods);
    let mut out = Found::new();
    for o in status.ordinals.iter().filter(|o| o.live) {
        let own_pod = pods.iter().find(|(ordinal, _)| *ordinal == o.ordinal).map(|(_, p)| *p);
        for claim in o.pvcs.iter().filter(|c| c.phase.is_some()) {
            let Some(pvc) = snapshot
                .pvcs
                .iter()
                .find(|p| p.name_any() == claim.name && p.namespace().as_deref() == Some(namespace.as_str()))
            else {
                continue;
            };
            let users = mounted_by(snapshot, namespace, &claim.name);
            let pod = pod_name(name, o.ordinal);
            let keep =
                retain_command(claim.volume.as_deref(), claim.reclaim_policy.as_deref(), namespace, flags);
            let others: Vec<String> =
                users.iter().filter(|u| **u != pod).map(|u| format!("pod {u}")).collect();
            let shared = if others.is_empty() {
                String::new()
            } else {
                format!(" ({} mounts it too: two pods share one volume)", others.join(", "))
            };
            if terminating(pvc) {
                let user = users.first().map_or_else(
                    || "no pod uses it now: it goes as soon as nothing holds it".to_owned(),
                    |u| format!("the pvc-protection finalizer keeps it only while pod {u} uses it"),
                );
                out.push((
                    WarningCode::PvcBeingDeleted,
                    format!(
                        "PVC {} of {pod} is being deleted{}: {user}; then {pod} gets a new, empty claim from the \
                         controller when it next starts{keep}",
                        claim.name,
                        owners_phrase(pvc)
                    ),
                ));
                continue;
            }
            let ours = |r: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference| {
                Some(r.uid.as_str()) == uid
                    || own_pod.is_some_and(|p| p.uid().as_deref() == Some(r.uid.as_str()))
            };
            let refs = pvc.owner_references();
            if refs.is_empty() || refs.iter().any(|r| Some(r.uid.as_str()) == uid) {
                continue;
            }
            let foreign: Vec<String> =
                refs.iter().filter(|r| !ours(r)).map(|r| format!("{} {}", r.kind, r.name)).collect();
            if foreign.is_empty() {
                continue;
            }
            let collision = refs
                .iter()
                .filter(|r| !ours(r))
                .find_map(|r| collides(&claim.name, r))
                .map(|other| {
                    format!(
                        ": its name is also the claim {other} gives a pod of its own (the names <template>-<set>-<ordinal> \
                         of the two StatefulSets collide)"
                    )
                })
                .unwrap_or_default();
            out.push((
                WarningCode::PvcOwnedElsewhere,
                format!(
                    "PVC {} of {pod} has an ownerReference to {} and none to {name}, so the garbage collector deletes it \
                     when {} deleted, whoever mounts it then{collision}{shared}; {pod} would then get a new, empty claim{keep}",
                    claim.name,
                    foreign.join(", "),
                    if foreign.len() == 1 { "that is" } else { "those are" },
                ),
            ));
        }
    }
    out
}

/// `; keep the data …` with the command that makes the claim's volume outlive it, or what
/// the volume already does.
fn retain_command(volume: Option<&str>, reclaim: Option<&str>, namespace: &str, flags: &RunFlags) -> String {
    match (volume, reclaim) {
        (Some(volume), Some("Retain")) => format!(
            "; its volume {volume} is Retain, so the data stays on it (Released) after the claim goes, and status then \
             says how to bind it again"
        ),
        (Some(volume), _) => format!(
            ". Keep the data first: `{}` makes volume {volume} outlive the claim (Released), and status then says how to \
             bind it again",
            flags.kubectl(
                namespace,
                &format!(
                    "patch pv {} -p '{{\"spec\":{{\"persistentVolumeReclaimPolicy\":\"Retain\"}}}}'",
                    shell_word(volume)
                )
            )
        ),
        (None, _) => String::new(),
    }
}

/// ` (its owners: StatefulSet x-web)`, for a claim being deleted: who may be deleting it.
fn owners_phrase(pvc: &PersistentVolumeClaim) -> String {
    let refs: Vec<String> = pvc.owner_references().iter().map(|r| format!("{} {}", r.kind, r.name)).collect();
    if refs.is_empty() {
        String::new()
    } else {
        format!(
            " (it has an ownerReference to {}: the garbage collector deletes it once that is gone)",
            refs.join(", ")
        )
    }
}

/// The pod of another StatefulSet whose claim this name also is: `x-web-0` when `claim` ends in
/// `-x-web-0` and `owner` is StatefulSet `x-web` (or its pod `x-web-0`).
fn collides(
    claim: &str,
    owner: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
) -> Option<String> {
    let set = match owner.kind.as_str() {
        "StatefulSet" => owner.name.clone(),
        "Pod" => controller_parent_and_ordinal(&owner.name)?.0.to_owned(),
        _ => return None,
    };
    let (prefix, digits) = claim.rsplit_once('-')?;
    let ordinal = crate::core::names::parse_ordinal(digits)?;
    let template = prefix.strip_suffix(&set)?.strip_suffix('-')?;
    (!template.is_empty()).then(|| pod_name(&set, ordinal))
}

/// The pods of `namespace` that mount `claim` and have not finished, by name.
fn mounted_by(snapshot: &Reads, namespace: &str, claim: &str) -> Vec<String> {
    let mut users: Vec<String> = snapshot
        .pods
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(namespace))
        .filter(|p| {
            !matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
        })
        .filter(|p| mounted_claims(p).any(|c| c == claim))
        .map(ResourceExt::name_any)
        .collect();
    users.sort();
    users
}

/// The volumes of `pod`'s claims that pin it where it cannot run now (`core::placement`);
/// empty when Nodes or PersistentVolumes could not be read.
fn pinned(pod: &Pod, claims: &[(String, Option<String>)], snapshot: &Reads) -> Vec<Pinned> {
    let (Some(nodes), Some(volumes)) = (snapshot.nodes.as_ref(), snapshot.volumes_by_name()) else {
        return Vec::new();
    };
    placement::pinned(pod, claims, nodes, &volumes, &[])
}

/// Pods on a Node object that no longer exists, and pods whose volume pins them to nodes that
/// are gone or cannot take them (so the scheduler can place them nowhere).
pub(super) fn node_warnings(
    status: &StatefulSetStatus,
    sts: &StatefulSet,
    snapshot: &Reads,
    nodes: Option<&HashMap<&str, &Node>>,
    flags: &RunFlags,
) -> Found {
    let namespace = &status.namespace;
    let pods = pods_of(sts, &snapshot.pods);
    let mut out = Found::new();
    for o in status.ordinals.iter().filter(|o| o.live) {
        let Some(shown) = &o.pod else { continue };
        let Some((_, pod)) = pods.iter().find(|(ordinal, _)| *ordinal == o.ordinal) else { continue };
        let claims: Vec<(String, Option<String>)> =
            o.pvcs.iter().filter(|c| c.phase.is_some()).map(|c| (c.name.clone(), c.volume.clone())).collect();
        let pinned = pinned(pod, &claims, snapshot);
        let describe = Pinned::describe;
        if shown.node_exists == Some(false) && nodes.is_some() {
            let node = shown.node.as_deref().unwrap_or_default();
            // Its replacement would need the same volumes: say where those leave it.
            let replacement = if pinned.is_empty() {
                format!("then {} re-creates it where it can run", status.name)
            } else {
                format!(
                    "its replacement cannot start anywhere, though: {}",
                    pinned.iter().map(describe).collect::<Vec<_>>().join("; ")
                )
            };
            out.push((
                WarningCode::PodOnDeletedNode,
                format!(
                    "pod {} is bound to node {node}, which is not in the API any more (its Node object was deleted): no \
                     kubelet reports on it. If {node}'s kubelet still runs, it registers the node again within \
                     seconds; if not, the pod garbage collector of kube-controller-manager force-deletes {} about 40 s \
                     after {node} went, and {replacement}",
                    shown.name, shown.name
                ),
            ));
            continue;
        }
        // On a node that is down: a replacement (after `recover`, or once the node is deleted)
        // could start only where the volume is pinned.
        if shown.node_ready == Some(false) && !pinned.is_empty() {
            let node = shown.node.as_deref().unwrap_or_default();
            let claims: Vec<&str> = pinned.iter().map(|p| p.claim.as_str()).collect();
            out.push((
                WarningCode::VolumeNodeUnavailable,
                format!(
                    "a replacement of {} could start nowhere but on {node}: {}. Until {node} is back, a replacement \
                     (after kubectl stateful recover) stays Pending; to start it elsewhere with an empty claim \
                     instead, giving up the data on {node}, delete the claim too with `{}` (it goes once {} is gone)",
                    shown.name,
                    pinned.iter().map(describe).collect::<Vec<_>>().join("; "),
                    flags.kubectl(
                        namespace,
                        &format!(
                            "delete pvc {} --wait=false",
                            claims.iter().map(|c| shell_word(c)).collect::<Vec<_>>().join(" ")
                        )
                    ),
                    shown.name
                ),
            ));
            continue;
        }
        if shown.node.is_some() || pinned.is_empty() {
            continue;
        }
        let ways: Vec<String> = pinned
            .iter()
            .flat_map(|p| {
                let uncordon = p.cordoned.iter().map(|n| {
                    format!("`{}` lets {} start there again", flags.kubectl(namespace, &format!("uncordon {}", shell_word(n))), shown.name)
                });
                let fresh = format!(
                    "to start {} elsewhere with an empty {} instead (what {} holds stays behind), delete the claim with \
                     `{}`: the controller creates {} a new one, which is provisioned where it can run",
                    shown.name,
                    p.claim,
                    p.volume,
                    // Without waiting: the controller re-creates a claim of the same name at once,
                    // which kubectl's wait for the old one can take for it.
                    flags.kubectl(namespace, &format!("delete pvc {} --wait=false", shell_word(&p.claim))),
                    shown.name
                );
                uncordon.collect::<Vec<_>>().into_iter().chain(std::iter::once(fresh))
            })
            .collect();
        let back = if pinned.iter().any(|p| p.gone || !p.cordoned.is_empty()) {
            format!("its data lives there: if that node comes back, {} starts on it; ", shown.name)
        } else {
            format!("if that changes, {} starts there; ", shown.name)
        };
        out.push((
            WarningCode::VolumeNodeUnavailable,
            format!(
                "{} cannot start anywhere: {}; {back}{}",
                shown.name,
                pinned.iter().map(describe).collect::<Vec<_>>().join("; "),
                ways.join("; or ")
            ),
        ));
    }
    out
}

/// Pods Ready but not yet available under `minReadySeconds`: the controller counts them (and
/// a rolling update or an OrderedReady scale-up waits for them) only from then.
pub(super) fn availability_warnings(status: &StatefulSetStatus, now: Timestamp) -> Found {
    let min = status.min_ready_seconds;
    if min <= 0 {
        return Found::new();
    }
    let waits = if status.pod_management_policy == ORDERED_READY {
        "until then the controller creates no pod after it and a rolling update does not move on"
    } else {
        "until then a rolling update does not move on"
    };
    status
        .ordinals
        .iter()
        .filter(|o| o.live)
        .filter_map(|o| o.pod.as_ref())
        .filter(|p| p.ready && !p.available)
        .map(|p| {
            let when = p.available_at.map_or_else(String::new, |at| {
                let left = (at.as_second() - now.as_second()).max(0);
                format!(" at {at} (in {left}s)")
            });
            (
                WarningCode::PodNotAvailable,
                format!(
                    "pod {} is Ready but not yet available: minReadySeconds is {min}, so the controller counts it \
                     available only{when}; {waits}",
                    p.name
                ),
            )
        })
        .collect()
}

/// Pods the status rules above explain, whose `PodMissing` would say otherwise (a stray holds
/// the ordinal, or another pod holds its name).
pub(super) fn explained_missing(status: &StatefulSetStatus) -> Vec<String> {
    status
        .stray_pods
        .iter()
        .filter_map(|s| match s.place {
            super::StrayPlace::HoldsOrdinal | super::StrayPlace::NameTaken => {
                s.ordinal.map(|o| pod_name(&status.name, o))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{
        NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PersistentVolume, Taint, VolumeNodeAffinity,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use k8s_openapi::jiff::Timestamp;

    use super::super::{StatefulSetStatus, StatusOptions, StrayPlace, WarningCode, build};
    use crate::core::advice::RunFlags;
    use crate::core::fixtures::*;
    use crate::core::reads::Reads;
    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
    use kube::ResourceExt;

    fn flags() -> RunFlags {
        RunFlags {
            context: Some("prod".into()),
            kubeconfig: Some("/tmp/k config".into()),
            ..Default::default()
        }
    }

    fn options(now: Timestamp) -> StatusOptions {
        StatusOptions { cluster_domain: "cluster.local".into(), now, flags: flags() }
    }

    /// The fixtures' status snapshot, without the down node, with Events read.
    fn snapshot(sts: &StatefulSet, pods: Vec<Pod>, pvcs: Vec<PersistentVolumeClaim>) -> Reads {
        let mut snapshot = status_snapshot(sts, pods, pvcs);
        snapshot.nodes = Some(vec![node("node-0", "True")]);
        snapshot.events = Some(Vec::new());
        snapshot
    }

    /// web (one template) whose pod web-0 is on node-7, its claim's volume pinned there.
    fn pinned_on_node_7() -> (StatefulSet, Reads) {
        let web = sts("web", 1).templates(&["data"]).build();
        let mut snap = snapshot(
            &web,
            vec![pod(&web, 0).node("node-7").build()],
            vec![pvc("data-web-0").of(&web).build()],
        );
        snap.volumes = Some(vec![pinned("data-web-0", "node-7")]);
        (web, snap)
    }

    fn warnings(status: &StatefulSetStatus, code: WarningCode) -> Vec<String> {
        status.warnings.iter().filter(|w| w.code == code).map(|w| w.message.clone()).collect()
    }

    fn codes(status: &StatefulSetStatus) -> Vec<WarningCode> {
        status.warnings.iter().map(|w| w.code).collect()
    }

    /// A pod named `name` with the set's labels, as a person creates it from its template.
    fn by_hand(sts: &StatefulSet, name: &str, adopted: bool) -> Pod {
        let mut stray = pod(sts, 0).build();
        stray.metadata.name = Some(name.to_owned());
        stray.metadata.uid = Some(format!("uid-{name}"));
        if !adopted {
            stray.metadata.owner_references = None;
        }
        stray
    }

    const K: &str = "--context prod --kubeconfig '/tmp/k config'";

    #[test]
    fn a_stray_sharing_an_ordinal_is_named_with_both_ways_out() {
        let mut web = sts("web", 3).build();
        web.status.as_mut().unwrap().replicas = 4;
        let pods = vec![
            pod(&web, 0).build(),
            pod(&web, 1).build(),
            pod(&web, 2).build(),
            by_hand(&web, "web-01", true),
        ];
        let status = build(&web, &snapshot(&web, pods, vec![]), &options(created()));
        assert_eq!(codes(&status), [WarningCode::StrayPod]);
        assert_eq!(status.stray_pods[0].place, StrayPlace::SharesOrdinal);
        assert_eq!(status.stray_pods[0].adopted, Some(true));
        let message = &warnings(&status, WarningCode::StrayPod)[0];
        assert!(
            message.starts_with("pod web-01 is not one of the names web gives its pods, but the StatefulSet controller \
                 reads its name as web's ordinal 1 and web's selector matches its labels, so it has adopted it: in some \
                 of its syncs it puts web-01 in web-1's place (and counts it instead), where the controller's updates \
                 and scale-downs act on it instead of web-1"),
            "{message}"
        );
        assert!(message.contains(&format!("`kubectl -n default {K} label pod web-01 app-`")), "{message}");
        assert!(message.contains(&format!("`kubectl -n default {K} delete pod web-01`")), "{message}");
        assert_eq!(status.ordinals.len(), 3, "no row for it: it is no ordinal of its own");

        // Not on the update revision, in a place a rolling update reaches: deleted once it has it.
        let mut updating = sts("web", 3).revisions("web-a", "web-b").build();
        updating.status.as_mut().unwrap().replicas = 4;
        let pods = [
            pod(&updating, 0).build(),
            pod(&updating, 1).build(),
            pod(&updating, 2).build(),
            by_hand(&updating, "web-00", true),
        ];
        let mut stray = pods[3].clone();
        stray.labels_mut().remove(crate::core::objects::REVISION_LABEL);
        let pods = [&pods[..3], &[stray]].concat();
        let status = build(&updating, &snapshot(&updating, pods.clone(), vec![]), &options(created()));
        let message = &warnings(&status, WarningCode::StrayPod)[0];
        assert!(
            message.contains(
                "and there, since it does not run web's update revision, the rolling update deletes it \
                 at once; to keep it, take it out of the set now: `kubectl -n default --context prod"
            ),
            "{message}"
        );
        // Held by the partition: it stays.
        let held = sts("web", 3).revisions("web-a", "web-b").partition(1).build();
        let status = build(&held, &snapshot(&held, pods, vec![]), &options(created()));
        assert!(warnings(&status, WarningCode::StrayPod)[0].contains("act on it instead of web-0"));
    }

    #[test]
    fn a_stray_holding_a_missing_ordinal_says_why_the_pod_is_not_created() {
        let web = sts("web", 3).build();
        let pods = vec![pod(&web, 0).build(), pod(&web, 2).build(), by_hand(&web, "web-01", false)];
        let status = build(&web, &snapshot(&web, pods, vec![]), &options(created()));
        assert_eq!(
            codes(&status),
            [WarningCode::StrayPodHoldsOrdinal],
            "not PodMissing: that says it is coming"
        );
        let message = &warnings(&status, WarningCode::StrayPodHoldsOrdinal)[0];
        assert!(
            message.starts_with("ordinal 1 has no pod web-1, and the controller will not create it"),
            "{message}"
        );
        assert!(message.contains("adopts it at its next sync"), "{message}");
        assert!(
            message.contains("under OrderedReady it creates or updates no pod after web-1 either"),
            "{message}"
        );
        let parallel = sts("web", 3).parallel().build();
        let pods = vec![pod(&parallel, 0).build(), by_hand(&parallel, "web-01", false)];
        let status = build(&parallel, &snapshot(&parallel, pods, vec![]), &options(created()));
        assert!(!warnings(&status, WarningCode::StrayPodHoldsOrdinal)[0].contains("OrderedReady"));
        assert_eq!(
            codes(&status),
            [WarningCode::StrayPodHoldsOrdinal, WarningCode::PodMissing],
            "web-2 is just missing"
        );
    }

    #[test]
    fn a_stray_outside_the_live_ordinals_is_deleted_by_the_controller() {
        let web = sts("web", 2).build();
        let pods = vec![pod(&web, 0).build(), pod(&web, 1).build(), by_hand(&web, "web-05", false)];
        let status = build(&web, &snapshot(&web, pods, vec![]), &options(created()));
        let message = &warnings(&status, WarningCode::StrayPod)[0];
        assert!(
            message.contains("ordinal 5 is outside the live ordinals 0..1, so the controller deletes web-05"),
            "{message}"
        );
        assert!(message.contains(&format!("`kubectl -n default {K} label pod web-05 app-`")), "{message}");
    }

    #[test]
    fn a_pod_holding_an_ordinals_name_is_named_instead_of_the_failed_create() {
        let web = sts("web", 3).build();
        let mut other = by_hand(&web, "web-1", false);
        other.metadata.labels = Some([("app".to_owned(), "backup".to_owned())].into());
        let pods = vec![pod(&web, 0).build(), pod(&web, 2).build(), other];
        let mut snap = snapshot(&web, pods, vec![]);
        let event: k8s_openapi::api::core::v1::Event = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web.1"},
            "involvedObject": {"kind": "StatefulSet", "name": "web", "namespace": "default", "uid": web.uid()},
            "reason": "FailedCreate", "type": "Warning", "count": 3,
            "message": "create Pod web-1 in StatefulSet web failed error: pods \"web-1\" already exists",
            "lastTimestamp": created().to_string(),
        }))
        .unwrap();
        snap.events = Some(vec![event]);
        let status = build(&web, &snap, &options(created()));
        assert_eq!(codes(&status), [WarningCode::PodNameTaken], "neither PodMissing nor ControllerFailing");
        let message = &warnings(&status, WarningCode::PodNameTaken)[0];
        assert!(
            message.starts_with(
                "ordinal 1 has no pod of web: a pod named web-1 exists, but nothing controls it and web's selector does \
                 not match its labels, so the StatefulSet controller cannot create its own web-1"
            ),
            "{message}"
        );
        assert!(message.contains(&format!("`kubectl -n default {K} delete pod web-1`")), "{message}");
        assert_eq!(status.controller_failures.as_ref().map(Vec::len), Some(1), "the model keeps the failure");
    }

    #[test]
    fn a_claim_another_set_owns_is_raised_with_how_to_keep_its_data() {
        // web's template data-x and x-web's template data both name data-x-web-0.
        let web = sts("web", 1).templates(&["data-x"]).build();
        let x_web = sts("x-web", 1).templates(&["data"]).build();
        let claim = pvc("data-x-web-0").of(&x_web).owner(&x_web).build();
        let mut neighbour = pod(&x_web, 0).build();
        neighbour.metadata.uid = Some("uid-x-web-0".into());
        let pods = vec![pod(&web, 0).build(), neighbour];
        let status = build(&web, &snapshot(&web, pods, vec![claim]), &options(created()));
        assert_eq!(codes(&status), [WarningCode::PvcOwnedElsewhere]);
        let message = &warnings(&status, WarningCode::PvcOwnedElsewhere)[0];
        assert!(
            message.starts_with(
                "PVC data-x-web-0 of web-0 has an ownerReference to StatefulSet x-web and none to web, so the garbage \
                 collector deletes it when that is deleted, whoever mounts it then: its name is also the claim x-web-0 \
                 gives a pod of its own"
            ),
            "{message}"
        );
        assert!(message.contains("(pod x-web-0 mounts it too: two pods share one volume)"), "{message}");
        assert!(
            message.contains(&format!(
                r#"`kubectl -n default {K} patch pv pv-data-x-web-0 -p '{{"spec":{{"persistentVolumeReclaimPolicy":"Retain"}}}}'`"#
            )),
            "{message}"
        );
        // Owned by web too: the garbage collector keeps it while web exists.
        let mut both = pvc("data-x-web-0").of(&x_web).owner(&x_web).build();
        let also_web = OwnerReference { uid: web.uid().unwrap(), ..both.owner_references()[0].clone() };
        both.metadata.owner_references.as_mut().unwrap().push(also_web);
        let status =
            build(&web, &snapshot(&web, vec![pod(&web, 0).build()], vec![both]), &options(created()));
        assert_eq!(codes(&status), []);
        // Its own claim, owned by web (whenDeleted: Delete): nothing to say.
        let own = pvc("data-x-web-0").of(&web).owner(&web).build();
        let status = build(&web, &snapshot(&web, vec![pod(&web, 0).build()], vec![own]), &options(created()));
        assert_eq!(codes(&status), []);
    }

    #[test]
    fn a_mounted_claim_being_deleted_is_raised() {
        let web = sts("web", 1).templates(&["data"]).build();
        let claim = pvc("data-web-0").of(&web).terminating().build();
        let mut snap = snapshot(&web, vec![pod(&web, 0).build()], vec![claim]);
        let status = build(&web, &snap, &options(created()));
        assert_eq!(codes(&status), [WarningCode::PvcBeingDeleted]);
        let message = &warnings(&status, WarningCode::PvcBeingDeleted)[0];
        assert!(
            message.starts_with(
                "PVC data-web-0 of web-0 is being deleted: the pvc-protection finalizer keeps it only while pod web-0 \
                 uses it; then web-0 gets a new, empty claim"
            ),
            "{message}"
        );
        assert!(message.contains("persistentVolumeReclaimPolicy"), "{message}");
        snap.volumes = Some(vec![pv("data-web-0", "Retain")]);
        let status = build(&web, &snap, &options(created()));
        assert!(
            warnings(&status, WarningCode::PvcBeingDeleted)[0].contains("is Retain, so the data stays on it")
        );
    }

    #[test]
    fn a_pod_on_a_deleted_node_is_raised_only_when_nodes_were_read() {
        let web = sts("web", 1).build();
        let pods = vec![pod(&web, 0).node("gone").build()];
        let mut snap = snapshot(&web, pods, vec![]);
        let status = build(&web, &snap, &options(created()));
        assert_eq!(status.ordinals[0].pod.as_ref().unwrap().node_exists, Some(false));
        assert_eq!(codes(&status), [WarningCode::PodOnDeletedNode]);
        let message = &warnings(&status, WarningCode::PodOnDeletedNode)[0];
        assert!(
            message.starts_with("pod web-0 is bound to node gone, which is not in the API any more"),
            "{message}"
        );
        assert!(
            message.contains("about 40 s after gone went, and then web re-creates it where it can run"),
            "{message}"
        );
        snap.nodes = None;
        let status = build(&web, &snap, &options(created()));
        assert_eq!(status.ordinals[0].pod.as_ref().unwrap().node_exists, None);
        assert_eq!(codes(&status), [], "unknown is a note, not a warning");
    }

    #[test]
    fn a_pod_ready_but_not_available_says_when_it_will_be() {
        let web = sts("web", 2).min_ready_seconds(30).build();
        let now = Timestamp::from_second(created().as_second() + 100).unwrap();
        let since = |ago: i64| Timestamp::from_second(now.as_second() - ago).unwrap();
        let pods =
            vec![pod(&web, 0).ready_since(since(40)).build(), pod(&web, 1).ready_since(since(10)).build()];
        let status = build(&web, &snapshot(&web, pods, vec![]), &options(now));
        let web_1 = status.ordinals[1].pod.as_ref().unwrap();
        assert_eq!((web_1.ready, web_1.available), (true, false));
        assert_eq!(web_1.available_at, Some(Timestamp::from_second(now.as_second() + 20).unwrap()));
        assert_eq!(status.replicas.available, 1);
        assert_eq!(codes(&status), [WarningCode::PodNotAvailable]);
        let message = &warnings(&status, WarningCode::PodNotAvailable)[0];
        assert!(
            message.starts_with("pod web-1 is Ready but not yet available: minReadySeconds is 30"),
            "{message}"
        );
        assert!(message.contains("(in 20s)") && message.contains("creates no pod after it"), "{message}");
    }

    /// PV `pv-<claim>` pinned to the node named `to` (`kubernetes.io/hostname In [to]`).
    fn pinned(claim: &str, to: &str) -> PersistentVolume {
        let mut volume = pv(claim, "Retain");
        volume.spec.as_mut().unwrap().node_affinity = Some(VolumeNodeAffinity {
            required: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(vec![NodeSelectorRequirement {
                        key: "kubernetes.io/hostname".into(),
                        operator: "In".into(),
                        values: Some(vec![to.to_owned()]),
                    }]),
                    match_fields: None,
                }],
            }),
        });
        volume
    }

    fn labelled(name: &str, ready: &str) -> k8s_openapi::api::core::v1::Node {
        let mut n = node(name, ready);
        n.metadata.labels = Some([("kubernetes.io/hostname".to_owned(), name.to_owned())].into());
        n
    }

    #[test]
    fn a_pod_whose_volume_is_pinned_to_a_gone_node_cannot_start_anywhere() {
        let web = sts("web", 3).templates(&["data"]).build();
        let pods = vec![pod(&web, 0).build(), pod(&web, 1).build(), pod(&web, 2).unscheduled().build()];
        let pvcs: Vec<_> = (0..3).map(|o| pvc(&format!("data-web-{o}")).of(&web).build()).collect();
        let mut snap = snapshot(&web, pods, pvcs);
        snap.volumes = Some(vec![
            pv("data-web-0", "Delete"),
            pv("data-web-1", "Delete"),
            pinned("data-web-2", "node-7"),
        ]);
        snap.nodes = Some(vec![labelled("node-0", "True")]);
        let status = build(&web, &snap, &options(created()));
        assert_eq!(codes(&status), [WarningCode::PodNotReady, WarningCode::VolumeNodeUnavailable]);
        let message = &warnings(&status, WarningCode::VolumeNodeUnavailable)[0];
        assert!(
            message.starts_with(
                "web-2 cannot start anywhere: its volume pv-data-web-2 (PVC data-web-2) is pinned to node-7, which is \
                 gone (no Node object); its data lives there: if that node comes back, web-2 starts on it; to start \
                 web-2 elsewhere with an empty data-web-2 instead"
            ),
            "{message}"
        );
        assert!(
            message.contains(&format!("`kubectl -n default {K} delete pvc data-web-2 --wait=false`")),
            "{message}"
        );

        // Pinned to a node that exists but is cordoned: uncordoning it is the first way out.
        let mut cordoned = labelled("node-7", "True");
        cordoned.spec =
            Some(k8s_openapi::api::core::v1::NodeSpec { unschedulable: Some(true), ..Default::default() });
        snap.nodes = Some(vec![labelled("node-0", "True"), cordoned.clone()]);
        let message =
            warnings(&build(&web, &snap, &options(created())), WarningCode::VolumeNodeUnavailable)[0].clone();
        assert!(message.contains("is pinned to node-7, which is cordoned"), "{message}");
        assert!(
            message
                .contains(&format!("`kubectl -n default {K} uncordon node-7` lets web-2 start there again")),
            "{message}"
        );

        // Tainted against it, or NotReady: no uncordon.
        let mut tainted = labelled("node-7", "True");
        tainted.spec = Some(k8s_openapi::api::core::v1::NodeSpec {
            taints: Some(vec![Taint {
                key: "dedicated".into(),
                value: Some("gpu".into()),
                effect: "NoSchedule".into(),
                time_added: None,
            }]),
            ..Default::default()
        });
        snap.nodes = Some(vec![labelled("node-0", "True"), tainted]);
        let message =
            warnings(&build(&web, &snap, &options(created())), WarningCode::VolumeNodeUnavailable)[0].clone();
        assert!(
            message.contains("node-7, whose taint dedicated=gpu:NoSchedule the pod does not tolerate"),
            "{message}"
        );
        assert!(!message.contains("uncordon"), "{message}");
        snap.nodes = Some(vec![labelled("node-0", "True"), labelled("node-7", "False")]);
        let message =
            warnings(&build(&web, &snap, &options(created())), WarningCode::VolumeNodeUnavailable)[0].clone();
        assert!(message.contains("node-7, which is NotReady"), "{message}");

        // A node that can take it: nothing to say beyond not Ready.
        snap.nodes = Some(vec![labelled("node-0", "True"), labelled("node-7", "True")]);
        assert_eq!(codes(&build(&web, &snap, &options(created()))), [WarningCode::PodNotReady]);
    }

    #[test]
    fn a_pod_on_a_down_node_with_a_pinned_volume_says_where_a_replacement_could_start() {
        let (web, mut snap) = pinned_on_node_7();
        snap.nodes = Some(vec![labelled("node-0", "True"), labelled("node-7", "Unknown")]);
        let status = build(&web, &snap, &options(created()));
        assert_eq!(codes(&status), [WarningCode::PodOnNotReadyNode, WarningCode::VolumeNodeUnavailable]);
        let message = warnings(&status, WarningCode::VolumeNodeUnavailable)[0].clone();
        assert!(
            message.starts_with(
                "a replacement of web-0 could start nowhere but on node-7: its volume pv-data-web-0 (PVC data-web-0) \
                 is pinned to node-7, which is NotReady"
            ),
            "{message}"
        );
        assert!(
            message.contains(&format!("`kubectl -n default {K} delete pvc data-web-0 --wait=false`")),
            "{message}"
        );
        // Another node the volume allows: nothing to add.
        let mut anywhere = pinned("data-web-0", "node-7");
        anywhere.spec.as_mut().unwrap().node_affinity = None;
        snap.volumes = Some(vec![anywhere]);
        assert_eq!(codes(&build(&web, &snap, &options(created()))), [WarningCode::PodOnNotReadyNode]);
    }

    #[test]
    fn a_pod_on_a_deleted_node_with_a_pinned_volume_says_the_replacement_cannot_start() {
        let (web, snap) = pinned_on_node_7();
        let message =
            warnings(&build(&web, &snap, &options(created())), WarningCode::PodOnDeletedNode)[0].clone();
        assert!(
            message.ends_with(
                "its replacement cannot start anywhere, though: its volume pv-data-web-0 (PVC data-web-0) is pinned to \
                 node-7, which is gone (no Node object)"
            ),
            "{message}"
        );
    }
}
