package lag

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	prommodel "github.com/prometheus/common/model"
	"sigs.k8s.io/controller-runtime/pkg/log"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// clientIdleTTL is how long an HTTP client nobody used is kept. Clients are keyed by credentials, so every
// rotated Secret leaves an old client behind; this bounds how many pile up.
const clientIdleTTL = time.Hour

// provider runs the queries of one spec against all of its addresses.
type provider struct {
	secrets  SecretGetter
	timeout  time.Duration
	maxBytes int64
	policy   *AddressPolicy
	slots    chan struct{}
	clock    func() time.Time
	in       *instruments

	mu         sync.Mutex
	clients    map[string]*cachedClient
	transports map[string]*sharedTransport
	lastSweep  time.Time
}

// cachedClient is the client of one address with one set of credentials. Clients of one server share its
// transport, whatever their credentials (the auth round tripper adds those to each request), so that 1,000
// Consumers with their own tokens for one Prometheus open as many connections as the queries in flight, not
// 1,000 pools of them.
type cachedClient struct {
	api       promv1.API
	transport *sharedTransport
	lastUsed  time.Time
}

// sharedTransport is the connection pool to one server (scheme and host) under one TLS configuration.
type sharedTransport struct {
	transport *http.Transport
	lastUsed  time.Time
}

// answer is one address's reply to one query.
type answer struct {
	address string
	value   prommodel.Value
	// otherType names a result type the Prometheus client cannot decode (a string), when value is nil.
	otherType string
	failure   *requestFailure
}

func (p *provider) fetch(ctx context.Context, key Key, spec *konsumeratorv1.PrometheusAutoscalerSpec,
	numPartitions int32) Result {
	logger := log.FromContext(ctx).WithValues("namespace", key.Namespace, "consumer", key.Name)
	problems := newProblemSet()

	creds, err := resolveCredentials(ctx, p.secrets, key.Namespace, spec)
	if err != nil {
		logger.Error(err, "Cannot read the credentials for Prometheus", "problem", ProblemCredentialsUnavailable)
		problems.add(ProblemCredentialsUnavailable, "%s", err.Error())
		return Result{Problems: problems, Failed: true, Error: "credentials for Prometheus: " + err.Error()}
	}

	queries := map[QueryKind]konsumeratorv1.PrometheusQuery{
		QueryOffset:      spec.Offset,
		QueryProduction:  spec.Production,
		QueryConsumption: spec.Consumption,
	}
	answers := p.queryAll(ctx, logger, uniqueAddresses(spec.Address), creds, queries)

	byPartition := map[int32]*model.PartitionMetrics{}
	failed := map[QueryKind][]answer{}
	for _, kind := range queryKinds {
		best, parsed, ok := chooseAnswer(kind, queries[kind].PartitionLabel, answers[kind], numPartitions)
		if !ok {
			failed[kind] = answers[kind]
			problems.add(ProblemFetchFailed, "%s query failed on every address", kind)
			continue
		}
		for _, a := range answers[kind] {
			if a.failure != nil {
				problems.add(ProblemReplicaFailed, "%s query: %s failed (%s), answer taken from %s",
					kind, a.address, a.failure.text, best.address)
			}
		}
		problems.merge(parsed.problems)
		if vector, isVector := best.value.(prommodel.Vector); isVector && len(vector) == 0 {
			problems.add(ProblemEmptyResult, "%s query: no series", kind)
		}
		for partition, v := range parsed.values {
			pm := byPartition[partition]
			if pm == nil {
				pm = &model.PartitionMetrics{Partition: partition}
				byPartition[partition] = pm
			}
			switch kind {
			case QueryOffset:
				pm.MessagesBehind = &v
			case QueryProduction:
				pm.ProductionRate = &v
			case QueryConsumption:
				pm.ConsumptionRate = &v
			}
		}
	}

	logProblems(logger, problems)
	if len(failed) > 0 {
		// At least one query got no answer from any address: the values are not to be used.
		return Result{Problems: problems, Failed: true, Error: describeFailures(failed)}
	}
	var partitions []model.PartitionMetrics
	for _, pm := range byPartition {
		partitions = append(partitions, *pm)
	}
	sort.Slice(partitions, func(i, j int) bool { return partitions[i].Partition < partitions[j].Partition })
	return Result{Partitions: partitions, Problems: problems}
}

