package app

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/konsumerator/konsumerator/applier"
	"github.com/konsumerator/konsumerator/controller"
	"github.com/konsumerator/konsumerator/internal/scheme"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/observer"
	"github.com/konsumerator/konsumerator/observer/lag"
	"github.com/konsumerator/konsumerator/observer/lag/kafka"
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
	pprofAddr                string
	metricsSecure            bool
	metricsCertDir           string
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
	rolloutFailureThreshold  int
	unschedulableAfter       time.Duration
	stuckPodAfter            time.Duration
	metricsStaleAfter        time.Duration
	prometheusTimeout        time.Duration
	prometheusMaxConcurrency int
	kafkaTimeout             time.Duration
	kafkaMaxConcurrency      int
	gracefulShutdownTimeout  time.Duration
	kubeconfig               string
	maxResponseBytes         int64
	sourceAllow, sourceDeny  string
	secretNamespaces         string
	maxInstanceSeries        int
	watchSelector            string
	watchNamespaces          string
	leaderElectionID         string
}

func (f *runFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":8443", "address of the Prometheus metrics endpoint (0 turns it off)")
	fs.BoolVar(&f.metricsSecure, "metrics-secure", true,
		"serve metrics over HTTPS to callers the API server authenticates (TokenReview) and authorizes for GET /metrics (SubjectAccessReview); false: plain HTTP to anyone, for local runs")
	fs.StringVar(&f.metricsCertDir, "metrics-cert-dir", "", "directory with tls.crt and tls.key for the metrics endpoint, reloaded when they change (empty: a self-signed certificate made at start)")
	fs.IntVar(&f.maxInstanceSeries, "metrics-max-instances", controller.DefaultMaxInstanceSeries,
		"instances that get per-instance metric series (lag, scaling state, requests; about 5 series each), over all Consumers; the rest are counted in konsumerator_instance_metrics_dropped (0: none)")
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints")
	fs.StringVar(&f.pprofAddr, "pprof-bind-address", "", "address of Go's /debug/pprof profiles, for finding where CPU and memory go (empty: off; serve it on localhost only)")
	fs.BoolVar(&f.leaderElect, "leader-elect", false, "elect a leader so that only one replica acts (on in the shipped manifests)")
	fs.StringVar(&f.leaderElectionID, "leader-election-id", "konsumerator.lwolf.org",
		"name of the leader election Lease; operators that share a cluster's Consumers (--watch-selector, --watch-namespaces) need one each")
	fs.StringVar(&f.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease (default: the operator's own)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "log every plan and check it with a server-side dry run, but write nothing")
	fs.StringVar(&f.conflictPolicy, "conflict-policy", string(applier.ConflictForce),
		"what to do with fields of instances another field manager owns: force (take them back) or respect (leave them and report)")
	fs.StringVar(&f.watchSelector, "watch-selector", "",
		"label selector of the Consumers this operator reconciles, e.g. konsumerator.lwolf.org/shard=a (empty: all); the others and their instances are left alone")
	fs.StringVar(&f.watchNamespaces, "watch-namespaces", "",
		"comma-separated namespaces whose Consumers this operator reconciles; only these are watched (empty: all)")
	fs.StringVar(&f.namespace, "namespace", "", "guest mode: watch only this namespace and read Consumers from annotated ConfigMaps")
	fs.Float64Var(&f.qps, "kube-api-qps", defaultQPS, "requests per second to the API server, for each kind of object (negative: no client-side limit)")
	fs.IntVar(&f.burst, "kube-api-burst", defaultBurst, "burst of requests to the API server, for each kind of object")
	fs.IntVar(&f.applyWorkers, "apply-workers", 8, "writes of one plan carried out at once (Deployment applies, pod resizes, deletes): also the bound on concurrent pods/resize calls")
	fs.IntVar(&f.maxConcurrentReconciles, "max-concurrent-reconciles", 16,
		"Consumers reconciled at once (a small Consumer's reconcile mostly waits for its metrics source and the API server)")
	fs.DurationVar(&f.syncPeriod, "sync-period", time.Minute, "how often a Consumer without minSyncPeriod is looked at without any event")
	fs.StringVar(&f.recordDir, "record-dir", "", "write the snapshot and plan of every reconcile that changes something to this directory")
	fs.IntVar(&f.maxRolloutsInFlight, "max-rollouts-in-flight", 0, "instances of one Consumer restarting at once (0: a tenth of the instances, at least one)")
	fs.IntVar(&f.rolloutFailureThreshold, "rollout-failure-threshold", 1, "instances whose pods fail on a new template before its rollout halts")
	fs.DurationVar(&f.unschedulableAfter, "unschedulable-after", 5*time.Minute, "how long a pod may stay unschedulable before its instance counts as failed")
	fs.DurationVar(&f.stuckPodAfter, "stuck-pod-after", 0, "delete an instance's pod that has been in phase Unknown, or terminating past its grace period, this long (0: never)")
	fs.DurationVar(&f.metricsStaleAfter, "metrics-stale-after", 0, "age from which a metrics sample is not used (0: three times minSyncPeriod)")
	fs.DurationVar(&f.prometheusTimeout, "prometheus-timeout", lag.DefaultRequestTimeout, "timeout of one Prometheus query")
	fs.IntVar(&f.prometheusMaxConcurrency, "prometheus-max-concurrency", lag.DefaultMaxConcurrentRequests, "Prometheus queries in flight, for all Consumers")
	fs.DurationVar(&f.kafkaTimeout, "kafka-timeout", kafka.DefaultRequestTimeout, "timeout of one read of a Consumer's offsets from Kafka")
	fs.IntVar(&f.kafkaMaxConcurrency, "kafka-max-concurrency", kafka.DefaultMaxConcurrentReads, "reads of offsets from Kafka in flight, for all Consumers")
	fs.DurationVar(&f.gracefulShutdownTimeout, "graceful-shutdown-timeout", 30*time.Second, "time given to running reconciles on shutdown")
	fs.Int64Var(&f.maxResponseBytes, "metrics-source-max-response-bytes", lag.DefaultMaxResponseBytes,
		"largest answer read from a metrics source; a larger one fails the read (size it as numPartitions x the bytes of one series)")
	fs.StringVar(&f.sourceAllow, "metrics-source-allow", "",
		"comma-separated CIDRs, IPs, host names and *.domain patterns a metrics source address must match (empty: any address not denied)")
	fs.StringVar(&f.sourceDeny, "metrics-source-deny", lag.DefaultDeniedAddresses,
		"comma-separated CIDRs, IPs, host names and *.domain patterns never queried; checked against the resolved IP when dialing (the default denies cloud metadata addresses)")
	fs.StringVar(&f.secretNamespaces, "secret-namespaces", "",
		"comma-separated namespaces Secrets named by Consumers may be read from (empty: any Consumer's own namespace; guest mode: its namespace)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, the in-cluster config, then ~/.kube/config)")
}

func newRunFlagSet(stderr io.Writer) (*flag.FlagSet, *runFlags, *zap.Options) {
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
	return fs, &f, &zapOpts
}

// ParseRunArgs parses the arguments of `konsumerator run` and does nothing else, so that tests can hold the
// install manifests to the flags the operator has.
func ParseRunArgs(args []string) error {
	fs, _, _ := newRunFlagSet(io.Discard)
	return fs.Parse(args)
}

func runOperator(args []string, stderr io.Writer) int {
	fs, f, zapOpts := newRunFlagSet(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	gc := setGCPercent()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(zapOpts), zap.WriteTo(stderr)))
	log := ctrl.Log.WithName("setup")
	if err := run(ctrl.SetupSignalHandler(), *f, gc); err != nil {
		log.Error(err, "operator stopped")
		return 1
	}
	return 0
}

