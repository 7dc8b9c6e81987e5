// Package cluster runs a small Kubernetes cluster on loopback for the demo and the end-to-end test: etcd and
// kube-apiserver (envtest, with the Consumer CRD installed), kube-controller-manager with the controllers that
// turn Deployments into Pods and the garbage collector, kube-scheduler, and kwok, which plays the kubelet of a few fake Nodes so that
// Pods are scheduled, become Ready and Deployments become Available, without containers or images. A pod whose
// image ends in BrokenImageSuffix crash-loops instead, for trying a bad rollout.
package cluster

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/konsumerator/konsumerator/internal/testenv"
)

// Options shape the cluster.
type Options struct {
	// Nodes is the number of fake Nodes (default 3).
	Nodes int
	// NodeCPU, NodeMemory and NodePods are each Node's allocatable resources (default 16 cores, 64Gi, 110).
	NodeCPU, NodeMemory, NodePods string
	// Dir holds the kubeconfig and the components' logs; a temporary directory, removed on Stop, when empty.
	Dir string
	// Progress, when set, is told what the cluster is doing while it starts.
	Progress io.Writer
}

func (o *Options) defaults() {
	if o.Nodes <= 0 {
		o.Nodes = 3
	}
	if o.NodeCPU == "" {
		o.NodeCPU = "16"
	}
	if o.NodeMemory == "" {
		o.NodeMemory = "64Gi"
	}
	if o.NodePods == "" {
		o.NodePods = "110"
	}
}

// Cluster is a running cluster. Stop tears it down in the reverse order of starting.
type Cluster struct {
	// Kubeconfig is the path of an admin kubeconfig, for kubectl and for processes started beside the cluster.
	Kubeconfig string
	// Dir holds the kubeconfig and, under logs/, one log file per component.
	Dir string
	// Config and Client talk to the API server as the test's admin.
	Config *rest.Config
	Client client.Client

	env       *testenv.Env
	processes []*Process
	teardown  []func() error // run last-in first-out by Stop
	removeDir bool
}

// ProcessTimeout bounds how long a component gets to exit after SIGTERM before it is killed.
const ProcessTimeout = 5 * time.Second