// queryAll sends every query to every address at once: a replica that is down or slow costs one timeout, not
// one per query and address in turn, and every replica's answer is there to compare.
func (p *provider) queryAll(ctx context.Context, logger logr.Logger, addresses []string, creds credentials,
	queries map[QueryKind]konsumeratorv1.PrometheusQuery) map[QueryKind][]answer {
	// Each goroutine writes its own element; the slices are all made before any goroutine starts.
	answers := map[QueryKind][]answer{}
	for _, kind := range queryKinds {
		answers[kind] = make([]answer, len(addresses))
	}
	var wg sync.WaitGroup
	for _, kind := range queryKinds {
		results, query := answers[kind], queries[kind].Query
		for i, address := range addresses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = p.query(ctx, logger, address, creds, kind, query)
			}()
		}
	}
	wg.Wait()
	return answers
}

// chooseAnswer picks, among the addresses that answered, the answer with the most valid partitions, so that a
// replica that answers empty or partly (just restarted, lagging behind) does not win over one with data. On a
// tie the address listed first wins, so the choice does not flip between equally good replicas. ok is false
// when no address answered.
func chooseAnswer(kind QueryKind, partitionLabel string, answers []answer, numPartitions int32) (
	best answer, parsed parsedAnswer, ok bool) {
	for _, a := range answers {
		if a.failure != nil {
			continue
		}
		candidate := parseAnswer(kind, partitionLabel, a, numPartitions)
		if !ok || len(candidate.values) > len(parsed.values) {
			best, parsed, ok = a, candidate, true
		}
	}
	return best, parsed, ok
}

// describeFailures says, in a text stable across identical outages, why no address answered some queries.
// Queries that failed the same way share one sentence, so a plain outage reads as one line, not three.
func describeFailures(failed map[QueryKind][]answer) string {
	var order []string
	kindsByCause := map[string][]string{}
	for _, kind := range queryKinds {
		answers, ok := failed[kind]
		if !ok {
			continue
		}
		parts := make([]string, 0, len(answers))
		for _, a := range answers {
			parts = append(parts, fmt.Sprintf("%s: %s", a.address, a.failure.text))
		}
		cause := strings.Join(parts, ", ")
		if _, seen := kindsByCause[cause]; !seen {
			order = append(order, cause)
		}
		kindsByCause[cause] = append(kindsByCause[cause], string(kind))
	}
	sentences := make([]string, 0, len(order))
	for _, cause := range order {
		kinds := kindsByCause[cause]
		subject := kinds[0] + " query"
		if len(kinds) > 1 {
			subject = strings.Join(kinds[:len(kinds)-1], ", ") + " and " + kinds[len(kinds)-1] + " queries"
		}
		sentences = append(sentences, fmt.Sprintf("%s failed on every address (%s)", subject, cause))
	}
	return strings.Join(sentences, "; ")
}

func logProblems(logger logr.Logger, problems *problemSet) {
	const examples = 5
	for kind, texts := range problems.byKind() {
		shown := texts
		if len(shown) > examples {
			shown = shown[:examples]
		}
		logger.Info("Problem in the metrics read from Prometheus; the affected values are left out",
			"problem", kind, "count", len(texts), "examples", shown)
	}
}

