//! Step sizes and the plan of partitions a rollout walks through.
//!
//! The controller updates a pod when its replica index (ordinal − `ordinals.start`) is at or
//! above the partition (`stateful_set_control.go`: `replicas[getOrdinal(pod)-getStartOrdinal(set)]`),
//! highest index first. So "update `n` pods" means "partition = replicas − n", and the pods it
//! releases are the ordinals `start + replicas − n .. start + replicas`.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::core::names::OrdinalRange;

/// How many pods a step updates in total: a count or a percentage of replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepSize {
    Pods(u32),
    Percent(u32),
}

/// Why a `--steps` list (or a journal's) does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepsError {
    #[error("step {0:?} is neither a pod count (3) nor a percentage (50%)")]
    NotASize(String),
    #[error("step {0:?} updates no pod")]
    Zero(String),
    #[error("step {0:?} is more than 100%")]
    OverHundred(String),
    #[error("steps must grow: {0} is followed by {1}")]
    NotGrowing(StepSize, StepSize),
}

impl StepSize {
    /// Pods updated once this step is done, out of `replicas` (percentages round up, so 1% of
    /// 3 replicas is one pod, never zero).
    pub fn pods(self, replicas: i32) -> i32 {
        let replicas = replicas.max(0);
        let pods = match self {
            StepSize::Pods(n) => i64::from(n),
            StepSize::Percent(p) => (i64::from(replicas) * i64::from(p) + 99) / 100,
        };
        pods.min(i64::from(replicas)) as i32
    }
}

impl FromStr for StepSize {
    type Err = StepsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (digits, percent) = match text.strip_suffix('%') {
            Some(digits) => (digits, true),
            None => (text, false),
        };
        let value: u32 = digits.parse().map_err(|_| StepsError::NotASize(text.to_owned()))?;
        match (percent, value) {
            (_, 0) => Err(StepsError::Zero(text.to_owned())),
            (true, p) if p > 100 => Err(StepsError::OverHundred(text.to_owned())),
            (true, p) => Ok(StepSize::Percent(p)),
            (false, n) => Ok(StepSize::Pods(n)),
        }
    }
}

impl fmt::Display for StepSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepSize::Pods(n) => write!(f, "{n}"),
            StepSize::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// The step sizes of a plan, as `--steps 1,50%,100%` gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Steps(pub Vec<StepSize>);

impl Default for Steps {
    /// One pod, then half, then all.
    fn default() -> Self {
        Steps(vec![StepSize::Pods(1), StepSize::Percent(50), StepSize::Percent(100)])
    }
}

impl FromStr for Steps {
    type Err = StepsError;

    /// Parses `1,50%,100%`. Sizes must grow; the plan adds a final 100% step itself.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Steps::from_sizes(text.split(','))
    }
}

impl Steps {
    /// Parses sizes one by one (as the journal keeps them) and checks that they grow.
    pub fn from_sizes<'s>(sizes: impl IntoIterator<Item = &'s str>) -> Result<Steps, StepsError> {
        let sizes = sizes.into_iter().map(str::parse).collect::<Result<Vec<StepSize>, _>>()?;
        for pair in sizes.windows(2) {
            let shrinks = match (pair[0], pair[1]) {
                (StepSize::Pods(a), StepSize::Pods(b)) | (StepSize::Percent(a), StepSize::Percent(b)) => {
                    a >= b
                }
                // A count and a percentage are not compared with each other.
                _ => false,
            };
            if shrinks {
                return Err(StepsError::NotGrowing(pair[0], pair[1]));
            }
        }
        Ok(Steps(sizes))
    }
}

impl fmt::Display for Steps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sizes: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&sizes.join(","))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// 1-based; 0 for the wait on what an earlier run already released.
    pub number: usize,
    pub partition: i32,
    /// Pods updated once this step is done.
    pub updated: i32,
    /// The ordinals this step releases, in the order the controller updates them.
    pub ordinals: Vec<i32>,
}

/// The partitions a rollout walks through, from `from_partition` (exclusive) down to 0.
/// Steps that would not lower the partition below `from_partition` are dropped, so a plan
/// never raises it.
pub fn plan(range: OrdinalRange, sizes: &[StepSize], from_partition: i32) -> Vec<Step> {
    let replicas = range.replicas.max(0);
    let mut counts: Vec<i32> = sizes.iter().map(|s| s.pods(replicas)).collect();
    counts.push(replicas);
    counts.sort_unstable();
    counts.dedup();
    let mut previous = from_partition.clamp(0, replicas);
    let mut steps = Vec::new();
    for count in counts {
        let partition = replicas - count;
        if partition >= previous {
            continue;
        }
        steps.push(Step {
            number: steps.len() + 1,
            partition,
            updated: count,
            ordinals: released(range, partition, previous),
        });
        previous = partition;
    }
    // A partition above the replicas (a set parked at 0 with a partition, say) holds no pod back
    // now, but would hold back every pod created later: the last step still takes it to 0, moving
    // no pod, or the rollout could never finish.
    if steps.last().map_or(from_partition, |s| s.partition) > 0 {
        steps.push(Step { number: steps.len() + 1, partition: 0, updated: replicas, ordinals: Vec::new() });
    }
    steps
}

/// One explicit step (`--partition N`) from partition `from` to `to`.
pub fn single_step(range: OrdinalRange, from: i32, to: i32) -> Step {
    Step {
        number: 1,
        partition: to,
        updated: range.replicas - to,
        ordinals: released(range, to, from.max(to)),
    }
}

