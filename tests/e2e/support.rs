//! The end-to-end harness: one real local control plane per run (tests/cluster/up, shared
//! and idempotent), one namespace per test so tests run in parallel, and the plugin binary.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::wait::{Condition, await_condition};
use kube::runtime::watcher;
use kube::{Client, Config, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

static KUBECONFIG: OnceLock<PathBuf> = OnceLock::new();

/// Starts the local cluster once per test process (a no-op when it already runs).
pub fn kubeconfig() -> &'static PathBuf {
    KUBECONFIG.get_or_init(|| {
        let up = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cluster/up");
        let output = std::process::Command::new(up).output().expect("run tests/cluster/up");
        assert!(
            output.status.success(),
            "tests/cluster/up failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        PathBuf::from(String::from_utf8(output.stdout).expect("utf-8 path").trim())
    })
}

static K8S_MINOR: OnceLock<u32> = OnceLock::new();

/// The test cluster's Kubernetes minor version (34, 37, …: tests/cluster/up runs the one
/// KUBECTL_STATEFUL_K8S_VERSION names), read once from its /version. A test whose expectation
/// depends on the version asserts the right one for each version it runs on; none returns
/// early (a test that cannot run must fail, not pass silently).
pub fn k8s_minor() -> u32 {
    *K8S_MINOR.get_or_init(|| {
        // A thread and runtime of its own: callable from sync code and from inside a test.
        std::thread::spawn(|| {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            let info =
                runtime.block_on(async { client().await.apiserver_version().await.expect("/version") });
            info.minor.trim_end_matches('+').parse().expect("numeric minor version")
        })
        .join()
        .expect("read the server version")
    })
}

pub async fn client() -> Client {
    client_for(kubeconfig()).await
}

async fn client_for(path: &std::path::Path) -> Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(path).expect("read kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.expect("kubeconfig");
    Client::try_from(config).expect("client")
}

/// A fresh namespace on the shared cluster (or a test's own), deleted in the background
/// when dropped.
pub struct Env {
    pub client: Client,
    pub ns: String,
    pub kubeconfig: PathBuf,
}

impl Env {
    pub async fn new(test: &str) -> Env {
        Env::on(kubeconfig(), test).await
    }

    /// A namespace on the cluster `kubeconfig` points to.
    pub async fn on(kubeconfig: &std::path::Path, test: &str) -> Env {
        let client = client_for(kubeconfig).await;
        let suffix =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let ns = format!("{}-{suffix:x}", test.replace('_', "-").chars().take(40).collect::<String>());
        let namespaces: Api<Namespace> = Api::all(client.clone());
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
            )
            .await
            .expect("create namespace");
        // Pods need the namespace's default ServiceAccount, which a controller creates.
        let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> = Api::namespaced(client.clone(), &ns);
        wait_until(Duration::from_secs(30), || async {
            accounts.get_opt("default").await.ok().flatten().is_some()
        })
        .await;
        Env { client, ns, kubeconfig: kubeconfig.to_owned() }
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// The plugin, pointed at this cluster and namespace.
    pub fn plugin(&self) -> assert_cmd::Command {
        let mut cmd = plugin();
        cmd.env("KUBECONFIG", &self.kubeconfig).args(["-n", &self.ns]);
        cmd
    }

    /// The plugin as a child process, for tests that act while it runs.
    pub fn spawn_plugin(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(PLUGIN_SH);
        cmd.env("KUBECTL_STATEFUL_BIN", env!("CARGO_BIN_EXE_kubectl-stateful"));
        cmd.env("KUBECONFIG", &self.kubeconfig).env("NO_COLOR", "1").args(["-n", &self.ns]).args(args);
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd.kill_on_drop(true);
        cmd
    }

    pub async fn create<K>(&self, manifest: Value) -> K
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let object: K = serde_json::from_value(manifest).expect("valid manifest");
        self.api::<K>().create(&PostParams::default(), &object).await.expect("create object")
    }

    /// A headless Service and a StatefulSet as `spec` describes, waiting until every pod is Ready.
    pub async fn statefulset(&self, spec: &Sts) -> StatefulSet {
        if spec.service {
            self.create::<Service>(json!({
                "metadata": {"name": spec.name},
                "spec": {"clusterIP": "None", "selector": {"app": spec.name}, "ports": [{"port": 80}]}
            }))
            .await;
        }
        let sts: StatefulSet = self.create(spec.manifest()).await;
        if spec.wait {
            self.wait_ready(&spec.name, Duration::from_secs(60)).await;
        }
        sts
    }

    /// Waits until the StatefulSet's controller has settled: every replica Ready and current.
    pub async fn wait_ready(&self, name: &str, timeout: Duration) -> StatefulSet {
        let api = self.api::<StatefulSet>();
        let cond = |sts: Option<&StatefulSet>| {
            sts.is_some_and(|s| {
                let status = s.status.clone().unwrap_or_default();
                let replicas = s.spec.as_ref().and_then(|sp| sp.replicas).unwrap_or(1);
                status.observed_generation >= s.metadata.generation
                    && status.replicas == replicas
                    && status.ready_replicas.unwrap_or(0) == replicas
                    && status.updated_replicas.unwrap_or(0) == replicas
                    && status.current_revision == status.update_revision
            })
        };
        self.wait_for(&api, name, cond, timeout).await;
        api.get(name).await.unwrap()
    }

    pub async fn wait_for<K>(&self, api: &Api<K>, name: &str, cond: impl Condition<K>, timeout: Duration)
    where
        K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    {
        let wait = await_condition(api.clone(), name, cond);
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or_else(|_| panic!("timed out after {timeout:?} waiting for {name}"))
            .expect("watch");
    }

    pub async fn scale(&self, name: &str, replicas: i32) {
        self.patch_sts(name, json!({"spec": {"replicas": replicas}})).await;
    }

    /// What `kubectl set image` does to the container `app` (its field manager too): someone
    /// else's template change.
    pub async fn set_image(&self, name: &str, image: &str) -> StatefulSet {
        let patch =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}});
        let params = PatchParams { field_manager: Some("kubectl-set".to_owned()), ..Default::default() };
        self.api::<StatefulSet>().patch(name, &params, &Patch::Strategic(&patch)).await.expect("set image")
    }

    /// Every pod of the namespace runs `image`.
    pub async fn all_pods_run(&self, image: impl AsRef<str>) -> bool {
        images(self).await.iter().all(|(_, running)| running == image.as_ref())
    }

    /// A merge patch as `kubectl patch --type merge` makes it (field manager `kubectl-patch`).
    pub async fn patch_sts(&self, name: &str, patch: Value) -> StatefulSet {
        let params = PatchParams { field_manager: Some("kubectl-patch".to_owned()), ..Default::default() };
        self.api::<StatefulSet>().patch(name, &params, &Patch::Merge(&patch)).await.expect("patch sts")
    }

    pub async fn pods(&self) -> Vec<Pod> {
        self.api::<Pod>().list(&Default::default()).await.unwrap().items
    }

    pub async fn pvcs(&self) -> Vec<PersistentVolumeClaim> {
        let mut items = self.api::<PersistentVolumeClaim>().list(&Default::default()).await.unwrap().items;
        items.sort_by_key(|p| p.name_any());
        items
    }

    pub async fn pvc_names(&self) -> Vec<String> {
        self.pvcs()
            .await
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(|p| p.name_any())
            .collect()
    }

    /// What a command could change in the namespace: each StatefulSet's spec generation and
    /// metadata (its status churns with the controller, not with us), each claim's uid and
    /// deletion, each pod's uid (a deleted and recreated pod has a new one).
    pub async fn versions(&self) -> Vec<(String, String)> {
        let mut versions: Vec<(String, String)> = Vec::new();
        for sts in self.api::<StatefulSet>().list(&Default::default()).await.unwrap().items {
            let state = format!(
                "{:?} {:?} {:?}",
                sts.metadata.generation, sts.metadata.annotations, sts.metadata.labels
            );
            versions.push((format!("sts/{}", sts.name_any()), state));
        }
        versions.sort();
        // The plugin only ever deletes claims: their uid and deletion say whether it did. (Their
        // resourceVersion also moves when the PV controller writes them, which is no change of ours.)
        versions.extend(self.pvcs().await.iter().map(|o| {
            let deletion = o.metadata.deletion_timestamp.as_ref().map(|t| t.0.to_string());
            (format!("pvc/{}", o.name_any()), format!("{} {deletion:?}", o.uid().unwrap()))
        }));
        let mut pods = self.pods().await;
        pods.sort_by_key(|p| p.name_any());
        versions.extend(pods.iter().map(|o| (format!("pod/{}", o.name_any()), o.uid().unwrap())));
        versions
    }

    /// Records the namespace's pod events from now on: (pod, event) in the order the watch saw them.
    pub fn record_pods(&self) -> PodRecorder {
        let api = self.api::<Pod>();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut ready = std::collections::HashSet::new();
            let mut stream = watcher(api, watcher::Config::default()).boxed();
            while let Ok(Some(event)) = stream.try_next().await {
                let (pod, deleted) = match event {
                    watcher::Event::Apply(p) | watcher::Event::InitApply(p) => (p, false),
                    watcher::Event::Delete(p) => (p, true),
                    _ => continue,
                };
                let name = pod.name_any();
                let is_ready = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                let event = if deleted {
                    PodEvent::Deleted
                } else if pod.metadata.deletion_timestamp.is_some() {
                    PodEvent::Terminating
                } else if is_ready && ready.insert(pod.uid().unwrap_or_default()) {
                    PodEvent::Ready
                } else if !ready.contains(&pod.uid().unwrap_or_default()) && !is_ready {
                    PodEvent::Seen
                } else {
                    continue;
                };
                if tx.send((name, event)).is_err() {
                    return;
                }
            }
        });
        PodRecorder { rx, task }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodEvent {
    Seen,
    Ready,
    Terminating,
    Deleted,
}

