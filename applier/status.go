package applier

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// ConsumerStatusWriter writes the status subresource of a Consumer with server-side apply.
type ConsumerStatusWriter struct {
	Client       client.Client
	FieldManager string
}

// WriteStatus applies the whole status. It forces ownership: the operator is the only author of a Consumer's
// status, and a status left by an earlier operator version (written with update) must not block it.
func (w ConsumerStatusWriter) WriteStatus(ctx context.Context, owner client.Object, status konsumeratorv1.ConsumerStatus) error {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&status)
	if err != nil {
		return fmt.Errorf("converting status: %w", err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"status": m}}
	u.SetAPIVersion(konsumeratorv1.GroupVersion.String())
	u.SetKind("Consumer")
	u.SetNamespace(owner.GetNamespace())
	u.SetName(owner.GetName())
	manager := w.FieldManager
	if manager == "" {
		manager = DefaultStatusFieldManager
	}
	return withRetry(ctx, func() error {
		return w.Client.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(manager), client.ForceOwnership)
	})
}
