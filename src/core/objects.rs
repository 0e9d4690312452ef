//! What API objects say, with the API's defaults applied: the small questions every command
//! asks of a StatefulSet, its pods, claims, volumes and nodes.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod, ServicePort};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::core::{Selector, SelectorExt};

use super::names::{OrdinalRange, pod_ordinal};

/// The label the StatefulSet controller puts on each pod: the name of its ControllerRevision.
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// The label the StatefulSet controller sets on every pod it creates, and on a pod it adopts
/// when it can update it, to the pod's name (`apps.StatefulSetPodNameLabel`, set by
/// `updateIdentity` in pkg/controller/statefulset/stateful_set_utils.go). Only StatefulSet pods
/// carry it, so the API server can select them among all of a cluster's pods (an adopted pod
/// it could not update lacks it: see `core::narrow`).
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";

pub const ROLLING_UPDATE: &str = "RollingUpdate";
pub const ON_DELETE: &str = "OnDelete";
pub const ORDERED_READY: &str = "OrderedReady";

pub fn replicas(sts: &StatefulSet) -> i32 {
    sts.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub fn start_ordinal(sts: &StatefulSet) -> i32 {
    sts.spec.as_ref().and_then(|s| s.ordinals.as_ref()).and_then(|o| o.start).unwrap_or(0)
}

pub fn ordinal_range(sts: &StatefulSet) -> OrdinalRange {
    OrdinalRange { start: start_ordinal(sts), replicas: replicas(sts) }
}

pub fn update_strategy(sts: &StatefulSet) -> &str {
    sts.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        .unwrap_or(ROLLING_UPDATE)
}

/// The partition of a RollingUpdate StatefulSet (0 when unset).
pub fn partition(sts: &StatefulSet) -> i32 {
    rolling_update(sts).and_then(|r| r.partition).unwrap_or(0)
}

pub fn max_unavailable(sts: &StatefulSet) -> Option<String> {
    rolling_update(sts).and_then(|r| r.max_unavailable.as_ref()).map(|m| match m {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => s.clone(),
    })
}

fn rolling_update(
    sts: &StatefulSet,
) -> Option<&k8s_openapi::api::apps::v1::RollingUpdateStatefulSetStrategy> {
    sts.spec.as_ref()?.update_strategy.as_ref()?.rolling_update.as_ref()
}

pub fn pod_management_policy(sts: &StatefulSet) -> &str {
    sts.spec.as_ref().and_then(|s| s.pod_management_policy.as_deref()).unwrap_or(ORDERED_READY)
}

pub fn min_ready_seconds(sts: &StatefulSet) -> i32 {
    sts.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
}

pub fn service_name(sts: &StatefulSet) -> Option<&str> {
    sts.spec.as_ref().and_then(|s| s.service_name.as_deref()).filter(|s| !s.is_empty())
}

/// (whenDeleted, whenScaled), each defaulting to Retain.
pub fn pvc_retention(sts: &StatefulSet) -> (String, String) {
    let policy = sts.spec.as_ref().and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
    let or_retain = |v: Option<&String>| v.cloned().unwrap_or_else(|| "Retain".to_owned());
    (
        or_retain(policy.and_then(|p| p.when_deleted.as_ref())),
        or_retain(policy.and_then(|p| p.when_scaled.as_ref())),
    )
}

pub fn claim_templates(sts: &StatefulSet) -> Vec<&str> {
    sts.spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.as_ref())
        .map(|t| t.iter().filter_map(|pvc| pvc.metadata.name.as_deref()).collect())
        .unwrap_or_default()
}

pub fn selector(sts: &StatefulSet) -> Option<Selector> {
    sts.spec.as_ref().and_then(|s| Selector::try_from(s.selector.clone()).ok())
}

