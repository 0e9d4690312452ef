//! GitOps and Helm ownership: which fields a tool that sets them back owns, and what a run
//! that would write them refuses, warns or advises (an abort of Git's template is a revert in
//! Git).

use super::{Decision, OwnedField, Refusal, Request};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use kube::ResourceExt;

use super::super::journal::Journal;
use crate::core::advice::RunFlags;
use crate::core::objects::LivePods;
use crate::core::owners::{Contested, Field, Owners, Tool, partition_snippet, strategy_snippet};

/// The owner whose template a held rollout of `sts` steps through, when that owner sets the
/// template back: an abort must not write it (revert the change in Git instead).
pub fn git_first_owner(sts: &StatefulSet) -> Option<String> {
    git_first(sts).map(|c| c.owner())
}

/// The owner of the template a held rollout of `sts` steps through, when it sets it back.
fn git_first(sts: &StatefulSet) -> Option<Contested> {
    let held = Journal::of(sts).ok().flatten().is_some_and(|j| j.held);
    if !held {
        return None;
    }
    Owners::of(sts).template_reverter()
}

/// How to roll `sts` back, as advice that works as printed: run `kubectl stateful rollout NAME
/// --abort -n NS …` (the run's `flags`); for a held rollout of a template Git owns once the change
/// is reverted in Git (for Helm, once the release is rolled back).
pub fn abort_hint(sts: &StatefulSet, flags: &RunFlags) -> String {
    let abort = super::rollout_command(sts, flags, "--abort");
    match git_first(sts).map(|c| c.tool()) {
        None => format!("run `{abort}`"),
        Some(Tool::Helm) => format!(
            "roll the release back to its previous values (helm rollback, or helm upgrade with them), then run \
             `{abort}`"
        ),
        Some(_) => format!("revert the change in Git, then run `{abort}`"),
    }
}

/// What must happen where the template comes from before an abort of `sts` (a held rollout of a
/// template Git or Helm owns), in a few words for a prompt's choice; `None` when nothing must.
pub fn undo_first(sts: &StatefulSet) -> Option<&'static str> {
    git_first(sts).map(|c| match c.tool() {
        Tool::Helm => "roll the release back",
        _ => "revert the change in Git",
    })
}

/// `revert the change in Git` as the start of a sentence.
pub(super) fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// An abort whose restored template a tool that sets it back owns. For a held rollout (the
/// template came from Git) it is refused, unless overridden: reverting in Git rolls the
/// released pods back instead. Otherwise, or overridden, a warning.
pub(super) fn owned_abort(
    decision: Decision,
    sts: &StatefulSet,
    pods: &[Pod],
    journal: Option<&Journal>,
    owners: &Owners,
    request: &Request,
) -> Result<Decision, Refusal> {
    let Decision::Abort(mut abort) = decision else { return Ok(decision) };
    let contested = owners.template_reverter().filter(|_| abort.restore_template);
    let Some(contested) = contested else { return Ok(Decision::Abort(abort)) };
    let git_first = journal.is_some_and(|j| j.held && !j.aborting);
    if git_first && !request.override_owner {
        let released: Vec<String> =
            LivePods::of(sts, pods).not_on(&abort.target).map(|(_, p)| p.name_any()).collect();
        return Err(Refusal::RevertInGit {
            name: sts.name_any(),
            owner: contested.owner(),
            tool: contested.tool(),
            released: if released.is_empty() { "none".to_owned() } else { released.join(", ") },
            partition_before: abort.partition,
            abort: super::rollout_command(sts, request.flags, "--abort"),
        });
    }
    abort.warnings.push(format!(
        "{} is owned by {}, which sets it back {}: revert the change there too, or the pods roll forward again",
        contested.field.replacen("the ", "the restored ", 1),
        contested.owner(),
        contested.manager.tool.reverts_when()
    ));
    Ok(Decision::Abort(abort))
}

/// Refuses to write the partition when a tool that sets it back owns it, with what to change in
/// that tool's configuration; overridden, a warning saying what will happen. A hold promises
/// that no pod moves until a step: the sync that brings the change would break that promise.
pub(super) fn owned_partition(
    sts: &StatefulSet,
    owners: &Owners,
    request: &Request,
) -> Result<Option<String>, Refusal> {
    let consequence = match request.hold {
        true => "the hold would not hold: setting it back releases every pod the partition holds, at once",
        false => "each step would be undone, and the pods it released rolled again",
    };
    match owners.partition_reverter() {
        Some(contested) if request.override_owner => Ok(Some(overridden(&contested))),
        Some(contested) => Err(owned(
            sts,
            &contested,
            consequence,
            format!(
                "Make {} leave the partition to kubectl stateful (as printed above), or pass --override-owner to step it \
                 anyway",
                contested.manager.tool.name()
            ),
            Some(partition_snippet(&contested, sts)),
        )),
        None => Ok(None),
    }
}

