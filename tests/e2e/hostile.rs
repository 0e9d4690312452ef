//! Hostile input, odd states and broken pipes (docs/safety.md, "Hostile input"): scope that
//! must never widen, runs that must never panic or die silently, refusals before the first
//! write, and a way out of every wedge.

use std::process::Stdio;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use crate::support::{
    Env, JOURNAL, Sts, json_of, partition, rollout_until, sts, user_with_rules, wait_until,
};

fn v(image: &str) -> String {
    format!("example.invalid/{image}")
}

fn one_line(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr}");
    stderr
}

fn events_of(output: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn codes(status: &Value) -> Vec<&str> {
    status["warnings"].as_array().unwrap().iter().map(|w| w["code"].as_str().unwrap()).collect()
}

fn warning<'a>(status: &'a Value, code: &str) -> &'a str {
    status["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == code)
        .unwrap_or_else(|| panic!("no {code}"))["message"]
        .as_str()
        .unwrap()
}

/// A kubeconfig whose context namespace is empty: it must mean `default`, never every namespace.
fn kubeconfig_with_empty_namespace(env: &Env) -> std::path::PathBuf {
    let text = std::fs::read_to_string(&env.kubeconfig).unwrap();
    let text = text.replace("    user: kwok-", "    namespace: \"\"\n    user: kwok-");
    assert!(text.contains("namespace: \"\""), "the test kubeconfig has the expected shape");
    let path = std::env::temp_dir().join(format!("{}-kubeconfig.yaml", env.ns));
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn an_empty_namespace_never_widens_the_scope() {
    let env = Env::new("hostile-scope").await;
    env.statefulset(&Sts::new("web", 2)).await;
    env.scale("web", 1).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    let before = env.versions().await;
    let empty = kubeconfig_with_empty_namespace(&env);
    for kubeconfig in [env.kubeconfig.clone(), empty.clone()] {
        // -n '' and a context namespace of "" both mean `default`, where this test owns nothing.
        let list = crate::support::plugin()
            .env("KUBECONFIG", &kubeconfig)
            .args(["-n", "", "status", "-o", "json"])
            .output()
            .unwrap();
        let items = json_of(&list)["items"].as_array().unwrap().clone();
        assert!(items.iter().all(|i| i["namespace"] == "default"), "only default: {items:?}");
        let prune = crate::support::plugin()
            .env("KUBECONFIG", &kubeconfig)
            .args(["-n", "", "pvc", "prune", "--yes", "-o", "json"])
            .output()
            .unwrap();
        let result = json_of(&prune);
        assert!(
            result["deleted"].as_array().unwrap().iter().all(|c| c["namespace"] == "default"),
            "{result}"
        );
    }
    let via_context = crate::support::plugin()
        .env("KUBECONFIG", &empty)
        .args(["pvc", "prune", "--yes", "-o", "json"])
        .output()
        .unwrap();
    assert!(json_of(&via_context)["deleted"].as_array().unwrap().iter().all(|c| c["namespace"] == "default"));
    std::fs::remove_file(&empty).unwrap();
    assert_eq!(env.versions().await, before, "nothing in this namespace was touched");
}

#[tokio::test]
async fn a_closed_stderr_neither_panics_nor_stops_a_run() {
    let env = Env::new("hostile-stderr").await;
    env.statefulset(&Sts::new("web", 3)).await;
    // `rollout … --yes 2>&1 | head -1`: the reader of stderr goes away at once.
    let mut child = env
        .spawn_plugin(&["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--yes"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let status = tokio::time::timeout(Duration::from_secs(120), child.wait()).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(0), "finished, with its real status");
    assert!(env.all_pods_run(v("app:v2")).await);
    assert!(!sts(&env, "web").await.annotations().contains_key(JOURNAL));

    // `pvc prune … --yes 2>&1 | head -1` deleting several claims: all of them, and its summary.
    env.scale("web", 0).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    let mut child = env
        .spawn_plugin(&["pvc", "prune", "web", "--include-scaled-to-zero", "--yes", "-o", "json"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).await.unwrap();
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(0), "{stdout}");
    let result: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(result["deleted"].as_array().unwrap().len(), 3, "{result}");
    assert!(env.pvc_names().await.is_empty());
}

#[tokio::test]
async fn sigterm_and_sighup_mid_step_are_handled_like_ctrl_c() {
    for (signal, test) in [("-TERM", "hostile-sigterm"), ("-HUP", "hostile-sighup")] {
        let env = Env::new(test).await;
        env.statefulset(&Sts { min_ready_seconds: Some(5), ..Sts::new("web", 3) }).await;
        let (child, _events) = rollout_until(
            &env,
            &["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--yes", "-o", "json"],
            "stepStarted",
        )
        .await;
        let pid = child.id().unwrap().to_string();
        assert!(std::process::Command::new("kill").args([signal, &pid]).status().unwrap().success());
        let output =
            tokio::time::timeout(Duration::from_secs(10), child.wait_with_output()).await.unwrap().unwrap();
        assert_eq!(output.status.code(), Some(130), "{signal}");
        let stderr = one_line(&output);
        assert!(stderr.contains("interrupted") && stderr.contains("left at partition 2"), "{stderr}");
        assert!(
            stderr.contains(&format!("`kubectl stateful rollout web -n {}` to resume", env.ns)),
            "{stderr}"
        );
        let web = sts(&env, "web").await;
        assert_eq!(partition(&web), 2, "{signal}: the step's partition, nothing more");
        assert!(web.annotations().contains_key(JOURNAL));
    }
}

#[tokio::test]
async fn a_rollout_checks_every_permission_it_needs_before_writing() {
    let env = Env::new("hostile-rbac").await;
    env.statefulset(&Sts::new("web", 2)).await;
    let get_patch_list = json!([
        {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": ["get", "list", "patch"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["events", "namespaces"], "verbs": ["get", "list"]},
    ]);
    let no_watch = user_with_rules(&env, "no-watch", get_patch_list).await;
    let no_revisions = user_with_rules(
        &env,
        "no-revisions",
        json!([
            {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": ["get", "list", "watch", "patch"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "delete"]},
        ]),
    )
    .await;
    let before = env.versions().await;
    let image = format!("app={}", v("app:v2"));
    for (user, missing) in
        [(&no_watch, "watch statefulsets.apps"), (&no_revisions, "get controllerrevisions.apps")]
    {
        let output =
            env.plugin().args(["--as", user, "rollout", "web", "--image", &image, "--yes"]).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{user}");
        let line = one_line(&output);
        assert!(
            line.contains(&format!("you may not {missing}")) && line.contains("nothing was changed"),
            "{line}"
        );
    }
    assert_eq!(env.versions().await, before, "nothing written");
}

#[tokio::test]
async fn a_statefulset_being_deleted_is_refused_and_shown() {
    let env = Env::new("hostile-deleting").await;
    let mut manifest = Sts::new("web", 1).manifest();
    manifest["metadata"]["finalizers"] = json!(["kubectl-stateful.test/hold"]);
    env.create::<Service>(
        json!({"metadata": {"name": "web"}, "spec": {"clusterIP": "None", "selector": {"app": "web"}}}),
    )
    .await;
    env.create::<StatefulSet>(manifest).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    let api = env.api::<StatefulSet>();
    api.delete("web", &DeleteParams::default()).await.unwrap();

    let status = json_of(&env.plugin().args(["status", "web", "-o", "json"]).output().unwrap());
    assert_eq!(status["deletion"]["finalizers"], json!(["kubectl-stateful.test/hold"]));
    assert!(
        warning(&status, "BeingDeleted").contains("is being deleted (finalizers kubectl-stateful.test/hold)")
    );
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--yes"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        one_line(&output)
            .contains("StatefulSet web is being deleted (finalizers kubectl-stateful.test/hold)")
    );
    // Let the namespace go.
    let release = json!({"metadata": {"finalizers": null}});
    api.patch("web", &PatchParams::default(), &Patch::Merge(&release)).await.unwrap();
}

#[tokio::test]
async fn on_a_terminal_nothing_is_written_before_the_first_answer() {
    let env = Env::new("hostile-prompt-first").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let before = env.versions().await;
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
        session.send("\x1b[B").unwrap(); // down: "stop here (nothing is changed)"
        session.send_line("").unwrap();
        let transcript = session.exp_eof().unwrap();
        assert!(matches!(session.process().wait().unwrap(), rexpect::process::WaitStatus::Exited(_, 0)));
        transcript
    })
    .await
    .unwrap();
    assert!(transcript.contains("first stages the new template"), "{transcript}");
    assert!(transcript.contains("stopped before any change"), "{transcript}");
    assert_eq!(env.versions().await, before, "nothing was written before the answer");
}

#[tokio::test]
async fn new_flags_do_not_override_an_interrupted_abort() {
    let env = Env::new("hostile-abort-pending").await;
    env.statefulset(&Sts::new("web", 2)).await;
    let v2 = format!("app={}", v("app:v2"));
    let staged =
        env.plugin().args(["rollout", "web", "--image", &v2, "--partition", "1", "--yes"]).output().unwrap();
    assert!(staged.status.success(), "{}", String::from_utf8_lossy(&staged.stderr));
    // An abort killed right after its first write leaves the journal marked aborting.
    let (mut child, _events) =
        rollout_until(&env, &["rollout", "web", "--abort", "--yes", "-o", "json"], "abortPlanned").await;
    wait_until(Duration::from_secs(30), || async {
        sts(&env, "web").await.annotations().get(JOURNAL).is_some_and(|j| j.contains("\"aborting\":true"))
    })
    .await;
    child.kill().await.unwrap();
    let template = |sts: StatefulSet| sts.spec.unwrap().template;
    let before = template(sts(&env, "web").await);
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &format!("app={}", v("app:v3")), "--yes"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "a CI deploy step must not report success with the old image");
    assert!(one_line(&output).contains("an abort of web was interrupted and is not finished"));
    assert_eq!(template(sts(&env, "web").await), before, "nothing staged");
    let finished = env.plugin().args(["rollout", "web", "--abort", "--yes"]).output().unwrap();
    assert!(finished.status.success(), "{}", String::from_utf8_lossy(&finished.stderr));
    assert!(env.all_pods_run(v("app:v1")).await);
}

