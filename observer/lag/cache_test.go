package lag

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/konsumerator/konsumerator/model"
)

func TestCacheAsksPrometheusAtMostOncePerMinSyncPeriod(t *testing.T) {
	fake := newFakeProm(t, goodReplies())
	tc := newTestCache(t, nil)
	spec := fakeSpec(fake.URL)
	first := tc.sample(t, spec, 3)

	for i := 0; i < 10; i++ {
		tc.clock.Advance(5 * time.Second)
		got := tc.sample(t, spec, 3)
		if diff := cmp.Diff(first, got); diff != "" {
			t.Fatalf("within minSyncPeriod the cached sample must be served (-want +got):\n%s", diff)
		}
	}
	if n := fake.requests.Load(); n != 3 {
		t.Fatalf("%d requests within 50s of a 1m minSyncPeriod, want 3 (one fetch)", n)
	}

	tc.clock.Advance(10 * time.Second) // a minute after the first fetch
	got := tc.sample(t, spec, 3)
	if n := fake.requests.Load(); n != 6 {
		t.Errorf("%d requests a minute after the first fetch, want 6 (two fetches)", n)
	}
	if !got.Time.Equal(tc.clock.Now()) {
		t.Errorf("sample time %v, want the second fetch's time %v", got.Time, tc.clock.Now())
	}
}

func TestMinSyncPeriodComesFromTheSpec(t *testing.T) {
	fake := newFakeProm(t, goodReplies())
	tc := newTestCache(t, nil)
	spec := fakeSpec(fake.URL)
	spec.MinSyncPeriod = &metav1.Duration{Duration: 10 * time.Second}

	tc.sample(t, spec, 3)
	tc.clock.Advance(9 * time.Second)
	tc.sample(t, spec, 3)
	if n := fake.requests.Load(); n != 3 {
		t.Fatalf("%d requests after 9s of a 10s period, want 3", n)
	}
	tc.clock.Advance(time.Second)
	tc.sample(t, spec, 3)
	if n := fake.requests.Load(); n != 6 {
		t.Errorf("%d requests after 10s of a 10s period, want 6", n)
	}

	spec.MinSyncPeriod = nil // the default, one minute
	tc.clock.Advance(59 * time.Second)
	tc.sample(t, spec, 3)
	if n := fake.requests.Load(); n != 6 {
		t.Errorf("%d requests 59s later with the default period, want still 6", n)
	}
}

func TestConcurrentCallersShareOneFetch(t *testing.T) {
	fake := newFakeProm(t, goodReplies())
	fake.gate = make(chan struct{})
	tc := newTestCache(t, nil)
	spec := fakeSpec(fake.URL)

	const callers = 20
	results := make([]*model.MetricsSample, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = tc.sample(t, spec, 3)
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for fake.inFlight.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // room for a second fetch to start if sharing were broken
	close(fake.gate)
	wg.Wait()

	if n := fake.requests.Load(); n != 3 {
		t.Errorf("%d requests for %d concurrent callers, want 3 (one shared fetch)", n, callers)
	}
	for i, got := range results {
		if diff := cmp.Diff(goodPartitions, got.Partitions); diff != "" {
			t.Errorf("caller %d partitions (-want +got):\n%s", i, diff)
		}
	}
}

func TestChangedSpecRefetchesAtOnce(t *testing.T) {
	fake := newFakeProm(t, goodReplies())
	fake.setReply("other_lag", reply{body: vectorJSON(part("0", "77"))})
	tc := newTestCache(t, nil)
	spec := fakeSpec(fake.URL)
	tc.sample(t, spec, 3)

	spec.MinSyncPeriod = &metav1.Duration{Duration: 2 * time.Minute}
	tc.sample(t, spec, 3)
	if n := fake.requests.Load(); n != 3 {
		t.Fatalf("%d requests after changing only minSyncPeriod, want 3: the period decides when, not what", n)
	}

	changed := fakeSpec(fake.URL)
	changed.Offset.Query = "other_lag"
	got := tc.sample(t, changed, 3)
	if n := fake.requests.Load(); n != 6 {
		t.Fatalf("%d requests after changing a query, want 6 (a fetch at once)", n)
	}
	if v := got.Partitions[0].MessagesBehind; v == nil || *v != 77 {
		t.Errorf("partition 0 messages behind = %v, want 77 from the new query", v)
	}

	got = tc.sample(t, changed, 4)
	if n := fake.requests.Load(); n != 9 {
		t.Errorf("%d requests after the partition count changed, want 9 (a fetch at once)", n)
	}
	if got.Error != "" {
		t.Errorf("Error = %q", got.Error)
	}
}

func TestFailedFetchKeepsTheLastGoodValues(t *testing.T) {
	fake := newFakeProm(t, goodReplies())
	tc := newTestCache(t, nil)
	spec := fakeSpec(fake.URL)
	good := tc.sample(t, spec, 3)
	goodTime := good.Time

	fake.setReply(fakeProductionQuery, reply{status: 503, body: "unavailable"})
	tc.clock.Advance(time.Minute)
	got := tc.sample(t, spec, 3)

	want := &model.MetricsSample{
		Time:       goodTime,
		Partitions: goodPartitions,
		Error:      "production query failed on every address (" + fake.URL + ": HTTP 503)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sample during the outage (-want +got):\n%s", diff)
	}

	// The outage is a fetch too: the next attempt waits for minSyncPeriod like any other.
	tc.clock.Advance(30 * time.Second)
	if again := tc.sample(t, spec, 3); again.Error != want.Error {
		t.Errorf("Error = %q within the period after a failure, want it unchanged", again.Error)
	}
	if n := fake.requests.Load(); n != 6 {
		t.Errorf("%d requests, want 6: no retry storm during an outage", n)
	}

	fake.setReply(fakeProductionQuery, goodReplies()[fakeProductionQuery])
	tc.clock.Advance(30 * time.Second)
	got = tc.sample(t, spec, 3)
	// The first read after an outage is marked: its rate windows may reach back into the outage.
	want = &model.MetricsSample{Time: tc.clock.Now(), Partitions: goodPartitions, AfterGap: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sample after recovery (-want +got):\n%s", diff)
	}
}

