package v1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Sizing returns the sizing settings of the block the mode selects, whatever the source; nil when that block is
// missing (an invalid spec) or there is no autoscaler. The planner, the controller and the simulator read the
// settings only through here, so a new source is one more case below and nothing else.
func (a *AutoscalerSpec) Sizing() *SizingSettings {
	if a == nil {
		return nil
	}
	switch a.Mode {
	case AutoscalerTypePrometheus:
		if a.Prometheus != nil {
			return &a.Prometheus.SizingSettings
		}
	case AutoscalerTypeKafka:
		if a.Kafka != nil {
			return &a.Kafka.SizingSettings
		}
	}
	return nil
}

// MinSyncPeriod returns the least time between two reads of the source the mode selects; nil when it is not set
// or the block is missing.
func (a *AutoscalerSpec) MinSyncPeriod() *metav1.Duration {
	if a == nil {
		return nil
	}
	switch a.Mode {
	case AutoscalerTypePrometheus:
		if a.Prometheus != nil {
			return a.Prometheus.MinSyncPeriod
		}
	case AutoscalerTypeKafka:
		if a.Kafka != nil {
			return a.Kafka.MinSyncPeriod
		}
	}
	return nil
}
