package observer

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SecretKeys reads the one key of the one Secret a Consumer names for its metrics source, in the Consumer's own
// namespace (the metrics cache passes the owner's namespace; a Secret reference has no namespace of its own).
// Secrets are read live, one GET by name: caching every Secret of the cluster would cost memory and a list and
// watch permission on all of them.
type SecretKeys struct {
	Reader client.Reader
	// Namespaces, when not empty, are the only namespaces Secrets are read from (--secret-namespaces). A
	// Consumer elsewhere that names a Secret gets a clear error and no request is sent.
	Namespaces []string
}

// GetSecretKey implements metrics.SecretGetter.
func (s SecretKeys) GetSecretKey(ctx context.Context, namespace, name, key string) ([]byte, error) {
	if len(s.Namespaces) > 0 && !slices.Contains(s.Namespaces, namespace) {
		return nil, fmt.Errorf("the operator does not read Secrets in namespace %s (--secret-namespaces)", namespace)
	}
	var secret corev1.Secret
	if err := s.Reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &secret); err != nil {
		return nil, err
	}
	v, ok := secret.Data[key]
	if !ok {
		return nil, fmt.Errorf("secret %s/%s has no key %q", namespace, name, key)
	}
	return v, nil
}
