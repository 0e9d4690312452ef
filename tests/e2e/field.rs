//! Field cases: what people who run StatefulSets hit on messy clusters (docs/safety.md,
//! "Messy clusters"). Each reproduces a public bug report's situation on the local control plane
//! and checks that the plugin tells the truth and that every path ends in a state its own
//! commands can leave.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod, ResourceQuota};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::support::{Env, JOURNAL, Sts, images, json_of, partition, sts, wait_until};

fn v(image: &str) -> String {
    format!("example.invalid/{image}")
}

fn events_of(output: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn named<'a>(events: &'a [Value], kind: &str) -> Vec<&'a str> {
    events.iter().filter(|e| e["event"] == kind).map(|e| e["pod"].as_str().unwrap()).collect()
}

fn status_json(env: &Env, name: &str) -> Value {
    json_of(&env.plugin().args(["status", name, "-o", "json"]).output().unwrap())
}

fn warnings(status: &Value) -> Vec<(String, String)> {
    status["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["code"].as_str().unwrap().to_owned(), w["message"].as_str().unwrap().to_owned()))
        .collect()
}

fn codes(status: &Value) -> Vec<String> {
    warnings(status).into_iter().map(|(code, _)| code).collect()
}

fn message<'a>(found: &'a [(String, String)], code: &str) -> &'a str {
    &found.iter().find(|(c, _)| c == code).unwrap_or_else(|| panic!("no {code} in {found:?}")).1
}

fn one_line(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr}");
    stderr
}

async fn ready_pods(env: &Env) -> Vec<String> {
    let mut names: Vec<String> = env
        .pods()
        .await
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .map(|p| p.name_any())
        .collect();
    names.sort();
    names
}

/// The repro of the field report: a partition set before the rollout (2), a canary stepped below
/// it (1). The abort used to restore partition 2 with the old template, so web-1 (index 1 < 2)
/// was never rolled back and every abort timed out.
#[tokio::test]
async fn an_abort_rolls_back_below_a_partition_set_before_the_rollout() {
    let env = Env::new("field-abort-partition").await;
    env.statefulset(&Sts { partition: Some(2), ..Sts::new("web", 3) }).await;
    let before = sts(&env, "web").await.status.unwrap().current_revision.unwrap();
    let v2 = format!("app={}", v("app:v2"));
    let staged =
        env.plugin().args(["rollout", "web", "--image", &v2, "--partition", "1", "--yes"]).output().unwrap();
    assert!(staged.status.success(), "{}", String::from_utf8_lossy(&staged.stderr));
    assert_eq!(
        images(&env).await,
        [("web-0".into(), v("app:v1")), ("web-1".into(), v("app:v2")), ("web-2".into(), v("app:v2"))]
    );

    let output = env
        .plugin()
        .args(["rollout", "web", "--abort", "--yes", "--timeout", "45s", "-o", "json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events_of(&output);
    let plan = events.iter().find(|e| e["event"] == "abortPlanned").unwrap();
    assert_eq!((plan["rollbackPartition"].as_i64(), plan["partition"].as_i64()), (Some(1), Some(2)));
    let mut rolled_back = named(&events, "podRolledBack");
    rolled_back.sort_unstable();
    assert_eq!(rolled_back, ["web-1", "web-2"], "every pod it rolled back is named");
    assert!(
        events.iter().filter(|e| e["event"] == "podRolledBack").all(|e| e["revision"] == before.as_str()),
        "rolled back to the revision from before: {events:?}"
    );
    let web = sts(&env, "web").await;
    assert_eq!(partition(&web), 2, "the partition from before the rollout");
    assert!(!web.annotations().contains_key(JOURNAL));
    assert!(env.all_pods_run(v("app:v1")).await);
    assert_eq!(ready_pods(&env).await, ["web-0", "web-1", "web-2"]);
}

/// An abort stopped after its first write (here declined at the forced-rollback question) leaves
/// an aborting journal; the next plain run finishes it.
#[tokio::test]
async fn an_interrupted_abort_is_finished_by_the_next_run() {
    let env = Env::new("field-abort-resume").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let canary = format!("app={}", v("never-ready:1"));
    let failed = env
        .plugin()
        .args(["rollout", "web", "--image", &canary, "--yes", "--timeout", "3s"])
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(3), "{}", String::from_utf8_lossy(&failed.stderr));

    let (ns, config) = (env.ns.clone(), env.kubeconfig.clone());
    let transcript = tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-stateful"));
        command.env("KUBECONFIG", config).env("NO_COLOR", "1").args(["-n", &ns, "rollout", "web", "--abort"]);
        let mut session = rexpect::session::spawn_command(command, Some(60_000)).unwrap();
        session.exp_string("Roll web back to revision").unwrap();
        session.send_line("y").unwrap();
        session.exp_string("forced rollback").unwrap();
        session.send_line("n").unwrap();
        session.exp_eof().unwrap()
    })
    .await
    .unwrap();
    assert!(
        transcript.contains("abort incomplete")
            && transcript.contains(&format!("rollout web --abort -n {}` again to finish", env.ns)),
        "{transcript}"
    );
    let web = sts(&env, "web").await;
    assert!(web.annotations()[JOURNAL].contains("\"aborting\":true"), "the abort is journaled");

    let output = env.plugin().args(["rollout", "web", "--yes", "--timeout", "45s"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("continuing the abort"), "{stderr}");
    let web = sts(&env, "web").await;
    assert!(!web.annotations().contains_key(JOURNAL));
    assert_eq!(partition(&web), 0);
    assert!(env.all_pods_run(v("app:v1")).await);
    assert_eq!(ready_pods(&env).await, ["web-0", "web-1", "web-2"]);
}

