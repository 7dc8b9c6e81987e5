package simulate_test

import (
	"math"
	"testing"
	"time"

	"github.com/konsumerator/konsumerator/simulate"
)

// staircase is the cheapest CPU any planner could request for one instance over one cycle of a periodic load,
// knowing the load in advance, with at most changes changes of size (each a restart: the consumer pauses for
// pause), the lag (backlog over the faster of production and consumption, as the planner measures it) kept under
// tolerable except for at most violations steps, and sizes between lo and hi cores in steps of grid. Dynamic
// programming over steps of step, the backlog in buckets of bucket core-seconds.
//
// It is a lower bound of what the simulator can show for that instance: everything is in the planner's favour.
// The backlog is rounded down every step and clipped at zero only at a step's end, the lag is checked at the
// step's end against its larger production, the CPU starts at any size with no backlog and need not come back
// to where it started, and a change takes effect at once (the simulator's rollout takes a minute).
type staircase struct {
	cycle, step, pause, tolerable    time.Duration
	changes, violations              int
	lo, hi, grid, bucket, maxBacklog float64
	// demand is the instance's production in cores (messages/s over the consumer's capacity per core).
	demand func(at time.Duration) float64
	// downAllowed, when set, says whether a size of c cores may step down at the start of the step at at: the
	// planner's rule that a scale-down goes only once it has given back its margin for a whole wait. Nil: any
	// change at any time.
	downAllowed func(c float64, at time.Duration) bool
}

// bound returns the cheapest CPU in core-seconds for each number of violating steps allowed, 0..violations.
func (s staircase) bound() []float64 {
	var levels []float64
	for c := s.lo; c <= s.hi+1e-9; c += s.grid {
		levels = append(levels, c)
	}
	steps := int(s.cycle / s.step)
	buckets := int(s.maxBacklog/s.bucket) + 1
	nv, nk := s.violations+1, s.changes+1
	idx := func(l, k, b, v int) int { return ((l*nk+k)*buckets+b)*nv + v }
	inf := math.Inf(1)
	cur := make([]float64, len(levels)*nk*buckets*nv)
	next := make([]float64, len(cur))
	cheapest := make([]float64, nk*buckets*nv) // over levels: where a change may come from
	var upFrom, downFrom []float64             // with downAllowed: per level, from below and from above
	allowed := make([]bool, len(levels))
	if s.downAllowed != nil {
		upFrom, downFrom = make([]float64, len(cur)), make([]float64, len(cur))
	}
	for i := range cur {
		cur[i] = inf
	}
	for l := range levels {
		cur[idx(l, 0, 0, 0)] = 0
	}
	dt := s.step.Seconds()
	for i := range steps {
		from, to := time.Duration(i)*s.step, time.Duration(i+1)*s.step
		produced := integrate(s.demand, from, to)
		if s.downAllowed != nil {
			for l, c := range levels {
				allowed[l] = s.downAllowed(c, from)
			}
		}
		peak := max(s.demand(from), s.demand(to))
		for j := range cheapest {
			cheapest[j] = inf
		}
		for l := range levels {
			for j := range cheapest {
				cheapest[j] = min(cheapest[j], cur[l*len(cheapest)+j])
			}
		}
		n := len(cheapest)
		if s.downAllowed != nil {
			// From below (a step up) any level may come; from above only a level allowed to step down now.
			for j := range n {
				best := inf
				for l := range levels {
					upFrom[l*n+j] = best
					best = min(best, cur[l*n+j])
				}
				best = inf
				for l := len(levels) - 1; l >= 0; l-- {
					downFrom[l*n+j] = best
					if allowed[l] {
						best = min(best, cur[l*n+j])
					}
				}
			}
		}
		for j := range next {
			next[j] = inf
		}
		for l, c := range levels {
			for k := range nk {
				for b := range buckets {
					for v := range nv {
						stay := cur[idx(l, k, b, v)]
						if k > 0 {
							j := ((k-1)*buckets+b)*nv + v
							moved := cheapest[j]
							if s.downAllowed != nil {
								moved = min(upFrom[l*n+j], downFrom[l*n+j])
							}
							if !math.IsInf(moved, 1) {
								// A change to this size at the start of the step: the consumer pauses.
								s.advance(next, idx, l, k, b, v, c, moved, produced, peak, dt-s.pause.Seconds(), dt)
							}
						}
						if !math.IsInf(stay, 1) {
							s.advance(next, idx, l, k, b, v, c, stay, produced, peak, dt, dt)
						}
					}
				}
			}
		}
		cur, next = next, cur
	}
	best := make([]float64, nv)
	for v := range best {
		best[v] = inf
	}
	for l := range levels {
		for k := range nk {
			for b := range buckets {
				for v := range nv {
					for w := v; w < nv; w++ {
						best[w] = min(best[w], cur[idx(l, k, b, v)])
					}
				}
			}
		}
	}
	return best
}

// advance moves one state a step on: consuming c cores for busy seconds of the step, paying c for all of it.
func (s staircase) advance(next []float64, idx func(l, k, b, v int) int, l, k, b, v int, c, cost, produced, peak, busy, dt float64) {
	backlog := max(0, float64(b)*s.bucket+produced-c*busy)
	if backlog >= s.tolerable.Seconds()*max(peak, c) {
		v++
	}
	nb := int(backlog / s.bucket)
	if v > s.violations || float64(nb)*s.bucket > s.maxBacklog {
		return
	}
	j := idx(l, k, nb, v)
	next[j] = min(next[j], cost+c*dt)
}

