package controller

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// consumerStates are the values of the state label of konsumerator_consumer_instances, one per count of the
// Consumer's status, in the order of consumerCounts.
var consumerStates = [...]string{"expected", "running", "paused", "missing", "lagging", "outdated", "failing"}

// consumerCounts are a Consumer's status counts, in the order of consumerStates (an unset count is 0).
type consumerCounts [len(consumerStates)]int32

func countsOf(st konsumeratorv1.ConsumerStatus) consumerCounts {
	var out consumerCounts
	for i, p := range []*int32{st.Expected, st.Running, st.Paused, st.Missing, st.Lagging, st.Outdated, st.Failing} {
		if p != nil {
			out[i] = *p
		}
	}
	return out
}

// ConsumerInstances is konsumerator_consumer_instances: the counts of each Consumer's status after its last pass.
// They are kept as seven numbers per Consumer and turned into series only when scraped (a prometheus.Collector),
// as the per-instance series are: a gauge vector keeps each of the seven series as a prepared protobuf with its
// own copies of the labels, about 4 KiB per Consumer, 4 MB of the operator's live heap at 1,000 Consumers.
type ConsumerInstances struct {
	desc *prometheus.Desc

	mu     sync.Mutex
	counts map[ownerKey]consumerCounts
}

func newConsumerInstances() *ConsumerInstances {
	return &ConsumerInstances{
		desc: prometheus.NewDesc("konsumerator_consumer_instances",
			"Instances of a Consumer by state (expected, running, paused, missing, lagging, outdated, failing), as in its status.",
			[]string{"namespace", "consumer", "state"}, nil),
		counts: map[ownerKey]consumerCounts{},
	}
}

// Describe implements prometheus.Collector.
func (c *ConsumerInstances) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector: seven series per Consumer.
func (c *ConsumerInstances) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pairs := labelPairs{}
	for key, counts := range c.counts {
		namespace, consumer := pairs.get("namespace", key.namespace), pairs.get("consumer", key.name)
		for i, n := range counts {
			// Label pairs in name order, as the registry compares them with the descriptor's.
			ch <- &gaugeSample{c.desc, []*dto.LabelPair{consumer, namespace, pairs.get("state", consumerStates[i])}, float64(n)}
		}
	}
}

// set records the counts of the status a pass wrote.
func (c *ConsumerInstances) set(namespace, name string, st konsumeratorv1.ConsumerStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[ownerKey{namespace, name}] = countsOf(st)
}

// forget removes a Consumer's series.
func (c *ConsumerInstances) forget(namespace, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.counts, ownerKey{namespace, name})
}