// uniqueAddresses drops repeated addresses, which would only double the load on one server.
func uniqueAddresses(addresses []string) []string {
	out := make([]string, 0, len(addresses))
	seen := map[string]bool{}
	for _, a := range addresses {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// query sends one instant query to one address, bounded by the request timeout (waiting for a free slot
// included), and records it in the provider metrics.
func (p *provider) query(ctx context.Context, logger logr.Logger, address string, creds credentials,
	kind QueryKind, query string) answer {
	shown := redactAddress(address)
	logger = logger.WithValues("address", shown, "query", kind)
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()

	fail := func(f *requestFailure) answer {
		p.in.requestErrors.WithLabelValues(shown, string(kind), string(f.reason)).Inc()
		// The raw error may quote the URL, password included. Verbose only: an outage fails every query of
		// every pass, and the cache logs the failure of a fetch once per change.
		logger.V(1).Info("Prometheus query failed", "reason", f.reason, "error", f.text,
			"detail", strings.ReplaceAll(f.detail, address, shown))
		return answer{address: shown, failure: f}
	}

	throttled := &requestFailure{reason: reasonThrottled, text: "no free request slot before the timeout",
		detail: "too many queries to Prometheus at once; raise the limit on concurrent requests"}
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	case <-ctx.Done():
		return fail(throttled)
	}
	if ctx.Err() != nil {
		// The slot came free just as the time ran out.
		return fail(throttled)
	}

	api, err := p.client(address, creds)
	if denied := (*AddressDeniedError)(nil); errors.As(err, &denied) {
		return fail(&requestFailure{reason: reasonDenied, text: denied.Error(), detail: err.Error()})
	}
	if err != nil {
		return fail(&requestFailure{reason: reasonClientError, text: "invalid address", detail: err.Error()})
	}

	status := &statusRecorder{}
	p.in.requests.WithLabelValues(shown, string(kind)).Inc()
	start := time.Now()
	value, warnings, err := api.Query(withStatusRecorder(ctx, status), query, time.Time{}, promv1.WithTimeout(p.timeout))
	p.in.requestDuration.WithLabelValues(shown, string(kind)).Observe(time.Since(start).Seconds())
	if typ, ok := undecodableResultType(err); ok && status.code()/100 == 2 {
		// A well-formed answer of a type the client does not decode is a wrong query, not a broken server.
		return answer{address: shown, otherType: typ}
	}
	if err != nil {
		return fail(classify(ctx, err, status.code()))
	}
	if len(warnings) > 0 {
		logger.V(1).Info("Prometheus answered with warnings", "warnings", []string(warnings))
	}
	return answer{address: shown, value: value}
}

// redactAddress hides a password written into an address (https://user:password@host), which would otherwise
// end up in metric labels, logs and the Consumer's status.
func redactAddress(address string) string {
	u, err := url.Parse(address)
	if err != nil {
		return address
	}
	if _, hasPassword := u.User.Password(); !hasPassword {
		return address
	}
	return u.Redacted()
}

// client returns the HTTP client for an address and credentials, building it on first use. Clients are kept
// and reused across fetches and Consumers so that connections (and TLS sessions) are too.
func (p *provider) client(address string, creds credentials) (promv1.API, error) {
	key := address + "\x00" + creds.fingerprint()
	now := p.clock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Sub(p.lastSweep) > time.Minute {
		p.lastSweep = now
		for k, c := range p.clients {
			if now.Sub(c.lastUsed) > clientIdleTTL {
				delete(p.clients, k)
			}
		}
		for k, t := range p.transports {
			if now.Sub(t.lastUsed) > clientIdleTTL {
				t.transport.CloseIdleConnections()
				delete(p.transports, k)
			}
		}
	}
	if c, ok := p.clients[key]; ok {
		c.lastUsed, c.transport.lastUsed = now, now
		return c.api, nil
	}
	u, err := url.Parse(address)
	if err != nil {
		return nil, err
	}
	hostAllowed, err := p.policy.checkHost(u)
	if err != nil {
		return nil, err
	}
	// The dial policy depends on the host, the TLS configuration on the credentials' CA, server name and
	// verification: the pool is shared by everything else.
	shared, ok := p.transports[u.Scheme+"://"+u.Host+"\x00"+creds.tlsFingerprint()]
	if !ok {
		shared = &sharedTransport{transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{
				Timeout:   p.timeout,
				KeepAlive: 30 * time.Second,
				// After name resolution, before the connect: a name cannot smuggle in a denied IP.
				Control: p.policy.dialControl(hostAllowed),
			}).DialContext,
			TLSClientConfig:     creds.tlsConfig(),
			TLSHandshakeTimeout: p.timeout,
			ForceAttemptHTTP2:   true,
			// As many idle connections as queries may be in flight: a burst of reads reuses them instead of
			// opening and closing connections.
			MaxIdleConnsPerHost:    cap(p.slots),
			IdleConnTimeout:        90 * time.Second,
			MaxResponseHeaderBytes: maxResponseHeaderBytes,
		}}
		p.transports[u.Scheme+"://"+u.Host+"\x00"+creds.tlsFingerprint()] = shared
	}
	shared.lastUsed = now
	transport := shared.transport
	client, err := promapi.NewClient(promapi.Config{
		Address: address,
		Client: &http.Client{
			Transport: limitRoundTripper{limit: p.maxBytes,
				next: statusRoundTripper{next: authRoundTripper{creds: creds, next: transport}}},
			CheckRedirect: checkRedirect,
		},
	})
	if err != nil {
		return nil, err
	}
	api := promv1.NewAPI(client)
	p.clients[key] = &cachedClient{api: api, transport: shared, lastUsed: now}
	return api, nil
}

func (p *provider) clientCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.clients)
}

func (p *provider) transportCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.transports)
}
