package model

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestInstanceCount(t *testing.T) {
	ptr := func(v int32) *int32 { return &v }
	cases := []struct {
		n    int32
		k    *int32
		want int
	}{
		{10, ptr(3), 4},
		{12, ptr(5), 3},
		{100, nil, 100},
		{100, ptr(0), 100},
		{100, ptr(-2), 100},
		{0, ptr(3), 0},
		{-1, nil, 0},
		{5, ptr(10), 1},
	}
	for _, c := range cases {
		if got := InstanceCount(c.n, c.k); got != c.want {
			t.Errorf("InstanceCount(%d, %v) = %d, want %d", c.n, c.k, got, c.want)
		}
	}
}

func TestOwnerLabelValue(t *testing.T) {
	long := strings.Repeat("consumer.", 30)
	for _, name := range []string{"short", strings.Repeat("a", 63), strings.Repeat("a", 64), long, long + "x"} {
		v := OwnerLabelValue(name)
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Errorf("OwnerLabelValue(%q) = %q, not a label value: %v", name, v, errs)
		}
	}
	if OwnerLabelValue(long) == OwnerLabelValue(long+"x") {
		t.Error("two long names share a label value")
	}
	if OwnerLabelValue("short") != "short" {
		t.Error("a short name must be kept as it is")
	}
}
