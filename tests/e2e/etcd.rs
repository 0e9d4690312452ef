//! The reference workload of the real nodes (tests/cluster/real/etcd.yaml), for the tests that
//! prove a write command with data: the set deployed in a test's namespace, keys written and
//! read through etcd's own HTTP gateway (in a member, through pods/exec, as `kubectl exec`
//! does), its membership, and a [`QuorumWatch`] that records whether a quorum held during an
//! operation, from the pods' side and from etcd's.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::runtime::watcher;
use serde_json::{Value, json};

use crate::support::Env;

/// The real nodes' label (tests/cluster/real).
pub const REAL_LABEL: &str = "kubectl-stateful.test/real";
pub const MANIFEST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cluster/real/etcd.yaml");

/// At most two real tests at a time share the two real nodes (each etcd set is 3 to 5 pods on a
/// 2-core machine that also runs the KWOK tests); a test that takes a real node down has them
/// to itself.
static REAL_NODES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// A real test's share of the real nodes, held for the whole test.
pub struct Share(#[allow(dead_code)] tokio::sync::SemaphorePermit<'static>);

pub async fn share() -> Share {
    Share(REAL_NODES.acquire().await.expect("semaphore"))
}

pub async fn exclusive() -> Share {
    Share(REAL_NODES.acquire_many(2).await.expect("semaphore"))
}

/// A real test's namespace, once it holds its share of the real nodes (all of them with
/// `exclusive`, for a test that takes one down) and they are there ([`real_nodes`]).
pub async fn real_env(test: &str, exclusive: bool) -> (Share, Env) {
    let share = if exclusive { self::exclusive().await } else { self::share().await };
    let env = Env::new(test).await;
    real_nodes(&env, 2).await;
    (share, env)
}

/// The real nodes of the test cluster, every one Ready. Fails the test (it cannot run) when
/// there are fewer than `min`: start the cluster with `KUBECTL_STATEFUL_REAL_NODES=2`.
pub async fn real_nodes(env: &Env, min: usize) -> Vec<String> {
    let nodes: Api<Node> = Api::all(env.client.clone());
    let list = nodes.list(&ListParams::default().labels(&format!("{REAL_LABEL}=true"))).await.unwrap();
    let ready: Vec<String> = list
        .items
        .iter()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .map(ResourceExt::name_any)
        .collect();
    assert!(
        ready.len() >= min,
        "this test needs {min} Ready real nodes and the cluster has {} ({:?} Ready): start it with \
         KUBECTL_STATEFUL_REAL_NODES={min} tests/cluster/up (tests/run does on the newest version)",
        list.items.len(),
        ready
    );
    ready
}

fn b64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unb64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = text.bytes().filter(|c| *c != b'=').map(value).collect();
    let mut out = Vec::new();
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, d)| n | (u32::from(*d) << (18 - 6 * i)));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// The etcd set `etcd` of a test's namespace.
pub struct Etcd<'a> {
    pub env: &'a Env,
}

/// `kubectl -n NS apply -f tests/cluster/real/etcd.yaml`, then 3/3 Ready.
pub async fn deploy(env: &Env) -> Etcd<'_> {
    let output = std::process::Command::new("kubectl")
        .env("KUBECONFIG", &env.kubeconfig)
        .args(["-n", &env.ns, "apply", "-f", MANIFEST])
        .output()
        .expect("kubectl on PATH");
    assert!(output.status.success(), "kubectl apply: {}", String::from_utf8_lossy(&output.stderr));
    let etcd = Etcd { env };
    etcd.wait_ready(Duration::from_secs(180)).await;
    etcd
}

