// real-csi is the storage tier's CSI driver (tests/cluster/real): what a driver does and no more,
// for the upstream sidecars (csi-provisioner, csi-resizer, csi-snapshotter) and the real kubelets.
//
// A volume is a sparse file holding an XFS filesystem, in one directory shared by every real
// node of the cluster (they all run on this machine): network-storage semantics, so a pod
// re-created on another real node (a drain) finds its volume there with its data. A volume is
// mounted at one place at a time: the node that publishes it takes its lock file
// (<id>.publish, created exclusively), and a publish elsewhere fails (FAILED_PRECONDITION) until
// that node unpublishes it, as a single-attach disk refuses a second attachment. A node that
// stopped without unpublishing (tests/cluster/node down) keeps it, as a dead machine keeps a disk
// attached until it is fenced.
//
//   - CreateVolume: truncate + mkfs.xfs (320 MiB at least: mkfs.xfs refuses small
//     filesystems), or a sparse copy of a snapshot, grown to the size asked for.
//   - NodePublishVolume: losetup + mount -o nouuid (a restored copy shares its source's XFS
//     UUID) + xfs_growfs (a volume restored into a bigger claim); NodeUnpublishVolume undoes it.
//   - ControllerExpandVolume truncates the file; NodeExpandVolume (online) runs losetup -c and
//     xfs_growfs on the mounted filesystem. (ext4 cannot grow online here: no CAP_SYS_RESOURCE.)
//   - CreateSnapshot: xfs_freeze of the mounted filesystem (if any) around a sparse copy.
//   - ControllerModifyVolume records the mutable parameters it is given (the keys named by
//     --mutable-parameters) in the volume's metadata: enough for VolumeAttributesClass.
//
// One process serves the controller (--controller-endpoint), one per node the node service
// (--node-endpoint, --node-id) and the kubelet's plugin registration (--registration-dir): the
// upstream node-driver-registrar is not on the Go module proxy.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

const (
	mi          = int64(1) << 20
	minSize     = 320 * mi
	defaultSize = 1 << 30
	version     = "0.1.0"
)

var (
	driverName = flag.String("driver-name", "real-csi.kubectl-stateful.test", "the CSI driver's name")
	dir        = flag.String("dir", "", "the directory holding every volume and snapshot (shared by the nodes)")
	ctrlSock   = flag.String("controller-endpoint", "", "unix socket of the identity and controller services")
	nodeSock   = flag.String("node-endpoint", "", "unix socket of the identity and node services")
	nodeID     = flag.String("node-id", "", "this node's name (with --node-endpoint)")
	regDir     = flag.String("registration-dir", "", "the kubelet's plugins_registry directory (with --node-endpoint)")
	mutable    = flag.String("mutable-parameters", "iops,tier", "comma-separated keys ControllerModifyVolume accepts")
)

// One operation at a time in a process; between processes, the publish lock files.
var mu sync.Mutex

func main() {
	flag.Parse()
	if *dir == "" || (*ctrlSock == "" && *nodeSock == "") || (*nodeSock != "" && *nodeID == "") {
		fmt.Fprintln(os.Stderr, "usage: real-csi --dir DIR [--controller-endpoint SOCK] [--node-endpoint SOCK --node-id NODE [--registration-dir DIR]]")
		os.Exit(2)
	}
	for _, d := range []string{"volumes", "snapshots"} {
		if err := os.MkdirAll(filepath.Join(*dir, d), 0o700); err != nil {
			log.Fatal(err)
		}
	}
	errs := make(chan error, 3)
	if *ctrlSock != "" && *ctrlSock == *nodeSock {
		go serve(*ctrlSock, errs, true, true)
	} else {
		if *ctrlSock != "" {
			go serve(*ctrlSock, errs, true, false)
		}
		if *nodeSock != "" {
			go serve(*nodeSock, errs, false, true)
		}
	}
	if *nodeSock != "" && *regDir != "" {
		go register(errs)
	}
	log.Fatal(<-errs)
}

