//! VolumeSnapshots (`snapshot.storage.k8s.io/v1`, out-of-tree CRDs): what the objects say, which
//! class snapshots a volume, what a snapshot of a claim is named, and whether it is a safety
//! net (ready, with a content whose deletion policy is `Retain`).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolume;
use k8s_openapi::jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The API group of VolumeSnapshots, their contents and classes.
pub const GROUP: &str = "snapshot.storage.k8s.io";
/// The annotation marking a driver's default class.
pub const DEFAULT_CLASS: &str = "snapshot.storage.kubernetes.io/is-default-class";
/// The annotation an external provisioner writes on the PVs it creates, naming itself.
pub const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
/// Labels on the snapshots `pvc prune --snapshot` takes, so they can be traced back.
pub const LABEL_STATEFULSET: &str = "kubectl-stateful.dev/statefulset";
pub const LABEL_TEMPLATE: &str = "kubectl-stateful.dev/template";
pub const LABEL_ORDINAL: &str = "kubectl-stateful.dev/ordinal";

/// Drivers whose snapshots live in the volume's own pool or node and are lost with it (or keep
/// it from being reclaimed): such a snapshot is no safety net for deleting the claim.
pub const COLOCATED_DRIVERS: &[(&str, &str)] = &[
    ("zfs.csi.openebs.io", "OpenEBS ZFS LocalPV keeps snapshots in the volume's pool (zfs-localpv #123)"),
    ("local.csi.openebs.io", "OpenEBS LVM LocalPV keeps snapshots in the volume's volume group"),
    (
        "driver.longhorn.io",
        "Longhorn's in-cluster snapshots (class parameter type: snap) live with the volume",
    ),
];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    resource_version: Option<String>,
    #[serde(default)]
    creation_timestamp: Option<Timestamp>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    deletion_timestamp: Option<Timestamp>,
}

/// A VolumeSnapshotClass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotClass {
    pub name: String,
    pub driver: String,
    pub deletion_policy: String,
    pub default: bool,
    /// `parameters.type`, which decides for some drivers where the snapshot lives.
    pub kind_parameter: Option<String>,
}

impl SnapshotClass {
    /// Reads a VolumeSnapshotClass as the API serves it (JSON).
    pub fn from_json(value: &serde_json::Value) -> Option<SnapshotClass> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw {
            metadata: Meta,
            driver: String,
            deletion_policy: String,
            #[serde(default)]
            parameters: BTreeMap<String, String>,
        }
        let raw: Raw = serde_json::from_value(value.clone()).ok()?;
        Some(SnapshotClass {
            default: raw.metadata.annotations.get(DEFAULT_CLASS).map(String::as_str) == Some("true"),
            name: raw.metadata.name,
            driver: raw.driver,
            deletion_policy: raw.deletion_policy,
            kind_parameter: raw.parameters.get("type").cloned(),
        })
    }
}

/// A VolumeSnapshot, with what its status says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshot {
    pub name: String,
    pub namespace: String,
    /// `spec.source.persistentVolumeClaimName`: the claim it was taken of.
    pub claim: Option<String>,
    pub class: Option<String>,
    /// `status.boundVolumeSnapshotContentName`.
    pub content: Option<String>,
    pub ready: bool,
    /// `status.restoreSize`: the smallest claim it can be restored into.
    pub restore_size: Option<String>,
    pub created_at: Option<Timestamp>,
    /// `status.error.message`: the controller's last error (it keeps retrying).
    pub error: Option<String>,
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
    #[serde(skip)]
    pub deleting: bool,
}

