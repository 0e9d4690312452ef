//! What a step must pass besides Ready and minReadySeconds: a command in each updated pod, an
//! HTTP check, the PodDisruptionBudgets over the pods before pods are released, and no container
//! restart while the step soaks (`--pause`). Gates are journaled with the rollout, so a resumed
//! run checks the same.
//!
//! StatefulSet rolling updates delete pods without the Eviction API, so PodDisruptionBudgets do
//! not hold them back (kubernetes#89820, #95374): the rollout checks them itself before each
//! step.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::ResourceExt;
use serde::{Deserialize, Serialize};

use crate::core::budgets;
use crate::core::gate_url::{self, GateRefusal};
use crate::core::objects::{pod_ready, pods_of, terminating};

use crate::core::names::pod_name;

/// What a failed gate does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "camelCase")]
pub enum OnFailure {
    /// Stop with the partition where it is (exit 3).
    #[default]
    Stop,
    /// Roll back at once, as `--abort` does (forced rollback included).
    Abort,
}

/// The flag of HTTP gates, as refusals name it.
pub const HTTP_FLAG: &str = "--gate-http";

/// How long one try of a gate may take, unless the rollout says otherwise.
pub const DEFAULT_TRY_SECONDS: u64 = 30;

fn default_try_seconds() -> u64 {
    DEFAULT_TRY_SECONDS
}

/// The gates of a rollout, as given on the command line and kept in its journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gates {
    /// Commands run with `sh -c` in each updated pod (`--gate-exec`); exit 0 passes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exec: Vec<String>,
    /// The container the commands run in; `None`: the pod's first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// URLs that must answer a GET with a 2xx status (`--gate-http`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<String>,
    /// Text the body of every HTTP gate's answer must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_expect: Option<String>,
    /// The HTTP checks are sent as POST (an action, `scale --decommission-http`), not GET.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub http_post: bool,
    /// PodDisruptionBudgets are not checked (`--ignore-pdb`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_pdb: bool,
    #[serde(default)]
    pub on_failure: OnFailure,
    /// How long one try may take, in seconds; a gate is tried again until the step times out.
    #[serde(default = "default_try_seconds")]
    pub try_seconds: u64,
}

impl Default for Gates {
    fn default() -> Self {
        Gates {
            exec: Vec::new(),
            container: None,
            http: Vec::new(),
            http_expect: None,
            http_post: false,
            ignore_pdb: false,
            on_failure: OnFailure::Stop,
            try_seconds: DEFAULT_TRY_SECONDS,
        }
    }
}

impl Gates {
    /// Whether these are the defaults (nothing to journal).
    pub fn is_default(&self) -> bool {
        *self == Gates::default()
    }

    /// Checks the HTTP gates as given on the command line, before anything is read or
    /// written: each an http(s) URL that carries no credential literally (it would be
    /// journaled, planned and logged; [`crate::core::gate_url`]).
    ///
    /// # Errors
    /// The first URL's [`GateRefusal`].
    pub fn check(&self) -> Result<(), GateRefusal> {
        self.http.iter().try_for_each(|url| gate_url::check(self.http_flag(), url))
    }

    /// The flag that gave the HTTP URLs: `--decommission-http` for `scale`'s POSTs.
    fn http_flag(&self) -> &'static str {
        if self.http_post { "--decommission-http" } else { HTTP_FLAG }
    }

    /// Checks that `lookup` (the environment) sets every variable the HTTP gates name, before
    /// the first write of a run that will request them (a resumed run's journaled ones too).
    ///
    /// # Errors
    /// [`GateRefusal::Unset`] for the first one it does not set.
    pub fn check_environment(&self, lookup: impl Fn(&str) -> Option<String>) -> Result<(), GateRefusal> {
        gate_url::check_environment(self.http_flag(), &self.http, lookup)
    }

    /// One line for people: `exec 'pg_isready' in each updated pod; http …; PDBs checked`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> =
            self.exec.iter().map(|c| format!("exec '{c}' in each updated pod")).collect();
        let method = if self.http_post { "POST" } else { "GET" };
        parts.extend(self.http.iter().map(|u| format!("{method} {u} answers 2xx")));
        if let Some(text) = &self.http_expect {
            parts.push(format!("bodies contain '{text}'"));
        }
        parts.push(
            if self.ignore_pdb { "PodDisruptionBudgets ignored" } else { "PodDisruptionBudgets respected" }
                .into(),
        );
        if self.on_failure == OnFailure::Abort {
            parts.push("a failure aborts".into());
        }
        parts.join("; ")
    }
}

