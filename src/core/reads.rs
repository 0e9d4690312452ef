//! What was read: everything the commands read from the API server for one namespace (or all
//! of them), as plain data. The shell fills it with one LIST per kind; the core only reads it.

use std::collections::HashMap;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    ConfigMap, Event, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::ResourceExt;

use super::facts::Honoured;
use super::volume_snapshots::VolumeSnapshot;

#[derive(Debug, Clone, Default)]
pub struct Reads {
    pub statefulsets: Vec<StatefulSet>,
    pub pods: Vec<Pod>,
    pub pvcs: Vec<PersistentVolumeClaim>,
    pub services: Vec<Service>,
    /// `None` when the caller may not list PersistentVolumes (cluster-scoped).
    pub volumes: Option<Vec<PersistentVolume>>,
    /// `None` when the caller may not list Nodes (cluster-scoped).
    pub nodes: Option<Vec<Node>>,
    /// `None` when the caller may not list HorizontalPodAutoscalers, or nobody asked.
    pub autoscalers: Option<Vec<HorizontalPodAutoscaler>>,
    /// Whether the API server keeps `maxUnavailable`: `None` when no StatefulSet read sets it
    /// above one (the question does not matter), or nobody asked.
    pub max_unavailable: Option<Honoured>,
    /// The ControllerRevisions of StatefulSets whose current and update revisions differ;
    /// `None` when they may not be read, or nobody asked.
    pub revisions: Option<Vec<ControllerRevision>>,
    /// Warning events about StatefulSets and about pods; `None` when they may not be read, or
    /// nobody asked.
    pub events: Option<Vec<Event>>,
    /// The namespaces involved; `None` when they may not be read, or nobody asked.
    pub namespaces: Option<Vec<Namespace>>,
    /// The cluster's StorageClasses: read only when some claim is smaller than its template or
    /// reports a resize condition (how it can grow depends on its class); `None` when they may
    /// not be read, or nobody asked.
    pub storage_classes: Option<Vec<StorageClass>>,
    /// The VolumeSnapshots in scope (`snapshot.storage.k8s.io/v1`, out-of-tree CRDs).
    pub volume_snapshots: VolumeSnapshots,
    /// The PodDisruptionBudgets in scope (every one of the namespace, or of the cluster with
    /// `-A`); `None` when they may not be read, or nobody asked.
    pub budgets: Option<Vec<PodDisruptionBudget>>,
    /// The journals of `pvc resize` swaps in scope (`kubectl-stateful-resize-*` ConfigMaps);
    /// empty when they may not be read, or nobody asked.
    pub swap_journals: Vec<ConfigMap>,
}

/// What was read of the VolumeSnapshot API, an optional kind: a cluster without it is not a
/// degraded read (nothing to say), one that refuses it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum VolumeSnapshots {
    /// Not asked for, or the cluster has no VolumeSnapshot API (the LIST answered 404).
    #[default]
    NoApi,
    /// The API exists but these credentials may not list VolumeSnapshots (403).
    Forbidden,
    Read(Vec<VolumeSnapshot>),
}

impl Reads {
    pub fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name) && s.namespace().as_deref() == Some(namespace))
    }

    /// The namespace named `name`, when it was read.
    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.iter().flatten().find(|n| n.metadata.name.as_deref() == Some(name))
    }

    /// Nodes by name, for repeated lookups.
    pub fn nodes_by_name(&self) -> Option<HashMap<&str, &Node>> {
        let nodes = self.nodes.as_ref()?;
        Some(nodes.iter().filter_map(|n| Some((n.metadata.name.as_deref()?, n))).collect())
    }

    /// The ControllerRevision named `name` in `namespace`, when revisions were read.
    pub fn revision(&self, namespace: &str, name: &str) -> Option<&ControllerRevision> {
        self.revisions.iter().flatten().find(|r| {
            r.metadata.name.as_deref() == Some(name) && r.metadata.namespace.as_deref() == Some(namespace)
        })
    }

    /// PersistentVolumes by name, for repeated lookups.
    pub fn volumes_by_name(&self) -> Option<HashMap<&str, &PersistentVolume>> {
        let volumes = self.volumes.as_ref()?;
        Some(volumes.iter().filter_map(|v| Some((v.metadata.name.as_deref()?, v))).collect())
    }
}
