package consumerfile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/konsumerator/konsumerator/internal/invalidspecs"
)

const samplePath = "../../config/samples/konsumerator_v1_consumer.yaml"

// TestLoadDefaultsTheSample: the shipped sample loads from a file, its namespace and generation filled as an
// API server would, and the CRD's defaults applied.
func TestLoadDefaultsTheSample(t *testing.T) {
	c, err := Load(samplePath, nil)
	require.NoError(t, err)
	assert.Equal(t, "default", c.Namespace)
	assert.Equal(t, int64(1), c.Generation)
	require.NotNil(t, c.Spec.Autoscaler.Prometheus.CpuIncrement)
	assert.Equal(t, "100m", c.Spec.Autoscaler.Prometheus.CpuIncrement.String(), "the schema's defaults are applied")
}

// TestLoadRefusesWhatAdmissionRefuses: every manifest of the table that admission refuses is refused from a file
// too, naming the file, the field and the rules applied.
func TestLoadRefusesWhatAdmissionRefuses(t *testing.T) {
	raw, err := os.ReadFile(samplePath)
	require.NoError(t, err)
	for _, tc := range invalidspecs.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			obj := &unstructured.Unstructured{}
			require.NoError(t, yaml.Unmarshal(raw, &obj.Object))
			tc.Mutate(obj)
			if _, ok := obj.Object["spec"]; !ok {
				t.Skip("the case removes the whole spec")
			}
			manifest, err := yaml.Marshal(obj.Object)
			require.NoError(t, err)
			_, err = Load("-", bytes.NewReader(manifest))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "-: ")
			assert.Contains(t, err.Error(), tc.WantField)
			assert.Contains(t, err.Error(), tc.WantMsg)
			assert.Contains(t, err.Error(), "CEL rules")
		})
	}
}

// TestLoadRefusesOtherKinds: a manifest of another kind or group is not read as a Consumer.
func TestLoadRefusesOtherKinds(t *testing.T) {
	for _, head := range []string{
		"apiVersion: apps/v1\nkind: Deployment\n",
		"apiVersion: konsumerator.lwolf.org/v2\nkind: Consumer\n",
		"apiVersion: konsumerator.lwolf.org/v1\nkind: Producer\n",
	} {
		_, err := Load("-", strings.NewReader(head+"metadata: {name: c}\nspec: {}\n"))
		assert.ErrorContains(t, err, "not a Consumer of konsumerator.lwolf.org (v1 or v1alpha1)", head)
	}
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"), nil)
	assert.ErrorContains(t, err, "absent.yaml")
}
