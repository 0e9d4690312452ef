#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The API server's own record of what the plugin wrote, read after the end-to-end tests: its
//! audit log (policy: tests/cluster/audit-policy.yaml; the log: logs/audit.log beside the
//! cluster's kubeconfig, and the files it was rotated into, audit-<time>.log). tests/run runs
//! this after each version's end-to-end run, over the requests made since it started
//! (`KUBECTL_STATEFUL_AUDIT_SINCE`, an RFC 3339 time; without it, the whole log). Two rules:
//!
//! - every write of the plugin (user agent `kubectl-stateful/…`) carries a guard the API server
//!   enforced: a JSON patch with `test` operations, a delete or an eviction with preconditions
//!   (uid or resourceVersion), an update with `metadata.resourceVersion`, or a create of a name
//!   (never `generateName`), which the API server refuses when it exists;
//! - a dry run writes nothing: tests/e2e/plugin.sh runs every dry run as the user
//!   `kubectl-stateful-dry-run`, and that user made no write at all: what a `--dry-run=server`
//!   sends says `dryRun=All` in its query (where the log shows it even for a delete, whose body
//!   it does not record), or it counts as a write.
//!
//! After only some of the end-to-end tests, `KUBECTL_STATEFUL_AUDIT_PARTIAL=1` drops the check
//! that every kind of guarded write was seen (those tests may make none of some kind).
//!
//! Not writes, so not checked: server-side dry runs (`dryRun=All`: nothing is stored),
//! SelfSubjectAccessReviews (answered, never stored) and pods/exec (the gates' commands).
//! docs/safety.md ("Every write is guarded") says the same.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

const PLUGIN_AGENT: &str = "kubectl-stateful/";
const DRY_RUN_USER: &str = "kubectl-stateful-dry-run";
const WRITES: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];

/// The audit log files of the cluster tests/cluster/up runs (started if needed, as the e2e
/// tests do), oldest first: the rotated ones (`audit-<time>.log`), then `audit.log`.
fn audit_logs() -> Vec<PathBuf> {
    let up = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cluster/up");
    let output = std::process::Command::new(up).output().expect("run tests/cluster/up");
    assert!(output.status.success(), "tests/cluster/up failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let kubeconfig = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    let logs = kubeconfig.parent().unwrap().join("logs");
    let current = logs.join("audit.log");
    assert!(
        current.exists(),
        "{}: no audit log (a cluster started before tests/cluster/up turned it on?)",
        current.display()
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("audit-"))
        .collect();
    files.sort();
    files.push(current);
    files
}

/// What the check makes of one of the plugin's requests.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Not a write (a read, a dry run on the server, a review, an exec).
    NotAWrite(&'static str),
    /// A write with its guard: which kind.
    Guarded(&'static str),
    /// A write without a guard, or a dry run's write: why.
    Violation(String),
}

fn text<'v>(value: &'v Value, pointer: &str) -> &'v str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

fn has_preconditions(options: &Value) -> bool {
    !text(options, "/preconditions/uid").is_empty()
        || !text(options, "/preconditions/resourceVersion").is_empty()
}

fn judge(event: &Value) -> Verdict {
    let verb = text(event, "/verb");
    if !WRITES.contains(&verb) {
        return Verdict::NotAWrite("a read");
    }
    if text(event, "/requestURI").contains("dryRun=All") {
        return Verdict::NotAWrite("a server-side dry run");
    }
    let resource = text(event, "/objectRef/resource");
    let subresource = text(event, "/objectRef/subresource");
    if resource.ends_with("accessreviews") || resource.ends_with("subjectrulesreviews") {
        return Verdict::NotAWrite("a review");
    }
    if ["exec", "attach", "portforward"].contains(&subresource) {
        return Verdict::NotAWrite("a connection to a pod");
    }
    if text(event, "/impersonatedUser/username") == DRY_RUN_USER {
        return Verdict::Violation("a dry run wrote".to_owned());
    }
    let Some(body) = event.get("requestObject") else {
        return Verdict::Violation("no request body was recorded, so no guard can be shown".to_owned());
    };
    match (verb, subresource) {
        ("create", "eviction") if has_preconditions(body.get("deleteOptions").unwrap_or(&Value::Null)) => {
            Verdict::Guarded("eviction with preconditions")
        }
        ("create", "eviction") => Verdict::Violation("an eviction without preconditions".to_owned()),
        ("create", _)
            if !text(body, "/metadata/name").is_empty()
                && body.pointer("/metadata/generateName").is_none() =>
        {
            Verdict::Guarded("create of a name")
        }
        ("create", _) => Verdict::Violation("a create without a name of its own".to_owned()),
        ("delete", _) if has_preconditions(body) => Verdict::Guarded("delete with preconditions"),
        ("delete", _) => Verdict::Violation("a delete without preconditions".to_owned()),
        ("patch", _) => match body {
            Value::Array(ops) if ops.iter().any(|op| op["op"] == "test") => {
                Verdict::Guarded("JSON patch with tests")
            }
            Value::Array(_) => Verdict::Violation("a JSON patch without a test".to_owned()),
            other if !text(other, "/metadata/resourceVersion").is_empty() => {
                Verdict::Guarded("merge patch with a resourceVersion")
            }
            _ => Verdict::Violation("a merge patch without a resourceVersion".to_owned()),
        },
        ("update", _) if !text(body, "/metadata/resourceVersion").is_empty() => {
            Verdict::Guarded("update with a resourceVersion")
        }
        ("update", _) => Verdict::Violation("an update without a resourceVersion".to_owned()),
        _ => Verdict::Violation(format!("a {verb}, which this tool never needs")),
    }
}

fn describe(event: &Value) -> String {
    let subresource = text(event, "/objectRef/subresource");
    format!(
        "{} {}{}{} {}/{} ({})",
        text(event, "/verb"),
        text(event, "/objectRef/resource"),
        if subresource.is_empty() { "" } else { "/" },
        subresource,
        text(event, "/objectRef/namespace"),
        text(event, "/objectRef/name"),
        text(event, "/requestURI"),
    )
}

#[test]
fn every_write_of_the_plugin_is_guarded_and_no_dry_run_writes() {
    let since: Option<Timestamp> =
        std::env::var("KUBECTL_STATEFUL_AUDIT_SINCE").ok().map(|t| t.parse().expect("an RFC 3339 time"));
    let files = audit_logs();
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut violations: Vec<String> = Vec::new();
    let mut dry_run_requests = 0;
    let mut read = 0;
    for path in &files {
        let log = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let event: Value = match serde_json::from_str(line) {
                Ok(event) => event,
                // The API server may be writing the last line right now.
                Err(_) if i + 1 == lines.len() => continue,
                Err(e) => panic!("{}: line {} is not an audit event: {e}", path.display(), i + 1),
            };
            let received: Option<Timestamp> = text(&event, "/requestReceivedTimestamp").parse().ok();
            if since.is_some_and(|since| received.is_none_or(|r| r < since)) {
                continue;
            }
            read += 1;
            if !text(&event, "/userAgent").starts_with(PLUGIN_AGENT) {
                continue;
            }
            if text(&event, "/impersonatedUser/username") == DRY_RUN_USER {
                dry_run_requests += 1;
            }
            match judge(&event) {
                Verdict::NotAWrite(kind) | Verdict::Guarded(kind) => *counts.entry(kind).or_default() += 1,
                Verdict::Violation(why) => violations.push(format!("{why}: {}", describe(&event))),
            }
        }
    }
    eprintln!(
        "audit: {read} events since {} in {} file(s); the plugin's: {counts:?}; dry runs' requests: \
         {dry_run_requests}",
        since.map_or_else(|| "the start".to_owned(), |s| s.to_string()),
        files.len()
    );
    assert!(
        violations.is_empty(),
        "{} unguarded write(s) of the plugin:\n{}",
        violations.len(),
        violations.join("\n")
    );
    // The check saw what it checks: each kind of write (unless only some end-to-end tests ran:
    // KUBECTL_STATEFUL_AUDIT_PARTIAL), the server dry runs, and the dry runs' user.
    let partial = std::env::var_os("KUBECTL_STATEFUL_AUDIT_PARTIAL").is_some();
    for kind in [
        "JSON patch with tests",
        "delete with preconditions",
        "create of a name",
        "eviction with preconditions",
    ] {
        assert!(
            partial || counts.get(kind).is_some_and(|n| *n > 0),
            "no {kind} in the audit log: did the end-to-end tests run?"
        );
    }
    assert!(
        counts.get("a server-side dry run").is_some_and(|n| *n > 0),
        "no server-side dry run in the audit log: did the end-to-end tests run?"
    );
    assert!(
        dry_run_requests > 0,
        "no request of {DRY_RUN_USER} in the audit log: did tests/e2e/plugin.sh run the dry runs?"
    );
}

