// Package builder has fluent builders of Consumers, Deployments, metrics samples and snapshots for tests:
//
//	c := builder.Consumer("c").Partitions(12).PerInstance(5).
//		Prometheus(1000, "1Gi").
//		Policy("busybox", builder.Resources("cpu=100m,memory=100M"), builder.Resources("cpu=2,memory=1G")).
//		Obj()
//
// Every builder starts from a small valid object, each method changes one thing and returns the builder, and
// Obj returns a deep copy, so a builder can be reused for variants. Only the API types and the model are
// imported: envtest suites can use the builders as well.
package builder

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// DefaultNamespace is the namespace builders use unless told otherwise.
const DefaultNamespace = "default"

// ConsumerWrapper builds a Consumer.
type ConsumerWrapper struct{ c konsumeratorv1.Consumer }

// Consumer starts a valid Consumer named name in DefaultNamespace: one partition, instances named after it, and
// a template with one container "busybox" selected by app=name. It has no autoscaler until Prometheus is called.
func Consumer(name string) *ConsumerWrapper {
	replicas := int32(1)
	return &ConsumerWrapper{c: konsumeratorv1.Consumer{
		TypeMeta: metav1.TypeMeta{APIVersion: konsumeratorv1.GroupVersion.String(), Kind: "Consumer"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: DefaultNamespace, UID: types.UID("uid-" + name),
			Generation: 1},
		Spec: konsumeratorv1.ConsumerSpec{
			NumPartitions: 1,
			Name:          name,
			DeploymentTemplate: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{
						Name:  "busybox",
						Image: "busybox",
						Env:   []corev1.EnvVar{{Name: "TEST_KEY", Value: "test-value"}},
					}}},
				},
			},
		},
	}}
}

// Obj returns a deep copy of the Consumer.
func (w *ConsumerWrapper) Obj() *konsumeratorv1.Consumer { return w.c.DeepCopy() }

// Namespace sets the Consumer's namespace.
func (w *ConsumerWrapper) Namespace(ns string) *ConsumerWrapper { w.c.Namespace = ns; return w }

// UID sets the Consumer's UID (default "uid-<name>").
func (w *ConsumerWrapper) UID(uid string) *ConsumerWrapper { w.c.UID = types.UID(uid); return w }

// Generation sets metadata.generation.
func (w *ConsumerWrapper) Generation(g int64) *ConsumerWrapper { w.c.Generation = g; return w }

// Annotation sets an annotation on the Consumer, e.g. konsumeratorv1.AnnotationDisableAutoscaler.
func (w *ConsumerWrapper) Annotation(k, v string) *ConsumerWrapper {
	if w.c.Annotations == nil {
		w.c.Annotations = map[string]string{}
	}
	w.c.Annotations[k] = v
	return w
}

// Partitions sets spec.numPartitions.
func (w *ConsumerWrapper) Partitions(n int32) *ConsumerWrapper { w.c.Spec.NumPartitions = n; return w }

// PerInstance sets spec.numPartitionsPerInstance.
func (w *ConsumerWrapper) PerInstance(k int32) *ConsumerWrapper {
	w.c.Spec.NumPartitionsPerInstance = &k
	return w
}

// InstancePrefix sets spec.name, the prefix of the instance names.
func (w *ConsumerWrapper) InstancePrefix(name string) *ConsumerWrapper {
	w.c.Spec.Name = name
	return w
}

// SpecNamespace sets spec.namespace.
func (w *ConsumerWrapper) SpecNamespace(ns string) *ConsumerWrapper {
	w.c.Spec.Namespace = ns
	return w
}

// PartitionEnvKey sets spec.partitionEnvKey.
func (w *ConsumerWrapper) PartitionEnvKey(k string) *ConsumerWrapper {
	w.c.Spec.PartitionEnvKey = k
	return w
}

// Replicas sets the template's replicas.
func (w *ConsumerWrapper) Replicas(n int32) *ConsumerWrapper {
	w.c.Spec.DeploymentTemplate.Replicas = &n
	return w
}

// Image sets the image of every container of the template.
func (w *ConsumerWrapper) Image(image string) *ConsumerWrapper {
	for i := range w.c.Spec.DeploymentTemplate.Template.Spec.Containers {
		w.c.Spec.DeploymentTemplate.Template.Spec.Containers[i].Image = image
	}
	return w
}

