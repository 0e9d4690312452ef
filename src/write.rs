//! The one way this tool changes the cluster. Every request that writes (a patch, a create, a
//! delete, an eviction) is sent by a [`Writer`], and carries its guard in its type:
//!
//! - a JSON patch is a [`Tested`] patch: its `test` operations fail the whole patch when what
//!   they test changed (a patch without one cannot be built);
//! - a delete and an eviction carry a [`Guard`], the uid and/or resourceVersion read
//!   (`DeleteOptions.preconditions`; the Eviction's body is built here, see [`Writer::evict`]);
//! - a create names its object (never `generateName`): the API server refuses a name that
//!   exists (409), so it never replaces anything.
//!
//! A dry run holds no `Writer` ([`Writer::of`] gives none for [`Mode::DryRun`] nor for
//! [`Mode::ServerDryRun`]), so no path of it can reach a write. `--dry-run=server` sends the
//! writes it checks through a [`ServerCheck`] instead, a type apart that wraps a `Writer` whose
//! every request carries `dryRun=All` and gives it to no one: nothing it sends is stored. The field
//! manager is set here, once. Answers become outcomes the caller must handle ([`Written`],
//! [`Deleted`], [`Evicted`]): 404 gone; 409, or 422 from a failed `test`, changed (re-read, with
//! who changed it); 429 from the Eviction API, the budget that refused; no answer at all,
//! [`Error::Unanswered`] ("may or may not have happened"). Nothing here looks at message text.
//!
//! Two requests use a write verb without writing: [`Probe`] (server-side dry runs asking what
//! the API server would do) and [`review`] (a SelfSubjectAccessReview, answered and never
//! stored). `tests/audit` checks all of it against the API server's audit log.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{Eviction, PodDisruptionBudget};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{self as meta, DeleteOptions, ObjectMeta};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions, PropagationPolicy,
    ValidationDirective,
};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::Kube;
pub use crate::core::objects::Budget;
use crate::core::owners::{Manager, last_writer};
pub use crate::core::patches::Tested;
use crate::error::{Error, Result, Stop};

/// The field manager recorded on every change this tool makes (`metadata.managedFields`).
pub use crate::core::owners::FIELD_MANAGER;

/// `--dry-run[=client|server|none]`, as kubectl takes it: a bare `--dry-run` is `client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DryRun {
    /// No dry run: change the cluster (still confirmed on a terminal, or with `--yes`).
    #[default]
    None,
    /// Show the plan; send nothing that writes.
    Client,
    /// Show the plan, then send each write it can send now with `dryRun=All`, for the API
    /// server's answer (admission, RBAC, quota, webhooks, budgets); nothing is stored.
    Server,
}

impl DryRun {
    /// Whether nothing may be written (`client` or `server`).
    pub fn is_dry(self) -> bool {
        self != DryRun::None
    }
}

/// What a run may do, from its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Change the cluster.
    Apply,
    /// `--dry-run` (`=client`): show the plan and send nothing that writes.
    DryRun,
    /// `--dry-run=server`: show the plan and send nothing that writes but through a
    /// [`ServerCheck`] (`dryRun=All`): no `Writer` either.
    ServerDryRun,
}

impl Mode {
    /// The mode of a run from its `--dry-run` flag.
    pub fn from_dry_run(dry_run: DryRun) -> Mode {
        match dry_run {
            DryRun::None => Mode::Apply,
            DryRun::Client => Mode::DryRun,
            DryRun::Server => Mode::ServerDryRun,
        }
    }
}

/// What keeps a delete or an eviction from hitting anything but the object read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// The very object read, whatever changed since (its uid): where identity is the point.
    Uid(String),
    /// The very object, unchanged since it was read.
    UidAndResourceVersion { uid: String, resource_version: String },
}

