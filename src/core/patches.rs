//! Every change this tool makes by patch (to a StatefulSet, a PersistentVolumeClaim, a
//! PersistentVolume, a VolumeSnapshotContent, a Node), as a JSON patch guarded by `test`
//! operations: a [`Tested`] patch, the only kind `write::Writer::patch` sends.
//!
//! The guards compare `metadata.generation` (bumped by every spec change, but not by the
//! controller's status updates, which churn `resourceVersion` throughout a rollout) and the
//! values being replaced. The API server applies a patch atomically, so a concurrent change by
//! anyone else makes the whole patch fail instead of being overwritten.

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, Patch, PatchOperation, RemoveOperation, ReplaceOperation, TestOperation};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::{Value, json};

use super::objects::partition;
use super::rollout::{Journal, ROLLOUT_ANNOTATION};

/// A JSON patch that carries its own guard: it starts with at least one `test` operation, so
/// the API server applies it only while what it tests still holds (atomically: a failed test
/// fails the whole patch, 422).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(transparent)]
pub struct Tested(Patch);

impl Tested {
    /// `None` unless `ops` starts with a `test`.
    pub fn new(ops: Vec<PatchOperation>) -> Option<Tested> {
        matches!(ops.first(), Some(PatchOperation::Test(_))).then_some(Tested(Patch(ops)))
    }

    pub fn patch(&self) -> &Patch {
        &self.0
    }

    /// The patch as sent: JSON whose strings are escaped as Go's `encoding/json` escapes them
    /// (`&`, `<`, `>`, U+2028, U+2029 as `\u0026`…, backspace and form feed as `\u0008`,
    /// `\u000c`). The API server's JSON patch (evanphx/json-patch) compares a `test`'s string
    /// byte for byte with the object as Go encoded it, so a value holding `&` (a gate URL with
    /// a query in a journal) sent as serde_json writes it would never pass its own test.
    pub fn body(&self) -> Vec<u8> {
        let mut body = Vec::new();
        let mut serializer = serde_json::Serializer::with_formatter(&mut body, GoEscapes);
        serde::Serialize::serialize(&self.0, &mut serializer).expect("a JSON patch always serializes");
        body
    }

    /// Whether every `test` of the patch holds on `doc` (an object as JSON): after a 422,
    /// whether it was the guard that failed.
    pub fn holds_on(&self, doc: &Value) -> bool {
        let tests: Vec<PatchOperation> =
            self.0.0.iter().filter(|op| matches!(op, PatchOperation::Test(_))).cloned().collect();
        json_patch::patch(&mut doc.clone(), &tests).is_ok()
    }
}

/// serde_json's compact output with Go's escapes of `encoding/json` (HTML-safe by default).
struct GoEscapes;

impl serde_json::ser::Formatter for GoEscapes {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (at, c) in fragment.char_indices() {
            if matches!(c, '&' | '<' | '>' | '\u{2028}' | '\u{2029}') {
                writer.write_all(&fragment.as_bytes()[start..at])?;
                write!(writer, "\\u{:04x}", u32::from(c))?;
                start = at + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        escape: serde_json::ser::CharEscape,
    ) -> std::io::Result<()> {
        use serde_json::ser::CharEscape;
        match escape {
            CharEscape::Backspace => writer.write_all(b"\\u0008"),
            CharEscape::FormFeed => writer.write_all(b"\\u000c"),
            other => serde_json::ser::CompactFormatter.write_char_escape(writer, other),
        }
    }
}

/// Every builder here starts with a test.
fn tested(ops: Vec<PatchOperation>) -> Tested {
    Tested::new(ops).expect("every patch builder starts with a test")
}

fn pointer<'t>(tokens: impl IntoIterator<Item = &'t str>) -> PointerBuf {
    PointerBuf::from_tokens(tokens)
}

fn test(path: PointerBuf, value: Value) -> PatchOperation {
    PatchOperation::Test(TestOperation { path, value })
}

