//! Gates beyond readiness: HTTP checks against a server of the test's own on 127.0.0.1,
//! PodDisruptionBudgets (the real disruption controller computes what they allow), a
//! container restart during the soak, `--on-failure abort`, and journaled gates on resume.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use crate::support::{Env, JOURNAL, Lines, Sts, images, partition, rollout_until, sts, wait_until};

fn v(image: &str) -> String {
    format!("example.invalid/{image}")
}

/// An HTTP server on 127.0.0.1 that answers every request with the status `status` holds (and
/// a body naming it), until the test ends. On a thread of its own, so that it answers while
/// the test waits on a blocking command. Returns its base URL.
async fn health_server(status: Arc<AtomicU16>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { return };
            let status = status.load(Ordering::SeqCst);
            let mut request = [0u8; 2048];
            let _ = socket.read(&mut request);
            let body = if status == 200 { "cluster health: green" } else { "cluster health: red" };
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes());
        }
    });
    format!("http://{address}")
}

async fn rest_of(mut lines: Lines) -> Vec<Value> {
    let mut events = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        events.push(serde_json::from_str(&line).unwrap());
    }
    events
}

fn named<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

#[tokio::test]
async fn an_http_gate_holds_the_step_until_it_passes() {
    let env = Env::new("gates-http").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let status = Arc::new(AtomicU16::new(503));
    let url = format!("{}/health?pod={{pod}}", health_server(status.clone()).await);
    let image = format!("app={}", v("app:v2"));
    let args = [
        "rollout",
        "web",
        "--image",
        &image,
        "--steps",
        "1,100%",
        "--gate-http",
        &url,
        "--gate-http-expect",
        "green",
        "--yes",
        "-o",
        "json",
    ];
    let (child, lines) = rollout_until(&env, &args, "gateFailed").await;
    // The canary is updated and Ready, its gate fails: nothing more is released.
    assert_eq!(partition(&sts(&env, "web").await), 2);
    status.store(200, Ordering::SeqCst);
    let events = rest_of(lines).await;
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let passed = named(&events, "gatePassed");
    let pods: Vec<&str> = passed.iter().map(|e| e["pod"].as_str().unwrap()).collect();
    assert_eq!(pods, ["web-2", "web-1", "web-0"], "{events:?}");
    assert_eq!(
        (passed[0]["kind"].as_str(), passed[0]["gateKind"].as_str()),
        (Some("RolloutEvent"), Some("http"))
    );
    assert!(passed[0]["attempt"].as_u64().unwrap() > 1, "web-2 passed only after the server turned green");
    assert!(env.all_pods_run(v("app:v2")).await);
}

#[tokio::test]
async fn a_failing_gate_with_on_failure_abort_rolls_back() {
    let env = Env::new("gates-abort").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let url = health_server(Arc::new(AtomicU16::new(500))).await;
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--gate-http", &url])
        .args(["--on-failure", "abort", "--timeout", "8s", "--gate-timeout", "2s", "--yes", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("failed") && stderr.contains("rolled back"), "{stderr}");
    let events: Vec<Value> =
        String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let failed = named(&events, "gateFailed");
    assert!(failed.iter().all(|e| e["output"].as_str().unwrap().starts_with("HTTP 500")), "{failed:?}");
    assert_eq!(named(&events, "aborted").len(), 1, "{events:?}");
    let web = sts(&env, "web").await;
    assert_eq!(partition(&web), 0);
    assert!(!web.annotations().contains_key(JOURNAL));
    assert!(env.all_pods_run(v("app:v1")).await, "{:?}", images(&env).await);
}

#[tokio::test]
async fn a_pod_disruption_budget_holds_the_step_until_it_allows_it() {
    let env = Env::new("gates-pdb").await;
    env.statefulset(&Sts::new("web", 3)).await;
    env.create::<PodDisruptionBudget>(json!({
        "metadata": {"name": "web"},
        "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "web"}}}
    }))
    .await;
    let budgets = env.api::<PodDisruptionBudget>();
    wait_until(Duration::from_secs(30), || async {
        budgets.get("web").await.unwrap().status.is_some_and(|s| s.observed_generation.is_some())
    })
    .await;
    let (child, lines) = rollout_until(
        &env,
        &["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--yes", "-o", "json"],
        "pdbWait",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(partition(&sts(&env, "web").await), 3, "staged, nothing released while the budget forbids it");
    assert!(env.all_pods_run(v("app:v1")).await);
    let relax = json!({"spec": {"maxUnavailable": 1}});
    budgets.patch("web", &PatchParams::default(), &Patch::Merge(&relax)).await.unwrap();
    let events = rest_of(lines).await;
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(named(&events, "finished").len(), 1);
    assert!(env.all_pods_run(v("app:v2")).await);

    // --ignore-pdb goes ahead under a budget that allows nothing, and says so in its plan.
    budgets
        .patch("web", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"maxUnavailable": 0}})))
        .await
        .unwrap();
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &format!("app={}", v("app:v3")), "--ignore-pdb", "--yes"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("PodDisruptionBudgets ignored"), "{stdout}");
}

