package lag

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Instruments are the per-Consumer series every source's cache shares: the problems met and the age of the
// values. One set per operator (per registry); each source adds its own request metrics beside them.
type Instruments struct {
	problems *prometheus.CounterVec

	mu   sync.Mutex
	ages []func(report func(namespace, name string, age float64))
}

// NewInstruments registers the shared series with reg.
func NewInstruments(reg prometheus.Registerer) (*Instruments, error) {
	in := &Instruments{
		problems: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "konsumerator_metrics_problems_total",
			Help: "Problems met while reading a Consumer's metrics, counted once per fetch and kind of problem.",
		}, []string{"namespace", "consumer", "problem"}),
	}
	for _, c := range []prometheus.Collector{in.problems, sampleAgeCollector{in}} {
		if err := register(reg, c); err != nil {
			return nil, err
		}
	}
	return in, nil
}

func register(reg prometheus.Registerer, c prometheus.Collector) error {
	if err := reg.Register(c); err != nil {
		var already prometheus.AlreadyRegisteredError
		if errors.As(err, &already) {
			return fmt.Errorf("registering metrics source metrics: %w (build one per registry)", err)
		}
		return fmt.Errorf("registering metrics source metrics: %w", err)
	}
	return nil
}

func (in *Instruments) addAges(f func(report func(namespace, name string, age float64))) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.ages = append(in.ages, f)
}

// forgetConsumer drops the series of a Consumer that no longer exists, so that they do not linger forever.
func (in *Instruments) forgetConsumer(namespace, name string) {
	in.problems.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "consumer": name})
}

// sampleAgeCollector reports how old each Consumer's values are at scrape time, so the figure keeps growing
// during an outage even though nothing is fetched.
type sampleAgeCollector struct{ in *Instruments }

var sampleAgeDesc = prometheus.NewDesc("konsumerator_metrics_sample_age_seconds",
	"Age of the values in a Consumer's metrics sample: time since the last successful read of its metrics source.",
	[]string{"namespace", "consumer"}, nil)

func (s sampleAgeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- sampleAgeDesc }

func (s sampleAgeCollector) Collect(ch chan<- prometheus.Metric) {
	s.in.mu.Lock()
	ages := slices.Clone(s.in.ages)
	s.in.mu.Unlock()
	for _, f := range ages {
		f(func(namespace, name string, age float64) {
			ch <- prometheus.MustNewConstMetric(sampleAgeDesc, prometheus.GaugeValue, age, namespace, name)
		})
	}
}

// instruments are the Prometheus source's own metrics, and the shared problem counter. Every label value comes
// from a fixed set or from the Consumer specs (addresses, namespaces, names), so their number stays bounded by
// what is deployed.
type instruments struct {
	requests        *prometheus.CounterVec
	requestErrors   *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	problems        *prometheus.CounterVec
}

func newInstruments(reg prometheus.Registerer, shared *Instruments) (*instruments, error) {
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
		problems: shared.problems,
	}
	for _, c := range []prometheus.Collector{in.requests, in.requestErrors, in.requestDuration} {
		if err := register(reg, c); err != nil {
			return nil, err
		}
	}
	return in, nil
}
