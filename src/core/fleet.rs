//! Several clusters in one run (`status -A --context a --context b`, `--all-contexts`): what
//! each kubeconfig context gave, and the summary across them. The shell queries the contexts;
//! this only merges what came back.

use serde::Serialize;

use super::resize::quantity;
use super::status::{Health, StatefulSetStatus, WarningCode};

/// What one context gave: its StatefulSets, or why it could not be read (unreachable,
/// forbidden, timed out), as one line; and which cluster it reached, when known.
#[derive(Debug, Clone)]
pub struct ContextResult {
    pub context: String,
    pub outcome: Result<Vec<StatefulSetStatus>, String>,
    pub cluster: Option<ClusterIdentity>,
}

/// What tells two contexts reach the same cluster. The uid of the `kube-system` namespace: the
/// API server creates that namespace when the cluster is first started and refuses to delete it
/// (`pkg/kubeapiserver/admission`, NamespaceLifecycle's immortal namespaces), so the uid is
/// one per cluster for its whole life, whatever address, proxy or user reaches it (the
/// identifier KEP-2149's cluster ID discussion names, and multi-cluster tools use). When it may
/// not be read, the API server's URL as the context has it, normalized: the same URL is the same
/// cluster, though one cluster behind two URLs is then counted twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase", tag = "by", content = "value")]
pub enum ClusterIdentity {
    KubeSystemUid(String),
    Server(String),
}

impl ClusterIdentity {
    /// The server URL as an identity: scheme and host in lower case, the default port and a
    /// trailing slash dropped.
    pub fn server(url: &str) -> ClusterIdentity {
        let trimmed = url.trim().trim_end_matches('/');
        let (scheme, rest) = trimmed.split_once("://").unwrap_or(("https", trimmed));
        let scheme = scheme.to_ascii_lowercase();
        let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
        let mut host = host.to_ascii_lowercase();
        let default_port = if scheme == "http" { ":80" } else { ":443" };
        if let Some(bare) = host.strip_suffix(default_port) {
            host = bare.to_owned();
        }
        let path = if path.is_empty() { String::new() } else { format!("/{path}") };
        ClusterIdentity::Server(format!("{scheme}://{host}{path}"))
    }

    pub fn describe(&self) -> String {
        match self {
            ClusterIdentity::KubeSystemUid(uid) => format!("kube-system namespace uid {uid}"),
            ClusterIdentity::Server(url) => format!("API server {url}"),
        }
    }
}

/// Contexts that reach one cluster: counted once, as `counted` (the first of them, in the order
/// asked, that could be read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SameCluster {
    pub contexts: Vec<String>,
    pub counted: String,
    /// What showed they are one cluster: `kube-system namespace uid …` or `API server …`.
    pub identity: String,
}

/// Per context and in total: how many StatefulSets, how many with a stuck rollout or a failing
/// controller, how many orphaned claims and their bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetSummary {
    pub contexts: usize,
    /// Contexts that could not be read.
    pub failed: usize,
    /// Distinct clusters among the contexts that could be read.
    pub clusters: usize,
    /// Groups of contexts that reach the same cluster; each is counted once.
    pub same_cluster: Vec<SameCluster>,
    pub statefulsets: usize,
    pub stuck_rollouts: usize,
    /// How many StatefulSets are in each [`Health`], every one counted (a set at 0/3 Ready that
    /// no rollout touches is `down`, not missing from the counts).
    pub health: HealthCounts,
    /// StatefulSets whose quorum audit finds a risk (`core::status::quorum`, level `risk`).
    pub quorum_risks: usize,
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
    pub quorum_risks: usize,
    pub orphaned_claims: usize,
    pub orphaned_bytes: u64,
    /// Why the context could not be read; the counts are then 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The context this one reaches the same cluster as, which is counted instead (the counts
    /// here are then 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_cluster_as: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCounts {
    pub stuck: usize,
    pub down: usize,
    pub degraded: usize,
    pub progressing: usize,
    pub healthy: usize,
}

