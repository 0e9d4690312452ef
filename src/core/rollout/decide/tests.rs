//! The table tests of `decide` and its parts, on the builders of `core::fixtures`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Event, Namespace};

use super::*;
use crate::core::fixtures::{NAMESPACE, pod, sts};
use crate::core::rollout::ROLLOUT_ANNOTATION;

fn now() -> Timestamp {
    Timestamp::from_second(1_700_000_500).unwrap()
}

fn decided(sts: &StatefulSet, pods: &[Pod], request: &Request) -> Result<Decision, Refusal> {
    decide(
        &Cluster {
            namespace: None,
            sts,
            pods,
            events: &[],
            max_unavailable: None,
            revisions: &[],
            zones: None,
            application: None,
        },
        request,
        now(),
    )
}

/// The pods of `web` from its first ordinal on, one per revision given.
fn pods(web: &StatefulSet, revisions: &[&str]) -> Vec<Pod> {
    let start = crate::core::objects::start_ordinal(web);
    revisions.iter().zip(start..).map(|(r, o)| pod(web, o).revision(r).build()).collect()
}

fn journal(partition_before: i32, aborting: bool) -> String {
    Journal {
        steps: vec!["1".into(), "50%".into(), "100%".into()],
        partition_before,
        from_revision: "web-old".into(),
        started_at: Timestamp::from_second(1_700_000_000).unwrap(),
        staged_replicas: None,
        aborting,
        held: false,
        gates: Gates::default(),
        strategy_before: None,
        by_zone: false,
        ready_at_start: None,
    }
    .to_annotation()
}

fn template(web: &StatefulSet) -> PodTemplateSpec {
    let mut template = web.spec.as_ref().unwrap().template.clone();
    template.spec.as_mut().unwrap().containers[0].image = Some("example.invalid/app:v2".into());
    template
}

fn roll(decision: Result<Decision, Refusal>) -> Roll {
    match decision {
        Ok(Decision::Roll(roll)) => *roll,
        other => panic!("expected a rollout, got {other:?}"),
    }
}

fn partitions(steps: &[Step]) -> Vec<(usize, i32, Vec<i32>)> {
    steps.iter().map(|s| (s.number, s.partition, s.ordinals.clone())).collect()
}

#[test]
fn a_new_template_stages_then_steps_down_from_replicas() {
    let web = sts("web", 4).revisions("web-old", "web-old").build();
    let new = template(&web);
    let request = Request { template: Some(&new), ..Request::default() };
    let roll = roll(decided(&web, &pods(&web, &["web-old"; 4]), &request));
    assert_eq!(
        roll.stage,
        Some(Stage { template: Some(new), partition: Some(4), switch_to_on_delete: false })
    );
    assert_eq!(partitions(&roll.steps), [(1, 3, vec![3]), (2, 2, vec![2]), (3, 0, vec![1, 0])]);
    assert_eq!(roll.to_revision, None, "named once staged");
    assert_eq!(roll.settle_first, None);
    let journal = roll.journal.unwrap();
    assert_eq!((journal.partition_before, journal.from_revision.as_str()), (0, "web-old"));
    assert_eq!(journal.started_at, now());
}

#[test]
fn a_pending_update_is_picked_up_by_holding_every_pod_back() {
    let web = sts("web", 3).revisions("web-old", "web-new").partition(2).build();
    let roll = roll(decided(&web, &pods(&web, &["web-old", "web-old", "web-new"]), &Request::default()));
    assert_eq!(roll.stage, Some(Stage { template: None, partition: Some(3), switch_to_on_delete: false }));
    assert_eq!(roll.to_revision.as_deref(), Some("web-new"));
    // web-2 already runs the update revision: no step names it again.
    assert_eq!(partitions(&roll.steps), [(1, 2, vec![]), (2, 1, vec![1]), (3, 0, vec![0])]);
}

#[test]
fn nothing_pending_is_nothing_to_do_or_a_partition_move() {
    let web = sts("web", 3).partition(2).build();
    let all = pods(&web, &["web-rev1"; 3]);
    assert_eq!(
        decided(&web, &all, &Request::default()).unwrap(),
        Decision::NothingToDo { revision: "web-rev1".into() }
    );
    let request = Request { partition: Some(0), ..Request::default() };
    assert_eq!(
        decided(&web, &all, &request).unwrap(),
        Decision::MovePartition { to: 0, revision: "web-rev1".into() }
    );
}

#[test]
fn an_explicit_step_on_a_changed_template_writes_the_journal_with_the_step() {
    let web = sts("web", 3).revisions("web-old", "web-new").partition(3).build();
    let request = Request { partition: Some(2), ..Request::default() };
    let roll = roll(decided(&web, &pods(&web, &["web-old"; 3]), &request));
    assert_eq!(roll.stage, None, "the partition already holds every pod");
    assert_eq!(partitions(&roll.steps), [(1, 2, vec![2])]);
    assert!(roll.journal.is_some());
}

#[test]
fn an_explicit_step_with_a_new_template_stages_first() {
    let web = sts("db", 3).start(10).build();
    let new = template(&web);
    let request = Request { template: Some(&new), partition: Some(2), ..Request::default() };
    let roll = roll(decided(&web, &pods(&web, &["db-rev1"; 3]), &request));
    assert_eq!(roll.stage.and_then(|s| s.partition), Some(3));
    assert_eq!(partitions(&roll.steps), [(1, 2, vec![12])], "replica index 2 is ordinal 12");
}

#[test]
fn a_resumed_rollout_settles_first_and_keeps_its_step_numbers() {
    let web = sts("web", 4)
        .revisions("web-old", "web-new")
        .partition(3)
        .annotation(ROLLOUT_ANNOTATION, &journal(0, false))
        .build();
    let roll =
        roll(decided(&web, &pods(&web, &["web-old", "web-old", "web-old", "web-new"]), &Request::default()));
    assert_eq!(roll.stage, None);
    assert_eq!(roll.journal, None, "the journal is already there");
    assert_eq!(roll.settle_first.map(|s| s.ordinals), Some(vec![3]));
    assert_eq!(partitions(&roll.steps), [(2, 2, vec![2]), (3, 0, vec![1, 0])]);
    assert_eq!(roll.from_revision.as_deref(), Some("web-old"));
}

