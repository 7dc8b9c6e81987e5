package manifests_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/konsumerator/konsumerator/internal/manifests"
	"github.com/konsumerator/konsumerator/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The operator's scheme has no CRD type; these tests read CRDs back.
	if err := apiextensionsv1.AddToScheme(env.Scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping envtest:", err)
	}
	os.Exit(code)
}

// overlay is a kustomization a platform team would apply, with the namespace it installs into.
type overlay struct {
	name      string
	dir       string
	namespace string
	guest     bool
}

var overlays = []overlay{
	{name: "default", dir: manifests.Dir("default"), namespace: "konsumerator-system"},
	{name: "guest", dir: manifests.Dir("guest"), namespace: "konsumerator-guest", guest: true},
}

func render(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := manifests.Render(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatalf("%s renders no objects", dir)
	}
	return objs
}

// tempOverlay writes a kustomization of its own into a temporary directory (manifests.WriteOverlay) and
// returns its directory.
func tempOverlay(t *testing.T, kustomization string, bases ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := manifests.WriteOverlay(dir, kustomization, bases...); err != nil {
		t.Fatal(err)
	}
	return dir
}

func apply(ctx context.Context, u *unstructured.Unstructured, dryRun bool) error {
	return manifests.Apply(ctx, env.Client, u, dryRun)
}

func ensureNamespace(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	if err := manifests.EnsureNamespace(ctx, env.Client, name); err != nil {
		t.Fatal(err)
	}
}

// install checks objs against the API server as manifests.Install does, reporting each failure.
func install(ctx context.Context, t *testing.T, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	t.Helper()
	checked, err := manifests.Install(ctx, env.Client, objs)
	if err != nil {
		t.Error(err)
	}
	return checked
}

func TestOverlaysApplyWithServerSideDryRun(t *testing.T) {
	for _, o := range overlays {
		t.Run(o.name, func(t *testing.T) {
			ctx := t.Context()
			objs := render(t, o.dir)
			checked := install(ctx, t, objs)
			for _, kind := range []string{"Deployment", "ServiceAccount", "Service"} {
				if len(manifests.Find(checked, kind, "")) == 0 {
					t.Errorf("%s renders no %s", o.name, kind)
				}
			}
			for _, u := range objs {
				if manifests.IsFoundation(u) {
					continue
				}
				if u.GetNamespace() != "" && u.GetNamespace() != o.namespace {
					t.Errorf("%s is in namespace %q, want %q", manifests.Describe(u), u.GetNamespace(), o.namespace)
				}
			}
		})
	}
}

