package applier

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/konsumerator/konsumerator/model"
)

var deployments = schema.GroupResource{Group: "apps", Resource: "deployments"}

// Faults the API server answers with; each should be retried quietly.
var transientFaults = map[string]error{
	"500":      apierrors.NewInternalError(errors.New("etcd leader changed")),
	"timeout":  apierrors.NewTimeoutError("request timed out", 1),
	"409":      apierrors.NewConflict(deployments, "inst-0", errors.New("the object has been modified")),
	"429":      apierrors.NewTooManyRequests("slow down", 1),
	"503":      apierrors.NewServiceUnavailable("apiserver is shutting down"),
	"deadline": apierrors.NewServerTimeout(deployments, "patch", 1),
}

func desiredDeployment(name string) *appsv1ac.DeploymentApplyConfiguration {
	return appsv1ac.Deployment(name, "ns").
		WithOwnerReferences(metav1ac.OwnerReference().WithAPIVersion("konsumerator.lwolf.org/v1").WithKind("Consumer").
			WithName("c").WithUID("owner-uid").WithController(true)).
		WithSpec(appsv1ac.DeploymentSpec().
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{"app": name})).
			WithTemplate(corev1ac.PodTemplateSpec().WithLabels(map[string]string{"app": name}).
				WithSpec(corev1ac.PodSpec().WithContainers(corev1ac.Container().WithName("main").WithImage("busybox")))))
}

func fakeClient(t *testing.T, funcs interceptor.Funcs, objs ...client.Object) client.WithWatch {
	t.Helper()
	s := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(s))
	return interceptor.NewClient(fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build(), funcs)
}

func failingApplies(times int32, fault error, calls *atomic.Int32) interceptor.Funcs {
	return interceptor.Funcs{Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
		if calls.Add(1) <= times {
			return fault
		}
		return c.Apply(ctx, obj, opts...)
	}}
}

func snapshotWith(deployments ...appsv1.Deployment) *model.Snapshot {
	return &model.Snapshot{
		Now:         time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC),
		Owner:       model.Owner{Kind: model.OwnerConsumer, Namespace: "ns", Name: "c", UID: "owner-uid"},
		Deployments: deployments,
	}
}

func owner() client.Object {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("konsumerator.lwolf.org/v1")
	u.SetKind("Consumer")
	u.SetNamespace("ns")
	u.SetName("c")
	return u
}

func TestTransientFaultsAreRetried(t *testing.T) {
	for name, fault := range transientFaults {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int32
			c := fakeClient(t, failingApplies(2, fault, &calls))
			a := &Applier{Client: c}
			plan := &model.Plan{Actions: []model.Action{{Kind: model.ActionCreate, Namespace: "ns", Name: "inst-0", Desired: desiredDeployment("inst-0")}}}
			res, err := a.Apply(context.Background(), owner(), snapshotWith(), plan)
			require.NoError(t, err)
			assert.Equal(t, ResultCreated, res.Outcomes[0].Result)
			assert.Equal(t, int32(3), calls.Load(), "two failures, then success")
			var d appsv1.Deployment
			require.NoError(t, c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "inst-0"}, &d))
		})
	}
}

func TestPersistentFaultsConvergeOverPasses(t *testing.T) {
	// The server fails every apply for a while (more than one pass retries), then recovers. Each pass reports
	// the failure, holds back deletes, and loses nothing; a later pass converges.
	existing := appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "old-0", Namespace: "ns", UID: "old-uid",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "konsumerator.lwolf.org/v1", Kind: "Consumer", Name: "c", UID: "owner-uid", Controller: ptrTo(true)}}}}
	var calls atomic.Int32
	c := fakeClient(t, failingApplies(12, apierrors.NewInternalError(errors.New("boom")), &calls), existing.DeepCopy())
	a := &Applier{Client: c}
	plan := &model.Plan{Actions: []model.Action{
		{Kind: model.ActionCreate, Phase: model.PhaseApply, Namespace: "ns", Name: "inst-0", Desired: desiredDeployment("inst-0")},
		{Kind: model.ActionDelete, Phase: model.PhaseDelete, Namespace: "ns", Name: "old-0", UID: "old-uid"},
	}}
	passes := 0
	for ; passes < 5; passes++ {
		res, err := a.Apply(context.Background(), owner(), snapshotWith(existing), plan)
		if err == nil {
			break
		}
		assert.Equal(t, ResultSkipped, outcome(res, "old-0").Result, "the delete must wait for the create")
		var d appsv1.Deployment
		require.NoError(t, c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "old-0"}, &d), "nothing is lost while failing")
	}
	require.Less(t, passes, 5, "never converged")
	assert.Positive(t, passes, "the fault should have outlasted the first pass's retries")
	var d appsv1.Deployment
	require.NoError(t, c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "inst-0"}, &d))
	err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "old-0"}, &d)
	assert.True(t, apierrors.IsNotFound(err), "the old instance goes once the new one exists")
}

func TestFieldConflictIsNotRetried(t *testing.T) {
	conflict := &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: 409, Reason: metav1.StatusReasonConflict,
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{
			Type: metav1.CauseTypeFieldManagerConflict, Message: `conflict with "kubectl-edit" using apps/v1`, Field: ".spec.replicas",
		}}},
	}}
	var calls, forced atomic.Int32
	c := fakeClient(t, interceptor.Funcs{Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
		calls.Add(1)
		o := &client.ApplyOptions{}
		o.ApplyOptions(opts)
		if o.Force != nil && *o.Force {
			forced.Add(1)
			return c.Apply(ctx, obj, opts...)
		}
		return conflict
	}})
	a := &Applier{Client: c}
	plan := &model.Plan{Actions: []model.Action{{Kind: model.ActionCreate, Namespace: "ns", Name: "inst-0", Desired: desiredDeployment("inst-0")}}}
	res, err := a.Apply(context.Background(), owner(), snapshotWith(), plan)
	require.NoError(t, err)
	assert.Equal(t, int32(2), calls.Load(), "one try, one forced apply")
	assert.Equal(t, int32(1), forced.Load())
	assert.Equal(t, []Conflict{{Object: "ns/inst-0", Manager: "kubectl-edit", Field: ".spec.replicas"}}, res.Conflicts)
}

func outcome(res Result, name string) Outcome {
	for _, o := range res.Outcomes {
		if o.Action.Name == name {
			return o
		}
	}
	return Outcome{}
}

func ptrTo[T any](v T) *T { return &v }