#[test]
fn an_on_delete_set_is_rolled_out_by_eviction_from_the_revision_its_pods_run() {
    // The controller never promotes a revision to current under OnDelete: the current
    // revision is stale, the pods say what runs.
    let web = sts("web", 4).on_delete().revisions("web-ancient", "web-old").build();
    let new = template(&web);
    let request = Request { template: Some(&new), ..Request::default() };
    let roll = roll(decided(&web, &pods(&web, &["web-old"; 4]), &request));
    assert_eq!(roll.replace, Replace::Eviction);
    assert_eq!(
        roll.stage,
        Some(Stage { template: Some(new), partition: None, switch_to_on_delete: false }),
        "no partition under OnDelete"
    );
    assert_eq!(partitions(&roll.steps), [(1, 3, vec![3]), (2, 2, vec![2]), (3, 0, vec![1, 0])]);
    assert_eq!((roll.pods_at_once, roll.partition), (1, 4));
    assert_eq!(roll.from_revision.as_deref(), Some("web-old"));
    let journal = roll.journal.unwrap();
    assert_eq!((journal.partition_before, journal.from_revision.as_str()), (0, "web-old"));
}

#[test]
fn an_on_delete_update_someone_else_applied_is_picked_up_where_the_pods_stand() {
    // The template changed; web-3 and web-2 were deleted by hand and came back updated.
    let web = sts("web", 4).on_delete().revisions("web-old", "web-new").build();
    let roll =
        roll(decided(&web, &pods(&web, &["web-old", "web-old", "web-new", "web-new"]), &Request::default()));
    assert_eq!(roll.stage, None, "nothing to stage");
    assert!(roll.journal.is_some(), "written before the first eviction");
    assert_eq!(partitions(&roll.steps), [(3, 0, vec![1, 0])]);
    assert_eq!(roll.partition, 2);
    assert_eq!(roll.from_revision.as_deref(), Some("web-old"));
    // Resumed (journal there): what was replaced is waited for first.
    let resumed = sts("web", 4)
        .on_delete()
        .revisions("web-old", "web-new")
        .annotation(ROLLOUT_ANNOTATION, &journal(0, false))
        .build();
    let resumed_pods = pods(&resumed, &["web-old", "web-old", "web-new", "web-new"]);
    let again = self::roll(decided(&resumed, &resumed_pods, &Request::default()));
    assert_eq!(again.settle_first.map(|s| s.ordinals), Some(vec![3, 2]));
    assert_eq!(partitions(&again.steps), [(3, 0, vec![1, 0])]);
}

#[test]
fn an_on_delete_set_whose_pods_all_run_the_update_revision_has_nothing_to_do() {
    let web = sts("web", 3).on_delete().revisions("web-ancient", "web-new").build();
    assert_eq!(
        decided(&web, &pods(&web, &["web-new"; 3]), &Request::default()).unwrap(),
        Decision::NothingToDo { revision: "web-new".into() }
    );
}

#[test]
fn an_on_delete_abort_evicts_back_to_the_journal_revision() {
    let web = sts("web", 3)
        .on_delete()
        .revisions("web-ancient", "web-new")
        .annotation(ROLLOUT_ANNOTATION, &journal(0, false))
        .build();
    let request = Request { abort: true, ..Request::default() };
    match decided(&web, &pods(&web, &["web-old", "web-new", "web-new"]), &request).unwrap() {
        Decision::Abort(abort) => {
            assert_eq!(abort.replace, Replace::Eviction);
            assert_eq!(abort.target, "web-old");
            assert!(abort.restore_template);
            assert_eq!((abort.rollback_partition, abort.partition), (0, 0), "no partition is written");
        }
        other => panic!("expected an abort, got {other:?}"),
    }
    // Without a journal, back to what most pods not on the update revision run.
    let bare = sts("web", 3).on_delete().revisions("web-ancient", "web-new").build();
    match decided(&bare, &pods(&bare, &["web-old", "web-old", "web-new"]), &request).unwrap() {
        Decision::Abort(abort) => assert_eq!(abort.target, "web-old"),
        other => panic!("expected an abort, got {other:?}"),
    }
}

#[test]
fn evict_replaces_a_rolling_update_set_by_eviction_and_keeps_its_strategy_to_restore() {
    let web = sts("web", 3).revisions("web-old", "web-old").partition(1).build();
    let new = template(&web);
    let request = Request { template: Some(&new), evict: true, ..Request::default() };
    let roll = roll(decided(&web, &pods(&web, &["web-old"; 3]), &request));
    assert_eq!(roll.replace, Replace::Eviction);
    let stage = roll.stage.unwrap();
    assert!(stage.switch_to_on_delete && stage.partition.is_none());
    let journal = roll.journal.unwrap();
    assert_eq!(
        serde_json::to_value(&journal.strategy_before).unwrap(),
        serde_json::json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 1}})
    );
    assert_eq!(partitions(&roll.steps), [(1, 2, vec![2]), (2, 1, vec![1]), (3, 0, vec![0])]);
    assert!(roll.warnings.iter().any(|w| w.starts_with("--evict: the update strategy of web is OnDelete")));
    // A partitioned rollout in progress is not switched half-way.
    let started = sts("web", 3)
        .revisions("web-old", "web-new")
        .partition(2)
        .annotation(ROLLOUT_ANNOTATION, &self::journal(0, false))
        .build();
    let again = Request { evict: true, ..Request::default() };
    let error = decided(&started, &pods(&started, &["web-old", "web-old", "web-new"]), &again).unwrap_err();
    assert!(matches!(error, Refusal::EvictMidRollout { .. }), "{error}");
    // Once switched (OnDelete with the journal), --evict changes nothing: it resumes.
    let switched = sts("web", 3).on_delete().annotation(ROLLOUT_ANNOTATION, &journal.to_annotation()).build();
    assert!(decided(&switched, &pods(&switched, &["web-old"; 3]), &again).is_ok());
    // With --evict, zones are allowed on a RollingUpdate set.
    let zoned = Request { template: Some(&new), evict: true, by_zone: true, ..Request::default() };
    assert!(decided(&web, &pods(&web, &["web-old"; 3]), &zoned).is_ok());
}

#[test]
fn a_gate_container_must_be_in_the_template_and_by_zone_is_journaled() {
    let web = sts("web", 3).on_delete().build();
    let gates = Gates { exec: vec!["true".into()], container: Some("nope".into()), ..Gates::default() };
    let request = Request { gates: Some(&gates), ..Request::default() };
    let error = decided(&web, &pods(&web, &["web-rev1"; 3]), &request).unwrap_err();
    assert!(matches!(error, Refusal::UnknownGateContainer { .. }) && error.is_usage(), "{error}");
    let new = template(&web);
    let zoned = Request { template: Some(&new), by_zone: true, ..Request::default() };
    let roll = roll(decided(&web, &pods(&web, &["web-rev1"; 3]), &zoned));
    assert!(roll.journal.unwrap().by_zone, "a resumed run goes on by zone");
}

