package controller

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/model"
)

// fig is the figures of one instance: lag in seconds (NaN: unknown), state, and cpu cores.
func fig(name string, lag float64, state string, cpu float64) model.InstanceFigures {
	f := model.InstanceFigures{Name: name, ScalingState: state,
		Requests: []model.ContainerRequest{{Container: "c", Resource: "cpu", Value: cpu}, {Container: "c", Resource: "memory", Value: 1e8}}}
	if !math.IsNaN(lag) {
		lagging := lag >= 10
		f.Lag, f.Lagging = &lag, &lagging
	}
	return f
}

// series lists every per-instance series as "metric namespace/consumer/deployment [state] [container.resource] value", sorted.
func series(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	var out []string
	for _, f := range families {
		switch f.GetName() {
		case "konsumerator_instance_lag_seconds", "konsumerator_instance_lagging", "konsumerator_instance_scaling_state",
			"konsumerator_instance_resource_requests":
		default:
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			s := strings.TrimPrefix(f.GetName(), "konsumerator_instance_") + " " + l["namespace"] + "/" + l["consumer"] + "/" + l["deployment"]
			if l["state"] != "" {
				s += " " + l["state"]
			}
			if l["resource"] != "" {
				s += " " + l["container"] + "." + l["resource"]
			}
			out = append(out, fmt.Sprintf("%s %g", s, m.GetGauge().GetValue()))
		}
	}
	sort.Strings(out)
	return out
}

func newTestInstanceMetrics(max int) (*InstanceMetrics, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	m := newInstanceMetrics(max)
	reg.MustRegister(m.collectors()...)
	return m, reg
}

func TestInstanceSeriesFollowThePlans(t *testing.T) {
	m, reg := newTestInstanceMetrics(100)
	log := logr.Discard()
	m.publish(log, "ns", "c", []model.InstanceFigures{fig("c-0", 0, "RUNNING", 0.3), fig("c-1", 12, "PENDING_SCALE_UP", 0.3)}, nil)
	assert.Equal(t, []string{
		"lag_seconds ns/c/c-0 0", "lag_seconds ns/c/c-1 12",
		"lagging ns/c/c-0 0", "lagging ns/c/c-1 1",
		"resource_requests ns/c/c-0 c.cpu 0.3", "resource_requests ns/c/c-0 c.memory 1e+08",
		"resource_requests ns/c/c-1 c.cpu 0.3", "resource_requests ns/c/c-1 c.memory 1e+08",
		"scaling_state ns/c/c-0 running 1", "scaling_state ns/c/c-1 pending_scale_up 1",
	}, series(t, reg))

	// c-1 is scaled up and c-0's lag becomes unknown: its lag series goes, its lagging keeps the last value,
	// the old state's series goes.
	m.publish(log, "ns", "c", []model.InstanceFigures{fig("c-0", math.NaN(), "RUNNING", 0.3), fig("c-1", math.Inf(1), "RUNNING", 1.5)}, nil)
	assert.Equal(t, []string{
		"lag_seconds ns/c/c-1 +Inf",
		"lagging ns/c/c-0 0", "lagging ns/c/c-1 1",
		"resource_requests ns/c/c-0 c.cpu 0.3", "resource_requests ns/c/c-0 c.memory 1e+08",
		"resource_requests ns/c/c-1 c.cpu 1.5", "resource_requests ns/c/c-1 c.memory 1e+08",
		"scaling_state ns/c/c-0 running 1", "scaling_state ns/c/c-1 running 1",
	}, series(t, reg))

	// An instance that goes (fewer partitions) takes its series with it; a container without a memory request
	// has no memory series.
	one := fig("c-0", 1, "PENDING_SCALE_DOWN", 0.2)
	one.Requests = one.Requests[:1]
	m.publish(log, "ns", "c", []model.InstanceFigures{one}, nil)
	assert.Equal(t, []string{
		"lag_seconds ns/c/c-0 1", "lagging ns/c/c-0 0",
		"resource_requests ns/c/c-0 c.cpu 0.2", "scaling_state ns/c/c-0 pending_scale_down 1",
	}, series(t, reg))

	// A plan that could not look at the instances (an invalid spec) leaves what was written and forgets the lag.
	m.publish(log, "ns", "c", nil, nil)
	assert.Equal(t, []string{
		"lagging ns/c/c-0 0", "resource_requests ns/c/c-0 c.cpu 0.2", "scaling_state ns/c/c-0 pending_scale_down 1",
	}, series(t, reg))

	// The Consumer goes: so do its series.
	m.forget("ns", "c")
	assert.Empty(t, series(t, reg))
	assert.Empty(t, m.owners)
}

