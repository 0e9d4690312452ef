//! Several clusters in one `status -A`: the suite's own cluster and one started for this test,
//! side by side, plus a context whose API server is a dead port.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use serde_json::Value;

use crate::support::{Env, OwnCluster, Sts, kubeconfig, wait_until};

/// A kubeconfig with contexts `a` (the suite's cluster), `b` (`other`) and `dead` (a port
/// nothing listens on), merged with kubectl as a person would (`KUBECONFIG=one:two kubectl config
/// view --flatten`), written to `path`.
fn merged_kubeconfig(path: &Path, other: &OwnCluster) {
    let kubectl = |env: &std::ffi::OsStr, args: &[&str]| {
        let output =
            std::process::Command::new("kubectl").env("KUBECONFIG", env).args(args).output().unwrap();
        assert!(output.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        output.stdout
    };
    let both = std::env::join_paths([kubeconfig().as_path(), other.kubeconfig.as_path()]).unwrap();
    std::fs::write(path, kubectl(&both, &["config", "view", "--flatten"])).unwrap();
    let path = path.as_os_str();
    let contexts = String::from_utf8(kubectl(path, &["config", "get-contexts", "-o", "name"])).unwrap();
    for context in contexts.lines() {
        // kwokctl names each context kwok-<cluster>.
        let short = if context == format!("kwok-{}", other.name) { "b" } else { "a" };
        kubectl(path, &["config", "rename-context", context, short]);
    }
    kubectl(
        path,
        &["config", "set-cluster", "dead", "--server", "https://127.0.0.1:1", "--insecure-skip-tls-verify"],
    );
    let user =
        String::from_utf8(kubectl(path, &["config", "view", "-o", "jsonpath={.users[0].name}"])).unwrap();
    kubectl(path, &["config", "set-context", "dead", "--cluster", "dead", "--user", &user]);
}

/// Scales `name` down by one once it is up: the claim of the highest ordinal is left orphaned.
async fn with_orphan(env: &Env, name: &str, replicas: i32) {
    env.statefulset(&Sts::new(name, replicas)).await;
    env.scale(name, replicas - 1).await;
    env.wait_ready(name, Duration::from_secs(60)).await;
}

#[tokio::test]
async fn status_across_contexts_lists_each_with_its_context_and_a_dead_one_as_an_error() {
    let name = format!(
        "{}-fleet",
        std::env::var("KUBECTL_STATEFUL_CLUSTER").unwrap_or_else(|_| "kubectl-stateful".to_owned())
    );
    let other = tokio::task::spawn_blocking(move || OwnCluster::start(&name)).await.unwrap();
    let (here, there) = (Env::new("fleet").await, Env::on(&other.kubeconfig, "fleet").await);
    with_orphan(&here, "web", 3).await;
    with_orphan(&there, "db", 2).await;
    let merged = std::env::temp_dir().join(format!("{}-kubeconfig", here.ns));
    merged_kubeconfig(&merged, &other);

    let run =
        |args: &[&str]| crate::support::plugin().env("KUBECONFIG", &merged).args(args).output().unwrap();
    // Controllers catch up: the orphans count once the scale-downs are observed.
    let mut output =
        run(&["status", "-A", "--context", "a", "--context", "b", "--context", "dead", "-o", "json"]);
    wait_until(Duration::from_secs(30), || {
        output =
            run(&["status", "-A", "--context", "a", "--context", "b", "--context", "dead", "-o", "json"]);
        let summary: Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        std::future::ready(
            summary["summary"]["perContext"]
                .as_array()
                .is_some_and(|c| c.iter().take(2).all(|c| c["orphanedClaims"].as_u64().unwrap_or(0) >= 1)),
        )
    })
    .await;
    assert_eq!(
        output.status.code(),
        Some(1),
        "a context failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: 1 of 3 contexts could not be read (dead: "), "{stderr}");
    let fleet: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((fleet["kind"].as_str(), fleet["schemaVersion"].as_str()), (Some("FleetStatus"), Some("v4")));
    let mine = |context: &str, ns: &str| -> Vec<String> {
        fleet["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["context"] == context && i["namespace"] == ns)
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(mine("a", &here.ns), ["web"]);
    assert_eq!(mine("b", &there.ns), ["db"]);
    assert!(fleet["items"].as_array().unwrap().iter().all(|i| i["kind"] == "StatefulSetStatus"));
    let errors = fleet["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["context"], "dead");
    let summary = &fleet["summary"];
    assert_eq!((summary["contexts"].as_u64(), summary["failed"].as_u64()), (Some(3), Some(1)));
    let per: Vec<&str> =
        summary["perContext"].as_array().unwrap().iter().map(|c| c["context"].as_str().unwrap()).collect();
    assert_eq!(per, ["a", "b", "dead"], "in the order asked");

    // The table: a CONTEXT column, the dead context as an error row, the summary line.
    let table = run(&["status", "-A", "--context", "b", "--context", "dead"]);
    assert_eq!(table.status.code(), Some(1));
    let text = String::from_utf8_lossy(&table.stdout);
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().take(4).collect();
    assert_eq!(header, ["CONTEXT", "NAMESPACE", "NAME", "READY"], "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("b ") && l.contains(&there.ns) && l.contains(" db ")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("dead ") && l.contains("(not read)")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("context dead: cannot ")), "{text}");
    assert!(text.lines().last().unwrap().starts_with("2 contexts (1 could not be read), "), "{text}");

    // pvc prune -A --dry-run across both finds exactly the planted orphans.
    let output = run(&["pvc", "prune", "-A", "--context", "a", "--context", "b", "--dry-run", "-o", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let plans: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plans["kind"], "FleetPrunePlan");
    let planted = |context: &str, ns: &str| -> Vec<String> {
        plans["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["context"] == context)
            .flat_map(|p| p["candidates"].as_array().unwrap().iter())
            .filter(|c| c["namespace"] == ns && c["verdict"] == "prune")
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(planted("a", &here.ns), ["data-web-2"]);
    assert_eq!(planted("b", &there.ns), ["data-db-1"]);
    // kwok-volume deletes its volumes: each context's data warning, with advice for that context.
    let stderr = String::from_utf8_lossy(&output.stderr);
    for (context, claim) in
        [("a", format!("{}/data-web-2", here.ns)), ("b", format!("{}/data-db-1", there.ns))]
    {
        let warning = stderr
            .lines()
            .find(|l| l.starts_with(&format!("warning: context {context}: the PVs of")))
            .unwrap_or_else(|| panic!("no data warning for context {context}: {stderr}"));
        assert!(warning.contains(&claim), "{warning}");
        // The run's other flags follow (here the dry-run user tests/e2e/plugin.sh adds: advice
        // carries the identity it ran as).
        let lead = format!("kubectl stateful pvc prune -A --retain-volumes --context {context}");
        let advised = crate::support::commands(warning)
            .into_iter()
            .find(|c| c.starts_with(&lead))
            .unwrap_or_else(|| panic!("{lead} in {warning}"));
        // Run as printed (no --yes and no terminal: it plans, and would keep the volume).
        let words: Vec<&str> = advised.split_whitespace().skip(2).collect();
        let advice = run(&words);
        assert_eq!(advice.status.code(), Some(0), "{}", String::from_utf8_lossy(&advice.stderr));
        let plan = String::from_utf8_lossy(&advice.stdout);
        let (namespace, name) = claim.split_once('/').unwrap();
        let line = plan.lines().find(|l| l.starts_with(namespace) && l.contains(name)).unwrap_or_default();
        assert!(line.contains("prune (PV kept)"), "{plan}");
    }
    // A prune itself deletes in one context at a time.
    let deleting = run(&["pvc", "prune", "-A", "--context", "a", "--context", "b", "--yes"]);
    assert_eq!(deleting.status.code(), Some(2), "{}", String::from_utf8_lossy(&deleting.stderr));
    assert_eq!(here.pvc_names().await.len(), 3, "nothing deleted");

    // Several contexts are for the list modes only.
    let single = run(&["status", "web", "--context", "a", "--context", "b"]);
    assert_eq!(single.status.code(), Some(2), "{}", String::from_utf8_lossy(&single.stderr));
}

/// A kubeconfig at `path` with this cluster under three contexts: `good` (its own user), `hang`
/// (an exec credential plugin that writes its pid to `pid` and never answers) and `good-exec`
/// (an exec credential plugin that prints the same user's client certificate). Written as a
/// person's would be, with the suite's cluster entry as it is.
fn exec_kubeconfig(env: &crate::support::Env, path: &Path, pid: &Path) {
    let mut config: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&env.kubeconfig).unwrap()).unwrap();
    let cluster = config["clusters"][0]["name"].as_str().unwrap().to_owned();
    let admin = config["users"][0]["user"].clone();
    let read = |key: &str| std::fs::read_to_string(admin[key].as_str().unwrap()).unwrap();
    let credential = path.with_extension("credential.json");
    let body = serde_json::json!({
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"clientCertificateData": read("client-certificate"), "clientKeyData": read("client-key")}
    });
    std::fs::write(&credential, body.to_string()).unwrap();
    let exec = |command: &str, args: Vec<String>| serde_json::json!({"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": command, "args": args, "interactiveMode": "Never"}});
    config["users"] = serde_json::json!([
        {"name": "admin", "user": admin},
        {"name": "hangs", "user": exec("sh", vec!["-c".into(), format!("echo $$ > {}; exec sleep 300", pid.display())])},
        {"name": "from-exec", "user": exec("cat", vec![credential.display().to_string()])},
    ]);
    let context = |name: &str, user: &str| serde_json::json!({"name": name, "context": {"cluster": cluster, "user": user}});
    config["contexts"] = serde_json::json!([
        context("good", "admin"),
        context("hang", "hangs"),
        context("good-exec", "from-exec")
    ]);
    config["current-context"] = serde_json::json!("good");
    std::fs::write(path, serde_json::to_string(&config).unwrap()).unwrap();
}

/// One context's exec credential plugin hangs: that context alone fails, named, within its
/// deadline, the plugin is stopped, and the others are read (kube ran the plugin synchronously
/// while it built the client, which held up every context on the single-threaded runtime). Two
/// contexts reaching the same cluster are counted once, with a note naming both.
#[tokio::test]
async fn a_hanging_exec_plugin_fails_its_own_context_and_one_cluster_counts_once() {
    let env = crate::support::Env::new("fleet-exec").await;
    env.statefulset(&Sts::new("web", 1)).await;
    let path = std::env::temp_dir().join(format!("{}.kubeconfig", env.ns));
    let pid = std::env::temp_dir().join(format!("{}.plugin-pid", env.ns));
    exec_kubeconfig(&env, &path, &pid);
    let run = |args: &[&str]| {
        crate::support::plugin()
            .env_remove("KUBECONFIG")
            .args(["--kubeconfig", path.to_str().unwrap(), "--request-timeout", "5s"])
            .args(args)
            .output()
            .unwrap()
    };
    let contexts = ["status", "-A", "--context", "good", "--context", "hang", "--context", "good-exec"];
    let output = run(&[&contexts[..], &["-o", "json"]].concat());
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let fleet: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(fleet["schemaVersion"], "v4");
    let errors = fleet["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "only hang's: {errors:?}");
    assert_eq!(errors[0]["context"], "hang");
    assert_eq!(
        errors[0]["error"],
        "the exec credential plugin sh of context hang gave no credential within 5s and was stopped"
    );
    let ours: Vec<&Value> =
        fleet["items"].as_array().unwrap().iter().filter(|i| i["namespace"] == env.ns.as_str()).collect();
    assert_eq!(ours.len(), 1, "web, once: {ours:?}");
    assert_eq!(ours[0]["context"], "good");
    let summary = &fleet["summary"];
    assert_eq!(
        (summary["contexts"].as_u64(), summary["failed"].as_u64(), summary["clusters"].as_u64()),
        (Some(3), Some(1), Some(1))
    );
    let per = summary["perContext"].as_array().unwrap();
    assert_eq!(per[2]["context"], "good-exec");
    assert_eq!(per[2]["sameClusterAs"], "good", "read with the plugin's certificate, and counted as good");
    assert!(per[2].get("error").is_none(), "{per:?}");
    let same = &summary["sameCluster"][0];
    assert_eq!(same["contexts"], serde_json::json!(["good", "good-exec"]));
    assert!(same["identity"].as_str().unwrap().starts_with("kube-system namespace uid "), "{same}");
    // The plugin was stopped, not left behind: gone, or dead and not yet reaped by whoever
    // inherited it (a zombie), within moments of the SIGKILL.
    let plugin: String = std::fs::read_to_string(&pid).unwrap().trim().to_owned();
    let running = || {
        let stat = std::fs::read_to_string(format!("/proc/{plugin}/stat")).unwrap_or_default();
        let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
        std::future::ready(!matches!(state, None | Some("Z" | "X")))
    };
    wait_until(Duration::from_secs(10), || async { !running().await }).await;

    // The table says the same, with the note.
    let table = run(&contexts);
    assert_eq!(table.status.code(), Some(1));
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.lines().any(|l| l.starts_with("good-exec ") && l.contains("(same cluster as good)")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l
            .starts_with("contexts good and good-exec reach the same cluster (kube-system namespace uid ")
            && l.ends_with("): counted once, as good")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("context hang: the exec credential plugin sh of context hang")),
        "{text}"
    );

    // A prune plan across the two contexts of one cluster lists its orphan once.
    env.scale("web", 0).await;
    // Settled, as prune requires (it keeps the claims of a set still scaling): under load the
    // controller may not have counted the pod gone yet.
    let sets = env.api::<StatefulSet>();
    wait_until(Duration::from_secs(60), || async {
        let web = sets.get("web").await.unwrap();
        let status = web.status.unwrap_or_default();
        status.replicas == 0 && status.observed_generation >= web.metadata.generation
    })
    .await;
    let orphan = env.pvc_names().await;
    assert_eq!(orphan, ["data-web-0"]);
    let prune = [
        "pvc",
        "prune",
        "-A",
        "--include-scaled-to-zero",
        "--dry-run",
        "--context",
        "good",
        "--context",
        "good-exec",
    ];
    let output = run(&[&prune[..], &["-o", "json"]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let plans: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (plans["kind"].as_str(), plans["schemaVersion"].as_str()),
        (Some("FleetPrunePlan"), Some("v2"))
    );
    let contexts: Vec<&str> =
        plans["items"].as_array().unwrap().iter().map(|i| i["context"].as_str().unwrap()).collect();
    assert_eq!(contexts, ["good"], "one plan for the one cluster");
    assert_eq!(plans["sameCluster"][0]["contexts"], serde_json::json!(["good", "good-exec"]));
    let ours = |plans: &Value| -> usize {
        plans["items"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["candidates"].as_array().unwrap().iter())
            .filter(|c| c["namespace"] == env.ns.as_str() && c["verdict"] == "prune")
            .count()
    };
    assert_eq!(ours(&plans), 1, "{plans}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("context good-exec"), "warned about once, under good: {stderr}");
    let text = String::from_utf8_lossy(&run(&prune).stdout).into_owned();
    assert!(
        text.lines().any(|l| l.starts_with("the same cluster as context good (kube-system namespace uid ")
            && l.ends_with("): its claims are listed there")),
        "{text}"
    );
    assert!(text.lines().last().unwrap().contains(" to prune across 1 cluster(s) (2 contexts); "), "{text}");
    std::fs::remove_file(&path).unwrap();
}

/// The kubeconfig context's namespace is checked by the rule of `-n`: one line, exit 2, before
/// any request; `-n` overrides it.
#[tokio::test]
async fn the_contexts_namespace_is_checked_like_dash_n() {
    let env = crate::support::Env::new("fleet-context-namespace").await;
    env.statefulset(&Sts::new("web", 1)).await;
    let mut config: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&env.kubeconfig).unwrap()).unwrap();
    config["contexts"][0]["context"]["namespace"] = serde_json::json!("bad/name");
    let path = std::env::temp_dir().join(format!("{}.kubeconfig", env.ns));
    std::fs::write(&path, serde_json::to_string(&config).unwrap()).unwrap();
    let run = |args: &[&str]| crate::support::plugin().env("KUBECONFIG", &path).args(args).output().unwrap();
    let output = run(&["status", "web", "-v", "6"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "I 0 API requests",
            &format!(
                "error: invalid namespace in context {} of the kubeconfig: \"bad/name\" is not a namespace name (lower-case \
                 letters, digits and '-', at most 63 characters, starting and ending with a letter or digit); -n NAME \
                 overrides it",
                config["current-context"].as_str().unwrap()
            )
        ],
        "{stderr}"
    );
    let output = run(&["status", "web", "-n", &env.ns, "-o", "json"]);
    assert_eq!(crate::support::json_of(&output)["name"], "web");
    std::fs::remove_file(&path).unwrap();
}
