//! `status` says what the StatefulSet controller, the garbage collector and the scheduler see,
//! against the real ones: strays named like ordinals, a claim another StatefulSet owns, a pod on
//! a deleted Node, a pod Ready but not yet available, a volume pinned where the pod cannot run.
//! Every command a new warning prints is run here as printed, from a shell with no
//! `$KUBECONFIG` (the plugin ran with `--kubeconfig`, `--context` and `-n`).

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};

use crate::support::{Env, Sts, commands, current_context, json_of, run_as_printed, wait_until};

fn status(env: &Env, name: &str) -> Value {
    json_of(&env.plugin_with_flags().args(["status", name, "-o", "json"]).output().unwrap())
}

/// `status NAME` once it raises `code` (the controllers act in their own time), within `timeout`.
async fn status_with(env: &Env, name: &str, code: &str, timeout: Duration) -> Value {
    let mut found = Value::Null;
    wait_until(timeout, || {
        found = status(env, name);
        std::future::ready(codes(&found).iter().any(|c| c == code))
    })
    .await;
    found
}

fn codes(status: &Value) -> Vec<String> {
    status["warnings"].as_array().unwrap().iter().map(|w| w["code"].as_str().unwrap().to_owned()).collect()
}

fn warning(status: &Value, code: &str) -> String {
    let found = status["warnings"].as_array().unwrap().iter().find(|w| w["code"] == code);
    found.unwrap_or_else(|| panic!("no {code}: {status:#}"))["message"].as_str().unwrap().to_owned()
}

/// The flags every printed command must carry for this environment.
fn flags(env: &Env) -> String {
    format!(
        "-n {} --context {} --kubeconfig {}",
        env.ns,
        current_context(&env.kubeconfig),
        env.kubeconfig.display()
    )
}

/// A pod named `name` with `labels`, created by hand (nobody's).
async fn bare_pod(env: &Env, name: &str, labels: Value) -> Pod {
    env.create(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "example.invalid/app:v1"}], "terminationGracePeriodSeconds": 0}
    }))
    .await
}

async fn pod_opt(env: &Env, name: &str) -> Option<Pod> {
    env.api::<Pod>().get_opt(name).await.unwrap()
}

fn controlled(pod: &Pod) -> bool {
    pod.owner_references().iter().any(|o| o.controller == Some(true))
}

