package planner

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// size decides every instance's resources: from metrics through the hysteresis when there is fresh data, kept
// as they are when there is none (missing data is not zero load), frozen when the autoscaler is disabled.
func (pl *planner) size() {
	for _, in := range pl.insts {
		pl.observe(in)
		pl.observeHealth(in)
		pl.readFloors(in)
		pl.load(in)
		switch {
		case !pl.st.autoscale:
			in.decided = pl.templateSizes()
			in.sizeNote = "resources from the template"
		case in.frozen:
			in.decided = pl.keepOr(in, pl.fallbackSizes(false))
			in.sizeNote = "autoscaler disabled: resources frozen"
		case !in.hasData:
			in.decided = pl.keepOr(in, pl.fallbackSizes(pl.st.fallbackMax))
			in.sizeNote = "no metrics: resources kept"
			if in.observed == nil {
				in.sizeNote = "no metrics: " + pl.fallbackNote()
			}
		default:
			pl.sizeFromMetrics(in)
		}
		pl.applyOOMBump(in)
	}
}

// fallbackNote says what a new instance without data gets: the fallback applies to containers with a policy
// only, the others get the template's resources.
func (pl *planner) fallbackNote() string {
	with, without := 0, 0
	for _, name := range pl.names {
		if pol, ok := pl.st.policies[name]; ok && !pol.off {
			with++
		} else {
			without++
		}
	}
	switch {
	case with == 0:
		return "the template's resources (no container policy to fall back on)"
	case without > 0:
		return "fallback " + string(pl.fallbackName()) + " resources where a container has a policy, the template's elsewhere"
	}
	return "fallback " + string(pl.fallbackName()) + " resources"
}

func (pl *planner) fallbackName() konsumeratorv1.FallbackStrategy {
	if pl.st.fallbackMax {
		return konsumeratorv1.FallbackStrategyMax
	}
	return konsumeratorv1.FallbackStrategyMin
}

// observe reads what the live object tells: current resources, hysteresis state, rollout progress.
func (pl *planner) observe(in *instance) {
	in.state = scalingState{state: StateRunning}
	in.frozen = pl.st.frozen
	d := in.observed
	if d == nil {
		return
	}
	for k, v := range d.Annotations {
		switch k {
		case konsumeratorv1.AnnotationDisableAutoscaler:
			in.frozen = true
		case konsumeratorv1.AnnotationPartition:
			in.ann.partition, in.ann.has.partition = v, true
		case konsumeratorv1.AnnotationScalingStatus:
			in.ann.scalingStatus, in.ann.has.scalingStatus = v, true
		case konsumeratorv1.AnnotationScalingStatusChange:
			in.ann.scalingStatusChange, in.ann.has.scalingStatusChange = v, true
		case konsumeratorv1.AnnotationSpecHash:
			in.ann.specHash, in.ann.has.specHash = v, true
		case konsumeratorv1.AnnotationResources:
			in.ann.resources, in.ann.has.resources = v, true
		case konsumeratorv1.AnnotationMemoryFloor:
			in.ann.memoryFloor, in.ann.has.memoryFloor = v, true
		case konsumeratorv1.AnnotationScaleDownMarginSince:
			in.ann.marginSince, in.ann.has.marginSince = v, true
		}
	}
	in.state = scalingStateOf(in.ann.scalingStatus, in.ann.scalingStatusChange, in.ann.marginSince, pl.now)
	in.current = pl.memo.currentSlot(int(in.index), len(pl.names))
	for i, name := range pl.names {
		if c := findContainer(d.Spec.Template.Spec.Containers, name); c != nil {
			in.current[i] = c.Resources
		}
	}
	in.templateLive = in.current
	if pl.inPlace {
		if recorded, ok := decodeResources(in.ann.resources, pl.names); ok {
			in.current = recorded
		}
	}
	in.inFlight = rolloutInProgress(d)
	want := pl.desiredReplicas()
	in.available = want > 0 && d.Status.AvailableReplicas >= want
}

