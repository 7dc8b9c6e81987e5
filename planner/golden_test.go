package planner_test

import (
	"testing"
	"time"

	"gotest.tools/v3/golden"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/planner"
)

var res = builder.Resources

// orders is the Consumer most scenarios start from: 4 partitions, one per instance, 1,000 messages/s per core,
// 1Gi per core, busybox bounded to [100m/128Mi, 4/4Gi].
func orders() *builder.ConsumerWrapper {
	return builder.Consumer("orders").Partitions(4).Prometheus(1000, "1Gi").
		Policy("busybox", res("cpu=100m,memory=128Mi"), res("cpu=4,memory=4Gi"))
}

// load is a fresh sample at now-10s with every partition at the same figures.
func load(n int32, production, consumption, behind float64) *model.MetricsSample {
	return builder.Sample(builder.Epoch.Add(-10*time.Second)).Uniform(n, production, consumption, behind).Obj()
}

// steady is orders settled at 800 messages/s per partition: 800m, 1 core, 1Gi each.
func steady(t testing.TB, c *builder.ConsumerWrapper) *model.Snapshot {
	return settle(t, builder.Snapshot(c.Obj()).Metrics(load(c.Obj().Spec.NumPartitions, 800, 800, 0)).Obj())
}

type scenario struct {
	name    string
	snap    func(t testing.TB) *model.Snapshot
	desired []string // actions whose desired object goes into the golden file
}

