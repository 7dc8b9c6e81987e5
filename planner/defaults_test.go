package planner_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/config/crd"
	"github.com/konsumerator/konsumerator/planner"
)

// plannerOnly are the defaults WithDefaults applies that the CRD leaves unset (the API server stores the field
// empty and the planner reads empty as the default); each func undoes one in WithDefaults' result.
var plannerOnly = map[string]func(*konsumeratorv1.ConsumerSpec){
	"partitionEnvKey":          func(s *konsumeratorv1.ConsumerSpec) { s.PartitionEnvKey = "" },
	"numPartitionsPerInstance": func(s *konsumeratorv1.ConsumerSpec) { s.NumPartitionsPerInstance = nil },
	"autoscaler.prometheus.fallbackStrategy": func(s *konsumeratorv1.ConsumerSpec) {
		s.Autoscaler.Prometheus.FallbackStrategy = nil
	},
	"autoscaler.kafka.fallbackStrategy": func(s *konsumeratorv1.ConsumerSpec) {
		s.Autoscaler.Kafka.FallbackStrategy = nil
	},
}

// TestDefaultsMatchCRD ties planner.WithDefaults to the generated CRD: a spec holding every object the CRD has
// defaults in, defaulted as the API server does it, must equal the same spec through WithDefaults (less the
// planner-only defaults). So a default changed on either side, or a CRD default the planner does not apply,
// fails here. Defaults inside deploymentTemplate are Kubernetes' own for the pod template: the API server
// applies them to the Deployments the operator writes, and the planner passes the template through.
func TestDefaultsMatchCRD(t *testing.T) {
	var def apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(crd.Consumer, &def); err != nil {
		t.Fatal(err)
	}
	if len(def.Spec.Versions) == 0 {
		t.Fatal("the CRD has no versions")
	}
	for _, v := range def.Spec.Versions {
		t.Run(v.Name, func(t *testing.T) {
			root := v.Schema.OpenAPIV3Schema
			specSchema := root.Properties["spec"]
			var paths []string
			collectDefaults(&specSchema, "", &paths)
			if len(paths) == 0 {
				t.Fatal("no defaults found in the CRD's spec: the walk is broken")
			}
			for path := range plannerOnly {
				for _, p := range paths {
					if p == path {
						t.Errorf("the CRD now defaults %s: take it out of plannerOnly so that the values are compared", path)
					}
				}
			}
			spec := map[string]any{}
			for _, p := range paths {
				makeParents(spec, &specSchema, strings.Split(p, "."))
			}
			sort.Strings(paths)
			t.Logf("CRD defaults outside deploymentTemplate: %s", strings.Join(paths, ", "))

			var bare konsumeratorv1.ConsumerSpec
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(deepCopy(t, spec), &bare); err != nil {
				t.Fatal(err)
			}
			want := planner.WithDefaults(bare)
			for _, undo := range plannerOnly {
				undo(&want)
			}

			obj := map[string]any{"spec": spec}
			structuraldefaulting.Default(obj, structural(t, root))
			var got konsumeratorv1.ConsumerSpec
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(spec, &got); err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(want)
				t.Fatalf("CRD defaults and planner.WithDefaults differ:\n CRD:          %s\n WithDefaults: %s", g, w)
			}
		})
	}
}

// collectDefaults lists the dotted paths of every property with a default, deploymentTemplate left out.
func collectDefaults(s *apiextensionsv1.JSONSchemaProps, path string, out *[]string) {
	if s.Default != nil && path != "" {
		*out = append(*out, path)
	}
	for name, p := range s.Properties {
		if path == "" && name == "deploymentTemplate" {
			continue
		}
		child := name
		if path != "" {
			child = path + "." + name
		}
		collectDefaults(&p, child, out)
	}
	if s.Items != nil && s.Items.Schema != nil {
		collectDefaults(s.Items.Schema, path+"[]", out)
	}
}

// makeParents creates the objects (and one-item lists) on the way to a defaulted property, so that the
// defaulting reaches it; the property itself stays unset.
func makeParents(obj map[string]any, s *apiextensionsv1.JSONSchemaProps, path []string) {
	if len(path) <= 1 {
		return
	}
	name, list := strings.CutSuffix(path[0], "[]")
	p := s.Properties[name]
	if list {
		items, _ := obj[name].([]any)
		if len(items) == 0 {
			items = []any{map[string]any{}}
			obj[name] = items
		}
		makeParents(items[0].(map[string]any), p.Items.Schema, path[1:])
		return
	}
	child, ok := obj[name].(map[string]any)
	if !ok {
		child = map[string]any{}
		obj[name] = child
	}
	makeParents(child, &p, path[1:])
}

func structural(t *testing.T, root *apiextensionsv1.JSONSchemaProps) *structuralschema.Structural {
	t.Helper()
	internal := &apiextensionsinternal.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(root, internal, nil); err != nil {
		t.Fatal(err)
	}
	s, err := structuralschema.NewStructural(internal)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func deepCopy(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