pub struct PodRecorder {
    rx: tokio::sync::mpsc::UnboundedReceiver<(String, PodEvent)>,
    task: tokio::task::JoinHandle<()>,
}

impl PodRecorder {
    /// The first occurrence of each (pod, event), in order, once `done` says enough was seen.
    pub async fn until(
        mut self,
        timeout: Duration,
        done: impl Fn(&[(String, PodEvent)]) -> bool,
    ) -> Vec<(String, PodEvent)> {
        let mut seen: Vec<(String, PodEvent)> = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while !done(&seen) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(event)) if !seen.contains(&event) => seen.push(event),
                Ok(Some(_)) => {}
                _ => panic!("timed out; pod events so far: {seen:?}"),
            }
        }
        self.task.abort();
        seen
    }
}

impl Env {
    /// Nodes of this test's own, so taking one down cannot disturb other tests: labelled
    /// `kubectl-stateful.test/pool=<ns>` and tainted so that only pods tolerating it land there.
    /// kwok picks them up like any node; they are deleted with the namespace.
    pub async fn own_nodes(&self, count: usize) -> Vec<String> {
        let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(self.client.clone());
        let mut names = Vec::new();
        for i in 0..count {
            let name = format!("{}-node-{i}", self.ns);
            let node = serde_json::from_value(json!({
                "metadata": {
                    "name": name,
                    "labels": {"kubectl-stateful.test/pool": self.ns, "type": "kwok", "kubernetes.io/hostname": name},
                    "annotations": {"kwok.x-k8s.io/node": "fake"}
                },
                "spec": {"taints": [{"key": "kubectl-stateful.test/pool", "value": self.ns, "effect": "NoSchedule"}]}
            }))
            .unwrap();
            nodes.create(&PostParams::default(), &node).await.expect("create node");
            names.push(name);
        }
        for name in &names {
            let ready = |n: Option<&k8s_openapi::api::core::v1::Node>| {
                n.and_then(|n| {
                    n.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready").cloned()
                })
                .is_some_and(|c| c.status == "True")
            };
            self.wait_for(&nodes, name, ready, Duration::from_secs(30)).await;
        }
        names
    }