#[test]
fn by_zone_no_step_spans_two_zones() {
    let web = sts("web", 4).on_delete().revisions("web-old", "web-old").build();
    let new = template(&web);
    let zones: BTreeMap<i32, Option<String>> =
        [(0, "a"), (1, "b"), (2, "a"), (3, "b")].into_iter().map(|(o, z)| (o, Some(z.to_owned()))).collect();
    let request = Request { template: Some(&new), by_zone: true, ..Request::default() };
    let all = pods(&web, &["web-old"; 4]);
    let cluster = Cluster {
        namespace: None,
        sts: &web,
        pods: &all,
        events: &[],
        max_unavailable: None,
        revisions: &[],
        zones: Some(&zones),
        application: None,
    };
    let roll = roll(decide(&cluster, &request, now()));
    assert_eq!(partitions(&roll.steps), [(1, 3, vec![3]), (2, 2, vec![1]), (3, 0, vec![2, 0])]);
}

#[test]
fn refusals() {
    let web = sts("web", 3).build();
    let all = pods(&web, &["web-rev1"; 3]);
    let refused = |sts: &StatefulSet, request: Request| decided(sts, &all, &request).unwrap_err();

    let on_delete = sts("web", 3).on_delete().build();
    let explicit = Request { partition: Some(1), ..Request::default() };
    assert!(matches!(refused(&on_delete, explicit), Refusal::PartitionOnDelete { .. }));
    assert!(refused(&on_delete, explicit).is_usage());
    let zoned = Request { by_zone: true, ..Request::default() };
    assert!(matches!(refused(&web, zoned), Refusal::ZonesNeedOnDelete { .. }));
    assert!(refused(&web, zoned).is_usage());
    let hold = Request { hold: true, ..Request::default() };
    let text = refused(&on_delete, hold).to_string();
    assert!(text.contains("`kubectl stateful rollout web -n default` steps it through"), "{text}");
    let recreate = sts("web", 3).recreate().build();
    let error = refused(&recreate, Request::default());
    assert!(matches!(error, Refusal::Recreate { .. }));
    let text = error.to_string();
    assert!(text.contains("no partition to step") && text.contains("nothing was changed"), "{text}");
    assert!(
        text.contains(
            r#"-p '{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":3}}}}'"#
        ),
        "{text}"
    );

    for n in [-1, 4] {
        let error = refused(&web, Request { partition: Some(n), ..Request::default() });
        assert!(matches!(error, Refusal::PartitionOutOfRange { partition, .. } if partition == n));
        assert!(error.is_usage());
    }

    let mut scaling = sts("web", 3).build();
    scaling.status.as_mut().unwrap().replicas = 2;
    let new = template(&web);
    let error = refused(&scaling, Request { template: Some(&new), ..Request::default() });
    assert_eq!(error.to_string().split(':').next(), Some("web is scaling (status.replicas 2 of 3)"));
    assert!(!error.is_usage());

    let in_flight = sts("web", 3).annotation(ROLLOUT_ANNOTATION, &journal(0, false)).build();
    let new = template(&web);
    let error = refused(&in_flight, Request { template: Some(&new), ..Request::default() });
    assert!(matches!(error, Refusal::InProgress { .. }), "{error}");

    let unreadable = sts("web", 3).annotation(ROLLOUT_ANNOTATION, "{").build();
    let error = refused(&unreadable, Request::default());
    assert!(matches!(error, Refusal::Journal { .. }), "{error}");
    assert!(error.to_string().contains("--discard-journal"), "a way out: {error}");
}

/// Every command a refusal prints carries the StatefulSet's namespace and the run's
/// `--context`/`--kubeconfig`, quoted, so that it runs as printed wherever it is pasted.
#[test]
fn refusals_print_commands_that_run_as_printed() {
    let flags = RunFlags {
        context: Some("prod eu".into()),
        kubeconfig: Some("/k/it's".into()),
        ..Default::default()
    };
    let on = "-n default --context 'prod eu' --kubeconfig '/k/it'\\''s'";
    let web = sts("web", 3).build();
    let all = pods(&web, &["web-rev1"; 3]);
    let refused = |sts: &StatefulSet, request: Request| decided(sts, &all, &request).unwrap_err().to_string();
    let new = template(&web);

    let on_delete = sts("web", 3).on_delete().build();
    let text = refused(&on_delete, Request { hold: true, flags: &flags, ..Request::default() });
    assert!(text.contains(&format!("`kubectl stateful rollout web {on}` steps it through")), "{text}");

    let text = refused(&sts("web", 3).recreate().build(), Request { flags: &flags, ..Request::default() });
    assert!(
        text.contains(
            "(`kubectl -n default --context 'prod eu' --kubeconfig '/k/it'\\''s' patch statefulset web --type merge -p \
             '{\"spec\":{\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"partition\":3}}}}'`)"
        ),
        "{text}"
    );

    let in_flight = sts("web", 3).annotation(ROLLOUT_ANNOTATION, &journal(0, false)).build();
    let text = refused(&in_flight, Request { template: Some(&new), flags: &flags, ..Request::default() });
    assert!(
        text.contains(&format!(
            "run `kubectl stateful rollout web {on}` to resume it, or run `kubectl stateful rollout web --abort {on}` \
             before staging another"
        )),
        "{text}"
    );
    let text = refused(&in_flight, Request { evict: true, flags: &flags, ..Request::default() });
    assert!(
        text.contains(&format!(
            "run `kubectl stateful rollout web {on}` (without --evict) to resume it, or `kubectl stateful rollout \
             web --abort {on}` to roll it back"
        )),
        "{text}"
    );

    let aborting = sts("web", 3).annotation(ROLLOUT_ANNOTATION, &journal(0, true)).build();
    let text = refused(&aborting, Request { partition: Some(0), flags: &flags, ..Request::default() });
    assert!(
        text.contains(&format!("run `kubectl stateful rollout web --abort {on}` to finish it")),
        "{text}"
    );

    let unreadable = sts("web", 3).annotation(ROLLOUT_ANNOTATION, "{").build();
    let text = refused(&unreadable, Request { flags: &flags, ..Request::default() });
    assert!(
        text.contains(&format!("`kubectl stateful rollout web --discard-journal {on}` shows it")),
        "{text}"
    );

    let error =
        decided(&web, &all[..2], &Request { template: Some(&new), flags: &flags, ..Request::default() })
            .unwrap_err();
    assert!(matches!(error, Refusal::PodMissing { .. }), "{error}");
    assert!(error.to_string().contains(&format!("`kubectl stateful status web {on}` shows why")), "{error}");

    let held = sts("web", 3).annotation(ROLLOUT_ANNOTATION, &journal(0, false)).build();
    assert_eq!(abort_hint(&held, &flags), format!("run `kubectl stateful rollout web --abort {on}`"));
}

