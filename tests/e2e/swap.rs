//! `pvc resize`'s swap (orphan delete, re-create, adoption) finishes only what it started
//! (issue #28, kind 1): a change landing between its read and its delete stops it and is kept,
//! a set someone else re-created is never taken for its own, a pod that died without a
//! controller does not wedge it, a dry run with a journal writes nothing, the old field
//! managers and the claims' owner references come back, an operator's set is refused, and
//! every command names a half-done swap with both ways out, which work as printed.
//!
//! The races are made exact with the test build's pause points (`src/seam.rs`): the run
//! waits at `swap-delete` (journal written, right before the delete) or `swap-create` (old
//! object gone, right before the create) until the test has acted.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod};
use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::resize::{assert_refused, capacity, claim_uids, pod_marks, template_size, web_with_an_orphan};
use crate::support::{Env, commands, run_as_printed, wait_until};

const RESIZE: [&str; 6] = ["pvc", "resize", "web", "--size", "data=2Gi", "--yes"];
const CM: &str = "kubectl-stateful-resize-web";

/// A run of the plugin stopped at a pause point, and the file that lets it go on.
struct Paused {
    child: tokio::process::Child,
    go_on: PathBuf,
}

impl Paused {
    /// Starts `args` and waits until the run says it is paused at `point`.
    async fn at(env: &Env, args: &[&str], point: &str) -> Paused {
        let go_on = std::env::temp_dir().join(format!("kubectl-stateful-e2e-{}-{point}", env.ns));
        let _ = std::fs::remove_file(&go_on);
        let mut child = env
            .spawn_plugin(args)
            .env("KUBECTL_STATEFUL_E2E_PAUSE", format!("{point}:{}", go_on.display()))
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let said = format!("paused at {point}");
        let mut seen = Vec::new();
        let reached = tokio::time::timeout(Duration::from_secs(180), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.contains(&said) {
                    return true;
                }
                seen.push(line);
            }
            false
        })
        .await
        .unwrap_or(false);
        assert!(reached, "never {said}: {}", seen.join("\n"));
        // The rest of stderr is drained, so that the run never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Paused { child, go_on }
    }

    /// Lets the run go on and returns its exit code.
    async fn resume(mut self) -> Option<i32> {
        std::fs::write(&self.go_on, b"").unwrap();
        let status =
            tokio::time::timeout(Duration::from_secs(180), self.child.wait()).await.unwrap().unwrap();
        let _ = std::fs::remove_file(&self.go_on);
        status.code()
    }

    /// SIGKILL where it waits: the swap is left exactly there.
    async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

async fn journal(env: &Env) -> Option<ConfigMap> {
    env.api::<ConfigMap>().get_opt(CM).await.unwrap()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A run that must fail with `code` and one line on stderr containing every one of `expected`.
fn refused(output: &std::process::Output, code: i32, expected: &[&str]) -> String {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(code), "{text}");
    assert_eq!(text.lines().count(), 1, "one line: {text}");
    for e in expected {
        assert!(text.contains(e), "{e:?} in {text}");
    }
    text
}

/// Killed right before the re-create: the old object gone, the journal there, no StatefulSet.
async fn half_done(env: &Env) {
    Paused::at(env, &RESIZE, "swap-create").await.kill().await;
    assert!(journal(env).await.is_some());
    assert!(env.api::<StatefulSet>().get_opt("web").await.unwrap().is_none());
}

fn owner_uids(pvc: &PersistentVolumeClaim) -> Vec<String> {
    pvc.owner_references().iter().map(|r| r.uid.clone()).collect()
}