fn add(path: PointerBuf, value: Value) -> PatchOperation {
    PatchOperation::Add(AddOperation { path, value })
}

fn replace(path: PointerBuf, value: Value) -> PatchOperation {
    PatchOperation::Replace(ReplaceOperation { path, value })
}

fn annotation_path() -> PointerBuf {
    pointer(["metadata", "annotations", ROLLOUT_ANNOTATION])
}

fn guard(sts: &StatefulSet) -> PatchOperation {
    test(pointer(["metadata", "generation"]), json!(sts.metadata.generation.unwrap_or(0)))
}

/// Sets the partition, creating `rollingUpdate` when the API server left it out.
fn set_partition(sts: &StatefulSet, to: i32) -> PatchOperation {
    let has_rolling_update = sts
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .is_some_and(|u| u.rolling_update.is_some());
    if has_rolling_update {
        add(pointer(["spec", "updateStrategy", "rollingUpdate", "partition"]), json!(to))
    } else {
        add(pointer(["spec", "updateStrategy", "rollingUpdate"]), json!({"partition": to}))
    }
}

/// The partition the patch expects to find; absent means 0 to the controller.
fn test_partition(sts: &StatefulSet) -> Option<PatchOperation> {
    let explicit = sts
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.partition);
    explicit.map(|p| test(pointer(["spec", "updateStrategy", "rollingUpdate", "partition"]), json!(p)))
}

fn write_journal(sts: &StatefulSet, journal: &Journal) -> PatchOperation {
    if sts.metadata.annotations.is_some() {
        add(annotation_path(), json!(journal.to_annotation()))
    } else {
        add(pointer(["metadata", "annotations"]), json!({ROLLOUT_ANNOTATION: journal.to_annotation()}))
    }
}

fn template_value(template: &PodTemplateSpec) -> Value {
    serde_json::to_value(template).expect("a PodTemplateSpec always serializes")
}

/// Stages a rollout: the new template (if any) and the partition raised to `partition`, in one
/// request, so the controller records the new revision but releases no pod. Writes the journal.
/// Under OnDelete (`partition` `None`) no pod moves until it is deleted, and the strategy has
/// no partition to write (validation forbids `rollingUpdate` there).
pub fn stage(
    sts: &StatefulSet,
    template: Option<&PodTemplateSpec>,
    partition: Option<i32>,
    journal: &Journal,
) -> Tested {
    let mut ops = vec![guard(sts)];
    ops.extend(test_partition(sts));
    if let Some(template) = template {
        ops.push(replace(pointer(["spec", "template"]), template_value(template)));
    }
    ops.extend(partition.map(|p| set_partition(sts, p)));
    // --evict: OnDelete for the rollout's duration; the journal keeps the strategy from before.
    if journal.strategy_before.is_some() {
        ops.push(add(pointer(["spec", "updateStrategy"]), json!({"type": "OnDelete"})));
    }
    ops.push(write_journal(sts, journal));
    tested(ops)
}

/// Ends a rollout or an abort of `--evict`: the update strategy from before it (the journal's)
/// and the journal removed, in one request. Elsewhere just [`clear_journal`].
pub fn end_eviction(sts: &StatefulSet, journal: &Journal) -> Tested {
    let mut ops = clear_journal_ops(sts);
    if let Some(strategy) = &journal.strategy_before {
        let strategy = serde_json::to_value(strategy).expect("an update strategy always serializes");
        ops.push(add(pointer(["spec", "updateStrategy"]), strategy));
    }
    tested(ops)
}

/// Writes the journal alone: the first step of an OnDelete rollout of a template someone else
/// changed (nothing to stage, no partition to move).
pub fn journal(sts: &StatefulSet, journal: &Journal) -> Tested {
    tested(vec![guard(sts), write_journal(sts, journal)])
}

/// Moves the partition from where `sts` has it to `to`; writes the journal if given.
pub fn move_partition(sts: &StatefulSet, to: i32, journal: Option<&Journal>) -> Tested {
    let mut ops = vec![guard(sts)];
    ops.extend(test_partition(sts));
    ops.push(set_partition(sts, to));
    ops.extend(journal.map(|j| write_journal(sts, j)));
    tested(ops)
}

