//! Gates beyond readiness: HTTP checks against a server of the test's own on 127.0.0.1,
//! PodDisruptionBudgets (the real disruption controller computes what they allow), a
//! container restart during the soak, `--on-failure abort`, and journaled gates on resume.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use crate::support::{Env, JOURNAL, Lines, Sts, images, partition, rollout_until, sts, wait_until};

fn v(image: &str) -> String {
    format!("example.invalid/{image}")
}

/// An HTTP server on 127.0.0.1 that answers every request with the status `status` holds (and
/// a body naming it), until the test ends. On a thread of its own, so that it answers while
/// the test waits on a blocking command. Returns its base URL.
async fn health_server(status: Arc<AtomicU16>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { return };
            let status = status.load(Ordering::SeqCst);
            let mut request = [0u8; 2048];
            let _ = socket.read(&mut request);
            let body = if status == 200 { "cluster health: green" } else { "cluster health: red" };
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes());
        }
    });
    format!("http://{address}")
}

async fn rest_of(mut lines: Lines) -> Vec<Value> {
    let mut events = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        events.push(serde_json::from_str(&line).unwrap());
    }
    events
}

fn named<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

#[tokio::test]
async fn an_http_gate_holds_the_step_until_it_passes() {
    let env = Env::new("gates-http").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let status = Arc::new(AtomicU16::new(503));
    let url = format!("{}/health?pod={{pod}}", health_server(status.clone()).await);
    let image = format!("app={}", v("app:v2"));
    let args = [
        "rollout",
        "web",
        "--image",
        &image,
        "--steps",
        "1,100%",
        "--gate-http",
        &url,
        "--gate-http-expect",
        "green",
        "--yes",
        "-o",
        "json",
    ];
    let (child, lines) = rollout_until(&env, &args, "gateFailed").await;
    // The canary is updated and Ready, its gate fails: nothing more is released.
    assert_eq!(partition(&sts(&env, "web").await), 2);
    status.store(200, Ordering::SeqCst);
    let events = rest_of(lines).await;
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let passed = named(&events, "gatePassed");
    let pods: Vec<&str> = passed.iter().map(|e| e["pod"].as_str().unwrap()).collect();
    assert_eq!(pods, ["web-2", "web-1", "web-0"], "{events:?}");
    assert_eq!(
        (passed[0]["kind"].as_str(), passed[0]["gateKind"].as_str()),
        (Some("RolloutEvent"), Some("http"))
    );
    assert!(passed[0]["attempt"].as_u64().unwrap() > 1, "web-2 passed only after the server turned green");
    assert!(env.all_pods_run(v("app:v2")).await);
}

#[tokio::test]
async fn a_failing_gate_with_on_failure_abort_rolls_back() {
    let env = Env::new("gates-abort").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let url = health_server(Arc::new(AtomicU16::new(500))).await;
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--gate-http", &url])
        .args(["--on-failure", "abort", "--timeout", "8s", "--gate-timeout", "2s", "--yes", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("failed") && stderr.contains("rolled back"), "{stderr}");
    let events: Vec<Value> =
        String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let failed = named(&events, "gateFailed");
    assert!(failed.iter().all(|e| e["output"].as_str().unwrap().starts_with("HTTP 500")), "{failed:?}");
    assert_eq!(named(&events, "aborted").len(), 1, "{events:?}");
    let web = sts(&env, "web").await;
    assert_eq!(partition(&web), 0);
    assert!(!web.annotations().contains_key(JOURNAL));
    assert!(env.all_pods_run(v("app:v1")).await, "{:?}", images(&env).await);
}

#[tokio::test]
async fn a_pod_disruption_budget_holds_the_step_until_it_allows_it() {
    let env = Env::new("gates-pdb").await;
    env.statefulset(&Sts::new("web", 3)).await;
    env.create::<PodDisruptionBudget>(json!({
        "metadata": {"name": "web"},
        "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "web"}}}
    }))
    .await;
    let budgets = env.api::<PodDisruptionBudget>();
    wait_until(Duration::from_secs(30), || async {
        budgets.get("web").await.unwrap().status.is_some_and(|s| s.observed_generation.is_some())
    })
    .await;
    let (child, lines) = rollout_until(
        &env,
        &["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--yes", "-o", "json"],
        "pdbWait",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(partition(&sts(&env, "web").await), 3, "staged, nothing released while the budget forbids it");
    assert!(env.all_pods_run(v("app:v1")).await);
    let relax = json!({"spec": {"maxUnavailable": 1}});
    budgets.patch("web", &PatchParams::default(), &Patch::Merge(&relax)).await.unwrap();
    let events = rest_of(lines).await;
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(named(&events, "finished").len(), 1);
    assert!(env.all_pods_run(v("app:v2")).await);

    // --ignore-pdb goes ahead under a budget that allows nothing, and says so in its plan.
    budgets
        .patch("web", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"maxUnavailable": 0}})))
        .await
        .unwrap();
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &format!("app={}", v("app:v3")), "--ignore-pdb", "--yes"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("PodDisruptionBudgets ignored"), "{stdout}");
}

