//! PodDisruptionBudgets over a StatefulSet's members: which budgets select which members (by
//! the pods' own labels, not the template's: an operator may label one pod `role: primary`),
//! what a budget's rule lets go down at a given size, as the disruption controller computes it
//! (`pkg/controller/disruption/disruption.go`, `getExpectedPodCount`), and what its status says
//! now.
//!
//! The controller counts `desiredHealthy` from the rule: `minAvailable` as an integer is
//! absolute (the pods it selects are the expected count); `maxUnavailable` (integer or
//! percentage) and a percentage `minAvailable` are scaled from the *expected scale*, the sum of
//! `spec.replicas` of the pods' controllers, rounded up. So those re-base when the set's
//! replicas change (cozystack/etcd-operator#351), an integer `minAvailable` does not.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use kube::core::{Selector, SelectorExt};
use serde::Serialize;

use super::objects::{ordinal_range, pods_of, template_labels};

/// The eviction policy for pods that are not Ready when no policy is set
/// (`spec.unhealthyPodEvictionPolicy`, KEP-3017).
pub const IF_HEALTHY_BUDGET: &str = "IfHealthyBudget";
/// Not-Ready pods may be evicted whatever the budget allows.
pub const ALWAYS_ALLOW: &str = "AlwaysAllow";

/// An amount in a budget's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    Count(i32),
    Percent(i32),
}

impl Amount {
    fn of(value: &IntOrString) -> Option<Amount> {
        match value {
            IntOrString::Int(n) => Some(Amount::Count(*n)),
            IntOrString::String(s) => match s.strip_suffix('%') {
                Some(p) => p.parse().ok().map(Amount::Percent),
                None => s.parse().ok().map(Amount::Count),
            },
        }
    }

    /// The amount out of `of`, a percentage rounded up (`intstr.GetScaledValueFromIntOrPercent`
    /// with `roundUp`, as the disruption controller calls it).
    pub fn scaled(self, of: i32) -> i32 {
        match self {
            Amount::Count(n) => n,
            Amount::Percent(p) => {
                let product = i64::from(p) * i64::from(of.max(0));
                ((product + 99) / 100) as i32
            }
        }
    }

    fn text(self) -> String {
        match self {
            Amount::Count(n) => n.to_string(),
            Amount::Percent(p) => format!("{p}%"),
        }
    }
}

/// A budget's rule as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    MinAvailable(Amount),
    MaxUnavailable(Amount),
    /// Neither (or a value that does not parse): the controller wants no pod healthy.
    None,
}

impl Rule {
    pub fn of(pdb: &PodDisruptionBudget) -> Rule {
        let spec = pdb.spec.as_ref();
        // The controller reads maxUnavailable first.
        if let Some(max) = spec.and_then(|s| s.max_unavailable.as_ref()) {
            return Amount::of(max).map_or(Rule::None, Rule::MaxUnavailable);
        }
        match spec.and_then(|s| s.min_available.as_ref()) {
            Some(min) => Amount::of(min).map_or(Rule::None, Rule::MinAvailable),
            None => Rule::None,
        }
    }

    /// `minAvailable 2`, `maxUnavailable 50%`, `no minAvailable or maxUnavailable`.
    pub fn describe(self) -> String {
        match self {
            Rule::MinAvailable(a) => format!("minAvailable {}", a.text()),
            Rule::MaxUnavailable(a) => format!("maxUnavailable {}", a.text()),
            Rule::None => "no minAvailable or maxUnavailable".to_owned(),
        }
    }

    /// `spec.minAvailable` as written, for JSON.
    pub fn min_available(self) -> Option<String> {
        match self {
            Rule::MinAvailable(a) => Some(a.text()),
            _ => None,
        }
    }

    pub fn max_unavailable(self) -> Option<String> {
        match self {
            Rule::MaxUnavailable(a) => Some(a.text()),
            _ => None,
        }
    }

    /// Whether the controller counts it from the controllers' replicas (so it re-bases when
    /// they change): `maxUnavailable`, and a percentage `minAvailable`.
    pub fn counts_from_replicas(self) -> bool {
        matches!(self, Rule::MaxUnavailable(_) | Rule::MinAvailable(Amount::Percent(_)))
    }

    /// `desiredHealthy` for `expected` pods (the expected scale, or for an integer
    /// `minAvailable` the pods selected), never below 0.
    pub fn desired_healthy(self, expected: i32) -> i32 {
        match self {
            Rule::MinAvailable(a) => a.scaled(expected),
            Rule::MaxUnavailable(a) => (expected - a.scaled(expected)).max(0),
            Rule::None => 0,
        }
    }

