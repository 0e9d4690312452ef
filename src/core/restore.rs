//! `pvc restore`: the claim `<template>-<sts>-<ordinal>` created from a VolumeSnapshot, with the
//! template's spec (at least the snapshot's restoreSize), for the StatefulSet's next scale-up to
//! adopt; or why not.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::ResourceExt;
use kube_quantity::ParsedQuantity;
use serde::Serialize;

use super::advice::shell_word;
use super::names::{pod_name, pvc_name};
use super::objects::{claim_templates, ordinal_range};
use super::volume_snapshots::{GROUP, SnapshotContent, VolumeSnapshot};

/// The claim a restore creates.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RestorePlan {
    pub name: String,
    pub namespace: String,
    pub stateful_set: String,
    pub ordinal: i32,
    pub template: String,
    pub snapshot: String,
    /// The claim the snapshot was taken of (its `kubectl-stateful.dev/*` labels when the plugin
    /// took it, else its `spec.source.persistentVolumeClaimName`); `None` when neither says.
    pub source_claim: Option<String>,
    pub driver: String,
    pub storage_class: Option<String>,
    /// The larger of the template's request and the snapshot's restoreSize.
    pub size: String,
    /// The replicas at which the StatefulSet's pod of this ordinal exists and adopts the claim.
    pub replicas_to_adopt: i32,
    /// Whether the claim was created (false for a dry run).
    pub created: bool,
    /// The claim object to create.
    #[serde(skip)]
    pub claim: serde_json::Value,
}

/// What was read for a restore.
#[derive(Debug, Clone, Copy)]
pub struct RestoreInput<'a> {
    pub sts: &'a StatefulSet,
    pub ordinal: i32,
    pub template: Option<&'a str>,
    /// The namespace's claims.
    pub claims: &'a [PersistentVolumeClaim],
    /// Whether pod `<sts>-<ordinal>` exists.
    pub pod_exists: bool,
    pub snapshot: &'a VolumeSnapshot,
    /// The snapshot's bound content; `None` when it is not bound or may not be read.
    pub content: Option<&'a SnapshotContent>,
    /// The template's StorageClass (its `storageClassName`, else the cluster's default class)
    /// and that class's provisioner; `None` when unknown.
    pub class: Option<(&'a str, &'a str)>,
    /// The run's connection flags, which printed advice repeats.
    pub flags: &'a super::advice::RunFlags,
    /// `--allow-other-source`: restore a snapshot taken of a claim of another StatefulSet or
    /// template (a copy of someone else's data, on purpose).
    pub allow_other_source: bool,
}

/// What a snapshot was taken of, as far as it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Nothing says (a snapshot made from a pre-provisioned content, say).
    Unknown,
    /// A claim of this StatefulSet's template: the ordinal whose data it holds.
    Member { claim: String, ordinal: i32 },
    /// A claim of something else: another StatefulSet, another template, or no StatefulSet.
    Other { claim: String, set: Option<String> },
}

