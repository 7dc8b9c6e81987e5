package controller

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/applier"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/internal/testenv"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/observer"
	"github.com/konsumerator/konsumerator/planner"
)

const guestSpec = `
numPartitions: 6
numPartitionsPerInstance: 2
name: g
namespace: %s
autoscaler:
  mode: prometheus
  prometheus:
    address: ["http://prometheus:9090"]
    minSyncPeriod: 1m
    tolerableLag: 5m
    criticalLag: 60m
    recoveryTime: 30m
    ratePerCore: 1000
    ramPerCore: 100M
    offset: {query: "lag", partitionLabel: partition}
    production: {query: "production", partitionLabel: partition}
    consumption: {query: "consumption", partitionLabel: partition}
deploymentTemplate:
  replicas: 1
  selector:
    matchLabels: {app: g}
  template:
    metadata:
      labels: {app: g}
    spec:
      containers:
        - name: busybox
          image: busybox
resourcePolicy:
  containerPolicies:
    - containerName: busybox
      minAllowed: {cpu: 100m, memory: 100M}
      maxAllowed: {cpu: "2", memory: 1G}
`

// guest is a guest-mode operator for one namespace, running with the given credentials.
type guest struct {
	ns         string
	mgr        ctrl.Manager
	reconciler *GuestReconciler
	requests   *testenv.Requests
}

func startGuest(t *testing.T, ns string, cfg *rest.Config) *guest {
	t.Helper()
	cfg, counted := testenv.Counting(cfg)
	m, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 env.Scheme,
		Cache:                  GuestCacheOptions(ns),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = m.Start(ctx) }()
	r, err := newReconciler(m, Config{
		Planner: planner.Plan, Metrics: samples, ConflictPolicy: applier.ConflictForce, ApplyWorkers: 4,
		Registry: prometheus.NewRegistry(),
	}, applier.ConfigMapStatusWriter{Client: m.GetClient()})
	require.NoError(t, err)
	panics = append(panics, r.Metrics)
	return &guest{ns: ns, mgr: m, reconciler: &GuestReconciler{Reconciler: r}, requests: counted}
}

func (g *guest) configMap(t *testing.T, data string) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "consumer", Namespace: g.ns, Annotations: map[string]string{konsumeratorv1.AnnotationManaged: "true"}},
		Data:       map[string]string{observer.ConsumerSpecKey: data},
	}
	require.NoError(t, env.Client.Create(context.Background(), cm))
	return cm
}

func (g *guest) get(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	var cm corev1.ConfigMap
	require.NoError(t, env.Client.Get(context.Background(), types.NamespacedName{Namespace: g.ns, Name: "consumer"}, &cm))
	return &cm
}

func (g *guest) edit(t *testing.T, mutate func(*corev1.ConfigMap)) {
	t.Helper()
	cm := g.get(t)
	mutate(cm)
	require.NoError(t, env.Client.Update(context.Background(), cm))
}

// pass waits for the guest's cache to hold the ConfigMap and Deployments the API server holds, then reconciles.
func (g *guest) pass(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	key := types.NamespacedName{Namespace: g.ns, Name: "consumer"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var live, cached appsv1.DeploymentList
		var liveCM, cachedCM corev1.ConfigMap
		require.NoError(t, env.Client.List(ctx, &live, client.InNamespace(g.ns), client.HasLabels{konsumeratorv1.LabelConsumer}))
		require.NoError(t, g.mgr.GetClient().List(ctx, &cached, client.InNamespace(g.ns)))
		errLive := env.Client.Get(ctx, key, &liveCM)
		errCached := g.mgr.GetClient().Get(ctx, key, &cachedCM)
		if versions(live.Items) == versions(cached.Items) && (errLive != nil) == (errCached != nil) && liveCM.ResourceVersion == cachedCM.ResourceVersion {
			break
		}
		require.True(t, time.Now().Before(deadline), "the guest cache did not catch up")
		time.Sleep(20 * time.Millisecond)
	}
	g.requests.Reset()
	_, err := g.reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: key})
	require.NoError(t, err)
	return g.requests.Writes()
}

