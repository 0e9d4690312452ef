//! Whether a StatefulSet pod on a failed node may be force-deleted: only on evidence that its
//! node is really gone, because a StatefulSet promises at most one pod per identity and a
//! force delete of a pod whose kubelet still runs it breaks that promise.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde::Serialize;

use super::objects::{
    mounted_claims, node_matches, node_name, node_ready_condition, pod_ready, pv_node_terms, pvc_volume,
    terminating,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    pub pod: String,
    pub node: Option<String>,
    /// The node object still exists.
    pub node_exists: bool,
    /// Its Ready condition: "True", "False" or "Unknown".
    pub ready: Option<String>,
    /// Seconds since the Ready condition last changed.
    pub ready_for_seconds: Option<i64>,
    /// Seconds since the node's kubelet last renewed its Lease (`None`: no Lease).
    pub lease_renewed_seconds_ago: Option<i64>,
    pub pod_terminating: bool,
    /// The longest the pod's own record proves it down: its Ready condition False or Unknown,
    /// its DisruptionTarget condition (eviction), or its deletion requested, seconds ago.
    pub pod_down_seconds: Option<i64>,
    /// The pod's claims whose volumes only its node can use ([`pinned_volumes`]).
    pub pinned_volumes: Vec<PinnedVolume>,
}

/// A claim of the pod whose volume no other node can use (a local volume and the like): a
/// replacement of the pod could start only on the pod's own node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PinnedVolume {
    pub claim: String,
    pub volume: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Every sign says the node is gone: force-deleting the pod is safe.
    Gone(Evidence),
    /// The node may be alive, or the pod is not on a node: refuse, with the reasons.
    Alive(Evidence, Vec<String>),
}

/// Why `recover` will not force-delete the pod.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The evidence does not say the node is gone ([`Judgement::Alive`]).
    #[error("refusing to force-delete {pod}: {}; nothing was changed", .reasons.join("; "))]
    NodeAlive { pod: String, reasons: Vec<String> },
    #[error("pod {pod} does not belong to a StatefulSet: recover only handles StatefulSet pods")]
    NotAStatefulSetPod { pod: String },
}

/// Judges the node of `pod` from its Node object and Lease, requiring the node to have been
/// NotReady, and its Lease unrenewed, for at least `min_down_seconds`. The volumes `pinned` to
/// that node are part of the evidence, not a reason to refuse: they say where the replacement
/// can start (only there), which the run says before it acts.
pub fn judge(
    pod: &Pod,
    node: Option<&Node>,
    lease: Option<&Lease>,
    pinned: &[PinnedVolume],
    min_down_seconds: i64,
    now: Timestamp,
) -> Judgement {
    let since = |t: Timestamp| now.as_second() - t.as_second();
    let ready = node.and_then(node_ready_condition);
    let renewed = lease.and_then(|l| l.spec.as_ref()?.renew_time.as_ref()).map(|t| since(t.0));
    let pod_down = pod_down_since(pod).map(since);
    let evidence = Evidence {
        pod: pod.name_any(),
        node: node_name(pod).map(str::to_owned),
        node_exists: node.is_some(),
        ready: ready.map(|(status, _)| status.to_owned()),
        ready_for_seconds: ready.and_then(|(_, t)| t).map(|t| since(t.0)),
        lease_renewed_seconds_ago: renewed,
        pod_terminating: terminating(pod),
        pod_down_seconds: pod_down,
        pinned_volumes: pinned.to_vec(),
    };
    let mut alive = Vec::new();
    let node_label = evidence.node.clone().unwrap_or_default();
    if evidence.node.is_none() {
        alive.push(format!(
            "pod {} is not scheduled on any node: there is nothing to recover from",
            evidence.pod
        ));
    } else if node.is_none() {
        // A Node object that vanished is no proof the machine stopped: `kubectl delete node` on a
        // running machine is answered by its kubelet registering again. Only the pod's own
        // record can prove how long it has been down.
        if !evidence.pod_terminating {
            alive.push(format!(
                "node {node_label} is gone from the API, which does not prove the machine stopped, and pod {} is not \
                 being deleted (no eviction or deletion on record)",
                evidence.pod
            ));
        } else {
            match pod_down {
                Some(down) if down >= min_down_seconds => {}
                Some(down) => alive.push(format!(
                    "node {node_label} is gone from the API, which does not prove the machine stopped, and the pod's \
                     record shows it down for only {down}s (less than --min-down {min_down_seconds}s)"
                )),
                None => alive.push(format!(
                    "node {node_label} is gone from the API, which does not prove the machine stopped, and nothing in \
                     the pod's record (Ready condition, eviction, deletion) shows how long it has been down"
                )),
            }
        }
    } else if node.is_some() {
        match (evidence.ready.as_deref(), evidence.ready_for_seconds) {
            (Some("True"), _) => alive.push(format!("node {node_label} is Ready")),
            (None, _) => alive.push(format!("node {node_label} reports no Ready condition")),
            (Some(_), Some(down)) if down < min_down_seconds => alive.push(format!(
                "node {node_label} has been NotReady for only {down}s (less than --min-down {min_down_seconds}s)"
            )),
            _ => {}
        }
        if let Some(ago) = renewed.filter(|ago| *ago < min_down_seconds) {
            alive.push(format!(
                "the kubelet of {node_label} renewed its Lease {ago}s ago: it may still be running the pod"
            ));
        }
    }
    if alive.is_empty() { Judgement::Gone(evidence) } else { Judgement::Alive(evidence, alive) }
}

