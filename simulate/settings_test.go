package simulate_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"gotest.tools/v3/golden"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/simulate"
)

// TestSettingsTable pins the table of settings docs/sizing.md quotes ("What the settings do"): each row changes one
// thing in the sample Consumer in updateMode Restart, with the consumer's true capacity at 50,000 messages/s per
// core; each cell is lag under tolerableLag for the worst partition / restarts / CPU core-hours.
func TestSettingsTable(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("45 runs of six simulated hours")
	}
	d := func(x time.Duration) *metav1.Duration { return &metav1.Duration{Duration: x} }
	i := func(x int64) *int64 { return &x }
	type row struct {
		name string
		edit func(c *konsumeratorv1.Consumer, o *simulate.Options)
	}
	rows := []row{
		{"none (the sample)", func(c *konsumeratorv1.Consumer, o *simulate.Options) {}},
		{"`ratePerCore: 40000` (20 % headroom)", func(c *konsumeratorv1.Consumer, o *simulate.Options) {
			c.Spec.Autoscaler.Prometheus.RatePerCore = i(40000)
		}},
		{"`ratePerCore: 60000` (overestimated)", func(c *konsumeratorv1.Consumer, o *simulate.Options) {
			c.Spec.Autoscaler.Prometheus.RatePerCore = i(60000)
		}},
		{"`recoveryTime: 10m`", func(c *konsumeratorv1.Consumer, o *simulate.Options) {
			c.Spec.Autoscaler.Prometheus.RecoveryTime = d(10 * time.Minute)
		}},
		{"`recoveryTime: 60m`", func(c *konsumeratorv1.Consumer, o *simulate.Options) {
			c.Spec.Autoscaler.Prometheus.RecoveryTime = d(60 * time.Minute)
		}},
		{"`pendingScaleUpDuration: 1m`", func(c *konsumeratorv1.Consumer, o *simulate.Options) {
			c.Spec.Autoscaler.PendingScaleUpDuration = d(time.Minute)
		}},
		{"`pendingScaleDownDuration: 60m`", func(c *konsumeratorv1.Consumer, o *simulate.Options) {
			c.Spec.Autoscaler.PendingScaleDownDuration = d(time.Hour)
		}},
		{"`--burst` (the consumer may use its limit)", func(c *konsumeratorv1.Consumer, o *simulate.Options) { o.Burst = true }},
		{"`--max-rollouts-in-flight 3`", func(c *konsumeratorv1.Consumer, o *simulate.Options) { o.MaxRolloutsInFlight = 3 }},
	}
	scenarios := []string{"steady", "daily-wave", "spike", "hot-partition", "partitions-added"}
	// The runs are independent and the planner is pure: they go on every core (the table is assembled in order).
	rowsOfTable := make([][]string, len(rows))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	base := sample(t)
	for i, r := range rows {
		rowsOfTable[i] = make([]string, len(scenarios))
		for j, n := range scenarios {
			g.Go(func() error {
				c := base.DeepCopy()
				c.Spec.Autoscaler.UpdateMode = konsumeratorv1.UpdateRestart
				o := simulate.DefaultOptions()
				o.CapacityPerCore = 50000
				r.edit(c, &o)
				res, err := runScenario(c, n, o)
				if err != nil {
					t.Errorf("%s, %s: %v", r.name, n, err)
					return nil
				}
				rowsOfTable[i][j] = settingsCell(res.TableRow())
				// A ratePerCore set too high still keeps the lag under tolerableLag 99 % of the time: a lagging
				// instance is sized from what it reads. (The spike goes beyond the ceiling: no setting gets it there.)
				if pct := lagPercent(res.TableRow()); strings.Contains(r.name, "overestimated") && n != "spike" && pct < 99 {
					t.Errorf("%s, %s: lag under tolerableLag %.2f %% of the time, want at least 99 %%", r.name, n, pct)
				}
				return nil
			})
		}
	}
	_ = g.Wait()
	var table strings.Builder
	for i, r := range rows {
		fmt.Fprintf(&table, "| %s | %s |\n", r.name, strings.Join(rowsOfTable[i], " | "))
	}
	golden.Assert(t, table.String(), "settings-restart.golden")
}

// lagPercent is a table row's share of time under tolerableLag, in percent.
func lagPercent(row string) float64 {
	f := strings.Split(strings.Trim(strings.TrimSpace(row), "|"), "|")
	var pct float64
	fmt.Sscanf(strings.TrimSuffix(strings.TrimSpace(f[1]), "%"), "%g", &pct)
	return pct
}

// settingsCell turns a table row into "lag % / restarts / core-hours", the lag to one decimal (100 % when it
// rounds to it).
func settingsCell(row string) string {
	f := strings.Split(strings.Trim(strings.TrimSpace(row), "|"), "|")
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	lag := fmt.Sprintf("%.1f %%", lagPercent(row))
	if lag == "100.0 %" {
		lag = "100 %"
	}
	return fmt.Sprintf("%s / %s / %s", lag, f[5], f[4])
}

// TestDocsQuoteTheTables: docs/sizing.md quotes the tables of both modes and of the settings exactly as the
// simulator prints them.
func TestDocsQuoteTheTables(t *testing.T) {
	doc, err := os.ReadFile("../docs/sizing.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"table.golden", "table-restart.golden", "settings-restart.golden"} {
		want, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(doc), string(want)) {
			t.Errorf("docs/sizing.md does not quote testdata/%s:\n%s", name, want)
		}
	}
}