func listen(sock string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(sock), 0o750); err != nil {
		return nil, err
	}
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return net.Listen("unix", sock)
}

func serve(sock string, errs chan<- error, controller, node bool) {
	l, err := listen(sock)
	if err != nil {
		errs <- err
		return
	}
	s := grpc.NewServer(grpc.UnaryInterceptor(logCalls))
	csi.RegisterIdentityServer(s, &identity{controller: controller})
	if controller {
		csi.RegisterControllerServer(s, &controllerServer{})
	}
	if node {
		csi.RegisterNodeServer(s, &nodeServer{})
	}
	log.Printf("serving %s (controller %v, node %v)", sock, controller, node)
	errs <- s.Serve(l)
}

func logCalls(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if !strings.HasSuffix(info.FullMethod, "/Probe") && !strings.Contains(info.FullMethod, "Get") {
		if err != nil {
			log.Printf("%s %v: %v", info.FullMethod, req, err)
		} else {
			log.Printf("%s %v: ok", info.FullMethod, req)
		}
	}
	return resp, err
}

// --- kubelet plugin registration (what node-driver-registrar does) ---------------------------

type registration struct {
	registerapi.UnimplementedRegistrationServer
}

func (registration) GetInfo(context.Context, *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	return &registerapi.PluginInfo{Type: registerapi.CSIPlugin, Name: *driverName, Endpoint: *nodeSock, SupportedVersions: []string{"1.0.0"}}, nil
}

func (registration) NotifyRegistrationStatus(_ context.Context, s *registerapi.RegistrationStatus) (*registerapi.RegistrationStatusResponse, error) {
	log.Printf("kubelet registration: registered=%v %s", s.PluginRegistered, s.Error)
	return &registerapi.RegistrationStatusResponse{}, nil
}

func register(errs chan<- error) {
	l, err := listen(filepath.Join(*regDir, *driverName+"-reg.sock"))
	if err != nil {
		errs <- err
		return
	}
	s := grpc.NewServer()
	registerapi.RegisterRegistrationServer(s, registration{})
	errs <- s.Serve(l)
}

// --- identity --------------------------------------------------------------------------

type identity struct {
	csi.UnimplementedIdentityServer
	controller bool
}

func (identity) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: *driverName, VendorVersion: version}, nil
}

func (i identity) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	caps := []*csi.PluginCapability{{Type: &csi.PluginCapability_VolumeExpansion_{
		VolumeExpansion: &csi.PluginCapability_VolumeExpansion{Type: csi.PluginCapability_VolumeExpansion_ONLINE}}}}
	if i.controller {
		caps = append(caps, &csi.PluginCapability{Type: &csi.PluginCapability_Service_{
			Service: &csi.PluginCapability_Service{Type: csi.PluginCapability_Service_CONTROLLER_SERVICE}}})
	}
	return &csi.GetPluginCapabilitiesResponse{Capabilities: caps}, nil
}

func (identity) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	return &csi.ProbeResponse{}, nil
}

// --- the store -------------------------------------------------------------------------

type volume struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Capacity int64             `json:"capacity"`
	Snapshot string            `json:"snapshot,omitempty"`
	Params   map[string]string `json:"params,omitempty"`
}

type snapshot struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Source  string `json:"source"`
	Size    int64  `json:"size"`
	Created int64  `json:"created"`
}

type publication struct {
	Node   string `json:"node"`
	Target string `json:"target"`
}

func id(prefix, name string) string {
	sum := sha256.Sum256([]byte(name))
	return prefix + hex.EncodeToString(sum[:])[:20]
}

func path(kind, id, ext string) string { return filepath.Join(*dir, kind, id+ext) }

// A well-formed id names nothing outside the store.
func validID(id string) bool {
	return id != "" && !strings.ContainsAny(id, "/.\x00") && len(id) < 64
}