/// A container restart of an updated pod during the soak fails the step. The test writes the
/// restart into the pod's status, standing in for the kubelet (docs/testing.md).
#[tokio::test]
async fn a_container_restart_during_the_soak_fails_the_step() {
    let env = Env::new("gates-soak").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let args = [
        "rollout",
        "web",
        "--image",
        &format!("app={}", v("app:v2")),
        "--yes",
        "--pause",
        "60s",
        "-o",
        "json",
    ];
    let (child, lines) = rollout_until(&env, &args, "podReady").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pods = env.api::<Pod>();
    let web2 = pods.get_status("web-2").await.unwrap();
    let mut statuses = web2.status.unwrap().container_statuses.unwrap();
    statuses[0].restart_count += 1;
    let patch = json!({"status": {"containerStatuses": statuses}});
    pods.patch_status("web-2", &PatchParams::default(), &Patch::Strategic(&patch)).await.unwrap();
    let events = rest_of(lines).await;
    let status = child.wait_with_output().await.unwrap().status;
    assert_eq!(status.code(), Some(3), "{events:?}");
    let failed = named(&events, "failed");
    let reasons = failed[0]["reasons"].to_string();
    assert!(reasons.contains("pod web-2 restarted during the soak (restarts 0 -> 1)"), "{reasons}");
    assert_eq!(partition(&sts(&env, "web").await), 2, "nothing more was released");
}

