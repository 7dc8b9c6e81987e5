package planner

import (
	"encoding/json"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// Apply is a fake, pure apply of a plan to a snapshot: the desired objects of creates and updates become the
// Deployments (an update keeps annotations and labels the operator does not own, and the observed status),
// deletes are removed, and the status becomes the planned one. The input is not changed. Tests use it to check
// that planning again after a plan is carried out changes nothing.
func Apply(s *model.Snapshot, p model.Plan) *model.Snapshot {
	out := cloneSnapshot(s)
	byName := make(map[string]int, len(out.Deployments))
	for i := range out.Deployments {
		if _, dup := byName[out.Deployments[i].Name]; !dup {
			byName[out.Deployments[i].Name] = i // the first of a name, as the planner reads them
		}
	}
	removed := map[string]bool{}
	for _, a := range p.Actions {
		switch a.Kind {
		case model.ActionResize:
			resizePod(out, a)
		case model.ActionDeletePod:
			kept := out.Pods[:0]
			for _, pod := range out.Pods {
				if pod.Name != a.Name || pod.UID != a.UID {
					kept = append(kept, pod)
				}
			}
			out.Pods = kept
		case model.ActionDelete:
			removed[a.Name] = true
		case model.ActionCreate, model.ActionUpdate:
			want := fromApplyConfiguration(a)
			if want == nil {
				continue
			}
			i, ok := byName[a.Name]
			if !ok {
				want.UID = types.UID("uid-" + a.Name)
				want.Generation, want.ResourceVersion = 1, "1"
				out.Deployments = append(out.Deployments, *want)
				byName[a.Name] = len(out.Deployments) - 1
				continue
			}
			live := &out.Deployments[i]
			merged := want.DeepCopy()
			merged.UID, merged.Generation, merged.Status = live.UID, live.Generation+1, live.Status
			merged.ResourceVersion = nextVersion(live.ResourceVersion)
			merged.Labels = mergeMaps(live.Labels, want.Labels)
			merged.Annotations = mergeMaps(live.Annotations, want.Annotations)
			for _, k := range []string{konsumeratorv1.AnnotationResources, konsumeratorv1.AnnotationScaleDownMarginSince} {
				if _, ok := want.Annotations[k]; !ok {
					delete(merged.Annotations, k) // owned before, no longer applied
				}
			}
			rolled := !equality.Semantic.DeepEqual(live.Spec.Template, merged.Spec.Template)
			*live = *merged
			if rolled {
				rollPods(out, live)
			}
		}
	}
	kept := out.Deployments[:0]
	for _, d := range out.Deployments {
		if !removed[d.Name] {
			kept = append(kept, d)
		}
	}
	out.Deployments = kept
	sort.Slice(out.Deployments, func(i, j int) bool { return out.Deployments[i].Name < out.Deployments[j].Name })
	out.Status = *p.Status.DeepCopy()
	return out
}

// resizePod carries out a resize as a kubelet that accepts it would: the pod's spec and its containers' reported
// resources take the new values; the pod stays the same (UID, restart counts).
func resizePod(s *model.Snapshot, a model.Action) {
	for i := range s.Pods {
		pod := &s.Pods[i]
		if pod.Name != a.Name || pod.UID != a.UID || a.Resize == nil {
			continue
		}
		for _, c := range a.Resize.Containers {
			if c.Index >= len(pod.Spec.Containers) || pod.Spec.Containers[c.Index].Name != c.Name {
				continue
			}
			pod.Spec.Containers[c.Index].Resources = *c.Resources.DeepCopy()
			for j := range pod.Status.ContainerStatuses {
				if cs := &pod.Status.ContainerStatuses[j]; cs.Name == c.Name {
					cs.Resources = c.Resources.DeepCopy()
					cs.AllocatedResources = c.Resources.DeepCopy().Requests
				}
			}
		}
		pod.ResourceVersion = nextVersion(pod.ResourceVersion)
	}
}

// rollPods replaces the pods of a Deployment whose template changed, as the Deployment controller, a new
// ReplicaSet and a kubelet that resizes in place would: new pods (new UIDs) at the template's resources. Only a
// snapshot that has pods of the Deployment gets new ones.
func rollPods(s *model.Snapshot, d *appsv1.Deployment) {
	var rs *metav1.PartialObjectMetadata
	rev := int64(0)
	for i := range s.ReplicaSets {
		if ref := controllerOf(s.ReplicaSets[i].OwnerReferences); ref != nil && ref.UID == d.UID {
			if n, _ := parseRevision(s.ReplicaSets[i].Annotations[revisionAnnotation]); n >= rev {
				rev, rs = n, &s.ReplicaSets[i]
			}
		}
	}
	if rs == nil {
		return
	}
	next := rs.DeepCopy()
	rev++
	next.Name = d.Name + "-rs" + strconv.FormatInt(rev, 10)
	next.UID = types.UID("uid-" + next.Name)
	next.Annotations = mergeMaps(next.Annotations, map[string]string{revisionAnnotation: strconv.FormatInt(rev, 10)})
	kept := s.Pods[:0]
	var replaced []corev1.Pod
	for _, p := range s.Pods {
		if ref := controllerOf(p.OwnerReferences); ref != nil && ref.UID == rs.UID {
			replaced = append(replaced, p)
			continue
		}
		kept = append(kept, p)
	}
	for i, old := range replaced {
		p := old.DeepCopy()
		p.Name = next.Name + "-" + strconv.Itoa(i)
		p.UID = types.UID("uid-" + p.Name)
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: next.Name,
			UID: next.UID, Controller: rs.OwnerReferences[0].Controller}}
		p.Spec.Containers = nil
		p.Status.ContainerStatuses = nil
		p.Status.Conditions = nil
		for _, c := range d.Spec.Template.Spec.Containers {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c.Name,
				Resources: *c.Resources.DeepCopy(), ResizePolicy: c.ResizePolicy})
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: c.Name,
				Ready: true, Resources: c.Resources.DeepCopy(), AllocatedResources: c.Resources.DeepCopy().Requests,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}})
		}
		kept = append(kept, *p)
	}
	s.Pods = kept
	s.ReplicaSets = append(s.ReplicaSets, *next)
	sort.Slice(s.Pods, func(i, j int) bool { return s.Pods[i].Name < s.Pods[j].Name })
}

