// Package app is the composition root of the konsumerator binary: it parses the command line and wires the
// observer, planner and applier together.
package app

import (
	"fmt"
	"io"
)

// Version is set at build time (-ldflags -X).
var Version = "dev"

const usage = `konsumerator runs Kafka consumer groups as one Deployment per group of partitions.

Usage:
  konsumerator [run] [flags]     run the operator (the default command)
  konsumerator plan [flags]      print the plan for a Consumer from files, without a cluster
  konsumerator simulate [flags]  run the planner over simulated hours of traffic, without a cluster
                                 (runs the program konsumerator-simulate, installed beside this one)
  konsumerator version           print the version

Run 'konsumerator COMMAND -h' for the flags of a command.
`

// Main runs the command named by args and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 && isHelpFlag(args[0]) {
		// Without a command the flags would be run's: a person asking for help first needs the commands.
		cmd = "help"
	}
	switch cmd {
	case "run":
		return runOperator(args, stderr)
	case "plan":
		return runPlan(args, stdin, stdout, stderr)
	case "simulate":
		return runSimulate(args, stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, Version)
		return 0
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

func isHelpFlag(arg string) bool {
	switch arg {
	case "-h", "-help", "--help":
		return true
	}
	return false
}
