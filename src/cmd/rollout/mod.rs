//! `kubectl stateful rollout NAME`: a partitioned canary rollout, step by step, with a safe
//! abort. Nothing is installed in the cluster: the plan and the partition before the rollout
//! live in an annotation on the StatefulSet (see [`crate::core::rollout::Journal`]), so any
//! later run can resume or abort what an interrupted one started.

mod report;
mod wait;

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};

use crate::access::{self, Permission};
use crate::client::{Kube, KubeArgs};
use crate::core::objects::{
    ON_DELETE, ROLLING_UPDATE, current_revision, observed_current, ordinal_range, partition, pod_revision,
    pods_of, replicas, scaling_settled, short_revision, update_revision, update_strategy,
};
use crate::core::patches;
use crate::core::rollout::{
    Journal, Step, Steps, parse_image, plan, released, revision_template, with_images,
};
use crate::error::{Error, Result};
use crate::fetch;
use crate::ui::Terminal;
pub use report::Format;
use report::{Event, Reporter};
use wait::{StepEnd, Waiter};

pub const LONG_ABOUT: &str = "\
Roll a StatefulSet out to a new revision as a canary: stage the new pod template with the
partition raised to the replica count (no pod moves), then lower the partition step by step,
highest ordinal first, waiting after each step until the released pods run the new revision and
are Ready (and available for minReadySeconds). Between steps you choose: continue, stop, or
abort and roll back. A failed or timed-out step stops the rollout where it is (exit 3).

Run it again to resume an interrupted rollout; --abort restores the previous pod template and
partition and, when a broken pod blocks the rollback, deletes it after confirmation.";

pub const EXAMPLES: &str = "\
Examples:
  kubectl stateful rollout web --image app=registry.example/app:v2
  kubectl stateful rollout web --image app=registry.example/app:v2 --steps 1,25%,100% --dry-run
  kubectl stateful rollout web --patch template-patch.yaml --yes --pause 2m -o json
  kubectl stateful rollout web --partition 2        # one explicit step
  kubectl stateful rollout web                      # resume, or pick up a pending update
  kubectl stateful rollout web --abort";

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The StatefulSet
    pub name: String,

    /// Stage a new image for a container: CONTAINER=IMAGE (repeatable)
    #[arg(long, value_name = "CONTAINER=IMAGE", value_parser = parse_image)]
    pub image: Vec<(String, String)>,

    /// Stage a strategic-merge patch of the pod template, from a YAML or JSON file
    #[arg(long, value_name = "FILE", conflicts_with_all = ["abort", "image"])]
    pub patch: Option<std::path::PathBuf>,

    /// Step sizes as pod counts or percentages of replicas [default: 1,50%,100%, or the
    /// resumed rollout's own]
    #[arg(long, value_name = "LIST")]
    pub steps: Option<Steps>,

    /// Move the partition to N and wait: one explicit step instead of the plan
    #[arg(long, value_name = "N", conflicts_with_all = ["abort", "steps"], allow_negative_numbers = true)]
    pub partition: Option<i64>,

    /// Roll back: restore the previous pod template and partition
    #[arg(long, conflicts_with_all = ["image", "patch"])]
    pub abort: bool,

    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Do not ask: go on after each step (after --pause) and confirm deletions
    #[arg(short, long)]
    pub yes: bool,

    /// With --yes, how long to watch each finished step before the next (updated pods must stay Ready)
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    pub pause: Duration,

    /// How long each step may take before it fails
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,

    /// Output: text, or json for one event per line
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

/// One rollout run: the connection, the person (or CI job) at the other end, and the flags.
struct Run<'a> {
    kube: Kube,
    api: Api<StatefulSet>,
    args: &'a Args,
    term: &'a Terminal,
    reporter: Reporter,
    started: Instant,
    request_timeout: Duration,
    /// The watches every wait shares, started on first use.
    waiter: Option<Waiter>,
    /// Steps this run took (a resumed run takes fewer than its plan has).
    steps_taken: usize,
    /// Whether this run has changed the StatefulSet yet.
    wrote: std::cell::Cell<bool>,
}

