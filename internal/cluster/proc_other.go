//go:build !linux

package cluster

import "syscall"

// processAttributes puts a child in its own process group; outside Linux there is no portable way to have it
// killed with its parent, so only an orderly Stop ends it.
func processAttributes() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
