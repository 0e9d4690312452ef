//! The prune plan: the claims a scale-down left behind, judged by the rules of
//! [`super::orphans`] (the same `status` applies), with what deleting each would do to its
//! data; and the result of a run.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube_quantity::ParsedQuantity;
use serde::Serialize;

use super::names::OrdinalRange;
use super::objects::*;
use super::orphans::{Outside, Rules};
pub use super::orphans::{Verdict, describe_range};
use super::reads::Reads;
use super::volume_snapshots::{self as vsnap, SnapshotClass};

/// The VolumeSnapshot `pvc prune --snapshot` takes of a claim before deleting it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PlannedSnapshot {
    /// `<claim>-<UTC date-time>`, e.g. `data-web-3-20261130-224217`.
    pub name: String,
    pub class: String,
    pub driver: String,
    /// The class's deletion policy; the bound content is switched to Retain if it is not.
    pub class_deletion_policy: String,
    /// The StatefulSet's selector labels and `kubectl-stateful.dev/{statefulset,template,ordinal}`.
    pub labels: std::collections::BTreeMap<String, String>,
}

/// Adds to each claim `plan` prunes the snapshot to take first (`--snapshot`). `classes` is
/// `None` when the cluster has no VolumeSnapshot API; `explicit` is `--snapshot-class`.
///
/// # Errors
/// The first claim that cannot be snapshotted, and why: the whole run is refused.
pub fn plan_snapshots(
    plan: &mut PrunePlan,
    snapshot: &Reads,
    scope: &[&StatefulSet],
    classes: Option<&[SnapshotClass]>,
    explicit: Option<&str>,
    now: Timestamp,
) -> Result<(), vsnap::Refusal> {
    if plan.to_prune().next().is_none() {
        return Ok(());
    }
    let classes = classes.ok_or(vsnap::Refusal::NoApi)?;
    let volumes = snapshot.volumes_by_name();
    let mut colocated = Vec::new();
    for c in plan.candidates.iter_mut().filter(|c| c.verdict == Verdict::Prune) {
        let volume = c.volume.as_deref().ok_or_else(|| vsnap::Refusal::NotBound { claim: c.name.clone() })?;
        let volumes =
            volumes.as_ref().ok_or_else(|| vsnap::Refusal::VolumesUnreadable { claim: c.name.clone() })?;
        let driver = volumes
            .get(volume)
            .and_then(|pv| vsnap::volume_driver(pv))
            .ok_or_else(|| vsnap::Refusal::NoDriver { claim: c.name.clone(), volume: volume.to_owned() })?;
        let class = vsnap::choose_class(classes, &driver, explicit, &c.name)?;
        if let Some(why) = vsnap::colocated(class) {
            colocated.push(format!("{} ({why})", c.name));
        }
        let sts = scope.iter().find(|s| {
            s.name_any() == c.stateful_set && s.namespace().as_deref() == Some(c.namespace.as_str())
        });
        let name = vsnap::snapshot_name(&c.name, now)
            .ok_or_else(|| vsnap::Refusal::NotBound { claim: c.name.clone() })?;
        c.snapshot = Some(PlannedSnapshot {
            name,
            class: class.name.clone(),
            driver,
            class_deletion_policy: class.deletion_policy.clone(),
            labels: sts.map(|s| vsnap::snapshot_labels(s, &c.template, c.ordinal)).unwrap_or_default(),
        });
    }
    if !colocated.is_empty() {
        plan.warnings.push(format!(
            "the snapshots of {} do not outlive their volumes: they are no safety net for deleting the claims",
            colocated.join(", ")
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub name: String,
    pub namespace: String,
    pub stateful_set: String,
    pub template: String,
    pub ordinal: i32,
    pub verdict: Verdict,
    pub reason: String,
    pub phase: String,
    pub capacity: Option<String>,
    pub volume: Option<String>,
    /// `None` when the PV is unknown or PersistentVolumes could not be read.
    pub reclaim_policy: Option<String>,
    /// The bound PV will be switched to Retain before the claim is deleted (`--retain-volumes`).
    pub retain_volume: bool,
    pub created_at: Option<Timestamp>,
    /// The snapshot taken before the delete (`--snapshot`; added within v1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<PlannedSnapshot>,
    /// Preconditions for the delete: the claim must still be this object, unchanged.
    #[serde(skip)]
    pub uid: String,
    #[serde(skip)]
    pub resource_version: String,
    /// What must not have changed besides the status: [`claim_fingerprint`] at plan time.
    #[serde(skip)]
    pub fingerprint: String,
}

impl Candidate {
    /// Deleting this claim destroys its data: its PV is reclaimed with Delete and not retained first.
    pub fn destroys_data(&self) -> bool {
        self.verdict == Verdict::Prune && self.frees_storage()
    }

    /// Deleting this claim gives its storage back: the PV goes with it.
    pub fn frees_storage(&self) -> bool {
        self.reclaim_policy.as_deref() == Some("Delete") && !self.retain_volume
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrunePlan {
    pub candidates: Vec<Candidate>,
    /// Sum of the capacities whose PVs are reclaimed with Delete: the storage pruning frees.
    pub storage_freed: String,
    pub warnings: Vec<String>,
}

impl PrunePlan {
    pub fn to_prune(&self) -> impl Iterator<Item = &Candidate> {
        self.candidates.iter().filter(|c| c.verdict == Verdict::Prune)
    }
}

#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    pub include_scaled_to_zero: bool,
    pub retain_volumes: bool,
}

/// Plans the prune of `scope` (StatefulSets of `snapshot`) against everything in `snapshot`.
pub fn plan(snapshot: &Reads, scope: &[&StatefulSet], options: &PruneOptions) -> PrunePlan {
    let volumes = snapshot.volumes_by_name();
    let mut candidates = Vec::new();
    let mut warnings = Vec::new();
    let rules = Rules::new(snapshot);
    for &sts in scope {
        let sts_name = sts.name_any();
        let namespace = sts.namespace().unwrap_or_default();
        let outside = rules.judge(sts, options.include_scaled_to_zero);
        if outside.is_empty() {
            continue;
        }
        let (_, when_scaled) = pvc_retention(sts);
        if when_scaled == "Delete" {
            warnings.push(format!(
                "{namespace}/{sts_name} has whenScaled: Delete, so the controller deletes scaled-down claims itself; \
                 {} remain (a manual delete of a pod races the policy)",
                outside.len()
            ));
        }
        for hpa in autoscalers_of(snapshot, sts) {
            warnings.push(format!(
                "HorizontalPodAutoscaler {namespace}/{hpa} scales {sts_name}: a scale-up may come back for these ordinals"
            ));
        }
        for Outside { claim, verdict, reason, .. } in outside {
            let volume = pvc_volume(claim.pvc);
            let reclaim_policy =
                volume.and_then(|v| volumes.as_ref()?.get(v)).map(|pv| pv_reclaim_policy(pv).to_owned());
            // Switch every volume not known to be Retain: an unknown policy may well be Delete.
            let retain_volume = options.retain_volumes
                && verdict == Verdict::Prune
                && volume.is_some()
                && reclaim_policy.as_deref() != Some("Retain");
            candidates.push(Candidate {
                name: claim.pvc.name_any(),
                namespace: namespace.clone(),
                stateful_set: sts_name.clone(),
                template: claim.template.to_owned(),
                ordinal: claim.ordinal,
                verdict,
                reason,
                phase: pvc_phase(claim.pvc).to_owned(),
                capacity: pvc_capacity(claim.pvc),
                volume: volume.map(str::to_owned),
                reclaim_policy,
                retain_volume,
                created_at: creation(claim.pvc),
                snapshot: None,
                uid: claim.pvc.uid().unwrap_or_default(),
                resource_version: claim.pvc.resource_version().unwrap_or_default(),
                fingerprint: claim_fingerprint(claim.pvc),
            });
        }
    }

    if snapshot.volumes.is_none() && candidates.iter().any(|c| c.verdict == Verdict::Prune) {
        warnings.push(
            "PersistentVolumes are not readable with these credentials: whether a delete destroys data is unknown"
                .to_owned(),
        );
    }
    candidates.sort_by(|a, b| {
        (&a.namespace, &a.stateful_set, a.ordinal, &a.template).cmp(&(
            &b.namespace,
            &b.stateful_set,
            b.ordinal,
            &b.template,
        ))
    });
    let storage_freed = total_capacity(candidates.iter().filter(|c| c.destroys_data()));
    PrunePlan { candidates, storage_freed, warnings }
}

/// The re-check of one claim right before its delete, in the protocol's order (the safety
/// argument is the order): a pod holding its ordinal now keeps it (the ordinal is live again),
/// then a pod mounting it now (any pod, terminating ones too: the claim's protection finalizer
/// would hold it until they are gone, then delete it under whatever comes next). Then, after
/// the snapshot and the volume's Retain, the StatefulSet read again ([`changed_since_plan`],
/// which stops the whole run), the delete guarded by uid and resourceVersion (tried once more
/// only if [`still_as_planned`]), and the StatefulSet read right after it ([`after_delete`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recheck {
    Delete,
    /// Kept, and why.
    Keep(String),
}

/// See [`Recheck`]: `pod_holds_ordinal` when the ordinal's pod exists now, `mounting` the
/// namespace's pods as read right before the group's deletes.
pub fn recheck(candidate: &Candidate, pod_holds_ordinal: bool, mounting: &[Pod]) -> Recheck {
    if pod_holds_ordinal {
        return Recheck::Keep("a pod now holds this ordinal".to_owned());
    }
    match mounting.iter().find(|p| mounted_claims(p).any(|c| c == candidate.name)) {
        Some(pod) => Recheck::Keep(format!("now mounted by pod {}", pod.name_any())),
        None => Recheck::Delete,
    }
}

/// The StatefulSet read right after a claim's delete, against the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterDelete {
    AsPlanned,
    /// It scaled up to the claim's ordinal in the window no precondition closes: `pod` will
    /// start on a new, empty volume; the old data is on the Released PV `released`, when its
    /// reclaim policy is Retain.
    ScaledUp {
        pod: String,
        released: Option<String>,
    },
    /// It changed otherwise since the plan ([`changed_since_plan`]): stop before the next.
    Changed(String),
}

/// See [`AfterDelete`].
pub fn after_delete(planned: OrdinalRange, now: &StatefulSet, candidate: &Candidate) -> AfterDelete {
    if ordinal_range(now).contains(candidate.ordinal) {
        let retained = candidate.retain_volume || candidate.reclaim_policy.as_deref() == Some("Retain");
        return AfterDelete::ScaledUp {
            pod: super::names::pod_name(&candidate.stateful_set, candidate.ordinal),
            released: retained.then(|| candidate.volume.clone().unwrap_or_else(|| "?".to_owned())),
        };
    }
    match changed_since_plan(planned, now, candidate.ordinal) {
        Some(change) => AfterDelete::Changed(change),
        None => AfterDelete::AsPlanned,
    }
}

/// What changed in the StatefulSet since the plan that forbids deleting the claim of `ordinal`
/// (read again right before the delete, and right after it): its live range, a scale in
/// progress, or the ordinal being live again. `None` when the plan still holds.
pub fn changed_since_plan(planned: OrdinalRange, now: &StatefulSet, ordinal: i32) -> Option<String> {
    let range = ordinal_range(now);
    if range == planned && scaling_settled(now) && !range.contains(ordinal) {
        return None;
    }
    Some(format!(
        "replicas {} -> {}, start {} -> {}{}",
        planned.replicas,
        range.replicas,
        planned.start,
        range.start,
        if scaling_settled(now) { "" } else { ", scaling" }
    ))
}

fn autoscalers_of<'s>(snapshot: &'s Reads, sts: &StatefulSet) -> impl Iterator<Item = String> + 's {
    let namespace = sts.namespace();
    let name = sts.name_any();
    snapshot.autoscalers.iter().flatten().filter_map(move |hpa| {
        let target = &hpa.spec.as_ref()?.scale_target_ref;
        (hpa.namespace() == namespace && target.kind == "StatefulSet" && target.name == name)
            .then(|| hpa.name_any())
    })
}

