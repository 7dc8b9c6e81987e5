package controller

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/applier"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/planner"
)

// eventually polls cond until it holds or the deadline passes; on failure it reports what it waited for and
// what it saw last.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ok, seen := cond()
		if ok {
			return
		}
		last = seen
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("waited 30s for %s; last seen: %s", what, last)
}

// TestWatchDriven runs the whole controller in a manager: nobody calls Reconcile, the watches do.
func TestWatchDriven(t *testing.T) {
	ns := namespace(t, "watched")
	cacheOpts := CacheOptions()
	cacheOpts.DefaultNamespaces = map[string]cache.Config{ns: {}}
	m, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: env.Scheme, Cache: cacheOpts,
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
	})
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	r, err := Setup(m, Config{Planner: planner.Plan, Metrics: samples, Registry: reg, ApplyWorkers: 4, SyncPeriod: time.Hour})
	require.NoError(t, err)
	panics = append(panics, r.Metrics)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = m.Start(ctx) }()

	// Applied as kubectl apply does, with a copy of the manifest in an annotation.
	applied := sampleConsumer(ns).Obj()
	applied.Annotations = map[string]string{corev1.LastAppliedConfigAnnotation: `{"kind":"Consumer","spec":{}}`}
	c := create(t, applied)
	eventually(t, "4 instances and a truthful status", func() (bool, string) {
		got := consumer(t, keyOf(c))
		return len(deployments(t, ns)) == 4 && i32(got.Status.Expected) == 4 && i32(got.Status.Missing) == 0,
			statusLine(got)
	})
	// The cache keeps no copy of the manifest; the operator, which writes only the status, leaves it in place.
	assert.Contains(t, consumer(t, keyOf(c)).Annotations, corev1.LastAppliedConfigAnnotation)
	var cached konsumeratorv1.Consumer
	require.NoError(t, m.GetCache().Get(context.Background(), keyOf(c), &cached))
	assert.NotContains(t, cached.Annotations, corev1.LastAppliedConfigAnnotation)
	// The gauge is set after the status write of the same pass, so it is waited for too.
	eventually(t, "the expected-instances gauge", func() (bool, string) {
		v, _ := r.Metrics.Instances.value(ns, "c", "expected")
		return v == 4, strconv.FormatFloat(v, 'f', -1, 64)
	})

	old := deployments(t, ns)["c-1"]
	require.NoError(t, env.Client.Delete(context.Background(), &old))
	eventually(t, "c-1 to be recreated by the watch on owned Deployments", func() (bool, string) {
		d, ok := deployments(t, ns)["c-1"]
		return ok && d.UID != old.UID, "c-1 present: " + boolString(ok)
	})

	// The per-consumer and per-instance series go with the Consumer.
	assert.Len(t, series(t, reg), 4*3, "4 instances with a state and two requests each; no lag without a sample")
	require.NoError(t, env.Client.Delete(context.Background(), c))
	eventually(t, "the Consumer's metric series to be removed", func() (bool, string) {
		n := testutil.CollectAndCount(r.Metrics.Instances) + len(series(t, reg))
		return n == 0, strconv.Itoa(n) + " series left"
	})
}

func statusLine(c *konsumeratorv1.Consumer) string {
	s := c.Status
	return "expected=" + itoa(s.Expected) + " running=" + itoa(s.Running) + " missing=" + itoa(s.Missing) + " outdated=" + itoa(s.Outdated)
}

func itoa(p *int32) string {
	if p == nil {
		return "<nil>"
	}
	return strconv.Itoa(int(*p))
}

func boolString(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func TestPanickingPassIsRecoveredAndCounted(t *testing.T) {
	ns := namespace(t, "panic")
	c := create(t, sampleConsumer(ns).Obj())
	r, err := newReconciler(mgr, Config{
		Planner:  func(*model.Snapshot) model.Plan { panic("planner bug") },
		Registry: prometheus.NewRegistry(),
	}, applier.ConsumerStatusWriter{Client: mgr.GetClient()})
	require.NoError(t, err)
	waitForCache(t, keyOf(c))
	_, err = r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "c"}})
	require.ErrorContains(t, err, "reconcile panicked: planner bug")
	assert.Equal(t, 1.0, testutil.ToFloat64(r.Metrics.Panics))
	assert.Empty(t, deployments(t, ns), "a pass that panicked wrote nothing")
}
