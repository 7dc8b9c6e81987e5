package manifests_test

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// TestRBACTablesMatchTheClusterRole: the permission tables of docs/security.md and docs/install.md list exactly
// the rules of the generated ClusterRole, so a new marker cannot go undocumented and the docs cannot promise
// less than the operator holds.
func TestRBACTablesMatchTheClusterRole(t *testing.T) {
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal([]byte(readRepoFile(t, "config/rbac/role.yaml")), &role); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, r := range role.Rules {
		if len(r.NonResourceURLs) > 0 || len(r.ResourceNames) > 0 {
			t.Fatalf("the docs' table has no column for %+v", r)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				verbs := append([]string(nil), r.Verbs...)
				sort.Strings(verbs)
				want[g+" "+res] = strings.Join(verbs, ",")
			}
		}
	}
	if len(want) < 8 {
		t.Fatalf("only %d rules in config/rbac/role.yaml; has its format changed?", len(want))
	}
	for _, doc := range []string{"docs/security.md", "docs/install.md"} {
		got := permissionTable(t, readRepoFile(t, doc))
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s: table says %q, config/rbac/role.yaml grants %q", doc, k, got[k], v)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: the table lists %s, which config/rbac/role.yaml does not grant", doc, k)
			}
		}
	}
}

// permissionTable reads the first table headed "| API group | resource | verbs |": API group and resource,
// to the verbs sorted and comma-joined.
func permissionTable(t *testing.T, doc string) map[string]string {
	t.Helper()
	lines := strings.Split(doc, "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "| API group | resource | verbs |") })
	if start < 0 {
		t.Fatal("no table headed | API group | resource | verbs |")
	}
	code := regexp.MustCompile("`([^`]*)`")
	out := map[string]string{}
	for _, l := range lines[start+2:] {
		if !strings.HasPrefix(l, "|") {
			break
		}
		cells := strings.Split(l, "|")
		group := code.FindStringSubmatch(cells[1])
		res := code.FindStringSubmatch(cells[2])
		if group == nil || res == nil {
			t.Fatalf("cannot read the row %q", l)
		}
		g := group[1]
		if g == `""` {
			g = ""
		}
		var verbs []string
		for _, v := range strings.Split(cells[3], ",") {
			verbs = append(verbs, strings.TrimSpace(v))
		}
		sort.Strings(verbs)
		out[g+" "+res[1]] = strings.Join(verbs, ",")
	}
	return out
}
