//! Errors, each with the exit code the README documents (README.md, "Exit codes"). A variant
//! exists for every kind of failure code branches on; messages are one line. The core's
//! refusals arrive as one `Refusal` (`core::refusal`, private to the library); the shell's own
//! stops are named [`Stop`]s: no variant carries a bare message.

use crate::core::refusal::Refusal;
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
    #[error("cannot load kubeconfig: {}", chain(.0))]
    Kubeconfig(#[source] kube::config::KubeconfigError),

    /// The exec credential plugin of a context's user could not give a credential (a fleet
    /// run, where it runs within a deadline of its own: `client::exec`).
    #[error("the exec credential plugin {command}{} {why}", .context.as_ref().map(|c| format!(" of context {c}")).unwrap_or_default())]
    ExecPlugin { context: Option<String>, command: String, why: String },

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

    /// The core refused: a usage error or a refusal, as the refusal says itself.
    #[error(transparent)]
    Refused(Box<Refusal>),

    /// The shell stopped, for a reason of its own ([`Stop`]).
    #[error(transparent)]
    Stopped(Box<Stop>),

    /// Someone else changed the StatefulSet between our read and our write, or while we
    /// waited; nothing of theirs was overwritten, and the state is left as it stood (exit 3).
    /// `by` names the field manager that last wrote the fields a rollout writes, from
    /// managedFields, with its tool.
    #[error(
        "{} changed {name} {during} ({}); stopping without overwriting their change, with the partition left \
         at {partition}. {ways_on}",
        by.as_ref().map_or_else(|| "someone else".to_owned(), |m| m.describe()),
        changes.join(", ")
    )]
    Conflict {
        name: String,
        during: String,
        changes: Vec<String>,
        by: Option<Box<crate::core::owners::Manager>>,
        partition: i32,
        /// The ways on, as commands: go on from the new state, or roll back (for Git's template,
        /// once reverted in Git: [`Error::conflict_ways_on`]).
        ways_on: String,
    },

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

    #[error("cannot write output: {0}")]
    Output(#[source] std::io::Error),
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Error {
        Error::Refused(Box::new(refusal))
    }
}

impl From<Stop> for Error {
    fn from(stop: Stop) -> Error {
        Error::Stopped(Box::new(stop))
    }
}

macro_rules! refusals_convert {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(refusal: $t) -> Error {
                Error::Refused(Box::new(refusal.into()))
            }
        }
    )*};
}

refusals_convert!(
    crate::core::rollout::Refusal,
    crate::core::rollout::TemplateError,
    crate::core::resize::Refusal,
    crate::core::restore::Refusal,
    DnsRefusal,
    crate::core::volume_snapshots::Refusal,
    crate::core::recover::Refusal,
    crate::core::maintenance::MaintenanceRefusal,
    crate::core::gate_url::GateRefusal,
    crate::core::maintenance::scale::Refusal
);

