package planner_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/planner"
)

// settled is steady(orders()) whose status is the one the planner computes for it, as after a status write.
func settled(t *testing.T, c *builder.ConsumerWrapper) *model.Snapshot {
	s := steady(t, c)
	s.Status = planner.Plan(s).Status
	return s
}

func TestRunningCountsInstancesBeingRolledOut(t *testing.T) {
	s := settled(t, orders())
	s = withSpec(s, orders().Image("busybox:1.37").Obj())
	s.Options.MaxRolloutsInFlight = 1
	p := planner.Plan(s)
	require.Equal(t, 1, p.Count(model.ActionUpdate))
	assert.Equal(t, int32(4), *p.Status.Running, "old pods are up and consuming while they wait or restart")
	assert.Equal(t, int32(4), *p.Status.Outdated, "none of them runs the new template yet")
	c := meta.FindStatusCondition(p.Status.Conditions, konsumeratorv1.ConditionRolloutComplete)
	require.NotNil(t, c)
	assert.Equal(t, metav1.ConditionFalse, c.Status)
	assert.Equal(t, konsumeratorv1.ReasonRollingOut, c.Reason)
	assert.Equal(t, "0 of 4 instances on the current template, 1 restarting, 3 held by the rollout budget", c.Message)

	// Once every instance has rolled out, the condition turns True.
	for !func() bool { p = planner.Plan(s); return !p.Changed() }() {
		s = available(planner.Apply(s, p))
	}
	c = meta.FindStatusCondition(p.Status.Conditions, konsumeratorv1.ConditionRolloutComplete)
	require.NotNil(t, c)
	assert.Equal(t, metav1.ConditionTrue, c.Status, c.Message)
	assert.Equal(t, int32(0), *p.Status.Outdated)
}

func TestPausedCountsFrozenInstances(t *testing.T) {
	s := settled(t, orders())
	s = edit(s, "orders-1", func(w *builder.DeploymentWrapper) *builder.DeploymentWrapper {
		return w.Annotation(konsumeratorv1.AnnotationDisableAutoscaler, "")
	})
	p := planner.Plan(s)
	assert.Equal(t, int32(1), *p.Status.Paused, "an instance frozen on its own")
	assert.Nil(t, meta.FindStatusCondition(p.Status.Conditions, konsumeratorv1.ConditionAutoscalerFrozen))

	s.Owner.Annotations = map[string]string{konsumeratorv1.AnnotationDisableAutoscaler: "true"}
	p = planner.Plan(s)
	assert.Equal(t, int32(4), *p.Status.Paused, "the whole Consumer frozen")
	assert.Equal(t, int32(4), *p.Status.Running, "frozen instances still consume")
	c := meta.FindStatusCondition(p.Status.Conditions, konsumeratorv1.ConditionAutoscalerFrozen)
	require.NotNil(t, c)
	assert.Equal(t, metav1.ConditionTrue, c.Status)
	assert.Equal(t, konsumeratorv1.ReasonDisabledByAnnotation, c.Reason)
}

func TestLaggingIsKeptWhileMetricsAreUnknown(t *testing.T) {
	s := settled(t, orders().Lags(10*time.Second, time.Hour, 0))
	s.Status.Lagging = ptrTo(int32(3))
	synced := s.Status.LastSyncTime.DeepCopy()
	require.NotNil(t, synced)
	for name, m := range map[string]*model.MetricsSample{
		"fetch failed": {Time: s.Metrics.Time, Error: "connection refused"},
		"stale":        s.Metrics,
		"none":         nil,
	} {
		t.Run(name, func(t *testing.T) {
			p := planner.Plan(later(s, time.Hour, m))
			require.NotNil(t, p.Status.Lagging)
			assert.Equal(t, int32(3), *p.Status.Lagging, "unknown lag is not 'not lagging'")
			assert.Equal(t, synced, p.Status.LastSyncTime, "the figures still come from that sample")
			c := meta.FindStatusCondition(p.Status.Conditions, konsumeratorv1.ConditionMetricsAvailable)
			require.NotNil(t, c)
			assert.Contains(t, c.Message, "LAGGING keeps its count from the sample read at "+synced.UTC().Format(time.RFC3339))
		})
	}
}