impl Guard {
    /// The object exactly as read: its uid and resourceVersion.
    pub fn exact<K: Resource>(object: &K) -> Guard {
        let meta = object.meta();
        Guard::UidAndResourceVersion {
            uid: meta.uid.clone().unwrap_or_default(),
            resource_version: meta.resource_version.clone().unwrap_or_default(),
        }
    }

    /// The very object read (its uid), whatever changed in it since.
    pub fn identity<K: Resource>(object: &K) -> Guard {
        Guard::Uid(object.meta().uid.clone().unwrap_or_default())
    }

    fn uid_and_resource_version(&self) -> (Option<String>, Option<String>) {
        match self {
            Guard::Uid(uid) => (Some(uid.clone()), None),
            Guard::UidAndResourceVersion { uid, resource_version } => {
                (Some(uid.clone()), Some(resource_version.clone()))
            }
        }
    }

    fn delete_preconditions(&self) -> Preconditions {
        let (uid, resource_version) = self.uid_and_resource_version();
        Preconditions { uid, resource_version }
    }

    fn preconditions(&self) -> meta::Preconditions {
        let (uid, resource_version) = self.uid_and_resource_version();
        meta::Preconditions { uid, resource_version }
    }
}

/// How a delete treats what the object owns, and how long it takes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deletion {
    /// `propagationPolicy: Orphan`: what the object owns (pods, claims) stays.
    pub orphan: bool,
    /// Seconds of grace; `Some(0)` is a force delete.
    pub grace_period_seconds: Option<u32>,
}

/// Someone else changed (or replaced, or created) the object since it was read; nothing was
/// written.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed<K> {
    /// The object as read again right after; `None` when it is gone.
    pub now: Option<K>,
}

impl<K: Resource> Changed<K> {
    /// Who last wrote the object's spec or metadata, other than this tool (managedFields).
    pub fn by(&self) -> Option<Manager> {
        self.now.as_ref().and_then(|now| last_writer(now.meta()))
    }
}

/// Sends `patch` as `Api::patch` would, with its body as [`Tested::body`] encodes it (Go's
/// escapes, so that each `test` compares as the API server encodes the object).
async fn send_tested<K>(api: &Api<K>, name: &str, params: &PatchParams, patch: &Tested) -> kube::Result<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let request = kube::core::Request::new(api.resource_url())
        .patch(name, params, &Patch::<()>::Json(patch.patch().clone()))
        .map_err(kube::Error::BuildRequest)?;
    let (parts, _) = request.into_parts();
    api.clone().into_client().request::<K>(http::Request::from_parts(parts, patch.body())).await
}

/// How a patch or a create ended, when the API server answered.
#[must_use]
#[derive(Debug)]
pub enum Written<K> {
    /// Applied: the object as the API server stored it (or, in a server-side dry run, would).
    Done(K),
    /// 404: the object (or its namespace) is gone.
    Gone,
    /// The guard failed: a `test` of the patch no longer holds (422) or the write conflicted
    /// (409); for a create, the name exists. Nothing was written.
    Changed(Changed<K>),
}

/// How a delete ended, when the API server answered.
#[must_use]
#[derive(Debug, PartialEq)]
pub enum Deleted<K> {
    /// Deleted (or its deletion started: finalizers may hold it a while).
    Done,
    /// 404: it was already gone.
    Gone,
    /// 409: its uid or resourceVersion no longer match: someone replaced or changed it, and it
    /// was left alone.
    Changed(Changed<K>),
}

/// How an eviction ended, when the API server answered.
#[must_use]
#[derive(Debug)]
pub enum Evicted {
    /// The pod is being deleted (the Eviction API allowed it).
    Done,
    /// 404: it was already gone.
    Gone,
    /// 409: its uid no longer matches: the controller replaced it already.
    Changed,
    /// 429: a PodDisruptionBudget does not allow it now.
    Refused(Refused),
}

/// Why the Eviction API refused (429): the budgets over the pod, as read right after, and the
/// API server's own words (for people; never inspected).
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub budgets: Vec<Budget>,
    pub message: String,
}

