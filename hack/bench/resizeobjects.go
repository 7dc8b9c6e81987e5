package main

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// The resize scenario's Consumer is autoscaled from a Prometheus that answers nothing: without metrics the
// planner keeps each instance's resources, brought inside the container policy, so raising the policy's
// minimum cpu is one decision that resizes every instance, with no metrics to fake.
const (
	unreachablePrometheus = "http://127.0.0.1:1"
	resizeContainerName   = "consumer"
	resizeMinCPUBefore    = "100m"
	resizeMinCPUAfter     = "200m"
)

// resizeConsumer is benchConsumer with an autoscaler in updateMode InPlace whose metrics never arrive and a
// policy whose minimum cpu is minCPU.
func resizeConsumer(namespace string, n int, minCPU string) *konsumeratorv1.Consumer {
	c := benchConsumer(namespace, n)
	c.Name, c.Spec.Name = "resize", "resize"
	ratePerCore := int64(1000)
	q := func(s string) konsumeratorv1.PrometheusQuery {
		return konsumeratorv1.PrometheusQuery{Query: s, PartitionLabel: "partition"}
	}
	c.Spec.Autoscaler = &konsumeratorv1.AutoscalerSpec{
		Mode:       konsumeratorv1.AutoscalerTypePrometheus,
		UpdateMode: konsumeratorv1.UpdateInPlace,
		Prometheus: &konsumeratorv1.PrometheusAutoscalerSpec{
			Address:     []string{unreachablePrometheus},
			Offset:      q("max(production_offset) by (partition) - max(consumption_offset) by (partition)"),
			Production:  q("sum(rate(production_offset[2m])) by (partition)"),
			Consumption: q("sum(rate(consumption_offset[2m])) by (partition)"),
			SizingSettings: konsumeratorv1.SizingSettings{
				RatePerCore:  &ratePerCore,
				RamPerCore:   resource.MustParse("256Mi"),
				TolerableLag: &metav1.Duration{Duration: 5 * time.Minute},
				CriticalLag:  &metav1.Duration{Duration: time.Hour},
				RecoveryTime: &metav1.Duration{Duration: 30 * time.Minute},
			},
		},
	}
	c.Spec.ResourcePolicy = &konsumeratorv1.ResourcePolicy{ContainerPolicies: []konsumeratorv1.ContainerResourcePolicy{
		resizePolicy(minCPU),
	}}
	return c
}

func resizePolicy(minCPU string) konsumeratorv1.ContainerResourcePolicy {
	return konsumeratorv1.ContainerResourcePolicy{
		ContainerName: resizeContainerName,
		MinAllowed:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(minCPU)},
		MaxAllowed:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1Gi")},
	}
}

// policyPatch is the merge patch that is the scenario's one decision: the policy with another minimum cpu.
func policyPatch(minCPU string) ([]byte, error) {
	return json.Marshal(map[string]any{"spec": map[string]any{"resourcePolicy": map[string]any{
		"containerPolicies": []konsumeratorv1.ContainerResourcePolicy{resizePolicy(minCPU)},
	}}})
}

// raisedCPU is what a container's resources become when the policy's minimum cpu rises to minCPU: the request
// is at least the minimum, and a limit under it rises too (the planner's withinPolicy). Everything else stays.
func raisedCPU(r corev1.ResourceRequirements, minCPU resource.Quantity) corev1.ResourceRequirements {
	out := *r.DeepCopy()
	if l, ok := out.Limits[corev1.ResourceCPU]; ok && l.Cmp(minCPU) < 0 {
		out.Limits[corev1.ResourceCPU] = minCPU
	}
	if q, ok := out.Requests[corev1.ResourceCPU]; !ok || q.Cmp(minCPU) < 0 {
		if out.Requests == nil {
			out.Requests = corev1.ResourceList{}
		}
		out.Requests[corev1.ResourceCPU] = minCPU
	}
	return out
}

// sameResources compares requests and limits by value: the API server may write a quantity differently.
func sameResources(a, b corev1.ResourceRequirements) bool {
	return equality.Semantic.DeepEqual(a.Requests, b.Requests) && equality.Semantic.DeepEqual(a.Limits, b.Limits)
}

// The bench plays the Deployment and ReplicaSet controllers and the kubelet for the instances, since envtest runs
// none of them: one ReplicaSet of revision 1 per instance Deployment, one pod of it on benchNode, running.
const benchNode = "bench-node"

// templateHash stands for the Deployment controller's pod-template-hash: stable per Deployment, label-safe.
func templateHash(d *appsv1.Deployment) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(d.Namespace + "/" + d.Name + "/" + string(d.UID)))
	return fmt.Sprintf("%08x", h.Sum32())[:8]
}

