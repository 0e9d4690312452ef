//! `kubectl stateful pvc restore NAME --ordinal N --from SNAPSHOT`: creates the ordinal's claim
//! from a VolumeSnapshot, so the StatefulSet's next scale-up adopts it with the snapshot's data.

use std::io::{self, Write};

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use crate::access::{self, Permission};
use crate::client::KubeArgs;
use crate::core::advice::{RunFlags, shell_word};
use crate::core::names::pod_name;
use crate::core::restore::{self, RestoreInput, RestorePlan};
use crate::error::{Error, Result, Stop};
use crate::fetch;
use crate::output::{OutputFormat, PVC_RESTORE, Streams, rendered, write_checked_document};
use crate::ui::Terminal;
use crate::write::{DryRun, Mode, ServerAnswer, ServerCheck, ServerDryRun, Writer, Written};

pub const LONG_ABOUT: &str = "\
Create the PVC <template>-<statefulset>-<ordinal> from a VolumeSnapshot, with the
volumeClaimTemplate's spec (at least the snapshot's restoreSize) and spec.dataSourceRef naming
the snapshot. The StatefulSet's next scale-up past the ordinal adopts the claim, so its pod
starts on the snapshot's data.

Refused, with nothing created, when the claim exists, when the ordinal is live (its pod needs
the claim now: scale below it first), when the pod still exists, when the snapshot is not
readyToUse, or when the template's StorageClass provisions with another driver than the one
that took the snapshot. --dry-run prints the claim it would create.";

pub const EXAMPLES: &str = "\
Examples:
  kubectl stateful pvc restore web --ordinal 3 --from data-web-3-20261130-224217
  kubectl scale statefulset web --replicas 4       # pod web-3 mounts the restored claim
  kubectl stateful pvc restore web --ordinal 3 --from SNAP --template logs --dry-run -o json";

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The StatefulSet
    #[arg(value_parser = crate::parse::object_name)]
    pub name: String,

    /// The ordinal whose claim to create
    #[arg(long, value_parser = clap::value_parser!(i32).range(0..))]
    pub ordinal: i32,

    /// The VolumeSnapshot (in the StatefulSet's namespace)
    #[arg(long = "from", value_name = "SNAPSHOT", value_parser = crate::parse::object_name)]
    pub from: String,

    /// The volumeClaimTemplate (needed when there are several)
    #[arg(long, value_parser = crate::parse::object_name)]
    pub template: Option<String>,

    /// Restore a snapshot taken of another StatefulSet's or template's claim (a copy of its data)
    #[arg(long)]
    pub allow_other_source: bool,

    /// Only print the claim that would be created
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_value_t, default_missing_value = "client", value_name = "HOW")]
    pub dry_run: DryRun,

    /// Output format
    #[arg(short, long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

