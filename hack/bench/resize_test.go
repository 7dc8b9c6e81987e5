package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/planner"
)

func writesOf(p model.Plan) map[model.ActionKind]int {
	out := map[model.ActionKind]int{}
	for _, a := range p.Actions {
		if a.Writes() {
			out[a.Kind]++
		}
	}
	return out
}

// The scenario rests on a reading of the planner: with no metrics the instances keep their resources, brought
// inside the policy, so raising the policy's minimum cpu is one decision that records the new resources on every
// instance and resizes every running pod in place, with no template change; and once done nothing is left to do.
func TestResizeScenarioIsOneDecision(t *testing.T) {
	const n = 5
	c := resizeConsumer("ns", n, resizeMinCPUBefore)
	c.UID = "uid-consumer"
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	snap := func(spec *konsumeratorv1.Consumer) *model.Snapshot {
		s := builder.Snapshot(spec).Now(now).Obj()
		s.Metrics = &model.MetricsSample{Error: "dial tcp 127.0.0.1:1: connect: connection refused"}
		return s
	}

	s := snap(c)
	p := planner.Plan(s)
	if got := writesOf(p); got[model.ActionCreate] != n || len(got) != 1 {
		t.Fatalf("first plan writes %v, want %d creates", got, n)
	}
	s = builder.WithPods(planner.Apply(s, p))
	for i := range s.Deployments {
		d := &s.Deployments[i]
		if d.Annotations[konsumeratorv1.AnnotationResources] == "" {
			t.Errorf("%s: no %s annotation", d.Name, konsumeratorv1.AnnotationResources)
		}
	}
	if got := writesOf(planner.Plan(s)); len(got) != 0 {
		t.Fatalf("with running pods at the decided size the plan writes %v", got)
	}
	templates := map[string]*appsv1.Deployment{}
	for i := range s.Deployments {
		templates[s.Deployments[i].Name] = s.Deployments[i].DeepCopy()
	}

	// The decision: the policy's minimum cpu rises.
	after := snap(resizeConsumer("ns", n, resizeMinCPUAfter))
	after.Owner.UID, after.Deployments, after.ReplicaSets, after.Pods = c.UID, s.Deployments, s.ReplicaSets, s.Pods
	p = planner.Plan(after)
	if got := writesOf(p); got[model.ActionUpdate] != n || got[model.ActionResize] != n || len(got) != 2 {
		t.Fatalf("the decision writes %v, want %d updates and %d resizes\n%s", got, n, n, planner.Text(p))
	}
	minCPU := resource.MustParse(resizeMinCPUAfter)
	pods := map[types.UID]*corev1.Pod{}
	for i := range after.Pods {
		pods[after.Pods[i].UID] = &after.Pods[i]
	}
	for _, a := range p.Actions {
		switch a.Kind {
		case model.ActionResize:
			if a.Restart || a.Resize == nil || len(a.Resize.Containers) != 1 {
				t.Fatalf("resize %s: %+v", a.Name, a)
			}
			pod := pods[a.UID]
			targets := podTargets(pod, minCPU)
			if len(targets) != 1 || !sameResources(a.Resize.Containers[0].Resources, targets[0].resources) {
				t.Errorf("resize %s to %v, the bench waits for %v", a.Name, a.Resize.Containers[0].Resources, targets)
			}
		case model.ActionUpdate:
			if a.Phase != model.PhaseApply || a.Restart {
				t.Errorf("update %s: phase %v, restart %v", a.Name, a.Phase, a.Restart)
			}
		}
	}
	done := planner.Apply(after, p)
	for i := range done.Deployments {
		d := &done.Deployments[i]
		if !equality.Semantic.DeepEqual(d.Spec.Template, templates[d.Name].Spec.Template) {
			t.Errorf("%s: the decision changed the pod template", d.Name)
		}
		var recorded map[string]corev1.ResourceRequirements
		if err := json.Unmarshal([]byte(d.Annotations[konsumeratorv1.AnnotationResources]), &recorded); err != nil {
			t.Fatal(err)
		}
		if q := recorded[resizeContainerName].Requests[corev1.ResourceCPU]; q.Cmp(minCPU) != 0 {
			t.Errorf("%s: recorded cpu request %s, want %s", d.Name, q.String(), resizeMinCPUAfter)
		}
	}
	if got := writesOf(planner.Plan(done)); len(got) != 0 {
		t.Errorf("after the resizes the plan writes %v", got)
	}
}

