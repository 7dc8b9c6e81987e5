package cluster

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestDeploymentBecomesAvailableAndTeardownLeavesNoProcess proves the cluster does what the demo needs (a
// Deployment's Pod is scheduled on a fake Node and becomes Ready) and that Stop leaves nothing running.
func TestDeploymentBecomesAvailableAndTeardownLeavesNoProcess(t *testing.T) {
	// Like the end-to-end tests, this needs kube-controller-manager, kube-scheduler and kwok built (minutes the
	// first time), so it runs with them (make e2e).
	if os.Getenv("KONSUMERATOR_E2E") == "" {
		t.Skip("set KONSUMERATOR_E2E=1 to start a whole local cluster (make e2e does)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = c.Stop()
		}
	})
	if _, err := os.Stat(c.Kubeconfig); err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}

	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "smoke"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "smoke"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox", Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("100M")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("100M")},
				}}}},
			},
		},
	}
	if err := c.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if err := c.Client.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil {
			t.Fatal(err)
		}
		if d.Status.AvailableReplicas == 2 {
			break
		}
		if time.Now().After(deadline) {
			var pods corev1.PodList
			_ = c.Client.List(ctx, &pods, client.InNamespace("default"))
			t.Fatalf("Deployment not Available within a minute; status %+v; pods %s", d.Status, podStates(pods.Items))
		}
		time.Sleep(200 * time.Millisecond)
	}

	resizeInPlace(ctx, t, c)

	procs := c.Processes()
	if err := c.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	stopped = true
	for _, p := range procs {
		if !p.GroupGone() {
			t.Errorf("process group of %s (%d) still has processes", p.Name, p.Pid())
		}
	}
	if kids := LiveChildren(); len(kids) > 0 {
		t.Errorf("processes left behind after Stop: %v", kids)
	}
	if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s left behind (%v)", c.Dir, err)
	}
}

// resizeInPlace checks that pods on the fake Nodes can be resized in place, as on a real kubelet: the project's kwok
// stage reports container resources, so the API server accepts a resize, and then reports the new values; the pod
// keeps its UID and its container its restart count.
func resizeInPlace(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(c.Config)
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=smoke"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("listing the smoke pods: %v (%d)", err, len(pods.Items))
	}
	before := pods.Items[0]
	patch := `{"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"300m","memory":"200M"},"limits":{"cpu":"2","memory":"200M"}}}]}}`
	var resizeErr error
	// The stage reports resources moments after the pod runs; until then the API server refuses the resize.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if _, resizeErr = cs.CoreV1().Pods("default").Patch(ctx, before.Name, types.StrategicMergePatchType, []byte(patch),
			metav1.PatchOptions{}, "resize"); resizeErr == nil {
			break
		}
	}
	if resizeErr != nil {
		t.Fatalf("resize refused: %v", resizeErr)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := cs.CoreV1().Pods("default").Get(ctx, before.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st := p.Status.ContainerStatuses; len(st) == 1 && st[0].Resources != nil &&
			st[0].Resources.Limits.Cpu().String() == "2" && st[0].Resources.Requests.Memory().String() == "200M" {
			if p.UID != before.UID || st[0].RestartCount != 0 || st[0].State.Running == nil {
				t.Fatalf("resized, but not in place: uid %s -> %s, restarts %d, state %+v", before.UID, p.UID, st[0].RestartCount, st[0].State)
			}
			if p.Status.ObservedGeneration != p.Generation {
				t.Errorf("status.observedGeneration %d, generation %d", p.Status.ObservedGeneration, p.Generation)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the resize was not reported within 30s: status %+v", p.Status.ContainerStatuses)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func podStates(pods []corev1.Pod) string {
	out := make([]string, 0, len(pods))
	for _, p := range pods {
		out = append(out, fmt.Sprintf("%s node=%q phase=%s", p.Name, p.Spec.NodeName, p.Status.Phase))
	}
	return strings.Join(out, ", ")
}

func TestTailKeepsTheLastLines(t *testing.T) {
	tail := NewTail(3)
	for i := range 5 {
		fmt.Fprintf(tail, "line %s\n", strconv.Itoa(i))
	}
	fmt.Fprint(tail, "partial")
	if got, want := tail.String(), "line 2\nline 3\nline 4\npartial"; got != want {
		t.Fatalf("tail %q, want %q", got, want)
	}
}
