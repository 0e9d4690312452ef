//! The built binary, without a cluster: help, usage errors, `version --client`, completion
//! scripts and kubectl's `__complete` protocol. `KUBECONFIG` points at a path that does not
//! exist, so nothing here can reach a cluster. The end-to-end tests are not run by plain
//! `cargo test`: see `e2e_tests_run_from_tests_run`.

use std::ffi::OsString;
use std::time::Duration;

use assert_cmd::Command;

/// The crate's version, kept out of snapshots so that a release does not break them.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The binary with an environment that cannot reach a cluster and prints no colour.
fn kubectl_stateful() -> Command {
    let mut command =
        Command::cargo_bin("kubectl-stateful").expect("the binary is built for integration tests");
    command
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env("KUBECONFIG", concat!(env!("CARGO_TARGET_TMPDIR"), "/no-such-dir/kubeconfig"))
        // Without a kubeconfig the client would fall back to a pod's service account.
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .timeout(Duration::from_secs(60));
    command
}

/// What one run printed, and how it exited.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run<S: Into<OsString>>(args: impl IntoIterator<Item = S>) -> Run {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let output = kubectl_stateful().args(&args).output().expect("the binary runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// The command line as a person would type it, for messages and snapshot descriptions.
fn command_line(args: &[&str]) -> String {
    let quoted =
        args.iter().map(|a| if a.is_empty() || a.contains(' ') { format!("{a:?}") } else { (*a).to_owned() });
    std::iter::once("kubectl-stateful".to_owned()).chain(quoted).collect::<Vec<_>>().join(" ")
}

/// A successful run with nothing on stderr; its stdout.
fn success(args: &[&str]) -> String {
    let run = run(args.iter().copied());
    let line = command_line(args);
    assert_eq!(run.code, Some(0), "{line}: exit code\nstderr: {}", run.stderr);
    assert_eq!(run.stderr, "", "{line}: stderr");
    run.stdout
}

/// A usage error: exit 2, nothing on stdout and exactly one line on stderr, which it returns.
fn usage_error<S: Into<OsString>>(line: &str, args: impl IntoIterator<Item = S>) -> String {
    let run = run(args);
    assert_eq!(run.code, Some(2), "{line}: exit code\nstderr: {}", run.stderr);
    assert_eq!(run.stdout, "", "{line}: stdout");
    assert_eq!(run.stderr.lines().count(), 1, "{line}: one line on stderr, got:\n{}", run.stderr);
    assert!(run.stderr.ends_with('\n'), "{line}: stderr ends its line: {:?}", run.stderr);
    run.stderr.trim_end().to_owned()
}

/// Snapshots `value` under `name`, with the command line that printed it as the description.
fn snapshot(name: &str, line: &str, value: &str) {
    insta::with_settings!({ description => line, omit_expression => true }, {
        insta::assert_snapshot!(name, value);
    });
}

// Help: exit 0, the whole text on stdout, nothing on stderr.

/// `--help` (long help) of the command `args`, snapshotted as `help_<name>`.
fn help(name: &str, args: &[&str]) {
    let args: Vec<&str> = args.iter().copied().chain(["--help"]).collect();
    let stdout = success(&args);
    assert!(!stdout.contains(VERSION), "help does not print the version");
    snapshot(&format!("help_{name}"), &command_line(&args), &stdout);
}

#[test]
fn help_root() {
    help("root", &[]);
}

/// A bare `kubectl stateful` (or `pvc`) asks what there is: the same help, as kubectl answers.
#[test]
fn a_bare_command_prints_its_commands() {
    for (group, help) in [(&[][..], &["--help"][..]), (&["pvc"][..], &["pvc", "--help"][..])] {
        let bare = success(group);
        let short = success(&[help[..help.len() - 1].to_vec(), vec!["-h"]].concat());
        assert!(bare.contains("Commands:"), "{bare}");
        assert_eq!(bare, short, "the bare command prints its short help");
    }
}

#[test]
fn help_status() {
    help("status", &["status"]);
}

#[test]
fn help_rollout() {
    help("rollout", &["rollout"]);
}

#[test]
fn help_restart() {
    help("restart", &["restart"]);
}

