//! `kubectl stateful`: a kubectl plugin for StatefulSets.
//!
//! [`core`] is pure: it turns API objects into the models every command renders (ordinal maps,
//! rollout plans, prune plans). The rest is a thin shell: [`client`] connects as kubectl would,
//! [`fetch`] and [`live`] read the cluster, [`cmd`] holds one module per command, [`output`]
//! renders and [`ui`] talks to the person at the terminal.

pub mod access;
pub mod cli;
pub mod client;
pub mod cmd;
pub mod core;
pub mod error;
pub mod fetch;
pub mod live;
pub mod output;
pub mod signal;
pub mod ui;

use cli::{Cli, Command};
use error::Result;
use ui::Terminal;

/// The hidden command kubectl's plugin completion calls (see [`cmd::completion`]); handled
/// before argument parsing because its arguments are someone else's partial command line.
pub const COMPLETE_COMMAND: &str = "__complete";

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    let term = Terminal::detect();
    signal::listen();
    let command = async {
        match cli.command {
            Command::Status(args) => cmd::status::run(args, &cli.kube, &term).await,
            Command::Rollout(args) => cmd::rollout::run(args, &cli.kube, &term).await,
            Command::Pvc { command } => cmd::pvc::run(command, &cli.kube, &term).await,
            Command::Recover(args) => cmd::recover::run(args, &cli.kube, &term).await,
            Command::Version(args) => cmd::version::run(args, &cli.kube).await,
            Command::Completion(args) => cmd::completion::run(args),
        }
    };
    tokio::pin!(command);
    let result = tokio::select! {
        result = &mut command => result,
        () = signal::interrupted() => {
            // Commands that wait say where they left things; give them a moment to.
            match tokio::time::timeout(INTERRUPT_GRACE, &mut command).await {
                Ok(result) => result,
                Err(_) => Err(error::Error::Interrupted("interrupted".to_owned())),
            }
        }
    };
    cli.kube.report_requests();
    result
}

/// How long a command may take to stop cleanly after Ctrl-C.
const INTERRUPT_GRACE: std::time::Duration = std::time::Duration::from_secs(3);
