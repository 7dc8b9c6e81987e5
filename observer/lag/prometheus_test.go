package lag

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/observer/lag/promtest"
)

// These tests run against a real Prometheus scraping an exporter whose values they set. One server and one
// exporter are shared by the whole package (started on first use, stopped in TestMain); each test writes its
// own topic so that tests do not see each other's series and can run in parallel. A test that must kill
// Prometheus starts its own.

var shared struct {
	once     sync.Once
	err      error
	bin      string
	exporter *promtest.Exporter
	prom     *promtest.Prometheus
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.prom != nil {
		shared.prom.Stop()
	}
	if shared.exporter != nil {
		shared.exporter.Stop()
	}
	os.Exit(code)
}

const prometheusReadyTimeout = 60 * time.Second

// realPrometheus returns the shared server and exporter, starting them on first use. It fails the test, never
// skips it, when no Prometheus binary can be had: CI must run these tests.
func realPrometheus(t *testing.T) (*promtest.Exporter, *promtest.Prometheus) {
	t.Helper()
	shared.once.Do(func() {
		shared.bin, shared.err = promtest.Binary()
		if shared.err != nil {
			return
		}
		shared.exporter, shared.err = promtest.StartExporter()
		if shared.err != nil {
			return
		}
		shared.prom, shared.err = promtest.StartPrometheus(shared.bin, []string{shared.exporter.Addr}, prometheusReadyTimeout)
	})
	if shared.err != nil {
		t.Fatalf("a real Prometheus is needed for this test: %v", shared.err)
	}
	return shared.exporter, shared.prom
}

