// Package specvalidation checks a Consumer spec that did not come through the API server (a guest-mode
// ConfigMap, a file given to `konsumerator plan`) against the generated CRD: the same OpenAPI schema, defaults
// and CEL rules that admission applies to Consumers, so both paths accept and reject the same specs.
package specvalidation

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/config/crd"
)

type validator struct {
	structural *structuralschema.Structural
	schema     apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

var (
	loadOnce sync.Once
	loaded   *validator
	loadErr  error
)

func load() (*validator, error) {
	loadOnce.Do(func() { loaded, loadErr = build(crd.Consumer) })
	return loaded, loadErr
}

func build(raw []byte) (*validator, error) {
	var def apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(raw, &def); err != nil {
		return nil, fmt.Errorf("reading the embedded CRD: %w", err)
	}
	var v1 *apiextensionsv1.JSONSchemaProps
	for _, v := range def.Spec.Versions {
		if v.Name == konsumeratorv1.GroupVersion.Version && v.Schema != nil {
			v1 = v.Schema.OpenAPIV3Schema
		}
	}
	if v1 == nil {
		return nil, errors.New("the embedded CRD has no v1 schema")
	}
	internal := &apiextensionsinternal.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1, internal, nil); err != nil {
		return nil, err
	}
	structural, err := structuralschema.NewStructural(internal)
	if err != nil {
		return nil, err
	}
	schemaValidator, _, err := apiservervalidation.NewSchemaValidator(internal)
	if err != nil {
		return nil, err
	}
	return &validator{
		structural: structural,
		schema:     schemaValidator,
		cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
	}, nil
}

// Consumer reads a Consumer spec from YAML or JSON, refuses unknown fields, applies the schema's defaults and
// checks every schema, list and CEL rule, in the order admission does. The error names each offending field.
func Consumer(ctx context.Context, raw []byte) (konsumeratorv1.ConsumerSpec, error) {
	var spec konsumeratorv1.ConsumerSpec
	v, err := load()
	if err != nil {
		return spec, err
	}
	asJSON, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return spec, fmt.Errorf("spec is not YAML: %w", err)
	}
	var specMap map[string]any
	// utiljson keeps whole numbers as int64, as the API server's decoder does; the schema checks integer types.
	if err := utiljson.Unmarshal(asJSON, &specMap); err != nil {
		return spec, fmt.Errorf("spec is not a mapping: %w", err)
	}
	if specMap == nil {
		return spec, errors.New("spec is empty")
	}
	obj := map[string]any{
		"apiVersion": konsumeratorv1.GroupVersion.String(),
		"kind":       "Consumer",
		"metadata":   map[string]any{"name": "spec"},
		"spec":       specMap,
	}
	unknown := pruning.PruneWithOptions(obj, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return spec, fmt.Errorf("invalid Consumer spec: unknown field(s) %s", strings.Join(unknown, ", "))
	}
	structuraldefaulting.Default(obj, v.structural)
	errs := apiservervalidation.ValidateCustomResource(nil, obj, v.schema)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, v.structural, obj)...)
	if len(errs) == 0 {
		// As in admission, CEL rules run only on a spec that passed the schema.
		celErrs, _ := v.cel.Validate(ctx, nil, v.structural, obj, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	if len(errs) > 0 {
		return spec, invalid(errs)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(specMap, &spec); err != nil {
		return spec, fmt.Errorf("invalid Consumer spec: %w", err)
	}
	return spec, nil
}

func invalid(errs field.ErrorList) error {
	return fmt.Errorf("invalid Consumer spec: %w", errs.ToAggregate())
}
