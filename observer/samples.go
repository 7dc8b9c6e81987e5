package observer

import (
	"context"
	"time"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/observer/lag"
)

// Samples hands out samples from the shared caches of the metrics sources, each Consumer from the source its
// mode selects.
type Samples struct {
	Sources lag.Readers
	// Usable, when set, says whether the planner can use a spec at all (planner.Usable). A spec it cannot use
	// reads nothing: its sample would not be used, and reading a source costs the source and the operator.
	Usable func(owner model.Owner, spec *konsumeratorv1.ConsumerSpec) bool
}

// Sample returns the owner's cached sample; nil when no source serves the spec or the spec is not usable.
func (s Samples) Sample(ctx context.Context, owner model.Owner, spec *konsumeratorv1.ConsumerSpec) *model.MetricsSample {
	if spec.Autoscaler == nil || (s.Usable != nil && !s.Usable(owner, spec)) {
		return nil
	}
	return s.Sources.Sample(ctx, keyOf(owner), spec)
}

// NextRead is when the owner's metrics source will next be read, and whether the last read was the first for its
// current spec; ok is false when nothing is cached for it.
func (s Samples) NextRead(owner model.Owner) (at time.Time, first, ok bool) {
	return s.Sources.NextRead(keyOf(owner))
}

// Forget drops the cached samples of a deleted owner.
func (s Samples) Forget(owner model.Owner) {
	s.Sources.Forget(keyOf(owner))
}

func keyOf(owner model.Owner) lag.Key {
	return lag.Key{Namespace: owner.Namespace, Name: owner.Name, UID: owner.UID}
}
