//! `status`'s quorum and topology audit against the real control plane: PodDisruptionBudgets
//! the real disruption controller evaluates (its numbers are what the audit shows), nodes with
//! zone labels, cordons, a volume pinned to a node. Every command a finding prints is run here
//! as printed, from a shell with no `$KUBECONFIG` (the plugin ran with `--kubeconfig`,
//! `--context` and `-n`), and the finding it answers goes away.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolume, Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::support::{Env, Sts, commands, current_context, json_of, run_as_printed, wait_until};

fn status(env: &Env, name: &str) -> Value {
    json_of(&env.plugin_with_flags().args(["status", name, "-o", "json"]).output().unwrap())
}

/// The `quorum` of `status NAME` once `done` holds for it (the disruption controller and the
/// StatefulSet controller act in their own time), within a minute.
async fn quorum_when(env: &Env, name: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut found = Value::Null;
    wait_until(Duration::from_secs(60), || {
        found = status(env, name)["quorum"].clone();
        std::future::ready(done(&found))
    })
    .await;
    found
}

fn codes(quorum: &Value) -> Vec<String> {
    quorum["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap().to_owned()).collect()
}

fn has(quorum: &Value, code: &str) -> bool {
    codes(quorum).iter().any(|c| c == code)
}

fn finding(quorum: &Value, code: &str) -> String {
    let found = quorum["findings"].as_array().unwrap().iter().find(|f| f["code"] == code);
    found.unwrap_or_else(|| panic!("no {code}: {quorum:#}"))["message"].as_str().unwrap().to_owned()
}

/// The one command `code`'s finding prints, checked to carry the run's flags.
fn printed(env: &Env, quorum: &Value, code: &str) -> String {
    let message = finding(quorum, code);
    let found = commands(&message);
    assert_eq!(found.len(), 1, "{message}");
    let flags =
        format!("--context {} --kubeconfig {}", current_context(&env.kubeconfig), env.kubeconfig.display());
    assert!(found[0].contains(&format!("-n {}", env.ns)) && found[0].contains(&flags), "{message}");
    found[0].to_owned()
}

/// This test's own nodes, one per zone given.
async fn zoned_nodes(env: &Env, zones: &[&str]) -> Vec<String> {
    let nodes = env.own_nodes(zones.len()).await;
    for (node, zone) in nodes.iter().zip(zones) {
        env.label_node(node, json!({"topology.kubernetes.io/zone": zone})).await;
    }
    nodes
}

fn kubectl(env: &Env, args: &[&str]) {
    let out =
        std::process::Command::new("kubectl").env("KUBECONFIG", &env.kubeconfig).args(args).output().unwrap();
    assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `web` of `replicas` on this test's nodes, one pod per node (a topology spread constraint),
/// Parallel, waited for.
async fn spread_set(env: &Env, replicas: i32) {
    let spec = Sts { pool: Some(env.ns.clone()), parallel: true, ..Sts::new("web", replicas) };
    let mut manifest = spec.manifest();
    manifest["spec"]["template"]["spec"]["topologySpreadConstraints"] = json!([{
        "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "web"}}
    }]);
    env.create::<Service>(json!({
        "metadata": {"name": "web"},
        "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"port": 80}]}
    }))
    .await;
    env.create::<StatefulSet>(manifest).await;
    env.wait_ready("web", Duration::from_secs(90)).await;
}

async fn patch_budget(env: &Env, name: &str, patch: Value) {
    env.api::<PodDisruptionBudget>()
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// Three members spread over three nodes in three zones: each budget shape the audit judges,
/// with the numbers the real disruption controller computes, and each way out run as printed.
#[tokio::test]
async fn budgets_are_judged_as_the_disruption_controller_counts_them() {
    let env = Env::new("quorum-budgets").await;
    zoned_nodes(&env, &["z1", "z2", "z3"]).await;
    spread_set(&env, 3).await;

    // No budget: a drain may take any number of them.
    let quorum = status(&env, "web")["quorum"].clone();
    assert_eq!(
        (quorum["members"].as_i64(), quorum["quorum"].as_i64(), quorum["tolerance"].as_i64()),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!((quorum["budgets"].clone(), quorum["down"].clone()), (json!([]), json!([])));
    assert_eq!(quorum["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(quorum["zones"].as_array().unwrap().len(), 3);
    assert_eq!(codes(&quorum), ["NoBudget"], "{quorum:#}");
    assert_eq!(quorum["findings"][0]["level"], "risk");
    let create = printed(&env, &quorum, "NoBudget");
    assert!(
        create.ends_with("create poddisruptionbudget web --selector app=web --min-available 2"),
        "{create}"
    );
    run_as_printed(&create);
    let quorum = quorum_when(&env, "web", |q| q["budgets"][0]["disruptionsAllowed"] == 1).await;
    assert_eq!(
        quorum["budgets"],
        json!([{"name": "web", "minAvailable": "2", "maxUnavailable": null, "selects": ["web-0", "web-1", "web-2"],
                "tolerates": 1, "disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3,
                "unhealthyPodEvictionPolicy": "IfHealthyBudget"}])
    );
    assert_eq!(codes(&quorum), Vec::<String>::new());

    // maxUnavailable 2 (cozystack/etcd-operator#351): two of three at once.
    patch_budget(&env, "web", json!({"spec": {"minAvailable": null, "maxUnavailable": 2}})).await;
    let quorum = quorum_when(&env, "web", |q| q["budgets"][0]["disruptionsAllowed"] == 2).await;
    assert_eq!(codes(&quorum), ["BudgetAllowsQuorumLoss"]);
    assert_eq!(quorum["budgets"][0]["tolerates"], 2);
    run_as_printed(&printed(&env, &quorum, "BudgetAllowsQuorumLoss"));
    let quorum = quorum_when(&env, "web", |q| q["budgets"][0]["disruptionsAllowed"] == 1).await;
    assert_eq!(
        (quorum["budgets"][0]["minAvailable"].as_str(), quorum["budgets"][0]["maxUnavailable"].as_str()),
        (Some("2"), None)
    );
    assert_eq!(codes(&quorum), Vec::<String>::new());

    // A second budget over the same pods: the Eviction API refuses any eviction of them.
    let extra = json!({"metadata": {"name": "web-extra"},
                       "spec": {"selector": {"matchLabels": {"app": "web"}}, "minAvailable": 1}});
    env.create::<PodDisruptionBudget>(extra).await;
    let quorum = quorum_when(&env, "web", |q| has(q, "BudgetsOverlap")).await;
    assert!(
        finding(&quorum, "BudgetsOverlap")
            .starts_with("PodDisruptionBudgets web and web-extra all select web-0, web-1 and web-2")
    );
    let shown = run_as_printed(&printed(&env, &quorum, "BudgetsOverlap"));
    assert!(shown.contains("Name:") && shown.contains("web-extra"), "{shown}");
    env.api::<PodDisruptionBudget>().delete("web-extra", &DeleteParams::default()).await.unwrap();

    // Budgets match the pods' own labels: one labelled role=primary by an operator, a budget
    // over that label alone, the others unprotected.
    kubectl(&env, &["-n", &env.ns, "label", "pod", "web-0", "role=primary"]);
    env.api::<PodDisruptionBudget>().delete("web", &DeleteParams::default()).await.unwrap();
    let primary = json!({"metadata": {"name": "primary"},
                         "spec": {"selector": {"matchLabels": {"role": "primary"}}, "maxUnavailable": 0}});
    env.create::<PodDisruptionBudget>(primary).await;
    let quorum = quorum_when(&env, "web", |q| has(q, "MembersWithoutBudget")).await;
    assert_eq!(codes(&quorum), ["MembersWithoutBudget", "BudgetNeverAllows"], "{quorum:#}");
    assert_eq!(quorum["budgets"][0]["selects"], json!(["web-0"]));
    run_as_printed(&printed(&env, &quorum, "MembersWithoutBudget"));
    let quorum = quorum_when(&env, "web", |q| q["budgets"][0]["disruptionsAllowed"] == 1).await;
    assert_eq!(quorum["budgets"][0]["selects"], json!(["web-0", "web-1", "web-2"]), "the widened selector");
    assert_eq!(codes(&quorum), Vec::<String>::new());

    // A member down: all the set can lose is lost, and the budget allows nothing now.
    env.patch_sts(
        "web",
        json!({"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
                        "template": {"spec": {"containers": [{"name": "app", "image": "example.invalid/never-ready:v2"}]}}}}),
    )
    .await;
    // Until web-2 is re-created on the new revision, and the disruption controller has counted it.
    let quorum = quorum_when(&env, "web", |q| {
        q["down"] == json!([{"pod": "web-2", "reason": "notReady"}])
            && q["budgets"][0]["disruptionsAllowed"] == 0
            && q["budgets"][0]["expectedPods"] == 3
    })
    .await;
    assert_eq!(codes(&quorum), ["AtQuorumFloor", "BudgetAllowsNoneNow"], "{quorum:#}");
    assert_eq!(
        (quorum["budgets"][0]["currentHealthy"].as_i64(), quorum["budgets"][0]["desiredHealthy"].as_i64()),
        (Some(2), Some(2))
    );
    // The text view: the Quorum row, and the findings after the warnings.
    let text =
        String::from_utf8(env.plugin_with_flags().args(["status", "web"]).output().unwrap().stdout).unwrap();
    assert!(
        text.contains("Quorum:          2 of 3 must be up, 1 may be down (1 is: web-2); PodDisruptionBudget primary (minAvailable 2) allows 0 now; 3 nodes, 3 zones"),
        "{text}"
    );
    assert!(text.contains("Quorum and topology:\n  AtQuorumFloor (risk): web has 1 member down"), "{text}");
    // The list counts it at risk.
    let list = String::from_utf8(env.plugin_with_flags().args(["status"]).output().unwrap().stdout).unwrap();
    let row = list.lines().find(|l| l.starts_with("web ")).unwrap();
    assert!(list.lines().next().unwrap().contains("QUORUM") && row.contains("at floor +1"), "{list}");
}

/// All three members on one node (the others were cordoned when they started), in one zone:
/// both findings, and their printed patches, run as printed, spread them.
#[tokio::test]
async fn members_on_one_node_and_in_one_zone_are_spread_by_the_printed_patches() {
    let env = Env::new("quorum-spread").await;
    let nodes = zoned_nodes(&env, &["z1", "z2", "z3"]).await;
    for node in &nodes[1..] {
        kubectl(&env, &["cordon", node]);
    }
    env.statefulset(&Sts { pool: Some(env.ns.clone()), parallel: true, ..Sts::new("web", 3) }).await;
    env.create::<PodDisruptionBudget>(json!({"metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "minAvailable": 2}}))
        .await;
    // Cordoned nodes are no place to spread to: nothing to say yet.
    let quorum = quorum_when(&env, "web", |q| q["budgets"][0]["disruptionsAllowed"] == 1).await;
    assert_eq!(codes(&quorum), Vec::<String>::new(), "{quorum:#}");
    for node in &nodes[1..] {
        kubectl(&env, &["uncordon", node]);
    }
    let quorum = quorum_when(&env, "web", |q| has(q, "MembersOnOneNode")).await;
    assert_eq!(codes(&quorum), ["MembersOnOneNode", "MembersInOneZone"]);
    assert_eq!(quorum["nodes"], json!([{"name": nodes[0], "members": ["web-0", "web-1", "web-2"]}]));
    assert_eq!(quorum["zones"], json!([{"name": "z1", "members": ["web-0", "web-1", "web-2"]}]));
    assert!(
        finding(&quorum, "MembersOnOneNode")
            .starts_with(&format!("all 3 members of web run on node {}", nodes[0]))
    );
    let by_node = printed(&env, &quorum, "MembersOnOneNode");
    let by_zone = printed(&env, &quorum, "MembersInOneZone");
    run_as_printed(&by_node);
    run_as_printed(&by_zone);
    let sts = env.wait_ready("web", Duration::from_secs(120)).await;
    let constraints = sts.spec.unwrap().template.spec.unwrap().topology_spread_constraints.unwrap();
    assert_eq!(constraints.len(), 2, "one per topology key");
    let quorum = quorum_when(&env, "web", |q| q["nodes"].as_array().unwrap().len() == 3).await;
    assert_eq!(codes(&quorum), Vec::<String>::new(), "{quorum:#}");
    let placed: std::collections::BTreeSet<String> =
        env.pods().await.iter().filter_map(|p| p.spec.as_ref()?.node_name.clone()).collect();
    assert_eq!(placed.len(), 3, "one per node");
}

/// A member whose volume is pinned to its node can run only there (a notice); once that node is
/// cordoned it cannot restart anywhere (a risk), and the printed uncordon lets it.
#[tokio::test]
async fn a_member_pinned_to_a_cordoned_node_cannot_restart_anywhere() {
    let env = Env::new("quorum-pinned").await;
    let nodes = zoned_nodes(&env, &["z1", "z2", "z3"]).await;
    let volume = env.pinned_claim("data-web-0", &nodes[0]).await;
    spread_set(&env, 3).await;
    env.create::<PodDisruptionBudget>(json!({"metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "minAvailable": 2}}))
        .await;
    let quorum = quorum_when(&env, "web", |q| q["budgets"][0]["disruptionsAllowed"] == 1).await;
    assert_eq!(codes(&quorum), ["MemberPinnedToNode"]);
    assert_eq!(quorum["findings"][0]["level"], "notice");
    assert!(
        finding(&quorum, "MemberPinnedToNode")
            .starts_with(&format!("web-0 can run only on node {}", nodes[0]))
    );

    kubectl(&env, &["cordon", &nodes[0]]);
    let quorum = quorum_when(&env, "web", |q| has(q, "MemberCannotRestart")).await;
    assert_eq!(codes(&quorum), ["MemberCannotRestart"]);
    assert_eq!(
        finding(&quorum, "MemberCannotRestart"),
        format!(
            "web-0 runs, but cannot restart anywhere: its volume {volume} (PVC data-web-0) is pinned to {}, which is \
             cordoned. If it stops (a restart, an eviction, its node's maintenance) it stays Pending; `{}` lets it start \
             there again",
            nodes[0],
            printed(&env, &quorum, "MemberCannotRestart")
        )
    );
    // status -A counts it at risk.
    let all = env.status_in_all_namespaces("web");
    assert!(all["quorum"]["findings"].as_array().unwrap().iter().any(|f| f["code"] == "MemberCannotRestart"));
    run_as_printed(&printed(&env, &quorum, "MemberCannotRestart"));
    let quorum = quorum_when(&env, "web", |q| !has(q, "MemberCannotRestart")).await;
    assert_eq!(codes(&quorum), ["MemberPinnedToNode"]);
    // The pod still runs where it ran: nothing here moves anything.
    let web_0: Pod = env.api::<Pod>().get("web-0").await.unwrap();
    assert_eq!(web_0.spec.unwrap().node_name.as_deref(), Some(nodes[0].as_str()));
    let volumes: Api<PersistentVolume> = Api::all(env.client.clone());
    env.api::<StatefulSet>().delete("web", &DeleteParams::default()).await.unwrap();
    let _ = volumes.delete(&volume, &DeleteParams::default()).await;
}
