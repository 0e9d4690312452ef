//! `kubectl stateful restart` against the real control plane: exactly the chosen members are
//! replaced (new uids, the others keep theirs), below a partition and under OnDelete where
//! `kubectl rollout restart` cannot, one at a time (a pod watch proves it), a budget that never
//! allows an eviction refused before anything moves, and an interrupted restart resumed from
//! its journal.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::ResourceExt;
use serde_json::{Value, json};

use crate::support::{Env, Sts, progress_line, sts};

/// Watches the pods of a namespace and records, per StatefulSet (its pods' `app` label), the
/// most members down at once: a member is down from the moment its pod is deleted (or being
/// deleted, or not Ready) until a pod of its name is Ready again.
pub struct DownWatch {
    most: std::sync::Arc<std::sync::Mutex<BTreeMap<String, usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl DownWatch {
    pub async fn start(env: &Env) -> DownWatch {
        use futures::StreamExt;
        use k8s_openapi::api::core::v1::Pod;
        use kube::runtime::WatchStreamExt;
        use kube::runtime::watcher;
        let api = env.api::<Pod>();
        let most = std::sync::Arc::new(std::sync::Mutex::new(BTreeMap::new()));
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let shared = most.clone();
        let task = tokio::spawn(async move {
            // name -> (set, up)
            let mut state: BTreeMap<String, (String, bool)> = BTreeMap::new();
            let mut ready_tx = Some(ready_tx);
            let mut stream = watcher(api, watcher::Config::default()).default_backoff().boxed();
            while let Some(event) = stream.next().await {
                let Ok(event) = event else { continue };
                let (pod, deleted) = match event {
                    watcher::Event::Apply(p) | watcher::Event::InitApply(p) => (p, false),
                    watcher::Event::Delete(p) => (p, true),
                    watcher::Event::InitDone => {
                        if let Some(tx) = ready_tx.take() {
                            let _ = tx.send(());
                        }
                        continue;
                    }
                    watcher::Event::Init => continue,
                };
                let set = pod.labels().get("app").cloned().unwrap_or_default();
                let ready = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                let up = !deleted && pod.metadata.deletion_timestamp.is_none() && ready;
                state.insert(pod.name_any(), (set.clone(), up));
                let down = state.values().filter(|(s, up)| *s == set && !up).count();
                let mut most = shared.lock().unwrap();
                let entry = most.entry(set).or_insert(0);
                *entry = (*entry).max(down);
            }
        });
        let _ = tokio::time::timeout(Duration::from_secs(30), ready_rx).await;
        DownWatch { most, task }
    }

    /// The most members of each set down at once.
    pub fn stop(self) -> BTreeMap<String, usize> {
        self.task.abort();
        self.most.lock().unwrap().clone()
    }
}

async fn uids(env: &Env) -> BTreeMap<String, String> {
    env.pods().await.iter().map(|p| (p.name_any(), p.uid().unwrap())).collect()
}

fn events(output: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn pods_of(events: &[Value], event: &str) -> Vec<String> {
    events.iter().filter(|e| e["event"] == event).map(|e| e["pod"].as_str().unwrap().to_owned()).collect()
}

/// Restarts `ordinals` with `extra` flags, `-o json --yes`, and checks: exactly those members
/// got new uids, in the order given, each evicted, each replacement reported with its new
/// uid; the others kept theirs; the journal is gone. Returns what it said on stderr (a pipe).
async fn restart_exactly(env: &Env, ordinals: &[&str], extra: &[&str], expected: &[&str]) -> String {
    let before = uids(env).await;
    let watch = DownWatch::start(env).await;
    let mut args = vec!["restart", "web"];
    args.extend(ordinals);
    args.extend(extra);
    args.extend(["--yes", "-o", "json"]);
    // An async child: the watch runs on this test's runtime meanwhile.
    let output = env.spawn_plugin(&args).output().await.unwrap();
    let most = watch.stop();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events(&output);
    assert!(events.iter().all(|e| e["kind"] == "RestartEvent" && e["schemaVersion"] == "v2"));
    assert_eq!(events[0]["event"], "plan");
    assert_eq!(pods_of(&events, "evicted"), expected, "evicted in order");
    assert_eq!(pods_of(&events, "memberDone"), expected);
    let after = uids(env).await;
    for (pod, uid) in &before {
        let chosen = expected.contains(&pod.as_str());
        assert_eq!(after[pod] != *uid, chosen, "{pod}: replaced exactly when chosen");
    }
    for replaced in events.iter().filter(|e| e["event"] == "replaced") {
        let pod = replaced["pod"].as_str().unwrap();
        assert_eq!(replaced["oldUid"], before[pod].as_str());
        assert_eq!(replaced["uid"], after[pod].as_str(), "followed by its new uid");
    }
    assert_eq!(most.get("web").copied().unwrap_or(0), 1, "one member down at a time: {most:?}");
    assert!(
        !sts(env, "web").await.annotations().contains_key("kubectl-stateful.dev/restart"),
        "journal removed"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Below a partition (the rolling update holds every ordinal under 3) a member is restarted
/// anyway, and the two others keep their pods. The wait for its replacement lasts over a second
/// (minReadySeconds 2): in a pipe it says so in one plain line per change.
#[tokio::test]
async fn restart_one_member_below_a_partition_and_the_others_keep_their_uids() {
    let env = Env::new("restart-partition").await;
    env.statefulset(&Sts { partition: Some(3), min_ready_seconds: Some(2), ..Sts::new("web", 3) }).await;
    let said = restart_exactly(&env, &["1"], &[], &["web-1"]).await;
    // Under -o json the events say where the wait stands: no progress line on stderr.
    assert!(progress_line(&said, "the replacement of web-1", "5m").is_none(), "{said}");
    // In text mode, in a pipe, the wait says so in plain lines.
    let output = env.spawn_plugin(&["restart", "web", "1", "--yes"]).output().await.unwrap();
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{said}");
    let line = progress_line(&said, "the replacement of web-1", "5m");
    assert!(line.is_some_and(|l| l.contains(": Ready on ")), "a plain progress line: {said}");
}

/// Under OnDelete, where the controller replaces nothing on its own: two members, lowest
/// first as asked.
#[tokio::test]
async fn restart_under_on_delete_in_the_order_asked() {
    let env = Env::new("restart-ondelete").await;
    env.statefulset(&Sts { on_delete: true, ..Sts::new("web", 3) }).await;
    restart_exactly(&env, &["2", "0"], &["--order", "lowest-first"], &["web-0", "web-2"]).await;
}

/// A budget that never allows a disruption (maxUnavailable 0): refused before anything moves,
/// the budget named with its numbers; `--delete` does not ask it.
#[tokio::test]
async fn a_budget_at_zero_is_refused_up_front_and_named() {
    let env = Env::new("restart-budget").await;
    env.statefulset(&Sts::new("web", 3)).await;
    env.create::<PodDisruptionBudget>(json!({
        "metadata": {"name": "web-strict"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "maxUnavailable": 0}
    }))
    .await;
    let budgets = env.api::<PodDisruptionBudget>();
    crate::support::wait_until(Duration::from_secs(30), || async {
        budgets.get("web-strict").await.unwrap().status.is_some_and(|s| s.expected_pods == 3)
    })
    .await;
    let before = uids(&env).await;
    let output = env.plugin().args(["restart", "web", "1", "--yes"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "refusing to evict web-1: PodDisruptionBudget web-strict (maxUnavailable 0) allows no disruption"
        ) && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    assert_eq!(uids(&env).await, before, "nothing moved");
    let deleted =
        env.plugin().args(["restart", "web", "1", "--delete", "--yes", "-o", "json"]).output().unwrap();
    assert!(deleted.status.success(), "{}", String::from_utf8_lossy(&deleted.stderr));
    assert_eq!(pods_of(&events(&deleted), "deleted"), ["web-1"]);
    let after = uids(&env).await;
    assert_ne!(after["web-1"], before["web-1"], "--delete replaced web-1");
    assert_eq!((&after["web-0"], &after["web-2"]), (&before["web-0"], &before["web-2"]));
}

/// Ctrl-C while a member is replaced: exit 130, the journal left with the members and their
/// uids; the same command resumes and restarts only those not done.
#[tokio::test]
async fn an_interrupted_restart_resumes_from_its_journal() {
    let env = Env::new("restart-resume").await;
    env.statefulset(&Sts { min_ready_seconds: Some(3), ..Sts::new("web", 3) }).await;
    let before = uids(&env).await;
    let (child, _lines) =
        crate::support::rollout_until(&env, &["restart", "web", "2", "1", "--yes", "-o", "json"], "evicted")
            .await;
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let output =
        tokio::time::timeout(Duration::from_secs(10), child.wait_with_output()).await.unwrap().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("kubectl stateful restart web -n {}` to resume", env.ns)), "{stderr}");
    let journal = sts(&env, "web").await.annotations()["kubectl-stateful.dev/restart"].clone();
    let journal: Value = serde_json::from_str(&journal).unwrap();
    assert_eq!(journal["members"][0]["pod"], "web-2");
    assert_eq!(journal["members"][0]["uid"], before["web-2"].as_str());

    let resumed = env.plugin().args(["restart", "web", "--yes", "-o", "json"]).output().unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let events = events(&resumed);
    assert_eq!(events[0]["plan"]["resumed"], true);
    assert_eq!(pods_of(&events, "memberDone"), ["web-2", "web-1"]);
    assert_eq!(pods_of(&events, "evicted"), ["web-1"], "web-2 was evicted by the first run, not again");
    let after = uids(&env).await;
    assert_eq!(after["web-0"], before["web-0"]);
    assert!(after["web-1"] != before["web-1"] && after["web-2"] != before["web-2"]);
    assert!(!sts(&env, "web").await.annotations().contains_key("kubectl-stateful.dev/restart"));
}

/// Out-of-range ordinals and a set that tolerates nobody down: refused, nothing changed; a dry
/// run shows the plan and changes nothing.
#[tokio::test]
async fn restart_refusals_and_dry_run_change_nothing() {
    let env = Env::new("restart-refusals").await;
    env.statefulset(&Sts::new("web", 2)).await;
    let before = uids(&env).await;
    let out_of_range = env.plugin().args(["restart", "web", "5", "--yes"]).output().unwrap();
    assert_eq!(out_of_range.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out_of_range.stderr).trim(),
        "error: web has no ordinal 5 (its members are 0..1)"
    );
    let majority = env.plugin().args(["restart", "web", "1", "--yes"]).output().unwrap();
    assert_eq!(majority.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&majority.stderr).contains("pass --min-available 1 to accept one down"));
    let dry = env.plugin().args(["restart", "web", "--min-available", "1", "--dry-run"]).output().unwrap();
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    let plan = String::from_utf8_lossy(&dry.stdout);
    assert!(plan.contains("1. web-1") && plan.contains("2. web-0"), "{plan}");
    assert!(String::from_utf8_lossy(&dry.stderr).contains("dry run: nothing was changed"));
    assert_eq!(uids(&env).await, before);
}
