package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// State is what the demo shows and the end-to-end test asserts on: the Consumer's status and its instances.
type State struct {
	Consumer  *konsumeratorv1.Consumer
	Instances []Instance // by name
}

// Instance is one instance Deployment as far as the demo cares.
type Instance struct {
	Name string
	// Partitions is the operator's partition annotation, e.g. "2,3".
	Partitions string
	UID        string
	Generation int64
	Available  int32
	// CPU and Memory are the decided requests of the autoscaled container, as quantities print ("-" when
	// unset): in updateMode InPlace those the operator recorded in its resources annotation (the pods are
	// resized to them; the template keeps the size pods start with), else the pod template's.
	CPU, Memory string
	// Allocated is the autoscaled container's CPU as the instance's pod has it (what the kubelet reports, else
	// the pod's spec), the template's request while there is no pod. An in-place resize changes it, not CPU.
	Allocated string
	// Reads is how many messages per second the instance's consumers can read now: the demo's consumer model,
	// 0 while its pod restarts and rejoins the group.
	Reads float64
	// Scaling is the hysteresis state and since when (the operator's annotations).
	Scaling, Since string
	// Pod, PodUID and Restarts identify the instance's newest pod and how often its containers restarted, so
	// that an in-place resize (same pod, no restart) can be told from a restart.
	Pod, PodUID string
	Restarts    int32
}

// Observe reads the demo Consumer and the Deployments it controls.
func (d *Demo) Observe(ctx context.Context) (State, error) { return d.ObserveConsumer(ctx, d.Consumer) }

// ObserveConsumer reads a Consumer of the demo (d.Consumer or d.KafkaConsumer) and the Deployments it controls.
func (d *Demo) ObserveConsumer(ctx context.Context, consumer *konsumeratorv1.Consumer) (State, error) {
	var st State
	var c konsumeratorv1.Consumer
	if err := d.Cluster.Client.Get(ctx, client.ObjectKeyFromObject(consumer), &c); err != nil {
		return st, err
	}
	st.Consumer = &c
	var list appsv1.DeploymentList
	if err := d.Cluster.Client.List(ctx, &list, client.InNamespace(c.Namespace)); err != nil {
		return st, err
	}
	pods, err := d.listPods(ctx, c.Namespace)
	if err != nil {
		return st, err
	}
	now, perCore := time.Now(), 0.0
	if d.Exporter != nil {
		perCore = d.Exporter.PerCore()
	}
	for i := range list.Items {
		dep := &list.Items[i]
		if !controlledBy(dep, &c) {
			continue
		}
		in := Instance{
			CPU: "-", Memory: "-",
			Name:       dep.Name,
			Partitions: dep.Annotations[konsumeratorv1.AnnotationPartition],
			UID:        string(dep.UID),
			Generation: dep.Generation,
			Available:  dep.Status.AvailableReplicas,
			Scaling:    dep.Annotations[konsumeratorv1.AnnotationScalingStatus],
			Since:      dep.Annotations[konsumeratorv1.AnnotationScalingStatusChange],
		}
		// The template's first container is the consumer the autoscaler sizes; the sidecar is pinned.
		main := c.Spec.DeploymentTemplate.Template.Spec.Containers[0].Name
		for _, ctr := range dep.Spec.Template.Spec.Containers {
			if ctr.Name == main {
				req := ctr.Resources.Requests
				in.CPU, in.Memory = quantity(req, corev1.ResourceCPU), quantity(req, corev1.ResourceMemory)
			}
		}
		if v, ok := dep.Annotations[konsumeratorv1.AnnotationResources]; ok {
			var decided map[string]corev1.ResourceRequirements
			if json.Unmarshal([]byte(v), &decided) == nil {
				if r, ok := decided[main]; ok {
					in.CPU, in.Memory = quantity(r.Requests, corev1.ResourceCPU), quantity(r.Requests, corev1.ResourceMemory)
				}
			}
		}
		var pod *corev1.Pod
		in.Allocated, in.Reads, pod = consuming(&c, dep, pods, in.CPU, perCore, now)
		if pod != nil {
			in.Pod, in.PodUID = pod.Name, string(pod.UID)
			for _, cs := range pod.Status.ContainerStatuses {
				in.Restarts += cs.RestartCount
			}
		}
		st.Instances = append(st.Instances, in)
	}
	sort.Slice(st.Instances, func(i, j int) bool { return st.Instances[i].Name < st.Instances[j].Name })
	return st, nil
}

