//! `kubectl stateful status` against the real StatefulSet controller.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use crate::support::{Env, Sts, json_of, wait_until};

fn status_json(env: &Env, args: &[&str]) -> Value {
    let output = env.plugin().arg("status").args(args).args(["-o", "json"]).output().unwrap();
    json_of(&output)
}

fn codes(status: &Value) -> Vec<String> {
    status["warnings"].as_array().unwrap().iter().map(|w| w["code"].as_str().unwrap().to_owned()).collect()
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn healthy_statefulset_maps_every_ordinal_to_pod_dns_claim_and_volume() {
    let env = Env::new("status-healthy").await;
    env.statefulset(&Sts { templates: vec!["data".into(), "logs".into()], ..Sts::new("web", 3) }).await;
    wait_until(Duration::from_secs(30), || async {
        env.pvcs().await.iter().all(|p| p.spec.as_ref().unwrap().volume_name.is_some())
    })
    .await;

    let status = status_json(&env, &["web"]);
    assert_eq!(status["kind"], "StatefulSetStatus");
    assert_eq!(status["schemaVersion"], "v5");
    assert_eq!(status["namespace"], env.ns.as_str());
    assert_eq!(
        status["service"],
        json!({
            "name": "web", "exists": true, "headless": true, "selectsPods": true, "publishNotReadyAddresses": false,
            "ports": [{"name": null, "protocol": "TCP", "port": 80, "targetPort": 80}]
        })
    );
    assert_eq!(status["replicas"]["ready"], 3);
    assert_eq!(status["replicas"]["pvcsBound"], 6);
    let ordinals = status["ordinals"].as_array().unwrap();
    assert_eq!(ordinals.len(), 3);
    for (i, o) in ordinals.iter().enumerate() {
        assert_eq!(o["ordinal"], i);
        assert_eq!(o["pod"]["name"], format!("web-{i}"));
        assert_eq!(o["pod"]["ready"], true);
        assert_eq!(o["dns"], format!("web-{i}.web.{}.svc.cluster.local", env.ns));
        assert!(o["pod"]["node"].as_str().unwrap().starts_with("node-"));
        assert_eq!(o["pod"]["nodeReady"], true);
        assert_eq!(names(&o["pvcs"]), [format!("data-web-{i}"), format!("logs-web-{i}")]);
        for pvc in o["pvcs"].as_array().unwrap() {
            assert_eq!((pvc["phase"].as_str(), pvc["capacity"].as_str()), (Some("Bound"), Some("1Gi")));
            assert!(pvc["volume"].as_str().unwrap().starts_with("pvc-"));
            assert_eq!(pvc["reclaimPolicy"], "Delete");
        }
    }
    assert_eq!(codes(&status), Vec::<String>::new());
    assert_eq!(status["orphanedPvcs"], json!([]));

    // The table says the same; the custom domain reaches the DNS names.
    let table = env.plugin().args(["status", "web", "--cluster-domain", "example.org"]).output().unwrap();
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(table.status.success());
    // The DNS names' pattern once in the header, each name and claim whole in `-o wide`.
    assert!(
        text.contains(&format!("Pod DNS:         web-{{0..2}}.web.{}.svc.example.org; ", env.ns)),
        "{text}"
    );
    assert!(text.contains("ORDINAL   POD     READY"), "{text}");
    assert!(text.contains("Images:          example.invalid/app:v1 (every pod)"), "{text}");
    let wide = env
        .plugin()
        .args(["status", "web", "-o", "wide", "--cluster-domain", "example.org"])
        .output()
        .unwrap();
    let wide = String::from_utf8(wide.stdout).unwrap();
    assert!(wide.contains(&format!("web-2.web.{}.svc.example.org", env.ns)), "{wide}");
    assert!(wide.contains("data-web-1 Bound 1Gi"), "{wide}");
    assert!(table.stderr.is_empty(), "{}", String::from_utf8_lossy(&table.stderr));
}

#[tokio::test]
async fn scale_down_lists_exactly_its_orphaned_claims() {
    let env = Env::new("status-orphans").await;
    env.statefulset(&Sts::new("web", 4)).await;
    env.statefulset(&Sts::new("web-app", 3)).await;
    env.scale("web", 1).await;
    env.scale("web-app", 1).await;
    env.wait_ready("web", Duration::from_secs(60)).await;

    let status = status_json(&env, &["web"]);
    assert_eq!(names(&status["orphanedPvcs"]), ["data-web-1", "data-web-2", "data-web-3"]);
    let orphan = &status["orphanedPvcs"][0];
    assert_eq!((orphan["ordinal"].as_i64(), orphan["template"].as_str()), (Some(1), Some("data")));
    assert_eq!(orphan["reclaimPolicy"], "Delete");
    assert_eq!(status["ordinals"].as_array().unwrap().len(), 1);
    assert_eq!(codes(&status), ["OrphanedPvcs"]);

    let text = String::from_utf8(env.plugin().args(["status", "web"]).output().unwrap().stdout).unwrap();
    assert!(text.contains("Orphaned PVCs (ordinals outside 0..0)"), "{text}");
    assert!(text.contains("kubectl stateful pvc prune web"), "{text}");

    let list = status_json(&env, &[]);
    assert_eq!(list["kind"], "StatefulSetStatusList");
    let orphans: Vec<(&str, usize)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["orphanedPvcs"].as_array().unwrap().len()))
        .collect();
    assert_eq!(orphans, [("web", 3), ("web-app", 2)]);
}