func TestPolicyPatch(t *testing.T) {
	raw, err := policyPatch("200m")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"spec":{"resourcePolicy":{"containerPolicies":[{"containerName":"consumer","minAllowed":{"cpu":"200m"},"maxAllowed":{"cpu":"2","memory":"1Gi"}}]}}}`
	if string(raw) != want {
		t.Errorf("patch = %s\nwant    %s", raw, want)
	}
}

func TestRaisedCPU(t *testing.T) {
	min := resource.MustParse("200m")
	for _, tc := range []struct{ in, want string }{
		{"req cpu=100m,memory=256Mi; lim cpu=1,memory=256Mi", "req cpu=200m,memory=256Mi; lim cpu=1,memory=256Mi"},
		{"req cpu=300m; lim cpu=1", "req cpu=300m; lim cpu=1"},
		{"req cpu=100m; lim cpu=150m", "req cpu=200m; lim cpu=200m"},
		{"req memory=1Gi; lim", "req cpu=200m,memory=1Gi; lim"},
	} {
		if got := resText(raisedCPU(parseRes(tc.in), min)); got != tc.want {
			t.Errorf("raisedCPU(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// parseRes reads "req cpu=100m; lim cpu=1".
func parseRes(s string) corev1.ResourceRequirements {
	req, lim, _ := strings.Cut(s, ";")
	out := corev1.ResourceRequirements{}
	if l := builder.Resources(strings.TrimPrefix(strings.TrimSpace(req), "req")); len(l) > 0 {
		out.Requests = l
	}
	if l := builder.Resources(strings.TrimPrefix(strings.TrimSpace(lim), "lim")); len(l) > 0 {
		out.Limits = l
	}
	return out
}

func resText(r corev1.ResourceRequirements) string {
	list := func(l corev1.ResourceList) string {
		var parts []string
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := l[name]; ok {
				parts = append(parts, string(name)+"="+q.String())
			}
		}
		return strings.Join(parts, ",")
	}
	return strings.TrimSpace("req "+list(r.Requests)) + "; " + strings.TrimSpace("lim "+list(r.Limits))
}

func TestControllerObjects(t *testing.T) {
	consumer := resizeConsumer("ns", 2, resizeMinCPUBefore)
	consumer.UID = "uid-consumer"
	desired, _, err := desiredInstances(consumer)
	if err != nil {
		t.Fatal(err)
	}
	d := desired["resize-0"]
	if d == nil {
		t.Fatalf("no instance resize-0 in %v", desired)
	}
	d.UID = "uid-d"
	rs := replicaSetFor(d)
	hash := rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	if len(hash) != 8 || rs.Name != "resize-0-"+hash || rs.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
		t.Errorf("ReplicaSet %s, labels %v, selector %v", rs.Name, rs.Labels, rs.Spec.Selector.MatchLabels)
	}
	for k, v := range d.Spec.Template.Labels {
		if rs.Labels[k] != v || rs.Spec.Template.Labels[k] != v {
			t.Errorf("ReplicaSet lacks the template label %s=%s", k, v)
		}
	}
	if ref := rs.OwnerReferences[0]; ref.UID != d.UID || ref.Kind != "Deployment" || !*ref.Controller {
		t.Errorf("ReplicaSet owner %+v", ref)
	}
	if rs.Annotations["deployment.kubernetes.io/revision"] != "1" {
		t.Errorf("revision %v", rs.Annotations)
	}
	if _, ok := d.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; ok {
		t.Error("the Deployment's template was changed")
	}
	if replicaSetFor(d).Name != rs.Name {
		t.Error("the template hash is not stable")
	}

	rs.UID = "uid-rs"
	pod := podFor(rs, rs.Name+"-0", benchNode)
	if ref := pod.OwnerReferences[0]; ref.UID != rs.UID || ref.Kind != "ReplicaSet" || !*ref.Controller {
		t.Errorf("pod owner %+v", ref)
	}
	if pod.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash || pod.Spec.NodeName != benchNode {
		t.Errorf("pod labels %v, node %q", pod.Labels, pod.Spec.NodeName)
	}
	if len(podFor(&appsv1.ReplicaSet{Spec: rs.Spec}, "p", benchNode).OwnerReferences) != 0 {
		t.Error("a pod of no ReplicaSet has an owner")
	}

	markRunning(pod, time.Unix(0, 0))
	st := pod.Status.ContainerStatuses[0]
	if pod.Status.Phase != corev1.PodRunning || st.Resources == nil || !sameResources(*st.Resources, pod.Spec.Containers[0].Resources) ||
		st.State.Running == nil || st.RestartCount != 0 {
		t.Errorf("running status %+v", pod.Status)
	}
	if markResized(pod) {
		t.Error("a pod at its spec's size was resized")
	}
	targets := podTargets(pod, resource.MustParse(resizeMinCPUAfter))
	if len(targets) != 1 || targets[0].index != 0 || targets[0].name != resizeContainerName {
		t.Fatalf("targets %+v", targets)
	}
	pod.Spec.Containers[0].Resources = targets[0].resources
	if !markResized(pod) || !sameResources(*pod.Status.ContainerStatuses[0].Resources, targets[0].resources) {
		t.Errorf("resized status %+v", pod.Status.ContainerStatuses[0])
	}
	if len(podTargets(pod, resource.MustParse(resizeMinCPUAfter))) != 0 {
		t.Error("a resized pod still has targets")
	}
	pod.Status.ContainerStatuses[0].RestartCount = 2
	if restartCount(pod) != 2 {
		t.Error("restart count")
	}
}

func TestResizePatch(t *testing.T) {
	raw, err := resizePatch("uid-1", []indexedResources{
		{index: 0, name: "a", resources: parseRes("req cpu=200m; lim cpu=1")},
		{index: 2, name: "c", resources: parseRes("req memory=1Gi; lim memory=1Gi")},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The applier's shape: every test before any change.
	want := `[{"op":"test","path":"/metadata/uid","value":"uid-1"},` +
		`{"op":"test","path":"/spec/containers/0/name","value":"a"},` +
		`{"op":"test","path":"/spec/containers/2/name","value":"c"},` +
		`{"op":"add","path":"/spec/containers/0/resources","value":{"limits":{"cpu":"1"},"requests":{"cpu":"200m"}}},` +
		`{"op":"add","path":"/spec/containers/2/resources","value":{"limits":{"memory":"1Gi"},"requests":{"memory":"1Gi"}}}]`
	if string(raw) != want {
		t.Errorf("patch = %s\nwant    %s", raw, want)
	}
}

func TestCompareResizeStates(t *testing.T) {
	minCPU := resource.MustParse(resizeMinCPUAfter)
	pod := func(uid, cpu string, restarts int32) *corev1.Pod {
		p := &corev1.Pod{}
		p.UID = types.UID(uid)
		p.Spec.Containers = []corev1.Container{{Name: resizeContainerName, Resources: parseRes("req cpu=" + cpu + "; lim cpu=1")}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: resizeContainerName, RestartCount: restarts}}
		return p
	}
	tmpl := func(image string) *corev1.PodTemplateSpec {
		return &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: resizeContainerName, Image: image}}}}
	}
	before := resizeState{
		templates: map[string]*corev1.PodTemplateSpec{"a": tmpl("x:1"), "b": tmpl("x:1"), "c": tmpl("x:1")},
		pods:      map[types.UID]*corev1.Pod{"p1": pod("p1", "100m", 0), "p2": pod("p2", "100m", 0), "p3": pod("p3", "100m", 1), "p4": pod("p4", "100m", 0)},
	}
	after := resizeState{
		// b's template changed, c is gone, d is new: three instances whose template changed.
		templates: map[string]*corev1.PodTemplateSpec{"a": tmpl("x:1"), "b": tmpl("x:2"), "d": tmpl("x:1")},
		// p1 resized; p2 not resized; p3 resized but restarted twice more; p4 replaced by p5.
		pods: map[types.UID]*corev1.Pod{"p1": pod("p1", "200m", 0), "p2": pod("p2", "100m", 0), "p3": pod("p3", "200m", 3), "p5": pod("p5", "200m", 0)},
	}
	changes, restarts, resized := compareResizeStates(before, after, minCPU)
	if changes != 3 || restarts != 4 || resized != 2 {
		t.Errorf("template changes %d (want 3), restarts %d (want 2 + p4 gone + p5 new = 4), resized %d (want 2)", changes, restarts, resized)
	}
	if c, r, z := compareResizeStates(before, before, minCPU); c != 0 || r != 0 || z != 0 {
		t.Errorf("an unchanged world: %d, %d, %d", c, r, z)
	}
}

func TestRaisedAnnotation(t *testing.T) {
	got, err := raisedAnnotation(`{"consumer":{"limits":{"cpu":"1","memory":"256Mi"},"requests":{"cpu":"100m","memory":"256Mi"}}}`,
		resource.MustParse("200m"))
	want := `{"consumer":{"limits":{"cpu":"1","memory":"256Mi"},"requests":{"cpu":"200m","memory":"256Mi"}}}`
	if err != nil || got != want {
		t.Errorf("raisedAnnotation = %s, %v; want %s", got, err, want)
	}
	if _, err := raisedAnnotation("", resource.MustParse("200m")); err == nil {
		t.Error("an empty annotation was raised")
	}
}

func TestResizeWriteCategories(t *testing.T) {
	r := resizeResult{writes: writeCounts{"pods/resize PATCH": 100, "deployments APPLY": 100, "consumers/status APPLY": 1,
		"events POST": 1, "leases PUT": 2, "pods DELETE": 1, "replicasets PUT": 2}}
	if r.resizeWrites() != 100 || r.deploymentWrites() != 100 || r.otherWrites() != 3 {
		t.Errorf("resizes %g, deployments %g, other %g (pods DELETE and replicasets PUT are other; leases are the API server's)",
			r.resizeWrites(), r.deploymentWrites(), r.otherWrites())
	}
	if r.writes.total() != 207 {
		t.Errorf("total %g", r.writes.total())
	}
	r.writes.remove("leases PUT", 2)
	r.writes.remove("events POST", 5)
	r.writes.remove("absent PUT", 0)
	if _, ok := r.writes["leases PUT"]; ok || len(r.writes) != 5 {
		t.Errorf("after remove: %v", r.writes)
	}
}

func TestResizeReport(t *testing.T) {
	run := func(baseline, resize float64, rss int64) resizeResult {
		return resizeResult{
			baseline: time.Duration(baseline * float64(time.Second)), resize: time.Duration(resize * float64(time.Second)),
			records: time.Second, recorded: 1000,
			writes: writeCounts{"pods/resize PATCH": 1000, "deployments APPLY": 1000, "consumers/status APPLY": 1},
			pods:   1000, resized: 1000,
			startUsage: usage{peakRSS: 40 << 20}, liveHeapEnd: 15 << 20,
			instancesUsage: usage{peakRSS: 60 << 20, cpu: 1}, podsUsage: usage{peakRSS: rss << 20, cpu: 1.5},
			endUsage: usage{peakRSS: rss << 20, cpu: 2}, rssEnd: 50 << 20, fileRSSEnd: 30 << 20, heapEnd: 20 << 20,
		}
	}
	rows := []resizeScenario{{instances: 1000, runs: []resizeResult{run(2, 3, 90), run(2, 2.4, 95), run(2, 4, 80)}}}
	rows[0].runs[2].restarts = 1
	var b strings.Builder
	reportResize(&b, rows, options{baselineWorkers: 8})
	out := b.String()
	for _, want := range []string{
		"| 1000      |       2.00 |      1.00 |     3.00 | 1.50x |              1.00x |          1000 |              1000 |                0 |        1 |",
		"resize N=1000: within 1.5x the bare client: 1.50x, met",
		"resize N=1000: exactly one resize per pod, every pod resized: 1000 resizes, 0 not resized, met",
		// One restart in one run is reported, not hidden by the median.
		"resize N=1000: 0 template writes and 0 restarts: 0 and 1, MISSED",
		"resize N=1000: peak RSS with the pods in the cache at most 100 MiB: 90.0 MiB, met",
		"| 1000      |                  40.0 |        60.0 |   90.0 |     90.0 |                50.0 |                 30.0 |               20.0 |                     15.0 |             2.00 |     0.50 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestDetachedKeepsTheAnswerOut(t *testing.T) {
	consumer := resizeConsumer("ns", 2, resizeMinCPUBefore)
	_, plan, err := desiredInstances(consumer)
	if err != nil {
		t.Fatal(err)
	}
	desired := plan.Actions[0].Desired
	want, err := json.Marshal(desired)
	if err != nil {
		t.Fatal(err)
	}
	d := &detached{desired}
	got, err := json.Marshal(d)
	if err != nil || string(got) != string(want) {
		t.Fatalf("detached sends %s, %v; want %s", got, err, want)
	}
	answer := `{"metadata":{"name":"other","annotations":{"x":"y"},"labels":{"a":"b"}}}`
	if err := json.Unmarshal([]byte(answer), d); err != nil {
		t.Fatal(err)
	}
	if after, _ := json.Marshal(desired); string(after) != string(want) {
		t.Errorf("the answer changed the desired object: %s", after)
	}
}
