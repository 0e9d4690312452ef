//! Builders of API objects for unit tests, shaped like what the API server returns
//! (defaults applied, owner references and labels as the StatefulSet controller sets them).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    ControllerRevision, RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetOrdinals, StatefulSetSpec,
    StatefulSetStatus, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, ContainerState, ContainerStateWaiting, ContainerStatus, Node, NodeCondition,
    NodeStatus, ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimStatus, PersistentVolumeClaimVolumeSource, PersistentVolumeSpec,
    PersistentVolumeStatus, Pod, PodCondition, PodSpec, PodStatus, PodTemplateSpec, Service, ServicePort,
    ServiceSpec, Volume, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::names::{pod_name, pvc_name};
use super::objects::REVISION_LABEL;

pub const NAMESPACE: &str = "default";

pub fn created() -> Timestamp {
    Timestamp::from_second(1_700_000_000).unwrap()
}

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        uid: Some(format!("uid-{}-{name}", namespace.unwrap_or("cluster"))),
        resource_version: Some("1".to_owned()),
        creation_timestamp: Some(Time(created())),
        ..Default::default()
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn owner(sts: &StatefulSet) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".to_owned(),
        kind: "StatefulSet".to_owned(),
        name: sts.name_any(),
        uid: sts.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

#[derive(Clone)]
pub struct StsBuilder(StatefulSet);

/// A StatefulSet selecting `app=<name>`, governed by Service `<name>`, observed by the controller.
pub fn sts(name: &str, replicas: i32) -> StsBuilder {
    let app = labels(&[("app", name)]);
    StsBuilder(StatefulSet {
        metadata: ObjectMeta { generation: Some(1), ..meta(name, Some(NAMESPACE)) },
        spec: Some(StatefulSetSpec {
            replicas: Some(replicas),
            service_name: Some(name.to_owned()),
            selector: LabelSelector { match_labels: Some(app.clone()), ..Default::default() },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(app), ..Default::default() }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "app".to_owned(),
                        image: Some("example.invalid/app:v1".to_owned()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            pod_management_policy: Some("OrderedReady".to_owned()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateStatefulSetStrategy {
                    partition: Some(0),
                    max_unavailable: None,
                }),
            }),
            ..Default::default()
        }),
        status: Some(StatefulSetStatus {
            replicas,
            observed_generation: Some(1),
            current_revision: Some(format!("{name}-rev1")),
            update_revision: Some(format!("{name}-rev1")),
            ..Default::default()
        }),
    })
}

impl StsBuilder {
    fn spec(&mut self) -> &mut StatefulSetSpec {
        self.0.spec.as_mut().unwrap()
    }

    pub fn templates(mut self, names: &[&str]) -> Self {
        let templates = names
            .iter()
            .map(|n| PersistentVolumeClaim {
                metadata: ObjectMeta { name: Some((*n).to_owned()), ..Default::default() },
                ..Default::default()
            })
            .collect();
        self.spec().volume_claim_templates = Some(templates);
        self
    }