impl HealthCounts {
    pub fn of<'s>(statuses: impl IntoIterator<Item = &'s StatefulSetStatus>) -> HealthCounts {
        let mut counts = HealthCounts::default();
        for status in statuses {
            *match status.health {
                Health::Stuck => &mut counts.stuck,
                Health::Down => &mut counts.down,
                Health::Degraded => &mut counts.degraded,
                Health::Progressing => &mut counts.progressing,
                Health::Healthy => &mut counts.healthy,
            } += 1;
        }
        counts
    }

    /// `1 stuck, 1 down, 3 healthy`: the non-zero counts, worst first.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            (self.stuck, Health::Stuck),
            (self.down, Health::Down),
            (self.degraded, Health::Degraded),
            (self.progressing, Health::Progressing),
            (self.healthy, Health::Healthy),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, h)| format!("{n} {}", h.word()))
        .collect();
        parts.join(", ")
    }
}

/// A StatefulSet that will not become whole by itself: a rollout stalled (the forced-rollback
/// trap among others), a controller failing what it must do (or kept from it: a stray in an
/// ordinal's place, a pod holding an ordinal's name), or a pod that cannot start anywhere.
pub fn stuck(status: &StatefulSetStatus) -> bool {
    status.warnings.iter().any(|w| {
        matches!(
            w.code,
            WarningCode::RolloutStalled
                | WarningCode::ControllerFailing
                | WarningCode::StrayPodHoldsOrdinal
                | WarningCode::PodNameTaken
                | WarningCode::VolumeNodeUnavailable
        )
    })
}

/// A StatefulSet whose quorum audit finds a risk: one more ordinary event (a node drained or
/// lost) takes its majority down.
pub fn at_quorum_risk(status: &StatefulSetStatus) -> bool {
    status.quorum.as_ref().is_some_and(|q| q.at_risk())
}

/// For each of `results`, the context it reaches the same cluster as and that is counted
/// instead (the first in order whose read succeeded), or `None` when it is counted itself.
pub fn counted_as(results: &[ContextResult]) -> Vec<Option<String>> {
    let read: Vec<(&str, bool, Option<&ClusterIdentity>)> =
        results.iter().map(|r| (r.context.as_str(), r.outcome.is_ok(), r.cluster.as_ref())).collect();
    same_cluster_as(&read)
}

/// For each context of a fleet run (its name, whether it was read, the cluster it reached when
/// known), the earlier context that was read from the same cluster and is counted instead, or
/// `None`: what any fleet view (status, a prune plan) needs to count each cluster once.
pub fn same_cluster_as(read: &[(&str, bool, Option<&ClusterIdentity>)]) -> Vec<Option<String>> {
    read.iter()
        .enumerate()
        .map(|(i, (_, ok, cluster))| {
            let cluster = cluster.filter(|_| *ok)?;
            read[..i]
                .iter()
                .find(|(_, ok, earlier)| *ok && *earlier == Some(cluster))
                .map(|(context, ..)| (*context).to_owned())
        })
        .collect()
}

/// The groups of contexts that reached one cluster ([`same_cluster_as`]), each with the context
/// counted and what showed they are one.
pub fn same_cluster_groups(read: &[(&str, bool, Option<&ClusterIdentity>)]) -> Vec<SameCluster> {
    let mut groups: Vec<SameCluster> = Vec::new();
    for ((context, _, cluster), first) in read.iter().zip(same_cluster_as(read)) {
        let Some(first) = first else { continue };
        match groups.iter_mut().find(|g| g.counted == first) {
            Some(group) => group.contexts.push((*context).to_owned()),
            None => groups.push(SameCluster {
                contexts: vec![first.clone(), (*context).to_owned()],
                counted: first,
                identity: cluster.map(ClusterIdentity::describe).unwrap_or_default(),
            }),
        }
    }
    groups
}

