package planner

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/model"
)

func TestAssign(t *testing.T) {
	for _, tc := range []struct {
		n, k int32
		want string
	}{
		{10, 3, "[0-2][3-5][6-7][8-9]"},
		{12, 5, "[0-3][4-7][8-11]"},
		{1, 1, "[0-0]"},
		{5, 0, "[0-0][1-1][2-2][3-3][4-4]"},
		{5, -3, "[0-0][1-1][2-2][3-3][4-4]"},
		{7, 7, "[0-6]"},
		{7, 100, "[0-6]"},
		{100, 10, "[0-9][10-19][20-29][30-39][40-49][50-59][60-69][70-79][80-89][90-99]"},
		{0, 3, ""},
	} {
		t.Run(fmt.Sprintf("n=%d,k=%d", tc.n, tc.k), func(t *testing.T) {
			got := ""
			for _, r := range Assign(tc.n, tc.k) {
				got += fmt.Sprintf("[%d-%d]", r.First, r.First+r.Count-1)
			}
			if got != tc.want {
				t.Errorf("Assign(%d, %d) = %s, want %s", tc.n, tc.k, got, tc.want)
			}
		})
	}
}

func TestInstanceOfMatchesAssign(t *testing.T) {
	for n := int32(1); n <= 60; n++ {
		for k := int32(1); k <= n+1; k++ {
			for i, r := range Assign(n, k) {
				for p := r.First; p < r.First+r.Count; p++ {
					if got := instanceOf(p, n, k); got != int32(i) {
						t.Fatalf("instanceOf(%d, %d, %d) = %d, want %d", p, n, k, got, i)
					}
				}
			}
		}
	}
}

func TestPartitionAnnotation(t *testing.T) {
	if got := (Range{First: 3, Count: 3}).String(); got != "3,4,5" {
		t.Errorf("got %q", got)
	}
	for _, tc := range []struct {
		in   string
		want []int32
		ok   bool
	}{
		{"0,1,2", []int32{0, 1, 2}, true},
		{" 7 ", []int32{7}, true},
		{"", nil, false},
		{"1,,2", nil, false},
		{"-1", nil, false},
		{"x", nil, false},
	} {
		got, ok := parsePartitions(tc.in)
		if ok != tc.ok || ok && !cmp.Equal(got, tc.want) {
			t.Errorf("parsePartitions(%q) = %v, %v", tc.in, got, ok)
		}
	}
}

// TestHysteresis covers every cell of state × direction, with lag and timing variants.
func TestHysteresis(t *testing.T) {
	now := builder.Epoch
	up, down := 5*time.Minute, 15*time.Minute
	at := func(s ScalingState, ago time.Duration) scalingState {
		return scalingState{state: s, since: now.Add(-ago), raw: now.Add(-ago).Format(time.RFC3339)}
	}
	type want struct {
		apply  bool
		state  ScalingState
		since  time.Duration // ago
		ripens time.Duration // from now; -1 for none
	}
	for _, tc := range []struct {
		name     string
		current  scalingState
		dir      direction
		lagging  bool
		critical bool
		want     want
	}{
		{"running/none", at(StateRunning, time.Hour), dirNone, false, false, want{false, StateRunning, time.Hour, -1}},
		{"running/up enters pending", at(StateRunning, time.Hour), dirUp, false, false, want{false, StatePendingScaleUp, 0, up}},
		{"running/up critical applies", at(StateRunning, time.Hour), dirUp, true, true, want{true, StateRunning, time.Hour, -1}},
		{"running/down enters pending", at(StateRunning, time.Hour), dirDown, false, false, want{false, StatePendingScaleDown, 0, down}},
		{"running/down lagging stays", at(StateRunning, time.Hour), dirDown, true, false, want{false, StateRunning, time.Hour, -1}},
		{"pending-up/none leaves", at(StatePendingScaleUp, time.Minute), dirNone, false, false, want{false, StateRunning, 0, -1}},
		{"pending-up/up waits", at(StatePendingScaleUp, time.Minute), dirUp, false, false, want{false, StatePendingScaleUp, time.Minute, 4 * time.Minute}},
		{"pending-up/up ripe applies", at(StatePendingScaleUp, up), dirUp, false, false, want{true, StateRunning, 0, -1}},
		{"pending-up/up critical applies at once", at(StatePendingScaleUp, time.Minute), dirUp, true, true, want{true, StateRunning, 0, -1}},
		{"pending-up/down turns pending-down", at(StatePendingScaleUp, time.Minute), dirDown, false, false, want{false, StatePendingScaleDown, 0, down}},
		{"pending-up/down lagging leaves", at(StatePendingScaleUp, time.Minute), dirDown, true, false, want{false, StateRunning, 0, -1}},
		{"pending-down/none leaves", at(StatePendingScaleDown, time.Minute), dirNone, false, false, want{false, StateRunning, 0, -1}},
		{"pending-down/up turns pending-up", at(StatePendingScaleDown, time.Minute), dirUp, true, false, want{false, StatePendingScaleUp, 0, up}},
		{"pending-down/up critical applies", at(StatePendingScaleDown, time.Minute), dirUp, true, true, want{true, StateRunning, 0, -1}},
		{"pending-down/down waits", at(StatePendingScaleDown, time.Minute), dirDown, false, false, want{false, StatePendingScaleDown, time.Minute, 14 * time.Minute}},
		{"pending-down/down ripe applies", at(StatePendingScaleDown, 20*time.Minute), dirDown, false, false, want{true, StateRunning, 0, -1}},
		{"pending-down/down lagging never scales down", at(StatePendingScaleDown, 20*time.Minute), dirDown, true, false, want{false, StateRunning, 0, -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decideScaling(scalingInput{current: tc.current, dir: tc.dir, lagging: tc.lagging, critical: tc.critical}, now, up, down)
			got := want{apply: d.apply, state: d.next.state, since: now.Sub(d.next.since), ripens: -1}
			if !d.ripens.IsZero() {
				got.ripens = d.ripens.Sub(now)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v (reason %q)", got, tc.want, d.reason)
			}
		})
	}
}