    /// How many of `expected` healthy pods it lets go down at once.
    pub fn tolerates(self, expected: i32) -> i32 {
        (expected - self.desired_healthy(expected)).max(0)
    }
}

/// A budget's status as its controller last computed it, for its current spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Numbers {
    pub disruptions_allowed: i32,
    pub current_healthy: i32,
    pub desired_healthy: i32,
    pub expected_pods: i32,
}

/// The budget's status numbers; `None` when its controller has not evaluated its current spec
/// (`observedGeneration` behind `generation`) or has not written a status yet.
pub fn numbers(pdb: &PodDisruptionBudget) -> Option<Numbers> {
    let status = pdb.status.as_ref()?;
    let current =
        status.observed_generation.is_some() && status.observed_generation >= pdb.metadata.generation;
    current.then_some(Numbers {
        disruptions_allowed: status.disruptions_allowed,
        current_healthy: status.current_healthy,
        desired_healthy: status.desired_healthy,
        expected_pods: status.expected_pods,
    })
}

/// `spec.unhealthyPodEvictionPolicy`, defaulted.
pub fn unhealthy_policy(pdb: &PodDisruptionBudget) -> &str {
    pdb.spec.as_ref().and_then(|s| s.unhealthy_pod_eviction_policy.as_deref()).unwrap_or(IF_HEALTHY_BUDGET)
}

/// Whether `pdb` selects a pod with `labels` in `namespace`. A policy/v1 budget with an empty
/// selector selects every pod of its namespace; one without a selector selects none.
pub fn selects(
    pdb: &PodDisruptionBudget,
    namespace: Option<&str>,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    if pdb.namespace().as_deref() != namespace {
        return false;
    }
    let Some(selector) = pdb.spec.as_ref().and_then(|s| s.selector.clone()) else { return false };
    Selector::try_from(selector).is_ok_and(|s| s.matches(labels))
}

/// A budget over some of a StatefulSet's members.
#[derive(Debug, Clone)]
pub struct Cover<'a> {
    pub pdb: &'a PodDisruptionBudget,
    /// The live ordinals it selects: by each pod's own labels, or the template's for an ordinal
    /// without a pod (what its pod will carry).
    pub ordinals: Vec<i32>,
}

impl Cover<'_> {
    pub fn name(&self) -> String {
        self.pdb.name_any()
    }

    pub fn rule(&self) -> Rule {
        Rule::of(self.pdb)
    }

    /// The pods the budget counts once every member has its pod: what the controller counts
    /// for this set alone (its replicas for a rule counted from the scale, the members selected
    /// for an integer `minAvailable`), or its status's `expectedPods` when that is more (it
    /// selects other pods too). Not the status alone: for an integer `minAvailable` it counts
    /// the pods that exist, one fewer while a member is re-created.
    pub fn expected(&self, replicas: i32) -> i32 {
        let own = match self.rule() {
            Rule::MinAvailable(Amount::Count(_)) => self.ordinals.len() as i32,
            _ => replicas,
        };
        numbers(self.pdb).map_or(own, |n| n.expected_pods.max(own))
    }

    /// How many of this set's members it lets go down at once when every pod it counts is
    /// healthy: what its rule tolerates of what it counts, at most the members it selects.
    pub fn tolerates(&self, replicas: i32) -> i32 {
        self.rule().tolerates(self.expected(replicas)).min(self.ordinals.len() as i32)
    }

    /// It can never allow a disruption: its rule wants every pod it counts healthy.
    pub fn never_allows(&self, replicas: i32) -> bool {
        let expected = self.expected(replicas);
        expected > 0 && self.rule().tolerates(expected) == 0
    }
}

/// The budgets that select any live member of `sts`, in name order, each with the members it
/// selects.
pub fn covering<'a>(pdbs: &'a [PodDisruptionBudget], sts: &StatefulSet, pods: &[Pod]) -> Vec<Cover<'a>> {
    let namespace = sts.namespace();
    let range = ordinal_range(sts);
    let own = pods_of(sts, pods);
    let template = template_labels(sts);
    let mut covers: Vec<Cover> = pdbs
        .iter()
        .filter_map(|pdb| {
            let ordinals: Vec<i32> = range
                .ordinals()
                .filter(|o| {
                    let labels = own.iter().find(|(p, _)| p == o).map_or(&template, |(_, pod)| pod.labels());
                    selects(pdb, namespace.as_deref(), labels)
                })
                .collect();
            (!ordinals.is_empty()).then_some(Cover { pdb, ordinals })
        })
        .collect();
    covers.sort_by_key(Cover::name);
    covers
}