// load sums the required rate of the instance's partitions; a partition without data counts like the busiest
// partition of the same instance, and an instance none of whose partitions has data has no data.
func (pl *planner) load(in *instance) {
	if !pl.view.usable {
		return
	}
	var sum, busiest, prod, behind, busiestProd, busiestBehind, cons float64
	missing := int32(0)
	in.consumptionKnown = true
	for p := in.rng.First; p < in.rng.First+in.rng.Count; p++ {
		l := pl.view.loads[p]
		if !l.has {
			missing++
			continue
		}
		in.hasData = true
		sum += l.required
		prod += l.production
		behind += l.behind
		cons += l.consumption
		in.consumptionKnown = in.consumptionKnown && l.hasConsumption
		if l.required > busiest {
			busiestProd, busiestBehind = l.production, l.behind
		}
		busiest = max(busiest, l.required)
		in.maxLag = max(in.maxLag, l.lag)
	}
	if !in.hasData {
		return
	}
	sum += float64(missing) * busiest
	in.rate = sum
	in.production = prod + float64(missing)*busiestProd
	in.behind = behind + float64(missing)*busiestBehind
	in.consumption = cons
	in.consumptionKnown = in.consumptionKnown && missing == 0
	in.perCore = pl.st.ratePerCore
	in.estimate = pl.st.estimateMilli(sum)
	in.lagging = pl.st.tolerableLag > 0 && in.maxLag >= pl.st.tolerableLag
	in.critical = pl.st.criticalLag > 0 && in.maxLag >= pl.st.criticalLag
}

// sizeFromMetrics sets the target from the load and lets the hysteresis decide whether to take it now.
func (pl *planner) sizeFromMetrics(in *instance) {
	if perCore, ok := pl.observedPerCore(in); ok && perCore < in.perCore {
		in.perCore = perCore
		in.estimate = pl.st.estimateAt(in.rate, perCore)
	}
	target := pl.withFloors(in, pl.targetSizes(in.estimate, in.critical))
	if in.observed == nil {
		in.decided, in.changing = target, true
		in.sizeNote = "sized from metrics"
		return
	}
	// The common steady state: the live containers have exactly the target's resources.
	in.liveIsDecided = sameResources(in.observed.Spec.Template.Spec.Containers, pl.names, target)
	if pl.inPlace {
		in.liveIsDecided = sameNames(in.observed.Spec.Template.Spec.Containers, pl.names) && sameSizes(in.current, target)
	}
	edited, reassigned := pl.resourcesEdited(in, target), pl.reassigned(in)
	if edited || reassigned {
		// The live resources say nothing about this load: take the target at once, as for a new instance.
		in.decided, in.changing, in.scaleDir = target, true, pl.autoDirection(target, in.current)
		if in.state.state != StateRunning || in.state.since.IsZero() {
			in.state = scalingState{state: StateRunning, since: pl.now}
		}
		in.sizeNote = "partitions reassigned: sized from metrics"
		if edited {
			in.sizeNote = "resources were changed outside the operator: set from metrics"
		}
		return
	}
	dir := dirNone
	if !in.liveIsDecided {
		dir = pl.autoDirection(target, in.current)
	}
	if !in.critical {
		target, dir = pl.countOwnCost(in, target, dir)
	}
	if dir == dirDown && pl.s.Metrics.AfterGap {
		// Rates read just after a gap come from partly filled windows and read low: no scale-down starts (or
		// ripens) on them; a pending one keeps its time and is decided on the next sample.
		if in.state.state != StatePendingScaleDown && (in.state.state != StateRunning || in.state.since.IsZero()) {
			in.state = scalingState{state: StateRunning, since: pl.now}
		}
		in.decided, in.liveIsDecided = pl.keepOr(in, target), false
		in.sizeNote = "no scale-down on rates read just after a metrics gap"
		return
	}
	dec := decideScaling(scalingInput{current: in.state, dir: dir, lagging: in.lagging, critical: in.critical},
		pl.now, pl.st.pendingUp, pl.st.pendingDown)
	if dir == dirDown {
		dec = pl.holdScaleDown(in, dec) // holdDown and bigStep are only ever set by restart
	}
	in.state, in.ripens, in.sizeNote = dec.next, dec.ripens, dec.reason
	if dec.apply {
		if dir == dirUp && pl.autoDirection(in.current, target) == dirUp {
			// Some values grow and others shrink: the growth goes now, the shrinking values wait for their own
			// scale-down time (the next pass sees a scale-down and enters PENDING_SCALE_DOWN).
			target = pl.growOnly(target, in.current)
			dec.reason += "; decreases wait for a scale-down"
			in.sizeNote = dec.reason
		}
		in.decided, in.changing, in.scaleDir = target, true, dir
		return
	}
	if in.liveIsDecided || dir == dirNone && sameSizes(in.current, target) {
		in.decided = target // the same values; the shared slice keeps its cached hash
	} else {
		in.decided, in.liveIsDecided = pl.keepOr(in, target), false
	}
	if in.sizeNote == "" {
		in.sizeNote = "resources match the load"
		if in.costNote != "" {
			in.sizeNote = in.costNote
		}
	}
}

