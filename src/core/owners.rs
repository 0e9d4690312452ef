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
/// Argo CD's per-object sync options (`argocd.argoproj.io/sync-options: Replace=true,…`), read
/// by its sync (`gitops-engine` `pkg/sync/common`): comma-separated, each compared as given.
pub const ARGOCD_SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";
/// The sync option that makes Argo CD replace the object (`kubectl replace`, or delete and
/// create with `Force=true`) instead of applying it: every field Git does not set is reset.
pub const ARGOCD_REPLACE: &str = "Replace=true";
/// Where Argo CD keeps its Applications unless the tracking annotation names another namespace
/// (`<app-namespace>_<app>`): its own, `argocd` in its manifests.
pub const ARGOCD_NAMESPACE: &str = "argocd";
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

    /// When the tool sets back a field it owns. Helm is no controller: nothing happens until
    /// someone upgrades the release, and then Helm 3's three-way merge sets the field back while
    /// Helm 4's server-side apply fails on the conflict (docs/gitops.md).
    pub fn reverts_when(self) -> &'static str {
        match self {
            Tool::ArgoCd => "at its next sync (at once with self-heal)",
            Tool::FluxKustomization | Tool::FluxHelmRelease => "at its next reconciliation",
            Tool::Helm => "at the next helm upgrade (Helm 4's upgrade fails on the conflict instead)",
            _ => "when it next applies",
        }
    }

    /// Where a change of a field the tool owns belongs, as a person makes it: the tool applies
    /// it from there.
    pub fn source(self) -> &'static str {
        match self {
            Tool::Helm => "in the release's chart or values",
            _ => "in Git",
        }
    }

    /// How the change reaches the cluster: `Argo CD syncs it`, `helm upgrade applies it`.
    pub fn applies(self) -> &'static str {
        match self {
            Tool::ArgoCd => "Argo CD has synced it",
            Tool::FluxKustomization | Tool::FluxHelmRelease => "Flux has applied it",
            Tool::Helm => "helm upgrade has applied it",
            _ => "it is applied",
        }
    }

    /// How a person takes back a change the tool applied (a held rollout's abort).
    pub fn undo(self) -> &'static str {
        match self {
            Tool::Helm => {
                "roll the release back to its previous values (helm rollback, or helm upgrade with them)"
            }
            _ => "revert the change in Git",
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
    /// Argo CD syncs the object with `Replace=true`: each sync replaces the whole object with
    /// Git's, so the tool owns every field whatever managedFields say (the partition, the update
    /// strategy, this tool's journals). Where that is read from; `None` when nothing says so.
    pub replace_sync: Option<String>,
}

/// What the StatefulSet's Argo CD Application says of how it syncs, as the shell read it: its
/// `spec.syncPolicy.syncOptions` (`Replace=true` set there does not show on the object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppSync {
    /// It syncs with `Replace=true`, read from here.
    Replace(String),
    /// It syncs by applying.
    Applies,
    /// It could not be read (why): whether it replaces is unknown.
    Unknown(String),
}

impl AppSync {
    /// The sync of the Application `app` (its JSON), read from `evidence`.
    pub fn of(app: &Value, evidence: String) -> AppSync {
        let options = app.pointer("/spec/syncPolicy/syncOptions").and_then(Value::as_array);
        match options.into_iter().flatten().filter_map(Value::as_str).any(|o| o.trim() == ARGOCD_REPLACE) {
            true => AppSync::Replace(evidence),
            false => AppSync::Applies,
        }
    }
}

impl Applier {
    /// The namespace and name of the Argo CD Application, for an Argo CD applier whose object
    /// does not say already that it syncs with `Replace=true`: where to read how it syncs.
    pub fn application(&self) -> Option<(String, String)> {
        (self.tool == Tool::ArgoCd && self.replace_sync.is_none()).then(|| {
            (self.namespace.clone().unwrap_or_else(|| ARGOCD_NAMESPACE.to_owned()), self.name.clone())
        })
    }

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
    /// Managers that own any field of `spec.updateStrategy` (its `type`, `rollingUpdate`):
    /// `rollout --evict` switches the whole strategy to OnDelete.
    pub strategy: Vec<Manager>,
    pub replicas: Vec<Manager>,
}

/// A field this tool writes, as the guard asks who owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    /// `spec.updateStrategy.rollingUpdate.partition` (rollout's steps, `--hold`).
    Partition,
    /// The whole `spec.updateStrategy` (`rollout --evict` switches it to OnDelete).
    UpdateStrategy,
    /// Anything in the pod template (`--patch`, an abort's restored template).
    Template,
    /// The images of these containers (`--image`).
    Images(&'a [&'a str]),
    /// `spec.replicas` (`scale`).
    Replicas,
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
    /// The owner replaces the whole object at each sync (Argo CD's `Replace=true`, read from
    /// here): it owns the field though managedFields may not say so.
    pub replace_sync: Option<String>,
}

