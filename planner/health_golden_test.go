package planner_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/planner"
)

// tenOrders is orders with ten instances, rolled two at a time.
func tenOrders() *builder.ConsumerWrapper { return orders().Partitions(10) }

// rolledBadImage is tenOrders steady with pods, then a new image whose first rollout pass is carried out: the
// instances it restarted run new pods, which crash-loop.
func rolledBadImage(t testing.TB, threshold int) *model.Snapshot {
	s := builder.WithPods(steady(t, tenOrders()))
	s.Options.MaxRolloutsInFlight = 2
	s.Options.RolloutFailureThreshold = threshold
	s = withSpec(later(s, time.Minute, load(10, 800, 800, 0)), tenOrders().Image("busybox:broken").Obj())
	p := planner.Plan(s)
	s = planner.Apply(s, p)
	for _, a := range p.Actions {
		if a.Kind != model.ActionUpdate {
			continue
		}
		for i := range s.Pods {
			if s.Pods[i].Labels["konsumerator.lwolf.org/instance"] == a.Name {
				crashLoop(&s.Pods[i])
			}
		}
	}
	return later(s, time.Minute, load(10, 800, 800, 0))
}

func crashLoop(p *corev1.Pod) {
	cs := &p.Status.ContainerStatuses[0]
	cs.Ready, cs.RestartCount = false, 4
	cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
		Message: "back-off 1m20s restarting failed container"}}
	cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}
}

// oomKilled is s with the named pod's container killed for running out of memory at `at`, restarting.
func oomKilled(s *model.Snapshot, pod string, at time.Time) *model.Snapshot {
	return editPod(s, pod, func(p *corev1.Pod) {
		cs := &p.Status.ContainerStatuses[0]
		cs.RestartCount++
		cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137,
			Reason: "OOMKilled", FinishedAt: metav1.NewTime(at)}}
	})
}

func healthScenarios() []scenario {
	min := time.Minute
	return []scenario{
		{name: "rollout-halts-on-crash-loop", snap: func(t testing.TB) *model.Snapshot {
			// Two instances got the new image and crash-loop; the threshold is 1: the other eight keep the old one.
			return rolledBadImage(t, 1)
		}},
		{name: "rollout-failures-below-threshold-continue", snap: func(t testing.TB) *model.Snapshot {
			return rolledBadImage(t, 3)
		}},
		{name: "rollout-resumes-on-a-new-template", snap: func(t testing.TB) *model.Snapshot {
			s := rolledBadImage(t, 1)
			return withSpec(s, tenOrders().Image("busybox:fixed").Obj())
		}},
		{name: "rollout-halted-holds-scaling-of-instances-not-rolled", snap: func(t testing.TB) *model.Snapshot {
			// An instance not yet rolled has the new template pending: its decided resources ride with it (the
			// desired object is the whole spec), so its scaling waits with the halted rollout, in place too.
			s := rolledBadImage(t, 1)
			s = withSpec(s, tenOrders().Image("busybox:broken").InPlace().Obj())
			s = later(s, 0, load(10, 2500, 2500, 0))
			return setState(s, "orders-9", planner.StatePendingScaleUp, s.Now.Add(-6*min))
		}},
		{name: "unschedulable-beyond-bound-fails", snap: func(t testing.TB) *model.Snapshot {
			s := builder.WithPods(steady(t, tenOrders()))
			return editPod(s, "orders-3-rs1-0", func(p *corev1.Pod) {
				p.Status.Phase = corev1.PodPending
				p.Status.ContainerStatuses = nil
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
					Reason: corev1.PodReasonUnschedulable, Message: "0/3 nodes are available: 3 Insufficient cpu.",
					LastTransitionTime: metav1.NewTime(s.Now.Add(-6 * min))}}
			})
		}},
		{name: "stuck-pods-deleted-after-the-bound", snap: func(t testing.TB) *model.Snapshot {
			// Stuck-pod deletion on at 10m: orders-0's pod has been terminating for 20m past its grace period and
			// is deleted; orders-1's has been Unknown for 3m and waits (the plan looks again at 10m).
			s := builder.WithPods(steady(t, orders()))
			s.Options.StuckPodAfter = model.Duration(10 * min)
			s = editPod(s, "orders-0-rs1-0", func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: s.Now.Add(-20 * min)} })
			return editPod(s, "orders-1-rs1-0", func(p *corev1.Pod) {
				p.Status.Phase = corev1.PodUnknown
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionUnknown,
					LastTransitionTime: metav1.NewTime(s.Now.Add(-3 * min))}}
			})
		}},
		{name: "oom-kill-bumps-memory-at-once", desired: []string{"orders-1"}, snap: func(t testing.TB) *model.Snapshot {
			s := builder.WithPods(steady(t, orders()))
			return oomKilled(later(s, min, load(4, 800, 800, 0)), "orders-1-rs1-0", s.Now.Add(30*time.Second))
		}},
		{name: "oom-kill-bumps-memory-in-place", snap: func(t testing.TB) *model.Snapshot {
			s := builder.WithPods(steady(t, inPlaceOrders()))
			return oomKilled(later(s, min, load(4, 800, 800, 0)), "orders-1-rs1-0", s.Now.Add(30*time.Second))
		}},
		{name: "oom-floor-holds-against-metrics", snap: func(t testing.TB) *model.Snapshot {
			// After the bump the same kill is not counted again, and a ripe scale-down keeps the memory floor.
			s := builder.WithPods(steady(t, inPlaceOrders()))
			s = oomKilled(later(s, min, load(4, 800, 800, 0)), "orders-1-rs1-0", s.Now.Add(30*time.Second))
			s = resized(t, s)
			s = later(s, min, load(4, 200, 200, 0))
			return setState(s, "orders-1", planner.StatePendingScaleDown, s.Now.Add(-16*min))
		}},
	}
}
