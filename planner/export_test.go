package planner

import "github.com/konsumerator/konsumerator/model"

// PlanWithoutMemo plans with every cache switched off.
func PlanWithoutMemo(s *model.Snapshot) model.Plan { return planWith(s, false) }

// DesiredMismatch compares every desired object of s's plan with the typed path it replaced; "" when equal.
func DesiredMismatch(s *model.Snapshot) string { return desiredMismatch(s) }
