package planner

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/konsumerator/konsumerator/model"
)

// Pods on a node that is gone or unreachable stay as they are: phase Unknown, or terminating for ever, since no
// kubelet confirms their end. Their ReplicaSet does not replace a pod that is terminating... until it is gone, so
// the instance's partitions wait. Opt-in (Options.StuckPodAfter), such a pod is deleted with no grace period once
// it has been stuck that long.

// planStuckPods adds the deletes of the instance's stuck pods (any ReplicaSet of its Deployment).
func (pl *planner) planStuckPods(in *instance) {
	bound := time.Duration(pl.s.Options.StuckPodAfter)
	if bound <= 0 || in.observed == nil {
		return
	}
	for _, pod := range pl.allPods[in.observed.UID] {
		since, what := stuckSince(pod)
		if since.IsZero() {
			continue
		}
		if due := since.Add(bound); pl.now.Before(due) {
			if in.stuckWake.IsZero() || due.Before(in.stuckWake) {
				in.stuckWake = due
			}
			continue
		}
		in.stuck = append(in.stuck, model.Action{Kind: model.ActionDeletePod, Phase: model.PhaseResize,
			Namespace: pl.st.namespace, Name: pod.Name, UID: pod.UID, Instance: in.index,
			Reason: fmt.Sprintf("stuck: %s for %s (bound %s), its node does not answer: deleted so its ReplicaSet replaces it",
				what, pl.now.Sub(since).Round(time.Second), bound)})
	}
}

// stuckSince is since when a pod looks abandoned by its node, and how: terminating past its deadline (the
// deletion timestamp is when its grace period ended), or in phase Unknown (since its Ready condition last
// changed). Zero when it does not.
func stuckSince(pod *corev1.Pod) (time.Time, string) {
	if pod.DeletionTimestamp != nil {
		return pod.DeletionTimestamp.Time, "terminating past its grace period"
	}
	if pod.Status.Phase != corev1.PodUnknown {
		return time.Time{}, ""
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.LastTransitionTime.Time, "in phase Unknown"
		}
	}
	return time.Time{}, ""
}
