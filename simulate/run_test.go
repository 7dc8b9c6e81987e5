package simulate_test

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/golden"

	"sigs.k8s.io/yaml"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/planner"
	"github.com/konsumerator/konsumerator/simulate"
)

// sample reads the sample Consumer the docs quote.
func sample(t testing.TB) *konsumeratorv1.Consumer {
	t.Helper()
	raw, err := os.ReadFile("../config/samples/konsumerator_v1_consumer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := &konsumeratorv1.Consumer{}
	if err := yaml.Unmarshal(raw, c); err != nil {
		t.Fatal(err)
	}
	return c
}

func run(t testing.TB, c *konsumeratorv1.Consumer, scenario string, o simulate.Options) *simulate.Result {
	t.Helper()
	r, err := runScenario(c, scenario, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runScenario is run for goroutines other than the test's own, which must not call t.Fatal.
func runScenario(c *konsumeratorv1.Consumer, scenario string, o simulate.Options) (*simulate.Result, error) {
	prof, err := simulate.ProfileOf(c, o)
	if err != nil {
		return nil, err
	}
	tr, err := simulate.Scenario(scenario, prof)
	if err != nil {
		return nil, err
	}
	return simulate.Run(c, tr, o)
}

// TestScenarioSummaries pins what every built-in scenario adds up to for the sample Consumer. A planner change
// that moves these figures shows up here: review the diff, then `go test ./simulate -update`.
func TestScenarioSummaries(t *testing.T) {
	t.Parallel()
	c := sample(t)
	var table strings.Builder
	table.WriteString(simulate.TableHeader)
	for _, name := range simulate.ScenarioNames() {
		r := run(t, c, name, simulate.DefaultOptions())
		golden.Assert(t, r.Summary(), name+".summary.golden")
		table.WriteString(r.TableRow())
	}
	golden.Assert(t, table.String(), "table.golden")
}

// TestRestartModeTable pins the same scenarios with updateMode Restart (docs/sizing.md quotes both tables), and
// that the default mode resizes in place where Restart restarts: on the daily wave, in place restarts nothing.
func TestRestartModeTable(t *testing.T) {
	t.Parallel()
	c := sample(t)
	c.Spec.Autoscaler.UpdateMode = konsumeratorv1.UpdateRestart
	var table strings.Builder
	table.WriteString(simulate.TableHeader)
	for _, name := range simulate.ScenarioNames() {
		table.WriteString(run(t, c, name, simulate.DefaultOptions()).TableRow())
	}
	golden.Assert(t, table.String(), "table-restart.golden")

	byRestart := run(t, c, "daily-wave", simulate.DefaultOptions())
	inPlace := run(t, sample(t), "daily-wave", simulate.DefaultOptions())
	if byRestart.InPlaceResizes != 0 || byRestart.Restarts == 0 {
		t.Errorf("Restart mode: %d restarts, %d in-place resizes; want restarts and no resize", byRestart.Restarts, byRestart.InPlaceResizes)
	}
	if inPlace.Restarts != 0 || inPlace.InPlaceResizes == 0 {
		t.Errorf("InPlace mode: %d restarts, %d in-place resizes; want resizes and no restart", inPlace.Restarts, inPlace.InPlaceResizes)
	}
}

// TestDeterministic: the same inputs give the same output, noise included.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	c := sample(t)
	o := simulate.DefaultOptions()
	o.Noise, o.Seed, o.Duration = 0.2, 7, time.Hour
	var out [2]string
	for i := range out {
		r := run(t, c, "daily-wave", o)
		var b bytes.Buffer
		if err := r.WriteTimeline(&b); err != nil {
			t.Fatal(err)
		}
		out[i] = r.Summary() + b.String()
	}
	if out[0] != out[1] {
		t.Fatal("two runs of the same inputs differ")
	}
}

// TestInjectedPlanner: another policy runs on the same trace. One that never changes anything keeps the
// instances as created and never restarts them.
func TestInjectedPlanner(t *testing.T) {
	t.Parallel()
	o := simulate.DefaultOptions()
	o.Duration = 2 * time.Hour
	calls := 0
	var first func(*model.Snapshot) model.Plan = planner.Plan
	o.Planner = func(s *model.Snapshot) model.Plan {
		calls++
		if len(s.Deployments) == 0 {
			return first(s)
		}
		return model.Plan{Status: s.Status}
	}
	r := run(t, sample(t), "daily-wave", o)
	if calls < 120 || r.Restarts != 0 || r.InitialCreates != 10 {
		t.Fatalf("calls %d, restarts %d, creates %d", calls, r.Restarts, r.InitialCreates)
	}
}

// TestPicture: the picture is a real image of the size asked for, and an SVG has the four panels.
func TestPicture(t *testing.T) {
	o := simulate.DefaultOptions()
	o.Duration = 2 * time.Hour
	r := run(t, sample(t), "spike", o)
	var b bytes.Buffer
	if err := r.WritePlot(&b, simulate.PNG); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w < 800 || h < 800 || b.Len() < 50_000 {
		t.Fatalf("a %dx%d PNG of %d bytes is too small to show anything", w, h, b.Len())
	}
	// Non-trivial: many colours, not a blank canvas.
	colours := map[[3]uint32]bool{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 3 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
		}
	}
	if len(colours) < 20 {
		t.Fatalf("only %d colours in the picture", len(colours))
	}
	b.Reset()
	if err := r.WritePlot(&b, simulate.SVG); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	for _, want := range []string{"<svg", "production", "lag of each instance", "CPU request", "tolerableLag 5m0s", "test-consumer-9"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the SVG lacks %q", want)
		}
	}
}

