//! The resize plan and its parts, on the builders of `core::fixtures`: claims, refusals,
//! quotas, the rewrite, the swap journal, adoption, the batches and the restart order.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimCondition, PersistentVolumeClaimSpec, Pod, ResourceQuota,
    ResourceQuotaSpec, ResourceQuotaStatus, VolumeResourceRequirements,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta, OwnerReference};
use kube::ResourceExt;
use serde_json::json;

use super::*;
use crate::core::fixtures::{self, pod, pvc, sts};

fn storage(size: &str) -> BTreeMap<String, Quantity> {
    BTreeMap::from([("storage".to_owned(), Quantity(size.to_owned()))])
}

/// `web` with 3 replicas and templates `data` (1Gi, kwok-volume) and `logs` (1Gi, fixed).
fn web(replicas: i32) -> StatefulSet {
    let mut s = sts("web", replicas).templates(&["data", "logs"]).build();
    for t in s.spec.as_mut().unwrap().volume_claim_templates.as_mut().unwrap() {
        let class = if t.name_any() == "data" { "online" } else { "fixed" };
        t.spec = Some(PersistentVolumeClaimSpec {
            storage_class_name: Some(class.to_owned()),
            resources: Some(VolumeResourceRequirements { requests: Some(storage("1Gi")), limits: None }),
            ..Default::default()
        });
    }
    s
}

fn claim(template: &str, ordinal: i32, sts: &StatefulSet) -> PersistentVolumeClaim {
    let mut c = pvc(&format!("{template}-web-{ordinal}")).of(sts).build();
    let class = if template == "data" { "online" } else { "fixed" };
    c.spec.as_mut().unwrap().storage_class_name = Some(class.to_owned());
    c
}

fn class(name: &str, expandable: bool, offline: bool) -> StorageClass {
    let mut annotations = BTreeMap::new();
    if offline {
        annotations.insert(EXPANSION_ANNOTATION.to_owned(), "offline".to_owned());
    }
    StorageClass {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            annotations: Some(annotations),
            ..Default::default()
        },
        provisioner: "kwok".to_owned(),
        allow_volume_expansion: expandable.then_some(true),
        ..Default::default()
    }
}

fn classes() -> Vec<StorageClass> {
    vec![class("online", true, false), class("fixed", false, false), class("offline", true, true)]
}

fn size(text: &str) -> Vec<SizeRequest> {
    vec![parse_size(text).unwrap()]
}

struct World {
    sts: StatefulSet,
    pvcs: Vec<PersistentVolumeClaim>,
    pods: Vec<Pod>,
    classes: Vec<StorageClass>,
    quotas: Vec<ResourceQuota>,
}

/// 3 replicas, claims for ordinals 0..=3 (3 left by a scale-down), pods 0..=2 mounting theirs.
fn world() -> World {
    let s = web(3);
    let mut pvcs = Vec::new();
    for o in 0..4 {
        pvcs.push(claim("data", o, &s));
        pvcs.push(claim("logs", o, &s));
    }
    let pods = (0..3).map(|o| pod(&s, o).mounting(&format!("data-web-{o}")).build()).collect();
    World { sts: s, pvcs, pods, classes: classes(), quotas: Vec::new() }
}

/// A plan growing `data` to 2Gi across the 3 replicas and the claim a scale-down left: for
/// the renderer's snapshots.
pub(crate) fn sample_plan() -> ResizePlan {
    plan_of(&world(), &size("data=2Gi")).unwrap()
}

fn plan_of(w: &World, sizes: &[SizeRequest]) -> Result<ResizePlan, Refusal> {
    plan(&Inputs {
        sts: &w.sts,
        pvcs: &w.pvcs,
        pods: &w.pods,
        classes: Some(&w.classes),
        quotas: Some(&w.quotas),
        sizes,
        override_owner: false,
        flags: Default::default(),
    })
}

#[test]
fn sizes_parse_as_template_equals_quantity() {
    assert_eq!(parse_size("data=2Gi"), Ok(SizeRequest { template: "data".into(), size: "2Gi".into() }));
    for bad in ["data", "=2Gi", "data=", "data=big", "data=0", "data=-1Gi"] {
        assert!(parse_size(bad).is_err(), "{bad}");
    }
}

#[test]
fn every_claim_of_the_template_grows_highest_ordinal_first_orphans_included() {
    let plan = plan_of(&world(), &size("data=2Gi")).unwrap();
    let names: Vec<(&str, bool)> = plan.claims.iter().map(|c| (c.name.as_str(), c.live)).collect();
    assert_eq!(
        names,
        [("data-web-3", false), ("data-web-2", true), ("data-web-1", true), ("data-web-0", true)]
    );
    assert!(plan.claims.iter().all(|c| c.action == Action::Grow && c.expansion == Expansion::Online));
    assert_eq!(plan.claims[1].mounted_by.as_deref(), Some("web-2"));
    assert_eq!(plan.templates[0].from, "1Gi");
    assert!(plan.blocking.is_empty(), "{:?}", plan.blocking);
    assert!(plan.downtime.is_empty());
}

