package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/testenv"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/planner"
)

// cluster is the control plane the bench measures against, with clients that the client-side rate limiter
// never slows down: the bench must not be the bottleneck it measures.
type cluster struct {
	env        *testenv.Env
	client     client.Client
	clientset  *kubernetes.Clientset
	kubeconfig string
}

func startCluster(dir string) (*cluster, error) {
	env, err := testenv.Start()
	if err != nil {
		return nil, err
	}
	c := &cluster{env: env}
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = -1, 0
	if c.client, err = client.New(cfg, client.Options{Scheme: env.Scheme}); err != nil {
		_ = env.Stop()
		return nil, err
	}
	if c.clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		_ = env.Stop()
		return nil, err
	}
	// The operator runs as a separate process and needs a kubeconfig; system:masters may also read /metrics.
	user, err := env.Environment.AddUser(envtest.User{Name: "konsumerator-bench", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("adding the operator's user: %w", err)
	}
	raw, err := user.KubeConfig()
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("writing the operator's kubeconfig: %w", err)
	}
	c.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(c.kubeconfig, raw, 0o600); err != nil {
		_ = env.Stop()
		return nil, err
	}
	return c, nil
}

func (c *cluster) stop() error { return c.env.Stop() }

// writes reads the API server's request counters.
func (c *cluster) writes(ctx context.Context) (writeCounts, error) {
	raw, err := c.clientset.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the API server's /metrics: %w", err)
	}
	samples, err := parseText(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing the API server's /metrics: %w", err)
	}
	return apiserverWrites(samples), nil
}

func (c *cluster) createNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// clear deletes every Deployment and Consumer of a namespace. The control plane has no garbage collector, so
// instances of earlier runs would otherwise stay in the operator's cache and in the next run's figures.
func (c *cluster) clear(ctx context.Context, namespace string) error {
	if err := c.client.DeleteAllOf(ctx, &konsumeratorv1.Consumer{}, client.InNamespace(namespace)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting the Consumers of %s: %w", namespace, err)
	}
	if err := c.client.DeleteAllOf(ctx, &appsv1.Deployment{}, client.InNamespace(namespace)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting the Deployments of %s: %w", namespace, err)
	}
	return nil
}

// unrelatedNamespace holds the Deployments that have nothing to do with the operator.
const unrelatedNamespace = "unrelated"

// ensureUnrelated makes sure that at least n Deployments without the operator's labels exist, created
// concurrently so that setting them up takes seconds.
func (c *cluster) ensureUnrelated(ctx context.Context, n int) error {
	if err := c.createNamespace(ctx, unrelatedNamespace); err != nil {
		return err
	}
	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("DeploymentList"))
	if err := c.client.List(ctx, &list, client.InNamespace(unrelatedNamespace)); err != nil {
		return err
	}
	have := len(list.Items)
	if have >= n {
		return nil
	}
	var failed atomic.Value
	forEach(ctx, 32, n-have, func(i int) {
		name := fmt.Sprintf("unrelated-%05d", have+i)
		labels := map[string]string{"app": name}
		replicas := int32(1)
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: unrelatedNamespace, Name: name, Labels: labels},
			Spec: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{
						Name: "app", Image: "registry.example/app:1",
						Env: []corev1.EnvVar{{Name: "ROLE", Value: "unrelated"}},
					}}},
				},
			},
		}
		if err := c.client.Create(ctx, d); err != nil && !apierrors.IsAlreadyExists(err) {
			failed.CompareAndSwap(nil, err)
		}
	})
	if err, _ := failed.Load().(error); err != nil {
		return fmt.Errorf("creating unrelated Deployments: %w", err)
	}
	return nil
}

// forEach calls f(0..n-1) from workers goroutines.
func forEach(ctx context.Context, workers, n int, f func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
}

