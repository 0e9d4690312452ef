//! `kubectl stateful pvc prune [NAME]`: delete the PVCs a scale-down left behind, only when
//! provably safe. A dry run unless confirmed; every delete re-checks the StatefulSet first and
//! carries preconditions on the claim's uid and resourceVersion.

use std::io::{self, Write};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;

use crate::access::{self, Permission};
use crate::client::{Kube, KubeArgs};
use crate::core::advice::RunFlags;
use crate::core::fleet::SameCluster;
use crate::core::names::pod_name;
use crate::core::objects::{age, ordinal_range};
use crate::core::patches;
use crate::core::prune::{
    self, AfterDelete, Candidate, Ending, KeptClaim, PruneOptions, PrunePlan, PruneResult, Recheck,
    TakenSnapshot, Verdict,
};
use crate::error::{Error, Result, Stop};
use crate::fetch::{self, Extras, Scope};
use crate::output::{
    Canvas, Document, FLEET_PRUNE_PLAN, OutputFormat, PRUNE_PLAN, PRUNE_RESULT, Streams, or_dash, rendered,
    shell_word, write_checked_document, write_document, write_fitted_prose_table,
};
use crate::ui::Terminal;
use crate::wait::{Kinds, Waiter};
use crate::write::{
    Changed, Deleted, Deletion, DryRun, Guard, Mode, ServerAnswer, ServerCheck, ServerDryRun, Writer, Written,
};
use serde::Serialize;

pub const LONG_ABOUT: &str = "\
Delete PVCs that a StatefulSet's scale-down left behind, only when that is provably safe.

A PVC is a candidate when its name is exactly <template>-<statefulset>-<ordinal> for one of the
StatefulSet's volumeClaimTemplates and the ordinal is outside [start, start+replicas). It is
pruned only if it also carries the StatefulSet's selector labels or an ownerReference to it, no
pod mounts it, no pod holds that ordinal, the StatefulSet has finished scaling, and it is not
already being deleted. A StatefulSet scaled to 0 is parked: its PVCs are kept unless
--include-scaled-to-zero.

Without --yes this is a dry run that prints the plan; on a terminal it then asks you to type
the StatefulSet's name to delete. Right before each delete the StatefulSet is read again and
the whole run stops if its replicas or ordinals changed.

With --snapshot, each claim is first snapshotted (a VolumeSnapshot of the class for its
volume's driver, named <claim>-<date>-<time> and labelled with the StatefulSet's selector); the
snapshot must become readyToUse within --snapshot-timeout and its VolumeSnapshotContent's
deletionPolicy is set to Retain before the claim is deleted. A snapshot that fails or times out
keeps its claim (exit 3). `kubectl stateful pvc restore` brings one back into its ordinal.";

pub const EXAMPLES: &str = "\
Examples:
  kubectl stateful pvc prune web                    # the plan; on a terminal, then a prompt
  kubectl stateful pvc prune web --yes --retain-volumes
  kubectl stateful pvc prune web --snapshot --yes   # a ready, Retain snapshot of each claim first
  kubectl stateful pvc prune -A -o json             # every namespace, as JSON, nothing deleted";

#[derive(Debug, Clone, clap::Args)]
pub struct PruneArgs {
    /// The StatefulSet; without it, every StatefulSet in the namespace
    #[arg(value_parser = crate::parse::object_name)]
    pub name: Option<String>,

    /// Every StatefulSet in every namespace
    #[arg(short = 'A', long, conflicts_with = "name")]
    pub all_namespaces: bool,

    /// With -A --dry-run, every context of the kubeconfig, as with --context repeated: one plan
    /// per context (a prune itself deletes in one context at a time)
    #[arg(long, requires = "all_namespaces")]
    pub all_contexts: bool,

    /// Only the StatefulSets with these labels (without NAME), as kubectl's -l: the API server
    /// evaluates it; every claim of the namespace is still read
    #[arg(short = 'l', long, conflicts_with = "name", value_name = "SELECTOR")]
    pub selector: Option<String>,

    /// Delete without asking (otherwise a dry run, or a typed confirmation on a terminal)
    #[arg(short, long)]
    pub yes: bool,

    /// Only print the plan, even with --yes
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_value_t, default_missing_value = "client", value_name = "HOW")]
    pub dry_run: DryRun,

    /// Also prune PVCs of StatefulSets scaled to 0 (parked StatefulSets keep theirs by default)
    #[arg(long)]
    pub include_scaled_to_zero: bool,

    /// Switch each bound PV with reclaim policy Delete to Retain first, so its data survives
    #[arg(long)]
    pub retain_volumes: bool,

    /// Snapshot each claim first (VolumeSnapshot, ready, content deletion policy Retain); delete only then
    #[arg(long)]
    pub snapshot: bool,

    /// The VolumeSnapshotClass to use (default: the one default class of the volume's driver)
    #[arg(long, requires = "snapshot", value_parser = crate::parse::object_name)]
    pub snapshot_class: Option<String>,

    /// How long to wait for each snapshot to become ready
    #[arg(long, default_value = "5m", requires = "snapshot", value_parser = crate::parse::duration)]
    pub snapshot_timeout: std::time::Duration,

    /// Output format
    #[arg(short, long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