#[test]
fn the_check_tells_guarded_writes_from_unguarded_ones() {
    let event = |verb: &str, subresource: &str, body: Value| {
        serde_json::json!({
            "verb": verb, "requestURI": "/api/v1/x", "userAgent": "kubectl-stateful/0.1.0",
            "objectRef": {"resource": "pods", "subresource": subresource, "namespace": "ns", "name": "web-0"},
            "requestObject": body
        })
    };
    let guarded = [
        event(
            "patch",
            "",
            serde_json::json!([{"op": "test", "path": "/metadata/uid", "value": "u"}, {"op": "remove", "path": "/x"}]),
        ),
        event("delete", "", serde_json::json!({"preconditions": {"uid": "u"}})),
        event("create", "eviction", serde_json::json!({"deleteOptions": {"preconditions": {"uid": "u"}}})),
        event("create", "", serde_json::json!({"metadata": {"name": "data-web-3"}})),
        event("update", "", serde_json::json!({"metadata": {"resourceVersion": "42"}})),
    ];
    for e in &guarded {
        assert!(matches!(judge(e), Verdict::Guarded(_)), "{e}");
    }
    let unguarded = [
        event("patch", "", serde_json::json!({"spec": {"unschedulable": true}})),
        event("patch", "", serde_json::json!([{"op": "replace", "path": "/x", "value": 1}])),
        event("delete", "", serde_json::json!({"kind": "DeleteOptions"})),
        event("create", "eviction", serde_json::json!({"deleteOptions": {}})),
        event("create", "", serde_json::json!({"metadata": {"generateName": "web-"}})),
        event("deletecollection", "", serde_json::json!({})),
    ];
    for e in &unguarded {
        assert!(matches!(judge(e), Verdict::Violation(_)), "{e}");
    }
    let mut dry = event("delete", "", serde_json::json!({"preconditions": {"uid": "u"}}));
    dry["impersonatedUser"] = serde_json::json!({"username": DRY_RUN_USER});
    assert_eq!(judge(&dry), Verdict::Violation("a dry run wrote".to_owned()));
    let mut probe = event("create", "", serde_json::json!({"metadata": {"generateName": "web-"}}));
    probe["requestURI"] = "/apis/apps/v1/namespaces/ns/statefulsets?dryRun=All".into();
    assert_eq!(judge(&probe), Verdict::NotAWrite("a server-side dry run"));
}
