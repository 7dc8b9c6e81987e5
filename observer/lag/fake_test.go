package lag

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// The fake below stands in for Prometheus only where a real one cannot be made to misbehave on cue: crafted
// result types, broken bodies, HTTP errors, slowness, auth checks. Everything else runs against the real server.

// quietLog keeps the handshake failures the TLS tests provoke on purpose out of the test output.
var quietLog = log.New(io.Discard, "", 0)

// reply is what the fake answers to one query.
type reply struct {
	status int
	body   string
	delay  time.Duration
}

// fakeProm answers /api/v1/query by the query text; a query it does not know gets an empty vector.
type fakeProm struct {
	*httptest.Server

	mu       sync.Mutex
	replies  map[string]reply
	requests atomic.Int64
	inFlight atomic.Int64
	maxSeen  atomic.Int64
	gate     chan struct{} // when set, every request waits for it to be closed
	auth     func(*http.Request) bool
}

func newFakeProm(t *testing.T, replies map[string]reply) *fakeProm {
	t.Helper()
	f := &fakeProm{replies: replies}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.Config.ErrorLog = quietLog
	f.Start()
	t.Cleanup(f.Close)
	return f
}

func newFakePromTLS(t *testing.T, replies map[string]reply, auth func(*http.Request) bool) *fakeProm {
	t.Helper()
	f := &fakeProm{replies: replies, auth: auth}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.Config.ErrorLog = quietLog
	f.StartTLS()
	t.Cleanup(f.Close)
	return f
}

func (f *fakeProm) setReply(query string, r reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies[query] = r
}

func (f *fakeProm) serve(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		seen := f.maxSeen.Load()
		if n <= seen || f.maxSeen.CompareAndSwap(seen, n) {
			break
		}
	}
	if f.auth != nil && !f.auth(r) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte("Unauthorized\n"))
		return
	}
	if r.URL.Path != "/api/v1/query" {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	rep, ok := f.replies[r.FormValue("query")]
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if !ok {
		rep = reply{body: vectorJSON()}
	}
	if rep.delay > 0 {
		select {
		case <-time.After(rep.delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if rep.status != 0 {
		w.WriteHeader(rep.status)
	}
	_, _ = w.Write([]byte(rep.body))
}

// series is one element of a crafted vector: its labels and its value as Prometheus writes it ("NaN", "+Inf").
type series struct {
	labels map[string]string
	value  string
}

func vectorJSON(ss ...series) string {
	items := make([]string, len(ss))
	for i, s := range ss {
		labels := make([]string, 0, len(s.labels))
		for k, v := range s.labels {
			labels = append(labels, fmt.Sprintf("%q:%q", k, v))
		}
		items[i] = fmt.Sprintf(`{"metric":{%s},"value":[1700000000,%q]}`, strings.Join(labels, ","), s.value)
	}
	return `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(items, ",") + `]}}`
}

func part(p string, value string) series {
	return series{labels: map[string]string{"partition": p}, value: value}
}

// fakeClock is a settable clock, so no test sleeps through minSyncPeriod.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Queries used against fakes: distinct texts so that each kind can be given its own reply.
const (
	fakeOffsetQuery      = "lag"
	fakeProductionQuery  = "produced"
	fakeConsumptionQuery = "consumed"
)

func fakeSpec(addresses ...string) *konsumeratorv1.PrometheusAutoscalerSpec {
	return &konsumeratorv1.PrometheusAutoscalerSpec{
		Address:       addresses,
		MinSyncPeriod: &metav1.Duration{Duration: time.Minute},
		Offset:        konsumeratorv1.PrometheusQuery{Query: fakeOffsetQuery, PartitionLabel: "partition"},
		Production:    konsumeratorv1.PrometheusQuery{Query: fakeProductionQuery, PartitionLabel: "partition"},
		Consumption:   konsumeratorv1.PrometheusQuery{Query: fakeConsumptionQuery, PartitionLabel: "partition"},
	}
}

type testCache struct {
	*Cache
	clock    *fakeClock
	registry *prometheus.Registry
}

func newTestCache(t *testing.T, mutate func(*Options)) testCache {
	t.Helper()
	clock := newFakeClock()
	registry := prometheus.NewRegistry()
	opts := Options{Registerer: registry, Clock: clock.Now, RequestTimeout: 2 * time.Second}
	if mutate != nil {
		mutate(&opts)
	}
	c, err := NewCache(opts)
	if err != nil {
		t.Fatalf("NewCache: %v", err)
	}
	return testCache{Cache: c, clock: clock, registry: registry}
}

var testKey = Key{Namespace: "team-a", Name: "orders", UID: "uid-1"}

func (tc testCache) sample(t *testing.T, spec *konsumeratorv1.PrometheusAutoscalerSpec, partitions int32) *model.MetricsSample {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return tc.Sample(ctx, testKey, spec, partitions)
}

func f64(v float64) *float64 { return &v }