func TestHysteresisZeroWaitAppliesAtOnce(t *testing.T) {
	now := builder.Epoch
	for _, dir := range []direction{dirUp, dirDown} {
		d := decideScaling(scalingInput{current: scalingState{state: StateRunning, since: now}, dir: dir}, now, 0, 0)
		if !d.apply || d.next.state != StateRunning {
			t.Errorf("%s with no wait: %+v", dir, d)
		}
	}
}

func TestReadScalingState(t *testing.T) {
	now := builder.Epoch
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	for _, tc := range []struct {
		status, change string
		want           ScalingState
		known          bool
	}{
		{"RUNNING", ts(-time.Hour), StateRunning, true},
		{"PENDING_SCALE_UP", ts(-time.Minute), StatePendingScaleUp, true},
		{"PENDING_SCALE_DOWN", ts(-time.Minute), StatePendingScaleDown, true},
		{"PENDING_SCALE_UP", "not a time", StateRunning, false},
		{"PENDING_SCALE_UP", ts(time.Hour), StateRunning, false},
		{"pending_scale_up", ts(-time.Minute), StateRunning, false},
		{"", "", StateRunning, false},
		{"\x00garbage", ts(-time.Minute), StateRunning, false},
	} {
		got := readScalingState(map[string]string{
			konsumeratorv1.AnnotationScalingStatus:       tc.status,
			konsumeratorv1.AnnotationScalingStatusChange: tc.change,
		}, now)
		if got.state != tc.want || got.since.IsZero() == tc.known {
			t.Errorf("(%q, %q) = %+v, want %s known=%v", tc.status, tc.change, got, tc.want, tc.known)
		}
	}
	if got := readScalingState(nil, now); got.state != StateRunning {
		t.Errorf("nil annotations: %+v", got)
	}
}

func rr(req, lim string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: builder.Resources(req), Limits: builder.Resources(lim)}
}

func TestGOMAXPROCSAndGOMEMLIMIT(t *testing.T) {
	for _, tc := range []struct {
		limits            string
		procs, mem        string
		hasProcs, hasMems bool
	}{
		{"cpu=100m,memory=100M", "1", "90000000", true, true},
		{"cpu=1,memory=1Gi", "1", "966367641", true, true},
		{"cpu=1500m,memory=1G", "2", "900000000", true, true},
		{"cpu=2,memory=3Gi", "2", "2899102924", true, true},
		{"cpu=64,memory=1Ti", "64", "989560464998", true, true},
		{"cpu=1m", "1", "", true, false},
		{"memory=1", "", "0", false, true},
		{"memory=8E", "", "7200000000000000000", false, true},
		{"", "", "", false, false},
	} {
		t.Run(tc.limits, func(t *testing.T) {
			r := rr("", tc.limits)
			procs, ok := GOMAXPROCS(r)
			if procs != tc.procs || ok != tc.hasProcs {
				t.Errorf("GOMAXPROCS = %q, %v; want %q", procs, ok, tc.procs)
			}
			mem, ok := GOMEMLIMIT(r)
			if mem != tc.mem || ok != tc.hasMems {
				t.Errorf("GOMEMLIMIT = %q, %v; want %q", mem, ok, tc.mem)
			}
		})
	}
}