// Sizing margins, so that decisions do not fight themselves (see docs/sizing.md, "A decision counts its own
// cost"): in updateMode Restart every resize restarts the consumer, and a restart leaves a backlog.
const (
	// restartAllowance is the production a restart leaves as backlog (the rebalance pause and the rollout): a
	// scale-down keeps the headroom to work it off within recoveryTime.
	restartAllowance = time.Minute
	// upTrigger: by restart, a scale-up starts only when the load is this share above the size (or the lag would
	// reach tolerableLag before a scale-up could help, lagOutgrowsSize): a backlog the size works off under
	// tolerableLag is not worth a restart.
	upTrigger = 0.25
	// upHeadroomCap: a scale-up by restart is sized at most this share above the load, however steep its trend.
	upHeadroomCap = 0.20
	// trendWaits is how many pendingScaleUpDuration a scale-up by restart projects the load's rise over: the rise
	// measured during its own wait, continued, so a rising load costs few, larger steps.
	trendWaits = 1.5
	// downMargin: a scale-down goes only when it gives back at least this share of the CPU, so a falling load
	// also costs few steps.
	downMargin = 0.30
	// bigStep: a scale-down by restart that gives back more than this share of the CPU goes only once it has been
	// worth a restart for the whole pendingScaleDownDuration (holdScaleDown).
	bigStep = 0.5
	// In place (updateMode InPlace) a step restarts nothing: small margins, so the CPU follows the load.
	inPlaceUpHeadroom = 0.05
	inPlaceDownMargin = 0.10
	// notDraining: a backlog read at less than this share below production is taken as growing, so the consumer
	// reads as fast as it can.
	notDraining = 0.02
	// rateSettles: rates are read over a window of a few minutes (2m in the sample's queries); for that long after
	// a resize, and so after the state it started, the consumption read still holds the rebalance pause of the
	// restart, or in place the CPU before the resize, and tells nothing of what the CPU now does.
	rateSettles = 3 * time.Minute
)

// lagOutgrowsSize tells whether the instance's worst lag, at its current CPU, reaches tolerableLag before a
// scale-up started now could help: the lag grows by the share of production the CPU cannot read, over the
// pendingScaleUpDuration wait, and the restart itself adds restartAllowance. A lag that stays under tolerableLag
// that long is not worth a restart yet: it is looked at again on every sample, so a load that stays above the size
// still gets its scale-up in time, and a load that falls back under it (past the peak of a wave) has its backlog
// worked off without one. The lag alone used to start a scale-up at half of tolerableLag, which past the peak
// bought CPU for a load that was already falling.
func (pl *planner) lagOutgrowsSize(in *instance, curMilli int64) bool {
	if pl.st.tolerableLag <= 0 {
		return true
	}
	capacity := float64(curMilli) / 1000 * in.perCore
	deficit := 0.0
	if in.production > capacity {
		deficit = (in.production - capacity) / in.production
	}
	projected := float64(in.maxLag) + deficit*float64(pl.st.pendingUp) + float64(restartAllowance)
	return projected >= float64(pl.st.tolerableLag)
}