func run(ctx context.Context, f runFlags, gc gcSetting) error {
	conflictPolicy, err := applier.ParseConflictPolicy(f.conflictPolicy)
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

	watch, err := parseWatch(f.watchSelector, f.watchNamespaces)
	if err != nil {
		return err
	}
	cacheOpts := watch.Restrict(controller.CacheOptions())
	if f.namespace != "" {
		if f.watchSelector != "" || f.watchNamespaces != "" {
			return errors.New("--watch-selector and --watch-namespaces do not apply in guest mode (--namespace)")
		}
		cacheOpts = controller.GuestCacheOptions(f.namespace)
		if f.leaderElectionNamespace == "" {
			// A guest may only hold a Lease in its own namespace.
			f.leaderElectionNamespace = f.namespace
		}
	}
	policy, err := addressPolicy(f.sourceAllow, f.sourceDeny)
	if err != nil {
		return err
	}
	if f.maxResponseBytes <= 0 {
		return fmt.Errorf("--metrics-source-max-response-bytes must be positive, not %d", f.maxResponseBytes)
	}
	mgr, err := ctrl.NewManager(cfg, managerOptions(f, cacheOpts))
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}

	secrets := observer.SecretKeys{Reader: mgr.GetAPIReader(), Namespaces: splitList(f.secretNamespaces)}
	if f.namespace != "" && len(secrets.Namespaces) == 0 {
		// A guest reads nothing outside its namespace; saying so keeps a request from being sent at all.
		secrets.Namespaces = []string{f.namespace}
	}
	shared, err := lag.NewInstruments(crmetrics.Registry)
	if err != nil {
		return err
	}
	samples, err := lag.NewCache(lag.Options{
		Registerer:            crmetrics.Registry,
		Instruments:           shared,
		Secrets:               secrets,
		RequestTimeout:        f.prometheusTimeout,
		MaxConcurrentRequests: f.prometheusMaxConcurrency,
		MaxResponseBytes:      f.maxResponseBytes,
		AddressPolicy:         policy,
	})
	if err != nil {
		return err
	}
	offsets, err := kafka.New(kafka.Options{
		Registerer:         crmetrics.Registry,
		Instruments:        shared,
		Secrets:            secrets,
		RequestTimeout:     f.kafkaTimeout,
		MaxConcurrentReads: f.kafkaMaxConcurrency,
		MaxResponseBytes:   f.maxResponseBytes,
		AddressPolicy:      policy,
	})
	if err != nil {
		return err
	}
	// One reader per source; a new source is one more entry here.
	source := observer.Samples{Sources: lag.Readers{samples, offsets}, Usable: planner.Usable}
	rc := controller.Config{
		Planner: planner.Plan,
		PlannerOptions: model.Options{
			MaxRolloutsInFlight:     f.maxRolloutsInFlight,
			MetricsStaleAfter:       model.Duration(f.metricsStaleAfter),
			RolloutFailureThreshold: f.rolloutFailureThreshold,
			UnschedulableAfter:      model.Duration(f.unschedulableAfter),
			StuckPodAfter:           model.Duration(f.stuckPodAfter),
		},
		Metrics:                 source,
		Samples:                 source,
		DryRun:                  f.dryRun,
		ConflictPolicy:          conflictPolicy,
		ApplyWorkers:            f.applyWorkers,
		MaxConcurrentReconciles: f.maxConcurrentReconciles,
		SyncPeriod:              f.syncPeriod,
		RecordDir:               f.recordDir,
		Registry:                crmetrics.Registry,
		MaxInstanceSeries:       f.maxInstanceSeries,
	}
	if f.maxInstanceSeries <= 0 {
		rc.MaxInstanceSeries = -1 // none; 0 would be the default
	}
	if f.namespace != "" {
		_, err = controller.SetupGuest(mgr, rc)
	} else {
		_, err = controller.Setup(mgr, rc)
	}
	if err != nil {
		return fmt.Errorf("setting up the controller: %w", err)
	}
	ctrl.Log.WithName("setup").Info("starting", "version", Version, "dryRun", f.dryRun, "conflictPolicy", conflictPolicy,
		"namespace", f.namespace, "watchSelector", f.watchSelector, "watchNamespaces", watch.Namespaces, "metricsSecure", f.metricsSecure, "metricsSourceAllow", f.sourceAllow,
		"metricsSourceDeny", f.sourceDeny, "secretNamespaces", secrets.Namespaces, "GOGC", gc.GOGC, "GOGCFrom", gc.Source,
		"GOMEMLIMIT", memoryLimitText())
	return mgr.Start(ctx)
}

