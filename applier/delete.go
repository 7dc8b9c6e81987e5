package applier

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// delete removes an instance Deployment the plan gives up, with the observed UID as a precondition so that a
// Deployment recreated meanwhile under the same name survives.
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

// observed is the Deployment of that name in the snapshot, or nil.
func observed(s *model.Snapshot, name string) *appsv1.Deployment {
	for i := range s.Deployments {
		if s.Deployments[i].Name == name {
			return &s.Deployments[i]
		}
	}
	return nil
}
