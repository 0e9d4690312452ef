//! What differs between the Kubernetes versions of the matrix (docs/compatibility.md), proved
//! on each: every test here runs on every version and asserts what that version does
//! (`k8s_minor()`), so the suite on 1.34 and on 1.37 each checks its own side.

use std::collections::HashMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::ResourceExt;
use kube::runtime::watcher;
use serde_json::{Value, json};

use crate::support::{Env, Sts, json_of, k8s_minor, kubectl_apply, namespaced_user, wait_until};

fn status_json(env: &Env, name: &str) -> Value {
    json_of(&env.plugin().args(["status", name, "-o", "json"]).output().unwrap())
}

fn codes(status: &Value) -> Vec<&str> {
    status["warnings"].as_array().unwrap().iter().map(|w| w["code"].as_str().unwrap()).collect()
}

/// The most pods of the namespace that were down at once (terminating, gone, or not Ready)
/// while `during` ran, from a pod watch started before it.
async fn most_pods_down_during<F: std::future::Future<Output = T>, T>(env: &Env, during: F) -> (usize, T) {
    let api = env.api::<Pod>();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let watch = tokio::spawn(async move {
        let mut up: HashMap<String, bool> = HashMap::new();
        let mut most = 0;
        let mut stream = watcher(api, watcher::Config::default()).boxed();
        loop {
            let event = tokio::select! {
                event = stream.try_next() => event,
                _ = &mut stopped => return most,
            };
            let (pod, gone) = match event {
                Ok(Some(watcher::Event::Apply(p) | watcher::Event::InitApply(p))) => (p, false),
                Ok(Some(watcher::Event::Delete(p))) => (p, true),
                Ok(Some(_)) => continue,
                _ => return most,
            };
            let ready = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            up.insert(pod.name_any(), !gone && pod.metadata.deletion_timestamp.is_none() && ready);
            most = most.max(up.values().filter(|u| !**u).count());
        }
    });
    // The watch's initial list comes first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let result = during.await;
    let _ = stop.send(());
    (watch.await.unwrap(), result)
}

