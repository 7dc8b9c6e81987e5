package lag

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// stubSpec stands for a source's block: what it reads and how often.
type stubSpec struct {
	what   string
	period time.Duration
}

// stubSource is a Source whose reads succeed or fail on demand.
type stubSource struct {
	fail      atomic.Bool
	reads     atomic.Int32
	forgotten atomic.Int32
}

func (*stubSource) Name() string { return "stub" }
func (*stubSource) Of(a *konsumeratorv1.AutoscalerSpec) (stubSpec, bool) {
	if a == nil || a.Mode != "stub" {
		return stubSpec{}, false
	}
	return stubSpec{what: "q", period: time.Minute}, true
}
func (*stubSource) Fingerprint(s stubSpec, n int32) (string, string) { return s.what, "" }
func (*stubSource) SyncPeriod(s stubSpec) time.Duration              { return s.period }
func (s *stubSource) Forget(Key)                                     { s.forgotten.Add(1) }
func (s *stubSource) Fetch(context.Context, Key, stubSpec, int32) Result {
	s.reads.Add(1)
	if s.fail.Load() {
		return Result{Failed: true, Error: "down"}
	}
	v := 1.0
	return Result{Partitions: []model.PartitionMetrics{{Partition: 0, MessagesBehind: &v}}}
}

func newStubSamples(t *testing.T) (*Samples[stubSpec], *stubSource, *fakeClock, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	shared, err := NewInstruments(reg)
	if err != nil {
		t.Fatal(err)
	}
	src, clock := &stubSource{}, newFakeClock()
	return NewSamples[stubSpec](src, shared, clock.Now), src, clock, reg
}

func TestAFailingSourceIsRetriedWithABackoff(t *testing.T) {
	c, src, clock, _ := newStubSamples(t)
	spec := stubSpec{what: "q", period: time.Minute}
	c.Sample(t.Context(), testKey, spec, 1)
	src.fail.Store(true)

	// Reads at 1m (first failure), then 1m, 2m, 4m, 5m, 5m later: the wait doubles after the first retry and
	// stops at MaxBackoff.
	var readAt []time.Duration
	start := clock.Now()
	for range 20 * 60 / 10 {
		clock.Advance(10 * time.Second)
		before := src.reads.Load()
		c.Sample(t.Context(), testKey, spec, 1)
		if src.reads.Load() != before {
			readAt = append(readAt, clock.Now().Sub(start))
		}
	}
	want := []time.Duration{1 * time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 13 * time.Minute, 18 * time.Minute}
	if len(readAt) != len(want) {
		t.Fatalf("reads at %v, want %v", readAt, want)
	}
	for i := range want {
		if readAt[i] != want[i] {
			t.Fatalf("reads at %v, want %v", readAt, want)
		}
	}

	// Back again: the next read (at most MaxBackoff later) succeeds and the period is one minute again.
	src.fail.Store(false)
	clock.Advance(MaxBackoff)
	if s := c.Sample(t.Context(), testKey, spec, 1); s.Error != "" {
		t.Fatalf("sample after recovery has Error %q", s.Error)
	}
	before := src.reads.Load()
	clock.Advance(time.Minute)
	c.Sample(t.Context(), testKey, spec, 1)
	if src.reads.Load() != before+1 {
		t.Errorf("after a good read the next one waits one sync period, not the back-off")
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		period   time.Duration
		failures int
		want     time.Duration
	}{
		{time.Minute, 0, time.Minute},
		{time.Minute, 1, time.Minute},
		{time.Minute, 2, 2 * time.Minute},
		{time.Minute, 4, MaxBackoff},
		{time.Minute, 1000, MaxBackoff},
		{10 * time.Minute, 5, 10 * time.Minute},
		{10 * time.Second, 3, 40 * time.Second},
	} {
		if got := retryAfter(tt.period, tt.failures); got != tt.want {
			t.Errorf("retryAfter(%s, %d) = %s, want %s", tt.period, tt.failures, got, tt.want)
		}
	}
}

func TestReadersAskTheSourceTheModeSelects(t *testing.T) {
	c, src, _, reg := newStubSamples(t)
	readers := Readers{nil, c}
	other := &konsumeratorv1.ConsumerSpec{NumPartitions: 1, Autoscaler: &konsumeratorv1.AutoscalerSpec{Mode: "prometheus"}}
	if s := readers.Sample(t.Context(), testKey, other); s != nil || src.reads.Load() != 0 {
		t.Fatalf("a spec of another mode got %+v after %d reads, want nil and none", s, src.reads.Load())
	}
	mine := &konsumeratorv1.ConsumerSpec{NumPartitions: 1, Autoscaler: &konsumeratorv1.AutoscalerSpec{Mode: "stub"}}
	if s := readers.Sample(t.Context(), testKey, mine); s == nil || len(s.Partitions) != 1 {
		t.Fatalf("sample %+v, want one partition", s)
	}
	if n := testutil.CollectAndCount(reg, "konsumerator_metrics_sample_age_seconds"); n != 1 {
		t.Errorf("%d sample age series, want 1", n)
	}
	readers.Forget(Key{Namespace: testKey.Namespace, Name: testKey.Name})
	if src.forgotten.Load() != 1 {
		t.Errorf("the source was told %d times that the Consumer is gone, want 1", src.forgotten.Load())
	}
	if n := testutil.CollectAndCount(reg, "konsumerator_metrics_sample_age_seconds"); n != 0 {
		t.Errorf("%d sample age series after Forget, want 0", n)
	}
}