/// What `snapshot` was taken of, judged against claim template `template` of StatefulSet `sts`:
/// the plugin's own labels first (`pvc prune --snapshot` puts them on: the set, the template,
/// the ordinal), else the source claim's name, `<template>-<sts>-<ordinal>`.
pub fn source(snapshot: &VolumeSnapshot, sts: &str, template: &str) -> Source {
    use super::volume_snapshots::{LABEL_ORDINAL, LABEL_STATEFULSET, LABEL_TEMPLATE};
    let label = |key: &str| snapshot.labels.get(key).map(String::as_str);
    if let (Some(set), Some(t), Some(ordinal)) = (
        label(LABEL_STATEFULSET),
        label(LABEL_TEMPLATE),
        label(LABEL_ORDINAL).and_then(|o| o.parse::<i32>().ok()),
    ) {
        let claim = pvc_name(t, set, ordinal);
        return if set == sts && t == template {
            Source::Member { claim, ordinal }
        } else {
            Source::Other { claim, set: Some(set.to_owned()) }
        };
    }
    let Some(claim) = snapshot.claim.clone() else { return Source::Unknown };
    let ordinal = claim
        .strip_prefix(&format!("{template}-{sts}-"))
        .filter(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|rest| rest.parse::<i32>().ok());
    match ordinal {
        Some(ordinal) => Source::Member { claim, ordinal },
        None => Source::Other { claim, set: None },
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{sts} has no volumeClaimTemplates: there is no claim to restore")]
    NoTemplates { sts: String },
    #[error("{sts} has several volumeClaimTemplates ({}): name one with --template", .templates.join(", "))]
    TemplateAmbiguous { sts: String, templates: Vec<String> },
    #[error("{sts} has no volumeClaimTemplate {template} (it has {})", .templates.join(", "))]
    TemplateNotFound { sts: String, template: String, templates: Vec<String> },
    #[error(
        "ordinal {ordinal} is below {sts}'s start ordinal {start}: no pod of it would ever use the claim"
    )]
    BelowStart { sts: String, ordinal: i32, start: i32 },
    /// The scale-up that would adopt the claim needs more replicas than a StatefulSet can have
    /// (`replicas` is an int32).
    #[error(
        "ordinal {ordinal} is too high for {sts} (start ordinal {start}): no replica count reaches it; nothing was created"
    )]
    OrdinalTooHigh { sts: String, ordinal: i32, start: i32 },
    /// The snapshot holds another set's (or template's) data: restoring it is a copy, which
    /// must be asked for, never a silent mix-up of two similar names.
    #[error(
        "VolumeSnapshot {snapshot} was taken of {taken_of}, not of a claim of {template}: restoring it would give \
         {claim} someone else's data; nothing was created (pass --allow-other-source if that copy is meant)"
    )]
    OtherSource {
        snapshot: String,
        taken_of: String,
        /// `web's template data`.
        template: String,
        claim: String,
    },
    #[error("PVC {claim} already exists: a restore never replaces a claim; {advice}; nothing was created")]
    ClaimExists { claim: String, advice: String },
    /// A claim being deleted still holds its name (its `kubernetes.io/pvc-protection` finalizer
    /// waits for the pod that used it to go): creating now would fail or race the deletion.
    #[error("PVC {claim} is being deleted{}: restore once it is gone; nothing was created", .finalizers.as_ref().map(|f| format!(" (waiting on finalizers {f})")).unwrap_or_default())]
    ClaimDeleting { claim: String, finalizers: Option<String> },
    #[error(
        "ordinal {ordinal} is live ({sts} runs ordinals {range}): its pod needs {claim} right now; scale below it first \
         (`{scale}`), then restore and scale up; nothing was created"
    )]
    OrdinalLive { sts: String, ordinal: i32, range: String, claim: String, scale: String },
    #[error("pod {pod} still exists (it is being scaled away): restore once it is gone; nothing was created")]
    PodExists { pod: String },
    #[error("VolumeSnapshot {snapshot} is not ready to use{}; nothing was created", .error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())]
    NotReady { snapshot: String, error: Option<String> },
    #[error(
        "cannot tell the driver of {what}, so whether the snapshot can be restored into {claim} is unknown; nothing \
         was created"
    )]
    DriverUnknown { what: String, claim: String },
    #[error(
        "VolumeSnapshot {snapshot} was taken by driver {snapshot_driver}, but {claim} would be provisioned by \
         {class_driver} (StorageClass {class}): a snapshot is restored by its own driver only; nothing was created"
    )]
    WrongDriver {
        snapshot: String,
        snapshot_driver: String,
        claim: String,
        class: String,
        class_driver: String,
    },
}

impl Refusal {
    /// Refusals that are the command line's fault (exit 2).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Refusal::TemplateAmbiguous { .. }
                | Refusal::TemplateNotFound { .. }
                | Refusal::BelowStart { .. }
                | Refusal::OrdinalTooHigh { .. }
        )
    }
}

fn bigger(a: Option<&str>, b: Option<&str>) -> Option<String> {
    let parse = |q: Option<&str>| q.and_then(|q| ParsedQuantity::try_from(q).ok().map(|p| (q.to_owned(), p)));
    match (parse(a), parse(b)) {
        (Some((qa, pa)), Some((qb, pb))) => Some(if pb.to_bytes_f64() > pa.to_bytes_f64() { qb } else { qa }),
        (Some((q, _)), None) | (None, Some((q, _))) => Some(q),
        (None, None) => None,
    }
}