// countOwnCost revises a scale decision by what the resize itself costs:
//   - up, in place: sized with inPlaceUpHeadroom above the load;
//   - up, by restart: starts only when the load is upTrigger above the size (or the lag would reach tolerableLag
//     before a scale-up could help: lagOutgrowsSize), and when it ripens is sized for the rise of production
//     measured during its wait, continued over trendWaits waits, at most upHeadroomCap above the load;
//   - down: sized with restartAllowance of production as backlog to work off (not in updateMode InPlace, where
//     it restarts nothing); its wait starts when the load first asks for a smaller size and starts again
//     whenever it no longer does, so a dip shorter than pendingScaleDownDuration changes nothing; by restart the
//     step goes only once it has waited and gives back downMargin of the CPU (holdDown), so a falling load costs
//     few steps, each as soon as it is worth a restart. In place the wait starts when the step gives back
//     inPlaceDownMargin.
func (pl *planner) countOwnCost(in *instance, target []corev1.ResourceRequirements, dir direction) ([]corev1.ResourceRequirements, direction) {
	switch dir {
	case dirUp:
		if pl.inPlace {
			up := pl.withFloors(in, pl.targetSizes(pl.st.estimateAt(in.rate*(1+inPlaceUpHeadroom), in.perCore), false))
			return up, pl.autoDirection(up, in.current)
		}
		cur := pl.currentCPU(in)
		trigger := float64(cur) / 1000 * in.perCore * (1 + upTrigger)
		if in.state.state != StatePendingScaleUp && in.rate <= trigger && !pl.lagOutgrowsSize(in, cur) {
			// Not worth a restart yet: the CPU stays (memory still follows the CPU).
			keep := pl.withFloors(in, pl.targetSizes(cur, false))
			if d := pl.autoDirection(keep, in.current); d != dirDown {
				if in.maxLag > 0 {
					in.costNote = fmt.Sprintf("no restart for a lag of %s: at this size it stays under tolerableLag %s until a scale-up could help",
						in.maxLag.Round(time.Second), pl.st.tolerableLag)
				}
				return keep, d
			}
		}
		rate := in.rate
		if w := pl.now.Sub(in.state.since); in.state.state == StatePendingScaleUp && !in.state.since.IsZero() && w > 0 {
			// The scale-up started when the load crossed the trigger; what production has risen above it since is
			// the trend, continued over trendWaits waits.
			rise := max(0, in.production-trigger) / w.Seconds()
			rate += rise * trendWaits * pl.st.pendingUp.Seconds()
			// A step in the load is no trend: read as one, the whole step would be projected again on top of the
			// new load. Capped at upHeadroomCap above the load, a step gets no more than a fifth of headroom.
			rate = min(rate, in.rate*(1+upHeadroomCap))
		}
		up := pl.withFloors(in, pl.targetSizes(pl.st.estimateAt(rate, in.perCore), false))
		return up, pl.autoDirection(up, in.current)
	case dirDown:
		need := in.rate
		// In place a scale-down restarts nothing, so it leaves no backlog to keep room for.
		if pl.st.recovery > 0 && !pl.inPlace {
			need += in.production * restartAllowance.Seconds() / pl.st.recovery.Seconds()
		}
		est, cur := pl.st.estimateAt(need, in.perCore), pl.currentCPU(in)
		if float64(est) > float64(cur)*(1-pl.downMargin()) {
			// Too little CPU to give back for a restart: the CPU stays, values that still shrink (memory after
			// ramPerCore was lowered) go down on their own.
			keep := pl.withFloors(in, pl.targetSizes(cur, false))
			if d := pl.autoDirection(keep, in.current); d == dirDown || pl.inPlace {
				return keep, d
			}
			// By restart, the wait starts all the same, the step to wait for being the one the load now asks
			// for; it goes once it has waited and gives back downMargin (holdDown). On a falling load the step
			// then goes as soon as it is worth a restart, not pendingScaleDownDuration after that. Not in the
			// first rateSettles after a change of state: a scale-up's headroom is no call for a scale-down.
			settled := in.state.state == StatePendingScaleDown || !in.state.since.IsZero() && pl.now.Sub(in.state.since) >= rateSettles
			if down := pl.withFloors(in, pl.targetSizes(est, false)); settled && pl.autoDirection(down, in.current) == dirDown {
				in.holdDown = true
				return down, dirDown
			}
			return keep, pl.autoDirection(keep, in.current)
		}
		if !pl.inPlace && cur > 0 {
			in.bigStep = 1-float64(est)/float64(cur) > bigStep
		}
		down := pl.withFloors(in, pl.targetSizes(est, false))
		return down, pl.autoDirection(down, in.current)
	}
	return target, dir
}