impl Refused {
    /// One line: the budgets and their numbers, or the API server's words.
    pub fn describe(&self) -> String {
        match self.budgets.as_slice() {
            [] => self.message.clone(),
            budgets => budgets.iter().map(Budget::describe).collect::<Vec<_>>().join("; "),
        }
    }
}

/// The sender of every write of one run.
#[derive(Clone)]
pub struct Writer {
    client: Client,
    /// Without kube's retries of 429, 503 and 504: for the Eviction API, whose 429 is an
    /// answer (a budget does not allow it now), not a transient failure to hide.
    no_retry: Client,
    dry_run: bool,
    /// How to go on after a write that got no answer (`Error::Unanswered`).
    resume: String,
}

impl Writer {
    /// The writer of a run in `mode`; `None` for a dry run (client or server), which so has
    /// nothing to send with. `resume` says how to go on after a write that got no answer (the
    /// command that reads the state and resumes).
    pub fn of(kube: &Kube, mode: Mode, resume: impl Into<String>) -> Option<Writer> {
        match mode {
            Mode::Apply => Some(Writer {
                client: kube.client.clone(),
                no_retry: kube.no_retry.clone(),
                dry_run: false,
                resume: resume.into(),
            }),
            Mode::DryRun | Mode::ServerDryRun => None,
        }
    }

    fn post_params(&self) -> PostParams {
        PostParams { dry_run: self.dry_run, field_manager: Some(FIELD_MANAGER.to_owned()) }
    }

    fn delete_params(&self, guard: &Guard, how: Deletion) -> DeleteParams {
        DeleteParams {
            dry_run: self.dry_run,
            grace_period_seconds: how.grace_period_seconds,
            propagation_policy: how.orphan.then_some(PropagationPolicy::Orphan),
            preconditions: Some(guard.delete_preconditions()),
        }
    }

    /// A guarded JSON patch. A 422 is the guard only if one of the patch's `test`s fails on
    /// the object read again; otherwise the patch itself was invalid ([`Error::Kube`]).
    ///
    /// # Errors
    /// [`Error::Unanswered`] without an answer, [`Error::Kube`] for any other failure.
    pub async fn patch<K>(&self, api: &Api<K>, name: &str, patch: &Tested, what: &str) -> Result<Written<K>>
    where
        K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
    {
        let params = PatchParams { dry_run: self.dry_run, ..field_managed() };
        match send_tested(api, name, &params, patch).await {
            Ok(object) => Ok(Written::Done(object)),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(Written::Gone),
            Err(kube::Error::Api(status)) if matches!(status.code, 409 | 422) => {
                let now = reread(api, name, what).await?;
                let held = now
                    .as_ref()
                    .and_then(|now| serde_json::to_value(now).ok())
                    .is_some_and(|now| patch.holds_on(&now));
                if status.code == 422 && held {
                    return Err(Error::kube(what)(kube::Error::Api(status)));
                }
                Ok(Written::Changed(Changed { now }))
            }
            Err(e) => Err(self.failed(what, e)),
        }
    }

