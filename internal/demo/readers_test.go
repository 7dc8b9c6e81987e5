package demo

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/exporter"
	"github.com/konsumerator/konsumerator/internal/testenv"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func demoConsumer(t *testing.T) *konsumeratorv1.Consumer {
	t.Helper()
	c, err := LoadConsumer(filepath.Join(testenv.RepoRoot(), ConsumerFile))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// podOf is a running, ready pod of instance demo-<index>, as kwok leaves it: the consumer container asks for
// cpu and started at started.
func podOf(index int, cpu string, started time.Time) corev1.Pod {
	name := fmt.Sprintf("demo-%d", index)
	res := corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-abc", Namespace: "default", CreationTimestamp: metav1.NewTime(started),
			Labels: map[string]string{konsumeratorv1.LabelInstance: name, "app": "demo"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "consumer", Resources: res, Env: []corev1.EnvVar{
				{Name: konsumeratorv1.DefaultPartitionEnvKey, Value: fmt.Sprintf("%d,%d", 2*index, 2*index+1)}}},
			{Name: "sidecar", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}},
		}},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: "consumer", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(started)}}},
				{Name: "sidecar", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(started)}}},
			},
		},
	}
}

// reported sets what the kubelet reports for the consumer container's CPU, as after an in-place resize.
func reported(pod corev1.Pod, cpu string) corev1.Pod {
	pod.Status.ContainerStatuses[0].Resources = &corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}
	return pod
}

func TestAllocatedCPUIsWhatTheKubeletReportsThenThePodSpec(t *testing.T) {
	for name, tc := range map[string]struct {
		pod  corev1.Pod
		want string
	}{
		"status reports resources": {reported(podOf(1, "1500m", t0), "300m"), "300m"}, // resize asked, not done yet
		"status without resources": {podOf(1, "1500m", t0), "1500m"},
		"only a limit": {func() corev1.Pod {
			p := podOf(1, "1", t0)
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("700m")}}
			return p
		}(), "700m"},
	} {
		got, ok := AllocatedCPU(&tc.pod, "consumer")
		if !ok || got.String() != tc.want {
			t.Errorf("%s: %s (%t), want %s", name, got.String(), ok, tc.want)
		}
	}
	pod := podOf(1, "1", t0)
	if _, ok := AllocatedCPU(&pod, "nope"); ok {
		t.Errorf("a container the pod does not have has CPU")
	}
}

func TestReadersAreTheRunningPodsWithTheirPartitionsAndCPU(t *testing.T) {
	c := demoConsumer(t)
	rs := Readers(c, []corev1.Pod{podOf(0, "300m", t0), reported(podOf(1, "1500m", t0.Add(time.Minute)), "1500m")}, 5*time.Second)
	want := []exporter.Reader{
		{Name: "demo-0", Partitions: []int32{0, 1}, Cores: 0.3, From: t0.Add(5 * time.Second)},
		{Name: "demo-1", Partitions: []int32{2, 3}, Cores: 1.5, From: t0.Add(time.Minute + 5*time.Second)},
	}
	if fmt.Sprint(rs) != fmt.Sprint(want) {
		t.Fatalf("readers\n%v\nwant\n%v", rs, want)
	}

	for name, change := range map[string]func(*corev1.Pod){
		"terminating":     func(p *corev1.Pod) { now := metav1.NewTime(t0); p.DeletionTimestamp = &now },
		"pending":         func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending },
		"not ready":       func(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse },
		"no ready status": func(p *corev1.Pod) { p.Status.Conditions = nil },
		"consumer waiting": func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
		},
	} {
		pod := podOf(0, "300m", t0)
		change(&pod)
		if rs := Readers(c, []corev1.Pod{pod}, 0); len(rs) != 0 {
			t.Errorf("%s pod reads: %v", name, rs)
		}
	}

	// The partitions are read from the variable the Consumer names.
	c.Spec.PartitionEnvKey = "TOPIC_PARTITIONS"
	pod := podOf(2, "300m", t0)
	pod.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TOPIC_PARTITIONS", Value: "4, 5"}, {Name: konsumeratorv1.DefaultPartitionEnvKey, Value: "9"}}
	if rs := Readers(c, []corev1.Pod{pod}, 0); len(rs) != 1 || fmt.Sprint(rs[0].Partitions) != "[4 5]" {
		t.Errorf("with partitionEnvKey TOPIC_PARTITIONS: %v", rs)
	}
}

