package planner

import (
	"math"

	corev1 "k8s.io/api/core/v1"

	"github.com/konsumerator/konsumerator/model"
)

// figures are the plan's per-instance figures for the operator's metrics: one entry per expected instance that
// exists once the plan is carried out (ours and kept, or created), read from what the plan decided. Instances
// that are missing, blocked by someone else's Deployment or deleted to be created again have none.
func (pl *planner) figures() []model.InstanceFigures {
	out := make([]model.InstanceFigures, 0, len(pl.insts))
	// One backing array for every instance's requests: a plan of thousands of instances makes two allocations.
	reqs := make([]model.ContainerRequest, 0, 2*len(pl.insts)*len(pl.names))
	for _, in := range pl.insts {
		if !(in.observed != nil && !in.recreate || in.action.Kind == model.ActionCreate) {
			continue
		}
		f := model.InstanceFigures{Name: in.name, ScalingState: string(in.state.state)}
		switch {
		case !pl.st.autoscale:
			f.Lagging = new(bool) // as the status counts it: no autoscaler, nothing lags
		case pl.view.usable && in.hasData:
			lag := in.maxLag.Seconds()
			if in.maxLag == infiniteLag {
				lag = math.Inf(1)
			}
			lagging := in.lagging
			f.Lag, f.Lagging = &lag, &lagging
		}
		start := len(reqs)
		for i, name := range pl.names {
			if i >= len(in.decided) {
				break
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if q, ok := in.decided[i].Requests[r]; ok {
					reqs = append(reqs, model.ContainerRequest{Container: name, Resource: r, Value: q.AsApproximateFloat64()})
				}
			}
		}
		f.Requests = reqs[start:len(reqs):len(reqs)]
		out = append(out, f)
	}
	return out
}