/// What a claim's deletion depends on besides its status: spec, labels, annotations, owners,
/// finalizers. The status moves on its own (1.37's `Unused` condition, set by
/// kube-controller-manager whenever a pod starts or stops referencing the claim), which makes
/// a resourceVersion precondition fail without anything the plan judged having changed.
pub fn claim_fingerprint(pvc: &k8s_openapi::api::core::v1::PersistentVolumeClaim) -> String {
    let meta = &pvc.metadata;
    serde_json::json!([pvc.spec, meta.labels, meta.annotations, meta.owner_references, meta.finalizers])
        .to_string()
}

/// Whether `now`, a claim read again after its guarded delete failed, may be deleted after all:
/// the same object as `candidate` (uid), not being deleted, its [`claim_fingerprint`]
/// unchanged, and no pod referencing it now (`mounted`, from the pods read again; a pod that
/// started using it is exactly what the precondition is there to catch).
pub fn still_as_planned(
    candidate: &Candidate,
    now: &k8s_openapi::api::core::v1::PersistentVolumeClaim,
    mounted: bool,
) -> bool {
    now.uid().as_deref() == Some(candidate.uid.as_str())
        && now.metadata.deletion_timestamp.is_none()
        && claim_fingerprint(now) == candidate.fingerprint
        && !mounted
}

