//! Waiting on the controller, driven by watches: a step converging, a revision being promoted,
//! a rollback completing. Every wait also watches for someone else changing the StatefulSet's
//! spec, for Ctrl-C, and for the API server going away.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use tokio::time::Instant;

use super::report::Reporter;
use crate::client::Kube;
use crate::core::objects::{
    current_revision, observed_current, ordinal_range, partition, pod_ready, pod_revision, pods_of,
    scaling_settled, terminating, update_revision,
};
use crate::core::rollout::{StepVerdict, StepWatch};
use crate::error::{Error, Result, chain};
use crate::live::{Kinds, Live};

pub enum StepEnd {
    Done(StatefulSet),
    Failed(StatefulSet, Vec<String>),
}

pub struct Waiter {
    live: Live,
    api: Api<StatefulSet>,
    name: String,
    request_timeout: Duration,
}

/// How often to re-evaluate when time alone can change the verdict (minReadySeconds, --pause).
const TICK: Duration = Duration::from_millis(250);

impl Waiter {
    pub async fn start(kube: &Kube, sts: &StatefulSet, request_timeout: Duration) -> Result<Waiter> {
        let live = Live::start(kube, sts, Kinds::default()).await?;
        let api = Api::namespaced(kube.client.clone(), &kube.namespace);
        Ok(Waiter { live, api, name: sts.name_any(), request_timeout })
    }

    /// The StatefulSet as watched, once the watch has caught up with the spec generation we
    /// last wrote (its cache may still hold the object from before our own write), and checked
    /// that nobody wrote a newer one.
    async fn current(&mut self, generation: Option<i64>, deadline: Instant) -> Result<StatefulSet> {
        loop {
            let sts = self.live.statefulset().ok_or_else(|| {
                Error::Refused(format!("StatefulSet {} was deleted during the rollout", self.name))
            })?;
            if sts.metadata.generation >= generation {
                return self.unchanged(sts, generation);
            }
            if Instant::now() >= deadline {
                return Err(Error::StepFailed(format!(
                    "the watch of {} did not catch up in time",
                    self.name
                )));
            }
            self.next(deadline, partition(&sts)).await?;
        }
    }

    fn unchanged(&self, sts: StatefulSet, generation: Option<i64>) -> Result<StatefulSet> {
        if sts.metadata.generation > generation {
            return Err(Error::Conflict(format!(
                "someone else changed the spec of {} while the rollout waited (generation {} -> {}, partition now {}); \
                 stopping without overwriting their change. Run `kubectl stateful rollout {}` to continue from the new state, or add --abort",
                self.name,
                generation.unwrap_or(0),
                sts.metadata.generation.unwrap_or(0),
                partition(&sts),
                self.name
            )));
        }
        Ok(sts)
    }

    /// Sleeps until the next change of anything watched, until `wake_at`, or Ctrl-C.
    async fn next(&mut self, wake_at: Instant, partition_now: i32) -> Result<()> {
        tokio::select! {
            changed = self.live.changed() => match changed {
                // A watch error is transient unless the API server is gone; the watch retries.
                Err(_) => self.check_reachable(partition_now).await,
                Ok(()) => Ok(()),
            },
            _ = tokio::time::sleep_until(wake_at) => Ok(()),
            () = crate::signal::interrupted() => Err(Error::Interrupted(format!(
                "interrupted: {} is left at partition {partition_now} (pods at or above it may still be updating); \
                 run `kubectl stateful rollout {}` to resume, or add --abort to roll back",
                self.name, self.name
            ))),
        }
    }

    /// After a watch error: one plain request decides whether the API server is still there.
    async fn check_reachable(&self, partition_now: i32) -> Result<()> {
        match tokio::time::timeout(self.request_timeout, self.api.get(&self.name)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(lost(&self.name, partition_now, &chain(&e))),
            Err(_) => {
                Err(lost(&self.name, partition_now, &format!("no answer within {:?}", self.request_timeout)))
            }
        }
    }

    /// Waits until every pod at or above `partition` runs the update revision, is Ready and
    /// available; then, for `pause`, that they stay so.
    pub async fn step(
        &mut self,
        reporter: &mut Reporter,
        label: &str,
        generation: Option<i64>,
        partition: i32,
        timeout: Duration,
        pause: Duration,
    ) -> Result<StepEnd> {
        let deadline = Instant::now() + timeout;
        let mut watch = StepWatch::default();
        let mut pause_until: Option<Instant> = None;
        loop {
            let sts = self.current(generation, deadline).await?;
            let now = Instant::now();
            let wake_at = match watch.observe(&sts, &self.live.pods(), partition, Timestamp::now()) {
                StepVerdict::Failed(reasons) => return Ok(StepEnd::Failed(sts, reasons)),
                StepVerdict::Done(pods) => {
                    reporter.progress(label, &pods, update_revision(&sts))?;
                    let until = *pause_until.get_or_insert(now + pause);
                    if now >= until {
                        return Ok(StepEnd::Done(sts));
                    }
                    until
                }
                StepVerdict::Waiting(pods) => {
                    reporter.progress(label, &pods, update_revision(&sts))?;
                    pause_until = None;
                    if now >= deadline {
                        let late = stragglers(&sts, &self.live.pods(), partition);
                        let reasons = vec![format!(
                            "timed out after {}: {}",
                            humantime::format_duration(timeout),
                            late.join(", ")
                        )];
                        return Ok(StepEnd::Failed(sts, reasons));
                    }
                    // Readiness ages into availability without any event: look again soon.
                    if pods.iter().any(|p| p.ready && !p.available) {
                        (now + TICK).min(deadline)
                    } else {
                        deadline
                    }
                }
            };
            self.next(wake_at, partition).await?;
        }
    }

