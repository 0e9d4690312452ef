//! `pvc resize`, decided: the plan of growing a StatefulSet's volumes (every claim of the
//! resized templates, live ordinals and those a scale-down left behind), the refusals, the
//! object the StatefulSet is re-created from, the journal of that swap and the check that the
//! re-created StatefulSet adopted everything unchanged.
//!
//! Upstream facts this relies on (docs/pvc-resize.md has the sources):
//! - `spec.volumeClaimTemplates` is immutable (kubernetes#68737), so the StatefulSet is deleted
//!   with `propagationPolicy: Orphan` and re-created; its pods and claims are adopted by the
//!   new object when selector, template and names match (the revision hash covers only the
//!   pod template).
//! - A claim grows by raising `spec.resources.requests.storage`; the API server refuses it
//!   unless the class has `allowVolumeExpansion: true` (admission `PersistentVolumeClaimResize`)
//!   and refuses any request below `status.capacity` (KEP-1790, `field can not be less than
//!   status.capacity`); a quota charges `max(request, status.allocatedResources)`.
//! - The resizer reports on the claim: conditions `Resizing`, `FileSystemResizePending`,
//!   `ControllerResizeError`, `NodeResizeError`, and `status.allocatedResourceStatuses.storage`
//!   (`ControllerResizeInProgress`, `ControllerResizeInfeasible`, `NodeResizePending`,
//!   `NodeResizeInProgress`, `NodeResizeInfeasible`).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, ResourceQuota};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, OwnerReference};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube_quantity::ParsedQuantity;
use serde::{Deserialize, Serialize};

use super::advice::shell_word;

use super::claims::claims_of;
use super::names::pod_name;
use super::objects::*;
use super::owners::{Owners, Tool};
use super::patches::Tested;
use super::rollout::journal::ROLLOUT_ANNOTATION;

/// A StorageClass annotation saying how its driver expands volumes: `online` or `offline`.
/// Kubernetes has no field for it (a CSI driver advertises `ONLINE`/`OFFLINE` only to the
/// resizer), so a class without it is tried online: an offline-only driver then answers with
/// `ControllerResizeError` (volume in use) and the run stops.
pub const EXPANSION_ANNOTATION: &str = "kubectl-stateful.dev/expansion";

/// The journal of a swap: a ConfigMap named `kubectl-stateful-resize-<statefulset>` in the
/// StatefulSet's namespace, data key [`JOURNAL_KEY`].
pub const JOURNAL_PREFIX: &str = "kubectl-stateful-resize-";
pub const JOURNAL_KEY: &str = "journal";

/// The annotation on a StatefulSet this tool re-created in a swap: the uid of the object it
/// replaced. It tells a set this command re-created (to finish) from one someone else
/// re-created meanwhile (a GitOps self-heal, an operator, a person), which the swap must never
/// adopt as its own.
pub const SWAP_OF_ANNOTATION: &str = "kubectl-stateful.dev/swap-of";

/// The journal ConfigMap of the StatefulSet `name`.
pub fn journal_name(name: &str) -> String {
    format!("{JOURNAL_PREFIX}{name}")
}

/// One `--size TEMPLATE=QUANTITY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeRequest {
    pub template: String,
    /// As typed (`2Gi`), a valid positive quantity.
    pub size: String,
}

/// Parses `TEMPLATE=QUANTITY` (a clap value parser: an error is a usage error).
pub fn parse_size(text: &str) -> Result<SizeRequest, String> {
    let Some((template, size)) = text.split_once('=') else {
        return Err(format!("{text:?} is not TEMPLATE=QUANTITY, e.g. data=20Gi"));
    };
    if template.is_empty() {
        return Err(format!("{text:?} names no template: TEMPLATE=QUANTITY, e.g. data=20Gi"));
    }
    let bytes = quantity(size).ok_or_else(|| format!("{size:?} is not a quantity like 20Gi or 500M"))?;
    if bytes <= 0.0 {
        return Err(format!("{size:?} is not a size above zero"));
    }
    Ok(SizeRequest { template: template.to_owned(), size: size.to_owned() })
}

/// A quantity in bytes; `None` when it does not parse.
pub fn quantity(text: &str) -> Option<f64> {
    let parsed = ParsedQuantity::try_from(text).ok()?;
    parsed.to_bytes_f64().filter(|b| b.is_finite())
}

/// How a claim's class expands volumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Expansion {
    /// While pods run (declared, or not declared offline).
    Online,
    /// Only while no pod uses the claim (the class's [`EXPANSION_ANNOTATION`] says so).
    Offline,
    /// The class lacks `allowVolumeExpansion: true`, or the claim has no class.
    None,
    /// StorageClasses could not be read, or the class does not exist.
    Unknown,
}

