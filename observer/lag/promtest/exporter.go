// Package promtest runs a real Prometheus server and a small exporter whose values a test controls, so that the
// metrics provider is tested against the query API it will meet in production rather than against a model of it.
package promtest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/konsumerator/konsumerator/internal/exporter"
)

// Exporter serves metrics in the text exposition format on a loopback port. Every series is a gauge with a
// value set by the test, or a counter that grows at a set rate (so that rate() over it has a known answer).
type Exporter struct {
	// Addr is host:port, the way a scrape target is written.
	Addr string

	server   *http.Server
	listener net.Listener

	mu     sync.Mutex
	series map[string]*series // by name and labels
}

type series struct {
	name   string
	labels prometheus.Labels
	// A gauge has value; a counter has value at since and grows by perSecond from then on.
	counter   bool
	value     float64
	perSecond float64
	since     time.Time
}

// StartExporter listens on a free loopback port and serves /metrics until Stop.
func StartExporter() (*Exporter, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("exporter: listening on loopback: %w", err)
	}
	e := &Exporter{Addr: listener.Addr().String(), listener: listener, series: map[string]*series{}}
	server, err := exporter.Serve(listener, e)
	if err != nil {
		return nil, err
	}
	e.server = server
	return e, nil
}

// Stop closes the server; it is safe to call twice.
func (e *Exporter) Stop() {
	_ = e.server.Close()
}

// SetGauge sets a gauge series, creating it if needed.
func (e *Exporter) SetGauge(name string, labels map[string]string, value float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.series[seriesKey(name, labels)] = &series{name: name, labels: labels, value: value}
}

// SetCounterRate makes a counter series grow by perSecond from now on, starting from its current value.
func (e *Exporter) SetCounterRate(name string, labels map[string]string, perSecond float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	key := seriesKey(name, labels)
	start := 0.0
	if s, ok := e.series[key]; ok && s.counter {
		start = s.valueAt(now)
	}
	e.series[key] = &series{name: name, labels: labels, counter: true, value: start, perSecond: perSecond, since: now}
}

// Delete removes a series.
func (e *Exporter) Delete(name string, labels map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.series, seriesKey(name, labels))
}

func (s *series) valueAt(t time.Time) float64 {
	if !s.counter {
		return s.value
	}
	return s.value + s.perSecond*t.Sub(s.since).Seconds()
}

// Describe sends nothing: the exporter is an unchecked collector, since its series come and go.
func (e *Exporter) Describe(chan<- *prometheus.Desc) {}

// Collect computes counters at scrape time, so a counter is exactly linear in time.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	for _, s := range e.series {
		names := make([]string, 0, len(s.labels))
		for n := range s.labels {
			names = append(names, n)
		}
		sort.Strings(names)
		values := make([]string, len(names))
		for i, n := range names {
			values[i] = s.labels[n]
		}
		typ := prometheus.GaugeValue
		if s.counter {
			typ = prometheus.CounterValue
		}
		desc := prometheus.NewDesc(s.name, "Test series.", names, nil)
		m, err := prometheus.NewConstMetric(desc, typ, s.valueAt(now), values...)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(desc, err)
			continue
		}
		ch <- m
	}
}

func seriesKey(name string, labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for k, v := range labels {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

// ErrNotReady is wrapped by waits that ran out of time.
var ErrNotReady = errors.New("not ready in time")