#[test]
fn usage_errors_come_from_the_command_line_alone() {
    let w = world();
    let cases = [
        ("data=512Mi", "cannot shrink data from 1Gi to 512Mi"),
        ("data=1024Mi", "data already requests 1Gi"),
        ("cache=2Gi", "web has no volumeClaimTemplate cache (it has: data, logs)"),
    ];
    for (request, expected) in cases {
        let refusal = plan_of(&w, &size(request)).unwrap_err();
        assert!(refusal.is_usage());
        assert!(refusal.to_string().starts_with(expected), "{refusal}");
        assert_eq!(refusal.to_string().lines().count(), 1);
    }
}

/// A change to the world a refusal case starts from.
type Change = Box<dyn Fn(&mut World)>;

#[test]
fn refusals_name_the_claim_and_change_nothing() {
    let cases: Vec<(&str, Change, &str, &str)> = vec![
        ("fixed class", Box::new(|_| {}), "logs=2Gi", "StorageClass fixed does not allow volume expansion"),
        (
            "not bound",
            Box::new(|w| w.pvcs[0] = pvc("data-web-0").of(&w.sts).phase("Pending").build()),
            "data=2Gi",
            "PVC data-web-0 is Pending, not Bound",
        ),
        (
            "mid-scale",
            Box::new(|w| w.sts.status.as_mut().unwrap().replicas = 4),
            "data=2Gi",
            "web is mid-scale",
        ),
        (
            "mid-rollout",
            Box::new(|w| w.sts.status.as_mut().unwrap().update_revision = Some("web-rev2".into())),
            "data=2Gi",
            "web is mid-rollout",
        ),
        (
            "quota",
            Box::new(|w| {
                w.quotas.push(ResourceQuota {
                    metadata: ObjectMeta { name: Some("storage".into()), ..Default::default() },
                    spec: Some(ResourceQuotaSpec { hard: Some(storage_quota("9Gi")), ..Default::default() }),
                    status: Some(ResourceQuotaStatus { used: Some(storage_quota("8Gi")), hard: None }),
                })
            }),
            "data=2Gi",
            "ResourceQuota storage cannot hold the new sizes (requests.storage: 8Gi used of 9Gi, the grow adds 4Gi)",
        ),
        (
            "gitops",
            Box::new(|w| {
                w.sts.metadata.annotations = Some(BTreeMap::from([(
                    crate::core::owners::ARGOCD_TRACKING.to_owned(),
                    "shop:apps/StatefulSet:default/web".to_owned(),
                )]))
            }),
            "data=2Gi",
            "Argo CD application shop applies web: between the delete and the re-create",
        ),
        (
            "helm",
            Box::new(|w| {
                w.sts.metadata.annotations =
                    Some(BTreeMap::from([(crate::core::owners::HELM_RELEASE.to_owned(), "db".to_owned())]))
            }),
            "data=2Gi",
            "Helm release db applies web: nothing re-creates it during the swap, but the release's next helm upgrade \
             with the values it has now fails",
        ),
        (
            "failed expansion",
            Box::new(|w| {
                let c = &mut w.pvcs[0];
                c.spec.as_mut().unwrap().resources.as_mut().unwrap().requests = Some(storage("3Gi"));
                let status = c.status.as_mut().unwrap();
                status.allocated_resource_statuses =
                    Some(BTreeMap::from([("storage".into(), "ControllerResizeInfeasible".into())]));
                status.conditions = Some(vec![PersistentVolumeClaimCondition {
                    type_: "ControllerResizeError".into(),
                    status: "True".into(),
                    message: Some("out of range".into()),
                    ..Default::default()
                }]);
            }),
            "data=2Gi",
            "PVC data-web-0 has a failed expansion to 3Gi (ControllerResizeError: out of range); to give up, lower its \
             request to a size above its capacity 1Gi",
        ),
    ];
    for (what, change, request, expected) in cases {
        let mut w = world();
        change(&mut w);
        let plan = plan_of(&w, &size(request)).unwrap();
        let lines: Vec<String> = plan.blocking.iter().map(ToString::to_string).collect();
        assert!(lines.iter().any(|r| r.starts_with(expected)), "{what}: {lines:?}");
        assert!(plan.blocking.iter().all(|r| !r.is_usage()), "{what}");
        assert!(lines.iter().all(|r| r.lines().count() == 1), "{what}");
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["refusals"], serde_json::json!(lines), "{what}: the plan's JSON lists them as lines");
    }
}