// benchConsumer is the Consumer the operator reconciles: n partitions, one per instance, and no autoscaler, so
// that the plan is create-only and does not depend on metrics.
func benchConsumer(namespace string, n int) *konsumeratorv1.Consumer {
	replicas := int32(1)
	perInstance := int32(1)
	labels := map[string]string{"app": "bench"}
	return &konsumeratorv1.Consumer{
		TypeMeta:   metav1.TypeMeta{APIVersion: konsumeratorv1.GroupVersion.String(), Kind: "Consumer"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "bench"},
		Spec: konsumeratorv1.ConsumerSpec{
			NumPartitions:            int32(n),
			NumPartitionsPerInstance: &perInstance,
			Name:                     "bench",
			DeploymentTemplate: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{
						Name: "consumer", Image: "registry.example/consumer:1",
						Env: []corev1.EnvVar{{Name: "KAFKA_TOPIC", Value: "events"}},
					}}},
				},
			},
		},
	}
}

// desiredInstances is what the planner wants for a Consumer with no instances yet, by name.
func desiredInstances(consumer *konsumeratorv1.Consumer) (map[string]*appsv1.Deployment, *model.Plan, error) {
	s := &model.Snapshot{
		Now: time.Now().UTC(),
		Owner: model.Owner{
			APIVersion: konsumeratorv1.GroupVersion.String(), Kind: model.OwnerConsumer,
			Namespace: consumer.Namespace, Name: consumer.Name, UID: consumer.UID, Generation: consumer.Generation,
		},
		Spec: *consumer.Spec.DeepCopy(),
	}
	p := planner.Plan(s)
	out := map[string]*appsv1.Deployment{}
	for _, a := range p.Actions {
		if a.Kind != model.ActionCreate || a.Desired == nil {
			continue
		}
		raw, err := json.Marshal(a.Desired)
		if err != nil {
			return nil, nil, err
		}
		var d appsv1.Deployment
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, nil, err
		}
		out[d.Name] = &d
	}
	if len(out) != int(consumer.Spec.NumPartitions) {
		return nil, nil, fmt.Errorf("the planner wants %d creates for %d partitions (conditions: %+v)",
			len(out), consumer.Spec.NumPartitions, p.Status.Conditions)
	}
	return out, &p, nil
}

// hasDesiredSpec reports whether an observed instance carries what the planner wants: the controller reference,
// labels, annotations, replicas and every container's image, env and resources. Defaults the API server adds
// are ignored, and so is the time the scaling status last changed, which is when the operator planned it.
func hasDesiredSpec(observed, desired *appsv1.Deployment) bool {
	ref := metav1.GetControllerOfNoCopy(observed)
	want := metav1.GetControllerOfNoCopy(desired)
	if ref == nil || want == nil || ref.UID != want.UID {
		return false
	}
	annotations := maps.Clone(desired.Annotations)
	delete(annotations, konsumeratorv1.AnnotationScalingStatusChange)
	if !subset(desired.Labels, observed.Labels) || !subset(annotations, observed.Annotations) ||
		!subset(desired.Spec.Template.Labels, observed.Spec.Template.Labels) {
		return false
	}
	if desired.Spec.Replicas != nil && (observed.Spec.Replicas == nil || *observed.Spec.Replicas != *desired.Spec.Replicas) {
		return false
	}
	containers := map[string]corev1.Container{}
	for _, c := range observed.Spec.Template.Spec.Containers {
		containers[c.Name] = c
	}
	for _, d := range desired.Spec.Template.Spec.Containers {
		o, ok := containers[d.Name]
		if !ok || o.Image != d.Image || !equality.Semantic.DeepEqual(o.Env, d.Env) ||
			!equality.Semantic.DeepEqual(o.Resources, d.Resources) {
			return false
		}
	}
	return true
}

