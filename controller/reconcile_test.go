package controller

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/applier"
	"github.com/konsumerator/konsumerator/internal/builder"
)

// sampleConsumer is 10 partitions, 3 per instance (c-0..c-3), sized by Prometheus within a policy.
func sampleConsumer(ns string) *builder.ConsumerWrapper {
	return builder.Consumer("c").Namespace(ns).Partitions(10).PerInstance(3).
		Prometheus(1000, "100M").
		Policy("busybox", builder.Resources("cpu=100m,memory=100M"), builder.Resources("cpu=2,memory=1G"))
}

func keyOf(c *konsumeratorv1.Consumer) types.NamespacedName { return client.ObjectKeyFromObject(c) }

// partitionsCovered checks that the partitions of the live instances cover [0, n): no partition without a
// consumer, whatever pass the operator is in.
func partitionsCovered(t *testing.T, ns string, n int) {
	t.Helper()
	covered := map[int]bool{}
	for _, d := range deployments(t, ns) {
		for _, p := range strings.Split(d.Annotations[konsumeratorv1.AnnotationPartition], ",") {
			if v, err := strconv.Atoi(p); err == nil {
				covered[v] = true
			}
		}
	}
	for p := 0; p < n; p++ {
		if !covered[p] {
			for _, d := range values(deployments(t, ns)) {
				t.Logf("%s partitions=%s env=%s", d.Name, d.Annotations[konsumeratorv1.AnnotationPartition], env0(d, "busybox", konsumeratorv1.DefaultPartitionEnvKey))
			}
		}
		require.True(t, covered[p], "partition %d has no consumer", p)
	}
}

func TestCreateInstancesThenSteadyStateWritesNothing(t *testing.T) {
	ns := namespace(t, "create")
	c := create(t, sampleConsumer(ns).Obj())
	r := newTestReconciler(t, nil)

	writes := pass(t, r, keyOf(c))
	assert.Len(t, writes, 5, "4 creates and 1 status write: %v", writes)
	ds := deployments(t, ns)
	require.Len(t, ds, 4)
	want := map[string]string{"c-0": "0,1,2", "c-1": "3,4,5", "c-2": "6,7", "c-3": "8,9"}
	for name, partitions := range want {
		d := ds[name]
		assert.Equal(t, partitions, env0(d, "busybox", konsumeratorv1.DefaultPartitionEnvKey), name)
		assert.Equal(t, "10", env0(d, "busybox", konsumeratorv1.EnvNumPartitions))
		assert.Equal(t, "4", env0(d, "busybox", konsumeratorv1.EnvNumInstances))
		assert.Equal(t, strings.TrimPrefix(name, "c-"), env0(d, "busybox", konsumeratorv1.EnvInstance))
		assert.Equal(t, "test-value", env0(d, "busybox", "TEST_KEY"), "the template's own env is kept")
		ref := metav1.GetControllerOf(&d)
		require.NotNil(t, ref, name)
		assert.Equal(t, c.UID, ref.UID)
		assert.Equal(t, name, d.Spec.Template.Labels[konsumeratorv1.LabelInstance], "pods of one instance are selectable")
		res := container(d, "busybox").Resources
		assert.True(t, res.Requests.Cpu().Cmp(resourceQ("100m")) >= 0, "cpu request within policy: %v", res.Requests)
		limit := res.Limits[corev1.ResourceCPU]
		assert.True(t, limit.Cmp(resourceQ("2")) <= 0, "cpu limit within policy: %v", res.Limits)
	}
	got := consumer(t, keyOf(c))
	assert.Equal(t, int32(4), i32(got.Status.Expected))
	assert.Equal(t, int32(0), i32(got.Status.Missing))
	assert.Equal(t, got.Generation, *got.Status.ObservedGeneration)
	assert.Contains(t, eventReasons(t, ns), "Normal/InstancesCreated: created 4 instance(s): c-0, c-1, c-2, c-3")

	// The first pass's status is already what the next pass computes: one status write per new Consumer.
	assert.Empty(t, pass(t, r, keyOf(c)), "the pass after the creates")
	// The zero-write proof: the world is as planned, so one more pass sends no write request at all.
	assert.Empty(t, pass(t, r, keyOf(c)))
	assert.Empty(t, pass(t, r, keyOf(c)))
}

