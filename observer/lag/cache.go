package lag

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

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
	// Clock is the cache's notion of now. Default time.Now; tests pass a fake to move past minSyncPeriod.
	Clock func() time.Time
}

// Cache holds the latest metrics sample of every Consumer. Any number of reconciles may ask for a sample; each
// Consumer's Prometheus servers are queried at most once per minSyncPeriod, and concurrent askers share that
// one fetch. It is safe for concurrent use.
type Cache struct {
	provider *provider
	clock    func() time.Time
	in       *instruments
	flight   singleflight.Group

	mu      sync.Mutex
	entries map[types.NamespacedName]*entry
}

type entry struct {
	uid types.UID
	// configHash covers everything in the spec that changes what is read or how; a new hash refetches at once.
	configHash string
	// queryHash covers what the values mean (queries, labels, partition count). Last good values read under
	// another queryHash are not kept through a failed fetch: they would answer a different question.
	queryHash string
	attempted time.Time
	sample    *model.MetricsSample
}

// NewCache builds a Cache and registers its metrics with opts.Registerer.
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
	c := &Cache{clock: opts.Clock, entries: map[types.NamespacedName]*entry{}}
	in, err := newInstruments(opts.Registerer, sampleAgeCollector{cache: c})
	if err != nil {
		return nil, err
	}
	c.in = in
	c.provider = &provider{
		secrets:  opts.Secrets,
		timeout:  opts.RequestTimeout,
		maxBytes: opts.MaxResponseBytes,
		policy:   opts.AddressPolicy,
		slots:    make(chan struct{}, opts.MaxConcurrentRequests),
		clock:    opts.Clock,
		in:       in,
		clients:  map[string]*cachedClient{},
	}
	return c, nil
}

// Sample returns the Consumer's latest sample, fetching a new one first when the last attempt is older than
// minSyncPeriod or the spec changed. It never returns nil. The returned sample is the caller's own copy.
//
// A fetch outlives a caller whose context ends (others may be waiting for it); that caller gets the sample
// that was current when it gave up.
func (c *Cache) Sample(ctx context.Context, key Key, spec *konsumeratorv1.PrometheusAutoscalerSpec,
	numPartitions int32) *model.MetricsSample {
	if spec == nil {
		return &model.MetricsSample{Error: "spec.autoscaler.prometheus is not set"}
	}
	configHash, queryHash := hashes(spec, numPartitions)
	name := types.NamespacedName{Namespace: key.Namespace, Name: key.Name}
	if s, fresh := c.current(name, key.UID, configHash, minSyncPeriod(spec)); fresh {
		return s
	}

	flightKey := name.String() + "/" + string(key.UID) + "/" + configHash
	ch := c.flight.DoChan(flightKey, func() (any, error) {
		// Fetches are shared, so no single caller's cancellation may end one; the logger in ctx stays.
		return c.refresh(context.WithoutCancel(ctx), key, spec, numPartitions, configHash, queryHash), nil
	})
	select {
	case r := <-ch:
		return cloneSample(r.Val.(*model.MetricsSample))
	case <-ctx.Done():
		if s, _ := c.current(name, key.UID, configHash, minSyncPeriod(spec)); s != nil {
			return s
		}
		return &model.MetricsSample{Error: "no metrics read yet: gave up waiting for Prometheus"}
	}
}

// current returns a copy of the cached sample and whether it may be served without a fetch.
func (c *Cache) current(name types.NamespacedName, uid types.UID, configHash string,
	period time.Duration) (*model.MetricsSample, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[name]
	if e == nil || e.uid != uid || e.sample == nil {
		return nil, false
	}
	now := c.clock()
	// A clock that went backwards counts as fresh: better one late fetch than a storm.
	fresh := e.configHash == configHash && now.Sub(e.attempted) < period
	return cloneSample(e.sample), fresh
}