pub async fn run(args: Args, kube_args: &KubeArgs, term: &Terminal) -> Result<()> {
    let kube = kube_args.connect().await?;
    let sts = fetch::statefulset(&kube, &kube.namespace, &args.name).await?;
    let api = Api::namespaced(kube.client.clone(), &kube.namespace);
    let reporter = Reporter::new(args.output, &kube.namespace, &args.name, term);
    let request_timeout =
        kube_args.request_timeout.filter(|t| !t.is_zero()).unwrap_or(Duration::from_secs(30));
    let mut run = Run {
        kube,
        api,
        args: &args,
        term,
        reporter,
        started: Instant::now(),
        request_timeout,
        waiter: None,
        steps_taken: 0,
        wrote: std::cell::Cell::new(false),
    };
    let result = run.dispatch(sts).await;
    run.reporter.clear();
    result
}

impl Run<'_> {
    async fn dispatch(&mut self, sts: StatefulSet) -> Result<()> {
        check_strategy(&sts)?;
        // Revisions and counts in the status mean something only once the controller has seen
        // the latest spec (a template just applied by someone else, say).
        let sts = if observed_current(&sts) {
            sts
        } else {
            let (generation, timeout) = (sts.metadata.generation, self.args.timeout);
            self.waiter(&sts).await?.observed(generation, timeout).await?
        };
        let journal = Journal::of(&sts).transpose().map_err(Error::Refused)?;
        if self.args.abort || journal.as_ref().is_some_and(|j| j.aborting) {
            if journal.as_ref().is_some_and(|j| j.aborting) && !self.args.abort {
                eprintln!("an abort of this rollout was interrupted; continuing the abort");
            }
            return self.abort(sts, journal).await;
        }
        if let Some(n) = self.args.partition {
            let replicas = replicas(&sts);
            if n < 0 || n > i64::from(replicas) {
                return Err(Error::Usage(format!(
                    "--partition {n} is out of range: {} has {replicas} replicas (0..={replicas})",
                    self.args.name
                )));
            }
        }
        let template = self.new_template(&sts).await?;
        // A pod being replaced for an update also makes status.replicas fall short for a moment;
        // only a count that stays short is a scale in progress.
        let sts = if journal.is_none() && !scaling_settled(&sts) {
            let generation = sts.metadata.generation;
            self.waiter(&sts).await?.settled(generation, SETTLE_GRACE).await?
        } else {
            sts
        };
        if journal.is_none() && !scaling_settled(&sts) {
            return Err(Error::Refused(format!(
                "{} is scaling (status.replicas {} of {}): a partition does not hold back pods created meanwhile; \
                 wait until it settles. If a broken template blocks the scale-up, fix the template itself or scale back",
                self.args.name,
                sts.status.as_ref().map_or(0, |s| s.replicas),
                replicas(&sts)
            )));
        }
        if let (Some(journal), Some(_)) = (&journal, &template) {
            return Err(Error::Refused(format!(
                "a rollout of {} started at {} is in progress: run `kubectl stateful rollout {}` to resume it or add --abort before staging another",
                self.args.name, journal.started_at, self.args.name
            )));
        }
        self.rollout(sts, journal, template).await
    }

    /// The pod template to stage from --image / --patch, or `None` when neither was given or it
    /// equals the current one.
    async fn new_template(&self, sts: &StatefulSet) -> Result<Option<PodTemplateSpec>> {
        let current = sts.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
        let template = match &self.args.patch {
            Some(path) => self.patched_template(path).await?,
            None => with_images(&current, &self.args.image).map_err(Error::Usage)?,
        };
        Ok((template != current).then_some(template))
    }

    /// Applies the patch file the way `kubectl patch` would (strategic merge), by asking the API
    /// server for a dry run: the result is exact, and nothing is stored.
    async fn patched_template(&self, path: &std::path::Path) -> Result<PodTemplateSpec> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
        let patch: serde_json::Value = serde_saphyr::from_str(&text).map_err(|e| {
            Error::Usage(format!(
                "{} is not a YAML or JSON pod template patch: {}",
                path.display(),
                crate::error::chain(&e)
            ))
        })?;
        if !patch.is_object() {
            return Err(Error::Usage(format!(
                "{} must hold a map, the patch of the pod template",
                path.display()
            )));
        }
        let body = serde_json::json!({"spec": {"template": patch}});
        let params = PatchParams {
            dry_run: true,
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..Default::default()
        };
        let result = self
            .api
            .patch(&self.args.name, &params, &Patch::Strategic(&body))
            .await
            .map_err(Error::kube(format!("apply {} to the pod template (dry run)", path.display())))?;
        Ok(result.spec.map(|s| s.template).unwrap_or_default())
    }

    async fn rollout(
        &mut self,
        sts: StatefulSet,
        journal: Option<Journal>,
        template: Option<PodTemplateSpec>,
    ) -> Result<()> {
        let replicas = replicas(&sts);
        let range = ordinal_range(&sts);
        let pods = self.pods(&sts).await?;
        let pending = template.is_some() || update_pending(&sts, &pods);
        let explicit = self.args.partition.map(|n| n as i32);
        if journal.is_none() && !pending {
            let revision = short_revision(&self.args.name, update_revision(&sts).unwrap_or("?")).to_owned();
            let Some(n) = explicit else {
                eprintln!("nothing to roll out: every pod of {} runs revision {revision}", self.args.name);
                return Ok(());
            };
            // No update pending: moving the partition changes no pod, so no journal and no wait.
            if !self.args.dry_run {
                self.term
                    .require_consent(self.args.yes, &format!("change the partition of {}", self.args.name))?;
                self.require_permissions(false, &sts).await?;
                let what = format!("set the partition of {} to {n}", self.args.name);
                self.patch(&sts, patches::move_partition(&sts, n, None), &what).await?;
            }
            eprintln!(
                "partition of {} is {n}; no update is pending, every pod runs revision {revision}",
                self.args.name
            );
            return Ok(());
        }
        let sizes = match (&self.args.steps, &journal) {
            (Some(steps), _) => steps.clone(),
            (None, Some(j)) => j.step_sizes().map_err(Error::Refused)?,
            (None, None) => Steps::default(),
        };
        // A new rollout first holds every pod back (stages); an explicit step on an unchanged
        // template, and a resumed rollout, start from where the partition stands.
        let stage = journal.is_none() && (template.is_some() || explicit.is_none());
        let hold = if stage { replicas.max(partition(&sts)) } else { partition(&sts) };
        let steps: Vec<Step> = match explicit {
            Some(n) => single_step(range, hold.min(replicas), n),
            None => plan(range, &sizes.0, replicas)
                .into_iter()
                .filter(|s| s.partition < hold.min(replicas))
                .collect(),
        };
        if template.is_none() {
            // Pods the controller updated before this run are not news.
            self.reporter.already_updated(&pods_of(&sts, &pods), update_revision(&sts));
        }
        self.reporter.event(Event::Plan {
            from_revision: journal
                .as_ref()
                .map(|j| j.from_revision.clone())
                .or_else(|| current_revision(&sts).map(str::to_owned)),
            to_revision: if template.is_some() { None } else { update_revision(&sts).map(str::to_owned) },
            replicas,
            partition: partition(&sts),
            staged_partition: stage.then_some(hold),
            steps: steps.clone(),
        })?;
        if self.args.dry_run {
            eprintln!("dry run: nothing was changed");
            return Ok(());
        }
        self.term.require_consent(self.args.yes, &format!("roll out {}", self.args.name))?;
        self.require_permissions(false, &sts).await?;

        let new_journal = journal.is_none().then(|| Journal {
            steps: sizes.0.iter().map(ToString::to_string).collect(),
            partition_before: partition(&sts),
            from_revision: current_revision(&sts).unwrap_or_default().to_owned(),
            started_at: Timestamp::now(),
            aborting: false,
        });
        let (sts, journal_to_write) = match new_journal {
            Some(new_journal) if stage => {
                let patch = patches::stage(&sts, template.as_ref(), hold, &new_journal);
                let staged = self.patch(&sts, patch, "stage the rollout").await?;
                let timeout = self.args.timeout;
                let staged =
                    self.waiter(&staged).await?.observed(staged.metadata.generation, timeout).await?;
                self.reporter.event(Event::Staged {
                    revision: update_revision(&staged).map(str::to_owned),
                    partition: hold,
                })?;
                (staged, None)
            }
            // An explicit step writes the journal with its own patch.
            new_journal => (sts, new_journal),
        };
        // Resuming: whatever the partition already releases must be healthy before more moves.
        let settle_first = journal.is_some() && explicit.is_none() && partition(&sts) < replicas;
        self.steps(sts, steps, journal_to_write, settle_first).await
    }

    /// Takes the steps with the gate before each; finishes when the partition reaches 0.
    async fn steps(
        &mut self,
        mut sts: StatefulSet,
        steps: Vec<Step>,
        mut journal: Option<Journal>,
        settle_first: bool,
    ) -> Result<()> {
        let total = steps.last().map_or(0, |s| s.number);
        if settle_first {
            let range = ordinal_range(&sts);
            let in_flight = released(range, partition(&sts), range.replicas);
            let settle = Step {
                number: 0,
                partition: partition(&sts),
                updated: in_flight.len() as i32,
                ordinals: in_flight,
            };
            sts = self.wait_step(sts, &settle, total).await?;
        }
        for step in &steps {
            if !self.gate(&sts, step, total).await? {
                return Ok(());
            }
            self.reporter.event(Event::StepStarted {
                step: step.number,
                steps: total,
                partition: step.partition,
                ordinals: step.ordinals.clone(),
            })?;
            let patch = patches::move_partition(&sts, step.partition, journal.take().as_ref());
            sts = self
                .patch(&sts, patch, &format!("set the partition of {} to {}", self.args.name, step.partition))
                .await?;
            sts = self.wait_step(sts, step, total).await?;
            self.steps_taken += 1;
        }
        if partition(&sts) == 0 {
            return self.finish(sts).await;
        }
        self.reporter.event(Event::Stopped {
            partition: partition(&sts),
            reason: format!(
                "partition is {}: run `kubectl stateful rollout {}` to continue with the plan, or add --abort",
                partition(&sts),
                self.args.name
            ),
        })
    }

    /// Between steps: continue, stop here, or abort. With --yes, continue (after --pause).
    async fn gate(&mut self, sts: &StatefulSet, next: &Step, total: usize) -> Result<bool> {
        if self.args.yes {
            return Ok(true);
        }
        let pods: Vec<String> =
            next.ordinals.iter().map(|o| crate::core::names::pod_name(&self.args.name, *o)).collect();
        let question = format!(
            "Next: step {}/{total}, partition {} -> {}, updates {}",
            next.number,
            partition(sts),
            next.partition,
            pods.join(", ")
        );
        let choice = self
            .reporter
            .suspend(|| self.term.choose(&question, &["continue", "stop here (resume later)", "abort and roll back"]))
            .map_err(|e| match e {
                Error::Interrupted(_) => Error::Interrupted(format!(
                    "interrupted at the prompt: {} is left at partition {}; run `kubectl stateful rollout {}` to resume, or add --abort",
                    self.args.name,
                    partition(sts),
                    self.args.name
                )),
                other => other,
            })?;
        match choice {
            0 => Ok(true),
            1 => {
                self.reporter.event(Event::Stopped {
                    partition: partition(sts),
                    reason: format!(
                        "stopped at partition {}: run `kubectl stateful rollout {}` to resume",
                        partition(sts),
                        self.args.name
                    ),
                })?;
                Ok(false)
            }
            _ => {
                let journal = Journal::of(sts).transpose().map_err(Error::Refused)?;
                Box::pin(self.abort(sts.clone(), journal)).await?;
                Ok(false)
            }
        }
    }

    async fn wait_step(&mut self, sts: StatefulSet, step: &Step, total: usize) -> Result<StatefulSet> {
        let started = Instant::now();
        let label =
            if step.number == 0 { "resuming".to_owned() } else { format!("step {}/{total}", step.number) };
        let pause = if self.args.yes { self.args.pause } else { Duration::ZERO };
        let (timeout, generation) = (self.args.timeout, sts.metadata.generation);
        self.waiter(&sts).await?;
        let waiter = self.waiter.as_mut().expect("started above");
        let end = waiter.step(&mut self.reporter, &label, generation, step.partition, timeout, pause).await?;
        match end {
            StepEnd::Done(sts) => {
                if step.number > 0 {
                    self.reporter.event(Event::StepDone {
                        step: step.number,
                        steps: total,
                        partition: step.partition,
                        seconds: started.elapsed().as_secs_f64(),
                    })?;
                }
                Ok(sts)
            }
            StepEnd::Failed(sts, reasons) => self.failed(sts, step, reasons).await,
        }
    }

    /// A failed step: say which pods and why, leave the partition where it is, offer the abort.
    async fn failed(&mut self, sts: StatefulSet, step: &Step, reasons: Vec<String>) -> Result<StatefulSet> {
        self.reporter.event(Event::Failed {
            step: (step.number > 0).then_some(step.number),
            partition: partition(&sts),
            reasons: reasons.clone(),
        })?;
        let message = format!(
            "rollout of {} stopped at partition {}: {}; no further pod was updated. Fix and run `kubectl stateful rollout {}` to resume, or add --abort to roll back",
            self.args.name,
            partition(&sts),
            reasons.join("; "),
            self.args.name
        );
        if self.term.interactive && !self.args.yes {
            let abort = self
                .reporter
                .suspend(|| self.term.confirm(false, "The step failed. Abort and roll back now?"))?;
            if abort {
                let journal = Journal::of(&sts).transpose().map_err(Error::Refused)?;
                let target = journal.as_ref().map(|j| j.from_revision.clone()).unwrap_or_default();
                Box::pin(self.abort(sts, journal)).await?;
                return Err(Error::StepFailed(format!(
                    "rollout of {} failed ({}) and was rolled back to revision {}",
                    self.args.name,
                    reasons.join("; "),
                    short_revision(&self.args.name, &target)
                )));
            }
        }
        Err(Error::StepFailed(message))
    }

    async fn finish(&mut self, sts: StatefulSet) -> Result<()> {
        let timeout = self.args.timeout;
        let sts = self.waiter(&sts).await?.promoted(sts.metadata.generation, timeout).await?;
        let sts = self.patch(&sts, patches::clear_journal(&sts), "clear the rollout journal").await?;
        self.reporter.event(Event::Finished {
            revision: update_revision(&sts).map(str::to_owned),
            steps: self.steps_taken,
            seconds: self.started.elapsed().as_secs_f64(),
        })
    }

    /// Restores the pod template of the revision pods ran before, and the partition from before
    /// the rollout; deletes pods stuck not Ready on the abandoned revision (forced rollback).
    async fn abort(&mut self, sts: StatefulSet, journal: Option<Journal>) -> Result<()> {
        let target = match &journal {
            Some(j) => j.from_revision.clone(),
            None => current_revision(&sts).unwrap_or_default().to_owned(),
        };
        let pods = self.pods(&sts).await?;
        if journal.is_none() && update_revision(&sts) == Some(target.as_str()) && !update_pending(&sts, &pods)
        {
            eprintln!("nothing to abort: every pod of {} runs revision {target}", self.args.name);
            return Ok(());
        }
        let revisions: Api<ControllerRevision> =
            Api::namespaced(self.kube.client.clone(), &self.kube.namespace);
        let revision = revisions
            .get_opt(&target)
            .await
            .map_err(Error::kube(format!("read ControllerRevision {target}")))?
            .ok_or_else(|| {
                Error::Refused(format!(
                    "revision {target} no longer exists (revisionHistoryLimit?): cannot restore its template"
                ))
            })?;
        let template = revision_template(&revision).map_err(Error::Refused)?;
        // Without a journal (someone else's rollout), the partition stays where it is.
        let partition_before = journal.as_ref().map_or(partition(&sts), |j| j.partition_before);
        eprintln!(
            "abort: restore the pod template of revision {target} and partition {partition_before}; pods on other revisions roll back",
        );
        if self.args.dry_run {
            eprintln!("dry run: nothing was changed");
            return Ok(());
        }
        self.require_permissions(true, &sts).await?;
        if !self
            .term
            .confirm(self.args.yes, &format!("Roll {} back to revision {target}?", self.args.name))?
        {
            return Ok(());
        }
        let aborting = match journal {
            Some(j) => Journal { aborting: true, ..j },
            None => Journal {
                steps: Vec::new(),
                partition_before,
                from_revision: target.clone(),
                started_at: Timestamp::now(),
                aborting: true,
            },
        };
        let sts = self
            .patch(&sts, patches::abort(&sts, &template, &aborting), "restore the previous pod template")
            .await?;
        let generation = sts.metadata.generation;
        let deadline = tokio::time::Instant::now() + self.args.timeout;
        let mut deleted: Vec<String> = Vec::new();
        let sts = loop {
            let (sts, stuck) = self.waiter(&sts).await?.rolled_back(generation, deadline, &deleted).await?;
            if stuck.is_empty() {
                break sts;
            }
            let names: Vec<String> = stuck.iter().map(ResourceExt::name_any).collect();
            let question = format!(
                "{} stuck not Ready on the abandoned revision; the controller will not replace {} (forced rollback). Delete {}?",
                names.join(", "),
                if names.len() == 1 { "it" } else { "them" },
                if names.len() == 1 { "it" } else { "them" }
            );
            if !self.reporter.suspend(|| self.term.confirm(self.args.yes, &question))? {
                return Err(Error::Refused(format!(
                    "abort incomplete: {} stay stuck; run `kubectl stateful rollout {} --abort` again to finish",
                    names.join(", "),
                    self.args.name
                )));
            }
            for pod in stuck {
                self.delete_stuck(&pod).await?;
                deleted.push(pod.uid().unwrap_or_default());
            }
        };
        let sts = self.patch(&sts, patches::clear_journal(&sts), "clear the rollout journal").await?;
        self.reporter.event(Event::Aborted {
            revision: target,
            partition: partition(&sts),
            seconds: self.started.elapsed().as_secs_f64(),
        })
    }

    async fn delete_stuck(&mut self, pod: &Pod) -> Result<()> {
        let api: Api<Pod> = Api::namespaced(self.kube.client.clone(), &self.kube.namespace);
        let params = DeleteParams {
            preconditions: Some(Preconditions { uid: pod.uid(), resource_version: None }),
            ..Default::default()
        };
        match api.delete(&pod.name_any(), &params).await {
            Ok(_) => {}
            // Already gone or replaced: the controller got there first.
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
            Err(e) => return Err(Error::kube(format!("delete pod {}", pod.name_any()))(e)),
        }
        self.reporter.event(Event::PodDeleted {
            pod: pod.name_any(),
            reason: format!("not Ready on revision {}", pod_revision(pod).unwrap_or("?")),
        })
    }

    /// A guarded JSON patch; a failed guard means someone else changed the StatefulSet.
    async fn patch(&self, sts: &StatefulSet, patch: json_patch::Patch, what: &str) -> Result<StatefulSet> {
        let params = PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        match self.api.patch(&self.args.name, &params, &Patch::<()>::Json(patch)).await {
            Ok(sts) => {
                self.wrote.set(true);
                Ok(sts)
            }
            // A failed `test` guard (422) or a write conflict (409): if the StatefulSet is no
            // longer what we read, someone else changed it.
            Err(kube::Error::Api(status)) if matches!(status.code, 409 | 422) => {
                let now = self.api.get_opt(&self.args.name).await.ok().flatten();
                match now {
                    Some(now)
                        if now.metadata.generation == sts.metadata.generation
                            && now.annotations() == sts.annotations() =>
                    {
                        Err(Error::kube(what)(kube::Error::Api(status)))
                    }
                    now => Err(Error::Conflict(describe_foreign_change(
                        &self.args.name,
                        sts,
                        now.as_ref(),
                        what,
                    ))),
                }
            }
            Err(e @ kube::Error::Api(_)) => Err(Error::kube(what)(e)),
            // No answer: the write may or may not have landed. The StatefulSet (and the journal)
            // say which, and the next run reads them.
            Err(e) => Err(Error::kube(format!(
                "{what} (the API server did not answer, so it may or may not have happened; \
                 `kubectl stateful rollout {}` reads the state and resumes)",
                self.args.name
            ))(e)),
        }
    }

    /// What a rollout writes: the StatefulSet, and for an abort the pods it may delete.
    async fn require_permissions(&self, abort: bool, sts: &StatefulSet) -> Result<()> {
        let namespace = Some(self.kube.namespace.as_str());
        let mut needed =
            vec![Permission { verb: "patch", group: "apps", resource: "statefulsets", namespace }];
        if abort {
            needed.push(Permission { verb: "delete", group: "", resource: "pods", namespace });
        }
        // An abort chosen at the gate or after a failure comes after this run's own changes.
        let left = if !self.wrote.get() {
            "nothing was changed".to_owned()
        } else {
            format!("{} is left at partition {}", self.args.name, partition(sts))
        };
        access::require(&self.kube, &needed, &left).await
    }

    /// The shared watches, started on first use.
    async fn waiter(&mut self, sts: &StatefulSet) -> Result<&mut Waiter> {
        if self.waiter.is_none() {
            self.waiter = Some(Waiter::start(&self.kube, sts, self.request_timeout).await?);
        }
        Ok(self.waiter.as_mut().expect("started above"))
    }

    /// The StatefulSet's pods, for decisions taken before any watch runs.
    async fn pods(&self, sts: &StatefulSet) -> Result<Vec<Pod>> {
        let selector = crate::core::objects::selector(sts);
        let scope = fetch::Scope::Namespace(self.kube.namespace.clone());
        fetch::list(&self.kube.client, &scope, selector.as_ref()).await
    }
}