/// The most of a command's output or an HTTP body an outcome carries.
pub const OUTPUT_LIMIT: usize = 400;

/// The end of `text`, at most [`OUTPUT_LIMIT`] characters, on one line.
pub fn tail(text: &str) -> String {
    let text = text.trim().replace('\n', " | ");
    let count = text.chars().count();
    if count <= OUTPUT_LIMIT {
        return text;
    }
    let skipped: String = text.chars().skip(count - OUTPUT_LIMIT).collect();
    format!("…{skipped}")
}

/// One answer of an HTTP gate, judged: it passes on a 2xx status whose body contains `expect`
/// (when given), and on nothing else. A redirect is not followed (the client is built so):
/// a 3xx does not pass whatever the page it points to says, since a login page answers 200
/// ("OK, please sign in"). Returns whether it passed and what to say, the redirect's target
/// masked ([`crate::core::gate_url::masked`]).
pub fn http_verdict(status: u16, location: Option<&str>, body: &str, expect: Option<&str>) -> (bool, String) {
    let success = (200..300).contains(&status);
    let matched = expect.is_none_or(|text| body.contains(text));
    let passed = success && matched;
    let mut output = format!("HTTP {status}");
    if (300..400).contains(&status) {
        let to = location.map(|l| format!(" to {}", gate_url::masked(l))).unwrap_or_default();
        output.push_str(&format!(", a redirect{to} (not followed: only a 2xx answer passes)"));
    } else if let (true, false, Some(text)) = (success, matched, expect) {
        output.push_str(&format!(", body without '{text}'"));
    }
    let body = tail(body);
    if !passed && !body.is_empty() {
        output.push_str(&format!(": {body}"));
    }
    (passed, output)
}

/// The kind of a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum GateKind {
    Exec,
    Http,
}

/// One check to make after a step: a gate as given, for one pod (or once for the step), with
/// its placeholders filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateRun {
    pub kind: GateKind,
    /// The gate as given (`curl … {pod}`).
    pub gate: String,
    /// The pod it runs in or is about; `None` for an HTTP gate that names no pod.
    pub pod: Option<String>,
    /// The command or URL to use.
    pub expanded: String,
}

/// Fills `{pod}`, `{ordinal}` and `{namespace}` in.
pub fn expand(template: &str, pod: Option<(&str, i32)>, namespace: &str) -> String {
    let mut text = template.replace("{namespace}", namespace);
    if let Some((name, ordinal)) = pod {
        text = text.replace("{pod}", name).replace("{ordinal}", &ordinal.to_string());
    }
    text
}

/// Whether a gate is about each pod (it names `{pod}` or `{ordinal}`) rather than the set.
fn per_pod(template: &str) -> bool {
    template.contains("{pod}") || template.contains("{ordinal}")
}

/// The checks after a step that updated the pods at `ordinals` of `sts`: every exec gate in
/// every one of them; an HTTP gate for each of them when it names a pod, else once.
pub fn runs(gates: &Gates, sts: &StatefulSet, ordinals: &[i32]) -> Vec<GateRun> {
    let name = sts.name_any();
    let namespace = sts.namespace().unwrap_or_default();
    let pods: Vec<(String, i32)> = ordinals.iter().map(|o| (pod_name(&name, *o), *o)).collect();
    let mut runs = Vec::new();
    for command in &gates.exec {
        for (pod, ordinal) in &pods {
            runs.push(GateRun {
                kind: GateKind::Exec,
                gate: command.clone(),
                pod: Some(pod.clone()),
                expanded: expand(command, Some((pod, *ordinal)), &namespace),
            });
        }
    }
    for url in &gates.http {
        if per_pod(url) {
            for (pod, ordinal) in &pods {
                runs.push(GateRun {
                    kind: GateKind::Http,
                    gate: url.clone(),
                    pod: Some(pod.clone()),
                    expanded: expand(url, Some((pod, *ordinal)), &namespace),
                });
            }
        } else if !pods.is_empty() {
            runs.push(GateRun {
                kind: GateKind::Http,
                gate: url.clone(),
                pod: None,
                expanded: expand(url, None, &namespace),
            });
        }
    }
    runs
}