#[test]
fn help_scale() {
    help("scale", &["scale"]);
}

#[test]
fn help_drain() {
    help("drain", &["drain"]);
}

#[test]
fn help_recover() {
    help("recover", &["recover"]);
}

#[test]
fn help_pvc() {
    help("pvc", &["pvc"]);
}

#[test]
fn help_pvc_prune() {
    help("pvc_prune", &["pvc", "prune"]);
}

#[test]
fn help_pvc_resize() {
    help("pvc_resize", &["pvc", "resize"]);
}

#[test]
fn help_pvc_restore() {
    help("pvc_restore", &["pvc", "restore"]);
}

#[test]
fn help_version() {
    help("version", &["version"]);
}

#[test]
fn help_completion() {
    help("completion", &["completion"]);
}

#[test]
fn short_help_is_the_summary() {
    let args = ["status", "-h"];
    let short = success(&args);
    assert!(short.len() < success(&["status", "--help"]).len(), "-h is shorter than --help");
    snapshot("short_help_status", &command_line(&args), &short);
}

// Usage errors: exit 2, nothing on stdout, exactly one line on stderr.

/// A credential given in a gate URL is never printed, whatever the command and the mistake.
#[test]
fn a_credential_in_a_gate_url_is_never_printed() {
    for args in [
        ["rollout", "web", "--gate-http", "https://ci:s3cret@h/x"],
        ["restart", "web", "--gate-http", "http://h/?api_key=s3cret"],
        ["drain", "node-1", "--gate-http", "https://s3cret@h/x"],
        ["rollout", "web", "--gate-http", "gopher://ci:s3cret@h/x"],
    ] {
        let run = run(args);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("s3cret") && !run.stdout.contains("s3cret"), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("***"), "masked: {}", run.stderr);
    }
}

/// One test per command line, each snapshotting its one line of stderr.
macro_rules! usage_errors {
    ($($name:ident: [$($arg:expr),* $(,)?];)*) => {$(
        #[test]
        fn $name() {
            let args: &[&str] = &[$($arg),*];
            let line = command_line(args);
            let error = usage_error(&line, args.iter().copied());
            snapshot(stringify!($name), &line, &error);
        }
    )*};
}