func waitForSeries(t *testing.T, prom *promtest.Prometheus, query string, n int) {
	t.Helper()
	if err := prom.WaitForSeries(t.Context(), query, n, 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

func labels(topic, partition string) map[string]string {
	return map[string]string{"topic": topic, "partition": partition}
}

func realSpec(topic string, addresses ...string) *konsumeratorv1.PrometheusAutoscalerSpec {
	spec := fakeSpec(addresses...)
	spec.Offset = konsumeratorv1.PrometheusQuery{
		Query: fmt.Sprintf(`kafka_consumergroup_lag{topic=%q}`, topic), PartitionLabel: "partition"}
	spec.Production = konsumeratorv1.PrometheusQuery{
		Query: fmt.Sprintf(`kafka_test_production_rate{topic=%q}`, topic), PartitionLabel: "kafka_partition"}
	spec.Consumption = konsumeratorv1.PrometheusQuery{
		Query: fmt.Sprintf(`kafka_test_consumption_rate{topic=%q}`, topic), PartitionLabel: "partition"}
	return spec
}

// exportGauges publishes figures for a topic: lag for partitions 0-3, production (under another label name,
// as some exporters write it) for 0-2, consumption for 0, 1 and 3.
func exportGauges(exporter *promtest.Exporter, topic string, scale float64) []model.PartitionMetrics {
	lag := []float64{1234.5, 0, 17, 1e9}
	production := []float64{10.125, 0.5, 3}
	consumption := map[int]float64{0: 9.875, 1: 0.5, 3: 2.25}
	want := make([]model.PartitionMetrics, 4)
	for p := range 4 {
		ps := fmt.Sprint(p)
		want[p].Partition = int32(p)
		exporter.SetGauge("kafka_consumergroup_lag", labels(topic, ps), lag[p]*scale)
		want[p].MessagesBehind = f64(lag[p] * scale)
		if p < len(production) {
			exporter.SetGauge("kafka_test_production_rate", map[string]string{"topic": topic, "kafka_partition": ps},
				production[p]*scale)
			want[p].ProductionRate = f64(production[p] * scale)
		}
		if v, ok := consumption[p]; ok {
			exporter.SetGauge("kafka_test_consumption_rate", labels(topic, ps), v*scale)
			want[p].ConsumptionRate = f64(v * scale)
		}
	}
	return want
}

// sampleUntil fetches, moving the fake clock past minSyncPeriod each time, until the sample satisfies done;
// Prometheus scrapes once a second, so a new value shows after a scrape or two.
func sampleUntil(t *testing.T, tc testCache, key Key, spec *konsumeratorv1.PrometheusAutoscalerSpec, partitions int32,
	what string, done func(*model.MetricsSample) bool) *model.MetricsSample {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got *model.MetricsSample
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
		got = tc.Sample(ctx, key, spec, partitions)
		cancel()
		if done(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 20s for a sample with %s; last sample: %+v", what, got)
		}
		tc.clock.Advance(time.Minute)
		time.Sleep(200 * time.Millisecond)
	}
}

func TestRealPrometheusValuesMatchTheExporter(t *testing.T) {
	t.Parallel()
	exporter, prom := realPrometheus(t)
	want := exportGauges(exporter, "exact", 1)
	tc := newTestCache(t, nil)
	spec := realSpec("exact", prom.URL)

	got := sampleUntil(t, tc, testKey, spec, 4, "the exporter's values", func(s *model.MetricsSample) bool {
		return cmp.Equal(want, s.Partitions)
	})
	if got.Error != "" || len(got.Problems) != 0 || !got.Time.Equal(tc.clock.Now()) {
		t.Errorf("Error = %q, Problems = %q, Time = %v; want a clean read at %v", got.Error, got.Problems, got.Time,
			tc.clock.Now())
	}

	// New values reach the sample after the next scrape and the next allowed fetch.
	want = exportGauges(exporter, "exact", 2)
	sampleUntil(t, tc, testKey, spec, 4, "the exporter's new values", func(s *model.MetricsSample) bool {
		return cmp.Equal(want, s.Partitions)
	})
}

func TestRealPrometheusRates(t *testing.T) {
	t.Parallel()
	exporter, prom := realPrometheus(t)
	const topic = "rates"
	produced := map[string]float64{"0": 100, "1": 40, "2": 0}
	consumed := map[string]float64{"0": 90, "1": 40, "2": 0}
	for p, r := range produced {
		exporter.SetCounterRate("kafka_topic_partition_current_offset", labels(topic, p), r)
		exporter.SetCounterRate("kafka_consumergroup_current_offset", labels(topic, p), consumed[p])
		exporter.SetGauge("kafka_consumergroup_lag", labels(topic, p), 500)
	}
	spec := realSpec(topic, prom.URL)
	spec.Production = konsumeratorv1.PrometheusQuery{PartitionLabel: "partition",
		Query: `sum by (partition) (rate(kafka_topic_partition_current_offset{topic="rates"}[5s]))`}
	spec.Consumption = konsumeratorv1.PrometheusQuery{PartitionLabel: "partition",
		Query: `sum by (partition) (rate(kafka_consumergroup_current_offset{topic="rates"}[5s]))`}
	// rate() needs two scrapes; waiting for them here gives a clear message if they never come.
	waitForSeries(t, prom, spec.Production.Query, 3)
	waitForSeries(t, prom, spec.Consumption.Query, 3)
	tc := newTestCache(t, nil)

	// rate() divides by the whole window, so it is low until the series is older than the window; after that
	// it is close to the slope (not equal: it extrapolates over scrape timestamps).
	approx := cmpopts.EquateApprox(0.05, 0.5)
	near := func(want float64, got *float64) bool { return got != nil && cmp.Equal(want, *got, approx) }
	got := sampleUntil(t, tc, testKey, spec, 3, "rates within 5% of the exporter's slopes",
		func(s *model.MetricsSample) bool {
			if len(s.Partitions) != 3 {
				return false
			}
			for _, p := range s.Partitions {
				key := fmt.Sprint(p.Partition)
				if !near(produced[key], p.ProductionRate) || !near(consumed[key], p.ConsumptionRate) {
					return false
				}
			}
			return true
		})
	for _, p := range got.Partitions {
		if p.MessagesBehind == nil || *p.MessagesBehind != 500 {
			t.Errorf("partition %d messages behind %v, want 500", p.Partition, p.MessagesBehind)
		}
	}
}

func TestRealPrometheusBadDataIsDroppedAndReported(t *testing.T) {
	t.Parallel()
	exporter, prom := realPrometheus(t)
	const topic = "bad"
	set := func(name, partition, replica string, v float64) {
		exporter.SetGauge(name, map[string]string{"topic": topic, "partition": partition, "replica": replica}, v)
	}
	set("kafka_bad_lag", "0", "a", math.NaN())
	set("kafka_bad_lag", "1", "a", -5)
	set("kafka_bad_lag", "2", "a", 10)
	set("kafka_bad_lag", "3", "a", 7)
	set("kafka_bad_lag", "3", "b", 8) // two series for one partition: neither can be trusted
	set("kafka_bad_lag", "x", "a", 3)
	set("kafka_bad_lag", "", "a", 4) // an empty label is no label in Prometheus
	set("kafka_bad_lag", "9", "a", 1)
	set("kafka_bad_rate", "0", "a", 5)
	set("kafka_bad_rate", "2", "a", math.Inf(1))
	set("kafka_bad_rate", "3", "a", 6)
	spec := realSpec(topic, prom.URL)
	spec.Offset = konsumeratorv1.PrometheusQuery{Query: `kafka_bad_lag{topic="bad"}`, PartitionLabel: "partition"}
	spec.Production = konsumeratorv1.PrometheusQuery{Query: `kafka_bad_rate{topic="bad"}`, PartitionLabel: "partition"}
	spec.Consumption = konsumeratorv1.PrometheusQuery{Query: `kafka_bad_rate{topic="bad"}`, PartitionLabel: "partition"}
	waitForSeries(t, prom, spec.Offset.Query, 8)
	waitForSeries(t, prom, spec.Production.Query, 3)
	tc := newTestCache(t, nil)

	got := tc.sample(t, spec, 4)

	want := &model.MetricsSample{
		Time: tc.clock.Now(),
		Partitions: []model.PartitionMetrics{
			{Partition: 0, ProductionRate: f64(5), ConsumptionRate: f64(5)},
			{Partition: 2, MessagesBehind: f64(10)},
			{Partition: 3, ProductionRate: f64(6), ConsumptionRate: f64(6)},
		},
		Problems: []string{
			"consumption query: partition 2 has value +Inf",
			`offset query: label partition="x" is not a partition number`,
			"offset query: partition 0 has value NaN",
			"offset query: partition 1 has a negative value",
			"offset query: partition 3 has 2 series",
			"offset query: partition 9 is outside [0, 4)",
			`offset query: series without label "partition"`,
			"production query: partition 2 has value +Inf",
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sample (-want +got):\n%s", diff)
	}
}

func TestRealPrometheusResultsThatAreNotInstantVectors(t *testing.T) {
	t.Parallel()
	exporter, prom := realPrometheus(t)
	exporter.SetGauge("kafka_consumergroup_lag", labels("types", "0"), 1)
	spec := realSpec("types", prom.URL)
	spec.Offset.Query = `kafka_consumergroup_lag{topic="types"}[1m]`
	spec.Production.Query = `scalar(sum(kafka_consumergroup_lag{topic="types"}))`
	spec.Consumption.Query = `"a string"`
	waitForSeries(t, prom, `kafka_consumergroup_lag{topic="types"}`, 1)
	tc := newTestCache(t, nil)

	got := tc.sample(t, spec, 1)

	want := &model.MetricsSample{Time: tc.clock.Now(), Problems: []string{
		"consumption query: result is a string, want an instant vector",
		"offset query: result is a matrix, want an instant vector",
		"production query: result is a scalar, want an instant vector",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sample (-want +got):\n%s", diff)
	}
}

func TestRealPrometheusRejectsABadQueryWithAStableError(t *testing.T) {
	t.Parallel()
	exporter, prom := realPrometheus(t)
	exportGauges(exporter, "badquery", 1)
	spec := realSpec("badquery", prom.URL)
	spec.Offset.Query = `sum(rate(kafka_consumergroup_lag{topic="badquery"}[1m]`
	tc := newTestCache(t, nil)

	first := tc.sample(t, spec, 4)
	tc.clock.Advance(time.Minute)
	second := tc.sample(t, spec, 4)

	prefix := "offset query failed on every address (" + prom.URL + ": query rejected (HTTP 400): "
	if !strings.HasPrefix(first.Error, prefix) {
		t.Errorf("Error = %q, want it to start with %q", first.Error, prefix)
	}
	if first.Error != second.Error {
		t.Errorf("the same bad query gave two different errors, which would make the condition flap:\n%q\n%q",
			first.Error, second.Error)
	}
	if len(first.Partitions) != 0 {
		t.Errorf("partitions = %+v, want none: a failed query yields no values", first.Partitions)
	}
}

func TestRealPrometheusFailover(t *testing.T) {
	t.Parallel()
	exporter, prom := realPrometheus(t)
	want := exportGauges(exporter, "failover", 1)
	waitForSeries(t, prom, `kafka_consumergroup_lag{topic="failover"}`, 4)
	waitForSeries(t, prom, `kafka_test_production_rate{topic="failover"}`, 3)
	waitForSeries(t, prom, `kafka_test_consumption_rate{topic="failover"}`, 3)

	down, err := promtest.FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	empty := newFakeProm(t, map[string]reply{})
	garbage := newFakeProm(t, map[string]reply{})
	slow := newFakeProm(t, map[string]reply{})
	for _, q := range queryTexts(realSpec("failover")) {
		garbage.setReply(q, reply{body: "<html>oops</html>"})
		slow.setReply(q, reply{delay: 5 * time.Second, body: vectorJSON()})
	}

	tests := []struct {
		name      string
		addresses []string
		failed    string // the address that failed, and why
	}{
		{"the first address is down", []string{"http://" + down, prom.URL}, "http://" + down + " failed (unreachable)"},
		{"the first address answers empty", []string{empty.URL, prom.URL}, ""},
		{"the second address answers garbage", []string{prom.URL, garbage.URL}, garbage.URL + " failed (unparsable response)"},
		{"the first address is too slow", []string{slow.URL, prom.URL}, slow.URL + " failed (timed out)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCache(t, func(o *Options) { o.RequestTimeout = 2 * time.Second })

			got := tc.sample(t, realSpec("failover", tt.addresses...), 4)

			if diff := cmp.Diff(want, got.Partitions); diff != "" || got.Error != "" {
				t.Errorf("Error = %q; partitions (-want +got):\n%s", got.Error, diff)
			}
			var wantProblems []string
			if tt.failed != "" {
				for _, kind := range []string{"consumption", "offset", "production"} {
					wantProblems = append(wantProblems, kind+" query: "+tt.failed+", answer taken from "+prom.URL)
				}
			}
			if diff := cmp.Diff(wantProblems, got.Problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRealPrometheusKilledKeepsTheLastValues(t *testing.T) {
	t.Parallel()
	exporter, sharedProm := realPrometheus(t)
	want := exportGauges(exporter, "killed", 1)
	own, err := promtest.StartPrometheus(shared.bin, []string{exporter.Addr}, prometheusReadyTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(own.Stop)
	waitForSeries(t, own, `kafka_test_consumption_rate{topic="killed"}`, 3)
	waitForSeries(t, own, `kafka_test_production_rate{topic="killed"}`, 3)
	waitForSeries(t, own, `kafka_consumergroup_lag{topic="killed"}`, 4)
	tc := newTestCache(t, nil)
	alone := realSpec("killed", own.URL)
	withReplica := realSpec("killed", own.URL, sharedProm.URL)
	replicaKey := Key{Namespace: "team-a", Name: "with-replica", UID: "uid-r"}

	good := tc.sample(t, alone, 4)
	if diff := cmp.Diff(want, good.Partitions); diff != "" || good.Error != "" {
		t.Fatalf("before the kill: Error = %q; partitions (-want +got):\n%s", good.Error, diff)
	}

	own.Stop()
	tc.clock.Advance(time.Minute)
	got := tc.sample(t, alone, 4)

	wantSample := &model.MetricsSample{Time: good.Time, Partitions: want,
		Error: "offset, production and consumption queries failed on every address (" + own.URL + ": unreachable)"}
	if diff := cmp.Diff(wantSample, got); diff != "" {
		t.Errorf("sample with Prometheus gone (-want +got):\n%s", diff)
	}
	if age := sampleAge(t, tc, testKey); age != 60 {
		t.Errorf("sample age %v s, want 60: the values are a minute old", age)
	}

	// The same Consumer with a second, live replica does not notice beyond a problem line.
	got = tc.Sample(t.Context(), replicaKey, withReplica, 4)
	if diff := cmp.Diff(want, got.Partitions); diff != "" || got.Error != "" {
		t.Errorf("with a live replica: Error = %q; partitions (-want +got):\n%s", got.Error, diff)
	}
}

// sampleAge reads the age gauge of one Consumer from the cache's registry.
func sampleAge(t *testing.T, tc testCache, key Key) float64 {
	t.Helper()
	families, err := tc.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "konsumerator_metrics_sample_age_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if got["namespace"] == key.Namespace && got["consumer"] == key.Name {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no sample age series for %s/%s", key.Namespace, key.Name)
	return 0
}

// queryTexts lists the three query texts of a spec, to program a fake for all of them.
func queryTexts(spec *konsumeratorv1.PrometheusAutoscalerSpec) []string {
	return []string{spec.Offset.Query, spec.Production.Query, spec.Consumption.Query}
}