/// The port a Service port reaches on the pods of `sts`, which is what a client of a pod's own
/// DNS name connects to (a headless Service forwards nothing): a numeric `targetPort` as it is;
/// a named one looked up among the pod template's container ports of the Service port's
/// protocol, in the containers and then in the sidecars (init containers with `restartPolicy:
/// Always`); an unset one is the port itself (the API server's default). This is what the
/// EndpointSlice controller does for each pod (`FindPort` in k8s.io/endpointslice, utils.go).
/// `None` when no container port has that name: the pods publish no such port.
pub fn target_port(sts: &StatefulSet, port: &ServicePort) -> Option<i32> {
    let name = match &port.target_port {
        None => return Some(port.port),
        Some(IntOrString::Int(number)) => return Some(*number),
        Some(IntOrString::String(name)) => name,
    };
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    let spec = sts.spec.as_ref()?.template.spec.as_ref()?;
    let sidecars =
        spec.init_containers.iter().flatten().filter(|c| c.restart_policy.as_deref() == Some("Always"));
    spec.containers
        .iter()
        .chain(sidecars)
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| {
            p.name.as_deref() == Some(name.as_str()) && p.protocol.as_deref().unwrap_or("TCP") == protocol
        })
        .map(|p| p.container_port)
}

/// Labels of the pod template: what the governing Service must select.
pub fn template_labels(sts: &StatefulSet) -> BTreeMap<String, String> {
    sts.spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

pub fn current_revision(sts: &StatefulSet) -> Option<&str> {
    sts.status.as_ref().and_then(|s| s.current_revision.as_deref())
}

pub fn update_revision(sts: &StatefulSet) -> Option<&str> {
    sts.status.as_ref().and_then(|s| s.update_revision.as_deref())
}

/// Whether the controller has seen the latest spec.
pub fn observed_current(sts: &StatefulSet) -> bool {
    let observed = sts.status.as_ref().and_then(|s| s.observed_generation);
    observed.is_some() && observed >= sts.metadata.generation
}

/// True when the controller has caught up with the spec and reports the desired number of pods.
pub fn scaling_settled(sts: &StatefulSet) -> bool {
    observed_current(sts) && sts.status.as_ref().map(|s| s.replicas) == Some(replicas(sts))
}

/// The revision name without the `<sts>-` prefix, as people quote it.
pub fn short_revision<'a>(sts_name: &str, revision: &'a str) -> &'a str {
    revision.strip_prefix(sts_name).and_then(|r| r.strip_prefix('-')).unwrap_or(revision)
}

/// Whether `obj` is controlled by the StatefulSet `sts` (an ownerReference with its uid).
pub fn owned_by(obj: &impl ResourceExt, sts: &StatefulSet) -> bool {
    let uid = sts.metadata.uid.as_deref();
    uid.is_some() && obj.owner_references().iter().any(|o| Some(o.uid.as_str()) == uid)
}

/// Whether `labels` satisfy the StatefulSet's selector (a selector that selects everything counts
/// as no evidence: an empty selector is rejected by the API for StatefulSets anyway).
pub fn selected_by(labels: &BTreeMap<String, String>, sts: &StatefulSet) -> bool {
    selector(sts).is_some_and(|s| !s.selects_all() && s.matches(labels))
}

/// The pods of `sts` among `pods`, with their ordinals: owned by it and named `<sts>-<ordinal>`.
pub fn pods_of<'p>(sts: &StatefulSet, pods: impl IntoIterator<Item = &'p Pod>) -> Vec<(i32, &'p Pod)> {
    let name = sts.name_any();
    let mut owned: Vec<_> = pods
        .into_iter()
        .filter(|p| p.namespace() == sts.namespace() && owned_by(*p, sts))
        .filter_map(|p| Some((pod_ordinal(&p.name_any(), &name)?, p)))
        .collect();
    owned.sort_by_key(|(ordinal, _)| *ordinal);
    owned
}

/// The pods of a StatefulSet's live ordinals (`[start, start + replicas)`), with their
/// ordinals, lowest first: the one query behind "the live pods on revision X" and "the live
/// pods not on it".
pub struct LivePods<'p> {
    pods: Vec<(i32, &'p Pod)>,
}

