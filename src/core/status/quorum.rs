//! The quorum and topology audit of one StatefulSet: how many members it must keep up (its
//! majority, `⌊n/2⌋+1`), which are down now, whether its PodDisruptionBudgets protect that
//! majority (and let maintenance through at all), and whether its members are spread so that
//! one node, one zone or one pinned volume cannot take the majority with it.
//!
//! The findings are their own section of the status model, not warnings: a set with no budget
//! or on one node is not broken now, and an SRE reading `status` for a failing pod should not
//! have to read past them. Each finding has a level: `risk` (one more ordinary event, a node
//! drain or failure, loses the quorum), `blocks` (maintenance cannot get past it), `notice`
//! (worth knowing). The text view shows them after the warnings; `-A` counts the sets at risk.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use serde::Serialize;

use super::StatefulSetStatus;
use crate::core::advice::{RunFlags, shell_word};
use crate::core::budgets::{ALWAYS_ALLOW, BudgetStatus, Cover, covering, numbers};
use crate::core::maintenance::quorum::{Down, Member, Quorum, members};
use crate::core::objects::{ON_DELETE, update_strategy};
use crate::core::owners::Owners;
use crate::core::placement::{ZONE_LABEL, homes, pinned, unusable, zone};
use crate::core::reads::Reads;

/// The quorum and topology of one StatefulSet (`quorum` in JSON; `null` at 0 replicas).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuorumStatus {
    /// The live members: `spec.replicas`.
    pub members: i32,
    /// The members that must stay up: the majority, `⌊members/2⌋+1`.
    pub quorum: i32,
    /// How many members may be down at once: `members − quorum`.
    pub tolerance: i32,
    /// The members down now, and why (`reason`: `missing`, `notReady`, `terminating`,
    /// `finished`, `unscheduled`, `nodeNotReady`, `nodeGone`).
    pub down: Vec<DownMember>,
    /// The PodDisruptionBudgets that select any member; `null` when they could not be read.
    pub budgets: Option<Vec<BudgetStatus>>,
    /// The nodes the members run on, most members first.
    pub nodes: Vec<Spread>,
    /// The zones (`topology.kubernetes.io/zone`) the members run in, most first; `null` when
    /// no node of theirs has a zone label or Nodes could not be read.
    pub zones: Option<Vec<Spread>>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DownMember {
    pub pod: String,
    #[serde(flatten)]
    pub why: Down,
}

/// The members on one node or in one zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spread {
    pub name: String,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: AuditCode,
    pub level: Level,
    pub message: String,
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Level {
    /// One more ordinary event (a node drained or lost) takes the majority down.
    Risk,
    /// Maintenance (a drain, an eviction) cannot get past it.
    Blocks,
    /// Worth knowing.
    Notice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum AuditCode {
    QuorumLost,
    AtQuorumFloor,
    NoFaultTolerance,
    NoBudget,
    MembersWithoutBudget,
    BudgetAllowsQuorumLoss,
    BudgetNeverAllows,
    BudgetAllowsNoneNow,
    BudgetsOverlap,
    BudgetRebases,
    UnhealthyPodsEvictable,
    MembersOnOneNode,
    MembersInOneZone,
    MemberCannotRestart,
    MemberPinnedToNode,
}

impl AuditCode {
    /// A few words for the list's QUORUM column.
    pub fn short(self) -> &'static str {
        match self {
            AuditCode::QuorumLost => "quorum lost",
            AuditCode::AtQuorumFloor => "at floor",
            AuditCode::NoFaultTolerance => "no tolerance",
            AuditCode::NoBudget => "no budget",
            AuditCode::MembersWithoutBudget => "unbudgeted",
            AuditCode::BudgetAllowsQuorumLoss => "budget too loose",
            AuditCode::BudgetNeverAllows => "budget blocks",
            AuditCode::BudgetAllowsNoneNow => "budget at 0",
            AuditCode::BudgetsOverlap => "two budgets",
            AuditCode::BudgetRebases => "budget re-bases",
            AuditCode::UnhealthyPodsEvictable => "evicts unhealthy",
            AuditCode::MembersOnOneNode => "one node",
            AuditCode::MembersInOneZone => "one zone",
            AuditCode::MemberCannotRestart => "cannot restart",
            AuditCode::MemberPinnedToNode => "pinned",
        }
    }
}

impl QuorumStatus {
    /// The findings at risk or blocking, worst first: what the list and the fleet count.
    pub fn serious(&self) -> impl Iterator<Item = &Finding> {
        let mut found: Vec<&Finding> = self.findings.iter().filter(|f| f.level != Level::Notice).collect();
        found.sort_by_key(|f| f.level);
        found.into_iter()
    }

    pub fn at_risk(&self) -> bool {
        self.findings.iter().any(|f| f.level == Level::Risk)
    }

    /// The header line: `2 of 3 up needed, 1 may be down (none is); PodDisruptionBudget web
    /// (minAvailable 2) allows 1 now; 3 nodes, 2 zones`.
    pub fn summary(&self) -> String {
        let down = match self.down.as_slice() {
            [] => "none is".to_owned(),
            many => format!(
                "{} {}: {}",
                many.len(),
                if many.len() == 1 { "is" } else { "are" },
                names(many.iter().map(|d| d.pod.as_str()))
            ),
        };
        let mut parts = vec![format!(
            "{} of {} must be up, {} may be down ({down})",
            self.quorum, self.members, self.tolerance
        )];
        parts.push(match &self.budgets {
            None => "budgets unknown".to_owned(),
            Some(budgets) if budgets.is_empty() => "no PodDisruptionBudget".to_owned(),
            Some(budgets) => budgets
                .iter()
                .map(|b| {
                    let rule = b
                        .min_available
                        .as_ref()
                        .map(|m| format!("minAvailable {m}"))
                        .or_else(|| b.max_unavailable.as_ref().map(|m| format!("maxUnavailable {m}")))
                        .unwrap_or_else(|| "no rule".to_owned());
                    let now = b
                        .disruptions_allowed
                        .map_or_else(|| "not evaluated yet".to_owned(), |a| format!("allows {a} now"));
                    format!("PodDisruptionBudget {} ({rule}) {now}", b.name)
                })
                .collect::<Vec<_>>()
                .join(", "),
        });
        let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let mut place = count(self.nodes.len(), "node");
        if let Some(zones) = &self.zones {
            place.push_str(&format!(", {}", count(zones.len(), "zone")));
        }
        parts.push(place);
        parts.join("; ")
    }
}

