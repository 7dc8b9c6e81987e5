package helmchart_test

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/konsumerator/konsumerator/cmd/konsumerator/app"
	"github.com/konsumerator/konsumerator/internal/helmchart"
	"github.com/konsumerator/konsumerator/internal/manifests"
	"github.com/konsumerator/konsumerator/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// mode is one way to install the chart, and the kustomization under config/ it must render the same as.
type mode struct {
	name      string
	namespace string
	values    map[string]any
	guest     bool
	// kustomization is written into a temporary overlay; its %s verbs are config/ directories (kustomize
	// refuses absolute paths, and the ServiceMonitor is an optional component).
	kustomization string
	bases         []string
}

var modes = []mode{
	{
		name: "default", namespace: "konsumerator-system",
		values:        map[string]any{"serviceMonitor": map[string]any{"enabled": true}},
		kustomization: "namespace: konsumerator-system\nresources:\n  - %s\ncomponents:\n  - %s\n",
		bases:         []string{"default", "prometheus"},
	},
	{
		name: "guest", namespace: "konsumerator-guest", guest: true,
		values:        map[string]any{"guest": map[string]any{"enabled": true}},
		kustomization: "resources:\n  - %s\n",
		bases:         []string{"guest"},
	},
}

func render(t *testing.T, namespace string, values map[string]any) *helmchart.Rendered {
	t.Helper()
	r, err := helmchart.Render(helmchart.Dir(), helmchart.Release{Name: "konsumerator", Namespace: namespace, Values: values})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Objects) == 0 {
		t.Fatal("the chart renders no objects")
	}
	return r
}

func kustomize(t *testing.T, m mode) []*unstructured.Unstructured {
	t.Helper()
	dir := t.TempDir()
	if err := manifests.WriteOverlay(dir, m.kustomization, m.bases...); err != nil {
		t.Fatal(err)
	}
	objs, err := manifests.Render(dir)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// helmLabels are the labels the chart adds to what config/ sets, by Helm convention.
var helmLabels = []string{"app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "app.kubernetes.io/version",
	"helm.sh/chart"}

func withoutHelmLabels(u *unstructured.Unstructured) *unstructured.Unstructured {
	u = u.DeepCopy()
	labels := u.GetLabels()
	for _, k := range helmLabels {
		delete(labels, k)
	}
	u.SetLabels(labels)
	return u
}

func byName(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	out := map[string]*unstructured.Unstructured{}
	for _, u := range objs {
		out[manifests.Describe(u)] = u
	}
	return out
}

// TestChartRendersWhatConfigRenders is the drift check: with the values of each mode, every object the chart
// renders equals what config/ renders, field by field (Deployment args, env, probes, security context and
// resources, RBAC rules and bindings, Service, ServiceMonitor), apart from Helm's own labels. The only object
// config/ has and the chart does not is the Namespace: Helm installs into one (--create-namespace).
func TestChartRendersWhatConfigRenders(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			chart := byName(render(t, m.namespace, m.values).Objects)
			want := map[string]*unstructured.Unstructured{}
			for _, u := range kustomize(t, m) {
				switch u.GetKind() {
				case "Namespace", "CustomResourceDefinition": // the CRD is compared in TestChartCRDIsConfigCRD
					continue
				}
				want[manifests.Describe(u)] = u
			}
			for _, name := range slices.Sorted(maps.Keys(want)) {
				got, ok := chart[name]
				if !ok {
					t.Errorf("config/ renders %s; the chart does not", name)
					continue
				}
				if diff := cmp.Diff(want[name].Object, withoutHelmLabels(got).Object); diff != "" {
					t.Errorf("%s differs between config/ and the chart (-config +chart):\n%s", name, diff)
				}
			}
			for _, name := range slices.Sorted(maps.Keys(chart)) {
				if _, ok := want[name]; !ok {
					t.Errorf("the chart renders %s; config/ does not", name)
				}
			}
		})
	}
}

