//! Errors, each with the exit code the docs promise (docs/exit-codes in README and docs/).

/// Exit codes: 0 success or stopped by the user's choice, 1 error, 2 usage, 3 rollout step
/// failed or timed out with the state left safe, 130 interrupted (Ctrl-C).
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

    /// An API request failed; `context` says what we were doing.
    #[error("cannot {context}: {}", describe_kube_error(.source))]
    Kube {
        context: String,
        #[source]
        source: kube::Error,
    },

    #[error("{0}")]
    NotFound(String),

    /// The cluster's state makes the request unsafe or impossible; nothing was changed.
    #[error("{0}")]
    Refused(String),

    /// Someone else changed the object between our read and our write; nothing was overwritten.
    #[error("{0}")]
    Conflict(String),

    /// A rollout step failed or timed out; the partition was left where it was.
    #[error("{0}")]
    StepFailed(String),

    /// Ctrl-C; the message says what state things were left in and how to go on.
    #[error("{0}")]
    Interrupted(String),

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
            Error::StepFailed(_) => exit::STEP_FAILED,
            Error::Interrupted(_) => exit::INTERRUPTED,
            _ => exit::ERROR,
        }
    }

    /// A closure for `map_err` that records what we were doing when the API call failed.
    pub fn kube(context: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let context = context.into();
        move |source| Error::Kube { context, source }
    }

    /// The HTTP status of a failed API request, if the server answered.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            Error::Kube { source: kube::Error::Api(status), .. } => Some(status.code),
            _ => None,
        }
    }

    /// True when the output stream was closed by the reader (`| head`): not an error for a CLI.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Output(e)
    }
}

/// One line, whatever the error: the server's own message for API errors (it names the
/// resource, verb and user), the innermost cause for transport errors.
fn describe_kube_error(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
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