/// The claims `pod` mounts whose volumes only its node can use: the PV's required node affinity
/// (`objects::pv_node_terms`) matches none of `others` (the cluster's other nodes), or, when those
/// could not be listed, names the node by `kubernetes.io/hostname` in every term (local volumes,
/// local-path, OpenEBS LocalPV, TopoLVM). A claim being deleted is left out: the replacement
/// gets a new one.
pub fn pinned_volumes(
    pod: &Pod,
    claims: &[PersistentVolumeClaim],
    volumes: &[PersistentVolume],
    node: Option<&Node>,
    others: Option<&[Node]>,
) -> Vec<PinnedVolume> {
    const HOSTNAME: &str = "kubernetes.io/hostname";
    let Some(node_name) = node_name(pod) else { return Vec::new() };
    let hostname =
        node.and_then(|n| n.labels().get(HOSTNAME).cloned()).unwrap_or_else(|| node_name.to_owned());
    mounted_claims(pod)
        .filter_map(|name| claims.iter().find(|c| c.name_any() == name))
        .filter(|claim| !terminating(*claim))
        .filter_map(|claim| {
            let volume = volumes.iter().find(|v| Some(v.name_any().as_str()) == pvc_volume(claim))?;
            let terms = pv_node_terms(volume);
            let pinned = !terms.is_empty()
                && match others {
                    Some(others) => !others
                        .iter()
                        .any(|n| n.name_any() != node_name && terms.iter().any(|t| node_matches(n, t))),
                    None => terms.iter().all(|term| {
                        term.match_expressions.iter().flatten().any(|e| {
                            e.key == HOSTNAME
                                && e.operator == "In"
                                && e.values
                                    .as_ref()
                                    .is_some_and(|v| !v.is_empty() && v.iter().all(|h| *h == hostname))
                        })
                    }),
                };
            pinned.then(|| PinnedVolume { claim: claim.name_any(), volume: volume.name_any() })
        })
        .collect()
}

/// The earliest moment the pod's own record shows it down: its Ready condition turning False
/// or Unknown, its DisruptionTarget condition (set when it is evicted, e.g. by the taint
/// manager), or its deletion being requested (deletionTimestamp minus the grace period).
fn pod_down_since(pod: &Pod) -> Option<Timestamp> {
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
    let not_ready = conditions
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready" && c.status != "True"))
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0);
    let evicted = conditions
        .and_then(|c| c.iter().find(|c| c.type_ == "DisruptionTarget" && c.status == "True"))
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0);
    let deletion_requested = pod.metadata.deletion_timestamp.as_ref().and_then(|t| {
        let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0);
        Timestamp::from_second(t.0.as_second() - grace).ok()
    });
    [not_ready, evicted, deletion_requested].into_iter().flatten().min()
}

/// The pod the StatefulSet controller created in place of `old`: of its name, with another uid.
pub fn replacement_pod<'a>(old: &Pod, pods: &'a [Pod]) -> Option<&'a Pod> {
    pods.iter().find(|p| p.name_any() == old.name_any() && p.uid() != old.uid())
}

/// How the replacement of a force-deleted pod stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replacement {
    /// Not there yet: no new pod of that name, or not Ready (or already going).
    Waiting,
    /// A new pod, Ready on another node with the same claims: recovered.
    Recovered { node: String, claims: Vec<String> },
    /// A new pod, Ready, but not what recovery means: `why`.
    Wrong { why: String },
}

