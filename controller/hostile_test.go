package controller

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/observer"
	"github.com/konsumerator/konsumerator/observer/lag"
	"github.com/konsumerator/konsumerator/planner"
)

// Every server here listens on loopback; the link-local Consumer is refused before any connection is made.

// healthyProm answers every query with one series per partition, the way a working Prometheus does.
func healthyProm(t *testing.T, partitions int, wantToken string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var served atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wantToken != "" && r.Header.Get("Authorization") != "Bearer "+wantToken {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		served.Add(1)
		items := make([]string, partitions)
		for p := range partitions {
			items[p] = fmt.Sprintf(`{"metric":{"partition":"%d"},"value":[1700000000,"10"]}`, p)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[%s]}}`, strings.Join(items, ","))
	}))
	t.Cleanup(s.Close)
	return s, &served
}

// TestHostileMetricsSourcesHurtNoOtherConsumer runs a whole manager with the real metrics cache. Three
// Consumers point at hostile addresses (an endless answer, a slow drip, the cloud metadata address); each gets
// a clear MetricsAvailable condition, and a fourth Consumer on a healthy source keeps its fresh metrics and is
// resized while they misbehave.
func TestHostileMetricsSourcesHurtNoOtherConsumer(t *testing.T) {
	ns := namespace(t, "hostile")
	endless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[`))
		chunk := []byte(strings.Repeat(`{"metric":{"partition":"1"},"value":[1,"1"]},`, 1000))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(endless.Close)
	drip := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for {
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(100 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(drip.Close)
	healthy, served := healthyProm(t, 10, "")

	cacheOpts := CacheOptions()
	cacheOpts.DefaultNamespaces = map[string]cache.Config{ns: {}}
	m, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: env.Scheme, Cache: cacheOpts,
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		// TestWatchDriven registers a controller of the same name in this process.
		Controller: config.Controller{SkipNameValidation: ptr(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	samples, err := lag.NewCache(lag.Options{Registerer: reg, RequestTimeout: 2 * time.Second,
		Secrets: observer.SecretKeys{Reader: m.GetAPIReader()}})
	if err != nil {
		t.Fatal(err)
	}
	source := observer.Samples{Sources: lag.Readers{samples}, Usable: planner.Usable}
	r, err := Setup(m, Config{Planner: planner.Plan, Metrics: source, Samples: source, Registry: reg,
		ApplyWorkers: 4, SyncPeriod: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	panics = append(panics, r.Metrics)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = m.Start(ctx) }()

	mk := func(name, address string) *konsumeratorv1.Consumer {
		c := sampleConsumer(ns).Obj()
		c.Name, c.Spec.Name = name, name
		c.Spec.Autoscaler.Prometheus.Address = []string{address}
		c.Spec.Autoscaler.Prometheus.MinSyncPeriod = &metav1.Duration{Duration: time.Second}
		return create(t, c)
	}
	hostile := map[string]string{
		mk("endless", endless.URL).Name:                   "answer larger than the operator's limit of 4 MiB",
		mk("drip", drip.URL).Name:                         "timed out",
		mk("metadata", "http://169.254.169.254:80/").Name: "address not allowed by the operator's address policy (denied: 169.254.0.0/16)",
	}
	good := mk("good", healthy.URL)

	metricsCondition := func(name string) *metav1.Condition {
		c := consumer(t, types.NamespacedName{Namespace: ns, Name: name})
		return meta.FindStatusCondition(c.Status.Conditions, konsumeratorv1.ConditionMetricsAvailable)
	}
	for name, want := range hostile {
		eventually(t, name+" to say why it has no metrics", func() (bool, string) {
			cond := metricsCondition(name)
			if cond == nil {
				return false, "no condition"
			}
			return cond.Status == metav1.ConditionFalse && strings.Contains(cond.Message, want), cond.Message
		})
	}
	eventually(t, "the healthy Consumer to have fresh metrics and 4 instances", func() (bool, string) {
		cond := metricsCondition(good.Name)
		if cond == nil {
			return false, "no condition"
		}
		return cond.Status == metav1.ConditionTrue && len(deploymentsOf(t, ns, good.Name)) == 4, cond.Message
	})

	// While the hostile sources keep being queried (minSyncPeriod 1s), the healthy Consumer still follows a
	// change at once and keeps being read.
	before := served.Load()
	update(t, keyOf(good), func(c *konsumeratorv1.Consumer) { c.Spec.NumPartitions = 13 })
	eventually(t, "the healthy Consumer to grow to 5 instances", func() (bool, string) {
		n := len(deploymentsOf(t, ns, good.Name))
		return n == 5, fmt.Sprintf("%d instances", n)
	})
	eventually(t, "the healthy source to keep being read", func() (bool, string) {
		return served.Load() >= before+6, fmt.Sprintf("%d reads since", served.Load()-before)
	})
	for name := range hostile {
		if cond := metricsCondition(name); cond == nil || len(cond.Message) > 1024 {
			t.Errorf("%s: condition %+v", name, cond)
		}
	}
}

func deploymentsOf(t *testing.T, ns, consumerName string) []string {
	t.Helper()
	var names []string
	for name, d := range deployments(t, ns) {
		if d.Labels[konsumeratorv1.LabelConsumer] == konsumeratorv1.LabelValue(consumerName) {
			names = append(names, name)
		}
	}
	return names
}

// TestOnlyTheNamedSecretKeyInTheConsumersNamespaceIsRead runs the operator's Secret reader as a user that may
// get exactly one Secret: the API server itself then proves that nothing else is read. A Consumer in another
// namespace naming a Secret of the same name gets its own namespace's (here: forbidden), never this one.
func TestOnlyTheNamedSecretKeyInTheConsumersNamespaceIsRead(t *testing.T) {
	ctx := context.Background()
	nsA, nsB := namespace(t, "secrets-a"), namespace(t, "secrets-b")
	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: "prom"}, Data: map[string][]byte{"token": []byte("a-token"), "other": []byte("x")}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: "unrelated"}, Data: map[string][]byte{"token": []byte("nope")}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: nsB, Name: "prom"}, Data: map[string][]byte{"token": []byte("b-token")}},
	} {
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: "one-secret"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"prom"}, Verbs: []string{"get"}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: "one-secret"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "one-secret"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "narrow-operator"}}}
	for _, o := range []client.Object{role, binding} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	user, err := env.Environment.AddUser(envtest.User{Name: "narrow-operator"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	narrow, err := client.New(user.Config(), client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	reads := &recordingReader{Reader: narrow}

	prom, _ := healthyProm(t, 3, "a-token")
	spec := sampleConsumer(nsA).Obj().Spec.Autoscaler.Prometheus
	spec.Address = []string{prom.URL}
	spec.BearerTokenSecret = &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "prom"}, Key: "token"}
	sample := func(secrets observer.SecretKeys, ns string) string {
		c, err := lag.NewCache(lag.Options{Registerer: prometheus.NewRegistry(), Secrets: secrets})
		if err != nil {
			t.Fatal(err)
		}
		return c.Sample(ctx, lag.Key{Namespace: ns, Name: "c", UID: types.UID(ns)}, spec, 3).Error
	}

	if got := sample(observer.SecretKeys{Reader: reads}, nsA); got != "" {
		t.Errorf("with the one Secret granted: %s", got)
	}
	if got := sample(observer.SecretKeys{Reader: reads}, nsB); !strings.Contains(got, "forbidden") {
		t.Errorf("a Consumer in %s naming Secret prom: %q, want its own namespace's Secret (forbidden to this user)", nsB, got)
	}
	if want := []string{nsA + "/prom", nsB + "/prom"}; strings.Join(reads.read(), " ") != strings.Join(want, " ") {
		t.Errorf("Secrets read: %v, want %v", reads.read(), want)
	}

	// --secret-namespaces: outside the list nothing is even asked for.
	reads = &recordingReader{Reader: narrow}
	got := sample(observer.SecretKeys{Reader: reads, Namespaces: []string{nsA}}, nsB)
	if !strings.Contains(got, "the operator does not read Secrets in namespace "+nsB) || len(reads.read()) != 0 {
		t.Errorf("outside --secret-namespaces: %q, reads %v", got, reads.read())
	}
}

type recordingReader struct {
	client.Reader
	mu    sync.Mutex
	names []string
}

func (r *recordingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	r.mu.Lock()
	r.names = append(r.names, key.String())
	r.mu.Unlock()
	return r.Reader.Get(ctx, key, obj, opts...)
}

func (r *recordingReader) read() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.names...)
}
