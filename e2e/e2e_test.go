// Package e2e runs the demo as a test: a local cluster, a real Prometheus, the synthetic exporter and the
// operator as its own process, driven through the exporter's phases while the test watches the Consumer and its
// Deployments through the API. It needs the cached tools and a few minutes, so it runs only when
// KONSUMERATOR_E2E is set (make e2e sets it).
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/konsumerator/konsumerator/internal/cluster"
	"github.com/konsumerator/konsumerator/internal/demo"
	"github.com/konsumerator/konsumerator/internal/exporter"
)

// EnableEnv names the variable that turns the end-to-end test on.
const EnableEnv = "KONSUMERATOR_E2E"

const (
	// steadyCPU is what the demo scenario's steady load asks for per instance (see demo.Scenario).
	steadyCPU = "300m"
	// lagging is the instance holding the spiking partitions 2 and 3; the others must not change.
	lagging = "demo-1"
	poll    = 250 * time.Millisecond
)

// startDemo starts the demo in a directory of its own, with the test's output as its progress, and the harness
// that tears it down: the component logs stay when the test fails, the directory goes when it passes.
func startDemo(ctx context.Context, t *testing.T, prefix string, o demo.Options) *harness {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	o.Progress, o.Dir = testWriter{t}, dir
	d, err := demo.Start(ctx, o)
	if err != nil {
		t.Fatalf("%v\n(component logs in %s)", err, dir)
	}
	h := &harness{t: t, d: d}
	t.Cleanup(func() {
		h.teardown()
		if t.Failed() {
			t.Logf("component logs kept in %s", filepath.Join(dir, "logs"))
			return
		}
		_ = os.RemoveAll(dir)
	})
	return h
}

var instances = []string{"demo-0", "demo-1", "demo-2"}

