package applier

import (
	"context"
	"fmt"
	"maps"
	"strings"

	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// ConfigMapStatusWriter writes a guest-mode Consumer's status as annotations of its ConfigMap.
type ConfigMapStatusWriter struct {
	Client       client.Client
	FieldManager string
}

// WriteStatus applies the status annotations when they differ from those the ConfigMap has. Annotations carry no
// transition times, so an unchanged status costs no write.
func (w ConfigMapStatusWriter) WriteStatus(ctx context.Context, owner client.Object, status konsumeratorv1.ConsumerStatus) error {
	want := model.StatusAnnotations(status)
	have := map[string]string{}
	for k, v := range owner.GetAnnotations() {
		if strings.HasPrefix(k, model.StatusAnnotationPrefix) {
			have[k] = v
		}
	}
	if maps.Equal(want, have) {
		return nil
	}
	manager := w.FieldManager
	if manager == "" {
		manager = DefaultStatusFieldManager
	}
	// The UID makes the write fail instead of creating an empty ConfigMap when the owner was deleted meanwhile.
	cm := corev1ac.ConfigMap(owner.GetName(), owner.GetNamespace()).WithUID(owner.GetUID()).WithAnnotations(want)
	if err := withRetry(ctx, func() error {
		return w.Client.Apply(ctx, cm, client.FieldOwner(manager), client.ForceOwnership)
	}); err != nil {
		return fmt.Errorf("writing status annotations: %w", err)
	}
	return nil
}