impl Contested {
    /// `Argo CD application shop (field manager argocd-controller)`, or for an object synced
    /// with `Replace=true`, `Argo CD application shop (it syncs with Replace=true: annotation …)`.
    pub fn owner(&self) -> String {
        if let (Some(evidence), Some(applier)) = (&self.replace_sync, &self.applier) {
            return format!("{} (it syncs with {ARGOCD_REPLACE}: {evidence})", applier.describe());
        }
        match &self.applier {
            Some(applier) if applier.tool == self.manager.tool => {
                format!("{} (field manager {})", applier.describe(), self.manager.manager)
            }
            _ => format!("{} (field manager {})", self.manager.tool.name(), self.manager.manager),
        }
    }

    /// The tool that sets the field back.
    pub fn tool(&self) -> Tool {
        self.manager.tool
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
            strategy: owning(&["f:spec", "f:updateStrategy"], true),
            replicas: owning(&["f:spec", "f:replicas"], false),
        }
    }

    /// These owners with what the Argo CD Application says of its syncs (`sync`, when read):
    /// one that replaces the object owns every field.
    pub fn with_application(mut self, sync: Option<&AppSync>) -> Owners {
        if let (Some(AppSync::Replace(evidence)), Some(applier)) = (sync, self.applier.as_mut())
            && applier.tool == Tool::ArgoCd
        {
            applier.replace_sync.get_or_insert_with(|| evidence.clone());
        }
        self
    }

    /// Who would set back `field`, were this tool to write it: the first owner whose tool sets
    /// it back (from managedFields), or an applier that replaces the whole object at each sync;
    /// nobody while the applier is paused for this object. The one guard every command that
    /// writes a field of the StatefulSet asks before its first write.
    pub fn reverter(&self, field: Field) -> Option<Contested> {
        if self.paused() {
            return None;
        }
        let (name, managers): (String, &[Manager]) = match field {
            Field::Partition => ("the partition".to_owned(), &self.partition),
            Field::UpdateStrategy => ("the update strategy".to_owned(), &self.strategy),
            Field::Template => ("the pod template".to_owned(), &self.template),
            Field::Replicas => ("the replicas".to_owned(), &self.replicas),
            Field::Images(containers) => {
                let owned = containers.iter().find_map(|name| {
                    let owners = self.images.iter().find(|i| i.container == *name)?;
                    let manager = owners.managers.iter().find(|m| m.tool.reverts())?;
                    Some((format!("the image of container {name}"), manager.clone()))
                });
                if let Some((field, manager)) = owned {
                    return Some(Contested {
                        field,
                        manager,
                        applier: self.applier.clone(),
                        replace_sync: None,
                    });
                }
                let name = containers.first().map(|c| format!("the image of container {c}"));
                return name.and_then(|field| self.replaced(field));
            }
        };
        match managers.iter().find(|m| m.tool.reverts()) {
            Some(manager) => Some(Contested {
                field: name,
                manager: manager.clone(),
                applier: self.applier.clone(),
                replace_sync: None,
            }),
            None => self.replaced(name),
        }
    }

    /// `field` as the applier owns it when it replaces the whole object at each sync.
    fn replaced(&self, field: String) -> Option<Contested> {
        let applier = self.applier.as_ref()?;
        let evidence = applier.replace_sync.clone()?;
        // The manager its syncs write as, from managedFields where it wrote the template.
        let manager = self.template.iter().find(|m| m.tool == applier.tool).cloned().unwrap_or(Manager {
            manager: "argocd-controller".to_owned(),
            operation: "Update".to_owned(),
            tool: applier.tool,
            time: None,
        });
        Some(Contested { field, manager, applier: Some(applier.clone()), replace_sync: Some(evidence) })
    }

    /// Whether the applier has paused its reconciliation of this object.
    fn paused(&self) -> bool {
        self.applier.as_ref().is_some_and(|a| a.paused)
    }

    /// Who would set back the partition.
    pub fn partition_reverter(&self) -> Option<Contested> {
        self.reverter(Field::Partition)
    }

    /// Who would set back the images of `containers`.
    pub fn image_reverter<'c>(&self, containers: impl IntoIterator<Item = &'c str>) -> Option<Contested> {
        let containers: Vec<&str> = containers.into_iter().collect();
        if containers.is_empty() {
            return None;
        }
        self.reverter(Field::Images(&containers))
    }

    /// Who would set back `spec.replicas` (`scale`).
    pub fn replicas_reverter(&self) -> Option<Contested> {
        self.reverter(Field::Replicas)
    }

    /// Who would set back a change anywhere in the pod template.
    pub fn template_reverter(&self) -> Option<Contested> {
        self.reverter(Field::Template)
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
        let replace_sync = annotations
            .get(ARGOCD_SYNC_OPTIONS)
            .is_some_and(|options| options.split(',').any(|o| o.trim() == ARGOCD_REPLACE))
            .then(|| format!("annotation {ARGOCD_SYNC_OPTIONS}"));
        return Some(Applier {
            tool: Tool::ArgoCd,
            name,
            namespace,
            evidence: format!("annotation {ARGOCD_TRACKING}"),
            paused: false,
            replace_sync,
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
            replace_sync: None,
        });
    }
    if let Some(name) = get(labels, FLUX_HELM_RELEASE) {
        return Some(Applier {
            tool: Tool::FluxHelmRelease,
            name,
            namespace: get(labels, FLUX_HELM_RELEASE_NAMESPACE),
            evidence: format!("label {FLUX_HELM_RELEASE}"),
            paused: false,
            replace_sync: None,
        });
    }
    if let Some(name) = get(annotations, HELM_RELEASE) {
        return Some(Applier {
            tool: Tool::Helm,
            name,
            namespace: get(annotations, HELM_RELEASE_NAMESPACE),
            evidence: format!("annotation {HELM_RELEASE}"),
            paused: false,
            replace_sync: None,
        });
    }
    None
}

