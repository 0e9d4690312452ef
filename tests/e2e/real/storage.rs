//! The storage commands proven with data on the storage tier of the real nodes: the reference
//! etcd set on StorageClass `real-csi` (tests/cluster/real/csi.yaml: the project's CSI driver
//! real-csi behind the upstream csi-provisioner, csi-resizer and csi-snapshotter; real kubelets
//! mount the volumes). `pvc resize` grows every member's filesystem online, `pvc prune
//! --snapshot` takes a point-in-time copy before deleting a claim, `pvc restore` brings a
//! member back on it, and a resize killed at each stage is finished by the same command.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{ELECTION, MEMBERS, events_of, named, run, uids};
use crate::etcd::{self, Etcd, QuorumWatch};
use crate::resize::{capacity, template_size};
use crate::support::{Env, wait_until};

const DRIVER: &str = "real-csi.kubectl-stateful.test";

/// The reference etcd set with its claims on `real-csi` (512Mi each), 3/3 Ready.
async fn deploy(env: &Env) -> Etcd<'_> {
    let manifest = std::fs::read_to_string(etcd::MANIFEST).unwrap();
    let manifest = manifest.replace("storageClassName: real-local", "storageClassName: real-csi");
    assert!(manifest.contains("storageClassName: real-csi"), "the claim template names its class");
    let mut child = std::process::Command::new("kubectl")
        .env("KUBECONFIG", &env.kubeconfig)
        .args(["-n", &env.ns, "apply", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl on PATH");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), manifest.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "kubectl apply: {}", String::from_utf8_lossy(&output.stderr));
    let etcd = Etcd { env };
    etcd.wait_ready(Duration::from_secs(180)).await;
    etcd
}

/// The size in KiB of the filesystem on the member's data directory, as `df` in its pod says.
async fn df_kib(env: &Env, pod: &str) -> u64 {
    let exec = env.exec(pod, &["sh", "-c", "df -k /var/lib/etcd | tail -n 1"]).await;
    assert!(exec.success(), "df in {pod}: {} {}", exec.message(), exec.stderr);
    let fields: Vec<&str> = exec.stdout.split_whitespace().collect();
    fields.get(1).and_then(|f| f.parse().ok()).unwrap_or_else(|| panic!("df in {pod}: {}", exec.stdout))
}

async fn df_all(env: &Env) -> BTreeMap<String, u64> {
    let mut sizes = BTreeMap::new();
    for pod in MEMBERS {
        sizes.insert(pod.to_owned(), df_kib(env, pod).await);
    }
    sizes
}

fn snapshot_api(env: &Env, kind: &str, plural: &str, namespaced: bool) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("snapshot.storage.k8s.io", "v1", kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, plural);
    if namespaced {
        Api::namespaced_with(env.client.clone(), &env.ns, &resource)
    } else {
        Api::all_with(env.client.clone(), &resource)
    }
}

/// `pvc resize` from 512Mi to 1Gi under the running set: every claim grows online (the driver's
/// ControllerExpandVolume, then the kubelet's NodeExpandVolume on the mounted filesystem, which
/// the run waits for instead of restarting the pods), the set is re-created with the bigger
/// template, no pod is restarted, the quorum holds, every key is read back from each member's
/// own data, and `df` inside each pod shows the bigger filesystem.
#[tokio::test]
async fn resize_grows_every_members_filesystem_online_and_every_key_survives() {
    let (_share, env) = etcd::real_env("real-csi-resize", false).await;
    let etcd = deploy(&env).await;
    let keys = etcd.put_keys("etcd-0", "before", 50).await;
    let df_before = df_all(&env).await;
    let pods_before = uids(&env).await;

    let watch = QuorumWatch::start(&env).await;
    let output = run(&env, &["pvc", "resize", "etcd", "--size", "data=1Gi", "--yes", "-o", "json"]).await;
    let report = watch.stop();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    report.assert_held(ELECTION);

    let events = events_of(&output);
    assert!(named(&events, "podRestarted").is_empty(), "no pod restarted: {events:?}");
    let grown: Vec<&str> =
        named(&events, "claimGrown").iter().map(|e| e["claim"].as_str().unwrap()).collect();
    assert_eq!(grown.len(), 3, "{grown:?}");
    assert_eq!(uids(&env).await, pods_before, "every pod kept running");
    let sts = env.api::<StatefulSet>().get("etcd").await.unwrap();
    assert_eq!(template_size(&sts, "data"), "1Gi");
    for pod in MEMBERS {
        assert_eq!(capacity(&env, &format!("data-{pod}")).await, "1Gi");
    }
    let df_after = df_all(&env).await;
    for pod in MEMBERS {
        // XFS keeps its log and metadata: a 512Mi volume shows 448 MiB, a 1Gi one 960 MiB.
        assert!(
            df_after[pod] > df_before[pod] + 400 * 1024 && df_after[pod] > 900 * 1024,
            "{pod}: {} KiB before, {} KiB after",
            df_before[pod],
            df_after[pod]
        );
    }
    etcd.assert_keys(&MEMBERS, "before", &keys).await;
}

