package planner

import (
	"fmt"
	"sort"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// limitRollouts holds back pod-template changes beyond the rollout budget so that a spec edit never restarts
// every instance at once. Instances whose rollout is in progress use the budget; critical-lag scale-ups and
// partition reassignments go regardless; then scale-ups, template drift and scale-downs, by index. Creates and changes that restart nothing
// (metadata, replicas) are not budgeted.
func (pl *planner) limitRollouts() {
	pl.maxRollouts = pl.s.Options.MaxRolloutsInFlight
	if pl.maxRollouts <= 0 {
		pl.maxRollouts = max(1, len(pl.insts)/10)
	}
	var candidates []*instance
	for _, in := range pl.insts {
		if in.observed != nil && in.inFlight {
			pl.inFlight++
		}
		if in.restart {
			candidates = append(candidates, in)
		}
	}
	sort.SliceStable(candidates, func(i, j int) bool {
		if candidates[i].priority != candidates[j].priority {
			return candidates[i].priority < candidates[j].priority
		}
		return candidates[i].index < candidates[j].index
	})
	for _, in := range candidates {
		switch {
		case pl.halted && in.podChange && !in.inFlight && in.priority != priorityReassigned:
			pl.holdHalted(in)
		case in.inFlight:
			// already counted: another change to an instance that is rolling out starts no new restart
		case in.priority == priorityCritical || in.priority == priorityReassigned || pl.inFlight < pl.maxRollouts:
			pl.inFlight++
		default:
			pl.hold(in)
		}
	}
}

// hold turns a due change into a skip; nothing is written, so the instance keeps its state for the next pass.
func (pl *planner) hold(in *instance) {
	a := &in.action
	a.Reason = fmt.Sprintf("waiting for rollout budget (%d rolling out, at most %d at once); %s", pl.inFlight, pl.maxRollouts, a.Reason)
	a.Kind, a.Phase, a.Desired = model.ActionSkip, model.PhaseApply, nil
	in.resize.actions = nil
	in.upToDate, in.recreate = false, false
	pl.held = true
	in.state = readScalingState(in.observed.Annotations, pl.now)
}

// holdHalted holds a template change back while the rollout of the template is halted.
func (pl *planner) holdHalted(in *instance) {
	a := &in.action
	a.Reason = "rollout halted, the previous template is kept: " + pl.haltText() + "; " + a.Reason
	in.haltHeld = true
	a.Kind, a.Phase, a.Desired = model.ActionSkip, model.PhaseApply, nil
	in.resize.actions = nil
	in.upToDate, in.recreate = false, false
	in.state = readScalingState(in.observed.Annotations, pl.now)
}

// planDeletes deletes Deployments of the owner that are no longer expected, once every partition they hold is
// covered by an instance that is up to date or written in this plan: no partition is left without a consumer.
func (pl *planner) planDeletes() {
	for _, d := range pl.surplus {
		a := pl.action(model.ActionDelete, model.PhaseDelete, d, -1, "")
		if uncovered := pl.uncovered(d.Annotations[konsumeratorv1.AnnotationPartition]); len(uncovered) > 0 {
			// Held back, it writes nothing: it is listed with the other skips, not among the deletes.
			a.Kind, a.Phase = model.ActionSkip, model.PhaseApply
			a.Reason = "not an expected instance; kept until partitions " + listPartitions(uncovered, 10) +
				" have an up-to-date instance"
		} else {
			a.Reason = "not an expected instance; its partitions are covered by the expected instances"
		}
		pl.untouched = append(pl.untouched, a)
	}
}

// uncovered lists the partitions of a partition annotation whose expected instance is not ready to take them.
// An unreadable annotation may hold any partition.
func (pl *planner) uncovered(annotation string) []int32 {
	held, ok := parsePartitions(annotation)
	n := pl.st.numPartitions
	if !ok {
		var out []int32
		for _, in := range pl.insts {
			if !in.upToDate {
				out = append(out, in.rng.First)
			}
		}
		return out
	}
	var out []int32
	seen := map[int32]bool{}
	for _, p := range held {
		if p >= n || seen[p] {
			continue // a partition that no longer exists needs no consumer
		}
		seen[p] = true
		if !pl.insts[instanceOf(p, n, pl.st.perInstance)].upToDate {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
