package specvalidation

import (
	"context"
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

func sample(t *testing.T) *unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "konsumerator_v1_consumer.yaml"))
	require.NoError(t, err)
	obj := &unstructured.Unstructured{}
	require.NoError(t, yaml.Unmarshal(raw, &obj.Object))
	return obj
}

func specYAML(t *testing.T, obj *unstructured.Unstructured) []byte {
	t.Helper()
	raw, err := yaml.Marshal(obj.Object["spec"])
	require.NoError(t, err)
	return raw
}

func TestSampleIsValidAndDefaulted(t *testing.T) {
	spec, err := Consumer(context.Background(), specYAML(t, sample(t)))
	require.NoError(t, err)
	assert.Equal(t, int32(100), spec.NumPartitions)
	require.NotNil(t, spec.Autoscaler.Prometheus.CpuIncrement)
	assert.Equal(t, "100m", spec.Autoscaler.Prometheus.CpuIncrement.String(), "the schema's defaults are applied")
	assert.Equal(t, []string{"app"}, keys(spec.DeploymentTemplate.Template.Labels))
}

// TestSameRulesAsAdmission runs the table the API server is tested with: every manifest refused at admission is
// refused here, naming the same field.
func TestSameRulesAsAdmission(t *testing.T) {
	for _, tc := range invalidspecs.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			obj := sample(t)
			tc.Mutate(obj)
			if _, ok := obj.Object["spec"]; !ok {
				t.Skip("the case removes the whole spec")
			}
			_, err := Consumer(context.Background(), specYAML(t, obj))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.WantField)
			assert.Contains(t, err.Error(), tc.WantMsg)
		})
	}
}

func TestUnknownFieldsAndGarbageAreRefused(t *testing.T) {
	obj := sample(t)
	require.NoError(t, unstructured.SetNestedField(obj.Object, "30m", "spec", "autoscaler", "prometheus", "preferableCatchupPeriod"))
	_, err := Consumer(context.Background(), specYAML(t, obj))
	assert.ErrorContains(t, err, `unknown field(s) spec.autoscaler.prometheus.preferableCatchupPeriod`)

	for name, raw := range map[string]string{
		"not yaml":       "numPartitions: [",
		"empty":          "",
		"a list":         "- 1\n- 2\n",
		"wrong type":     "numPartitions: many\nname: x\n",
		"only a comment": "# nothing\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Consumer(context.Background(), []byte(raw))
			assert.Error(t, err)
		})
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestKafkaSpecInGuestMode: the kafka block of the example is accepted and defaulted as the API server does it.
func TestKafkaSpecInGuestMode(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "examples", "kafka-consumer.yaml"))
	require.NoError(t, err)
	docs := strings.Split(string(raw), "\n---\n")
	require.Len(t, docs, 2)
	obj := &unstructured.Unstructured{}
	require.NoError(t, yaml.Unmarshal([]byte(docs[1]), &obj.Object))
	unstructured.RemoveNestedField(obj.Object, "spec", "autoscaler", "kafka", "minSyncPeriod")
	spec, err := Consumer(context.Background(), specYAML(t, obj))
	require.NoError(t, err)
	require.NotNil(t, spec.Autoscaler.Kafka)
	assert.Equal(t, "1m0s", spec.Autoscaler.Kafka.MinSyncPeriod.Duration.String())
	assert.Equal(t, "100m", spec.Autoscaler.Kafka.CpuIncrement.String())
	assert.Equal(t, "orders", spec.Autoscaler.Kafka.ConsumerGroup)
}
