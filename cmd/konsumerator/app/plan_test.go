package app

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/golden"
)

const cli = "../../../testdata/planner/cli/"

func runCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(append([]string{"plan"}, args...), strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestPlanGolden(t *testing.T) {
	small, err := os.ReadFile(cli + "small-consumer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"sample-text", "", []string{"-f", cli + "consumer.yaml", "--deployments", cli + "deployments.yaml", "--metrics", cli + "metrics.yaml"}},
		{"small-yaml-from-stdin", string(small), []string{"--consumer", "-", "-o", "yaml", "--now", "2026-11-21T12:00:00Z"}},
		{"snapshot-replay", "", []string{"--snapshot", cli + "snapshot.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tc.stdin, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden.Assert(t, out, "../../../../testdata/planner/cli/"+tc.name+".golden")
		})
	}
}

func TestPlanIsReproducible(t *testing.T) {
	args := []string{"-f", cli + "consumer.yaml", "--deployments", cli + "deployments.yaml"}
	a, _, _ := runCLI(t, "", args...)
	b, _, _ := runCLI(t, "", args...)
	if a != b || !strings.Contains(a, "1970-01-01T00:00:00Z") {
		t.Errorf("without --now and metrics the plan must use the fixed epoch and be the same every time")
	}
}

func TestPlanUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-f", cli + "consumer.yaml", "--snapshot", cli + "snapshot.yaml"},
		{"-f", cli + "consumer.yaml", "-o", "json"},
		{"-f", cli + "consumer.yaml", "extra"},
	} {
		if _, _, code := runCLI(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if _, errOut, code := runCLI(t, "", "-f", cli+"deployments.yaml"); code != 1 || !strings.Contains(errOut, "not a Consumer") {
		t.Errorf("a non-Consumer manifest: exit %d, %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, "", "-f", cli+"consumer.yaml", "--now", "yesterday"); code != 1 || !strings.Contains(errOut, "--now") {
		t.Errorf("bad --now: exit %d, %q", code, errOut)
	}
	if _, _, code := runCLI(t, "", "-h"); code != 0 {
		t.Errorf("-h: exit %d", code)
	}
}

// Deployments read from a cluster carry creationTimestamps: planned as of 1970, every timestamp on them would
// lie decades ahead. Without --now, such input is planned as of the current time, and stderr says so.
func TestPlanOfLiveObjectsDefaultsToNow(t *testing.T) {
	fixed := time.Date(2026, 11, 30, 15, 4, 5, 0, time.UTC)
	defer func(c func() time.Time) { wallClock = c }(wallClock)
	wallClock = func() time.Time { return fixed }

	raw, err := os.ReadFile(cli + "deployments.yaml")
	if err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(t.TempDir(), "live-deployments.yaml")
	stamped := strings.ReplaceAll(string(raw), "\n  namespace: default\n", "\n  namespace: default\n  creationTimestamp: \"2026-11-30T09:00:00Z\"\n")
	if stamped == string(raw) {
		t.Fatal("the fixture changed: no Deployment got a creationTimestamp")
	}
	if err := os.WriteFile(live, []byte(stamped), 0o600); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := runCLI(t, "", "-f", cli+"consumer.yaml", "--deployments", live)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, "1970-") || !strings.Contains(out, fixed.Format(time.RFC3339)) {
		t.Errorf("live Deployments without --now must be planned as of the current time %s:\n%s", fixed.Format(time.RFC3339), out)
	}
	if !strings.Contains(errOut, "as of now, "+fixed.Format(time.RFC3339)) {
		t.Errorf("stderr must say which time was taken and why: %q", errOut)
	}

	// An explicit --now still wins, and the same live files give the same plan every time.
	args := []string{"-f", cli + "consumer.yaml", "--deployments", live, "--now", "2026-11-21T12:00:00Z"}
	a, errA, _ := runCLI(t, "", args...)
	wallClock = func() time.Time { return fixed.Add(time.Hour) }
	b, _, _ := runCLI(t, "", args...)
	if a != b || !strings.Contains(a, "2026-11-21T12:00:00Z") || errA != "" {
		t.Errorf("--now must fix the time of live objects too (stderr %q)", errA)
	}
}

func TestPlanHelpListsEveryFlag(t *testing.T) {
	out, _, code := runCLI(t, "", "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	var f planFlags
	newPlanFlagSet(&f, io.Discard).VisitAll(func(fl *flag.Flag) {
		dashes := "--"
		if len(fl.Name) == 1 {
			dashes = "-"
		}
		if !strings.Contains(out, dashes+fl.Name+" ") && !strings.Contains(out, dashes+fl.Name+",") {
			t.Errorf("plan --help does not describe %s%s:\n%s", dashes, fl.Name, out)
		}
	})
}

func TestHelpListsTheCommands(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "help"} {
		var out, errOut bytes.Buffer
		if code := Main([]string{arg}, strings.NewReader(""), &out, &errOut); code != 0 {
			t.Errorf("%s: exit %d: %s", arg, code, errOut.String())
		}
		for _, cmd := range []string{"konsumerator [run]", "konsumerator plan", "konsumerator version"} {
			if !strings.Contains(out.String(), cmd) {
				t.Errorf("konsumerator %s does not list %q:\n%s%s", arg, cmd, out.String(), errOut.String())
			}
		}
	}
}