impl Etcd<'_> {
    /// Every member Ready and current, or a failure that shows the pods and what each member's
    /// start script and etcd said last (its previous container too, after a crash).
    pub async fn wait_ready(&self, timeout: Duration) {
        let env = self.env;
        let ready =
            tokio::time::timeout(timeout, env.wait_ready("etcd", timeout + Duration::from_secs(5))).await;
        if ready.is_ok() {
            return;
        }
        let kubectl = |args: &[&str]| {
            let output = std::process::Command::new("kubectl")
                .env("KUBECONFIG", &env.kubeconfig)
                .args(["-n", &env.ns])
                .args(args)
                .output()
                .unwrap();
            format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
        };
        let mut report = kubectl(&["get", "pods,pvc", "-o", "wide"]);
        for pod in env.pods().await {
            let name = pod.name_any();
            for previous in ["--previous=false", "--previous=true"] {
                report += &format!("--- {name} {previous}\n");
                report += &kubectl(&["logs", &name, previous, "--tail", "15"]);
            }
        }
        panic!("the etcd set is not Ready after {timeout:?}:\n{report}");
    }

    /// POSTs `body` to the gateway of the member in `pod` at 127.0.0.1:2379 (busybox wget, run
    /// in the pod through pods/exec) and returns the answer as JSON. Tried again for up to 30 s
    /// while the member answers an error (no leader yet: an election after a member left).
    pub async fn call(&self, pod: &str, path: &str, body: &Value) -> Value {
        let script = format!(
            "timeout 10 wget -q -O- --header 'Content-Type: application/json' --post-data '{body}' http://127.0.0.1:2379{path}"
        );
        let stdout = self.exec_retrying(pod, &script, path).await;
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{path} in {pod}: {e}: {stdout}"))
    }

    /// Runs `script` in `pod` until it succeeds, for up to 30 s; its stdout.
    async fn exec_retrying(&self, pod: &str, script: &str, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let exec = self.env.exec(pod, &["sh", "-c", script]).await;
            if exec.success() {
                return exec.stdout;
            }
            assert!(Instant::now() < deadline, "{what} in {pod} for 30s: {} {}", exec.message(), exec.stderr);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Writes `count` keys `<prefix>/<i>` with values `<prefix>-value-<i>` through the member in
    /// `pod`, in one exec (again while the member answers an error); returns them.
    pub async fn put_keys(&self, pod: &str, prefix: &str, count: usize) -> BTreeMap<String, String> {
        let keys: BTreeMap<String, String> =
            (0..count).map(|i| (format!("{prefix}/{i:03}"), format!("{prefix}-value-{i}"))).collect();
        let script: Vec<String> = keys
            .iter()
            .map(|(k, v)| {
                let body = json!({"key": b64(k.as_bytes()), "value": b64(v.as_bytes())});
                format!(
                    "timeout 10 wget -q -O- --header 'Content-Type: application/json' --post-data '{body}' \
                     http://127.0.0.1:2379/v3/kv/put >/dev/null || exit 1"
                )
            })
            .collect();
        // Puts are idempotent: all of them again after a failure.
        self.exec_retrying(pod, &script.join("\n"), &format!("put {count} keys")).await;
        keys
    }

    /// The keys under `prefix` as the member in `pod` has them: a linearizable read (through the
    /// leader), or with `local` a serializable one, from the member's own data.
    pub async fn keys(&self, pod: &str, prefix: &str, local: bool) -> BTreeMap<String, String> {
        let start = format!("{prefix}/");
        let end = format!("{prefix}0"); // '/' + 1
        let body =
            json!({"key": b64(start.as_bytes()), "range_end": b64(end.as_bytes()), "serializable": local});
        let answer = self.call(pod, "/v3/kv/range", &body).await;
        answer["kvs"]
            .as_array()
            .map(|kvs| {
                kvs.iter()
                    .map(|kv| {
                        let text =
                            |f: &str| String::from_utf8(unb64(kv[f].as_str().unwrap_or_default())).unwrap();
                        (text("key"), text("value"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every key of `expected` is readable, with its value, in every member of `pods`, from its
    /// own data (a serializable read); retried for a while, as a member that just rejoined
    /// catches up from the leader.
    pub async fn assert_keys(&self, pods: &[&str], prefix: &str, expected: &BTreeMap<String, String>) {
        for pod in pods {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let found = self.keys(pod, prefix, true).await;
                if expected.iter().all(|(k, v)| found.get(k) == Some(v)) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{pod} has {} of the {} keys under {prefix} after 30s",
                    expected.iter().filter(|(k, v)| found.get(*k) == Some(*v)).count(),
                    expected.len()
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    /// The member id of the member in `pod` (etcd's endpoint status): the same id after a restart
    /// means the member came back on its own data.
    pub async fn member_id(&self, pod: &str) -> String {
        let status = self.call(pod, "/v3/maintenance/status", &json!({})).await;
        status["header"]["member_id"].as_str().expect("member_id").to_owned()
    }

    /// The member list as `pod` sees it: (id, name, peer URL); an added member that has not
    /// started has no name.
    pub async fn members(&self, pod: &str) -> Vec<(String, String, String)> {
        let list = self.call(pod, "/v3/cluster/member/list", &json!({})).await;
        list["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["ID"].as_str().unwrap_or_default().to_owned(),
                    m["name"].as_str().unwrap_or_default().to_owned(),
                    m["peerURLs"][0].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

/// What a [`QuorumWatch`] saw.
#[derive(Debug, Default)]
pub struct QuorumReport {
    /// Polling rounds, and the fewest members that answered /health true in any round.
    pub rounds: usize,
    pub fewest_healthy: usize,
    /// The fewest pods Ready and not terminating at any moment the watch saw.
    pub fewest_ready: usize,
    /// The longest stretch with fewer than two healthy members, and with fewer than two Ready pods.
    pub longest_unhealthy: Duration,
    pub longest_unready: Duration,
    /// What was seen when each stretch began.
    pub moments: Vec<String>,
}

impl QuorumReport {
    /// A quorum held throughout: never fewer than two members healthy (etcd's /health, a
    /// linearizable read, so true only with a quorum) or two pods Ready for longer than
    /// `tolerance`, the time a leader election may take (a leader that stops gracefully hands
    /// leadership over; one that dies is replaced after the election timeout, 1 s, on a loaded
    /// machine a few seconds).
    pub fn assert_held(&self, tolerance: Duration) {
        assert!(self.rounds >= 3, "the watch polled etcd only {} times: {self:?}", self.rounds);
        assert!(
            self.longest_unhealthy <= tolerance && self.longest_unready <= tolerance,
            "quorum lost: fewer than 2 healthy members for {:?}, fewer than 2 Ready pods for {:?} \
             (tolerance {tolerance:?}): {self:#?}",
            self.longest_unhealthy,
            self.longest_unready
        );
    }
}

#[derive(Default)]
struct Seen {
    /// pod name -> (IP, Ready and not terminating)
    pods: BTreeMap<String, (Option<String>, bool)>,
    /// pod name -> (healthy, when the last answer came)
    health: BTreeMap<String, (bool, Instant)>,
    report: QuorumReport,
    unhealthy: Stretch,
    unready: Stretch,
    /// Set by [`QuorumWatch::stop`]: the pollers end.
    stopped: bool,
}

/// Records, for the length of an operation, whether the etcd set kept its quorum: a watch of
/// its pods (Ready and not terminating), and each member's /health polled from this machine on
/// the pod's IP every 250 ms (the host reaches the pods through the bridge), counted every
/// 250 ms (an answer older than 2.5 s does not count). Stop it with
/// [`QuorumWatch::stop`].
pub struct QuorumWatch {
    seen: Arc<Mutex<Seen>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl QuorumWatch {
    pub async fn start(env: &Env) -> QuorumWatch {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let seen = Arc::new(Mutex::new(Seen {
            report: QuorumReport {
                fewest_healthy: usize::MAX,
                fewest_ready: usize::MAX,
                ..Default::default()
            },
            ..Default::default()
        }));
        let pods: Api<Pod> = env.api();
        let watched = seen.clone();
        let (first_tx, first_rx) = tokio::sync::oneshot::channel();
        let pod_task = tokio::spawn(async move {
            let mut first = Some(first_tx);
            let config = watcher::Config::default().labels("app=etcd");
            let mut stream = watcher(pods, config).boxed();
            while let Ok(Some(event)) = stream.try_next().await {
                let mut seen = watched.lock().unwrap();
                match event {
                    watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                        let ready = p.metadata.deletion_timestamp.is_none()
                            && p.status
                                .as_ref()
                                .and_then(|s| s.conditions.as_ref())
                                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                        let ip = p.status.as_ref().and_then(|s| s.pod_ip.clone());
                        seen.pods.insert(p.name_any(), (ip, ready));
                    }
                    watcher::Event::Delete(p) => {
                        seen.pods.remove(&p.name_any());
                    }
                    watcher::Event::InitDone => {
                        if let Some(tx) = first.take() {
                            let _ = tx.send(());
                        }
                    }
                    watcher::Event::Init => {}
                }
                seen.observe_pods();
            }
        });
        first_rx.await.expect("the pod watch started");
        let polled = seen.clone();
        let poll_task = tokio::spawn(async move {
            let http =
                reqwest::Client::builder().timeout(Duration::from_millis(1500)).build().expect("HTTP client");
            let mut pollers: BTreeMap<String, tokio::task::JoinHandle<()>> = BTreeMap::new();
            loop {
                {
                    let mut seen = polled.lock().unwrap();
                    pollers.retain(|_, task| !task.is_finished());
                    for name in seen.pods.keys() {
                        if !pollers.contains_key(name) {
                            pollers.insert(
                                name.clone(),
                                tokio::spawn(poll(polled.clone(), http.clone(), name.clone())),
                            );
                        }
                    }
                    seen.observe_health(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        QuorumWatch { seen, tasks: vec![pod_task, poll_task] }
    }

    pub fn stop(self) -> QuorumReport {
        for task in &self.tasks {
            task.abort();
        }
        let mut seen = self.seen.lock().unwrap();
        seen.stopped = true;
        let now = Instant::now();
        seen.close(now);
        std::mem::take(&mut seen.report)
    }
}

/// Polls one member's /health on its pod's current IP every 250 ms while its pod exists; no
/// answer within 1.5 s counts as unhealthy.
async fn poll(seen: Arc<Mutex<Seen>>, http: reqwest::Client, name: String) {
    loop {
        let ip = {
            let seen = seen.lock().unwrap();
            match seen.pods.get(&name) {
                Some(ip) if !seen.stopped => ip.clone(),
                _ => return,
            }
        };
        let healthy = match ip.0 {
            Some(ip) => match http.get(format!("http://{ip}:2379/health")).send().await {
                Ok(answer) => answer.text().await.is_ok_and(|body| body.contains("\"health\":\"true\"")),
                Err(_) => false,
            },
            None => false,
        };
        seen.lock().unwrap().health.insert(name.clone(), (healthy, Instant::now()));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A stretch of time with fewer than two members healthy (or pods Ready): when it began, and
/// the longest one so far.
#[derive(Default)]
struct Stretch {
    since: Option<Instant>,
    longest: Duration,
}

impl Stretch {
    /// Records whether the count is short now; true when a stretch begins.
    fn observe(&mut self, short: bool, now: Instant) -> bool {
        match (short, self.since) {
            (true, None) => {
                self.since = Some(now);
                true
            }
            (false, Some(since)) => {
                self.longest = self.longest.max(now - since);
                self.since = None;
                false
            }
            _ => false,
        }
    }
}

impl Seen {
    fn observe_pods(&mut self) {
        let ready = self.pods.values().filter(|(_, r)| *r).count();
        self.report.fewest_ready = self.report.fewest_ready.min(ready);
        if self.unready.observe(ready < 2, Instant::now()) {
            self.report.moments.push(format!("{ready} Ready pods: {:?}", self.pods));
        }
    }

    fn observe_health(&mut self, now: Instant) {
        let healthy = self
            .health
            .iter()
            .filter(|(name, (ok, at))| {
                *ok && now - *at < Duration::from_millis(2500) && self.pods.contains_key(*name)
            })
            .count();
        self.report.rounds += 1;
        self.report.fewest_healthy = self.report.fewest_healthy.min(healthy);
        if self.unhealthy.observe(healthy < 2, now) {
            self.report.moments.push(format!("{healthy} healthy members: {:?}", self.health));
        }
    }

    fn close(&mut self, now: Instant) {
        self.unhealthy.observe(false, now);
        self.unready.observe(false, now);
        self.report.longest_unhealthy = self.unhealthy.longest;
        self.report.longest_unready = self.unready.longest;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_round_trips() {
        for text in ["", "a", "ab", "abc", "abcd", "rollout/007"] {
            assert_eq!(super::unb64(&super::b64(text.as_bytes())), text.as_bytes());
        }
        assert_eq!(super::b64(b"foo"), "Zm9v");
        assert_eq!(super::b64(b"fo"), "Zm8=");
    }
}
