// Package manifests renders the kustomize bases and overlays under config/ in process, with the same library
// kubectl's -k uses, so that tests can check what an install would create without kubectl or a cluster tool.
package manifests

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/konsumerator/konsumerator/internal/testenv"
)

// Dir is the directory of a kustomization under config/, e.g. Dir("default").
func Dir(name string) string {
	return filepath.Join(testenv.RepoRoot(), "config", name)
}

// WriteOverlay writes a kustomization of its own into dir, as a team would to use a base of this repository.
// kustomization is a format whose %s verbs are replaced by the paths of the named config/ directories, relative
// to dir (kustomize refuses absolute ones).
func WriteOverlay(dir, kustomization string, bases ...string) error {
	args := make([]any, len(bases))
	for i, b := range bases {
		rel, err := filepath.Rel(dir, Dir(b))
		if err != nil {
			return err
		}
		args[i] = rel
	}
	return os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(fmt.Sprintf(kustomization, args...)), 0o644)
}

// Render builds the kustomization in dir (on disk) and returns its objects in the order kustomize emits them.
func Render(dir string) ([]*unstructured.Unstructured, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resources, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	out := make([]*unstructured.Unstructured, 0, resources.Size())
	for _, r := range resources.Resources() {
		// Through JSON rather than r.Map(): unstructured objects hold whole numbers as int64, YAML gives int.
		raw, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", dir, r.CurId(), err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", dir, r.CurId(), err)
		}
		out = append(out, u)
	}
	return out, nil
}

// InstallOrder sorts objects so that what others depend on comes first: CRDs and Namespaces (a server-side
// dry run cannot see objects that do not exist), then everything else in its rendered order.
func InstallOrder(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := slices.Clone(objs)
	slices.SortStableFunc(out, func(a, b *unstructured.Unstructured) int { return rank(a) - rank(b) })
	return out
}

func rank(u *unstructured.Unstructured) int {
	switch u.GroupVersionKind().GroupKind().String() {
	case "CustomResourceDefinition.apiextensions.k8s.io":
		return 0
	case "Namespace":
		return 1
	}
	return 2
}

// IsFoundation reports whether u must exist for real before the rest can be checked with a dry run.
func IsFoundation(u *unstructured.Unstructured) bool { return rank(u) < 2 }

// Describe names an object as kubectl does: Kind/namespace/name.
func Describe(u *unstructured.Unstructured) string {
	parts := []string{u.GetKind()}
	if ns := u.GetNamespace(); ns != "" {
		parts = append(parts, ns)
	}
	return strings.Join(append(parts, u.GetName()), "/")
}

// Find returns the rendered objects of a kind (and name, when not empty).
func Find(objs []*unstructured.Unstructured, kind, name string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, u := range objs {
		if u.GetKind() == kind && (name == "" || u.GetName() == name) {
			out = append(out, u)
		}
	}
	return out
}

// ClusterScoped lists the objects whose kind the API server's discovery (mapper) says is cluster-scoped; a kind
// it does not know is an error.
func ClusterScoped(mapper meta.RESTMapper, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, u := range objs {
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", Describe(u), err)
		}
		if m.Scope.Name() == meta.RESTScopeNameRoot {
			out = append(out, u)
		}
	}
	return out, nil
}
