package applier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/konsumerator/konsumerator/model"
)

// resizeSubresource is the pods subresource through which a running pod's CPU and memory change in place.
const resizeSubresource = "resize"

// resize changes the resources of one running pod through pods/resize, all its containers in one call. The call
// is a JSON patch (RFC 6902) whose "test" operations make it conditional: the pod must still have the UID the plan
// saw and each container its name at the index the plan names. A pod replaced under the same name, or one whose
// containers are in another order, is left alone and reported gone; so is a pod that no longer exists.
func (a *Applier) resize(ctx context.Context, act model.Action) Outcome {
	o := Outcome{Action: act}
	if act.Resize == nil || len(act.Resize.Containers) == 0 || act.UID == "" {
		o.Result, o.Err = ResultFailed, fmt.Errorf("%s: plan has no resize with a pod UID", act.Name)
		return o
	}
	patch, err := resizePatch(act.UID, act.Resize.Containers)
	if err != nil {
		o.Result, o.Err = ResultFailed, fmt.Errorf("%s: %w", act.Name, err)
		return o
	}
	var opts []client.SubResourcePatchOption
	if a.Options.DryRun {
		opts = append(opts, client.DryRunAll)
	}
	err = withRetry(ctx, func() error {
		// Metadata only: the answer is not needed (the next pass observes the pod) and a whole pod is larger.
		pod := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: act.Namespace, Name: act.Name}}
		pod.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
		return a.Client.SubResource(resizeSubresource).Patch(ctx, pod, client.RawPatch(types.JSONPatchType, patch), opts...)
	})
	switch {
	case apierrors.IsNotFound(err):
		o.Result, o.Err = ResultGone, fmt.Errorf("Pod %s/%s is gone", act.Namespace, act.Name)
	case preconditionFailed(err):
		o.Result, o.Err = ResultGone, fmt.Errorf("Pod %s/%s was replaced or its containers differ from the plan's", act.Namespace, act.Name)
	case err != nil:
		o.Result, o.Err = ResultFailed, fmt.Errorf("resizing Pod %s/%s: %w", act.Namespace, act.Name, err)
	case a.Options.DryRun:
		o.Result = ResultDryRun
	default:
		o.Result = ResultResized
	}
	return o
}

// patchOp is one operation of a JSON patch.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// resizePatch tests the pod's UID and each container's name at its index, then sets each container's resources.
// "add" on a member that exists replaces it (RFC 6902, 4.1), so one operation serves whether or not the pod's
// JSON has resources for the container.
func resizePatch(uid types.UID, containers []model.ContainerResize) ([]byte, error) {
	ops := make([]patchOp, 0, 1+2*len(containers))
	ops = append(ops, patchOp{Op: "test", Path: "/metadata/uid", Value: string(uid)})
	for _, c := range containers {
		if c.Index < 0 || c.Name == "" {
			return nil, fmt.Errorf("resize of container %q at index %d", c.Name, c.Index)
		}
		ops = append(ops, patchOp{Op: "test", Path: "/spec/containers/" + strconv.Itoa(c.Index) + "/name", Value: c.Name})
	}
	for _, c := range containers {
		ops = append(ops, patchOp{Op: "add", Path: "/spec/containers/" + strconv.Itoa(c.Index) + "/resources", Value: c.Resources})
	}
	return json.Marshal(ops)
}

// preconditionFailed recognises the API server's answer to a JSON patch whose "test" operation failed (or whose
// path does not exist): 422 Invalid built from the patch library's error alone, with no details of the object
// and no field causes. A resize the API server refuses on validation (a QoS class change, resources removed) is
// 422 Invalid too, but names the Pod and the fields (causes), and is a failure.
func preconditionFailed(err error) bool {
	var status apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	return d == nil || (d.Kind == "" && d.Name == "" && len(d.Causes) == 0)
}