/// Three strays, as the controller treats them: `web-01` created before `web` (it adopts it and
/// never creates `web-1`), `db-00` added to a running OnDelete `db` (it adopts it; the two take
/// turns at ordinal 0), and `cache-1` with other labels (its name keeps the controller from
/// creating `cache`'s own). Each warning's advice, run as printed, gets the set going again.
#[tokio::test]
async fn stray_pods_are_what_the_controller_says_they_are() {
    let env = Env::new("status-strays").await;
    bare_pod(&env, "web-01", json!({"app": "web"})).await;
    bare_pod(&env, "cache-1", json!({"app": "backup"})).await;
    env.statefulset(&Sts { wait: false, ..Sts::new("web", 3) }).await;
    env.statefulset(&Sts { wait: false, ..Sts::new("cache", 2) }).await;
    env.statefulset(&Sts { on_delete: true, ..Sts::new("db", 2) }).await;
    bare_pod(&env, "db-00", json!({"app": "db"})).await;
    // The controller adopts web-01 and db-00, and counts them.
    wait_until(Duration::from_secs(60), || async {
        let web = pod_opt(&env, "web-01").await.is_some_and(|p| controlled(&p));
        web && pod_opt(&env, "db-00").await.is_some_and(|p| controlled(&p))
    })
    .await;
    let web = env.api::<StatefulSet>().get("web").await.unwrap();
    assert_eq!(web.status.unwrap().replicas, 2, "web-0 and web-01: the controller counts the stray");
    assert!(pod_opt(&env, "web-1").await.is_none(), "and never creates web-1");

    // web: web-01 holds ordinal 1.
    let web = status_with(&env, "web", "StrayPodHoldsOrdinal", Duration::from_secs(30)).await;
    assert_eq!(
        web["strayPods"],
        json!([{"name": "web-01", "ordinal": 1, "place": "holdsOrdinal", "adopted": true, "controlledBy": null}])
    );
    assert!(
        !web["warnings"].as_array().unwrap().iter().any(|w| w["message"]
            .as_str()
            .unwrap()
            .contains("has no pod web-1: the controller has not created it yet")),
        "{web:#}"
    );
    let message = warning(&web, "StrayPodHoldsOrdinal");
    assert!(
        message.starts_with("ordinal 1 has no pod web-1, and the controller will not create it"),
        "{message}"
    );
    let printed = commands(&message);
    let f = flags(&env).replace(&format!("-n {} ", env.ns), "");
    assert_eq!(
        printed,
        [
            format!("kubectl -n {} {f} label pod web-01 app-", env.ns),
            format!("kubectl -n {} {f} delete pod web-01", env.ns)
        ]
    );
    // status -A reads what it must to see it too (the controller never labelled web-01).
    let all = json_of(&env.plugin_with_flags().args(["status", "-A", "-o", "json"]).output().unwrap());
    let listed = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["namespace"] == env.ns.as_str() && s["name"] == "web")
        .unwrap();
    assert_eq!(listed["strayPods"], web["strayPods"]);
    // rollout's preflight refuses for the same reason, before it changes anything.
    let rollout = env
        .plugin_with_flags()
        .args(["rollout", "web", "--image", "app=example.invalid/app:v2", "--yes"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&rollout.stderr);
    assert!(!rollout.status.success(), "{said}");
    assert!(said.contains("web cannot be rolled out now: pod web-01 stands in web-1's place"), "{said}");
    let image =
        env.api::<StatefulSet>().get("web").await.unwrap().spec.unwrap().template.spec.unwrap().containers[0]
            .image
            .clone();
    assert_eq!(image.as_deref(), Some("example.invalid/app:v1"), "nothing changed");
    run_as_printed(printed[0]);
    env.wait_ready("web", Duration::from_secs(60)).await;
    assert!(!controlled(&pod_opt(&env, "web-01").await.unwrap()), "released, still running");
    assert_eq!(codes(&status(&env, "web")), Vec::<String>::new());
    run_as_printed(printed[1]);

    // cache: cache-1 is someone else's pod.
    let cache = status_with(&env, "cache", "PodNameTaken", Duration::from_secs(30)).await;
    assert_eq!(codes(&cache), ["PodNameTaken"], "neither PodMissing nor the failed create: {cache:#}");
    assert_eq!(cache["strayPods"][0]["place"], "nameTaken");
    let message = warning(&cache, "PodNameTaken");
    assert!(message.contains("a pod named cache-1 exists, but nothing controls it and cache's selector does not match its labels"), "{message}");
    run_as_printed(commands(&message)[0]);
    env.wait_ready("cache", Duration::from_secs(60)).await;
    assert!(controlled(&pod_opt(&env, "cache-1").await.unwrap()), "cache's own cache-1 now");

    // db: db-00 takes turns with db-0 (OnDelete: nothing deletes it).
    let db = status(&env, "db");
    assert_eq!(
        db["strayPods"],
        json!([{"name": "db-00", "ordinal": 0, "place": "sharesOrdinal", "adopted": true, "controlledBy": null}])
    );
    let message = warning(&db, "StrayPod");
    assert!(message.contains("in some of its syncs it puts db-00 in db-0's place"), "{message}");
    let counted = env.api::<StatefulSet>().get("db").await.unwrap().status.unwrap().replicas;
    assert_eq!(counted, 2, "counted instead of db-0, not as well");
    let printed = commands(&message);
    run_as_printed(printed[0]);
    wait_until(Duration::from_secs(30), || async { !controlled(&pod_opt(&env, "db-00").await.unwrap()) })
        .await;
    assert_eq!(codes(&status(&env, "db")), Vec::<String>::new());
    run_as_printed(printed[1]);
    wait_until(Duration::from_secs(30), || async { pod_opt(&env, "db-00").await.is_none() }).await;
}

