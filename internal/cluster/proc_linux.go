package cluster

import "syscall"

// processAttributes puts a child in its own process group and makes the kernel kill it if this process dies
// without tearing down (SIGKILL, a test timeout's panic), so that nothing outlives a run.
func processAttributes() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
