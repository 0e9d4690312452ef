//! The journal of a rollout started by this tool, kept in an annotation on the StatefulSet
//! itself, so that any later invocation can resume or abort it (nothing is installed in the
//! cluster).

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetUpdateStrategy};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde::{Deserialize, Serialize};

use super::gates::Gates;
use super::plan::{Steps, StepsError};
use crate::core::names::OrdinalRange;
use crate::core::objects::{LivePods, ordinal_range, partition, pod_ready};

/// The annotation that holds the journal (its schema is in docs/rollout.md).
pub const ROLLOUT_ANNOTATION: &str = "kubectl-stateful.dev/rollout";

/// What this tool writes on the StatefulSet while a rollout runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Journal {
    /// Step sizes as given (`1`, `50%`), re-planned against the replicas on resume.
    pub steps: Vec<String>,
    /// The partition before the rollout, restored on abort.
    pub partition_before: i32,
    /// The revision pods ran before the rollout, restored on abort.
    pub from_revision: String,
    pub started_at: Timestamp,
    /// The replica count when the rollout staged: pods at higher replica indexes that run the
    /// update revision were created by a scale-up, not released by a step. Absent in journals
    /// of rollouts that did not stage, and of earlier versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staged_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub aborting: bool,
    /// Written by `--hold`: the partition holds every pod back for a template change that the
    /// StatefulSet's owner (Git, through Argo CD, Flux or Helm) applies, not this tool. An
    /// abort then cannot restore the template itself (the owner would set it back).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
    /// The gates each step passes (`--gate-exec`, `--gate-http`, PodDisruptionBudgets,
    /// `--on-failure`), so that a resumed run checks the same. Absent: the defaults.
    #[serde(default, skip_serializing_if = "Gates::is_default")]
    pub gates: Gates,
    /// `--evict` on a RollingUpdate StatefulSet: its `spec.updateStrategy` as it was, restored
    /// when the rollout finishes or is aborted. While the rollout runs the strategy is OnDelete,
    /// so that this tool replaces each pod by eviction. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy_before: Option<StatefulSetUpdateStrategy>,
    /// `--by-zone`: a resumed run replaces the remaining pods one zone at a time too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_zone: bool,
    /// Which pods were Ready when the rollout started: an abort waits for those to be Ready
    /// again, and only for those (a pod that never was is moved back, not waited for). Absent
    /// in journals of earlier versions and of an abort without a journal: then every pod must
    /// be Ready for an abort to end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_at_start: Option<ReadyAtStart>,
}

/// The health of a StatefulSet when its rollout started (`readyAtStart` in the journal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadyAtStart {
    /// The ordinals whose pod was Ready (and not terminating).
    pub ordinals: Vec<i32>,
    /// The replica count then.
    pub replicas: i32,
}

impl ReadyAtStart {
    /// Which live pods of `sts` are Ready now.
    pub fn of(sts: &StatefulSet, pods: &[Pod]) -> ReadyAtStart {
        let ordinals =
            LivePods::of(sts, pods).running().filter(|(_, p)| pod_ready(p)).map(|(o, _)| o).collect();
        ReadyAtStart { ordinals, replicas: ordinal_range(sts).replicas }
    }

    /// Whether the pod at `ordinal` was Ready at the start. An ordinal beyond the replicas then
    /// (a scale-up since) had no pod to judge: it counts as Ready, as before this record.
    pub fn was_ready(&self, ordinal: i32, range: OrdinalRange) -> bool {
        self.ordinals.contains(&ordinal) || range.index_of(ordinal) >= i64::from(self.replicas.max(0))
    }

    /// Whether every pod was Ready at the start.
    pub fn all(&self) -> bool {
        self.ordinals.len() >= self.replicas.max(0) as usize
    }

    /// `0/3 Ready at its start`.
    pub fn describe(&self) -> String {
        format!("{}/{} Ready at its start", self.ordinals.len(), self.replicas)
    }
}