/// Gates are journaled: a rollout stopped after its first step and resumed without any gate
/// flag checks the same gate on the pods it goes on to update.
#[tokio::test]
async fn a_resumed_rollout_runs_its_journaled_gates() {
    let env = Env::new("gates-resume").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let url = format!("{}/ready/{{ordinal}}", health_server(Arc::new(AtomicU16::new(200))).await);
    let image = format!("app={}", v("app:v2"));
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &image, "--partition", "2", "--gate-http", &url, "--yes"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let journal = sts(&env, "web").await.annotations()[JOURNAL].clone();
    assert!(journal.contains(r#""http":["#) && journal.contains("/ready/{ordinal}"), "{journal}");

    let output = env.plugin().args(["rollout", "web", "--yes", "-o", "json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events: Vec<Value> =
        String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let passed: Vec<&str> = named(&events, "gatePassed").iter().map(|e| e["pod"].as_str().unwrap()).collect();
    assert_eq!(passed, ["web-2", "web-1", "web-0"], "the canary again, then the rest: {events:?}");
    assert!(env.all_pods_run(v("app:v2")).await);
}

/// The gate command a test makes fail per pod: it fails, saying why, where the pod's exec
/// directory (support::Env::exec_dir) holds a file `lagging`.
const REPLICA_CAUGHT_UP: &str = "test ! -e lagging || { echo \"$POD_NAME: replica 42 s behind\"; exit 1; }";

/// An exec gate that fails on the canary stops the rollout after step 1: exit 3, the partition
/// left where step 1 put it, nothing more released, the command's output in the event.
#[tokio::test]
async fn a_failing_exec_gate_stops_the_rollout_at_the_canary() {
    let env = Env::new("gates-exec").await;
    env.statefulset(&Sts::new("web", 3)).await;
    std::fs::write(env.exec_dir("web-2").await.join("lagging"), "").unwrap();
    let output = env
        .plugin()
        .args([
            "rollout",
            "web",
            "--image",
            &format!("app={}", v("app:v2")),
            "--gate-exec",
            REPLICA_CAUGHT_UP,
        ])
        .args(["--timeout", "8s", "--gate-timeout", "2s", "--yes", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    let events: Vec<Value> =
        String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let failed = named(&events, "gateFailed");
    assert!(!failed.is_empty(), "{events:?}");
    assert!(failed.iter().all(|e| e["pod"] == "web-2"), "{failed:?}");
    assert!(
        failed.iter().all(|e| e["output"].as_str().unwrap().contains("web-2: replica 42 s behind")),
        "{failed:?}"
    );
    assert_eq!(partition(&sts(&env, "web").await), 2, "step 1 released web-2 only");
    let images: Vec<String> = images(&env).await.into_iter().map(|(_, image)| image).collect();
    assert_eq!(images, [v("app:v1"), v("app:v1"), v("app:v2")]);
}

/// The same failure with `--on-failure abort` rolls back: every pod on the old revision.
#[tokio::test]
async fn a_failing_exec_gate_with_on_failure_abort_rolls_back() {
    let env = Env::new("gates-exec-abort").await;
    env.statefulset(&Sts::new("web", 3)).await;
    std::fs::write(env.exec_dir("web-2").await.join("lagging"), "").unwrap();
    let output = env
        .plugin()
        .args([
            "rollout",
            "web",
            "--image",
            &format!("app={}", v("app:v2")),
            "--gate-exec",
            REPLICA_CAUGHT_UP,
        ])
        .args(["--on-failure", "abort", "--timeout", "8s", "--gate-timeout", "2s", "--yes"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("web-2: replica 42 s behind"), "{stderr}");
    let web = sts(&env, "web").await;
    assert!(!web.annotations().contains_key(JOURNAL));
    assert!(env.all_pods_run(v("app:v1")).await, "{:?}", images(&env).await);
}

/// The test's own HTTP server for the truth of gates, on 127.0.0.1, by path: `/redirect`
/// answers 302 to `/login`, a page that answers 200 "cluster health: green" (what a login page
/// would, were the redirect followed); `/auth` answers 200 green only to user `ci` with password
/// `s3cret` and query `token=t0k`, else 401; `/slow` counts the request and answers 200 green
/// once the test releases it; anything else 200 green. It records every request line with its
/// Authorization header.
pub(crate) struct GateServer {
    pub(crate) base: String,
    pub(crate) seen: Arc<std::sync::Mutex<Vec<String>>>,
    slow: Arc<std::sync::atomic::AtomicUsize>,
    release: Arc<std::sync::atomic::AtomicBool>,
}

/// The password and the token the server takes, which nothing the plugin prints or writes may
/// hold.
pub(crate) const PASSWORD: &str = "s3cret";
pub(crate) const TOKEN: &str = "t0k";

impl GateServer {
    pub(crate) fn start() -> GateServer {
        use std::io::{Read, Write};
        use std::sync::atomic::{AtomicBool, AtomicUsize};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let slow = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(AtomicBool::new(false));
        let (seen_by, slow_by, release_by) = (seen.clone(), slow.clone(), release.clone());
        std::thread::spawn(move || {
            for socket in listener.incoming() {
                let Ok(mut socket) = socket else { return };
                let (seen, slow, release) = (seen_by.clone(), slow_by.clone(), release_by.clone());
                // A thread per request: a held /slow does not hold up the others.
                std::thread::spawn(move || {
                    let mut request = [0u8; 4096];
                    let n = socket.read(&mut request).unwrap_or(0);
                    let text = String::from_utf8_lossy(&request[..n]).into_owned();
                    let line = text.lines().next().unwrap_or_default().to_owned();
                    let auth = text
                        .lines()
                        .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
                        .unwrap_or_default()
                        .to_owned();
                    seen.lock().unwrap().push(format!("{line} {auth}"));
                    let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
                    let (status, extra, body) = if path.starts_with("/redirect") {
                        (302, "location: /login\r\n", "see /login")
                    } else if path.starts_with("/auth") {
                        let user = auth.contains("Basic Y2k6czNjcmV0"); // ci:s3cret
                        let token = path.contains(&format!("token={TOKEN}"));
                        if user && token {
                            (200, "", "cluster health: green")
                        } else {
                            (401, "", "who are you?")
                        }
                    } else if path.starts_with("/slow") {
                        slow.fetch_add(1, Ordering::SeqCst);
                        for _ in 0..600 {
                            if release.load(Ordering::SeqCst) {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        (200, "", "cluster health: green")
                    } else {
                        (200, "", "cluster health: green")
                    };
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(reply.as_bytes());
                });
            }
        });
        GateServer { base, seen, slow, release }
    }

    /// Waits until `/slow` has been asked `count` times.
    async fn slow_asked(&self, count: usize) {
        wait_until(Duration::from_secs(60), || async { self.slow.load(Ordering::SeqCst) >= count }).await;
    }
}

pub(crate) fn events_of(output: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Neither stream of a run holds the password or the token.
pub(crate) fn keeps_secrets(output: &std::process::Output) {
    for stream in [&output.stdout, &output.stderr] {
        let text = String::from_utf8_lossy(stream);
        assert!(!text.contains(PASSWORD) && !text.contains(TOKEN), "a secret was printed: {text}");
    }
}

/// A redirect to a page that would pass (a login page answers 200) is not followed: the
/// rollout's gate fails on the 302 itself, and the step stops with nothing more released.
#[tokio::test]
async fn a_rollout_gate_does_not_follow_a_redirect_into_a_passing_page() {
    let env = Env::new("gates-redirect").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let server = GateServer::start();
    let url = format!("{}/redirect", server.base);
    let output = env
        .plugin()
        .args(["rollout", "web", "--image", &format!("app={}", v("app:v2")), "--gate-http", &url])
        .args([
            "--gate-http-expect",
            "green",
            "--timeout",
            "8s",
            "--gate-timeout",
            "2s",
            "--yes",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events_of(&output);
    let failed = named(&events, "gateFailed");
    assert!(!failed.is_empty() && named(&events, "gatePassed").is_empty(), "{events:?}");
    for event in failed {
        assert!(
            event["output"]
                .as_str()
                .unwrap()
                .starts_with("HTTP 302, a redirect to /login (not followed: only a 2xx answer passes)"),
            "{event}"
        );
    }
    assert!(server.seen.lock().unwrap().iter().all(|r| !r.contains("/login")), "never followed");
    assert_eq!(partition(&sts(&env, "web").await), 2, "nothing more was released");
}

/// A credential in a gate URL is refused with nothing changed, masked; the form it prints
/// (the credential from the environment) works as printed: the server gets the credential, the
/// journal and every line printed hold only its name; a resumed run without the variable is
/// refused before it writes, and with it goes on.
#[tokio::test]
async fn a_rollout_gate_credential_comes_from_the_environment_never_the_journal() {
    let env = Env::new("gates-secret").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let server = GateServer::start();
    let literal =
        format!("{}/auth?pod={{pod}}&token={TOKEN}", server.base.replace("http://", "http://ci:s3cret@"));
    let image = format!("app={}", v("app:v2"));
    let before = env.versions().await;
    let refused = env
        .plugin()
        .args(["rollout", "web", "--image", &image, "--partition", "2", "--gate-http", &literal, "--yes"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", String::from_utf8_lossy(&refused.stderr));
    keeps_secrets(&refused);
    let stderr = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(env.versions().await, before, "nothing written");
    // As printed: the exports with the values, then the flag as printed (in single quotes).
    assert!(
        stderr.contains(
            "export GATE_PASSWORD='<its value>'; export GATE_TOKEN='<its value>', then --gate-http '"
        ),
        "{stderr}"
    );
    let flag = stderr.rsplit("then ").next().unwrap().trim();
    let command = format!(
        "GATE_PASSWORD={PASSWORD} GATE_TOKEN={TOKEN} kubectl-stateful --kubeconfig {} -n {} rollout web --image {image} \
         --partition 2 {flag} --yes",
        env.kubeconfig.display(),
        env.ns
    );
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_kubectl-stateful")).parent().unwrap().to_owned();
    let run = |command: &str| {
        std::process::Command::new("sh")
            .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()))
            .env_remove("GATE_PASSWORD")
            .env_remove("GATE_TOKEN")
            .args(["-c", command])
            .output()
            .unwrap()
    };
    let stepped = run(&command);
    assert!(stepped.status.success(), "{}", String::from_utf8_lossy(&stepped.stderr));
    keeps_secrets(&stepped);
    assert!(
        server
            .seen
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.contains("/auth?pod=web-2&token=t0k") && r.contains("Basic")),
        "the server got the credentials: {:?}",
        server.seen.lock().unwrap()
    );
    let journal = sts(&env, "web").await.annotations()[JOURNAL].clone();
    assert!(journal.contains("ci:${GATE_PASSWORD}@") && journal.contains("token=${GATE_TOKEN}"), "{journal}");
    assert!(!journal.contains(PASSWORD) && !journal.contains(TOKEN), "{journal}");

    // Resumed without the variables: refused before any write, the URL as journaled.
    let before = env.versions().await;
    let unset = env.plugin().env_remove("GATE_PASSWORD").args(["rollout", "web", "--yes"]).output().unwrap();
    assert_eq!(unset.status.code(), Some(2), "{}", String::from_utf8_lossy(&unset.stderr));
    assert!(
        String::from_utf8_lossy(&unset.stderr)
            .contains("reads ${GATE_PASSWORD} from the environment, which does not set it"),
        "{}",
        String::from_utf8_lossy(&unset.stderr)
    );
    assert_eq!(env.versions().await, before, "nothing written");
    let resumed = env
        .plugin()
        .env("GATE_PASSWORD", PASSWORD)
        .env("GATE_TOKEN", TOKEN)
        .args(["rollout", "web", "--yes", "-o", "json"])
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    keeps_secrets(&resumed);
    let events = events_of(&resumed);
    let passed: Vec<&str> = named(&events, "gatePassed").iter().map(|e| e["pod"].as_str().unwrap()).collect();
    assert_eq!(passed, ["web-2", "web-1", "web-0"]);
    assert!(env.all_pods_run(v("app:v2")).await);
}

/// An updated pod replaced while the step soaks (`--pause`) fails the step: its replacement
/// does not start the soak over.
#[tokio::test]
async fn an_updated_pod_replaced_during_the_soak_fails_the_step() {
    let env = Env::new("gates-soak-replaced").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let args = [
        "rollout",
        "web",
        "--image",
        &format!("app={}", v("app:v2")),
        "--yes",
        "--pause",
        "60s",
        "-o",
        "json",
    ];
    let (child, lines) = rollout_until(&env, &args, "podReady").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let old = env.api::<Pod>().get("web-2").await.unwrap().uid().unwrap();
    env.api::<Pod>().delete("web-2", &Default::default()).await.unwrap();
    let events = rest_of(lines).await;
    let status = child.wait_with_output().await.unwrap().status;
    assert_eq!(status.code(), Some(3), "{events:?}");
    let reasons = named(&events, "failed")[0]["reasons"].to_string();
    assert!(
        reasons
            .contains(&format!("pod web-2 on the update revision was replaced during the soak (uid {old})")),
        "{reasons}"
    );
    assert_eq!(partition(&sts(&env, "web").await), 2, "nothing more was released");
}

/// A gate that passes about a pod replaced while it ran did not pass: the step fails.
#[tokio::test]
async fn a_rollout_gate_that_passed_about_a_replaced_pod_fails_the_step() {
    let env = Env::new("gates-replaced").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let server = GateServer::start();
    let url = format!("{}/slow?pod={{pod}}", server.base);
    let args = [
        "rollout",
        "web",
        "--image",
        &format!("app={}", v("app:v2")),
        "--gate-http",
        &url,
        "--yes",
        "-o",
        "json",
    ];
    let child = env.spawn_plugin(&args).spawn().unwrap();
    server.slow_asked(1).await;
    replace_pod(&env, "web-2").await;
    server.release.store(true, Ordering::SeqCst);
    let output =
        tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await.unwrap().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    let reasons = named(&events_of(&output), "failed")[0]["reasons"].to_string();
    assert!(reasons.contains("pod web-2 was replaced while its gates ran"), "{reasons}");
    assert_eq!(partition(&sts(&env, "web").await), 2, "nothing more was released");
}

/// Deletes `pod` and waits until the controller has created its replacement (another uid).
pub(crate) async fn replace_pod(env: &Env, pod: &str) {
    let pods = env.api::<Pod>();
    let old = pods.get(pod).await.unwrap().uid();
    pods.delete(pod, &Default::default()).await.unwrap();
    wait_until(Duration::from_secs(60), || async {
        pods.get_opt(pod).await.unwrap().is_some_and(|p| p.uid() != old)
    })
    .await;
}

/// restart: the gate's redirect is not followed and its credential is never journaled (the
/// run stops at the gate, its journal left on the set); a replacement replaced again while it
/// soaks, or while its gates run, stops the restart.
#[tokio::test]
async fn a_restart_gate_tells_the_truth_and_keeps_its_secret() {
    let env = Env::new("gates-restart").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let server = GateServer::start();
    let url = format!("{}/redirect?token=${{GATE_TOKEN}}", server.base);
    let output = env
        .plugin()
        .env("GATE_TOKEN", TOKEN)
        .args(["restart", "web", "2", "--gate-http", &url, "--timeout", "8s", "--gate-timeout", "2s"])
        .args(["--yes", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    keeps_secrets(&output);
    let events = events_of(&output);
    let failed = named(&events, "gateFailed");
    assert!(
        !failed.is_empty()
            && failed
                .iter()
                .all(|e| e["output"].as_str().unwrap().starts_with("HTTP 302, a redirect to /login")),
        "{events:?}"
    );
    assert!(server.seen.lock().unwrap().iter().any(|r| r.contains(&format!("token={TOKEN}"))));
    let journal = sts(&env, "web").await.annotations()["kubectl-stateful.dev/restart"].clone();
    assert!(journal.contains("token=${GATE_TOKEN}") && !journal.contains(TOKEN), "{journal}");
    let discarded = env.plugin().args(["restart", "web", "--discard-journal", "--yes"]).output().unwrap();
    assert!(discarded.status.success(), "{}", String::from_utf8_lossy(&discarded.stderr));

    // Replaced again while it soaks.
    let (child, lines) = crate::support::rollout_until(
        &env,
        &["restart", "web", "2", "--soak", "60s", "--yes", "-o", "json"],
        "replaced",
    )
    .await;
    let uid = env.api::<Pod>().get("web-2").await.unwrap().uid().unwrap();
    env.api::<Pod>().delete("web-2", &Default::default()).await.unwrap();
    let _ = rest_of(lines).await;
    let output = child.wait_with_output().await.unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Seen going (deleted, Terminating) or gone (another uid): either way not the one it soaked.
    assert!(
        stderr.contains(&format!("web-2 was replaced again while it soaked (uid {uid})"))
            || stderr.contains("web-2 is being deleted while it soaked"),
        "{stderr}"
    );
    env.wait_ready("web", Duration::from_secs(60)).await;
    let discarded = env.plugin().args(["restart", "web", "--discard-journal", "--yes"]).output().unwrap();
    assert!(discarded.status.success(), "{}", String::from_utf8_lossy(&discarded.stderr));

    // Replaced while its gate runs.
    let url = format!("{}/slow", server.base);
    let child = env.spawn_plugin(&["restart", "web", "2", "--gate-http", &url, "--yes"]).spawn().unwrap();
    server.slow_asked(1).await;
    replace_pod(&env, "web-2").await;
    server.release.store(true, Ordering::SeqCst);
    let output =
        tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await.unwrap().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("pod web-2 was replaced while its gates ran"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
