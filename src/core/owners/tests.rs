//! The managedFields parser on objects captured from the 1.37 test cluster (testdata/, each
//! `kubectl get statefulset -o json --show-managed-fields` after the apply named below).

use super::*;

fn captured(name: &str) -> StatefulSet {
    let text = match name {
        // kubectl apply --server-side --field-manager argocd-controller, tracking annotation.
        "argo" => include_str!("testdata/argo.json"),
        // kubectl apply --field-manager argocd-controller (Argo CD's default client-side sync),
        // an application outside Argo CD's namespace (`argocd-apps_shop`).
        "argo-csa" => include_str!("testdata/argo-csa.json"),
        // "argo", then a JSON patch of the partition by kubectl-stateful, then the image changed
        // by argocd-controller a second later (a self-heal).
        "argo-drifted" => include_str!("testdata/argo-drifted.json"),
        // kubectl apply --server-side --force-conflicts --field-manager kustomize-controller, Flux labels.
        "flux" => include_str!("testdata/flux.json"),
        // kubectl apply --server-side --field-manager helm, Helm's labels, a chart that renders
        // the partition.
        "chart" => include_str!("testdata/chart.json"),
        // plain kubectl apply.
        "plain" => include_str!("testdata/plain.json"),
        other => panic!("no capture {other}"),
    };
    serde_json::from_str(text).expect("a captured StatefulSet")
}

fn names(managers: &[Manager]) -> Vec<&str> {
    managers.iter().map(|m| m.manager.as_str()).collect()
}

#[test]
fn an_argo_cd_server_side_sync_owns_the_template_not_the_partition_git_does_not_set() {
    let owners = Owners::of(&captured("argo"));
    let applier = owners.applier.clone().unwrap();
    assert_eq!(
        (applier.tool, applier.name.as_str(), applier.namespace.as_deref()),
        (Tool::ArgoCd, "shop", None)
    );
    assert_eq!(applier.describe(), "Argo CD application shop");
    assert_eq!(names(&owners.template), ["argocd-controller"]);
    assert_eq!(owners.template[0].operation, "Apply");
    let images: Vec<(&str, Vec<&str>)> =
        owners.images.iter().map(|i| (i.container.as_str(), names(&i.managers))).collect();
    assert_eq!(images, [("app", vec!["argocd-controller"]), ("sidecar", vec!["argocd-controller"])]);
    assert!(owners.partition.is_empty(), "a defaulted partition has no owner: {:?}", owners.partition);
    assert_eq!(names(&owners.replicas), ["argocd-controller"]);

    let image = owners.image_reverter(["app"]).unwrap();
    assert_eq!(image.field, "the image of container app");
    assert_eq!(image.owner(), "Argo CD application shop (field manager argocd-controller)");
    assert!(owners.template_reverter().is_some());
    assert_eq!(owners.partition_reverter(), None);
    let replicas = owners.replicas_reverter().unwrap();
    assert_eq!(
        (replicas.field.as_str(), replicas.owner().as_str()),
        ("the replicas", "Argo CD application shop (field manager argocd-controller)")
    );
}

#[test]
fn a_client_side_sync_is_an_update_by_the_same_manager() {
    let owners = Owners::of(&captured("argo-csa"));
    let applier = owners.applier.clone().unwrap();
    assert_eq!((applier.name.as_str(), applier.namespace.as_deref()), ("shop", Some("argocd-apps")));
    assert_eq!(names(&owners.template), ["argocd-controller"]);
    assert_eq!(owners.template[0].operation, "Update");
    assert!(owners.image_reverter(["app"]).is_some());
}

