package controller

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/applier"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/observer"
)

// Config is everything the operator's flags decide about reconciling.
type Config struct {
	Planner        Planner
	PlannerOptions model.Options
	Metrics        observer.MetricsSource
	Samples        MetricsForgetter
	DryRun         bool
	ConflictPolicy applier.ConflictPolicy
	// ApplyWorkers bounds concurrent writes within one plan.
	ApplyWorkers            int
	MaxConcurrentReconciles int
	SyncPeriod              time.Duration
	RecordDir               string
	// Registry receives the operator's metrics (controller-runtime's metrics.Registry in production).
	Registry prometheus.Registerer
	// MaxInstanceSeries bounds the instances that get per-instance series (0: DefaultMaxInstanceSeries,
	// negative: none).
	MaxInstanceSeries int
}

// CacheOptions restricts the caches of Deployments, ReplicaSets and Pods to those of instances (labelled
// konsumerator.lwolf.org/consumer), so that memory does not grow with the unrelated objects of the cluster, and
// keeps no managed fields. ReplicaSets are cached as metadata only and Pods trimmed to what the planner reads;
// the resource lists of Pods and Deployments are shared where equal, and Consumers are kept without kubectl's
// copy of their manifest (observer.Transforms).
func CacheOptions() cache.Options {
	managed, err := labels.NewRequirement(konsumeratorv1.LabelConsumer, selection.Exists, nil)
	if err != nil {
		panic(err)
	}
	instances := labels.NewSelector().Add(*managed)
	replicaSets := &metav1.PartialObjectMetadata{}
	replicaSets.SetGroupVersionKind(observer.ReplicaSetGVK)
	transforms := &observer.Transforms{}
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.Deployment{}:       {Label: instances, Transform: transforms.Deployment},
			replicaSets:                {Label: instances, Transform: observer.TransformReplicaSet},
			&corev1.Pod{}:              {Label: instances, Transform: transforms.Pod},
			&konsumeratorv1.Consumer{}: {Transform: transforms.Consumer},
		},
		// Field ownership is read from the API server's answers, never from the cache, and it is a large part of
		// every cached object.
		DefaultTransform: cache.TransformStripManagedFields(),
	}
}

// Setup builds the observer, applier and reconciler for mgr and registers the Consumer controller.
func Setup(mgr ctrl.Manager, cfg Config) (*Reconciler, error) {
	r, err := newReconciler(mgr, cfg, applier.ConsumerStatusWriter{Client: mgr.GetClient()})
	if err != nil {
		return nil, err
	}
	return r, r.SetupWithManager(mgr)
}

func newReconciler(mgr ctrl.Manager, cfg Config, status applier.StatusWriter) (*Reconciler, error) {
	// The planner must know the policy too: under respect, yielded fields are not drift.
	cfg.PlannerOptions.ConflictPolicy = cfg.ConflictPolicy
	reads, _ := cfg.Samples.(NextReader)
	names, err := observer.NewTableNames(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return nil, err
	}
	return &Reconciler{
		Client: mgr.GetClient(),
		Observer: &observer.Observer{
			Cache:   mgr.GetClient(),
			Live:    mgr.GetAPIReader(),
			Names:   names,
			Metrics: cfg.Metrics,
			Options: cfg.PlannerOptions,
		},
		Plan: cfg.Planner,
		Applier: &applier.Applier{
			Client:  mgr.GetClient(),
			Events:  mgr.GetEventRecorder("konsumerator"),
			Status:  status,
			Metrics: applier.NewMetrics(cfg.Registry),
			Options: applier.Options{
				ConflictPolicy: cfg.ConflictPolicy,
				DryRun:         cfg.DryRun,
				Workers:        cfg.ApplyWorkers,
			},
		},
		Metrics:                 NewMetrics(cfg.Registry, cfg.MaxInstanceSeries),
		Samples:                 cfg.Samples,
		RecordDir:               cfg.RecordDir,
		SyncPeriod:              cfg.SyncPeriod,
		MaxConcurrentReconciles: cfg.MaxConcurrentReconciles,
		Reads:                   reads,
	}, nil
}

// Watch restricts an operator to some of the cluster's Consumers, so that several operators (each with its own
// leader election Lease) can share the Consumers of one cluster between them.
type Watch struct {
	// Selector selects the Consumers this operator reconciles by their labels; nil or empty selects all. The
	// others are not in its cache: it neither reads nor writes them nor their instances.
	Selector labels.Selector
	// Namespaces are the only namespaces watched (Consumers, instances, pods); empty watches all.
	Namespaces []string
}

// Restrict returns the cache options of an operator restricted to w.
func (w Watch) Restrict(opts cache.Options) cache.Options {
	if w.Selector != nil && !w.Selector.Empty() {
		if opts.ByObject == nil {
			opts.ByObject = map[client.Object]cache.ByObject{}
		}
		// The Consumers' entry, when there is one, keeps its transform: a second entry for the kind is refused.
		key := client.Object(&konsumeratorv1.Consumer{})
		for obj := range opts.ByObject {
			if _, ok := obj.(*konsumeratorv1.Consumer); ok {
				key = obj
			}
		}
		by := opts.ByObject[key]
		by.Label = w.Selector
		opts.ByObject[key] = by
	}
	if len(w.Namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range w.Namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}
