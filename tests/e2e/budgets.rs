//! PodDisruptionBudgets are matched against the pods themselves (issue #28, kind 2): a budget
//! over a label only one pod carries (`role: primary`, as an operator sets it) holds the step
//! that takes that pod down, and the eviction pre-check; `--on-failure abort` does not take
//! down a pod a budget protects; a pod already down is no disruption; `--ignore-pdb` on a
//! resume is honoured; a plan says when its first step cannot start. The real disruption
//! controller computes what each budget allows.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use crate::support::{Env, JOURNAL, Sts, commands, images, partition, run_as_printed, sts, wait_until};

fn v(image: &str) -> String {
    format!("example.invalid/{image}")
}

fn events(output: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

fn named<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// Labels `pod` as an operator labels its primary.
async fn label_primary(env: &Env, pod: &str) {
    let patch = json!({"metadata": {"labels": {"role": "primary"}}});
    env.api::<Pod>().patch(pod, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
}

/// Waits until the disruption controller has evaluated budget `name`'s current spec and allows
/// `allowed` disruptions.
async fn budget_allows(env: &Env, name: &str, allowed: i32) {
    let budgets = env.api::<PodDisruptionBudget>();
    wait_until(Duration::from_secs(60), || async {
        let pdb = budgets.get(name).await.unwrap();
        let generation = pdb.metadata.generation;
        pdb.status.is_some_and(|s| s.observed_generation >= generation && s.disruptions_allowed == allowed)
    })
    .await;
}

async fn budget(env: &Env, name: &str, selector: Value, rule: Value, allowed: i32) {
    let mut spec = json!({"selector": {"matchLabels": selector}});
    spec.as_object_mut().unwrap().extend(rule.as_object().unwrap().clone());
    env.create::<PodDisruptionBudget>(json!({"metadata": {"name": name}, "spec": spec})).await;
    budget_allows(env, name, allowed).await;
}

async fn uid(env: &Env, pod: &str) -> String {
    env.api::<Pod>().get(pod).await.unwrap().uid().unwrap()
}

async fn image_of(env: &Env, pod: &str) -> String {
    let pod = env.api::<Pod>().get(pod).await.unwrap();
    pod.spec.unwrap().containers[0].image.clone().unwrap()
}

/// A budget over `role: primary`, a label the template lacks, protects web-0: the dry run of a
/// step that takes web-0 down says it cannot start; the rollout updates web-2 and web-1 and
/// stops (exit 3) before web-0, which keeps running; a plan whose first step spares web-0 says
/// nothing.
#[tokio::test]
async fn a_budget_over_a_label_only_the_primary_carries_holds_the_step_that_takes_it_down() {
    let env = Env::new("budgets-primary").await;
    env.statefulset(&Sts::new("web", 3)).await;
    label_primary(&env, "web-0").await;
    budget(&env, "primary", json!({"role": "primary"}), json!({"maxUnavailable": 0}), 0).await;
    let image = format!("app={}", v("app:v2"));
    let before = sts(&env, "web").await.resource_version();

    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &image, "--partition", "0", "--dry-run"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "the first step cannot start now: PodDisruptionBudget primary allows 0 disruptions now, and the step \
             takes 1 pod down at once"
        ),
        "{stderr}"
    );
    let output = env.plugin().args(["rollout", "web", "--image", &image, "--dry-run"]).output().unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("cannot start"), "the canary is web-2, which no budget protects: {stderr}");
    assert_eq!(sts(&env, "web").await.resource_version(), before, "a dry run writes nothing");

    let primary = uid(&env, "web-0").await;
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &image, "--yes", "--timeout", "20s", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events(&output);
    let waits: Vec<&str> = named(&events, "pdbWait").iter().map(|e| e["pdb"].as_str().unwrap()).collect();
    assert_eq!(waits, ["primary"], "{events:?}");
    assert_eq!(uid(&env, "web-0").await, primary, "web-0 was never taken down");
    assert_eq!(image_of(&env, "web-0").await, v("app:v1"));
    assert_eq!((image_of(&env, "web-1").await, image_of(&env, "web-2").await), (v("app:v2"), v("app:v2")));
    assert_eq!(partition(&sts(&env, "web").await), 1, "the step that takes web-0 down never started");
}