fn storage_quota(size: &str) -> BTreeMap<String, Quantity> {
    BTreeMap::from([("requests.storage".to_owned(), Quantity(size.to_owned()))])
}

#[test]
fn quota_headroom_is_computed_and_enough_headroom_passes() {
    let mut w = world();
    w.quotas.push(ResourceQuota {
        metadata: ObjectMeta { name: Some("storage".into()), ..Default::default() },
        spec: Some(ResourceQuotaSpec { hard: Some(storage_quota("12Gi")), ..Default::default() }),
        status: Some(ResourceQuotaStatus { used: Some(storage_quota("8Gi")), hard: None }),
    });
    let plan = plan_of(&w, &size("data=2Gi")).unwrap();
    assert_eq!(plan.quotas.len(), 1);
    assert!(plan.quotas[0].fits);
    assert_eq!(plan.quotas[0].adds_bytes, 4 << 30);
}

#[test]
fn override_owner_turns_the_gitops_refusal_into_a_warning() {
    let mut w = world();
    w.sts.metadata.labels =
        Some(BTreeMap::from([(crate::core::owners::FLUX_KUSTOMIZATION.to_owned(), "apps".to_owned())]));
    let sizes = size("data=2Gi");
    let plan = plan(&Inputs {
        sts: &w.sts,
        pvcs: &w.pvcs,
        pods: &w.pods,
        classes: Some(&w.classes),
        quotas: Some(&w.quotas),
        sizes: &sizes,
        override_owner: true,
        flags: Default::default(),
    })
    .unwrap();
    assert!(plan.blocking.is_empty(), "{:?}", plan.blocking);
    assert!(plan.warnings.iter().any(|w| w.starts_with("--override-owner: Flux")), "{:?}", plan.warnings);
}

#[test]
fn claims_already_grown_or_expanding_to_the_target_are_not_patched_again() {
    let mut w = world();
    w.pvcs[0] = claim("data", 0, &w.sts);
    w.pvcs[0].status.as_mut().unwrap().capacity = Some(storage("2Gi"));
    w.pvcs[2].spec.as_mut().unwrap().resources.as_mut().unwrap().requests = Some(storage("2Gi"));
    let plan = plan_of(&w, &size("data=2Gi")).unwrap();
    let action = |n: &str| plan.claims.iter().find(|c| c.name == n).unwrap().action;
    assert_eq!(action("data-web-0"), Action::Nothing);
    assert_eq!(action("data-web-1"), Action::Wait);
    assert_eq!(action("data-web-2"), Action::Grow);
    assert!(plan.blocking.is_empty(), "{:?}", plan.blocking);
}

#[test]
fn an_offline_class_gets_a_downtime_plan_from_its_lowest_mounted_ordinal() {
    let mut w = world();
    for c in &mut w.pvcs {
        if c.name_any().starts_with("data-") {
            c.spec.as_mut().unwrap().storage_class_name = Some("offline".into());
        }
    }
    let plan = plan_of(&w, &size("data=2Gi")).unwrap();
    assert!(plan.claims.iter().all(|c| c.expansion == Expansion::Offline));
    assert_eq!(
        plan.downtime[0],
        "scale web from 3 to 0 replicas: web-2, web-1, web-0 stop, in that order (all pods of downtime for them)"
    );
    assert!(plan.downtime[2].starts_with("scale web back to 3 replicas: web-0, web-1, web-2 start again"));
    let flags = crate::core::advice::RunFlags {
        context: Some("prod eu".into()),
        kubeconfig: None,
        ..Default::default()
    };
    let text = plan.needs_downtime(&flags).unwrap().to_string();
    assert!(
        text.contains(
            "go on: `kubectl -n default --context 'prod eu' scale statefulset web --replicas 0`, run this command \
             again (it grows the claims and swaps the StatefulSet), then `kubectl -n default --context 'prod eu' scale \
             statefulset web --replicas 3`"
        ),
        "{text}"
    );
}

#[test]
fn the_recovery_from_a_failed_expansion_prints_commands_with_the_runs_flags() {
    let flags = crate::core::advice::RunFlags {
        context: Some("prod eu".into()),
        kubeconfig: None,
        ..Default::default()
    };
    let hint = recovery_hint(&flags, "db", "data-web-1", Some("1Gi"));
    assert_eq!(
        crate::core::advice::commands_in(&hint),
        [
            r#"kubectl -n db --context 'prod eu' patch pvc data-web-1 -p '{"spec":{"resources":{"requests":{"storage":"SIZE"}}}}'"#,
            "kubectl -n db --context 'prod eu' describe pvc data-web-1",
        ]
    );
    assert_eq!(
        recovery_hint(&flags, "db", "data-web-1", None),
        "see `kubectl -n db --context 'prod eu' describe pvc data-web-1`"
    );
}