// TestChartCRDIsConfigCRD: crds/ holds a byte-for-byte copy of the generated CRD (make manifests writes it),
// so `kubectl apply --server-side -f charts/konsumerator/crds/` and config/crd install the same thing.
func TestChartCRDIsConfigCRD(t *testing.T) {
	const file = "konsumerator.lwolf.org_consumers.yaml"
	want, err := os.ReadFile(filepath.Join(manifests.Dir("crd"), "bases", file))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(helmchart.Dir(), "crds", file))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("charts/konsumerator/crds/%s differs from config/crd/bases/%s; run make manifests", file, file)
	}
	crds, err := render(t, "konsumerator-system", nil).CRDs()
	if err != nil {
		t.Fatal(err)
	}
	if len(crds) != 1 || crds[0].GetName() != "consumers.konsumerator.lwolf.org" {
		t.Fatalf("the chart's crds/ holds %d objects, want only the Consumer CRD", len(crds))
	}
	fromConfig, err := manifests.Render(manifests.Dir("crd"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fromConfig[0].Object, crds[0].Object); diff != "" {
		t.Errorf("CRD differs (-config +chart):\n%s", diff)
	}
}

// TestClusterRoleIsTheGeneratedOne compares the chart's ClusterRole rules with config/rbac/role.yaml as read
// from the file, which make manifests generates from the code's RBAC markers: the chart grants exactly what
// the code asks for.
func TestClusterRoleIsTheGeneratedOne(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(manifests.Dir("rbac"), "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	generated, err := helmchart.Decode(raw)
	if err != nil || len(generated) != 1 {
		t.Fatalf("config/rbac/role.yaml: %d objects, %v", len(generated), err)
	}
	roles := manifests.Find(render(t, "konsumerator-system", nil).Objects, "ClusterRole", "konsumerator")
	if len(roles) != 1 {
		t.Fatalf("the chart renders %d ClusterRoles named konsumerator, want 1", len(roles))
	}
	if got, want := rules(t, roles[0]), rules(t, generated[0]); !cmp.Equal(got, want) {
		t.Errorf("ClusterRole rules differ from config/rbac/role.yaml; copy them into "+
			"charts/konsumerator/templates/clusterrole.yaml (-generated +chart):\n%s", cmp.Diff(want, got))
	}
}

func rules(t *testing.T, u *unstructured.Unstructured) []rbacv1.PolicyRule {
	t.Helper()
	var role rbacv1.ClusterRole
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &role); err != nil {
		t.Fatal(err)
	}
	return role.Rules
}

// TestGuestChartIsNamespaced asks the API server's discovery which rendered kinds are cluster-scoped: guest
// mode is for teams without any cluster-wide right. (crds/ is installed by Helm whatever the values; guests
// install with --skip-crds, as install.md says.)
func TestGuestChartIsNamespaced(t *testing.T) {
	objs := render(t, "team-a", map[string]any{"guest": map[string]any{"enabled": true}}).Objects
	cluster, err := manifests.ClusterScoped(env.Client.RESTMapper(), objs)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range cluster {
		t.Errorf("guest mode renders cluster-scoped %s", manifests.Describe(u))
	}
	for _, u := range objs {
		if u.GetNamespace() != "team-a" {
			t.Errorf("%s is not in the release namespace team-a", manifests.Describe(u))
		}
	}
}

// everything sets every value the chart has, to values a platform team would use.
var everything = map[string]any{
	"image":            map[string]any{"repository": "registry.example.com/platform/konsumerator", "tag": "v1.2.3", "pullPolicy": "Always"},
	"imagePullSecrets": []any{map[string]any{"name": "registry"}},
	"replicas":         2,
	"resources": map[string]any{"requests": map[string]any{"cpu": "200m", "memory": "1Gi"},
		"limits": map[string]any{"cpu": "2", "memory": "2Gi"}},
	"goMemLimit": "1800MiB",
	"goGC":       "75",
	"operator": map[string]any{"conflictPolicy": "respect", "maxRolloutsInFlight": 3, "kubeAPIQPS": 2500.5,
		"kubeAPIBurst": 1000000, "applyWorkers": 16, "maxConcurrentReconciles": 8, "logLevel": "debug",
		"logEncoder": "console", "watchSelector": "konsumerator.lwolf.org/shard in (a,b)", "watchNamespaces": "team-a,team-b",
		"leaderElectionID": "konsumerator-shard-a"},
	"extraArgs":         []any{"--sync-period=30s"},
	"podAnnotations":    map[string]any{"example.com/team": "platform"},
	"nodeSelector":      map[string]any{"kubernetes.io/os": "linux"},
	"tolerations":       []any{map[string]any{"key": "dedicated", "operator": "Equal", "value": "platform", "effect": "NoSchedule"}},
	"priorityClassName": "system-cluster-critical",
	"affinity": map[string]any{"nodeAffinity": map[string]any{"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
		"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{map[string]any{
			"key": "kubernetes.io/arch", "operator": "In", "values": []any{"amd64", "arm64"}}}}}}}},
	"serviceMonitor": map[string]any{"enabled": true, "interval": "15s", "labels": map[string]any{"release": "prometheus"}},
}

