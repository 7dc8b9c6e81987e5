//go:build !linux

package promtest

import "os/exec"

// setDieWithParent has no portable equivalent outside Linux; Stop in t.Cleanup still ends the server.
func setDieWithParent(*exec.Cmd) {}
