package planner

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// defaultMaxCPUMilli bounds the CPU of an autoscaled container whose policy has no maxAllowed cpu: without it a
// large backlog asks for a pod no node can schedule. Memory follows from the bounded CPU.
const defaultMaxCPUMilli = 8000

// unboundedCeiling is the CPU ceiling of a container without maxAllowed cpu: 8 cores, or the template's CPU
// limit when that is higher (the template's author expected that much).
func unboundedCeiling(c *corev1.Container) int64 {
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok && q.MilliValue() > defaultMaxCPUMilli {
		return q.MilliValue()
	}
	return defaultMaxCPUMilli
}

// estimateMilli turns a required rate (messages/s) into a CPU request in millicores: rate / ratePerCore,
// rounded up to cpuIncrement, at least one increment (a consumer that runs needs some CPU).
func (st *settings) estimateMilli(rate float64) int64 {
	return st.estimateAt(rate, st.ratePerCore)
}

// estimateAt is estimateMilli for a rate per core other than the spec's (one the instance was seen reading at).
func (st *settings) estimateAt(rate, perCore float64) int64 {
	inc := st.cpuIncrementMill
	cores := rate / perCore
	if !finite(cores) || cores*1000 >= float64(maxMilli) {
		return roundUp(maxMilli, inc)
	}
	milli := int64(math.Ceil(cores * 1000))
	return max(roundUp(milli, inc), inc)
}

// roundUp rounds v up to a multiple of step (step > 0), saturating at maxMilli.
func roundUp(v, step int64) int64 {
	if v <= 0 {
		return 0
	}
	if v >= maxMilli {
		v = maxMilli
	}
	return (v + step - 1) / step * step
}

// memoryFor is the memory for a CPU limit: whole cores × ramPerCore, saturating instead of overflowing.
func (st *settings) memoryFor(limitMilli int64) int64 {
	b := float64(limitMilli) / 1000 * float64(st.ramPerCoreBytes)
	if b >= float64(int64(1)<<62) {
		return int64(1) << 62
	}
	return int64(b)
}

// autoSize sizes one autoscaled container for a CPU estimate (millicores). critical gives the policy maximum at
// once wherever there is one. Resources other than cpu and memory keep the template's values.
func (st *settings) autoSize(c *corev1.Container, estimate int64, critical bool) corev1.ResourceRequirements {
	pol := st.policies[c.Name]
	reqCPU := estimate
	if critical {
		if m, ok := pol.max[corev1.ResourceCPU]; ok {
			reqCPU = m
		}
	}
	reqCPU = clampTo(pol, corev1.ResourceCPU, reqCPU)
	if _, ok := pol.max[corev1.ResourceCPU]; !ok {
		// The default ceiling guards a policy that sets no maximum; a minAllowed above it is the user's own word.
		reqCPU = min(reqCPU, max(unboundedCeiling(c), pol.min[corev1.ResourceCPU]))
	}
	limCPU := clampTo(pol, corev1.ResourceCPU, max(roundUp(reqCPU, 1000), reqCPU))
	mem := st.memoryFor(limCPU)
	if critical {
		if m, ok := pol.max[corev1.ResourceMemory]; ok {
			mem = m
		}
	}
	// Memory cannot be taken back from a running process, so the request is the limit: the pod is never
	// OOM-killed for using what it was given.
	mem = clampTo(pol, corev1.ResourceMemory, mem)
	return st.withCPUMemory(c.Resources, reqCPU, limCPU, mem, mem)
}

// clampTo bounds v by the policy's min and max of one resource; max wins when the bounds cross.
func clampTo(pol containerPolicy, name corev1.ResourceName, v int64) int64 {
	if m, ok := pol.min[name]; ok && v < m {
		v = m
	}
	if m, ok := pol.max[name]; ok && v > m {
		v = m
	}
	return v
}

// templateSize is the template's resources brought inside the policy: limits at most maxAllowed, requests at
// least minAllowed and never above the limit. Used without an autoscaler and for new instances without data
// when the container has no policy.
func (st *settings) templateSize(c *corev1.Container) corev1.ResourceRequirements {
	pol, ok := st.policies[c.Name]
	if !ok || pol.off {
		return *c.Resources.DeepCopy()
	}
	out := *c.Resources.DeepCopy()
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := out.Requests[name]
		lim, hasLim := out.Limits[name]
		st.clampInto(&out, pol, name, req, hasReq, lim, hasLim)
	}
	return out
}

// clampInto writes one resource of out inside the policy: the limit at most maxAllowed, the request at least
// minAllowed and never above the limit.
func (st *settings) clampInto(out *corev1.ResourceRequirements, pol containerPolicy, name corev1.ResourceName,
	req resource.Quantity, hasReq bool, lim resource.Quantity, hasLim bool) {
	if hasLim {
		out.Limits[name] = st.quantity(name, clampTo(pol, name, scaled(name, lim)))
	}
	if hasReq || hasMin(pol, name) {
		r := clampTo(pol, name, scaled(name, req))
		if hasLim {
			r = min(r, scaled(name, out.Limits[name]))
		}
		if out.Requests == nil {
			out.Requests = corev1.ResourceList{}
		}
		out.Requests[name] = st.quantity(name, r)
	}
}

