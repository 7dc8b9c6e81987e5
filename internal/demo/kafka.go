package demo

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/exporter"
)

const (
	// KafkaTopic and KafkaGroup are the topic and group of the demo's Kafka cluster.
	KafkaTopic = "demo"
	KafkaGroup = "demo"
	// KafkaNamespace holds the Kafka-mode Consumer, apart from the Prometheus one.
	KafkaNamespace = "demo-kafka"
	// mirrorEvery is how often the mirror catches up with the exporter.
	mirrorEvery = 250 * time.Millisecond
)

// KafkaMirror is an in-process Kafka cluster (kfake) that follows the synthetic exporter: it produces records up
// to each partition's production offset and commits the group's offset at each partition's consumption offset,
// so that the Kafka source reads from real offsets the same figures Prometheus reads from the exporter.
type KafkaMirror struct {
	Cluster *kfake.Cluster
	// Addrs are the brokers' host:port.
	Addrs []string

	cl     *kgo.Client
	cancel context.CancelFunc
	done   sync.WaitGroup
	mu     sync.Mutex
	err    error
}

// StartKafkaMirror starts the cluster and the mirror; Stop ends both.
func StartKafkaMirror(exp *exporter.Exporter, partitions int32) (*KafkaMirror, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, KafkaTopic))
	if err != nil {
		return nil, fmt.Errorf("starting the Kafka cluster: %w", err)
	}
	m := &KafkaMirror{Cluster: c, Addrs: c.ListenAddrs()}
	if m.cl, err = kgo.NewClient(kgo.SeedBrokers(m.Addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0)); err != nil {
		c.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	s := &mirrorState{adm: kadm.NewClient(m.cl), ends: make([]int64, partitions), commits: make([]int64, partitions),
		base: make([]float64, partitions)}
	// The exporter's offsets start in the millions (a topic that has been running for a while); Kafka's start at
	// 0. The mirror shifts them by what was consumed at its start: the backlog and the rates are the same.
	_, consumed := exp.Offsets()
	for p := range s.base {
		s.base[p] = math.Floor(consumed[p])
	}
	// The first catch-up (the exporter has run for a while) is done before anyone reads, so that no read sees
	// it as a burst of production.
	m.sync(ctx, exp, s)
	if err := m.Err(); err != nil {
		m.Stop()
		return nil, fmt.Errorf("the Kafka mirror: %w", err)
	}
	m.done.Add(1)
	go m.run(ctx, exp, s)
	return m, nil
}

type mirrorState struct {
	adm           *kadm.Client
	ends, commits []int64
	base          []float64
}

func (m *KafkaMirror) run(ctx context.Context, exp *exporter.Exporter, s *mirrorState) {
	defer m.done.Done()
	tick := time.NewTicker(mirrorEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		m.sync(ctx, exp, s)
	}
}

// sync produces the records and commits the offsets the exporter has moved on to since the last sync.
func (m *KafkaMirror) sync(ctx context.Context, exp *exporter.Exporter, s *mirrorState) {
	ends, commits := s.ends, s.commits
	produced, consumed := exp.Offsets()
	var recs []*kgo.Record
	offsets := make(kadm.Offsets)
	for p := range int32(len(ends)) {
		for target := int64(math.Floor(produced[p] - s.base[p])); ends[p] < target; ends[p]++ {
			recs = append(recs, &kgo.Record{Topic: KafkaTopic, Partition: p, Value: []byte("m")})
		}
		// The group never commits past what exists.
		if c := min(int64(math.Floor(consumed[p]-s.base[p])), ends[p]); c != commits[p] {
			commits[p] = c
			offsets.AddOffset(KafkaTopic, p, c, -1)
		}
	}
	if len(recs) > 0 {
		m.fail(m.cl.ProduceSync(ctx, recs...).FirstErr())
	}
	if len(offsets) > 0 {
		_, err := s.adm.CommitOffsets(ctx, KafkaGroup, offsets)
		m.fail(err)
	}
}

func (m *KafkaMirror) fail(err error) {
	if err == nil || err == context.Canceled {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err == nil {
		m.err = err
	}
}

// Err is the first error the mirror met, if any.
func (m *KafkaMirror) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// Stop ends the mirror and the cluster; it is safe to call twice.
func (m *KafkaMirror) Stop() {
	m.cancel()
	m.done.Wait()
	m.cl.Close()
	if m.Cluster != nil {
		m.Cluster.Close()
		m.Cluster = nil
	}
}

// KafkaConsumer is the demo Consumer in kafka mode: the same partitions, template, policy and sizing settings,
// its offsets read from the mirror's brokers.
func KafkaConsumer(prometheusMode *konsumeratorv1.Consumer, brokers []string) *konsumeratorv1.Consumer {
	c := prometheusMode.DeepCopy()
	c.ObjectMeta = metav1.ObjectMeta{Namespace: KafkaNamespace, Name: "demo-kafka"}
	c.Spec.Name, c.Spec.Namespace = "demo-kafka", ""
	prom := c.Spec.Autoscaler.Prometheus
	c.Spec.Autoscaler.Mode = konsumeratorv1.AutoscalerTypeKafka
	c.Spec.Autoscaler.Kafka = &konsumeratorv1.KafkaAutoscalerSpec{
		Brokers: brokers, Topic: KafkaTopic, ConsumerGroup: KafkaGroup,
		MinSyncPeriod: prom.MinSyncPeriod, SizingSettings: prom.SizingSettings,
	}
	c.Spec.Autoscaler.Prometheus = nil
	return c
}

// kafkaNamespace is the namespace object of the Kafka-mode Consumer.
func kafkaNamespace() *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: KafkaNamespace}}
}
