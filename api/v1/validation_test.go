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

	"github.com/konsumerator/konsumerator/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping envtest:", err)
	}
	os.Exit(code)
}

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

func set(value any, path ...string) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		if err := unstructured.SetNestedField(u.Object, value, path...); err != nil {
			panic(err)
		}
	}
}

func remove(path ...string) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) { unstructured.RemoveNestedField(u.Object, path...) }
}

func prom(field string, value any) func(*unstructured.Unstructured) {
	return set(value, "spec", "autoscaler", "prometheus", field)
}

func policy(i int, field string, value any) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		policies, _, _ := unstructured.NestedSlice(u.Object, "spec", "resourcePolicy", "containerPolicies")
		policies[i].(map[string]any)[field] = value
		set(policies, "spec", "resourcePolicy", "containerPolicies")(u)
	}
}

// TestInvalidConsumersAreRejected applies manifests that the operator could not act on and checks that the API
// server refuses each with a message that names the offending field, in both served versions.
func TestInvalidConsumersAreRejected(t *testing.T) {
	cases := []struct {
		name      string
		mutate    func(*unstructured.Unstructured)
		wantField string
		wantMsg   string
	}{
		{"zero partitions", set(int64(0), "spec", "numPartitions"), "spec.numPartitions", "greater than or equal to 1"},
		{"negative partitions", set(int64(-5), "spec", "numPartitions"), "spec.numPartitions", "greater than or equal to 1"},
		{"too many partitions", set(int64(1_000_000), "spec", "numPartitions"), "spec.numPartitions", "less than or equal to 100000"},
		{"missing partitions", remove("spec", "numPartitions"), "spec.numPartitions", "Required value"},
		{"zero partitions per instance", set(int64(0), "spec", "numPartitionsPerInstance"), "spec.numPartitionsPerInstance", "greater than or equal to 1"},
		{"more per instance than partitions", set(int64(200), "spec", "numPartitionsPerInstance"), "spec.numPartitionsPerInstance", "must not exceed numPartitions"},
		{"missing name", remove("spec", "name"), "spec.name", "Required value"},
		{"name not a DNS label", set("Test_Consumer", "spec", "name"), "spec.name", "should match"},
		{"name too long for instance names", set(strings.Repeat("a", 58), "spec", "name"), "spec.name", "may not be more than 57"},
		{"namespace not a DNS label", set("Bad_NS", "spec", "namespace"), "spec.namespace", "should match"},
		{"partition env key not a variable name", set("1 BAD", "spec", "partitionEnvKey"), "spec.partitionEnvKey", "should match"},
		{"partition env key reserved", set("GOMAXPROCS", "spec", "partitionEnvKey"), "spec.partitionEnvKey", "must not be one of the variables the operator sets"},
		{"unknown autoscaler mode", set("vpa", "spec", "autoscaler", "mode"), "spec.autoscaler.mode", "Unsupported value"},
		{"prometheus mode without prometheus", remove("spec", "autoscaler", "prometheus"), "spec.autoscaler.prometheus", "autoscaler.prometheus is required"},
		{"zero rate per core", prom("ratePerCore", int64(0)), "spec.autoscaler.prometheus.ratePerCore", "greater than or equal to 1"},
		{"missing rate per core", remove("spec", "autoscaler", "prometheus", "ratePerCore"), "spec.autoscaler.prometheus.ratePerCore", "Required value"},
		{"zero ram per core", prom("ramPerCore", "0"), "spec.autoscaler.prometheus.ramPerCore", "ramPerCore must be a positive quantity"},
		{"negative ram per core", prom("ramPerCore", "-1G"), "spec.autoscaler.prometheus.ramPerCore", "ramPerCore must be a positive quantity"},
		{"zero cpu increment", prom("cpuIncrement", "0"), "spec.autoscaler.prometheus.cpuIncrement", "cpuIncrement must be a positive quantity"},
		{"malformed tolerable lag", prom("tolerableLag", "5 minutes"), "spec.autoscaler.prometheus.tolerableLag", "should match"},
		{"tolerable lag above critical lag", prom("tolerableLag", "90m"), "spec.autoscaler.prometheus.tolerableLag", "tolerableLag must not exceed criticalLag"},
		{"zero recovery time", prom("recoveryTime", "0s"), "spec.autoscaler.prometheus.recoveryTime", "recoveryTime must be positive"},
		{"negative pending scale up", set("-5m", "spec", "autoscaler", "pendingScaleUpDuration"), "spec.autoscaler.pendingScaleUpDuration", "should match"},
		{"malformed min sync period", prom("minSyncPeriod", "often"), "spec.autoscaler.prometheus.minSyncPeriod", "should match"},
		{"no prometheus address", prom("address", []any{}), "spec.autoscaler.prometheus.address", "should have at least 1 items"},
		{"address without scheme", prom("address", []any{"prometheus:9090"}), "spec.autoscaler.prometheus.address[0]", "should match"},
		{"empty offset query", set("", "spec", "autoscaler", "prometheus", "offset", "query"), "spec.autoscaler.prometheus.offset.query", "at least 1 chars"},
		{"bad partition label", set("1abc", "spec", "autoscaler", "prometheus", "production", "partitionLabel"), "spec.autoscaler.prometheus.production.partitionLabel", "should match"},
		{"unknown fallback strategy", prom("fallbackStrategy", "median"), "spec.autoscaler.prometheus.fallbackStrategy", "Unsupported value"},
		{"bearer token and basic auth", func(u *unstructured.Unstructured) {
			prom("bearerTokenSecret", map[string]any{"name": "s", "key": "token"})(u)
			prom("basicAuth", map[string]any{
				"username": map[string]any{"name": "s", "key": "user"},
				"password": map[string]any{"name": "s", "key": "pass"},
			})(u)
		}, "spec.autoscaler.prometheus.basicAuth", "mutually exclusive"},
		{"duplicate container policy", policy(1, "containerName", "busybox"), "spec.resourcePolicy.containerPolicies[1]", "Duplicate value"},
		{"container policy without name", func(u *unstructured.Unstructured) {
			policies, _, _ := unstructured.NestedSlice(u.Object, "spec", "resourcePolicy", "containerPolicies")
			delete(policies[1].(map[string]any), "containerName")
			set(policies, "spec", "resourcePolicy", "containerPolicies")(u)
		}, "spec.resourcePolicy.containerPolicies[1].containerName", "Required value"},
		{"unknown container mode", policy(0, "mode", "Sometimes"), "spec.resourcePolicy.containerPolicies[0].mode", "Unsupported value"},
		{"min above max", policy(0, "minAllowed", map[string]any{"cpu": "3", "memory": "100M"}), "spec.resourcePolicy.containerPolicies[0].minAllowed", "minAllowed must not exceed maxAllowed"},
		{"zero max allowed", policy(0, "maxAllowed", map[string]any{"cpu": "2", "memory": "0"}), "spec.resourcePolicy.containerPolicies[0].maxAllowed", "maxAllowed quantities must be positive"},
		{"negative global budget", set(map[string]any{"cpu": "-1"}, "spec", "resourcePolicy", "globalPolicy", "maxAllowed"), "spec.resourcePolicy.globalPolicy.maxAllowed", "maxAllowed quantities must be positive"},
		{"negative replicas", set(int64(-1), "spec", "deploymentTemplate", "replicas"), "spec.deploymentTemplate.replicas", "replicas must not be negative"},
		{"missing deployment template", remove("spec", "deploymentTemplate"), "spec.deploymentTemplate", "Required value"},
	}
	for _, version := range []string{"v1", "v1alpha1"} {
		for _, tc := range cases {
			t.Run(version+"/"+tc.name, func(t *testing.T) {
				obj := sample(t, version)
				obj.SetName(fmt.Sprintf("invalid-%s", strings.ReplaceAll(strings.ToLower(tc.name), " ", "-")))
				tc.mutate(obj)
				err := env.Client.Create(context.Background(), obj, client.DryRunAll)
				require.Error(t, err, "the API server accepted an invalid Consumer")
				assert.Contains(t, err.Error(), tc.wantField, "the message should name the field")
				assert.Contains(t, err.Error(), tc.wantMsg)
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
	assert.Equal(t, []string{"NAME", "EXPECTED", "RUNNING", "PAUSED", "MISSING", "LAGGING", "OUTDATED", "AUTOSCALER", "AGE"}, names)
	require.Len(t, table.Rows, 1)
	assert.Equal(t, "prometheus", table.Rows[0].Cells[7])
}
