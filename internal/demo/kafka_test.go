package demo

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/konsumerator/konsumerator/internal/exporter"
	"github.com/konsumerator/konsumerator/observer/lag"
	"github.com/konsumerator/konsumerator/observer/lag/kafka"
)

// The mirror makes Kafka's offsets follow the exporter's, so the Kafka source reads the backlog the exporter
// serves to Prometheus.
func TestKafkaMirrorFollowsTheExporter(t *testing.T) {
	exp, err := exporter.Start(Scenario())
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Stop()
	time.Sleep(time.Second) // offsets to catch up with at once
	m, err := StartKafkaMirror(exp, Scenario().NumPartitions)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	exp.SetPhase(exporter.Spike)
	time.Sleep(2 * time.Second)

	consumer, err := LoadConsumer("../../" + ConsumerFile)
	if err != nil {
		t.Fatal(err)
	}
	kc := KafkaConsumer(consumer, m.Addrs)
	samples, err := kafka.New(kafka.Options{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := samples.Sample(ctx, lag.Key{Namespace: kc.Namespace, Name: kc.Name, UID: "u"}, kc.Spec.Autoscaler.Kafka, kc.Spec.NumPartitions)
	if got.Error != "" || len(got.Partitions) != int(kc.Spec.NumPartitions) {
		t.Fatalf("sample %+v", got)
	}
	if err := m.Err(); err != nil {
		t.Fatal(err)
	}
	behind := exp.Behind()
	for _, p := range got.Partitions {
		// The mirror lags the exporter by at most one sync (250 ms) of the spike's 50 messages/s.
		if p.MessagesBehind == nil || math.Abs(*p.MessagesBehind-behind[p.Partition]) > 20 {
			t.Errorf("partition %d: Kafka's backlog %v, the exporter's %.1f", p.Partition, derefF(p.MessagesBehind), behind[p.Partition])
		}
	}
	if b := got.Partitions[2].MessagesBehind; b == nil || *b < 20 {
		t.Errorf("the spiking partition 2 has a backlog of %v, want one that grows", derefF(b))
	}
}

func derefF(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