/// A canary whose StatefulSet was then scaled to 0: the abort has no pod to wait for and ends.
#[tokio::test]
async fn an_abort_of_a_statefulset_scaled_to_zero_finishes() {
    let env = Env::new("field-abort-zero").await;
    env.statefulset(&Sts::new("web", 2)).await;
    let v2 = format!("app={}", v("app:v2"));
    let staged =
        env.plugin().args(["rollout", "web", "--image", &v2, "--partition", "1", "--yes"]).output().unwrap();
    assert!(staged.status.success(), "{}", String::from_utf8_lossy(&staged.stderr));
    env.scale("web", 0).await;
    wait_until(Duration::from_secs(30), || async { env.pods().await.is_empty() }).await;

    let output =
        env.plugin().args(["rollout", "web", "--abort", "--yes", "--timeout", "30s"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let web = sts(&env, "web").await;
    assert!(!web.annotations().contains_key(JOURNAL));
    assert_eq!(partition(&web), 0);
    let image = web.spec.unwrap().template.spec.unwrap().containers[0].image.clone();
    assert_eq!(image, Some(v("app:v1")), "the template from before the rollout");
}

/// A Parallel set whose controller cannot create web-1 because a quota is full (web-3, being
/// scaled away, holds the room): a blocked controller, not a slow one. Status names the failure
/// and the remedy; the claim of web-3 is kept, not orphaned, by status and prune alike; rollout
/// refuses before writing anything; and the remedy works.
#[tokio::test]
async fn a_controller_blocked_by_a_quota_is_named_with_its_remedy() {
    let env = Env::new("field-quota").await;
    env.create::<ResourceQuota>(json!({"metadata": {"name": "pods"}, "spec": {"hard": {"pods": "4"}}})).await;
    env.statefulset(&Sts { parallel: true, ..Sts::new("web", 4) }).await;
    let quotas = env.api::<ResourceQuota>();
    let params = PatchParams::default();
    quotas.patch("pods", &params, &Patch::Merge(json!({"spec": {"hard": {"pods": "3"}}}))).await.unwrap();
    env.api::<Pod>().delete("web-1", &DeleteParams::default()).await.unwrap();
    env.scale("web", 3).await;
    wait_until(Duration::from_secs(60), || async {
        codes(&status_json(&env, "web")).contains(&"ControllerFailing".to_owned())
    })
    .await;

    let status = status_json(&env, "web");
    let found = warnings(&status);
    let failing = message(&found, "ControllerFailing");
    assert!(failing.contains("fails to create Pod web-1") && failing.contains("exceeded quota"), "{failing}");
    assert!(failing.contains(&format!("`kubectl delete pod web-3 -n {}`", env.ns)), "{failing}");
    assert!(!codes(&status).contains(&"PodMissing".to_owned()), "not 'has not created it yet': {found:?}");
    assert_eq!(status["orphanedPvcs"], json!([]), "web-3 still mounts data-web-3");
    assert_eq!(status["keptPvcs"][0]["name"], "data-web-3");
    assert_eq!(status["keptPvcs"][0]["keep"], "pendingScaleDown");
    let plan = json_of(&env.plugin().args(["pvc", "prune", "web", "-o", "json"]).output().unwrap());
    assert_eq!(plan["candidates"][0]["verdict"], "keep", "prune agrees");

    let before = env.versions().await;
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--yes"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let line = one_line(&output);
    assert!(line.contains("cannot be rolled out now") && line.contains("exceeded quota"), "{line}");
    assert!(line.contains("nothing was changed"), "{line}");
    assert_eq!(env.versions().await, before, "nothing written");

    // The remedy it names works.
    env.api::<Pod>().delete("web-3", &DeleteParams::default()).await.unwrap();
    wait_until(Duration::from_secs(60), || async { ready_pods(&env).await == ["web-0", "web-1", "web-2"] })
        .await;
    let healed = status_json(&env, "web");
    assert!(!codes(&healed).contains(&"ControllerFailing".to_owned()), "{:?}", warnings(&healed));
}

/// A set deleted with --cascade=orphan and re-created with a second claim template: the adopted
/// pods cannot gain the volume, so the controller fails on them forever (kubernetes#141876).
#[tokio::test]
async fn adopted_pods_without_a_new_claim_are_flagged_and_block_the_rollout() {
    let env = Env::new("field-adopted").await;
    env.statefulset(&Sts::new("web", 2)).await;
    let api = env.api::<StatefulSet>();
    let orphan =
        DeleteParams { propagation_policy: Some(kube::api::PropagationPolicy::Orphan), ..Default::default() };
    api.delete("web", &orphan).await.unwrap();
    wait_until(Duration::from_secs(30), || async { api.get_opt("web").await.unwrap().is_none() }).await;
    let mut manifest = Sts { templates: vec!["data".into(), "logs".into()], ..Sts::new("web", 2) }.manifest();
    manifest["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] =
        json!([{"name": "data", "mountPath": "/data"}, {"name": "logs", "mountPath": "/logs"}]);
    env.create::<StatefulSet>(manifest).await;
    wait_until(Duration::from_secs(60), || async {
        let codes = codes(&status_json(&env, "web"));
        codes.iter().filter(|c| *c == "PodMissingClaim").count() == 2
            && codes.contains(&"RolloutInProgress".to_owned())
    })
    .await;

    let status = status_json(&env, "web");
    let found = warnings(&status);
    let lacking = message(&found, "PodMissingClaim");
    assert!(lacking.contains("pod web-0 does not mount logs-web-0"), "{lacking}");
    assert!(lacking.contains(&format!("`kubectl delete pod web-0 -n {}`", env.ns)), "{lacking}");
    assert_eq!(status["ordinals"][0]["pod"]["unmountedClaims"], json!(["logs-web-0"]));
    let progress = message(&found, "RolloutInProgress");
    assert!(
        !progress.contains("steps it through") && progress.contains("blocked"),
        "true advice: {progress}"
    );

    let before = env.versions().await;
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--yes"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(one_line(&output).contains("does not mount logs-web-0"));
    assert_eq!(env.versions().await, before, "nothing written");

    // The remedy: replace them one at a time, lowest ordinal first.
    for pod in ["web-0", "web-1"] {
        let old = env.api::<Pod>().get(pod).await.unwrap().uid();
        env.api::<Pod>().delete(pod, &DeleteParams::default()).await.unwrap();
        wait_until(Duration::from_secs(60), || async {
            let now = env.api::<Pod>().get_opt(pod).await.unwrap();
            now.is_some_and(|p| p.uid() != old) && ready_pods(&env).await.contains(&pod.to_owned())
        })
        .await;
    }
    let healed = status_json(&env, "web");
    assert!(
        !codes(&healed).iter().any(|c| c == "PodMissingClaim" || c == "ControllerFailing"),
        "{:?}",
        warnings(&healed)
    );
}

/// A bare pod adopted by a StatefulSet whose template asks for a claim: the controller cannot
/// add the volume, nor so the label only StatefulSet pods carry (one update does both). `-A`
/// selects StatefulSet pods by that label, so it must still find this one and say the same as
/// `status` of the set does.
#[tokio::test]
async fn an_adopted_pod_the_controller_could_not_label_is_seen_under_all_namespaces() {
    let env = Env::new("field-unlabelled").await;
    env.create::<Pod>(json!({
        "metadata": {"name": "lab-0", "labels": {"app": "lab"}},
        "spec": {"containers": [{"name": "app", "image": v("app:v1")}]}
    }))
    .await;
    env.create::<StatefulSet>(Sts::new("lab", 1).manifest()).await;
    // Settled, so that two reads see the same: the pod Ready, its claim Bound.
    wait_until(Duration::from_secs(60), || async {
        let status = status_json(&env, "lab");
        codes(&status).contains(&"PodMissingClaim".to_owned())
            && status["ordinals"][0]["pod"]["ready"] == true
            && status["ordinals"][0]["pvcs"][0]["phase"] == "Bound"
    })
    .await;
    let pod = env.api::<Pod>().get("lab-0").await.unwrap();
    assert!(
        !pod.labels().contains_key("statefulset.kubernetes.io/pod-name"),
        "the case under test: {:?}",
        pod.labels()
    );

    // The controller may still write (its status, its events) between two reads: `-A` is
    // compared with a state that `status lab` read the same before and after it.
    let seen = |s: &Value| (s["ordinals"].clone(), codes(s));
    let mut tries = Vec::new();
    for _ in 0..10 {
        let before = seen(&status_json(&env, "lab"));
        let listed = env.status_in_all_namespaces("lab");
        let after = seen(&status_json(&env, "lab"));
        if before == after {
            assert_eq!(listed["ordinals"][0]["pod"]["name"], "lab-0");
            assert_eq!(seen(&listed), after, "-A and status lab read the same state apart");
            return;
        }
        tries.push((before, after));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("status lab never read the same twice in a row: {tries:?}");
}

/// OnDelete: the controller never advances status.currentRevision (kubernetes#73492), so status
/// reads revisions from the pods and says what OnDelete waits for.
#[tokio::test]
async fn on_delete_revisions_come_from_the_pods() {
    let env = Env::new("field-ondelete").await;
    env.statefulset(&Sts::new("db", 2)).await;
    env.patch_sts("db", json!({"spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": null}}}))
        .await;
    env.set_image("db", &v("app:v2")).await;
    for pod in ["db-1", "db-0"] {
        env.api::<Pod>().delete(pod, &DeleteParams::default()).await.unwrap();
    }
    wait_until(Duration::from_secs(60), || async {
        env.all_pods_run(v("app:v2")).await && ready_pods(&env).await.len() == 2
    })
    .await;
    let status = status_json(&env, "db");
    assert!(!codes(&status).contains(&"RolloutInProgress".to_owned()), "{:?}", warnings(&status));
    assert_eq!(status["revisions"]["current"], status["revisions"]["update"]);

    env.set_image("db", &v("app:v3")).await;
    wait_until(Duration::from_secs(30), || async {
        codes(&status_json(&env, "db")).contains(&"RolloutInProgress".to_owned())
    })
    .await;
    let status = status_json(&env, "db");
    let roles: Vec<&str> = status["ordinals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["pod"]["revisionRole"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["current", "current"], "the last fully rolled-out revision is current, not old");
    let found = warnings(&status);
    let progress = message(&found, "RolloutInProgress");
    assert!(progress.contains("waiting for deletion"), "{progress}");
    assert!(
        progress.contains(&format!("`kubectl stateful rollout db -n {}` evicts the 2 pod(s)", env.ns)),
        "the plugin rolls OnDelete sets out: {progress}"
    );
}

/// A scale-up while a canary is staged creates pods on the update revision without any step:
/// status and the resumed plan say so, and the abort rolls them back too.
#[tokio::test]
async fn pods_a_scale_up_created_on_a_staged_revision_are_flagged_and_rolled_back() {
    let env = Env::new("field-scaleup").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let v2 = format!("app={}", v("app:v2"));
    let staged =
        env.plugin().args(["rollout", "web", "--image", &v2, "--partition", "3", "--yes"]).output().unwrap();
    assert!(staged.status.success(), "{}", String::from_utf8_lossy(&staged.stderr));
    env.scale("web", 5).await;
    wait_until(Duration::from_secs(60), || async { ready_pods(&env).await.len() == 5 }).await;
    assert_eq!(
        images(&env).await.into_iter().filter(|(_, i)| *i == v("app:v2")).map(|(p, _)| p).collect::<Vec<_>>(),
        ["web-3", "web-4"]
    );

    let found = warnings(&status_json(&env, "web"));
    let unreleased = message(&found, "UnreleasedUpdate");
    assert!(
        unreleased.starts_with("web-3, web-4 run the update revision though no step released them"),
        "{unreleased}"
    );

    let plan = events_of(&env.plugin().args(["rollout", "web", "--dry-run", "-o", "json"]).output().unwrap());
    let warned = plan.iter().find(|e| e["event"] == "warning").unwrap();
    assert!(
        warned["message"].as_str().unwrap().starts_with("web-3, web-4 run the update revision"),
        "{warned}"
    );
    let released: Vec<Value> =
        plan[0]["steps"].as_array().unwrap().iter().map(|s| s["ordinals"].clone()).collect();
    assert!(released.iter().all(|o| !o.as_array().unwrap().contains(&json!(3)) && !o.as_array().unwrap().contains(&json!(4))),
        "a resumed plan names only pods it will update: {released:?}");

    let output = env.plugin().args(["rollout", "web", "--abort", "--yes", "-o", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events_of(&output);
    let mut rolled_back = named(&events, "podRolledBack");
    rolled_back.sort_unstable();
    assert_eq!(rolled_back, ["web-3", "web-4"]);
    assert!(env.all_pods_run(v("app:v1")).await);
}

/// A confirmed prune always reports a PruneResult; on a Retain class it names the volumes it
/// leaves behind, status points at them, and its hint binds one again.
#[tokio::test]
async fn retained_volumes_are_named_and_the_hint_binds_them_again() {
    let env = Env::new("field-retain").await;
    env.statefulset(&Sts { storage_class: Some("kwok-volume-retain".into()), ..Sts::new("web", 3) }).await;
    let nothing =
        json_of(&env.plugin().args(["pvc", "prune", "web", "--yes", "-o", "json"]).output().unwrap());
    assert_eq!(
        (nothing["kind"].as_str(), nothing["deleted"].as_array().map(Vec::len)),
        (Some("PruneResult"), Some(0))
    );

    env.scale("web", 2).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    let volume = env
        .api::<PersistentVolumeClaim>()
        .get("data-web-2")
        .await
        .unwrap()
        .spec
        .unwrap()
        .volume_name
        .unwrap();
    let result =
        json_of(&env.plugin().args(["pvc", "prune", "web", "--yes", "-o", "json"]).output().unwrap());
    assert_eq!(result["retainedVolumes"], json!([volume]));

    let volumes: Api<PersistentVolume> = Api::all(env.client.clone());
    wait_until(Duration::from_secs(30), || async {
        volumes.get(&volume).await.unwrap().status.and_then(|s| s.phase).as_deref() == Some("Released")
    })
    .await;
    let status = status_json(&env, "web");
    assert_eq!(status["releasedVolumes"][0]["name"], volume.as_str());
    let found = warnings(&status);
    let hint = message(&found, "ReleasedVolume");
    let command = hint.split('`').nth(1).unwrap();
    assert!(command.starts_with("kubectl patch pv"), "{hint}");
    // Follow the hint as a person would (the shell strips the quotes around the JSON).
    let patch_json = command.split('\'').nth(1).unwrap();
    let patch: Vec<json_patch::PatchOperation> = serde_json::from_str(patch_json).unwrap();
    volumes
        .patch(&volume, &PatchParams::default(), &Patch::<()>::Json(json_patch::Patch(patch)))
        .await
        .unwrap();
    env.scale("web", 3).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    let claim = env.api::<PersistentVolumeClaim>().get("data-web-2").await.unwrap();
    assert_eq!(claim.spec.unwrap().volume_name.as_deref(), Some(volume.as_str()), "the old data is back");
}