/// `a, b and c`.
fn names<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.into_iter().collect();
    match items.as_slice() {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The audit of `sts`; `None` when it has no replicas.
pub(super) fn audit(
    status: &StatefulSetStatus,
    sts: &StatefulSet,
    snapshot: &Reads,
    flags: &RunFlags,
) -> Option<QuorumStatus> {
    let n = status.replicas.desired;
    if n <= 0 {
        return None;
    }
    let quorum = Quorum::of(n, None);
    let nodes = snapshot.nodes.as_deref();
    let members = members(sts, &snapshot.pods, nodes);
    let down: Vec<DownMember> = members
        .iter()
        .filter_map(|m| Some(DownMember { pod: m.name.clone(), why: m.down.clone()? }))
        .collect();
    let covers = snapshot.budgets.as_ref().map(|pdbs| covering(pdbs, sts, &snapshot.pods));
    let budgets: Option<Vec<BudgetStatus>> =
        covers.as_ref().map(|c| c.iter().map(|c| BudgetStatus::of(c, &status.name, n)).collect());
    let (node_spread, zone_spread) = spread(&members, snapshot);
    let ctx = Context { status, sts, snapshot, flags, quorum, members: &members };
    let mut findings = Vec::new();
    findings.extend(ctx.state_findings(&down));
    if let (Some(covers), Some(budgets)) = (&covers, &budgets) {
        findings.extend(ctx.budget_findings(covers, budgets));
    }
    findings.extend(ctx.topology_findings(&node_spread, zone_spread.as_deref()));
    findings.extend(ctx.volume_findings());
    Some(QuorumStatus {
        members: n,
        quorum: quorum.floor,
        tolerance: quorum.tolerance(),
        down,
        budgets,
        nodes: node_spread,
        zones: zone_spread,
        findings,
    })
}

/// The members per node and per zone, most first (then by name).
fn spread(members: &[Member], snapshot: &Reads) -> (Vec<Spread>, Option<Vec<Spread>>) {
    let mut by_node: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut by_zone: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in members {
        let Some(node) = m.node() else { continue };
        by_node.entry(node.to_owned()).or_default().push(m.name.clone());
        let zone = snapshot.nodes.iter().flatten().find(|n| n.name_any() == node).and_then(zone);
        if let Some(zone) = zone {
            by_zone.entry(zone.to_owned()).or_default().push(m.name.clone());
        }
    }
    let sorted = |map: BTreeMap<String, Vec<String>>| {
        let mut spread: Vec<Spread> =
            map.into_iter().map(|(name, members)| Spread { name, members }).collect();
        spread.sort_by(|a, b| b.members.len().cmp(&a.members.len()).then_with(|| a.name.cmp(&b.name)));
        spread
    };
    let zones = (!by_zone.is_empty()).then(|| sorted(by_zone));
    (sorted(by_node), zones)
}

/// A running member, its claims (name and bound volume) and where it could run again.
type Housed<'m> = (&'m Member<'m>, Vec<(String, Option<String>)>, crate::core::placement::Homes);

struct Context<'a> {
    status: &'a StatefulSetStatus,
    sts: &'a StatefulSet,
    snapshot: &'a Reads,
    flags: &'a RunFlags,
    quorum: Quorum,
    members: &'a [Member<'a>],
}

