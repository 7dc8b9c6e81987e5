package controller

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/internal/testkubelet"
)

// The tests of this file run the whole loop in updateMode InPlace against a real API server: the reconciler
// decides and writes; the test plays the Deployment and ReplicaSet controllers (world.settle) and a kubelet that
// resizes in place (internal/testkubelet), neither of which envtest has.

// revisionAnnotation is the Deployment controller's revision of a ReplicaSet.
const revisionAnnotation = "deployment.kubernetes.io/revision"

// world is one namespace's controllers and node.
type world struct {
	t       *testing.T
	ns      string
	cs      kubernetes.Interface
	kubelet *testkubelet.Kubelet
}

func newWorld(t *testing.T, ns string, answer func(*corev1.Pod) testkubelet.Answer) *world {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(env.Config)
	k := &testkubelet.Kubelet{Client: cs, Node: "node-" + ns, Answer: answer}
	require.NoError(t, k.RegisterNode(context.Background(), "64", "256Gi"))
	return &world{t: t, ns: ns, cs: cs, kubelet: k}
}

// inPlaceConsumer is one instance (c-0, three partitions) sized in place within cpu 100m..2, memory 100M..1G.
func inPlaceConsumer(ns string) *konsumeratorv1.Consumer {
	return builder.Consumer("c").Namespace(ns).Partitions(3).PerInstance(3).
		Prometheus(1000, "100M").InPlace().
		Policy("busybox", builder.Resources("cpu=100m,memory=100M"), builder.Resources("cpu=2,memory=1G")).Obj()
}

// lagsCritically makes the metrics say every partition of c is two hours behind: a scale-up at once, to the
// policy's maximum.
func lagsCritically(ns string) {
	samples.set(ns, "c", builder.Sample(time.Now().UTC().Truncate(time.Second)).Uniform(3, 100, 100, 100*3600*2).Obj())
}

// settle plays the Deployment and ReplicaSet controllers, then the kubelet: every instance Deployment gets a
// ReplicaSet for its current template (the next revision when the template changed) whose pods replace those
// of older revisions; then pods are bound, started, and their pending resizes answered.
func (w *world) settle() {
	t := w.t
	t.Helper()
	ctx := context.Background()
	ds, err := w.cs.AppsV1().Deployments(w.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for i := range ds.Items {
		w.rollOut(&ds.Items[i])
	}
	require.NoError(t, w.kubelet.Sync(ctx, w.ns))
}

func (w *world) rollOut(d *appsv1.Deployment) {
	t := w.t
	ctx := context.Background()
	raw, err := json.Marshal(d.Spec.Template)
	require.NoError(t, err)
	h := fnv.New32a()
	h.Write(raw)
	hash := strconv.FormatUint(uint64(h.Sum32()), 16)

	all, err := w.cs.AppsV1().ReplicaSets(w.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	var current *appsv1.ReplicaSet
	var older []string
	revision := 0
	for i := range all.Items {
		rs := &all.Items[i]
		if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != d.UID {
			continue
		}
		n, _ := strconv.Atoi(rs.Annotations[revisionAnnotation])
		revision = max(revision, n)
		if rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey] == hash {
			current = rs
		} else {
			older = append(older, rs.Name)
		}
	}
	if current == nil {
		labels := map[string]string{appsv1.DefaultDeploymentUniqueLabelKey: hash}
		for k, v := range d.Spec.Template.Labels {
			labels[k] = v
		}
		selector := d.Spec.Selector.DeepCopy()
		selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
		tmpl := d.Spec.Template.DeepCopy()
		tmpl.Labels = labels
		current = &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: d.Name + "-" + hash, Namespace: w.ns, Labels: labels,
				Annotations:     map[string]string{revisionAnnotation: strconv.Itoa(revision + 1)},
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))}},
			Spec: appsv1.ReplicaSetSpec{Replicas: d.Spec.Replicas, Selector: selector, Template: *tmpl},
		}
		current, err = w.cs.AppsV1().ReplicaSets(w.ns).Create(ctx, current, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	pods, err := w.cs.CoreV1().Pods(w.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	running := 0
	for i := range pods.Items {
		p := &pods.Items[i]
		ref := metav1.GetControllerOf(p)
		switch {
		case ref == nil || p.DeletionTimestamp != nil:
		case ref.UID == current.UID:
			running++
		case contains(older, ref.Name):
			w.deletePod(p.Name)
		}
	}
	want := 1
	if d.Spec.Replicas != nil {
		want = int(*d.Spec.Replicas)
	}
	for ; running < want; running++ {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: current.Name + "-", Namespace: w.ns, Labels: current.Spec.Template.Labels,
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(current, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))}},
			Spec: *current.Spec.Template.Spec.DeepCopy(),
		}
		_, err := w.cs.CoreV1().Pods(w.ns).Create(ctx, pod, metav1.CreateOptions{})
		require.NoError(t, err)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (w *world) deletePod(name string) {
	w.t.Helper()
	zero := int64(0)
	require.NoError(w.t, w.cs.CoreV1().Pods(w.ns).Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &zero}))
}