impl VolumeSnapshot {
    /// Reads a VolumeSnapshot as the API serves it (JSON).
    pub fn from_json(value: &serde_json::Value) -> Option<VolumeSnapshot> {
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "camelCase", default)]
        struct Source {
            persistent_volume_claim_name: Option<String>,
        }
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "camelCase", default)]
        struct Spec {
            source: Source,
            volume_snapshot_class_name: Option<String>,
        }
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Failure {
            message: Option<String>,
        }
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "camelCase", default)]
        struct Status {
            bound_volume_snapshot_content_name: Option<String>,
            ready_to_use: Option<bool>,
            restore_size: Option<String>,
            creation_time: Option<Timestamp>,
            error: Option<Failure>,
        }
        #[derive(Deserialize)]
        struct Raw {
            metadata: Meta,
            #[serde(default)]
            spec: Spec,
            #[serde(default)]
            status: Option<Status>,
        }
        let raw: Raw = serde_json::from_value(value.clone()).ok()?;
        let status = raw.status.unwrap_or_default();
        Some(VolumeSnapshot {
            name: raw.metadata.name,
            namespace: raw.metadata.namespace.unwrap_or_default(),
            claim: raw.spec.source.persistent_volume_claim_name,
            class: raw.spec.volume_snapshot_class_name,
            content: status.bound_volume_snapshot_content_name,
            ready: status.ready_to_use == Some(true),
            restore_size: status.restore_size,
            created_at: status.creation_time.or(raw.metadata.creation_timestamp),
            error: status.error.and_then(|e| e.message),
            labels: raw.metadata.labels,
            deleting: raw.metadata.deletion_timestamp.is_some(),
        })
    }
}

/// A VolumeSnapshotContent: the snapshot's data, whose deletion policy decides whether deleting
/// the VolumeSnapshot (or its namespace) destroys it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotContent {
    pub name: String,
    pub uid: String,
    pub resource_version: String,
    pub deletion_policy: String,
    pub driver: String,
    pub ready: bool,
}

impl SnapshotContent {
    /// Reads a VolumeSnapshotContent as the API serves it (JSON).
    pub fn from_json(value: &serde_json::Value) -> Option<SnapshotContent> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Spec {
            deletion_policy: String,
            driver: String,
        }
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "camelCase", default)]
        struct Status {
            ready_to_use: Option<bool>,
        }
        #[derive(Deserialize)]
        struct Raw {
            metadata: Meta,
            spec: Spec,
            #[serde(default)]
            status: Option<Status>,
        }
        let raw: Raw = serde_json::from_value(value.clone()).ok()?;
        Some(SnapshotContent {
            name: raw.metadata.name,
            uid: raw.metadata.uid.unwrap_or_default(),
            resource_version: raw.metadata.resource_version.unwrap_or_default(),
            deletion_policy: raw.spec.deletion_policy,
            driver: raw.spec.driver,
            ready: raw.status.and_then(|s| s.ready_to_use) == Some(true),
        })
    }
}

/// The driver that would snapshot a volume: a CSI volume's `spec.csi.driver`, else the
/// provisioner that created it (`pv.kubernetes.io/provisioned-by`, which for a CSI driver is the
/// driver's name). `None` for a volume nobody provisioned (hostPath, local, pre-provisioned).
pub fn volume_driver(pv: &PersistentVolume) -> Option<String> {
    if let Some(csi) = pv.spec.as_ref().and_then(|s| s.csi.as_ref()) {
        return Some(csi.driver.clone());
    }
    pv.metadata.annotations.as_ref()?.get(PROVISIONED_BY).cloned()
}

