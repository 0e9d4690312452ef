//! The one wait of a rollout, driven by watches: it wakes on every change of the StatefulSet or
//! its pods and asks a pure condition from [`crate::core::rollout::conditions`] whether it is
//! done. Every wait also notices someone else changing the StatefulSet's spec, Ctrl-C, and the
//! API server going away, like kube-runtime's `await_condition` wrapped in a timeout.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use tokio::time::Instant;

use crate::client::Kube;
use crate::core::objects::{ON_DELETE, update_strategy};
use crate::core::owners::changed_by;
use crate::core::rollout::conditions::{describe_position, foreign_changes, position};
use crate::core::rollout::decide::abort_hint;
use crate::error::{Error, Result, describe_kube_error};
pub use crate::live::deadline;
use crate::live::{Kinds, Live};

/// What a condition says after looking at the StatefulSet and its pods.
pub enum Wake<T> {
    Done(T),
    /// Wait for the next change.
    Wait,
    /// Time alone will change the answer (minReadySeconds, a pause): look again shortly even
    /// without a change.
    Soon,
}

/// How often to look again when time alone can change the verdict.
const TICK: Duration = Duration::from_millis(250);

pub struct Waiter {
    live: Live,
    api: Api<StatefulSet>,
    name: String,
    request_timeout: Duration,
}

impl Waiter {
    /// Starts the watches of `sts` and its pods.
    pub async fn start(kube: &Kube, sts: &StatefulSet, request_timeout: Duration) -> Result<Waiter> {
        let live = Live::start(kube, sts, Kinds::default()).await?;
        Ok(Waiter { live, api: kube.api(), name: sts.name_any(), request_timeout })
    }

    /// The StatefulSet's pods as last seen.
    pub fn pods(&self) -> Vec<Pod> {
        self.live.pods()
    }

    /// Waits until `condition` is done, `deadline` passes (then `on_timeout` says what that
    /// means), Ctrl-C, someone else changes the spec, or the API server goes away. Returns the
    /// StatefulSet as last seen with the condition's answer.
    ///
    /// `generation` is the spec generation this run last wrote or read: the watch's cache may
    /// still hold an older object (it is waited out), and a newer one is someone else's change.
    ///
    /// # Errors
    /// [`Error::Conflict`] for a foreign spec change, [`Error::Interrupted`] on Ctrl-C,
    /// [`Error::Disconnected`] when the API server stops answering, and whatever `condition`
    /// or `on_timeout` return.
    pub async fn until<T>(
        &mut self,
        ours: &StatefulSet,
        deadline: Instant,
        mut condition: impl FnMut(&StatefulSet, &[Pod], Timestamp) -> Result<Wake<T>>,
        on_timeout: impl FnOnce(&StatefulSet, &[Pod]) -> Result<T>,
    ) -> Result<(StatefulSet, T)> {
        let generation = ours.metadata.generation;
        loop {
            let sts = self.live.statefulset().ok_or_else(|| {
                Error::Refused(format!("StatefulSet {} was deleted while the rollout waited", self.name))
            })?;
            let pods = self.live.pods();
            if sts.metadata.generation > generation {
                return Err(Error::Conflict {
                    name: self.name.clone(),
                    during: "while the rollout waited".to_owned(),
                    changes: foreign_changes(ours, &sts),
                    by: changed_by(&sts).map(Box::new),
                    partition: position(&sts),
                    abort: abort_hint(&sts),
                });
            }
            let caught_up = sts.metadata.generation == generation;
            let wake = if caught_up { condition(&sts, &pods, Timestamp::now())? } else { Wake::Wait };
            // What an interruption reports: the partition as this run last wrote it until the
            // watch has caught up with that write (its cache may still show the one before).
            let left_now = if caught_up { left(&sts, Some(&pods)) } else { left(ours, None) };
            let now = Instant::now();
            let wake_at = match wake {
                Wake::Done(value) => return Ok((sts, value)),
                _ if now >= deadline => {
                    let value = on_timeout(&sts, &pods)?;
                    return Ok((sts, value));
                }
                Wake::Soon => (now + TICK).min(deadline),
                Wake::Wait => deadline,
            };
            self.next(wake_at, &left_now).await?;
        }
    }

    /// Sleeps until the next change of anything watched, until `wake_at`, or Ctrl-C.
    async fn next(&mut self, wake_at: Instant, left_now: &str) -> Result<()> {
        tokio::select! {
            changed = self.live.changed() => match changed {
                // A watch error is transient unless the API server is gone; the watch retries.
                Err(_) => self.check_reachable(left_now).await,
                Ok(()) => Ok(()),
            },
            _ = tokio::time::sleep_until(wake_at) => Ok(()),
            () = crate::signal::interrupted() => Err(Error::interrupted(
                format!("{} is left {left_now}", self.name),
                Some(format!(
                    "run `kubectl stateful rollout {}` to resume, or {} to roll back",
                    self.name,
                    self.live.statefulset().as_ref().map_or("add --abort", abort_hint)
                )),
            )),
        }
    }

    /// After a watch error: one plain request decides whether the API server is still there.
    async fn check_reachable(&self, left_now: &str) -> Result<()> {
        let why = match tokio::time::timeout(self.request_timeout, self.api.get(&self.name)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => describe_kube_error(&e),
            Err(_) => format!("no answer within {}", humantime::format_duration(self.request_timeout)),
        };
        Err(Error::Disconnected {
            why,
            left: format!("{} is left {left_now}", self.name),
            resume: format!("run `kubectl stateful rollout {}` to resume once it is reachable", self.name),
        })
    }
}

/// Where an interrupted wait leaves the rollout, for its message.
fn left(sts: &StatefulSet, pods: Option<&[Pod]>) -> String {
    match update_strategy(sts) {
        ON_DELETE => describe_position(sts, pods),
        _ => format!("{} (pods at or above it may still be updating)", describe_position(sts, pods)),
    }
}
