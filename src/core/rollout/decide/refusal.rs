//! Why a rollout run must not change anything: the refusal catalogue, each saying whether it
//! is a usage error, whether waiting may lift it and whether it waits for pods.

use k8s_openapi::jiff::Timestamp;

use super::super::journal::JournalError;

/// Why a run must not change anything.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(
        "--partition has no meaning for {name}: it uses the OnDelete update strategy, which has no partition; \
         use --steps to choose how many pods each step replaces"
    )]
    PartitionOnDelete { name: String },
    #[error(
        "--by-zone needs a StatefulSet whose pods this tool replaces itself (OnDelete, or with --evict): {name} uses \
         RollingUpdate, where the controller replaces pods highest ordinal first whatever their zone"
    )]
    ZonesNeedOnDelete { name: String },
    #[error(
        "--evict starts a rollout: a rollout of {name} is in progress already; run `{resume}` (without --evict) to \
         resume it, or `{abort}` to roll it back; nothing was changed"
    )]
    EvictMidRollout { name: String, resume: String, abort: String },
    #[error(
        "--gate-container {container}: no container {container:?} in the pod template (containers: {known})"
    )]
    UnknownGateContainer { container: String, known: String },
    #[error(
        "--hold is not needed for {name}: under the OnDelete update strategy no pod moves until it is deleted; \
         change the template in Git, then `{resume}` steps it through; nothing was changed"
    )]
    HoldOnDelete { name: String, resume: String },
    #[error(
        "{name} uses the Recreate update strategy (KEP-3541): the controller deletes every pod before it creates \
         any on the new revision, so there is no partition to step; nothing was changed. To roll it out in steps, \
         switch it to RollingUpdate with every pod held back first (`{patch}`), then run this again"
    )]
    Recreate {
        name: String,
        /// The `kubectl patch` that switches it, every pod held back.
        patch: String,
    },
    #[error("{0}")]
    Owned(Box<OwnedField>),
    #[error(
        "the template of {name} came from {owner}, not from this tool: an abort here would write the old template, \
         which its owner sets back {when}; nothing was changed. {undo} instead: once it is applied, the controller \
         rolls back the pods released so far ({released}), and `{abort}` then waits for them, restores partition \
         {partition_before} and ends the rollout. To roll back now anyway, add --override-owner",
        when = .tool.reverts_when(),
        undo = super::owners::capitalized(.tool.undo())
    )]
    RevertInGit {
        name: String,
        owner: String,
        /// The owner's tool: when it sets the old template back, and how the change is taken
        /// back where it came from.
        tool: crate::core::owners::Tool,
        released: String,
        partition_before: i32,
        /// The abort to run once it is reverted, with the run's flags.
        abort: String,
    },
    #[error("{name} has an unknown update strategy {strategy:?}")]
    UnknownStrategy { name: String, strategy: String },
    #[error("--partition {partition} is out of range: {name} has {replicas} replicas (0..={replicas})")]
    PartitionOutOfRange { name: String, partition: i64, replicas: i32 },
    #[error(
        "the controller has not observed the latest spec of {name} yet: its revisions and counts are stale"
    )]
    NotObserved { name: String },
    #[error(
        "{name} is scaling (status.replicas {counted} of {replicas}): a partition does not hold back pods created \
         meanwhile; wait until it settles. If a broken template blocks the scale-up, fix the template itself or \
         scale back"
    )]
    Scaling { name: String, counted: i32, replicas: i32 },
    #[error(
        "a rollout of {name} started at {started_at} is in progress: run `{resume}` to resume it, or {abort} \
         before staging another"
    )]
    InProgress {
        name: String,
        started_at: Timestamp,
        resume: String,
        /// How to roll it back ([`super::abort_hint`]).
        abort: String,
    },
    #[error("{name} cannot be rolled out now: {reason}; nothing was changed")]
    Blocked { name: String, reason: String },
    #[error(
        "ordinal {ordinal} of {name} has no pod ({pod}) and the controller has not created it: a rollout would \
         wait for it forever; nothing was changed. `{status}` shows why"
    )]
    PodMissing { name: String, ordinal: i32, pod: String, status: String },
    #[error(
        "pod {pod} belongs to {name} but holds an ordinal outside its live ordinals {range} (a scale-down that \
         has not finished, or a pod the StatefulSet adopted): a partition does not hold it back; nothing was \
         changed. Wait for the scale-down to finish, or delete the pod if it is a stray"
    )]
    StrayPod { name: String, pod: String, range: String },
    #[error("{what} is being deleted{}: nothing to roll out or back; nothing was changed",
        if finalizers.is_empty() { String::new() } else { format!(" (finalizers {})", finalizers.join(", ")) })]
    Deleting { what: String, finalizers: Vec<String> },
    #[error(
        "an abort of {name} was interrupted and is not finished: run `{abort}` to finish it before --image, \
         --patch or --partition; nothing was changed"
    )]
    AbortPending { name: String, abort: String },
    #[error(
        "{source}; nothing was changed. `{discard}` shows it and removes it (the StatefulSet stays as it is)"
    )]
    Journal {
        name: String,
        /// The `rollout --discard-journal` command.
        discard: String,
        #[source]
        source: JournalError,
    },
}

/// A field this run would write that a tool which sets it back owns.
#[derive(Debug, thiserror::Error)]
#[error(
    "{field} of {name} is owned by {owner}, which sets it back {when}: {consequence}; nothing was changed. {remedy}"
)]
pub struct OwnedField {
    pub name: String,
    /// `The partition`, `The image of container app`, `The pod template`.
    pub field: String,
    pub owner: String,
    /// When the owner sets it back (`at its next sync (at once with self-heal)`).
    pub when: &'static str,
    pub consequence: &'static str,
    pub remedy: String,
    /// What to change in the owner's configuration, to print above the error.
    pub snippet: Option<String>,
}

impl Refusal {
    /// A refusal caused by the command line alone (exit 2), not by the cluster's state.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Refusal::PartitionOutOfRange { .. }
                | Refusal::PartitionOnDelete { .. }
                | Refusal::ZonesNeedOnDelete { .. }
                | Refusal::UnknownGateContainer { .. }
        )
    }

    /// A refusal that waiting may lift: the controller catching up with the spec, or a pod
    /// count that is off only while a pod is replaced (the shell waits, then decides again).
    pub fn may_pass(&self) -> bool {
        matches!(
            self,
            Refusal::NotObserved { .. }
                | Refusal::Scaling { .. }
                | Refusal::PodMissing { .. }
                | Refusal::StrayPod { .. }
        )
    }

    /// A refusal about the pods (missing, strays, a short count): the shell waits for them to
    /// settle before deciding again.
    pub fn waits_for_pods(&self) -> bool {
        matches!(self, Refusal::Scaling { .. } | Refusal::PodMissing { .. } | Refusal::StrayPod { .. })
    }
}