/// How long a StatefulSet whose pod count is short may take to settle before a new rollout is
/// refused as mid-scale.
const SETTLE_GRACE: Duration = Duration::from_secs(30);

/// The field manager recorded on every change this tool makes.
pub const FIELD_MANAGER: &str = "kubectl-stateful";

fn check_strategy(sts: &StatefulSet) -> Result<()> {
    match update_strategy(sts) {
        ROLLING_UPDATE => Ok(()),
        ON_DELETE => Err(Error::Refused(format!(
            "{} uses the OnDelete update strategy: the controller never replaces pods itself, so a partition has no effect; \
             delete pods one by one, or switch spec.updateStrategy to RollingUpdate",
            sts.name_any()
        ))),
        other => Err(Error::Refused(format!("{} has an unknown update strategy {other:?}", sts.name_any()))),
    }
}

/// Some live pod does not run the update revision yet (or the revisions differ).
fn update_pending(sts: &StatefulSet, pods: &[Pod]) -> bool {
    let update = update_revision(sts);
    update != current_revision(sts)
        || pods_of(sts, pods)
            .iter()
            .any(|(o, p)| ordinal_range(sts).contains(*o) && pod_revision(p) != update)
}

fn single_step(range: crate::core::names::OrdinalRange, from: i32, to: i32) -> Vec<Step> {
    vec![Step {
        number: 1,
        partition: to,
        updated: range.replicas - to,
        ordinals: released(range, to, from.max(to)),
    }]
}