    /// Takes a node down the way tests/cluster/node does: kwok stops heartbeating it.
    pub async fn node_down(&self, node: &str) {
        self.label_node(node, json!({"kubectl-stateful.test/down": "true"})).await;
    }

    /// A claim bound, before its pod exists, to a volume pinned to a node, as a local volume is;
    /// returns the volume's name.
    pub async fn pinned_claim(&self, claim: &str, node: &str) -> String {
        use k8s_openapi::api::core::v1::PersistentVolume;
        let env = self;
        let volume = format!("{}-{claim}", env.ns);
        let volumes: Api<PersistentVolume> = Api::all(env.client.clone());
        let pv: PersistentVolume = serde_json::from_value(json!({
            "metadata": {"name": volume},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "kwok-volume-retain",
                "hostPath": {"path": format!("/tmp/kwok-local-path-provisioner/{volume}")},
                "claimRef": {"namespace": env.ns, "name": claim},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
                ]}]}}
            }
        }))
        .unwrap();
        volumes.create(&PostParams::default(), &pv).await.unwrap();
        env.create::<PersistentVolumeClaim>(json!({
            "metadata": {"name": claim, "labels": {"app": claim.rsplit('-').nth(1).unwrap()}},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "kwok-volume-retain", "volumeName": volume,
                     "resources": {"requests": {"storage": "1Gi"}}}
        }))
        .await;
        let claims = env.api::<PersistentVolumeClaim>();
        wait_until(Duration::from_secs(60), || async {
            claims.get(claim).await.unwrap().status.and_then(|s| s.phase).as_deref() == Some("Bound")
        })
        .await;
        volume
    }

    pub async fn label_node(&self, node: &str, labels: Value) {
        let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(self.client.clone());
        let patch = json!({"metadata": {"labels": labels}});
        nodes.patch(node, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("label node");
    }
}

