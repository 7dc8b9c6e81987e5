package planner_test

import (
	"fmt"
	"testing"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/planner"
)

// TestRepartitionMovesBothSides: when partition ranges move, every instance whose partitions change is written in
// the same plan, whatever else is held by the rollout budget or rolling out.
func TestRepartitionMovesBothSides(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to *builder.ConsumerWrapper
		rolling  []string
		pending  bool
	}{
		{"grow", orders().Partitions(10).PerInstance(3), orders().Partitions(12).PerInstance(3), nil, false},
		{"shrink per instance", orders().Partitions(12).PerInstance(3), orders().Partitions(12).PerInstance(4), nil, false},
		{"grow while rolling out", orders().Partitions(10).PerInstance(3), orders().Partitions(12).PerInstance(3), []string{"orders-1"}, false},
		{"grow with image change", orders().Partitions(10).PerInstance(3), orders().Partitions(12).PerInstance(3).Image("busybox:1.37"), nil, false},
		{"grow without partition annotations", orders().Partitions(10).PerInstance(3), orders().Partitions(12).PerInstance(3).Image("busybox:1.37"), []string{"no-annotation"}, false},
		{"grow with pending scale-up", orders().Partitions(10).PerInstance(3), orders().Partitions(12).PerInstance(3), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.from.Obj().Spec.NumPartitions
			s := settle(t, builder.Snapshot(tc.from.Obj()).Metrics(load(n, 800, 800, 0)).Obj())
			s.Options.MaxRolloutsInFlight = 1
			for _, r := range tc.rolling {
				if r == "no-annotation" {
					for i := range s.Deployments {
						delete(s.Deployments[i].Annotations, konsumeratorv1.AnnotationPartition)
					}
					continue
				}
				s = edit(s, r, func(w *builder.DeploymentWrapper) *builder.DeploymentWrapper { return w.RollingOut() })
			}
			s = withSpec(s, tc.to.Obj())
			s.Metrics = load(tc.to.Obj().Spec.NumPartitions, 800, 800, 0)
			if tc.pending {
				s.Metrics = load(tc.to.Obj().Spec.NumPartitions, 2000, 2000, 0)
				s = setState(s, "orders-0", planner.StatePendingScaleUp, s.Now.Add(-6*60e9))
			}
			for pass := 0; pass < 10; pass++ {
				p := planner.Plan(s)
				spec := tc.to.Obj().Spec
				want := map[string]string{}
				for i, r := range planner.Assign(spec.NumPartitions, *spec.NumPartitionsPerInstance) {
					want[fmt.Sprintf("orders-%d", i)] = r.String()
				}
				for _, a := range p.Actions {
					if a.Kind != model.ActionSkip {
						continue
					}
					for _, d := range s.Deployments {
						held := d.Annotations[konsumeratorv1.AnnotationPartition]
						for _, e := range d.Spec.Template.Spec.Containers[0].Env {
							if held == "" && e.Name == konsumeratorv1.DefaultPartitionEnvKey {
								held = e.Value
							}
						}
						if d.Name == a.Name && held != want[a.Name] {
							t.Fatalf("pass %d: %s held while its partitions move: %s\n%s", pass, a.Name, a.Reason, planner.Text(p))
						}
					}
				}
				if !p.Changed() {
					return
				}
				s = available(planner.Apply(s, p))
			}
		})
	}
}