/// The sum of the candidates' capacities, in the largest binary unit that keeps it readable.
pub fn total_capacity<'c>(candidates: impl Iterator<Item = &'c Candidate>) -> String {
    let total = candidates
        .filter_map(|c| c.capacity.as_deref())
        .filter_map(|q| ParsedQuantity::try_from(q).ok())
        .fold(ParsedQuantity::default(), |sum, q| sum + q);
    let bytes = total.to_bytes_f64().unwrap_or(0.0);
    human_bytes(bytes)
}

/// `bytes` in the largest binary unit that keeps it readable (`4Gi`, `1.5Ti`, `512B`).
pub fn human_bytes(bytes: f64) -> String {
    binary_units(bytes, "B")
}

/// `bytes` in the largest binary unit that keeps it readable, `byte` naming the unit below
/// `Ki` (`""` writes a Kubernetes quantity: `512`, `1Gi`).
pub fn binary_units(bytes: f64, byte: &str) -> String {
    let units: [&str; 6] = [byte, "Ki", "Mi", "Gi", "Ti", "Pi"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value}{}", units[unit])
    } else {
        format!("{value:.1}{}", units[unit])
    }
}

/// What a prune run did, claim by claim.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PruneResult {
    pub deleted: Vec<ClaimRef>,
    /// PVs of deleted claims that stay, with their data, as Released PVs: reclaim policy Retain,
    /// or switched to it first (`--retain-volumes`).
    pub retained_volumes: Vec<String>,
    /// Claims left in place, with the reason (the plan's keep verdicts included).
    pub kept: Vec<KeptClaim>,
    /// Claims the run meant to delete but did not, with the error.
    pub failed: Vec<KeptClaim>,
    pub storage_freed: String,
    /// The snapshots taken (`--snapshot`), ready and with a Retain content, each before its
    /// claim's delete (added within v1).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<TakenSnapshot>,
}

