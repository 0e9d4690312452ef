//! `kubectl stateful rollout` against the real StatefulSet controller.

use std::time::Duration;

use kube::ResourceExt;
use serde_json::{Value, json};

use crate::support::{Env, JOURNAL, Sts, images, partition, rollout_until, sts, wait_until};

/// The NDJSON events of a finished `-o json` run.
fn events_of(output: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["event"].as_str().unwrap()).collect()
}

fn v(image: &str) -> String {
    format!("example.invalid/{image}")
}

#[tokio::test]
async fn guided_rollout_updates_highest_ordinals_first_and_cleans_up() {
    let env = Env::new("rollout-guided").await;
    env.statefulset(&Sts::new("web", 4)).await;
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", "app=example.invalid/app:v2", "--yes", "-o", "json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events_of(&output);
    let plan = &events[0];
    assert_eq!(plan["event"], "plan");
    assert_eq!(plan["kind"], "RolloutEvent");
    assert_eq!(plan["stagedPartition"], 4);
    let steps: Vec<(i64, Vec<i64>)> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["partition"].as_i64().unwrap(),
                s["ordinals"].as_array().unwrap().iter().map(|o| o.as_i64().unwrap()).collect(),
            )
        })
        .collect();
    assert_eq!(steps, [(3, vec![3]), (2, vec![2]), (0, vec![1, 0])]);
    let updated: Vec<&str> =
        events.iter().filter(|e| e["event"] == "podUpdated").map(|e| e["pod"].as_str().unwrap()).collect();
    assert_eq!(updated, ["web-3", "web-2", "web-1", "web-0"]);
    let sequence: Vec<&str> = kinds(&events).into_iter().filter(|k| !k.starts_with("pod")).collect();
    assert_eq!(
        sequence,
        [
            "plan",
            "staged",
            "stepStarted",
            "stepDone",
            "stepStarted",
            "stepDone",
            "stepStarted",
            "stepDone",
            "finished"
        ]
    );

    let web = sts(&env, "web").await;
    let status = web.status.clone().unwrap();
    assert_eq!(partition(&web), 0);
    assert_eq!(status.current_revision, status.update_revision);
    assert!(!web.annotations().contains_key(JOURNAL), "journal left behind");
    assert!(env.all_pods_run(v("app:v2")).await);
}

/// A set parked at 0 replicas with a partition: the rollout finishes (partition 0, no pod moves)
/// rather than stopping at "partition is 2" on every run; the pods a scale-up creates run the new
/// revision.
#[tokio::test]
async fn a_set_parked_at_zero_with_a_partition_rolls_out_and_finishes() {
    let env = Env::new("rollout-parked").await;
    env.statefulset(&Sts { partition: Some(2), ..Sts::new("web", 0) }).await;
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--yes"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("web rolled out to revision"), "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("partition -> 0, no pod to update"), "{stderr}");
    assert!(!stderr.contains("to continue with the plan"), "{stderr}");
    let web = sts(&env, "web").await;
    assert_eq!(partition(&web), 0);
    assert!(!web.annotations().contains_key(JOURNAL), "finished: no journal left");
    env.scale("web", 2).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    assert!(env.all_pods_run(v("app:v2")).await, "{:?}", images(&env).await);
}

