// Package applier carries out a model.Plan against the API server: server-side apply under its own field
// manager, deletes guarded by a UID precondition, status under a second field manager, field-ownership conflicts
// audited before they are resolved by policy, Events and metrics. A plan with nothing to do costs no write.
package applier

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// ConflictPolicy says what to do with fields another field manager has taken. The planner reads it too.
type ConflictPolicy = model.ConflictPolicy

const (
	ConflictForce   = model.ConflictForce
	ConflictRespect = model.ConflictRespect
)

// ParseConflictPolicy reads a --conflict-policy value.
func ParseConflictPolicy(s string) (ConflictPolicy, error) {
	switch p := ConflictPolicy(s); p {
	case ConflictForce, ConflictRespect:
		return p, nil
	}
	return "", fmt.Errorf("unknown conflict policy %q: want force or respect", s)
}

// Default field managers. Status has its own so that a status write never claims spec fields and vice versa.
const (
	DefaultFieldManager       = "konsumerator"
	DefaultStatusFieldManager = "konsumerator-status"
)

// Options shape how a plan is carried out.
type Options struct {
	FieldManager   string
	ConflictPolicy ConflictPolicy
	// DryRun checks every write with a server-side dry run and carries out nothing: no object, status or Event
	// is written.
	DryRun bool
	// Workers bounds the writes of one phase that are in flight at once.
	Workers int
}

// EventRecorder emits Events (k8s.io/client-go/tools/events.EventRecorder satisfies it).
type EventRecorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...interface{})
}

// StatusWriter stores an owner's status: the Consumer status subresource, or annotations of a guest-mode
// ConfigMap.
type StatusWriter interface {
	WriteStatus(ctx context.Context, owner client.Object, status konsumeratorv1.ConsumerStatus) error
}

// Applier carries out plans. It is safe for concurrent use by several reconciles.
type Applier struct {
	Client  client.Client
	Events  EventRecorder
	Status  StatusWriter
	Metrics *Metrics
	Options Options
}

// Outcome is what happened to one action.
type Outcome struct {
	Action    model.Action
	Result    string
	Err       error
	Conflicts []Conflict
}

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

// Conflict is one field of one object that another field manager owns.
type Conflict struct {
	Object  string `json:"object"`
	Manager string `json:"manager"`
	Field   string `json:"field"`
}

// Result is what a plan's execution did.
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

// Apply carries out the plan for owner. The returned error joins every failed write; the status written
// reports them too.
func (a *Applier) Apply(ctx context.Context, owner client.Object, s *model.Snapshot, p *model.Plan) (Result, error) {
	log := logr.FromContextOrDiscard(ctx).WithValues("digest", p.SnapshotDigest)
	if a.Options.DryRun {
		log.Info("dry run: plan", "actions", describeAll(p.Actions, true))
	} else if p.Changed() {
		log.Info("plan", "create", p.Count(model.ActionCreate), "update", p.Count(model.ActionUpdate),
			"delete", p.Count(model.ActionDelete), "skip", p.Count(model.ActionSkip), "actions", describeAll(p.Actions, false))
	}

	var res Result
	failed := false
	for _, phase := range []model.Phase{model.PhaseApply, model.PhaseDelete} {
		var todo []model.Action
		for _, act := range p.Actions {
			if act.Phase != phase {
				continue
			}
			switch {
			case !act.Writes():
				res.Outcomes = append(res.Outcomes, Outcome{Action: act, Result: unchangedOrSkipped(act)})
			case failed:
				// Deletes wait for every create and update: a partition must never lose its consumer.
				res.Outcomes = append(res.Outcomes, Outcome{Action: act, Result: ResultSkipped,
					Err: fmt.Errorf("%s held back: earlier writes of this plan failed", act.Name)})
			default:
				todo = append(todo, act)
			}
		}
		for _, o := range a.run(ctx, owner, s, todo) {
			if o.Err != nil {
				failed = true
			}
			res.Conflicts = append(res.Conflicts, o.Conflicts...)
			res.Outcomes = append(res.Outcomes, o)
		}
	}
	sort.SliceStable(res.Outcomes, func(i, j int) bool { return res.Outcomes[i].Action.Name < res.Outcomes[j].Action.Name })

	var errs []error
	for _, o := range res.Outcomes {
		if o.Err != nil && o.Result == ResultFailed {
			errs = append(errs, o.Err)
		}
	}
	a.audit(ctx, owner, s, res.Conflicts)

	res.Status = finalStatus(s, p, res, errs, a.conflictPolicy())
	if a.Options.DryRun {
		return res, errors.Join(errs...)
	}
	a.emitEvents(owner, res, errs)
	if !equality.Semantic.DeepEqual(res.Status, s.Status) && a.Status != nil {
		if err := a.Status.WriteStatus(ctx, owner, res.Status); err != nil {
			errs = append(errs, fmt.Errorf("writing status: %w", err))
		} else {
			res.StatusWritten = true
		}
	}
	return res, errors.Join(errs...)
}