pub async fn run(args: PruneArgs, kube_args: &KubeArgs, term: &Terminal, io: &mut Streams) -> Result<()> {
    if args.all_namespaces && (args.all_contexts || kube_args.context.len() > 1) {
        return fleet(&args, kube_args, term, io).await;
    }
    let kube = kube_args.connect().await?;
    let extras = Extras { volumes: true, autoscalers: true, swaps: true, ..Extras::default() };
    // Even for one StatefulSet the whole namespace is read: claims of look-alikes matter too.
    let snapshot = fetch::reads_in(&kube, &Scope::from_flags(args.all_namespaces, &kube), extras).await?;
    // A set mid-swap (`pvc resize`) is left out: its pods may have no controller, and its
    // claims' owners are being handed over.
    let swaps = crate::core::resize::mid_swaps(&snapshot, &kube.flags);
    let mid_swap = |namespace: &str, name: &str| {
        swaps.iter().find(|m| m.namespace == namespace && m.stateful_set == name)
    };
    let scope: Vec<&StatefulSet> = match &args.name {
        Some(name) => match (
            snapshot.statefulsets.iter().find(|s| s.name_any() == *name),
            mid_swap(&kube.namespace, name),
        ) {
            (_, Some(mid)) => return Err(Stop::MidResize(Box::new(mid.clone())).into()),
            (Some(sts), None) => vec![sts],
            (None, None) => return Err(fetch::missing(&kube, &kube.namespace, "StatefulSet", name).await),
        },
        None => {
            for mid in &swaps {
                io.warn(format_args!("left out: {}", mid.describe()));
            }
            let selected = match &args.selector {
                Some(selector) => {
                    let scope = Scope::from_flags(args.all_namespaces, &kube);
                    Some(fetch::selected(&kube, &scope, selector).await?)
                }
                None => None,
            };
            snapshot
                .statefulsets
                .iter()
                .filter(|s| mid_swap(&s.namespace().unwrap_or_default(), &s.name_any()).is_none())
                .filter(|s| {
                    selected.as_ref().is_none_or(|selected| {
                        selected.contains(&(s.namespace().unwrap_or_default(), s.name_any()))
                    })
                })
                .collect()
        }
    };
    if let (Some(name), [sts]) = (&args.name, scope.as_slice())
        && crate::core::objects::claim_templates(sts).is_empty()
    {
        // Said for people; the (empty) plan or result is still printed, so -o json is a document.
        io.note(format_args!("{name} has no volumeClaimTemplates: no PVCs to prune"));
    }
    if args.retain_volumes && snapshot.volumes.is_none() {
        return Err(Stop::RetainNeedsVolumes.into());
    }
    let options = PruneOptions {
        include_scaled_to_zero: args.include_scaled_to_zero,
        retain_volumes: args.retain_volumes,
    };
    let mut plan = prune::plan(&snapshot, &scope, &options);
    let now = Timestamp::now();
    if args.snapshot {
        let classes = if plan.to_prune().next().is_some() {
            crate::volume_snapshots::classes(&kube).await?
        } else {
            None
        };
        prune::plan_snapshots(
            &mut plan,
            &snapshot,
            &scope,
            classes.as_deref(),
            args.snapshot_class.as_deref(),
            now,
        )?;
    }
    // A run that may delete: confirmed with --yes, or on a terminal where a typed confirmation
    // can be asked (machine-readable output never prompts: without --yes it is a dry run).
    // Anything else is a dry run, and holds no Writer.
    let confirmed_run =
        !args.dry_run.is_dry() && (args.yes || (term.interactive && !args.output.is_machine()));
    let again = format!("run `{}` to continue", rerun(&args, &kube));
    let mode = if confirmed_run { Mode::Apply } else { Mode::DryRun };
    let writer = Writer::of(&kube, mode, again.clone());
    let confirmed_run = writer.is_some();
    let deleting = confirmed_run && plan.to_prune().next().is_some();
    // --dry-run=server: the API server's answers, asked before the plan is printed, which
    // carries them in its machine-readable form.
    let server = match ServerCheck::of(&kube, Mode::from_dry_run(args.dry_run)) {
        Some(check) => Some(server_dry_run(&check, &kube, &plan).await),
        None => None,
    };
    // The plan is the output of a dry run; a run that may delete reports its result instead.
    if !(confirmed_run && args.output.is_machine()) {
        let canvas = term.canvas();
        rendered(render_plan(
            &mut io.out,
            &plan,
            server.as_ref(),
            args.output,
            args.all_namespaces,
            canvas,
            now,
        ))?;
    }
    for warning in &plan.warnings {
        io.warn(warning);
    }
    warn_about_data(&plan, &same_prune(&args, &kube, " --retain-volumes"), None, io);
    let (true, Some(writer)) = (deleting, writer) else {
        if confirmed_run && args.output.is_machine() {
            let start = PruneResult::start(&plan);
            return rendered(render_result(&mut io.out, &start, &plan, &kube.flags, args.output));
        }
        if plan.to_prune().next().is_some() && !args.output.is_machine() {
            let how = if args.dry_run.is_dry() { "" } else { "; pass --yes (or run on a terminal) to prune" };
            io.say(format_args!("dry run: nothing was deleted{how}"));
        }
        if let Some(server) = &server {
            for line in server.lines() {
                io.say(line);
            }
            return server.ending();
        }
        return Ok(());
    };
    require_permissions(&kube, &plan).await?;
    let request_timeout =
        kube_args.request_timeout.filter(|t| !t.is_zero()).unwrap_or(std::time::Duration::from_secs(30));
    let mut pruner = Pruner {
        kube: &kube,
        request_timeout,
        writer,
        term,
        args: &args,
        planned: &scope,
        plan: &plan,
        io,
        snapshots_failed: 0,
        again,
    };
    let mut result = PruneResult::start(&plan);
    let outcome = pruner.prune(&mut result).await;
    let snapshots_failed = pruner.snapshots_failed;
    rendered(render_result(&mut io.out, &result, &plan, &kube.flags, args.output))?;
    outcome?;
    match result.ending(snapshots_failed) {
        Ending::Done => Ok(()),
        Ending::SnapshotsFailed(claims) => Err(Stop::SnapshotsFailed { claims }.into()),
        Ending::NotPruned(claims) => Err(Stop::NotPruned { claims }.into()),
    }
}

