//! Which PVCs belong to a StatefulSet, which ordinal they serve, and how sure we are.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::ResourceExt;
use serde::Serialize;

use super::names::parse_pvc_name;
use super::objects::{claim_templates, ordinal_range, owned_by, selected_by};

/// Why a claim is attributed to a StatefulSet beyond its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Evidence {
    /// An ownerReference to the StatefulSet (set by the PVC retention policy).
    OwnerReference,
    /// The StatefulSet's selector labels, which the controller copies onto the claims it creates.
    SelectorLabels,
    /// Only the name matches `<template>-<sts>-<ordinal>`: someone else may have created it.
    NameOnly,
}

#[derive(Debug, Clone)]
pub struct Claim<'a> {
    pub pvc: &'a PersistentVolumeClaim,
    pub template: &'a str,
    pub ordinal: i32,
    /// The ordinal is in `[start, start + replicas)`: a live pod uses (or will use) this claim.
    pub live: bool,
    pub evidence: Evidence,
}

/// The claims among `pvcs` that `sts` would mount, by exact name, in name order.
pub fn claims_of<'a>(
    sts: &'a StatefulSet,
    pvcs: impl IntoIterator<Item = &'a PersistentVolumeClaim>,
) -> Vec<Claim<'a>> {
    let name = sts.name_any();
    let templates = claim_templates(sts);
    let range = ordinal_range(sts);
    let mut claims: Vec<_> = pvcs
        .into_iter()
        .filter(|pvc| pvc.namespace() == sts.namespace())
        .filter_map(|pvc| {
            let (template, ordinal) = parse_pvc_name(pvc.metadata.name.as_deref()?, &name, &templates)?;
            let evidence = if owned_by(pvc, sts) {
                Evidence::OwnerReference
            } else if selected_by(pvc.labels(), sts) {
                Evidence::SelectorLabels
            } else {
                Evidence::NameOnly
            };
            Some(Claim { pvc, template, ordinal, live: range.contains(ordinal), evidence })
        })
        .collect();
    claims.sort_by(|a, b| (a.ordinal, a.template).cmp(&(b.ordinal, b.template)));
    claims
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::{pvc, sts};

    #[test]
    fn attributes_by_name_and_grades_the_evidence() {
        let web = sts("web", 2).templates(&["data", "data-web"]).start(3).build();
        let pvcs = [
            pvc("data-web-3").labels(&[("app", "web")]).build(),
            pvc("data-web-web-4").labels(&[("app", "web")]).build(),
            pvc("data-web-5").owner(&web).build(),
            pvc("data-web-6").build(),
            pvc("data-web-app-3").labels(&[("app", "web")]).build(),
            pvc("data-web-2").labels(&[("app", "web")]).namespace("other").build(),
        ];
        let claims = claims_of(&web, &pvcs);
        let summary: Vec<_> =
            claims.iter().map(|c| (c.pvc.name_any(), c.template, c.ordinal, c.live, c.evidence)).collect();
        assert_eq!(
            summary,
            vec![
                ("data-web-3".to_owned(), "data", 3, true, Evidence::SelectorLabels),
                ("data-web-web-4".to_owned(), "data-web", 4, true, Evidence::SelectorLabels),
                ("data-web-5".to_owned(), "data", 5, false, Evidence::OwnerReference),
                ("data-web-6".to_owned(), "data", 6, false, Evidence::NameOnly),
            ]
        );
    }
}
