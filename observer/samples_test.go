package observer_test

import (
	"context"
	"testing"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/observer"
	"github.com/konsumerator/konsumerator/observer/lag"
	"github.com/konsumerator/konsumerator/planner"
)

type countingReader struct{ reads int }

func (r *countingReader) Read(context.Context, lag.Key, *konsumeratorv1.ConsumerSpec) (*model.MetricsSample, bool) {
	r.reads++
	return &model.MetricsSample{}, true
}
func (r *countingReader) Forget(lag.Key) {}

// A spec the planner cannot use gets a plan that changes nothing; reading its metrics source would cost the
// source and the operator for a sample nobody uses.
func TestAnUnusableSpecReadsNothing(t *testing.T) {
	for name, c := range map[string]*konsumeratorv1.Consumer{
		"namespace mismatch": builder.Consumer("c").Namespace("a").SpecNamespace("b").Prometheus(10, "1Gi").Obj(),
		"no block for mode":  builder.Consumer("c").Namespace("a").Prometheus(10, "1Gi").Obj(),
	} {
		t.Run(name, func(t *testing.T) {
			if name == "no block for mode" {
				c.Spec.Autoscaler.Prometheus = nil
			}
			r := &countingReader{}
			s := observer.Samples{Sources: lag.Readers{r}, Usable: planner.Usable}
			owned := observer.FromConsumer(c)
			if got := s.Sample(t.Context(), owned.Owner, &owned.Spec); got != nil || r.reads != 0 {
				t.Errorf("sample %+v after %d reads, want nil and no read", got, r.reads)
			}
		})
	}
	r := &countingReader{}
	s := observer.Samples{Sources: lag.Readers{r}, Usable: planner.Usable}
	owned := observer.FromConsumer(builder.Consumer("c").Namespace("a").Prometheus(10, "1Gi").Obj())
	if got := s.Sample(t.Context(), owned.Owner, &owned.Spec); got == nil || r.reads != 1 {
		t.Errorf("a usable spec: sample %+v after %d reads, want one read", got, r.reads)
	}
}
