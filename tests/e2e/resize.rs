//! `kubectl stateful pvc resize` against the real StatefulSet controller, garbage collector and
//! PVC admission, with kwok-resizer standing in for the CSI resizer and kubelet
//! (docs/testing.md, "Volume expansion").

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{Env, Sts, wait_until};

/// name → (uid, controller-revision-hash) of every pod.
pub(crate) async fn pod_marks(env: &Env) -> BTreeMap<String, (String, String)> {
    env.pods()
        .await
        .iter()
        .map(|p| {
            let revision = p.labels().get("controller-revision-hash").cloned().unwrap_or_default();
            (p.name_any(), (p.uid().unwrap(), revision))
        })
        .collect()
}

pub(crate) async fn claim_uids(env: &Env) -> BTreeMap<String, String> {
    env.pvcs().await.iter().map(|c| (c.name_any(), c.uid().unwrap())).collect()
}

fn storage(
    value: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) -> String {
    value.and_then(|m| m.get("storage")).map(|q| q.0.clone()).unwrap_or_default()
}

pub(crate) async fn capacity(env: &Env, claim: &str) -> String {
    let pvc = env.api::<PersistentVolumeClaim>().get(claim).await.unwrap();
    storage(pvc.status.as_ref().and_then(|s| s.capacity.as_ref()))
}

async fn request(env: &Env, claim: &str) -> String {
    let pvc = env.api::<PersistentVolumeClaim>().get(claim).await.unwrap();
    storage(pvc.spec.as_ref().and_then(|s| s.resources.as_ref()).and_then(|r| r.requests.as_ref()))
}

pub(crate) fn template_size(sts: &StatefulSet, template: &str) -> String {
    let templates = sts.spec.as_ref().unwrap().volume_claim_templates.as_ref().unwrap();
    let t = templates.iter().find(|t| t.name_any() == template).unwrap();
    storage(t.spec.as_ref().and_then(|s| s.resources.as_ref()).and_then(|r| r.requests.as_ref()))
}

/// web with templates data and logs, whenDeleted: Delete, 4 replicas scaled to 3: ordinal 3's
/// claims are left behind.
pub(crate) async fn web_with_an_orphan(env: &Env, class: Option<&str>) -> StatefulSet {
    let mut spec = Sts::new("web", 4);
    spec.templates = vec!["data".into(), "logs".into()];
    spec.storage_class = class.map(str::to_owned);
    let mut manifest = spec.manifest();
    manifest["spec"]["persistentVolumeClaimRetentionPolicy"] =
        json!({"whenDeleted": "Delete", "whenScaled": "Retain"});
    env.create::<k8s_openapi::api::core::v1::Service>(json!({
        "metadata": {"name": "web"},
        "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"port": 80}]}
    }))
    .await;
    env.create::<StatefulSet>(manifest).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    env.scale("web", 3).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    wait_until(Duration::from_secs(30), || async { env.pods().await.len() == 3 }).await;
    env.api::<StatefulSet>().get("web").await.unwrap()
}

fn events(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("an NDJSON line"))
        .collect()
}

async fn assert_swapped_and_kept(
    env: &Env,
    old: &StatefulSet,
    pods: &BTreeMap<String, (String, String)>,
    claims: &BTreeMap<String, String>,
) {
    let new = env.api::<StatefulSet>().get("web").await.unwrap();
    assert_ne!(new.uid(), old.uid(), "re-created");
    assert_eq!(template_size(&new, "data"), "2Gi");
    assert_eq!(template_size(&new, "logs"), "1Gi", "only the resized template changes");
    assert_eq!(new.spec.as_ref().unwrap().template, old.spec.as_ref().unwrap().template);
    assert_eq!(&pod_marks(env).await, pods, "every pod keeps its uid and revision");
    assert_eq!(&claim_uids(env).await, claims, "every PVC keeps its uid; none lost");
    for o in 0..4 {
        assert_eq!(capacity(env, &format!("data-web-{o}")).await, "2Gi", "data-web-{o}");
        assert_eq!(capacity(env, &format!("logs-web-{o}")).await, "1Gi");
    }
    // whenDeleted: Delete: every claim is owned by the new StatefulSet again: the live ones by
    // the controller, the scaled-down ordinal 3's by the swap.
    for o in 0..4 {
        let pvc = env.api::<PersistentVolumeClaim>().get(&format!("data-web-{o}")).await.unwrap();
        let owners = pvc.owner_references();
        assert!(owners.iter().any(|r| Some(&r.uid) == new.uid().as_ref()), "data-web-{o}: {owners:?}");
    }
    let journals: Api<ConfigMap> = env.api();
    assert!(journals.get_opt("kubectl-stateful-resize-web").await.unwrap().is_none(), "journal removed");
}

