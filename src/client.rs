//! The one place that turns kubectl's connection flags into a client, as kubectl would:
//! `--kubeconfig` (else `$KUBECONFIG`, else `~/.kube/config`), `--context`, `--cluster`,
//! `--user`, `-n/--namespace` (else the context's namespace, else `default`),
//! `--request-timeout`, `--as` and `--as-group`.

use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Connection (as kubectl)")]
pub struct KubeArgs {
    /// Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    /// The kubeconfig cluster to use
    #[arg(long, global = true, value_name = "NAME")]
    pub cluster: Option<String>,

    /// The kubeconfig user to use
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,

    /// The namespace [default: the context's namespace, then "default"]
    #[arg(short = 'n', long, global = true, value_name = "NAME")]
    pub namespace: Option<String>,

    /// How long to wait for one API request (5s, 1m; 0 waits forever)
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_request_timeout)]
    pub request_timeout: Option<Duration>,

    /// Username to impersonate for the operation
    #[arg(long = "as", global = true, value_name = "USER")]
    pub as_user: Option<String>,

    /// Group to impersonate for the operation (repeatable)
    #[arg(long = "as-group", global = true, value_name = "GROUP")]
    pub as_group: Vec<String>,
}

/// A connected client and the namespace commands default to.
#[derive(Clone)]
pub struct Kube {
    pub client: Client,
    pub namespace: String,
}

impl KubeArgs {
    pub async fn connect(&self) -> Result<Kube> {
        let config = self.config().await?;
        let namespace = self.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config).map_err(Error::kube("create a Kubernetes client"))?;
        Ok(Kube { client, namespace })
    }

    async fn config(&self) -> Result<Config> {
        let options = KubeConfigOptions {
            context: self.context.clone(),
            cluster: self.cluster.clone(),
            user: self.user.clone(),
        };
        let kubeconfig = match &self.kubeconfig {
            Some(path) => Kubeconfig::read_from(path),
            None => Kubeconfig::read(),
        };
        let mut config = match kubeconfig {
            Ok(kubeconfig) => {
                Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(Error::Kubeconfig)?
            }
            // No kubeconfig anywhere: inside a pod, use its service account as kubectl does.
            Err(err) if self.kubeconfig.is_none() && in_cluster() => {
                Config::incluster().map_err(|_| Error::Kubeconfig(err))?
            }
            Err(err) => return Err(Error::Kubeconfig(err)),
        };
        if let Some(timeout) = self.request_timeout.filter(|t| !t.is_zero()) {
            config.connect_timeout = Some(timeout);
            config.read_timeout = Some(timeout);
            config.write_timeout = Some(timeout);
            // Count the timeout from each request, not from when a pooled connection went idle.
            config.reset_reader_on_write = true;
        }
        if let Some(user) = &self.as_user {
            config.auth_info.impersonate = Some(user.clone());
        }
        if !self.as_group.is_empty() {
            config.auth_info.impersonate_groups = Some(self.as_group.clone());
        }
        Ok(config)
    }
}

fn in_cluster() -> bool {
    std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
}

/// kubectl's `--request-timeout`: a Go-style duration ("5s", "1m30s") or bare seconds ("30").
pub fn parse_request_timeout(text: &str) -> Result<Duration, String> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(text).map_err(|e| format!("{text:?} is not a duration like 5s or 1m ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_timeouts_read_like_kubectl() {
        assert_eq!(parse_request_timeout("0"), Ok(Duration::ZERO));
        assert_eq!(parse_request_timeout("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_request_timeout("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_request_timeout("soon").is_err());
        assert!(parse_request_timeout("-1").is_err());
    }
}
