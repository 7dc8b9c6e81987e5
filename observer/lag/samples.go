package lag

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// MaxBackoff bounds the wait between two reads of a source that keeps failing. The first retry comes one sync
// period after a failure, each further one waits twice as long, up to this (or the sync period, when longer):
// a source that is down is not asked by every Consumer every period, and one that is back is seen within
// minutes.
const MaxBackoff = 5 * time.Minute

// Samples is the cache of one kind of source: the latest sample of every Consumer that uses it. Any number of
// reconciles may ask; each Consumer's source is read at most once per sync period (less often while it keeps
// failing), and concurrent askers share that one read. It is safe for concurrent use.
type Samples[S any] struct {
	src    Source[S]
	clock  func() time.Time
	shared *Instruments
	flight singleflight.Group

	mu      sync.Mutex
	entries map[types.NamespacedName]*entry
}

type entry struct {
	uid types.UID
	// configHash covers everything in the spec that changes what is read or how; a new hash refetches at once.
	configHash string
	// queryHash covers what the values mean. Last good values read under another queryHash are not kept
	// through a failed fetch: they would answer a different question.
	queryHash string
	attempted time.Time
	// period is the sync period the last attempt was made under.
	period time.Duration
	// first says the last attempt was the first under its configHash (a new Consumer, or a changed spec).
	first bool
	// failures counts the failed reads in a row, for the back-off.
	failures int
	sample   *model.MetricsSample
}

// NewSamples builds the cache of one source. Every cache of an operator shares one Instruments.
func NewSamples[S any](src Source[S], shared *Instruments, clock func() time.Time) *Samples[S] {
	if clock == nil {
		clock = time.Now
	}
	c := &Samples[S]{src: src, clock: clock, shared: shared, entries: map[types.NamespacedName]*entry{}}
	shared.addAges(c.ages)
	return c
}

// Read implements Reader.
func (c *Samples[S]) Read(ctx context.Context, key Key, spec *konsumeratorv1.ConsumerSpec) (*model.MetricsSample, bool) {
	if spec == nil {
		return nil, false
	}
	s, ok := c.src.Of(spec.Autoscaler)
	if !ok {
		// The Consumer may have used this source before its mode changed: its entry here would go on reporting a
		// second, growing sample age beside the one of its new source.
		c.drop(key)
		return nil, false
	}
	return c.Sample(ctx, key, s, spec.NumPartitions), true
}

// Sample returns the Consumer's latest sample, fetching a new one first when the last attempt is older than the
// sync period (or its back-off) or the spec changed. It never returns nil. The returned sample is the caller's
// own copy.
//
// A fetch outlives a caller whose context ends (others may be waiting for it); that caller gets the sample
// that was current when it gave up.
func (c *Samples[S]) Sample(ctx context.Context, key Key, spec S, numPartitions int32) *model.MetricsSample {
	configHash, queryHash := c.hashes(spec, numPartitions)
	name := types.NamespacedName{Namespace: key.Namespace, Name: key.Name}
	period := c.src.SyncPeriod(spec)
	if s, fresh := c.current(name, key.UID, configHash, period); fresh {
		return s
	}

	flightKey := name.String() + "/" + string(key.UID) + "/" + configHash
	ch := c.flight.DoChan(flightKey, func() (any, error) {
		// Fetches are shared, so no single caller's cancellation may end one; the logger in ctx stays.
		return c.refresh(context.WithoutCancel(ctx), key, spec, numPartitions, configHash, queryHash, period), nil
	})
	select {
	case r := <-ch:
		return cloneSample(r.Val.(*model.MetricsSample))
	case <-ctx.Done():
		if s, _ := c.current(name, key.UID, configHash, period); s != nil {
			return s
		}
		return &model.MetricsSample{Error: "no metrics read yet: gave up waiting for " + c.src.Name()}
	}
}

func (c *Samples[S]) hashes(spec S, numPartitions int32) (configHash, queryHash string) {
	what, how := c.src.Fingerprint(spec, numPartitions)
	return what + "/" + how, what
}

// retryAfter is the wait after the last attempt: the sync period, doubled for every failure in a row after the
// first, up to MaxBackoff.
func retryAfter(period time.Duration, failures int) time.Duration {
	d := period
	for i := 1; i < failures && d < MaxBackoff; i++ {
		d *= 2
	}
	return max(period, min(d, MaxBackoff))
}

