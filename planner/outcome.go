package planner

import (
	"fmt"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// maxConditionMessage keeps a condition's message well inside the API's 32 KiB limit and readable in kubectl.
const maxConditionMessage = 1024

// FinalStatus is the planned status completed with what only the execution knows: failed writes turn Ready
// false, and the FieldConflicts condition is set from the conflicts met. It is pure, like Plan: the same
// snapshot, plan and report give the same status.
//
// FieldConflicts is left as it was when nothing was applied and nothing conflicted: only a pass that applied
// something knows that nobody else holds the operator's fields.
func FinalStatus(s *model.Snapshot, p *model.Plan, r model.ApplyReport, policy model.ConflictPolicy) konsumeratorv1.ConsumerStatus {
	st := *p.Status.DeepCopy()
	now := metav1.NewTime(s.Now)
	gen := s.Owner.Generation
	if len(r.Failed) > 0 {
		apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: konsumeratorv1.ConditionReady, Status: metav1.ConditionFalse, Reason: konsumeratorv1.ReasonApplyFailed,
			Message:            clip(fmt.Sprintf("%d write(s) failed; first: %s", len(r.Failed), r.Failed[0]), maxConditionMessage),
			ObservedGeneration: gen, LastTransitionTime: now,
		})
	}
	switch {
	case len(r.Conflicts) > 0:
		reason := konsumeratorv1.ReasonConflictsForced
		if policy == model.ConflictRespect {
			reason = konsumeratorv1.ReasonConflictsRespected
		}
		apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: konsumeratorv1.ConditionConflicts, Status: metav1.ConditionTrue, Reason: reason,
			Message:            clip(model.ConflictMessage(r.Conflicts, policy), maxConditionMessage),
			ObservedGeneration: gen, LastTransitionTime: now,
		})
	case r.Applied:
		apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: konsumeratorv1.ConditionConflicts, Status: metav1.ConditionFalse, Reason: konsumeratorv1.ReasonNoConflicts,
			Message: "no other field manager owns fields the operator sets", ObservedGeneration: gen, LastTransitionTime: now,
		})
	}
	// A condition appended here goes into type order, as the planner's own (sortConditions).
	sortConditions(st.Conditions)
	return st
}

// clip cuts a message to n bytes, marking the cut with ASCII dots as status messages always have.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