usage_errors! {
    // Names reach URLs only as checked Kubernetes names; durations are bounded so no deadline
    // overflows (issue: `rollout 'web?a='` rolled out `web`; `--timeout 300000000000y` panicked).
    usage_name_with_a_query: ["rollout", "web?a=", "--image", "app=img:v2", "--yes"];
    usage_name_with_a_slash: ["status", "web/pods"];
    usage_name_upper_case: ["pvc", "prune", "Web"];
    usage_recover_target_not_a_name: ["recover", "pg_2"];
    usage_namespace_not_a_name: ["-n", "Shop", "status"];
    usage_namespace_with_a_dot: ["--namespace", "a.b", "status"];
    usage_request_timeout_huge: ["--request-timeout", "300000000000y", "version"];
    usage_request_timeout_huge_seconds: ["--request-timeout", "99999999999999", "version"];
    usage_rollout_timeout_huge: ["rollout", "web", "--timeout", "300000000000y", "--yes"];
    usage_rollout_pause_huge: ["rollout", "web", "--pause", "31days", "--yes"];
    usage_recover_timeout_huge: ["recover", "pg-2", "--timeout", "300000000000y", "--yes"];
    usage_recover_ordinal_too_large: ["recover", "pg", "--ordinal", "4294967295"];
    usage_status_watch_all_namespaces: ["status", "-A", "--watch"];
    // kubectl's habits (issue #31): bad values are one line, exit 2, before any request.
    usage_dry_run_unknown_value: ["recover", "pg-2", "--dry-run=maybe"];
    usage_dry_run_value_after_a_space_is_a_name: ["pvc", "prune", "--dry-run", "server", "web"];
    usage_dry_run_server_across_contexts: ["pvc", "prune", "-A", "--all-contexts", "--dry-run=server"];
    usage_status_jsonpath_without_template: ["status", "-o", "jsonpath"];
    usage_status_jsonpath_unclosed: ["status", "-o", "jsonpath={.name"];
    usage_status_jsonpath_range: ["status", "-A", "-o", "jsonpath={range .items[*]}{.name}{\"\\n\"}{end}"];
    usage_status_jsonpath_bad_path: ["status", "-o", "jsonpath={.items[}"];
    usage_status_name_watch: ["status", "web", "-o", "name", "--watch"];
    usage_status_selector_with_name: ["status", "web", "-l", "app=web"];
    usage_discard_journal_with_image: ["rollout", "web", "--discard-journal", "--image", "app=x"];
    // A credential in a gate URL would be journaled, planned and logged: refused, masked, with
    // the form that reads it from the environment (clap would echo the value, so it is ours).
    usage_gate_http_with_a_password: ["rollout", "web", "--image", "app=x:v2", "--gate-http", "https://ci:s3cret@grafana.example/api/health", "--yes"];
    usage_gate_http_with_a_token_in_the_query: ["restart", "web", "--gate-http", "http://prom.example/q?pod={pod}&token=t0k", "--yes"];
    usage_gate_http_with_a_user_token: ["drain", "node-1", "--gate-http", "https://ghp_t0k@git.example/health", "--yes"];
    usage_gate_http_not_a_url: ["rollout", "web", "--gate-http", "ftp://files.example/x", "--yes"];
    usage_unknown_flag: ["status", "--bogus"];
    usage_unknown_short_flag: ["-x", "version", "--client"];
    usage_unknown_command: ["nosuch"];
    usage_help_is_not_a_command: ["help"];
    usage_unknown_pvc_command: ["pvc", "nosuch"];
    usage_resize_size_without_template: ["pvc", "resize", "web", "--size", "2Gi", "--yes"];
    usage_resize_size_not_a_quantity: ["pvc", "resize", "web", "--size", "data=big", "--yes"];
    usage_resize_size_zero: ["pvc", "resize", "web", "--size", "data=0", "--yes"];
    usage_resize_without_size: ["pvc", "resize", "web", "--yes"];
    usage_resize_undo_with_size: ["pvc", "resize", "web", "--undo", "--size", "data=2Gi"];
    usage_snapshot_class_without_snapshot: ["pvc", "prune", "web", "--snapshot-class", "fast"];
    usage_snapshot_timeout_not_a_duration: ["pvc", "prune", "web", "--snapshot", "--snapshot-timeout", "soon"];
    usage_restore_without_from: ["pvc", "restore", "web", "--ordinal", "3"];
    usage_restore_without_ordinal: ["pvc", "restore", "web", "--from", "snap"];
    usage_restore_negative_ordinal: ["pvc", "restore", "web", "--ordinal", "-1", "--from", "snap"];
    usage_restore_ordinal_beyond_int32: ["pvc", "restore", "web", "--ordinal", "2147483648", "--from", "snap"];
    usage_unexpected_argument: ["version", "--client", "extra"];
    usage_flags_without_command: ["-n", "shop"];
    usage_missing_value: ["status", "--cluster-domain"];
    usage_output_unknown: ["status", "-o", "bogus"];
    usage_rollout_without_name: ["rollout"];
    usage_rollout_output_yaml: ["rollout", "web", "-o", "yaml"];
    usage_partition_not_a_number: ["rollout", "web", "--partition", "x"];
    usage_steps_shrink: ["rollout", "web", "--steps", "50%,10%"];
    usage_steps_zero: ["rollout", "web", "--steps", "0"];
    usage_steps_over_100_percent: ["rollout", "web", "--steps", "1,101%"];
    usage_steps_not_a_size: ["rollout", "web", "--steps", "1,x"];
    usage_image_without_container: ["rollout", "web", "--image", "app"];
    usage_image_empty_container: ["rollout", "web", "--image", "=registry.example/app:v2"];
    usage_patch_with_image: ["rollout", "web", "--patch", "p.yaml", "--image", "app=registry.example/app:v2"];
    usage_abort_with_image: ["rollout", "web", "--abort", "--image", "app=registry.example/app:v2"];
    usage_abort_with_patch: ["rollout", "web", "--abort", "--patch", "p.yaml"];
    usage_partition_with_steps: ["rollout", "web", "--partition", "1", "--steps", "1"];
    usage_partition_with_abort: ["rollout", "web", "--partition", "1", "--abort"];
    usage_hold_with_image: ["rollout", "web", "--hold", "--image", "app=registry.example/app:v2"];
    usage_hold_with_abort: ["rollout", "web", "--hold", "--abort"];
    usage_hold_with_partition: ["rollout", "web", "--hold", "--partition", "1"];
    usage_timeout_not_a_duration: ["rollout", "web", "--timeout", "soon"];
    usage_pause_not_a_duration: ["rollout", "web", "--pause", "x"];
    usage_request_timeout_not_a_duration: ["--request-timeout", "soon", "version", "--client"];
    usage_verbosity_not_a_number: ["-v", "x", "version", "--client"];
    usage_status_all_namespaces_with_name: ["status", "-A", "web"];
    usage_status_watch_without_name: ["status", "-w"];
    // `-o dns` prints the names of one StatefulSet, once; `--port` only shapes those names.
    usage_status_dns_without_name: ["status", "-o", "dns"];
    usage_status_dns_all_namespaces: ["status", "-A", "-o", "dns"];
    usage_status_dns_watch: ["status", "web", "-o", "dns", "--watch"];
    usage_status_port_without_dns: ["status", "web", "--port", "mongodb"];
    usage_status_port_with_json: ["status", "web", "-o", "json", "--port", "27017"];
    usage_status_port_zero: ["status", "web", "-o", "dns", "--port", "0"];
    usage_status_port_too_large: ["status", "web", "-o", "dns", "--port", "65536"];
    usage_status_port_not_a_name: ["status", "web", "-o", "dns", "--port", "Mongo_DB"];
    // Only `status` prints `dns`.
    usage_version_output_dns: ["version", "-o", "dns"];
    usage_prune_output_dns: ["pvc", "prune", "web", "-o", "dns"];
    usage_recover_output_dns: ["recover", "pg-2", "-o", "dns"];
    usage_prune_all_namespaces_with_name: ["pvc", "prune", "-A", "web"];
    usage_recover_without_target: ["recover"];
    usage_recover_ordinal_not_a_number: ["recover", "pg", "--ordinal", "x"];
    // clap reads `-1` as a flag here, so the message names it as an unexpected argument.
    usage_recover_ordinal_negative: ["recover", "pg", "--ordinal", "-1"];
    usage_recover_min_down_without_unit: ["recover", "pg-2", "--min-down", "5"];
    usage_recover_timeout_unknown_unit: ["recover", "pg-2", "--timeout", "1x"];
    usage_client_certificate_without_key: ["--client-certificate", "c.pem", "version", "--client"];
    usage_client_key_without_certificate: ["--client-key", "k.pem", "version", "--client"];
    usage_completion_without_shell: ["completion"];
    usage_restart_without_name: ["restart"];
    usage_restart_ordinal_not_a_number: ["restart", "web", "x"];
    usage_restart_order_unknown: ["restart", "web", "--order", "random"];
    usage_restart_discard_with_ordinals: ["restart", "web", "1", "--discard-journal"];
    usage_restart_min_available_negative: ["restart", "web", "--min-available", "-1"];
    usage_restart_soak_not_a_duration: ["restart", "web", "--soak", "soon"];
    usage_scale_without_name: ["scale"];
    usage_scale_replicas_negative: ["scale", "web", "--replicas", "-1"];
    usage_scale_replicas_not_a_number: ["scale", "web", "--replicas", "x"];
    usage_scale_claims_unknown: ["scale", "web", "--replicas", "2", "--claims", "delete"];
    usage_scale_snapshot_without_prune: ["scale", "web", "--replicas", "2", "--snapshot"];
    usage_scale_snapshot_class_without_snapshot: ["scale", "web", "--replicas", "2", "--snapshot-class", "fast"];
    usage_scale_discard_with_replicas: ["scale", "web", "--replicas", "2", "--discard-journal"];
    usage_scale_decommission_http_not_a_url: ["scale", "web", "--replicas", "2", "--decommission-http", "nope"];
    usage_scale_container_without_exec: ["scale", "web", "--replicas", "2", "--decommission-container", "app"];
    usage_scale_output_yaml: ["scale", "web", "-o", "yaml"];
    usage_drain_without_node: ["drain"];
    usage_drain_node_not_a_name: ["drain", "Node_1"];
    usage_drain_min_available_not_a_count: ["drain", "node-1", "--min-available", "web=x"];
    usage_drain_output_yaml: ["drain", "node-1", "-o", "yaml"];
    usage_drain_force_without_all_pods: ["drain", "node-1", "--force"];
    usage_drain_ignore_daemonsets_without_all_pods: ["drain", "node-1", "--ignore-daemonsets"];
    usage_drain_delete_emptydir_data_without_all_pods: ["drain", "node-1", "--delete-emptydir-data"];
    usage_drain_grace_period_without_all_pods: ["drain", "node-1", "--grace-period", "10"];
    usage_drain_grace_period_negative: ["drain", "node-1", "--all-pods", "--grace-period", "-1"];
    usage_drain_discard_journal_of_two_nodes: ["drain", "node-1", "node-2", "--discard-journal"];
    usage_drain_discard_journal_with_all_pods: ["drain", "node-1", "--discard-journal", "--all-pods"];
    usage_completion_unknown_shell: ["completion", "nosuchshell"];
}

