package simulate

import (
	"time"

	"github.com/konsumerator/konsumerator/model"
)

// scrape is one scrape of the exporter: the production and consumption offsets of every partition that exists.
type scrape struct {
	at         time.Duration
	prod, cons []float64
	exists     []bool
}

// prometheus stands in for the Prometheus the operator queries with the sample Consumer's queries: offsets are
// scraped every interval; rates are rate() over a window with Prometheus's extrapolation, so that a window only
// partly filled (after a scrape gap) reads low, as it does in production; the backlog is an instant query, which
// has no value while the scrape fails (Prometheus marks the series stale).
type prometheus struct {
	interval, window time.Duration
	scrapes          []scrape // oldest first, trimmed to the window
	lastFailed       bool     // the latest scrape failed
}

func (pr *prometheus) record(s scrape) {
	pr.lastFailed = false
	pr.scrapes = append(pr.scrapes, s)
	// Keep what the window needs and one more; drop the rest without reallocating for ever.
	cut := 0
	for cut < len(pr.scrapes) && pr.scrapes[cut].at <= s.at-pr.window-pr.interval {
		cut++
	}
	if cut > 0 {
		pr.scrapes = append(pr.scrapes[:0], pr.scrapes[cut:]...)
	}
}

func (pr *prometheus) fail() { pr.lastFailed = true }

// query reads the three figures of every partition in [0, n) at time t, as the observer's sample.
func (pr *prometheus) query(now time.Time, t time.Duration, n int32) *model.MetricsSample {
	sample := &model.MetricsSample{Time: now}
	for p := int32(0); p < n; p++ {
		pm := model.PartitionMetrics{Partition: p}
		if v, ok := pr.rate(t, p, func(s *scrape) float64 { return s.prod[p] }); ok {
			pm.ProductionRate = &v
		}
		if v, ok := pr.rate(t, p, func(s *scrape) float64 { return s.cons[p] }); ok {
			pm.ConsumptionRate = &v
		}
		if !pr.lastFailed && len(pr.scrapes) > 0 {
			last := &pr.scrapes[len(pr.scrapes)-1]
			if int(p) < len(last.exists) && last.exists[p] && t-last.at < 5*time.Minute {
				v := max(0, last.prod[p]-last.cons[p])
				pm.MessagesBehind = &v
			}
		}
		if pm.ProductionRate != nil || pm.ConsumptionRate != nil || pm.MessagesBehind != nil {
			sample.Partitions = append(sample.Partitions, pm)
		}
	}
	return sample
}

// rate is Prometheus's rate() over (t-window, t] for a counter without resets: the increase between the first
// and the last point, extrapolated to the window's edges when they are within 1.1 average intervals of a point,
// else by half an interval only.
func (pr *prometheus) rate(t time.Duration, p int32, value func(*scrape) float64) (float64, bool) {
	var first, last *scrape
	n := 0
	for i := range pr.scrapes {
		s := &pr.scrapes[i]
		if s.at <= t-pr.window || s.at > t || int(p) >= len(s.exists) || !s.exists[p] {
			continue
		}
		if first == nil {
			first = s
		}
		last = s
		n++
	}
	if n < 2 {
		return 0, false
	}
	sampled := (last.at - first.at).Seconds()
	avg := sampled / float64(n-1)
	toStart := (first.at - (t - pr.window)).Seconds()
	toEnd := (t - last.at).Seconds()
	if toStart >= 1.1*avg {
		toStart = avg / 2
	}
	if toEnd >= 1.1*avg {
		toEnd = avg / 2
	}
	increase := value(last) - value(first)
	return increase * (sampled + toStart + toEnd) / sampled / pr.window.Seconds(), true
}