func unchangedOrSkipped(act model.Action) string {
	if act.Kind == model.ActionSkip {
		return ResultSkipped
	}
	return ResultUnchanged
}

func (a *Applier) conflictPolicy() ConflictPolicy {
	if a.Options.ConflictPolicy == "" {
		return ConflictForce
	}
	return a.Options.ConflictPolicy
}

func (a *Applier) fieldManager() string {
	if a.Options.FieldManager == "" {
		return DefaultFieldManager
	}
	return a.Options.FieldManager
}

// run carries out the writes of one phase, with at most Options.Workers in flight.
func (a *Applier) run(ctx context.Context, owner client.Object, s *model.Snapshot, actions []model.Action) []Outcome {
	out := make([]Outcome, len(actions))
	workers := a.Options.Workers
	if workers <= 0 {
		workers = 8
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, len(actions)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = a.one(ctx, s, actions[i])
				if a.Metrics != nil {
					result := "ok"
					if out[i].Err != nil {
						result = "error"
					}
					a.Metrics.Actions.WithLabelValues(string(actions[i].Kind), result).Inc()
					if out[i].Err != nil {
						a.Metrics.Errors.WithLabelValues(errorReason(out[i].Err)).Inc()
					}
				}
			}
		}()
	}
	for i := range actions {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

func (a *Applier) one(ctx context.Context, s *model.Snapshot, act model.Action) Outcome {
	switch act.Kind {
	case model.ActionCreate, model.ActionUpdate:
		return a.apply(ctx, s, act)
	case model.ActionDelete:
		return a.delete(ctx, s, act)
	}
	return Outcome{Action: act, Result: ResultUnchanged}
}

func (a *Applier) dryRunOpts() []client.ApplyOption {
	if a.Options.DryRun {
		return []client.ApplyOption{client.DryRunAll}
	}
	return nil
}

func (a *Applier) apply(ctx context.Context, s *model.Snapshot, act model.Action) Outcome {
	o := Outcome{Action: act}
	if act.Desired == nil {
		o.Result, o.Err = ResultFailed, fmt.Errorf("%s: plan has no desired object", act.Name)
		return o
	}
	obj, err := toUnstructured(act.Desired)
	if err != nil {
		o.Result, o.Err = ResultFailed, fmt.Errorf("%s: %w", act.Name, err)
		return o
	}
	if act.Kind == model.ActionUpdate && act.UID != "" {
		// A UID precondition: if the object was deleted and replaced by someone else since it was observed, the
		// write fails instead of taking over the stranger.
		obj.SetUID(act.UID)
	}
	policy := a.conflictPolicy()
	if policy == ConflictRespect {
		yield(obj, observed(s, act.Name))
	}

	opts := append([]client.ApplyOption{client.FieldOwner(a.fieldManager())}, a.dryRunOpts()...)
	err = withRetry(ctx, func() error { return a.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), opts...) })
	if conflicts := fieldConflicts(err, act.Namespace+"/"+act.Name); len(conflicts) > 0 {
		o.Conflicts = conflicts
		switch policy {
		case ConflictForce:
			opts = append(opts, client.ForceOwnership)
		case ConflictRespect:
			fields := make([]string, 0, len(conflicts))
			for _, c := range conflicts {
				fields = append(fields, c.Field)
			}
			addYielded(obj, fields)
			yield(obj, nil)
		}
		err = withRetry(ctx, func() error { return a.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), opts...) })
	}
	switch {
	case err != nil:
		o.Result, o.Err = ResultFailed, fmt.Errorf("applying Deployment %s/%s: %w", act.Namespace, act.Name, err)
	case a.Options.DryRun:
		o.Result = ResultDryRun
	case act.Kind == model.ActionCreate:
		o.Result = ResultCreated
	default:
		o.Result = ResultConfigured
	}
	return o
}

