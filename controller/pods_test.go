package controller

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/internal/scheme"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/planner"
)

// instancePod is a pod of instance, labelled as the planner labels pod templates.
func instancePod(ns, name, instance string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{
			konsumeratorv1.LabelConsumer: "c", konsumeratorv1.LabelInstance: instance}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "busybox", Image: "busybox"}}},
	}
}

// TestCacheHoldsOnlyInstancePodsTrimmed: the manager's cache holds the pods labelled as instances' pods, trimmed
// to what the planner reads; the cluster's other pods cost the operator nothing.
func TestCacheHoldsOnlyInstancePodsTrimmed(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "pod-cache")
	ours := instancePod(ns, "c-0-abc", "c-0")
	ours.Annotations = map[string]string{"big": "x"}
	unrelated := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}}
	require.NoError(t, env.Client.Create(ctx, ours))
	require.NoError(t, env.Client.Create(ctx, unrelated))

	eventually(t, "the instance's pod in the cache", func() (bool, string) {
		var list corev1.PodList
		require.NoError(t, mgr.GetClient().List(ctx, &list, client.InNamespace(ns)))
		return len(list.Items) == 1, strconv.Itoa(len(list.Items)) + " pods cached"
	})
	// Long enough for the unrelated pod to have arrived, had the cache selected it.
	time.Sleep(200 * time.Millisecond)
	var list corev1.PodList
	require.NoError(t, mgr.GetClient().List(ctx, &list, client.InNamespace(ns)))
	require.Len(t, list.Items, 1)
	cached := list.Items[0]
	assert.Equal(t, "c-0-abc", cached.Name)
	assert.Empty(t, cached.Annotations, "trimmed")
	assert.Empty(t, cached.Spec.Containers[0].Image, "trimmed")
	assert.Empty(t, cached.ManagedFields)
	var web corev1.Pod
	err := mgr.GetClient().Get(ctx, client.ObjectKeyFromObject(unrelated), &web)
	assert.Error(t, err, "an unrelated pod is not in the cache")
}

// countingPlanner counts the passes per owner: with an hour's sync period, a pass comes from a watch.
type countingPlanner struct {
	mu     sync.Mutex
	passes map[string]int
}

func (c *countingPlanner) plan(s *model.Snapshot) model.Plan {
	c.mu.Lock()
	c.passes[s.Owner.Name]++
	c.mu.Unlock()
	return planner.Plan(s)
}

func (c *countingPlanner) count(owner string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.passes[owner]
}

// TestPodChangesThatMatterWakeTheOwner runs the controller in a manager: a new pod of an instance, a restart, a
// resize condition and a deleted pod each bring a pass of the Consumer; an annotation or a readiness flip on a pod
// does not, and neither does a pod of no instance.
func TestPodChangesThatMatterWakeTheOwner(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "pod-watch")
	cacheOpts := CacheOptions()
	cacheOpts.DefaultNamespaces = map[string]cache.Config{ns: {}}
	m, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: env.Scheme, Cache: cacheOpts,
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		// Other tests register a controller of the same name in this process.
		Controller: config.Controller{SkipNameValidation: ptr(true)},
	})
	require.NoError(t, err)
	counter := &countingPlanner{passes: map[string]int{}}
	r, err := Setup(m, Config{Planner: counter.plan, Metrics: samples, Registry: prometheus.NewRegistry(), ApplyWorkers: 4, SyncPeriod: time.Hour})
	require.NoError(t, err)
	panics = append(panics, r.Metrics)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = m.Start(runCtx) }()

	c := create(t, sampleConsumer(ns).InPlace().Obj())
	eventually(t, "4 instances", func() (bool, string) {
		return len(deployments(t, ns)) == 4 && i32(consumer(t, keyOf(c)).Status.Expected) == 4, statusLine(consumer(t, keyOf(c)))
	})
	// quiet waits until no pass has come for a while, and returns the count.
	quiet := func() int {
		t.Helper()
		last := counter.count("c")
		for {
			time.Sleep(300 * time.Millisecond)
			n := counter.count("c")
			if n == last {
				return n
			}
			last = n
		}
	}
	wakes := func(what string, change func()) {
		t.Helper()
		before := quiet()
		change()
		eventually(t, what+" to bring a pass", func() (bool, string) {
			n := counter.count("c")
			return n > before, strconv.Itoa(n) + " passes"
		})
	}
	sleeps := func(what string, change func()) {
		t.Helper()
		before := quiet()
		change()
		time.Sleep(500 * time.Millisecond)
		assert.Equal(t, before, counter.count("c"), what+" brought a pass")
	}
	pods := kubernetes.NewForConfigOrDie(env.Config).CoreV1().Pods(ns)
	status := func(mutate func(*corev1.Pod)) func() {
		return func() {
			p, err := pods.Get(ctx, "c-0-abc", metav1.GetOptions{})
			require.NoError(t, err)
			mutate(p)
			_, err = pods.UpdateStatus(ctx, p, metav1.UpdateOptions{})
			require.NoError(t, err)
		}
	}

	wakes("a new pod", func() { require.NoError(t, env.Client.Create(ctx, instancePod(ns, "c-0-abc", "c-0"))) })
	wakes("the pod running", status(func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "busybox", Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	}))
	sleeps("an annotation", func() {
		p, err := pods.Get(ctx, "c-0-abc", metav1.GetOptions{})
		require.NoError(t, err)
		p.Annotations = map[string]string{"touched": "yes"}
		_, err = pods.Update(ctx, p, metav1.UpdateOptions{})
		require.NoError(t, err)
	})
	sleeps("a readiness flip", status(func(p *corev1.Pod) {
		p.Status.Conditions[0].Status = corev1.ConditionFalse
		p.Status.ContainerStatuses[0].Ready = false
	}))
	wakes("a restart", status(func(p *corev1.Pod) { p.Status.ContainerStatuses[0].RestartCount++ }))
	wakes("a resize condition", status(func(p *corev1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodResizePending,
			Status: corev1.ConditionTrue, Reason: corev1.PodReasonDeferred, LastTransitionTime: metav1.Now()})
	}))
	sleeps("a pod of no instance", func() { require.NoError(t, env.Client.Create(ctx, instancePod(ns, "x-abc", "not-an-instance"))) })
	wakes("a deleted pod", func() {
		require.NoError(t, pods.Delete(ctx, "c-0-abc", metav1.DeleteOptions{GracePeriodSeconds: ptr[int64](0)}))
	})
}