/// A snapshot `pvc prune --snapshot` took, made sure of, and recorded before deleting its claim.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TakenSnapshot {
    pub claim: String,
    pub namespace: String,
    pub name: String,
    pub content: String,
    /// Always `Retain` once recorded.
    pub deletion_policy: String,
    /// Whether the run switched the content from the class's policy to Retain.
    pub retained_by_run: bool,
    pub restore_size: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRef {
    pub name: String,
    pub namespace: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KeptClaim {
    pub name: String,
    pub namespace: String,
    pub reason: String,
}

/// How a prune that went through every claim it could ends: the exit policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Every planned claim was deleted.
    Done,
    /// Some claims were kept because their snapshot failed or timed out: the state is safe and
    /// the step failed (exit 3). The claims, with why.
    SnapshotsFailed(Vec<String>),
    /// Some claims were not deleted for another reason (exit 1).
    NotPruned(Vec<String>),
}

impl PruneResult {
    /// The ending of this result, `snapshots_failed` of whose failures were snapshots.
    pub fn ending(&self, snapshots_failed: usize) -> Ending {
        let names: Vec<String> =
            self.failed.iter().map(|k| format!("{}/{} ({})", k.namespace, k.name, k.reason)).collect();
        match (names.is_empty(), snapshots_failed > 0) {
            (true, _) => Ending::Done,
            (false, true) => Ending::SnapshotsFailed(names),
            (false, false) => Ending::NotPruned(names),
        }
    }
}

impl KeptClaim {
    pub fn of(candidate: &Candidate, reason: impl Into<String>) -> KeptClaim {
        KeptClaim {
            name: candidate.name.clone(),
            namespace: candidate.namespace.clone(),
            reason: reason.into(),
        }
    }
}

impl PruneResult {
    /// A run that has deleted nothing yet: what the plan keeps is kept, with its reason.
    pub fn start(plan: &PrunePlan) -> PruneResult {
        let kept = plan
            .candidates
            .iter()
            .filter(|c| c.verdict != Verdict::Prune)
            .map(|c| KeptClaim::of(c, &c.reason))
            .collect();
        PruneResult { kept, storage_freed: human_bytes(0.0), ..PruneResult::default() }
    }

    /// Records a deleted claim; its volume is named as left behind when it is kept (switched to
    /// Retain first, or Retain already).
    pub fn deleted(&mut self, candidate: &Candidate, plan: &PrunePlan) {
        self.deleted.push(ClaimRef { name: candidate.name.clone(), namespace: candidate.namespace.clone() });
        let kept = candidate.retain_volume || candidate.reclaim_policy.as_deref() == Some("Retain");
        if let Some(volume) = candidate.volume.as_ref().filter(|_| kept) {
            self.retained_volumes.push(volume.clone());
        }
        self.storage_freed =
            total_capacity(plan.to_prune().filter(|c| c.frees_storage() && self.was_deleted(c)));
    }

    fn was_deleted(&self, candidate: &Candidate) -> bool {
        self.deleted.iter().any(|d| d.name == candidate.name && d.namespace == candidate.namespace)
    }

    fn settled(&self, candidate: &Candidate) -> bool {
        self.was_deleted(candidate)
            || self
                .failed
                .iter()
                .chain(&self.kept)
                .any(|k| k.name == candidate.name && k.namespace == candidate.namespace)
    }

