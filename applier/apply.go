package applier

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/konsumerator/konsumerator/model"
)

// apply carries out a create or update with server-side apply under the operator's field manager. Without
// ForceOwnership first, so that a field another manager owns shows up as a conflict; then the policy decides:
// force takes the fields back, respect applies again without them.
func (a *Applier) apply(ctx context.Context, s *model.Snapshot, act model.Action) Outcome {
	o := Outcome{Action: act}
	if act.Desired == nil {
		o.Result, o.Err = ResultFailed, fmt.Errorf("%s: plan has no desired object", act.Name)
		return o
	}
	desired := act.Desired
	if act.Kind == model.ActionUpdate && act.UID != "" {
		// A UID precondition: if the object was deleted and replaced by someone else since it was observed, the
		// write fails instead of taking over the stranger.
		desired = withUID(desired, act.UID)
	}
	policy := a.conflictPolicy()
	var yielded []string
	if policy == ConflictRespect {
		yielded = yieldedFields(desired, observed(s, act.Name))
	}
	// The common case applies the planner's object as is; only yielded fields need a stripped copy.
	var cfg runtime.ApplyConfiguration = &detached{desired}
	if len(yielded) > 0 {
		var err error
		if cfg, err = withoutFields(desired, yielded); err != nil {
			o.Result, o.Err = ResultFailed, fmt.Errorf("%s: %w", act.Name, err)
			return o
		}
	}

	opts := append([]client.ApplyOption{client.FieldOwner(a.fieldManager())}, a.dryRunOpts()...)
	err := withRetry(ctx, func() error { return a.Client.Apply(ctx, cfg, opts...) })
	if conflicts := fieldConflicts(err, act.Namespace+"/"+act.Name); len(conflicts) > 0 {
		o.Conflicts = conflicts
		switch policy {
		case ConflictForce:
			opts = append(opts, client.ForceOwnership)
		case ConflictRespect:
			if cfg, err = withoutFields(desired, append(yielded, conflictFields(conflicts)...)); err != nil {
				o.Result, o.Err = ResultFailed, fmt.Errorf("%s: %w", act.Name, err)
				return o
			}
		}
		err = withRetry(ctx, func() error { return a.Client.Apply(ctx, cfg, opts...) })
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

func (a *Applier) dryRunOpts() []client.ApplyOption {
	if a.Options.DryRun {
		return []client.ApplyOption{client.DryRunAll}
	}
	return nil
}
