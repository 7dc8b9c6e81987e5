package manifests_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/konsumerator/konsumerator/applier"
	"github.com/konsumerator/konsumerator/controller"
	"github.com/konsumerator/konsumerator/internal/manifests"
	"github.com/konsumerator/konsumerator/internal/testenv"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/observer"
	"github.com/konsumerator/konsumerator/observer/lag"
	"github.com/konsumerator/konsumerator/observer/lag/kafka"
	"github.com/konsumerator/konsumerator/planner"
)

// codeMetrics returns the names of the metrics the operator defines, read from the source so that a new metric
// cannot be added without documenting it.
func codeMetrics(t *testing.T) []string {
	t.Helper()
	root := testenv.RepoRoot()
	def := regexp.MustCompile(`(?:Name:\s*|NewDesc\(\s*)"(konsumerator_[a-z0-9_]+)"`)
	seen := map[string]bool{}
	err := walkGoSources(root, func(path string, src []byte) error {
		for _, m := range def.FindAllStringSubmatch(string(src), -1) {
			seen[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) < 10 {
		t.Fatalf("found only %d metrics in the code (%v); has the way they are defined changed?", len(names), names)
	}
	return names
}

func TestEveryMetricIsDocumented(t *testing.T) {
	doc := readRepoFile(t, "docs/metrics.md")
	for _, name := range codeMetrics(t) {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("docs/metrics.md does not document %s", name)
		}
	}
}

// describer is a Registerer that keeps what each registered collector describes: metric name → label names.
type describer map[string][]string

var (
	descName   = regexp.MustCompile(`fqName: "([^"]+)"`)
	descLabels = regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
)

func (d describer) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		name, labels := descName.FindStringSubmatch(desc.String()), descLabels.FindStringSubmatch(desc.String())
		if name == nil || labels == nil {
			return fmt.Errorf("cannot read %s (has the format of prometheus.Desc.String changed?)", desc)
		}
		d[name[1]] = nil
		for _, l := range strings.Split(labels[1], ",") {
			if l != "" {
				d[name[1]] = append(d[name[1]], l)
			}
		}
		sort.Strings(d[name[1]])
	}
	return nil
}

func (d describer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := d.Register(c); err != nil {
			panic(err)
		}
	}
}

func (d describer) Unregister(prometheus.Collector) bool { return true }