    /// Creates `object`, whose name must not exist yet (the API server refuses it with 409:
    /// [`Written::Changed`] with the object that holds the name).
    ///
    /// # Errors
    /// [`Error::Unanswered`] without an answer, [`Error::Kube`] for any other failure.
    pub async fn create<K>(&self, api: &Api<K>, object: &K, what: &str) -> Result<Written<K>>
    where
        K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
    {
        // A generated name could never collide: such a create would be unguarded.
        let name = object.meta().name.clone().unwrap_or_default();
        assert!(
            !name.is_empty() && object.meta().generate_name.is_none(),
            "a create names its object: {what}"
        );
        match api.create(&self.post_params(), object).await {
            Ok(created) => Ok(Written::Done(created)),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(Written::Gone),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                Ok(Written::Changed(Changed { now: reread(api, &name, what).await? }))
            }
            Err(e) => Err(self.failed(what, e)),
        }
    }

    /// Deletes `name` only if it is still the object `guard` describes.
    ///
    /// # Errors
    /// [`Error::Unanswered`] without an answer, [`Error::Kube`] for any other failure.
    pub async fn delete<K>(
        &self,
        api: &Api<K>,
        name: &str,
        guard: Guard,
        how: Deletion,
        what: &str,
    ) -> Result<Deleted<K>>
    where
        K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    {
        let params = self.delete_params(&guard, how);
        let sent = if self.dry_run {
            // kube sends a delete's dryRun in its body only, and the API server's audit log
            // records no body of a dry-run delete: the query says it too, so that the log shows
            // the delete stored nothing (tests/audit.rs).
            let mut request = kube::core::Request::new(api.resource_url())
                .delete(name, &params)
                .map_err(|e| self.failed(what, kube::Error::BuildRequest(e)))?;
            let uri = format!("{}dryRun=All", request.uri());
            *request.uri_mut() = uri.parse().expect("a request's URI with a query pair is a URI");
            self.client.request::<serde_json::Value>(request).await.map(|_| ())
        } else {
            api.delete(name, &params).await.map(|_| ())
        };
        match sent {
            Ok(()) => Ok(Deleted::Done),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(Deleted::Gone),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                Ok(Deleted::Changed(Changed { now: reread(api, name, what).await? }))
            }
            Err(e) => Err(self.failed(what, e)),
        }
    }

    /// Evicts `pod` through the Eviction API (`pods/eviction`, policy/v1), which honours
    /// PodDisruptionBudgets, only if it is still that pod (its uid). A refusal reads the
    /// budgets over the pod, for their names and numbers.
    ///
    /// # Errors
    /// [`Error::Unanswered`] without an answer, [`Error::Kube`] for any other failure.
    pub async fn evict(&self, pod: &Pod, what: &str) -> Result<Evicted> {
        self.evict_within(pod, None, what).await
    }

    /// [`Writer::evict`], with `grace_period_seconds` for the pod to end in instead of its own
    /// (`drain --grace-period`, as kubectl drain's).
    ///
    /// # Errors
    /// As [`Writer::evict`].
    pub async fn evict_within(
        &self,
        pod: &Pod,
        grace_period_seconds: Option<u32>,
        what: &str,
    ) -> Result<Evicted> {
        let namespace = pod.namespace().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.no_retry.clone(), &namespace);
        // The body is built here, not by kube's `Api::evict`: kube-core 5.0 serializes its
        // DeleteOptions as `delete_options`, which the API server ignores, so the precondition
        // (and a dry run) never reached it. The audit log showed it (tests/audit.rs).
        let eviction = Eviction {
            metadata: ObjectMeta {
                name: Some(pod.name_any()),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            delete_options: Some(DeleteOptions {
                dry_run: self.dry_run.then(|| vec!["All".to_owned()]),
                preconditions: Some(Guard::identity(pod).preconditions()),
                grace_period_seconds: grace_period_seconds.map(i64::from),
                ..DeleteOptions::default()
            }),
        };
        let evicted = api
            .create_subresource::<Eviction, serde_json::Value>(
                "eviction",
                &pod.name_any(),
                &self.post_params(),
                &eviction,
            )
            .await;
        match evicted {
            Ok(_) => Ok(Evicted::Done),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(Evicted::Gone),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Evicted::Changed),
            Err(kube::Error::Api(status)) if status.code == 429 => {
                let causes: Vec<String> = status
                    .details
                    .iter()
                    .flat_map(|d| d.causes.iter())
                    .map(|c| c.message.trim_end_matches('.').to_owned())
                    .filter(|m| !m.is_empty())
                    .collect();
                let said = status.message.trim_end_matches('.');
                let message = match causes.is_empty() {
                    true => said.to_owned(),
                    false => format!("{said}: {}", causes.join("; ")),
                };
                let budgets: Api<PodDisruptionBudget> = Api::namespaced(self.client.clone(), &namespace);
                let budgets = match budgets.list(&ListParams::default()).await {
                    Ok(list) => crate::core::objects::budgets_of(&list.items, pod),
                    // The refusal stands; only its numbers are missing.
                    Err(_) => Vec::new(),
                };
                Ok(Evicted::Refused(Refused { budgets, message }))
            }
            Err(e) => Err(self.failed(what, e)),
        }
    }

    /// A failure without an answer may or may not have happened; with one, it did not.
    fn failed(&self, what: &str, error: kube::Error) -> Error {
        match error {
            kube::Error::HyperError(_)
            | kube::Error::Service(_)
            | kube::Error::SerdeError(_)
            | kube::Error::ReadEvents(_) => {
                Error::Unanswered { what: what.to_owned(), resume: self.resume.clone(), source: error }
            }
            other => Error::kube(what)(other),
        }
    }
}

