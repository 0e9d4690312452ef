//! Proof that the test cluster is real: the StatefulSet controller's ordering, its PVC
//! handling, kwok's readiness conventions and exec into its pods, observed rather than assumed.

use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, Pod};
use kube::ResourceExt;
use kube::api::Api;
use serde_json::json;

use crate::support::{Env, PodEvent, Sts, client, wait_until};

#[tokio::test]
async fn server_is_the_kubernetes_version_asked_for() {
    // tests/cluster/up starts KUBECTL_STATEFUL_K8S_VERSION (default: the newest supported).
    let wanted = std::env::var("KUBECTL_STATEFUL_K8S_VERSION").unwrap_or_else(|_| "1.37".to_owned());
    let info = client().await.apiserver_version().await.expect("version");
    assert_eq!(format!("{}.{}", info.major, info.minor), wanted);
    assert!(info.git_version.starts_with(&format!("v{wanted}.")), "{}", info.git_version);
    assert_eq!(crate::support::k8s_minor().to_string(), wanted.trim_start_matches("1."));
}

#[tokio::test]
async fn statefulset_starts_in_ordinal_order_and_binds_its_claims() {
    let env = Env::new("order").await;
    let events = env.record_pods();
    env.statefulset(&Sts { wait: false, ..Sts::new("web", 3) }).await;
    let seen = events
        .until(Duration::from_secs(60), |seen| {
            seen.iter().filter(|(_, e)| *e == PodEvent::Ready).count() == 3
        })
        .await;
    let order: Vec<(&str, PodEvent)> = seen.iter().map(|(n, e)| (n.as_str(), *e)).collect();
    // OrderedReady: web-1 is created only once web-0 is Ready, web-2 only once web-1 is.
    assert_eq!(
        order,
        [
            ("web-0", PodEvent::Seen),
            ("web-0", PodEvent::Ready),
            ("web-1", PodEvent::Seen),
            ("web-1", PodEvent::Ready),
            ("web-2", PodEvent::Seen),
            ("web-2", PodEvent::Ready),
        ]
    );
    let sts = env.wait_ready("web", Duration::from_secs(30)).await;
    assert_eq!(sts.status.unwrap().ready_replicas, Some(3));
    wait_until(Duration::from_secs(30), || async {
        let pvcs = env.pvcs().await;
        pvcs.len() == 3
            && pvcs.iter().all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound"))
    })
    .await;
    assert_eq!(env.pvc_names().await, ["data-web-0", "data-web-1", "data-web-2"]);
    // Each claim is bound to a provisioned PersistentVolume that names it back.
    let volumes: Api<PersistentVolume> = Api::all(env.client.clone());
    for pvc in env.pvcs().await {
        let pv = volumes.get(pvc.spec.as_ref().unwrap().volume_name.as_deref().unwrap()).await.unwrap();
        assert_eq!(pv.spec.unwrap().claim_ref.unwrap().name.as_deref(), Some(pvc.name_any().as_str()));
    }
}

#[tokio::test]
async fn scale_down_removes_highest_ordinals_first_and_keeps_claims() {
    let env = Env::new("scaledown").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let events = env.record_pods();
    env.scale("web", 1).await;
    let seen = events
        .until(Duration::from_secs(60), |seen| {
            seen.iter().filter(|(_, e)| *e == PodEvent::Deleted).count() == 2
        })
        .await;
    let deletions: Vec<&str> =
        seen.iter().filter(|(_, e)| *e == PodEvent::Terminating).map(|(n, _)| n.as_str()).collect();
    assert_eq!(deletions, ["web-2", "web-1"], "events: {seen:?}");
    env.wait_ready("web", Duration::from_secs(30)).await;
    let pods: Vec<String> = env.pods().await.iter().map(|p| p.name_any()).collect();
    assert_eq!(pods, ["web-0"]);
    assert_eq!(env.pvc_names().await, ["data-web-0", "data-web-1", "data-web-2"]);
}

