package observer

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/konsumerator/konsumerator/internal/builder"
)

// sameMap reports whether a and b are one map, not two equal ones.
func sameMap(a, b corev1.ResourceList) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// decoded is l as the informer has it: decoded from the API server's JSON, a map of its own.
func decoded(t testing.TB, l string) corev1.ResourceList {
	var out corev1.ResourceList
	require.NoError(t, json.Unmarshal([]byte(l), &out))
	return out
}

func TestInternerSharesEqualListsOnly(t *testing.T) {
	var in Interner
	first := in.List(decoded(t, `{"cpu":"100m","memory":"128Mi"}`))
	again := in.List(decoded(t, `{"memory":"128Mi","cpu":"100m"}`))
	assert.True(t, sameMap(first, again), "an equal list is the one seen first")
	assert.Equal(t, decoded(t, `{"cpu":"100m","memory":"128Mi"}`), again)

	for _, other := range []string{`{"cpu":"200m","memory":"128Mi"}`, `{"cpu":"100m"}`, `{"cpu":"100m","memory":"128Mi","ephemeral-storage":"1Gi"}`} {
		got := in.List(decoded(t, other))
		assert.False(t, sameMap(first, got), other)
		assert.Equal(t, decoded(t, other), got, other)
	}
	assert.Nil(t, in.List(nil))
	empty := corev1.ResourceList{}
	assert.True(t, sameMap(empty, in.List(empty)), "an empty list is not worth sharing")
}

func TestInternerStartsAgainWhenFull(t *testing.T) {
	var in Interner
	first := in.List(decoded(t, `{"cpu":"1m"}`))
	for i := range maxInternedLists {
		l := corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(int64(i+2), resource.DecimalSI)}
		assert.True(t, sameMap(l, in.List(l)))
	}
	assert.LessOrEqual(t, len(in.lists), maxInternedLists)
	again := in.List(decoded(t, `{"cpu":"1m"}`))
	assert.False(t, sameMap(first, again), "the first list was forgotten when the table filled")
	assert.Equal(t, first, again)
}

// resizedPod is an instance's pod as the API server sends it once the kubelet has resized it.
func resizedPod(t testing.TB, name string) *corev1.Pod {
	raw := fmt.Sprintf(`{"metadata":{"name":%q,"namespace":"ns","uid":"uid-%[1]s","resourceVersion":"12",
"labels":{"konsumerator.lwolf.org/consumer":"c","konsumerator.lwolf.org/instance":"c-0","pod-template-hash":"5d8f9"},
"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"c-0-5d8f9","uid":"rs","controller":true}]},
"spec":{"nodeName":"n1","containers":[{"name":"consumer","image":"consumer:1",
"resources":{"requests":{"cpu":"200m","memory":"128Mi"},"limits":{"cpu":"400m","memory":"256Mi"}}}]},
"status":{"phase":"Running","qosClass":"Burstable",
"conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2026-12-01T10:00:00Z"}],
"containerStatuses":[{"name":"consumer","ready":true,"started":true,"restartCount":0,
"state":{"running":{"startedAt":"2026-12-01T10:00:00Z"}},
"allocatedResources":{"cpu":"200m","memory":"128Mi"},
"resources":{"requests":{"cpu":"200m","memory":"128Mi"},"limits":{"cpu":"400m","memory":"256Mi"}}}]}}`, name)
	var p corev1.Pod
	require.NoError(t, json.Unmarshal([]byte(raw), &p))
	return &p
}

func TestPodsOfEqualSizesShareTheirResourceLists(t *testing.T) {
	var tr Transforms
	a, err := tr.Pod(resizedPod(t, "c-0-a"))
	require.NoError(t, err)
	b, err := tr.Pod(resizedPod(t, "c-0-b"))
	require.NoError(t, err)
	pa, pb := a.(*corev1.Pod), b.(*corev1.Pod)
	assert.Equal(t, TrimPod(resizedPod(t, "c-0-a")), pa, "sharing changes no value")
	assert.True(t, sameMap(pa.Spec.Containers[0].Resources.Limits, pb.Spec.Containers[0].Resources.Limits))
	assert.True(t, sameMap(pa.Status.ContainerStatuses[0].Resources.Limits, pb.Spec.Containers[0].Resources.Limits))
	assert.True(t, sameMap(pa.Status.ContainerStatuses[0].AllocatedResources, pb.Spec.Containers[0].Resources.Requests))
	assert.False(t, sameMap(pa.Spec.Containers[0].Resources.Requests, pa.Spec.Containers[0].Resources.Limits))
}

