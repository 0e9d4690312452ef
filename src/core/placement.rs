//! Where a pod can run, as the scheduler decides it: the nodes that can take it now (Ready, not
//! cordoned, taints it tolerates, its node selector and required node affinity), the nodes its
//! volumes pin it to (a PersistentVolume's `spec.nodeAffinity`: local volumes, zonal disks), and
//! the zone of a node. `status` uses it to say a pod cannot start (or restart) anywhere; `drain`
//! to refuse moving a member whose volume cannot follow it.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Node, PersistentVolume, Pod};
use kube::ResourceExt;

use super::objects::{named_nodes, node_matches, node_ready, pv_node_terms, taint_repels};

/// The well-known node label a node's zone is read from (kubernetes.io docs, "Well-Known
/// Labels, Annotations and Taints").
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// The zone of `node`, from its `topology.kubernetes.io/zone` label.
pub fn zone(node: &Node) -> Option<&str> {
    node.metadata.labels.as_ref()?.get(ZONE_LABEL).map(String::as_str)
}

pub fn cordoned(node: &Node) -> bool {
    node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true)
}

/// Why `node` cannot take `pod` now, in a few words (`node-7, which is cordoned`); `None` when
/// it can. The scheduler's filters that the API objects show: cordon, Ready, taints with
/// `NoSchedule`/`NoExecute` the pod does not tolerate, the pod's `nodeSelector` and its
/// required node affinity. (Resources and inter-pod affinity are not judged: they change with
/// every pod.)
pub fn unusable(node: &Node, pod: &Pod) -> Option<String> {
    let name = node.name_any();
    if cordoned(node) {
        return Some(format!("{name}, which is cordoned"));
    }
    if !node_ready(node) {
        return Some(format!("{name}, which is NotReady"));
    }
    let taints = node.spec.as_ref().and_then(|s| s.taints.as_ref());
    if let Some(t) = taints.into_iter().flatten().find(|t| taint_repels(pod, t)) {
        let value = t.value.as_deref().map(|v| format!("={v}")).unwrap_or_default();
        return Some(format!("{name}, whose taint {}{value}:{} the pod does not tolerate", t.key, t.effect));
    }
    let spec = pod.spec.as_ref();
    let labels = node.labels();
    let selector = spec.and_then(|s| s.node_selector.as_ref());
    if selector.is_some_and(|s| s.iter().any(|(k, v)| labels.get(k) != Some(v))) {
        return Some(format!("{name}, whose labels the pod's nodeSelector does not match"));
    }
    let required = spec
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref());
    if let Some(required) = required
        && !required.node_selector_terms.iter().any(|t| node_matches(node, t))
    {
        return Some(format!("{name}, which the pod's node affinity excludes"));
    }
    None
}

/// Why `node` cannot take `pod`, counting the nodes in `draining` as unable (they are being
/// cordoned for maintenance).
fn unusable_unless(node: &Node, pod: &Pod, draining: &[&str]) -> Option<String> {
    let name = node.name_any();
    if draining.contains(&name.as_str()) {
        return Some(format!("{name}, which is being drained"));
    }
    unusable(node, pod)
}

/// A volume that pins a pod to nodes where it cannot run now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    pub claim: String,
    pub volume: String,
    /// Each node the volume allows, and why it cannot take the pod ("gone" for a node named
    /// in the volume's affinity that does not exist).
    pub nodes: Vec<String>,
    /// Some node it allows is only cordoned: `kubectl uncordon` it.
    pub cordoned: Vec<String>,
    /// No Node object matches the affinity at all.
    pub gone: bool,
}

impl Pinned {
    /// `its volume pv-1 (PVC data-web-0) is pinned to node-7, which is cordoned`.
    pub fn describe(&self) -> String {
        format!("its volume {} (PVC {}) is pinned to {}", self.volume, self.claim, self.nodes.join(" and "))
    }
}