#[tokio::test]
async fn grows_every_claim_orphan_included_and_swaps_the_set_keeping_every_uid_with_when_deleted_delete() {
    let env = Env::new("resize-grow").await;
    let old = web_with_an_orphan(&env, None).await;
    let pods = pod_marks(&env).await;
    let claims = claim_uids(&env).await;
    assert_eq!(claims.len(), 8);

    let output = env
        .plugin()
        .args(["pvc", "resize", "web", "--size", "data=2Gi", "--yes", "-o", "json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events(&output.stdout);
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"plan"));
    assert_eq!(kinds.last(), Some(&"finished"));
    assert!(events.iter().all(|e| e["kind"] == "ResizeEvent" && e["schemaVersion"] == "v3"));
    // The canary is the highest ordinal's claim: the one a scale-down left behind.
    assert_eq!(events[1]["event"], "claimPatched");
    assert_eq!(events[1]["claim"], "data-web-3");
    let plan = &events[0]["plan"];
    assert_eq!(plan["retention"]["whenDeleted"], "Delete");
    assert_eq!(plan["claims"].as_array().unwrap().len(), 4);

    assert_swapped_and_kept(&env, &old, &pods, &claims).await;

    // A later scale-up: a new claim is made at the new size, the orphan comes back grown.
    env.scale("web", 5).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    assert_eq!(request(&env, "data-web-4").await, "2Gi");
    assert_eq!(capacity(&env, "data-web-3").await, "2Gi");
    assert_eq!(claim_uids(&env).await["data-web-3"], claims["data-web-3"], "the orphan claim was reused");
}

#[tokio::test]
async fn sigkill_right_after_the_orphan_delete_then_the_same_command_finishes() {
    let env = Env::new("resize-sigkill").await;
    let old = web_with_an_orphan(&env, None).await;
    let pods = pod_marks(&env).await;
    let claims = claim_uids(&env).await;
    let args = ["pvc", "resize", "web", "--size", "data=2Gi", "--yes", "-o", "json"];
    let mut child = env.spawn_plugin(&args).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.contains("\"statefulSetDeleted\"") {
            child.start_kill().unwrap(); // SIGKILL
            break;
        }
    }
    child.wait().await.unwrap();
    // Killed in the gap: the journal is there, and no StatefulSet but the old one, going.
    let journals: Api<ConfigMap> = env.api();
    assert!(journals.get_opt("kubectl-stateful-resize-web").await.unwrap().is_some());
    let now = env.api::<StatefulSet>().get_opt("web").await.unwrap();
    assert!(now.as_ref().is_none_or(|s| s.uid() == old.uid()), "killed before the re-create");

    let output = env.plugin().args(args).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("resuming the swap of web recorded in ConfigMap kubectl-stateful-resize-web"),
        "{stderr}"
    );
    assert_swapped_and_kept(&env, &old, &pods, &claims).await;
}

/// A run refused with one line on stderr, nothing on stdout and nothing changed.
pub(crate) async fn assert_refused(env: &Env, args: &[&str], code: i32, expected: &str) {
    let before_sts = env.api::<StatefulSet>().get("web").await.unwrap();
    // What this tool would write: each claim's request, and its field manager (the controller
    // itself updates claims' status, e.g. 1.37's Unused condition, so resourceVersions move).
    let written = |c: &PersistentVolumeClaim| {
        let ours = c.managed_fields().iter().any(|m| m.manager.as_deref() == Some("kubectl-stateful"));
        let request =
            storage(c.spec.as_ref().and_then(|s| s.resources.as_ref()).and_then(|r| r.requests.as_ref()));
        (c.name_any(), c.uid().unwrap(), request, ours)
    };
    let before: Vec<_> = env.pvcs().await.iter().map(written).collect();
    let output = env.plugin().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    assert!(output.stdout.is_empty(), "{}", String::from_utf8_lossy(&output.stdout));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(expected), "{stderr}");
    let after: Vec<_> = env.pvcs().await.iter().map(written).collect();
    assert_eq!(before, after, "no claim changed");
    let after_sts = env.api::<StatefulSet>().get("web").await.unwrap();
    assert_eq!(after_sts.uid(), before_sts.uid());
    assert_eq!(after_sts.metadata.generation, before_sts.metadata.generation);
}