#[tokio::test]
async fn recover_keeps_its_evidence_bar_when_the_node_object_is_gone() {
    let env = Env::new("hostile-recover").await;
    let nodes = env.own_nodes(1).await;
    env.statefulset(&Sts { pool: Some(env.ns.clone()), ..Sts::new("db", 1) }).await;
    let pod = env.api::<Pod>().get("db-0").await.unwrap();
    // `kubectl delete node` on a machine that is still running: the pod is still there.
    let api: Api<Node> = Api::all(env.client.clone());
    api.delete(&nodes[0], &DeleteParams::default()).await.unwrap();
    wait_until(Duration::from_secs(30), || async { api.get_opt(&nodes[0]).await.unwrap().is_none() }).await;
    let started = Instant::now();
    let output = env.plugin().args(["recover", "db-0", "--min-down", "10m", "--yes"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("does not prove the machine stopped") && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    let now = env.api::<Pod>().get("db-0").await.unwrap();
    assert_eq!(now.uid(), pod.uid(), "not force-deleted");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn a_pod_stuck_on_an_abandoned_revision_is_offered_for_deletion() {
    let env = Env::new("hostile-fix-forward").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let canary = format!("app={}", v("never-ready:1"));
    let failed = env
        .plugin()
        .args(["rollout", "web", "--image", &canary, "--yes", "--timeout", "3s"])
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(3), "{}", String::from_utf8_lossy(&failed.stderr));
    // Fix forward: someone applies a good image; web-2 stays not Ready on the abandoned revision.
    env.set_image("web", &v("app:v3")).await;
    wait_until(Duration::from_secs(30), || async {
        let status = json_of(&env.plugin().args(["status", "web", "-o", "json"]).output().unwrap());
        codes(&status).contains(&"RolloutStalled")
            && warning(&status, "RolloutStalled").contains("offers to delete it")
    })
    .await;
    let status = json_of(&env.plugin().args(["status", "web", "-o", "json"]).output().unwrap());
    let stalled = warning(&status, "RolloutStalled");
    assert!(
        stalled.contains("pod web-2 is not Ready") && stalled.contains("offers to delete it"),
        "{stalled}"
    );

    let output =
        env.plugin().args(["rollout", "web", "--yes", "--timeout", "60s", "-o", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let deleted: Vec<Value> = events_of(&output).into_iter().filter(|e| e["event"] == "podDeleted").collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["pod"], "web-2");
    assert!(env.all_pods_run(v("app:v3")).await);
}

#[tokio::test]
async fn an_unusable_journal_names_its_way_out() {
    let env = Env::new("hostile-journal").await;
    env.statefulset(&Sts::new("web", 1)).await;
    let garbage = json!({"metadata": {"annotations": {JOURNAL: "{not json"}}});
    env.patch_sts("web", garbage).await;
    let status = json_of(&env.plugin().args(["status", "web", "-o", "json"]).output().unwrap());
    assert!(warning(&status, "JournalUnreadable").contains("--discard-journal"));
    for args in [vec!["rollout", "web", "--yes"], vec!["rollout", "web", "--abort", "--yes"]] {
        let output = env.plugin().args(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let discard = format!("`kubectl stateful rollout web --discard-journal -n {}`", env.ns);
        assert!(one_line(&output).contains(&discard), "{args:?}");
    }
    let output = env.plugin().args(["rollout", "web", "--discard-journal", "--yes"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains("{not json"), "it shows what it removes");
    assert!(!sts(&env, "web").await.annotations().contains_key(JOURNAL));
}

#[tokio::test]
async fn a_patch_must_name_fields_of_the_pod_template_and_change_something() {
    let env = Env::new("hostile-patch").await;
    env.statefulset(&Sts::new("web", 1)).await;
    let before = env.versions().await;
    let dir = std::env::temp_dir();
    // Written for the StatefulSet rather than its pod template, and a typo.
    let cases = [
        (
            "sts-level",
            "spec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: example.invalid/app:v2\n",
            2,
        ),
        ("typo", "spec:\n  containerz:\n  - name: app\n    image: example.invalid/app:v2\n", 2),
    ];
    for (name, text, code) in cases {
        let file = dir.join(format!("{}-{name}.yaml", env.ns));
        std::fs::write(&file, text).unwrap();
        let output = env
            .plugin()
            .args(["rollout", "web", "--patch", file.to_str().unwrap(), "--yes"])
            .output()
            .unwrap();
        std::fs::remove_file(&file).unwrap();
        assert_eq!(output.status.code(), Some(code), "{name}: {}", String::from_utf8_lossy(&output.stderr));
        let line = one_line(&output);
        assert!(
            line.contains("is not a valid patch of the pod template") && line.contains("unknown field"),
            "{name}: {line}"
        );
    }
    let same = dir.join(format!("{}-same.yaml", env.ns));
    std::fs::write(&same, "spec:\n  containers:\n  - name: app\n    image: example.invalid/app:v1\n")
        .unwrap();
    let output =
        env.plugin().args(["rollout", "web", "--patch", same.to_str().unwrap(), "--yes"]).output().unwrap();
    std::fs::remove_file(&same).unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("changes nothing in the pod template of web"));
    assert_eq!(env.versions().await, before);
}

#[tokio::test]
async fn what_the_docs_promise_is_what_the_tool_does() {
    let env = Env::new("hostile-docs").await;
    env.statefulset(&Sts { partition: Some(1), ..Sts::new("web", 2) }).await;
    env.statefulset(&Sts { templates: vec![], ..Sts::new("cache", 1) }).await;
    let before = env.versions().await;

    // --partition N --dry-run says what would happen, not that it happened.
    let output = env.plugin().args(["rollout", "web", "--partition", "0", "--dry-run"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("would move 1 -> 0") && stderr.contains("dry run: nothing was changed"),
        "{stderr}"
    );
    // Every -o json rollout run says what it did as an event.
    for (args, event) in [
        (vec!["rollout", "web", "-o", "json"], "nothingToDo"),
        (vec!["rollout", "web", "--abort", "--dry-run", "-o", "json"], "nothingToDo"),
        (vec!["rollout", "cache", "--partition", "0", "--yes", "-o", "json"], "partitionMoved"),
    ] {
        let output = env.plugin().args(&args).output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(events_of(&output).last().unwrap()["event"], event, "{args:?}");
    }
    // pvc prune -o json of a set without claim templates is still a document.
    let plan = json_of(&env.plugin().args(["pvc", "prune", "cache", "-o", "json"]).output().unwrap());
    assert_eq!(
        (plan["kind"].as_str(), plan["candidates"].as_array().map(Vec::len)),
        (Some("PrunePlan"), Some(0))
    );

    // --user naming a user the kubeconfig lacks is an error, as with kubectl.
    let output = env.plugin().args(["--user", "nobody", "status", "web"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(one_line(&output).contains("user \"nobody\" is not in the kubeconfig"));
    // --server and the TLS flags work without any kubeconfig, as with kubectl.
    let config = std::fs::read_to_string(&env.kubeconfig).unwrap();
    let field = |key: &str| {
        config.lines().find_map(|l| l.trim().strip_prefix(&format!("{key}: ")).map(str::to_owned)).unwrap()
    };
    let output = crate::support::plugin()
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env("HOME", "/nonexistent")
        .args(["--server", &field("server"), "--certificate-authority", &field("certificate-authority")])
        .args(["--client-certificate", &field("client-certificate"), "--client-key", &field("client-key")])
        .args(["-n", &env.ns, "status", "web", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(json_of(&output)["name"], "web");
    assert_eq!(env.versions().await, before, "nothing changed but the cache's partition move");
}
