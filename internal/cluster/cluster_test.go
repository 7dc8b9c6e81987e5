package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	crashLoop(ctx, t, c)
	checkGarbageCollection(ctx, t, c, d)

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

// crashLoop checks that kwok reports a pod with a broken image as a kubelet reports a container that keeps
// failing: Running, not Ready, the broken container waiting in CrashLoopBackOff after a restart, the other one
// running; and that it stays so (kwok's own pod-ready stage must not take it over).
func crashLoop(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "broken", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "consumer", Image: "busybox" + BrokenImageSuffix},
			{Name: "sidecar", Image: "busybox"},
		}},
	}
	if err := c.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	crashLooping := func(p *corev1.Pod) bool {
		if p.Status.Phase != corev1.PodRunning || podReady(p) || len(p.Status.ContainerStatuses) != 2 {
			return false
		}
		for _, st := range p.Status.ContainerStatuses {
			switch st.Name {
			case "consumer":
				if st.Ready || st.RestartCount < 1 || st.State.Waiting == nil || st.State.Waiting.Reason != "CrashLoopBackOff" ||
					st.LastTerminationState.Terminated == nil || st.LastTerminationState.Terminated.ExitCode == 0 {
					return false
				}
			case "sidecar":
				if !st.Ready || st.State.Running == nil {
					return false
				}
			}
		}
		return true
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := c.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			t.Fatal(err)
		}
		if crashLooping(pod) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s (image busybox%s) not reported crash-looping within 30s: phase %s, ready %t, containers %+v",
				pod.Name, BrokenImageSuffix, pod.Status.Phase, podReady(pod), pod.Status.ContainerStatuses)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// No other stage may turn it Ready later (the container resources stage may still add what it reports).
	time.Sleep(3 * time.Second)
	if err := c.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
		t.Fatal(err)
	}
	if !crashLooping(pod) {
		t.Fatalf("pod %s stopped crash-looping 3s later: phase %s, ready %t, containers %+v",
			pod.Name, pod.Status.Phase, podReady(pod), pod.Status.ContainerStatuses)
	}
	t.Logf("kwok reports pod %s crash-looping: %s", pod.Name, containerStates(pod))
	if err := c.Client.Delete(ctx, pod); err != nil {
		t.Fatal(err)
	}
	waitGone(ctx, t, c, "the crash-looping pod", func() (int, error) {
		err := c.Client.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{})
		if apierrors.IsNotFound(err) {
			return 0, nil
		}
		return 1, err
	})
}

func podReady(p *corev1.Pod) bool {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

func containerStates(p *corev1.Pod) string {
	out := make([]string, 0, len(p.Status.ContainerStatuses))
	for _, st := range p.Status.ContainerStatuses {
		state := "running"
		switch {
		case st.State.Waiting != nil:
			state = "waiting " + st.State.Waiting.Reason
		case st.State.Terminated != nil:
			state = "terminated " + st.State.Terminated.Reason
		}
		out = append(out, fmt.Sprintf("%s %s ready=%t restarts=%d", st.Name, state, st.Ready, st.RestartCount))
	}
	return strings.Join(out, ", ")
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

// TestSupervisedProcessIsStartedAgain kills a supervised process, as a person trying the demo would kill the
// operator: it must come back with a new pid, and Stop must end it for good.
func TestSupervisedProcessIsStartedAgain(t *testing.T) {
	c := &Cluster{Dir: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(c.Dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	restarted := make(chan error, 10)
	s, err := c.StartSupervised("sleeper", nil, nil, func(exit error, _ time.Duration) { restarted <- exit }, "sleep", "600")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	first := s.Current()
	if err := syscall.Kill(first.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case exit := <-restarted:
		if exit == nil || !strings.Contains(exit.Error(), "killed") {
			t.Errorf("the restart was told the exit %v, want the kill", exit)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no restart within 10s of killing the process")
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Restarts() < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("not started again within 10s:\n%s", s.Tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	second := s.Current()
	if second.Pid() == first.Pid() || !first.GroupGone() {
		t.Fatalf("the second run must be a new process: pids %d and %d", first.Pid(), second.Pid())
	}
	select {
	case <-second.Exited():
		t.Fatalf("the new run exited: %v", second.ExitError())
	default:
	}

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // longer than the first back-off: a restart after Stop would show now
	if s.Restarts() != 1 || !second.GroupGone() {
		t.Errorf("after Stop: %d restarts, group gone %t", s.Restarts(), second.GroupGone())
	}
	if kids := LiveChildren(); len(kids) > 0 {
		t.Errorf("processes left behind: %v", kids)
	}
}

// checkGarbageCollection: owner references are acted on, as in a real cluster. Deleting a Deployment deletes its
// Pods (no orphan keeps serving), and deleting an owner deletes the Deployments it controls.
func checkGarbageCollection(ctx context.Context, t *testing.T, c *Cluster, d *appsv1.Deployment) {
	t.Helper()
	if err := c.Client.Delete(ctx, d, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	waitGone(ctx, t, c, "the Pods of a deleted Deployment", func() (int, error) {
		var pods corev1.PodList
		err := c.Client.List(ctx, &pods, client.InNamespace("default"), client.MatchingLabels{"app": "smoke"})
		return len(pods.Items), err
	})

	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner", Namespace: "default"}}
	if err := c.Client.Create(ctx, owner); err != nil {
		t.Fatal(err)
	}
	owned := d.DeepCopy()
	owned.ObjectMeta = metav1.ObjectMeta{Name: "owned", Namespace: "default", OwnerReferences: []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}}}
	owned.Status = appsv1.DeploymentStatus{}
	if err := c.Client.Create(ctx, owned); err != nil {
		t.Fatal(err)
	}
	if err := c.Client.Delete(ctx, owner); err != nil {
		t.Fatal(err)
	}
	waitGone(ctx, t, c, "the Deployment of a deleted owner, and its Pods", func() (int, error) {
		var deps appsv1.DeploymentList
		var pods corev1.PodList
		if err := c.Client.List(ctx, &deps, client.InNamespace("default")); err != nil {
			return 0, err
		}
		err := c.Client.List(ctx, &pods, client.InNamespace("default"))
		return len(deps.Items) + len(pods.Items), err
	})
}

func waitGone(ctx context.Context, t *testing.T, c *Cluster, what string, count func() (int, error)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := count()
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			var pods corev1.PodList
			_ = c.Client.List(ctx, &pods, client.InNamespace("default"))
			t.Fatalf("%s: %d objects left a minute later (%v); pods %s; kube-controller-manager log in %s",
				what, n, err, podStates(pods.Items), c.LogPath("kube-controller-manager"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