#[test]
fn unreadable_classes_are_unknown_with_a_warning() {
    let w = world();
    let sizes = size("data=2Gi");
    let plan = plan(&Inputs {
        sts: &w.sts,
        pvcs: &w.pvcs,
        pods: &w.pods,
        classes: None,
        quotas: None,
        sizes: &sizes,
        override_owner: false,
        flags: Default::default(),
    })
    .unwrap();
    assert!(plan.claims.iter().all(|c| c.expansion == Expansion::Unknown));
    assert_eq!(plan.warnings.len(), 2);
    assert!(plan.blocking.is_empty());
}

#[test]
fn the_rewrite_changes_only_the_sizes_and_drops_what_the_server_sets() {
    let mut s = web(3);
    s.metadata.labels = Some(BTreeMap::from([("app".into(), "web".into())]));
    s.metadata.annotations = Some(BTreeMap::from([(
        crate::core::owners::ARGOCD_TRACKING.to_owned(),
        "shop:apps/StatefulSet:default/web".to_owned(),
    )]));
    s.metadata.managed_fields = Some(vec![Default::default()]);
    s.metadata.finalizers = Some(vec!["orphan".into()]);
    let sizes = BTreeMap::from([("data".to_owned(), "2Gi".to_owned())]);
    let out = rewrite(&s, &sizes);
    let m = &out.metadata;
    assert!(m.uid.is_none() && m.resource_version.is_none() && m.generation.is_none());
    assert!(m.creation_timestamp.is_none() && m.managed_fields.is_none() && m.finalizers.is_none());
    assert!(out.status.is_none());
    assert_eq!(m.labels, s.metadata.labels);
    // The annotations as read, and the uid of the object it replaces.
    let mut annotations = s.metadata.annotations.clone().unwrap();
    annotations.insert(SWAP_OF_ANNOTATION.to_owned(), s.uid().unwrap());
    assert_eq!(m.annotations, Some(annotations));
    let requests = |o: &StatefulSet, t: usize| {
        requested(o.spec.as_ref().unwrap().volume_claim_templates.as_ref().unwrap()[t].spec.as_ref())
    };
    assert_eq!(requests(&out, 0).as_deref(), Some("2Gi"));
    assert_eq!(requests(&out, 1).as_deref(), Some("1Gi"), "other templates keep their size");
    // Apart from the sizes, the spec is the one read.
    let mut spec = out.spec.clone().unwrap();
    spec.volume_claim_templates.as_mut().unwrap()[0] =
        s.spec.as_ref().unwrap().volume_claim_templates.as_ref().unwrap()[0].clone();
    assert_eq!(Some(spec), s.spec);
}

#[test]
fn adoption_is_checked_pod_by_pod_and_claim_by_claim() {
    let w = world();
    let sizes = BTreeMap::from([("data".to_owned(), "2Gi".to_owned())]);
    let journal = SwapJournal::of(&w.sts, &sizes, &w.pods, &w.pvcs);
    assert_eq!(journal.pods.len(), 3);
    assert_eq!(journal.claims.len(), 8);
    // The re-created object: same name, new uid; the pods still point at the old one.
    let mut new = w.sts.clone();
    new.metadata.uid = Some("uid-new".into());
    assert!(matches!(adoption(&journal, &new, &w.pods, &w.pvcs), Adoption::Pending(p) if p.len() == 3));
    let adopted: Vec<Pod> = (0..3).map(|o| pod(&new, o).mounting(&format!("data-web-{o}")).build()).collect();
    // fixtures give the same uid to the same name, as adoption keeps it.
    assert_eq!(adoption(&journal, &new, &adopted, &w.pvcs), Adoption::Done(vec![]));
    // A pod that died while nothing controlled it: the new set creates it again, a note.
    let mut replaced = adopted.clone();
    replaced[1].metadata.uid = Some("another".into());
    assert_eq!(
        adoption(&journal, &new, &replaced, &w.pvcs),
        Adoption::Done(vec![
            "pod web-1 was replaced while nothing controlled it; web created it again".into()
        ])
    );
    // Gone and not yet created again: waited for, never a wedge.
    let missing: Vec<Pod> = adopted.iter().filter(|p| p.name_any() != "web-1").cloned().collect();
    assert_eq!(
        adoption(&journal, &new, &missing, &w.pvcs),
        Adoption::Pending(vec!["pod web-1 is gone; waiting for web to create it again".into()])
    );
    // Replaced by a pod nobody controls yet: waited for until the new set adopts it.
    let mut stray = replaced.clone();
    stray[1].metadata.owner_references = None;
    assert!(
        matches!(adoption(&journal, &new, &stray, &w.pvcs), Adoption::Pending(p) if p == ["pod web-1 was replaced; waiting for web to adopt it"])
    );
    // Same pod, another revision: the template changed; data may be at stake.
    let mut moved = adopted.clone();
    moved[2].labels_mut().insert("controller-revision-hash".into(), "other".into());
    assert_eq!(
        adoption(&journal, &new, &moved, &w.pvcs),
        Adoption::Broken(vec!["pod web-2 changed revision".into()])
    );
    let fewer: Vec<PersistentVolumeClaim> = w.pvcs[1..].to_vec();
    assert!(
        matches!(adoption(&journal, &new, &adopted, &fewer), Adoption::Broken(b) if b == ["PVC data-web-0 is gone"])
    );
}

