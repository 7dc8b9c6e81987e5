package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/cluster"
	"github.com/konsumerator/konsumerator/internal/demo"
)

const (
	// brokenImage crash-loops on the demo cluster (kwok's pod-crashloop stage); fixedImage runs.
	brokenImage = "busybox" + cluster.BrokenImageSuffix
	fixedImage  = "busybox:1.37"
	// failureThreshold and maxInFlight are the operator's rollout flags in this test: one instance at a time,
	// and the first that fails halts the rollout.
	failureThreshold = 1
	maxInFlight      = 1
	// haltHold is how long the halted rollout is watched for an instance restarted after all: several of the
	// operator's passes (the demo Consumer's minSyncPeriod is 2s, and pod changes trigger passes too).
	haltHold = 10 * time.Second
)

// TestBadImageRolloutHalts rolls a bad image on the demo: the first instance rolled crash-loops, the rollout
// halts there and the other instances keep the old template and their pods, as status, columns and an Event say;
// a fixed image (a new template) then rolls to every instance and the halt is gone.
func TestBadImageRolloutHalts(t *testing.T) {
	requireEnabled(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	h := startDemo(ctx, t, "konsumerator-e2e-rollout-", demo.Options{OperatorArgs: []string{
		fmt.Sprintf("--rollout-failure-threshold=%d", failureThreshold),
		fmt.Sprintf("--max-rollouts-in-flight=%d", maxInFlight),
	}})
	d := h.d
	r := &rolloutHarness{h: h, ctx: ctx, events: kubernetes.NewForConfigOrDie(d.Cluster.Config)}
	consumer := d.Consumer.Spec.DeploymentTemplate.Template.Spec.Containers[0].Name
	oldImage := d.Consumer.Spec.DeploymentTemplate.Template.Spec.Containers[0].Image

	before := r.waitFor("every instance Available on image "+oldImage+", RUNNING = EXPECTED = 3", 3*time.Minute, nil,
		func(v rolloutView) bool {
			return allRunning(v.st) && v.onImage(oldImage, true) == len(instances)
		})

	// The bad image. The rollout budget lets one instance restart; its new pod crash-loops, and with the
	// threshold at one the rollout halts there: the others must keep the old template and their pods.
	r.setImage(consumer, brokenImage)
	var rolled string
	untouched := func(v rolloutView) {
		t.Helper()
		var changed []string
		for _, name := range instances {
			was, now := before.instance(name), v.instance(name)
			if now.specHash != was.specHash || now.generation != was.generation || strings.Join(now.podUIDs(), ",") != strings.Join(was.podUIDs(), ",") {
				changed = append(changed, name)
				if now.image != brokenImage {
					t.Fatalf("%s changed without taking the new template (image %s)\nbefore: %s\nnow: %s\n%s",
						name, now.image, was, now, r.diagnostics(v))
				}
			}
		}
		if len(changed) > failureThreshold {
			t.Fatalf("%d instances (%s) took the bad image, the threshold is %d and the rollout budget %d\n%s",
				len(changed), strings.Join(changed, ", "), failureThreshold, maxInFlight, r.diagnostics(v))
		}
		if len(changed) == 1 {
			rolled = changed[0]
		}
	}
	halted := func(v rolloutView) bool {
		cond := v.condition(konsumeratorv1.ConditionRolloutHealthy)
		in := v.instance(rolled)
		return rolled != "" && in.image == brokenImage && in.crashLooping() &&
			v.failing() == failureThreshold && cond != nil && cond.Status == metav1.ConditionFalse &&
			cond.Reason == konsumeratorv1.ReasonRolloutHalted
	}
	v := r.waitFor(fmt.Sprintf("the rollout of %s halted after %d crash-looping instance: FAILING = %d, RolloutHealthy False RolloutHalted",
		brokenImage, failureThreshold, failureThreshold), 2*time.Minute, untouched, halted)
	haltedAt := time.Now()
	// It stays halted: nothing else is restarted while the operator goes on planning.
	for time.Since(haltedAt) < haltHold {
		time.Sleep(poll)
		v = r.observe()
		untouched(v)
		if !halted(v) {
			t.Fatalf("%s after the halt it no longer holds\n%s", time.Since(haltedAt).Round(time.Second), r.diagnostics(v))
		}
	}
	if got := v.onImage(oldImage, false); got != len(instances)-failureThreshold {
		t.Fatalf("%d instances keep %s, want %d\n%s", got, oldImage, len(instances)-failureThreshold, r.diagnostics(v))
	}
	cond := v.condition(konsumeratorv1.ConditionRolloutHealthy)
	for _, want := range []string{rolled + " (pod ", consumer + " CrashLoopBackOff", fmt.Sprintf("threshold %d", failureThreshold),
		fmt.Sprintf("%d instance(s) keep the previous template", len(instances)-failureThreshold)} {
		if !strings.Contains(cond.Message, want) {
			t.Errorf("the RolloutHealthy message does not say %q: %s", want, cond.Message)
		}
	}
	if c := v.condition(konsumeratorv1.ConditionRolloutComplete); c == nil || c.Status != metav1.ConditionFalse ||
		!strings.Contains(c.Message, fmt.Sprintf("%d held by the halted rollout", len(instances)-failureThreshold)) {
		t.Errorf("RolloutComplete must count the instances the halt holds back, got %+v", c)
	}
	t.Logf("halted for %s: %s crash-looping, %s", haltHold, rolled, v.summary())
	t.Logf("condition RolloutHealthy=%s reason %s: %s", cond.Status, cond.Reason, cond.Message)
	r.checkWarningEvent(rolled)
	columns := r.kubectlGetConsumers()
	if columns["FAILING"] != fmt.Sprint(failureThreshold) || columns["ROLLOUT"] != konsumeratorv1.ReasonRolloutHalted ||
		columns["OUTDATED"] != fmt.Sprint(len(instances)) {
		t.Errorf("kubectl get consumers during the halt shows FAILING %q ROLLOUT %q OUTDATED %q, want %d, %s and %d",
			columns["FAILING"], columns["ROLLOUT"], columns["OUTDATED"], failureThreshold, konsumeratorv1.ReasonRolloutHalted, len(instances))
	}
	// The status part of `kubectl describe` is what a person reads during the halt.
	describe := r.kubectl("describe", "consumer", d.Consumer.Name)
	if i := strings.Index(describe, "\nStatus:"); i >= 0 {
		describe = describe[i+1:]
	}
	t.Logf("$ kubectl describe consumer %s (from Status:)\n%s", d.Consumer.Name, describe)

	// The fix is a new template: the failed instance is then on an old one, the halt is lifted, and the rollout
	// goes through every instance, one at a time.
	r.setImage(consumer, fixedImage)
	var order []string // the instances in the order they came up on the fixed image
	budget := func(v rolloutView) {
		t.Helper()
		for _, name := range instances {
			in := v.instance(name)
			if in.image == fixedImage && in.available > 0 && !slices.Contains(order, name) {
				order = append(order, name)
			}
		}
		var down []string
		for _, name := range instances {
			if in := v.instance(name); in.available < 1 {
				down = append(down, in.String())
			}
		}
		if len(down) > maxInFlight {
			t.Fatalf("%d instances down at once, the rollout budget is %d:\n%s\n%s", len(down), maxInFlight,
				strings.Join(down, "\n"), r.diagnostics(v))
		}
	}
	v = r.waitFor(fmt.Sprintf("every instance Available on %s, FAILING = 0, RolloutHealthy True, RolloutComplete True", fixedImage),
		2*time.Minute, budget, func(v rolloutView) bool {
			healthy, complete := v.condition(konsumeratorv1.ConditionRolloutHealthy), v.condition(konsumeratorv1.ConditionRolloutComplete)
			return allRunning(v.st) && v.onImage(fixedImage, true) == len(instances) && v.failing() == 0 &&
				healthy != nil && healthy.Status == metav1.ConditionTrue && complete != nil && complete.Status == metav1.ConditionTrue
		})
	t.Logf("the fixed image came up on %s, at most %d instance down at a time", strings.Join(order, ", "), maxInFlight)
	for _, name := range instances {
		if v.instance(name).specHash == before.instance(name).specHash {
			t.Errorf("%s still has the spec hash it had before both rollouts: %s", name, v.instance(name))
		}
	}
	columns = r.kubectlGetConsumers()
	if columns["FAILING"] != "" && columns["FAILING"] != "0" || columns["ROLLOUT"] != konsumeratorv1.ReasonNoFailedInstances {
		t.Errorf("kubectl get consumers after the fix shows FAILING %q ROLLOUT %q, want 0 (or empty) and %s",
			columns["FAILING"], columns["ROLLOUT"], konsumeratorv1.ReasonNoFailedInstances)
	}
}

// rolloutHarness watches what a rollout changes: each instance's template image and spec hash, its pods and
// their containers' states, with the Consumer's status.
type rolloutHarness struct {
	h      *harness
	ctx    context.Context
	events kubernetes.Interface
}

// rolloutView is one observation.
type rolloutView struct {
	st        demo.State
	instances map[string]instanceRollout
}

type instanceRollout struct {
	name, image, specHash string
	generation            int64
	available             int32
	pods                  []podView
}

type podView struct {
	name, uid, image, state string
	ready, terminating      bool
	restarts                int32
}

func (r *rolloutHarness) observe() rolloutView {
	v := rolloutView{st: r.h.observe(), instances: map[string]instanceRollout{}}
	if v.st.Consumer == nil {
		return v
	}
	c := v.st.Consumer
	consumer := c.Spec.DeploymentTemplate.Template.Spec.Containers[0].Name
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	defer cancel()
	var pods corev1.PodList
	if err := r.h.d.Cluster.Client.List(ctx, &pods, client.InNamespace(c.Namespace), client.HasLabels{konsumeratorv1.LabelInstance}); err != nil {
		r.h.t.Logf("listing pods: %v", err)
		return rolloutView{}
	}
	var deps appsv1.DeploymentList
	if err := r.h.d.Cluster.Client.List(ctx, &deps, client.InNamespace(c.Namespace)); err != nil {
		r.h.t.Logf("listing Deployments: %v", err)
		return rolloutView{}
	}
	byName := map[string]*appsv1.Deployment{}
	for i := range deps.Items {
		byName[deps.Items[i].Name] = &deps.Items[i]
	}
	for _, st := range v.st.Instances {
		name, dep := st.Name, byName[st.Name]
		if dep == nil || string(dep.UID) != st.UID {
			continue
		}
		in := instanceRollout{name: name, generation: dep.Generation, available: dep.Status.AvailableReplicas}
		in.specHash = dep.Annotations[konsumeratorv1.AnnotationSpecHash]
		in.image = imageOf(dep.Spec.Template.Spec.Containers, consumer)
		for _, p := range pods.Items {
			if p.Labels[konsumeratorv1.LabelInstance] != name {
				continue
			}
			pv := podView{name: p.Name, uid: string(p.UID), image: imageOf(p.Spec.Containers, consumer), state: string(p.Status.Phase),
				terminating: p.DeletionTimestamp != nil}
			for _, cs := range p.Status.ContainerStatuses {
				if cs.Name != consumer {
					continue
				}
				pv.ready, pv.restarts, pv.state = cs.Ready, cs.RestartCount, containerState(cs)
			}
			in.pods = append(in.pods, pv)
		}
		sort.Slice(in.pods, func(i, j int) bool { return in.pods[i].uid < in.pods[j].uid })
		v.instances[name] = in
	}
	return v
}

// waitFor polls until ok holds, running check (when set) on every observation, and fails after timeout with
// what it waited for and everything it last saw.
func (r *rolloutHarness) waitFor(what string, timeout time.Duration, check func(rolloutView), ok func(rolloutView) bool) rolloutView {
	r.h.t.Helper()
	start := time.Now()
	for {
		v := r.observe()
		if v.st.Consumer != nil && len(v.instances) > 0 {
			if check != nil {
				check(v)
			}
			if ok(v) {
				r.h.t.Logf("after %s: %s | %s", time.Since(start).Round(time.Second), what, v.summary())
				return v
			}
		}
		if time.Since(start) > timeout {
			r.h.t.Fatalf("waited %s for: %s\n%s", timeout, what, r.diagnostics(v))
		}
		if n := r.h.d.Operator.Restarts(); n > r.h.restarts {
			r.h.t.Fatalf("the operator exited unasked (%d restarts) while waiting for: %s\n%s", n, what, r.diagnostics(v))
		}
		time.Sleep(poll)
	}
}

// setImage sets the image of a container of the Consumer's pod template.
func (r *rolloutHarness) setImage(container, image string) {
	r.h.t.Helper()
	var c konsumeratorv1.Consumer
	if err := r.h.d.Cluster.Client.Get(r.ctx, client.ObjectKeyFromObject(r.h.d.Consumer), &c); err != nil {
		r.h.t.Fatal(err)
	}
	patched := c.DeepCopy()
	for i := range patched.Spec.DeploymentTemplate.Template.Spec.Containers {
		if ctr := &patched.Spec.DeploymentTemplate.Template.Spec.Containers[i]; ctr.Name == container {
			ctr.Image = image
		}
	}
	if err := r.h.d.Cluster.Client.Patch(r.ctx, patched, client.MergeFrom(&c)); err != nil {
		r.h.t.Fatalf("setting the image of %s to %s: %v", container, image, err)
	}
	r.h.t.Logf("Consumer %s: container %s image set to %s", c.Name, container, image)
}

// checkWarningEvent: a Warning Event RolloutHalted on the Consumer names the failed instance.
func (r *rolloutHarness) checkWarningEvent(failed string) {
	r.h.t.Helper()
	c := r.h.d.Consumer
	var seen []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := r.events.EventsV1().Events(c.Namespace).List(r.ctx, metav1.ListOptions{})
		if err != nil {
			r.h.t.Fatalf("listing Events: %v", err)
		}
		seen = seen[:0]
		for _, e := range list.Items {
			if e.Regarding.Name != c.Name || e.Regarding.Kind != "Consumer" {
				continue
			}
			seen = append(seen, fmt.Sprintf("%s %s: %s", e.Type, e.Reason, e.Note))
			if e.Type == corev1.EventTypeWarning && e.Reason == konsumeratorv1.EventRolloutHalted && strings.Contains(e.Note, failed) {
				r.h.t.Logf("Event: %s %s: %s", e.Type, e.Reason, e.Note)
				return
			}
		}
		if time.Now().After(deadline) {
			r.h.t.Fatalf("no Warning Event %s naming %s on Consumer %s; its Events:\n%s",
				konsumeratorv1.EventRolloutHalted, failed, c.Name, strings.Join(seen, "\n"))
		}
		time.Sleep(poll)
	}
}

