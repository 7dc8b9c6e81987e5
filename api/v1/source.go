package v1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// EachSource calls fn for every source block present in the spec, with the mode that selects it, its
// minSyncPeriod field and its sizing settings (both to read or to default in place). It is the one list of
// source blocks: a new source is one more case here, and the planner, the controller's requeue period and the
// simulator follow.
func (a *AutoscalerSpec) EachSource(fn func(mode AutoscalerType, minSyncPeriod **metav1.Duration, sizing *SizingSettings)) {
	if a == nil {
		return
	}
	if p := a.Prometheus; p != nil {
		fn(AutoscalerTypePrometheus, &p.MinSyncPeriod, &p.SizingSettings)
	}
	if k := a.Kafka; k != nil {
		fn(AutoscalerTypeKafka, &k.MinSyncPeriod, &k.SizingSettings)
	}
}

// Sizing returns the sizing settings of the block the mode selects, whatever the source; nil when that block is
// missing (an invalid spec) or there is no autoscaler.
func (a *AutoscalerSpec) Sizing() *SizingSettings {
	var out *SizingSettings
	a.EachSource(func(mode AutoscalerType, _ **metav1.Duration, sizing *SizingSettings) {
		if mode == a.Mode {
			out = sizing
		}
	})
	return out
}

// MinSyncPeriod returns the least time between two reads of the source the mode selects; nil when it is not set
// or the block is missing.
func (a *AutoscalerSpec) MinSyncPeriod() *metav1.Duration {
	var out *metav1.Duration
	a.EachSource(func(mode AutoscalerType, minSyncPeriod **metav1.Duration, _ *SizingSettings) {
		if mode == a.Mode {
			out = *minSyncPeriod
		}
	})
	return out
}
