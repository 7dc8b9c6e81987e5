package controller

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// A burst of pod changes of one owner wakes it once, after the delay, not once per change.
func TestPodWakeCoalescesABurstIntoOnePass(t *testing.T) {
	owner := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "c"}}
	toOwner := func(context.Context, client.Object) []reconcile.Request { return []reconcile.Request{owner} }
	// Longer than the burst takes to send, even on a loaded machine: the pass counts only if it sees them all.
	const delay = 2 * time.Second
	h := podWake(toOwner, delay)
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()

	ctx := context.Background()
	pod := func(i int) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", ResourceVersion: string(rune('a' + i%26))}}
	}
	h.Create(ctx, event.CreateEvent{Object: pod(0)}, q)
	for i := range 1000 {
		h.Update(ctx, event.UpdateEvent{ObjectOld: pod(i), ObjectNew: pod(i + 1)}, q)
	}
	h.Delete(ctx, event.DeleteEvent{Object: pod(0)}, q)
	h.Generic(ctx, event.GenericEvent{Object: pod(0)}, q)

	got, shutdown := q.Get() // blocks until the delay has passed
	require.False(t, shutdown)
	assert.Equal(t, owner, got)
	assert.Zero(t, q.Len(), "1,003 changes of one owner's pods make one pass")
	q.Done(got)
	time.Sleep(delay / 2)
	assert.Zero(t, q.Len(), "and nothing after it")
}

// Every kind of pod event reaches the owner, through the delay.
func TestPodWakeDelaysEveryKindOfEvent(t *testing.T) {
	owner := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "c"}}
	toOwner := func(_ context.Context, o client.Object) []reconcile.Request {
		if o.GetName() == "stranger" {
			return nil
		}
		return []reconcile.Request{owner}
	}
	h := podWake(toOwner, time.Minute)
	ctx := context.Background()
	ours := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
	stranger := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "stranger"}}
	for name, send := range map[string]func(workqueue.TypedRateLimitingInterface[reconcile.Request]){
		"create": func(q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			h.Create(ctx, event.CreateEvent{Object: ours}, q)
		},
		"update": func(q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			h.Update(ctx, event.UpdateEvent{ObjectOld: ours, ObjectNew: ours}, q)
		},
		"delete": func(q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			h.Delete(ctx, event.DeleteEvent{Object: ours}, q)
		},
		"generic": func(q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			h.Generic(ctx, event.GenericEvent{Object: ours}, q)
		},
	} {
		q := &recordingQueue{}
		send(q)
		assert.Equal(t, []delayedAdd{{owner, time.Minute}}, q.added, name)
	}
	q := &recordingQueue{}
	h.Update(ctx, event.UpdateEvent{ObjectOld: stranger, ObjectNew: stranger}, q)
	assert.Empty(t, q.added, "a pod of no owner wakes nobody")
}

type delayedAdd struct {
	req   reconcile.Request
	delay time.Duration
}

// recordingQueue records AddAfter; any other method panics (through the nil interface), which fails the test.
type recordingQueue struct {
	workqueue.TypedRateLimitingInterface[reconcile.Request]
	added []delayedAdd
}

func (q *recordingQueue) AddAfter(req reconcile.Request, d time.Duration) {
	q.added = append(q.added, delayedAdd{req, d})
}
