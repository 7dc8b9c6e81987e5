package observer

import (
	"context"
	"fmt"
	"slices"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// revisionAnnotation is the Deployment controller's revision of a ReplicaSet: the one annotation of a ReplicaSet
// the planner reads (the newest revision's pods are the instance's).
const revisionAnnotation = "deployment.kubernetes.io/revision"

// ReplicaSetGVK is the kind of the ReplicaSets the observer reads as metadata only.
var ReplicaSetGVK = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

// readsPods reports whether the planner reads the owner's pods: always, unless its spec could not be read. In
// updateMode InPlace it resizes them; in every mode it reads their health (failed rollouts, out-of-memory kills,
// pods stuck on a node that is gone).
func readsPods(owned Owned) bool { return owned.SpecError == "" }

// podsOf reads the ReplicaSets and Pods of the owner's instances from the cache: label-selected by the owner's
// label value in its namespace, then kept only along the controller chain Deployment → ReplicaSet → Pod from the
// owner's own Deployments, so that a snapshot holds nothing of anyone else. Both sorted by name.
func (o *Observer) podsOf(ctx context.Context, owned Owned, deployments []appsv1.Deployment) ([]metav1.PartialObjectMetadata, []corev1.Pod, error) {
	ours := map[types.UID]bool{}
	for i := range deployments {
		if konsumeratorv1.IsControlledBy(&deployments[i], owned.Owner.UID) {
			ours[deployments[i].UID] = true
		}
	}
	if len(ours) == 0 {
		return nil, nil, nil
	}
	selector := []client.ListOption{
		client.InNamespace(owned.Owner.Namespace),
		client.MatchingLabels{konsumeratorv1.LabelConsumer: konsumeratorv1.LabelValue(owned.Owner.Name)},
		// Shared with the snapshot and never written (see deployments).
		client.UnsafeDisableDeepCopy,
	}
	rsList := &metav1.PartialObjectMetadataList{}
	rsList.SetGroupVersionKind(ReplicaSetGVK.GroupVersion().WithKind("ReplicaSetList"))
	if err := o.Cache.List(ctx, rsList, selector...); err != nil {
		return nil, nil, fmt.Errorf("listing ReplicaSets: %w", err)
	}
	var replicaSets []metav1.PartialObjectMetadata
	rsUIDs := map[types.UID]bool{}
	for i := range rsList.Items {
		rs := &rsList.Items[i]
		if ref := metav1.GetControllerOfNoCopy(rs); ref != nil && ours[ref.UID] {
			out := *rs // shares the cache's maps and slices, like the Deployments (see deployments)
			out.TypeMeta = metav1.TypeMeta{APIVersion: ReplicaSetGVK.GroupVersion().String(), Kind: ReplicaSetGVK.Kind}
			out.ManagedFields = nil
			replicaSets = append(replicaSets, out)
			rsUIDs[rs.UID] = true
		}
	}
	if len(rsUIDs) == 0 {
		return nil, nil, nil
	}
	var podList corev1.PodList
	if err := o.Cache.List(ctx, &podList, selector...); err != nil {
		return nil, nil, fmt.Errorf("listing Pods: %w", err)
	}
	var pods []corev1.Pod
	for i := range podList.Items {
		p := &podList.Items[i]
		if ref := metav1.GetControllerOfNoCopy(p); ref != nil && rsUIDs[ref.UID] {
			// The cache holds pods already trimmed (Transforms.Pod); the snapshot shares them, as it does the
			// Deployments: a copy of every pod on every pass was the largest part of a reconcile's heap.
			pods = append(pods, *p)
		}
	}
	sort.Slice(replicaSets, func(i, j int) bool { return replicaSets[i].Name < replicaSets[j].Name })
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return replicaSets, pods, nil
}

// TrimPod is a copy of a pod with only what the planner reads: identity, labels, owner and deletion; the node;
// each container's name, resources and resizePolicy; the phase, QoS class and conditions; and each container's
// status as far as readiness, restarts, states and resources go. It is the cache's transform for Pods
// (Transforms.Pod), so that a pod costs the operator a small, fixed part of its size, and the observer's copy.
func TrimPod(p *corev1.Pod) *corev1.Pod { return trimPod(p, nil) }

// trimPod is TrimPod with the resource lists shared through lists, or copied when lists is nil.
func trimPod(p *corev1.Pod, lists *Interner) *corev1.Pod {
	out := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:              p.Name,
			Namespace:         p.Namespace,
			UID:               p.UID,
			ResourceVersion:   p.ResourceVersion,
			Labels:            copyMap(p.Labels),
			OwnerReferences:   copyRefs(p.OwnerReferences),
			DeletionTimestamp: p.DeletionTimestamp.DeepCopy(),
		},
		Spec: corev1.PodSpec{
			NodeName:       p.Spec.NodeName,
			InitContainers: trimContainers(p.Spec.InitContainers, lists),
			Containers:     trimContainers(p.Spec.Containers, lists),
		},
		Status: corev1.PodStatus{
			Phase:             p.Status.Phase,
			QOSClass:          p.Status.QOSClass,
			ContainerStatuses: trimStatuses(p.Status.ContainerStatuses, lists),
		},
	}
	if len(p.Status.Conditions) > 0 {
		out.Status.Conditions = make([]corev1.PodCondition, len(p.Status.Conditions))
		for i, c := range p.Status.Conditions {
			out.Status.Conditions[i] = corev1.PodCondition{Type: c.Type, Status: c.Status, Reason: c.Reason,
				Message: c.Message, LastTransitionTime: c.LastTransitionTime}
		}
	}
	return out
}