/// The summary of `results`, per context in the order given and in total; a context that
/// reaches the same cluster as an earlier one is listed with no counts of its own.
pub fn summarize(results: &[ContextResult]) -> FleetSummary {
    let counted = counted_as(results);
    let per_context: Vec<ContextSummary> = results
        .iter()
        .zip(&counted)
        .map(|(r, same)| match (&r.outcome, same) {
            (Ok(_), Some(first)) => ContextSummary {
                context: r.context.clone(),
                statefulsets: 0,
                stuck_rollouts: 0,
                quorum_risks: 0,
                orphaned_claims: 0,
                orphaned_bytes: 0,
                error: None,
                same_cluster_as: Some(first.clone()),
            },
            (Ok(statuses), None) => {
                let orphans = statuses.iter().flat_map(|s| &s.orphaned_pvcs);
                ContextSummary {
                    context: r.context.clone(),
                    statefulsets: statuses.len(),
                    stuck_rollouts: statuses.iter().filter(|s| stuck(s)).count(),
                    quorum_risks: statuses.iter().filter(|s| at_quorum_risk(s)).count(),
                    orphaned_claims: orphans.clone().count(),
                    orphaned_bytes: orphans
                        .filter_map(|c| c.capacity.as_deref().and_then(quantity))
                        .map(|b| b as u64)
                        .sum(),
                    error: None,
                    same_cluster_as: None,
                }
            }
            (Err(error), _) => ContextSummary {
                context: r.context.clone(),
                statefulsets: 0,
                stuck_rollouts: 0,
                quorum_risks: 0,
                orphaned_claims: 0,
                orphaned_bytes: 0,
                error: Some(error.clone()),
                same_cluster_as: None,
            },
        })
        .collect();
    let read: Vec<(&str, bool, Option<&ClusterIdentity>)> =
        results.iter().map(|r| (r.context.as_str(), r.outcome.is_ok(), r.cluster.as_ref())).collect();
    let same_cluster = same_cluster_groups(&read);
    FleetSummary {
        contexts: per_context.len(),
        failed: per_context.iter().filter(|c| c.error.is_some()).count(),
        clusters: per_context.iter().filter(|c| c.error.is_none() && c.same_cluster_as.is_none()).count(),
        same_cluster,
        statefulsets: per_context.iter().map(|c| c.statefulsets).sum(),
        stuck_rollouts: per_context.iter().map(|c| c.stuck_rollouts).sum(),
        health: HealthCounts::of(
            results
                .iter()
                .zip(&counted)
                .filter(|(_, same)| same.is_none())
                .filter_map(|(r, _)| r.outcome.as_ref().ok())
                .flatten(),
        ),
        quorum_risks: per_context.iter().map(|c| c.quorum_risks).sum(),
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
            nodes: Some(vec![node("node-0", "True"), node("node-1", "True")]),
            ..Default::default()
        };
        let options = StatusOptions {
            cluster_domain: "cluster.local".into(),
            now: Timestamp::from_second(1_700_000_000).unwrap(),
            flags: Default::default(),
        };
        build_all(&snapshot, &options)
    }

    #[test]
    fn the_summary_counts_each_context_and_the_fleet() {
        let ok = statuses();
        let orphans = ok.iter().map(|s| s.orphaned_pvcs.len()).sum::<usize>();
        assert_eq!(orphans, 2, "the fixture plants two orphans");
        let cluster = |id: &str| Some(ClusterIdentity::KubeSystemUid(id.to_owned()));
        let results = vec![
            ContextResult { context: "staging".into(), outcome: Ok(ok.clone()), cluster: cluster("s") },
            ContextResult { context: "eu-1".into(), outcome: Ok(ok), cluster: cluster("e") },
            ContextResult {
                context: "dead".into(),
                outcome: Err("connection refused".into()),
                cluster: None,
            },
        ];
        let summary = summarize(&results);
        assert_eq!((summary.contexts, summary.failed, summary.statefulsets), (3, 1, 4));
        assert_eq!(summary.orphaned_claims, 4);
        assert_eq!(summary.orphaned_bytes, 4 * 1024 * 1024 * 1024, "1Gi each");
        let names: Vec<&str> = summary.per_context.iter().map(|c| c.context.as_str()).collect();
        assert_eq!(names, ["staging", "eu-1", "dead"], "in the order given");
        assert_eq!(summary.per_context[2].error.as_deref(), Some("connection refused"));
        assert_eq!(summary.per_context[2].statefulsets, 0);
        // web: 3 members on one node, no budget read (unknown, not counted): at risk.
        assert_eq!(summary.quorum_risks, 2, "web in each context read");
        assert_eq!(summary.per_context[0].quorum_risks, 1);
    }

    #[test]
    fn contexts_reaching_one_cluster_are_counted_once_and_named() {
        let ok = statuses();
        let uid = |id: &str| Some(ClusterIdentity::KubeSystemUid(id.to_owned()));
        let result = |context: &str, outcome: Result<Vec<StatefulSetStatus>, String>, cluster| {
            ContextResult { context: context.into(), outcome, cluster }
        };
        let results = vec![
            // The first context of the cluster could not be read: the next one counts.
            result("prod-ro", Err("forbidden".into()), uid("p")),
            result("prod", Ok(ok.clone()), uid("p")),
            result("staging", Ok(ok.clone()), uid("s")),
            result("prod-admin", Ok(ok.clone()), uid("p")),
            result("by-url", Ok(ok.clone()), Some(ClusterIdentity::server("HTTPS://Prod.example:443/"))),
            result("by-url-2", Ok(ok), Some(ClusterIdentity::server("https://prod.example"))),
        ];
        assert_eq!(
            counted_as(&results),
            [None, None, None, Some("prod".into()), None, Some("by-url".into())]
        );
        let summary = summarize(&results);
        assert_eq!((summary.contexts, summary.failed, summary.clusters), (6, 1, 3));
        assert_eq!(summary.statefulsets, 3 * 2, "prod, staging and by-url, two StatefulSets each");
        assert_eq!(summary.orphaned_claims, 3 * 2);
        assert_eq!(
            summary.same_cluster,
            [
                SameCluster {
                    contexts: vec!["prod".into(), "prod-admin".into()],
                    counted: "prod".into(),
                    identity: "kube-system namespace uid p".into()
                },
                SameCluster {
                    contexts: vec!["by-url".into(), "by-url-2".into()],
                    counted: "by-url".into(),
                    identity: "API server https://prod.example".into()
                },
            ]
        );
        assert_eq!(summary.per_context[3].same_cluster_as.as_deref(), Some("prod"));
        assert_eq!(summary.per_context[3].statefulsets, 0);
    }

    /// Health, worst first, from the counts and the warnings; a set at 0/3 Ready that no
    /// rollout touches is counted (as down), where the stuck-rollout count says 0.
    #[test]
    fn health_in_one_word_and_every_set_counted() {
        use crate::core::status::{Warning, WarningCode::RolloutStalled};
        let base = statuses().remove(0);
        let with = |ready: i32, updated: i32, warnings: Vec<Warning>| {
            let mut s = base.clone();
            (s.replicas.desired, s.replicas.ready, s.replicas.updated, s.warnings) =
                (3, ready, updated, warnings);
            s.health = Health::of(&s);
            s
        };
        let stalled = || vec![Warning { code: RolloutStalled, message: String::new() }];
        let table = [
            (with(3, 3, vec![]), Health::Healthy),
            (with(3, 1, vec![]), Health::Progressing),
            (with(2, 3, vec![]), Health::Degraded),
            (with(0, 3, vec![]), Health::Down),
            (with(2, 2, stalled()), Health::Stuck),
            (with(0, 0, stalled()), Health::Stuck),
        ];
        for (status, health) in &table {
            assert_eq!(status.health, *health, "{:?}", status.replicas);
        }
        let mut zero = base.clone();
        (zero.replicas.desired, zero.replicas.ready, zero.replicas.updated) = (0, 0, 0);
        assert_eq!(Health::of(&zero), Health::Healthy, "none wanted, none missing");

        let counts = HealthCounts::of(table.iter().map(|(s, _)| s));
        assert_eq!(counts, HealthCounts { stuck: 2, down: 1, degraded: 1, progressing: 1, healthy: 1 });
        assert_eq!(counts.describe(), "2 stuck, 1 down, 1 degraded, 1 progressing, 1 healthy");
        let down =
            ContextResult { context: "c".into(), outcome: Ok(vec![with(0, 3, vec![])]), cluster: None };
        let summary = summarize(&[down]);
        assert_eq!((summary.stuck_rollouts, summary.health.down), (0, 1));
    }

    #[test]
    fn a_set_the_controller_cannot_make_whole_is_stuck() {
        let mut status = statuses().remove(0);
        assert!(!stuck(&status));
        for code in
            [WarningCode::StrayPodHoldsOrdinal, WarningCode::PodNameTaken, WarningCode::VolumeNodeUnavailable]
        {
            status.warnings = vec![crate::core::status::Warning { code, message: String::new() }];
            assert!(stuck(&status), "{code:?}");
        }
        status.warnings =
            vec![crate::core::status::Warning { code: WarningCode::StrayPod, message: String::new() }];
        assert!(!stuck(&status), "a stray beside the set's own pod keeps nothing from happening");
    }

    #[test]
    fn contexts_are_queried_once_each_in_order() {
        let kubeconfig = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let asked = ["b".to_owned(), "a".to_owned(), "b".to_owned()];
        assert_eq!(contexts_to_query(&asked, false, &kubeconfig), ["b", "a"]);
        assert_eq!(contexts_to_query(&[], true, &kubeconfig), ["a", "b", "c"]);
    }
}