/// A budget as `status` shows it over one StatefulSet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetStatus {
    pub name: String,
    /// `spec.minAvailable` as written (`2`, `60%`), or `null`.
    pub min_available: Option<String>,
    pub max_unavailable: Option<String>,
    /// The pods of this set it selects.
    pub selects: Vec<String>,
    /// How many of this set's members its rule lets go down at once when all are healthy.
    pub tolerates: i32,
    /// `status.disruptionsAllowed`: how many it allows now; `null` when its controller has not
    /// evaluated its current spec.
    pub disruptions_allowed: Option<i32>,
    pub current_healthy: Option<i32>,
    pub desired_healthy: Option<i32>,
    pub expected_pods: Option<i32>,
    /// `spec.unhealthyPodEvictionPolicy` (`IfHealthyBudget` when unset).
    pub unhealthy_pod_eviction_policy: String,
}

impl BudgetStatus {
    pub fn of(cover: &Cover, sts_name: &str, replicas: i32) -> BudgetStatus {
        let rule = cover.rule();
        let numbers = numbers(cover.pdb);
        BudgetStatus {
            name: cover.name(),
            min_available: rule.min_available(),
            max_unavailable: rule.max_unavailable(),
            selects: cover.ordinals.iter().map(|o| super::names::pod_name(sts_name, *o)).collect(),
            tolerates: cover.tolerates(replicas),
            disruptions_allowed: numbers.map(|n| n.disruptions_allowed),
            current_healthy: numbers.map(|n| n.current_healthy),
            desired_healthy: numbers.map(|n| n.desired_healthy),
            expected_pods: numbers.map(|n| n.expected_pods),
            unhealthy_pod_eviction_policy: unhealthy_policy(cover.pdb).to_owned(),
        }
    }

    /// `PodDisruptionBudget web allows 0 disruptions now (2 healthy, 2 needed)`, or that it
    /// was not evaluated yet.
    pub fn describe_now(&self) -> String {
        match (self.disruptions_allowed, self.current_healthy, self.desired_healthy) {
            (Some(allowed), Some(healthy), Some(desired)) => format!(
                "PodDisruptionBudget {} allows {allowed} disruption{} now ({healthy} healthy, {desired} needed)",
                self.name,
                if allowed == 1 { "" } else { "s" }
            ),
            _ => format!("PodDisruptionBudget {} has not been evaluated for its current spec yet", self.name),
        }
    }
}

