package app

import (
	"strings"
	"testing"
)

// TestPlanValidatesTheSpec: a manifest admission would refuse is refused by plan -f too, with the field named.
func TestPlanValidatesTheSpec(t *testing.T) {
	head := "apiVersion: konsumerator.lwolf.org/v1\nkind: Consumer\nmetadata: {name: c}\nspec:\n"
	tmpl := "  deploymentTemplate:\n    selector: {matchLabels: {app: c}}\n    template:\n      metadata: {labels: {app: c}}\n" +
		"      spec:\n        containers:\n        - {name: app, image: x}\n"
	for _, tc := range []struct {
		name, spec, want string
	}{
		{"ratePerCore zero", "  numPartitions: 2\n  name: c\n" + tmpl +
			"  autoscaler: {mode: prometheus, prometheus: {address: ['http://p'], ratePerCore: 0, ramPerCore: 1Gi}}\n", "ratePerCore"},
		{"mode vpa", "  numPartitions: 2\n  name: c\n" + tmpl + "  autoscaler: {mode: vpa}\n", "mode"},
		{"duplicate container", "  numPartitions: 2\n  name: c\n  deploymentTemplate:\n    selector: {matchLabels: {app: c}}\n" +
			"    template:\n      metadata: {labels: {app: c}}\n      spec:\n        containers:\n" +
			"        - {name: app, image: x}\n        - {name: app, image: y}\n", "containers"},
		{"min above max", "  numPartitions: 2\n  name: c\n" + tmpl + "  resourcePolicy:\n    containerPolicies:\n" +
			"    - {containerName: app, minAllowed: {cpu: '2'}, maxAllowed: {cpu: '1'}}\n", "minAllowed"},
		{"typo", "  numPartitions: 2\n  name: c\n  numPartitionPerInstance: 3\n" + tmpl, "numPartitionPerInstance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, head+tc.spec, "-f", "-")
			if code != 1 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "CEL rules") {
				t.Errorf("exit %d, stderr %q, stdout %q; want exit 1 naming %s and the rules applied", code, errOut, out, tc.want)
			}
		})
	}
	good := head + "  numPartitions: 2\n  name: c\n" + tmpl
	if out, errOut, code := runCLI(t, good, "-f", "-"); code != 0 || !strings.Contains(out, "Ready=True") {
		t.Errorf("a valid manifest: exit %d, %s%s", code, out, errOut)
	}
}
