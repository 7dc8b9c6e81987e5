package applier

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
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

func TestEventsExplainEachDecisionWithItsNumbers(t *testing.T) {
	resize := func(name string) Outcome {
		return Outcome{Result: ResultConfigured, Action: model.Action{Kind: model.ActionUpdate, Name: name, Restart: true,
			Reason: "resources: scale up: waited 5m0s", Load: "lag 12s above tolerableLag 10s, load needs 1200m cpu",
			Resources: []model.ResourceChange{{Container: "app", Resource: "cpu", From: "300m", To: "1200m"},
				{Container: "app", Resource: "memory", From: "100M", To: "200M"}}}}
	}
	res := Result{Outcomes: []Outcome{
		resize("demo-1"),
		{Result: ResultConfigured, Action: model.Action{Kind: model.ActionUpdate, Name: "demo-2", Pending: true,
			Reason: "scale up pending (waits 5m0s) (no restart)", Load: "lag 12s above tolerableLag 10s, load needs 1200m cpu"}},
		{Result: ResultConfigured, Action: model.Action{Kind: model.ActionUpdate, Name: "demo-3", Restart: true,
			Reason: "pod template differs from the spec"}},
	}}
	assert.Equal(t, []event{
		{"Normal", "InstancesResized", "resized 1 instance(s), their pods restart: demo-1: cpu 300m → 1200m, memory 100M → 200M: scale up: waited 5m0s; lag 12s above tolerableLag 10s, load needs 1200m cpu"},
		{"Normal", "ScalingPending", "1 instance(s) wait to scale, nothing restarts: demo-2: scale up pending (waits 5m0s) (no restart); lag 12s above tolerableLag 10s, load needs 1200m cpu"},
		{"Normal", "InstancesUpdated", "updated 1 instance(s), their pods restart: demo-3: pod template differs from the spec"},
	}, res.events())

	var many Result
	for i := range 8 {
		many.Outcomes = append(many.Outcomes, resize(fmt.Sprintf("demo-%d", i)))
	}
	ev := many.events()
	require.Len(t, ev, 1, "one Event per decision, however many instances it touches")
	assert.True(t, strings.HasPrefix(ev[0].Message, "resized 8 instance(s)"), ev[0].Message)
	assert.True(t, strings.HasSuffix(ev[0].Message, "; and 3 more"), ev[0].Message)
}

func TestWarningsFollowTheStatusNotThePass(t *testing.T) {
	failing := metav1.Condition{Type: konsumeratorv1.ConditionMetricsAvailable, Status: metav1.ConditionFalse,
		Reason: konsumeratorv1.ReasonMetricsFetchFailed, Message: "reading metrics failed: connection refused"}
	unknown := metav1.Condition{Type: konsumeratorv1.ConditionSpecWarnings, Status: metav1.ConditionTrue,
		Reason: konsumeratorv1.ReasonPolicyUnknownContainer, Message: "resourcePolicy.containerPolicies name containers the template does not have, so they bound nothing: sidecr"}
	mismatch := metav1.Condition{Type: konsumeratorv1.ConditionReady, Status: metav1.ConditionFalse,
		Reason: konsumeratorv1.ReasonNamespaceMismatch, Message: "spec.namespace differs"}
	s := &model.Snapshot{Metrics: &model.MetricsSample{Error: "connection refused"}}
	final := []metav1.Condition{failing, unknown, mismatch}

	assert.Equal(t, []event{
		{"Warning", "NamespaceMismatch", "spec.namespace differs"},
		{"Warning", "MetricsFetchFailed", "reading metrics failed: connection refused"},
		{"Warning", "PolicyUnknownContainer", unknown.Message},
	}, conditionEvents(s, final), "first seen")

	s.Status.Conditions = final
	assert.Empty(t, conditionEvents(s, final), "the same problem in the next pass, or after a restart: no Event")

	changedFailure := failing
	changedFailure.Message = "reading metrics failed: timeout"
	assert.Equal(t, []event{{"Warning", "MetricsFetchFailed", "reading metrics failed: timeout"}},
		conditionEvents(s, []metav1.Condition{changedFailure, unknown, mismatch}), "a different failure")
}

func TestReadyProblemsAreWarnings(t *testing.T) {
	ready := func(reason, msg string) []metav1.Condition {
		return []metav1.Condition{{Type: konsumeratorv1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, Message: msg}}
	}
	s := &model.Snapshot{}
	assert.Equal(t, []event{{"Warning", "InstanceBlocked", "c-1 is someone else's"}},
		conditionEvents(s, ready(konsumeratorv1.ReasonInstanceBlocked, "c-1 is someone else's")))
	assert.Equal(t, []event{{"Warning", "InvalidSpec", "invalid spec: replicas must not be negative"}},
		conditionEvents(s, ready(konsumeratorv1.ReasonInvalidSpec, "invalid spec: replicas must not be negative")),
		"a spec the API server let through")
	s.SpecError = "bad YAML"
	assert.Empty(t, conditionEvents(s, ready(konsumeratorv1.ReasonInvalidSpec, "bad YAML")),
		"a guest-mode spec error is evented where it is read")
	assert.Empty(t, conditionEvents(&model.Snapshot{}, ready(konsumeratorv1.ReasonApplyFailed, "boom")),
		"failed writes have their own Event")
}
