//! The one wait of every command, driven by watches ([`Live`]): it wakes on every change of
//! what it watches (a StatefulSet, its pods, and as asked the namespace's claims,
//! PodDisruptionBudgets or VolumeSnapshots) and asks a pure condition whether it is done. A
//! deadline on our clock ends it (the caller says what that means); Ctrl-C, SIGTERM and SIGHUP
//! end it with what state is left and the command that goes on, in the caller's words
//! ([`Words`]); a watch error is followed by one plain request, and an API server that no
//! longer answers ends it the same way. kubectl's `UntilWithSync` inside `interrupt.Run`, with
//! a timeout, as one primitive.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use tokio::time::Instant;

use crate::client::Kube;
use crate::core::advice::RunFlags;
use crate::core::maintenance::WaitWords;
use crate::core::volume_snapshots::VolumeSnapshot;
use crate::error::{Error, Result, Stop, describe_kube_error};
use crate::live::Live;
pub use crate::live::{Kinds, deadline};
use crate::output::ErrStream;
use crate::progress::Progress;
use crate::ui::Terminal;

/// What a condition says after looking.
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

/// What the watches show now.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// The StatefulSet; `None` while it does not exist (deleted, or not re-created yet).
    pub sts: Option<StatefulSet>,
    /// Its pods (by its selector).
    pub pods: Vec<Pod>,
    /// The namespace's claims, when watched ([`Kinds::claims`]).
    pub claims: Vec<PersistentVolumeClaim>,
    /// The namespace's PodDisruptionBudgets, when watched ([`Kinds::budgets`]).
    pub budgets: Vec<PodDisruptionBudget>,
    /// The namespace's VolumeSnapshots, when watched ([`Kinds::volume_snapshots`]).
    pub volume_snapshots: Vec<VolumeSnapshot>,
    /// The cluster's Nodes, when watched ([`Kinds::nodes`]); `None` otherwise.
    pub nodes: Option<Vec<Node>>,
}

/// How a command words a wait that ends before its condition: only it knows what state it
/// leaves, and how to go on from there.
pub trait Words {
    /// Where an interruption or a lost API server leaves things, from what was last seen
    /// (`web is left at partition 2`).
    fn left(&self, view: &View) -> String;
    /// The command that resumes or undoes it, with the run's `-n` and connection flags (`run
    /// `kubectl stateful rollout web -n db` to resume, or run `… --abort …` to roll back`).
    fn resume(&self, view: &View) -> String;
    /// Someone else changed the spec of the StatefulSet this run owns while it waited (see
    /// [`Until::ours`]).
    fn changed(&self, ours: &StatefulSet, now: &StatefulSet) -> Error {
        let _ = ours;
        Stop::ChangedWhileWaiting { name: now.name_any() }.into()
    }
}

/// Words that do not depend on what is seen.
pub struct Said {
    pub left: String,
    pub resume: String,
}

impl Words for Said {
    fn left(&self, _: &View) -> String {
        self.left.clone()
    }

    fn resume(&self, _: &View) -> String {
        self.resume.clone()
    }
}

/// One wait: until when, in whose words, and whether the run owns the StatefulSet's spec.
pub struct Until<'a> {
    pub deadline: Instant,
    pub words: &'a dyn Words,
    /// The StatefulSet as this run last wrote or read it, when the run owns its spec: the
    /// watch's cache may still hold an older generation (the condition is not asked until it
    /// caught up) and a newer one is someone else's change ([`Words::changed`]). `None` for
    /// waits that do not own it.
    pub ours: Option<&'a StatefulSet>,
}

/// What a shown wait says ([`Waiter::until_shown`]).
pub struct Shown<'a> {
    pub term: &'a Terminal,
    /// The run's stream for people ([`crate::output::Streams::err_stream`]): the plain lines.
    pub err: ErrStream,
    /// What it waits for: `the replacement of pg-1`.
    pub what: String,
    /// Where that stands in what is seen: `Pending on node-2`.
    pub state: &'a dyn Fn(&View) -> String,
}

/// Where a shown wait stands ([`Waiter::until_progress`]): what it waits for now, when that
/// moves on while it waits (`None`: what it started with), and its state.
pub struct Showing {
    pub what: Option<String>,
    pub state: String,
}

