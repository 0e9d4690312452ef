//! The command line, as kubectl users type it: `kubectl stateful <command> …`.

use clap::{Parser, Subcommand};

use crate::client::KubeArgs;
use crate::cmd;

const ABOUT: &str = "StatefulSets, ordinal by ordinal: status, guided canary rollouts, safe PVC cleanup";

const AFTER_HELP: &str = "\
Exit codes:
  0    success, or stopped by your choice
  1    error (nothing changed unless the message says otherwise)
  2    usage error (nothing changed)
  3    a rollout step failed or timed out; the StatefulSet was left in a safe state
  130  interrupted (Ctrl-C); the message says how to resume

Docs: https://github.com/kubectl-stateful/kubectl-stateful/tree/main/docs";

#[derive(Debug, Parser)]
#[command(name = "kubectl-stateful", bin_name = "kubectl stateful", version, about = ABOUT, after_help = AFTER_HELP)]
#[command(propagate_version = true, disable_help_subcommand = true, args_override_self = true)]
pub struct Cli {
    #[command(flatten)]
    pub kube: KubeArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show a StatefulSet ordinal by ordinal: pods, revisions, nodes, DNS names, PVCs and PVs
    Status(cmd::status::Args),
    /// Print the plugin version and, when reachable, the server version
    Version(cmd::version::Args),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