/// `--dry-run=server`: the writes of the plan, in the order a prune sends them, each one that can
/// be sent now sent with `dryRun=All` (through [`ServerCheck`]). A claim's writes after its
/// `--snapshot` (its content's deletion policy, its PV set to Retain, its delete) wait for the
/// snapshot to be ready first: they are listed as not checked, with the step they depend on.
async fn server_dry_run(check: &ServerCheck, kube: &Kube, plan: &PrunePlan) -> ServerDryRun {
    let volumes: Api<PersistentVolume> = kube.api_all();
    let mut run = ServerDryRun::default();
    for candidate in plan.to_prune() {
        let namespace = &candidate.namespace;
        let claims: Api<PersistentVolumeClaim> = kube.api_in(namespace);
        let mut waits_for: Option<usize> = None;
        if let Some(planned) = &candidate.snapshot {
            let api = crate::volume_snapshots::snapshots_api(kube, namespace);
            let object = crate::core::volume_snapshots::snapshot_object(
                &planned.name,
                namespace,
                &candidate.name,
                &planned.class,
                &planned.labels,
            );
            let object: kube::api::DynamicObject = serde_json::from_value(object)
                .expect("a VolumeSnapshot the core built always reads as an object");
            let what = format!("create VolumeSnapshot {namespace}/{}", planned.name);
            let answer = ServerAnswer::of_written(check.create(&api, &object, &what).await);
            let step = run.add(what, answer);
            waits_for = Some(step);
            if planned.class_deletion_policy != "Retain" {
                let what =
                    format!("set the deletion policy of VolumeSnapshot {}'s content to Retain", planned.name);
                run.add(what, ServerAnswer::NotChecked { depends_on: step });
            }
        }
        if candidate.retain_volume
            && let Some(volume) = &candidate.volume
        {
            let what = format!("set PV {volume} to Retain");
            let answer = match waits_for {
                Some(on) => ServerAnswer::NotChecked { depends_on: on },
                None => {
                    let patch = patches::retain_volume(&candidate.uid);
                    ServerAnswer::of_written(check.patch(&volumes, volume, &patch, &what).await)
                }
            };
            run.add(what, answer);
        }
        let what = format!("delete PVC {namespace}/{}", candidate.name);
        let answer = match waits_for {
            Some(on) => ServerAnswer::NotChecked { depends_on: on },
            None => {
                let guard = Guard::UidAndResourceVersion {
                    uid: candidate.uid.clone(),
                    resource_version: candidate.resource_version.clone(),
                };
                ServerAnswer::of_deleted(
                    check.delete(&claims, &candidate.name, guard, Deletion::default(), &what).await,
                )
            }
        };
        run.add(what, answer);
    }
    run
}

/// The `kubectl patch pv` that clears a Released volume's old binding (the claim's uid and
/// resourceVersion), so that the next claim of the same name binds to it.
pub fn unbind_volume(volume: &str, flags: &RunFlags) -> String {
    let clear = r#"[{"op":"remove","path":"/spec/claimRef/uid"},{"op":"remove","path":"/spec/claimRef/resourceVersion"}]"#;
    flags.kubectl_cluster(&format!("patch pv {} --type json -p {}", shell_word(volume), shell_word(clear)))
}

/// The `pvc restore` that brings `snapshot` back into its claim's ordinal: the StatefulSet,
/// ordinal and template of the claim it was taken of (from `plan`), `--template` always given
/// (needed when the set has several).
pub fn restore_command(snapshot: &TakenSnapshot, plan: &PrunePlan, flags: &RunFlags) -> String {
    let candidate =
        plan.candidates.iter().find(|c| c.name == snapshot.claim && c.namespace == snapshot.namespace);
    let args = match candidate {
        Some(c) => format!(
            "pvc restore {} --ordinal {} --from {} --template {}",
            shell_word(&c.stateful_set),
            c.ordinal,
            shell_word(&snapshot.name),
            shell_word(&c.template)
        ),
        // Every snapshot is taken of a candidate of the plan.
        None => format!("pvc restore --from {}", shell_word(&snapshot.name)),
    };
    flags.plugin(&snapshot.namespace, &args)
}

/// This run's prune (its StatefulSet, every one of its namespace, or `-A`; with
/// `--include-scaled-to-zero` and `-l` as given) and `extra`, as a command with the run's flags.
fn same_prune(args: &PruneArgs, kube: &Kube, extra: &str) -> String {
    let mut scaled = if args.include_scaled_to_zero { " --include-scaled-to-zero" } else { "" }.to_owned();
    if let Some(selector) = &args.selector {
        scaled.push_str(&format!(" -l {}", shell_word(selector)));
    }
    match (&args.name, args.all_namespaces) {
        (_, true) => kube.flags.plugin_cluster(&format!("pvc prune -A{scaled}{extra}")),
        (Some(name), false) => {
            kube.flags.plugin(&kube.namespace, &format!("pvc prune {}{scaled}{extra}", shell_word(name)))
        }
        (None, false) => kube.flags.plugin(&kube.namespace, &format!("pvc prune{scaled}{extra}")),
    }
}

/// This run's prune again, with every flag that changes what it does (`--snapshot` and its
/// class and timeout, `--retain-volumes`, `--yes`), as a command with the run's flags.
fn rerun(args: &PruneArgs, kube: &Kube) -> String {
    let mut extra = String::new();
    if args.retain_volumes {
        extra.push_str(" --retain-volumes");
    }
    if args.snapshot {
        extra.push_str(" --snapshot");
        if let Some(class) = &args.snapshot_class {
            extra.push_str(&format!(" --snapshot-class {}", shell_word(class)));
        }
        if args.snapshot_timeout != std::time::Duration::from_secs(300) {
            // Whole seconds: humantime's `1m 30s` would be two words on a command line.
            extra.push_str(&format!(" --snapshot-timeout {}s", args.snapshot_timeout.as_secs()));
        }
    }
    if args.yes {
        extra.push_str(" --yes");
    }
    same_prune(args, kube, &extra)
}

