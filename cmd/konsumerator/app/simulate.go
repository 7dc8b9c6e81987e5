package app

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
)

// simulatorProgram is the simulator's own executable. It is kept out of this one because its plotting library
// parses a dozen fonts when the program starts: in the operator that cost about 10 MiB of memory for a command
// the operator never runs.
const simulatorProgram = "konsumerator-simulate"

// runSimulate runs the simulator program with the same arguments and standard streams, the way git and kubectl
// run their plugins: first the one installed next to this executable (make build puts both in bin/), then the
// one on PATH.
func runSimulate(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	self, _ := os.Executable()
	path, err := findSimulator(self)
	if err != nil {
		fmt.Fprintf(stderr, "simulate: %v\nThe simulator is a program of its own; install it next to konsumerator "+
			"(make build), or with\n  go install github.com/konsumerator/konsumerator/cmd/%s@%s\n",
			err, simulatorProgram, installVersion())
		return 1
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode()
	default:
		fmt.Fprintf(stderr, "simulate: running %s: %v\n", path, err)
		return 1
	}
}

// findSimulator looks next to self, the path of this executable (empty when unknown), then on PATH.
func findSimulator(self string) (string, error) {
	if self != "" {
		beside := filepath.Join(filepath.Dir(self), simulatorProgram)
		if st, err := os.Stat(beside); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return beside, nil
		}
	}
	path, err := exec.LookPath(simulatorProgram)
	if err != nil {
		return "", fmt.Errorf("%s is neither next to this program nor on PATH", simulatorProgram)
	}
	return path, nil
}

// releaseVersion is a release tag such as v1.2.3, not a development build's git description.
var releaseVersion = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)

// installVersion is the module version to install: this build's release, or the latest for any other build.
func installVersion() string {
	if releaseVersion.MatchString(Version) {
		return Version
	}
	return "latest"
}
