//! VolumeSnapshots per ordinal: each snapshot is attributed to a claim of the StatefulSet by
//! its source (`spec.source.persistentVolumeClaimName` = `<template>-<sts>-<ordinal>`), so
//! snapshots of live claims, of orphaned or kept claims and of claims already deleted (by
//! `pvc prune --snapshot`) all count.

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use super::super::names::parse_pvc_name;
use super::super::volume_snapshots::VolumeSnapshot;
use super::{ClaimStatus, StatefulSetStatus};

/// The snapshots of one claim, or of all the claims of one ordinal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshots {
    pub count: u32,
    /// How many of them say `status.readyToUse: true`.
    pub ready: u32,
    /// The most recent one (by `status.creationTime`, else its creation); `None` when there
    /// are none.
    pub newest: Option<NewestSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewestSnapshot {
    pub name: String,
    pub created_at: Option<Timestamp>,
    pub ready_to_use: bool,
}

/// The snapshots of a claim of this StatefulSet that no longer exists, for an ordinal the
/// ordinal table does not show (a claim pruned after its snapshot, typically).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedClaimSnapshots {
    pub template: String,
    /// The claim the snapshots were taken of.
    pub claim: String,
    pub ordinal: i32,
    pub snapshots: Snapshots,
}

impl Snapshots {
    fn add(&mut self, snapshot: &VolumeSnapshot) {
        self.count += 1;
        self.ready += u32::from(snapshot.ready);
        let key = |created: Option<Timestamp>, name: &str| (created, name.to_owned());
        let newer = self
            .newest
            .as_ref()
            .is_none_or(|n| key(snapshot.created_at, &snapshot.name) > key(n.created_at, &n.name));
        if newer {
            self.newest = Some(NewestSnapshot {
                name: snapshot.name.clone(),
                created_at: snapshot.created_at,
                ready_to_use: snapshot.ready,
            });
        }
    }

    fn merge(&mut self, other: &Snapshots) {
        self.count += other.count;
        self.ready += other.ready;
        if let Some(theirs) = &other.newest {
            let newer = self
                .newest
                .as_ref()
                .is_none_or(|n| (theirs.created_at, &theirs.name) > (n.created_at, &n.name));
            if newer {
                self.newest = Some(theirs.clone());
            }
        }
    }
}