/// `--evict` switches the whole update strategy to OnDelete: refused when a tool that sets it
/// back owns any of it (in the middle of the rollout it would be RollingUpdate again, with no
/// partition holding the remaining pods back); overridden, a warning.
pub(super) fn owned_strategy(
    sts: &StatefulSet,
    owners: &Owners,
    request: &Request,
) -> Result<Option<String>, Refusal> {
    match owners.reverter(Field::UpdateStrategy) {
        Some(contested) if request.override_owner => Ok(Some(overridden(&contested))),
        Some(contested) => Err(owned(
            sts,
            &contested,
            "--evict switches it to OnDelete for the rollout, and set back mid-rollout the controller replaces every \
             remaining pod without a budget or a gate",
            format!(
                "Make {} leave the update strategy alone (as printed above), run without --evict, or pass \
                 --override-owner to switch it anyway",
                contested.tool().name()
            ),
            Some(strategy_snippet(&contested, sts)),
        )),
        None => Ok(None),
    }
}

/// The warning of an --override-owner: who will set the field back.
fn overridden(contested: &Contested) -> String {
    format!(
        "--override-owner: {} is owned by {}, which sets it back {}",
        contested.field,
        contested.owner(),
        contested.manager.tool.reverts_when()
    )
}

/// Refuses to stage a template whose changed fields a tool that sets them back owns: the
/// change belongs in Git, staged with `--hold`. Overridden, a warning.
pub(super) fn owned_template(
    sts: &StatefulSet,
    owners: &Owners,
    template: &PodTemplateSpec,
    request: &Request,
) -> Result<Option<String>, Refusal> {
    let current = sts.spec.as_ref().map(|s| &s.template);
    let containers = |t: Option<&PodTemplateSpec>| -> Vec<(String, Option<String>)> {
        t.and_then(|t| t.spec.as_ref())
            .map(|s| s.containers.iter().map(|c| (c.name.clone(), c.image.clone())).collect())
            .unwrap_or_default()
    };
    let (before, after) = (containers(current), containers(Some(template)));
    let changed: Vec<&str> =
        after.iter().filter(|c| !before.contains(c)).map(|(name, _)| name.as_str()).collect();
    // Only images changed (`--image`): the owners of those images; otherwise the template's.
    let mut images_reset = template.clone();
    if let (Some(spec), Some(current)) = (images_reset.spec.as_mut(), current.and_then(|t| t.spec.as_ref())) {
        for container in &mut spec.containers {
            if let Some(was) = current.containers.iter().find(|c| c.name == container.name) {
                container.image.clone_from(&was.image);
            }
        }
    }
    let contested = if Some(&images_reset) == current {
        owners.image_reverter(changed)
    } else {
        owners.template_reverter()
    };
    match contested {
        Some(contested) if request.override_owner => Ok(Some(overridden(&contested))),
        Some(contested) => {
            let tool = contested.tool();
            let make = match tool {
                Tool::Helm => "put the change in the release's values",
                _ => "commit the change",
            };
            Err(owned(
                sts,
                &contested,
                "the new template would be set back mid-rollout, and the updated pods rolled again",
                format!(
                    "Change it {} instead, held back: run `{}`, {make}, and once {} (the partition holds every pod \
                     back), `{}` steps it through. Or pass --override-owner to write it anyway",
                    tool.source(),
                    super::rollout_command(sts, request.flags, "--hold"),
                    tool.applies(),
                    super::rollout_command(sts, request.flags, ""),
                ),
                None,
            ))
        }
        None => Ok(None),
    }
}

fn owned(
    sts: &StatefulSet,
    contested: &Contested,
    consequence: &'static str,
    remedy: String,
    snippet: Option<String>,
) -> Refusal {
    let field = contested.field.clone();
    let mut chars = field.chars();
    let field = chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or(field);
    Refusal::Owned(Box::new(OwnedField {
        name: sts.name_any(),
        field,
        owner: contested.owner(),
        when: contested.manager.tool.reverts_when(),
        consequence,
        remedy,
        snippet: snippet.filter(|s| !s.is_empty()),
    }))
}
