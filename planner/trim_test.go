package planner_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/observer"
	"github.com/konsumerator/konsumerator/planner"
)

// TestTrimmedDeploymentsPlanTheSame: the cache keeps of a Deployment only what the planner compares, so every
// scenario, on every pass until it converges, is planned the same from trimmed Deployments as from whole ones
// (the actions, the objects to apply, the status and the figures; only the snapshot's digest differs).
func TestTrimmedDeploymentsPlanTheSame(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			s := sc.snap(t)
			for pass := 0; ; pass++ {
				whole, trim := planner.Plan(s), planner.Plan(observer.TrimSnapshot(s))
				if d := cmp.Diff(whole, trim, cmpopts.IgnoreFields(model.Plan{}, "SnapshotDigest"), cmpopts.EquateEmpty()); d != "" {
					t.Fatalf("pass %d: the plan from trimmed Deployments differs (-whole +trimmed):\n%s", pass, d)
				}
				if !whole.Changed() || pass > len(whole.Actions)+5 {
					return
				}
				s = available(planner.Apply(s, whole))
			}
		})
	}
}

// TestTrimmedDeploymentsDropTheTemplatesRest: the test above can fail only if the trim drops something; it does.
func TestTrimmedDeploymentsDropTheTemplatesRest(t *testing.T) {
	dropped := 0
	for _, sc := range scenarios() {
		s := sc.snap(t)
		for i := range s.Deployments {
			d := &s.Deployments[i]
			tr := observer.TrimDeployment(d)
			if len(d.Spec.Template.Spec.Containers) > 0 && d.Spec.Template.Spec.Containers[0].Image != "" &&
				tr.Spec.Template.Spec.Containers[0].Image == "" {
				dropped++
			}
		}
	}
	if dropped == 0 {
		t.Fatal("no scenario has a Deployment whose container image the trim drops: the equivalence test proves nothing")
	}
}
