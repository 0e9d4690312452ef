//! `kubectl stateful status -o dns`: peer lists, checked against what the cluster's DNS serves
//! from (the EndpointSlices of the governing Service: CoreDNS answers a pod's name only from an
//! endpoint with that hostname whose `ready` condition is true), and the bootstrap trap.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::ResourceExt;
use kube::api::ListParams;
use serde_json::{Value, json};

use crate::support::{Env, Sts, commands, json_of, run_printed, wait_until};

/// `status NAME -o dns ARGS…`: (exit code, stdout, stderr).
fn dns(env: &Env, name: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let output = env.plugin().args(["status", name, "-o", "dns"]).args(args).output().unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn status_json(env: &Env, name: &str) -> Value {
    json_of(&env.plugin().args(["status", name, "-o", "json"]).output().unwrap())
}

fn codes(status: &Value) -> Vec<String> {
    status["warnings"].as_array().unwrap().iter().map(|w| w["code"].as_str().unwrap().to_owned()).collect()
}

fn warning(status: &Value, code: &str) -> Option<String> {
    status["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == code)
        .map(|w| w["message"].as_str().unwrap().to_owned())
}

/// The endpoints of Service `service` as the cluster's DNS sees them: (hostname, ready), sorted,
/// and the EndpointSlices' ports by name.
async fn endpoints(env: &Env, service: &str) -> (Vec<(String, bool)>, Vec<(String, i32)>) {
    let params = ListParams::default().labels(&format!("kubernetes.io/service-name={service}"));
    let slices = env.api::<EndpointSlice>().list(&params).await.unwrap().items;
    let mut hosts: Vec<(String, bool)> = slices
        .iter()
        .flat_map(|s| s.endpoints.iter())
        .map(|e| {
            let ready = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false);
            (e.hostname.clone().unwrap_or_default(), ready)
        })
        .collect();
    hosts.sort();
    hosts.dedup();
    let mut ports: Vec<(String, i32)> = slices
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .map(|p| (p.name.clone().unwrap_or_default(), p.port.unwrap_or_default()))
        .collect();
    ports.sort();
    ports.dedup();
    (hosts, ports)
}

#[tokio::test]
async fn a_named_port_gives_exactly_the_peer_list_the_cluster_publishes() {
    let env = Env::new("dns-peers").await;
    // etcd-like: ordinals from 1, a client port and a peer port whose targetPort is a container
    // port name (the pods serve it on 12380, the Service says 2380).
    env.create::<Service>(json!({
        "metadata": {"name": "etcd"},
        "spec": {
            "clusterIP": "None",
            "selector": {"app": "etcd"},
            "ports": [{"name": "client", "port": 2379}, {"name": "peer", "port": 2380, "targetPort": "peer"}]
        }
    }))
    .await;
    let mut manifest =
        Sts { start: Some(1), parallel: true, service: false, ..Sts::new("etcd", 3) }.manifest();
    manifest["spec"]["template"]["spec"]["containers"][0]["ports"] =
        json!([{"name": "client", "containerPort": 2379}, {"name": "peer", "containerPort": 12380}]);
    env.create::<StatefulSet>(manifest).await;
    env.wait_ready("etcd", Duration::from_secs(60)).await;
    let ns = &env.ns;
    let names = |suffix: &str| -> String {
        (1..=3).map(|o| format!("etcd-{o}.etcd.{ns}.svc.cluster.local{suffix}\n")).collect()
    };

    for (args, expected) in [
        (vec![], names("")),
        (vec!["--port", "peer"], names(":12380")),
        (vec!["--port", "client"], names(":2379")),
        (vec!["--port", "2380"], names(":2380")),
        (
            vec!["--port", "client", "--cluster-domain", "cluster.example.internal"],
            (1..=3).map(|o| format!("etcd-{o}.etcd.{ns}.svc.cluster.example.internal:2379\n")).collect(),
        ),
    ] {
        assert_eq!(dns(&env, "etcd", &args), (Some(0), expected, String::new()), "{args:?}");
    }

    // What the names stand for: the EndpointSlice controller publishes each pod under its name,
    // Ready, and the Service's port `peer` as the number the pods serve.
    wait_until(Duration::from_secs(30), || async {
        endpoints(&env, "etcd").await.0.iter().filter(|(_, ready)| *ready).count() == 3
    })
    .await;
    let (hosts, ports) = endpoints(&env, "etcd").await;
    assert_eq!(hosts, (1..=3).map(|o| (format!("etcd-{o}"), true)).collect::<Vec<_>>());
    assert_eq!(ports, [("client".to_owned(), 2379), ("peer".to_owned(), 12380)]);

    // A port the Service does not have: a usage error, nothing printed.
    assert_eq!(
        dns(&env, "etcd", &["--port", "raft"]),
        (
            Some(2),
            String::new(),
            "error: Service etcd has no port named raft (its ports: client 2379/TCP, peer 2380/TCP)\n"
                .to_owned()
        )
    );
}

#[tokio::test]
async fn names_that_would_not_resolve_are_refused() {
    let env = Env::new("dns-refused").await;
    env.statefulset(&Sts { service: false, ..Sts::new("db", 1) }).await;
    env.statefulset(&Sts { service: false, ..Sts::new("web", 1) }).await;
    // A Service with a cluster IP gives the pods no DNS names of their own.
    env.create::<Service>(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}
    }))
    .await;
    for (name, args, expected) in [
        (
            "db",
            vec![],
            "error: the DNS names of db would not resolve: its governing Service db does not exist; create a headless \
             Service (clusterIP: None) named db selecting its pods\n",
        ),
        (
            "db",
            vec!["--port", "5432"],
            "error: the DNS names of db would not resolve: its governing Service db does not exist; create a headless \
             Service (clusterIP: None) named db selecting its pods\n",
        ),
        (
            "web",
            vec!["--port", "http"],
            "error: the DNS names of web would not resolve: Service web is not headless (a Service with a cluster IP \
             gives pods no DNS names); re-create it with clusterIP: None\n",
        ),
    ] {
        assert_eq!(dns(&env, name, &args), (Some(1), String::new(), expected.to_owned()), "{name} {args:?}");
    }
}

