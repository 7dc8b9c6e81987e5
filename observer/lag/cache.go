package lag

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

const (
	// DefaultMinSyncPeriod applies when a spec leaves minSyncPeriod out (the API server defaults it to the same).
	DefaultMinSyncPeriod = time.Minute
	// DefaultRequestTimeout bounds one query to one address, waiting for a free request slot included.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultMaxConcurrentRequests bounds the queries in flight to all Prometheus servers, for all Consumers.
	DefaultMaxConcurrentRequests = 16
)

// Key identifies a Consumer. The UID tells a Consumer from a later one of the same name, which must not
// inherit the values of the one that was deleted.
type Key struct {
	Namespace string
	Name      string
	UID       types.UID
}

// Options configure a Cache. The zero value of every field but Registerer has a usable default.
type Options struct {
	// Registerer receives the provider metrics: controller-runtime's metrics.Registry in the operator, a fresh
	// prometheus.NewRegistry() in tests. Required.
	Registerer prometheus.Registerer
	// Secrets reads bearer tokens, basic-auth credentials and CA bundles. Without it, a spec that names a
	// Secret gets an Error in its sample.
	Secrets SecretGetter
	// RequestTimeout bounds one query to one address. Default DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxConcurrentRequests bounds the queries in flight across all Consumers. Default
	// DefaultMaxConcurrentRequests.
	MaxConcurrentRequests int
	// MaxResponseBytes bounds one answer of a metrics source. Default DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// AddressPolicy decides which addresses may be queried. Default DefaultAddressPolicy(); an empty policy
	// allows every address.
	AddressPolicy *AddressPolicy
	// Instruments are the per-Consumer series shared with the other sources' caches. Default: registered anew
	// with Registerer.
	Instruments *Instruments
	// Clock is the cache's notion of now. Default time.Now; tests pass a fake to move past minSyncPeriod.
	Clock func() time.Time
}

// Cache is the cache of the Prometheus source: the latest sample of every Consumer in prometheus mode. Any
// number of reconciles may ask for a sample; each Consumer's Prometheus servers are queried at most once per
// minSyncPeriod, and concurrent askers share that one fetch. It is safe for concurrent use.
type Cache struct {
	*Samples[*konsumeratorv1.PrometheusAutoscalerSpec]
	provider *provider
	in       *instruments
}

// NewCache builds the Prometheus cache and registers its metrics with opts.Registerer (and the shared
// per-Consumer series too, unless opts.Instruments already holds them).
func NewCache(opts Options) (*Cache, error) {
	if opts.Registerer == nil {
		return nil, errors.New("metrics cache: a Registerer is required")
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.MaxConcurrentRequests <= 0 {
		opts.MaxConcurrentRequests = DefaultMaxConcurrentRequests
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.AddressPolicy == nil {
		opts.AddressPolicy = DefaultAddressPolicy()
	}
	shared := opts.Instruments
	if shared == nil {
		var err error
		if shared, err = NewInstruments(opts.Registerer); err != nil {
			return nil, err
		}
	}
	in, err := newInstruments(opts.Registerer, shared)
	if err != nil {
		return nil, err
	}
	p := &provider{
		secrets:    opts.Secrets,
		timeout:    opts.RequestTimeout,
		maxBytes:   opts.MaxResponseBytes,
		policy:     opts.AddressPolicy,
		slots:      make(chan struct{}, opts.MaxConcurrentRequests),
		clock:      opts.Clock,
		in:         in,
		clients:    map[string]*cachedClient{},
		transports: map[string]*sharedTransport{},
	}
	return &Cache{Samples: NewSamples(prometheusSource{p}, shared, opts.Clock), provider: p, in: in}, nil
}

// Sample returns the Consumer's latest sample (see Samples.Sample); a nil spec gets an Error.
func (c *Cache) Sample(ctx context.Context, key Key, spec *konsumeratorv1.PrometheusAutoscalerSpec,
	numPartitions int32) *model.MetricsSample {
	if spec == nil {
		return &model.MetricsSample{Error: "spec.autoscaler.prometheus is not set"}
	}
	return c.Samples.Sample(ctx, key, spec, numPartitions)
}

// prometheusSource is the Prometheus provider as a Source of the shared cache.
type prometheusSource struct{ p *provider }

func (prometheusSource) Name() string { return "Prometheus" }

func (prometheusSource) Of(a *konsumeratorv1.AutoscalerSpec) (*konsumeratorv1.PrometheusAutoscalerSpec, bool) {
	if a == nil || a.Mode != konsumeratorv1.AutoscalerTypePrometheus || a.Prometheus == nil {
		return nil, false
	}
	return a.Prometheus, true
}

func (prometheusSource) Fingerprint(spec *konsumeratorv1.PrometheusAutoscalerSpec, numPartitions int32) (string, string) {
	config, query := hashes(spec, numPartitions)
	return query, config
}

func (prometheusSource) SyncPeriod(spec *konsumeratorv1.PrometheusAutoscalerSpec) time.Duration {
	return minSyncPeriod(spec)
}

func (s prometheusSource) Fetch(ctx context.Context, key Key, spec *konsumeratorv1.PrometheusAutoscalerSpec,
	numPartitions int32) Result {
	return s.p.fetch(ctx, key, spec, numPartitions)
}

// Forget: HTTP clients are kept by address and credentials, not by Consumer, and age out on their own.
func (prometheusSource) Forget(Key) {}

func minSyncPeriod(spec *konsumeratorv1.PrometheusAutoscalerSpec) time.Duration {
	if spec.MinSyncPeriod == nil || spec.MinSyncPeriod.Duration <= 0 {
		return DefaultMinSyncPeriod
	}
	return spec.MinSyncPeriod.Duration
}

// hashes fingerprint the parts of a spec that matter to a fetch. minSyncPeriod is left out on purpose: a new
// period only changes when the next fetch happens, not what it reads.
func hashes(spec *konsumeratorv1.PrometheusAutoscalerSpec, numPartitions int32) (configHash, queryHash string) {
	what := struct {
		Offset, Production, Consumption konsumeratorv1.PrometheusQuery
		NumPartitions                   int32
	}{spec.Offset, spec.Production, spec.Consumption, numPartitions}
	how := struct {
		Address           []string
		BearerTokenSecret any
		BasicAuth         any
		TLS               any
	}{spec.Address, spec.BearerTokenSecret, spec.BasicAuth, spec.TLS}
	whatJSON, _ := json.Marshal(what)
	howJSON, _ := json.Marshal(how)
	q := sha256.Sum256(whatJSON)
	full := sha256.Sum256(append(append(whatJSON, 0), howJSON...))
	return hex.EncodeToString(full[:16]), hex.EncodeToString(q[:16])
}