func (a *Applier) delete(ctx context.Context, s *model.Snapshot, act model.Action) Outcome {
	o := Outcome{Action: act}
	d := observed(s, act.Name)
	// The planner decides what to delete; this re-check makes deleting a stranger impossible even if it erred.
	if d == nil || act.UID == "" || d.UID != act.UID || !konsumeratorv1.IsControlledBy(d, s.Owner.UID) {
		o.Result, o.Err = ResultFailed, fmt.Errorf("refusing to delete Deployment %s/%s: not observed as controlled by %s %s",
			act.Namespace, act.Name, s.Owner.Kind, s.Owner.Name)
		return o
	}
	uid := act.UID
	opts := []client.DeleteOption{client.Preconditions{UID: &uid}, client.PropagationPolicy(metav1.DeletePropagationBackground)}
	if a.Options.DryRun {
		opts = append(opts, client.DryRunAll)
	}
	target := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: act.Namespace, Name: act.Name}}
	err := withRetry(ctx, func() error { return a.Client.Delete(ctx, target, opts...) })
	switch {
	case apierrors.IsNotFound(err):
		o.Result = ResultDeleted
	case err != nil:
		o.Result, o.Err = ResultFailed, fmt.Errorf("deleting Deployment %s/%s: %w", act.Namespace, act.Name, err)
	case a.Options.DryRun:
		o.Result = ResultDryRun
	default:
		o.Result = ResultDeleted
	}
	return o
}

func observed(s *model.Snapshot, name string) *appsv1.Deployment {
	for i := range s.Deployments {
		if s.Deployments[i].Name == name {
			return &s.Deployments[i]
		}
	}
	return nil
}