func controlledBy(dep *appsv1.Deployment, c *konsumeratorv1.Consumer) bool {
	for _, ref := range dep.OwnerReferences {
		if ref.Controller != nil && *ref.Controller && ref.UID == c.UID {
			return true
		}
	}
	return false
}

func quantity(l corev1.ResourceList, name corev1.ResourceName) string {
	q, ok := l[name]
	if !ok {
		return "-"
	}
	return q.String()
}

// Instance returns the instance of that name.
func (s State) Instance(name string) (Instance, bool) {
	for _, in := range s.Instances {
		if in.Name == name {
			return in, true
		}
	}
	return Instance{}, false
}

// Summary is one line: running/expected, lagging, and each instance's CPU and scaling state.
func (s State) Summary() string {
	var b strings.Builder
	if s.Consumer != nil {
		st := s.Consumer.Status
		fmt.Fprintf(&b, "running %d/%d lagging %d |", deref(st.Running), deref(st.Expected), deref(st.Lagging))
	}
	for _, in := range s.Instances {
		fmt.Fprintf(&b, " %s cpu=%s mem=%s reads=%.0f/s %s", in.Name, in.PodCPU(), in.Memory, in.Reads, strings.ToLower(in.Scaling))
	}
	return b.String()
}

// String is the full state, for failure messages.
func (s State) String() string {
	var b strings.Builder
	if c := s.Consumer; c != nil {
		st := c.Status
		fmt.Fprintf(&b, "Consumer %s/%s generation %d observedGeneration %d: expected %d running %d missing %d lagging %d outdated %d\n",
			c.Namespace, c.Name, c.Generation, deref64(st.ObservedGeneration), deref(st.Expected), deref(st.Running),
			deref(st.Missing), deref(st.Lagging), deref(st.Outdated))
		for _, cond := range st.Conditions {
			fmt.Fprintf(&b, "  condition %s=%s %s: %s\n", cond.Type, cond.Status, cond.Reason, cond.Message)
		}
	}
	for _, in := range s.Instances {
		fmt.Fprintf(&b, "Deployment %s uid %s generation %d available %d cpu %s (pod %s, reads %.0f/s) memory %s scaling %s since %s\n",
			in.Name, in.UID, in.Generation, in.Available, in.CPU, in.Allocated, in.Reads, in.Memory, in.Scaling, in.Since)
	}
	return b.String()
}

// PodCPU is what the instance's consumer has: its pod's CPU, the template's while it has none.
// Changes tells, one line per instance, how each instance's pod CPU changed since prev: resized in place (the
// same pod, no restart) or by a new pod.
func (s State) Changes(prev State) []string {
	var out []string
	for _, in := range s.Instances {
		was, ok := prev.Instance(in.Name)
		if !ok || was.Pod == "" || in.Pod == "" || was.Allocated == in.Allocated {
			continue
		}
		if was.PodUID == in.PodUID {
			out = append(out, fmt.Sprintf("%s resized in place: cpu %s -> %s, the same pod %s (uid %s), restarts %d",
				in.Name, was.Allocated, in.Allocated, in.Pod, in.PodUID, in.Restarts))
		} else {
			out = append(out, fmt.Sprintf("%s restarted: cpu %s -> %s, new pod %s replaces %s",
				in.Name, was.Allocated, in.Allocated, in.Pod, was.Pod))
		}
	}
	return out
}

func (in Instance) PodCPU() string {
	if in.Allocated != "" {
		return in.Allocated
	}
	return in.CPU
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func deref64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// PrefixWriter writes every line with a prefix, so that the operator's log reads apart from the demo's own.
type PrefixWriter struct {
	Prefix string
	Out    io.Writer

	mu      sync.Mutex
	partial []byte
}

func (w *PrefixWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, b...)
	for {
		i := strings.IndexByte(string(w.partial), '\n')
		if i < 0 {
			return len(b), nil
		}
		if _, err := fmt.Fprintf(w.Out, "%s%s\n", w.Prefix, w.partial[:i]); err != nil {
			return len(b), err
		}
		w.partial = w.partial[i+1:]
	}
}
