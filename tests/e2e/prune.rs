//! `kubectl stateful pvc prune` against the real controller, PV binder and pvc-protection.

use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::Api;
use serde_json::{Value, json};

use crate::support::{Env, Sts, json_of, kubeconfig, wait_until};

fn deleted(result: &Value) -> Vec<&str> {
    result["deleted"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect()
}

fn verdicts(plan: &Value) -> Vec<(String, String)> {
    plan["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_owned(), c["verdict"].as_str().unwrap().to_owned()))
        .collect()
}

async fn scaled(env: &Env, name: &str, replicas: i32) {
    env.scale(name, replicas).await;
    env.wait_ready(name, Duration::from_secs(60)).await;
}

#[tokio::test]
async fn prunes_exactly_the_claims_scale_down_left_behind() {
    let env = Env::new("prune-exact").await;
    env.statefulset(&Sts::new("web", 5)).await;
    env.statefulset(&Sts::new("web-app", 3)).await;
    // A claim named like web's, created by hand: never web's to delete.
    env.create::<PersistentVolumeClaim>(json!({
        "metadata": {"name": "data-web-7"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    }))
    .await;
    scaled(&env, "web", 2).await;
    scaled(&env, "web-app", 1).await;

    let plan = json_of(&env.plugin().args(["pvc", "prune", "web", "-o", "json"]).output().unwrap());
    assert_eq!(plan["kind"], "PrunePlan");
    assert_eq!(
        verdicts(&plan),
        [
            ("data-web-2".to_owned(), "prune".to_owned()),
            ("data-web-3".to_owned(), "prune".to_owned()),
            ("data-web-4".to_owned(), "prune".to_owned()),
            ("data-web-7".to_owned(), "unverified".to_owned()),
        ]
    );
    assert_eq!(plan["storageFreed"], "3Gi");

    let output = env.plugin().args(["pvc", "prune", "web", "--yes", "-o", "json"]).output().unwrap();
    let result = json_of(&output);
    assert_eq!(result["kind"], "PruneResult");
    assert_eq!(deleted(&result), ["data-web-2", "data-web-3", "data-web-4"]);
    assert_eq!(result["deleted"][0]["namespace"], env.ns.as_str());
    assert_eq!(result["storageFreed"], "3Gi");
    wait_until(Duration::from_secs(30), || async { env.pvc_names().await.len() == 6 }).await;
    assert_eq!(
        env.pvc_names().await,
        ["data-web-0", "data-web-1", "data-web-7", "data-web-app-0", "data-web-app-1", "data-web-app-2"]
    );
}

#[tokio::test]
async fn a_claim_another_pod_mounts_is_kept() {
    let env = Env::new("prune-mounted").await;
    env.statefulset(&Sts::new("web", 3)).await;
    scaled(&env, "web", 1).await;
    env.create::<Pod>(json!({
        "metadata": {"name": "backup"},
        "spec": {
            "containers": [{"name": "copy", "image": "example.invalid/backup:1"}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-2"}}]
        }
    }))
    .await;
    let result =
        json_of(&env.plugin().args(["pvc", "prune", "web", "--yes", "-o", "json"]).output().unwrap());
    assert_eq!(deleted(&result), ["data-web-1"]);
    assert_eq!(
        result["kept"],
        json!([{"name": "data-web-2", "namespace": env.ns, "reason": "mounted by pod backup"}])
    );
    wait_until(Duration::from_secs(30), || async { env.pvc_names().await == ["data-web-0", "data-web-2"] })
        .await;
}

/// `-A` reads only StatefulSet pods, plus every pod of the namespaces where a claim's fate
/// depends on who mounts it: a Deployment's pod (no StatefulSet label) that mounts a claim left
/// by a scale-down must still keep it, in the plan and in `status -A`.
#[tokio::test]
async fn under_all_namespaces_a_claim_a_deployment_pod_mounts_is_kept() {
    let env = Env::new("prune-narrow").await;
    env.statefulset(&Sts::new("web", 3)).await;
    scaled(&env, "web", 1).await;
    env.create::<k8s_openapi::api::apps::v1::Deployment>(json!({
        "metadata": {"name": "reader"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "reader"}},
            "template": {
                "metadata": {"labels": {"app": "reader"}},
                "spec": {
                    "containers": [{"name": "read", "image": "example.invalid/reader:1"}],
                    "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-2"}}]
                }
            }
        }
    }))
    .await;
    let reader_pod = || async {
        let pods = env.pods().await;
        pods.into_iter().filter_map(|p| p.metadata.name).find(|n| n.starts_with("reader-"))
    };
    wait_until(Duration::from_secs(60), || async { reader_pod().await.is_some() }).await;
    let reader = reader_pod().await.unwrap();

    let output =
        env.plugin().args(["pvc", "prune", "-A", "--dry-run", "-o", "json", "-v", "6"]).output().unwrap();
    let plan = json_of(&output);
    // The narrowing itself (-v 6 logs each request): StatefulSet pods selected by the API
    // server, then every pod of this namespace, where a claim lies outside the live ordinals
    // (one LIST of it, or, when other tests leave more than 32 such namespaces, of all of them).
    let requests = String::from_utf8_lossy(&output.stderr);
    assert!(
        requests.contains("GET /api/v1/pods?&labelSelector=statefulset.kubernetes.io%2Fpod-name&"),
        "{requests}"
    );
    assert!(
        requests.contains(&format!("GET /api/v1/namespaces/{}/pods?&limit=500", env.ns))
            || requests.contains("GET /api/v1/pods?&limit=500"),
        "{requests}"
    );
    let ours: Vec<(String, String, String)> = plan["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["namespace"] == env.ns.as_str())
        .map(|c| {
            let field = |f: &str| c[f].as_str().unwrap_or_default().to_owned();
            (field("name"), field("verdict"), field("reason"))
        })
        .collect();
    assert_eq!(
        ours,
        [
            (
                "data-web-1".to_owned(),
                "prune".to_owned(),
                "ordinal 1 is outside the live range 0..0".to_owned()
            ),
            ("data-web-2".to_owned(), "keep".to_owned(), format!("mounted by pod {reader}")),
        ]
    );

    let web = env.status_in_all_namespaces("web");
    let orphaned: Vec<&str> =
        web["orphanedPvcs"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(orphaned, ["data-web-1"]);
    assert_eq!(env.pvc_names().await, ["data-web-0", "data-web-1", "data-web-2"]);
}

#[tokio::test]
async fn a_scale_up_between_plan_and_delete_stops_the_prune() {
    let env = Env::new("prune-race").await;
    env.statefulset(&Sts::new("web", 4)).await;
    scaled(&env, "web", 1).await;
    let ns = env.ns.clone();
    // On a terminal the plan is shown, then the prompt; the scale-up lands in between.
    let session = tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-stateful"));
        command.env("KUBECONFIG", kubeconfig()).env("NO_COLOR", "1").args(["-n", &ns, "pvc", "prune", "web"]);
        let mut session = rexpect::session::spawn_command(command, Some(60_000)).unwrap();
        session.exp_string("Type web to confirm").unwrap();
        session
    })
    .await
    .unwrap();
    env.scale("web", 3).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    let transcript = tokio::task::spawn_blocking(move || {
        let mut session = session;
        session.send_line("web").unwrap();
        session.exp_eof().unwrap()
    })
    .await
    .unwrap();
    assert!(transcript.contains("changed since the plan (replicas 1 -> 3"), "{transcript}");
    assert!(transcript.contains("Deleted: none"), "{transcript}");
    // Nothing was deleted: the now-live claims and the still-orphaned one all remain.
    assert_eq!(env.pvc_names().await, ["data-web-0", "data-web-1", "data-web-2", "data-web-3"]);
}