/// The volumes of `pod`'s claims (`claims`: each claim's name and bound volume) whose node
/// affinity no node that can take the pod satisfies, the nodes in `draining` counting as
/// unable. Volumes that are not read (not in `volumes`) are not judged.
pub fn pinned(
    pod: &Pod,
    claims: &[(String, Option<String>)],
    nodes: &[Node],
    volumes: &HashMap<&str, &PersistentVolume>,
    draining: &[&str],
) -> Vec<Pinned> {
    let mut found = Vec::new();
    for (claim, volume) in claims {
        let Some(pv) = volume.as_deref().and_then(|v| volumes.get(v)) else { continue };
        let terms = pv_node_terms(pv);
        if terms.is_empty() {
            continue;
        }
        let allowed: Vec<&Node> = nodes.iter().filter(|n| terms.iter().any(|t| node_matches(n, t))).collect();
        let reasons: Vec<Option<String>> =
            allowed.iter().map(|n| unusable_unless(n, pod, draining)).collect();
        if reasons.iter().any(Option::is_none) {
            continue;
        }
        let mut described: Vec<String> = reasons.into_iter().flatten().collect();
        let named: Vec<String> = terms.iter().flat_map(named_nodes).collect();
        let gone: Vec<&String> =
            named.iter().filter(|n| !nodes.iter().any(|node| node.name_any() == **n)).collect();
        described.extend(gone.iter().map(|n| format!("{n}, which is gone (no Node object)")));
        if described.is_empty() {
            let zones = pinned_zones(pv);
            described.push(match zones.as_slice() {
                [] => "nodes matching its node affinity, of which there are none".to_owned(),
                [zone] => format!("zone {zone}, which has no node"),
                many => format!("zones {}, which have no node", many.join(", ")),
            });
        }
        let cordoned = allowed
            .iter()
            .filter(|n| cordoned(n) && !draining.contains(&n.name_any().as_str()))
            .filter(|n| {
                let mut uncordoned = (**n).clone();
                if let Some(spec) = uncordoned.spec.as_mut() {
                    spec.unschedulable = None;
                    spec.taints
                        .get_or_insert_default()
                        .retain(|t| t.key != "node.kubernetes.io/unschedulable");
                }
                unusable(&uncordoned, pod).is_none()
            })
            .map(|n| n.name_any())
            .collect();
        found.push(Pinned {
            claim: claim.clone(),
            volume: pv.name_any(),
            nodes: described,
            cordoned,
            gone: allowed.is_empty(),
        });
    }
    found
}

/// The zones a volume's node affinity names (`topology.kubernetes.io/zone In […]`), how zonal
/// disks are pinned.
pub fn pinned_zones(pv: &PersistentVolume) -> Vec<String> {
    pv_node_terms(pv)
        .iter()
        .flat_map(|t| t.match_expressions.iter().flatten())
        .filter(|e| e.key == ZONE_LABEL && e.operator == "In")
        .flat_map(|e| e.values.iter().flatten().cloned())
        .collect()
}

/// Where a pod can run once it is re-created, judged from its volumes and the nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Homes {
    /// Some volume of the pod is pinned to nodes (node affinity).
    pub pinned: bool,
    /// The nodes every pinned volume of the pod allows, by name (every node when none is pinned).
    pub allowed: Vec<String>,
    /// Of those, the nodes that can take the pod now (not in `draining`).
    pub usable: Vec<String>,
}

