# The real-node tier of the test bed: real kubelets, containerd, runc, a CNI bridge, CoreDNS and
# local volumes beside the KWOK nodes, on this machine. Sourced by ../lib.sh (so by build, up,
# down and node), not executed. docs/testing.md, "Real nodes", says what is real and why.
#
# A cluster started with KUBECTL_STATEFUL_REAL_NODES=N gets nodes real-0 … real-<N-1>. Several
# clusters with real nodes run side by side: each takes a slot s (0-15) that gives it its own
# bridge kst-real<s>, subnet 10.<200+s>.0.0/16, kubelet ports, cgroup roots, CoreDNS address
# and state directories. Every host change is recorded or tagged with the cluster's name, and
# real_remove (from remove_cluster: `down`, or `up` recreating the cluster) undoes it.

REAL_MINORS="1.37"
REAL_NODES=${KUBECTL_STATEFUL_REAL_NODES:-0}

# Whether real nodes are asked for (build, up); a bad request stops with one line, exit 2.
real_requested() {
  if ! [[ $REAL_NODES =~ ^[0-9]$ ]] || ((REAL_NODES > 8)); then
    echo "cluster: KUBECTL_STATEFUL_REAL_NODES must be a number of real nodes from 0 to 8" >&2
    exit 2
  fi
  ((REAL_NODES > 0)) || return 1
  # A real node runs the cluster's own kubelet, built from the same k8s.io/kubernetes module as
  # its control plane; only 1.37's wrapper module pins the kubelet's extra dependencies.
  if [[ " $REAL_MINORS " != *" $K8S_MINOR "* ]]; then
    echo "cluster: real nodes run the cluster's own kubelet, built for Kubernetes ${REAL_MINORS// /, } only: use KUBECTL_STATEFUL_K8S_VERSION=${REAL_MINORS##* } with KUBECTL_STATEFUL_REAL_NODES" >&2
    exit 2
  fi
}

REAL_DIR="$CLUSTER_DIR/real"
REAL_HOME="$CLUSTER_HOME/real"
# Shared by every cluster of this cache: the slots and what was on the host before the first
# real node started.
REAL_SHARED="$CACHE_ROOT/real"
# Debian packages the real nodes use as they are, and gcc for the pause image (installed by
# `build` when missing).
REAL_PACKAGES="runc containernetworking-plugins busybox-static xfsprogs iptables gcc libc6-dev"
CONTAINERD_VERSION=$(awk '$1 == "github.com/containerd/containerd/v2" { print $2; exit }' "$GO_MODULES/containerd/go.mod")
real_hash() { cat "$@" | sha256sum | cut -c1-12; }
CONTAINERD_BIN_DIR="$CACHE_ROOT/bin/containerd-$CONTAINERD_VERSION-$(real_hash "$GO_MODULES"/containerd/go.{mod,sum})"
COREDNS_BIN_DIR="$CACHE_ROOT/bin/coredns-$(real_hash "$GO_MODULES"/coredns/{go.mod,go.sum,main.go})"
REAL_LOCAL_BIN_DIR="$CACHE_ROOT/bin/real-local-$(real_hash "$GO_MODULES"/real-local/{go.mod,go.sum,main.go})"
# The storage tier (real-csi): the upstream CSI sidecars, each from a wrapper module of its own
# and keyed by it (external-provisioner, external-resizer, external-snapshotter's csi-snapshotter
# and snapshot-controller), the project's own driver (go/real-csi) and csi-sanity (go/csi-sanity).
CSI_PROVISIONER_BIN_DIR="$CACHE_ROOT/bin/csi-provisioner-$(real_hash "$GO_MODULES"/csi-provisioner/go.{mod,sum})"
CSI_RESIZER_BIN_DIR="$CACHE_ROOT/bin/csi-resizer-$(real_hash "$GO_MODULES"/csi-resizer/go.{mod,sum})"
CSI_SNAPSHOTTER_BIN_DIR="$CACHE_ROOT/bin/csi-snapshotter-$(real_hash "$GO_MODULES"/csi-snapshotter/go.{mod,sum})"
CSI_SANITY_BIN_DIR="$CACHE_ROOT/bin/csi-sanity-$(real_hash "$GO_MODULES"/csi-sanity/go.{mod,sum})"
CSI_DRIVER=real-csi.kubectl-stateful.test
REAL_CSI_BIN_DIR="$CACHE_ROOT/bin/real-csi-$(real_hash "$GO_MODULES"/real-csi/{go.mod,go.sum,*.go})"
# The sysctls the kubelet sets at start (pkg/kubelet/cm setupKernelTunables); saved before the
# first real node of the machine starts, restored when the last one stops (real_take_slot,
# real_free_slot), as is /var/lib/kubelet: every kubelet serves its device-plugin socket at
# /var/lib/kubelet/device-plugins/kubelet.sock whatever its --root-dir.
REAL_SYSCTLS="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes"
REAL_LABEL=kubectl-stateful.test/real