// TestPodOwnerIsTheInstancesController: a pod maps to the owner of its instance Deployment, and only for the
// controller of that owner's kind: a Consumer's controller does not wake for a guest-mode ConfigMap's pods.
func TestPodOwnerIsTheInstancesController(t *testing.T) {
	consumerOwned := builder.Deployment("c-0").Namespace("ns").ControlledByConsumer(builder.Consumer("c").Namespace("ns").Obj()).Obj()
	guestOwned := builder.Deployment("g-0").Namespace("ns").ControlledBy(model.Owner{APIVersion: "v1", Kind: model.OwnerConfigMap,
		Namespace: "ns", Name: "g", UID: "cm-uid"}).Obj()
	consumerOwned.ResourceVersion, guestOwned.ResourceVersion = "", ""
	c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(consumerOwned, guestOwned).Build()
	consumers := podOwner(c, konsumeratorv1.GroupVersion.WithKind("Consumer").GroupKind())
	guests := podOwner(c, schema.GroupKind{Kind: "ConfigMap"})
	key := func(name string) []ctrl.Request {
		return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: "ns", Name: name}}}
	}
	ctx := context.Background()
	assert.Equal(t, key("c"), consumers(ctx, instancePod("ns", "c-0-a", "c-0")))
	assert.Empty(t, guests(ctx, instancePod("ns", "c-0-a", "c-0")))
	assert.Equal(t, key("g"), guests(ctx, instancePod("ns", "g-0-a", "g-0")))
	assert.Empty(t, consumers(ctx, instancePod("ns", "g-0-a", "g-0")))
	assert.Empty(t, consumers(ctx, instancePod("ns", "x-a", "missing")), "no such instance")
	unlabelled := instancePod("ns", "c-0-b", "c-0")
	delete(unlabelled.Labels, konsumeratorv1.LabelInstance)
	assert.Empty(t, consumers(ctx, unlabelled))
}

// TestPodMattersForWhatThePlannerReads: each change the planner acts on lets an update through; churn does not.
func TestPodMattersForWhatThePlannerReads(t *testing.T) {
	base := func() *corev1.Pod {
		p := instancePod("ns", "p", "c-0")
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "rs", UID: "rs-uid", Controller: ptr(true)}}
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resourceQ("100m")}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "busybox", Ready: true,
			State:     corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			Resources: &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resourceQ("100m")}}}}
		return p
	}
	for name, tc := range map[string]struct {
		change  func(*corev1.Pod)
		matters bool
	}{
		"phase":            {func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }, true},
		"deleting":         {func(p *corev1.Pod) { p.DeletionTimestamp = ptr(metav1.Now()) }, true},
		"new controller":   {func(p *corev1.Pod) { p.OwnerReferences[0].UID = "other" }, true},
		"spec resources":   {func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resourceQ("1") }, true},
		"status resources": {func(p *corev1.Pod) { p.Status.ContainerStatuses[0].Resources = nil }, true},
		"allocated": {func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].AllocatedResources = corev1.ResourceList{corev1.ResourceCPU: resourceQ("1")}
		}, true},
		"restart": {func(p *corev1.Pod) { p.Status.ContainerStatuses[0].RestartCount = 1 }, true},
		"terminated": {func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}
		}, true},
		"last termination": {func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "OOMKilled"}
		}, true},
		"resize pending": {func(p *corev1.Pod) {
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodResizePending, Status: corev1.ConditionTrue, Reason: "Deferred"})
		}, true},
		"resize in progress": {func(p *corev1.Pod) {
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodResizeInProgress, Status: corev1.ConditionTrue})
		}, true},
		"ready": {func(p *corev1.Pod) {
			p.Status.Conditions[0].Status = corev1.ConditionFalse
			p.Status.ContainerStatuses[0].Ready = false
		}, false},
		"annotation":       {func(p *corev1.Pod) { p.Annotations = map[string]string{"a": "b"} }, false},
		"resource version": {func(p *corev1.Pod) { p.ResourceVersion = "42" }, false},
		"node":             {func(p *corev1.Pod) { p.Spec.NodeName = "n" }, false},
	} {
		n := base()
		tc.change(n)
		assert.Equal(t, tc.matters, podMatters(base(), n), name)
	}
}
