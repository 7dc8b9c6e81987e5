package applier

import (
	"fmt"
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
)

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
		case ResultCreated, ResultConfigured, ResultDeleted, ResultDryRun:
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
// numbers and reason, and one for failed writes. An unchanged pass has none.
func (r Result) events() []event {
	byResult := map[string][]string{}
	var resized, pending, updated, quiet []string
	for _, o := range r.Outcomes {
		byResult[o.Result] = append(byResult[o.Result], o.Action.Name)
		if o.Result != ResultConfigured {
			continue
		}
		a := o.Action
		switch {
		case len(a.Resources) > 0:
			resized = append(resized, resizeText(a))
		case !a.Restart && a.Pending:
			pending = append(pending, a.Name+": "+withLoad(a.Reason, a.Load))
		case a.Restart:
			updated = append(updated, a.Name+": "+a.Reason)
		default:
			quiet = append(quiet, a.Name+": "+a.Reason)
		}
	}
	var out []event
	if names := byResult[ResultCreated]; len(names) > 0 {
		out = append(out, event{corev1.EventTypeNormal, konsumeratorv1.EventInstancesCreated,
			fmt.Sprintf("created %d instance(s): %s", len(names), model.ShortList(names, 10))})
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
	if names := byResult[ResultDeleted]; len(names) > 0 {
		out = append(out, event{corev1.EventTypeNormal, konsumeratorv1.EventInstancesDeleted,
			fmt.Sprintf("deleted %d instance(s): %s", len(names), model.ShortList(names, 10))})
	}
	if errs := r.failures(); len(errs) > 0 {
		out = append(out, event{corev1.EventTypeWarning, konsumeratorv1.EventApplyFailed,
			fmt.Sprintf("%d write(s) failed; first: %v", len(errs), errs[0])})
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
	return a.Name + ": " + strings.Join(parts, ", ") + ": " + withLoad(strings.TrimPrefix(a.Reason, "resources: "), a.Load)
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
	return out
}

// describe renders the actions of a plan for its log line, one "kind Deployment/namespace/name: reason
// [changes]" each. Without all, only the writes and the held-back changes are listed.
func describe(actions []model.Action, all bool) []string {
	out := make([]string, 0, len(actions))
	for _, a := range actions {
		if !all && !a.Writes() && a.Kind != model.ActionSkip {
			continue
		}
		line := fmt.Sprintf("%s Deployment/%s/%s: %s", a.Kind, a.Namespace, a.Name, a.Reason)
		if a.Load != "" {
			line += " (" + a.Load + ")"
		}
		if len(a.Changes) > 0 {
			line += " [" + strings.Join(a.Changes, "; ") + "]"
		}
		out = append(out, line)
	}
	return out
}