/// An argument that is not UTF-8 is a usage error, not a panic.
#[cfg(unix)]
#[test]
fn usage_argument_not_utf8() {
    use std::os::unix::ffi::OsStringExt;
    let args = [OsString::from("status"), OsString::from_vec(vec![b'w', 0xff, b'b'])];
    let line = "kubectl-stateful status $'w\\xffb'";
    let error = usage_error(line, args);
    snapshot("usage_argument_not_utf8", line, &error);
}

/// `--server` is checked once a kubeconfig is loaded: a usage error, before any request. The
/// kubeconfig names a server nothing listens on, in case the check ever moves after one.
#[test]
fn usage_server_not_a_url() {
    let kubeconfig = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-unreachable.kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: none\n  cluster:\n    server: https://127.0.0.1:9\n\
         contexts:\n- name: none\n  context:\n    cluster: none\n    user: none\ncurrent-context: none\n\
         users:\n- name: none\n  user:\n    token: unused\n",
    )
    .unwrap();
    let args = [OsString::from("status"), "web".into(), "--server".into(), "::bad".into()];
    let line = "kubectl-stateful status web --server ::bad";
    let run = kubectl_stateful().args(&args).env("KUBECONFIG", &kubeconfig).output().unwrap();
    assert_eq!(run.status.code(), Some(2), "{line}: {run:?}");
    assert!(run.stdout.is_empty(), "{line}: {run:?}");
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{line}: {stderr}");
    snapshot("usage_server_not_a_url", line, stderr.trim_end());
}

