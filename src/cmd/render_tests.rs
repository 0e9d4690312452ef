//! Snapshots of the renderers whose commands cannot be run without a cluster and that have no
//! snapshots beside them: the prune plan and result, recover's evidence and document, and
//! `version`. Every input comes from `core::fixtures`, on a fixed clock.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::pvc::prune::{render_plan, render_result, restore_command, unbind_volume};
use super::recover::{Recovery, Replacement, write_evidence};
use super::version::{Version, render};
use crate::core::advice::RunFlags;
use crate::core::fixtures::*;
use crate::core::prune::{self, KeptClaim, PruneOptions, PrunePlan, PruneResult, TakenSnapshot};
use crate::core::reads::Reads;
use crate::core::recover::{Evidence, Judgement, judge};
use crate::output::{Canvas, OutputFormat, RECOVERY, write_document};

/// `seconds` after the fixtures' objects were created.
fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(created().as_second() + seconds).unwrap()
}

/// The clock of every rendering: three days and two hours after the objects were created.
fn now() -> Timestamp {
    at(3 * 86_400 + 2 * 3_600)
}

fn text(render: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    render(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

// The prune plan and result.

fn in_namespace(mut sts: StatefulSet, namespace: &str) -> StatefulSet {
    sts.metadata.namespace = Some(namespace.to_owned());
    sts
}

fn pod_in_namespace(mut pod: Pod, namespace: &str) -> Pod {
    pod.metadata.namespace = Some(namespace.to_owned());
    pod
}

/// `web` (namespace default) scaled from 7 to 2, leaving a claim of every kind behind; with
/// `two_namespaces`, also `db` in namespace `shop`, scaled from 3 to 1.
fn prune_snapshot(two_namespaces: bool) -> (Reads, Vec<StatefulSet>) {
    let web = sts("web", 2).templates(&["data"]).build();
    let mut pvcs = vec![
        pvc("data-web-0").of(&web).build(),
        pvc("data-web-1").of(&web).build(),
        pvc("data-web-2").of(&web).capacity("10Gi").build(),
        pvc("data-web-3").of(&web).build(),
        pvc("data-web-4").build(),
        pvc("data-web-5").owner(&web).build(),
        pvc("data-web-6").of(&web).phase("Pending").build(),
    ];
    let mut pods =
        vec![pod(&web, 0).build(), pod(&web, 1).build(), bare_pod("backup").mounting("data-web-5").build()];
    let mut volumes: Vec<_> = pvcs
        .iter()
        .filter(|p| p.name_any() != "data-web-6")
        .map(|p| pv(&p.name_any(), if p.name_any() == "data-web-3" { "Retain" } else { "Delete" }))
        .collect();
    let mut statefulsets = vec![web];
    if two_namespaces {
        let db = in_namespace(sts("db", 1).templates(&["wal"]).build(), "shop");
        for ordinal in 0..3 {
            pvcs.push(pvc(&format!("wal-db-{ordinal}")).of(&db).namespace("shop").capacity("512Mi").build());
            volumes.push(pv(&format!("wal-db-{ordinal}"), "Delete"));
        }
        pods.push(pod_in_namespace(pod(&db, 0).build(), "shop"));
        statefulsets.push(db);
    }
    let snapshot =
        Reads { statefulsets: statefulsets.clone(), pods, pvcs, volumes: Some(volumes), ..Reads::default() };
    (snapshot, statefulsets)
}

fn prune_plan(two_namespaces: bool, options: &PruneOptions) -> PrunePlan {
    let (snapshot, statefulsets) = prune_snapshot(two_namespaces);
    let scope: Vec<&StatefulSet> = statefulsets.iter().collect();
    prune::plan(&snapshot, &scope, options)
}

fn rendered_plan(plan: &PrunePlan, format: OutputFormat, all_namespaces: bool) -> String {
    text(|out| render_plan(out, plan, None, format, all_namespaces, Canvas::default(), now()))
}

/// The plan as a terminal of `width` columns shows it.
fn plan_at(plan: &PrunePlan, all_namespaces: bool, width: usize) -> String {
    let canvas = Canvas { color: false, width: Some(width) };
    text(|out| render_plan(out, plan, None, OutputFormat::Table, all_namespaces, canvas, now()))
}

#[test]
fn prune_plan_at_80_and_120_columns() {
    let plan = prune_plan(true, &PruneOptions::default());
    for (width, all_namespaces) in [(80, false), (80, true), (120, true)] {
        let shown = plan_at(&plan, all_namespaces, width);
        // With -A, the NAMESPACE column is one more name kept whole: at 80 the table is as
        // narrow as its names and headers allow, within the 100 asked of a default table.
        let limit = if all_namespaces { width.max(100) } else { width };
        assert!(shown.lines().all(|l| l.chars().count() <= limit), "{shown}");
        // Every reason is there whole, its words in order, wrapped but never cut.
        let words: Vec<&str> = shown.split_whitespace().collect();
        for c in &plan.candidates {
            let reason: Vec<&str> = c.reason.split_whitespace().collect();
            assert!(
                reason.is_empty() || words.windows(reason.len()).any(|w| w == reason.as_slice()),
                "{}: {shown}",
                c.reason
            );
        }
        let scope = if all_namespaces { "_all_namespaces" } else { "" };
        insta::assert_snapshot!(format!("prune_plan{scope}_at_{width}_columns"), shown);
    }
    // A pipe keeps a row a line.
    let piped = rendered_plan(&plan, OutputFormat::Table, true);
    assert_eq!(piped.lines().take_while(|l| !l.is_empty()).count(), plan.candidates.len() + 1, "{piped}");
}

#[test]
fn prune_plan_table() {
    let plan = prune_plan(false, &PruneOptions::default());
    insta::assert_snapshot!(rendered_plan(&plan, OutputFormat::Table, false));
}

#[test]
fn prune_plan_all_namespaces_retaining_volumes() {
    let plan = prune_plan(true, &PruneOptions { retain_volumes: true, ..PruneOptions::default() });
    insta::assert_snapshot!(rendered_plan(&plan, OutputFormat::Table, true));
}

/// `--dry-run=server -o json|yaml`: the plan with the API server's answers (`serverDryRun`), in
/// the order of the writes; the table is the same as a client dry run's (the answers go to stderr).
#[test]
fn prune_plan_with_server_answers() {
    use crate::write::{ServerAnswer, ServerDryRun};
    let plan = prune_plan(false, &PruneOptions::default());
    let mut server = ServerDryRun::default();
    let first = server.add("create VolumeSnapshot default/data-web-2-snap", ServerAnswer::Accepted);
    server.add("delete PVC default/data-web-2", ServerAnswer::NotChecked { depends_on: first });
    server.add(
        "delete PVC default/data-web-3",
        ServerAnswer::Refused { reason: "persistentvolumeclaims \"data-web-3\" is forbidden".to_owned() },
    );
    let json = text(|out| {
        render_plan(out, &plan, Some(&server), OutputFormat::Json, false, Canvas::default(), now())
    });
    let document: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(document["schemaVersion"], "v2");
    let client: serde_json::Value =
        serde_json::from_str(&rendered_plan(&plan, OutputFormat::Json, false)).unwrap();
    assert_eq!(document["candidates"], client["candidates"]);
    assert!(client.get("serverDryRun").is_none(), "a client dry run has no answers: {client}");
    insta::assert_snapshot!(serde_json::to_string_pretty(&document["serverDryRun"]).unwrap());
    let yaml = text(|out| {
        render_plan(out, &plan, Some(&server), OutputFormat::Yaml, false, Canvas::default(), now())
    });
    assert_eq!(serde_saphyr::from_str::<serde_json::Value>(&yaml).unwrap(), document);
    assert_eq!(
        text(|out| render_plan(
            out,
            &plan,
            Some(&server),
            OutputFormat::Table,
            false,
            Canvas::default(),
            now()
        )),
        rendered_plan(&plan, OutputFormat::Table, false)
    );
}

#[test]
fn prune_plan_json() {
    let plan = prune_plan(false, &PruneOptions::default());
    insta::assert_snapshot!(rendered_plan(&plan, OutputFormat::Json, false));
}

#[test]
fn prune_plan_yaml_is_the_same_document() {
    let plan = prune_plan(true, &PruneOptions::default());
    let yaml: serde_json::Value =
        serde_saphyr::from_str(&rendered_plan(&plan, OutputFormat::Yaml, true)).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&rendered_plan(&plan, OutputFormat::Json, true)).unwrap();
    assert_eq!(yaml, json);
}

#[test]
fn prune_plan_empty() {
    let web = sts("web", 2).templates(&["data"]).build();
    let snapshot = Reads { statefulsets: vec![web.clone()], volumes: Some(Vec::new()), ..Reads::default() };
    let plan = prune::plan(&snapshot, &[&web], &PruneOptions::default());
    insta::assert_snapshot!(rendered_plan(&plan, OutputFormat::Table, false));
}

/// A `--retain-volumes` run over both namespaces, as `pvc prune` records it: every claim the
/// plan prunes is deleted (each PV left behind is named) except one a pod took back first.
fn prune_result() -> (PrunePlan, PruneResult) {
    let plan = prune_plan(true, &PruneOptions { retain_volumes: true, ..PruneOptions::default() });
    let mut result = PruneResult::start(&plan);
    for candidate in plan.to_prune() {
        if candidate.name == "wal-db-1" {
            result.failed.push(KeptClaim::of(candidate, "a pod now holds this ordinal"));
        } else {
            result.deleted(candidate, &plan);
        }
    }
    assert!(!result.retained_volumes.is_empty());
    (plan, result)
}

/// A run's connection flags, quoted where the shell needs it.
fn flags() -> RunFlags {
    RunFlags {
        context: Some("prod eu".into()),
        kubeconfig: Some("/home/me/kube config".into()),
        ..Default::default()
    }
}

#[test]
fn prune_result_text() {
    let (plan, result) = prune_result();
    insta::assert_snapshot!(text(|out| render_result(out, &result, &plan, &flags(), OutputFormat::Table)));
}

#[test]
fn prune_result_json() {
    let (plan, result) = prune_result();
    insta::assert_snapshot!(text(|out| render_result(out, &result, &plan, &flags(), OutputFormat::Json)));
}

#[test]
fn a_kept_volume_is_reused_by_a_command_with_its_exact_name_and_the_runs_flags() {
    let (_, result) = prune_result();
    let volume = &result.retained_volumes[0];
    assert_eq!(
        unbind_volume(volume, &flags()),
        format!(
            "kubectl --context 'prod eu' --kubeconfig '/home/me/kube config' patch pv {volume} --type json -p \
             '[{{\"op\":\"remove\",\"path\":\"/spec/claimRef/uid\"}},{{\"op\":\"remove\",\"path\":\"/spec/claimRef/resourceVersion\"}}]'"
        )
    );
}

#[test]
fn each_snapshot_is_restored_by_its_exact_command_template_included() {
    let plan = prune_plan(true, &PruneOptions::default());
    let candidate = plan.to_prune().find(|c| c.name == "wal-db-2").unwrap();
    let taken = TakenSnapshot {
        claim: candidate.name.clone(),
        namespace: candidate.namespace.clone(),
        name: "wal-db-2-20261130-225943".into(),
        content: "snapcontent-1".into(),
        deletion_policy: "Retain".into(),
        retained_by_run: true,
        restore_size: Some("512Mi".into()),
    };
    assert_eq!(
        restore_command(&taken, &plan, &flags()),
        "kubectl stateful pvc restore db --ordinal 2 --from wal-db-2-20261130-225943 --template wal -n shop \
         --context 'prod eu' --kubeconfig '/home/me/kube config'"
    );
    let mut result = PruneResult::start(&plan);
    result.deleted(candidate, &plan);
    result.snapshots.push(taken);
    let printed = text(|out| render_result(out, &result, &plan, &flags(), OutputFormat::Table));
    assert!(
        printed.ends_with(&format!(
            "To bring one back into its ordinal (for its next scale-up to adopt):\n  {}\n",
            restore_command(&result.snapshots[0], &plan, &flags())
        )),
        "{printed}"
    );
    assert!(!printed.contains('<'), "no placeholder: {printed}");
}

// recover.

fn lease(renewed: Timestamp) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some("node-1".to_owned()),
            namespace: Some("kube-node-lease".to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec { renew_time: Some(MicroTime(renewed)), ..LeaseSpec::default() }),
    }
}

