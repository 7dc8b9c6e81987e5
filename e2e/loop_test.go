package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/konsumerator/konsumerator/internal/demo"
)

// loopRecorder samples the exporter's figures and the Consumer's status every poll from the spike on, so that
// what happens between the test's own waits (a browser check takes seconds) is not missed.
type loopRecorder struct {
	d         *demo.Demo
	instance  string
	tolerable time.Duration
	cancel    context.CancelFunc
	done      chan struct{}

	mu  sync.Mutex
	rec loopRecord
}

// loopRecord is what the recorder saw.
type loopRecord struct {
	start time.Time
	// sawLagging is when the status first counted an instance as lagging, lagEnded when it next counted none.
	sawLagging, lagEnded time.Time
	// peak is the instance's worst lag, at peakAt; last its latest figures.
	peak   demo.InstanceLag
	peakAt time.Time
	last   demo.InstanceLag
	// under is when the instance's lag was first under tolerable after it had reached it; workedOff when its
	// backlog was first down to 2 seconds of production after that.
	under, workedOff time.Time
	// others is the worst lag of any other instance.
	others demo.InstanceLag
	// paused is how long the instance's pods read nothing (a restart and rejoin; an in-place resize has none).
	paused   time.Duration
	lastSeen time.Time
}

func startLoopRecorder(t *testing.T, d *demo.Demo, instance string, tolerable time.Duration) *loopRecorder {
	ctx, cancel := context.WithCancel(context.Background())
	r := &loopRecorder{d: d, instance: instance, tolerable: tolerable, cancel: cancel, done: make(chan struct{}), rec: loopRecord{start: time.Now()}}
	t.Cleanup(func() { r.stop() })
	go func() {
		defer close(r.done)
		tick := time.NewTicker(poll)
		defer tick.Stop()
		for {
			r.sample(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return r
}

func (r *loopRecorder) sample(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := r.d.Observe(ctx)
	if err != nil {
		return
	}
	lags := demo.Lags(st, r.d.Exporter.Figures())
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if l := st.Consumer.Status.Lagging; l != nil {
		switch {
		case *l > 0 && r.rec.sawLagging.IsZero():
			r.rec.sawLagging = now
		case *l == 0 && !r.rec.sawLagging.IsZero() && r.rec.lagEnded.IsZero():
			r.rec.lagEnded = now
		}
	}
	if in, ok := st.Instance(r.instance); ok {
		if in.Reads == 0 && !r.rec.lastSeen.IsZero() {
			r.rec.paused += now.Sub(r.rec.lastSeen)
		}
		r.rec.lastSeen = now
	}
	for _, l := range lags {
		switch {
		case l.Name == r.instance:
			r.rec.last = l
			if l.Lag > r.rec.peak.Lag {
				r.rec.peak, r.rec.peakAt = l, now
			}
			// Under tolerable again after the spike put it well behind (an in-place resize may act before the lag
			// reaches tolerable itself).
			if r.rec.peak.Lag >= r.tolerable/2 && l.Lag < r.tolerable && l.Lag < r.rec.peak.Lag && r.rec.under.IsZero() {
				r.rec.under = now
			}
			if !r.rec.under.IsZero() && l.Behind <= 2*l.Production && r.rec.workedOff.IsZero() {
				r.rec.workedOff = now
			}
		case l.Lag > r.rec.others.Lag:
			r.rec.others = l
		}
	}
}

// lagOf is one instance's figures from the exporter, now.
func lagOf(st demo.State, d *demo.Demo, name string) demo.InstanceLag {
	for _, l := range demo.Lags(st, d.Exporter.Figures()) {
		if l.Name == name {
			return l
		}
	}
	return demo.InstanceLag{Name: name}
}

// stop ends the sampling and returns what was seen; it is safe to call twice.
func (r *loopRecorder) stop() loopRecord {
	r.cancel()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rec
}

// String is the record so far, for failure messages.
func (r *loopRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.rec
	since := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.Sub(rec.start).Round(time.Second).String() + " into the spike"
	}
	return fmt.Sprintf("%s: worst lag %s (%.0f behind) %s; under tolerableLag %s again %s, backlog worked off %s; read nothing for %s (restarts); now lag %s, %.0f behind, produced %.0f/s, read %.0f/s; status LAGGING from %s to %s; worst lag of the others %s (%s)",
		r.instance, rec.peak.Lag.Round(time.Second), rec.peak.Behind, since(rec.peakAt), r.tolerable, since(rec.under),
		since(rec.workedOff), rec.paused.Round(time.Second), rec.last.Lag.Round(time.Second), rec.last.Behind, rec.last.Production,
		rec.last.Consumption, since(rec.sawLagging), since(rec.lagEnded), rec.others.Lag.Round(time.Second), rec.others.Name)
}
