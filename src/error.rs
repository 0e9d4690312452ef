//! Errors, each with the exit code the README documents (README.md, "Exit codes"). A variant
//! exists for every kind of failure code branches on; messages are one line.

use crate::core::rollout::Refusal;
use crate::core::status::dns::DnsRefusal;

/// Exit codes: 0 success or stopped by the user's choice, 1 error, 2 usage, 3 a step failed or
/// timed out with the state left safe, 130 interrupted (Ctrl-C, SIGTERM, SIGHUP).
pub mod exit {
    pub const ERROR: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const STEP_FAILED: u8 = 3;
    pub const INTERRUPTED: u8 = 130;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad flags or arguments, or a run that would need a prompt where none can be shown.
    #[error("{0}")]
    Usage(String),

    #[error("cannot load kubeconfig: {}", chain(.0))]
    Kubeconfig(#[source] kube::config::KubeconfigError),

    /// A connection flag names what the kubeconfig does not have.
    #[error("cannot load kubeconfig: {0}")]
    ConfigFlag(String),

    /// An API request failed; `context` says what we were doing.
    #[error("cannot {context}: {}", describe_kube_error(.source))]
    Kube {
        context: String,
        #[source]
        source: kube::Error,
    },

    /// A write got no answer (a timeout, a dropped connection): it may or may not have happened.
    #[error(
        "cannot {what} (the API server did not answer, so it may or may not have happened; {resume}): {}",
        describe_kube_error(.source)
    )]
    Unanswered {
        what: String,
        resume: String,
        #[source]
        source: kube::Error,
    },

    /// The object does not exist, but its namespace does (or could not be checked).
    #[error("{kind} {name} not found in namespace {namespace}")]
    NotFound { kind: &'static str, name: String, namespace: String },

    #[error("namespace {0} not found")]
    NamespaceNotFound(String),

    /// Several contexts were asked for and some could not be read; the others were listed.
    #[error("{}", match failed == total {
        true => format!("no context could be read ({first})"),
        false => format!("{failed} of {total} contexts could not be read ({first}); the others are listed"),
    })]
    ContextsFailed { failed: usize, total: usize, first: String },

    /// A permission the command needs before it may start; `left` says what state that leaves.
    #[error("you may not {permission} (`{can_i}` says no); {left}")]
    Forbidden { permission: String, can_i: String, left: String },

    /// The cluster's state makes the request unsafe or impossible; nothing was changed.
    #[error("{0}")]
    Refused(String),

    /// A rollout the core decided against; a usage error or a refusal, as the reason says.
    #[error(transparent)]
    Rollout(#[from] Refusal),

    /// `status -o dns` prints no names: they would not resolve (exit 1), or `--port` names no
    /// port of the Service (a usage error, exit 2).
    #[error(transparent)]
    Dns(#[from] DnsRefusal),

    /// `--snapshot` cannot be honoured (no API, no class for the driver, …); nothing was deleted.
    #[error(transparent)]
    Snapshot(#[from] crate::core::volume_snapshots::SnapshotRefusal),

    /// `pvc restore` refused; nothing was created. Usage errors (exit 2) are marked.
    #[error(transparent)]
    Restore(#[from] crate::core::restore::RestoreRefusal),

    /// Someone else changed the StatefulSet between our read and our write, or while we
    /// waited; nothing of theirs was overwritten, and the state is left as it stood (exit 3).
    /// `by` names the field manager that last wrote the fields a rollout writes, from
    /// managedFields, with its tool.
    #[error(
        "{} changed {name} {during} ({}); stopping without overwriting their change, with the partition left \
         at {partition}. Run `kubectl stateful rollout {name}` to continue from the new state, or {abort}",
        by.as_ref().map_or_else(|| "someone else".to_owned(), |m| m.describe()),
        changes.join(", ")
    )]
    Conflict {
        name: String,
        during: String,
        changes: Vec<String>,
        by: Option<Box<crate::core::owners::Manager>>,
        partition: i32,
        /// How to roll back (`add --abort`, or for Git's template, revert in Git first).
        abort: &'static str,
    },

    /// A rollout step failed or timed out; the partition was left where it was.
    #[error("{0}")]
    StepFailed(String),

    /// Ctrl-C (or SIGTERM, SIGHUP): what was left, and how to go on.
    #[error("interrupted{}: {left}{}", if *.at_prompt { " at the prompt" } else { "" },
        .resume.as_ref().map(|r| format!("; {r}")).unwrap_or_default())]
    Interrupted { at_prompt: bool, left: String, resume: Option<String> },

    /// The API server stopped answering while a command waited.
    #[error("lost the connection to the API server ({why}): {left}; {resume}")]
    Disconnected { why: String, left: String, resume: String },

    /// An error after this run had changed something: what it left, and how to go on.
    #[error("{error}; {left}; {resume}")]
    Stranded { error: Box<Error>, left: String, resume: String },

    /// Some of the work was done; the message names what remains.
    #[error("{0}")]
    Partial(String),

    #[error("cannot write output: {0}")]
    Output(#[source] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => exit::USAGE,
            Error::Rollout(refusal) if refusal.is_usage() => exit::USAGE,
            Error::Dns(refusal) if refusal.is_usage() => exit::USAGE,
            Error::Restore(refusal) if refusal.is_usage() => exit::USAGE,
            Error::StepFailed(_) | Error::Conflict { .. } => exit::STEP_FAILED,
            Error::Interrupted { .. } => exit::INTERRUPTED,
            Error::Stranded { error, .. } => error.exit_code(),
            _ => exit::ERROR,
        }
    }

    /// A closure for `map_err` that records what we were doing when the API call failed.
    pub fn kube(context: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let context = context.into();
        move |source| Error::Kube { context, source }
    }

    /// An interruption outside a prompt.
    pub fn interrupted(left: impl Into<String>, resume: Option<String>) -> Error {
        Error::Interrupted { at_prompt: false, left: left.into(), resume }
    }

    /// The HTTP status of a failed API request, if the server answered.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            Error::Kube { source: kube::Error::Api(status), .. } => Some(status.code),
            _ => None,
        }
    }

    /// What state the error leaves and how to go on, when it says (an interruption, a lost API
    /// server, an error after changes).
    pub fn left_and_resume(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Error::Interrupted { left, resume, .. } => (Some(left), resume.as_deref()),
            Error::Disconnected { left, resume, .. } | Error::Stranded { left, resume, .. } => {
                (Some(left), Some(resume))
            }
            _ => (None, None),
        }
    }

    /// True when the output stream was closed by the reader (`| head`): not an error for a CLI.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// One line, whatever the error: the server's own message for API errors (it names the
