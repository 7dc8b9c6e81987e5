package app

import (
	"fmt"
	"io"
)

func runPlan(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "plan: not implemented yet")
	return 1
}