impl<'p> LivePods<'p> {
    pub fn of(sts: &StatefulSet, pods: &'p [Pod]) -> LivePods<'p> {
        let range = ordinal_range(sts);
        LivePods { pods: pods_of(sts, pods).into_iter().filter(|(o, _)| range.contains(*o)).collect() }
    }

    /// Those running `revision`; none when the revision is unknown.
    pub fn on<'r>(
        &self,
        revision: Option<&'r str>,
    ) -> impl DoubleEndedIterator<Item = (i32, &'p Pod)> + use<'_, 'p, 'r> {
        self.pods.iter().copied().filter(move |(_, p)| revision.is_some() && pod_revision(p) == revision)
    }

    /// Those running anything but `revision`.
    pub fn not_on<'r>(
        &self,
        revision: &'r str,
    ) -> impl DoubleEndedIterator<Item = (i32, &'p Pod)> + use<'_, 'p, 'r> {
        self.pods.iter().copied().filter(move |(_, p)| pod_revision(p) != Some(revision))
    }

    /// Those not being deleted.
    pub fn running(&self) -> impl DoubleEndedIterator<Item = (i32, &'p Pod)> + use<'_, 'p> {
        self.pods.iter().copied().filter(|(_, p)| !terminating(*p))
    }
}

/// A PodDisruptionBudget over a pod, with its numbers as its controller last computed them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    pub name: String,
    pub disruptions_allowed: i32,
    pub current_healthy: i32,
    pub desired_healthy: i32,
}

impl Budget {
    /// `PodDisruptionBudget web allows 0 disruptions (3 healthy, 3 needed)`.
    pub fn describe(&self) -> String {
        format!(
            "PodDisruptionBudget {} allows {} disruption{} ({} healthy, {} needed)",
            self.name,
            self.disruptions_allowed,
            if self.disruptions_allowed == 1 { "" } else { "s" },
            self.current_healthy,
            self.desired_healthy
        )
    }
}

/// The budgets of `pdbs` that select `pod` (in its namespace, by its labels).
pub fn budgets_of(pdbs: &[PodDisruptionBudget], pod: &Pod) -> Vec<Budget> {
    pdbs.iter()
        .filter(|pdb| super::budgets::selects(pdb, pod.namespace().as_deref(), pod.labels()))
        .map(|pdb| {
            let status = pdb.status.clone().unwrap_or_default();
            Budget {
                name: pdb.name_any(),
                disruptions_allowed: status.disruptions_allowed,
                current_healthy: status.current_healthy,
                desired_healthy: status.desired_healthy,
            }
        })
        .collect()
}

pub fn pod_revision(pod: &Pod) -> Option<&str> {
    pod.metadata.labels.as_ref()?.get(REVISION_LABEL).map(String::as_str)
}

fn pod_condition<'p>(pod: &'p Pod, type_: &str) -> Option<&'p k8s_openapi::api::core::v1::PodCondition> {
    pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

pub fn pod_ready(pod: &Pod) -> bool {
    pod_condition(pod, "Ready").is_some_and(|c| c.status == "True")
}

/// When the pod last became Ready, if it is Ready.
pub fn pod_ready_since(pod: &Pod) -> Option<Timestamp> {
    pod_condition(pod, "Ready")
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

/// Ready for at least `min_ready_seconds`: what the controller calls available.
pub fn pod_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    pod_ready_since(pod).is_some_and(|since| {
        min_ready_seconds <= 0 || now.as_second() - since.as_second() >= i64::from(min_ready_seconds)
    })
}

pub fn terminating(meta: &impl ResourceExt) -> bool {
    meta.meta().deletion_timestamp.is_some()
}

/// The finalizers holding a pod that is being deleted: it stays (Terminating, its ordinal taken,
/// the controller unable to replace it) until each is removed by whatever set it. Empty when it
/// is not being deleted or nothing holds it.
pub fn holding_finalizers(pod: &Pod) -> Vec<String> {
    if !terminating(pod) {
        return Vec::new();
    }
    pod.finalizers().to_vec()
}

/// `web-2 is held Terminating by finalizer example.com/protect: …`, the cause of a pod that
/// does not go, and who must act.
pub fn held_terminating(pod: &str, finalizers: &[String]) -> String {
    let (s, it) = if finalizers.len() == 1 { ("", "it") } else { ("s", "them") };
    format!(
        "{pod} is held Terminating by finalizer{s} {}: the StatefulSet controller cannot replace it until whatever \
         set {it} removes {it}",
        finalizers.join(", ")
    )
}