func (g *guest) converge(t *testing.T) {
	t.Helper()
	for i := 0; i < 20; i++ {
		if len(g.pass(t)) == 0 {
			return
		}
	}
	t.Fatal("guest consumer did not converge")
}

func TestGuestModeLifecycle(t *testing.T) {
	ns := namespace(t, "guest")
	g := startGuest(t, ns, env.Config)
	cm := g.configMap(t, strings.ReplaceAll(guestSpec, "%s", ns))

	// Create: three instances controlled by the ConfigMap, status in bounded annotations.
	g.converge(t)
	ds := deployments(t, ns)
	require.Len(t, ds, 3)
	for _, d := range ds {
		ref := metav1.GetControllerOf(&d)
		require.NotNil(t, ref)
		assert.Equal(t, "ConfigMap", ref.Kind)
		assert.Equal(t, cm.UID, ref.UID)
		assert.True(t, *ref.BlockOwnerDeletion, "deleting the ConfigMap removes its instances (garbage collection)")
	}
	assert.Equal(t, "2,3", env0(ds["g-1"], "busybox", konsumeratorv1.DefaultPartitionEnvKey))
	annotations := g.get(t).Annotations
	assert.Equal(t, "3", annotations[model.AnnotationExpected])
	assert.Equal(t, "0", annotations[model.AnnotationMissing])
	assert.Empty(t, g.pass(t), "an unchanged guest consumer costs no write")

	// Update: more partitions per instance.
	g.edit(t, func(cm *corev1.ConfigMap) {
		cm.Data[observer.ConsumerSpecKey] = strings.Replace(cm.Data[observer.ConsumerSpecKey], "numPartitionsPerInstance: 2", "numPartitionsPerInstance: 3", 1)
	})
	g.converge(t)
	ds = deployments(t, ns)
	require.Len(t, ds, 2)
	assert.Equal(t, "3,4,5", env0(ds["g-1"], "busybox", konsumeratorv1.DefaultPartitionEnvKey))
	assert.Equal(t, "2", g.get(t).Annotations[model.AnnotationExpected])

	// Invalid spec: reported, nothing running is touched.
	before := versions(values(deployments(t, ns)))
	g.edit(t, func(cm *corev1.ConfigMap) {
		cm.Data[observer.ConsumerSpecKey] = strings.Replace(cm.Data[observer.ConsumerSpecKey], "numPartitions: 6", "numPartitions: 0", 1)
	})
	writes := g.pass(t)
	assert.Len(t, writes, 1, "only the status annotations: %v", writes)
	assert.Equal(t, before, versions(values(deployments(t, ns))))
	annotations = g.get(t).Annotations
	assert.Equal(t, "False", annotations[model.AnnotationReady])
	assert.Contains(t, annotations[model.AnnotationMessage], "spec.numPartitions")
	assert.Contains(t, strings.Join(eventReasons(t, ns), "\n"), "Warning/InvalidSpec")
	assert.Empty(t, g.pass(t), "the report is stable")

	g.edit(t, func(cm *corev1.ConfigMap) { cm.Data[observer.ConsumerSpecKey] = "numPartitions: [" })
	g.pass(t)
	assert.Contains(t, g.get(t).Annotations[model.AnnotationMessage], "not YAML")
	assert.Equal(t, before, versions(values(deployments(t, ns))))

	// Pause: with the annotation, critical lag changes nothing.
	g.edit(t, func(cm *corev1.ConfigMap) {
		cm.Data[observer.ConsumerSpecKey] = strings.ReplaceAll(guestSpec, "%s", ns)
		cm.Annotations[konsumeratorv1.AnnotationDisableAutoscaler] = "true"
	})
	g.converge(t)
	frozen := map[string]string{}
	for name, d := range deployments(t, ns) {
		frozen[name] = cpuLimit(d)
	}
	samples.set(ns, "consumer", builder.Sample(time.Now().UTC().Truncate(time.Second)).Uniform(6, 100, 100, 100*3600*2).Obj())
	t.Cleanup(func() { samples.set(ns, "consumer", nil) })
	g.converge(t)
	for name, d := range deployments(t, ns) {
		assert.Equal(t, frozen[name], cpuLimit(d), "%s is paused", name)
	}
	g.edit(t, func(cm *corev1.ConfigMap) { delete(cm.Annotations, konsumeratorv1.AnnotationDisableAutoscaler) })
	g.converge(t)
	for name, d := range deployments(t, ns) {
		assert.Equal(t, "2", cpuLimit(d), "%s scales once unpaused", name)
	}

	// Delete: the operator forgets the ConfigMap; the instances go with it through their owner reference.
	require.NoError(t, env.Client.Delete(context.Background(), g.get(t)))
	assert.Empty(t, g.pass(t))
}

