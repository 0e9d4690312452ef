//! Guided rollouts of OnDelete StatefulSets: the real controller never replaces an OnDelete
//! pod by itself, so the plugin evicts each (pods/eviction, with the real disruption
//! controller computing what a PodDisruptionBudget allows) and the controller re-creates it on
//! the update revision.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use crate::support::{Env, JOURNAL, Lines, Sts, images, sts};

fn v(image: &str) -> String {
    format!("example.invalid/{image}")
}

fn on_delete(name: &str, replicas: i32) -> Sts {
    Sts { on_delete: true, ..Sts::new(name, replicas) }
}

fn events(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn pods_of_event(events: &[Value], kind: &str) -> Vec<String> {
    events.iter().filter(|e| e["event"] == kind).map(|e| e["pod"].as_str().unwrap().to_owned()).collect()
}

async fn uids(env: &Env) -> BTreeMap<String, String> {
    env.pods().await.iter().map(|p| (p.name_any(), p.uid().unwrap())).collect()
}

/// Reads the rollout's events until step `step` is done; the events read.
async fn until_step_done(lines: &mut Lines, step: u64) -> Vec<Value> {
    let mut seen = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        let event: Value = serde_json::from_str(&line).unwrap();
        let done = event["event"] == "stepDone" && event["step"] == step;
        seen.push(event);
        if done {
            return seen;
        }
    }
    panic!("the rollout ended before step {step} was done: {seen:?}");
}

async fn image_of(env: &Env, pod: &str) -> String {
    images(env).await.into_iter().find(|(p, _)| p == pod).map(|(_, i)| i).unwrap_or_default()
}