/// Fills in the snapshots of `status` (named `sts_name`, with claim templates `templates`)
/// from `snapshots`, those read in its namespace (or more): every claim of the ordinals,
/// orphaned and kept claims, each ordinal's total, and the claims no longer there. Snapshots
/// being deleted do not count.
pub fn attach(status: &mut StatefulSetStatus, templates: &[&str], snapshots: &[VolumeSnapshot]) {
    let mut by_claim: BTreeMap<String, (String, i32, Snapshots)> = BTreeMap::new();
    for snapshot in snapshots.iter().filter(|s| s.namespace == status.namespace && !s.deleting) {
        let Some(claim) = snapshot.claim.as_deref() else { continue };
        let Some((template, ordinal)) = parse_pvc_name(claim, &status.name, templates) else { continue };
        let entry = by_claim
            .entry(claim.to_owned())
            .or_insert_with(|| (template.to_owned(), ordinal, Snapshots::default()));
        entry.2.add(snapshot);
    }
    let mut of = |claim: &mut ClaimStatus| {
        let found = by_claim.remove(&claim.name).map(|(_, _, s)| s).unwrap_or_default();
        claim.snapshots = Some(found.clone());
        found
    };
    for ordinal in &mut status.ordinals {
        let mut total = Snapshots::default();
        for claim in &mut ordinal.pvcs {
            total.merge(&of(claim));
        }
        ordinal.snapshots = Some(total);
    }
    for claim in &mut status.orphaned_pvcs {
        of(claim);
    }
    for kept in &mut status.kept_pvcs {
        of(&mut kept.claim);
    }
    let mut deleted: Vec<DeletedClaimSnapshots> = by_claim
        .into_iter()
        .map(|(claim, (template, ordinal, snapshots))| DeletedClaimSnapshots {
            template,
            claim,
            ordinal,
            snapshots,
        })
        .collect();
    deleted.sort_by(|a, b| (a.ordinal, &a.template).cmp(&(b.ordinal, &b.template)));
    status.deleted_claim_snapshots = Some(deleted);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::*;
    use crate::core::reads::{Reads, VolumeSnapshots};
    use crate::core::status::{StatusOptions, build};
    use kube::ResourceExt;

    fn at(after: i64) -> Timestamp {
        Timestamp::from_second(created().as_second() + after).unwrap()
    }

    fn snap(name: &str, claim: &str, after: i64, ready: bool) -> VolumeSnapshot {
        VolumeSnapshot {
            name: name.into(),
            namespace: "default".into(),
            claim: Some(claim.into()),
            class: None,
            content: None,
            ready,
            restore_size: None,
            created_at: Some(at(after)),
            error: None,
            labels: Default::default(),
            deleting: false,
        }
    }

    /// web scaled 4 → 2 with data-web-2 left (an orphan) and data-web-3 pruned.
    fn status_with(snapshots: VolumeSnapshots) -> StatefulSetStatus {
        let web = sts("web", 2).templates(&["data"]).build();
        let pods = vec![pod(&web, 0).build(), pod(&web, 1).build()];
        let pvcs: Vec<_> =
            (0..3).map(|o| pvc(&format!("data-web-{o}")).labels(&[("app", "web")]).build()).collect();
        let snapshot = Reads {
            volumes: Some(pvcs.iter().map(|p| pv(&p.name_any(), "Delete")).collect()),
            statefulsets: vec![web.clone()],
            pods,
            pvcs,
            services: vec![service("web")],
            nodes: Some(vec![node("node-0", "True")]),
            events: Some(Vec::new()),
            volume_snapshots: snapshots,
            budgets: Some(Vec::new()),
            ..Default::default()
        };
        build(
            &web,
            &snapshot,
            &StatusOptions {
                cluster_domain: "cluster.local".into(),
                now: at(3_600),
                flags: Default::default(),
            },
        )
    }

    #[test]
    fn snapshots_count_per_ordinal_orphan_and_deleted_claim() {
        let mut other_ns = snap("elsewhere", "data-web-0", 10, true);
        other_ns.namespace = "other".into();
        let mut going = snap("going", "data-web-0", 20, true);
        going.deleting = true;
        let status = status_with(VolumeSnapshots::Read(vec![
            snap("a", "data-web-0", 100, true),
            snap("b", "data-web-0", 300, false),
            snap("c", "data-web-2", 200, true),
            snap("d", "data-web-3", 50, true),
            snap("e", "data-web-3", 60, true),
            snap("not-ours", "data-db-0", 60, true),
            snap("other-set", "data-webby-0", 60, true),
            other_ns,
            going,
        ]));
        let zero = &status.ordinals[0];
        let s = zero.snapshots.as_ref().unwrap();
        assert_eq!((s.count, s.ready), (2, 1));
        let newest = s.newest.as_ref().unwrap();
        assert_eq!(
            (newest.name.as_str(), newest.ready_to_use, newest.created_at),
            ("b", false, Some(at(300)))
        );
        assert_eq!(zero.pvcs[0].snapshots, zero.snapshots);
        assert_eq!(status.ordinals[1].snapshots, Some(Snapshots::default()));
        let orphan = &status.orphaned_pvcs[0];
        assert_eq!(orphan.name, "data-web-2");
        assert_eq!(orphan.snapshots.as_ref().map(|s| s.count), Some(1));
        let deleted = status.deleted_claim_snapshots.as_ref().unwrap();
        assert_eq!(deleted.len(), 1);
        assert_eq!(
            (deleted[0].claim.as_str(), deleted[0].ordinal, deleted[0].snapshots.count),
            ("data-web-3", 3, 2)
        );
        assert_eq!(deleted[0].snapshots.newest.as_ref().unwrap().name, "e");
        assert!(status.notes.is_empty(), "{:?}", status.notes);
    }

    #[test]
    fn no_snapshot_api_shows_nothing_and_says_nothing() {
        let status = status_with(VolumeSnapshots::NoApi);
        assert!(status.ordinals.iter().all(|o| o.snapshots.is_none() && o.pvcs[0].snapshots.is_none()));
        assert!(status.orphaned_pvcs[0].snapshots.is_none());
        assert_eq!(status.deleted_claim_snapshots, None);
        assert!(status.notes.is_empty(), "{:?}", status.notes);
    }

    #[test]
    fn unreadable_snapshots_are_a_note() {
        let status = status_with(VolumeSnapshots::Forbidden);
        assert_eq!(status.deleted_claim_snapshots, None);
        assert!(status.ordinals[0].snapshots.is_none());
        assert_eq!(
            status.notes,
            ["VolumeSnapshots are not readable with these credentials: snapshots per ordinal are unknown"]
        );
    }

    #[test]
    fn newest_ties_break_by_name_and_undated_ones_are_oldest() {
        let mut undated = snap("z-undated", "data-web-0", 0, true);
        undated.created_at = None;
        let status = status_with(VolumeSnapshots::Read(vec![
            snap("m", "data-web-0", 100, true),
            undated,
            snap("n", "data-web-0", 100, true),
        ]));
        let s = status.ordinals[0].snapshots.as_ref().unwrap();
        assert_eq!((s.count, s.newest.as_ref().unwrap().name.as_str()), (3, "n"));
    }
}