/// The shell's own reasons to stop, each with its message (one line) and its exit code
/// ([`Stop::exit_code`]): usage errors (2), steps that failed or timed out with the state left
/// safe (3), and the rest (1). The core's refusals are `Refusal`s (`core::refusal`) instead.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    // Usage: the command line alone (exit 2).
    #[error(
        "several --context are for `status -A` and `pvc prune -A --dry-run` only; every other command works on one context"
    )]
    OneContextOnly,
    #[error("--all-contexts: the kubeconfig has no contexts")]
    NoContexts,
    #[error(
        "several contexts are for `pvc prune -A --dry-run` only: a prune deletes in one context at a time"
    )]
    FleetDeletes,
    /// The context's namespace is no Kubernetes name (checked as `-n` is).
    #[error(
        "invalid namespace in {}the kubeconfig: {why}; -n NAME overrides it",
        .context.as_deref().unwrap_or_default()
    )]
    ContextNamespace { context: Option<String>, why: String },
    #[error(
        "--dry-run=server is not supported by `{command}` (it asks one context's API server at a time); --dry-run \
         shows the plan"
    )]
    ServerDryRunUnsupported { command: &'static str },
    /// The API server could not parse `-l` (its words).
    #[error("invalid label selector {selector:?}: {why}")]
    BadSelector { selector: String, why: String },
    #[error("refusing to {action} without a terminal to confirm on: pass --yes")]
    NoTerminalToConfirm { action: String },
    #[error("cannot ask {question:?} without a terminal: pass --yes")]
    NoTerminalToAsk { question: String },
    /// Flags clap cannot relate (a conflict on a value), worded as clap words its own.
    #[error("the argument '{flag}' cannot be used with '{other}' (see --help)")]
    FlagConflict { flag: &'static str, other: &'static str },
    #[error("the argument '{flag}' requires '{requires}' (see --help)")]
    FlagRequires { flag: &'static str, requires: &'static str },
    #[error(
        "--discard-journal takes one node (a drain's journal is on the first node it names), not also {extra}"
    )]
    DiscardOneNode { extra: String },
    #[error("cannot read {path}: {error}")]
    PatchUnreadable { path: String, error: String },
    #[error("{path} is not a YAML or JSON pod template patch: {error}")]
    PatchNotYaml { path: String, error: String },
    #[error("{path} must hold a map, the patch of the pod template")]
    PatchNotAMap { path: String },
    #[error("{path} is not a valid patch of the pod template: {message}")]
    PatchInvalid { path: String, message: String },

    // --dry-run=server (exit 1).
    #[error(
        "the API server refused {refused} of the {checked} writes sent with dryRun=All (above); nothing was stored"
    )]
    ServerDryRunRefused { refused: usize, checked: usize },

    // The kubeconfig (exit 1).
    #[error("cannot load kubeconfig: user {user:?} is not in the kubeconfig (users: {})", .known.join(", "))]
    UnknownUser { user: String, known: Vec<String> },
    #[error("cannot load kubeconfig: cluster {cluster:?} is not in the kubeconfig (clusters: {})", .known.join(", "))]
    UnknownCluster { cluster: String, known: Vec<String> },

    // Waits (exit 1).
    #[error("{name} was changed by someone else while this run waited")]
    ChangedWhileWaiting { name: String },
    #[error("StatefulSet {name} was deleted while the rollout waited")]
    DeletedWhileWaiting { name: String },
    #[error("every watch of {what} ended")]
    WatchEnded { what: String },

    // rollout (exit 1).
    #[error("cannot {what}: {name} was deleted since it was read; nothing was overwritten")]
    DeletedSinceRead { what: String, name: String },
    #[error(
        "{name} changed since it was read; nothing was removed: `{again}` shows the journal as it is now"
    )]
    JournalChangedSinceRead { name: String, again: String },
    #[error(
        "the controller has not observed the latest spec of {name} (generation {generation}, observed {observed}) \
         within {within}: it may be down or blocked; nothing was changed"
    )]
    NotObservedWithin { name: String, generation: i64, observed: i64, within: String },
    #[error(
        "revision {revision} no longer exists (revisionHistoryLimit?): cannot restore its template; {left}. \
         `{discard}` gives the abort up and leaves the pods as they are"
    )]
    RevisionGone { revision: String, left: String, discard: String },
    #[error("abort incomplete: {} stay stuck; run `{again}` again to finish", .pods.join(", "))]
    AbortIncomplete { pods: Vec<String>, again: String },
    #[error(
        "pod {pod} of {name} is selected by PodDisruptionBudgets {}: the Eviction API refuses to evict a pod more \
         than one budget selects; {left}. Delete or narrow all but one of them, or add --ignore-pdb to replace \
         the pods by deletion",
        .budgets.join(" and ")
    )]
    TwoBudgets { name: String, pod: String, budgets: Vec<String>, left: String },
    #[error("cannot set up the HTTP client of --gate-http: {error}")]
    GateHttpClient { error: String },

    // rollout: steps (exit 3).
    #[error("rollout of {name} failed ({}) and was rolled back to revision {revision}", .reasons.join("; "))]
    RolledBack { name: String, reasons: Vec<String>, revision: String },
    #[error(
        "rollout of {name} stopped {position}: {}; no further pod was updated. Fix and run `{resume}` to resume, or \
         {abort} to roll back",
        .reasons.join("; ")
    )]
    StepStopped { name: String, position: String, reasons: Vec<String>, resume: String, abort: String },
    #[error(
        "every pod of {name} is updated, but the controller has not promoted revision {revision} to current"
    )]
    NotPromoted { name: String, revision: String },
    #[error("the controller did not observe the change to {name} in time")]
    NotObservedInTime { name: String },
    #[error(
        "the rollback of {name} did not complete in time: {}; run `{again}` again",
        .stragglers.join(", ")
    )]
    RollbackTimedOut { name: String, stragglers: Vec<String>, again: String },
    #[error(
        "the rollback of {name} is not complete: {reason}; relax that PodDisruptionBudget, or run `{ignoring}` to \
         delete the pods instead of evicting them"
    )]
    RollbackRefusedByBudget { name: String, reason: String, ignoring: String },
    #[error(
        "the rollback of {name} did not start: {}; no pod was taken down and the rollout journal is kept. Once \
         the budget allows it run `{again}`, or run `{ignoring}` to roll back without waiting for budgets",
        .reasons.join("; ")
    )]
    RollbackHeldByBudget { name: String, reasons: Vec<String>, again: String, ignoring: String },
    #[error("the rollback of {name} is not complete: {reason}; run `{again}` again")]
    RollbackDeclined { name: String, reason: String, again: String },
    #[error(
        "the rollback of {name} did not complete: {}; run `{again}` again",
        .reasons.join("; ")
    )]
    RollbackFailed { name: String, reasons: Vec<String>, again: String },

    // pvc prune (exit 1, 3 for snapshots).
    #[error(
        "--retain-volumes needs to read PersistentVolumes, which these credentials may not; nothing was changed"
    )]
    RetainNeedsVolumes,
    #[error("{namespace}/{name} is not part of the plan")]
    NotInPlan { namespace: String, name: String },
    #[error("{namespace}/{name} changed since the plan ({change})")]
    ChangedSincePlan { namespace: String, name: String, change: String },
    #[error(
        "{namespace}/{name} scaled up to ordinal {ordinal} while its claim {claim} was being deleted: pod {pod} will \
         start with a new, empty volume{}",
        .released.as_ref().map(|pv| format!(
            "; the old data is on the Released PV {pv} (`{status}` says how to bind it again)"
        )).unwrap_or_default()
    )]
    ScaledUpDuringDelete {
        namespace: String,
        name: String,
        ordinal: i32,
        claim: String,
        pod: String,
        /// The PV that keeps the data, when its reclaim policy is Retain.
        released: Option<String>,
        /// The `status` command of the StatefulSet.
        status: String,
    },
    #[error("{} PVC(s) were not pruned, their claims kept: {}", .claims.len(), .claims.join("; "))]
    SnapshotsFailed { claims: Vec<String> },
    #[error("{} PVC(s) were not pruned: {}", .claims.len(), .claims.join("; "))]
    NotPruned { claims: Vec<String> },

    // pvc resize (exit 1).
    #[error(
        "PVC {claim} changed since the plan (its uid or request); nothing more was changed; run the same command again"
    )]
    ClaimChanged { claim: String },
    #[error(
        "not confirmed: the claims stay FileSystemResizePending until {} restart; the StatefulSet is unchanged; run \
         the same command again to restart them and finish",
        .pods.join(", ")
    )]
    RestartNotConfirmed { pods: Vec<String> },
    #[error(
        "{name} changed while its claims grew (uid or generation); it was not re-created; run the same command again"
    )]
    ChangedWhileGrowing { name: String },
    #[error(
        "ConfigMap {config_map} exists already: another run may be swapping {name}; nothing more was changed; run \
         the same command again to finish that swap"
    )]
    SwapJournalExists { config_map: String, name: String },
    #[error(
        "{by} changed {name} between the journal and its delete (a scale, a label, a replacement); it was not \
         deleted, and nothing of theirs was undone; run the same command again"
    )]
    ChangedBeforeSwap { name: String, by: String },
    #[error("{name} was deleted by someone else before this run deleted it; nothing was re-created")]
    DeletedBeforeSwap { name: String },
    #[error(
        "the journal ConfigMap {config_map} is unreadable{}; check that StatefulSet {name} exists (`{check}`) \
         before deleting the ConfigMap",
        .error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()
    )]
    SwapJournalUnreadable {
        config_map: String,
        error: Option<String>,
        name: String,
        /// `kubectl get statefulset NAME` with the run's flags.
        check: String,
    },
    #[error(
        "StatefulSet {name} could not be re-created (its namespace is being deleted, or a StatefulSet of that name \
         came and went)"
    )]
    NotRecreated { name: String },
    #[error(
        "{name} adopted its pods and PVCs unchanged, but the journal ConfigMap {config_map} changed since it was \
         read, so it was left: check it (`{check}`), then delete it"
    )]
    SwapJournalChangedAfter {
        name: String,
        config_map: String,
        /// `kubectl get configmap NAME -o yaml` with the run's flags.
        check: String,
    },
    #[error(
        "the journal ConfigMap {config_map} changed while this run read it; nothing was changed; run the same \
         command again"
    )]
    SwapJournalChangedWhileRead { config_map: String },
    #[error("a resize of {} to other sizes is half done: {}; nothing was changed", .mid.stateful_set, .mid.describe())]
    OtherResizeHalfDone { mid: Box<crate::core::resize::MidSwap> },
    /// A command that must not act on a set whose swap is half done (or `status` asked for one
    /// whose object is gone): what stands and the two ways out.
    #[error("{}; nothing was changed", .0.describe())]
    MidResize(Box<crate::core::resize::MidSwap>),
    #[error(
        "no resize of {name} is half done (there is no journal ConfigMap {config_map}); nothing was changed"
    )]
    NothingToUndo { name: String, config_map: String },
    #[error(
        "{name} is re-created with the new sizes already (the swap is past its undo); finish with `{finish}`; nothing \
         was changed"
    )]
    UndoTooLate { name: String, finish: String },
    #[error(
        "the journal ConfigMap {config_map} was written by an older version and does not record the sizes from \
         before the swap, so it cannot be undone; finish with `{finish}`; nothing was changed"
    )]
    UndoUnknown { config_map: String, finish: String },

    // pvc resize: steps (exit 3).
    #[error(
        "PVC {claim} failed to grow to {target} ({condition}); {grown} other PVC(s) grew, the StatefulSet is \
         unchanged; {recovery}"
    )]
    ClaimFailed { claim: String, target: String, condition: String, grown: usize, recovery: String },
    #[error(
        "PVC {claim} cannot grow while pod {pod} uses it ({condition}): its class expands offline only; the \
         StatefulSet is unchanged; annotate the StorageClass {}=offline and run the same command again for the \
         downtime plan",
        crate::core::resize::EXPANSION_ANNOTATION
    )]
    ClaimInUse { claim: String, pod: String, condition: String },
    #[error("PVC {claim} is still expanding")]
    ClaimStillExpanding { claim: String },
    #[error("PVC {claim} was deleted while it grew")]
    ClaimDeleted { claim: String },
    #[error(
        "PVC {claim} did not reach {target} within {within}; the StatefulSet is unchanged; run the same command \
         again to keep waiting (`{describe}` says why)"
    )]
    ClaimTimedOut {
        claim: String,
        target: String,
        within: String,
        /// `kubectl describe pvc CLAIM` with the run's flags.
        describe: String,
    },
    #[error(
        "pod {pod} did not come back Ready within {within} after its restart; the StatefulSet is unchanged; run the \
         same command again once it is Ready"
    )]
    PodNotBack { pod: String, within: String },
    #[error(
        "pod {pod} could not be restarted within {within}: {hold}; the StatefulSet is unchanged; {resume}, or \
         restart it by hand once that is safe: `{by_hand}`"
    )]
    RestartHeld {
        pod: String,
        /// Why, typed: the members down, or the budgets that refused its eviction.
        hold: crate::core::resize::RestartHold,
        within: String,
        resume: String,
        by_hand: String,
    },
    #[error(
        "PVC {claim} did not grow after pod {pod} restarted ({state}); the StatefulSet is unchanged; {recovery}"
    )]
    ClaimNotGrownAfterRestart { claim: String, pod: String, state: String, recovery: String },
    #[error("the old StatefulSet {name} is still being deleted")]
    OldStillDeleting { name: String },
    #[error(
        "{name} was re-created and controls what is left, but not everything was kept: {}; the swap is over and its \
         journal removed",
        .problems.join("; ")
    )]
    AdoptionBroken { name: String, problems: Vec<String> },
    /// Someone else created a StatefulSet of that name while the swap had none: it is never
    /// taken for the swap's result.
    #[error(
        "{name} was re-created meanwhile by {by}, not by this command, with {there} (the swap wanted {wanted}); it \
         was left as it is, and so was the journal; to keep that StatefulSet and end the swap: `{undo}`"
    )]
    SwapPreempted { name: String, by: String, there: String, wanted: String, undo: String },
    #[error(
        "{name} was re-created, but the controller did not adopt everything within {within}: {}; run the same \
         command again to check again",
        .left.join("; ")
    )]
    AdoptionPending { name: String, within: String, left: Vec<String> },

    // pvc restore (exit 1).
    #[error("PVC {claim} was created by someone else just now; nothing was created")]
    ClaimCreatedMeanwhile { claim: String },

    // drain and restart: a member that did not come back, a budget, a gate (exit 3).
    #[error("{what} stopped: {reason}; {left}; {resume}")]
    MaintenanceStopped { what: String, reason: String, left: String, resume: String },
    // recover (exit 1).
    #[error("pod {pod} was force-deleted, but {why}")]
    ReplacementWrong { pod: String, why: String },
    #[error("pod {pod} was force-deleted, but its replacement is not Ready after {within} ({state})")]
    ReplacementNotReady { pod: String, within: String, state: String },
    /// Its volumes are pinned to the failed node: the replacement can start only there.
    #[error("pod {pod} was force-deleted; its replacement ({state}) can start only on {node}: {why}")]
    ReplacementPinned { pod: String, state: String, node: String, why: String },
}

