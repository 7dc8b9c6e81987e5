package controller

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// BenchmarkInstanceSeriesMemory reports the heap the per-instance series of ten Consumers of 1,000 instances
// keep between scrapes (heap-B/instance), and what one scrape of them allocates (B/op).
func BenchmarkInstanceSeriesMemory(b *testing.B) {
	const owners, perOwner = 10, 1000
	figures := make([][]model.InstanceFigures, owners)
	for o := range figures {
		for i := range perOwner {
			figures[o] = append(figures[o], fig(fmt.Sprintf("c%d-%d", o, i), float64(i%20), "RUNNING", 0.3))
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	m, reg := newTestInstanceMetrics(DefaultMaxInstanceSeries)
	for o := range figures {
		m.publish(logr.Discard(), "ns", fmt.Sprintf("c%d", o), figures[o], nil)
	}
	kept := heap() - before
	runtime.KeepAlive(figures) // the plans' figures are the reconciler's, not the series'
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(kept)/(owners*perOwner), "heap-B/instance")
}

// BenchmarkConsumerSeriesMemory reports the heap the konsumerator_consumer_instances series keep per Consumer
// between scrapes, and what a scrape of 1,000 Consumers allocates.
func BenchmarkConsumerSeriesMemory(b *testing.B) {
	const consumers = 1000
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	five := int32(5)
	status := konsumeratorv1.ConsumerStatus{Expected: &five, Running: &five}
	reg := prometheus.NewRegistry()
	before := heap()
	m := NewMetrics(reg, -1)
	for i := range consumers {
		m.setStatus(fmt.Sprintf("ns-%d", i%50), fmt.Sprintf("group-%04d", i), status)
	}
	kept := heap() - before
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(kept)/consumers, "heap-B/consumer")
}
