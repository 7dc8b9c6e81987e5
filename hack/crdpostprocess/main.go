// Command crdpostprocess finishes the CRD that controller-gen generates:
//
//   - It adds the served versions that share the storage version's schema. The original Konsumerator served
//     v1alpha1 and v1 with one schema. Generating v1alpha1 from a second copy of the Go types would keep two
//     copies in step by hand; copying the generated v1 schema keeps them identical by construction, and with
//     identical schemas the API server converts between them without a webhook.
//
//   - It bounds the length of every quantity, which the CEL cost estimator needs to admit the rules that
//     compare quantities (controller-gen has no marker for the values of a ResourceList).
//
//   - It drops the upstream documentation below the embedded DeploymentSpec (see below).
//
//     go run ./hack/crdpostprocess -crd config/crd/bases/konsumerator.lwolf.org_consumers.yaml -from v1 -add v1alpha1
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

func main() {
	path := flag.String("crd", "", "CRD file to rewrite in place")
	from := flag.String("from", "v1", "version whose schema is copied")
	add := flag.String("add", "v1alpha1", "comma-separated versions to serve with the same schema")
	flag.Parse()
	if err := run(*path, *from, strings.Split(*add, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "crdpostprocess:", err)
		os.Exit(1)
	}
}

func run(path, from string, add []string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(raw, &crd); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var source *apiextensionsv1.CustomResourceDefinitionVersion
	for i := range crd.Spec.Versions {
		if crd.Spec.Versions[i].Name == from {
			source = &crd.Spec.Versions[i]
		}
	}
	if source == nil {
		return fmt.Errorf("%s: no version %q", path, from)
	}
	// The embedded DeploymentSpec carries the upstream API documentation of every pod field: about 1 MB per
	// version, which brings the CRD near etcd's object size limit. kubectl explain on Deployments has it anyway.
	if spec, ok := source.Schema.OpenAPIV3Schema.Properties["spec"]; ok {
		if tmpl, ok := spec.Properties["deploymentTemplate"]; ok {
			for name, p := range tmpl.Properties {
				stripDescriptions(&p)
				tmpl.Properties[name] = p
			}
			spec.Properties["deploymentTemplate"] = tmpl
		}
		source.Schema.OpenAPIV3Schema.Properties["spec"] = spec
	}
	boundQuantities(source.Schema.OpenAPIV3Schema)
	versions := []apiextensionsv1.CustomResourceDefinitionVersion{*source}
	for _, name := range add {
		v := *source.DeepCopy()
		v.Name = name
		v.Storage = false
		v.Served = true
		versions = append(versions, v)
	}
	crd.Spec.Versions = versions
	out, err := yaml.Marshal(&crd)
	if err != nil {
		return err
	}
	// Status is runtime state, not part of a manifest.
	out = []byte(strings.Replace(string(out), "status:\n  acceptedNames:\n    kind: \"\"\n    plural: \"\"\n  conditions: null\n  storedVersions: null\n", "", 1))
	return os.WriteFile(path, append([]byte("---\n"), out...), 0o644)
}

func stripDescriptions(p *apiextensionsv1.JSONSchemaProps) {
	p.Description = ""
	for name, child := range p.Properties {
		stripDescriptions(&child)
		p.Properties[name] = child
	}
	if p.Items != nil && p.Items.Schema != nil {
		stripDescriptions(p.Items.Schema)
	}
	if p.AdditionalProperties != nil && p.AdditionalProperties.Schema != nil {
		stripDescriptions(p.AdditionalProperties.Schema)
	}
	for i := range p.AnyOf {
		stripDescriptions(&p.AnyOf[i])
	}
}

// maxQuantityLength is far above any real quantity ("1500m", "64Gi", "1.2T") and small enough for CEL's cost
// estimate.
const maxQuantityLength = 64

func boundQuantities(p *apiextensionsv1.JSONSchemaProps) {
	if p.XIntOrString && strings.Contains(p.Pattern, "KMGTPE") && p.MaxLength == nil {
		n := int64(maxQuantityLength)
		p.MaxLength = &n
	}
	for name, child := range p.Properties {
		boundQuantities(&child)
		p.Properties[name] = child
	}
	if p.Items != nil && p.Items.Schema != nil {
		boundQuantities(p.Items.Schema)
	}
	if p.AdditionalProperties != nil && p.AdditionalProperties.Schema != nil {
		boundQuantities(p.AdditionalProperties.Schema)
	}
}
