//! Who owns a StatefulSet and the fields this tool writes, read from the object alone: the
//! GitOps tool or Helm release that applies it (its tracking labels and annotations) and, per
//! field, the field managers that own it (`metadata.managedFields`).
//!
//! A GitOps tool re-applies what it rendered and so sets back a field it owns: Argo CD at its
//! next sync (at once with self-heal), Flux's controllers at every interval (both apply with
//! force), Helm at the next upgrade (Helm 3 by a three-way merge; Helm 4 fails on the
//! conflict unless forced). A tool owns only the fields its manifest sets (server-side apply,
//! KEP-555): a `partition` that Git does not set is nobody's but ours. Sources per tool are in
//! docs/gitops.md.
//!
//! FieldsV1 (structured-merge-diff, `fieldpath/serialize-pe.go`): `f:<name>` a field,
//! `k:<json>` the item of an associative list with that key, `.` the node itself.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde::Serialize;
use serde_json::Value;

/// This tool's field manager (every write it makes names it).
pub const FIELD_MANAGER: &str = "kubectl-stateful";

/// Argo CD's resource tracking annotation: `<app>:<group>/<kind>:<namespace>/<name>`, the app
/// being `<app-namespace>_<app>` outside Argo CD's own namespace (`util/argo/resource_tracking.go`).
pub const ARGOCD_TRACKING: &str = "argocd.argoproj.io/tracking-id";
/// Flux kustomize-controller's owner labels (`fluxcd/pkg` `ssa.SetOwnerLabels`).
pub const FLUX_KUSTOMIZATION: &str = "kustomize.toolkit.fluxcd.io/name";
pub const FLUX_KUSTOMIZATION_NAMESPACE: &str = "kustomize.toolkit.fluxcd.io/namespace";
/// Per-object opt-outs that make kustomize-controller leave the object alone.
pub const FLUX_RECONCILE: &str = "kustomize.toolkit.fluxcd.io/reconcile";
pub const FLUX_SSA: &str = "kustomize.toolkit.fluxcd.io/ssa";
/// Flux helm-controller's owner labels (its post-renderer).
pub const FLUX_HELM_RELEASE: &str = "helm.toolkit.fluxcd.io/name";
pub const FLUX_HELM_RELEASE_NAMESPACE: &str = "helm.toolkit.fluxcd.io/namespace";
/// What Helm sets on everything it installs (`pkg/action/validate.go`).
pub const HELM_RELEASE: &str = "meta.helm.sh/release-name";
pub const HELM_RELEASE_NAMESPACE: &str = "meta.helm.sh/release-namespace";

/// The tool behind a field manager or an applier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Tool {
    ArgoCd,
    /// Flux's kustomize-controller (a Kustomization).
    FluxKustomization,
    /// Flux's helm-controller (a HelmRelease).
    FluxHelmRelease,
    /// The Helm CLI (a release).
    Helm,
    Kubectl,
    KubectlStateful,
    Other,
}

impl Tool {
    /// The tool a field manager name belongs to. Argo CD writes as `argocd-controller` in both
    /// sync modes since 2.5 (`common.ArgoCDSSAManager`); kubectl's commands each have their
    /// own default manager (`kubectl-client-side-apply`, `kubectl` for server-side apply,
    /// `kubectl-edit`, …).
    pub fn of_manager(manager: &str) -> Tool {
        match manager {
            "argocd-controller" | "argocd-application-controller" => Tool::ArgoCd,
            "kustomize-controller" => Tool::FluxKustomization,
            "helm-controller" => Tool::FluxHelmRelease,
            "helm" => Tool::Helm,
            FIELD_MANAGER => Tool::KubectlStateful,
            m if m == "kubectl" || m.starts_with("kubectl-") => Tool::Kubectl,
            _ => Tool::Other,
        }
    }

    /// Whether the tool re-applies what it rendered, setting back a field it owns.
    pub fn reverts(self) -> bool {
        matches!(self, Tool::ArgoCd | Tool::FluxKustomization | Tool::FluxHelmRelease | Tool::Helm)
    }

    pub fn name(self) -> &'static str {
        match self {
            Tool::ArgoCd => "Argo CD",
            Tool::FluxKustomization => "Flux",
            Tool::FluxHelmRelease => "Flux",
            Tool::Helm => "Helm",
            Tool::Kubectl => "kubectl",
            Tool::KubectlStateful => "kubectl stateful",
            Tool::Other => "another tool",
        }
    }

    /// When the tool sets back a field it owns.
    pub fn reverts_when(self) -> &'static str {
        match self {
            Tool::ArgoCd => "at its next sync (at once with self-heal)",
            Tool::FluxKustomization | Tool::FluxHelmRelease => "at its next reconciliation",
            Tool::Helm => "at the next helm upgrade",
            _ => "when it next applies",
        }
    }

    /// What the tool calls the thing that applies the object.
    fn unit(self) -> &'static str {
        match self {
            Tool::ArgoCd => "application",
            Tool::FluxKustomization => "Kustomization",
            Tool::FluxHelmRelease => "HelmRelease",
            Tool::Helm => "release",
            _ => "",
        }
    }
}

