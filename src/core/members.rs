//! Which pods the StatefulSet controller takes as a StatefulSet's, by its own rules, where that
//! differs from the pods named `<sts>-<ordinal>` the rest of this tool works on.
//!
//! The controller (pkg/controller/statefulset, `getPodsForStatefulSet` and `ClaimPods`) takes
//! every pod of the namespace that it controls, or that has no controller, whose labels its
//! selector matches and whose name it reads as `<sts>-<digits>` (`isMemberOf`, through
//! `getParentNameAndOrdinal`, see [`controller_parent_and_ordinal`]): it adopts such an orphan
//! (adds its controller ownerReference) and releases a pod it controls once its labels stop
//! matching. Then (`stateful_set_control.go`, `updateStatefulSet`) it reads each pod's ordinal
//! from the digits, so `web-01` and `web-00` are ordinals 1 and 0 to it, and:
//!
//! - a pod whose ordinal is live takes that ordinal's place (`replicas[ord-start] = pod`, one
//!   pod per place, the last one listed winning, in no fixed order): a stray `web-01` and the
//!   set's `web-1` take turns at ordinal 1, and the controller tries to give whichever it holds
//!   the ordinal's identity by updating a pod named `web-1` (`updateIdentity` renames its copy):
//!   a conflict when `web-1` exists, "not found" at every sync when it does not, and then
//!   `web-1` is never created, since its place is taken;
//! - a pod whose ordinal is outside the live ordinals is condemned: deleted like a pod scaled
//!   away (under OrderedReady once every pod before it is Ready);
//! - a pod whose digits do not fit an int32 is ignored.
//!
//! Its `status.replicas` counts the pods in the live places and the condemned ones: a stray
//! holding a place the set's own pod lacks is counted, one taking turns with the set's own pod is
//! counted instead of it, an unnumbered one not at all. A pod named `<sts>-<ordinal>` for a live
//! ordinal that it does not take (another controller's, or an orphan its selector does not
//! match) keeps it from creating its own: the create fails with AlreadyExists at every sync.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::names::{pod_name, pod_ordinal};
use super::objects::{
    controller_of, controller_parent_and_ordinal, ordinal_range, pods_of, selected_by, terminating,
};

/// A pod the controller sees differently from its name: one it takes as the set's whose name
/// is not `<sts>-<ordinal>`, or one that holds a live ordinal's name without being the set's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stray {
    /// The controller takes it as the set's (it controls it, or will adopt it: no controller,
    /// labels its selector matches), but its name is not the one it gives that ordinal.
    Impostor {
        pod: String,
        /// The ordinal the controller reads from its name; `None` when the digits overflow.
        ordinal: Option<i32>,
        /// It carries the set's controller ownerReference already (else it is about to).
        adopted: bool,
        place: Place,
    },
    /// Named like a live ordinal's pod, but the controller does not take it.
    NameTaken { pod: String, ordinal: i32, holder: Holder },
}

/// Where an impostor stands among the set's ordinals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Its ordinal is live and the set's own pod of it exists: they take turns at the ordinal.
    Shares { pod: String },
    /// Its ordinal is live and the set has no pod of it: it holds the ordinal, so the
    /// controller never creates that pod.
    Holds { missing: String },
    /// Its ordinal is outside the live ordinals: the controller deletes it as it would a pod
    /// being scaled away.
    Condemned,
    /// Its digits overflow an int32: the controller ignores it (but owns it: deleting the set
    /// deletes it).
    Unnumbered,
}

/// Why a pod named like a live ordinal's pod is not the set's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// Another object controls it.
    Controller { kind: String, name: String },
    /// Nothing controls it, and the set's selector does not match its labels (so the controller
    /// does not adopt it).
    Unselected,
}

impl Stray {
    pub fn pod(&self) -> &str {
        match self {
            Stray::Impostor { pod, .. } | Stray::NameTaken { pod, .. } => pod,
        }
    }
}

