// Package exporter serves synthetic Kafka consumer-group figures for the demo and the end-to-end test: per
// partition, the offset producers have written up to and the offset the consumer has read up to, following a
// scenario of phases (steady, a lag spike on some partitions, recovery). Prometheus scrapes it like it would
// scrape a Kafka exporter, so the operator reads its load through the same queries it uses in production.
package exporter

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric names, as the demo Consumer's queries use them.
const (
	ProductionOffsetMetric  = "konsumerator_messages_production_offset"
	ConsumptionOffsetMetric = "konsumerator_messages_consumption_offset"
	PhaseMetric             = "konsumerator_demo_scenario_phase"
	PartitionLabel          = "partition"
)

// Phase is a stage of the scenario.
type Phase string

const (
	// Steady: every partition is produced at the steady rate and consumed as fast as it is produced.
	Steady Phase = "steady"
	// Spike: the lagging partitions are produced faster than their consumer can read, so a backlog builds up.
	Spike Phase = "spike"
	// Recovery: production is back to steady and the lagging partitions' consumer reads fast enough to work
	// off the backlog; once it is gone, consumption follows production again.
	Recovery Phase = "recovery"
)

// Phases lists every phase, in scenario order.
var Phases = []Phase{Steady, Spike, Recovery}

// Load is how a partition is produced and how fast its consumer can read, both in messages per second.
type Load struct {
	Production float64
	Capacity   float64
}

// Scenario is what the exporter simulates.
type Scenario struct {
	NumPartitions int32
	// Steady is the load of every partition, except the lagging ones during a spike or recovery.
	Steady Load
	// Lagging are the partitions hit by the spike.
	Lagging []int32
	// Spike is the lagging partitions' load during the spike; Production above Capacity builds the backlog.
	Spike Load
	// Recovery is the lagging partitions' load while they work off the backlog.
	Recovery Load
	// Latency is how far behind a consumer that keeps up is: it reads what was produced Latency ago.
	Latency time.Duration
}

// load returns the load of partition p in phase ph.
func (s *Scenario) load(ph Phase, p int32) Load {
	if ph == Steady || !s.lagging(p) {
		return s.Steady
	}
	if ph == Spike {
		return s.Spike
	}
	return s.Recovery
}

func (s *Scenario) lagging(p int32) bool {
	for _, l := range s.Lagging {
		if l == p {
			return true
		}
	}
	return false
}

// Validate reports a scenario that cannot be simulated.
func (s *Scenario) Validate() error {
	if s.NumPartitions < 1 {
		return fmt.Errorf("scenario: numPartitions must be at least 1, is %d", s.NumPartitions)
	}
	for _, p := range s.Lagging {
		if p < 0 || p >= s.NumPartitions {
			return fmt.Errorf("scenario: lagging partition %d is outside [0, %d)", p, s.NumPartitions)
		}
	}
	for _, l := range []Load{s.Steady, s.Spike, s.Recovery} {
		if l.Production < 0 || l.Capacity < 0 {
			return fmt.Errorf("scenario: rates must not be negative: %+v", l)
		}
	}
	if s.Steady.Capacity < s.Steady.Production {
		return fmt.Errorf("scenario: in a steady state the consumer must keep up: capacity %g < production %g",
			s.Steady.Capacity, s.Steady.Production)
	}
	if s.Latency < 0 {
		return fmt.Errorf("scenario: latency must not be negative")
	}
	return nil
}

// step is the simulation's time step: fine enough that rate() over a few seconds sees straight lines, coarse
// enough that a scrape after an hour costs little.
const step = 100 * time.Millisecond

// partition is the simulated state of one partition.
type partition struct {
	produced, consumed float64
}

// Simulator advances the scenario in fixed steps of simulated time; it is a pure function of the phase
// history and the time, so tests drive it with their own clock.
type Simulator struct {
	scenario   Scenario
	phase      Phase
	now        time.Time // time the state is at
	partitions []partition
}

// NewSimulator starts the scenario in the steady phase at start. Offsets begin at a round number per partition
// so that the figures look like a topic that has been running for a while.
func NewSimulator(s Scenario, start time.Time) (*Simulator, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	sim := &Simulator{scenario: s, phase: Steady, now: start, partitions: make([]partition, s.NumPartitions)}
	for p := range sim.partitions {
		produced := float64(1_000_000 * (p + 1))
		sim.partitions[p] = partition{produced: produced, consumed: produced - s.Steady.Production*s.Latency.Seconds()}
	}
	return sim, nil
}

// AdvanceTo moves the simulation to t in fixed steps; a t in the past changes nothing.
func (sim *Simulator) AdvanceTo(t time.Time) {
	for !sim.now.Add(step).After(t) {
		sim.advance(step.Seconds())
		sim.now = sim.now.Add(step)
	}
}

// advance simulates dt seconds: production grows at its rate; the consumer reads what is older than Latency,
// at most at its capacity.
func (sim *Simulator) advance(dt float64) {
	for p := range sim.partitions {
		load := sim.scenario.load(sim.phase, int32(p))
		st := &sim.partitions[p]
		st.produced += load.Production * dt
		readable := st.produced - load.Production*sim.scenario.Latency.Seconds() - st.consumed
		st.consumed += max(0, min(load.Capacity*dt, readable))
	}
}

