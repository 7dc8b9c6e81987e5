package lag

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// instruments are the provider's own metrics. Every label value comes from a fixed set or from the Consumer
// specs (addresses, namespaces, names), so their number stays bounded by what is deployed.
type instruments struct {
	requests        *prometheus.CounterVec
	requestErrors   *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	problems        *prometheus.CounterVec
}

func newInstruments(reg prometheus.Registerer, sampleAge prometheus.Collector) (*instruments, error) {
	in := &instruments{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "konsumerator_prometheus_requests_total",
			Help: "Queries sent to Prometheus, by address and query kind (offset, production, consumption).",
		}, []string{"address", "query"}),
		requestErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "konsumerator_prometheus_request_errors_total",
			Help: "Queries to Prometheus that failed, by address, query kind and reason (timeout, unreachable, tls, " +
				"unauthorized, bad_query, client_error, server_error, bad_response, throttled, canceled).",
		}, []string{"address", "query", "reason"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "konsumerator_prometheus_request_duration_seconds",
			Help:    "Time taken by queries to Prometheus, by address and query kind.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"address", "query"}),
		problems: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "konsumerator_metrics_problems_total",
			Help: "Problems met while reading a Consumer's metrics, counted once per fetch and kind of problem.",
		}, []string{"namespace", "consumer", "problem"}),
	}
	for _, c := range []prometheus.Collector{in.requests, in.requestErrors, in.requestDuration, in.problems, sampleAge} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if errors.As(err, &already) {
				return nil, fmt.Errorf("registering Prometheus provider metrics: %w (build one Cache per registry)", err)
			}
			return nil, fmt.Errorf("registering Prometheus provider metrics: %w", err)
		}
	}
	return in, nil
}

// forgetConsumer drops the series of a Consumer that no longer exists, so that they do not linger forever.
func (in *instruments) forgetConsumer(namespace, name string) {
	in.problems.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "consumer": name})
}