#[test]
fn claim_states_follow_the_resizer() {
    let s = web(1);
    let mut c = claim("data", 0, &s);
    assert_eq!(claim_state(&c, "2Gi"), ClaimState::Expanding);
    let set = |c: &mut PersistentVolumeClaim, kind: &str, message: &str, status: Option<&str>| {
        let st = c.status.as_mut().unwrap();
        st.conditions = Some(vec![PersistentVolumeClaimCondition {
            type_: kind.into(),
            status: "True".into(),
            message: Some(message.into()),
            ..Default::default()
        }]);
        st.allocated_resource_statuses = status.map(|s| BTreeMap::from([("storage".into(), s.into())]));
    };
    set(&mut c, "FileSystemResizePending", "Waiting for user to (re-)start a pod", Some("NodeResizePending"));
    assert_eq!(claim_state(&c, "2Gi"), ClaimState::FilesystemPending);
    set(&mut c, "ControllerResizeError", "too big", Some("ControllerResizeInfeasible"));
    assert_eq!(claim_state(&c, "2Gi"), ClaimState::Failed("ControllerResizeError: too big".into()));
    set(&mut c, "ControllerResizeError", "volume is currently in-use", Some("ControllerResizeInProgress"));
    assert!(matches!(claim_state(&c, "2Gi"), ClaimState::InUse(_)));
    c.status.as_mut().unwrap().capacity = Some(storage("2Gi"));
    assert_eq!(claim_state(&c, "2Gi"), ClaimState::Grown);
    let _ = fixtures::NAMESPACE;
}

#[test]
fn claims_grow_canary_first_then_in_batches_and_pods_restart_highest_first() {
    let w = world();
    let plan = plan_of(&w, &size("data=2Gi")).unwrap();
    let names = |batches: Vec<Vec<&ClaimPlan>>| -> Vec<Vec<String>> {
        batches.into_iter().map(|b| b.into_iter().map(|c| c.name.clone()).collect()).collect()
    };
    assert_eq!(
        names(plan.batches(2)),
        [vec!["data-web-3"], vec!["data-web-2", "data-web-1"], vec!["data-web-0"]],
        "the highest ordinal alone, then two at a time"
    );
    assert_eq!(names(plan.batches(0)).len(), 4, "never zero at a time");
    let mut pending: Vec<ClaimPlan> = plan.claims.clone();
    pending[0].mounted_by = None;
    let order = restart_order(&pending);
    assert_eq!(order, [(2, "web-2".to_owned()), (1, "web-1".to_owned()), (0, "web-0".to_owned())]);
}

#[test]
fn the_kubelet_is_waited_for_only_on_mounted_claims_of_online_classes() {
    let plan = plan_of(&world(), &size("data=2Gi")).unwrap();
    let base = plan.claims[0].clone();
    let with = |expansion: Expansion, mounted: Option<&str>| ClaimPlan {
        expansion,
        mounted_by: mounted.map(str::to_owned),
        ..base.clone()
    };
    // (expansion, mounted by, waited for)
    let table = [
        (Expansion::Online, Some("web-2"), true),
        (Expansion::Online, None, false),
        (Expansion::Offline, Some("web-2"), false),
        (Expansion::Unknown, Some("web-2"), false),
        (Expansion::None, Some("web-2"), false),
    ];
    for (expansion, mounted, waited) in table {
        assert_eq!(kubelet_grows_online(&with(expansion, mounted)), waited, "{expansion:?} {mounted:?}");
    }
    let minute = std::time::Duration::from_secs(60);
    assert_eq!(online_growth_wait(5 * minute), ONLINE_GROWTH_WAIT);
    assert_eq!(online_growth_wait(minute), minute, "never past the run's --timeout");
}

fn journal_of_web(w: &World) -> SwapJournal {
    let sizes = BTreeMap::from([("data".to_owned(), "2Gi".to_owned())]);
    SwapJournal::of(&w.sts, &sizes, &w.pods, &w.pvcs)
}

