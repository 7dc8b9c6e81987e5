package promtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// BinaryEnv names the variable that points at a Prometheus binary, so that make and CI can pass one they built.
const BinaryEnv = "PROMETHEUS_BIN"

// Binary returns the path of a Prometheus binary: $PROMETHEUS_BIN if set, otherwise the one hack/tools.sh
// builds and caches (a few minutes the first time). An error means the tests cannot run and must fail.
func Binary() (string, error) {
	if bin := os.Getenv(BinaryEnv); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("%s=%s: %w", BinaryEnv, bin, err)
		}
		return bin, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(root, "hack", "tools.sh"), "path", "prometheus")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building Prometheus with hack/tools.sh (or set %s): %w\n%s", BinaryEnv, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	bin := lines[len(lines)-1]
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("hack/tools.sh printed %q, which is not a file: %w", bin, err)
	}
	return bin, nil
}

// repoRoot walks up from the working directory to the directory holding hack/tools.sh.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "tools.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no hack/tools.sh above the working directory; set %s", BinaryEnv)
		}
		dir = parent
	}
}

// Prometheus is a running Prometheus server scraping the given targets every second.
type Prometheus struct {
	// URL is the server's base address, e.g. http://127.0.0.1:39123.
	URL string

	cmd     *exec.Cmd
	dir     string
	output  *syncBuffer
	exited  chan struct{}
	stopped sync.Once
}

// StartPrometheus starts bin with a temporary data directory on a free loopback port, scraping targets
// (host:port) every second, and waits until it is ready.
func StartPrometheus(bin string, targets []string, readyTimeout time.Duration) (*Prometheus, error) {
	dir, err := os.MkdirTemp("", "promtest-")
	if err != nil {
		return nil, err
	}
	quoted := make([]string, len(targets))
	for i, t := range targets {
		quoted[i] = fmt.Sprintf("%q", t)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: exporter
    static_configs:
      - targets: [%s]
`, strings.Join(quoted, ", "))
	configPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	p := &Prometheus{URL: "http://" + listen, dir: dir, output: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin,
		"--config.file="+configPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen,
		"--log.level=warn",
	)
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	setDieWithParent(p.cmd)
	if err := p.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(readyTimeout); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

func (p *Prometheus) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("prometheus exited before it was ready; output:\n%s", p.output.String())
		default:
		}
		resp, err := client.Get(p.URL + "/-/ready")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("prometheus at %s did not answer 200 on /-/ready within %s: %w; output:\n%s",
		p.URL, timeout, ErrNotReady, p.output.String())
}

// Stop kills the server at once, the way a crash would, waits for it to exit and removes its data. It is safe
// to call twice.
func (p *Prometheus) Stop() {
	p.stopped.Do(func() {
		_ = p.cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
		}
		_ = os.RemoveAll(p.dir)
	})
}

// Output is what the server logged, for failure messages.
func (p *Prometheus) Output() string { return p.output.String() }

// WaitForSeries polls an instant query until it returns at least n series, or fails after timeout saying what
// it waited for and what it last saw.
func (p *Prometheus) WaitForSeries(ctx context.Context, query string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "no answer yet"
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		got, err := p.countSeries(ctx, client, query)
		switch {
		case err != nil:
			last = err.Error()
		case got >= n:
			return nil
		default:
			last = fmt.Sprintf("%d series", got)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %s for query %q on %s to return %d series; last saw: %s: %w",
				timeout, query, p.URL, n, last, ErrNotReady)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (p *Prometheus) countSeries(ctx context.Context, client *http.Client, query string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		p.URL+"/api/v1/query?query="+url.QueryEscape(query), nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	if body.Status != "success" {
		return 0, fmt.Errorf("status %s: %s", body.Status, body.Error)
	}
	return len(body.Data.Result), nil
}

// FreeAddress returns a loopback host:port nobody listens on, for a "down" address.
func FreeAddress() (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", port), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