pub fn pod_restarts(pod: &Pod) -> i32 {
    container_statuses(pod).map(|c| c.restart_count).sum()
}

fn container_statuses(pod: &Pod) -> impl Iterator<Item = &k8s_openapi::api::core::v1::ContainerStatus> {
    pod.status.iter().flat_map(|s| {
        let init = s.init_container_statuses.iter().flatten();
        init.chain(s.container_statuses.iter().flatten())
    })
}

pub fn pod_crash_looping(pod: &Pod) -> bool {
    container_statuses(pod).any(|c| waiting_reason(c) == Some("CrashLoopBackOff"))
}

fn waiting_reason(c: &k8s_openapi::api::core::v1::ContainerStatus) -> Option<&str> {
    c.state.as_ref()?.waiting.as_ref()?.reason.as_deref()
}

/// The one-word state kubectl would print in its STATUS column.
pub fn pod_status_text(pod: &Pod) -> String {
    let status = pod.status.as_ref();
    if terminating(pod) {
        let unknown = status.and_then(|s| s.reason.as_deref()) == Some("NodeLost");
        return if unknown { "Unknown" } else { "Terminating" }.to_owned();
    }
    if let Some(reason) = status.and_then(|s| s.reason.as_deref()) {
        return reason.to_owned();
    }
    let container_reason = container_statuses(pod).find_map(|c| {
        let state = c.state.as_ref()?;
        state.waiting.as_ref().and_then(|w| w.reason.clone()).or_else(|| {
            let terminated = state.terminated.as_ref()?;
            terminated.reason.clone().or_else(|| Some(format!("ExitCode:{}", terminated.exit_code)))
        })
    });
    if let Some(reason) = container_reason {
        return reason;
    }
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    match pod_condition(pod, "PodScheduled").filter(|c| c.status == "False").and_then(|c| c.reason.as_deref())
    {
        Some(reason) if phase == "Pending" => format!("Pending:{reason}"),
        _ => phase.to_owned(),
    }
}

pub fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref()?.node_name.as_deref()
}

pub fn pod_ip(pod: &Pod) -> Option<&str> {
    pod.status.as_ref()?.pod_ip.as_deref()
}

/// Claims a pod mounts, by name.
pub fn mounted_claims(pod: &Pod) -> impl Iterator<Item = &str> {
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.persistent_volume_claim.as_ref().map(|c| c.claim_name.as_str()))
}

/// The node's Ready condition: "True", "False" or "Unknown", and since when.
pub fn node_ready_condition(node: &Node) -> Option<(&str, Option<&Time>)> {
    let conditions = node.status.as_ref()?.conditions.as_ref()?;
    let ready = conditions.iter().find(|c| c.type_ == "Ready")?;
    Some((ready.status.as_str(), ready.last_transition_time.as_ref()))
}

pub fn node_ready(node: &Node) -> bool {
    matches!(node_ready_condition(node), Some(("True", _)))
}

/// The claim's phase, or "Terminating" once it is being deleted (as kubectl shows it).
pub fn pvc_phase(pvc: &PersistentVolumeClaim) -> &str {
    if terminating(pvc) {
        return "Terminating";
    }
    pvc.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending")
}

/// Bound capacity, or the request while unbound.
pub fn pvc_capacity(pvc: &PersistentVolumeClaim) -> Option<String> {
    let bound = pvc.status.as_ref().and_then(|s| s.capacity.as_ref()).and_then(|c| c.get("storage"));
    let requested = || pvc.spec.as_ref()?.resources.as_ref()?.requests.as_ref()?.get("storage");
    bound.or_else(requested).map(|q| q.0.clone())
}

/// `spec.resources.requests.storage`: what the claim asks for (after a resize request, more
/// than its capacity until the volume has grown).
pub fn pvc_request(pvc: &PersistentVolumeClaim) -> Option<String> {
    pvc.spec.as_ref()?.resources.as_ref()?.requests.as_ref()?.get("storage").map(|q| q.0.clone())
}