/// The kubeconfig context's namespace is checked as `-n` is: one line, exit 2, before any
/// request (and `-n` overrides it). The server is one nothing listens on.
#[test]
fn usage_context_namespace_not_a_name() {
    let kubeconfig = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-bad-namespace.kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: none\n  cluster:\n    server: https://127.0.0.1:9\n\
         contexts:\n- name: shop\n  context:\n    cluster: none\n    user: none\n    namespace: bad/name\n\
         current-context: shop\nusers:\n- name: none\n  user:\n    token: unused\n",
    )
    .unwrap();
    let run = |args: &[&str]| kubectl_stateful().args(args).env("KUBECONFIG", &kubeconfig).output().unwrap();
    let line = "kubectl-stateful status web (context namespace bad/name)";
    let output = run(&["status", "web", "--request-timeout", "2s"]);
    assert_eq!(output.status.code(), Some(2), "{line}: {output:?}");
    assert!(output.stdout.is_empty(), "{line}: {output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{line}: {stderr}");
    snapshot("usage_context_namespace_not_a_name", line, stderr.trim_end());
    // The same rule as `-n bad/name`, in the same words.
    let flag = usage_error("-n bad/name", ["-n", "bad/name", "status", "web"]);
    let rule = "\"bad/name\" is not a namespace name (lower-case letters, digits and '-', at most 63 characters, \
                starting and ending with a letter or digit)";
    assert!(flag.contains(rule) && stderr.contains(rule), "{flag}\n{stderr}");
    // -n overrides it: past the check, the run fails on the unreachable server instead.
    let output = run(&["status", "web", "-n", "shop", "--request-timeout", "2s"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
}

// Versions.

#[test]
fn version_client() {
    assert_eq!(success(&["version", "--client"]), format!("Plugin Version: v{VERSION}\n"));
}

#[test]
fn version_client_json() {
    let stdout = success(&["version", "--client", "-o", "json"]);
    let document: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        document,
        serde_json::json!({"kind": "Version", "schemaVersion": "v1", "clientVersion": format!("v{VERSION}")}),
        "no serverVersion with --client"
    );
    assert!(stdout.starts_with("{\n  \"kind\": \"Version\",\n  \"schemaVersion\": \"v1\","), "{stdout}");
}