// otherStub serves mode "other", so that a Consumer can move between two sources.
type otherStub struct{ stubSource }

func (*otherStub) Of(a *konsumeratorv1.AutoscalerSpec) (stubSpec, bool) {
	if a == nil || a.Mode != "other" {
		return stubSpec{}, false
	}
	return stubSpec{what: "o", period: time.Minute}, true
}

// A Consumer whose mode changes is held by the new source's cache only: two caches reporting an age for the same
// Consumer would make the scrape fail (two series with the same labels).
func TestAModeChangeLeavesOneEntry(t *testing.T) {
	reg := prometheus.NewRegistry()
	shared, err := NewInstruments(reg)
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	a, b := &stubSource{}, &otherStub{}
	readers := Readers{NewSamples[stubSpec](a, shared, clock.Now), NewSamples[stubSpec](b, shared, clock.Now)}
	spec := &konsumeratorv1.ConsumerSpec{NumPartitions: 1, Autoscaler: &konsumeratorv1.AutoscalerSpec{Mode: "stub"}}
	readers.Sample(t.Context(), testKey, spec)
	spec.Autoscaler.Mode = "other"
	if s := readers.Sample(t.Context(), testKey, spec); s == nil || b.reads.Load() != 1 {
		t.Fatalf("after the mode change: sample %+v, %d reads of the new source", s, b.reads.Load())
	}
	if a.forgotten.Load() != 1 {
		t.Errorf("the old source was told %d times that the Consumer left it, want 1", a.forgotten.Load())
	}
	if n, err := testutil.GatherAndCount(reg, "konsumerator_metrics_sample_age_seconds"); err != nil || n != 1 {
		t.Errorf("%d sample age series (%v), want 1", n, err)
	}
}

// NextRead says when the cache reads again: a sync period after the last attempt, or the back-off after
// failures; a Sample asked for just before then reads nothing, and one at then reads. It also says whether the
// last read was the first for the spec.
func TestNextReadIsWhenTheCacheReadsAgain(t *testing.T) {
	c, src, clock, _ := newStubSamples(t)
	spec := stubSpec{what: "q", period: time.Minute}
	if _, _, ok := c.NextRead(testKey); ok {
		t.Fatal("NextRead known before any read")
	}
	start := clock.Now()
	c.Sample(t.Context(), testKey, spec, 1)
	next, first, ok := c.NextRead(testKey)
	if !ok || !first || !next.Equal(start.Add(time.Minute)) {
		t.Fatalf("NextRead = %s, first %v, %v; want %s, first", next, first, ok, start.Add(time.Minute))
	}
	clock.Advance(next.Sub(clock.Now()) - time.Millisecond)
	c.Sample(t.Context(), testKey, spec, 1)
	if got := src.reads.Load(); got != 1 {
		t.Fatalf("%d reads just before NextRead, want 1", got)
	}
	clock.Advance(time.Millisecond)
	c.Sample(t.Context(), testKey, spec, 1)
	if got := src.reads.Load(); got != 2 {
		t.Fatalf("%d reads at NextRead, want 2", got)
	}
	if _, first, _ = c.NextRead(testKey); first {
		t.Error("the second read of an unchanged spec counts as the first")
	}

	// Two failures in a row: the back-off doubles the wait, and NextRead says so.
	src.fail.Store(true)
	for range 2 {
		next, _, _ = c.NextRead(testKey)
		clock.Advance(next.Sub(clock.Now()))
		c.Sample(t.Context(), testKey, spec, 1)
	}
	attempted := clock.Now()
	if next, _, _ = c.NextRead(testKey); !next.Equal(attempted.Add(2 * time.Minute)) {
		t.Errorf("NextRead after two failures = %s after the attempt, want 2m", next.Sub(attempted))
	}

	// A changed spec reads at once, and that read is a first again.
	src.fail.Store(false)
	c.Sample(t.Context(), testKey, stubSpec{what: "other", period: time.Minute}, 1)
	if _, first, _ = c.NextRead(testKey); !first {
		t.Error("the first read of a changed spec does not count as the first")
	}
	other := testKey
	other.UID = "another"
	if _, _, ok := c.NextRead(other); ok {
		t.Error("NextRead known for a Consumer of the same name and another UID")
	}
}
