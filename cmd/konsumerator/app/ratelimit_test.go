package app

import (
	"flag"
	"testing"
	"time"
)

// With the default flags, the client-side rate limit lets a plan of 1,000 instance writes (and the status write
// after it) go out without waiting for tokens.
func TestDefaultRateLimitDoesNotPaceAThousandInstancePlan(t *testing.T) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var f runFlags
	f.bind(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	const writes = 1000 + 1
	// A token bucket starts full with burst tokens and refills at qps per second.
	wait := time.Duration(max(0, float64(writes-f.burst)/f.qps) * float64(time.Second))
	if wait > 0 {
		t.Errorf("--kube-api-qps=%g --kube-api-burst=%d hold a 1,000-instance plan back for %s", f.qps, f.burst, wait)
	}
	// Sustained, the limit must stay above what the default apply workers reach (about 550 applies/s locally).
	if f.qps < 550 {
		t.Errorf("--kube-api-qps=%g is below the rate of %d apply workers", f.qps, f.applyWorkers)
	}
}