/// `web` (template `data-x`) and `x-web` (template `data`, whenDeleted: Delete) both name a
/// claim `data-x-web-0`: web-0 mounts the one x-web owns. status raises it while x-web still
/// stands, with how to keep the data (run as printed); deleting x-web then has the garbage
/// collector delete the claim under web-0, which status raises too, and the data stays.
#[tokio::test]
async fn a_claim_another_statefulset_owns_is_raised_before_the_garbage_collector_takes_it() {
    let env = Env::new("status-collide").await;
    let mut x_web = Sts::new("x-web", 1).manifest();
    x_web["spec"]["persistentVolumeClaimRetentionPolicy"] =
        json!({"whenDeleted": "Delete", "whenScaled": "Retain"});
    env.create::<k8s_openapi::api::core::v1::Service>(json!({
        "metadata": {"name": "x-web"},
        "spec": {"clusterIP": "None", "selector": {"app": "x-web"}, "ports": [{"port": 80}]}
    }))
    .await;
    env.create::<StatefulSet>(x_web).await;
    env.wait_ready("x-web", Duration::from_secs(60)).await;
    let claims = env.api::<PersistentVolumeClaim>();
    wait_until(Duration::from_secs(60), || async {
        claims
            .get_opt("data-x-web-0")
            .await
            .unwrap()
            .is_some_and(|c| c.owner_references().iter().any(|o| o.name == "x-web"))
    })
    .await;
    env.statefulset(&Sts { templates: vec!["data-x".into()], ..Sts::new("web", 1) }).await;

    let web = status(&env, "web");
    assert_eq!(codes(&web), ["PvcOwnedElsewhere"], "{web:#}");
    let message = warning(&web, "PvcOwnedElsewhere");
    assert!(
        message.starts_with("PVC data-x-web-0 of web-0 has an ownerReference to StatefulSet x-web and none to web, so the garbage collector deletes it when that is deleted"),
        "{message}"
    );
    assert!(message.contains("its name is also the claim x-web-0 gives a pod of its own"), "{message}");
    assert!(message.contains("(pod x-web-0 mounts it too: two pods share one volume)"), "{message}");
    let volume = web["ordinals"][0]["pvcs"][0]["volume"].as_str().unwrap().to_owned();
    let printed = commands(&message);
    assert_eq!(printed.len(), 1, "{message}");
    assert!(printed[0].contains(&flags(&env).replace(&format!("-n {} ", env.ns), "")), "{}", printed[0]);
    run_as_printed(printed[0]);
    let volumes: Api<PersistentVolume> = Api::all(env.client.clone());
    let retained = volumes.get(&volume).await.unwrap();
    assert_eq!(retained.spec.unwrap().persistent_volume_reclaim_policy.as_deref(), Some("Retain"));

    // Deleting x-web: the garbage collector deletes the claim web-0 mounts.
    env.api::<StatefulSet>().delete("x-web", &DeleteParams::background()).await.unwrap();
    wait_until(Duration::from_secs(60), || async {
        claims.get_opt("data-x-web-0").await.unwrap().is_some_and(|c| c.metadata.deletion_timestamp.is_some())
    })
    .await;
    let web = status(&env, "web");
    let message = warning(&web, "PvcBeingDeleted");
    assert!(message.starts_with("PVC data-x-web-0 of web-0 is being deleted"), "{message}");
    assert!(
        message.contains(&format!("its volume {volume} is Retain, so the data stays on it")),
        "{message}"
    );
    // Once web-0 goes, the claim goes: the data stays on the volume, Released.
    env.api::<Pod>().delete("web-0", &DeleteParams::default()).await.unwrap();
    wait_until(Duration::from_secs(60), || async {
        volumes.get(&volume).await.unwrap().status.and_then(|s| s.phase).as_deref() == Some("Released")
    })
    .await;
    volumes.delete(&volume, &DeleteParams::default()).await.unwrap();
}

/// A pod whose Node object is deleted: status says so at once; the pod garbage collector then
/// force-deletes it, as the warning says, and web re-creates it.
#[tokio::test]
async fn a_pod_on_a_deleted_node_is_raised_until_the_pod_garbage_collector_acts() {
    let env = Env::new("status-node-deleted").await;
    let node = env.own_nodes(1).await.remove(0);
    env.statefulset(&Sts { pool: Some(env.ns.clone()), ..Sts::new("web", 1) }).await;
    let before = pod_opt(&env, "web-0").await.unwrap().uid();
    let nodes: Api<Node> = Api::all(env.client.clone());
    nodes.delete(&node, &DeleteParams::default()).await.unwrap();
    wait_until(Duration::from_secs(10), || async { nodes.get_opt(&node).await.unwrap().is_none() }).await;

    let web = status(&env, "web");
    assert_eq!(web["ordinals"][0]["pod"]["nodeExists"], false);
    let message = warning(&web, "PodOnDeletedNode");
    assert!(
        message.starts_with(&format!("pod web-0 is bound to node {node}, which is not in the API any more")),
        "{message}"
    );
    let table = env.plugin_with_flags().args(["status", "web"]).output().unwrap();
    assert!(String::from_utf8_lossy(&table.stdout).contains(&format!("{node} (deleted)")));
    // What the warning says happens next: the pod garbage collector deletes it (after its 40 s
    // quarantine), and the StatefulSet re-creates web-0.
    wait_until(Duration::from_secs(150), || async {
        pod_opt(&env, "web-0").await.is_some_and(|p| p.uid() != before)
    })
    .await;
    let web = status(&env, "web");
    assert!(!codes(&web).contains(&"PodOnDeletedNode".to_owned()), "{web:#}");
}

