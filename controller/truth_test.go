package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/konsumerator/konsumerator/internal/builder"
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