/// `status.capacity.storage`: what the bound volume provides; `None` while unbound.
pub fn pvc_bound_capacity(pvc: &PersistentVolumeClaim) -> Option<String> {
    pvc.status.as_ref()?.capacity.as_ref()?.get("storage").map(|q| q.0.clone())
}

/// The storage request of the volumeClaimTemplate `template`: the size a claim created from
/// it now gets.
pub fn template_request(sts: &StatefulSet, template: &str) -> Option<String> {
    let templates = sts.spec.as_ref()?.volume_claim_templates.as_ref()?;
    let found = templates.iter().find(|t| t.metadata.name.as_deref() == Some(template))?;
    found.spec.as_ref()?.resources.as_ref()?.requests.as_ref()?.get("storage").map(|q| q.0.clone())
}

pub fn pvc_volume(pvc: &PersistentVolumeClaim) -> Option<&str> {
    pvc.spec.as_ref()?.volume_name.as_deref().filter(|v| !v.is_empty())
}

pub fn pvc_storage_class(pvc: &PersistentVolumeClaim) -> Option<&str> {
    pvc.spec.as_ref()?.storage_class_name.as_deref()
}

pub fn pvc_access_modes(pvc: &PersistentVolumeClaim) -> Vec<String> {
    pvc.spec.as_ref().and_then(|s| s.access_modes.clone()).unwrap_or_default()
}

pub fn pv_reclaim_policy(pv: &PersistentVolume) -> &str {
    pv.spec.as_ref().and_then(|s| s.persistent_volume_reclaim_policy.as_deref()).unwrap_or("Retain")
}

pub fn creation(meta: &impl ResourceExt) -> Option<Timestamp> {
    meta.meta().creation_timestamp.as_ref().map(|t| t.0)
}

/// kubectl's AGE column (apimachinery's `duration.HumanDuration`): precise when recent,
/// coarser as it grows ("45s", "5m10s", "14m", "3h2m", "2d3h", "12d", "2y30d").
pub fn age(since: Option<Timestamp>, now: Timestamp) -> String {
    let Some(since) = since else { return "<unknown>".to_owned() };
    let seconds = now.as_second() - since.as_second();
    let (minutes, hours) = (seconds / 60, seconds / 3600);
    let (days, years) = (hours / 24, hours / 24 / 365);
    let two = |big: i64, big_unit: &str, small: i64, small_unit: &str| {
        if small == 0 { format!("{big}{big_unit}") } else { format!("{big}{big_unit}{small}{small_unit}") }
    };
    match () {
        _ if seconds < 0 => "0s".to_owned(),
        _ if seconds < 120 => format!("{seconds}s"),
        _ if minutes < 10 => two(minutes, "m", seconds % 60, "s"),
        _ if minutes < 180 => format!("{minutes}m"),
        _ if hours < 8 => two(hours, "h", minutes % 60, "m"),
        _ if hours < 48 => format!("{hours}h"),
        _ if hours < 24 * 8 => two(days, "d", hours % 24, "h"),
        _ if hours < 24 * 365 * 2 => format!("{days}d"),
        _ if hours < 24 * 365 * 8 => two(years, "y", days % 365, "d"),
        _ => format!("{years}y"),
    }
}

/// The parent name and ordinal the StatefulSet controller reads from a pod's name. Its
/// `getParentNameAndOrdinal` (pkg/controller/statefulset/stateful_set_utils.go) matches
/// `(.*)-([0-9]+)$` and parses the digits with `strconv.ParseInt(…, 10, 32)`: the parent is
/// everything before the last `-` that only digits follow, so `web-01` and `web-00` are `web`'s
/// ordinals 1 and 0 to the controller (while [`pod_ordinal`] refuses them: they are not the
/// names it gives), and digits beyond int32 leave the ordinal unknown (`None`, the controller's
/// -1) with the parent still read. `None` when the name does not end in `-<digits>`.
pub fn controller_parent_and_ordinal(pod: &str) -> Option<(&str, Option<i32>)> {
    let (parent, digits) = pod.rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, digits.parse::<i32>().ok()))
}

