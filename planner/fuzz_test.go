package planner

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/observer"
)

// bytesSource turns fuzz input into choices; an exhausted input reads as zeros.
type bytesSource struct{ b []byte }

func (s *bytesSource) byte() byte {
	if len(s.b) == 0 {
		return 0
	}
	v := s.b[0]
	s.b = s.b[1:]
	return v
}

func (s *bytesSource) intn(n int) int {
	if n <= 0 {
		return 0
	}
	return int(uint16(s.byte())<<8|uint16(s.byte())) % n
}

func (s *bytesSource) bool() bool { return s.byte()&1 == 1 }

func (s *bytesSource) pick(options ...string) string { return options[s.intn(len(options))] }

func (s *bytesSource) float() *float64 {
	var v float64
	switch s.intn(10) {
	case 0:
		return nil
	case 1:
		v = math.NaN()
	case 2:
		v = math.Inf(1)
	case 3:
		v = -float64(s.intn(1000))
	case 4:
		v = 0
	case 5:
		v = 1e300
	default:
		v = float64(s.intn(20000)) * float64(1+s.intn(100))
	}
	return &v
}

func (s *bytesSource) resources() corev1.ResourceList {
	out := corev1.ResourceList{}
	if s.bool() {
		out[corev1.ResourceCPU] = resource.MustParse(s.pick("1m", "100m", "250m", "1", "2", "3500m", "64"))
	}
	if s.bool() {
		out[corev1.ResourceMemory] = resource.MustParse(s.pick("1", "100M", "128Mi", "1Gi", "3G", "1Ti"))
	}
	return out
}

// fuzzConsumer makes a Consumer spec from the input: mostly valid, sometimes not.
func fuzzConsumer(s *bytesSource) *builder.ConsumerWrapper {
	n := int32(1 + s.intn(40))
	c := builder.Consumer("fz").Partitions(n).PerInstance(int32(s.intn(int(n) + 2)))
	if s.intn(30) == 0 {
		c.Partitions(int32(s.intn(3)) - 1)
	}
	c.Replicas(int32(s.intn(4)))
	if s.intn(20) == 0 {
		c.Replicas(-1)
	}
	if s.bool() {
		c.Container("side", "envoy")
	}
	if s.intn(4) == 0 {
		c.ContainerResources("busybox", s.resources(), s.resources())
	}
	if s.intn(3) > 0 {
		c.Prometheus(int64(s.intn(3000)), s.pick("1", "100M", "1Gi", "512Mi"))
		c.PendingScaleUp(time.Duration(s.intn(3)) * 5 * time.Minute).PendingScaleDown(time.Duration(s.intn(3)) * 15 * time.Minute)
		c.Lags(time.Duration(s.intn(10))*time.Minute, time.Duration(s.intn(90))*time.Minute, time.Duration(s.intn(60))*time.Minute)
		c.CPUIncrement(s.pick("100m", "1m", "250m", "1"))
		if s.bool() {
			c.Fallback(konsumeratorv1.FallbackStrategyMax)
		}
		if s.bool() {
			c.InPlace()
		}
	}
	for _, name := range []string{"busybox", "side"} {
		switch s.intn(4) {
		case 1:
			c.Policy(name, s.resources(), s.resources())
		case 2:
			c.PolicyOff(name)
		}
	}
	if s.intn(3) == 0 {
		c.GlobalMax(s.resources())
	}
	if s.intn(10) == 0 {
		c.Image("busybox:" + s.pick("1", "2"))
	}
	if s.intn(20) == 0 {
		c.TemplateLabel("app", "other", true)
	}
	if s.intn(15) == 0 {
		c.Annotation(konsumeratorv1.AnnotationDisableAutoscaler, "")
	}
	if s.intn(40) == 0 {
		c.SpecNamespace("elsewhere")
	}
	return c
}