func TestDemoEndToEnd(t *testing.T) {
	requireEnabled(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	h := startDemo(ctx, t, "konsumerator-e2e-", demo.Options{})
	d := h.d
	autoscaler := d.Consumer.Spec.Autoscaler
	pendingUp, pendingDown := autoscaler.PendingScaleUpDuration.Duration, autoscaler.PendingScaleDownDuration.Duration

	// Every instance comes up, sized for the steady load, and the status counts them.
	st := h.waitFor("every instance Available with cpu "+steadyCPU+" and RUNNING = EXPECTED = 3", 3*time.Minute,
		func(st demo.State) bool { return allRunning(st) && allCPU(st, steadyCPU) })
	// The operator's metrics show the same instances one by one, and the dashboard's queries work on them.
	series := h.waitForSeries("the three instances running at "+steadyCPU+" and not lagging", time.Minute, func(s instanceSeries) bool {
		for _, name := range instances {
			_, hasLag := s.lag[name]
			if lagging, ok := s.lagging[name]; !ok || lagging != 0 || !hasLag || s.state[name] != "running" || s.cpu[name] != 0.3 {
				return false
			}
		}
		return len(s.state) == len(instances)
	})
	t.Logf("the operator's per-instance series before the spike:\n%s", series)
	h.checkDashboardOnPrometheus(ctx, instances)

	// The demo page, in a real browser, shows the three instances as they are.
	b := newBrowser(ctx, t)
	steady := b.dom(ctx, t, d.Page.URL)
	steady.checkShowsInstances(t, instances)
	if steady.phase != string(exporter.Steady) || steady.rows[lagging].cpu != steadyCPU {
		t.Fatalf("the page before the spike shows phase %q and %s cpu %q\n%s", steady.phase, lagging, steady.rows[lagging].cpu, steady.raw)
	}
	b.screenshot(ctx, t, d.Page.URL, "demo-page-steady")

	untouched := map[string]demo.Instance{}
	for _, name := range instances {
		if name != lagging {
			untouched[name], _ = st.Instance(name)
		}
	}
	h.untouched = untouched
	beforeSpike, _ := st.Instance(lagging)

	// The spike: demo-1's partitions are produced four times faster than its consumer reads. The operator must
	// see the need, hold it as PENDING_SCALE_UP for pendingScaleUpDuration, then raise the CPU.
	d.Exporter.SetPhase(exporter.Spike)
	loop := startLoopRecorder(t, d, lagging, autoscaler.Prometheus.TolerableLag.Duration)
	h.loop = loop
	var pendingSince time.Time
	st = h.waitFor(fmt.Sprintf("%s cpu above %s after a pending scale-up of %s", lagging, steadyCPU, pendingUp),
		pendingUp+2*time.Minute, func(st demo.State) bool {
			in, _ := st.Instance(lagging)
			if cpuAbove(t, in.CPU, steadyCPU) {
				return true
			}
			if in.Scaling == "PENDING_SCALE_UP" {
				pendingSince = parseTime(t, in.Since)
			}
			return false
		})
	in, _ := st.Instance(lagging)
	if pendingSince.IsZero() {
		t.Fatalf("%s was scaled up without ever being seen in PENDING_SCALE_UP\n%s", lagging, h.diagnostics(st))
	}
	// The scale-up writes the state RUNNING with the time it acted: it must be a full pending period after the
	// pending state began (both times are the operator's, in whole seconds). A further need for more may
	// already be pending again, and then the time of acting is gone: only the first case can be checked.
	if in.Scaling == "RUNNING" {
		acted := parseTime(t, in.Since)
		if acted.Sub(pendingSince) < pendingUp {
			t.Fatalf("%s scaled up %s after entering PENDING_SCALE_UP, before pendingScaleUpDuration %s\n%s",
				lagging, acted.Sub(pendingSince), pendingUp, h.diagnostics(st))
		}
		t.Logf("spike: %s was PENDING_SCALE_UP from %s and scaled up %s later (pendingScaleUpDuration %s)",
			lagging, pendingSince.Format(time.TimeOnly), acted.Sub(pendingSince), pendingUp)
	}
	t.Logf("spike: %s went from %s to %s cpu", lagging, steadyCPU, in.CPU)

	// The metrics say which instance it is and how big: demo-1 with more CPU (the decided requests) and a lag
	// figure, the others at the steady size and not lagging. (LAGGING is asserted below, where the loop record
	// shows whether the lag reached tolerableLag at all: a resize in place may act before it does.)
	series = h.waitForSeries(lagging+" with more CPU and a lag figure; the others at "+steadyCPU+" and not lagging", time.Minute,
		func(s instanceSeries) bool {
			_, hasLag := s.lag[lagging]
			return hasLag && s.cpu[lagging] > 0.3 && s.lagging["demo-0"] == 0 && s.lagging["demo-2"] == 0 &&
				s.cpu["demo-0"] == 0.3 && s.cpu["demo-2"] == 0.3
		})
	t.Logf("the operator's per-instance series during the spike:\n%s", series)

	// The page follows: the spike phase, and demo-1's new CPU, while the others stay as they were.
	spike := b.dom(ctx, t, d.Page.URL)
	spike.checkShowsInstances(t, instances)
	if spike.phase != string(exporter.Spike) || !cpuAbove(t, spike.rows[lagging].cpu, steadyCPU) {
		t.Fatalf("the page during the spike shows phase %q and %s cpu %q\n%s", spike.phase, lagging, spike.rows[lagging].cpu, spike.raw)
	}
	for _, name := range []string{"demo-0", "demo-2"} {
		if spike.rows[name].cpu != steadyCPU {
			t.Errorf("the page shows %s with cpu %q during the spike, want %s", name, spike.rows[name].cpu, steadyCPU)
		}
	}
	b.screenshot(ctx, t, d.Page.URL, "demo-page-spike")

	// The closed loop: the spike goes on, demo-1's partitions still produced at four times the steady rate, and
	// the backlog comes down only because demo-1's pod now has the CPU to read faster than that (at the steady
	// 300m it reads 30 of the 100 messages/s). First the lag returns under tolerableLag and the status stops
	// counting demo-1 as lagging, then the backlog is worked off down to the exporter's latency.
	tolerable := autoscaler.Prometheus.TolerableLag.Duration
	spikeRate := 2 * demo.Scenario().Spike
	closing := func(st demo.State) (demo.InstanceLag, bool) {
		in, _ := st.Instance(lagging)
		l := lagOf(st, d, lagging)
		return l, d.Exporter.Phase() == exporter.Spike && l.Production == spikeRate && cpuAbove(t, in.PodCPU(), steadyCPU) && in.Reads > spikeRate
	}
	h.waitFor(fmt.Sprintf("%s's lag back under tolerableLag %s, the spike still on, and LAGGING = 0", lagging, tolerable),
		3*time.Minute, func(st demo.State) bool {
			l, ok := closing(st)
			return ok && l.Lag < tolerable && st.Consumer.Status.Lagging != nil && *st.Consumer.Status.Lagging == 0
		})
	st = h.waitFor(fmt.Sprintf("%s's backlog worked off (at most 2s of production behind), the spike still on", lagging),
		2*time.Minute, func(st demo.State) bool {
			l, ok := closing(st)
			return ok && l.Behind <= 2*spikeRate
		})
	in, _ = st.Instance(lagging)
	// In place (the default updateMode): the pod that was reading before the spike got the CPU, without a
	// restart: the same pod, its containers never restarted.
	if in.PodUID != beforeSpike.PodUID || in.Restarts != 0 {
		t.Fatalf("%s's scale-up to %s (pod cpu %s) replaced or restarted its pod: before the spike %s (uid %s), now %s (uid %s) with %d restarts\n%s",
			lagging, in.CPU, in.PodCPU(), beforeSpike.Pod, beforeSpike.PodUID, in.Pod, in.PodUID, in.Restarts, h.diagnostics(st))
	}
	t.Logf("spike: %s was resized in place: pod %s (uid %s) kept, restarts %d, pod cpu %s -> %s",
		lagging, in.Pod, in.PodUID, in.Restarts, beforeSpike.PodCPU(), in.PodCPU())
	report := loop.String()
	rec := loop.stop()
	h.loop = nil
	// At 300m demo-1 falls behind for as long as the spike lasts: unless the spike put it well behind, the loop
	// proved nothing. A restart's pause takes the lag past tolerableLag, and then the operator must have counted
	// demo-1 as lagging; a resize in place can act before that.
	if rec.peak.Lag < tolerable/2 {
		t.Fatalf("the spike put %s only %s behind, want at least half of tolerableLag %s\n%s", lagging, rec.peak.Lag, tolerable, h.diagnostics(st))
	}
	if rec.peak.Lag >= tolerable && rec.sawLagging.IsZero() {
		t.Fatalf("%s's lag reached %s, tolerableLag %s, but the status never counted it as lagging\n%s", lagging, rec.peak.Lag, tolerable, h.diagnostics(st))
	}
	if rec.others.Lag >= tolerable {
		t.Fatalf("%s lagged %s during %s's spike, want under tolerableLag %s\n%s", rec.others.Name, rec.others.Lag, lagging, tolerable, h.diagnostics(st))
	}
	steadyCores := resource.MustParse(steadyCPU)
	t.Logf("closed loop, production %.0f/s throughout, read up to %.0f/s at %s cpu (%.0f/s at %s): %s",
		spikeRate, in.Reads, in.PodCPU(), d.Exporter.PerCore()*steadyCores.AsApproximateFloat64(), steadyCPU, report)

	// Recovery: the backlog is worked off; once demo-1 no longer lags, a pending scale-down gives CPU back, in
	// place (in Restart mode it would keep room for the backlog of its own restart).
	spikeCPU := in.CPU
	d.Exporter.SetPhase(exporter.Recovery)
	h.waitFor(fmt.Sprintf("%s scaled down from %s after recovery (pendingScaleDownDuration %s)", lagging, spikeCPU, pendingDown),
		pendingDown+3*time.Minute, func(st demo.State) bool {
			in, _ := st.Instance(lagging)
			return cpuAbove(t, spikeCPU, in.CPU) && in.Scaling == "RUNNING" && allRunning(st)
		})
	d.Exporter.SetPhase(exporter.Steady)

	// The operator is killed, as people trying the demo will: the demo starts it again, like the operator's
	// Deployment would, and the new process picks up where the old one stopped.
	killed := d.Operator.Current()
	h.restarts++
	if err := syscall.Kill(killed.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for d.Operator.Restarts() < h.restarts {
		if time.Now().After(deadline) {
			t.Fatalf("the operator was not started again within 30s of being killed:\n%s", d.Operator.Tail())
		}
		time.Sleep(poll)
	}
	t.Logf("operator killed (pid %d) and started again (pid %d)", killed.Pid(), d.Operator.Current().Pid())

	// Instances deleted by hand come back (new objects), with the garbage collector their old Pods go, and the
	// Consumer is whole again.
	st = h.observe()
	old := map[string]bool{}
	for _, in := range st.Instances {
		old[in.UID] = true
		dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: d.Consumer.Namespace, Name: in.Name}}
		if err := d.Cluster.Client.Delete(ctx, dep, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
			t.Fatalf("deleting %s: %v", in.Name, err)
		}
	}
	h.untouched = nil // recreated objects have new generations
	h.waitFor("every deleted instance recreated, Available, RUNNING = EXPECTED = 3", 2*time.Minute, func(st demo.State) bool {
		for _, in := range st.Instances {
			if old[in.UID] {
				return false
			}
		}
		return allRunning(st) && podsInNamespace(ctx, t, d) == len(instances)
	})

	// Deleting the Consumer deletes its Deployments and their Pods, as in any cluster.
	if err := d.Cluster.Client.Delete(ctx, d.Consumer.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(2 * time.Minute)
	for {
		var deps appsv1.DeploymentList
		if err := d.Cluster.Client.List(ctx, &deps, client.InNamespace(d.Consumer.Namespace)); err != nil {
			t.Fatal(err)
		}
		pods := podsInNamespace(ctx, t, d)
		if len(deps.Items) == 0 && pods == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("2m after deleting the Consumer, %d Deployments and %d Pods are left", len(deps.Items), pods)
		}
		time.Sleep(poll)
	}
	// No stale series: the Consumer's per-instance series went with it.
	h.waitForSeries("no per-instance series of the deleted Consumer", time.Minute, func(s instanceSeries) bool { return len(s.all) == 0 })
}

