//! The gates' I/O, shared by rollout, restart, drain and scale's decommission hooks: one try of a
//! `--gate-exec` command in a pod (pods/exec) or of a `--gate-http` GET (a POST for
//! `--decommission-http`). What runs where is decided in
//! [`crate::core::rollout::gates`]; when to try again, by each command.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};
use tokio::io::AsyncReadExt;

use crate::client::Kube;
use crate::core::gate_url;
use crate::core::rollout::gates::{GateKind, GateRun, Gates, http_verdict, tail};
use crate::error::{Result, Stop, describe_kube_error};

/// What one try of a gate found.
pub struct Outcome {
    pub passed: bool,
    /// The command's output, or the HTTP status and body, trimmed to its last lines.
    pub output: String,
}

pub async fn try_gate(
    kube: &Kube,
    run: &GateRun,
    gates: &Gates,
    http: Option<&reqwest::Client>,
) -> Result<Outcome> {
    let limit = Duration::from_secs(gates.try_seconds);
    let attempt = async {
        match (run.kind, http) {
            (GateKind::Exec, _) => exec(kube, run, gates).await,
            (GateKind::Http, Some(client)) => {
                Ok(request(client, &run.expanded, gates.http_post, gates.http_expect.as_deref()).await)
            }
            (GateKind::Http, None) => Ok(Outcome { passed: false, output: "no HTTP client".into() }),
        }
    };
    match tokio::time::timeout(limit, attempt).await {
        Ok(outcome) => outcome,
        Err(_) => Ok(Outcome {
            passed: false,
            output: format!("no answer within {}", humantime::format_duration(limit)),
        }),
    }
}

/// Runs the gate's command with `sh -c` in its pod (pods/exec): passes on exit 0.
async fn exec(kube: &Kube, run: &GateRun, gates: &Gates) -> Result<Outcome> {
    let Some(pod) = &run.pod else {
        return Ok(Outcome { passed: false, output: "no pod to run in".into() });
    };
    let api: Api<Pod> = kube.api();
    let mut params = AttachParams::default().stdin(false).stdout(true).stderr(true);
    if let Some(container) = &gates.container {
        params = params.container(container);
    }
    let mut process = match api.exec(pod, ["sh", "-c", run.expanded.as_str()], &params).await {
        Ok(process) => process,
        // The pod may be restarting, or exec refused: a try that did not pass, with why.
        Err(e) => return Ok(Outcome { passed: false, output: describe_kube_error(&e) }),
    };
    // Both streams at once: a full buffer on one would stall the command, and us with it.
    let drain = |stream: Option<tokio::io::ReadHalf<tokio::io::SimplexStream>>| async move {
        let mut bytes = Vec::new();
        if let Some(mut stream) = stream {
            let _ = stream.read_to_end(&mut bytes).await;
        }
        bytes
    };
    let status = process.take_status();
    let (mut output, errors) = tokio::join!(drain(process.stdout()), drain(process.stderr()));
    output.extend(errors);
    let status = match status {
        Some(status) => status.await,
        None => None,
    };
    let _ = process.join().await;
    let text = tail(&String::from_utf8_lossy(&output));
    let passed = status.as_ref().is_some_and(|s| s.status.as_deref() == Some("Success"));
    let exit = status
        .as_ref()
        .and_then(|s| s.details.as_ref())
        .and_then(|d| d.causes.as_ref()?.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
        .and_then(|c| c.message.clone());
    let output = match (passed, exit) {
        (false, Some(code)) if text.is_empty() => format!("exit {code}"),
        (false, Some(code)) => format!("exit {code}: {text}"),
        _ => text,
    };
    Ok(Outcome { passed, output })
}

/// The pods named `names` in `namespace`, read now (a GET each, not the watch's view, which
/// may lag): after gates passed, whether they passed about the pods that soaked.
///
/// # Errors
/// A read that failed.
pub async fn pods_now(kube: &Kube, namespace: &str, names: &[String]) -> Result<Vec<Pod>> {
    let api: Api<Pod> = kube.api_in(namespace);
    let mut pods = Vec::new();
    for name in names {
        let read = api.get_opt(name).await.map_err(crate::error::Error::kube(format!("read pod {name}")))?;
        pods.extend(read);
    }
    Ok(pods)
}

/// The HTTP client of the gates: rustls with the ring provider kube uses too, the system's
/// roots and proxy settings. It follows no redirect: a gate passes on a 2xx answer of the URL
/// given, not of a page it is sent on to (a login page answers 200).
pub fn http_client() -> Result<reqwest::Client> {
    // reqwest is built without a crypto provider of its own; install ring once for the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("kubectl-stateful/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Stop::GateHttpClient { error: e.to_string() }.into())
}

/// Checks the URLs given to `--gate-http` before anything is read: usage errors, shown masked
/// (clap would echo a value it refused, credentials and all, so it takes them as text).
///
/// # Errors
/// [`crate::core::gate_url::GateRefusal`] of the first that cannot be used.
pub fn check_gate_urls(urls: &[String]) -> Result<()> {
    Gates { http: urls.to_vec(), ..Gates::default() }.check()?;
    Ok(())
}

/// The variables a gate names, from the process's environment.
pub fn environment(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// One GET of `url` (or with `post` an empty POST: a decommission is an action), its `${NAME}`
/// references read from the environment for this request only: judged by [`http_verdict`].
/// What it says never holds the URL as sent (an error of the client's is told without its URL).
async fn request(client: &reqwest::Client, url: &str, post: bool, expect: Option<&str>) -> Outcome {
    let sent = match gate_url::resolve(url, environment) {
        Ok(sent) => sent,
        Err(variable) => {
            return Outcome { passed: false, output: format!("the environment does not set {variable}") };
        }
    };
    let request = if post { client.post(&sent) } else { client.get(&sent) };
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => return Outcome { passed: false, output: crate::error::chain(&e.without_url()) },
    };
    let status = response.status().as_u16();
    let location =
        response.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok()).map(str::to_owned);
    let body = response.text().await.unwrap_or_default();
    let (passed, output) = http_verdict(status, location.as_deref(), &body, expect);
    Outcome { passed, output }
}
