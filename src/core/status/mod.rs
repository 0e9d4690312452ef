//! The status model: one StatefulSet as its ordinals see it, pod → node → PVC → PV → DNS,
//! with what looks wrong and what to do about it. Built from what was read
//! ([`Reads`](crate::core::reads::Reads)), rendered by `cmd::status` in every output format.

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde::Serialize;

pub mod dns;
pub mod quorum;
mod seen;
pub mod snapshots;
mod warnings;

use super::advice::RunFlags;
use super::claims::{Claim, claims_of};
use super::facts::{Honoured, MaxUnavailableFinding, max_unavailable_requested, same_template};
use super::failures::{ControllerFailure, PodWarning, controller_failures, pod_warning};
use super::members::{self, Holder, Place, Stray};
use super::names::{OrdinalRange, parse_pvc_name, pod_name, pvc_name};
use super::objects::*;
use super::orphans::{Keep, Rules, Verdict};
use super::owners::Owners;
use super::reads::{Reads, VolumeSnapshots};
use super::resize::{self, quantity, resize_condition, resize_status};
use snapshots::{DeletedClaimSnapshots, Snapshots};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetStatus {
    pub namespace: String,
    pub name: String,
    pub created_at: Option<Timestamp>,
    /// The StatefulSet, or its namespace, is being deleted; `null` otherwise.
    pub deletion: Option<Deletion>,
    pub replicas: ReplicaCounts,
    /// One word for lists: see [`Health`].
    pub health: Health,
    pub ordinals_start: i32,
    pub pod_management_policy: String,
    pub update_strategy: UpdateStrategy,
    /// Who applies the StatefulSet (Argo CD, Flux, Helm) and which field managers own the
    /// fields this tool writes, from its labels, annotations and managedFields.
    pub owners: Owners,
    pub revisions: Revisions,
    pub min_ready_seconds: i32,
    pub pvc_retention_policy: RetentionPolicy,
    pub service: ServiceStatus,
    pub ordinals: Vec<OrdinalStatus>,
    /// Claims outside the live ordinals that `pvc prune` would delete (the rules of
    /// `core::orphans`, shared with it).
    pub orphaned_pvcs: Vec<ClaimStatus>,
    /// Claims outside the live ordinals that `pvc prune` keeps, and why (in use, pending a
    /// scale-down, a parked StatefulSet, …). Not orphans.
    pub kept_pvcs: Vec<KeptClaimStatus>,
    /// Released PersistentVolumes whose claimRef still names one of this StatefulSet's claims:
    /// the data of a deleted claim, waiting to be bound again.
    pub released_volumes: Vec<ReleasedVolume>,
    /// Snapshots of this StatefulSet's claims that no longer exist (taken by `pvc prune
    /// --snapshot`, say), by claim; `null` when the cluster has no VolumeSnapshot API or they
    /// could not be read.
    pub deleted_claim_snapshots: Option<Vec<DeletedClaimSnapshots>>,
    /// What the StatefulSet controller fails to do, from its recent Warning events; `null`
    /// when Events could not be read.
    pub controller_failures: Option<Vec<ControllerFailure>>,
    /// Pods the StatefulSet controller sees otherwise than their names say (`core::members`):
    /// ones it takes as this set's though they are not `<sts>-<ordinal>` (`web-01`), and ones
    /// named like a live ordinal's pod that it does not take.
    pub stray_pods: Vec<StrayPodStatus>,
    pub warnings: Vec<Warning>,
    /// The quorum and topology audit (`core::status::quorum`): the majority it must keep, the
    /// members down, the PodDisruptionBudgets over its pods, its spread over nodes and zones,
    /// and findings; `null` at 0 replicas.
    pub quorum: Option<quorum::QuorumStatus>,
    /// What could not be read, and so is shown as unknown.
    pub notes: Vec<String>,
}

/// A pod the controller sees otherwise than its name says (see [`members::Stray`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StrayPodStatus {
    pub name: String,
    /// The ordinal the controller reads from its name; `null` when its digits overflow.
    pub ordinal: Option<i32>,
    /// `sharesOrdinal` (the set's own pod of that ordinal exists: they take turns at it),
    /// `holdsOrdinal` (the set has no pod of that ordinal, and the controller will not create
    /// it), `condemned` (outside the live ordinals: the controller deletes it), `unnumbered`
    /// (counted, otherwise ignored), or `nameTaken` (named like a live ordinal's pod, but not the
    /// set's: the controller cannot create its own).
    pub place: StrayPlace,
    /// Whether the set's controller ownerReference is on it already (else the controller adopts
    /// it at its next sync); `null` for `nameTaken`.
    pub adopted: Option<bool>,
    /// For `nameTaken`: what controls it (`Job backup`), `null` when nothing does (then the
    /// set's selector does not match its labels).
    pub controlled_by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StrayPlace {
    SharesOrdinal,
    HoldsOrdinal,
    Condemned,
    Unnumbered,
    NameTaken,
}