/// The uid of the live (not terminating) pod of `sts` at each of `ordinals`, `None` where there
/// is none: the pods a step's or a member's gates are about, followed until they have passed.
pub fn followed(sts: &StatefulSet, pods: &[Pod], ordinals: &[i32]) -> Vec<(i32, Option<String>)> {
    let ours = pods_of(sts, pods);
    ordinals
        .iter()
        .map(|&ordinal| {
            let live = ours.iter().find(|(o, p)| *o == ordinal && !terminating(*p));
            (ordinal, live.and_then(|(_, p)| p.uid()))
        })
        .collect()
}

/// The pods among `before` ([`followed`] when the gates began) that are not the same pod now
/// (gone, going, another uid, or none then): their gates passed in or about another pod than
/// the one that soaked, so they did not pass.
pub fn replaced_since(sts: &StatefulSet, pods: &[Pod], before: &[(i32, Option<String>)]) -> Vec<String> {
    let ordinals: Vec<i32> = before.iter().map(|(o, _)| *o).collect();
    let now = followed(sts, pods, &ordinals);
    before
        .iter()
        .zip(now)
        .filter(|((_, was), (_, is))| was.is_none() || was != is)
        .map(|((ordinal, was), _)| {
            let name = pod_name(&sts.name_any(), *ordinal);
            match was {
                Some(uid) => format!(
                    "pod {name} was replaced while its gates ran (uid {uid}): they passed about another pod"
                ),
                None => format!("pod {name} was being replaced when its gates began"),
            }
        })
        .collect()
}

/// A PodDisruptionBudget that does not allow the disruptions the next step needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdbHold {
    pub name: String,
    /// `status.disruptionsAllowed`, when the PDB controller has computed it for this spec.
    pub allowed: Option<i32>,
    pub needed: i32,
}

impl PdbHold {
    pub fn describe(&self) -> String {
        match self.allowed {
            Some(allowed) => format!(
                "PodDisruptionBudget {} allows {allowed} disruption{} now, and the step takes {} pod{} down at once",
                self.name,
                if allowed == 1 { "" } else { "s" },
                self.needed,
                if self.needed == 1 { "" } else { "s" }
            ),
            None => {
                format!("PodDisruptionBudget {} has not been evaluated for its current spec yet", self.name)
            }
        }
    }
}

/// The first pod of `sts` (highest ordinal first, the order pods are replaced) that two or more
/// PodDisruptionBudgets select, by the pod's own labels (an operator may label one pod
/// `role: primary`; [`crate::core::budgets::covering`]), with their names. The Eviction API
/// refuses to evict such a pod (`pkg/registry/core/pod/storage/eviction.go`: "This pod has more
/// than one PodDisruptionBudget"), so replacing by eviction needs at most one budget per pod.
pub fn shared_pod(
    pdbs: &[PodDisruptionBudget],
    sts: &StatefulSet,
    pods: &[Pod],
) -> Option<(String, Vec<String>)> {
    let covers = budgets::covering(pdbs, sts, pods);
    let range = crate::core::objects::ordinal_range(sts);
    let mut ordinals: Vec<i32> = range.ordinals().collect();
    ordinals.reverse();
    ordinals.into_iter().find_map(|ordinal| {
        let over: Vec<String> =
            covers.iter().filter(|c| c.ordinals.contains(&ordinal)).map(budgets::Cover::name).collect();
        (over.len() > 1).then(|| (pod_name(&sts.name_any(), ordinal), over))
    })
}

