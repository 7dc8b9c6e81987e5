package controller

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// Pods matter to a decision in updateMode InPlace: a pod that starts at the template's size is resized once it
// runs, and the kubelet's answer to a resize (done, pending, failed) decides between waiting and restarting. So a
// pod change that can change the plan wakes the owner of its instance; the rest of a pod's churn does not.

// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups="",resources=pods/resize,verbs=patch
// +kubebuilder:rbac:groups=apps,resources=replicasets,verbs=get;list;watch

// podOwner maps a pod to the owner of its instance: the pod's instance label names the Deployment (the
// planner sets it on every pod template), whose controller reference, read from the cache, names the owner. Only
// owners of the given kind are requested, so that the Consumer and guest-mode controllers each get their own.
func podOwner(c client.Reader, owner schema.GroupKind) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		instance := obj.GetLabels()[konsumeratorv1.LabelInstance]
		if instance == "" {
			return nil
		}
		var d appsv1.Deployment
		if err := c.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: instance}, &d); err != nil {
			return nil // gone, or not an instance: nothing to wake
		}
		ref := metav1.GetControllerOfNoCopy(&d)
		if ref == nil || ref.Kind != owner.Kind {
			return nil
		}
		if gv, err := schema.ParseGroupVersion(ref.APIVersion); err != nil || gv.Group != owner.Group {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: d.Namespace, Name: ref.Name}}}
	}
}

// podChanged lets through new and deleted pods and the updates the planner can act on: the phase, deletion,
// the controller, the resources asked for and reported, the kubelet's resize conditions, and restarts and
// terminations. Readiness probes flapping, bindings, and status timestamps do not wake anyone.
type podChanged struct{ predicate.Funcs }

func (podChanged) Create(event.CreateEvent) bool   { return true }
func (podChanged) Delete(event.DeleteEvent) bool   { return true }
func (podChanged) Generic(event.GenericEvent) bool { return true }

func (podChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*corev1.Pod)
	n, ok2 := e.ObjectNew.(*corev1.Pod)
	if !ok1 || !ok2 {
		return true
	}
	return podMatters(o, n)
}

func podMatters(o, n *corev1.Pod) bool {
	if o.Status.Phase != n.Status.Phase || (o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil) {
		return true
	}
	if !equality.Semantic.DeepEqual(metav1.GetControllerOfNoCopy(o), metav1.GetControllerOfNoCopy(n)) {
		return true
	}
	if len(o.Spec.Containers) != len(n.Spec.Containers) {
		return true
	}
	for i := range n.Spec.Containers {
		if !equality.Semantic.DeepEqual(o.Spec.Containers[i].Resources, n.Spec.Containers[i].Resources) {
			return true
		}
	}
	if !equality.Semantic.DeepEqual(resizeConditions(o), resizeConditions(n)) {
		return true
	}
	if len(o.Status.ContainerStatuses) != len(n.Status.ContainerStatuses) {
		return true
	}
	for i := range n.Status.ContainerStatuses {
		os, ns := &o.Status.ContainerStatuses[i], &n.Status.ContainerStatuses[i]
		if os.Name != ns.Name || os.RestartCount != ns.RestartCount ||
			(os.State.Terminated == nil) != (ns.State.Terminated == nil) ||
			!equality.Semantic.DeepEqual(os.LastTerminationState.Terminated, ns.LastTerminationState.Terminated) ||
			!equality.Semantic.DeepEqual(os.Resources, ns.Resources) ||
			!equality.Semantic.DeepEqual(os.AllocatedResources, ns.AllocatedResources) {
			return true
		}
	}
	return false
}

// resizeConditions are the kubelet's answers to a resize, without their probe times.
func resizeConditions(p *corev1.Pod) []corev1.PodCondition {
	var out []corev1.PodCondition
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodResizePending || c.Type == corev1.PodResizeInProgress {
			out = append(out, corev1.PodCondition{Type: c.Type, Status: c.Status, Reason: c.Reason,
				Message: c.Message, LastTransitionTime: c.LastTransitionTime})
		}
	}
	return out
}