    /// Waits until the controller reports the spec `generation` observed.
    pub async fn observed(&mut self, generation: Option<i64>, timeout: Duration) -> Result<StatefulSet> {
        let deadline = Instant::now() + timeout;
        loop {
            let sts = self.current(generation, deadline).await?;
            if observed_current(&sts) {
                return Ok(sts);
            }
            if Instant::now() >= deadline {
                return Err(Error::StepFailed(format!(
                    "the controller did not observe the change to {} in time",
                    self.name
                )));
            }
            self.next(deadline, partition(&sts)).await?;
        }
    }

    /// Waits until the controller reports as many pods as the spec asks for, or `grace` passes;
    /// returns the StatefulSet as it then is (the caller decides what an unsettled one means).
    pub async fn settled(&mut self, generation: Option<i64>, grace: Duration) -> Result<StatefulSet> {
        let deadline = Instant::now() + grace;
        loop {
            let sts = self.current(generation, deadline).await?;
            if scaling_settled(&sts) || Instant::now() >= deadline {
                return Ok(sts);
            }
            self.next(deadline, partition(&sts)).await?;
        }
    }

    /// After the last step: waits until the controller promotes the update revision to current.
    pub async fn promoted(&mut self, generation: Option<i64>, timeout: Duration) -> Result<StatefulSet> {
        let deadline = Instant::now() + timeout;
        loop {
            let sts = self.current(generation, deadline).await?;
            if observed_current(&sts) && current_revision(&sts) == update_revision(&sts) {
                return Ok(sts);
            }
            if Instant::now() >= deadline {
                return Err(Error::StepFailed(format!(
                    "every pod of {} is updated, but the controller has not promoted revision {} to current",
                    self.name,
                    update_revision(&sts).unwrap_or("?")
                )));
            }
            self.next(deadline, partition(&sts)).await?;
        }
    }

    /// Waits for a rollback: every live pod on the update revision (the restored one) and Ready.
    /// Returns early with the pods the controller will never replace by itself: not Ready, on
    /// another revision, not already deleted (`deleted` holds uids we removed).
    pub async fn rolled_back(
        &mut self,
        generation: Option<i64>,
        deadline: Instant,
        deleted: &[String],
    ) -> Result<(StatefulSet, Vec<Pod>)> {
        loop {
            let sts = self.current(generation, deadline).await?;
            if observed_current(&sts) {
                let pods = self.live.pods();
                let range = ordinal_range(&sts);
                let live: Vec<&Pod> = pods_of(&sts, &pods)
                    .into_iter()
                    .filter(|(o, _)| range.contains(*o))
                    .map(|(_, p)| p)
                    .collect();
                let update = update_revision(&sts);
                let stuck: Vec<Pod> = live
                    .iter()
                    .filter(|p| pod_revision(p) != update && !pod_ready(p) && !terminating(**p))
                    .filter(|p| !deleted.contains(&p.uid().unwrap_or_default()))
                    .map(|p| Pod::clone(p))
                    .collect();
                if !stuck.is_empty() {
                    return Ok((sts, stuck));
                }
                let done = live.len() == range.replicas as usize
                    && live.iter().all(|p| pod_revision(p) == update && pod_ready(p) && !terminating(*p))
                    && current_revision(&sts) == update;
                if done {
                    return Ok((sts, Vec::new()));
                }
            }
            if Instant::now() >= deadline {
                let late = stragglers(&sts, &self.live.pods(), 0);
                return Err(Error::StepFailed(format!(
                    "the rollback of {} did not complete in time: {}; run `kubectl stateful rollout {} --abort` again",
                    self.name,
                    late.join(", "),
                    self.name
                )));
            }
            self.next(deadline, partition(&sts)).await?;
        }
    }
}

/// Pods at or above `partition` that are not yet updated and Ready, described.
fn stragglers(sts: &StatefulSet, pods: &[Pod], partition: i32) -> Vec<String> {
    let range = ordinal_range(sts);
    let update = update_revision(sts);
    let mut late = Vec::new();
    for ordinal in crate::core::rollout::released(range, partition, range.replicas) {
        let pod = pods_of(sts, pods).into_iter().find(|(o, _)| *o == ordinal).map(|(_, p)| p);
        let name = crate::core::names::pod_name(&sts.name_any(), ordinal);
        match pod {
            None => late.push(format!("{name} missing")),
            Some(p) if pod_revision(p) != update => late.push(format!("{name} not updated")),
            Some(p) if !pod_ready(p) => {
                late.push(format!("{name} not Ready ({})", crate::core::objects::pod_status_text(p)))
            }
            Some(_) => {}
        }
    }
    if late.is_empty() { vec!["pods not available yet".to_owned()] } else { late }
}

fn lost(name: &str, partition: i32, why: &str) -> Error {
    Error::Refused(format!(
        "lost the connection to the API server ({why}): {name} is left at partition {partition}; \
         run `kubectl stateful rollout {name}` to resume once it is reachable"
    ))
}
