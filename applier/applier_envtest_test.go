package applier_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/applier"
	"github.com/konsumerator/konsumerator/internal/testenv"
	"github.com/konsumerator/konsumerator/model"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// events records what the applier would tell users.
type events struct {
	mu   sync.Mutex
	seen []string
}

func (e *events) Eventf(_ runtime.Object, _ runtime.Object, eventtype, reason, _, note string, args ...interface{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seen = append(e.seen, eventtype+" "+reason+": "+fmt.Sprintf(note, args...))
}

type fixture struct {
	owner    *konsumeratorv1.Consumer
	client   client.Client
	requests *testenv.Requests
	events   *events
	metrics  *applier.Metrics
	applier  *checkedApplier
}

// checkedApplier fails the test when Apply writes its snapshot: the observer hands the applier the cache's own
// objects (observer.deployments), so a write there would corrupt the cache for every later pass.
type checkedApplier struct {
	*applier.Applier
	t *testing.T
}

func (a *checkedApplier) Apply(ctx context.Context, owner client.Object, s *model.Snapshot, p *model.Plan) (applier.Result, error) {
	a.t.Helper()
	before, err := json.Marshal(s)
	require.NoError(a.t, err)
	res, applyErr := a.Applier.Apply(ctx, owner, s, p)
	after, err := json.Marshal(s)
	require.NoError(a.t, err)
	assert.JSONEq(a.t, string(before), string(after), "the applier changed its snapshot")
	return res, applyErr
}

func newFixture(t *testing.T, name string, opts applier.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	ns := &metav1.ObjectMeta{Name: name}
	require.NoError(t, env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: *ns}))
	owner := &konsumeratorv1.Consumer{
		ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: name},
		Spec: konsumeratorv1.ConsumerSpec{
			NumPartitions: 2, Name: "inst",
			DeploymentTemplate: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}},
		},
	}
	owner.Spec.DeploymentTemplate.Template.Labels = map[string]string{"app": "x"}
	owner.Spec.DeploymentTemplate.Template.Spec.Containers = []corev1.Container{{Name: "main", Image: "busybox"}}
	require.NoError(t, env.Client.Create(ctx, owner))

	cfg, requests := testenv.Counting(env.Config)
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	require.NoError(t, err)
	f := &fixture{owner: owner, client: c, requests: requests, events: &events{}, metrics: applier.NewMetrics(prometheus.NewRegistry())}
	f.applier = &checkedApplier{t: t, Applier: &applier.Applier{
		Client: c, Events: f.events, Metrics: f.metrics, Options: opts,
		Status: applier.ConsumerStatusWriter{Client: c},
	}}
	return f
}

// desired is an instance Deployment as the planner would want it.
func (f *fixture) desired(name, image string, replicas int32) *appsv1ac.DeploymentApplyConfiguration {
	labels := map[string]string{"app": "x", konsumeratorv1.LabelInstance: name, konsumeratorv1.LabelConsumer: f.owner.Name}
	return appsv1ac.Deployment(name, f.owner.Namespace).
		WithLabels(map[string]string{konsumeratorv1.LabelConsumer: f.owner.Name}).
		WithOwnerReferences(metav1ac.OwnerReference().
			WithAPIVersion(konsumeratorv1.GroupVersion.String()).WithKind("Consumer").
			WithName(f.owner.Name).WithUID(f.owner.UID).WithController(true).WithBlockOwnerDeletion(true)).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(replicas).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{"app": "x", konsumeratorv1.LabelInstance: name})).
			WithTemplate(corev1ac.PodTemplateSpec().WithLabels(labels).
				WithSpec(corev1ac.PodSpec().WithContainers(corev1ac.Container().WithName("main").WithImage(image)))))
}

func (f *fixture) snapshot(t *testing.T) *model.Snapshot {
	t.Helper()
	var list appsv1.DeploymentList
	require.NoError(t, env.Client.List(context.Background(), &list, client.InNamespace(f.owner.Namespace)))
	var current konsumeratorv1.Consumer
	require.NoError(t, env.Client.Get(context.Background(), client.ObjectKeyFromObject(f.owner), &current))
	return &model.Snapshot{
		Now:         time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC),
		Owner:       model.Owner{Kind: model.OwnerConsumer, Namespace: f.owner.Namespace, Name: f.owner.Name, UID: f.owner.UID, Generation: current.Generation},
		Status:      current.Status,
		Deployments: list.Items,
	}
}