/// What the run does with one claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// Raise its request to the target.
    Grow,
    /// Its request is the target already; wait for its capacity.
    Wait,
    /// Its capacity is the target or more.
    Nothing,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimPlan {
    pub name: String,
    pub template: String,
    pub ordinal: i32,
    /// The ordinal is in the live range (a pod runs, or will, with this claim).
    pub live: bool,
    pub phase: String,
    pub storage_class: Option<String>,
    pub expansion: Expansion,
    pub capacity: Option<String>,
    pub request: Option<String>,
    pub target: String,
    pub action: Action,
    /// A resize condition on the claim (`Resizing`, `FileSystemResizePending`,
    /// `ControllerResizeError`, `NodeResizeError`), with its message.
    pub condition: Option<String>,
    /// The pod that mounts the claim, if any.
    pub mounted_by: Option<String>,
    #[serde(skip)]
    pub uid: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplatePlan {
    pub name: String,
    pub from: String,
    pub to: String,
    pub storage_class: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaPlan {
    pub name: String,
    /// `requests.storage` or `<class>.storageclass.storage.k8s.io/requests.storage`.
    pub resource: String,
    pub hard: String,
    pub used: String,
    /// What the grow adds to `used`, in bytes.
    pub adds_bytes: u64,
    pub fits: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Retention {
    pub when_deleted: String,
    pub when_scaled: String,
}

/// The plan: what `pvc resize` would do, printed before anything changes (`kind:
/// ResizePlan`, schema in docs/pvc-resize.md).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResizePlan {
    pub namespace: String,
    pub stateful_set: String,
    pub replicas: i32,
    pub start_ordinal: i32,
    pub templates: Vec<TemplatePlan>,
    /// Highest ordinal first: the order claims grow in (the first is the canary).
    pub claims: Vec<ClaimPlan>,
    pub retention: Retention,
    /// Who applies the StatefulSet (a GitOps tool or Helm), when its labels or managed fields say.
    pub owner: Option<String>,
    pub quotas: Vec<QuotaPlan>,
    /// For claims of offline-only classes mounted by pods: the downtime that expanding them
    /// takes, step by step. Empty when there is none.
    pub downtime: Vec<String>,
    pub warnings: Vec<String>,
    /// Why the run would not start (one line each in JSON, `refusals`); empty when it would.
    #[serde(rename = "refusals", serialize_with = "as_lines")]
    pub blocking: Vec<Refusal>,
}

/// Refusals as their one-line messages.
fn as_lines<S: serde::Serializer>(refusals: &[Refusal], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(refusals.iter().map(ToString::to_string))
}

impl ResizePlan {
    pub fn to_grow(&self) -> impl Iterator<Item = &ClaimPlan> {
        self.claims.iter().filter(|c| c.action == Action::Grow)
    }

    /// Claims whose capacity is not yet the target.
    pub fn unfinished(&self) -> impl Iterator<Item = &ClaimPlan> {
        self.claims.iter().filter(|c| c.action != Action::Nothing)
    }

    /// Offline claims mounted by a pod: their expansion needs downtime, which this tool does
    /// not take on its own; the scale down and back up are commands with the run's `flags`.
    pub fn needs_downtime(&self, flags: &super::advice::RunFlags) -> Option<Refusal> {
        let scale = |replicas: i32| {
            flags.kubectl(
                &self.namespace,
                &format!("scale statefulset {} --replicas {replicas}", shell_word(&self.stateful_set)),
            )
        };
        (!self.downtime.is_empty()).then(|| Refusal::NeedsDowntime {
            statefulset: self.stateful_set.clone(),
            scale_down: scale(0),
            scale_up: scale(self.replicas),
            steps: self.downtime.clone(),
        })
    }

    /// The claims to grow, in the order they grow: the first unfinished claim (the highest
    /// ordinal) alone, the canary, then the rest `parallel` at a time.
    pub fn batches(&self, parallel: usize) -> Vec<Vec<&ClaimPlan>> {
        let todo: Vec<&ClaimPlan> = self.unfinished().collect();
        let Some((canary, rest)) = todo.split_first() else { return Vec::new() };
        std::iter::once(vec![*canary]).chain(rest.chunks(parallel.max(1)).map(<[_]>::to_vec)).collect()
    }

    /// Whether the StatefulSet must be swapped: some template asks for less than its target
    /// (otherwise only claims smaller than their template grow).
    pub fn swaps(&self) -> bool {
        self.templates.iter().any(|t| bytes(Some(&t.from)) != bytes(Some(&t.to)))
    }

    /// The target sizes by template.
    pub fn sizes(&self) -> BTreeMap<String, String> {
        self.templates.iter().map(|t| (t.name.clone(), t.to.clone())).collect()
    }
}

/// Why `pvc resize` will not start. Usage errors (exit 2) come from the command line alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{statefulset} has no volumeClaimTemplate {template} (it has: {known}); nothing was changed")]
    NoSuchTemplate { statefulset: String, template: String, known: String },
    #[error(
        "cannot shrink {template} from {from} to {to}: Kubernetes never shrinks a volume; nothing was changed"
    )]
    Shrink { template: String, from: String, to: String },
    #[error(
        "{template} already requests {size}, and so does every claim of it: nothing to resize; nothing was changed"
    )]
    Unchanged { template: String, size: String },
    #[error("volumeClaimTemplate {template} requests no storage size; nothing was changed")]
    NoSize { template: String },
    #[error(
        "StorageClass {class} does not allow volume expansion (allowVolumeExpansion is not true), so {claims} cannot \
         grow; nothing was changed"
    )]
    NotExpandable { class: String, claims: String },
    #[error(
        "PVC {claim} has no StorageClass, and only dynamically provisioned claims can grow; nothing was changed"
    )]
    NoClass { claim: String },
    #[error("PVC {claim} is {phase}, not Bound: only a bound claim can grow; nothing was changed")]
    NotBound { claim: String, phase: String },
    #[error("{statefulset} is {what}; run this again once it has finished; nothing was changed")]
    Busy { statefulset: String, what: String },
    #[error(
        "ResourceQuota {quota} cannot hold the new sizes ({resource}: {used} used of {hard}, the grow adds {adds}); \
         raise it first; nothing was changed"
    )]
    Quota { quota: String, resource: String, used: String, hard: String, adds: String },
    #[error(
        "{owner} applies {statefulset}: between the delete and the re-create, and at its next sync, it re-creates the \
         StatefulSet from its own (old) volumeClaimTemplates; change the size there, pause it for this object, or pass \
         --override-owner; nothing was changed"
    )]
    Owned { owner: String, statefulset: String },
    /// Helm is no controller: nothing re-creates the set during the swap, but the release's
    /// next upgrade renders the old volumeClaimTemplates, which the API server refuses to change
    /// (`UPGRADE FAILED`: immutable, or forbidden on older servers), until the release's values
    /// carry the new size.
    #[error(
        "{owner} applies {statefulset}: nothing re-creates it during the swap, but the release's next helm upgrade \
         with the values it has now fails (the API server refuses any change of volumeClaimTemplates) until they \
         carry the new size; pass --override-owner, then give the release the new size in its values; nothing was \
         changed"
    )]
    HelmOwned { owner: String, statefulset: String },
    /// A controller (an operator's custom resource) owns the StatefulSet: it re-creates or
    /// reverts it from its own spec the moment the swap deletes it. Not lifted by
    /// `--override-owner`: an operator cannot be paused for one object the way a GitOps app can.
    #[error(
        "{owner} controls {statefulset} (its controller ownerReference): its operator would re-create or revert          the StatefulSet from its own spec while this command swaps it; change the size through {owner}; nothing was          changed"
    )]
    Controlled { owner: String, statefulset: String },
    #[error(
        "PVC {claim} is expanding to {request} already (not {target}); wait for it, then run this again; nothing was changed"
    )]
    OtherExpansion { claim: String, request: String, target: String },
    #[error("PVC {claim} has a failed expansion to {request} ({condition}); {recovery}; nothing was changed")]
    Failed { claim: String, request: String, condition: String, recovery: String },
    /// Claims of an offline-only class that pods use: growing them takes the downtime in
    /// `steps` (the plan's `downtime`), which this tool does not take on its own.
    #[error(
        "{statefulset} needs downtime for its offline-only claims, which this command does not take on its own; to \
         go on: `{scale_down}`, run this command again (it grows the claims and swaps the StatefulSet), then \
         `{scale_up}`; nothing was changed"
    )]
    NeedsDowntime {
        statefulset: String,
        /// `kubectl scale` to 0 and back to the replicas now, with the run's flags.
        scale_down: String,
        scale_up: String,
        steps: Vec<String>,
    },
}

impl Refusal {
    /// A usage error: the command line asks for something that can never work.
    pub fn is_usage(&self) -> bool {
        matches!(self, Refusal::NoSuchTemplate { .. } | Refusal::Shrink { .. } | Refusal::Unchanged { .. })
    }