func TestContainerEnv(t *testing.T) {
	ie := &instanceEnv{partitionKey: "PARTS", partitions: "3,4", numPartitions: "10", instance: "1", numInstances: "5"}
	user := []corev1.EnvVar{{Name: "A", Value: "a"}, {Name: "PARTS", Value: "mine"}, {Name: "GOMAXPROCS", Value: "99"}, {Name: "Z", Value: "$(PARTS)"}}
	got := containerEnv(nil, user, ie, rr("cpu=500m", "cpu=2500m,memory=1Gi"))
	want := []corev1.EnvVar{
		{Name: "PARTS", Value: "3,4"}, {Name: konsumeratorv1.EnvNumPartitions, Value: "10"},
		{Name: konsumeratorv1.EnvInstance, Value: "1"}, {Name: konsumeratorv1.EnvNumInstances, Value: "5"},
		{Name: "GOMAXPROCS", Value: "3"}, {Name: "GOMEMLIMIT", Value: "966367641"},
		{Name: "A", Value: "a"}, {Name: "Z", Value: "$(PARTS)"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("env (-want +got):\n%s", d)
	}
	// Without a CPU limit the user's own GOMAXPROCS stays.
	got = containerEnv(nil, user, ie, rr("cpu=500m", ""))
	if e := findEnv(got, "GOMAXPROCS"); e == nil || e.Value != "99" {
		t.Errorf("user's GOMAXPROCS without a limit: %+v", e)
	}
}

func testSettings(t *testing.T, c *builder.ConsumerWrapper) *settings {
	t.Helper()
	st, reason, msg := newSettings(builder.Snapshot(c.Obj()).Obj())
	if st == nil {
		t.Fatalf("%s: %s", reason, msg)
	}
	return st
}

func TestSizing(t *testing.T) {
	res := builder.Resources
	base := func() *builder.ConsumerWrapper {
		return builder.Consumer("c").Prometheus(1000, "1Gi").
			Policy("busybox", res("cpu=200m,memory=256Mi"), res("cpu=3,memory=2Gi"))
	}
	for _, tc := range []struct {
		name     string
		c        *builder.ConsumerWrapper
		rate     float64
		critical bool
		want     string
	}{
		{"rounds up to the increment", base(), 1234, false, "req cpu=1300m,memory=2Gi lim cpu=2,memory=2Gi"},
		{"min applies to requests", base(), 10, false, "req cpu=200m,memory=1Gi lim cpu=1,memory=1Gi"},
		{"max caps requests and limits", base(), 9000, false, "req cpu=3,memory=2Gi lim cpu=3,memory=2Gi"},
		{"critical gives max", base(), 10, true, "req cpu=3,memory=2Gi lim cpu=3,memory=2Gi"},
		{"no policy is bounded at 8 cores", builder.Consumer("c").Prometheus(1000, "1Gi"), 9000, false, "req cpu=8,memory=8Gi lim cpu=8,memory=8Gi"},
		{"no policy below the bound", builder.Consumer("c").Prometheus(1000, "1Gi"), 7000, false, "req cpu=7,memory=7Gi lim cpu=7,memory=7Gi"},
		{"increment 250m", base().CPUIncrement("250m"), 1001, false, "req cpu=1250m,memory=2Gi lim cpu=2,memory=2Gi"},
		{"absurd rate is capped by max", base(), math.Inf(1), false, "req cpu=3,memory=2Gi lim cpu=3,memory=2Gi"},
		{"min above max: max wins", builder.Consumer("c").Prometheus(1000, "1Gi").
			Policy("busybox", res("cpu=4"), res("cpu=2")), 100, false, "req cpu=2,memory=2Gi lim cpu=2,memory=2Gi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := testSettings(t, tc.c)
			c := tc.c.Obj().Spec.DeploymentTemplate.Template.Spec.Containers[0]
			got := st.autoSize(&c, st.estimateMilli(tc.rate), tc.critical)
			if s := sizeText(got); s != tc.want {
				t.Errorf("got %s, want %s", s, tc.want)
			}
		})
	}
}

func sizeText(r corev1.ResourceRequirements) string {
	list := func(l corev1.ResourceList) string {
		s := ""
		for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := l[n]; ok {
				if s != "" {
					s += ","
				}
				s += string(n) + "=" + q.String()
			}
		}
		return s
	}
	return "req " + list(r.Requests) + " lim " + list(r.Limits)
}

