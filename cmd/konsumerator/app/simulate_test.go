package app

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeSimulator writes an executable konsumerator-simulate into dir that echoes its arguments and standard input,
// writes to standard error, and exits with code.
func fakeSimulator(t *testing.T, dir, name string, code int) string {
	t.Helper()
	path := filepath.Join(dir, simulatorProgram)
	script := "#!/bin/sh\necho \"" + name + ": $*\"\nwhile read -r l; do echo \"$l\"; done\necho complaint >&2\nexit " + strconv.Itoa(code) + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSimulateRunsTheSimulatorProgram: `konsumerator simulate` runs konsumerator-simulate with the same arguments
// and streams, and exits as it exits.
func TestSimulateRunsTheSimulatorProgram(t *testing.T) {
	onPath := t.TempDir()
	fakeSimulator(t, onPath, "on PATH", 3)
	t.Setenv("PATH", onPath)
	var out, errOut bytes.Buffer
	code := Main([]string{"simulate", "-f", "c.yaml", "--out", "some dir"}, strings.NewReader("from stdin\n"), &out, &errOut)
	if code != 3 {
		t.Errorf("exit %d, want the simulator's 3", code)
	}
	if want := "on PATH: -f c.yaml --out some dir\nfrom stdin\n"; out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
	if errOut.String() != "complaint\n" {
		t.Errorf("stderr %q", errOut.String())
	}
}

// TestSimulatorNextToThisProgramFirst: the simulator installed beside this executable wins over one on PATH, so
// that bin/konsumerator runs bin/konsumerator-simulate of the same build.
func TestSimulatorNextToThisProgramFirst(t *testing.T) {
	bin, onPath := t.TempDir(), t.TempDir()
	beside := fakeSimulator(t, bin, "beside", 0)
	fakeSimulator(t, onPath, "on PATH", 0)
	t.Setenv("PATH", onPath)
	if got, err := findSimulator(filepath.Join(bin, "konsumerator")); err != nil || got != beside {
		t.Errorf("found %q, %v; want %q", got, err, beside)
	}
	if got, err := findSimulator(filepath.Join(t.TempDir(), "konsumerator")); err != nil || got != filepath.Join(onPath, simulatorProgram) {
		t.Errorf("without one beside: found %q, %v; want the one on PATH", got, err)
	}
}

// TestSimulateWithoutTheSimulatorProgram: without the program, the command says where it looked and how to
// install it.
func TestSimulateWithoutTheSimulatorProgram(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var out, errOut bytes.Buffer
	if code := Main([]string{"simulate", "--help"}, nil, &out, &errOut); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"konsumerator-simulate is neither next to this program nor on PATH",
		"go install github.com/konsumerator/konsumerator/cmd/konsumerator-simulate@latest",
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, errOut.String())
		}
	}
}

// TestOperatorLeavesOutThePlotting: the operator's executable does not link the simulator's plotting, whose
// start-up font parsing cost the operator about 10 MiB of memory.
func TestOperatorLeavesOutThePlotting(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/konsumerator/konsumerator/cmd/konsumerator").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "gonum.org/v1/plot") || strings.HasPrefix(pkg, "codeberg.org/go-fonts/") ||
			pkg == "github.com/konsumerator/konsumerator/simulate" {
			t.Errorf("the operator links %s", pkg)
		}
	}
}
