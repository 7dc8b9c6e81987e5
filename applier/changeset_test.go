package applier

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/konsumerator/konsumerator/model"
)

func TestChangeSetRendersEventsAndReport(t *testing.T) {
	act := func(kind model.ActionKind, name string) model.Action {
		return model.Action{Kind: kind, Namespace: "ns", Name: name, Reason: "why"}
	}
	var res Result
	for i := range 12 {
		res.Outcomes = append(res.Outcomes, Outcome{Action: act(model.ActionCreate, fmt.Sprintf("inst-%02d", i)), Result: ResultCreated})
	}
	res.Outcomes = append(res.Outcomes,
		Outcome{Action: act(model.ActionUpdate, "inst-20"), Result: ResultFailed, Err: errors.New("applying Deployment ns/inst-20: boom")},
		Outcome{Action: act(model.ActionDelete, "old-0"), Result: ResultSkipped, Err: errors.New("old-0 held back")},
		Outcome{Action: act(model.ActionUnchanged, "inst-21"), Result: ResultUnchanged},
	)
	assert.Equal(t, []event{
		{"Normal", "InstancesCreated", "created 12 instance(s): inst-00, inst-01, inst-02, inst-03, inst-04, inst-05, inst-06, inst-07, inst-08, inst-09 and 2 more"},
		{"Warning", "ApplyFailed", "1 write(s) failed; first: applying Deployment ns/inst-20: boom"},
	}, res.events(), "a held-back delete is not a failure of its own")
	assert.Equal(t, model.ApplyReport{Failed: []string{"applying Deployment ns/inst-20: boom"}, Applied: true}, res.report())
	assert.Equal(t, 12, res.Writes())
	assert.Empty(t, Result{Outcomes: []Outcome{{Action: act(model.ActionUnchanged, "a"), Result: ResultUnchanged}}}.events(),
		"an unchanged pass emits nothing")
}

func TestDescribeListsWritesAndHeldBackChanges(t *testing.T) {
	actions := []model.Action{
		{Kind: model.ActionUpdate, Namespace: "ns", Name: "a", Reason: "resources: up", Changes: []string{"cpu 1->2", "memory 1Gi->2Gi"}},
		{Kind: model.ActionUnchanged, Namespace: "ns", Name: "b", Reason: "up to date"},
		{Kind: model.ActionSkip, Namespace: "ns", Name: "c", Reason: "rollout budget"},
	}
	assert.Equal(t, []string{
		"update Deployment/ns/a: resources: up [cpu 1->2; memory 1Gi->2Gi]",
		"skip Deployment/ns/c: rollout budget",
	}, describe(actions, false))
	assert.Len(t, describe(actions, true), 3)
}