func TestAnInstanceShowsThePodsCPUAndWhatItReads(t *testing.T) {
	c := demoConsumer(t)
	dep := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{
		MatchLabels: map[string]string{konsumeratorv1.LabelInstance: "demo-1"}}}}
	other := podOf(0, "300m", t0)

	// No pod yet: the template's CPU, nothing read.
	if cpu, reads, _ := consuming(c, dep, []corev1.Pod{other}, "300m", 100, t0); cpu != "300m" || reads != 0 {
		t.Errorf("without a pod: cpu %s reads %g, want the template's 300m and nothing", cpu, reads)
	}
	// Resized in place to 1500m: the template still says 300m; the pod reads 150/s once it has rejoined.
	resized := reported(podOf(1, "1500m", t0), "1500m")
	for _, tc := range []struct {
		at    time.Time
		reads float64
	}{{t0.Add(4 * time.Second), 0}, {t0.Add(5 * time.Second), 150}} {
		cpu, reads, _ := consuming(c, dep, []corev1.Pod{other, resized}, "300m", 100, tc.at)
		if cpu != "1500m" || reads != tc.reads {
			t.Errorf("at %s: cpu %s reads %g, want 1500m and %g", tc.at.Sub(t0), cpu, reads, tc.reads)
		}
	}
	// A rollout: the old pod terminates, the new one has the new size.
	old := podOf(1, "300m", t0.Add(-time.Hour))
	now := metav1.NewTime(t0)
	old.DeletionTimestamp = &now
	if cpu, _, _ := consuming(c, dep, []corev1.Pod{old, podOf(1, "1200m", t0)}, "1200m", 100, t0); cpu != "1200m" {
		t.Errorf("during a rollout: cpu %s, want the new pod's 1200m", cpu)
	}
}

// TestTheDemoSpikeIsWorkedOffBecauseOfTheScaleUp runs the demo's scenario through the consumer model in
// simulated time, with the pods a restart-mode scale-up leaves: at the steady 300m demo-1 reads 30 of the
// spike's 100 messages/s and falls behind for as long as the spike lasts; at 1500m (what the operator decides,
// see docs/demo.md) it works the backlog off while the spike still lasts, after a pause for the restart.
func TestTheDemoSpikeIsWorkedOffBecauseOfTheScaleUp(t *testing.T) {
	c := demoConsumer(t)
	s := Scenario()
	sim, err := exporter.NewSimulator(s, t0)
	if err != nil {
		t.Fatal(err)
	}
	steady := []corev1.Pod{podOf(0, "300m", t0), podOf(1, "300m", t0), podOf(2, "300m", t0)}
	sim.SetReaders(Readers(c, steady, RejoinTime))
	sim.AdvanceTo(t0.Add(time.Minute))
	lag := func(p int32) time.Duration { return sim.Figures(p).Lag.Round(100 * time.Millisecond) }
	if lag(2) != time.Second || lag(0) != time.Second {
		t.Fatalf("steady at 300m: lag %s and %s, want the 1s latency", lag(0), lag(2))
	}

	spike := t0.Add(time.Minute)
	sim.SetPhase(exporter.Spike)
	// The operator waits 10s pending, then demo-1's pod is replaced at 12s; the new one reads 5s after it starts.
	sim.AdvanceTo(spike.Add(12 * time.Second))
	if f := sim.Figures(2); f.Consumption != 15 || f.Lag < 8*time.Second {
		t.Fatalf("12s into the spike at 300m: %+v, want 15/s read per partition and a lag growing past 8s", f)
	}
	scaled := []corev1.Pod{steady[0], podOf(1, "1500m", spike.Add(13*time.Second)), steady[2]}
	sim.SetReaders(Readers(c, []corev1.Pod{steady[0], steady[2]}, RejoinTime)) // the old pod is gone
	sim.AdvanceTo(spike.Add(13 * time.Second))
	sim.SetReaders(Readers(c, scaled, RejoinTime))
	sim.AdvanceTo(spike.Add(18 * time.Second))
	peak := sim.Figures(2)
	if peak.Consumption != 0 || peak.Lag < 14*time.Second {
		t.Fatalf("while the new pod rejoins: %+v, want nothing read and the lag past tolerableLag", peak)
	}

	// Still the spike's 50/s per partition, read at 75/s: the backlog goes down by 25/s per partition.
	var under, gone time.Duration
	for at := 18 * time.Second; at <= 60*time.Second; at += 100 * time.Millisecond {
		sim.AdvanceTo(spike.Add(at))
		f := sim.Figures(2)
		if f.Production != s.Spike {
			t.Fatalf("production %g at %s, want the spike's %g", f.Production, at, s.Spike)
		}
		if under == 0 && f.Lag < 10*time.Second {
			under = at
		}
		if gone == 0 && f.Behind <= s.Spike*s.Latency.Seconds()+1e-6 {
			gone = at
		}
	}
	t.Logf("spike: peak lag %s (%.0f behind); under 10s %s into the spike; backlog gone %s into it",
		peak.Lag.Round(time.Second), peak.Behind, under, gone)
	if under == 0 || under > 20*time.Second || gone == 0 || gone > 50*time.Second {
		t.Fatalf("with 1500m the lag went under 10s at %s and the backlog was gone at %s into the spike, want by 20s and 50s", under, gone)
	}
	for _, p := range []int32{0, 1, 4, 5} {
		if lag(p) != time.Second {
			t.Errorf("partition %d lag %s, want the steady 1s: the spike is demo-1's alone", p, lag(p))
		}
	}

	// Without the scale-up, the same spike only ever grows the backlog.
	sim, _ = exporter.NewSimulator(s, t0)
	sim.SetReaders(Readers(c, steady, RejoinTime))
	sim.AdvanceTo(spike)
	sim.SetPhase(exporter.Spike)
	sim.AdvanceTo(spike.Add(60 * time.Second))
	if f := sim.Figures(2); f.Lag < 40*time.Second || f.Behind < 60*35 {
		t.Fatalf("a minute of spike at 300m: %+v, want a backlog growing by 35/s per partition", f)
	}
}

