package e2e

import (
	"context"
	"fmt"
	"os"
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
	"github.com/konsumerator/konsumerator/internal/demo"
	"github.com/konsumerator/konsumerator/internal/exporter"
)

// ScreenshotsEnv names a directory where the browser tests leave their screenshots (default: the test's
// temporary directory, removed after the test).
const ScreenshotsEnv = "KONSUMERATOR_SCREENSHOTS"

// browser drives Debian's chromium headless, as hack/tools.sh installs it.
type browser struct {
	bin, profile string
}

func newBrowser(ctx context.Context, t *testing.T) *browser {
	t.Helper()
	bin := os.Getenv("CHROMIUM")
	if bin == "" {
		var err error
		if bin, err = cluster.ToolPath(ctx, "chromium", testWriter{t}); err != nil {
			t.Fatalf("chromium (hack/tools.sh path chromium installs it): %v", err)
		}
	}
	return &browser{bin: bin, profile: t.TempDir()}
}

// run loads url once and returns what chromium printed. The page gets a few seconds of virtual time, so its
// images load and its refresh timer fires; every host but loopback resolves to nothing, so a page that needed
// the internet would show it.
func (b *browser) run(ctx context.Context, url string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
		"--no-first-run", "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--disable-extensions", "--user-data-dir=" + b.profile,
		"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
		"--virtual-time-budget=5000", "--window-size=1000,1300",
	}
	cmd := exec.CommandContext(ctx, b.bin, append(append(base, args...), url)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	reapBrowser(cmd.Process)
	if err != nil {
		return "", fmt.Errorf("%s: %v\n%s", b.bin, err, stderr.String())
	}
	return stdout.String(), nil
}

// reapBrowser ends what chromium left running (its crash handler detaches) and reaps what was handed to this
// process: the Ctrl-C test makes it a child subreaper, and the teardown checks count every child left.
func reapBrowser(p *os.Process) {
	if p == nil {
		return
	}
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	for _, c := range cluster.LiveChildren() {
		if strings.HasPrefix(c.Name, "chrom") {
			_ = syscall.Kill(c.Pid, syscall.SIGKILL)
			_, _ = syscall.Wait4(c.Pid, nil, 0, nil)
		}
	}
}

// dom is the page as the browser has built it, after its scripts ran.
func (b *browser) dom(ctx context.Context, t *testing.T, url string) pageDOM {
	t.Helper()
	out, err := b.run(ctx, url, "--dump-dom")
	if err != nil {
		t.Fatal(err)
	}
	return parsePage(out)
}

// screenshot saves a PNG of the page and returns its path.
func (b *browser) screenshot(ctx context.Context, t *testing.T, url, name string) string {
	t.Helper()
	dir := os.Getenv(ScreenshotsEnv)
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path, _ := filepath.Abs(filepath.Join(dir, name+".png"))
	if _, err := b.run(ctx, url, "--screenshot="+path); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() < 10_000 {
		t.Fatalf("screenshot %s: %v (a page with its plots is larger than %d bytes)", path, err, st.Size())
	}
	t.Logf("screenshot of the demo page: %s", path)
	return path
}

// pageDOM is what the tests read from the demo page.
type pageDOM struct {
	raw   string
	phase string
	rows  map[string]pageRow // by instance
	// loaded is each plot's width as the browser decoded it (0: not loaded).
	loaded map[string]int
}

type pageRow struct{ cpu, scaling string }

var (
	rowRE   = regexp.MustCompile(`(?s)<tr data-instance="([^"]+)"[^>]*>.*?<td class="cpu">([^<]*)</td>.*?<td class="scaling">([^<]*)</td>`)
	imgRE   = regexp.MustCompile(`<img id="([a-z]+)"[^>]*>`)
	widthRE = regexp.MustCompile(`data-loaded="(\d+)"`)
	phaseRE = regexp.MustCompile(`<span id="phase"[^>]*>([^<]*)</span>`)
)

