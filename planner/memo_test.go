package planner_test

import (
	"bytes"
	"testing"

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