/// What to change so that the owner of the partition leaves it to this tool, as a person
/// pastes it (sources in docs/gitops.md). A tool owns only what its manifest sets, so the way
/// out is to stop setting the partition there; a rule that keeps the live value at each sync
/// leaves the tool an owner (it applies the live value), which only `--override-owner` passes.
pub fn partition_snippet(contested: &Contested, sts: &StatefulSet) -> String {
    if let Some(snippet) = replace_snippet(contested, sts) {
        return snippet;
    }
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

/// What to change when the owner replaces the whole object at each sync (Argo CD's
/// `Replace=true`): no rule keeps a live value then, so the way out is to sync by applying.
fn replace_snippet(contested: &Contested, sts: &StatefulSet) -> Option<String> {
    let evidence = contested.replace_sync.as_ref()?;
    let app = contested.applier.as_ref().map_or_else(|| "its application".to_owned(), Applier::describe);
    Some(format!(
        "{app} syncs StatefulSet {name} with {ARGOCD_REPLACE} ({evidence}): each sync replaces the whole object with \
         Git's, so the partition, the update strategy and this tool's journal become what Git says (no partition: \
         every pod released at once). Remove {ARGOCD_REPLACE} from that annotation in Git (and from the \
         application's syncPolicy.syncOptions if it is there too); once Argo CD has synced that, it applies \
         instead and leaves the fields Git does not set alone.",
        name = sts.name_any()
    ))
}

/// What to change so that the owner of the update strategy leaves it to `rollout --evict`,
/// which switches it to OnDelete for the rollout and restores it at the end.
pub fn strategy_snippet(contested: &Contested, sts: &StatefulSet) -> String {
    if let Some(snippet) = replace_snippet(contested, sts) {
        return snippet;
    }
    let name = sts.name_any();
    let without = "Or run the rollout without --evict: the controller replaces the pods, and this tool waits for the \
                   PodDisruptionBudgets before each step.";
    match contested.manager.tool {
        Tool::ArgoCd | Tool::FluxKustomization => {
            let unit = contested
                .applier
                .as_ref()
                .filter(|a| a.tool == contested.manager.tool)
                .map_or_else(|| contested.manager.tool.name().to_owned(), Applier::describe);
            format!(
                "Git sets updateStrategy of StatefulSet {name}: {unit} sets it back to Git's {when}, which in the \
                 middle of an --evict rollout is RollingUpdate with partition 0, and the controller then replaces \
                 every remaining pod without waiting for a budget or a gate. Remove updateStrategy from the manifest \
                 in Git (RollingUpdate is the default), then --evict works. {without}",
                when = contested.manager.tool.reverts_when()
            )
        }
        Tool::FluxHelmRelease | Tool::Helm => {
            let release = contested
                .applier
                .as_ref()
                .filter(|a| matches!(a.tool, Tool::Helm | Tool::FluxHelmRelease))
                .map_or_else(|| "<release>".to_owned(), |a| a.name.clone());
            format!(
                "The chart of release {release} renders updateStrategy of StatefulSet {name}: an upgrade during an \
                 --evict rollout sets it back to RollingUpdate (Helm 3; Helm 4's upgrade fails on the conflict), \
                 and the controller then replaces every remaining pod without waiting for a budget or a gate. \
                 {without} Or pass --override-owner and upgrade the release only after the rollout has ended."
            )
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests;
