//! Exec credential plugins (client-go's `client.authentication.k8s.io` protocol), run off kube's
//! synchronous path.
//!
//! kube runs a user's exec plugin with `std::process::Command::output()` inside
//! `Auth::try_from` (kube-client `client/auth/mod.rs`, `auth_exec`), which `ClientBuilder`
//! calls while it builds a client (`ConfigExt::auth_layer`, and `exec_identity_pem` for the TLS
//! identity): synchronously, on the thread that builds it, with no deadline. On this tool's
//! single-threaded runtime a plugin that hangs there holds up everything else, and the
//! deadlines of the other contexts of a fleet run fire late and blame them. [`resolve`] runs
//! the plugin as a child process of the runtime instead, waits for it without blocking, kills it
//! when its deadline passes, and puts the credential it printed into the configuration in the
//! plugin's place, so kube never runs it.
//!
//! Only fleet runs use it: a credential resolved once is not refreshed, which a fleet run (one
//! deadline per context) does not need and a long single-context command (a rollout) does, so
//! those keep kube's refreshing plugin.

use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use kube::Config;
use kube::config::{ExecConfig, ExecInteractiveMode};
use serde::Deserialize;

use crate::error::{Error, Result};

/// What a plugin prints (`ExecCredential`), the part read here.
#[derive(Debug, Deserialize)]
struct ExecCredential {
    status: Option<CredentialStatus>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredentialStatus {
    token: Option<String>,
    client_certificate_data: Option<String>,
    client_key_data: Option<String>,
}

/// Runs `config`'s exec credential plugin, if kube would run one for it (no auth provider,
/// basic auth, token or token file comes first: kube's order), within `deadline`, and replaces
/// it with the token or client certificate it printed.
///
/// # Errors
/// [`Error::ExecPlugin`] when it cannot be started, fails, prints no credential, or gives none
/// within `deadline` (it is killed then).
pub async fn resolve(config: &mut Config, context: Option<&str>, deadline: Duration) -> Result<()> {
    let auth = &config.auth_info;
    let first = auth.auth_provider.is_some()
        || (auth.username.is_some() && auth.password.is_some())
        || auth.token.is_some()
        || auth.token_file.is_some();
    let Some(exec) = auth.exec.clone().filter(|_| !first) else { return Ok(()) };
    let fail = |why: String| Error::ExecPlugin {
        context: context.map(str::to_owned),
        command: exec.command.clone().unwrap_or_default(),
        why,
    };
    let status = run(&exec, deadline).await.map_err(fail)?;
    let auth = &mut config.auth_info;
    match status {
        CredentialStatus { token: Some(token), .. } => auth.token = Some(token.into()),
        CredentialStatus { client_certificate_data: Some(cert), client_key_data: Some(key), .. } => {
            let encode = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem);
            auth.client_certificate_data = Some(encode(&cert));
            auth.client_key_data = Some(encode(&key).into());
            auth.client_certificate = None;
            auth.client_key = None;
        }
        _ => return Err(fail("printed neither a token nor a client certificate and key".to_owned())),
    }
    auth.exec = None;
    Ok(())
}

