//! `kubectl stateful pvc prune --snapshot` and `pvc restore` against the real StatefulSet
//! controller and PV binder, with the VolumeSnapshot CRDs of external-snapshotter and
//! kwok-snapshotter standing in for the snapshot-controller and the CSI driver.

use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

use crate::support::{
    Env, Sts, client, commands, json_of, namespaced_user, run_as_printed, user_with_rules, wait_until,
};

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("snapshot.storage.k8s.io", "v1", kind), plural)
}

async fn snapshot(env: &Env, name: &str) -> Value {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client().await, &env.ns, &resource("VolumeSnapshot", "volumesnapshots"));
    serde_json::to_value(api.get(name).await.unwrap()).unwrap()
}

async fn snapshot_count(env: &Env) -> usize {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client().await, &env.ns, &resource("VolumeSnapshot", "volumesnapshots"));
    api.list(&Default::default()).await.unwrap().items.len()
}

async fn content(name: &str) -> Value {
    let api: Api<DynamicObject> =
        Api::all_with(client().await, &resource("VolumeSnapshotContent", "volumesnapshotcontents"));
    serde_json::to_value(api.get(name).await.unwrap()).unwrap()
}

async fn scaled(env: &Env, name: &str, replicas: i32) {
    env.scale(name, replicas).await;
    env.wait_ready(name, Duration::from_secs(60)).await;
}