func readJSON(p string, v any) (bool, error) {
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(b, v)
}

func writeJSON(p string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.WriteFile(p+".tmp", b, 0o600); err != nil {
		return err
	}
	return os.Rename(p+".tmp", p)
}

func getVolume(volumeID string) (*volume, error) {
	if !validID(volumeID) {
		return nil, status.Errorf(codes.NotFound, "volume %q not found", volumeID)
	}
	var v volume
	ok, err := readJSON(path("volumes", volumeID, ".json"), &v)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if !ok {
		return nil, status.Errorf(codes.NotFound, "volume %q not found", volumeID)
	}
	return &v, nil
}

func getSnapshot(snapshotID string) (*snapshot, error) {
	if !validID(snapshotID) {
		return nil, status.Errorf(codes.NotFound, "snapshot %q not found", snapshotID)
	}
	var s snapshot
	ok, err := readJSON(path("snapshots", snapshotID, ".json"), &s)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if !ok {
		return nil, status.Errorf(codes.NotFound, "snapshot %q not found", snapshotID)
	}
	return &s, nil
}

func publishedAt(volumeID string) (*publication, error) {
	var p publication
	ok, err := readJSON(path("volumes", volumeID, ".publish"), &p)
	if err != nil || !ok {
		return nil, err
	}
	return &p, nil
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return status.Errorf(codes.Internal, "%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func output(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "", status.Errorf(codes.Internal, "%s %s: %v", name, strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// The loop devices attached to a file.
func loops(file string) ([]string, error) {
	out, err := output("losetup", "-n", "-O", "NAME", "-j", file)
	if err != nil || out == "" {
		return nil, err
	}
	return strings.Fields(out), nil
}

func mounted(target string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	target = filepath.Clean(target)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.ReplaceAll(f[4], `\040`, " ") == target {
			return true
		}
	}
	return false
}

func checkCapabilities(caps []*csi.VolumeCapability) error {
	if len(caps) == 0 {
		return status.Error(codes.InvalidArgument, "volume capabilities missing")
	}
	for _, c := range caps {
		if err := checkCapability(c); err != nil {
			return err
		}
	}
	return nil
}

func checkCapability(c *csi.VolumeCapability) error {
	if c == nil || c.GetAccessMode() == nil {
		return status.Error(codes.InvalidArgument, "volume capability or its access mode missing")
	}
	if c.GetMount() == nil {
		return status.Error(codes.InvalidArgument, "only filesystem volumes (access type mount) are offered")
	}
	if fs := c.GetMount().GetFsType(); fs != "" && fs != "xfs" {
		return status.Errorf(codes.InvalidArgument, "fsType %q: only xfs is offered", fs)
	}
	switch c.GetAccessMode().GetMode() {
	// (With SINGLE_NODE_MULTI_WRITER advertised, csi-provisioner asks for ReadWriteOnce as
	// SINGLE_NODE_MULTI_WRITER and ReadWriteOncePod as SINGLE_NODE_SINGLE_WRITER; either way the
	// publish lock lets one pod mount it.)
	case csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER, csi.VolumeCapability_AccessMode_SINGLE_NODE_SINGLE_WRITER,
		csi.VolumeCapability_AccessMode_SINGLE_NODE_MULTI_WRITER, csi.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY:
		return nil
	}
	return status.Errorf(codes.InvalidArgument, "access mode %s: a volume is mounted at one place at a time", c.GetAccessMode().GetMode())
}

// The size to give for a capacity range: at least minSize, in whole MiB.
func sizeFor(r *csi.CapacityRange, current int64) (int64, error) {
	want := int64(defaultSize)
	if current > 0 {
		want = current
	}
	if r.GetRequiredBytes() > want || (r.GetRequiredBytes() > 0 && current == 0) {
		want = r.GetRequiredBytes()
	}
	if r.GetRequiredBytes() == 0 && r.GetLimitBytes() > 0 && r.GetLimitBytes() < want && current == 0 {
		want = r.GetLimitBytes()
	}
	want = max(want, minSize)
	want = (want + mi - 1) / mi * mi
	if l := r.GetLimitBytes(); l > 0 && want > l {
		return 0, status.Errorf(codes.OutOfRange, "%d bytes needed (volumes are at least %d bytes, in whole MiB), the limit is %d", want, minSize, l)
	}
	return want, nil
}

// --- controller ------------------------------------------------------------------------

type controllerServer struct {
	csi.UnimplementedControllerServer
}

func (controllerServer) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	var caps []*csi.ControllerServiceCapability
	for _, t := range []csi.ControllerServiceCapability_RPC_Type{
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
		csi.ControllerServiceCapability_RPC_EXPAND_VOLUME,
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_SNAPSHOT,
		csi.ControllerServiceCapability_RPC_MODIFY_VOLUME,
		csi.ControllerServiceCapability_RPC_SINGLE_NODE_MULTI_WRITER,
	} {
		caps = append(caps, &csi.ControllerServiceCapability{Type: &csi.ControllerServiceCapability_Rpc{
			Rpc: &csi.ControllerServiceCapability_RPC{Type: t}}})
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: caps}, nil
}

