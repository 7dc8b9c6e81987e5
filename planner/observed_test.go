package planner_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/planner"
)

// TestLaggingInstanceSizedFromWhatItReads: ratePerCore says 1,000 messages/s per core, the consumer really does
// 800. Sized from ratePerCore alone, a lagging instance gets the CPU for its production plus its backlog at the
// spec's rate, which the real consumer turns into no more than its production: the lag settles above
// tolerableLag. Once the backlog is a real one the instance is sized from what it is seen reading, and drains.
func TestLaggingInstanceSizedFromWhatItReads(t *testing.T) {
	s := steady(t, orders().Partitions(1)) // 800m for 800 messages/s
	const truePerCore, prod = 800.0, 800.0
	behind, maxLag := 0.0, time.Duration(0)
	var cpus []string
	start := s.Now
	for minute := 1; minute <= 240; minute++ {
		req := s.Deployments[0].Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]
		capacity := float64(req.MilliValue()) / 1000 * truePerCore
		cons := min(capacity, prod+behind/60)
		behind = max(0, behind+(prod-cons)*60)
		lag := time.Duration(behind / max(prod, cons) * float64(time.Second))
		maxLag = max(maxLag, lag)
		now := start.Add(time.Duration(minute) * time.Minute)
		s = later(s, now.Sub(s.Now), builder.Sample(now.Add(-5*time.Second)).Partition(0, prod, cons, behind).Obj())
		s = available(planner.Apply(s, planner.Plan(s)))
		if c := s.Deployments[0].Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]; len(cpus) == 0 || cpus[len(cpus)-1] != c.String() {
			cpus = append(cpus, c.String())
		}
	}
	if maxLag >= 5*time.Minute {
		t.Errorf("lag reached %s, want under tolerableLag (5m); cpu %v", maxLag, cpus)
	}
	if behind >= 1 {
		t.Errorf("%.0f messages still behind after four hours; cpu %v", behind, cpus)
	}
	t.Logf("max lag %s; cpu %v", maxLag, cpus)
}
