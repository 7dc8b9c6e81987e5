package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// An excerpt of a kube-apiserver /metrics page: the bench counts writes from it.
const apiserverMetrics = `# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="apps",resource="deployments",scope="namespace",subresource="",verb="APPLY",version="v1"} 1000
apiserver_request_total{code="201",component="apiserver",dry_run="",group="apps",resource="deployments",scope="namespace",subresource="",verb="APPLY",version="v1"} 3
apiserver_request_total{code="200",component="apiserver",dry_run="All",group="apps",resource="deployments",scope="namespace",subresource="",verb="APPLY",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="apps",resource="deployments",scope="namespace",subresource="",verb="LIST",version="v1"} 12
apiserver_request_total{code="200",component="apiserver",dry_run="",group="konsumerator.lwolf.org",resource="consumers",scope="namespace",subresource="status",verb="APPLY",version="v1"} 2
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="namespaces",scope="cluster",subresource="",verb="POST",version="v1"} 1.5e+01
workqueue_depth{controller="consumer",name="consumer"} 0
weird{path="a \"quoted\" \\ value, with {braces}",x="y"} 4 1700000000000
`

func TestParseTextAndWrites(t *testing.T) {
	samples, err := parseText(strings.NewReader(apiserverMetrics))
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 8 {
		t.Fatalf("got %d samples, want 8", len(samples))
	}
	if got := samples[7].labels["path"]; got != `a "quoted" \ value, with {braces}` {
		t.Errorf("escaped label value = %q", got)
	}
	if samples[7].value != 4 {
		t.Errorf("value before a timestamp = %g, want 4", samples[7].value)
	}

	w := apiserverWrites(samples)
	// Dry runs persist nothing and reads are not writes.
	if got := w.String(); got != "consumers/status APPLY=2 deployments APPLY=1003 namespaces POST=15" {
		t.Errorf("writes = %q", got)
	}
	if got := w.of("deployments"); got != 1003 {
		t.Errorf("deployment writes = %g", got)
	}
	if got := w.of("consumers"); got != 0 {
		t.Errorf("consumers (without the status subresource) = %g, want 0", got)
	}

	before := writeCounts{"deployments APPLY": 1000, "namespaces POST": 15}
	if got := w.since(before).String(); got != "consumers/status APPLY=2 deployments APPLY=3" {
		t.Errorf("since = %q", got)
	}

	if v, ok := sum(samples, "workqueue_depth", map[string]string{"name": "consumer"}); !ok || v != 0 {
		t.Errorf("workqueue depth = %g, %v", v, ok)
	}
	if _, ok := sum(samples, "workqueue_depth", map[string]string{"name": "other"}); ok {
		t.Error("a sample of another queue matched")
	}
}

func TestParseTextRejectsGarbage(t *testing.T) {
	for _, in := range []string{"novalue", `m{a="b"`, `m{a=b} 1`, "m notanumber"} {
		if _, err := parseText(strings.NewReader(in)); err == nil {
			t.Errorf("%q parsed without an error", in)
		}
	}
}

func TestProcParsers(t *testing.T) {
	status := "Name:\tkonsumerator\nVmPeak:\t 1300000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40000 kB\nRssAnon:\t   10000 kB\nRssFile:\t   30000 kB\n"
	if got, err := parseVmHWM(status); err != nil || got != 50<<20 {
		t.Errorf("VmHWM = %d, %v; want 50 MiB", got, err)
	}
	if got, err := parseStatusKB(status, "VmRSS"); err != nil || got != 40000*1024 {
		t.Errorf("VmRSS = %d, %v", got, err)
	}
	if got, err := parseStatusKB(status, "RssFile"); err != nil || got != 30000*1024 {
		t.Errorf("RssFile = %d, %v", got, err)
	}
	if _, err := parseVmHWM("Name:\tx\n"); err == nil {
		t.Error("a status without VmHWM parsed")
	}
	// The command name may contain spaces and parentheses; utime=250 and stime=50 ticks.
	stat := "4242 (kon (sum) rator) S 1 4242 4242 0 -1 4194560 9000 0 0 0 250 50 0 0 20 0 12 0 100 1000000 5000"
	if got, err := parseCPUSeconds(stat); err != nil || got != 3 {
		t.Errorf("cpu seconds = %g, %v; want 3", got, err)
	}
}

