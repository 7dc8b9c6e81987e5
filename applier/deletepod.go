package applier

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/konsumerator/konsumerator/model"
)

// deletePod removes a pod stuck on a node that is gone, so that its ReplicaSet replaces it: no grace period (its
// kubelet will never confirm the end) and the planned UID as a precondition, so a pod made meanwhile under the
// same name survives. The planner only names pods of the owner's instances (through their ReplicaSets); this
// re-checks that the pod is in the snapshot with that UID.
func (a *Applier) deletePod(ctx context.Context, s *model.Snapshot, act model.Action) Outcome {
	o := Outcome{Action: act}
	known := false
	for i := range s.Pods {
		known = known || s.Pods[i].Name == act.Name && s.Pods[i].UID == act.UID
	}
	if !known || act.UID == "" {
		o.Result, o.Err = ResultFailed, fmt.Errorf("refusing to delete Pod %s/%s: not observed as a pod of %s %s",
			act.Namespace, act.Name, s.Owner.Kind, s.Owner.Name)
		return o
	}
	uid := act.UID
	opts := []client.DeleteOption{client.Preconditions{UID: &uid}, client.GracePeriodSeconds(0)}
	if a.Options.DryRun {
		opts = append(opts, client.DryRunAll)
	}
	target := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: act.Namespace, Name: act.Name}}
	// A conflict on a delete is the UID precondition failing: final, not worth a retry.
	var replaced error
	err := withRetry(ctx, func() error {
		err := a.Client.Delete(ctx, target, opts...)
		if apierrors.IsConflict(err) {
			replaced = err
			return nil
		}
		return err
	})
	if replaced != nil {
		err = replaced
	}
	switch {
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		// Gone already, or replaced under the same name (the UID precondition failed): nothing of ours to delete.
		o.Result = ResultGone
	case err != nil:
		o.Result, o.Err = ResultFailed, fmt.Errorf("deleting Pod %s/%s: %w", act.Namespace, act.Name, err)
	case a.Options.DryRun:
		o.Result = ResultDryRun
	default:
		o.Result = ResultDeleted
	}
	return o
}
