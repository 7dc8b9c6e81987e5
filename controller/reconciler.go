// Package controller wires one reconcile: read the owner, observe, plan, apply. The decisions are the planner's;
// this package only moves data between the parts and the cluster.
package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/applier"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/observer"
	"github.com/konsumerator/konsumerator/planner"
)

// Planner computes a plan from a snapshot (planner.Plan).
type Planner func(*model.Snapshot) model.Plan

// MetricsForgetter drops what is cached for a deleted owner.
type MetricsForgetter interface {
	Forget(owner model.Owner)
}

// Reconciler reconciles Consumers.
type Reconciler struct {
	Client   client.Client
	Observer *observer.Observer
	Plan     Planner
	Applier  *applier.Applier
	Metrics  *Metrics
	// Samples, when set, is told about deleted Consumers so that their cached samples go.
	Samples MetricsForgetter
	// RecordDir, when set, receives the snapshot and plan of every reconcile that changes something.
	RecordDir string
	// SyncPeriod is how often a Consumer is looked at without any event, when its spec sets no minSyncPeriod.
	SyncPeriod time.Duration
	// MaxConcurrentReconciles bounds how many Consumers are reconciled at once.
	MaxConcurrentReconciles int
	// Reads, when set, says when each Consumer's metrics source will next be read, so that the next periodic
	// reconcile comes then.
	Reads NextReader
	// written lets a pass that comes before the cache has seen this operator's last status write start from it.
	written writtenStatuses
	// Clock is now for the requeue; time.Now when nil. The requeue counts from the end of the reconcile, when
	// the work queue starts its wait.
	Clock func() time.Time
}

// +kubebuilder:rbac:groups=konsumerator.lwolf.org,resources=consumers,verbs=get;list;watch
// +kubebuilder:rbac:groups=konsumerator.lwolf.org,resources=consumers/status,verbs=get;patch
// +kubebuilder:rbac:groups=konsumerator.lwolf.org,resources=consumers/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get

// SetupWithManager registers the controller: Consumers, the Deployments they control, and the pods of those.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("consumer").
		For(&konsumeratorv1.Consumer{}, builder.WithPredicates(predicate.Or(
			// Our own status writes change neither; the disable-autoscaler annotation is a spec change to us.
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&appsv1.Deployment{}).
		Watches(&corev1.Pod{}, podWake(podOwner(mgr.GetClient(), konsumeratorv1.GroupVersion.WithKind("Consumer").GroupKind()), podWakeDelay),
			builder.WithPredicates(podChanged{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.MaxConcurrentReconciles)}).
		Complete(r)
}

// Reconcile carries out one pass for one Consumer.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.guarded(ctx, func() (ctrl.Result, error) {
		var consumer konsumeratorv1.Consumer
		if err := r.Client.Get(ctx, req.NamespacedName, &consumer); err != nil {
			if apierrors.IsNotFound(err) {
				r.forget(req.Namespace, req.Name)
				return ctrl.Result{}, nil
			}
			return ctrl.Result{}, err
		}
		if !consumer.DeletionTimestamp.IsZero() {
			// The garbage collector removes the instances through their owner references.
			return ctrl.Result{}, nil
		}
		return r.reconcile(ctx, &consumer, observer.FromConsumer(&consumer))
	})
}

// guarded runs one pass with its duration measured and a panic turned into an error: one broken Consumer
// must not take the operator down with it.
func (r *Reconciler) guarded(ctx context.Context, pass func() (ctrl.Result, error)) (result ctrl.Result, err error) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			r.Metrics.Panics.Inc()
			logr.FromContextOrDiscard(ctx).Error(fmt.Errorf("%v", p), "reconcile panicked", "stack", string(debug.Stack()))
			err = fmt.Errorf("reconcile panicked: %v", p)
		}
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		r.Metrics.ReconcileDuration.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
	}()
	return pass()
}