#[test]
fn an_operator_controlled_set_is_refused_even_with_override_owner() {
    let mut w = world();
    w.sts.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "db.example.com/v1".into(),
        kind: "Cluster".into(),
        name: "main".into(),
        uid: "op-1".into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }]);
    for override_owner in [false, true] {
        let plan = plan(&Inputs {
            sts: &w.sts,
            pvcs: &w.pvcs,
            pods: &w.pods,
            classes: Some(&w.classes),
            quotas: Some(&w.quotas),
            sizes: &size("data=2Gi"),
            override_owner,
            flags: Default::default(),
        })
        .unwrap();
        assert_eq!(
            plan.blocking,
            vec![Refusal::Controlled { owner: "Cluster main".into(), statefulset: "web".into() }],
            "override_owner: {override_owner}"
        );
    }
    // An ownerReference that is not a controller's (a plain owner) is no operator.
    w.sts.metadata.owner_references.as_mut().unwrap()[0].controller = None;
    assert!(plan_of(&w, &size("data=2Gi")).unwrap().blocking.is_empty());
}

#[test]
fn the_journal_records_what_undo_managers_and_claim_owners_need() {
    let mut w = world();
    let uid = w.sts.uid().unwrap();
    w.sts.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
        manager: Some("argocd-controller".into()),
        operation: Some("Apply".into()),
        ..Default::default()
    }]);
    let owner = OwnerReference {
        api_version: "apps/v1".into(),
        kind: "StatefulSet".into(),
        name: "web".into(),
        uid: uid.clone(),
        controller: None,
        block_owner_deletion: Some(true),
    };
    for c in &mut w.pvcs {
        c.metadata.owner_references = Some(vec![owner.clone()]);
    }
    let journal = journal_of_web(&w);
    assert_eq!(
        journal.from,
        BTreeMap::from([("data".to_owned(), "1Gi".to_owned())]),
        "only resized templates"
    );
    assert_eq!(journal.managed_fields.len(), 1);
    assert_eq!(journal.owned_claims.len(), 8);
    // The object to finish with and the one to undo with differ only in the sizes, and both say
    // which object they replace.
    let finish = journal.object(false).unwrap();
    let undo = journal.object(true).unwrap();
    assert_eq!(template_sizes(&finish)["data"], "2Gi");
    assert_eq!(template_sizes(&undo)["data"], "1Gi");
    assert_eq!(template_sizes(&undo)["logs"], "1Gi");
    assert_eq!(finish.annotations()[SWAP_OF_ANNOTATION], uid);
    // A journal an older version wrote (no `from`) can be finished, not undone.
    let mut old = serde_json::to_value(&journal).unwrap();
    for field in ["from", "managedFields", "ownedClaims"] {
        old.as_object_mut().unwrap().remove(field);
    }
    let old: SwapJournal = serde_json::from_value(old).unwrap();
    assert!(old.object(false).is_some() && old.object(true).is_none());
}

#[test]
fn only_the_set_a_swap_created_is_its_result() {
    let w = world();
    let journal = journal_of_web(&w);
    let mut ours = journal.object(false).unwrap();
    ours.metadata.uid = Some("uid-new".into());
    assert!(created_by_swap(&journal, &ours));
    // Re-created by someone else (Argo CD self-heal, an operator, a person): no annotation,
    // or one naming another swap.
    let mut theirs = w.sts.clone();
    theirs.metadata.uid = Some("uid-theirs".into());
    assert!(!created_by_swap(&journal, &theirs));
    theirs.annotations_mut().insert(SWAP_OF_ANNOTATION.into(), "an-older-swap".into());
    assert!(!created_by_swap(&journal, &theirs));
    // The old object itself is never the result.
    assert!(!created_by_swap(&journal, &w.sts));
}

#[test]
fn the_recreated_set_gets_the_old_managers_back_once() {
    let mut w = world();
    let argo = ManagedFieldsEntry {
        manager: Some("argocd-controller".into()),
        operation: Some("Apply".into()),
        ..Default::default()
    };
    w.sts.metadata.managed_fields = Some(vec![argo.clone()]);
    let journal = journal_of_web(&w);
    let mut created = journal.object(false).unwrap();
    created.metadata.uid = Some("uid-new".into());
    created.metadata.resource_version = Some("7".into());
    created.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
        manager: Some(crate::core::owners::FIELD_MANAGER.into()),
        operation: Some("Update".into()),
        ..Default::default()
    }]);
    let patch = restore_managers(&journal, &created).expect("the create took every field");
    let doc = serde_json::to_value(patch.patch()).unwrap();
    assert_eq!(doc[0], json!({"op": "test", "path": "/metadata/uid", "value": "uid-new"}));
    assert_eq!(doc[1], json!({"op": "test", "path": "/metadata/resourceVersion", "value": "7"}));
    assert_eq!(doc[2]["path"], "/metadata/managedFields");
    assert_eq!(doc[2]["value"][0]["manager"], "argocd-controller");
    created.metadata.managed_fields = Some(vec![argo]);
    assert!(restore_managers(&journal, &created).is_none(), "a resumed run does it once");
}

