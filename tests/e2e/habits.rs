//! kubectl's habits (issue #31): `--dry-run=server` (the API server's dry run of each write the
//! plan can send now: here prune's, and an RBAC refusal of a restart's), `-l/--selector` on the
//! list views, `-o name` and `-o jsonpath=…`.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolume;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::support::{Env, Sts, json_of, read_only_user};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn scaled(env: &Env, name: &str, replicas: i32) {
    env.scale(name, replicas).await;
    env.wait_ready(name, Duration::from_secs(60)).await;
}

async fn label(env: &Env, name: &str, labels: serde_json::Value) {
    let api: Api<StatefulSet> = env.api();
    api.patch(name, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": labels}})))
        .await
        .unwrap();
}

#[tokio::test]
async fn prune_server_dry_run_sends_each_write_with_dry_run_all_and_stores_nothing() {
    let env = Env::new("habits-server-dry-run").await;
    env.statefulset(&Sts::new("web", 3)).await;
    // =none is no dry run: off a terminal it still needs --yes (exit 2, nothing changed).
    let output = env.plugin().args(["restart", "web", "0", "--dry-run=none"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("pass --yes"), "{}", stderr(&output));
    scaled(&env, "web", 1).await;
    let before = env.pvc_names().await;
    assert_eq!(before, ["data-web-0", "data-web-1", "data-web-2"]);
    let ns = env.ns.as_str();

    // The plan on stdout, as a client dry run prints it; each write and its answer on stderr.
    let output =
        env.plugin().args(["pvc", "prune", "web", "--dry-run=server", "-o", "json"]).output().unwrap();
    let said = stderr(&output);
    let plan = json_of(&output);
    let client =
        json_of(&env.plugin().args(["pvc", "prune", "web", "--dry-run", "-o", "json"]).output().unwrap());
    assert_eq!(plan["candidates"], client["candidates"], "the same plan as a client dry run");
    assert!(said.contains("server dry run (dryRun=All; nothing is stored):"), "{said}");
    assert!(said.contains(&format!("  1. delete PVC {ns}/data-web-1: accepted")), "{said}");
    assert!(said.contains(&format!("  2. delete PVC {ns}/data-web-2: accepted")), "{said}");
    // -o json: the answers are in the plan too (PrunePlan v2), a client dry run has none.
    assert_eq!(plan["schemaVersion"], "v2");
    assert_eq!(
        plan["serverDryRun"],
        json!([
            {"step": 1, "write": format!("delete PVC {ns}/data-web-1"), "answer": "accepted"},
            {"step": 2, "write": format!("delete PVC {ns}/data-web-2"), "answer": "accepted"},
        ])
    );
    assert!(client.get("serverDryRun").is_none(), "{client}");
    assert_eq!(env.pvc_names().await, before, "nothing deleted");

    // --retain-volumes: the PV's patch is sent too (and its policy stays Delete).
    let output =
        env.plugin().args(["pvc", "prune", "web", "--retain-volumes", "--dry-run=server"]).output().unwrap();
    let said = stderr(&output);
    assert!(output.status.success(), "{said}");
    let claim =
        env.pvcs().await.into_iter().find(|c| c.metadata.name.as_deref() == Some("data-web-1")).unwrap();
    let volume = claim.spec.unwrap().volume_name.unwrap();
    assert!(said.contains(&format!("  1. set PV {volume} to Retain: accepted")), "{said}");
    assert!(said.contains(&format!("  2. delete PVC {ns}/data-web-1: accepted")), "{said}");
    let volumes: Api<PersistentVolume> = Api::all(env.client.clone());
    let policy = volumes.get(&volume).await.unwrap().spec.unwrap().persistent_volume_reclaim_policy;
    assert_eq!(policy.as_deref(), Some("Delete"), "the patch was not stored");

    // --snapshot: the snapshot's create is sent; what waits for it to be ready is not.
    let output =
        env.plugin().args(["pvc", "prune", "web", "--snapshot", "--dry-run=server"]).output().unwrap();
    let said = stderr(&output);
    assert!(output.status.success(), "{said}");
    assert!(said.contains(&format!("  1. create VolumeSnapshot {ns}/")), "{said}");
    assert!(said.contains("'s content to Retain: not checked: depends on step 1"), "{said}");
    assert!(
        said.contains(&format!("  3. delete PVC {ns}/data-web-1: not checked: depends on step 1")),
        "{said}"
    );
    assert_eq!(env.pvc_names().await, before, "nothing deleted");

    // A user who may only read: the API server refuses the delete (RBAC), exit 1.
    let reader = read_only_user(&env, "reader").await;
    let output =
        env.plugin().args(["pvc", "prune", "web", "--dry-run=server", "--as", &reader]).output().unwrap();
    let said = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(said.contains(&format!("  1. delete PVC {ns}/data-web-1: refused: ")), "{said}");
    assert!(said.contains("forbidden"), "{said}");
    assert!(
        said.contains(
            "error: the API server refused 2 of the 2 writes sent with dryRun=All (above); nothing was stored"
        ),
        "{said}"
    );
    assert_eq!(env.pvc_names().await, before, "nothing deleted");

    // A user who may change the StatefulSet but not evict its pods: the restart's journal is
    // accepted, its first eviction refused (RBAC), exit 1; with -o json the answers are the
    // last event.
    let rules = json!([
        {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": ["patch"]},
        {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["get", "list", "watch"]},
    ]);
    let restarter = crate::support::namespaced_user(&env, "restarter", rules).await;
    let output = env
        .plugin()
        .args([
            "restart",
            "web",
            "--min-available",
            "0",
            "--dry-run=server",
            "-o",
            "json",
            "--as",
            &restarter,
        ])
        .output()
        .unwrap();
    let said = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(said.contains("  1. write the restart journal of web: accepted"), "{said}");
    assert!(said.contains(&format!("  2. evict pod {ns}/web-0: refused: ")), "{said}");
    assert!(said.contains("forbidden"), "{said}");
    assert!(
        said.contains("  3. remove the restart journal of web: not checked: depends on step 2"),
        "{said}"
    );
    let events: Vec<serde_json::Value> =
        stdout(&output).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let answers = events.iter().find(|e| e["event"] == "serverDryRun").expect("a serverDryRun event");
    assert_eq!(answers["kind"], "RestartEvent");
    assert_eq!(answers["schemaVersion"], "v2");
    let writes = answers["writes"].as_array().unwrap();
    assert_eq!(
        writes.iter().map(|w| w["answer"].as_str().unwrap()).collect::<Vec<_>>(),
        ["accepted", "refused", "notChecked"]
    );
    assert!(writes[1]["reason"].as_str().unwrap().contains("forbidden"), "{answers}");
    assert_eq!(writes[2]["dependsOn"], 2);
    assert_eq!(events.last().unwrap()["event"], "error", "the run ends with its error line");
    let sts: Api<StatefulSet> = env.api();
    let web = sts.get("web").await.unwrap();
    assert!(
        !web.metadata.annotations.unwrap_or_default().contains_key("kubectl-stateful.dev/restart"),
        "no journal was stored"
    );
}

#[tokio::test]
async fn selector_and_kubectl_output_shapes_on_the_list_views() {
    let env = Env::new("habits-selector").await;
    env.statefulset(&Sts::new("web", 1)).await;
    env.statefulset(&Sts::new("db", 3)).await;
    // A label value of this test's own: other tests' sets share the cluster.
    let tier = env.ns.clone();
    label(&env, "db", json!({"tier": tier})).await;
    label(&env, "web", json!({"tier": "front"})).await;

    // -o name, in a namespace and with -A (kubectl prints no namespace there either).
    let output = env.plugin().args(["status", "-o", "name"]).output().unwrap();
    assert_eq!(stdout(&output), "statefulset.apps/db\nstatefulset.apps/web\n", "{}", stderr(&output));
    let selector = format!("tier={tier}");
    let output = env.plugin().args(["status", "-A", "-l", &selector, "-o", "name"]).output().unwrap();
    assert_eq!(stdout(&output), "statefulset.apps/db\n", "{}", stderr(&output));

    // The selector is the API server's: set-based expressions too.
    let set_based = format!("tier in ({tier},front),tier!=front");
    let output = env.plugin().args(["status", "-l", &set_based, "-o", "json"]).output().unwrap();
    let list = json_of(&output);
    let names: Vec<&str> =
        list["items"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["db"]);

    // -o jsonpath over the JSON document: a list and one StatefulSet.
    let output = env.plugin().args(["status", "-o", "jsonpath={.items[*].name}"]).output().unwrap();
    assert_eq!(stdout(&output), "db web", "{}", stderr(&output));
    let output = env
        .plugin()
        .args(["status", "db", "-o", r#"jsonpath={.name} has {.replicas.desired}{"\n"}"#])
        .output()
        .unwrap();
    assert_eq!(stdout(&output), "db has 3\n", "{}", stderr(&output));
    let json = json_of(&env.plugin().args(["status", "db", "-o", "json"]).output().unwrap());
    assert_eq!(json["replicas"]["desired"], 3, "the template reads the -o json model");

    // pvc prune -A --dry-run -l: only the selected sets are planned.
    scaled(&env, "db", 1).await;
    scaled(&env, "web", 0).await;
    let output = env
        .plugin()
        .args(["pvc", "prune", "-A", "--dry-run", "--include-scaled-to-zero", "-l", &selector, "-o", "json"])
        .output()
        .unwrap();
    let plan = json_of(&output);
    let sets: std::collections::BTreeSet<&str> =
        plan["candidates"].as_array().unwrap().iter().map(|c| c["statefulSet"].as_str().unwrap()).collect();
    assert_eq!(sets.into_iter().collect::<Vec<_>>(), ["db"]);

    // A selector the API server cannot parse: one line, exit 2.
    let output = env.plugin().args(["status", "-A", "-l", "tier in (a"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));

    // Across several contexts it is the same usage error, not each context's failure (exit 1).
    let twice = two_contexts(&env);
    let fleet = |args: &[&str]| {
        crate::support::plugin()
            .env("KUBECONFIG", &twice)
            .args(["--context", "here", "--context", "again"])
            .args(args)
            .output()
            .unwrap()
    };
    for args in
        [&["status", "-A", "-l", "tier in (a"][..], &["pvc", "prune", "-A", "--dry-run", "-l", "tier in (a"]]
    {
        let output = fleet(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert_eq!(stderr(&output).lines().count(), 1, "{args:?}: {}", stderr(&output));
        assert!(stdout(&output).is_empty(), "{args:?}: {}", stdout(&output));
    }

    // A selector that matches nothing says so, not that the namespace is empty.
    let output = env.plugin().args(["status", "-l", "tier=nothing-has-it"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stderr(&output).trim(),
        format!("No StatefulSets found in namespace {} matching -l tier=nothing-has-it.", env.ns)
    );
}

/// A copy of the test kubeconfig with its context under two names, `here` and `again`: two
/// contexts of one cluster, as a fleet run takes them.
fn two_contexts(env: &Env) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("{}-two-contexts", env.ns));
    std::fs::copy(&env.kubeconfig, &path).unwrap();
    let kubectl = |args: &[&str]| {
        let output =
            std::process::Command::new("kubectl").env("KUBECONFIG", &path).args(args).output().unwrap();
        assert!(output.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let current = crate::support::current_context(&path);
    let cluster = kubectl(&[
        "config",
        "view",
        "-o",
        &format!("jsonpath={{.contexts[?(@.name==\"{current}\")].context.cluster}}"),
    ]);
    let user = kubectl(&[
        "config",
        "view",
        "-o",
        &format!("jsonpath={{.contexts[?(@.name==\"{current}\")].context.user}}"),
    ]);
    kubectl(&["config", "set-context", "again", "--cluster", &cluster, "--user", &user]);
    kubectl(&["config", "rename-context", &current, "here"]);
    path
}
