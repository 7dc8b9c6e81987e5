package controller

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

func i32p(v int32) *int32 { return &v }

func TestConsumerInstancesSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, -1)

	m.setStatus("team-a", "orders", konsumeratorv1.ConsumerStatus{Expected: i32p(4), Running: i32p(3), Missing: i32p(1), Failing: i32p(2)})
	m.setStatus("team-b", "orders", konsumeratorv1.ConsumerStatus{Expected: i32p(2), Running: i32p(2)})
	// A later pass replaces the counts; an unset count reads 0.
	m.setStatus("team-b", "orders", konsumeratorv1.ConsumerStatus{Expected: i32p(2), Running: i32p(1), Lagging: i32p(1)})

	want := `
# HELP konsumerator_consumer_instances Instances of a Consumer by state (expected, running, paused, missing, lagging, outdated, failing), as in its status.
# TYPE konsumerator_consumer_instances gauge
konsumerator_consumer_instances{consumer="orders",namespace="team-a",state="expected"} 4
konsumerator_consumer_instances{consumer="orders",namespace="team-a",state="failing"} 2
konsumerator_consumer_instances{consumer="orders",namespace="team-a",state="lagging"} 0
konsumerator_consumer_instances{consumer="orders",namespace="team-a",state="missing"} 1
konsumerator_consumer_instances{consumer="orders",namespace="team-a",state="outdated"} 0
konsumerator_consumer_instances{consumer="orders",namespace="team-a",state="paused"} 0
konsumerator_consumer_instances{consumer="orders",namespace="team-a",state="running"} 3
konsumerator_consumer_instances{consumer="orders",namespace="team-b",state="expected"} 2
konsumerator_consumer_instances{consumer="orders",namespace="team-b",state="failing"} 0
konsumerator_consumer_instances{consumer="orders",namespace="team-b",state="lagging"} 1
konsumerator_consumer_instances{consumer="orders",namespace="team-b",state="missing"} 0
konsumerator_consumer_instances{consumer="orders",namespace="team-b",state="outdated"} 0
konsumerator_consumer_instances{consumer="orders",namespace="team-b",state="paused"} 0
konsumerator_consumer_instances{consumer="orders",namespace="team-b",state="running"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "konsumerator_consumer_instances"))
	v, ok := m.Instances.value("team-b", "orders", "lagging")
	assert.True(t, ok)
	assert.Equal(t, 1.0, v)

	// A deleted Consumer's series go; the other Consumer's stay.
	m.forget("team-a", "orders")
	n, err := testutil.GatherAndCount(reg, "konsumerator_consumer_instances")
	require.NoError(t, err)
	assert.Equal(t, len(consumerStates), n)
	_, ok = m.Instances.value("team-a", "orders", "expected")
	assert.False(t, ok)
}

// value is the series of a Consumer and state, and whether it exists.
func (c *ConsumerInstances) value(namespace, name, state string) (float64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	counts, ok := c.counts[ownerKey{namespace, name}]
	if !ok {
		return 0, false
	}
	for i, s := range consumerStates {
		if s == state {
			return float64(counts[i]), true
		}
	}
	return 0, false
}
