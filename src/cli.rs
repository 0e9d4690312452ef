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
    #[command(long_about = cmd::status::LONG_ABOUT, after_help = cmd::status::EXAMPLES)]
    Status(cmd::status::Args),
    /// Roll out a new revision as a partitioned canary, step by step, with a safe abort
    #[command(long_about = cmd::rollout::LONG_ABOUT, after_help = cmd::rollout::EXAMPLES)]
    Rollout(cmd::rollout::Args),
    /// Force-delete a StatefulSet pod stuck on a failed node, only on evidence the node is gone
    #[command(long_about = cmd::recover::LONG_ABOUT, after_help = cmd::recover::EXAMPLES)]
    Recover(cmd::recover::Args),
    /// Work with the PVCs of StatefulSets
    Pvc {
        #[command(subcommand)]
        command: cmd::pvc::Command,
    },
    /// Print the plugin version and, when reachable, the server version
    Version(cmd::version::Args),
    /// Print a shell completion script for kubectl-stateful (kubectl stateful completes
    /// through the kubectl_complete-stateful script installed beside the binary)
    Completion(cmd::completion::Args),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// Every flag of every command parses into its type (clap checks these only at run time).
    #[test]
    fn every_flag_parses() {
        let lines: &[&[&str]] = &[
            &["status", "web", "-o", "wide", "--cluster-domain", "example.org", "-w"],
            &["status", "-A", "-o", "json"],
            &[
                "rollout",
                "web",
                "--image",
                "app=img:v2",
                "--image",
                "side=img:v3",
                "--steps",
                "1,50%",
                "--dry-run",
            ],
            &[
                "rollout",
                "web",
                "--patch",
                "p.yaml",
                "--yes",
                "--pause",
                "30s",
                "--timeout",
                "2m",
                "-o",
                "json",
            ],
            &["rollout", "web", "--partition", "2"],
            &["rollout", "web", "--abort", "--yes"],
            &["version", "--client", "-o", "yaml"],
            &["pvc", "prune", "web", "--yes", "--retain-volumes", "--include-scaled-to-zero", "-o", "json"],
            &["pvc", "prune", "-A", "--dry-run"],
            &["recover", "web-2", "--min-down", "10m", "--cordon", "--yes", "--timeout", "1m", "-o", "json"],
            &["recover", "web", "--ordinal", "2", "--dry-run"],
            &["completion", "zsh"],
            &[
                "--kubeconfig",
                "k",
                "--context",
                "c",
                "--cluster",
                "x",
                "--user",
                "u",
                "-n",
                "ns",
                "--request-timeout",
                "5s",
                "--as",
                "a",
                "--as-group",
                "g",
                "version",
            ],
        ];
        for line in lines {
            let argv = std::iter::once("kubectl-stateful").chain(line.iter().copied());
            if let Err(e) = Cli::try_parse_from(argv) {
                panic!("{line:?}: {e}");
            }
        }
    }
}