func TestWithinPolicy(t *testing.T) {
	st := testSettings(t, builder.Consumer("c").Prometheus(1000, "1Gi").
		Policy("busybox", builder.Resources("cpu=200m,memory=256Mi"), builder.Resources("cpu=2,memory=1Gi")))
	for _, tc := range []struct{ in, want string }{
		{"req cpu=500m,memory=512Mi lim cpu=1,memory=512Mi", "req cpu=500m,memory=512Mi lim cpu=1,memory=512Mi"},
		{"req cpu=5,memory=4Gi lim cpu=8,memory=4Gi", "req cpu=2,memory=1Gi lim cpu=2,memory=1Gi"},
		{"req cpu=1m lim ", "req cpu=200m,memory=256Mi lim "},
		{"req cpu=1500m lim cpu=1", "req cpu=1,memory=256Mi lim cpu=1"},
	} {
		var req, lim string
		fmt.Sscanf(tc.in, "req %s lim %s", &req, &lim)
		got := sizeText(st.withinPolicy("busybox", rr(req, lim)))
		if got != tc.want {
			t.Errorf("withinPolicy(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestLoadAndLag(t *testing.T) {
	st := testSettings(t, builder.Consumer("c").Prometheus(1000, "1Gi").Lags(5*time.Minute, time.Hour, 10*time.Minute))
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name           string
		prod, cons, bh *float64
		required       float64
		lag            time.Duration
		has            bool
	}{
		{"steady", f(100), f(100), f(0), 100, 0, true},
		{"backlog adds behind/recovery", f(100), f(100), f(60000), 200, 10 * time.Minute, true},
		{"no production, backlog, consuming", f(0), f(50), f(6000), 10, 2 * time.Minute, true},
		{"backlog, nothing consumed: infinite", f(0), f(0), f(6000), 10, infiniteLag, true},
		{"0/0 is no lag", f(0), f(0), f(0), 0, 0, true},
		{"NaN and negatives", f(math.NaN()), f(-5), f(-100), 0, 0, true},
		{"production unknown: consumption stands in", nil, f(300), f(0), 300, 0, true},
		{"nothing", nil, nil, nil, 0, 0, false},
		// A missing figure is no data, never zero: a fresh Prometheus may have the backlog before any rate.
		{"backlog without any rate is no data", nil, nil, f(6000), 0, 0, false},
		{"rates without the backlog are no data", f(100), f(100), nil, 0, 0, false},
		{"consumption unknown: production paces the backlog", f(100), nil, f(6000), 110, time.Minute, true},
		{"nothing produced, consumption unknown: the pace is unknown", f(0), nil, f(6000), 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := loadOf(st, &model.PartitionMetrics{ProductionRate: tc.prod, ConsumptionRate: tc.cons, MessagesBehind: tc.bh})
			if l.has != tc.has || math.Abs(l.required-tc.required) > 1e-9 || l.lag != tc.lag {
				t.Errorf("got %+v, want required=%v lag=%v has=%v", l, tc.required, tc.lag, tc.has)
			}
		})
	}
}

func TestStaleness(t *testing.T) {
	now := builder.Epoch
	c := builder.Consumer("c").Partitions(2).Prometheus(1000, "1Gi").MinSyncPeriod(time.Minute)
	for _, tc := range []struct {
		name   string
		sample *model.MetricsSample
		opts   model.Options
		usable bool
		reason string
	}{
		{"nil", nil, model.Options{}, false, konsumeratorv1.ReasonNoMetrics},
		{"zero time", &model.MetricsSample{}, model.Options{}, false, konsumeratorv1.ReasonNoMetrics},
		{"zero time with error", &model.MetricsSample{Error: "boom"}, model.Options{}, false, konsumeratorv1.ReasonMetricsFetchFailed},
		{"fresh", builder.Sample(now.Add(-time.Minute)).Uniform(2, 1, 1, 0).Obj(), model.Options{}, true, konsumeratorv1.ReasonMetricsFresh},
		{"3m is still fresh", builder.Sample(now.Add(-3*time.Minute)).Uniform(2, 1, 1, 0).Obj(), model.Options{}, true, konsumeratorv1.ReasonMetricsFresh},
		{"older than 3 × minSyncPeriod", builder.Sample(now.Add(-3*time.Minute-time.Second)).Uniform(2, 1, 1, 0).Obj(), model.Options{}, false, konsumeratorv1.ReasonMetricsStale},
		{"option overrides", builder.Sample(now.Add(-2*time.Minute)).Uniform(2, 1, 1, 0).Obj(), model.Options{MetricsStaleAfter: model.Duration(time.Minute)}, false, konsumeratorv1.ReasonMetricsStale},
		{"stale with error", builder.Sample(now.Add(-time.Hour)).Uniform(2, 1, 1, 0).Error("down").Obj(), model.Options{}, false, konsumeratorv1.ReasonMetricsFetchFailed},
		{"partial", builder.Sample(now).Partition(1, 1, 1, 0).Obj(), model.Options{}, true, konsumeratorv1.ReasonPartialMetrics},
		{"future sample is fresh", builder.Sample(now.Add(time.Minute)).Uniform(2, 1, 1, 0).Obj(), model.Options{}, true, konsumeratorv1.ReasonMetricsFresh},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := builder.Snapshot(c.Obj()).Options(tc.opts).Obj()
			st, _, _ := newSettings(s)
			v := viewMetrics(st, tc.sample, now)
			if v.usable != tc.usable || v.reason != tc.reason {
				t.Errorf("got usable=%v reason=%s (%s)", v.usable, v.reason, v.message)
			}
		})
	}
}