func TestFailedFetchAfterAQueryChangeDoesNotKeepValuesOfTheOldQuery(t *testing.T) {
	fake := newFakeProm(t, goodReplies())
	fake.setReply("broken", reply{status: 400,
		body: `{"status":"error","errorType":"bad_data","error":"1:1: parse error: unexpected end of input"}`})
	tc := newTestCache(t, nil)
	tc.sample(t, fakeSpec(fake.URL), 3)

	changed := fakeSpec(fake.URL)
	changed.Offset.Query = "broken"
	got := tc.sample(t, changed, 3)

	want := &model.MetricsSample{Error: "offset query failed on every address (" + fake.URL +
		": query rejected (HTTP 400): 1:1: parse error: unexpected end of input)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sample (-want +got):\n%s", diff)
	}
}

func TestFailedFetchAfterAnAddressChangeKeepsTheValues(t *testing.T) {
	fake := newFakeProm(t, goodReplies())
	tc := newTestCache(t, nil)
	good := tc.sample(t, fakeSpec(fake.URL), 3)

	got := tc.sample(t, fakeSpec("http://127.0.0.1:1"), 3)

	if got.Error == "" || !got.Time.Equal(good.Time) {
		t.Fatalf("want an Error with the values of the last good read, got %+v", got)
	}
	if diff := cmp.Diff(goodPartitions, got.Partitions); diff != "" {
		t.Errorf("partitions (-want +got):\n%s", diff)
	}
}

func TestANewConsumerOfTheSameNameStartsFromNothing(t *testing.T) {
	fake := newFakeProm(t, goodReplies())
	tc := newTestCache(t, nil)
	spec := fakeSpec(fake.URL)
	tc.sample(t, spec, 3)

	fake.setReply(fakeOffsetQuery, reply{status: 500})
	recreated := testKey
	recreated.UID = "uid-2"
	got := tc.Sample(t.Context(), recreated, spec, 3)

	if len(got.Partitions) != 0 || !got.Time.IsZero() || got.Error == "" {
		t.Errorf("a recreated Consumer must not inherit the old one's values, got %+v", got)
	}
}

func TestForgetDropsTheEntryAndItsSeries(t *testing.T) {
	fake := newFakeProm(t, map[string]reply{fakeOffsetQuery: {body: vectorJSON(part("0", "NaN"))}})
	tc := newTestCache(t, nil)
	spec := fakeSpec(fake.URL)
	tc.sample(t, spec, 3)
	other := Key{Namespace: "team-b", Name: "payments", UID: "uid-9"}
	tc.Sample(t.Context(), other, spec, 3)

	if n := testutil.CollectAndCount(tc.registry, "konsumerator_metrics_sample_age_seconds"); n != 2 {
		t.Fatalf("%d sample age series, want 2", n)
	}
	if n := testutil.CollectAndCount(tc.registry, "konsumerator_metrics_problems_total"); n != 4 {
		t.Fatalf("%d problem series, want 4 (invalid value and empty result for each Consumer)", n)
	}

	tc.Forget(Key{Namespace: testKey.Namespace, Name: testKey.Name, UID: "some-other-uid"})
	if n := testutil.CollectAndCount(tc.registry, "konsumerator_metrics_sample_age_seconds"); n != 2 {
		t.Fatalf("Forget with another UID must not drop the entry: %d series, want 2", n)
	}

	tc.Forget(Key{Namespace: testKey.Namespace, Name: testKey.Name}) // a deleted object's UID may be unknown
	if n := testutil.CollectAndCount(tc.registry, "konsumerator_metrics_sample_age_seconds"); n != 1 {
		t.Errorf("%d sample age series after Forget, want 1", n)
	}
	if n := testutil.CollectAndCount(tc.registry, "konsumerator_metrics_problems_total"); n != 2 {
		t.Errorf("%d problem series after Forget, want 2", n)
	}
	before := fake.requests.Load()
	tc.sample(t, spec, 3)
	if fake.requests.Load() == before {
		t.Errorf("after Forget the next Sample must fetch again")
	}
}