/// `web-1` on `node-1`, Terminating; the node NotReady (`ready`) since it was created.
fn stuck_pod() -> Pod {
    let web = sts("web", 3).templates(&["data"]).build();
    pod(&web, 1).node("node-1").terminating().ready(false).build()
}

/// The evidence judged with `--min-down 5m`, and the reasons to refuse (none when gone).
fn judged(
    node_ready: Option<&str>,
    lease_renewed: Option<Timestamp>,
    now: Timestamp,
) -> (Evidence, Vec<String>) {
    let node_object = node_ready.map(|ready| node("node-1", ready));
    let lease_object = lease_renewed.map(lease);
    match judge(&stuck_pod(), node_object.as_ref(), lease_object.as_ref(), &[], 300, now) {
        Judgement::Gone(evidence) => (evidence, Vec::new()),
        Judgement::Alive(evidence, reasons) => (evidence, reasons),
    }
}

fn rendered_evidence(evidence: &Evidence) -> String {
    text(|out| write_evidence(out, evidence))
}

#[test]
fn recover_evidence_node_down() {
    let (evidence, reasons) = judged(Some("Unknown"), Some(at(60)), at(2 * 3_600));
    assert_eq!(reasons, Vec::<String>::new(), "judged gone");
    insta::assert_snapshot!(rendered_evidence(&evidence));
}