// fuzzSnapshot makes a world: an earlier spec carried out (possibly half way), then edited by hand.
func fuzzSnapshot(data []byte) *model.Snapshot {
	s := &bytesSource{b: data}
	earlier := fuzzConsumer(s)
	now := builder.Epoch
	snap := builder.Snapshot(earlier.Obj()).Obj()
	for i := s.intn(4); i > 0; i-- {
		p := plan(snap)
		snap = Apply(snap, p)
	}
	c := fuzzConsumer(s).Obj()
	if s.bool() {
		c = earlier.Obj()
	}
	snap.Spec, snap.Owner = c.Spec, builder.OwnerOf(c)
	if s.intn(30) == 0 {
		snap.SpecError = "bad yaml"
	}
	for i := range snap.Deployments {
		d := &snap.Deployments[i]
		w := builder.From(d)
		switch s.intn(14) {
		case 0:
			w.Request("busybox", corev1.ResourceCPU, s.pick("1m", "300m", "9"))
		case 1:
			w.Env("busybox", s.pick(konsumeratorv1.EnvGOMAXPROCS, konsumeratorv1.DefaultPartitionEnvKey, "X"), "garbage")
		case 2:
			w.Annotation(konsumeratorv1.AnnotationScalingStatus, s.pick("RUNNING", "PENDING_SCALE_UP", "PENDING_SCALE_DOWN", "??"))
			w.Annotation(konsumeratorv1.AnnotationScalingStatusChange, now.Add(-time.Duration(s.intn(40))*time.Minute).Format(time.RFC3339))
		case 3:
			w.Annotation(konsumeratorv1.AnnotationScalingStatusChange, s.pick("", "garbage", "3000-01-01T00:00:00Z"))
		case 4:
			w.Annotation(konsumeratorv1.AnnotationPartition, s.pick("", "x", "0,1,2", "99"))
		case 5:
			w.Annotation(konsumeratorv1.AnnotationSpecHash, s.pick("", "abc", "000000000000-00000000-00000000"))
		case 6:
			w.Deleting(metav1.NewTime(now))
		case 7:
			w.RollingOut()
		case 8:
			w.Available()
		case 9:
			w.ControlledBy(model.Owner{APIVersion: "v1", Kind: "ConfigMap", Name: "x", UID: "other"})
		case 10:
			w.Annotation(konsumeratorv1.AnnotationDisableAutoscaler, "")
		case 11:
			w.Replicas(int32(s.intn(3)))
		}
		*d = *w.Obj()
	}
	if s.bool() {
		snap = builder.WithPods(snap)
		for i := range snap.Pods {
			fuzzPod(s, &snap.Pods[i], now)
		}
	}
	if s.intn(3) == 0 {
		name := s.pick("fz-0", "fz-1", "fz-7", "fz-99", "other")
		w := builder.Deployment(name).Annotation(konsumeratorv1.AnnotationPartition, s.pick("0", "1,2", "junk"))
		if s.bool() {
			w.ControlledBy(snap.Owner)
		}
		exists := false
		for i := range snap.Deployments {
			exists = exists || snap.Deployments[i].Name == name
		}
		if !exists {
			snap.Deployments = append(snap.Deployments, *w.Obj())
			sortDeployments(snap.Deployments)
		}
	}
	snap.Now = now.Add(time.Duration(s.intn(60)) * time.Minute)
	snap.Options = model.Options{MaxRolloutsInFlight: s.intn(4), MetricsStaleAfter: model.Duration(time.Duration(s.intn(3)) * 5 * time.Minute),
		RolloutFailureThreshold: s.intn(3), StuckPodAfter: model.Duration(time.Duration(s.intn(2)) * 10 * time.Minute)}
	switch s.intn(5) {
	case 0:
	case 1:
		snap.Metrics = &model.MetricsSample{Error: "down"}
	default:
		m := &model.MetricsSample{Time: snap.Now.Add(-time.Duration(s.intn(20)) * time.Minute)}
		for p := int32(-1); p < c.Spec.NumPartitions+2; p++ {
			if s.intn(5) > 0 {
				m.Partitions = append(m.Partitions, model.PartitionMetrics{Partition: p, ProductionRate: s.float(),
					ConsumptionRate: s.float(), MessagesBehind: s.float()})
			}
		}
		if s.intn(5) == 0 {
			m.Error = "timeout"
		}
		snap.Metrics = m
	}
	return snap
}

