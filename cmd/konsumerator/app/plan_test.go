package app

import (
	"bytes"
	"os"
	"strings"
	"testing"

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