func TestDefaultInstallsCRDAndNamespace(t *testing.T) {
	objs := render(t, manifests.Dir("default"))
	crds := manifests.Find(objs, "CustomResourceDefinition", "consumers.konsumerator.lwolf.org")
	if len(crds) != 1 {
		t.Fatalf("config/default renders %d Consumer CRDs, want 1", len(crds))
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(crds[0].Object, &crd); err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, v := range crd.Spec.Versions {
		if v.Served {
			served = append(served, v.Name)
		}
	}
	slices.Sort(served)
	if !slices.Equal(served, []string{"v1", "v1alpha1"}) {
		t.Errorf("served versions %v, want [v1 v1alpha1]", served)
	}
	if len(manifests.Find(objs, "Namespace", "konsumerator-system")) != 1 {
		t.Error("config/default does not create the konsumerator-system Namespace")
	}
}

// TestServiceMonitorComponent adds config/prometheus to the default install, as install.md says, and checks
// the ServiceMonitor against a stand-in for the Prometheus Operator's CRD.
func TestServiceMonitorComponent(t *testing.T) {
	ctx := t.Context()
	dir := tempOverlay(t, `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: konsumerator-system
resources:
  - %s
components:
  - %s
`, "default", "prometheus")
	objs := render(t, dir)
	monitors := manifests.Find(objs, "ServiceMonitor", "")
	if len(monitors) != 1 {
		t.Fatalf("got %d ServiceMonitors, want 1", len(monitors))
	}
	sm := monitors[0]
	if sm.GetNamespace() != "konsumerator-system" {
		t.Errorf("ServiceMonitor in namespace %q", sm.GetNamespace())
	}
	selector, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	services := manifests.Find(objs, "Service", "")
	if len(services) != 1 {
		t.Fatalf("got %d Services, want 1", len(services))
	}
	svc := services[0]
	for k, v := range selector {
		if svc.GetLabels()[k] != v {
			t.Errorf("ServiceMonitor selects %s=%s, the metrics Service has %q", k, v, svc.GetLabels()[k])
		}
	}
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	for _, e := range endpoints {
		port := e.(map[string]any)["port"]
		if honor, _ := e.(map[string]any)["honorLabels"].(bool); !honor {
			t.Errorf("ServiceMonitor endpoint %v does not honor labels: the series' namespace and container would be replaced", port)
		}
		if !slices.ContainsFunc(ports, func(p any) bool { return p.(map[string]any)["name"] == port }) {
			t.Errorf("ServiceMonitor scrapes port %v, which the Service does not name", port)
		}
	}
	installServiceMonitorCRD(ctx, t)
	install(ctx, t, objs)
}

func installServiceMonitorCRD(ctx context.Context, t *testing.T) {
	t.Helper()
	if err := manifests.InstallServiceMonitorCRD(ctx, env.Client); err != nil {
		t.Fatal(err)
	}
}

// TestGuestOverlayIsNamespaced asks the API server's discovery which rendered kinds are cluster-scoped: guest
// mode is for teams without any cluster-wide right.
func TestGuestOverlayIsNamespaced(t *testing.T) {
	cluster, err := manifests.ClusterScoped(env.Client.RESTMapper(), render(t, manifests.Dir("guest")))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range cluster {
		t.Errorf("guest overlay renders cluster-scoped %s", manifests.Describe(u))
	}
}

// TestRolesHaveNoWildcards: every verb, resource and API group is named.
func TestRolesHaveNoWildcards(t *testing.T) {
	for _, o := range overlays {
		t.Run(o.name, func(t *testing.T) {
			objs := render(t, o.dir)
			n := 0
			for _, u := range objs {
				if u.GetKind() != "Role" && u.GetKind() != "ClusterRole" {
					continue
				}
				n++
				var role rbacv1.ClusterRole // Role has the same rules
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &role); err != nil {
					t.Fatal(err)
				}
				if role.AggregationRule != nil {
					t.Errorf("%s aggregates other roles: its rules are not reviewable here", manifests.Describe(u))
				}
				for i, r := range role.Rules {
					for field, values := range map[string][]string{"verbs": r.Verbs, "resources": r.Resources,
						"apiGroups": r.APIGroups} {
						if slices.Contains(values, rbacv1.VerbAll) {
							t.Errorf("%s rule %d: %s has a wildcard", manifests.Describe(u), i, field)
						}
					}
					// The one non-resource grant: reading the operator's own metrics, for whoever it is bound to.
					metricsReader := u.GetName() == "konsumerator-metrics-reader" &&
						slices.Equal(r.NonResourceURLs, []string{"/metrics"}) && slices.Equal(r.Verbs, []string{"get"})
					if len(r.NonResourceURLs) > 0 && !metricsReader {
						t.Errorf("%s rule %d grants non-resource URLs %v", manifests.Describe(u), i, r.NonResourceURLs)
					}
					for _, res := range r.Resources {
						if strings.HasSuffix(res, "/*") {
							t.Errorf("%s rule %d: %s grants every subresource", manifests.Describe(u), i, res)
						}
					}
					if slices.Contains(r.Resources, "secrets") && !slices.Equal(r.Verbs, []string{"get"}) {
						t.Errorf("%s rule %d: secrets may only be read one by one (get), not %v", manifests.Describe(u), i, r.Verbs)
					}
				}
			}
			if n == 0 {
				t.Errorf("%s renders no Role or ClusterRole", o.name)
			}
		})
	}
}

