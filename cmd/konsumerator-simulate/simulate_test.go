package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSimulateHelpListsEveryFlag: --help names every flag the command accepts.
func TestSimulateHelpListsEveryFlag(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runSimulate([]string{"--help"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d", code)
	}
	help := errOut.String()
	for _, name := range []string{"f", "consumer", "scenario", "trace", "duration", "out", "format", "container",
		"capacity-per-core", "burst", "pause", "pause-scope", "rollout-time", "noise", "seed", "scrape-interval",
		"rate-window", "sync-period", "gap", "max-rollouts-in-flight", "metrics-stale-after", "step", "record-every",
		"daily-wave", "partitions-added"} {
		prefix := "--"
		if len(name) == 1 {
			prefix = "-"
		}
		if !strings.Contains(help, prefix+name) && !strings.Contains(help, name) {
			t.Errorf("--help does not mention %s%s", prefix, name)
		}
	}
}

// TestSimulateCommand runs a trace end to end and writes every output file.
func TestSimulateCommand(t *testing.T) {
	dir := t.TempDir()
	trace := filepath.Join(dir, "t.csv")
	if err := os.WriteFile(trace, []byte("time,partition,production,backlog\n0s,0,4000,100000\n30m,0,8000,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := runSimulate([]string{"-f", "../../config/samples/konsumerator_v1_consumer.yaml", "--trace", trace,
		"--duration", "40m", "--out", filepath.Join(dir, "out"), "--format", "svg", "--gap", "10m+5m:query"}, nil, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "trace t.csv: replay of 2 rows for 1 partitions") {
		t.Errorf("summary:\n%s", out.String())
	}
	for _, f := range []string{"summary.txt", "timeline.csv", "decisions.txt", "plot.svg"} {
		if st, err := os.Stat(filepath.Join(dir, "out", f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	errOut.Reset()
	if code := runSimulate([]string{"-f", "../../config/samples/konsumerator_v1_consumer.yaml", "--scenario", "nope"}, nil, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), `unknown scenario "nope"`) {
		t.Errorf("exit %d: %s", code, errOut.String())
	}
}

// TestSimulateRefusesWhatAdmissionRefuses: a manifest the cluster would refuse is not simulated as if it were
// valid; the refusal names the field.
func TestSimulateRefusesWhatAdmissionRefuses(t *testing.T) {
	raw, err := os.ReadFile("../../config/samples/konsumerator_v1_consumer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(raw), "ratePerCore: 50000", "ratePerCore: 0", 1)
	if bad == string(raw) {
		t.Fatal("the sample no longer sets ratePerCore: 50000; update this test")
	}
	var out, errOut bytes.Buffer
	if code := runSimulate([]string{"-f", "-", "--scenario", "steady"}, strings.NewReader(bad), &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "spec.autoscaler.prometheus.ratePerCore") || out.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 naming ratePerCore, nothing simulated", code, out.String(), errOut.String())
	}
}