// registeredMetrics are the operator's metrics as its parts register them, with their label names.
func registeredMetrics(t *testing.T) describer {
	t.Helper()
	d := describer{}
	controller.NewMetrics(d, 0)
	applier.NewMetrics(d)
	shared, err := lag.NewInstruments(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lag.NewCache(lag.Options{Registerer: d, Instruments: shared}); err != nil {
		t.Fatal(err)
	}
	if _, err := kafka.New(kafka.Options{Registerer: d, Instruments: shared}); err != nil {
		t.Fatal(err)
	}
	names := slices.Sorted(maps.Keys(d))
	if code := codeMetrics(t); !slices.Equal(names, code) {
		t.Fatalf("the parts register %v, the code defines %v: register the missing part here", names, code)
	}
	return d
}

// documentedLabels reads the labels column of each metric in the tables of docs/metrics.md: "`a`, `b` = `v1`,
// `v2`; `c` = `v3`" names a, b and c (values follow "=" up to ";"), "—" none.
func documentedLabels(t *testing.T) map[string][]string {
	t.Helper()
	row := regexp.MustCompile("(?m)^\\| `(konsumerator_[a-z0-9_]+)` \\|[^|]*\\|([^|]*)\\|")
	tick := regexp.MustCompile("`([^`]+)`")
	out := map[string][]string{}
	for _, m := range row.FindAllStringSubmatch(readRepoFile(t, "docs/metrics.md"), -1) {
		labels := []string{}
		for _, group := range strings.Split(m[2], ";") {
			names, _, _ := strings.Cut(group, "=")
			ticks := tick.FindAllStringSubmatch(names, -1)
			for _, tk := range ticks {
				labels = append(labels, tk[1])
			}
		}
		sort.Strings(labels)
		out[m[1]] = labels
	}
	return out
}

// TestDocumentedLabelsAreTheRegisteredOnes: the metrics tables of docs/metrics.md list exactly the metrics the
// operator registers, each with exactly its label names.
func TestDocumentedLabelsAreTheRegisteredOnes(t *testing.T) {
	registered, documented := registeredMetrics(t), documentedLabels(t)
	for name, labels := range registered {
		doc, ok := documented[name]
		if !ok {
			t.Errorf("docs/metrics.md has no table row for %s", name)
			continue
		}
		if !slices.Equal(doc, labels) {
			t.Errorf("docs/metrics.md gives %s the labels %v; it has %v", name, doc, labels)
		}
	}
	for name := range documented {
		if _, ok := registered[name]; !ok {
			t.Errorf("docs/metrics.md documents %s, which the operator does not register", name)
		}
	}
}

// libraryMetrics are the metrics of other exporters the dashboard may use: controller-runtime and client-go in
// the operator, kube-state-metrics and cAdvisor for the instances' resources.
var libraryMetrics = []string{
	"controller_runtime_reconcile_total", "controller_runtime_reconcile_errors_total",
	"controller_runtime_active_workers", "controller_runtime_max_concurrent_reconciles",
	"workqueue_depth", "rest_client_requests_total", "leader_election_master_status",
	"process_resident_memory_bytes", "go_memstats_heap_inuse_bytes", "up",
	"kube_pod_container_resource_requests", "kube_pod_container_resource_limits",
	"container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
}

// TestGrafanaDashboard: valid JSON, every query names only metrics that exist, and every operator metric is
// on some panel.
func TestGrafanaDashboard(t *testing.T) {
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal([]byte(readRepoFile(t, "docs/grafana-dashboard.json")), &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatal("the dashboard needs a title, a uid and panels")
	}
	known := map[string]bool{}
	for _, n := range append(codeMetrics(t), libraryMetrics...) {
		known[n] = true
	}
	used := map[string]bool{}
	var exprs []string
	metric := regexp.MustCompile(`\b((?:konsumerator|controller_runtime|workqueue|rest_client|leader_election|process|go|kube|container)_[a-z0-9_]+|up)\b`)
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
			if tg.Expr == "" {
				t.Errorf("panel %q has an empty query", p.Title)
			}
			for _, m := range metric.FindAllString(tg.Expr, -1) {
				base := m
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					if b, ok := strings.CutSuffix(m, suffix); ok && known[b] {
						base = b
					}
				}
				if !known[base] {
					t.Errorf("panel %q queries %s, which nothing exports", p.Title, m)
				}
				used[base] = true
			}
		}
	}
	for _, n := range codeMetrics(t) {
		if !used[n] {
			t.Errorf("no dashboard panel shows %s", n)
		}
	}
	checkDashboardLabels(t, exprs)
}

// checkDashboardLabels: the label names an expression filters or groups the operator's metrics by are labels
// those metrics have (or the scrape's job and instance), so that no panel stays empty over a misspelt label.
func checkDashboardLabels(t *testing.T, exprs []string) {
	t.Helper()
	registered := registeredMetrics(t)
	selector := regexp.MustCompile(`(konsumerator_[a-z0-9_]+)\{([^}]*)\}`)
	grouped := regexp.MustCompile(`by \(([^)]*)\) \((?:[a-z_]+\()?(konsumerator_[a-z0-9_]+)`)
	matcher := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	has := func(metric, label string) bool {
		base := metric
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if b, ok := strings.CutSuffix(metric, suffix); ok && hasKey(registered, b) {
				base = b
				if suffix == "_bucket" && label == "le" {
					return true
				}
			}
		}
		return label == "job" || label == "instance" || slices.Contains(registered[base], label)
	}
	for _, e := range exprs {
		for _, m := range selector.FindAllStringSubmatch(e, -1) {
			for _, l := range matcher.FindAllStringSubmatch(m[2], -1) {
				if !has(m[1], l[1]) {
					t.Errorf("%q filters %s by %s, a label it does not have", e, m[1], l[1])
				}
			}
		}
		for _, m := range grouped.FindAllStringSubmatch(e, -1) {
			for _, l := range strings.Split(m[1], ",") {
				if l = strings.TrimSpace(l); !has(m[2], l) {
					t.Errorf("%q groups %s by %s, a label it does not have", e, m[2], l)
				}
			}
		}
	}
}