func TestSampleAgeGrowsDuringAnOutage(t *testing.T) {
	fake := newFakeProm(t, goodReplies())
	tc := newTestCache(t, nil)
	spec := fakeSpec(fake.URL)
	tc.sample(t, spec, 3)
	fake.setReply(fakeOffsetQuery, reply{status: 500})

	tc.clock.Advance(90 * time.Second)
	tc.sample(t, spec, 3)
	tc.clock.Advance(30 * time.Second)

	want := `
# HELP konsumerator_metrics_sample_age_seconds Age of the values in a Consumer's metrics sample: time since the last successful read of its metrics source.
# TYPE konsumerator_metrics_sample_age_seconds gauge
konsumerator_metrics_sample_age_seconds{consumer="orders",namespace="team-a"} 120
`
	if err := testutil.GatherAndCompare(tc.registry, strings.NewReader(want),
		"konsumerator_metrics_sample_age_seconds"); err != nil {
		t.Error(err)
	}
}

func TestNoSampleAgeBeforeTheFirstSuccess(t *testing.T) {
	tc := newTestCache(t, nil)
	tc.sample(t, fakeSpec("http://127.0.0.1:1"), 3)
	if n := testutil.CollectAndCount(tc.registry, "konsumerator_metrics_sample_age_seconds"); n != 0 {
		t.Errorf("%d sample age series before any successful read, want 0 (alert on fetch_failed instead)", n)
	}
}

func TestACallerThatGivesUpGetsTheCurrentSampleAndTheFetchGoesOn(t *testing.T) {
	fake := newFakeProm(t, goodReplies())
	fake.gate = make(chan struct{})
	tc := newTestCache(t, nil)
	spec := fakeSpec(fake.URL)

	patient := make(chan *model.MetricsSample, 1)
	go func() { patient <- tc.sample(t, spec, 3) }()

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	got := tc.Sample(ctx, testKey, spec, 3)
	want := &model.MetricsSample{Error: "no metrics read yet: gave up waiting for Prometheus"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sample of the impatient caller (-want +got):\n%s", diff)
	}

	close(fake.gate)
	select {
	case s := <-patient:
		if diff := cmp.Diff(goodPartitions, s.Partitions); diff != "" {
			t.Errorf("the shared fetch must finish for the patient caller (-want +got):\n%s", diff)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the patient caller got nothing within 10s")
	}
}

func TestReturnedSamplesAreTheCallersOwn(t *testing.T) {
	fake := newFakeProm(t, goodReplies())
	tc := newTestCache(t, nil)
	spec := fakeSpec(fake.URL)

	got := tc.sample(t, spec, 3)
	*got.Partitions[0].MessagesBehind = -1
	got.Partitions[1].Partition = 42
	got.Problems = append(got.Problems, "scribble")

	again := tc.sample(t, spec, 3)
	if diff := cmp.Diff(goodPartitions, again.Partitions); diff != "" {
		t.Errorf("a caller's changes leaked into the cache (-want +got):\n%s", diff)
	}
	if len(again.Problems) != 0 {
		t.Errorf("problems = %q, want none", again.Problems)
	}
}

func TestNoPrometheusSpecIsAnError(t *testing.T) {
	tc := newTestCache(t, nil)
	got := tc.sample(t, nil, 3)
	if got.Error == "" {
		t.Errorf("want an Error for a nil spec, got %+v", got)
	}
}

func TestNewCacheNeedsARegistererAndRegistersOnce(t *testing.T) {
	if _, err := NewCache(Options{}); err == nil {
		t.Error("NewCache without a Registerer must fail")
	}
	tc := newTestCache(t, nil)
	if _, err := NewCache(Options{Registerer: tc.registry}); err == nil {
		t.Error("a second Cache on the same registry must fail, not panic or share series")
	}
}