// nextVersion stands in for the API server's resourceVersion, which changes with every write.
func nextVersion(rv string) string {
	n, _ := strconv.ParseInt(rv, 10, 64)
	return strconv.FormatInt(n+1, 10)
}

func fromApplyConfiguration(a model.Action) *appsv1.Deployment {
	if a.Desired == nil {
		return nil
	}
	raw, err := json.Marshal(a.Desired)
	if err != nil {
		return nil
	}
	d := &appsv1.Deployment{}
	if err := json.Unmarshal(raw, d); err != nil {
		return nil
	}
	return d
}

func mergeMaps(live, want map[string]string) map[string]string {
	out := make(map[string]string, len(live)+len(want))
	for k, v := range live {
		out[k] = v
	}
	for k, v := range want {
		out[k] = v
	}
	return out
}

// cloneSnapshot copies everything Apply may change, and the rest deeply enough that the copy shares nothing
// mutable with the original.
func cloneSnapshot(s *model.Snapshot) *model.Snapshot {
	out := *s
	out.Spec = *s.Spec.DeepCopy()
	out.Status = *s.Status.DeepCopy()
	out.Owner.Annotations = mergeMaps(nil, s.Owner.Annotations)
	out.Deployments = make([]appsv1.Deployment, len(s.Deployments))
	for i := range s.Deployments {
		s.Deployments[i].DeepCopyInto(&out.Deployments[i])
	}
	out.ReplicaSets = make([]metav1.PartialObjectMetadata, len(s.ReplicaSets))
	for i := range s.ReplicaSets {
		s.ReplicaSets[i].DeepCopyInto(&out.ReplicaSets[i])
	}
	out.Pods = make([]corev1.Pod, len(s.Pods))
	for i := range s.Pods {
		s.Pods[i].DeepCopyInto(&out.Pods[i])
	}
	if s.Metrics != nil {
		m := *s.Metrics
		m.Partitions = append([]model.PartitionMetrics(nil), s.Metrics.Partitions...)
		m.Problems = append([]string(nil), s.Metrics.Problems...)
		out.Metrics = &m
	}
	return &out
}