/// After a scale-down, `pvc prune --snapshot` snapshots the left-behind claim through the real
/// chain (csi-snapshotter: the driver freezes and copies the volume) and deletes the claim and
/// its volume; keys written afterwards exist only on the other members. `pvc restore` creates
/// the claim from the snapshot, the scale-up mounts it, and the member rejoins as itself (same
/// member id: its own WAL) and catches up: the keys of before the snapshot and of after it are
/// read from its own data.
#[tokio::test]
async fn prune_with_a_snapshot_then_restore_brings_the_member_back_on_its_data() {
    let (_share, env) = etcd::real_env("real-csi-snap", false).await;
    let etcd = deploy(&env).await;
    let before = etcd.put_keys("etcd-0", "before", 30).await;
    let member = etcd.member_id("etcd-2").await;
    let volume = env.api::<PersistentVolumeClaim>().get("data-etcd-2").await.unwrap();
    let volume = volume.spec.unwrap().volume_name.unwrap();

    env.scale("etcd", 2).await;
    wait_until(Duration::from_secs(60), || async { env.pods().await.len() == 2 }).await;
    // As a person would: prune once status lists the claim as an orphan (etcd-2's pod gone and
    // its volume released by the kubelet, which takes a moment on real nodes under load).
    wait_until(Duration::from_secs(120), || async {
        let status = run(&env, &["status", "etcd", "-o", "json"]).await;
        let status: Value = serde_json::from_slice(&status.stdout).unwrap_or_default();
        status["orphanedPvcs"].as_array().is_some_and(|o| o.iter().any(|c| c["name"] == "data-etcd-2"))
    })
    .await;
    let output = run(&env, &["pvc", "prune", "etcd", "--snapshot", "--yes", "-o", "json"]).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    let snapshots = result["snapshots"]
        .as_array()
        .unwrap_or_else(|| panic!("{result}\n{}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(snapshots.len(), 1, "{result}");
    let name = snapshots[0]["name"].as_str().unwrap().to_owned();
    assert_eq!(snapshots[0]["claim"], "data-etcd-2");

    // A real snapshot: cut by the driver (its handle), kept (Retain) after its claim and volume went.
    let snapshot = snapshot_api(&env, "VolumeSnapshot", "volumesnapshots", true).get(&name).await.unwrap();
    assert_eq!(snapshot.data["status"]["readyToUse"], true);
    let content_name = snapshot.data["status"]["boundVolumeSnapshotContentName"].as_str().unwrap();
    let content = snapshot_api(&env, "VolumeSnapshotContent", "volumesnapshotcontents", false)
        .get(content_name)
        .await
        .unwrap();
    assert_eq!(content.data["spec"]["driver"], DRIVER);
    assert_eq!(content.data["spec"]["deletionPolicy"], "Retain");
    assert!(
        content.data["status"]["snapshotHandle"].as_str().unwrap().starts_with("rs-"),
        "{:?}",
        content.data
    );
    // Deleted: gone once the API server's pvc-protection finalizer lets it go, a moment later.
    let claims = env.api::<PersistentVolumeClaim>();
    wait_until(Duration::from_secs(60), || async { claims.get_opt("data-etcd-2").await.unwrap().is_none() })
        .await;
    let pvs: Api<k8s_openapi::api::core::v1::PersistentVolume> = Api::all(env.client.clone());
    wait_until(Duration::from_secs(60), || async { pvs.get_opt(&volume).await.unwrap().is_none() }).await;

    let after = etcd.put_keys("etcd-0", "after", 20).await;
    let output = run(&env, &["pvc", "restore", "etcd", "--ordinal", "2", "--from", &name]).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    env.scale("etcd", 3).await;
    etcd.wait_ready(Duration::from_secs(180)).await;
    assert_eq!(etcd.member_id("etcd-2").await, member, "etcd-2 rejoined as itself, on its restored data");
    etcd.assert_keys(&["etcd-2"], "before", &before).await;
    etcd.assert_keys(&["etcd-2"], "after", &after).await;
}

/// Runs `args` with the test build's pause at `point` and SIGKILLs the run once it waits there.
async fn kill_at(env: &Env, args: &[&str], point: &str) {
    let never = std::env::temp_dir().join(format!("kubectl-stateful-e2e-{}-{point}-never", env.ns));
    let mut child = env
        .spawn_plugin(args)
        .env("KUBECTL_STATEFUL_E2E_PAUSE", format!("{point}:{}", never.display()))
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let said = format!("paused at {point}");
    let mut seen = Vec::new();
    let reached = tokio::time::timeout(Duration::from_secs(300), async {
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
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
}

/// A resize SIGKILLed at each stage, each time resumed by the same command: during the grow
/// (right after the first claim was patched), with the journal written right before the
/// StatefulSet's delete, and between the delete and the re-create. The last run finishes:
/// the set is re-created with the bigger template and adopts every pod and claim, every
/// filesystem is bigger, the quorum held throughout and every key is there.
#[tokio::test]
async fn a_resize_killed_at_each_stage_is_finished_by_the_same_command_with_the_data_intact() {
    let (_share, env) = etcd::real_env("real-csi-kill", false).await;
    let etcd = deploy(&env).await;
    let keys = etcd.put_keys("etcd-0", "before", 30).await;
    let old = env.api::<StatefulSet>().get("etcd").await.unwrap();
    let pods = uids(&env).await;
    let args = ["pvc", "resize", "etcd", "--size", "data=1Gi", "--yes", "-o", "json"];
    let watch = QuorumWatch::start(&env).await;

    // 1. During the grow.
    let mut child = env.spawn_plugin(&args).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.contains("\"claimPatched\"") {
            child.start_kill().unwrap();
            break;
        }
    }
    child.wait().await.unwrap();
    let journals: Api<ConfigMap> = env.api();
    assert!(
        journals.get_opt("kubectl-stateful-resize-etcd").await.unwrap().is_none(),
        "killed before the swap"
    );
    assert_eq!(env.api::<StatefulSet>().get("etcd").await.unwrap().uid(), old.uid());

    // 2. The journal written, right before the delete.
    kill_at(&env, &args, "swap-delete").await;
    assert!(journals.get_opt("kubectl-stateful-resize-etcd").await.unwrap().is_some());
    assert_eq!(env.api::<StatefulSet>().get("etcd").await.unwrap().uid(), old.uid(), "not deleted yet");

    // 3. Between the delete and the re-create.
    kill_at(&env, &args, "swap-create").await;
    assert!(journals.get_opt("kubectl-stateful-resize-etcd").await.unwrap().is_some());
    let now = env.api::<StatefulSet>().get_opt("etcd").await.unwrap();
    assert!(now.as_ref().is_none_or(|s| s.uid() == old.uid()), "deleted, not re-created");

    let output = run(&env, &args).await;
    let report = watch.stop();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    report.assert_held(ELECTION);
    let new = env.api::<StatefulSet>().get("etcd").await.unwrap();
    assert_ne!(new.uid(), old.uid(), "re-created");
    assert_eq!(template_size(&new, "data"), "1Gi");
    assert!(journals.get_opt("kubectl-stateful-resize-etcd").await.unwrap().is_none(), "journal removed");
    assert_eq!(uids(&env).await, pods, "every pod kept running through the kills");
    for pod in MEMBERS {
        assert_eq!(capacity(&env, &format!("data-{pod}")).await, "1Gi");
        assert!(df_kib(&env, pod).await > 900 * 1024, "{pod}'s filesystem grew");
    }
    etcd.assert_keys(&MEMBERS, "before", &keys).await;
}

/// `drain` of a real node with the etcd set on `real-csi`, whose volumes every real node reaches
/// (the driver lets one node mount a volume at a time): each member on the node moves, one at a
/// time, to the other real node and starts there on its own data (same member, new pod); the
/// quorum holds throughout, the node is left cordoned, the other member is untouched, and every
/// key written before is read back from each member.
#[tokio::test]
async fn drain_of_a_real_node_moves_each_member_with_its_data_and_the_quorum_holds() {
    use k8s_openapi::api::core::v1::{Node, Pod};
    use kube::api::{Patch, PatchParams};
    // The drain moves every StatefulSet member on the node: no other real test meanwhile.
    let (_all, env) = etcd::real_env("real-csi-drain", true).await;
    let etcd = deploy(&env).await;
    let keys = etcd.put_keys("etcd-0", "before", 30).await;
    let pods: Api<Pod> = env.api();
    let mut on: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for member in MEMBERS {
        let node = pods.get(member).await.unwrap().spec.unwrap().node_name.unwrap();
        on.entry(node).or_default().push(member.to_owned());
    }
    // The node with two of the three members: both move, one at a time.
    let (node, moving) = on.iter().max_by_key(|(_, members)| members.len()).unwrap();
    let (node, moving) = (node.clone(), moving.clone());
    let before = uids(&env).await;

    let watch = QuorumWatch::start(&env).await;
    let output = run(&env, &["drain", &node, "--yes", "--timeout", "4m"]).await;
    let report = watch.stop();
    let nodes: Api<Node> = Api::all(env.client.clone());
    let cordoned = nodes.get(&node).await.unwrap().spec.unwrap().unschedulable == Some(true);
    // The node goes back to the other tests whatever happened here.
    let uncordon = serde_json::json!({"spec": {"unschedulable": null}});
    nodes.patch(&node, &PatchParams::default(), &Patch::Merge(&uncordon)).await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(cordoned, "the drained node is left cordoned");
    report.assert_held(ELECTION);

    let after = uids(&env).await;
    for member in MEMBERS {
        let pod = pods.get(member).await.unwrap();
        let now_on = pod.spec.unwrap().node_name.unwrap();
        if moving.iter().any(|m| m == member) {
            assert_ne!(after[member], before[member], "{member} was moved");
            assert_ne!(now_on, node, "{member} left {node}");
        } else {
            assert_eq!(after[member], before[member], "{member} was not on {node}: untouched");
        }
    }
    etcd.assert_keys(&MEMBERS, "before", &keys).await;
}