impl Showing {
    /// What a condition worded last (`restart`, `drain`, `scale`: the member waited on moves
    /// on); `not seen yet` before it did.
    pub fn of(words: Option<&WaitWords>) -> Showing {
        match words {
            Some(words) => Showing { what: Some(words.what.clone()), state: words.state.clone() },
            None => Showing { what: None, state: "not seen yet".to_owned() },
        }
    }
}

impl From<String> for Showing {
    fn from(state: String) -> Showing {
        Showing { what: None, state }
    }
}

/// A shown wait's progress, with how to word where it stands.
type ShownNow<'a> = (&'a mut Progress, &'a dyn Fn(&View) -> Showing);

/// The object read after a watch error.
enum Reach {
    StatefulSet(Api<StatefulSet>, String),
    Node(Api<Node>, String),
}

pub struct Waiter {
    live: Live,
    /// What one plain request reads after a watch error, to tell whether the API server is
    /// still there.
    reach: Reach,
    request_timeout: Duration,
    /// The run's connection flags, for the commands the words of a wait print.
    flags: RunFlags,
}

impl Waiter {
    /// Starts the watches of `sts`, its pods and `kinds`, and waits until each has listed.
    pub async fn start(
        kube: &Kube,
        sts: &StatefulSet,
        kinds: Kinds,
        request_timeout: Duration,
    ) -> Result<Waiter> {
        let live = Live::start(kube, sts, kinds).await?;
        let namespace = sts.namespace().unwrap_or_else(|| kube.namespace.clone());
        Ok(Waiter {
            live,
            reach: Reach::StatefulSet(kube.api_in(&namespace), sts.name_any()),
            request_timeout,
            flags: kube.flags.clone(),
        })
    }

    /// Starts the watch of the pods on `node` (every namespace) alone: the view has no
    /// StatefulSet, only those pods ([`Live::on_node`]).
    pub async fn on_node(kube: &Kube, node: &str, request_timeout: Duration) -> Result<Waiter> {
        let live = Live::on_node(kube, node).await?;
        Ok(Waiter {
            live,
            reach: Reach::Node(kube.api_all(), node.to_owned()),
            request_timeout,
            flags: kube.flags.clone(),
        })
    }

    /// The run's connection flags, which the commands printed about this wait repeat.
    pub fn flags(&self) -> &RunFlags {
        &self.flags
    }

    /// The StatefulSet's pods as last seen.
    pub fn pods(&self) -> Vec<Pod> {
        self.live.pods()
    }

    /// Takes in the changes that arrived while nobody waited on this one ([`Live::catch_up`]).
    pub fn catch_up(&mut self) {
        self.live.catch_up();
    }

    /// Everything watched, as last seen.
    pub fn view(&self) -> View {
        self.live.view()
    }

    /// Waits until `condition` is done, the deadline passes (then `on_timeout` says what that
    /// means), Ctrl-C, someone else changes the spec of a StatefulSet the run owns, or the API
    /// server goes away. Returns what was seen last with the condition's answer.
    ///
    /// # Errors
    /// [`Error::Interrupted`] on Ctrl-C, [`Error::Disconnected`] when the API server stops
    /// answering, [`Words::changed`] for a foreign spec change, and whatever `condition` or
    /// `on_timeout` return.
    pub async fn until<T>(
        &mut self,
        how: Until<'_>,
        condition: impl FnMut(&View, Timestamp) -> Result<Wake<T>>,
        on_timeout: impl FnOnce(&View) -> Result<T>,
    ) -> Result<(View, T)> {
        self.until_with(how, None, condition, on_timeout).await
    }

    /// [`Waiter::until`], saying while it waits what it waits for, where that stands
    /// (`shown.state` of what is seen) and since when ([`Progress`]): a spinner on a terminal,
    /// a line per change otherwise, nothing for a wait shorter than a second.
    ///
    /// # Errors
    /// As [`Waiter::until`].
    pub async fn until_shown<T>(
        &mut self,
        how: Until<'_>,
        shown: Shown<'_>,
        condition: impl FnMut(&View, Timestamp) -> Result<Wake<T>>,
        on_timeout: impl FnOnce(&View) -> Result<T>,
    ) -> Result<(View, T)> {
        let mut progress = Progress::start(shown.term, shown.err, shown.what, how.deadline);
        let state = |view: &View| Showing::from((shown.state)(view));
        let result = self.until_with(how, Some((&mut progress, &state)), condition, on_timeout).await;
        progress.finish();
        result
    }