func TestLagSummaryAddsUpEachInstancesPartitions(t *testing.T) {
	st := State{Instances: []Instance{{Name: "demo-0", Partitions: "0,1"}, {Name: "demo-1", Partitions: "2,3"}}}
	figs := []exporter.Figures{
		{Behind: 12.5, Production: 12.5, Consumption: 12.5, Lag: time.Second},
		{Behind: 12.5, Production: 12.5, Consumption: 12.5, Lag: time.Second},
		{Behind: 700, Production: 50, Consumption: 0, Lag: 14 * time.Second},
		{Behind: 743, Production: 50, Consumption: 0, Lag: 14860 * time.Millisecond},
	}
	got := LagSummary(Lags(st, figs))
	want := "lag | demo-0 1s (25 behind, produced 25/s, read 25/s) demo-1 15s (1443 behind, produced 100/s, read 0/s)"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestChangesTellInPlaceFromRestart(t *testing.T) {
	prev := State{Instances: []Instance{
		{Name: "demo-0", Pod: "demo-0-a", PodUID: "u0", Allocated: "300m"},
		{Name: "demo-1", Pod: "demo-1-a", PodUID: "u1", Allocated: "300m"},
		{Name: "demo-2", Pod: "demo-2-a", PodUID: "u2", Allocated: "300m"},
	}}
	next := State{Instances: []Instance{
		{Name: "demo-0", Pod: "demo-0-a", PodUID: "u0", Allocated: "300m"},
		{Name: "demo-1", Pod: "demo-1-a", PodUID: "u1", Allocated: "1500m"},
		{Name: "demo-2", Pod: "demo-2-b", PodUID: "u3", Allocated: "600m"},
	}}
	want := []string{
		"demo-1 resized in place: cpu 300m -> 1500m, the same pod demo-1-a (uid u1), restarts 0",
		"demo-2 restarted: cpu 300m -> 600m, new pod demo-2-b replaces demo-2-a",
	}
	if got := next.Changes(prev); !reflect.DeepEqual(got, want) {
		t.Errorf("Changes = %q, want %q", got, want)
	}
}