/// Runs the plugin as kube would (its arguments, environment, `KUBERNETES_EXEC_INFO`, a
/// terminal's stdin and stderr when it may be interactive), killed after `deadline`; the
/// credential's status, or why there is none, in a few words.
async fn run(exec: &ExecConfig, deadline: Duration) -> std::result::Result<CredentialStatus, String> {
    let Some(program) = &exec.command else {
        return Err("names no command".to_owned());
    };
    let mut command = tokio::process::Command::new(program);
    command.args(exec.args.iter().flatten());
    for pair in exec.env.iter().flatten() {
        if let (Some(name), Some(value)) = (pair.get("name"), pair.get("value")) {
            command.env(name, value);
        }
    }
    for name in exec.drop_env.iter().flatten() {
        command.env_remove(name);
    }
    let interactive = exec.interactive_mode != Some(ExecInteractiveMode::Never);
    let mut info = serde_json::json!({
        "apiVersion": exec.api_version,
        "kind": "ExecCredential",
        "spec": {"interactive": interactive},
    });
    if exec.provide_cluster_info
        && let Some(cluster) = &exec.cluster
    {
        info["spec"]["cluster"] = serde_json::to_value(cluster).map_err(|e| e.to_string())?;
    }
    command.env("KUBERNETES_EXEC_INFO", info.to_string());
    let (stdin, stderr) =
        if interactive { (Stdio::inherit(), Stdio::inherit()) } else { (Stdio::null(), Stdio::piped()) };
    command.stdin(stdin).stderr(stderr).stdout(Stdio::piped()).kill_on_drop(true);
    let child = command.spawn().map_err(|e| {
        let hint = exec.install_hint.as_deref().map(|h| format!(" ({})", h.trim())).unwrap_or_default();
        format!("cannot be started: {e}{hint}")
    })?;
    // Dropping the wait at the deadline drops the child, which kills it (kill_on_drop).
    let output = match tokio::time::timeout(deadline, child.wait_with_output()).await {
        Ok(output) => output.map_err(|e| format!("failed: {e}"))?,
        Err(_) => {
            return Err(format!(
                "gave no credential within {} and was stopped",
                humantime::format_duration(deadline)
            ));
        }
    };
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let first = said.lines().map(str::trim).find(|l| !l.is_empty()).map(|l| format!(": {l}"));
        return Err(format!("failed ({}){}", output.status, first.unwrap_or_default()));
    }
    let credential: ExecCredential = serde_json::from_slice(&output.stdout)
        .or_else(|_| serde_saphyr::from_slice(&output.stdout))
        .map_err(|e| format!("printed no ExecCredential: {e}"))?;
    credential.status.ok_or_else(|| "printed an ExecCredential without a status".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(exec: serde_json::Value) -> Config {
        let mut config = Config::new("https://127.0.0.1:6443".parse().unwrap());
        config.auth_info.exec = Some(serde_json::from_value(exec).unwrap());
        config
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    fn script(body: &str) -> serde_json::Value {
        serde_json::json!({"apiVersion": "client.authentication.k8s.io/v1", "command": "sh", "args": ["-c", body], "interactiveMode": "Never"})
    }

    #[test]
    fn a_token_replaces_the_plugin() {
        // The plugin is told it may not prompt, as kube tells it (KUBERNETES_EXEC_INFO).
        let mut config = config_with(script(
            r#"case "$KUBERNETES_EXEC_INFO" in *'"interactive":false'*) echo '{"kind":"ExecCredential","status":{"token":"t0k3n"}}';; *) exit 9;; esac"#,
        ));
        runtime().block_on(resolve(&mut config, Some("prod"), Duration::from_secs(10))).unwrap();
        assert!(config.auth_info.exec.is_none() && config.auth_info.token.is_some());
    }

    #[test]
    fn a_client_certificate_replaces_the_plugin_as_kubeconfig_data() {
        let mut config = config_with(script(
            r#"echo '{"status":{"clientCertificateData":"-----BEGIN CERTIFICATE-----","clientKeyData":"-----BEGIN KEY-----"}}'"#,
        ));
        config.auth_info.client_certificate = Some("/stale/cert".into());
        runtime().block_on(resolve(&mut config, None, Duration::from_secs(10))).unwrap();
        assert_eq!(
            config.auth_info.client_certificate_data.as_deref(),
            Some("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t")
        );
        assert!(config.auth_info.client_key_data.is_some() && config.auth_info.client_certificate.is_none());
    }

    #[test]
    fn a_plugin_that_hangs_is_stopped_at_its_deadline_and_named() {
        let mut config = config_with(script("exec sleep 60"));
        let started = std::time::Instant::now();
        let error =
            runtime().block_on(resolve(&mut config, Some("stuck"), Duration::from_millis(300))).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(30), "not waited out");
        let text = error.to_string();
        assert!(
            text.contains("exec credential plugin sh of context stuck gave no credential within 300ms"),
            "{text}"
        );
    }

    #[test]
    fn failures_say_what_the_plugin_said() {
        let mut config = config_with(script("echo 'token expired, run login' >&2; exit 3"));
        let text = runtime()
            .block_on(resolve(&mut config, Some("c"), Duration::from_secs(10)))
            .unwrap_err()
            .to_string();
        assert!(text.contains("failed (exit status: 3): token expired, run login"), "{text}");
        let mut config = config_with(script("echo nonsense"));
        let text = runtime()
            .block_on(resolve(&mut config, Some("c"), Duration::from_secs(10)))
            .unwrap_err()
            .to_string();
        assert!(text.contains("printed no ExecCredential"), "{text}");
    }

    #[test]
    fn a_token_in_the_kubeconfig_comes_first_as_kube_has_it() {
        let mut config = config_with(script("exit 1"));
        config.auth_info.token = Some("static".to_owned().into());
        runtime().block_on(resolve(&mut config, None, Duration::from_secs(1))).unwrap();
        assert!(config.auth_info.exec.is_some(), "untouched: kube would not run it");
    }
}
