package e2e

import (
	"bufio"
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/konsumerator/konsumerator/internal/cluster"
	"github.com/konsumerator/konsumerator/internal/testenv"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER from <linux/prctl.h>.
const prSetChildSubreaper = 36

// TestDemoCommandStopsOnCtrlCLeavingNothing runs the command `make demo` runs, the way a terminal would: in its
// own foreground process group, interrupted with SIGINT to that group. This test process is made a child
// subreaper first, so anything the demo left running would be handed to it and show up as its child.
func TestDemoCommandStopsOnCtrlCLeavingNothing(t *testing.T) {
	requireEnabled(t)
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Fatalf("becoming a child subreaper: %v", errno)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	bin := filepath.Join(t.TempDir(), "konsumerator-demo")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/konsumerator-demo")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the demo: %v\n%s", err, out)
	}

	dir := t.TempDir()
	cmd := exec.Command(bin, "--dir", dir, "--quiet")
	cmd.Dir = testenv.RepoRoot()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &lines{}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			out.add(scanner.Text())
		}
		exited <- cmd.Wait()
	}()
	interrupted := false
	defer func() {
		if interrupted {
			return
		}
		// A failure before the planned Ctrl-C still gets the demo's own teardown, so that it stops the control
		// plane too; a kill is the last resort.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(2 * time.Minute):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}()

	// The demo prints a summary line whenever the picture changes; it must reach three running instances.
	deadline := time.Now().Add(5 * time.Minute)
	for !out.has("running 3/3") {
		select {
		case err := <-exited:
			interrupted = true
			t.Fatalf("the demo exited early (%v):\n%s", err, out)
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not report 3 running instances within 5m:\n%s", out)
		}
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if !out.has("export KUBECONFIG=" + kubeconfig) {
		t.Errorf("the demo does not tell where its kubeconfig is:\n%s", out)
	}
	// What docs/demo.md tells people to run in another terminal.
	if kubectl, err := cluster.ToolPath(ctx, "kubectl", nil); err != nil {
		t.Errorf("kubectl: %v", err)
	} else if got, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "get", "consumers").CombinedOutput(); err != nil ||
		!strings.Contains(string(got), "demo") {
		t.Errorf("kubectl get consumers: %v\n%s", err, got)
	}

	// The printed page answers.
	if m := regexp.MustCompile(`Demo page: (http://127\.0\.0\.1:\d+/)`).FindStringSubmatch(out.String()); m == nil {
		t.Errorf("the demo does not print its page's loopback address:\n%s", out)
	} else if resp, err := http.Get(m[1]); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %v %v", m[1], err, resp)
	} else {
		_ = resp.Body.Close()
	}

	// The printed metrics address serves the per-instance series of the demo's instances.
	if m := regexp.MustCompile(`Operator metrics: (http://127\.0\.0\.1:\d+/metrics)`).FindStringSubmatch(out.String()); m == nil {
		t.Errorf("the demo does not print the operator's metrics address:\n%s", out)
	} else {
		var s instanceSeries
		var err error
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
			if s, err = readInstanceSeries(ctx, m[1]); err == nil && len(s.state) == 3 && s.state["demo-0"] != "" &&
				s.state["demo-1"] != "" && s.state["demo-2"] != "" {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s does not serve the scaling state of demo-0, demo-1 and demo-2 (%v):\n%s", m[1], err, s)
				break
			}
		}
	}

	// Killing the operator, as the printed hint suggests, does not end the demo: it starts the operator again.
	m := regexp.MustCompile(`kill (\d+) `).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the demo does not print the operator's pid:\n%s", out)
	}
	pid, _ := strconv.Atoi(m[1])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the operator (pid %d): %v", pid, err)
	}
	deadline = time.Now().Add(time.Minute)
	for !out.has("the operator runs again (pid") {
		select {
		case err := <-exited:
			interrupted = true
			t.Fatalf("the demo exited (%v) after the operator was killed:\n%s", err, out)
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not start the operator again within 1m:\n%s", out)
		}
	}
	if !out.has("starting it again") {
		t.Errorf("the demo does not say that it starts the operator again:\n%s", out)
	}

	// Ctrl-C.
	interrupted = true
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the demo exited with %v after Ctrl-C:\n%s", err, out)
		}
	case <-time.After(2 * time.Minute):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("the demo did not stop within 2m of Ctrl-C:\n%s", out)
	}
	if !out.has("no process left behind") {
		t.Errorf("the demo did not confirm its teardown:\n%s", out)
	}
	if left := cluster.LiveChildren(); len(left) > 0 {
		t.Errorf("processes left behind by the demo (handed to this subreaper): %v\n%s", left, out)
		// They are this process's children now: end and reap them, so a failed run leaks nothing either.
		for _, c := range left {
			_ = syscall.Kill(c.Pid, syscall.SIGKILL)
			_, _ = syscall.Wait4(c.Pid, nil, 0, nil)
		}
	}
}

// lines collects a process's output for matching and for failure messages.
type lines struct {
	mu  sync.Mutex
	all []string
}

func (l *lines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, s)
}

func (l *lines) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.all {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}
