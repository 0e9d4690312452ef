// kwok-resizer stands in for the two writers a real cluster has when a PersistentVolumeClaim
// grows, for the test bed's fake volumes (tests/cluster/stages.yaml provisions them as
// hostPath PVs, for which kube-controller-manager's expand controller only records "waiting
// for an external controller to expand this PVC"):
//
//   - a CSI driver's external-resizer (kubernetes-csi/external-resizer,
//     pkg/controller/expand_and_recover.go and resize_status.go): it marks the claim
//     Resizing with allocatedResources = the new size and allocatedResourceStatuses.storage =
//     ControllerResizeInProgress, expands the volume, sets the PV's spec.capacity, then either
//     finishes (status.capacity = the new size, resize conditions and status cleared) or, when
//     the filesystem must be grown on the node, sets FileSystemResizePending and
//     NodeResizePending. A final error sets ControllerResizeError; an infeasible one also
//     ControllerResizeInfeasible. An offline-only driver refuses while a pod uses the volume.
//   - the kubelet's NodeExpandVolume, which finishes a FileSystemResizePending claim when a
//     pod mounts the volume (at a pod's start).
//
// It writes only what those components write to the API, nothing the plugin computes.
//
// Behaviour by StorageClass (the fake driver's capability; the class name stands for the
// driver, as in stages.yaml):
//
//	kwok-volume, kwok-volume-retain   online, no node expansion needed: capacity follows
//	kwok-volume-offline               offline only: expands while no pod uses the claim, the
//	                                  filesystem then grows when a pod next mounts it
//	anything else                     not handled (kwok-volume-fixed has no
//	                                  allowVolumeExpansion: the API server refuses the patch)
//
// The claim annotation kubectl-stateful.test/resize changes one claim's fate:
//
//	max=QUANTITY the driver cannot provide more: a bigger request fails as infeasible
//	             (ControllerResizeError + ControllerResizeInfeasible); a smaller one succeeds
//	at-mount     the filesystem grows only when a pod next mounts the claim (FileSystemResizePending
//	             until the pod using it is re-created)
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const annotation = "kubectl-stateful.test/resize"

type mode int

const (
	online mode = iota + 1
	offline
)

var classes = map[string]mode{
	"kwok-volume":         online,
	"kwok-volume-retain":  online,
	"kwok-volume-offline": offline,
}

// resizeConditions are the conditions external-resizer's MergeResizeConditionsOfPVC replaces.
var resizeConditions = map[v1.PersistentVolumeClaimConditionType]bool{
	v1.PersistentVolumeClaimResizing:                true,
	v1.PersistentVolumeClaimFileSystemResizePending: true,
	v1.PersistentVolumeClaimControllerResizeError:   true,
	v1.PersistentVolumeClaimNodeResizeError:         true,
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the cluster")
	interval := flag.Duration("interval", 200*time.Millisecond, "how often claims are looked at")
	delay := flag.Duration("delay", 500*time.Millisecond, "how long a controller expansion takes")
	flag.Parse()
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatal(err)
	}
	cfg.UserAgent = "kwok-resizer"
	cs := kubernetes.NewForConfigOrDie(cfg)
	r := &resizer{cs: cs, delay: *delay}
	for {
		if err := r.reconcile(context.Background()); err != nil {
			log.Print(err)
		}
		time.Sleep(*interval)
	}
}

type resizer struct {
	cs    kubernetes.Interface
	delay time.Duration
}

func (r *resizer) reconcile(ctx context.Context) error {
	claims, err := r.cs.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	pods, err := r.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	// Claims in use, as external-resizer's inuse_pvc_store sees them: mounted by a pod that
	// is on a node and has not terminated; with the latest start of such a pod.
	started := map[string]time.Time{}
	inUse := map[string]bool{}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.Spec.NodeName == "" || pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed {
			continue
		}
		for _, vol := range pod.Spec.Volumes {
			if vol.PersistentVolumeClaim == nil {
				continue
			}
			key := pod.Namespace + "/" + vol.PersistentVolumeClaim.ClaimName
			inUse[key] = true
			if pod.Status.StartTime != nil && pod.DeletionTimestamp == nil && started[key].Before(pod.Status.StartTime.Time) {
				started[key] = pod.Status.StartTime.Time
			}
		}
	}
	for i := range claims.Items {
		claim := &claims.Items[i]
		key := claim.Namespace + "/" + claim.Name
		if err := r.step(ctx, claim, inUse[key], started[key]); err != nil {
			log.Printf("%s: %v", key, err)
		}
	}
	return nil
}

