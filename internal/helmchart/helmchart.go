// Package helmchart renders the Helm chart under charts/ in process with the Helm SDK, as `helm install` would,
// so that tests can hold it to config/ and check it against a real API server without a helm binary.
//
// Only the SDK's loader, values and template engine are used: its install action would bring kubectl and
// registry clients into the build for nothing a test needs.
package helmchart

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/konsumerator/konsumerator/internal/testenv"
)

// Dir is the directory of the operator's chart.
func Dir() string {
	return filepath.Join(testenv.RepoRoot(), "charts", "konsumerator")
}

// Release is what `helm install NAME --namespace NAMESPACE --set ...` says.
type Release struct {
	Name, Namespace string
	// Values override the chart's values.yaml, as --values files or --set do.
	Values map[string]any
}

// Rendered is what an install creates: the objects of templates/, and the CRDs of crds/ (see CRDs).
type Rendered struct {
	Chart   *chart.Chart
	Objects []*unstructured.Unstructured
	// Notes is the rendered NOTES.txt.
	Notes string
}

// Render loads the chart in dir and renders it for rel, validating the values against values.schema.json.
// Objects come in template file order, then document order.
func Render(dir string, rel Release) (*Rendered, error) {
	ch, err := loader.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("loading chart %s: %w", dir, err)
	}
	opts := chartutil.ReleaseOptions{Name: rel.Name, Namespace: rel.Namespace, Revision: 1, IsInstall: true}
	vals, err := chartutil.ToRenderValues(ch, rel.Values, opts, chartutil.DefaultCapabilities.Copy())
	if err != nil {
		return nil, fmt.Errorf("values of chart %s: %w", ch.Name(), err)
	}
	files, err := engine.Render(ch, vals)
	if err != nil {
		return nil, fmt.Errorf("rendering chart %s: %w", ch.Name(), err)
	}
	out := &Rendered{Chart: ch}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		base := filepath.Base(name)
		switch {
		case base == "NOTES.txt":
			out.Notes = files[name]
			continue
		case strings.HasPrefix(base, "_"), !strings.HasSuffix(base, ".yaml") && !strings.HasSuffix(base, ".yml"):
			continue
		}
		objs, err := Decode([]byte(files[name]))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out.Objects = append(out.Objects, objs...)
	}
	return out, nil
}

// CRDs decodes the CRDs of crds/, which Helm applies first, unless --skip-crds, and never templates. Not part of
// Render: the CRD is half a megabyte of YAML that most checks do not need.
func (r *Rendered) CRDs() ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, crd := range r.Chart.CRDObjects() {
		objs, err := Decode(crd.File.Data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", crd.Filename, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

// Decode reads a stream of YAML documents, skipping empty ones (a template whose condition is false).
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		// Through JSON: unstructured objects hold whole numbers as int64, as the API machinery expects.
		raw, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		if s := strings.TrimSpace(string(raw)); s == "null" || s == "{}" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
}
