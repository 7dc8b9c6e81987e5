package app

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/konsumerator/konsumerator/controller"
	"github.com/konsumerator/konsumerator/internal/testenv"
)

// An operator that stops gives its Lease up, so that the next replica (an upgrade's new pod) leads at once
// rather than after the Lease expires.
func TestStoppedOperatorGivesUpItsLease(t *testing.T) {
	env, err := testenv.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	require.NoError(t, env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "operator"}}))

	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var f runFlags
	f.bind(fs)
	require.NoError(t, fs.Parse([]string{"--leader-elect", "--leader-election-namespace=operator",
		"--metrics-bind-address=0", "--health-probe-bind-address=0"}))
	mgr, err := ctrl.NewManager(env.Config, managerOptions(f, controller.CacheOptions()))
	require.NoError(t, err)
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	select {
	case <-mgr.Elected():
	case <-time.After(time.Minute):
		t.Fatal("not elected within a minute")
	}
	lease := func() *coordinationv1.Lease {
		var l coordinationv1.Lease
		require.NoError(t, env.Client.Get(ctx, types.NamespacedName{Namespace: "operator", Name: f.leaderElectionID}, &l))
		return &l
	}
	require.NotEmpty(t, ptr.Deref(lease().Spec.HolderIdentity, ""), "the leader holds the Lease")

	stop()
	require.NoError(t, <-done)
	held := lease()
	require.Empty(t, ptr.Deref(held.Spec.HolderIdentity, ""), "a stopped operator holds no Lease")
}
