package testkubelet

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/konsumerator/konsumerator/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

func resources(cpuReq, cpuLim, mem string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuReq), corev1.ResourceMemory: resource.MustParse(mem)},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuLim), corev1.ResourceMemory: resource.MustParse(mem)},
	}
}

func setup(t *testing.T, node string, answer func(*corev1.Pod) Answer) (*Kubelet, *corev1.Pod) {
	t.Helper()
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(env.Config)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "kubelet-"}}
	ns, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	require.NoError(t, err)
	k := &Kubelet{Client: cs, Node: node, Answer: answer}
	require.NoError(t, k.RegisterNode(ctx, "4", "8Gi"))
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns.Name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "consumer", Resources: resources("100m", "1", "100M")}}}}
	_, err = cs.CoreV1().Pods(ns.Name).Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	require.NoError(t, k.Sync(ctx, ns.Name))
	pod, err = cs.CoreV1().Pods(ns.Name).Get(ctx, "p", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, node, pod.Spec.NodeName)
	require.Equal(t, corev1.PodRunning, pod.Status.Phase)
	require.NotNil(t, pod.Status.ContainerStatuses[0].Resources, "a running container reports its resources")
	return k, pod
}

func resize(t *testing.T, k *Kubelet, pod *corev1.Pod, patch string) error {
	t.Helper()
	_, err := k.Client.CoreV1().Pods(pod.Namespace).Patch(context.Background(), pod.Name, types.StrategicMergePatchType,
		[]byte(patch), metav1.PatchOptions{}, "resize")
	return err
}

const cpuUp = `{"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"300m"},"limits":{"cpu":"2"}}}]}}`

func TestAcceptedResizeKeepsThePodAndItsContainer(t *testing.T) {
	k, pod := setup(t, "accepting", nil)
	require.NoError(t, resize(t, k, pod, cpuUp))
	require.NoError(t, k.Sync(context.Background(), pod.Namespace))
	after, err := k.Client.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
	require.NoError(t, err)
	st := after.Status.ContainerStatuses[0]
	assert.Equal(t, pod.UID, after.UID)
	assert.Equal(t, int32(0), st.RestartCount)
	assert.Equal(t, "2", st.Resources.Limits.Cpu().String())
	assert.Equal(t, "300m", st.AllocatedResources.Cpu().String())
	assert.Equal(t, after.Generation, after.Status.ObservedGeneration)
	assert.Empty(t, after.Status.Conditions[1:], "no resize condition is left")
}

func TestPendingResizeIsReportedWithItsReason(t *testing.T) {
	for _, answer := range []Answer{Infeasible, Deferred, InProgress, Error} {
		t.Run(string(answer), func(t *testing.T) {
			k, pod := setup(t, "node-"+strings.ToLower(string(answer)), func(*corev1.Pod) Answer { return answer })
			require.NoError(t, resize(t, k, pod, cpuUp))
			require.NoError(t, k.Sync(context.Background(), pod.Namespace))
			after, err := k.Client.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
			require.NoError(t, err)
			assert.Equal(t, "1", after.Status.ContainerStatuses[0].Resources.Limits.Cpu().String(), "still at the old size")
			want := corev1.PodResizePending
			if answer == InProgress || answer == Error {
				want = corev1.PodResizeInProgress
			}
			var found *corev1.PodCondition
			for i := range after.Status.Conditions {
				if after.Status.Conditions[i].Type == want {
					found = &after.Status.Conditions[i]
				}
			}
			require.NotNil(t, found, "condition %s", want)
			if answer != InProgress {
				assert.Equal(t, string(answer), found.Reason)
			}
		})
	}
}

func TestAPIServerRefusesWhatAKubeletCannotDo(t *testing.T) {
	k, pod := setup(t, "refusing", nil)
	qos := `{"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"1","memory":"100M"},"limits":{"cpu":"1","memory":"100M"}}}]}}`
	err := resize(t, k, pod, qos)
	assert.True(t, apierrors.IsInvalid(err), "a QoS class change is invalid: %v", err)
	tooBig := `{"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"5"},"limits":{"cpu":"6"}}}]}}`
	err = resize(t, k, pod, tooBig)
	assert.True(t, apierrors.IsForbidden(err), "more than the Node's allocatable is forbidden: %v", err)
}

func TestKillRecordsTheReasonAndRestarts(t *testing.T) {
	k, pod := setup(t, "killing", nil)
	require.NoError(t, k.Kill(context.Background(), pod.Namespace, pod.Name, "c", "OOMKilled", 137))
	after, err := k.Client.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
	require.NoError(t, err)
	st := after.Status.ContainerStatuses[0]
	assert.Equal(t, int32(1), st.RestartCount)
	require.NotNil(t, st.LastTerminationState.Terminated)
	assert.Equal(t, "OOMKilled", st.LastTerminationState.Terminated.Reason)
	assert.NotNil(t, st.State.Running)
}