#[tokio::test]
async fn partitioned_update_shows_revisions_and_held_back_ordinals() {
    let env = Env::new("status-partition").await;
    env.statefulset(&Sts { partition: Some(2), ..Sts::new("web", 3) }).await;
    env.set_image("web", "example.invalid/app:v2").await;
    wait_until(Duration::from_secs(60), || async {
        let status = status_json(&env, &["web"]);
        status["revisions"]["update"]["pods"] == 1 && status["replicas"]["ready"] == 3
    })
    .await;

    let status = status_json(&env, &["web"]);
    assert_eq!(status["updateStrategy"]["partition"], 2);
    assert_ne!(status["revisions"]["current"]["name"], status["revisions"]["update"]["name"]);
    assert_eq!(status["revisions"]["current"]["pods"], 2);
    let roles: Vec<(&str, bool)> = status["ordinals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["pod"]["revisionRole"].as_str().unwrap(), o["heldBack"].as_bool().unwrap()))
        .collect();
    assert_eq!(roles, [("current", true), ("current", true), ("update", false)]);
    assert_eq!(codes(&status), ["RolloutInProgress"]);
    let message = status["warnings"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("1 of 3 pods on update revision") && message.contains("2 held back by partition 2"),
        "{message}"
    );
}

#[tokio::test]
async fn start_ordinal_and_missing_service_are_reported() {
    let env = Env::new("status-start").await;
    env.statefulset(&Sts { start: Some(5), service: false, ..Sts::new("db", 2) }).await;
    let status = status_json(&env, &["db"]);
    assert_eq!(status["ordinalsStart"], 5);
    let ordinals: Vec<i64> =
        status["ordinals"].as_array().unwrap().iter().map(|o| o["ordinal"].as_i64().unwrap()).collect();
    assert_eq!(ordinals, [5, 6]);
    assert_eq!(status["ordinals"][1]["pod"]["name"], "db-6");
    assert_eq!(names(&status["ordinals"][0]["pvcs"]), ["data-db-5"]);
    assert_eq!(status["service"]["exists"], false);
    assert_eq!(codes(&status), ["ServiceMissing"]);
}

#[tokio::test]
async fn pod_that_is_not_ready_and_the_ordinals_it_blocks_are_shown() {
    let env = Env::new("status-notready").await;
    env.statefulset(&Sts {
        image: "example.invalid/never-ready:1".into(),
        wait: false,
        ..Sts::new("web", 3)
    })
    .await;
    let pods = env.api::<Pod>();
    wait_until(Duration::from_secs(30), || async {
        pods.get_opt("web-0").await.unwrap().and_then(|p| p.status?.phase).as_deref() == Some("Running")
    })
    .await;
    let status = status_json(&env, &["web"]);
    let ordinals = status["ordinals"].as_array().unwrap();
    assert_eq!(ordinals[0]["pod"]["ready"], false);
    assert_eq!(ordinals[0]["pod"]["status"], "Running");
    // OrderedReady: the controller waits on web-0, so web-1 and web-2 are missing, not skipped.
    assert_eq!((ordinals[1]["pod"].clone(), ordinals[2]["pod"].clone()), (Value::Null, Value::Null));
    assert_eq!(ordinals[2]["pvcs"][0]["phase"], Value::Null);
    assert_eq!(codes(&status), ["PodNotReady", "PodMissing", "PodMissing", "NotReadyPodsUnresolvable"]);
}

#[tokio::test]
async fn pod_on_a_node_that_went_down_is_flagged() {
    let env = Env::new("status-nodedown").await;
    let nodes = env.own_nodes(1).await;
    env.statefulset(&Sts { pool: Some(env.ns.clone()), ..Sts::new("web", 1) }).await;
    env.node_down(&nodes[0]).await;
    wait_until(Duration::from_secs(60), || async {
        status_json(&env, &["web"])["ordinals"][0]["pod"]["nodeReady"] == false
    })
    .await;
    let status = status_json(&env, &["web"]);
    assert!(codes(&status).contains(&"PodOnNotReadyNode".to_owned()), "{:?}", codes(&status));
    let message = status["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == "PodOnNotReadyNode")
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains(&nodes[0]) && message.contains("kubectl stateful recover web-0"), "{message}");
}

#[tokio::test]
async fn read_only_user_gets_status_and_a_note_for_what_it_cannot_read() {
    let env = Env::new("status-rbac").await;
    env.statefulset(&Sts::new("web", 1)).await;
    let user = crate::support::read_only_user(&env, "viewer").await;
    let output = env.plugin().args(["--as", &user, "status", "web", "-o", "json"]).output().unwrap();
    let status = json_of(&output);
    assert_eq!(status["ordinals"][0]["pod"]["ready"], true);
    assert_eq!(status["ordinals"][0]["pvcs"][0]["reclaimPolicy"], Value::Null);
    assert_eq!(status["ordinals"][0]["pod"]["nodeReady"], Value::Null);
    // VolumeSnapshots, PersistentVolumes, Nodes, PodDisruptionBudgets and Events: none of them
    // readable for this user.
    assert_eq!(status["notes"].as_array().unwrap().len(), 5, "{}", status["notes"]);
    assert_eq!(status["quorum"]["budgets"], Value::Null, "unknown, not none");
    assert!(
        status["quorum"]["findings"].as_array().unwrap().is_empty(),
        "one member, nodes and budgets unknown: nothing to say"
    );
    assert_eq!(status["ordinals"][0]["snapshots"], Value::Null);
    assert_eq!(status["controllerFailures"], Value::Null);

    let table = env.plugin().args(["--as", &user, "status", "web"]).output().unwrap();
    assert!(table.status.success());
    let stderr = String::from_utf8(table.stderr).unwrap();
    assert!(stderr.contains("note: PersistentVolumes are not readable"), "{stderr}");
}

#[tokio::test]
async fn unknown_names_fail_with_one_line() {
    let env = Env::new("status-unknown").await;
    for (args, expected) in [
        (vec!["status", "nope"], format!("error: StatefulSet nope not found in namespace {}\n", env.ns)),
        (
            vec!["-n", "no-such-namespace", "status", "nope"],
            "error: namespace no-such-namespace not found\n".to_owned(),
        ),
        (
            vec!["-n", "no-such-namespace", "status"],
            "error: namespace no-such-namespace not found\n".to_owned(),
        ),
    ] {
        let output = env.plugin().args(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert_eq!(String::from_utf8(output.stderr).unwrap(), expected);
        assert!(output.stdout.is_empty());
    }
}

#[tokio::test]
async fn a_closed_stdout_is_not_an_error() {
    let env = Env::new("status-pipe").await;
    env.statefulset(&Sts::new("web", 1)).await;
    // `kubectl stateful status web | head -0`: the reader is gone before anything is written.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-stateful"))
        .env("KUBECONFIG", &env.kubeconfig)
        .args(["-n", &env.ns, "status", "web", "-o", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[tokio::test]
async fn watch_prints_a_snapshot_per_change_and_ends_when_the_statefulset_goes() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let env = Env::new("status-watch").await;
    env.statefulset(&Sts::new("web", 1)).await;
    let mut child = env.spawn_plugin(&["status", "web", "--watch", "-o", "json"]).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(first["replicas"]["desired"], 1);
    // Not polled: the next snapshot comes from the watch, when something changes.
    env.scale("web", 2).await;
    loop {
        let line =
            tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await.unwrap().unwrap().unwrap();
        let snapshot: Value = serde_json::from_str(&line).unwrap();
        if snapshot["replicas"]["ready"] == 2 {
            break;
        }
    }
    env.api::<k8s_openapi::api::apps::v1::StatefulSet>().delete("web", &Default::default()).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait()).await.unwrap().unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn the_namespace_defaults_to_the_contexts() {
    let env = Env::new("status-context").await;
    env.statefulset(&Sts::new("web", 1)).await;
    // A kubeconfig whose current context names this test's namespace, used through $KUBECONFIG.
    let mut config: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&env.kubeconfig).unwrap()).unwrap();
    let current = config["current-context"].as_str().unwrap().to_owned();
    for context in config["contexts"].as_array_mut().unwrap() {
        if context["name"] == current.as_str() {
            context["context"]["namespace"] = json!(env.ns);
        }
    }
    let path = std::env::temp_dir().join(format!("{}.kubeconfig", env.ns));
    std::fs::write(&path, serde_json::to_string(&config).unwrap()).unwrap();
    let output =
        crate::support::plugin().env("KUBECONFIG", &path).args(["status", "-o", "json"]).output().unwrap();
    std::fs::remove_file(&path).unwrap();
    let list = json_of(&output);
    assert_eq!(list["items"][0]["namespace"], env.ns.as_str());
    assert_eq!(list["items"][0]["name"], "web");
}