// Start builds what is missing (hack/tools.sh caches it), starts every component on loopback and waits until
// the fake Nodes are Ready. On error everything already started is stopped again.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	opts.defaults()
	c = &Cluster{Dir: opts.Dir}
	defer func() {
		if err != nil {
			_ = c.Stop()
			c = nil
		}
	}()
	progress := func(format string, args ...any) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, format+"\n", args...)
		}
	}
	if c.Dir == "" {
		dir, err := os.MkdirTemp("", "konsumerator-cluster-")
		if err != nil {
			return c, err
		}
		c.Dir, c.removeDir = dir, true
	}
	if err := os.MkdirAll(filepath.Join(c.Dir, "logs"), 0o755); err != nil {
		return c, err
	}
	c.onStop(func() error {
		if c.removeDir {
			return os.RemoveAll(c.Dir)
		}
		return nil
	})

	progress("cluster: building or finding kube-controller-manager, kube-scheduler and kwok (cached after the first run)")
	bins := map[string]string{}
	for _, tool := range []string{"kube-controller-manager", "kube-scheduler", "kwok"} {
		if bins[tool], err = ToolPath(ctx, tool, opts.Progress); err != nil {
			return c, err
		}
	}
	stages := filepath.Join(filepath.Dir(bins["kwok"]), "stages", "fast.yaml")
	if _, err := os.Stat(stages); err != nil {
		return c, fmt.Errorf("kwok's stages (made by hack/tools.sh next to the binary): %w", err)
	}
	ownStages := filepath.Join(c.Dir, "kwok-stages.yaml")
	if err := os.WriteFile(ownStages, bytes.Join([][]byte{podResourcesStage, podCrashLoopStage}, []byte("\n---\n")), 0o644); err != nil {
		return c, err
	}

	progress("cluster: starting etcd and kube-apiserver")
	env, err := testenv.Start()
	if err != nil {
		return c, err
	}
	c.env = env
	c.onStop(env.Stop)
	c.Config, c.Client = env.Config, env.Client

	user, err := env.Environment.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return c, fmt.Errorf("adding the admin user: %w", err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return c, fmt.Errorf("writing the admin kubeconfig: %w", err)
	}
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, kubeconfig, 0o600); err != nil {
		return c, err
	}

	progress("cluster: creating %d fake Nodes", opts.Nodes)
	if err := c.createNodes(ctx, opts); err != nil {
		return c, err
	}

	progress("cluster: starting kube-controller-manager, kube-scheduler and kwok")
	components := []struct {
		name string
		args []string
	}{
		{"kube-controller-manager", []string{
			"--kubeconfig=" + c.Kubeconfig,
			// Deployments → ReplicaSets → Pods; node-lifecycle lifts the not-ready taint once kwok reports Ready;
			// the garbage collector acts on owner references, as in any cluster: deleting a Consumer deletes its
			// Deployments, deleting a Deployment deletes its ReplicaSets and their Pods.
			"--controllers=deployment-controller,replicaset-controller,node-lifecycle-controller,garbage-collector-controller",
			// kwok's fast stages report a Node Ready once and then renew neither its status nor a lease: with
			// the default grace of 50s the controller would mark every Node unreachable after about a minute
			// and evict every Pod.
			"--node-monitor-grace-period=24h",
			"--leader-elect=false",
			"--secure-port=0",
		}},
		{"kube-scheduler", []string{"--kubeconfig=" + c.Kubeconfig, "--leader-elect=false", "--secure-port=0"}},
		{"kwok", []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--manage-all-nodes=true",
			"--server-address=127.0.0.1:0",
			"--config=" + stages,
			"--config=" + ownStages,
		}},
	}
	for _, comp := range components {
		if _, err := c.StartProcess(comp.name, nil, bins[comp.name], comp.args...); err != nil {
			return c, err
		}
	}

	progress("cluster: waiting for the Nodes to be Ready")
	if err := c.waitNodesReady(ctx, opts.Nodes, 2*time.Minute); err != nil {
		return c, err
	}
	return c, nil
}

// podResourcesStage makes kwok report container resources and carry out in-place resizes as a kubelet does
// (see the file).
//
//go:embed stages/pod-resources.yaml
var podResourcesStage []byte

// podCrashLoopStage makes kwok report a pod with a container image ending in BrokenImageSuffix as crash-looping
// (see the file).
//
//go:embed stages/pod-crashloop.yaml
var podCrashLoopStage []byte

// BrokenImageSuffix marks an image kwok reports as crash-looping: a container with such an image waits in
// CrashLoopBackOff and its pod never becomes Ready.
const BrokenImageSuffix = ":broken"

// StartProcess starts a process that belongs to the cluster's lifetime: its output goes to logs/NAME.log and
// to log (when set), and Stop ends it before the control plane.
func (c *Cluster) StartProcess(name string, log io.Writer, bin string, args ...string) (*Process, error) {
	return c.StartProcessWithEnv(name, log, nil, bin, args...)
}

// StartProcessWithEnv is StartProcess with variables added to the environment.
func (c *Cluster) StartProcessWithEnv(name string, log io.Writer, env []string, bin string, args ...string) (*Process, error) {
	f, err := os.Create(filepath.Join(c.Dir, "logs", name+".log"))
	if err != nil {
		return nil, err
	}
	out := io.Writer(f)
	if log != nil {
		out = io.MultiWriter(f, log)
	}
	p, err := StartProcess(name, out, env, bin, args...)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	c.processes = append(c.processes, p)
	c.onStop(func() error {
		err := p.Stop(ProcessTimeout)
		_ = f.Close()
		return err
	})
	return p, nil
}

