package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/konsumerator/konsumerator/applier"
	"github.com/konsumerator/konsumerator/controller"
	"github.com/konsumerator/konsumerator/internal/scheme"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/observer"
	"github.com/konsumerator/konsumerator/observer/metrics"
	"github.com/konsumerator/konsumerator/planner"
)

// The client-side rate limit must not be what paces a normal plan: the apply workers already bound the writes in
// flight, and API Priority and Fairness protects the server. The burst lets one plan of 1,000 instance writes go
// out at once and the rate is above what --apply-workers=8 reach against an API server on loopback (about 550
// applies/s), so the limit only stops a runaway loop. At the former 200/400, 1,000 creates took at least 3 s.
const (
	defaultQPS   = 1000
	defaultBurst = 2000
)

// runFlags are the operator's settings.
type runFlags struct {
	metricsAddr, probeAddr   string
	leaderElect              bool
	leaderElectionNamespace  string
	dryRun                   bool
	conflictPolicy           string
	namespace                string
	qps                      float64
	burst                    int
	applyWorkers             int
	maxConcurrentReconciles  int
	syncPeriod               time.Duration
	recordDir                string
	maxRolloutsInFlight      int
	metricsStaleAfter        time.Duration
	prometheusTimeout        time.Duration
	prometheusMaxConcurrency int
	gracefulShutdownTimeout  time.Duration
	kubeconfig               string
}

func (f *runFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint (0 turns it off)")
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints")
	fs.BoolVar(&f.leaderElect, "leader-elect", false, "elect a leader so that only one replica acts (on in the shipped manifests)")
	fs.StringVar(&f.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease (default: the operator's own)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "log every plan and check it with a server-side dry run, but write nothing")
	fs.StringVar(&f.conflictPolicy, "conflict-policy", string(applier.ConflictForce),
		"what to do with fields of instances another field manager owns: force (take them back) or respect (leave them and report)")
	fs.StringVar(&f.namespace, "namespace", "", "guest mode: watch only this namespace and read Consumers from annotated ConfigMaps")
	fs.Float64Var(&f.qps, "kube-api-qps", defaultQPS, "requests per second to the API server, for each kind of object (negative: no client-side limit)")
	fs.IntVar(&f.burst, "kube-api-burst", defaultBurst, "burst of requests to the API server, for each kind of object")
	fs.IntVar(&f.applyWorkers, "apply-workers", 8, "writes of one plan carried out at once")
	fs.IntVar(&f.maxConcurrentReconciles, "max-concurrent-reconciles", 4, "Consumers reconciled at once")
	fs.DurationVar(&f.syncPeriod, "sync-period", time.Minute, "how often a Consumer without minSyncPeriod is looked at without any event")
	fs.StringVar(&f.recordDir, "record-dir", "", "write the snapshot and plan of every reconcile that changes something to this directory")
	fs.IntVar(&f.maxRolloutsInFlight, "max-rollouts-in-flight", 0, "instances of one Consumer restarting at once (0: a tenth of the instances, at least one)")
	fs.DurationVar(&f.metricsStaleAfter, "metrics-stale-after", 0, "age from which a metrics sample is not used (0: three times minSyncPeriod)")
	fs.DurationVar(&f.prometheusTimeout, "prometheus-timeout", metrics.DefaultRequestTimeout, "timeout of one Prometheus query")
	fs.IntVar(&f.prometheusMaxConcurrency, "prometheus-max-concurrency", metrics.DefaultMaxConcurrentRequests, "Prometheus queries in flight, for all Consumers")
	fs.DurationVar(&f.gracefulShutdownTimeout, "graceful-shutdown-timeout", 30*time.Second, "time given to running reconciles on shutdown")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, the in-cluster config, then ~/.kube/config)")
}

func runOperator(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: konsumerator [run] [flags]\n\nRuns the operator against the cluster of the kubeconfig. Flags:\n")
		fs.PrintDefaults()
	}
	var f runFlags
	f.bind(fs)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts), zap.WriteTo(stderr)))
	log := ctrl.Log.WithName("setup")
	if err := run(ctrl.SetupSignalHandler(), f); err != nil {
		log.Error(err, "operator stopped")
		return 1
	}
	return 0
}

func run(ctx context.Context, f runFlags) error {
	policy, err := applier.ParseConflictPolicy(f.conflictPolicy)
	if err != nil {
		return err
	}
	cfg, err := ctrl.GetConfig()
	if f.kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", f.kubeconfig)
	}
	if err != nil {
		return fmt.Errorf("reading the kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = float32(f.qps), f.burst

	cacheOpts := controller.CacheOptions()
	if f.namespace != "" {
		cacheOpts = controller.GuestCacheOptions(f.namespace)
		if f.leaderElectionNamespace == "" {
			// A guest may only hold a Lease in its own namespace.
			f.leaderElectionNamespace = f.namespace
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme.New(),
		Cache:                   cacheOpts,
		Metrics:                 metricsserver.Options{BindAddress: f.metricsAddr},
		HealthProbeBindAddress:  f.probeAddr,
		LeaderElection:          f.leaderElect,
		LeaderElectionID:        "konsumerator.lwolf.org",
		LeaderElectionNamespace: f.leaderElectionNamespace,
		GracefulShutdownTimeout: &f.gracefulShutdownTimeout,
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}

	secrets := metrics.SecretGetterFunc(func(ctx context.Context, namespace, name, key string) ([]byte, error) {
		var s corev1.Secret
		// Secrets are read live: caching every Secret of the cluster would cost memory and permissions.
		if err := mgr.GetAPIReader().Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &s); err != nil {
			return nil, err
		}
		v, ok := s.Data[key]
		if !ok {
			return nil, fmt.Errorf("secret %s/%s has no key %q", namespace, name, key)
		}
		return v, nil
	})
	samples, err := metrics.NewCache(metrics.Options{
		Registerer:            crmetrics.Registry,
		Secrets:               secrets,
		RequestTimeout:        f.prometheusTimeout,
		MaxConcurrentRequests: f.prometheusMaxConcurrency,
	})
	if err != nil {
		return err
	}
	source := observer.PrometheusSamples{Cache: samples}
	rc := controller.Config{
		Planner: planner.Plan,
		PlannerOptions: model.Options{
			MaxRolloutsInFlight: f.maxRolloutsInFlight,
			MetricsStaleAfter:   model.Duration(f.metricsStaleAfter),
		},
		Metrics:                 source,
		Samples:                 source,
		DryRun:                  f.dryRun,
		ConflictPolicy:          policy,
		ApplyWorkers:            f.applyWorkers,
		MaxConcurrentReconciles: f.maxConcurrentReconciles,
		SyncPeriod:              f.syncPeriod,
		RecordDir:               f.recordDir,
		Registry:                crmetrics.Registry,
	}
	if f.namespace != "" {
		_, err = controller.SetupGuest(mgr, rc)
	} else {
		_, err = controller.Setup(mgr, rc)
	}
	if err != nil {
		return fmt.Errorf("setting up the controller: %w", err)
	}
	ctrl.Log.WithName("setup").Info("starting", "version", Version, "dryRun", f.dryRun, "conflictPolicy", policy, "namespace", f.namespace)
	return mgr.Start(ctx)
}