pub async fn run(args: Args, kube_args: &KubeArgs, _term: &Terminal, io: &mut Streams) -> Result<()> {
    let kube = kube_args.connect().await?;
    let namespace = kube.namespace.clone();
    let sts = fetch::statefulset(&kube, &namespace, &args.name).await?;
    fetch::refuse_mid_swap(&kube, &sts).await?;
    let claims_api: Api<PersistentVolumeClaim> = kube.api_in(&namespace);
    let pods: Api<Pod> = kube.api_in(&namespace);
    let claims = claims_api.list(&ListParams::default()).await.map_err(Error::kube("list PVCs"))?.items;
    let pod_exists =
        pods.get_opt(&pod_name(&args.name, args.ordinal)).await.map_err(Error::kube("read pod"))?.is_some();
    let Some(snapshot) = crate::volume_snapshots::get_snapshot(&kube, &namespace, &args.from).await? else {
        return Err(Error::NotFound { kind: "VolumeSnapshot", name: args.from.clone(), namespace });
    };
    // The content (cluster-scoped) may not be readable: the core then refuses, saying so.
    let content = match &snapshot.content {
        Some(name) => {
            fetch::forbidden_as_none(crate::volume_snapshots::get_content(&kube, name).await)?.flatten()
        }
        None => None,
    };
    let classes: Option<Vec<StorageClass>> = fetch::forbidden_as_none(
        kube.api_all::<StorageClass>()
            .list(&ListParams::default())
            .await
            .map_err(Error::kube("list StorageClasses")),
    )?
    .map(|l| l.items);
    let template_class = crate::core::objects::claim_templates(&sts)
        .into_iter()
        .find(|t| args.template.as_deref().is_none_or(|want| want == *t))
        .and_then(|t| {
            sts.spec
                .as_ref()?
                .volume_claim_templates
                .as_ref()?
                .iter()
                .find(|v| v.metadata.name.as_deref() == Some(t))
        })
        .and_then(|v| v.spec.as_ref()?.storage_class_name.clone());
    let class = classes.as_ref().and_then(|all| {
        all.iter().find(|c| match &template_class {
            Some(name) => c.name_any() == *name,
            None => {
                c.annotations().get("storageclass.kubernetes.io/is-default-class").map(String::as_str)
                    == Some("true")
            }
        })
    });
    let class_name = class.map(ResourceExt::name_any);
    let input = RestoreInput {
        sts: &sts,
        ordinal: args.ordinal,
        template: args.template.as_deref(),
        claims: &claims,
        pod_exists,
        snapshot: &snapshot,
        content: content.as_ref(),
        class: class.zip(class_name.as_deref()).map(|(c, name)| (name, c.provisioner.as_str())),
        flags: &kube.flags,
        allow_other_source: args.allow_other_source,
    };
    let mut plan = restore::plan(&input)?;
    let get = kube.flags.kubectl(&namespace, &format!("get pvc {}", shell_word(&plan.name)));
    let resume = format!("`{get}` shows whether it was created");
    let object: PersistentVolumeClaim =
        serde_json::from_value(plan.claim.clone()).expect("the claim the core built always reads as a claim");
    let what = format!("create PVC {namespace}/{}", plan.name);
    let Some(writer) = Writer::of(&kube, Mode::from_dry_run(args.dry_run), resume) else {
        // --dry-run=server: the create, sent with dryRun=All (it depends on nothing).
        let server = match ServerCheck::of(&kube, Mode::from_dry_run(args.dry_run)) {
            Some(check) => {
                let mut run = ServerDryRun::default();
                let answer = ServerAnswer::of_written(check.create(&claims_api, &object, &what).await);
                run.add(what, answer);
                Some(run)
            }
            None => None,
        };
        rendered(render(&mut io.out, &plan, server.as_ref(), &kube.flags, args.output))?;
        if !args.output.is_machine() {
            io.say("dry run: nothing was created");
        }
        return match server {
            Some(server) => {
                for line in server.lines() {
                    io.say(line);
                }
                server.ending()
            }
            None => Ok(()),
        };
    };
    access::require(
        &kube,
        &[Permission {
            verb: "create",
            group: "",
            resource: "persistentvolumeclaims",
            namespace: Some(&namespace),
            subresource: None,
        }],
        "nothing was created",
    )
    .await?;
    match writer.create(&claims_api, &object, &what).await? {
        Written::Done(_) => {}
        Written::Changed(_) => {
            return Err(Stop::ClaimCreatedMeanwhile { claim: plan.name.clone() }.into());
        }
        Written::Gone => return Err(Error::NamespaceNotFound(namespace)),
    }
    plan.created = true;
    rendered(render(&mut io.out, &plan, None, &kube.flags, args.output))?;
    Ok(())
}

/// The claim created (or that a dry run would create), and the scale-up that adopts it, as a
/// command with the run's `flags`.
pub fn render(
    w: &mut dyn Write,
    plan: &RestorePlan,
    server: Option<&ServerDryRun>,
    flags: &RunFlags,
    format: OutputFormat,
) -> io::Result<()> {
    if write_checked_document(w, format, PVC_RESTORE, plan, server)? {
        return Ok(());
    }
    let verb = if plan.created { "created" } else { "would be created" };
    let taken_of = plan.source_claim.as_ref().map(|claim| format!(" of {claim}")).unwrap_or_default();
    writeln!(
        w,
        "persistentvolumeclaim \"{}\" {verb} from volumesnapshot {}{taken_of} ({}, StorageClass {}, driver {})",
        plan.name,
        plan.snapshot,
        plan.size,
        plan.storage_class.as_deref().unwrap_or("-"),
        plan.driver
    )?;
    writeln!(
        w,
        "The next scale-up of {} past ordinal {} adopts it: {}",
        plan.stateful_set,
        plan.ordinal,
        scale_up(plan, flags)
    )
}

/// `kubectl scale statefulset NAME --replicas N`: the scale-up whose new pod adopts the claim.
pub fn scale_up(plan: &RestorePlan, flags: &RunFlags) -> String {
    flags.kubectl(
        &plan.namespace,
        &format!(
            "scale statefulset {} --replicas {}",
            shell_word(&plan.stateful_set),
            plan.replicas_to_adopt
        ),
    )
}
