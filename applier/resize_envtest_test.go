package applier_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/applier"
	"github.com/konsumerator/konsumerator/internal/testkubelet"
	"github.com/konsumerator/konsumerator/model"
)

func requirements(cpuReq, cpuLim, memReq, memLim string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuReq), corev1.ResourceMemory: resource.MustParse(memReq)},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuLim), corev1.ResourceMemory: resource.MustParse(memLim)},
	}
}

// kubelet registers a Node of its own for the test (Nodes are cluster-wide) with room for every resize below.
func (f *fixture) kubelet(t *testing.T) *testkubelet.Kubelet {
	t.Helper()
	k := &testkubelet.Kubelet{Client: kubernetes.NewForConfigOrDie(env.Config), Node: "node-" + f.owner.Namespace}
	require.NoError(t, k.RegisterNode(context.Background(), "8", "16Gi"))
	return k
}

// runningPod creates a pod with the given containers (Burstable: cpu request under its limit) and has the
// kubelet start it, so that its containers report their resources.
func (f *fixture) runningPod(t *testing.T, k *testkubelet.Kubelet, name string, containers ...string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.owner.Namespace}}
	for _, c := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c, Image: "busybox",
			Resources: requirements("100m", "1", "100M", "100M")})
	}
	_, err := k.Client.CoreV1().Pods(f.owner.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	require.NoError(t, k.Sync(ctx, f.owner.Namespace))
	return f.pod(t, name)
}

func (f *fixture) pod(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	p, err := kubernetes.NewForConfigOrDie(env.Config).CoreV1().Pods(f.owner.Namespace).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return p
}

// resizeAction resizes container index/name of pod (as observed) to res.
func (f *fixture) resizeAction(pod *corev1.Pod, index int, name string, res corev1.ResourceRequirements) model.Action {
	return model.Action{Kind: model.ActionResize, Phase: model.PhaseResize, Namespace: f.owner.Namespace, Name: pod.Name,
		UID: pod.UID, Reason: "resized in place to the decided resources, no restart",
		Resize: &model.PodResize{Deployment: "inst-0", Containers: []model.ContainerResize{{Index: index, Name: name, Resources: res}}}}
}

// TestResizeIsCarriedOutInPlace: the pod keeps its UID and its container its restart count, the kubelet reports
// the new resources, and the pass is counted and told as an in-place resize.
func TestResizeIsCarriedOutInPlace(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "resize-applied", applier.Options{})
	k := f.kubelet(t)
	pod := f.runningPod(t, k, "inst-0-abc", "main")

	f.requests.Reset()
	plan := &model.Plan{Actions: []model.Action{f.resizeAction(pod, 0, "main", requirements("300m", "2", "200M", "200M"))}}
	s := f.snapshot(t)
	s.Pods = []corev1.Pod{*pod}
	res, err := f.applier.Apply(ctx, f.owner, s, plan)
	require.NoError(t, err)
	require.Len(t, res.Outcomes, 1)
	assert.Equal(t, applier.ResultResized, res.Outcomes[0].Result)
	assert.Equal(t, []string{"PATCH /api/v1/namespaces/resize-applied/pods/inst-0-abc/resize"}, f.requests.Writes(),
		"one call, and no status write: the plan's status did not change")

	require.NoError(t, k.Sync(ctx, f.owner.Namespace))
	after := f.pod(t, pod.Name)
	assert.Equal(t, pod.UID, after.UID, "the same pod")
	st := after.Status.ContainerStatuses[0]
	assert.Equal(t, int32(0), st.RestartCount, "no restart")
	assert.Equal(t, "2", st.Resources.Limits.Cpu().String(), "the kubelet reports the new limit")
	assert.Equal(t, "300m", st.AllocatedResources.Cpu().String())
	assert.Equal(t, "200M", after.Spec.Containers[0].Resources.Limits.Memory().String())

	assert.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Resizes.WithLabelValues(konsumeratorv1.ResizeApplied)))
	assert.Equal(t, 0.0, testutil.ToFloat64(f.metrics.Restarts.WithLabelValues(konsumeratorv1.RestartContainerPolicy)))
	assert.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Actions.WithLabelValues("resize", "ok")))
	require.Len(t, f.events.seen, 1)
	assert.Equal(t, "Normal InstancesResizedInPlace: resized 1 pod(s) of 1 instance(s) in place, nothing restarts: "+
		"inst-0 (1 pod(s)): cpu 100m → 300m, memory 100M → 200M: resized in place to the decided resources, no restart", f.events.seen[0],
		"the numbers come from the pod as observed")
}