impl Context<'_> {
    fn finding(&self, code: AuditCode, level: Level, message: String) -> Finding {
        Finding { code, level, message }
    }

    fn kubectl(&self, args: &str) -> String {
        self.flags.kubectl(&self.status.namespace, args)
    }

    /// The members down now against what the set may lose.
    fn state_findings(&self, down: &[DownMember]) -> Vec<Finding> {
        let name = &self.status.name;
        let (n, q, t) = (self.quorum.members, self.quorum.floor, self.quorum.tolerance());
        let which = || down.iter().map(|d| d.why.describe(&d.pod)).collect::<Vec<_>>().join("; ");
        let mut out = Vec::new();
        if down.len() as i32 > t {
            out.push(self.finding(
                AuditCode::QuorumLost,
                Level::Risk,
                format!(
                    "{} of {name}'s {n} members are down, more than the {t} its majority ({q} of {n}) can lose: if {name} \
                     needs a majority (a Raft or Paxos group, a quorum of replicas), it has lost it until they are back ({})",
                    down.len(),
                    which()
                ),
            ));
        } else if t > 0 && down.len() as i32 == t {
            out.push(self.finding(
                AuditCode::AtQuorumFloor,
                Level::Risk,
                format!(
                    "{name} has {} member{} down, all its majority ({q} of {n}) can lose: one more member down (a drain, \
                     a node lost, a restart) takes it below its majority ({})",
                    down.len(),
                    if down.len() == 1 { "" } else { "s" },
                    which()
                ),
            ));
        }
        if n == 2 {
            out.push(self.finding(
                AuditCode::NoFaultTolerance,
                Level::Notice,
                format!(
                    "{name} has 2 members: a majority of 2 is both, so any one down (a drain, a restart) stops a quorum \
                     system; 3 members tolerate one down"
                ),
            ));
        }
        out
    }

    fn budget_findings(&self, covers: &[Cover], budgets: &[BudgetStatus]) -> Vec<Finding> {
        let name = &self.status.name;
        let (n, q, t) = (self.quorum.members, self.quorum.floor, self.quorum.tolerance());
        let mut out = Vec::new();
        let quorum_set = n >= 3;
        // Who selects whom.
        let covered: BTreeSet<i32> = covers.iter().flat_map(|c| c.ordinals.iter().copied()).collect();
        let uncovered: Vec<&Member> = self.members.iter().filter(|m| !covered.contains(&m.ordinal)).collect();
        if quorum_set && covers.is_empty() {
            let create = self.kubectl(&format!(
                "create poddisruptionbudget {} --selector {} --min-available {q}",
                shell_word(&self.new_budget_name()),
                shell_word(&selector_text(self.sts))
            ));
            out.push(self.finding(
                AuditCode::NoBudget,
                Level::Risk,
                format!(
                    "no PodDisruptionBudget selects {name}'s pods: a node drain (kubectl drain, a node upgrade, the \
                     cluster autoscaler) evicts as many of them at once as it finds, more than the {t} its majority \
                     ({q} of {n}) can lose; `{create}` keeps {q} up"
                ),
            ));
        } else if quorum_set && !uncovered.is_empty() {
            let selectors: Vec<String> = covers
                .iter()
                .map(|c| {
                    format!("{} selects {}", c.name(), names(c.ordinals.iter().map(|o| self.member_name(*o))))
                })
                .collect();
            let way = match covers {
                [only] => format!(
                    "; to have it select every member, `{}`",
                    self.kubectl(&format!("patch pdb {} --type merge -p {}", shell_word(&only.name()), shell_word(&widen_patch(only, self.sts, q))))
                ),
                _ => " (a budget over every member would overlap those, which the Eviction API refuses: widen one of them instead)".to_owned(),
            };
            out.push(self.finding(
                AuditCode::MembersWithoutBudget,
                Level::Risk,
                format!(
                    "{} {} selected by no PodDisruptionBudget (budgets match the pods' own labels: {}), so a drain evicts \
                     {} without counting the majority ({q} of {n}){way}",
                    names(uncovered.iter().map(|m| m.name.as_str())),
                    if uncovered.len() == 1 { "is" } else { "are" },
                    selectors.join("; "),
                    if uncovered.len() == 1 { "it" } else { "them" },
                ),
            ));
        }
        // Two budgets over one member: the Eviction API refuses to evict it.
        let overlapping: Vec<&Member> = self
            .members
            .iter()
            .filter(|m| covers.iter().filter(|c| c.ordinals.contains(&m.ordinal)).count() > 1)
            .collect();
        if !overlapping.is_empty() {
            let over: BTreeSet<String> = covers
                .iter()
                .filter(|c| overlapping.iter().any(|m| c.ordinals.contains(&m.ordinal)))
                .map(Cover::name)
                .collect();
            let over: Vec<String> = over.into_iter().collect();
            out.push(self.finding(
                AuditCode::BudgetsOverlap,
                Level::Blocks,
                format!(
                    "PodDisruptionBudgets {} all select {}: the Eviction API refuses to evict a pod that more than one \
                     budget selects, so every drain of {} node fails; delete or narrow all but one of them (`{}` shows them)",
                    names(over.iter().map(String::as_str)),
                    names(overlapping.iter().map(|m| m.name.as_str())),
                    if overlapping.len() == 1 { "its" } else { "their" },
                    self.kubectl(&format!("describe pdb {}", over.iter().map(|b| shell_word(b).into_owned()).collect::<Vec<_>>().join(" ")))
                ),
            ));
        }
        for (cover, budget) in covers.iter().zip(budgets) {
            let rule = cover.rule();
            let expected = cover.expected(n);
            let spans_others = expected > n;
            let whole = cover.ordinals.len() as i32 == n && !spans_others;
            let patch = |min: i32| {
                self.kubectl(&format!(
                    "patch pdb {} --type merge -p {}",
                    shell_word(&budget.name),
                    shell_word(&format!("{{\"spec\":{{\"minAvailable\":{min},\"maxUnavailable\":null}}}}"))
                ))
            };
            let described = format!("PodDisruptionBudget {} ({})", budget.name, rule.describe());
            if cover.never_allows(n) {
                let way = if quorum_set && whole {
                    format!("; `{}` lets one member go at a time while keeping the majority", patch(q))
                } else if n <= 2 {
                    format!(
                        "; with {n} member{} no budget can both keep a majority and let one go: draining a node with one of \
                         them is an outage, which `kubectl stateful drain` refuses unless --min-available says so",
                        if n == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                };
                out.push(self.finding(
                    AuditCode::BudgetNeverAllows,
                    Level::Blocks,
                    format!(
                        "{described} never allows a disruption: it wants all {expected} pods it counts healthy, so a drain \
                         of a node with one of {name}'s pods waits forever (kubectl drain retries its eviction without end, \
                         kubernetes#66811){way}"
                    ),
                ));
            } else if quorum_set && budget.tolerates > t {
                let way = if whole {
                    format!("; `{}` keeps the majority", patch(q))
                } else if spans_others {
                    format!(
                        " (it counts {expected} pods, {name}'s and others'); give {name} a budget of its own with \
                         minAvailable {q}"
                    )
                } else {
                    String::new()
                };
                out.push(self.finding(
                    AuditCode::BudgetAllowsQuorumLoss,
                    Level::Risk,
                    format!(
                        "{described} lets {} of {name}'s members go down at once, more than the {t} its majority ({q} of {n}) \
                         can lose{way}",
                        budget.tolerates
                    ),
                ));
            } else if quorum_set && whole && rule.counts_from_replicas() {
                out.push(self.finding(
                    AuditCode::BudgetRebases,
                    Level::Notice,
                    format!(
                        "{described} counts from {name}'s replicas, whatever they are then: if they drop (a scale-down, an \
                         operator removing members while nodes rotate) it lets the same number go of fewer members, below \
                         their majority (cozystack/etcd-operator#351); an integer minAvailable holds: `{}`",
                        patch(q)
                    ),
                ));
            }
            // What it allows now, when its spec would allow some.
            if !cover.never_allows(n) && budget.disruptions_allowed == Some(0) {
                let down: Vec<String> =
                    self.members.iter().filter_map(|m| Some(m.down.as_ref()?.describe(&m.name))).collect();
                let why = if down.is_empty() { String::new() } else { format!(" ({})", down.join("; ")) };
                let unhealthy = match numbers(cover.pdb) {
                    Some(nb)
                        if nb.current_healthy < nb.desired_healthy
                            && budget.unhealthy_pod_eviction_policy != ALWAYS_ALLOW =>
                    {
                        "; while it is below what it needs, a member that is not Ready cannot be evicted either \
                         (unhealthyPodEvictionPolicy IfHealthyBudget), so a drain of its node waits too; AlwaysAllow lets \
                         drains move such members (kubernetes#72320)"
                    }
                    _ => "",
                };
                out.push(self.finding(
                    AuditCode::BudgetAllowsNoneNow,
                    Level::Blocks,
                    format!(
                        "{}{why}: an eviction of {name}'s pods waits until the members it counts are Ready again{unhealthy}",
                        budget.describe_now()
                    ),
                ));
            }
            if budget.unhealthy_pod_eviction_policy == ALWAYS_ALLOW {
                out.push(self.finding(
                    AuditCode::UnhealthyPodsEvictable,
                    Level::Notice,
                    format!(
                        "{described} has unhealthyPodEvictionPolicy AlwaysAllow: a member that is not Ready (starting, \
                         catching up after a restart) can be evicted whatever the budget allows now; the majority is not \
                         counted on it, but a member evicted while it catches up starts over"
                    ),
                ));
            }
        }
        out
    }

    /// Members on one node or zone, more than the set can lose.
    fn topology_findings(&self, nodes: &[Spread], zones: Option<&[Spread]>) -> Vec<Finding> {
        let name = &self.status.name;
        let (n, q, t) = (self.quorum.members, self.quorum.floor, self.quorum.tolerance());
        let Some(cluster) = self.snapshot.nodes.as_deref() else { return Vec::new() };
        if t < 1 {
            return Vec::new();
        }
        // The nodes and zones its pods could use: the ones that can take a pod of it.
        let Some(sample) = self.members.iter().find_map(|m| m.pod) else { return Vec::new() };
        let usable: Vec<&k8s_openapi::api::core::v1::Node> =
            cluster.iter().filter(|node| unusable(node, sample).is_none()).collect();
        let usable_zones: BTreeSet<&str> = usable.iter().filter_map(|node| zone(node)).collect();
        let mut out = Vec::new();
        let crowded: Vec<&Spread> = nodes.iter().filter(|s| s.members.len() as i32 > t).collect();
        if !crowded.is_empty() && usable.len() > 1 {
            let where_ = crowded
                .iter()
                .map(|s| format!("node {} runs {}", s.name, names(s.members.iter().map(String::as_str))))
                .collect::<Vec<_>>()
                .join(", ");
            let all = crowded.len() == 1 && crowded[0].members.len() as i32 == n;
            let lead = if all {
                format!("all {n} members of {name} run on node {}", crowded[0].name)
            } else {
                where_
            };
            out.push(self.finding(
                AuditCode::MembersOnOneNode,
                Level::Risk,
                format!(
                    "{lead}, more than the {t} its majority ({q} of {n}) can lose: draining or losing that node takes the \
                     majority with it; {}",
                    self.spread_advice("kubernetes.io/hostname", "nodes", crowded.iter().flat_map(|s| &s.members))
                ),
            ));
        }
        if let Some(zones) = zones {
            let crowded: Vec<&Spread> = zones.iter().filter(|s| s.members.len() as i32 > t).collect();
            if !crowded.is_empty() && usable_zones.len() > 1 {
                let lead = crowded
                    .iter()
                    .map(|s| format!("zone {} holds {}", s.name, names(s.members.iter().map(String::as_str))))
                    .collect::<Vec<_>>()
                    .join(", ");
                out.push(self.finding(
                    AuditCode::MembersInOneZone,
                    Level::Risk,
                    format!(
                        "{lead}, more than the {t} its majority ({q} of {n}) can lose, though its pods can run in zones {}: \
                         a zone outage takes the majority with it; {}",
                        names(usable_zones.iter().copied()),
                        self.spread_advice(ZONE_LABEL, "zones", crowded.iter().flat_map(|s| &s.members))
                    ),
                ));
            }
        }
        out
    }

    /// How to spread the pods over `key`: a topology spread constraint in the template, which
    /// the controller's rolling update (or `kubectl stateful rollout` under OnDelete) applies;
    /// what keeps members where their volumes are pinned.
    fn spread_advice<'m>(&self, key: &str, what: &str, members: impl Iterator<Item = &'m String>) -> String {
        let name = &self.status.name;
        let stuck: Vec<String> = members.filter(|m| self.pinned_members().contains(*m)).cloned().collect();
        if !stuck.is_empty() {
            return format!(
                "{} cannot move: {} volume{} {} pinned where {} run{} (local or zonal volumes), so spreading them means \
                 moving their data",
                names(stuck.iter().map(String::as_str)),
                if stuck.len() == 1 { "its" } else { "their" },
                if stuck.len() == 1 { "" } else { "s" },
                if stuck.len() == 1 { "is" } else { "are" },
                if stuck.len() == 1 { "it" } else { "they" },
                if stuck.len() == 1 { "s" } else { "" },
            );
        }
        let selector = self.sts.spec.as_ref().map(|s| serde_json::to_value(&s.selector).unwrap_or_default());
        let patch = serde_json::json!({"spec": {"template": {"spec": {"topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": selector,
        }]}}}});
        if let Some(owner) = Owners::of(self.sts).template_reverter() {
            return format!(
                "its pod template is owned by {}: add a topologySpreadConstraint over {key} there ({}), and the controller \
                 spreads the pods over the {what} as it replaces them",
                owner.owner(),
                patch["spec"]["template"]["spec"]
            );
        }
        let then = if update_strategy(self.sts) == ON_DELETE {
            format!(
                "; under OnDelete no pod moves until replaced: `{}` then replaces them one step at a time",
                self.flags.plugin(&self.status.namespace, &format!("rollout {}", shell_word(name)))
            )
        } else {
            match self.status.update_strategy.partition {
                Some(p) if p > 0 => format!(
                    "; the controller replaces only the pods at or above partition {p}: `{}` steps the rest",
                    self.flags.plugin(
                        &self.status.namespace,
                        &format!("rollout {} --partition 0", shell_word(name))
                    )
                ),
                _ => ", and the controller replaces the pods one at a time, the scheduler spreading them"
                    .to_owned(),
            }
        };
        format!(
            "`{}` spreads them over the {what} (each holding at most one more than another){then}",
            self.kubectl(&format!(
                "patch statefulset {} -p {}",
                shell_word(name),
                shell_word(&patch.to_string())
            ))
        )
    }

    /// The members whose volumes pin them to the one node they run on.
    fn pinned_members(&self) -> Vec<String> {
        self.volume_homes()
            .into_iter()
            .filter(|(_, _, h)| h.pinned && h.allowed.len() == 1)
            .map(|(m, _, _)| m.name.clone())
            .collect()
    }

    /// Each running member (on a node that is there and Ready) with its claims and homes.
    fn volume_homes(&self) -> Vec<Housed<'_>> {
        let (Some(nodes), Some(volumes)) = (self.snapshot.nodes.as_deref(), self.snapshot.volumes_by_name())
        else {
            return Vec::new();
        };
        self.members
            .iter()
            .filter(|m| {
                m.pod.is_some()
                    && !matches!(
                        m.down,
                        Some(
                            Down::NodeGone { .. }
                                | Down::NodeNotReady { .. }
                                | Down::Unscheduled
                                | Down::Missing
                        )
                    )
            })
            .filter_map(|m| {
                let ordinal = self.status.ordinals.iter().find(|o| o.ordinal == m.ordinal)?;
                let claims: Vec<(String, Option<String>)> = ordinal
                    .pvcs
                    .iter()
                    .filter(|c| c.phase.is_some())
                    .map(|c| (c.name.clone(), c.volume.clone()))
                    .collect();
                let homes = homes(m.pod?, &claims, nodes, &volumes, &[]);
                Some((m, claims, homes))
            })
            .collect()
    }

    /// Running members whose volumes leave them nowhere to restart, or only the node they are on.
    fn volume_findings(&self) -> Vec<Finding> {
        let (Some(nodes), Some(volumes)) = (self.snapshot.nodes.as_deref(), self.snapshot.volumes_by_name())
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut only_here: Vec<(String, String)> = Vec::new();
        for (member, claims, homes) in self.volume_homes() {
            let pod: &Pod = member.pod.expect("volume_homes keeps members with a pod");
            if !homes.pinned {
                continue;
            }
            if homes.usable.is_empty() {
                let pins = pinned(pod, &claims, nodes, &volumes, &[]);
                let why = if pins.is_empty() {
                    format!(
                        "its volumes are pinned to nodes that no single node matches ({}), so no node can take all of them",
                        claims.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(", ")
                    )
                } else {
                    pins.iter().map(|p| p.describe()).collect::<Vec<_>>().join("; ")
                };
                let uncordon: Vec<String> = pins
                    .iter()
                    .flat_map(|p| &p.cordoned)
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .map(|node| {
                        format!(
                            "`{}` lets it start there again",
                            self.kubectl(&format!("uncordon {}", shell_word(node)))
                        )
                    })
                    .collect();
                let way =
                    if uncordon.is_empty() { String::new() } else { format!("; {}", uncordon.join("; ")) };
                out.push(self.finding(
                    AuditCode::MemberCannotRestart,
                    Level::Risk,
                    format!(
                        "{} runs, but cannot restart anywhere: {why}. If it stops (a restart, an eviction, its node's \
                         maintenance) it stays Pending{way}",
                        member.name
                    ),
                ));
            } else if homes.allowed.len() == 1 && member.node() == Some(homes.allowed[0].as_str()) {
                only_here.push((member.name.clone(), homes.allowed[0].clone()));
            }
        }
        match only_here.as_slice() {
            [] => {}
            [(member, node)] => out.push(self.finding(
                AuditCode::MemberPinnedToNode,
                Level::Notice,
                format!(
                    "{member} can run only on node {node}, where its volume is pinned (a local volume, or a zone with one \
                     node): while {node} is drained or down, {member} is down, and `kubectl stateful drain` refuses to move it"
                ),
            )),
            many => out.push(self.finding(
                AuditCode::MemberPinnedToNode,
                Level::Notice,
                format!(
                    "{} can each run only on one node, where their volumes are pinned (local volumes, or zones with one node): \
                     while such a node is drained or down its member is down, and `kubectl stateful drain` refuses to move them",
                    names(many.iter().map(|(m, node)| format!("{m} (node {node})")).collect::<Vec<_>>().iter().map(String::as_str))
                ),
            )),
        }
        out
    }

    fn member_name(&self, ordinal: i32) -> &str {
        self.members.iter().find(|m| m.ordinal == ordinal).map_or("?", |m| m.name.as_str())
    }

    /// A name for a new budget of the set: its own name unless a budget of that name exists.
    fn new_budget_name(&self) -> String {
        let taken = |candidate: &str| {
            self.snapshot.budgets.iter().flatten().any(|b| {
                b.metadata.name.as_deref() == Some(candidate)
                    && b.metadata.namespace.as_deref() == Some(self.status.namespace.as_str())
            })
        };
        let own = self.status.name.clone();
        if taken(&own) { format!("{own}-quorum") } else { own }
    }
}