    /// Every claim template asks for `size` of StorageClass `standard`, as [`pvc`]'s claims.
    pub fn template_size(mut self, size: &str) -> Self {
        for template in self.spec().volume_claim_templates.iter_mut().flatten() {
            template.spec = Some(PersistentVolumeClaimSpec {
                storage_class_name: Some("standard".to_owned()),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([("storage".to_owned(), Quantity(size.to_owned()))])),
                    limits: None,
                }),
                ..Default::default()
            });
        }
        self
    }

    pub fn start(mut self, start: i32) -> Self {
        self.spec().ordinals = Some(StatefulSetOrdinals { start: Some(start) });
        self
    }

    pub fn partition(mut self, partition: i32) -> Self {
        let strategy = self.spec().update_strategy.as_mut().unwrap();
        strategy.rolling_update.as_mut().unwrap().partition = Some(partition);
        self
    }

    pub fn max_unavailable(mut self, max: i32) -> Self {
        let strategy = self.spec().update_strategy.as_mut().unwrap();
        strategy.rolling_update.as_mut().unwrap().max_unavailable = Some(IntOrString::Int(max));
        self
    }

    pub fn on_delete(mut self) -> Self {
        self.spec().update_strategy =
            Some(StatefulSetUpdateStrategy { type_: Some("OnDelete".to_owned()), rolling_update: None });
        self
    }

    /// The Recreate strategy of KEP-3541 (alpha in 1.37): no rollingUpdate block.
    pub fn recreate(mut self) -> Self {
        self.spec().update_strategy =
            Some(StatefulSetUpdateStrategy { type_: Some("Recreate".to_owned()), rolling_update: None });
        self
    }

    pub fn parallel(mut self) -> Self {
        self.spec().pod_management_policy = Some("Parallel".to_owned());
        self
    }

    /// Named ports of container `app` (protocol TCP, the API server's default).
    pub fn container_ports(mut self, ports: &[(&str, i32)]) -> Self {
        let spec = self.spec().template.spec.as_mut().unwrap();
        spec.containers[0].ports =
            Some(ports.iter().map(|(name, port)| container_port(name, *port)).collect());
        self
    }

    /// An init container with `restartPolicy: Always` (a sidecar) declaring the named ports.
    pub fn sidecar_ports(mut self, ports: &[(&str, i32)]) -> Self {
        let spec = self.spec().template.spec.as_mut().unwrap();
        spec.init_containers = Some(vec![Container {
            name: "sidecar".to_owned(),
            image: Some("example.invalid/sidecar:v1".to_owned()),
            restart_policy: Some("Always".to_owned()),
            ports: Some(ports.iter().map(|(name, port)| container_port(name, *port)).collect()),
            ..Default::default()
        }]);
        self
    }

    pub fn min_ready_seconds(mut self, seconds: i32) -> Self {
        self.spec().min_ready_seconds = Some(seconds);
        self
    }

    pub fn revisions(mut self, current: &str, update: &str) -> Self {
        let status = self.0.status.as_mut().unwrap();
        status.current_revision = Some(current.to_owned());
        status.update_revision = Some(update.to_owned());
        self
    }

    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.0.annotations_mut().insert(key.to_owned(), value.to_owned());
        self
    }

    /// A managedFields entry: `manager` wrote `fields` (FieldsV1) with `operation`.
    pub fn managed_by(mut self, manager: &str, operation: &str, fields: serde_json::Value) -> Self {
        let entry = serde_json::from_value(serde_json::json!({
            "manager": manager, "operation": operation, "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
            "fieldsV1": fields,
        }))
        .expect("a managedFields entry");
        self.0.metadata.managed_fields.get_or_insert_with(Vec::new).push(entry);
        self
    }

    /// The controller has not caught up: status.replicas and observedGeneration lag.
    pub fn scaling(mut self, status_replicas: i32) -> Self {
        self.0.metadata.generation = Some(2);
        self.0.status.as_mut().unwrap().replicas = status_replicas;
        self
    }

    pub fn build(self) -> StatefulSet {
        self.0
    }
}

/// A ControllerRevision of `sts` named `name`, recording `template` as the controller does
/// (`{"spec": {"template": {"$patch": "replace", …}}}`).
pub fn controller_revision(sts: &StatefulSet, name: &str, template: serde_json::Value) -> ControllerRevision {
    let mut template = template;
    template.as_object_mut().expect("a template object").insert("$patch".into(), "replace".into());
    ControllerRevision {
        metadata: ObjectMeta {
            owner_references: Some(vec![owner(sts)]),
            ..meta(name, sts.namespace().as_deref())
        },
        data: Some(k8s_openapi::apimachinery::pkg::runtime::RawExtension(
            serde_json::json!({"spec": {"template": template}}),
        )),
        revision: 1,
    }
}

pub struct PodBuilder(Pod);

