# Shared settings for tests/cluster/{build,up,down,node}. Sourced, not executed.
# Everything here writes progress to stderr: stdout of `up` is reserved for the kubeconfig path.

CLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GO_MODULES="$CLUSTER_DIR/go"

K8S_VERSION=v1.34.4
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
KREW_VERSION=v0.4.4

CACHE_ROOT="${KUBECTL_STATEFUL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-stateful}"
# Binaries are keyed by the pinned versions and by their wrapper modules' go.mod and go.sum,
# so a dependency change rebuilds and an unchanged checkout reuses them.
testbed_key() {
  local sums
  sums=$(cat "$GO_MODULES"/{etcd,k8s,kwok}/go.mod "$GO_MODULES"/{etcd,k8s,kwok}/go.sum | sha256sum | cut -c1-12)
  echo "k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-$sums"
}
BIN_DIR="$CACHE_ROOT/bin/$(testbed_key)"
KREW_BIN_DIR="$CACHE_ROOT/bin/krew-$KREW_VERSION-$(cat "$GO_MODULES"/krew/go.{mod,sum} | sha256sum | cut -c1-12)"

# One cluster per machine and user; KWOK_WORKDIR holds its PKI, kubeconfig, logs and etcd data.
CLUSTER_NAME="${KUBECTL_STATEFUL_CLUSTER:-kubectl-stateful}"
export KWOK_WORKDIR="$CACHE_ROOT/kwok"
CLUSTER_HOME="$KWOK_WORKDIR/clusters/$CLUSTER_NAME"
KUBECONFIG_PATH="$CLUSTER_HOME/kubeconfig.yaml"

log() { printf '%s\n' "cluster: $*" >&2; }
die() { printf '%s\n' "cluster: $*" >&2; exit 1; }

# kwokctl's readiness check runs the first `kubectl` on PATH; the Debian dispatcher picks
# a client matching the server, which is fine for 1.34 (within the supported skew).
# --kubeconfig: kwokctl would otherwise add (and later remove) a context in ~/.kube/config;
# the cluster has its own kubeconfig and leaves the user's alone.
kwokctl() { "$BIN_DIR/kwokctl" --name "$CLUSTER_NAME" "$@"; }

# Stops and forgets the cluster. kwokctl stops what it started by pid file; anything left
# running from the cluster's own bin/ (a crashed kwokctl, a killed `up`) is killed too.
remove_cluster() {
  if [[ -x "$BIN_DIR/kwokctl" ]]; then
    kwokctl delete cluster --kubeconfig "$CACHE_ROOT/unused-kubeconfig" >&2 || true
  fi
  pkill -f "$CLUSTER_HOME/bin/" 2>/dev/null && sleep 1
  pkill -9 -f "$CLUSTER_HOME/bin/" 2>/dev/null || true
  rm -rf "$CLUSTER_HOME"
}
