package planner_test

import "testing"

func BenchmarkDigest(b *testing.B) {
	s := benchSnapshot(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		s.Digest()
	}
}