/// minReadySeconds: web-0 is Ready, but the controller does not count it available, and does
/// not create web-1, until 600 s later; status says so.
#[tokio::test]
async fn a_pod_ready_but_not_yet_available_is_shown_as_the_controller_counts_it() {
    let env = Env::new("status-min-ready").await;
    env.statefulset(&Sts { min_ready_seconds: Some(600), wait: false, ..Sts::new("web", 2) }).await;
    let mut web = status(&env, "web");
    wait_until(Duration::from_secs(60), || {
        web = status(&env, "web");
        std::future::ready(web["ordinals"][0]["pod"]["ready"] == true)
    })
    .await;
    let pod = &web["ordinals"][0]["pod"];
    assert_eq!((pod["ready"].as_bool(), pod["available"].as_bool()), (Some(true), Some(false)));
    assert!(pod["availableAt"].is_string());
    assert_eq!(web["replicas"]["available"], 0);
    let message = warning(&web, "PodNotAvailable");
    assert!(
        message.starts_with("pod web-0 is Ready but not yet available: minReadySeconds is 600"),
        "{message}"
    );
    assert!(message.contains("until then the controller creates no pod after it"), "{message}");
    // The controller agrees, once it has written what it saw: one Ready, nothing available, and
    // no web-1.
    let sets = env.api::<StatefulSet>();
    wait_until(Duration::from_secs(30), || async {
        sets.get("web").await.unwrap().status.and_then(|s| s.ready_replicas) == Some(1)
    })
    .await;
    let sts = sets.get("web").await.unwrap().status.unwrap();
    assert_eq!(sts.available_replicas.unwrap_or(0), 0);
    assert!(pod_opt(&env, "web-1").await.is_none());
    let table =
        String::from_utf8(env.plugin_with_flags().args(["status", "web"]).output().unwrap().stdout).unwrap();
    assert!(table.contains("yes (available in "), "{table}");
}