# Why this machine cannot run real nodes (one line), or nothing.
real_host_problem() {
  if [[ $EUID -ne 0 ]]; then
    echo "real nodes need root (kubelet, containerd, mounts, a bridge)"
  elif [[ ! -d /sys/fs/cgroup/freezer || ! -d /sys/fs/cgroup/memory ]]; then
    echo "real nodes need cgroup v1 hierarchies (freezer, memory), which this machine does not mount"
  elif ! grep -qw overlay /proc/filesystems && ! modprobe overlay 2>/dev/null; then
    echo "real nodes need overlayfs, which this kernel does not offer"
  elif [[ ! -e /dev/loop-control ]]; then
    echo "real nodes' volumes need loop devices (/dev/loop-control is missing)"
  elif ! command -v apt-get >/dev/null && ! real_packages_installed; then
    echo "real nodes need Debian's $REAL_PACKAGES (no apt-get here to install them)"
  fi
}

real_packages_installed() {
  local pkg
  for pkg in $REAL_PACKAGES; do
    [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" == "install ok installed" ]] || return 1
  done
}

# Installs the Debian packages the real nodes need, if missing (as .ci/run does for kubectl).
real_packages() {
  real_packages_installed && return
  log "installing Debian packages for the real nodes: $REAL_PACKAGES"
  # shellcheck disable=SC2086
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $REAL_PACKAGES >&2; then
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $REAL_PACKAGES >&2
  fi
}

# The images of the real nodes, keyed by what goes into them: the pause source of the pinned
# Kubernetes, Debian's busybox, the test bed's etcd and mkimage. Prints the directory.
real_images_dir() {
  echo "$CACHE_ROOT/bin/real-images-$( {
    echo "$K8S_VERSION"
    sha256sum /bin/busybox "$BIN_DIR/etcd" "$REAL_DIR/mkimage"
  } | real_hash)"
}

# Builds pause, busybox and etcd images as docker-save archives (build, after the binaries).
real_images() {
  local out work k8s_src start=$SECONDS
  out=$(real_images_dir)
  [[ -f "$out/etcd.tar" ]] && return
  mkdir -p "$out"
  work=$(mktemp -d)
  k8s_src=$(cd "$GO_MODULES/$K8S_MODULE" && GOTOOLCHAIN=$(go_toolchain "$K8S_MODULE") go list -m -f '{{.Dir}}' k8s.io/kubernetes)
  # pause: what k8s.io/kubernetes builds for its pause image, statically linked.
  mkdir -p "$work/pause"
  gcc -Os -static -DVERSION="$K8S_VERSION-kubectl-stateful" -o "$work/pause/pause" "$k8s_src/build/pause/linux/pause.c"
  strip "$work/pause/pause"
  "$REAL_DIR/mkimage" kubectl-stateful.test/pause:3.10 "$work/pause" "$out/pause.tar" '["/pause"]' null
  # busybox: sh, wget and the rest of Debian's static busybox, one symlink per applet.
  mkdir -p "$work/busybox/bin" "$work/busybox/tmp" "$work/busybox/etc" "$work/busybox/usr/local/bin"
  chmod 1777 "$work/busybox/tmp"
  cp /bin/busybox "$work/busybox/bin/busybox"
  local applet
  for applet in $(/bin/busybox --list); do
    [[ -e "$work/busybox/bin/$applet" ]] || ln -s busybox "$work/busybox/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$work/busybox/etc/passwd"
  echo 'root:x:0:' >"$work/busybox/etc/group"
  "$REAL_DIR/mkimage" kubectl-stateful.test/busybox:1 "$work/busybox" "$out/busybox.tar" null '["sh"]'
  # etcd: the test bed's own etcd on top of busybox (the StatefulSet's script needs sh and wget).
  cp "$BIN_DIR/etcd" "$work/busybox/usr/local/bin/etcd"
  "$REAL_DIR/mkimage" kubectl-stateful.test/etcd:1 "$work/busybox" "$out/etcd.tar.tmp" null '["etcd"]'
  mv "$out/etcd.tar.tmp" "$out/etcd.tar"
  rm -rf "$work"
  log "built images pause, busybox and etcd in $((SECONDS - start))s"
}

# --- the cluster's slot and network -------------------------------------------------------

