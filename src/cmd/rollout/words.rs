//! A rollout's words for the one wait ([`crate::wait`]): where an interrupted or disconnected
//! wait leaves the rollout (the partition, and which pods may still be updating) and how to
//! resume or roll back, and a change of the spec by someone else as a [`Error::Conflict`]
//! naming the change and its field manager. [`wait`] is `Waiter::until` with these words, the
//! StatefulSet's spec owned by the run, and conditions on the StatefulSet.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::jiff::Timestamp;
use tokio::time::Instant;

use crate::core::advice::RunFlags;
use crate::core::objects::{ON_DELETE, update_strategy};
use crate::core::owners::changed_by;
use crate::core::rollout::conditions::{describe_position, foreign_changes, position};
use crate::core::rollout::decide::{abort_hint, rollout_command};
use crate::error::{Error, Result, Stop};
use crate::progress::Progress;
use crate::wait::{Showing, Until, View, Waiter, Wake, Words};

/// How a rollout of `name` words its waits; `ours` is the StatefulSet as this run last wrote or
/// read it.
pub struct RolloutWords<'a> {
    pub name: &'a str,
    pub ours: &'a StatefulSet,
    /// The run's connection flags, which the commands it prints repeat.
    pub flags: &'a RunFlags,
}

impl Words for RolloutWords<'_> {
    /// The partition as this run last wrote it until the watch has caught up with that write
    /// (its cache may still show the one before).
    fn left(&self, view: &View) -> String {
        let left = match &view.sts {
            Some(sts) if sts.metadata.generation >= self.ours.metadata.generation => {
                left(sts, Some(&view.pods))
            }
            _ => left(self.ours, None),
        };
        format!("{} is left {left}", self.name)
    }

    fn resume(&self, view: &View) -> String {
        let sts = view.sts.as_ref().unwrap_or(self.ours);
        format!(
            "run `{}` to resume, or {} to roll back",
            rollout_command(sts, self.flags, ""),
            abort_hint(sts, self.flags)
        )
    }

    fn changed(&self, ours: &StatefulSet, now: &StatefulSet) -> Error {
        Error::Conflict {
            name: self.name.to_owned(),
            during: "while the rollout waited".to_owned(),
            changes: foreign_changes(ours, now),
            by: changed_by(now).map(Box::new),
            partition: position(now),
            ways_on: Error::conflict_ways_on(
                &rollout_command(now, self.flags, ""),
                &abort_hint(now, self.flags),
            ),
        }
    }
}

/// Where an interrupted wait leaves the rollout, for its message.
fn left(sts: &StatefulSet, pods: Option<&[k8s_openapi::api::core::v1::Pod]>) -> String {
    match update_strategy(sts) {
        ON_DELETE => describe_position(sts, pods),
        _ => format!("{} (pods at or above it may still be updating)", describe_position(sts, pods)),
    }
}

/// One wait of a rollout of `name`: until `condition` on the StatefulSet (and what else is
/// watched) is done, or `deadline` (then `on_timeout`). `ours` is the StatefulSet as this run
/// last wrote or read it. Returns the StatefulSet as last seen with the answer.
///
/// # Errors
/// As [`Waiter::until`]; a StatefulSet deleted meanwhile is a refusal.
pub async fn wait<T>(
    waiter: &mut Waiter,
    name: &str,
    ours: &StatefulSet,
    deadline: Instant,
    condition: impl FnMut(&StatefulSet, &View, Timestamp) -> Result<Wake<T>>,
    on_timeout: impl FnOnce(&StatefulSet, &View) -> Result<T>,
) -> Result<(StatefulSet, T)> {
    wait_shown(waiter, name, ours, deadline, None, condition, on_timeout).await
}

/// A shown wait's progress (where the rollout's spinner is not drawn), with how to word where
/// it stands.
pub type ShownBy<'a> = (&'a mut Progress, &'a dyn Fn(&View) -> Showing);

/// [`wait`], saying where it stands through `shown` when given ([`Waiter::until_progress`]):
/// a pipe or `NO_COLOR` gets a plain line per change, while on a terminal the rollout's own
/// spinner and strip stay the one display (and `shown` is `None`).
///
/// # Errors
/// As [`wait`].
pub async fn wait_shown<T>(
    waiter: &mut Waiter,
    name: &str,
    ours: &StatefulSet,
    deadline: Instant,
    shown: Option<ShownBy<'_>>,
    mut condition: impl FnMut(&StatefulSet, &View, Timestamp) -> Result<Wake<T>>,
    on_timeout: impl FnOnce(&StatefulSet, &View) -> Result<T>,
) -> Result<(StatefulSet, T)> {
    let flags = waiter.flags().clone();
    let words = RolloutWords { name, ours, flags: &flags };
    let gone = || Error::from(Stop::DeletedWhileWaiting { name: name.to_owned() });
    let how = Until { deadline, words: &words, ours: Some(ours) };
    let condition = |view: &View, now| match &view.sts {
        Some(sts) => condition(sts, view, now),
        None => Err(gone()),
    };
    let on_timeout = |view: &View| match &view.sts {
        Some(sts) => on_timeout(sts, view),
        None => Err(gone()),
    };
    let (view, value) = match shown {
        Some((progress, state)) => waiter.until_progress(how, progress, state, condition, on_timeout).await?,
        None => waiter.until(how, condition, on_timeout).await?,
    };
    Ok((view.sts.ok_or_else(gone)?, value))
}