#[test]
fn version_client_yaml() {
    assert_eq!(
        success(&["version", "--client", "-o", "yaml"]),
        format!("kind: Version\nschemaVersion: v1\nclientVersion: v{VERSION}\n")
    );
}

/// Without a cluster `version` still succeeds: the plugin's version, and a note on stderr.
#[test]
fn version_without_a_cluster() {
    let run = run(["version"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, format!("Plugin Version: v{VERSION}\n"));
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("note: server version unknown: "), "{}", run.stderr);
}

#[test]
fn version_flag() {
    assert_eq!(success(&["--version"]), format!("kubectl-stateful {VERSION}\n"));
    assert_eq!(success(&["-V"]), format!("kubectl-stateful {VERSION}\n"));
}

// Completion scripts: not snapshotted whole (clap_complete writes them), but they must name
// the binary and offer every command.

const COMMANDS: [&str; 6] = ["status", "rollout", "recover", "pvc", "version", "completion"];

#[test]
fn completion_bash() {
    let script = success(&["completion", "bash"]);
    assert!(script.starts_with("_kubectl__stateful() {"), "{script}");
    assert!(
        script.lines().any(|l| l.trim_start().starts_with("complete -F _kubectl__stateful")
            && l.ends_with(" kubectl-stateful")),
        "registers the function for kubectl-stateful"
    );
    for command in COMMANDS {
        assert!(script.contains(&format!("kubectl__stateful,{command})")), "bash offers {command}");
    }
    assert!(script.contains("kubectl__stateful__subcmd__pvc,prune)"), "bash offers pvc prune");
}

/// Every state the bash script's word loop can reach has a branch that lists its options
/// (clap_complete spells them two ways for our bin name, clap-rs/clap#6421; `completion` mends it).
#[test]
fn completion_bash_reaches_every_command() {
    let script = success(&["completion", "bash"]);
    let states = script.lines().filter_map(|l| l.trim().strip_prefix("cmd=\"")?.strip_suffix('"'));
    for state in states.filter(|s| !s.is_empty()) {
        assert!(
            script.lines().any(|l| l.trim() == format!("{state})")),
            "bash reaches state {state}, which has no branch listing its options"
        );
    }
}

#[test]
fn completion_zsh() {
    let script = success(&["completion", "zsh"]);
    assert_eq!(script.lines().next(), Some("#compdef kubectl-stateful"));
    assert!(script.lines().any(|l| l.trim() == "compdef _kubectl-stateful kubectl-stateful"), "{script}");
    for command in COMMANDS {
        assert!(script.lines().any(|l| l.starts_with(&format!("'{command}:"))), "zsh offers {command}");
    }
    assert!(script.lines().any(|l| l.starts_with("'prune:")), "zsh offers pvc prune");
}

#[test]
fn completion_fish() {
    let script = success(&["completion", "fish"]);
    for command in COMMANDS {
        let offer = format!(
            "complete -c kubectl-stateful -n \"__fish_kubectl_stateful_needs_command\" -f -a \"{command}\""
        );
        assert!(script.lines().any(|l| l.starts_with(&offer)), "fish offers {command}");
    }
    assert!(script.contains("-a \"prune\""), "fish offers pvc prune");
}

