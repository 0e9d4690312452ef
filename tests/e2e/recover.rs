//! Node failure: `status` reports it, `recover` refuses without evidence and recovers with it
//! (after a dry run and a server dry run that change nothing).

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::ResourceExt;
use kube::api::Api;

use crate::support::{Env, Sts, json_of, wait_until};

fn status(env: &Env) -> serde_json::Value {
    json_of(&env.plugin().args(["status", "db", "-o", "json"]).output().unwrap())
}

#[tokio::test]
async fn recover_refuses_until_the_node_is_gone_then_moves_the_pod_with_its_claims() {
    let env = Env::new("recover").await;
    let nodes = env.own_nodes(2).await;
    // Two nodes of the test's own: one to fail, one for the replacement.
    env.statefulset(&Sts { pool: Some(env.ns.clone()), ..Sts::new("db", 1) }).await;
    let pods = env.api::<Pod>();
    let victim = pods.get("db-0").await.unwrap();
    let dead = victim.spec.as_ref().unwrap().node_name.clone().unwrap();
    let claims_before = env.pvcs().await.iter().map(|p| p.uid().unwrap()).collect::<Vec<_>>();

    // A healthy node: refused, nothing changed.
    let output = env.plugin().args(["recover", "db-0", "--yes", "--min-down", "1s"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("node {dead} is Ready")) && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    assert_eq!(pods.get("db-0").await.unwrap().uid(), victim.uid());

    env.node_down(&dead).await;
    wait_until(Duration::from_secs(60), || async {
        status(&env)["ordinals"][0]["pod"]["nodeReady"] == false
    })
    .await;
    let report = status(&env);
    let warning =
        report["warnings"].as_array().unwrap().iter().find(|w| w["code"] == "PodOnNotReadyNode").unwrap();
    assert!(warning["message"].as_str().unwrap().contains("kubectl stateful recover db-0"), "{warning}");

    // Down, but not for as long as --min-down asks: refused.
    let output =
        env.plugin().args(["recover", "db-0", "--yes", "--min-down", "10m", "-o", "json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let refused: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(refused["action"], "refused");
    assert!(refused["reasons"][0].as_str().unwrap().contains("less than --min-down 600s"), "{refused}");
    assert_eq!(pods.get("db-0").await.unwrap().uid(), victim.uid());

    // Long enough: a dry run says so and changes nothing (the pod stays, the node uncordoned)...
    tokio::time::sleep(Duration::from_secs(3)).await;
    let args = ["recover", "db-0", "--yes", "--min-down", "2s", "--cordon", "--dry-run", "-o", "json"];
    let dry = json_of(&env.plugin().args(args).output().unwrap());
    assert_eq!((dry["action"].as_str(), dry["cordoned"].as_bool()), (Some("dryRun"), Some(false)), "{dry}");
    assert_eq!(pods.get("db-0").await.unwrap().uid(), victim.uid());
    let node: Node = Api::<Node>::all(env.client.clone()).get(&dead).await.unwrap();
    assert_eq!(node.spec.unwrap().unschedulable, None);
    // ...as does a server dry run, whose cordon and force delete the API server accepts...
    let args = ["recover", "db-0", "--min-down", "2s", "--cordon", "--dry-run=server", "-o", "json"];
    let output = env.plugin().args(args).output().unwrap();
    let server = json_of(&output);
    assert_eq!((server["schemaVersion"].as_str(), server["action"].as_str()), (Some("v2"), Some("dryRun")));
    assert_eq!(
        server["serverDryRun"],
        serde_json::json!([
            {"step": 1, "write": format!("cordon node {dead}"), "answer": "accepted"},
            {"step": 2, "write": "force-delete pod db-0", "answer": "accepted"},
        ])
    );
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("  2. force-delete pod db-0: accepted"), "{said}");
    assert_eq!(pods.get("db-0").await.unwrap().uid(), victim.uid());
    let node: Node = Api::<Node>::all(env.client.clone()).get(&dead).await.unwrap();
    assert_eq!(node.spec.unwrap().unschedulable, None);
    // ...and the real run force-deletes the pod, which comes back on the other node, same claims.
    let output = env
        .plugin()
        .args(["recover", "db", "--ordinal", "0", "--yes", "--min-down", "2s", "--cordon", "-o", "json"])
        .output()
        .unwrap();
    let recovery = json_of(&output);
    assert_eq!(recovery["kind"], "Recovery");
    assert_eq!(recovery["action"], "forceDeleted");
    assert_eq!(recovery["cordoned"], true);
    let alive = nodes.iter().find(|n| **n != dead).unwrap();
    assert_eq!(recovery["replacement"]["node"], alive.as_str());
    assert_eq!(recovery["replacement"]["pvcs"], serde_json::json!(["data-db-0"]));
    let replacement = pods.get("db-0").await.unwrap();
    assert_ne!(replacement.uid(), victim.uid());
    assert_eq!(
        env.pvcs().await.iter().map(|p| p.uid().unwrap()).collect::<Vec<_>>(),
        claims_before,
        "same PVC objects"
    );
    let node: Node = Api::<Node>::all(env.client.clone()).get(&dead).await.unwrap();
    assert_eq!(node.spec.unwrap().unschedulable, Some(true));
}