/// The sender of `--dry-run=server`: each write as a [`Writer`] would send it (same guards,
/// same field manager), with `dryRun=All`, so that admission, RBAC, quota and webhooks answer
/// and nothing is stored. Its `Writer` is private and built here with `dry_run: true` only:
/// no path through this type reaches a real write, and it gives no `Writer` out.
#[derive(Clone)]
pub struct ServerCheck {
    writer: Writer,
}

impl ServerCheck {
    /// The server dry run of a run whose mode is [`Mode::ServerDryRun`]; `None` otherwise.
    pub fn of(kube: &Kube, mode: Mode) -> Option<ServerCheck> {
        (mode == Mode::ServerDryRun).then(|| ServerCheck {
            writer: Writer {
                client: kube.client.clone(),
                no_retry: kube.no_retry.clone(),
                dry_run: true,
                resume: "nothing was written (--dry-run=server)".to_owned(),
            },
        })
    }

    /// [`Writer::patch`] with `dryRun=All`.
    ///
    /// # Errors
    /// As [`Writer::patch`].
    pub async fn patch<K>(&self, api: &Api<K>, name: &str, patch: &Tested, what: &str) -> Result<Written<K>>
    where
        K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
    {
        self.writer.patch(api, name, patch, what).await
    }

    /// [`Writer::create`] with `dryRun=All`.
    ///
    /// # Errors
    /// As [`Writer::create`].
    pub async fn create<K>(&self, api: &Api<K>, object: &K, what: &str) -> Result<Written<K>>
    where
        K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
    {
        self.writer.create(api, object, what).await
    }

    /// [`Writer::evict`] with `dryRun=All`: in the query (kube puts it there for a create) and
    /// in the Eviction's DeleteOptions, so the budgets answer and no pod goes.
    ///
    /// # Errors
    /// As [`Writer::evict`].
    pub async fn evict(&self, pod: &Pod, what: &str) -> Result<Evicted> {
        self.writer.evict(pod, what).await
    }

    /// [`Writer::delete`] with `dryRun=All`.
    ///
    /// # Errors
    /// As [`Writer::delete`].
    pub async fn delete<K>(
        &self,
        api: &Api<K>,
        name: &str,
        guard: Guard,
        how: Deletion,
        what: &str,
    ) -> Result<Deleted<K>>
    where
        K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    {
        self.writer.delete(api, name, guard, how, what).await
    }
}

/// What the API server answered to one write of a `--dry-run=server` run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "answer", rename_all = "camelCase")]
pub enum ServerAnswer {
    /// It would be stored.
    Accepted,
    /// Refused: the API server's words (admission, RBAC, quota, webhook), or what its answer
    /// means (404, 409, the budget of a 429).
    Refused { reason: String },
    /// Not sent: it is judged only once the step it depends on has happened.
    #[serde(rename_all = "camelCase")]
    NotChecked { depends_on: usize },
}

