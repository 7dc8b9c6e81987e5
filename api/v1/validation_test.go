package v1_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/konsumerator/konsumerator/internal/invalidspecs"
	"github.com/konsumerator/konsumerator/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// sample reads the shipped sample in the given API version.
func sample(t *testing.T, version string) *unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", "konsumerator_"+version+"_consumer.yaml"))
	require.NoError(t, err)
	obj := &unstructured.Unstructured{}
	require.NoError(t, yaml.Unmarshal(raw, &obj.Object))
	require.Equal(t, "konsumerator.lwolf.org/"+version, obj.GetAPIVersion())
	obj.SetNamespace("default")
	return obj
}

// TestInvalidConsumersAreRejected applies manifests that the operator could not act on and checks that the API
// server refuses each with a message that names the offending field, in both served versions.
func TestInvalidConsumersAreRejected(t *testing.T) {
	for _, version := range []string{"v1", "v1alpha1"} {
		for _, tc := range invalidspecs.Cases() {
			t.Run(version+"/"+tc.Name, func(t *testing.T) {
				obj := sample(t, version)
				obj.SetName(fmt.Sprintf("invalid-%s", strings.ReplaceAll(strings.ToLower(tc.Name), " ", "-")))
				tc.Mutate(obj)
				err := env.Client.Create(context.Background(), obj, client.DryRunAll)
				require.Error(t, err, "the API server accepted an invalid Consumer")
				assert.Contains(t, err.Error(), tc.WantField, "the message should name the field")
				assert.Contains(t, err.Error(), tc.WantMsg)
			})
		}
	}
}

// TestSampleAppliesInBothVersions stores the shipped sample in each version and reads it back in the other:
// both versions serve one schema, so nothing is lost either way.
func TestSampleAppliesInBothVersions(t *testing.T) {
	ctx := context.Background()
	for _, version := range []string{"v1", "v1alpha1"} {
		t.Run(version, func(t *testing.T) {
			obj := sample(t, version)
			obj.SetName("sample-" + version)
			require.NoError(t, env.Client.Create(ctx, obj, client.FieldValidation("Strict")))
			t.Cleanup(func() { _ = env.Client.Delete(ctx, obj) })

			other := "v1"
			if version == "v1" {
				other = "v1alpha1"
			}
			back := &unstructured.Unstructured{}
			back.SetAPIVersion("konsumerator.lwolf.org/" + other)
			back.SetKind("Consumer")
			require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(obj), back))
			assert.Equal(t, obj.Object["spec"].(map[string]any)["numPartitions"], back.Object["spec"].(map[string]any)["numPartitions"])
			labels, _, _ := unstructured.NestedStringMap(back.Object, "spec", "deploymentTemplate", "template", "metadata", "labels")
			assert.Equal(t, map[string]string{"app": "test-consumer"}, labels, "the pod template's labels must survive pruning")
			defaulted, _, _ := unstructured.NestedString(back.Object, "spec", "autoscaler", "prometheus", "cpuIncrement")
			assert.Equal(t, "100m", defaulted, "defaults are applied by the API server")
		})
	}
}

// TestPrinterColumns asks the API server for the table kubectl get prints.
func TestPrinterColumns(t *testing.T) {
	ctx := context.Background()
	obj := sample(t, "v1")
	obj.SetName("columns")
	require.NoError(t, env.Client.Create(ctx, obj))
	t.Cleanup(func() { _ = env.Client.Delete(ctx, obj) })

	httpClient, err := rest.HTTPClientFor(env.Config)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		strings.TrimSuffix(env.Config.Host, "/")+"/apis/konsumerator.lwolf.org/v1/namespaces/default/consumers", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, req.URL.String()+": "+string(body))

	var table metav1.Table
	require.NoError(t, json.Unmarshal(body, &table))
	var names []string
	for _, c := range table.ColumnDefinitions {
		names = append(names, strings.ToUpper(c.Name))
	}
	assert.Equal(t, []string{"NAME", "EXPECTED", "RUNNING", "PAUSED", "MISSING", "LAGGING", "OUTDATED", "FAILING",
		"ROLLOUT", "AUTOSCALER", "AGE"}, names)
	require.Len(t, table.Rows, 1)
	assert.Equal(t, "prometheus", table.Rows[0].Cells[9])
}

// TestOriginalManifestsStayValid guards the drop-in promise: forms the original Konsumerator accepted and that
// still mean something are accepted, not refused by a rule that is stricter than needed.
func TestOriginalManifestsStayValid(t *testing.T) {
	ctx := context.Background()
	for name, mutate := range map[string]func(*unstructured.Unstructured){
		"one instance for all partitions": func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, int64(1000), "spec", "numPartitionsPerInstance")
		},
		"no numPartitionsPerInstance": func(u *unstructured.Unstructured) {
			unstructured.RemoveNestedField(u.Object, "spec", "numPartitionsPerInstance")
		},
		"no resource policy": func(u *unstructured.Unstructured) {
			unstructured.RemoveNestedField(u.Object, "spec", "resourcePolicy")
		},
		"integer quantities": func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, map[string]any{"cpu": int64(1200), "memory": "1.2T"}, "spec", "resourcePolicy", "globalPolicy", "maxAllowed")
		},
	} {
		t.Run(name, func(t *testing.T) {
			obj := sample(t, "v1alpha1")
			obj.SetName("original")
			mutate(obj)
			require.NoError(t, env.Client.Create(ctx, obj, client.DryRunAll, client.FieldValidation("Strict")))
		})
	}
}

// TestKafkaExampleAppliesInBothVersions stores the Kafka-mode example (TLS, SASL) in each version with strict
// field validation, and reads the defaults back.
func TestKafkaExampleAppliesInBothVersions(t *testing.T) {
	ctx := context.Background()
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "examples", "kafka-consumer.yaml"))
	require.NoError(t, err)
	docs := strings.Split(string(raw), "\n---\n")
	require.Len(t, docs, 2)
	for _, version := range []string{"v1", "v1alpha1"} {
		t.Run(version, func(t *testing.T) {
			obj := &unstructured.Unstructured{}
			require.NoError(t, yaml.Unmarshal([]byte(docs[1]), &obj.Object))
			obj.SetAPIVersion("konsumerator.lwolf.org/" + version)
			obj.SetNamespace("default")
			obj.SetName("kafka-" + version)
			unstructured.RemoveNestedField(obj.Object, "spec", "autoscaler", "kafka", "minSyncPeriod")
			require.NoError(t, env.Client.Create(ctx, obj, client.FieldValidation("Strict")))
			t.Cleanup(func() { _ = env.Client.Delete(ctx, obj) })
			back := &unstructured.Unstructured{}
			back.SetGroupVersionKind(obj.GroupVersionKind())
			require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(obj), back))
			for field, want := range map[string]string{"minSyncPeriod": "1m", "cpuIncrement": "100m", "topic": "orders"} {
				got, _, _ := unstructured.NestedString(back.Object, "spec", "autoscaler", "kafka", field)
				assert.Equal(t, want, got, field)
			}
			mechanism, _, _ := unstructured.NestedString(back.Object, "spec", "autoscaler", "kafka", "sasl", "mechanism")
			assert.Equal(t, "SCRAM-SHA-512", mechanism)
		})
	}
}