#[tokio::test]
async fn a_class_without_expansion_a_shrink_and_an_equal_size_are_refused_with_nothing_changed() {
    let env = Env::new("resize-refused").await;
    web_with_an_orphan(&env, Some("kwok-volume-fixed")).await;
    assert_refused(
        &env,
        &["pvc", "resize", "web", "--size", "data=2Gi", "--yes"],
        1,
        "StorageClass kwok-volume-fixed does not allow volume expansion",
    )
    .await;
    assert_refused(
        &env,
        &["pvc", "resize", "web", "--size", "data=512Mi", "--yes"],
        2,
        "cannot shrink data from 1Gi to 512Mi",
    )
    .await;
    assert_refused(
        &env,
        &["pvc", "resize", "web", "--size", "logs=1024Mi", "--yes"],
        2,
        "logs already requests 1Gi",
    )
    .await;
    assert_refused(
        &env,
        &["pvc", "resize", "web", "--size", "cache=2Gi", "--yes"],
        2,
        "web has no volumeClaimTemplate cache",
    )
    .await;
}

#[tokio::test]
async fn a_gitops_owned_set_is_refused() {
    let env = Env::new("resize-gitops").await;
    web_with_an_orphan(&env, None).await;
    let tracking = format!("shop:apps/StatefulSet:{}/web", env.ns);
    env.patch_sts("web", json!({"metadata": {"annotations": {"argocd.argoproj.io/tracking-id": tracking}}}))
        .await;
    assert_refused(
        &env,
        &["pvc", "resize", "web", "--size", "data=2Gi", "--yes"],
        1,
        "Argo CD application shop applies web",
    )
    .await;
}