#[tokio::test]
async fn retain_volumes_leaves_released_volumes_with_their_data() {
    let env = Env::new("prune-retain").await;
    env.statefulset(&Sts::new("web", 3)).await;
    scaled(&env, "web", 1).await;
    let volumes: Vec<String> =
        env.pvcs().await[1..].iter().map(|p| p.spec.as_ref().unwrap().volume_name.clone().unwrap()).collect();
    let result = json_of(
        &env.plugin()
            .args(["pvc", "prune", "web", "--yes", "--retain-volumes", "-o", "json"])
            .output()
            .unwrap(),
    );
    assert_eq!(deleted(&result), ["data-web-1", "data-web-2"]);
    assert_eq!(result["retainedVolumes"], json!(volumes));
    assert_eq!(result["storageFreed"], "0B", "every PV survives");
    let api: Api<PersistentVolume> = Api::all(env.client.clone());
    for volume in &volumes {
        wait_until(Duration::from_secs(30), || async {
            let pv = api.get(volume).await.unwrap();
            pv.status.and_then(|s| s.phase).as_deref() == Some("Released")
        })
        .await;
        let pv = api.get(volume).await.unwrap();
        assert_eq!(pv.spec.unwrap().persistent_volume_reclaim_policy.as_deref(), Some("Retain"));
    }
}

#[tokio::test]
async fn without_consent_it_is_a_dry_run_that_changes_nothing() {
    let env = Env::new("prune-dryrun").await;
    env.statefulset(&Sts::new("web", 3)).await;
    env.statefulset(&Sts { templates: vec![], ..Sts::new("cache", 1) }).await;
    env.statefulset(&Sts::new("parked", 2)).await;
    scaled(&env, "web", 1).await;
    scaled(&env, "parked", 0).await;
    let before = env.versions().await;
    let output = env.plugin().args(["pvc", "prune"]).output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.contains("data-web-1") && stdout.contains("prune"), "{stdout}");
    assert!(stdout.contains("parked is scaled to 0 (parked, not shrunk)"), "{stdout}");
    assert!(stderr.contains("dry run: nothing was deleted"), "{stderr}");
    assert!(stderr.contains("reclaim policy Delete"), "{stderr}");
    let dry = env
        .plugin()
        .args(["pvc", "prune", "--yes", "--dry-run", "--include-scaled-to-zero", "-o", "json"])
        .output()
        .unwrap();
    let plan = json_of(&dry);
    assert_eq!(plan["candidates"].as_array().unwrap().iter().filter(|c| c["verdict"] == "prune").count(), 4);
    assert_eq!(env.versions().await, before, "a dry run changes nothing");

    let none = env.plugin().args(["pvc", "prune", "cache"]).output().unwrap();
    assert!(none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no volumeClaimTemplates"));
    let misuse = env.plugin().args(["pvc", "prune", "-A", "web"]).output().unwrap();
    assert_eq!(misuse.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&misuse.stderr).lines().count(), 1);
}
