package v1

import (
	"reflect"
	"testing"
)

func TestYieldedFieldsRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name       string
		annotation string
		want       []string
	}{
		{"empty", "", nil},
		{"one", ".spec.replicas", []string{".spec.replicas"}},
		{"spaces and empty entries", " .spec.replicas, ,.spec.paused ", []string{".spec.replicas", ".spec.paused"}},
		{"comma inside a key", `.spec.template.spec.containers[name="a"].ports[containerPort=80,protocol="TCP"],.spec.replicas`,
			[]string{`.spec.template.spec.containers[name="a"].ports[containerPort=80,protocol="TCP"]`, ".spec.replicas"}},
		{"comma and bracket inside a quoted value", `.metadata.labels[k="a,]b"],.spec.replicas`,
			[]string{`.metadata.labels[k="a,]b"]`, ".spec.replicas"}},
		{"dots in an annotation key", ".metadata.annotations.example.com/team", []string{".metadata.annotations.example.com/team"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := YieldedFields(tc.annotation)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("YieldedFields(%q) = %q, want %q", tc.annotation, got, tc.want)
			}
			if again := YieldedFields(JoinYieldedFields(got)); len(again) != len(got) {
				t.Fatalf("join then split lost fields: %q", again)
			}
		})
	}
	if got := JoinYieldedFields([]string{".spec.replicas", ".metadata.labels.a", ".spec.replicas"}); got != ".metadata.labels.a,.spec.replicas" {
		t.Fatalf("JoinYieldedFields = %q", got)
	}
}
