// kwok-snapshotter stands in for the two components a real cluster runs for CSI snapshots,
// for the test bed's fake volumes (tests/cluster/stages.yaml provisions them; their driver is
// the provisioner that created them, annotation pv.kubernetes.io/provisioned-by, because the
// fake PVs are hostPath, not CSI):
//
//   - the snapshot-controller (kubernetes-csi/external-snapshotter, pkg/common-controller):
//     for a VolumeSnapshot of a claim it picks the class (the one named, or the driver's
//     default: annotation snapshot.storage.kubernetes.io/is-default-class, exactly one),
//     creates the VolumeSnapshotContent snapcontent-<snapshot uid> with the class's
//     deletionPolicy and driver, and mirrors the content's status into the snapshot's
//     (boundVolumeSnapshotContentName, readyToUse, restoreSize, creationTime, error); when a
//     snapshot is deleted, it deletes its content if the content's deletionPolicy is Delete,
//     and leaves a Retain content behind;
//   - the driver's csi-snapshotter sidecar (pkg/sidecar-controller), which "cuts" the snapshot:
//     after -delay the content becomes readyToUse with restoreSize = the volume's capacity.
//
// The second part only for the kwok drivers (names under kwok.x-k8s.io/): another driver's
// content (real-csi's, on the real nodes: tests/cluster/real/csi.yaml) is cut by that driver's
// own csi-snapshotter, the upstream sidecar, and this controller mirrors its status into the
// snapshot, puts the content finalizer the sidecar removes, and marks a content it deletes
// being-deleted, so that the sidecar deletes the driver's snapshot. (The upstream
// snapshot-controller cannot stand in for the first part here: it refuses the kwok volumes,
// which are not CSI volumes, and it acts on every VolumeSnapshot of the cluster.)
//
// It writes only what those components write to the API, nothing the plugin computes. The
// claim annotation kubectl-stateful.test/snapshot=fail makes the driver fail to snapshot that
// claim's volume: the content and the snapshot get status.error and never become ready (the
// real controllers keep retrying an error, so it is not final for them either), and
// kubectl-stateful.test/snapshot=hold keeps the driver cutting it: not ready, no error, until the
// annotation is removed or changed (a slow snapshot, for the tests that interrupt a wait on it).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	group          = "snapshot.storage.k8s.io"
	failAnnotation = "kubectl-stateful.test/snapshot"
	defaultClass   = "snapshot.storage.kubernetes.io/is-default-class"
	provisionedBy  = "pv.kubernetes.io/provisioned-by"
	// The snapshot-controller's finalizer on a bound snapshot (utils.VolumeSnapshotBoundFinalizer).
	boundFinalizer = "snapshot.storage.kubernetes.io/volumesnapshot-bound-protection"
	// The snapshot-controller's finalizer on a content (utils.VolumeSnapshotContentFinalizer),
	// which a driver's csi-snapshotter removes once it deleted the driver's snapshot.
	contentFinalizer = "snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection"
	// The snapshot-controller's mark on a content it deletes (utils.AnnVolumeSnapshotBeingDeleted).
	beingDeleted = "snapshot.storage.kubernetes.io/volumesnapshot-being-deleted"
	// The drivers whose snapshots this cuts.
	kwokDrivers = "kwok.x-k8s.io/"
)

var (
	snapshotsGVR = schema.GroupVersionResource{Group: group, Version: "v1", Resource: "volumesnapshots"}
	contentsGVR  = schema.GroupVersionResource{Group: group, Version: "v1", Resource: "volumesnapshotcontents"}
	classesGVR   = schema.GroupVersionResource{Group: group, Version: "v1", Resource: "volumesnapshotclasses"}
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the cluster")
	interval := flag.Duration("interval", 200*time.Millisecond, "how often snapshots are looked at")
	delay := flag.Duration("delay", 1500*time.Millisecond, "how long the driver takes to cut a snapshot")
	flag.Parse()
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatal(err)
	}
	cfg.UserAgent = "kwok-snapshotter"
	s := &snapshotter{cs: kubernetes.NewForConfigOrDie(cfg), dyn: dynamic.NewForConfigOrDie(cfg), delay: *delay}
	for {
		if err := s.reconcile(context.Background()); err != nil {
			log.Print(err)
		}
		time.Sleep(*interval)
	}
}