// kubectl's plugin completion: `kubectl_complete-stateful` runs `kubectl-stateful __complete
// WORDS… CURRENT` and reads candidates, one a line, then cobra's directive (`:4`: no files).

fn complete(name: &str, words: &[&str]) -> String {
    let args: Vec<&str> = std::iter::once("__complete").chain(words.iter().copied()).collect();
    let stdout = success(&args);
    assert_eq!(stdout.lines().last(), Some(":4"), "{}: ends with the directive", command_line(&args));
    snapshot(name, &command_line(&args), &stdout);
    stdout
}

#[test]
fn complete_commands() {
    let stdout = complete("complete_commands", &[""]);
    for command in COMMANDS {
        assert!(stdout.lines().any(|l| l == command), "offers {command}");
    }
}

#[test]
fn complete_a_prefix() {
    assert_eq!(complete("complete_a_prefix", &["ro"]), "rollout\n:4\n");
}

#[test]
fn complete_output_formats() {
    assert_eq!(
        complete("complete_output_formats", &["status", "-o", ""]),
        "table\nwide\njson\nyaml\ndns\nname\njsonpath=TEMPLATE\n:4\n"
    );
}

#[test]
fn complete_flags() {
    let stdout = complete("complete_flags", &["rollout", "web", "--"]);
    assert!(stdout.lines().any(|l| l == "--image") && stdout.lines().any(|l| l == "--namespace"));
}

#[test]
fn complete_shells() {
    complete("complete_shells", &["completion", ""]);
}

/// Names come from the cluster; without one, completion offers nothing, quietly.
#[test]
fn complete_names_offline_offers_nothing() {
    let lines: [&[&str]; 4] = [&["status", ""], &["rollout", "w"], &["recover", ""], &["-n", ""]];
    for words in lines {
        let args: Vec<&str> = std::iter::once("__complete").chain(words.iter().copied()).collect();
        assert_eq!(success(&args), ":4\n", "{}", command_line(&args));
    }
    complete("complete_names_offline", &["status", ""]);
}

/// Plain `cargo test` leaves the end-to-end tests (`tests/e2e/`, which need the project's local
/// control plane) to `tests/run`, which turns them on with `--features e2e`.
#[test]
fn e2e_tests_run_from_tests_run() {
    let script = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/run")).unwrap();
    let runs_e2e = script
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .any(|l| l.starts_with("cargo test") && l.contains("--features e2e") && l.contains("--test e2e"));
    assert!(runs_e2e, "tests/run runs `cargo test --features e2e --test e2e`:\n{script}");
    // And after it, the check of the API server's audit log over that run.
    let runs_audit = script.lines().map(str::trim).filter(|l| !l.starts_with('#')).any(|l| {
        l.contains("KUBECTL_STATEFUL_AUDIT_SINCE=") && l.contains("cargo test") && l.contains("--test audit")
    });
    assert!(
        runs_audit,
        "tests/run runs `cargo test --features e2e --test audit` after the e2e tests:\n{script}"
    );
}

/// docs/design.md's map lists every source file, one line each, and nothing that is gone.
#[test]
fn the_design_map_names_every_source_file() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let design = std::fs::read_to_string(root.join("docs/design.md")).unwrap();
    let map = design.split("## The map").nth(1).and_then(|rest| rest.split("\n## ").next()).unwrap();
    let mapped: Vec<&str> =
        map.lines().filter_map(|l| l.split_whitespace().next()).filter(|w| w.starts_with("src/")).collect();
    fn sources(dir: &std::path::Path, root: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, root, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut files = Vec::new();
    sources(&root.join("src"), root, &mut files);
    files.sort();
    let missing: Vec<&String> = files.iter().filter(|f| !mapped.contains(&f.as_str())).collect();
    assert!(missing.is_empty(), "docs/design.md's map does not name {missing:?}");
    let gone: Vec<&&str> = mapped.iter().filter(|m| !files.iter().any(|f| f == *m)).collect();
    assert!(gone.is_empty(), "docs/design.md's map names files that do not exist: {gone:?}");
    assert!(files.len() > 50, "found the sources: {files:?}");
}