/// Who applies the StatefulSet, from its tracking labels and annotations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Applier {
    pub tool: Tool,
    /// The Argo CD application, Flux Kustomization or HelmRelease, or Helm release.
    pub name: String,
    /// Its namespace, where the object says it.
    pub namespace: Option<String>,
    /// The label or annotation that says so.
    pub evidence: String,
    /// The object opts out of the tool's reconciliation (Flux `reconcile: disabled` or
    /// `ssa: Ignore`): it will not set anything back.
    pub paused: bool,
}

impl Applier {
    /// `Argo CD application shop`, `Flux Kustomization flux-system/apps`, `Helm release db`.
    pub fn describe(&self) -> String {
        let qualified = match &self.namespace {
            Some(ns) if self.tool != Tool::ArgoCd => format!("{ns}/{}", self.name),
            _ => self.name.clone(),
        };
        format!("{} {} {qualified}", self.tool.name(), self.tool.unit())
    }
}

/// A field manager that owns a field, as `metadata.managedFields` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manager {
    pub manager: String,
    /// `Apply` (server-side apply) or `Update` (any other write).
    pub operation: String,
    pub tool: Tool,
    /// When this manager last wrote (its managedFields entry's `time`).
    pub time: Option<Timestamp>,
}

/// The owners of one container's image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageOwners {
    pub container: String,
    pub managers: Vec<Manager>,
}

/// The StatefulSet's applier and the owners of each field this tool writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Owners {
    pub applier: Option<Applier>,
    /// Managers that own any field of the pod template.
    pub template: Vec<Manager>,
    pub images: Vec<ImageOwners>,
    /// `spec.updateStrategy.rollingUpdate.partition`.
    pub partition: Vec<Manager>,
    pub replicas: Vec<Manager>,
}

/// A field this tool is about to write, and the tool that would set it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contested {
    /// `the partition`, `the image of container app`, `the pod template`.
    pub field: String,
    /// The owning manager whose tool reverts.
    pub manager: Manager,
    /// Who applies the StatefulSet, when its labels and annotations say.
    pub applier: Option<Applier>,
}

impl Contested {
    /// `Argo CD application shop (field manager argocd-controller)`.
    pub fn owner(&self) -> String {
        match &self.applier {
            Some(applier) if applier.tool == self.manager.tool => {
                format!("{} (field manager {})", applier.describe(), self.manager.manager)
            }
            _ => format!("{} (field manager {})", self.manager.tool.name(), self.manager.manager),
        }
    }
}

impl Owners {
    pub fn of(sts: &StatefulSet) -> Owners {
        let entries: Vec<&ManagedFieldsEntry> = sts
            .metadata
            .managed_fields
            .iter()
            .flatten()
            // The status subresource's writers own no spec field.
            .filter(|e| e.subresource.as_deref().unwrap_or_default().is_empty())
            .collect();
        let owning = |path: &[&str], anywhere_below: bool| -> Vec<Manager> {
            let mut managers: Vec<Manager> = entries
                .iter()
                .filter(|e| {
                    let fields = e.fields_v1.as_ref().map(|f| &f.0);
                    fields.and_then(|f| descend(f, path)).is_some_and(|node| anywhere_below || owns(node))
                })
                .map(|e| manager(e))
                .collect();
            managers.dedup_by(|a, b| a.manager == b.manager && a.operation == b.operation);
            managers
        };
        let containers = sts.spec.as_ref().map(|s| s.template.spec.as_ref()).into_iter().flatten();
        let images = containers
            .flat_map(|spec| &spec.containers)
            .map(|container| {
                let key = serde_json::json!({"name": container.name}).to_string();
                let key = format!("k:{key}");
                ImageOwners {
                    container: container.name.clone(),
                    managers: owning(
                        &["f:spec", "f:template", "f:spec", "f:containers", &key, "f:image"],
                        false,
                    ),
                }
            })
            .collect();
        Owners {
            applier: applier(sts),
            template: owning(&["f:spec", "f:template"], true),
            images,
            partition: owning(&["f:spec", "f:updateStrategy", "f:rollingUpdate", "f:partition"], false),
            replicas: owning(&["f:spec", "f:replicas"], false),
        }
    }

    /// Whether the applier has paused its reconciliation of this object.
    fn paused(&self) -> bool {
        self.applier.as_ref().is_some_and(|a| a.paused)
    }