#[test]
fn a_journal_keeps_a_rollout_going_through_a_scale() {
    let mut scaling = sts("web", 3).annotation(ROLLOUT_ANNOTATION, &journal(0, false)).build();
    scaling.status.as_mut().unwrap().replicas = 2;
    let all = pods(&scaling, &["web-rev1"; 3]);
    assert!(matches!(decided(&scaling, &all, &Request::default()), Ok(Decision::Roll(_))));
}

#[test]
fn waiting_may_lift_what_the_controller_has_not_caught_up_with() {
    let behind = sts("web", 3).scaling(2).build();
    let error = decided(&behind, &[], &Request::default()).unwrap_err();
    assert!(matches!(error, Refusal::NotObserved { .. }) && error.may_pass());
    let mut short = sts("web", 3).build();
    short.status.as_mut().unwrap().replicas = 2;
    let new = template(&short);
    let error = decided(&short, &[], &Request { template: Some(&new), ..Request::default() }).unwrap_err();
    assert!(matches!(error, Refusal::Scaling { .. }) && error.may_pass());
    assert_eq!(
        decided(&short, &[], &Request::default()).unwrap(),
        Decision::NothingToDo { revision: "web-rev1".into() },
        "nothing to roll out is true even mid-scale"
    );
}

#[test]
fn abort_targets_the_journal_or_the_current_revision() {
    let web = sts("web", 3)
        .revisions("web-old", "web-new")
        .partition(2)
        .annotation(ROLLOUT_ANNOTATION, &journal(0, false))
        .build();
    let request = Request { abort: true, ..Request::default() };
    let Decision::Abort(abort) = decided(&web, &[], &request).unwrap() else { panic!() };
    assert_eq!((abort.target.as_str(), abort.partition, abort.resumed), ("web-old", 0, false));
    assert!(abort.journal.aborting);

    let theirs = sts("web", 3).revisions("web-old", "web-new").partition(2).build();
    let Decision::Abort(abort) = decided(&theirs, &[], &request).unwrap() else { panic!() };
    assert_eq!((abort.target.as_str(), abort.partition), ("web-old", 2), "someone else's partition stays");

    let settled = sts("web", 3).build();
    assert_eq!(
        decided(&settled, &pods(&settled, &["web-rev1"; 3]), &request).unwrap(),
        Decision::NothingToAbort { revision: "web-rev1".into() }
    );
}

/// A rollout records which pods were Ready at its start (the journal's `readyAtStart`), and the
/// abort of it carries that record: it waits for those pods only.
#[test]
fn a_rollout_records_the_health_at_its_start_and_its_abort_keeps_it() {
    let web = sts("web", 3).revisions("web-old", "web-old").parallel().build();
    let pods = [
        pod(&web, 0).revision("web-old").build(),
        pod(&web, 1).revision("web-old").ready(false).build(),
        pod(&web, 2).revision("web-old").ready(false).build(),
    ];
    let new = template(&web);
    let roll = roll(decided(&web, &pods, &Request { template: Some(&new), ..Request::default() }));
    let recorded = roll.journal.unwrap().ready_at_start;
    assert_eq!(recorded, Some(ReadyAtStart { ordinals: vec![0], replicas: 3 }));
    let hold = decided(&web, &pods, &Request { hold: true, ..Request::default() }).unwrap();
    let Decision::Hold(hold) = hold else { panic!("{hold:?}") };
    assert_eq!(hold.journal.ready_at_start, recorded);

    let journal = Journal {
        ready_at_start: recorded.clone(),
        ..Journal::of(&sts("web", 3).annotation(ROLLOUT_ANNOTATION, &journal(0, false)).build())
            .unwrap()
            .unwrap()
    };
    let rolling = sts("web", 3)
        .revisions("web-old", "web-new")
        .partition(2)
        .annotation(ROLLOUT_ANNOTATION, &journal.to_annotation())
        .build();
    let Decision::Abort(abort) =
        decided(&rolling, &[], &Request { abort: true, ..Request::default() }).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        abort.journal.ready_at_start, recorded,
        "the abort waits for what was Ready, from the journal"
    );
    let flags = RunFlags::default();
    assert_eq!(
        not_ready_after_abort(
            &rolling,
            "web-old",
            &["web-1".into(), "web-2".into()],
            recorded.as_ref(),
            &flags
        ),
        format!(
            "web-1, web-2 are on revision old but not Ready: they were not Ready before the rollout either \
             (1/3 Ready at its start), so the abort did not wait for them; `kubectl stateful status web -n {NAMESPACE}` \
             shows why"
        )
    );
}

#[test]
fn nothing_is_rolled_while_the_statefulset_or_its_namespace_is_being_deleted() {
    let mut web = sts("web", 1).build();
    web.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()));
    web.metadata.finalizers = Some(vec!["example.com/backup".into()]);
    let error = decided(&web, &pods(&web, &["web-rev1"]), &Request { abort: true, ..Request::default() })
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "StatefulSet web is being deleted (finalizers example.com/backup): nothing to roll out or back; nothing was changed"
    );
    let web = sts("web", 1).build();
    let namespace: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "default", "deletionTimestamp": "2023-11-14T22:13:20Z"}
    }))
    .unwrap();
    let cluster = Cluster {
        namespace: Some(&namespace),
        sts: &web,
        pods: &[],
        events: &[],
        max_unavailable: None,
        revisions: &[],
        zones: None,
        application: None,
    };
    assert!(matches!(decide(&cluster, &Request::default(), now()), Err(Refusal::Deleting { .. })));
}

#[test]
fn an_interrupted_abort_is_not_overridden_by_new_flags() {
    let web = sts("web", 3).annotation(ROLLOUT_ANNOTATION, &journal(0, true)).build();
    let new = template(&web);
    for request in [
        Request { template: Some(&new), ..Request::default() },
        Request { partition: Some(0), ..Request::default() },
    ] {
        assert!(matches!(decided(&web, &[], &request), Err(Refusal::AbortPending { .. })));
    }
}

#[test]
fn an_interrupted_abort_resumes_as_an_abort() {
    let web = sts("web", 3).annotation(ROLLOUT_ANNOTATION, &journal(0, true)).build();
    let Decision::Abort(abort) = decided(&web, &[], &Request::default()).unwrap() else { panic!() };
    assert!(abort.resumed);
}

