//! The order in which a rollout replaces pods itself (OnDelete StatefulSets, where the
//! controller never replaces a pod until it is deleted): highest ordinal first by default, as
//! the controller would; with zones, one zone at a time.
//!
//! Step sizes mean what they mean for a partitioned rollout (`1,50%,100%`: pods updated once
//! the step is done); the zone order adds cuts, never merges: a step never spans two zones.

use std::collections::BTreeMap;

use super::plan::{Step, StepSize};
use crate::core::names::OrdinalRange;

/// The well-known node label a pod's zone is read from (kubernetes.io docs, "Well-Known
/// Labels, Annotations and Taints").
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// One live ordinal and the zone of its pod's node (`None`: not scheduled, or the node has no
/// zone label; such pods form a zone of their own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub ordinal: i32,
    pub zone: Option<String>,
}

/// The replacement order of `range`'s ordinals: highest first; with `zones` (the zone of each
/// ordinal's node), one zone after the other, the zone of the highest ordinal first, then the
/// zone holding the next-highest ordinal not yet ordered, and so on; highest first within a
/// zone.
pub fn replacement_order(range: OrdinalRange, zones: Option<&BTreeMap<i32, Option<String>>>) -> Vec<Placed> {
    let descending: Vec<i32> = range.ordinals().rev().collect();
    let Some(zones) = zones else {
        return descending.into_iter().map(|ordinal| Placed { ordinal, zone: None }).collect();
    };
    let zone_of = |o: i32| zones.get(&o).cloned().flatten();
    let mut order = Vec::with_capacity(descending.len());
    let mut seen_zones: Vec<Option<String>> = Vec::new();
    for &ordinal in &descending {
        let zone = zone_of(ordinal);
        if seen_zones.contains(&zone) {
            continue;
        }
        seen_zones.push(zone.clone());
        order.extend(
            descending
                .iter()
                .filter(|&&o| zone_of(o) == zone)
                .map(|&o| Placed { ordinal: o, zone: zone.clone() }),
        );
    }
    order
}

/// The steps of a rollout that replaces pods in `order`: cut where the step sizes say (pods
/// updated once the step is done, out of `order.len()`) and, when the order has zones, where
/// the zone changes. Ordinals in `updated` (already on the update revision) are left out and
/// steps left empty are dropped, keeping their numbers, so a resumed rollout numbers its steps
/// as the first run did. `partition` of each step is the number of pods not yet updated once
/// it is done: the partition a RollingUpdate would have (nothing writes it).
pub fn eviction_plan(order: &[Placed], sizes: &[StepSize], updated: &[i32]) -> Vec<Step> {
    let total = order.len() as i32;
    let mut cuts: Vec<i32> = sizes.iter().map(|s| s.pods(total)).collect();
    cuts.push(total);
    for (i, pair) in order.windows(2).enumerate() {
        if pair[0].zone != pair[1].zone {
            cuts.push(i as i32 + 1);
        }
    }
    cuts.retain(|&c| c > 0);
    cuts.sort_unstable();
    cuts.dedup();
    let mut steps = Vec::new();
    let mut from = 0;
    for (number, cut) in cuts.into_iter().enumerate() {
        let ordinals: Vec<i32> = order[from as usize..cut as usize]
            .iter()
            .map(|p| p.ordinal)
            .filter(|o| !updated.contains(o))
            .collect();
        from = cut;
        if ordinals.is_empty() {
            continue;
        }
        steps.push(Step { number: number + 1, partition: total - cut, updated: cut, ordinals });
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::rollout::plan::Steps;

    fn range(start: i32, replicas: i32) -> OrdinalRange {
        OrdinalRange { start, replicas }
    }

    fn zones(pairs: &[(i32, &str)]) -> BTreeMap<i32, Option<String>> {
        pairs.iter().map(|(o, z)| (*o, (!z.is_empty()).then(|| (*z).to_owned()))).collect()
    }

    fn ordinals(order: &[Placed]) -> Vec<i32> {
        order.iter().map(|p| p.ordinal).collect()
    }

    fn steps(plan: &[Step]) -> Vec<(usize, i32, Vec<i32>)> {
        plan.iter().map(|s| (s.number, s.updated, s.ordinals.clone())).collect()
    }

    fn sizes(text: &str) -> Vec<StepSize> {
        text.parse::<Steps>().unwrap().0
    }

    #[test]
    fn without_zones_the_order_is_highest_ordinal_first() {
        assert_eq!(ordinals(&replacement_order(range(0, 4), None)), [3, 2, 1, 0]);
        assert_eq!(ordinals(&replacement_order(range(10, 3), None)), [12, 11, 10]);
        assert_eq!(ordinals(&replacement_order(range(0, 0), None)), [] as [i32; 0]);
    }

    #[test]
    fn with_zones_one_zone_after_the_other_starting_with_the_highest_ordinals() {
        let placed = zones(&[(0, "c"), (1, "b"), (2, "a"), (3, "c"), (4, "b"), (5, "a")]);
        let order = replacement_order(range(0, 6), Some(&placed));
        assert_eq!(ordinals(&order), [5, 2, 4, 1, 3, 0]);
        // A pod without a zone (unscheduled, or a node without the label) is a zone of its own.
        let placed = zones(&[(0, "a"), (1, ""), (2, "a")]);
        assert_eq!(ordinals(&replacement_order(range(0, 3), Some(&placed))), [2, 0, 1]);
    }

    #[test]
    fn the_plan_cuts_at_step_sizes() {
        let order = replacement_order(range(0, 4), None);
        assert_eq!(
            steps(&eviction_plan(&order, &sizes("1,50%,100%"), &[])),
            [(1, 1, vec![3]), (2, 2, vec![2]), (3, 4, vec![1, 0])]
        );
        let order = replacement_order(range(3, 3), None);
        assert_eq!(steps(&eviction_plan(&order, &sizes("1"), &[])), [(1, 1, vec![5]), (2, 3, vec![4, 3])]);
        let plan = eviction_plan(&order, &sizes("1"), &[]);
        assert_eq!(plan.iter().map(|s| s.partition).collect::<Vec<_>>(), [2, 0]);
    }

    #[test]
    fn no_step_spans_two_zones() {
        let placed = zones(&[(0, "c"), (1, "b"), (2, "a"), (3, "c"), (4, "b"), (5, "a")]);
        let order = replacement_order(range(0, 6), Some(&placed));
        assert_eq!(
            steps(&eviction_plan(&order, &sizes("1,50%,100%"), &[])),
            [(1, 1, vec![5]), (2, 2, vec![2]), (3, 3, vec![4]), (4, 4, vec![1]), (5, 6, vec![3, 0])]
        );
        for step in eviction_plan(&order, &sizes("100%"), &[]) {
            let zones: Vec<_> = step
                .ordinals
                .iter()
                .map(|o| placed[o].clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            assert_eq!(zones.len(), 1, "step {} spans {zones:?}", step.number);
        }
    }

    #[test]
    fn a_resumed_plan_leaves_out_updated_pods_and_keeps_step_numbers() {
        let order = replacement_order(range(0, 4), None);
        assert_eq!(
            steps(&eviction_plan(&order, &sizes("1,50%,100%"), &[3])),
            [(2, 2, vec![2]), (3, 4, vec![1, 0])]
        );
        assert_eq!(steps(&eviction_plan(&order, &sizes("1,50%,100%"), &[3, 2, 0])), [(3, 4, vec![1])]);
        assert!(eviction_plan(&order, &sizes("1"), &[0, 1, 2, 3]).is_empty());
    }
}