/// What a command run in a pod through the API server's pods/exec returned.
#[derive(Debug)]
pub struct Exec {
    pub stdout: String,
    pub stderr: String,
    /// The final status the exec stream carried: `Success`, or `Failure` with a message. kwok
    /// (v0.8.0) reports a command's non-zero exit as reason `InternalError`, message `… exit
    /// status N`, where a kubelet would give reason `NonZeroExitCode` and the code as a cause.
    pub status: k8s_openapi::apimachinery::pkg::apis::meta::v1::Status,
}

impl Exec {
    pub fn success(&self) -> bool {
        self.status.status.as_deref() == Some("Success")
    }

    /// The status's message: for a failure, kwok's `… exit status N` or why it could not run.
    pub fn message(&self) -> &str {
        self.status.message.as_deref().unwrap_or_default()
    }
}

impl Env {
    /// Runs `command` (argv, no shell) in `pod` as `kubectl exec` does: the pods/exec
    /// subresource through the API server (websocket), which reaches kwok, the pod's kubelet;
    /// kwok runs the command on this machine (tests/cluster/exec.yaml).
    pub async fn exec(&self, pod: &str, command: &[&str]) -> Exec {
        use kube::api::AttachParams;
        use tokio::io::AsyncReadExt;
        let params = AttachParams::default().stdin(false).stdout(true).stderr(true);
        let mut process = self.api::<Pod>().exec(pod, command.to_vec(), &params).await.expect("pods/exec");
        let status = process.take_status().expect("a status channel");
        let (mut out, mut err) = (process.stdout().expect("stdout"), process.stderr().expect("stderr"));
        let (mut stdout, mut stderr) = (String::new(), String::new());
        let (read_out, read_err) =
            tokio::join!(out.read_to_string(&mut stdout), err.read_to_string(&mut stderr));
        read_out.expect("read stdout");
        read_err.expect("read stderr");
        let status = status.await.expect("the exec stream's final status");
        process.join().await.expect("exec stream closed");
        Exec { stdout, stderr, status }
    }

    /// The directory and environment of `pod`'s exec commands from now on (kubectl exec, the
    /// plugin's exec gates), for a test to make them pass or fail per pod: a host directory of
    /// its own, returned, as the working directory, and POD_NAME, POD_NAMESPACE and
    /// KWOK_EXEC=pod on top of the cluster default's environment. It is a kwok `Exec` named
    /// after the pod, which kwok prefers to the cluster-wide default; it outlives the pod, so
    /// a StatefulSet pod recreated under the same name keeps it, and goes with the namespace.
    /// `pod` must be running: this returns once an exec in it sees the new environment.
    pub async fn exec_dir(&self, pod: &str) -> PathBuf {
        let dir = exec_root(&self.ns).join(pod);
        std::fs::create_dir_all(&dir).expect("create the pod's exec directory");
        let api =
            Api::<kube::api::DynamicObject>::namespaced_with(self.client.clone(), &self.ns, &kwok_exec());
        let exec = serde_json::from_value(json!({
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "Exec",
            "metadata": {"name": pod},
            "spec": {"execs": [{"local": {
                "workDir": dir,
                "envs": [
                    {"name": "POD_NAME", "value": pod},
                    {"name": "POD_NAMESPACE", "value": self.ns},
                    {"name": "KWOK_EXEC", "value": "pod"}
                ]
            }}]}
        }))
        .unwrap();
        api.create(&PostParams::default(), &exec).await.expect("create kwok Exec");
        // kwok learns of it through a watch.
        wait_until(Duration::from_secs(10), || async {
            let seen = self.exec(pod, &["sh", "-c", "echo $KWOK_EXEC $PWD"]).await;
            seen.stdout.trim() == format!("pod {}", dir.display())
        })
        .await;
        dir
    }
}