/// The StatefulSet's selector as `kubectl --selector` takes it: `app=web,tier in (db)`.
fn selector_text(sts: &StatefulSet) -> String {
    let Some(selector) = sts.spec.as_ref().map(|s| &s.selector) else { return String::new() };
    let mut parts: Vec<String> =
        selector.match_labels.iter().flatten().map(|(k, v)| format!("{k}={v}")).collect();
    for e in selector.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            _ => format!("!{}", e.key),
        });
    }
    parts.join(",")
}

/// A merge patch that makes `cover`'s budget select every member of `sts` (its selector
/// becomes the set's: labels it had that the set's has not are removed) with `minAvailable`.
fn widen_patch(cover: &Cover, sts: &StatefulSet, min_available: i32) -> String {
    let set = sts.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
    let mut labels = serde_json::Map::new();
    let old = cover.pdb.spec.as_ref().and_then(|s| s.selector.as_ref());
    for key in old.and_then(|s| s.match_labels.as_ref()).into_iter().flatten().map(|(k, _)| k) {
        labels.insert(key.clone(), serde_json::Value::Null);
    }
    for (k, v) in set.match_labels.iter().flatten() {
        labels.insert(k.clone(), serde_json::Value::String(v.clone()));
    }
    let mut selector = serde_json::json!({"matchLabels": labels});
    let had_expressions = old.is_some_and(|s| s.match_expressions.as_ref().is_some_and(|e| !e.is_empty()));
    if let Some(expressions) = &set.match_expressions {
        selector["matchExpressions"] = serde_json::to_value(expressions).unwrap_or_default();
    } else if had_expressions {
        selector["matchExpressions"] = serde_json::Value::Null;
    }
    serde_json::json!({"spec": {"selector": selector, "minAvailable": min_available, "maxUnavailable": null}})
        .to_string()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::core::v1::{
        Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, NodeSpec, PersistentVolume, Pod,
        VolumeNodeAffinity,
    };
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    use kube::ResourceExt;
    use serde_json::json;

    use super::super::{StatusOptions, build};
    use super::*;
    use crate::core::budgets::pdb;
    use crate::core::fixtures::*;

    const K: &str = "kubectl -n default --context prod";

    fn options() -> StatusOptions {
        StatusOptions {
            cluster_domain: "cluster.local".into(),
            now: created(),
            flags: RunFlags { context: Some("prod".into()), kubeconfig: None, ..Default::default() },
        }
    }

    fn labelled(name: &str, zone: Option<&str>) -> Node {
        let mut n = node(name, "True");
        let mut labels =
            std::collections::BTreeMap::from([("kubernetes.io/hostname".to_owned(), name.to_owned())]);
        if let Some(zone) = zone {
            labels.insert(ZONE_LABEL.to_owned(), zone.to_owned());
        }
        n.metadata.labels = Some(labels);
        n
    }

    fn cordon(mut n: Node) -> Node {
        n.spec = Some(NodeSpec { unschedulable: Some(true), ..Default::default() });
        n
    }

    fn local(claim: &str, node: &str) -> PersistentVolume {
        let mut volume = pv(claim, "Delete");
        volume.spec.as_mut().unwrap().node_affinity = Some(VolumeNodeAffinity {
            required: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(vec![NodeSelectorRequirement {
                        key: "kubernetes.io/hostname".into(),
                        operator: "In".into(),
                        values: Some(vec![node.to_owned()]),
                    }]),
                    match_fields: None,
                }],
            }),
        });
        volume
    }

    fn budget(name: &str, rule: serde_json::Value) -> PodDisruptionBudget {
        let mut spec = json!({"selector": {"matchLabels": {"app": "web"}}});
        spec.as_object_mut().unwrap().extend(rule.as_object().unwrap().clone());
        pdb(name, spec, None)
    }

    /// A set of `n` members, member `o` on `on[o]`, three nodes a, b, c in zones z1, z2, z3.
    struct Case {
        sts: StatefulSet,
        pods: Vec<Pod>,
        budgets: Option<Vec<PodDisruptionBudget>>,
        nodes: Vec<Node>,
        volumes: Vec<PersistentVolume>,
    }

    impl Case {
        fn new(n: i32, on: &[&str]) -> Case {
            let sts = sts("web", n).build();
            let pods = (0..n).map(|o| pod(&sts, o).node(on[o as usize]).build()).collect();
            Case {
                sts,
                pods,
                budgets: Some(vec![budget("web", json!({"minAvailable": n / 2 + 1}))]),
                nodes: vec![labelled("a", Some("z1")), labelled("b", Some("z2")), labelled("c", Some("z3"))],
                volumes: Vec::new(),
            }
        }

        fn spread() -> Case {
            Case::new(3, &["a", "b", "c"])
        }

        fn budgets(mut self, budgets: Vec<PodDisruptionBudget>) -> Case {
            self.budgets = Some(budgets);
            self
        }

        fn audit(&self) -> QuorumStatus {
            let mut snapshot = status_snapshot(&self.sts, self.pods.clone(), Vec::new());
            snapshot.budgets = self.budgets.clone();
            snapshot.nodes = Some(self.nodes.clone());
            if !self.volumes.is_empty() {
                snapshot.pvcs = (0..self.pods.len())
                    .map(|o| pvc(&format!("data-web-{o}")).of(&self.sts).build())
                    .collect();
                snapshot.volumes = Some(self.volumes.clone());
            }
            build(&self.sts, &snapshot, &options()).quorum.expect("replicas > 0")
        }
    }

    fn codes(q: &QuorumStatus) -> Vec<(AuditCode, Level)> {
        q.findings.iter().map(|f| (f.code, f.level)).collect()
    }

    fn message(q: &QuorumStatus, code: AuditCode) -> String {
        q.findings
            .iter()
            .find(|f| f.code == code)
            .unwrap_or_else(|| panic!("no {code:?}: {q:#?}"))
            .message
            .clone()
    }

    /// Each budget shape over three members spread over three nodes → its findings.
    #[test]
    fn budgets_are_judged_against_the_majority() {
        use AuditCode::*;
        use Level::*;
        type Row = (&'static str, Option<Vec<PodDisruptionBudget>>, Vec<(AuditCode, Level)>);
        let cases: Vec<Row> = vec![
            ("minAvailable 2", Some(vec![budget("web", json!({"minAvailable": 2}))]), vec![]),
            (
                "minAvailable 60%",
                Some(vec![budget("web", json!({"minAvailable": "60%"}))]),
                vec![(BudgetRebases, Notice)],
            ),
            // 67% of 3 is 2.01, rounded up to 3: all of them.
            (
                "minAvailable 67%",
                Some(vec![budget("web", json!({"minAvailable": "67%"}))]),
                vec![(BudgetNeverAllows, Blocks)],
            ),
            ("none", Some(vec![]), vec![(NoBudget, Risk)]),
            ("unreadable", None, vec![]),
            (
                "maxUnavailable 1",
                Some(vec![budget("web", json!({"maxUnavailable": 1}))]),
                vec![(BudgetRebases, Notice)],
            ),
            (
                "maxUnavailable 2",
                Some(vec![budget("web", json!({"maxUnavailable": 2}))]),
                vec![(BudgetAllowsQuorumLoss, Risk)],
            ),
            (
                "minAvailable 1",
                Some(vec![budget("web", json!({"minAvailable": 1}))]),
                vec![(BudgetAllowsQuorumLoss, Risk)],
            ),
            (
                "minAvailable 3",
                Some(vec![budget("web", json!({"minAvailable": 3}))]),
                vec![(BudgetNeverAllows, Blocks)],
            ),
            (
                "maxUnavailable 0",
                Some(vec![budget("web", json!({"maxUnavailable": 0}))]),
                vec![(BudgetNeverAllows, Blocks)],
            ),
            (
                "two",
                Some(vec![budget("a", json!({"minAvailable": 2})), budget("b", json!({"minAvailable": 2}))]),
                vec![(BudgetsOverlap, Blocks)],
            ),
            (
                "AlwaysAllow",
                Some(vec![budget(
                    "web",
                    json!({"minAvailable": 2, "unhealthyPodEvictionPolicy": "AlwaysAllow"}),
                )]),
                vec![(UnhealthyPodsEvictable, Notice)],
            ),
        ];
        for (case, budgets, expected) in cases {
            let mut c = Case::spread();
            c.budgets = budgets;
            assert_eq!(codes(&c.audit()), expected, "{case}");
        }
    }

    #[test]
    fn the_numbers_are_in_the_model() {
        let status = serde_json::json!({"observedGeneration": 1, "disruptionsAllowed": 1, "currentHealthy": 3,
                                        "desiredHealthy": 2, "expectedPods": 3});
        let budgets = vec![pdb(
            "web",
            json!({"selector": {"matchLabels": {"app": "web"}}, "minAvailable": 2}),
            Some(status),
        )];
        let mut c = Case::spread().budgets(budgets);
        c.nodes = vec![labelled("a", Some("z1")), labelled("b", Some("z1")), labelled("c", Some("z2"))];
        let q = c.audit();
        assert_eq!((q.members, q.quorum, q.tolerance), (3, 2, 1));
        let b = &q.budgets.as_ref().unwrap()[0];
        assert_eq!(
            (
                b.name.as_str(),
                b.min_available.as_deref(),
                b.tolerates,
                b.disruptions_allowed,
                b.current_healthy,
                b.desired_healthy
            ),
            ("web", Some("2"), 1, Some(1), Some(3), Some(2))
        );
        assert_eq!(b.selects, ["web-0", "web-1", "web-2"]);
        assert_eq!(q.nodes.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
        let zones = q.zones.as_ref().unwrap();
        assert_eq!((zones[0].name.as_str(), zones[0].members.len()), ("z1", 2));
        assert_eq!(
            q.summary(),
            "2 of 3 must be up, 1 may be down (none is); PodDisruptionBudget web (minAvailable 2) allows 1 now; 3 nodes, 2 zones"
        );
        assert_eq!(codes(&q), [(AuditCode::MembersInOneZone, Level::Risk)], "z1 holds two of three");
    }

    #[test]
    fn each_budget_finding_says_what_to_run() {
        let no_budget = Case::spread().budgets(vec![]).audit();
        assert!(
            message(&no_budget, AuditCode::NoBudget).contains(&format!(
                "`{K} create poddisruptionbudget web --selector app=web --min-available 2` keeps 2 up"
            )),
            "{no_budget:#?}"
        );
        // A budget of that name selecting something else: the new one needs another name.
        let mut taken =
            pdb("web", json!({"selector": {"matchLabels": {"app": "other"}}, "minAvailable": 1}), None);
        taken.metadata.name = Some("web".into());
        let renamed = Case::spread().budgets(vec![taken]).audit();
        assert!(message(&renamed, AuditCode::NoBudget).contains("create poddisruptionbudget web-quorum"));

        let loose = Case::spread().budgets(vec![budget("web", json!({"maxUnavailable": 2}))]).audit();
        let text = message(&loose, AuditCode::BudgetAllowsQuorumLoss);
        assert!(
            text.starts_with("PodDisruptionBudget web (maxUnavailable 2) lets 2 of web's members go down at once, more than the 1")
                && text.contains(&format!(r#"`{K} patch pdb web --type merge -p '{{"spec":{{"minAvailable":2,"maxUnavailable":null}}}}'` keeps the majority"#)),
            "{text}"
        );
        let never = Case::spread().budgets(vec![budget("web", json!({"minAvailable": 3}))]).audit();
        assert!(message(&never, AuditCode::BudgetNeverAllows).contains("kubernetes#66811"));
        let two = Case::spread()
            .budgets(vec![budget("a", json!({"minAvailable": 2})), budget("b", json!({"minAvailable": 2}))])
            .audit();
        assert!(message(&two, AuditCode::BudgetsOverlap).contains(&format!("`{K} describe pdb a b`")));
    }

    /// An operator labels one pod `role: primary`, and the only budget selects that label:
    /// the others are unprotected; the advice widens that budget (its old label removed).
    #[test]
    fn budgets_match_the_pods_own_labels() {
        let mut c = Case::spread();
        c.pods[0].labels_mut().insert("role".into(), "primary".into());
        c.budgets = Some(vec![pdb(
            "primary",
            json!({"selector": {"matchLabels": {"role": "primary"}}, "maxUnavailable": 0}),
            None,
        )]);
        let q = c.audit();
        assert_eq!(
            codes(&q),
            [(AuditCode::MembersWithoutBudget, Level::Risk), (AuditCode::BudgetNeverAllows, Level::Blocks)]
        );
        let text = message(&q, AuditCode::MembersWithoutBudget);
        assert!(text.starts_with("web-1 and web-2 are selected by no PodDisruptionBudget (budgets match the pods' own labels: primary selects web-0)"), "{text}");
        assert!(
            text.contains(&format!(
                r#"`{K} patch pdb primary --type merge -p '{{"spec":{{"maxUnavailable":null,"minAvailable":2,"selector":{{"matchLabels":{{"app":"web","role":null}}}}}}}}'`"#
            )),
            "{text}"
        );
    }

    #[test]
    fn members_down_now_use_up_what_the_set_can_lose() {
        let mut c = Case::spread();
        c.pods[2] = pod(&c.sts, 2).node("c").ready(false).build();
        let status = json!({"observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 2, "desiredHealthy": 2, "expectedPods": 3});
        c.budgets = Some(vec![pdb(
            "web",
            json!({"selector": {"matchLabels": {"app": "web"}}, "minAvailable": 2}),
            Some(status),
        )]);
        let q = c.audit();
        assert_eq!(q.down, [DownMember { pod: "web-2".into(), why: Down::NotReady }]);
        assert_eq!(
            codes(&q),
            [(AuditCode::AtQuorumFloor, Level::Risk), (AuditCode::BudgetAllowsNoneNow, Level::Blocks)]
        );
        let text = message(&q, AuditCode::BudgetAllowsNoneNow);
        assert!(
            text.starts_with(
                "PodDisruptionBudget web allows 0 disruptions now (2 healthy, 2 needed) (web-2 is not Ready)"
            ),
            "{text}"
        );
        assert!(!text.contains("IfHealthyBudget"), "the budget is healthy: web-2 may be evicted: {text}");
        c.pods[1] = pod(&c.sts, 1).node("b").terminating().build();
        assert_eq!(codes(&c.audit())[0], (AuditCode::QuorumLost, Level::Risk));
    }

    #[test]
    fn small_sets_are_judged_for_what_they_can_be() {
        let two = Case::new(2, &["a", "b"]).budgets(vec![]);
        assert_eq!(
            codes(&two.audit()),
            [(AuditCode::NoFaultTolerance, Level::Notice)],
            "no budget can help two"
        );
        let one = Case::new(1, &["a"]).budgets(vec![budget("web", json!({"minAvailable": 1}))]);
        let q = one.audit();
        assert_eq!(codes(&q), [(AuditCode::BudgetNeverAllows, Level::Blocks)], "kubernetes#66811");
        assert!(
            message(&q, AuditCode::BudgetNeverAllows)
                .contains("with 1 member no budget can both keep a majority")
        );
        let none = sts("web", 0).build();
        assert_eq!(build(&none, &status_snapshot(&none, vec![], vec![]), &options()).quorum, None);
    }

    #[test]
    fn members_crowded_on_a_node_or_in_a_zone_are_a_risk_where_they_could_spread() {
        let q = Case::new(3, &["a", "a", "a"]).audit();
        let text = message(&q, AuditCode::MembersOnOneNode);
        assert!(
            text.starts_with(
                "all 3 members of web run on node a, more than the 1 its majority (2 of 3) can lose"
            ),
            "{text}"
        );
        assert!(text.contains(&format!("`{K} patch statefulset web -p '")), "{text}");
        assert!(
            text.contains(r#""topologyKey":"kubernetes.io/hostname","whenUnsatisfiable":"DoNotSchedule""#),
            "{text}"
        );
        assert!(
            text.ends_with(
                "and the controller replaces the pods one at a time, the scheduler spreading them"
            ),
            "{text}"
        );
        assert_eq!(
            codes(&q),
            [(AuditCode::MembersOnOneNode, Level::Risk), (AuditCode::MembersInOneZone, Level::Risk)]
        );

        // Two on a of five tolerating two: fine; but zones z1 (a, b) holding three is not.
        let mut five = Case::new(5, &["a", "a", "b", "c", "c"]);
        assert_eq!(codes(&five.audit()), []);
        five.nodes = vec![labelled("a", Some("z1")), labelled("b", Some("z1")), labelled("c", Some("z2"))];
        let q = five.audit();
        assert_eq!(codes(&q), [(AuditCode::MembersInOneZone, Level::Risk)], "z1 holds 3 of 5");
        assert!(
            message(&q, AuditCode::MembersInOneZone)
                .starts_with("zone z1 holds web-0, web-1 and web-2, more than the 2")
        );
        // A cluster of one usable node: nowhere to spread, nothing to say.
        let mut single = Case::new(3, &["a", "a", "a"]);
        single.nodes = vec![labelled("a", Some("z1")), cordon(labelled("b", Some("z2")))];
        assert_eq!(codes(&single.audit()), []);
        // No zone labels: no zone finding.
        let mut unzoned = Case::spread();
        unzoned.nodes = vec![labelled("a", None), labelled("b", None), labelled("c", None)];
        let q = unzoned.audit();
        assert_eq!((codes(&q), q.zones.clone()), (vec![], None));

        // OnDelete: the patch alone moves nothing.
        let mut on_delete = Case::new(3, &["a", "a", "b"]);
        on_delete.sts = sts("web", 3).on_delete().build();
        let text = message(&on_delete.audit(), AuditCode::MembersOnOneNode);
        assert!(text.contains("under OnDelete no pod moves until replaced: `kubectl stateful rollout web -n default --context prod`"), "{text}");
        // Argo CD owns the template: say where to change it.
        let mut owned = Case::new(3, &["a", "a", "b"]);
        owned.sts = sts("web", 3)
            .managed_by("argocd-controller", "Apply", json!({"f:spec": {"f:template": {"f:spec": {}}}}))
            .build();
        let text = message(&owned.audit(), AuditCode::MembersOnOneNode);
        assert!(
            text.contains("its pod template is owned by Argo CD") && !text.contains("kubectl -n"),
            "{text}"
        );
    }

    #[test]
    fn a_member_whose_volume_has_nowhere_to_go_cannot_restart() {
        let mut c = Case::spread();
        c.sts = sts("web", 3).templates(&["data"]).build();
        c.pods =
            ["a", "b", "c"].iter().enumerate().map(|(o, n)| pod(&c.sts, o as i32).node(n).build()).collect();
        c.volumes = vec![pv("data-web-0", "Delete"), pv("data-web-1", "Delete"), local("data-web-2", "c")];
        let q = c.audit();
        assert_eq!(codes(&q), [(AuditCode::MemberPinnedToNode, Level::Notice)]);
        assert!(
            message(&q, AuditCode::MemberPinnedToNode)
                .starts_with("web-2 can run only on node c, where its volume is pinned")
        );

        c.nodes[2] = cordon(labelled("c", Some("z3")));
        let q = c.audit();
        let text = message(&q, AuditCode::MemberCannotRestart);
        assert_eq!(
            text,
            format!(
                "web-2 runs, but cannot restart anywhere: its volume pv-data-web-2 (PVC data-web-2) is pinned to c, which is \
                 cordoned. If it stops (a restart, an eviction, its node's maintenance) it stays Pending; `{K} uncordon c` lets \
                 it start there again"
            )
        );
        assert!(q.at_risk());
    }
}