// TestManagerDeployment checks the operator's pod: command line, probes, resources and a restricted security
// context in both install modes.
func TestManagerDeployment(t *testing.T) {
	for _, o := range overlays {
		t.Run(o.name, func(t *testing.T) {
			deps := manifests.Find(render(t, o.dir), "Deployment", "konsumerator")
			if len(deps) != 1 {
				t.Fatalf("got %d konsumerator Deployments, want 1", len(deps))
			}
			var d struct {
				Spec struct {
					Template corev1.PodTemplateSpec `json:"template"`
				} `json:"spec"`
			}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(deps[0].Object, &d); err != nil {
				t.Fatal(err)
			}
			pod := d.Spec.Template.Spec
			if pod.ServiceAccountName != "konsumerator" {
				t.Errorf("serviceAccountName %q", pod.ServiceAccountName)
			}
			if len(pod.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(pod.Containers))
			}
			c := pod.Containers[0]
			if len(c.Command) != 0 || len(c.Args) == 0 || c.Args[0] != "run" {
				t.Errorf("want the image's entrypoint with args starting with run, got command %v args %v", c.Command, c.Args)
			}
			for _, want := range []string{"--leader-elect", "--metrics-bind-address=:8443", "--health-probe-bind-address=:8081"} {
				if !slices.Contains(c.Args, want) {
					t.Errorf("args %v lack %s", c.Args, want)
				}
			}
			// Metrics are served to authenticated callers only, except in guest mode, which cannot ask the API
			// server who a caller is (TokenReview is cluster-scoped).
			if insecure := slices.Contains(c.Args, "--metrics-secure=false"); insecure != o.guest {
				t.Errorf("--metrics-secure=false in args: %v, want %v (guest mode: %v)", insecure, o.guest, o.guest)
			}
			for _, a := range c.Args {
				if strings.HasPrefix(a, "--leader-elect=") && a != "--leader-elect=true" {
					t.Errorf("leader election turned off: %s", a)
				}
				if strings.HasPrefix(a, "--dry-run") {
					t.Errorf("shipped manifests must act: %s", a)
				}
			}
			if o.guest {
				if !slices.Contains(c.Args, "--namespace=$(NS)") {
					t.Errorf("guest args %v lack --namespace=$(NS)", c.Args)
				}
				i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "NS" })
				if i < 0 || c.Env[i].ValueFrom == nil || c.Env[i].ValueFrom.FieldRef == nil ||
					c.Env[i].ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
					t.Errorf("guest env lacks NS from metadata.namespace: %+v", c.Env)
				}
			} else if slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--namespace") }) {
				t.Errorf("cluster-wide install restricted to a namespace: %v", c.Args)
			}
			checkProbe(t, "liveness", c.LivenessProbe, "/healthz", c.Ports)
			checkProbe(t, "readiness", c.ReadinessProbe, "/readyz", c.Ports)
			for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[name]; !ok {
					t.Errorf("no %s request", name)
				}
				if _, ok := c.Resources.Limits[name]; !ok {
					t.Errorf("no %s limit", name)
				}
			}

			psc, sc := pod.SecurityContext, c.SecurityContext
			if psc == nil || sc == nil {
				t.Fatal("pod and container need a securityContext")
			}
			if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
				t.Error("pod securityContext.runAsNonRoot must be true")
			}
			if psc.RunAsUser == nil || *psc.RunAsUser == 0 {
				t.Error("pod securityContext.runAsUser must be a non-root uid")
			}
			if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Error("pod seccompProfile must be RuntimeDefault")
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Error("allowPrivilegeEscalation must be false")
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Error("readOnlyRootFilesystem must be true")
			}
			if sc.Privileged != nil && *sc.Privileged {
				t.Error("privileged")
			}
			if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
				t.Errorf("capabilities must drop ALL and add none: %+v", sc.Capabilities)
			}
		})
	}
}

func checkProbe(t *testing.T, what string, p *corev1.Probe, path string, ports []corev1.ContainerPort) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("no HTTP %s probe", what)
		return
	}
	if p.HTTPGet.Path != path {
		t.Errorf("%s probe path %q, want %q", what, p.HTTPGet.Path, path)
	}
	port := p.HTTPGet.Port.IntValue()
	if name := p.HTTPGet.Port.StrVal; name != "" {
		i := slices.IndexFunc(ports, func(cp corev1.ContainerPort) bool { return cp.Name == name })
		if i < 0 {
			t.Errorf("%s probe port %q is not a container port", what, name)
			return
		}
		port = int(ports[i].ContainerPort)
	}
	if port != 8081 {
		t.Errorf("%s probe on port %d, want 8081 (--health-probe-bind-address)", what, port)
	}
}

