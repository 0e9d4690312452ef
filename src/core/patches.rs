//! Every change this tool makes to a StatefulSet, as a JSON patch guarded by `test` operations.
//!
//! The guards compare `metadata.generation` (bumped by every spec change, but not by the
//! controller's status updates, which churn `resourceVersion` throughout a rollout) and the
//! values being replaced. The API server applies a patch atomically, so a concurrent change by
//! anyone else makes the whole patch fail instead of being overwritten.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::{Value, json};

use super::objects::partition;
use super::rollout::{Journal, ROLLOUT_ANNOTATION};

/// `/` in a map key, escaped for a JSON pointer (RFC 6901).
fn pointer_key(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn annotation_path() -> String {
    format!("/metadata/annotations/{}", pointer_key(ROLLOUT_ANNOTATION))
}

fn guard(sts: &StatefulSet) -> Value {
    json!({"op": "test", "path": "/metadata/generation", "value": sts.metadata.generation.unwrap_or(0)})
}

/// Sets the partition, creating `rollingUpdate` when the API server left it out.
fn set_partition(sts: &StatefulSet, to: i32) -> Value {
    let has_rolling_update = sts
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .is_some_and(|u| u.rolling_update.is_some());
    if has_rolling_update {
        json!({"op": "add", "path": "/spec/updateStrategy/rollingUpdate/partition", "value": to})
    } else {
        json!({"op": "add", "path": "/spec/updateStrategy/rollingUpdate", "value": {"partition": to}})
    }
}

/// The partition the patch expects to find; absent means 0 to the controller.
fn test_partition(sts: &StatefulSet) -> Vec<Value> {
    let explicit = sts
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.partition);
    match explicit {
        Some(p) => {
            vec![json!({"op": "test", "path": "/spec/updateStrategy/rollingUpdate/partition", "value": p})]
        }
        None => Vec::new(),
    }
}

fn write_journal(sts: &StatefulSet, journal: &Journal) -> Value {
    if sts.metadata.annotations.is_some() {
        json!({"op": "add", "path": annotation_path(), "value": journal.to_annotation()})
    } else {
        json!({"op": "add", "path": "/metadata/annotations", "value": {ROLLOUT_ANNOTATION: journal.to_annotation()}})
    }
}

fn finish(ops: Vec<Value>) -> json_patch::Patch {
    // Every op above is built from literals of the JSON patch schema.
    serde_json::from_value(Value::Array(ops)).unwrap_or_else(|_| json_patch::Patch(Vec::new()))
}

/// Stages a rollout: the new template (if any) and the partition raised to `replicas`, in one
/// request, so the controller records the new revision but releases no pod. Writes the journal.
pub fn stage(
    sts: &StatefulSet,
    template: Option<&PodTemplateSpec>,
    replicas: i32,
    journal: &Journal,
) -> json_patch::Patch {
    let mut ops = vec![guard(sts)];
    ops.extend(test_partition(sts));
    if let Some(template) = template {
        ops.push(json!({"op": "replace", "path": "/spec/template", "value": template}));
    }
    ops.push(set_partition(sts, replicas));
    ops.push(write_journal(sts, journal));
    finish(ops)
}

/// Moves the partition from where `sts` has it to `to`; writes the journal if given.
pub fn move_partition(sts: &StatefulSet, to: i32, journal: Option<&Journal>) -> json_patch::Patch {
    let mut ops = vec![guard(sts)];
    ops.extend(test_partition(sts));
    ops.push(set_partition(sts, to));
    ops.extend(journal.map(|j| write_journal(sts, j)));
    finish(ops)
}

/// Aborts: the template of the revision pods ran before, the partition from before the rollout,
/// and the journal marked as aborting so that an interrupted abort resumes as an abort.
pub fn abort(sts: &StatefulSet, template: &Value, journal: &Journal) -> json_patch::Patch {
    let mut ops = vec![guard(sts)];
    ops.push(json!({"op": "replace", "path": "/spec/template", "value": template}));
    if partition(sts) != journal.partition_before {
        ops.push(set_partition(sts, journal.partition_before));
    }
    ops.push(write_journal(sts, journal));
    finish(ops)
}

/// Removes the journal once a rollout or an abort is complete.
pub fn clear_journal(sts: &StatefulSet) -> json_patch::Patch {
    let mut ops = vec![guard(sts)];
    if let Some(text) = sts.metadata.annotations.as_ref().and_then(|a| a.get(ROLLOUT_ANNOTATION)) {
        ops.push(json!({"op": "test", "path": annotation_path(), "value": text}));
        ops.push(json!({"op": "remove", "path": annotation_path()}));
    }
    finish(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::sts;
    use k8s_openapi::jiff::Timestamp;

    fn journal() -> Journal {
        Journal {
            steps: vec!["1".into()],
            partition_before: 0,
            from_revision: "web-rev1".into(),
            started_at: Timestamp::from_second(1_700_000_000).unwrap(),
            aborting: false,
        }
    }

    fn apply(sts: &StatefulSet, patch: &json_patch::Patch) -> Result<StatefulSet, json_patch::PatchError> {
        let mut doc = serde_json::to_value(sts).unwrap();
        json_patch::patch(&mut doc, patch)?;
        Ok(serde_json::from_value(doc).unwrap())
    }

    #[test]
    fn staging_changes_template_partition_and_journal_at_once() {
        let web = sts("web", 3).build();
        let mut template = web.spec.as_ref().unwrap().template.clone();
        template.spec.as_mut().unwrap().containers[0].image = Some("example.invalid/app:v2".into());
        let staged = apply(&web, &stage(&web, Some(&template), 3, &journal())).unwrap();
        assert_eq!(partition(&staged), 3);
        assert_eq!(staged.spec.as_ref().unwrap().template, template);
        assert_eq!(Journal::of(&staged).unwrap().unwrap(), journal());
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
    fn abort_restores_template_and_partition_and_marks_the_journal() {
        let web = sts("web", 3).partition(2).build();
        let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "v1"}]}});
        let aborting = Journal { aborting: true, ..journal() };
        let reverted = apply(&web, &abort(&web, &template, &aborting)).unwrap();
        assert_eq!(partition(&reverted), 0);
        assert_eq!(serde_json::to_value(&reverted.spec.as_ref().unwrap().template).unwrap(), template);
        assert!(Journal::of(&reverted).unwrap().unwrap().aborting);
        let cleared = apply(&reverted, &clear_journal(&reverted)).unwrap();
        assert!(Journal::of(&cleared).is_none());
    }
}