/// Why the journal cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("annotation {ROLLOUT_ANNOTATION} is not readable: {0}")]
    Unreadable(#[source] serde_json::Error),
    #[error("annotation {ROLLOUT_ANNOTATION} holds unusable steps: {0}")]
    Steps(#[source] StepsError),
}

impl Journal {
    /// A new journal of a rollout of `sts` that starts `now` from `from_revision`: the partition
    /// before it, and nothing else recorded yet (the callers say the rest, with `..`).
    pub fn new(sts: &StatefulSet, from_revision: String, now: Timestamp) -> Journal {
        Journal {
            steps: Vec::new(),
            partition_before: partition(sts),
            from_revision,
            started_at: now,
            staged_replicas: None,
            aborting: false,
            held: false,
            gates: Gates::default(),
            strategy_before: None,
            by_zone: false,
            ready_at_start: None,
        }
    }

    /// The journal on `sts`, if there is one.
    ///
    /// # Errors
    /// [`JournalError::Unreadable`] when the annotation is not a journal.
    pub fn of(sts: &StatefulSet) -> Result<Option<Journal>, JournalError> {
        match sts.annotations().get(ROLLOUT_ANNOTATION) {
            Some(text) => serde_json::from_str(text).map(Some).map_err(JournalError::Unreadable),
            None => Ok(None),
        }
    }

    /// The step sizes, parsed again.
    ///
    /// # Errors
    /// [`JournalError::Steps`] when someone wrote sizes that do not parse or do not grow.
    pub fn step_sizes(&self) -> Result<Steps, JournalError> {
        Steps::from_sizes(self.steps.iter().map(String::as_str)).map_err(JournalError::Steps)
    }

    /// The update strategy from before an `--evict` rollout, held at partition = `replicas`:
    /// restoring it then moves no pod (as it was, the controller would roll every pod still on
    /// the old revision at once). `None` for other rollouts.
    pub fn held_strategy_before(&self, replicas: i32) -> Option<StatefulSetUpdateStrategy> {
        let mut held = self.strategy_before.clone()?;
        held.rolling_update.get_or_insert_with(Default::default).partition = Some(replicas);
        Some(held)
    }

    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).expect("a journal is plain strings and numbers: it always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::sts;

    #[test]
    fn journal_round_trips_through_the_annotation() {
        let journal = Journal {
            steps: vec!["1".into(), "50%".into()],
            partition_before: 2,
            from_revision: "web-abc".into(),
            started_at: Timestamp::from_second(1_700_000_000).unwrap(),
            staged_replicas: Some(3),
            aborting: false,
            held: true,
            gates: Gates { exec: vec!["pg_isready".into()], ..Gates::default() },
            strategy_before: None,
            by_zone: false,
            ready_at_start: Some(ReadyAtStart { ordinals: vec![0, 2], replicas: 3 }),
        };
        let web = sts("web", 3).annotation(ROLLOUT_ANNOTATION, &journal.to_annotation()).build();
        assert_eq!(Journal::of(&web).unwrap(), Some(journal));
        let broken = sts("web", 3).annotation(ROLLOUT_ANNOTATION, "{").build();
        assert!(matches!(Journal::of(&broken), Err(JournalError::Unreadable(_))));
        assert_eq!(Journal::of(&sts("web", 3).build()).unwrap(), None);
    }

    #[test]
    fn an_evict_rollouts_strategy_is_restored_held_back() {
        let strategy: StatefulSetUpdateStrategy = serde_json::from_value(
            serde_json::json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}),
        )
        .unwrap();
        let journal = Journal {
            strategy_before: Some(strategy),
            ..Journal::new(&sts("web", 3).build(), "r".into(), Timestamp::from_second(0).unwrap())
        };
        let held = journal.held_strategy_before(3).unwrap();
        assert_eq!(
            serde_json::to_value(held).unwrap(),
            serde_json::json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 3}})
        );
        assert_eq!(Journal { strategy_before: None, ..journal }.held_strategy_before(3), None);
    }
}