func TestTemplateChangeIsRolledOutGradually(t *testing.T) {
	ns := namespace(t, "rollout")
	c := create(t, sampleConsumer(ns).Obj())
	r := newTestReconciler(t, nil)
	converge(t, r, keyOf(c), nil)

	update(t, keyOf(c), func(c *konsumeratorv1.Consumer) {
		c.Spec.DeploymentTemplate.Template.Spec.Containers[0].Image = "busybox:1.37"
	})
	pass(t, r, keyOf(c))
	got := consumer(t, keyOf(c))
	assert.Positive(t, i32(got.Status.Outdated), "instances waiting for the rollout budget are outdated")
	updated := 0
	for _, d := range deployments(t, ns) {
		if container(d, "busybox").Image == "busybox:1.37" {
			updated++
		}
	}
	assert.Less(t, updated, 4, "not every instance restarts at once")

	converge(t, r, keyOf(c), nil)
	for name, d := range deployments(t, ns) {
		assert.Equal(t, "busybox:1.37", container(d, "busybox").Image, name)
	}
	assert.Equal(t, int32(0), i32(consumer(t, keyOf(c)).Status.Outdated))
}

func TestRepartitionLeavesNoPartitionWithoutConsumer(t *testing.T) {
	ns := namespace(t, "repartition")
	c := create(t, sampleConsumer(ns).Obj())
	r := newTestReconciler(t, nil)
	converge(t, r, keyOf(c), nil)

	steps := []struct {
		partitions, perInstance int32
		instances               int
	}{
		{16, 3, 6}, // more partitions: new instances c-4, c-5
		{16, 8, 2}, // more per instance: c-2..c-5 go once c-0 and c-1 hold their partitions
		{6, 8, 1},  // fewer partitions
		{12, 2, 6}, // and back up
	}
	for _, step := range steps {
		update(t, keyOf(c), func(c *konsumeratorv1.Consumer) {
			c.Spec.NumPartitions = step.partitions
			c.Spec.NumPartitionsPerInstance = &step.perInstance
		})
		converge(t, r, keyOf(c), func(int) { partitionsCovered(t, ns, int(step.partitions)) })
		ds := deployments(t, ns)
		assert.Len(t, ds, step.instances, "partitions=%d perInstance=%d", step.partitions, step.perInstance)
		partitionsCovered(t, ns, int(step.partitions))
		for _, d := range ds {
			assert.Equal(t, strconv.Itoa(int(step.partitions)), env0(d, "busybox", konsumeratorv1.EnvNumPartitions))
		}
	}
}

func TestReplicasZeroStopsEveryInstance(t *testing.T) {
	ns := namespace(t, "stop")
	c := create(t, sampleConsumer(ns).Obj())
	r := newTestReconciler(t, nil)
	converge(t, r, keyOf(c), nil)

	update(t, keyOf(c), func(c *konsumeratorv1.Consumer) { c.Spec.DeploymentTemplate.Replicas = new(int32) })
	writes := pass(t, r, keyOf(c))
	assert.Len(t, writes, 5, "all 4 instances stop in one pass (no restart budget for replicas), plus status: %v", writes)
	for name, d := range deployments(t, ns) {
		assert.Equal(t, int32(0), *d.Spec.Replicas, name)
	}
	assert.Equal(t, int32(4), i32(consumer(t, keyOf(c)).Status.Paused))
}

// lagging makes every partition of c critically late: its instances want their maximum at once.
func lagging(ns string) {
	s := builder.Sample(time.Now().UTC().Truncate(time.Second)).Uniform(10, 100, 100, 100*3600*2).Obj()
	samples.set(ns, "c", s)
}

