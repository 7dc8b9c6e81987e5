// Package exporter serves synthetic Kafka consumer-group figures for the demo and the end-to-end test: per
// partition, the offset producers have written up to and the offset the consumer group has read up to.
// Production follows a scenario of phases (steady, a spike on some partitions, recovery); consumption follows
// the consumers the demo reports (Reader): each reads at most its capacity per core times the CPU its pod has,
// and nothing while it is not running or still joining the group. So what the operator decides shows in the
// figures: a scale-up drains a backlog, a restart costs a pause. Prometheus scrapes it like it would scrape a
// Kafka exporter, so the operator reads its load through the same queries it uses in production.
package exporter

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
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

// Phase is a stage of the scenario. A phase sets how fast partitions are produced; how fast they are read is up
// to the consumers and the CPU they have.
type Phase string

const (
	// Steady: every partition is produced at the steady rate.
	Steady Phase = "steady"
	// Spike: the lagging partitions are produced at the spike rate, more than their consumer reads at its steady
	// size, so a backlog builds up until the consumer gets more CPU.
	Spike Phase = "spike"
	// Recovery: production is back to steady; the lagging partitions' consumer works off what is left of the
	// backlog and can give back the CPU it no longer needs.
	Recovery Phase = "recovery"
)

// Phases lists every phase, in scenario order.
var Phases = []Phase{Steady, Spike, Recovery}

// Scenario is what the exporter simulates.
type Scenario struct {
	NumPartitions int32
	// Steady is the production of every partition in messages per second, except the lagging ones during a spike.
	Steady float64
	// Lagging are the partitions hit by the spike.
	Lagging []int32
	// Spike is the production of each lagging partition during the spike.
	Spike float64
	// Latency is how far behind a consumer that keeps up is: it reads what was produced Latency ago.
	Latency time.Duration
	// PerCore is how many messages per second a consumer reads per core of CPU.
	PerCore float64
}

// production returns the rate of partition p in phase ph.
func (s *Scenario) production(ph Phase, p int32) float64 {
	if ph == Spike && slices.Contains(s.Lagging, p) {
		return s.Spike
	}
	return s.Steady
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
	if s.Steady < 0 || s.Spike < 0 {
		return fmt.Errorf("scenario: production rates must not be negative: steady %g, spike %g", s.Steady, s.Spike)
	}
	if !(s.PerCore > 0) || math.IsInf(s.PerCore, 0) {
		return fmt.Errorf("scenario: a consumer's rate per core must be positive, is %g", s.PerCore)
	}
	if s.Latency < 0 {
		return fmt.Errorf("scenario: latency must not be negative")
	}
	return nil
}

// Reader is one consumer process as the model sees it: the partitions it was told to read and the CPU it has.
type Reader struct {
	// Name is the instance the process belongs to.
	Name string
	// Partitions are the partitions it reads.
	Partitions []int32
	// Cores is the CPU it has.
	Cores float64
	// From is when it reads its first message (started and joined the group); before, it reads nothing.
	From time.Time
}

// Capacity is how many messages per second r reads at t: perCore per core once it has joined, 0 before.
func (r Reader) Capacity(perCore float64, t time.Time) float64 {
	if t.Before(r.From) {
		return 0
	}
	return max(0, r.Cores) * perCore
}

// step is the simulation's time step: fine enough that rate() over a few seconds sees straight lines, coarse
// enough that a scrape after an hour costs little.
const step = 100 * time.Millisecond

// partition is the simulated state of one partition.
type partition struct {
	produced, consumed float64
	// production and consumption are the rates of the last step, messages per second.
	production, consumption float64
	// takenOver: a reader has read it; before, it is read as produced.
	takenOver bool
}

// Figures are one partition's figures now.
type Figures struct {
	// Behind is the messages produced and not yet read.
	Behind float64
	// Production and Consumption are messages per second, now.
	Production, Consumption float64
	// Lag is how long working off Behind takes at the faster of the two rates, as the operator measures it
	// (planner: behind / max(production, consumption)); 0 when nothing is behind, +Inf (math.MaxInt64) when a
	// backlog does not move.
	Lag time.Duration
}

// Simulator advances the scenario in fixed steps of simulated time; it is a pure function of the phase and
// reader history and the time, so tests drive it with their own clock.
//
// A partition is read as fast as it is produced (Latency behind) until a reader has joined for it: the
// consumers that ran before the operator's instances took over, so that the take-over itself costs no backlog.
// From then on only the readers read it.
type Simulator struct {
	scenario   Scenario
	phase      Phase
	now        time.Time // time the state is at
	partitions []partition

	readers []Reader
	// owner is the reader that reads each partition (-1: none); a partition two readers claim goes to the first,
	// as an offset commit by one overrides the other's.
	owner []int
	fill  []fillItem
}

type fillItem struct {
	p      int
	demand float64
}