#[test]
fn a_rollout_is_refused_while_the_controller_cannot_act() {
    let web = sts("web", 3).build();
    let new = template(&web);
    let request = Request { template: Some(&new), ..Request::default() };

    let missing = [pod(&web, 0).build(), pod(&web, 2).build()];
    let error = decided(&web, &missing, &request).unwrap_err();
    assert!(matches!(&error, Refusal::PodMissing { pod, .. } if pod == "web-1"), "{error}");
    assert!(error.may_pass() && error.waits_for_pods());

    let stray = [pod(&web, 0).build(), pod(&web, 1).build(), pod(&web, 2).build(), pod(&web, 3).build()];
    let error = decided(&web, &stray, &request).unwrap_err();
    assert!(matches!(&error, Refusal::StrayPod { pod, .. } if pod == "web-3"), "{error}");

    let web = sts("web", 2).templates(&["data", "logs"]).build();
    let mut adopted = pod(&web, 0).build();
    adopted.spec.as_mut().unwrap().volumes.as_mut().unwrap().retain(|v| v.name != "logs");
    let error = decided(&web, &[adopted, pod(&web, 1).build()], &request).unwrap_err();
    assert!(matches!(error, Refusal::Blocked { .. }), "{error}");
    assert!(!error.may_pass(), "waiting does not help");
    assert!(error.to_string().contains("does not mount logs-web-0"), "{error}");
}

