package metrics

import (
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr/funcr"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/konsumerator/konsumerator/observer/metrics/promtest"
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
	}, funcr.Options{})
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