/// What `scale --claims prune` asks of the prune once its scale-down is done: the claims of
/// `ordinals` of the StatefulSet `name` in the run's namespace (the members it removed), judged
/// by this command's rules and deleted through its own guarded path, as `pvc prune NAME --yes`
/// would (the scale was confirmed up front); the set's other claims are left alone.
pub struct Removed<'a> {
    pub name: &'a str,
    pub ordinals: &'a [i32],
    pub snapshot: bool,
    pub snapshot_class: Option<&'a str>,
    pub snapshot_timeout: std::time::Duration,
    /// How to go on after a delete that got no answer (the scale that resumes).
    pub resume: &'a str,
}

/// Prunes the claims `removed` names (see [`Removed`]): the plan, the snapshots, the re-check
/// before each delete and the delete's guards are `pvc prune`'s. Returns what was deleted and
/// kept; the plan's warnings and each delete are said on stderr.
///
/// # Errors
/// Whatever stops a prune (a snapshot that cannot be taken, a claim not pruned, a conflict).
pub async fn prune_removed(
    kube: &Kube,
    request_timeout: std::time::Duration,
    term: &Terminal,
    io: &mut Streams,
    removed: Removed<'_>,
) -> Result<PruneResult> {
    let extras = Extras { volumes: true, autoscalers: true, swaps: true, ..Extras::default() };
    let snapshot = fetch::reads_in(kube, &Scope::Namespace(kube.namespace.clone()), extras).await?;
    let Some(sts) = snapshot.statefulsets.iter().find(|s| s.name_any() == removed.name) else {
        return Err(fetch::missing(kube, &kube.namespace, "StatefulSet", removed.name).await);
    };
    let scope = vec![sts];
    let options = PruneOptions {
        include_scaled_to_zero: crate::core::objects::replicas(sts) == 0,
        retain_volumes: false,
    };
    let mut plan = prune::plan(&snapshot, &scope, &options);
    plan.candidates.retain(|c| removed.ordinals.contains(&c.ordinal));
    plan.storage_freed = prune::total_capacity(plan.candidates.iter().filter(|c| c.destroys_data()));
    if removed.snapshot {
        let classes = match plan.to_prune().next() {
            Some(_) => crate::volume_snapshots::classes(kube).await?,
            None => None,
        };
        prune::plan_snapshots(
            &mut plan,
            &snapshot,
            &scope,
            classes.as_deref(),
            removed.snapshot_class,
            Timestamp::now(),
        )?;
    }
    for warning in &plan.warnings {
        io.warn(warning);
    }
    let mut result = PruneResult::start(&plan);
    if plan.to_prune().next().is_none() {
        return Ok(result);
    }
    require_permissions(kube, &plan).await?;
    let Some(writer) = Writer::of(kube, Mode::Apply, removed.resume) else {
        return Ok(result);
    };
    let args = PruneArgs {
        name: Some(removed.name.to_owned()),
        all_namespaces: false,
        all_contexts: false,
        selector: None,
        yes: true,
        dry_run: DryRun::None,
        include_scaled_to_zero: options.include_scaled_to_zero,
        retain_volumes: false,
        snapshot: removed.snapshot,
        snapshot_class: removed.snapshot_class.map(str::to_owned),
        snapshot_timeout: removed.snapshot_timeout,
        output: OutputFormat::Table,
    };
    let mut pruner = Pruner {
        kube,
        request_timeout,
        writer,
        term,
        args: &args,
        planned: &scope,
        plan: &plan,
        io,
        snapshots_failed: 0,
        again: removed.resume.to_owned(),
    };
    pruner.prune(&mut result).await?;
    match result.ending(pruner.snapshots_failed) {
        Ending::Done => Ok(result),
        Ending::SnapshotsFailed(claims) => Err(Stop::SnapshotsFailed { claims }.into()),
        Ending::NotPruned(claims) => Err(Stop::NotPruned { claims }.into()),
    }
}

/// Deleting the claims of every namespace involved, and switching PVs to Retain if asked.
async fn require_permissions(kube: &Kube, plan: &PrunePlan) -> Result<()> {
    let mut namespaces: Vec<&str> = plan.to_prune().map(|c| c.namespace.as_str()).collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    let mut needed: Vec<Permission> = namespaces
        .into_iter()
        .map(|ns| Permission {
            verb: "delete",
            group: "",
            resource: "persistentvolumeclaims",
            namespace: Some(ns),
            subresource: None,
        })
        .collect();
    let snapshotting: Vec<&str> =
        plan.to_prune().filter(|c| c.snapshot.is_some()).map(|c| c.namespace.as_str()).collect();
    for ns in &snapshotting {
        for verb in ["create", "get", "list", "watch"] {
            needed.push(Permission {
                verb,
                group: crate::core::volume_snapshots::GROUP,
                resource: "volumesnapshots",
                namespace: Some(ns),
                subresource: None,
            });
        }
        // The wait for a snapshot watches its StatefulSet and pods too (crate::wait).
        for (group, resource) in [("apps", "statefulsets"), ("", "pods")] {
            needed.push(Permission {
                verb: "watch",
                group,
                resource,
                namespace: Some(ns),
                subresource: None,
            });
        }
    }
    if !snapshotting.is_empty() {
        for verb in ["get", "patch"] {
            needed.push(Permission {
                verb,
                group: crate::core::volume_snapshots::GROUP,
                resource: "volumesnapshotcontents",
                namespace: None,
                subresource: None,
            });
        }
    }
    if plan.to_prune().any(|c| c.retain_volume) {
        needed.push(Permission {
            verb: "patch",
            group: "",
            resource: "persistentvolumes",
            namespace: None,
            subresource: None,
        });
    }
    access::require(kube, &needed, "nothing was changed").await
}

