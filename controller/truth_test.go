package controller

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/model"
)

// TestNewerSampleAloneWritesNothing is invariant 5 with a live metrics source: every pass gets a sample read
// later than the one before, with the same figures, and no pass sends a write.
func TestNewerSampleAloneWritesNothing(t *testing.T) {
	ns := namespace(t, "sampletime")
	c := create(t, sampleConsumer(ns).Obj())
	r := newTestReconciler(t, nil)
	read := func() { samples.set(ns, "c", builder.Sample(time.Now().UTC()).Uniform(10, 500, 500, 0).Obj()) }
	defer samples.set(ns, "c", nil)
	read()
	converge(t, r, keyOf(c), func(int) { read() })
	synced := consumer(t, keyOf(c)).Status.LastSyncTime
	require.NotNil(t, synced)
	for i := range 3 {
		time.Sleep(1100 * time.Millisecond) // lastSyncTime has a resolution of one second
		read()
		assert.Empty(t, pass(t, r, keyOf(c)), "pass %d: only the sample time moved", i)
	}
	assert.Equal(t, synced, consumer(t, keyOf(c)).Status.LastSyncTime)
}

// recordedEvents keeps every Event a reconciler emits, in order, as "Type/Reason: note".
type recordedEvents struct {
	mu  sync.Mutex
	all []string
}

func (r *recordedEvents) Eventf(_ runtime.Object, _ runtime.Object, eventtype, reason, _, note string, args ...interface{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, eventtype+"/"+reason+": "+fmt.Sprintf(note, args...))
}

func (r *recordedEvents) warnings(reason string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.all {
		if strings.HasPrefix(e, "Warning/"+reason+": ") {
			out = append(out, e)
		}
	}
	return out
}

// TestRepeatedFailuresAreEventedOncePerChange: a Prometheus outage and a policy naming a container the template
// does not have give one Warning each, not one per pass, and a new reconciler (an operator restart) repeats
// neither; a different failure gives a new one. The policy is accepted and reported by a condition.
func TestRepeatedFailuresAreEventedOncePerChange(t *testing.T) {
	ns := namespace(t, "warnings")
	c := create(t, sampleConsumer(ns).Policy("sidecr", builder.Resources("cpu=100m"), builder.Resources("cpu=1")).Obj())
	samples.set(ns, "c", &model.MetricsSample{Error: "query offset: connection refused"})
	defer samples.set(ns, "c", nil)
	events := &recordedEvents{}
	r := newTestReconciler(t, nil)
	r.Applier.Events = events
	converge(t, r, keyOf(c), nil)
	for range 3 {
		assert.Empty(t, pass(t, r, keyOf(c)))
	}
	assert.Len(t, deployments(t, ns), 4, "the manifest is accepted")
	assert.Equal(t, []string{"Warning/MetricsFetchFailed: reading metrics failed: query offset: connection refused; LAGGING is unknown until a sample is read"},
		events.warnings("MetricsFetchFailed"))
	assert.Len(t, events.warnings("PolicyUnknownContainer"), 1)
	warn := condition(consumer(t, keyOf(c)), konsumeratorv1.ConditionSpecWarnings)
	require.NotNil(t, warn)
	assert.Equal(t, konsumeratorv1.ReasonPolicyUnknownContainer, warn.Reason)
	assert.Contains(t, warn.Message, "sidecr")

	restarted := newTestReconciler(t, nil)
	restarted.Applier.Events = events
	assert.Empty(t, pass(t, restarted, keyOf(c)))
	assert.Len(t, events.warnings("MetricsFetchFailed"), 1, "a restart repeats nothing")

	samples.set(ns, "c", &model.MetricsSample{Error: "query offset: timeout"})
	pass(t, restarted, keyOf(c))
	pass(t, restarted, keyOf(c))
	assert.Len(t, events.warnings("MetricsFetchFailed"), 2, "a different failure is news")
}

// TestNamespaceMismatchIsEventedOnce: the Warning comes with the condition, once.
func TestNamespaceMismatchIsEventedOnce(t *testing.T) {
	ns := namespace(t, "mismatch-event")
	c := create(t, sampleConsumer(ns).SpecNamespace("elsewhere").Obj())
	events := &recordedEvents{}
	r := newTestReconciler(t, nil)
	r.Applier.Events = events
	for range 3 {
		pass(t, r, keyOf(c))
	}
	got := events.warnings("NamespaceMismatch")
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "elsewhere")
}

// TestResizeIsEventedWithItsNumbers: one Event for the decision, naming each instance's requests before and
// after and why.
func TestResizeIsEventedWithItsNumbers(t *testing.T) {
	ns := namespace(t, "resize-event")
	c := create(t, sampleConsumer(ns).Obj())
	events := &recordedEvents{}
	r := newTestReconciler(t, nil)
	r.Applier.Events = events
	converge(t, r, keyOf(c), nil)
	lagging(ns)
	defer samples.set(ns, "c", nil)
	converge(t, r, keyOf(c), nil)
	var resized []string
	for _, e := range events.all {
		if strings.HasPrefix(e, "Normal/InstancesResized: ") {
			resized = append(resized, e)
		}
	}
	require.Len(t, resized, 1, "%v", events.all)
	assert.Contains(t, resized[0], "resized 4 instance(s), their pods restart: c-0: cpu 100m → 2, memory 100M → 1G: scale up at once: lag is critical; lag 2h0m0s above criticalLag 1h0m0s")
}