#[test]
fn a_failing_controller_blocks_even_a_resumed_rollout() {
    use k8s_openapi::api::core::v1::ObjectReference;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    let web = sts("web", 2)
        .revisions("web-old", "web-new")
        .partition(1)
        .annotation(ROLLOUT_ANNOTATION, &journal(0, false))
        .build();
    let failure = Event {
        involved_object: ObjectReference {
            kind: Some("StatefulSet".into()),
            uid: web.uid(),
            ..Default::default()
        },
        reason: Some("FailedCreate".into()),
        type_: Some("Warning".into()),
        message: Some(
            "create Pod web-0 in StatefulSet web failed error: pods \"web-0\" is forbidden: exceeded quota"
                .into(),
        ),
        last_timestamp: Some(Time(now())),
        ..Default::default()
    };
    let pods = [pod(&web, 1).revision("web-new").build()];
    let error = decide(
        &Cluster {
            namespace: None,
            sts: &web,
            pods: &pods,
            events: &[failure],
            max_unavailable: None,
            revisions: &[],
            zones: None,
            application: None,
        },
        &Request::default(),
        now(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("fails to create Pod web-0"), "{error}");
}

#[test]
fn a_resumed_plan_names_pods_a_scale_up_created_on_the_new_revision() {
    let journal = Journal {
        steps: vec!["1".into(), "100%".into()],
        partition_before: 0,
        from_revision: "web-old".into(),
        started_at: now(),
        staged_replicas: Some(3),
        aborting: false,
        held: false,
        gates: Gates::default(),
        strategy_before: None,
        by_zone: false,
        ready_at_start: None,
    };
    let web = sts("web", 5)
        .revisions("web-old", "web-new")
        .partition(3)
        .annotation(ROLLOUT_ANNOTATION, &journal.to_annotation())
        .build();
    let all = pods(&web, &["web-old", "web-old", "web-old", "web-new", "web-new"]);
    let roll = roll(decided(&web, &all, &Request::default()));
    assert_eq!(roll.warnings.len(), 1);
    assert!(roll.warnings[0].starts_with("web-3, web-4 run the update revision"), "{:?}", roll.warnings);
    assert!(roll.steps.iter().all(|s| !s.ordinals.contains(&3) && !s.ordinals.contains(&4)));
}

#[test]
fn the_plan_counts_on_max_unavailable_only_when_the_server_honours_it() {
    use crate::core::facts::Honoured;
    let web = sts("web", 5).max_unavailable(2).build();
    let new = template(&web);
    let request = Request { template: Some(&new), ..Request::default() };
    let all = pods(&web, &["web-rev1"; 5]);
    let with = |honoured: Honoured| {
        let cluster = Cluster {
            namespace: None,
            sts: &web,
            pods: &all,
            events: &[],
            max_unavailable: Some(&honoured),
            revisions: &[],
            zones: None,
            application: None,
        };
        roll(decide(&cluster, &request, now()))
    };
    let honoured = with(Honoured::Yes);
    assert_eq!((honoured.pods_at_once, honoured.warnings.len()), (2, 0));
    let ignored = with(Honoured::No);
    assert_eq!(ignored.pods_at_once, 1);
    assert!(ignored.warnings[0].contains("updates one pod at a time"), "{:?}", ignored.warnings);
    let unknown = with(Honoured::Unknown("no permission".into()));
    assert_eq!(unknown.pods_at_once, 1);
    assert!(unknown.warnings[0].contains("up to 2 pods may be updated at once"), "{:?}", unknown.warnings);
    assert_eq!(honoured.steps, ignored.steps, "the partitions are the same either way");
}

#[test]
fn a_rollout_between_revisions_of_one_template_says_it_only_restarts_pods() {
    use crate::core::fixtures::controller_revision;
    let web = sts("web", 2).revisions("web-old", "web-new").build();
    let all = pods(&web, &["web-old", "web-old"]);
    let spec = serde_json::json!({"containers": [{"name": "app", "image": "app:v1"}]});
    let revisions = [
        controller_revision(
            &web,
            "web-old",
            serde_json::json!({"metadata": {"creationTimestamp": null}, "spec": spec}),
        ),
        controller_revision(&web, "web-new", serde_json::json!({"metadata": {}, "spec": spec})),
    ];
    let cluster = Cluster {
        namespace: None,
        sts: &web,
        pods: &all,
        events: &[],
        max_unavailable: None,
        revisions: &revisions,
        zones: None,
        application: None,
    };
    let roll = roll(decide(&cluster, &Request::default(), now()));
    assert_eq!(roll.warnings.len(), 1);
    assert!(roll.warnings[0].contains("only restarts pods"), "{:?}", roll.warnings);
}

/// Argo CD applies the template (its image included); `partition` adds the partition to
/// what a chart renders, owned by `helm`.
fn owned(replicas: i32, partition_by_helm: bool) -> crate::core::fixtures::StsBuilder {
    let image = serde_json::json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
        "k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}});
    let builder = sts("web", replicas);
    if partition_by_helm {
        builder
            .annotation("meta.helm.sh/release-name", "db")
            .annotation("meta.helm.sh/release-namespace", "default")
            .managed_by("helm", "Apply", image)
            .managed_by(
                "helm",
                "Apply",
                serde_json::json!({"f:spec": {"f:updateStrategy": {"f:rollingUpdate": {"f:partition": {}}}}}),
            )
    } else {
        builder.annotation("argocd.argoproj.io/tracking-id", "shop:apps/StatefulSet:default/web").managed_by(
            "argocd-controller",
            "Apply",
            image,
        )
    }
}

#[test]
fn a_template_git_owns_is_changed_in_git_held_back_not_here() {
    let web = owned(3, false).build();
    let all = pods(&web, &["web-rev1"; 3]);
    let new = template(&web);
    let request = Request { template: Some(&new), ..Request::default() };
    let error = decided(&web, &all, &request).unwrap_err();
    let text = error.to_string();
    assert!(matches!(&error, Refusal::Owned(owned) if owned.snippet.is_none()), "{error:?}");
    assert!(
        text.starts_with(
            "The image of container app of web is owned by Argo CD application shop (field manager \
             argocd-controller)"
        ),
        "{text}"
    );
    assert!(
        text.contains("nothing was changed")
            && text.contains("`kubectl stateful rollout web --hold -n default`"),
        "{text}"
    );

    let forced = roll(decided(&web, &all, &Request { override_owner: true, ..request }));
    assert!(
        forced.warnings[0].starts_with("--override-owner: the image of container app is owned by Argo CD")
    );
    // Picking up a change Git made writes only the partition, which Git does not set.
    let synced = owned(3, false).revisions("web-rev1", "web-rev2").build();
    assert!(decided(&synced, &all, &Request::default()).is_ok());
}

#[test]
fn a_partition_a_chart_renders_is_refused_with_what_to_change() {
    let web = owned(3, true).revisions("web-rev1", "web-rev2").build();
    let all = pods(&web, &["web-rev1"; 3]);
    for request in [Request::default(), Request { hold: true, ..Request::default() }] {
        let error = decided(&web, &all, &request).unwrap_err();
        let Refusal::Owned(owned) = &error else { panic!("{error:?}") };
        let snippet = owned.snippet.as_deref().unwrap();
        assert!(
            error.to_string().starts_with("The partition of web is owned by Helm release default/db"),
            "{error}"
        );
        assert!(snippet.contains("release db") && snippet.contains("partition"), "{snippet}");
    }
    let forced = roll(decided(&web, &all, &Request { override_owner: true, ..Request::default() }));
    assert!(
        forced.warnings[0].contains("the partition is owned by Helm release default/db"),
        "{:?}",
        forced.warnings
    );
}

#[test]
fn hold_then_git_then_step() {
    let web = owned(3, false).build();
    let all = pods(&web, &["web-rev1"; 3]);
    let Decision::Hold(hold) = decided(&web, &all, &Request { hold: true, ..Request::default() }).unwrap()
    else {
        panic!("a hold")
    };
    assert_eq!((hold.partition, hold.journal.held, hold.journal.partition_before), (3, true, 0));
    assert_eq!(hold.owner.as_deref(), Some("Argo CD application shop"));

    let held = owned(3, false).partition(3).annotation(ROLLOUT_ANNOTATION, &hold.journal.to_annotation());
    let waiting = held.clone().build();
    for request in [Request::default(), Request { hold: true, ..Request::default() }] {
        assert_eq!(
            decided(&waiting, &all, &request).unwrap(),
            Decision::Held { partition: 3, revision: "web-rev1".into() }
        );
    }
    // Git applies the new template: the controller names a new update revision, no pod moves.
    let synced = held.revisions("web-rev1", "web-rev2").build();
    let roll = roll(decided(&synced, &all, &Request::default()));
    assert_eq!((roll.stage, roll.journal), (None, None), "nothing to stage: the journal is there");
    assert_eq!(partitions(&roll.steps), [(1, 2, vec![2]), (2, 1, vec![1]), (3, 0, vec![0])]);

    let not_held = sts("web", 3).partition(3).annotation(ROLLOUT_ANNOTATION, &journal(0, false)).build();
    let error = decided(&not_held, &all, &Request { hold: true, ..Request::default() }).unwrap_err();
    assert!(matches!(error, Refusal::InProgress { .. }), "{error:?}");
}

#[test]
fn an_abort_of_a_held_rollout_is_a_revert_in_git() {
    let web = owned(3, false).build();
    let all = pods(&web, &["web-rev1"; 3]);
    let Ok(Decision::Hold(hold)) = decided(&web, &all, &Request { hold: true, ..Request::default() }) else {
        panic!("a hold")
    };
    let journal = Journal { from_revision: "web-rev1".into(), ..hold.journal };
    let held = owned(3, false).partition(2).annotation(ROLLOUT_ANNOTATION, &journal.to_annotation());
    let mid = held.clone().revisions("web-rev1", "web-rev2").build();
    let released = pods(&mid, &["web-rev1", "web-rev1", "web-rev2"]);
    let abort = Request { abort: true, ..Request::default() };
    let error = decided(&mid, &released, &abort).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, Refusal::RevertInGit { partition_before: 0, .. }), "{error:?}");
    assert!(text.contains("Revert the change in Git") && text.contains("(web-2)"), "{text}");

    let Decision::Abort(forced) =
        decided(&mid, &released, &Request { override_owner: true, ..abort }).unwrap()
    else {
        panic!("an abort")
    };
    assert!(forced.restore_template);
    assert!(
        forced.warnings[0].contains("the restored pod template is owned by Argo CD"),
        "{:?}",
        forced.warnings
    );

    // Git reverted: the update revision is the one from before again; the abort only ends it.
    let reverted = held.revisions("web-rev1", "web-rev1").build();
    let Decision::Abort(end) = decided(&reverted, &released, &abort).unwrap() else { panic!("an abort") };
    assert!(!end.restore_template);
    assert_eq!((end.partition, end.warnings.len()), (0, 0));
}