func TestMedianAndSizes(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median of 3 = %g", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 4 = %g", got)
	}
	sizes, err := parseSizes("100, 1000")
	if err != nil || len(sizes) != 2 || sizes[0] != 100 || sizes[1] != 1000 {
		t.Errorf("sizes = %v, %v", sizes, err)
	}
	for _, bad := range []string{"", "0", "x", "-5"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestParseScenarios(t *testing.T) {
	got, err := parseScenarios("create, resize")
	if err != nil || !got[scenarioCreate] || !got[scenarioResize] || len(got) != 2 {
		t.Errorf("scenarios = %v, %v", got, err)
	}
	if got, err := parseScenarios("resize"); err != nil || got[scenarioCreate] || !got[scenarioResize] {
		t.Errorf("resize alone = %v, %v", got, err)
	}
	for _, bad := range []string{"", ",", "delete", "create,restart"} {
		if _, err := parseScenarios(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestManyScenario(t *testing.T) {
	if got, err := parseScenarios("many"); err != nil || !got[scenarioMany] || got[scenarioCreate] {
		t.Errorf("parseScenarios(many) = %v, %v", got, err)
	}
	o := manyOptions{consumers: 1000, instances: 5, namespaces: 50, syncPeriod: 30 * time.Second}
	// 9,000 queries in 90 s from 1,000 Consumers read every 30 s: three per Consumer per period.
	r := manyResult{o: o, queries: 9000, steadyWindow: 90 * time.Second}
	if q := r.queriesPerConsumerPerPeriod(); q != 3 {
		t.Errorf("queries per Consumer per period = %g, want 3", q)
	}
	c := manyConsumer(o, 42, "http://prometheus:9090")
	if c.Namespace != "many-042" || c.Name != "group-0042" || c.Spec.NumPartitions != 5 {
		t.Errorf("Consumer 42 is %s/%s with %d partitions", c.Namespace, c.Name, c.Spec.NumPartitions)
	}
	if q := c.Spec.Autoscaler.Prometheus.Offset.Query; q != `max(bench_many_lag{group="group-0042"}) by (partition)` {
		t.Errorf("offset query %q", q)
	}
	if c.UID != "" || c.Spec.Autoscaler.Prometheus.MinSyncPeriod.Duration != 30*time.Second {
		t.Errorf("UID %q, minSyncPeriod %v", c.UID, c.Spec.Autoscaler.Prometheus.MinSyncPeriod)
	}
	if w := steadyOperatorWrites(writeCounts{"leases PUT": 3, "consumers/status APPLY": 2}); w != 2 {
		t.Errorf("steady operator writes %g, want 2 (Lease renewals are the API server's)", w)
	}
}

// The API server's time by kind of request, between two readings of its /metrics: watches are left out (they
// last as long as the connection), the busiest kind comes first.
func TestBusiestRequests(t *testing.T) {
	page := func(applies, applySeconds, statusSeconds float64) []sample {
		text := fmt.Sprintf(`apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="",verb="APPLY",version="v1"} %g
apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="",verb="APPLY",version="v1"} %g
apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="konsumerator.lwolf.org",resource="consumers",scope="resource",subresource="status",verb="APPLY",version="v1"} %g
apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="konsumerator.lwolf.org",resource="consumers",scope="resource",subresource="status",verb="APPLY",version="v1"} 10
apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="apps",resource="deployments",scope="cluster",subresource="",verb="WATCH",version="v1"} 5000
apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="apps",resource="deployments",scope="cluster",subresource="",verb="WATCH",version="v1"} 3
`, applySeconds, applies, statusSeconds)
		samples, err := parseText(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		return samples
	}
	before := requestTimes(page(100, 2, 1))
	after := requestTimes(page(1100, 22, 1.5))
	got := serverTimeText(busiest(before, after, 5))
	if want := "deployments APPLY 1000 × 20.0 ms = 20.0 s"; got != want {
		t.Errorf("busiest = %q, want %q (no status write happened between the readings, and watches do not count)", got, want)
	}
	got = serverTimeText(busiest(nil, after, 1))
	if want := "deployments APPLY 1100 × 20.0 ms = 22.0 s"; got != want {
		t.Errorf("busiest of one = %q, want %q", got, want)
	}
}

// The report says which GOGC the operator ran with: the last GOGC of -operator-env, else the bench's own, else
// the operator's default.
func TestTheReportNamesTheOperatorsGOGC(t *testing.T) {
	unset := func(string) (string, bool) { return "", false }
	benchHas := func(k string) (string, bool) { return map[string]string{"GOGC": "200"}[k], k == "GOGC" }
	for _, tc := range []struct {
		env    []string
		lookup func(string) (string, bool)
		want   string
	}{
		{nil, unset, "GOGC=50 (the operator's default)"},
		{nil, benchHas, "GOGC=200 (the bench's environment)"},
		{[]string{"GOGC=100", "GOMEMLIMIT=50MiB", "GOGC=75"}, benchHas, "GOGC=75 (-operator-env)"},
		{[]string{"GOGC="}, benchHas, "GOGC=50 (the operator's default)"},
	} {
		if got := gcSettingText(tc.env, tc.lookup); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.env, got, tc.want)
		}
	}
}
