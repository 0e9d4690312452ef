//! `kubectl stateful drain` against the real control plane (scheduler, disruption controller,
//! Eviction API) on KWOK nodes of each test's own: two sets with a member each on the drained
//! node move one at a time (a pod watch proves no set ever had two down), each replacement is
//! the same name with a new uid on another node (the kubernetes#138229 shape, which must not
//! loop), the node stays cordoned; a budget at 0 and a member on a node-pinned volume are
//! refused before anything moves.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use crate::restart::DownWatch;
use crate::support::{Env, Sts, commands, wait_until};

fn events(output: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn of<'a>(events: &'a [Value], event: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == event).collect()
}

async fn set_unschedulable(env: &Env, node: &str, unschedulable: bool) {
    let nodes: Api<Node> = Api::all(env.client.clone());
    let patch = json!({"spec": {"unschedulable": unschedulable}});
    nodes.patch(node, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
}

async fn node_of(env: &Env, pod: &str) -> String {
    env.api::<Pod>().get(pod).await.unwrap().spec.unwrap().node_name.unwrap()
}

/// A set of 3 on this test's own nodes, one member per node (required anti-affinity).
async fn spread_set(env: &Env, name: &str) {
    env.create::<Service>(json!({
        "metadata": {"name": name},
        "spec": {"clusterIP": "None", "selector": {"app": name}, "ports": [{"port": 80}]}
    }))
    .await;
    let mut manifest = Sts { pool: Some(env.ns.clone()), ..Sts::new(name, 3) }.manifest();
    manifest["spec"]["template"]["spec"]["affinity"] = json!({"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": name}}, "topologyKey": "kubernetes.io/hostname"}
        ]
    }});
    env.create::<StatefulSet>(manifest).await;
    env.wait_ready(name, Duration::from_secs(90)).await;
}

async fn uids(env: &Env) -> BTreeMap<String, String> {
    env.pods().await.iter().map(|p| (p.name_any(), p.uid().unwrap())).collect()
}

/// Two sets with one member each on the drained node, and a bare pod there: cordon, then each
/// member evicted and followed by its uid to its replacement on the spare node, one at a time;
/// the bare pod is left to kubectl drain (said); the node stays cordoned, the journal goes. The
/// soak of each replacement (2s) is said, in a pipe, as a plain progress line.
#[tokio::test]
async fn drain_moves_one_member_of_each_set_at_a_time_and_leaves_the_node_cordoned() {
    let env = Env::new("drain-two-sets").await;
    let nodes = env.own_nodes(4).await;
    set_unschedulable(&env, &nodes[3], true).await;
    spread_set(&env, "web").await;
    spread_set(&env, "db").await;
    set_unschedulable(&env, &nodes[3], false).await;
    let drained = node_of(&env, "web-0").await;
    let on_it: Vec<String> = {
        let mut pods = Vec::new();
        for pod in ["web-0", "web-1", "web-2", "db-0", "db-1", "db-2"] {
            if node_of(&env, pod).await == drained {
                pods.push(pod.to_owned());
            }
        }
        pods
    };
    assert_eq!(on_it.len(), 2, "one member of each set on {drained}: {on_it:?}");
    env.create::<Pod>(json!({
        "metadata": {"name": "bare"},
        "spec": {"nodeName": drained, "containers": [{"name": "app", "image": "example.invalid/app:v1"}],
                 "tolerations": [{"operator": "Exists"}]}
    }))
    .await;
    let before = uids(&env).await;
    let watch = DownWatch::start(&env).await;
    // An async child: the watch runs on this test's runtime meanwhile.
    let output =
        env.spawn_plugin(&["drain", &drained, "--soak", "2s", "--yes", "-o", "json"]).output().await.unwrap();
    let most = watch.stop();
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{said}");
    // Under -o json the events say where each wait stands: no progress line on stderr (in
    // text mode, restart's and scale's tests show the plain lines of the same `Progress`).
    for pod in &on_it {
        let soak = format!("{}/{pod} to stay Ready for 2s", env.ns);
        assert!(crate::support::progress_line(&said, &soak, "2s").is_none(), "{pod}: {said}");
    }
    let events = events(&output);
    assert!(events.iter().all(|e| e["kind"] == "DrainEvent" && e["schemaVersion"] == "v3"));
    assert_eq!(of(&events, "cordoned")[0]["node"], drained.as_str());
    let evicted: Vec<&str> = of(&events, "evicted").iter().map(|e| e["pod"].as_str().unwrap()).collect();
    let mut expected: Vec<String> = on_it.iter().map(|p| format!("{}/{p}", env.ns)).collect();
    expected.sort();
    assert_eq!(evicted, expected, "each member of the node, set by set");
    let after = uids(&env).await;
    for replaced in of(&events, "replaced") {
        let pod = replaced["pod"].as_str().unwrap().rsplit('/').next().unwrap();
        assert_eq!(replaced["oldUid"], before[pod].as_str());
        assert_eq!(replaced["uid"], after[pod].as_str(), "the same name with a new uid (kubernetes#138229)");
        assert_eq!(replaced["node"], nodes[3].as_str(), "on the spare node");
    }
    for (pod, uid) in &before {
        if pod != "bare" {
            assert_eq!(after[pod] != *uid, on_it.contains(pod), "{pod}: moved exactly when on {drained}");
        }
    }
    assert_eq!((most["web"], most["db"]), (1, 1), "never two members of a set down: {most:?}");
    let left = of(&events, "leftToKubectlDrain");
    assert_eq!(left[0]["pods"], json!([format!("{}/bare", env.ns)]));
    assert!(left[0]["command"].as_str().unwrap().contains(&format!("drain {drained} --ignore-daemonsets")));
    let node: Node = Api::all(env.client.clone()).get(&drained).await.unwrap();
    assert_eq!(node.spec.unwrap().unschedulable, Some(true), "left cordoned");
    assert!(!node.metadata.annotations.unwrap_or_default().contains_key("kubectl-stateful.dev/drain"));
    assert_eq!(after["bare"], before["bare"], "kubectl drain's to handle");
}