func hasMin(pol containerPolicy, name corev1.ResourceName) bool {
	_, ok := pol.min[name]
	return ok
}

// withCPUMemory returns base with cpu and memory requests and limits replaced.
func (st *settings) withCPUMemory(base corev1.ResourceRequirements, reqCPU, limCPU, reqMem, limMem int64) corev1.ResourceRequirements {
	out := corev1.ResourceRequirements{
		Requests: make(corev1.ResourceList, len(base.Requests)+2),
		Limits:   make(corev1.ResourceList, len(base.Limits)+2),
		Claims:   base.Claims,
	}
	for k, v := range base.Requests {
		out.Requests[k] = v
	}
	for k, v := range base.Limits {
		out.Limits[k] = v
	}
	out.Requests[corev1.ResourceCPU] = st.quantity(corev1.ResourceCPU, reqCPU)
	out.Limits[corev1.ResourceCPU] = st.quantity(corev1.ResourceCPU, limCPU)
	out.Requests[corev1.ResourceMemory] = st.quantity(corev1.ResourceMemory, reqMem)
	out.Limits[corev1.ResourceMemory] = st.quantity(corev1.ResourceMemory, limMem)
	return out
}

// autoscaled reports whether the autoscaler sets this container's resources.
func (st *settings) autoscaled(name string) bool {
	return !st.policies[name].off
}

// direction says how target compares to current over the given containers.
type direction int

const (
	dirNone direction = iota
	dirUp
	dirDown
)

func (d direction) String() string {
	switch d {
	case dirUp:
		return "up"
	case dirDown:
		return "down"
	}
	return "none"
}

// compareSizes: up when any cpu/memory request or limit of any container grows; down when none grows and some
// shrink. A container pinned by its policy (min = max) always gets the same values, so it neither grows nor
// shrinks and never blocks the others.
func compareSizes(target, current []corev1.ResourceRequirements) direction {
	d := dirNone
	for i := range target {
		if i >= len(current) {
			break
		}
		for _, pair := range [2][2]corev1.ResourceList{{target[i].Requests, current[i].Requests}, {target[i].Limits, current[i].Limits}} {
			for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				t, tok := pair[0][name]
				c, cok := pair[1][name]
				switch {
				case tok && !cok:
					return dirUp // from unbounded to bounded is a change; treat it as a scale-up to apply it soon
				case !tok && cok:
					d = dirDown
				case tok && cok:
					switch t.Cmp(c) {
					case 1:
						return dirUp
					case -1:
						d = dirDown
					}
				}
			}
		}
	}
	return d
}

// requestsOf sums the cpu (millicores) and memory (bytes) requests of a pod.
func requestsOf(res []corev1.ResourceRequirements) (cpu, mem int64) {
	for i := range res {
		if q, ok := res[i].Requests[corev1.ResourceCPU]; ok {
			cpu += q.MilliValue()
		} else if q, ok := res[i].Limits[corev1.ResourceCPU]; ok {
			cpu += q.MilliValue() // the API server defaults a missing request to the limit
		}
		if q, ok := res[i].Requests[corev1.ResourceMemory]; ok {
			mem += q.Value()
		} else if q, ok := res[i].Limits[corev1.ResourceMemory]; ok {
			mem += q.Value()
		}
	}
	return cpu, mem
}

// withinPolicy brings kept resources inside the container policy: limits at most maxAllowed, requests at least
// minAllowed and never above the limit (the API server would reject the object otherwise). A policy is a bound, not a load decision, so it applies even without data.
func (st *settings) withinPolicy(container string, r corev1.ResourceRequirements) corev1.ResourceRequirements {
	pol := st.policies[container] // without a policy only the request-below-limit rule applies
	if pol.off || !needsClamp(pol, r) {
		return r
	}
	out := *r.DeepCopy()
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		lq, hasLim := out.Limits[name]
		rq, hasReq := out.Requests[name]
		if !hasReq && hasLim {
			rq, hasReq = lq, true // what the API server defaults it to
		}
		st.clampInto(&out, pol, name, rq, hasReq, lq, hasLim)
	}
	return out
}

// needsClamp reports whether any cpu/memory request or limit is outside the policy or a request above its
// limit, so that in-policy resources are kept exactly as written.
func needsClamp(pol containerPolicy, r corev1.ResourceRequirements) bool {
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		lq, hasLim := r.Limits[name]
		rq, hasReq := r.Requests[name]
		if hasLim && clampTo(pol, name, scaled(name, lq)) != scaled(name, lq) {
			return true
		}
		if hasReq && clampTo(pol, name, scaled(name, rq)) != scaled(name, rq) {
			return true
		}
		if !hasReq && hasMin(pol, name) && (!hasLim || clampTo(pol, name, scaled(name, lq)) != scaled(name, lq)) {
			return true
		}
		if hasReq && hasLim && rq.Cmp(lq) > 0 {
			return true
		}
	}
	return false
}
