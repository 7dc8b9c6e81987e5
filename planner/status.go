package planner

import (
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
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
	konsumeratorv1.ConditionRolloutComplete:  true,
	konsumeratorv1.ConditionAutoscalerFrozen: true,
	konsumeratorv1.ConditionSpecWarnings:     true,
	konsumeratorv1.ConditionRolloutHealthy:   true,
}

// status is the owner's status as it will be once the plan is carried out. The counts overlap: an instance
// rolling out is RUNNING (its old pods consume) and OUTDATED at once, as in the original Konsumerator.
//
//	expected  instances the spec asks for
//	running   observed, not recreated by this plan, availableReplicas ≥ replicas > 0, not paused (replicas 0
//	          or spec.paused); up to date or not
//	paused    replicas 0, spec.paused, or resources frozen by a disable-autoscaler annotation (owner or instance)
//	missing   expected instances that will not exist after this plan (creates count as existing)
//	lagging   instances whose worst partition lags by tolerableLag or more; while the metrics are unusable the
//	          previous count is kept (unknown is not "not lagging")
//	outdated  instances not yet on the current template: held back from their change, restarted by this
//	          plan, or observed rolling out
func (pl *planner) status() konsumeratorv1.ConsumerStatus {
	var running, paused, missing, lagging, outdated, failing int32
	var current, restarting, held, halted int
	var blocked []string
	replicas := pl.desiredReplicas()
	stopped := replicas == 0 || pl.tmpl.Paused
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
		if in.failure != "" {
			failing++
		}
		if exists && (stopped || pl.st.autoscale && in.frozen) {
			paused++
		}
		if in.observed != nil && !in.recreate && (!in.upToDate || in.inFlight || in.restart) {
			outdated++
		}
		if in.observed != nil && !in.recreate && in.available && !stopped {
			running++
		}
		// An observed instance whose action is a skip waits for the rollout budget (blocked and deleting
		// names have no observed object of the owner).
		isHeld := in.observed != nil && in.action.Kind == model.ActionSkip
		switch {
		case !exists:
		case isHeld:
			held++
			if in.haltHeld {
				halted++
			}
		case in.inFlight || in.restart:
			restarting++
		case in.upToDate:
			current++
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
		Failing:            ptr.To(failing),
		LastSyncTime:       pl.s.Status.LastSyncTime.DeepCopy(),
	}
	if pl.st.autoscale && !pl.view.usable {
		// Unknown lag is not "not lagging": keep the count of the last usable sample, so alerts on it hold.
		st.Lagging = nil
		if prev := pl.s.Status.Lagging; prev != nil {
			st.Lagging = ptr.To(min(*prev, int32(len(pl.insts))))
		}
	}
	ready := metav1.Condition{Type: konsumeratorv1.ConditionReady, Status: metav1.ConditionTrue,
		Reason: konsumeratorv1.ReasonPlanned, Message: fmt.Sprintf("instances: %d, partitions: %d", len(pl.insts), pl.st.numPartitions)}
	if len(blocked) > 0 {
		ready.Status, ready.Reason = metav1.ConditionFalse, konsumeratorv1.ReasonInstanceBlocked
		ready.Message = summarize("Deployments not controlled by this owner hold instance names; they are not touched",
			blocked, 5)
	}
	conds := []metav1.Condition{ready, rolloutCondition(len(pl.insts), current, restarting, held, halted)}
	h := pl.healthCondition(held)
	health := metav1.Condition{Type: konsumeratorv1.ConditionRolloutHealthy, Status: metav1.ConditionTrue,
		Reason: h.reason, Message: h.message}
	if !h.ok {
		health.Status = metav1.ConditionFalse
	}
	conds = append(conds, health)
	if pl.st.autoscale {
		c := metav1.Condition{Type: konsumeratorv1.ConditionMetricsAvailable, Status: metav1.ConditionFalse,
			Reason: pl.view.reason, Message: pl.view.message}
		if pl.view.usable && len(pl.view.missing) == 0 {
			c.Status = metav1.ConditionTrue
		}
		if !pl.view.usable {
			// A time, not an age: the message stays the same from pass to pass while the outage lasts.
			if st.LastSyncTime != nil {
				c.Message += "; LAGGING keeps its count from the sample read at " + st.LastSyncTime.UTC().Format(time.RFC3339)
			} else {
				c.Message += "; LAGGING is unknown until a sample is read"
			}
		}
		conds = append(conds, c)
		if pl.st.frozen {
			conds = append(conds, metav1.Condition{Type: konsumeratorv1.ConditionAutoscalerFrozen,
				Status: metav1.ConditionTrue, Reason: konsumeratorv1.ReasonDisabledByAnnotation,
				Message: "the owner's " + konsumeratorv1.AnnotationDisableAutoscaler +
					" annotation freezes the resources of every instance; they count as PAUSED"})
		}
	}
	if c, ok := pl.budgetCondition(); ok {
		conds = append(conds, c)
	}
	if u := pl.st.unknownPolicies; len(u) > 0 {
		conds = append(conds, metav1.Condition{Type: konsumeratorv1.ConditionSpecWarnings, Status: metav1.ConditionTrue,
			Reason:  konsumeratorv1.ReasonPolicyUnknownContainer,
			Message: summarize("resourcePolicy.containerPolicies name containers the template does not have, so they bound nothing", u, 5)})
	}
	st.Conditions = mergeConditions(pl.s, conds)
	if pl.view.usable {
		stampSync(pl.s, &st)
	}
	return st
}