/// A budget that never allows a disruption: refused before the cordon, named with its numbers.
#[tokio::test]
async fn a_budget_at_zero_stops_the_drain_before_anything_moves() {
    let env = Env::new("drain-budget").await;
    let nodes = env.own_nodes(4).await;
    spread_set(&env, "web").await;
    env.create::<PodDisruptionBudget>(json!({
        "metadata": {"name": "web-strict"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "maxUnavailable": 0}
    }))
    .await;
    let budgets = env.api::<PodDisruptionBudget>();
    wait_until(Duration::from_secs(30), || async {
        budgets.get("web-strict").await.unwrap().status.is_some_and(|s| s.expected_pods == 3)
    })
    .await;
    let drained = node_of(&env, "web-1").await;
    let before = uids(&env).await;
    let output = env.plugin().args(["drain", &drained, "--yes"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "refusing to evict {}/web-1: PodDisruptionBudget web-strict (maxUnavailable 0)",
            env.ns
        )) && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    assert_eq!(uids(&env).await, before);
    let node: Node = Api::all(env.client.clone()).get(&drained).await.unwrap();
    assert_ne!(node.spec.unwrap().unschedulable, Some(true), "not cordoned");
    drop(nodes);
}

/// A member whose volume is pinned to the drained node (a local volume): refused before the
/// cordon, naming the member and the choices.
#[tokio::test]
async fn a_member_on_a_node_pinned_volume_is_refused_before_anything_moves() {
    let env = Env::new("drain-pinned").await;
    let nodes = env.own_nodes(2).await;
    env.pinned_claim("data-web-0", &nodes[0]).await;
    env.statefulset(&Sts {
        pool: Some(env.ns.clone()),
        storage_class: Some("kwok-volume-retain".into()),
        ..Sts::new("web", 3)
    })
    .await;
    assert_eq!(node_of(&env, "web-0").await, nodes[0]);
    let before = uids(&env).await;
    let output = env.plugin().args(["drain", &nodes[0], "--yes"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .contains(&format!("refusing to drain: {}/web-0 cannot start anywhere else, its volume", env.ns))
            && stderr.contains(&format!("is pinned to {}, which is being drained", nodes[0]))
            && stderr.contains("wait for the node to come back"),
        "{stderr}"
    );
    assert_eq!(uids(&env).await, before);
    let node: Node = Api::all(env.client.clone()).get(&nodes[0]).await.unwrap();
    assert_ne!(node.spec.unwrap().unschedulable, Some(true), "not cordoned");
}

/// drain: a gate's redirect into a page that would pass is not followed, and the credential its
/// URL names from the environment is never in the journal on the node (the run stops at the
/// gate, leaving it there).
#[tokio::test]
async fn a_drain_gate_follows_no_redirect_and_journals_no_secret() {
    use crate::gates::{GateServer, TOKEN, events_of, keeps_secrets};
    let env = Env::new("drain-gate-truth").await;
    let nodes = env.own_nodes(4).await;
    set_unschedulable(&env, &nodes[3], true).await;
    spread_set(&env, "web").await;
    set_unschedulable(&env, &nodes[3], false).await;
    let drained = node_of(&env, "web-0").await;
    let server = GateServer::start();
    let url = format!("{}/redirect?token=${{GATE_TOKEN}}", server.base);
    let output = env
        .plugin()
        .env("GATE_TOKEN", TOKEN)
        .args(["drain", &drained, "--gate-http", &url, "--timeout", "8s", "--gate-timeout", "2s", "--yes"])
        .args(["-o", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    keeps_secrets(&output);
    let events = events_of(&output);
    let failed = of(&events, "gateFailed");
    assert!(
        !failed.is_empty()
            && failed
                .iter()
                .all(|e| e["output"].as_str().unwrap().starts_with("HTTP 302, a redirect to /login")),
        "{events:?}"
    );
    assert!(server.seen.lock().unwrap().iter().all(|r| !r.contains("/login")), "never followed");
    let node: Node = Api::all(env.client.clone()).get(&drained).await.unwrap();
    let journal = node.annotations()["kubectl-stateful.dev/drain"].clone();
    assert!(journal.contains("token=${GATE_TOKEN}") && !journal.contains(TOKEN), "{journal}");
}

/// `--all-pods` on a KWOK node with a Deployment's pod, one with an emptyDir, a DaemonSet's pod
/// and a bare pod: each flag kubectl drain would ask for is asked for before the cordon, nothing
/// changed; then a budget at its floor stops the eviction of the Deployment's pod, named, at
/// `--timeout` (exit 3, the others evicted); the printed resume, run as printed once the budget
/// allows, finishes it: the DaemonSet's pod stays, the rest gone or replaced on the other node.
#[tokio::test]
async fn all_pods_follows_kubectl_drains_rules_and_its_budgets() {
    use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
    let env = Env::new("drain-all-pods").await;
    let nodes = env.own_nodes(2).await;
    let (drained, spare) = (nodes[0].clone(), nodes[1].clone());
    set_unschedulable(&env, &spare, true).await;
    let placed = json!({
        "nodeSelector": {"kubectl-stateful.test/pool": env.ns},
        "tolerations": [{"key": "kubectl-stateful.test/pool", "operator": "Exists"}],
    });
    let template = |app: &str, volumes: Value| {
        let mut spec = placed.clone();
        spec["containers"] = json!([{"name": "app", "image": "example.invalid/app:v1"}]);
        spec["volumes"] = volumes;
        json!({"metadata": {"labels": {"app": app}}, "spec": spec})
    };
    for (name, volumes) in [("api", json!([])), ("cache", json!([{"name": "scratch", "emptyDir": {}}]))] {
        env.create::<Deployment>(json!({
            "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": template(name, volumes)}
        }))
        .await;
    }
    env.create::<DaemonSet>(json!({
        "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template("agent", json!([]))}
    }))
    .await;
    env.create::<Pod>(json!({
        "metadata": {"name": "bare"},
        "spec": {"nodeName": drained, "containers": [{"name": "app", "image": "example.invalid/app:v1"}],
                 "tolerations": [{"operator": "Exists"}]}
    }))
    .await;
    let running = |pods: &[Pod], app: &str, node: &str| {
        pods.iter().any(|p| {
            p.labels().get("app").map(String::as_str) == Some(app)
                && p.metadata.deletion_timestamp.is_none()
                && p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node)
                && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        })
    };
    wait_until(Duration::from_secs(60), || async {
        let pods = env.pods().await;
        ["api", "cache", "agent"].iter().all(|app| running(&pods, app, &drained))
            && running(&pods, "agent", &spare)
    })
    .await;
    set_unschedulable(&env, &spare, false).await;
    let named = |prefix: &str, pods: &[Pod]| {
        let pod = pods
            .iter()
            .find(|p| p.name_any().starts_with(prefix) && node_name(p) == Some(drained.as_str()))
            .unwrap();
        format!("{}/{}", env.ns, pod.name_any())
    };
    let before = env.pods().await;
    let (api, cache, agent) = (named("api-", &before), named("cache-", &before), named("agent-", &before));
    let bare = format!("{}/bare", env.ns);
    let uids_before = uids(&env).await;

    // Each flag kubectl drain would ask for, asked for before the cordon.
    let refused = env.plugin().args(["drain", &drained, "--all-pods", "--yes"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr).trim_end(),
        format!(
            "error: refusing to drain: cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): \
             {agent}; cannot delete Pods that declare no controller (use --force to override): {bare}; cannot \
             delete Pods with local storage (use --delete-emptydir-data to override): {cache}; nothing was changed"
        )
    );
    let refused = env
        .plugin()
        .args(["drain", &drained, "--all-pods", "--ignore-daemonsets", "--delete-emptydir-data", "--yes"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(&format!(
            "cannot delete Pods that declare no controller (use --force to override): {bare};"
        )),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(uids(&env).await, uids_before, "nothing evicted");
    let node: Node = Api::all(env.client.clone()).get(&drained).await.unwrap();
    assert_ne!(node.spec.unwrap().unschedulable, Some(true), "not cordoned");

    // A budget at its floor: the Deployment's pod waits, named, until --timeout.
    env.create::<PodDisruptionBudget>(json!({
        "metadata": {"name": "api-floor"},
        "spec": {"selector": {"matchLabels": {"app": "api"}}, "minAvailable": 1}
    }))
    .await;
    let budgets = env.api::<PodDisruptionBudget>();
    wait_until(Duration::from_secs(30), || async {
        budgets.get("api-floor").await.unwrap().status.is_some_and(|s| s.expected_pods == 1)
    })
    .await;
    let all =
        ["--all-pods", "--force", "--ignore-daemonsets", "--delete-emptydir-data", "--grace-period", "0"];
    let output = env
        .plugin_with_flags()
        .args(["drain", &drained])
        .args(all)
        .args(["--timeout", "6s", "--yes", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events(&output);
    let plan = &of(&events, "plan")[0]["plan"];
    assert_eq!(
        plan["allPods"],
        json!({"force": true, "ignoreDaemonsets": true, "deleteEmptydirData": true, "gracePeriodSeconds": 0})
    );
    let actions: BTreeMap<String, Value> = plan["others"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                format!("{}/{}", o["namespace"].as_str().unwrap(), o["pod"].as_str().unwrap()),
                o["action"].clone(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        BTreeMap::from([
            (agent.clone(), json!("skip")),
            (api.clone(), json!("evict")),
            (bare.clone(), json!("evict")),
            (cache.clone(), json!("evict")),
        ])
    );
    let mut evicted: Vec<&str> = of(&events, "evicted").iter().map(|e| e["pod"].as_str().unwrap()).collect();
    evicted.sort();
    assert_eq!(evicted, [bare.as_str(), cache.as_str()]);
    let refusal = of(&events, "evictionRefused");
    assert!(
        refusal[0]["pod"] == api.as_str()
            && refusal[0]["reason"]
                .as_str()
                .unwrap()
                .starts_with("PodDisruptionBudget api-floor allows 0 disruptions (1 healthy, 1 needed)"),
        "{refusal:?}"
    );
    let error = of(&events, "error");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        error[0]["error"]
            .as_str()
            .unwrap()
            .contains(&format!("the eviction of {api} was refused for 6s: PodDisruptionBudget api-floor")),
        "{stderr}"
    );
    let resume =
        commands(&stderr).into_iter().find(|c| c.starts_with("kubectl stateful drain ")).unwrap().to_owned();
    let node: Node = Api::all(env.client.clone()).get(&drained).await.unwrap();
    assert!(node.annotations()["kubectl-stateful.dev/drain"].contains("\"allPods\""), "journaled");

    // The budget allows one down (a second replica elsewhere): the printed resume finishes it,
    // with the journal's rules (no flag repeated).
    env.api::<Deployment>()
        .patch("api", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"replicas": 2}})))
        .await
        .unwrap();
    wait_until(Duration::from_secs(60), || async {
        budgets.get("api-floor").await.unwrap().status.is_some_and(|s| s.disruptions_allowed == 1)
    })
    .await;
    let pasted = crate::support::as_printed(&resume);
    let (transcript, code) = tokio::task::spawn_blocking(move || {
        // A question wider than the terminal is written above a short prompt (ui::fit_prompt).
        crate::advice::on_terminal(pasted, &[("Go ahead?", "y")])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{transcript}");
    assert!(
        transcript.split_whitespace().collect::<Vec<_>>().join(" ").contains("then evict 1 other pod?"),
        "the question above the prompt: {transcript}"
    );
    assert!(
        transcript.contains(&format!("{api}: evicted")) && transcript.contains(&format!("{api}: removed")),
        "{transcript}"
    );
    let after = env.pods().await;
    let on_drained: Vec<String> =
        after.iter().filter(|p| node_name(p) == Some(drained.as_str())).map(|p| p.name_any()).collect();
    assert_eq!(on_drained, [agent.rsplit('/').next().unwrap()], "only the DaemonSet's pod stays");
    wait_until(Duration::from_secs(30), || async { running(&env.pods().await, "cache", &spare) }).await;
    assert!(!after.iter().any(|p| p.name_any() == "bare"), "the bare pod is gone for good");
    let agent_pod = agent.rsplit('/').next().unwrap();
    assert_eq!(uids(&env).await.get(agent_pod), uids_before.get(agent_pod), "the DaemonSet's pod untouched");
    let node: Node = Api::all(env.client.clone()).get(&drained).await.unwrap();
    assert_eq!(node.spec.unwrap().unschedulable, Some(true), "left cordoned");
    assert!(!node.metadata.annotations.unwrap_or_default().contains_key("kubectl-stateful.dev/drain"));
}

fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref())
}

/// A set of 3 spread over this test's 3 nodes, web-0 on a volume pinned to the first.
async fn pinned_set(env: &Env) -> Vec<String> {
    let nodes = env.own_nodes(3).await;
    env.pinned_claim("data-web-0", &nodes[0]).await;
    env.create::<Service>(json!({
        "metadata": {"name": "web"},
        "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"port": 80}]}
    }))
    .await;
    let mut manifest = Sts {
        pool: Some(env.ns.clone()),
        storage_class: Some("kwok-volume-retain".into()),
        ..Sts::new("web", 3)
    }
    .manifest();
    manifest["spec"]["template"]["spec"]["affinity"] = json!({"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}
        ]
    }});
    env.create::<StatefulSet>(manifest).await;
    env.wait_ready("web", Duration::from_secs(90)).await;
    assert_eq!(node_of(env, "web-0").await, nodes[0]);
    nodes
}