// podsInNamespace counts the Pods of the demo's namespace: only the instances' Pods run there.
func podsInNamespace(ctx context.Context, t *testing.T, d *demo.Demo) int {
	t.Helper()
	var pods corev1.PodList
	if err := d.Cluster.Client.List(ctx, &pods, client.InNamespace(d.Consumer.Namespace)); err != nil {
		t.Fatal(err)
	}
	return len(pods.Items)
}

// requireEnabled skips unless the end-to-end tests are asked for: they need the cached tools and minutes.
func requireEnabled(t *testing.T) {
	t.Helper()
	if os.Getenv(EnableEnv) == "" {
		t.Skipf("set %s=1 to run the end-to-end tests (make e2e does)", EnableEnv)
	}
}

// harness waits on the demo with deadlines and explains a failure with everything it last saw.
type harness struct {
	t *testing.T
	d *demo.Demo
	// untouched are the instances the spike must leave alone, as they were before it: while set, every
	// observation checks that their resources and spec (generation) stay the same.
	untouched map[string]demo.Instance
	// restarts is how many times the test itself killed the operator.
	restarts int
	// loop, while set, records the closed loop through the spike; failures print it.
	loop *loopRecorder
}

// waitFor polls until ok holds, failing after timeout with what it waited for and the last state.
func (h *harness) waitFor(what string, timeout time.Duration, ok func(demo.State) bool) demo.State {
	h.t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		st := h.observe()
		if st.Consumer != nil {
			h.checkUntouched(st)
			if ok(st) {
				h.t.Logf("after %s: %s | %s", time.Since(start).Round(time.Second), what, st.Summary())
				return st
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("waited %s for: %s\n%s", timeout, what, h.diagnostics(st))
		}
		// The demo starts a dead operator again; here an exit nobody asked for is a failure.
		if n := h.d.Operator.Restarts(); n > h.restarts {
			h.t.Fatalf("the operator exited unasked (%d restarts) while waiting for: %s\n%s", n, what, h.diagnostics(st))
		}
		time.Sleep(poll)
	}
}

