package applier

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/konsumerator/konsumerator/model"
)

// The writes of one phase go out concurrently, never more than Workers at once, and no delete starts before
// every create has finished: a partition must never lose its consumer.
func TestWritesAreConcurrentBoundedAndDeletesComeLast(t *testing.T) {
	const workers, creates, deletes = 3, 24, 6
	var (
		mu                   sync.Mutex
		inFlight, maxFlight  int
		appliesDone          atomic.Int32
		deleteBeforeApplyEnd atomic.Bool
	)
	enter := func() {
		mu.Lock()
		inFlight++
		maxFlight = max(maxFlight, inFlight)
		mu.Unlock()
		// Long enough for the other workers to start their own write meanwhile.
		time.Sleep(10 * time.Millisecond)
	}
	leave := func() { mu.Lock(); inFlight--; mu.Unlock() }

	var old []appsv1.Deployment
	var objs []client.Object
	for i := range deletes {
		d := appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{
			Namespace: "ns", Name: fmt.Sprintf("old-%d", i), UID: types.UID(fmt.Sprintf("uid-old-%d", i)),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "konsumerator.lwolf.org/v1", Kind: "Consumer",
				Name: "c", UID: "owner-uid", Controller: ptr.To(true)}},
		}}
		old = append(old, d)
		objs = append(objs, d.DeepCopy())
	}
	c := fakeClient(t, interceptor.Funcs{
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			enter()
			defer leave()
			defer appliesDone.Add(1)
			return c.Apply(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			if appliesDone.Load() < creates {
				deleteBeforeApplyEnd.Store(true)
			}
			enter()
			defer leave()
			return c.Delete(ctx, obj, opts...)
		},
	}, objs...)

	plan := &model.Plan{}
	for i := range creates {
		name := fmt.Sprintf("inst-%d", i)
		plan.Actions = append(plan.Actions, model.Action{Kind: model.ActionCreate, Phase: model.PhaseApply,
			Namespace: "ns", Name: name, Reason: "test", Desired: desiredDeployment(name)})
	}
	// Deletes listed first: the order of the plan must not matter.
	for _, d := range old {
		plan.Actions = append([]model.Action{{Kind: model.ActionDelete, Phase: model.PhaseDelete,
			Namespace: "ns", Name: d.Name, UID: d.UID, Reason: "test"}}, plan.Actions...)
	}

	a := &Applier{Client: c, Options: Options{Workers: workers}}
	res, err := a.Apply(context.Background(), owner(), snapshotWith(old...), plan)
	require.NoError(t, err)
	assert.Equal(t, creates+deletes, res.Writes())
	assert.Equal(t, workers, maxFlight, "writes in flight at once")
	assert.False(t, deleteBeforeApplyEnd.Load(), "a delete started before every create had finished")
}

// Resizes run on the same bounded pool, ahead of every apply of the plan (the pods get the decision before it is
// recorded on the Deployments), and a transient fault of a resize is retried like any write.
func TestResizesAreBoundedAndGoAheadOfTheApplies(t *testing.T) {
	const workers, resizes = 3, 18
	var (
		mu                  sync.Mutex
		inFlight, maxFlight int
		resizesDone         atomic.Int32
		applyBeforeResizes  atomic.Bool
		faults              atomic.Int32
	)
	c := fakeClient(t, interceptor.Funcs{
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			if resizesDone.Load() < resizes {
				applyBeforeResizes.Store(true)
			}
			return c.Apply(ctx, obj, opts...)
		},
		SubResourcePatch: func(_ context.Context, _ client.Client, sub string, _ client.Object, _ client.Patch, _ ...client.SubResourcePatchOption) error {
			if sub != "resize" {
				return fmt.Errorf("patched %s, not resize", sub)
			}
			defer resizesDone.Add(1)
			mu.Lock()
			inFlight++
			maxFlight = max(maxFlight, inFlight)
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
			mu.Lock()
			inFlight--
			mu.Unlock()
			if faults.Add(1) == 1 {
				return transientFaults["429"]
			}
			return nil
		},
	})
	plan := &model.Plan{}
	for i := range resizes {
		plan.Actions = append(plan.Actions, model.Action{Kind: model.ActionResize, Phase: model.PhaseResize, Namespace: "ns",
			Name: fmt.Sprintf("inst-%d-pod", i%2), UID: types.UID(fmt.Sprintf("uid-%d", i)), Reason: "test",
			Resize: &model.PodResize{Deployment: fmt.Sprintf("inst-%d", i%2), Containers: []model.ContainerResize{{Index: 0, Name: "main"}}}})
	}
	for i := range 2 {
		name := fmt.Sprintf("inst-%d", i)
		plan.Actions = append(plan.Actions, model.Action{Kind: model.ActionCreate, Phase: model.PhaseApply,
			Namespace: "ns", Name: name, Reason: "test", Desired: desiredDeployment(name)})
	}
	a := &Applier{Client: c, Options: Options{Workers: workers}, Metrics: NewMetrics(nil)}
	res, err := a.Apply(context.Background(), owner(), snapshotWith(), plan)
	require.NoError(t, err)
	assert.Equal(t, 2+resizes, res.Writes())
	assert.Equal(t, workers, maxFlight, "resizes in flight at once")
	assert.False(t, applyBeforeResizes.Load(), "an apply started before the resizes had finished")
	assert.Equal(t, float64(resizes), testutil.ToFloat64(a.Metrics.Resizes.WithLabelValues("applied")))
}