func deployment(t *testing.T, objs []*unstructured.Unstructured) (corev1.PodTemplateSpec, int64) {
	t.Helper()
	deps := manifests.Find(objs, "Deployment", "konsumerator")
	if len(deps) != 1 {
		t.Fatalf("%d konsumerator Deployments, want 1", len(deps))
	}
	var d struct {
		Spec struct {
			Replicas int64                  `json:"replicas"`
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(deps[0].Object, &d); err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template, d.Spec.Replicas
}

// TestValuesReachThePod sets every value and finds each in the Deployment, with flags the operator parses
// (its own flag set, so that a renamed flag fails here, not in a cluster).
func TestValuesReachThePod(t *testing.T) {
	r := render(t, "konsumerator-system", everything)
	tmpl, replicas := deployment(t, r.Objects)
	pod := tmpl.Spec
	c := pod.Containers[0]
	if replicas != 2 {
		t.Errorf("replicas %d", replicas)
	}
	if c.Image != "registry.example.com/platform/konsumerator:v1.2.3" || c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("image %s, pull policy %s", c.Image, c.ImagePullPolicy)
	}
	wantArgs := []string{"run", "--leader-elect", "--metrics-bind-address=:8443", "--health-probe-bind-address=:8081",
		"--conflict-policy=respect", "--max-rollouts-in-flight=3", "--kube-api-qps=2500.5", "--kube-api-burst=1000000",
		"--apply-workers=16", "--max-concurrent-reconciles=8",
		"--watch-selector=konsumerator.lwolf.org/shard in (a,b)", "--watch-namespaces=team-a,team-b",
		"--leader-election-id=konsumerator-shard-a", "--zap-log-level=debug", "--zap-encoder=console",
		"--sync-period=30s"}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args\n got %q\nwant %q", c.Args, wantArgs)
	}
	if err := app.ParseRunArgs(c.Args[1:]); err != nil {
		t.Errorf("konsumerator run refuses the chart's args: %v", err)
	}
	if got := c.Resources.Limits.Memory().String(); got != "2Gi" {
		t.Errorf("memory limit %s", got)
	}
	if i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "GOMEMLIMIT" }); i < 0 || c.Env[i].Value != "1800MiB" {
		t.Errorf("GOMEMLIMIT not 1800MiB: %+v", c.Env)
	}
	if i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "GOGC" }); i < 0 || c.Env[i].Value != "75" {
		t.Errorf("GOGC not 75: %+v", c.Env)
	}
	if tmpl.Annotations["example.com/team"] != "platform" || tmpl.Annotations["kubectl.kubernetes.io/default-container"] != "manager" {
		t.Errorf("pod annotations %v", tmpl.Annotations)
	}
	if pod.NodeSelector["kubernetes.io/os"] != "linux" || len(pod.Tolerations) != 1 || pod.Affinity == nil ||
		pod.Affinity.NodeAffinity == nil || pod.PriorityClassName != "system-cluster-critical" ||
		len(pod.ImagePullSecrets) != 1 {
		t.Errorf("scheduling values lost: %+v", pod)
	}
	sm := manifests.Find(r.Objects, "ServiceMonitor", "konsumerator")
	if len(sm) != 1 || sm[0].GetLabels()["release"] != "prometheus" {
		t.Fatalf("ServiceMonitor with the release label: %v", sm)
	}
	eps, _, _ := unstructured.NestedSlice(sm[0].Object, "spec", "endpoints")
	if len(eps) != 1 || eps[0].(map[string]any)["interval"] != "15s" {
		t.Errorf("ServiceMonitor endpoints %v", eps)
	}

	// The defaults pass only the flags config/ passes, which the operator parses too.
	def, _ := deployment(t, render(t, "konsumerator-system", nil).Objects)
	if err := app.ParseRunArgs(def.Spec.Containers[0].Args[1:]); err != nil {
		t.Errorf("konsumerator run refuses the chart's default args: %v", err)
	}
}