// integrate is the integral of f from a to b in core-seconds, by Simpson's rule over one-second slices.
func integrate(f func(time.Duration) float64, a, b time.Duration) float64 {
	n := int((b - a) / time.Second)
	sum := 0.0
	for i := range n {
		x0 := a + time.Duration(i)*time.Second
		sum += (f(x0) + 4*f(x0+time.Second/2) + f(x0+time.Second)) / 6
	}
	return sum
}

// TestFourRestartsPerCycleCanStayUnderTheCoreHoursOfBefore: the target of issue 18 for updateMode Restart on the
// daily wave — at most 4 restarts per instance per 2 h cycle, lag under tolerableLag at least 99 % of the time, and
// no more CPU than before the fixes (74.5 core-hours) — is not out of reach: a staircase of 4 sizes per cycle
// that uses the backlog tolerableLag allows could spend about 65 core-hours, and about 66 when a step down must
// also wait 15 minutes after it first gives back 30 % of the CPU (the planner's rule against restarts on a short
// dip). Only without any lag does a 4-size staircase need more than 74.5 (about 76), which is what docs/sizing.md
// once took for the bound.
func TestFourRestartsPerCycleCanStayUnderTheCoreHoursOfBefore(t *testing.T) {
	t.Parallel()
	c := sample(t)
	o := simulate.DefaultOptions()
	prof, err := simulate.ProfileOf(c, o)
	if err != nil {
		t.Fatal(err)
	}
	trace, err := simulate.Scenario("daily-wave", prof)
	if err != nil {
		t.Fatal(err)
	}
	per := prof.PerInstance
	demand := func(at time.Duration) float64 {
		sum := 0.0
		for p := range per {
			sum += trace.Production(p, at)
		}
		return sum / prof.RatePerCore
	}
	const (
		instances     = 10
		cycles        = 3
		sidecarCores  = 0.1 // the sample's busybox-sidecar, fixed at 100m
		beforeTheFix  = 74.5
		violationStep = time.Minute
	)
	// 1 % of six hours, rounded up to whole steps: in the planner's favour.
	allowed := int(math.Ceil(0.01 * float64(6*time.Hour) / float64(violationStep)))
	s := staircase{cycle: 2 * time.Hour, step: violationStep, pause: o.Pause, tolerable: 5 * time.Minute,
		changes: 4, violations: allowed, lo: 0.1, hi: 2, grid: 0.05, bucket: 0.5, maxBacklog: 1200, demand: demand}
	coreHours := func(perCycle []float64) float64 {
		// The violations are shared by the three cycles: the cheapest split.
		best := math.Inf(1)
		for a := range perCycle {
			for b := 0; a+b < len(perCycle); b++ {
				best = min(best, perCycle[a]+perCycle[b]+perCycle[len(perCycle)-1-a-b])
			}
		}
		return instances*best/3600 + instances*cycles*2*sidecarCores
	}
	withLag := coreHours(s.bound())
	// The same with the rule that a scale-down goes only after it has given back downMargin (30 %) of the CPU for
	// a whole pendingScaleDownDuration (15m), so that a short dip never costs a restart.
	waitOf, margin := 15*time.Minute, 0.30
	s.downAllowed = func(c float64, at time.Duration) bool {
		for back := time.Duration(0); back <= waitOf; back += 15 * time.Second {
			t := at - back
			if t < 0 {
				t += s.cycle // the wave repeats: the wait may have started in the cycle before
			}
			if demand(t) > (1-margin)*c {
				return false
			}
		}
		return true
	}
	withRule := coreHours(s.bound())
	s.downAllowed = nil
	// The bound docs/sizing.md once gave: no lag at all, and restarts that cost no pause.
	s.tolerable, s.violations, s.pause = time.Second, 0, 0
	noLag := coreHours(s.bound())
	mean := 0.0
	for at := time.Duration(0); at < 2*time.Hour; at += time.Second {
		mean += demand(at)
	}
	perfect := instances*cycles*mean/3600 + instances*cycles*2*sidecarCores
	t.Logf("daily wave, 10 instances, 6 h: the load itself %.1f core-hours; best 4-size staircase per cycle %.1f using the lag tolerableLag allows, %.1f with the scale-down rule too (%v after %.0f %% given back), %.1f without lag (and free restarts); before the fixes %.1f",
		perfect, withLag, withRule, waitOf, margin*100, noLag, beforeTheFix)
	if withRule < withLag-1e-9 {
		t.Errorf("a rule made the bound cheaper (%.2f < %.2f): the dynamic programme is wrong", withRule, withLag)
	}
	// The rule that keeps a short dip from costing a restart is not what stands between the planner and 74.5.
	if withRule >= beforeTheFix {
		t.Errorf("with the scale-down rule a 4-size staircase costs %.1f core-hours, not under %.1f", withRule, beforeTheFix)
	}
	if withLag >= beforeTheFix {
		t.Errorf("with the lag tolerableLag allows, a 4-size staircase costs %.1f core-hours, not under %.1f", withLag, beforeTheFix)
	}
	// Under the load itself only by what the relaxation gives away: each cycle may end with a backlog the next
	// does not inherit (at most tolerableLag of the lowest load, 120 core-seconds per instance and cycle, 1 core-hour
	// in all) and the backlog is rounded down.
	if withLag < perfect-1.5 {
		t.Errorf("the bound %.1f is further under the load itself, %.1f, than the relaxation allows: the dynamic programme is wrong", withLag, perfect)
	}
	if noLag <= beforeTheFix {
		t.Errorf("without lag, a 4-size staircase costs %.1f core-hours, under %.1f", noLag, beforeTheFix)
	}
}
