//! Several clusters in one run (`status -A --context a --context b`, `--all-contexts`): what
//! each kubeconfig context gave, and the summary across them. The shell queries the contexts;
//! this only merges what came back.

use serde::Serialize;

use super::resize::quantity;
use super::status::{StatefulSetStatus, WarningCode};

/// What one context gave: its StatefulSets, or why it could not be read (unreachable,
/// forbidden, timed out), as one line.
#[derive(Debug, Clone)]
pub struct ContextResult {
    pub context: String,
    pub outcome: Result<Vec<StatefulSetStatus>, String>,
}

/// Per context and in total: how many StatefulSets, how many with a stuck rollout or a failing
/// controller, how many orphaned claims and their bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetSummary {
    pub contexts: usize,
    /// Contexts that could not be read.
    pub failed: usize,
    pub statefulsets: usize,
    pub stuck_rollouts: usize,
    pub orphaned_claims: usize,
    /// The orphaned claims' capacity in bytes (claims without a readable capacity count 0).
    pub orphaned_bytes: u64,
    pub per_context: Vec<ContextSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextSummary {
    pub context: String,
    pub statefulsets: usize,
    pub stuck_rollouts: usize,
    pub orphaned_claims: usize,
    pub orphaned_bytes: u64,
    /// Why the context could not be read; the counts are then 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A rollout that will not finish by itself: stalled (the forced-rollback trap among others), or
/// a controller failing what it must do.
pub fn stuck(status: &StatefulSetStatus) -> bool {
    status
        .warnings
        .iter()
        .any(|w| matches!(w.code, WarningCode::RolloutStalled | WarningCode::ControllerFailing))
}

/// The summary of `results`, per context in the order given and in total.
pub fn summarize(results: &[ContextResult]) -> FleetSummary {
    let per_context: Vec<ContextSummary> = results
        .iter()
        .map(|r| match &r.outcome {
            Ok(statuses) => {
                let orphans = statuses.iter().flat_map(|s| &s.orphaned_pvcs);
                ContextSummary {
                    context: r.context.clone(),
                    statefulsets: statuses.len(),
                    stuck_rollouts: statuses.iter().filter(|s| stuck(s)).count(),
                    orphaned_claims: orphans.clone().count(),
                    orphaned_bytes: orphans
                        .filter_map(|c| c.capacity.as_deref().and_then(quantity))
                        .map(|b| b as u64)
                        .sum(),
                    error: None,
                }
            }
            Err(error) => ContextSummary {
                context: r.context.clone(),
                statefulsets: 0,
                stuck_rollouts: 0,
                orphaned_claims: 0,
                orphaned_bytes: 0,
                error: Some(error.clone()),
            },
        })
        .collect();
    FleetSummary {
        contexts: per_context.len(),
        failed: per_context.iter().filter(|c| c.error.is_some()).count(),
        statefulsets: per_context.iter().map(|c| c.statefulsets).sum(),
        stuck_rollouts: per_context.iter().map(|c| c.stuck_rollouts).sum(),
        orphaned_claims: per_context.iter().map(|c| c.orphaned_claims).sum(),
        orphaned_bytes: per_context.iter().map(|c| c.orphaned_bytes).sum(),
        per_context,
    }
}

/// The contexts to query, each once, in the order given: `--context` repeated, or with
/// `--all-contexts` every context of the kubeconfig (as `kubectl config get-contexts` lists
/// them).
pub fn contexts_to_query(asked: &[String], all: bool, in_kubeconfig: &[String]) -> Vec<String> {
    let source = if all { in_kubeconfig } else { asked };
    let mut contexts: Vec<String> = Vec::new();
    for context in source {
        if !contexts.contains(context) {
            contexts.push(context.clone());
        }
    }
    contexts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::*;
    use crate::core::reads::Reads;
    use crate::core::status::{StatusOptions, build_all};
    use k8s_openapi::jiff::Timestamp;

    /// The statuses of a namespace with `web` (3 replicas, scaled down from 5: two orphans of
    /// 1Gi) and a healthy `db`.
    fn statuses() -> Vec<StatefulSetStatus> {
        let web = sts("web", 3).templates(&["data"]).build();
        let db = sts("db", 1).templates(&["data"]).build();
        let pvcs: Vec<_> = (0..5)
            .map(|o| pvc(&format!("data-web-{o}")).of(&web).build())
            .chain(std::iter::once(pvc("data-db-0").of(&db).build()))
            .collect();
        let pods = (0..3).map(|o| pod(&web, o).build()).chain(std::iter::once(pod(&db, 0).build())).collect();
        let snapshot = Reads {
            volumes: Some(pvcs.iter().map(|p| pv(&kube::ResourceExt::name_any(p), "Delete")).collect()),
            statefulsets: vec![web, db],
            pods,
            pvcs,
            events: Some(Vec::new()),
            ..Default::default()
        };
        let options = StatusOptions {
            cluster_domain: "cluster.local".into(),
            now: Timestamp::from_second(1_700_000_000).unwrap(),
        };
        build_all(&snapshot, &options)
    }

    #[test]
    fn the_summary_counts_each_context_and_the_fleet() {
        let ok = statuses();
        let orphans = ok.iter().map(|s| s.orphaned_pvcs.len()).sum::<usize>();
        assert_eq!(orphans, 2, "the fixture plants two orphans");
        let results = vec![
            ContextResult { context: "staging".into(), outcome: Ok(ok.clone()) },
            ContextResult { context: "eu-1".into(), outcome: Ok(ok) },
            ContextResult { context: "dead".into(), outcome: Err("connection refused".into()) },
        ];
        let summary = summarize(&results);
        assert_eq!((summary.contexts, summary.failed, summary.statefulsets), (3, 1, 4));
        assert_eq!(summary.orphaned_claims, 4);
        assert_eq!(summary.orphaned_bytes, 4 * 1024 * 1024 * 1024, "1Gi each");
        let names: Vec<&str> = summary.per_context.iter().map(|c| c.context.as_str()).collect();
        assert_eq!(names, ["staging", "eu-1", "dead"], "in the order given");
        assert_eq!(summary.per_context[2].error.as_deref(), Some("connection refused"));
        assert_eq!(summary.per_context[2].statefulsets, 0);
    }

    #[test]
    fn contexts_are_queried_once_each_in_order() {
        let kubeconfig = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let asked = ["b".to_owned(), "a".to_owned(), "b".to_owned()];
        assert_eq!(contexts_to_query(&asked, false, &kubeconfig), ["b", "a"]);
        assert_eq!(contexts_to_query(&[], true, &kubeconfig), ["a", "b", "c"]);
    }
}
