package model

import "testing"

func TestFollowsGap(t *testing.T) {
	v := 1.0
	full := &MetricsSample{Partitions: []PartitionMetrics{{Partition: 0, ProductionRate: &v, ConsumptionRate: &v, MessagesBehind: &v}}}
	backlogOnly := &MetricsSample{Partitions: []PartitionMetrics{{Partition: 0, MessagesBehind: &v}}}
	failed := &MetricsSample{Error: "down"}
	for _, tc := range []struct {
		name       string
		prev, next *MetricsSample
		want       bool
	}{
		{"first read", nil, full, false},
		{"steady", full, full, false},
		{"after a failed read", failed, full, true},
		{"after a read without rates", backlogOnly, full, true},
		{"after an empty read", &MetricsSample{}, full, true},
		{"a failed read itself", full, failed, false},
		{"rates go away", full, backlogOnly, false},
	} {
		if got := FollowsGap(tc.prev, tc.next); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
