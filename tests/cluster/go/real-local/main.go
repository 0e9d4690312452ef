// real-local-provisioner: the real nodes' local volumes (StorageClass real-local), one process
// per node on the host, doing what sigs.k8s.io/sig-storage-local-static-provisioner does with a
// discovery directory of mount points (that module is not served by the Go module proxy):
//
//   - every volume is a real filesystem with a real capacity: a sparse file formatted XFS (which
//     can grow online on this machine; ext4 cannot without CAP_SYS_RESOURCE), loop-mounted at
//     <dir>/disks/vol-N;
//   - each mounted volume is offered as a local PersistentVolume pinned to its node (nodeAffinity
//     kubernetes.io/hostname), capacity = the filesystem's size, reclaim policy Delete,
//     annotated pv.kubernetes.io/provisioned-by so that the PV controller leaves its deletion to
//     us, as it does for any external provisioner;
//   - a Released PV with reclaim policy Delete is cleaned (everything on the filesystem is
//     removed), deleted, and offered again under the same name, as the static provisioner's
//     deleter does; a Released PV with policy Retain is left alone with its data;
//   - a volume whose PV is gone (deleted by someone) is cleaned before it is offered again;
//   - unlike the static provisioner, which only discovers disks an administrator mounted, it
//     keeps a supply: while fewer than --min-free volumes of the node are Available, it makes a
//     new one, up to --max.
//
// It writes to the API only what the static provisioner writes: PersistentVolumes.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	// provisionedBy makes the PV controller treat a released Delete volume as an external
	// provisioner's to delete (it waits instead of failing it).
	provisionedBy = "kubectl-stateful.test/real-local"
	nodeLabel     = "kubectl-stateful.test/real-local-node"
)

type provisioner struct {
	client  kubernetes.Interface
	node    string
	class   string
	dir     string
	size    int64
	minFree int
	max     int
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the cluster")
	node := flag.String("node", "", "the node whose volumes these are")
	class := flag.String("class", "real-local", "StorageClass of the PVs")
	dir := flag.String("dir", "", "directory of the volumes: images/vol-N.img, mounted at disks/vol-N")
	size := flag.String("size", "1Gi", "size of each volume's file (XFS needs at least 300 MB)")
	minFree := flag.Int("min-free", 4, "Available volumes to keep ready on the node")
	max := flag.Int("max", 24, "most volumes on the node")
	interval := flag.Duration("interval", time.Second, "how often the volumes and PVs are looked at")
	flag.Parse()
	if *node == "" || *dir == "" {
		log.Fatal("--node and --dir are required")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		log.Fatal(err)
	}
	bytes, err := resource.ParseQuantity(*size)
	if err != nil {
		log.Fatalf("--size: %v", err)
	}
	p := &provisioner{client: client, node: *node, class: *class, dir: *dir, size: bytes.Value(), minFree: *minFree, max: *max}
	for _, sub := range []string{"images", "disks"} {
		if err := os.MkdirAll(filepath.Join(p.dir, sub), 0o755); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("real-local-provisioner: node %s, class %s, volumes of %s in %s, %d kept free, at most %d", p.node, p.class, *size, p.dir, p.minFree, p.max)
	for {
		if err := p.sync(context.Background()); err != nil {
			log.Printf("sync: %v", err)
		}
		time.Sleep(*interval)
	}
}

func (p *provisioner) image(n int) string {
	return filepath.Join(p.dir, "images", fmt.Sprintf("vol-%d.img", n))
}
func (p *provisioner) disk(n int) string {
	return filepath.Join(p.dir, "disks", fmt.Sprintf("vol-%d", n))
}
func (p *provisioner) pvName(n int) string {
	return fmt.Sprintf("%s-%s-%d", p.class, p.node, n)
}

// volumes lists the volume numbers whose image file exists, in order.
func (p *provisioner) volumes() ([]int, error) {
	entries, err := os.ReadDir(filepath.Join(p.dir, "images"))
	if err != nil {
		return nil, err
	}
	var numbers []int
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "vol-") || !strings.HasSuffix(name, ".img") {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "vol-"), ".img")); err == nil {
			numbers = append(numbers, n)
		}
	}
	sort.Ints(numbers)
	return numbers, nil
}

func mounted(path string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) > 4 && fields[4] == path {
			return true, nil
		}
	}
	return false, scanner.Err()
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// mount loop-mounts volume n (util-linux's -o loop detaches the loop device at unmount).
// nouuid: a copy of a volume (a future snapshot) has the same XFS UUID as its source.
func (p *provisioner) mount(n int) error {
	if err := os.MkdirAll(p.disk(n), 0o755); err != nil {
		return err
	}
	if ok, err := mounted(p.disk(n)); err != nil || ok {
		return err
	}
	return run("mount", "-o", "loop,nouuid", p.image(n), p.disk(n))
}

