package v1

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestLabelValue(t *testing.T) {
	for _, name := range []string{"c", "a-very-long-consumer-name-that-is-well-beyond-the-sixty-three-characters-a-label-may-have", "x.y_z", "-.-"} {
		v := LabelValue(name)
		if len(v) > 63 || v == "" {
			t.Errorf("LabelValue(%q) = %q", name, v)
		}
		if len(name) <= 63 && v != name && name != "-.-" {
			t.Errorf("LabelValue(%q) changed a valid value to %q", name, v)
		}
	}
	a, b := LabelValue(string(make([]byte, 80))+"a"), LabelValue(string(make([]byte, 80))+"b")
	if a == b {
		t.Errorf("different long names share a label value %q", a)
	}
}

func TestNamingMatchesTheOriginal(t *testing.T) {
	for _, tc := range []struct{ n, k, want int32 }{{10, 3, 4}, {10, 0, 10}, {10, -4, 10}, {0, 5, 0}, {100, 10, 10}, {1, 100, 1}} {
		if got := NumInstances(tc.n, tc.k); got != tc.want {
			t.Errorf("NumInstances(%d, %d) = %d, want %d", tc.n, tc.k, got, tc.want)
		}
	}
	if got := InstanceName("demo", 12); got != "demo-12" {
		t.Errorf("InstanceName = %q", got)
	}
}

func TestIsControlledBy(t *testing.T) {
	yes, no := true, false
	obj := func(refs ...metav1.OwnerReference) *metav1.ObjectMeta {
		return &metav1.ObjectMeta{OwnerReferences: refs}
	}
	for _, tc := range []struct {
		name string
		obj  *metav1.ObjectMeta
		want bool
	}{
		{"controller reference to the owner", obj(metav1.OwnerReference{UID: "a", Controller: &yes}), true},
		{"plain owner reference is not control", obj(metav1.OwnerReference{UID: "a"}), false},
		{"controller=false is not control", obj(metav1.OwnerReference{UID: "a", Controller: &no}), false},
		{"another controller", obj(metav1.OwnerReference{UID: "b", Controller: &yes}), false},
		{"owner listed after another controller", obj(metav1.OwnerReference{UID: "b", Controller: &yes}, metav1.OwnerReference{UID: "a"}), false},
		{"no references", obj(), false},
	} {
		if got := IsControlledBy(tc.obj, types.UID("a")); got != tc.want {
			t.Errorf("%s: got %v", tc.name, got)
		}
	}
}