// TestTimelineCSV: one row per instance per sync period, with a header.
func TestTimelineCSV(t *testing.T) {
	o := simulate.DefaultOptions()
	o.Duration = 10 * time.Minute
	r := run(t, sample(t), "steady", o)
	var b bytes.Buffer
	if err := r.WriteTimeline(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 1+10*10 || !strings.HasPrefix(lines[0], "time_s,time,instance,production,consumption,backlog") {
		t.Fatalf("%d lines, header %q", len(lines), lines[0])
	}
	if lines[1] != "60,0:01:00,test-consumer-0,40000,40000,0,0,0.8,1,0.9,RUNNING,0" {
		t.Errorf("first row %q", lines[1])
	}
}

func BenchmarkScenarios(b *testing.B) {
	c := sample(b)
	for _, name := range simulate.ScenarioNames() {
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				run(b, c, name, simulate.DefaultOptions())
			}
		})
	}
}

// TestRestartModeWave: in updateMode Restart the daily wave costs each instance at most four restarts per
// 2-hour cycle (the original's count), keeps the worst partition's lag under tolerableLag 99 % of the time, and
// requests no more CPU than before the planner counted its restarts (74.5 core-hours).
func TestRestartModeWave(t *testing.T) {
	t.Parallel()
	c := sample(t)
	c.Spec.Autoscaler.UpdateMode = konsumeratorv1.UpdateRestart
	o := simulate.DefaultOptions()
	r := run(t, c, "daily-wave", o)
	cycles := 3.0 // six hours of a 2-hour wave
	if per := float64(r.Restarts) / 10 / cycles; per > 4 {
		t.Errorf("%d restarts: %.2f per instance per cycle, want at most 4", r.Restarts, per)
	}
	// Not only on average: no instance restarts more than four times in any one cycle.
	var b bytes.Buffer
	if err := r.WriteTimeline(&b); err != nil {
		t.Fatal(err)
	}
	perCycle := map[string]int{}
	rows := strings.Split(strings.TrimSpace(b.String()), "\n")[1:]
	for _, row := range rows {
		f := strings.Split(row, ",")
		sec, err1 := strconv.Atoi(f[0])
		n, err2 := strconv.Atoi(f[len(f)-1])
		if err1 != nil || err2 != nil {
			t.Fatalf("timeline row %q", row)
		}
		perCycle[fmt.Sprintf("%s in cycle %d", f[2], (sec-1)/7200+1)] += n
	}
	total := 0
	for k, n := range perCycle {
		total += n
		if n > 4 {
			t.Errorf("%s: %d restarts, want at most 4", k, n)
		}
	}
	if total != r.Restarts {
		t.Errorf("the timeline counts %d restarts, the summary %d", total, r.Restarts)
	}
	if !strings.Contains(r.TableRow(), "| daily-wave | 99.") && !strings.Contains(r.TableRow(), "| daily-wave | 100.") {
		t.Errorf("lag under tolerableLag below 99 %%: %s", r.TableRow())
	}
	if r.CoreHours > 74.5 {
		t.Errorf("%.2f core-hours, want at most 74.5 (before the planner counted its restarts)", r.CoreHours)
	}
}
