//! GitOps ownership, made the honest way: StatefulSets applied with `kubectl apply
//! --server-side --field-manager argocd-controller` (and kustomize-controller, helm) carrying
//! each tool's labels and annotations, as those tools apply them. A background apply of the
//! old image under argocd-controller stands in for Argo CD's self-heal (docs/testing.md).

use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use kube::ResourceExt;
use serde_json::{Value, json};

use crate::support::{Env, JOURNAL, Sts, images, json_of, kubectl_apply, partition, sts, wait_until};

fn v(image: &str) -> String {
    format!("example.invalid/{image}")
}

/// The manifest a GitOps tool would apply: no partition unless `partition` is given (Git does
/// not set it), with the tool's `labels` and `annotations`.
fn manifest(name: &str, image: &str, labels: Value, annotations: Value, partition: Option<i32>) -> Value {
    let mut manifest = Sts { image: v(image), ..Sts::new(name, 3) }.manifest();
    manifest["metadata"]["labels"] = labels;
    manifest["metadata"]["annotations"] = annotations;
    if let Some(partition) = partition {
        manifest["spec"]["updateStrategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": partition}});
    }
    manifest
}

fn argo(name: &str, image: &str) -> Value {
    let tracking = format!("shop:apps/StatefulSet:{{ns}}/{name}");
    manifest(name, image, json!({}), json!({"argocd.argoproj.io/tracking-id": tracking}), None)
}

async fn service(env: &Env, name: &str) {
    env.create::<Service>(json!({
        "metadata": {"name": name},
        "spec": {"clusterIP": "None", "selector": {"app": name}, "ports": [{"port": 80}]}
    }))
    .await;
}

