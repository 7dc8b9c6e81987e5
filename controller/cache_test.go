package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
)

// Managed fields are a large part of every cached instance and nothing reads them from the cache.
func TestCacheKeepsNoManagedFields(t *testing.T) {
	d := builder.Deployment("bench-0").Obj()
	d.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "konsumerator", Operation: metav1.ManagedFieldsOperationApply}}
	out, err := CacheOptions().DefaultTransform(d)
	if err != nil {
		t.Fatal(err)
	}
	if mf := out.(metav1.Object).GetManagedFields(); len(mf) != 0 {
		t.Errorf("cached managed fields: %v", mf)
	}
}

// kubectl apply keeps a copy of the whole manifest in an annotation; the cache keeps neither it nor the managed
// fields of a Consumer, and keeps the annotations the planner reads.
func TestCacheKeepsNoManifestCopyOfConsumers(t *testing.T) {
	c := builder.Consumer("orders").Obj()
	c.Annotations = map[string]string{
		corev1.LastAppliedConfigAnnotation:         `{"apiVersion":"konsumerator.lwolf.org/v1","kind":"Consumer"}`,
		konsumeratorv1.AnnotationDisableAutoscaler: "true",
	}
	c.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl-client-side-apply", Operation: metav1.ManagedFieldsOperationUpdate}}
	for name, opts := range map[string]cache.Options{
		"all Consumers":          CacheOptions(),
		"restricted by selector": Watch{Selector: labels.SelectorFromSet(labels.Set{"team": "a"})}.Restrict(CacheOptions()),
	} {
		t.Run(name, func(t *testing.T) {
			var by []cache.ByObject
			for obj, b := range opts.ByObject {
				if _, ok := obj.(*konsumeratorv1.Consumer); ok {
					by = append(by, b)
				}
			}
			if len(by) != 1 || by[0].Transform == nil {
				t.Fatalf("want one Consumer entry with a transform, got %d: %+v", len(by), by)
			}
			if name == "restricted by selector" && (by[0].Label == nil || by[0].Label.String() != "team=a") {
				t.Errorf("the selector is lost: %v", by[0].Label)
			}
			out, err := by[0].Transform(c.DeepCopy())
			if err != nil {
				t.Fatal(err)
			}
			got := out.(*konsumeratorv1.Consumer)
			if _, ok := got.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
				t.Error("the last-applied manifest is cached")
			}
			if got.Annotations[konsumeratorv1.AnnotationDisableAutoscaler] != "true" {
				t.Errorf("annotations the planner reads are lost: %v", got.Annotations)
			}
			if len(got.ManagedFields) != 0 {
				t.Errorf("cached managed fields: %v", got.ManagedFields)
			}
		})
	}
}
