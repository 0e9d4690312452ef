//! Every command's dry run writes nothing, also where a real run would write before anything
//! else: a rollout resumed from its journal, its abort, `--discard-journal`, a partition step,
//! a prune (with `--dry-run`, or without `--yes`), a resize, a resize that finds the journal of
//! a swap (a stale one, and one a real run would finish), a restore, a recover, a restart, a
//! scale, a drain, `drain --discard-journal`, and `restart`/`scale --discard-journal` of a journal
//! they cannot read; then the same commands with `--dry-run=server`, whose writes the API server
//! answers (each accepted here) and stores none. Here the
//! namespace is compared before and after each; tests/audit checks the API server's own record:
//! tests/e2e/plugin.sh runs them as the user kubectl-stateful-dry-run, who must write nothing.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use serde_json::json;

use crate::support::{Env, JOURNAL, Sts, client, sts, wait_until};

/// Everything a dry run could change here: the namespace's StatefulSets, claims and pods (as
/// `Env::versions` sees them), each claim's request and its volume's reclaim policy, the
/// ConfigMaps and VolumeSnapshots, and whether the node of db-0 is cordoned.
async fn state(env: &Env) -> Vec<(String, String)> {
    let mut state = env.versions().await;
    let volumes: Api<k8s_openapi::api::core::v1::PersistentVolume> = Api::all(env.client.clone());
    for pvc in env.pvcs().await {
        let spec = pvc.spec.clone().unwrap_or_default();
        let request = spec.resources.and_then(|r| r.requests).and_then(|r| r.get("storage").cloned());
        let policy = match &spec.volume_name {
            Some(volume) => {
                volumes.get(volume).await.unwrap().spec.and_then(|s| s.persistent_volume_reclaim_policy)
            }
            None => None,
        };
        state.push((format!("pvc/{}", pvc.name_any()), format!("{request:?} {policy:?}")));
    }
    let configmaps: Api<ConfigMap> = env.api();
    for cm in configmaps.list(&Default::default()).await.unwrap().items {
        state.push((format!("cm/{}", cm.name_any()), cm.resource_version().unwrap()));
    }
    let snapshots: Api<DynamicObject> = Api::namespaced_with(client().await, &env.ns, &snapshot_resource());
    for vs in snapshots.list(&Default::default()).await.unwrap().items {
        state.push((format!("volumesnapshot/{}", vs.name_any()), vs.uid().unwrap()));
    }
    let pods: Api<k8s_openapi::api::core::v1::Pod> = env.api();
    let node = pods.get("db-0").await.unwrap().spec.unwrap().node_name.unwrap();
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(env.client.clone());
    let cordoned = nodes.get(&node).await.unwrap().spec.and_then(|s| s.unschedulable).unwrap_or(false);
    state.push((format!("node/{node}"), cordoned.to_string()));
    state
}

fn snapshot_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("snapshot.storage.k8s.io", "v1", "VolumeSnapshot"),
        "volumesnapshots",
    )
}

/// The journal of a swap of `db` as `pvc resize` writes it before its delete, recording the
/// StatefulSet with uid `uid`.
fn swap_journal(db: &StatefulSet, uid: &str) -> ConfigMap {
    let mut object = serde_json::to_value(db).unwrap();
    object["metadata"] = json!({"name": "db", "labels": db.labels()});
    object.as_object_mut().unwrap().remove("status");
    let journal = json!({
        "uid": uid,
        "sizes": {"data": "2Gi"},
        "statefulset": object,
        "pods": {},
        "claims": {},
        "whenDeleted": "Retain",
    });
    serde_json::from_value(json!({
        "metadata": {"name": "kubectl-stateful-resize-db"},
        "data": {"journal": journal.to_string()},
    }))
    .unwrap()
}

