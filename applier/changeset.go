package applier

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// Results of an outcome, in the vocabulary of kubectl and Flux.
const (
	ResultCreated    = "created"
	ResultConfigured = "configured"
	ResultDeleted    = "deleted"
	ResultUnchanged  = "unchanged"
	ResultSkipped    = "skipped"
	ResultFailed     = "failed"
	ResultDryRun     = "dry-run"
	// ResultResized: a running pod got new resources in place.
	ResultResized = "resized"
	// ResultGone: the pod to resize was deleted or replaced before the call; nothing was changed.
	ResultGone = "gone"
)

// fallbackReasons are the restart reasons of an instance that would have been resized in place but could not be.
var fallbackReasons = map[string]bool{
	konsumeratorv1.RestartQoSChange:             true,
	konsumeratorv1.RestartResizeInfeasible:      true,
	konsumeratorv1.RestartResizeDeferred:        true,
	konsumeratorv1.RestartResizeInProgress:      true,
	konsumeratorv1.RestartResizeError:           true,
	konsumeratorv1.RestartResizeUnsupported:     true,
	konsumeratorv1.RestartResizeRemovesResource: true,
}

// Outcome is what happened to one action.
type Outcome struct {
	Action    model.Action
	Result    string
	Err       error
	Conflicts []Conflict
}

// Result is what a plan's execution did: the change set, the conflicts met, and the status that follows.
type Result struct {
	Outcomes      []Outcome
	Conflicts     []Conflict
	Status        konsumeratorv1.ConsumerStatus
	StatusWritten bool
}

// Writes counts the outcomes that changed or would change (dry run) an object.
func (r Result) Writes() int {
	n := 0
	for _, o := range r.Outcomes {
		switch o.Result {
		case ResultCreated, ResultConfigured, ResultResized, ResultDeleted, ResultDryRun:
			n++
		}
	}
	return n
}

// failures are the errors of the writes that were tried and failed; writes held back are not counted, their
// cause already is.
func (r Result) failures() []error {
	var errs []error
	for _, o := range r.Outcomes {
		if o.Err != nil && o.Result == ResultFailed {
			errs = append(errs, o.Err)
		}
	}
	return errs
}

// report is what the planner's FinalStatus needs to know of this execution.
func (r Result) report() model.ApplyReport {
	rep := model.ApplyReport{Conflicts: r.Conflicts}
	for _, err := range r.failures() {
		rep.Failed = append(rep.Failed, err.Error())
	}
	for _, o := range r.Outcomes {
		if (o.Action.Kind == model.ActionCreate || o.Action.Kind == model.ActionUpdate) && o.Err == nil {
			rep.Applied = true
		}
	}
	return rep
}

// event is one Event to emit on the owner.
type event struct {
	Type, Reason, Message string
}

// maxEventItems bounds the instances one Event lists, so that a Consumer with hundreds of instances gets short
// Events.
const maxEventItems = 5