/// Pod `ordinal` of `sts`, Running and Ready on `node-0`, on the StatefulSet's update revision.
pub fn pod(sts: &StatefulSet, ordinal: i32) -> PodBuilder {
    let sts_name = sts.name_any();
    let mut pod_labels =
        labels(&[("app", &sts_name), ("statefulset.kubernetes.io/pod-name", &pod_name(&sts_name, ordinal))]);
    let revision = sts.status.as_ref().and_then(|s| s.update_revision.clone()).unwrap_or_default();
    pod_labels.insert(REVISION_LABEL.to_owned(), revision);
    let name = pod_name(&sts_name, ordinal);
    let volumes = super::objects::claim_templates(sts)
        .into_iter()
        .map(|t| Volume {
            name: t.to_owned(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: pvc_name(t, &sts_name, ordinal),
                read_only: None,
            }),
            ..Default::default()
        })
        .collect();
    PodBuilder(Pod {
        metadata: ObjectMeta {
            labels: Some(pod_labels),
            owner_references: Some(vec![owner(sts)]),
            ..meta(&name, Some(NAMESPACE))
        },
        spec: Some(PodSpec {
            node_name: Some("node-0".to_owned()),
            volumes: Some(volumes),
            // The template's containers, as the controller creates the pod from it.
            containers: sts
                .spec
                .as_ref()
                .and_then(|s| s.template.spec.as_ref())
                .map(|s| s.containers.clone())
                .unwrap_or_default(),
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: Some("Running".to_owned()),
            pod_ip: Some(format!("10.0.0.{ordinal}")),
            ..Default::default()
        }),
    })
    .ready(true)
}

impl PodBuilder {
    /// Its first container runs `image` (a pod of another revision).
    pub fn image(mut self, image: &str) -> Self {
        if let Some(c) = self.0.spec.as_mut().and_then(|s| s.containers.first_mut()) {
            c.image = Some(image.to_owned());
        }
        self
    }

    pub fn revision(mut self, revision: &str) -> Self {
        self.0.labels_mut().insert(REVISION_LABEL.to_owned(), revision.to_owned());
        self
    }

    pub fn ready(self, ready: bool) -> Self {
        self.ready_condition(ready, created())
    }

    pub fn ready_since(self, since: Timestamp) -> Self {
        self.ready_condition(true, since)
    }

    fn ready_condition(mut self, ready: bool, since: Timestamp) -> Self {
        let status = self.0.status.as_mut().unwrap();
        status.conditions = Some(vec![PodCondition {
            type_: "Ready".to_owned(),
            status: if ready { "True" } else { "False" }.to_owned(),
            last_transition_time: Some(Time(since)),
            ..Default::default()
        }]);
        self
    }

    pub fn crash_looping(mut self) -> Self {
        self = self.ready(false);
        self.0.status.as_mut().unwrap().container_statuses = Some(vec![ContainerStatus {
            name: "app".to_owned(),
            restart_count: 4,
            state: Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("CrashLoopBackOff".to_owned()),
                    message: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }]);
        self
    }

    pub fn node(mut self, node: &str) -> Self {
        self.0.spec.as_mut().unwrap().node_name = Some(node.to_owned());
        self
    }

    pub fn uid(mut self, uid: &str) -> Self {
        self.0.metadata.uid = Some(uid.to_owned());
        self
    }

    pub fn terminating(mut self) -> Self {
        self.0.metadata.deletion_timestamp = Some(Time(created()));
        self
    }

    /// Pending and unscheduled: no node, no IP, not Ready.
    pub fn unscheduled(mut self) -> Self {
        self = self.ready(false);
        self.0.spec.as_mut().unwrap().node_name = None;
        let status = self.0.status.as_mut().unwrap();
        status.phase = Some("Pending".to_owned());
        status.pod_ip = None;
        self
    }