# Sets the names and addresses of slot $1.
real_net() {
  REAL_SLOT=$1
  BRIDGE=kst-real$1
  NET_PREFIX=10.$((200 + $1))
  SUBNET=$NET_PREFIX.0.0/16
  DNS_IP=$NET_PREFIX.0.1
  NET_NAME=kubectl-stateful-$CLUSTER_NAME
  # Each node's sockets (containerd's, the kubelet's pod-resources and plugin sockets under its
  # root directory) must fit a unix socket path (108 bytes): the nodes' state lives under short
  # per-slot paths, not in the cluster's directory. Runtime state on tmpfs, the rest on disk.
  RUN_ROOT=/run/kubectl-stateful/s$1
  STATE_ROOT=/var/lib/kubectl-stateful/s$1
  TAG="kubectl-stateful:$CLUSTER_NAME"
}

# Sets the names, addresses and ports of node real-$1 (after real_net).
real_node() {
  NODE_INDEX=$1
  NODE=real-$1
  NODE_HOME="$STATE_ROOT/$NODE"
  RUN_DIR="$RUN_ROOT/$NODE"
  NODE_IP=$NET_PREFIX.0.$((10 + $1))
  KUBELET_PORT=$((10250 + 20 * REAL_SLOT + 2 * $1))
  HEALTHZ_PORT=$((KUBELET_PORT + 1))
  CGROUP_ROOT=/kubectl-stateful.$CLUSTER_NAME.$NODE
  RANGE_START=$NET_PREFIX.$(($1 + 1)).1
  RANGE_END=$NET_PREFIX.$(($1 + 1)).254
}

# (No `cmd | grep -q` here: under pipefail, grep's early exit can fail the pipeline with SIGPIPE.)

# Host-wide changes (slots, saved sysctls, /etc/hosts) are made one cluster at a time.
real_host_lock() { mkdir -p "$REAL_SHARED/slots"; exec 7>"$REAL_SHARED/host.lock"; flock 7; }
real_host_unlock() { exec 7>&-; }

# The slot of this cluster: the one it holds, else a free one (whose subnet nothing on the
# machine uses). The first slot taken on the machine saves the sysctls the kubelet changes.
real_take_slot() {
  local s owner
  if [[ -f "$REAL_HOME/slot" ]]; then
    real_net "$(cat "$REAL_HOME/slot")"
    return
  fi
  real_host_lock
  for s in $(seq 0 15); do
    owner=$(cat "$REAL_SHARED/slots/$s" 2>/dev/null || true)
    if [[ -n "$owner" && "$owner" != "$CLUSTER_NAME" ]]; then
      # A slot whose cluster is gone (its directory removed by hand) and whose bridge is gone is free.
      [[ ! -d "$KWOK_WORKDIR/clusters/$owner/real" ]] && ! ip link show "kst-real$s" >/dev/null 2>&1 || continue
    fi
    [[ $'\n'"$(ip -4 route show)" == *$'\n'"10.$((200 + s))."* ]] && continue
    if ! ls "$REAL_SHARED/slots/"[0-9]* >/dev/null 2>&1; then
      local key
      for key in $REAL_SYSCTLS; do echo "$key=$(sysctl -n "$key")"; done >"$REAL_SHARED/sysctls"
      [[ -e /var/lib/kubelet ]] && rm -f "$REAL_SHARED/no-var-lib-kubelet" || touch "$REAL_SHARED/no-var-lib-kubelet"
    fi
    echo "$CLUSTER_NAME" >"$REAL_SHARED/slots/$s"
    mkdir -p "$REAL_HOME"
    echo "$s" >"$REAL_HOME/slot"
    real_host_unlock
    real_net "$s"
    return
  done
  real_host_unlock
  die "no free slot for real nodes (16 clusters with real nodes on this machine?): stop one with tests/cluster/down"
}

# Frees the slot; the last one on the machine restores the sysctls.
real_free_slot() {
  real_host_lock
  rm -f "$REAL_SHARED/slots/$REAL_SLOT" "$REAL_HOME/slot"
  if ! ls "$REAL_SHARED/slots/"[0-9]* >/dev/null 2>&1 && [[ -f "$REAL_SHARED/sysctls" ]]; then
    local line
    while read -r line; do sysctl -q -w "$line" >/dev/null || true; done <"$REAL_SHARED/sysctls"
    rm -f "$REAL_SHARED/sysctls"
    if [[ -f "$REAL_SHARED/no-var-lib-kubelet" ]]; then
      rm -f /var/lib/kubelet/device-plugins/kubelet.sock
      rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet 2>/dev/null || true
      rm -f "$REAL_SHARED/no-var-lib-kubelet"
    fi
  fi
  real_host_unlock
}