#[test]
fn claims_of_scaled_down_ordinals_get_their_owner_back_the_live_ones_are_the_controllers() {
    let mut w = world();
    let uid = w.sts.uid().unwrap();
    let owner = OwnerReference {
        api_version: "apps/v1".into(),
        kind: "StatefulSet".into(),
        name: "web".into(),
        uid,
        controller: None,
        block_owner_deletion: Some(true),
    };
    for c in &mut w.pvcs {
        c.metadata.owner_references = Some(vec![owner.clone()]);
    }
    let journal = journal_of_web(&w);
    // After the orphan delete: no claim has an owner.
    let mut pvcs = w.pvcs.clone();
    for c in &mut pvcs {
        c.metadata.owner_references = None;
        c.metadata.resource_version = Some("5".into());
    }
    let mut new = journal.object(false).unwrap();
    new.metadata.uid = Some("uid-new".into());
    new.metadata.namespace = w.sts.metadata.namespace.clone();
    let todo = claims_to_own(&journal, &new, &pvcs);
    let names: Vec<&str> = todo.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["data-web-3", "logs-web-3"], "ordinal 3 is scaled down");
    let doc = serde_json::to_value(todo[0].1.patch()).unwrap();
    assert_eq!(doc[2]["path"], "/metadata/ownerReferences");
    assert_eq!(doc[2]["value"][0]["uid"], "uid-new");
    assert_eq!(doc[2]["value"][0]["blockOwnerDeletion"], true);
    // A claim someone replaced meanwhile (another uid) is not the journal's: left alone.
    pvcs.iter_mut().find(|c| c.name_any() == "data-web-3").unwrap().metadata.uid = Some("x".into());
    assert_eq!(claims_to_own(&journal, &new, &pvcs).len(), 1);
}

#[test]
fn a_half_done_swap_is_described_with_both_ways_out_as_pasteable_commands() {
    let w = world();
    let journal = journal_of_web(&w);
    let flags = crate::core::advice::RunFlags {
        context: Some("prod eu".into()),
        kubeconfig: None,
        ..Default::default()
    };
    let mut pods = w.pods.clone();
    for p in &mut pods {
        p.metadata.owner_references = None;
    }
    let since = "2026-12-07T05:00:00Z".parse().ok();
    let mid = MidSwap::of(&journal, "default", since, None, &pods, &flags);
    assert_eq!(mid.uncontrolled_pods, ["web-0", "web-1", "web-2"]);
    assert_eq!(
        mid.finish,
        "kubectl stateful pvc resize web --size data=2Gi --yes -n default --context 'prod eu'"
    );
    assert_eq!(mid.undo, "kubectl stateful pvc resize web --undo --yes -n default --context 'prod eu'");
    assert_eq!(
        mid.describe(),
        "web is mid-resize since 2026-12-07T05:00:00Z (journal ConfigMap kubectl-stateful-resize-web): its \
         StatefulSet object is deleted; pods running without a controller: web-0, web-1, web-2; finish with \
         `kubectl stateful pvc resize web --size data=2Gi --yes -n default --context 'prod eu'`, or undo with \
         `kubectl stateful pvc resize web --undo --yes -n default --context 'prod eu'`"
    );
    let mut theirs = w.sts.clone();
    theirs.metadata.uid = Some("theirs".into());
    let mid = MidSwap::of(&journal, "default", None, Some(&theirs), &w.pods, &flags);
    assert_eq!(mid.state, "someone else re-created it meanwhile (not this command)");
    assert!(mid.uncontrolled_pods.is_empty());
}

#[test]
fn the_templates_own_size_grows_the_claims_smaller_than_it_without_a_swap() {
    let mut w = world();
    // The template asks for 2Gi already; the claims were made at 1Gi before it grew.
    for t in w.sts.spec.as_mut().unwrap().volume_claim_templates.as_mut().unwrap() {
        if t.name_any() == "data" {
            t.spec.as_mut().unwrap().resources.as_mut().unwrap().requests = Some(storage("2Gi"));
        }
    }
    let plan = plan_of(&w, &size("data=2Gi")).unwrap();
    assert!(!plan.swaps(), "the template needs no change");
    assert_eq!(plan.to_grow().count(), 4, "every data claim, the scaled-down one's too");
    assert!(plan.blocking.is_empty(), "{:?}", plan.blocking);
    // Once they are grown, the same size is a usage error again.
    for c in &mut w.pvcs {
        c.spec.as_mut().unwrap().resources =
            Some(VolumeResourceRequirements { requests: Some(storage("2Gi")), limits: None });
        c.status.get_or_insert_with(Default::default).capacity = Some(storage("2Gi"));
    }
    let refused = plan_of(&w, &size("data=2Gi")).unwrap_err();
    assert_eq!(refused, Refusal::Unchanged { template: "data".into(), size: "2Gi".into() });
    assert!(refused.is_usage());
}

