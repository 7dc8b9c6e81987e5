package planner_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/planner"
)

// benchSnapshot is n partitions, one per instance, every instance existing and up to date, with a full sample.
func benchSnapshot(b *testing.B, n int32) *model.Snapshot {
	c := builder.Consumer("bench").Partitions(n).Prometheus(1000, "1Gi").
		Policy("busybox", res("cpu=100m,memory=128Mi"), res("cpu=4,memory=4Gi")).Obj()
	m := builder.Sample(builder.Epoch.Add(-10*time.Second)).Uniform(n, 800, 800, 0).Obj()
	s := builder.Snapshot(c).Metrics(m).Obj()
	s = available(planner.Apply(s, planner.Plan(s)))
	if p := planner.Plan(s); p.Changed() {
		b.Fatalf("not steady:\n%s", planner.Summary(p))
	}
	return s
}

func BenchmarkPlan(b *testing.B) {
	for _, n := range []int32{100, 1000, 10000} {
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			s := benchSnapshot(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				planner.Plan(s)
			}
		})
	}
}

// BenchmarkPlanCreate is the first plan of a new owner: every instance is created, so every desired object is
// built.
func BenchmarkPlanCreate(b *testing.B) {
	for _, n := range []int32{1000} {
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			c := builder.Consumer("bench").Partitions(n).Prometheus(1000, "1Gi").
				Policy("busybox", res("cpu=100m,memory=128Mi"), res("cpu=4,memory=4Gi")).Obj()
			m := builder.Sample(builder.Epoch.Add(-10*time.Second)).Uniform(n, 800, 800, 0).Obj()
			s := builder.Snapshot(c).Metrics(m).Obj()
			if p := planner.Plan(s); p.Count(model.ActionCreate) != int(n) {
				b.Fatalf("not create-only:\n%s", planner.Summary(p))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				planner.Plan(s)
			}
		})
	}
}