/// resource, verb and user; never kube-rs's `Debug` dump of the status), the innermost cause
/// for transport errors.
pub fn describe_kube_error(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => {
            status.message.lines().next().unwrap_or_default().trim().to_owned()
        }
        kube::Error::Api(status) => format!("{} {}", status.code, status.reason),
        other => chain(other),
    }
}

/// An error and its sources as one line, skipping sources that repeat their parent.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_exit_code_and_one_line() {
        let cases = [
            (Error::Usage("bad flag".into()), exit::USAGE),
            (Error::StepFailed("timed out".into()), exit::STEP_FAILED),
            (
                Error::interrupted("web is left at partition 2", Some("run it again".into())),
                exit::INTERRUPTED,
            ),
            (Error::Refused("no".into()), exit::ERROR),
            (Error::Dns(DnsRefusal::ServiceMissing { name: "zk".into(), service: "zk".into() }), exit::ERROR),
            (
                Error::Dns(DnsRefusal::NoSuchPort {
                    service: "zk".into(),
                    port: "peer".into(),
                    ports: "client 2181/TCP".into(),
                }),
                exit::USAGE,
            ),
            (
                Error::Rollout(Refusal::PartitionOutOfRange {
                    name: "web".into(),
                    partition: 9,
                    replicas: 3,
                }),
                exit::USAGE,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(error.exit_code(), code, "{error}");
            assert_eq!(error.to_string().lines().count(), 1);
        }
        assert_eq!(
            Error::interrupted("web is left at partition 2", Some("run it again".into())).to_string(),
            "interrupted: web is left at partition 2; run it again"
        );
        let prompt = Error::Interrupted { at_prompt: true, left: "nothing was changed".into(), resume: None };
        assert_eq!(prompt.to_string(), "interrupted at the prompt: nothing was changed");
    }
}
