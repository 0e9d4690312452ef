// The VolumeSnapshot CRDs of the test bed: `up` applies config/crd/snapshot.storage.k8s.io_*.yaml
// of this pinned external-snapshotter client module (downloaded, never compiled: no code here).
module kubectl-stateful.local/testbed/snapshot-crds

go 1.26.0

require github.com/kubernetes-csi/external-snapshotter/client/v8 v8.7.0
