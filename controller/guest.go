package controller

import (
	"context"
	"maps"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/applier"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/observer"
)

// GuestReconciler reconciles guest-mode Consumers: ConfigMaps annotated konsumerator.lwolf.org/managed in one
// namespace. Only the source differs from a Consumer; observe, plan and apply are the same.
type GuestReconciler struct {
	*Reconciler
}

// GuestCacheOptions restricts every cache to one namespace, so that the operator needs no cluster-wide
// permission, and Deployments to instances.
func GuestCacheOptions(namespace string) cache.Options {
	opts := CacheOptions()
	opts.DefaultNamespaces = map[string]cache.Config{namespace: {}}
	return opts
}

// SetupGuest builds the guest-mode reconciler for mgr and registers its controller.
func SetupGuest(mgr ctrl.Manager, cfg Config) (*GuestReconciler, error) {
	r, err := newReconciler(mgr, cfg, applier.ConfigMapStatusWriter{Client: mgr.GetClient()})
	if err != nil {
		return nil, err
	}
	g := &GuestReconciler{Reconciler: r}
	return g, g.SetupWithManager(mgr)
}

// SetupWithManager registers the controller: managed ConfigMaps, the Deployments they control, and the pods of
// those.
func (g *GuestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("guest-consumer").
		For(&corev1.ConfigMap{}, builder.WithPredicates(
			predicate.NewPredicateFuncs(func(o client.Object) bool { return observer.IsManaged(o.(*corev1.ConfigMap)) }),
			specChanged{})).
		Owns(&appsv1.Deployment{}).
		Watches(&corev1.Pod{}, podWake(podOwner(mgr.GetClient(), schema.GroupKind{Kind: "ConfigMap"}), podWakeDelay),
			builder.WithPredicates(podChanged{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, g.MaxConcurrentReconciles)}).
		Complete(g)
}

// Reconcile carries out one pass for one guest-mode Consumer.
func (g *GuestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return g.guarded(ctx, func() (ctrl.Result, error) {
		var cm corev1.ConfigMap
		if err := g.Client.Get(ctx, req.NamespacedName, &cm); err != nil {
			if apierrors.IsNotFound(err) {
				g.forget(req.Namespace, req.Name)
				return ctrl.Result{}, nil
			}
			return ctrl.Result{}, err
		}
		if !observer.IsManaged(&cm) || !cm.DeletionTimestamp.IsZero() {
			return ctrl.Result{}, nil
		}
		owned := observer.FromConfigMap(ctx, &cm)
		if owned.SpecError != "" && g.Applier.Events != nil && cm.Annotations[model.AnnotationMessage] != owned.SpecError {
			// Once per distinct problem: the status annotations then carry it.
			g.Applier.Events.Eventf(&cm, nil, corev1.EventTypeWarning, konsumeratorv1.EventInvalidSpec, "Validate", "%s", owned.SpecError)
		}
		return g.reconcile(ctx, &cm, owned)
	})
}

// specChanged lets through what can change a decision: the data, and annotations other than the status the
// operator writes itself (which would otherwise wake it after every status write).
type specChanged struct{ predicate.Funcs }

func (specChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*corev1.ConfigMap)
	n, ok2 := e.ObjectNew.(*corev1.ConfigMap)
	if !ok1 || !ok2 {
		return true
	}
	return !maps.Equal(o.Data, n.Data) || !maps.Equal(withoutStatus(o.Annotations), withoutStatus(n.Annotations))
}

func (specChanged) Create(event.CreateEvent) bool   { return true }
func (specChanged) Delete(event.DeleteEvent) bool   { return true }
func (specChanged) Generic(event.GenericEvent) bool { return true }

func withoutStatus(annotations map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range annotations {
		if !strings.HasPrefix(k, model.StatusAnnotationPrefix) {
			out[k] = v
		}
	}
	return out
}