func (f *fixture) action(kind model.ActionKind, phase model.Phase, name string, uid types.UID, desired *appsv1ac.DeploymentApplyConfiguration) model.Action {
	return model.Action{Kind: kind, Phase: phase, Namespace: f.owner.Namespace, Name: name, UID: uid, Reason: "test", Desired: desired}
}

func (f *fixture) deployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	require.NoError(t, env.Client.Get(context.Background(), types.NamespacedName{Namespace: f.owner.Namespace, Name: name}, &d))
	return &d
}

func TestCreateThenNothingToDoWritesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "apply-idle", applier.Options{})
	plan := &model.Plan{
		Actions: []model.Action{
			f.action(model.ActionCreate, model.PhaseApply, "inst-0", "", f.desired("inst-0", "busybox", 1)),
			f.action(model.ActionCreate, model.PhaseApply, "inst-1", "", f.desired("inst-1", "busybox", 1)),
		},
		Status: konsumeratorv1.ConsumerStatus{Expected: ptr.To[int32](2), ObservedGeneration: ptr.To[int64](1)},
	}
	res, err := f.applier.Apply(ctx, f.owner, f.snapshot(t), plan)
	require.NoError(t, err)
	assert.Equal(t, 2, res.Writes())
	assert.True(t, res.StatusWritten)
	d := f.deployment(t, "inst-0")
	assert.Equal(t, f.owner.UID, metav1.GetControllerOf(d).UID)
	assert.Contains(t, f.events.seen, "Normal InstancesCreated: created 2 instance(s): inst-0, inst-1")
	assert.Len(t, f.requests.Writes(), 3, "two applies and one status write: %v", f.requests.Writes())

	// The world now matches the plan: a plan of unchanged actions and the same status must cost no write.
	f.requests.Reset()
	s := f.snapshot(t)
	idle := &model.Plan{Status: s.Status, Actions: []model.Action{
		{Kind: model.ActionUnchanged, Name: "inst-0", UID: s.Deployments[0].UID},
		{Kind: model.ActionUnchanged, Name: "inst-1", UID: s.Deployments[1].UID},
	}}
	res, err = f.applier.Apply(ctx, f.owner, s, idle)
	require.NoError(t, err)
	assert.False(t, res.StatusWritten)
	assert.Empty(t, f.requests.Writes())
}

// anotherTool takes the replicas field of a Deployment, the way an HPA or kubectl scale would.
func anotherTool(t *testing.T, namespace, name string, replicas int32) {
	t.Helper()
	patch := appsv1ac.Deployment(name, namespace).WithSpec(appsv1ac.DeploymentSpec().WithReplicas(replicas))
	require.NoError(t, env.Client.Apply(context.Background(), patch, client.FieldOwner("other-tool"), client.ForceOwnership))
}

func TestConflictIsAuditedThenForced(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "apply-force", applier.Options{ConflictPolicy: applier.ConflictForce})
	create := &model.Plan{Actions: []model.Action{f.action(model.ActionCreate, model.PhaseApply, "inst-0", "", f.desired("inst-0", "busybox", 1))}}
	_, err := f.applier.Apply(ctx, f.owner, f.snapshot(t), create)
	require.NoError(t, err)
	anotherTool(t, f.owner.Namespace, "inst-0", 5)

	s := f.snapshot(t)
	update := &model.Plan{Actions: []model.Action{f.action(model.ActionUpdate, model.PhaseApply, "inst-0", s.Deployments[0].UID, f.desired("inst-0", "busybox", 1))}}
	res, err := f.applier.Apply(ctx, f.owner, s, update)
	require.NoError(t, err)
	require.Len(t, res.Conflicts, 1)
	assert.Equal(t, applier.Conflict{Object: f.owner.Namespace + "/inst-0", Manager: "other-tool", Field: ".spec.replicas"}, res.Conflicts[0])
	assert.Equal(t, int32(1), *f.deployment(t, "inst-0").Spec.Replicas, "force takes the field back")
	assert.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Conflicts.WithLabelValues(f.owner.Namespace, "c", "other-tool")))
	assert.Contains(t, f.events.seen, `Warning FieldConflict: "other-tool" owns `+f.owner.Namespace+`/inst-0 .spec.replicas: taken back (conflict policy force)`)
	cond := apimeta.FindStatusCondition(res.Status.Conditions, konsumeratorv1.ConditionConflicts)
	require.NotNil(t, cond)
	assert.Equal(t, "ConflictsForced", cond.Reason)
}