/// Starts an abort: the template of the revision pods ran before (unless an interrupted abort
/// already restored it), the partition low enough that the controller rolls every pod on
/// another revision back (`rollback_partition`), and the journal marked as aborting so that an
/// interrupted abort resumes as an abort.
pub fn abort(
    sts: &StatefulSet,
    template: Option<&Value>,
    rollback_partition: i32,
    journal: &Journal,
) -> Tested {
    let mut ops = vec![guard(sts)];
    ops.extend(test_partition(sts));
    if let Some(template) = template {
        ops.push(replace(pointer(["spec", "template"]), template.clone()));
    }
    if partition(sts) != rollback_partition {
        ops.push(set_partition(sts, rollback_partition));
    }
    ops.push(write_journal(sts, journal));
    tested(ops)
}

/// Ends an abort once every live pod runs the restored revision: the partition from before the
/// rollout, and the journal removed, in one request.
pub fn end_abort(sts: &StatefulSet, partition_before: i32) -> Tested {
    let mut ops = clear_journal_ops(sts);
    ops.extend(test_partition(sts));
    if partition(sts) != partition_before {
        ops.push(set_partition(sts, partition_before));
    }
    tested(ops)
}

/// Removes the journal once a rollout or an abort is complete (or `--discard-journal`): only
/// the journal as read.
pub fn clear_journal(sts: &StatefulSet) -> Tested {
    tested(clear_journal_ops(sts))
}

fn clear_journal_ops(sts: &StatefulSet) -> Vec<PatchOperation> {
    let mut ops = vec![guard(sts)];
    if let Some(text) = sts.metadata.annotations.as_ref().and_then(|a| a.get(ROLLOUT_ANNOTATION)) {
        ops.push(test(annotation_path(), json!(text)));
        ops.push(PatchOperation::Remove(RemoveOperation { path: annotation_path() }));
    }
    ops
}

/// The uid and resourceVersion of `meta`'s object, as `test`s: the object exactly as read.
fn exactly(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Vec<PatchOperation> {
    vec![
        test(pointer(["metadata", "uid"]), json!(meta.uid.clone().unwrap_or_default())),
        test(
            pointer(["metadata", "resourceVersion"]),
            json!(meta.resource_version.clone().unwrap_or_default()),
        ),
    ]
}

/// Gives the StatefulSet a swap re-created the managed fields of the object it replaced (a
/// create makes its field manager the owner of every field, which would hide who applies the
/// set from `rollout`'s GitOps guard). Only on the object exactly as read.
pub fn replace_managed_fields(
    sts: &StatefulSet,
    entries: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry],
) -> Tested {
    let mut ops = exactly(&sts.metadata);
    ops.push(add(pointer(["metadata", "managedFields"]), json!(entries)));
    tested(ops)
}

/// Adds `reference` to a claim's ownerReferences (the StatefulSet a swap re-created, for a
/// claim of `whenDeleted: Delete` that lost it), only on the claim exactly as read.
pub fn add_owner(
    claim: &k8s_openapi::api::core::v1::PersistentVolumeClaim,
    reference: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
) -> Tested {
    let mut ops = exactly(&claim.metadata);
    match &claim.metadata.owner_references {
        Some(refs) if !refs.is_empty() => {
            ops.push(test(pointer(["metadata", "ownerReferences"]), json!(refs)));
            ops.push(add(pointer(["metadata", "ownerReferences", "-"]), json!(reference)));
        }
        _ => ops.push(add(pointer(["metadata", "ownerReferences"]), json!([reference]))),
    }
    tested(ops)
}

/// Switches a PersistentVolume to reclaim policy Retain, only while it is still bound to the
/// claim with uid `claim_uid` (the claim the prune plan saw).
pub fn retain_volume(claim_uid: &str) -> Tested {
    tested(vec![
        test(pointer(["spec", "claimRef", "uid"]), json!(claim_uid)),
        replace(pointer(["spec", "persistentVolumeReclaimPolicy"]), json!("Retain")),
    ])
}