// fuzzPod changes a pod the way kubelets, controllers and people do.
func fuzzPod(s *bytesSource, p *corev1.Pod, now time.Time) {
	cond := func(t corev1.PodConditionType, reason string) {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue,
			Reason: reason, LastTransitionTime: metav1.NewTime(now.Add(-time.Duration(s.intn(120)) * time.Minute))})
	}
	switch s.intn(14) {
	case 0:
		cond(corev1.PodResizePending, corev1.PodReasonInfeasible)
	case 1:
		cond(corev1.PodResizePending, corev1.PodReasonDeferred)
	case 2:
		cond(corev1.PodResizeInProgress, s.pick("", corev1.PodReasonError))
	case 3:
		p.Status.ContainerStatuses = nil
	case 4:
		p.Status.Phase = corev1.PodPending
	case 5:
		p.DeletionTimestamp = &metav1.Time{Time: now.Add(-time.Duration(s.intn(30)) * time.Minute)}
	case 6:
		p.OwnerReferences[0].UID = "someone-else"
	case 7:
		p.Spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: s.resources(), Limits: s.resources()}
	case 8:
		p.Spec.Containers[0].ResizePolicy = []corev1.ContainerResizePolicy{{ResourceName: corev1.ResourceMemory, RestartPolicy: corev1.RestartContainer}}
	case 9:
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "injected",
			Resources: corev1.ResourceRequirements{Requests: s.resources()}})
	case 10:
		if len(p.Status.ContainerStatuses) > 0 {
			p.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{
				Reason: "OOMKilled", FinishedAt: metav1.NewTime(now.Add(-time.Duration(s.intn(90)) * time.Minute))}
		}
	case 11:
		if len(p.Status.ContainerStatuses) > 0 {
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
				Reason: s.pick("CrashLoopBackOff", "ImagePullBackOff", "ContainerCreating")}}
		}
	}
}

func sortDeployments(ds []appsv1.Deployment) {
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && ds[j].Name < ds[j-1].Name; j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
}

func FuzzPlan(f *testing.F) {
	for i := 0; i < 8; i++ {
		f.Add(bytes.Repeat([]byte{byte(i * 37)}, 64))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := fuzzSnapshot(data)
		before, _ := json.Marshal(s)
		p := plan(s)
		if after, _ := json.Marshal(s); !bytes.Equal(before, after) {
			t.Fatal("the planner changed its input")
		}
		checkPlan(t, s, p)
		a, _ := json.Marshal(p)
		b, _ := json.Marshal(plan(s))
		if !bytes.Equal(a, b) {
			t.Fatal("two plans of the same snapshot differ")
		}
		if c, _ := json.Marshal(planWith(s, false)); !bytes.Equal(a, c) {
			t.Fatal("the plan differs with the caches off")
		}
		fromTrimmed := plan(observer.TrimSnapshot(s))
		fromTrimmed.SnapshotDigest = p.SnapshotDigest
		if c, _ := json.Marshal(fromTrimmed); !bytes.Equal(a, c) {
			t.Fatalf("the plan differs from the Deployments as the cache holds them (observer.TrimDeployment):\n%s\n%s", a, c)
		}
		if diff := desiredMismatch(s); diff != "" {
			t.Fatal("a desired object differs from the typed path's: " + diff)
		}
		checkConverges(t, s, p)
	})
}

// checkPlan asserts the invariants of one plan.
// phaseOf is the phase each kind of writing action runs in.
var phaseOf = map[model.ActionKind]model.Phase{
	model.ActionResize: model.PhaseResize, model.ActionDeletePod: model.PhaseResize,
	model.ActionCreate: model.PhaseApply, model.ActionUpdate: model.PhaseApply, model.ActionSkip: model.PhaseApply,
	model.ActionDelete: model.PhaseDelete,
}