    /// The first owner of `managers` whose tool sets the field back, unless the applier is
    /// paused for this object.
    fn reverter(&self, field: String, managers: &[Manager]) -> Option<Contested> {
        if self.paused() {
            return None;
        }
        let manager = managers.iter().find(|m| m.tool.reverts())?.clone();
        Some(Contested { field, manager, applier: self.applier.clone() })
    }

    /// Who would set back the partition.
    pub fn partition_reverter(&self) -> Option<Contested> {
        self.reverter("the partition".to_owned(), &self.partition)
    }

    /// Who would set back the images of `containers`.
    pub fn image_reverter<'c>(&self, containers: impl IntoIterator<Item = &'c str>) -> Option<Contested> {
        containers.into_iter().find_map(|name| {
            let owners = self.images.iter().find(|i| i.container == name)?;
            self.reverter(format!("the image of container {name}"), &owners.managers)
        })
    }

    /// Who would set back `spec.replicas` (`scale`).
    pub fn replicas_reverter(&self) -> Option<Contested> {
        self.reverter("the replicas".to_owned(), &self.replicas)
    }

    /// Who would set back a change anywhere in the pod template.
    pub fn template_reverter(&self) -> Option<Contested> {
        self.reverter("the pod template".to_owned(), &self.template)
    }

    /// The manager that most recently wrote any of the fields this tool writes, other than this
    /// tool: who changed them under a running rollout.
    pub fn last_writer(&self) -> Option<&Manager> {
        self.template
            .iter()
            .chain(&self.partition)
            .chain(&self.replicas)
            .filter(|m| m.tool != Tool::KubectlStateful)
            .max_by_key(|m| m.time)
    }
}

/// Who last changed the fields a rollout writes on `sts`, other than this tool.
pub fn changed_by(sts: &StatefulSet) -> Option<Manager> {
    Owners::of(sts).last_writer().cloned()
}

/// Who last wrote any object's spec or metadata, other than this tool (the status
/// subresource's writers aside): after a guarded write failed, who changed it.
pub fn last_writer(meta: &ObjectMeta) -> Option<Manager> {
    meta.managed_fields
        .iter()
        .flatten()
        .filter(|e| e.subresource.as_deref().unwrap_or_default().is_empty())
        .map(manager)
        .filter(|m| m.tool != Tool::KubectlStateful)
        .max_by_key(|m| m.time)
}

impl Manager {
    /// `field manager argocd-controller (Argo CD)`.
    pub fn describe(&self) -> String {
        match self.tool {
            Tool::Other => format!("field manager {}", self.manager),
            tool => format!("field manager {} ({})", self.manager, tool.name()),
        }
    }
}

fn manager(entry: &ManagedFieldsEntry) -> Manager {
    let name = entry.manager.clone().unwrap_or_default();
    Manager {
        tool: Tool::of_manager(&name),
        manager: name,
        operation: entry.operation.clone().unwrap_or_default(),
        time: entry.time.as_ref().map(|t| t.0),
    }
}

/// The node at `path` in a FieldsV1 set; `k:` keys compare as JSON values, so that the key's
/// spelling (spaces, order) does not matter.
fn descend<'v>(fields: &'v Value, path: &[&str]) -> Option<&'v Value> {
    let mut node = fields;
    for step in path {
        let object = node.as_object()?;
        node = match step.strip_prefix("k:") {
            Some(key) => {
                let wanted: Value = serde_json::from_str(key).ok()?;
                object.iter().find_map(|(k, v)| {
                    let key: Value = serde_json::from_str(k.strip_prefix("k:")?).ok()?;
                    (key == wanted).then_some(v)
                })?
            }
            None => object.get(*step)?,
        };
    }
    Some(node)
}

/// Whether a FieldsV1 node marks its field as owned: a leaf (`{}`), or one holding `.`.
fn owns(node: &Value) -> bool {
    node.as_object().is_some_and(|o| o.is_empty() || o.contains_key("."))
}