// holdScaleDown keeps a ripe scale-down by restart pending while its step does not give back downMargin, or, for a
// step of more than bigStep, until it has given it back for the whole pendingScaleDownDuration: a wait started
// while the load was a little under the size must not turn a short, deep dip into a restart down and one back
// up. It also keeps the time the step first gave back downMargin (AnnotationScaleDownMarginSince).
func (pl *planner) holdScaleDown(in *instance, dec scalingDecision) scalingDecision {
	switch {
	case in.holdDown && dec.apply:
		dec = scalingDecision{next: in.state, reason: fmt.Sprintf("scale down pending: waited %s, goes once it gives back %.0f %% of the CPU",
			pl.st.pendingDown, 100*pl.downMargin())}
	case !in.holdDown && dec.apply && in.bigStep && pl.st.pendingDown > 0 &&
		(in.state.marginSince.IsZero() || pl.now.Sub(in.state.marginSince) < pl.st.pendingDown):
		since := pl.now
		if !in.state.marginSince.IsZero() {
			since = in.state.marginSince
		}
		dec = scalingDecision{next: in.state, ripens: since.Add(pl.st.pendingDown),
			reason: fmt.Sprintf("scale down pending: a step of more than %.0f %% of the CPU goes once it has been worth a restart for %s",
				100*bigStep, pl.st.pendingDown)}
	}
	switch {
	case dec.next.state != StatePendingScaleDown || in.holdDown:
		dec.next.marginSince, dec.next.marginRaw = time.Time{}, ""
	case dec.next.marginSince.IsZero():
		dec.next.marginSince = pl.now
	}
	return dec
}

// observedPerCore is the rate one core of this instance was seen reading at, when that says what it can do: its
// backlog is a real one (the lag at half of tolerableLag), so the consumer
// reads as fast as its CPU lets it, and no rollout is under way (its pause would read as slowness). ratePerCore
// is a guess made once; when it is too high, a planner that sizes from it alone gives a lagging instance the
// CPU for its production and no more, and the lag settles above tolerableLag instead of draining.
//
// A reading below half of ratePerCore is taken as half: such a consumer is stalled or restarting rather than
// slow, and more CPU would not help it.
func (pl *planner) observedPerCore(in *instance) (float64, bool) {
	if in.observed == nil || in.inFlight || !in.consumptionKnown || in.consumption <= 0 || in.behind <= 0 ||
		in.state.since.IsZero() || pl.now.Sub(in.state.since) < rateSettles {
		return 0, false
	}
	long := pl.st.tolerableLag > 0 && in.maxLag >= pl.st.tolerableLag/2
	growing := in.consumption < in.production*(1-notDraining) && in.maxLag >= restartAllowance
	if !long && !growing {
		return 0, false
	}
	cur := pl.currentCPU(in)
	if cur <= 0 {
		return 0, false
	}
	return max(in.consumption/(float64(cur)/1000), pl.st.ratePerCore/2), true
}

// currentCPU is the largest live CPU request of the autoscaled containers, in millicores: what the estimate was
// turned into.
func (pl *planner) currentCPU(in *instance) int64 {
	var cpu int64
	for i, name := range pl.names {
		if i < len(in.current) && pl.st.autoscaled(name) {
			r := in.current[i].Requests[corev1.ResourceCPU]
			cpu = max(cpu, r.MilliValue())
		}
	}
	return cpu
}

