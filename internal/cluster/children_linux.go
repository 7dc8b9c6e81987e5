package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Child is a child process of this one.
type Child struct {
	Pid         int
	Name, State string
}

func (c Child) String() string { return fmt.Sprintf("%d %s (%s)", c.Pid, c.Name, c.State) }

// LiveChildren lists this process's children that are still running or not yet reaped, so that a teardown can
// prove it left nothing behind.
func LiveChildren() []Child {
	self := strconv.Itoa(os.Getpid())
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []Child
	for _, dir := range dirs {
		status, err := os.ReadFile(filepath.Join(dir, "status"))
		if err != nil {
			continue // exited while we looked
		}
		var c Child
		var ppid string
		for _, line := range strings.Split(string(status), "\n") {
			key, value, _ := strings.Cut(line, ":")
			value = strings.TrimSpace(value)
			switch key {
			case "Name":
				c.Name = value
			case "State":
				c.State = value
			case "PPid":
				ppid = value
			}
		}
		if ppid == self {
			c.Pid, _ = strconv.Atoi(filepath.Base(dir))
			out = append(out, c)
		}
	}
	return out
}

// ReapExited collects the exit status of children that have exited (zombies). A process that a child left behind
// may be handed to this one (a subreaper) and exit later: it is gone, only its status waits to be read, and it
// must not count as left running.
func ReapExited() {
	for _, c := range LiveChildren() {
		if strings.HasPrefix(c.State, "Z") {
			_, _ = syscall.Wait4(c.Pid, nil, syscall.WNOHANG, nil)
		}
	}
}