async fn claim_of(env: &Env, claim: &str) -> (String, String) {
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    let claim = env.api::<PersistentVolumeClaim>().get(claim).await.unwrap();
    (claim.uid().unwrap(), claim.spec.unwrap().volume_name.unwrap())
}

/// `--wait-for-return`: web-0, whose volume is pinned to the drained node, goes down with it
/// (evicted, its replacement Pending on the cordon); the run says the node is ready for its
/// maintenance and the exact uncordon; the test runs that as printed, and web-0 comes back Ready
/// on the same node, on the same claim (a new uid), and the drain ends (exit 0).
#[tokio::test]
async fn wait_for_return_takes_a_pinned_member_down_with_its_node_and_waits_for_it_there() {
    let env = Env::new("drain-return").await;
    let nodes = pinned_set(&env).await;
    let before = uids(&env).await;
    let claim = claim_of(&env, "data-web-0").await;
    let (child, mut lines) = crate::support::rollout_until(
        &env,
        &["drain", &nodes[0], "--wait-for-return", "--yes", "-o", "json"],
        "evicted",
    )
    .await;
    let mut ready = None;
    while let Some(line) = lines.next_line().await.unwrap() {
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["event"] == "readyForMaintenance" {
            ready = Some(event);
            break;
        }
    }
    let ready = ready.expect("readyForMaintenance");
    assert_eq!(ready["pods"], json!([format!("{}/web-0", env.ns)]));
    assert_eq!(ready["uncordon"], format!("kubectl uncordon {}", nodes[0]));
    // The controller re-creates web-0 once the evicted pod is gone, which the event follows.
    let pods = env.api::<Pod>();
    crate::support::wait_until(Duration::from_secs(30), || async {
        pods.get_opt("web-0").await.unwrap().is_some_and(|p| p.uid() != Some(before["web-0"].clone()))
    })
    .await;
    let pending = pods.get("web-0").await.unwrap();
    assert_ne!(pending.uid().unwrap(), before["web-0"], "evicted and re-created");
    assert_eq!(pending.spec.unwrap().node_name, None, "Pending: its volume's node is cordoned");
    crate::support::run_printed(&env, ready["uncordon"].as_str().unwrap());
    let mut rest = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    let output =
        tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await.unwrap().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let replaced = of(&rest, "replaced");
    assert_eq!(replaced[0]["node"], nodes[0].as_str(), "back on its node: {rest:?}");
    assert_eq!(of(&rest, "memberDone")[0]["pod"], format!("{}/web-0", env.ns));
    let after = uids(&env).await;
    assert_eq!(replaced[0]["uid"], after["web-0"].as_str());
    assert_eq!(
        (after["web-1"].as_str(), after["web-2"].as_str()),
        (before["web-1"].as_str(), before["web-2"].as_str())
    );
    assert_eq!(node_of(&env, "web-0").await, nodes[0]);
    assert_eq!(claim_of(&env, "data-web-0").await, claim, "the same claim on the same volume");
    let node: Node = Api::all(env.client.clone()).get(&nodes[0]).await.unwrap();
    assert!(!node.metadata.annotations.unwrap_or_default().contains_key("kubectl-stateful.dev/drain"));
}

