package controller

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/applier"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/internal/testenv"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/planner"
)

// The suite runs one real API server and one manager whose cache the reconcilers under test read. Tests call
// Reconcile themselves, so that each pass and its writes can be counted; TestWatchDriven runs a whole manager.
var (
	env      *testenv.Env
	mgr      ctrl.Manager
	requests *testenv.Requests
	samples  = &fakeSamples{byOwner: map[string]*model.MetricsSample{}}
	panics   []*Metrics
)

func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true), zap.Level(zapcore.Level(zapLevel()))))
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var cfg = env.Config
	cfg, requests = testenv.Counting(cfg)
	mgr, err = ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 env.Scheme,
		Cache:                  CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	code := m.Run()
	// A recovered panic is still a bug: the suite fails if any reconcile panicked.
	for _, m := range panics {
		if n := testutil.ToFloat64(m.Panics); n > 0 && code == 0 {
			fmt.Fprintf(os.Stderr, "%v reconcile(s) panicked\n", n)
			code = 1
		}
	}
	cancel()
	_ = env.Stop()
	os.Exit(code)
}

func zapLevel() int8 {
	if os.Getenv("KONSUMERATOR_TEST_VERBOSE") != "" {
		return -2
	}
	return 1 // errors only, unless asked
}

// fakeSamples stands in for the Prometheus cache (tested against a real Prometheus in observer/lag): the
// tests decide what the metrics say.
type fakeSamples struct {
	mu      sync.Mutex
	byOwner map[string]*model.MetricsSample
}

func (f *fakeSamples) Sample(_ context.Context, owner model.Owner, _ *konsumeratorv1.ConsumerSpec) *model.MetricsSample {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.byOwner[owner.Namespace+"/"+owner.Name]
	if s == nil {
		return nil
	}
	out := *s
	return &out
}

func (f *fakeSamples) set(namespace, name string, s *model.MetricsSample) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byOwner[namespace+"/"+name] = s
}

func newTestReconciler(t *testing.T, mutate func(*Config)) *Reconciler {
	t.Helper()
	cfg := Config{
		Planner:        planner.Plan,
		Metrics:        samples,
		ConflictPolicy: applier.ConflictForce,
		ApplyWorkers:   8,
		Registry:       prometheus.NewRegistry(),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	r, err := newReconciler(mgr, cfg, applier.ConsumerStatusWriter{Client: mgr.GetClient()})
	require.NoError(t, err)
	panics = append(panics, r.Metrics)
	return r
}

func namespace(t *testing.T, name string) string {
	t.Helper()
	require.NoError(t, env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}))
	return name
}

// create stores a Consumer built in memory; the API server assigns its UID and generation.
func create(t *testing.T, c *konsumeratorv1.Consumer) *konsumeratorv1.Consumer {
	t.Helper()
	c.UID, c.Generation, c.ResourceVersion = "", 0, ""
	require.NoError(t, env.Client.Create(context.Background(), c))
	return c
}

func consumer(t *testing.T, key types.NamespacedName) *konsumeratorv1.Consumer {
	t.Helper()
	var c konsumeratorv1.Consumer
	require.NoError(t, env.Client.Get(context.Background(), key, &c))
	return &c
}

func update(t *testing.T, key types.NamespacedName, mutate func(*konsumeratorv1.Consumer)) {
	t.Helper()
	// A running operator may write the status in between: retry on a conflict, as kubectl edit would.
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		c := consumer(t, key)
		mutate(c)
		return env.Client.Update(context.Background(), c)
	}))
}

// pass runs one reconcile once the cache has caught up with the API server, and returns the writes it sent.
func pass(t *testing.T, r *Reconciler, key types.NamespacedName) []string {
	t.Helper()
	waitForCache(t, key)
	requests.Reset()
	_, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key})
	require.NoError(t, err)
	return requests.Writes()
}

// converge reconciles until a pass writes nothing, and returns how many passes wrote.
func converge(t *testing.T, r *Reconciler, key types.NamespacedName, check func(pass int)) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		if writes := pass(t, r, key); len(writes) == 0 {
			return i
		}
		if check != nil {
			check(i)
		}
	}
	t.Fatalf("%s did not converge in 20 passes", key)
	return 0
}

// waitForCache waits until the manager's cache holds what the API server holds for the Consumer's namespace, so
// that a pass does not act on a world it has already changed.
func waitForCache(t *testing.T, key types.NamespacedName) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var live, cached appsv1.DeploymentList
		var liveC, cachedC konsumeratorv1.Consumer
		require.NoError(t, env.Client.List(ctx, &live, client.InNamespace(key.Namespace), client.HasLabels{konsumeratorv1.LabelConsumer}))
		require.NoError(t, mgr.GetClient().List(ctx, &cached, client.InNamespace(key.Namespace)))
		errLive := env.Client.Get(ctx, key, &liveC)
		errCached := mgr.GetClient().Get(ctx, key, &cachedC)
		if versions(live.Items) == versions(cached.Items) && (errLive != nil) == (errCached != nil) && liveC.ResourceVersion == cachedC.ResourceVersion {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cache did not catch up with the API server for %s", key)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func versions(ds []appsv1.Deployment) string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Name+"@"+d.ResourceVersion)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func deployments(t *testing.T, ns string) map[string]appsv1.Deployment {
	t.Helper()
	var list appsv1.DeploymentList
	require.NoError(t, env.Client.List(context.Background(), &list, client.InNamespace(ns)))
	out := map[string]appsv1.Deployment{}
	for _, d := range list.Items {
		if d.DeletionTimestamp.IsZero() {
			out[d.Name] = d
		}
	}
	return out
}

func env0(d appsv1.Deployment, container, name string) string {
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name != container {
			continue
		}
		for _, e := range c.Env {
			if e.Name == name {
				return e.Value
			}
		}
	}
	return ""
}

func container(d appsv1.Deployment, name string) corev1.Container {
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	return corev1.Container{}
}

func eventReasons(t *testing.T, ns string) []string {
	t.Helper()
	var list eventsv1.EventList
	require.NoError(t, env.Client.List(context.Background(), &list, client.InNamespace(ns)))
	var out []string
	for _, e := range list.Items {
		out = append(out, e.Type+"/"+e.Reason+": "+e.Note)
	}
	return out
}

func condition(c *konsumeratorv1.Consumer, kind string) *metav1.Condition {
	for i := range c.Status.Conditions {
		if c.Status.Conditions[i].Type == kind {
			return &c.Status.Conditions[i]
		}
	}
	return nil
}

func i32(p *int32) int32 {
	if p == nil {
		return -1
	}
	return *p
}

var _ = builder.Consumer

func resourceQ(s string) resource.Quantity { return resource.MustParse(s) }