/// A Helm release hears Helm's truth, not a sync's: nothing re-creates the set during the swap,
/// but the release's next upgrade with its old values fails. Overridden, the resize goes
/// through, and an apply of the old template as helm applies it (server-side, manager helm)
/// is refused by the API server, as the refusal said.
#[tokio::test]
async fn a_helm_owned_set_hears_that_its_next_upgrade_with_old_values_fails() {
    let env = Env::new("resize-helm").await;
    web_with_an_orphan(&env, None).await;
    let release = json!({"meta.helm.sh/release-name": "db", "meta.helm.sh/release-namespace": env.ns});
    env.patch_sts("web", json!({"metadata": {"annotations": release}})).await;
    assert_refused(
        &env,
        &["pvc", "resize", "web", "--size", "data=2Gi", "--yes"],
        1,
        &format!(
            "Helm release {}/db applies web: nothing re-creates it during the swap, but the release's next helm \
             upgrade with the values it has now fails",
            env.ns
        ),
    )
    .await;
    let output = env
        .plugin()
        .args(["pvc", "resize", "web", "--size", "data=2Gi", "--override-owner", "--yes"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("its next helm upgrade fails until the release's values carry the new size"),
        "{stderr}"
    );
    // The release's old values: the template as it was, applied as helm applies it.
    let mut spec = Sts::new("web", 3);
    spec.templates = vec!["data".into(), "logs".into()];
    let mut old = spec.manifest();
    old["metadata"]["annotations"] = release;
    old["spec"]["persistentVolumeClaimRetentionPolicy"] =
        json!({"whenDeleted": "Delete", "whenScaled": "Retain"});
    old["apiVersion"] = json!("apps/v1");
    old["kind"] = json!("StatefulSet");
    let mut child = std::process::Command::new("kubectl")
        .env("KUBECONFIG", &env.kubeconfig)
        .args([
            "apply",
            "-n",
            &env.ns,
            "--server-side",
            "--force-conflicts",
            "--field-manager",
            "helm",
            "-f",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), old.to_string().as_bytes()).unwrap();
    let upgrade = child.wait_with_output().unwrap();
    let error = String::from_utf8_lossy(&upgrade.stderr);
    // 1.37: spec.volumeClaimTemplates, field is immutable; 1.34: updates to statefulset spec for
    // fields other than … are forbidden.
    assert!(
        !upgrade.status.success()
            && (error.contains("volumeClaimTemplates: Invalid value") && error.contains("immutable")
                || error.contains("spec: Forbidden: updates to statefulset spec")),
        "the old values must fail: {error}"
    );
    assert_eq!(template_size(&env.api::<StatefulSet>().get("web").await.unwrap(), "data"), "2Gi");
}

#[tokio::test]
async fn an_offline_class_shows_its_downtime_plan_and_the_way_it_prints_works() {
    let env = Env::new("resize-offline").await;
    let mut spec = Sts::new("web", 3);
    spec.storage_class = Some("kwok-volume-offline".into());
    env.statefulset(&spec).await;
    let plan = crate::support::json_of(
        &env.plugin()
            .args(["pvc", "resize", "web", "--size", "data=2Gi", "--dry-run", "-o", "json"])
            .output()
            .unwrap(),
    );
    assert_eq!(plan["kind"], "ResizePlan");
    assert!(plan["claims"].as_array().unwrap().iter().all(|c| c["expansion"] == "offline"));
    assert_eq!(
        plan["downtime"][0],
        "scale web from 3 to 0 replicas: web-2, web-1, web-0 stop, in that order (all pods of downtime for them)"
    );
    let output = env.plugin().args(["pvc", "resize", "web", "--size", "data=2Gi", "--yes"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("1. scale web from 3 to 0 replicas: web-2, web-1, web-0 stop"), "{stderr}");
    let expected = format!(
        "`kubectl -n {ns} scale statefulset web --replicas 0`, run this command again (it grows the claims and swaps \
         the StatefulSet), then `kubectl -n {ns} scale statefulset web --replicas 3`",
        ns = env.ns
    );
    assert!(stderr.contains(&expected), "{stderr}");
    // It takes no downtime on its own (docs/pvc-resize.md says why): no claim, no replica
    // count, no StatefulSet and no journal changed; every pod still runs.
    for o in 0..3 {
        assert_eq!(request(&env, &format!("data-web-{o}")).await, "1Gi", "nothing changed");
    }
    let sts = env.api::<StatefulSet>().get("web").await.unwrap();
    assert_eq!(sts.spec.as_ref().unwrap().replicas, Some(3));
    assert_eq!(sts.metadata.generation, Some(1));
    assert_eq!(env.pods().await.len(), 3);
    let journals: Api<ConfigMap> = env.api();
    assert!(journals.get_opt("kubectl-stateful-resize-web").await.unwrap().is_none());

    // The way out it prints, followed as printed.
    env.scale("web", 0).await;
    wait_until(Duration::from_secs(60), || async { env.pods().await.is_empty() }).await;
    // Until the controller has recorded the scale, the plugin says "mid-scale" (true, and
    // tested with the other refusals' rules in core::resize).
    env.wait_ready("web", Duration::from_secs(60)).await;
    let output = env.plugin().args(["pvc", "resize", "web", "--size", "data=2Gi", "--yes"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("its filesystem grows to 2Gi when a pod next mounts it"), "{stderr}");
    env.scale("web", 3).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    for o in 0..3 {
        let claim = format!("data-web-{o}");
        wait_until(Duration::from_secs(30), || async { capacity(&env, &claim).await == "2Gi" }).await;
    }
    assert_eq!(template_size(&env.api::<StatefulSet>().get("web").await.unwrap(), "data"), "2Gi");
}

#[tokio::test]
async fn a_failed_expansion_exits_3_with_a_recovery_hint_that_works() {
    let env = Env::new("resize-failed").await;
    let old = web_with_an_orphan(&env, None).await;
    let claims: Api<PersistentVolumeClaim> = env.api();
    claims
        .patch(
            "data-web-1",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"kubectl-stateful.test/resize": "max=1536Mi"}}}),
            ),
        )
        .await
        .unwrap();
    let args = ["pvc", "resize", "web", "--size", "data=2Gi", "--yes", "-o", "json"];
    let output = env.plugin().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let error = stderr.lines().last().unwrap();
    // -o json: the events end with the error, as stderr says it, and its exit code.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!((last["event"].as_str(), last["exitCode"].as_u64()), (Some("error"), Some(3)), "{stdout}");
    assert_eq!(format!("error: {}", last["error"].as_str().unwrap()), error);
    assert!(
        error.starts_with("error: PVC data-web-1 failed to grow to 2Gi (ControllerResizeError: "),
        "{error}"
    );
    assert!(error.contains("the StatefulSet is unchanged"), "{error}");
    let hint = format!(
        "to give up, lower its request to a size above its capacity 1Gi that the driver can provide (the API server \
         refuses 1Gi itself): `kubectl -n {} patch pvc data-web-1 -p",
        env.ns
    );
    assert!(error.contains(&hint), "{error}");
    let sts = env.api::<StatefulSet>().get("web").await.unwrap();
    assert_eq!(sts.uid(), old.uid());
    assert_eq!(template_size(&sts, "data"), "1Gi");

    // The hint, followed: 1Gi itself is refused by the API server, a size the driver can give works.
    let refused = claims
        .patch(
            "data-web-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"resources": {"requests": {"storage": "1Gi"}}}})),
        )
        .await;
    assert!(refused.is_err(), "the API server refuses the capacity itself");
    claims
        .patch(
            "data-web-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"resources": {"requests": {"storage": "1536Mi"}}}})),
        )
        .await
        .unwrap();
    wait_until(Duration::from_secs(30), || async { capacity(&env, "data-web-1").await == "1536Mi" }).await;
    let pvc = claims.get("data-web-1").await.unwrap();
    assert!(pvc.status.as_ref().unwrap().allocated_resource_statuses.is_none(), "the failure is cleared");
}