/// Replacing by eviction (OnDelete) needs one budget per pod: a pod two budgets select, one of
/// them by a label only that pod carries, is refused before the first write, naming the pod.
#[tokio::test]
async fn eviction_refuses_a_pod_two_budgets_select_by_its_own_labels() {
    let env = Env::new("budgets-two").await;
    env.statefulset(&Sts { on_delete: true, ..Sts::new("web", 3) }).await;
    budget(&env, "all", json!({"app": "web"}), json!({"maxUnavailable": 1}), 1).await;
    label_primary(&env, "web-0").await;
    budget(&env, "primary", json!({"role": "primary"}), json!({"minAvailable": 0}), 1).await;
    let before = sts(&env, "web").await.resource_version();
    for dry_run in [true, false] {
        let mut plugin = env.plugin();
        plugin.args(["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--yes"]);
        if dry_run {
            plugin.arg("--dry-run");
        }
        let output = plugin.output().unwrap();
        assert_eq!(output.status.code(), Some(1), "dry run {dry_run}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("pod web-0 of web is selected by PodDisruptionBudgets all and primary"),
            "{stderr}"
        );
        assert_eq!(sts(&env, "web").await.resource_version(), before, "nothing was written");
    }
}

/// A step held by a budget fails; `--on-failure abort` then does not delete the canary that
/// same budget protects: the rollback does not start (exit 3, the canary untouched, the
/// journal kept) and the command it prints, run as printed, rolls back without the budget.
#[tokio::test]
async fn on_failure_abort_does_not_take_down_a_pod_the_budget_protects() {
    let env = Env::new("budgets-abort").await;
    env.statefulset(&Sts::new("web", 3)).await;
    budget(&env, "all", json!({"app": "web"}), json!({"maxUnavailable": 1}), 1).await;
    let image = format!("app={}", v("app:v2"));
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &image, "--partition", "2", "--on-failure", "abort", "--yes"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let patch = json!({"spec": {"maxUnavailable": 0}});
    env.api::<PodDisruptionBudget>()
        .patch("all", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    budget_allows(&env, "all", 0).await;
    let canary = uid(&env, "web-2").await;

    let output =
        env.plugin_with_flags().args(["rollout", "web", "--yes", "--timeout", "5s"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("the rollback of web did not start: PodDisruptionBudget all allows 0"),
        "{stderr}"
    );
    assert_eq!(uid(&env, "web-2").await, canary, "the canary the budget protects was not deleted");
    assert_eq!(image_of(&env, "web-2").await, v("app:v2"));
    assert!(sts(&env, "web").await.annotations().contains_key(JOURNAL), "the journal is kept");

    let ignoring = commands(&stderr).into_iter().find(|c| c.contains("--ignore-pdb")).expect("a way out");
    assert!(ignoring.contains(&format!("-n {}", env.ns)) && ignoring.contains("--context"), "{ignoring}");
    // As printed; --yes because the test has no terminal to confirm on.
    run_as_printed(&format!("{ignoring} --yes"));
    assert!(env.all_pods_run(v("app:v1")).await, "{:?}", images(&env).await);
    assert!(!sts(&env, "web").await.annotations().contains_key(JOURNAL));
}

/// Every pod crash-loops and the budget allows nothing: replacing a pod that is already down is
/// no disruption, so the default rollout (no --evict, no --ignore-pdb) ships the fix.
#[tokio::test]
async fn a_crash_looping_set_ships_its_fix_under_a_budget_at_zero() {
    let env = Env::new("budgets-crashloop").await;
    let broken = Sts { image: v("crashloop:v1"), parallel: true, wait: false, ..Sts::new("web", 3) };
    env.statefulset(&broken).await;
    wait_until(Duration::from_secs(60), || async { env.pods().await.len() == 3 }).await;
    budget(&env, "all", json!({"app": "web"}), json!({"minAvailable": 2}), 0).await;
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--yes", "--timeout", "60s"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(env.all_pods_run(v("app:v2")).await, "{:?}", images(&env).await);
}

/// `--ignore-pdb` given on a resume is this run's choice: honoured, not replaced by the
/// journal's gates (and no warning that it was dropped).
#[tokio::test]
async fn ignore_pdb_on_a_resume_is_honoured() {
    let env = Env::new("budgets-resume").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let image = format!("app={}", v("app:v2"));
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &image, "--partition", "2", "--yes"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    budget(&env, "all", json!({"app": "web"}), json!({"maxUnavailable": 0}), 0).await;
    let output = env
        .plugin()
        .args(["rollout", "web", "--ignore-pdb", "--yes", "--timeout", "60s", "-o", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("keeps the gates"), "{stderr}");
    let events = events(&output);
    assert_eq!(named(&events, "plan")[0]["gates"]["ignorePdb"], true, "{events:?}");
    assert!(named(&events, "pdbWait").is_empty(), "{events:?}");
    assert!(env.all_pods_run(v("app:v2")).await, "{:?}", images(&env).await);
}