// TestGuestOverlayTakesTheTeamsNamespace uses config/guest as a base with a namespace of one's own, as
// guest-mode.md says, and checks that the bindings follow.
func TestGuestOverlayTakesTheTeamsNamespace(t *testing.T) {
	ctx := t.Context()
	dir := tempOverlay(t, `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: team-a
resources:
  - %s
`, "guest")
	objs := render(t, dir)
	for _, u := range objs {
		if u.GetNamespace() != "team-a" {
			t.Errorf("%s not in team-a", manifests.Describe(u))
		}
	}
	for _, rb := range manifests.Find(objs, "RoleBinding", "") {
		subjects, _, _ := unstructured.NestedSlice(rb.Object, "subjects")
		for _, s := range subjects {
			if ns := s.(map[string]any)["namespace"]; ns != "team-a" {
				t.Errorf("%s binds a subject in namespace %v", manifests.Describe(rb), ns)
			}
		}
	}
	install(ctx, t, objs)
}

// permission is one request the operator makes, as a SubjectAccessReview asks it.
type permission struct {
	namespace, group, resource, subresource, verb, name string
}

func (p permission) String() string {
	r := p.resource
	if p.group != "" {
		r += "." + p.group
	}
	if p.subresource != "" {
		r += "/" + p.subresource
	}
	if p.name != "" {
		r += " " + p.name
	}
	ns := p.namespace
	if ns == "" {
		ns = "<all namespaces>"
	}
	return fmt.Sprintf("%s %s in %s", p.verb, r, ns)
}

func perms(namespace, group, resource, subresource string, verbs ...string) []permission {
	out := make([]permission, len(verbs))
	for i, v := range verbs {
		out[i] = permission{namespace: namespace, group: group, resource: resource, subresource: subresource, verb: v}
	}
	return out
}

func named(ps []permission, name string) []permission {
	for i := range ps {
		ps[i].name = name
	}
	return ps
}

const leaseName = "konsumerator.lwolf.org"

// operatorNeeds lists the requests the operator makes: the cache's lists and watches (ns "" is cluster-wide),
// server-side applies (patch, plus create for a new object), deletes, Events, leader election, and live reads
// of Secrets. home is the operator's own namespace, apps one where instances run.
func operatorNeeds(home, apps string, guest bool) []permission {
	watchNS := ""
	if guest {
		watchNS = apps
	}
	var ps []permission
	if guest {
		ps = append(ps, perms(watchNS, "", "configmaps", "", "get", "list", "watch", "patch")...)
		ps = append(ps, perms(apps, "", "configmaps", "finalizers", "update")...)
	} else {
		ps = append(ps, perms(watchNS, "konsumerator.lwolf.org", "consumers", "", "get", "list", "watch")...)
		ps = append(ps, perms(apps, "konsumerator.lwolf.org", "consumers", "status", "patch")...)
	}
	ps = append(ps, perms(watchNS, "apps", "deployments", "", "list", "watch")...)
	ps = append(ps, perms(apps, "apps", "deployments", "", "get", "create", "patch", "delete")...)
	// Pods and ReplicaSets (metadata) of instances in the cache; resizes of running pods (updateMode InPlace).
	ps = append(ps, perms(watchNS, "", "pods", "", "list", "watch")...)
	ps = append(ps, perms(watchNS, "apps", "replicasets", "", "list", "watch")...)
	ps = append(ps, perms(apps, "", "pods", "resize", "patch")...)
	// --stuck-pod-after: a pod of an instance stuck on a node that is gone.
	ps = append(ps, perms(apps, "", "pods", "", "delete")...)
	ps = append(ps, perms(apps, "events.k8s.io", "events", "", "create", "patch")...)
	ps = append(ps, perms(apps, "", "secrets", "", "get")...)
	ps = append(ps, perms(home, "coordination.k8s.io", "leases", "", "create")...)
	ps = append(ps, named(perms(home, "coordination.k8s.io", "leases", "", "get", "update"), leaseName)...)
	ps = append(ps, perms(home, "", "events", "", "create", "patch")...)
	return ps
}