/// Warns about the claims whose data a prune destroys, with `keeping`: the same prune with
/// `--retain-volumes`. In a fleet plan, `fleet` is the context's name, and `keeping` prunes that
/// context alone as planned (a fleet run deletes nothing).
fn warn_about_data(plan: &PrunePlan, keeping: &str, fleet: Option<&str>, io: &mut Streams) {
    let destroyed: Vec<String> = plan
        .candidates
        .iter()
        .filter(|c| c.destroys_data() && c.snapshot.is_none())
        .map(|c| format!("{}/{}", c.namespace, c.name))
        .collect();
    if !destroyed.is_empty() {
        let (prefix, keep) = match fleet {
            None => (String::new(), format!("prune with `{keeping}`")),
            Some(context) => {
                (format!("context {context}: "), format!("prune that context alone (`{keeping}`)"))
            }
        };
        io.warn(format_args!(
            "{prefix}the PVs of {} have reclaim policy Delete: pruning destroys their data; to keep it as Released \
             PVs, {keep}",
            destroyed.join(", ")
        ));
    }
}

struct Pruner<'a, 'io> {
    kube: &'a Kube,
    /// How long one API request may take (a wait's check that the API server is there).
    request_timeout: std::time::Duration,
    /// Every delete and patch of the run.
    writer: Writer,
    term: &'a Terminal,
    args: &'a PruneArgs,
    /// The StatefulSets as the plan saw them.
    planned: &'a [&'a StatefulSet],
    plan: &'a PrunePlan,
    io: &'io mut Streams,
    /// Claims kept because their snapshot failed or timed out.
    snapshots_failed: usize,
    /// How to go on after an interruption or an error: `run `CMD` to continue`, with the
    /// command that does (this prune with its flags, or the scale that resumes).
    again: String,
}

impl Pruner<'_, '_> {
    /// Deletes the plan's prune candidates, StatefulSet by StatefulSet, recording each outcome
    /// in `result`. On an error that makes going on unsafe, it stops: every claim not dealt
    /// with yet is recorded as not pruned, and the error says what was done.
    async fn prune(&mut self, result: &mut PruneResult) -> Result<()> {
        let mut groups: Vec<(&str, &str)> =
            self.plan.to_prune().map(|c| (c.namespace.as_str(), c.stateful_set.as_str())).collect();
        groups.dedup();
        for (namespace, sts_name) in groups {
            let candidates: Vec<&Candidate> = self
                .plan
                .to_prune()
                .filter(|c| c.namespace == namespace && c.stateful_set == sts_name)
                .collect();
            let question = format!(
                "Delete {} PVC(s) of {namespace}/{sts_name} ({})?",
                candidates.len(),
                candidates.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
            );
            let confirmed = self.term.confirm_typed(self.args.yes, &question, sts_name);
            let error = match confirmed {
                Ok(true) => match self.prune_group(namespace, sts_name, &candidates, result).await {
                    Ok(()) => continue,
                    Err(e) => e,
                },
                Ok(false) => {
                    self.io.say(format_args!("not confirmed: kept the PVCs of {namespace}/{sts_name}"));
                    result.kept.extend(candidates.iter().map(|c| KeptClaim::of(c, "not confirmed")));
                    continue;
                }
                Err(e) => e,
            };
            // Stop everything: what was not deleted stays, and is named.
            result.stop(self.plan);
            let done: Vec<&str> = result.deleted.iter().map(|c| c.name.as_str()).collect();
            let remaining: Vec<&str> = result.failed.iter().map(|f| f.name.as_str()).collect();
            let summary = format!(
                "Deleted: {}. Remaining: {}",
                if done.is_empty() { "none".to_owned() } else { done.join(", ") },
                remaining.join(", ")
            );
            return Err(match error {
                // What the interrupted wait left (a snapshot not ready yet), then the claims.
                Error::Interrupted { at_prompt, left, .. } => Error::Interrupted {
                    at_prompt,
                    left: if left.is_empty() { summary } else { format!("{left}. {summary}") },
                    resume: Some(self.again.clone()),
                },
                // Whatever stopped it keeps its kind (and exit code): a conflict, a request
                // that got no answer, a refusal; with what was done and what remains.
                other => Error::Stranded {
                    error: Box::new(other),
                    left: format!("stopped. {summary}"),
                    resume: self.again.clone(),
                },
            });
        }
        Ok(())
    }