#[tokio::test]
async fn explicit_partition_step_then_resume_picks_up_a_pending_update() {
    let env = Env::new("rollout-partition").await;
    env.statefulset(&Sts { partition: Some(3), ..Sts::new("web", 3) }).await;
    // Someone else (kubectl apply, a GitOps tool) changed the template with every pod held back.
    env.set_image("web", &v("app:v2")).await;

    let output = env.plugin().args(["rollout", "web", "--partition", "2", "--yes"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(partition(&sts(&env, "web").await), 2);
    assert_eq!(
        images(&env).await,
        [("web-0".into(), v("app:v1")), ("web-1".into(), v("app:v1")), ("web-2".into(), v("app:v2"))]
    );
    assert!(
        sts(&env, "web").await.annotations().contains_key(JOURNAL),
        "the step records the rollout for resume/abort"
    );

    let output = env.plugin().args(["rollout", "web", "--yes"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("web rolled out to revision"));
    assert!(env.all_pods_run(v("app:v2")).await);
    assert!(!sts(&env, "web").await.annotations().contains_key(JOURNAL));
}

#[tokio::test]
async fn failed_canary_stops_at_the_highest_ordinal_and_abort_restores_everything() {
    let env = Env::new("rollout-abort").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let before = sts(&env, "web").await.status.unwrap().current_revision.unwrap();
    let output = env
        .plugin()
        .args([
            "rollout",
            "web",
            "--image",
            &format!("app={}", v("never-ready:1")),
            "--yes",
            "--timeout",
            "4s",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events_of(&output);
    let failed = events.iter().find(|e| e["event"] == "failed").unwrap();
    assert_eq!((failed["step"].as_i64(), failed["partition"].as_i64()), (Some(1), Some(2)));
    assert!(failed["reasons"][0].as_str().unwrap().contains("web-2 not Ready"), "{failed}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("stopped at partition 2") && stderr.contains("--abort"), "{stderr}");
    // Only the canary moved; the partition holds the rest.
    assert_eq!(partition(&sts(&env, "web").await), 2);
    assert_eq!(
        images(&env).await,
        [("web-0".into(), v("app:v1")), ("web-1".into(), v("app:v1")), ("web-2".into(), v("never-ready:1"))]
    );

    let output = env.plugin().args(["rollout", "web", "--abort", "--yes", "-o", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events_of(&output);
    assert_eq!(
        kinds(&events),
        ["abortPlanned", "podDeleted", "podRolledBack", "aborted"],
        "the stuck canary is deleted (forced rollback), and reported once rolled back"
    );
    assert_eq!((&events[1]["pod"], &events[2]["pod"]), (&json!("web-2"), &json!("web-2")));
    let web = sts(&env, "web").await;
    let status = web.status.clone().unwrap();
    assert_eq!(
        (status.current_revision.as_deref(), status.update_revision.as_deref()),
        (Some(before.as_str()), Some(before.as_str()))
    );
    assert_eq!(partition(&web), 0);
    assert!(!web.annotations().contains_key(JOURNAL));
    assert!(env.all_pods_run(v("app:v1")).await);
    let pods = env.pods().await;
    assert!(pods.iter().all(|p| {
        p.status
            .as_ref()
            .unwrap()
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    }));
}

#[tokio::test]
async fn partition_counts_replica_indexes_from_the_start_ordinal() {
    let env = Env::new("rollout-start").await;
    env.statefulset(&Sts { start: Some(10), ..Sts::new("db", 3) }).await;
    let output = env
        .plugin()
        .args(["rollout", "db", "--image", &format!("app={}", v("app:v2")), "--partition", "2", "--yes"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // Partition 2 of 3 replicas starting at 10 releases replica index 2: ordinal 12, nothing else.
    assert_eq!(
        images(&env).await,
        [("db-10".into(), v("app:v1")), ("db-11".into(), v("app:v1")), ("db-12".into(), v("app:v2"))]
    );

    let output = env.plugin().args(["rollout", "db", "--yes", "-o", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events_of(&output);
    let released: Vec<&Value> =
        events.iter().filter(|e| e["event"] == "stepStarted").map(|e| &e["ordinals"]).collect();
    assert_eq!(released, [&json!([11]), &json!([10])], "ordinal 12 was already updated");
    assert!(env.all_pods_run(v("app:v2")).await);
}

#[tokio::test]
async fn a_killed_rollout_resumes_where_it_stopped() {
    let env = Env::new("rollout-resume").await;
    env.statefulset(&Sts { min_ready_seconds: Some(4), ..Sts::new("web", 3) }).await;
    // Kill it in the middle of step 1: the canary is updated but not yet available.
    let (mut child, _events) = rollout_until(
        &env,
        &["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--yes", "-o", "json"],
        "podUpdated",
    )
    .await;
    child.kill().await.unwrap();
    let web = sts(&env, "web").await;
    assert_eq!(partition(&web), 2);
    assert!(web.annotations().contains_key(JOURNAL));

    let output = env.plugin().args(["rollout", "web", "--yes", "-o", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events_of(&output);
    // The resumed plan continues with the remaining steps of the original plan.
    let started: Vec<i64> =
        events.iter().filter(|e| e["event"] == "stepStarted").map(|e| e["step"].as_i64().unwrap()).collect();
    assert_eq!(started, [2, 3]);
    assert_eq!(kinds(&events).last(), Some(&"finished"));
    assert!(env.all_pods_run(v("app:v2")).await);
    assert!(!sts(&env, "web").await.annotations().contains_key(JOURNAL));
}

#[tokio::test]
async fn a_concurrent_partition_change_stops_the_rollout_without_overwriting_it() {
    let env = Env::new("rollout-race").await;
    env.statefulset(&Sts { min_ready_seconds: Some(5), ..Sts::new("web", 3) }).await;
    let (child, mut events) = rollout_until(
        &env,
        &["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--yes", "-o", "json"],
        "stepStarted",
    )
    .await;
    // Another client moves the partition while the plugin waits on step 1.
    env.patch_sts("web", json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 1}}}})).await;
    let mut rest = Vec::new();
    while let Some(line) = events.next_line().await.unwrap() {
        rest.push(line);
    }
    let output = child.wait_with_output().await.unwrap();
    assert_eq!(output.status.code(), Some(3), "stopped, with the state left safe");
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Found while the rollout waits, or when its next write fails its `test` guard.
    assert!(
        stderr.contains("field manager kubectl-patch (kubectl) changed web")
            && stderr.contains("-> 1)")
            && stderr.contains("without overwriting"),
        "{stderr}"
    );
    let drift: Vec<Value> = rest
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event"] == "drift")
        .collect();
    assert_eq!(drift.len(), 1, "{rest:?}");
    assert_eq!(
        (drift[0]["manager"].as_str(), drift[0]["partition"].as_i64()),
        (Some("kubectl-patch"), Some(1))
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(partition(&sts(&env, "web").await), 1, "their partition stands");
}

#[tokio::test]
async fn refusals_change_nothing() {
    let env = Env::new("rollout-refuse").await;
    env.statefulset(&Sts::new("web", 3)).await;
    env.statefulset(&Sts::new("ondelete", 1)).await;
    env.patch_sts(
        "ondelete",
        json!({"spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": null}}}),
    )
    .await;
    let before = env.versions().await;
    let image = format!("app={}", v("app:v2"));
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["rollout", "web", "--image", &image], 2, "without a terminal to confirm on: pass --yes"),
        (vec!["rollout", "web", "--image", "nope=img", "--yes"], 2, "no container \"nope\""),
        (vec!["rollout", "web", "--image", "app", "--yes"], 2, "is not CONTAINER=IMAGE"),
        (vec!["rollout", "web", "--partition", "4", "--yes"], 2, "--partition 4 is out of range"),
        (vec!["rollout", "web", "--partition", "-1", "--yes"], 2, "--partition -1 is out of range"),
        (vec!["rollout", "web", "--partition", "x", "--yes"], 2, "invalid value"),
        (vec!["rollout", "web", "--steps", "50%,10%", "--yes"], 2, "steps must grow"),
        (vec!["rollout", "web", "--steps", "0", "--yes"], 2, "updates no pod"),
        (vec!["rollout", "ondelete", "--partition", "1", "--yes"], 2, "no meaning for ondelete"),
        (vec!["rollout", "web", "--by-zone", "--yes"], 2, "--by-zone needs a StatefulSet"),
        (vec!["rollout", "nope", "--yes"], 1, "StatefulSet nope not found"),
        (vec!["rollout", "web", "--image", &image, "--dry-run"], 0, "dry run: nothing was changed"),
        (vec!["rollout", "web", "--yes"], 0, "nothing to roll out"),
    ];
    for (args, code, message) in cases {
        let output = env.plugin().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        if code != 0 {
            assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        }
    }
    assert_eq!(env.versions().await, before, "nothing changed");
}

#[tokio::test]
async fn watched_until_ready_not_polled_across_a_minimal_pause() {
    let env = Env::new("rollout-pause").await;
    env.statefulset(&Sts::new("web", 2)).await;
    let output = env
        .plugin()
        .args([
            "rollout",
            "web",
            "--image",
            &format!("app={}", v("app:v2")),
            "--yes",
            "--pause",
            "1s",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events_of(&output);
    let done: Vec<f64> =
        events.iter().filter(|e| e["event"] == "stepDone").map(|e| e["seconds"].as_f64().unwrap()).collect();
    assert_eq!(done.len(), 2);
    assert!(done.iter().all(|s| *s >= 1.0), "each step is watched for the pause: {done:?}");
    wait_until(Duration::from_secs(5), || async {
        images(&env).await.iter().all(|(_, i)| *i == v("app:v2"))
    })
    .await;
}

#[tokio::test]
async fn a_template_patch_file_is_staged_like_kubectl_patch() {
    let env = Env::new("rollout-patchfile").await;
    env.statefulset(&Sts::new("web", 2)).await;
    let file = std::env::temp_dir().join(format!("{}-patch.yaml", env.ns));
    std::fs::write(
        &file,
        "metadata:\n  annotations:\n    release: \"2\"\nspec:\n  containers:\n  - name: app\n    image: example.invalid/app:v2\n    env:\n    - name: MODE\n      value: fast\n",
    )
    .unwrap();
    let output =
        env.plugin().args(["rollout", "web", "--patch", file.to_str().unwrap(), "--yes"]).output().unwrap();
    std::fs::remove_file(&file).unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let template = sts(&env, "web").await.spec.unwrap().template;
    // A strategic merge: the container list is merged by name, not replaced.
    let container = &template.spec.as_ref().unwrap().containers[0];
    assert_eq!(container.image.as_deref(), Some("example.invalid/app:v2"));
    assert_eq!(container.env.as_ref().unwrap()[0].name, "MODE");
    assert_eq!(template.metadata.unwrap().annotations.unwrap()["release"], "2");
    assert!(env.all_pods_run(v("app:v2")).await);

    let bad = std::env::temp_dir().join(format!("{}-bad.yaml", env.ns));
    std::fs::write(&bad, "- not\n- a map\n").unwrap();
    let output =
        env.plugin().args(["rollout", "web", "--patch", bad.to_str().unwrap(), "--yes"]).output().unwrap();
    std::fs::remove_file(&bad).unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[tokio::test]
async fn a_crash_looping_canary_fails_without_waiting_for_the_timeout() {
    let env = Env::new("rollout-crashloop").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let started = std::time::Instant::now();
    let output = env
        .plugin()
        .args([
            "rollout",
            "web",
            "--image",
            &format!("app={}", v("crashloop:1")),
            "--yes",
            "--timeout",
            "5m",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(started.elapsed() < Duration::from_secs(60), "failed after {:?}", started.elapsed());
    let failed = events_of(&output).into_iter().find(|e| e["event"] == "failed").unwrap();
    assert!(
        failed["reasons"][0]
            .as_str()
            .unwrap()
            .contains("web-2 on the update revision is in CrashLoopBackOff"),
        "{failed}"
    );
}

#[tokio::test]
async fn an_updated_pod_that_stops_being_ready_during_the_pause_fails_the_step() {
    let env = Env::new("rollout-pausefail").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let (mut child, mut lines) = rollout_until(
        &env,
        &[
            "rollout",
            "web",
            "--image",
            &format!("app={}", v("app:v2")),
            "--yes",
            "--pause",
            "60s",
            "-o",
            "json",
        ],
        "podReady",
    )
    .await;
    // The canary fails while the step is watched (kwok's chaos stage: the container exits).
    let pods = env.api::<k8s_openapi::api::core::v1::Pod>();
    let label = json!({"metadata": {"labels": {"pod-container-running-failed.stage.kwok.x-k8s.io": "true"}}});
    pods.patch("web-2", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&label)).await.unwrap();
    let mut rest = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push(line);
    }
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(3), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("web-2 on the update revision stopped being Ready")), "{rest:?}");
    assert_eq!(partition(&sts(&env, "web").await), 2, "nothing more was released");
}

#[tokio::test]
async fn at_the_gate_a_person_can_stop_and_resume_later() {
    let env = Env::new("rollout-gate").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let (ns, config) = (env.ns.clone(), env.kubeconfig.clone());
    let transcript = tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-stateful"));
        command.env("KUBECONFIG", config).env("NO_COLOR", "1").args([
            "-n",
            &ns,
            "rollout",
            "web",
            "--image",
            "app=example.invalid/app:v2",
        ]);
        let mut session = rexpect::session::spawn_command(command, Some(60_000)).unwrap();
        session.exp_string("Next: step 1/3").unwrap();
        session.send_line("").unwrap(); // continue
        session.exp_string("Next: step 2/3").unwrap();
        session.send("\x1b[B").unwrap(); // down: "stop here"
        session.send_line("").unwrap();
        let transcript = session.exp_eof().unwrap();
        assert!(matches!(session.process().wait().unwrap(), rexpect::process::WaitStatus::Exited(_, 0)));
        transcript
    })
    .await
    .unwrap();
    assert!(transcript.contains("stopped at partition 2"), "{transcript}");
    let web = sts(&env, "web").await;
    assert_eq!(partition(&web), 2);
    assert!(web.annotations().contains_key(JOURNAL));
    let resumed = env.plugin().args(["rollout", "web", "--yes"]).output().unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert!(env.all_pods_run(v("app:v2")).await);
}

#[tokio::test]
async fn picking_up_an_update_that_already_reached_some_pods_goes_on_from_there() {
    let env = Env::new("rollout-pickup").await;
    env.statefulset(&Sts { partition: Some(2), ..Sts::new("web", 5) }).await;
    // Someone else applied a new template: the controller updates ordinals 4, 3 and 2 at once.
    env.set_image("web", &v("app:v2")).await;
    wait_until(Duration::from_secs(60), || async {
        images(&env).await.iter().filter(|(_, image)| *image == v("app:v2")).count() == 3
    })
    .await;
    let output = env.plugin().args(["rollout", "web", "--yes", "-o", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events_of(&output);
    let updated: Vec<&str> =
        events.iter().filter(|e| e["event"] == "podUpdated").map(|e| e["pod"].as_str().unwrap()).collect();
    assert_eq!(updated, ["web-1", "web-0"], "the pods already updated are not news");
    assert!(env.all_pods_run(v("app:v2")).await);
    assert_eq!(partition(&sts(&env, "web").await), 0);
}

#[tokio::test]
async fn a_statefulset_stuck_mid_scale_is_refused_and_left_alone() {
    let env = Env::new("rollout-midscale").await;
    // OrderedReady and a pod that never becomes Ready: the scale-up to 3 stays at 1 pod.
    env.statefulset(&Sts { image: v("never-ready:1"), wait: false, ..Sts::new("web", 3) }).await;
    wait_until(Duration::from_secs(30), || async {
        env.pods().await.len() == 1
            && env
                .pvcs()
                .await
                .iter()
                .all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound"))
    })
    .await;
    let before = env.versions().await;
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--yes"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("web is scaling (status.replicas 1 of 3)"), "{stderr}");
    assert_eq!(env.versions().await, before);
}
