package cluster

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Supervised is a process that is started again whenever it exits on its own, after a back-off that doubles up
// to a cap, the way the kubelet restarts the container of a Deployment's Pod. Stop ends it for good.
type Supervised struct {
	Name string

	start func() (*Process, error)
	tail  *Tail
	// OnRestart, when set, is told each time the process exited and when it is started again.
	onRestart func(exit error, after time.Duration)

	mu       sync.Mutex
	current  *Process
	restarts int
	stopping bool
	stopped  chan struct{} // closed by Stop
	done     chan struct{} // closed when the supervising loop has returned
}

// Back-off between restarts: the first restart is quick, a process that keeps failing is retried less often.
const (
	restartBackoff    = time.Second
	restartBackoffCap = 10 * time.Second
	// A process that ran this long before exiting counts as healthy: the back-off starts over.
	restartReset = time.Minute
)

// StartSupervised starts bin like StartProcessWithEnv and keeps it running until Stop (which the cluster's Stop
// calls, before the control plane). Every run appends to logs/NAME.log.
func (c *Cluster) StartSupervised(name string, log io.Writer, env []string, onRestart func(exit error, after time.Duration),
	bin string, args ...string) (*Supervised, error) {
	f, err := os.OpenFile(c.LogPath(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	s := &Supervised{Name: name, tail: NewTail(200), onRestart: onRestart,
		stopped: make(chan struct{}), done: make(chan struct{})}
	out := io.MultiWriter(f, s.tail)
	if log != nil {
		out = io.MultiWriter(f, s.tail, log)
	}
	s.start = func() (*Process, error) { return StartProcess(name, out, env, bin, args...) }
	p, err := s.start()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	s.current = p
	go s.supervise()
	c.onStop(func() error {
		err := s.Stop(ProcessTimeout)
		_ = f.Close()
		return err
	})
	return s, nil
}

func (s *Supervised) supervise() {
	defer close(s.done)
	backoff := restartBackoff
	for {
		s.mu.Lock()
		p := s.current
		s.mu.Unlock()
		started := time.Now()
		select {
		case <-s.stopped:
			return
		case <-p.Exited():
		}
		if time.Since(started) > restartReset {
			backoff = restartBackoff
		}
		if s.onRestart != nil {
			s.onRestart(p.ExitError(), backoff)
		}
		fmt.Fprintf(s.tail, "--- %s exited (%v); starting it again in %s\n", s.Name, p.ExitError(), backoff)
		select {
		case <-s.stopped:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, restartBackoffCap)
		s.mu.Lock()
		if s.stopping {
			s.mu.Unlock()
			return
		}
		next, err := s.start()
		if err != nil {
			// The binary is gone or cannot run: nothing to supervise any more; Exited of the last run tells.
			s.mu.Unlock()
			fmt.Fprintf(s.tail, "--- starting %s again: %v\n", s.Name, err)
			return
		}
		s.current = next
		s.restarts++
		s.mu.Unlock()
	}
}

// Current is the process running now (or the last one, once stopped).
func (s *Supervised) Current() *Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// Restarts counts the times the process was started again after exiting on its own.
func (s *Supervised) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// Tail is the end of what every run printed, with a line where one exited.
func (s *Supervised) Tail() string { return s.tail.String() }

// Stop ends supervision and the running process. It is safe to call twice.
func (s *Supervised) Stop(grace time.Duration) error {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.stopping = true
	close(s.stopped)
	s.mu.Unlock()
	<-s.done
	return s.Current().Stop(grace)
}