#[test]
fn recover_evidence_node_object_deleted() {
    let (evidence, reasons) = judged(None, None, at(2 * 3_600));
    assert_eq!(reasons, Vec::<String>::new(), "judged gone");
    insta::assert_snapshot!(rendered_evidence(&evidence));
}

#[test]
fn recover_evidence_node_alive() {
    let now = at(2 * 3_600);
    let (evidence, reasons) = judged(Some("True"), Some(at(2 * 3_600 - 8)), now);
    assert_eq!(reasons.len(), 2, "Ready and renewing: {reasons:?}");
    insta::assert_snapshot!(rendered_evidence(&evidence));
}

fn rendered_recovery(recovery: &Recovery) -> String {
    text(|out| write_document(out, OutputFormat::Json, RECOVERY, recovery).map(|written| assert!(written)))
}

#[test]
fn recovery_json_force_deleted() {
    let (evidence, reasons) = judged(Some("Unknown"), Some(at(60)), at(2 * 3_600));
    let recovery = Recovery {
        namespace: NAMESPACE.to_owned(),
        stateful_set: "web".to_owned(),
        evidence,
        action: "forceDeleted",
        reasons,
        cordoned: true,
        replacement: Some(Replacement {
            pod: "web-1".to_owned(),
            uid: "uid-default-web-1-replacement".to_owned(),
            node: "node-2".to_owned(),
            pvcs: vec!["data-web-1".to_owned()],
        }),
    };
    insta::assert_snapshot!(rendered_recovery(&recovery));
}