    /// What to print above the one-line refusal: for the downtime, its steps.
    pub fn way_out(&self) -> Vec<String> {
        match self {
            Refusal::NeedsDowntime { steps, .. } => {
                let mut lines = vec![
                    "The offline-only claims can grow only while no pod uses them. The downtime that takes:"
                        .to_owned(),
                ];
                lines.extend(steps.iter().enumerate().map(|(i, step)| format!("  {}. {step}", i + 1)));
                lines
            }
            _ => Vec::new(),
        }
    }
}

/// Everything the plan is computed from.
pub struct Inputs<'a> {
    pub sts: &'a StatefulSet,
    /// The namespace's claims.
    pub pvcs: &'a [PersistentVolumeClaim],
    /// The namespace's pods.
    pub pods: &'a [Pod],
    /// `None` when StorageClasses may not be read.
    pub classes: Option<&'a [StorageClass]>,
    /// `None` when ResourceQuotas may not be read.
    pub quotas: Option<&'a [ResourceQuota]>,
    pub sizes: &'a [SizeRequest],
    pub override_owner: bool,
    /// The run's connection flags, which the commands of a refusal repeat.
    pub flags: &'a super::advice::RunFlags,
}

/// The storage request of a volumeClaimTemplate or claim.
fn requested(spec: Option<&k8s_openapi::api::core::v1::PersistentVolumeClaimSpec>) -> Option<String> {
    let requests = spec?.resources.as_ref()?.requests.as_ref()?;
    requests.get("storage").map(|q| q.0.clone())
}

fn allocated(pvc: &PersistentVolumeClaim) -> Option<String> {
    pvc.status.as_ref()?.allocated_resources.as_ref()?.get("storage").map(|q| q.0.clone())
}

/// The claim's resize condition that is `True`, as `Type: message`.
pub fn resize_condition(pvc: &PersistentVolumeClaim) -> Option<(String, String)> {
    const TYPES: [&str; 4] =
        ["ControllerResizeError", "NodeResizeError", "FileSystemResizePending", "Resizing"];
    let conditions = pvc.status.as_ref()?.conditions.as_ref()?;
    TYPES.iter().find_map(|t| {
        conditions
            .iter()
            .find(|c| c.type_ == *t && c.status == "True")
            .map(|c| (c.type_.clone(), c.message.clone().unwrap_or_default()))
    })
}

/// `allocatedResourceStatuses` of an expansion the driver (controller side) or the kubelet
/// (node side) gave up on: final, not retried (external-resizer `resize_status.go`).
pub const CONTROLLER_INFEASIBLE: &str = "ControllerResizeInfeasible";
pub const NODE_INFEASIBLE: &str = "NodeResizeInfeasible";

/// `status.allocatedResourceStatuses.storage`.
pub fn resize_status(pvc: &PersistentVolumeClaim) -> Option<&str> {
    pvc.status.as_ref()?.allocated_resource_statuses.as_ref()?.get("storage").map(String::as_str)
}

fn bytes(text: Option<&str>) -> f64 {
    text.and_then(quantity).unwrap_or(0.0)
}

/// How the class `class` expands volumes, from the StorageClasses read (`None`: unreadable).
pub fn class_expansion(class: Option<&str>, classes: Option<&[StorageClass]>) -> Expansion {
    let Some(class) = class.filter(|c| !c.is_empty()) else {
        return Expansion::None;
    };
    let Some(found) = classes.and_then(|all| all.iter().find(|c| c.name_any() == class)) else {
        return Expansion::Unknown;
    };
    if found.allow_volume_expansion != Some(true) {
        return Expansion::None;
    }
    match found.annotations().get(EXPANSION_ANNOTATION).map(String::as_str) {
        Some("offline") => Expansion::Offline,
        _ => Expansion::Online,
    }
}

/// The recovery from a failed expansion of `claim` (request `request`, capacity `capacity`):
/// what the API server allows (KEP-1790).
pub fn recovery_hint(
    flags: &super::advice::RunFlags,
    namespace: &str,
    claim: &str,
    capacity: Option<&str>,
) -> String {
    let describe = flags.kubectl(namespace, &format!("describe pvc {}", shell_word(claim)));
    match capacity {
        Some(capacity) => format!(
            "to give up, lower its request to a size above its capacity {capacity} that the driver can provide (the API \
             server refuses {capacity} itself): `{}` with that SIZE; or remove the cause (`{describe}`) and run the same \
             command again",
            flags.kubectl(
                namespace,
                &format!(
                    "patch pvc {} -p '{{\"spec\":{{\"resources\":{{\"requests\":{{\"storage\":\"SIZE\"}}}}}}}}'",
                    shell_word(claim)
                )
            )
        ),
        None => format!("see `{describe}`"),
    }
}