    async fn prune_group(
        &mut self,
        namespace: &str,
        sts_name: &str,
        candidates: &[&Candidate],
        result: &mut PruneResult,
    ) -> Result<()> {
        let statefulsets: Api<StatefulSet> = self.kube.api_in(namespace);
        let pods: Api<Pod> = self.kube.api_in(namespace);
        let claims: Api<PersistentVolumeClaim> = self.kube.api_in(namespace);
        let volumes: Api<PersistentVolume> = self.kube.api_all();
        let planned = self
            .planned
            .iter()
            .find(|s| s.name_any() == sts_name && s.namespace().as_deref() == Some(namespace));
        let Some(planned_sts) = planned else {
            return Err(Stop::NotInPlan { namespace: namespace.to_owned(), name: sts_name.to_owned() }.into());
        };
        let planned_range = ordinal_range(planned_sts);
        // The wait for snapshots watches them (started at the first).
        let mut waiter: Option<Waiter> = None;
        // Who mounts what, right before deleting: one LIST for the group.
        let mounting: Vec<Pod> =
            fetch::list(&self.kube.client, &Scope::Namespace(namespace.to_owned()), None).await?;
        for candidate in candidates {
            // Ctrl-C stops between deletes, never inside one (a claim is deleted or it is not).
            if crate::signal::is_interrupted() {
                return Err(Error::interrupted("", None));
            }
            let holder = pod_name(sts_name, candidate.ordinal);
            let holds =
                pods.get_opt(&holder).await.map_err(Error::kube(format!("read pod {holder}")))?.is_some();
            if let Recheck::Keep(reason) = prune::recheck(candidate, holds, &mounting) {
                result.failed.push(KeptClaim::of(candidate, reason));
                continue;
            }
            if let Some(planned) = &candidate.snapshot {
                let waiter = match &mut waiter {
                    Some(waiter) => waiter,
                    None => {
                        let kinds = Kinds { volume_snapshots: true, ..Kinds::default() };
                        waiter
                            .insert(Waiter::start(self.kube, planned_sts, kinds, self.request_timeout).await?)
                    }
                };
                let taking = crate::volume_snapshots::Taking {
                    kube: self.kube,
                    writer: &self.writer,
                    timeout: self.args.snapshot_timeout,
                    again: &self.again,
                };
                match crate::volume_snapshots::take(&taking, waiter, candidate, planned, self.term, self.io)
                    .await?
                {
                    Ok(taken) => result.snapshots.push(taken),
                    Err(reason) => {
                        self.io.warn(format_args!("kept PVC {}: {reason}", candidate.name));
                        result.failed.push(KeptClaim::of(candidate, reason));
                        self.snapshots_failed += 1;
                        continue;
                    }
                }
            }
            if candidate.retain_volume
                && let Some(volume) = &candidate.volume
            {
                let patch = patches::retain_volume(&candidate.uid);
                let what = format!("set PV {volume} to Retain");
                let reason = match self.writer.patch(&volumes, volume, &patch, &what).await {
                    Ok(Written::Done(_)) => None,
                    Ok(Written::Changed(_)) => Some(format!("PV {volume} is no longer bound to it")),
                    Ok(Written::Gone) => Some(format!("PV {volume} is gone")),
                    Err(e) => Some(format!("could not set PV {volume} to Retain: {e}")),
                };
                if let Some(reason) = reason {
                    result.failed.push(KeptClaim::of(candidate, reason));
                    continue;
                }
            }
            // Right before the delete (one request apart, as close as the API allows: no
            // precondition ties a claim's deletion to the StatefulSet's replicas), the StatefulSet
            // must still be what the plan saw.
            let check =
                |now: &StatefulSet| match prune::changed_since_plan(planned_range, now, candidate.ordinal) {
                    None => Ok(()),
                    Some(change) => Err(Error::from(Stop::ChangedSincePlan {
                        namespace: namespace.to_owned(),
                        name: sts_name.to_owned(),
                        change: change.to_string(),
                    })),
                };
            let read = || async {
                statefulsets
                    .get(sts_name)
                    .await
                    .map_err(Error::kube(format!("read StatefulSet {namespace}/{sts_name}")))
            };
            check(&read().await?)?;
            let guard = Guard::UidAndResourceVersion {
                uid: candidate.uid.clone(),
                resource_version: candidate.resource_version.clone(),
            };
            let what = format!("delete PVC {namespace}/{}", candidate.name);
            let mut deleted =
                self.writer.delete(&claims, &candidate.name, guard, Deletion::default(), &what).await;
            // A failed resourceVersion precondition may be the claim's status alone moving
            // (1.37 sets an `Unused` condition as pods come and go): with the claim as read again,
            // and its pods, if nothing the plan judged has changed and no pod references it, try
            // once more with the new resourceVersion.
            if let Ok(Deleted::Changed(Changed { now: Some(now) })) = &deleted {
                let listed = pods
                    .list(&Default::default())
                    .await
                    .map_err(Error::kube(format!("list pods in namespace {namespace}")))?;
                // Any pod, terminating ones too: the claim's protection finalizer would keep a
                // claim they mount until they are gone, then delete it under whatever comes next.
                let mounted = listed
                    .items
                    .iter()
                    .any(|p| crate::core::objects::mounted_claims(p).any(|c| c == candidate.name));
                if prune::still_as_planned(candidate, now, mounted) {
                    let guard = Guard::exact(now);
                    deleted =
                        self.writer.delete(&claims, &candidate.name, guard, Deletion::default(), &what).await;
                }
            }
            match deleted {
                Ok(Deleted::Done) => {
                    self.io.say(format_args!("persistentvolumeclaim \"{}\" deleted", candidate.name));
                    result.deleted(candidate, self.plan);
                    // And right after: a scale-up in the window makes the ordinal live again,
                    // and its pod would start on an empty volume. Say so, loudly, and stop.
                    match prune::after_delete(planned_range, &read().await?, candidate) {
                        AfterDelete::AsPlanned => {}
                        AfterDelete::ScaledUp { pod, released } => {
                            return Err(Stop::ScaledUpDuringDelete {
                                namespace: namespace.to_owned(),
                                name: sts_name.to_owned(),
                                ordinal: candidate.ordinal,
                                claim: candidate.name.clone(),
                                pod,
                                released,
                                status: self
                                    .kube
                                    .flags
                                    .plugin(namespace, &format!("status {}", shell_word(sts_name))),
                            }
                            .into());
                        }
                        AfterDelete::Changed(change) => {
                            return Err(Stop::ChangedSincePlan {
                                namespace: namespace.to_owned(),
                                name: sts_name.to_owned(),
                                change,
                            }
                            .into());
                        }
                    }
                }
                Ok(Deleted::Gone) => {
                    result.failed.push(KeptClaim::of(candidate, "deleted by someone else since the plan"));
                }
                Ok(Deleted::Changed(changed)) => {
                    let by = changed
                        .by()
                        .map(|m| format!(" (last written by {})", m.describe()))
                        .unwrap_or_default();
                    result.failed.push(KeptClaim::of(
                        candidate,
                        format!("changed by someone else since the plan{by}"),
                    ));
                }
                Err(e) => result.failed.push(KeptClaim::of(candidate, e.to_string())),
            }
        }
        Ok(())
    }
}

