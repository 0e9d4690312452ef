//! Faults, races, permissions and bad input: nothing lost, nothing changed by mistake.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::ResourceExt;
use serde_json::{Value, json};

use crate::support::{
    Env, JOURNAL, OwnCluster, Sts, namespaced_user, partition, read_only_user, rollout_until,
};

const V2: &str = "app=example.invalid/app:v2";

fn one_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr).into_owned();
    assert_eq!(text.lines().count(), 1, "one line on stderr: {text}");
    text
}

/// The API server process is stopped mid-step (SIGSTOP: frozen, its port open, nothing
/// answering: the case only a timeout detects) and started again (SIGCONT).
#[tokio::test]
async fn the_api_server_stopping_mid_rollout_leaves_a_safe_partition_and_the_rollout_resumes() {
    // Named after the suite's own cluster, so that runs on two versions side by side (tests/run
    // names them kubectl-stateful-<version>) do not share it.
    let name = format!(
        "{}-faults-apiserver",
        std::env::var("KUBECTL_STATEFUL_CLUSTER").unwrap_or_else(|_| "kubectl-stateful".to_owned())
    );
    let cluster = tokio::task::spawn_blocking(move || OwnCluster::start(&name)).await.unwrap();
    let env = Env::on(&cluster.kubeconfig, "apiserver").await;
    env.statefulset(&Sts { min_ready_seconds: Some(5), ..Sts::new("web", 3) }).await;
    let (child, _events) = rollout_until(
        &env,
        &["--request-timeout", "3s", "rollout", "web", "--image", V2, "--yes", "-o", "json"],
        "podUpdated",
    )
    .await;

    cluster.stop("kube-apiserver");
    let stopped = Instant::now();
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("exits")
        .unwrap();
    let noticed = stopped.elapsed();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = one_line(&output.stderr);
    assert!(
        stderr.contains("lost the connection to the API server") && stderr.contains("left at partition 2"),
        "{stderr}"
    );
    assert!(noticed < Duration::from_secs(20), "noticed after {noticed:?}");

    cluster.start_again("kube-apiserver");
    crate::support::wait_until(Duration::from_secs(60), || async {
        env.client.apiserver_version().await.is_ok()
    })
    .await;
    let web = env.api::<StatefulSet>().get("web").await.unwrap();
    assert_eq!(partition(&web), 2, "step 1's partition: only the canary released");
    assert!(web.annotations().contains_key(JOURNAL));

    let resumed = env.plugin().args(["rollout", "web", "--yes", "--timeout", "90s"]).output().unwrap();
    assert!(
        resumed.status.success(),
        "{}\ncontroller-manager log:\n{}",
        String::from_utf8_lossy(&resumed.stderr),
        cluster.log_tail("kube-controller-manager", 40)
    );
    assert!(env.all_pods_run("example.invalid/app:v2").await);
    drop(env);
    drop(cluster);
}

#[tokio::test]
async fn ctrl_c_during_a_rollout_wait_exits_cleanly_and_says_how_to_resume() {
    let env = Env::new("faults-sigint").await;
    env.statefulset(&Sts { min_ready_seconds: Some(5), ..Sts::new("web", 3) }).await;
    let (child, mut events) =
        rollout_until(&env, &["rollout", "web", "--image", V2, "--yes", "-o", "json"], "stepStarted").await;
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let output =
        tokio::time::timeout(Duration::from_secs(10), child.wait_with_output()).await.unwrap().unwrap();
    assert_eq!(output.status.code(), Some(130));
    let stderr = one_line(&output.stderr);
    assert!(
        stderr.contains("interrupted")
            && stderr.contains(&format!("kubectl stateful rollout web -n {}` to resume", env.ns)),
        "{stderr}"
    );
    // -o json ends with the interruption: what was left, and how to go on.
    let mut last = None;
    while let Some(line) = events.next_line().await.unwrap() {
        last = Some(line);
    }
    let last: Value = serde_json::from_str(&last.expect("a last event")).unwrap();
    assert_eq!((last["event"].as_str(), last["exitCode"].as_u64()), (Some("error"), Some(130)), "{last}");
    assert!(last["left"].as_str().unwrap().contains("web is left at partition 2"), "{last}");
    let resume = format!("kubectl stateful rollout web -n {}` to resume", env.ns);
    assert!(last["resume"].as_str().unwrap().contains(&resume), "{last}");
    let web = env.api::<StatefulSet>().get("web").await.unwrap();
    assert_eq!(partition(&web), 2);
    assert!(web.annotations().contains_key(JOURNAL));

    let resumed = env.plugin().args(["rollout", "web", "--yes"]).output().unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert!(env.all_pods_run("example.invalid/app:v2").await);
}

