//! One notion of "orphaned", shared by `status` and `pvc prune`: which claims outside a
//! StatefulSet's live ordinals could be deleted, and why the others must stay.
//!
//! A claim is outside when its name is exactly `<template>-<sts>-<ordinal>` for a template of
//! the StatefulSet and the ordinal is outside `[start, start + replicas)`. It is an orphan (a
//! prune would delete it) only when the StatefulSet's own labels or ownerReference vouch for
//! it, no other StatefulSet of the namespace would mount a claim of that name, the StatefulSet
//! has settled (and is not parked at 0 replicas), no pod holds that ordinal or mounts the
//! claim, and nothing else is already deleting it.

use std::collections::HashMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::ResourceExt;
use serde::Serialize;

use super::claims::{Claim, Evidence, claims_of};
use super::names::{OrdinalRange, pod_name};
use super::objects::{mounted_claims, ordinal_range, pods_of, scaling_settled, terminating};
use super::reads::Reads;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    Prune,
    Keep,
    /// Named like a claim of the StatefulSet, but nothing else says it is: never deleted.
    Unverified,
}

/// Why a claim outside the live ordinals is kept, when it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Keep {
    /// Another StatefulSet of the namespace would mount a claim of that name.
    SharedName,
    /// The StatefulSet is scaled to 0: parked, not shrunk.
    Parked,
    /// The StatefulSet has not finished scaling.
    Scaling,
    /// A pod still holds the ordinal (it is being scaled away).
    PendingScaleDown,
    /// The claim is already being deleted.
    Deleting,
    /// Some pod mounts it.
    InUse,
    /// `pvc restore` made it from a snapshot for the next scale-up (its annotation
    /// [`RESTORED_FROM`]): it is there to be adopted, not left behind.
    Restored,
}

/// The annotation `pvc restore` puts on the claim it creates: the VolumeSnapshot it came from.
/// Prune keeps such a claim until the annotation is removed.
pub const RESTORED_FROM: &str = "kubectl-stateful.dev/restored-from";

/// A claim outside the live ordinals, judged.
#[derive(Debug, Clone)]
pub struct Outside<'a> {
    pub claim: Claim<'a>,
    pub verdict: Verdict,
    /// `Some` when kept: why.
    pub keep: Option<Keep>,
    pub reason: String,
}

/// The rules, indexed once per snapshot: who could claim each name, and who mounts what.
pub struct Rules<'s> {
    snapshot: &'s Reads,
    /// (namespace, claim) -> StatefulSets that would mount it.
    claimants: HashMap<(String, String), Vec<String>>,
    /// (namespace, claim) -> a pod that mounts it.
    mounts: HashMap<(String, &'s str), String>,
}

impl<'s> Rules<'s> {
    pub fn new(snapshot: &'s Reads) -> Rules<'s> {
        let mut claimants: HashMap<(String, String), Vec<String>> = HashMap::new();
        for sts in &snapshot.statefulsets {
            for claim in claims_of(sts, &snapshot.pvcs) {
                let key = (claim.pvc.namespace().unwrap_or_default(), claim.pvc.name_any());
                claimants.entry(key).or_default().push(sts.name_any());
            }
        }
        let mounts = snapshot
            .pods
            .iter()
            .flat_map(|pod| {
                let namespace = pod.namespace().unwrap_or_default();
                mounted_claims(pod).map(move |claim| ((namespace.clone(), claim), pod.name_any()))
            })
            .collect();
        Rules { snapshot, claimants, mounts }
    }

    /// The claims of `sts` outside its live ordinals, each with its verdict, in ordinal order.
    pub fn judge(&self, sts: &'s StatefulSet, include_scaled_to_zero: bool) -> Vec<Outside<'s>> {
        let sts_name = sts.name_any();
        let namespace = sts.namespace().unwrap_or_default();
        let range = ordinal_range(sts);
        let pods = pods_of(sts, &self.snapshot.pods);
        claims_of(sts, &self.snapshot.pvcs)
            .into_iter()
            .filter(|c| !c.live)
            .map(|claim| {
                let name = claim.pvc.name_any();
                let others: Vec<&str> = self
                    .claimants
                    .get(&(namespace.clone(), name.clone()))
                    .into_iter()
                    .flatten()
                    .filter(|n| **n != sts_name)
                    .map(String::as_str)
                    .collect();
                let pod_at_ordinal = pods.iter().any(|(o, _)| *o == claim.ordinal);
                let mounted_by = self.mounts.get(&(namespace.clone(), name.as_str()));
                let (keep, reason) = match () {
                    _ if claim.evidence == Evidence::NameOnly => {
                        let reason = format!(
                            "named like {sts_name}'s claim, but has neither its selector labels nor an ownerReference"
                        );
                        return Outside { claim, verdict: Verdict::Unverified, keep: None, reason };
                    }
                    _ if !others.is_empty() => {
                        (Keep::SharedName, format!("also named like a claim of StatefulSet {}", others.join(", ")))
                    }
                    _ if range.replicas == 0 && !include_scaled_to_zero => (
                        Keep::Parked,
                        format!("{sts_name} is scaled to 0 (parked, not shrunk); pass --include-scaled-to-zero to prune"),
                    ),
                    _ if !scaling_settled(sts) => {
                        (Keep::Scaling, format!("{sts_name} is still scaling; try again once it settles"))
                    }
                    _ if pod_at_ordinal => (
                        Keep::PendingScaleDown,
                        format!("pod {} still exists (it is being scaled away)", pod_name(&sts_name, claim.ordinal)),
                    ),
                    _ if terminating(claim.pvc) => (Keep::Deleting, "already being deleted".to_owned()),
                    _ if claim.pvc.annotations().contains_key(RESTORED_FROM) => (
                        Keep::Restored,
                        format!(
                            "restored from VolumeSnapshot {} for the next scale-up past ordinal {} (annotation {RESTORED_FROM}; \
                             prune keeps it until that annotation is removed)",
                            claim.pvc.annotations()[RESTORED_FROM],
                            claim.ordinal
                        ),
                    ),
                    _ if mounted_by.is_some() => {
                        (Keep::InUse, format!("mounted by pod {}", mounted_by.map(String::as_str).unwrap_or_default()))
                    }
                    _ => {
                        let reason =
                            format!("ordinal {} is outside the live range {}", claim.ordinal, describe_range(range));
                        return Outside { claim, verdict: Verdict::Prune, keep: None, reason };
                    }
                };
                Outside { claim, verdict: Verdict::Keep, keep: Some(keep), reason }
            })
            .collect()
    }
}

pub fn describe_range(range: OrdinalRange) -> String {
    if range.replicas <= 0 {
        "(none: 0 replicas)".to_owned()
    } else {
        format!("{}..{}", range.start, range.end() - 1)
    }
}