/// Switches a VolumeSnapshotContent's deletion policy to Retain, only while it is still the
/// content bound to the snapshot `snapshot` in `namespace` with the policy `current` that was
/// read: deleting the VolumeSnapshot (or its namespace) then keeps the snapshot's data.
pub fn retain_snapshot_content(namespace: &str, snapshot: &str, current: &str) -> Tested {
    tested(vec![
        test(pointer(["spec", "volumeSnapshotRef", "namespace"]), json!(namespace)),
        test(pointer(["spec", "volumeSnapshotRef", "name"]), json!(snapshot)),
        test(pointer(["spec", "deletionPolicy"]), json!(current)),
        replace(pointer(["spec", "deletionPolicy"]), json!("Retain")),
    ])
}

/// Grows a claim to `target`, only while it is the claim planned (its uid) with the request
/// the plan saw (`None`: it had none).
pub fn grow_claim(uid: &str, request: Option<&str>, target: &str) -> Tested {
    let storage = || pointer(["spec", "resources", "requests", "storage"]);
    let mut ops = vec![test(pointer(["metadata", "uid"]), json!(uid))];
    ops.extend(request.map(|r| test(storage(), json!(r))));
    ops.push(match request {
        Some(_) => replace(storage(), json!(target)),
        None => add(storage(), json!(target)),
    });
    tested(ops)
}

/// Cordons a node (`spec.unschedulable: true`), only while it is the node judged (its uid):
/// a node re-registered under the same name is someone else's to cordon.
pub fn cordon(node_uid: &str) -> Tested {
    tested(vec![
        test(pointer(["metadata", "uid"]), json!(node_uid)),
        add(pointer(["spec", "unschedulable"]), json!(true)),
    ])
}

/// The ops that set annotation `key` of an object read with `annotations` to `after` (`None`:
/// remove it), testing the value it had (`before`; absent is not testable in a JSON patch, the
/// object's uid guards that case).
fn annotation_ops(
    annotations: Option<&std::collections::BTreeMap<String, String>>,
    key: &str,
    after: Option<&str>,
) -> Vec<PatchOperation> {
    let path = pointer(["metadata", "annotations", key]);
    let before = annotations.and_then(|a| a.get(key));
    let mut ops: Vec<PatchOperation> = before.map(|b| test(path.clone(), json!(b))).into_iter().collect();
    match (before, after) {
        (_, Some(after)) if annotations.is_some() => ops.push(add(path, json!(after))),
        (_, Some(after)) => ops.push(add(pointer(["metadata", "annotations"]), json!({key: after}))),
        (Some(_), None) => ops.push(PatchOperation::Remove(RemoveOperation { path })),
        (None, None) => {}
    }
    ops
}

/// Writes (or with `None` removes) a `drain` or `restart` journal in annotation `key` of
/// `object`, only while it is the object read (its uid) with the journal as read.
pub fn maintenance_journal(object: &impl kube::Resource, key: &str, journal: Option<&str>) -> Tested {
    let meta = object.meta();
    let mut ops = vec![test(pointer(["metadata", "uid"]), json!(meta.uid.clone().unwrap_or_default()))];
    ops.extend(annotation_ops(meta.annotations.as_ref(), key, journal));
    tested(ops)
}

/// Sets `spec.replicas` of `sts` from `from` to `to` (`scale`), only while it is the set read
/// (its uid) with `from` replicas and the scale journal in annotation `key` as read (`journal`):
/// a scale by anyone else, or another run's journal, fails the whole patch.
pub fn scale_replicas(sts: &StatefulSet, from: i32, to: i32, key: &str, journal: Option<&str>) -> Tested {
    let mut ops = vec![
        test(pointer(["metadata", "uid"]), json!(sts.metadata.uid.clone().unwrap_or_default())),
        test(pointer(["spec", "replicas"]), json!(from)),
    ];
    if let Some(text) = journal {
        ops.push(test(pointer(["metadata", "annotations", key]), json!(text)));
    }
    ops.push(replace(pointer(["spec", "replicas"]), json!(to)));
    tested(ops)
}