/// Why a claim cannot be snapshotted as asked. Nothing is deleted when a run meets one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "--snapshot refused: this cluster has no VolumeSnapshot API (snapshot.storage.k8s.io/v1: its CRDs and \
         snapshot-controller come with the cluster's distribution); nothing was deleted"
    )]
    NoApi,
    #[error(
        "--snapshot refused: PersistentVolumes are not readable with these credentials, so the driver of {claim} is \
         unknown; nothing was deleted"
    )]
    VolumesUnreadable { claim: String },
    #[error(
        "--snapshot refused: {claim} is not bound to a volume, so there is nothing to snapshot; nothing was deleted"
    )]
    NotBound { claim: String },
    #[error(
        "--snapshot refused: the volume {volume} of {claim} names no CSI driver or provisioner to snapshot it; \
         nothing was deleted"
    )]
    NoDriver { claim: String, volume: String },
    #[error(
        "--snapshot refused: no VolumeSnapshotClass for driver {driver} (the volume of {claim}); ask for one to be \
         created, or prune without --snapshot; nothing was deleted"
    )]
    NoClass { claim: String, driver: String },
    #[error(
        "--snapshot refused: driver {driver} (the volume of {claim}) has {} default VolumeSnapshotClasses ({}); \
         name one with --snapshot-class; nothing was deleted",
        if .names.is_empty() { "no".to_owned() } else { .names.len().to_string() },
        if .names.is_empty() { "none marked snapshot.storage.kubernetes.io/is-default-class".to_owned() } else { .names.join(", ") }
    )]
    NoDefault { claim: String, driver: String, names: Vec<String> },
    #[error("--snapshot refused: VolumeSnapshotClass {class} not found; nothing was deleted")]
    ClassNotFound { class: String },
    #[error(
        "--snapshot refused: VolumeSnapshotClass {class} is for driver {class_driver}, the volume of {claim} is \
         {driver}'s; nothing was deleted"
    )]
    WrongDriver { claim: String, class: String, class_driver: String, driver: String },
}

/// The class that snapshots a volume of `driver`: the one named (`explicit`), which must be for
/// that driver, or the driver's one default.
///
/// # Errors
/// Which of those is missing, as a [`Refusal`].
pub fn choose_class<'c>(
    classes: &'c [SnapshotClass],
    driver: &str,
    explicit: Option<&str>,
    claim: &str,
) -> Result<&'c SnapshotClass, Refusal> {
    if let Some(name) = explicit {
        let class = classes
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Refusal::ClassNotFound { class: name.to_owned() })?;
        if class.driver != driver {
            return Err(Refusal::WrongDriver {
                claim: claim.to_owned(),
                class: class.name.clone(),
                class_driver: class.driver.clone(),
                driver: driver.to_owned(),
            });
        }
        return Ok(class);
    }
    let of_driver: Vec<&SnapshotClass> = classes.iter().filter(|c| c.driver == driver).collect();
    if of_driver.is_empty() {
        return Err(Refusal::NoClass { claim: claim.to_owned(), driver: driver.to_owned() });
    }
    match of_driver.iter().filter(|c| c.default).collect::<Vec<_>>().as_slice() {
        [one] => Ok(one),
        several => Err(Refusal::NoDefault {
            claim: claim.to_owned(),
            driver: driver.to_owned(),
            names: several.iter().map(|c| c.name.clone()).collect(),
        }),
    }
}

/// Why a class's snapshots do not outlive the volume, when its driver is known to keep them
/// with it.
pub fn colocated(class: &SnapshotClass) -> Option<&'static str> {
    let (driver, why) = COLOCATED_DRIVERS.iter().find(|(d, _)| *d == class.driver)?;
    // Longhorn's `bak` (backup target) and `bi` snapshots are stored elsewhere.
    if *driver == "driver.longhorn.io" && class.kind_parameter.as_deref().is_some_and(|t| t != "snap") {
        return None;
    }
    Some(why)
}

/// The name of the snapshot of `claim` taken at `now`: the claim's name (`<template>-<sts>-<ordinal>`)
/// and the UTC time, `data-web-3-20261130-224217`; `None` if that is longer than an object name
/// may be (253).
pub fn snapshot_name(claim: &str, now: Timestamp) -> Option<String> {
    let name = format!("{claim}-{}", now.strftime("%Y%m%d-%H%M%S"));
    (name.len() <= 253).then_some(name)
}

/// The labels of a snapshot of the claim of `template` and `ordinal` of `sts`: the set's
/// selector (as the controller puts on its claims) and where it came from.
pub fn snapshot_labels(sts: &StatefulSet, template: &str, ordinal: i32) -> BTreeMap<String, String> {
    let mut labels = sts.spec.as_ref().and_then(|s| s.selector.match_labels.clone()).unwrap_or_default();
    labels.insert(LABEL_STATEFULSET.to_owned(), sts.metadata.name.clone().unwrap_or_default());
    labels.insert(LABEL_TEMPLATE.to_owned(), template.to_owned());
    labels.insert(LABEL_ORDINAL.to_owned(), ordinal.to_string());
    labels
}

