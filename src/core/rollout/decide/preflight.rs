//! What keeps a rollout from starting or going on: a controller that cannot act, a scale in
//! progress, a live ordinal without a pod, a pod outside the live ordinals.

use super::Refusal;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::super::conditions::is_settled;
use crate::core::advice::{RunFlags, shell_word};
use crate::core::failures::{blockers, controller_failures};
use crate::core::names::{pod_name, pod_ordinal};
use crate::core::objects::{ordinal_range, owned_by, pods_of, replicas};
use crate::core::orphans::describe_range;

/// The refusals that keep a rollout from starting or going on: a controller that cannot act
/// (its failures, pods it cannot update), a scale in progress (for a new rollout: a partition
/// does not hold back pods created meanwhile), a live ordinal without a pod, a pod outside the
/// live ordinals. A rollout would wait for the controller forever, or release pods it did not
/// plan, in each case. A blocked controller comes first: it is why a set stays short.
pub(super) fn preflight(
    sts: &StatefulSet,
    pods: &[Pod],
    events: &[Event],
    new: bool,
    now: Timestamp,
    flags: &RunFlags,
) -> Result<(), Refusal> {
    let name = sts.name_any();
    let failures = controller_failures(sts, events, pods, now);
    if let Some(blocker) = blockers(sts, pods, &failures).first() {
        return Err(Refusal::Blocked { name, reason: blocker.describe_with(sts, pods, now, flags) });
    }
    if new && !is_settled(sts) {
        let counted = sts.status.as_ref().map_or(0, |s| s.replicas);
        return Err(Refusal::Scaling { name, counted, replicas: replicas(sts) });
    }
    let range = ordinal_range(sts);
    let ours = pods_of(sts, pods);
    if let Some(ordinal) = range.ordinals().find(|o| !ours.iter().any(|(p, _)| p == o)) {
        let status =
            flags.plugin(&sts.namespace().unwrap_or_default(), &format!("status {}", shell_word(&name)));
        return Err(Refusal::PodMissing { pod: pod_name(&name, ordinal), name, ordinal, status });
    }
    if let Some((_, stray)) = ours.iter().rev().find(|(o, _)| !range.contains(*o)) {
        return Err(Refusal::StrayPod { pod: stray.name_any(), range: describe_range(range), name });
    }
    // A pod the StatefulSet controls whose name is no ordinal of it (adopted by its labels).
    let nameless = pods.iter().find(|p| owned_by(*p, sts) && pod_ordinal(&p.name_any(), &name).is_none());
    if let Some(stray) = nameless {
        return Err(Refusal::StrayPod { pod: stray.name_any(), range: describe_range(range), name });
    }
    Ok(())
}