func (v *volume) csi() *csi.Volume {
	out := &csi.Volume{VolumeId: v.ID, CapacityBytes: v.Capacity}
	if v.Snapshot != "" {
		out.ContentSource = &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{
			Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: v.Snapshot}}}
	}
	return out
}

func checkMutable(params map[string]string) error {
	allowed := map[string]bool{}
	for _, k := range strings.Split(*mutable, ",") {
		allowed[k] = true
	}
	for k := range params {
		if !allowed[k] {
			return status.Errorf(codes.InvalidArgument, "mutable parameter %q is not supported (supported: %s)", k, *mutable)
		}
	}
	return nil
}

func (controllerServer) CreateVolume(_ context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name missing")
	}
	if err := checkCapabilities(req.GetVolumeCapabilities()); err != nil {
		return nil, err
	}
	if err := checkMutable(req.GetMutableParameters()); err != nil {
		return nil, err
	}
	if req.GetVolumeContentSource().GetVolume() != nil {
		return nil, status.Error(codes.InvalidArgument, "cloning volumes is not offered")
	}
	mu.Lock()
	defer mu.Unlock()
	source := req.GetVolumeContentSource().GetSnapshot().GetSnapshotId()
	var snap *snapshot
	if req.GetVolumeContentSource() != nil {
		var err error
		if snap, err = getSnapshot(source); err != nil {
			return nil, err
		}
	}
	size, err := sizeFor(req.GetCapacityRange(), 0)
	if err != nil {
		return nil, err
	}
	if snap != nil && snap.Size > size {
		if l := req.GetCapacityRange().GetLimitBytes(); l > 0 && snap.Size > l {
			return nil, status.Errorf(codes.OutOfRange, "snapshot %s holds %d bytes, more than the limit %d", source, snap.Size, l)
		}
		size = snap.Size
	}
	v := &volume{ID: id("rv-", req.GetName()), Name: req.GetName(), Capacity: size, Snapshot: source, Params: req.GetMutableParameters()}
	var old volume
	if ok, err := readJSON(path("volumes", v.ID, ".json"), &old); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	} else if ok {
		r := req.GetCapacityRange()
		if old.Snapshot != source || old.Capacity < r.GetRequiredBytes() || (r.GetLimitBytes() > 0 && old.Capacity > r.GetLimitBytes()) {
			return nil, status.Errorf(codes.AlreadyExists, "volume %q exists with %d bytes from %q", req.GetName(), old.Capacity, old.Snapshot)
		}
		return &csi.CreateVolumeResponse{Volume: old.csi()}, nil
	}
	img, tmp := path("volumes", v.ID, ".img"), path("volumes", v.ID, ".img.tmp")
	if snap != nil {
		err = run("cp", "--sparse=always", path("snapshots", snap.ID, ".img"), tmp)
		if err == nil {
			err = os.Truncate(tmp, size)
		}
	} else {
		err = run("truncate", "-s", fmt.Sprint(size), tmp)
		if err == nil {
			err = run("mkfs.xfs", "-q", "-f", tmp)
		}
	}
	if err == nil {
		err = os.Rename(tmp, img)
	}
	if err == nil {
		err = writeJSON(path("volumes", v.ID, ".json"), v)
	}
	if err != nil {
		os.Remove(tmp)
		os.Remove(img)
		return nil, status.Convert(err).Err()
	}
	return &csi.CreateVolumeResponse{Volume: v.csi()}, nil
}

