package controller

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/konsumerator/konsumerator/model"
)

// fixedReads answers NextRead with one time for every owner.
type fixedReads struct{ next time.Time }

func (f fixedReads) NextRead(model.Owner) (time.Time, bool) { return f.next, !f.next.IsZero() }

func requeueSnapshot(uid string, now time.Time) *model.Snapshot {
	return &model.Snapshot{Now: now, Owner: model.Owner{Namespace: "ns", Name: "c", UID: types.UID(uid)},
		Metrics: &model.MetricsSample{Time: now}}
}

// A reconcile for another reason (a pod changed) must not push the next read back: the next periodic reconcile
// is counted from the last read, so two reconciles at different times schedule the same moment.
func TestRequeueIsCountedFromTheLastRead(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	next := t0.Add(time.Minute) // read at t0, period 1m
	r := &Reconciler{SyncPeriod: time.Minute, Reads: fixedReads{next}}
	var at []time.Time
	for _, now := range []time.Time{t0.Add(time.Second), t0.Add(40 * time.Second), t0.Add(59 * time.Second)} {
		wait := r.requeueAfter(requeueSnapshot("uid-a", now), &model.Plan{})
		at = append(at, now.Add(wait))
	}
	for i, a := range at {
		if a.Before(next) {
			t.Errorf("reconcile %d scheduled at %s, before the read is due at %s", i, a, next)
		}
		if !a.Equal(at[0]) {
			t.Errorf("reconcile %d scheduled at %s, the first at %s: a reconcile moved the read", i, a, at[0])
		}
		if a.Sub(next) >= time.Minute {
			t.Errorf("reconcile %d scheduled %s after the read is due: more than a period", i, a.Sub(next))
		}
	}
}

// Without a cached read (no metrics source) the period counts from now, moved to the Consumer's slot.
func TestRequeueWithoutReadsIsAPeriodFromNow(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := &Reconciler{SyncPeriod: time.Minute}
	wait := r.requeueAfter(&model.Snapshot{Now: now, Owner: model.Owner{UID: "uid-b"}}, &model.Plan{})
	if wait < time.Minute || wait >= 2*time.Minute {
		t.Errorf("wait %s, want within [1m, 2m)", wait)
	}
}

// A pending decision that ripens before the next read wins.
func TestRequeueRipeDecisionFirst(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := &Reconciler{SyncPeriod: time.Minute, Reads: fixedReads{now.Add(time.Minute)}}
	if wait := r.requeueAfter(requeueSnapshot("uid-c", now), &model.Plan{RequeueAfter: model.Duration(5 * time.Second)}); wait != 5*time.Second {
		t.Errorf("wait %s, want 5s", wait)
	}
}

// 1,000 Consumers created in the same instant read once at creation; their next reads are spread evenly over
// the period, and from then on each comes exactly one period after the one before.
func TestSpreadEvensOutBunchedConsumers(t *testing.T) {
	const n, period = 1000, time.Minute
	created := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var buckets [10]int
	for i := range n {
		uid := types.UID(fmt.Sprintf("3f1c9a2e-0000-4000-8000-%012d", i))
		earliest := created.Add(period)
		d := spread(uid, earliest, period)
		if d < 0 || d >= period {
			t.Fatalf("%s: spread %s outside [0, %s)", uid, d, period)
		}
		first := earliest.Add(d)
		buckets[int(first.Sub(earliest)/(period/10))]++
		// The next read is due a period after this one: it is on the Consumer's slot, so no further wait.
		if again := spread(uid, first.Add(period), period); again != 0 {
			t.Errorf("%s: a read on its slot waits %s more the next period", uid, again)
		}
	}
	// Evenly would be n/10 = 100 per tenth of the period. The Consumers whose slot lies in the last tenth before
	// the earliest time run at once, so the first tenth holds about twice that and the last none.
	for b, count := range buckets[1:9] {
		if count < 50 || count > 160 {
			t.Errorf("tenth %d of the period has %d of %d Consumers: %v", b+1, count, n, buckets)
		}
	}
	if first := buckets[0] + buckets[9]; first < 120 || first > 280 {
		t.Errorf("first and last tenth hold %d of %d Consumers: %v", first, n, buckets)
	}
}