/// Where `pod` can run once re-created: the nodes that satisfy the node affinity of every one
/// of its volumes (`claims`: claim name and bound volume) at once, and of those the ones that
/// can take it now, the nodes in `draining` counting as unable. Two volumes pinned to different
/// zones leave it nowhere, though each alone would have somewhere.
pub fn homes(
    pod: &Pod,
    claims: &[(String, Option<String>)],
    nodes: &[Node],
    volumes: &HashMap<&str, &PersistentVolume>,
    draining: &[&str],
) -> Homes {
    let pins: Vec<&PersistentVolume> = claims
        .iter()
        .filter_map(|(_, volume)| volume.as_deref().and_then(|v| volumes.get(v)).copied())
        .filter(|pv| !pv_node_terms(pv).is_empty())
        .collect();
    let allowed: Vec<&Node> = nodes
        .iter()
        .filter(|n| pins.iter().all(|pv| pv_node_terms(pv).iter().any(|t| node_matches(n, t))))
        .collect();
    let usable = allowed.iter().filter(|n| unusable_unless(n, pod, draining).is_none()).map(|n| n.name_any());
    Homes {
        pinned: !pins.is_empty(),
        usable: usable.collect(),
        allowed: allowed.iter().map(|n| n.name_any()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{
        Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, NodeSpec,
        VolumeNodeAffinity,
    };

    use super::*;
    use crate::core::fixtures::*;

    fn labelled(name: &str, zone: &str) -> Node {
        let mut n = node(name, "True");
        n.metadata.labels = Some(
            [
                ("kubernetes.io/hostname".to_owned(), name.to_owned()),
                (ZONE_LABEL.to_owned(), zone.to_owned()),
            ]
            .into(),
        );
        n
    }

    fn pinned_by(claim: &str, key: &str, values: &[&str]) -> PersistentVolume {
        let mut volume = pv(claim, "Retain");
        volume.spec.as_mut().unwrap().node_affinity = Some(VolumeNodeAffinity {
            required: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(vec![NodeSelectorRequirement {
                        key: key.into(),
                        operator: "In".into(),
                        values: Some(values.iter().map(|v| (*v).to_owned()).collect()),
                    }]),
                    match_fields: None,
                }],
            }),
        });
        volume
    }

    #[test]
    fn a_node_is_unusable_for_each_scheduler_filter_the_objects_show() {
        let web = sts("web", 1).build();
        let plain = pod(&web, 0).build();
        let a = labelled("a", "z1");
        assert_eq!(unusable(&a, &plain), None);
        let mut cordon = a.clone();
        cordon.spec = Some(NodeSpec { unschedulable: Some(true), ..Default::default() });
        assert_eq!(unusable(&cordon, &plain).as_deref(), Some("a, which is cordoned"));
        assert_eq!(unusable(&node("b", "False"), &plain).as_deref(), Some("b, which is NotReady"));

        let mut selective = plain.clone();
        selective.spec.as_mut().unwrap().node_selector =
            Some([(ZONE_LABEL.to_owned(), "z2".to_owned())].into());
        assert_eq!(
            unusable(&a, &selective).as_deref(),
            Some("a, whose labels the pod's nodeSelector does not match")
        );
        assert_eq!(unusable(&labelled("c", "z2"), &selective), None);

        let mut affine = plain.clone();
        affine.spec.as_mut().unwrap().affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: ZONE_LABEL.into(),
                            operator: "NotIn".into(),
                            values: Some(vec!["z1".into()]),
                        }]),
                        match_fields: None,
                    }],
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(unusable(&a, &affine).as_deref(), Some("a, which the pod's node affinity excludes"));
        assert_eq!(unusable(&labelled("c", "z2"), &affine), None);
    }

    #[test]
    fn homes_are_where_every_pinned_volume_allows_and_the_pod_can_run() {
        let web = sts("web", 1).templates(&["data", "logs"]).build();
        let web_0 = pod(&web, 0).build();
        let nodes = vec![labelled("a", "z1"), labelled("b", "z1"), labelled("c", "z2")];
        let claims = vec![
            ("data-web-0".to_owned(), Some("pv-data-web-0".to_owned())),
            ("logs-web-0".to_owned(), Some("pv-logs-web-0".to_owned())),
        ];
        type Row = (
            &'static str,
            Vec<PersistentVolume>,
            &'static [&'static str],
            bool,
            Vec<&'static str>,
            Vec<&'static str>,
        );
        let cases: Vec<Row> = vec![
            (
                "unpinned",
                vec![pv("data-web-0", "Delete"), pv("logs-web-0", "Delete")],
                &[],
                false,
                vec!["a", "b", "c"],
                vec!["a", "b", "c"],
            ),
            (
                "local",
                vec![pinned_by("data-web-0", "kubernetes.io/hostname", &["a"]), pv("logs-web-0", "Delete")],
                &[],
                true,
                vec!["a"],
                vec!["a"],
            ),
            (
                "local, drained",
                vec![pinned_by("data-web-0", "kubernetes.io/hostname", &["a"])],
                &["a"],
                true,
                vec!["a"],
                vec![],
            ),
            (
                "zonal",
                vec![pinned_by("data-web-0", ZONE_LABEL, &["z1"])],
                &["a"],
                true,
                vec!["a", "b"],
                vec!["b"],
            ),
            (
                "two zones",
                vec![
                    pinned_by("data-web-0", ZONE_LABEL, &["z1"]),
                    pinned_by("logs-web-0", ZONE_LABEL, &["z2"]),
                ],
                &[],
                true,
                vec![],
                vec![],
            ),
        ];
        for (case, pvs, draining, is_pinned, allowed, usable) in cases {
            let volumes: HashMap<&str, &PersistentVolume> =
                pvs.iter().map(|v| (v.metadata.name.as_deref().unwrap(), v)).collect();
            let homes = homes(&web_0, &claims, &nodes, &volumes, draining);
            assert_eq!(
                (homes.pinned, homes.allowed.clone(), homes.usable.clone()),
                (
                    is_pinned,
                    allowed.iter().map(|s| (*s).to_owned()).collect(),
                    usable.iter().map(|s| (*s).to_owned()).collect()
                ),
                "{case}"
            );
        }
    }

    #[test]
    fn a_volume_pinned_to_a_zone_without_nodes_says_the_zone() {
        let web = sts("web", 1).build();
        let web_0 = pod(&web, 0).build();
        let pv = pinned_by("data-web-0", ZONE_LABEL, &["z9"]);
        let volumes: HashMap<&str, &PersistentVolume> = [("pv-data-web-0", &pv)].into();
        let claims = [("data-web-0".to_owned(), Some("pv-data-web-0".to_owned()))];
        let found = pinned(&web_0, &claims, &[labelled("a", "z1")], &volumes, &[]);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].describe(),
            "its volume pv-data-web-0 (PVC data-web-0) is pinned to zone z9, which has no node"
        );
        assert!(found[0].gone);
        let draining = pinned(&web_0, &claims, &[labelled("a", "z9")], &volumes, &["a"]);
        assert_eq!(draining[0].nodes, ["a, which is being drained"]);
        assert!(draining[0].cordoned.is_empty(), "a node being drained is not one to uncordon");
    }
}