// operatorMustNot lists requests the operator never makes and must not be allowed.
func operatorMustNot(home, apps, other string, guest bool) []permission {
	ps := []permission{
		{namespace: apps, resource: "secrets", verb: "list"},
		{namespace: apps, resource: "secrets", verb: "watch"},
		{namespace: "", resource: "secrets", verb: "list"},
		{namespace: apps, group: "apps", resource: "deployments", verb: "update"},
		{namespace: apps, group: "apps", resource: "deployments", verb: "deletecollection"},
		{namespace: apps, resource: "pods", verb: "create"},
		{namespace: apps, resource: "pods", verb: "update"},
		{namespace: apps, resource: "pods", verb: "patch"},
		{namespace: apps, resource: "pods", verb: "deletecollection"},
		{namespace: apps, resource: "pods", subresource: "status", verb: "patch"},
		{namespace: apps, resource: "pods", subresource: "eviction", verb: "create"},
		{namespace: apps, group: "apps", resource: "replicasets", verb: "patch"},
		{namespace: apps, group: "apps", resource: "replicasets", verb: "delete"},
		{namespace: home, group: "coordination.k8s.io", resource: "leases", verb: "update", name: "someone-elses-lease"},
		{namespace: home, group: "coordination.k8s.io", resource: "leases", verb: "delete", name: leaseName},
		{namespace: apps, group: "rbac.authorization.k8s.io", resource: "roles", verb: "create"},
		{namespace: "", group: "apiextensions.k8s.io", resource: "customresourcedefinitions", verb: "create"},
		{namespace: apps, group: "konsumerator.lwolf.org", resource: "consumers", verb: "update"},
		{namespace: apps, group: "konsumerator.lwolf.org", resource: "consumers", verb: "delete"},
	}
	if guest {
		ps = append(ps,
			permission{namespace: "", group: "apps", resource: "deployments", verb: "list"},
			permission{namespace: other, group: "apps", resource: "deployments", verb: "patch"},
			permission{namespace: other, resource: "configmaps", verb: "list"},
			permission{namespace: other, resource: "secrets", verb: "get"},
			permission{namespace: apps, group: "konsumerator.lwolf.org", resource: "consumers", verb: "list"},
			permission{namespace: apps, resource: "configmaps", verb: "delete"},
		)
	} else {
		ps = append(ps, permission{namespace: apps, resource: "configmaps", verb: "patch"})
	}
	return ps
}

// TestServiceAccountPermissions installs the RBAC of each overlay for real and asks the API server's
// authorizer, with SubjectAccessReviews for the operator's ServiceAccount, whether every request the operator
// makes is allowed and a sample of requests it never makes is not.
func TestServiceAccountPermissions(t *testing.T) {
	cases := []struct {
		overlay
		home, apps, other string
	}{
		{overlay: overlays[0], home: "konsumerator-system", apps: "payments", other: "payments"},
		{overlay: overlay{name: "guest-team-a", namespace: "team-a", guest: true}, home: "team-a", apps: "team-a", other: "team-b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			dir := tc.dir
			if dir == "" {
				dir = tempOverlay(t, "namespace: "+tc.namespace+"\nresources:\n  - %s\n", "guest")
			}
			for _, ns := range []string{tc.home, tc.apps, tc.other} {
				ensureNamespace(ctx, t, ns)
			}
			for _, u := range render(t, dir) {
				switch u.GetKind() {
				case "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding":
					if err := apply(ctx, u, false); err != nil {
						t.Fatalf("applying %s: %v", manifests.Describe(u), err)
					}
				}
			}
			user := "system:serviceaccount:" + tc.home + ":konsumerator"
			groups := []string{"system:serviceaccounts", "system:serviceaccounts:" + tc.home, "system:authenticated"}
			needs := operatorNeeds(tc.home, tc.apps, tc.guest)
			waitForBindings(ctx, t, user, groups, needs[0])
			waitForBindings(ctx, t, user, groups, needs[len(needs)-1])
			for _, p := range needs {
				if !allowed(ctx, t, user, groups, p) {
					t.Errorf("the operator needs to %s; not allowed", p)
				}
			}
			for _, p := range operatorMustNot(tc.home, tc.apps, tc.other, tc.guest) {
				if allowed(ctx, t, user, groups, p) {
					t.Errorf("the operator may %s; it never needs to", p)
				}
			}
		})
	}
}

// allowed asks the authorizer once.
func allowed(ctx context.Context, t *testing.T, user string, groups []string, p permission) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user, Groups: groups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: p.namespace, Group: p.group,
			Resource: p.resource, Subresource: p.subresource, Verb: p.verb, Name: p.name},
	}}
	if err := env.Client.Create(ctx, sar); err != nil {
		t.Fatalf("SubjectAccessReview for %s: %v", p, err)
	}
	return sar.Status.Allowed
}

// waitForBindings waits until the authorizer grants p: RBAC objects take effect asynchronously (the
// authorizer reads them from an informer).
func waitForBindings(ctx context.Context, t *testing.T, user string, groups []string, p permission) {
	t.Helper()
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return allowed(ctx, t, user, groups, p), nil
	})
}
