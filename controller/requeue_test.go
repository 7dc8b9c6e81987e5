package controller

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/konsumerator/konsumerator/model"
)

// fixedReads answers NextRead with one time for every owner.
type fixedReads struct {
	next  time.Time
	first bool
}

func (f fixedReads) NextRead(model.Owner) (time.Time, bool, bool) {
	return f.next, f.first, !f.next.IsZero()
}

func requeueSnapshot(uid string) *model.Snapshot {
	return &model.Snapshot{Owner: model.Owner{Namespace: "ns", Name: "c", UID: types.UID(uid)},
		Metrics: &model.MetricsSample{}}
}

func clockAt(t time.Time) func() time.Time { return func() time.Time { return t } }

// A reconcile for another reason (a pod changed) must not push the next read back: the next periodic reconcile
// comes when the read is due, whenever the reconcile before it ran.
func TestRequeueIsCountedFromTheLastRead(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	next := t0.Add(time.Minute) // read at t0, period 1m
	for _, now := range []time.Time{t0.Add(time.Second), t0.Add(40 * time.Second), t0.Add(59 * time.Second)} {
		r := &Reconciler{SyncPeriod: time.Minute, Reads: fixedReads{next: next}, Clock: clockAt(now)}
		if at := now.Add(r.requeueAfter(requeueSnapshot("uid-a"), &model.Plan{})); !at.Equal(next) {
			t.Errorf("reconcile at %s schedules the next at %s, want %s when the read is due", now, at, next)
		}
	}
}

// After a first read (the Consumer was created or changed, maybe with many others) the next comes on the
// Consumer's slot, at least a period later and less than two.
func TestRequeueAfterAFirstReadGoesToTheSlot(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	next := t0.Add(time.Minute)
	r := &Reconciler{SyncPeriod: time.Minute, Reads: fixedReads{next: next, first: true}, Clock: clockAt(t0)}
	wait := r.requeueAfter(requeueSnapshot("uid-a"), &model.Plan{})
	if wait != time.Minute+slotDelay("uid-a", next, time.Minute) || wait < time.Minute || wait >= 2*time.Minute {
		t.Errorf("wait %s, want the slot within [1m, 2m)", wait)
	}
}

// Without a cached read (no metrics source) the period counts from now, on the Consumer's slot.
func TestRequeueWithoutReadsIsAPeriodFromNow(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := &Reconciler{SyncPeriod: time.Minute, Clock: clockAt(now)}
	wait := r.requeueAfter(&model.Snapshot{Owner: model.Owner{UID: "uid-b"}}, &model.Plan{})
	if wait < time.Minute || wait >= 2*time.Minute {
		t.Errorf("wait %s, want within [1m, 2m)", wait)
	}
}

// A pending decision that ripens before the next read wins.
func TestRequeueRipeDecisionFirst(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := &Reconciler{SyncPeriod: time.Minute, Reads: fixedReads{next: now.Add(time.Minute)}, Clock: clockAt(now)}
	if wait := r.requeueAfter(requeueSnapshot("uid-c"), &model.Plan{RequeueAfter: model.Duration(5 * time.Second)}); wait != 5*time.Second {
		t.Errorf("wait %s, want 5s", wait)
	}
}

// 1,000 Consumers created in the same instant read once at creation; their next reads are spread evenly over
// the period.
func TestSlotsSpreadBunchedConsumersEvenly(t *testing.T) {
	const n, period = 1000, time.Minute
	earliest := time.Date(2026, 12, 1, 10, 1, 0, 0, time.UTC)
	var tenths [10]int
	for i := range n {
		uid := types.UID(fmt.Sprintf("3f1c9a2e-0000-4000-8000-%012d", i))
		d := slotDelay(uid, earliest, period)
		if d < 0 || d >= period {
			t.Fatalf("%s: slot %s after the earliest time, outside [0, %s)", uid, d, period)
		}
		tenths[int(d/(period/10))]++
		if again := slotDelay(uid, earliest.Add(d+period), period); again != 0 {
			t.Errorf("%s: a period after its slot is %s before it", uid, again)
		}
	}
	// Evenly would be n/10 = 100 per tenth of the period.
	for i, count := range tenths {
		if count < 60 || count > 140 {
			t.Errorf("tenth %d of the period has %d of %d Consumers: %v", i, count, n, tenths)
		}
	}
}