#[tokio::test]
async fn a_filesystem_that_grows_at_mount_restarts_only_its_pod() {
    let env = Env::new("resize-at-mount").await;
    let old = web_with_an_orphan(&env, None).await;
    let claims: Api<PersistentVolumeClaim> = env.api();
    claims
        .patch(
            "data-web-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"kubectl-stateful.test/resize": "at-mount"}}})),
        )
        .await
        .unwrap();
    let mut pods = pod_marks(&env).await;
    // The kubelet is waited for first (the class expands online), here for --timeout at most:
    // kwok-resizer's at-mount claim grows only when its pod is re-created.
    let output = env
        .plugin()
        .args(["pvc", "resize", "web", "--size", "data=2Gi", "--yes", "--timeout", "30s"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "waiting up to 30s for the kubelet to grow them online, before restarting any pod: data-web-1"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("pod web-1 restarted and Ready"), "{stderr}");
    // The wait says what it waits for and since when (issue #31 item 4): in a pipe, one line
    // per change of its state, not one a second.
    let progress: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("waiting for the kubelet to grow the filesystems online: 0 of 1 grown ("))
        .collect();
    assert_eq!(progress.len(), 1, "{stderr}");
    assert!(progress[0].ends_with(" of at most 30s)"), "{stderr}");
    let after = pod_marks(&env).await;
    assert_ne!(after["web-1"].0, pods["web-1"].0, "web-1 was restarted");
    pods.insert("web-1".into(), after["web-1"].clone());
    assert_swapped_and_kept(&env, &old, &pods, &claim_uids(&env).await).await;
}

/// `status web -o json`, and the messages of its warnings with `code`.
fn status_of(env: &Env) -> Value {
    crate::support::json_of(&env.plugin().args(["status", "web", "-o", "json"]).output().unwrap())
}

fn warnings_of(status: &Value, code: &str) -> Vec<String> {
    let warnings = status["warnings"].as_array().unwrap();
    warnings.iter().filter(|w| w["code"] == code).map(|w| w["message"].as_str().unwrap().to_owned()).collect()
}

/// Every claim of the status document: the live ordinals', orphans and kept ones.
fn claims_of(status: &Value) -> Vec<Value> {
    let ordinals = status["ordinals"].as_array().unwrap().iter().flat_map(|o| o["pvcs"].as_array().unwrap());
    let orphans = status["orphanedPvcs"].as_array().unwrap().iter();
    ordinals.chain(orphans).cloned().collect()
}

fn claim_in<'a>(claims: &'a [Value], name: &str) -> &'a Value {
    claims.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("{name} in {claims:?}"))
}

async fn patch_claim(env: &Env, claim: &str, patch: Value) {
    let claims: Api<PersistentVolumeClaim> = env.api();
    claims.patch(claim, &PatchParams::default(), &Patch::Merge(patch)).await.unwrap();
}

async fn request_size(env: &Env, claim: &str, size: &str) {
    patch_claim(env, claim, json!({"spec": {"resources": {"requests": {"storage": size}}}})).await;
}

/// The claim's condition `kind` is True.
async fn wait_condition(env: &Env, claim: &str, kind: &str) {
    wait_until(Duration::from_secs(30), || async {
        let pvc = env.api::<PersistentVolumeClaim>().get(claim).await.unwrap();
        let conditions = pvc.status.and_then(|s| s.conditions).unwrap_or_default();
        conditions.iter().any(|c| c.type_ == kind && c.status == "True")
    })
    .await;
}