/// The PodDisruptionBudgets that do not allow what releasing the pods at `ordinals` takes down
/// now, at most `at_once` at a time: the step waits for them. Each budget is matched against the
/// pods themselves ([`crate::core::budgets::covering`]), and needs only the pods it selects
/// there that are healthy: a pod that is already down (not Ready, or terminating) is no
/// disruption, as the disruption controller counts only healthy pods (`currentHealthy`), so
/// replacing it takes nothing from the budget; a set whose every pod crash-loops can ship its
/// fix under a budget at 0. A budget whose status is older than its spec counts as not
/// allowing it until its controller has caught up.
pub fn pdb_holds(
    pdbs: &[PodDisruptionBudget],
    sts: &StatefulSet,
    pods: &[Pod],
    ordinals: &[i32],
    at_once: i32,
) -> Vec<PdbHold> {
    let ours = pods_of(sts, pods);
    let healthy = |o: &i32| ours.iter().any(|(p, pod)| p == o && pod_ready(pod) && !terminating(*pod));
    budgets::covering(pdbs, sts, pods)
        .into_iter()
        .filter_map(|cover| {
            let down = ordinals.iter().filter(|o| cover.ordinals.contains(o) && healthy(o)).count() as i32;
            let needed = down.min(at_once);
            let allowed = budgets::numbers(cover.pdb).map(|n| n.disruptions_allowed);
            (needed > 0 && allowed.is_none_or(|a| a < needed)).then(|| PdbHold {
                name: cover.name(),
                allowed,
                needed,
            })
        })
        .collect()
}

