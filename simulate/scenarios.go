package simulate

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Profile is what the built-in scenarios scale to, so that each one means the same for any Consumer: a base
// load of 40 % of what an instance at its CPU ceiling processes.
type Profile struct {
	NumPartitions int32
	PerInstance   int32
	// RatePerCore is the consumer's capacity per core (messages/s).
	RatePerCore float64
	// CeilingCores is the consumer container's maxAllowed CPU, or 1 core without one.
	CeilingCores float64
}

// Base is the base production of one partition: 40 % of the instance ceiling, spread over its partitions.
func (p Profile) Base() float64 {
	return 0.4 * p.CeilingCores * p.RatePerCore / float64(max(1, p.PerInstance))
}

type scenario struct {
	name, description string
	make              func(p Profile, base float64) *Trace
}

// waveCycle is the period of the daily-wave scenario: a day's shape compressed so that six hours show three
// cycles of rising and falling load.
const waveCycle = 2 * time.Hour

var scenarios = []scenario{
	{"steady", "flat production at 40% of the instance ceiling", func(p Profile, base float64) *Trace {
		return &Trace{Production: func(int32, time.Duration) float64 { return base }}
	}},
	{"daily-wave", "production rises from 20% to 80% of the instance ceiling and falls back, a day compressed into 2h",
		func(p Profile, base float64) *Trace {
			return &Trace{Production: func(_ int32, at time.Duration) float64 {
				phase := 2 * math.Pi * float64(at%waveCycle) / float64(waveCycle)
				return base * (0.5 + 1.5*(1-math.Cos(phase))/2)
			}}
		}},
	{"spike", "every partition at 2.5x the base load for 15m from 1h (beyond the ceiling), then back", func(p Profile, base float64) *Trace {
		return &Trace{Production: func(_ int32, at time.Duration) float64 {
			if at >= time.Hour && at < time.Hour+15*time.Minute {
				return 2.5 * base
			}
			return base
		}}
	}},
	{"hot-partition", "partition 0 at 6x the base load from 1h to 4h, the others flat", func(p Profile, base float64) *Trace {
		return &Trace{Production: func(part int32, at time.Duration) float64 {
			if part == 0 && at >= time.Hour && at < 4*time.Hour {
				return 6 * base
			}
			return base
		}}
	}},
	{"metrics-gap", "flat load; Prometheus does not answer for 20m from 1h, the exporter is not scraped for 10m from 3h",
		func(p Profile, base float64) *Trace {
			return &Trace{Production: func(int32, time.Duration) float64 { return base },
				Gaps: []Gap{{From: time.Hour, To: time.Hour + 20*time.Minute, Kind: GapQuery},
					{From: 3 * time.Hour, To: 3*time.Hour + 10*time.Minute, Kind: GapScrape}}}
		}},
	{"partitions-added", "flat load; at 2h the topic gets a fifth more partitions (rounded up to whole instances) and the Consumer follows",
		func(p Profile, base float64) *Trace {
			add := (p.NumPartitions + 4) / 5
			if k := max(1, p.PerInstance); add%k != 0 {
				add += k - add%k
			}
			return &Trace{Production: func(int32, time.Duration) float64 { return base },
				Resizes: []Resize{{At: 2 * time.Hour, NumPartitions: p.NumPartitions + add}}}
		}},
}

// ScenarioNames lists the built-in scenarios in their documented order.
func ScenarioNames() []string {
	out := make([]string, len(scenarios))
	for i, s := range scenarios {
		out[i] = s.name
	}
	return out
}

// ScenarioHelp is one line per scenario, for --help.
func ScenarioHelp() string {
	var b strings.Builder
	for _, s := range scenarios {
		fmt.Fprintf(&b, "  %-17s %s\n", s.name, s.description)
	}
	return b.String()
}

// Scenario builds a built-in trace for a profile.
func Scenario(name string, p Profile) (*Trace, error) {
	for _, s := range scenarios {
		if s.name == name {
			t := s.make(p, p.Base())
			t.Name, t.Description = s.name, s.description
			return t, nil
		}
	}
	names := ScenarioNames()
	sort.Strings(names)
	return nil, fmt.Errorf("unknown scenario %q: one of %s", name, strings.Join(names, ", "))
}