    /// [`Waiter::until_shown`] with a [`Progress`] the caller started: one that spans several
    /// waits (a hold, then the pauses between refused evictions), said as one; `state` may
    /// also say that what it waits for moved on ([`Showing::what`]).
    ///
    /// # Errors
    /// As [`Waiter::until`].
    pub async fn until_progress<T>(
        &mut self,
        how: Until<'_>,
        progress: &mut Progress,
        state: &dyn Fn(&View) -> Showing,
        condition: impl FnMut(&View, Timestamp) -> Result<Wake<T>>,
        on_timeout: impl FnOnce(&View) -> Result<T>,
    ) -> Result<(View, T)> {
        self.until_with(how, Some((progress, state)), condition, on_timeout).await
    }

    async fn until_with<T>(
        &mut self,
        how: Until<'_>,
        mut shown: Option<ShownNow<'_>>,
        mut condition: impl FnMut(&View, Timestamp) -> Result<Wake<T>>,
        on_timeout: impl FnOnce(&View) -> Result<T>,
    ) -> Result<(View, T)> {
        let generation = how.ours.and_then(|s| s.metadata.generation);
        loop {
            let view = self.live.view();
            let seen = view.sts.as_ref().and_then(|s| s.metadata.generation);
            if let (Some(ours), Some(now)) = (how.ours, &view.sts)
                && seen > generation
            {
                return Err(how.words.changed(ours, now));
            }
            let caught_up = how.ours.is_none() || seen >= generation;
            let wake = if caught_up { condition(&view, Timestamp::now())? } else { Wake::Wait };
            let now = Instant::now();
            let wake_at = match wake {
                Wake::Done(value) => return Ok((view, value)),
                _ if now >= how.deadline => {
                    let value = on_timeout(&view)?;
                    return Ok((view, value));
                }
                Wake::Soon => (now + TICK).min(how.deadline),
                Wake::Wait => how.deadline,
            };
            // A wait that is shown looks again every second, for its elapsed time.
            let wake_at = match &mut shown {
                Some((progress, state)) => {
                    match state(&view) {
                        Showing { what: Some(what), state } => progress.show_as(&what, &state),
                        Showing { what: None, state } => progress.show(&state),
                    }
                    wake_at.min(now + crate::progress::QUIET_FOR)
                }
                None => wake_at,
            };
            self.next(Some(wake_at), how.words, &view).await?;
        }
    }

    /// Waits until `until` (where time alone changes the answer: a gate tried again), unless
    /// Ctrl-C comes first or the API server goes away.
    ///
    /// # Errors
    /// [`Error::Interrupted`] and [`Error::Disconnected`], as [`Waiter::until`].
    pub async fn pause(&mut self, words: &dyn Words, until: Instant) -> Result<()> {
        while Instant::now() < until {
            let view = self.live.view();
            self.next(Some(until), words, &view).await?;
        }
        Ok(())
    }

    /// Sleeps until the next change of anything watched, until `wake_at`, or Ctrl-C.
    async fn next(&mut self, wake_at: Option<Instant>, words: &dyn Words, view: &View) -> Result<()> {
        let sleep = async {
            match wake_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = self.live.changed() => match changed {
                // A watch error is transient unless the API server is gone; the watch retries.
                Err(_) => self.check_reachable(words, view).await,
                Ok(()) => Ok(()),
            },
            () = sleep => Ok(()),
            () = crate::signal::interrupted() => {
                Err(Error::interrupted(words.left(view), Some(words.resume(view))))
            }
        }
    }

    /// After a watch error: one plain request decides whether the API server is still there.
    async fn check_reachable(&self, words: &dyn Words, view: &View) -> Result<()> {
        let read = async {
            match &self.reach {
                Reach::StatefulSet(api, name) => api.get_opt(name).await.map(|_| ()),
                Reach::Node(api, name) => api.get_opt(name).await.map(|_| ()),
            }
        };
        let why = match tokio::time::timeout(self.request_timeout, read).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => describe_kube_error(&e),
            Err(_) => format!("no answer within {}", humantime::format_duration(self.request_timeout)),
        };
        Err(Error::Disconnected {
            why,
            left: words.left(view),
            resume: format!("once it answers, {}", words.resume(view)),
        })
    }
}
