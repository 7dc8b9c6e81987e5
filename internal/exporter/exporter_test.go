package exporter

import (
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func demoLikeScenario() Scenario {
	return Scenario{
		NumPartitions: 4,
		Steady:        Load{Production: 10, Capacity: 20},
		Lagging:       []int32{1},
		Spike:         Load{Production: 50, Capacity: 15},
		Recovery:      Load{Production: 10, Capacity: 100},
		Latency:       time.Second,
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestSteadyConsumerKeepsUpOneLatencyBehind(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	sim, err := NewSimulator(demoLikeScenario(), start)
	if err != nil {
		t.Fatal(err)
	}
	p0, c0 := sim.Offsets(0)
	sim.AdvanceTo(start.Add(60 * time.Second))
	p1, c1 := sim.Offsets(0)
	if !near(p1-p0, 600) || !near(c1-c0, 600) {
		t.Fatalf("in 60s at 10/s: produced %g, consumed %g, want 600 each", p1-p0, c1-c0)
	}
	if got := sim.Behind(0); !near(got, 10) {
		t.Fatalf("behind %g, want 10 (one second of production)", got)
	}
}

func TestSpikeBuildsABacklogOnlyOnLaggingPartitions(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	sim, err := NewSimulator(demoLikeScenario(), start)
	if err != nil {
		t.Fatal(err)
	}
	sim.SetPhase(Spike)
	sim.AdvanceTo(start.Add(5 * time.Second))
	before := sim.Behind(1)
	sim.AdvanceTo(start.Add(20 * time.Second))
	// 50/s produced, 15/s consumed: 35/s more behind.
	if got := sim.Behind(1) - before; !near(got, 35*15) {
		t.Fatalf("lagging partition fell behind by %g in 15s, want %d", got, 35*15)
	}
	for _, p := range []int32{0, 2, 3} {
		if got := sim.Behind(p); !near(got, 10) {
			t.Fatalf("partition %d behind %g during the spike, want the steady 10", p, got)
		}
	}
}

func TestRecoveryWorksOffTheBacklogThenFollowsProduction(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	sim, err := NewSimulator(demoLikeScenario(), start)
	if err != nil {
		t.Fatal(err)
	}
	sim.SetPhase(Spike)
	sim.AdvanceTo(start.Add(20 * time.Second))
	sim.SetPhase(Recovery)
	before := sim.Behind(1)
	sim.AdvanceTo(start.Add(25 * time.Second)) // reading 100/s, produced 10/s: 90/s less
	if got := before - sim.Behind(1); !near(got, 90*5) {
		t.Fatalf("5s of recovery worked off %g, want %d", got, 90*5)
	}
	sim.AdvanceTo(start.Add(60 * time.Second))
	if got := sim.Behind(1); !near(got, 10) {
		t.Fatalf("after recovery behind %g, want the steady 10", got)
	}
	p0, c0 := sim.Offsets(1)
	sim.AdvanceTo(start.Add(70 * time.Second))
	p1, c1 := sim.Offsets(1)
	if !near(p1-p0, 100) || !near(c1-c0, 100) {
		t.Fatalf("after recovery consumption must follow production: produced %g, consumed %g in 10s", p1-p0, c1-c0)
	}
}

func TestInvalidScenariosAreRefused(t *testing.T) {
	for name, mutate := range map[string]func(*Scenario){
		"no partitions":         func(s *Scenario) { s.NumPartitions = 0 },
		"lagging out of range":  func(s *Scenario) { s.Lagging = []int32{4} },
		"negative rate":         func(s *Scenario) { s.Spike.Capacity = -1 },
		"steady cannot keep up": func(s *Scenario) { s.Steady.Capacity = 5 },
		"negative latency":      func(s *Scenario) { s.Latency = -time.Second },
	} {
		s := demoLikeScenario()
		mutate(&s)
		if _, err := NewSimulator(s, time.Now()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestServesOffsetsAndPhasePerPartition(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	e, err := start(demoLikeScenario(), func() time.Time { return now })
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
}