#[test]
fn flux_and_helm_are_named_with_their_kustomization_and_release() {
    let flux = Owners::of(&captured("flux"));
    assert_eq!(flux.applier.as_ref().unwrap().describe(), "Flux Kustomization flux-system/apps");
    assert_eq!(flux.image_reverter(["app"]).unwrap().manager.tool, Tool::FluxKustomization);

    let chart = Owners::of(&captured("chart"));
    assert_eq!(chart.applier.as_ref().unwrap().describe(), "Helm release owners/db");
    assert_eq!(names(&chart.partition), ["helm"], "the chart renders the partition");
    let partition = chart.partition_reverter().unwrap();
    assert_eq!(partition.owner(), "Helm release owners/db (field manager helm)");
    let snippet = partition_snippet(&partition, &captured("chart"));
    assert!(snippet.contains("release db") && snippet.contains("partition"), "{snippet}");
}

#[test]
fn a_set_applied_by_plain_kubectl_has_no_gitops_owner() {
    let owners = Owners::of(&captured("plain"));
    assert_eq!(owners.applier, None);
    assert_eq!(names(&owners.template), ["kubectl-client-side-apply"]);
    assert_eq!(owners.template[0].tool, Tool::Kubectl);
    assert_eq!(owners.template_reverter(), None);
    assert_eq!(owners.image_reverter(["app", "sidecar"]), None);
    assert_eq!(owners.partition_reverter(), None);
    assert_eq!(owners.replicas_reverter(), None, "kubectl sets nothing back");
}

#[test]
fn the_last_writer_of_the_fields_a_rollout_writes_is_named() {
    let owners = Owners::of(&captured("argo-drifted"));
    assert_eq!(names(&owners.partition), ["kubectl-stateful"]);
    assert_eq!(owners.partition[0].tool, Tool::KubectlStateful);
    assert_eq!(owners.partition_reverter(), None, "ours now");
    assert_eq!(owners.last_writer().map(|m| m.manager.as_str()), Some("argocd-controller"));
}

#[test]
fn a_flux_object_that_opts_out_is_not_reverted() {
    let mut flux = captured("flux");
    flux.annotations_mut().insert(FLUX_RECONCILE.to_owned(), "disabled".to_owned());
    let owners = Owners::of(&flux);
    assert!(owners.applier.as_ref().unwrap().paused);
    assert_eq!(owners.image_reverter(["app"]), None);
}

#[test]
fn field_managers_map_to_their_tools() {
    let cases = [
        ("argocd-controller", Tool::ArgoCd),
        ("kustomize-controller", Tool::FluxKustomization),
        ("helm-controller", Tool::FluxHelmRelease),
        ("helm", Tool::Helm),
        ("kubectl", Tool::Kubectl),
        ("kubectl-client-side-apply", Tool::Kubectl),
        ("kubectl-edit", Tool::Kubectl),
        ("kubectl-stateful", Tool::KubectlStateful),
        ("kube-controller-manager", Tool::Other),
    ];
    for (manager, tool) in cases {
        assert_eq!(Tool::of_manager(manager), tool, "{manager}");
    }
    assert!(Tool::ArgoCd.reverts() && Tool::Helm.reverts() && !Tool::Kubectl.reverts());
}

