// Package consumerfile reads a Consumer manifest given on the command line, for the offline commands (plan,
// simulate), which are separate programs and share this one reading: a manifest the cluster would refuse is
// refused by both, and both plan with the defaults admission would fill.
package consumerfile

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/specvalidation"
)

// Load reads, checks and decodes the named Consumer manifest ("-" for stdin); errors name the file. The spec is
// checked before it is decoded, so that a malformed value (a duration such as "5 minutes") is refused with its
// field named, as admission names it.
func Load(name string, stdin io.Reader) (*konsumeratorv1.Consumer, error) {
	raw, err := Read(name, stdin)
	if err != nil {
		return nil, err
	}
	c, err := load(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

func load(raw []byte) (*konsumeratorv1.Consumer, error) {
	// One decode: the spec as plain data, checked before it becomes typed; the rest typed as the API server
	// stores it.
	var doc struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata,omitempty"`
		Spec              map[string]any                `json:"spec"`
		Status            konsumeratorv1.ConsumerStatus `json:"status,omitempty"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	group, version, _ := strings.Cut(doc.APIVersion, "/")
	if group != konsumeratorv1.GroupVersion.Group || (version != "v1" && version != "v1alpha1") || doc.Kind != "Consumer" {
		return nil, fmt.Errorf("not a Consumer of %s (v1 or v1alpha1): apiVersion %q, kind %q",
			konsumeratorv1.GroupVersion.Group, doc.APIVersion, doc.Kind)
	}
	spec, err := checkSpec(doc.Spec)
	if err != nil {
		return nil, err
	}
	c := &konsumeratorv1.Consumer{TypeMeta: doc.TypeMeta, ObjectMeta: doc.ObjectMeta, Spec: spec, Status: doc.Status}
	// What a manifest that never met an API server lacks.
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	if c.Generation == 0 {
		c.Generation = 1
	}
	return c, nil
}

// Read returns the contents of the named file, or of stdin for "-".
func Read(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(name)
}

// rules names what checkSpec applies, for the user to read: the same checks as admission and guest mode.
const rules = "the Consumer CRD's OpenAPI schema (types, ranges, enums, unknown fields), its defaults, " +
	"list rules (unique container names) and CEL rules (e.g. minAllowed ≤ maxAllowed), as admission and guest mode apply them"

// checkSpec validates and defaults the spec of a Consumer manifest as the API server would on admission, so that
// a manifest the cluster would refuse is not planned or simulated as if it were valid.
func checkSpec(spec map[string]any) (konsumeratorv1.ConsumerSpec, error) {
	raw, err := yaml.Marshal(spec)
	if err != nil {
		return konsumeratorv1.ConsumerSpec{}, err
	}
	checked, err := specvalidation.Consumer(context.Background(), raw)
	if err != nil {
		return konsumeratorv1.ConsumerSpec{}, fmt.Errorf("%w\n(checked against %s)", err, rules)
	}
	return checked, nil
}