func checkPlan(t *testing.T, s *model.Snapshot, p model.Plan) {
	t.Helper()
	observed := map[string]*appsv1.Deployment{}
	for i := range s.Deployments {
		if _, dup := observed[s.Deployments[i].Name]; !dup {
			observed[s.Deployments[i].Name] = &s.Deployments[i]
		}
	}
	names := map[string]bool{}
	for _, a := range p.Actions {
		if names[a.Name] {
			t.Fatalf("two actions for %s:\n%s", a.Name, Text(p))
		}
		names[a.Name] = true
		if want, writes := phaseOf[a.Kind]; writes && a.Phase != want {
			t.Fatalf("%s %s in phase %d, not %d: a delete must follow every create and update\n%s", a.Kind, a.Name, a.Phase, want, Text(p))
		}
		if a.Writes() && len(validation.IsDNS1123Label(a.Name)) > 0 {
			t.Fatalf("invalid name %q", a.Name)
		}
		if d := observed[a.Name]; d != nil && (a.Kind == model.ActionUpdate || a.Kind == model.ActionDelete) {
			if !konsumeratorv1.IsControlledBy(d, s.Owner.UID) || d.DeletionTimestamp != nil {
				t.Fatalf("%s %s: not controlled by the owner or being deleted", a.Kind, a.Name)
			}
		}
		if a.Kind == model.ActionCreate && observed[a.Name] != nil && observed[a.Name].Namespace == a.Namespace {
			t.Fatalf("create of %s, which exists", a.Name)
		}
	}
	st, _, _ := newSettings(s)
	if st == nil {
		if p.Changed() {
			t.Fatal("an invalid spec led to writes")
		}
		return
	}
	ranges := Assign(st.numPartitions, st.perInstance)
	seen := make([]int, st.numPartitions)
	for _, r := range ranges {
		for q := r.First; q < r.First+r.Count; q++ {
			seen[q]++
		}
	}
	for q, n := range seen {
		if n != 1 {
			t.Fatalf("partition %d assigned %d times", q, n)
		}
	}
	checkResizes(t, s, p)
	for _, a := range p.Actions {
		if a.Desired == nil {
			continue
		}
		d := fromApplyConfiguration(a)
		if a.Instance < 0 || int(a.Instance) >= len(ranges) || d.Annotations[konsumeratorv1.AnnotationPartition] != ranges[a.Instance].String() {
			t.Fatalf("%s: partitions %q, want instance %d", a.Name, d.Annotations[konsumeratorv1.AnnotationPartition], a.Instance)
		}
		frozen := st.frozen
		if o := observed[a.Name]; o != nil {
			_, f := o.Annotations[konsumeratorv1.AnnotationDisableAutoscaler]
			frozen = frozen || f
		}
		containers := d.Spec.Template.Spec.Containers
		if a.Kind == model.ActionUpdate && inPlaceSpec(st) {
			// In place the template keeps what pods start with; the decision is the annotation.
			containers = nil
			names := make([]string, len(d.Spec.Template.Spec.Containers))
			for i, c := range d.Spec.Template.Spec.Containers {
				names[i] = c.Name
			}
			res, ok := decodeResources(d.Annotations[konsumeratorv1.AnnotationResources], names)
			if !ok {
				t.Fatalf("%s: in place without a readable resources annotation", a.Name)
			}
			for i := range names {
				containers = append(containers, corev1.Container{Name: names[i], Resources: res[i]})
			}
		}
		for _, c := range containers {
			pol := st.policies[c.Name]
			if !st.autoscale || pol.off || frozen && observed[a.Name] != nil {
				continue // the template's (or a frozen instance's) resources are kept as they are
			}
			checkBounds(t, a.Name, c, pol)
		}
	}
}

func inPlaceSpec(st *settings) bool {
	a := st.spec.Autoscaler
	return st.autoscale && a != nil && a.UpdateMode != konsumeratorv1.UpdateRestart
}