// events are the Events of a pass: one per kind of decision carried out, each listing the instances with their
// numbers and reason, and one for failed writes. An unchanged pass has none. s, when set, gives the numbers of a
// resize that has no instance update (a pod recreated at the template's size).
func (r Result) events(s *model.Snapshot) []event {
	byResult := map[string][]string{}
	var resized, pending, updated, quiet, fallback []string
	inPlace := map[string]model.Action{}
	for _, o := range r.Outcomes {
		byResult[o.Result] = append(byResult[o.Result], o.Action.Name)
		if o.Result != ResultConfigured || o.Action.Kind != model.ActionUpdate {
			continue
		}
		a := o.Action
		switch {
		case a.InPlace:
			inPlace[a.Name] = a // told with the pods it resized, below
		case len(a.Resources) > 0 && a.Restart:
			resized = append(resized, resizeText(a))
		case len(a.Resources) > 0:
			quiet = append(quiet, resizeText(a))
		case !a.Restart && a.Pending:
			pending = append(pending, a.Name+": "+withLoad(a.Reason, a.Load))
		case a.Restart:
			updated = append(updated, a.Name+": "+a.Reason)
		default:
			quiet = append(quiet, a.Name+": "+a.Reason)
		}
		if a.Restart && fallbackReasons[a.RestartReason] {
			fallback = append(fallback, a.Name+": "+a.RestartReason+": "+strings.TrimPrefix(a.Reason, "resources: "))
		}
	}
	inPlaceItems, pods, restarts := r.inPlaceItems(s, inPlace)
	for name, a := range inPlace {
		if _, told := pods[name]; !told {
			// The decision is recorded; no pod was resized in this pass (none running, or all still resizing).
			quiet = append(quiet, resizeText(a))
		}
	}
	sort.Strings(quiet)
	var out []event
	if names := byResult[ResultCreated]; len(names) > 0 {
		out = append(out, event{corev1.EventTypeNormal, konsumeratorv1.EventInstancesCreated,
			fmt.Sprintf("created %d instance(s): %s", len(names), model.ShortList(names, 10))})
	}
	if len(inPlaceItems) > 0 {
		n := 0
		for _, c := range pods {
			n += c
		}
		intro := fmt.Sprintf("resized %d pod(s) of %d instance(s) in place, nothing restarts: ", n, len(inPlaceItems))
		if restarts {
			intro = fmt.Sprintf("resized %d pod(s) of %d instance(s) in place, containers restart only where their resizePolicy says so: ", n, len(inPlaceItems))
		}
		out = append(out, event{corev1.EventTypeNormal, konsumeratorv1.EventInstancesResizedInPlace,
			intro + shortItems(inPlaceItems, maxEventItems)})
	}
	if len(fallback) > 0 {
		out = append(out, event{corev1.EventTypeWarning, konsumeratorv1.EventResizeFallback,
			fmt.Sprintf("%d instance(s) restart instead of resizing in place: ", len(fallback)) + shortItems(fallback, maxEventItems)})
	}
	for _, e := range []struct {
		items         []string
		reason, intro string
	}{
		{resized, konsumeratorv1.EventInstancesResized, "resized %d instance(s), their pods restart: "},
		{pending, konsumeratorv1.EventScalingPending, "%d instance(s) wait to scale, nothing restarts: "},
		{updated, konsumeratorv1.EventInstancesUpdated, "updated %d instance(s), their pods restart: "},
		{quiet, konsumeratorv1.EventInstancesUpdated, "updated %d instance(s), nothing restarts: "},
	} {
		if len(e.items) > 0 {
			out = append(out, event{corev1.EventTypeNormal, e.reason,
				fmt.Sprintf(e.intro, len(e.items)) + shortItems(e.items, maxEventItems)})
		}
	}
	var deleted, stuck, bumped []string
	for _, o := range r.Outcomes {
		a := o.Action
		switch {
		case o.Result == ResultDeleted && a.Kind == model.ActionDeletePod:
			stuck = append(stuck, a.Name+": "+a.Reason)
		case o.Result == ResultDeleted:
			deleted = append(deleted, a.Name)
		case a.OutOfMemory != "" && (o.Result == ResultConfigured || o.Result == ResultCreated):
			bumped = append(bumped, a.Name+": "+a.OutOfMemory)
		}
	}
	if len(deleted) > 0 {
		out = append(out, event{corev1.EventTypeNormal, konsumeratorv1.EventInstancesDeleted,
			fmt.Sprintf("deleted %d instance(s): %s", len(deleted), model.ShortList(deleted, 10))})
	}
	if len(bumped) > 0 {
		out = append(out, event{corev1.EventTypeNormal, konsumeratorv1.EventMemoryBumped,
			fmt.Sprintf("%d instance(s) get more memory at once after out-of-memory kills: ", len(bumped)) + shortItems(bumped, maxEventItems)})
	}
	if len(stuck) > 0 {
		out = append(out, event{corev1.EventTypeWarning, konsumeratorv1.EventStuckPodDeleted,
			fmt.Sprintf("deleted %d pod(s) stuck on a node that is gone: ", len(stuck)) + shortItems(stuck, maxEventItems)})
	}
	if errs := r.failures(); len(errs) > 0 {
		out = append(out, event{corev1.EventTypeWarning, konsumeratorv1.EventApplyFailed,
			fmt.Sprintf("%d write(s) failed; first: %v", len(errs), errs[0])})
	}
	return out
}

// inPlaceItems are the instances whose pods were resized in this pass, by name, each "c-0 (2 pods): cpu 100m → 2:
// reason": the numbers and reason of the instance's update when the decision is new, else (a pod that started at
// the template's size) those of its resizes. pods counts the pods resized per instance; restarts is true when a
// container restarts by its resizePolicy.
func (r Result) inPlaceItems(s *model.Snapshot, updates map[string]model.Action) (items []string, pods map[string]int, restarts bool) {
	pods = map[string]int{}
	first := map[string]model.Action{}
	for _, o := range r.Outcomes {
		a := o.Action
		if a.Kind != model.ActionResize || o.Result != ResultResized || a.Resize == nil {
			continue
		}
		name := a.Resize.Deployment
		if pods[name] == 0 {
			first[name] = a
		}
		pods[name]++
		restarts = restarts || a.Restart
	}
	names := make([]string, 0, len(pods))
	for name := range pods {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a, ok := updates[name]
		if !ok {
			a = first[name]
			a.Name, a.Resources = name, podResourceChanges(s, first[name])
		}
		text := resizeText(a)
		items = append(items, strings.Replace(text, name+": ", fmt.Sprintf("%s (%d pod(s)): ", name, pods[name]), 1))
	}
	return items, pods, restarts
}

// podResourceChanges are the request changes of a resize, from the pod as the snapshot saw it.
func podResourceChanges(s *model.Snapshot, a model.Action) []model.ResourceChange {
	if s == nil || a.Resize == nil {
		return nil
	}
	var pod *corev1.Pod
	for i := range s.Pods {
		if s.Pods[i].UID == a.UID {
			pod = &s.Pods[i]
		}
	}
	if pod == nil {
		return nil
	}
	var out []model.ResourceChange
	for _, c := range a.Resize.Containers {
		if c.Index >= len(pod.Spec.Containers) {
			continue
		}
		from := pod.Spec.Containers[c.Index].Resources.Requests
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			f, hadFrom := from[res]
			t, hasTo := c.Resources.Requests[res]
			if !hadFrom || !hasTo || f.Cmp(t) == 0 {
				continue
			}
			out = append(out, model.ResourceChange{Container: c.Name, Resource: string(res), From: f.String(), To: t.String()})
		}
	}
	return out
}