func TestConflictIsAuditedThenRespected(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "apply-respect", applier.Options{ConflictPolicy: applier.ConflictRespect})
	create := &model.Plan{Actions: []model.Action{f.action(model.ActionCreate, model.PhaseApply, "inst-0", "", f.desired("inst-0", "busybox", 1))}}
	_, err := f.applier.Apply(ctx, f.owner, f.snapshot(t), create)
	require.NoError(t, err)
	anotherTool(t, f.owner.Namespace, "inst-0", 5)

	s := f.snapshot(t)
	update := &model.Plan{Actions: []model.Action{f.action(model.ActionUpdate, model.PhaseApply, "inst-0", s.Deployments[0].UID, f.desired("inst-0", "busybox:2", 1))}}
	res, err := f.applier.Apply(ctx, f.owner, s, update)
	require.NoError(t, err)
	require.Len(t, res.Conflicts, 1)
	d := f.deployment(t, "inst-0")
	assert.Equal(t, int32(5), *d.Spec.Replicas, "respect leaves the field to the other manager")
	assert.Equal(t, "busybox:2", d.Spec.Template.Spec.Containers[0].Image, "the other fields are still applied")
	assert.Equal(t, ".spec.replicas", d.Annotations[konsumeratorv1.AnnotationYieldedFields])
	cond := apimeta.FindStatusCondition(res.Status.Conditions, konsumeratorv1.ConditionConflicts)
	require.NotNil(t, cond)
	assert.Equal(t, "ConflictsRespected", cond.Reason)

	// The next apply leaves the yielded field out from the start: no conflict, the annotation stays.
	res, err = f.applier.Apply(ctx, f.owner, f.snapshot(t), update)
	require.NoError(t, err)
	assert.Empty(t, res.Conflicts)
	assert.Equal(t, ".spec.replicas", f.deployment(t, "inst-0").Annotations[konsumeratorv1.AnnotationYieldedFields])
}

func TestDeleteNeedsControlAndMatchingUID(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "apply-delete", applier.Options{})
	create := &model.Plan{Actions: []model.Action{
		f.action(model.ActionCreate, model.PhaseApply, "inst-0", "", f.desired("inst-0", "busybox", 1)),
		f.action(model.ActionCreate, model.PhaseApply, "inst-1", "", f.desired("inst-1", "busybox", 1)),
	}}
	_, err := f.applier.Apply(ctx, f.owner, f.snapshot(t), create)
	require.NoError(t, err)
	stranger := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "stranger", Namespace: f.owner.Namespace}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "s"}},
	}}
	stranger.Spec.Template.Labels = map[string]string{"app": "s"}
	stranger.Spec.Template.Spec.Containers = []corev1.Container{{Name: "s", Image: "busybox"}}
	require.NoError(t, env.Client.Create(ctx, stranger))

	s := f.snapshot(t)
	plan := &model.Plan{Actions: []model.Action{
		f.action(model.ActionDelete, model.PhaseDelete, "inst-1", uidOf(s, "inst-1"), nil),
		f.action(model.ActionDelete, model.PhaseDelete, "stranger", uidOf(s, "stranger"), nil),
		f.action(model.ActionDelete, model.PhaseDelete, "inst-0", "00000000-0000-0000-0000-000000000000", nil),
	}}
	_, err = f.applier.Apply(ctx, f.owner, s, plan)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refusing to delete Deployment apply-delete/stranger")
	assert.Contains(t, err.Error(), "refusing to delete Deployment apply-delete/inst-0")
	f.deployment(t, "stranger")
	f.deployment(t, "inst-0")
	var gone appsv1.Deployment
	err = env.Client.Get(ctx, types.NamespacedName{Namespace: f.owner.Namespace, Name: "inst-1"}, &gone)
	assert.True(t, err != nil || !gone.DeletionTimestamp.IsZero(), "inst-1 should be deleted")
}