    /// The run stops: every claim the plan would prune and the run has not dealt with yet is
    /// named as not pruned.
    pub fn stop(&mut self, plan: &PrunePlan) {
        let untouched: Vec<KeptClaim> = plan
            .to_prune()
            .filter(|c| !self.settled(c))
            .map(|c| KeptClaim::of(c, "not attempted: the run stopped"))
            .collect();
        self.failed.extend(untouched);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recheck_keeps_a_claim_whose_ordinal_or_mount_came_back_then_checks_the_set_after() {
        let web = crate::core::fixtures::sts("web", 2).templates(&["data"]).build();
        let claim = crate::core::fixtures::pvc("data-web-3").of(&web).build();
        let candidate = |retain: bool| Candidate {
            name: "data-web-3".into(),
            namespace: "default".into(),
            stateful_set: "web".into(),
            template: "data".into(),
            ordinal: 3,
            verdict: Verdict::Prune,
            reason: String::new(),
            phase: "Bound".into(),
            capacity: None,
            volume: Some("pv-3".into()),
            reclaim_policy: Some("Delete".into()),
            retain_volume: retain,
            created_at: None,
            snapshot: None,
            uid: claim.uid().unwrap_or_default(),
            resource_version: "1".into(),
            fingerprint: claim_fingerprint(&claim),
        };
        let other = crate::core::fixtures::pod(&web, 0).mounting("data-web-3").build();
        let idle = crate::core::fixtures::pod(&web, 1).build();
        let rechecks = [
            (false, vec![idle.clone()], Recheck::Delete),
            (true, vec![idle.clone()], Recheck::Keep("a pod now holds this ordinal".into())),
            (false, vec![idle, other.clone()], Recheck::Keep("now mounted by pod web-0".into())),
            (true, vec![other], Recheck::Keep("a pod now holds this ordinal".into())),
        ];
        for (holds, mounting, expected) in rechecks {
            assert_eq!(recheck(&candidate(false), holds, &mounting), expected, "{holds} {mounting:?}");
        }
        let planned = ordinal_range(&web);
        let afters = [
            (crate::core::fixtures::sts("web", 2).build(), false, AfterDelete::AsPlanned),
            (
                crate::core::fixtures::sts("web", 4).build(),
                false,
                AfterDelete::ScaledUp { pod: "web-3".into(), released: None },
            ),
            (
                crate::core::fixtures::sts("web", 4).build(),
                true,
                AfterDelete::ScaledUp { pod: "web-3".into(), released: Some("pv-3".into()) },
            ),
            (
                crate::core::fixtures::sts("web", 3).build(),
                false,
                AfterDelete::Changed("replicas 2 -> 3, start 0 -> 0".into()),
            ),
        ];
        for (now, retain, expected) in afters {
            assert_eq!(after_delete(planned, &now, &candidate(retain)), expected);
        }
    }

    #[test]
    fn a_claim_restored_for_the_next_scale_up_is_kept_not_pruned() {
        let web = crate::core::fixtures::sts("web", 2).templates(&["data"]).build();
        let left = crate::core::fixtures::pvc("data-web-2").of(&web).build();
        let mut restored = crate::core::fixtures::pvc("data-web-3").of(&web).build();
        restored
            .annotations_mut()
            .insert(super::super::orphans::RESTORED_FROM.into(), "data-web-3-snap".into());
        let reads = Reads { statefulsets: vec![web.clone()], pvcs: vec![left, restored], ..Reads::default() };
        let plan = plan(&reads, &[&web], &PruneOptions::default());
        let verdicts: Vec<(&str, Verdict)> =
            plan.candidates.iter().map(|c| (c.name.as_str(), c.verdict)).collect();
        assert_eq!(verdicts, [("data-web-2", Verdict::Prune), ("data-web-3", Verdict::Keep)]);
        assert!(
            plan.candidates[1].reason.starts_with(
                "restored from VolumeSnapshot data-web-3-snap for the next scale-up past ordinal 3"
            ),
            "{}",
            plan.candidates[1].reason
        );
    }

    #[test]
    fn a_prune_ends_done_or_with_what_it_kept_snapshots_first() {
        let kept = |name: &str| KeptClaim { name: name.into(), namespace: "ns".into(), reason: "why".into() };
        let mut result = PruneResult {
            deleted: Vec::new(),
            retained_volumes: Vec::new(),
            kept: vec![kept("data-web-9")],
            failed: Vec::new(),
            storage_freed: "0".into(),
            snapshots: Vec::new(),
        };
        assert_eq!(result.ending(0), Ending::Done, "a claim the plan kept is no failure");
        result.failed.push(kept("data-web-3"));
        assert_eq!(result.ending(0), Ending::NotPruned(vec!["ns/data-web-3 (why)".into()]));
        assert_eq!(result.ending(1), Ending::SnapshotsFailed(vec!["ns/data-web-3 (why)".into()]));
    }

    #[test]
    fn a_claim_whose_status_alone_moved_is_still_as_planned() {
        let web = crate::core::fixtures::sts("web", 1).templates(&["data"]).build();
        let planned = crate::core::fixtures::pvc("data-web-1").of(&web).build();
        let candidate = Candidate {
            name: "data-web-1".into(),
            namespace: "default".into(),
            stateful_set: "web".into(),
            template: "data".into(),
            ordinal: 1,
            verdict: Verdict::Prune,
            reason: String::new(),
            phase: "Bound".into(),
            capacity: None,
            volume: None,
            reclaim_policy: None,
            retain_volume: false,
            created_at: None,
            snapshot: None,
            uid: planned.uid().unwrap_or_default(),
            resource_version: "1".into(),
            fingerprint: claim_fingerprint(&planned),
        };
        // kube-controller-manager (1.37) sets the Unused condition: a new resourceVersion.
        let mut moved = planned.clone();
        moved.metadata.resource_version = Some("2".into());
        assert!(still_as_planned(&candidate, &moved, false));
        assert!(!still_as_planned(&candidate, &moved, true), "a pod references it now");
        let mut relabelled = moved.clone();
        relabelled.metadata.labels.get_or_insert_default().insert("keep".into(), "yes".into());
        assert!(!still_as_planned(&candidate, &relabelled, false));
        let mut replaced = moved.clone();
        replaced.metadata.uid = Some("another".into());
        assert!(!still_as_planned(&candidate, &replaced, false));
        let mut deleting = moved;
        deleting.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::from_second(1).unwrap(),
        ));
        assert!(!still_as_planned(&candidate, &deleting, false));
    }
    use crate::core::fixtures::*;
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;

    fn verdicts(plan: &PrunePlan) -> Vec<(String, Verdict)> {
        plan.candidates.iter().map(|c| (c.name.clone(), c.verdict)).collect()
    }

    fn snapshot(
        sts: Vec<StatefulSet>,
        pods: Vec<k8s_openapi::api::core::v1::Pod>,
        pvcs: Vec<PersistentVolumeClaim>,
    ) -> Reads {
        let volumes = pvcs.iter().map(|p| pv(&p.name_any(), "Delete")).collect();
        Reads { statefulsets: sts, pods, pvcs, volumes: Some(volumes), ..Default::default() }
    }

    #[test]
    fn prunes_exactly_the_ordinals_scale_down_left_behind() {
        let web = sts("web", 2).templates(&["data", "logs"]).build();
        let pvcs = (0..5)
            .flat_map(|o| ["data", "logs"].map(|t| pvc(&format!("{t}-web-{o}")).of(&web).build()))
            .collect();
        let pods = (0..2).map(|o| pod(&web, o).build()).collect();
        let snap = snapshot(vec![web.clone()], pods, pvcs);
        let plan = plan(&snap, &[&web], &PruneOptions::default());
        let names: Vec<_> = plan.to_prune().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["data-web-2", "logs-web-2", "data-web-3", "logs-web-3", "data-web-4", "logs-web-4"]
        );
        assert_eq!(plan.storage_freed, "6Gi");
        assert!(plan.to_prune().all(Candidate::destroys_data));
    }

    #[test]
    fn honours_the_start_ordinal() {
        let web = sts("web", 2).templates(&["data"]).start(5).build();
        let pvcs = [4, 5, 6, 7].map(|o| pvc(&format!("data-web-{o}")).of(&web).build()).to_vec();
        let pods = vec![pod(&web, 5).build(), pod(&web, 6).build()];
        let plan = plan(&snapshot(vec![web.clone()], pods, pvcs), &[&web], &PruneOptions::default());
        assert_eq!(
            verdicts(&plan),
            [("data-web-4".into(), Verdict::Prune), ("data-web-7".into(), Verdict::Prune)]
        );
    }

    #[test]
    fn look_alikes_are_not_claimed() {
        let web = sts("web", 1).templates(&["data", "data-web"]).build();
        let web_app = sts("web-app", 1).templates(&["data"]).build();
        let pvcs = vec![
            pvc("data-web-app-3").of(&web_app).build(),
            pvc("data-web-web-2").of(&web).build(),
            pvc("data-web-2").of(&web).build(),
        ];
        let snap = snapshot(vec![web.clone(), web_app.clone()], vec![], pvcs);
        let plan = plan(&snap, &[&web], &PruneOptions::default());
        assert_eq!(
            verdicts(&plan),
            [("data-web-2".into(), Verdict::Prune), ("data-web-web-2".into(), Verdict::Prune)]
        );
    }

    #[test]
    fn keeps_what_might_still_be_needed() {
        let web = sts("web", 1).templates(&["data"]).build();
        let pvcs = vec![
            pvc("data-web-1").build(),
            pvc("data-web-2").of(&web).build(),
            pvc("data-web-3").of(&web).terminating().build(),
            pvc("data-web-4").of(&web).build(),
            pvc("data-web-5").owner(&web).build(),
        ];
        let pods = vec![bare_pod("backup").mounting("data-web-2").build(), pod(&web, 4).build()];
        let plan = plan(&snapshot(vec![web.clone()], pods, pvcs), &[&web], &PruneOptions::default());
        let summary: Vec<_> =
            plan.candidates.iter().map(|c| (c.name.as_str(), c.verdict, c.reason.as_str())).collect();
        assert_eq!(
            summary,
            [
                (
                    "data-web-1",
                    Verdict::Unverified,
                    "named like web's claim, but has neither its selector labels nor an ownerReference"
                ),
                ("data-web-2", Verdict::Keep, "mounted by pod backup"),
                ("data-web-3", Verdict::Keep, "already being deleted"),
                ("data-web-4", Verdict::Keep, "pod web-4 still exists (it is being scaled away)"),
                ("data-web-5", Verdict::Prune, "ordinal 5 is outside the live range 0..0"),
            ]
        );
    }

    #[test]
    fn a_parked_or_scaling_statefulset_keeps_its_claims() {
        let parked = sts("db", 0).templates(&["data"]).build();
        let pvcs = vec![pvc("data-db-0").of(&parked).build()];
        let snap = snapshot(vec![parked.clone()], vec![], pvcs.clone());
        assert_eq!(plan(&snap, &[&parked], &PruneOptions::default()).candidates[0].verdict, Verdict::Keep);
        let opts = PruneOptions { include_scaled_to_zero: true, ..Default::default() };
        assert_eq!(plan(&snap, &[&parked], &opts).candidates[0].verdict, Verdict::Prune);

        let scaling = sts("db", 0).templates(&["data"]).scaling(1).build();
        let snap = snapshot(vec![scaling.clone()], vec![], pvcs);
        let plan = plan(&snap, &[&scaling], &opts);
        assert_eq!(plan.candidates[0].verdict, Verdict::Keep);
        assert!(plan.candidates[0].reason.contains("still scaling"));
    }

    #[test]
    fn a_claim_two_statefulsets_could_mount_is_kept() {
        let b_c = sts("b-c", 0).templates(&["a"]).build();
        let c = sts("c", 1).templates(&["a-b"]).build();
        let pvcs = vec![pvc("a-b-c-0").labels(&[("app", "b-c")]).build()];
        let snap = snapshot(vec![b_c.clone(), c], vec![], pvcs);
        let opts = PruneOptions { include_scaled_to_zero: true, ..Default::default() };
        let plan = plan(&snap, &[&b_c], &opts);
        assert_eq!(plan.candidates[0].verdict, Verdict::Keep);
        assert_eq!(plan.candidates[0].reason, "also named like a claim of StatefulSet c");
    }

    #[test]
    fn a_delete_goes_ahead_only_while_the_statefulset_is_as_planned() {
        let planned = OrdinalRange { start: 0, replicas: 2 };
        assert_eq!(changed_since_plan(planned, &sts("web", 2).build(), 3), None);
        assert_eq!(
            changed_since_plan(planned, &sts("web", 4).build(), 3).as_deref(),
            Some("replicas 2 -> 4, start 0 -> 0"),
            "a scale-up made ordinal 3 live"
        );
        assert!(
            changed_since_plan(planned, &sts("web", 2).scaling(3).build(), 3).unwrap().ends_with("scaling")
        );
        assert!(changed_since_plan(planned, &sts("web", 2).start(1).build(), 3).is_some());
    }

    #[test]
    fn retain_volumes_marks_delete_policy_volumes_only() {
        let web = sts("web", 0).templates(&["data"]).build();
        let pvcs =
            vec![pvc("data-web-0").of(&web).build(), pvc("data-web-1").of(&web).capacity("512Mi").build()];
        let mut snap = snapshot(vec![web.clone()], vec![], pvcs);
        snap.volumes = Some(vec![pv("data-web-0", "Delete"), pv("data-web-1", "Retain")]);
        let opts = PruneOptions { include_scaled_to_zero: true, retain_volumes: true };
        let plan = plan(&snap, &[&web], &opts);
        let retained: Vec<_> =
            plan.candidates.iter().map(|c| (c.name.as_str(), c.retain_volume, c.destroys_data())).collect();
        assert_eq!(retained, [("data-web-0", true, false), ("data-web-1", false, false)]);
        assert_eq!(plan.storage_freed, "0B", "every PV survives");
    }

    /// A claim of `web` as the property test generates it.
    #[derive(Debug, Clone)]
    struct Generated {
        name: String,
        evidence: u8,
        terminating: bool,
    }

    fn generated() -> impl proptest::strategy::Strategy<Value = Generated> {
        use proptest::prelude::*;
        let names = prop_oneof![
            (0u32..10).prop_map(|o| format!("data-web-{o}")),
            (0u32..10).prop_map(|o| format!("logs-web-{o}")),
            (0u32..10).prop_map(|o| format!("data-web-app-{o}")),
            (0u32..10).prop_map(|o| format!("data-web-0{o}")),
            "[a-z-]{1,12}[0-9]{0,2}",
        ];
        (names, 0u8..3, any::<bool>()).prop_map(|(name, evidence, terminating)| Generated {
            name,
            evidence,
            terminating,
        })
    }

    proptest::proptest! {
        /// Whatever the cluster holds, a claim is pruned only if every rule allows it.
        #[test]
        fn prune_verdicts_obey_every_rule(
            replicas in 0i32..5,
            start in 0i32..3,
            claims in proptest::collection::vec(generated(), 0..12),
            pod_ordinals in proptest::collection::btree_set(0i32..8, 0..4),
            mounted in proptest::collection::vec(0usize..12, 0..3),
            include_scaled_to_zero in proptest::prelude::any::<bool>(),
            settled in proptest::prelude::any::<bool>(),
        ) {
            // Names are unique within a namespace.
            let mut seen = std::collections::HashSet::new();
            let claims: Vec<Generated> = claims.into_iter().filter(|c| seen.insert(c.name.clone())).collect();
            let builder = sts("web", replicas).templates(&["data", "logs"]).start(start);
            let web = if settled { builder.build() } else { builder.scaling(replicas + 1).build() };
            let pvcs: Vec<PersistentVolumeClaim> = claims
                .iter()
                .map(|c| {
                    let b = pvc(&c.name);
                    let b = match c.evidence { 0 => b, 1 => b.of(&web), _ => b.owner(&web) };
                    if c.terminating { b.terminating().build() } else { b.build() }
                })
                .collect();
            let mut pods: Vec<_> = pod_ordinals.iter().map(|o| pod(&web, *o).build()).collect();
            for (i, index) in mounted.iter().enumerate() {
                if let Some(c) = claims.get(*index) {
                    pods.push(bare_pod(&format!("user-{i}")).mounting(&c.name).build());
                }
            }
            let snap = snapshot(vec![web.clone()], pods, pvcs);
            let options = PruneOptions { include_scaled_to_zero, retain_volumes: false };
            let plan = plan(&snap, &[&web], &options);
            let range = ordinal_range(&web);
            for c in plan.to_prune() {
                let generated = claims.iter().find(|g| g.name == c.name).unwrap();
                let parsed = crate::core::names::parse_pvc_name(&c.name, "web", &["data", "logs"]);
                proptest::prop_assert_eq!(parsed, Some((c.template.as_str(), c.ordinal)));
                proptest::prop_assert!(!range.contains(c.ordinal));
                proptest::prop_assert!(generated.evidence > 0, "no name-only claim is pruned");
                proptest::prop_assert!(!generated.terminating);
                proptest::prop_assert!(settled && (replicas > 0 || include_scaled_to_zero));
                proptest::prop_assert!(!pod_ordinals.contains(&c.ordinal));
                proptest::prop_assert!(!mounted.iter().any(|i| claims.get(*i).is_some_and(|m| m.name == c.name)));
            }
            proptest::prop_assert!(plan.candidates.iter().all(|c| !range.contains(c.ordinal)));
        }
    }

    #[test]
    fn warns_about_retention_policy_autoscalers_and_unreadable_volumes() {
        let mut web = sts("web", 1).templates(&["data"]).build();
        web.spec.as_mut().unwrap().persistent_volume_claim_retention_policy =
            Some(k8s_openapi::api::apps::v1::StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: None,
                when_scaled: Some("Delete".to_owned()),
            });
        let hpa: k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-hpa", "namespace": NAMESPACE},
            "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "web", "apiVersion": "apps/v1"}, "maxReplicas": 5}
        }))
        .unwrap();
        let mut snap = snapshot(vec![web.clone()], vec![], vec![pvc("data-web-1").of(&web).build()]);
        snap.volumes = None;
        snap.autoscalers = Some(vec![hpa]);
        let plan = plan(&snap, &[&web], &PruneOptions::default());
        assert_eq!(plan.warnings.len(), 3, "{:?}", plan.warnings);
        assert!(plan.warnings[0].contains("whenScaled: Delete"));
        assert!(plan.warnings[1].contains("web-hpa"));
        assert!(plan.warnings[2].contains("not readable"));
        assert_eq!(plan.candidates[0].reclaim_policy, None);
    }

    #[test]
    fn snapshots_are_planned_per_pruned_claim_or_the_run_is_refused() {
        use crate::core::volume_snapshots::{PROVISIONED_BY, SnapshotClass};
        let web = sts("web", 1).templates(&["data"]).build();
        let pvcs = vec![pvc("data-web-1").of(&web).build(), pvc("data-web-2").of(&web).build()];
        let now: Timestamp = "2026-11-30T22:42:17Z".parse().unwrap();
        let driven = |claim: &str, driver: Option<&str>| {
            let mut v = pv(claim, "Delete");
            if let Some(d) = driver {
                v.metadata.annotations = Some([(PROVISIONED_BY.to_owned(), d.to_owned())].into());
            }
            v
        };
        let class = |name: &str, driver: &str, default: bool| SnapshotClass {
            name: name.into(),
            driver: driver.into(),
            deletion_policy: "Delete".into(),
            default,
            kind_parameter: None,
        };
        let good = vec![class("fast", "a.csi", true)];
        let colocated = vec![class("zfs", "zfs.csi.openebs.io", true)];
        type Case<'a> =
            (&'a str, Option<&'a str>, Option<&'a [SnapshotClass]>, bool, Result<&'a str, &'a str>);
        let cases: Vec<Case> = vec![
            ("planned", Some("a.csi"), Some(&good), true, Ok("fast")),
            ("no API", Some("a.csi"), None, true, Err("no VolumeSnapshot API")),
            ("no class", Some("b.csi"), Some(&good), true, Err("no VolumeSnapshotClass for driver b.csi")),
            ("no driver", None, Some(&good), true, Err("names no CSI driver or provisioner")),
            ("PVs unreadable", Some("a.csi"), Some(&good), false, Err("PersistentVolumes are not readable")),
            ("co-located", Some("zfs.csi.openebs.io"), Some(&colocated), true, Ok("zfs")),
        ];
        for (what, driver, classes, readable, expected) in cases {
            let mut snap = snapshot(vec![web.clone()], vec![], pvcs.clone());
            snap.volumes = readable.then(|| vec![driven("data-web-1", driver), driven("data-web-2", driver)]);
            let mut plan = plan(&snap, &[&web], &PruneOptions::default());
            let got = plan_snapshots(&mut plan, &snap, &[&web], classes, None, now);
            match expected {
                Ok(class) => {
                    assert_eq!(got, Ok(()), "{what}");
                    let planned: Vec<_> = plan.to_prune().map(|c| c.snapshot.clone().unwrap()).collect();
                    assert_eq!(planned.len(), 2, "{what}");
                    assert_eq!(planned[0].name, "data-web-1-20261130-224217");
                    assert_eq!(planned[0].class, class);
                    assert_eq!(planned[0].labels["kubectl-stateful.dev/ordinal"], "1");
                    assert_eq!(planned[0].labels["kubectl-stateful.dev/statefulset"], "web");
                    assert_eq!(
                        plan.warnings.iter().any(|w| w.contains("do not outlive")),
                        class == "zfs",
                        "{what}"
                    );
                }
                Err(text) => {
                    let message = got.expect_err(what).to_string();
                    assert!(message.contains(text), "{what}: {message}");
                }
            }
        }
        // Nothing to prune: nothing to refuse.
        let parked = sts("db", 0).templates(&["data"]).build();
        let snap = snapshot(vec![parked.clone()], vec![], vec![pvc("data-db-0").of(&parked).build()]);
        let mut plan = plan(&snap, &[&parked], &PruneOptions::default());
        assert_eq!(plan_snapshots(&mut plan, &snap, &[&parked], None, None, now), Ok(()));
    }
}