/// kwok's namespaced `Exec` resource (kwok.x-k8s.io/v1alpha1, a CRD on the test clusters).
fn kwok_exec() -> kube::api::ApiResource {
    let gvk = kube::api::GroupVersionKind::gvk("kwok.x-k8s.io", "v1alpha1", "Exec");
    kube::api::ApiResource::from_gvk_with_plural(&gvk, "execs")
}

/// Where a test namespace's per-pod exec directories live on this machine.
fn exec_root(ns: &str) -> PathBuf {
    std::env::temp_dir().join("kubectl-stateful-exec").join(ns)
}

impl Drop for Env {
    fn drop(&mut self) {
        let kubectl = |args: &[&str]| {
            let _ =
                std::process::Command::new("kubectl").env("KUBECONFIG", &self.kubeconfig).args(args).output();
        };
        kubectl(&["delete", "namespace", &self.ns, "--wait=false", "--ignore-not-found"]);
        let pool = format!("kubectl-stateful.test/pool={}", self.ns);
        kubectl(&["delete", "nodes", "-l", &pool, "--wait=false", "--ignore-not-found"]);
        let _ = std::fs::remove_dir_all(exec_root(&self.ns));
    }
}

/// How the tests run the plugin binary: through tests/e2e/plugin.sh, which runs every dry run
/// as the user tests/audit checks wrote nothing. (Tests that drive it on a terminal run the
/// binary itself; none of them is a dry run.)
const PLUGIN_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/plugin.sh");

/// The plugin binary with the cluster's kubeconfig and no colours.
pub fn plugin() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(PLUGIN_SH);
    cmd.env("KUBECTL_STATEFUL_BIN", env!("CARGO_BIN_EXE_kubectl-stateful"));
    cmd.env("KUBECONFIG", kubeconfig()).env("NO_COLOR", "1").timeout(Duration::from_secs(180));
    cmd
}

pub async fn wait_until<F, Fut>(timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "condition not met within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A test StatefulSet: `name` with app=<name> labels, a headless Service of the same name.
#[derive(Debug, Clone)]
pub struct Sts {
    pub name: String,
    pub replicas: i32,
    pub templates: Vec<String>,
    pub image: String,
    pub start: Option<i32>,
    pub storage_class: Option<String>,
    pub parallel: bool,
    pub partition: Option<i32>,
    pub min_ready_seconds: Option<i32>,
    pub service: bool,
    pub wait: bool,
    /// Pin the pods to this test's own nodes (see [`Env::own_nodes`]).
    pub pool: Option<String>,
    /// The OnDelete update strategy (the controller replaces a pod only once it is deleted).
    pub on_delete: bool,
}

impl Sts {
    pub fn new(name: &str, replicas: i32) -> Sts {
        Sts {
            name: name.to_owned(),
            replicas,
            templates: vec!["data".to_owned()],
            image: "example.invalid/app:v1".to_owned(),
            start: None,
            storage_class: None,
            parallel: false,
            partition: None,
            min_ready_seconds: None,
            service: true,
            wait: true,
            pool: None,
            on_delete: false,
        }
    }

    pub fn manifest(&self) -> Value {
        let templates: Vec<Value> = self
            .templates
            .iter()
            .map(|t| {
                let mut spec =
                    json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}});
                if let Some(class) = &self.storage_class {
                    spec["storageClassName"] = json!(class);
                }
                json!({"metadata": {"name": t}, "spec": spec})
            })
            .collect();
        let mut sts = json!({
            "metadata": {"name": self.name},
            "spec": {
                "serviceName": self.name,
                "replicas": self.replicas,
                "selector": {"matchLabels": {"app": self.name}},
                "template": {
                    "metadata": {"labels": {"app": self.name}},
                    "spec": {"containers": [{"name": "app", "image": self.image}], "terminationGracePeriodSeconds": 0}
                },
                "volumeClaimTemplates": templates,
                "podManagementPolicy": if self.parallel { "Parallel" } else { "OrderedReady" },
            }
        });
        if let Some(start) = self.start {
            sts["spec"]["ordinals"] = json!({"start": start});
        }
        if let Some(partition) = self.partition {
            sts["spec"]["updateStrategy"] =
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": partition}});
        }
        if self.on_delete {
            sts["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
        }
        if let Some(pool) = &self.pool {
            let spec = &mut sts["spec"]["template"]["spec"];
            spec["nodeSelector"] = json!({"kubectl-stateful.test/pool": pool});
            spec["tolerations"] = json!([{"key": "kubectl-stateful.test/pool", "operator": "Equal", "value": pool, "effect": "NoSchedule"}]);
        }
        if let Some(seconds) = self.min_ready_seconds {
            sts["spec"]["minReadySeconds"] = json!(seconds);
        }
        sts
    }
}

