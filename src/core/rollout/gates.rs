//! What a step must pass besides Ready and minReadySeconds: a command in each updated pod, an
//! HTTP check, the PodDisruptionBudgets over the pods before pods are released, and no container
//! restart while the step soaks (`--pause`). Gates are journaled with the rollout, so a resumed
//! run checks the same.
//!
//! StatefulSet rolling updates delete pods without the Eviction API, so PodDisruptionBudgets do
//! not hold them back (kubernetes#89820, #95374): the rollout checks them itself before each
//! step.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::ResourceExt;
use kube::core::{Selector, SelectorExt};
use serde::{Deserialize, Serialize};

use crate::core::names::pod_name;
use crate::core::objects::template_labels;

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

    /// One line for people: `exec 'pg_isready' in each updated pod; http …; PDBs checked`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> =
            self.exec.iter().map(|c| format!("exec '{c}' in each updated pod")).collect();
        parts.extend(self.http.iter().map(|u| format!("GET {u} answers 2xx")));
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

/// Whether `pdb` selects the pods of `sts` (its selector matches their template's labels). A
/// policy/v1 PDB with an empty selector selects every pod of its namespace; a missing one none.
pub fn selects(pdb: &PodDisruptionBudget, sts: &StatefulSet) -> bool {
    if pdb.namespace() != sts.namespace() {
        return false;
    }
    let Some(selector) = pdb.spec.as_ref().and_then(|s| s.selector.clone()) else {
        return false;
    };
    match Selector::try_from(selector) {
        Ok(selector) => selector.matches(&template_labels(sts)),
        Err(_) => false,
    }
}

/// The PodDisruptionBudgets over the pods of `sts` that do not allow `needed` pods down at once
/// now: the step waits for them. A budget whose status is older than its spec counts as not
/// allowing it until the PDB controller has caught up.
/// The PodDisruptionBudgets over the pods of `sts`, by name. The Eviction API refuses to evict
/// a pod more than one budget selects (`pkg/registry/core/pod/storage/eviction.go`: "This pod
/// has more than one PodDisruptionBudget"), so replacing by eviction needs at most one.
pub fn budgets_over(pdbs: &[PodDisruptionBudget], sts: &StatefulSet) -> Vec<String> {
    pdbs.iter().filter(|pdb| selects(pdb, sts)).map(ResourceExt::name_any).collect()
}

pub fn pdb_holds(pdbs: &[PodDisruptionBudget], sts: &StatefulSet, needed: i32) -> Vec<PdbHold> {
    pdbs.iter()
        .filter(|pdb| selects(pdb, sts))
        .filter_map(|pdb| {
            let status = pdb.status.as_ref();
            let current = status.and_then(|s| s.observed_generation) >= pdb.metadata.generation;
            let allowed = status.map(|s| s.disruptions_allowed).filter(|_| current);
            (allowed.is_none_or(|a| a < needed)).then(|| PdbHold { name: pdb.name_any(), allowed, needed })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::sts;
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

    #[test]
    fn the_budgets_over_the_pods_are_named() {
        let web = sts("web", 3).build();
        let budgets = [
            pdb("a", json!({"matchLabels": {"app": "web"}}), 1, 2),
            pdb("b", json!({"matchLabels": {"app": "web"}}), 1, 2),
            pdb("other", json!({"matchLabels": {"app": "db"}}), 1, 2),
        ];
        assert_eq!(budgets_over(&budgets, &web), ["a", "b"]);
    }

    #[test]
    fn budgets_over_the_pods_must_allow_what_the_step_takes_down() {
        let web = sts("web", 3).build();
        let ours = json!({"matchLabels": {"app": "web"}});
        let cases = [
            (pdb("tight", ours.clone(), 0, 2), 1, vec![("tight", Some(0))]),
            (pdb("one", ours.clone(), 1, 2), 1, vec![]),
            (pdb("one", ours.clone(), 1, 2), 2, vec![("one", Some(1))]),
            (pdb("stale", ours.clone(), 5, 1), 1, vec![("stale", None)]),
            (pdb("other", json!({"matchLabels": {"app": "db"}}), 0, 2), 1, vec![]),
            (pdb("everything", json!({}), 0, 2), 1, vec![("everything", Some(0))]),
        ];
        for (budget, needed, expected) in cases {
            let holds: Vec<(String, Option<i32>)> = pdb_holds(std::slice::from_ref(&budget), &web, needed)
                .into_iter()
                .map(|h| (h.name, h.allowed))
                .collect();
            let expected: Vec<(String, Option<i32>)> =
                expected.into_iter().map(|(n, a)| (n.to_owned(), a)).collect();
            assert_eq!(holds, expected, "{} needing {needed}", budget.name_any());
        }
        let mut none: PodDisruptionBudget = pdb("none", json!({}), 0, 2);
        none.spec.as_mut().unwrap().selector = None;
        assert!(!selects(&none, &web), "a PDB without a selector selects nothing");
        let text = PdbHold { name: "tight".into(), allowed: Some(0), needed: 1 }.describe();
        assert_eq!(
            text,
            "PodDisruptionBudget tight allows 0 disruptions now, and the step takes 1 pod down at once"
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