func TestGuestSpecKeyRules(t *testing.T) {
	ns := namespace(t, "guest-keys")
	g := startGuest(t, ns, env.Config)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "consumer", Namespace: ns, Annotations: map[string]string{konsumeratorv1.AnnotationManaged: ""}},
		Data:       map[string]string{"a.yaml": strings.ReplaceAll(guestSpec, "%s", ns), "b.yaml": "x: 1"},
	}
	require.NoError(t, env.Client.Create(context.Background(), cm))
	g.pass(t)
	assert.Empty(t, deployments(t, ns), "several keys without consumer.yaml: no guessing")
	assert.Contains(t, g.get(t).Annotations[model.AnnotationMessage], `several keys (a.yaml, b.yaml) and none is "consumer.yaml"`)

	g.edit(t, func(cm *corev1.ConfigMap) { delete(cm.Data, "b.yaml") })
	g.converge(t)
	assert.Len(t, deployments(t, ns), 3, "a single key is the spec, whatever its name")
}

// TestGuestRoleIsEnough runs guest mode the way a team without cluster permissions would: as a user bound only to
// the shipped namespaced Role (config/guest/role.yaml), with leader election on. Every request it sends must be
// allowed.
func TestGuestRoleIsEnough(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "guest-rbac")
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "guest", "role.yaml"))
	require.NoError(t, err)
	var role rbacv1.Role
	require.NoError(t, yaml.UnmarshalStrict(raw, &role))
	role.Namespace = ns
	require.NoError(t, env.Client.Create(ctx, &role))
	require.NoError(t, env.Client.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "guest", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "guest-operator"}},
	}))
	user, err := env.Environment.AddUser(envtest.User{Name: "guest-operator"}, nil)
	require.NoError(t, err)

	cfg, counted := testenv.Counting(user.Config())
	m, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  env.Scheme,
		Cache:                   GuestCacheOptions(ns),
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:  "0",
		LeaderElection:          true,
		LeaderElectionID:        "konsumerator.lwolf.org",
		LeaderElectionNamespace: ns,
	})
	require.NoError(t, err)
	g, err := SetupGuest(m, Config{Planner: planner.Plan, Registry: prometheus.NewRegistry(), ApplyWorkers: 4, SyncPeriod: time.Hour})
	require.NoError(t, err)
	panics = append(panics, g.Metrics)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = m.Start(runCtx) }()

	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "consumer", Namespace: ns, Annotations: map[string]string{konsumeratorv1.AnnotationManaged: "true"}},
		Data:       map[string]string{observer.ConsumerSpecKey: strings.ReplaceAll(guestSpec, "%s", ns)},
	}
	require.NoError(t, env.Client.Create(ctx, cm))
	eventually(t, "the guest operator to create 3 instances and write its status", func() (bool, string) {
		var got corev1.ConfigMap
		require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(cm), &got))
		return len(deployments(t, ns)) == 3 && got.Annotations[model.AnnotationExpected] == "3",
			"instances: " + strconv.Itoa(len(deployments(t, ns))) + ", forbidden: " + strings.Join(counted.Forbidden(), "; ")
	})
	assert.Empty(t, counted.Forbidden(), "the guest Role must allow everything the operator does")
}