fn describe_foreign_change(name: &str, ours: &StatefulSet, now: Option<&StatefulSet>, what: &str) -> String {
    let Some(now) = now else {
        return format!(
            "cannot {what}: {name} changed or disappeared since it was read; nothing was overwritten"
        );
    };
    let mut changes = Vec::new();
    if partition(now) != partition(ours) {
        changes.push(format!("partition {} -> {}", partition(ours), partition(now)));
    }
    if now.spec.as_ref().map(|s| &s.template) != ours.spec.as_ref().map(|s| &s.template) {
        changes.push("pod template changed".to_owned());
    }
    if replicas(now) != replicas(ours) {
        changes.push(format!("replicas {} -> {}", replicas(ours), replicas(now)));
    }
    if changes.is_empty() {
        changes.push(format!(
            "generation {} -> {}",
            ours.metadata.generation.unwrap_or(0),
            now.metadata.generation.unwrap_or(0)
        ));
    }
    format!(
        "cannot {what}: someone else changed {name} ({}); stopping without overwriting their change. \
         Run `kubectl stateful rollout {name}` to continue from the new state, or add --abort",
        changes.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::sts;

    #[test]
    fn on_delete_is_refused_with_the_reason() {
        let err = check_strategy(&sts("db", 3).on_delete().build()).unwrap_err();
        assert!(err.to_string().contains("OnDelete update strategy"), "{err}");
        assert!(check_strategy(&sts("db", 3).build()).is_ok());
    }

    #[test]
    fn foreign_changes_are_named() {
        let ours = sts("web", 3).partition(2).build();
        let theirs = sts("web", 3).partition(0).build();
        let message = describe_foreign_change("web", &ours, Some(&theirs), "set the partition");
        assert!(message.contains("partition 2 -> 0") && message.contains("without overwriting"), "{message}");
    }

    #[test]
    fn a_single_step_releases_what_lies_between() {
        let range = crate::core::names::OrdinalRange { start: 0, replicas: 4 };
        assert_eq!(single_step(range, 4, 2)[0].ordinals, vec![3, 2]);
        assert!(single_step(range, 2, 3)[0].ordinals.is_empty());
    }
}