func TestDeletesWaitForFailedCreates(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "apply-order", applier.Options{})
	create := &model.Plan{Actions: []model.Action{f.action(model.ActionCreate, model.PhaseApply, "inst-0", "", f.desired("inst-0", "busybox", 1))}}
	_, err := f.applier.Apply(ctx, f.owner, f.snapshot(t), create)
	require.NoError(t, err)
	s := f.snapshot(t)
	broken := f.desired("inst-1", "busybox", 1)
	broken.Spec.Selector.WithMatchLabels(map[string]string{"app": "does-not-match-the-pods"})
	plan := &model.Plan{Actions: []model.Action{
		f.action(model.ActionCreate, model.PhaseApply, "inst-1", "", broken),
		f.action(model.ActionDelete, model.PhaseDelete, "inst-0", uidOf(s, "inst-0"), nil),
	}}
	res, err := f.applier.Apply(ctx, f.owner, s, plan)
	require.Error(t, err)
	assert.Equal(t, applier.ResultSkipped, res.Outcomes[0].Result, "the delete waits: %+v", res.Outcomes)
	assert.Nil(t, f.deployment(t, "inst-0").DeletionTimestamp)
	cond := apimeta.FindStatusCondition(res.Status.Conditions, konsumeratorv1.ConditionReady)
	require.NotNil(t, cond)
	assert.Equal(t, "ApplyFailed", cond.Reason)
}

func TestDryRunWritesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "apply-dry", applier.Options{DryRun: true})
	plan := &model.Plan{
		Actions: []model.Action{f.action(model.ActionCreate, model.PhaseApply, "inst-0", "", f.desired("inst-0", "busybox", 1))},
		Status:  konsumeratorv1.ConsumerStatus{Expected: ptr.To[int32](2)},
	}
	res, err := f.applier.Apply(ctx, f.owner, f.snapshot(t), plan)
	require.NoError(t, err, "the server-side dry run accepts the object")
	assert.Equal(t, applier.ResultDryRun, res.Outcomes[0].Result)
	assert.Empty(t, f.requests.Writes())
	assert.Empty(t, f.events.seen)
	var list appsv1.DeploymentList
	require.NoError(t, env.Client.List(ctx, &list, client.InNamespace(f.owner.Namespace)))
	assert.Empty(t, list.Items)

	broken := f.desired("inst-1", "busybox", 1)
	broken.Spec.Selector.WithMatchLabels(map[string]string{"app": "does-not-match-the-pods"})
	_, err = f.applier.Apply(ctx, f.owner, f.snapshot(t), &model.Plan{Actions: []model.Action{f.action(model.ActionCreate, model.PhaseApply, "inst-1", "", broken)}})
	assert.ErrorContains(t, err, "selector", "the dry run still reports what the API server would refuse")
}

func uidOf(s *model.Snapshot, name string) types.UID {
	for _, d := range s.Deployments {
		if d.Name == name {
			return d.UID
		}
	}
	return ""
}

// respectCase creates inst-0 with what the fixture desires plus extra, lets other-tool force its own value of one
// field, then updates under the respect policy. It returns the Deployment after the update.
func respectCase(t *testing.T, ns string, extra func(*appsv1ac.DeploymentApplyConfiguration), other *appsv1ac.DeploymentApplyConfiguration, wantField string) *appsv1.Deployment {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t, ns, applier.Options{ConflictPolicy: applier.ConflictRespect})
	desired := func(image string) *appsv1ac.DeploymentApplyConfiguration {
		d := f.desired("inst-0", image, 1)
		extra(d)
		return d
	}
	create := &model.Plan{Actions: []model.Action{f.action(model.ActionCreate, model.PhaseApply, "inst-0", "", desired("busybox"))}}
	_, err := f.applier.Apply(ctx, f.owner, f.snapshot(t), create)
	require.NoError(t, err)
	require.NoError(t, env.Client.Apply(ctx, other, client.FieldOwner("other-tool"), client.ForceOwnership))

	s := f.snapshot(t)
	planned := desired("busybox:2")
	before, err := json.Marshal(planned)
	require.NoError(t, err)
	update := &model.Plan{Actions: []model.Action{f.action(model.ActionUpdate, model.PhaseApply, "inst-0", s.Deployments[0].UID, planned)}}
	res, err := f.applier.Apply(ctx, f.owner, s, update)
	require.NoError(t, err)
	require.Len(t, res.Conflicts, 1)
	assert.Equal(t, wantField, res.Conflicts[0].Field)
	after, err := json.Marshal(planned)
	require.NoError(t, err)
	assert.JSONEq(t, string(before), string(after), "the plan's object is not changed by stripping or the UID precondition")

	d := f.deployment(t, "inst-0")
	assert.Equal(t, "busybox:2", d.Spec.Template.Spec.Containers[0].Image, "the other fields are still applied")
	assert.Equal(t, wantField, d.Annotations[konsumeratorv1.AnnotationYieldedFields])

	// The next pass strips the yielded field from the start: no conflict, nothing taken back.
	res, err = f.applier.Apply(ctx, f.owner, f.snapshot(t), update)
	require.NoError(t, err)
	assert.Empty(t, res.Conflicts)
	return f.deployment(t, "inst-0")
}

