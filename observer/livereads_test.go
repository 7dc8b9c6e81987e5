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

// countingLive is a live client that counts reads and metadata lists; crowded makes every limited list answer
// as if the namespace held more than the page.
func countingLive(gets, lists *atomic.Int32, crowded bool, objs ...client.Object) client.Client {
	return fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(objs...).
		WithInterceptorFuncs(interceptor.Funcs{
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				gets.Add(1)
				return c.Get(ctx, key, obj, opts...)
			},
			List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
				lists.Add(1)
				if err := c.List(ctx, list, opts...); err != nil {
					return err
				}
				if crowded {
					list.(*metav1.PartialObjectMetadataList).Continue = "more"
				}
				return nil
			},
		}).Build()
}

// A new small Consumer (a few instances, none cached) costs one metadata page of its namespace, not one read
// per instance answering 404; a stranger holding a name is still seen and read.
func TestFewMissingInstancesCostOneSmallList(t *testing.T) {
	consumer := builder.Consumer("small").Partitions(5).PerInstance(1).Obj()
	stranger := builder.Deployment("small-3").Obj()
	stranger.ResourceVersion = ""
	var gets, lists atomic.Int32
	o := &Observer{Cache: fake.NewClientBuilder().WithScheme(scheme.New()).Build(),
		Live: countingLive(&gets, &lists, false, stranger)}
	s, err := o.Snapshot(context.Background(), FromConsumer(consumer))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Deployments) != 1 || s.Deployments[0].Name != "small-3" {
		t.Fatalf("snapshot Deployments = %v, want only the stranger small-3", names(s.Deployments))
	}
	if gets.Load() != 1 || lists.Load() != 1 {
		t.Errorf("live requests: %d reads and %d lists, want 1 and 1", gets.Load(), lists.Load())
	}
}

// In a namespace larger than the page, the page cannot tell a name is free: every missing name is read.
func TestFewMissingInstancesInACrowdedNamespaceAreReadByName(t *testing.T) {
	consumer := builder.Consumer("small").Partitions(3).PerInstance(1).Obj()
	var gets, lists atomic.Int32
	o := &Observer{Cache: fake.NewClientBuilder().WithScheme(scheme.New()).Build(), Live: countingLive(&gets, &lists, true)}
	if _, err := o.Snapshot(context.Background(), FromConsumer(consumer)); err != nil {
		t.Fatal(err)
	}
	if gets.Load() != 3 || lists.Load() != 1 {
		t.Errorf("live requests: %d reads and %d lists, want 3 and 1", gets.Load(), lists.Load())
	}
}

// One missing name is one read: a list would cost more.
func TestOneMissingInstanceIsReadByName(t *testing.T) {
	consumer := builder.Consumer("one").Partitions(1).PerInstance(1).Obj()
	var gets, lists atomic.Int32
	o := &Observer{Cache: fake.NewClientBuilder().WithScheme(scheme.New()).Build(), Live: countingLive(&gets, &lists, false)}
	if _, err := o.Snapshot(context.Background(), FromConsumer(consumer)); err != nil {
		t.Fatal(err)
	}
	if gets.Load() != 1 || lists.Load() != 0 {
		t.Errorf("live requests: %d reads and %d lists, want 1 and 0", gets.Load(), lists.Load())
	}
}

func names(ds []appsv1.Deployment) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Name)
	}
	return out
}