#[tokio::test]
async fn a_half_done_swap_is_named_everywhere_and_finishes_as_printed_though_a_pod_died_meanwhile() {
    let env = Env::new("swap-named").await;
    let old = web_with_an_orphan(&env, None).await;
    let claims = claim_uids(&env).await;
    let pods = pod_marks(&env).await;
    // whenDeleted: Delete: every claim, the scaled-down ordinal 3's too, is owned by the set.
    for claim in env.pvcs().await {
        assert_eq!(owner_uids(&claim), [old.uid().unwrap()], "{}", claim.name_any());
    }
    half_done(&env).await;

    // status of the set: the map as the journal records it, the swap first, both ways out.
    let output = env.plugin_with_flags().args(["status", "web", "-o", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    let warning = &status["warnings"][0];
    assert_eq!(warning["code"], "MidResize", "{status}");
    let message = warning["message"].as_str().unwrap().to_owned();
    for expected in [
        "web is mid-resize since ",
        "(journal ConfigMap kubectl-stateful-resize-web): its StatefulSet object is deleted",
        "pods running without a controller: web-0, web-1, web-2",
        "finish with `kubectl stateful pvc resize web --size data=2Gi --yes -n ",
        "or undo with `kubectl stateful pvc resize web --undo --yes -n ",
    ] {
        assert!(message.contains(expected), "{expected:?} in {message}");
    }
    assert_eq!(status["replicas"]["ready"], 3, "its pods run on");
    // The namespace's list and every namespace's say so too.
    for args in [&["status", "-o", "json"][..], &["status", "-A", "-o", "json"]] {
        let output = env.plugin().args(args).output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("web is mid-resize since"), "{args:?}: {text}");
    }

    // Commands that would act on it refuse, naming the swap; nothing is changed.
    let v2 = "app=example.invalid/app:v2";
    let cases: [(&[&str], i32, &[&str]); 4] = [
        (&["rollout", "web", "--image", v2, "--yes"], 1, &["web is mid-resize", "nothing was changed"]),
        (&["pvc", "prune", "web", "--yes"], 1, &["web is mid-resize", "nothing was changed"]),
        (&["recover", "web-1", "--yes"], 1, &["web is mid-resize", "nothing was changed"]),
        (
            &["pvc", "resize", "web", "--size", "data=3Gi", "--yes"],
            1,
            &["a resize of web to other sizes is half done", "nothing was changed"],
        ),
    ];
    for (args, code, expected) in cases {
        refused(&env.plugin().args(args).output().unwrap(), code, expected);
    }
    let output = env.plugin().args(["pvc", "prune", "--dry-run"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("left out: web is mid-resize"), "{}", stderr(&output));

    // A dry run with the journal there, finishing or undoing, sends no write.
    let before = journal(&env).await.unwrap().resource_version();
    for args in [
        &["pvc", "resize", "web", "--size", "data=2Gi", "--dry-run"][..],
        &["pvc", "resize", "web", "--undo", "--dry-run"],
    ] {
        let output = env.plugin().args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("dry run: nothing was changed"), "{}", stderr(&output));
    }
    assert_eq!(journal(&env).await.unwrap().resource_version(), before, "the journal untouched");
    assert!(env.api::<StatefulSet>().get_opt("web").await.unwrap().is_none(), "nothing re-created");

    // A pod dies while nothing controls it.
    let gone = env.api::<Pod>();
    gone.delete("web-1", &DeleteParams { grace_period_seconds: Some(0), ..Default::default() })
        .await
        .unwrap();
    wait_until(Duration::from_secs(60), || async { gone.get_opt("web-1").await.unwrap().is_none() }).await;

    // The finish command, as status printed it: the set is re-created, web-1 created again.
    let finish = commands(&message)[0].to_owned();
    run_as_printed(&finish);
    let new = env.api::<StatefulSet>().get("web").await.unwrap();
    assert_ne!(new.uid(), old.uid());
    assert_eq!(template_size(&new, "data"), "2Gi");
    assert!(journal(&env).await.is_none(), "journal removed");
    let after = pod_marks(&env).await;
    for kept in ["web-0", "web-2"] {
        assert_eq!(after[kept], pods[kept], "{kept} kept");
    }
    assert_ne!(after["web-1"].0, pods["web-1"].0, "web-1 created again");
    assert_eq!(claim_uids(&env).await, claims, "every claim kept");
    // Every claim is owned by the new set again: the live ones by the controller, ordinal 3's
    // (scaled down) by the swap.
    wait_until(Duration::from_secs(60), || async {
        env.pvcs().await.iter().all(|c| owner_uids(c) == [new.uid().unwrap()])
    })
    .await;
    // Not wedged: once the controller has settled (web-1 came back), the next resize plans
    // normally.
    env.wait_ready("web", Duration::from_secs(60)).await;
    let output =
        env.plugin().args(["pvc", "resize", "web", "--size", "data=3Gi", "--dry-run"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let status = env.plugin().args(["status", "web", "-o", "json"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&status.stdout).contains("MidResize"));
}

#[tokio::test]
async fn a_scale_or_an_annotation_between_the_read_and_the_delete_stops_the_swap_and_is_kept() {
    let env = Env::new("swap-race").await;
    let old = web_with_an_orphan(&env, None).await;
    let pods = pod_marks(&env).await;

    // A scale lands after the journal was written, right before the delete.
    let paused = Paused::at(&env, &RESIZE, "swap-delete").await;
    env.scale("web", 4).await;
    assert_eq!(paused.resume().await, Some(1));
    let now = env.api::<StatefulSet>().get("web").await.unwrap();
    assert_eq!(now.uid(), old.uid(), "not deleted");
    assert_eq!(now.spec.as_ref().unwrap().replicas, Some(4), "the scale is kept");
    assert!(journal(&env).await.is_none(), "the journal of a swap that never started is removed");
    env.wait_ready("web", Duration::from_secs(60)).await;
    let after = pod_marks(&env).await;
    for (name, mark) in &pods {
        assert_eq!(&after[name], mark, "{name} never deleted");
    }

    // An annotation likewise.
    let paused = Paused::at(&env, &RESIZE, "swap-delete").await;
    env.patch_sts("web", json!({"metadata": {"annotations": {"team": "storage"}}})).await;
    assert_eq!(paused.resume().await, Some(1));
    let now = env.api::<StatefulSet>().get("web").await.unwrap();
    assert_eq!(now.uid(), old.uid(), "not deleted");
    assert_eq!(now.annotations().get("team").map(String::as_str), Some("storage"));

    // Killed between the journal and the delete: a dry run writes nothing, a run starts over.
    Paused::at(&env, &RESIZE, "swap-delete").await.kill().await;
    let cm = journal(&env).await.expect("the journal of the killed run");
    let output =
        env.plugin().args(["pvc", "resize", "web", "--size", "data=2Gi", "--dry-run"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("a swap of web that never started"), "{}", stderr(&output));
    assert_eq!(journal(&env).await.unwrap().resource_version(), cm.resource_version(), "untouched");
    assert_eq!(env.api::<StatefulSet>().get("web").await.unwrap().uid(), old.uid());
    let output = env.plugin().args(RESIZE).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("web was not deleted yet: starting over"), "{}", stderr(&output));
    let new = env.api::<StatefulSet>().get("web").await.unwrap();
    assert_eq!(template_size(&new, "data"), "2Gi");
    assert_eq!(new.spec.as_ref().unwrap().replicas, Some(4), "the scale survived the swap");
    assert_eq!(new.annotations().get("team").map(String::as_str), Some("storage"));
}

#[tokio::test]
async fn a_set_someone_else_re_created_is_never_adopted_and_the_printed_undo_keeps_it() {
    let env = Env::new("swap-theirs").await;
    let old = web_with_an_orphan(&env, None).await;
    half_done(&env).await;
    // Someone (a GitOps self-heal, a person) re-creates web from their own manifest.
    let mut theirs = serde_json::to_value(&old).unwrap();
    for field in ["uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"] {
        theirs["metadata"].as_object_mut().unwrap().remove(field);
    }
    theirs.as_object_mut().unwrap().remove("status");
    let theirs: StatefulSet = env
        .api::<StatefulSet>()
        .create(
            &kube::api::PostParams { field_manager: Some("argocd-controller".into()), ..Default::default() },
            &serde_json::from_value(theirs).unwrap(),
        )
        .await
        .unwrap();

    let output = env.plugin_with_flags().args(RESIZE).output().unwrap();
    // After the line that says it resumes, one error line.
    let all = stderr(&output);
    let (first, _) = all.split_once('\n').unwrap();
    assert_eq!(first, "resuming the swap of web recorded in ConfigMap kubectl-stateful-resize-web");
    let rest = std::process::Output { stderr: all.as_bytes()[first.len() + 1..].to_vec(), ..output };
    let text = refused(
        &rest,
        3,
        &[
            "web was re-created meanwhile by field manager argocd-controller (Argo CD), not by this command, with \
             data=1Gi (the swap wanted data=2Gi)",
            "it was left as it is, and so was the journal",
        ],
    );
    let now = env.api::<StatefulSet>().get("web").await.unwrap();
    assert_eq!(now.uid(), theirs.uid(), "theirs, untouched");
    assert_eq!(template_size(&now, "data"), "1Gi");
    assert!(journal(&env).await.is_some(), "the journal stays");

    run_as_printed(commands(&text)[0]);
    assert!(journal(&env).await.is_none(), "the swap ended");
    let now = env.api::<StatefulSet>().get("web").await.unwrap();
    assert_eq!(now.uid(), theirs.uid(), "theirs kept");
}

#[tokio::test]
async fn undo_re_creates_the_set_with_its_old_sizes_and_the_claims_stay_grown() {
    let env = Env::new("swap-undo").await;
    let old = web_with_an_orphan(&env, None).await;
    let pods = pod_marks(&env).await;
    let claims = claim_uids(&env).await;
    half_done(&env).await;
    let output = env.plugin().args(["pvc", "resize", "web", "--undo", "--yes"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("undoing the swap of web"), "{}", stderr(&output));
    let now = env.api::<StatefulSet>().get("web").await.unwrap();
    assert_ne!(now.uid(), old.uid());
    assert_eq!(template_size(&now, "data"), "1Gi", "the size from before");
    assert_eq!(pod_marks(&env).await, pods, "every pod adopted unchanged");
    assert_eq!(claim_uids(&env).await, claims);
    assert_eq!(capacity(&env, "data-web-0").await, "2Gi", "claims never shrink");
    assert!(journal(&env).await.is_none());
    // Nothing left to undo.
    refused(
        &env.plugin().args(["pvc", "resize", "web", "--undo", "--yes"]).output().unwrap(),
        1,
        &["no resize of web is half done", "nothing was changed"],
    );
}

#[tokio::test]
async fn an_operator_controlled_set_is_refused() {
    let env = Env::new("swap-operator").await;
    web_with_an_orphan(&env, None).await;
    // The operator's custom resource, stood in for by a ConfigMap (the garbage collector deletes
    // a dependent whose owner does not exist).
    let owner: ConfigMap = env.create(json!({"metadata": {"name": "main"}})).await;
    let reference = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "main", "uid": owner.uid(), "controller": true});
    env.patch_sts("web", json!({"metadata": {"ownerReferences": [reference]}})).await;
    assert_refused(
        &env,
        &["pvc", "resize", "web", "--size", "data=2Gi", "--yes", "--override-owner"],
        1,
        "ConfigMap main controls web (its controller ownerReference)",
    )
    .await;
    assert!(journal(&env).await.is_none());
}

#[tokio::test]
async fn the_re_created_set_keeps_its_field_managers_so_rollout_still_sees_who_applies_it() {
    let env = Env::new("swap-managers").await;
    web_with_an_orphan(&env, None).await;
    // Flux's kustomize-controller applies the image (server-side apply).
    let applied = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "example.invalid/app:v1"}]}}}
    });
    let params = PatchParams::apply("kustomize-controller").force();
    env.api::<StatefulSet>().patch("web", &params, &Patch::Apply(&applied)).await.unwrap();
    let managers = |sts: &StatefulSet| -> BTreeMap<String, String> {
        sts.managed_fields()
            .iter()
            .filter(|m| m.subresource.is_none())
            .map(|m| (m.manager.clone().unwrap_or_default(), m.operation.clone().unwrap_or_default()))
            .collect()
    };
    let before = managers(&env.api::<StatefulSet>().get("web").await.unwrap());
    assert_eq!(before.get("kustomize-controller").map(String::as_str), Some("Apply"));

    let output = env
        .plugin()
        .args(["pvc", "resize", "web", "--size", "data=2Gi", "--yes", "--override-owner"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let new = env.api::<StatefulSet>().get("web").await.unwrap();
    assert_eq!(template_size(&new, "data"), "2Gi");
    assert_eq!(managers(&new), before, "the managers of the object it replaced");

    let output = env
        .plugin()
        .args(["rollout", "web", "--image", "app=example.invalid/app:v2", "--yes"])
        .output()
        .unwrap();
    refused(&output, 1, &["is owned by Flux (field manager kustomize-controller)"]);
}
