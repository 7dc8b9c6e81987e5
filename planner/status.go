package planner

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// ownedConditions are the condition types the planner writes; any other type is passed through unchanged.
var ownedConditions = map[string]bool{
	konsumeratorv1.ConditionReady:            true,
	konsumeratorv1.ConditionMetricsAvailable: true,
	konsumeratorv1.ConditionResourceBudget:   true,
}

// status is the owner's status as it will be once the plan is carried out.
//
//	expected  instances the spec asks for
//	running   available (availableReplicas ≥ replicas > 0), up to date, not restarted by this plan, not paused
//	paused    replicas 0 or spec.paused
//	missing   expected instances that will not exist after this plan (creates count as existing)
//	lagging   instances whose worst partition lags by tolerableLag or more
//	outdated  instances held back from their change, or whose rollout is observed in progress
func (pl *planner) status() konsumeratorv1.ConsumerStatus {
	var running, paused, missing, lagging, outdated int32
	var blocked []string
	replicas := pl.desiredReplicas()
	for _, in := range pl.insts {
		exists := in.observed != nil && !in.recreate || in.action.Kind == model.ActionCreate
		if !exists {
			missing++
		}
		if in.blocked != nil {
			blocked = append(blocked, in.name)
		}
		if in.lagging {
			lagging++
		}
		isPaused := exists && (replicas == 0 || pl.tmpl.Paused)
		if isPaused {
			paused++
		}
		if in.observed != nil && !in.recreate && (!in.upToDate || in.inFlight) {
			outdated++
		}
		if in.observed != nil && !in.recreate && in.upToDate && !in.restart && in.available && !isPaused {
			running++
		}
	}
	st := konsumeratorv1.ConsumerStatus{
		ObservedGeneration: ptr.To(pl.s.Owner.Generation),
		Expected:           ptr.To(int32(len(pl.insts))),
		Running:            ptr.To(running),
		Paused:             ptr.To(paused),
		Missing:            ptr.To(missing),
		Lagging:            ptr.To(lagging),
		Outdated:           ptr.To(outdated),
	}
	if m := pl.s.Metrics; m != nil && !m.Time.IsZero() {
		st.LastSyncTime = &metav1.Time{Time: m.Time}
	}
	ready := metav1.Condition{Type: konsumeratorv1.ConditionReady, Status: metav1.ConditionTrue,
		Reason: konsumeratorv1.ReasonPlanned, Message: fmt.Sprintf("instances: %d, partitions: %d", len(pl.insts), pl.st.numPartitions)}
	if len(blocked) > 0 {
		ready.Status, ready.Reason = metav1.ConditionFalse, konsumeratorv1.ReasonInstanceBlocked
		ready.Message = summarize("Deployments not controlled by this owner hold instance names; they are not touched",
			blocked, 5)
	}
	conds := []metav1.Condition{ready}
	if pl.st.autoscale {
		c := metav1.Condition{Type: konsumeratorv1.ConditionMetricsAvailable, Status: metav1.ConditionFalse,
			Reason: pl.view.reason, Message: pl.view.message}
		if pl.view.usable && len(pl.view.missing) == 0 {
			c.Status = metav1.ConditionTrue
		}
		conds = append(conds, c)
	}
	if c, ok := pl.budgetCondition(); ok {
		conds = append(conds, c)
	}
	st.Conditions = mergeConditions(pl.s, conds)
	return st
}

func (pl *planner) budgetCondition() (metav1.Condition, bool) {
	if len(pl.st.budget) == 0 {
		return metav1.Condition{}, false
	}
	c := metav1.Condition{Type: konsumeratorv1.ConditionResourceBudget, Status: metav1.ConditionTrue, Reason: konsumeratorv1.ReasonWithinBudget,
		Message: "the instances fit the global budget"}
	short := make([]string, len(pl.budget.short))
	for i, r := range pl.budget.short {
		short[i] = string(r)
	}
	switch pl.budget.reason {
	case konsumeratorv1.ReasonBudgetShared:
		c.Reason = konsumeratorv1.ReasonBudgetShared
		c.Message = "demand exceeds the global budget for " + strings.Join(short, ", ") +
			"; it is shared by giving every instance at most a common level"
	case konsumeratorv1.ReasonMinimumsExceedBudget:
		c.Status, c.Reason = metav1.ConditionFalse, konsumeratorv1.ReasonMinimumsExceedBudget
		c.Message = "the policy minimums, with the current usage of instances not resized now, exceed the global budget for " +
			strings.Join(short, ", ") + "; instances sized from metrics get their minimum"
	}
	return c, true
}

// mergeConditions sets the planner's conditions, keeps LastTransitionTime where status, reason and message
// did not change, passes through conditions of other types, and sorts by type.
func mergeConditions(s *model.Snapshot, owned []metav1.Condition) []metav1.Condition {
	out := make([]metav1.Condition, 0, len(owned)+len(s.Status.Conditions))
	for _, c := range s.Status.Conditions {
		if !ownedConditions[c.Type] {
			out = append(out, *c.DeepCopy())
		}
	}
	for _, c := range owned {
		c.ObservedGeneration = s.Owner.Generation
		c.LastTransitionTime = metav1.Time{Time: s.Now}
		if prev := meta.FindStatusCondition(s.Status.Conditions, c.Type); prev != nil &&
			prev.Status == c.Status && prev.Reason == c.Reason && prev.Message == c.Message {
			c.LastTransitionTime = prev.LastTransitionTime
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// failedStatus keeps the counts of the previous status and says why nothing was planned.
func failedStatus(s *model.Snapshot, reason, message string) konsumeratorv1.ConsumerStatus {
	st := *s.Status.DeepCopy()
	st.ObservedGeneration = ptr.To(s.Owner.Generation)
	ready := metav1.Condition{Type: konsumeratorv1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason,
		Message: message + "; nothing is changed"}
	var keep []metav1.Condition
	for _, c := range s.Status.Conditions {
		if c.Type != konsumeratorv1.ConditionReady {
			keep = append(keep, c)
		}
	}
	tmp := *s
	tmp.Status.Conditions = s.Status.Conditions
	merged := mergeConditions(&tmp, []metav1.Condition{ready})
	// keep the other owned conditions as they were: nothing was evaluated
	for _, c := range keep {
		if ownedConditions[c.Type] {
			merged = append(merged, *c.DeepCopy())
		}
	}
	sort.SliceStable(merged, func(i, j int) bool { return merged[i].Type < merged[j].Type })
	st.Conditions = merged
	return st
}