// TestBudgetFairness: water-filling gives small demands in full and cuts large ones to a common level.
func TestBudgetFairness(t *testing.T) {
	res := builder.Resources
	c := builder.Consumer("c").Partitions(4).Prometheus(1000, "1Gi").
		Policy("busybox", res("cpu=100m"), res("cpu=8")).GlobalMax(res("cpu=6"))
	m := builder.Sample(builder.Epoch).Partition(0, 300, 300, 0).Partition(1, 1200, 1200, 0).
		Partition(2, 3000, 3000, 0).Partition(3, 3900, 3900, 0).Obj()
	p := Plan(builder.Snapshot(c.Obj()).Metrics(m).Obj())
	var got []string
	total := resource.Quantity{}
	for _, a := range p.Actions {
		d := fromApplyConfiguration(a)
		q := d.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]
		total.Add(q)
		got = append(got, q.String())
	}
	// demand 300m + 1200m + 3000m + 3900m = 8.4 > 6: level 2200m → 300m, 1200m, 2200m, 2200m = 5.9
	if want := []string{"300m", "1200m", "2200m", "2200m"}; !cmp.Equal(got, want) {
		t.Errorf("requests %v, want %v", got, want)
	}
	if total.Cmp(resource.MustParse("6")) > 0 {
		t.Errorf("total %s exceeds the budget", total.String())
	}
}

func TestNeverPanics(t *testing.T) {
	neg := int32(-4)
	for _, s := range []*model.Snapshot{
		nil,
		{},
		{Spec: konsumeratorv1.ConsumerSpec{NumPartitions: 3, Name: "x", NumPartitionsPerInstance: &neg}},
		{Spec: konsumeratorv1.ConsumerSpec{NumPartitions: math.MaxInt32, Name: "x"}},
		{Spec: konsumeratorv1.ConsumerSpec{NumPartitions: 2, Name: "x", Autoscaler: &konsumeratorv1.AutoscalerSpec{Mode: "prometheus"}}},
		{Spec: konsumeratorv1.ConsumerSpec{NumPartitions: 2, Name: "x", DeploymentTemplate: builder.Consumer("x").Obj().Spec.DeploymentTemplate,
			Autoscaler: &konsumeratorv1.AutoscalerSpec{Mode: "prometheus", Prometheus: &konsumeratorv1.PrometheusAutoscalerSpec{SizingSettings: konsumeratorv1.SizingSettings{RamPerCore: resource.MustParse("1")}}}},
			Metrics: &model.MetricsSample{Time: builder.Epoch, Partitions: []model.PartitionMetrics{{Partition: 99}, {Partition: -1}}}},
	} {
		p := plan(s)
		if p.Changed() && (s == nil || s.Spec.Autoscaler == nil || s.Spec.Autoscaler.Prometheus == nil) {
			t.Errorf("garbage led to writes: %s", Text(p))
		}
	}
}

func TestYieldedPaths(t *testing.T) {
	got := yieldedPaths(`.spec.template.spec.containers[name="busybox"].ports[containerPort=80,protocol="TCP"],` +
		`.spec.template.spec.containers[name="busybox"].env[name="A,B"].value,.metadata.finalizers[="x]y"],` +
		` .spec.replicas`)
	want := []string{
		"spec.template.spec.containers[busybox].ports[containerPort=80,protocol=TCP]",
		"spec.template.spec.containers[busybox].env[A,B].value",
		"metadata.finalizers[x]y]",
		"spec.replicas",
	}
	if !cmp.Equal(got, want) {
		t.Errorf("yieldedPaths:\n got %q\nwant %q", got, want)
	}
}
