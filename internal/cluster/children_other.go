//go:build !linux

package cluster

import "fmt"

// Child is a child process of this one.
type Child struct {
	Pid         int
	Name, State string
}

func (c Child) String() string { return fmt.Sprintf("%d %s (%s)", c.Pid, c.Name, c.State) }

// LiveChildren cannot list children without /proc; it reports none.
func LiveChildren() []Child { return nil }

// ReapExited has nothing to do without /proc.
func ReapExited() {}
