//! Checks, before a command changes anything, that the user may make every change it plans
//! (SelfSubjectAccessReview, as `kubectl auth can-i`), so a missing permission stops the command
//! with one line naming it instead of leaving work half done.

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::Api;

use crate::client::Kube;
use crate::core::advice::RunFlags;
use crate::error::{Error, Result};

/// One permission: `verb` on `resource` of API `group` ("" for core), in `namespace` (None for
/// cluster-scoped resources).
#[derive(Debug, Clone, Copy)]
pub struct Permission<'a> {
    pub verb: &'a str,
    pub group: &'a str,
    pub resource: &'a str,
    pub namespace: Option<&'a str>,
    /// `exec`, `eviction`, …: the subresource of `resource` the verb is about.
    pub subresource: Option<&'a str>,
}

impl Permission<'_> {
    /// `resource.group`, as kubectl names it (`pods`, `statefulsets.apps`), and `/subresource`.
    fn resource(&self) -> String {
        let resource = if self.group.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}.{}", self.resource, self.group)
        };
        match self.subresource {
            Some(sub) => format!("{resource}/{sub}"),
            None => resource,
        }
    }

    fn describe(&self) -> String {
        let resource = self.resource();
        match self.namespace {
            Some(ns) => format!("{} {resource} in namespace {ns}", self.verb),
            None => format!("{} {resource} (cluster-wide)", self.verb),
        }
    }

    /// The `kubectl auth can-i` that asks the same, with the run's connection `flags`.
    fn can_i(&self, flags: &RunFlags) -> String {
        // kubectl reads `pods/exec` as the pod named exec: the subresource is a flag.
        let resource = Permission { subresource: None, ..*self }.resource();
        let sub = self.subresource.map(|s| format!(" --subresource={s}")).unwrap_or_default();
        let ask = format!("auth can-i {} {resource}{sub}", self.verb);
        match self.namespace {
            Some(ns) => flags.kubectl(ns, &ask),
            None => flags.kubectl_cluster(&ask),
        }
    }
}

/// Fails with the first permission the user lacks, saying what state that leaves (`left`, for
/// example "nothing was changed"); all reviews run concurrently.
pub async fn require(kube: &Kube, permissions: &[Permission<'_>], left: &str) -> Result<()> {
    let api: Api<SelfSubjectAccessReview> = Api::all(kube.client.clone());
    let reviews = permissions.iter().map(|p| {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(p.verb.to_owned()),
                    group: Some(p.group.to_owned()),
                    resource: Some(p.resource.to_owned()),
                    subresource: p.subresource.map(str::to_owned),
                    namespace: p.namespace.map(str::to_owned),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let api = api.clone();
        async move { crate::write::review(&api, &review).await }
    });
    let results = futures::future::join_all(reviews).await;
    for (permission, result) in permissions.iter().zip(results) {
        let allowed = result
            .map_err(Error::kube(format!("check whether you may {}", permission.describe())))?
            .status
            .is_some_and(|s| s.allowed);
        if !allowed {
            return Err(Error::Forbidden {
                permission: permission.describe(),
                can_i: permission.can_i(&kube.flags),
                left: left.to_owned(),
            });
        }
    }
    Ok(())
}
