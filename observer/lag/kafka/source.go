package kafka

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/observer/lag"
)

const (
	// DefaultMinSyncPeriod applies when a spec leaves minSyncPeriod out (the API server defaults it to the same).
	DefaultMinSyncPeriod = time.Minute
	// DefaultRequestTimeout bounds one read of one Consumer (all its requests together), waiting for a free
	// slot included.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultMaxConcurrentReads bounds the reads in flight for all Consumers.
	DefaultMaxConcurrentReads = 16
	// MaxConnsPerClient bounds the connections of one client (one set of brokers and credentials): a cluster
	// whose metadata names thousands of brokers gets this many connections, not thousands.
	MaxConnsPerClient = 32
	// windowPeriods is the rate window in sync periods: rates are measured from the oldest read in the window.
	windowPeriods = 4
	// maxReads bounds the past reads kept per Consumer.
	maxReads = windowPeriods + 1
)

// Options configure the Kafka source. The zero value of every field but Registerer has a usable default.
type Options struct {
	// Registerer receives the source's own metrics. Required.
	Registerer prometheus.Registerer
	// Instruments are the per-Consumer series shared with the other sources; default: registered anew.
	Instruments *lag.Instruments
	// Secrets reads SASL credentials and TLS material, in the Consumer's namespace only.
	Secrets lag.SecretGetter
	// RequestTimeout bounds one read of one Consumer. Default DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxConcurrentReads bounds the reads in flight for all Consumers. Default DefaultMaxConcurrentReads.
	MaxConcurrentReads int
	// MaxResponseBytes bounds one answer of a broker. Default lag.DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// AddressPolicy decides which brokers may be dialed. Default lag.DefaultAddressPolicy().
	AddressPolicy *lag.AddressPolicy
	// Clock is the source's notion of now; rates are measured with it. Default time.Now.
	Clock func() time.Time
}

// New builds the Kafka cache: the shared sample cache over the Kafka source.
func New(opts Options) (*lag.Samples[*konsumeratorv1.KafkaAutoscalerSpec], error) {
	s, err := newSource(opts)
	if err != nil {
		return nil, err
	}
	return lag.NewSamples[*konsumeratorv1.KafkaAutoscalerSpec](s, s.shared, s.clock), nil
}

// source implements lag.Source for Kafka.
type source struct {
	secrets  lag.SecretGetter
	timeout  time.Duration
	maxBytes int32
	policy   *lag.AddressPolicy
	slots    chan struct{}
	clock    func() time.Time
	in       *instruments
	shared   *lag.Instruments
	clients  *pool

	mu      sync.Mutex
	history map[types.NamespacedName]*history
}