/// stdout of a successful plugin run, parsed as JSON.
pub fn json_of(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "plugin failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

impl Env {
    /// This namespace's StatefulSet `name` in `status -A -o json`, which lists every namespace
    /// (other tests' too).
    pub fn status_in_all_namespaces(&self, name: &str) -> Value {
        let list = json_of(&self.plugin().args(["status", "-A", "-o", "json"]).output().unwrap());
        let found = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["namespace"] == self.ns.as_str() && s["name"] == name);
        found.unwrap_or_else(|| panic!("{name} not in status -A")).clone()
    }
}

/// A ServiceAccount of the test namespace that may read (never change) StatefulSets, pods,
/// claims and Services there, plus `extra` rules; nothing cluster-scoped. Returns the user name
/// to impersonate with `--as`.
pub async fn namespaced_user(env: &Env, name: &str, extra: Value) -> String {
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    env.create::<ServiceAccount>(json!({"metadata": {"name": name}})).await;
    let mut rules = vec![
        json!({"apiGroups": ["apps"], "resources": ["statefulsets", "controllerrevisions"], "verbs": ["get", "list", "watch"]}),
        json!({"apiGroups": [""], "resources": ["pods", "persistentvolumeclaims", "services"], "verbs": ["get", "list", "watch"]}),
    ];
    rules.extend(extra.as_array().cloned().unwrap_or_default());
    env.create::<Role>(json!({"metadata": {"name": name}, "rules": rules})).await;
    env.create::<RoleBinding>(json!({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": env.ns}]
    }))
    .await;
    let user = format!("system:serviceaccount:{}:{name}", env.ns);
    bound(env, &user, &rules[0]).await;
    user
}

/// Waits until the API server's authorizer allows `user` the first verb on the first resource
/// of `rule`: a RoleBinding takes effect once the RBAC informer has seen it, which a loaded
/// machine can delay past the plugin's first request.
async fn bound(env: &Env, user: &str, rule: &Value) {
    use k8s_openapi::api::authorization::v1::SubjectAccessReview;
    let group = rule["apiGroups"][0].as_str().unwrap_or_default().to_owned();
    let (Some(resource), Some(verb)) = (rule["resources"][0].as_str(), rule["verbs"][0].as_str()) else {
        return;
    };
    let reviews: Api<SubjectAccessReview> = Api::all(env.client.clone());
    let review: SubjectAccessReview = serde_json::from_value(json!({
        "spec": {"user": user, "groups": ["system:serviceaccounts", "system:authenticated"],
                 "resourceAttributes": {"namespace": env.ns, "verb": verb, "group": group, "resource": resource}}
    }))
    .unwrap();
    wait_until(Duration::from_secs(30), || async {
        let answer = reviews.create(&PostParams::default(), &review).await.expect("SubjectAccessReview");
        answer.status.is_some_and(|s| s.allowed)
    })
    .await;
}

/// A ServiceAccount of the test namespace with exactly `rules` (a Role in the namespace), and
/// nothing else; returns the user name to impersonate with `--as`.
pub async fn user_with_rules(env: &Env, name: &str, rules: Value) -> String {
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    env.create::<ServiceAccount>(json!({"metadata": {"name": name}})).await;
    env.create::<Role>(json!({"metadata": {"name": name}, "rules": rules})).await;
    env.create::<RoleBinding>(json!({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": env.ns}]
    }))
    .await;
    let user = format!("system:serviceaccount:{}:{name}", env.ns);
    if let Some(first) = rules.as_array().and_then(|r| r.first()) {
        bound(env, &user, first).await;
    }
    user
}