func TestRespectLeavesAContainerResourceToTheOtherManager(t *testing.T) {
	cpu := `.spec.template.spec.containers[name="main"].resources.requests.cpu`
	withRequests := func(d *appsv1ac.DeploymentApplyConfiguration) {
		d.Spec.Template.Spec.Containers[0].WithResources(corev1ac.ResourceRequirements().WithRequests(corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}))
	}
	other := appsv1ac.Deployment("inst-0", "respect-cpu").WithSpec(appsv1ac.DeploymentSpec().WithTemplate(
		corev1ac.PodTemplateSpec().WithSpec(corev1ac.PodSpec().WithContainers(corev1ac.Container().WithName("main").
			WithResources(corev1ac.ResourceRequirements().WithRequests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}))))))
	d := respectCase(t, "respect-cpu", withRequests, other, cpu)
	requests := d.Spec.Template.Spec.Containers[0].Resources.Requests
	assert.Equal(t, "2", requests.Cpu().String(), "the other manager's CPU request stays")
	assert.Equal(t, "64Mi", requests.Memory().String(), "the operator still sets the memory request")
	assert.Equal(t, cpu, d.Annotations[konsumeratorv1.AnnotationYieldedFields])
}

func TestRespectLeavesAnAnnotationWithDotsToTheOtherManager(t *testing.T) {
	const key = "team.example.com/owner"
	field := ".metadata.annotations." + key
	withAnnotation := func(d *appsv1ac.DeploymentApplyConfiguration) {
		d.WithAnnotations(map[string]string{key: "consumers", "keep.example.com/x": "y"})
	}
	other := appsv1ac.Deployment("inst-0", "respect-annotation").WithAnnotations(map[string]string{key: "payments"})
	d := respectCase(t, "respect-annotation", withAnnotation, other, field)
	assert.Equal(t, "payments", d.Annotations[key], "the other manager's value stays")
	assert.Equal(t, "y", d.Annotations["keep.example.com/x"])
	assert.Equal(t, field, d.Annotations[konsumeratorv1.AnnotationYieldedFields])
}

// TestAppliesLeaveThePlanAsItWas: the desired objects of a plan share parts (here the pod spec), as
// the planner's do. The API server's answers must not be written into them — from several workers at once.
func TestAppliesLeaveThePlanAsItWas(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "apply-shared", applier.Options{Workers: 4})
	shared := f.desired("inst-0", "busybox", 1).Spec.Template.Spec
	var actions []model.Action
	for _, name := range []string{"inst-0", "inst-1", "inst-2", "inst-3"} {
		d := f.desired(name, "busybox", 1)
		d.Spec.Template.Spec = shared
		actions = append(actions, f.action(model.ActionCreate, model.PhaseApply, name, "", d))
	}
	plan := &model.Plan{Actions: actions}
	before, err := json.Marshal(plan.Actions)
	require.NoError(t, err)
	_, err = f.applier.Apply(ctx, f.owner, f.snapshot(t), plan)
	require.NoError(t, err)
	after, err := json.Marshal(plan.Actions)
	require.NoError(t, err)
	assert.JSONEq(t, string(before), string(after), "the applies changed the plan's objects")
}
