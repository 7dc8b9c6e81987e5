package demo

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"

	"github.com/konsumerator/konsumerator/internal/exporter"
	"github.com/konsumerator/konsumerator/internal/testenv"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/observer/lag"
	"github.com/konsumerator/konsumerator/observer/lag/promtest"
	"github.com/konsumerator/konsumerator/planner"
)

// TestDemoConsumerReadsTheExporterThroughPrometheus proves the demo Consumer's three queries and the exporter
// fit: read through a real Prometheus by the operator's own metrics cache, the steady scenario gives every
// partition its production, consumption and backlog, and the planner sizes every instance at the 300m the
// end-to-end test expects.
func TestDemoConsumerReadsTheExporterThroughPrometheus(t *testing.T) {
	consumer, err := LoadConsumer(filepath.Join(testenv.RepoRoot(), ConsumerFile))
	if err != nil {
		t.Fatal(err)
	}
	scenario := Scenario()
	if consumer.Spec.NumPartitions != scenario.NumPartitions {
		t.Fatalf("the demo Consumer has %d partitions, the scenario %d", consumer.Spec.NumPartitions, scenario.NumPartitions)
	}
	prom := consumer.Spec.Autoscaler.Prometheus
	// The synthetic consumer is what the demo Consumer says it is, so the operator's decisions are the ones that
	// work the lag off.
	if prom.RatePerCore == nil || float64(*prom.RatePerCore) != scenario.PerCore {
		t.Fatalf("the demo Consumer's ratePerCore is %v, the synthetic consumer reads %g per core", prom.RatePerCore, scenario.PerCore)
	}
	for _, q := range []struct{ query, label string }{
		{prom.Offset.Query, prom.Offset.PartitionLabel},
		{prom.Production.Query, prom.Production.PartitionLabel},
		{prom.Consumption.Query, prom.Consumption.PartitionLabel},
	} {
		if q.label != exporter.PartitionLabel {
			t.Errorf("query %q reads partition label %q, the exporter writes %q", q.query, q.label, exporter.PartitionLabel)
		}
	}

	exp, err := exporter.Start(scenario)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(exp.Stop)
	bin, err := promtest.Binary()
	if err != nil {
		t.Fatal(err)
	}
	server, err := promtest.StartPrometheus(bin, []string{exp.Addr}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := WaitForData(ctx, server, consumer, time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{prom.Production.Query, prom.Consumption.Query} {
		if !strings.Contains(q, fmt.Sprintf("[%ds]", int(RateWindow.Seconds()))) {
			t.Errorf("query %q does not use RateWindow %s, which the demo waits for", q, RateWindow)
		}
	}

	cache, err := lag.NewCache(lag.Options{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	prom.Address = []string{server.URL}
	sample := cache.Sample(ctx, lag.Key{Namespace: "default", Name: consumer.Name, UID: "demo"}, prom, consumer.Spec.NumPartitions)
	if sample.Error != "" || len(sample.Problems) > 0 {
		t.Fatalf("sample error %q, problems %v", sample.Error, sample.Problems)
	}
	if len(sample.Partitions) != int(scenario.NumPartitions) {
		t.Fatalf("sample has %d partitions, want %d: %+v", len(sample.Partitions), scenario.NumPartitions, sample.Partitions)
	}
	steady := scenario.Steady
	for _, pm := range sample.Partitions {
		for name, got := range map[string]*float64{
			"production rate":  pm.ProductionRate,
			"consumption rate": pm.ConsumptionRate,
			// A consumer that keeps up is Latency (1s) of production behind.
			"messages behind": pm.MessagesBehind,
		} {
			if got == nil || math.Abs(*got-steady) > 0.1*steady {
				t.Errorf("partition %d %s = %v, want about %g", pm.Partition, name, deref0(got), steady)
			}
		}
	}

	plan := planner.Plan(&model.Snapshot{
		Now:     sample.Time,
		Owner:   model.Owner{APIVersion: "konsumerator.lwolf.org/v1", Kind: model.OwnerConsumer, Namespace: "default", Name: consumer.Name, UID: "demo", Generation: 1},
		Spec:    consumer.Spec,
		Metrics: sample,
	})
	if got := plan.Count(model.ActionCreate); got != 3 {
		t.Fatalf("plan creates %d instances, want 3: %+v", got, plan.Actions)
	}
	main := consumer.Spec.DeploymentTemplate.Template.Spec.Containers[0].Name
	for _, a := range plan.Actions {
		var cpu string
		for _, c := range a.Desired.Spec.Template.Spec.Containers {
			if *c.Name == main && c.Resources != nil && c.Resources.Requests != nil {
				q := (*c.Resources.Requests)[corev1.ResourceCPU]
				cpu = q.String()
			}
		}
		if cpu != "300m" {
			t.Errorf("%s: cpu request %q, want the steady 300m (%s)", a.Name, cpu, a.Reason)
		}
	}
}

func deref0(f *float64) any {
	if f == nil {
		return "no data"
	}
	return *f
}

func TestPrefixWriterPrefixesWholeLines(t *testing.T) {
	var out bytes.Buffer
	w := &PrefixWriter{Prefix: "op | ", Out: &out}
	for _, chunk := range []string{"one\ntw", "o\n", "three"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := out.String(), "op | one\nop | two\n"; got != want {
		t.Fatalf("got %q, want %q (an unfinished line waits for its end)", got, want)
	}
}

func TestTimelineCoversEveryPhase(t *testing.T) {
	seen := map[exporter.Phase]bool{}
	for _, s := range Timeline() {
		if s.For <= 0 {
			t.Errorf("phase %s lasts %s", s.Phase, s.For)
		}
		seen[s.Phase] = true
	}
	for _, ph := range exporter.Phases {
		if !seen[ph] {
			t.Errorf("the timeline never enters %s", ph)
		}
	}
	if !strings.HasPrefix(string(Timeline()[0].Phase), string(exporter.Steady)) {
		t.Errorf("the timeline must start steady, so the instances settle before the first spike")
	}
}