#[test]
fn list_keys_match_whatever_their_spelling() {
    let fields =
        serde_json::json!({"f:spec": {"f:containers": {"k:{\"name\": \"app\"}": {".": {}, "f:image": {}}}}});
    assert!(descend(&fields, &["f:spec", "f:containers", r#"k:{"name":"app"}"#, "f:image"]).is_some());
    assert!(descend(&fields, &["f:spec", "f:containers", r#"k:{"name":"other"}"#, "f:image"]).is_none());
    assert!(owns(&serde_json::json!({})) && owns(&serde_json::json!({".": {}})));
    assert!(!owns(&serde_json::json!({"f:x": {}})));
}

#[test]
fn the_update_strategy_is_owned_by_whoever_sets_any_of_it() {
    // The chart renders updateStrategy (type and partition): --evict would write what Helm owns.
    let chart = Owners::of(&captured("chart"));
    assert_eq!(names(&chart.strategy), ["helm"]);
    let strategy = chart.reverter(Field::UpdateStrategy).unwrap();
    assert_eq!(strategy.field, "the update strategy");
    assert_eq!(strategy.owner(), "Helm release owners/db (field manager helm)");
    let snippet = strategy_snippet(&strategy, &captured("chart"));
    assert!(
        snippet.starts_with("The chart of release db renders updateStrategy of StatefulSet"),
        "{snippet}"
    );
    // Argo CD applies no updateStrategy of its own here (Git sets none): nobody's but ours.
    let argo = Owners::of(&captured("argo"));
    assert!(argo.strategy.is_empty());
    assert_eq!(argo.reverter(Field::UpdateStrategy), None);
}

#[test]
fn an_argo_cd_sync_with_replace_owns_every_field_git_does_not_set() {
    let mut argo = captured("argo");
    argo.annotations_mut().insert(ARGOCD_SYNC_OPTIONS.to_owned(), "Replace=true".to_owned());
    let owners = Owners::of(&argo);
    assert_eq!(
        owners.applier.as_ref().unwrap().replace_sync.as_deref(),
        Some("annotation argocd.argoproj.io/sync-options")
    );
    assert!(owners.partition.is_empty(), "managedFields still name nobody");
    for field in [Field::Partition, Field::UpdateStrategy] {
        let contested = owners.reverter(field).unwrap();
        assert_eq!(contested.manager.manager, "argocd-controller", "the manager its syncs write as");
        assert_eq!(
            contested.owner(),
            "Argo CD application shop (it syncs with Replace=true: annotation argocd.argoproj.io/sync-options)"
        );
        let snippet = partition_snippet(&contested, &argo);
        assert!(snippet.contains("each sync replaces the whole object with Git's"), "{snippet}");
    }
    // The image Git sets is owned through managedFields, as ever.
    assert_eq!(owners.image_reverter(["app"]).unwrap().replace_sync, None);
}

#[test]
fn each_tool_is_worded_as_it_works() {
    assert_eq!(Tool::ArgoCd.source(), "in Git");
    assert_eq!(Tool::Helm.source(), "in the release's chart or values");
    assert_eq!(Tool::FluxKustomization.undo(), "revert the change in Git");
    assert!(Tool::Helm.undo().contains("helm rollback") && !Tool::Helm.undo().contains("Git"));
    assert!(
        Tool::Helm.reverts_when().contains("helm upgrade") && !Tool::Helm.reverts_when().contains("sync")
    );
    assert_eq!(Tool::Helm.applies(), "helm upgrade has applied it");
}

#[test]
fn an_application_says_whether_it_syncs_with_replace() {
    let app =
        |options: serde_json::Value| serde_json::json!({"spec": {"syncPolicy": {"syncOptions": options}}});
    let evidence = || "Application argocd/shop's spec.syncPolicy.syncOptions".to_owned();
    assert_eq!(
        AppSync::of(&app(serde_json::json!(["CreateNamespace=true", "Replace=true"])), evidence()),
        AppSync::Replace(evidence())
    );
    assert_eq!(AppSync::of(&app(serde_json::json!(["ServerSideApply=true"])), evidence()), AppSync::Applies);
    assert_eq!(AppSync::of(&serde_json::json!({"spec": {}}), evidence()), AppSync::Applies);
    let argo = Owners::of(&captured("argo"));
    assert_eq!(argo.applier.as_ref().unwrap().application(), Some(("argocd".to_owned(), "shop".to_owned())));
    let csa = Owners::of(&captured("argo-csa"));
    assert_eq!(
        csa.applier.as_ref().unwrap().application(),
        Some(("argocd-apps".to_owned(), "shop".to_owned()))
    );
    let replaced = argo.clone().with_application(Some(&AppSync::Replace(evidence())));
    assert_eq!(replaced.partition_reverter().unwrap().replace_sync, Some(evidence()));
    assert_eq!(argo.with_application(Some(&AppSync::Unknown("forbidden".into()))).partition_reverter(), None);
    assert_eq!(Owners::of(&captured("chart")).applier.unwrap().application(), None, "Helm has none");
}