func (controllerServer) DeleteVolume(_ context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id missing")
	}
	mu.Lock()
	defer mu.Unlock()
	if !validID(req.GetVolumeId()) {
		return &csi.DeleteVolumeResponse{}, nil
	}
	p, err := publishedAt(req.GetVolumeId())
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if p != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "volume %s is mounted on node %s at %s", req.GetVolumeId(), p.Node, p.Target)
	}
	for _, ext := range []string{".json", ".img"} {
		if err := os.Remove(path("volumes", req.GetVolumeId(), ext)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	return &csi.DeleteVolumeResponse{}, nil
}

func (controllerServer) ValidateVolumeCapabilities(_ context.Context, req *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id missing")
	}
	if len(req.GetVolumeCapabilities()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "volume capabilities missing")
	}
	if _, err := getVolume(req.GetVolumeId()); err != nil {
		return nil, err
	}
	if err := checkCapabilities(req.GetVolumeCapabilities()); err != nil {
		return &csi.ValidateVolumeCapabilitiesResponse{Message: status.Convert(err).Message()}, nil
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeContext: req.GetVolumeContext(), VolumeCapabilities: req.GetVolumeCapabilities(), Parameters: req.GetParameters(),
		MutableParameters: req.GetMutableParameters()}}, nil
}