type snapshotter struct {
	cs    kubernetes.Interface
	dyn   dynamic.Interface
	delay time.Duration
}

func (s *snapshotter) reconcile(ctx context.Context) error {
	snapshots, err := s.dyn.Resource(snapshotsGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil // the CRDs are not installed (yet)
		}
		return err
	}
	contents, err := s.dyn.Resource(contentsGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	byName := map[string]*unstructured.Unstructured{}
	for i := range contents.Items {
		byName[contents.Items[i].GetName()] = &contents.Items[i]
	}
	for i := range snapshots.Items {
		vs := &snapshots.Items[i]
		if err := s.step(ctx, vs, byName); err != nil {
			log.Printf("%s/%s: %v", vs.GetNamespace(), vs.GetName(), err)
		}
	}
	return nil
}

func str(obj *unstructured.Unstructured, path ...string) string {
	v, _, _ := unstructured.NestedString(obj.Object, path...)
	return v
}

// step moves one snapshot one step along the controllers' path.
func (s *snapshotter) step(ctx context.Context, vs *unstructured.Unstructured, contents map[string]*unstructured.Unstructured) error {
	ns, name := vs.GetNamespace(), vs.GetName()
	contentName := "snapcontent-" + string(vs.GetUID())
	content := contents[contentName]
	if vs.GetDeletionTimestamp() != nil {
		// Deleting a snapshot deletes its content only under deletionPolicy Delete.
		if content != nil && str(content, "spec", "deletionPolicy") == "Delete" && content.GetDeletionTimestamp() == nil {
			if !strings.HasPrefix(str(content, "spec", "driver"), kwokDrivers) && content.GetAnnotations()[beingDeleted] != "yes" {
				patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"yes"}}}`, beingDeleted)
				if _, err := s.dyn.Resource(contentsGVR).Patch(ctx, contentName, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
					return err
				}
			}
			if err := s.dyn.Resource(contentsGVR).Delete(ctx, contentName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
		if content != nil && str(content, "spec", "deletionPolicy") == "Retain" {
			if err := s.removeContentFinalizer(ctx, content); err != nil {
				return err
			}
		}
		return s.removeFinalizer(ctx, vs)
	}
	claimName := str(vs, "spec", "source", "persistentVolumeClaimName")
	if claimName == "" {
		return nil // pre-provisioned snapshots are not stood in for
	}
	if content == nil {
		if str(vs, "status", "boundVolumeSnapshotContentName") != "" {
			return nil // bound once; its content was deleted by someone
		}
		return s.create(ctx, vs, claimName, contentName)
	}
	if !strings.HasPrefix(str(content, "spec", "driver"), kwokDrivers) {
		return s.mirror(ctx, vs, content)
	}
	// The driver cuts the snapshot after the delay.
	if str(content, "status", "snapshotHandle") == "" && str(content, "status", "error", "message") == "" &&
		time.Since(content.GetCreationTimestamp().Time) >= s.delay {
		claim, err := s.cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claimName, metav1.GetOptions{})
		if err != nil {
			return s.fail(ctx, vs, content, fmt.Sprintf("failed to get claim %s: %v", claimName, err))
		}
		if claim.Annotations[failAnnotation] == "hold" {
			return nil // the driver is still cutting it: not ready, no error, until the annotation goes
		}
		if claim.Annotations[failAnnotation] == "fail" {
			return s.fail(ctx, vs, content, fmt.Sprintf(
				"failed to take snapshot of the volume %s: rpc error: code = Internal desc = injected by %s=fail",
				str(content, "spec", "source", "volumeHandle"), failAnnotation))
		}
		capacity := claim.Status.Capacity[v1.ResourceStorage]
		now := time.Now()
		status := map[string]any{
			"snapshotHandle": "kwok-snapshot-" + string(vs.GetUID()),
			"creationTime":   now.UnixNano(),
			"readyToUse":     true,
			"restoreSize":    capacity.Value(),
		}
		if err := s.setStatus(ctx, contentsGVR, "", contentName, status); err != nil {
			return err
		}
		return s.setStatus(ctx, snapshotsGVR, ns, name, map[string]any{
			"boundVolumeSnapshotContentName": contentName,
			"creationTime":                   now.UTC().Format(time.RFC3339),
			"readyToUse":                     true,
			"restoreSize":                    capacity.String(),
		})
	}
	return nil
}

// create binds a new snapshot to a new content, as the snapshot-controller does.
func (s *snapshotter) create(ctx context.Context, vs *unstructured.Unstructured, claimName, contentName string) error {
	ns := vs.GetNamespace()
	claim, err := s.cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claimName, metav1.GetOptions{})
	if err != nil || claim.Spec.VolumeName == "" || claim.Status.Phase != v1.ClaimBound {
		return s.snapshotError(ctx, vs, fmt.Sprintf("the source claim %s is not bound", claimName))
	}
	pv, err := s.cs.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return s.snapshotError(ctx, vs, fmt.Sprintf("failed to get volume %s: %v", claim.Spec.VolumeName, err))
	}
	driver, handle := pv.Annotations[provisionedBy], pv.Name
	if pv.Spec.CSI != nil {
		driver, handle = pv.Spec.CSI.Driver, pv.Spec.CSI.VolumeHandle
	}
	className := str(vs, "spec", "volumeSnapshotClassName")
	var class *unstructured.Unstructured
	classes, err := s.dyn.Resource(classesGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	var defaults []*unstructured.Unstructured
	for i := range classes.Items {
		c := &classes.Items[i]
		if className != "" && c.GetName() == className {
			class = c
		}
		if className == "" && c.Object["driver"] == driver && c.GetAnnotations()[defaultClass] == "true" {
			defaults = append(defaults, c)
		}
	}
	switch {
	case className != "" && class == nil:
		return s.snapshotError(ctx, vs, fmt.Sprintf("failed to get snapshot class with error volumesnapshotclass.snapshot.storage.k8s.io %q not found", className))
	case className == "" && len(defaults) != 1:
		return s.snapshotError(ctx, vs, fmt.Sprintf("cannot find default snapshot class: %d default classes for driver %s", len(defaults), driver))
	case className == "":
		class = defaults[0]
	}
	if class.Object["driver"] != driver {
		return s.snapshotError(ctx, vs, fmt.Sprintf("snapshot class %s is for driver %v, the volume's is %s", class.GetName(), class.Object["driver"], driver))
	}
	meta := map[string]any{"name": contentName}
	if !strings.HasPrefix(driver, kwokDrivers) {
		meta["finalizers"] = []any{contentFinalizer}
	}
	content := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": group + "/v1",
		"kind":       "VolumeSnapshotContent",
		"metadata":   meta,
		"spec": map[string]any{
			"deletionPolicy":          class.Object["deletionPolicy"],
			"driver":                  driver,
			"source":                  map[string]any{"volumeHandle": handle},
			"volumeSnapshotClassName": class.GetName(),
			"volumeSnapshotRef": map[string]any{
				"apiVersion": group + "/v1", "kind": "VolumeSnapshot",
				"name": vs.GetName(), "namespace": ns, "uid": string(vs.GetUID()),
			},
		},
	}}
	if _, err := s.dyn.Resource(contentsGVR).Create(ctx, content, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	// The controller records the class it chose and protects the bound snapshot.
	patch := fmt.Sprintf(`{"metadata":{"finalizers":[%q]},"spec":{"volumeSnapshotClassName":%q}}`, boundFinalizer, class.GetName())
	if _, err := s.dyn.Resource(snapshotsGVR).Namespace(ns).Patch(ctx, vs.GetName(), types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return err
	}
	return s.setStatus(ctx, snapshotsGVR, ns, vs.GetName(), map[string]any{
		"boundVolumeSnapshotContentName": contentName,
		"readyToUse":                     false,
	})
}

func (s *snapshotter) fail(ctx context.Context, vs, content *unstructured.Unstructured, message string) error {
	e := map[string]any{"message": message, "time": time.Now().UTC().Format(time.RFC3339)}
	if err := s.setStatus(ctx, contentsGVR, "", content.GetName(), map[string]any{"readyToUse": false, "error": e}); err != nil {
		return err
	}
	return s.snapshotError(ctx, vs, "Failed to check and update snapshot content: "+message)
}

func (s *snapshotter) snapshotError(ctx context.Context, vs *unstructured.Unstructured, message string) error {
	if str(vs, "status", "error", "message") == message {
		return nil
	}
	status, _, _ := unstructured.NestedMap(vs.Object, "status")
	if status == nil {
		status = map[string]any{}
	}
	status["readyToUse"] = false
	status["error"] = map[string]any{"message": message, "time": time.Now().UTC().Format(time.RFC3339)}
	return s.setStatus(ctx, snapshotsGVR, vs.GetNamespace(), vs.GetName(), status)
}

func (s *snapshotter) setStatus(ctx context.Context, gvr schema.GroupVersionResource, ns, name string, status map[string]any) error {
	obj, err := s.dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	obj.Object["status"] = status
	_, err = s.dyn.Resource(gvr).Namespace(ns).UpdateStatus(ctx, obj, metav1.UpdateOptions{})
	return err
}

func (s *snapshotter) removeFinalizer(ctx context.Context, vs *unstructured.Unstructured) error {
	var keep []string
	for _, f := range vs.GetFinalizers() {
		if !strings.HasPrefix(f, "snapshot.storage.kubernetes.io/") {
			keep = append(keep, f)
		}
	}
	if len(keep) == len(vs.GetFinalizers()) {
		return nil
	}
	vs.SetFinalizers(keep)
	_, err := s.dyn.Resource(snapshotsGVR).Namespace(vs.GetNamespace()).Update(ctx, vs, metav1.UpdateOptions{})
	return err
}

// mirror copies what another driver's csi-snapshotter wrote into a content's status into the
// snapshot's, as the snapshot-controller does (updateSnapshotStatus).
func (s *snapshotter) mirror(ctx context.Context, vs, content *unstructured.Unstructured) error {
	if msg := str(content, "status", "error", "message"); msg != "" {
		return s.snapshotError(ctx, vs, "Failed to check and update snapshot content: "+msg)
	}
	ready, _, _ := unstructured.NestedBool(content.Object, "status", "readyToUse")
	was, _, _ := unstructured.NestedBool(vs.Object, "status", "readyToUse")
	if !ready || was {
		return nil
	}
	created, _, _ := unstructured.NestedInt64(content.Object, "status", "creationTime")
	size, _, _ := unstructured.NestedInt64(content.Object, "status", "restoreSize")
	return s.setStatus(ctx, snapshotsGVR, vs.GetNamespace(), vs.GetName(), map[string]any{
		"boundVolumeSnapshotContentName": content.GetName(),
		"creationTime":                   time.Unix(0, created).UTC().Format(time.RFC3339),
		"readyToUse":                     true,
		"restoreSize":                    resource.NewQuantity(size, resource.BinarySI).String(),
	})
}

func (s *snapshotter) removeContentFinalizer(ctx context.Context, content *unstructured.Unstructured) error {
	var keep []string
	for _, f := range content.GetFinalizers() {
		if f != contentFinalizer {
			keep = append(keep, f)
		}
	}
	if len(keep) == len(content.GetFinalizers()) {
		return nil
	}
	content.SetFinalizers(keep)
	_, err := s.dyn.Resource(contentsGVR).Update(ctx, content, metav1.UpdateOptions{})
	return err
}
