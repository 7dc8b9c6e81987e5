package simulate_test

import (
	"os"
	"testing"

	"sigs.k8s.io/yaml"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
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
	prof, err := simulate.ProfileOf(c, o)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := simulate.Scenario(scenario, prof)
	if err != nil {
		t.Fatal(err)
	}
	r, err := simulate.Run(c, tr, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPrint(t *testing.T) {
	c := sample(t)
	for _, name := range simulate.ScenarioNames() {
		r := run(t, c, name, simulate.DefaultOptions())
		t.Log("\n" + r.Summary())
	}
}

func TestDebugDecisions(t *testing.T) {
	name := os.Getenv("SIM_SCENARIO")
	if name == "" {
		t.Skip()
	}
	o := simulate.DefaultOptions()
	o.KeepDecisions = true
	r := run(t, sample(t), name, o)
	f, _ := os.Create("/tmp/decisions-" + name + ".txt")
	defer f.Close()
	_ = r.WriteDecisions(f)
	g, _ := os.Create("/tmp/timeline-" + name + ".csv")
	defer g.Close()
	_ = r.WriteTimeline(g)
	h, _ := os.Create("/tmp/plot-" + name + ".png")
	defer h.Close()
	if err := r.WritePlot(h, simulate.PNG); err != nil {
		t.Fatal(err)
	}
}
