package demo

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/konsumerator/konsumerator/internal/exporter"
)

// TestPageServesPlotsAndInstances checks what the demo page serves without a browser (the end-to-end tests load
// it in chromium): the page names every instance, and each plot is an SVG with its series.
func TestPageServesPlotsAndInstances(t *testing.T) {
	n := 0
	sample := func(context.Context) (Sample, error) {
		n++
		scaling := "RUNNING"
		if n > 2 {
			scaling = "PENDING_SCALE_UP"
		}
		return Sample{At: time.Unix(1_700_000_000+int64(n), 0), Phase: exporter.Spike, Behind: []float64{1, 2, float64(100 * n)},
			Figures: []exporter.Figures{{Production: 10, Consumption: 10}, {Production: 10, Consumption: 10}, {Production: 50, Consumption: 15}},
			Running: 2, Expected: 2, Instances: []Instance{
				{Name: "demo-0", Partitions: "0,1", CPU: "300m", Memory: "100M", Scaling: "RUNNING"},
				{Name: "demo-1", Partitions: "2", CPU: "1200m", Memory: "200M", Scaling: scaling},
			}}, nil
	}
	p, err := StartPage(context.Background(), "127.0.0.1:0", 20*time.Millisecond, sample)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if !strings.HasPrefix(p.URL, "http://127.0.0.1:") {
		t.Errorf("the page must listen on loopback: %s", p.URL)
	}
	time.Sleep(200 * time.Millisecond)

	for path, want := range map[string][]string{
		"":            {`data-instance="demo-0"`, `data-instance="demo-1"`, "1200m", "PENDING_SCALE_UP", `src="lag.svg"`},
		"instances":   {`data-instance="demo-1"`, `class="phase-spike"`},
		"lag.svg":     {"<svg", "partition 0", "partition 2", "Messages behind"},
		"cpu.svg":     {"<svg", "demo-0", "demo-1", "cores"},
		"scaling.svg": {"<svg", "demo-0", "demo-1", "PENDING_SCALE_UP"},
		"rates.svg":   {"<svg", "demo-0 read", "demo-1 produced", "messages/s"},
	} {
		resp, err := http.Get(p.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/%s: %s\n%s", path, resp.Status, body)
		}
		for _, w := range want {
			if !strings.Contains(string(body), w) {
				t.Errorf("/%s lacks %q", path, w)
			}
		}
		if strings.Contains(string(body), "https://") || strings.Contains(string(body), "src=\"http") {
			t.Errorf("/%s refers to another site; the page must be self-contained", path)
		}
	}
}