func subset(want, have map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// convergence watches the instances of a namespace and closes done when every desired instance has been seen
// with its desired spec.
type convergence struct {
	done chan struct{}
	at   time.Time
	err  error
}

// watchConvergence starts watching before the Consumer is created, so that no event is missed.
func (c *cluster) watchConvergence(ctx context.Context, namespace string, want func() map[string]*appsv1.Deployment) (*convergence, error) {
	w, err := c.clientset.AppsV1().Deployments(namespace).Watch(ctx, metav1.ListOptions{
		LabelSelector: konsumeratorv1.LabelConsumer, AllowWatchBookmarks: false,
	})
	if err != nil {
		return nil, fmt.Errorf("watching Deployments of %s: %w", namespace, err)
	}
	cv := &convergence{done: make(chan struct{})}
	go func() {
		defer w.Stop()
		defer close(cv.done)
		good := map[string]bool{}
		var desired map[string]*appsv1.Deployment
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				cv.err = apierrors.FromObject(ev.Object)
				return
			}
			d, ok := ev.Object.(*appsv1.Deployment)
			if !ok {
				continue
			}
			if desired == nil {
				// Known only once the Consumer exists (it carries the owner's UID), which is before any instance.
				desired = want()
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				good[d.Name] = desired[d.Name] != nil && hasDesiredSpec(d, desired[d.Name])
			case watch.Deleted:
				delete(good, d.Name)
			}
			if len(good) == len(desired) && allTrue(good) {
				cv.at = time.Now()
				return
			}
		}
		cv.err = fmt.Errorf("the watch of %s ended before the instances converged: %w", namespace, ctx.Err())
	}()
	return cv, nil
}

func allTrue(m map[string]bool) bool {
	for _, v := range m {
		if !v {
			return false
		}
	}
	return true
}

// baseline applies n instances from a bare client with workers in flight: the figure the operator is compared
// to. The objects are the ones the planner produces for the same Consumer, so both send the same bytes.
func (c *cluster) baseline(ctx context.Context, namespace string, n, workers int) (time.Duration, error) {
	consumer := benchConsumer(namespace, n)
	consumer.UID = "00000000-0000-0000-0000-00000000b001"
	_, plan, err := desiredInstances(consumer)
	if err != nil {
		return 0, err
	}
	var applies []*model.Action
	for i := range plan.Actions {
		if plan.Actions[i].Kind == model.ActionCreate {
			applies = append(applies, &plan.Actions[i])
		}
	}
	var failed atomic.Value
	start := time.Now()
	forEach(ctx, workers, len(applies), func(i int) {
		err := c.client.Apply(ctx, &detached{applies[i].Desired}, client.FieldOwner("bench-baseline"), client.ForceOwnership)
		if err != nil {
			failed.CompareAndSwap(nil, err)
		}
	})
	took := time.Since(start)
	if err, _ := failed.Load().(error); err != nil {
		return 0, fmt.Errorf("baseline apply: %w", err)
	}
	return took, nil
}

// detached sends a planner's desired object as it is but keeps the API server's answer out of it, as the
// applier does: the client decodes the answer of an apply into the object it was given, and the planner's
// objects share parts with one another, so concurrent answers would write into the same maps.
type detached struct {
	*appsv1ac.DeploymentApplyConfiguration
}

func (d *detached) MarshalJSON() ([]byte, error) { return json.Marshal(d.DeploymentApplyConfiguration) }

// UnmarshalJSON drops the answer.
func (d *detached) UnmarshalJSON([]byte) error { return nil }

// describeInstances says how far the instances of a namespace are from the desired ones, for a run that did
// not converge.
func (c *cluster) describeInstances(ctx context.Context, namespace string, desired map[string]*appsv1.Deployment) string {
	var list appsv1.DeploymentList
	if err := c.client.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return err.Error()
	}
	good, firstBad := 0, ""
	for i := range list.Items {
		d := &list.Items[i]
		if want := desired[d.Name]; want != nil && hasDesiredSpec(d, want) {
			good++
		} else if firstBad == "" {
			raw, _ := json.Marshal(d)
			wantRaw, _ := json.Marshal(want)
			firstBad = fmt.Sprintf("; first not as planned: %s\nwanted: %s", raw, wantRaw)
		}
	}
	return fmt.Sprintf("%d of %d instances exist, %d as planned%s", len(list.Items), len(desired), good, firstBad)
}
