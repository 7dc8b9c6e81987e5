package planner_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/planner"
)

// figure returns the plan's figures for the named instance.
func figure(t *testing.T, p model.Plan, name string) model.InstanceFigures {
	t.Helper()
	for _, f := range p.Instances {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no figures for %s in %+v", name, p.Instances)
	return model.InstanceFigures{}
}

func TestFiguresOfASteadyConsumer(t *testing.T) {
	p := planner.Plan(steady(t, orders().Lags(10*time.Second, time.Hour, 10*time.Minute)))
	require.Len(t, p.Instances, 4)
	for i, f := range p.Instances {
		assert.Equal(t, []string{"orders-0", "orders-1", "orders-2", "orders-3"}[i], f.Name, "instance order")
		assert.Equal(t, "RUNNING", f.ScalingState)
		require.NotNil(t, f.Lag)
		assert.Equal(t, 0.0, *f.Lag)
		require.NotNil(t, f.Lagging)
		assert.False(t, *f.Lagging)
		assert.Equal(t, []model.ContainerRequest{
			{Container: "busybox", Resource: "cpu", Value: 0.8},
			{Container: "busybox", Resource: "memory", Value: 1 << 30},
		}, f.Requests)
	}
}

func TestFiguresFollowTheDecision(t *testing.T) {
	s := steady(t, orders().Lags(10*time.Second, time.Hour, 10*time.Minute).PendingScaleUp(time.Minute))
	sample := builder.Sample(s.Now.Add(-5*time.Second)).Uniform(4, 800, 800, 0).
		Partition(1, 1600, 1600, 1600*20). // 20s behind: lagging, and a scale-up that must wait
		Partition(2, 800, 0, 100).         // nothing consumed: never catches up
		Obj()
	p := planner.Plan(later(s, 0, sample))

	one := figure(t, p, "orders-1")
	assert.Equal(t, "PENDING_SCALE_UP", one.ScalingState)
	assert.Equal(t, 20.0, *one.Lag)
	assert.True(t, *one.Lagging)
	assert.Equal(t, 0.8, one.Requests[0].Value, "a pending scale-up keeps the requests it has")

	two := figure(t, p, "orders-2")
	assert.True(t, math.IsInf(*two.Lag, 1), "nothing consumed: +Inf, not a huge number")
	assert.True(t, *two.Lagging)
	assert.Equal(t, "RUNNING", two.ScalingState, "critical lag scales up at once")
	assert.Equal(t, 4.0, two.Requests[0].Value, "the requests the plan sets, not the live ones")
}

func TestFiguresWithoutKnownLag(t *testing.T) {
	s := steady(t, orders().Lags(10*time.Second, time.Hour, 10*time.Minute))
	for name, m := range map[string]*model.MetricsSample{
		"no sample":    nil,
		"stale sample": builder.Sample(s.Now.Add(-time.Hour)).Uniform(4, 800, 800, 0).Obj(),
		"fetch failed": {Error: "connection refused"},
	} {
		t.Run(name, func(t *testing.T) {
			p := planner.Plan(later(s, 0, m))
			require.Len(t, p.Instances, 4, "the instances are still there")
			for _, f := range p.Instances {
				assert.Nil(t, f.Lag, "%s: unknown, not 0", f.Name)
				assert.Nil(t, f.Lagging, "%s: unknown, not false", f.Name)
				assert.Equal(t, 0.8, f.Requests[0].Value, "%s: requests kept", f.Name)
			}
		})
	}
	// A partition without data leaves the other partitions of its instance to judge it; an instance with no data
	// for any partition has no lag.
	p := planner.Plan(later(s, 0, builder.Sample(s.Now.Add(-5*time.Second)).Partition(0, 800, 800, 0).
		Partition(1, 800, 800, 800*30).Partition(2, 800, 800, 0).Obj()))
	assert.Nil(t, figure(t, p, "orders-3").Lag)
	assert.Equal(t, 30.0, *figure(t, p, "orders-1").Lag)
}

func TestFiguresNameOnlyInstancesThatExist(t *testing.T) {
	c := orders().Obj()
	foreign := builder.Deployment("orders-2").UID("someone-else").Obj()
	s := builder.Snapshot(c).Deployments(foreign).Metrics(load(4, 800, 800, 0)).Obj()
	p := planner.Plan(s)
	var names []string
	for _, f := range p.Instances {
		names = append(names, f.Name)
	}
	assert.Equal(t, []string{"orders-0", "orders-1", "orders-3"}, names, "created ones count; a name someone else holds does not")

	// Without an autoscaler nothing lags, as the status counts it, and the requests are the template's.
	plain := planner.Plan(builder.Snapshot(builder.Consumer("plain").Partitions(2).PerInstance(1).
		ContainerResources("busybox", res("cpu=250m,memory=64Mi"), res("cpu=1,memory=128Mi")).Obj()).Obj())
	require.Len(t, plain.Instances, 2)
	assert.Nil(t, plain.Instances[0].Lag)
	require.NotNil(t, plain.Instances[0].Lagging)
	assert.False(t, *plain.Instances[0].Lagging)
	assert.Equal(t, 0.25, plain.Instances[0].Requests[0].Value)

	// A spec that cannot be planned says nothing about its instances.
	bad := steady(t, orders())
	bad.Spec.NumPartitions = 0
	assert.Nil(t, planner.Plan(bad).Instances)
}
