// Package consumerfile reads a Consumer manifest given on the command line, for the offline commands (plan,
// simulate), which are separate programs and share this one reading.
package consumerfile

import (
	"fmt"
	"io"
	"os"
	"strings"

	"sigs.k8s.io/yaml"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// Read returns the contents of the named file, or of stdin for "-".
func Read(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(name)
}

// Decode reads a Consumer of either served version (they share one schema) and fills what a manifest that never
// met an API server lacks.
func Decode(raw []byte) (*konsumeratorv1.Consumer, error) {
	c := &konsumeratorv1.Consumer{}
	if err := yaml.Unmarshal(raw, c); err != nil {
		return nil, err
	}
	group, version, _ := strings.Cut(c.APIVersion, "/")
	if group != konsumeratorv1.GroupVersion.Group || (version != "v1" && version != "v1alpha1") || c.Kind != "Consumer" {
		return nil, fmt.Errorf("not a Consumer of %s (v1 or v1alpha1): apiVersion %q, kind %q",
			konsumeratorv1.GroupVersion.Group, c.APIVersion, c.Kind)
	}
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	if c.Generation == 0 {
		c.Generation = 1
	}
	return c, nil
}
