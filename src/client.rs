//! The one place that turns kubectl's connection flags into a client, as kubectl would:
//! `--kubeconfig` (else `$KUBECONFIG`, else `~/.kube/config`, else the in-cluster service
//! account), `--context`, `--cluster`, `--user`, `-n/--namespace` (else the context's namespace,
//! else `default`), and the rest of kubectl's global flags that can be honoured.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use kube::api::Api;
use kube::client::{Body, ClientBuilder};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ClusterResourceScope, NamespaceResourceScope};
use kube::{Client, Config, Resource};

use crate::core::advice::RunFlags;
use crate::error::{Error, Result, Stop};
use crate::output::{Streams, log_line};
use crate::parse;

mod exec;

#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Connection (as kubectl)")]
pub struct KubeArgs {
    /// Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use (`status -A` and `pvc prune -A --dry-run` take several)
    #[arg(long, global = true, value_name = "NAME", action = clap::ArgAction::Append)]
    pub context: Vec<String>,

    /// The kubeconfig cluster to use
    #[arg(long, global = true, value_name = "NAME")]
    pub cluster: Option<String>,

    /// The kubeconfig user to use
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,

    /// The namespace [default: the context's namespace, then "default"]
    #[arg(short = 'n', long, global = true, value_name = "NAME", value_parser = parse::namespace)]
    pub namespace: Option<String>,

    /// How long to wait for one API request (5s, 1m; 0 waits forever)
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse::request_timeout)]
    pub request_timeout: Option<Duration>,

    /// Username to impersonate for the operation
    #[arg(long = "as", global = true, value_name = "USER")]
    pub as_user: Option<String>,

    /// Group to impersonate for the operation (repeatable)
    #[arg(long = "as-group", global = true, value_name = "GROUP")]
    pub as_group: Vec<String>,

    /// UID to impersonate for the operation
    #[arg(long = "as-uid", global = true, value_name = "UID")]
    pub as_uid: Option<String>,

    /// The address and port of the Kubernetes API server
    #[arg(short = 's', long, global = true, value_name = "URL", value_parser = parse_server)]
    pub server: Option<http::Uri>,

    /// Bearer token for authentication to the API server
    #[arg(long, global = true, value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Path to a certificate authority file
    #[arg(long, global = true, value_name = "PATH")]
    pub certificate_authority: Option<PathBuf>,

    /// Path to a client certificate file for TLS
    #[arg(long, global = true, value_name = "PATH", requires = "client_key")]
    pub client_certificate: Option<PathBuf>,

    /// Path to a client key file for TLS
    #[arg(long, global = true, value_name = "PATH", requires = "client_certificate")]
    pub client_key: Option<PathBuf>,

    /// Do not check the server's certificate (insecure)
    #[arg(long, global = true)]
    pub insecure_skip_tls_verify: bool,

    /// Server name to use for server certificate validation
    #[arg(long, global = true, value_name = "NAME")]
    pub tls_server_name: Option<String>,

    /// Accepted for kubectl compatibility; there is no discovery cache to place
    #[arg(long, global = true, value_name = "PATH", hide = true)]
    pub cache_dir: Option<PathBuf>,

    /// Log verbosity; 6 or more logs every API request and the total on stderr
    #[arg(short = 'v', long = "v", global = true, value_name = "LEVEL", default_value_t = 0)]
    pub verbosity: u8,
}

/// A connected client and the namespace commands default to.
#[derive(Clone)]
pub struct Kube {
    pub client: Client,
    /// The same connection settings without kube's retry of 429, 503 and 504 (up to 15 tries,
    /// honouring Retry-After, `kube_client::client::retry::RetryPolicy::server_retry`): for the
    /// Eviction API, whose 429 is an answer (a PodDisruptionBudget does not allow it now) that
    /// a rollout reports and retries on its own clock, not a transient failure to hide.
    pub no_retry: Client,
    pub namespace: String,
    /// The connection flags of this run (`--context`, `--kubeconfig`), for advice to repeat.
    pub flags: RunFlags,
    /// The API server's URL.
    pub server: String,
}

impl Kube {
    /// The API of a namespaced kind in the command's namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The API of a namespaced kind in `namespace`.
    pub fn api_in<K>(&self, namespace: &str) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// The API of a cluster-scoped kind.
    pub fn api_all<K>(&self) -> Api<K>
    where
        K: Resource<Scope = ClusterResourceScope>,
        K::DynamicType: Default,
    {
        Api::all(self.client.clone())
    }
}

/// The user agent of every request: `kubectl-stateful/<version>`, as kubectl sends
/// `kubectl/<version>`.
pub const USER_AGENT: &str = concat!("kubectl-stateful/", env!("CARGO_PKG_VERSION"));

