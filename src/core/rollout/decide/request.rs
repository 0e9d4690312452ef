//! What a decision is made from: what the person asked for ([`Request`]) and what was read
//! from the cluster ([`Cluster`]), and the first checks of one against the other
//! ([`validate`]).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Namespace, Pod, PodTemplateSpec};

use kube::ResourceExt;

use super::super::gates::Gates;
use super::super::plan::Steps;
use super::{Refusal, Replace};
use crate::core::advice::{RunFlags, shell_word};
use crate::core::facts::{Honoured, RECREATE};
use crate::core::objects::{ON_DELETE, ROLLING_UPDATE, replicas, update_strategy};
use crate::core::owners::AppSync;

/// What the person asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    /// The pod template `--image` or `--patch` produce, when it differs from the current one.
    pub template: Option<&'a PodTemplateSpec>,
    /// `--partition N`: one explicit step.
    pub partition: Option<i64>,
    /// `--steps`.
    pub steps: Option<&'a Steps>,
    /// `--abort`.
    pub abort: bool,
    /// `--hold`: hold every pod back for a template change the StatefulSet's owner applies.
    pub hold: bool,
    /// `--override-owner`: write fields a GitOps tool or Helm owns, though it sets them back.
    pub override_owner: bool,
    /// The gates given on the command line (`--gate-exec`, …); `None` when none was given.
    pub gates: Option<&'a Gates>,
    /// `--by-zone`: replace pods one zone at a time ([`Cluster::zones`] holds where they run).
    pub by_zone: bool,
    /// `--evict`: replace a RollingUpdate StatefulSet's pods by eviction, as for OnDelete, so
    /// that PodDisruptionBudgets are enforced by the API server at each pod.
    pub evict: bool,
    /// The run's connection flags, which the commands a refusal prints repeat.
    pub flags: &'a RunFlags,
}

/// What was read from the cluster for a decision.
#[derive(Debug, Clone, Copy)]
pub struct Cluster<'a> {
    /// The StatefulSet's namespace, when it could be read.
    pub namespace: Option<&'a Namespace>,
    pub sts: &'a StatefulSet,
    /// The StatefulSet's pods.
    pub pods: &'a [Pod],
    /// Warning events about the StatefulSet (empty when they could not be read).
    pub events: &'a [Event],
    /// Whether the API server keeps `maxUnavailable` (`None`: not asked, it does not matter).
    pub max_unavailable: Option<&'a Honoured>,
    /// The StatefulSet's ControllerRevisions (empty when they could not be read, or its
    /// revisions are the same).
    pub revisions: &'a [ControllerRevision],
    /// The zone of each live ordinal's node, read for `--by-zone` (`None` otherwise).
    pub zones: Option<&'a BTreeMap<i32, Option<String>>>,
    /// How the StatefulSet's Argo CD Application syncs, when it has one (`None` otherwise):
    /// with `Replace=true` it owns every field, the partition included.
    pub application: Option<&'a AppSync>,
}

/// How the pods will be replaced, once the request and the StatefulSet agree.
pub(super) struct Validated {
    pub replace: Replace,
    /// `--evict` on a RollingUpdate set: OnDelete for the rollout's duration.
    pub switching: bool,
}

/// The request checked against the StatefulSet before anything else: nothing is rolled while
/// it or its namespace is being deleted; its strategy says who replaces the pods; the flags
/// must make sense for that strategy; a gate's container must exist.
pub(super) fn validate(cluster: &Cluster, request: &Request) -> Result<Validated, Refusal> {
    let Cluster { namespace, sts, .. } = *cluster;
    let name = sts.name_any();
    for (what, meta) in [
        (format!("StatefulSet {name}"), Some(&sts.metadata)),
        (format!("namespace {}", sts.namespace().unwrap_or_default()), namespace.map(|n| &n.metadata)),
    ] {
        if let Some(meta) = meta.filter(|m| m.deletion_timestamp.is_some()) {
            return Err(Refusal::Deleting { what, finalizers: meta.finalizers.clone().unwrap_or_default() });
        }
    }
    let replace = match update_strategy(sts) {
        ROLLING_UPDATE => Replace::Controller,
        ON_DELETE => Replace::Eviction,
        RECREATE => {
            let namespace = sts.namespace().unwrap_or_default();
            let held = format!(
                r#"{{"spec":{{"updateStrategy":{{"type":"RollingUpdate","rollingUpdate":{{"partition":{}}}}}}}}}"#,
                replicas(sts)
            );
            let patch = request.flags.kubectl(
                &namespace,
                &format!("patch statefulset {} --type merge -p {}", shell_word(&name), shell_word(&held)),
            );
            return Err(Refusal::Recreate { name, patch });
        }
        other => return Err(Refusal::UnknownStrategy { name, strategy: other.to_owned() }),
    };
    // --evict on a RollingUpdate set: replaced by eviction like OnDelete, with the strategy
    // switched for the rollout's duration (staged with it, restored at its end).
    let switching = request.evict && replace == Replace::Controller && !request.abort;
    let replace = if switching { Replace::Eviction } else { replace };
    let evicting = replace == Replace::Eviction;
    match (evicting, request.partition.is_some(), request.by_zone, request.hold) {
        (true, true, _, _) => return Err(Refusal::PartitionOnDelete { name }),
        (false, _, true, _) => return Err(Refusal::ZonesNeedOnDelete { name }),
        (true, _, _, true) => {
            let resume = super::rollout_command(sts, request.flags, "");
            return Err(Refusal::HoldOnDelete { name, resume });
        }
        _ => {}
    }
    // The container an exec gate runs in must exist in the template the pods will run.
    if let Some(container) = request.gates.and_then(|g| g.container.as_deref()) {
        let template = request.template.or(sts.spec.as_ref().map(|s| &s.template));
        let known: Vec<&str> = template
            .and_then(|t| t.spec.as_ref())
            .map(|s| s.containers.iter().map(|c| c.name.as_str()).collect())
            .unwrap_or_default();
        if !known.contains(&container) {
            return Err(Refusal::UnknownGateContainer {
                container: container.to_owned(),
                known: known.join(", "),
            });
        }
    }
    Ok(Validated { replace, switching })
}