func TestDeploymentTransformKeepsWhatThePlannerComparesAndSharesResourceLists(t *testing.T) {
	instance := func(name string) *appsv1.Deployment {
		d := builder.Deployment(name).Namespace("ns").Label("konsumerator.lwolf.org/consumer", "c").
			Annotation("konsumerator.lwolf.org/spec-hash", "h").Replicas(2).Obj()
		d.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "konsumerator", Operation: metav1.ManagedFieldsOperationApply}}
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		d.Spec.ProgressDeadlineSeconds = ptr.To[int32](600)
		d.Spec.Template.Annotations = map[string]string{"a": "b"}
		d.Spec.Template.Spec.DNSPolicy = corev1.DNSClusterFirst
		d.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "init:1", Resources: corev1.ResourceRequirements{
			Requests: decoded(t, `{"cpu":"10m"}`)}}}
		c := &d.Spec.Template.Spec.Containers[0]
		c.Command = []string{"consume"}
		c.Env = []corev1.EnvVar{{Name: "KONSUMERATOR_PARTITION", Value: "0"}}
		c.ResizePolicy = []corev1.ContainerResizePolicy{{ResourceName: corev1.ResourceCPU, RestartPolicy: corev1.NotRequired}}
		c.Resources = corev1.ResourceRequirements{
			Requests: decoded(t, `{"cpu":"200m","memory":"128Mi"}`), Limits: decoded(t, `{"cpu":"400m","memory":"256Mi"}`)}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, ReadyReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"}}}
		return d
	}
	var tr Transforms
	a, err := tr.Deployment(instance("c-0"))
	require.NoError(t, err)
	b, err := tr.Deployment(instance("c-1"))
	require.NoError(t, err)
	da, db := a.(*appsv1.Deployment), b.(*appsv1.Deployment)

	whole := instance("c-0")
	assert.Nil(t, da.ManagedFields)
	whole.ManagedFields = nil
	assert.Equal(t, whole.ObjectMeta, da.ObjectMeta, "the metadata is kept")
	assert.Equal(t, whole.Status, da.Status, "the status is kept")
	assert.Equal(t, whole.Spec.Replicas, da.Spec.Replicas)
	assert.Equal(t, whole.Spec.Selector, da.Spec.Selector)
	assert.Equal(t, whole.Spec.Template.ObjectMeta, da.Spec.Template.ObjectMeta)
	want := corev1.Container{Name: "busybox", Env: whole.Spec.Template.Spec.Containers[0].Env,
		Resources: whole.Spec.Template.Spec.Containers[0].Resources, ResizePolicy: whole.Spec.Template.Spec.Containers[0].ResizePolicy}
	assert.Equal(t, []corev1.Container{want}, da.Spec.Template.Spec.Containers, "of a container: name, env, resources, resizePolicy")
	assert.Equal(t, []corev1.Container{{Name: "init", Resources: whole.Spec.Template.Spec.InitContainers[0].Resources}},
		da.Spec.Template.Spec.InitContainers)
	assert.Empty(t, da.Spec.Strategy, "the strategy is compared through the spec hash")
	assert.Nil(t, da.Spec.ProgressDeadlineSeconds)
	assert.Empty(t, da.Spec.Template.Spec.DNSPolicy)
	assert.Equal(t, da, TrimDeployment(instance("c-0")), "the transform is TrimDeployment")

	for i, c := range da.Spec.Template.Spec.Containers {
		assert.True(t, sameMap(c.Resources.Requests, db.Spec.Template.Spec.Containers[i].Resources.Requests))
		assert.True(t, sameMap(c.Resources.Limits, db.Spec.Template.Spec.Containers[i].Resources.Limits))
	}
	assert.True(t, sameMap(da.Spec.Template.Spec.InitContainers[0].Resources.Requests,
		db.Spec.Template.Spec.InitContainers[0].Resources.Requests))

	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}
	same, err := tr.Deployment(other)
	require.NoError(t, err)
	assert.Same(t, other, same, "anything else passes through")
}

// BenchmarkCachedPod reports the heap a cached pod adds to its decoded strings: 1,000 pods of one size, decoded
// as the informer decodes them, trimmed with their resource lists copied (TrimPod) or shared (Transforms.Pod).
func BenchmarkCachedPod(b *testing.B) {
	const pods = 1000
	raw := make([]*corev1.Pod, pods)
	for i := range raw {
		raw[i] = resizedPod(b, fmt.Sprintf("c-%d-x", i))
	}
	for _, bc := range []struct {
		name string
		trim func() func(*corev1.Pod) *corev1.Pod
	}{
		{"copied", func() func(*corev1.Pod) *corev1.Pod { return TrimPod }},
		{"shared", func() func(*corev1.Pod) *corev1.Pod {
			var lists Interner
			return func(p *corev1.Pod) *corev1.Pod { return trimPod(p, &lists) }
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var held []*corev1.Pod
			var perPod float64
			for b.Loop() {
				trim := bc.trim()
				before := heapInUse()
				held = make([]*corev1.Pod, pods)
				for i, p := range raw {
					held[i] = trim(p)
				}
				perPod = float64(heapInUse()-before) / pods
			}
			runtime.KeepAlive(held)
			b.ReportMetric(perPod, "heap-B/pod")
		})
	}
}

// heapInUse is the heap's live bytes after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