// current returns a copy of the cached sample and whether it may be served without a fetch.
func (c *Samples[S]) current(name types.NamespacedName, uid types.UID, configHash string,
	period time.Duration) (*model.MetricsSample, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[name]
	if e == nil || e.uid != uid || e.sample == nil {
		return nil, false
	}
	now := c.clock()
	// A clock that went backwards counts as fresh: better one late fetch than a storm.
	fresh := e.configHash == configHash && now.Sub(e.attempted) < retryAfter(period, e.failures)
	return cloneSample(e.sample), fresh
}

func (c *Samples[S]) refresh(ctx context.Context, key Key, spec S, numPartitions int32,
	configHash, queryHash string, period time.Duration) *model.MetricsSample {
	name := types.NamespacedName{Namespace: key.Namespace, Name: key.Name}

	// A caller that found the entry stale just before another fetch finished lands here; that fetch's sample
	// is new enough.
	if s, fresh := c.current(name, key.UID, configHash, period); fresh {
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

	res := c.src.Fetch(ctx, key, spec, numPartitions)
	if res.Problems == nil {
		res.Problems = NewProblems()
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	var sample *model.MetricsSample
	if res.Failed {
		sample = &model.MetricsSample{Error: res.Error}
		// The planner keeps current resources on Error; the old values stay for it to see how old they are.
		if prev := e.sample; prev != nil && e.queryHash == queryHash {
			sample.Time, sample.Partitions, sample.Problems = prev.Time, prev.Partitions, prev.Problems
		}
	} else {
		sample = &model.MetricsSample{Time: start, Partitions: res.Partitions, Problems: res.Problems.List()}
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
	case res.Failed && res.Error != prevErr:
		logger.Info("Reading metrics failed; the last values read are kept", "error", res.Error)
	case !res.Failed && prevErr != "":
		logger.Info("Reading metrics works again")
	}
	for _, kind := range res.Problems.byKindCounts() {
		c.shared.problems.WithLabelValues(key.Namespace, key.Name, string(kind)).Inc()
	}
	// The entry may have been forgotten, or replaced by a newer fetch, while this one ran: then the result
	// goes to the callers waiting for it but is not stored.
	if c.entries[name] == e && !start.Before(e.attempted) {
		failures := 0
		if res.Failed {
			failures = e.failures + 1
		}
		e.first = e.configHash != configHash
		e.sample, e.attempted, e.configHash, e.queryHash, e.failures = sample, start, configHash, queryHash, failures
		e.period = period
	}
	return sample
}

// NextRead is the earliest time the Consumer's source will be read again (the last attempt plus the sync period,
// or the back-off after failures), so that a reconcile can be scheduled for then and not a period after itself.
// first says the last attempt was the first for the Consumer's current spec (it was created or changed then, and
// maybe many others with it). ok is false when the Consumer has no entry.
func (c *Samples[S]) NextRead(key Key) (at time.Time, first, ok bool) {
	name := types.NamespacedName{Namespace: key.Namespace, Name: key.Name}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[name]
	if e == nil || e.uid != key.UID || e.attempted.IsZero() {
		return time.Time{}, false, false
	}
	return e.attempted.Add(retryAfter(e.period, e.failures)), e.first, true
}

// Forget drops a Consumer's entry, what its source keeps for it, and its metrics series; call it when the
// Consumer is gone. An empty UID in key forgets whatever Consumer of that name is cached (a deleted object's UID
// is often no longer known).
func (c *Samples[S]) Forget(key Key) {
	name := types.NamespacedName{Namespace: key.Namespace, Name: key.Name}
	c.mu.Lock()
	e := c.entries[name]
	gone := e != nil && (key.UID == "" || e.uid == key.UID)
	if gone {
		delete(c.entries, name)
	}
	c.mu.Unlock()
	if gone {
		c.src.Forget(key)
		c.shared.forgetConsumer(key.Namespace, key.Name)
	}
}

// drop forgets a Consumer's entry and what the source keeps for it, leaving the shared series to the cache of
// the source it uses now.
func (c *Samples[S]) drop(key Key) {
	name := types.NamespacedName{Namespace: key.Namespace, Name: key.Name}
	c.mu.Lock()
	_, had := c.entries[name]
	delete(c.entries, name)
	c.mu.Unlock()
	if had {
		c.src.Forget(key)
	}
}

// ages reports the age of every Consumer's values, for the sample age gauge.
func (c *Samples[S]) ages(report func(namespace, name string, age float64)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock()
	for name, e := range c.entries {
		if e.sample == nil || e.sample.Time.IsZero() {
			continue
		}
		report(name.Namespace, name.Name, now.Sub(e.sample.Time).Seconds())
	}
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
