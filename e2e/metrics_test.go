package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/konsumerator/konsumerator/internal/testenv"
)

// sample is one line of a metrics page: name, labels and value.
type sample struct {
	name   string
	labels map[string]string
	value  float64
	line   string
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// scrape reads the operator's metrics page and returns the series of the given prefix.
func scrape(ctx context.Context, metricsURL, prefix string) ([]sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", metricsURL, resp.Status)
	}
	var out []sample
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("unreadable line %q", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, fmt.Errorf("line %q: %w", line, err)
		}
		s := sample{name: m[1], labels: map[string]string{}, value: v, line: line}
		for _, l := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[l[1]] = l[2]
		}
		out = append(out, s)
	}
	return out, nil
}

// instanceSeries are the per-instance series of the demo Consumer, by deployment.
type instanceSeries struct {
	all      []sample
	lag      map[string]float64
	lagging  map[string]float64
	state    map[string]string
	cpu, mem map[string]float64 // of the consumer container
}

func readInstanceSeries(ctx context.Context, metricsURL string) (instanceSeries, error) {
	all, err := scrape(ctx, metricsURL, "konsumerator_instance_")
	s := instanceSeries{lag: map[string]float64{}, lagging: map[string]float64{}, state: map[string]string{},
		cpu: map[string]float64{}, mem: map[string]float64{}}
	if err != nil {
		return s, err
	}
	for _, x := range all {
		if x.labels["consumer"] != "demo" {
			continue
		}
		s.all = append(s.all, x)
		dep := x.labels["deployment"]
		switch x.name {
		case "konsumerator_instance_lag_seconds":
			s.lag[dep] = x.value
		case "konsumerator_instance_lagging":
			s.lagging[dep] = x.value
		case "konsumerator_instance_scaling_state":
			s.state[dep] = x.labels["state"]
		case "konsumerator_instance_resource_requests":
			if x.labels["container"] == "consumer" && x.labels["resource"] == "cpu" {
				s.cpu[dep] = x.value
			}
			if x.labels["container"] == "consumer" && x.labels["resource"] == "memory" {
				s.mem[dep] = x.value
			}
		}
	}
	return s, nil
}

func (s instanceSeries) String() string {
	lines := make([]string, len(s.all))
	for i, x := range s.all {
		lines[i] = x.line
	}
	return strings.Join(lines, "\n")
}

// waitForSeries polls the operator's metrics until ok holds, failing after timeout with what it saw last.
func (h *harness) waitForSeries(what string, timeout time.Duration, ok func(instanceSeries) bool) instanceSeries {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err := readInstanceSeries(ctx, h.d.MetricsURL)
		cancel()
		if err == nil && ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("waited %s for the operator's metrics (%s) to show: %s\nlast error: %v\nlast per-instance series:\n%s",
				timeout, h.d.MetricsURL, what, err, s)
		}
		time.Sleep(poll)
	}
}

// promQuery runs an instant query on the demo's Prometheus.
func promQuery(ctx context.Context, promURL, query string) ([]map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, promURL+"/api/v1/query?query="+url.QueryEscape(query), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("%s: %w", resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s: %s", resp.Status, body.Error)
	}
	out := make([]map[string]string, len(body.Data.Result))
	for i, r := range body.Data.Result {
		out[i] = r.Metric
	}
	return out, nil
}

// dashboardQueries are the queries of docs/grafana-dashboard.json with its variables set to match anything.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer("$__rate_interval", "1m", "$job", ".*", "$namespace", ".*", "$consumer", ".*", "$instances", ".*")
	var out []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			out = append(out, vars.Replace(tg.Expr))
		}
	}
	return out
}

// checkDashboardOnPrometheus runs every query of the dashboard on the demo's Prometheus, which scrapes the
// operator: each must be valid PromQL, and each of those per instance must show the demo's instances.
func (h *harness) checkDashboardOnPrometheus(ctx context.Context, instances []string) {
	t := h.t
	t.Helper()
	perInstance := 0
	for _, q := range dashboardQueries(t) {
		// A filter such as "> 0" may rightly leave nothing; the others show every instance once Prometheus has
		// scraped the operator.
		wantAll := strings.Contains(q, "konsumerator_instance_") && strings.Contains(q, "deployment)") && !strings.Contains(q, "> 0")
		deadline := time.Now().Add(30 * time.Second)
		for {
			res, err := promQuery(ctx, h.d.Prometheus.URL, q)
			if err != nil {
				t.Errorf("the dashboard's query %q fails on Prometheus: %v", q, err)
				break
			}
			if !wantAll {
				break
			}
			var got []string
			for _, m := range res {
				if m["consumer"] == "demo" && !slices.Contains(got, m["deployment"]) {
					got = append(got, m["deployment"])
				}
			}
			sort.Strings(got)
			if slices.Equal(got, instances) {
				perInstance++
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("the dashboard's query %q shows instances %v on the demo's Prometheus, want %v", q, got, instances)
				break
			}
			time.Sleep(time.Second)
		}
	}
	if perInstance == 0 {
		t.Errorf("no query of the dashboard shows the instances one by one")
	}
	t.Logf("the dashboard's queries run on the demo's Prometheus; %d show the three instances", perInstance)
}