#[cfg(test)]
pub(crate) fn pdb(
    name: &str,
    spec: serde_json::Value,
    status: Option<serde_json::Value>,
) -> PodDisruptionBudget {
    let mut value = serde_json::json!({
        "metadata": {"name": name, "namespace": super::fixtures::NAMESPACE, "generation": 1},
        "spec": spec,
    });
    if let Some(status) = status {
        value["status"] = status;
    }
    serde_json::from_value(value).unwrap()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::fixtures::{pod, sts};

    fn counted(allowed: i32, healthy: i32, desired: i32, expected: i32) -> serde_json::Value {
        json!({"observedGeneration": 1, "disruptionsAllowed": allowed, "currentHealthy": healthy,
               "desiredHealthy": desired, "expectedPods": expected})
    }

    /// The disruption controller's arithmetic, row by row: (rule, expected) → desired healthy,
    /// tolerated.
    #[test]
    fn rules_count_as_the_disruption_controller_does() {
        let cases = [
            (json!({"minAvailable": 2}), 3, 2, 1),
            (json!({"minAvailable": 3}), 3, 3, 0),
            (json!({"minAvailable": 5}), 3, 5, 0),
            (json!({"minAvailable": "51%"}), 3, 2, 1),
            (json!({"minAvailable": "50%"}), 5, 3, 2),
            (json!({"minAvailable": "100%"}), 3, 3, 0),
            (json!({"maxUnavailable": 1}), 3, 2, 1),
            (json!({"maxUnavailable": 2}), 5, 3, 2),
            (json!({"maxUnavailable": 0}), 5, 5, 0),
            (json!({"maxUnavailable": "34%"}), 3, 1, 2),
            (json!({"maxUnavailable": "0%"}), 3, 3, 0),
            (json!({"maxUnavailable": 9}), 3, 0, 3),
            (json!({}), 3, 0, 3),
        ];
        for (spec, expected, desired, tolerates) in cases {
            let rule = Rule::of(&pdb("b", spec.clone(), None));
            assert_eq!(
                (rule.desired_healthy(expected), rule.tolerates(expected)),
                (desired, tolerates),
                "{spec} of {expected}"
            );
        }
        let rule = Rule::of(&pdb("b", json!({"maxUnavailable": "1"}), None));
        assert_eq!(rule, Rule::MaxUnavailable(Amount::Count(1)), "an integer written as a string");
        assert!(rule.counts_from_replicas());
        assert!(Rule::MinAvailable(Amount::Percent(60)).counts_from_replicas());
        assert!(!Rule::MinAvailable(Amount::Count(2)).counts_from_replicas());
        assert_eq!(Rule::MaxUnavailable(Amount::Percent(50)).describe(), "maxUnavailable 50%");
    }

    #[test]
    fn budgets_select_members_by_their_own_labels() {
        let web = sts("web", 3).build();
        let mut primary = pod(&web, 0).build();
        primary.labels_mut().insert("role".into(), "primary".into());
        let pods = vec![primary, pod(&web, 1).build()];
        let budgets = [
            pdb("all", json!({"selector": {"matchLabels": {"app": "web"}}, "minAvailable": 2}), None),
            pdb(
                "primary",
                json!({"selector": {"matchLabels": {"role": "primary"}}, "maxUnavailable": 0}),
                None,
            ),
            pdb("other", json!({"selector": {"matchLabels": {"app": "db"}}, "minAvailable": 1}), None),
            pdb("nothing", json!({"minAvailable": 1}), None),
            pdb("everything", json!({"selector": {}, "minAvailable": 1}), None),
        ];
        let covers: Vec<(String, Vec<i32>)> =
            covering(&budgets, &web, &pods).iter().map(|c| (c.name(), c.ordinals.clone())).collect();
        assert_eq!(
            covers,
            [
                ("all".into(), vec![0, 1, 2]),
                ("everything".into(), vec![0, 1, 2]),
                ("primary".into(), vec![0])
            ],
            "web-2 has no pod: the template's labels stand for it"
        );
    }

    #[test]
    fn what_a_budget_tolerates_of_this_set_uses_its_counts_when_current() {
        let web = sts("web", 5).build();
        let pods: Vec<Pod> = (0..5).map(|o| pod(&web, o).build()).collect();
        let tolerated = |spec: serde_json::Value, status: Option<serde_json::Value>| {
            let mut selector = json!({"selector": {"matchLabels": {"app": "web"}}});
            selector.as_object_mut().unwrap().extend(spec.as_object().unwrap().clone());
            let budgets = [pdb("b", selector, status)];
            let covers = covering(&budgets, &web, &pods);
            (covers[0].tolerates(5), covers[0].never_allows(5))
        };
        assert_eq!(tolerated(json!({"maxUnavailable": 2}), None), (2, false));
        assert_eq!(tolerated(json!({"minAvailable": 3}), None), (2, false));
        assert_eq!(tolerated(json!({"minAvailable": 5}), None), (0, true));
        assert_eq!(tolerated(json!({"maxUnavailable": 0}), None), (0, true));
        // Its status counts 8 pods (it selects another set's too): 6 may go, at most web's 5.
        assert_eq!(tolerated(json!({"minAvailable": 2}), Some(counted(6, 8, 2, 8))), (5, false));
        // A stale status is not used.
        let mut stale = counted(6, 8, 2, 8);
        stale["observedGeneration"] = json!(0);
        assert_eq!(tolerated(json!({"minAvailable": 5}), Some(stale)), (0, true));
        // While a member is re-created the controller counts one pod fewer: minAvailable 4 of
        // 5 still lets one go once it is back.
        assert_eq!(tolerated(json!({"minAvailable": 4}), Some(counted(0, 4, 4, 4))), (1, false));
    }

    #[test]
    fn numbers_are_read_only_for_the_current_spec() {
        let b = pdb("b", json!({"minAvailable": 2}), Some(counted(1, 3, 2, 3)));
        assert_eq!(
            numbers(&b),
            Some(Numbers {
                disruptions_allowed: 1,
                current_healthy: 3,
                desired_healthy: 2,
                expected_pods: 3
            })
        );
        let mut stale = b.clone();
        stale.metadata.generation = Some(2);
        assert_eq!(numbers(&stale), None);
        assert_eq!(numbers(&pdb("b", json!({}), None)), None);
        assert_eq!(unhealthy_policy(&b), IF_HEALTHY_BUDGET);
        let always = pdb("b", json!({"unhealthyPodEvictionPolicy": "AlwaysAllow"}), None);
        assert_eq!(unhealthy_policy(&always), ALWAYS_ALLOW);
    }
}
