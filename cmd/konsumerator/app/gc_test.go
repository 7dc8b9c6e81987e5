package app

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTheOperatorCollectsAtItsDefaultUnlessGOGCIsSet(t *testing.T) {
	for _, tc := range []struct {
		name       string
		env        map[string]string
		wantSource string
		wantSet    []int
	}{
		{name: "unset", env: nil, wantSource: "default", wantSet: []int{DefaultGCPercent}},
		{name: "empty, as the runtime reads it: unset", env: map[string]string{"GOGC": ""}, wantSource: "default",
			wantSet: []int{DefaultGCPercent}},
		{name: "Go's default asked for", env: map[string]string{"GOGC": "100"}, wantSource: "environment"},
		{name: "off", env: map[string]string{"GOGC": "off"}, wantSource: "environment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var set []int
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			source := applyGCPercent(lookup, func(p int) int { set = append(set, p); return 100 })
			assert.Equal(t, tc.wantSource, source)
			assert.Equal(t, tc.wantSet, set, "what the runtime was told")
		})
	}
}

// The default reaches the runtime, and the starting line reports what the runtime has (the value behind the
// operator's go_gc_gogc_percent series), "off" included.
func TestTheDefaultGCPercentIsTheRuntimes(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	applyGCPercent(func(string) (string, bool) { return "", false }, debug.SetGCPercent)
	assert.Equal(t, "50", runtimeGCPercent())

	debug.SetGCPercent(-1)
	assert.Equal(t, "off", runtimeGCPercent())
}
