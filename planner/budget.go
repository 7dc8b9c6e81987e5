package planner

import (
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// budgetOutcome is what the global budget did in this pass.
type budgetOutcome struct {
	reason string
	short  []corev1.ResourceName // resources whose demand exceeded the budget
	// enforced counts the instances cut in this pass because the instances used more than the budget.
	enforced int
}

// applyBudget keeps the sum of requests over all instances inside globalPolicy.maxAllowed (cpu and memory).
//
// Instances whose resources are set from metrics in this pass share what the others (unchanged, pending,
// frozen, without data, new without data) leave. Sharing is water-filling on the CPU estimate: every such
// instance gets min(its demand, w) for the largest level w that fits, so small demands are met in full and large
// ones are cut to a common level; the container policy still applies, so nobody goes below its minimum. When even
// the minimums do not fit, instances get their minimum and the condition says so. A scale-up the budget cuts to
// no more than the instance has keeps what it has, and its pending state, for a later pass.
func (pl *planner) applyBudget() {
	if len(pl.st.budget) == 0 {
		return
	}
	pl.budget.reason = konsumeratorv1.ReasonWithinBudget
	defer pl.enforceBudget()
	var fixed [2]int64
	var changing []*instance
	for _, in := range pl.insts {
		if in.blocked != nil || in.deleting {
			continue
		}
		if in.changing && in.hasData || in.observed == nil && pl.st.autoscale && !in.frozen {
			changing = append(changing, in)
			continue
		}
		c, m := requestsOf(in.decided)
		fixed[0], fixed[1] = fixed[0]+c, fixed[1]+m
	}
	top := int64(0)
	for _, in := range changing {
		top = max(top, pl.demandLevel(in))
	}
	if short := pl.shortAt(changing, fixed, top); len(short) == 0 {
		return
	} else {
		pl.budget.short = short
	}
	inc := pl.st.cpuIncrementMill
	if len(pl.shortAt(changing, fixed, inc)) > 0 {
		pl.budget.reason = konsumeratorv1.ReasonMinimumsExceedBudget
		pl.setLevel(changing, inc)
		return
	}
	// largest multiple of inc in [inc, top) that fits
	lo, hi := int64(1), top/inc
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if len(pl.shortAt(changing, fixed, mid*inc)) == 0 {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	pl.budget.reason = konsumeratorv1.ReasonBudgetShared
	pl.setLevel(changing, min(lo*inc, pl.fairLevel(top)))
}

// enforceBudget brings instances that already use more than the budget allows (it was lowered, or added) down to
// the fair level, largest first, until the total fits: without it they would keep their resources for ever. Only
// instances sized from metrics are cut (missing data is not zero load, frozen is frozen), never below the policy
// minimum; each cut is a scale-down, paced by the rollout budget like any restart.
func (pl *planner) enforceBudget() {
	total := func() [2]int64 {
		var sum [2]int64
		for _, in := range pl.insts {
			if in.blocked == nil && !in.deleting {
				c, m := requestsOf(in.decided)
				sum[0], sum[1] = sum[0]+c, sum[1]+m
			}
		}
		return sum
	}
	over := func(sum [2]int64) bool {
		b, ok := pl.st.budget[corev1.ResourceCPU]
		if ok && sum[0] > b {
			return true
		}
		b, ok = pl.st.budget[corev1.ResourceMemory]
		return ok && sum[1] > b
	}
	before := total()
	if !over(before) {
		return
	}
	var big []*instance
	for _, in := range pl.insts {
		if in.observed != nil && in.hasData && !in.frozen && pl.st.autoscale && in.blocked == nil && !in.deleting {
			big = append(big, in)
		}
	}
	sort.SliceStable(big, func(i, j int) bool {
		ci, mi := requestsOf(big[i].decided)
		cj, mj := requestsOf(big[j].decided)
		if ci != cj {
			return ci > cj
		}
		if mi != mj {
			return mi > mj
		}
		return big[i].index < big[j].index
	})
	if len(big) == 0 || pl.st.cpuIncrementMill <= 0 {
		return // nothing sized from metrics to cut
	}
	level := pl.fairLevel(0)
	for _, in := range big {
		if !over(total()) {
			return
		}
		sizes := pl.demandAt(in, level)
		if compareSizes(sizes, in.decided) != dirDown {
			continue
		}
		in.decided, in.changing, in.scaleDir, in.liveIsDecided = sizes, true, dirDown, false
		if in.state.state != StateRunning || in.state.since.IsZero() {
			in.state = scalingState{state: StateRunning, since: pl.now}
		}
		in.ripens = time.Time{}
		in.sizeNote = "cut to fit the global budget: the instances used more than it allows"
		pl.budget.enforced++
	}
	if over(total()) {
		pl.budget.reason = konsumeratorv1.ReasonMinimumsExceedBudget
		return
	}
	// The cuts share the budget at a common level.
	pl.budget.reason = konsumeratorv1.ReasonBudgetShared
	if len(pl.budget.short) == 0 {
		if b, ok := pl.st.budget[corev1.ResourceCPU]; ok && before[0] > b {
			pl.budget.short = append(pl.budget.short, corev1.ResourceCPU)
		}
		if b, ok := pl.st.budget[corev1.ResourceMemory]; ok && before[1] > b {
			pl.budget.short = append(pl.budget.short, corev1.ResourceMemory)
		}
	}
}

// fairLevel is the water level as if every instance sized from metrics took its share in this pass, those still
// pending or unchanged included (at their demand, not their current size). A changing instance never goes above
// it, so equal demands end with equal shares whichever pending wait ended first.
func (pl *planner) fairLevel(top int64) int64 {
	var fixed [2]int64
	var all []*instance
	for _, in := range pl.insts {
		if in.blocked != nil || in.deleting {
			continue
		}
		if pl.st.autoscale && !in.frozen && (in.hasData || in.observed == nil) {
			all = append(all, in)
			continue
		}
		c, m := requestsOf(in.decided)
		fixed[0], fixed[1] = fixed[0]+c, fixed[1]+m
	}
	inc := pl.st.cpuIncrementMill
	fits := func(w int64) bool {
		sum := fixed
		for _, in := range all {
			c, m := requestsOf(pl.demandAt(in, w))
			sum[0], sum[1] = sum[0]+c, sum[1]+m
		}
		b, ok := pl.st.budget[corev1.ResourceCPU]
		if ok && sum[0] > b {
			return false
		}
		b, ok = pl.st.budget[corev1.ResourceMemory]
		return !ok || sum[1] <= b
	}
	for _, in := range all {
		top = max(top, pl.demandLevel(in))
	}
	if fits(top) {
		return top
	}
	lo, hi := int64(1), top/inc
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if fits(mid * inc) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo * inc
}

// demandAt is what an instance would get at water level w if it were sized now, whatever it has.
func (pl *planner) demandAt(in *instance, w int64) []corev1.ResourceRequirements {
	switch {
	case !in.hasData:
		if w >= pl.demandLevel(in) {
			return pl.fallbackSizes(pl.st.fallbackMax)
		}
		return pl.fallbackAt(w)
	case w >= pl.demandLevel(in):
		return pl.targetSizes(in.estimate, in.critical)
	}
	return pl.targetSizes(min(in.estimate, w), false)
}

// demandLevel is the level at which an instance gets its full target: its estimate, or for critical lag (and a
// new instance with fallback max) the largest CPU maximum of its policies.
func (pl *planner) demandLevel(in *instance) int64 {
	level := in.estimate
	if !in.hasData {
		level = pl.st.cpuIncrementMill
	}
	if in.critical || !in.hasData && pl.st.fallbackMax {
		for _, name := range pl.names {
			if m, ok := pl.st.policies[name].max[corev1.ResourceCPU]; ok {
				level = max(level, m)
			}
		}
	}
	return level
}

// sizesAt is what an instance gets at water level w. A scale-up never goes below what the instance has: the
// budget may hold it back, not shrink it.
func (pl *planner) sizesAt(in *instance, w int64) []corev1.ResourceRequirements {
	if w >= pl.demandLevel(in) {
		return in.decided
	}
	var sizes []corev1.ResourceRequirements
	if in.hasData {
		sizes = pl.targetSizes(min(in.estimate, w), false)
	} else {
		sizes = pl.fallbackAt(w)
	}
	if in.observed != nil && in.scaleDir == dirUp && pl.autoDirection(sizes, in.current) != dirUp {
		return pl.keepOr(in, sizes)
	}
	return sizes
}

// fallbackAt is the fallback of a new instance without data cut to level w: containers without a policy keep
// the template's resources.
func (pl *planner) fallbackAt(w int64) []corev1.ResourceRequirements {
	cs := pl.tmpl.Template.Spec.Containers
	out := append([]corev1.ResourceRequirements(nil), pl.fallbackSizes(false)...) // the cached slice is shared
	for i := range cs {
		if pol, ok := pl.st.policies[cs[i].Name]; ok && !pol.off {
			out[i] = pl.st.autoSize(&cs[i], w, false)
		}
	}
	return out
}

// shortAt lists the budgeted resources that the instances at level w would exceed.
func (pl *planner) shortAt(changing []*instance, fixed [2]int64, w int64) []corev1.ResourceName {
	sum := fixed
	for _, in := range changing {
		c, m := requestsOf(pl.sizesAt(in, w))
		sum[0], sum[1] = sum[0]+c, sum[1]+m
	}
	var short []corev1.ResourceName
	if b, ok := pl.st.budget[corev1.ResourceCPU]; ok && sum[0] > b {
		short = append(short, corev1.ResourceCPU)
	}
	if b, ok := pl.st.budget[corev1.ResourceMemory]; ok && sum[1] > b {
		short = append(short, corev1.ResourceMemory)
	}
	sort.Slice(short, func(i, j int) bool { return short[i] < short[j] })
	return short
}

func (pl *planner) setLevel(changing []*instance, w int64) {
	for _, in := range changing {
		sizes := pl.sizesAt(in, w)
		if in.observed != nil && in.scaleDir == dirUp && pl.autoDirection(sizes, in.current) != dirUp && w < pl.demandLevel(in) {
			// The budget leaves nothing more for this scale-up: keep what it has and stay pending.
			in.decided, in.changing, in.liveIsDecided = pl.keepOr(in, sizes), false, false
			in.state = readScalingState(in.observed.Annotations, pl.now)
			in.sizeNote = "scale up held: the global budget is spent"
			continue
		}
		if !sameSizes(sizes, in.decided) {
			in.sizeNote += "; cut to fit the global budget"
		}
		if len(sizes) == 0 || len(in.decided) == 0 || &sizes[0] != &in.decided[0] {
			in.liveIsDecided = false
		}
		in.decided = sizes
	}
}

// sameSizes compares cpu and memory requests and limits semantically.
func sameSizes(a, b []corev1.ResourceRequirements) bool {
	if len(a) != len(b) {
		return false
	}
	return compareSizes(a, b) == dirNone && compareSizes(b, a) == dirNone
}