/// `maxUnavailable: 2`, applied with `kubectl apply`: honoured on 1.37 (MaxUnavailableStatefulSet
/// on), dropped by the API server on 1.34 (gate off). `status` says which, with the reason;
/// `rollout` plans with it only where it is honoured, and the controller then does what the
/// plan says (pods down at once, counted from a pod watch).
#[tokio::test]
async fn max_unavailable_two_is_honoured_or_reported_dropped_as_the_server_does() {
    let env = Env::new("versions-max-unavailable").await;
    env.create::<Service>(json!({
        "metadata": {"name": "web"},
        "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"port": 80}]}
    }))
    .await;
    let mut manifest = Sts::new("web", 3).manifest();
    manifest["spec"]["updateStrategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}});
    kubectl_apply(&env, &manifest, false, None);
    env.wait_ready("web", Duration::from_secs(60)).await;
    let honoured = k8s_minor() >= 37;

    let status = status_json(&env, "web");
    let strategy = &status["updateStrategy"];
    let table = String::from_utf8(env.plugin().args(["status", "web"]).output().unwrap().stdout).unwrap();
    if honoured {
        assert_eq!(strategy["maxUnavailable"], "2", "{strategy}");
        assert_eq!(strategy["maxUnavailableHonoured"], true, "{strategy}");
        assert_eq!(strategy["maxUnavailableRequested"], Value::Null, "stored as asked");
        assert!(!codes(&status).iter().any(|c| c.starts_with("MaxUnavailable")), "{:?}", codes(&status));
        assert!(table.contains("maxUnavailable 2 (honoured)"), "{table}");
    } else {
        assert_eq!(strategy["maxUnavailable"], Value::Null, "the server dropped it: {strategy}");
        assert_eq!(strategy["maxUnavailableRequested"], "2", "{strategy}");
        assert_eq!(strategy["maxUnavailableHonoured"], false, "{strategy}");
        assert_eq!(codes(&status), ["MaxUnavailableDropped"]);
        let message = status["warnings"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("asked for maxUnavailable 2")
                && message.contains("MaxUnavailableStatefulSet")
                && message.contains("one pod at a time"),
            "{message}"
        );
        assert!(table.contains("maxUnavailable 2 applied but dropped by the server"), "{table}");
    }

    // Whoever may not create StatefulSets (not even as a dry run) cannot learn whether the
    // server honours it: a note says so and why. What was dropped stays a fact.
    let reader = namespaced_user(&env, "reader", json!([])).await;
    let output = env.plugin().args(["status", "web", "-o", "json", "--as", &reader]).output().unwrap();
    let limited = json_of(&output);
    assert_eq!(limited["updateStrategy"]["maxUnavailableHonoured"], Value::Null);
    let notes: Vec<&str> = limited["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    if honoured {
        assert!(
            notes.iter().any(|n| n.contains("maxUnavailable is unknown")
                && n.contains("no permission to create StatefulSets")),
            "{notes:?}"
        );
    } else {
        assert_eq!(codes(&limited), ["MaxUnavailableDropped"]);
        assert!(!notes.iter().any(|n| n.contains("maxUnavailable")), "{notes:?}");
    }

    // The plan counts on it only where it is honoured, and the controller does as planned.
    let mut command = env.plugin();
    command.args([
        "rollout",
        "web",
        "--image",
        "app=example.invalid/app:v2",
        "--steps",
        "100%",
        "--yes",
        "-o",
        "json",
    ]);
    // On a thread of its own: the pod watch runs on this test's runtime meanwhile.
    let rollout = async { tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap() };
    let (most_down, output) = most_pods_down_during(&env, rollout).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events: Vec<Value> =
        String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let plan = events.iter().find(|e| e["event"] == "plan").expect("a plan event");
    let warned: Vec<&str> =
        events.iter().filter(|e| e["event"] == "warning").map(|e| e["message"].as_str().unwrap()).collect();
    if honoured {
        assert_eq!(plan["podsAtOnce"], 2, "{plan}");
        assert!(warned.is_empty(), "{warned:?}");
        assert_eq!(most_down, 2, "the controller took two pods down at once");
    } else {
        assert_eq!(plan["podsAtOnce"], 1, "{plan}");
        assert!(warned.iter().any(|w| w.contains("one pod at a time")), "{warned:?}");
        assert_eq!(most_down, 1, "the controller took one pod down at a time");
    }
}

/// `updateStrategy.type: Recreate` (KEP-3541): rejected by the 1.34 API server; on 1.37 with its
/// alpha gate on (the test cluster turns it on), `status` shows it and `rollout` refuses to
/// step it with one line whose way out works.
#[tokio::test]
async fn recreate_is_shown_and_refused_with_a_way_out_that_works() {
    let env = Env::new("versions-recreate").await;
    let mut manifest = Sts::new("db", 3).manifest();
    manifest["spec"]["updateStrategy"] = json!({"type": "Recreate"});
    if k8s_minor() < 37 {
        let object: k8s_openapi::api::apps::v1::StatefulSet = serde_json::from_value(manifest).unwrap();
        let refused = env.api().create(&Default::default(), &object).await.expect_err("1.34 has no Recreate");
        assert!(refused.to_string().contains("must be 'RollingUpdate' or 'OnDelete'"), "{refused}");
        return;
    }
    env.create::<Service>(json!({
        "metadata": {"name": "db"},
        "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 80}]}
    }))
    .await;
    env.create::<k8s_openapi::api::apps::v1::StatefulSet>(manifest).await;
    env.wait_ready("db", Duration::from_secs(60)).await;

    let status = status_json(&env, "db");
    assert_eq!(status["updateStrategy"]["type"], "Recreate");
    assert_eq!(status["updateStrategy"]["partition"], Value::Null);
    assert_eq!(codes(&status), Vec::<&str>::new());

    let before = env.versions().await;
    let output = env
        .plugin()
        .args(["rollout", "db", "--image", "app=example.invalid/app:v2", "--yes"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("Recreate update strategy") && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    assert_eq!(env.versions().await, before, "nothing written");

    // The way out it names: the exact command, run as printed.
    let command = stderr.split('`').nth(1).expect("a command in backticks");
    assert!(command.starts_with(&format!("kubectl -n {} patch statefulset db", env.ns)), "{command}");
    let ran = std::process::Command::new("sh")
        .env("KUBECONFIG", &env.kubeconfig)
        .args(["-c", command])
        .output()
        .unwrap();
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
    let held = status_json(&env, "db");
    assert_eq!(
        (held["updateStrategy"]["type"].as_str(), held["updateStrategy"]["partition"].as_i64()),
        (Some("RollingUpdate"), Some(3))
    );
    let output = env
        .plugin()
        .args(["rollout", "db", "--image", "app=example.invalid/app:v2", "--yes"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    wait_until(Duration::from_secs(30), || async { env.all_pods_run("example.invalid/app:v2").await }).await;
}