pub async fn read_only_user(env: &Env, name: &str) -> String {
    namespaced_user(env, name, json!([])).await
}

/// A cluster of a test's own (`tests/cluster/up` under another name), for faults that would
/// disturb every other test: stopping the API server. Removed when dropped.
pub struct OwnCluster {
    pub name: String,
    pub kubeconfig: PathBuf,
}

impl OwnCluster {
    pub fn start(name: &str) -> OwnCluster {
        let output = cluster_script("up", name).output().expect("run tests/cluster/up");
        assert!(
            output.status.success(),
            "tests/cluster/up failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let kubeconfig = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
        OwnCluster { name: name.to_owned(), kubeconfig }
    }

    fn pid(&self, component: &str) -> String {
        let file = self.kubeconfig.parent().unwrap().join("pids").join(format!("{component}.pid"));
        std::fs::read_to_string(file).unwrap().trim().to_owned()
    }

    /// Stops a component's process where it stands (SIGSTOP): its port stays open but nothing
    /// answers, so clients find out only through their timeouts.
    pub fn stop(&self, component: &str) {
        assert!(
            std::process::Command::new("kill")
                .args(["-STOP", &self.pid(component)])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Starts a stopped component again (SIGCONT).
    pub fn start_again(&self, component: &str) {
        assert!(
            std::process::Command::new("kill")
                .args(["-CONT", &self.pid(component)])
                .status()
                .unwrap()
                .success()
        );
    }

    /// The last lines of a component's log, for failure messages.
    pub fn log_tail(&self, component: &str, lines: usize) -> String {
        let log = self.kubeconfig.parent().unwrap().join("logs").join(format!("{component}.log"));
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = cluster_script("down", &self.name).output();
    }
}

fn cluster_script(script: &str, name: &str) -> std::process::Command {
    let mut command =
        std::process::Command::new(format!("{}/tests/cluster/{script}", env!("CARGO_MANIFEST_DIR")));
    // A cluster of its own for a fault or a fleet: no real nodes, whatever the suite's has.
    command.env("KUBECTL_STATEFUL_CLUSTER", name).env_remove("KUBECTL_STATEFUL_REAL_NODES");
    command
}

/// The rollout journal annotation.
pub const JOURNAL: &str = "kubectl-stateful.dev/rollout";

/// Pod name -> image, for the pods of the namespace.
pub async fn images(env: &Env) -> Vec<(String, String)> {
    let mut pods: Vec<(String, String)> = env
        .pods()
        .await
        .iter()
        .map(|p| (p.name_any(), p.spec.as_ref().unwrap().containers[0].image.clone().unwrap()))
        .collect();
    pods.sort();
    pods
}

pub async fn sts(env: &Env, name: &str) -> StatefulSet {
    env.api::<StatefulSet>().get(name).await.unwrap()
}

pub fn partition(sts: &StatefulSet) -> i32 {
    sts.spec
        .as_ref()
        .unwrap()
        .update_strategy
        .as_ref()
        .unwrap()
        .rolling_update
        .as_ref()
        .unwrap()
        .partition
        .unwrap()
}

pub type Lines = tokio::io::Lines<BufReader<tokio::process::ChildStdout>>;

/// Spawns a `-o json` rollout and returns once it reports `event`, with the rest of its
/// stdout (keep it: dropping it would close the pipe under the running plugin).
pub async fn rollout_until(env: &Env, args: &[&str], event: &str) -> (tokio::process::Child, Lines) {
    let mut child = env.spawn_plugin(args).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let needle = format!("\"event\":\"{event}\"");
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.contains(&needle) {
            return (child, lines);
        }
    }
    panic!("the rollout ended before {event}: {:?}", child.wait_with_output().await);
}

/// `kubectl apply` of a StatefulSet manifest in the test namespace, as a tool would: with
/// `--server-side` (and `--force-conflicts`, as Argo CD and Flux apply) or client-side (which
/// records the last-applied annotation), under `manager` when given. Panics on failure.
pub fn kubectl_apply(env: &Env, manifest: &Value, server_side: bool, manager: Option<&str>) {
    let mut object = manifest.clone();
    object["apiVersion"] = json!("apps/v1");
    object["kind"] = json!("StatefulSet");
    let mut args = vec!["apply", "-n", &env.ns, "-f", "-"];
    if server_side {
        args.extend(["--server-side", "--force-conflicts"]);
    }
    if let Some(manager) = manager {
        args.extend(["--field-manager", manager]);
    }
    let output = kubectl_with_object(env, &args, &object);
    assert!(output.status.success(), "kubectl apply: {}", String::from_utf8_lossy(&output.stderr));
}

/// `kubectl ARGS` against the test cluster with `object` on its stdin (`-f -`); its output,
/// stdout left out.
pub fn kubectl_with_object(env: &Env, args: &[&str], object: &Value) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new("kubectl")
        .env("KUBECONFIG", &env.kubeconfig)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl on PATH");
    child.stdin.take().unwrap().write_all(object.to_string().as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs a command the plugin printed between backticks, as printed, against the test cluster.
pub fn run_printed(env: &Env, command: &str) {
    let ran = std::process::Command::new("sh")
        .env("KUBECONFIG", &env.kubeconfig)
        .args(["-c", command])
        .output()
        .unwrap();
    assert!(ran.status.success(), "{command}: {}", String::from_utf8_lossy(&ran.stderr));
}

/// The commands between backticks in `message`, in order.
pub fn commands(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

/// The current context of `kubeconfig`, as kubectl reads it.
pub fn current_context(kubeconfig: &std::path::Path) -> String {
    let output = std::process::Command::new("kubectl")
        .env("KUBECONFIG", kubeconfig)
        .args(["config", "current-context"])
        .output()
        .expect("kubectl on PATH");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// An empty directory to stand in for `$HOME`: no `~/.kube/config` to fall back on.
pub fn empty_home() -> PathBuf {
    let home = std::env::temp_dir().join("kubectl-stateful-empty-home");
    std::fs::create_dir_all(&home).unwrap();
    home
}

impl Env {
    /// The plugin with every connection flag on its command line (`--kubeconfig`, `--context`,
    /// `-n`) and no `$KUBECONFIG` or `~/.kube/config` to fall back on: advice it prints works as
    /// printed only if it carries them.
    pub fn plugin_with_flags(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(PLUGIN_SH);
        cmd.env("KUBECTL_STATEFUL_BIN", env!("CARGO_BIN_EXE_kubectl-stateful"));
        cmd.env_remove("KUBECONFIG")
            .env("HOME", empty_home())
            .env("NO_COLOR", "1")
            .timeout(Duration::from_secs(180))
            .args(["--kubeconfig", &self.kubeconfig.to_string_lossy()])
            .args(["--context", &current_context(&self.kubeconfig)])
            .args(["-n", &self.ns]);
        cmd
    }
}

/// `command`, as the plugin printed it, in a shell with nothing the command does not say: no
/// `$KUBECONFIG`, an empty `$HOME`, no colours, and this build of the plugin on `PATH` as kubectl
/// finds plugins; bounded, so that a printed command that hangs fails the test instead of
/// holding up the suite.
pub fn as_printed(command: &str) -> std::process::Command {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_kubectl-stateful")).parent().unwrap().to_owned();
    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let mut shell = std::process::Command::new("timeout");
    shell
        .env_remove("KUBECONFIG")
        .env("HOME", empty_home())
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .args(["120", "sh", "-c", command]);
    shell
}

/// Runs `command` [`as_printed`]. Panics unless it succeeds; returns its stdout.
pub fn run_as_printed(command: &str) -> String {
    let ran = as_printed(command).output().unwrap();
    assert!(ran.status.success(), "{command}: {}", String::from_utf8_lossy(&ran.stderr));
    String::from_utf8_lossy(&ran.stdout).into_owned()
}

/// A wait's plain progress line of `stderr` (a pipe): `waiting for WHAT: … (Ns of at most LIMIT)`.
pub fn progress_line<'s>(stderr: &'s str, what: &str, limit: &str) -> Option<&'s str> {
    let lead = format!("waiting for {what}: ");
    let tail = format!(" of at most {limit})");
    stderr.lines().find(|l| l.starts_with(&lead) && l.ends_with(&tail))
}
