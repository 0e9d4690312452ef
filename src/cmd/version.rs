//! `kubectl stateful version`: the plugin's version and, when reachable, the server's.

use std::io::Write;

use serde::Serialize;

use crate::client::KubeArgs;
use crate::core::status::SCHEMA_VERSION;
use crate::error::{Result, chain};
use crate::output::{OutputFormat, write_machine};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Print only the plugin's version; do not contact the server
    #[arg(long)]
    pub client: bool,

    /// Output format (table and wide print the same lines)
    #[arg(short, long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub kind: &'static str,
    pub schema_version: &'static str,
    pub client_version: String,
    /// The server's gitVersion; absent with --client or when the server cannot be reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
}

pub const CLIENT_VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

pub async fn run(args: Args, kube_args: &KubeArgs) -> Result<()> {
    let server_version = if args.client { None } else { server_version(kube_args).await };
    let version = Version {
        kind: "Version",
        schema_version: SCHEMA_VERSION,
        client_version: CLIENT_VERSION.to_owned(),
        server_version,
    };
    render(&mut std::io::stdout().lock(), &version, args.output)
}

/// The server's version, or `None` with a note on stderr: `version` must work offline.
async fn server_version(kube_args: &KubeArgs) -> Option<String> {
    let result = async {
        let kube = kube_args.connect().await?;
        kube.client.apiserver_version().await.map_err(crate::error::Error::kube("read the server version"))
    };
    match result.await {
        Ok(info) => Some(info.git_version),
        Err(e) => {
            eprintln!("note: server version unknown: {}", chain(&e));
            None
        }
    }
}

pub fn render(w: &mut impl Write, version: &Version, format: OutputFormat) -> Result<()> {
    if write_machine(w, format, version)? {
        return Ok(());
    }
    writeln!(w, "Plugin Version: {}", version.client_version)?;
    if let Some(server) = &version.server_version {
        writeln!(w, "Server Version: {server}")?;
    }
    Ok(())
}