func parsePage(html string) pageDOM {
	p := pageDOM{raw: html, rows: map[string]pageRow{}, loaded: map[string]int{}}
	for _, m := range rowRE.FindAllStringSubmatch(html, -1) {
		p.rows[m[1]] = pageRow{cpu: m[2], scaling: m[3]}
	}
	for _, m := range imgRE.FindAllStringSubmatch(html, -1) {
		w := 0
		if l := widthRE.FindStringSubmatch(m[0]); l != nil {
			w, _ = strconv.Atoi(l[1])
		}
		p.loaded[m[1]] = w
	}
	if m := phaseRE.FindStringSubmatch(html); m != nil {
		p.phase = m[1]
	}
	return p
}

// checkShowsInstances: the page lists exactly these instances and every plot was loaded and decoded.
func (p pageDOM) checkShowsInstances(t *testing.T, names []string) {
	t.Helper()
	for _, n := range names {
		if _, ok := p.rows[n]; !ok {
			t.Errorf("the page does not show instance %s", n)
		}
	}
	if len(p.rows) != len(names) {
		t.Errorf("the page shows %d instances, want %d", len(p.rows), len(names))
	}
	for _, id := range []string{"lag", "rates", "cpu", "scaling"} {
		if p.loaded[id] <= 0 {
			t.Errorf("plot %s was not loaded by the browser (width %d)", id, p.loaded[id])
		}
	}
	if t.Failed() {
		t.Fatalf("the page as the browser built it:\n%s", p.raw)
	}
}

// fakeSamples stands in for the demo's cluster and exporter, so the page can be tried in a browser in seconds.
type fakeSamples struct {
	mu sync.Mutex
	s  demo.Sample
}

func (f *fakeSamples) sample(context.Context) (demo.Sample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.s
	s.At = time.Now()
	s.Behind = append([]float64(nil), f.s.Behind...)
	s.Instances = append([]demo.Instance(nil), f.s.Instances...)
	return s, nil
}

func (f *fakeSamples) set(change func(*demo.Sample)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(&f.s)
}

// TestDemoPageInBrowser serves the demo page from made-up figures and loads it in chromium: it shows the three
// instances and its three plots, and what it shows follows the figures when a spike begins.
func TestDemoPageInBrowser(t *testing.T) {
	requireEnabled(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := newBrowser(ctx, t)

	f := &fakeSamples{s: demo.Sample{Phase: exporter.Steady, Behind: []float64{12, 13, 12, 13, 12, 13}, Running: 3, Expected: 3}}
	for i, name := range instances {
		f.s.Instances = append(f.s.Instances, demo.Instance{Name: name, Partitions: fmt.Sprintf("%d,%d", 2*i, 2*i+1),
			CPU: steadyCPU, Memory: "100M", Scaling: "RUNNING", Available: 1})
	}
	page, err := demo.StartPage(ctx, "127.0.0.1:0", 100*time.Millisecond, f.sample)
	if err != nil {
		t.Fatal(err)
	}
	defer page.Stop()
	time.Sleep(time.Second) // some history for the plots

	before := b.dom(ctx, t, page.URL)
	before.checkShowsInstances(t, instances)
	if before.phase != "steady" || before.rows[lagging].cpu != steadyCPU {
		t.Fatalf("before the spike: phase %q, %s cpu %q", before.phase, lagging, before.rows[lagging].cpu)
	}

	f.set(func(s *demo.Sample) {
		s.Phase, s.Behind[2], s.Behind[3] = exporter.Spike, 800, 900
		s.Instances[1].Scaling = "PENDING_SCALE_UP"
	})
	time.Sleep(time.Second)
	f.set(func(s *demo.Sample) { s.Instances[1].CPU, s.Instances[1].Scaling, s.Lagging = "1200m", "RUNNING", 1 })
	time.Sleep(time.Second)

	during := b.dom(ctx, t, page.URL)
	during.checkShowsInstances(t, instances)
	if during.phase != "spike" || during.rows[lagging].cpu != "1200m" {
		t.Fatalf("during the spike: phase %q, %s cpu %q\n%s", during.phase, lagging, during.rows[lagging].cpu, during.raw)
	}
	for _, n := range []string{"demo-0", "demo-2"} {
		if during.rows[n] != before.rows[n] {
			t.Errorf("%s changed on the page: %+v → %+v", n, before.rows[n], during.rows[n])
		}
	}
	b.screenshot(ctx, t, page.URL, "demo-page-fake-spike")
}