func (c *Cache) refresh(ctx context.Context, key Key, spec *konsumeratorv1.PrometheusAutoscalerSpec,
	numPartitions int32, configHash, queryHash string) *model.MetricsSample {
	name := types.NamespacedName{Namespace: key.Namespace, Name: key.Name}

	// A caller that found the entry stale just before another fetch finished lands here; that fetch's sample
	// is new enough.
	if s, fresh := c.current(name, key.UID, configHash, minSyncPeriod(spec)); fresh {
		return s
	}

	start := c.clock()
	c.mu.Lock()
	e := c.entries[name]
	if e == nil || e.uid != key.UID {
		e = &entry{uid: key.UID}
		c.entries[name] = e
	}
	c.mu.Unlock()

	res := c.provider.fetch(ctx, key, spec, numPartitions)

	c.mu.Lock()
	defer c.mu.Unlock()
	var sample *model.MetricsSample
	if res.failed {
		sample = &model.MetricsSample{Error: res.errText}
		// The planner keeps current resources on Error; the old values stay for it to see how old they are.
		if prev := e.sample; prev != nil && e.queryHash == queryHash {
			sample.Time, sample.Partitions, sample.Problems = prev.Time, prev.Partitions, prev.Problems
		}
	} else {
		sample = &model.MetricsSample{Time: start, Partitions: res.partitions, Problems: res.problems.list()}
		if e.queryHash == queryHash {
			sample.AfterGap = model.FollowsGap(e.sample, sample)
		}
	}
	// Logged once per change of the failure, not once per fetch: an outage would otherwise repeat itself for
	// every Consumer every sync period.
	prevErr := ""
	if e.sample != nil {
		prevErr = e.sample.Error
	}
	logger := log.FromContext(ctx).WithValues("namespace", key.Namespace, "consumer", key.Name)
	switch {
	case res.failed && res.errText != prevErr:
		logger.Info("Reading metrics failed; the last values read are kept", "error", res.errText)
	case !res.failed && prevErr != "":
		logger.Info("Reading metrics works again")
	}
	for _, kind := range res.problems.byKindCounts() {
		c.in.problems.WithLabelValues(key.Namespace, key.Name, string(kind)).Inc()
	}
	// The entry may have been forgotten, or replaced by a newer fetch, while this one ran: then the result
	// goes to the callers waiting for it but is not stored.
	if c.entries[name] == e && !start.Before(e.attempted) {
		e.sample, e.attempted, e.configHash, e.queryHash = sample, start, configHash, queryHash
	}
	return sample
}

// Forget drops a Consumer's entry and its metrics series; call it when the Consumer is gone. An empty UID in
// key forgets whatever Consumer of that name is cached (a deleted object's UID is often no longer known).
func (c *Cache) Forget(key Key) {
	name := types.NamespacedName{Namespace: key.Namespace, Name: key.Name}
	c.mu.Lock()
	e := c.entries[name]
	if e != nil && (key.UID == "" || e.uid == key.UID) {
		delete(c.entries, name)
	}
	c.mu.Unlock()
	if e != nil && (key.UID == "" || e.uid == key.UID) {
		c.in.forgetConsumer(key.Namespace, key.Name)
	}
}

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

func cloneSample(s *model.MetricsSample) *model.MetricsSample {
	out := &model.MetricsSample{Time: s.Time, Error: s.Error, AfterGap: s.AfterGap}
	if s.Problems != nil {
		out.Problems = append([]string(nil), s.Problems...)
	}
	if s.Partitions != nil {
		out.Partitions = make([]model.PartitionMetrics, len(s.Partitions))
		for i, p := range s.Partitions {
			out.Partitions[i] = model.PartitionMetrics{
				Partition:       p.Partition,
				ProductionRate:  cloneFloat(p.ProductionRate),
				ConsumptionRate: cloneFloat(p.ConsumptionRate),
				MessagesBehind:  cloneFloat(p.MessagesBehind),
			}
		}
	}
	return out
}

func cloneFloat(f *float64) *float64 {
	if f == nil {
		return nil
	}
	v := *f
	return &v
}

// sampleAgeCollector reports how old each Consumer's values are at scrape time, so the figure keeps growing
// during an outage even though nothing is fetched.
type sampleAgeCollector struct{ cache *Cache }

var sampleAgeDesc = prometheus.NewDesc("konsumerator_metrics_sample_age_seconds",
	"Age of the values in a Consumer's metrics sample: time since the last successful read of Prometheus.",
	[]string{"namespace", "consumer"}, nil)

func (s sampleAgeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- sampleAgeDesc }

func (s sampleAgeCollector) Collect(ch chan<- prometheus.Metric) {
	c := s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock()
	for name, e := range c.entries {
		if e.sample == nil || e.sample.Time.IsZero() {
			continue
		}
		ch <- prometheus.MustNewConstMetric(sampleAgeDesc, prometheus.GaugeValue,
			now.Sub(e.sample.Time).Seconds(), name.Namespace, name.Name)
	}
}