#[test]
fn recovery_json_refused() {
    let now = at(2 * 3_600);
    let (evidence, reasons) = judged(Some("True"), Some(at(2 * 3_600 - 8)), now);
    let recovery = Recovery {
        namespace: NAMESPACE.to_owned(),
        stateful_set: "web".to_owned(),
        evidence,
        action: "refused",
        reasons,
        cordoned: false,
        replacement: None,
    };
    insta::assert_snapshot!(rendered_recovery(&recovery));
}

// version: a made-up client version, so that a release does not change the snapshots.

fn rendered_version(server_version: Option<&str>, format: OutputFormat) -> String {
    let version =
        Version { client_version: "v1.2.3".to_owned(), server_version: server_version.map(str::to_owned) };
    text(|out| render(out, &version, format))
}

#[test]
fn version_text() {
    insta::assert_snapshot!(rendered_version(Some("v1.33.1"), OutputFormat::Table));
}

#[test]
fn version_text_client_only() {
    insta::assert_snapshot!(rendered_version(None, OutputFormat::Table));
}

#[test]
fn version_json() {
    insta::assert_snapshot!(rendered_version(Some("v1.33.1"), OutputFormat::Json));
}

#[test]
fn version_json_client_only() {
    insta::assert_snapshot!(rendered_version(None, OutputFormat::Json));
}

#[test]
fn version_wide_is_the_table() {
    assert_eq!(
        rendered_version(Some("v1.33.1"), OutputFormat::Wide),
        rendered_version(Some("v1.33.1"), OutputFormat::Table)
    );
}
