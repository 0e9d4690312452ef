//! `kubectl stateful`: a kubectl plugin for StatefulSets.
//!
//! `core` is pure: it turns API objects into the models every command renders (ordinal maps,
//! rollout decisions, prune plans). The rest is a thin shell: `client` connects as kubectl
//! would, `fetch` and `live` read the cluster, `write` is the one way anything is written, `cmd`
//! holds one module per command, `output` renders into the streams a command is given and
//! `ui` talks to the person at the terminal. `docs/design.md` has the map.

mod access;

pub mod cli;
mod client;
mod cmd;
mod core;
pub mod error;
mod fetch;
mod fleet;
mod live;
pub mod output;
mod parse;
mod progress;
mod screen;
mod seam;
mod signal;
mod ui;
mod volume_snapshots;
mod wait;
mod write;

use std::ffi::OsString;

use cli::{Cli, Command};
use error::Result;
use output::Streams;
use ui::Terminal;

/// The hidden command kubectl's plugin completion calls (see `cmd::completion`); handled
/// before argument parsing because its arguments are someone else's partial command line.
pub const COMPLETE_COMMAND: &str = "__complete";

/// Runs one parsed command line, writing to `io`.
pub async fn run(cli: Cli, io: &mut Streams) -> Result<()> {
    let term = Terminal::detect();
    signal::listen();
    let result = {
        let command = async {
            match cli.command {
                Command::Status(args) => cmd::status::run(args, &cli.kube, &term, io).await,
                Command::Rollout(args) => cmd::rollout::run(args, &cli.kube, &term, io).await,
                Command::Pvc { command } => cmd::pvc::run(command, &cli.kube, &term, io).await,
                Command::Recover(args) => cmd::recover::run(args, &cli.kube, &term, io).await,
                Command::Drain(args) => cmd::drain::run(args, &cli.kube, &term, io).await,
                Command::Restart(args) => cmd::restart::run(args, &cli.kube, &term, io).await,
                Command::Scale(args) => cmd::scale::run(args, &cli.kube, &term, io).await,
                Command::Version(args) => cmd::version::run(args, &cli.kube, io).await,
                Command::Completion(args) => cmd::completion::run(args, io),
            }
        };
        tokio::pin!(command);
        tokio::select! {
            result = &mut command => result,
            () = signal::interrupted() => {
                // Commands that wait say where they left things; give them a moment to.
                match tokio::time::timeout(INTERRUPT_GRACE, &mut command).await {
                    Ok(result) => result,
                    Err(_) => Err(error::Error::interrupted("the command stopped where it was", None)),
                }
            }
        }
    };
    fetch::report_restarted_lists(io);
    cli.kube.report_requests(io);
    result
}

/// Answers kubectl's completion request (`__complete WORDS…`), writing to `io`.
pub async fn complete(args: &[OsString], io: &mut Streams) -> Result<()> {
    let words = args.iter().map(|w| w.to_string_lossy().into_owned()).collect();
    cmd::completion::complete(words, io).await
}

/// How long a command may take to stop cleanly after Ctrl-C.
const INTERRUPT_GRACE: std::time::Duration = std::time::Duration::from_secs(3);
