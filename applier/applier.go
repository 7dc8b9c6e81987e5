// Package applier carries out a model.Plan against the API server: server-side apply under its own field
// manager, in-place pod resizes and deletes guarded by a UID precondition, status under a second field manager,
// field-ownership conflicts audited before they are resolved by policy, Events and metrics. A plan with nothing
// to do costs no write.
//
// One file per verb or concern: apply.go (server-side apply), resize.go (pods/resize), delete.go, strip.go (fields
// left to other managers), conflicts.go (reading and auditing conflicts), retry.go (transient errors),
// changeset.go (outcomes, the plan's log line and Events), status.go and configmap_status.go (status writers),
// metrics.go. What the final status says is decided by planner.FinalStatus.
package applier

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/planner"
)

// Default field managers. Status has its own so that a status write never claims spec fields and vice versa.
const (
	DefaultFieldManager       = "konsumerator"
	DefaultStatusFieldManager = "konsumerator-status"
)

// DefaultWorkers bounds the writes in flight when Options.Workers is not set.
const DefaultWorkers = 8

// Options shape how a plan is carried out.
type Options struct {
	FieldManager   string
	ConflictPolicy ConflictPolicy
	// DryRun checks every write with a server-side dry run and carries out nothing: no object, status or Event
	// is written.
	DryRun bool
	// Workers bounds the writes of one phase that are in flight at once (--apply-workers): Deployment applies,
	// pod resizes and deletes alike, so it is also the bound on the pods/resize calls of one plan.
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

// Apply carries out the plan for owner. The returned error joins every failed write; the status written
// reports them too.
func (a *Applier) Apply(ctx context.Context, owner client.Object, s *model.Snapshot, p *model.Plan) (Result, error) {
	log := logr.FromContextOrDiscard(ctx).WithValues("digest", p.SnapshotDigest)
	if a.Options.DryRun {
		log.Info("dry run: plan", "actions", describe(p.Actions, true))
	} else if p.Changed() {
		log.Info("plan", "create", p.Count(model.ActionCreate), "update", p.Count(model.ActionUpdate),
			"resize", p.Count(model.ActionResize), "delete", p.Count(model.ActionDelete), "skip", p.Count(model.ActionSkip),
			"actions", describe(p.Actions, false))
	}

	var res Result
	failedApply := false // some create or update failed
	for _, phase := range []model.Phase{model.PhaseResize, model.PhaseApply, model.PhaseDelete} {
		var todo []model.Action
		for _, act := range p.Actions {
			if act.Phase != phase {
				continue
			}
			switch {
			case !act.Writes():
				res.Outcomes = append(res.Outcomes, Outcome{Action: act, Result: unchangedOrSkipped(act)})
			case act.Kind == model.ActionDelete && failedApply:
				// Deletes wait for every create and update: a partition must never lose its consumer.
				res.Outcomes = append(res.Outcomes, Outcome{Action: act, Result: ResultSkipped,
					Err: fmt.Errorf("%s held back: earlier writes of this plan failed", act.Name)})
			default:
				todo = append(todo, act)
			}
		}
		started := time.Now()
		outcomes := a.run(ctx, s, todo)
		if len(todo) > 0 {
			log.V(1).Info("phase carried out", "phase", phase.String(), "writes", len(todo), "took", time.Since(started).String())
		}
		for _, o := range outcomes {
			if o.Result == ResultFailed && (o.Action.Kind == model.ActionCreate || o.Action.Kind == model.ActionUpdate) {
				failedApply = true
			}
			res.Conflicts = append(res.Conflicts, o.Conflicts...)
			res.Outcomes = append(res.Outcomes, o)
		}
	}
	if !a.Options.DryRun {
		a.Metrics.countResults(res.Outcomes)
	}
	sort.SliceStable(res.Outcomes, func(i, j int) bool { return res.Outcomes[i].Action.Name < res.Outcomes[j].Action.Name })

	errs := res.failures()
	a.audit(ctx, owner, s, res.Conflicts)
	res.Status = planner.FinalStatus(s, p, res.report(), a.conflictPolicy())
	if a.Options.DryRun {
		return res, errors.Join(errs...)
	}
	if a.Events != nil {
		for _, e := range append(res.events(s), conditionEvents(s, res.Status.Conditions)...) {
			a.Events.Eventf(owner, nil, e.Type, e.Reason, "Apply", "%s", e.Message)
		}
	}
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

// run carries out the writes of one phase, with at most Options.Workers in flight. Every write is tried and
// gets its own outcome: one failure does not cancel the others.
func (a *Applier) run(ctx context.Context, s *model.Snapshot, actions []model.Action) []Outcome {
	out := make([]Outcome, len(actions))
	var g errgroup.Group
	g.SetLimit(cmp.Or(max(a.Options.Workers, 0), DefaultWorkers))
	for i, act := range actions {
		g.Go(func() error {
			out[i] = a.one(ctx, s, act)
			var err error
			if out[i].Result == ResultFailed {
				err = out[i].Err // a pod gone before its resize is not an error
			}
			a.Metrics.countAction(act.Kind, err)
			return nil
		})
	}
	_ = g.Wait() // the writes report through their outcomes
	return out
}

// one carries out one write. A new action kind gets its verb file and a case here.
func (a *Applier) one(ctx context.Context, s *model.Snapshot, act model.Action) Outcome {
	switch act.Kind {
	case model.ActionCreate, model.ActionUpdate:
		return a.apply(ctx, s, act)
	case model.ActionDelete:
		return a.delete(ctx, s, act)
	case model.ActionResize:
		return a.resize(ctx, act)
	case model.ActionDeletePod:
		return a.deletePod(ctx, s, act)
	}
	return Outcome{Action: act, Result: ResultUnchanged}
}
