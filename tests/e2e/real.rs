//! Write commands proven with data, on real nodes (tests/cluster/real: kubelet, containerd,
//! CoreDNS, local XFS volumes): the reference etcd set (tests/cluster/real/etcd.yaml) gets keys
//! before each command, every key is read back after it from each member's own data, and a
//! [`QuorumWatch`] records throughout that no more than one member was out. (The plugin runs
//! as an async child process, [`run`], so the watch goes on while it works.) tests/run runs these
//! on the newest version with `KUBECTL_STATEFUL_REAL_NODES=2`; without real nodes they fail.

/// The same on the storage tier (real-csi and the upstream CSI sidecars).
mod storage;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use crate::etcd::{self, Etcd, QuorumWatch};
use crate::support::{Env, json_of, sts, wait_until};

/// A leader election may leave fewer than two members healthy for this long without a quorum
/// being lost: etcd's election timeout is 1 s; on a loaded 2-core machine elections and the
/// readiness probes that follow them take a few seconds.
const ELECTION: Duration = Duration::from_secs(8);

/// The gate a person would give a rollout of etcd: the updated member answers etcd's own
/// /health (a linearizable read: it is part of a quorum again).
const HEALTH_GATE: &str = r#"timeout 4 wget -q -O- http://127.0.0.1:2379/health | grep -q '"health":"true"'"#;

/// The plugin, run to its end as an async child (a [`QuorumWatch`] on this test's runtime goes
/// on meanwhile), at most 5 minutes.
async fn run(env: &Env, args: &[&str]) -> std::process::Output {
    let child = env.spawn_plugin(args).output();
    tokio::time::timeout(Duration::from_secs(300), child)
        .await
        .unwrap_or_else(|_| panic!("kubectl stateful {args:?} still running after 5m"))
        .unwrap()
}

fn events_of(output: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn named<'a>(events: &'a [Value], event: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == event).collect()
}

/// A pod-template patch file for `rollout --patch`: the etcd container's extra flags.
fn extra_args_patch(env: &Env, name: &str, args: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("{}-{name}.yaml", env.ns));
    let patch = json!({"spec": {"containers": [{"name": "etcd", "env": [{"name": "ETCD_EXTRA_ARGS", "value": args}]}]}});
    std::fs::write(&path, patch.to_string()).unwrap();
    path
}

async fn uids(env: &Env) -> BTreeMap<String, String> {
    env.pods().await.iter().map(|p| (p.name_any(), p.uid().unwrap())).collect()
}

async fn member_ids(etcd: &Etcd<'_>, pods: &[&str]) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    for pod in pods {
        ids.insert((*pod).to_owned(), etcd.member_id(pod).await);
    }
    ids
}

const MEMBERS: [&str; 3] = ["etcd-0", "etcd-1", "etcd-2"];

/// A rollout of the etcd set to a real template change (more etcd flags), step by step, gated
/// by etcd's own health in each updated member: never fewer than two members healthy, every key
/// written before readable after from each member's own data, every pod on the new revision
/// with a new uid, and every member the same member as before (it restarted on its own volume).
#[tokio::test]
async fn a_gated_rollout_of_etcd_keeps_its_quorum_and_every_key() {
    let (_share, env) = etcd::real_env("real-rollout", false).await;
    let etcd = etcd::deploy(&env).await;
    let keys = etcd.put_keys("etcd-0", "before", 50).await;
    let before = sts(&env, "etcd").await.status.unwrap().current_revision.unwrap();
    let pods_before = uids(&env).await;
    let ids_before = member_ids(&etcd, &MEMBERS).await;

    let watch = QuorumWatch::start(&env).await;
    let patch = extra_args_patch(
        &env,
        "compaction",
        "--auto-compaction-mode=periodic --auto-compaction-retention=1h",
    );
    let output = run(
        &env,
        &[
            "rollout",
            "etcd",
            "--patch",
            patch.to_str().unwrap(),
            "--gate-exec",
            HEALTH_GATE,
            "--yes",
            "-o",
            "json",
        ],
    )
    .await;
    let report = watch.stop();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    report.assert_held(ELECTION);

    let events = events_of(&output);
    let passed: Vec<&str> = named(&events, "gatePassed").iter().map(|e| e["pod"].as_str().unwrap()).collect();
    for pod in MEMBERS {
        assert!(passed.contains(&pod), "the health gate passed in {pod}: {passed:?}");
    }
    let updated: Vec<&str> =
        named(&events, "podUpdated").iter().map(|e| e["pod"].as_str().unwrap()).collect();
    assert_eq!(updated, ["etcd-2", "etcd-1", "etcd-0"]);

    let after = sts(&env, "etcd").await.status.unwrap();
    assert_eq!(after.current_revision, after.update_revision);
    assert_ne!(after.current_revision.as_deref(), Some(before.as_str()), "a new revision");
    let pods_after = uids(&env).await;
    for pod in MEMBERS {
        assert_ne!(pods_after[pod], pods_before[pod], "{pod} was replaced");
    }
    let container_args = |p: &Pod| format!("{:?}", p.spec.as_ref().unwrap().containers[0].env);
    for pod in env.pods().await {
        assert!(container_args(&pod).contains("--auto-compaction-retention=1h"), "{}", pod.name_any());
    }
    etcd.assert_keys(&MEMBERS, "before", &keys).await;
    assert_eq!(member_ids(&etcd, &MEMBERS).await, ids_before, "each member restarted on its own data");
}

