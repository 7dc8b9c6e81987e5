package planner_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/planner"
)

// TestTimeline runs one instance through a day of load, minute by minute, carrying every plan out, and records
// when its CPU request and state change: the hysteresis as it is lived, not cell by cell.
func TestTimeline(t *testing.T) {
	s := steady(t, orders().Partitions(1))
	load := func(minute int) (production, behind float64) {
		switch {
		case minute < 10:
			return 800, 0
		case minute < 12:
			return 2500, 0 // a short burst: not long enough to scale up
		case minute < 13:
			return 800, 0
		case minute < 40:
			return 2500, 0 // a lasting rise
		case minute < 45:
			return 200, 0 // a dip, shorter than the scale-down wait
		case minute < 50:
			return 2500, 0
		case minute == 70:
			return 200, 200 * 7200 // two hours behind: critical, maximum at once
		default:
			return 200, 0
		}
	}
	var log []string
	last := ""
	start := s.Now
	for minute := 1; minute <= 80; minute++ {
		now := start.Add(time.Duration(minute) * time.Minute)
		prod, behind := load(minute)
		s = later(s, now.Sub(s.Now), builder.Sample(now.Add(-5*time.Second)).Partition(0, prod, prod, behind).Obj())
		p := planner.Plan(s)
		s = available(planner.Apply(s, p))
		d := s.Deployments[0]
		cpu := d.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]
		line := fmt.Sprintf("%s cpu=%s", d.Annotations[konsumeratorv1.AnnotationScalingStatus], cpu.String())
		if m, ok := d.Annotations[konsumeratorv1.AnnotationScaleDownMarginSince]; ok {
			line += " margin-since=" + m
		}
		if line != last {
			log = append(log, fmt.Sprintf("m%02d %s", minute, line))
			last = line
		}
		if again := planner.Plan(s); again.Changed() {
			t.Fatalf("minute %d: a second pass writes:\n%s", minute, planner.Text(again))
		}
	}
	want := []string{
		"m01 RUNNING cpu=800m",
		"m10 PENDING_SCALE_UP cpu=800m",
		"m12 RUNNING cpu=800m",
		"m13 PENDING_SCALE_UP cpu=800m",
		// A step, not a trend: the rise during the wait, continued, is capped at a fifth above the load (2500m
		// → 3000m).
		"m18 RUNNING cpu=3",
		// The load asks for a smaller size once the scale-up has settled: the wait starts, but the step (to
		// 2600m) gives back less than 30 % and does not go when the wait has run (m36).
		"m21 PENDING_SCALE_DOWN cpu=3 margin-since=not yet",
		// The dip makes the step worth a restart, but it would give back more than half the CPU: such a step
		// goes only once it has been worth a restart for the whole wait, and the dip is shorter than that.
		"m40 PENDING_SCALE_DOWN cpu=3 margin-since=2026-01-01T12:40:00Z",
		"m45 PENDING_SCALE_DOWN cpu=3 margin-since=not yet",
		"m50 PENDING_SCALE_DOWN cpu=3 margin-since=2026-01-01T12:50:00Z",
		"m65 RUNNING cpu=300m", // 200m plus room for the backlog of its own restart
		"m70 RUNNING cpu=4",
		"m71 PENDING_SCALE_DOWN cpu=4",
	}
	if d := cmp.Diff(want, log); d != "" {
		t.Errorf("timeline (-want +got):\n%s\n%s", d, strings.Join(log, "\n"))
	}
}

// TestScaleDownWithoutWait: with pendingScaleDownDuration 0 a scale-down by restart goes on the first pass that
// makes it worth a restart, however large the step (a step of more than half otherwise waits for it to have been
// worth one for the whole wait).
func TestScaleDownWithoutWait(t *testing.T) {
	s := steady(t, orders().Partitions(1).PendingScaleDown(0))
	before := s.Deployments[0].Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]
	now := s.Now.Add(time.Minute)
	s = later(s, time.Minute, builder.Sample(now.Add(-5*time.Second)).Partition(0, 100, 100, 0).Obj())
	s = available(planner.Apply(s, planner.Plan(s)))
	after := s.Deployments[0].Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]
	if after.MilliValue()*2 >= before.MilliValue() {
		t.Fatalf("cpu %s → %s in one pass: want a step of more than half, at once", before.String(), after.String())
	}
}