/// Cordons `node` and, when given, writes a drain's journal on it, in one request, only while
/// it is the node read (its uid).
pub fn cordon_with_journal(
    node: &k8s_openapi::api::core::v1::Node,
    key: &str,
    journal: Option<&str>,
) -> Tested {
    let mut ops = vec![
        test(pointer(["metadata", "uid"]), json!(node.metadata.uid.clone().unwrap_or_default())),
        add(pointer(["spec", "unschedulable"]), json!(true)),
    ];
    if journal.is_some() {
        ops.extend(annotation_ops(node.metadata.annotations.as_ref(), key, journal));
    }
    tested(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tested string is sent as the API server encodes the object (Go's escapes), so that
    /// a journal holding `&` passes its own `test`; what it means is unchanged.
    #[test]
    fn a_patch_is_sent_with_gos_escapes() {
        let patch = Tested::new(vec![test(
            pointer(["metadata", "annotations", "a"]),
            json!("http://h/?a=1&b=<2>\u{8}\u{c}\n\u{2028}é\"\\"),
        )])
        .unwrap();
        let body = String::from_utf8(patch.body()).unwrap();
        assert_eq!(
            body,
            r#"[{"op":"test","path":"/metadata/annotations/a","value":"http://h/?a=1\u0026b=\u003c2\u003e\u0008\u000c\n\u2028é\"\\"}]"#
        );
        let back: Value = serde_json::from_slice(&patch.body()).unwrap();
        assert_eq!(back, serde_json::to_value(patch.patch()).unwrap(), "the same patch");
    }
    use crate::core::fixtures::{pv, sts};
    use k8s_openapi::api::core::v1::PersistentVolume;
    use k8s_openapi::jiff::Timestamp;

    fn journal() -> Journal {
        Journal {
            steps: vec!["1".into()],
            partition_before: 0,
            from_revision: "web-rev1".into(),
            started_at: Timestamp::from_second(1_700_000_000).unwrap(),
            staged_replicas: None,
            aborting: false,
            held: false,
            gates: crate::core::rollout::gates::Gates::default(),
            strategy_before: None,
            by_zone: false,
            ready_at_start: None,
        }
    }

    fn apply<K: serde::Serialize + serde::de::DeserializeOwned>(
        object: &K,
        patch: &Tested,
    ) -> Result<K, json_patch::PatchError> {
        let mut doc = serde_json::to_value(object).unwrap();
        json_patch::patch(&mut doc, patch.patch())?;
        Ok(serde_json::from_value(doc).unwrap())
    }

    #[test]
    fn evict_switches_to_on_delete_when_staging_and_restores_the_strategy_at_the_end() {
        let web = sts("web", 3).partition(1).build();
        let journal = Journal {
            strategy_before: Some(
                serde_json::from_value(json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}))
                    .unwrap(),
            ),
            ..journal()
        };
        let staged = apply(&web, &stage(&web, None, None, &journal)).unwrap();
        let strategy = staged.spec.as_ref().unwrap().update_strategy.clone().unwrap();
        assert_eq!((strategy.type_.as_deref(), strategy.rolling_update), (Some("OnDelete"), None));
        let ended = apply(&staged, &end_eviction(&staged, &journal)).unwrap();
        assert_eq!(partition(&ended), 1);
        assert_eq!(
            ended.spec.as_ref().unwrap().update_strategy.as_ref().unwrap().type_.as_deref(),
            Some("RollingUpdate")
        );
        assert!(Journal::of(&ended).unwrap().is_none());
    }

    #[test]
    fn staging_changes_template_partition_and_journal_at_once() {
        let web = sts("web", 3).build();
        let mut template = web.spec.as_ref().unwrap().template.clone();
        template.spec.as_mut().unwrap().containers[0].image = Some("example.invalid/app:v2".into());
        let staged = apply(&web, &stage(&web, Some(&template), Some(3), &journal())).unwrap();
        assert_eq!(partition(&staged), 3);
        assert_eq!(staged.spec.as_ref().unwrap().template, template);
        assert_eq!(Journal::of(&staged).unwrap(), Some(journal()));
    }

    #[test]
    fn a_concurrent_spec_change_makes_the_patch_fail() {
        let web = sts("web", 3).partition(2).build();
        let patch = move_partition(&web, 1, None);
        assert_eq!(partition(&apply(&web, &patch).unwrap()), 1);
        let mut changed = web.clone();
        changed.metadata.generation = Some(2);
        assert!(apply(&changed, &patch).is_err(), "someone else bumped the generation");
        let moved = sts("web", 3).partition(0).build();
        assert!(apply(&moved, &patch).is_err(), "someone else moved the partition");
    }

    #[test]
    fn partition_is_created_when_the_strategy_has_none() {
        let mut web = sts("web", 2).build();
        web.spec.as_mut().unwrap().update_strategy.as_mut().unwrap().rolling_update = None;
        assert_eq!(partition(&apply(&web, &move_partition(&web, 2, Some(&journal()))).unwrap()), 2);
    }

    #[test]
    fn abort_rolls_back_low_then_restores_the_partition_from_before() {
        let web = sts("web", 3).partition(1).build();
        let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "v1"}]}});
        let aborting = Journal { aborting: true, partition_before: 2, ..journal() };
        let reverted = apply(&web, &abort(&web, Some(&template), 1, &aborting)).unwrap();
        assert_eq!(partition(&reverted), 1, "rolls back from the lowest index the rollout released");
        assert_eq!(serde_json::to_value(&reverted.spec.as_ref().unwrap().template).unwrap(), template);
        assert!(Journal::of(&reverted).unwrap().unwrap().aborting);
        let ended = apply(&reverted, &end_abort(&reverted, 2)).unwrap();
        assert_eq!(partition(&ended), 2, "the partition from before the rollout");
        assert_eq!(Journal::of(&ended).unwrap(), None);
        let resumed = apply(&reverted, &abort(&reverted, None, 1, &aborting)).unwrap();
        assert_eq!(
            resumed.spec, reverted.spec,
            "a resumed abort with the template restored writes no template"
        );
    }

    #[test]
    fn the_journal_key_is_escaped_in_the_pointer() {
        let annotated = sts("web", 1).annotation("team", "db").build();
        let text = serde_json::to_string(&stage(&annotated, None, Some(1), &journal())).unwrap();
        assert!(text.contains("/metadata/annotations/kubectl-stateful.dev~1rollout"), "{text}");
    }

    #[test]
    fn a_volume_is_retained_only_while_bound_to_the_planned_claim() {
        let volume: PersistentVolume = pv("data-web-3", "Delete");
        let uid = volume.spec.as_ref().unwrap().claim_ref.as_ref().unwrap().uid.clone().unwrap();
        let retained = apply(&volume, &retain_volume(&uid)).unwrap();
        assert_eq!(retained.spec.unwrap().persistent_volume_reclaim_policy.as_deref(), Some("Retain"));
        assert!(apply(&volume, &retain_volume("another-claim")).is_err());
    }

    #[test]
    fn a_snapshot_content_is_retained_only_as_read() {
        let content = json!({
            "metadata": {"name": "snapcontent-1"},
            "spec": {"deletionPolicy": "Delete", "driver": "d",
                     "volumeSnapshotRef": {"name": "data-web-3-1", "namespace": "ns"}}
        });
        let mut retained = content.clone();
        json_patch::patch(&mut retained, &retain_snapshot_content("ns", "data-web-3-1", "Delete").0).unwrap();
        assert_eq!(retained["spec"]["deletionPolicy"], "Retain");
        for (ns, name, policy) in
            [("other", "data-web-3-1", "Delete"), ("ns", "other", "Delete"), ("ns", "data-web-3-1", "Retain")]
        {
            let mut doc = content.clone();
            assert!(
                json_patch::patch(&mut doc, &retain_snapshot_content(ns, name, policy).0).is_err(),
                "{ns} {name} {policy}"
            );
        }
    }

    #[test]
    fn a_claim_grows_only_while_it_is_the_claim_and_request_planned() {
        let claim =
            json!({"metadata": {"uid": "u1"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}});
        let mut grown = claim.clone();
        json_patch::patch(&mut grown, grow_claim("u1", Some("1Gi"), "2Gi").patch()).unwrap();
        assert_eq!(grown["spec"]["resources"]["requests"]["storage"], "2Gi");
        for (uid, request) in [("u2", Some("1Gi")), ("u1", Some("3Gi"))] {
            let mut doc = claim.clone();
            assert!(
                json_patch::patch(&mut doc, grow_claim(uid, request, "2Gi").patch()).is_err(),
                "{uid} {request:?}"
            );
        }
    }

    #[test]
    fn replicas_change_only_from_the_count_and_journal_read() {
        let web = sts("web", 5).annotation("kubectl-stateful.dev/scale", "j1").build();
        let key = "kubectl-stateful.dev/scale";
        let scaled = apply(&web, &scale_replicas(&web, 5, 4, key, Some("j1"))).unwrap();
        assert_eq!(scaled.spec.as_ref().unwrap().replicas, Some(4));
        assert!(apply(&scaled, &scale_replicas(&web, 5, 4, key, Some("j1"))).is_err(), "scaled meanwhile");
        let other = sts("web", 5).annotation(key, "j2").build();
        assert!(
            apply(&other, &scale_replicas(&web, 5, 4, key, Some("j1"))).is_err(),
            "another run's journal"
        );
        let mut recreated = web.clone();
        recreated.metadata.uid = Some("another".into());
        assert!(apply(&recreated, &scale_replicas(&web, 5, 4, key, Some("j1"))).is_err(), "another object");
    }

    #[test]
    fn a_node_is_cordoned_only_while_it_is_the_node_judged() {
        let node = json!({"metadata": {"name": "n1", "uid": "u1"}, "spec": {}});
        let mut cordoned = node.clone();
        json_patch::patch(&mut cordoned, cordon("u1").patch()).unwrap();
        assert_eq!(cordoned["spec"]["unschedulable"], true);
        assert!(json_patch::patch(&mut node.clone(), cordon("u2").patch()).is_err());
    }

    #[test]
    fn a_tested_patch_starts_with_a_test_and_knows_whether_it_still_holds() {
        let change = replace(pointer(["spec", "x"]), json!(1));
        assert!(Tested::new(vec![change.clone()]).is_none(), "no guard, no patch");
        assert!(Tested::new(Vec::new()).is_none());
        let patch = Tested::new(vec![test(pointer(["metadata", "generation"]), json!(3)), change]).unwrap();
        assert!(patch.holds_on(&json!({"metadata": {"generation": 3}, "spec": {"x": 0}})));
        assert!(!patch.holds_on(&json!({"metadata": {"generation": 4}, "spec": {"x": 0}})));
        let web = sts("web", 3).partition(2).build();
        let journaled = sts("web", 3).annotation(ROLLOUT_ANNOTATION, &journal().to_annotation()).build();
        for built in [
            move_partition(&web, 1, None),
            stage(&web, None, Some(3), &journal()),
            clear_journal(&journaled),
            end_abort(&journaled, 0),
            end_eviction(&journaled, &journal()),
            patches_journal(&web),
            abort(&web, None, 1, &journal()),
            retain_volume("u"),
            retain_snapshot_content("ns", "s", "Delete"),
        ] {
            assert!(matches!(built.patch().0.first(), Some(PatchOperation::Test(_))), "{built:?}");
        }
    }

    fn patches_journal(web: &StatefulSet) -> Tested {
        super::journal(web, &journal())
    }
}
