package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/konsumerator/konsumerator/internal/demo"
	"github.com/konsumerator/konsumerator/internal/exporter"
)

// TestKafkaModeEndToEnd runs the demo with its Kafka-mode Consumer: the operator, as its own process, reads the
// offsets produced and committed in a Kafka protocol implementation (kfake, mirroring the synthetic exporter),
// sizes the instances for the steady load, and scales up the instance whose partitions spike, alone.
func TestKafkaModeEndToEnd(t *testing.T) {
	requireEnabled(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	h := startDemo(ctx, t, "konsumerator-e2e-kafka-", demo.Options{Kafka: true})
	d := h.d
	const laggingKafka = "demo-kafka-1"
	pendingUp := d.KafkaConsumer.Spec.Autoscaler.PendingScaleUpDuration.Duration

	waitFor := func(what string, timeout time.Duration, ok func(demo.State) bool) demo.State {
		t.Helper()
		start := time.Now()
		var st demo.State
		var err error
		for time.Since(start) < timeout {
			obs, cancel := context.WithTimeout(ctx, 10*time.Second)
			st, err = d.ObserveConsumer(obs, d.KafkaConsumer)
			cancel()
			if err == nil && st.Consumer != nil && ok(st) {
				t.Logf("after %s: %s | %s", time.Since(start).Round(time.Second), what, st.Summary())
				return st
			}
			if err := d.Kafka.Err(); err != nil {
				t.Fatalf("the Kafka mirror failed: %v", err)
			}
			time.Sleep(poll)
		}
		t.Fatalf("waited %s for: %s\n%s", timeout, what, h.diagnostics(st))
		return st
	}

	// Created before the second read (no rates yet: no data), the instances start at the policy minimum and are
	// scaled up once the offsets have moved: to the steady load's cpu, with whatever headroom a scale-up carries.
	st := waitFor("every kafka-mode instance Available, scaled up to at least "+steadyCPU+" from the offsets",
		3*time.Minute, func(st demo.State) bool {
			return allRunning(st) && allCPU(st, st.Instances[0].CPU) && !cpuAbove(t, steadyCPU, st.Instances[0].CPU) &&
				st.Instances[0].Scaling == "RUNNING"
		})
	before := map[string]demo.Instance{}
	for _, in := range st.Instances {
		before[in.Name] = in
	}
	steady := st.Instances[0].CPU

	d.Exporter.SetPhase(exporter.Spike)
	st = waitFor(laggingKafka+" cpu above "+steady+" from the spike in Kafka's offsets", pendingUp+2*time.Minute,
		func(st demo.State) bool {
			in, _ := st.Instance(laggingKafka)
			return cpuAbove(t, in.CPU, steady)
		})
	for _, name := range []string{"demo-kafka-0", "demo-kafka-2"} {
		if in, _ := st.Instance(name); in.CPU != before[name].CPU || in.UID != before[name].UID {
			t.Errorf("%s changed during demo-kafka-1's spike: was %+v, now %+v", name, before[name], in)
		}
	}
	in, _ := st.Instance(laggingKafka)
	t.Logf("spike: %s went from %s to %s cpu, read from Kafka's offsets", laggingKafka, steady, in.CPU)
	d.Exporter.SetPhase(exporter.Steady)
}