func TestDisableAutoscalerFreezesResources(t *testing.T) {
	ns := namespace(t, "frozen")
	c := create(t, sampleConsumer(ns).Annotation(konsumeratorv1.AnnotationDisableAutoscaler, "true").Obj())
	r := newTestReconciler(t, nil)
	converge(t, r, keyOf(c), nil)
	before := map[string]string{}
	for name, d := range deployments(t, ns) {
		before[name] = cpuLimit(d)
	}

	lagging(ns)
	converge(t, r, keyOf(c), nil)
	for name, d := range deployments(t, ns) {
		assert.Equal(t, before[name], cpuLimit(d), "%s is frozen with its Consumer", name)
	}

	// Freeze one instance only, then let the Consumer go: the others get their maximum, c-0 keeps its size.
	d0 := deployments(t, ns)["c-0"]
	d0.Annotations[konsumeratorv1.AnnotationDisableAutoscaler] = "true"
	require.NoError(t, env.Client.Update(context.Background(), &d0))
	update(t, keyOf(c), func(c *konsumeratorv1.Consumer) { delete(c.Annotations, konsumeratorv1.AnnotationDisableAutoscaler) })
	converge(t, r, keyOf(c), nil)
	for name, d := range deployments(t, ns) {
		limit := cpuLimit(d)
		if name == "c-0" {
			assert.Equal(t, before[name], limit, "c-0 is frozen on its own")
		} else {
			assert.Equal(t, "2", limit, "%s lags critically and gets its maximum", name)
		}
	}
	samples.set(ns, "c", nil)
}

func TestForeignDeploymentIsLeftAloneAndReported(t *testing.T) {
	ns := namespace(t, "foreign")
	foreign := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "c-1", Namespace: ns, Labels: map[string]string{"team": "other"}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "other"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "other", Image: "nginx"}}},
			},
		},
	}
	require.NoError(t, env.Client.Create(context.Background(), foreign))
	c := create(t, sampleConsumer(ns).Obj())
	r := newTestReconciler(t, nil)
	converge(t, r, keyOf(c), nil)

	ds := deployments(t, ns)
	assert.Len(t, ds, 4)
	assert.Equal(t, foreign.ResourceVersion, ds["c-1"].ResourceVersion, "the foreign Deployment is never written")
	assert.Nil(t, metav1.GetControllerOf(ptr(ds["c-1"])))
	got := consumer(t, keyOf(c))
	assert.Equal(t, int32(1), i32(got.Status.Missing))
	ready := condition(got, konsumeratorv1.ConditionReady)
	require.NotNil(t, ready)
	assert.Equal(t, metav1.ConditionFalse, ready.Status)
	assert.Contains(t, ready.Message, "c-1")
}

func ptr[T any](v T) *T { return &v }

// otherManagerScales takes spec.replicas of c-0, the way kubectl scale or an HPA would.
func otherManagerScales(t *testing.T, ns string, replicas int32) {
	t.Helper()
	patch := appsv1ac.Deployment("c-0", ns).WithSpec(appsv1ac.DeploymentSpec().WithReplicas(replicas))
	require.NoError(t, env.Client.Apply(context.Background(), patch, client.FieldOwner("kubectl-scale"), client.ForceOwnership))
}

func TestConflictForceRestoresTheField(t *testing.T) {
	ns := namespace(t, "force")
	c := create(t, sampleConsumer(ns).Obj())
	r := newTestReconciler(t, nil)
	converge(t, r, keyOf(c), nil)

	otherManagerScales(t, ns, 3)
	converge(t, r, keyOf(c), nil)
	assert.Equal(t, int32(1), *deployments(t, ns)["c-0"].Spec.Replicas, "the Consumer is the source of truth")
	got := consumer(t, keyOf(c))
	cond := condition(got, konsumeratorv1.ConditionConflicts)
	require.NotNil(t, cond)
	assert.Equal(t, "ConflictsForced", cond.Reason)
	assert.Contains(t, cond.Message, `"kubectl-scale" owns `+ns+"/c-0 .spec.replicas")
	assert.Contains(t, strings.Join(eventReasons(t, ns), "\n"), "Warning/FieldConflict")
}