/// The ownerReference that marks `obj`'s controller (`controller: true`), if any.
pub fn controller_of(obj: &impl ResourceExt) -> Option<&OwnerReference> {
    obj.owner_references().iter().find(|o| o.controller == Some(true))
}

/// When `pod` becomes available to the StatefulSet controller: Ready (its condition's last
/// transition) plus `min_ready_seconds`. `None` when it is not Ready. The controller's
/// `podutil.IsPodAvailable` counts a pod available only once that moment has passed.
pub fn pod_available_at(pod: &Pod, min_ready_seconds: i32) -> Option<Timestamp> {
    let since = pod_ready_since(pod)?;
    Timestamp::from_second(since.as_second().saturating_add(i64::from(min_ready_seconds.max(0)))).ok()
}

/// Whether the taint is one the scheduler filters on (`NoSchedule`, `NoExecute`) and none of
/// `pod`'s tolerations tolerates it (`v1.Toleration.ToleratesTaint`: an empty key tolerates
/// every key, an empty effect every effect; `Exists` any value, `Equal`, the default, the same).
pub fn taint_repels(pod: &Pod, taint: &k8s_openapi::api::core::v1::Taint) -> bool {
    if !matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute") {
        return false;
    }
    let tolerations = pod.spec.iter().flat_map(|s| s.tolerations.iter().flatten());
    !tolerations.into_iter().any(|t| {
        let effect = t.effect.as_deref().unwrap_or_default();
        let key = t.key.as_deref().unwrap_or_default();
        let value = || t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default();
        (effect.is_empty() || effect == taint.effect)
            && (key.is_empty() || key == taint.key)
            && match t.operator.as_deref().unwrap_or("Equal") {
                "Equal" => value(),
                // Exists, and operators newer than this code (numeric ones): a warning that a pod
                // cannot run anywhere must not rest on a toleration it cannot read.
                _ => true,
            }
    })
}

/// Whether the garbage collector decides the fate of `obj` of `sts` by some other owner:
/// it has ownerReferences, none to `sts`, and one to something other than a pod of `sts` (the
/// controller's own whenScaled reference). A claim of a name two StatefulSets share is the case.
pub fn owned_elsewhere(obj: &impl ResourceExt, sts: &StatefulSet) -> bool {
    let refs = obj.owner_references();
    let name = sts.name_any();
    !refs.is_empty()
        && !owned_by(obj, sts)
        && refs.iter().any(|r| !(r.kind == "Pod" && pod_ordinal(&r.name, &name).is_some()))
}

/// The node terms a PersistentVolume is pinned by (`spec.nodeAffinity.required`): a pod using it
/// can run only on a node that matches one of them. Empty when it is not pinned.
pub fn pv_node_terms(pv: &PersistentVolume) -> &[k8s_openapi::api::core::v1::NodeSelectorTerm] {
    pv.spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
        .map(|r| r.node_selector_terms.as_slice())
        .unwrap_or_default()
}

/// Whether `node` matches the node selector term (its expressions all hold; an empty term
/// matches nothing, as the scheduler's `nodeaffinity` reads it). Label operators `In`,
/// `NotIn`, `Exists`, `DoesNotExist`, `Gt`, `Lt`; fields only `metadata.name`.
pub fn node_matches(node: &Node, term: &k8s_openapi::api::core::v1::NodeSelectorTerm) -> bool {
    let labels = node.labels();
    let name = node.metadata.name.clone().unwrap_or_default();
    let holds = |value: Option<&String>, operator: &str, values: &[String]| match operator {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => !value.is_some_and(|v| values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|v| v.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if operator == "Gt" { have > bound } else { have < bound }
        }
        _ => false,
    };
    let expressions = term.match_expressions.iter().flatten();
    let fields = term.match_fields.iter().flatten();
    let mut any = false;
    for e in expressions {
        any = true;
        if !holds(labels.get(&e.key), &e.operator, e.values.as_deref().unwrap_or_default()) {
            return false;
        }
    }
    for f in fields {
        any = true;
        let value = (f.key == "metadata.name").then_some(&name);
        if !holds(value, &f.operator, f.values.as_deref().unwrap_or_default()) {
            return false;
        }
    }
    any
}

