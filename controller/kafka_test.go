package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/observer"
	"github.com/konsumerator/konsumerator/observer/lag"
	"github.com/konsumerator/konsumerator/observer/lag/kafka"
	"github.com/konsumerator/konsumerator/planner"
)

// TestKafkaModeConsumerIsSizedFromOffsets runs a whole manager with the real caches against a Kafka protocol
// implementation (kfake): a Consumer in kafka mode whose group is far behind gets its maximum CPU once two reads
// show that nothing is consumed, and when the brokers go away it says so and keeps its resources.
func TestKafkaModeConsumerIsSizedFromOffsets(t *testing.T) {
	ns := namespace(t, "kafka-mode")
	const topic, group = "orders", "orders-consumer"
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic))
	if err != nil {
		t.Fatal(err)
	}
	addrs := kc.ListenAddrs()
	closed := false
	defer func() {
		if !closed {
			kc.Close()
		}
	}()
	producer, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for p := range int32(2) {
		recs := make([]*kgo.Record, 3000)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: topic, Partition: p, Value: []byte("x")}
		}
		if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	commits := make(kadm.Offsets)
	commits.AddOffset(topic, 0, 0, -1)
	commits.AddOffset(topic, 1, 0, -1)
	if _, err := kadm.NewClient(producer).CommitOffsets(ctx, group, commits); err != nil {
		t.Fatal(err)
	}

	cacheOpts := CacheOptions()
	cacheOpts.DefaultNamespaces = map[string]cache.Config{ns: {}}
	m, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: env.Scheme, Cache: cacheOpts,
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: ptr(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	shared, err := lag.NewInstruments(reg)
	if err != nil {
		t.Fatal(err)
	}
	secrets := observer.SecretKeys{Reader: m.GetAPIReader()}
	prom, err := lag.NewCache(lag.Options{Registerer: reg, Instruments: shared, Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	offsets, err := kafka.New(kafka.Options{Registerer: reg, Instruments: shared, Secrets: secrets, RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	source := observer.Samples{Sources: lag.Readers{prom, offsets}, Usable: planner.Usable}
	r, err := Setup(m, Config{Planner: planner.Plan, Metrics: source, Samples: source, Registry: reg,
		ApplyWorkers: 4, SyncPeriod: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	panics = append(panics, r.Metrics)
	go func() { _ = m.Start(ctx) }()

	c := create(t, builder.Consumer("orders").Namespace(ns).Partitions(2).PerInstance(1).
		Prometheus(100, "100M").Lags(5*time.Second, 10*time.Second, 10*time.Second).MinSyncPeriod(time.Second).
		Policy("busybox", builder.Resources("cpu=100m,memory=100M"), builder.Resources("cpu=2,memory=1G")).
		Kafka(addrs, topic, group).Obj())

	cpuOf := func() map[string]string {
		out := map[string]string{}
		for name, d := range deployments(t, ns) {
			q := container(d, "busybox").Resources.Requests["cpu"]
			out[name] = q.String()
		}
		return out
	}
	eventually(t, "both instances to get the most CPU the policy allows", func() (bool, string) {
		got := cpuOf()
		return len(got) == 2 && got["orders-0"] == "2" && got["orders-1"] == "2", fmt.Sprint(got)
	})
	eventually(t, "MetricsAvailable to be True", func() (bool, string) {
		cond := meta.FindStatusCondition(consumer(t, keyOf(c)).Status.Conditions, konsumeratorv1.ConditionMetricsAvailable)
		if cond == nil {
			return false, "no condition"
		}
		return cond.Status == metav1.ConditionTrue, cond.Reason + ": " + cond.Message
	})

	// The producer keeps a connection too; the broker goes away for everybody.
	producer.Close()
	kc.Close()
	closed = true
	eventually(t, "the Consumer to say the brokers are gone", func() (bool, string) {
		cond := meta.FindStatusCondition(consumer(t, keyOf(c)).Status.Conditions, konsumeratorv1.ConditionMetricsAvailable)
		if cond == nil {
			return false, "no condition"
		}
		return cond.Status == metav1.ConditionFalse && cond.Reason == konsumeratorv1.ReasonMetricsFetchFailed &&
			strings.Contains(cond.Message, "Kafka at "+addrs[0]), cond.Reason + ": " + cond.Message
	})
	eventually(t, "a MetricsFetchFailed Warning Event", func() (bool, string) {
		reasons := eventReasons(t, ns)
		for _, r := range reasons {
			if strings.HasPrefix(r, "Warning/"+konsumeratorv1.EventMetricsFetchFailed) {
				return true, r
			}
		}
		return false, fmt.Sprint(reasons)
	})
	if got := cpuOf(); got["orders-0"] != "2" || got["orders-1"] != "2" {
		t.Errorf("resources changed while the brokers were gone: %v", got)
	}
}