/// Plans the resize. `Err` is a usage error (the command line asks for the impossible);
/// every other reason not to start is in [`ResizePlan::blocking`].
pub fn plan(inputs: &Inputs) -> Result<ResizePlan, Refusal> {
    let sts = inputs.sts;
    let name = sts.name_any();
    let namespace = sts.namespace().unwrap_or_default();
    let spec_templates: Vec<&PersistentVolumeClaim> =
        sts.spec.iter().flat_map(|s| s.volume_claim_templates.iter().flatten()).collect();
    let mut blocking = Vec::new();
    let mut templates = Vec::new();
    for request in inputs.sizes {
        let Some(template) = spec_templates.iter().find(|t| t.name_any() == request.template) else {
            let known: Vec<String> = spec_templates.iter().map(|t| t.name_any()).collect();
            return Err(Refusal::NoSuchTemplate {
                statefulset: name,
                template: request.template.clone(),
                known: if known.is_empty() { "none".to_owned() } else { known.join(", ") },
            });
        };
        let Some(from) = requested(template.spec.as_ref()) else {
            blocking.push(Refusal::NoSize { template: request.template.clone() });
            continue;
        };
        let (old, new) = (bytes(Some(&from)), bytes(Some(&request.size)));
        if new < old {
            return Err(Refusal::Shrink {
                template: request.template.clone(),
                from,
                to: request.size.clone(),
            });
        }
        // The template asks for this size already: only claims smaller than it (made before
        // the template grew) are left to grow, and no swap is needed; with none, nothing to do.
        templates.push(TemplatePlan {
            name: request.template.clone(),
            from,
            to: request.size.clone(),
            storage_class: template.spec.as_ref().and_then(|s| s.storage_class_name.clone()),
        });
    }

    let range = ordinal_range(sts);
    let mut claims = Vec::new();
    for claim in claims_of(sts, inputs.pvcs) {
        let Some(template) = templates.iter().find(|t| t.name == claim.template) else { continue };
        let pvc = claim.pvc;
        let claim_name = pvc.name_any();
        let request = requested(pvc.spec.as_ref());
        let capacity = pvc_capacity(pvc);
        let class = pvc_storage_class(pvc).map(str::to_owned);
        let expansion = class_expansion(class.as_deref(), inputs.classes);
        let target = bytes(Some(&template.to));
        let action = if bytes(capacity.as_deref()) >= target {
            Action::Nothing
        } else if bytes(request.as_deref()) >= target {
            Action::Wait
        } else {
            Action::Grow
        };
        let condition = resize_condition(pvc);
        let mounted_by = inputs
            .pods
            .iter()
            .find(|p| {
                !matches!(pod_phase(p), "Succeeded" | "Failed") && mounted_claims(p).any(|c| c == claim_name)
            })
            .map(|p| p.name_any());
        if action != Action::Nothing {
            match expansion {
                Expansion::None if class.is_none() => {
                    blocking.push(Refusal::NoClass { claim: claim_name.clone() })
                }
                _ => {}
            }
            if pvc_phase(pvc) != "Bound" {
                blocking
                    .push(Refusal::NotBound { claim: claim_name.clone(), phase: pvc_phase(pvc).to_owned() });
            }
            let failed =
                matches!(resize_status(pvc), Some("ControllerResizeInfeasible" | "NodeResizeInfeasible"))
                    || condition.as_ref().is_some_and(|(t, _)| t == "NodeResizeError")
                    || (condition.as_ref().is_some_and(|(t, _)| t == "ControllerResizeError")
                        && expansion != Expansion::Offline);
            let in_flight = bytes(request.as_deref()) > bytes(capacity.as_deref());
            if failed && in_flight {
                let (kind, message) = condition.clone().unwrap_or_default();
                blocking.push(Refusal::Failed {
                    claim: claim_name.clone(),
                    request: request.clone().unwrap_or_default(),
                    condition: if message.is_empty() { kind } else { format!("{kind}: {message}") },
                    recovery: recovery_hint(inputs.flags, &namespace, &claim_name, capacity.as_deref()),
                });
            } else if in_flight && action == Action::Grow {
                blocking.push(Refusal::OtherExpansion {
                    claim: claim_name.clone(),
                    request: request.clone().unwrap_or_default(),
                    target: template.to.clone(),
                });
            }
        }
        claims.push(ClaimPlan {
            name: claim_name,
            template: claim.template.to_owned(),
            ordinal: claim.ordinal,
            live: range.contains(claim.ordinal),
            phase: pvc_phase(pvc).to_owned(),
            storage_class: class,
            expansion,
            capacity,
            request,
            target: template.to.clone(),
            action,
            condition: condition.map(|(t, m)| if m.is_empty() { t } else { format!("{t}: {m}") }),
            mounted_by,
            uid: pvc.uid().unwrap_or_default(),
        });
    }
    for t in templates.iter().filter(|t| bytes(Some(&t.from)) == bytes(Some(&t.to))) {
        if claims.iter().all(|c| c.template != t.name || c.action == Action::Nothing) {
            return Err(Refusal::Unchanged { template: t.name.clone(), size: t.from.clone() });
        }
    }
    // Highest ordinal first, as a scale-down goes: the canary is the last pod to matter.
    claims.sort_by(|a, b| (b.ordinal, &a.template).cmp(&(a.ordinal, &b.template)));

    let mut not_expandable: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in claims.iter().filter(|c| c.action != Action::Nothing && c.expansion == Expansion::None) {
        if let Some(class) = &c.storage_class {
            not_expandable.entry(class.clone()).or_default().push(c.name.clone());
        }
    }
    for (class, names) in not_expandable {
        blocking.push(Refusal::NotExpandable { class, claims: names.join(", ") });
    }

    let mut warnings = Vec::new();
    if sts.annotations().contains_key(ROLLOUT_ANNOTATION) {
        blocking.push(Refusal::Busy {
            statefulset: name.clone(),
            what: "mid-rollout (kubectl stateful rollout)".into(),
        });
    } else if !observed_current(sts) || update_revision(sts) != current_revision(sts) {
        blocking.push(Refusal::Busy {
            statefulset: name.clone(),
            what: "mid-rollout (its revisions differ)".into(),
        });
    }
    if !scaling_settled(sts) {
        blocking.push(Refusal::Busy { statefulset: name.clone(), what: "mid-scale".into() });
    }
    if let Some(controller) = controller_of(sts) {
        blocking.push(Refusal::Controlled {
            owner: format!("{} {}", controller.kind, controller.name),
            statefulset: name.clone(),
        });
    }
    let owners = Owners::of(sts);
    let owner = match (&owners.applier, owners.template_reverter()) {
        (Some(applier), _) if applier.tool.reverts() && !applier.paused => {
            Some((applier.describe(), applier.tool))
        }
        (_, Some(contested)) => Some((contested.owner(), contested.tool())),
        _ => None,
    };
    // Helm's truth is not a sync's: it re-creates nothing, its next upgrade fails instead.
    match (&owner, inputs.override_owner) {
        (Some((owner, Tool::Helm)), true) => warnings.push(format!(
            "--override-owner: {owner} applies {name}: its next helm upgrade fails until the release's values carry \
             the new size (volumeClaimTemplates cannot change)"
        )),
        (Some((owner, _)), true) => warnings.push(format!(
            "--override-owner: {owner} applies {name} and may re-create it from its old volumeClaimTemplates"
        )),
        (Some((owner, Tool::Helm)), false) => {
            blocking.push(Refusal::HelmOwned { owner: owner.clone(), statefulset: name.clone() })
        }
        (Some((owner, _)), false) => blocking.push(Refusal::Owned { owner: owner.clone(), statefulset: name.clone() }),
        (None, _) => {}
    }
    let owner = owner.map(|(owner, _)| owner);
    if inputs.classes.is_none() {
        warnings.push(
            "StorageClasses are not readable with these credentials: whether they allow expansion is unknown (the API \
             server refuses the first patch if not)"
                .to_owned(),
        );
    }
    let quotas = match inputs.quotas {
        Some(quotas) => quota_plan(quotas, &claims, inputs.pvcs),
        None => {
            warnings
                .push("ResourceQuotas are not readable with these credentials: headroom unknown".to_owned());
            Vec::new()
        }
    };
    for q in quotas.iter().filter(|q| !q.fits) {
        blocking.push(Refusal::Quota {
            quota: q.name.clone(),
            resource: q.resource.clone(),
            used: q.used.clone(),
            hard: q.hard.clone(),
            adds: human_bytes(q.adds_bytes as f64),
        });
    }
    let downtime = downtime_plan(sts, &claims);
    let (when_deleted, when_scaled) = pvc_retention(sts);
    Ok(ResizePlan {
        namespace,
        stateful_set: name,
        replicas: range.replicas,
        start_ordinal: range.start,
        templates,
        claims,
        retention: Retention { when_deleted, when_scaled },
        owner,
        quotas,
        downtime,
        warnings,
        blocking,
    })
}