// TestResizeOfAReplacedPodTouchesNothing: a pod deleted and created again under the same name (a new UID), a pod
// whose containers are in another order than the plan saw, and a pod that is gone are all "gone": nothing is
// changed and nothing failed.
func TestResizeOfAReplacedPodTouchesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "resize-replaced", applier.Options{})
	k := f.kubelet(t)
	replaced := f.runningPod(t, k, "inst-0-replaced", "main")
	cs := k.Client.CoreV1().Pods(f.owner.Namespace)
	require.NoError(t, cs.Delete(ctx, replaced.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}))
	successor := f.runningPod(t, k, replaced.Name, "main")
	require.NotEqual(t, replaced.UID, successor.UID)

	reordered := f.runningPod(t, k, "inst-0-reordered", "sidecar", "main")
	gone := f.runningPod(t, k, "inst-0-gone", "main")
	require.NoError(t, cs.Delete(ctx, gone.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}))

	bigger := requirements("300m", "2", "100M", "100M")
	plan := &model.Plan{Actions: []model.Action{
		f.resizeAction(replaced, 0, "main", bigger),
		f.resizeAction(reordered, 0, "main", bigger), // index 0 is the sidecar
		f.resizeAction(gone, 0, "main", bigger),
	}}
	res, err := f.applier.Apply(ctx, f.owner, f.snapshot(t), plan)
	require.NoError(t, err, "a pod gone before its resize is not a failure")
	for _, o := range res.Outcomes {
		assert.Equal(t, applier.ResultGone, o.Result, "%s: %v", o.Action.Name, o.Err)
	}
	for _, name := range []string{replaced.Name, reordered.Name} {
		p := f.pod(t, name)
		for _, c := range p.Spec.Containers {
			assert.Equal(t, "1", c.Resources.Limits.Cpu().String(), "%s/%s is untouched", name, c.Name)
		}
	}
	assert.Equal(t, 3.0, testutil.ToFloat64(f.metrics.Resizes.WithLabelValues(konsumeratorv1.ResizeGone)))
	assert.Equal(t, 0.0, testutil.ToFloat64(f.metrics.Resizes.WithLabelValues(konsumeratorv1.ResizeFailed)))
	assert.Equal(t, 0.0, testutil.ToFloat64(f.metrics.Actions.WithLabelValues("resize", "error")))
	assert.Empty(t, f.events.seen, "nothing happened")
}

// TestResizeTheAPIServerRefusesFails: a resize that would change the pod's QoS class (Burstable to Guaranteed)
// is refused by the API server; it is a failed write with the server's reason, reported in the status and a
// Warning, and the pod keeps its resources.
func TestResizeTheAPIServerRefusesFails(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "resize-refused", applier.Options{})
	k := f.kubelet(t)
	pod := f.runningPod(t, k, "inst-0-qos", "main")

	plan := &model.Plan{Actions: []model.Action{f.resizeAction(pod, 0, "main", requirements("1", "1", "100M", "100M"))}}
	res, err := f.applier.Apply(ctx, f.owner, f.snapshot(t), plan)
	require.Error(t, err)
	assert.Equal(t, applier.ResultFailed, res.Outcomes[0].Result)
	assert.Contains(t, err.Error(), "resizing Pod resize-refused/inst-0-qos")
	assert.Contains(t, err.Error(), "QOS", "the API server's reason is kept: %v", err)
	assert.Equal(t, "100m", f.pod(t, pod.Name).Spec.Containers[0].Resources.Requests.Cpu().String())

	assert.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Resizes.WithLabelValues(konsumeratorv1.ResizeFailed)))
	assert.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Errors.WithLabelValues("invalid")))
	ready := apimeta.FindStatusCondition(res.Status.Conditions, konsumeratorv1.ConditionReady)
	require.NotNil(t, ready)
	assert.Equal(t, konsumeratorv1.ReasonApplyFailed, ready.Reason)
	require.Len(t, f.events.seen, 1)
	assert.True(t, strings.HasPrefix(f.events.seen[0], "Warning ApplyFailed: 1 write(s) failed; first: resizing Pod"), f.events.seen[0])
}

