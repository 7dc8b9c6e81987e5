package demo

import (
	"context"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/exporter"
)

// RejoinTime is how long a demo consumer takes from its container's start to its first message: joining the
// group and fetching its committed offsets. kwok starts a container at once, so without it a restart would cost
// nothing visible; an in-place resize keeps the container running and costs nothing.
const RejoinTime = 5 * time.Second

// FollowInterval is how often the demo tells the exporter which consumers run with how much CPU.
const FollowInterval = 250 * time.Millisecond

// Readers turns the Consumer's pods into the exporter's consumers: a pod reads the partitions its consumer
// container was given (the partition environment variable) with the CPU that container has, from rejoin after
// the container started. A pod that is terminating, not Running, not Ready or whose consumer container does not
// run reads nothing and is left out.
func Readers(c *konsumeratorv1.Consumer, pods []corev1.Pod, rejoin time.Duration) []exporter.Reader {
	name, envKey := consumerContainer(c), partitionEnvKey(c)
	var out []exporter.Reader
	for i := range pods {
		pod := &pods[i]
		if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning || !podReady(pod) {
			continue
		}
		started := containerStarted(pod, name)
		if started.IsZero() {
			continue
		}
		cpu, ok := AllocatedCPU(pod, name)
		if !ok {
			continue
		}
		r := exporter.Reader{Name: pod.Labels[konsumeratorv1.LabelInstance], Cores: float64(cpu.MilliValue()) / 1000,
			From: started.Add(rejoin)}
		for _, ctr := range pod.Spec.Containers {
			if ctr.Name == name {
				r.Partitions = partitionsOf(ctr.Env, envKey)
			}
		}
		out = append(out, r)
	}
	return out
}

// AllocatedCPU is the CPU the named container of a running pod has: what the kubelet reports
// (status.containerStatuses[].resources, which an in-place resize changes), else the pod's spec. A missing
// request is the limit, as the API server defaults it.
func AllocatedCPU(pod *corev1.Pod, container string) (resource.Quantity, bool) {
	for _, st := range pod.Status.ContainerStatuses {
		if st.Name == container && st.Resources != nil {
			if q, ok := cpuOf(*st.Resources); ok {
				return q, true
			}
		}
	}
	for _, ctr := range pod.Spec.Containers {
		if ctr.Name == container {
			return cpuOf(ctr.Resources)
		}
	}
	return resource.Quantity{}, false
}

func cpuOf(r corev1.ResourceRequirements) (resource.Quantity, bool) {
	if q, ok := r.Requests[corev1.ResourceCPU]; ok {
		return q, true
	}
	q, ok := r.Limits[corev1.ResourceCPU]
	return q, ok
}

// consumerContainer is the container the autoscaler sizes and the model reads with: the template's first.
func consumerContainer(c *konsumeratorv1.Consumer) string {
	if cs := c.Spec.DeploymentTemplate.Template.Spec.Containers; len(cs) > 0 {
		return cs[0].Name
	}
	return ""
}

func partitionEnvKey(c *konsumeratorv1.Consumer) string {
	if c.Spec.PartitionEnvKey != "" {
		return c.Spec.PartitionEnvKey
	}
	return konsumeratorv1.DefaultPartitionEnvKey
}

// partitionsOf reads the comma-separated partition list the operator injects.
func partitionsOf(env []corev1.EnvVar, key string) []int32 {
	var out []int32
	for _, e := range env {
		if e.Name != key {
			continue
		}
		for _, f := range strings.Split(e.Value, ",") {
			if p, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32); err == nil && p >= 0 {
				out = append(out, int32(p))
			}
		}
	}
	return out
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// containerStarted is when the named container started running; zero when it does not run.
func containerStarted(pod *corev1.Pod, name string) time.Time {
	for _, st := range pod.Status.ContainerStatuses {
		if st.Name == name && st.State.Running != nil {
			return st.State.Running.StartedAt.Time
		}
	}
	return time.Time{}
}

// listPods lists the pods of the Consumer's instances (they carry the instance label).
func (d *Demo) listPods(ctx context.Context, namespace string) ([]corev1.Pod, error) {
	var pods corev1.PodList
	if err := d.Cluster.Client.List(ctx, &pods, client.InNamespace(namespace), client.HasLabels{konsumeratorv1.LabelInstance}); err != nil {
		return nil, err
	}
	return pods.Items, nil
}

// follow tells the exporter, every FollowInterval until ctx ends, which consumers run with how much CPU, so
// that consumption follows what the operator decided. A failed read keeps the last readers.
func (d *Demo) follow(ctx context.Context, c *konsumeratorv1.Consumer) {
	t := time.NewTicker(FollowInterval)
	defer t.Stop()
	for {
		readCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		pods, err := d.listPods(readCtx, c.Namespace)
		cancel()
		if err == nil {
			d.Exporter.SetReaders(Readers(c, pods, RejoinTime))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// instancePods are the pods a Deployment selects.
func instancePods(dep *appsv1.Deployment, pods []corev1.Pod) []*corev1.Pod {
	if dep.Spec.Selector == nil {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil
	}
	var out []*corev1.Pod
	for i := range pods {
		if sel.Matches(labels.Set(pods[i].Labels)) {
			out = append(out, &pods[i])
		}
	}
	return out
}

// consuming is an instance's allocated CPU (templateCPU when it has no pod) and what its consumers read at now,
// perCore messages per second per core.
func consuming(c *konsumeratorv1.Consumer, dep *appsv1.Deployment, pods []corev1.Pod, templateCPU string, perCore float64, now time.Time) (string, float64, *corev1.Pod) {
	name := consumerContainer(c)
	allocated, newest := templateCPU, time.Time{}
	var current *corev1.Pod
	var mine []corev1.Pod
	for _, pod := range instancePods(dep, pods) {
		if pod.DeletionTimestamp != nil {
			continue
		}
		mine = append(mine, *pod)
		// The newest pod is the one a rollout brings.
		if q, ok := AllocatedCPU(pod, name); ok && !pod.CreationTimestamp.Time.Before(newest) {
			allocated, newest, current = q.String(), pod.CreationTimestamp.Time, pod
		}
	}
	reads := 0.0
	for _, r := range Readers(c, mine, RejoinTime) {
		reads += r.Capacity(perCore, now)
	}
	return allocated, reads, current
}