impl From<&Stray> for StrayPodStatus {
    fn from(stray: &Stray) -> Self {
        match stray {
            Stray::Impostor { pod, ordinal, adopted, place } => StrayPodStatus {
                name: pod.clone(),
                ordinal: *ordinal,
                place: match place {
                    Place::Shares { .. } => StrayPlace::SharesOrdinal,
                    Place::Holds { .. } => StrayPlace::HoldsOrdinal,
                    Place::Condemned => StrayPlace::Condemned,
                    Place::Unnumbered => StrayPlace::Unnumbered,
                },
                adopted: Some(*adopted),
                controlled_by: None,
            },
            Stray::NameTaken { pod, ordinal, holder } => StrayPodStatus {
                name: pod.clone(),
                ordinal: Some(*ordinal),
                place: StrayPlace::NameTaken,
                adopted: None,
                controlled_by: match holder {
                    Holder::Controller { kind, name } => Some(format!("{kind} {name}")),
                    Holder::Unselected => None,
                },
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deletion {
    /// `StatefulSet` or `Namespace`.
    pub kind: String,
    pub name: String,
    pub since: Option<Timestamp>,
    /// What holds the deletion back.
    pub finalizers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaCounts {
    pub desired: i32,
    pub ready: i32,
    pub available: i32,
    /// Pods on the update revision, counted from their labels (status counters lag and lie
    /// during partitioned updates, kubernetes#121397).
    pub updated: i32,
    /// PVCs Bound / expected for the live ordinals.
    pub pvcs_bound: i32,
    pub pvcs_expected: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateStrategy {
    #[serde(rename = "type")]
    pub kind: String,
    pub partition: Option<i32>,
    pub max_unavailable: Option<String>,
    /// `maxUnavailable` as the last client-side `kubectl apply` asked for it, when the stored
    /// spec has none (the API server dropped it); `null` otherwise.
    pub max_unavailable_requested: Option<String>,
    /// Whether this API server keeps `maxUnavailable` (a server-side dry run, see
    /// `core::facts::Honoured`); `null` when the StatefulSet does not set or ask for it above
    /// one, or when it could not be found out (a note says why).
    pub max_unavailable_honoured: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revisions {
    pub current: Option<RevisionCount>,
    pub update: Option<RevisionCount>,
    /// Whether two different current and update revisions record the same pod template (true:
    /// they differ only in how it was encoded, as after the 1.33 → 1.34 upgrade,
    /// kubernetes#134773, and no template change is pending); `null` when the revisions are
    /// the same or their ControllerRevisions could not be read.
    pub same_template: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionCount {
    pub name: String,
    pub pods: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionPolicy {
    pub when_deleted: String,
    pub when_scaled: String,
}

/// The governing Service (`spec.serviceName`): whether the pods' DNS names resolve at all,
/// and from when.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    pub name: Option<String>,
    pub exists: bool,
    pub headless: Option<bool>,
    pub selects_pods: Option<bool>,
    /// Whether a pod's name resolves before the pod is Ready (as soon as it has an IP): the
    /// EndpointSlice controller marks every endpoint ready when this is set, and only Ready pods'
    /// otherwise. `null` when the Service does not exist.
    pub publish_not_ready_addresses: Option<bool>,
    /// `spec.ports`, in the Service's order; `null` when the Service does not exist.
    pub ports: Option<Vec<ServicePortStatus>>,
}

/// One port of the governing Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePortStatus {
    /// `null` for a Service's only port when it is unnamed.
    pub name: Option<String>,
    /// `TCP` (the default), `UDP` or `SCTP`.
    pub protocol: String,
    /// `spec.ports[].port`.
    pub port: i32,
    /// The port this reaches on the pods, a number (see [`target_port`]): what a client of a
    /// pod's own DNS name connects to, since a headless Service forwards nothing. `null` when a
    /// named `targetPort` matches no container port of the pod template.
    pub target_port: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrdinalStatus {
    pub ordinal: i32,
    /// Inside `[start, start + replicas)`; a pod outside it is being scaled away.
    pub live: bool,
    /// The partition keeps this ordinal on an older revision than the update revision.
    pub held_back: bool,
    pub pod: Option<PodStatus>,
    pub dns: Option<String>,
    pub pvcs: Vec<ClaimStatus>,
    /// The VolumeSnapshots of all its claims; `null` when the cluster has no VolumeSnapshot
    /// API or they could not be read.
    pub snapshots: Option<Snapshots>,
}

/// A StatefulSet's health in one word, for the `-A` and fleet lists, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Health {
    /// It will not become whole by itself ([`crate::core::fleet::stuck`]: a rollout stalled, the
    /// controller failing or kept from an ordinal, a pod that cannot start anywhere).
    Stuck,
    /// Replicas are wanted and none is Ready.
    Down,
    /// Some of the wanted replicas are not Ready.
    Degraded,
    /// Every replica Ready, some not yet on the update revision (a rollout under way or held by
    /// its partition).
    Progressing,
    /// Every replica Ready on the update revision, or none wanted.
    Healthy,
}

impl Health {
    pub fn of(status: &StatefulSetStatus) -> Health {
        let r = &status.replicas;
        match () {
            _ if crate::core::fleet::stuck(status) => Health::Stuck,
            _ if r.desired > 0 && r.ready == 0 => Health::Down,
            _ if r.ready < r.desired => Health::Degraded,
            _ if r.updated < r.desired => Health::Progressing,
            _ => Health::Healthy,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Health::Stuck => "stuck",
            Health::Down => "down",
            Health::Degraded => "degraded",
            Health::Progressing => "progressing",
            Health::Healthy => "healthy",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RevisionRole {
    Update,
    Current,
    /// Neither current nor update: a revision left from an earlier rollout.
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    pub name: String,
    pub ready: bool,
    /// Ready for at least `minReadySeconds`, as the controller counts it available (it waits
    /// for that before it moves on to the next ordinal).
    pub available: bool,
    /// When it became (or becomes) available: Ready since, plus `minReadySeconds`; `null` when
    /// it is not Ready.
    pub available_at: Option<Timestamp>,
    pub status: String,
    pub restarts: i32,
    pub revision: Option<String>,
    pub revision_role: Option<RevisionRole>,
    pub node: Option<String>,
    /// `None` when the node is unknown or Nodes could not be read.
    pub node_ready: Option<bool>,
    /// Whether its node's Node object exists; `None` when it is unscheduled or Nodes could not
    /// be read. `false`: the node was deleted from the API with the pod still bound to it.
    pub node_exists: Option<bool>,
    pub ip: Option<String>,
    pub created_at: Option<Timestamp>,
    /// Claims its claim templates say this pod mounts but it does not (a pod adopted by a
    /// StatefulSet re-created with more claim templates).
    pub unmounted_claims: Vec<String>,
    /// Why it is not Ready, as its kubelet or the scheduler said last (its newest Warning event
    /// of the last 10 minutes); `null` when it is Ready, there is none, or Events could not be
    /// read.
    pub last_warning: Option<PodWarning>,
    /// The finalizers holding it while it is being deleted (the ordinal stays taken until they
    /// are removed); omitted when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_by_finalizers: Vec<String>,
    /// The image of each of its containers (init containers left out), in the pod's order:
    /// what runs, which the revision hash does not say.
    pub images: Vec<ContainerImage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerImage {
    pub container: String,
    pub image: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptClaimStatus {
    #[serde(flatten)]
    pub claim: ClaimStatus,
    pub keep: Keep,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleasedVolume {
    pub name: String,
    /// The claim it was bound to (`<template>-<sts>-<ordinal>`).
    pub claim: String,
    pub template: String,
    pub ordinal: i32,
    pub reclaim_policy: String,
    pub capacity: Option<String>,
    pub storage_class: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimStatus {
    pub template: String,
    pub name: String,
    pub ordinal: i32,
    /// `None` when the claim does not exist.
    pub phase: Option<String>,
    pub capacity: Option<String>,
    pub storage_class: Option<String>,
    pub volume: Option<String>,
    /// `None` when the PV is unknown or PersistentVolumes could not be read.
    pub reclaim_policy: Option<String>,
    pub access_modes: Vec<String>,
    pub created_at: Option<Timestamp>,
    /// `spec.resources.requests.storage`: more than `capacity` while an expansion is asked
    /// for and not finished.
    pub request: Option<String>,
    /// The storage request of its volumeClaimTemplate: the size a claim created now gets.
    pub template_request: Option<String>,
    /// Its bound capacity is less than `template_request`: a claim created before the template
    /// grew (or by hand), or one still growing; a scale-up re-attaches it at that size.
    pub smaller_than_template: bool,
    /// What the resizer and the kubelet report about an expansion; `None` when they report
    /// nothing.
    pub resize: Option<ClaimResize>,
    /// The VolumeSnapshots taken of it (by source claim name); `null` when the cluster has no
    /// VolumeSnapshot API or they could not be read.
    pub snapshots: Option<Snapshots>,
}

/// An expansion as the claim's status reports it (KEP-1790): the resize condition that is
/// True and `status.allocatedResources`/`allocatedResourceStatuses` for storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimResize {
    /// `Resizing`, `FileSystemResizePending`, `ControllerResizeError` or `NodeResizeError`.
    pub condition: Option<String>,
    pub message: Option<String>,
    /// `status.allocatedResources.storage`: the size the resizer is working towards.
    pub allocated_resources: Option<String>,
    /// `status.allocatedResourceStatuses.storage`: `ControllerResizeInProgress`,
    /// `ControllerResizeInfeasible`, `NodeResizePending`, `NodeResizeInProgress` or
    /// `NodeResizeInfeasible`.
    pub allocated_resource_status: Option<String>,
}

impl ClaimResize {
    /// The driver or the kubelet gave up: the request cannot be met as it stands.
    pub fn infeasible(&self) -> bool {
        matches!(
            self.allocated_resource_status.as_deref(),
            Some(resize::CONTROLLER_INFEASIBLE | resize::NODE_INFEASIBLE)
        )
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Warning {
    pub code: WarningCode,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum WarningCode {
    ServiceMissing,
    ServiceNotHeadless,
    ServiceSelectorMismatch,
    PodMissing,
    PodNotReady,
    PodOnNotReadyNode,
    PodHeldByFinalizers,
    NotReadyPodsUnresolvable,
    PvcMissing,
    PvcPending,
    PvcLost,
    RolloutInProgress,
    RolloutStalled,
    PartitionWithoutUpdate,
    MaxUnavailableIgnored,
    MaxUnavailableDropped,
    RevisionsEquivalent,
    RolloutHeld,
    OwnedPartition,
    OrphanedPvcs,
    KeptPvcs,
    UnverifiedPvc,
    ControllerFailing,
    PodMissingClaim,
    UnreleasedUpdate,
    ReleasedVolume,
    BeingDeleted,
    JournalUnreadable,
    RestartInProgress,
    ScaleInProgress,
    PvcSmallerThanTemplate,
    PvcResizeFailed,
    PvcResizeRetrying,
    PvcFilesystemResizePending,
    StrayPod,
    StrayPodHoldsOrdinal,
    PodNameTaken,
    PvcOwnedElsewhere,
    PvcBeingDeleted,
    PodOnDeletedNode,
    VolumeNodeUnavailable,
    PodNotAvailable,
    /// A `pvc resize` swap of the set is half done (its journal exists).
    MidResize,
}

/// Options that change what the model says, not how it is drawn.
#[derive(Debug, Clone)]
pub struct StatusOptions {
    pub cluster_domain: String,
    pub now: Timestamp,
    /// The run's connection flags, which the commands in warnings repeat.
    pub flags: RunFlags,
}

/// The status of one StatefulSet of `snapshot`.
pub fn build(sts: &StatefulSet, snapshot: &Reads, options: &StatusOptions) -> StatefulSetStatus {
    build_with(sts, snapshot, &Rules::new(snapshot), options)
}

/// The status of every StatefulSet in `snapshot`, in namespace/name order.
pub fn build_all(snapshot: &Reads, options: &StatusOptions) -> Vec<StatefulSetStatus> {
    let rules = Rules::new(snapshot);
    let mut statuses: Vec<_> =
        snapshot.statefulsets.iter().map(|sts| build_with(sts, snapshot, &rules, options)).collect();
    statuses.extend(mid_swap_statuses(snapshot, options));
    statuses.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    statuses
}

/// The sets whose `pvc resize` swap is half done with their object gone: each as the object
/// its journal records, the pods that ran under it (without a controller now) shown as its own,
/// and the `MidResize` warning first, so that a list says "mid-resize", never nothing.
fn mid_swap_statuses(snapshot: &Reads, options: &StatusOptions) -> Vec<StatefulSetStatus> {
    let mut out = Vec::new();
    for cm in &snapshot.swap_journals {
        let namespace = cm.namespace().unwrap_or_default();
        let Some(journal) = crate::core::resize::journal_of(cm) else { continue };
        let Some(mut recorded) = journal.object(false) else { continue };
        let name = recorded.name_any();
        if snapshot
            .statefulsets
            .iter()
            .any(|s| s.name_any() == name && s.namespace().as_deref() == Some(&namespace))
        {
            continue;
        }
        let since = cm.metadata.creation_timestamp.as_ref().map(|t| t.0);
        let mid = crate::core::resize::MidSwap::of(
            &journal,
            &namespace,
            since,
            None,
            &snapshot.pods,
            &options.flags,
        );
        recorded.metadata.namespace = Some(namespace.clone());
        recorded.metadata.uid = Some(journal.uid.clone());
        let mut reads = snapshot.clone();
        reads.statefulsets = vec![recorded.clone()];
        for pod in reads.pods.iter_mut().filter(|p| mid.uncontrolled_pods.contains(&p.name_any())) {
            if pod.namespace().as_deref() == Some(&namespace) {
                pod.metadata.owner_references.get_or_insert_with(Vec::new).push(OwnerReference {
                    api_version: "apps/v1".to_owned(),
                    kind: "StatefulSet".to_owned(),
                    name: name.clone(),
                    uid: journal.uid.clone(),
                    controller: Some(true),
                    block_owner_deletion: None,
                });
            }
        }
        let mut status = build_with(&recorded, &reads, &Rules::new(&reads), options);
        status.warnings.insert(0, Warning { code: WarningCode::MidResize, message: mid.describe() });
        out.push(status);
    }
    out
}

fn build_with(
    sts: &StatefulSet,
    snapshot: &Reads,
    rules: &Rules,
    options: &StatusOptions,
) -> StatefulSetStatus {
    let name = sts.name_any();
    let namespace = sts.namespace().unwrap_or_default();
    let range = ordinal_range(sts);
    let nodes = snapshot.nodes_by_name();
    let volumes = snapshot.volumes_by_name();
    let pods = pods_of(sts, &snapshot.pods);
    let claims = claims_of(sts, &snapshot.pvcs);
    let update = update_revision(sts).map(str::to_owned);
    let current = current_revision_of_pods(sts, &pods);
    let partition = partition(sts);
    let rolling = update_strategy(sts) == ROLLING_UPDATE;
    let service = service_status(sts, snapshot);
    let service_name = service_name(sts);
    let templates = claim_templates(sts);
    let claim_status = |pvc: &PersistentVolumeClaim, template: &str, ordinal| {
        claim_status(pvc, template, ordinal, template_request(sts, template), volumes.as_ref())
    };

    let pods_by_ordinal: HashMap<i32, &Pod> = pods.iter().copied().collect();
    let claims_by_slot: HashMap<(i32, &str), &Claim> =
        claims.iter().map(|c| ((c.ordinal, c.template), c)).collect();
    let shown: BTreeSet<i32> = range.ordinals().chain(pods_by_ordinal.keys().copied()).collect();
    let ordinals: Vec<OrdinalStatus> = shown
        .into_iter()
        .map(|ordinal| {
            let pod = pods_by_ordinal.get(&ordinal).map(|pod| {
                let mut status = pod_status(
                    pod,
                    update.as_deref(),
                    current.as_deref(),
                    nodes.as_ref(),
                    min_ready_seconds(sts),
                    options.now,
                );
                if !status.ready {
                    status.last_warning =
                        snapshot.events.as_deref().and_then(|events| pod_warning(pod, events, options.now));
                }
                status.unmounted_claims = templates
                    .iter()
                    .map(|t| pvc_name(t, &name, ordinal))
                    .filter(|claim| !mounted_claims(pod).any(|m| m == claim))
                    .collect();
                status
            });
            let revision = pod.as_ref().and_then(|p| p.revision.as_deref());
            let held_back = rolling
                && range.index_of(ordinal) < i64::from(partition)
                && update.is_some()
                && revision.is_some_and(|r| Some(r) != update.as_deref());
            let pvcs = templates
                .iter()
                .map(|&template| match claims_by_slot.get(&(ordinal, template)) {
                    Some(claim) => claim_status(claim.pvc, template, ordinal),
                    None => missing_claim(template, &name, ordinal, template_request(sts, template)),
                })
                .collect();
            let dns = service_name.map(|svc| {
                format!("{}.{svc}.{namespace}.svc.{}", pod_name(&name, ordinal), options.cluster_domain)
            });
            OrdinalStatus {
                ordinal,
                live: range.contains(ordinal),
                held_back,
                pod,
                dns,
                pvcs,
                snapshots: None,
            }
        })
        .collect();

    // One notion of orphaned: the rules `pvc prune` applies (without --include-scaled-to-zero).
    let mut orphaned_pvcs = Vec::new();
    let mut kept_pvcs = Vec::new();
    let mut unverified = Vec::new();
    for outside in rules.judge(sts, false) {
        let status = claim_status(outside.claim.pvc, outside.claim.template, outside.claim.ordinal);
        match (outside.verdict, outside.keep) {
            (Verdict::Prune, _) => orphaned_pvcs.push(status),
            (Verdict::Keep, Some(keep)) => {
                kept_pvcs.push(KeptClaimStatus { claim: status, keep, reason: outside.reason })
            }
            _ => unverified.push(status.name),
        }
    }
    let released_volumes = released_volumes(sts, snapshot);
    let controller_failures =
        snapshot.events.as_ref().map(|events| controller_failures(sts, events, &snapshot.pods, options.now));

    let count_revision = |rev: &Option<String>| {
        rev.as_ref().map(|r| RevisionCount {
            name: r.clone(),
            pods: pods.iter().filter(|(_, p)| pod_revision(p) == Some(r.as_str())).count() as i32,
        })
    };
    let same_template = match (&current, &update) {
        (Some(current), Some(update)) if current != update => snapshot
            .revision(&namespace, current)
            .zip(snapshot.revision(&namespace, update))
            .and_then(|(a, b)| same_template(a, b)),
        _ => None,
    };
    let revisions =
        Revisions { current: count_revision(&current), update: count_revision(&update), same_template };
    let live_pods = || ordinals.iter().filter(|o| o.live).filter_map(|o| o.pod.as_ref());
    let live_claims = || ordinals.iter().filter(|o| o.live).flat_map(|o| &o.pvcs);
    let min_ready = min_ready_seconds(sts);
    let replicas = ReplicaCounts {
        desired: range.replicas,
        ready: live_pods().filter(|p| p.ready).count() as i32,
        available: pods
            .iter()
            .filter(|(o, p)| range.contains(*o) && pod_available(p, min_ready, options.now))
            .count() as i32,
        updated: live_pods().filter(|p| p.revision_role == Some(RevisionRole::Update)).count() as i32,
        pvcs_bound: live_claims().filter(|c| c.phase.as_deref() == Some("Bound")).count() as i32,
        pvcs_expected: live_claims().count() as i32,
    };
    let (when_deleted, when_scaled) = pvc_retention(sts);

    let deletion = [
        ("StatefulSet", Some(&sts.metadata)),
        ("Namespace", snapshot.namespace(&namespace).map(|n| &n.metadata)),
    ]
    .into_iter()
    .find_map(|(kind, meta)| {
        let meta = meta?;
        Some(Deletion {
            kind: kind.to_owned(),
            name: meta.name.clone().unwrap_or_default(),
            since: meta.deletion_timestamp.as_ref().map(|t| t.0)?.into(),
            finalizers: meta.finalizers.clone().unwrap_or_default(),
        })
    });
    let mut status = StatefulSetStatus {
        namespace,
        name,
        created_at: creation(sts),
        deletion,
        replicas,
        health: Health::Healthy,
        ordinals_start: range.start,
        pod_management_policy: pod_management_policy(sts).to_owned(),
        update_strategy: UpdateStrategy {
            kind: update_strategy(sts).to_owned(),
            partition: rolling.then_some(partition),
            max_unavailable: max_unavailable(sts),
            max_unavailable_requested: max_unavailable_requested(sts)
                .filter(|_| max_unavailable(sts).is_none()),
            max_unavailable_honoured: snapshot.max_unavailable.as_ref().and_then(Honoured::known),
        },
        owners: Owners::of(sts),
        revisions,
        min_ready_seconds: min_ready,
        pvc_retention_policy: RetentionPolicy { when_deleted, when_scaled },
        service,
        ordinals,
        orphaned_pvcs,
        kept_pvcs,
        released_volumes,
        deleted_claim_snapshots: None,
        controller_failures,
        stray_pods: members::strays(sts, &snapshot.pods).iter().map(StrayPodStatus::from).collect(),
        warnings: Vec::new(),
        quorum: None,
        notes: Vec::new(),
    };
    status.warnings = warnings::warnings(&status, sts, snapshot, nodes.as_ref(), &unverified, options);
    status.quorum = quorum::audit(&status, sts, snapshot, &options.flags);
    status.health = Health::of(&status);
    match &snapshot.volume_snapshots {
        VolumeSnapshots::Read(items) => snapshots::attach(&mut status, &templates, items),
        VolumeSnapshots::Forbidden => status.notes.push(
            "VolumeSnapshots are not readable with these credentials: snapshots per ordinal are unknown"
                .to_owned(),
        ),
        VolumeSnapshots::NoApi => {}
    }
    if snapshot.volumes.is_none() {
        status.notes.push(
            "PersistentVolumes are not readable with these credentials: reclaim policies are unknown"
                .to_owned(),
        );
    }
    if snapshot.nodes.is_none() {
        status
            .notes
            .push("Nodes are not readable with these credentials: node readiness is unknown".to_owned());
    }
    if let Some(MaxUnavailableFinding::Unknown { reason, .. }) =
        MaxUnavailableFinding::of(sts, snapshot.max_unavailable.as_ref())
    {
        status.notes.push(format!("whether this server honours maxUnavailable is unknown: {reason}"));
    }
    if snapshot.budgets.is_none() && status.quorum.is_some() {
        status.notes.push(
            "PodDisruptionBudgets are not readable with these credentials: the quorum audit cannot judge them".to_owned(),
        );
    }
    if snapshot.events.is_none() {
        status.notes.push(
            "Events are not readable with these credentials: failures the controller reports are unknown"
                .to_owned(),
        );
    }
    status
}

/// The revision the pods not yet updated run, read from the pods: `status.currentRevision` is
/// never advanced under OnDelete (kubernetes#73492) and lags minReadySeconds under
/// RollingUpdate. When every live pod runs the update revision, that is the current one too.
fn current_revision_of_pods(sts: &StatefulSet, pods: &[(i32, &Pod)]) -> Option<String> {
    let range = ordinal_range(sts);
    let update = update_revision(sts);
    let mut older: Vec<&str> = pods
        .iter()
        .filter(|(o, _)| range.contains(*o))
        .filter_map(|(_, p)| pod_revision(p))
        .filter(|r| Some(*r) != update)
        .collect();
    if older.is_empty() {
        return update.or(current_revision(sts)).map(str::to_owned);
    }
    if let Some(current) = current_revision(sts).filter(|c| older.contains(c)) {
        return Some(current.to_owned());
    }
    // The revision most of the older pods run (ties: the first in name order).
    older.sort_unstable();
    let mut best: Option<(&str, usize)> = None;
    for chunk in older.chunk_by(|a, b| a == b) {
        if best.is_none_or(|(_, n)| chunk.len() > n) {
            best = Some((chunk[0], chunk.len()));
        }
    }
    best.map(|(r, _)| r.to_owned())
}

/// Released PVs whose claimRef names a claim of `sts` that no longer exists.
fn released_volumes(sts: &StatefulSet, snapshot: &Reads) -> Vec<ReleasedVolume> {
    let name = sts.name_any();
    let namespace = sts.namespace();
    let templates = claim_templates(sts);
    let mut released: Vec<ReleasedVolume> = snapshot
        .volumes
        .iter()
        .flatten()
        .filter(|pv| pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Released"))
        .filter_map(|pv| {
            let claim = pv.spec.as_ref()?.claim_ref.as_ref()?;
            if claim.namespace != namespace {
                return None;
            }
            let claim_name = claim.name.as_deref()?;
            let (template, ordinal) = parse_pvc_name(claim_name, &name, &templates)?;
            let spec = pv.spec.as_ref()?;
            Some(ReleasedVolume {
                name: pv.name_any(),
                claim: claim_name.to_owned(),
                template: template.to_owned(),
                ordinal,
                reclaim_policy: pv_reclaim_policy(pv).to_owned(),
                capacity: spec.capacity.as_ref().and_then(|c| c.get("storage")).map(|q| q.0.clone()),
                storage_class: spec.storage_class_name.clone(),
            })
        })
        .filter(|v| !snapshot.pvcs.iter().any(|c| c.name_any() == v.claim && c.namespace() == namespace))
        .collect();
    released.sort_by(|a, b| (a.ordinal, &a.template, &a.name).cmp(&(b.ordinal, &b.template, &b.name)));
    released
}

fn pod_status(
    pod: &Pod,
    update: Option<&str>,
    current: Option<&str>,
    nodes: Option<&HashMap<&str, &Node>>,
    min_ready_seconds: i32,
    now: Timestamp,
) -> PodStatus {
    let revision = pod_revision(pod);
    let revision_role = revision.map(|r| match () {
        _ if Some(r) == update => RevisionRole::Update,
        _ if Some(r) == current => RevisionRole::Current,
        _ => RevisionRole::Other,
    });
    let node = node_name(pod);
    PodStatus {
        name: pod.name_any(),
        ready: pod_ready(pod),
        available: pod_available(pod, min_ready_seconds, now),
        available_at: pod_available_at(pod, min_ready_seconds),
        status: pod_status_text(pod),
        restarts: pod_restarts(pod),
        revision: revision.map(str::to_owned),
        revision_role,
        node: node.map(str::to_owned),
        node_ready: node.and_then(|n| nodes?.get(n)).map(|n| node_ready(n)),
        node_exists: node.and_then(|n| Some(nodes?.contains_key(n))),
        ip: pod_ip(pod).map(str::to_owned),
        created_at: creation(pod),
        unmounted_claims: Vec::new(),
        last_warning: None,
        held_by_finalizers: holding_finalizers(pod),
        images: pod
            .spec
            .iter()
            .flat_map(|spec| &spec.containers)
            .map(|c| ContainerImage { container: c.name.clone(), image: c.image.clone().unwrap_or_default() })
            .collect(),
    }
}

fn claim_status(
    pvc: &PersistentVolumeClaim,
    template: &str,
    ordinal: i32,
    template_request: Option<String>,
    volumes: Option<&HashMap<&str, &PersistentVolume>>,
) -> ClaimStatus {
    let volume = pvc_volume(pvc);
    let condition = resize_condition(pvc);
    let allocated_resource_status = resize_status(pvc).map(str::to_owned);
    let resize = (condition.is_some() || allocated_resource_status.is_some()).then(|| {
        let (condition, message) = condition.unzip();
        ClaimResize {
            condition,
            message: message.filter(|m| !m.is_empty()),
            allocated_resources: allocated(pvc),
            allocated_resource_status,
        }
    });
    ClaimStatus {
        template: template.to_owned(),
        name: pvc.name_any(),
        ordinal,
        phase: Some(pvc_phase(pvc).to_owned()),
        capacity: pvc_capacity(pvc),
        storage_class: pvc_storage_class(pvc).map(str::to_owned),
        volume: volume.map(str::to_owned),
        reclaim_policy: volume.and_then(|v| volumes?.get(v)).map(|pv| pv_reclaim_policy(pv).to_owned()),
        access_modes: pvc_access_modes(pvc),
        created_at: creation(pvc),
        request: pvc_request(pvc),
        smaller_than_template: smaller_than(pvc, template_request.as_deref()),
        template_request,
        resize,
        snapshots: None,
    }
}

fn allocated(pvc: &PersistentVolumeClaim) -> Option<String> {
    pvc.status.as_ref()?.allocated_resources.as_ref()?.get("storage").map(|q| q.0.clone())
}

/// The claim's bound capacity is less than `size` (unbound claims have none to compare).
fn smaller_than(pvc: &PersistentVolumeClaim, size: Option<&str>) -> bool {
    let capacity = pvc_bound_capacity(pvc).as_deref().and_then(quantity);
    matches!((capacity, size.and_then(quantity)), (Some(has), Some(wants)) if has < wants)
}

/// Whether some claim of a StatefulSet in `snapshot` is smaller than its template or reports a
/// resize condition: then the StorageClasses are worth reading, since whether and how it can
/// grow (online, or only once no pod uses it) depends on its class.
pub fn wants_storage_classes(snapshot: &Reads) -> bool {
    snapshot
        .statefulsets
        .iter()
        .any(|sts| claims_of(sts, &snapshot.pvcs).iter().any(|c| resize_relevant(sts, c)))
}

/// Whether `claim` of `sts` is smaller than its template or reports a resize condition: then
/// `status` advises on growing it, and that advice names the pod (any pod) that mounts it.
pub fn resize_relevant(sts: &StatefulSet, claim: &Claim) -> bool {
    smaller_than(claim.pvc, template_request(sts, claim.template).as_deref())
        || resize_condition(claim.pvc).is_some()
}

fn missing_claim(template: &str, sts: &str, ordinal: i32, template_request: Option<String>) -> ClaimStatus {
    ClaimStatus {
        template: template.to_owned(),
        name: pvc_name(template, sts, ordinal),
        ordinal,
        phase: None,
        capacity: None,
        storage_class: None,
        volume: None,
        reclaim_policy: None,
        access_modes: Vec::new(),
        created_at: None,
        request: None,
        template_request,
        smaller_than_template: false,
        resize: None,
        snapshots: None,
    }
}

fn service_status(sts: &StatefulSet, snapshot: &Reads) -> ServiceStatus {
    let name = service_name(sts);
    let namespace = sts.namespace().unwrap_or_default();
    let service = name.and_then(|n| snapshot.service(&namespace, n));
    let spec = service.and_then(|s| s.spec.as_ref());
    let template_labels = template_labels(sts);
    ServiceStatus {
        name: name.map(str::to_owned),
        exists: service.is_some(),
        headless: spec.map(|s| s.cluster_ip.as_deref() == Some("None")),
        selects_pods: spec.map(|s| {
            s.selector.as_ref().is_some_and(|sel| {
                !sel.is_empty() && sel.iter().all(|(k, v)| template_labels.get(k) == Some(v))
            })
        }),
        publish_not_ready_addresses: spec.map(|s| s.publish_not_ready_addresses.unwrap_or(false)),
        ports: spec.map(|s| {
            s.ports
                .iter()
                .flatten()
                .map(|p| ServicePortStatus {
                    name: p.name.clone().filter(|n| !n.is_empty()),
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".to_owned()),
                    port: p.port,
                    target_port: target_port(sts, p),
                })
                .collect()
        }),
    }
}

/// The range pods should occupy, for callers that only need the numbers.
pub fn live_range(status: &StatefulSetStatus) -> OrdinalRange {
    OrdinalRange { start: status.ordinals_start, replicas: status.replicas.desired }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::facts::LAST_APPLIED;
    use crate::core::fixtures::*;
    use proptest::prelude::*;

    fn options() -> StatusOptions {
        StatusOptions { cluster_domain: "cluster.local".into(), now: created(), flags: RunFlags::default() }
    }

    fn snapshot(sts: &StatefulSet, pods: Vec<Pod>, pvcs: Vec<PersistentVolumeClaim>) -> Reads {
        status_snapshot(sts, pods, pvcs)
    }

    fn codes(status: &StatefulSetStatus) -> Vec<WarningCode> {
        status.warnings.iter().map(|w| w.code).collect()
    }

    #[test]
    fn healthy_set_maps_every_ordinal() {
        let web = sts("web", 2).templates(&["data"]).build();
        let pods = vec![pod(&web, 0).build(), pod(&web, 1).build()];
        let pvcs = vec![pvc("data-web-0").of(&web).build(), pvc("data-web-1").of(&web).build()];
        let status = build(&web, &snapshot(&web, pods, pvcs), &options());
        assert_eq!(codes(&status), []);
        assert_eq!(status.ordinals[1].dns.as_deref(), Some("web-1.web.default.svc.cluster.local"));
        assert_eq!(status.ordinals[1].pvcs[0].reclaim_policy.as_deref(), Some("Delete"));
        assert_eq!(
            (status.replicas.ready, status.replicas.pvcs_bound, status.replicas.pvcs_expected),
            (2, 2, 2)
        );
        assert_eq!(
            (status.service.exists, status.service.headless, status.service.selects_pods),
            (true, Some(true), Some(true))
        );
    }

    #[test]
    fn missing_pods_and_claims_are_shown_not_skipped() {
        let web = sts("web", 3).templates(&["data"]).start(4).build();
        let pods = vec![pod(&web, 4).build(), pod(&web, 6).build()];
        let pvcs =
            vec![pvc("data-web-4").of(&web).build(), pvc("data-web-6").of(&web).phase("Pending").build()];
        let status = build(&web, &snapshot(&web, pods, pvcs), &options());
        let rows: Vec<(i32, bool, Option<&str>)> = status
            .ordinals
            .iter()
            .map(|o| (o.ordinal, o.pod.is_some(), o.pvcs[0].phase.as_deref()))
            .collect();
        assert_eq!(rows, [(4, true, Some("Bound")), (5, false, None), (6, true, Some("Pending"))]);
        assert_eq!(codes(&status), [WarningCode::PodMissing, WarningCode::PvcPending]);
    }

    #[test]
    fn partitioned_update_marks_held_back_ordinals_and_counts_pods_by_label() {
        let web = sts("web", 3).revisions("web-old", "web-new").partition(2).build();
        let pods = vec![
            pod(&web, 0).revision("web-old").build(),
            pod(&web, 1).revision("web-old").build(),
            pod(&web, 2).revision("web-new").ready(false).build(),
        ];
        let status = build(&web, &snapshot(&web, pods, vec![]), &options());
        let held: Vec<bool> = status.ordinals.iter().map(|o| o.held_back).collect();
        assert_eq!(held, [true, true, false]);
        assert_eq!(status.revisions.update.as_ref().map(|r| r.pods), Some(1));
        assert_eq!(status.revisions.current.as_ref().map(|r| r.pods), Some(2));
        assert_eq!(
            codes(&status),
            [
                WarningCode::PodNotReady,
                WarningCode::NotReadyPodsUnresolvable,
                WarningCode::RolloutInProgress,
                WarningCode::RolloutStalled
            ]
        );
        assert!(status.warnings[3].message.contains("forced rollback"), "{}", status.warnings[3].message);
    }

    /// The bootstrap trap: a pod that is not Ready has no DNS record unless the Service
    /// publishes not-Ready addresses, so peers that need it first cannot reach it.
    #[test]
    fn not_ready_pods_are_unresolvable_unless_the_service_publishes_them() {
        struct Case {
            what: &'static str,
            sts: StatefulSet,
            /// (ordinal, ready) of each pod; `build` changes them further.
            pods: &'static [(i32, bool)],
            build: fn(PodBuilder) -> PodBuilder,
            publish: bool,
            headless: bool,
            /// The warning, and what its message must and must not say.
            warned: Option<(&'static [&'static str], &'static [&'static str])>,
        }
        let ordered = sts("zk", 3).build();
        let parallel = sts("zk", 3).parallel().build();
        let cases = [
            Case {
                what: "OrderedReady bootstrap: zk-0 waits for peers the controller will not create",
                sts: ordered.clone(),
                pods: &[(0, false)],
                build: |p| p,
                publish: false,
                headless: true,
                warned: Some((
                    &[
                        "pod zk-0 is not Ready",
                        "its DNS name does not resolve until it is Ready",
                        "publishNotReadyAddresses: true on Service zk",
                        r#"kubectl patch service zk -n default -p '{"spec":{"publishNotReadyAddresses":true}}'"#,
                        "creates zk-1, zk-2 only once every pod before each is Ready",
                        "podManagementPolicy: Parallel",
                        "kubectl delete statefulset zk -n default --cascade=orphan",
                    ],
                    &[],
                )),
            },
            Case {
                what: "the same, with not-Ready addresses published",
                sts: ordered.clone(),
                pods: &[(0, false)],
                build: |p| p,
                publish: true,
                headless: true,
                warned: None,
            },
            Case {
                what: "Parallel: every peer exists, two are not Ready",
                sts: parallel.clone(),
                pods: &[(0, true), (1, false), (2, false)],
                build: |p| p,
                publish: false,
                headless: true,
                warned: Some((
                    &["pods zk-1, zk-2 are not Ready", "their DNS names do not resolve until they are Ready"],
                    &["Parallel", "OrderedReady"],
                )),
            },
            Case {
                what: "OrderedReady with every pod created: nothing about the policy",
                sts: ordered.clone(),
                pods: &[(0, true), (1, true), (2, false)],
                build: |p| p,
                publish: false,
                headless: true,
                warned: Some((&["pod zk-2 is not Ready"], &["Parallel"])),
            },
            Case {
                what: "every pod Ready",
                sts: ordered.clone(),
                pods: &[(0, true), (1, true), (2, true)],
                build: |p| p,
                publish: false,
                headless: true,
                warned: None,
            },
            Case {
                what: "a pod being scaled away is not a peer",
                sts: sts("zk", 1).build(),
                pods: &[(0, true), (1, false)],
                build: |p| p,
                publish: false,
                headless: true,
                warned: None,
            },
            Case {
                what: "no IP yet: publishing not-Ready addresses would not give it a record",
                sts: ordered.clone(),
                pods: &[(0, false)],
                build: PodBuilder::unscheduled,
                publish: false,
                headless: true,
                warned: None,
            },
            Case {
                what: "being deleted: not a peer to wait for",
                sts: ordered.clone(),
                pods: &[(0, false)],
                build: PodBuilder::terminating,
                publish: false,
                headless: true,
                warned: None,
            },
            Case {
                what: "on a lost node: no peer reaches it, DNS or not",
                sts: ordered.clone(),
                pods: &[(0, false)],
                build: |p| p.node("node-down"),
                publish: false,
                headless: true,
                warned: None,
            },
            Case {
                what: "not headless: no name resolves, ServiceNotHeadless says so",
                sts: parallel,
                pods: &[(0, false), (1, true), (2, true)],
                build: |p| p,
                publish: false,
                headless: false,
                warned: None,
            },
        ];
        for case in cases {
            let pods = case
                .pods
                .iter()
                .map(|(o, ready)| (case.build)(pod(&case.sts, *o).ready(*ready)).build())
                .collect();
            let mut snap = snapshot(&case.sts, pods, vec![]);
            let spec = snap.services[0].spec.as_mut().unwrap();
            spec.publish_not_ready_addresses = Some(case.publish);
            if !case.headless {
                spec.cluster_ip = Some("10.0.0.10".into());
            }
            let status = build(&case.sts, &snap, &options());
            assert_eq!(status.service.publish_not_ready_addresses, Some(case.publish), "{}", case.what);
            let found = status.warnings.iter().find(|w| w.code == WarningCode::NotReadyPodsUnresolvable);
            match (case.warned, found) {
                (None, None) => {}
                (Some((says, never)), Some(warning)) => {
                    for text in says {
                        assert!(
                            warning.message.contains(text),
                            "{}: {text:?} in {}",
                            case.what,
                            warning.message
                        );
                    }
                    for text in never {
                        assert!(
                            !warning.message.contains(text),
                            "{}: no {text:?} in {}",
                            case.what,
                            warning.message
                        );
                    }
                }
                (expected, found) => panic!("{}: expected {expected:?}, found {found:?}", case.what),
            }
        }
    }

    #[test]
    fn service_problems_are_each_named() {
        let web = sts("web", 1).build();
        let mut snap = snapshot(&web, vec![pod(&web, 0).build()], vec![]);
        snap.services.clear();
        assert_eq!(codes(&build(&web, &snap, &options())), [WarningCode::ServiceMissing]);
        let mut svc = service("web");
        svc.spec.as_mut().unwrap().cluster_ip = Some("10.0.0.10".into());
        svc.spec.as_mut().unwrap().selector = Some([("app".to_owned(), "other".to_owned())].into());
        snap.services = vec![svc];
        assert_eq!(
            codes(&build(&web, &snap, &options())),
            [WarningCode::ServiceNotHeadless, WarningCode::ServiceSelectorMismatch]
        );
    }

    #[test]
    fn service_ports_say_which_port_they_reach_on_the_pods() {
        use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::{Int, String as Name};
        let web = sts("web", 1)
            .container_ports(&[("client", 2379), ("peer", 2380)])
            .sidecar_ports(&[("metrics", 9100)]);
        let web = web.build();
        let mut svc = service("web");
        let mut udp = service_port(Some("peer-udp"), 2380, Some(Name("peer".into())));
        udp.protocol = Some("UDP".into());
        svc.spec.as_mut().unwrap().ports = Some(vec![
            service_port(Some("client"), 2379, None),
            service_port(Some("peer"), 80, Some(Name("peer".into()))),
            service_port(Some("metrics"), 9100, Some(Name("metrics".into()))),
            service_port(Some("admin"), 8080, Some(Int(9000))),
            service_port(Some("gone"), 7000, Some(Name("nosuch".into()))),
            udp,
        ]);
        let mut snap = snapshot(&web, vec![pod(&web, 0).build()], vec![]);
        snap.services = vec![svc];
        let ports = build(&web, &snap, &options()).service.ports.unwrap();
        let reached: Vec<(Option<&str>, i32, Option<i32>)> =
            ports.iter().map(|p| (p.name.as_deref(), p.port, p.target_port)).collect();
        assert_eq!(
            reached,
            [
                (Some("client"), 2379, Some(2379)),
                // A named targetPort is the container's port, whatever the Service's port says.
                (Some("peer"), 80, Some(2380)),
                // Sidecars' ports count, as the EndpointSlice controller counts them.
                (Some("metrics"), 9100, Some(9100)),
                (Some("admin"), 8080, Some(9000)),
                (Some("gone"), 7000, None),
                // The name matches, the protocol does not.
                (Some("peer-udp"), 2380, None),
            ]
        );
        snap.services.clear();
        assert_eq!(build(&web, &snap, &options()).service.ports, None, "no Service: unknown");
    }

    #[test]
    fn node_trouble_lost_claims_and_a_forgotten_partition_are_flagged() {
        let web = sts("web", 1).templates(&["data"]).partition(1).build();
        let pods = vec![pod(&web, 0).node("node-down").build()];
        let pvcs = vec![pvc("data-web-0").of(&web).phase("Lost").build()];
        let status = build(&web, &snapshot(&web, pods, pvcs), &options());
        assert_eq!(
            codes(&status),
            [WarningCode::PodOnNotReadyNode, WarningCode::PvcLost, WarningCode::PartitionWithoutUpdate]
        );
        assert_eq!(status.ordinals[0].pod.as_ref().unwrap().node_ready, Some(false));
    }

    /// A pod held Terminating by a finalizer: the finalizer is named, in the pod's status and a
    /// warning with the command that releases it; a pod being deleted with no finalizer is not.
    #[test]
    fn a_pod_held_terminating_by_a_finalizer_is_named_with_its_way_out() {
        let web = sts("web", 2).templates(&[]).build();
        let mut held = pod(&web, 1).terminating().build();
        held.metadata.finalizers = Some(vec!["example.com/protect".into()]);
        let pods = vec![pod(&web, 0).terminating().build(), held];
        let status = build(&web, &snapshot(&web, pods, Vec::new()), &options());
        let finalizers: Vec<Vec<String>> =
            status.ordinals.iter().map(|o| o.pod.as_ref().unwrap().held_by_finalizers.clone()).collect();
        assert_eq!(finalizers, [vec![], vec!["example.com/protect".to_owned()]]);
        let held: Vec<&Warning> =
            status.warnings.iter().filter(|w| w.code == WarningCode::PodHeldByFinalizers).collect();
        assert_eq!(held.len(), 1, "{:?}", status.warnings);
        assert_eq!(
            held[0].message,
            "pod web-1 is held Terminating by finalizer example.com/protect: the StatefulSet controller cannot replace \
             it until whatever set it removes it; once you know its data is safe to let go, `kubectl patch pod web-1 \
             -n default --type json -p '[{\"op\":\"remove\",\"path\":\"/metadata/finalizers\"}]'` releases it and the \
             controller re-creates it"
        );
    }

    #[test]
    fn a_released_volume_is_advised_by_its_reclaim_policy() {
        let web = sts("web", 1).templates(&["data"]).build();
        let mut snap = snapshot(&web, vec![pod(&web, 0).build()], vec![pvc("data-web-0").of(&web).build()]);
        for (claim, policy) in [("data-web-1", "Retain"), ("data-web-2", "Delete")] {
            let mut volume = pv(claim, policy);
            volume.status.as_mut().unwrap().phase = Some("Released".to_owned());
            snap.volumes.as_mut().unwrap().push(volume);
        }
        let status = build(&web, &snap, &options());
        let released: Vec<&str> = status
            .warnings
            .iter()
            .filter(|w| w.code == WarningCode::ReleasedVolume)
            .map(|w| w.message.as_str())
            .collect();
        assert_eq!(released.len(), 2, "{released:?}");
        assert!(
            released[0].contains("pv-data-web-1 is Released (reclaim policy Retain)")
                && released[0].contains("to bind it again")
        );
        // Its provisioner deletes a Delete volume: no advice to bind it, the way to keep it instead.
        assert_eq!(
            released[1],
            "PersistentVolume pv-data-web-2 is Released with reclaim policy Delete: its provisioner deletes it, and the \
             data of data-web-2 with it; to keep that data, switch it to Retain before that happens with `kubectl patch \
             pv pv-data-web-2 -p '{\"spec\":{\"persistentVolumeReclaimPolicy\":\"Retain\"}}'`"
        );
    }

    #[test]
    fn orphans_need_evidence_and_unreadable_kinds_leave_a_note() {
        let web = sts("web", 1).templates(&["data"]).build();
        let pvcs = vec![
            pvc("data-web-0").of(&web).build(),
            pvc("data-web-1").of(&web).build(),
            pvc("data-web-2").build(),
        ];
        let mut snap = snapshot(&web, vec![pod(&web, 0).build()], pvcs);
        snap.volumes = None;
        snap.nodes = None;
        let status = build(&web, &snap, &options());
        let orphans: Vec<&str> = status.orphaned_pvcs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(orphans, ["data-web-1"]);
        assert_eq!(codes(&status), [WarningCode::OrphanedPvcs, WarningCode::UnverifiedPvc]);
        assert_eq!(status.notes.len(), 3, "PVs, Nodes and Events unreadable");
        assert_eq!(status.ordinals[0].pvcs[0].reclaim_policy, None);
    }

    #[test]
    fn max_unavailable_is_shown_as_the_server_treats_it() {
        let web = sts("web", 3).max_unavailable(2).build();
        let pods = || (0..3).map(|o| pod(&web, o).build()).collect::<Vec<_>>();
        let with = |set: &StatefulSet, honoured: Option<Honoured>| {
            let mut snap = snapshot(set, pods(), vec![]);
            snap.max_unavailable = honoured;
            build(set, &snap, &options())
        };
        let honoured = with(&web, Some(Honoured::Yes));
        assert_eq!(codes(&honoured), []);
        assert_eq!(honoured.update_strategy.max_unavailable_honoured, Some(true));
        let ignored = with(&web, Some(Honoured::No));
        assert_eq!(codes(&ignored), [WarningCode::MaxUnavailableIgnored]);
        assert_eq!(ignored.update_strategy.max_unavailable_honoured, Some(false));
        let unknown = with(&web, Some(Honoured::Unknown("no permission".into())));
        assert_eq!(codes(&unknown), [], "unknown is a note, not a warning");
        assert_eq!(unknown.update_strategy.max_unavailable_honoured, None);
        assert!(unknown.notes.iter().any(|n| n.contains("maxUnavailable") && n.contains("no permission")));

        // 1.34: `kubectl apply` asked for 2, the server stored nothing.
        let applied =
            serde_json::json!({"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 2}}}});
        let dropped = sts("web", 3).annotation(LAST_APPLIED, &applied.to_string()).build();
        let status = with(&dropped, Some(Honoured::No));
        assert_eq!(codes(&status), [WarningCode::MaxUnavailableDropped]);
        assert_eq!(
            (
                status.update_strategy.max_unavailable.as_deref(),
                status.update_strategy.max_unavailable_requested.as_deref()
            ),
            (None, Some("2"))
        );
        assert!(
            status.warnings[0].message.contains("asked for maxUnavailable 2"),
            "{}",
            status.warnings[0].message
        );
        let one = sts("web", 3).max_unavailable(1).build();
        let status = with(&one, None);
        assert_eq!(codes(&status), [], "1 is what happens either way");
        assert!(status.notes.iter().all(|n| !n.contains("maxUnavailable")), "{:?}", status.notes);
    }

    #[test]
    fn revisions_recording_the_same_template_are_no_pending_update() {
        let web = sts("web", 2).revisions("web-old", "web-new").build();
        let pods = vec![pod(&web, 0).revision("web-old").build(), pod(&web, 1).revision("web-new").build()];
        let spec = serde_json::json!({"containers": [{"name": "app", "image": "app:v1"}]});
        let old = serde_json::json!({"metadata": {"creationTimestamp": null, "labels": {"app": "web"}}, "spec": spec});
        let new = serde_json::json!({"metadata": {"labels": {"app": "web"}}, "spec": spec});
        let mut snap = snapshot(&web, pods.clone(), vec![]);
        snap.revisions = Some(vec![
            controller_revision(&web, "web-old", old.clone()),
            controller_revision(&web, "web-new", new),
        ]);
        let status = build(&web, &snap, &options());
        assert_eq!(status.revisions.same_template, Some(true));
        assert_eq!(codes(&status), [WarningCode::RevisionsEquivalent]);
        assert!(status.warnings[0].message.contains("only restarts"), "{}", status.warnings[0].message);

        let changed = serde_json::json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "app:v2"}]}});
        snap.revisions = Some(vec![
            controller_revision(&web, "web-old", old),
            controller_revision(&web, "web-new", changed),
        ]);
        let status = build(&web, &snap, &options());
        assert_eq!(status.revisions.same_template, Some(false));
        assert_eq!(codes(&status), [WarningCode::RolloutInProgress]);
        snap.revisions = None;
        assert_eq!(build(&web, &snap, &options()).revisions.same_template, None, "unreadable: unknown");
    }

    /// A rollout journal that recorded pods not Ready at its start says so, and what its abort
    /// waits for; an abort that did not finish says how to finish it.
    #[test]
    fn a_rollout_started_on_unready_pods_says_so() {
        use crate::core::rollout::journal::{Journal, ROLLOUT_ANNOTATION, ReadyAtStart};
        let journal = Journal {
            steps: vec!["1".into()],
            ready_at_start: Some(ReadyAtStart { ordinals: vec![], replicas: 3 }),
            ..Journal::new(&sts("web", 3).build(), "web-old".into(), Timestamp::from_second(0).unwrap())
        };
        for (aborting, way) in [(false, "to roll it back"), (true, "to finish it")] {
            let annotation = Journal { aborting, ..journal.clone() }.to_annotation();
            let web = sts("web", 3)
                .parallel()
                .revisions("web-old", "web-new")
                .partition(2)
                .annotation(ROLLOUT_ANNOTATION, &annotation)
                .build();
            let pods = vec![
                pod(&web, 0).revision("web-old").ready(false).build(),
                pod(&web, 1).revision("web-old").ready(false).build(),
                pod(&web, 2).revision("web-new").ready(false).build(),
            ];
            let status = build(&web, &snapshot(&web, pods, vec![]), &options());
            let warning = status.warnings.iter().find(|w| w.code == WarningCode::RolloutInProgress).unwrap();
            assert!(warning.message.contains("(0/3 Ready at its start)"), "{}", warning.message);
            assert!(warning.message.contains(way), "{}", warning.message);
        }
    }

    /// A restart or scale that did not finish is named with both ways on; a journal of theirs
    /// that does not read, with the command that removes it.
    #[test]
    fn an_unfinished_restart_or_scale_is_named_with_its_ways_on() {
        use crate::core::maintenance::restart::RESTART_ANNOTATION;
        use crate::core::maintenance::scale::SCALE_ANNOTATION;
        let restart = serde_json::json!({"startedAt": "2026-12-07T15:00:00Z", "method": "evict", "done": [2],
            "members": [
                {"namespace": "default", "statefulSet": "web", "ordinal": 2, "pod": "web-2", "uid": "a"},
                {"namespace": "default", "statefulSet": "web", "ordinal": 1, "pod": "web-1", "uid": "b"}]});
        let web = sts("web", 3)
            .annotation(RESTART_ANNOTATION, &restart.to_string())
            .annotation(SCALE_ANNOTATION, "{")
            .build();
        let pods = (0..3).map(|o| pod(&web, o).build()).collect();
        let status = build(&web, &snapshot(&web, pods, vec![]), &options());
        let message = |code| {
            status
                .warnings
                .iter()
                .find(|w| w.code == code)
                .map(|w| w.message.clone())
                .unwrap_or_else(|| panic!("{:?}", status.warnings))
        };
        assert_eq!(
            message(WarningCode::RestartInProgress),
            "a `kubectl stateful restart` of web-2, web-1 started at 2026-12-07T15:00:00Z did not finish (1 of 2 \
             done): run `kubectl stateful restart web -n default` to resume it, or `kubectl stateful restart web \
             --discard-journal -n default` to give it up"
        );
        let unreadable = message(WarningCode::JournalUnreadable);
        assert!(
            unreadable
                .starts_with("annotation kubectl-stateful.dev/scale on StatefulSet web is not a journal")
                && unreadable.ends_with(
                    "`kubectl stateful scale web --discard-journal -n default` shows it and removes it"
                ),
            "{unreadable}"
        );
    }

    #[test]
    fn a_recreate_update_is_left_to_the_controller() {
        let web = sts("web", 2).recreate().revisions("web-old", "web-new").build();
        let pods = vec![pod(&web, 0).revision("web-old").build(), pod(&web, 1).revision("web-new").build()];
        let status = build(&web, &snapshot(&web, pods, vec![]), &options());
        assert_eq!(
            (status.update_strategy.kind.as_str(), status.update_strategy.partition),
            ("Recreate", None)
        );
        assert_eq!(codes(&status), [WarningCode::RolloutInProgress]);
        let message = &status.warnings[0].message;
        assert!(message.contains("Recreate") && message.contains("does not step"), "{message}");
        assert!(status.ordinals.iter().all(|o| !o.held_back));
    }

    fn warning(status: &StatefulSetStatus, code: WarningCode) -> Vec<&str> {
        status.warnings.iter().filter(|w| w.code == code).map(|w| w.message.as_str()).collect()
    }

    /// A claim smaller than its template (made before the template grew): flagged, with the
    /// remedy its class allows. Never `pvc resize NAME --size data=2Gi`: that command refuses a
    /// size the template already asks for.
    #[test]
    fn claims_smaller_than_their_template_are_flagged_with_what_their_class_allows() {
        let web = sts("web", 2).templates(&["data"]).template_size("2Gi").build();
        let pods = vec![pod(&web, 0).build(), pod(&web, 1).build()];
        let claims = |class: &str| {
            vec![
                pvc("data-web-0").of(&web).class(class).build(),
                pvc("data-web-1").of(&web).class(class).request("2Gi").capacity("2Gi").build(),
                // Left by a scale-down, in use by nothing: an orphan, re-attached at 1Gi.
                pvc("data-web-2").of(&web).class(class).build(),
            ]
        };
        let with = |class: &str, classes: Option<Vec<k8s_openapi::api::storage::v1::StorageClass>>| {
            let mut snap = snapshot(&web, pods.clone(), claims(class));
            snap.storage_classes = classes;
            build(&web, &snap, &options())
        };
        let all = || {
            Some(vec![
                storage_class("online", true, false),
                storage_class("fixed", false, false),
                storage_class("offline", true, true),
            ])
        };
        let patch = |claim: &str| {
            format!(
                r#"kubectl -n default patch pvc {claim} -p '{{"spec":{{"resources":{{"requests":{{"storage":"2Gi"}}}}}}}}'"#
            )
        };

        let online = with("online", all());
        let claim = &online.ordinals[0].pvcs[0];
        assert_eq!(
            (claim.capacity.as_deref(), claim.request.as_deref(), claim.template_request.as_deref()),
            (Some("1Gi"), Some("1Gi"), Some("2Gi"))
        );
        assert!(claim.smaller_than_template && claim.resize.is_none());
        assert!(!online.ordinals[1].pvcs[0].smaller_than_template, "2Gi is the template's size");
        assert!(online.orphaned_pvcs[0].smaller_than_template, "orphans too");
        let found = warning(&online, WarningCode::PvcSmallerThanTemplate);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("PVC data-web-0 has 1Gi, less than the 2Gi its template data asks for"));
        assert!(
            found[0].contains(&format!("expands online: `{}` grows it", patch("data-web-0"))),
            "{}",
            found[0]
        );
        assert!(
            found[1].contains("a scale-up that includes ordinal 2 re-attaches it at 1Gi"),
            "{}",
            found[1]
        );
        assert!(found.iter().all(|w| !w.contains("pvc resize")), "that command refuses an unchanged size");

        let fixed = warning(&with("fixed", all()), WarningCode::PvcSmallerThanTemplate)[0].to_owned();
        assert!(
            fixed.contains("StorageClass fixed does not allow volume expansion, so it cannot grow"),
            "{fixed}"
        );
        assert!(!fixed.contains("patch"), "no command that the API server refuses: {fixed}");

        let offline = with("offline", all());
        let found = warning(&offline, WarningCode::PvcSmallerThanTemplate);
        assert!(
            found[0].contains(&format!("expands offline only: after `{}` it grows once no pod uses it", patch("data-web-0")))
                && found[0].contains("`kubectl -n default scale statefulset web --replicas 0` (it stops every pod from web-0 up), then back to 2"),
            "{}",
            found[0]
        );
        assert!(
            found[1].contains(&format!(
                "expands offline only and no pod uses it: `{}` grows it",
                patch("data-web-2")
            )),
            "{}",
            found[1]
        );

        let unknown = warning(&with("online", None), WarningCode::PvcSmallerThanTemplate)[0].to_owned();
        assert!(
            unknown.contains(&format!(
                "if its StorageClass online allows volume expansion (it could not be read), `{}`",
                patch("data-web-0")
            )),
            "{unknown}"
        );
    }

    #[test]
    fn resize_conditions_are_shown_and_each_says_what_finishes_it() {
        let web = sts("web", 3).templates(&["data"]).template_size("1Gi").build();
        let pods = (0..3).map(|o| pod(&web, o).build()).collect::<Vec<_>>();
        let claim = |o: i32| pvc(&format!("data-web-{o}")).of(&web).request("2Gi");
        let pvcs = vec![
            claim(0).resizing(Some("Resizing"), "", Some("ControllerResizeInProgress")).build(),
            claim(1)
                .resizing(
                    Some("FileSystemResizePending"),
                    "Waiting for user to (re-)start a pod",
                    Some("NodeResizePending"),
                )
                .build(),
            claim(2)
                .resizing(Some("ControllerResizeError"), "out of range", Some("ControllerResizeInfeasible"))
                .build(),
        ];
        let status = build(&web, &snapshot(&web, pods, pvcs), &options());
        let resize = |o: usize| status.ordinals[o].pvcs[0].resize.clone().unwrap();
        assert_eq!(
            resize(0),
            ClaimResize {
                condition: Some("Resizing".into()),
                message: None,
                allocated_resources: Some("2Gi".into()),
                allocated_resource_status: Some("ControllerResizeInProgress".into()),
            }
        );
        assert_eq!(resize(1).condition.as_deref(), Some("FileSystemResizePending"));
        assert!(resize(2).infeasible());
        assert!(status.ordinals.iter().all(|o| !o.pvcs[0].smaller_than_template), "bigger than the template");
        assert_eq!(
            codes(&status),
            [WarningCode::PvcFilesystemResizePending, WarningCode::PvcResizeFailed],
            "an expansion in progress is shown, not warned about"
        );
        assert!(status.warnings[0].message.contains(
            "grows to 2Gi only when the kubelet mounts it again; restarting pod web-1 finishes it (`kubectl -n default delete pod web-1`"
        ), "{}", status.warnings[0].message);
        assert!(status.warnings[1].message.starts_with(
            "PVC data-web-2 cannot grow to 2Gi (ControllerResizeError: out of range): the driver gave up and does not retry; \
             to give up too, lower its request to a size above its capacity 1Gi"
        ), "{}", status.warnings[1].message);

        // An offline-only driver refusing while a pod uses the claim retries; stopping the pod
        // is what finishes it. Nobody mounting a FileSystemResizePending claim: nothing to do yet.
        let web = sts("web", 2).templates(&["data"]).template_size("1Gi").build();
        let pods = vec![pod(&web, 0).build(), pod(&web, 1).build()];
        let pvcs = vec![
            pvc("data-web-1").of(&web).build(),
            claim(0)
                .class("offline")
                .resizing(
                    Some("ControllerResizeError"),
                    "volume is currently in-use",
                    Some("ControllerResizeInProgress"),
                )
                .build(),
            claim(2).resizing(Some("FileSystemResizePending"), "", Some("NodeResizePending")).build(),
        ];
        let mut snap = snapshot(&web, pods, pvcs);
        snap.storage_classes = Some(vec![storage_class("offline", true, true)]);
        let status = build(&web, &snap, &options());
        assert_eq!(codes(&status), [WarningCode::OrphanedPvcs, WarningCode::PvcResizeRetrying]);
        assert!(status.warnings[1].message.contains(
            "its StorageClass offline expands offline only, so it grows once no pod uses it; pod web-0 uses it"
        ), "{}", status.warnings[1].message);
    }

    #[test]
    fn storage_classes_are_wanted_only_for_a_claim_smaller_than_its_template_or_resizing() {
        let web = sts("web", 1).templates(&["data"]).template_size("1Gi").build();
        let mut snap = snapshot(&web, vec![], vec![pvc("data-web-0").of(&web).build()]);
        assert!(!wants_storage_classes(&snap));
        snap.pvcs = vec![pvc("data-web-0").of(&web).capacity("512Mi").build()];
        assert!(wants_storage_classes(&snap));
        snap.pvcs = vec![pvc("data-web-0").of(&web).phase("Pending").build()];
        assert!(!wants_storage_classes(&snap), "an unbound claim has no capacity yet");
        snap.pvcs = vec![
            pvc("data-web-0")
                .of(&web)
                .request("2Gi")
                .resizing(Some("ControllerResizeError"), "", None)
                .build(),
        ];
        assert!(wants_storage_classes(&snap), "an offline class explains a resize error");
    }

    proptest! {
        /// Any mix of pods and claims: no panic, one row per live ordinal plus any other pod,
        /// a claim column per template, and orphans only outside the live range.
        #[test]
        fn every_ordinal_gets_one_row(
            replicas in 0i32..6, start in 0i32..4,
            pod_ordinals in proptest::collection::btree_set(0i32..12, 0..8),
            claim_ordinals in proptest::collection::btree_set(0i32..12, 0..8),
            labelled in any::<bool>(),
        ) {
            let web = sts("web", replicas).templates(&["data", "logs"]).start(start).build();
            let pods: Vec<Pod> = pod_ordinals.iter().map(|o| pod(&web, *o).build()).collect();
            let pvcs: Vec<PersistentVolumeClaim> = claim_ordinals
                .iter()
                .map(|o| if labelled { pvc(&format!("data-web-{o}")).of(&web).build() } else { pvc(&format!("data-web-{o}")).build() })
                .collect();
            let status = build(&web, &snapshot(&web, pods, pvcs), &options());
            let range = OrdinalRange { start, replicas };
            let mut expected: BTreeSet<i32> = range.ordinals().collect();
            expected.extend(pod_ordinals.iter().copied());
            let rows: Vec<i32> = status.ordinals.iter().map(|o| o.ordinal).collect();
            prop_assert_eq!(rows, expected.into_iter().collect::<Vec<_>>());
            prop_assert!(status.ordinals.iter().all(|o| o.pvcs.len() == 2 && o.live == range.contains(o.ordinal)));
            prop_assert!(status.orphaned_pvcs.iter().all(|c| !range.contains(c.ordinal)));
            prop_assert!(labelled || status.orphaned_pvcs.is_empty(), "name-only claims are never orphans");
        }
    }
}
