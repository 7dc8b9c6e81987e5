package applier

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

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
	}, res.events(nil), "a held-back delete is not a failure of its own")
	assert.Equal(t, model.ApplyReport{Failed: []string{"applying Deployment ns/inst-20: boom"}, Applied: true}, res.report())
	assert.Equal(t, 12, res.Writes())
	assert.Empty(t, Result{Outcomes: []Outcome{{Action: act(model.ActionUnchanged, "a"), Result: ResultUnchanged}}}.events(nil),
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
	}, res.events(nil))

	var many Result
	for i := range 8 {
		many.Outcomes = append(many.Outcomes, resize(fmt.Sprintf("demo-%d", i)))
	}
	ev := many.events(nil)
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

// resizeOutcome is a pod resize of instance with the given result.
func resizeOutcome(instance, pod string, result string, restart bool) Outcome {
	a := model.Action{Kind: model.ActionResize, Phase: model.PhaseResize, Namespace: "ns", Name: pod, UID: types.UID("uid-" + pod),
		Reason: "resized in place to the decided resources, no restart",
		Resize: &model.PodResize{Deployment: instance, Containers: []model.ContainerResize{{Index: 0, Name: "app",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1200m"), corev1.ResourceMemory: resource.MustParse("100M")}}}}}}
	if restart {
		a.Restart, a.RestartReason = true, konsumeratorv1.RestartContainerPolicy
		a.Reason = "resized in place; a container's resizePolicy restarts it"
	}
	return Outcome{Action: a, Result: result}
}

// TestEventsTellResizedInPlaceFromRestarted: an in-place decision is told with the pods it resized and says that
// nothing restarts; a pod that started at the template's size is told with its own numbers; a decision with no
// pod to resize yet is an update that restarts nothing; a fallback is a Warning with its reason and a restart.
func TestEventsTellResizedInPlaceFromRestarted(t *testing.T) {
	inPlace := func(name string) Outcome {
		return Outcome{Result: ResultConfigured, Action: model.Action{Kind: model.ActionUpdate, Name: name, InPlace: true,
			Reason: "resources: scale up: waited 5m0s; resized in place (2 pod(s), no restart)", Load: "load needs 1200m cpu",
			Resources: []model.ResourceChange{{Container: "app", Resource: "cpu", From: "300m", To: "1200m"}}}}
	}
	recorded := inPlace("demo-3")
	recorded.Action.Reason = "resources: scale up: waited 5m0s; recorded for in-place resize, no running pod to resize (no restart)"
	res := Result{Outcomes: []Outcome{
		inPlace("demo-1"),
		resizeOutcome("demo-1", "demo-1-a", ResultResized, false),
		resizeOutcome("demo-1", "demo-1-b", ResultResized, false),
		{Result: ResultUnchanged, Action: model.Action{Kind: model.ActionUnchanged, Name: "demo-2", InPlace: true}},
		resizeOutcome("demo-2", "demo-2-a", ResultResized, false),
		resizeOutcome("demo-2", "demo-2-b", ResultGone, false),
		recorded,
		{Result: ResultConfigured, Action: model.Action{Kind: model.ActionUpdate, Name: "demo-4", Restart: true,
			RestartReason: konsumeratorv1.RestartResizeInfeasible,
			Reason:        "resources: restart to reach the decided resources, pod demo-4-a: the kubelet reports the resize infeasible: too big",
			Resources:     []model.ResourceChange{{Container: "app", Resource: "cpu", From: "300m", To: "1200m"}}}},
	}}
	s := &model.Snapshot{Pods: []corev1.Pod{{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-2-a", UID: "uid-demo-2-a"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("300m"), corev1.ResourceMemory: resource.MustParse("100M")}}}}},
	}}}
	assert.Equal(t, []event{
		{"Normal", "InstancesResizedInPlace", "resized 3 pod(s) of 2 instance(s) in place, nothing restarts: " +
			"demo-1 (2 pod(s)): cpu 300m → 1200m: scale up: waited 5m0s; resized in place (2 pod(s), no restart); load needs 1200m cpu; " +
			"demo-2 (1 pod(s)): cpu 300m → 1200m: resized in place to the decided resources, no restart"},
		{"Warning", "ResizeFallbackToRestart", "1 instance(s) restart instead of resizing in place: demo-4: ResizeInfeasible: " +
			"restart to reach the decided resources, pod demo-4-a: the kubelet reports the resize infeasible: too big"},
		{"Normal", "InstancesResized", "resized 1 instance(s), their pods restart: demo-4: cpu 300m → 1200m: " +
			"restart to reach the decided resources, pod demo-4-a: the kubelet reports the resize infeasible: too big"},
		{"Normal", "InstancesUpdated", "updated 1 instance(s), nothing restarts: demo-3: cpu 300m → 1200m: " +
			"scale up: waited 5m0s; recorded for in-place resize, no running pod to resize (no restart); load needs 1200m cpu"},
	}, res.events(s))
	assert.Equal(t, 6, res.Writes(), "three updates and three pods resized; a pod gone was not written")

	policy := Result{Outcomes: []Outcome{resizeOutcome("demo-1", "demo-1-a", ResultResized, true)}}
	ev := policy.events(nil)
	require.Len(t, ev, 1)
	assert.Equal(t, "resized 1 pod(s) of 1 instance(s) in place, containers restart only where their resizePolicy says so: "+
		"demo-1 (1 pod(s)): resized in place; a container's resizePolicy restarts it", ev[0].Message)
}

func TestDescribeNamesPodsAndRestartReasons(t *testing.T) {
	actions := []model.Action{
		{Kind: model.ActionUpdate, Namespace: "ns", Name: "a", Reason: "resources: restart", Restart: true,
			RestartReason: konsumeratorv1.RestartQoSChange, Changes: []string{"cpu 1->2"}},
		{Kind: model.ActionResize, Namespace: "ns", Name: "a-rs1-x", Reason: "resized in place",
			Changes: []string{"spec.containers[app].resources.requests.cpu: 1 -> 2"}},
	}
	assert.Equal(t, []string{
		"update Deployment/ns/a: resources: restart (restart: ResizeChangesQoS) [cpu 1->2]",
		"resize Pod/ns/a-rs1-x: resized in place [spec.containers[app].resources.requests.cpu: 1 -> 2]",
	}, describe(actions, false))
}

// TestRestartsAndResizesAreCounted: an instance is counted once per restart, with its reason (a template change
// when the plan names none); creates restart nothing; resizes count by outcome.
func TestRestartsAndResizesAreCounted(t *testing.T) {
	m := NewMetrics(nil)
	m.countResults([]Outcome{
		{Result: ResultCreated, Action: model.Action{Kind: model.ActionCreate, Name: "new"}},
		{Result: ResultConfigured, Action: model.Action{Kind: model.ActionUpdate, Name: "img", Restart: true}},
		{Result: ResultConfigured, Action: model.Action{Kind: model.ActionUpdate, Name: "qos", Restart: true, RestartReason: konsumeratorv1.RestartQoSChange}},
		{Result: ResultFailed, Action: model.Action{Kind: model.ActionUpdate, Name: "broken", Restart: true}},
		{Result: ResultConfigured, Action: model.Action{Kind: model.ActionUpdate, Name: "quiet", InPlace: true}},
		resizeOutcome("quiet", "quiet-a", ResultResized, false),
		resizeOutcome("policy", "policy-a", ResultResized, true),
		resizeOutcome("policy", "policy-b", ResultResized, true),
		resizeOutcome("policy", "policy-c", ResultGone, true),
		resizeOutcome("policy", "policy-d", ResultFailed, true),
	})
	restarts := map[string]float64{}
	for _, r := range restartReasons() {
		if v := testutil.ToFloat64(m.Restarts.WithLabelValues(r)); v > 0 {
			restarts[r] = v
		}
	}
	assert.Equal(t, map[string]float64{
		konsumeratorv1.RestartTemplateChanged: 1, konsumeratorv1.RestartQoSChange: 1, konsumeratorv1.RestartContainerPolicy: 1,
	}, restarts)
	assert.Equal(t, 3.0, testutil.ToFloat64(m.Resizes.WithLabelValues(konsumeratorv1.ResizeApplied)))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.Resizes.WithLabelValues(konsumeratorv1.ResizeGone)))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.Resizes.WithLabelValues(konsumeratorv1.ResizeFailed)))
}

// TestResizePatchTestsBeforeItChanges: the UID and every container's name at its index are tested before any
// resources are set, so a failed test leaves the pod as it was.
func TestResizePatchTestsBeforeItChanges(t *testing.T) {
	raw, err := resizePatch("uid-1", []model.ContainerResize{
		{Index: 0, Name: "app", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}},
		{Index: 2, Name: "sidecar", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}},
	})
	require.NoError(t, err)
	assert.JSONEq(t, `[
		{"op":"test","path":"/metadata/uid","value":"uid-1"},
		{"op":"test","path":"/spec/containers/0/name","value":"app"},
		{"op":"test","path":"/spec/containers/2/name","value":"sidecar"},
		{"op":"add","path":"/spec/containers/0/resources","value":{"limits":{"cpu":"2"}}},
		{"op":"add","path":"/spec/containers/2/resources","value":{"requests":{"memory":"64Mi"}}}
	]`, string(raw))
}
