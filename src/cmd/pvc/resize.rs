//! `kubectl stateful pvc resize NAME --size TEMPLATE=QUANTITY`: grow every claim of a
//! StatefulSet's volumeClaimTemplate, then swap the StatefulSet for one whose template says the
//! new size (orphan delete, re-create, adoption verified). The decisions are in
//! [`crate::core::resize`]; this is the shell: read, plan, ask, patch, wait, swap.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, ResourceQuota};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use serde::Serialize;

use crate::access::{self, Permission};
use crate::client::{Kube, KubeArgs};
use crate::core::advice::shell_word;
use crate::core::objects::{pod_ready, pod_status_text};
use crate::core::owners::last_writer;
use crate::core::patches;
use crate::core::resize::{
    self, Action, Adoption, ClaimPlan, ClaimState, Inputs, JOURNAL_KEY, MidSwap, ResizePlan, RestartHold,
    RestartStep, SizeRequest, SwapJournal, claim_state, journal_name, recovery_hint,
};
use crate::error::{Error, Result, Stop};
use crate::fetch;
use crate::output::{
    Canvas, Document, OutputFormat, RESIZE_EVENT, RESIZE_PLAN, Streams, or_dash, rendered,
    write_checked_document, write_fitted_prose_table, write_json_line,
};
use crate::progress::Progress;
use crate::ui::Terminal;
use crate::wait::{Kinds, Said, Showing, Shown, Until, View, Waiter, Wake, Words, deadline};
use crate::write::{
    Changed, Deleted, Deletion, DryRun, Evicted, Guard, Mode, ServerAnswer, ServerCheck, ServerDryRun,
    Writer, Written,
};

pub const LONG_ABOUT: &str = "\
Grow the volumes of a StatefulSet: every PVC of the named volumeClaimTemplates, including those a
scale-down left behind (so a later scale-up does not bring back a small disk), then re-create
the StatefulSet so that its template asks for the new size (spec.volumeClaimTemplates is
immutable).

First a plan, with nothing changed: per claim its size, class and how it expands, the retention
policy, the StatefulSet's GitOps owner, quota headroom and any expansion in flight. It refuses,
with nothing changed, a shrink or an equal size, a class without allowVolumeExpansion, a claim
that is not Bound, a StatefulSet mid-rollout or mid-scale, a quota that cannot hold the new
sizes, and a StatefulSet a GitOps tool applies (--override-owner to go on anyway).

Then the claims grow, highest ordinal first: one canary claim, then the rest a few at a time,
each patch guarded by the claim's uid and request. A mounted claim whose filesystem must
still grow on its node (FileSystemResizePending) is first left to the kubelet, which grows it
online when it next syncs the pod (waited for up to 2m, never past --timeout); only a claim
it did not grow has its pod restarted, one at a time, each waited for until Ready. Offline-only classes (StorageClass annotation
kubectl-stateful.dev/expansion: offline) get a downtime plan and are not started.

Last, the swap: a journal (ConfigMap kubectl-stateful-resize-<name>) records the object as
read, the StatefulSet is deleted with propagationPolicy Orphan on its uid and resourceVersion
(pods and PVCs stay; a change since, such as a scale, stops the swap), re-created with only the
claim templates' sizes changed and its old field managers, and the run waits until every pod
and PVC is adopted (same uid, same controller-revision-hash; a pod that died meanwhile is
created again). It refuses a StatefulSet an operator controls (a controller ownerReference),
and never takes one someone else re-created meanwhile for its own. Running the same command
again after an interruption finishes the job; --undo gives it up instead (the old sizes, the
claims stay grown). status, rollout, prune, restore and recover name a half-done swap and both
ways out.";

pub const EXAMPLES: &str = "\
Examples:
  kubectl stateful pvc resize web --size data=20Gi --dry-run      # the plan; nothing changes
  kubectl stateful pvc resize web --size data=20Gi                # on a terminal: the plan, then a prompt
  kubectl stateful pvc resize web --size data=20Gi --size wal=4Gi --yes -o json   # NDJSON events";

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The StatefulSet
    #[arg(value_parser = crate::parse::object_name)]
    pub name: String,

    /// A volumeClaimTemplate's new size, TEMPLATE=QUANTITY (repeatable)
    #[arg(long = "size", value_name = "TEMPLATE=QUANTITY", required_unless_present = "undo", value_parser = resize::parse_size)]
    pub sizes: Vec<SizeRequest>,

    /// Give up a half-done swap: re-create the StatefulSet from its journal with the claim
    /// templates' sizes from before (the claims stay grown), or keep one someone else re-created
    #[arg(long, conflicts_with_all = ["sizes", "override_owner"])]
    pub undo: bool,

    /// Go on without asking (required without a terminal)
    #[arg(short, long)]
    pub yes: bool,

    /// Only print the plan
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_value_t, default_missing_value = "client", value_name = "HOW")]
    pub dry_run: DryRun,

    /// Go on although a GitOps tool or Helm applies the StatefulSet (it may re-create the old template)
    #[arg(long)]
    pub override_owner: bool,

    /// How many claims grow at once after the canary
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,

    /// How long to wait for each claim, pod restart and the adoption
    #[arg(long, default_value = "5m", value_parser = crate::parse::duration)]
    pub timeout: Duration,

    /// Output format: the plan as a table, or as JSON/YAML; during a run, -o json gives NDJSON events
    #[arg(short, long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// One line of `-o json` during a run (`kind: ResizeEvent`, docs/pvc-resize.md).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase", tag = "event")]
enum Event<'a> {
    Plan {
        plan: &'a ResizePlan,
    },
    ClaimPatched {
        claim: &'a str,
        size: &'a str,
    },
    ClaimGrown {
        claim: &'a str,
        capacity: String,
    },
    /// The controller expanded the volume; the filesystem grows at the next mount and no pod mounts it.
    ClaimPendingMount {
        claim: &'a str,
    },
    /// Claims whose filesystem the kubelet grows online, waited for before any restart.
    #[serde(rename_all = "camelCase")]
    KubeletWait {
        claims: &'a [&'a str],
        up_to_seconds: u64,
    },
    /// The restart of a pod waits: other pods not Ready, or a budget allowing no disruption.
    RestartHeld {
        pod: &'a str,
        hold: &'a RestartHold,
    },
    PodRestarted {
        pod: &'a str,
    },
    JournalWritten {
        config_map: &'a str,
    },
    StatefulSetDeleted {
        uid: &'a str,
    },
    StatefulSetCreated {
        uid: &'a str,
    },
    Adopted {
        pods: usize,
        claims: usize,
    },
    Finished,
    /// The run ended with an error: the line stderr says, the exit code, and for an
    /// interruption, a lost API server or an error after changes, what was left and how to go
    /// on. The last line of every run that ends with an error.
    #[serde(rename_all = "camelCase")]
    Error {
        error: String,
        exit_code: u8,
        left: Option<&'a str>,
        resume: Option<&'a str>,
    },
}

/// How long a refused eviction waits before it is tried again.
const EVICTION_RETRY: Duration = Duration::from_secs(2);

/// `--timeout`'s default (its `default_value`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Whether a pod may have to restart for its filesystem to grow: a claim to grow is mounted.
fn restarts_possible(plan: &ResizePlan) -> bool {
    plan.to_grow().any(|c| c.mounted_by.is_some())
}

/// `run `kubectl stateful pvc resize NAME --size … -n NS …` again THEN`: the command that goes
/// on from where a run stopped (it reads its journal and the claims), exactly, with the run's
/// connection flags.
fn again(kube: &Kube, args: &Args, then: &str) -> String {
    let mut command = format!("pvc resize {}", shell_word(&args.name));
    for size in &args.sizes {
        command.push_str(&format!(" --size {}", shell_word(&format!("{}={}", size.template, size.size))));
    }
    if args.undo {
        command.push_str(" --undo");
    }
    if args.override_owner {
        command.push_str(" --override-owner");
    }
    // The run's own --timeout, when it was not the default: the same command, exactly.
    if args.timeout != DEFAULT_TIMEOUT {
        // Whole seconds: humantime's `1m 30s` would be two words on a command line.
        command.push_str(&format!(" --timeout {}s", args.timeout.as_secs()));
    }
    let then = if then.is_empty() { String::new() } else { format!(" {then}") };
    format!("run `{}` again{then}", kube.flags.plugin(&kube.namespace, &command))
}