func TestInstanceSeriesOfFailedWritesStayAsTheyWere(t *testing.T) {
	m, reg := newTestInstanceMetrics(100)
	log := logr.Discard()
	m.publish(log, "ns", "c", []model.InstanceFigures{fig("c-0", 0, "RUNNING", 0.3)}, nil)
	m.publish(log, "ns", "c", []model.InstanceFigures{fig("c-0", 20, "PENDING_SCALE_UP", 2), fig("c-1", 0, "RUNNING", 0.3)},
		map[string]bool{"c-0": true, "c-1": true})
	assert.Equal(t, []string{
		"lag_seconds ns/c/c-0 20", "lagging ns/c/c-0 1",
		"resource_requests ns/c/c-0 c.cpu 0.3", "resource_requests ns/c/c-0 c.memory 1e+08",
		"scaling_state ns/c/c-0 running 1",
	}, series(t, reg), "c-0 keeps its requests and state (the update was not written) and c-1, whose create failed, has none")
}

func TestInstanceSeriesAreBounded(t *testing.T) {
	m, reg := newTestInstanceMetrics(3)
	var logged []string
	log := funcr.New(func(prefix, args string) { logged = append(logged, args) }, funcr.Options{})
	three := func(owner string) []model.InstanceFigures {
		return []model.InstanceFigures{fig(owner+"-0", 0, "RUNNING", 1), fig(owner+"-1", 0, "RUNNING", 1), fig(owner+"-2", 0, "RUNNING", 1)}
	}
	m.publish(log, "ns", "a", three("a")[:2], nil)
	m.publish(log, "ns", "b", three("b"), nil)
	assert.Equal(t, 2.0, testutil.ToFloat64(m.Dropped), "b gets the one place left")
	require.Len(t, logged, 1)
	assert.Contains(t, logged[0], "--metrics-max-instances")
	assert.Len(t, series(t, reg), 3*5)

	// a keeps what it has and does not grow; b's dropped instances stay counted once per pass.
	m.publish(log, "ns", "a", three("a"), nil)
	m.publish(log, "ns", "b", three("b"), nil)
	assert.Equal(t, 3.0, testutil.ToFloat64(m.Dropped))
	assert.Len(t, logged, 1, "logged once")
	for _, s := range series(t, reg) {
		assert.NotContains(t, s, "a-2")
		assert.NotContains(t, s, "b-1")
	}

	// a goes: b gets the room.
	m.forget("ns", "a")
	assert.Equal(t, 2.0, testutil.ToFloat64(m.Dropped), "only b's are counted now")
	m.publish(log, "ns", "b", three("b"), nil)
	assert.Equal(t, 0.0, testutil.ToFloat64(m.Dropped))
	assert.Len(t, series(t, reg), 3*5)

	// Max 0 or less: no per-instance series at all.
	off, reg := newTestInstanceMetrics(-1)
	off.publish(log, "ns", "a", three("a"), nil)
	assert.Empty(t, series(t, reg))
	assert.Equal(t, 3.0, testutil.ToFloat64(off.Dropped))
}

// TestInstanceSeriesFromReconciles: the series come from real passes, and go with the instances.
func TestInstanceSeriesFromReconciles(t *testing.T) {
	ns := namespace(t, "perinstance")
	c := create(t, sampleConsumer(ns).Obj())
	// Partition 3 (instance c-1) is 30s behind; the rest keep up.
	samples.set(ns, "c", builder.Sample(time.Now().UTC().Truncate(time.Second)).Uniform(10, 100, 100, 0).
		Partition(3, 100, 100, 3000).Obj())
	t.Cleanup(func() { samples.set(ns, "c", nil) })
	reg := prometheus.NewRegistry()
	r := newTestReconciler(t, func(cfg *Config) { cfg.Registry = reg })
	converge(t, r, keyOf(c), nil)

	got := series(t, reg)
	for _, want := range []string{
		"lag_seconds " + ns + "/c/c-0 0", "lag_seconds " + ns + "/c/c-1 30",
		"scaling_state " + ns + "/c/c-3 running 1",
	} {
		assert.Contains(t, got, want)
	}
	// The requests are those the Deployments have.
	for name, d := range deployments(t, ns) {
		req := d.Spec.Template.Spec.Containers[0].Resources.Requests
		assert.Contains(t, got, fmt.Sprintf("resource_requests %s/c/%s busybox.cpu %g", ns, name, req.Cpu().AsApproximateFloat64()))
		assert.Contains(t, got, fmt.Sprintf("resource_requests %s/c/%s busybox.memory %g", ns, name, req.Memory().AsApproximateFloat64()))
	}
	assert.Len(t, got, 4*5, "4 instances, 5 series each:\n%s", strings.Join(got, "\n"))

	// Fewer partitions, fewer instances: the series of c-2 and c-3 go at once.
	update(t, keyOf(c), func(c *konsumeratorv1.Consumer) { c.Spec.NumPartitions = 6 })
	samples.set(ns, "c", builder.Sample(time.Now().UTC().Truncate(time.Second)).Uniform(6, 100, 100, 0).Obj())
	converge(t, r, keyOf(c), nil)
	for _, s := range series(t, reg) {
		assert.NotRegexp(t, "/c-[23] ", s)
	}
	assert.Len(t, series(t, reg), 2*5)
}
