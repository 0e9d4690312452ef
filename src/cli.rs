//! The command line, as kubectl users type it: `kubectl stateful <command> …`.

use clap::{Parser, Subcommand};

use crate::client::KubeArgs;
use crate::cmd;
#[cfg(test)]
use crate::parse;

const ABOUT: &str = "StatefulSets, ordinal by ordinal: status, guided canary rollouts, safe PVC cleanup";

const AFTER_HELP: &str = "\
Exit codes:
  0    success, or stopped by your choice
  1    error (nothing changed unless the message says otherwise)
  2    usage error (nothing changed)
  3    a step of rollout, drain, restart or scale failed or timed out; the state was left safe
  130  interrupted (Ctrl-C); the message says how to resume

Docs: https://github.com/kubectl-stateful/kubectl-stateful/tree/main/docs";

#[derive(Debug, Parser)]
#[command(name = "kubectl-stateful", bin_name = "kubectl stateful", version, about = ABOUT, after_help = AFTER_HELP)]
#[command(disable_help_subcommand = true, args_override_self = true)]
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
    /// Drain nodes of StatefulSet members one at a time, keeping every set's quorum
    #[command(long_about = cmd::drain::LONG_ABOUT, after_help = cmd::drain::EXAMPLES)]
    Drain(cmd::drain::Args),
    /// Restart chosen members one at a time, keeping the set's quorum (works under OnDelete and below a partition)
    #[command(long_about = cmd::restart::LONG_ABOUT, after_help = cmd::restart::EXAMPLES)]
    Restart(cmd::restart::Args),
    /// Scale a StatefulSet; a scale-down removes one member at a time, each leaving its cluster first
    #[command(long_about = cmd::scale::LONG_ABOUT, after_help = cmd::scale::EXAMPLES)]
    Scale(cmd::scale::Args),
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
    use proptest::prelude::*;
    use std::time::Duration;

    #[test]
    fn durations_are_bounded_at_parse_time() {
        assert_eq!(parse::duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse::request_timeout("0"), Ok(Duration::ZERO));
        assert_eq!(parse::request_timeout("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse::request_timeout("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse::duration("30days"), Ok(parse::MAX_DURATION));
        for bad in ["soon", "-1", "300000000000y", "31days", "18446744073709551615", ""] {
            assert!(parse::request_timeout(bad).is_err() || bad == "18446744073709551615", "{bad:?}");
            assert!(parse::duration(bad).is_err(), "{bad:?}");
        }
        assert!(parse::request_timeout("18446744073709551615").is_err(), "bare seconds are bounded too");
    }

    #[test]
    fn names_are_kubernetes_names() {
        for good in ["web", "web-0", "a", "db.prod", "x1"] {
            assert_eq!(parse::object_name(good), Ok(good.to_owned()));
        }
        for bad in ["", "web?a=", "Web", "-web", "web-", "web/x", "we b", "web..x", &"a".repeat(254)] {
            assert!(parse::object_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse::namespace(""), Ok(String::new()), "empty means not given");
        assert!(parse::namespace("db.prod").is_err(), "a namespace is a label");
        assert!(parse::namespace(&"a".repeat(64)).is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(text in "\\PC*") {
            let _ = parse::duration(&text);
            let _ = parse::request_timeout(&text);
            let _ = parse::object_name(&text);
            let _ = parse::namespace(&text);
        }
    }

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
            &[
                "pvc",
                "resize",
                "web",
                "--size",
                "data=20Gi",
                "--size",
                "wal=4Gi",
                "--yes",
                "--dry-run",
                "--override-owner",
                "--parallel",
                "2",
                "--timeout",
                "10m",
                "-o",
                "yaml",
            ],
            &["recover", "web-2", "--min-down", "10m", "--cordon", "--yes", "--timeout", "1m", "-o", "json"],
            &["recover", "web", "--ordinal", "2", "--dry-run"],
            &[
                "restart",
                "web",
                "2",
                "0",
                "--order",
                "as-given",
                "--delete",
                "--min-available",
                "1",
                "--soak",
                "10s",
                "--gate-exec",
                "true",
                "--gate-http",
                "http://{pod}:8080/",
                "--timeout",
                "1m",
                "--yes",
                "-o",
                "json",
            ],
            &["restart", "web", "--discard-journal", "--dry-run"],
            &[
                "scale",
                "web",
                "--replicas",
                "3",
                "--decommission-exec",
                "true",
                "--decommission-container",
                "app",
                "--decommission-http",
                "http://{pod}:8080/leave",
                "--min-available",
                "2",
                "--claims",
                "prune",
                "--snapshot",
                "--snapshot-class",
                "fast",
                "--snapshot-timeout",
                "1m",
                "--timeout",
                "2m",
                "--yes",
                "-o",
                "json",
            ],
            &["scale", "web", "--discard-journal", "--dry-run"],
            &[
                "drain",
                "node-1",
                "node-2",
                "--min-available",
                "2",
                "--min-available",
                "db/web=3",
                "--soak",
                "5s",
                "--gate-exec",
                "true",
                "--timeout",
                "2m",
                "--dry-run",
                "-o",
                "json",
            ],
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

    /// kubectl's habits (issue #31): `--dry-run[=client|server|none]` (a bare one is client, and
    /// takes no value after a space, so NAME may follow it), `-l`, `-o name`, `-o jsonpath=…`.
    #[test]
    fn kubectl_habits_parse_as_kubectl_takes_them() {
        use crate::output::OutputFormat;
        use crate::write::DryRun;
        let parse = |line: &[&str]| {
            let argv = std::iter::once("kubectl-stateful").chain(line.iter().copied());
            Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{line:?}: {e}")).command
        };
        let dry_run = |line: &[&str]| match parse(line) {
            Command::Recover(args) => args.dry_run,
            Command::Pvc { command: cmd::pvc::Command::Prune(args) } => args.dry_run,
            other => panic!("{other:?}"),
        };
        assert_eq!(dry_run(&["recover", "pg-1"]), DryRun::None);
        assert_eq!(dry_run(&["recover", "--dry-run", "pg-1"]), DryRun::Client);
        assert_eq!(dry_run(&["recover", "pg-1", "--dry-run=client"]), DryRun::Client);
        assert_eq!(dry_run(&["recover", "pg-1", "--dry-run=none"]), DryRun::None);
        assert_eq!(dry_run(&["pvc", "prune", "--dry-run=server", "web"]), DryRun::Server);
        for command in [
            &["rollout", "web", "--image", "app=x", "--dry-run=server"][..],
            &["drain", "node-1", "--dry-run=client"],
            &["restart", "web", "--dry-run=none"],
            &["scale", "web", "--replicas", "1", "--dry-run=server"],
            &["pvc", "resize", "web", "--size", "data=2Gi", "--dry-run=client"],
            &["pvc", "restore", "web", "--ordinal", "1", "--from", "s", "--dry-run=server"],
        ] {
            parse(command);
        }
        let status = |line: &[&str]| match parse(line) {
            Command::Status(args) => (args.output, args.selector),
            other => panic!("{other:?}"),
        };
        assert_eq!(status(&["status", "web", "-o", "name"]), (OutputFormat::Name, None));
        assert_eq!(
            status(&["status", "-A", "-l", "app in (web,db)", "-o", "jsonpath={.items[*].name}"]),
            (OutputFormat::Jsonpath("{.items[*].name}"), Some("app in (web,db)".to_owned()))
        );
        assert_eq!(status(&["status", "--selector=tier=db"]).1.as_deref(), Some("tier=db"));
        let refused = |line: &[&str]| {
            let argv = std::iter::once("kubectl-stateful").chain(line.iter().copied());
            Cli::try_parse_from(argv).map(|_| ()).unwrap_err().kind()
        };
        use clap::error::ErrorKind;
        assert_eq!(refused(&["recover", "pg-1", "--dry-run=maybe"]), ErrorKind::InvalidValue);
        assert_eq!(
            refused(&["status", "-o", "jsonpath={range .items[*]}{.name}{end}"]),
            ErrorKind::InvalidValue
        );
        assert_eq!(refused(&["status", "web", "-l", "app=web"]), ErrorKind::ArgumentConflict);
        assert_eq!(refused(&["pvc", "prune", "web", "-l", "app=web"]), ErrorKind::ArgumentConflict);
    }
}
