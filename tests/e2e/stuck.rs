//! Every stuck state names its cause and its way out, and status shows it (issue #28, kind 6).

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::support::{Env, Sts, commands, run_as_printed, wait_until};

/// A pod held Terminating by a finalizer: a rollout that waits on it stops naming the
/// finalizer (exit 3); status names it in the pod and in a warning whose command, run as
/// printed, releases the pod, which the controller then re-creates.
#[tokio::test]
async fn a_pod_held_terminating_by_a_finalizer_is_named_by_rollout_and_status() {
    let env = Env::new("stuck-finalizer").await;
    env.statefulset(&Sts::new("web", 2)).await;
    let pods = env.api::<Pod>();
    let hold = json!({"metadata": {"finalizers": ["example.com/protect"]}});
    pods.patch("web-1", &PatchParams::default(), &Patch::Merge(&hold)).await.unwrap();
    let held = pods.get("web-1").await.unwrap().uid().unwrap();
    pods.delete("web-1", &DeleteParams::default()).await.unwrap();

    let output = env
        .plugin()
        .args(["rollout", "web", "--image", "app=example.invalid/app:v2", "--yes", "--timeout", "8s"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("web-1 is held Terminating by finalizer example.com/protect"), "{stderr}");

    let output = env.plugin_with_flags().args(["status", "web", "-o", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        status["ordinals"][1]["pod"]["heldByFinalizers"],
        json!(["example.com/protect"]),
        "{status:#}"
    );
    let warning = status["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == "PodHeldByFinalizers")
        .unwrap_or_else(|| panic!("{status:#}"));
    let message = warning["message"].as_str().unwrap();
    let release = commands(message).into_iter().find(|c| c.contains("patch pod web-1")).expect("a way out");
    run_as_printed(release);
    wait_until(Duration::from_secs(60), || async {
        pods.get_opt("web-1").await.unwrap().is_some_and(|p| p.uid().unwrap() != held)
    })
    .await;
}
