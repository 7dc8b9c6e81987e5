package applier

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

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

// events are the Events of a pass: one per kind of change that happened, and one for failed writes. An
// unchanged pass has none.
func (r Result) events() []event {
	byResult := map[string][]string{}
	for _, o := range r.Outcomes {
		byResult[o.Result] = append(byResult[o.Result], o.Action.Name)
	}
	var out []event
	for _, e := range []struct{ result, reason, verb string }{
		{ResultCreated, konsumeratorv1.EventInstancesCreated, "created"},
		{ResultConfigured, konsumeratorv1.EventInstancesUpdated, "updated"},
		{ResultDeleted, konsumeratorv1.EventInstancesDeleted, "deleted"},
	} {
		if names := byResult[e.result]; len(names) > 0 {
			out = append(out, event{corev1.EventTypeNormal, e.reason,
				fmt.Sprintf("%s %d instance(s): %s", e.verb, len(names), model.ShortList(names, 10))})
		}
	}
	if errs := r.failures(); len(errs) > 0 {
		out = append(out, event{corev1.EventTypeWarning, konsumeratorv1.EventApplyFailed,
			fmt.Sprintf("%d write(s) failed; first: %v", len(errs), errs[0])})
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
		if len(a.Changes) > 0 {
			line += " [" + strings.Join(a.Changes, "; ") + "]"
		}
		out = append(out, line)
	}
	return out
}