fn pod_phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

/// The quotas that count claim storage, with what the grow adds: quota charges a claim
/// `max(request, allocatedResources)` (KEP-1790), so a claim adds `target - that`.
fn quota_plan(
    quotas: &[ResourceQuota],
    claims: &[ClaimPlan],
    pvcs: &[PersistentVolumeClaim],
) -> Vec<QuotaPlan> {
    let charged = |c: &ClaimPlan| -> f64 {
        let allocated = pvcs.iter().find(|p| p.name_any() == c.name).and_then(allocated);
        bytes(c.request.as_deref()).max(bytes(allocated.as_deref()))
    };
    let mut plans = Vec::new();
    for quota in quotas {
        let hard = quota.spec.as_ref().and_then(|s| s.hard.clone()).unwrap_or_default();
        let used = quota.status.as_ref().and_then(|s| s.used.clone()).unwrap_or_default();
        for (resource, limit) in &hard {
            let class = match resource.strip_suffix(".storageclass.storage.k8s.io/requests.storage") {
                Some(class) => Some(class),
                None if resource == "requests.storage" => None,
                None => continue,
            };
            let adds: f64 = claims
                .iter()
                .filter(|c| c.action == Action::Grow)
                .filter(|c| class.is_none() || c.storage_class.as_deref() == class)
                .map(|c| (bytes(Some(&c.target)) - charged(c)).max(0.0))
                .sum();
            let used_now =
                used.get(resource).map(|q: &Quantity| q.0.clone()).unwrap_or_else(|| "0".to_owned());
            let fits = bytes(Some(&used_now)) + adds <= bytes(Some(&limit.0));
            plans.push(QuotaPlan {
                name: quota.name_any(),
                resource: resource.clone(),
                hard: limit.0.clone(),
                used: used_now,
                adds_bytes: adds as u64,
                fits,
            });
        }
    }
    plans
}

/// The downtime an offline-only class needs: a StatefulSet re-creates a deleted pod at once,
/// so the only way to stop the pods that mount those claims is to scale below their ordinals,
/// highest first; the filesystems then grow as the pods mount them again.
fn downtime_plan(sts: &StatefulSet, claims: &[ClaimPlan]) -> Vec<String> {
    let name = sts.name_any();
    let range = ordinal_range(sts);
    let lowest = claims
        .iter()
        .filter(|c| c.action != Action::Nothing && c.expansion == Expansion::Offline && c.live)
        .map(|c| c.ordinal)
        .min();
    let Some(lowest) = lowest else { return Vec::new() };
    let stopping: Vec<String> =
        range.ordinals().rev().filter(|o| *o >= lowest).map(|o| pod_name(&name, o)).collect();
    let keep = i64::from(lowest) - i64::from(range.start);
    vec![
        format!(
            "scale {name} from {} to {keep} replicas: {} stop, in that order ({} of downtime for them)",
            range.replicas,
            stopping.join(", "),
            if keep == 0 { "all pods" } else { "these pods" }
        ),
        "the offline claims expand while no pod uses them (wait until each reports FileSystemResizePending or its new \
         capacity)"
            .to_owned(),
        format!(
            "scale {name} back to {} replicas: {} start again, and each filesystem grows as its pod mounts it",
            range.replicas,
            stopping.iter().rev().cloned().collect::<Vec<_>>().join(", ")
        ),
    ]
}

/// `1073741824` → `1Gi`: a Kubernetes quantity.
pub fn human_bytes(bytes: f64) -> String {
    super::prune::binary_units(bytes, "")
}

/// The object the StatefulSet is re-created from: `sts` as read with only the storage
/// requests of the resized claim templates changed, and what the API server sets dropped
/// (uid, resourceVersion, generation, creationTimestamp, managedFields, deletion fields,
/// status). Labels, annotations (GitOps tracking among them), ownerReferences and finalizers
/// are kept, and [`SWAP_OF_ANNOTATION`] names the object it replaces. The managed fields are
/// the journal's, restored after the create ([`restore_managers`]): a create makes its own
/// field manager the owner of every field.
pub fn rewrite(sts: &StatefulSet, sizes: &BTreeMap<String, String>) -> StatefulSet {
    let mut out = sts.clone();
    let meta = &mut out.metadata;
    meta.uid = None;
    meta.resource_version = None;
    meta.generation = None;
    meta.creation_timestamp = None;
    meta.managed_fields = None;
    meta.deletion_timestamp = None;
    meta.deletion_grace_period_seconds = None;
    meta.self_link = None;
    // The orphan finalizer belongs to the deletion of the old object.
    if let Some(finalizers) = &mut meta.finalizers {
        finalizers.retain(|f| f != "orphan");
        if finalizers.is_empty() {
            meta.finalizers = None;
        }
    }
    out.status = None;
    out.annotations_mut().insert(SWAP_OF_ANNOTATION.to_owned(), sts.uid().unwrap_or_default());
    set_sizes(&mut out, sizes);
    out
}

/// Sets the storage request of each claim template named in `sizes`.
fn set_sizes(out: &mut StatefulSet, sizes: &BTreeMap<String, String>) {
    for template in out.spec.iter_mut().flat_map(|s| s.volume_claim_templates.iter_mut().flatten()) {
        let Some(size) = sizes.get(&template.name_any()) else { continue };
        let spec = template.spec.get_or_insert_with(Default::default);
        let resources = spec.resources.get_or_insert_with(Default::default);
        resources
            .requests
            .get_or_insert_with(Default::default)
            .insert("storage".to_owned(), Quantity(size.clone()));
    }
}

/// The storage request of each claim template of `sts`.
pub fn template_sizes(sts: &StatefulSet) -> BTreeMap<String, String> {
    sts.spec
        .iter()
        .flat_map(|s| s.volume_claim_templates.iter().flatten())
        .filter_map(|t| Some((t.name_any(), requested(t.spec.as_ref())?)))
        .collect()
}

/// How long the run waits for the kubelet, before restarting any pod, to grow the mounted
/// filesystems of claims left `FileSystemResizePending` whose class expands online. A driver
/// that needs node expansion (most: the filesystem grows on the node) gets it from the kubelet
/// while the pod runs, but only when the kubelet next syncs that pod: its `syncFrequency`
/// (1 minute by default) with up to half of it again as jitter. Measured with real kubelets and
/// a CSI driver (docs/testing.md, "Storage tier"): about 65 s. A restart would finish it at once
/// but costs the pod; for a quorum that is a member out, needlessly.
pub const ONLINE_GROWTH_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Whether the kubelet may still grow `claim`'s filesystem while its pod runs: a claim left
/// `FileSystemResizePending` that a pod mounts, of a class not declared offline-only
/// (a class declared offline cannot be grown while mounted at all; one whose expansion is
/// unknown is not waited for).
pub fn kubelet_grows_online(claim: &ClaimPlan) -> bool {
    claim.mounted_by.is_some() && claim.expansion == Expansion::Online
}