func scenarios() []scenario {
	min := time.Minute
	list := []scenario{
		{name: "create-n10-k3", desired: []string{"orders-0"}, snap: func(t testing.TB) *model.Snapshot {
			return builder.Snapshot(orders().Partitions(10).PerInstance(3).Obj()).Metrics(load(10, 500, 500, 1000)).Obj()
		}},
		{name: "create-n12-k5-no-autoscaler", snap: func(t testing.TB) *model.Snapshot {
			c := builder.Consumer("plain").Partitions(12).PerInstance(5).
				ContainerResources("busybox", res("cpu=250m,memory=64Mi"), res("cpu=1,memory=128Mi")).Obj()
			return builder.Snapshot(c).Obj()
		}},
		{name: "steady-state-unchanged", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders())
			return later(s, min, builder.Sample(s.Now.Add(min-5*time.Second)).Uniform(4, 800, 800, 0).Obj())
		}},
		{name: "namespace-mismatch", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders())
			return withSpec(s, orders().SpecNamespace("elsewhere").Obj())
		}},
		{name: "guest-mode-spec-error", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders())
			out := *s
			out.SpecError = "spec: yaml: line 3: mapping values are not allowed in this context"
			return &out
		}},
		{name: "invalid-template-changes-nothing", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders())
			c := orders().Container("", "x").ContainerResources("busybox", res("cpu=2"), res("cpu=1")).Obj()
			return withSpec(s, c)
		}},
		{name: "docs-worked-example", desired: []string{"example-0"}, snap: func(t testing.TB) *model.Snapshot {
			// The worked example of docs/sizing.md.
			c := builder.Consumer("example").Partitions(10).PerInstance(10).Prometheus(50000, "100M").
				Lags(5*time.Minute, time.Hour, 30*time.Minute).
				Policy("busybox", res("cpu=100m,memory=100M"), res("cpu=2,memory=1G"))
			m := builder.Sample(builder.Epoch.Add(-10 * time.Second))
			for _, p := range []int32{0, 1, 2, 4, 5, 6, 8, 9} {
				m.Partition(p, 4000, 4000, 0)
			}
			m.Partition(3, 4000, 5000, 9_000_000)
			return builder.Snapshot(c.Obj()).Metrics(m.Obj()).Obj()
		}},
		{name: "guest-mode-configmap-owner", desired: []string{"orders-0"}, snap: func(t testing.TB) *model.Snapshot {
			return builder.Snapshot(orders().Partitions(1).Obj()).GuestOwner().Metrics(load(1, 800, 800, 0)).Obj()
		}},
		{name: "long-owner-name-label", desired: []string{"orders-0"}, snap: func(t testing.TB) *model.Snapshot {
			c := orders().Partitions(1).Obj()
			c.Name = "a-very-long-consumer-name-that-is-well-beyond-the-sixty-three-characters-a-label-may-have"
			return builder.Snapshot(c).Metrics(load(1, 800, 800, 0)).Obj()
		}},
		{name: "scale-up-enters-pending", snap: func(t testing.TB) *model.Snapshot {
			return later(steady(t, orders()), min, load(4, 2500, 2500, 0))
		}},
		{name: "scale-up-ripens", desired: []string{"orders-0"}, snap: func(t testing.TB) *model.Snapshot {
			s := later(steady(t, orders()), min, load(4, 2500, 2500, 0))
			for _, n := range []string{"orders-0", "orders-1", "orders-2"} {
				s = setState(s, n, planner.StatePendingScaleUp, s.Now.Add(-6*min))
			}
			return setState(s, "orders-3", planner.StatePendingScaleUp, s.Now.Add(-2*min))
		}},
		{name: "scale-down-enters-pending", snap: func(t testing.TB) *model.Snapshot {
			return later(steady(t, orders()), min, load(4, 200, 200, 0))
		}},
		{name: "scale-down-ripens", snap: func(t testing.TB) *model.Snapshot {
			s := later(steady(t, orders()), min, load(4, 200, 200, 0))
			for _, n := range []string{"orders-0", "orders-1", "orders-2", "orders-3"} {
				s = setState(s, n, planner.StatePendingScaleDown, s.Now.Add(-16*min))
			}
			return s
		}},
		{name: "no-scale-down-after-metrics-gap", snap: func(t testing.TB) *model.Snapshot {
			// The first sample after a gap reads low: it starts no scale-down and ripens no pending one.
			s := later(steady(t, orders()), min, load(4, 200, 200, 0))
			s.Metrics.AfterGap = true
			return setState(s, "orders-0", planner.StatePendingScaleDown, s.Now.Add(-16*min))
		}},
		{name: "scale-down-keeps-restart-headroom", snap: func(t testing.TB) *model.Snapshot {
			// At 900m for 800 messages/s with a ripe scale-down: 800m would leave no room for the backlog the
			// restart itself leaves, so the next restart would follow; the instance stays at 900m.
			s := settle(t, builder.Snapshot(orders().Obj()).Metrics(load(4, 850, 850, 0)).Obj())
			s = later(s, min, load(4, 800, 800, 0))
			for _, n := range []string{"orders-0", "orders-1", "orders-2", "orders-3"} {
				s = setState(s, n, planner.StatePendingScaleDown, s.Now.Add(-16*min))
			}
			return s
		}},
		{name: "no-scale-down-while-lagging", snap: func(t testing.TB) *model.Snapshot {
			s := settle(t, builder.Snapshot(orders().Obj()).Metrics(load(4, 2500, 2500, 0)).Obj())
			s = setState(s, "orders-0", planner.StatePendingScaleDown, s.Now.Add(-20*min))
			return later(s, 0, load(4, 100, 100, 60000))
		}},
		{name: "pending-down-turns-up-when-lag-returns", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders())
			s = setState(s, "orders-0", planner.StatePendingScaleDown, s.Now.Add(-5*min))
			return later(s, 0, load(4, 800, 800, 480000))
		}},
		{name: "lag-the-size-works-off-no-restart", snap: func(t testing.TB) *model.Snapshot {
			// Past the peak of a wave: production 50/s above the size, 160s behind (over half of tolerableLag,
			// where a scale-up used to start). At this deficit the lag reaches 238s by the time a scale-up could
			// help (160s, plus 6 % of production for the 5m wait, plus the restart's own minute): under
			// tolerableLag, so no restart yet.
			return later(steady(t, orders()), min, load(4, 850, 800, 850*160))
		}},
		{name: "lag-outgrowing-the-size-scales-up", snap: func(t testing.TB) *model.Snapshot {
			// 150/s above the size and 200s behind: 200s + 16 % of the 5m wait + the restart's minute = 307s,
			// over tolerableLag: the scale-up starts its wait.
			return later(steady(t, orders()), min, load(4, 950, 800, 950*200))
		}},
		{name: "critical-lag-max-at-once", desired: []string{"orders-0"}, snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders())
			m := builder.Sample(s.Now.Add(-5*time.Second)).Uniform(4, 800, 800, 0).Partition(0, 800, 800, 800*7200).Obj()
			return later(s, 0, m)
		}},
		{name: "backlog-without-production", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders())
			m := builder.Sample(s.Now.Add(-5*time.Second)).Uniform(4, 800, 800, 0).
				Partition(0, 0, 0, 3_600_000).Partition(1, 0, 500, 90_000).Obj()
			return later(s, min, m)
		}},
		{name: "no-metrics-keeps-resources", snap: func(t testing.TB) *model.Snapshot {
			return later(steady(t, orders()), min, nil)
		}},
		{name: "stale-metrics-keeps-resources", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders())
			return later(s, 10*min, builder.Sample(s.Now.Add(-time.Minute)).Uniform(4, 10, 10, 0).Obj())
		}},
		{name: "fetch-failed-keeps-resources", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders())
			m := builder.Sample(s.Now.Add(-time.Minute)).Uniform(4, 10, 10, 0).
				Error("query offset: Post \"http://prometheus:9090/api/v1/query\": connection refused").Obj()
			return later(s, 10*min, m)
		}},
		{name: "partial-metrics-busiest-partition", snap: func(t testing.TB) *model.Snapshot {
			c := orders().Partitions(6).PerInstance(3)
			m := builder.Sample(builder.Epoch.Add(-10*time.Second)).Partition(0, 900, 900, 0).Partition(1, 300, 300, 0).
				Problems("series without label partition: 1", "partition 17 out of range [0, 6)").Obj()
			return builder.Snapshot(c.Obj()).Metrics(m).Obj()
		}},
		{name: "new-instances-fallback-max", snap: func(t testing.TB) *model.Snapshot {
			return builder.Snapshot(orders().Fallback(konsumeratorv1.FallbackStrategyMax).Obj()).Obj()
		}},
		{name: "new-instances-fallback-min", snap: func(t testing.TB) *model.Snapshot {
			return builder.Snapshot(orders().Obj()).Obj()
		}},
		{name: "disable-autoscaler-on-owner", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders().Partitions(2))
			c := orders().Partitions(3).Annotation(konsumeratorv1.AnnotationDisableAutoscaler, "").Obj()
			s = withSpec(s, c)
			s.Owner = builder.OwnerOf(c)
			return later(s, min, load(3, 3000, 3000, 0))
		}},
		{name: "disable-autoscaler-on-instance", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders())
			s = edit(s, "orders-1", func(w *builder.DeploymentWrapper) *builder.DeploymentWrapper {
				return w.Annotation(konsumeratorv1.AnnotationDisableAutoscaler, "true")
			})
			s = later(s, min, load(4, 2500, 2500, 0))
			for _, n := range []string{"orders-0", "orders-1", "orders-2", "orders-3"} {
				s = setState(s, n, planner.StatePendingScaleUp, s.Now.Add(-6*min))
			}
			return s
		}},
		{name: "replicas-zero-pauses", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders())
			return later(withSpec(s, orders().Replicas(0).Obj()), 0, s.Metrics)
		}},
		{name: "grow-partitions", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders().Partitions(4).PerInstance(2))
			return later(withSpec(s, orders().Partitions(6).PerInstance(2).Obj()), 0, load(6, 800, 800, 0))
		}},
		{name: "shrink-instances-deletes-when-covered", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders().Partitions(6).PerInstance(1))
			s.Options.MaxRolloutsInFlight = 10
			return later(withSpec(s, orders().Partitions(6).PerInstance(3).Obj()), 0, load(6, 800, 800, 0))
		}},
		{name: "reassigned-instances-bypass-rollout-budget", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders().Partitions(6).PerInstance(1))
			return later(withSpec(s, orders().Partitions(6).PerInstance(3).Obj()), 0, load(6, 800, 800, 0))
		}},
		{name: "foreign-deployment-blocks-instance", snap: func(t testing.TB) *model.Snapshot {
			s := builder.Snapshot(orders().Obj()).Metrics(load(4, 800, 800, 0)).Obj()
			out := *s
			out.Deployments = append(out.Deployments, *builder.Deployment("orders-2").UID("someone-elses").Obj())
			return &out
		}},
		{name: "deleting-deployment-left-alone", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders())
			return edit(s, "orders-3", func(w *builder.DeploymentWrapper) *builder.DeploymentWrapper {
				return w.Deleting(metav1.NewTime(builder.Epoch.Add(-time.Minute)))
			})
		}},
		{name: "unexpected-controlled-deployment-deleted", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders())
			out := *s
			out.Deployments = append(out.Deployments, *builder.Deployment("orders-legacy").ControlledBy(s.Owner).
				Annotation(konsumeratorv1.AnnotationPartition, "0,1").Obj())
			return &out
		}},
		{name: "image-change-rollout-budget", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders().Partitions(20))
			return later(withSpec(s, orders().Partitions(20).Image("busybox:1.37").Obj()), 0, s.Metrics)
		}},
		{name: "rollout-budget-counts-in-flight", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders().Partitions(20))
			s.Options.MaxRolloutsInFlight = 3
			s = edit(s, "orders-5", func(w *builder.DeploymentWrapper) *builder.DeploymentWrapper { return w.RollingOut() })
			return later(withSpec(s, orders().Partitions(20).Image("busybox:1.37").Obj()), 0, s.Metrics)
		}},
		{name: "rollout-budget-more-in-flight-than-allowed", snap: func(t testing.TB) *model.Snapshot {
			// Two rollouts already under way against a budget of one: the held change must not read "2/1".
			s := steady(t, orders())
			s.Options.MaxRolloutsInFlight = 1
			for _, n := range []string{"orders-0", "orders-1"} {
				s = edit(s, n, func(w *builder.DeploymentWrapper) *builder.DeploymentWrapper { return w.RollingOut() })
			}
			return later(withSpec(s, orders().Image("busybox:1.37").Obj()), 0, s.Metrics)
		}},
		{name: "new-instances-no-policy-template-resources", snap: func(t testing.TB) *model.Snapshot {
			// No policy to fall back on: the note must name the template's resources, not "fallback min".
			c := builder.Consumer("plain").Partitions(2).Prometheus(1000, "1Gi").
				ContainerResources("busybox", res("cpu=250m,memory=64Mi"), res("cpu=1,memory=128Mi"))
			return builder.Snapshot(c.Obj()).Obj()
		}},
		{name: "no-policy-cpu-bounded", desired: []string{"plain-0"}, snap: func(t testing.TB) *model.Snapshot {
			// A huge backlog and no container policy: the request stops at the default ceiling of 8 cores.
			c := builder.Consumer("plain").Partitions(1).Prometheus(1000, "1Gi").
				ContainerResources("busybox", res("cpu=250m,memory=64Mi"), res("cpu=1,memory=128Mi"))
			return builder.Snapshot(c.Obj()).Metrics(load(1, 800, 800, 1e9)).Obj()
		}},
		{name: "mixed-direction-decrease-waits", desired: []string{"orders-0"}, snap: func(t testing.TB) *model.Snapshot {
			// ramPerCore halved while the load rises: CPU grows, memory shrinks. The scale-up is ripe; the memory
			// decrease must not ride on it but wait for pendingScaleDownDuration.
			s := steady(t, orders())
			s = withSpec(s, orders().Prometheus(1000, "256Mi").Obj())
			s = later(s, min, load(4, 1500, 1500, 0))
			return setState(s, "orders-0", planner.StatePendingScaleUp, s.Now.Add(-6*min))
		}},
		{name: "memory-only-decrease-ripens", snap: func(t testing.TB) *model.Snapshot {
			// ramPerCore halved, CPU unchanged: the memory decrease is a scale-down of its own, not held back by
			// the CPU margin of scale-downs.
			s := withSpec(steady(t, orders()), orders().Prometheus(1000, "512Mi").Obj())
			s = later(s, min, load(4, 800, 800, 0))
			return setState(s, "orders-0", planner.StatePendingScaleDown, s.Now.Add(-16*min))
		}},
		{name: "rollout-priority-critical-first", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders().Partitions(10))
			s = later(withSpec(s, orders().Partitions(10).Image("busybox:1.37").Obj()), 0, nil)
			m := builder.Sample(s.Now.Add(-5*time.Second)).Uniform(10, 800, 800, 0).
				Partition(7, 800, 800, 800*7200).Partition(8, 200, 200, 0).Partition(9, 2500, 2500, 0).Obj()
			s.Metrics = m
			s = setState(s, "orders-8", planner.StatePendingScaleDown, s.Now.Add(-20*min))
			return setState(s, "orders-9", planner.StatePendingScaleUp, s.Now.Add(-20*min))
		}},
		{name: "manual-edit-of-resources", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders())
			return edit(s, "orders-1", func(w *builder.DeploymentWrapper) *builder.DeploymentWrapper {
				return w.Request("busybox", "cpu", "300m")
			})
		}},
		{name: "manual-edit-of-env", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders())
			return edit(s, "orders-2", func(w *builder.DeploymentWrapper) *builder.DeploymentWrapper {
				return w.Env("busybox", "GOMAXPROCS", "16").Env("busybox", "KONSUMERATOR_PARTITION", "0,1,2,3")
			})
		}},
		{name: "template-resources-edit-is-drift", snap: func(t testing.TB) *model.Snapshot {
			c := orders().Container("sidecar", "envoy").PolicyOff("sidecar").
				ContainerResources("sidecar", res("cpu=50m,memory=32Mi"), res("memory=32Mi"))
			s := steady(t, c)
			c2 := orders().Container("sidecar", "envoy").PolicyOff("sidecar").
				ContainerResources("sidecar", res("cpu=50m,memory=64Mi"), res("memory=64Mi"))
			c2.Obj()
			s.Options.MaxRolloutsInFlight = 4
			return withSpec(s, c2.Obj())
		}},
		{name: "selector-change-recreates", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders().Partitions(2))
			s.Options.MaxRolloutsInFlight = 2
			return withSpec(s, orders().Partitions(2).TemplateLabel("app", "orders-v2", true).Obj())
		}},
		{name: "global-budget-shared", snap: func(t testing.TB) *model.Snapshot {
			c := orders().GlobalMax(res("cpu=6,memory=64Gi"))
			m := builder.Sample(builder.Epoch.Add(-10*time.Second)).Partition(0, 300, 300, 0).
				Partition(1, 1200, 1200, 0).Partition(2, 3000, 3000, 0).Partition(3, 3900, 3900, 0).Obj()
			return builder.Snapshot(c.Obj()).Metrics(m).Obj()
		}},
		{name: "global-budget-minimums-exceed", snap: func(t testing.TB) *model.Snapshot {
			c := orders().Policy("busybox", res("cpu=2,memory=1Gi"), res("cpu=4,memory=4Gi")).
				GlobalMax(res("cpu=6"))
			return builder.Snapshot(c.Obj()).Metrics(load(4, 3000, 3000, 0)).Obj()
		}},
		{name: "global-budget-equal-demands-equal-shares", snap: func(t testing.TB) *model.Snapshot {
			// Three instances at 300m want 500m each within 1 core: the first whose wait ends must not take 400m
			// and leave the others 300m.
			c := orders().Partitions(3).Policy("busybox", res("cpu=100m,memory=128Mi"), res("cpu=4,memory=4Gi")).
				GlobalMax(res("cpu=1"))
			s := settle(t, builder.Snapshot(c.Obj()).Metrics(load(3, 300, 300, 0)).Obj())
			s = later(s, min, load(3, 500, 500, 0))
			s = setState(s, "orders-0", planner.StatePendingScaleUp, s.Now.Add(-6*min))
			for _, n := range []string{"orders-1", "orders-2"} {
				s = setState(s, n, planner.StatePendingScaleUp, s.Now.Add(-2*min))
			}
			return s
		}},
		{name: "global-budget-lowered-is-enforced", snap: func(t testing.TB) *model.Snapshot {
			// Four instances at 800m each (3.2 cores); the budget is lowered to 2 cores: the instances come down to
			// their fair share, largest first, paced by the rollout budget.
			s := steady(t, orders())
			s.Options.MaxRolloutsInFlight = 2
			return later(withSpec(s, orders().GlobalMax(res("cpu=2")).Obj()), min,
				builder.Sample(s.Now.Add(min-5*time.Second)).Uniform(4, 800, 800, 0).Obj())
		}},
		{name: "pinned-sidecar-does-not-block", desired: []string{"orders-0"}, snap: func(t testing.TB) *model.Snapshot {
			c := orders().Container("sidecar", "envoy").
				Policy("sidecar", res("cpu=100m,memory=100M"), res("cpu=100m,memory=100M"))
			s := later(steady(t, c), min, load(4, 2500, 2500, 0))
			return setState(s, "orders-0", planner.StatePendingScaleUp, s.Now.Add(-6*min))
		}},
		{name: "mode-off-keeps-template-resources", desired: []string{"orders-0"}, snap: func(t testing.TB) *model.Snapshot {
			c := orders().Partitions(1).Container("sidecar", "envoy").PolicyOff("sidecar").
				ContainerResources("sidecar", res("cpu=50m"), nil)
			return builder.Snapshot(c.Obj()).Metrics(load(1, 800, 800, 0)).Obj()
		}},
		{name: "conditions-pass-through-and-keep-transition-time", snap: func(t testing.TB) *model.Snapshot {
			s := steady(t, orders())
			s.Status.Conditions = append(s.Status.Conditions, metav1.Condition{Type: konsumeratorv1.ConditionConflicts,
				Status: metav1.ConditionTrue, Reason: "FieldManagerConflict", Message: "kubectl owns replicas",
				LastTransitionTime: metav1.NewTime(builder.Epoch.Add(-time.Hour))})
			return later(s, 5*min, builder.Sample(s.Now.Add(5*min-5*time.Second)).Uniform(4, 800, 800, 0).Obj())
		}},
		{name: "garbage-scaling-annotations", snap: func(t testing.TB) *model.Snapshot {
			s := later(steady(t, orders()), min, load(4, 2500, 2500, 0))
			s = edit(s, "orders-0", func(w *builder.DeploymentWrapper) *builder.DeploymentWrapper {
				return w.Annotation(konsumeratorv1.AnnotationScalingStatus, "SCALING_SIDEWAYS")
			})
			s = edit(s, "orders-1", func(w *builder.DeploymentWrapper) *builder.DeploymentWrapper {
				return w.Annotation(konsumeratorv1.AnnotationScalingStatus, string(planner.StatePendingScaleUp)).
					Annotation(konsumeratorv1.AnnotationScalingStatusChange, "yesterday")
			})
			return edit(s, "orders-2", func(w *builder.DeploymentWrapper) *builder.DeploymentWrapper {
				return w.Annotation(konsumeratorv1.AnnotationScalingStatus, string(planner.StatePendingScaleUp)).
					Annotation(konsumeratorv1.AnnotationScalingStatusChange, "2999-01-01T00:00:00Z")
			})
		}},
		{name: "adopt-original-konsumerator-deployment", snap: func(t testing.TB) *model.Snapshot {
			s := builder.Snapshot(orders().Partitions(1).Obj()).Metrics(load(1, 800, 800, 0)).Obj()
			out := *s
			d := builder.Deployment("orders-0").ControlledBy(s.Owner).Selects("app", "orders").
				Annotation(konsumeratorv1.AnnotationPartition, "0").
				Resources("busybox", res("cpu=800m,memory=1Gi"), res("cpu=1,memory=1Gi")).Available().Obj()
			out.Deployments = append(out.Deployments, *d)
			return &out
		}},
	}
	list = append(list, inPlaceScenarios()...)
	return append(list, healthScenarios()...)
}

func TestGolden(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			s := sc.snap(t)
			p := planner.Plan(s)
			golden.Assert(t, render(t, p, sc.desired...), "../../testdata/planner/"+sc.name+".golden")
		})
	}
}

// TestScenariosConverge carries every scenario's plan out, again and again with rollouts finishing in between,
// and expects a pass that writes nothing within a bounded number of passes, every plan deterministic.
func TestScenariosConverge(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			s := sc.snap(t)
			for pass := 0; ; pass++ {
				p := planner.Plan(s)
				again := planner.Plan(s)
				if planner.Text(p) != planner.Text(again) {
					t.Fatal("two plans of one snapshot differ")
				}
				if !p.Changed() {
					return
				}
				if pass > len(p.Actions)+5 {
					t.Fatalf("still writing after %d passes:\n%s", pass, planner.Text(p))
				}
				s = available(planner.Apply(s, p))
			}
		})
	}
}