impl Stop {
    pub fn exit_code(&self) -> u8 {
        match self {
            Stop::OneContextOnly
            | Stop::ContextNamespace { .. }
            | Stop::NoContexts
            | Stop::FleetDeletes
            | Stop::ServerDryRunUnsupported { .. }
            | Stop::BadSelector { .. }
            | Stop::NoTerminalToConfirm { .. }
            | Stop::NoTerminalToAsk { .. }
            | Stop::FlagConflict { .. }
            | Stop::FlagRequires { .. }
            | Stop::DiscardOneNode { .. }
            | Stop::PatchUnreadable { .. }
            | Stop::PatchNotYaml { .. }
            | Stop::PatchNotAMap { .. }
            | Stop::PatchInvalid { .. } => exit::USAGE,
            Stop::RolledBack { .. }
            | Stop::MaintenanceStopped { .. }
            | Stop::StepStopped { .. }
            | Stop::NotPromoted { .. }
            | Stop::NotObservedInTime { .. }
            | Stop::RollbackTimedOut { .. }
            | Stop::RollbackRefusedByBudget { .. }
            | Stop::RollbackHeldByBudget { .. }
            | Stop::RollbackDeclined { .. }
            | Stop::RollbackFailed { .. }
            | Stop::SnapshotsFailed { .. }
            | Stop::ClaimFailed { .. }
            | Stop::ClaimInUse { .. }
            | Stop::ClaimStillExpanding { .. }
            | Stop::ClaimDeleted { .. }
            | Stop::ClaimTimedOut { .. }
            | Stop::PodNotBack { .. }
            | Stop::RestartHeld { .. }
            | Stop::ClaimNotGrownAfterRestart { .. }
            | Stop::OldStillDeleting { .. }
            | Stop::AdoptionBroken { .. }
            | Stop::SwapPreempted { .. }
            | Stop::AdoptionPending { .. } => exit::STEP_FAILED,
            _ => exit::ERROR,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Refused(refusal) if refusal.is_usage() => exit::USAGE,
            Error::Stopped(stop) => stop.exit_code(),
            Error::Conflict { .. } => exit::STEP_FAILED,
            Error::Interrupted { .. } => exit::INTERRUPTED,
            Error::Stranded { error, .. } => error.exit_code(),
            _ => exit::ERROR,
        }
    }