// TestGoGCIsPassedAsWritten: goGC as a number or a string, 0 included, reaches the pod as GOGC; unset, the pod
// has no GOGC and the operator runs at its own default.
func TestGoGCIsPassedAsWritten(t *testing.T) {
	for _, tc := range []struct {
		value any
		want  string // "" for no GOGC
	}{{nil, ""}, {"", ""}, {75, "75"}, {0, "0"}, {"off", "off"}} {
		values := map[string]any{}
		if tc.value != nil {
			values["goGC"] = tc.value
		}
		tmpl, _ := deployment(t, render(t, "konsumerator-system", values).Objects)
		env := tmpl.Spec.Containers[0].Env
		i := slices.IndexFunc(env, func(e corev1.EnvVar) bool { return e.Name == "GOGC" })
		switch {
		case tc.want == "" && i >= 0:
			t.Errorf("goGC %#v: GOGC=%q, want none", tc.value, env[i].Value)
		case tc.want != "" && (i < 0 || env[i].Value != tc.want):
			t.Errorf("goGC %#v: env %+v, want GOGC=%s", tc.value, env, tc.want)
		}
	}
}

// TestValuesSchemaRefusesMistakes: a misspelt or wrongly typed value fails the install instead of being
// ignored.
func TestValuesSchemaRefusesMistakes(t *testing.T) {
	for name, values := range map[string]map[string]any{
		"unknown top-level key":     {"replicaCount": 2},
		"unknown operator flag":     {"operator": map[string]any{"conflictpolicy": "respect"}},
		"unknown conflictPolicy":    {"operator": map[string]any{"conflictPolicy": "ignore"}},
		"applyWorkers not a number": {"operator": map[string]any{"applyWorkers": "many"}},
		"extraArgs not a list":      {"extraArgs": "--sync-period=30s"},
		"goGC not a percentage":     {"goGC": "fast"},
		"goGC negative":             {"goGC": -1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := helmchart.Render(helmchart.Dir(), helmchart.Release{Name: "k", Namespace: "ns", Values: values})
			if err == nil {
				t.Error("rendered without complaint")
			}
		})
	}
}

// TestChartInstallsWithServerSideDryRun does what helm install does, against a real API server: the CRDs of
// crds/ first (not in guest mode, which installs with --skip-crds), then every rendered object, each checked
// with a server-side dry-run apply.
func TestChartInstallsWithServerSideDryRun(t *testing.T) {
	cases := []struct {
		name, namespace string
		values          map[string]any
		guest           bool
	}{
		{name: "default", namespace: "konsumerator-system"},
		{name: "guest", namespace: "team-a", values: map[string]any{"guest": map[string]any{"enabled": true}}, guest: true},
		{name: "every value set", namespace: "platform", values: everything},
	}
	if err := manifests.InstallServiceMonitorCRD(t.Context(), env.Client); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, tc.namespace, tc.values)
			objs := r.Objects
			if !tc.guest {
				crds, err := r.CRDs()
				if err != nil {
					t.Fatal(err)
				}
				objs = append(crds, objs...)
			}
			checked, err := manifests.Install(t.Context(), env.Client, objs)
			if err != nil {
				t.Error(err)
			}
			if len(checked) != len(r.Objects) {
				t.Errorf("checked %d objects with a dry run, the chart renders %d", len(checked), len(r.Objects))
			}
			if !strings.Contains(r.Notes, tc.namespace) {
				t.Errorf("NOTES.txt does not name the namespace:\n%s", r.Notes)
			}
		})
	}
}

// TestLint runs helm lint's rules (Chart.yaml, values against the schema, templates render to valid YAML
// with no deprecated API) for both modes and fails on any warning.
func TestLint(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			res := lint.All(helmchart.Dir(), m.values, m.namespace, false)
			for _, msg := range res.Messages {
				if msg.Severity >= support.WarningSev {
					t.Error(msg)
				}
			}
		})
	}
}