// step moves one claim one step along the resizer's and kubelet's path.
func (r *resizer) step(ctx context.Context, claim *v1.PersistentVolumeClaim, inUse bool, podStarted time.Time) error {
	if claim.Spec.StorageClassName == nil || claim.Status.Phase != v1.ClaimBound || claim.Spec.VolumeName == "" {
		return nil
	}
	m, ok := classes[*claim.Spec.StorageClassName]
	if !ok || claim.DeletionTimestamp != nil {
		return nil
	}
	spec := claim.Spec.Resources.Requests[v1.ResourceStorage]
	capacity := claim.Status.Capacity[v1.ResourceStorage]
	status := claim.Status.AllocatedResourceStatuses[v1.ResourceStorage]
	fate := claim.Annotations[annotation]

	// The kubelet: a filesystem waiting for node expansion grows when a pod mounts the volume,
	// that is when a pod using the claim starts after the controller expansion.
	if status == v1.PersistentVolumeClaimNodeResizePending {
		pending := condition(claim, v1.PersistentVolumeClaimFileSystemResizePending)
		// Both times have one-second precision in the API: a pod that started in the second
		// the condition was set counts as a new mount.
		if pending != nil && !podStarted.IsZero() && !podStarted.Before(pending.LastTransitionTime.Time) {
			return r.finish(ctx, claim, claim.Status.AllocatedResources[v1.ResourceStorage])
		}
		return nil
	}
	if spec.Cmp(capacity) <= 0 {
		// Nothing to expand. (A request can be lowered after a failure, KEP-1790, but only to
		// more than status.capacity: the API server refuses anything else.)
		return nil
	}
	allocated, hasAllocated := claim.Status.AllocatedResources[v1.ResourceStorage]
	resizing := condition(claim, v1.PersistentVolumeClaimResizing)
	switch {
	case status == v1.PersistentVolumeClaimControllerResizeInfeasible && hasAllocated && allocated.Cmp(spec) == 0:
		// Failed for this size; the real resizer retries slowly, with the same outcome here.
		return nil
	case status != v1.PersistentVolumeClaimControllerResizeInProgress || !hasAllocated || allocated.Cmp(spec) != 0:
		return r.markInProgress(ctx, claim, spec)
	case resizing == nil && condition(claim, v1.PersistentVolumeClaimControllerResizeError) != nil && !(m == offline && inUse):
		// A non-final error (the volume was in use): external-resizer requeues the claim and
		// marks it Resizing again on the next attempt.
		return r.markInProgress(ctx, claim, spec)
	case resizing == nil || time.Since(resizing.LastTransitionTime.Time) < r.delay:
		return nil
	case strings.HasPrefix(fate, "max=") && spec.Cmp(resource.MustParse(strings.TrimPrefix(fate, "max="))) > 0:
		return r.markFailed(ctx, claim, v1.PersistentVolumeClaimControllerResizeInfeasible,
			fmt.Sprintf("resize volume %q by resizer %q failed: rpc error: code = OutOfRange desc = requested size %s exceeds what the volume can hold", claim.Spec.VolumeName, "kwok-resizer", spec.String()))
	case m == offline && inUse:
		if condition(claim, v1.PersistentVolumeClaimControllerResizeError) != nil {
			return nil
		}
		return r.markFailed(ctx, claim, v1.PersistentVolumeClaimControllerResizeInProgress,
			fmt.Sprintf("Unable to expand %s/%s because CSI driver kwok-resizer only supports offline expansion and volume is currently in-use", claim.Namespace, claim.Name))
	}
	// ControllerExpandVolume succeeded: the PV first, then the claim.
	pv, err := r.cs.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if current := pv.Spec.Capacity[v1.ResourceStorage]; current.Cmp(spec) < 0 {
		pv.Spec.Capacity[v1.ResourceStorage] = spec
		if _, err := r.cs.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	if m == offline || fate == "at-mount" {
		return r.markNodePending(ctx, claim)
	}
	return r.finish(ctx, claim, spec)
}

func condition(claim *v1.PersistentVolumeClaim, t v1.PersistentVolumeClaimConditionType) *v1.PersistentVolumeClaimCondition {
	for i := range claim.Status.Conditions {
		if claim.Status.Conditions[i].Type == t && claim.Status.Conditions[i].Status == v1.ConditionTrue {
			return &claim.Status.Conditions[i]
		}
	}
	return nil
}

// withConditions replaces the claim's resize conditions by these (MergeResizeConditionsOfPVC).
func withConditions(claim *v1.PersistentVolumeClaim, conditions ...v1.PersistentVolumeClaimCondition) {
	kept := []v1.PersistentVolumeClaimCondition{}
	for _, c := range claim.Status.Conditions {
		if !resizeConditions[c.Type] {
			kept = append(kept, c)
		}
	}
	claim.Status.Conditions = append(kept, conditions...)
}

func setStatus(claim *v1.PersistentVolumeClaim, status v1.ClaimResourceStatus) {
	if claim.Status.AllocatedResourceStatuses == nil {
		claim.Status.AllocatedResourceStatuses = map[v1.ResourceName]v1.ClaimResourceStatus{}
	}
	claim.Status.AllocatedResourceStatuses[v1.ResourceStorage] = status
}

// markInProgress is markControllerResizeInProgress.
func (r *resizer) markInProgress(ctx context.Context, claim *v1.PersistentVolumeClaim, size resource.Quantity) error {
	c := claim.DeepCopy()
	withConditions(c, v1.PersistentVolumeClaimCondition{Type: v1.PersistentVolumeClaimResizing, Status: v1.ConditionTrue, LastTransitionTime: metav1.Now()})
	setStatus(c, v1.PersistentVolumeClaimControllerResizeInProgress)
	if c.Status.AllocatedResources == nil {
		c.Status.AllocatedResources = v1.ResourceList{}
	}
	c.Status.AllocatedResources[v1.ResourceStorage] = size
	return r.update(ctx, c)
}

// markFailed is markControllerExpansionInfeasible (status ControllerResizeInfeasible) or
// markControllerExpansionFailedCondition (status left ControllerResizeInProgress).
func (r *resizer) markFailed(ctx context.Context, claim *v1.PersistentVolumeClaim, status v1.ClaimResourceStatus, message string) error {
	c := claim.DeepCopy()
	withConditions(c, v1.PersistentVolumeClaimCondition{Type: v1.PersistentVolumeClaimControllerResizeError, Status: v1.ConditionTrue, LastTransitionTime: metav1.Now(), Message: message})
	setStatus(c, status)
	return r.update(ctx, c)
}

// markNodePending is markForPendingNodeExpansion.
func (r *resizer) markNodePending(ctx context.Context, claim *v1.PersistentVolumeClaim) error {
	c := claim.DeepCopy()
	withConditions(c, v1.PersistentVolumeClaimCondition{Type: v1.PersistentVolumeClaimFileSystemResizePending, Status: v1.ConditionTrue, LastTransitionTime: metav1.Now(),
		Message: "Waiting for user to (re-)start a pod to finish file system resize of volume on node."})
	setStatus(c, v1.PersistentVolumeClaimNodeResizePending)
	return r.update(ctx, c)
}

// finish is markOverallExpansionAsFinished (or the kubelet's markFSResizeFinished).
func (r *resizer) finish(ctx context.Context, claim *v1.PersistentVolumeClaim, size resource.Quantity) error {
	c := claim.DeepCopy()
	if c.Status.Capacity == nil {
		c.Status.Capacity = v1.ResourceList{}
	}
	c.Status.Capacity[v1.ResourceStorage] = size
	if c.Status.AllocatedResources == nil {
		c.Status.AllocatedResources = v1.ResourceList{}
	}
	c.Status.AllocatedResources[v1.ResourceStorage] = size
	withConditions(c)
	delete(c.Status.AllocatedResourceStatuses, v1.ResourceStorage)
	if len(c.Status.AllocatedResourceStatuses) == 0 {
		c.Status.AllocatedResourceStatuses = nil
	}
	return r.update(ctx, c)
}

// update writes the claim's status with its resourceVersion as read, as patchClaim does with
// addResourceVersionCheck: a claim changed meanwhile is looked at again on the next pass.
func (r *resizer) update(ctx context.Context, claim *v1.PersistentVolumeClaim) error {
	_, err := r.cs.CoreV1().PersistentVolumeClaims(claim.Namespace).UpdateStatus(ctx, claim, metav1.UpdateOptions{})
	return err
}
