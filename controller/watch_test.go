package controller

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/planner"
)

// An operator restricted to a label selector (one shard of several) reconciles the Consumers it selects and
// leaves the others alone: it creates no instance for them, writes no status, and does not touch an instance
// of theirs even when that instance changes (its event names an owner outside the shard).
func TestWatchSelectorLeavesOtherShardsAlone(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "sharded")
	shard := func(name, value string) *konsumeratorv1.Consumer {
		c := builder.Consumer(name).Namespace(ns).Partitions(10).PerInstance(3).Obj()
		c.Labels = map[string]string{"konsumerator.lwolf.org/shard": value}
		return create(t, c)
	}
	out := shard("out", "b")
	// An instance of the other shard's Consumer, not as its plan would have it (another image).
	strayed := builder.Deployment("out-0").Namespace(ns).ControlledByConsumer(out).
		Label(konsumeratorv1.LabelConsumer, "out").Image("busybox", "other:1").Obj()
	strayed.ResourceVersion = ""
	require.NoError(t, env.Client.Create(ctx, strayed))

	sel, err := labels.Parse("konsumerator.lwolf.org/shard=a")
	require.NoError(t, err)
	cacheOpts := Watch{Selector: sel, Namespaces: []string{ns}}.Restrict(CacheOptions())
	m, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: env.Scheme, Cache: cacheOpts,
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		// Other tests run a manager with a controller of the same name in this process.
		Controller: config.Controller{SkipNameValidation: ptr(true)},
	})
	require.NoError(t, err)
	// One worker: events are handled in the order they come, so once a later change of "in" is carried out,
	// the earlier change of the other shard's instance has been looked at too.
	r, err := Setup(m, Config{Planner: planner.Plan, Metrics: samples, Registry: prometheus.NewRegistry(),
		ApplyWorkers: 4, MaxConcurrentReconciles: 1, SyncPeriod: time.Hour})
	require.NoError(t, err)
	panics = append(panics, r.Metrics)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = m.Start(runCtx) }()

	in := shard("in", "a")
	eventually(t, "the selected Consumer's 4 instances", func() (bool, string) {
		got := consumer(t, keyOf(in))
		return i32(got.Status.Expected) == 4 && i32(got.Status.Missing) == 0, statusLine(got)
	})

	// The other shard's instance changes; then the selected Consumer grows by one instance.
	var touched appsv1.Deployment
	require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(strayed), &touched))
	touched.Annotations = map[string]string{"touched": "yes"}
	require.NoError(t, env.Client.Update(ctx, &touched))
	update(t, keyOf(in), func(c *konsumeratorv1.Consumer) { c.Spec.NumPartitions = 13 })
	eventually(t, "the selected Consumer's 5th instance", func() (bool, string) {
		_, ok := deployments(t, ns)["in-4"]
		return ok, "in-4 present: " + boolString(ok)
	})

	var after appsv1.Deployment
	require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(strayed), &after))
	assert.Equal(t, touched.ResourceVersion, after.ResourceVersion, "the other shard's instance was written")
	assert.Equal(t, "other:1", after.Spec.Template.Spec.Containers[0].Image)
	for name := range deployments(t, ns) {
		assert.NotContains(t, []string{"out-1", "out-2", "out-3"}, name, "an instance was made for the other shard")
	}
	other := consumer(t, keyOf(out))
	assert.Nil(t, other.Status.Expected, "the other shard's Consumer got a status: %s", statusLine(other))
}