/// The blog recipe half done (the trap): the StatefulSet re-created with a 2Gi `data`
/// template, the claims left at 1Gi. `status` flags each, `pvc resize --size data=2Gi` refuses
/// (the template asks for 2Gi already), and the patch each warning prints, run as printed,
/// grows that claim.
#[tokio::test]
async fn status_flags_claims_smaller_than_their_template_and_the_patch_it_prints_grows_them() {
    let env = Env::new("resize-status-small").await;
    web_with_an_orphan(&env, None).await;
    let sets: Api<StatefulSet> = env.api();
    let orphan = kube::api::DeleteParams {
        propagation_policy: Some(kube::api::PropagationPolicy::Orphan),
        ..Default::default()
    };
    sets.delete("web", &orphan).await.unwrap();
    wait_until(Duration::from_secs(60), || async { sets.get_opt("web").await.unwrap().is_none() }).await;
    let mut spec = Sts::new("web", 3);
    spec.templates = vec!["data".into(), "logs".into()];
    let mut manifest = spec.manifest();
    manifest["spec"]["persistentVolumeClaimRetentionPolicy"] =
        json!({"whenDeleted": "Delete", "whenScaled": "Retain"});
    manifest["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
    env.create::<StatefulSet>(manifest).await;
    env.wait_ready("web", Duration::from_secs(60)).await;

    let status = status_of(&env);
    let claims = claims_of(&status);
    for o in 0..4 {
        let data = claim_in(&claims, &format!("data-web-{o}"));
        assert_eq!(
            (&data["capacity"], &data["request"], &data["templateRequest"], &data["smallerThanTemplate"]),
            (&json!("1Gi"), &json!("1Gi"), &json!("2Gi"), &json!(true)),
            "{data}"
        );
        assert_eq!(claim_in(&claims, &format!("logs-web-{o}"))["smallerThanTemplate"], false);
    }
    let warnings = warnings_of(&status, "PvcSmallerThanTemplate");
    assert_eq!(warnings.len(), 4, "{warnings:?}");
    assert!(
        warnings.iter().all(|w| w.contains("its StorageClass kwok-volume expands online")),
        "{warnings:?}"
    );
    assert!(
        warnings[3].contains("a scale-up that includes ordinal 3 re-attaches it at 1Gi"),
        "{}",
        warnings[3]
    );
    let table = env.plugin().args(["status", "web"]).output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.lines().any(|l| l.starts_with("0 ") && l.contains(" 1Gi (template 2Gi) ")), "{table}");
    let wide = env.plugin().args(["status", "web", "-o", "wide"]).output().unwrap();
    let wide = String::from_utf8_lossy(&wide.stdout);
    assert!(wide.contains("data-web-0 Bound 1Gi (template 2Gi)"), "{wide}");

    // The claim's patch, as printed, grows that claim.
    let printed = crate::support::commands(&warnings[0]);
    assert_eq!(printed.len(), 1, "{}", warnings[0]);
    crate::support::run_printed(&env, printed[0]);
    wait_until(Duration::from_secs(30), || async { capacity(&env, "data-web-0").await == "2Gi" }).await;
    // `pvc resize` to the template's own size grows every claim still smaller (#28 kind 5: it
    // said "nothing to resize"), without re-creating the set.
    let before = sets.get("web").await.unwrap();
    let grown = env.plugin().args(["pvc", "resize", "web", "--size", "data=2Gi", "--yes"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&grown.stderr);
    assert!(grown.status.success(), "{stderr}");
    assert!(stderr.contains("web already asked for that size, so it was not re-created"), "{stderr}");
    assert_eq!(sets.get("web").await.unwrap().uid(), before.uid(), "not swapped");
    // Now nothing is left: the same command is a usage error with nothing changed.
    let again = env.plugin().args(["pvc", "resize", "web", "--size", "data=2Gi", "--yes"]).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("and so does every claim of it"));
    for o in 0..4 {
        let claim = format!("data-web-{o}");
        wait_until(Duration::from_secs(30), || async { capacity(&env, &claim).await == "2Gi" }).await;
    }
    let status = status_of(&env);
    assert_eq!(warnings_of(&status, "PvcSmallerThanTemplate"), Vec::<String>::new());
    assert!(claims_of(&status).iter().all(|c| c["smallerThanTemplate"] == false && c["resize"].is_null()));
}