// Container adds a container to the template (or replaces the one of that name).
func (w *ConsumerWrapper) Container(name, image string) *ConsumerWrapper {
	cs := &w.c.Spec.DeploymentTemplate.Template.Spec.Containers
	for i := range *cs {
		if (*cs)[i].Name == name {
			(*cs)[i].Image = image
			return w
		}
	}
	*cs = append(*cs, corev1.Container{Name: name, Image: image})
	return w
}

// ContainerEnv adds an env var to a container of the template.
func (w *ConsumerWrapper) ContainerEnv(container, name, value string) *ConsumerWrapper {
	if c := w.container(container); c != nil {
		c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
	}
	return w
}

// ContainerResources sets a template container's requests and limits (nil for none).
func (w *ConsumerWrapper) ContainerResources(container string, requests, limits corev1.ResourceList) *ConsumerWrapper {
	if c := w.container(container); c != nil {
		c.Resources = corev1.ResourceRequirements{Requests: requests, Limits: limits}
	}
	return w
}

func (w *ConsumerWrapper) container(name string) *corev1.Container {
	cs := w.c.Spec.DeploymentTemplate.Template.Spec.Containers
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// TemplateLabel sets a label on the pod template (and, with selector true, in the selector's matchLabels).
func (w *ConsumerWrapper) TemplateLabel(k, v string, selector bool) *ConsumerWrapper {
	t := &w.c.Spec.DeploymentTemplate
	if t.Template.Labels == nil {
		t.Template.Labels = map[string]string{}
	}
	t.Template.Labels[k] = v
	if selector {
		if t.Selector == nil {
			t.Selector = &metav1.LabelSelector{}
		}
		if t.Selector.MatchLabels == nil {
			t.Selector.MatchLabels = map[string]string{}
		}
		t.Selector.MatchLabels[k] = v
	}
	return w
}

// Prometheus turns the Prometheus autoscaler on with the given ratePerCore and ramPerCore, one address, the
// queries of the sample manifest, tolerableLag 5m, criticalLag 60m and recoveryTime 30m. Durations left unset
// (pending scale up/down, minSyncPeriod, cpuIncrement, fallback) take the API defaults in the planner.
func (w *ConsumerWrapper) Prometheus(ratePerCore int64, ramPerCore string) *ConsumerWrapper {
	q := func(s string) konsumeratorv1.PrometheusQuery {
		return konsumeratorv1.PrometheusQuery{Query: s, PartitionLabel: "partition"}
	}
	w.c.Spec.Autoscaler = &konsumeratorv1.AutoscalerSpec{
		Mode: konsumeratorv1.AutoscalerTypePrometheus,
		// Most scenarios were written for resizes that restart; InPlace opts in to the API's default.
		UpdateMode: konsumeratorv1.UpdateRestart,
		Prometheus: &konsumeratorv1.PrometheusAutoscalerSpec{
			Address:     []string{"http://prometheus.monitoring.svc:9090"},
			Offset:      q("max(production_offset) by (partition) - max(consumption_offset) by (partition)"),
			Production:  q("sum(rate(production_offset[2m])) by (partition)"),
			Consumption: q("sum(rate(consumption_offset[2m])) by (partition)"),
			SizingSettings: konsumeratorv1.SizingSettings{
				RatePerCore:  &ratePerCore,
				RamPerCore:   resource.MustParse(ramPerCore),
				TolerableLag: &metav1.Duration{Duration: 5 * time.Minute},
				CriticalLag:  &metav1.Duration{Duration: 60 * time.Minute},
				RecoveryTime: &metav1.Duration{Duration: 30 * time.Minute},
			},
		},
	}
	return w
}

func (w *ConsumerWrapper) prom() *konsumeratorv1.PrometheusAutoscalerSpec {
	if w.c.Spec.Autoscaler == nil || w.c.Spec.Autoscaler.Prometheus == nil {
		w.Prometheus(1000, "1Gi")
	}
	return w.c.Spec.Autoscaler.Prometheus
}

// PendingScaleUp sets autoscaler.pendingScaleUpDuration.
func (w *ConsumerWrapper) PendingScaleUp(d time.Duration) *ConsumerWrapper {
	w.prom()
	w.c.Spec.Autoscaler.PendingScaleUpDuration = &metav1.Duration{Duration: d}
	return w
}

// PendingScaleDown sets autoscaler.pendingScaleDownDuration.
func (w *ConsumerWrapper) PendingScaleDown(d time.Duration) *ConsumerWrapper {
	w.prom()
	w.c.Spec.Autoscaler.PendingScaleDownDuration = &metav1.Duration{Duration: d}
	return w
}

// Lags sets tolerableLag, criticalLag and recoveryTime.
func (w *ConsumerWrapper) Lags(tolerable, critical, recovery time.Duration) *ConsumerWrapper {
	p := w.prom()
	p.TolerableLag = &metav1.Duration{Duration: tolerable}
	p.CriticalLag = &metav1.Duration{Duration: critical}
	p.RecoveryTime = &metav1.Duration{Duration: recovery}
	return w
}

// MinSyncPeriod sets prometheus.minSyncPeriod.
func (w *ConsumerWrapper) MinSyncPeriod(d time.Duration) *ConsumerWrapper {
	w.prom().MinSyncPeriod = &metav1.Duration{Duration: d}
	return w
}

// CPUIncrement sets prometheus.cpuIncrement.
func (w *ConsumerWrapper) CPUIncrement(q string) *ConsumerWrapper {
	v := resource.MustParse(q)
	w.prom().CpuIncrement = &v
	return w
}

// Fallback sets prometheus.fallbackStrategy.
func (w *ConsumerWrapper) Fallback(f konsumeratorv1.FallbackStrategy) *ConsumerWrapper {
	w.prom().FallbackStrategy = &f
	return w
}

// Policy sets the container policy of a container (mode Auto); nil lists mean no bound.
func (w *ConsumerWrapper) Policy(container string, min, max corev1.ResourceList) *ConsumerWrapper {
	return w.policy(konsumeratorv1.ContainerResourcePolicy{ContainerName: container, MinAllowed: min, MaxAllowed: max})
}

// PolicyOff sets mode Off for a container: its template resources are kept exactly.
func (w *ConsumerWrapper) PolicyOff(container string) *ConsumerWrapper {
	off := konsumeratorv1.ContainerScalingModeOff
	return w.policy(konsumeratorv1.ContainerResourcePolicy{ContainerName: container, Mode: &off})
}

func (w *ConsumerWrapper) policy(p konsumeratorv1.ContainerResourcePolicy) *ConsumerWrapper {
	if w.c.Spec.ResourcePolicy == nil {
		w.c.Spec.ResourcePolicy = &konsumeratorv1.ResourcePolicy{}
	}
	ps := &w.c.Spec.ResourcePolicy.ContainerPolicies
	for i := range *ps {
		if (*ps)[i].ContainerName == p.ContainerName {
			(*ps)[i] = p
			return w
		}
	}
	*ps = append(*ps, p)
	return w
}

// GlobalMax sets resourcePolicy.globalPolicy.maxAllowed.
func (w *ConsumerWrapper) GlobalMax(max corev1.ResourceList) *ConsumerWrapper {
	if w.c.Spec.ResourcePolicy == nil {
		w.c.Spec.ResourcePolicy = &konsumeratorv1.ResourcePolicy{}
	}
	w.c.Spec.ResourcePolicy.GlobalPolicy = &konsumeratorv1.GlobalResourcePolicy{MaxAllowed: max}
	return w
}

// Resources parses "cpu=100m,memory=1Gi" into a ResourceList; it panics on a malformed list, as tests want.
func Resources(s string) corev1.ResourceList {
	out := corev1.ResourceList{}
	if strings.TrimSpace(s) == "" {
		return out
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			panic(fmt.Sprintf("builder.Resources: %q is not name=quantity", kv))
		}
		out[corev1.ResourceName(k)] = resource.MustParse(v)
	}
	return out
}

// InPlace sets autoscaler.updateMode InPlace (the API's default): resizes reach running pods through
// pods/resize. Call it after Prometheus.
func (w *ConsumerWrapper) InPlace() *ConsumerWrapper {
	if w.c.Spec.Autoscaler != nil {
		w.c.Spec.Autoscaler.UpdateMode = konsumeratorv1.UpdateInPlace
	}
	return w
}

// Kafka switches the autoscaler to the Kafka source, keeping the sizing settings and minSyncPeriod set so far
// (call it last).
func (w *ConsumerWrapper) Kafka(brokers []string, topic, group string) *ConsumerWrapper {
	p := w.prom()
	w.c.Spec.Autoscaler.Mode = konsumeratorv1.AutoscalerTypeKafka
	w.c.Spec.Autoscaler.Kafka = &konsumeratorv1.KafkaAutoscalerSpec{
		Brokers: brokers, Topic: topic, ConsumerGroup: group,
		MinSyncPeriod: p.MinSyncPeriod, SizingSettings: p.SizingSettings,
	}
	w.c.Spec.Autoscaler.Prometheus = nil
	return w
}
