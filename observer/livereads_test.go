package observer

import (
	"context"
	"sync/atomic"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/internal/scheme"
)

// A new Consumer of many instances finds none of them in the cache. The observer must still see a stranger that
// holds an instance name, but without one read per missing name: one metadata list of the namespace tells which
// names exist, and only those are read.
func TestManyMissingInstancesCostOneListAndAReadPerExistingName(t *testing.T) {
	consumer := builder.Consumer("big").Partitions(200).PerInstance(1).Obj()
	stranger := builder.Deployment("big-7").Obj() // an instance name, not controlled by the Consumer
	unrelated := builder.Deployment("web").Obj()
	stranger.ResourceVersion, unrelated.ResourceVersion = "", ""

	var gets, lists atomic.Int32
	live := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(stranger, unrelated).
		WithInterceptorFuncs(interceptor.Funcs{
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				gets.Add(1)
				return c.Get(ctx, key, obj, opts...)
			},
			List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
				if _, ok := list.(*metav1.PartialObjectMetadataList); ok {
					lists.Add(1)
				}
				return c.List(ctx, list, opts...)
			},
		}).Build()
	cache := fake.NewClientBuilder().WithScheme(scheme.New()).Build()

	o := &Observer{Cache: cache, Live: live}
	s, err := o.Snapshot(context.Background(), FromConsumer(consumer))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Deployments) != 1 || s.Deployments[0].Name != "big-7" {
		t.Fatalf("snapshot Deployments = %v, want only the stranger big-7", names(s.Deployments))
	}
	if gets.Load() != 1 || lists.Load() != 1 {
		t.Errorf("live requests: %d reads and %d metadata lists, want 1 and 1", gets.Load(), lists.Load())
	}
}

// A few missing names are cheaper to read one by one than to list a namespace that may be large.
func TestFewMissingInstancesAreReadByName(t *testing.T) {
	consumer := builder.Consumer("small").Partitions(3).PerInstance(1).Obj()
	var gets, lists atomic.Int32
	live := fake.NewClientBuilder().WithScheme(scheme.New()).
		WithInterceptorFuncs(interceptor.Funcs{
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				gets.Add(1)
				return c.Get(ctx, key, obj, opts...)
			},
			List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
				lists.Add(1)
				return c.List(ctx, list, opts...)
			},
		}).Build()
	o := &Observer{Cache: fake.NewClientBuilder().WithScheme(scheme.New()).Build(), Live: live}
	if _, err := o.Snapshot(context.Background(), FromConsumer(consumer)); err != nil {
		t.Fatal(err)
	}
	if gets.Load() != 3 || lists.Load() != 0 {
		t.Errorf("live requests: %d reads and %d lists, want 3 and 0", gets.Load(), lists.Load())
	}
}

func names(ds []appsv1.Deployment) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Name)
	}
	return out
}
