package planner

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// inTypeOrder is conditions as a status lists them: by type.
func inTypeOrder(cs ...metav1.Condition) []metav1.Condition {
	out := slices.Clone(cs)
	slices.SortStableFunc(out, func(a, b metav1.Condition) int { return strings.Compare(a.Type, b.Type) })
	return out
}

func TestFinalStatus(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	earlier := metav1.NewTime(now.Add(-time.Hour))
	s := &model.Snapshot{Now: now, Owner: model.Owner{Kind: model.OwnerConsumer, Namespace: "ns", Name: "c", Generation: 3}}
	planned := metav1.Condition{Type: konsumeratorv1.ConditionReady, Status: metav1.ConditionTrue, Reason: konsumeratorv1.ReasonPlanned,
		Message: "instances: 2, partitions: 2", ObservedGeneration: 3, LastTransitionTime: earlier}
	cond := func(typ string, status metav1.ConditionStatus, reason, message string, at metav1.Time) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message, ObservedGeneration: 3, LastTransitionTime: at}
	}
	replicas := model.Conflict{Object: "ns/inst-0", Manager: "kubectl-edit", Field: ".spec.replicas"}
	cpu := model.Conflict{Object: "ns/inst-1", Manager: "vpa", Field: `.spec.template.spec.containers[name="main"].resources.requests.cpu`}
	noConflicts := cond(konsumeratorv1.ConditionConflicts, metav1.ConditionFalse, konsumeratorv1.ReasonNoConflicts,
		"no other field manager owns fields the operator sets", metav1.NewTime(now))
	many := make([]string, 40)
	for i := range many {
		many[i] = "applying Deployment ns/inst-0: " + strings.Repeat("x", 40)
	}

	for _, tc := range []struct {
		name    string
		planned []metav1.Condition
		report  model.ApplyReport
		policy  model.ConflictPolicy
		want    []metav1.Condition
	}{
		{
			name:    "nothing applied, nothing failed: the plan's status as is",
			planned: []metav1.Condition{planned},
			want:    []metav1.Condition{planned},
		},
		{
			name:    "nothing applied keeps an earlier conflicts condition: this pass learnt nothing about ownership",
			planned: inTypeOrder(planned, cond(konsumeratorv1.ConditionConflicts, metav1.ConditionTrue, konsumeratorv1.ReasonConflictsForced, "old", earlier)),
			want:    inTypeOrder(planned, cond(konsumeratorv1.ConditionConflicts, metav1.ConditionTrue, konsumeratorv1.ReasonConflictsForced, "old", earlier)),
		},
		{
			name:    "an applied write without conflicts clears them",
			planned: []metav1.Condition{planned},
			report:  model.ApplyReport{Applied: true},
			want:    inTypeOrder(planned, noConflicts),
		},
		{
			name:    "a failed write turns Ready false with the count and the first error",
			planned: []metav1.Condition{planned},
			report:  model.ApplyReport{Failed: []string{"applying Deployment ns/inst-1: boom", "deleting Deployment ns/old-0: gone"}},
			want: []metav1.Condition{cond(konsumeratorv1.ConditionReady, metav1.ConditionFalse, konsumeratorv1.ReasonApplyFailed,
				"2 write(s) failed; first: applying Deployment ns/inst-1: boom", metav1.NewTime(now))},
		},
		{
			name:    "failed and applied writes: Ready false and no conflicts",
			planned: []metav1.Condition{planned},
			report:  model.ApplyReport{Failed: []string{"boom"}, Applied: true},
			want: []metav1.Condition{noConflicts, cond(konsumeratorv1.ConditionReady, metav1.ConditionFalse, konsumeratorv1.ReasonApplyFailed,
				"1 write(s) failed; first: boom", metav1.NewTime(now))},
		},
		{
			name:    "conflicts forced, grouped by manager",
			planned: []metav1.Condition{planned},
			report:  model.ApplyReport{Conflicts: []model.Conflict{cpu, replicas}, Applied: true},
			policy:  model.ConflictForce,
			want: inTypeOrder(planned, cond(konsumeratorv1.ConditionConflicts, metav1.ConditionTrue, konsumeratorv1.ReasonConflictsForced,
				`"kubectl-edit" owns ns/inst-0 .spec.replicas; "vpa" owns ns/inst-1 .spec.template.spec.containers[name="main"].resources.requests.cpu: taken back (conflict policy force)`,
				metav1.NewTime(now))),
		},
		{
			name:    "conflicts respected",
			planned: []metav1.Condition{planned},
			report:  model.ApplyReport{Conflicts: []model.Conflict{replicas}, Applied: true},
			policy:  model.ConflictRespect,
			want: inTypeOrder(planned, cond(konsumeratorv1.ConditionConflicts, metav1.ConditionTrue, konsumeratorv1.ReasonConflictsRespected,
				`"kubectl-edit" owns ns/inst-0 .spec.replicas: left to the other manager (conflict policy respect)`, metav1.NewTime(now))),
		},
		{
			name:    "the same conflicts again keep their transition time",
			planned: inTypeOrder(planned, cond(konsumeratorv1.ConditionConflicts, metav1.ConditionTrue, konsumeratorv1.ReasonConflictsForced, "old words", earlier)),
			report:  model.ApplyReport{Conflicts: []model.Conflict{replicas}},
			policy:  model.ConflictForce,
			want: inTypeOrder(planned, cond(konsumeratorv1.ConditionConflicts, metav1.ConditionTrue, konsumeratorv1.ReasonConflictsForced,
				`"kubectl-edit" owns ns/inst-0 .spec.replicas: taken back (conflict policy force)`, earlier)),
		},
		{
			name:    "a long failure message is cut to the condition limit",
			planned: []metav1.Condition{planned},
			report:  model.ApplyReport{Failed: []string{strings.Join(many, "; ")}},
			want: []metav1.Condition{cond(konsumeratorv1.ConditionReady, metav1.ConditionFalse, konsumeratorv1.ReasonApplyFailed,
				("1 write(s) failed; first: " + strings.Join(many, "; "))[:maxConditionMessage-3]+"...", metav1.NewTime(now))},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &model.Plan{Status: konsumeratorv1.ConsumerStatus{Conditions: tc.planned}}
			before := p.Status.DeepCopy()
			got := FinalStatus(s, p, tc.report, tc.policy)
			if diff := cmp.Diff(tc.want, got.Conditions); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, &p.Status); diff != "" {
				t.Errorf("the plan's status was changed:\n%s", diff)
			}
		})
	}
}
