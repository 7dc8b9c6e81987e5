package cluster

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a child process in its own process group, so that stopping it also stops anything it started and
// a Ctrl-C in the terminal reaches only the parent, which then tears everything down in order.
type Process struct {
	Name string

	cmd    *exec.Cmd
	tail   *Tail
	exited chan struct{}
	err    error // of Wait, readable once exited is closed
	once   sync.Once
}

// StartProcess starts bin with args and env added to the parent's environment. Its output goes to log (when
// set) and to a tail kept for failure messages.
func StartProcess(name string, log io.Writer, env []string, bin string, args ...string) (*Process, error) {
	p := &Process{Name: name, tail: NewTail(200), exited: make(chan struct{})}
	var out io.Writer = p.tail
	if log != nil {
		out = io.MultiWriter(p.tail, log)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.SysProcAttr = processAttributes()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (%s): %w", name, bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Pid is the process id, which is also its process group id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// ExitError is how the process ended; call it after Exited is closed.
func (p *Process) ExitError() error { return p.err }

// Tail is the end of what the process printed.
func (p *Process) Tail() string { return p.tail.String() }

// Stop asks the process group to terminate, kills it after grace, and waits until the process is reaped. It is
// safe to call twice.
func (p *Process) Stop(grace time.Duration) error {
	var err error
	p.once.Do(func() {
		pgid := p.Pid()
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(grace):
		}
		// Whatever is left of the group (the leader after grace, or anything it started) goes now.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			err = fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.Name, pgid)
		}
	})
	return err
}

// GroupGone reports whether no process of the group is left.
func (p *Process) GroupGone() bool {
	return errors.Is(syscall.Kill(-p.Pid(), 0), syscall.ESRCH)
}

// Tail keeps the last lines written to it.
type Tail struct {
	mu      sync.Mutex
	max     int
	lines   []string
	partial string
}

// NewTail keeps up to max lines.
func NewTail(max int) *Tail { return &Tail{max: max} }

func (t *Tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.partial + string(b)
	parts := strings.Split(s, "\n")
	t.partial = parts[len(parts)-1]
	t.lines = append(t.lines, parts[:len(parts)-1]...)
	if over := len(t.lines) - t.max; over > 0 {
		t.lines = append([]string(nil), t.lines[over:]...)
	}
	return len(b), nil
}

// Lines returns the complete lines kept.
func (t *Tail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.lines...)
}

// String is the kept lines, the unfinished last one included.
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.Join(t.lines, "\n")
	if t.partial != "" {
		s += "\n" + t.partial
	}
	return s
}
