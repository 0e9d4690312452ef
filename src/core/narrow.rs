//! What `-A` must read of pods, decided from the StatefulSets and claims alone, so that a
//! cluster of tens of thousands of pods is not read in full to look at its StatefulSets.
//!
//! The model of a StatefulSet needs its own pods, which the API server selects by the label
//! only StatefulSet pods carry ([`POD_NAME_LABEL`]). Other pods matter in one way only: a claim
//! they mount. That decides two things, and only in the namespace of the claim:
//!
//! - whether a claim outside a StatefulSet's live ordinals is an orphan (`core::orphans`: a
//!   mounted claim is kept), which `status` reports and `pvc prune` deletes by;
//! - the advice `status` gives for a claim smaller than its template or resizing, which names
//!   the pod that uses it ([`status::resize_relevant`]).
//!
//! Every pod of those namespaces is read, so a prune still sees every pod that mounts a claim
//! it would delete; elsewhere no claim's fate depends on who mounts it. So is every pod of a
//! namespace where a StatefulSet has a live ordinal that no labelled pod holds: its pod may be
//! missing, or be one the controller adopted but could never label (a pod without the claims
//! its template asks for is immutable to the controller's update, kubernetes#141876), or its
//! name be held by a pod that is not the set's (`core::members`), which only reading every pod
//! tells apart. And so is every pod of a namespace where a StatefulSet's controller counts more
//! pods (`status.replicas`) than the labelled pods it controls: it has taken a pod it could
//! never label, such as a stray named `web-07` outside its live ordinals (`core::members`). A
//! stray that takes turns with the set's own pod at an ordinal (`web-01` beside `web-1`) is
//! counted instead of it, which nothing read here betrays: `status NAME`, which reads the set's
//! pods by its selector, finds it.

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;

use super::claims::claims_of;
use super::members::uncounted;
pub use super::objects::POD_NAME_LABEL;
use super::objects::{ordinal_range, pods_of};
use super::status;

/// The namespaces where every pod must be read: those of a StatefulSet with a claim outside
/// its live ordinals, one that `status` advises on resizing, or a live ordinal that none of
/// `labelled` (the pods read by [`POD_NAME_LABEL`]) holds.
pub fn namespaces_needing_every_pod(
    statefulsets: &[StatefulSet],
    pvcs: &[PersistentVolumeClaim],
    labelled: &[Pod],
) -> BTreeSet<String> {
    let mut by_owner: HashMap<&str, Vec<&Pod>> = HashMap::new();
    for pod in labelled {
        for owner in pod.owner_references() {
            by_owner.entry(owner.uid.as_str()).or_default().push(pod);
        }
    }
    let unheld = |sts: &StatefulSet| {
        let owned: &[&Pod] =
            sts.metadata.uid.as_deref().and_then(|uid| by_owner.get(uid)).map_or(&[], Vec::as_slice);
        unheld(sts, owned.iter().copied()) || uncounted(sts, owned.iter().copied()) > 0
    };
    statefulsets
        .iter()
        .filter(|sts| {
            claims_of(sts, pvcs).iter().any(|c| !c.live || status::resize_relevant(sts, c)) || unheld(sts)
        })
        .filter_map(ResourceExt::namespace)
        .collect()
}

/// Whether some live ordinal of `sts` has no pod of it among `pods`: then who holds the name
/// (nobody yet, or a pod that is not the set's) takes every pod of its namespace to tell.
pub fn unheld<'p>(sts: &StatefulSet, pods: impl IntoIterator<Item = &'p Pod>) -> bool {
    let range = ordinal_range(sts);
    let held = pods_of(sts, pods).iter().filter(|(o, _)| range.contains(*o)).count();
    i64::try_from(held).unwrap_or(i64::MAX) < i64::from(range.replicas.max(0))
}