# /etc/hosts: the API server reaches a kubelet by the node's Hostname address (real-N), on
# loopback. One line per cluster, tagged with its name (the same names in two lines are fine).
# Rewritten in place: /etc/hosts may be a bind mount that cannot be replaced.
real_hosts_line() { # names...
  local kept
  real_host_lock
  kept=$(grep -v "# $TAG\$" /etc/hosts || true)
  {
    printf '%s\n' "$kept"
    (($# == 0)) || echo "127.0.0.1 $* # $TAG"
  } >/etc/hosts
  real_host_unlock
}

# Inserts a rule tagged with the cluster's name (real_network_down removes what carries the tag).
real_iptables() { # chain rule...
  local chain=$1
  shift
  iptables -C "$chain" "$@" -m comment --comment "$TAG" 2>/dev/null || iptables -I "$chain" "$@" -m comment --comment "$TAG"
}

# The bridge (its address is the pods' DNS and each node's IP), no route out, no way in.
real_network_up() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$DNS_IP/16" dev "$BRIDGE"
    ip link set "$BRIDGE" up
  fi
  # Pods have no default route and the machine does not forward (the bridge plugin runs with
  # isGateway false, so it leaves net.ipv4.ip_forward alone); should either change, nothing
  # from the pods' subnet is forwarded anywhere else.
  real_iptables FORWARD -s "$SUBNET" ! -d "$SUBNET" -j DROP
  # From the pods, the host answers DNS only (CoreDNS on the gateway address) and replies to
  # connections it opened (kubectl port-forward, the tests' health polls).
  real_iptables INPUT -i "$BRIDGE" -j DROP
  real_iptables INPUT -i "$BRIDGE" -d "$DNS_IP" -p udp --dport 53 -j ACCEPT
  real_iptables INPUT -i "$BRIDGE" -d "$DNS_IP" -p tcp --dport 53 -j ACCEPT
  real_iptables INPUT -i "$BRIDGE" -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
}

real_network_down() {
  local rule
  if command -v iptables >/dev/null; then
    # `iptables -S` quotes the comment: -A INPUT … -m comment --comment "kubectl-stateful:NAME" -j DROP
    iptables -S | { grep -F -- "--comment \"$TAG\" " || true; } | sed 's/^-A /-D /' | while read -r rule; do
      eval "iptables $rule" || true
    done
  fi
  ip link del "$BRIDGE" 2>/dev/null || true
  real_hosts_line
  # CNI results cached by libcni for this network (normally removed with each sandbox).
  rm -f /var/lib/cni/results/"$NET_NAME"-* 2>/dev/null || true
  rmdir /var/lib/cni/results /var/lib/cni 2>/dev/null || true
}

# --- processes ------------------------------------------------------------------------

# Starts a daemon of this cluster in the background, its pid in $REAL_HOME/pids/NAME.
real_daemon() { # name log binary args...
  local name=$1 logfile=$2
  shift 2
  mkdir -p "$REAL_HOME/pids" "$CLUSTER_HOME/logs"
  env -i HOME="$HOME" PATH="$CLUSTER_HOME/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    setsid nohup "$@" >>"$CLUSTER_HOME/logs/$logfile" 2>&1 7>&- 8>&- 9>&- </dev/null &
  echo $! >"$REAL_HOME/pids/$name"
}

# The pid of a daemon of this cluster, if it runs.
real_pid() { # name
  local pid
  pid=$(cat "$REAL_HOME/pids/$1" 2>/dev/null) || return 1
  [[ -n "$pid" && "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *"$CLUSTER_HOME/bin/"* ]] && echo "$pid"
}

real_stop() { # name
  local pid i
  pid=$(real_pid "$1") || { rm -f "$REAL_HOME/pids/$1"; return 0; }
  kill "$pid" 2>/dev/null || true
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$REAL_HOME/pids/$1"
}

real_link_binaries() {
  mkdir -p "$CLUSTER_HOME/bin"
  ln -sf "$BIN_DIR/kubelet" "$CLUSTER_HOME/bin/kubelet"
  ln -sf "$CONTAINERD_BIN_DIR/containerd" "$CLUSTER_HOME/bin/containerd"
  ln -sf "$CONTAINERD_BIN_DIR/containerd-shim-runc-v2" "$CLUSTER_HOME/bin/containerd-shim-runc-v2"
  ln -sf "$CONTAINERD_BIN_DIR/ctr" "$CLUSTER_HOME/bin/ctr"
  ln -sf "$COREDNS_BIN_DIR/coredns" "$CLUSTER_HOME/bin/coredns"
  ln -sf "$REAL_LOCAL_BIN_DIR/real-local-provisioner" "$CLUSTER_HOME/bin/real-local-provisioner"
  ln -sf "$CSI_PROVISIONER_BIN_DIR/csi-provisioner" "$CLUSTER_HOME/bin/csi-provisioner"
  ln -sf "$CSI_RESIZER_BIN_DIR/csi-resizer" "$CLUSTER_HOME/bin/csi-resizer"
  ln -sf "$CSI_SNAPSHOTTER_BIN_DIR/csi-snapshotter" "$CLUSTER_HOME/bin/csi-snapshotter"
  ln -sf "$REAL_CSI_BIN_DIR/real-csi" "$CLUSTER_HOME/bin/real-csi"
  cp "$REAL_DIR/supervise" "$CLUSTER_HOME/bin/supervise"
}

real_render() { # template output
  sed -e "s|@NODE_HOME@|${NODE_HOME:-}|g" -e "s|@RUN_DIR@|${RUN_DIR:-}|g" -e "s|@CGROUP_ROOT@|${CGROUP_ROOT:-}|g" \
    -e "s|@KUBELET_PORT@|${KUBELET_PORT:-}|g" -e "s|@HEALTHZ_PORT@|${HEALTHZ_PORT:-}|g" \
    -e "s|@CA_FILE@|$CLUSTER_HOME/pki/ca.crt|g" -e "s|@DNS_IP@|$DNS_IP|g" -e "s|@BRIDGE@|$BRIDGE|g" \
    -e "s|@NET_NAME@|$NET_NAME|g" -e "s|@SUBNET@|$SUBNET|g" -e "s|@RANGE_START@|${RANGE_START:-}|g" \
    -e "s|@RANGE_END@|${RANGE_END:-}|g" -e "s|@KUBECONFIG@|$KUBECONFIG_PATH|g" "$1" >"$2"
}

real_coredns_start() {
  real_pid coredns >/dev/null && return
  real_render "$REAL_DIR/Corefile" "$REAL_HOME/Corefile"
  real_daemon coredns coredns.log "$CLUSTER_HOME/bin/coredns" -conf "$REAL_HOME/Corefile"
}

# The node's client identity: a certificate from the cluster's CA for system:node:real-N in
# system:nodes, as a kubelet's TLS bootstrap would get (the Node authorizer and NodeRestriction
# then apply to it as on any cluster).
real_node_kubeconfig() {
  local pki=$NODE_HOME/pki server
  [[ -f "$NODE_HOME/kubeconfig.yaml" ]] && return
  mkdir -p "$pki"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$pki/node.key" -out "$pki/node.csr" \
    -subj "/O=system:nodes/CN=system:node:$NODE" 2>/dev/null
  openssl x509 -req -in "$pki/node.csr" -CA "$CLUSTER_HOME/pki/ca.crt" -CAkey "$CLUSTER_HOME/pki/ca.key" \
    -CAcreateserial -days 365 -out "$pki/node.crt" 2>/dev/null
  server=$(kubectl --kubeconfig "$KUBECONFIG_PATH" config view --minify -o jsonpath='{.clusters[0].cluster.server}')
  kubectl --kubeconfig "$NODE_HOME/kubeconfig.yaml" config set-cluster local --server="$server" \
    --certificate-authority="$CLUSTER_HOME/pki/ca.crt" >/dev/null
  kubectl --kubeconfig "$NODE_HOME/kubeconfig.yaml" config set-credentials "$NODE" \
    --client-certificate="$pki/node.crt" --client-key="$pki/node.key" >/dev/null
  kubectl --kubeconfig "$NODE_HOME/kubeconfig.yaml" config set-context local --cluster=local --user="$NODE" >/dev/null
  kubectl --kubeconfig "$NODE_HOME/kubeconfig.yaml" config use-context local >/dev/null
}

# The cgroup v1 hierarchies (and the empty v2 one) a node's cgroup root lives in.
real_cgroup_hierarchies() {
  local h
  for h in /sys/fs/cgroup/*/; do
    if [[ -f "$h/cgroup.procs" ]]; then echo "${h%/}"; fi
  done
}

real_frozen() { [[ "$(cat "/sys/fs/cgroup/freezer$CGROUP_ROOT/freezer.state" 2>/dev/null)" == FROZEN ]]; }
real_thaw() { [[ ! -f "/sys/fs/cgroup/freezer$CGROUP_ROOT/freezer.state" ]] || echo THAWED >"/sys/fs/cgroup/freezer$CGROUP_ROOT/freezer.state"; }

# Starts whatever of node real-$1 is not running: containerd (importing the images once), the
# kubelet, the volume provisioner. A node taken down (tests/cluster/node down) is brought back.
real_node_start() {
  real_node "$1"
  local h images
  if real_frozen; then
    log "bringing $NODE back: thawing its pods, starting its kubelet"
    real_thaw
  fi
  mkdir -p "$NODE_HOME"/{kubelet,containerd,cni/net.d,cni/ipam,pod-logs,cdi,volumes} "$RUN_DIR"
  for h in $(real_cgroup_hierarchies); do
    mkdir -p "$h$CGROUP_ROOT"
    if [[ -f "$h/cpuset.cpus" && -z "$(cat "$h$CGROUP_ROOT/cpuset.cpus")" ]]; then
      cat "$h/cpuset.cpus" >"$h$CGROUP_ROOT/cpuset.cpus"
      cat "$h/cpuset.mems" >"$h$CGROUP_ROOT/cpuset.mems"
    fi
  done
  real_render "$REAL_DIR/containerd.toml" "$NODE_HOME/containerd.toml"
  real_render "$REAL_DIR/kubelet.yaml" "$NODE_HOME/kubelet.yaml"
  real_render "$REAL_DIR/cni.conflist" "$NODE_HOME/cni/net.d/10-$NET_NAME.conflist"
  echo "nameserver $DNS_IP" >"$NODE_HOME/resolv.conf"
  [[ "$(ip -4 -o addr show dev "$BRIDGE")" == *" $NODE_IP/"* ]] || ip addr add "$NODE_IP/16" dev "$BRIDGE"
  real_node_kubeconfig

  if ! real_pid "$NODE-containerd" >/dev/null; then
    real_daemon "$NODE-containerd" "$NODE-containerd.log" "$CLUSTER_HOME/bin/containerd" --config "$NODE_HOME/containerd.toml"
  fi
  images=$(real_images_dir)
  local ctr=("$CLUSTER_HOME/bin/ctr" --address "$RUN_DIR/containerd.sock" -n k8s.io) i tar have
  for i in $(seq 100); do
    "${ctr[@]}" version >/dev/null 2>&1 && break
    sleep 0.1
  done
  # Imported once per build of the images, and again when one is missing: the kubelet's
  # eviction manager deletes the images no running pod uses when the disk fills up (nodefs
  # below evictionHard), and these cannot be pulled (imagePullPolicy Never).
  have=$("${ctr[@]}" images ls -q 2>/dev/null || true)
  for tar in pause:3.10 busybox:1 etcd:1; do
    if [[ "$(cat "$NODE_HOME/images" 2>/dev/null)" != "$images" || $'\n'"$have"$'\n' != *$'\n'"kubectl-stateful.test/$tar"$'\n'* ]]; then
      "${ctr[@]}" images import "$images/${tar%%:*}.tar" >/dev/null 2>>"$CLUSTER_HOME/logs/$NODE-containerd.log"
    fi
  done
  echo "$images" >"$NODE_HOME/images"
  # The storage tier's node plugin: it serves the kubelet's plugin registration itself.
  if ! real_pid "$NODE-csi" >/dev/null; then
    real_daemon "$NODE-csi" "$NODE-csi.log" "$CLUSTER_HOME/bin/supervise" "$CLUSTER_HOME/bin/real-csi" \
      --dir="$STATE_ROOT/csi" --node-id="$NODE" --node-endpoint="$NODE_HOME/kubelet/plugins/$CSI_DRIVER/csi.sock" \
      --registration-dir="$NODE_HOME/kubelet/plugins_registry"
  fi
  if ! real_pid "$NODE-kubelet" >/dev/null; then
    real_daemon "$NODE-kubelet" "$NODE-kubelet.log" "$CLUSTER_HOME/bin/kubelet" \
      --config="$NODE_HOME/kubelet.yaml" --kubeconfig="$NODE_HOME/kubeconfig.yaml" \
      --root-dir="$NODE_HOME/kubelet" --cert-dir="$NODE_HOME/kubelet/pki" \
      --hostname-override="$NODE" --node-ip="$NODE_IP" --node-labels="$REAL_LABEL=true" --v=1
  fi
  if ! real_pid "$NODE-provisioner" >/dev/null; then
    real_daemon "$NODE-provisioner" "$NODE-provisioner.log" "$CLUSTER_HOME/bin/real-local-provisioner" \
      --kubeconfig="$KUBECONFIG_PATH" --node="$NODE" --dir="$NODE_HOME/volumes" --class=real-local \
      --size=1Gi --min-free=4 --max=24
  fi
}

# The storage tier's controller side: the driver's controller service and the upstream
# sidecars, on one socket, each under supervise (a sidecar exits when its driver restarts).
real_csi_start() {
  local sock=$RUN_ROOT/csi/controller.sock name
  mkdir -p "$STATE_ROOT/csi" "$RUN_ROOT/csi"
  if ! real_pid real-csi >/dev/null; then
    real_daemon real-csi real-csi.log "$CLUSTER_HOME/bin/supervise" "$CLUSTER_HOME/bin/real-csi" \
      --dir="$STATE_ROOT/csi" --controller-endpoint="$sock"
  fi
  # --timeout: mkfs.xfs and a sparse copy take seconds on a loaded machine (the default is 10 s).
  for name in csi-provisioner csi-resizer csi-snapshotter; do
    real_pid "$name" >/dev/null ||
      real_daemon "$name" "$name.log" "$CLUSTER_HOME/bin/supervise" "$CLUSTER_HOME/bin/$name" \
        --csi-address="$sock" --kubeconfig="$KUBECONFIG_PATH" --timeout=60s
  done
}

real_csi_stop() {
  local name img
  for name in csi-provisioner csi-resizer csi-snapshotter real-csi; do real_stop "$name"; done
  for img in "$STATE_ROOT"/csi/volumes/*.img; do
    [[ -f "$img" ]] || continue
    losetup -j "$img" -O NAME -n 2>/dev/null | while read -r h; do losetup -d "$h" 2>/dev/null || true; done
  done
}

# What the running real nodes were started from: a change restarts them from scratch.
real_key() {
  {
    cat "$REAL_DIR"/{lib.sh,containerd.toml,kubelet.yaml,cni.conflist,Corefile,storage.yaml,csi.yaml,supervise}
    echo "$BIN_DIR $CONTAINERD_BIN_DIR $COREDNS_BIN_DIR $REAL_LOCAL_BIN_DIR $(real_images_dir)"
    echo "$CSI_PROVISIONER_BIN_DIR $CSI_RESIZER_BIN_DIR $CSI_SNAPSHOTTER_BIN_DIR $REAL_CSI_BIN_DIR"
  } | real_hash
}

# The real nodes up to real-<N-1>, started or brought back, Ready (called by `up`, which holds
# the start lock). Real nodes started earlier beyond N are kept.
real_start() { # N
  local n=$1 i names=() start=$SECONDS
  local problem
  problem=$(real_host_problem)
  [[ -z "$problem" ]] || die "$problem"
  if [[ -d "$REAL_HOME/nodes" && "$(cat "$REAL_HOME/key" 2>/dev/null)" != "$(real_key)" ]]; then
    log "restarting the real nodes of $CLUSTER_NAME from scratch: their configuration or binaries changed"
    real_remove
    kubectl --kubeconfig "$KUBECONFIG_PATH" delete nodes -l "$REAL_LABEL=true" --wait=false >>"${UP_LOG:-/dev/stderr}" 2>&1 || true
    kubectl --kubeconfig "$KUBECONFIG_PATH" delete pv -l kubectl-stateful.test/real-local-node --wait=false >>"${UP_LOG:-/dev/stderr}" 2>&1 || true
  fi
  real_take_slot
  for ((i = 0; i < n; i++)); do mkdir -p "$REAL_HOME/nodes/real-$i"; done
  for i in $(ls "$REAL_HOME/nodes"); do names+=("$i"); done
  real_network_up
  real_hosts_line "${names[@]}"
  real_link_binaries
  kubectl --kubeconfig "$KUBECONFIG_PATH" apply -f "$REAL_DIR/storage.yaml" -f "$REAL_DIR/csi.yaml" >>"${UP_LOG:-/dev/stderr}" 2>&1
  real_coredns_start
  real_csi_start
  for i in "${names[@]}"; do real_node_start "${i#real-}"; done
  real_key >"$REAL_HOME/key"
  for i in "${names[@]}"; do
    until kubectl --kubeconfig "$KUBECONFIG_PATH" get node "$i" >/dev/null 2>&1; do
      ((SECONDS - start < 120)) || die "real node $i did not register in 2m (see $CLUSTER_HOME/logs/$i-kubelet.log)"
      sleep 0.5
    done
  done
  kubectl --kubeconfig "$KUBECONFIG_PATH" wait --for=condition=Ready node -l "$REAL_LABEL=true" --timeout=2m >>"${UP_LOG:-/dev/stderr}" 2>&1 ||
    die "real nodes not Ready in 2m (see $CLUSTER_HOME/logs/real-*-kubelet.log)"
  log "real nodes ${names[*]} Ready in $((SECONDS - start))s (bridge $BRIDGE, pods $SUBNET, DNS $DNS_IP)"
}

# Stops node real-$1 and undoes what it did on the host: its kubelet, volume provisioner,
# pods' processes, shims and containerd; every mount under its directories (pod volumes,
# container root filesystems, network namespaces, its loop-mounted volumes, which detaches
# their loop devices); its cgroups.
real_node_stop() {
  real_node "$1"
  local pid pids h mnt i task sock
  real_stop "$NODE-kubelet"
  real_stop "$NODE-provisioner"
  real_stop "$NODE-csi"
  real_thaw
  for i in $(seq 50); do
    pids=$(find "/sys/fs/cgroup/freezer$CGROUP_ROOT" -name cgroup.procs -exec cat {} + 2>/dev/null || true)
    [[ -n "$pids" ]] || break
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    sleep 0.1
  done
  # The shims of this containerd (each names its socket in its arguments).
  sock="$RUN_DIR/containerd.sock"
  for pid in $(pgrep -f -- "-address $sock( |\$)" || true); do kill -9 "$pid" 2>/dev/null || true; done
  # Their sockets: /run/containerd/s/<sha256 of address/namespace/id>.
  for task in "$RUN_DIR"/containerd/io.containerd.runtime.v2.task/k8s.io/*; do
    [[ -d "$task" ]] || continue
    rm -f "/run/containerd/s/$(printf '%s' "$sock/k8s.io/${task##*/}" | sha256sum | cut -d' ' -f1)"
  done
  real_stop "$NODE-containerd"
  findmnt -rn -o TARGET | awk -v a="$NODE_HOME/" -v b="$RUN_DIR/" 'index($0, a) == 1 || index($0, b) == 1' | sort -r |
    while read -r mnt; do
      umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
    done
  for i in "$NODE_HOME"/volumes/images/*.img; do
    [[ -f "$i" ]] || continue
    losetup -j "$i" -O NAME -n 2>/dev/null | while read -r h; do losetup -d "$h" 2>/dev/null || true; done
  done
  for h in $(real_cgroup_hierarchies); do
    [[ -d "$h$CGROUP_ROOT" ]] && find "$h$CGROUP_ROOT" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  rm -rf "$RUN_DIR"
}

# Stops every real node of this cluster and undoes every host change (called by remove_cluster).
real_remove() {
  local node
  [[ -f "$REAL_HOME/slot" ]] || return 0
  real_net "$(cat "$REAL_HOME/slot")"
  for node in $(ls "$REAL_HOME/nodes" 2>/dev/null); do real_node_stop "${node#real-}"; done
  real_csi_stop
  real_stop coredns
  real_network_down
  # Shim sockets no process listens on (a shim that died without cleaning up); live ones, of
  # any cluster, stay.
  local listening sock
  listening=$(ss -xlH 2>/dev/null | awk '{print $5}')
  for sock in /run/containerd/s/*; do
    if [[ -S "$sock" && $'\n'"$listening"$'\n' != *$'\n'"$sock"$'\n'* ]]; then rm -f "$sock"; fi
  done
  rm -rf "$RUN_ROOT" "$STATE_ROOT" "$REAL_HOME/nodes"
  rmdir /run/kubectl-stateful /var/lib/kubectl-stateful /run/containerd/s /run/containerd 2>/dev/null || true
  real_free_slot
}

# tests/cluster/node down|up for a real node: down kills its kubelet (no more heartbeats or
# Lease renewals: the node-lifecycle controller sees it fail as any dead node) and its volume
# provisioner, and freezes its pods' processes (v1 freezer cgroup), so they neither run nor
# answer, as on a machine that stopped; up thaws them and starts what was killed.
real_node_down() { # index
  real_net "$(cat "$REAL_HOME/slot")"
  real_node "$1"
  local pid
  for pid in $(real_pid "$NODE-kubelet") $(real_pid "$NODE-provisioner"); do kill -9 "$pid"; done
  rm -f "$REAL_HOME/pids/$NODE-kubelet" "$REAL_HOME/pids/$NODE-provisioner"
  # Its CSI node plugin too (stopped with the command it supervises): the volumes it mounted
  # stay locked to it, as disks stay attached to a dead machine.
  real_stop "$NODE-csi"
  echo FROZEN >"/sys/fs/cgroup/freezer$CGROUP_ROOT/freezer.state"
}

real_node_up() { # index
  real_net "$(cat "$REAL_HOME/slot")"
  real_node_start "$1"
}