/// A failed expansion started by hand: `status` shows the condition and the resizer's status,
/// and the recovery it prints (a size above the capacity) clears it.
#[tokio::test]
async fn status_shows_a_failed_expansion_and_the_recovery_it_prints_clears_it() {
    let env = Env::new("resize-status-failed").await;
    web_with_an_orphan(&env, None).await;
    patch_claim(
        &env,
        "data-web-1",
        json!({"metadata": {"annotations": {"kubectl-stateful.test/resize": "max=1536Mi"}}}),
    )
    .await;
    request_size(&env, "data-web-1", "2Gi").await;
    wait_condition(&env, "data-web-1", "ControllerResizeError").await;
    let status = status_of(&env);
    let claim = claim_in(&claims_of(&status), "data-web-1").clone();
    assert_eq!((&claim["capacity"], &claim["request"]), (&json!("1Gi"), &json!("2Gi")));
    assert_eq!(claim["resize"]["condition"], "ControllerResizeError");
    assert_eq!(claim["resize"]["allocatedResourceStatus"], "ControllerResizeInfeasible");
    assert_eq!(claim["smallerThanTemplate"], false, "the template still asks for 1Gi");
    let failed = warnings_of(&status, "PvcResizeFailed");
    assert_eq!(failed.len(), 1, "{:?}", status["warnings"]);
    assert!(
        failed[0].starts_with("PVC data-web-1 cannot grow to 2Gi (ControllerResizeError: ")
            && failed[0].contains("lower its request to a size above its capacity 1Gi"),
        "{}",
        failed[0]
    );
    let table = env.plugin().args(["status", "web"]).output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains(" 1Gi->2Gi ControllerResizeError"), "{table}");
    let wide = env.plugin().args(["status", "web", "-o", "wide"]).output().unwrap();
    let wide = String::from_utf8_lossy(&wide.stdout);
    assert!(wide.contains("data-web-1 Bound 1Gi (requests 2Gi, ControllerResizeError)"), "{wide}");

    // The printed patch with SIZE filled in as it says: above 1Gi, and what the driver can give.
    let patch = crate::support::commands(&failed[0])[0].replace("SIZE", "1536Mi");
    crate::support::run_printed(&env, &patch);
    wait_until(Duration::from_secs(30), || async { capacity(&env, "data-web-1").await == "1536Mi" }).await;
    let status = status_of(&env);
    assert_eq!(warnings_of(&status, "PvcResizeFailed"), Vec::<String>::new());
    assert!(claim_in(&claims_of(&status), "data-web-1")["resize"].is_null());
}

/// A filesystem that grows at mount: `status` names the pod, and the delete it prints finishes it.
#[tokio::test]
async fn status_says_which_pod_restart_finishes_a_filesystem_resize_and_that_restart_does() {
    let env = Env::new("resize-status-fs").await;
    web_with_an_orphan(&env, None).await;
    patch_claim(
        &env,
        "data-web-1",
        json!({"metadata": {"annotations": {"kubectl-stateful.test/resize": "at-mount"}}}),
    )
    .await;
    request_size(&env, "data-web-1", "2Gi").await;
    wait_condition(&env, "data-web-1", "FileSystemResizePending").await;
    let status = status_of(&env);
    assert_eq!(claim_in(&claims_of(&status), "data-web-1")["resize"]["condition"], "FileSystemResizePending");
    let pending = warnings_of(&status, "PvcFilesystemResizePending");
    assert_eq!(pending.len(), 1, "{:?}", status["warnings"]);
    let printed = crate::support::commands(&pending[0]);
    assert_eq!(printed, [format!("kubectl -n {} delete pod web-1", env.ns)]);
    crate::support::run_printed(&env, printed[0]);
    wait_until(Duration::from_secs(60), || async { capacity(&env, "data-web-1").await == "2Gi" }).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    let status = status_of(&env);
    assert_eq!(warnings_of(&status, "PvcFilesystemResizePending"), Vec::<String>::new());
}

/// An offline-only class refuses while the pod runs and retries: `status` says so and which
/// scale-down lets it grow; that scale-down, then back, grows it.
#[tokio::test]
async fn status_says_an_offline_expansion_waits_for_its_pod_and_the_scale_down_it_prints_lets_it_grow() {
    let env = Env::new("resize-status-offline").await;
    let mut spec = Sts::new("web", 2);
    spec.storage_class = Some("kwok-volume-offline".into());
    env.statefulset(&spec).await;
    request_size(&env, "data-web-1", "2Gi").await;
    wait_condition(&env, "data-web-1", "ControllerResizeError").await;
    let status = status_of(&env);
    let retrying = warnings_of(&status, "PvcResizeRetrying");
    assert_eq!(retrying.len(), 1, "{:?}", status["warnings"]);
    assert!(
        retrying[0].contains(
            "its StorageClass kwok-volume-offline expands offline only, so it grows once no pod uses it"
        ),
        "{}",
        retrying[0]
    );
    let printed = crate::support::commands(&retrying[0]);
    assert_eq!(printed, [format!("kubectl -n {} scale statefulset web --replicas 1", env.ns)]);
    crate::support::run_printed(&env, printed[0]);
    wait_until(Duration::from_secs(60), || async { env.pods().await.len() == 1 }).await;
    // The controller side expands once no pod uses it; the rest waits for the next mount.
    wait_until(Duration::from_secs(30), || async {
        let pvc = env.api::<PersistentVolumeClaim>().get("data-web-1").await.unwrap();
        let status = pvc.status.unwrap_or_default();
        let pending =
            status.conditions.unwrap_or_default().iter().any(|c| c.type_ == "FileSystemResizePending");
        pending || storage(status.capacity.as_ref()) == "2Gi"
    })
    .await;
    let status = status_of(&env);
    assert_eq!(warnings_of(&status, "PvcResizeRetrying"), Vec::<String>::new());
    assert!(
        warnings_of(&status, "PvcFilesystemResizePending").is_empty(),
        "no pod mounts it: nothing to do yet"
    );
    env.scale("web", 2).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    wait_until(Duration::from_secs(30), || async { capacity(&env, "data-web-1").await == "2Gi" }).await;
}