#[tokio::test]
async fn the_bootstrap_trap_is_warned_until_not_ready_addresses_are_published_and_its_advice_works() {
    let env = Env::new("dns-bootstrap").await;
    let zk = Sts {
        image: "example.invalid/never-ready:1".into(),
        wait: false,
        templates: vec![],
        ..Sts::new("zk", 3)
    };
    env.statefulset(&zk).await;
    let pods = env.api::<Pod>();
    wait_until(Duration::from_secs(30), || async {
        pods.get_opt("zk-0").await.unwrap().and_then(|p| p.status?.pod_ip).is_some()
    })
    .await;
    // zk-0 is in the EndpointSlice, not ready: no DNS record.
    wait_until(Duration::from_secs(30), || async { !endpoints(&env, "zk").await.0.is_empty() }).await;
    assert_eq!(endpoints(&env, "zk").await.0, [("zk-0".to_owned(), false)]);

    let status = status_json(&env, "zk");
    assert_eq!(status["service"]["publishNotReadyAddresses"], false);
    assert_eq!(codes(&status), ["PodNotReady", "PodMissing", "PodMissing", "NotReadyPodsUnresolvable"]);
    let message = warning(&status, "NotReadyPodsUnresolvable").unwrap();
    assert!(
        message.starts_with("pod zk-0 is not Ready and Service zk publishes only Ready pods"),
        "{message}"
    );
    let ns = &env.ns;
    let patch =
        format!(r#"kubectl patch service zk -n {ns} -p '{{"spec":{{"publishNotReadyAddresses":true}}}}'"#);
    let orphan = format!("kubectl delete statefulset zk -n {ns} --cascade=orphan");
    assert_eq!(commands(&message), [patch.as_str(), orphan.as_str()], "{message}");
    let table = env.plugin().args(["status", "zk"]).output().unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains(
            ".svc.cluster.local; names resolve once pods are Ready (publishNotReadyAddresses: false)\n"
        ),
        "{table}"
    );

    // -o dns: every member's name on stdout (a peer list names the members not created yet),
    // the trap on stderr, one line.
    let (code, out, err) = dns(&env, "zk", &[]);
    assert_eq!(code, Some(0));
    assert_eq!(out, (0..3).map(|o| format!("zk-{o}.zk.{ns}.svc.cluster.local\n")).collect::<String>());
    assert_eq!(err, format!("warning: NotReadyPodsUnresolvable: {message}\n"));

    // The advice, run as printed. The patch: zk-0's name resolves now, and no warning.
    run_printed(&env, &patch);
    wait_until(Duration::from_secs(30), || async {
        endpoints(&env, "zk").await.0 == [("zk-0".to_owned(), true)]
    })
    .await;
    let status = status_json(&env, "zk");
    assert_eq!(status["service"]["publishNotReadyAddresses"], true);
    assert_eq!(codes(&status), ["PodNotReady", "PodMissing", "PodMissing"]);
    let table = String::from_utf8(env.plugin().args(["status", "zk"]).output().unwrap().stdout).unwrap();
    assert!(
        table.contains(
            ".svc.cluster.local; names resolve before pods are Ready (publishNotReadyAddresses: true)\n"
        ),
        "{table}"
    );
    assert_eq!(dns(&env, "zk", &[]).2, "");

    // Then Parallel: the StatefulSet deleted as printed, leaving zk-0, and re-created with it.
    let before = pods.get("zk-0").await.unwrap().uid();
    run_printed(&env, &orphan);
    wait_until(Duration::from_secs(30), || async {
        env.api::<StatefulSet>().get_opt("zk").await.unwrap().is_none()
    })
    .await;
    env.statefulset(&Sts { parallel: true, service: false, ..zk }).await;
    wait_until(Duration::from_secs(30), || async { endpoints(&env, "zk").await.0.len() == 3 }).await;
    assert_eq!(pods.get("zk-0").await.unwrap().uid(), before, "zk-0 kept, adopted by the new StatefulSet");
    assert_eq!(endpoints(&env, "zk").await.0, (0..3).map(|o| (format!("zk-{o}"), true)).collect::<Vec<_>>());
    let status = status_json(&env, "zk");
    assert_eq!(codes(&status), ["PodNotReady", "PodNotReady", "PodNotReady"]);
}