/// A container restart of an updated pod during the soak fails the step. The test writes the
/// restart into the pod's status, standing in for the kubelet (docs/testing.md).
#[tokio::test]
async fn a_container_restart_during_the_soak_fails_the_step() {
    let env = Env::new("gates-soak").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let args = [
        "rollout",
        "web",
        "--image",
        &format!("app={}", v("app:v2")),
        "--yes",
        "--pause",
        "60s",
        "-o",
        "json",
    ];
    let (child, lines) = rollout_until(&env, &args, "podReady").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pods = env.api::<Pod>();
    let web2 = pods.get_status("web-2").await.unwrap();
    let mut statuses = web2.status.unwrap().container_statuses.unwrap();
    statuses[0].restart_count += 1;
    let patch = json!({"status": {"containerStatuses": statuses}});
    pods.patch_status("web-2", &PatchParams::default(), &Patch::Strategic(&patch)).await.unwrap();
    let events = rest_of(lines).await;
    let status = child.wait_with_output().await.unwrap().status;
    assert_eq!(status.code(), Some(3), "{events:?}");
    let failed = named(&events, "failed");
    let reasons = failed[0]["reasons"].to_string();
    assert!(reasons.contains("pod web-2 restarted during the soak (restarts 0 -> 1)"), "{reasons}");
    assert_eq!(partition(&sts(&env, "web").await), 2, "nothing more was released");
}

/// Gates are journaled: a rollout stopped after its first step and resumed without any gate
/// flag checks the same gate on the pods it goes on to update.
#[tokio::test]
async fn a_resumed_rollout_runs_its_journaled_gates() {
    let env = Env::new("gates-resume").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let url = format!("{}/ready/{{ordinal}}", health_server(Arc::new(AtomicU16::new(200))).await);
    let image = format!("app={}", v("app:v2"));
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &image, "--partition", "2", "--gate-http", &url, "--yes"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let journal = sts(&env, "web").await.annotations()[JOURNAL].clone();
    assert!(journal.contains(r#""http":["#) && journal.contains("/ready/{ordinal}"), "{journal}");

    let output = env.plugin().args(["rollout", "web", "--yes", "-o", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events: Vec<Value> =
        String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let passed: Vec<&str> = named(&events, "gatePassed").iter().map(|e| e["pod"].as_str().unwrap()).collect();
    assert_eq!(passed, ["web-2", "web-1", "web-0"], "the canary again, then the rest: {events:?}");
    assert!(env.all_pods_run(v("app:v2")).await);
}

/// The gate command a test makes fail per pod: it fails, saying why, where the pod's exec
/// directory (support::Env::exec_dir) holds a file `lagging`.
const REPLICA_CAUGHT_UP: &str = "test ! -e lagging || { echo \"$POD_NAME: replica 42 s behind\"; exit 1; }";

/// An exec gate that fails on the canary stops the rollout after step 1: exit 3, the partition
/// left where step 1 put it, nothing more released, the command's output in the event.
#[tokio::test]
async fn a_failing_exec_gate_stops_the_rollout_at_the_canary() {
    let env = Env::new("gates-exec").await;
    env.statefulset(&Sts::new("web", 3)).await;
    std::fs::write(env.exec_dir("web-2").await.join("lagging"), "").unwrap();
    let output = env
        .plugin()
        .args([
            "rollout",
            "web",
            "--image",
            &format!("app={}", v("app:v2")),
            "--gate-exec",
            REPLICA_CAUGHT_UP,
        ])
        .args(["--timeout", "8s", "--gate-timeout", "2s", "--yes", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    let events: Vec<Value> =
        String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let failed = named(&events, "gateFailed");
    assert!(!failed.is_empty(), "{events:?}");
    assert!(failed.iter().all(|e| e["pod"] == "web-2"), "{failed:?}");
    assert!(
        failed.iter().all(|e| e["output"].as_str().unwrap().contains("web-2: replica 42 s behind")),
        "{failed:?}"
    );
    assert_eq!(partition(&sts(&env, "web").await), 2, "step 1 released web-2 only");
    let images: Vec<String> = images(&env).await.into_iter().map(|(_, image)| image).collect();
    assert_eq!(images, [v("app:v1"), v("app:v1"), v("app:v2")]);
}

/// The same failure with `--on-failure abort` rolls back: every pod on the old revision.
#[tokio::test]
async fn a_failing_exec_gate_with_on_failure_abort_rolls_back() {
    let env = Env::new("gates-exec-abort").await;
    env.statefulset(&Sts::new("web", 3)).await;
    std::fs::write(env.exec_dir("web-2").await.join("lagging"), "").unwrap();
    let output = env
        .plugin()
        .args([
            "rollout",
            "web",
            "--image",
            &format!("app={}", v("app:v2")),
            "--gate-exec",
            REPLICA_CAUGHT_UP,
        ])
        .args(["--on-failure", "abort", "--timeout", "8s", "--gate-timeout", "2s", "--yes"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("web-2: replica 42 s behind"), "{stderr}");
    let web = sts(&env, "web").await;
    assert!(!web.annotations().contains_key(JOURNAL));
    assert!(env.all_pods_run(v("app:v1")).await, "{:?}", images(&env).await);
}
