package controller

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
