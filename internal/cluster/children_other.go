//go:build !linux

package cluster

// LiveChildren cannot list children without /proc; it reports none.
func LiveChildren() []string { return nil }