/// Decides the restore of `input.ordinal`'s claim from `input.snapshot`.
///
/// # Errors
/// The first reason not to, as a [`Refusal`].
pub fn plan(input: &RestoreInput<'_>) -> Result<RestorePlan, Refusal> {
    let sts = input.sts;
    let sts_name = sts.name_any();
    let namespace = sts.namespace().unwrap_or_default();
    let templates: Vec<String> = claim_templates(sts).into_iter().map(str::to_owned).collect();
    let template = match (input.template, templates.as_slice()) {
        (_, []) => return Err(Refusal::NoTemplates { sts: sts_name }),
        (None, [one]) => one.clone(),
        (None, _) => return Err(Refusal::TemplateAmbiguous { sts: sts_name, templates }),
        (Some(t), _) if templates.iter().any(|x| x == t) => t.to_owned(),
        (Some(t), _) => {
            return Err(Refusal::TemplateNotFound { sts: sts_name, template: t.to_owned(), templates });
        }
    };
    let range = ordinal_range(sts);
    if input.ordinal < range.start {
        return Err(Refusal::BelowStart { sts: sts_name, ordinal: input.ordinal, start: range.start });
    }
    let Some(replicas_to_adopt) = (input.ordinal - range.start).checked_add(1) else {
        return Err(Refusal::OrdinalTooHigh { sts: sts_name, ordinal: input.ordinal, start: range.start });
    };
    let claim = pvc_name(&template, &sts_name, input.ordinal);
    let live = range.contains(input.ordinal);
    let replicas_below = input.ordinal - range.start;
    let flags = input.flags;
    let scale = flags.kubectl(
        &namespace,
        &format!("scale statefulset {} --replicas {replicas_below}", shell_word(&sts_name)),
    );
    // The prune that deletes the claim, keeping its data: at 0 replicas a set is parked, and
    // prune keeps a parked set's claims unless told.
    let prune = |replicas: i32| {
        let parked = if replicas == 0 { " --include-scaled-to-zero" } else { "" };
        flags.plugin(&namespace, &format!("pvc prune {} --snapshot{parked} --yes", shell_word(&sts_name)))
    };
    if let Some(existing) = input.claims.iter().find(|c| c.name_any() == claim)
        && existing.metadata.deletion_timestamp.is_some()
    {
        let finalizers = existing.finalizers();
        let finalizers = (!finalizers.is_empty()).then(|| finalizers.join(", "));
        return Err(Refusal::ClaimDeleting { claim, finalizers });
    }
    if input.claims.iter().any(|c| c.name_any() == claim) {
        let advice = if live {
            format!(
                "ordinal {} is live: scale below it (`{scale}`), then, once its pod is gone, delete its claim keeping \
                 its data in a snapshot (`{}`: every claim from ordinal {} up), then restore",
                input.ordinal,
                prune(replicas_below),
                input.ordinal
            )
        } else {
            format!(
                "delete it first, keeping its data in a snapshot (`{}`: every claim outside the live ordinals), then \
                 restore",
                prune(range.replicas)
            )
        };
        return Err(Refusal::ClaimExists { claim, advice });
    }
    if live {
        return Err(Refusal::OrdinalLive {
            sts: sts_name.clone(),
            ordinal: input.ordinal,
            range: super::orphans::describe_range(range),
            claim,
            scale,
        });
    }
    if input.pod_exists {
        return Err(Refusal::PodExists { pod: pod_name(&sts_name, input.ordinal) });
    }
    let snapshot = input.snapshot;
    if !snapshot.ready || snapshot.content.is_none() {
        return Err(Refusal::NotReady { snapshot: snapshot.name.clone(), error: snapshot.error.clone() });
    }
    let source = source(snapshot, &sts_name, &template);
    if let Source::Other { claim: of, set } = &source
        && !input.allow_other_source
    {
        return Err(Refusal::OtherSource {
            snapshot: snapshot.name.clone(),
            taken_of: match set {
                Some(set) => format!("{of} (StatefulSet {set}'s, by its labels)"),
                None => format!("PVC {of}"),
            },
            template: format!("{sts_name}'s template {template}"),
            claim,
        });
    }
    let Some(content) = input.content else {
        return Err(Refusal::DriverUnknown {
            what: format!("VolumeSnapshot {} (its content cannot be read)", snapshot.name),
            claim,
        });
    };
    let Some((class, class_driver)) = input.class else {
        return Err(Refusal::DriverUnknown {
            what: format!("template {template}'s StorageClass (none named and no default, or not readable)"),
            claim,
        });
    };
    if class_driver != content.driver {
        return Err(Refusal::WrongDriver {
            snapshot: snapshot.name.clone(),
            snapshot_driver: content.driver.clone(),
            claim,
            class: class.to_owned(),
            class_driver: class_driver.to_owned(),
        });
    }
    let vct = sts
        .spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.as_ref())
        .and_then(|t| t.iter().find(|t| t.metadata.name.as_deref() == Some(template.as_str())))
        .cloned()
        .unwrap_or_default();
    let mut spec = vct.spec.unwrap_or_default();
    let requested = spec.resources.as_ref().and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage"));
    let size = bigger(requested.map(|q| q.0.as_str()), snapshot.restore_size.as_deref()).unwrap_or_default();
    let mut resources = spec.resources.unwrap_or_default();
    resources
        .requests
        .get_or_insert_with(Default::default)
        .insert("storage".to_owned(), k8s_openapi::apimachinery::pkg::api::resource::Quantity(size.clone()));
    spec.resources = Some(resources);
    spec.storage_class_name = Some(class.to_owned());
    spec.data_source = None;
    spec.data_source_ref = Some(k8s_openapi::api::core::v1::TypedObjectReference {
        api_group: Some(GROUP.to_owned()),
        kind: "VolumeSnapshot".to_owned(),
        name: snapshot.name.clone(),
        namespace: None,
    });
    // The labels the controller gives the claims it creates (the selector), and the template's.
    let mut labels = vct.metadata.labels.unwrap_or_default();
    labels.extend(sts.spec.as_ref().and_then(|s| s.selector.match_labels.clone()).unwrap_or_default());
    let object = PersistentVolumeClaim {
        metadata: kube::api::ObjectMeta {
            name: Some(claim.clone()),
            namespace: Some(namespace.clone()),
            labels: Some(labels),
            annotations: Some([(super::orphans::RESTORED_FROM.to_owned(), snapshot.name.clone())].into()),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    };
    Ok(RestorePlan {
        name: claim,
        namespace,
        stateful_set: sts_name,
        ordinal: input.ordinal,
        template,
        snapshot: snapshot.name.clone(),
        source_claim: match source {
            Source::Unknown => None,
            Source::Member { claim, .. } | Source::Other { claim, .. } => Some(claim),
        },
        driver: content.driver.clone(),
        storage_class: Some(class.to_owned()),
        size,
        replicas_to_adopt,
        created: false,
        claim: serde_json::to_value(&object).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::*;

    fn snapshot(ready: bool) -> VolumeSnapshot {
        VolumeSnapshot {
            name: "data-web-3-20261130-224217".into(),
            namespace: NAMESPACE.into(),
            claim: Some("data-web-3".into()),
            class: Some("kwok-snapshots".into()),
            content: Some("snapcontent-1".into()),
            ready,
            restore_size: Some("2Gi".into()),
            created_at: None,
            error: (!ready).then(|| "rpc error".to_owned()),
            labels: Default::default(),
            deleting: false,
        }
    }

    fn content(driver: &str) -> SnapshotContent {
        SnapshotContent {
            name: "snapcontent-1".into(),
            uid: "u".into(),
            resource_version: "1".into(),
            deletion_policy: "Retain".into(),
            driver: driver.into(),
            ready: true,
        }
    }

    #[test]
    fn restores_into_an_ordinal_outside_the_live_range_or_says_why_not() {
        let web = sts("web", 2).templates(&["data"]).build();
        let two = sts("web", 2).templates(&["data", "logs"]).build();
        let existing = vec![pvc("data-web-3").of(&web).build()];
        let deleting = vec![pvc("data-web-3").of(&web).terminating().build()];
        let ready = snapshot(true);
        let failed = snapshot(false);
        let same = content("d");
        let of_db = VolumeSnapshot { claim: Some("data-db-3".into()), ..snapshot(true) };
        let of_logs = VolumeSnapshot { claim: Some("logs-web-3".into()), ..snapshot(true) };
        let sibling = VolumeSnapshot { claim: Some("data-web-1".into()), ..snapshot(true) };
        #[derive(Clone, Copy)]
        struct Case<'a> {
            what: &'a str,
            sts: &'a StatefulSet,
            ordinal: i32,
            template: Option<&'a str>,
            claims: &'a [PersistentVolumeClaim],
            pod: bool,
            snapshot: &'a VolumeSnapshot,
            class: Option<(&'a str, &'a str)>,
            allow: bool,
            expected: Result<&'a str, &'a str>,
        }
        let base = Case {
            what: "restored",
            sts: &web,
            ordinal: 3,
            template: None,
            claims: &[],
            pod: false,
            snapshot: &ready,
            class: Some(("kwok-volume", "d")),
            allow: false,
            expected: Ok("data-web-3"),
        };
        let cases = vec![
            Case { ..base },
            Case { what: "claim exists", claims: &existing, expected: Err("already exists"), ..base },
            Case { what: "claim deleting", claims: &deleting, expected: Err("is being deleted"), ..base },
            Case { what: "live", ordinal: 1, expected: Err("ordinal 1 is live"), ..base },
            Case { what: "pod", pod: true, expected: Err("pod web-3 still exists"), ..base },
            Case {
                what: "not ready",
                snapshot: &failed,
                expected: Err("not ready to use (rpc error)"),
                ..base
            },
            Case {
                what: "another set's data",
                snapshot: &of_db,
                expected: Err("was taken of PVC data-db-3, not of a claim of web's template data"),
                ..base
            },
            Case { what: "another set's data, asked for", snapshot: &of_db, allow: true, ..base },
            Case { what: "a sibling's data (a clone of a member)", snapshot: &sibling, ..base },
            Case { what: "driver", class: Some(("other", "e")), expected: Err("by driver d"), ..base },
            Case { what: "no class", class: None, expected: Err("cannot tell the driver"), ..base },
            Case { what: "ambiguous", sts: &two, expected: Err("name one with --template"), ..base },
            Case {
                what: "named",
                sts: &two,
                template: Some("logs"),
                snapshot: &of_logs,
                expected: Ok("logs-web-3"),
                ..base
            },
            Case {
                what: "the data template's snapshot into the logs template",
                sts: &two,
                template: Some("logs"),
                expected: Err("was taken of PVC data-web-3, not of a claim of web's template logs"),
                ..base
            },
            Case { what: "unknown", template: Some("x"), expected: Err("no volumeClaimTemplate x"), ..base },
            Case {
                what: "int32",
                ordinal: i32::MAX,
                expected: Err("ordinal 2147483647 is too high"),
                ..base
            },
        ];
        for c in cases {
            let input = RestoreInput {
                sts: c.sts,
                ordinal: c.ordinal,
                template: c.template,
                claims: c.claims,
                pod_exists: c.pod,
                snapshot: c.snapshot,
                content: Some(&same),
                class: c.class,
                flags: &crate::core::advice::RunFlags::default(),
                allow_other_source: c.allow,
            };
            match (plan(&input), c.expected) {
                (Ok(p), Ok(name)) => {
                    assert_eq!(p.name, name, "{}", c.what);
                    assert_eq!(p.size, "2Gi", "the snapshot's restoreSize is bigger than the 1Gi template");
                    assert_eq!(p.claim["spec"]["dataSourceRef"]["kind"], "VolumeSnapshot");
                    assert_eq!(p.claim["spec"]["dataSourceRef"]["apiGroup"], GROUP);
                    assert_eq!(p.claim["metadata"]["labels"]["app"], "web");
                }
                (Err(e), Err(text)) => assert!(e.to_string().contains(text), "{}: {e}", c.what),
                (got, expected) => panic!("{}: got {got:?}, expected {expected:?}", c.what),
            }
        }
    }

    #[test]
    fn a_snapshot_says_what_it_was_taken_of_by_the_plugins_labels_then_its_source_claim() {
        use crate::core::volume_snapshots::{LABEL_ORDINAL, LABEL_STATEFULSET, LABEL_TEMPLATE};
        let labelled = |set: &str, template: &str, ordinal: &str| VolumeSnapshot {
            // The source claim's name says web's; the labels, written by the plugin when it took
            // the snapshot, say whose it is (a set named so that claim names collide).
            claim: Some("data-web-3".into()),
            labels: [
                (LABEL_STATEFULSET.to_owned(), set.to_owned()),
                (LABEL_TEMPLATE.to_owned(), template.to_owned()),
                (LABEL_ORDINAL.to_owned(), ordinal.to_owned()),
            ]
            .into(),
            ..snapshot(true)
        };
        let of = |claim: Option<&str>| VolumeSnapshot { claim: claim.map(str::to_owned), ..snapshot(true) };
        let cases: Vec<(&str, VolumeSnapshot, Source)> = vec![
            (
                "its own member",
                of(Some("data-web-3")),
                Source::Member { claim: "data-web-3".into(), ordinal: 3 },
            ),
            ("a sibling", of(Some("data-web-0")), Source::Member { claim: "data-web-0".into(), ordinal: 0 }),
            ("another set", of(Some("data-db-3")), Source::Other { claim: "data-db-3".into(), set: None }),
            (
                "another template",
                of(Some("logs-web-3")),
                Source::Other { claim: "logs-web-3".into(), set: None },
            ),
            ("no ordinal", of(Some("data-web-")), Source::Other { claim: "data-web-".into(), set: None }),
            (
                "a longer set name",
                of(Some("data-web-a-3")),
                Source::Other { claim: "data-web-a-3".into(), set: None },
            ),
            ("nothing says", of(None), Source::Unknown),
            (
                "labelled ours",
                labelled("web", "data", "2"),
                Source::Member { claim: "data-web-2".into(), ordinal: 2 },
            ),
            (
                "labelled another set's, under a colliding name",
                labelled("web-data", "data", "3"),
                Source::Other { claim: "data-web-data-3".into(), set: Some("web-data".into()) },
            ),
        ];
        for (what, snapshot, expected) in cases {
            assert_eq!(source(&snapshot, "web", "data"), expected, "{what}");
        }
    }

    #[test]
    fn the_advice_for_an_existing_claim_is_commands_that_run_as_printed_ordinal_0_included() {
        let web = sts("web", 1).templates(&["data"]).build();
        let parked = sts("web", 0).templates(&["data"]).build();
        let snap = snapshot(true);
        let same = content("d");
        let flags = crate::core::advice::RunFlags {
            context: Some("prod".into()),
            kubeconfig: None,
            ..Default::default()
        };
        let advice = |sts: &StatefulSet, ordinal: i32| {
            let claims = vec![pvc(&format!("data-web-{ordinal}")).of(sts).build()];
            let input = RestoreInput {
                sts,
                ordinal,
                template: None,
                claims: &claims,
                pod_exists: false,
                snapshot: &snap,
                content: Some(&same),
                class: Some(("kwok-volume", "d")),
                flags: &flags,
                allow_other_source: false,
            };
            plan(&input).unwrap_err().to_string()
        };
        // Live ordinal 0: scale to 0, and the prune must include a set scaled to 0 (parked).
        let live = advice(&web, 0);
        let ns = NAMESPACE;
        assert!(
            live.contains(&format!(
                "(`kubectl -n {ns} --context prod scale statefulset web --replicas 0`), then, once its pod is gone, \
                 delete its claim keeping its data in a snapshot (`kubectl stateful pvc prune web --snapshot \
                 --include-scaled-to-zero --yes -n {ns} --context prod`: every claim from ordinal 0 up)"
            )),
            "{live}"
        );
        // A set parked at 0 already: the same prune.
        assert!(
            advice(&parked, 0).contains(&format!(
                "`kubectl stateful pvc prune web --snapshot --include-scaled-to-zero --yes -n {ns} --context prod`"
            )),
            "{}",
            advice(&parked, 0)
        );
        // A scaled-down ordinal of a running set: prune as it is.
        assert!(
            advice(&web, 3).contains(&format!(
                "`kubectl stateful pvc prune web --snapshot --yes -n {ns} --context prod`"
            )),
            "{}",
            advice(&web, 3)
        );
    }
}