// pods are the live pods of instance c-0, by name.
func (w *world) pods() []corev1.Pod {
	w.t.Helper()
	list, err := w.cs.CoreV1().Pods(w.ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(w.t, err)
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && p.Labels[konsumeratorv1.LabelInstance] == "c-0" {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// onlyPod is the one running pod of c-0.
func (w *world) onlyPod() corev1.Pod {
	w.t.Helper()
	pods := w.pods()
	require.Len(w.t, pods, 1, "pods of c-0")
	return pods[0]
}

func (w *world) replicaSets() int {
	w.t.Helper()
	list, err := w.cs.AppsV1().ReplicaSets(w.ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(w.t, err)
	return len(list.Items)
}

// waitForPods waits until the manager's cache holds the pods and ReplicaSets the API server holds, so that a
// pass plans for the world as it is.
func (w *world) waitForPods() {
	t := w.t
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		live, err := w.cs.CoreV1().Pods(w.ns).List(ctx, metav1.ListOptions{LabelSelector: konsumeratorv1.LabelConsumer})
		require.NoError(t, err)
		var cached corev1.PodList
		require.NoError(t, mgr.GetClient().List(ctx, &cached, client.InNamespace(w.ns)))
		liveRS, err := w.cs.AppsV1().ReplicaSets(w.ns).List(ctx, metav1.ListOptions{LabelSelector: konsumeratorv1.LabelConsumer})
		require.NoError(t, err)
		cachedRS := &metav1.PartialObjectMetadataList{}
		cachedRS.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("ReplicaSetList"))
		require.NoError(t, mgr.GetClient().List(ctx, cachedRS, client.InNamespace(w.ns)))
		if podVersions(live.Items) == podVersions(cached.Items) && rsVersions(liveRS.Items) == metaVersions(cachedRS.Items) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cache did not catch up with the pods of %s", w.ns)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func podVersions(ps []corev1.Pod) string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Name+"@"+p.ResourceVersion)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func rsVersions(rs []appsv1.ReplicaSet) string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Name+"@"+r.ResourceVersion)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func metaVersions(ms []metav1.PartialObjectMetadata) string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Name+"@"+m.ResourceVersion)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// step lets the world act on what the last pass wrote, then runs one pass and returns its writes.
func (w *world) step(r *Reconciler, key types.NamespacedName) []string {
	w.t.Helper()
	w.settle()
	w.waitForPods()
	return pass(w.t, r, key)
}

// converge steps until a pass writes nothing; it returns the writes of every pass.
func (w *world) converge(r *Reconciler, key types.NamespacedName) [][]string {
	w.t.Helper()
	var all [][]string
	for range 20 {
		writes := w.step(r, key)
		if len(writes) == 0 {
			return all
		}
		all = append(all, writes)
	}
	w.t.Fatalf("%s did not converge in 20 passes: %v", key, all)

	return nil
}

func cpu(l corev1.ResourceList) string {
	q := l[corev1.ResourceCPU]
	return q.String()
}

// decidedCPULimit is the busybox container's cpu limit recorded in the resources annotation ("" without one).
func decidedCPULimit(t *testing.T, d appsv1.Deployment) string {
	t.Helper()
	v, ok := d.Annotations[konsumeratorv1.AnnotationResources]
	if !ok {
		return ""
	}
	var decided map[string]corev1.ResourceRequirements
	require.NoError(t, json.Unmarshal([]byte(v), &decided))
	return cpu(decided["busybox"].Limits)
}

func countWrites(passes [][]string, part string) int {
	n := 0
	for _, writes := range passes {
		for _, w := range writes {
			if strings.Contains(w, part) {
				n++
			}
		}
	}
	return n
}

// startInPlace creates the Consumer and lets its instance run at the size it starts with.
func startInPlace(t *testing.T, ns string, answer func(*corev1.Pod) testkubelet.Answer) (*world, *Reconciler, types.NamespacedName, *recordedEvents) {
	t.Helper()
	w := newWorld(t, ns, answer)
	c := create(t, inPlaceConsumer(ns))
	r := newTestReconciler(t, nil)
	events := &recordedEvents{}
	r.Applier.Events = events
	w.converge(r, keyOf(c))
	pod := w.onlyPod()
	require.Equal(t, corev1.PodRunning, pod.Status.Phase)
	require.Equal(t, "100m", cpu(pod.Spec.Containers[0].Resources.Requests))
	return w, r, keyOf(c), events
}

// TestScaleUpResizesTheRunningPodInPlace: the decision is recorded on the Deployment and reaches the running pod
// through pods/resize: the same pod, no restart, no new ReplicaSet, the template as it was.
func TestScaleUpResizesTheRunningPodInPlace(t *testing.T) {
	ns := namespace(t, "inplace-up")
	w, r, key, events := startInPlace(t, ns, nil)
	defer samples.set(ns, "c", nil)
	before := w.onlyPod()
	tmplBefore := container(deployments(t, ns)["c-0"], "busybox").Resources
	rsBefore := w.replicaSets()

	lagsCritically(ns)
	passes := w.converge(r, key)
	require.NotEmpty(t, passes)
	assert.Equal(t, 1, countWrites(passes, "/pods/"+before.Name+"/resize"), "one resize of the pod: %v", passes)
	assert.Equal(t, 1, countWrites(passes, "/deployments/c-0"), "one write of the Deployment (the decision): %v", passes)

	after := w.onlyPod()
	assert.Equal(t, before.UID, after.UID, "the same pod")
	st := after.Status.ContainerStatuses[0]
	assert.Equal(t, int32(0), st.RestartCount, "no restart")
	assert.Equal(t, "2", cpu(after.Spec.Containers[0].Resources.Limits), "resized to the policy's maximum")
	assert.Equal(t, "2", cpu(st.Resources.Limits), "the kubelet reports the new size")

	d := deployments(t, ns)["c-0"]
	assert.Equal(t, "2", decidedCPULimit(t, d), "the decision is recorded in "+konsumeratorv1.AnnotationResources)
	assert.Equal(t, tmplBefore, container(d, "busybox").Resources, "the template keeps the size pods start with")
	assert.Equal(t, rsBefore, w.replicaSets(), "no rollout")
	assert.Equal(t, 1.0, testutil.ToFloat64(r.Applier.Metrics.Resizes.WithLabelValues(konsumeratorv1.ResizeApplied)))
	for _, reason := range restartLabels(r) {
		assert.Zero(t, testutil.ToFloat64(r.Applier.Metrics.Restarts.WithLabelValues(reason)), "restarts for %s", reason)
	}
	assert.Len(t, events.with("Normal/InstancesResizedInPlace"), 1, "%v", events.all)
	assert.Empty(t, events.with("Normal/InstancesResized:"), "nothing is told as restarted")

	// A pod that starts later (an eviction here) starts at the template's size and is resized once it runs.
	w.deletePod(after.Name)
	passes = w.converge(r, key)
	again := w.onlyPod()
	require.NotEqual(t, after.UID, again.UID)
	assert.Equal(t, 1, countWrites(passes, "/pods/"+again.Name+"/resize"), "%v", passes)
	assert.Zero(t, countWrites(passes, "/deployments/"), "the Deployment is not written again: %v", passes)
	assert.Equal(t, "2", cpu(again.Spec.Containers[0].Resources.Limits))
	assert.Equal(t, "2", cpu(again.Status.ContainerStatuses[0].Resources.Limits))
	assert.Equal(t, int32(0), again.Status.ContainerStatuses[0].RestartCount)
	assert.Equal(t, rsBefore, w.replicaSets(), "still no rollout")
}

func restartLabels(r *Reconciler) []string {
	return []string{konsumeratorv1.RestartTemplateChanged, konsumeratorv1.RestartResources, konsumeratorv1.RestartQoSChange,
		konsumeratorv1.RestartResizeInfeasible, konsumeratorv1.RestartResizeDeferred, konsumeratorv1.RestartResizeInProgress,
		konsumeratorv1.RestartResizeError, konsumeratorv1.RestartResizeUnsupported, konsumeratorv1.RestartResizeRemovesResource,
		konsumeratorv1.RestartContainerPolicy}
}

func (r *recordedEvents) with(prefix string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.all {
		if strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// TestInfeasibleResizeRestartsTheInstance: the kubelet cannot fit the resize, so the instance restarts with the
// decided resources in its template, says why in a Warning, and counts the restart with its reason.
func TestInfeasibleResizeRestartsTheInstance(t *testing.T) {
	ns := namespace(t, "inplace-infeasible")
	infeasible := false
	w, r, key, events := startInPlace(t, ns, func(*corev1.Pod) testkubelet.Answer {
		if infeasible {
			return testkubelet.Infeasible
		}
		return testkubelet.Accept
	})
	defer samples.set(ns, "c", nil)
	before := w.onlyPod()
	infeasible = true

	lagsCritically(ns)
	passes := w.converge(r, key)
	assert.Equal(t, 1, countWrites(passes, "/pods/"+before.Name+"/resize"), "the resize is tried once: %v", passes)

	after := w.onlyPod()
	assert.NotEqual(t, before.UID, after.UID, "the instance restarted")
	assert.Equal(t, "2", cpu(after.Spec.Containers[0].Resources.Limits), "the new pod starts at the decided size")
	assert.Equal(t, "2", cpu(container(deployments(t, ns)["c-0"], "busybox").Resources.Limits), "the template carries it")
	assert.Equal(t, 1.0, testutil.ToFloat64(r.Applier.Metrics.Restarts.WithLabelValues(konsumeratorv1.RestartResizeInfeasible)))
	fallback := events.with("Warning/" + konsumeratorv1.EventResizeFallback)
	require.Len(t, fallback, 1, "%v", events.all)
	assert.Contains(t, fallback[0], "c-0: ResizeInfeasible")
	assert.Contains(t, fallback[0], "infeasible")
}

// TestDeferredResizeWaitsThenRestarts: a resize the kubelet defers is waited for (no restart, nothing written)
// until the deferral is older than the bound; then the instance restarts with the reason.
func TestDeferredResizeWaitsThenRestarts(t *testing.T) {
	ns := namespace(t, "inplace-deferred")
	deferred := false
	w, r, key, events := startInPlace(t, ns, func(*corev1.Pod) testkubelet.Answer {
		if deferred {
			return testkubelet.Deferred
		}
		return testkubelet.Accept
	})
	defer samples.set(ns, "c", nil)
	before := w.onlyPod()
	deferred = true

	lagsCritically(ns)
	passes := w.converge(r, key)
	assert.Equal(t, 1, countWrites(passes, "/pods/"+before.Name+"/resize"), "%v", passes)
	waiting := w.onlyPod()
	assert.Equal(t, before.UID, waiting.UID, "a fresh deferral is waited for")
	require.True(t, hasCondition(waiting, corev1.PodResizePending, corev1.PodReasonDeferred))
	assert.Empty(t, events.with("Warning/"+konsumeratorv1.EventResizeFallback))

	// The clock moves: the kubelet has deferred the resize for six minutes, beyond the bound of five.
	for i := range waiting.Status.Conditions {
		if waiting.Status.Conditions[i].Type == corev1.PodResizePending {
			waiting.Status.Conditions[i].LastTransitionTime = metav1.NewTime(time.Now().Add(-6 * time.Minute))
		}
	}
	_, err := w.cs.CoreV1().Pods(ns).UpdateStatus(context.Background(), &waiting, metav1.UpdateOptions{})
	require.NoError(t, err)
	w.converge(r, key)
	after := w.onlyPod()
	assert.NotEqual(t, before.UID, after.UID, "the instance restarted")
	assert.Equal(t, "2", cpu(after.Spec.Containers[0].Resources.Limits))
	assert.Equal(t, 1.0, testutil.ToFloat64(r.Applier.Metrics.Restarts.WithLabelValues(konsumeratorv1.RestartResizeDeferred)))
	fallback := events.with("Warning/" + konsumeratorv1.EventResizeFallback)
	require.Len(t, fallback, 1, "%v", events.all)
	assert.Contains(t, fallback[0], "ResizeDeferredTooLong")
}

func hasCondition(p corev1.Pod, t corev1.PodConditionType, reason string) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue && c.Reason == reason {
			return true
		}
	}
	return false
}

// stoppedBeforeResizing is an operator that stops after writing the Deployments: its pods/resize calls never
// leave.
type stoppedBeforeResizing struct{ client.Client }

func (c stoppedBeforeResizing) SubResource(name string) client.SubResourceClient {
	if name == "resize" {
		return stoppedResize{c.Client.SubResource(name)}
	}
	return c.Client.SubResource(name)
}

type stoppedResize struct{ client.SubResourceClient }

func (stoppedResize) Patch(context.Context, client.Object, client.Patch, ...client.SubResourcePatchOption) error {
	return errors.New("the operator stopped")
}

// decideThenStop makes the instance lag critically and runs one pass of r through stopping, a client with which
// the operator stops part way through the plan.
func (w *world) decideThenStop(t *testing.T, r *Reconciler, key types.NamespacedName, stopping client.Client) {
	t.Helper()
	r.Applier.Client = stopping
	lagsCritically(key.Namespace)
	w.settle()
	w.waitForPods()
	waitForCache(t, key)
	_, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key})
	require.ErrorContains(t, err, "the operator stopped")
}

// TestOperatorRestartMidResizeFinishesFromTheAnnotation: an operator that recorded the decision but stopped
// before resizing is followed by a new one (a restart or a new leader), which reads the decision from the
// Deployment's annotation and resizes the pod, without deciding or writing the Deployment again.
func TestOperatorRestartMidResizeFinishesFromTheAnnotation(t *testing.T) {
	ns := namespace(t, "inplace-restart")
	w, r, key, _ := startInPlace(t, ns, nil)
	defer samples.set(ns, "c", nil)
	before := w.onlyPod()

	w.decideThenStop(t, r, key, stoppedBeforeResizing{r.Applier.Client})
	require.Equal(t, "2", decidedCPULimit(t, deployments(t, ns)["c-0"]), "the decision is recorded")
	require.Equal(t, "100m", cpu(w.onlyPod().Spec.Containers[0].Resources.Requests), "the pod is not resized yet")

	restarted := newTestReconciler(t, nil)
	passes := w.converge(restarted, key)
	require.NotEmpty(t, passes)
	assert.Equal(t, 1, countWrites(passes, "/pods/"+before.Name+"/resize"), "%v", passes)
	assert.Zero(t, countWrites(passes, "/deployments/"), "the decision is not made again: %v", passes)
	after := w.onlyPod()
	assert.Equal(t, before.UID, after.UID)
	assert.Equal(t, "2", cpu(after.Status.ContainerStatuses[0].Resources.Limits))
	assert.Equal(t, int32(0), after.Status.ContainerStatuses[0].RestartCount)
}

// stoppedBeforeRecording is an operator that stops after its resizes, before it records the decision on the
// Deployments.
type stoppedBeforeRecording struct{ client.Client }

func (stoppedBeforeRecording) Apply(context.Context, runtime.ApplyConfiguration, ...client.ApplyOption) error {
	return errors.New("the operator stopped")
}

// TestOperatorStoppedBeforeTheRecordWritesOnlyTheRecord: resizes go ahead of the record, so an operator can stop
// between the two. The one that follows decides the same from the same inputs, finds the pod already at that
// size and writes the record alone: no second resize, no restart.
func TestOperatorStoppedBeforeTheRecordWritesOnlyTheRecord(t *testing.T) {
	ns := namespace(t, "inplace-record")
	w, r, key, _ := startInPlace(t, ns, nil)
	defer samples.set(ns, "c", nil)
	before := w.onlyPod()

	w.decideThenStop(t, r, key, stoppedBeforeRecording{r.Applier.Client})
	require.Equal(t, "2", cpu(w.onlyPod().Spec.Containers[0].Resources.Limits), "the pod is resized first")
	require.NotEqual(t, "2", decidedCPULimit(t, deployments(t, ns)["c-0"]), "the decision is not recorded yet")

	restarted := newTestReconciler(t, nil)
	passes := w.converge(restarted, key)
	require.NotEmpty(t, passes)
	assert.Zero(t, countWrites(passes, "/resize"), "the pod is not resized again: %v", passes)
	assert.Equal(t, 1, countWrites(passes, "/deployments/c-0"), "the record alone: %v", passes)
	assert.Equal(t, "2", decidedCPULimit(t, deployments(t, ns)["c-0"]))
	after := w.onlyPod()
	assert.Equal(t, before.UID, after.UID)
	assert.Equal(t, "2", cpu(after.Status.ContainerStatuses[0].Resources.Limits))
	assert.Equal(t, int32(0), after.Status.ContainerStatuses[0].RestartCount)
}

func memory(l corev1.ResourceList) string {
	q := l[corev1.ResourceMemory]
	return q.String()
}

// decidedMemoryLimit is the busybox container's memory limit recorded in the resources annotation.
func decidedMemoryLimit(t *testing.T, d appsv1.Deployment) string {
	t.Helper()
	var decided map[string]corev1.ResourceRequirements
	require.NoError(t, json.Unmarshal([]byte(d.Annotations[konsumeratorv1.AnnotationResources]), &decided))
	return memory(decided["busybox"].Limits)
}

// TestMemoryDecreaseWaitsForTheNextRollout: a scale-down lowers cpu in place but not memory below what the pod
// started with (its process sized itself then); the lower memory is recorded and a rollout that happens anyway
// (a new image) carries it into the template, with one restart, counted as a template change.
func TestMemoryDecreaseWaitsForTheNextRollout(t *testing.T) {
	ns := namespace(t, "inplace-memory")
	w := newWorld(t, ns, nil)
	defer samples.set(ns, "c", nil)
	// The instance starts sized for 1500 messages/s: above the policy's minimum, below its maximum.
	samples.set(ns, "c", builder.Sample(time.Now().UTC().Truncate(time.Second)).Uniform(3, 500, 500, 0).Obj())
	spec := inPlaceConsumer(ns)
	spec.Spec.Autoscaler.PendingScaleDownDuration = &metav1.Duration{}
	c := create(t, spec)
	r := newTestReconciler(t, nil)
	w.converge(r, keyOf(c))
	before := w.onlyPod()
	started := before.Spec.Containers[0].Resources
	require.Equal(t, corev1.PodQOSBurstable, before.Status.QOSClass)
	require.Greater(t, started.Limits.Memory().Value(), int64(100e6), "started above the minimum: %v", started)

	samples.set(ns, "c", builder.Sample(time.Now().UTC().Truncate(time.Second)).Uniform(3, 1, 1, 0).Obj())
	passes := w.converge(r, keyOf(c))
	assert.Equal(t, 1, countWrites(passes, "/pods/"+before.Name+"/resize"), "%v", passes)
	after := w.onlyPod()
	assert.Equal(t, before.UID, after.UID, "no restart")
	assert.Equal(t, int32(0), after.Status.ContainerStatuses[0].RestartCount)
	res := after.Spec.Containers[0].Resources
	assert.Less(t, res.Requests.Cpu().MilliValue(), started.Requests.Cpu().MilliValue(), "cpu goes down in place: %v", res)
	assert.Equal(t, memory(started.Limits), memory(res.Limits), "memory stays at what the pod started with")
	d := deployments(t, ns)["c-0"]
	assert.Equal(t, "100M", decidedMemoryLimit(t, d), "the lower memory is recorded")
	assert.Equal(t, memory(started.Limits), memory(container(d, "busybox").Resources.Limits), "the template is not rolled for it")
	for _, reason := range restartLabels(r) {
		assert.Zero(t, testutil.ToFloat64(r.Applier.Metrics.Restarts.WithLabelValues(reason)), "restarts for %s", reason)
	}

	update(t, keyOf(c), func(c *konsumeratorv1.Consumer) {
		c.Spec.DeploymentTemplate.Template.Spec.Containers[0].Image = "busybox:1.37"
	})
	w.converge(r, keyOf(c))
	rolled := w.onlyPod()
	assert.NotEqual(t, before.UID, rolled.UID, "the new image rolls the pod")
	assert.Equal(t, "busybox:1.37", container(deployments(t, ns)["c-0"], "busybox").Image)
	assert.Equal(t, "100M", memory(rolled.Spec.Containers[0].Resources.Limits), "the template caught up with the decision")
	assert.Equal(t, 1.0, testutil.ToFloat64(r.Applier.Metrics.Restarts.WithLabelValues(konsumeratorv1.RestartTemplateChanged)))
}

// TestInstanceAtTheMaximumScalesDownInPlace: an instance created at the policy's maximum (every request at its
// limit) would run Guaranteed, and pods/resize cannot change a QoS class, so its scale-down would be a restart; its
// template keeps one cpu request 1m under the limit, the pod is Burstable, and the scale-down is done in place.
func TestInstanceAtTheMaximumScalesDownInPlace(t *testing.T) {
	ns := namespace(t, "inplace-qos")
	w := newWorld(t, ns, nil)
	defer samples.set(ns, "c", nil)
	lagsCritically(ns)
	spec := inPlaceConsumer(ns)
	spec.Spec.Autoscaler.PendingScaleDownDuration = &metav1.Duration{}
	c := create(t, spec)
	r := newTestReconciler(t, nil)
	events := &recordedEvents{}
	r.Applier.Events = events
	w.converge(r, keyOf(c))
	before := w.onlyPod()
	require.Equal(t, corev1.PodQOSBurstable, before.Status.QOSClass)
	assert.Equal(t, "1999m", cpu(before.Spec.Containers[0].Resources.Requests), "1m under the limit of 2")
	assert.Equal(t, "2", decidedCPULimit(t, deployments(t, ns)["c-0"]), "the decision is the maximum")

	samples.set(ns, "c", builder.Sample(time.Now().UTC().Truncate(time.Second)).Uniform(3, 1, 1, 0).Obj())
	passes := w.converge(r, keyOf(c))
	assert.Equal(t, 1, countWrites(passes, "/pods/"+before.Name+"/resize"), "%v", passes)
	after := w.onlyPod()
	assert.Equal(t, before.UID, after.UID, "the same pod")
	assert.Equal(t, corev1.PodQOSBurstable, after.Status.QOSClass)
	assert.Equal(t, "100m", cpu(after.Spec.Containers[0].Resources.Requests))
	for _, reason := range restartLabels(r) {
		assert.Zero(t, testutil.ToFloat64(r.Applier.Metrics.Restarts.WithLabelValues(reason)), "restarts for %s", reason)
	}
	assert.Empty(t, events.with("Warning/"+konsumeratorv1.EventResizeFallback), "%v", events.all)
}

// TestOutOfMemoryKillBumpsMemoryInPlace: a container killed for running out of memory gets more memory within one
// reconcile, in place (the same pod), and the floor is remembered: the same kill does not bump again.
func TestOutOfMemoryKillBumpsMemoryInPlace(t *testing.T) {
	ns := namespace(t, "inplace-oom")
	w, r, key, events := startInPlace(t, ns, nil)
	before := w.onlyPod()
	startMemory := memory(before.Spec.Containers[0].Resources.Limits)

	require.NoError(t, w.kubelet.Kill(context.Background(), ns, before.Name, "busybox", "OOMKilled", 137))
	passes := w.converge(r, key)
	require.NotEmpty(t, passes, "the kill is acted on")
	assert.Equal(t, 1, countWrites(passes, "/pods/"+before.Name+"/resize"), "one resize of the pod: %v", passes)

	after := w.onlyPod()
	assert.Equal(t, before.UID, after.UID, "the same pod")
	// 1.5 × 100M is 150M, but the step is at least 64Mi: 100M + 64Mi, rounded up to whole MiB.
	assert.Equal(t, "160Mi", memory(after.Spec.Containers[0].Resources.Limits), "from %s", startMemory)
	d := deployments(t, ns)["c-0"]
	assert.Contains(t, d.Annotations[konsumeratorv1.AnnotationMemoryFloor], `"memory":"160Mi"`)
	assert.Len(t, events.with("Normal/MemoryBumped"), 1, "%v", events.all)

	// The same kill, seen again, bumps nothing.
	assert.Empty(t, w.step(r, key), "no write for a kill already counted")
}

// refuseResizes makes the API server refuse every pods/resize in ns, as an admission policy or a ResourceQuota
// of the cluster would, and waits until it does (the server loads a new policy within a second or so).
func (w *world) refuseResizes(pod corev1.Pod, message string) (lift func()) {
	w.t.Helper()
	ctx := context.Background()
	name := "refuse-resizes-" + w.ns
	fail := admissionregistrationv1.Fail
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionregistrationv1.MatchResources{
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
						Rule: admissionregistrationv1.Rule{
							APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods/resize"},
						},
					},
				}},
			},
			Validations: []admissionregistrationv1.Validation{{Expression: "false", Message: message}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: w.ns},
			}},
		},
	}
	policies := w.cs.AdmissionregistrationV1().ValidatingAdmissionPolicies()
	bindings := w.cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings()
	_, err := policies.Create(ctx, policy, metav1.CreateOptions{})
	require.NoError(w.t, err)
	_, err = bindings.Create(ctx, binding, metav1.CreateOptions{})
	require.NoError(w.t, err)
	// A dry-run resize to the size the pod has tells whether the policy is in force, and changes nothing.
	probe, err := json.Marshal(map[string]any{"spec": map[string]any{"containers": []map[string]any{{
		"name": pod.Spec.Containers[0].Name, "resources": pod.Spec.Containers[0].Resources,
	}}}})
	require.NoError(w.t, err)
	refused := func() bool {
		_, err := w.cs.CoreV1().Pods(w.ns).Patch(ctx, pod.Name, types.StrategicMergePatchType, probe,
			metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}}, "resize")
		return err != nil && strings.Contains(err.Error(), message)
	}
	require.Eventually(w.t, refused, 30*time.Second, 100*time.Millisecond, "the API server refuses resizes in %s", w.ns)
	return func() {
		require.NoError(w.t, bindings.Delete(ctx, name, metav1.DeleteOptions{}))
		require.NoError(w.t, policies.Delete(ctx, name, metav1.DeleteOptions{}))
		require.Eventually(w.t, func() bool { return !refused() }, 30*time.Second, 100*time.Millisecond,
			"the API server resizes in %s again", w.ns)
	}
}

