package manifests

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldOwner is the field manager of what the install checks apply.
const FieldOwner = "manifests-test"

// Apply server-side applies u, or only checks it with a server-side dry run.
func Apply(ctx context.Context, c client.Client, u *unstructured.Unstructured, dryRun bool) error {
	opts := []client.ApplyOption{client.FieldOwner(FieldOwner), client.ForceOwnership}
	if dryRun {
		opts = append(opts, client.DryRunAll)
	}
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), opts...)
}

// EnsureNamespace creates a namespace unless it exists.
func EnsureNamespace(ctx context.Context, c client.Client, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// Install applies the foundation (CRDs, Namespaces) for real, waits for CRDs to be served, creates the
// namespaces the rest needs but does not bring (guest mode and Helm install into an existing namespace), then
// checks every other object with a server-side dry-run apply. It returns the objects checked with the dry run
// and every failure, one per object.
func Install(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	var rest []*unstructured.Unstructured
	var errs []error
	for _, u := range InstallOrder(objs) {
		if !IsFoundation(u) {
			rest = append(rest, u)
			continue
		}
		if err := Apply(ctx, c, u, false); err != nil {
			errs = append(errs, fmt.Errorf("applying %s: %w", Describe(u), err))
			continue
		}
		if u.GetKind() == "CustomResourceDefinition" {
			if err := WaitEstablished(ctx, c, u.GetName()); err != nil {
				return rest, errors.Join(append(errs, err)...)
			}
		}
	}
	for _, u := range rest {
		if ns := u.GetNamespace(); ns != "" {
			if err := EnsureNamespace(ctx, c, ns); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, u := range rest {
		if err := Apply(ctx, c, u, true); err != nil {
			errs = append(errs, fmt.Errorf("server-side dry run of %s: %w", Describe(u), err))
		}
	}
	return rest, errors.Join(errs...)
}

// WaitEstablished waits until the API server serves the CRD name, and makes the client's RESTMapper, which
// learns new kinds lazily, ask again.
func WaitEstablished(ctx context.Context, c client.Client, name string) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		if err := c.Get(ctx, types.NamespacedName{Name: name}, crd); err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, cond := range conds {
			m, _ := cond.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("CRD %s not established: %w", name, err)
	}
	meta.MaybeResetRESTMapper(c.RESTMapper())
	return nil
}

// InstallServiceMonitorCRD installs a schemaless stand-in for the Prometheus Operator's ServiceMonitor CRD:
// enough to check that a ServiceMonitor is well formed and lands in the right namespace.
func InstallServiceMonitorCRD(ctx context.Context, c client.Client) error {
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "servicemonitors.monitoring.coreos.com"},
		"spec": map[string]any{
			"group": "monitoring.coreos.com",
			"names": map[string]any{"plural": "servicemonitors", "singular": "servicemonitor",
				"kind": "ServiceMonitor", "listKind": "ServiceMonitorList"},
			"scope": "Namespaced",
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	if err := c.Create(ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return WaitEstablished(ctx, c, crd.GetName())
}
