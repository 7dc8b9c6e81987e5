package builder

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/konsumerator/konsumerator/model"
)

// WithPods returns a copy of s in which every Deployment has a ReplicaSet and its replicas as running pods, as the
// Deployment and ReplicaSet controllers and a kubelet that resizes in place would leave them: the pods have the
// template's containers and resources and report those resources in their status. Existing pods and
// ReplicaSets are replaced.
func WithPods(s *model.Snapshot) *model.Snapshot {
	out := *s
	out.ReplicaSets, out.Pods = nil, nil
	for i := range s.Deployments {
		d := &s.Deployments[i]
		rs := ReplicaSetFor(d, 1)
		out.ReplicaSets = append(out.ReplicaSets, rs)
		replicas := int32(1)
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		for r := int32(0); r < replicas; r++ {
			out.Pods = append(out.Pods, *PodFor(d, &rs, fmt.Sprintf("%s-%d", rs.Name, r)))
		}
	}
	return &out
}

// ReplicaSetFor is the metadata of a ReplicaSet of revision rev controlled by d.
func ReplicaSetFor(d *appsv1.Deployment, rev int) metav1.PartialObjectMetadata {
	name := fmt.Sprintf("%s-rs%d", d.Name, rev)
	return metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: d.Namespace, UID: types.UID("uid-" + name),
			Labels:      d.Spec.Template.Labels,
			Annotations: map[string]string{"deployment.kubernetes.io/revision": fmt.Sprint(rev)},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name,
				UID: d.UID, Controller: ptr.To(true)}},
		}}
}

// PodFor is a running pod of rs, made from d's template, whose containers report their resources.
func PodFor(d *appsv1.Deployment, rs *metav1.PartialObjectMetadata, name string) *corev1.Pod {
	p := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: d.Namespace, UID: types.UID("uid-" + name),
			Labels: d.Spec.Template.Labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name,
				UID: rs.UID, Controller: ptr.To(true)}},
		},
		Spec:   corev1.PodSpec{NodeName: "node-1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c.Name, Resources: *c.Resources.DeepCopy(),
			ResizePolicy: c.ResizePolicy})
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: c.Name,
			Ready: true, Started: ptr.To(true), Resources: c.Resources.DeepCopy(),
			AllocatedResources: c.Resources.DeepCopy().Requests,
			State:              corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}})
	}
	return p
}
