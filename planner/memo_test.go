package planner_test

import (
	"bytes"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/planner"
)

// TestMemoDecidesNothing plans every golden scenario with the caches on and off: the plans must be
// byte-identical, desired objects included.
func TestMemoDecidesNothing(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			s := sc.snap(t)
			on, err := planner.JSON(planner.Plan(s))
			if err != nil {
				t.Fatal(err)
			}
			off, err := planner.JSON(planner.PlanWithoutMemo(s))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(on, off) {
				t.Fatalf("the plan differs with the caches off:\n%s\n---\n%s", on, off)
			}
		})
	}
}

// TestDesiredAsBefore holds every golden scenario's desired objects to the typed-then-converted path they
// replaced, byte for byte.
func TestDesiredAsBefore(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			if diff := planner.DesiredMismatch(sc.snap(t)); diff != "" {
				t.Fatal(diff)
			}
		})
	}
}

// TestResizeTargetsShared: the pods a plan resizes to one size share that size's lists, so a plan that resizes
// a thousand pods holds one pair of maps; the plan is the same as without the memo (TestMemoDecidesNothing).
func TestResizeTargetsShared(t *testing.T) {
	s := ripeUp(steadyInPlace(t, inPlaceOrders()))
	var targets []corev1.ResourceRequirements
	for _, a := range planner.Plan(s).Actions {
		if a.Kind == model.ActionResize {
			for _, c := range a.Resize.Containers {
				targets = append(targets, c.Resources)
			}
		}
	}
	if len(targets) < 2 {
		t.Fatalf("the scenario resizes %d containers; the test needs two or more", len(targets))
	}
	for i, r := range targets[1:] {
		if !equality.Semantic.DeepEqual(r, targets[0]) {
			t.Fatalf("target %d differs from the first: %v against %v", i+1, r, targets[0])
		}
		if reflect.ValueOf(r.Requests).UnsafePointer() != reflect.ValueOf(targets[0].Requests).UnsafePointer() ||
			reflect.ValueOf(r.Limits).UnsafePointer() != reflect.ValueOf(targets[0].Limits).UnsafePointer() {
			t.Fatalf("target %d has lists of its own", i+1)
		}
	}
}
