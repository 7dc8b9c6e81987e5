package planner

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// A rollout that hurts stops: an instance whose pods fail on the current template (crash loop, out of memory,
// image, config, unschedulable for too long, progress deadline) counts as failed, and once as many have failed
// as the threshold allows, no further instance is restarted for that template. Instances not yet rolled keep
// the old template and keep working; resizes in place and repartitions go on. A new template (the usual fix) or
// the failed instances recovering lifts the halt, without memory in the operator: it is read from the pods.

// Defaults of the health gate.
const (
	defaultRolloutFailureThreshold = 1
	defaultUnschedulableAfter      = 5 * time.Minute
)

// failingWaits are the reasons a waiting container gives when it cannot run as it is.
var failingWaits = map[string]bool{
	"CrashLoopBackOff":           true,
	"ImagePullBackOff":           true,
	"ErrImagePull":               true,
	"InvalidImageName":           true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"RunContainerError":          true,
}

// reasonOOMKilled is the termination reason of a container killed for running out of memory.
const reasonOOMKilled = "OOMKilled"

// progressDeadlineExceeded is the reason of a Deployment's Progressing condition once its rollout is stuck.
const progressDeadlineExceeded = "ProgressDeadlineExceeded"

// observeHealth finds why the instance's pods (those of its newest ReplicaSet) fail, if they do.
func (pl *planner) observeHealth(in *instance) {
	d := in.observed
	if d == nil {
		return
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == progressDeadlineExceeded {
			in.failure = progressDeadlineExceeded
		}
	}
	for _, pod := range pl.pods[d.UID] {
		if why := pl.podFailure(pod); why != "" {
			in.failure = "pod " + pod.Name + ": " + why
			in.failingPods++
		}
	}
}

// podFailure is why a pod fails, "" when it does not (as far as can be seen).
func (pl *planner) podFailure(pod *corev1.Pod) string {
	if pod.DeletionTimestamp != nil {
		return ""
	}
	for _, cs := range append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.Reason == reasonOOMKilled,
			cs.State.Waiting != nil && cs.LastTerminationState.Terminated != nil && cs.LastTerminationState.Terminated.Reason == reasonOOMKilled:
			return cs.Name + " " + reasonOOMKilled
		case cs.State.Waiting != nil && failingWaits[cs.State.Waiting.Reason]:
			return cs.Name + " " + cs.State.Waiting.Reason
		}
	}
	bound := time.Duration(pl.s.Options.UnschedulableAfter)
	if bound <= 0 {
		bound = defaultUnschedulableAfter
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			if age := pl.now.Sub(c.LastTransitionTime.Time); age >= bound {
				return fmt.Sprintf("Unschedulable for %s", age.Round(time.Second))
			}
		}
	}
	return ""
}

// gate counts the instances that failed on the current template and decides whether the rollout halts.
func (pl *planner) gate() {
	pl.failureThreshold = pl.s.Options.RolloutFailureThreshold
	if pl.failureThreshold <= 0 {
		pl.failureThreshold = defaultRolloutFailureThreshold
	}
	for _, in := range pl.insts {
		if in.failure == "" || in.observed == nil {
			continue
		}
		if live, ok := parseSpecHash(in.ann.specHash); ok && live.pod == in.hash.pod {
			pl.failed = append(pl.failed, in)
		}
	}
	pl.halted = len(pl.failed) >= pl.failureThreshold
}

// haltText names the failed instances and why, for the held actions and the condition.
func (pl *planner) haltText() string {
	parts := make([]string, 0, min(len(pl.failed), 5))
	for i, in := range pl.failed {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(pl.failed)-5))
			break
		}
		parts = append(parts, in.name+" ("+in.failure+")")
	}
	return fmt.Sprintf("%d instance(s) failed on the current template (threshold %d): %s",
		len(pl.failed), pl.failureThreshold, strings.Join(parts, ", "))
}

// healthCondition is RolloutHealthy for the status.
func (pl *planner) healthCondition(notRolled int) metavConditionFields {
	switch {
	case pl.halted:
		return metavConditionFields{false, konsumeratorv1.ReasonRolloutHalted,
			fmt.Sprintf("rollout halted: %s; %d instance(s) keep the previous template; it resumes when the template changes or the failed instances recover",
				pl.haltText(), notRolled)}
	case len(pl.failed) > 0:
		return metavConditionFields{true, konsumeratorv1.ReasonInstancesFailing, pl.haltText()}
	}
	return metavConditionFields{true, konsumeratorv1.ReasonNoFailedInstances, "no instance fails on the current template"}
}

// metavConditionFields are the parts of a condition the health gate decides.
type metavConditionFields struct {
	ok              bool
	reason, message string
}