// kubectl runs kubectl against the demo cluster.
func (r *rolloutHarness) kubectl(args ...string) string {
	r.h.t.Helper()
	bin, err := cluster.ToolPath(r.ctx, "kubectl", nil)
	if err != nil {
		r.h.t.Fatalf("kubectl: %v", err)
	}
	out, err := exec.CommandContext(r.ctx, bin, append([]string{"--kubeconfig", r.h.d.Cluster.Kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		r.h.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// kubectlGetConsumers is the demo Consumer's row of `kubectl get consumers`, by column header.
func (r *rolloutHarness) kubectlGetConsumers() map[string]string {
	r.h.t.Helper()
	out := r.kubectl("get", "consumers")
	r.h.t.Logf("$ kubectl get consumers\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		r.h.t.Fatalf("kubectl get consumers printed no row:\n%s", out)
	}
	// Empty cells are blanks: the row is cut where the header's columns start.
	var names []string
	var starts []int
	for i := 0; i < len(lines[0]); {
		if lines[0][i] == ' ' {
			i++
			continue
		}
		end := i + strings.IndexByte(lines[0][i:]+" ", ' ')
		names, starts = append(names, lines[0][i:end]), append(starts, i)
		i = end
	}
	for _, line := range lines[1:] {
		if f := strings.Fields(line); len(f) == 0 || f[0] != r.h.d.Consumer.Name {
			continue
		}
		row := map[string]string{}
		for i, name := range names {
			from, to := min(starts[i], len(line)), len(line)
			if i+1 < len(starts) {
				to = min(to, starts[i+1])
			}
			row[name] = strings.TrimSpace(line[from:to])
		}
		return row
	}
	r.h.t.Fatalf("kubectl get consumers has no row for %s:\n%s", r.h.d.Consumer.Name, out)
	return nil
}

func (r *rolloutHarness) diagnostics(v rolloutView) string {
	var b strings.Builder
	b.WriteString("--- instances, their template image, spec hash and pods (consumer container)\n")
	for _, name := range instances {
		fmt.Fprintf(&b, "%s\n", v.instance(name))
	}
	if v.st.Consumer != nil {
		fmt.Fprintf(&b, "status failing %d outdated %d\n", v.failing(), deref(v.st.Consumer.Status.Outdated))
	}
	b.WriteString(r.h.diagnostics(v.st))
	return b.String()
}

func (v rolloutView) instance(name string) instanceRollout { return v.instances[name] }

func (v rolloutView) condition(t string) *metav1.Condition {
	if v.st.Consumer == nil {
		return nil
	}
	return meta.FindStatusCondition(v.st.Consumer.Status.Conditions, t)
}

func (v rolloutView) failing() int {
	if v.st.Consumer == nil {
		return -1
	}
	return int(deref(v.st.Consumer.Status.Failing))
}

// onImage counts the instances whose template has image; with running, only those whose pods all run it, Ready.
func (v rolloutView) onImage(image string, running bool) int {
	n := 0
	for _, in := range v.instances {
		if in.image != image {
			continue
		}
		if running {
			if in.available < 1 || len(in.pods) == 0 {
				continue
			}
			ok := true
			for _, p := range in.pods {
				ok = ok && p.image == image && p.ready && !p.terminating
			}
			if !ok {
				continue
			}
		}
		n++
	}
	return n
}

func (v rolloutView) summary() string {
	parts := []string{fmt.Sprintf("failing %d", v.failing())}
	if c := v.condition(konsumeratorv1.ConditionRolloutHealthy); c != nil {
		parts = append(parts, fmt.Sprintf("RolloutHealthy=%s %s", c.Status, c.Reason))
	}
	for _, name := range instances {
		in := v.instance(name)
		states := make([]string, 0, len(in.pods))
		for _, p := range in.pods {
			states = append(states, p.state)
		}
		parts = append(parts, fmt.Sprintf("%s %s [%s]", name, in.image, strings.Join(states, ",")))
	}
	return strings.Join(parts, " | ")
}

// crashLooping: a live pod of the instance has its consumer container waiting in CrashLoopBackOff.
func (in instanceRollout) crashLooping() bool {
	for _, p := range in.pods {
		if !p.terminating && p.state == "waiting CrashLoopBackOff" && p.restarts > 0 {
			return true
		}
	}
	return false
}

func (in instanceRollout) podUIDs() []string {
	out := make([]string, 0, len(in.pods))
	for _, p := range in.pods {
		out = append(out, p.uid)
	}
	return out
}

func (in instanceRollout) String() string {
	pods := make([]string, 0, len(in.pods))
	for _, p := range in.pods {
		pods = append(pods, fmt.Sprintf("%s uid %s image %s %s ready=%t restarts=%d terminating=%t",
			p.name, p.uid, p.image, p.state, p.ready, p.restarts, p.terminating))
	}
	return fmt.Sprintf("%s image %s generation %d available %d spec-hash %s pods [%s]",
		in.name, in.image, in.generation, in.available, in.specHash, strings.Join(pods, "; "))
}

func containerState(cs corev1.ContainerStatus) string {
	switch {
	case cs.State.Waiting != nil:
		return "waiting " + cs.State.Waiting.Reason
	case cs.State.Terminated != nil:
		return "terminated " + cs.State.Terminated.Reason
	case cs.State.Running != nil:
		return "running"
	}
	return "unknown"
}

func imageOf(containers []corev1.Container, name string) string {
	for _, c := range containers {
		if c.Name == name {
			return c.Image
		}
	}
	return ""
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