#[tokio::test]
async fn no_dry_run_of_any_command_writes() {
    let env = Env::new("dry-run").await;
    env.statefulset(&Sts::new("web", 4)).await;
    // db on two nodes of the test's own: a drain of one meets no other test's pods.
    env.own_nodes(2).await;
    env.statefulset(&Sts { pool: Some(env.ns.clone()), ..Sts::new("db", 2) }).await;
    // Claims a scale-down left behind, to prune.
    env.scale("web", 2).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    // A snapshot to restore from.
    let snapshots: Api<DynamicObject> = Api::namespaced_with(client().await, &env.ns, &snapshot_resource());
    let manual: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
        "metadata": {"name": "data-web-0-manual"},
        "spec": {"source": {"persistentVolumeClaimName": "data-web-0"}}
    }))
    .unwrap();
    snapshots.create(&Default::default(), &manual).await.unwrap();
    wait_until(Duration::from_secs(30), || async {
        let vs = snapshots.get("data-web-0-manual").await.unwrap();
        vs.data.pointer("/status/readyToUse") == Some(&json!(true))
    })
    .await;
    // A rollout stopped after a step: its journal says how to go on.
    let step = env
        .plugin()
        .args(["rollout", "web", "--image", "app=example.invalid/app:v2", "--partition", "1", "--yes"])
        .output()
        .unwrap();
    assert!(step.status.success(), "{}", String::from_utf8_lossy(&step.stderr));
    assert!(sts(&env, "web").await.annotations().contains_key(JOURNAL));

    let pods: Api<k8s_openapi::api::core::v1::Pod> = env.api();
    let node = pods.get("db-0").await.unwrap().spec.unwrap().node_name.unwrap();
    let dry_runs: [&[&str]; 14] = [
        &["rollout", "web", "--dry-run"],
        &["rollout", "web", "--dry-run", "--yes", "-o", "json"],
        &["rollout", "web", "--abort", "--dry-run", "--yes"],
        &["rollout", "web", "--discard-journal", "--dry-run", "--yes"],
        &["rollout", "db", "--partition", "1", "--dry-run", "--yes"],
        &["pvc", "prune", "web", "--dry-run", "--yes", "--retain-volumes"],
        &["pvc", "prune", "web", "--snapshot", "-o", "json"],
        &["pvc", "resize", "db", "--size", "data=2Gi", "--dry-run", "--yes"],
        &["pvc", "restore", "web", "--ordinal", "5", "--from", "data-web-0-manual", "--dry-run"],
        &["recover", "db-0", "--cordon", "--min-down", "1s", "--dry-run", "--yes"],
        &["restart", "db", "--dry-run", "--yes"],
        &["scale", "db", "--replicas", "1", "--dry-run", "--yes"],
        &["drain", &node, "--dry-run", "--yes"],
        &["drain", &node, "--discard-journal", "--dry-run", "--yes"],
    ];
    for args in dry_runs {
        let before = state(&env).await;
        let output = env.plugin().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        // Refusals (recover: the node is alive) are answers too; a usage error would be a bad test.
        assert!(matches!(output.status.code(), Some(0 | 1)), "{args:?}: {stderr}");
        assert_eq!(state(&env).await, before, "{args:?} changed something: {stderr}");
    }

    // --dry-run=server: the same plan, each write the plan can send now sent with dryRun=All
    // (the API server accepts each here: its answers on stderr), nothing stored. A rollout
    // resumed (its next partition), its abort, its journal's removal, a partition move, a new
    // rollout (its stage), a prune, a resize (the canary's patch), a restore (the create), a
    // restart, a scale down and up, a drain (the cordon and the first eviction).
    let server_runs: [&[&str]; 14] = [
        &["rollout", "web", "--dry-run=server", "--yes"],
        &["rollout", "web", "--dry-run=server", "-o", "json"],
        &["rollout", "web", "--abort", "--dry-run=server", "--yes"],
        &["rollout", "web", "--discard-journal", "--dry-run=server"],
        &["rollout", "db", "--partition", "1", "--dry-run=server"],
        &["rollout", "db", "--image", "app=example.invalid/app:v3", "--dry-run=server"],
        &["pvc", "prune", "web", "--retain-volumes", "--dry-run=server", "-o", "json"],
        &["pvc", "resize", "db", "--size", "data=2Gi", "--dry-run=server"],
        &[
            "pvc",
            "restore",
            "web",
            "--ordinal",
            "5",
            "--from",
            "data-web-0-manual",
            "--dry-run=server",
            "-o",
            "json",
        ],
        &["restart", "db", "--min-available", "1", "--dry-run=server", "-o", "json"],
        &["scale", "db", "--replicas", "1", "--min-available", "1", "--dry-run=server"],
        &["scale", "db", "--replicas", "3", "--dry-run=server", "-o", "json"],
        &["drain", &node, "--min-available", "1", "--dry-run=server"],
        &["drain", &node, "--discard-journal", "--dry-run=server"],
    ];
    for args in server_runs {
        let before = state(&env).await;
        let output = env.plugin().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert_eq!(state(&env).await, before, "{args:?} stored something: {stderr}");
        if args.contains(&"--discard-journal") && !args.contains(&"rollout") {
            // No drain journal on the node: nothing to discard, nothing to check.
            assert!(stderr.contains("nothing to discard"), "{args:?}: {stderr}");
            continue;
        }
        assert!(stderr.contains("server dry run (dryRun=All; nothing is stored):"), "{args:?}: {stderr}");
        assert!(stderr.contains("  1. ") && stderr.contains(": accepted"), "{args:?}: {stderr}");
        assert!(!stderr.contains("refused"), "{args:?}: {stderr}");
    }
    // The answers in the machine output: a document's `serverDryRun`, an event stream's
    // `serverDryRun` event.
    let args = [
        "pvc",
        "restore",
        "web",
        "--ordinal",
        "5",
        "--from",
        "data-web-0-manual",
        "--dry-run=server",
        "-o",
        "json",
    ];
    let restore = crate::support::json_of(&env.plugin().args(args).output().unwrap());
    assert_eq!(
        (restore["kind"].as_str(), restore["schemaVersion"].as_str()),
        (Some("PvcRestore"), Some("v3"))
    );
    assert_eq!(
        restore["serverDryRun"],
        json!([{"step": 1, "write": format!("create PVC {}/data-web-5", env.ns), "answer": "accepted"}])
    );
    let args = ["scale", "db", "--replicas", "1", "--min-available", "1", "--dry-run=server", "-o", "json"];
    let output = env.plugin().args(args).output().unwrap();
    let events: Vec<serde_json::Value> =
        String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let answers = events.iter().find(|e| e["event"] == "serverDryRun").expect("a serverDryRun event");
    assert_eq!(
        (answers["kind"].as_str(), answers["schemaVersion"].as_str()),
        (Some("ScaleEvent"), Some("v2"))
    );
    assert_eq!(
        answers["writes"],
        json!([
            {"step": 1, "write": "write the scale journal of db", "answer": "accepted"},
            {"step": 2, "write": "scale StatefulSet db from 2 to 1", "answer": "accepted"},
            {"step": 3, "write": "remove the scale journal of db", "answer": "notChecked", "dependsOn": 2},
        ])
    );

    // `--discard-journal` of a journal the command cannot read (the reason to discard one), as
    // a dry run and as a server dry run (the journal's removal sent with dryRun=All).
    for (command, annotation) in
        [("restart", "kubectl-stateful.dev/restart"), ("scale", "kubectl-stateful.dev/scale")]
    {
        env.patch_sts("db", json!({"metadata": {"annotations": {annotation: "{not a journal"}}})).await;
        for how in ["--dry-run", "--dry-run=server"] {
            let before = state(&env).await;
            let args = [command, "db", "--discard-journal", how, "--yes"];
            let output = env.plugin().args(args).output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "{args:?}: {stderr}");
            assert!(stderr.contains("{not a journal"), "the journal is shown as stored: {stderr}");
            assert_eq!(state(&env).await, before, "{args:?} changed something: {stderr}");
            if how == "--dry-run=server" {
                let line = format!("  1. remove the {command} journal of db: accepted");
                assert!(stderr.contains(&line), "{args:?}: {stderr}");
            }
        }
        env.patch_sts("db", json!({"metadata": {"annotations": {annotation: null}}})).await;
    }

    // A resize that finds the journal of a swap: a stale one (its StatefulSet never deleted),
    // which a real run removes before starting over, and one a real run would finish (the
    // StatefulSet it records gone, another in its place), removing it at the end.
    let configmaps: Api<ConfigMap> = env.api();
    let db = sts(&env, "db").await;
    for uid in [db.uid().unwrap(), "a-statefulset-deleted-since".to_owned()] {
        configmaps.create(&Default::default(), &swap_journal(&db, &uid)).await.unwrap();
        let before = state(&env).await;
        let args = ["pvc", "resize", "db", "--size", "data=2Gi", "--dry-run", "--yes"];
        let output = env.plugin().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(
            stderr.contains("kubectl-stateful-resize-db"),
            "the dry run says what the journal means: {stderr}"
        );
        assert_eq!(
            state(&env).await,
            before,
            "{args:?} with a journal for uid {uid} changed something: {stderr}"
        );
        configmaps.delete("kubectl-stateful-resize-db", &Default::default()).await.unwrap();
    }
}
