package app

import (
	"context"
	"fmt"

	"sigs.k8s.io/yaml"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/specvalidation"
)

// specRules names what checkSpec applies, for the user to read: the same checks as admission and guest mode.
const specRules = "the Consumer CRD's OpenAPI schema (types, ranges, enums, unknown fields), its defaults, " +
	"list rules (unique container names) and CEL rules (e.g. minAllowed ≤ maxAllowed), as admission and guest mode apply them"

// checkSpec validates and defaults the spec of a Consumer manifest as the API server would on admission, so that
// a manifest the cluster would refuse is not planned as if it were valid.
func checkSpec(manifest []byte, c *konsumeratorv1.Consumer) error {
	var doc struct {
		Spec map[string]any `json:"spec"`
	}
	if err := yaml.Unmarshal(manifest, &doc); err != nil {
		return err
	}
	raw, err := yaml.Marshal(doc.Spec)
	if err != nil {
		return err
	}
	spec, err := specvalidation.Consumer(context.Background(), raw)
	if err != nil {
		return fmt.Errorf("%w\n(checked against %s)", err, specRules)
	}
	c.Spec = spec
	return nil
}
