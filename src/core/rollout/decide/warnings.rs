//! What a rollout says before it goes on: each family of warning a decided roll carries, as a
//! function of what was read.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::super::gates::Gates;
use super::super::order::ZONE_LABEL;
use crate::core::facts::same_template as same_pod_template;
use crate::core::objects::{LivePods, current_revision, ordinal_range, short_revision, update_revision};
use crate::core::owners::{AppSync, Owners};

/// Pods on the update revision at replica indexes the rollout held back when it staged
/// (`staged` replicas): a scale-up created them, no step released them.
pub fn unreleased(sts: &StatefulSet, pods: &[Pod], staged: i32) -> Option<String> {
    let range = ordinal_range(sts);
    let unreleased: Vec<String> = LivePods::of(sts, pods)
        .on(update_revision(sts))
        .filter(|(o, _)| range.index_of(*o) >= i64::from(staged))
        .map(|(_, p)| p.name_any())
        .collect();
    (!unreleased.is_empty()).then(|| {
        format!(
            "{} run the update revision though no step released them: a scale-up created them while the rollout \
             held {staged} replicas back",
            unreleased.join(", ")
        )
    })
}

/// Current and update revisions that record the same pod template (kubernetes#134773): the
/// rollout only restarts pods.
pub fn same_template(sts: &StatefulSet, revisions: &[ControllerRevision]) -> Option<String> {
    let revision =
        |name: Option<&str>| revisions.iter().find(|r| name.is_some() && r.metadata.name.as_deref() == name);
    let (from, to) = (revision(current_revision(sts))?, revision(update_revision(sts))?);
    if from.metadata.name == to.metadata.name || same_pod_template(from, to) != Some(true) {
        return None;
    }
    let name = sts.name_any();
    Some(format!(
        "revisions {} and {} record the same pod template (they differ only in how it was encoded, as after the \
         1.33 → 1.34 upgrade, kubernetes#134773): this rollout only restarts pods",
        short_revision(&name, from.metadata.name.as_deref().unwrap_or_default()),
        short_revision(&name, to.metadata.name.as_deref().unwrap_or_default()),
    ))
}

/// Gates asked of a resumed rollout other than its journal's: it keeps those.
pub fn gates_kept(journaled: &Gates) -> String {
    format!(
        "this rollout keeps the gates it was started with ({}); to change them, finish it or abort it first",
        journaled.describe()
    )
}

/// `--by-zone` where no pod's node says its zone: highest ordinal first, as without it.
pub fn zones_unlabelled(zones: &BTreeMap<i32, Option<String>>) -> Option<String> {
    zones.values().all(Option::is_none).then(|| {
        format!(
            "--by-zone: no node of the {} pod(s) has a {ZONE_LABEL} label: the pods are replaced highest ordinal \
             first, as without it",
            zones.len()
        )
    })
}

/// `--evict` on a RollingUpdate set: OnDelete while the rollout runs.
pub fn evict_switch(name: &str) -> String {
    format!(
        "--evict: the update strategy of {name} is OnDelete while this rollout runs, so that each pod is replaced by \
         eviction (PodDisruptionBudgets apply); finishing or aborting the rollout restores it as it is now"
    )
}

/// A hold of a set an Argo CD Application applies, when the Application could not be read: a
/// `Replace=true` set there (not on the object) would reset the partition with the change and
/// release every pod at once, and nothing here can tell.
pub fn hold_unverified(owners: &Owners, application: Option<&AppSync>) -> Option<String> {
    let applier = owners.applier.as_ref().filter(|a| a.replace_sync.is_none())?;
    let Some(AppSync::Unknown(why)) = application else { return None };
    let (namespace, name) = applier.application()?;
    Some(format!(
        "the hold holds only if {} does not sync with Replace=true (set on the application, it does not show on \
         the object), and Application {namespace}/{name} could not be read ({why}): check its \
         spec.syncPolicy.syncOptions before Git changes the template; with Replace=true its sync releases every pod \
         at once",
        applier.describe()
    ))
}