/// Verbosity at which each API request is logged, as with kubectl's `-v=6`.
const LOG_REQUESTS: u8 = 6;

/// API requests this process made (counted only at `-v=6` or more), for `-v` and benchmarks.
static REQUESTS: AtomicUsize = AtomicUsize::new(0);

/// How a connection is made: for one command in one context, or for one context of a fleet run.
#[derive(Debug, Clone, Copy)]
enum Connect {
    /// The command's namespace must be one (checked like `-n`); an exec credential plugin runs
    /// inside kube, which refreshes its credential for long commands.
    One,
    /// One context of a `-A` fleet run: the namespace is not used, and an exec credential
    /// plugin runs as a child process of the runtime within `exec_deadline`
    /// ([`exec::resolve`]), so that one hanging plugin holds up only its own context.
    Fleet { exec_deadline: Duration },
}

impl KubeArgs {
    pub async fn connect(&self) -> Result<Kube> {
        self.connect_as(Connect::One).await
    }

    /// Connects to one context of a fleet run (`status -A` or `pvc prune -A --dry-run` across
    /// contexts): its exec credential plugin, if any, runs off kube's synchronous path, killed
    /// after `exec_deadline`, its failure an error of this context alone.
    pub async fn connect_fleet(&self, exec_deadline: Duration) -> Result<Kube> {
        self.connect_as(Connect::Fleet { exec_deadline }).await
    }

    async fn connect_as(&self, how: Connect) -> Result<Kube> {
        if self.context.len() > 1 {
            return Err(Stop::OneContextOnly.into());
        }
        let (mut config, context) = self.config().await?;
        if let Connect::Fleet { exec_deadline } = how {
            exec::resolve(&mut config, context.as_deref(), exec_deadline).await?;
        }
        // An empty namespace (`-n ''`, or a context whose namespace is "") is not given, as
        // kubectl reads it: never "every namespace", which is what `/namespaces//` would mean.
        let given = self.namespace.as_deref().filter(|ns| !ns.is_empty());
        let from_config = Some(config.default_namespace.as_str()).filter(|ns| !ns.is_empty());
        // The context's namespace is checked as `-n` is (`parse::namespace`), where it is used: a
        // request to `/namespaces/bad/name/…` would fail with the API server's 404 instead.
        if let (None, Some(namespace), Connect::One) = (given, from_config, how)
            && let Err(why) = parse::namespace(namespace)
        {
            return Err(
                Stop::ContextNamespace { context: context.map(|c| format!("context {c} of ")), why }.into()
            );
        }
        let namespace = given.or(from_config).unwrap_or("default").to_owned();
        let mut no_retry = config.clone();
        no_retry.default_retry = false;
        let build = |config: Config| -> Result<Client> {
            let builder =
                ClientBuilder::try_from(config).map_err(Error::kube("create a Kubernetes client"))?;
            Ok(if self.verbosity >= LOG_REQUESTS {
                builder.with_layer(&tower::layer::layer_fn(|inner| RequestLog { inner })).build()
            } else {
                builder.build()
            })
        };
        let flags = self.run_flags();
        let server = config.cluster_url.to_string();
        Ok(Kube { client: build(config)?, no_retry: build(no_retry)?, namespace, flags, server })
    }

    /// Whether every API request is logged on stderr (`-v` 6 or more): a full-screen view would
    /// have those lines written into it, so a watch keeps its plain stream instead.
    pub fn logs_requests(&self) -> bool {
        self.verbosity >= LOG_REQUESTS
    }

    /// The summary line `-v=6` ends with.
    pub fn report_requests(&self, io: &mut Streams) {
        if self.verbosity >= LOG_REQUESTS {
            io.say(format_args!("I {} API requests", REQUESTS.load(Ordering::Relaxed)));
        }
    }

    /// The flags of this run that printed advice repeats ([`RunFlags`]): every flag that picks
    /// the cluster or the identity, as given, but never `--token`.
    pub fn run_flags(&self) -> RunFlags {
        let path = |p: &PathBuf| p.to_string_lossy().into_owned();
        let mut others = Vec::new();
        let mut given = |flag: &str, value: Option<String>| {
            if let Some(value) = value {
                others.extend([flag.to_owned(), value]);
            }
        };
        given("--cluster", self.cluster.clone());
        given("--user", self.user.clone());
        given("--server", self.server.as_ref().map(ToString::to_string));
        given("--certificate-authority", self.certificate_authority.as_ref().map(path));
        given("--client-certificate", self.client_certificate.as_ref().map(path));
        given("--client-key", self.client_key.as_ref().map(path));
        given("--tls-server-name", self.tls_server_name.clone());
        given("--as", self.as_user.clone());
        for group in &self.as_group {
            given("--as-group", Some(group.clone()));
        }
        given("--as-uid", self.as_uid.clone());
        if self.insecure_skip_tls_verify {
            others.push("--insecure-skip-tls-verify".to_owned());
        }
        RunFlags {
            context: self.context.last().cloned(),
            kubeconfig: self.kubeconfig.as_ref().map(path),
            others,
        }
    }