// TestResizesGoAheadOfTheRecords: the pods get the decision first, at the speed of one write each; a record that
// then fails does not undo them (the next pass writes the record alone, see the controller's
// TestOperatorStoppedBeforeTheRecordWritesOnlyTheRecord) and fails the plan.
func TestResizesGoAheadOfTheRecords(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "resize-first", applier.Options{})
	k := f.kubelet(t)
	pod := f.runningPod(t, k, "inst-0-first", "main")
	broken := f.desired("inst-0", "busybox", 1)
	broken.Spec.Selector.WithMatchLabels(map[string]string{"app": "does-not-match-the-pods"})
	plan := &model.Plan{Actions: []model.Action{
		f.resizeAction(pod, 0, "main", requirements("300m", "2", "100M", "100M")),
		f.action(model.ActionCreate, model.PhaseApply, "inst-0", "", broken),
	}}
	res, err := f.applier.Apply(ctx, f.owner, f.snapshot(t), plan)
	require.Error(t, err)
	results := map[string]string{}
	for _, o := range res.Outcomes {
		results[o.Action.Name] = o.Result
	}
	assert.Equal(t, map[string]string{"inst-0": applier.ResultFailed, pod.Name: applier.ResultResized}, results)
	assert.Equal(t, "2", f.pod(t, pod.Name).Spec.Containers[0].Resources.Limits.Cpu().String())
	writes := f.requests.Writes()
	require.GreaterOrEqual(t, len(writes), 2, "%v", writes)
	assert.Contains(t, writes[0], "/pods/"+pod.Name+"/resize", "the resize is the first write: %v", writes)
	assert.Contains(t, writes[1], "/deployments/inst-0", "%v", writes)
}

// TestResizeDryRunChangesNothing: the API server checks the resize (dryRun=All) and nothing changes.
func TestResizeDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "resize-dry", applier.Options{DryRun: true})
	k := f.kubelet(t)
	pod := f.runningPod(t, k, "inst-0-dry", "main")
	plan := &model.Plan{Actions: []model.Action{f.resizeAction(pod, 0, "main", requirements("300m", "2", "100M", "100M"))}}
	res, err := f.applier.Apply(ctx, f.owner, f.snapshot(t), plan)
	require.NoError(t, err)
	assert.Equal(t, applier.ResultDryRun, res.Outcomes[0].Result)
	assert.Empty(t, f.requests.Writes())
	assert.Equal(t, "1", f.pod(t, pod.Name).Spec.Containers[0].Resources.Limits.Cpu().String())
	assert.Equal(t, 0.0, testutil.ToFloat64(f.metrics.Resizes.WithLabelValues(konsumeratorv1.ResizeApplied)), "a dry run resizes nothing")

	refused := &model.Plan{Actions: []model.Action{f.resizeAction(pod, 0, "main", requirements("1", "1", "100M", "100M"))}}
	_, err = f.applier.Apply(ctx, f.owner, f.snapshot(t), refused)
	assert.ErrorContains(t, err, "QOS", "the dry run still reports what the API server would refuse")
}