// replicaSetFor is the ReplicaSet the Deployment controller would make for d's template: d's pod template with
// the pod-template-hash label, controlled by d, revision 1.
func replicaSetFor(d *appsv1.Deployment) *appsv1.ReplicaSet {
	hash := templateHash(d)
	labels := maps.Clone(d.Spec.Template.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	selector := d.Spec.Selector.DeepCopy()
	if selector == nil {
		selector = &metav1.LabelSelector{}
	}
	if selector.MatchLabels == nil {
		selector.MatchLabels = map[string]string{}
	}
	selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	template := *d.Spec.Template.DeepCopy()
	template.Labels = labels
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: d.Namespace, Name: d.Name + "-" + hash, Labels: maps.Clone(labels),
			Annotations:     map[string]string{"deployment.kubernetes.io/revision": "1"},
			OwnerReferences: []metav1.OwnerReference{controllerRef(appsv1.SchemeGroupVersion.String(), "Deployment", d.Name, string(d.UID))},
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(int32(1)), Selector: selector, Template: template},
	}
}

func controllerRef(apiVersion, kind, name, uid string) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(uid),
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
}

// podFor is the pod the ReplicaSet controller would make from rs, already bound to node (no scheduler runs).
// An rs without a UID (the baseline's stand-in) gives a pod without an owner.
func podFor(rs *appsv1.ReplicaSet, name, node string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: rs.Namespace, Name: name, Labels: maps.Clone(rs.Spec.Template.Labels),
			Annotations: maps.Clone(rs.Spec.Template.Annotations)},
		Spec: *rs.Spec.Template.Spec.DeepCopy(),
	}
	if rs.UID != "" {
		p.OwnerReferences = []metav1.OwnerReference{controllerRef(appsv1.SchemeGroupVersion.String(), "ReplicaSet", rs.Name, string(rs.UID))}
	}
	p.Spec.NodeName = node
	return p
}

// markRunning writes into pod the status a kubelet that resizes in place reports for a started pod: Running,
// Ready, every container running with the resources of its spec (the API server refuses to resize a running
// container that reports none), restart count 0.
func markRunning(pod *corev1.Pod, now time.Time) {
	t := metav1.NewTime(now)
	pod.Status.Phase = corev1.PodRunning
	pod.Status.StartTime = &t
	pod.Status.ObservedGeneration = pod.Generation
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: t}}
	pod.Status.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: true, Started: ptr.To(true),
			State:     corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: t}},
			Resources: c.Resources.DeepCopy(), AllocatedResources: c.Resources.Requests.DeepCopy(),
		})
	}
}

// markResized writes into pod's status that the kubelet carried out its resize: the containers report the
// resources of the spec. It reports whether anything changed.
func markResized(pod *corev1.Pod) bool {
	changed := false
	for _, c := range pod.Spec.Containers {
		for i := range pod.Status.ContainerStatuses {
			st := &pod.Status.ContainerStatuses[i]
			if st.Name != c.Name || st.Resources != nil && sameResources(*st.Resources, c.Resources) {
				continue
			}
			st.Resources, st.AllocatedResources, changed = c.Resources.DeepCopy(), c.Resources.Requests.DeepCopy(), true
		}
	}
	if changed {
		pod.Status.ObservedGeneration = pod.Generation
	}
	return changed
}

// resizePatch is the JSON patch of pods/resize the baseline sends, one call per pod for all its containers, in
// the applier's shape (applier/resize.go): the pod's UID and each container's name at its index are tested
// first, so a patch never lands on another pod or container, then each container's resources are set ("add"
// replaces a member that exists).
func resizePatch(uid string, containers []indexedResources) ([]byte, error) {
	ops := []map[string]any{{"op": "test", "path": "/metadata/uid", "value": uid}}
	for _, c := range containers {
		ops = append(ops, map[string]any{"op": "test", "path": fmt.Sprintf("/spec/containers/%d/name", c.index), "value": c.name})
	}
	for _, c := range containers {
		ops = append(ops, map[string]any{"op": "add", "path": fmt.Sprintf("/spec/containers/%d/resources", c.index), "value": c.resources})
	}
	return json.Marshal(ops)
}

// indexedResources is the new resources of one container, at its index in the pod spec.
type indexedResources struct {
	index     int
	name      string
	resources corev1.ResourceRequirements
}

// podTargets is, for every container of pod, its resources once the minimum cpu is minCPU; containers already
// there are left out.
func podTargets(pod *corev1.Pod, minCPU resource.Quantity) []indexedResources {
	var out []indexedResources
	for i, c := range pod.Spec.Containers {
		want := raisedCPU(c.Resources, minCPU)
		if !sameResources(want, c.Resources) {
			out = append(out, indexedResources{index: i, name: c.Name, resources: want})
		}
	}
	return out
}

// raisedAnnotation is the value of the resources annotation once the minimum cpu is minCPU: the decision the
// operator records after it resizes.
func raisedAnnotation(v string, minCPU resource.Quantity) (string, error) {
	var m map[string]corev1.ResourceRequirements
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return "", fmt.Errorf("annotation %s: %w", konsumeratorv1.AnnotationResources, err)
	}
	for name, r := range m {
		m[name] = raisedCPU(r, minCPU)
	}
	raw, err := json.Marshal(m)
	return string(raw), err
}

// restartCount sums the restarts the pod's containers report.
func restartCount(pod *corev1.Pod) int32 {
	var n int32
	for _, st := range pod.Status.ContainerStatuses {
		n += st.RestartCount
	}
	return n
}