/// The wait for the kubelet ([`ONLINE_GROWTH_WAIT`]), never longer than the run's `--timeout`.
pub fn online_growth_wait(timeout: std::time::Duration) -> std::time::Duration {
    ONLINE_GROWTH_WAIT.min(timeout)
}

/// The pods to restart so that their claims' filesystems grow (`pending`: claims left
/// `FileSystemResizePending`), once each, highest ordinal first (as the controller would roll
/// them): `(ordinal, pod)`.
pub fn restart_order(pending: &[ClaimPlan]) -> Vec<(i32, String)> {
    let mut pods: Vec<(i32, String)> =
        pending.iter().filter_map(|c| Some((c.ordinal, c.mounted_by.clone()?))).collect();
    pods.sort_by(|a, b| b.cmp(a));
    pods.dedup();
    pods
}

/// Why the restart of a pod for its filesystem waits, kept typed in the `restartHeld` event
/// and the stop of a run that waited too long: other members are down (not Ready, or missing;
/// [`restart_held`]), or the Eviction API refused (a budget allows no disruption now; the
/// budgets are the API server's to judge, and a refusal is waited out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum RestartHold {
    /// The other members not Ready or missing, by name: one more down could cost the quorum.
    MembersDown { pods: Vec<String> },
    /// The eviction was refused (429): the budgets over the pod with their numbers, and the
    /// API server's words (for a refusal that names no budget).
    #[serde(rename_all = "camelCase")]
    EvictionRefused { budgets: Vec<Budget>, message: String },
}

impl std::fmt::Display for RestartHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestartHold::MembersDown { pods } => write!(f, "{} not Ready", pods.join(", ")),
            RestartHold::EvictionRefused { budgets, message } if budgets.is_empty() => f.write_str(message),
            RestartHold::EvictionRefused { budgets, .. } => {
                f.write_str(&budgets.iter().map(Budget::describe).collect::<Vec<_>>().join("; "))
            }
        }
    }
}

/// Whether `pod` may be restarted now, of the set whose live members are `members` (pod names,
/// in ordinal order) and whose pods are `pods`: only while every other member is Ready, as
/// `restart` keeps the quorum, except the members in `waiting` (those that wait for a restart
/// for their own filesystem: they would otherwise hold each other for ever). `None`: it may go.
pub fn restart_held(pod: &str, members: &[String], pods: &[Pod], waiting: &[&str]) -> Option<RestartHold> {
    let down: Vec<String> = members
        .iter()
        .filter(|m| m.as_str() != pod && !waiting.contains(&m.as_str()))
        .filter(|m| !pods.iter().any(|p| p.name_any() == **m && pod_ready(p) && !terminating(p)))
        .cloned()
        .collect();
    (!down.is_empty()).then_some(RestartHold::MembersDown { pods: down })
}

/// What the restart for a filesystem does with one member ([`restart_step`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestartStep {
    /// Its pod (this uid) runs: evicted once allowed, then its successor waited for.
    Evict { uid: String },
    /// Its pod (this uid) is being deleted already: nothing to evict, its successor is waited for.
    Successor { uid: String },
    /// It has no pod (deleted and not created again yet, or never scheduled): nothing to evict;
    /// the pod the controller creates mounts the claim, so it is waited for until Ready like a
    /// down member, and the claim until grown. Skipping it would leave the claim pending.
    NoPod,
}

impl RestartStep {
    /// The uid of the pod its successor must not have (`""`: any pod of the name will do).
    pub fn old_uid(&self) -> &str {
        match self {
            RestartStep::Evict { uid } | RestartStep::Successor { uid } => uid,
            RestartStep::NoPod => "",
        }
    }
}

/// What to do for the member whose pod is `pod` as read now ([`RestartStep`]).
pub fn restart_step(pod: Option<&Pod>) -> RestartStep {
    match pod {
        None => RestartStep::NoPod,
        Some(p) if terminating(p) => RestartStep::Successor { uid: p.uid().unwrap_or_default() },
        Some(p) => RestartStep::Evict { uid: p.uid().unwrap_or_default() },
    }
}

/// Where the old StatefulSet of a swap stands while its deletion is waited for: `being
/// deleted, finalizers: foo` or `not deleted yet`.
pub fn old_set_state(sts: &StatefulSet) -> String {
    let finalizers = sts.finalizers();
    match (sts.metadata.deletion_timestamp.is_some(), finalizers.is_empty()) {
        (false, _) => "not deleted yet".to_owned(),
        (true, true) => "being deleted".to_owned(),
        (true, false) => format!("being deleted, finalizers: {}", finalizers.join(", ")),
    }
}

impl ResizePlan {
    /// The pods of the live ordinals, by name, in ordinal order.
    pub fn members(&self) -> Vec<String> {
        (0..self.replicas.max(0)).map(|i| pod_name(&self.stateful_set, self.start_ordinal + i)).collect()
    }
}

/// A pod as it was right before the swap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMark {
    pub uid: String,
    pub revision: Option<String>,
}

/// The journal of a swap, written before the delete: the object to re-create and what must
/// be found unchanged after it (schema in docs/pvc-resize.md). Fields added since its first
/// version default to empty, so a journal an older version wrote is still finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwapJournal {
    /// The uid of the StatefulSet being replaced.
    pub uid: String,
    pub sizes: BTreeMap<String, String>,
    /// The claim templates' sizes before the swap (what `--undo` re-creates).
    #[serde(default)]
    pub from: BTreeMap<String, String>,
    /// The StatefulSet to create ([`rewrite`] of the object as read).
    pub statefulset: serde_json::Value,
    /// The object's managed fields as read: restored after the create, so that `rollout`'s
    /// GitOps guard still sees who applies which field.
    #[serde(default)]
    pub managed_fields: Vec<ManagedFieldsEntry>,
    pub pods: BTreeMap<String, PodMark>,
    /// Claim name → uid.
    pub claims: BTreeMap<String, String>,
    /// The claims that had an ownerReference to the old object (`whenDeleted: Delete`), with
    /// it: the orphan delete drops it, and the controller gives it back only to the claims of
    /// live ordinals.
    #[serde(default)]
    pub owned_claims: BTreeMap<String, OwnerReference>,
    pub when_deleted: String,
}