/// A rollout to a revision whose member crashes on start (a flag etcd does not know): the first
/// step fails on the canary (CrashLoopBackOff, the gate never passes), the rollout stops with
/// exit 3, and `--abort --yes` (deleting the canary if it stays stuck: the forced rollback)
/// brings the member back on its data, the same member, with the keys written while it was
/// down. Two members stay healthy throughout, and the other two pods are never touched.
#[tokio::test]
async fn a_crashing_revision_is_stopped_and_the_abort_brings_the_member_back_on_its_data() {
    let (_share, env) = etcd::real_env("real-abort", false).await;
    let etcd = etcd::deploy(&env).await;
    let keys = etcd.put_keys("etcd-0", "before", 30).await;
    let before = sts(&env, "etcd").await.status.unwrap().current_revision.unwrap();
    let pods_before = uids(&env).await;
    let canary_id = etcd.member_id("etcd-2").await;

    let watch = QuorumWatch::start(&env).await;
    let patch = extra_args_patch(&env, "broken", "--no-such-flag");
    let patch = patch.to_str().unwrap();
    let output = run(
        &env,
        &[
            "rollout",
            "etcd",
            "--patch",
            patch,
            "--gate-exec",
            HEALTH_GATE,
            "--timeout",
            "90s",
            "--yes",
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events_of(&output);
    let failed = named(&events, "failed");
    assert_eq!(failed.len(), 1, "{events:?}");
    assert_eq!(failed[0]["partition"], 2, "stopped at the canary: {failed:?}");
    assert!(named(&events, "gatePassed").is_empty(), "the gate never passed: {events:?}");
    let canary = env.api::<Pod>().get("etcd-2").await.unwrap();
    let restarts = canary.status.as_ref().unwrap().container_statuses.as_ref().unwrap()[0].restart_count;
    assert!(restarts >= 1, "etcd-2 really crashed: {restarts} restarts");
    // The keys written while the canary is down reach it once it is back.
    let during = etcd.put_keys("etcd-0", "during", 10).await;

    let output = run(&env, &["rollout", "etcd", "--abort", "--yes", "-o", "json"]).await;
    let report = watch.stop();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events_of(&output);
    // Under Parallel pod management the controller itself replaces a pod that is not Ready
    // once the template is back (`podRolledBack`); the abort deletes it only if it stays stuck
    // (`podDeleted`, the forced rollback). Either way the canary and only the canary.
    let back: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "podDeleted" || e["event"] == "podRolledBack")
        .map(|e| e["pod"].as_str().unwrap())
        .collect();
    assert!(
        !back.is_empty() && back.iter().all(|p| *p == "etcd-2"),
        "the canary alone was rolled back: {events:?}"
    );
    report.assert_held(ELECTION);

    etcd.wait_ready(Duration::from_secs(120)).await;
    let status = sts(&env, "etcd").await.status.unwrap();
    assert_eq!(status.current_revision.as_deref(), Some(before.as_str()), "back on the old revision");
    assert_eq!(status.update_revision.as_deref(), Some(before.as_str()));
    let pods_after = uids(&env).await;
    assert_eq!(pods_after["etcd-0"], pods_before["etcd-0"], "etcd-0 never touched");
    assert_eq!(pods_after["etcd-1"], pods_before["etcd-1"], "etcd-1 never touched");
    assert_eq!(etcd.member_id("etcd-2").await, canary_id, "the same member, on its own data");
    etcd.assert_keys(&MEMBERS, "before", &keys).await;
    etcd.assert_keys(&["etcd-2"], "during", &during).await;
}

/// The decommission hook of an etcd member, as `scale --decommission-exec` runs it in the member
/// leaving: through a peer's gateway (busybox wget, as tests/cluster/real/etcd.yaml does), it
/// finds the member's own id by its peer URL and removes it (`etcdctl member remove`: the peer
/// answers once the removal is committed and applied), and passes. Run again after it passed (a
/// resumed scale, or a try cut short when the member's etcd stopped), it passes at once: the
/// member is not listed (the removed member's pod waits, not Ready, running no etcd: see
/// tests/cluster/real/etcd.yaml). docs/scale.md shows it.
pub const LEAVE_ETCD: &str = r#"me="http://{pod}.etcd.{namespace}.svc.cluster.local:2380"
for i in 0 1 2 3 4 5 6 7 8 9; do
  [ "etcd-$i" = "{pod}" ] && continue
  api="http://etcd-$i.etcd.{namespace}.svc.cluster.local:2379/v3/cluster/member"
  list=$(timeout 4 wget -q -O- --header 'Content-Type: application/json' --post-data '{}' "$api/list") || continue
  echo "$list" | grep -q '"members"' || continue
  id=$(echo "$list" | sed 's/}, *{/}\n{/g' | grep -F "\"$me\"" | sed 's/.*"ID":"\([0-9]*\)".*/\1/')
  if [ -z "$id" ]; then echo "{pod} is no member (etcd-$i says)"; exit 0; fi
  timeout 4 wget -q -O- --header 'Content-Type: application/json' --post-data "{\"ID\":\"$id\"}" "$api/remove" >/dev/null || exit 1
  echo "{pod} (member $id) removed through etcd-$i"; exit 0
done
echo "no peer answered"; exit 1"#;

/// `scale etcd` 3 -> 5 -> 3 on the real nodes: the scale-up waits until etcd-3 and etcd-4 are
/// Ready (they join etcd on their own: tests/cluster/real/etcd.yaml adds a member past its
/// initial ones); the scale-down runs [`LEAVE_ETCD`] in etcd-4, then in etcd-3, each removing
/// its own membership before its pod goes, and prunes their claims. etcd ends with exactly 3
/// members, every key written before (and between) is read back from each member's own data, and
/// a quorum held throughout.
#[tokio::test]
async fn scale_up_and_down_with_a_decommission_hook_keeps_quorum_and_every_key() {
    let (_share, env) = etcd::real_env("real-scale", false).await;
    let etcd = etcd::deploy(&env).await;
    let keys = etcd.put_keys("etcd-0", "before", 30).await;
    let watch = QuorumWatch::start(&env).await;

    let output = run(&env, &["scale", "etcd", "--replicas", "5", "--yes", "-o", "json"]).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut joined: Vec<String> =
        named(&events_of(&output), "joined").iter().map(|e| e["pod"].as_str().unwrap().to_owned()).collect();
    joined.sort();
    assert_eq!(joined, ["etcd-3", "etcd-4"]);
    assert_eq!(etcd.members("etcd-0").await.len(), 5, "etcd-3 and etcd-4 joined etcd");
    etcd.assert_keys(&["etcd-3", "etcd-4"], "before", &keys).await;
    let during = etcd.put_keys("etcd-0", "during", 10).await;

    let output = run(
        &env,
        &[
            "scale",
            "etcd",
            "--replicas",
            "3",
            "--decommission-exec",
            LEAVE_ETCD,
            "--claims",
            "prune",
            "--yes",
            "-o",
            "json",
        ],
    )
    .await;
    let report = watch.stop();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    report.assert_held(ELECTION);
    let events = events_of(&output);
    let pods = |event: &str| {
        named(&events, event).iter().map(|e| e["pod"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(pods("left"), ["etcd-4", "etcd-3"]);
    assert_eq!(pods("removed"), ["etcd-4", "etcd-3"]);
    let pruned = named(&events, "claimsPruned");
    assert_eq!(pruned[0]["deleted"], json!(["data-etcd-3", "data-etcd-4"]), "{pruned:?}");

    let members = etcd.members("etcd-0").await;
    let mut peers: Vec<&str> = members.iter().map(|(_, _, peer)| peer.as_str()).collect();
    peers.sort_unstable();
    let expected: Vec<String> =
        MEMBERS.iter().map(|m| format!("http://{m}.etcd.{}.svc.cluster.local:2380", env.ns)).collect();
    assert_eq!(peers, expected, "etcd-3 and etcd-4 left etcd: {members:?}");
    etcd.assert_keys(&MEMBERS, "before", &keys).await;
    etcd.assert_keys(&MEMBERS, "during", &during).await;
    wait_until(Duration::from_secs(60), || async {
        env.pvc_names().await == ["data-etcd-0", "data-etcd-1", "data-etcd-2"]
    })
    .await;
}

/// The local volume a claim is bound to, as the host sees it: (PV, uid, host path).
async fn volume_of(env: &Env, claim: &str) -> (String, String, std::path::PathBuf) {
    let pvc = env.api::<PersistentVolumeClaim>().get(claim).await.unwrap();
    let name = pvc.spec.unwrap().volume_name.unwrap();
    let pv = Api::<PersistentVolume>::all(env.client.clone()).get(&name).await.unwrap();
    let path = pv.spec.as_ref().unwrap().local.as_ref().unwrap().path.clone();
    (name, pv.uid().unwrap(), path.into())
}

fn entries(path: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Scale 3 -> 5 -> 3, then `pvc prune`: the dry run names exactly the two orphans' claims and
/// changes nothing; `--yes` deletes exactly those; their volumes are really released: the
/// provisioner cleaned each filesystem (nothing left of etcd-3's and etcd-4's data on the host)
/// and offered it again under a new PV object. The quorum held, the keys are all there.
#[tokio::test]
async fn scale_down_then_prune_deletes_exactly_the_orphans_and_their_volumes_are_cleaned() {
    let (_share, env) = etcd::real_env("real-prune", false).await;
    let etcd = etcd::deploy(&env).await;
    let keys = etcd.put_keys("etcd-0", "before", 20).await;
    let watch = QuorumWatch::start(&env).await;
    env.scale("etcd", 5).await;
    etcd.wait_ready(Duration::from_secs(180)).await;
    let members = etcd.members("etcd-0").await;
    assert_eq!(members.len(), 5, "etcd-3 and etcd-4 joined: {members:?}");
    etcd.assert_keys(&["etcd-3", "etcd-4"], "before", &keys).await;
    let orphans = [volume_of(&env, "data-etcd-3").await, volume_of(&env, "data-etcd-4").await];
    for (_, _, path) in &orphans {
        assert_eq!(entries(path), ["data"], "the member's data is on its volume: {}", path.display());
    }
    env.scale("etcd", 3).await;
    etcd.wait_ready(Duration::from_secs(120)).await;
    wait_until(Duration::from_secs(60), || async { env.pods().await.len() == 3 }).await;

    let versions = env.versions().await;
    let plan = json_of(&run(&env, &["pvc", "prune", "etcd", "--dry-run", "-o", "json"]).await);
    let verdicts: Vec<(&str, &str)> = plan["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(verdicts, [("data-etcd-3", "prune"), ("data-etcd-4", "prune")], "{plan}");
    assert_eq!(env.versions().await, versions, "the dry run changed nothing");

    let result = json_of(&run(&env, &["pvc", "prune", "etcd", "--yes", "-o", "json"]).await);
    let deleted: Vec<&str> =
        result["deleted"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(deleted, ["data-etcd-3", "data-etcd-4"]);
    wait_until(Duration::from_secs(60), || async {
        env.pvc_names().await == ["data-etcd-0", "data-etcd-1", "data-etcd-2"]
    })
    .await;
    let pvs: Api<PersistentVolume> = Api::all(env.client.clone());
    for (name, uid, path) in &orphans {
        // Released, cleaned and offered again by real-local-provisioner, as a real provisioner does.
        wait_until(Duration::from_secs(60), || async {
            pvs.get_opt(name).await.unwrap().is_some_and(|pv| {
                pv.uid().as_ref() != Some(uid)
                    && pv.status.and_then(|s| s.phase).as_deref() == Some("Available")
            })
        })
        .await;
        assert!(entries(path).is_empty(), "{name} was cleaned: {:?}", entries(path));
    }
    let report = watch.stop();
    report.assert_held(ELECTION);
    etcd.assert_keys(&MEMBERS, "before", &keys).await;
}

/// `pvc prune --retain-volumes`: the scaled-away member's volume is kept as a Released PV with
/// its data; re-bound as docs/pvc-prune.md says (clear the claimRef, a claim naming the PV),
/// a scale-up brings the same member back on it, and it catches up with what was written while
/// it was away.
#[tokio::test]
async fn a_retained_volume_brings_the_old_member_back_with_its_data() {
    let (_share, env) = etcd::real_env("real-retain", false).await;
    let etcd = etcd::deploy(&env).await;
    let first = etcd.put_keys("etcd-0", "first", 10).await;
    let watch = QuorumWatch::start(&env).await;
    env.scale("etcd", 4).await;
    etcd.wait_ready(Duration::from_secs(180)).await;
    let second = etcd.put_keys("etcd-0", "second", 10).await;
    etcd.assert_keys(&["etcd-3"], "second", &second).await;
    let member = etcd.member_id("etcd-3").await;
    let (pv, _, path) = volume_of(&env, "data-etcd-3").await;
    env.scale("etcd", 3).await;
    etcd.wait_ready(Duration::from_secs(120)).await;
    wait_until(Duration::from_secs(60), || async { env.pods().await.len() == 3 }).await;

    let output = run(&env, &["pvc", "prune", "etcd", "--yes", "--retain-volumes"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        stdout.contains(&format!("Kept their data as Released PVs (reclaim policy Retain): {pv}")),
        "{stdout}"
    );
    let pvs: Api<PersistentVolume> = Api::all(env.client.clone());
    // Whatever happens below, the kept volume goes back to the provisioner at the end.
    let _cleanup = DeletePv { env: &env, name: pv.clone() };
    wait_until(Duration::from_secs(30), || async {
        pvs.get(&pv).await.unwrap().status.and_then(|s| s.phase).as_deref() == Some("Released")
    })
    .await;
    assert_eq!(entries(&path), ["data"], "the data stays on the host with the Released PV");
    let third = etcd.put_keys("etcd-0", "third", 10).await;

    // docs/pvc-prune.md, "Re-binding a Released PV".
    let params = PatchParams::default();
    pvs.patch(&pv, &params, &Patch::Merge(json!({"spec": {"claimRef": null}}))).await.unwrap();
    env.create::<PersistentVolumeClaim>(json!({
        "metadata": {"name": "data-etcd-3", "labels": {"app": "etcd"}},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "real-local",
            "volumeName": pv,
            "resources": {"requests": {"storage": "512Mi"}}
        }
    }))
    .await;
    env.scale("etcd", 4).await;
    etcd.wait_ready(Duration::from_secs(180)).await;
    assert_eq!(volume_of(&env, "data-etcd-3").await.0, pv, "etcd-3 runs on the kept volume");
    assert_eq!(etcd.member_id("etcd-3").await, member, "the same member, back on its data");
    etcd.assert_keys(&["etcd-3"], "first", &first).await;
    etcd.assert_keys(&["etcd-3"], "second", &second).await;
    etcd.assert_keys(&["etcd-3"], "third", &third).await;
    watch.stop().assert_held(ELECTION);
}

/// Deletes a PV when dropped (a Retain volume a test kept): real-local-provisioner then cleans it
/// and offers it again. (kubectl: a kube client cannot be used from Drop, its connection's
/// worker runs on the test's runtime, which the drop blocks.)
struct DeletePv<'a> {
    env: &'a Env,
    name: String,
}

impl Drop for DeletePv<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kubectl")
            .env("KUBECONFIG", &self.env.kubeconfig)
            .args(["delete", "pv", &self.name, "--wait=false", "--ignore-not-found"])
            .output();
    }
}

/// A real node taken down by tests/cluster/node (its kubelet killed, its pods' processes frozen),
/// brought back when dropped.
struct NodeDown(String);

impl NodeDown {
    fn take(node: &str) -> NodeDown {
        node_script("down", node).unwrap();
        NodeDown(node.to_owned())
    }
}

impl Drop for NodeDown {
    fn drop(&mut self) {
        // Not a panic: this also runs while a failed test unwinds.
        if let Err(e) = node_script("up", &self.0) {
            eprintln!("{e}");
        }
    }
}

/// tests/cluster/node for the test cluster (KUBECTL_STATEFUL_CLUSTER, as `up` was run).
fn node_script(action: &str, node: &str) -> Result<(), String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cluster/node");
    let output = std::process::Command::new(script).args([action, node]).output().unwrap();
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("tests/cluster/node {action} {node}: {}", String::from_utf8_lossy(&output.stderr)))
    }
}

fn status(env: &Env) -> Value {
    json_of(&env.plugin().args(["status", "etcd", "-o", "json"]).output().unwrap())
}

/// Node failure, for real: the kubelet of the real node that runs one member is killed and the
/// member's processes frozen. `status` shows the member on a NotReady node; `recover` refuses while
/// the node is Ready and before --min-down, then acts, and says what happens to a member whose
/// volume is a local one pinned to the dead node: its replacement can start nowhere else (it stays
/// Pending). The way out it prints (status prints the same), run as printed, gives up that
/// volume: the claim goes, the controller creates a new one, and the member starts on the live
/// node with an empty volume, rejoins etcd and catches up with every key. The quorum holds
/// throughout (the two other members are on the other node).
#[tokio::test]
async fn node_failure_status_sees_it_and_recover_tells_the_truth_about_a_pinned_volume() {
    let (_all, env) = etcd::real_env("real-recover", true).await;
    let etcd = etcd::deploy(&env).await;
    let keys = etcd.put_keys("etcd-0", "before", 20).await;
    let pods = env.pods().await;
    let node_of = |name: &str| {
        pods.iter().find(|p| p.name_any() == name).unwrap().spec.as_ref().unwrap().node_name.clone().unwrap()
    };
    // The member alone on its node: taking that node down leaves two members, a quorum.
    let victim = MEMBERS
        .into_iter()
        .find(|m| MEMBERS.iter().filter(|o| node_of(o) == node_of(m)).count() == 1)
        .expect("3 members spread over 2 nodes: one is alone");
    let dead = node_of(victim);
    let alive: Vec<&str> = MEMBERS.into_iter().filter(|m| *m != victim).collect();
    let victim_id = etcd.member_id(victim).await;
    let victim_uid = env.api::<Pod>().get(victim).await.unwrap().uid();
    let claim = format!("data-{victim}");
    let (old_volume, _, old_path) = volume_of(&env, &claim).await;
    let watch = QuorumWatch::start(&env).await;

    let refused = run(&env, &["recover", victim, "--yes", "--min-down", "20s"]).await;
    assert_eq!(refused.status.code(), Some(1), "{}", String::from_utf8_lossy(&refused.stderr));
    assert!(String::from_utf8_lossy(&refused.stderr).contains(&format!("node {dead} is Ready")));

    let down = NodeDown::take(&dead);
    let during = etcd.put_keys(alive[0], "during", 10).await;
    let ordinal = victim.trim_start_matches("etcd-").parse::<usize>().unwrap();
    wait_until(Duration::from_secs(90), || async {
        status(&env)["ordinals"][ordinal]["pod"]["nodeReady"] == false
    })
    .await;
    let report = status(&env);
    let warning = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == "PodOnNotReadyNode")
        .unwrap_or_else(|| panic!("no PodOnNotReadyNode: {report}"));
    assert!(warning["message"].as_str().unwrap().contains(&format!("recover {victim}")), "{warning}");

    let early = run(&env, &["recover", victim, "--yes", "--min-down", "10m", "-o", "json"]).await;
    assert_eq!(early.status.code(), Some(1));
    let early: Value = serde_json::from_slice(&early.stdout).unwrap();
    assert_eq!(early["action"], "refused");
    assert!(early["reasons"].to_string().contains("less than --min-down 600s"), "{early}");

    // Down for 20 s, Lease unrenewed as long: recover acts, and says that the replacement can
    // start only on the dead node, where the member's volume is pinned.
    let (recovery, stderr) = loop {
        let output = run(&env, &["recover", victim, "--yes", "--min-down", "20s", "-o", "json"]).await;
        let json: Value = serde_json::from_slice(&output.stdout).unwrap();
        if json["action"] != "refused" {
            assert_eq!(output.status.code(), Some(1), "the replacement cannot come up: {json}");
            break (json, String::from_utf8_lossy(&output.stderr).into_owned());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    assert_eq!(recovery["action"], "forceDeleted", "{recovery}");
    assert_eq!(recovery["evidence"]["pinnedVolumes"], json!([{"claim": claim, "volume": old_volume}]));
    assert!(
        stderr.contains(&format!("the replacement of {victim} can start only on {dead}")),
        "recover says where the replacement can start: {stderr}"
    );
    let replacement = env.api::<Pod>().get(victim).await.unwrap();
    assert_ne!(replacement.uid(), victim_uid, "force-deleted and re-created");
    assert_eq!(replacement.spec.as_ref().unwrap().node_name, None, "nowhere to go: Pending");

    // The way out it printed (status prints the same): the claim deleted, its data given up.
    let printed = crate::support::commands(&stderr);
    let delete = format!("kubectl -n {} delete pvc {claim} --wait=false", env.ns);
    assert!(printed.contains(&delete.as_str()), "{stderr}");
    let report = status(&env);
    assert!(report["warnings"].to_string().contains(&delete), "status advises the same: {report}");
    crate::support::run_printed(&env, &delete);
    etcd.wait_ready(Duration::from_secs(120)).await;
    let new_id = etcd.member_id(victim).await;
    assert_ne!(new_id, victim_id, "a new member, on a new volume");
    assert_eq!(etcd.members(alive[0]).await.len(), 3, "the old membership was replaced, not added to");
    etcd.assert_keys(&[victim], "before", &keys).await;
    etcd.assert_keys(&[victim], "during", &during).await;
    let report = watch.stop();

    // The node comes back: the old pod's processes are stopped, its volume released and cleaned.
    drop(down);
    let pvs: Api<PersistentVolume> = Api::all(env.client.clone());
    wait_until(Duration::from_secs(120), || async {
        pvs.get_opt(&old_volume)
            .await
            .unwrap()
            .is_some_and(|pv| pv.status.and_then(|s| s.phase).as_deref() == Some("Available"))
    })
    .await;
    assert!(entries(&old_path).is_empty(), "{old_volume} was cleaned: {:?}", entries(&old_path));
    report.assert_held(ELECTION);
}

/// The host pid of the etcd process of `pod` (PID 1 of its container), from the pod's cgroup on
/// this machine (the real nodes' pods are processes here).
async fn etcd_pid(env: &Env, pod: &str) -> String {
    let uid = env.api::<Pod>().get(pod).await.unwrap().uid().unwrap();
    let output = std::process::Command::new("sh")
        .args(["-c", &format!("find /sys/fs/cgroup/pids/ -path '*pod{uid}*' -name cgroup.procs -exec cat {{}} + | while read p; do tr '\\0' ' ' </proc/$p/cmdline | grep -q '^etcd --name' && echo $p; done")])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(!pid.is_empty() && !pid.contains('\n'), "one etcd process in {pod}: {pid:?}");
    pid
}

fn signal(pid: &str, signal: &str) {
    assert!(std::process::Command::new("kill").args([signal, pid]).status().unwrap().success());
}

/// `status` on real pods: a container the kubelet really restarted (its etcd stopped), a member
/// whose readiness probe really fails (its process stopped, SIGSTOP, so etcd's /health times
/// out in the probe) shown not Ready, real pod IPs, and the DNS names the members really use to
/// reach each other. The quorum holds throughout and the keys are all there after.
#[tokio::test]
async fn status_shows_real_restarts_probe_failures_ips_and_the_names_the_members_use() {
    let (_share, env) = etcd::real_env("real-status", false).await;
    let etcd = etcd::deploy(&env).await;
    let keys = etcd.put_keys("etcd-0", "before", 10).await;
    let watch = QuorumWatch::start(&env).await;

    // A real restart: etcd-1's etcd stops on SIGTERM; the kubelet starts the container again.
    signal(&etcd_pid(&env, "etcd-1").await, "-TERM");
    wait_until(Duration::from_secs(60), || async { status(&env)["ordinals"][1]["pod"]["restarts"] == 1 })
        .await;
    etcd.wait_ready(Duration::from_secs(120)).await;

    // A real probe failure: etcd-2 stopped where it stands; its /health no longer answers.
    let stopped = etcd_pid(&env, "etcd-2").await;
    signal(&stopped, "-STOP");
    let resume = Resume(stopped.clone());
    wait_until(Duration::from_secs(60), || async { status(&env)["ordinals"][2]["pod"]["ready"] == false })
        .await;
    let report = status(&env);
    let not_ready = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["code"] == "PodNotReady" && w["message"].as_str().unwrap().contains("etcd-2"));
    assert!(not_ready, "{report}");
    // Why, as the kubelet said it (its Unhealthy event, what `kubectl describe pod` shows): two
    // failed probes make the pod not Ready, so the event is there by now or soon.
    wait_until(Duration::from_secs(30), || async {
        status(&env)["ordinals"][2]["pod"]["lastWarning"]["reason"] == "Unhealthy"
    })
    .await;
    let report = status(&env);
    let said = &report["ordinals"][2]["pod"]["lastWarning"];
    assert_eq!(said["source"], "kubelet", "{said}");
    assert!(said["message"].as_str().unwrap().starts_with("Readiness probe failed"), "{said}");
    let text =
        String::from_utf8_lossy(&env.plugin().args(["status", "etcd"]).output().unwrap().stdout).into_owned();
    assert!(
        text.lines().any(|l| l.contains("etcd-2 is not Ready")
            && l.contains("kubelet reports Unhealthy")
            && l.contains("Readiness probe failed")),
        "status names the probe failure: {text}"
    );
    drop(resume);
    etcd.wait_ready(Duration::from_secs(120)).await;

    let report = status(&env);
    let members = etcd.members("etcd-0").await;
    for (ordinal, pod) in env.pods().await.iter().enumerate() {
        let row = &report["ordinals"][ordinal];
        assert_eq!(row["pod"]["name"], pod.name_any().as_str());
        let ip = pod.status.as_ref().unwrap().pod_ip.clone().unwrap();
        assert_eq!(row["pod"]["ip"], ip.as_str(), "the pod's real IP");
        assert_ne!(
            Some(ip),
            pod.status.as_ref().unwrap().host_ip.clone(),
            "a pod IP of its own, on the bridge"
        );
        let dns = row["dns"].as_str().unwrap();
        assert_eq!(dns, format!("etcd-{ordinal}.etcd.{}.svc.cluster.local", env.ns));
        assert!(
            members.iter().any(|(_, _, peer)| peer == &format!("http://{dns}:2380")),
            "{dns} is a peer URL: {members:?}"
        );
    }
    assert_eq!(report["ordinals"][1]["pod"]["restarts"], 1);
    watch.stop().assert_held(ELECTION);
    etcd.assert_keys(&MEMBERS, "before", &keys).await;
}

/// Sends SIGCONT to a stopped process when dropped.
struct Resume(String);

impl Drop for Resume {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill").args(["-CONT", &self.0]).status();
    }
}

