package manifests_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/manifests"
	"github.com/konsumerator/konsumerator/internal/scheme"
	"github.com/konsumerator/konsumerator/internal/testenv"
)

// TestInstanceWritesUnderOwnerReferencesPermissionEnforcement runs an API server with the admission plugin some
// distributions (OpenShift) enable, installs each overlay's RBAC, and makes the operator's instance writes as
// its ServiceAccount: a Deployment whose owner reference has blockOwnerDeletion, which that plugin allows only
// to whoever may update the owner's finalizers. The writes are dry runs, so nothing but RBAC is exercised.
func TestInstanceWritesUnderOwnerReferencesPermissionEnforcement(t *testing.T) {
	assets, err := testenv.Assets()
	if err != nil {
		t.Fatal(err)
	}
	e := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(testenv.RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	e.ControlPlane.GetAPIServer().Configure().Append("enable-admission-plugins", "OwnerReferencesPermissionEnforcement")
	cfg, err := e.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	s := scheme.New()
	admin, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("guest", func(t *testing.T) {
		ctx := t.Context()
		const ns = "team-a"
		installRBAC(ctx, t, admin, tempOverlay(t, "namespace: "+ns+"\nresources:\n  - %s\n", "guest"), ns)
		owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: ns,
			Annotations: map[string]string{konsumeratorv1.AnnotationManaged: "true"}}}
		if err := admin.Create(ctx, owner); err != nil {
			t.Fatal(err)
		}
		sa := asServiceAccount(t, cfg, s, ns)
		checkInstanceWrite(ctx, t, sa, ns, metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID})
	})

	t.Run("default", func(t *testing.T) {
		ctx := t.Context()
		const home, apps = "konsumerator-system", "payments"
		installRBAC(ctx, t, admin, manifests.Dir("default"), home)
		ensureNamespaceWith(ctx, t, admin, apps)
		var role rbacv1.ClusterRole
		if err := admin.Get(ctx, types.NamespacedName{Name: "konsumerator"}, &role); err != nil {
			t.Fatal(err)
		}
		if !grants(role.Rules, konsumeratorv1.GroupVersion.Group, "consumers/finalizers", "update") {
			t.Fatal("the ClusterRole must allow update on consumers/finalizers to set blockOwnerDeletion " +
				"(the RBAC marker in controller/reconciler.go)")
		}
		owner := &konsumeratorv1.Consumer{ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: apps},
			Spec: konsumeratorv1.ConsumerSpec{NumPartitions: 1, Name: "orders", DeploymentTemplate: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "orders"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "orders"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}}
		if err := admin.Create(ctx, owner); err != nil {
			t.Fatal(err)
		}
		sa := asServiceAccount(t, cfg, s, home)
		checkInstanceWrite(ctx, t, sa, apps, metav1.OwnerReference{APIVersion: konsumeratorv1.GroupVersion.String(),
			Kind: "Consumer", Name: owner.Name, UID: owner.UID})
	})
}

func installRBAC(ctx context.Context, t *testing.T, c client.Client, dir, namespace string) {
	t.Helper()
	ensureNamespaceWith(ctx, t, c, namespace)
	for _, u := range render(t, dir) {
		switch u.GetKind() {
		case "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding":
			if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(manifests.FieldOwner)); err != nil {
				t.Fatalf("applying %s: %v", manifests.Describe(u), err)
			}
		}
	}
}

func ensureNamespaceWith(ctx context.Context, t *testing.T, c client.Client, name string) {
	t.Helper()
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": name}}}
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(ns), client.FieldOwner(manifests.FieldOwner)); err != nil {
		t.Fatal(err)
	}
}

func asServiceAccount(t *testing.T, cfg *rest.Config, s *runtime.Scheme, namespace string) client.Client {
	t.Helper()
	imp := rest.CopyConfig(cfg)
	imp.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + namespace + ":konsumerator",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}}
	c, err := client.New(imp, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkInstanceWrite applies an instance as the operator does (server-side apply, owner reference with
// controller and blockOwnerDeletion), retrying while the new RBAC bindings propagate to the authorizer.
func checkInstanceWrite(ctx context.Context, t *testing.T, c client.Client, namespace string, owner metav1.OwnerReference) {
	t.Helper()
	yes := true
	owner.Controller, owner.BlockOwnerDeletion = &yes, &yes
	d := &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "orders-0", Namespace: namespace,
			Labels:          map[string]string{konsumeratorv1.LabelConsumer: "orders", konsumeratorv1.LabelInstance: "orders-0"},
			OwnerReferences: []metav1.OwnerReference{owner}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{konsumeratorv1.LabelInstance: "orders-0"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{konsumeratorv1.LabelInstance: "orders-0"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: raw}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "status")
	var last error
	for range 50 {
		last = c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), client.FieldOwner("konsumerator"),
			client.DryRunAll)
		if last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Errorf("applying an instance as the operator's ServiceAccount: %v", last)
}

// grants reports whether rules allow verb on resource in group, by name (the roles have no wildcards).
func grants(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	for _, r := range rules {
		if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
			return true
		}
	}
	return false
}
