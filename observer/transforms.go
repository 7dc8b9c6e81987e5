package observer

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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

// Deployment drops the managed fields (read from the API server's answers, never from the cache, and a large
// part of each object) and shares the resource lists of the pod template's containers. It changes the object
// it is given, which the informer has just decoded and hands to no one else. Anything but a Deployment passes
// unchanged.
func (t *Transforms) Deployment(in any) (any, error) {
	d, ok := in.(*appsv1.Deployment)
	if !ok {
		return in, nil
	}
	d.ManagedFields = nil
	for _, cs := range [][]corev1.Container{d.Spec.Template.Spec.InitContainers, d.Spec.Template.Spec.Containers} {
		for i := range cs {
			cs[i].Resources = t.lists.Requirements(cs[i].Resources)
		}
	}
	return d, nil
}