    /// These flags with one context instead of the ones given: for a command that runs in each
    /// of several contexts.
    pub fn for_context(&self, context: &str) -> KubeArgs {
        KubeArgs { context: vec![context.to_owned()], ..self.clone() }
    }

    /// The kubeconfig as these flags find it (`--kubeconfig`, `$KUBECONFIG`, `~/.kube/config`).
    ///
    /// # Errors
    /// [`Error::Kubeconfig`] when there is none or it does not parse.
    pub fn kubeconfig(&self) -> Result<Kubeconfig> {
        match &self.kubeconfig {
            Some(path) => Kubeconfig::read_from(path),
            None => Kubeconfig::read(),
        }
        .map_err(Error::Kubeconfig)
    }

    /// The client configuration these flags make, and the kubeconfig context it comes from
    /// (`None` without a kubeconfig).
    async fn config(&self) -> Result<(Config, Option<String>)> {
        let options = KubeConfigOptions {
            context: self.context.last().cloned(),
            cluster: self.cluster.clone(),
            user: self.user.clone(),
        };
        let kubeconfig = match &self.kubeconfig {
            Some(path) => Kubeconfig::read_from(path),
            None => Kubeconfig::read(),
        };
        let mut context = None;
        let mut config = match kubeconfig {
            Ok(kubeconfig) => {
                self.check_names(&kubeconfig)?;
                context = options.context.clone().or_else(|| kubeconfig.current_context.clone());
                Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(Error::Kubeconfig)?
            }
            // No kubeconfig, but a server on the command line: connect with the flags alone,
            // as kubectl does (--token, --certificate-authority and the rest apply below).
            Err(_) if self.kubeconfig.is_none() && self.server.is_some() => {
                Config::new(self.server.clone().unwrap_or_default())
            }
            // No kubeconfig anywhere: inside a pod, use its service account as kubectl does.
            Err(err)
                if self.kubeconfig.is_none() && std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() =>
            {
                Config::incluster().map_err(|_| Error::Kubeconfig(err))?
            }
            Err(err) => return Err(Error::Kubeconfig(err)),
        };
        self.override_config(&mut config)?;
        // Who is asking, in the API server's audit log and its logs (kube-rs sends none).
        config.headers.push((http::header::USER_AGENT, http::HeaderValue::from_static(USER_AGENT)));
        Ok((config, context))
    }

    /// kubectl refuses a `--user` or `--cluster` the kubeconfig does not have; kube-rs would
    /// quietly go on without credentials (client-go's loader does, kubectl's flag check does not).
    fn check_names(&self, kubeconfig: &Kubeconfig) -> Result<()> {
        if let Some(user) = &self.user
            && !kubeconfig.auth_infos.iter().any(|a| &a.name == user)
        {
            let known: Vec<&str> = kubeconfig.auth_infos.iter().map(|a| a.name.as_str()).collect();
            let known = known.into_iter().map(str::to_owned).collect();
            return Err(Stop::UnknownUser { user: user.clone(), known }.into());
        }
        if let Some(cluster) = &self.cluster
            && !kubeconfig.clusters.iter().any(|c| &c.name == cluster)
        {
            let known: Vec<&str> = kubeconfig.clusters.iter().map(|c| c.name.as_str()).collect();
            let known = known.into_iter().map(str::to_owned).collect();
            return Err(Stop::UnknownCluster { cluster: cluster.clone(), known }.into());
        }
        Ok(())
    }