struct Run<'a> {
    kube: &'a Kube,
    /// How long one API request may take: after a watch error, the API server is gone once a
    /// request takes longer.
    request_timeout: Duration,
    term: &'a Terminal,
    args: &'a Args,
    io: &'a mut Streams,
    namespace: String,
}

impl Run<'_> {
    /// [`again`] for this run.
    fn again(&self, then: &str) -> String {
        again(self.kube, self.args, then)
    }

    fn emit(&mut self, event: Event, line: impl std::fmt::Display) {
        self.emit_for_machines(event);
        self.io.say(line);
    }

    /// The event alone, for `-o json`.
    fn emit_for_machines(&mut self, event: Event) {
        if self.args.output == OutputFormat::Json {
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Line<'e> {
                namespace: &'e str,
                stateful_set: &'e str,
                #[serde(flatten)]
                event: &'e Event<'e>,
            }
            let line = Line { namespace: &self.namespace, stateful_set: &self.args.name, event: &event };
            // A closed stdout must not stop a run halfway: the events are a copy of the progress.
            let _ = write_json_line(&mut self.io.out, &Document::new(RESIZE_EVENT, &line));
        }
    }
}

pub async fn run(args: Args, kube_args: &KubeArgs, term: &Terminal, io: &mut Streams) -> Result<()> {
    let kube = kube_args.connect().await?;
    let namespace = kube.namespace.clone();
    let request_timeout =
        kube_args.request_timeout.filter(|t| !t.is_zero()).unwrap_or(Duration::from_secs(30));
    let mut run = Run { kube: &kube, request_timeout, term, args: &args, io, namespace };
    // The one place a Writer can come from: a dry run has none, so nothing below writes in one.
    let writer = Writer::of(
        &kube,
        Mode::from_dry_run(args.dry_run),
        format!("{}: it reads the state and goes on", again(&kube, &args, "")),
    );
    let result = match run.journal(writer).await {
        Ok(Some(writer)) => run.plan_and_start(writer).await,
        Ok(None) if args.dry_run == DryRun::Server => {
            // What goes on from a swap's journal is shown above; its writes are not sent.
            run.io.say(
                "server dry run: nothing was sent: a swap in progress goes on from its journal, which \
                 --dry-run=server does not check",
            );
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(error) => Err(error),
    };
    // -o json events end with a line, however the run ends.
    if let Err(error) = &result
        && args.output == OutputFormat::Json
        && !args.dry_run.is_dry()
    {
        let (left, resume) = error.left_and_resume();
        let event = Event::Error { error: error.to_string(), exit_code: error.exit_code(), left, resume };
        run.emit_for_machines(event);
    }
    result
}

impl Run<'_> {
    /// `kubectl -n NS … ARGS`: a kubectl command in the run's namespace, with its flags.
    fn kubectl(&self, args: &str) -> String {
        self.kube.flags.kubectl(&self.namespace, args)
    }

    /// `kubectl get statefulset NAME`, to check that it exists before a journal is deleted.
    fn check_statefulset(&self) -> String {
        self.kubectl(&format!("get statefulset {}", shell_word(&self.args.name)))
    }

    /// A journal means a swap was started: finishing it comes before anything else, since the
    /// StatefulSet may be gone right now. Gives the writer back when there is none.
    async fn journal(&mut self, writer: Option<Writer>) -> Result<Option<Option<Writer>>> {
        let configmaps: Api<ConfigMap> = self.kube.api_in(&self.namespace);
        let journal_cm = journal_name(&self.args.name);
        match configmaps
            .get_opt(&journal_cm)
            .await
            .map_err(Error::kube(format!("read ConfigMap {journal_cm}")))?
        {
            Some(cm) => self.resume(writer, cm).await.map(|()| None),
            None if self.args.undo => {
                Err(Stop::NothingToUndo { name: self.args.name.clone(), config_map: journal_cm }.into())
            }
            None => Ok(Some(writer)),
        }
    }

    async fn plan_and_start(&mut self, writer: Option<Writer>) -> Result<()> {
        let sts = fetch::statefulset(self.kube, &self.namespace, &self.args.name).await?;
        let plan = self.plan(&sts).await?;
        self.start(writer, sts, plan).await
    }

    async fn plan(&mut self, sts: &StatefulSet) -> Result<ResizePlan> {
        let client = &self.kube.client;
        let scope = fetch::Scope::Namespace(self.namespace.clone());
        let (pvcs, pods) = futures::try_join!(
            fetch::list::<PersistentVolumeClaim>(client, &scope, None),
            fetch::list::<Pod>(client, &scope, None)
        )?;
        let classes: Api<StorageClass> = self.kube.api_all();
        let classes = classes.list(&ListParams::default()).await.map_err(Error::kube("list StorageClasses"));
        let classes = fetch::forbidden_as_none(classes)?.map(|l| l.items);
        let quotas: Api<ResourceQuota> = self.kube.api_in(&self.namespace);
        let quotas = quotas.list(&ListParams::default()).await.map_err(Error::kube("list ResourceQuotas"));
        let quotas = fetch::forbidden_as_none(quotas)?.map(|l| l.items);
        let inputs = Inputs {
            sts,
            pvcs: &pvcs,
            pods: &pods,
            classes: classes.as_deref(),
            quotas: quotas.as_deref(),
            sizes: &self.args.sizes,
            override_owner: self.args.override_owner,
            flags: &self.kube.flags,
        };
        Ok(resize::plan(&inputs)?)
    }

    /// From the plan to the end: refusals, consent, grow, restarts, swap.
    async fn start(&mut self, writer: Option<Writer>, sts: StatefulSet, plan: ResizePlan) -> Result<()> {
        let machine = self.args.output.is_machine();
        let events = self.args.output == OutputFormat::Json && !self.args.dry_run.is_dry();
        // An offline class's claims need the downtime a run refuses to take (exit 1, nothing
        // sent): a server dry run sends nothing for it either, and ends as the run would.
        let downtime = plan.needs_downtime(&self.kube.flags);
        // --dry-run=server: the API server's answers, asked before the plan is printed (its
        // machine-readable form carries them); none for a plan refused anyway.
        let server_check = ServerCheck::of(self.kube, Mode::from_dry_run(self.args.dry_run));
        let server = match &server_check {
            Some(check) if plan.blocking.is_empty() && downtime.is_none() => {
                Some(self.server_dry_run(check, &sts, &plan).await?)
            }
            _ => None,
        };
        // A refused run says one line; its plan is printed only when asked for (--dry-run).
        if !events && (plan.blocking.is_empty() || self.args.dry_run.is_dry()) {
            rendered(render_plan(
                &mut self.io.out,
                &plan,
                server.as_ref(),
                self.args.output,
                self.term.canvas(),
            ))?;
        }
        for warning in &plan.warnings {
            self.io.warn(warning);
        }
        if let Some((first, rest)) = plan.blocking.split_first() {
            for other in rest {
                self.io.say(format_args!("also: {other}"));
            }
            return Err(first.clone().into());
        }
        let Some(writer) = writer else {
            if !machine {
                self.io.say("dry run: nothing was changed");
            }
            if let Some(server) = server {
                for line in server.lines() {
                    self.io.say(line);
                }
                return server.ending();
            }
            if let (Some(_), Some(downtime)) = (server_check, downtime) {
                return Err(downtime.into());
            }
            return Ok(());
        };
        if let Some(downtime) = downtime {
            return Err(downtime.into());
        }
        self.term.require_consent(self.args.yes, "resize")?;
        let sizes =
            plan.templates.iter().map(|t| format!("{}={}", t.name, t.to)).collect::<Vec<_>>().join(", ");
        let question = match plan.swaps() {
            true => format!(
                "Grow {} PVC(s) of {} and re-create the StatefulSet with {sizes}?",
                plan.to_grow().count(),
                plan.stateful_set
            ),
            false => format!(
                "Grow {} PVC(s) of {} to its template's {sizes}?",
                plan.to_grow().count(),
                plan.stateful_set
            ),
        };
        if !self.term.confirm(self.args.yes, &question)? {
            self.io.say("not confirmed: nothing was changed");
            return Ok(());
        }
        self.require_permissions(&plan).await?;
        if events {
            self.emit(
                Event::Plan { plan: &plan },
                format_args!("plan: {} PVC(s) to grow", plan.to_grow().count()),
            );
        }
        // Every wait of the run watches the StatefulSet (by name: the old object, then the
        // re-created one), its pods and the namespace's claims.
        let mut waiter = self.waiter(&sts).await?;
        let pending_mount = self.grow(&writer, &mut waiter, &plan).await?;
        self.restart_for_filesystems(&writer, &mut waiter, &plan, &pending_mount).await?;
        if !plan.swaps() {
            self.emit(
                Event::Finished,
                format_args!(
                    "done: the claims smaller than their template grew; {} already asked for that size, so it was not \
                     re-created",
                    plan.stateful_set
                ),
            );
            return Ok(());
        }
        self.swap(&writer, &mut waiter, &sts, &plan.sizes()).await
    }

    /// `--dry-run=server`: the writes of the plan in order, those that can be judged now sent
    /// with `dryRun=All`: the canary claim's patch; each later batch grows once the one before
    /// has, and the swap (its journal ConfigMap, the orphaning delete, the re-create) once the
    /// last has: not checked. A plan with no claim to grow checks the swap's journal and delete;
    /// its re-create waits for the delete. The restarts a claim's filesystem may need are not
    /// listed (they depend on how it grows).
    async fn server_dry_run(
        &self,
        check: &ServerCheck,
        sts: &StatefulSet,
        plan: &ResizePlan,
    ) -> Result<ServerDryRun> {
        let claims: Api<PersistentVolumeClaim> = self.kube.api_in(&self.namespace);
        let mut run = ServerDryRun::default();
        let mut before: Option<usize> = None;
        for batch in plan.batches(usize::from(self.args.parallel)) {
            let mut last = before;
            for claim in batch.iter().filter(|c| c.action == Action::Grow) {
                let what = format!("grow PVC {}/{} to {}", self.namespace, claim.name, claim.target);
                let answer = match before {
                    Some(step) => ServerAnswer::NotChecked { depends_on: step },
                    None => {
                        let patch = patches::grow_claim(&claim.uid, claim.request.as_deref(), &claim.target);
                        ServerAnswer::of_written(check.patch(&claims, &claim.name, &patch, &what).await)
                    }
                };
                last = Some(run.add(what, answer));
            }
            before = last;
        }
        if !plan.swaps() {
            return Ok(run);
        }
        let name = plan.stateful_set.as_str();
        let cm_name = journal_name(name);
        let sizes =
            plan.templates.iter().map(|t| format!("{}={}", t.name, t.to)).collect::<Vec<_>>().join(", ");
        let journal = format!("write the journal ConfigMap {}/{cm_name}", self.namespace);
        let delete = format!("delete StatefulSet {}/{name} (orphaning its pods and PVCs)", self.namespace);
        let create = format!("re-create StatefulSet {}/{name} with {sizes}", self.namespace);
        if let Some(step) = before {
            let journal = run.add(journal, ServerAnswer::NotChecked { depends_on: step });
            let delete = run.add(delete, ServerAnswer::NotChecked { depends_on: journal });
            run.add(create, ServerAnswer::NotChecked { depends_on: delete });
            return Ok(run);
        }
        let scope = fetch::Scope::Namespace(self.namespace.clone());
        let (pvcs, pods) = futures::try_join!(
            fetch::list::<PersistentVolumeClaim>(&self.kube.client, &scope, None),
            fetch::list::<Pod>(&self.kube.client, &scope, None)
        )?;
        let cm = journal_config_map(&cm_name, &SwapJournal::of(sts, &plan.sizes(), &pods, &pvcs));
        let configmaps: Api<ConfigMap> = self.kube.api_in(&self.namespace);
        let answer = ServerAnswer::of_written(check.create(&configmaps, &cm, &journal).await);
        run.add(journal, answer);
        let statefulsets: Api<StatefulSet> = self.kube.api_in(&self.namespace);
        let orphan = Deletion { orphan: true, ..Deletion::default() };
        let deleted = check.delete(&statefulsets, name, Guard::exact(sts), orphan, &delete).await;
        let delete = run.add(delete, ServerAnswer::of_deleted(deleted));
        run.add(create, ServerAnswer::NotChecked { depends_on: delete });
        Ok(run)
    }

    /// The StatefulSet the journal records (the rewrite of the object as read before the swap).
    fn recorded(&self, journal: &SwapJournal, cm_name: &str) -> Result<StatefulSet> {
        serde_json::from_value(journal.statefulset.clone()).map_err(|e| {
            Stop::SwapJournalUnreadable {
                config_map: cm_name.to_owned(),
                error: Some(e.to_string()),
                name: self.args.name.clone(),
                check: self.check_statefulset(),
            }
            .into()
        })
    }

    async fn waiter(&self, sts: &StatefulSet) -> Result<Waiter> {
        let kinds = Kinds { claims: true, ..Kinds::default() };
        Waiter::start(self.kube, sts, kinds, self.request_timeout).await
    }

    async fn require_permissions(&self, plan: &ResizePlan) -> Result<()> {
        let ns = Some(plan.namespace.as_str());
        let p =
            |verb, group, resource| Permission { verb, group, resource, namespace: ns, subresource: None };
        let mut needed = vec![
            p("create", "", "configmaps"),
            p("delete", "", "configmaps"),
            p("delete", "apps", "statefulsets"),
            p("create", "apps", "statefulsets"),
            // What every wait of the run watches.
            p("watch", "apps", "statefulsets"),
            p("watch", "", "pods"),
            p("watch", "", "persistentvolumeclaims"),
        ];
        if plan.to_grow().next().is_some() {
            needed.push(p("patch", "", "persistentvolumeclaims"));
        }
        // A mounted claim's filesystem may grow only at its pod's next start: the restart is an
        // eviction (its budgets answer).
        if restarts_possible(plan) {
            needed.push(Permission {
                verb: "create",
                group: "",
                resource: "pods",
                namespace: ns,
                subresource: Some("eviction"),
            });
        }
        access::require(self.kube, &needed, "nothing was changed").await
    }

    /// Grows the claims: the first (highest ordinal) alone as the canary, then the rest
    /// `--parallel` at a time. Returns the claims left `FileSystemResizePending`.
    async fn grow(
        &mut self,
        writer: &Writer,
        waiter: &mut Waiter,
        plan: &ResizePlan,
    ) -> Result<Vec<ClaimPlan>> {
        let todo = plan.unfinished().count();
        let mut pending_mount = Vec::new();
        let mut done = 0usize;
        for (i, batch) in plan.batches(usize::from(self.args.parallel)).into_iter().enumerate() {
            if crate::signal::is_interrupted() {
                return Err(Error::interrupted(
                    format!("{done} of {todo} PVC(s) grown; the StatefulSet is unchanged"),
                    Some(self.again("to continue")),
                ));
            }
            for claim in &batch {
                if claim.action == Action::Grow {
                    self.patch_claim(writer, claim).await?;
                }
            }
            let words = Said {
                left: format!(
                    "{done} of {todo} PVC(s) grown, {} requested and growing; the StatefulSet is unchanged",
                    batch.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
                resume: self.again("to continue"),
            };
            let states = self.wait_claims(waiter, &batch, false, &words).await?;
            for (claim, state) in batch.iter().zip(states) {
                match state {
                    ClaimState::Grown => {
                        done += 1;
                        self.emit(
                            Event::ClaimGrown { claim: &claim.name, capacity: claim.target.clone() },
                            format_args!(
                                "PVC {} grown to {}{}",
                                claim.name,
                                claim.target,
                                if i == 0 { " (canary)" } else { "" }
                            ),
                        );
                    }
                    ClaimState::FilesystemPending if claim.mounted_by.is_some() => {
                        pending_mount.push((*claim).clone())
                    }
                    ClaimState::FilesystemPending => {
                        done += 1;
                        self.emit(
                            Event::ClaimPendingMount { claim: &claim.name },
                            format_args!(
                                "PVC {} expanded; its filesystem grows to {} when a pod next mounts it (no pod does now)",
                                claim.name, claim.target
                            ),
                        );
                    }
                    ClaimState::Failed(condition) => {
                        return Err(Stop::ClaimFailed {
                            claim: claim.name.clone(),
                            target: claim.target.clone(),
                            condition,
                            grown: done,
                            recovery: recovery_hint(
                                &self.kube.flags,
                                &self.namespace,
                                &claim.name,
                                claim.capacity.as_deref(),
                            ),
                        }
                        .into());
                    }
                    ClaimState::InUse(condition) => {
                        return Err(Stop::ClaimInUse {
                            claim: claim.name.clone(),
                            pod: or_dash(claim.mounted_by.as_deref()),
                            condition,
                        }
                        .into());
                    }
                    ClaimState::Expanding => {
                        return Err(Stop::ClaimStillExpanding { claim: claim.name.clone() }.into());
                    }
                }
            }
        }
        Ok(pending_mount)
    }

    async fn patch_claim(&mut self, writer: &Writer, claim: &ClaimPlan) -> Result<()> {
        let api: Api<PersistentVolumeClaim> = self.kube.api_in(&self.namespace);
        let patch = patches::grow_claim(&claim.uid, claim.request.as_deref(), &claim.target);
        match writer.patch(&api, &claim.name, &patch, &format!("grow PVC {}", claim.name)).await? {
            Written::Done(_) => {}
            Written::Changed(_) | Written::Gone => {
                return Err(Stop::ClaimChanged { claim: claim.name.clone() }.into());
            }
        }
        self.emit(
            Event::ClaimPatched { claim: &claim.name, size: &claim.target },
            format_args!(
                "PVC {}: requested {} (was {})",
                claim.name,
                claim.target,
                or_dash(claim.request.as_deref())
            ),
        );
        Ok(())
    }

    /// Waits until each of `claims` is grown or reports a resize condition that stops the wait.
    /// With `mounted`, their pod has just mounted them again: `FileSystemResizePending` is then
    /// what is being waited out, not an answer.
    async fn wait_claims(
        &self,
        waiter: &mut Waiter,
        claims: &[&ClaimPlan],
        mounted: bool,
        words: &dyn Words,
    ) -> Result<Vec<ClaimState>> {
        let settled = |state: &ClaimState| match state {
            ClaimState::Expanding => false,
            ClaimState::FilesystemPending => !mounted,
            _ => true,
        };
        let state_of = |view: &View, claim: &ClaimPlan| {
            view.claims.iter().find(|p| p.name_any() == claim.name).map(|pvc| claim_state(pvc, &claim.target))
        };
        let until = Until { deadline: deadline(self.args.timeout), words, ours: None };
        let state = |view: &View| {
            let waiting: Vec<&str> = claims
                .iter()
                .filter(|c| state_of(view, c).is_none_or(|s| !settled(&s)))
                .map(|c| c.name.as_str())
                .collect();
            format!(
                "{} of {} done; {} not yet",
                claims.len() - waiting.len(),
                claims.len(),
                waiting.join(", ")
            )
        };
        let what = match claims {
            [claim] => format!("PVC {} to grow to {}", claim.name, claim.target),
            _ => format!("{} PVCs to grow", claims.len()),
        };
        let shown = Shown { term: self.term, err: self.io.err_stream(), what, state: &state };
        let (_, states) = waiter
            .until_shown(
                until,
                shown,
                |view, _| {
                    let mut states = Vec::new();
                    for claim in claims {
                        match state_of(view, claim) {
                            None => {
                                return Err(Stop::ClaimDeleted { claim: claim.name.clone() }.into());
                            }
                            Some(state) if !settled(&state) => return Ok(Wake::Wait),
                            Some(state) => states.push(state),
                        }
                    }
                    Ok(Wake::Done(states))
                },
                |view| {
                    let late = claims.iter().find(|c| state_of(view, c).is_none_or(|s| !settled(&s)));
                    Err(Stop::ClaimTimedOut {
                        claim: late.map_or("?", |c| c.name.as_str()).to_owned(),
                        target: late.map_or("its size", |c| c.target.as_str()).to_owned(),
                        within: humantime::format_duration(self.args.timeout).to_string(),
                        describe: self.kubectl(&format!(
                            "describe pvc {}",
                            shell_word(late.map_or("?", |c| c.name.as_str()))
                        )),
                    }
                    .into())
                },
            )
            .await?;
        Ok(states)
    }

    /// Waits up to `wait` for the kubelet to grow `claims` while their pods run; the names of
    /// those grown (the others are left to a restart).
    async fn wait_online(
        &self,
        waiter: &mut Waiter,
        claims: &[&ClaimPlan],
        wait: Duration,
    ) -> Result<Vec<String>> {
        let words = Said {
            left:
                "claims requested and expanded, filesystems not all grown yet; the StatefulSet is unchanged"
                    .to_owned(),
            resume: self.again("to continue"),
        };
        let grown = |view: &View| -> Vec<String> {
            claims
                .iter()
                .filter(|c| {
                    view.claims
                        .iter()
                        .any(|p| p.name_any() == c.name && claim_state(p, &c.target) == ClaimState::Grown)
                })
                .map(|c| c.name.clone())
                .collect()
        };
        let until = Until { deadline: deadline(wait), words: &words, ours: None };
        let state = |view: &View| format!("{} of {} grown", grown(view).len(), claims.len());
        let what = "the kubelet to grow the filesystems online".to_owned();
        let shown = Shown { term: self.term, err: self.io.err_stream(), what, state: &state };
        let (_, names) = waiter
            .until_shown(
                until,
                shown,
                |view, _| {
                    let names = grown(view);
                    Ok(if names.len() == claims.len() { Wake::Done(names) } else { Wake::Wait })
                },
                |view| Ok(grown(view)),
            )
            .await?;
        Ok(names)
    }

    /// Evicts `pod` (guarded by its uid) for its restart once the other members of the set are
    /// Ready, but those in `waiting` ([`resize::restart_held`]); the budgets over it are the API
    /// server's to judge, and a refused eviction is tried again every [`EVICTION_RETRY`]. Each
    /// wait lasts until `--timeout` at most, then the run stops (exit 3) with the same command
    /// and the restart by hand.
    async fn evict_when_allowed(
        &mut self,
        writer: &Writer,
        waiter: &mut Waiter,
        pod: &Pod,
        members: &[String],
        waiting: &[&str],
    ) -> Result<()> {
        let name = pod.name_any();
        let until = deadline(self.args.timeout);
        let words = Said {
            left: format!("pod {name} was not restarted; the StatefulSet is unchanged"),
            resume: self.again("to continue"),
        };
        let by_hand = self.kube.flags.kubectl(&self.namespace, &format!("delete pod {}", shell_word(&name)));
        let (within, resume) =
            (humantime::format_duration(self.args.timeout).to_string(), self.again("once it may"));
        let held = |hold: RestartHold| -> Error {
            Stop::RestartHeld {
                pod: name.clone(),
                hold,
                within: within.clone(),
                resume: resume.clone(),
                by_hand: by_hand.clone(),
            }
            .into()
        };
        // Said once per hold (compared as holds, not as their words).
        let mut said: Option<RestartHold> = None;
        // One progress over the hold and the refused evictions: one line per change of why.
        let mut progress = Progress::start(
            self.term,
            self.io.err_stream(),
            format!("pod {name} to be allowed to restart"),
            until,
        );
        loop {
            if let Some(hold) = resize::restart_held(&name, members, &waiter.view().pods, waiting) {
                if said.as_ref() != Some(&hold) {
                    self.emit(
                        Event::RestartHeld { pod: &name, hold: &hold },
                        format_args!("pod {name} waits for its restart: {hold}"),
                    );
                    said = Some(hold);
                }
                let how = Until { deadline: until, words: &words, ours: None };
                let state = |view: &View| {
                    Showing::from(
                        resize::restart_held(&name, members, &view.pods, waiting)
                            .map_or_else(|| "allowed".to_owned(), |h| h.to_string()),
                    )
                };
                waiter
                    .until_progress(
                        how,
                        &mut progress,
                        &state,
                        |view, _| {
                            Ok(match resize::restart_held(&name, members, &view.pods, waiting) {
                                None => Wake::Done(()),
                                Some(_) => Wake::Wait,
                            })
                        },
                        |view| {
                            let hold = resize::restart_held(&name, members, &view.pods, waiting)
                                .unwrap_or(RestartHold::MembersDown { pods: Vec::new() });
                            Err(held(hold))
                        },
                    )
                    .await?;
            }
            let what = format!("evict pod {name} for its restart");
            let refused = match writer.evict(pod, &what).await? {
                // Gone or replaced already: its successor is waited for all the same.
                Evicted::Done | Evicted::Gone | Evicted::Changed => return Ok(()),
                Evicted::Refused(refused) => {
                    RestartHold::EvictionRefused { budgets: refused.budgets, message: refused.message }
                }
            };
            if said.as_ref() != Some(&refused) {
                self.emit(
                    Event::RestartHeld { pod: &name, hold: &refused },
                    format_args!("pod {name} waits for its restart: {refused}"),
                );
                said = Some(refused.clone());
            }
            if tokio::time::Instant::now() >= until {
                return Err(held(refused));
            }
            // Tried again after a pause that a signal ends like any wait of the run.
            let pause = Until {
                deadline: (tokio::time::Instant::now() + EVICTION_RETRY).min(until),
                words: &words,
                ours: None,
            };
            let state = |_: &View| Showing::from(format!("eviction refused: {refused}"));
            waiter.until_progress(pause, &mut progress, &state, |_, _| Ok(Wake::Wait), |_| Ok(())).await?;
        }
    }

    /// Restarts, one at a time and highest ordinal first, the pods whose claims wait for a
    /// mount to grow their filesystem (after waiting for the kubelet to grow those of online
    /// classes, [`resize::ONLINE_GROWTH_WAIT`]); each is waited for until Ready, and its claim
    /// until grown.
    async fn restart_for_filesystems(
        &mut self,
        writer: &Writer,
        waiter: &mut Waiter,
        plan: &ResizePlan,
        pending: &[ClaimPlan],
    ) -> Result<()> {
        // The kubelet grows a mounted filesystem online when it next syncs the pod: that is
        // waited for first, and only the pods of claims it did not grow are restarted.
        let online: Vec<&ClaimPlan> = pending.iter().filter(|c| resize::kubelet_grows_online(c)).collect();
        let mut left: Vec<ClaimPlan> = pending.to_vec();
        if !online.is_empty() {
            let wait = resize::online_growth_wait(self.args.timeout);
            let names: Vec<&str> = online.iter().map(|c| c.name.as_str()).collect();
            self.emit_for_machines(Event::KubeletWait { claims: &names, up_to_seconds: wait.as_secs() });
            self.io.say(format_args!(
                "{} PVC(s) wait for their filesystem to grow (FileSystemResizePending): waiting up to {} for the kubelet to grow them online, before restarting any pod: {}",
                online.len(),
                humantime::format_duration(wait),
                online.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
            ));
            let grown = self.wait_online(waiter, &online, wait).await?;
            for claim in &online {
                if grown.contains(&claim.name) {
                    self.emit(
                        Event::ClaimGrown { claim: &claim.name, capacity: claim.target.clone() },
                        format_args!(
                            "PVC {} grown to {} online (its pod kept running)",
                            claim.name, claim.target
                        ),
                    );
                }
            }
            left.retain(|c| !grown.contains(&c.name));
        }
        let pending = left.as_slice();
        let pods = resize::restart_order(pending);
        if pods.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = pods.iter().map(|(_, p)| p.as_str()).collect();
        self.io.say(format_args!(
            "{} PVC(s) finish growing only when their pod mounts them again (FileSystemResizePending): {}",
            pending.len(),
            names.join(", ")
        ));
        let question = format!("Restart {} one at a time, each waited for until Ready?", names.join(", "));
        if !self.term.confirm(self.args.yes, &question)? {
            return Err(
                Stop::RestartNotConfirmed { pods: names.iter().map(|n| (*n).to_owned()).collect() }.into()
            );
        }
        let api: Api<Pod> = self.kube.api_in(&plan.namespace);
        let members = plan.members();
        // Those that wait for a restart of their own do not hold each other.
        let waiting: Vec<&str> = names.clone();
        for (_, name) in &pods {
            if crate::signal::is_interrupted() {
                return Err(Error::interrupted(
                    "the StatefulSet is unchanged",
                    Some(self.again("to continue")),
                ));
            }
            let pod = api.get_opt(name).await.map_err(Error::kube(format!("read pod {name}")))?;
            let step = resize::restart_step(pod.as_ref());
            match (&step, &pod) {
                (RestartStep::Evict { .. }, Some(pod)) => {
                    self.evict_when_allowed(writer, waiter, pod, &members, &waiting).await?;
                }
                (RestartStep::Successor { .. }, _) => {
                    self.io.say(format_args!("pod {name} is being deleted already: its successor is waited for"));
                }
                _ => self.io.say(format_args!(
                    "member {name} has no pod: the one the controller creates mounts its PVC, so it is waited for"
                )),
            }
            let uid = step.old_uid().to_owned();
            let words = Said {
                left: format!("pod {name} was evicted for its restart; the StatefulSet is unchanged"),
                resume: self.again("once it is Ready, to finish"),
            };
            let until = Until { deadline: deadline(self.args.timeout), words: &words, ours: None };
            let timeout = self.args.timeout;
            let state = |view: &View| {
                view.pods
                    .iter()
                    .find(|p| p.name_any() == *name && p.uid().as_deref() != Some(uid.as_str()))
                    .map_or_else(|| "not created yet".to_owned(), pod_status_text)
            };
            let what = match step {
                RestartStep::NoPod => format!("pod {name} to be created and Ready"),
                _ => format!("pod {name} to be Ready again"),
            };
            let shown = Shown { term: self.term, err: self.io.err_stream(), what, state: &state };
            waiter
                .until_shown(
                    until,
                    shown,
                    |view, _| {
                        let back = view.pods.iter().any(|p| {
                            p.name_any() == *name && p.uid().as_deref() != Some(uid.as_str()) && pod_ready(p)
                        });
                        Ok(if back { Wake::Done(()) } else { Wake::Wait })
                    },
                    |_| {
                        Err(Stop::PodNotBack {
                            pod: name.clone(),
                            within: humantime::format_duration(timeout).to_string(),
                        }
                        .into())
                    },
                )
                .await?;
            self.emit(Event::PodRestarted { pod: name }, format_args!("pod {name} restarted and Ready"));
            let mounted: Vec<&ClaimPlan> =
                pending.iter().filter(|c| c.mounted_by.as_deref() == Some(name)).collect();
            let states = self.wait_claims(waiter, &mounted, true, &words).await?;
            for (claim, state) in mounted.into_iter().zip(states) {
                match state {
                    ClaimState::Grown => self.emit(
                        Event::ClaimGrown { claim: &claim.name, capacity: claim.target.clone() },
                        format_args!("PVC {} grown to {}", claim.name, claim.target),
                    ),
                    other => {
                        return Err(Stop::ClaimNotGrownAfterRestart {
                            claim: claim.name.clone(),
                            pod: name.clone(),
                            state: format!("{other:?}"),
                            recovery: recovery_hint(
                                &self.kube.flags,
                                &self.namespace,
                                &claim.name,
                                claim.capacity.as_deref(),
                            ),
                        }
                        .into());
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes the journal, deletes the StatefulSet (orphan), re-creates it, verifies adoption.
    async fn swap(
        &mut self,
        writer: &Writer,
        waiter: &mut Waiter,
        planned: &StatefulSet,
        sizes: &BTreeMap<String, String>,
    ) -> Result<()> {
        let statefulsets: Api<StatefulSet> = self.kube.api_in(&self.namespace);
        let name = self.args.name.clone();
        let sts = statefulsets.get(&name).await.map_err(Error::kube(format!("read StatefulSet {name}")))?;
        if sts.uid() != planned.uid() || sts.metadata.generation != planned.metadata.generation {
            return Err(Stop::ChangedWhileGrowing { name }.into());
        }
        let scope = fetch::Scope::Namespace(self.namespace.clone());
        let (pvcs, pods) = futures::try_join!(
            fetch::list::<PersistentVolumeClaim>(&self.kube.client, &scope, None),
            fetch::list::<Pod>(&self.kube.client, &scope, None)
        )?;
        let journal = SwapJournal::of(&sts, sizes, &pods, &pvcs);
        let configmaps: Api<ConfigMap> = self.kube.api_in(&self.namespace);
        let cm_name = journal_name(&name);
        let cm = journal_config_map(&cm_name, &journal);
        let cm =
            match writer.create(&configmaps, &cm, &format!("write the journal ConfigMap {cm_name}")).await? {
                Written::Done(cm) => cm,
                Written::Changed(_) => {
                    return Err(Stop::SwapJournalExists { config_map: cm_name, name }.into());
                }
                Written::Gone => return Err(Error::NamespaceNotFound(self.namespace.clone())),
            };
        self.emit(
            Event::JournalWritten { config_map: &cm_name },
            format_args!("journal written: ConfigMap {cm_name}"),
        );
        // From here on the next run of the same command finishes the swap. The delete is of the
        // object the journal records, exactly (uid and resourceVersion): a change since (a
        // scale, a label) would be undone by re-creating the journal's copy. The controller's
        // status updates move the resourceVersion too and change nothing the journal holds, so
        // the delete is tried again on the object as read anew while its rewrite is the journal's.
        crate::seam::pause("swap-delete").await;
        let what = format!("delete StatefulSet {name} (orphaning its pods and PVCs)");
        let orphan = Deletion { orphan: true, ..Deletion::default() };
        let mut current = sts;
        let mut tries = 0;
        let refused = loop {
            tries += 1;
            match writer.delete(&statefulsets, &name, Guard::exact(&current), orphan, &what).await {
                Ok(Deleted::Done) => break None,
                Ok(Deleted::Changed(Changed { now: Some(now) }))
                    if tries < 5
                        && now.uid() == current.uid()
                        && resize::rewrite(&now, sizes) == resize::rewrite(&current, sizes) =>
                {
                    current = now;
                }
                Ok(Deleted::Changed(changed)) => {
                    let by = changed.by().map_or_else(|| "someone".to_owned(), |m| m.describe());
                    break Some(Stop::ChangedBeforeSwap { name: name.clone(), by }.into());
                }
                Ok(Deleted::Gone) => {
                    break Some(Stop::DeletedBeforeSwap { name: name.clone() }.into());
                }
                // No answer: the delete may have happened, and the journal is what finishes it.
                Err(error @ Error::Unanswered { .. }) => return Err(error),
                Err(error) => break Some(error),
            }
        };
        if let Some(error) = refused {
            // Not deleted: the journal must not outlive a swap that did not start.
            let what = format!("delete the journal ConfigMap {cm_name}");
            let _ = writer.delete(&configmaps, &cm_name, Guard::exact(&cm), Deletion::default(), &what).await;
            return Err(error);
        }
        self.emit(
            Event::StatefulSetDeleted { uid: &journal.uid },
            format_args!("statefulset {name} deleted with propagationPolicy Orphan (pods and PVCs kept)"),
        );
        self.recreate_and_verify(writer, waiter, &journal, &cm, false).await
    }

    /// The half-done swap of `journal` as every command reports it.
    async fn mid_swap(&self, journal: &SwapJournal, cm: &ConfigMap) -> Result<MidSwap> {
        let statefulsets: Api<StatefulSet> = self.kube.api_in(&self.namespace);
        let name = &self.args.name;
        let now =
            statefulsets.get_opt(name).await.map_err(Error::kube(format!("read StatefulSet {name}")))?;
        let pods =
            fetch::list::<Pod>(&self.kube.client, &fetch::Scope::Namespace(self.namespace.clone()), None)
                .await?;
        let since = cm.metadata.creation_timestamp.as_ref().map(|t| t.0);
        Ok(MidSwap::of(journal, &self.namespace, since, now.as_ref(), &pods, &self.kube.flags))
    }

    /// A StatefulSet of the swap's name that this command did not create: with `--undo` it is
    /// kept and the journal dropped; otherwise the swap stops, leaving both.
    async fn preempted(
        &mut self,
        writer: &Writer,
        journal: &SwapJournal,
        cm: &ConfigMap,
        existing: &StatefulSet,
        undo: bool,
    ) -> Result<()> {
        let name = self.args.name.clone();
        let by = last_writer(&existing.metadata).map_or_else(|| "someone else".to_owned(), |m| m.describe());
        let sizes = |m: &BTreeMap<String, String>| {
            m.iter().map(|(t, s)| format!("{t}={s}")).collect::<Vec<_>>().join(", ")
        };
        if undo {
            self.drop_journal(writer, cm).await?;
            self.io.say(format_args!(
                "kept {name} as {by} re-created it ({}); the swap's journal ConfigMap {} is removed",
                sizes(&resize::template_sizes(existing)),
                cm.name_any()
            ));
            return Ok(());
        }
        let mid = self.mid_swap(journal, cm).await?;
        let wanted: BTreeMap<String, String> = journal.sizes.clone();
        let there: BTreeMap<String, String> =
            resize::template_sizes(existing).into_iter().filter(|(t, _)| wanted.contains_key(t)).collect();
        Err(Stop::SwapPreempted { name, by, there: sizes(&there), wanted: sizes(&wanted), undo: mid.undo }
            .into())
    }

    async fn drop_journal(&self, writer: &Writer, cm: &ConfigMap) -> Result<()> {
        let configmaps: Api<ConfigMap> = self.kube.api_in(&self.namespace);
        let cm_name = cm.name_any();
        let what = format!("delete the journal ConfigMap {cm_name}");
        match writer.delete(&configmaps, &cm_name, Guard::exact(cm), Deletion::default(), &what).await? {
            Deleted::Changed(_) => Err(Stop::SwapJournalChangedAfter {
                name: self.args.name.clone(),
                check: self.kubectl(&format!("get configmap {} -o yaml", shell_word(&cm_name))),
                config_map: cm_name,
            }
            .into()),
            Deleted::Done | Deleted::Gone => Ok(()),
        }
    }

    /// The end of a swap, from the journal: wait for the old object to go, create the new one
    /// (or with `undo`, the old template again) unless this command created it already, give it
    /// the old object's managed fields, verify adoption, give back the claims' owner
    /// references, drop the journal. A StatefulSet of that name that someone else created is
    /// never taken for the swap's result.
    async fn recreate_and_verify(
        &mut self,
        writer: &Writer,
        waiter: &mut Waiter,
        journal: &SwapJournal,
        cm: &ConfigMap,
        undo: bool,
    ) -> Result<()> {
        let statefulsets: Api<StatefulSet> = self.kube.api_in(&self.namespace);
        let name = self.args.name.clone();
        let cm_name = journal_name(&name);
        let mid = self.mid_swap(journal, cm).await?;
        let resume = format!("finish with `{}`, or undo with `{}`", mid.finish, mid.undo);
        let words = Said {
            left: format!(
                "{name} is deleted or being deleted; its pods and PVCs are kept, with no controller"
            ),
            resume: resume.clone(),
        };
        let until = Until { deadline: deadline(self.args.timeout), words: &words, ours: None };
        let old = journal.uid.as_str();
        let gone = |view: &View| view.sts.as_ref().is_none_or(|s| s.uid().as_deref() != Some(old));
        let state = |view: &View| match &view.sts {
            Some(sts) if sts.uid().as_deref() == Some(old) => resize::old_set_state(sts),
            _ => "gone".to_owned(),
        };
        let shown = Shown {
            term: self.term,
            err: self.io.err_stream(),
            what: format!("the old StatefulSet {name} to be gone"),
            state: &state,
        };
        let (_, gone) = waiter
            .until_shown(
                until,
                shown,
                |view, _| Ok(if gone(view) { Wake::Done(true) } else { Wake::Wait }),
                |_| Ok(false),
            )
            .await?;
        if !gone {
            return Err(Error::Stranded {
                error: Box::new(Stop::OldStillDeleting { name: name.clone() }.into()),
                left: "its pods and PVCs are kept".to_owned(),
                resume,
            });
        }
        let current =
            statefulsets.get_opt(&name).await.map_err(Error::kube(format!("read StatefulSet {name}")))?;
        let ours = |existing: &StatefulSet| resize::created_by_swap(journal, existing);
        let created = match current {
            Some(existing) if !ours(&existing) => {
                return self.preempted(writer, journal, cm, &existing, undo).await;
            }
            Some(existing) => existing,
            None => {
                let object = match journal.object(undo) {
                    Some(object) => object,
                    None if undo => {
                        return Err(Stop::UndoUnknown { config_map: cm_name, finish: mid.finish }.into());
                    }
                    None => {
                        return Err(Stop::SwapJournalUnreadable {
                            config_map: cm_name,
                            error: None,
                            name,
                            check: self.check_statefulset(),
                        }
                        .into());
                    }
                };
                let stranded = |error: Error| Error::Stranded {
                    error: Box::new(error),
                    left: format!("{name} is deleted; its pods and PVCs are kept, with no controller"),
                    resume: resume.clone(),
                };
                crate::seam::pause("swap-create").await;
                match writer.create(&statefulsets, &object, &format!("re-create StatefulSet {name}")).await {
                    Ok(Written::Done(created)) => created,
                    // Another run of this command created it meanwhile: it is the swap's.
                    Ok(Written::Changed(Changed { now: Some(existing) })) if ours(&existing) => existing,
                    // Someone else did (a GitOps self-heal, an operator, a person).
                    Ok(Written::Changed(Changed { now: Some(existing) })) => {
                        return self.preempted(writer, journal, cm, &existing, undo).await;
                    }
                    Ok(Written::Changed(Changed { now: None }) | Written::Gone) => {
                        return Err(stranded(Stop::NotRecreated { name: name.clone() }.into()));
                    }
                    Err(e) => return Err(stranded(e)),
                }
            }
        };
        let sizes = resize::template_sizes(&created);
        if undo && journal.sizes.iter().all(|(t, s)| sizes.get(t) == Some(s)) && journal.sizes != journal.from
        {
            return Err(Stop::UndoTooLate { name, finish: mid.finish }.into());
        }
        let created = self.restore_managers(writer, journal, created).await?;
        let uid = created.uid().unwrap_or_default();
        self.emit(
            Event::StatefulSetCreated { uid: &uid },
            format_args!(
                "statefulset {name} re-created with {}",
                sizes
                    .iter()
                    .filter(|(t, _)| journal.sizes.contains_key(*t))
                    .map(|(t, s)| format!("{t}={s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        let words = Said {
            left: format!("{name} is re-created; the controller is adopting its pods and PVCs"),
            resume: resume.clone(),
        };
        let kept = self.verify(waiter, &words, journal, &created).await?;
        let owned = self.own_claims(writer, journal, &created).await?;
        self.drop_journal(writer, cm).await?;
        if let Err(problems) = kept {
            return Err(Stop::AdoptionBroken { name, problems }.into());
        }
        self.emit(
            Event::Finished,
            format_args!(
                "done: {name} adopted its pods and PVCs{}; journal removed",
                if owned > 0 {
                    format!(" ({owned} PVC(s) of scaled-down ordinals owned by it again)")
                } else {
                    String::new()
                }
            ),
        );
        Ok(())
    }

    /// Gives the re-created StatefulSet the managed fields of the object it replaced, tried
    /// again while only the controller's status updates move it.
    async fn restore_managers(
        &mut self,
        writer: &Writer,
        journal: &SwapJournal,
        mut created: StatefulSet,
    ) -> Result<StatefulSet> {
        let statefulsets: Api<StatefulSet> = self.kube.api_in(&self.namespace);
        let name = self.args.name.clone();
        for _ in 0..10 {
            let Some(patch) = resize::restore_managers(journal, &created) else { return Ok(created) };
            let what = format!("give {name} the managed fields of the object it replaced");
            match writer.patch(&statefulsets, &name, &patch, &what).await? {
                Written::Done(now) => return Ok(now),
                Written::Changed(Changed { now: Some(now) }) if now.uid() == created.uid() => created = now,
                Written::Changed(_) | Written::Gone => {
                    return Err(Stop::NotRecreated { name }.into());
                }
            }
        }
        self.io.warn(format_args!(
            "{name} kept changing: its managed fields are this command's, not those of the object it replaced"
        ));
        Ok(created)
    }

    /// Gives back the ownerReference of the claims of scaled-down ordinals (`whenDeleted:
    /// Delete`) that the orphan delete dropped. Returns how many.
    async fn own_claims(
        &mut self,
        writer: &Writer,
        journal: &SwapJournal,
        created: &StatefulSet,
    ) -> Result<usize> {
        let api: Api<PersistentVolumeClaim> = self.kube.api_in(&self.namespace);
        let scope = fetch::Scope::Namespace(self.namespace.clone());
        let mut owned = 0;
        for _ in 0..5 {
            let pvcs = fetch::list::<PersistentVolumeClaim>(&self.kube.client, &scope, None).await?;
            let todo = resize::claims_to_own(journal, created, &pvcs);
            if todo.is_empty() {
                return Ok(owned);
            }
            for (claim, patch) in todo {
                let what = format!("give PVC {claim} its owner reference to {}", self.args.name);
                if let Written::Done(_) = writer.patch(&api, &claim, &patch, &what).await? {
                    owned += 1;
                }
            }
        }
        Ok(owned)
    }

    /// Waits until the controller has adopted every pod and claim of the journal. `Err` holds
    /// what was not kept (the swap is over all the same).
    async fn verify(
        &mut self,
        waiter: &mut Waiter,
        words: &dyn Words,
        journal: &SwapJournal,
        created: &StatefulSet,
    ) -> Result<std::result::Result<(), Vec<String>>> {
        let name = self.args.name.clone();
        let timeout = self.args.timeout;
        let until = Until { deadline: deadline(timeout), words, ours: None };
        let state = |view: &View| match resize::adoption(journal, created, &view.pods, &view.claims) {
            Adoption::Pending(pending) => pending.join("; "),
            _ => "done".to_owned(),
        };
        let shown = Shown {
            term: self.term,
            err: self.io.err_stream(),
            what: format!("the new {name} to adopt its pods and claims"),
            state: &state,
        };
        let (_, adoption) = waiter
            .until_shown(
                until,
                shown,
                |view, _| match resize::adoption(journal, created, &view.pods, &view.claims) {
                    Adoption::Pending(_) => Ok(Wake::Wait),
                    settled => Ok(Wake::Done(settled)),
                },
                |view| Ok(resize::adoption(journal, created, &view.pods, &view.claims)),
            )
            .await?;
        match adoption {
            Adoption::Done(notes) => {
                for note in &notes {
                    self.io.warn(note);
                }
                self.emit(
                    Event::Adopted { pods: journal.pods.len(), claims: journal.claims.len() },
                    format_args!(
                        "adopted: {} pod(s) kept their uid and controller-revision-hash ({} replaced while nothing \
                         controlled them), {} PVC(s) kept their uid",
                        journal.pods.len() - notes.len(),
                        notes.len(),
                        journal.claims.len()
                    ),
                );
                Ok(Ok(()))
            }
            Adoption::Broken(problems) => Ok(Err(problems)),
            Adoption::Pending(left) => Err(Stop::AdoptionPending {
                name,
                within: humantime::format_duration(timeout).to_string(),
                left,
            }
            .into()),
        }
    }

    /// A journal was found: the swap of an earlier run is finished (or with `--undo`, given up)
    /// first.
    async fn resume(&mut self, writer: Option<Writer>, cm: ConfigMap) -> Result<()> {
        let name = self.args.name.clone();
        let cm_name = cm.name_any();
        let undo = self.args.undo;
        let Some(journal) = resize::journal_of(&cm) else {
            return Err(Stop::SwapJournalUnreadable {
                config_map: cm_name.clone(),
                error: None,
                name: name.clone(),
                check: self.check_statefulset(),
            }
            .into());
        };
        let asked: BTreeMap<String, String> =
            self.args.sizes.iter().map(|s| (s.template.clone(), s.size.clone())).collect();
        if !undo && asked != journal.sizes {
            let mid = self.mid_swap(&journal, &cm).await?;
            return Err(Stop::OtherResizeHalfDone { mid: Box::new(mid) }.into());
        }
        let statefulsets: Api<StatefulSet> = self.kube.api_in(&self.namespace);
        let current =
            statefulsets.get_opt(&name).await.map_err(Error::kube(format!("read StatefulSet {name}")))?;
        match current {
            // The old object, not being deleted: the delete never happened. The journal is
            // dropped and the run starts over from the object as it is now.
            Some(old)
                if old.uid().as_deref() == Some(journal.uid.as_str())
                    && old.metadata.deletion_timestamp.is_none() =>
            {
                match &writer {
                    Some(writer) => {
                        let configmaps: Api<ConfigMap> = self.kube.api_in(&self.namespace);
                        let what = format!("delete the journal ConfigMap {cm_name}");
                        if let Deleted::Changed(_) =
                            writer.delete(&configmaps, &cm_name, Guard::exact(&cm), Deletion::default(), &what).await?
                        {
                            return Err(Stop::SwapJournalChangedWhileRead { config_map: cm_name }.into());
                        }
                        if undo {
                            self.io.say(format_args!(
                                "nothing to undo: {name} was never deleted; the journal ConfigMap {cm_name} of a swap \
                                 that never started is removed"
                            ));
                            return Ok(());
                        }
                        self.io.say(format_args!("{name} was not deleted yet: starting over"));
                    }
                    None => self.io.say(format_args!(
                        "ConfigMap {cm_name} is the journal of a swap of {name} that never started: a run without \
                         --dry-run removes it{}",
                        if undo { "" } else { " and starts over" }
                    )),
                }
                if undo {
                    self.io.say("dry run: nothing was changed");
                    return Ok(());
                }
                let plan = self.plan(&old).await?;
                self.start(writer, old, plan).await
            }
            _ => {
                let Some(writer) = writer else {
                    let mid = self.mid_swap(&journal, &cm).await?;
                    let sizes = |m: &BTreeMap<String, String>| {
                        m.iter().map(|(t, s)| format!("{t}={s}")).collect::<Vec<_>>().join(", ")
                    };
                    self.io.say(format_args!("{}", mid.describe()));
                    self.io.say(format_args!(
                        "a run without --dry-run re-creates {name} with {} unless someone else re-created it, and \
                         verifies that it adopts its pods and PVCs; dry run: nothing was changed",
                        if undo { sizes(&journal.from) } else { sizes(&journal.sizes) }
                    ));
                    return Ok(());
                };
                self.io.say(format_args!(
                    "{} the swap of {name} recorded in ConfigMap {cm_name}",
                    if undo { "undoing" } else { "resuming" }
                ));
                if !self.args.yes {
                    self.term
                        .require_consent(false, if undo { "undo the swap" } else { "finish the swap" })?;
                }
                // The journal's copy of the StatefulSet names what to watch (the old object
                // may be gone already).
                let recorded = self.recorded(&journal, &cm_name)?;
                let mut waiter = self.waiter(&recorded).await?;
                self.recreate_and_verify(&writer, &mut waiter, &journal, &cm, undo).await
            }
        }
    }
}

/// The ConfigMap `name` that holds the swap's `journal`.
fn journal_config_map(name: &str, journal: &SwapJournal) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_owned(),
                crate::core::owners::FIELD_MANAGER.to_owned(),
            )])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            JOURNAL_KEY.to_owned(),
            serde_json::to_string(journal).expect("a swap journal always serializes"),
        )])),
        ..Default::default()
    }
}