/// Ordinals whose replica index is in `[partition, previous)`, highest first.
pub fn released(range: OrdinalRange, partition: i32, previous: i32) -> Vec<i32> {
    range
        .ordinals()
        .rev()
        .filter(|&o| (i64::from(partition)..i64::from(previous)).contains(&range.index_of(o)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> Result<Vec<StepSize>, StepsError> {
        text.parse::<Steps>().map(|s| s.0)
    }

    #[test]
    fn parses_step_lists() {
        assert_eq!("1,50%,100%".parse::<Steps>().unwrap(), Steps::default());
        assert_eq!(Steps::default().to_string(), "1,50%,100%");
        assert_eq!(parse(" 2 , 10% ").unwrap(), vec![StepSize::Pods(2), StepSize::Percent(10)]);
        for bad in ["", "0", "1,,2", "abc", "150%", "-1", "3,1", "50%,10%", "%"] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(parse("0"), Err(StepsError::Zero("0".into())));
        assert_eq!(parse("3,1"), Err(StepsError::NotGrowing(StepSize::Pods(3), StepSize::Pods(1))));
    }

    #[test]
    fn default_plan_is_one_pod_then_half_then_all() {
        let steps = plan(OrdinalRange { start: 0, replicas: 5 }, &Steps::default().0, 5);
        let summary: Vec<_> = steps.iter().map(|s| (s.partition, s.ordinals.clone())).collect();
        assert_eq!(summary, vec![(4, vec![4]), (2, vec![3, 2]), (0, vec![1, 0])]);
    }

    #[test]
    fn plan_counts_replica_indexes_from_the_start_ordinal() {
        let steps = plan(OrdinalRange { start: 10, replicas: 3 }, &Steps::default().0, 3);
        let summary: Vec<_> = steps.iter().map(|s| (s.partition, s.ordinals.clone())).collect();
        assert_eq!(summary, vec![(2, vec![12]), (1, vec![11]), (0, vec![10])]);
    }

    #[test]
    fn resumed_plan_skips_steps_already_taken() {
        let steps = plan(OrdinalRange { start: 0, replicas: 4 }, &Steps::default().0, 2);
        let summary: Vec<_> = steps.iter().map(|s| (s.number, s.partition, s.ordinals.clone())).collect();
        assert_eq!(summary, vec![(1, 0, vec![1, 0])]);
    }

    #[test]
    fn single_replica_is_one_step() {
        let steps = plan(OrdinalRange { start: 0, replicas: 1 }, &Steps::default().0, 1);
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].ordinals, vec![0]);
        assert!(plan(OrdinalRange { start: 0, replicas: 0 }, &Steps::default().0, 0).is_empty());
    }

    /// A set parked at 0 replicas with a partition: one step to partition 0 that moves no pod, so
    /// the rollout finishes (else every pod created later would stay on the old revision, and
    /// each run would stop at "partition is 2" again).
    #[test]
    fn a_partition_above_the_replicas_is_still_taken_to_zero() {
        for (replicas, from) in [(0, 2), (0, 1)] {
            let steps = plan(OrdinalRange { start: 0, replicas }, &Steps::default().0, from);
            let summary: Vec<_> = steps.iter().map(|s| (s.number, s.partition, s.ordinals.clone())).collect();
            assert_eq!(summary, vec![(1, 0, vec![])], "replicas {replicas}, partition {from}");
        }
        let steps = plan(OrdinalRange { start: 0, replicas: 2 }, &Steps::default().0, 5);
        assert_eq!(steps.last().map(|s| s.partition), Some(0));
    }

    #[test]
    fn a_single_step_releases_what_lies_between() {
        let range = OrdinalRange { start: 0, replicas: 4 };
        assert_eq!(single_step(range, 4, 2).ordinals, vec![3, 2]);
        assert!(single_step(range, 2, 3).ordinals.is_empty());
    }

    fn sizes() -> impl Strategy<Value = Vec<StepSize>> {
        let size = prop_oneof![(1u32..50).prop_map(StepSize::Pods), (1u32..=100).prop_map(StepSize::Percent)];
        proptest::collection::vec(size, 0..6)
    }

    proptest! {
        #[test]
        fn plans_only_lower_the_partition_and_release_each_pod_once(
            start in 0i32..1000, replicas in 0i32..300, sizes in sizes(), from in -5i32..400,
        ) {
            let range = OrdinalRange { start, replicas };
            let steps = plan(range, &sizes, from);
            let asked = from;
            let from = from.clamp(0, replicas);
            let mut previous = asked.max(0);
            let mut released_all = Vec::new();
            for step in &steps {
                prop_assert!(step.partition < previous, "partition must fall: {} then {}", previous, step.partition);
                prop_assert!(step.partition >= 0);
                prop_assert_eq!(step.updated, replicas - step.partition);
                prop_assert!(step.ordinals.windows(2).all(|w| w[0] > w[1]), "highest ordinal first");
                released_all.extend(step.ordinals.iter().copied());
                previous = step.partition;
            }
            if asked > 0 {
                prop_assert_eq!(steps.last().map(|s| s.partition), Some(0), "a partition left above 0 holds back later pods");
            }
            // Exactly the ordinals the starting partition held back, each once.
            let mut expected: Vec<i32> = range.ordinals().filter(|&o| range.index_of(o) < i64::from(from)).collect();
            released_all.sort_unstable();
            expected.sort_unstable();
            prop_assert_eq!(released_all, expected);
        }

        #[test]
        fn step_parser_never_panics(text in "\\PC*") {
            let _ = text.parse::<Steps>();
        }
    }
}
