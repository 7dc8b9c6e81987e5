package v1_test

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// The mode picks the block the settings are read from, whatever other blocks the spec holds.
func TestSizingAndMinSyncPeriodFollowTheMode(t *testing.T) {
	one, two := int64(1), int64(2)
	a := &konsumeratorv1.AutoscalerSpec{
		Prometheus: &konsumeratorv1.PrometheusAutoscalerSpec{MinSyncPeriod: &metav1.Duration{Duration: time.Second},
			SizingSettings: konsumeratorv1.SizingSettings{RatePerCore: &one}},
		Kafka: &konsumeratorv1.KafkaAutoscalerSpec{MinSyncPeriod: &metav1.Duration{Duration: 2 * time.Second},
			SizingSettings: konsumeratorv1.SizingSettings{RatePerCore: &two}},
	}
	for mode, want := range map[konsumeratorv1.AutoscalerType]int64{"prometheus": 1, "kafka": 2} {
		a.Mode = mode
		if got := a.Sizing(); got == nil || *got.RatePerCore != want {
			t.Errorf("mode %s: sizing %+v, want ratePerCore %d", mode, got, want)
		}
		if got := a.MinSyncPeriod(); got == nil || got.Duration != time.Duration(want)*time.Second {
			t.Errorf("mode %s: minSyncPeriod %v, want %ds", mode, got, want)
		}
	}
	a.Mode, a.Kafka = "kafka", nil
	if a.Sizing() != nil || a.MinSyncPeriod() != nil {
		t.Error("kafka mode without a kafka block has settings")
	}
	var none *konsumeratorv1.AutoscalerSpec
	if none.Sizing() != nil || none.MinSyncPeriod() != nil {
		t.Error("no autoscaler has settings")
	}
}
