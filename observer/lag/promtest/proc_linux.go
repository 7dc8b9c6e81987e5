package promtest

import (
	"os/exec"
	"syscall"
)

// setDieWithParent makes the kernel kill the server if the test binary dies without cleaning up (a timeout
// panic, a SIGKILL), so that no Prometheus outlives its test run.
func setDieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
