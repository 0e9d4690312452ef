//! Why the core says no: one closed enum over every command's refusals. Each says itself
//! whether the command line alone caused it (a usage error, exit 2), whether waiting may lift
//! it, and what to print above its one line when the way out takes more than that line (an
//! owner's configuration to change, the steps of a downtime). The shell turns any of them into
//! `error::Error::Refused` with `?`, and never decides these itself.

use super::gate_url::GateRefusal;
use super::maintenance;
use super::recover;
use super::resize;
use super::restore;
use super::rollout;
use super::status::dns::DnsRefusal;
use super::volume_snapshots;

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Rollout(#[from] rollout::Refusal),
    /// `--image` or `--patch`, or a revision's template, that cannot be used.
    #[error(transparent)]
    Template(#[from] rollout::TemplateError),
    #[error(transparent)]
    Resize(#[from] resize::Refusal),
    #[error(transparent)]
    Restore(#[from] restore::Refusal),
    /// `status -o dns`: no names that would resolve, or no such `--port`.
    #[error(transparent)]
    Dns(#[from] DnsRefusal),
    /// `pvc prune --snapshot` cannot take its snapshots.
    #[error(transparent)]
    Snapshot(#[from] volume_snapshots::Refusal),
    #[error(transparent)]
    Recover(#[from] recover::Refusal),
    /// `drain` or `restart` cannot finish: refused before the first write.
    #[error(transparent)]
    Maintenance(#[from] maintenance::MaintenanceRefusal),
    /// A gate's URL that would put a credential in the journal, the plan or the log, that is
    /// no URL, or that names a variable the environment does not set.
    #[error(transparent)]
    Gate(#[from] GateRefusal),
    /// `scale` cannot finish, or would fight whoever owns `replicas`: refused before the first
    /// write.
    #[error(transparent)]
    Scale(#[from] maintenance::scale::Refusal),
}

impl Refusal {
    /// Caused by the command line alone, not by the cluster's state: exit 2.
    pub fn is_usage(&self) -> bool {
        match self {
            Refusal::Rollout(r) => r.is_usage(),
            Refusal::Template(t) => t.is_usage(),
            Refusal::Resize(r) => r.is_usage(),
            Refusal::Restore(r) => r.is_usage(),
            Refusal::Dns(r) => r.is_usage(),
            Refusal::Maintenance(r) => r.is_usage(),
            Refusal::Gate(_) => true,
            Refusal::Scale(r) => r.is_usage(),
            Refusal::Snapshot(_) | Refusal::Recover(_) => false,
        }
    }

    /// Waiting may lift it (the controller catching up, a pod being replaced): the shell waits,
    /// then decides again.
    pub fn may_pass(&self) -> bool {
        match self {
            Refusal::Rollout(r) => r.may_pass(),
            _ => false,
        }
    }

    /// What to print on stderr above the one-line refusal, when the way out takes more than
    /// that line.
    pub fn way_out(&self) -> Vec<String> {
        match self {
            Refusal::Rollout(rollout::Refusal::Owned(owned)) => owned.snippet.iter().cloned().collect(),
            Refusal::Resize(r) => r.way_out(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_says_whether_it_is_usage_may_pass_and_its_way_out() {
        let usage = Refusal::from(rollout::Refusal::PartitionOutOfRange {
            name: "web".into(),
            partition: 9,
            replicas: 3,
        });
        assert!((usage.is_usage(), usage.may_pass()) == (true, false));
        let passes = Refusal::from(rollout::Refusal::NotObserved { name: "web".into() });
        assert!((passes.is_usage(), passes.may_pass()) == (false, true));
        assert!(Refusal::from(rollout::TemplateError::NotAnImage("app".into())).is_usage());
        assert!(!Refusal::from(rollout::TemplateError::NoTemplate("web-1".into())).is_usage());
        let alive = Refusal::from(recover::Refusal::NodeAlive {
            pod: "db-0".into(),
            reasons: vec!["node n is Ready".into()],
        });
        assert_eq!(alive.to_string(), "refusing to force-delete db-0: node n is Ready; nothing was changed");
        assert!(!alive.is_usage());
        let downtime = Refusal::from(resize::Refusal::NeedsDowntime {
            statefulset: "web".into(),
            scale_down: "kubectl -n shop scale statefulset web --replicas 0".into(),
            scale_up: "kubectl -n shop scale statefulset web --replicas 3".into(),
            steps: vec!["scale to 0".into(), "grow".into()],
        });
        assert_eq!(
            downtime.way_out(),
            [
                "The offline-only claims can grow only while no pod uses them. The downtime that takes:",
                "  1. scale to 0",
                "  2. grow"
            ]
        );
        assert!(downtime.to_string().contains("kubectl -n shop scale statefulset web --replicas 3"));
        assert!(usage.way_out().is_empty());
    }
}