// observe reads the state; a failed read gives an empty state, which no wait accepts.
func (h *harness) observe() demo.State {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := h.d.Observe(ctx)
	if err != nil {
		h.t.Logf("observing: %v", err)
		return demo.State{}
	}
	return st
}

func (h *harness) checkUntouched(st demo.State) {
	h.t.Helper()
	for name, before := range h.untouched {
		now, ok := st.Instance(name)
		if !ok || now.UID != before.UID || now.Generation != before.Generation || now.CPU != before.CPU || now.Memory != before.Memory {
			h.t.Fatalf("%s must be left alone by demo-1's spike: was %+v, now %+v (present %t)\n%s",
				name, before, now, ok, h.diagnostics(st))
		}
	}
}

// diagnostics is the last observed state, the exporter's phase and backlog, and the operator's log tail.
func (h *harness) diagnostics(st demo.State) string {
	var b strings.Builder
	b.WriteString("--- last observed state\n")
	b.WriteString(st.String())
	fmt.Fprintf(&b, "--- exporter phase %s, messages behind per partition %v\n%s\n", h.d.Exporter.Phase(), roundAll(h.d.Exporter.Behind()),
		demo.LagSummary(demo.Lags(st, h.d.Exporter.Figures())))
	if h.loop != nil {
		fmt.Fprintf(&b, "--- since the spike began: %s\n", h.loop)
	}
	lines := strings.Split(h.d.Operator.Tail(), "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	fmt.Fprintf(&b, "--- operator log (last %d lines; all component logs in %s/logs)\n%s\n", len(lines), h.d.Cluster.Dir, strings.Join(lines, "\n"))
	return b.String()
}

// teardown stops everything and proves nothing is left running.
func (h *harness) teardown() {
	procs := h.d.Cluster.Processes()
	if err := h.d.Stop(); err != nil {
		h.t.Errorf("teardown: %v", err)
	}
	for _, p := range procs {
		if !p.GroupGone() {
			h.t.Errorf("process group of %s (%d) still has processes after teardown", p.Name, p.Pid())
		}
	}
	cluster.ReapExited()
	if left := cluster.LiveChildren(); len(left) > 0 {
		h.t.Errorf("processes left behind after teardown: %v", left)
	}
}

func allRunning(st demo.State) bool {
	s := st.Consumer.Status
	if s.Expected == nil || s.Running == nil || *s.Expected != int32(len(instances)) || *s.Running != *s.Expected {
		return false
	}
	if len(st.Instances) != len(instances) {
		return false
	}
	for _, in := range st.Instances {
		if in.Available < 1 {
			return false
		}
	}
	return true
}

func allCPU(st demo.State, cpu string) bool {
	for _, in := range st.Instances {
		if in.CPU != cpu {
			return false
		}
	}
	return true
}

func cpuAbove(t *testing.T, got, than string) bool {
	if got == "-" || got == "" {
		return false
	}
	g, err := resource.ParseQuantity(got)
	if err != nil {
		t.Fatalf("cpu %q: %v", got, err)
	}
	return g.Cmp(resource.MustParse(than)) > 0
}

func parseTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("scaling-status-change %q: %v", s, err)
	}
	return v
}

func roundAll(fs []float64) []int64 {
	out := make([]int64, len(fs))
	for i, f := range fs {
		out[i] = int64(f)
	}
	return out
}

// testWriter sends the demo's progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