/// A pod restarted for its filesystem goes only while its budget allows it: with a budget at 0
/// the run stops (exit 3, the StatefulSet unchanged) naming the budget and the command that goes
/// on, which, pasted at a terminal once the budget is gone, restarts the pod and finishes.
#[tokio::test]
async fn a_restart_for_a_filesystem_waits_for_its_budget_and_the_printed_command_finishes() {
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    let env = Env::new("resize-budget").await;
    let old = web_with_an_orphan(&env, None).await;
    patch_claim(
        &env,
        "data-web-1",
        json!({"metadata": {"annotations": {"kubectl-stateful.test/resize": "at-mount"}}}),
    )
    .await;
    env.create::<PodDisruptionBudget>(json!({
        "metadata": {"name": "web"},
        "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "web"}}}
    }))
    .await;
    wait_until(Duration::from_secs(30), || async {
        let pdb = env.api::<PodDisruptionBudget>().get("web").await.unwrap();
        pdb.status.is_some_and(|s| s.expected_pods == 3 && s.observed_generation == Some(1))
    })
    .await;
    let mut pods = pod_marks(&env).await;
    let output = env
        .plugin_with_flags()
        .args(["pvc", "resize", "web", "--size", "data=2Gi", "--yes", "--timeout", "10s", "-o", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("pod web-1 waits for its restart: PodDisruptionBudget web allows 0 disruptions"),
        "{stderr}"
    );
    let lines = events(&output.stdout);
    assert!(lines.iter().all(|l| l["kind"] == "ResizeEvent" && l["schemaVersion"] == "v3"), "{lines:?}");
    let held: Vec<&Value> = lines.iter().filter(|l| l["event"] == "restartHeld").collect();
    assert_eq!(held.len(), 1, "{lines:?}");
    assert_eq!(held[0]["pod"], "web-1");
    // Typed: the budget that refused, with its numbers, not prose.
    assert_eq!(held[0]["hold"]["kind"], "evictionRefused", "{lines:?}");
    assert_eq!(held[0]["hold"]["budgets"][0]["name"], "web", "{lines:?}");
    assert_eq!(held[0]["hold"]["budgets"][0]["disruptionsAllowed"], 0, "{lines:?}");
    assert!(
        lines.iter().any(|l| l["event"] == "kubeletWait" && l["claims"] == json!(["data-web-1"])),
        "{lines:?}"
    );
    assert_eq!(pod_marks(&env).await, pods, "no pod was restarted");
    assert_eq!(env.api::<StatefulSet>().get("web").await.unwrap().uid(), old.uid(), "the set is unchanged");

    let line =
        stderr.lines().find(|l| l.contains("could not be restarted")).unwrap_or_else(|| panic!("{stderr}"));
    let printed =
        crate::support::commands(line).into_iter().find(|c| c.contains("pvc resize")).unwrap().to_owned();
    assert!(printed.contains("--timeout 10s"), "the same command: {printed}");
    env.api::<PodDisruptionBudget>().delete("web", &Default::default()).await.unwrap();
    let pasted = crate::support::as_printed(&printed);
    let (transcript, code) = tokio::task::spawn_blocking(move || {
        crate::advice::on_terminal(pasted, &[("re-create the StatefulSet", "y"), ("Restart web-1", "y")])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{printed}: {transcript}");
    assert!(transcript.contains("pod web-1 restarted and Ready"), "{transcript}");
    let after = pod_marks(&env).await;
    assert_ne!(after["web-1"].0, pods["web-1"].0, "web-1 was restarted");
    pods.insert("web-1".into(), after["web-1"].clone());
    assert_swapped_and_kept(&env, &old, &pods, &claim_uids(&env).await).await;
}