// hasKey tells a registered metric without labels (nil) from one that is not registered.
func hasKey(m describer, name string) bool {
	_, ok := m[name]
	return ok
}

// TestGuestModeExample: the ConfigMap in docs/guest-mode.md is the checked-in example, applies, holds a valid
// spec, and plans the instances the page says.
func TestGuestModeExample(t *testing.T) {
	ctx := t.Context()
	example := readRepoFile(t, "docs/examples/guest-consumer.yaml")
	if !strings.Contains(readRepoFile(t, "docs/guest-mode.md"), "```yaml\n"+example+"```") {
		t.Error("docs/guest-mode.md does not show docs/examples/guest-consumer.yaml verbatim")
	}
	var u unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(example), &u.Object); err != nil {
		t.Fatal(err)
	}
	ensureNamespace(ctx, t, u.GetNamespace())
	if err := apply(ctx, &u, true); err != nil {
		t.Errorf("server-side dry run of the example: %v", err)
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal([]byte(example), &cm); err != nil {
		t.Fatal(err)
	}
	cm.UID = "guest-example"
	if !observer.IsManaged(&cm) {
		t.Fatal("the example is not marked as managed")
	}
	owned := observer.FromConfigMap(ctx, &cm)
	if owned.SpecError != "" {
		t.Fatalf("the example's spec is invalid: %s", owned.SpecError)
	}
	p := planner.Plan(&model.Snapshot{Now: time.Unix(0, 0).UTC(), Owner: owned.Owner, Spec: owned.Spec, Status: owned.Status})
	var created []string
	for _, a := range p.Actions {
		if a.Kind == model.ActionCreate {
			created = append(created, a.Name)
		}
	}
	if want := []string{"orders-0", "orders-1", "orders-2"}; !slices.Equal(created, want) {
		t.Errorf("the example plans creates %v, the page says %v", created, want)
	}
}

// othersDocs are pages other parts of the project write; a link to one that is not there yet is not an error
// of these docs.
var othersDocs = []string{"docs/demo.md", "docs/benchmarks.md"}

// TestDocLinks: every relative link in docs/ and in the README points at a file that exists, and at a heading
// of it when it names one.
func TestDocLinks(t *testing.T) {
	root := testenv.RepoRoot()
	dir := filepath.Join(root, "docs")
	link := regexp.MustCompile(`\]\(([^)#\s]*)(?:#([^)\s]*))?\)`)
	code := regexp.MustCompile("(?s)```.*?```|`[^`\n]*`")
	files, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(root, "README.md"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := code.ReplaceAllString(string(raw), "")
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target, anchor := m[1], m[2]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path := f
			base := filepath.Dir(f)
			if target != "" {
				path = filepath.Join(base, target)
			}
			if rel, _ := filepath.Rel(root, path); slices.Contains(othersDocs, rel) {
				continue
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s links to %s, which does not exist", filepath.Base(f), target)
				continue
			}
			if anchor != "" && strings.HasSuffix(path, ".md") && !slices.Contains(headingSlugs(t, path), anchor) {
				t.Errorf("%s links to %s#%s, which has no such heading", filepath.Base(f), target, anchor)
			}
		}
	}
}

// headingSlugs are the anchors GitHub gives the headings of a Markdown file.
func headingSlugs(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	inCode := false
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range title {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
				b.WriteRune(r)
			}
		}
		out = append(out, b.String())
	}
	return out
}

// TestKustomizationsRender: every kustomization under config/ builds on its own (components excepted: they
// only build inside an overlay).
func TestKustomizationsRender(t *testing.T) {
	for _, name := range []string{"crd", "rbac", "manager", "default", "guest", "samples"} {
		if _, err := manifests.Render(manifests.Dir(name)); err != nil {
			t.Errorf("config/%s: %v", name, err)
		}
	}
}

// walkGoSources calls visit with every non-test Go file of the checkout, outside testdata and .git.
func walkGoSources(root string, visit func(path string, src []byte) error) error {
	return filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return visit(path, src)
	})
}