/// `pvc prune -A --dry-run` in several contexts: each planned on its own
/// ([`crate::fleet::each_with_cluster`]), the plans listed with their context; a context that could not be
/// read is an entry, and makes the exit code 1 after the rest is written. Only a dry run: a
/// prune deletes in one context at a time.
async fn fleet(args: &PruneArgs, kube_args: &KubeArgs, term: &Terminal, io: &mut Streams) -> Result<()> {
    if args.dry_run == DryRun::Server {
        return Err(Stop::ServerDryRunUnsupported { command: "pvc prune -A --all-contexts" }.into());
    }
    if args.dry_run != DryRun::Client || args.yes || args.snapshot || args.retain_volumes {
        return Err(Stop::FleetDeletes.into());
    }
    let contexts = crate::fleet::contexts(kube_args, args.all_contexts)?;
    let options = PruneOptions { include_scaled_to_zero: args.include_scaled_to_zero, retain_volumes: false };
    let options = &options;
    let selector = args.selector.as_deref();
    let mut outcomes = crate::fleet::each_with_cluster(kube_args, &contexts, |kube| async move {
        let extras = Extras { volumes: true, autoscalers: true, ..Extras::default() };
        let snapshot = fetch::reads_in(&kube, &Scope::All, extras).await?;
        let selected = match selector {
            Some(selector) => Some(fetch::selected(&kube, &Scope::All, selector).await?),
            None => None,
        };
        let scope: Vec<&StatefulSet> = snapshot
            .statefulsets
            .iter()
            .filter(|s| {
                selected.as_ref().is_none_or(|selected| {
                    selected.contains(&(s.namespace().unwrap_or_default(), s.name_any()))
                })
            })
            .collect();
        Ok(prune::plan(&snapshot, &scope, options))
    })
    .await;
    // A -l no API server can parse is the run's mistake (exit 2), not one context's failure.
    if let Some(error) = crate::fleet::usage_error(&mut outcomes) {
        return Err(error);
    }
    // Two contexts reaching one cluster plan the same claims: listed, warned about and counted
    // once, under the first.
    let read: Vec<_> =
        outcomes.iter().map(|o| (o.context.as_str(), o.result.is_ok(), o.cluster.as_ref())).collect();
    let same_as = crate::core::fleet::same_cluster_as(&read);
    let same_cluster = crate::core::fleet::same_cluster_groups(&read);
    let contexts: Vec<FleetContext> = outcomes
        .iter()
        .zip(same_as)
        .map(|(o, same_as)| FleetContext { context: &o.context, result: o.result.as_ref(), same_as })
        .collect();
    rendered(render_fleet_plan(
        &mut io.out,
        &contexts,
        &same_cluster,
        args.output,
        term.canvas(),
        Timestamp::now(),
    ))?;
    // What a single-context plan warns about, per context.
    for (context, plan) in
        contexts.iter().filter(|c| c.same_as.is_none()).filter_map(|c| Some((c.context, c.result.ok()?)))
    {
        for warning in &plan.warnings {
            io.warn(format_args!("context {context}: {warning}"));
        }
        // The fleet's own flags, so that the prune advised plans what this plan shows.
        let flags = kube_args.for_context(context).run_flags();
        let mut narrowed =
            String::from(if args.include_scaled_to_zero { " --include-scaled-to-zero" } else { "" });
        if let Some(selector) = &args.selector {
            narrowed.push_str(&format!(" -l {}", shell_word(selector)));
        }
        let keeping = flags.plugin_cluster(&format!("pvc prune -A{narrowed} --retain-volumes"));
        warn_about_data(plan, &keeping, Some(context), io);
    }
    crate::fleet::failures(contexts.iter().map(|c| (c.context, c.result.err().map(String::as_str))))
}

/// One context of a fleet prune plan: its plan or why it was not read, and the earlier context
/// that reached the same cluster, whose plan stands for its.
struct FleetContext<'a> {
    context: &'a str,
    result: std::result::Result<&'a PrunePlan, &'a String>,
    same_as: Option<String>,
}

/// One context's plan in a fleet document.
#[derive(Serialize)]
struct FleetPlanItem<'a> {
    context: &'a str,
    #[serde(flatten)]
    plan: Document<'a, PrunePlan>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FleetPlan<'a> {
    items: Vec<FleetPlanItem<'a>>,
    errors: Vec<serde_json::Value>,
    /// Groups of contexts that reach one cluster: its plan is listed once, under the first.
    same_cluster: &'a [SameCluster],
    /// Claims to prune across the clusters read.
    to_prune: usize,
}

