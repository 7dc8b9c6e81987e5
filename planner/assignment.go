package planner

import (
	"strconv"
	"strings"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// Range is the contiguous block of partitions one instance consumes: First, First+1, ..., First+Count-1.
type Range struct {
	First int32
	Count int32
}

// Contains reports whether partition p is in the range.
func (r Range) Contains(p int32) bool { return p >= r.First && p < r.First+r.Count }

// String is the partition list in the original's annotation and env format: "0,1,2".
func (r Range) String() string {
	var b strings.Builder
	b.Grow(int(r.Count) * 4)
	for p := r.First; p < r.First+r.Count; p++ {
		if p > r.First {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(p)))
	}
	return b.String()
}

// Assign spreads partitions 0..n-1 over NumInstances(n, perInstance) instances in contiguous ranges whose
// sizes differ by at most one, the first n mod B instances taking the larger size: n=10, k=3 gives [0-2][3-5][6-7][8-9].
func Assign(n, perInstance int32) []Range {
	b := konsumeratorv1.NumInstances(n, perInstance)
	if b == 0 {
		return nil
	}
	out := make([]Range, b)
	base, extra := n/b, n%b
	first := int32(0)
	for i := range out {
		size := base
		if int32(i) < extra {
			size++
		}
		out[i] = Range{First: first, Count: size}
		first += size
	}
	return out
}

// instanceOf returns the index of the instance that consumes partition p under Assign(n, perInstance).
func instanceOf(p, n, perInstance int32) int32 {
	b := konsumeratorv1.NumInstances(n, perInstance)
	base, extra := n/b, n%b
	if big := extra * (base + 1); p < big {
		return p / (base + 1)
	} else {
		return extra + (p-big)/base
	}
}

// parsePartitions reads an annotation written by Range.String (or by the original). ok is false when the value
// cannot be read completely: the caller must then assume the instance may hold any partition.
func parsePartitions(v string) (parts []int32, ok bool) {
	if v == "" {
		return nil, false
	}
	for _, f := range strings.Split(v, ",") {
		p, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil || p < 0 {
			return nil, false
		}
		parts = append(parts, int32(p))
	}
	return parts, true
}