func newSource(opts Options) (*source, error) {
	if opts.Registerer == nil {
		return nil, errors.New("kafka source: a Registerer is required")
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.MaxConcurrentReads <= 0 {
		opts.MaxConcurrentReads = DefaultMaxConcurrentReads
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = lag.DefaultMaxResponseBytes
	}
	// kgo refuses a limit below 1 KiB or above 1 GiB.
	opts.MaxResponseBytes = min(max(opts.MaxResponseBytes, 1<<10), 1<<30)
	if opts.AddressPolicy == nil {
		opts.AddressPolicy = lag.DefaultAddressPolicy()
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	shared := opts.Instruments
	if shared == nil {
		var err error
		if shared, err = lag.NewInstruments(opts.Registerer); err != nil {
			return nil, err
		}
	}
	s := &source{
		secrets:  opts.Secrets,
		timeout:  opts.RequestTimeout,
		maxBytes: int32(opts.MaxResponseBytes),
		policy:   opts.AddressPolicy,
		slots:    make(chan struct{}, opts.MaxConcurrentReads),
		clock:    opts.Clock,
		shared:   shared,
		history:  map[types.NamespacedName]*history{},
	}
	s.clients = newPool()
	in, err := newInstruments(opts.Registerer, s.clients)
	if err != nil {
		return nil, err
	}
	s.in = in
	return s, nil
}

func (*source) Name() string { return "Kafka" }

func (*source) Of(a *konsumeratorv1.AutoscalerSpec) (*konsumeratorv1.KafkaAutoscalerSpec, bool) {
	if a == nil || a.Mode != konsumeratorv1.AutoscalerTypeKafka || a.Kafka == nil {
		return nil, false
	}
	return a.Kafka, true
}

// Fingerprint: what is the topic, the group and the partitions; how is the brokers and the credentials'
// references (the Secrets themselves are read on every read).
func (*source) Fingerprint(spec *konsumeratorv1.KafkaAutoscalerSpec, numPartitions int32) (string, string) {
	return fingerprint(struct {
			Topic, Group  string
			NumPartitions int32
		}{spec.Topic, spec.ConsumerGroup, numPartitions}), fingerprint(struct {
			Brokers []string
			TLS     any
			SASL    any
		}{sortedUnique(spec.Brokers), spec.TLS, spec.SASL})
}

func (*source) SyncPeriod(spec *konsumeratorv1.KafkaAutoscalerSpec) time.Duration {
	if spec.MinSyncPeriod == nil || spec.MinSyncPeriod.Duration <= 0 {
		return DefaultMinSyncPeriod
	}
	return spec.MinSyncPeriod.Duration
}

// Forget drops the Consumer's past reads and its hold on a client, which is closed when nobody else uses it.
func (s *source) Forget(key lag.Key) {
	name := types.NamespacedName{Namespace: key.Namespace, Name: key.Name}
	s.mu.Lock()
	delete(s.history, name)
	s.mu.Unlock()
	s.clients.release(name)
}

func fingerprint(v any) string {
	raw, _ := json.Marshal(v)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:16])
}

func sortedUnique(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	n := 0
	for i, v := range out {
		if i == 0 || v != out[n-1] {
			out[n] = v
			n++
		}
	}
	return out[:n]
}

// Fetch reads the offsets once and turns them, with the past reads, into a sample.
func (s *source) Fetch(ctx context.Context, key lag.Key, spec *konsumeratorv1.KafkaAutoscalerSpec,
	numPartitions int32) lag.Result {
	logger := log.FromContext(ctx).WithValues("namespace", key.Namespace, "consumer", key.Name)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	problems := lag.NewProblems()

	creds, err := resolveCredentials(ctx, s.secrets, key.Namespace, spec)
	if err != nil {
		logger.Error(err, "Cannot read the credentials for Kafka", "problem", lag.ProblemCredentialsUnavailable)
		problems.Add(lag.ProblemCredentialsUnavailable, "%s", err.Error())
		return lag.Result{Problems: problems, Failed: true, Error: "credentials for Kafka: " + err.Error()}
	}

	fail := func(f failure) lag.Result {
		s.in.readErrors.WithLabelValues(string(f.reason)).Inc()
		logger.V(1).Info("Reading offsets from Kafka failed", "reason", f.reason, "error", f.text, "detail", f.detail)
		problems.Add(lag.ProblemFetchFailed, "reading offsets from Kafka failed")
		return lag.Result{Problems: problems, Failed: true, Error: f.text}
	}

	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return fail(failure{reason: reasonThrottled, text: "no free request slot before the timeout"})
	}

	name := types.NamespacedName{Namespace: key.Namespace, Name: key.Name}
	cl, err := s.clients.acquire(name, spec.Brokers, creds, s.newClient)
	if err != nil {
		return fail(classify(ctx, err, spec))
	}
	s.in.reads.Inc()
	start := time.Now()
	r, err := readOffsets(ctx, cl.adm, spec.Topic, spec.ConsumerGroup)
	s.in.readDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		return fail(classify(ctx, err, spec))
	}
	now := s.clock()
	partitions := s.sample(name, key.UID, spec, numPartitions, now, r, problems)
	return lag.Result{Partitions: partitions, Problems: problems}
}