/// The strays of `sts` among `pods`, by pod name. `pods` should hold every pod of its
/// namespace (a pod named like an ordinal's that its selector does not match is found only
/// then); with fewer, fewer are found, none wrongly.
pub fn strays(sts: &StatefulSet, pods: &[Pod]) -> Vec<Stray> {
    let name = sts.name_any();
    let uid = sts.metadata.uid.as_deref();
    let range = ordinal_range(sts);
    // While the set is being deleted the controller adopts nothing (and creates nothing).
    let deleting = terminating(sts);
    let ours = pods_of(sts, pods);
    let has = |ordinal: i32| ours.iter().any(|(o, _)| *o == ordinal);
    let mut found = Vec::new();
    for pod in pods.iter().filter(|p| p.namespace() == sts.namespace()) {
        let pod_name_ = pod.name_any();
        let Some((parent, ordinal)) = controller_parent_and_ordinal(&pod_name_) else { continue };
        if parent != name {
            continue;
        }
        let controller = controller_of(pod);
        let by_us = controller.is_some_and(|c| Some(c.uid.as_str()) == uid);
        if let Some(canonical) = pod_ordinal(&pod_name_, &name) {
            // Its name is the ordinal's: a problem only when it is live, the set lacks it and the
            // controller will not take this one.
            if !range.contains(canonical) || has(canonical) || by_us {
                continue;
            }
            let holder = match controller {
                Some(c) => Holder::Controller { kind: c.kind.clone(), name: c.name.clone() },
                // About to be adopted, or going away: nothing stands in the controller's way.
                None if deleting || terminating(pod) || selected_by(pod.labels(), sts) => continue,
                None => Holder::Unselected,
            };
            found.push(Stray::NameTaken { pod: pod_name_, ordinal: canonical, holder });
            continue;
        }
        let adoptable = controller.is_none() && !deleting && !terminating(pod);
        if !(by_us || adoptable) || !selected_by(pod.labels(), sts) {
            continue;
        }
        let place = match ordinal {
            None => Place::Unnumbered,
            Some(o) if !range.contains(o) => Place::Condemned,
            Some(o) if has(o) => Place::Shares { pod: pod_name(&name, o) },
            Some(o) => Place::Holds { missing: pod_name(&name, o) },
        };
        found.push(Stray::Impostor { pod: pod_name_, ordinal, adopted: by_us, place });
    }
    found.sort_by(|a, b| a.pod().cmp(b.pod()));
    found
}

