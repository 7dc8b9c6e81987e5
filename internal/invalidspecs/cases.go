// Package invalidspecs is a table of Consumer manifests that must be refused, each with the field the refusal
// must name. The API server (admission) and guest mode (internal/specvalidation) are both tested against it, so
// the two paths cannot drift apart.
package invalidspecs

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Case mutates a valid Consumer (the shipped sample) into an invalid one.
type Case struct {
	Name      string
	Mutate    func(*unstructured.Unstructured)
	WantField string
	WantMsg   string
}

// Cases returns the table; each call builds it anew.
func Cases() []Case {
	return []Case{
		{"zero partitions", set(int64(0), "spec", "numPartitions"), "spec.numPartitions", "greater than or equal to 1"},
		{"negative partitions", set(int64(-5), "spec", "numPartitions"), "spec.numPartitions", "greater than or equal to 1"},
		{"too many partitions", set(int64(1_000_000), "spec", "numPartitions"), "spec.numPartitions", "less than or equal to 100000"},
		{"missing partitions", remove("spec", "numPartitions"), "spec.numPartitions", "Required value"},
		{"zero partitions per instance", set(int64(0), "spec", "numPartitionsPerInstance"), "spec.numPartitionsPerInstance", "greater than or equal to 1"},
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
		{"kafka mode without kafka", kafkaMode(remove("spec", "autoscaler", "kafka")), "spec.autoscaler.kafka", "autoscaler.kafka is required"},
		{"kafka without brokers", kafka("brokers", []any{}), "spec.autoscaler.kafka.brokers", "should have at least 1 items"},
		{"kafka broker without port", kafka("brokers", []any{"kafka-0"}), "spec.autoscaler.kafka.brokers[0]", "should match"},
		{"kafka broker as a URL", kafka("brokers", []any{"http://kafka-0:9092"}), "spec.autoscaler.kafka.brokers[0]", "should match"},
		{"kafka too many brokers", kafka("brokers", []any{"a:1", "b:1", "c:1", "d:1", "e:1", "f:1", "g:1", "h:1", "i:1"}), "spec.autoscaler.kafka.brokers", "must have at most 8 items"},
		{"kafka topic with a slash", kafka("topic", "a/b"), "spec.autoscaler.kafka.topic", "should match"},
		{"kafka missing group", kafkaMode(remove("spec", "autoscaler", "kafka", "consumerGroup")), "spec.autoscaler.kafka.consumerGroup", "Required value"},
		{"kafka group with a newline", kafka("consumerGroup", "a\nb"), "spec.autoscaler.kafka.consumerGroup", "should match"},
		{"kafka missing rate per core", kafkaMode(remove("spec", "autoscaler", "kafka", "ratePerCore")), "spec.autoscaler.kafka.ratePerCore", "Required value"},
		{"kafka zero ram per core", kafka("ramPerCore", "0"), "spec.autoscaler.kafka.ramPerCore", "ramPerCore must be a positive quantity"},
		{"kafka tolerable lag above critical lag", kafka("tolerableLag", "90m"), "spec.autoscaler.kafka.tolerableLag", "tolerableLag must not exceed criticalLag"},
		{"kafka zero recovery time", kafka("recoveryTime", "0s"), "spec.autoscaler.kafka.recoveryTime", "recoveryTime must be positive"},
		{"kafka sync period below a second", kafka("minSyncPeriod", "10ms"), "spec.autoscaler.kafka.minSyncPeriod", "minSyncPeriod must be at least 1s"},
		{"kafka unknown SASL mechanism", kafka("sasl", map[string]any{"mechanism": "GSSAPI",
			"username": map[string]any{"name": "s", "key": "u"}, "password": map[string]any{"name": "s", "key": "p"}}),
			"spec.autoscaler.kafka.sasl.mechanism", "Unsupported value"},
		{"kafka SASL without password", kafka("sasl", map[string]any{"mechanism": "PLAIN",
			"username": map[string]any{"name": "s", "key": "u"}}), "spec.autoscaler.kafka.sasl.password", "Required value"},
		{"kafka client certificate without key", kafka("tls", map[string]any{"certSecret": map[string]any{"name": "s", "key": "tls.crt"}}),
			"spec.autoscaler.kafka.tls.keySecret", "certSecret and keySecret go together"},
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

// kafkaMode switches the sample to a valid kafka block before mutate runs.
func kafkaMode(mutate func(*unstructured.Unstructured)) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		set("kafka", "spec", "autoscaler", "mode")(u)
		remove("spec", "autoscaler", "prometheus")(u)
		set(map[string]any{
			"brokers":       []any{"kafka-0.kafka.svc:9092", "[fd00::1]:9093"},
			"topic":         "orders",
			"consumerGroup": "orders-consumer",
			"ratePerCore":   int64(1000),
			"ramPerCore":    "100M",
			"tolerableLag":  "5m",
			"criticalLag":   "60m",
			"recoveryTime":  "30m",
		}, "spec", "autoscaler", "kafka")(u)
		mutate(u)
	}
}

func kafka(field string, value any) func(*unstructured.Unstructured) {
	return kafkaMode(set(value, "spec", "autoscaler", "kafka", field))
}

func policy(i int, field string, value any) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		policies, _, _ := unstructured.NestedSlice(u.Object, "spec", "resourcePolicy", "containerPolicies")
		policies[i].(map[string]any)[field] = value
		set(policies, "spec", "resourcePolicy", "containerPolicies")(u)
	}
}
