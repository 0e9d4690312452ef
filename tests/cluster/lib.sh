# Shared settings for tests/cluster/{build,up,down,node}. Sourced, not executed.
# Everything here writes progress to stderr: stdout of `up` is reserved for the kubeconfig path.

CLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GO_MODULES="$CLUSTER_DIR/go"

# The Kubernetes versions the testbed can run, chosen by KUBECTL_STATEFUL_K8S_VERSION (a minor;
# default: the newest). Each minor pins an exact k8s.io/kubernetes release and the etcd that
# release is paired with upstream (its go.mod's etcd client and build/dependencies.yaml: 3.6.5
# for 1.34, 3.7.0 for 1.37), at the newest patch of that etcd minor the module proxy serves.
# kwok v0.8.0 is the newest kwok.
# Adding a version: a row here, a wrapper module go/k8s-<minor> (and go/etcd-<minor> if new).
SUPPORTED_K8S="1.34 1.37"
K8S_MINOR=${KUBECTL_STATEFUL_K8S_VERSION:-1.37}
case $K8S_MINOR in
  1.34) K8S_VERSION=v1.34.4 ETCD_VERSION=v3.6.16 ETCD_MODULE=etcd-3.6 ;;
  1.37) K8S_VERSION=v1.37.2 ETCD_VERSION=v3.7.3 ETCD_MODULE=etcd-3.7 ;;
  *)
    echo "cluster: unsupported KUBECTL_STATEFUL_K8S_VERSION=$K8S_MINOR (supported: ${SUPPORTED_K8S// /, })" >&2
    exit 2
    ;;
esac
K8S_MODULE=k8s-$K8S_MINOR
KWOK_VERSION=v0.8.0
KREW_VERSION=v0.4.4
# The release checks' tools (tests/release, .ci/run): actionlint from its Go module; cargo-deny
# and cargo-cyclonedx from crates.io (`cargo install --locked`), each cached by its version.
ACTIONLINT_VERSION=v1.7.12
CARGO_DENY_VERSION=0.20.2
CARGO_CYCLONEDX_VERSION=0.5.9
# Feature gates turned on for kube-apiserver and kube-controller-manager, per version:
# StatefulSet's Recreate update strategy (KEP-3541) is alpha, off by default, in 1.37.
case $K8S_MINOR in
  1.37) K8S_FEATURE_GATES=StatefulSetRecreateStrategy=true ;;
  *) K8S_FEATURE_GATES= ;;
esac

CACHE_ROOT="${KUBECTL_STATEFUL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-stateful}"
# Binaries are keyed by the pinned versions and by their wrapper modules' go.mod and go.sum,
# so a dependency change rebuilds and an unchanged checkout reuses them.
testbed_key() {
  local sums
  sums=$(cat "$GO_MODULES"/{$ETCD_MODULE,$K8S_MODULE,kwok}/go.mod "$GO_MODULES"/{$ETCD_MODULE,$K8S_MODULE,kwok}/go.sum | sha256sum | cut -c1-12)
  echo "k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-$sums"
}
BIN_DIR="$CACHE_ROOT/bin/$(testbed_key)"
# kwok-resizer (go/resizer), the volume-expansion stand-in, is keyed by its own sources, so
# changing it rebuilds only it (not the control plane) and recreates running clusters.
RESIZER_BIN_DIR="$CACHE_ROOT/bin/resizer-$(cat "$GO_MODULES"/resizer/{go.mod,go.sum,main.go} | sha256sum | cut -c1-12)"
# kwok-snapshotter (go/snapshotter), the snapshot stand-in, likewise.
SNAPSHOTTER_BIN_DIR="$CACHE_ROOT/bin/snapshotter-$(cat "$GO_MODULES"/snapshotter/{go.mod,go.sum,main.go} | sha256sum | cut -c1-12)"
KREW_BIN_DIR="$CACHE_ROOT/bin/krew-$KREW_VERSION-$(cat "$GO_MODULES"/krew/go.{mod,sum} | sha256sum | cut -c1-12)"
ACTIONLINT_BIN_DIR="$CACHE_ROOT/bin/actionlint-$ACTIONLINT_VERSION-$(cat "$GO_MODULES"/actionlint/go.{mod,sum} | sha256sum | cut -c1-12)"

# The Go toolchain for a wrapper module: the machine's own Go when it is at least what the
# module's go line asks for, else go1.27.3, which the go command fetches once from the module
# proxy (the one newer Go this machine can get). Today every module declares go <= 1.26.
go_toolchain() { # module-dir
  local need have
  need=$(awk '$1 == "go" { print $2; exit }' "$GO_MODULES/$1/go.mod")
  have=$(GOTOOLCHAIN=local go env GOVERSION); have=${have#go}
  if [[ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" == "$need" ]]; then
    echo local
  else
    echo go1.27.3
  fi
}

# One cluster per name (KUBECTL_STATEFUL_CLUSTER), of any supported version; clusters of
# different names run side by side on ports kwokctl picks. KWOK_WORKDIR holds each one's PKI,
# kubeconfig, logs and etcd data.
CLUSTER_NAME="${KUBECTL_STATEFUL_CLUSTER:-kubectl-stateful}"
export KWOK_WORKDIR="$CACHE_ROOT/kwok"
CLUSTER_HOME="$KWOK_WORKDIR/clusters/$CLUSTER_NAME"
KUBECONFIG_PATH="$CLUSTER_HOME/kubeconfig.yaml"
# The bin directory a running cluster was started from (its version may not be this one).
BIN_DIR_FILE="$CLUSTER_HOME/testbed-bin"

log() { printf '%s\n' "cluster: $*" >&2; }
die() { printf '%s\n' "cluster: $*" >&2; exit 1; }

# kwokctl's readiness check runs the first `kubectl` on PATH; the Debian dispatcher's newest
# client is 1.33, outside the supported skew for 1.37 (kubectl version warns), which is fine
# for the little the testbed asks of it (readiness, apply, wait).
# --kubeconfig: kwokctl would otherwise add (and later remove) a context in ~/.kube/config;
# the cluster has its own kubeconfig and leaves the user's alone.
kwokctl() { "$BIN_DIR/kwokctl" --name "$CLUSTER_NAME" "$@"; }

# Stops and forgets the cluster, whatever version it runs: its real nodes first (real/lib.sh,
# which undoes their host changes), then kwokctl stops what it started by pid file; anything left running from the cluster's own bin/ (a crashed kwokctl, a killed
# `up`) is killed too.
remove_cluster() {
  local bin
  real_remove || true
  bin=$(cat "$BIN_DIR_FILE" 2>/dev/null || echo "$BIN_DIR")
  [[ -x "$bin/kwokctl" ]] || bin=$BIN_DIR
  if [[ -x "$bin/kwokctl" ]]; then
    "$bin/kwokctl" --name "$CLUSTER_NAME" delete cluster --kubeconfig "$CACHE_ROOT/unused-kubeconfig" >&2 || true
  fi
  pkill -f "$CLUSTER_HOME/bin/" 2>/dev/null && sleep 1
  pkill -9 -f "$CLUSTER_HOME/bin/" 2>/dev/null || true
  rm -rf "$CLUSTER_HOME"
}

# The real-node tier (KUBECTL_STATEFUL_REAL_NODES): real kubelets beside the kwok nodes.
source "$CLUSTER_DIR/real/lib.sh"