// Processes are the processes started beside the control plane, in start order.
func (c *Cluster) Processes() []*Process { return append([]*Process(nil), c.processes...) }

// LogPath is where a component's output is written.
func (c *Cluster) LogPath(name string) string { return filepath.Join(c.Dir, "logs", name+".log") }

// onStop registers a teardown step; Stop runs them last-in first-out.
func (c *Cluster) onStop(f func() error) { c.teardown = append(c.teardown, f) }

// OnStop registers a teardown step that runs before everything registered earlier, e.g. stopping something
// that talks to the cluster.
func (c *Cluster) OnStop(f func() error) { c.onStop(f) }

// Stop tears everything down, last started first, and reports every step that failed. It is safe to call twice.
func (c *Cluster) Stop() error {
	var errs []error
	for i := len(c.teardown) - 1; i >= 0; i-- {
		if err := c.teardown[i](); err != nil {
			errs = append(errs, err)
		}
	}
	c.teardown = nil
	return errors.Join(errs...)
}

func (c *Cluster) createNodes(ctx context.Context, opts Options) error {
	list := corev1.ResourceList{}
	for name, v := range map[corev1.ResourceName]string{
		corev1.ResourceCPU: opts.NodeCPU, corev1.ResourceMemory: opts.NodeMemory, corev1.ResourcePods: opts.NodePods,
	} {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return fmt.Errorf("node %s %q: %w", name, v, err)
		}
		list[name] = q
	}
	for i := range opts.Nodes {
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name: fmt.Sprintf("kwok-node-%d", i),
				// kwok runs with --manage-all-nodes, so the label only tells people what these Nodes are.
				Labels: map[string]string{"type": "kwok", "kubernetes.io/hostname": fmt.Sprintf("kwok-node-%d", i)},
			},
			// A Node's status may be set when it is created; the scheduler fits Pods by allocatable.
			Status: corev1.NodeStatus{Capacity: list, Allocatable: list},
		}
		if err := c.Client.Create(ctx, node); err != nil {
			return fmt.Errorf("creating Node %s: %w", node.Name, err)
		}
	}
	return nil
}

func (c *Cluster) waitNodesReady(ctx context.Context, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "no Nodes listed yet"
	for {
		var nodes corev1.NodeList
		err := c.Client.List(ctx, &nodes)
		if err != nil {
			last = err.Error()
		} else {
			ready, states := 0, make([]string, 0, len(nodes.Items))
			for _, n := range nodes.Items {
				ok := nodeReady(&n)
				if ok {
					ready++
				}
				states = append(states, fmt.Sprintf("%s ready=%t taints=%d", n.Name, ok, len(n.Spec.Taints)))
			}
			if ready >= want {
				return nil
			}
			last = strings.Join(states, ", ")
		}
		for _, p := range c.processes {
			select {
			case <-p.Exited():
				return fmt.Errorf("%s exited while waiting for Nodes: %v\n%s", p.Name, p.ExitError(), p.Tail())
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %s for %d Ready Nodes without a not-ready taint; last saw: %s; component logs in %s",
				timeout, want, last, filepath.Join(c.Dir, "logs"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// nodeReady: kwok reports Ready and the node-lifecycle controller has lifted the taint that keeps Pods off it.
func nodeReady(n *corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable {
			return false
		}
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// ToolPath returns the cached binary hack/tools.sh builds for tool, building it first if needed; what the build
// prints goes to progress as well (a first build takes minutes, and silence would look like a hang).
func ToolPath(ctx context.Context, tool string, progress io.Writer) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(testenv.RepoRoot(), "hack", "tools.sh"), "path", tool)
	cmd.Dir = testenv.RepoRoot()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if progress != nil {
		cmd.Stderr = io.MultiWriter(&stderr, progress)
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("hack/tools.sh path %s: %w\n%s", tool, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	return lines[len(lines)-1], nil
}