func (controllerServer) ControllerExpandVolume(_ context.Context, req *csi.ControllerExpandVolumeRequest) (*csi.ControllerExpandVolumeResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id missing")
	}
	if req.GetCapacityRange() == nil {
		return nil, status.Error(codes.InvalidArgument, "capacity range missing")
	}
	mu.Lock()
	defer mu.Unlock()
	v, err := getVolume(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	size, err := sizeFor(req.GetCapacityRange(), v.Capacity)
	if err != nil {
		return nil, err
	}
	if size > v.Capacity {
		if err := os.Truncate(path("volumes", v.ID, ".img"), size); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		v.Capacity = size
		if err := writeJSON(path("volumes", v.ID, ".json"), v); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	return &csi.ControllerExpandVolumeResponse{CapacityBytes: v.Capacity, NodeExpansionRequired: true}, nil
}

func (controllerServer) ControllerModifyVolume(_ context.Context, req *csi.ControllerModifyVolumeRequest) (*csi.ControllerModifyVolumeResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id missing")
	}
	if err := checkMutable(req.GetMutableParameters()); err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	v, err := getVolume(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	if v.Params == nil {
		v.Params = map[string]string{}
	}
	for k, val := range req.GetMutableParameters() {
		v.Params[k] = val
	}
	if err := writeJSON(path("volumes", v.ID, ".json"), v); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.ControllerModifyVolumeResponse{}, nil
}

func (s *snapshot) csi() *csi.Snapshot {
	return &csi.Snapshot{SnapshotId: s.ID, SourceVolumeId: s.Source, SizeBytes: s.Size,
		CreationTime: timestamppb.New(time.Unix(0, s.Created)), ReadyToUse: true}
}

func (controllerServer) CreateSnapshot(_ context.Context, req *csi.CreateSnapshotRequest) (*csi.CreateSnapshotResponse, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name missing")
	}
	if req.GetSourceVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "source volume id missing")
	}
	mu.Lock()
	defer mu.Unlock()
	s := &snapshot{ID: id("rs-", req.GetName()), Name: req.GetName(), Source: req.GetSourceVolumeId()}
	var old snapshot
	if ok, err := readJSON(path("snapshots", s.ID, ".json"), &old); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	} else if ok {
		if old.Source != s.Source {
			return nil, status.Errorf(codes.AlreadyExists, "snapshot %q exists, of volume %s", req.GetName(), old.Source)
		}
		return &csi.CreateSnapshotResponse{Snapshot: old.csi()}, nil
	}
	v, err := getVolume(s.Source)
	if err != nil {
		return nil, err
	}
	p, err := publishedAt(v.ID)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	// A point in time: the mounted filesystem is frozen (its dirty data written out, writers
	// blocked) while its file is copied.
	if p != nil && mounted(p.Target) {
		if err := run("xfs_freeze", "-f", p.Target); err != nil {
			return nil, err
		}
		defer func() {
			if err := run("xfs_freeze", "-u", p.Target); err != nil {
				log.Print(err)
			}
		}()
	}
	tmp := path("snapshots", s.ID, ".img.tmp")
	s.Created = time.Now().UnixNano()
	err = run("cp", "--sparse=always", path("volumes", v.ID, ".img"), tmp)
	if err == nil {
		var fi os.FileInfo
		if fi, err = os.Stat(tmp); err == nil {
			s.Size = fi.Size()
			err = os.Rename(tmp, path("snapshots", s.ID, ".img"))
		}
	}
	if err == nil {
		err = writeJSON(path("snapshots", s.ID, ".json"), s)
	}
	if err != nil {
		os.Remove(tmp)
		return nil, status.Convert(err).Err()
	}
	return &csi.CreateSnapshotResponse{Snapshot: s.csi()}, nil
}

func (controllerServer) DeleteSnapshot(_ context.Context, req *csi.DeleteSnapshotRequest) (*csi.DeleteSnapshotResponse, error) {
	if req.GetSnapshotId() == "" {
		return nil, status.Error(codes.InvalidArgument, "snapshot id missing")
	}
	mu.Lock()
	defer mu.Unlock()
	if !validID(req.GetSnapshotId()) {
		return &csi.DeleteSnapshotResponse{}, nil
	}
	for _, ext := range []string{".json", ".img"} {
		if err := os.Remove(path("snapshots", req.GetSnapshotId(), ext)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	return &csi.DeleteSnapshotResponse{}, nil
}

// --- node ------------------------------------------------------------------------------

type nodeServer struct {
	csi.UnimplementedNodeServer
}

func (nodeServer) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: *nodeID}, nil
}

func (nodeServer) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	return &csi.NodeGetCapabilitiesResponse{Capabilities: []*csi.NodeServiceCapability{{Type: &csi.NodeServiceCapability_Rpc{
		Rpc: &csi.NodeServiceCapability_RPC{Type: csi.NodeServiceCapability_RPC_EXPAND_VOLUME}}}}}, nil
}