/// The plan: a table of claims (fitted to `canvas`'s width on a terminal), then the retention
/// policy, owner, quotas and downtime; or the `ResizePlan` document (with the answers of a
/// server dry run, `serverDryRun`).
pub fn render_plan(
    w: &mut dyn Write,
    plan: &ResizePlan,
    server: Option<&ServerDryRun>,
    format: OutputFormat,
    canvas: Canvas,
) -> io::Result<()> {
    if write_checked_document(w, format, RESIZE_PLAN, plan, server)? {
        return Ok(());
    }
    let headers = [
        "ORDINAL",
        "PVC",
        "LIVE",
        "CLASS",
        "EXPANSION",
        "CAPACITY",
        "REQUEST",
        "TARGET",
        "ACTION",
        "CONDITION",
    ];
    let mut rows = Vec::new();
    for c in &plan.claims {
        rows.push(vec![
            c.ordinal.to_string(),
            c.name.clone(),
            // Not live: left by a scale-down (the claim is still grown, for the next scale-up).
            if c.live { "yes".to_owned() } else { "no".to_owned() },
            or_dash(c.storage_class.as_deref()),
            format!("{:?}", c.expansion).to_lowercase(),
            or_dash(c.capacity.as_deref()),
            or_dash(c.request.as_deref()),
            c.target.clone(),
            match c.action {
                Action::Grow => "grow",
                Action::Wait => "wait (requested)",
                Action::Nothing => "none (grown)",
            }
            .to_owned(),
            or_dash(c.condition.as_deref()),
        ]);
    }
    // A claim's condition (why it waits) is read whole: it wraps rather than being cut.
    write_fitted_prose_table(w, &headers, rows, canvas, "CONDITION")?;
    // The lines under it wrap to a terminal's width, a printed command kept whole.
    let say = |w: &mut dyn Write, line: String| canvas.write_wrapped(w, "", "  ", &line);
    writeln!(w)?;
    for template in &plan.templates {
        say(w, format!("Template {}: {} -> {}", template.name, template.from, template.to))?;
    }
    say(
        w,
        format!(
            "Retention: whenDeleted {}, whenScaled {} (the StatefulSet is deleted with propagationPolicy Orphan: no \
             pod or PVC is deleted)",
            plan.retention.when_deleted, plan.retention.when_scaled
        ),
    )?;
    say(
        w,
        format!(
            "Owner: {}",
            plan.owner.as_deref().unwrap_or("none found (no GitOps tool or Helm applies it)")
        ),
    )?;
    if plan.quotas.is_empty() {
        say(w, format!("Quota: no ResourceQuota counts storage in namespace {}", plan.namespace))?;
    }
    for q in &plan.quotas {
        say(
            w,
            format!(
                "Quota {} {}: {} used of {}, the grow adds {}{}",
                q.name,
                q.resource,
                q.used,
                q.hard,
                resize::human_bytes(q.adds_bytes as f64),
                if q.fits { "" } else { " (does not fit)" }
            ),
        )?;
    }
    say(
        w,
        format!(
            "{} PVC(s) to grow, {} already requested, {} already grown; then {}.",
            plan.claims.iter().filter(|c| c.action == Action::Grow).count(),
            plan.claims.iter().filter(|c| c.action == Action::Wait).count(),
            plan.claims.iter().filter(|c| c.action == Action::Nothing).count(),
            match plan.swaps() {
                true => format!("{} is re-created with the new template sizes", plan.stateful_set),
                false => format!(
                    "{} is left as it is (its template asks for these sizes already)",
                    plan.stateful_set
                ),
            }
        ),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_at_80_and_120_columns() {
        let plan = crate::core::resize::tests::sample_plan();
        for width in [80, 120] {
            let mut out = Vec::new();
            render_plan(
                &mut out,
                &plan,
                None,
                OutputFormat::Table,
                Canvas { color: false, width: Some(width) },
            )
            .unwrap();
            let shown = String::from_utf8(out).unwrap();
            let (table, rest) = shown.split_once("\n\n").unwrap();
            // Ten columns under their headers need about 90: at 80 the table is as narrow as its
            // headers allow, within the 100 asked of a default table, every claim's name whole.
            assert!(table.lines().all(|l| l.chars().count() <= width.max(100)), "{shown}");
            for claim in &plan.claims {
                assert!(table.contains(&claim.name), "{}: {shown}", claim.name);
            }
            assert!(rest.lines().all(|l| l.chars().count() <= width), "{shown}");
            insta::assert_snapshot!(format!("plan_at_{width}_columns"), shown);
        }
    }
}
