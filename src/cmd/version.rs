//! `kubectl stateful version`: the plugin's version and, when reachable, the server's.

use std::io::{self, Write};

use serde::Serialize;

use crate::client::KubeArgs;
use crate::error::{Result, chain};
use crate::output::{OutputFormat, Streams, VERSION, rendered, write_document};

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
    pub client_version: String,
    /// The server's gitVersion; absent with --client or when the server cannot be reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
}

pub const CLIENT_VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

pub async fn run(args: Args, kube_args: &KubeArgs, io: &mut Streams) -> Result<()> {
    let server_version = if args.client { None } else { server_version(kube_args, io).await };
    let version = Version { client_version: CLIENT_VERSION.to_owned(), server_version };
    rendered(render(&mut io.out, &version, args.output))
}

/// The server's version, or `None` with a note on stderr: `version` must work offline.
async fn server_version(kube_args: &KubeArgs, io: &mut Streams) -> Option<String> {
    let result = async {
        let kube = kube_args.connect().await?;
        kube.client.apiserver_version().await.map_err(crate::error::Error::kube("read the server version"))
    };
    match result.await {
        Ok(info) => Some(info.git_version),
        Err(e) => {
            io.note(format_args!("server version unknown: {}", chain(&e)));
            None
        }
    }
}

pub fn render(w: &mut dyn Write, version: &Version, format: OutputFormat) -> io::Result<()> {
    if write_document(w, format, VERSION, version)? {
        return Ok(());
    }
    writeln!(w, "Plugin Version: {}", version.client_version)?;
    if let Some(server) = &version.server_version {
        writeln!(w, "Server Version: {server}")?;
    }
    Ok(())
}
