package planner

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// A container killed for running out of memory gets more at once, without waiting for pendingScaleUpDuration:
// its memory limit times oomBumpFactor, at least oomMinStep more, within the policy's maxAllowed (and, like every
// decision, the global budget). The bumped value is a floor remembered on the instance (AnnotationMemoryFloor)
// with the time of the kill, so a later metrics-driven decision does not take it straight back and the same kill
// is not counted twice; a new kill bumps again from there.
const oomBumpFactor = 1.5

var oomMinStep = resource.MustParse("64Mi")

// memoryFloor is one container's entry in AnnotationMemoryFloor.
type memoryFloor struct {
	Memory resource.Quantity `json:"memory"`
	// OOMAt is when the kill that set the floor happened (RFC 3339).
	OOMAt time.Time `json:"oomAt"`
}

func decodeFloors(v string) map[string]memoryFloor {
	if v == "" || len(v) > maxResourcesAnnotation {
		return nil
	}
	var m map[string]memoryFloor
	if json.Unmarshal([]byte(v), &m) != nil {
		return nil
	}
	return m
}

func encodeFloors(m map[string]memoryFloor) string {
	if len(m) == 0 {
		return ""
	}
	for k, f := range m {
		m[k] = memoryFloor{Memory: resource.MustParse(f.Memory.String()), OOMAt: f.OOMAt.UTC().Truncate(time.Second)}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return ""
	}
	return string(raw)
}

// readFloors reads the instance's memory floors and bumps the floor of every container killed for running out
// of memory since its floor was set.
func (pl *planner) readFloors(in *instance) {
	if !pl.st.autoscale || in.observed == nil {
		return
	}
	floors := decodeFloors(in.ann.memoryFloor)
	for i, name := range pl.names {
		if in.frozen || !pl.st.autoscaled(name) || i >= len(in.current) {
			continue
		}
		at, killed := pl.lastOOMKill(in, name)
		if f, has := floors[name]; !killed || has && !at.After(f.OOMAt) {
			continue
		}
		cur := memoryOf(in.current[i])
		v := cur.Value() + max(int64(float64(cur.Value())*(oomBumpFactor-1)), oomMinStep.Value())
		v = roundUp(v, 1<<20) // whole MiB: a quantity a person reads at a glance
		if m, ok := pl.st.policies[name].max[corev1.ResourceMemory]; ok {
			v = min(v, m)
		}
		bumped := *resource.NewQuantity(v, resource.BinarySI)
		if floors == nil {
			floors = map[string]memoryFloor{}
		}
		floors[name] = memoryFloor{Memory: bumped, OOMAt: at}
		in.oomNotes = append(in.oomNotes, fmt.Sprintf("%s was killed for running out of memory at %s: memory %s -> %s",
			name, at.UTC().Format(time.RFC3339), cur.String(), bumped.String()))
	}
	in.floors = floors
	in.floorsText = encodeFloors(floors)
}

// lastOOMKill is when a pod of the instance last had the container killed for running out of memory.
func (pl *planner) lastOOMKill(in *instance, container string) (time.Time, bool) {
	var last time.Time
	for _, pod := range pl.pods[in.observed.UID] {
		for _, cs := range pod.Status.ContainerStatuses {
			if cs.Name != container {
				continue
			}
			for _, t := range []*corev1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
				if t != nil && t.Reason == reasonOOMKilled && t.FinishedAt.Time.After(last) {
					last = t.FinishedAt.Time
				}
			}
		}
	}
	return last, !last.IsZero()
}

// memoryOf is the memory limit, or the request without one.
func memoryOf(r corev1.ResourceRequirements) resource.Quantity {
	if q, ok := r.Limits[corev1.ResourceMemory]; ok {
		return q
	}
	return effectiveRequests(r)[corev1.ResourceMemory]
}

// withFloors raises every container's memory request and limit to its floor; sizes is not changed (it may be
// shared), a copy is returned when anything rises.
func (pl *planner) withFloors(in *instance, sizes []corev1.ResourceRequirements) []corev1.ResourceRequirements {
	if len(in.floors) == 0 {
		return sizes
	}
	var out []corev1.ResourceRequirements
	for i, name := range pl.names {
		f, ok := in.floors[name]
		if !ok || i >= len(sizes) {
			continue
		}
		r := sizes[i]
		req, hasReq := effectiveRequests(r)[corev1.ResourceMemory]
		lim, hasLim := r.Limits[corev1.ResourceMemory]
		if (!hasReq || req.Cmp(f.Memory) >= 0) && (!hasLim || lim.Cmp(f.Memory) >= 0) {
			continue
		}
		if out == nil {
			out = append([]corev1.ResourceRequirements(nil), sizes...)
		}
		c := corev1.ResourceRequirements{Requests: copyList(effectiveRequests(r)), Limits: copyList(r.Limits), Claims: r.Claims}
		if hasReq && req.Cmp(f.Memory) < 0 {
			c.Requests[corev1.ResourceMemory] = f.Memory
		}
		if hasLim && lim.Cmp(f.Memory) < 0 {
			c.Limits[corev1.ResourceMemory] = f.Memory
		}
		out[i] = c
	}
	if out == nil {
		return sizes
	}
	return out
}

// applyOOMBump takes a new floor at once, whatever the hysteresis says, and keeps every decision at or above
// the floors.
func (pl *planner) applyOOMBump(in *instance) {
	floored := pl.withFloors(in, in.decided)
	if len(in.oomNotes) == 0 || sameSizes(floored, in.decided) {
		in.decided = floored // no new kill, or already there (at maxAllowed, or decided above it)
		return
	}
	in.decided, in.changing, in.scaleDir, in.liveIsDecided, in.oomBump = floored, true, dirUp, false, true
	in.state, in.ripens = scalingState{state: StateRunning, since: pl.now}, time.Time{}
	in.sizeNote = "out of memory: " + strings.Join(in.oomNotes, "; ")
}
