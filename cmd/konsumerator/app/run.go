package app

import (
	"fmt"
	"io"
)

func runOperator(args []string, stderr io.Writer) int {
	fmt.Fprintln(stderr, "run: not implemented yet")
	return 1
}
