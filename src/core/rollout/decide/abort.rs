//! The abort: a rollback of whatever is in flight, and the revision pods ran before.

use super::{Abort, Decision, Replace};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use super::super::conditions::update_pending;
use super::super::journal::{Journal, ReadyAtStart};
use crate::core::advice::{RunFlags, shell_word};
use crate::core::objects::{
    LivePods, ON_DELETE, current_revision, ordinal_range, partition, pod_revision, pods_of, update_revision,
    update_strategy,
};
use kube::ResourceExt;

/// A rollback of whatever is in flight: to the journal's revision and partition, or without a
/// journal (someone else's rollout) to the current revision with the partition left as it is.
/// Either way the rollback itself runs with the partition low enough to reach every live pod on
/// another revision ([`Abort::rollback_partition`]), so it can always finish.
pub fn abort(sts: &StatefulSet, pods: &[Pod], journal: Option<Journal>, now: Timestamp) -> Decision {
    let target = match &journal {
        Some(j) => j.from_revision.clone(),
        None => base_revision(sts, pods).unwrap_or_default(),
    };
    if journal.is_none() && update_revision(sts) == Some(target.as_str()) && !update_pending(sts, pods) {
        return Decision::NothingToAbort { revision: target };
    }
    let resumed = journal.as_ref().is_some_and(|j| j.aborting);
    let journal = match journal {
        Some(j) => Journal { aborting: true, ..j },
        None => Journal { aborting: true, ..Journal::new(sts, target.clone(), now) },
    };
    let range = ordinal_range(sts);
    let lowest_elsewhere = LivePods::of(sts, pods)
        .not_on(&target)
        .map(|(o, _)| range.index_of(o))
        .min()
        .map_or(i32::MAX, |i| i32::try_from(i).unwrap_or(i32::MAX));
    let rollback_partition = partition(sts).min(journal.partition_before).min(lowest_elsewhere).max(0);
    Decision::Abort(Abort {
        restore_template: update_revision(sts) != Some(target.as_str()),
        target,
        rollback_partition,
        partition: journal.partition_before,
        journal,
        resumed,
        replace: if update_strategy(sts) == ON_DELETE { Replace::Eviction } else { Replace::Controller },
        warnings: Vec::new(),
    })
}

/// The revision the pods ran before an update: the current revision, except under OnDelete,
/// where the controller never promotes the update revision to current (kubernetes#73492, the
/// `completeRollingUpdate` check in stateful_set_utils.go is for RollingUpdate only), so it is
/// read from the pods: the revision most live pods not on the update revision run (the highest
/// ordinal's on a tie), or the update revision when every pod runs it.
pub fn base_revision(sts: &StatefulSet, pods: &[Pod]) -> Option<String> {
    if update_strategy(sts) != ON_DELETE {
        return current_revision(sts).map(str::to_owned);
    }
    let range = ordinal_range(sts);
    let update = update_revision(sts);
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for (_, pod) in pods_of(sts, pods).into_iter().rev().filter(|(o, _)| range.contains(*o)) {
        if let Some(r) = pod_revision(pod).filter(|r| Some(*r) != update) {
            match counts.iter_mut().find(|(c, _)| *c == r) {
                Some((_, n)) => *n += 1,
                None => counts.push((r, 1)),
            }
        }
    }
    // max_by_key keeps the last of equals: reversed, the first seen (highest ordinal) wins.
    match counts.into_iter().rev().max_by_key(|(_, n)| *n) {
        Some((r, _)) => Some(r.to_owned()),
        None if range.replicas > 0 && !pods_of(sts, pods).is_empty() => update.map(str::to_owned),
        None => current_revision(sts).or(update).map(str::to_owned),
    }
}

/// What an abort that ended with pods not Ready says: they are back on `revision` and were not
/// Ready when the rollout started either (`before`, the journal's record), so it did not wait
/// for them; and the command that shows why, with the run's `flags`.
pub fn not_ready_after_abort(
    sts: &StatefulSet,
    revision: &str,
    not_ready: &[String],
    before: Option<&ReadyAtStart>,
    flags: &RunFlags,
) -> String {
    let name = sts.name_any();
    let status = flags.plugin(&sts.namespace().unwrap_or_default(), &format!("status {}", shell_word(&name)));
    let (are, they) = if not_ready.len() == 1 { ("is", "it was") } else { ("are", "they were") };
    let start = before.map_or_else(|| "not recorded".to_owned(), ReadyAtStart::describe);
    format!(
        "{} {are} on revision {} but not Ready: {they} not Ready before the rollout either ({start}), so the \
         abort did not wait for {}; `{status}` shows why",
        not_ready.join(", "),
        crate::core::objects::short_revision(&name, revision),
        if not_ready.len() == 1 { "it" } else { "them" },
    )
}
