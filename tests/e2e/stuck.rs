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

/// What the plugin's status says of `web`, as JSON (with every connection flag given).
fn status_json(env: &Env) -> Value {
    let output = env.plugin_with_flags().args(["status", "web", "-o", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The message of `status`'s warning `code`, if it gives one.
fn warning(status: &Value, code: &str) -> Option<String> {
    status["warnings"].as_array()?.iter().find(|w| w["code"] == code).map(|w| w["message"].to_string())
}

/// A set whose pods were never Ready (an image that never passes its readiness probe): a
/// rollout to another such image fails its first step (exit 3); status says the rollout began
/// with 0/3 pods Ready; the abort moves the pod it changed back and ends (exit 0) instead of
/// waiting for Ready pods that never were, saying so, with a status command that runs as
/// printed; the journal is gone and every pod runs the old image.
#[tokio::test]
async fn an_abort_of_a_set_that_was_never_ready_ends_once_its_pods_are_back() {
    let env = Env::new("stuck-never-ready").await;
    let old = "example.invalid/never-ready:1";
    env.statefulset(&Sts { image: old.into(), parallel: true, wait: false, ..Sts::new("web", 3) }).await;
    wait_until(Duration::from_secs(60), || async {
        let counted = crate::support::sts(&env, "web").await.status.map_or(0, |s| s.replicas);
        counted == 3 && env.pods().await.len() == 3
    })
    .await;
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", "app=example.invalid/never-ready:2", "--yes", "--timeout", "8s"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let journal = crate::support::sts(&env, "web").await.annotations()[crate::support::JOURNAL].clone();
    let recorded: Value = serde_json::from_str(&journal).unwrap();
    assert_eq!(recorded["readyAtStart"], json!({"ordinals": [], "replicas": 3}), "{journal}");
    let status = status_json(&env);
    let progress = warning(&status, "RolloutInProgress").unwrap_or_else(|| panic!("{status:#}"));
    assert!(progress.contains("(0/3 Ready at its start)"), "{progress}");

    let started = std::time::Instant::now();
    let output = env
        .plugin_with_flags()
        .args(["rollout", "web", "--abort", "--yes", "--timeout", "90s"])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert!(started.elapsed() < Duration::from_secs(80), "ended by the pods, not the timeout");
    assert!(
        stderr.contains(
            "but not Ready: they were not Ready before the rollout either (0/3 Ready at its start)"
        ),
        "{stderr}"
    );
    assert!(stdout.contains("not Ready, as when the rollout started: web-0, web-1, web-2"), "{stdout}");
    assert!(!crate::support::sts(&env, "web").await.annotations().contains_key(crate::support::JOURNAL));
    assert!(env.all_pods_run(old).await, "{:?}", crate::support::images(&env).await);
    let status_command = commands(&stderr).into_iter().find(|c| c.contains(" status web")).expect("a way on");
    let printed = run_as_printed(status_command);
    assert!(printed.contains("web-2"), "{printed}");
    assert_eq!(warning(&status_json(&env), "RolloutInProgress"), None);
}

/// A restart, scale or drain journal that does not read stops its command with nothing changed
/// and names the way out; `restart`'s and `scale`'s `--discard-journal` remove it without
/// reading it, and the drain's `kubectl annotate` does; each run as printed, after which the
/// command runs.
#[tokio::test]
async fn unreadable_maintenance_journals_name_their_way_out() {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::core::v1::Node;
    let env = Env::new("stuck-journals").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let nodes = env.own_nodes(1).await;
    let broken = |annotation: &str| json!({"metadata": {"annotations": {annotation: "{not a journal"}}});
    let sets = env.api::<StatefulSet>();
    for annotation in ["kubectl-stateful.dev/restart", "kubectl-stateful.dev/scale"] {
        sets.patch("web", &PatchParams::default(), &Patch::Merge(&broken(annotation))).await.unwrap();
    }
    let node_api: kube::Api<Node> = kube::Api::all(env.client.clone());
    node_api
        .patch(&nodes[0], &PatchParams::default(), &Patch::Merge(&broken("kubectl-stateful.dev/drain")))
        .await
        .unwrap();

    // Status names both, each with the command that removes it.
    let status = status_json(&env);
    let unreadable: Vec<&str> = status["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["code"] == "JournalUnreadable")
        .map(|w| w["message"].as_str().unwrap())
        .collect();
    assert_eq!(unreadable.len(), 2, "{status:#}");
    assert!(unreadable[0].contains("restart web --discard-journal"), "{unreadable:?}");
    assert!(unreadable[1].contains("scale web --discard-journal"), "{unreadable:?}");

    let runs: [(&[&str], &str, &str); 3] = [
        (&["restart", "web", "1", "--yes"], "kubectl-stateful.dev/restart", "restart web --discard-journal"),
        (
            &["scale", "web", "--replicas", "2", "--yes"],
            "kubectl-stateful.dev/scale",
            "scale web --discard-journal",
        ),
        (&["drain", &nodes[0], "--yes"], "kubectl-stateful.dev/drain", "--discard-journal"),
    ];
    for (args, annotation, way_out) in runs {
        let before = env.versions().await;
        let output = env.plugin_with_flags().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(&format!("annotation {annotation} on")), "{stderr}");
        assert_eq!(env.versions().await, before, "{args:?} changed nothing");
        let printed =
            commands(&stderr).into_iter().find(|c| c.contains(way_out)).unwrap_or_else(|| panic!("{stderr}"));
        if printed.contains("--discard-journal") {
            // Pasted at a terminal, as a person would: it shows the journal and asks first.
            let pasted = crate::support::as_printed(printed);
            let (transcript, code) = tokio::task::spawn_blocking(move || {
                crate::advice::on_terminal(pasted, &[("Remove it?", "y")])
            })
            .await
            .unwrap();
            assert_eq!(code, 0, "{printed}: {transcript}");
        } else {
            run_as_printed(printed);
        }
    }
    let web = sets.get("web").await.unwrap();
    assert!(
        !web.annotations().keys().any(|k| k.contains("kubectl-stateful.dev/")),
        "{:?}",
        web.annotations()
    );
    let node = node_api.get(&nodes[0]).await.unwrap();
    assert!(!node.annotations().contains_key("kubectl-stateful.dev/drain"));
    let output = env.plugin_with_flags().args(["restart", "web", "2", "--yes"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}
