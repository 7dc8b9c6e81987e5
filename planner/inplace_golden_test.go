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

// inPlaceOrders is orders in updateMode InPlace (the API's default).
func inPlaceOrders() *builder.ConsumerWrapper { return orders().InPlace() }

// steadyInPlace is inPlaceOrders settled at 800 messages/s per partition, every instance with a running pod.
func steadyInPlace(t testing.TB, c *builder.ConsumerWrapper) *model.Snapshot {
	return builder.WithPods(steady(t, c))
}

// ripeUp is s with a load that needs a scale-up and every instance's scale-up ripe.
func ripeUp(s *model.Snapshot) *model.Snapshot {
	s = later(s, time.Minute, load(4, 2500, 2500, 0))
	for _, n := range []string{"orders-0", "orders-1", "orders-2", "orders-3"} {
		s = setState(s, n, planner.StatePendingScaleUp, s.Now.Add(-6*time.Minute))
	}
	return s
}

// resized is s after its plan is carried out, rollouts finished: pods resized in place where the plan says so.
func resized(t testing.TB, s *model.Snapshot) *model.Snapshot {
	t.Helper()
	return available(planner.Apply(s, planner.Plan(s)))
}

// editPod returns a copy of s with the named pod changed.
func editPod(s *model.Snapshot, name string, f func(*corev1.Pod)) *model.Snapshot {
	out := *s
	out.Pods = make([]corev1.Pod, len(s.Pods))
	for i := range s.Pods {
		s.Pods[i].DeepCopyInto(&out.Pods[i])
		if out.Pods[i].Name == name {
			f(&out.Pods[i])
		}
	}
	return &out
}

// pendingResize is a pod the kubelet has not resized: its spec has the new resources, its status the old ones,
// and the condition says why.
func pendingResize(s *model.Snapshot, pod string, cond corev1.PodConditionType, reason string, since time.Time) *model.Snapshot {
	return editPod(s, pod, func(p *corev1.Pod) {
		for i := range p.Status.ContainerStatuses {
			p.Status.ContainerStatuses[i].Resources = &corev1.ResourceRequirements{
				Requests: res("cpu=800m,memory=1Gi"), Limits: res("cpu=1,memory=1Gi")}
		}
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: cond, Status: corev1.ConditionTrue,
			Reason: reason, Message: "Node didn't have enough capacity: cpu, requested: 3200, capacity: 2000",
			LastTransitionTime: metav1.NewTime(since)})
	})
}