// reconcile is the part shared by every kind of owner.
func (r *Reconciler) reconcile(ctx context.Context, owner client.Object, owned observer.Owned) (ctrl.Result, error) {
	key := client.ObjectKeyFromObject(owner)
	owned.Status = r.written.current(key, owner.GetResourceVersion(), owned.Status)
	snapshot, err := r.Observer.Snapshot(ctx, owned)
	if err != nil {
		return ctrl.Result{}, err
	}
	plan := r.Plan(snapshot)
	r.Metrics.observePlan(&plan)
	if plan.Changed() && r.RecordDir != "" {
		if err := record(r.RecordDir, snapshot, &plan); err != nil {
			logr.FromContextOrDiscard(ctx).Error(err, "recording the plan")
		}
	}
	res, err := r.Applier.Apply(ctx, owner, snapshot, &plan)
	if res.StatusWritten {
		r.written.record(key, owner.GetResourceVersion(), res.Status)
	}
	r.Metrics.setStatus(owned.Owner.Namespace, owned.Owner.Name, res.Status)
	r.Metrics.publishInstances(logr.FromContextOrDiscard(ctx), owned.Owner.Namespace, owned.Owner.Name, &plan, res.Outcomes)
	return ctrl.Result{RequeueAfter: r.requeueAfter(snapshot, &plan)}, err
}

func (r *Reconciler) forget(namespace, name string) {
	r.written.forget(types.NamespacedName{Namespace: namespace, Name: name})
	r.Metrics.forget(namespace, name)
	if r.Applier.Metrics != nil {
		r.Applier.Metrics.Forget(namespace, name)
	}
	if r.Samples != nil {
		r.Samples.Forget(model.Owner{Namespace: namespace, Name: name})
	}
}

// NextReader says when an owner's metrics source will next be read, and whether the last read was the first for
// its current spec (observer.Samples).
type NextReader interface {
	NextRead(owner model.Owner) (at time.Time, first, ok bool)
}

// requeueAfter is when the Consumer is next looked at without any event: when its metrics source may be read
// again, counted from the last read and not from this reconcile, so that reconciles for other reasons (a pod
// changed) do not push the reads back; or sooner when the plan waits for a pending decision to ripen.
//
// Consumers created or changed together read together. After such a first read, the next one is moved to the
// Consumer's own slot in the period (see slotDelay), so that they spread evenly over it; from then on each reads
// once a period. A Consumer without reads is looked at on its slot.
func (r *Reconciler) requeueAfter(s *model.Snapshot, p *model.Plan) time.Duration {
	period := r.SyncPeriod
	if period <= 0 {
		period = time.Minute
	}
	if d := s.Spec.Autoscaler.MinSyncPeriod(); d != nil && d.Duration > 0 {
		period = d.Duration
	}
	now := r.now()
	earliest, align := now.Add(period), true
	if r.Reads != nil && s.Metrics != nil {
		if next, first, ok := r.Reads.NextRead(s.Owner); ok {
			earliest, align = next, first
		}
	}
	wait := earliest.Sub(now)
	if align {
		wait += slotDelay(s.Owner.UID, earliest, period)
	}
	wait = max(wait, minRequeue)
	if ripe := time.Duration(p.RequeueAfter); ripe > 0 && ripe < wait {
		return ripe
	}
	return wait
}

func (r *Reconciler) now() time.Time {
	if r.Clock != nil {
		return r.Clock()
	}
	return time.Now()
}

// minRequeue keeps a requeue from being zero (which would mean none) or a busy loop.
const minRequeue = 100 * time.Millisecond

// slotDelay is how long after earliest the Consumer's own slot in the period comes: each Consumer has one, from a
// hash of its UID, so Consumers that read together spread evenly over the period.
func slotDelay(uid types.UID, earliest time.Time, period time.Duration) time.Duration {
	if period <= 0 || uid == "" {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(uid))
	p := uint64(period)
	slot := h.Sum64() % p
	behind := (uint64(earliest.UnixNano()) + p - slot) % p
	if behind == 0 {
		return 0
	}
	return time.Duration(p - behind)
}

// record writes the snapshot and its plan, so that `konsumerator plan --snapshot FILE -o yaml` can replay the
// decision: it prints exactly the .plan.yaml written here.
func record(dir string, s *model.Snapshot, p *model.Plan) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(dir, fmt.Sprintf("%s-%s-%s-%s", s.Now.UTC().Format("20060102T150405.000000000Z"), s.Owner.Namespace, s.Owner.Name, p.SnapshotDigest))
	snapshot, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	plan, err := planner.YAML(*p)
	if err != nil {
		return err
	}
	for suffix, raw := range map[string][]byte{
		".snapshot.json": snapshot,
		".plan.yaml":     plan,
		".plan.txt":      []byte(planner.Text(*p) + planner.StatusText(*p)),
	} {
		if err := os.WriteFile(base+suffix, raw, 0o644); err != nil {
			return err
		}
	}
	return nil
}
