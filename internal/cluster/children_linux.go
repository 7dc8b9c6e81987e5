package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
