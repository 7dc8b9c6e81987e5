package kafka

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// instruments are the Kafka source's own metrics; the per-Consumer series are lag.Instruments, shared with
// the other sources. Every label value comes from a fixed set.
type instruments struct {
	reads        prometheus.Counter
	readErrors   *prometheus.CounterVec
	readDuration prometheus.Histogram
}

func newInstruments(reg prometheus.Registerer, clients *pool) (*instruments, error) {
	in := &instruments{
		reads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "konsumerator_kafka_reads_total",
			Help: "Reads of a Consumer's offsets from Kafka (end offsets and the group's committed offsets).",
		}),
		readErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "konsumerator_kafka_read_errors_total",
			Help: "Reads of offsets from Kafka that failed, by reason (timeout, unreachable, tls, unauthorized, " +
				"not_found, broker_error, bad_response, throttled, too_large, denied, too_many_connections, invalid_brokers).",
		}, []string{"reason"}),
		readDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "konsumerator_kafka_read_duration_seconds",
			Help:    "Time taken by one read of a Consumer's offsets from Kafka.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
	}
	connections := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "konsumerator_kafka_clients",
		Help: "Kafka clients open: one per set of brokers and credentials in use by some Consumer.",
	}, func() float64 { return float64(clients.size()) })
	for _, c := range []prometheus.Collector{in.reads, in.readErrors, in.readDuration, connections} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if errors.As(err, &already) {
				return nil, fmt.Errorf("registering Kafka source metrics: %w (build one per registry)", err)
			}
			return nil, fmt.Errorf("registering Kafka source metrics: %w", err)
		}
	}
	return in, nil
}