/// The plans of several contexts: a `FleetPrunePlan` document (json, yaml), or per context a
/// heading and its plan table (or why it could not be read, or the context whose plan it shares).
fn render_fleet_plan(
    w: &mut dyn Write,
    contexts: &[FleetContext<'_>],
    same_cluster: &[SameCluster],
    format: OutputFormat,
    canvas: Canvas,
    now: Timestamp,
) -> io::Result<()> {
    let counted = || contexts.iter().filter(|c| c.same_as.is_none());
    let document = FleetPlan {
        items: counted()
            .filter_map(|c| {
                Some(FleetPlanItem { context: c.context, plan: Document::new(PRUNE_PLAN, c.result.ok()?) })
            })
            .collect(),
        errors: contexts
            .iter()
            .filter_map(|c| Some(serde_json::json!({"context": c.context, "error": c.result.err()?})))
            .collect(),
        same_cluster,
        to_prune: counted().filter_map(|c| c.result.ok()).map(|p| p.to_prune().count()).sum(),
    };
    if write_document(w, format, FLEET_PRUNE_PLAN, &document)? {
        return Ok(());
    }
    for (i, c) in contexts.iter().enumerate() {
        writeln!(w, "{}context {}:", if i == 0 { "" } else { "\n" }, c.context)?;
        match (&c.same_as, c.result) {
            (Some(first), _) => {
                let identity = same_cluster.iter().find(|g| &g.counted == first).map(|g| g.identity.as_str());
                writeln!(
                    w,
                    "the same cluster as context {first}{}: its claims are listed there",
                    identity.map(|i| format!(" ({i})")).unwrap_or_default()
                )?;
            }
            (None, Ok(plan)) => render_plan(w, plan, None, format, true, canvas, now)?,
            (None, Err(error)) => writeln!(w, "not read: {error}")?,
        }
    }
    let clusters = counted().count();
    let across = if clusters == contexts.len() {
        format!("{clusters} context(s)")
    } else {
        format!("{clusters} cluster(s) ({} contexts)", contexts.len())
    };
    writeln!(w, "\n{} PVC(s) to prune across {across}; dry run: nothing was deleted.", document.to_prune)
}

/// The plan: a table of the claims left behind and each one's verdict (fitted to `canvas`'s
/// width on a terminal), then the snapshots it takes; or the `PrunePlan` document.
pub fn render_plan(
    w: &mut dyn Write,
    plan: &PrunePlan,
    server: Option<&ServerDryRun>,
    format: OutputFormat,
    all_namespaces: bool,
    canvas: Canvas,
    now: Timestamp,
) -> io::Result<()> {
    if write_checked_document(w, format, PRUNE_PLAN, plan, server)? {
        return Ok(());
    }
    if plan.candidates.is_empty() {
        writeln!(w, "No PVCs left behind by scale-down.")?;
        return Ok(());
    }
    // The default table keeps what a deletion is decided on: the claim, what it holds and what
    // happens to its volume, the verdict and why. Its set, ordinal and template are in its name;
    // `-o wide` adds them and the PV's name (a UUID under most provisioners), as kubectl's wide
    // adds columns.
    let wide = format == OutputFormat::Wide;
    let mut headers: Vec<&str> = if wide {
        vec![
            "STATEFULSET",
            "ORDINAL",
            "TEMPLATE",
            "PVC",
            "PHASE",
            "CAPACITY",
            "PV",
            "RECLAIM",
            "AGE",
            "VERDICT",
            "REASON",
        ]
    } else {
        vec!["PVC", "PHASE", "CAPACITY", "RECLAIM", "AGE", "VERDICT", "REASON"]
    };
    if all_namespaces {
        headers.insert(0, "NAMESPACE");
    }
    let mut rows = Vec::new();
    for c in &plan.candidates {
        let verdict = match c.verdict {
            Verdict::Prune if c.snapshot.is_some() && c.retain_volume => "snapshot, prune (PV kept)",
            Verdict::Prune if c.snapshot.is_some() => "snapshot, prune",
            Verdict::Prune if c.retain_volume => "prune (PV kept)",
            Verdict::Prune => "prune",
            Verdict::Keep => "keep",
            Verdict::Unverified => "unverified",
        };
        let mut row = if wide {
            vec![
                c.stateful_set.clone(),
                c.ordinal.to_string(),
                c.template.clone(),
                c.name.clone(),
                c.phase.clone(),
                or_dash(c.capacity.as_deref()),
                or_dash(c.volume.as_deref()),
                or_dash(c.reclaim_policy.as_deref()),
                age(c.created_at, now),
                verdict.to_owned(),
                c.reason.clone(),
            ]
        } else {
            vec![
                c.name.clone(),
                c.phase.clone(),
                or_dash(c.capacity.as_deref()),
                or_dash(c.reclaim_policy.as_deref()),
                age(c.created_at, now),
                verdict.to_owned(),
                c.reason.clone(),
            ]
        };
        if all_namespaces {
            row.insert(0, c.namespace.clone());
        }
        rows.push(row);
    }
    // Each reason is read whole before a deletion is confirmed: it wraps, it is never cut.
    // `-o wide` asks for every column whole: nothing is cut or wrapped there.
    let canvas = if wide { Canvas { width: None, ..canvas } } else { canvas };
    write_fitted_prose_table(w, &headers, rows, canvas, "REASON")?;
    let mut first = true;
    for c in plan.to_prune() {
        if let Some(s) = &c.snapshot {
            if std::mem::take(&mut first) {
                writeln!(w)?;
            }
            let line = format!(
                "snapshot {} of {}: class {} (driver {}, deletionPolicy {}{})",
                s.name,
                c.name,
                s.class,
                s.driver,
                s.class_deletion_policy,
                if s.class_deletion_policy == "Retain" { "" } else { ", switched to Retain on its content" }
            );
            canvas.write_wrapped(w, "", "  ", &line)?;
        }
    }
    let count = plan.to_prune().count();
    writeln!(
        w,
        "\n{count} PVC(s) to prune, {} of storage freed with their PVs; {} kept.",
        plan.storage_freed,
        plan.candidates.len() - count
    )?;
    Ok(())
}

/// The result of a run that deleted: the document, or for people what was deleted and kept,
/// with the commands that bring each kept volume or snapshot back into its ordinal (from `plan`,
/// which knows each claim's StatefulSet, ordinal and template; with the run's `flags`).
pub fn render_result(
    w: &mut dyn Write,
    result: &PruneResult,
    plan: &PrunePlan,
    flags: &RunFlags,
    format: OutputFormat,
) -> io::Result<()> {
    if write_document(w, format, PRUNE_RESULT, result)? {
        return Ok(());
    }
    writeln!(w, "\nDeleted {} PVC(s), freeing {} of storage.", result.deleted.len(), result.storage_freed)?;
    if !result.retained_volumes.is_empty() {
        writeln!(
            w,
            "Kept their data as Released PVs (reclaim policy Retain): {}",
            result.retained_volumes.join(", ")
        )?;
        writeln!(
            w,
            "To reuse one for its ordinal, clear its old binding; the next claim of the same name (a scale-up) then \
             binds to it:"
        )?;
        for volume in &result.retained_volumes {
            writeln!(w, "  {}", unbind_volume(volume, flags))?;
        }
    }
    for s in &result.snapshots {
        writeln!(
            w,
            "Snapshot of {}/{}: {} (ready, {}, content {} with deletionPolicy Retain)",
            s.namespace,
            s.claim,
            s.name,
            s.restore_size.as_deref().unwrap_or("size unknown"),
            s.content
        )?;
    }
    if !result.snapshots.is_empty() {
        writeln!(w, "To bring one back into its ordinal (for its next scale-up to adopt):")?;
        for s in &result.snapshots {
            writeln!(w, "  {}", restore_command(s, plan, flags))?;
        }
    }
    for k in &result.failed {
        writeln!(w, "NOT pruned {}/{}: {}", k.namespace, k.name, k.reason)?;
    }
    Ok(())
}