// TransformReplicaSet is the cache transform of ReplicaSet metadata: identity, labels, owner, deletion and the
// revision annotation. A ReplicaSet carries copies of its Deployment's annotations, which the planner reads from
// the Deployment itself.
func TransformReplicaSet(in any) (any, error) {
	rs, ok := in.(*metav1.PartialObjectMetadata)
	if !ok {
		return in, nil
	}
	out := &metav1.PartialObjectMetadata{
		TypeMeta: rs.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name:              rs.Name,
			Namespace:         rs.Namespace,
			UID:               rs.UID,
			ResourceVersion:   rs.ResourceVersion,
			Labels:            copyMap(rs.Labels),
			OwnerReferences:   copyRefs(rs.OwnerReferences),
			DeletionTimestamp: rs.DeletionTimestamp.DeepCopy(),
		},
	}
	if v, ok := rs.Annotations[revisionAnnotation]; ok {
		out.Annotations = map[string]string{revisionAnnotation: v}
	}
	return out, nil
}

func trimContainers(cs []corev1.Container, lists *Interner) []corev1.Container {
	if len(cs) == 0 {
		return nil
	}
	out := make([]corev1.Container, len(cs))
	for i := range cs {
		c := &cs[i]
		out[i] = corev1.Container{Name: c.Name, Resources: requirements(c.Resources, lists)}
		if len(c.ResizePolicy) > 0 {
			out[i].ResizePolicy = append([]corev1.ContainerResizePolicy(nil), c.ResizePolicy...)
		}
	}
	return out
}

func trimStatuses(ss []corev1.ContainerStatus, lists *Interner) []corev1.ContainerStatus {
	if len(ss) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, len(ss))
	for i := range ss {
		s := &ss[i]
		out[i] = corev1.ContainerStatus{
			Name:                 s.Name,
			Ready:                s.Ready,
			Started:              copyPtr(s.Started),
			RestartCount:         s.RestartCount,
			State:                *s.State.DeepCopy(),
			LastTerminationState: *s.LastTerminationState.DeepCopy(),
		}
		if s.Resources != nil {
			out[i].Resources = ptr.To(requirements(*s.Resources, lists))
		}
		if lists != nil {
			out[i].AllocatedResources = lists.List(s.AllocatedResources)
		} else {
			out[i].AllocatedResources = s.AllocatedResources.DeepCopy()
		}
	}
	return out
}

// requirements is r shared through lists, or a copy of r when lists is nil.
func requirements(r corev1.ResourceRequirements, lists *Interner) corev1.ResourceRequirements {
	if lists == nil {
		return *r.DeepCopy()
	}
	r = lists.Requirements(r)
	r.Claims = slices.Clone(r.Claims)
	return r
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func copyRefs(refs []metav1.OwnerReference) []metav1.OwnerReference {
	if len(refs) == 0 {
		return nil
	}
	out := make([]metav1.OwnerReference, len(refs))
	for i := range refs {
		refs[i].DeepCopyInto(&out[i])
	}
	return out
}

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
