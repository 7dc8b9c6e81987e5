package planner

import (
	"fmt"
	"math"
	"strconv"
	"time"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"

	"github.com/konsumerator/konsumerator/model"
)

// partitionLoad is what the planner knows of one partition.
type partitionLoad struct {
	has bool
	// required is the rate (messages/s) an instance must process for this partition.
	required float64
	// production and behind are the partition's production rate and backlog, as read.
	production, behind float64
	// consumption is the partition's consumption rate as read; hasConsumption says whether it was.
	consumption    float64
	hasConsumption bool
	// lag is how long the backlog takes to work off at the current throughput; +Inf when nothing moves.
	lag time.Duration
}

// metricsView is a sample judged for use: usable only when fresh.
type metricsView struct {
	usable  bool
	reason  string
	message string
	loads   []partitionLoad // indexed by partition, len numPartitions, when usable
	missing []int32         // partitions without data, when usable
}

// viewMetrics decides whether the sample may be used and, if so, turns it into per-partition loads. Missing data
// is never read as zero load: an unusable view makes the caller keep current resources.
func viewMetrics(st *settings, sample *model.MetricsSample, now time.Time) metricsView {
	var v metricsView
	switch {
	case sample == nil || sample.Time.IsZero():
		v.reason, v.message = konsumeratorv1.ReasonNoMetrics, "no metrics sample has been read yet"
		if sample != nil && sample.Error != "" {
			v.reason, v.message = konsumeratorv1.ReasonMetricsFetchFailed, "reading metrics failed: "+truncate(sample.Error, 256)
		}
		return v
	case now.Sub(sample.Time) > st.staleAfter:
		v.reason, v.message = konsumeratorv1.ReasonMetricsStale, fmt.Sprintf("the latest metrics sample is older than %s", st.staleAfter)
		if sample.Error != "" {
			v.reason, v.message = konsumeratorv1.ReasonMetricsFetchFailed, "reading metrics failed: "+truncate(sample.Error, 256)
		}
		return v
	}
	v.usable = true
	v.loads = make([]partitionLoad, st.numPartitions)
	for i := range sample.Partitions {
		pm := &sample.Partitions[i]
		if pm.Partition < 0 || pm.Partition >= st.numPartitions || v.loads[pm.Partition].has {
			continue
		}
		v.loads[pm.Partition] = loadOf(st, pm)
	}
	for p := range v.loads {
		if !v.loads[p].has {
			v.missing = append(v.missing, int32(p))
		}
	}
	v.reason, v.message = konsumeratorv1.ReasonMetricsFresh, "a fresh metrics sample covers every partition"
	if len(v.missing) > 0 {
		v.reason = konsumeratorv1.ReasonPartialMetrics
		v.message = fmt.Sprintf("no data for %d of %d partitions (%s); they are sized like the busiest partition of their instance",
			len(v.missing), st.numPartitions, listPartitions(v.missing, 10))
	}
	if sample.Error != "" {
		v.message += "; the latest read failed, using the previous one: " + truncate(sample.Error, 256)
	}
	if len(sample.Problems) > 0 {
		v.message += "; " + summarize("problems", sample.Problems, 5)
	}
	return v
}

// value returns a usable, non-negative figure, or ok=false for no data (nil, NaN, ±Inf).
func value(f *float64) (float64, bool) {
	if f == nil || !finite(*f) {
		return 0, false
	}
	return max(0, *f), true
}

// loadOf computes the required rate and the lag of one partition.
//
//	required = production + behind / recoveryTime
//	lag      = 0 when nothing is behind; +Inf when behind > 0 and consumption is known to be 0;
//	           otherwise behind / max(production, consumption)
//
// A partition needs its backlog and at least one rate to be judged. Without them it has no data (and counts
// like the busiest partition of its instance): a missing figure is never read as zero, which would turn a
// fresh Prometheus without rate samples into "nothing is consumed", an infinite lag and maximum resources.
func loadOf(st *settings, pm *model.PartitionMetrics) partitionLoad {
	prod, hasProd := value(pm.ProductionRate)
	cons, hasCons := value(pm.ConsumptionRate)
	behind, hasBehind := value(pm.MessagesBehind)
	if !hasBehind || (!hasProd && !hasCons) {
		return partitionLoad{}
	}
	if !hasProd {
		prod = cons // in a steady state what is consumed is what is produced
	}
	l := partitionLoad{has: true, required: prod, production: prod, behind: behind, consumption: cons, hasConsumption: hasCons}
	if st.recovery > 0 {
		l.required += behind / st.recovery.Seconds()
	} else if behind > 0 {
		l.required = math.Inf(1)
	}
	switch {
	case behind == 0:
		l.lag = 0
	case hasCons && cons <= 0:
		l.lag = infiniteLag
	case max(prod, cons) <= 0:
		// Production is known to be 0 and consumption is not known: how fast the backlog goes is unknown.
		return partitionLoad{}
	default:
		l.lag = secondsToDuration(behind / max(prod, cons))
	}
	return l
}

// infiniteLag stands for "never catches up".
const infiniteLag = time.Duration(math.MaxInt64)

func secondsToDuration(s float64) time.Duration {
	if !finite(s) || s*float64(time.Second) >= float64(math.MaxInt64) {
		return infiniteLag
	}
	return time.Duration(s * float64(time.Second))
}

// listPartitions prints up to limit partition numbers.
func listPartitions(ps []int32, limit int) string {
	b := make([]byte, 0, 64)
	for i, p := range ps {
		if i == limit {
			b = append(b, fmt.Sprintf(" and %d more", len(ps)-limit)...)
			break
		}
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, int64(p), 10)
	}
	return string(b)
}
