package planner

import (
	"fmt"
	"time"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// ScalingState is the hysteresis state of one instance, kept in its AnnotationScalingStatus (original values).
type ScalingState string

const (
	StateRunning          ScalingState = "RUNNING"
	StatePendingScaleUp   ScalingState = "PENDING_SCALE_UP"
	StatePendingScaleDown ScalingState = "PENDING_SCALE_DOWN"
)

// scalingState is a state and when it was entered.
type scalingState struct {
	state ScalingState
	since time.Time // zero when unknown
	// raw is the change-time annotation as read, kept verbatim while the state does not change.
	raw string
	// marginSince is, in PENDING_SCALE_DOWN by restart, when the step first gave back downMargin (zero while it
	// does not; AnnotationScaleDownMarginSince), and marginRaw that annotation as read.
	marginSince time.Time
	marginRaw   string
}

// readScalingState reads the annotations; anything unknown, unreadable or in the future is RUNNING, so garbage
// can delay a decision by one pending period at most and never stops the planner.
func readScalingState(ann map[string]string, now time.Time) scalingState {
	return scalingStateOf(ann[konsumeratorv1.AnnotationScalingStatus], ann[konsumeratorv1.AnnotationScalingStatusChange],
		ann[konsumeratorv1.AnnotationScaleDownMarginSince], now)
}

// scalingStateOf is the state of the three annotations' values, the one place that reads them together.
func scalingStateOf(status, change, marginSince string, now time.Time) scalingState {
	st := parseScalingState(status, change, now)
	st.readMargin(marginSince, now)
	return st
}

// readMargin reads AnnotationScaleDownMarginSince into a pending scale-down. Absent, the step has been worth a
// restart since the wait started (as every wait was before the annotation); anything unreadable, in the future
// or older than the wait reads as not yet, which delays a large step by one wait at most.
func (st *scalingState) readMargin(raw string, now time.Time) {
	if st.state != StatePendingScaleDown {
		return
	}
	if raw == "" {
		st.marginSince = st.since
		return
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil || t.After(now) || t.Before(st.since) {
		return
	}
	st.marginSince, st.marginRaw = t, raw
}

// marginText is the value of AnnotationScaleDownMarginSince for the state: "" (absent) when there is nothing to
// say beyond the state's own time.
func (st scalingState) marginText() string {
	switch {
	case st.state != StatePendingScaleDown || st.marginSince.Equal(st.since) && !st.since.IsZero():
		return ""
	case st.marginSince.IsZero():
		return konsumeratorv1.ScaleDownMarginNotYet
	case st.marginRaw != "":
		return st.marginRaw
	}
	return st.marginSince.UTC().Format(time.RFC3339)
}

func parseScalingState(status, raw string, now time.Time) scalingState {
	st := scalingState{state: StateRunning}
	since, err := time.Parse(time.RFC3339, raw)
	valid := err == nil && !since.After(now)
	switch s := ScalingState(status); s {
	case StatePendingScaleUp, StatePendingScaleDown:
		if valid {
			return scalingState{state: s, since: since, raw: raw}
		}
	case StateRunning:
		if valid {
			return scalingState{state: s, since: since, raw: raw}
		}
	}
	return st
}

// scalingInput is what one instance's decision depends on.
type scalingInput struct {
	current  scalingState
	dir      direction
	lagging  bool
	critical bool
}

// scalingDecision is the outcome: whether to take the target resources now, and the state afterwards.
type scalingDecision struct {
	apply  bool
	next   scalingState
	ripens time.Time // when a pending state may be acted on; zero when not pending
	reason string
}

// decideScaling is the total hysteresis state machine (every state × direction cell is defined):
//
//	critical lag and up        → apply now, RUNNING
//	up:   RUNNING/PD → PU (wait pendingScaleUp); PU → apply once it has waited pendingScaleUp
//	down: lagging → no scale-down, RUNNING; RUNNING/PU → PD (wait pendingScaleDown); PD → apply once ripe
//	none: → RUNNING
func decideScaling(in scalingInput, now time.Time, pendingUp, pendingDown time.Duration) scalingDecision {
	running := func(reason string) scalingDecision {
		next := in.current
		if next.state != StateRunning || next.since.IsZero() {
			next = scalingState{state: StateRunning, since: now}
		}
		return scalingDecision{next: next, reason: reason}
	}
	applyNow := func(reason string) scalingDecision {
		d := running(reason)
		d.apply = true
		if in.current.state != StateRunning {
			d.next = scalingState{state: StateRunning, since: now}
		}
		return d
	}
	pending := func(state ScalingState, wait time.Duration, verb string) scalingDecision {
		if in.current.state == state {
			ripens := in.current.since.Add(wait)
			if !now.Before(ripens) {
				return applyNow(fmt.Sprintf("%s: waited %s", verb, wait))
			}
			return scalingDecision{next: in.current, ripens: ripens, reason: fmt.Sprintf("%s pending (waits %s)", verb, wait)}
		}
		if wait <= 0 {
			return applyNow(verb)
		}
		return scalingDecision{next: scalingState{state: state, since: now}, ripens: now.Add(wait),
			reason: fmt.Sprintf("%s pending (waits %s)", verb, wait)}
	}
	switch in.dir {
	case dirUp:
		if in.critical {
			return applyNow("scale up at once: lag is critical")
		}
		return pending(StatePendingScaleUp, pendingUp, "scale up")
	case dirDown:
		if in.lagging {
			return running("no scale-down while lagging")
		}
		return pending(StatePendingScaleDown, pendingDown, "scale down")
	default:
		if in.current.state != StateRunning {
			return running("scaling need has gone")
		}
		return running("")
	}
}
