package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/konsumerator/konsumerator/internal/gobuild"
	"github.com/konsumerator/konsumerator/internal/testenv"
)

// buildOperator builds the operator once, the way `make build` does.
func buildOperator(dir string) (string, error) {
	out := filepath.Join(dir, "konsumerator")
	cmd := exec.Command("go", gobuild.Args(out)...)
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the operator: %w", err)
	}
	return out, nil
}

// operator is one `konsumerator run` process.
type operator struct {
	cmd        *exec.Cmd
	metricsURL string
	started    chan struct{}
	exited     chan error
	log        *os.File
}

// startOperator runs the operator against the cluster of kubeconfig and returns once its Consumer controller
// has synced its caches and started its workers, so that the start-up is not part of what is measured.
func startOperator(ctx context.Context, bin, kubeconfig, logPath string, extraArgs, extraEnv []string) (*operator, error) {
	metricsAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	probeAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	args := append([]string{"run",
		"--metrics-bind-address=" + metricsAddr, "--metrics-secure=false",
		"--health-probe-bind-address=" + probeAddr,
		"--leader-elect=false",
	}, extraArgs...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+kubeconfig), extraEnv...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	cmd.Stdout = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting the operator: %w", err)
	}
	op := &operator{cmd: cmd, metricsURL: "http://" + metricsAddr + "/metrics", started: make(chan struct{}),
		exited: make(chan error, 1), log: logFile}
	go op.scan(stderr)
	go func() { op.exited <- cmd.Wait() }()

	select {
	case <-op.started:
		return op, nil
	case err := <-op.exited:
		op.exited <- err
		return nil, fmt.Errorf("the operator exited while starting (%v); see %s", err, logPath)
	case <-time.After(2 * time.Minute):
		op.stop()
		return nil, fmt.Errorf("the operator did not start its workers within 2m; see %s", logPath)
	case <-ctx.Done():
		op.stop()
		return nil, ctx.Err()
	}
}

// scan copies the operator's log to its file and notices when the Consumer controller starts its workers.
func (op *operator) scan(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	signalled := false
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(op.log, line)
		if !signalled && strings.Contains(line, "Starting workers") && strings.Contains(line, `"consumer"`) {
			close(op.started)
			signalled = true
		}
	}
	// Drain whatever is left so that the process never blocks on a full pipe.
	_, _ = io.Copy(op.log, r)
}

func (op *operator) pid() int { return op.cmd.Process.Pid }

// stop asks the operator to shut down and kills it if it does not.
func (op *operator) stop() {
	defer op.log.Close()
	_ = op.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-op.exited:
		op.exited <- err
	case <-time.After(45 * time.Second):
		_ = op.cmd.Process.Kill()
		<-op.exited
	}
}

// controllerState is what the operator's own metrics say about the Consumer controller.
type controllerState struct {
	reconciles, depth, active float64
}

// stateMetrics are the only series state reads: the operator is asked for these alone, so that polling it does
// not make it gather, encode and compress its thousands of per-instance series several times a second (a load on
// the operator that a Prometheus scraping every 15 or 30 seconds does not make).
var stateMetrics = []string{"controller_runtime_reconcile_total", "workqueue_depth", "controller_runtime_active_workers"}

func (op *operator) state(ctx context.Context) (controllerState, error) {
	samples, err := op.metricsNamed(ctx, stateMetrics...)
	if err != nil {
		return controllerState{}, err
	}
	var st controllerState
	st.reconciles, _ = sum(samples, "controller_runtime_reconcile_total", map[string]string{"controller": "consumer"})
	st.depth, _ = sum(samples, "workqueue_depth", map[string]string{"name": "consumer"})
	st.active, _ = sum(samples, "controller_runtime_active_workers", map[string]string{"controller": "consumer"})
	return st, nil
}

// metrics reads the operator's own /metrics.
func (op *operator) metrics(ctx context.Context) ([]sample, error) { return op.metricsNamed(ctx) }

// metricsNamed reads the named metric families of the operator's /metrics (all of them without names).
func (op *operator) metricsNamed(ctx context.Context, names ...string) ([]sample, error) {
	u, err := url.Parse(op.metricsURL)
	if err != nil {
		return nil, err
	}
	u.RawQuery = url.Values{"name[]": names}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading the operator's metrics: %w", err)
	}
	defer resp.Body.Close()
	samples, err := parseText(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parsing the operator's metrics: %w", err)
	}
	return samples, nil
}

// usage is the operator's resource use so far: peak RSS and CPU time since it started.
type usage struct {
	peakRSS int64
	cpu     float64
}

func (op *operator) usage() (usage, error) {
	var u usage
	var err error
	if u.peakRSS, err = peakRSSBytes(op.pid()); err != nil {
		return u, err
	}
	u.cpu, err = cpuSeconds(op.pid())
	return u, err
}

// waitIdle waits until the Consumer controller has had nothing queued nor running for quiet, with at least
// minReconciles reconciles done in all. It returns the reconcile count.
func (op *operator) waitIdle(ctx context.Context, minReconciles float64, quiet, timeout time.Duration) (float64, error) {
	deadline := time.Now().Add(timeout)
	var last controllerState
	var since time.Time
	for {
		st, err := op.state(ctx)
		if err != nil {
			return 0, err
		}
		busy := st.depth > 0 || st.active > 0 || st.reconciles < minReconciles || st.reconciles != last.reconciles
		last = st
		switch {
		case busy:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= quiet:
			return st.reconciles, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the operator was not idle within %s (last: %+v)", timeout, st)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
