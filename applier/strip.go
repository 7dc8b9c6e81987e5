package applier

import (
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// typeConverter knows the schema of the built-in types, the same one the API server uses to compute field
// ownership; it is built once, on the first object that needs stripping.
var typeConverter = sync.OnceValue(func() managedfields.TypeConverter {
	return applyconfigurations.NewTypeConverter(clientgoscheme.Scheme)
})

// yieldedFields are the fields of an instance left to other managers (conflict policy respect): those the
// observed Deployment records and those the object to apply records.
func yieldedFields(desired *appsv1ac.DeploymentApplyConfiguration, observed *appsv1.Deployment) []string {
	var out []string
	if observed != nil {
		out = konsumeratorv1.YieldedFields(observed.Annotations[konsumeratorv1.AnnotationYieldedFields])
	}
	if desired.ObjectMetaApplyConfiguration != nil {
		out = append(out, konsumeratorv1.YieldedFields(desired.Annotations[konsumeratorv1.AnnotationYieldedFields])...)
	}
	return out
}

// withoutFields is desired without the given fields, and with them listed in the yielded-fields annotation so
// that the planner does not count them as drift. The fields are server-side apply paths as the API server names
// them in a conflict (.spec.template.spec.containers[name="main"].resources.requests.cpu); each is matched
// against the object's own field set, so keys with dots or commas need no parsing here. A field the object does
// not set is simply not there to remove.
//
// The plan's object is not changed: the planner may share parts of it between actions.
func withoutFields(desired *appsv1ac.DeploymentApplyConfiguration, fields []string) (runtime.ApplyConfiguration, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(desired)
	if err != nil {
		return nil, fmt.Errorf("converting the desired object: %w", err)
	}
	obj := &unstructured.Unstructured{Object: m}
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[konsumeratorv1.AnnotationYieldedFields] = konsumeratorv1.JoinYieldedFields(
		append(konsumeratorv1.YieldedFields(annotations[konsumeratorv1.AnnotationYieldedFields]), fields...))
	obj.SetAnnotations(annotations)

	tv, err := typeConverter().ObjectToTyped(obj)
	if err != nil {
		return nil, fmt.Errorf("typing the desired object: %w", err)
	}
	own, err := tv.ToFieldSet()
	if err != nil {
		return nil, fmt.Errorf("listing the fields of the desired object: %w", err)
	}
	wanted := make(map[string]bool, len(fields))
	for _, f := range fields {
		wanted[f] = true
	}
	remove := &fieldpath.Set{}
	own.Iterate(func(p fieldpath.Path) {
		if wanted[p.String()] {
			remove.Insert(p)
		}
	})
	if remove.Empty() {
		return client.ApplyConfigurationFromUnstructured(obj), nil
	}
	out, err := typeConverter().TypedToObject(tv.RemoveItems(remove))
	if err != nil {
		return nil, fmt.Errorf("rebuilding the desired object: %w", err)
	}
	u, ok := out.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("rebuilding the desired object: got %T", out)
	}
	return client.ApplyConfigurationFromUnstructured(u), nil
}

// withUID is desired with a UID precondition, on a shallow copy: only the metadata struct is copied, so the
// plan's object and what it shares with other actions stay untouched.
func withUID(desired *appsv1ac.DeploymentApplyConfiguration, uid types.UID) *appsv1ac.DeploymentApplyConfiguration {
	out := *desired
	var meta metav1ac.ObjectMetaApplyConfiguration
	if desired.ObjectMetaApplyConfiguration != nil {
		meta = *desired.ObjectMetaApplyConfiguration
	}
	meta.UID = &uid
	out.ObjectMetaApplyConfiguration = &meta
	return &out
}
