package planner

import (
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// Defaults of the Consumer API. The API server applies them to a Consumer, but a guest-mode ConfigMap spec and
// an offline `konsumerator plan` never pass through it, so the planner applies them itself, in one place.
const (
	DefaultPendingScaleUp   = 5 * time.Minute
	DefaultPendingScaleDown = 15 * time.Minute
	DefaultMinSyncPeriod    = time.Minute
	// DefaultStaleFactor times minSyncPeriod is the age from which a metrics sample is not used.
	DefaultStaleFactor = 3
	// DefaultCPUIncrement is the step CPU requests are rounded up to.
	DefaultCPUIncrement = "100m"
)

// WithDefaults returns a copy of spec with the API defaults filled in where a field is unset. The input is not
// changed.
func WithDefaults(spec konsumeratorv1.ConsumerSpec) konsumeratorv1.ConsumerSpec {
	out := *spec.DeepCopy()
	if out.PartitionEnvKey == "" {
		out.PartitionEnvKey = konsumeratorv1.DefaultPartitionEnvKey
	}
	if out.NumPartitionsPerInstance == nil {
		one := int32(1)
		out.NumPartitionsPerInstance = &one
	}
	a := out.Autoscaler
	if a == nil {
		return out
	}
	if a.PendingScaleUpDuration == nil {
		a.PendingScaleUpDuration = &metav1.Duration{Duration: DefaultPendingScaleUp}
	}
	if a.PendingScaleDownDuration == nil {
		a.PendingScaleDownDuration = &metav1.Duration{Duration: DefaultPendingScaleDown}
	}
	if a.UpdateMode == "" {
		a.UpdateMode = konsumeratorv1.UpdateInPlace
	}
	// Every source block present, not only the selected one: the API server defaults them all.
	a.EachSource(func(_ konsumeratorv1.AutoscalerType, minSyncPeriod **metav1.Duration, sizing *konsumeratorv1.SizingSettings) {
		if *minSyncPeriod == nil {
			*minSyncPeriod = &metav1.Duration{Duration: DefaultMinSyncPeriod}
		}
		sizingDefaults(sizing)
	})
	return out
}

// sizingDefaults fills the defaults of the sizing settings every source's block shares.
func sizingDefaults(p *konsumeratorv1.SizingSettings) {
	if p.CpuIncrement == nil {
		q := resource.MustParse(DefaultCPUIncrement)
		p.CpuIncrement = &q
	}
	if p.FallbackStrategy == nil {
		min := konsumeratorv1.FallbackStrategyMin
		p.FallbackStrategy = &min
	}
}
