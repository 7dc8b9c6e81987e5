package lag

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/konsumerator/konsumerator/observer/lag/promtest"
)

func TestEveryProblemAndFailureIsLogged(t *testing.T) {
	down, err := promtest.FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	replies := goodReplies()
	replies[fakeOffsetQuery] = reply{body: vectorJSON(part("0", "NaN"), part("1", "5"))}
	fake := newFakeProm(t, replies)
	var mu sync.Mutex
	var lines []string
	logger := funcr.NewJSON(func(obj string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, obj)
	}, funcr.Options{Verbosity: 1}) // one failed query among good ones is logged verbosely
	tc := newTestCache(t, nil)

	tc.Sample(log.IntoContext(t.Context(), logger), testKey, fakeSpec(fake.URL, "http://"+down), 3)

	wants := [][]string{
		{`"msg":"Problem in the metrics read from Prometheus; the affected values are left out"`,
			`"problem":"invalid_value"`, `"count":1`, `"examples":["offset query: partition 0 has value NaN"]`,
			`"namespace":"team-a"`, `"consumer":"orders"`},
		{`"msg":"Prometheus query failed"`, `"reason":"unreachable"`, `"address":"http://` + down + `"`,
			`"query":"offset"`, `"detail":"`},
		{`"problem":"replica_failed"`, `"count":3`},
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range wants {
		found := false
		for _, line := range lines {
			all := true
			for _, w := range want {
				all = all && strings.Contains(line, w)
			}
			found = found || all
		}
		if !found {
			t.Errorf("no log line with all of %q; lines:\n%s", want, strings.Join(lines, "\n"))
		}
	}
}

// TestAnOutageIsLoggedOncePerChange: every fetch of an outage fails the same way; one line says so, at the
// default verbosity, and one says when reading works again.
func TestAnOutageIsLoggedOncePerChange(t *testing.T) {
	down, err := promtest.FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []string
	logger := funcr.NewJSON(func(obj string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, obj)
	}, funcr.Options{})
	ctx := log.IntoContext(t.Context(), logger)
	tc := newTestCache(t, nil)
	for range 4 {
		tc.Sample(ctx, testKey, fakeSpec("http://"+down), 3)
		tc.clock.Advance(2 * time.Minute)
	}
	fake := newFakeProm(t, goodReplies())
	tc.Sample(ctx, testKey, fakeSpec(fake.URL), 3)
	mu.Lock()
	defer mu.Unlock()
	var failed, again int
	for _, l := range lines {
		failed += strings.Count(l, `"msg":"Reading metrics failed`)
		again += strings.Count(l, `"msg":"Reading metrics works again"`)
	}
	if failed != 1 || again != 1 {
		t.Errorf("%d failure line(s) and %d recovery line(s), want 1 and 1; lines:\n%s", failed, again, strings.Join(lines, "\n"))
	}
}