/// A pod that belongs to no StatefulSet, reduced to what the rules read of it: identity,
/// labels, owners, creation and deletion, the claims it mounts, its node and its phase.
/// Reading every pod of a namespace then keeps only this much of each (a pod's JSON is mostly
/// containers, managed fields and status, none of which decides a claim's fate).
pub fn slim_pod(pod: Pod) -> Pod {
    let Pod { metadata, spec, status } = pod;
    let metadata = ObjectMeta {
        name: metadata.name,
        namespace: metadata.namespace,
        uid: metadata.uid,
        labels: metadata.labels,
        owner_references: metadata.owner_references,
        creation_timestamp: metadata.creation_timestamp,
        deletion_timestamp: metadata.deletion_timestamp,
        ..ObjectMeta::default()
    };
    let spec = spec.map(|spec| PodSpec {
        volumes: spec
            .volumes
            .map(|volumes| volumes.into_iter().filter(|v| v.persistent_volume_claim.is_some()).collect()),
        node_name: spec.node_name,
        ..PodSpec::default()
    });
    let status = status.map(|status| PodStatus { phase: status.phase, ..PodStatus::default() });
    Pod { metadata, spec, status }
}

/// Whether `pod` is a StatefulSet's (carries [`POD_NAME_LABEL`], or a StatefulSet is its
/// controller, as for an adopted pod the controller could not label): kept whole, since
/// `status` shows it.
pub fn statefulset_pod(pod: &Pod) -> bool {
    pod.labels().contains_key(POD_NAME_LABEL)
        || pod.owner_references().iter().any(|o| o.controller == Some(true) && o.kind == "StatefulSet")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::*;
    use crate::core::objects::{mounted_claims, owned_by, terminating};
    use crate::core::orphans::{Rules, Verdict};
    use crate::core::reads::Reads;

    fn in_namespace(mut sts: StatefulSet, namespace: &str) -> StatefulSet {
        sts.metadata.namespace = Some(namespace.to_owned());
        sts
    }

    /// Pod `ordinal` of `sts`, in its namespace.
    fn pod_of(sts: &StatefulSet, ordinal: i32) -> Pod {
        let mut pod = pod(sts, ordinal).build();
        pod.metadata.namespace = sts.metadata.namespace.clone();
        pod
    }

    #[test]
    fn only_namespaces_where_a_claim_depends_on_who_mounts_it() {
        let plain = in_namespace(sts("plain", 2).templates(&["data"]).build(), "a");
        let shrunk = in_namespace(sts("shrunk", 1).templates(&["data"]).build(), "b");
        let small = in_namespace(sts("small", 1).templates(&["data"]).template_size("2Gi").build(), "c");
        let bare = in_namespace(sts("bare", 3).build(), "d");
        let pvcs = vec![
            pvc("data-plain-0").namespace("a").of(&plain).build(),
            pvc("data-plain-1").namespace("a").of(&plain).build(),
            pvc("data-shrunk-0").namespace("b").of(&shrunk).build(),
            // Left by a scale-down: an orphan only if no pod of namespace b mounts it.
            pvc("data-shrunk-1").namespace("b").of(&shrunk).build(),
            // 1Gi under a 2Gi template: the resize advice names the pod that mounts it.
            pvc("data-small-0").namespace("c").of(&small).build(),
        ];
        let pods: Vec<Pod> =
            [(&plain, 0), (&plain, 1), (&shrunk, 0), (&small, 0), (&bare, 0), (&bare, 1), (&bare, 2)]
                .into_iter()
                .map(|(sts, o)| pod_of(sts, o))
                .collect();
        let needed = namespaces_needing_every_pod(&[plain, shrunk, small, bare], &pvcs, &pods);
        assert_eq!(needed, BTreeSet::from(["b".to_owned(), "c".to_owned()]));
    }

    #[test]
    fn a_look_alike_claim_outside_the_live_ordinals_needs_the_namespace_read() {
        // Named like web's claim but vouched for by nothing: still outside, still judged.
        let web = sts("web", 1).templates(&["data"]).build();
        let namespace = web.namespace().unwrap();
        let pvcs = vec![pvc("data-web-0").of(&web).build(), pvc("data-web-4").build()];
        let pods = vec![pod(&web, 0).build()];
        assert_eq!(namespaces_needing_every_pod(&[web], &pvcs, &pods), BTreeSet::from([namespace]));
    }

    #[test]
    fn a_slim_pod_answers_every_question_the_rules_ask() {
        let web = sts("web", 2).templates(&["data"]).build();
        let mut backup = bare_pod("backup").mounting("data-web-3").node("n1").terminating().build();
        backup.metadata.owner_references = pod(&web, 0).build().metadata.owner_references;
        backup.status.get_or_insert_default().phase = Some("Running".to_owned());
        let slim = slim_pod(backup.clone());
        assert_eq!(mounted_claims(&slim).collect::<Vec<_>>(), mounted_claims(&backup).collect::<Vec<_>>());
        assert_eq!(owned_by(&slim, &web), owned_by(&backup, &web));
        assert_eq!(terminating(&slim), terminating(&backup));
        assert_eq!(slim.status.unwrap().phase.as_deref(), Some("Running"));
        assert_eq!(slim.metadata.name, backup.metadata.name);
        assert_eq!(slim.spec.unwrap().node_name.as_deref(), Some("n1"));
    }

    #[test]
    fn a_claim_mounted_by_a_slim_pod_is_kept() {
        let web = sts("web", 2).templates(&["data"]).build();
        let pvcs: Vec<_> = (0..4).map(|o| pvc(&format!("data-web-{o}")).of(&web).build()).collect();
        let mut pods: Vec<Pod> = (0..2).map(|o| pod(&web, o).build()).collect();
        pods.push(slim_pod(bare_pod("reader").mounting("data-web-3").build()));
        let snapshot = Reads { statefulsets: vec![web.clone()], pods, pvcs, ..Default::default() };
        let verdicts: Vec<_> = Rules::new(&snapshot)
            .judge(&web, false)
            .into_iter()
            .map(|o| (o.claim.ordinal, o.verdict))
            .collect();
        assert_eq!(verdicts, [(2, Verdict::Prune), (3, Verdict::Keep)]);
    }

    #[test]
    fn a_live_ordinal_no_labelled_pod_holds_needs_the_namespace_read() {
        // web-1 was adopted without its claims: owned, but the controller could not label it,
        // so the label selector does not return it.
        let web = in_namespace(sts("web", 2).templates(&["data"]).build(), "a");
        let pvcs = vec![pvc("data-web-0").namespace("a").of(&web).build()];
        let labelled = vec![pod_of(&web, 0)];
        assert_eq!(
            namespaces_needing_every_pod(std::slice::from_ref(&web), &pvcs, &labelled),
            BTreeSet::from(["a".to_owned()])
        );
        let both = vec![pod_of(&web, 0), pod_of(&web, 1)];
        assert_eq!(namespaces_needing_every_pod(&[web], &pvcs, &both), BTreeSet::new());
    }

    #[test]
    fn a_set_counting_more_pods_than_its_labelled_ones_needs_the_namespace_read() {
        // web counts a stray web-01 it adopted but could never label (the name is not web-1).
        let mut web = in_namespace(sts("web", 2).templates(&["data"]).build(), "a");
        web.status.as_mut().unwrap().replicas = 3;
        let pvcs = vec![
            pvc("data-web-0").namespace("a").of(&web).build(),
            pvc("data-web-1").namespace("a").of(&web).build(),
        ];
        let labelled = vec![pod_of(&web, 0), pod_of(&web, 1)];
        assert_eq!(
            namespaces_needing_every_pod(std::slice::from_ref(&web), &pvcs, &labelled),
            BTreeSet::from(["a".to_owned()])
        );
        web.status.as_mut().unwrap().replicas = 2;
        assert_eq!(namespaces_needing_every_pod(&[web], &pvcs, &labelled), BTreeSet::new());
    }

    #[test]
    fn statefulset_pods_are_told_by_their_label_or_their_controller() {
        let web = sts("web", 1).build();
        assert!(statefulset_pod(&pod(&web, 0).build()));
        assert!(!statefulset_pod(&bare_pod("backup").build()));
        let mut adopted = pod(&web, 0).build();
        adopted.metadata.labels.as_mut().unwrap().remove(POD_NAME_LABEL);
        assert!(statefulset_pod(&adopted));
        assert!(!statefulset_pod(&slim_pod(bare_pod("backup").build())));
    }
}
