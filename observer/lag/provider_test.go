package lag

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/observer/lag/promtest"
)

func goodReplies() map[string]reply {
	return map[string]reply{
		fakeOffsetQuery:      {body: vectorJSON(part("0", "120"), part("1", "0"), part("2", "3.5"))},
		fakeProductionQuery:  {body: vectorJSON(part("0", "10.25"), part("1", "4"))},
		fakeConsumptionQuery: {body: vectorJSON(part("0", "9.75"), part("2", "1"))},
	}
}

var goodPartitions = []model.PartitionMetrics{
	{Partition: 0, MessagesBehind: f64(120), ProductionRate: f64(10.25), ConsumptionRate: f64(9.75)},
	{Partition: 1, MessagesBehind: f64(0), ProductionRate: f64(4)},
	{Partition: 2, MessagesBehind: f64(3.5), ConsumptionRate: f64(1)},
}

func TestSampleReadsAllThreeQueries(t *testing.T) {
	fake := newFakeProm(t, goodReplies())
	tc := newTestCache(t, nil)

	got := tc.sample(t, fakeSpec(fake.URL), 3)

	want := &model.MetricsSample{Time: tc.clock.Now(), Partitions: goodPartitions}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sample (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(tc.in.requests.WithLabelValues(fake.URL, "offset")); n != 1 {
		t.Errorf("requests_total{query=offset} = %v, want 1", n)
	}
}

func TestBadResultTypesAreReportedAndLeaveNoValues(t *testing.T) {
	fake := newFakeProm(t, map[string]reply{
		fakeOffsetQuery: {body: `{"status":"success","data":{"resultType":"matrix","result":[` +
			`{"metric":{"partition":"0"},"values":[[1700000000,"5"]]}]}}`},
		fakeProductionQuery:  {body: `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"7"]}}`},
		fakeConsumptionQuery: {body: `{"status":"success","data":{"resultType":"string","result":[1700000000,"x"]}}`},
	})
	tc := newTestCache(t, nil)

	got := tc.sample(t, fakeSpec(fake.URL), 3)

	want := &model.MetricsSample{
		Time: tc.clock.Now(),
		Problems: []string{
			"consumption query: result is a string, want an instant vector",
			"offset query: result is a matrix, want an instant vector",
			"production query: result is a scalar, want an instant vector",
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sample (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(tc.in.problems.WithLabelValues(testKey.Namespace, testKey.Name,
		string(ProblemUnexpectedResultType))); n != 1 {
		t.Errorf("problems_total{problem=unexpected_result_type} = %v, want 1 (once per fetch)", n)
	}
}

func TestBadValuesAreDroppedNotZeroed(t *testing.T) {
	fake := newFakeProm(t, map[string]reply{
		fakeOffsetQuery: {body: vectorJSON(part("0", "NaN"), part("1", "-3"), part("2", "+Inf"), part("3", "12"),
			part("9", "1"), part("x", "1"), series{labels: map[string]string{"topic": "t"}, value: "1"})},
		fakeProductionQuery: {body: vectorJSON(part("0", "5"), part("0", "6"), part("1", "-Inf"), part("3", "2"))},
		fakeConsumptionQuery: {body: vectorJSON(part("0", "4"),
			series{labels: map[string]string{"partition": "1"}, value: "not-a-number"})},
	})
	tc := newTestCache(t, nil)

	got := tc.sample(t, fakeSpec(fake.URL), 4)

	// The consumption answer cannot be decoded at all, so that query failed: the whole sample is an error
	// and, with no earlier read, holds no values.
	if got.Error == "" || len(got.Partitions) != 0 {
		t.Fatalf("a body that does not decode must fail the fetch without values, got %+v", got)
	}
	if want := "consumption query failed on every address (" + fake.URL + ": unparsable response)"; got.Error != want {
		t.Errorf("Error = %q, want %q", got.Error, want)
	}

	fake.setReply(fakeConsumptionQuery, reply{body: vectorJSON(part("0", "4"))})
	tc.clock.Advance(time.Minute)
	got = tc.sample(t, fakeSpec(fake.URL), 4)

	want := &model.MetricsSample{
		Time: tc.clock.Now(),
		Partitions: []model.PartitionMetrics{
			{Partition: 0, ConsumptionRate: f64(4)},
			{Partition: 3, MessagesBehind: f64(12), ProductionRate: f64(2)},
		},
		Problems: []string{
			`offset query: label partition="x" is not a partition number`,
			"offset query: partition 0 has value NaN",
			"offset query: partition 1 has a negative value",
			"offset query: partition 2 has value +Inf",
			"offset query: partition 9 is outside [0, 4)",
			`offset query: series without label "partition"`,
			"production query: partition 0 has 2 series",
			"production query: partition 1 has value -Inf",
		},
		AfterGap: true, // the read before failed
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sample (-want +got):\n%s", diff)
	}
	for _, kind := range []ProblemKind{ProblemInvalidValue, ProblemNegativeValue, ProblemPartitionOutOfRange,
		ProblemInvalidPartitionLabel, ProblemMissingPartitionLabel, ProblemDuplicatePartition} {
		// Counted on both fetches: the first one failed on another query, but saw these all the same.
		if n := testutil.ToFloat64(tc.in.problems.WithLabelValues(testKey.Namespace, testKey.Name, string(kind))); n != 2 {
			t.Errorf("problems_total{problem=%s} = %v, want 2", kind, n)
		}
	}
}

func TestRequestFailuresGiveStableErrors(t *testing.T) {
	tests := []struct {
		name       string
		reply      reply
		wantText   string
		wantReason failureReason
	}{
		{"HTTP 500", reply{status: 500, body: "boom"}, "HTTP 500", reasonServerError},
		{"HTTP 503 with a Prometheus error body", reply{status: 503,
			body: `{"status":"error","errorType":"unavailable","error":"too busy"}`}, "HTTP 503", reasonServerError},
		{"HTTP 404", reply{status: 404, body: "404 page not found"}, "HTTP 404", reasonClientError},
		{"HTTP 400 bad query", reply{status: 400,
			body: `{"status":"error","errorType":"bad_data","error":"1:1: parse error: unexpected identifier"}`},
			"query rejected (HTTP 400): 1:1: parse error: unexpected identifier", reasonBadQuery},
		{"HTTP 401", reply{status: 401, body: "no"}, "unauthorized (HTTP 401)", reasonUnauthorized},
		{"garbage body", reply{body: "<html>this is not Prometheus</html>"}, "unparsable response", reasonBadResponse},
		{"truncated body", reply{body: `{"status":"success","data":{"resultType":"vec`}, "unparsable response",
			reasonBadResponse},
		{"slow", reply{delay: 5 * time.Second, body: vectorJSON()}, "timed out", reasonTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			replies := goodReplies()
			replies[fakeOffsetQuery] = tt.reply
			fake := newFakeProm(t, replies)
			tc := newTestCache(t, func(o *Options) { o.RequestTimeout = time.Second })

			got := tc.sample(t, fakeSpec(fake.URL), 3)

			want := &model.MetricsSample{Error: "offset query failed on every address (" + fake.URL + ": " + tt.wantText + ")"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("sample (-want +got):\n%s", diff)
			}
			if n := testutil.ToFloat64(tc.in.requestErrors.WithLabelValues(fake.URL, "offset", string(tt.wantReason))); n != 1 {
				t.Errorf("request_errors_total{reason=%s} = %v, want 1", tt.wantReason, n)
			}
			if n := testutil.ToFloat64(tc.in.problems.WithLabelValues(testKey.Namespace, testKey.Name,
				string(ProblemFetchFailed))); n != 1 {
				t.Errorf("problems_total{problem=fetch_failed} = %v, want 1", n)
			}
		})
	}
}

func TestEveryAddressDownIsAnError(t *testing.T) {
	down1, err := promtest.FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	// A port just closed may be handed out again: two addresses, not one twice.
	down2 := down1
	for down2 == down1 {
		if down2, err = promtest.FreeAddress(); err != nil {
			t.Fatal(err)
		}
	}
	tc := newTestCache(t, nil)

	got := tc.sample(t, fakeSpec("http://"+down1, "http://"+down2), 3)

	want := "offset, production and consumption queries failed on every address (http://" + down1 +
		": unreachable, http://" + down2 + ": unreachable)"
	if diff := cmp.Diff(&model.MetricsSample{Error: want}, got); diff != "" {
		t.Errorf("sample (-want +got):\n%s", diff)
	}
}

func TestFailoverPrefersTheAddressWithData(t *testing.T) {
	down, err := promtest.FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	good := newFakeProm(t, goodReplies())
	empty := newFakeProm(t, map[string]reply{})
	garbage := newFakeProm(t, map[string]reply{
		fakeOffsetQuery: {body: "garbage"}, fakeProductionQuery: {body: "garbage"}, fakeConsumptionQuery: {body: "garbage"},
	})
	slow := newFakeProm(t, map[string]reply{
		fakeOffsetQuery:      {delay: 5 * time.Second},
		fakeProductionQuery:  {delay: 5 * time.Second},
		fakeConsumptionQuery: {delay: 5 * time.Second},
	})
	// fewer has data for the same partitions minus one: it answered, but less well.
	fewerReplies := goodReplies()
	fewerReplies[fakeOffsetQuery] = reply{body: vectorJSON(part("0", "999"))}
	fewer := newFakeProm(t, fewerReplies)

	replicaFailed := func(addr, why, from string) []string {
		var out []string
		for _, kind := range []string{"consumption", "offset", "production"} {
			out = append(out, kind+" query: "+addr+" failed ("+why+"), answer taken from "+from)
		}
		return out
	}

	tests := []struct {
		name         string
		addresses    []string
		wantProblems []string
	}{
		{"a down address first", []string{"http://" + down, good.URL},
			replicaFailed("http://"+down, "unreachable", good.URL)},
		{"an empty replica first", []string{empty.URL, good.URL}, nil},
		{"garbage after the good one", []string{good.URL, garbage.URL},
			replicaFailed(garbage.URL, "unparsable response", good.URL)},
		{"a slow replica first", []string{slow.URL, good.URL},
			replicaFailed(slow.URL, "timed out", good.URL)},
		{"a replica with fewer partitions first", []string{fewer.URL, good.URL}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCache(t, func(o *Options) { o.RequestTimeout = time.Second })

			got := tc.sample(t, fakeSpec(tt.addresses...), 3)

			want := &model.MetricsSample{Time: tc.clock.Now(), Partitions: goodPartitions, Problems: tt.wantProblems}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("sample (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFailoverTieGoesToTheFirstAddress(t *testing.T) {
	first := newFakeProm(t, goodReplies())
	secondReplies := goodReplies()
	secondReplies[fakeOffsetQuery] = reply{body: vectorJSON(part("0", "1"), part("1", "1"), part("2", "1"))}
	second := newFakeProm(t, secondReplies)
	tc := newTestCache(t, nil)

	got := tc.sample(t, fakeSpec(first.URL, second.URL), 3)
	if diff := cmp.Diff(goodPartitions, got.Partitions); diff != "" {
		t.Errorf("partitions (-want +got):\n%s", diff)
	}

	// The same two replicas the other way round: now the other one is first.
	tc2 := newTestCache(t, nil)
	got = tc2.sample(t, fakeSpec(second.URL, first.URL), 3)
	if v := got.Partitions[0].MessagesBehind; v == nil || *v != 1 {
		t.Errorf("partition 0 messages behind = %v, want 1 from the first listed address", v)
	}
}

func TestEmptyAnswerOnEveryAddressIsAProblemNotAnError(t *testing.T) {
	empty1 := newFakeProm(t, map[string]reply{})
	empty2 := newFakeProm(t, map[string]reply{})
	tc := newTestCache(t, nil)

	got := tc.sample(t, fakeSpec(empty1.URL, empty2.URL), 3)

	want := &model.MetricsSample{Time: tc.clock.Now(), Problems: []string{
		"consumption query: no series", "offset query: no series", "production query: no series",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sample (-want +got):\n%s", diff)
	}
}

func TestRequestsAreBoundedAcrossConsumers(t *testing.T) {
	fake := newFakeProm(t, goodReplies())
	fake.gate = make(chan struct{})
	tc := newTestCache(t, func(o *Options) { o.MaxConcurrentRequests = 2 })

	done := make(chan struct{})
	for i := 0; i < 3; i++ {
		key := Key{Namespace: "ns", Name: "consumer-" + string(rune('a'+i)), UID: "u"}
		go func() {
			defer func() { done <- struct{}{} }()
			tc.Sample(t.Context(), key, fakeSpec(fake.URL), 3)
		}()
	}
	// Nine requests want to run; only two may be in flight. Wait until two are held at the gate.
	deadline := time.Now().Add(5 * time.Second)
	for fake.inFlight.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // room for a third request to arrive if the bound were broken
	close(fake.gate)
	for i := 0; i < 3; i++ {
		<-done
	}
	if got := fake.maxSeen.Load(); got != 2 {
		t.Errorf("at most %d requests were in flight, want exactly the bound 2", got)
	}
	if got := fake.requests.Load(); got != 9 {
		t.Errorf("%d requests, want 9 (three queries for three Consumers)", got)
	}
}

func TestThrottledRequestsTimeOutWithAReason(t *testing.T) {
	fake := newFakeProm(t, goodReplies())
	tc := newTestCache(t, func(o *Options) {
		o.MaxConcurrentRequests = 1
		o.RequestTimeout = 200 * time.Millisecond
	})
	// Another Consumer's query holds the only slot for longer than the timeout.
	tc.provider.slots <- struct{}{}
	t.Cleanup(func() { <-tc.provider.slots })

	got := tc.sample(t, fakeSpec(fake.URL), 3)

	want := "offset, production and consumption queries failed on every address (" + fake.URL +
		": no free request slot before the timeout)"
	if got.Error != want {
		t.Errorf("Error = %q, want %q", got.Error, want)
	}
	for _, kind := range queryKinds {
		if n := testutil.ToFloat64(tc.in.requestErrors.WithLabelValues(fake.URL, string(kind), string(reasonThrottled))); n != 1 {
			t.Errorf("request_errors_total{query=%s,reason=throttled} = %v, want 1", kind, n)
		}
	}
	if n := fake.requests.Load(); n != 0 {
		t.Errorf("%d requests sent past the bound, want 0", n)
	}
}

func TestHTTPClientsAreBuiltOncePerConfig(t *testing.T) {
	a := newFakeProm(t, goodReplies())
	b := newFakeProm(t, goodReplies())
	tc := newTestCache(t, nil)

	for i := 0; i < 3; i++ {
		tc.sample(t, fakeSpec(a.URL, b.URL), 3)
		tc.Sample(t.Context(), Key{Namespace: "other", Name: "c", UID: "u2"}, fakeSpec(a.URL), 3)
		tc.clock.Advance(time.Minute)
	}
	if n := tc.provider.clientCount(); n != 2 {
		t.Errorf("%d HTTP clients after many fetches of two addresses with the same credentials, want 2", n)
	}
	if n := a.requests.Load(); n != 18 {
		t.Errorf("address a got %d requests, want 18 (3 fetches × 3 queries × 2 Consumers)", n)
	}
}

func TestQueriesThatFailTheSameWayShareOneSentence(t *testing.T) {
	fake := newFakeProm(t, map[string]reply{
		fakeOffsetQuery:      {status: 500},
		fakeProductionQuery:  {status: 502},
		fakeConsumptionQuery: {status: 500},
	})
	tc := newTestCache(t, nil)

	got := tc.sample(t, fakeSpec(fake.URL), 3)

	want := "offset and consumption queries failed on every address (" + fake.URL + ": HTTP 500); " +
		"production query failed on every address (" + fake.URL + ": HTTP 502)"
	if got.Error != want {
		t.Errorf("Error = %q, want %q", got.Error, want)
	}
}

func TestAPasswordInAnAddressIsNeverShown(t *testing.T) {
	fake := newFakeProm(t, goodReplies())
	fake.auth = func(r *http.Request) bool {
		user, pass, ok := r.BasicAuth()
		return ok && user == "reader" && pass == "hunter2"
	}
	tc := newTestCache(t, nil)
	withPassword := strings.Replace(fake.URL, "http://", "http://reader:hunter2@", 1)
	down := "http://reader:hunter2@127.0.0.1:1"

	got := tc.sample(t, fakeSpec(withPassword, down), 3)

	if diff := cmp.Diff(goodPartitions, got.Partitions); diff != "" {
		t.Errorf("partitions (-want +got):\n%s", diff)
	}
	for _, text := range got.Problems {
		if strings.Contains(text, "hunter2") {
			t.Errorf("problem text shows the password: %q", text)
		}
	}
	families, err := tc.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "hunter2") {
					t.Errorf("metric %s has the password in label %s=%q", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

func TestProviderMetricsAreExposedUnderTheirNames(t *testing.T) {
	fake := newFakeProm(t, goodReplies())
	fake.setReply(fakeOffsetQuery, reply{body: vectorJSON(part("0", "NaN"))})
	down := "http://127.0.0.1:1"
	tc := newTestCache(t, nil)
	tc.sample(t, fakeSpec(fake.URL, down), 3)

	want := map[string][]string{
		"konsumerator_prometheus_requests_total":           {"address", "query"},
		"konsumerator_prometheus_request_errors_total":     {"address", "query", "reason"},
		"konsumerator_prometheus_request_duration_seconds": {"address", "query"},
		"konsumerator_metrics_sample_age_seconds":          {"consumer", "namespace"},
		"konsumerator_metrics_problems_total":              {"consumer", "namespace", "problem"},
	}
	families, err := tc.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, f := range families {
		var names []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			names = append(names, l.GetName())
		}
		got[f.GetName()] = names
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metric families and their labels (-want +got):\n%s", diff)
	}
}

func TestEachQueryTakesTheBestReplicaOnItsOwn(t *testing.T) {
	aReplies := goodReplies()
	aReplies[fakeOffsetQuery] = reply{status: 500}
	a := newFakeProm(t, aReplies)
	bReplies := goodReplies()
	bReplies[fakeProductionQuery] = reply{status: 503}
	b := newFakeProm(t, bReplies)
	tc := newTestCache(t, nil)

	got := tc.sample(t, fakeSpec(a.URL, b.URL, a.URL), 3) // a repeated address is asked once

	want := &model.MetricsSample{Time: tc.clock.Now(), Partitions: goodPartitions, Problems: []string{
		"offset query: " + a.URL + " failed (HTTP 500), answer taken from " + b.URL,
		"production query: " + b.URL + " failed (HTTP 503), answer taken from " + a.URL,
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sample (-want +got):\n%s", diff)
	}
	if n := a.requests.Load(); n != 3 {
		t.Errorf("address a got %d requests, want 3 (listed twice, asked once)", n)
	}
}