// checkResizes: a resize only in updateMode InPlace, of a running pod of an instance Deployment the owner
// controls (through its ReplicaSet), never with a restart of the same instance, changing only cpu and memory and
// removing neither a request nor a limit.
func checkResizes(t *testing.T, s *model.Snapshot, p model.Plan) {
	t.Helper()
	st, _, _ := newSettings(s)
	restarting := map[int32]bool{}
	for _, a := range p.Actions {
		if a.Kind == model.ActionUpdate && a.Restart {
			restarting[a.Instance] = true
		}
	}
	for _, a := range p.Actions {
		if a.Kind == model.ActionDeletePod {
			checkStuckDelete(t, s, a)
		}
		if a.Kind != model.ActionResize {
			continue
		}
		if st == nil || !inPlaceSpec(st) {
			t.Fatalf("resize of %s outside updateMode InPlace", a.Name)
		}
		if restarting[a.Instance] {
			t.Fatalf("resize of %s while its instance restarts:\n%s", a.Name, Text(p))
		}
		var pod *corev1.Pod
		for i := range s.Pods {
			if s.Pods[i].Name == a.Name && s.Pods[i].UID == a.UID {
				pod = &s.Pods[i]
			}
		}
		if pod == nil || pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning {
			t.Fatalf("resize of %s: no such running pod", a.Name)
		}
		owned := false
		for i := range s.ReplicaSets {
			rs := &s.ReplicaSets[i]
			if !konsumeratorv1.IsControlledBy(pod, rs.UID) {
				continue
			}
			for j := range s.Deployments {
				d := &s.Deployments[j]
				owned = owned || d.Name == a.Resize.Deployment && konsumeratorv1.IsControlledBy(rs, d.UID) &&
					konsumeratorv1.IsControlledBy(d, s.Owner.UID)
			}
		}
		if !owned {
			t.Fatalf("resize of %s, which is not a pod of the owner's instance %s", a.Name, a.Resize.Deployment)
		}
		for _, c := range a.Resize.Containers {
			if c.Index >= len(pod.Spec.Containers) || pod.Spec.Containers[c.Index].Name != c.Name {
				t.Fatalf("resize of %s: container %s not at %d", a.Name, c.Name, c.Index)
			}
			live := pod.Spec.Containers[c.Index].Resources
			if removesResource(live, c.Resources) {
				t.Fatalf("resize of %s removes a request or limit", a.Name)
			}
			for _, l := range [2][2]corev1.ResourceList{{live.Requests, c.Resources.Requests}, {live.Limits, c.Resources.Limits}} {
				for k, q := range l[0] {
					if k != corev1.ResourceCPU && k != corev1.ResourceMemory && q.Cmp(l[1][k]) != 0 {
						t.Fatalf("resize of %s changes %s", a.Name, k)
					}
				}
			}
		}
	}
}

// checkStuckDelete: a pod is deleted only when stuck deletion is on, the pod is stuck beyond the bound, and it
// belongs to an instance the owner controls.
func checkStuckDelete(t *testing.T, s *model.Snapshot, a model.Action) {
	t.Helper()
	if s.Options.StuckPodAfter <= 0 {
		t.Fatalf("delete of pod %s with stuck deletion off", a.Name)
	}
	for i := range s.Pods {
		p := &s.Pods[i]
		if p.Name != a.Name || p.UID != a.UID {
			continue
		}
		since, _ := stuckSince(p)
		if since.IsZero() || s.Now.Sub(since) < time.Duration(s.Options.StuckPodAfter) {
			t.Fatalf("delete of pod %s, which is not stuck long enough", a.Name)
		}
		for j := range s.ReplicaSets {
			rs := &s.ReplicaSets[j]
			for k := range s.Deployments {
				d := &s.Deployments[k]
				if konsumeratorv1.IsControlledBy(p, rs.UID) && konsumeratorv1.IsControlledBy(rs, d.UID) &&
					konsumeratorv1.IsControlledBy(d, s.Owner.UID) {
					return
				}
			}
		}
		t.Fatalf("delete of pod %s, which is not the owner's", a.Name)
	}
	t.Fatalf("delete of pod %s, which does not exist", a.Name)
}