/// Judges the pods now against the pod `old` that was force-deleted from `old_node`, which
/// mounted `claims`: its replacement is the pod of the same name with another uid, Ready, on
/// another node, mounting the same claims.
pub fn replacement(old: &Pod, old_node: &str, claims: &[String], pods: &[Pod]) -> Replacement {
    let Some(new) = replacement_pod(old, pods) else {
        return Replacement::Waiting;
    };
    if !pod_ready(new) || terminating(new) {
        return Replacement::Waiting;
    }
    let node = node_name(new).unwrap_or_default().to_owned();
    let mounted: Vec<String> = mounted_claims(new).map(str::to_owned).collect();
    if node == old_node {
        return Replacement::Wrong { why: format!("its replacement was scheduled on {old_node} again") };
    }
    if mounted != claims {
        return Replacement::Wrong { why: format!("its replacement mounts {mounted:?}, not {claims:?}") };
    }
    Replacement::Recovered { node, claims: mounted }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::{created, node, pod, pv, pvc, sts};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    fn lease(renewed: Timestamp) -> Lease {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "node-0", "namespace": "kube-node-lease"},
            "spec": {"renewTime": MicroTime(renewed)}
        }))
        .unwrap()
    }

    fn at(seconds_after_created: i64) -> Timestamp {
        Timestamp::from_second(created().as_second() + seconds_after_created).unwrap()
    }

    #[test]
    fn a_node_down_long_enough_with_a_stale_lease_is_gone() {
        let web = sts("web", 1).build();
        let p = pod(&web, 0).build();
        let judgement =
            judge(&p, Some(&node("node-0", "Unknown")), Some(&lease(created())), &[], 300, at(600));
        let Judgement::Gone(evidence) = judgement else { panic!("{judgement:?}") };
        assert_eq!((evidence.ready_for_seconds, evidence.lease_renewed_seconds_ago), (Some(600), Some(600)));
    }

    #[test]
    fn any_sign_of_life_refuses() {
        let web = sts("web", 1).build();
        let p = pod(&web, 0).build();
        let reasons = |j: Judgement| match j {
            Judgement::Alive(_, reasons) => reasons,
            Judgement::Gone(e) => panic!("judged gone: {e:?}"),
        };
        assert_eq!(
            reasons(judge(&p, Some(&node("node-0", "True")), None, &[], 300, at(600))),
            ["node node-0 is Ready"]
        );
        let early = reasons(judge(&p, Some(&node("node-0", "Unknown")), None, &[], 300, at(60)));
        assert_eq!(early, ["node node-0 has been NotReady for only 60s (less than --min-down 300s)"]);
        let renewing =
            reasons(judge(&p, Some(&node("node-0", "False")), Some(&lease(at(590))), &[], 300, at(600)));
        assert_eq!(
            renewing,
            ["the kubelet of node-0 renewed its Lease 10s ago: it may still be running the pod"]
        );
        let mut unscheduled = p.clone();
        unscheduled.spec.as_mut().unwrap().node_name = None;
        assert!(reasons(judge(&unscheduled, None, None, &[], 300, at(600)))[0].contains("not scheduled"));
    }

    #[test]
    fn a_vanished_node_object_is_no_proof_without_the_pods_own_record() {
        let web = sts("web", 1).build();
        // A Running pod whose Node object was deleted (its kubelet will register again).
        let running = pod(&web, 0).build();
        let Judgement::Alive(_, reasons) = judge(&running, None, None, &[], 600, at(10)) else {
            panic!("judged gone")
        };
        assert!(reasons[0].contains("is not being deleted"), "{reasons:?}");
        // Evicted (Terminating) and not Ready since `created()`: down for 10s only.
        let evicted = pod(&web, 0).ready(false).terminating().build();
        let Judgement::Alive(_, reasons) = judge(&evicted, None, None, &[], 600, at(10)) else {
            panic!("judged gone")
        };
        assert!(reasons[0].contains("down for only 10s"), "{reasons:?}");
        // ... and once the record proves --min-down.
        let Judgement::Gone(evidence) = judge(&evicted, None, None, &[], 600, at(700)) else {
            panic!("judged alive")
        };
        assert_eq!(evidence.pod_down_seconds, Some(700));
    }

    #[test]
    fn the_replacement_is_a_new_ready_pod_on_another_node_with_the_same_claims() {
        let db = sts("db", 1).templates(&["data"]).build();
        let old = pod(&db, 0).uid("old").node("node-0").build();
        let claims = vec!["data-db-0".to_owned()];
        let new = |uid: &str, node: &str, ready: bool| pod(&db, 0).uid(uid).node(node).ready(ready).build();
        let cases = [
            (vec![old.clone()], Replacement::Waiting),
            (vec![new("new", "node-1", false)], Replacement::Waiting),
            (
                vec![new("new", "node-1", true)],
                Replacement::Recovered { node: "node-1".into(), claims: claims.clone() },
            ),
            (
                vec![new("new", "node-0", true)],
                Replacement::Wrong { why: "its replacement was scheduled on node-0 again".into() },
            ),
        ];
        for (pods, expected) in cases {
            assert_eq!(replacement(&old, "node-0", &claims, &pods), expected, "{pods:?}");
        }
        let elsewhere = replacement(&old, "node-0", &["data-db-9".to_owned()], &[new("new", "node-1", true)]);
        assert!(matches!(elsewhere, Replacement::Wrong { .. }), "{elsewhere:?}");
    }

    /// A PV whose required node affinity is `terms` (each a list of (key, operator, values)).
    fn pv_on(claim: &str, terms: &[&[(&str, &str, &[&str])]]) -> PersistentVolume {
        let mut volume = pv(claim, "Delete");
        let terms: Vec<serde_json::Value> = terms
            .iter()
            .map(|term| {
                let expressions: Vec<serde_json::Value> = term
                    .iter()
                    .map(|(key, operator, values)| serde_json::json!({"key": key, "operator": operator, "values": values}))
                    .collect();
                serde_json::json!({"matchExpressions": expressions})
            })
            .collect();
        volume.spec.as_mut().unwrap().node_affinity = Some(
            serde_json::from_value(serde_json::json!({"required": {"nodeSelectorTerms": terms}})).unwrap(),
        );
        volume
    }

    fn labelled(name: &str, labels: &[(&str, &str)]) -> Node {
        let mut n = node(name, "True");
        n.metadata.labels = Some(labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        n
    }

    #[test]
    fn a_volume_no_other_node_can_use_is_pinned() {
        let web = sts("web", 1).templates(&["data", "wal"]).build();
        let p = pod(&web, 0).node("node-0").build();
        let claims = [pvc("data-web-0").build(), pvc("wal-web-0").build()];
        let dead = labelled("node-0", &[("kubernetes.io/hostname", "node-0"), ("zone", "a")]);
        let others = [
            labelled("node-1", &[("kubernetes.io/hostname", "node-1"), ("zone", "a")]),
            labelled("node-2", &[("kubernetes.io/hostname", "node-2"), ("zone", "b")]),
        ];
        // data: a local volume on node-0; wal: any node of zone a (node-1 too).
        let volumes = [
            pv_on("data-web-0", &[&[("kubernetes.io/hostname", "In", &["node-0"])]]),
            pv_on("wal-web-0", &[&[("zone", "In", &["a"])]]),
        ];
        let pinned = pinned_volumes(&p, &claims, &volumes, Some(&dead), Some(&others));
        assert_eq!(pinned, [PinnedVolume { claim: "data-web-0".into(), volume: "pv-data-web-0".into() }]);
        // The nodes unreadable: the hostname alone tells (the zone volume is not judged pinned).
        assert_eq!(pinned_volumes(&p, &claims, &volumes, Some(&dead), None), pinned);
        // Another node that fits (a second term, NotIn, Exists): not pinned.
        let shared = [pv_on(
            "data-web-0",
            &[
                &[("kubernetes.io/hostname", "In", &["node-0"])],
                &[("zone", "NotIn", &["a"]), ("zone", "Exists", &[])],
            ],
        )];
        assert!(pinned_volumes(&p, &claims, &shared, Some(&dead), Some(&others)).is_empty());
        // A claim being deleted is not pinned: the replacement gets a new one.
        let deleting = [pvc("data-web-0").terminating().build()];
        assert!(pinned_volumes(&p, &deleting, &volumes, Some(&dead), Some(&others)).is_empty());
        // No node affinity (network storage): not pinned.
        assert!(
            pinned_volumes(&p, &claims, &[pv("data-web-0", "Delete")], Some(&dead), Some(&others)).is_empty()
        );
    }

    #[test]
    fn a_pinned_volume_is_evidence_not_a_refusal() {
        let web = sts("web", 1).build();
        let p = pod(&web, 0).node("node-0").build();
        let pinned = [PinnedVolume { claim: "data-web-0".into(), volume: "local-pv-1".into() }];
        let judgement =
            judge(&p, Some(&node("node-0", "Unknown")), Some(&lease(created())), &pinned, 300, at(600));
        let Judgement::Gone(evidence) = judgement else { panic!("refused: {judgement:?}") };
        assert_eq!(evidence.pinned_volumes, pinned);
    }
}
