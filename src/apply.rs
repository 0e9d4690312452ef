//! What every write shares: the field manager, and deletes guarded by preconditions.
//! Patches of a StatefulSet are built in [`crate::core::patches`]; this is where any write is
//! sent.

use kube::Resource;
use kube::api::{Api, DeleteParams, PatchParams, Preconditions};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The field manager recorded on every change this tool makes (`metadata.managedFields`).
pub use crate::core::owners::FIELD_MANAGER;

/// Patch parameters naming our field manager.
pub fn patch_params() -> PatchParams {
    PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() }
}

/// How a guarded delete ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// The object was deleted (or its deletion started: finalizers may hold it a while).
    Now,
    /// 404: it was already gone.
    AlreadyGone,
    /// 409: its uid or resourceVersion no longer match: someone replaced or changed it, and it
    /// was left alone.
    Changed,
}

/// The object exactly as read: its uid, and optionally its resourceVersion.
#[derive(Debug, Clone, Default)]
pub struct Exact {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    /// Seconds of grace; `Some(0)` is a force delete.
    pub grace_period_seconds: Option<u32>,
}

/// Deletes `name` only if it is still the object described by `exact` (uid and, if given,
/// resourceVersion preconditions). 404 and 409 are answers, not errors.
///
/// # Errors
/// Any other API failure, as [`Error::Kube`] with `what` as its context.
pub async fn delete_exact<K>(api: &Api<K>, name: &str, exact: Exact, what: &str) -> Result<Deleted>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let params = DeleteParams {
        grace_period_seconds: exact.grace_period_seconds,
        preconditions: Some(Preconditions { uid: exact.uid, resource_version: exact.resource_version }),
        ..Default::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => Ok(Deleted::Now),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Deleted::AlreadyGone),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(Deleted::Changed),
        Err(e) => Err(Error::kube(what)(e)),
    }
}

/// How an eviction ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evicted {
    /// The pod is being deleted (the Eviction API allowed it).
    Now,
    /// 404: it was already gone.
    AlreadyGone,
    /// 409: its uid no longer matches: the controller replaced it already.
    Changed,
    /// 429: a PodDisruptionBudget does not allow it now; the API server's reason, with the
    /// budget's own cause (`The disruption budget web needs 3 healthy pods and has 3 currently`).
    Refused(String),
}

/// Evicts pod `name` through the Eviction API (`pods/eviction`, policy/v1), which honours
/// PodDisruptionBudgets, only if it is still the pod with `uid` (a precondition).
///
/// # Errors
/// Any other API failure, as [`Error::Kube`] with `what` as its context.
pub async fn evict_exact(
    api: &Api<k8s_openapi::api::core::v1::Pod>,
    name: &str,
    uid: Option<String>,
    what: &str,
) -> Result<Evicted> {
    let params = kube::api::EvictParams {
        delete_options: Some(DeleteParams {
            preconditions: Some(Preconditions { uid, resource_version: None }),
            ..Default::default()
        }),
        post_options: kube::api::PostParams { dry_run: false, field_manager: Some(FIELD_MANAGER.to_owned()) },
    };
    match api.evict(name, &params).await {
        Ok(_) => Ok(Evicted::Now),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Evicted::AlreadyGone),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(Evicted::Changed),
        Err(kube::Error::Api(status)) if status.code == 429 => {
            let causes: Vec<String> = status
                .details
                .iter()
                .flat_map(|d| d.causes.iter())
                .map(|c| c.message.trim_end_matches('.').to_owned())
                .filter(|m| !m.is_empty())
                .collect();
            let message = status.message.trim_end_matches('.');
            Ok(Evicted::Refused(match causes.is_empty() {
                true => message.to_owned(),
                false => format!("{message}: {}", causes.join("; ")),
            }))
        }
        Err(e) => Err(Error::kube(what)(e)),
    }
}