/// `--evict` writes the whole update strategy (OnDelete for the rollout): refused when a tool
/// that sets it back owns any of it, with what to change, and a warning when overridden.
#[test]
fn evict_is_refused_where_a_tool_owns_the_update_strategy() {
    let strategy = serde_json::json!({"f:spec": {"f:updateStrategy": {"f:type": {}}}});
    let argo = owned(3, false).managed_by("argocd-controller", "Apply", strategy.clone()).build();
    let helm = sts("web", 3)
        .annotation("meta.helm.sh/release-name", "db")
        .managed_by("helm", "Apply", strategy.clone())
        .build();
    let plain = sts("web", 3).managed_by("kubectl-client-side-apply", "Update", strategy).build();
    let new = template(&argo);
    let evict = Request { evict: true, ..Request::default() };
    let rows: [(&StatefulSet, Option<&str>, &str); 3] = [
        (
            &argo,
            Some(
                "The update strategy of web is owned by Argo CD application shop (field manager argocd-controller)",
            ),
            "Git sets updateStrategy of StatefulSet web",
        ),
        (
            &helm,
            Some(
                "The update strategy of web is owned by Helm release db (field manager helm), which sets it back at \
                  the next helm upgrade (Helm 4's upgrade fails on the conflict instead)",
            ),
            "The chart of release db renders updateStrategy",
        ),
        (&plain, None, ""),
    ];
    for (web, refused, snippet) in rows {
        let all = pods(web, &["web-rev1"; 3]);
        // The image is refused first where Git owns it: --evict on a template change from Git.
        let synced = {
            let mut web = web.clone();
            web.status.as_mut().unwrap().update_revision = Some("web-rev2".into());
            web
        };
        let decision = decided(&synced, &all, &evict);
        match (refused, decision) {
            (Some(start), Err(error)) => {
                let Refusal::Owned(owned) = &error else { panic!("{error:?}") };
                assert!(error.to_string().starts_with(start), "{error}");
                assert!(error.to_string().contains("nothing was changed"), "{error}");
                assert!(owned.snippet.as_deref().unwrap().starts_with(snippet), "{:?}", owned.snippet);
                let forced = roll(decided(&synced, &all, &Request { override_owner: true, ..evict }));
                assert!(
                    forced
                        .warnings
                        .iter()
                        .any(|w| w.starts_with("--override-owner: the update strategy is owned by")),
                    "{:?}",
                    forced.warnings
                );
            }
            (None, Ok(Decision::Roll(roll))) => assert!(roll.stage.unwrap().switch_to_on_delete),
            (_, other) => panic!("{other:?}"),
        }
    }
    // Without --evict the strategy is not written: nothing to refuse for it.
    let request = Request { template: Some(&new), override_owner: true, ..Request::default() };
    let plain_roll = roll(decided(&argo, &pods(&argo, &["web-rev1"; 3]), &request));
    assert!(plain_roll.warnings.iter().all(|w| !w.contains("update strategy")), "{:?}", plain_roll.warnings);
}

/// Argo CD's `Replace=true` replaces the whole object at each sync: it owns the partition though
/// managedFields do not say so, and a hold would not hold.
#[test]
fn a_hold_is_refused_where_argo_cd_replaces_the_object_at_each_sync() {
    let replaced =
        owned(3, false).annotation("argocd.argoproj.io/sync-options", "Validate=false, Replace=true");
    let web = replaced.clone().build();
    let all = pods(&web, &["web-rev1"; 3]);
    let hold = Request { hold: true, ..Request::default() };
    let error = decided(&web, &all, &hold).unwrap_err();
    let Refusal::Owned(refused) = &error else { panic!("{error:?}") };
    assert_eq!(
        error.to_string(),
        "The partition of web is owned by Argo CD application shop (it syncs with Replace=true: annotation \
         argocd.argoproj.io/sync-options), which sets it back at its next sync (at once with self-heal): the hold \
         would not hold: setting it back releases every pod the partition holds, at once; nothing was changed. \
         Make Argo CD leave the partition to kubectl stateful (as printed above), or pass --override-owner to step \
         it anyway"
    );
    assert!(refused.snippet.as_deref().unwrap().contains("Remove Replace=true from that annotation in Git"));
    // Its steps and --evict's strategy alike.
    let synced = replaced.revisions("web-rev1", "web-rev2").build();
    for request in [Request::default(), Request { evict: true, ..Request::default() }] {
        let error = decided(&synced, &all, &request).unwrap_err();
        assert!(error.to_string().contains("it syncs with Replace=true"), "{error}");
    }
    // Other sync options, or Replace=false: the partition is nobody's, the hold holds.
    for options in ["Validate=false", "Replace=false", "ServerSideApply=true"] {
        let web = owned(3, false).annotation("argocd.argoproj.io/sync-options", options).build();
        assert!(matches!(decided(&web, &all, &hold), Ok(Decision::Hold(_))), "{options}");
    }
}

/// `Replace=true` set on the Argo CD Application (not on the object) is read from it: the
/// application then owns the partition; one that could not be read is said with the hold.
#[test]
fn an_application_that_syncs_with_replace_owns_the_partition_and_an_unread_one_is_said() {
    use crate::core::owners::AppSync;
    let web = owned(3, false).build();
    let all = pods(&web, &["web-rev1"; 3]);
    let hold = Request { hold: true, ..Request::default() };
    let with = |application: &AppSync| {
        decide(
            &Cluster {
                namespace: None,
                sts: &web,
                pods: &all,
                events: &[],
                max_unavailable: None,
                revisions: &[],
                zones: None,
                application: Some(application),
            },
            &hold,
            now(),
        )
    };
    let replace = AppSync::Replace("Application argocd/shop's spec.syncPolicy.syncOptions".into());
    let error = with(&replace).unwrap_err();
    assert!(
        error.to_string().starts_with(
            "The partition of web is owned by Argo CD application shop (it syncs with Replace=true: Application \
             argocd/shop's spec.syncPolicy.syncOptions)"
        ),
        "{error}"
    );
    let Ok(Decision::Hold(applies)) = with(&AppSync::Applies) else { panic!("a hold") };
    assert!(applies.warnings.is_empty(), "{:?}", applies.warnings);
    let Ok(Decision::Hold(unknown)) = with(&AppSync::Unknown("forbidden".into())) else { panic!("a hold") };
    assert_eq!(unknown.warnings.len(), 1);
    assert!(
        unknown.warnings[0]
            .starts_with("the hold holds only if Argo CD application shop does not sync with Replace=true")
            && unknown.warnings[0].contains("Application argocd/shop could not be read (forbidden)"),
        "{:?}",
        unknown.warnings
    );
}

