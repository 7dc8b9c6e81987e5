// Command konsumerator-simulate runs the planner over simulated hours of traffic, without a cluster, and draws
// what its decisions add up to. It is a program of its own, which `konsumerator simulate` runs, so that the
// operator does not carry the plotting library: its fonts are parsed when the program starts, which cost the
// operator about 10 MiB of memory (docs/scaling.md).
package main

import "os"

func main() {
	os.Exit(runSimulate(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