// growOnly is the target with every autoscaled cpu and memory value that would shrink kept at its current value.
// Requests stay at or below limits: each is the larger of two values that were.
func (pl *planner) growOnly(target, current []corev1.ResourceRequirements) []corev1.ResourceRequirements {
	out := make([]corev1.ResourceRequirements, len(target))
	for i := range target {
		out[i] = target[i]
		if i >= len(current) || i >= len(pl.names) || !pl.st.autoscaled(pl.names[i]) {
			continue
		}
		out[i] = *target[i].DeepCopy()
		for _, pair := range [2][2]corev1.ResourceList{{out[i].Requests, current[i].Requests}, {out[i].Limits, current[i].Limits}} {
			for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				t, tok := pair[0][name]
				c, cok := pair[1][name]
				if tok && cok && c.Cmp(t) > 0 {
					pair[0][name] = c.DeepCopy()
				}
			}
		}
	}
	return out
}

// targetSizes sizes every container for an estimate: autoscaled ones from it, Off ones as the template has them.
func (pl *planner) targetSizes(estimate int64, critical bool) []corev1.ResourceRequirements {
	return pl.memo.targetSizes(sizeKey{estimate, critical}, func() []corev1.ResourceRequirements {
		return pl.computeSizes(estimate, critical)
	})
}

func (pl *planner) computeSizes(estimate int64, critical bool) []corev1.ResourceRequirements {
	cs := pl.tmpl.Template.Spec.Containers
	out := make([]corev1.ResourceRequirements, len(cs))
	for i := range cs {
		if pl.st.autoscaled(cs[i].Name) {
			out[i] = pl.st.autoSize(&cs[i], estimate, critical)
		} else {
			out[i] = cs[i].Resources
		}
	}
	return out
}

// autoDirection compares target and current over the containers the autoscaler sizes only.
func (pl *planner) autoDirection(target, current []corev1.ResourceRequirements) direction {
	if pl.allAuto {
		return compareSizes(target, current)
	}
	t := make([]corev1.ResourceRequirements, len(target))
	c := make([]corev1.ResourceRequirements, len(current))
	for i := range target {
		if i < len(pl.names) && pl.st.autoscaled(pl.names[i]) {
			t[i] = target[i]
			if i < len(current) {
				c[i] = current[i]
			}
		}
	}
	return compareSizes(t, c)
}

// keepOr keeps the observed resources of autoscaled containers, brought inside the policy unless the instance is
// frozen; containers the live object lacks, and every container of a new instance, get the alternative. Off
// containers always have the template's resources.
func (pl *planner) keepOr(in *instance, alt []corev1.ResourceRequirements) []corev1.ResourceRequirements {
	if in.observed == nil {
		return alt
	}
	cs := pl.tmpl.Template.Spec.Containers
	out := make([]corev1.ResourceRequirements, len(cs))
	for i := range cs {
		switch {
		case !pl.st.autoscaled(cs[i].Name):
			out[i] = cs[i].Resources
		case findContainer(in.observed.Spec.Template.Spec.Containers, cs[i].Name) != nil && in.frozen:
			out[i] = in.current[i]
		case findContainer(in.observed.Spec.Template.Spec.Containers, cs[i].Name) != nil:
			out[i] = pl.st.withinPolicy(cs[i].Name, in.current[i])
		default:
			out[i] = alt[i]
		}
	}
	return out
}

// fallbackSizes are the resources of a new instance without data: the policy's minimum (or maximum, with
// fallbackStrategy max) where the container has a policy, the template's resources where it has none.
func (pl *planner) fallbackSizes(useMax bool) []corev1.ResourceRequirements {
	return pl.memo.fallbackSizes(useMax, func() []corev1.ResourceRequirements { return pl.computeFallback(useMax) })
}