/// `restart etcd 1`, gated by etcd's own health and a soak: only etcd-1 gets a new pod, it
/// comes back as the same member on its own data, every key written before is read after from
/// each member, and no more than one member was out at any time.
#[tokio::test]
async fn restart_of_one_etcd_member_keeps_quorum_every_key_and_the_other_pods() {
    let (_share, env) = etcd::real_env("real-restart", false).await;
    let etcd = etcd::deploy(&env).await;
    let keys = etcd.put_keys("etcd-0", "before", 50).await;
    let pods_before = uids(&env).await;
    let ids_before = member_ids(&etcd, &MEMBERS).await;

    let watch = QuorumWatch::start(&env).await;
    let output = run(
        &env,
        &["restart", "etcd", "1", "--soak", "5s", "--gate-exec", HEALTH_GATE, "--yes", "-o", "json"],
    )
    .await;
    let report = watch.stop();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    report.assert_held(ELECTION);

    let events = events_of(&output);
    let pods = |event: &str| {
        named(&events, event).iter().map(|e| e["pod"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(pods("evicted"), ["etcd-1"]);
    assert_eq!(pods("soaked"), ["etcd-1"]);
    assert_eq!(pods("gatePassed"), ["etcd-1"]);
    let pods_after = uids(&env).await;
    assert_ne!(pods_after["etcd-1"], pods_before["etcd-1"], "etcd-1 was restarted");
    assert_eq!(pods_after["etcd-0"], pods_before["etcd-0"], "etcd-0 was not touched");
    assert_eq!(pods_after["etcd-2"], pods_before["etcd-2"], "etcd-2 was not touched");
    etcd.assert_keys(&MEMBERS, "before", &keys).await;
    assert_eq!(member_ids(&etcd, &MEMBERS).await, ids_before, "etcd-1 came back as itself, on its own data");
}

/// `drain` of a real node: every etcd member's volume is a local volume pinned to its node, so
/// a member on the drained node could start nowhere else; the drain is refused before the
/// cordon, naming the member and the choices. Nothing moved (every pod keeps its uid), the
/// node takes pods still, and every key is read back from each member. (No QuorumWatch: the
/// refusal comes before the watch has polled enough to judge; nothing was taken down.)
#[tokio::test]
async fn drain_of_a_real_node_refuses_to_move_a_member_pinned_to_it_and_nothing_moves() {
    let (_share, env) = etcd::real_env("real-drain", false).await;
    let etcd = etcd::deploy(&env).await;
    let keys = etcd.put_keys("etcd-0", "before", 20).await;
    let pods_before = uids(&env).await;
    let node = env.api::<Pod>().get("etcd-0").await.unwrap().spec.unwrap().node_name.unwrap();

    let output = run(&env, &["drain", &node, "--yes"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to drain: ")
            && stderr.contains("cannot start anywhere else, its volume")
            && stderr.contains(&format!("is pinned to {node}, which is being drained"))
            && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    assert_eq!(uids(&env).await, pods_before, "nothing moved");
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(env.client.clone());
    assert_ne!(nodes.get(&node).await.unwrap().spec.unwrap().unschedulable, Some(true), "not cordoned");
    etcd.assert_keys(&MEMBERS, "before", &keys).await;
}