    /// The ways on from an [`Error::Conflict`]: `resume`, the command that goes on from the new
    /// state, or `abort`, how to roll back (`core::rollout::decide::abort_hint`).
    pub fn conflict_ways_on(resume: &str, abort: &str) -> String {
        format!("Run `{resume}` to continue from the new state, or {abort} to roll back")
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
            (Stop::FlagConflict { flag: "--output dns", other: "--watch" }.into(), exit::USAGE),
            (Stop::NotObservedInTime { name: "web".into() }.into(), exit::STEP_FAILED),
            (
                Error::interrupted("web is left at partition 2", Some("run it again".into())),
                exit::INTERRUPTED,
            ),
            (Stop::RetainNeedsVolumes.into(), exit::ERROR),
            (DnsRefusal::ServiceMissing { name: "zk".into(), service: "zk".into() }.into(), exit::ERROR),
            (
                DnsRefusal::NoSuchPort {
                    service: "zk".into(),
                    port: "peer".into(),
                    ports: "client 2181/TCP".into(),
                }
                .into(),
                exit::USAGE,
            ),
            (
                crate::core::rollout::Refusal::PartitionOutOfRange {
                    name: "web".into(),
                    partition: 9,
                    replicas: 3,
                }
                .into(),
                exit::USAGE,
            ),
            (crate::core::rollout::TemplateError::NotAnImage("app".into()).into(), exit::USAGE),
            (crate::core::rollout::TemplateError::NoTemplate("web-1".into()).into(), exit::ERROR),
            (
                Error::Stranded {
                    error: Box::new(Stop::NotPromoted { name: "web".into(), revision: "r".into() }.into()),
                    left: "web is left at partition 0".into(),
                    resume: "run it again".into(),
                },
                exit::STEP_FAILED,
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