/// Who applies `sts`, from the labels and annotations each tool sets. Argo CD's annotation wins
/// over a chart's Helm labels (Argo CD renders charts with `helm template`); a Flux
/// HelmRelease wins over the Helm labels it also sets.
fn applier(sts: &StatefulSet) -> Option<Applier> {
    let labels = sts.labels();
    let annotations = sts.annotations();
    let get = |map: &std::collections::BTreeMap<String, String>, key: &str| map.get(key).cloned();
    if let Some(tracking) = annotations.get(ARGOCD_TRACKING) {
        let app = tracking.split(':').next().unwrap_or_default();
        let (namespace, name) = match app.split_once('_') {
            Some((ns, name)) => (Some(ns.to_owned()), name.to_owned()),
            None => (None, app.to_owned()),
        };
        return Some(Applier {
            tool: Tool::ArgoCd,
            name,
            namespace,
            evidence: format!("annotation {ARGOCD_TRACKING}"),
            paused: false,
        });
    }
    let flux_paused = [FLUX_RECONCILE, FLUX_SSA].iter().any(|key| {
        let value = annotations.get(*key).or_else(|| labels.get(*key)).map(|v| v.to_ascii_lowercase());
        matches!(value.as_deref(), Some("disabled" | "ignore"))
    });
    if let Some(name) = get(labels, FLUX_KUSTOMIZATION) {
        return Some(Applier {
            tool: Tool::FluxKustomization,
            name,
            namespace: get(labels, FLUX_KUSTOMIZATION_NAMESPACE),
            evidence: format!("label {FLUX_KUSTOMIZATION}"),
            paused: flux_paused,
        });
    }
    if let Some(name) = get(labels, FLUX_HELM_RELEASE) {
        return Some(Applier {
            tool: Tool::FluxHelmRelease,
            name,
            namespace: get(labels, FLUX_HELM_RELEASE_NAMESPACE),
            evidence: format!("label {FLUX_HELM_RELEASE}"),
            paused: false,
        });
    }
    if let Some(name) = get(annotations, HELM_RELEASE) {
        return Some(Applier {
            tool: Tool::Helm,
            name,
            namespace: get(annotations, HELM_RELEASE_NAMESPACE),
            evidence: format!("annotation {HELM_RELEASE}"),
            paused: false,
        });
    }
    None
}

/// What to change so that the owner of the partition leaves it to this tool, as a person
/// pastes it (sources in docs/gitops.md). A tool owns only what its manifest sets, so the way
/// out is to stop setting the partition there; a rule that keeps the live value at each sync
/// leaves the tool an owner (it applies the live value), which only `--override-owner` passes.
pub fn partition_snippet(contested: &Contested, sts: &StatefulSet) -> String {
    let name = sts.name_any();
    let namespace = sts.namespace().unwrap_or_default();
    let partition = super::objects::partition(sts);
    let applier = contested.applier.as_ref().filter(|a| a.tool == contested.manager.tool);
    let unit = |fallback: &str| applier.map_or_else(|| fallback.to_owned(), |a| a.name.clone());
    let releases = if partition > 0 {
        format!(" (it is {partition} now: removing it sets it to 0, which releases the pods it holds back)")
    } else {
        String::new()
    };
    match contested.manager.tool {
        Tool::ArgoCd => format!(
            "Remove updateStrategy.rollingUpdate.partition from StatefulSet {name} in Git{releases}: once Argo CD \
             application {app} has synced that, it no longer owns the partition. If the partition must stay in \
             Git, make Argo CD keep the live value at each sync instead (Argo CD 2.3 or later; in the \
             ApplicationSet's template if one generates the application) and pass --override-owner:\n\
             spec:\n  ignoreDifferences:\n    - group: apps\n      kind: StatefulSet\n      name: {name}\n      \
             namespace: {namespace}\n      jsonPointers:\n        - /spec/updateStrategy/rollingUpdate/partition\n  \
             syncPolicy:\n    syncOptions:\n      - RespectIgnoreDifferences=true   # add to the existing list",
            app = unit("<application>")
        ),
        Tool::FluxKustomization => format!(
            "Remove updateStrategy.rollingUpdate.partition from StatefulSet {name} in Git{releases}: once Flux \
             Kustomization {ks} has applied that, it no longer owns the partition. If the partition must stay in \
             Git, make Flux ignore it instead (Flux 2.9 or later) and pass --override-owner:\n\
             spec:\n  ignore:\n    - paths:\n        - /spec/updateStrategy/rollingUpdate/partition\n      \
             target:\n        group: apps\n        kind: StatefulSet\n        name: {name}\n        \
             namespace: {namespace}",
            ks = unit("<kustomization>")
        ),
        Tool::FluxHelmRelease | Tool::Helm => {
            let release = contested
                .applier
                .as_ref()
                .filter(|a| matches!(a.tool, Tool::Helm | Tool::FluxHelmRelease))
                .map_or_else(|| "<release>".to_owned(), |a| a.name.clone());
            format!(
                "The chart of release {release} renders updateStrategy.rollingUpdate.partition, so the next upgrade \
                 sets it back (Helm 3) or fails on a conflict (Helm 4). Use a chart version or values that do not \
                 render it{releases}; or, while it does, step the partition through the chart's values (`helm upgrade \
                 {release} <chart> --reuse-values --set <its partition value>=N`), or pass --override-owner and keep \
                 the chart's value in step before the next upgrade."
            )
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests;
