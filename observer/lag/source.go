package lag

import (
	"context"
	"time"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// Source reads the figures of one kind of metrics source (Prometheus, Kafka) for the shared cache. S is the
// source's block of the autoscaler spec. A Source only reads and reports; when to read, sharing one read
// between reconciles, keeping the last good values and backing off from a failing source are the cache's.
type Source[S any] interface {
	// Name names the source in texts meant for people ("Prometheus", "Kafka").
	Name() string
	// Of returns the source's block of a Consumer's autoscaler spec; false when the mode selects another source
	// or the block is missing.
	Of(a *konsumeratorv1.AutoscalerSpec) (S, bool)
	// Fingerprint identifies what a read reads (values read under another what answer another question and are
	// not kept through a failed read) and how it reaches it (addresses, credentials); a change of either reads
	// again at once.
	Fingerprint(spec S, numPartitions int32) (what, how string)
	// SyncPeriod is the least time between two reads for one Consumer.
	SyncPeriod(spec S) time.Duration
	// Fetch reads the Consumer's figures once. It must return within a bounded time.
	Fetch(ctx context.Context, key Key, spec S, numPartitions int32) Result
	// Forget drops whatever the source keeps for a Consumer that is gone.
	Forget(key Key)
}

// Result is what one read found. Failed means the values are not to be used: the cache keeps the last good ones
// and puts Error (a text that reads the same for the same failure every time) into the sample.
type Result struct {
	Partitions []model.PartitionMetrics
	Problems   *Problems
	Failed     bool
	Error      string
}

// Reader is a cache as the observer sees it: it answers for the Consumers whose mode selects its source.
type Reader interface {
	// Read returns the Consumer's sample and true, or false when the spec does not use this reader's source.
	Read(ctx context.Context, key Key, spec *konsumeratorv1.ConsumerSpec) (*model.MetricsSample, bool)
	Forget(key Key)
}

// Readers are the caches of all sources; the one whose source the spec selects answers.
type Readers []Reader

// Sample returns the Consumer's sample from the reader of its source; nil when no reader serves its mode. Every
// reader is asked, so that those the Consumer no longer uses drop what they hold for it.
func (rs Readers) Sample(ctx context.Context, key Key, spec *konsumeratorv1.ConsumerSpec) *model.MetricsSample {
	var out *model.MetricsSample
	for _, r := range rs {
		if r == nil {
			continue
		}
		if s, ok := r.Read(ctx, key, spec); ok && out == nil {
			out = s
		}
	}
	return out
}

// Forget drops the Consumer from every reader: its mode may have changed since it was last read.
func (rs Readers) Forget(key Key) {
	for _, r := range rs {
		if r != nil {
			r.Forget(key)
		}
	}
}

// NextReader is a Reader that can say when it will next read a Consumer's source (Samples does).
type NextReader interface {
	NextRead(key Key) (at time.Time, first, ok bool)
}

// NextRead asks the readers that can tell when the Consumer's source will next be read; ok is false when none
// knows.
func (rs Readers) NextRead(key Key) (at time.Time, first, ok bool) {
	for _, r := range rs {
		if nr, isNext := r.(NextReader); isNext {
			if at, first, ok := nr.NextRead(key); ok {
				return at, first, true
			}
		}
	}
	return time.Time{}, false, false
}