impl ServerAnswer {
    pub fn of_written<K>(answer: Result<Written<K>>) -> ServerAnswer {
        match answer {
            Ok(Written::Done(_)) => ServerAnswer::Accepted,
            Ok(Written::Gone) => ServerAnswer::refused("not found (404): gone since it was read"),
            Ok(Written::Changed(_)) => ServerAnswer::refused("conflict: changed since it was read"),
            Err(error) => ServerAnswer::of_error(&error),
        }
    }

    pub fn of_deleted<K>(answer: Result<Deleted<K>>) -> ServerAnswer {
        match answer {
            Ok(Deleted::Done) => ServerAnswer::Accepted,
            Ok(Deleted::Gone) => ServerAnswer::refused("not found (404): gone since it was read"),
            Ok(Deleted::Changed(_)) => {
                ServerAnswer::refused("conflict (409): its uid or resourceVersion changed since it was read")
            }
            Err(error) => ServerAnswer::of_error(&error),
        }
    }

    pub fn of_evicted(answer: Result<Evicted>) -> ServerAnswer {
        match answer {
            Ok(Evicted::Done) => ServerAnswer::Accepted,
            Ok(Evicted::Gone) => ServerAnswer::refused("not found (404): gone since it was read"),
            Ok(Evicted::Changed) => {
                ServerAnswer::refused("conflict (409): the pod was replaced since it was read")
            }
            Ok(Evicted::Refused(refused)) => ServerAnswer::Refused {
                reason: format!("the budget does not allow it now (429): {}", refused.describe()),
            },
            Err(error) => ServerAnswer::of_error(&error),
        }
    }

    fn of_error(error: &Error) -> ServerAnswer {
        match error {
            Error::Kube { source, .. } => {
                ServerAnswer::Refused { reason: crate::error::describe_kube_error(source) }
            }
            other => ServerAnswer::Refused { reason: other.to_string() },
        }
    }

    fn refused(reason: &str) -> ServerAnswer {
        ServerAnswer::Refused { reason: reason.to_owned() }
    }
}

impl std::fmt::Display for ServerAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerAnswer::Accepted => f.write_str("accepted"),
            ServerAnswer::Refused { reason } => write!(f, "refused: {reason}"),
            ServerAnswer::NotChecked { depends_on } => write!(f, "not checked: depends on step {depends_on}"),
        }
    }
}

/// One write of the plan and its answer (`serverDryRun` in the machine output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerChecked {
    /// Its place in the order the run sends its writes, from 1.
    pub step: usize,
    /// What it does (`delete PVC ns/data-web-2`).
    pub write: String,
    #[serde(flatten)]
    pub answer: ServerAnswer,
}

/// The writes of a `--dry-run=server` run, in order, with their answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ServerDryRun {
    pub writes: Vec<ServerChecked>,
}

impl ServerDryRun {
    /// Records the next write; gives its step.
    pub fn add(&mut self, write: impl Into<String>, answer: ServerAnswer) -> usize {
        let step = self.writes.len() + 1;
        self.writes.push(ServerChecked { step, write: write.into(), answer });
        step
    }

    /// The step the next write gets.
    pub fn next_step(&self) -> usize {
        self.writes.len() + 1
    }

    /// What stderr says: a heading, then a line per write.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec!["server dry run (dryRun=All; nothing is stored):".to_owned()];
        match self.writes.is_empty() {
            true => lines.push("  no write to check".to_owned()),
            false => {
                lines.extend(self.writes.iter().map(|w| format!("  {}. {}: {}", w.step, w.write, w.answer)))
            }
        }
        lines
    }

    /// The end of the run: fine when no write was refused.
    ///
    /// # Errors
    /// [`Stop::ServerDryRunRefused`] when one was (exit 1).
    pub fn ending(&self) -> Result<()> {
        let refused = self.writes.iter().filter(|w| matches!(w.answer, ServerAnswer::Refused { .. })).count();
        let checked =
            self.writes.iter().filter(|w| !matches!(w.answer, ServerAnswer::NotChecked { .. })).count();
        match refused {
            0 => Ok(()),
            refused => Err(Stop::ServerDryRunRefused { refused, checked }.into()),
        }
    }
}