#[tokio::test]
async fn no_bootstrap_warning_when_the_service_publishes_not_ready_addresses() {
    let env = Env::new("dns-published").await;
    env.create::<Service>(json!({
        "metadata": {"name": "zk"},
        "spec": {
            "clusterIP": "None",
            "selector": {"app": "zk"},
            "publishNotReadyAddresses": true,
            "ports": [{"name": "client", "port": 2181}]
        }
    }))
    .await;
    let zk = Sts {
        image: "example.invalid/never-ready:1".into(),
        wait: false,
        parallel: true,
        service: false,
        templates: vec![],
        ..Sts::new("zk", 3)
    };
    env.statefulset(&zk).await;
    wait_until(Duration::from_secs(30), || async {
        endpoints(&env, "zk").await.0.iter().filter(|(_, ready)| *ready).count() == 3
    })
    .await;
    let status = status_json(&env, "zk");
    assert_eq!(status["service"]["publishNotReadyAddresses"], true);
    assert_eq!(status["replicas"]["ready"], 0);
    assert_eq!(codes(&status), ["PodNotReady", "PodNotReady", "PodNotReady"]);
    let ns = &env.ns;
    assert_eq!(
        dns(&env, "zk", &["--port", "client"]),
        (
            Some(0),
            (0..3).map(|o| format!("zk-{o}.zk.{ns}.svc.cluster.local:2181\n")).collect::<String>(),
            String::new()
        )
    );
}