/// The node names a term names outright (`kubernetes.io/hostname In […]` or `metadata.name In
/// […]`, how local and zonal provisioners pin a volume): what to call a node that is gone.
pub fn named_nodes(term: &k8s_openapi::api::core::v1::NodeSelectorTerm) -> Vec<String> {
    let by_label = term
        .match_expressions
        .iter()
        .flatten()
        .filter(|e| e.key == "kubernetes.io/hostname" && e.operator == "In");
    let by_field =
        term.match_fields.iter().flatten().filter(|f| f.key == "metadata.name" && f.operator == "In");
    by_label
        .flat_map(|e| e.values.iter().flatten())
        .chain(by_field.flat_map(|f| f.values.iter().flatten()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        let now = Timestamp::from_second(1_000_000_000).unwrap();
        let ago = |s: i64| Some(Timestamp::from_second(1_000_000_000 - s).unwrap());
        assert_eq!(age(ago(12), now), "12s");
        assert_eq!(age(ago(119), now), "119s");
        assert_eq!(age(ago(310), now), "5m10s");
        assert_eq!(age(ago(300), now), "5m");
        assert_eq!(age(ago(14 * 60 + 59), now), "14m");
        assert_eq!(age(ago(3 * 3600 + 120), now), "3h2m");
        assert_eq!(age(ago(20 * 3600), now), "20h");
        assert_eq!(age(ago(86_400 * 4 + 3600 * 3), now), "4d3h");
        assert_eq!(age(ago(86_400 * 12), now), "12d");
        assert_eq!(age(ago(-5), now), "0s");
        assert_eq!(age(None, now), "<unknown>");
    }

    #[test]
    fn the_budgets_of_a_pod_are_those_selecting_it_in_its_namespace() {
        use crate::core::fixtures::{pod, sts};
        let web = sts("web", 3).build();
        let web_1 = pod(&web, 1).build();
        let pdb = |name: &str, namespace: &str, app: &str, allowed: i32| -> PodDisruptionBudget {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"selector": {"matchLabels": {"app": app}}},
                "status": {"disruptionsAllowed": allowed, "currentHealthy": 3, "desiredHealthy": 3, "expectedPods": 3}
            }))
            .unwrap()
        };
        let namespace = web_1.namespace().unwrap_or_default();
        let pdbs =
            [pdb("web", &namespace, "web", 0), pdb("db", &namespace, "db", 1), pdb("web", "other", "web", 1)];
        let budgets = budgets_of(&pdbs, &web_1);
        assert_eq!(
            budgets,
            vec![Budget {
                name: "web".into(),
                disruptions_allowed: 0,
                current_healthy: 3,
                desired_healthy: 3
            }]
        );
        assert_eq!(
            budgets[0].describe(),
            "PodDisruptionBudget web allows 0 disruptions (3 healthy, 3 needed)"
        );
    }

    #[test]
    fn live_pods_are_those_of_live_ordinals_on_or_not_on_a_revision() {
        use crate::core::fixtures::{pod, sts};
        let web = sts("web", 3).revisions("web-old", "web-new").build();
        let pods = [
            pod(&web, 0).revision("web-old").build(),
            pod(&web, 1).revision("web-new").build(),
            pod(&web, 2).revision("web-new").terminating().build(),
            pod(&web, 3).revision("web-old").build(),
        ];
        let live = LivePods::of(&web, &pods);
        let ordinals = |it: &mut dyn Iterator<Item = (i32, &Pod)>| it.map(|(o, _)| o).collect::<Vec<_>>();
        assert_eq!(ordinals(&mut live.on(Some("web-new"))), [1, 2]);
        assert_eq!(ordinals(&mut live.on(None)), Vec::<i32>::new());
        assert_eq!(ordinals(&mut live.not_on("web-new")), [0], "ordinal 3 is not live");
        assert_eq!(ordinals(&mut live.running()), [0, 1]);
        assert_eq!(ordinals(&mut live.not_on("web-old").rev()), [2, 1], "highest first, reversed");
    }
}