    pub fn mounting(mut self, claim: &str) -> Self {
        let spec = self.0.spec.as_mut().unwrap();
        spec.volumes.get_or_insert_with(Vec::new).push(Volume {
            name: claim.to_owned(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.to_owned(),
                read_only: None,
            }),
            ..Default::default()
        });
        self
    }

    pub fn build(self) -> Pod {
        self.0
    }
}

/// A pod owned by nobody, for "some other pod mounts it" cases.
pub fn bare_pod(name: &str) -> PodBuilder {
    PodBuilder(Pod {
        metadata: meta(name, Some(NAMESPACE)),
        spec: Some(PodSpec::default()),
        status: Some(PodStatus::default()),
    })
}

pub struct PvcBuilder(PersistentVolumeClaim);

/// A Bound 1Gi claim on volume `pv-<name>` of class `standard`, with no labels.
pub fn pvc(name: &str) -> PvcBuilder {
    let storage = BTreeMap::from([("storage".to_owned(), Quantity("1Gi".to_owned()))]);
    PvcBuilder(PersistentVolumeClaim {
        metadata: meta(name, Some(NAMESPACE)),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            storage_class_name: Some("standard".to_owned()),
            volume_name: Some(format!("pv-{name}")),
            resources: Some(VolumeResourceRequirements { requests: Some(storage.clone()), limits: None }),
            ..Default::default()
        }),
        status: Some(PersistentVolumeClaimStatus {
            phase: Some("Bound".to_owned()),
            capacity: Some(storage),
            ..Default::default()
        }),
    })
}

impl PvcBuilder {
    pub fn labels(mut self, pairs: &[(&str, &str)]) -> Self {
        self.0.metadata.labels = Some(labels(pairs));
        self
    }

    /// Labelled and owned like the controller's own claims for `sts`.
    pub fn of(self, sts: &StatefulSet) -> Self {
        self.labels(&[("app", &sts.name_any())])
    }

    pub fn owner(mut self, sts: &StatefulSet) -> Self {
        self.0.metadata.owner_references = Some(vec![owner(sts)]);
        self
    }

    pub fn namespace(mut self, namespace: &str) -> Self {
        self.0.metadata.namespace = Some(namespace.to_owned());
        self
    }

    pub fn phase(mut self, phase: &str) -> Self {
        self.0.status.as_mut().unwrap().phase = Some(phase.to_owned());
        if phase == "Pending" {
            self.0.spec.as_mut().unwrap().volume_name = None;
            self.0.status.as_mut().unwrap().capacity = None;
        }
        self
    }

    pub fn capacity(mut self, quantity: &str) -> Self {
        let storage = BTreeMap::from([("storage".to_owned(), Quantity(quantity.to_owned()))]);
        self.0.status.as_mut().unwrap().capacity = Some(storage);
        self
    }

    pub fn terminating(mut self) -> Self {
        self.0.metadata.deletion_timestamp = Some(Time(created()));
        self
    }

    /// `spec.resources.requests.storage`, as a resize sets it.
    pub fn request(mut self, quantity: &str) -> Self {
        let resources = self.0.spec.as_mut().unwrap().resources.as_mut().unwrap();
        resources.requests = Some(BTreeMap::from([("storage".to_owned(), Quantity(quantity.to_owned()))]));
        self
    }

    pub fn class(mut self, class: &str) -> Self {
        self.0.spec.as_mut().unwrap().storage_class_name = Some(class.to_owned());
        self
    }

    /// What the resizer writes: the condition `kind` (True) with `message`, and
    /// `allocatedResourceStatuses.storage` = `status` with `allocatedResources` = the request.
    pub fn resizing(mut self, kind: Option<&str>, message: &str, status: Option<&str>) -> Self {
        let request = self.0.spec.as_ref().unwrap().resources.as_ref().unwrap().requests.clone();
        let st = self.0.status.as_mut().unwrap();
        st.conditions = kind.map(|kind| {
            vec![k8s_openapi::api::core::v1::PersistentVolumeClaimCondition {
                type_: kind.to_owned(),
                status: "True".to_owned(),
                message: Some(message.to_owned()),
                ..Default::default()
            }]
        });
        st.allocated_resources = request;
        st.allocated_resource_statuses =
            status.map(|s| BTreeMap::from([("storage".to_owned(), s.to_owned())]));
        self
    }