/// web-0's volume is pinned to a node that no longer exists, db-0's to one that is cordoned:
/// neither can start anywhere, status says why and how out, and the way out, run as printed,
/// starts it (on a new, empty claim for web; on its node again for db).
#[tokio::test]
async fn a_pod_whose_volume_is_pinned_where_it_cannot_run_says_so_and_how_out() {
    let env = Env::new("status-pinned").await;
    let gone = format!("{}-gone", env.ns);
    let web_volume = env.pinned_claim("data-web-0", &gone).await;
    env.statefulset(&Sts { wait: false, ..Sts::new("web", 1) }).await;
    let node = env.own_nodes(1).await.remove(0);
    let db_volume = env.pinned_claim("data-db-0", &node).await;
    let kubectl = |args: &[&str]| {
        let out = std::process::Command::new("kubectl")
            .env("KUBECONFIG", &env.kubeconfig)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    kubectl(&["cordon", &node]);
    env.statefulset(&Sts { wait: false, pool: Some(env.ns.clone()), ..Sts::new("db", 1) }).await;

    let web = status_with(&env, "web", "VolumeNodeUnavailable", Duration::from_secs(60)).await;
    let message = warning(&web, "VolumeNodeUnavailable");
    assert!(
        message.starts_with(&format!(
            "web-0 cannot start anywhere: its volume {web_volume} (PVC data-web-0) is pinned to {gone}, which is gone"
        )),
        "{message}"
    );
    let printed = commands(&message);
    assert_eq!(printed.len(), 1, "{message}");
    let before = env.api::<PersistentVolumeClaim>().get("data-web-0").await.unwrap().uid();
    run_as_printed(printed[0]);
    env.wait_ready("web", Duration::from_secs(90)).await;
    let after = env.api::<PersistentVolumeClaim>().get("data-web-0").await.unwrap().uid();
    assert_ne!(before, after, "a new claim, provisioned where web-0 runs");
    assert_eq!(codes(&status(&env, "web")), Vec::<String>::new());

    let db = status_with(&env, "db", "VolumeNodeUnavailable", Duration::from_secs(60)).await;
    let message = warning(&db, "VolumeNodeUnavailable");
    assert!(message.contains(&format!("is pinned to {node}, which is cordoned")), "{message}");
    let printed = commands(&message);
    assert!(printed[0].ends_with(&format!("uncordon {node}")), "{message}");
    run_as_printed(printed[0]);
    env.wait_ready("db", Duration::from_secs(90)).await;
    let volumes: Api<PersistentVolume> = Api::all(env.client.clone());
    for volume in [web_volume, db_volume] {
        let _ = volumes.delete(&volume, &DeleteParams::default()).await;
    }
}

/// The advice status gave before (here: the orphans' prune) carries the run's flags too, and
/// runs as printed from a shell that has none of them.
#[tokio::test]
async fn older_advice_carries_the_runs_flags_and_runs_as_printed() {
    let env = Env::new("status-advice-flags").await;
    env.statefulset(&Sts::new("web", 2)).await;
    env.scale("web", 1).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    let web = status_with(&env, "web", "OrphanedPvcs", Duration::from_secs(30)).await;
    let message = warning(&web, "OrphanedPvcs");
    let printed = commands(&message);
    assert_eq!(printed, [format!("kubectl stateful pvc prune web {}", flags(&env))], "{message}");
    // Without --yes and a terminal, a prune plans and deletes nothing.
    let plan = run_as_printed(printed[0]);
    assert!(plan.contains("data-web-1"), "{plan}");
    assert_eq!(env.pvc_names().await, ["data-web-0", "data-web-1"]);
}

/// `--watch` sees what `status` sees, though it watches only the set's own pods: a pod of other
/// labels holding a live ordinal's name (read while an ordinal has no pod), and the controller's
/// failures (its events, read again every 10 s), never "Events are not readable".
#[tokio::test]
async fn watch_sees_a_pod_holding_an_ordinals_name() {
    use tokio::io::AsyncBufReadExt;
    let env = Env::new("status-watch-taken").await;
    bare_pod(&env, "web-1", json!({"app": "backup"})).await;
    env.statefulset(&Sts { wait: false, ..Sts::new("web", 2) }).await;
    let mut child = env.spawn_plugin(&["status", "web", "--watch", "-o", "json"]).spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let line =
            tokio::time::timeout_at(deadline, lines.next_line()).await.expect("a frame with PodNameTaken");
        let frame: Value = serde_json::from_str(&line.unwrap().unwrap()).unwrap();
        assert!(
            frame["notes"].as_array().unwrap().iter().all(|n| !n.as_str().unwrap().contains("Events")),
            "{frame:#}"
        );
        if codes(&frame).contains(&"PodNameTaken".to_owned()) {
            assert_eq!(frame["strayPods"][0]["name"], "web-1");
            break;
        }
    }
    child.kill().await.unwrap();
}

/// A pod on a node that went down, its volume pinned to that node: status says a replacement
/// could start nowhere else, and the way out it prints (deleting the claim too) works as printed
/// (the claim goes once the pod is gone).
#[tokio::test]
async fn a_pod_on_a_down_node_whose_volume_is_pinned_there_says_where_a_replacement_could_start() {
    let env = Env::new("status-pinned-down").await;
    let node = env.own_nodes(1).await.remove(0);
    let volume = env.pinned_claim("data-kv-0", &node).await;
    env.statefulset(&Sts { pool: Some(env.ns.clone()), ..Sts::new("kv", 1) }).await;
    env.node_down(&node).await;
    let kv = status_with(&env, "kv", "VolumeNodeUnavailable", Duration::from_secs(90)).await;
    let message = warning(&kv, "VolumeNodeUnavailable");
    assert!(
        message.starts_with(&format!(
            "a replacement of kv-0 could start nowhere but on {node}: its volume {volume} (PVC data-kv-0) is pinned to \
             {node}, which is NotReady"
        )),
        "{message}"
    );
    let printed = commands(&message);
    assert_eq!(printed.len(), 1, "{message}");
    run_as_printed(printed[0]);
    let claims = env.api::<PersistentVolumeClaim>();
    let claim = claims.get("data-kv-0").await.unwrap();
    assert!(claim.metadata.deletion_timestamp.is_some(), "being deleted, held while kv-0 uses it");
    assert!(codes(&status(&env, "kv")).contains(&"PvcBeingDeleted".to_owned()));
    let volumes: Api<PersistentVolume> = Api::all(env.client.clone());
    let _ = volumes.delete(&volume, &DeleteParams::default()).await;
}
