package lag_test

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/observer/lag"
)

// The operator builds one Cache at start-up, registers its metrics with controller-runtime's registry, and
// gives it Secrets through an uncached reader (so it does not watch every Secret in the cluster).
func ExampleNewCache() {
	var secretsReader client.Reader // mgr.GetAPIReader()
	cache, err := lag.NewCache(lag.Options{
		Registerer: ctrlmetrics.Registry,
		Secrets: lag.SecretGetterFunc(func(ctx context.Context, namespace, name, key string) ([]byte, error) {
			var secret corev1.Secret
			if err := secretsReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &secret); err != nil {
				return nil, err
			}
			value, ok := secret.Data[key]
			if !ok {
				return nil, fmt.Errorf("secret %q has no key %q", name, key)
			}
			return value, nil
		}),
	})
	if err != nil {
		panic(err)
	}

	// In the observer, once per reconcile:
	var consumer konsumeratorv1.Consumer
	key := lag.Key{Namespace: consumer.Namespace, Name: consumer.Name, UID: consumer.UID}
	if consumer.Spec.Autoscaler != nil && consumer.Spec.Autoscaler.Prometheus != nil {
		sample := cache.Sample(context.TODO(), key, consumer.Spec.Autoscaler.Prometheus, consumer.Spec.NumPartitions)
		_ = sample // goes into model.Snapshot.Metrics
	}

	// When the Consumer is gone (its UID may no longer be known):
	cache.Forget(lag.Key{Namespace: "team-a", Name: "orders"})
}