// NewSimulator starts the scenario in the steady phase at start. Offsets begin at a round number per partition
// so that the figures look like a topic that has been running for a while.
func NewSimulator(s Scenario, start time.Time) (*Simulator, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	s.Lagging = slices.Clone(s.Lagging)
	sim := &Simulator{scenario: s, phase: Steady, now: start, partitions: make([]partition, s.NumPartitions),
		owner: make([]int, s.NumPartitions)}
	sim.SetReaders(nil)
	for p := range sim.partitions {
		produced := float64(1_000_000 * (p + 1))
		sim.partitions[p] = partition{produced: produced, consumed: produced - s.Steady*s.Latency.Seconds(),
			production: s.Steady, consumption: s.Steady}
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

// advance simulates dt seconds from sim.now: production grows at its rate; each reader reads what is older
// than Latency, at most its capacity, shared among its partitions.
func (sim *Simulator) advance(dt float64) {
	latency := sim.scenario.Latency.Seconds()
	readable := func(p int) float64 {
		st := &sim.partitions[p]
		return max(0, st.produced-st.production*latency-st.consumed)
	}
	for p := range sim.partitions {
		st := &sim.partitions[p]
		st.production = sim.scenario.production(sim.phase, int32(p))
		st.produced += st.production * dt
		st.consumption = 0
		if o := sim.owner[p]; o >= 0 && !sim.now.Before(sim.readers[o].From) {
			st.takenOver = true
		}
		if !st.takenOver {
			took := readable(p)
			st.consumed += took
			st.consumption = took / dt
		}
	}
	for i, r := range sim.readers {
		if sim.now.Before(r.From) {
			continue
		}
		sim.fill = sim.fill[:0]
		for _, p := range r.Partitions {
			if p >= 0 && int(p) < len(sim.partitions) && sim.owner[p] == i {
				sim.fill = append(sim.fill, fillItem{p: int(p), demand: readable(int(p))})
			}
		}
		// Water-filling, as in the simulator (package simulate): the consumer fetches from every partition with
		// a backlog, so its capacity is shared evenly and what one partition does not need goes to the others.
		slices.SortStableFunc(sim.fill, func(a, b fillItem) int {
			switch {
			case a.demand < b.demand:
				return -1
			case a.demand > b.demand:
				return 1
			}
			return 0
		})
		left := r.Capacity(sim.scenario.PerCore, sim.now) * dt
		for k, f := range sim.fill {
			take := max(0, min(f.demand, left/float64(len(sim.fill)-k)))
			st := &sim.partitions[f.p]
			st.consumed += take
			st.consumption = take / dt
			left -= take
		}
	}
}

// SetPhase switches the phase from the current simulated time on.
func (sim *Simulator) SetPhase(ph Phase) { sim.phase = ph }

// Phase is the current phase.
func (sim *Simulator) Phase() Phase { return sim.phase }

// SetReaders replaces the consumers from the current simulated time on. A partition a reader has taken over is
// read by its readers only: with none, it is not read at all.
func (sim *Simulator) SetReaders(rs []Reader) {
	sim.readers = sim.readers[:0]
	for _, r := range rs {
		r.Partitions = slices.Clone(r.Partitions)
		sim.readers = append(sim.readers, r)
	}
	for p := range sim.owner {
		sim.owner[p] = -1
	}
	for i, r := range sim.readers {
		for _, p := range r.Partitions {
			if p >= 0 && int(p) < len(sim.owner) && sim.owner[p] < 0 {
				sim.owner[p] = i
			}
		}
	}
}

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

// Figures returns partition p's figures at the current simulated time.
func (sim *Simulator) Figures(p int32) Figures {
	st := sim.partitions[p]
	f := Figures{Behind: st.produced - st.consumed, Production: st.production, Consumption: st.consumption}
	switch speed := max(f.Production, f.Consumption); {
	case f.Behind < 1e-9:
	case speed <= 0:
		f.Lag = time.Duration(math.MaxInt64)
	default:
		f.Lag = time.Duration(f.Behind / speed * float64(time.Second))
	}
	return f
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
	return startWithClock(s, time.Now)
}

func startWithClock(s Scenario, clock func() time.Time) (*Exporter, error) {
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

// Figures returns every partition's figures, now.
func (e *Exporter) Figures() []Figures {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sim.AdvanceTo(e.clock())
	out := make([]Figures, len(e.sim.partitions))
	for p := range out {
		out[p] = e.sim.Figures(int32(p))
	}
	return out
}

// SetReaders replaces the consumers from now on (see Simulator.SetReaders).
func (e *Exporter) SetReaders(rs []Reader) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sim.AdvanceTo(e.clock())
	e.sim.SetReaders(rs)
}

// PerCore is the messages per second a consumer reads per core.
func (e *Exporter) PerCore() float64 { return e.sim.scenario.PerCore }

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