func toUnstructured(desired any) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(desired)
	if err != nil {
		return nil, fmt.Errorf("converting the desired object: %w", err)
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// audit records every conflict: one structured log line each, a metric, and one Warning Event per pass.
func (a *Applier) audit(ctx context.Context, owner client.Object, s *model.Snapshot, conflicts []Conflict) {
	if len(conflicts) == 0 {
		return
	}
	log := logr.FromContextOrDiscard(ctx)
	for _, c := range conflicts {
		log.Info("field owned by another manager", "object", c.Object, "field", c.Field, "manager", c.Manager,
			"policy", string(a.conflictPolicy()), "dryRun", a.Options.DryRun)
		if a.Metrics != nil && !a.Options.DryRun {
			a.Metrics.Conflicts.WithLabelValues(s.Owner.Namespace, s.Owner.Name, c.Manager).Inc()
		}
	}
	if a.Events != nil && !a.Options.DryRun {
		a.Events.Eventf(owner, nil, corev1.EventTypeWarning, konsumeratorv1.EventFieldConflict, "Apply", "%s", conflictMessage(conflicts, a.conflictPolicy()))
	}
}

func (a *Applier) emitEvents(owner client.Object, res Result, errs []error) {
	if a.Events == nil {
		return
	}
	byResult := map[string][]string{}
	for _, o := range res.Outcomes {
		byResult[o.Result] = append(byResult[o.Result], o.Action.Name)
	}
	for _, e := range []struct{ result, reason, verb string }{
		{ResultCreated, konsumeratorv1.EventInstancesCreated, "created"},
		{ResultConfigured, konsumeratorv1.EventInstancesUpdated, "updated"},
		{ResultDeleted, konsumeratorv1.EventInstancesDeleted, "deleted"},
	} {
		if names := byResult[e.result]; len(names) > 0 {
			a.Events.Eventf(owner, nil, corev1.EventTypeNormal, e.reason, "Apply", "%s %d instance(s): %s", e.verb, len(names), listOf(names, 10))
		}
	}
	if len(errs) > 0 {
		a.Events.Eventf(owner, nil, corev1.EventTypeWarning, konsumeratorv1.EventApplyFailed, "Apply", "%d write(s) failed; first: %v", len(errs), errs[0])
	}
}

// finalStatus is the planned status with what only the execution knows: failed writes and conflicts.
func finalStatus(s *model.Snapshot, p *model.Plan, res Result, errs []error, policy ConflictPolicy) konsumeratorv1.ConsumerStatus {
	st := *p.Status.DeepCopy()
	now := metav1.NewTime(s.Now)
	gen := s.Owner.Generation
	if len(errs) > 0 {
		apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: konsumeratorv1.ConditionReady, Status: metav1.ConditionFalse, Reason: konsumeratorv1.ReasonApplyFailed,
			Message: truncate(fmt.Sprintf("%d write(s) failed; first: %v", len(errs), errs[0]), 1024), ObservedGeneration: gen, LastTransitionTime: now,
		})
	}
	applied := false
	for _, o := range res.Outcomes {
		if o.Action.Kind == model.ActionCreate || o.Action.Kind == model.ActionUpdate {
			applied = applied || o.Err == nil
		}
	}
	switch {
	case len(res.Conflicts) > 0:
		reason := konsumeratorv1.ReasonConflictsForced
		if policy == ConflictRespect {
			reason = konsumeratorv1.ReasonConflictsRespected
		}
		apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: konsumeratorv1.ConditionConflicts, Status: metav1.ConditionTrue, Reason: reason,
			Message: truncate(conflictMessage(res.Conflicts, policy), 1024), ObservedGeneration: gen, LastTransitionTime: now,
		})
	case applied:
		// Only a pass that applied something knows that nobody else holds our fields.
		apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: konsumeratorv1.ConditionConflicts, Status: metav1.ConditionFalse, Reason: konsumeratorv1.ReasonNoConflicts,
			Message: "no other field manager owns fields the operator sets", ObservedGeneration: gen, LastTransitionTime: now,
		})
	}
	return st
}

func conflictMessage(conflicts []Conflict, policy ConflictPolicy) string {
	byManager := map[string][]string{}
	for _, c := range conflicts {
		byManager[c.Manager] = append(byManager[c.Manager], c.Object+" "+c.Field)
	}
	managers := make([]string, 0, len(byManager))
	for m := range byManager {
		managers = append(managers, m)
	}
	sort.Strings(managers)
	parts := make([]string, 0, len(managers))
	for _, m := range managers {
		sort.Strings(byManager[m])
		parts = append(parts, fmt.Sprintf("%q owns %s", m, listOf(byManager[m], 5)))
	}
	action := "taken back (conflict policy force)"
	if policy == ConflictRespect {
		action = "left to the other manager (conflict policy respect)"
	}
	return strings.Join(parts, "; ") + ": " + action
}

func listOf(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:max], ", "), len(items)-max)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func describeAll(actions []model.Action, all bool) []string {
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
