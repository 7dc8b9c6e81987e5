package planner

import (
	"testing"
	"time"

	"github.com/konsumerator/konsumerator/internal/builder"
)

func BenchmarkPhases(b *testing.B) {
	c := builder.Consumer("bench").Partitions(1000).Prometheus(1000, "1Gi").
		Policy("busybox", builder.Resources("cpu=100m,memory=128Mi"), builder.Resources("cpu=4,memory=4Gi")).Obj()
	m := builder.Sample(builder.Epoch.Add(-10*time.Second)).Uniform(1000, 800, 800, 0).Obj()
	s := builder.Snapshot(c).Metrics(m).Obj()
	s = Apply(s, Plan(s))
	st, _, _ := newSettings(s)
	b.Run("settings", func(b *testing.B) {
		for b.Loop() {
			newSettings(s)
		}
	})
	b.Run("new+classify", func(b *testing.B) {
		for b.Loop() {
			pl := newPlanner(s, st, newMemo(true))
			pl.classify()
		}
	})
	b.Run("size", func(b *testing.B) {
		for b.Loop() {
			pl := newPlanner(s, st, newMemo(true))
			pl.classify()
			pl.size()
		}
	})
	b.Run("diff", func(b *testing.B) {
		for b.Loop() {
			pl := newPlanner(s, st, newMemo(true))
			pl.classify()
			pl.size()
			pl.diff()
		}
	})
	b.Run("all-but-digest", func(b *testing.B) {
		for b.Loop() {
			pl := newPlanner(s, st, newMemo(true))
			pl.classify()
			pl.size()
			pl.diff()
			pl.limitRollouts()
			pl.planDeletes()
			pl.status()
		}
	})
}