#[tokio::test]
async fn an_on_delete_rollout_replaces_each_pod_once_highest_ordinal_first() {
    let env = Env::new("ondelete-roll").await;
    env.statefulset(&on_delete("web", 4)).await;
    let before = uids(&env).await;
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--yes", "-o", "json"])
        .args(["--timeout", "60s"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events(&output.stdout);
    let plan = &events[0];
    assert_eq!((plan["event"].as_str(), plan["replace"].as_str()), (Some("plan"), Some("eviction")));
    let planned: Vec<Vec<i64>> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["ordinals"].as_array().unwrap().iter().map(|o| o.as_i64().unwrap()).collect())
        .collect();
    assert_eq!(planned, [vec![3], vec![2], vec![1, 0]]);
    assert_eq!(pods_of_event(&events, "podEvicted"), ["web-3", "web-2", "web-1", "web-0"], "{events:?}");
    assert!(pods_of_event(&events, "podDeleted").is_empty(), "evicted, never deleted: {events:?}");
    assert_eq!(events.last().unwrap()["event"], "finished");
    // Each pod replaced exactly once: a new uid for each, and no eviction twice.
    let after = uids(&env).await;
    assert!(
        before.iter().all(|(name, uid)| after.get(name).is_some_and(|now| now != uid)),
        "{before:?} {after:?}"
    );
    assert!(env.all_pods_run(v("app:v2")).await, "{:?}", images(&env).await);
    let web = sts(&env, "web").await;
    assert!(!web.annotations().contains_key(JOURNAL));
    assert_eq!(
        web.spec.unwrap().update_strategy.unwrap().type_.as_deref(),
        Some("OnDelete"),
        "strategy untouched"
    );
}

/// Stopped half-way (the process killed after step 2), then aborted: the template is restored
/// and the two updated pods are evicted back, highest first; the others are never touched.
#[tokio::test]
async fn an_on_delete_rollout_aborted_half_way_evicts_the_updated_pods_back() {
    let env = Env::new("ondelete-abort").await;
    env.statefulset(&on_delete("web", 4)).await;
    let image = format!("app={}", v("app:v2"));
    let args = ["rollout", "web", "--image", &image, "--yes", "-o", "json", "--timeout", "60s"];
    let (mut child, mut lines) = crate::support::rollout_until(&env, &args, "plan").await;
    until_step_done(&mut lines, 2).await;
    child.kill().await.unwrap();
    let halfway = uids(&env).await;
    assert_eq!(image_of(&env, "web-3").await, v("app:v2"));
    assert_eq!(image_of(&env, "web-2").await, v("app:v2"));
    assert!(sts(&env, "web").await.annotations().contains_key(JOURNAL));

    // status points at the way out that works.
    let status = env.plugin().args(["status", "web"]).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains(&format!("`kubectl stateful rollout web -n {}` resumes it", env.ns)), "{text}");

    let output = env
        .plugin()
        .args(["rollout", "web", "--abort", "--yes", "-o", "json", "--timeout", "60s"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events(&output.stdout);
    assert_eq!(pods_of_event(&events, "podEvicted")[..2], ["web-3", "web-2"], "{events:?}");
    assert_eq!(pods_of_event(&events, "podRolledBack"), ["web-3", "web-2"], "{events:?}");
    assert_eq!(events.last().unwrap()["event"], "aborted");
    assert!(env.all_pods_run(v("app:v1")).await, "{:?}", images(&env).await);
    let after = uids(&env).await;
    assert_eq!(
        (after["web-0"].clone(), after["web-1"].clone()),
        (halfway["web-0"].clone(), halfway["web-1"].clone())
    );
    assert!(!sts(&env, "web").await.annotations().contains_key(JOURNAL));
}

/// A rollout killed after its first step, run again without flags, goes on from the pods as
/// they stand: it evicts only the pods not yet replaced and keeps its step numbers.
#[tokio::test]
async fn an_interrupted_on_delete_rollout_resumes_where_the_pods_stand() {
    let env = Env::new("ondelete-resume").await;
    env.statefulset(&on_delete("web", 3)).await;
    let image = format!("app={}", v("app:v2"));
    let args = ["rollout", "web", "--image", &image, "--yes", "-o", "json", "--timeout", "60s"];
    let (mut child, mut lines) = crate::support::rollout_until(&env, &args, "plan").await;
    until_step_done(&mut lines, 1).await;
    child.kill().await.unwrap();

    let output =
        env.plugin().args(["rollout", "web", "--yes", "-o", "json", "--timeout", "60s"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events(&output.stdout);
    let numbers: Vec<u64> =
        events[0]["steps"].as_array().unwrap().iter().map(|s| s["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [2, 3], "{events:?}");
    assert_eq!(pods_of_event(&events, "podEvicted"), ["web-1", "web-0"], "{events:?}");
    assert!(env.all_pods_run(v("app:v2")).await, "{:?}", images(&env).await);
    assert!(!sts(&env, "web").await.annotations().contains_key(JOURNAL));
}

/// The Eviction API honours a PodDisruptionBudget: with maxUnavailable 0 the eviction is
/// refused (429), reported with the budget's reason, and retried until the budget allows it.
#[tokio::test]
async fn an_on_delete_eviction_waits_for_the_pod_disruption_budget() {
    let env = Env::new("ondelete-pdb").await;
    env.statefulset(&on_delete("web", 3)).await;
    let budget: PodDisruptionBudget = env
        .create(json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "web"},
            "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "web"}}}
        }))
        .await;
    let image = format!("app={}", v("app:v2"));
    let args = ["rollout", "web", "--image", &image, "--yes", "-o", "json", "--timeout", "60s"];
    let (mut child, mut lines) = crate::support::rollout_until(&env, &args, "evictionRefused").await;
    assert_eq!(image_of(&env, "web-2").await, v("app:v1"), "nothing evicted under the budget");
    let relax = json!({"spec": {"maxUnavailable": 1}});
    env.api::<PodDisruptionBudget>()
        .patch(&budget.name_any(), &PatchParams::default(), &Patch::Merge(&relax))
        .await
        .unwrap();
    let mut rest = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert_eq!(pods_of_event(&rest, "podEvicted"), ["web-2", "web-1", "web-0"], "{rest:?}");
    assert!(env.all_pods_run(v("app:v2")).await, "{:?}", images(&env).await);
}

/// `--by-zone`: pods on this test's own nodes in two zones; the plugin reads each pod's node
/// zone and replaces one zone after the other, never two zones in one step.
#[tokio::test]
async fn by_zone_replaces_one_zone_at_a_time() {
    let env = Env::new("ondelete-zones").await;
    let nodes = env.own_nodes(3).await;
    for (node, zone) in nodes.iter().zip(["zone-a", "zone-b", "zone-a"]) {
        env.label_node(node, json!({"topology.kubernetes.io/zone": zone})).await;
    }
    env.statefulset(&Sts { pool: Some(env.ns.clone()), ..on_delete("web", 4) }).await;
    let zones: BTreeMap<String, String> = {
        let node_zone: BTreeMap<&str, &str> =
            nodes.iter().map(String::as_str).zip(["zone-a", "zone-b", "zone-a"]).collect();
        env.pods()
            .await
            .iter()
            .map(|p: &Pod| {
                (p.name_any(), node_zone[p.spec.as_ref().unwrap().node_name.as_deref().unwrap()].to_owned())
            })
            .collect()
    };
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--by-zone", "--steps", "100%"])
        .args(["--yes", "-o", "json", "--timeout", "60s"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events(&output.stdout);
    for step in events[0]["steps"].as_array().unwrap() {
        let in_zones: BTreeSet<&str> = step["ordinals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| zones[&format!("web-{}", o.as_i64().unwrap())].as_str())
            .collect();
        assert_eq!(in_zones.len(), 1, "step {step} spans {in_zones:?}; zones {zones:?}");
    }
    // One zone after the other, the zone of web-3 first.
    let order: Vec<String> = pods_of_event(&events, "podEvicted").iter().map(|p| zones[p].clone()).collect();
    let mut runs = order.clone();
    runs.dedup();
    assert_eq!(runs.len(), order.iter().collect::<BTreeSet<_>>().len(), "a zone came back: {order:?}");
    assert_eq!(order.first(), Some(&zones["web-3"]), "{order:?}");
    assert!(env.all_pods_run(v("app:v2")).await, "{:?}", images(&env).await);
}

fn strategy(web: &k8s_openapi::api::apps::v1::StatefulSet) -> Value {
    serde_json::to_value(web.spec.as_ref().unwrap().update_strategy.clone()).unwrap()
}

/// `--evict` on a RollingUpdate set under a PodDisruptionBudget: OnDelete while it runs, each
/// pod evicted (refused while the budget allows nothing), and the strategy from before (with its
/// partition) restored at the end, when the controller promotes the new revision.
#[tokio::test]
async fn evict_rolls_a_rolling_update_set_out_by_eviction_and_restores_its_strategy() {
    let env = Env::new("evict-roll").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let before = strategy(&sts(&env, "web").await);
    let budget: PodDisruptionBudget = env
        .create(json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "web"},
            "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "web"}}}
        }))
        .await;
    let image = format!("app={}", v("app:v2"));
    let args = ["rollout", "web", "--image", &image, "--evict", "--yes", "-o", "json", "--timeout", "60s"];
    let (mut child, mut lines) = crate::support::rollout_until(&env, &args, "evictionRefused").await;
    assert_eq!(strategy(&sts(&env, "web").await), json!({"type": "OnDelete"}), "switched for the run");
    let relax = json!({"spec": {"maxUnavailable": 1}});
    env.api::<PodDisruptionBudget>()
        .patch(&budget.name_any(), &PatchParams::default(), &Patch::Merge(&relax))
        .await
        .unwrap();
    let mut rest = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    assert_eq!(child.wait().await.unwrap().code(), Some(0), "{rest:?}");
    assert_eq!(pods_of_event(&rest, "podEvicted"), ["web-2", "web-1", "web-0"], "{rest:?}");
    assert!(env.all_pods_run(v("app:v2")).await, "{:?}", images(&env).await);
    let web = sts(&env, "web").await;
    assert_eq!(strategy(&web), before, "the strategy from before, partition included");
    assert!(!web.annotations().contains_key(JOURNAL));
    // Back under RollingUpdate with every pod updated, the controller promotes the revision.
    crate::support::wait_until(std::time::Duration::from_secs(30), || async {
        let status = sts(&env, "web").await.status.unwrap();
        status.current_revision.is_some() && status.current_revision == status.update_revision
    })
    .await;
}

/// An `--evict` rollout killed after its first pod, then aborted: the evicted pod comes back on
/// the old revision, and the RollingUpdate strategy is restored.
#[tokio::test]
async fn an_aborted_evict_rollout_restores_the_rolling_update_strategy() {
    let env = Env::new("evict-abort").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let before = strategy(&sts(&env, "web").await);
    let image = format!("app={}", v("app:v2"));
    let args = ["rollout", "web", "--image", &image, "--evict", "--yes", "-o", "json", "--timeout", "60s"];
    let (mut child, mut lines) = crate::support::rollout_until(&env, &args, "plan").await;
    until_step_done(&mut lines, 1).await;
    child.kill().await.unwrap();
    assert_eq!(strategy(&sts(&env, "web").await), json!({"type": "OnDelete"}));
    let output = env
        .plugin()
        .args(["rollout", "web", "--abort", "--yes", "-o", "json", "--timeout", "60s"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(pods_of_event(&events(&output.stdout), "podRolledBack"), ["web-2"]);
    assert!(env.all_pods_run(v("app:v1")).await, "{:?}", images(&env).await);
    let web = sts(&env, "web").await;
    assert_eq!(strategy(&web), before);
    assert!(!web.annotations().contains_key(JOURNAL));
}

/// Two PodDisruptionBudgets over the pods: the Eviction API would refuse every pod, so the
/// rollout is refused before its first write, naming both; an abort is refused the same way.
#[tokio::test]
async fn two_budgets_over_the_pods_are_refused_before_the_first_write() {
    let env = Env::new("ondelete-twopdb").await;
    env.statefulset(&on_delete("web", 2)).await;
    for name in ["a", "b"] {
        let _: PodDisruptionBudget = env
            .create(json!({
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": name},
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}
            }))
            .await;
    }
    let before = env.versions().await;
    let image = format!("app={}", v("app:v2"));
    let output = env.plugin().args(["rollout", "web", "--image", &image, "--yes"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("selected by PodDisruptionBudgets a and b") && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    assert_eq!(env.versions().await, before, "nothing changed");
    // --ignore-pdb deletes instead of evicting: it goes through.
    let output =
        env.plugin().args(["rollout", "web", "--image", &image, "--ignore-pdb", "--yes"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(env.all_pods_run(v("app:v2")).await);
}