impl SwapJournal {
    /// The journal of swapping `sts` (as read right before the delete) for its [`rewrite`].
    pub fn of(
        sts: &StatefulSet,
        sizes: &BTreeMap<String, String>,
        pods: &[Pod],
        pvcs: &[PersistentVolumeClaim],
    ) -> Self {
        let pods = pods_of(sts, pods)
            .into_iter()
            .map(|(_, p)| {
                (
                    p.name_any(),
                    PodMark {
                        uid: p.uid().unwrap_or_default(),
                        revision: pod_revision(p).map(str::to_owned),
                    },
                )
            })
            .collect();
        let uid = sts.uid().unwrap_or_default();
        let of_sts = claims_of(sts, pvcs);
        let claims = of_sts.iter().map(|c| (c.pvc.name_any(), c.pvc.uid().unwrap_or_default())).collect();
        let owned_claims = of_sts
            .iter()
            .filter_map(|c| {
                let reference = c.pvc.owner_references().iter().find(|r| r.uid == uid)?;
                Some((c.pvc.name_any(), reference.clone()))
            })
            .collect();
        SwapJournal {
            uid,
            sizes: sizes.clone(),
            from: template_sizes(sts).into_iter().filter(|(t, _)| sizes.contains_key(t)).collect(),
            statefulset: serde_json::to_value(rewrite(sts, sizes)).unwrap_or_default(),
            managed_fields: sts.metadata.managed_fields.clone().unwrap_or_default(),
            pods,
            claims,
            owned_claims,
            when_deleted: pvc_retention(sts).0,
        }
    }

    /// The object to create: the journal's rewrite, or with `undo` the same with the claim
    /// templates' sizes as they were before the swap. `None` when the journal holds no
    /// readable object, or (`undo`) no sizes from before (a journal of an older version).
    pub fn object(&self, undo: bool) -> Option<StatefulSet> {
        let mut sts: StatefulSet = serde_json::from_value(self.statefulset.clone()).ok()?;
        if undo {
            if self.from.is_empty() {
                return None;
            }
            set_sizes(&mut sts, &self.from);
        }
        Some(sts)
    }
}

/// Whether `sts` is the StatefulSet a run of this command created to finish (or undo) the swap
/// the journal records: it carries [`SWAP_OF_ANNOTATION`] with the uid of the object replaced.
/// Any other object of that name was created by someone else, and is never adopted as the
/// swap's result.
pub fn created_by_swap(journal: &SwapJournal, sts: &StatefulSet) -> bool {
    sts.uid().as_deref() != Some(journal.uid.as_str())
        && sts.annotations().get(SWAP_OF_ANNOTATION) == Some(&journal.uid)
}

/// The patch that gives the re-created `now` the managed fields of the object it replaced, or
/// `None` when they are there already (a resumed run) or the journal has none. Guarded by its
/// uid and resourceVersion: nothing else is written meanwhile.
pub fn restore_managers(journal: &SwapJournal, now: &StatefulSet) -> Option<Tested> {
    if journal.managed_fields.is_empty() {
        return None;
    }
    let key = |e: &ManagedFieldsEntry| (e.manager.clone(), e.operation.clone(), e.subresource.clone());
    let present: Vec<_> = now.metadata.managed_fields.iter().flatten().map(key).collect();
    if journal.managed_fields.iter().all(|e| present.contains(&key(e))) {
        return None;
    }
    Some(super::patches::replace_managed_fields(now, &journal.managed_fields))
}

/// The claims whose ownerReference to the old object the swap must give back to `now`
/// (`whenDeleted: Delete`): those the journal records as owned, still the same claim, owned
/// by `now` not yet, of ordinals outside `now`'s live range (the controller re-owns the live
/// ones itself). Each with the patch that adds the reference, guarded by the claim's uid and
/// resourceVersion.
pub fn claims_to_own(
    journal: &SwapJournal,
    now: &StatefulSet,
    pvcs: &[PersistentVolumeClaim],
) -> Vec<(String, Tested)> {
    let range = ordinal_range(now);
    let uid = now.uid().unwrap_or_default();
    claims_of(now, pvcs)
        .into_iter()
        .filter(|c| !range.contains(c.ordinal) && !owned_by(c.pvc, now))
        .filter_map(|c| {
            let name = c.pvc.name_any();
            let old = journal.owned_claims.get(&name)?;
            (journal.claims.get(&name) == c.pvc.uid().as_ref()).then_some(())?;
            let reference = OwnerReference { uid: uid.clone(), ..old.clone() };
            Some((name, super::patches::add_owner(c.pvc, &reference)))
        })
        .collect()
}

/// How the re-created StatefulSet `now` stands against the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adoption {
    /// Every pod and claim is there, owned by `now`; the notes say what changed in the window
    /// without a controller (a pod that died then, created again by `now`).
    Done(Vec<String>),
    /// The controller has not adopted everything yet (it takes a sync or two).
    Pending(Vec<String>),
    /// Data may be at stake: a claim deleted or replaced, a pod that changed revision. The
    /// swap is over all the same (`now` is there and controls what is left).
    Broken(Vec<String>),
}

/// Checks adoption: every journaled pod is controlled by `now`, with its uid and
/// `controller-revision-hash` kept, or, when it died while nothing controlled it, created
/// again by `now` (a note, not a failure: nothing the swap could have kept); every journaled
/// claim keeps its uid and, with `whenDeleted: Delete`, the claims of live ordinals are owned
/// by `now` again.
pub fn adoption(
    journal: &SwapJournal,
    now: &StatefulSet,
    pods: &[Pod],
    pvcs: &[PersistentVolumeClaim],
) -> Adoption {
    let mut pending = Vec::new();
    let mut broken = Vec::new();
    let mut notes = Vec::new();
    let range = ordinal_range(now);
    let sts_name = now.name_any();
    for (name, mark) in &journal.pods {
        let live = super::names::pod_ordinal(name, &sts_name).is_some_and(|o| range.contains(o));
        match pods.iter().find(|p| p.name_any() == *name) {
            None if live => {
                pending.push(format!("pod {name} is gone; waiting for {sts_name} to create it again"))
            }
            None => notes.push(format!("pod {name} is gone")),
            Some(p) if p.uid().as_deref() != Some(&mark.uid) && owned_by(p, now) => notes.push(format!(
                "pod {name} was replaced while nothing controlled it; {sts_name} created it again"
            )),
            Some(p) if p.uid().as_deref() != Some(&mark.uid) => {
                pending.push(format!("pod {name} was replaced; waiting for {sts_name} to adopt it"))
            }
            Some(p) if pod_revision(p).map(str::to_owned) != mark.revision => {
                broken.push(format!("pod {name} changed revision"))
            }
            Some(p) if !owned_by(p, now) => pending.push(format!("pod {name} not adopted yet")),
            Some(_) => {}
        }
    }
    for claim in claims_of(now, pvcs) {
        let name = claim.pvc.name_any();
        match journal.claims.get(&name) {
            Some(uid) if claim.pvc.uid().as_deref() != Some(uid) => {
                broken.push(format!("PVC {name} was re-created"))
            }
            _ => {}
        }
        if journal.when_deleted == "Delete" && range.contains(claim.ordinal) && !owned_by(claim.pvc, now) {
            pending.push(format!("PVC {name} has no owner reference to the new StatefulSet yet"));
        }
    }
    for name in journal.claims.keys() {
        if !pvcs.iter().any(|p| p.name_any() == *name) {
            broken.push(format!("PVC {name} is gone"));
        }
    }
    if !broken.is_empty() {
        Adoption::Broken(broken)
    } else if !pending.is_empty() {
        Adoption::Pending(pending)
    } else {
        Adoption::Done(notes)
    }
}