// rolloutCondition says how far the current template has got. Instances created by this plan run it; those
// restarted by this plan or observed rolling out are restarting; those the rollout budget holds back wait.
func rolloutCondition(n, current, restarting, held, halted int) metav1.Condition {
	c := metav1.Condition{Type: konsumeratorv1.ConditionRolloutComplete, Status: metav1.ConditionTrue,
		Reason: konsumeratorv1.ReasonAllInstancesCurrent, Message: fmt.Sprintf("all %d instances on the current template", n)}
	if current == n {
		return c
	}
	c.Status = metav1.ConditionFalse
	switch {
	case restarting > 0:
		c.Reason = konsumeratorv1.ReasonRollingOut
	case held > 0:
		c.Reason = konsumeratorv1.ReasonWaitingForBudget
	default:
		c.Reason = konsumeratorv1.ReasonInstancesNotCurrent
	}
	c.Message = fmt.Sprintf("%d of %d instances on the current template, %d restarting, %d held by the rollout budget",
		current, n, restarting, held-halted)
	if halted > 0 {
		c.Message += fmt.Sprintf(", %d held by the halted rollout", halted)
	}
	if other := n - current - restarting - held; other > 0 {
		c.Message += fmt.Sprintf(", %d missing or blocked", other)
	}
	return c
}

// stampSync sets lastSyncTime to the time of the sample the status was computed from, but only when the status
// changes anyway: a pass whose only news is a newer sample with the same figures writes nothing. So
// lastSyncTime is the time of the sample behind the figures as last written, and its age shows how old they are.
func stampSync(s *model.Snapshot, st *konsumeratorv1.ConsumerStatus) {
	m := s.Metrics
	if m == nil || m.Time.IsZero() {
		return
	}
	same := *st
	same.LastSyncTime = s.Status.LastSyncTime
	changed := !equality.Semantic.DeepEqual(&same, &s.Status)
	if s.Owner.Kind == model.OwnerConfigMap {
		// A guest-mode owner keeps only what its status annotations hold.
		changed = !maps.Equal(model.StatusAnnotations(same), model.StatusAnnotations(s.Status))
	}
	if s.Status.LastSyncTime == nil || changed {
		st.LastSyncTime = &metav1.Time{Time: m.Time}
	}
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
		if pl.budget.enforced > 0 {
			c.Message = fmt.Sprintf("the instances use more than the global budget for %s; %d instance(s) are cut "+
				"to a common level, the largest first, as the rollout budget lets them restart",
				strings.Join(short, ", "), pl.budget.enforced)
		}
	case konsumeratorv1.ReasonMinimumsExceedBudget:
		c.Status, c.Reason = metav1.ConditionFalse, konsumeratorv1.ReasonMinimumsExceedBudget
		c.Message = "the policy minimums, with the current usage of instances not resized now, exceed the global budget for " +
			strings.Join(short, ", ") + "; instances sized from metrics get their minimum"
		if pl.budget.enforced > 0 {
			c.Message = fmt.Sprintf("the instances use more than the global budget for %s, and cutting %d instance(s) "+
				"to their policy minimum is not enough: the total stays above the budget",
				strings.Join(short, ", "), pl.budget.enforced)
		}
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
	sortConditions(out)
	return out
}

// sortConditions puts conditions in type order, the one order the planner writes them in: a status whose
// conditions came in another order would be rewritten by the next pass only to reorder them.
func sortConditions(cs []metav1.Condition) {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Type < cs[j].Type })
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
