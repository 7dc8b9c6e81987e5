package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"k8s.io/apimachinery/pkg/types"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/observer/lag"
)

// offsets is one read: the topic's end offsets and the group's lag per partition, as kadm computed it.
type offsets struct {
	topic string
	ends  map[int32]kadm.ListedOffset
	lags  kadm.GroupLag
}

// readOffsets lists the topic's end offsets and the group's committed offsets, and lets kadm compute the lag.
// A missing topic, or one the operator may not describe, fails the read; a group that never committed (or does
// not exist) does not: its partitions simply have no committed offset.
func readOffsets(ctx context.Context, adm *kadm.Client, topic, group string) (*offsets, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	var shardErrs *kadm.ShardErrors
	if err != nil && (!errors.As(err, &shardErrs) || shardErrs.AllFailed) {
		return nil, err
	}
	// Partitions whose leader did not answer are missing below and reported one by one.
	byPartition := ends[topic]
	if topicErr, ok := byPartition[-1]; ok && topicErr.Err != nil {
		return nil, topicErr.Err
	}
	commits, err := adm.FetchOffsetsForTopics(ctx, group, topic)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return nil, &groupError{err: err}
	}
	return &offsets{
		topic: topic,
		ends:  byPartition,
		lags:  kadm.CalculateGroupLag(kadm.DescribedGroup{}, commits, ends),
	}, nil
}

// groupError marks a failure to read the group's offsets, so that the text names the group.
type groupError struct{ err error }

func (e *groupError) Error() string { return e.err.Error() }
func (e *groupError) Unwrap() error { return e.err }

// point is one past read of one Consumer, per partition in [0, numPartitions); -1 where there was no value.
type point struct {
	at        time.Time
	end       []int64
	committed []int64
}

// history is the past reads of one Consumer, oldest first, at most maxReads, all under the same what.
type history struct {
	uid    types.UID
	what   string
	points []point
}

