package observer

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// Transforms are the cache's transforms (cache.ByObject.Transform) of the Pods and Deployments of instances.
// They share one Interner, so that the equal resource lists of every pod and Deployment are one map.
type Transforms struct {
	lists Interner
}

// Pod is TrimPod with the resource lists shared. Anything but a Pod passes unchanged.
func (t *Transforms) Pod(in any) (any, error) {
	if p, ok := in.(*corev1.Pod); ok {
		return trimPod(p, &t.lists), nil
	}
	return in, nil
}

// Deployment is TrimDeployment with the resource lists shared, done on the object it is given, which the
// informer has just decoded and hands to no one else. Anything but a Deployment passes unchanged.
func (t *Transforms) Deployment(in any) (any, error) {
	d, ok := in.(*appsv1.Deployment)
	if !ok {
		return in, nil
	}
	trimDeployment(d, &t.lists)
	return d, nil
}

// Consumer is the cache's transform of Consumers: without managed fields and without the copy of the whole
// manifest that kubectl apply (and the GitOps tools built on it) keeps in an annotation, which doubles what such a
// Consumer costs the cache. Nothing reads either from the cache, and the operator writes only a Consumer's
// status, never the object, so the annotation is not lost. Done on the object it is given, which the informer has
// just decoded and hands to no one else. Anything but a Consumer passes with its managed fields dropped.
func (t *Transforms) Consumer(in any) (any, error) {
	out, err := stripManagedFields(in)
	if c, ok := out.(*konsumeratorv1.Consumer); ok {
		delete(c.Annotations, corev1.LastAppliedConfigAnnotation)
	}
	return out, err
}

// stripManagedFields is the cache's default transform, which a per-kind transform replaces.
var stripManagedFields = cache.TransformStripManagedFields()

// TrimDeployment is a copy of d with what the operator reads of an instance: its metadata but the managed fields
// (read from the API server's answers, never from the cache); the replicas and the selector; the pod template's
// labels and annotations and, of each container, the name, environment, resources and resizePolicy; and the
// status. The rest of the template (image, command, probes, volumes, the API server's defaults) is compared
// through the spec-hash annotation, never field by field, so a cached instance does not hold a copy of it:
// with a real template it is most of the object. TestTrimmedDeploymentsPlanTheSame holds the planner to it.
func TrimDeployment(d *appsv1.Deployment) *appsv1.Deployment {
	out := d.DeepCopy()
	trimDeployment(out, nil)
	return out
}

// TrimSnapshot is s with its Deployments as the cache holds them (TrimDeployment), for tests that hold the
// planner to planning the same from them.
func TrimSnapshot(s *model.Snapshot) *model.Snapshot {
	out := *s
	out.Deployments = make([]appsv1.Deployment, len(s.Deployments))
	for i := range s.Deployments {
		out.Deployments[i] = *TrimDeployment(&s.Deployments[i])
	}
	return &out
}

// trimDeployment trims d in place; with lists, its resource lists are shared.
func trimDeployment(d *appsv1.Deployment, lists *Interner) {
	d.ManagedFields = nil
	d.Spec = appsv1.DeploymentSpec{
		Replicas: d.Spec.Replicas,
		Selector: d.Spec.Selector,
		Paused:   d.Spec.Paused,
		Template: corev1.PodTemplateSpec{
			ObjectMeta: d.Spec.Template.ObjectMeta,
			Spec: corev1.PodSpec{
				InitContainers: templateContainers(d.Spec.Template.Spec.InitContainers, lists),
				Containers:     templateContainers(d.Spec.Template.Spec.Containers, lists),
			},
		},
	}
}

// templateContainers keeps, of each container of a pod template, what the planner compares.
func templateContainers(cs []corev1.Container, lists *Interner) []corev1.Container {
	if len(cs) == 0 {
		return nil
	}
	out := make([]corev1.Container, len(cs))
	for i := range cs {
		out[i] = corev1.Container{Name: cs[i].Name, Env: cs[i].Env, Resources: cs[i].Resources, ResizePolicy: cs[i].ResizePolicy}
		if lists != nil {
			out[i].Resources = lists.Requirements(out[i].Resources)
		}
	}
	return out
}
