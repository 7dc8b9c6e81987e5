package observer

import (
	"context"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/observer/lag"
)

// PrometheusSamples hands out samples from the shared Prometheus cache.
type PrometheusSamples struct {
	Cache *lag.Cache
}

// Sample returns the owner's cached sample; nil when the spec does not use Prometheus.
func (p PrometheusSamples) Sample(ctx context.Context, owner model.Owner, spec *konsumeratorv1.ConsumerSpec) *model.MetricsSample {
	if spec.Autoscaler == nil || spec.Autoscaler.Prometheus == nil {
		return nil
	}
	return p.Cache.Sample(ctx, lag.Key{Namespace: owner.Namespace, Name: owner.Name, UID: owner.UID},
		spec.Autoscaler.Prometheus, spec.NumPartitions)
}

// Forget drops the cached sample of a deleted owner.
func (p PrometheusSamples) Forget(owner model.Owner) {
	p.Cache.Forget(lag.Key{Namespace: owner.Namespace, Name: owner.Name, UID: owner.UID})
}