// sample turns one read into the Consumer's partitions: backlog from this read, rates from the change since the
// oldest read in the window. It records the read for the next one.
func (s *source) sample(name types.NamespacedName, uid types.UID, spec *konsumeratorv1.KafkaAutoscalerSpec,
	numPartitions int32, now time.Time, r *offsets, problems *lag.Problems) []model.PartitionMetrics {
	n := max(numPartitions, 0)
	cur := point{at: now, end: filled(n), committed: filled(n)}

	topicPartitions := int32(0)
	for p := range r.ends {
		if p >= 0 {
			topicPartitions++
		}
	}
	switch {
	case topicPartitions > n:
		problems.Add(lag.ProblemPartitionCountMismatch,
			"topic %s has %d partitions, numPartitions is %d: partitions %d to %d are not read",
			r.topic, topicPartitions, n, n, topicPartitions-1)
	case topicPartitions < n:
		problems.Add(lag.ProblemPartitionCountMismatch,
			"topic %s has %d partitions, numPartitions is %d: partitions %d to %d have no data",
			r.topic, topicPartitions, n, topicPartitions, n-1)
	}

	partitionErrors := map[string][]int32{}
	var uncommitted []int32
	behind := make([]float64, n)
	for p := range n {
		end, ok := r.ends[p]
		if !ok {
			if p < topicPartitions {
				partitionErrors["no answer from its leader"] = append(partitionErrors["no answer from its leader"], p)
			}
			continue
		}
		if end.Err != nil {
			partitionErrors[errorName(end.Err)] = append(partitionErrors[errorName(end.Err)], p)
			continue
		}
		cur.end[p] = max(end.Offset, 0)
		l, ok := r.lags.Lookup(r.topic, p)
		switch {
		case !ok || l.Commit.At < 0:
			uncommitted = append(uncommitted, p)
		case l.Err != nil:
			partitionErrors[errorName(l.Err)] = append(partitionErrors[errorName(l.Err)], p)
		default:
			cur.committed[p] = l.Commit.At
			behind[p] = float64(l.Lag) // kadm clamps a commit past the end to 0
		}
	}
	for text, ps := range partitionErrors {
		problems.Add(lag.ProblemPartitionError, "partitions %s: %s", list(ps, 10), text)
	}
	if len(uncommitted) > 0 {
		if int32(len(uncommitted)) == min(n, topicPartitions) {
			problems.Add(lag.ProblemNoCommittedOffset,
				"group %s has committed no offset for topic %s (a new group, a deleted one, or the wrong name): backlogs unknown",
				spec.ConsumerGroup, r.topic)
		} else {
			problems.Add(lag.ProblemNoCommittedOffset,
				"group %s has committed no offset for partitions %s: their backlog is unknown",
				spec.ConsumerGroup, list(uncommitted, 10))
		}
	}

	what, _ := s.Fingerprint(spec, numPartitions)
	base := s.record(name, uid, what, s.SyncPeriod(spec), cur)

	var moved []int32
	out := make([]model.PartitionMetrics, 0, n)
	for p := range n {
		if cur.end[p] < 0 {
			continue
		}
		pm := model.PartitionMetrics{Partition: p}
		if cur.committed[p] >= 0 {
			pm.MessagesBehind = ptr(behind[p])
		}
		if base != nil {
			dt := cur.at.Sub(base.at).Seconds()
			if prev := base.end[p]; prev >= 0 {
				if cur.end[p] >= prev {
					pm.ProductionRate = ptr(float64(cur.end[p]-prev) / dt)
				} else {
					moved = append(moved, p)
				}
			}
			if prev, c := base.committed[p], cur.committed[p]; prev >= 0 && c >= 0 {
				if c >= prev {
					pm.ConsumptionRate = ptr(float64(c-prev) / dt)
				} else {
					moved = append(moved, p)
				}
			}
		}
		out = append(out, pm)
	}
	if len(moved) > 0 {
		problems.Add(lag.ProblemOffsetMovedBack,
			"partitions %s: an offset went backwards since the last read (a topic made anew, an offset reset): no rate until the next read",
			list(uniq(moved), 10))
	}
	return out
}

// record keeps cur as the newest read and returns the oldest read within the rate window before it, or nil.
func (s *source) record(name types.NamespacedName, uid types.UID, what string, period time.Duration, cur point) *point {
	window := windowPeriods * period
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.history[name]
	if h == nil || h.uid != uid || h.what != what || (len(h.points) > 0 && len(h.points[0].end) != len(cur.end)) {
		h = &history{uid: uid, what: what}
		s.history[name] = h
	}
	// Reads older than the window, or not older than cur (a clock that went back), give no rate.
	kept := h.points[:0]
	for _, pt := range h.points {
		if age := cur.at.Sub(pt.at); age > 0 && age <= window {
			kept = append(kept, pt)
		}
	}
	var base *point
	if len(kept) > 0 {
		b := kept[0]
		base = &b
	}
	kept = append(kept, cur)
	if len(kept) > maxReads {
		kept = kept[len(kept)-maxReads:]
	}
	h.points = kept
	return base
}

func filled(n int32) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = -1
	}
	return out
}

func ptr(v float64) *float64 { return &v }

// errorName is the stable name of a broker's error (UNKNOWN_TOPIC_OR_PARTITION), or a short cleaned text.
func errorName(err error) string {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Message
	}
	return lag.Excerpt(err.Error(), 80)
}

// list prints up to limit partition numbers.
func list(ps []int32, limit int) string {
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	var b strings.Builder
	for i, p := range ps {
		if i == limit {
			fmt.Fprintf(&b, " and %d more", len(ps)-limit)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(int(p)))
	}
	return b.String()
}

func uniq(ps []int32) []int32 {
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	out := ps[:0]
	for _, p := range ps {
		if len(out) == 0 || p != out[len(out)-1] {
			out = append(out, p)
		}
	}
	return out
}