func TestNewerSampleWithTheSameFiguresChangesNoStatus(t *testing.T) {
	s := settled(t, orders().Lags(10*time.Second, time.Hour, 0))
	for i := 1; i <= 5; i++ {
		next := later(s, time.Duration(i)*time.Minute,
			builder.Sample(s.Now.Add(time.Duration(i)*time.Minute-5*time.Second)).Uniform(4, 800, 800, 0).Obj())
		p := planner.Plan(next)
		require.False(t, p.Changed())
		assert.True(t, equality.Semantic.DeepEqual(s.Status, p.Status), "pass %d: only the sample time moved, the status is the same", i)
	}
	// A change of the figures does move lastSyncTime, to the time of the sample they come from.
	at := s.Now.Add(2*time.Minute - 5*time.Second)
	p := planner.Plan(later(s, 2*time.Minute, builder.Sample(at).Uniform(4, 800, 800, 0).Partition(0, 800, 800, 800*3600).Obj()))
	require.NotNil(t, p.Status.LastSyncTime)
	assert.Equal(t, int32(1), *p.Status.Lagging)
	assert.True(t, p.Status.LastSyncTime.Time.Equal(at), "lastSyncTime %v, sample %v", p.Status.LastSyncTime, at)
}

func ptrTo[T any](v T) *T { return &v }

func TestResizeActionCarriesItsNumbers(t *testing.T) {
	s := steady(t, orders().Lags(10*time.Second, time.Hour, 10*time.Minute))
	p := planner.Plan(later(s, 0, builder.Sample(s.Now.Add(-5*time.Second)).Uniform(4, 800, 800, 0).
		Partition(0, 800, 800, 800*7200).Obj()))
	a := p.Actions[0]
	require.Equal(t, model.ActionUpdate, a.Kind, a.Reason)
	assert.True(t, a.Restart)
	assert.Equal(t, []model.ResourceChange{
		{Container: "busybox", Resource: "cpu", From: "800m", To: "4"},
		{Container: "busybox", Resource: "memory", From: "1Gi", To: "4Gi"},
	}, a.Resources)
	assert.Equal(t, "lag 2h0m0s above criticalLag 1h0m0s, load needs 10400m cpu", a.Load)

	// A scale-up that must wait writes its pending state only: no restart, no resources.
	p = planner.Plan(later(s, 0, builder.Sample(s.Now.Add(-5*time.Second)).Uniform(4, 800, 800, 0).
		Partition(0, 1600, 1600, 1600*20).Obj()))
	a = p.Actions[0]
	require.Equal(t, model.ActionUpdate, a.Kind, a.Reason)
	assert.False(t, a.Restart)
	assert.True(t, a.Pending)
	assert.Empty(t, a.Resources)
	assert.Equal(t, "lag 20s above tolerableLag 10s, load needs 1700m cpu", a.Load)
}

func TestPolicyForUnknownContainerIsAcceptedAndReported(t *testing.T) {
	s := steady(t, orders().Policy("sidecr", res("cpu=100m"), res("cpu=1")))
	p := planner.Plan(s)
	assert.False(t, p.Changed(), "the manifest keeps working")
	c := meta.FindStatusCondition(p.Status.Conditions, konsumeratorv1.ConditionSpecWarnings)
	require.NotNil(t, c)
	assert.Equal(t, metav1.ConditionTrue, c.Status)
	assert.Equal(t, konsumeratorv1.ReasonPolicyUnknownContainer, c.Reason)
	assert.Contains(t, c.Message, "sidecr")
	assert.Nil(t, meta.FindStatusCondition(planner.Plan(steady(t, orders())).Status.Conditions, konsumeratorv1.ConditionSpecWarnings))
}

// TestGuestModeNewerSampleChangesNoAnnotation: a guest-mode owner keeps its status in annotations, which hold
// less than a Consumer status; a newer sample with the same figures changes none of them.
func TestGuestModeNewerSampleChangesNoAnnotation(t *testing.T) {
	s := steady(t, orders())
	s.Owner.Kind = model.OwnerConfigMap
	s.Status = model.StatusFromAnnotations(model.StatusAnnotations(planner.Plan(s).Status))
	require.NotNil(t, s.Status.LastSyncTime, "lastSyncTime is read back")
	next := later(s, time.Minute, builder.Sample(s.Now.Add(time.Minute-5*time.Second)).Uniform(4, 800, 800, 0).Obj())
	assert.Equal(t, model.StatusAnnotations(s.Status), model.StatusAnnotations(planner.Plan(next).Status))
}
