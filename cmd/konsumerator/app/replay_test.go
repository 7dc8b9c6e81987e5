package app_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/cmd/konsumerator/app"
	"github.com/konsumerator/konsumerator/controller"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/internal/testenv"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/planner"
)

// laggingSample says every partition is far behind, so that plans size instances from metrics.
type laggingSample struct{ at time.Time }

func (l laggingSample) Sample(context.Context, model.Owner, *konsumeratorv1.ConsumerSpec) *model.MetricsSample {
	return builder.Sample(l.at).Uniform(10, 100, 80, 100*3600*2).Obj()
}

// TestRecordedDecisionsReplayOffline proves that a decision the operator made in a cluster can be reproduced
// without one: each recorded snapshot, given to `konsumerator plan --snapshot`, prints the byte-identical plan.
func TestRecordedDecisionsReplayOffline(t *testing.T) {
	env, err := testenv.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = env.Stop() })
	dir := t.TempDir()

	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: env.Scheme, Cache: controller.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
	})
	require.NoError(t, err)
	_, err = controller.Setup(mgr, controller.Config{
		Planner: planner.Plan, Metrics: laggingSample{at: time.Now().UTC().Truncate(time.Second)},
		RecordDir: dir, Registry: prometheus.NewRegistry(), SyncPeriod: time.Hour,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = mgr.Start(ctx) }()

	require.NoError(t, env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "replay"}}))
	c := builder.Consumer("c").Namespace("replay").Partitions(10).PerInstance(3).Prometheus(1000, "100M").
		Policy("busybox", builder.Resources("cpu=100m,memory=100M"), builder.Resources("cpu=2,memory=1G")).Obj()
	c.UID, c.Generation = "", 0
	require.NoError(t, env.Client.Create(ctx, c))

	deadline := time.Now().Add(30 * time.Second)
	for {
		var list appsv1.DeploymentList
		require.NoError(t, env.Client.List(ctx, &list, client.InNamespace("replay")))
		if len(list.Items) == 4 {
			break
		}
		require.True(t, time.Now().Before(deadline), "waited 30s for 4 instances, have %d", len(list.Items))
		time.Sleep(50 * time.Millisecond)
	}
	cancel()

	snapshots, err := filepath.Glob(filepath.Join(dir, "*.snapshot.json"))
	require.NoError(t, err)
	require.NotEmpty(t, snapshots, "the pass that created the instances is recorded")
	for _, snapshot := range snapshots {
		want, err := os.ReadFile(strings.TrimSuffix(snapshot, ".snapshot.json") + ".plan.yaml")
		require.NoError(t, err)
		var stdout, stderr bytes.Buffer
		code := app.Main([]string{"plan", "--snapshot", snapshot, "-o", "yaml"}, nil, &stdout, &stderr)
		require.Equal(t, 0, code, stderr.String())
		assert.Equal(t, string(want), stdout.String(), "replaying %s", filepath.Base(snapshot))
		assert.Contains(t, stdout.String(), "action: create")
	}
}
