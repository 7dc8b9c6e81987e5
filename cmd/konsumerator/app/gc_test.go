package app

import (
	"runtime/debug"
	"runtime/metrics"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTheOperatorCollectsAtItsDefaultUnlessGOGCIsSet(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    gcSetting
		wantSet []int
	}{
		{name: "unset", env: nil, want: gcSetting{GOGC: "50", Source: "default"}, wantSet: []int{DefaultGCPercent}},
		{name: "empty, as the runtime reads it: unset", env: map[string]string{"GOGC": ""},
			want: gcSetting{GOGC: "50", Source: "default"}, wantSet: []int{DefaultGCPercent}},
		{name: "Go's default asked for", env: map[string]string{"GOGC": "100"}, want: gcSetting{GOGC: "100", Source: "environment"}},
		{name: "off", env: map[string]string{"GOGC": "off"}, want: gcSetting{GOGC: "off", Source: "environment"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var set []int
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			got := applyGCPercent(lookup, func(p int) int { set = append(set, p); return 100 })
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.wantSet, set, "what the runtime was told")
		})
	}
}

// The default reaches the runtime: /gc/gogc:percent is what the operator's go_gc_gogc_percent series shows.
func TestTheDefaultGCPercentIsTheRuntimes(t *testing.T) {
	before := debug.SetGCPercent(-1)
	debug.SetGCPercent(before)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	applyGCPercent(func(string) (string, bool) { return "", false }, debug.SetGCPercent)

	sample := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(sample)
	assert.Equal(t, uint64(DefaultGCPercent), sample[0].Value.Uint64())
}