func checkBounds(t *testing.T, name string, c corev1.Container, pol containerPolicy) {
	t.Helper()
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := c.Resources.Requests[r]
		lim, hasLim := c.Resources.Limits[r]
		if hasReq && hasLim && req.Cmp(lim) > 0 {
			t.Fatalf("%s/%s: %s request %s above limit %s", name, c.Name, r, req.String(), lim.String())
		}
		if m, ok := pol.max[r]; ok {
			if hasLim && scaled(r, lim) > m || hasReq && scaled(r, req) > m {
				t.Fatalf("%s/%s: %s above maxAllowed", name, c.Name, r)
			}
		}
		if m, ok := pol.min[r]; ok && (m <= pol.max[r] || pol.max[r] == 0) {
			if hasReq && scaled(r, req) < m {
				t.Fatalf("%s/%s: %s request %s below minAllowed", name, c.Name, r, req.String())
			}
		}
	}
}

// checkConverges carries plans out until nothing is left to write, with the deployment controller finishing
// every rollout in between, and asserts it gets there, and that the budget is kept once minimums fit.
func checkConverges(t *testing.T, s *model.Snapshot, p model.Plan) {
	t.Helper()
	limit := len(p.Actions) + 6
	for i := 0; i < limit; i++ {
		if !p.Changed() {
			checkBudget(t, s, p)
			return
		}
		s = rolledOut(Apply(s, p))
		p = plan(s)
		checkPlan(t, s, p)
	}
	t.Fatalf("still writing after %d passes:\n%s", limit, Text(p))
}

func rolledOut(s *model.Snapshot) *model.Snapshot {
	for i := range s.Deployments {
		d := &s.Deployments[i]
		if d.Status.ObservedGeneration > 0 {
			d.Status.ObservedGeneration, d.Status.UpdatedReplicas, d.Status.UnavailableReplicas = d.Generation, replicasOf(d), 0
		}
	}
	return s
}

// checkBudget: in a steady state, the expected instances keep within the global budget unless the plan says the
// minimums do not fit.
func checkBudget(t *testing.T, s *model.Snapshot, p model.Plan) {
	t.Helper()
	st, _, _ := newSettings(s)
	if st == nil || len(st.budget) == 0 {
		return
	}
	for _, c := range p.Status.Conditions {
		if c.Type == konsumeratorv1.ConditionResourceBudget && c.Reason == konsumeratorv1.ReasonMinimumsExceedBudget {
			return
		}
	}
	expected := map[string]bool{}
	for i := range Assign(st.numPartitions, st.perInstance) {
		expected[konsumeratorv1.InstanceName(st.name, int32(i))] = true
	}
	var sum [2]int64
	for i := range s.Deployments {
		d := &s.Deployments[i]
		if !expected[d.Name] || !konsumeratorv1.IsControlledBy(d, s.Owner.UID) || d.DeletionTimestamp != nil {
			continue
		}
		res := make([]corev1.ResourceRequirements, 0, len(d.Spec.Template.Spec.Containers))
		for _, c := range d.Spec.Template.Spec.Containers {
			res = append(res, c.Resources)
		}
		c, m := requestsOf(res)
		sum[0], sum[1] = sum[0]+c, sum[1]+m
	}
	if b, ok := st.budget[corev1.ResourceCPU]; ok && sum[0] > b {
		t.Fatalf("cpu requests %dm exceed the budget %dm:\n%s%s", sum[0], b, Text(p), StatusText(p))
	}
	if b, ok := st.budget[corev1.ResourceMemory]; ok && sum[1] > b {
		t.Fatalf("memory requests %d exceed the budget %d:\n%s%s", sum[1], b, Text(p), StatusText(p))
	}
}