// resizeText is "demo-1: cpu 300m → 1200m, memory 100M → 200M: scale up: waited 5m0s; lag 12s above
// tolerableLag 10s, load needs 1200m cpu". Containers are named when more than one changes.
func resizeText(a model.Action) string {
	several := false
	for _, rc := range a.Resources {
		several = several || rc.Container != a.Resources[0].Container
	}
	parts := make([]string, 0, len(a.Resources))
	for _, rc := range a.Resources {
		p := rc.Resource + " " + rc.From + " → " + rc.To
		if several {
			p = rc.Container + " " + p
		}
		parts = append(parts, p)
	}
	reason := withLoad(strings.TrimPrefix(a.Reason, "resources: "), a.Load)
	if len(parts) == 0 {
		return a.Name + ": " + reason
	}
	return a.Name + ": " + strings.Join(parts, ", ") + ": " + reason
}

func withLoad(reason, load string) string {
	if load == "" {
		return reason
	}
	return reason + "; " + load
}

// shortItems joins at most max items with "; " and says how many more there are.
func shortItems(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(items[:max], "; "), len(items)-max)
}

// conditionEvents are the Warning Events of problems the status reports: each is emitted when its condition
// appears or its reason or message changes against the observed status, so that a failure that repeats every
// pass is evented once per change — without memory in the operator, so a restart repeats nothing either.
func conditionEvents(s *model.Snapshot, final []metav1.Condition) []event {
	var out []event
	changed := func(c *metav1.Condition) bool {
		prev := apimeta.FindStatusCondition(s.Status.Conditions, c.Type)
		return prev == nil || prev.Status != c.Status || prev.Reason != c.Reason || prev.Message != c.Message
	}
	if c := apimeta.FindStatusCondition(final, konsumeratorv1.ConditionReady); c != nil && c.Status == metav1.ConditionFalse && changed(c) {
		switch c.Reason {
		case konsumeratorv1.ReasonNamespaceMismatch, konsumeratorv1.ReasonInstanceBlocked:
			out = append(out, event{corev1.EventTypeWarning, c.Reason, c.Message})
		case konsumeratorv1.ReasonInvalidSpec:
			// A guest-mode spec error is evented where it is read; this is what the API server let through.
			if s.SpecError == "" {
				out = append(out, event{corev1.EventTypeWarning, c.Reason, c.Message})
			}
		}
	}
	if s.Owner.Kind == model.OwnerConfigMap {
		// A guest-mode owner keeps only Ready in its annotations: the other conditions cannot be compared, and
		// evented every pass they would be noise.
		return out
	}
	if c := apimeta.FindStatusCondition(final, konsumeratorv1.ConditionMetricsAvailable); c != nil &&
		s.Metrics != nil && s.Metrics.Error != "" && changed(c) {
		out = append(out, event{corev1.EventTypeWarning, konsumeratorv1.EventMetricsFetchFailed, c.Message})
	}
	if c := apimeta.FindStatusCondition(final, konsumeratorv1.ConditionSpecWarnings); c != nil && changed(c) {
		out = append(out, event{corev1.EventTypeWarning, c.Reason, c.Message})
	}
	if c := apimeta.FindStatusCondition(final, konsumeratorv1.ConditionRolloutHealthy); c != nil &&
		c.Reason == konsumeratorv1.ReasonRolloutHalted && changed(c) {
		out = append(out, event{corev1.EventTypeWarning, konsumeratorv1.EventRolloutHalted, c.Message})
	}
	return out
}

// describe renders the actions of a plan for its log line, one "kind Deployment/namespace/name: reason
// (restart: reason) [changes]" each, "resize Pod/namespace/name: …" for an action on a pod. Without all, only the writes and the held-back changes are listed.
func describe(actions []model.Action, all bool) []string {
	out := make([]string, 0, len(actions))
	for _, a := range actions {
		if !all && !a.Writes() && a.Kind != model.ActionSkip {
			continue
		}
		kind := "Deployment"
		if a.Kind == model.ActionResize || a.Kind == model.ActionDeletePod {
			kind = "Pod"
		}
		line := fmt.Sprintf("%s %s/%s/%s: %s", a.Kind, kind, a.Namespace, a.Name, a.Reason)
		if a.Load != "" {
			line += " (" + a.Load + ")"
		}
		if a.RestartReason != "" && a.Kind != model.ActionSkip {
			line += " (restart: " + a.RestartReason + ")"
		}
		if len(a.Changes) > 0 {
			line += " [" + strings.Join(a.Changes, "; ") + "]"
		}
		out = append(out, line)
	}
	return out
}