/// Applies `manifest` as `manager` (server-side) and waits until every pod is Ready.
async fn applied(env: &Env, manifest: &Value, manager: Option<&str>) {
    let name = manifest["metadata"]["name"].as_str().unwrap().to_owned();
    service(env, &name).await;
    let manifest = serde_json::from_str::<Value>(&manifest.to_string().replace("{ns}", &env.ns)).unwrap();
    kubectl_apply(env, &manifest, manager.is_some(), manager);
    env.wait_ready(&name, Duration::from_secs(60)).await;
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn status_names_the_owner_of_each_field_this_tool_writes() {
    let env = Env::new("gitops-status").await;
    applied(&env, &argo("argo", "app:v1"), Some("argocd-controller")).await;
    let flux = manifest(
        "flux",
        "app:v1",
        json!({"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}),
        json!({}),
        None,
    );
    applied(&env, &flux, Some("kustomize-controller")).await;
    let chart = manifest(
        "chart",
        "app:v1",
        json!({"app.kubernetes.io/managed-by": "Helm"}),
        json!({"meta.helm.sh/release-name": "db", "meta.helm.sh/release-namespace": env.ns}),
        Some(0),
    );
    applied(&env, &chart, Some("helm")).await;
    applied(&env, &manifest("plain", "app:v1", json!({}), json!({}), None), None).await;

    let owners = |name: &str| {
        json_of(&env.plugin().args(["status", name, "-o", "json"]).output().unwrap())["owners"].clone()
    };
    let managers = |list: &Value| -> Vec<String> {
        list.as_array().unwrap().iter().map(|m| m["manager"].as_str().unwrap().to_owned()).collect()
    };
    let argo = owners("argo");
    assert_eq!(argo["applier"]["tool"], "argoCd");
    assert_eq!(argo["applier"]["name"], "shop");
    assert_eq!(managers(&argo["template"]), ["argocd-controller"]);
    assert_eq!(managers(&argo["images"][0]["managers"]), ["argocd-controller"]);
    assert_eq!(managers(&argo["partition"]), Vec::<String>::new(), "Git does not set the partition");
    let flux = owners("flux");
    assert_eq!(
        (flux["applier"]["tool"].as_str(), flux["applier"]["name"].as_str()),
        (Some("fluxKustomization"), Some("apps"))
    );
    assert_eq!(managers(&flux["template"]), ["kustomize-controller"]);
    let chart = owners("chart");
    assert_eq!(chart["applier"]["tool"], "helm");
    assert_eq!(managers(&chart["partition"]), ["helm"], "the chart renders the partition");
    let plain = owners("plain");
    assert_eq!(plain["applier"], Value::Null);
    assert_eq!(managers(&plain["template"]), ["kubectl-client-side-apply"]);

    let table = String::from_utf8(env.plugin().args(["status", "argo"]).output().unwrap().stdout).unwrap();
    let line = table.lines().find(|l| l.starts_with("Owner:")).expect("an Owner line");
    assert!(
        line.contains(
            "Argo CD application shop; template argocd-controller, partition -, replicas argocd-controller"
        ),
        "{line}"
    );
}

#[tokio::test]
async fn an_image_argo_cd_owns_is_refused_and_a_plain_kubectl_set_is_rolled_out() {
    let env = Env::new("gitops-image").await;
    applied(&env, &argo("web", "app:v1"), Some("argocd-controller")).await;
    let before = env.versions().await;
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--yes"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("The image of container app of web is owned by Argo CD application shop (field manager argocd-controller)")
            && text.contains("nothing was changed")
            && text.contains("kubectl stateful rollout web --hold"),
        "{text}"
    );
    assert_eq!(env.versions().await, before, "nothing written");

    applied(&env, &manifest("plain", "app:v1", json!({}), json!({}), None), None).await;
    let output = env
        .plugin()
        .args(["rollout", "plain", "--image", &format!("app={}", v("app:v2")), "--yes"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    wait_until(Duration::from_secs(30), || async {
        images(&env).await.iter().filter(|(p, i)| p.starts_with("plain-") && *i == v("app:v2")).count() == 3
    })
    .await;
}

#[tokio::test]
async fn a_partition_the_chart_renders_is_refused_with_what_to_change() {
    let env = Env::new("gitops-partition").await;
    let chart = manifest(
        "db",
        "app:v1",
        json!({"app.kubernetes.io/managed-by": "Helm"}),
        json!({"meta.helm.sh/release-name": "db", "meta.helm.sh/release-namespace": "{ns}"}),
        Some(0),
    );
    applied(&env, &chart, Some("helm")).await;
    let before = env.versions().await;
    for args in [
        vec!["rollout", "db", "--hold", "--yes"],
        vec!["rollout", "db", "--image", "app=example.invalid/app:v2", "--yes"],
    ] {
        let output = env.plugin().args(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let text = stderr(&output);
        let last = text.lines().last().unwrap();
        assert!(
            last.starts_with(&format!(
                "error: The partition of db is owned by Helm release {}/db (field manager helm)",
                env.ns
            )),
            "{text}"
        );
        assert!(
            text.contains("The chart of release db renders updateStrategy.rollingUpdate.partition"),
            "the snippet: {text}"
        );
    }
    assert_eq!(env.versions().await, before, "nothing written");
}

/// Git-first: hold, Git (argocd-controller) applies the new image and no pod moves, then the
/// plugin steps it through to partition 0.
#[tokio::test]
async fn hold_then_a_change_from_git_is_staged_and_stepped_through() {
    let env = Env::new("gitops-hold").await;
    applied(&env, &argo("web", "app:v1"), Some("argocd-controller")).await;
    let output = env.plugin().args(["rollout", "web", "--hold", "--yes"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let held = sts(&env, "web").await;
    assert_eq!(partition(&held), 3);
    assert!(held.annotations()[JOURNAL].contains(r#""held":true"#), "{:?}", held.annotations());
    let status = json_of(&env.plugin().args(["status", "web", "-o", "json"]).output().unwrap());
    assert!(status["warnings"].as_array().unwrap().iter().any(|w| w["code"] == "RolloutHeld"), "{status}");
    let pods_before: Vec<String> = env.pods().await.iter().map(|p| p.uid().unwrap()).collect();

    // Argo CD syncs the commit with the new image.
    let git =
        serde_json::from_str::<Value>(&argo("web", "app:v2").to_string().replace("{ns}", &env.ns)).unwrap();
    kubectl_apply(&env, &git, true, Some("argocd-controller"));
    wait_until(Duration::from_secs(30), || async {
        let sts = sts(&env, "web").await;
        let status = sts.status.unwrap();
        status.observed_generation == sts.metadata.generation
            && status.update_revision != status.current_revision
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pods_after: Vec<String> = env.pods().await.iter().map(|p| p.uid().unwrap()).collect();
    assert_eq!(pods_after, pods_before, "the hold kept every pod as it was");
    assert!(images(&env).await.iter().all(|(_, i)| *i == v("app:v1")));

    let output = env.plugin().args(["rollout", "web", "--yes"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let done = sts(&env, "web").await;
    assert_eq!(partition(&done), 0);
    assert!(!done.annotations().contains_key(JOURNAL));
    assert!(images(&env).await.iter().all(|(_, i)| *i == v("app:v2")));
}

/// Argo CD's self-heal sets the old image back while an overridden rollout waits: the rollout
/// stops at once with exit 3, names the field manager, and leaves the partition where it was.
#[tokio::test]
async fn a_self_heal_mid_rollout_stops_it_and_names_the_manager() {
    let env = Env::new("gitops-drift").await;
    applied(&env, &argo("web", "app:v1"), Some("argocd-controller")).await;
    let git =
        serde_json::from_str::<Value>(&argo("web", "app:v1").to_string().replace("{ns}", &env.ns)).unwrap();
    let rollout = env
        .spawn_plugin(&[
            "rollout",
            "web",
            "--image",
            &format!("app={}", v("app:v2")),
            "--override-owner",
            "--yes",
            "--pause",
            "30s",
            "-o",
            "json",
        ])
        .spawn()
        .unwrap();
    // Self-heal: once the first step has released a pod, Argo CD applies Git's image again.
    wait_until(Duration::from_secs(60), || async { partition(&sts(&env, "web").await) == 2 }).await;
    let partition_left = partition(&sts(&env, "web").await);
    kubectl_apply(&env, &git, true, Some("argocd-controller"));
    let output =
        tokio::time::timeout(Duration::from_secs(60), rollout.wait_with_output()).await.unwrap().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("field manager argocd-controller (Argo CD) changed web while the rollout waited"),
        "{text}"
    );
    let events: Vec<Value> =
        String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let drift = events.iter().find(|e| e["event"] == "drift").expect("a drift event");
    assert_eq!(drift["manager"], "argocd-controller");
    assert_eq!(drift["partition"], partition_left);
    assert_eq!(
        partition(&sts(&env, "web").await),
        partition_left,
        "the partition is left where the rollout had it"
    );
}

/// Git-first abort: the plugin will not write Git's old template; reverting in Git rolls the
/// released pods back, and the abort then ends the rollout.
#[tokio::test]
async fn an_abort_of_a_held_rollout_is_a_revert_in_git() {
    let env = Env::new("gitops-abort").await;
    applied(&env, &argo("web", "app:v1"), Some("argocd-controller")).await;
    let git = |image: &str| {
        serde_json::from_str::<Value>(&argo("web", image).to_string().replace("{ns}", &env.ns)).unwrap()
    };
    assert!(env.plugin().args(["rollout", "web", "--hold", "--yes"]).output().unwrap().status.success());
    kubectl_apply(&env, &git("app:v2"), true, Some("argocd-controller"));
    let output = env.plugin().args(["rollout", "web", "--partition", "2", "--yes"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));

    let before = env.versions().await;
    let output = env.plugin().args(["rollout", "web", "--abort", "--yes"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.contains("Revert the change in Git") && text.contains("(web-2)"), "{text}");
    assert_eq!(env.versions().await, before, "nothing written");

    // The revert in Git: the controller rolls web-2 back by itself.
    kubectl_apply(&env, &git("app:v1"), true, Some("argocd-controller"));
    wait_until(Duration::from_secs(60), || async {
        images(&env).await.iter().all(|(_, i)| *i == v("app:v1"))
    })
    .await;
    let output = env.plugin().args(["rollout", "web", "--abort", "--yes"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let done = sts(&env, "web").await;
    assert_eq!(partition(&done), 0, "the partition from before the hold");
    assert!(!done.annotations().contains_key(JOURNAL));
}

/// `kubectl replace` of a manifest in the test namespace, under `manager`: what Argo CD does
/// with `Replace=true` (gitops-engine's `ReplaceResource`). Panics on failure.
fn kubectl_replace(env: &Env, manifest: &Value, manager: &str) {
    let mut object = serde_json::from_str::<Value>(&manifest.to_string().replace("{ns}", &env.ns)).unwrap();
    object["apiVersion"] = json!("apps/v1");
    object["kind"] = json!("StatefulSet");
    // A conflict with the controller's own write in between is tried again, as Argo CD's sync
    // retries it.
    for attempt in 1.. {
        let output = crate::support::kubectl_with_object(
            env,
            &["replace", "-n", &env.ns, "--field-manager", manager, "-f", "-"],
            &object,
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() {
            return;
        }
        assert!(attempt < 5 && stderr.contains("(Conflict)"), "kubectl replace: {stderr}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// `--evict` switches the whole update strategy to OnDelete for the rollout: where Git sets
/// it, refused with nothing changed and what to change printed above; overridden, a warning.
#[tokio::test]
async fn evict_is_refused_where_git_sets_the_update_strategy() {
    let env = Env::new("gitops-evict").await;
    let mut git = argo("web", "app:v1");
    git["spec"]["updateStrategy"] = json!({"type": "RollingUpdate"});
    applied(&env, &git, Some("argocd-controller")).await;
    let before = env.versions().await;
    let image = format!("app={}", v("app:v2"));
    let output =
        env.plugin().args(["rollout", "web", "--evict", "--image", &image, "--yes"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with(
            "error: The update strategy of web is owned by Argo CD application shop (field manager \
             argocd-controller), which sets it back at its next sync"
        ) && last.contains("nothing was changed"),
        "{text}"
    );
    assert!(text.starts_with("Git sets updateStrategy of StatefulSet web"), "what to change, above: {text}");
    assert_eq!(env.versions().await, before, "nothing written");
    let dry = env
        .plugin()
        .args(["rollout", "web", "--evict", "--image", &image, "--override-owner", "--dry-run"])
        .output()
        .unwrap();
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(
        stderr(&dry).contains("--override-owner: the update strategy is owned by Argo CD application shop"),
        "{}",
        stderr(&dry)
    );
    // A plain set's strategy is nobody's: --evict goes ahead.
    let mut plain = manifest("plain", "app:v1", json!({}), json!({}), None);
    plain["spec"]["updateStrategy"] = json!({"type": "RollingUpdate"});
    applied(&env, &plain, None).await;
    let output =
        env.plugin().args(["rollout", "plain", "--evict", "--image", &image, "--yes"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

/// An application that syncs with `Replace=true` owns every field, the partition included
/// (managedFields say nobody): `--hold` is refused, since the sync that brings the change
/// releases every pod; overridden, status says so, and Argo CD's replace does just that.
#[tokio::test]
async fn a_hold_is_refused_where_argo_cd_syncs_with_replace_and_the_replace_shows_why() {
    let env = Env::new("gitops-replace").await;
    let git = |image: &str| {
        let mut manifest = argo("web", image);
        manifest["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] = json!("Replace=true");
        manifest
    };
    applied(&env, &git("app:v1"), Some("argocd-controller")).await;
    let before = env.versions().await;
    let output = env.plugin().args(["rollout", "web", "--hold", "--yes"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.lines().last().unwrap().starts_with(
            "error: The partition of web is owned by Argo CD application shop (it syncs with Replace=true: \
             annotation argocd.argoproj.io/sync-options), which sets it back at its next sync (at once with \
             self-heal): the hold would not hold"
        ),
        "{text}"
    );
    assert!(text.contains("Remove Replace=true from that annotation in Git"), "{text}");
    assert_eq!(env.versions().await, before, "nothing written");

    let output =
        env.plugin().args(["rollout", "web", "--hold", "--override-owner", "--yes"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(partition(&sts(&env, "web").await), 3);
    let status = json_of(&env.plugin().args(["status", "web", "-o", "json"]).output().unwrap());
    let held =
        status["warnings"].as_array().unwrap().iter().find(|w| w["code"] == "RolloutHeld").unwrap().clone();
    assert!(
        held["message"].as_str().unwrap().contains("the change then releases every pod at once"),
        "{held}"
    );
    assert!(status["owners"]["applier"]["replaceSync"].is_string(), "{}", status["owners"]);

    // Argo CD syncs the change with Replace=true: Git's object replaces the live one.
    kubectl_replace(&env, &git("app:v2"), "argocd-controller");
    let replaced = sts(&env, "web").await;
    assert_eq!(partition(&replaced), 0, "Git sets no partition");
    assert!(!replaced.annotations().contains_key(JOURNAL), "the journal went with it");
    wait_until(Duration::from_secs(60), || async {
        images(&env).await.iter().all(|(_, i)| *i == v("app:v2"))
    })
    .await;
}

/// Helm is no GitOps tool: a Helm release hears what Helm does (its next upgrade, its values, a
/// rollback), never a sync or Git.
#[tokio::test]
async fn a_helm_release_hears_what_helm_does_not_what_a_sync_does() {
    let env = Env::new("gitops-helm").await;
    let chart = |image: &str| {
        manifest(
            "db",
            image,
            json!({"app.kubernetes.io/managed-by": "Helm"}),
            json!({"meta.helm.sh/release-name": "db", "meta.helm.sh/release-namespace": "{ns}"}),
            None,
        )
    };
    applied(&env, &chart("app:v1"), Some("helm")).await;
    let helm_words = |text: &str| !text.contains("Git") && !text.contains("sync");
    let image = format!("app={}", v("app:v2"));
    let output = env.plugin().args(["rollout", "db", "--image", &image, "--yes"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.contains(
            "which sets it back at the next helm upgrade (Helm 4's upgrade fails on the conflict instead)"
        ) && text.contains("Change it in the release's chart or values instead, held back")
            && helm_words(&text),
        "{text}"
    );
    // Held, the upgrade (as helm applies it), one step, then the abort: roll the release back.
    let output = env.plugin().args(["rollout", "db", "--hold", "--yes"]).output().unwrap();
    assert!(output.status.success() && helm_words(&stderr(&output)), "{}", stderr(&output));
    let upgrade =
        serde_json::from_str::<Value>(&chart("app:v2").to_string().replace("{ns}", &env.ns)).unwrap();
    kubectl_apply(&env, &upgrade, true, Some("helm"));
    let output = env.plugin().args(["rollout", "db", "--partition", "2", "--yes"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("roll the release back to its previous values") && helm_words(&text), "{text}");
    let output = env.plugin().args(["rollout", "db", "--abort", "--yes"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.contains(
            "Roll the release back to its previous values (helm rollback, or helm upgrade with them) instead"
        ) && helm_words(&text),
        "{text}"
    );
    let status = json_of(&env.plugin().args(["status", "db", "-o", "json"]).output().unwrap());
    let progress = status["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == "RolloutInProgress")
        .unwrap()
        .clone();
    let message = progress["message"].as_str().unwrap();
    assert!(message.contains("to give it up, roll the release back") && helm_words(message), "{message}");
}

/// `kubectl` with the test cluster's kubeconfig, `input` on stdin; panics unless it succeeds.
fn kubectl(env: &Env, args: &[&str], input: Option<&Value>) {
    use std::io::Write;
    let mut child = std::process::Command::new("kubectl")
        .env("KUBECONFIG", &env.kubeconfig)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl on PATH");
    let mut stdin = child.stdin.take().unwrap();
    if let Some(input) = input {
        stdin.write_all(input.to_string().as_bytes()).unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// `Replace=true` set on the Application itself does not show on the object: it is read from
/// the Application (Argo CD's CRD stands in with an open schema; the Application lives in the
/// test's namespace, as the tracking annotation `<namespace>_shop` says). An Application that
/// cannot be read is said with the hold.
#[tokio::test]
async fn replace_set_on_the_application_is_read_from_it() {
    let env = Env::new("gitops-app-replace").await;
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "applications.argoproj.io"},
        "spec": {"group": "argoproj.io", "scope": "Namespaced",
                 "names": {"kind": "Application", "listKind": "ApplicationList", "plural": "applications",
                           "singular": "application"},
                 "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                               "schema": {"openAPIV3Schema": {"type": "object",
                                                              "x-kubernetes-preserve-unknown-fields": true}}}]}
    });
    kubectl(&env, &["apply", "-f", "-"], Some(&crd));
    kubectl(
        &env,
        &["wait", "--for", "condition=established", "crd/applications.argoproj.io", "--timeout", "60s"],
        None,
    );
    let application = |options: Value| {
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
               "metadata": {"name": "shop", "namespace": env.ns},
               "spec": {"syncPolicy": {"automated": {"selfHeal": true}, "syncOptions": options}}})
    };
    kubectl(&env, &["apply", "-f", "-"], Some(&application(json!(["CreateNamespace=true", "Replace=true"]))));
    let tracked = |name: &str, app: &str| {
        let tracking = format!("{}_{app}:apps/StatefulSet:{{ns}}/{name}", env.ns);
        manifest(name, "app:v1", json!({}), json!({"argocd.argoproj.io/tracking-id": tracking}), None)
    };
    applied(&env, &tracked("web", "shop"), Some("argocd-controller")).await;
    let before = env.versions().await;
    let output = env.plugin().args(["rollout", "web", "--hold", "--yes"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.contains(&format!(
            "error: The partition of web is owned by Argo CD application {}_shop (it syncs with Replace=true: \
             Application {}/shop's spec.syncPolicy.syncOptions)",
            env.ns, env.ns
        )) || text.contains(&format!(
            "error: The partition of web is owned by Argo CD application shop (it syncs with Replace=true: \
             Application {}/shop's spec.syncPolicy.syncOptions)",
            env.ns
        )),
        "{text}"
    );
    assert_eq!(env.versions().await, before, "nothing written");

    // The application applies: the hold goes ahead, with nothing to add.
    kubectl(&env, &["apply", "-f", "-"], Some(&application(json!(["ServerSideApply=true"]))));
    let output = env.plugin().args(["rollout", "web", "--hold", "--yes"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("warning"), "{}", stderr(&output));

    // An application that is not here: the hold says what it could not check.
    applied(&env, &tracked("db", "elsewhere"), Some("argocd-controller")).await;
    let output = env.plugin().args(["rollout", "db", "--hold", "--yes"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(
            "warning: the hold holds only if Argo CD application elsewhere does not sync with Replace=true"
        ) && stderr(&output).contains(&format!("Application {}/elsewhere could not be read", env.ns)),
        "{}",
        stderr(&output)
    );
}
