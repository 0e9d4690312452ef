//! `kubectl stateful scale` against the real control plane: a scale-down one member at a time
//! from the highest ordinal, each member's decommission hook run in that member (kwok runs it on
//! this machine, in the pod's own directory) until it passes, the next only once the pod of the
//! one before is gone (a pod watch proves it); an interrupted scale resumed from its journal,
//! the hook of a member that left never asked again; the refusals (below the quorum floor, a
//! member down, an autoscaler or Argo CD owning replicas, no terminal) with nothing changed; the
//! claims kept, re-attached by a scale-up (named as stale) or pruned (snapshotted first).

use std::time::Duration;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{
    Env, PodEvent, Sts, commands, current_context, kubectl_apply, run_as_printed, sts, wait_until,
};

const JOURNAL: &str = "kubectl-stateful.dev/scale";

fn events(output: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// (event, pod) of the events that move members, in order.
fn moves(events: &[Value]) -> Vec<(String, String)> {
    let moving = ["hookFailed", "hookPassed", "left", "replicasSet", "removed", "joined"];
    events
        .iter()
        .filter(|e| moving.contains(&e["event"].as_str().unwrap_or_default()))
        .map(|e| {
            let what = match e["event"].as_str().unwrap() {
                "replicasSet" => format!("{}->{}", e["from"], e["to"]),
                _ => e["pod"].as_str().unwrap().to_owned(),
            };
            (e["event"].as_str().unwrap().to_owned(), what)
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

/// The lines of the hook log the hooks of a namespace append to (in the parent of each pod's
/// exec directory).
fn hook_log(dir: &std::path::Path) -> Vec<String> {
    let log = dir.parent().unwrap().join("hooks.log");
    std::fs::read_to_string(log).unwrap_or_default().lines().map(str::to_owned).collect()
}

/// 5 -> 3 with a hook that fails on its first try in each member and passes on its second: the
/// hook runs in web-4 (its pod name, ordinal and environment), then web-4 is removed, and only
/// once its pod is gone does web-3's hook run; the claims are kept and said; the journal goes.
#[tokio::test]
async fn a_scale_down_decommissions_one_member_at_a_time_from_the_highest() {
    let env = Env::new("scale-down").await;
    env.statefulset(&Sts::new("web", 5)).await;
    let dir = env.exec_dir("web-4").await;
    env.exec_dir("web-3").await;
    let hook = r#"echo "{pod} {ordinal} $POD_NAME" >> ../hooks.log; n=$(cat tries 2>/dev/null || echo 0); echo $((n+1)) > tries; [ "$n" -ge 1 ]"#;
    let recorder = env.record_pods();
    let output = env
        .spawn_plugin(&[
            "scale",
            "web",
            "--replicas",
            "3",
            "--decommission-exec",
            hook,
            "--yes",
            "-o",
            "json",
        ])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events(&output);
    assert!(events.iter().all(|e| e["kind"] == "ScaleEvent" && e["schemaVersion"] == "v2"), "{events:?}");
    assert_eq!(events[0]["event"], "plan");
    assert_eq!(events[0]["plan"]["direction"], "down");
    assert_eq!(
        moves(&events),
        pairs(&[
            ("hookFailed", "web-4"),
            ("hookPassed", "web-4"),
            ("left", "web-4"),
            ("replicasSet", "5->4"),
            ("removed", "web-4"),
            ("hookFailed", "web-3"),
            ("hookPassed", "web-3"),
            ("left", "web-3"),
            ("replicasSet", "4->3"),
            ("removed", "web-3"),
        ]),
        "{events:#?}"
    );
    assert_eq!(
        hook_log(&dir),
        ["web-4 4 web-4", "web-4 4 web-4", "web-3 3 web-3", "web-3 3 web-3"],
        "each hook ran in its own member, its placeholders filled in"
    );
    let kept = events.iter().find(|e| e["event"] == "claimsKept").expect("claimsKept");
    assert_eq!(kept["claims"], json!(["data-web-4", "data-web-3"]));
    assert_eq!(events.last().unwrap()["event"], "finished");
    // One member at a time: web-3 went only once web-4's pod was gone.
    let seen = recorder
        .until(Duration::from_secs(30), |seen| seen.contains(&("web-3".to_owned(), PodEvent::Deleted)))
        .await;
    let at = |pod: &str, events: &[PodEvent]| {
        seen.iter()
            .position(|(p, e)| p == pod && events.contains(e))
            .unwrap_or_else(|| panic!("{pod}: {seen:?}"))
    };
    assert!(
        at("web-4", &[PodEvent::Deleted]) < at("web-3", &[PodEvent::Terminating, PodEvent::Deleted]),
        "{seen:?}"
    );
    let set = sts(&env, "web").await;
    assert_eq!(set.spec.as_ref().unwrap().replicas, Some(3));
    assert!(!set.annotations().contains_key(JOURNAL), "journal removed");
    assert_eq!(env.pods().await.len(), 3);
    assert_eq!(
        env.pvc_names().await,
        ["data-web-0", "data-web-1", "data-web-2", "data-web-3", "data-web-4"],
        "claims kept"
    );
}

/// Reads `child`'s stdout until an event `event` whose text contains `needle`; returns the
/// lines read.
async fn until_event(child: &mut tokio::process::Child, event: &str, needle: &str) -> Vec<String> {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut read = Vec::new();
    let wanted = format!("\"event\":\"{event}\"");
    while let Some(line) = lines.next_line().await.unwrap() {
        read.push(line.clone());
        if line.contains(&wanted) && line.contains(needle) {
            // Keep reading in the background: a closed pipe would fail the run.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return read;
        }
    }
    panic!("the run ended before {event} {needle}: {read:?}");
}

/// A run killed right after web-4 left (the journal says so; replicas not lowered yet) and a
/// run interrupted (Ctrl-C) while web-3's pod is held Terminating: each leaves the journal; the
/// next run resumes it without asking web-4's hook again, and the advice printed (with the run's
/// --kubeconfig, --context and -n) finishes it as printed.
#[tokio::test]
async fn an_interrupted_scale_resumes_from_its_journal() {
    let env = Env::new("scale-resume").await;
    env.statefulset(&Sts::new("web", 5)).await;
    let dir = env.exec_dir("web-4").await;
    env.exec_dir("web-3").await;
    let hook = r#"echo "{pod}" >> ../hooks.log"#;
    let released = std::env::temp_dir().join(format!("{}-released", env.ns));
    let mut first = env.spawn_plugin(&[
        "scale",
        "web",
        "--replicas",
        "3",
        "--decommission-exec",
        hook,
        "--yes",
        "-o",
        "json",
    ]);
    first.env("KUBECTL_STATEFUL_E2E_PAUSE", format!("scale-left:{}", released.display()));
    let mut first = first.spawn().unwrap();
    until_event(&mut first, "left", "web-4").await;
    first.kill().await.unwrap();
    let journal: Value = serde_json::from_str(&sts(&env, "web").await.annotations()[JOURNAL]).unwrap();
    assert_eq!((journal["from"].as_i64(), journal["to"].as_i64()), (Some(5), Some(3)));
    assert_eq!(journal["left"], json!([4]));
    assert_eq!(
        sts(&env, "web").await.spec.unwrap().replicas,
        Some(5),
        "killed before the replicas went down"
    );

    // web-3 will be held Terminating until its finalizer is removed.
    let pods = env.api::<Pod>();
    let hold = json!({"metadata": {"finalizers": ["kubectl-stateful.test/hold"]}});
    pods.patch("web-3", &PatchParams::default(), &Patch::Merge(&hold)).await.unwrap();
    let kubeconfig = env.kubeconfig.to_string_lossy().into_owned();
    let context = current_context(&env.kubeconfig);
    let mut second =
        tokio::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/plugin.sh"));
    second
        .env("KUBECTL_STATEFUL_BIN", env!("CARGO_BIN_EXE_kubectl-stateful"))
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .args(["--kubeconfig", &kubeconfig, "--context", &context, "-n", &env.ns])
        .args(["scale", "web", "--yes", "-o", "json"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut second = second.spawn().unwrap();
    let read = until_event(&mut second, "waiting", "web-3 is being deleted").await;
    let plan: Value = serde_json::from_str(&read[0]).unwrap();
    assert_eq!((plan["plan"]["resumed"].as_bool(), &plan["plan"]["left"]), (Some(true), &json!([4])));
    let pid = second.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let output =
        tokio::time::timeout(Duration::from_secs(10), second.wait_with_output()).await.unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    let resume = commands(&stderr)
        .into_iter()
        .find(|c| c.starts_with("kubectl stateful scale web"))
        .unwrap_or_else(|| panic!("no resume advice: {stderr}"))
        .to_owned();
    assert!(resume.contains("--context") && resume.contains("--kubeconfig"), "{resume}");
    assert!(stderr.contains("web is at 3 replicas (web-4, web-3 removed)"), "{stderr}");
    assert_eq!(hook_log(&dir), ["web-4", "web-3"], "web-4's hook was not asked again");
    assert!(sts(&env, "web").await.annotations().contains_key(JOURNAL), "the journal stays");

    let release = json!({"metadata": {"finalizers": null}});
    pods.patch("web-3", &PatchParams::default(), &Patch::Merge(&release)).await.unwrap();
    run_as_printed(&format!("{resume} --yes"));
    let set = sts(&env, "web").await;
    assert_eq!(set.spec.as_ref().unwrap().replicas, Some(3));
    assert!(!set.annotations().contains_key(JOURNAL), "journal removed");
    assert_eq!(env.pods().await.len(), 3);
    assert_eq!(hook_log(&dir), ["web-4", "web-3"], "no hook ran twice");
    let _ = std::fs::remove_file(released);
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Refused before anything changes, each saying why: below the majority (accepted with
/// --min-available, as a dry run), no terminal and no --yes, an autoscaler, Argo CD owning
/// replicas, a member down.
#[tokio::test]
async fn scale_refusals_change_nothing() {
    let env = Env::new("scale-refusals").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let before = env.versions().await;

    let below = env.plugin().args(["scale", "web", "--replicas", "1", "--yes"]).output().unwrap();
    assert_eq!(below.status.code(), Some(1), "{}", stderr(&below));
    assert_eq!(
        stderr(&below).trim(),
        "error: refusing to scale web from 3 to 1: it must keep 2 of 3 up (its majority); pass --min-available 1 to \
         accept 1 members; nothing was changed"
    );
    let dry = env
        .plugin()
        .args(["scale", "web", "--replicas", "1", "--min-available", "1", "--dry-run"])
        .output()
        .unwrap();
    assert!(dry.status.success(), "{}", stderr(&dry));
    let plan = String::from_utf8_lossy(&dry.stdout);
    assert!(
        plan.contains("1. web-2") && plan.contains("2. web-1") && plan.contains("Claims: keep"),
        "{plan}"
    );
    assert!(stderr(&dry).contains("dry run: nothing was changed"));
    let no_terminal = env.plugin().args(["scale", "web", "--replicas", "2"]).output().unwrap();
    assert_eq!(no_terminal.status.code(), Some(2), "{}", stderr(&no_terminal));
    assert!(stderr(&no_terminal).contains("without a terminal: pass --yes"), "{}", stderr(&no_terminal));
    assert_eq!(env.versions().await, before, "nothing changed");

    env.create::<HorizontalPodAutoscaler>(json!({
        "metadata": {"name": "web-hpa"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web"},
                 "minReplicas": 3, "maxReplicas": 3}
    }))
    .await;
    let autoscaled = env.plugin().args(["scale", "web", "--replicas", "2", "--yes"]).output().unwrap();
    assert_eq!(autoscaled.status.code(), Some(1), "{}", stderr(&autoscaled));
    assert!(
        stderr(&autoscaled).contains("HorizontalPodAutoscaler web-hpa sets its replicas (between 3 and 3)"),
        "{}",
        stderr(&autoscaled)
    );
    assert_eq!(env.versions().await, before, "nothing changed");

    let mut argo = Sts::new("argo", 3).manifest();
    argo["metadata"]["annotations"] =
        json!({"argocd.argoproj.io/tracking-id": format!("shop:apps/StatefulSet:{}/argo", env.ns)});
    kubectl_apply(&env, &argo, true, Some("argocd-controller"));
    env.wait_ready("argo", Duration::from_secs(60)).await;
    let before = env.versions().await;
    let owned = env.plugin().args(["scale", "argo", "--replicas", "4", "--yes"]).output().unwrap();
    assert_eq!(owned.status.code(), Some(1), "{}", stderr(&owned));
    assert!(
        stderr(&owned).contains(
            "its replicas are owned by Argo CD application shop (field manager argocd-controller), which sets them \
             back at its next sync"
        ),
        "{}",
        stderr(&owned)
    );
    assert_eq!(env.versions().await, before, "nothing changed");

    env.statefulset(&Sts {
        image: "example.invalid/never-ready".into(),
        parallel: true,
        wait: false,
        ..Sts::new("stuck", 3)
    })
    .await;
    // Every pod there and counted by the controller: the set is settled, its members not Ready.
    wait_until(Duration::from_secs(60), || async {
        let set = sts(&env, "stuck").await;
        let status = set.status.unwrap_or_default();
        let scheduled = env
            .pods()
            .await
            .iter()
            .filter(|p| p.name_any().starts_with("stuck-"))
            .filter(|p| p.spec.as_ref().is_some_and(|s| s.node_name.is_some()))
            .count();
        scheduled == 3 && status.replicas == 3 && status.observed_generation == set.metadata.generation
    })
    .await;
    let before = env.versions().await;
    let down = env.plugin().args(["scale", "stuck", "--replicas", "2", "--yes"]).output().unwrap();
    assert_eq!(down.status.code(), Some(1), "{}", stderr(&down));
    assert!(
        stderr(&down).contains("refusing to scale stuck down: stuck-0 is not Ready; stuck-1 is not Ready")
            && stderr(&down).contains("a member leaves only while every other is up"),
        "{}",
        stderr(&down)
    );
    assert_eq!(env.versions().await, before, "nothing changed");
}

/// The claims' fate: kept by a scale-down and said; a scale-up re-attaches the old claim and
/// names it as stale data first; a scale-down with `--claims prune --snapshot` deletes exactly
/// the claims of the members it removed, each snapshotted (ready, Retain) first.
#[tokio::test]
async fn the_claims_are_kept_and_named_on_scale_up_or_pruned_through_prune() {
    let env = Env::new("scale-claims").await;
    // minReadySeconds 2: the wait for a new member lasts over a second, said in a plain line.
    env.statefulset(&Sts { min_ready_seconds: Some(2), ..Sts::new("web", 4) }).await;
    let claims = env.api::<PersistentVolumeClaim>();
    let old = claims.get("data-web-3").await.unwrap().uid();

    let down =
        env.plugin().args(["scale", "web", "--replicas", "3", "--yes", "-o", "json"]).output().unwrap();
    assert!(down.status.success(), "{}", stderr(&down));
    let plan = &events(&down)[0];
    assert_eq!(plan["plan"]["members"][0]["claims"][0]["fate"], "kept", "{plan:#?}");
    assert!(stderr(&down).contains("data-web-3 stay with their data"), "{}", stderr(&down));

    let up = env.plugin().args(["scale", "web", "--replicas", "4", "--yes"]).output().unwrap();
    assert!(up.status.success(), "{}", stderr(&up));
    let said = stderr(&up);
    assert!(
        said.contains(
            "warning: web-3 will mount data-web-3, left by an earlier scale-down: each starts on that old \
                       data, not on an empty volume"
        ),
        "{said}"
    );
    let prune = commands(&said).into_iter().find(|c| c.contains("pvc prune web")).expect("prune named");
    assert_eq!(prune, format!("kubectl stateful pvc prune web -n {}", env.ns));
    assert!(String::from_utf8_lossy(&up.stdout).contains("data-web-3 (exists: its old data)"));
    assert!(said.contains("web-3: joined, Ready on"), "{said}");
    assert!(crate::support::progress_line(&said, "the new member web-3", "5m").is_some(), "{said}");
    assert_eq!(claims.get("data-web-3").await.unwrap().uid(), old, "the same claim, re-attached");

    let pruned = env
        .plugin()
        .args(["scale", "web", "--replicas", "2", "--min-available", "2", "--claims", "prune", "--snapshot"])
        .args(["--yes", "-o", "json"])
        .output()
        .unwrap();
    assert!(pruned.status.success(), "{}", stderr(&pruned));
    let events = events(&pruned);
    let result = events.iter().find(|e| e["event"] == "claimsPruned").expect("claimsPruned");
    assert_eq!(result["deleted"], json!(["data-web-2", "data-web-3"]), "{result}");
    assert_eq!(result["snapshots"].as_array().unwrap().len(), 2, "{result}");
    wait_until(Duration::from_secs(30), || async {
        env.pvcs().await.iter().map(ResourceExt::name_any).collect::<Vec<_>>() == ["data-web-0", "data-web-1"]
    })
    .await;
    assert!(!sts(&env, "web").await.annotations().contains_key(JOURNAL));
}

/// `--decommission-http`: the URL, its placeholders filled in, is POSTed until it answers 2xx
/// (a server of the test's own on 127.0.0.1 answers 503 once, then 200); then the member goes.
#[tokio::test]
async fn a_decommission_http_hook_is_posted_until_it_answers_2xx() {
    use std::io::{Read, Write};
    let env = Env::new("scale-http").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (seen_tx, seen_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for (i, socket) in listener.incoming().enumerate() {
            let Ok(mut socket) = socket else { return };
            let mut request = [0u8; 2048];
            let read = socket.read(&mut request).unwrap_or(0);
            let line =
                String::from_utf8_lossy(&request[..read]).lines().next().unwrap_or_default().to_owned();
            let _ = seen_tx.send(line);
            let status = if i == 0 { "503 Busy" } else { "200 OK" };
            let _ = socket.write_all(
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes(),
            );
        }
    });
    let url = format!("http://{address}/leave?member={{pod}}&ordinal={{ordinal}}");
    let output = env
        .spawn_plugin(&[
            "scale",
            "web",
            "--replicas",
            "2",
            "--decommission-http",
            &url,
            "--yes",
            "-o",
            "json",
        ])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let requests: Vec<String> = seen_rx.try_iter().collect();
    assert_eq!(
        requests,
        ["POST /leave?member=web-2&ordinal=2 HTTP/1.1", "POST /leave?member=web-2&ordinal=2 HTTP/1.1"],
        "POSTed, tried again after the 503"
    );
    let events = events(&output);
    assert_eq!(
        moves(&events),
        pairs(&[
            ("hookFailed", "web-2"),
            ("hookPassed", "web-2"),
            ("left", "web-2"),
            ("replicasSet", "3->2"),
            ("removed", "web-2")
        ])
    );
    assert_eq!(events.iter().find(|e| e["event"] == "hookPassed").unwrap()["hookKind"], "http");
}