#[tokio::test]
async fn prune_snapshots_first_and_a_restored_claim_is_adopted_on_scale_up() {
    let env = Env::new("snap-prune").await;
    env.statefulset(&Sts::new("web", 4)).await;
    scaled(&env, "web", 2).await;

    let output =
        env.plugin().args(["pvc", "prune", "web", "--snapshot", "--yes", "-o", "json"]).output().unwrap();
    let result = json_of(&output);
    assert_eq!(result["kind"], "PruneResult");
    let taken = result["snapshots"].as_array().unwrap();
    assert_eq!(taken.len(), 2, "{result}");
    for (taken, claim) in taken.iter().zip(["data-web-2", "data-web-3"]) {
        assert_eq!(taken["claim"], claim);
        let name = taken["name"].as_str().unwrap();
        assert!(name.starts_with(&format!("{claim}-")), "{name}");
        let vs = snapshot(&env, name).await;
        assert_eq!(vs["status"]["readyToUse"], true, "{vs}");
        assert_eq!(vs["spec"]["source"]["persistentVolumeClaimName"], claim);
        assert_eq!(vs["metadata"]["labels"]["app"], "web", "labelled with the set's selector");
        assert_eq!(vs["metadata"]["labels"]["kubectl-stateful.dev/statefulset"], "web");
        let bound = vs["status"]["boundVolumeSnapshotContentName"].as_str().unwrap();
        assert_eq!(taken["content"], bound);
        let vsc = content(bound).await;
        assert_eq!(vsc["spec"]["deletionPolicy"], "Retain", "the class says Delete: the run switched it");
        assert_eq!(taken["retainedByRun"], true);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("deletionPolicy Delete -> Retain"), "{stderr}");
    // Gone, not just deleting: a claim's pvc-protection finalizer holds its name until the
    // scaled-away pod is gone, and a restore refuses a name still held.
    wait_until(Duration::from_secs(30), || async {
        env.pvcs().await.iter().map(ResourceExt::name_any).collect::<Vec<_>>() == ["data-web-0", "data-web-1"]
    })
    .await;

    // Restore ordinal 3 from its snapshot; a scale-up adopts it.
    let from = taken[1]["name"].as_str().unwrap().to_owned();
    let restored = json_of(
        &env.plugin()
            .args(["pvc", "restore", "web", "--ordinal", "3", "--from", &from, "-o", "json"])
            .output()
            .unwrap(),
    );
    assert_eq!(restored["kind"], "PvcRestore");
    assert_eq!(restored["name"], "data-web-3");
    assert_eq!(restored["created"], true);
    let claims: Api<PersistentVolumeClaim> = env.api();
    let claim = claims.get("data-web-3").await.unwrap();
    let uid = claim.metadata.uid.clone().unwrap();
    let source = claim.spec.as_ref().unwrap().data_source_ref.clone().unwrap();
    assert_eq!((source.kind.as_str(), source.name.as_str()), ("VolumeSnapshot", from.as_str()));
    assert_eq!(source.api_group.as_deref(), Some("snapshot.storage.k8s.io"));
    // Restored for the next scale-up: not an orphan to prune (#28 kind 5).
    let plan = json_of(&env.plugin().args(["pvc", "prune", "web", "-o", "json"]).output().unwrap());
    let restored_candidate =
        plan["candidates"].as_array().unwrap().iter().find(|c| c["name"] == "data-web-3").unwrap().clone();
    assert_eq!(restored_candidate["verdict"], "keep", "{plan}");
    assert!(
        restored_candidate["reason"].as_str().unwrap().starts_with("restored from VolumeSnapshot"),
        "{plan}"
    );
    let status = json_of(&env.plugin().args(["status", "web", "-o", "json"]).output().unwrap());
    assert!(
        status["orphanedPvcs"].as_array().unwrap().iter().all(|c| c["name"] != "data-web-3"),
        "{}",
        status["orphanedPvcs"]
    );
    let output = env.plugin().args(["pvc", "prune", "web", "--yes"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(claims.get("data-web-3").await.unwrap().metadata.uid.as_deref(), Some(uid.as_str()), "kept");

    scaled(&env, "web", 4).await;
    let pods: Api<Pod> = env.api();
    let web3 = pods.get("web-3").await.unwrap();
    let mounted: Vec<String> = web3
        .spec
        .unwrap()
        .volumes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| Some(v.persistent_volume_claim?.claim_name))
        .collect();
    assert_eq!(mounted, ["data-web-3"]);
    let adopted = claims.get("data-web-3").await.unwrap();
    assert_eq!(
        adopted.metadata.uid.as_deref(),
        Some(uid.as_str()),
        "the restored claim itself, not a new one"
    );
    assert_eq!(adopted.status.unwrap().phase.as_deref(), Some("Bound"));

    // Restoring onto the claim that now exists is refused, and changes nothing.
    let again =
        env.plugin().args(["pvc", "restore", "web", "--ordinal", "3", "--from", &from]).output().unwrap();
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("PVC data-web-3 already exists"), "{stderr}");
    assert!(stderr.contains("nothing was created"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(claims.get("data-web-3").await.unwrap().metadata.uid.as_deref(), Some(uid.as_str()));
}

#[tokio::test]
async fn a_failed_snapshot_keeps_its_claim_and_exits_3() {
    let env = Env::new("snap-fail").await;
    env.statefulset(&Sts::new("web", 4)).await;
    scaled(&env, "web", 2).await;
    // The driver cannot snapshot data-web-2's volume (kwok-snapshotter's fault injection).
    let claims: Api<PersistentVolumeClaim> = env.api();
    claims
        .patch(
            "data-web-2",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"kubectl-stateful.test/snapshot": "fail"}}})),
        )
        .await
        .unwrap();

    let output = env
        .plugin()
        .args(["pvc", "prune", "web", "--snapshot", "--snapshot-timeout", "15s", "--yes", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["failed"][0]["name"], "data-web-2");
    let reason = result["failed"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("not ready within 15s"), "{reason}");
    assert!(
        reason.contains("injected by kubectl-stateful.test/snapshot=fail"),
        "the driver's error is named: {reason}"
    );
    assert_eq!(result["deleted"][0]["name"], "data-web-3", "the other claim's snapshot was fine");
    // The 15 s wait said where the snapshot stood, a line per change, in a pipe: once the
    // driver's error is there, with it.
    let said = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = said
        .lines()
        .filter(|l| {
            l.starts_with("waiting for VolumeSnapshot data-web-2-") && l.ends_with(" of at most 15s)")
        })
        .collect();
    assert!(lines.iter().any(|l| l.contains("(last error: ") && l.contains("injected by")), "{said}");
    wait_until(Duration::from_secs(30), || async {
        env.pvc_names().await == ["data-web-0", "data-web-1", "data-web-2"]
    })
    .await;
}

