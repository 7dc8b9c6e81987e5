package observer

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/specvalidation"
	"github.com/konsumerator/konsumerator/model"
)

// ConsumerSpecKey is the ConfigMap key that holds a guest-mode Consumer spec (the original's example used it).
const ConsumerSpecKey = "consumer.yaml"

// IsManaged reports whether a ConfigMap holds a guest-mode Consumer.
func IsManaged(cm *corev1.ConfigMap) bool {
	_, ok := cm.Annotations[konsumeratorv1.AnnotationManaged]
	return ok
}

// FromConfigMap reads a guest-mode Consumer. A spec that cannot be used is reported in SpecError, with the
// ConfigMap still the owner, so that the planner leaves its running instances alone and says why.
func FromConfigMap(ctx context.Context, cm *corev1.ConfigMap) Owned {
	owned := Owned{
		Owner: model.Owner{
			APIVersion:  "v1",
			Kind:        model.OwnerConfigMap,
			Namespace:   cm.Namespace,
			Name:        cm.Name,
			UID:         cm.UID,
			Generation:  cm.Generation,
			Annotations: cm.Annotations,
		},
		Status: model.StatusFromAnnotations(cm.Annotations),
	}
	raw, err := specData(cm)
	if err != nil {
		owned.SpecError = err.Error()
		return owned
	}
	spec, err := specvalidation.Consumer(ctx, raw)
	if err != nil {
		owned.SpecError = err.Error()
		return owned
	}
	owned.Spec = spec
	return owned
}

// specData picks the key holding the spec: consumer.yaml, or the only key. Several keys without consumer.yaml is
// an error rather than a guess (the original took a random one).
func specData(cm *corev1.ConfigMap) ([]byte, error) {
	if v, ok := cm.Data[ConsumerSpecKey]; ok {
		return []byte(v), nil
	}
	switch len(cm.Data) {
	case 0:
		return nil, fmt.Errorf("ConfigMap has no data: put the Consumer spec under the key %q", ConsumerSpecKey)
	case 1:
		for _, v := range cm.Data {
			return []byte(v), nil
		}
	}
	keys := make([]string, 0, len(cm.Data))
	for k := range cm.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return nil, fmt.Errorf("ConfigMap has several keys (%s) and none is %q: put the Consumer spec under %q",
		strings.Join(keys, ", "), ConsumerSpecKey, ConsumerSpecKey)
}