/// The VolumeSnapshot object to create.
pub fn snapshot_object(
    name: &str,
    namespace: &str,
    claim: &str,
    class: &str,
    labels: &BTreeMap<String, String>,
) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": format!("{GROUP}/v1"),
        "kind": "VolumeSnapshot",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "volumeSnapshotClassName": class,
            "source": {"persistentVolumeClaimName": claim},
        },
    })
}

/// How far a snapshot is from being a safety net.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Not bound to a content yet, or not ready; with the controller's last error.
    Waiting { error: Option<String> },
    /// Ready, bound to `content`.
    Ready { content: String },
}

/// Where a snapshot stands.
pub fn progress(snapshot: &VolumeSnapshot) -> Progress {
    match (&snapshot.content, snapshot.ready) {
        (Some(content), true) => Progress::Ready { content: content.clone() },
        _ => Progress::Waiting { error: snapshot.error.clone() },
    }
}

/// Where a snapshot waited for stands, for the wait's progress line: `not seen yet`, `no
/// content bound yet`, `bound to snapcontent-1, not ready yet`, with the controller's last error.
pub fn readiness(snapshot: Option<&VolumeSnapshot>) -> String {
    let Some(snapshot) = snapshot else { return "not seen yet".to_owned() };
    let state = match (&snapshot.content, snapshot.ready) {
        (Some(content), true) => format!("ready, bound to {content}"),
        (Some(content), false) => format!("bound to {content}, not ready yet"),
        (None, _) => "no content bound yet".to_owned(),
    };
    match &snapshot.error {
        Some(error) => format!("{state} (last error: {error})"),
        None => state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, driver: &str, default: bool) -> SnapshotClass {
        SnapshotClass {
            name: name.into(),
            driver: driver.into(),
            deletion_policy: "Delete".into(),
            default,
            kind_parameter: None,
        }
    }

    #[test]
    fn the_class_is_the_named_one_or_the_drivers_one_default() {
        let classes = vec![
            class("a-default", "a.csi", true),
            class("a-other", "a.csi", false),
            class("b-1", "b.csi", true),
            class("b-2", "b.csi", true),
            class("c-1", "c.csi", false),
        ];
        let cases: Vec<(&str, Option<&str>, Result<&str, &str>)> = vec![
            ("a.csi", None, Ok("a-default")),
            ("a.csi", Some("a-other"), Ok("a-other")),
            ("a.csi", Some("b-1"), Err("is for driver b.csi")),
            ("a.csi", Some("zzz"), Err("VolumeSnapshotClass zzz not found")),
            ("b.csi", None, Err("has 2 default VolumeSnapshotClasses (b-1, b-2)")),
            ("b.csi", Some("b-2"), Ok("b-2")),
            ("c.csi", None, Err("has no default VolumeSnapshotClasses")),
            ("d.csi", None, Err("no VolumeSnapshotClass for driver d.csi")),
        ];
        for (driver, explicit, expected) in cases {
            let got = choose_class(&classes, driver, explicit, "data-web-3");
            match (got, expected) {
                (Ok(c), Ok(name)) => assert_eq!(c.name, name, "{driver} {explicit:?}"),
                (Err(e), Err(text)) => {
                    let message = e.to_string();
                    assert!(message.contains(text), "{driver} {explicit:?}: {message}");
                    assert!(message.ends_with("nothing was deleted"), "{message}");
                }
                (got, expected) => panic!("{driver} {explicit:?}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn the_driver_is_the_csi_drivers_or_the_provisioners() {
        let csi: PersistentVolume = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "pv-1", "annotations": {PROVISIONED_BY: "other"}},
            "spec": {"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}}
        }))
        .unwrap();
        assert_eq!(volume_driver(&csi).as_deref(), Some("ebs.csi.aws.com"));
        let provisioned: PersistentVolume = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "pv-2", "annotations": {PROVISIONED_BY: "kwok.x-k8s.io/volume"}},
            "spec": {"hostPath": {"path": "/tmp"}}
        }))
        .unwrap();
        assert_eq!(volume_driver(&provisioned).as_deref(), Some("kwok.x-k8s.io/volume"));
        let manual: PersistentVolume =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "pv-3"}, "spec": {}})).unwrap();
        assert_eq!(volume_driver(&manual), None);
    }

    #[test]
    fn reads_snapshots_contents_and_classes_as_served() {
        let vs = VolumeSnapshot::from_json(&serde_json::json!({
            "metadata": {"name": "data-web-3-20261130-224217", "namespace": "ns", "creationTimestamp": "2026-11-30T22:42:17Z"},
            "spec": {"source": {"persistentVolumeClaimName": "data-web-3"}, "volumeSnapshotClassName": "c"},
            "status": {"boundVolumeSnapshotContentName": "snapcontent-1", "readyToUse": true, "restoreSize": "1Gi",
                       "creationTime": "2026-11-30T22:42:19Z"}
        }))
        .unwrap();
        assert_eq!(progress(&vs), Progress::Ready { content: "snapcontent-1".into() });
        assert_eq!(vs.restore_size.as_deref(), Some("1Gi"));
        let failing = VolumeSnapshot::from_json(&serde_json::json!({
            "metadata": {"name": "s", "namespace": "ns"},
            "spec": {"source": {"persistentVolumeClaimName": "c"}},
            "status": {"boundVolumeSnapshotContentName": "snapcontent-2", "readyToUse": false,
                       "error": {"message": "rpc error", "time": "2026-11-30T22:42:19Z"}}
        }))
        .unwrap();
        assert_eq!(progress(&failing), Progress::Waiting { error: Some("rpc error".into()) });
        let fresh = VolumeSnapshot::from_json(&serde_json::json!({
            "metadata": {"name": "s", "namespace": "ns"}, "spec": {"source": {"persistentVolumeClaimName": "c"}}
        }))
        .unwrap();
        assert_eq!(progress(&fresh), Progress::Waiting { error: None });
        // What the wait for a snapshot says while it lasts.
        assert_eq!(readiness(None), "not seen yet");
        assert_eq!(readiness(Some(&fresh)), "no content bound yet");
        assert_eq!(
            readiness(Some(&failing)),
            "bound to snapcontent-2, not ready yet (last error: rpc error)"
        );
        assert_eq!(readiness(Some(&vs)), "ready, bound to snapcontent-1");
        let content = SnapshotContent::from_json(&serde_json::json!({
            "metadata": {"name": "snapcontent-1", "uid": "u", "resourceVersion": "7"},
            "spec": {"deletionPolicy": "Delete", "driver": "d", "source": {"volumeHandle": "h"},
                     "volumeSnapshotRef": {"name": "s", "namespace": "ns"}},
            "status": {"readyToUse": true, "restoreSize": 1073741824}
        }))
        .unwrap();
        assert_eq!((content.deletion_policy.as_str(), content.ready), ("Delete", true));
        let class = SnapshotClass::from_json(&serde_json::json!({
            "metadata": {"name": "c", "annotations": {DEFAULT_CLASS: "true"}},
            "driver": "driver.longhorn.io", "deletionPolicy": "Delete", "parameters": {"type": "snap"}
        }))
        .unwrap();
        assert!(class.default);
        assert!(colocated(&class).is_some());
        assert!(colocated(&SnapshotClass { kind_parameter: Some("bak".into()), ..class }).is_none());
    }

    #[test]
    fn names_trace_back_to_the_claim_and_the_time() {
        let now: Timestamp = "2026-11-30T22:42:17Z".parse().unwrap();
        assert_eq!(snapshot_name("data-web-3", now).as_deref(), Some("data-web-3-20261130-224217"));
        assert_eq!(snapshot_name(&"a".repeat(240), now), None);
    }
}