// TestRefusedResizeIsTriedAgainNotRestarted: a resize the API server refuses (an admission policy here; a
// ResourceQuota is the usual case) fails with the server's reason in an ApplyFailed Warning and the Ready
// condition, and is tried again on the next pass. Nothing restarts: a pod started at the decided size would meet
// the same refusal. Once the refusal is lifted, the same pod is resized.
func TestRefusedResizeIsTriedAgainNotRestarted(t *testing.T) {
	ns := namespace(t, "inplace-refused")
	w, r, key, events := startInPlace(t, ns, nil)
	defer samples.set(ns, "c", nil)
	before := w.onlyPod()
	rsBefore := w.replicaSets()
	tmplBefore := container(deployments(t, ns)["c-0"], "busybox").Resources
	const message = "resizes are not allowed in this namespace"
	lift := w.refuseResizes(before, message)

	lagsCritically(ns)
	for i := range 3 {
		w.settle()
		w.waitForPods()
		waitForCache(t, key)
		requests.Reset()
		_, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key})
		require.ErrorContains(t, err, message, "pass %d", i)
		assert.Equal(t, 1, countWrites([][]string{requests.Writes()}, "/pods/"+before.Name+"/resize"),
			"pass %d tries the resize once: %v", i, requests.Writes())
	}

	refused := w.onlyPod()
	assert.Equal(t, before.UID, refused.UID, "no restart")
	assert.Equal(t, int32(0), refused.Status.ContainerStatuses[0].RestartCount)
	assert.Equal(t, "100m", cpu(refused.Spec.Containers[0].Resources.Requests), "the pod keeps its size")
	assert.Equal(t, rsBefore, w.replicaSets(), "no rollout")
	d := deployments(t, ns)["c-0"]
	assert.Equal(t, tmplBefore, container(d, "busybox").Resources, "the template is not changed")
	assert.Equal(t, "2", decidedCPULimit(t, d), "the decision is recorded all the same")
	for _, reason := range restartLabels(r) {
		assert.Zero(t, testutil.ToFloat64(r.Applier.Metrics.Restarts.WithLabelValues(reason)), "restarts for %s", reason)
	}
	assert.Equal(t, 3.0, testutil.ToFloat64(r.Applier.Metrics.Resizes.WithLabelValues(konsumeratorv1.ResizeFailed)))
	assert.Empty(t, events.with("Warning/"+konsumeratorv1.EventResizeFallback), "%v", events.all)
	failed := events.with("Warning/" + konsumeratorv1.ReasonApplyFailed)
	require.NotEmpty(t, failed, "%v", events.all)
	assert.Contains(t, failed[0], message)
	var c konsumeratorv1.Consumer
	require.NoError(t, env.Client.Get(context.Background(), key, &c))
	ready := apimeta.FindStatusCondition(c.Status.Conditions, konsumeratorv1.ConditionReady)
	require.NotNil(t, ready)
	assert.Equal(t, metav1.ConditionFalse, ready.Status)
	assert.Equal(t, konsumeratorv1.ReasonApplyFailed, ready.Reason)
	assert.Contains(t, ready.Message, message)

	lift()
	passes := w.converge(r, key)
	assert.Equal(t, 1, countWrites(passes, "/pods/"+before.Name+"/resize"), "the resize goes through: %v", passes)
	after := w.onlyPod()
	assert.Equal(t, before.UID, after.UID, "the same pod")
	assert.Equal(t, "2", cpu(after.Status.ContainerStatuses[0].Resources.Limits))
	assert.Equal(t, int32(0), after.Status.ContainerStatuses[0].RestartCount)
	assert.Equal(t, rsBefore, w.replicaSets(), "still no rollout")
}