#[tokio::test]
async fn ctrl_c_at_a_prompt_changes_nothing_more() {
    let env = Env::new("faults-prompt").await;
    env.statefulset(&Sts::new("web", 3)).await;
    env.scale("web", 1).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    let before = env.versions().await;
    let (ns, config) = (env.ns.clone(), env.kubeconfig.clone());
    let (status, transcript) = tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-stateful"));
        command.env("KUBECONFIG", config).env("NO_COLOR", "1").args(["-n", &ns, "pvc", "prune", "web"]);
        let mut session = rexpect::session::spawn_command(command, Some(30_000)).unwrap();
        session.exp_string("Type web to confirm").unwrap();
        session.send_control('c').unwrap();
        let transcript = session.exp_eof().unwrap();
        (session.process().wait().unwrap(), transcript)
    })
    .await
    .unwrap();
    assert!(matches!(status, rexpect::process::WaitStatus::Exited(_, 130)), "{status:?}");
    assert!(transcript.contains("interrupted"), "{transcript}");
    assert_eq!(env.versions().await, before, "nothing deleted");
}

#[tokio::test]
async fn a_concurrent_template_change_stops_the_rollout_and_stands() {
    let env = Env::new("faults-template").await;
    env.statefulset(&Sts { min_ready_seconds: Some(5), ..Sts::new("web", 3) }).await;
    let (child, _events) =
        rollout_until(&env, &["rollout", "web", "--image", V2, "--yes", "-o", "json"], "stepStarted").await;
    let theirs = "example.invalid/app:hotfix";
    env.set_image("web", theirs).await;
    let output = child.wait_with_output().await.unwrap();
    assert_eq!(output.status.code(), Some(3), "stopped, with the state left safe");
    let stderr = one_line(&output.stderr);
    assert!(
        stderr.contains("field manager kubectl-set (kubectl) changed web")
            && stderr.contains("without overwriting"),
        "{stderr}"
    );
    let web = env.api::<StatefulSet>().get("web").await.unwrap();
    assert_eq!(web.spec.unwrap().template.spec.unwrap().containers[0].image.as_deref(), Some(theirs));
}

#[tokio::test]
async fn without_write_permissions_each_command_names_what_it_may_not_do() {
    let env = Env::new("faults-rbac").await;
    env.statefulset(&Sts::new("web", 3)).await;
    env.scale("web", 1).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    // A failed canary on a second StatefulSet, so that there is something to abort.
    env.statefulset(&Sts::new("db", 2)).await;
    let canary = "app=example.invalid/never-ready:1";
    let failed =
        env.plugin().args(["rollout", "db", "--image", canary, "--yes", "--timeout", "2s"]).output().unwrap();
    assert_eq!(failed.status.code(), Some(3), "{}", String::from_utf8_lossy(&failed.stderr));
    let viewer = read_only_user(&env, "viewer").await;
    // May change StatefulSets and claims, but neither delete pods nor read PersistentVolumes.
    let operator = namespaced_user(
        &env,
        "operator",
        json!([
            {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": ["patch"]},
            {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["delete"]}
        ]),
    )
    .await;
    let before = env.versions().await;
    let ns = env.ns.clone();
    let cases: Vec<(&str, Vec<&str>, String)> = vec![
        (
            viewer.as_str(),
            vec!["rollout", "web", "--image", V2, "--yes"],
            format!("you may not patch statefulsets.apps in namespace {ns}"),
        ),
        (
            viewer.as_str(),
            vec!["rollout", "web", "--partition", "0", "--yes"],
            format!("you may not patch statefulsets.apps in namespace {ns}"),
        ),
        (
            viewer.as_str(),
            vec!["pvc", "prune", "web", "--yes"],
            format!("you may not delete persistentvolumeclaims in namespace {ns}"),
        ),
        (
            operator.as_str(),
            vec!["rollout", "db", "--abort", "--yes"],
            format!("you may not delete pods in namespace {ns}"),
        ),
        (
            operator.as_str(),
            vec!["pvc", "prune", "web", "--yes", "--retain-volumes"],
            "--retain-volumes needs to read PersistentVolumes".to_owned(),
        ),
    ];
    for (user, args, expected) in cases {
        let output = env.plugin().args(["--as", user]).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(&expected) && stderr.contains("nothing was changed"), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().filter(|l| l.starts_with("error:")).count(), 1, "{args:?}: {stderr}");
    }
    assert_eq!(env.versions().await, before, "nothing changed");
}

#[tokio::test]
async fn bad_connection_input_is_one_line_and_exit_1() {
    let env = Env::new("faults-input").await;
    let missing = "/nonexistent/kubeconfig";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--kubeconfig", missing, "status"], "cannot load kubeconfig"),
        (vec!["--context", "no-such-context", "status"], "no-such-context"),
        (
            vec!["--server", "https://127.0.0.1:1", "--insecure-skip-tls-verify", "status", "web"],
            "cannot read StatefulSet",
        ),
        (vec!["--request-timeout", "soon", "status"], "is not a duration"),
    ];
    for (args, expected) in cases {
        let output = env.plugin().args(&args).output().unwrap();
        let stderr = one_line(&output.stderr);
        let code = if expected == "is not a duration" { 2 } else { 1 };
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty());
    }
    // KUBECONFIG is honoured like --kubeconfig.
    let output = env.plugin().env("KUBECONFIG", missing).arg("status").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(one_line(&output.stderr).contains(missing));
}