#[tokio::test]
async fn snapshot_is_refused_without_access_or_a_class_and_nothing_is_deleted() {
    let env = Env::new("snap-refused").await;
    env.statefulset(&Sts::new("web", 3)).await;
    env.statefulset(&Sts { storage_class: Some("kwok-volume-nosnap".to_owned()), ..Sts::new("db", 3) }).await;
    scaled(&env, "web", 1).await;
    scaled(&env, "db", 1).await;

    // No class for db's driver.
    let output = env.plugin().args(["pvc", "prune", "db", "--snapshot", "--yes"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "no VolumeSnapshotClass for driver kwok.x-k8s.io/volume-nosnap (the volume of data-db-1)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was deleted"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(output.stdout.is_empty(), "no plan printed for a refused run");

    // A person who may delete claims here but not use the snapshot API: refused before any
    // write. (A Role is namespaced: the cluster-scoped classes are out of reach too.)
    let user = user_with_rules(
        &env,
        "pruner",
        json!([
            {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["pods", "persistentvolumeclaims", "services"], "verbs": ["get", "list", "watch", "delete"]}
        ]),
    )
    .await;
    let output =
        env.plugin().args(["--as", &user, "pvc", "prune", "web", "--snapshot", "--yes"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("you may not list volumesnapshotclasses.snapshot.storage.k8s.io"), "{stderr}");
    assert!(stderr.contains("nothing was deleted"), "{stderr}");

    assert_eq!(
        env.pvc_names().await,
        ["data-db-0", "data-db-1", "data-db-2", "data-web-0", "data-web-1", "data-web-2"],
        "every claim is still there"
    );
    assert_eq!(snapshot_count(&env).await, 0, "and no snapshot was taken");
}

#[tokio::test]
async fn status_counts_snapshots_per_ordinal_and_of_pruned_claims() {
    let env = Env::new("snap-status").await;
    env.statefulset(&Sts::new("web", 4)).await;
    scaled(&env, "web", 2).await;
    let pruned =
        env.plugin().args(["pvc", "prune", "web", "--snapshot", "--yes", "-o", "json"]).output().unwrap();
    assert!(pruned.status.success(), "{}", String::from_utf8_lossy(&pruned.stderr));
    wait_until(Duration::from_secs(30), || async { env.pvc_names().await == ["data-web-0", "data-web-1"] })
        .await;
    // A snapshot of a live claim, taken by someone else (the default class).
    let api: Api<DynamicObject> =
        Api::namespaced_with(client().await, &env.ns, &resource("VolumeSnapshot", "volumesnapshots"));
    let live: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
        "metadata": {"name": "data-web-0-manual"},
        "spec": {"source": {"persistentVolumeClaimName": "data-web-0"}}
    }))
    .unwrap();
    api.create(&Default::default(), &live).await.unwrap();
    wait_until(Duration::from_secs(30), || async {
        snapshot(&env, "data-web-0-manual").await["status"]["readyToUse"] == true
    })
    .await;

    let status = json_of(&env.plugin().args(["status", "web", "-o", "json"]).output().unwrap());
    let ordinals = status["ordinals"].as_array().unwrap();
    assert_eq!(ordinals[0]["snapshots"]["count"], 1, "{status}");
    assert_eq!(ordinals[0]["snapshots"]["newest"]["name"], "data-web-0-manual");
    assert_eq!(ordinals[0]["snapshots"]["newest"]["readyToUse"], true);
    assert_eq!(ordinals[0]["pvcs"][0]["snapshots"]["count"], 1);
    assert_eq!(ordinals[1]["snapshots"]["count"], 0);
    let deleted = status["deletedClaimSnapshots"].as_array().unwrap();
    let counts: Vec<(&str, i64, i64)> = deleted
        .iter()
        .map(|d| {
            (
                d["claim"].as_str().unwrap(),
                d["ordinal"].as_i64().unwrap(),
                d["snapshots"]["ready"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [("data-web-2", 2, 1), ("data-web-3", 3, 1)], "{status}");
    assert_eq!(status["notes"], json!([]), "{status}");

    let wide = env.plugin().args(["status", "web", "-o", "wide"]).output().unwrap();
    assert!(wide.status.success());
    let wide = String::from_utf8_lossy(&wide.stdout);
    let header = wide.lines().find(|l| l.starts_with("ORDINAL   POD")).unwrap();
    assert!(header.ends_with("SNAPSHOTS"), "{wide}");
    let row0 = wide.lines().find(|l| l.starts_with("0 ")).unwrap();
    assert!(row0.contains("1 (newest ") && row0.ends_with(", ready)"), "{wide}");
    assert!(wide.contains("Snapshots of deleted PVCs"), "{wide}");
    assert!(
        wide.lines().any(|l| l.starts_with("3 ") && l.contains("data-web-3") && l.contains("1 (newest ")),
        "{wide}"
    );
    let table = env.plugin().args(["status", "web"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&table.stdout).contains("SNAPSHOTS"), "the default table is unchanged");

    // Without access to the snapshot API: a note, no failure, no snapshot fields.
    let user = namespaced_user(&env, "reader", json!([])).await;
    let output = env.plugin().args(["--as", &user, "status", "web", "-o", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["ordinals"][0]["snapshots"], Value::Null);
    assert_eq!(status["deletedClaimSnapshots"], Value::Null);
    let notes = status["notes"].to_string();
    assert!(notes.contains("VolumeSnapshots are not readable with these credentials"), "{notes}");
    let output = env.plugin().args(["--as", &user, "status", "web", "-o", "wide"]).output().unwrap();
    assert!(output.status.success());
    assert!(!String::from_utf8_lossy(&output.stdout).contains("SNAPSHOTS"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("VolumeSnapshots are not readable"), "{stderr}");
}

/// The advice of a restore onto a live ordinal's claim works as printed, ordinal 0 included: the
/// scale-down to 0 parks the set, so the printed prune must include a set scaled to 0.
#[tokio::test]
async fn restoring_ordinal_0_over_its_live_claim_follows_the_printed_advice() {
    let env = Env::new("snap-ordinal-0").await;
    env.statefulset(&Sts::new("web", 2)).await;
    scaled(&env, "web", 1).await;
    let pruned = json_of(
        &env.plugin().args(["pvc", "prune", "web", "--snapshot", "--yes", "-o", "json"]).output().unwrap(),
    );
    let from = pruned["snapshots"][0]["name"].as_str().unwrap().to_owned();
    wait_until(Duration::from_secs(30), || async {
        env.pvcs().await.iter().map(ResourceExt::name_any).collect::<Vec<_>>() == ["data-web-0"]
    })
    .await;
    let restore = ["pvc", "restore", "web", "--ordinal", "0", "--from", from.as_str()];
    let output = env.plugin_with_flags().args(restore).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("PVC data-web-0 already exists") && stderr.contains("ordinal 0 is live"),
        "{stderr}"
    );
    let printed = commands(&stderr);
    assert_eq!(printed.len(), 2, "{stderr}");
    assert!(printed[1].contains("--include-scaled-to-zero"), "{stderr}");
    // As a person would: scale, wait for the pod to go, prune, wait for the claim to go.
    run_as_printed(printed[0]);
    wait_until(Duration::from_secs(60), || async { env.pods().await.is_empty() }).await;
    // And, as a person would see in `status`, the controller has counted the scale-down: prune
    // keeps the claims of a set still scaling (under the whole suite's load that takes a while).
    env.wait_ready("web", Duration::from_secs(60)).await;
    run_as_printed(printed[1]);
    wait_until(Duration::from_secs(60), || async { env.pvcs().await.is_empty() }).await;
    let restored = json_of(&env.plugin().args(restore).args(["-o", "json"]).output().unwrap());
    assert_eq!((restored["name"].as_str(), restored["created"].as_bool()), (Some("data-web-0"), Some(true)));
    scaled(&env, "web", 1).await;
    let claims: Api<PersistentVolumeClaim> = env.api();
    let source = claims.get("data-web-0").await.unwrap().spec.unwrap().data_source_ref.unwrap();
    assert_eq!(source.name, from, "web-0 runs on the restored claim");
}

#[tokio::test]
async fn another_sets_snapshot_is_not_restored_silently_and_a_siblings_is_named() {
    let env = Env::new("snap-other").await;
    env.statefulset(&Sts::new("web", 2)).await;
    env.statefulset(&Sts::new("db", 2)).await;
    scaled(&env, "db", 1).await;
    scaled(&env, "web", 1).await;
    let pruned = |name: &str| {
        json_of(
            &env.plugin().args(["pvc", "prune", name, "--snapshot", "--yes", "-o", "json"]).output().unwrap(),
        )
    };
    let of_db = pruned("db")["snapshots"][0]["name"].as_str().unwrap().to_owned();
    let of_web = pruned("web")["snapshots"][0]["name"].as_str().unwrap().to_owned();
    wait_until(Duration::from_secs(30), || async {
        env.pvcs().await.iter().map(ResourceExt::name_any).collect::<Vec<_>>() == ["data-db-0", "data-web-0"]
    })
    .await;

    // db's data into web's ordinal 2: refused, one line, nothing created.
    let refused =
        env.plugin().args(["pvc", "restore", "web", "--ordinal", "2", "--from", &of_db]).output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!(
            "VolumeSnapshot {of_db} was taken of data-db-1 (StatefulSet db's, by its labels), not of a claim of \
             web's template data"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was created (pass --allow-other-source"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let claims: Api<PersistentVolumeClaim> = env.api();
    assert!(claims.get_opt("data-web-2").await.unwrap().is_none());

    // Asked for: the plan says whose data it is.
    let copy = env
        .plugin()
        .args([
            "pvc",
            "restore",
            "web",
            "--ordinal",
            "2",
            "--from",
            &of_db,
            "--allow-other-source",
            "--dry-run",
        ])
        .output()
        .unwrap();
    assert!(copy.status.success(), "{}", String::from_utf8_lossy(&copy.stderr));
    let stdout = String::from_utf8_lossy(&copy.stdout);
    assert!(stdout.contains(&format!("from volumesnapshot {of_db} of data-db-1 (")), "{stdout}");
    assert!(claims.get_opt("data-web-2").await.unwrap().is_none(), "a dry run creates nothing");

    // A sibling's data (web's ordinal 1 into ordinal 2) seeds a member: restored, and named.
    let sibling = json_of(
        &env.plugin()
            .args(["pvc", "restore", "web", "--ordinal", "2", "--from", &of_web, "-o", "json"])
            .output()
            .unwrap(),
    );
    assert_eq!(sibling["kind"], "PvcRestore");
    assert_eq!(sibling["schemaVersion"], "v3");
    assert_eq!(sibling["sourceClaim"], "data-web-1");
    assert_eq!(sibling["created"], true);
    assert!(claims.get_opt("data-web-2").await.unwrap().is_some());
}

/// Ctrl-C while `pvc prune --snapshot` waits for a snapshot the driver is still cutting
/// (kwok-snapshotter's `hold`): exit 130, the claim kept, nothing deleted, the snapshot left and
/// named with the commands that show and remove it, and the prune that goes on, which, run as
/// printed once the driver has cut it, finishes.
#[tokio::test]
async fn ctrl_c_during_a_snapshot_wait_keeps_the_claim_and_names_the_way_on() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let env = Env::new("snap-sigint").await;
    env.statefulset(&Sts::new("web", 3)).await;
    scaled(&env, "web", 2).await;
    let claims: Api<PersistentVolumeClaim> = env.api();
    let hold = |value: Value| json!({"metadata": {"annotations": {"kubectl-stateful.test/snapshot": value}}});
    claims.patch("data-web-2", &PatchParams::default(), &Patch::Merge(hold(json!("hold")))).await.unwrap();

    // With --kubeconfig and --context given, so that the printed commands carry them.
    let kubeconfig = env.kubeconfig.to_string_lossy().into_owned();
    let context = crate::support::current_context(&env.kubeconfig);
    let args =
        ["--kubeconfig", &kubeconfig, "--context", &context, "pvc", "prune", "web", "--snapshot", "--yes"];
    let mut child = env.spawn_plugin(&args).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut said = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            let waiting = line.contains("waiting up to");
            said.push(line);
            if waiting {
                break;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no snapshot wait: {said:?}"));
    // The driver holds it: still not ready a moment later.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.unwrap().unwrap();
    while let Some(line) = stderr.next_line().await.unwrap() {
        said.push(line);
    }
    let said = said.join("\n");
    assert_eq!(status.code(), Some(130), "{said}");
    let taken = said
        .lines()
        .find_map(|l| l.strip_prefix("volumesnapshot \"").and_then(|r| r.split('"').next()))
        .unwrap_or_else(|| panic!("{said}"))
        .to_owned();
    assert!(
        said.contains(&format!(
            "snapshot {taken} of PVC data-web-2 was not ready yet, so PVC data-web-2 is kept"
        )),
        "{said}"
    );
    assert_eq!(env.pvc_names().await, ["data-web-0", "data-web-1", "data-web-2"], "nothing deleted");
    // Left, and not ready: held by the stand-in, which may not have written a status yet
    // (`readyToUse` absent) when the run was interrupted.
    assert_ne!(snapshot(&env, &taken).await["status"]["readyToUse"], true, "the snapshot is left, not ready");
    let error =
        said.lines().find(|l| l.starts_with("error: interrupted")).unwrap_or_else(|| panic!("{said}"));
    let printed = commands(error);
    let describe = printed.iter().find(|c| c.contains("describe volumesnapshot")).expect("how to see it");
    assert!(run_as_printed(describe).contains(&taken));
    let again = printed.iter().find(|c| c.contains("pvc prune web")).expect("the way on");
    assert!(again.contains("--snapshot") && again.contains("--yes"), "{again}");

    // The driver cuts it now; the prune that goes on, as printed, takes a new snapshot and
    // deletes the claim; the one left by the interrupted run is the printed delete's to remove.
    claims.patch("data-web-2", &PatchParams::default(), &Patch::Merge(hold(Value::Null))).await.unwrap();
    let finished = run_as_printed(again);
    assert!(finished.contains("data-web-2"), "{finished}");
    wait_until(Duration::from_secs(30), || async { env.pvc_names().await == ["data-web-0", "data-web-1"] })
        .await;
    let remove = printed.iter().find(|c| c.contains("delete volumesnapshot")).expect("how to remove it");
    run_as_printed(remove);
    wait_until(Duration::from_secs(30), || async { snapshot_count(&env).await == 1 }).await;
}
