//! `kubectl stateful`: a kubectl plugin for StatefulSets.
//!
//! [`core`] is pure: it turns API objects into the models every command renders (ordinal maps,
//! rollout plans, prune plans). The rest is a thin shell: [`client`] connects as kubectl would,
//! [`fetch`] and [`live`] read the cluster, [`cmd`] holds one module per command, [`output`]
//! renders and [`ui`] talks to the person at the terminal.

pub mod cli;
pub mod client;
pub mod cmd;
pub mod core;
pub mod error;
pub mod fetch;
pub mod live;
pub mod output;
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
    let result = match cli.command {
        Command::Status(args) => cmd::status::run(args, &cli.kube, &term).await,
        Command::Rollout(args) => cmd::rollout::run(args, &cli.kube, &term).await,
        Command::Pvc { command } => cmd::pvc::run(command, &cli.kube, &term).await,
        Command::Recover(args) => cmd::recover::run(args, &cli.kube, &term).await,
        Command::Version(args) => cmd::version::run(args, &cli.kube).await,
        Command::Completion(args) => cmd::completion::run(args),
    };
    cli.kube.report_requests();
    result
}