func (nodeServer) NodePublishVolume(_ context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	switch {
	case req.GetVolumeId() == "":
		return nil, status.Error(codes.InvalidArgument, "volume id missing")
	case req.GetTargetPath() == "":
		return nil, status.Error(codes.InvalidArgument, "target path missing")
	case req.GetVolumeCapability() == nil:
		return nil, status.Error(codes.InvalidArgument, "volume capability missing")
	}
	if err := checkCapability(req.GetVolumeCapability()); err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	v, err := getVolume(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	target := filepath.Clean(req.GetTargetPath())
	me := publication{Node: *nodeID, Target: target}
	lock := path("volumes", v.ID, ".publish")
	p, err := publishedAt(v.ID)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if p != nil && *p != me {
		return nil, status.Errorf(codes.FailedPrecondition, "volume %s is mounted on node %s at %s: a volume is mounted at one place at a time", v.ID, p.Node, p.Target)
	}
	if p != nil && mounted(target) {
		return &csi.NodePublishVolumeResponse{}, nil
	}
	if p == nil {
		b, _ := json.Marshal(me)
		f, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return nil, status.Errorf(codes.Aborted, "volume %s is being published elsewhere", v.ID)
		}
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		_, err = f.Write(b)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(lock)
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	if err := mount(v, target, req.GetReadonly()); err != nil {
		detach(v)
		os.Remove(lock)
		return nil, err
	}
	return &csi.NodePublishVolumeResponse{}, nil
}

func mount(v *volume, target string, readonly bool) error {
	img := path("volumes", v.ID, ".img")
	devs, err := loops(img)
	if err != nil {
		return err
	}
	dev := ""
	if len(devs) > 0 {
		dev = devs[0]
		if err := run("losetup", "-c", dev); err != nil {
			return err
		}
	} else if dev, err = output("losetup", "-f", "--show", img); err != nil {
		return err
	}
	if err := os.MkdirAll(target, 0o750); err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	opts := "nouuid"
	if readonly {
		opts += ",ro"
	}
	if err := run("mount", "-t", "xfs", "-o", opts, dev, target); err != nil {
		return err
	}
	if !readonly {
		// A volume restored into a bigger claim, or grown while unmounted.
		if err := run("xfs_growfs", target); err != nil {
			run("umount", target)
			return err
		}
	}
	return nil
}

func detach(v *volume) {
	devs, _ := loops(path("volumes", v.ID, ".img"))
	for _, d := range devs {
		if err := run("losetup", "-d", d); err != nil {
			log.Print(err)
		}
	}
}

func (nodeServer) NodeUnpublishVolume(_ context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id missing")
	}
	if req.GetTargetPath() == "" {
		return nil, status.Error(codes.InvalidArgument, "target path missing")
	}
	mu.Lock()
	defer mu.Unlock()
	target := filepath.Clean(req.GetTargetPath())
	v, err := getVolume(req.GetVolumeId())
	if err != nil {
		if status.Code(err) == codes.NotFound && !mounted(target) {
			return &csi.NodeUnpublishVolumeResponse{}, nil
		}
		return nil, err
	}
	p, err := publishedAt(v.ID)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if p != nil && (p.Node != *nodeID || p.Target != target) {
		// Published elsewhere: nothing of it is here.
		return &csi.NodeUnpublishVolumeResponse{}, nil
	}
	if mounted(target) {
		if err := run("umount", target); err != nil {
			return nil, err
		}
	}
	detach(v)
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Printf("removing %s: %v", target, err)
	}
	if err := os.Remove(path("volumes", v.ID, ".publish")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

func (nodeServer) NodeExpandVolume(_ context.Context, req *csi.NodeExpandVolumeRequest) (*csi.NodeExpandVolumeResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id missing")
	}
	if req.GetVolumePath() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume path missing")
	}
	mu.Lock()
	defer mu.Unlock()
	v, err := getVolume(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	target := filepath.Clean(req.GetVolumePath())
	if !mounted(target) {
		return nil, status.Errorf(codes.NotFound, "volume %s is not mounted at %s", v.ID, target)
	}
	devs, err := loops(path("volumes", v.ID, ".img"))
	if err != nil {
		return nil, err
	}
	sort.Strings(devs)
	for _, d := range devs {
		if err := run("losetup", "-c", d); err != nil {
			return nil, err
		}
	}
	if err := run("xfs_growfs", target); err != nil {
		return nil, err
	}
	return &csi.NodeExpandVolumeResponse{CapacityBytes: v.Capacity}, nil
}