// create makes volume n: a sparse file of --size, formatted XFS, mounted.
func (p *provisioner) create(n int) error {
	tmp := p.image(n) + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := f.Truncate(p.size); err != nil {
		f.Close()
		return err
	}
	f.Close()
	if err := run("mkfs.xfs", "-q", tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, p.image(n)); err != nil {
		return err
	}
	return p.mount(n)
}

// clean removes everything on volume n's filesystem, as the static provisioner's deleter does
// for a filesystem volume.
func (p *provisioner) clean(n int) (int, error) {
	entries, err := os.ReadDir(p.disk(n))
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(p.disk(n), e.Name())); err != nil {
			return 0, err
		}
	}
	return len(entries), nil
}

func (p *provisioner) capacity(n int) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(p.disk(n), &st); err != nil {
		return 0, err
	}
	// In whole MiB, so the capacity reads like a size (e.g. 960Mi).
	return int64(st.Blocks) * st.Bsize / (1 << 20) * (1 << 20), nil
}

func (p *provisioner) offer(ctx context.Context, n int) error {
	bytes, err := p.capacity(n)
	if err != nil {
		return err
	}
	pv := &v1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        p.pvName(n),
			Labels:      map[string]string{nodeLabel: p.node},
			Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": provisionedBy},
		},
		Spec: v1.PersistentVolumeSpec{
			Capacity:                      v1.ResourceList{v1.ResourceStorage: *resource.NewQuantity(bytes, resource.BinarySI)},
			AccessModes:                   []v1.PersistentVolumeAccessMode{v1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: v1.PersistentVolumeReclaimDelete,
			StorageClassName:              p.class,
			VolumeMode:                    ptr(v1.PersistentVolumeFilesystem),
			PersistentVolumeSource:        v1.PersistentVolumeSource{Local: &v1.LocalVolumeSource{Path: p.disk(n)}},
			NodeAffinity: &v1.VolumeNodeAffinity{Required: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{
				MatchExpressions: []v1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: v1.NodeSelectorOpIn, Values: []string{p.node}}},
			}}}},
		},
	}
	_, err = p.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{FieldManager: "real-local-provisioner"})
	if err == nil {
		log.Printf("offered %s: %s (%s)", pv.Name, p.disk(n), pv.Spec.Capacity.Storage())
	}
	return err
}

func ptr[T any](v T) *T { return &v }

func (p *provisioner) sync(ctx context.Context) error {
	numbers, err := p.volumes()
	if err != nil {
		return err
	}
	list, err := p.client.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{LabelSelector: nodeLabel + "=" + p.node})
	if err != nil {
		return err
	}
	pvs := map[string]*v1.PersistentVolume{}
	for i := range list.Items {
		pvs[list.Items[i].Name] = &list.Items[i]
	}
	free := 0
	for _, n := range numbers {
		if err := p.mount(n); err != nil {
			log.Printf("vol-%d: %v", n, err)
			continue
		}
		pv, ok := pvs[p.pvName(n)]
		switch {
		case !ok:
			// New, cleaned and deleted by us, or deleted by someone: offer it clean.
			removed, err := p.clean(n)
			if err != nil {
				log.Printf("vol-%d: clean: %v", n, err)
				continue
			}
			if removed > 0 {
				log.Printf("vol-%d: its PV is gone; removed %d entries before offering it again", n, removed)
			}
			if err := p.offer(ctx, n); err != nil && !apierrors.IsAlreadyExists(err) {
				log.Printf("vol-%d: offer: %v", n, err)
				continue
			}
			free++
		case pv.DeletionTimestamp != nil:
			// Being deleted: offered again once it is gone.
		case pv.Status.Phase == v1.VolumeAvailable || pv.Status.Phase == v1.VolumePending || pv.Status.Phase == "":
			free++
		case pv.Status.Phase == v1.VolumeReleased && pv.Spec.PersistentVolumeReclaimPolicy == v1.PersistentVolumeReclaimDelete:
			removed, err := p.clean(n)
			if err != nil {
				log.Printf("%s: clean: %v", pv.Name, err)
				continue
			}
			uid := pv.UID
			err = p.client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
			if err != nil && !apierrors.IsNotFound(err) {
				log.Printf("%s: delete: %v", pv.Name, err)
				continue
			}
			claim := ""
			if ref := pv.Spec.ClaimRef; ref != nil {
				claim = ref.Namespace + "/" + ref.Name
			}
			log.Printf("released %s (claim %s deleted): removed %d entries from %s, PV deleted, to be offered again", pv.Name, claim, removed, p.disk(n))
		}
	}
	for free < p.minFree && len(numbers) < p.max {
		n := 0
		for _, used := range numbers {
			if used == n {
				n++
			}
		}
		if err := p.create(n); err != nil {
			return fmt.Errorf("vol-%d: %v", n, err)
		}
		if err := p.offer(ctx, n); err != nil {
			return fmt.Errorf("vol-%d: offer: %v", n, err)
		}
		numbers = append(numbers, n)
		sort.Ints(numbers)
		free++
	}
	return nil
}