func (pl *planner) computeFallback(useMax bool) []corev1.ResourceRequirements {
	cs := pl.tmpl.Template.Spec.Containers
	out := make([]corev1.ResourceRequirements, len(cs))
	for i := range cs {
		pol, ok := pl.st.policies[cs[i].Name]
		switch {
		case !ok || pol.off:
			out[i] = pl.st.templateSize(&cs[i])
		case useMax && pol.max[corev1.ResourceCPU] > 0:
			out[i] = pl.st.autoSize(&cs[i], pol.max[corev1.ResourceCPU], true)
		default:
			out[i] = pl.st.autoSize(&cs[i], pl.st.cpuIncrementMill, false)
		}
	}
	return out
}

// templateSizes are the template's resources brought inside the policies, for Consumers without an autoscaler.
func (pl *planner) templateSizes() []corev1.ResourceRequirements {
	cs := pl.tmpl.Template.Spec.Containers
	out := make([]corev1.ResourceRequirements, len(cs))
	for i := range cs {
		out[i] = pl.st.templateSize(&cs[i])
	}
	return out
}

// resourcesEdited reports whether the live object's resources differ from those the operator last set, as
// recorded in the resources part of its spec hash. An object without a readable hash (made by the original
// Konsumerator) is taken as it is.
func (pl *planner) resourcesEdited(in *instance, target []corev1.ResourceRequirements) bool {
	h, ok := parseSpecHash(in.ann.specHash)
	if !ok {
		return false
	}
	if in.liveIsDecided && h.resources == pl.decidedDigest(target) {
		return false // the live resources are the target, whose hash is recorded: the common steady state
	}
	cs := in.observed.Spec.Template.Spec.Containers
	names := make([]string, len(cs))
	res := make([]corev1.ResourceRequirements, len(cs))
	for i := range cs {
		names[i], res[i] = cs[i].Name, cs[i].Resources
	}
	return resourcesDigest(names, res) != h.resources
}

// sameResources reports whether the live containers are exactly the named ones with exactly these resources.
func sameResources(live []corev1.Container, names []string, res []corev1.ResourceRequirements) bool {
	if len(live) != len(names) {
		return false
	}
	for i := range live {
		if live[i].Name != names[i] || !sameList(effectiveRequests(live[i].Resources), effectiveRequests(res[i])) ||
			!sameList(live[i].Resources.Limits, res[i].Limits) {
			return false
		}
	}
	return true
}

// sameNames reports whether the live containers are exactly the named ones, in order.
func sameNames(live []corev1.Container, names []string) bool {
	if len(live) != len(names) {
		return false
	}
	for i := range live {
		if live[i].Name != names[i] {
			return false
		}
	}
	return true
}

func sameList(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, qa := range a {
		qb, ok := b[k]
		if !ok || qa.Cmp(qb) != 0 {
			return false
		}
	}
	return true
}

// reassigned reports whether the instance held other partitions until now (numPartitions or
// numPartitionsPerInstance changed), so that its pods restart with new work anyway.
// Without the partition annotation (stripped by hand or by a tool) the partitions are read from the live
// containers' partition variable; an instance that shows neither may hold any partition, so it counts as
// reassigned: it must move in the same plan as the others, never be held back while its partitions move.
func (pl *planner) reassigned(in *instance) bool {
	if in.ann.has.partition {
		return in.ann.partition != in.partitions()
	}
	if in.observed == nil {
		return false
	}
	for _, c := range in.observed.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == pl.st.partitionEnvKey && e.ValueFrom == nil {
				return e.Value != in.partitions()
			}
		}
	}
	return true
}

func findContainer(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// rolloutInProgress: the deployment controller has seen the object (observedGeneration > 0) and has not finished
// rolling it out. An empty status (no deployment controller, e.g. a bare test API server) is not in flight.
func rolloutInProgress(d *appsv1.Deployment) bool {
	st := d.Status
	if st.ObservedGeneration <= 0 {
		return false
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return st.ObservedGeneration < d.Generation || st.UpdatedReplicas < want || st.UnavailableReplicas > 0
}

// downMargin as it applies to this plan: in updateMode InPlace a resize restarts nothing and costs one API call
// per pod, so steps can be smaller and follow the load more closely (less CPU held in reserve).
func (pl *planner) downMargin() float64 {
	if pl.inPlace {
		return inPlaceDownMargin
	}
	return downMargin
}
