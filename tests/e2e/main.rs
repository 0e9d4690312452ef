#![allow(clippy::unwrap_used, clippy::expect_used)]

//! End-to-end tests against the project's own local control plane (tests/cluster/up):
//! real etcd, kube-apiserver, kube-controller-manager and kube-scheduler, kwok as kubelets,
//! and for `real::` real kubelets with data (KUBECTL_STATEFUL_REAL_NODES).
//! One test binary (fast to link), one namespace per test (safe to run in parallel).

mod support;

mod advice;
mod budgets;
mod cluster;
mod dns;
mod drain;
mod dry_run;
mod etcd;
mod faults;
mod field;
mod fleet;
mod gates;
mod gitops;
mod habits;
mod hostile;
mod live;
mod ondelete;
mod prune;
mod quorum;
mod real;
mod recover;
mod resize;
mod restart;
mod rollout;
mod scale;
mod snapshots;
mod status;
mod status_seen;
mod stuck;
mod swap;
mod versions;
