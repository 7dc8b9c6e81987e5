package applier_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/konsumerator/konsumerator/applier"
	"github.com/konsumerator/konsumerator/model"
)

// TestStuckPodIsDeletedWithoutGrace: a pod bound to a node whose kubelet never confirms stays terminating after a
// graceful delete; the applier's delete-pod removes it at once. One replaced under the same name is untouched.
func TestStuckPodIsDeletedWithoutGrace(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "stuck-pod", applier.Options{})
	k := f.kubelet(t)
	pods := k.Client.CoreV1().Pods(f.owner.Namespace)

	stuck := f.runningPod(t, k, "inst-0-stuck", "main")
	require.NoError(t, pods.Delete(ctx, stuck.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(600))}))
	stuck = f.pod(t, stuck.Name)
	require.NotNil(t, stuck.DeletionTimestamp, "no kubelet confirms: the pod stays terminating")

	old := f.runningPod(t, k, "inst-1-replaced", "main")
	require.NoError(t, pods.Delete(ctx, old.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))}))
	replacement := f.runningPod(t, k, "inst-1-replaced", "main")

	act := func(p *corev1.Pod) model.Action {
		return model.Action{Kind: model.ActionDeletePod, Phase: model.PhaseResize, Namespace: f.owner.Namespace,
			Name: p.Name, UID: p.UID, Reason: "stuck"}
	}
	s := f.snapshot(t)
	s.Pods = []corev1.Pod{*stuck, *old}
	res, err := f.applier.Apply(ctx, f.owner, s, &model.Plan{Actions: []model.Action{act(stuck), act(old)}})
	require.NoError(t, err)
	require.Len(t, res.Outcomes, 2)
	results := map[string]string{}
	for _, o := range res.Outcomes {
		results[o.Action.Name] = o.Result
	}
	assert.Equal(t, applier.ResultDeleted, results[stuck.Name])
	assert.Equal(t, applier.ResultGone, results[old.Name], "the pod under that name now is another one")

	_, err = pods.Get(ctx, stuck.Name, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the stuck pod is gone: %v", err)
	now, err := pods.Get(ctx, replacement.Name, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, replacement.UID, now.UID, "the replacement survives")

	// A pod the snapshot does not hold is never deleted, whatever the plan says.
	res, err = f.applier.Apply(ctx, f.owner, f.snapshot(t), &model.Plan{Actions: []model.Action{act(now)}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refusing to delete Pod")
	assert.Equal(t, applier.ResultFailed, res.Outcomes[0].Result)
	_, err = pods.Get(ctx, now.Name, metav1.GetOptions{})
	assert.NoError(t, err)
}