func TestConflictRespectKeepsTheField(t *testing.T) {
	ns := namespace(t, "respect")
	c := create(t, sampleConsumer(ns).Obj())
	r := newTestReconciler(t, func(cfg *Config) { cfg.ConflictPolicy = applier.ConflictRespect })
	converge(t, r, keyOf(c), nil)

	otherManagerScales(t, ns, 3)
	converge(t, r, keyOf(c), nil)
	d := deployments(t, ns)["c-0"]
	assert.Equal(t, int32(3), *d.Spec.Replicas, "the other manager keeps the field")
	assert.Equal(t, ".spec.replicas", d.Annotations[konsumeratorv1.AnnotationYieldedFields])
	cond := condition(consumer(t, keyOf(c)), konsumeratorv1.ConditionConflicts)
	require.NotNil(t, cond)
	assert.Equal(t, "ConflictsRespected", cond.Reason)
	assert.Empty(t, pass(t, r, keyOf(c)), "a respected field is not a reason to write again")
}

func TestDeletedInstanceIsRecreated(t *testing.T) {
	ns := namespace(t, "recreate")
	c := create(t, sampleConsumer(ns).Obj())
	r := newTestReconciler(t, nil)
	converge(t, r, keyOf(c), nil)
	old := deployments(t, ns)["c-2"]
	require.NoError(t, env.Client.Delete(context.Background(), &old))

	converge(t, r, keyOf(c), nil)
	ds := deployments(t, ns)
	require.Contains(t, ds, "c-2")
	assert.NotEqual(t, old.UID, ds["c-2"].UID)
	assert.Equal(t, "6,7", env0(ds["c-2"], "busybox", konsumeratorv1.DefaultPartitionEnvKey))
}

func TestDryRunWritesNothing(t *testing.T) {
	ns := namespace(t, "dryrun")
	c := create(t, sampleConsumer(ns).Obj())
	r := newTestReconciler(t, func(cfg *Config) { cfg.DryRun = true })
	assert.Empty(t, pass(t, r, keyOf(c)))
	assert.Empty(t, deployments(t, ns))
	assert.Nil(t, consumer(t, keyOf(c)).Status.Expected, "not even the status is written")
}

func TestNamespaceMismatchIsReportedAndChangesNothing(t *testing.T) {
	ns := namespace(t, "mismatch")
	c := create(t, sampleConsumer(ns).Obj())
	r := newTestReconciler(t, nil)
	converge(t, r, keyOf(c), nil)
	before := versions(values(deployments(t, ns)))

	update(t, keyOf(c), func(c *konsumeratorv1.Consumer) {
		c.Spec.NumPartitions = 20
		c.Spec.Namespace = "elsewhere"
	})
	writes := pass(t, r, keyOf(c))
	assert.Len(t, writes, 1, "only the status is written: %v", writes)
	assert.Equal(t, before, versions(values(deployments(t, ns))), "running instances are left as they are")
	ready := condition(consumer(t, keyOf(c)), konsumeratorv1.ConditionReady)
	require.NotNil(t, ready)
	assert.Equal(t, metav1.ConditionFalse, ready.Status)
	assert.Equal(t, "NamespaceMismatch", ready.Reason)
	assert.Contains(t, ready.Message, "elsewhere")
	assert.Empty(t, pass(t, r, keyOf(c)), "the report itself is stable")
}

func values(m map[string]appsv1.Deployment) []appsv1.Deployment {
	out := make([]appsv1.Deployment, 0, len(m))
	for _, d := range m {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// cpuLimit is the busybox container's decided CPU limit: in updateMode InPlace the one recorded in the resources
// annotation (running pods are resized to it, the template keeps the start size), else the template's.
func cpuLimit(d appsv1.Deployment) string {
	if v, ok := d.Annotations[konsumeratorv1.AnnotationResources]; ok {
		var decided map[string]corev1.ResourceRequirements
		if err := json.Unmarshal([]byte(v), &decided); err == nil {
			q := decided["busybox"].Limits[corev1.ResourceCPU]
			return q.String()
		}
	}
	q := container(d, "busybox").Resources.Limits[corev1.ResourceCPU]
	return q.String()
}