    pub fn build(self) -> PersistentVolumeClaim {
        self.0
    }
}

/// The PersistentVolume `pv-<claim>` bound to the claim `claim` of namespace `default` (its
/// claimRef carries the uid [`pvc`] gives that claim).
pub fn pv(claim: &str, reclaim_policy: &str) -> PersistentVolume {
    PersistentVolume {
        metadata: meta(&format!("pv-{claim}"), None),
        spec: Some(PersistentVolumeSpec {
            persistent_volume_reclaim_policy: Some(reclaim_policy.to_owned()),
            storage_class_name: Some("standard".to_owned()),
            claim_ref: Some(ObjectReference {
                kind: Some("PersistentVolumeClaim".to_owned()),
                namespace: Some(NAMESPACE.to_owned()),
                name: Some(claim.to_owned()),
                uid: meta(claim, Some(NAMESPACE)).uid,
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: Some(PersistentVolumeStatus { phase: Some("Bound".to_owned()), ..Default::default() }),
    }
}

/// A StorageClass; `offline` declares it with the plugin's expansion annotation.
pub fn storage_class(
    name: &str,
    expandable: bool,
    offline: bool,
) -> k8s_openapi::api::storage::v1::StorageClass {
    let mut class = k8s_openapi::api::storage::v1::StorageClass {
        metadata: meta(name, None),
        provisioner: "kwok".to_owned(),
        allow_volume_expansion: expandable.then_some(true),
        ..Default::default()
    };
    if offline {
        class.metadata.annotations =
            Some(BTreeMap::from([(super::resize::EXPANSION_ANNOTATION.to_owned(), "offline".to_owned())]));
    }
    class
}

pub fn node(name: &str, ready: &str) -> Node {
    Node {
        metadata: meta(name, None),
        spec: None,
        status: Some(NodeStatus {
            conditions: Some(vec![NodeCondition {
                type_: "Ready".to_owned(),
                status: ready.to_owned(),
                last_transition_time: Some(Time(created())),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

fn container_port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_owned()),
        container_port: port,
        protocol: Some("TCP".to_owned()),
        ..Default::default()
    }
}

/// A Service port as the API server stores it: protocol TCP, `targetPort` defaulted to `port`.
pub fn service_port(name: Option<&str>, port: i32, target: Option<IntOrString>) -> ServicePort {
    ServicePort {
        name: name.map(str::to_owned),
        port,
        protocol: Some("TCP".to_owned()),
        target_port: Some(target.unwrap_or(IntOrString::Int(port))),
        ..Default::default()
    }
}

/// A headless Service selecting `app=<name>`.
pub fn service(name: &str) -> Service {
    Service {
        metadata: meta(name, Some(NAMESPACE)),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            selector: Some(labels(&[("app", name)])),
            ..Default::default()
        }),
        status: None,
    }
}

/// What `status` reads for `sts`: its pods and claims as given, its Service, a Delete PV per
/// claim, and Nodes `node-0` (Ready) and `node-down` (Unknown).
pub fn status_snapshot(
    sts: &StatefulSet,
    pods: Vec<Pod>,
    pvcs: Vec<PersistentVolumeClaim>,
) -> super::reads::Reads {
    let volumes = pvcs.iter().map(|p| pv(&p.name_any(), "Delete")).collect();
    super::reads::Reads {
        statefulsets: vec![sts.clone()],
        pods,
        pvcs,
        services: vec![service(&sts.name_any())],
        volumes: Some(volumes),
        nodes: Some(vec![node("node-0", "True"), node("node-down", "Unknown")]),
        budgets: Some(Vec::new()),
        ..Default::default()
    }
}