/// Helm is no GitOps tool: its words say what Helm does (an upgrade, a rollback), not a sync.
#[test]
fn a_helm_release_gets_helms_words_not_a_syncs() {
    let image = serde_json::json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
        "k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}});
    let chart = || {
        sts("web", 3)
            .annotation("meta.helm.sh/release-name", "db")
            .annotation("meta.helm.sh/release-namespace", "default")
            .managed_by("helm", "Apply", image.clone())
    };
    let web = chart().build();
    let all = pods(&web, &["web-rev1"; 3]);
    let new = template(&web);
    let text =
        decided(&web, &all, &Request { template: Some(&new), ..Request::default() }).unwrap_err().to_string();
    assert!(
        text.contains(
            "which sets it back at the next helm upgrade (Helm 4's upgrade fails on the conflict instead)"
        ) && text.contains("Change it in the release's chart or values instead, held back")
            && text.contains("put the change in the release's values, and once helm upgrade has applied it")
            && !text.contains("Git")
            && !text.contains("sync"),
        "{text}"
    );
    let Ok(Decision::Hold(hold)) = decided(&web, &all, &Request { hold: true, ..Request::default() }) else {
        panic!("a hold: the chart does not render the partition")
    };
    let journal = Journal { from_revision: "web-rev1".into(), ..hold.journal };
    let mid = chart()
        .partition(2)
        .annotation(ROLLOUT_ANNOTATION, &journal.to_annotation())
        .revisions("web-rev1", "web-rev2")
        .build();
    let released = pods(&mid, &["web-rev1", "web-rev1", "web-rev2"]);
    let text =
        decided(&mid, &released, &Request { abort: true, ..Request::default() }).unwrap_err().to_string();
    assert!(
        text.contains("which its owner sets back at the next helm upgrade")
            && text.contains("Roll the release back to its previous values (helm rollback, or helm upgrade with them) instead")
            && !text.contains("Git"),
        "{text}"
    );
    let flags = crate::core::advice::RunFlags::default();
    assert_eq!(
        abort_hint(&mid, &flags),
        format!(
            "roll the release back to its previous values (helm rollback, or helm upgrade with them), then run \
             `kubectl stateful rollout web --abort -n {NAMESPACE}`"
        )
    );
    assert_eq!(undo_first(&mid), Some("roll the release back"));
    let argo = owned(3, false).partition(2).annotation(ROLLOUT_ANNOTATION, &journal.to_annotation()).build();
    assert_eq!(
        abort_hint(&argo, &flags),
        format!("revert the change in Git, then run `kubectl stateful rollout web --abort -n {NAMESPACE}`")
    );
    assert_eq!(undo_first(&argo), Some("revert the change in Git"));
}

#[test]
fn a_set_applied_with_plain_kubectl_is_rolled_out_as_ever() {
    let web = sts("web", 2)
        .managed_by("kubectl-client-side-apply", "Update", serde_json::json!({"f:spec": {"f:template": {}}}))
        .build();
    let new = template(&web);
    let request = Request { template: Some(&new), ..Request::default() };
    assert!(roll(decided(&web, &pods(&web, &["web-rev1"; 2]), &request)).warnings.is_empty());
}

#[test]
fn a_pod_the_statefulset_controls_under_another_name_is_a_stray() {
    let web = sts("web", 1).build();
    let mut adopted = pod(&web, 0).build();
    adopted.metadata.name = Some("web-canary".into());
    let error = decided(
        &web,
        &[pod(&web, 0).build(), adopted],
        &Request { partition: Some(0), ..Request::default() },
    );
    assert!(
        matches!(error, Ok(Decision::MovePartition { .. })),
        "moving the partition of a settled set is fine"
    );
    let new = template(&web);
    let request = Request { template: Some(&new), ..Request::default() };
    let mut adopted = pod(&web, 0).build();
    adopted.metadata.name = Some("web-canary".into());
    let error = decided(&web, &[pod(&web, 0).build(), adopted], &request).unwrap_err();
    assert!(matches!(&error, Refusal::StrayPod { pod, .. } if pod == "web-canary"), "{error}");
}

proptest::proptest! {
    /// Whatever partition stood before the rollout (`before`) and however far it got
    /// (`reached`), the abort rolls back with the partition low enough that the controller
    /// brings back every pod on another revision, and then restores `before`.
    #[test]
    fn an_abort_reaches_every_index_the_rollout_released(
        replicas in 1i32..8, start in 0i32..3, before in 0i32..9, reached in 0i32..9,
    ) {
        let web = sts("web", replicas)
            .start(start)
            .revisions("web-old", "web-new")
            .partition(reached)
            .annotation(ROLLOUT_ANNOTATION, &journal(before, false))
            .build();
        // Pods at or above the partition the rollout reached run the new revision.
        let revisions: Vec<&str> = (0..replicas).map(|i| if i >= reached { "web-new" } else { "web-old" }).collect();
        let all = pods(&web, &revisions);
        let request = Request { abort: true, ..Request::default() };
        let Decision::Abort(abort) = decided(&web, &all, &request).unwrap() else { panic!("not an abort") };
        proptest::prop_assert!(abort.rollback_partition >= 0);
        proptest::prop_assert!(abort.rollback_partition <= reached.min(before));
        proptest::prop_assert_eq!(abort.partition, before);
        proptest::prop_assert!(abort.restore_template);
        let range = ordinal_range(&web);
        for (ordinal, pod) in pods_of(&web, &all) {
            if pod_revision(pod) != Some("web-old") {
                proptest::prop_assert!(range.index_of(ordinal) >= i64::from(abort.rollback_partition));
            }
        }
    }
}

/// A resumed rollout keeps its journaled gates, but `--ignore-pdb` asked of this run is
/// honoured (never dropped): rows (asked, the gates it runs, whether it warns that it keeps
/// the journal's).
#[test]
fn ignore_pdb_on_a_resume_is_honoured_and_other_gates_are_kept() {
    let web = sts("web", 4)
        .revisions("web-old", "web-new")
        .partition(3)
        .annotation(ROLLOUT_ANNOTATION, &journal(0, false))
        .build();
    let pods = pods(&web, &["web-old", "web-old", "web-old", "web-new"]);
    let ignoring = Gates { ignore_pdb: true, ..Gates::default() };
    let exec = Gates { exec: vec!["true".into()], ..Gates::default() };
    let both = Gates { exec: vec!["true".into()], ignore_pdb: true, ..Gates::default() };
    let cases: [(Option<&Gates>, Gates, bool); 4] = [
        (None, Gates::default(), false),
        (Some(&ignoring), ignoring.clone(), false),
        (Some(&exec), Gates::default(), true),
        (Some(&both), ignoring.clone(), true),
    ];
    for (asked, runs, warns) in cases {
        let roll = roll(decided(&web, &pods, &Request { gates: asked, ..Request::default() }));
        assert_eq!(roll.gates, runs, "{asked:?}");
        let kept = roll.warnings.iter().any(|w| w.starts_with("this rollout keeps the gates"));
        assert_eq!(kept, warns, "{asked:?}: {:?}", roll.warnings);
    }
}
