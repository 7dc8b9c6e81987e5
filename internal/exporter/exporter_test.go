package exporter

import (
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// demoLikeScenario is the demo's shape at a smaller size: partition 1 spikes from 10 to 50 messages/s, and a
// core reads 100 messages/s.
func demoLikeScenario() Scenario {
	return Scenario{
		NumPartitions: 4,
		Steady:        10,
		Lagging:       []int32{1},
		Spike:         50,
		Latency:       time.Second,
		PerCore:       100,
	}
}

var start = time.Unix(1_000_000, 0)

func at(d time.Duration) time.Time { return start.Add(d) }

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func newSim(t *testing.T) *Simulator {
	t.Helper()
	sim, err := NewSimulator(demoLikeScenario(), start)
	if err != nil {
		t.Fatal(err)
	}
	return sim
}

// steadyReaders give every partition a reader of its own with cores, reading from the start.
func steadyReaders(cores float64) []Reader {
	var rs []Reader
	for p := int32(0); p < 4; p++ {
		rs = append(rs, Reader{Name: "r", Partitions: []int32{p}, Cores: cores, From: start})
	}
	return rs
}

func TestBeforeTheReadersAreKnownTheGroupKeepsUpOneLatencyBehind(t *testing.T) {
	sim := newSim(t)
	p0, c0 := sim.Offsets(0)
	sim.AdvanceTo(at(60 * time.Second))
	p1, c1 := sim.Offsets(0)
	if !near(p1-p0, 600) || !near(c1-c0, 600) {
		t.Fatalf("in 60s at 10/s: produced %g, consumed %g, want 600 each", p1-p0, c1-c0)
	}
	if got := sim.Behind(0); !near(got, 10) {
		t.Fatalf("behind %g, want 10 (one second of production)", got)
	}
}

func TestAReaderWithEnoughCPUKeepsUp(t *testing.T) {
	sim := newSim(t)
	sim.SetReaders(steadyReaders(0.2)) // reads up to 20/s, 10/s produced
	sim.AdvanceTo(at(60 * time.Second))
	f := sim.Figures(0)
	if !near(f.Behind, 10) || !near(f.Production, 10) || !near(f.Consumption, 10) || f.Lag != time.Second {
		t.Fatalf("figures %+v, want 10 behind, 10/s in and out, lag 1s", f)
	}
}

// TestConsumptionFollowsTheCPU is the closed loop: the backlog a spike builds at a steady size grows by the
// production above what the CPU reads, and drains once the CPU reads more than is produced.
func TestConsumptionFollowsTheCPU(t *testing.T) {
	sim := newSim(t)
	sim.SetReaders(steadyReaders(0.3)) // reads up to 30/s
	sim.SetPhase(Spike)
	sim.AdvanceTo(at(5 * time.Second))
	before := sim.Behind(1)
	sim.AdvanceTo(at(15 * time.Second))
	// 50/s produced, 30/s read: 20/s more behind.
	if got := sim.Behind(1) - before; !near(got, 200) {
		t.Fatalf("at 300m partition 1 fell behind by %g in 10s, want 200", got)
	}
	if f := sim.Figures(1); !near(f.Consumption, 30) {
		t.Fatalf("at 300m partition 1 is read at %g/s, want 30", f.Consumption)
	}
	for _, p := range []int32{0, 2, 3} {
		if got := sim.Behind(p); !near(got, 10) {
			t.Fatalf("partition %d behind %g during the spike, want the steady 10", p, got)
		}
	}

	// Scale-up to 800m: 80/s read, 50/s produced: the backlog shrinks by 30/s.
	rs := steadyReaders(0.3)
	rs[1].Cores = 0.8
	sim.SetReaders(rs)
	before = sim.Behind(1)
	sim.AdvanceTo(at(20 * time.Second))
	if got := before - sim.Behind(1); !near(got, 150) {
		t.Fatalf("at 800m 5s worked off %g, want 150", got)
	}
	f := sim.Figures(1)
	if !near(f.Consumption, 80) || f.Lag != time.Duration(f.Behind/80*float64(time.Second)) {
		t.Fatalf("at 800m: %+v, want 80/s read and the lag over the consumption rate", f)
	}
	// Until nothing but the latency is left; then consumption follows production.
	sim.AdvanceTo(at(60 * time.Second))
	if f := sim.Figures(1); !near(f.Behind, 50) || !near(f.Consumption, 50) || f.Lag != time.Second {
		t.Fatalf("after the backlog is gone: %+v, want one second of production behind, read as produced", f)
	}
}

// TestAScaleDownIsVisible: a consumer given less CPU than its production needs falls behind.
func TestAScaleDownIsVisible(t *testing.T) {
	sim := newSim(t)
	rs := steadyReaders(0.3)
	rs[0].Cores = 0.06 // 6/s read, 10/s produced
	sim.SetReaders(rs)
	sim.AdvanceTo(at(10 * time.Second))
	if got := sim.Behind(0); !near(got, 10+40) {
		t.Fatalf("at 60m partition 0 is %g behind after 10s, want 50", got)
	}
}

// TestARestartPausesReading: a reader reads nothing before From (its container starting and joining the
// group), then its full capacity; a partition without a reader is not read at all.
func TestARestartPausesReading(t *testing.T) {
	sim := newSim(t)
	sim.SetReaders(steadyReaders(0.3))
	sim.AdvanceTo(at(time.Second))
	// Partition 2's consumer restarts and reads again from 6s; partition 3's is gone.
	rs := steadyReaders(0.3)
	rs[2].From = at(6 * time.Second)
	sim.SetReaders(rs[:3])
	sim.AdvanceTo(at(6 * time.Second))
	if got, f := sim.Behind(2), sim.Figures(2); !near(got, 10+50) || f.Consumption != 0 {
		t.Fatalf("while rejoining: partition 2 %g behind, read at %g/s; want 60 behind, nothing read", got, f.Consumption)
	}
	sim.AdvanceTo(at(7 * time.Second))
	if f := sim.Figures(2); !near(f.Consumption, 30) {
		t.Fatalf("once rejoined partition 2 is read at %g/s, want the full 30", f.Consumption)
	}
	if got := sim.Behind(3); !near(got, 10+60) {
		t.Fatalf("unread partition 3 is %g behind after 6s without a reader, want 70", got)
	}
}

// TestTheTakeOverCostsNothing: until its first reader joins, a partition is read as it is produced, by the
// consumers that ran before the operator's.
func TestTheTakeOverCostsNothing(t *testing.T) {
	sim := newSim(t)
	rs := steadyReaders(0.05) // 5/s: falls behind once it reads
	for i := range rs {
		rs[i].From = at(5 * time.Second)
	}
	sim.SetReaders(rs)
	sim.AdvanceTo(at(5 * time.Second))
	if got := sim.Behind(0); !near(got, 10) {
		t.Fatalf("before its reader joined partition 0 is %g behind, want the steady 10", got)
	}
	sim.AdvanceTo(at(15 * time.Second))
	if got := sim.Behind(0); !near(got, 10+50) {
		t.Fatalf("10s after a 5/s reader took over, partition 0 is %g behind, want 60", got)
	}
	// Taken over for good: with its reader gone it is not read.
	sim.SetReaders(nil)
	sim.AdvanceTo(at(16 * time.Second))
	if f := sim.Figures(0); f.Consumption != 0 {
		t.Fatalf("partition 0 without a reader is read at %g/s", f.Consumption)
	}
}

// TestAReaderSharesItsCPUAmongItsPartitions: what one partition does not need goes to the others.
func TestAReaderSharesItsCPUAmongItsPartitions(t *testing.T) {
	sim := newSim(t)
	sim.SetReaders([]Reader{{Name: "r0", Partitions: []int32{0, 1}, Cores: 0.4, From: start},
		{Name: "r1", Partitions: []int32{2, 3}, Cores: 0.3, From: start}})
	sim.SetPhase(Spike)
	sim.AdvanceTo(at(10 * time.Second))
	// r0 reads 40/s: partition 0 takes its 10/s, partition 1 the other 30 of its 50.
	if f0, f1 := sim.Figures(0), sim.Figures(1); !near(f0.Consumption, 10) || !near(f1.Consumption, 30) {
		t.Fatalf("read at %g/s and %g/s, want 10 and 30", f0.Consumption, f1.Consumption)
	}
	// A partition two readers claim is read by the first only.
	sim.SetReaders([]Reader{{Name: "a", Partitions: []int32{0}, Cores: 0.05, From: start},
		{Name: "b", Partitions: []int32{0}, Cores: 1, From: start}})
	sim.AdvanceTo(at(11 * time.Second))
	if f := sim.Figures(0); !near(f.Consumption, 5) {
		t.Fatalf("partition 0 claimed twice is read at %g/s, want the first reader's 5", f.Consumption)
	}
}

func TestLagIsInfiniteWhenNothingMoves(t *testing.T) {
	s := demoLikeScenario()
	s.Steady = 0
	sim, err := NewSimulator(s, start)
	if err != nil {
		t.Fatal(err)
	}
	sim.SetReaders([]Reader{{Name: "idle", Partitions: []int32{0, 1, 2, 3}, From: start}})
	if f := sim.Figures(0); f.Lag != 0 || f.Behind != 0 {
		t.Fatalf("nothing produced, nothing behind: %+v", f)
	}
	sim.SetPhase(Spike)
	sim.AdvanceTo(at(time.Second))
	sim.SetPhase(Steady)
	sim.AdvanceTo(at(2 * time.Second))
	if f := sim.Figures(1); f.Lag != time.Duration(math.MaxInt64) || !near(f.Behind, 50) {
		t.Fatalf("a backlog nobody reads and nothing adds to: %+v, want an infinite lag", f)
	}
}

func TestInvalidScenariosAreRefused(t *testing.T) {
	for name, mutate := range map[string]func(*Scenario){
		"no partitions":        func(s *Scenario) { s.NumPartitions = 0 },
		"lagging out of range": func(s *Scenario) { s.Lagging = []int32{4} },
		"negative rate":        func(s *Scenario) { s.Spike = -1 },
		"no rate per core":     func(s *Scenario) { s.PerCore = 0 },
		"negative latency":     func(s *Scenario) { s.Latency = -time.Second },
	} {
		s := demoLikeScenario()
		mutate(&s)
		if _, err := NewSimulator(s, time.Now()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestServesOffsetsAndPhasePerPartition(t *testing.T) {
	now := start
	e, err := startWithClock(demoLikeScenario(), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	if !strings.HasPrefix(e.Addr, "127.0.0.1:") {
		t.Fatalf("listens on %s, want loopback", e.Addr)
	}
	e.SetPhase(Spike)
	resp, err := http.Get("http://" + e.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`konsumerator_messages_production_offset{partition="3"} 4e+06`,
		`konsumerator_messages_consumption_offset{partition="0"} 999990`,
		`konsumerator_demo_scenario_phase{phase="spike"} 1`,
		`konsumerator_demo_scenario_phase{phase="steady"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	// The exporter applies readers from its clock's now on.
	e.SetReaders([]Reader{{Name: "r", Partitions: []int32{0}, Cores: 0.05, From: now}})
	now = now.Add(10 * time.Second)
	if f := e.Figures(); !near(f[0].Behind, 10+50) || f[1].Lag != time.Second {
		t.Fatalf("10s at 5/s read of 10/s produced, partition 1 read as produced: %+v", f[:2])
	}
}