/// `--wait-for-return` past `--timeout` while the node is still in its maintenance: exit 3 with
/// the state named; the uncordon and the resume, run as printed, bring web-0 back and end it.
#[tokio::test]
async fn wait_for_return_times_out_safely_and_the_printed_resume_finishes_it() {
    let env = Env::new("drain-return-timeout").await;
    let nodes = pinned_set(&env).await;
    let output = env
        .plugin_with_flags()
        .args(["drain", &nodes[0], "--wait-for-return", "--timeout", "5s", "--yes"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        stderr.contains(&format!("ready for maintenance: {}/web-0 down with {}", env.ns, nodes[0]))
            && stderr.contains(&format!(
                "{}/web-0 down with {}, waiting for them to come back there",
                env.ns, nodes[0]
            )),
        "{stderr}"
    );
    let printed = commands(&stderr);
    let uncordon =
        printed.iter().find(|c| c.starts_with("kubectl ") && c.ends_with(&format!("uncordon {}", nodes[0])));
    let uncordon = uncordon.unwrap_or_else(|| panic!("{stderr}")).to_string();
    let resume = printed
        .iter()
        .rev()
        .find(|c| c.starts_with(&format!("kubectl stateful drain {}", nodes[0])))
        .unwrap_or_else(|| panic!("{stderr}"))
        .to_string();
    let ran = crate::support::as_printed(&uncordon).output().unwrap();
    assert!(ran.status.success(), "{uncordon}: {}", String::from_utf8_lossy(&ran.stderr));
    let pasted = crate::support::as_printed(&resume);
    let (transcript, code) =
        tokio::task::spawn_blocking(move || crate::advice::on_terminal(pasted, &[("to come back on", "y")]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{transcript}");
    assert!(
        transcript.contains(&format!("{}/web-0: replaced, Ready on {}", env.ns, nodes[0])),
        "{transcript}"
    );
    let node: Node = Api::all(env.client.clone()).get(&nodes[0]).await.unwrap();
    assert_ne!(node.spec.unwrap().unschedulable, Some(true), "not cordoned again by the resume");
    assert!(!node.metadata.annotations.unwrap_or_default().contains_key("kubectl-stateful.dev/drain"));
}