/// A swap that is half done, as every command reports it: since when, what stands, the pods
/// that run without a controller, and the two ways out, each as a command to paste.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MidSwap {
    pub stateful_set: String,
    pub namespace: String,
    pub config_map: String,
    /// When the journal was written (the swap began).
    pub since: Option<Timestamp>,
    /// What the StatefulSet object is now.
    pub state: String,
    pub uncontrolled_pods: Vec<String>,
    /// Resumes the swap: re-creates the StatefulSet with the new sizes.
    pub finish: String,
    /// Gives it up: re-creates it with the sizes from before (the claims stay grown).
    pub undo: String,
}

impl MidSwap {
    /// The half-done swap the journal (written at `since`) records, with the StatefulSet of
    /// that name as it is now (if any) and the namespace's pods.
    pub fn of(
        journal: &SwapJournal,
        namespace: &str,
        since: Option<Timestamp>,
        now: Option<&StatefulSet>,
        pods: &[Pod],
        flags: &super::advice::RunFlags,
    ) -> MidSwap {
        let recorded = journal.object(false);
        let name = recorded.as_ref().map(ResourceExt::name_any).unwrap_or_default();
        let state = match now {
            None => "its StatefulSet object is deleted".to_owned(),
            Some(s) if s.uid().as_deref() == Some(journal.uid.as_str()) => {
                "its old StatefulSet object is being deleted".to_owned()
            }
            Some(s) if created_by_swap(journal, s) => {
                "it is re-created; its pods and PVCs are not all verified as adopted yet".to_owned()
            }
            Some(_) => "someone else re-created it meanwhile (not this command)".to_owned(),
        };
        let uncontrolled_pods = match &recorded {
            Some(r) => pods
                .iter()
                .filter(|p| p.namespace().as_deref() == Some(namespace))
                .filter(|p| controller_of(*p).is_none() && selected_by(p.labels(), r))
                .map(ResourceExt::name_any)
                .collect(),
            None => Vec::new(),
        };
        let sizes = journal.sizes.iter().map(|(t, s)| format!(" --size {t}={s}")).collect::<String>();
        MidSwap {
            finish: flags.plugin(namespace, &format!("pvc resize {name}{sizes} --yes")),
            undo: flags.plugin(namespace, &format!("pvc resize {name} --undo --yes")),
            stateful_set: name,
            namespace: namespace.to_owned(),
            config_map: journal_name(&recorded.as_ref().map(ResourceExt::name_any).unwrap_or_default()),
            since,
            state,
            uncontrolled_pods,
        }
    }

    /// One line: `web is mid-resize since …: …; finish with `…`, or undo with `…``.
    pub fn describe(&self) -> String {
        let since = self.since.map(|t| format!(" since {t}")).unwrap_or_default();
        let pods = match self.uncontrolled_pods.as_slice() {
            [] => String::new(),
            pods => format!("; pods running without a controller: {}", pods.join(", ")),
        };
        format!(
            "{} is mid-resize{since} (journal ConfigMap {}): {}{pods}; finish with `{}`, or undo with `{}`",
            self.stateful_set, self.config_map, self.state, self.finish, self.undo
        )
    }
}

/// Every half-done swap among what was read (its journals), with the StatefulSet of that name
/// as read, if any.
pub fn mid_swaps(reads: &super::reads::Reads, flags: &super::advice::RunFlags) -> Vec<MidSwap> {
    reads
        .swap_journals
        .iter()
        .filter_map(|cm| {
            let journal = journal_of(cm)?;
            let namespace = cm.namespace().unwrap_or_default();
            let name = journal.object(false)?.name_any();
            let now = reads
                .statefulsets
                .iter()
                .find(|s| s.name_any() == name && s.namespace().as_deref() == Some(namespace.as_str()));
            let since = cm.metadata.creation_timestamp.as_ref().map(|t| t.0);
            Some(MidSwap::of(&journal, &namespace, since, now, &reads.pods, flags))
        })
        .collect()
}

/// The journal a ConfigMap holds, when it is one ([`JOURNAL_KEY`] of a `kubectl-stateful-resize-*`
/// ConfigMap) and readable.
pub fn journal_of(cm: &k8s_openapi::api::core::v1::ConfigMap) -> Option<SwapJournal> {
    if !cm.name_any().starts_with(JOURNAL_PREFIX) {
        return None;
    }
    cm.data.as_ref()?.get(JOURNAL_KEY).and_then(|text| serde_json::from_str(text).ok())
}

/// How the external-resizer says an offline-only driver refused a volume a pod uses: a
/// non-final `ControllerResizeError` whose message (no field says it) names the volume in-use.
const IN_USE: &str = "in-use";

/// What a claim shows while the run waits for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimState {
    /// Capacity is the target or more.
    Grown,
    /// The controller expanded the volume; the filesystem grows when a pod mounts it
    /// (`FileSystemResizePending`).
    FilesystemPending,
    /// The driver failed: the condition and its message.
    Failed(String),
    /// An offline-only driver refused because a pod uses the volume.
    InUse(String),
    Expanding,
}

/// Where a claim's expansion to `target` stands.
pub fn claim_state(pvc: &PersistentVolumeClaim, target: &str) -> ClaimState {
    if bytes(pvc_capacity(pvc).as_deref()) >= bytes(Some(target)) {
        return ClaimState::Grown;
    }
    let status = resize_status(pvc);
    match resize_condition(pvc) {
        Some((kind, message)) if kind == "ControllerResizeError" && message.contains(IN_USE) => {
            ClaimState::InUse(format!("{kind}: {message}"))
        }
        Some((kind, message))
            if kind == "NodeResizeError"
                || (kind == "ControllerResizeError"
                    && matches!(
                        status,
                        Some("ControllerResizeInfeasible") | Some("NodeResizeInfeasible")
                    )) =>
        {
            ClaimState::Failed(format!("{kind}: {message}"))
        }
        Some((kind, _)) if kind == "FileSystemResizePending" => ClaimState::FilesystemPending,
        _ if matches!(status, Some("ControllerResizeInfeasible") | Some("NodeResizeInfeasible")) => {
            ClaimState::Failed(status.unwrap_or_default().to_owned())
        }
        _ => ClaimState::Expanding,
    }
}

#[cfg(test)]
pub(crate) mod tests;