func inPlaceScenarios() []scenario {
	min := time.Minute
	return []scenario{
		{name: "inplace-scale-up-resizes-running-pods", desired: []string{"orders-0"}, snap: func(t testing.TB) *model.Snapshot {
			// The decision is recorded on the Deployment, the pods are resized; nothing restarts, no budget needed.
			return ripeUp(steadyInPlace(t, inPlaceOrders()))
		}},
		{name: "inplace-pod-recreated-at-template-size", snap: func(t testing.TB) *model.Snapshot {
			// After an in-place scale-up orders-0's pod dies and its replacement starts at the template's size.
			s := resized(t, ripeUp(steadyInPlace(t, inPlaceOrders())))
			d := s.Deployments[0]
			rs := s.ReplicaSets[0]
			s = editPod(s, "orders-0-rs1-0", func(p *corev1.Pod) { *p = *builder.PodFor(&d, &rs, "orders-0-rs1-1") })
			return later(s, min, load(4, 2500, 2500, 0))
		}},
		{name: "inplace-resize-infeasible-restarts", snap: func(t testing.TB) *model.Snapshot {
			s := resized(t, ripeUp(steadyInPlace(t, inPlaceOrders())))
			s = pendingResize(s, "orders-0-rs1-0", corev1.PodResizePending, corev1.PodReasonInfeasible, s.Now)
			return later(s, min, load(4, 2500, 2500, 0))
		}},
		{name: "inplace-resize-deferred-waits", snap: func(t testing.TB) *model.Snapshot {
			s := resized(t, ripeUp(steadyInPlace(t, inPlaceOrders())))
			s = pendingResize(s, "orders-0-rs1-0", corev1.PodResizePending, corev1.PodReasonDeferred, s.Now)
			return later(s, min, load(4, 2500, 2500, 0))
		}},
		{name: "inplace-resize-deferred-too-long-restarts", snap: func(t testing.TB) *model.Snapshot {
			s := resized(t, ripeUp(steadyInPlace(t, inPlaceOrders())))
			s = pendingResize(s, "orders-0-rs1-0", corev1.PodResizePending, corev1.PodReasonDeferred, s.Now.Add(-5*min))
			return later(s, min, load(4, 2500, 2500, 0))
		}},
		{name: "inplace-resize-in-progress-too-long-restarts", snap: func(t testing.TB) *model.Snapshot {
			s := resized(t, ripeUp(steadyInPlace(t, inPlaceOrders())))
			s = pendingResize(s, "orders-1-rs1-0", corev1.PodResizeInProgress, "", s.Now.Add(-time.Hour))
			return later(s, min, load(4, 2500, 2500, 0))
		}},
		{name: "inplace-resize-error-restarts", snap: func(t testing.TB) *model.Snapshot {
			s := resized(t, ripeUp(steadyInPlace(t, inPlaceOrders())))
			s = pendingResize(s, "orders-2-rs1-0", corev1.PodResizeInProgress, corev1.PodReasonError, s.Now)
			return later(s, min, load(4, 2500, 2500, 0))
		}},
		{name: "inplace-qos-change-restarts", snap: func(t testing.TB) *model.Snapshot {
			// orders-0's pod runs with no requests or limits at all (BestEffort): sizing it makes it Burstable,
			// which pods/resize refuses.
			s := ripeUp(steadyInPlace(t, inPlaceOrders()))
			return editPod(s, "orders-0-rs1-0", func(p *corev1.Pod) {
				p.Spec.Containers[0].Resources = corev1.ResourceRequirements{}
				p.Status.ContainerStatuses[0].Resources = &corev1.ResourceRequirements{}
			})
		}},
		{name: "inplace-node-without-resize-restarts", snap: func(t testing.TB) *model.Snapshot {
			s := ripeUp(steadyInPlace(t, inPlaceOrders()))
			return editPod(s, "orders-0-rs1-0", func(p *corev1.Pod) { p.Status.ContainerStatuses[0].Resources = nil })
		}},
		{name: "inplace-resize-policy-restarts-container", snap: func(t testing.TB) *model.Snapshot {
			// Every pod restarts its container on a memory resize: the resizes are restarts, under the budget.
			s := ripeUp(steadyInPlace(t, inPlaceOrders()))
			for _, n := range []string{"orders-0-rs1-0", "orders-1-rs1-0", "orders-2-rs1-0", "orders-3-rs1-0"} {
				s = editPod(s, n, func(p *corev1.Pod) {
					p.Spec.Containers[0].ResizePolicy = []corev1.ContainerResizePolicy{
						{ResourceName: corev1.ResourceMemory, RestartPolicy: corev1.RestartContainer}}
				})
			}
			return s
		}},
		{name: "inplace-memory-decrease-waits-for-rollout", snap: func(t testing.TB) *model.Snapshot {
			// Instances made at 3200m/4Gi; a ripe scale-down lowers cpu in place, memory stays at what the pods
			// started with (the template's) and is recorded lower for the next rollout.
			c := inPlaceOrders()
			s := builder.WithPods(settle(t, builder.Snapshot(c.Obj()).Metrics(load(4, 2500, 2500, 0)).Obj()))
			s = later(s, min, load(4, 200, 200, 0))
			for _, n := range []string{"orders-0", "orders-1", "orders-2", "orders-3"} {
				s = setState(s, n, planner.StatePendingScaleDown, s.Now.Add(-16*min))
			}
			return s
		}},
		{name: "inplace-image-change-carries-resources", desired: []string{"orders-0"}, snap: func(t testing.TB) *model.Snapshot {
			// After an in-place scale-up the template lags; a new image rolls the pods and the template catches up.
			s := resized(t, ripeUp(steadyInPlace(t, inPlaceOrders())))
			s = later(s, min, load(4, 2500, 2500, 0))
			return withSpec(s, inPlaceOrders().Container("busybox", "busybox:1.37").Obj())
		}},
		{name: "inplace-upgrade-from-restart-mode", snap: func(t testing.TB) *model.Snapshot {
			// Instances sized by restarts (GOMAXPROCS pinned in the template) under the new default: the decision
			// is recorded, nothing restarts, GOMAXPROCS stays until the next rollout.
			s := steadyInPlace(t, orders())
			return withSpec(later(s, min, load(4, 800, 800, 0)), inPlaceOrders().Obj())
		}},
		{name: "inplace-foreign-pod-untouched", snap: func(t testing.TB) *model.Snapshot {
			// A pod with the instance's labels whose ReplicaSet is not the instance Deployment's is not resized.
			s := ripeUp(steadyInPlace(t, inPlaceOrders()))
			return editPod(s, "orders-3-rs1-0", func(p *corev1.Pod) {
				p.OwnerReferences[0].UID = "uid-someone-elses-replicaset"
			})
		}},
		{name: "inplace-new-instance-at-max-starts-burstable", desired: []string{"orders-0"}, snap: func(t testing.TB) *model.Snapshot {
			// Critical lag: new instances start at the policy's maximum, every request at its limit. Their pods
			// would be Guaranteed and no scale-down could be done in place; the template keeps a cpu request 1m
			// under its limit (the decision, in the annotation, is the maximum).
			c := inPlaceOrders().Partitions(1)
			return builder.Snapshot(c.Obj()).Metrics(load(1, 800, 800, 800*7200)).Obj()
		}},
		{name: "inplace-restart-mode-removes-annotation", snap: func(t testing.TB) *model.Snapshot {
			// Back to updateMode Restart: the template is the truth again (the annotation goes); the pods keep
			// their in-place size until the next decision restarts them.
			s := resized(t, ripeUp(steadyInPlace(t, inPlaceOrders())))
			return withSpec(later(s, min, load(4, 2500, 2500, 0)), orders().Obj())
		}},
	}
}