/// The object as it is now, after a guard failed.
async fn reread<K>(api: &Api<K>, name: &str, what: &str) -> Result<Option<K>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(name).await.map_err(Error::kube(format!("read {name} again (to {what})")))
}

fn field_managed() -> PatchParams {
    PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() }
}

/// Server-side dry runs: questions to the API server about what it would do with a write
/// (whether it keeps `maxUnavailable`, what a `--patch` makes of the pod template). Always
/// `dryRun=All`, whatever the run's mode, so nothing is stored and no guard is needed; a dry
/// run may ask them too.
#[derive(Clone)]
pub struct Probe {
    client: Client,
}

impl Probe {
    pub fn new(kube: &Kube) -> Probe {
        Probe { client: kube.client.clone() }
    }

    /// What the API server would store for `object` (which may have a generated name).
    ///
    /// # Errors
    /// The request's own error: the caller reads its status.
    pub async fn create<K>(&self, namespace: &str, object: &K) -> std::result::Result<K, kube::Error>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Serialize
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), namespace);
        api.create(&PostParams { dry_run: true, field_manager: Some(FIELD_MANAGER.to_owned()) }, object).await
    }

    /// What a strategic-merge patch makes of `name`, strictly validated: a field the API does
    /// not know is an error naming it, not silently dropped.
    ///
    /// # Errors
    /// The request's own error: the caller reads its status.
    pub async fn strategic_patch<K>(
        &self,
        namespace: &str,
        name: &str,
        body: &serde_json::Value,
    ) -> std::result::Result<K, kube::Error>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), namespace);
        let params = PatchParams {
            dry_run: true,
            field_validation: Some(ValidationDirective::Strict),
            ..field_managed()
        };
        api.patch(name, &params, &Patch::Strategic(body)).await
    }
}

/// Asks the API server a review question (a SelfSubjectAccessReview): a create it answers and
/// never stores.
///
/// # Errors
/// The request's own error.
pub async fn review<K>(api: &Api<K>, question: &K) -> std::result::Result<K, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    api.create(&PostParams::default(), question).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_dry_run_lists_each_write_and_fails_when_one_was_refused() {
        let mut run = ServerDryRun::default();
        assert_eq!(run.lines(), ["server dry run (dryRun=All; nothing is stored):", "  no write to check"]);
        assert!(run.ending().is_ok(), "nothing to check is nothing refused");
        let first = run.add("cordon node n1", ServerAnswer::Accepted);
        assert_eq!(run.next_step(), 2);
        run.add("evict pod ns/web-2", ServerAnswer::NotChecked { depends_on: first });
        assert_eq!(
            run.lines(),
            [
                "server dry run (dryRun=All; nothing is stored):",
                "  1. cordon node n1: accepted",
                "  2. evict pod ns/web-2: not checked: depends on step 1",
            ]
        );
        assert!(run.ending().is_ok());
        run.add("evict pod ns/db-0", ServerAnswer::Refused { reason: "forbidden".to_owned() });
        assert_eq!(run.lines()[3], "  3. evict pod ns/db-0: refused: forbidden");
        let error = run.ending().unwrap_err();
        assert_eq!(error.exit_code(), 1);
        assert_eq!(
            error.to_string(),
            "the API server refused 1 of the 2 writes sent with dryRun=All (above); nothing was stored"
        );
        assert_eq!(
            serde_json::to_value(&run).unwrap(),
            serde_json::json!([
                {"step": 1, "write": "cordon node n1", "answer": "accepted"},
                {"step": 2, "write": "evict pod ns/web-2", "answer": "notChecked", "dependsOn": 1},
                {"step": 3, "write": "evict pod ns/db-0", "answer": "refused", "reason": "forbidden"},
            ])
        );
    }
}
