package builder

import (
	"maps"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// DeploymentWrapper builds a Deployment.
type DeploymentWrapper struct{ d appsv1.Deployment }

// Deployment starts a Deployment in DefaultNamespace with one replica, selector and pod labels app=name and one
// container "busybox", owned by nobody.
func Deployment(name string) *DeploymentWrapper {
	replicas := int32(1)
	return &DeploymentWrapper{d: appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: DefaultNamespace, UID: types.UID("uid-" + name), Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "busybox", Image: "busybox"}}},
			},
		},
	}}
}

// From starts from a copy of an existing Deployment, e.g. one a plan created, to change it.
func From(d *appsv1.Deployment) *DeploymentWrapper { return &DeploymentWrapper{d: *d.DeepCopy()} }

// Obj returns a deep copy of the Deployment.
func (w *DeploymentWrapper) Obj() *appsv1.Deployment { return w.d.DeepCopy() }

// Namespace sets the namespace.
func (w *DeploymentWrapper) Namespace(ns string) *DeploymentWrapper { w.d.Namespace = ns; return w }

// UID sets the UID.
func (w *DeploymentWrapper) UID(uid string) *DeploymentWrapper { w.d.UID = types.UID(uid); return w }

// ControlledBy sets the controller owner reference to the owner (replacing any other controller reference).
func (w *DeploymentWrapper) ControlledBy(o model.Owner) *DeploymentWrapper {
	t := true
	var refs []metav1.OwnerReference
	for _, r := range w.d.OwnerReferences {
		if r.Controller == nil || !*r.Controller {
			refs = append(refs, r)
		}
	}
	w.d.OwnerReferences = append(refs, metav1.OwnerReference{APIVersion: o.APIVersion, Kind: string(o.Kind),
		Name: o.Name, UID: o.UID, Controller: &t, BlockOwnerDeletion: &t})
	return w
}

// ControlledByConsumer sets the controller owner reference to a Consumer.
func (w *DeploymentWrapper) ControlledByConsumer(c *konsumeratorv1.Consumer) *DeploymentWrapper {
	return w.ControlledBy(OwnerOf(c))
}

// Annotation sets an annotation.
func (w *DeploymentWrapper) Annotation(k, v string) *DeploymentWrapper {
	if w.d.Annotations == nil {
		w.d.Annotations = map[string]string{}
	}
	w.d.Annotations[k] = v
	return w
}

// Label sets a label on the Deployment.
func (w *DeploymentWrapper) Label(k, v string) *DeploymentWrapper {
	if w.d.Labels == nil {
		w.d.Labels = map[string]string{}
	}
	w.d.Labels[k] = v
	return w
}

// Replicas sets spec.replicas.
func (w *DeploymentWrapper) Replicas(n int32) *DeploymentWrapper { w.d.Spec.Replicas = &n; return w }

// Deleting sets a deletionTimestamp.
func (w *DeploymentWrapper) Deleting(at metav1.Time) *DeploymentWrapper {
	w.d.DeletionTimestamp = &at
	return w
}

// Resources sets a container's requests and limits.
func (w *DeploymentWrapper) Resources(container string, requests, limits corev1.ResourceList) *DeploymentWrapper {
	if c := w.container(container); c != nil {
		c.Resources = corev1.ResourceRequirements{Requests: requests, Limits: limits}
	}
	return w
}

// Request sets one request of a container, as a `kubectl edit` would.
func (w *DeploymentWrapper) Request(container string, name corev1.ResourceName, q string) *DeploymentWrapper {
	if c := w.container(container); c != nil {
		if c.Resources.Requests == nil {
			c.Resources.Requests = corev1.ResourceList{}
		}
		c.Resources.Requests[name] = Resources(string(name) + "=" + q)[name]
	}
	return w
}

// Env sets (or adds) an env var of a container.
func (w *DeploymentWrapper) Env(container, name, value string) *DeploymentWrapper {
	if c := w.container(container); c != nil {
		for i := range c.Env {
			if c.Env[i].Name == name {
				c.Env[i].Value, c.Env[i].ValueFrom = value, nil
				return w
			}
		}
		c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
	}
	return w
}

// Image sets the image of a container.
func (w *DeploymentWrapper) Image(container, image string) *DeploymentWrapper {
	if c := w.container(container); c != nil {
		c.Image = image
	}
	return w
}

func (w *DeploymentWrapper) container(name string) *corev1.Container {
	cs := w.d.Spec.Template.Spec.Containers
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// Selects makes the Deployment select, and its pods carry, exactly the label k=v.
func (w *DeploymentWrapper) Selects(k, v string) *DeploymentWrapper {
	w.d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{k: v}}
	w.d.Spec.Template.Labels = map[string]string{k: v}
	return w
}

// Generation sets metadata.generation.
func (w *DeploymentWrapper) Generation(g int64) *DeploymentWrapper { w.d.Generation = g; return w }

// Available sets a status of a finished rollout with all replicas available.
func (w *DeploymentWrapper) Available() *DeploymentWrapper {
	n := int32(1)
	if w.d.Spec.Replicas != nil {
		n = *w.d.Spec.Replicas
	}
	w.d.Status = appsv1.DeploymentStatus{ObservedGeneration: w.d.Generation, Replicas: n, UpdatedReplicas: n,
		ReadyReplicas: n, AvailableReplicas: n}
	return w
}

// RollingOut sets a status of a rollout in progress: the controller has not yet seen the latest generation.
func (w *DeploymentWrapper) RollingOut() *DeploymentWrapper {
	w.d.Status = appsv1.DeploymentStatus{ObservedGeneration: max(1, w.d.Generation-1), Replicas: 1,
		UpdatedReplicas: 0, UnavailableReplicas: 1}
	if w.d.Generation < 2 {
		w.d.Generation = 2
	}
	return w
}

// OwnerOf is the model.Owner of a Consumer.
func OwnerOf(c *konsumeratorv1.Consumer) model.Owner {
	var ann map[string]string
	if len(c.Annotations) > 0 {
		ann = make(map[string]string, len(c.Annotations))
		for _, k := range slices.Sorted(maps.Keys(c.Annotations)) {
			ann[k] = c.Annotations[k]
		}
	}
	return model.Owner{APIVersion: konsumeratorv1.GroupVersion.String(), Kind: model.OwnerConsumer,
		Namespace: c.Namespace, Name: c.Name, UID: c.UID, Generation: c.Generation, Annotations: ann}
}