// SetPhase switches the phase from the current simulated time on.
func (sim *Simulator) SetPhase(ph Phase) { sim.phase = ph }

// Phase is the current phase.
func (sim *Simulator) Phase() Phase { return sim.phase }

// Offsets returns partition p's production and consumption offsets.
func (sim *Simulator) Offsets(p int32) (produced, consumed float64) {
	st := sim.partitions[p]
	return st.produced, st.consumed
}

// Behind returns how many messages of partition p are not consumed yet.
func (sim *Simulator) Behind(p int32) float64 {
	st := sim.partitions[p]
	return st.produced - st.consumed
}

// Exporter serves a Simulator's figures in the Prometheus text format on a loopback port.
type Exporter struct {
	// Addr is host:port, the way a scrape target is written.
	Addr string

	clock    func() time.Time
	server   *http.Server
	listener net.Listener

	mu  sync.Mutex
	sim *Simulator

	productionDesc, consumptionDesc, phaseDesc *prometheus.Desc
}

// Start serves the scenario on a free loopback port, starting in the steady phase, until Stop.
func Start(s Scenario) (*Exporter, error) {
	return start(s, time.Now)
}

func start(s Scenario, clock func() time.Time) (*Exporter, error) {
	sim, err := NewSimulator(s, clock())
	if err != nil {
		return nil, err
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("exporter: listening on loopback: %w", err)
	}
	e := &Exporter{
		Addr:            listener.Addr().String(),
		clock:           clock,
		listener:        listener,
		sim:             sim,
		productionDesc:  prometheus.NewDesc(ProductionOffsetMetric, "Offset up to which producers have written, per partition.", []string{PartitionLabel}, nil),
		consumptionDesc: prometheus.NewDesc(ConsumptionOffsetMetric, "Offset up to which the consumer group has read, per partition.", []string{PartitionLabel}, nil),
		phaseDesc:       prometheus.NewDesc(PhaseMetric, "1 for the scenario phase the exporter is in.", []string{"phase"}, nil),
	}
	server, err := Serve(listener, e)
	if err != nil {
		return nil, err
	}
	e.server = server
	return e, nil
}

// Serve registers c on a registry of its own and serves it at /metrics on listener until the returned server is
// closed. The listener is closed when registering fails.
func Serve(listener net.Listener, c prometheus.Collector) (*http.Server, error) {
	registry := prometheus.NewPedanticRegistry()
	if err := registry.Register(c); err != nil {
		_ = listener.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = server.Serve(listener) }()
	return server, nil
}

// Stop closes the server; it is safe to call twice.
func (e *Exporter) Stop() { _ = e.server.Close() }

// SetPhase switches the scenario's phase now.
func (e *Exporter) SetPhase(ph Phase) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sim.AdvanceTo(e.clock())
	e.sim.SetPhase(ph)
}

// Phase is the phase the scenario is in.
func (e *Exporter) Phase() Phase {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sim.Phase()
}

// Behind returns the messages not yet consumed of every partition, now.
func (e *Exporter) Behind() []float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sim.AdvanceTo(e.clock())
	out := make([]float64, len(e.sim.partitions))
	for p := range out {
		out[p] = e.sim.Behind(int32(p))
	}
	return out
}

// Describe sends the exporter's three metric descriptions.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	ch <- e.productionDesc
	ch <- e.consumptionDesc
	ch <- e.phaseDesc
}

// Collect advances the simulation to the scrape's time, so the offsets grow continuously between scrapes.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sim.AdvanceTo(e.clock())
	for p := range e.sim.partitions {
		label := strconv.Itoa(p)
		produced, consumed := e.sim.Offsets(int32(p))
		ch <- prometheus.MustNewConstMetric(e.productionDesc, prometheus.CounterValue, produced, label)
		ch <- prometheus.MustNewConstMetric(e.consumptionDesc, prometheus.CounterValue, consumed, label)
	}
	for _, ph := range Phases {
		v := 0.0
		if ph == e.sim.Phase() {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(e.phaseDesc, prometheus.GaugeValue, v, string(ph))
	}
}

// Step is one phase of a timeline and how long it lasts.
type Step struct {
	Phase Phase
	For   time.Duration
}

// Cycle switches through steps in order, over and over, until ctx ends, telling onPhase (when set) of every
// switch. It returns when ctx is done.
func (e *Exporter) Cycle(ctx context.Context, steps []Step, onPhase func(Phase)) {
	if len(steps) == 0 {
		return
	}
	for i := 0; ; i = (i + 1) % len(steps) {
		e.SetPhase(steps[i].Phase)
		if onPhase != nil {
			onPhase(steps[i].Phase)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(steps[i].For):
		}
	}
}

// Offsets returns the production and consumption offsets of every partition, now.
func (e *Exporter) Offsets() (produced, consumed []float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sim.AdvanceTo(e.clock())
	produced = make([]float64, len(e.sim.partitions))
	consumed = make([]float64, len(e.sim.partitions))
	for p := range produced {
		produced[p], consumed[p] = e.sim.Offsets(int32(p))
	}
	return produced, consumed
}