// managerOptions are the manager's options for the flags.
func managerOptions(f runFlags, cacheOpts cache.Options) ctrl.Options {
	return ctrl.Options{
		Scheme:                  scheme.New(),
		Cache:                   cacheOpts,
		Metrics:                 metricsOptions(f),
		HealthProbeBindAddress:  f.probeAddr,
		PprofBindAddress:        f.pprofAddr,
		LeaderElection:          f.leaderElect,
		LeaderElectionID:        f.leaderElectionID,
		LeaderElectionNamespace: f.leaderElectionNamespace,
		// The process ends when the manager stops, so the Lease can be given up then: the next replica (an
		// upgrade's new pod) takes over at once instead of waiting for the Lease to expire (15 s).
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &f.gracefulShutdownTimeout,
	}
}

// parseWatch reads --watch-selector and --watch-namespaces.
func parseWatch(selector, namespaces string) (controller.Watch, error) {
	var w controller.Watch
	if strings.TrimSpace(selector) != "" {
		sel, err := labels.Parse(selector)
		if err != nil {
			return w, fmt.Errorf("--watch-selector %q: %w", selector, err)
		}
		w.Selector = sel
	}
	w.Namespaces = splitList(namespaces)
	return w, nil
}

// metricsOptions serves the operator's metrics the way kubebuilder projects do: over HTTPS, to callers the API
// server authenticates and authorizes (a ServiceAccount bound to the konsumerator-metrics-reader ClusterRole).
func metricsOptions(f runFlags) metricsserver.Options {
	o := metricsserver.Options{BindAddress: f.metricsAddr}
	if !f.metricsSecure {
		return o
	}
	o.SecureServing = true
	o.CertDir = f.metricsCertDir
	o.FilterProvider = filters.WithAuthenticationAndAuthorization
	// HTTP/2 stays off, as in kubebuilder's scaffold: its stream handling has had denial-of-service flaws
	// (CVE-2023-44487, CVE-2023-39325), and a scrape gains nothing from it.
	o.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	return o
}

// addressPolicy reads --metrics-source-allow and --metrics-source-deny.
func addressPolicy(allow, deny string) (*lag.AddressPolicy, error) {
	a, err := lag.ParseAddressRules(allow)
	if err != nil {
		return nil, fmt.Errorf("--metrics-source-allow: %w", err)
	}
	d, err := lag.ParseAddressRules(deny)
	if err != nil {
		return nil, fmt.Errorf("--metrics-source-deny: %w", err)
	}
	return &lag.AddressPolicy{Allow: a, Deny: d}, nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