/// How many pods the controller counts for `sts` (its `status.replicas`: the pods in its live
/// places and the condemned ones) beyond those of `pods` it controls: more means some pod it
/// counts is not among `pods`, as when only labelled pods were read and a stray that holds an
/// ordinal's place, or is condemned, was never labelled (the controller cannot give it the
/// label: its name is not the ordinal's).
pub fn uncounted<'p>(sts: &StatefulSet, pods: impl IntoIterator<Item = &'p Pod>) -> i32 {
    let counted = sts.status.as_ref().map_or(0, |s| s.replicas);
    let uid = sts.metadata.uid.as_deref();
    let seen = pods
        .into_iter()
        .filter(|p| p.namespace() == sts.namespace())
        .filter(|p| controller_of(*p).is_some_and(|c| Some(c.uid.as_str()) == uid))
        .count();
    counted.saturating_sub(i32::try_from(seen).unwrap_or(i32::MAX)).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::{bare_pod, pod, sts};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    /// A pod named `name` as a person creates it from the set's template: its labels, no owner.
    fn by_hand(web: &StatefulSet, name: &str) -> Pod {
        let mut stray = pod(web, 0).build();
        stray.metadata.name = Some(name.to_owned());
        stray.metadata.uid = Some(format!("uid-{name}"));
        stray.metadata.owner_references = None;
        stray
    }

    fn adopted(web: &StatefulSet, name: &str) -> Pod {
        let mut stray = by_hand(web, name);
        stray.metadata.owner_references = pod(web, 0).build().metadata.owner_references;
        stray
    }

    #[test]
    fn the_controller_reads_ordinals_with_its_own_regex() {
        use crate::core::objects::controller_parent_and_ordinal as read;
        assert_eq!(read("web-01"), Some(("web", Some(1))));
        assert_eq!(read("web-00"), Some(("web", Some(0))));
        assert_eq!(read("web-1-2"), Some(("web-1", Some(2))), "the last dash");
        assert_eq!(read("web-99999999999"), Some(("web", None)), "beyond int32: parent, no ordinal");
        assert_eq!(read("web-1a"), None);
        assert_eq!(read("web-"), None);
        assert_eq!(read("web"), None);
        assert_eq!(read("-3"), Some(("", Some(3))));
    }

    #[test]
    fn a_stray_named_like_an_ordinal_is_what_the_controller_says_it_is() {
        let web = sts("web", 3).build();
        let set = vec![pod(&web, 0).build(), pod(&web, 1).build()];
        let mut pods = set.clone();
        pods.extend([
            by_hand(&web, "web-01"),
            adopted(&web, "web-00"),
            by_hand(&web, "web-002"),
            by_hand(&web, "web-07"),
            by_hand(&web, "web-99999999999"),
        ]);
        let found = strays(&web, &pods);
        assert_eq!(
            found,
            [
                Stray::Impostor {
                    pod: "web-00".into(),
                    ordinal: Some(0),
                    adopted: true,
                    place: Place::Shares { pod: "web-0".into() }
                },
                Stray::Impostor {
                    pod: "web-002".into(),
                    ordinal: Some(2),
                    adopted: false,
                    place: Place::Holds { missing: "web-2".into() }
                },
                Stray::Impostor {
                    pod: "web-01".into(),
                    ordinal: Some(1),
                    adopted: false,
                    place: Place::Shares { pod: "web-1".into() }
                },
                Stray::Impostor {
                    pod: "web-07".into(),
                    ordinal: Some(7),
                    adopted: false,
                    place: Place::Condemned
                },
                Stray::Impostor {
                    pod: "web-99999999999".into(),
                    ordinal: None,
                    adopted: false,
                    place: Place::Unnumbered
                },
            ]
        );
    }

    #[test]
    fn pods_the_controller_does_not_take_are_no_impostors() {
        let web = sts("web", 2).build();
        let mut unselected = by_hand(&web, "web-01");
        unselected.metadata.labels = None;
        let mut someone_elses = by_hand(&web, "web-00");
        someone_elses.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "web-7d9".into(),
            uid: "uid-rs".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        let mut going = by_hand(&web, "web-001");
        going.metadata.deletion_timestamp = pod(&web, 0).terminating().build().metadata.deletion_timestamp;
        let other_set = pod(&sts("web-app", 1).build(), 0).build();
        let pods =
            vec![pod(&web, 0).build(), pod(&web, 1).build(), unselected, someone_elses, going, other_set];
        assert_eq!(strays(&web, &pods), []);
        let mut deleting = web.clone();
        deleting.metadata.deletion_timestamp = pod(&web, 0).terminating().build().metadata.deletion_timestamp;
        assert_eq!(strays(&deleting, &[by_hand(&web, "web-01")]), [], "a set being deleted adopts nothing");
    }

    #[test]
    fn a_live_ordinal_named_pod_that_is_not_the_sets_blocks_its_creation() {
        let web = sts("web", 3).build();
        let mut unselected = by_hand(&web, "web-1");
        unselected.metadata.labels = Some([("app".to_owned(), "other".to_owned())].into());
        let mut job = bare_pod("web-2").build();
        job.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "batch/v1".into(),
            kind: "Job".into(),
            name: "backup".into(),
            uid: "uid-job".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        let pods =
            vec![pod(&web, 0).build(), unselected, job, by_hand(&web, "web-5"), by_hand(&web, "web-0")];
        assert_eq!(
            strays(&web, &pods),
            [
                Stray::NameTaken { pod: "web-1".into(), ordinal: 1, holder: Holder::Unselected },
                Stray::NameTaken {
                    pod: "web-2".into(),
                    ordinal: 2,
                    holder: Holder::Controller { kind: "Job".into(), name: "backup".into() }
                },
            ],
            "web-5 is outside the live ordinals, web-0 is the set's own name and ordinal (a duplicate \
             cannot exist: one name, one pod)"
        );
        // An orphan with the set's labels is adopted at the next sync: nothing in the way.
        assert_eq!(strays(&web, &[pod(&web, 0).build(), by_hand(&web, "web-1")]), []);
    }

    #[test]
    fn pods_the_controller_counts_beyond_those_read_are_told() {
        let mut web = sts("web", 2).build();
        web.status.as_mut().unwrap().replicas = 3;
        let pods = vec![pod(&web, 0).build(), pod(&web, 1).build()];
        assert_eq!(uncounted(&web, &pods), 1);
        let mut all = pods.clone();
        all.push(adopted(&web, "web-01"));
        assert_eq!(uncounted(&web, &all), 0);
    }
}
