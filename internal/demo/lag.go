package demo

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/konsumerator/konsumerator/internal/exporter"
)

// InstanceLag is one instance's figures from the exporter: its partitions' worst lag and their sums.
type InstanceLag struct {
	Name string
	// Lag is the worst lag of its partitions, as the operator measures it.
	Lag time.Duration
	// Behind, Production and Consumption add up its partitions (messages, messages per second).
	Behind, Production, Consumption float64
}

// Lags groups the exporter's per-partition figures by the instances' partitions (their annotation).
func Lags(st State, figs []exporter.Figures) []InstanceLag {
	var out []InstanceLag
	for _, in := range st.Instances {
		l := InstanceLag{Name: in.Name}
		for _, f := range strings.Split(in.Partitions, ",") {
			p, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || p < 0 || p >= len(figs) {
				continue
			}
			fig := figs[p]
			l.Lag = max(l.Lag, fig.Lag)
			l.Behind += fig.Behind
			l.Production += fig.Production
			l.Consumption += fig.Consumption
		}
		out = append(out, l)
	}
	return out
}

// LagSummary is one line of what each instance is behind, how fast its partitions are produced and read: the
// closed loop in figures. Whole numbers, so that it stays the same while nothing moves.
func LagSummary(lags []InstanceLag) string {
	var b strings.Builder
	b.WriteString("lag |")
	for _, l := range lags {
		fmt.Fprintf(&b, " %s %s (%.0f behind, produced %.0f/s, read %.0f/s)", l.Name, lagText(l.Lag), l.Behind, l.Production, l.Consumption)
	}
	return b.String()
}

func lagText(d time.Duration) string {
	if d == time.Duration(math.MaxInt64) {
		return "∞"
	}
	return d.Round(time.Second).String()
}