/// A pod is restarted for its filesystem only while the other members are Ready (a missing
/// one counts as down), except those that wait for a restart themselves: (down, missing,
/// waiting) → the hold.
#[test]
fn a_restart_for_a_filesystem_waits_for_the_other_members() {
    let web = sts("web", 3).build();
    let members: Vec<String> = (0..3).map(|o| format!("web-{o}")).collect();
    // (ordinals not Ready, ordinals missing, pods waiting for a restart, the hold)
    type Case<'a> = (&'a [i32], &'a [i32], &'a [&'a str], Option<&'a str>);
    let cases: [Case; 6] = [
        (&[], &[], &[], None),
        (&[1], &[], &[], Some("web-1 not Ready")),
        (&[], &[0], &[], Some("web-0 not Ready")),
        // The pod restarted itself being down holds nothing.
        (&[2], &[], &[], None),
        // Two that both wait for a restart do not hold each other.
        (&[1], &[], &["web-1", "web-2"], None),
        (&[0, 1], &[], &["web-1", "web-2"], Some("web-0 not Ready")),
    ];
    for (down, missing, waiting, expected) in cases {
        let pods: Vec<Pod> = (0..3)
            .filter(|o| !missing.contains(o))
            .map(|o| pod(&web, o).ready(!down.contains(&o)).build())
            .collect();
        let held = restart_held("web-2", &members, &pods, waiting).map(|h| h.to_string());
        assert_eq!(held.as_deref(), expected, "down {down:?}, missing {missing:?}, waiting {waiting:?}");
    }
}

#[test]
fn a_member_with_no_pod_is_waited_for_not_skipped() {
    let web = sts("web", 3).build();
    let running = pod(&web, 1).uid("uid-1").build();
    let going = pod(&web, 1).uid("uid-1").terminating().build();
    let cases: [(&str, Option<&Pod>, RestartStep, &str); 3] = [
        ("running", Some(&running), RestartStep::Evict { uid: "uid-1".into() }, "uid-1"),
        ("being deleted", Some(&going), RestartStep::Successor { uid: "uid-1".into() }, "uid-1"),
        ("no pod", None, RestartStep::NoPod, ""),
    ];
    for (case, pod, step, old_uid) in cases {
        let got = restart_step(pod);
        assert_eq!(got, step, "{case}");
        assert_eq!(got.old_uid(), old_uid, "{case}");
    }
}

#[test]
fn the_old_set_of_a_swap_says_where_its_deletion_stands() {
    let mut web = sts("web", 3).build();
    assert_eq!(old_set_state(&web), "not deleted yet");
    web.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(fixtures::created()));
    assert_eq!(old_set_state(&web), "being deleted");
    web.metadata.finalizers = Some(vec!["example.com/backup".into()]);
    assert_eq!(old_set_state(&web), "being deleted, finalizers: example.com/backup");
}

/// The hold stays typed for machines (`restartHeld`'s `hold`) and reads as one line for people.
#[test]
fn a_restart_hold_is_typed_for_machines_and_a_line_for_people() {
    let down = RestartHold::MembersDown { pods: vec!["web-0".into(), "web-1".into()] };
    assert_eq!(down.to_string(), "web-0, web-1 not Ready");
    assert_eq!(
        serde_json::to_value(&down).unwrap(),
        json!({"kind": "membersDown", "pods": ["web-0", "web-1"]})
    );
    let budget = crate::core::objects::Budget {
        name: "web".into(),
        disruptions_allowed: 0,
        current_healthy: 3,
        desired_healthy: 3,
    };
    let refused = RestartHold::EvictionRefused { budgets: vec![budget], message: "Cannot evict pod".into() };
    assert_eq!(refused.to_string(), "PodDisruptionBudget web allows 0 disruptions (3 healthy, 3 needed)");
    assert_eq!(
        serde_json::to_value(&refused).unwrap(),
        json!({
            "kind": "evictionRefused",
            "budgets": [{"name": "web", "disruptionsAllowed": 0, "currentHealthy": 3, "desiredHealthy": 3}],
            "message": "Cannot evict pod"
        })
    );
    let unnamed = RestartHold::EvictionRefused { budgets: vec![], message: "Cannot evict pod".into() };
    assert_eq!(unnamed.to_string(), "Cannot evict pod");
    // Holds are compared, not their words: the same members down is the same hold.
    assert_eq!(down, RestartHold::MembersDown { pods: vec!["web-0".into(), "web-1".into()] });
    assert_ne!(down, unnamed);
}