    /// The flags that override what the kubeconfig says.
    fn override_config(&self, config: &mut Config) -> Result<()> {
        if let Some(timeout) = self.request_timeout.filter(|t| !t.is_zero()) {
            config.connect_timeout = Some(timeout);
            config.read_timeout = Some(timeout);
            config.write_timeout = Some(timeout);
            // Count the timeout from each request, not from when a pooled connection went idle.
            config.reset_reader_on_write = true;
        }
        if let Some(server) = &self.server {
            config.cluster_url = server.clone();
        }
        if let Some(path) = &self.certificate_authority {
            config.root_cert_file = Some(path.clone());
        }
        if self.insecure_skip_tls_verify {
            config.accept_invalid_certs = true;
        }
        if let Some(name) = &self.tls_server_name {
            config.tls_server_name = Some(name.clone());
        }
        let auth = &mut config.auth_info;
        if let Some(token) = &self.token {
            auth.token = Some(token.clone().into());
            auth.token_file = None;
        }
        if let (Some(cert), Some(key)) = (&self.client_certificate, &self.client_key) {
            auth.client_certificate = Some(cert.display().to_string());
            auth.client_key = Some(key.display().to_string());
            auth.client_certificate_data = None;
            auth.client_key_data = None;
        }
        if let Some(user) = &self.as_user {
            auth.impersonate = Some(user.clone());
        }
        if let Some(uid) = &self.as_uid {
            auth.impersonate_uid = Some(uid.clone());
        }
        if !self.as_group.is_empty() {
            auth.impersonate_groups = Some(self.as_group.clone());
        }
        Ok(())
    }
}

/// Logs each request as kubectl does at `-v=6`: method, URL, status and duration.
#[derive(Clone)]
struct RequestLog<S> {
    inner: S,
}

impl<S, ResponseBody> tower::Service<http::Request<Body>> for RequestLog<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<ResponseBody>> + Send,
    S::Future: Send + 'static,
    S::Error: std::fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let line = format!("{} {}", request.method(), request.uri());
        let started = Instant::now();
        REQUESTS.fetch_add(1, Ordering::Relaxed);
        let response = self.inner.call(request);
        Box::pin(async move {
            let result = response.await;
            let outcome = match &result {
                Ok(response) => response.status().to_string(),
                Err(e) => format!("failed: {e}"),
            };
            log_line(format_args!("I {line} {outcome} in {} milliseconds", started.elapsed().as_millis()));
            result
        })
    }
}

/// `--server`: an absolute http(s) URL, checked at parse time.
fn parse_server(text: &str) -> Result<http::Uri, String> {
    let uri: http::Uri = text.parse().map_err(|e| format!("{text:?} is not a URL ({e})"))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("https" | "http"), Some(_)) => Ok(uri),
        _ => Err(format!("{text:?} is not a URL like https://host:6443")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_urls() {
        assert!(parse_server("https://10.0.0.1:6443").is_ok());
        for bad in ["::bad", "not a url", "10.0.0.1:6443", "/api"] {
            assert!(parse_server(bad).is_err(), "{bad:?}");
        }
    }

    /// Advice reaches the same API server as the same user: every flag that picks them is
    /// repeated, quoted; the token, a secret, never.
    #[test]
    fn advice_repeats_every_flag_that_picks_the_cluster_or_the_user_but_the_token() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            kube: KubeArgs,
        }
        use clap::Parser;
        let cli = Cli::try_parse_from([
            "kubectl-stateful",
            "--context",
            "prod",
            "--cluster",
            "c 1",
            "--user",
            "ops",
            "--server",
            "https://10.0.0.1:6443",
            "--token",
            "s3cret",
            "--as",
            "jane",
            "--as-group",
            "sre",
            "--as-group",
            "dba",
            "--insecure-skip-tls-verify",
        ])
        .unwrap();
        let flags = cli.kube.run_flags();
        assert_eq!(
            flags.plugin("db", "status web"),
            "kubectl stateful status web -n db --context prod --cluster 'c 1' --user ops --server \
             https://10.0.0.1:6443/ --as jane --as-group sre --as-group dba --insecure-skip-tls-verify"
        );
        assert!(!flags.plugin("db", "status web").contains("s3cret"));
    }

    #[test]
    fn flags_override_the_kubeconfig() {
        let args = KubeArgs {
            server: Some("https://10.0.0.1:6443".parse().unwrap()),
            token: Some("t0k3n".into()),
            insecure_skip_tls_verify: true,
            as_user: Some("alice".into()),
            as_uid: Some("42".into()),
            as_group: vec!["ops".into()],
            request_timeout: Some(Duration::from_secs(5)),
            ..Default::default()
        };
        let mut config = Config::new("https://127.0.0.1:1".parse().unwrap());
        args.override_config(&mut config).unwrap();
        assert_eq!(config.cluster_url.to_string(), "https://10.0.0.1:6443/");
        assert!(config.accept_invalid_certs);
        assert_eq!(config.read_timeout, Some(Duration::from_secs(5)));
        assert_eq!(config.auth_info.impersonate.as_deref(), Some("alice"));
        assert_eq!(config.auth_info.impersonate_uid.as_deref(), Some("42"));
        assert_eq!(config.auth_info.impersonate_groups, Some(vec!["ops".to_owned()]));
        assert!(config.auth_info.token.is_some());
    }
}