#[tokio::test]
async fn never_ready_image_runs_but_never_becomes_ready() {
    let env = Env::new("neverready").await;
    let pod: Pod = env
        .create(json!({
            "metadata": {"name": "stuck"},
            "spec": {"containers": [{"name": "app", "image": "example.invalid/never-ready:1"}]}
        }))
        .await;
    let api = env.api::<Pod>();
    wait_until(Duration::from_secs(30), || async {
        api.get(&pod.name_any()).await.unwrap().status.and_then(|s| s.phase).as_deref() == Some("Running")
    })
    .await;
    // Give kwok ample time to (wrongly) mark it Ready.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status = api.get("stuck").await.unwrap().status.unwrap();
    let ready = status.conditions.unwrap().into_iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!((status.phase.as_deref(), ready.status.as_str()), (Some("Running"), "False"));
}

#[tokio::test]
async fn exec_runs_in_every_pod_and_tests_choose_what_passes_per_pod() {
    let env = Env::new("exec").await;
    env.statefulset(&Sts::new("web", 2)).await;

    // The cluster-wide default (tests/cluster/exec.yaml): the command runs on this machine in
    // the cluster's own exec/ directory; stdout and stderr come back apart.
    let ran =
        env.exec("web-0", &["sh", "-c", "echo out; echo err >&2; echo $KWOK_EXEC; basename $PWD"]).await;
    assert!(ran.success(), "{ran:?}");
    assert_eq!((ran.stdout.as_str(), ran.stderr.as_str()), ("out\ncluster\nexec\n", "err\n"));

    // A non-zero exit is a Failure; kwok gives the code only in the message.
    let failed = env.exec("web-1", &["sh", "-c", "echo before; exit 3"]).await;
    assert!(!failed.success(), "{failed:?}");
    assert_eq!(failed.stdout, "before\n");
    assert!(failed.message().ends_with("exit status 3"), "{:?}", failed.status);
    let missing = env.exec("web-1", &["no-such-command"]).await;
    assert!(!missing.success() && missing.message().contains("not found"), "{:?}", missing.status);

    // Per pod: each pod's command runs in a directory of the test's, with its own name in the
    // environment; a file there decides. One gate command, two outcomes.
    let (dir0, dir1) = (env.exec_dir("web-0").await, env.exec_dir("web-1").await);
    std::fs::write(dir1.join("fail"), "").unwrap();
    let gate = ["sh", "-c", "test ! -e fail && echo \"$POD_NAME in $POD_NAMESPACE passes\""];
    let (pass, fail) = (env.exec("web-0", &gate).await, env.exec("web-1", &gate).await);
    assert!(pass.success(), "{pass:?}");
    assert_eq!(pass.stdout, format!("web-0 in {} passes\n", env.ns));
    assert!(!fail.success() && fail.message().ends_with("exit status 1"), "{fail:?}");
    // What the command does on the host, a test sees there.
    let wrote = env.exec("web-0", &["sh", "-c", "echo $POD_NAME > seen"]).await;
    assert!(wrote.success(), "{wrote:?}");
    assert_eq!(std::fs::read_to_string(dir0.join("seen")).unwrap(), "web-0\n");

    // The per-pod setting outlives the pod: the controller's replacement, same name, keeps it.
    let uid = env.api::<Pod>().get("web-1").await.unwrap().uid();
    env.api::<Pod>().delete("web-1", &Default::default()).await.unwrap();
    wait_until(Duration::from_secs(30), || async {
        env.api::<Pod>()
            .get_opt("web-1")
            .await
            .unwrap()
            .is_some_and(|p| p.uid() != uid && p.status.and_then(|s| s.phase).as_deref() == Some("Running"))
    })
    .await;
    std::fs::remove_file(dir1.join("fail")).unwrap();
    let again = env.exec("web-1", &gate).await;
    assert!(again.success(), "{again:?}");
    assert_eq!(again.stdout, format!("web-1 in {} passes\n", env.ns));
}