/// The warning a plan carries when budgets keep its first step from starting now (a dry run
/// says so too): the step waits for them up to `timeout`, then stops with no pod released.
pub fn first_step_held(holds: &[PdbHold], timeout: &str) -> Option<String> {
    holds.first()?;
    let one = holds.len() == 1;
    Some(format!(
        "the first step cannot start now: {}. It waits for {} up to --timeout ({timeout}), then stops with no pod \
         released; relax {}, or add --ignore-pdb to this command to replace the pods without waiting for budgets",
        holds.iter().map(PdbHold::describe).collect::<Vec<_>>().join("; "),
        if one { "it" } else { "them" },
        if one { "that budget" } else { "those budgets" },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::{pod, sts};
    use serde_json::json;

    fn pdb(name: &str, selector: serde_json::Value, allowed: i32, observed: i64) -> PodDisruptionBudget {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "generation": 2},
            "spec": {"selector": selector, "maxUnavailable": 1},
            "status": {"disruptionsAllowed": allowed, "observedGeneration": observed,
                       "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3},
        }))
        .unwrap()
    }

    fn labelled(pod: Pod, key: &str, value: &str) -> Pod {
        let mut pod = pod;
        pod.labels_mut().insert(key.into(), value.into());
        pod
    }

    /// One pod two budgets select (one by a label only that pod carries) is what the Eviction
    /// API refuses; two budgets over disjoint pods are not.
    #[test]
    fn a_pod_two_budgets_select_is_named_by_the_pods_own_labels() {
        let web = sts("web", 3).build();
        let primary = labelled(pod(&web, 0).build(), "role", "primary");
        let pods = vec![primary, pod(&web, 1).build(), pod(&web, 2).build()];
        let all = pdb("all", json!({"matchLabels": {"app": "web"}}), 1, 2);
        let primary = pdb("primary", json!({"matchLabels": {"role": "primary"}}), 0, 2);
        let other = pdb("other", json!({"matchLabels": {"app": "db"}}), 1, 2);
        let replica = pdb("replica", json!({"matchLabels": {"role": "replica"}}), 1, 2);
        let twice = all.clone();
        type Row<'a> = (Vec<&'a PodDisruptionBudget>, Option<(&'a str, Vec<&'a str>)>);
        let cases: [Row; 4] = [
            (vec![&all, &other], None),
            (vec![&all, &primary], Some(("web-0", vec!["all", "primary"]))),
            (vec![&primary, &replica], None),
            (vec![&all, &twice], Some(("web-2", vec!["all", "all"]))),
        ];
        for (budgets, expected) in cases {
            let budgets: Vec<PodDisruptionBudget> = budgets.into_iter().cloned().collect();
            let found = shared_pod(&budgets, &web, &pods);
            let expected = expected.map(|(p, b)| (p.to_owned(), b.into_iter().map(str::to_owned).collect()));
            assert_eq!(found, expected, "{:?}", budgets.iter().map(|b| b.name_any()).collect::<Vec<_>>());
        }
    }

    /// Rows: (budget, the pods, the step's ordinals, at once) → the budgets that hold the step.
    #[test]
    fn budgets_hold_a_step_only_for_the_healthy_pods_they_select_in_it() {
        let web = sts("web", 3).build();
        let ours = json!({"matchLabels": {"app": "web"}});
        let healthy: Vec<Pod> = (0..3).map(|o| pod(&web, o).build()).collect();
        let crashing: Vec<Pod> = (0..3).map(|o| pod(&web, o).crash_looping().build()).collect();
        let mut primary0 = healthy.clone();
        primary0[0] = labelled(primary0[0].clone(), "role", "primary");
        let mut web2_down = healthy.clone();
        web2_down[2] = pod(&web, 2).terminating().build();
        let primary = json!({"matchLabels": {"role": "primary"}});
        type Holds<'a> = Vec<(&'a str, Option<i32>, i32)>;
        type Row<'a> = (PodDisruptionBudget, &'a Vec<Pod>, Vec<i32>, i32, Holds<'a>);
        let cases: Vec<Row> = vec![
            (pdb("tight", ours.clone(), 0, 2), &healthy, vec![2], 1, vec![("tight", Some(0), 1)]),
            (pdb("one", ours.clone(), 1, 2), &healthy, vec![2], 1, vec![]),
            (pdb("one", ours.clone(), 1, 2), &healthy, vec![1, 0], 2, vec![("one", Some(1), 2)]),
            (pdb("stale", ours.clone(), 5, 1), &healthy, vec![2], 1, vec![("stale", None, 1)]),
            (pdb("other", json!({"matchLabels": {"app": "db"}}), 0, 2), &healthy, vec![2], 1, vec![]),
            (pdb("everything", json!({}), 0, 2), &healthy, vec![2], 1, vec![("everything", Some(0), 1)]),
            // Every pod crash-looping: replacing them takes nothing from the budget.
            (pdb("tight", ours.clone(), 0, 2), &crashing, vec![2], 1, vec![]),
            (pdb("tight", ours.clone(), 0, 2), &crashing, vec![1, 0], 2, vec![]),
            (pdb("tight", ours.clone(), 0, 2), &web2_down, vec![2], 1, vec![]),
            // A budget over a label only the primary carries: it holds the step that takes
            // web-0 down, not the steps before.
            (pdb("primary", primary.clone(), 0, 2), &primary0, vec![2], 1, vec![]),
            (pdb("primary", primary.clone(), 0, 2), &primary0, vec![1, 0], 1, vec![("primary", Some(0), 1)]),
            (pdb("primary", primary.clone(), 0, 2), &healthy, vec![1, 0], 1, vec![]),
        ];
        for (budget, pods, ordinals, at_once, expected) in cases {
            let holds: Vec<(String, Option<i32>, i32)> =
                pdb_holds(std::slice::from_ref(&budget), &web, pods, &ordinals, at_once)
                    .into_iter()
                    .map(|h| (h.name, h.allowed, h.needed))
                    .collect();
            let expected: Vec<(String, Option<i32>, i32)> =
                expected.into_iter().map(|(n, a, d)| (n.to_owned(), a, d)).collect();
            assert_eq!(holds, expected, "{} over {ordinals:?} at once {at_once}", budget.name_any());
        }
        let text = PdbHold { name: "tight".into(), allowed: Some(0), needed: 1 }.describe();
        assert_eq!(
            text,
            "PodDisruptionBudget tight allows 0 disruptions now, and the step takes 1 pod down at once"
        );
        assert_eq!(first_step_held(&[], "5m"), None, "nothing holds it: nothing to say");
        let held =
            first_step_held(&[PdbHold { name: "tight".into(), allowed: Some(0), needed: 1 }], "5m").unwrap();
        assert!(
            held.starts_with(
                "the first step cannot start now: PodDisruptionBudget tight allows 0 disruptions now"
            ) && held.contains("up to --timeout (5m)"),
            "{held}"
        );
    }

    /// Gates that passed about a pod replaced meanwhile did not pass.
    #[test]
    fn gates_follow_the_pods_they_are_about_by_uid() {
        let web = sts("web", 3).build();
        let pods = vec![pod(&web, 1).uid("one").build(), pod(&web, 2).uid("two").build()];
        let before = followed(&web, &pods, &[2, 1]);
        assert_eq!(before, [(2, Some("two".to_owned())), (1, Some("one".to_owned()))]);
        assert!(replaced_since(&web, &pods, &before).is_empty(), "the same pods");
        let replaced = vec![pod(&web, 1).uid("one").terminating().build(), pod(&web, 2).uid("two-b").build()];
        assert_eq!(
            replaced_since(&web, &replaced, &before),
            [
                "pod web-2 was replaced while its gates ran (uid two): they passed about another pod",
                "pod web-1 was replaced while its gates ran (uid one): they passed about another pod",
            ]
        );
        let missing = followed(&web, &replaced[..1], &[1]);
        assert_eq!(missing, [(1, None)]);
        assert_eq!(
            replaced_since(&web, &pods, &missing),
            ["pod web-1 was being replaced when its gates began"]
        );
    }

    #[test]
    fn exec_gates_run_in_each_updated_pod_and_http_gates_once_unless_they_name_one() {
        let web = sts("web", 4).build();
        let gates = Gates {
            exec: vec!["pg_isready -h {pod}".into()],
            http: vec![
                "http://127.0.0.1:9090/health".into(),
                "http://prom/q?pod={pod}&n={namespace}&o={ordinal}".into(),
            ],
            ..Gates::default()
        };
        let runs = runs(&gates, &web, &[3, 2]);
        let summary: Vec<(GateKind, Option<&str>, &str)> =
            runs.iter().map(|r| (r.kind, r.pod.as_deref(), r.expanded.as_str())).collect();
        assert_eq!(
            summary,
            [
                (GateKind::Exec, Some("web-3"), "pg_isready -h web-3"),
                (GateKind::Exec, Some("web-2"), "pg_isready -h web-2"),
                (GateKind::Http, None, "http://127.0.0.1:9090/health"),
                (GateKind::Http, Some("web-3"), "http://prom/q?pod=web-3&n=default&o=3"),
                (GateKind::Http, Some("web-2"), "http://prom/q?pod=web-2&n=default&o=2"),
            ]
        );
        assert!(super::runs(&gates, &web, &[]).is_empty(), "a step that updates no pod checks nothing");
    }

    /// Rows: (status, Location, body, expected text) → passed, what is said.
    #[test]
    fn an_http_gate_passes_on_2xx_only_and_names_a_redirect_it_did_not_follow() {
        type Row<'a> = (u16, Option<&'a str>, &'a str, Option<&'a str>, bool, &'a str);
        let cases: [Row; 7] = [
            (200, None, "ok", None, true, "HTTP 200"),
            (204, None, "", None, true, "HTTP 204"),
            (200, None, "health: red", Some("green"), false, "HTTP 200, body without 'green': health: red"),
            (
                302,
                Some("https://sso.example/login?next=/health&session=abc"),
                "",
                None,
                false,
                "HTTP 302, a redirect to https://sso.example/login?next=/health&session=*** (not followed: only a 2xx \
                 answer passes)",
            ),
            (
                301,
                None,
                "moved",
                Some("moved"),
                false,
                "HTTP 301, a redirect (not followed: only a 2xx answer passes): moved",
            ),
            (503, None, "cluster health: red", None, false, "HTTP 503: cluster health: red"),
            (500, None, "", Some("green"), false, "HTTP 500"),
        ];
        for (status, location, body, expect, passed, said) in cases {
            assert_eq!(http_verdict(status, location, body, expect), (passed, said.to_owned()), "{status}");
        }
        let long = "x".repeat(OUTPUT_LIMIT + 10);
        assert_eq!(tail(&long).chars().count(), OUTPUT_LIMIT + 1, "the end, marked as cut");
        assert_eq!(tail(" a\nb "), "a | b");
    }

    #[test]
    fn gates_round_trip_through_the_journal_with_defaults() {
        let gates = Gates { exec: vec!["true".into()], on_failure: OnFailure::Abort, ..Gates::default() };
        let text = serde_json::to_string(&gates).unwrap();
        assert_eq!(text, r#"{"exec":["true"],"onFailure":"abort","trySeconds":30}"#);
        assert_eq!(serde_json::from_str::<Gates>(&text).unwrap(), gates);
        assert_eq!(serde_json::from_str::<Gates>("{}").unwrap(), Gates::default());
        assert!(
            gates.describe().contains("exec 'true' in each updated pod")
                && gates.describe().contains("a failure aborts")
        );
    }
}
