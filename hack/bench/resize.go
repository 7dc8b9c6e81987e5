package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// prepareWorkers is how many requests at once the bench sends while it plays the controllers and the kubelet.
const prepareWorkers = 8

// resizeResult is what one run of the resize scenario measured.
type resizeResult struct {
	// baseline is the bare client's N resizes; records its N applies of the Deployments with the new decision
	// recorded, the write the operator makes after it resizes.
	baseline, records, resize time.Duration
	// The operator's phases, from the policy patch: when the watches saw the first and the last Deployment with
	// the new decision recorded, and the first and the last pod with its new resources.
	firstRecord, lastRecord, firstResize time.Duration
	// writes are the API server's writes from the policy patch until the operator was idle again, the bench's
	// own patch of the Consumer left out.
	writes writeCounts
	// settleWrites are the operator's writes once the kubelet has reported every resize done: nothing is left
	// to do then.
	settleWrites writeCounts
	// pods is how many pods were there to resize; resized how many of them ended at the new size.
	pods, resized int
	// recorded counts the instance Deployments whose resources annotation changed.
	recorded int
	// templateChanges counts instance Deployments whose pod template changed (a template change rolls the pods).
	// Not the generation: a Deployment's generation also moves when only its annotations change.
	templateChanges int
	// restarts counts pods replaced (a pod UID gone) plus container restarts reported.
	restarts int
	// The operator's peak RSS and CPU time: started (caches synced, nothing to do), once the instances exist
	// (before any pod), once every instance has its running pod, and at the end; then, idle with everything in
	// its cache, its RSS, its Go heap in use and the heap the last garbage collection left (GOGC=100 sets the
	// next collection at twice that).
	startUsage, instancesUsage, podsUsage, endUsage usage
	rssEnd, heapEnd, liveHeapEnd                    float64
	// fileRSSEnd is the part of rssEnd mapped from the operator's executable.
	fileRSSEnd float64
}

func (r resizeResult) resizeWrites() float64     { return r.writes.of("pods/resize") }
func (r resizeResult) deploymentWrites() float64 { return r.writes.of("deployments") }

// otherWrites are the writes of the decision that are neither resizes, nor instance, status or Event writes.
func (r resizeResult) otherWrites() float64 {
	// The API server renews its own Lease now and then; the operator runs without leader election.
	known := r.writes.of("pods/resize") + r.writes.of("deployments") + r.writes.of("consumers/status") +
		r.writes.of("events") + r.writes.of("leases")
	return r.writes.total() - known
}

func (r resizeResult) String() string {
	return fmt.Sprintf("baseline %.2fs (records %.2fs more), resized in %.2fs (%.2fx; %.2fx of both); "+
		"records seen %.2f-%.2fs, resizes %.2f-%.2fs; %d of %d pods resized, %d records; writes: %s; "+
		"template changes %d, restarts %d; after the kubelet: %s; %s",
		r.baseline.Seconds(), r.records.Seconds(), r.resize.Seconds(), r.ratio(), r.ratioWithRecords(),
		r.firstRecord.Seconds(), r.lastRecord.Seconds(), r.firstResize.Seconds(), r.resize.Seconds(),
		r.resized, r.pods, r.recorded, r.writes,
		r.templateChanges, r.restarts, orNone(r.settleWrites), r.usageText())
}

func (r resizeResult) usageText() string {
	return fmt.Sprintf("peak RSS %s MiB (%s started, %s with the instances, %s with their pods), CPU %.2fs (%.2fs with "+
		"the instances, %.2fs with their pods); idle at the end: RSS %s MiB, Go heap in use %s MiB, left by the last GC %s MiB",
		mib(float64(r.endUsage.peakRSS)), mib(float64(r.startUsage.peakRSS)), mib(float64(r.instancesUsage.peakRSS)),
		mib(float64(r.podsUsage.peakRSS)), r.endUsage.cpu, r.instancesUsage.cpu, r.podsUsage.cpu, mib(r.rssEnd),
		mib(r.heapEnd), mib(r.liveHeapEnd))
}

func (r resizeResult) ratio() float64 { return r.resize.Seconds() / r.baseline.Seconds() }

// ratioWithRecords compares with a bare client that also makes the operator's other write per instance.
func (r resizeResult) ratioWithRecords() float64 {
	return r.resize.Seconds() / (r.baseline.Seconds() + r.records.Seconds())
}

func orNone(w writeCounts) string {
	if len(w) == 0 {
		return "no writes"
	}
	return w.String()
}

// measureResize does one run of the resize scenario: the baseline, then the operator resizing every instance's
// pod after one decision.
func measureResize(ctx context.Context, c *cluster, bin, dir string, o options, n, run int) (res resizeResult, err error) {
	minAfter := resource.MustParse(resizeMinCPUAfter)

	// Baseline: the same resizes from a bare client, to pods prepared like the instances' pods; then the same
	// records on Deployments prepared like the instances.
	baselineNS := fmt.Sprintf("resize-baseline-n%d-r%d", n, run)
	if err := c.createNamespace(ctx, baselineNS); err != nil {
		return res, err
	}
	t := time.Now()
	b, err := c.prepareResizeBaseline(ctx, baselineNS, n)
	if err != nil {
		return res, err
	}
	progress("resize N=%d run %d: %d Deployments and running pods for the baseline in %s", n, run, len(b.pods), since(t))
	if res.baseline, err = c.resizeBaseline(ctx, b.pods, minAfter, o.baselineWorkers); err != nil {
		return res, err
	}
	if res.records, err = c.recordBaseline(ctx, b.deployments, minAfter, o.baselineWorkers); err != nil {
		return res, err
	}
	if err := c.clearResize(ctx, baselineNS); err != nil {
		return res, err
	}

	ns := fmt.Sprintf("resize-n%d-r%d", n, run)
	if err := c.createNamespace(ctx, ns); err != nil {
		return res, err
	}
	defer func() {
		if clearErr := c.clearResize(ctx, ns); clearErr != nil && err == nil {
			err = clearErr
		}
	}()
	op, err := startOperator(ctx, bin, c.kubeconfig, resizeLogPath(dir, n, run), o.operatorArgs, o.operatorEnv)
	if err != nil {
		return res, err
	}
	defer op.stop()
	if res.startUsage, err = op.usage(); err != nil {
		return res, err
	}

	consumer := resizeConsumer(ns, n, resizeMinCPUBefore)
	if err := c.client.Create(ctx, consumer); err != nil {
		return res, fmt.Errorf("creating the Consumer: %w", err)
	}
	t = time.Now()
	deployments, err := c.waitInstances(ctx, op, ns, consumer.Name, n, o.convergeTimeout)
	if err != nil {
		return res, err
	}
	progress("resize N=%d run %d: %d instances made by the operator in %s", n, run, len(deployments), since(t))
	if res.instancesUsage, err = op.usage(); err != nil {
		return res, err
	}
	t = time.Now()
	if err := c.runInstancePods(ctx, deployments); err != nil {
		return res, err
	}
	reconciles, err := op.waitIdle(ctx, 1, 2*time.Second, 2*time.Minute)
	if err != nil {
		return res, err
	}
	progress("resize N=%d run %d: a ReplicaSet and a running pod per instance, operator idle, in %s (%g reconciles so far)",
		n, run, since(t), reconciles)
	if res.podsUsage, err = op.usage(); err != nil {
		return res, err
	}

	// The decision: from the policy patch until every pod's spec has the new resources.
	before, err := c.resizeState(ctx, ns, consumer.Name)
	if err != nil {
		return res, err
	}
	res.pods = len(before.pods)
	if res.pods != n {
		return res, fmt.Errorf("%d pods run for %d instances", res.pods, n)
	}
	rw, err := c.watchResized(ctx, ns, consumer.Name, before.pods, minAfter)
	if err != nil {
		return res, err
	}
	rec, err := c.watchRecords(ctx, ns, consumer.Name, before.annotations)
	if err != nil {
		return res, err
	}
	writesBefore, err := c.writes(ctx)
	if err != nil {
		return res, err
	}
	patch, err := policyPatch(resizeMinCPUAfter)
	if err != nil {
		return res, err
	}
	start := time.Now()
	if err := c.client.Patch(ctx, consumer, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return res, fmt.Errorf("patching the Consumer's policy: %w", err)
	}
	select {
	case <-rw.done:
		if rw.err != nil {
			return res, rw.err
		}
		res.resize = rw.at.Sub(start)
		res.firstResize = rw.first.Sub(start)
	case <-time.After(o.convergeTimeout):
		return res, fmt.Errorf("not resized after %s: %s", o.convergeTimeout, rw.progress())
	case <-ctx.Done():
		return res, ctx.Err()
	}
	if reconciles, err = op.waitIdle(ctx, reconciles+1, 2*time.Second, 2*time.Minute); err != nil {
		return res, err
	}
	writesAfter, err := c.writes(ctx)
	if err != nil {
		return res, err
	}
	res.writes = writesAfter.since(writesBefore)
	res.writes.remove("consumers PATCH", 1) // the bench's own decision

	// The kubelet carries the resizes out; a correct operator has nothing left to write.
	if err := c.finishResizes(ctx, ns, consumer.Name); err != nil {
		return res, err
	}
	if _, err = op.waitIdle(ctx, reconciles, 2*time.Second, 2*time.Minute); err != nil {
		return res, err
	}
	writesSettled, err := c.writes(ctx)
	if err != nil {
		return res, err
	}
	res.settleWrites = writesSettled.since(writesAfter)
	res.settleWrites.remove("pods/status PUT", res.settleWrites["pods/status PUT"]) // the bench's kubelet
	res.settleWrites.remove("leases PUT", res.settleWrites["leases PUT"])           // the API server's own

	after, err := c.resizeState(ctx, ns, consumer.Name)
	if err != nil {
		return res, err
	}
	res.templateChanges, res.restarts, res.resized = compareResizeStates(before, after, minAfter)
	res.recorded, res.firstRecord, res.lastRecord = rec.stop(start)

	if res.endUsage, err = op.usage(); err != nil {
		return res, err
	}
	rss, err := rssBytes(op.pid())
	if err != nil {
		return res, err
	}
	res.rssEnd = float64(rss)
	fileRSS, err := fileRSSBytes(op.pid())
	if err != nil {
		return res, err
	}
	res.fileRSSEnd = float64(fileRSS)
	samples, err := op.metrics(ctx)
	if err != nil {
		return res, err
	}
	res.heapEnd, _ = sum(samples, "go_memstats_heap_inuse_bytes", nil)
	nextGC, _ := sum(samples, "go_memstats_next_gc_bytes", nil)
	res.liveHeapEnd = nextGC / 2
	return res, nil
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

// resizeLogPath names the operator log of one resize run.
func resizeLogPath(dir string, n, run int) string {
	return fmt.Sprintf("%s/operator-resize-n%d-r%d.log", dir, n, run)
}

// resizeBaselineObjects are the bare client's Deployments (as the planner makes them, by server-side apply) and
// running pods (one per Deployment, with its template's spec and no owner).
type resizeBaselineObjects struct {
	deployments []*appsv1ac.DeploymentApplyConfiguration
	pods        []*corev1.Pod
}

func (c *cluster) prepareResizeBaseline(ctx context.Context, namespace string, n int) (resizeBaselineObjects, error) {
	var b resizeBaselineObjects
	consumer := resizeConsumer(namespace, n, resizeMinCPUBefore)
	consumer.UID = "00000000-0000-0000-0000-00000000b002"
	desired, plan, err := desiredInstances(consumer)
	if err != nil {
		return b, err
	}
	for i := range plan.Actions {
		if a := &plan.Actions[i]; a.Kind == model.ActionCreate && a.Desired != nil {
			b.deployments = append(b.deployments, a.Desired)
		}
	}
	b.pods = make([]*corev1.Pod, len(b.deployments))
	var failed atomic.Value
	forEach(ctx, prepareWorkers, len(b.deployments), func(i int) {
		err := c.client.Apply(ctx, &detached{b.deployments[i]}, client.FieldOwner("bench-baseline"), client.ForceOwnership)
		if err != nil {
			failed.CompareAndSwap(nil, fmt.Errorf("applying a baseline Deployment: %w", err))
			return
		}
		d := desired[*b.deployments[i].Name]
		d.UID = types.UID(fmt.Sprintf("baseline-%d", i))
		rs := replicaSetFor(d)
		rs.UID = "" // no owner: a bare pod
		p, err := c.startPod(ctx, podFor(rs, rs.Name+"-0", benchNode))
		if err != nil {
			failed.CompareAndSwap(nil, err)
			return
		}
		b.pods[i] = p
	})
	if err, _ := failed.Load().(error); err != nil {
		return b, fmt.Errorf("preparing the baseline: %w", err)
	}
	return b, ctx.Err()
}

// recordBaseline applies every Deployment again from a bare client with workers in flight, with the decision
// the operator records after it resizes: the resources annotation with the new minimum cpu.
func (c *cluster) recordBaseline(ctx context.Context, deployments []*appsv1ac.DeploymentApplyConfiguration, minCPU resource.Quantity, workers int) (time.Duration, error) {
	updated := make([]*appsv1ac.DeploymentApplyConfiguration, len(deployments))
	for i, d := range deployments {
		// A copy through JSON: the planner's objects share parts that must not change.
		raw, err := json.Marshal(d)
		if err != nil {
			return 0, err
		}
		var u appsv1ac.DeploymentApplyConfiguration
		if err := json.Unmarshal(raw, &u); err != nil {
			return 0, err
		}
		v, err := raisedAnnotation(u.Annotations[konsumeratorv1.AnnotationResources], minCPU)
		if err != nil {
			return 0, err
		}
		u.Annotations[konsumeratorv1.AnnotationResources] = v
		updated[i] = &u
	}
	var failed atomic.Value
	start := time.Now()
	forEach(ctx, workers, len(updated), func(i int) {
		if err := c.client.Apply(ctx, &detached{updated[i]}, client.FieldOwner("bench-baseline"), client.ForceOwnership); err != nil {
			failed.CompareAndSwap(nil, err)
		}
	})
	took := time.Since(start)
	if err, _ := failed.Load().(error); err != nil {
		return 0, fmt.Errorf("baseline record: %w", err)
	}
	return took, ctx.Err()
}

// startPod creates a pod and reports it running, as the kubelet of its node would.
func (c *cluster) startPod(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	created, err := c.clientset.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating pod %s: %w", pod.Name, err)
	}
	markRunning(created, time.Now())
	running, err := c.clientset.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("starting pod %s: %w", pod.Name, err)
	}
	return running, nil
}

// resizeBaseline sends every pod its resize from a bare client with workers in flight, the same request per pod
// as the operator's applier.
func (c *cluster) resizeBaseline(ctx context.Context, pods []*corev1.Pod, minCPU resource.Quantity, workers int) (time.Duration, error) {
	patches := make([][]byte, len(pods))
	for i, p := range pods {
		raw, err := resizePatch(string(p.UID), podTargets(p, minCPU))
		if err != nil {
			return 0, err
		}
		patches[i] = raw
	}
	var failed atomic.Value
	start := time.Now()
	forEach(ctx, workers, len(pods), func(i int) {
		// The applier's request: metadata only in the answer.
		pod := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: pods[i].Namespace, Name: pods[i].Name}}
		pod.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
		err := c.client.SubResource("resize").Patch(ctx, pod, client.RawPatch(types.JSONPatchType, patches[i]))
		if err != nil {
			failed.CompareAndSwap(nil, fmt.Errorf("resizing %s: %w", pods[i].Name, err))
		}
	})
	took := time.Since(start)
	if err, _ := failed.Load().(error); err != nil {
		return 0, fmt.Errorf("baseline resize: %w", err)
	}
	return took, ctx.Err()
}

// waitInstances waits until the operator has made the n instances of a Consumer and is idle.
func (c *cluster) waitInstances(ctx context.Context, op *operator, namespace, consumer string, n int, timeout time.Duration) ([]appsv1.Deployment, error) {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := op.waitIdle(ctx, 1, time.Second, timeout); err != nil {
			return nil, err
		}
		var list appsv1.DeploymentList
		if err := c.client.List(ctx, &list, client.InNamespace(namespace),
			client.MatchingLabels{konsumeratorv1.LabelConsumer: consumer}); err != nil {
			return nil, err
		}
		if len(list.Items) == n {
			return list.Items, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d instances after %s", len(list.Items), n, timeout)
		}
	}
}

// runInstancePods plays the Deployment and ReplicaSet controllers and the kubelet for every instance: a
// ReplicaSet of revision 1, one pod of it running on the bench's node, and the Deployment's status saying its
// replica is available.
func (c *cluster) runInstancePods(ctx context.Context, deployments []appsv1.Deployment) error {
	var failed atomic.Value
	forEach(ctx, prepareWorkers, len(deployments), func(i int) {
		d := &deployments[i]
		rs, err := c.clientset.AppsV1().ReplicaSets(d.Namespace).Create(ctx, replicaSetFor(d), metav1.CreateOptions{})
		if err != nil {
			failed.CompareAndSwap(nil, fmt.Errorf("creating the ReplicaSet of %s: %w", d.Name, err))
			return
		}
		if _, err := c.startPod(ctx, podFor(rs, rs.Name+"-0", benchNode)); err != nil {
			failed.CompareAndSwap(nil, err)
			return
		}
		if err := c.markAvailable(ctx, d); err != nil {
			failed.CompareAndSwap(nil, err)
		}
	})
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	return ctx.Err()
}

// markAvailable writes the status the Deployment controller would once the one replica is available. The listed
// object is written as it is; it is read again only if the operator changed it since.
func (c *cluster) markAvailable(ctx context.Context, d *appsv1.Deployment) error {
	deployments := c.clientset.AppsV1().Deployments(d.Namespace)
	live := d.DeepCopy()
	first := true
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			var err error
			if live, err = deployments.Get(ctx, d.Name, metav1.GetOptions{}); err != nil {
				return err
			}
		}
		first = false
		replicas := int32(1)
		if live.Spec.Replicas != nil {
			replicas = *live.Spec.Replicas
		}
		live.Status = appsv1.DeploymentStatus{ObservedGeneration: live.Generation, Replicas: replicas,
			UpdatedReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas}
		_, err := deployments.UpdateStatus(ctx, live, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("writing the status of %s: %w", d.Name, err)
	}
	return nil
}

// finishResizes plays the kubelet once more: every pod whose spec asks for other resources than it runs with
// reports them carried out.
func (c *cluster) finishResizes(ctx context.Context, namespace, consumer string) error {
	list, err := c.clientset.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: konsumeratorv1.LabelConsumer + "=" + consumer})
	if err != nil {
		return err
	}
	var failed atomic.Value
	forEach(ctx, prepareWorkers, len(list.Items), func(i int) {
		p := &list.Items[i]
		if !markResized(p) {
			return
		}
		if _, err := c.clientset.CoreV1().Pods(namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			failed.CompareAndSwap(nil, fmt.Errorf("reporting the resize of %s: %w", p.Name, err))
		}
	})
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	return ctx.Err()
}

// resizeState is what the bench compares before and after the decision.
type resizeState struct {
	// templates and resources annotations of the instance Deployments, by name.
	templates   map[string]*corev1.PodTemplateSpec
	annotations map[string]string
	// pods by UID.
	pods map[types.UID]*corev1.Pod
}

func (c *cluster) resizeState(ctx context.Context, namespace, consumer string) (resizeState, error) {
	st := resizeState{templates: map[string]*corev1.PodTemplateSpec{}, annotations: map[string]string{},
		pods: map[types.UID]*corev1.Pod{}}
	selector := konsumeratorv1.LabelConsumer + "=" + consumer
	ds, err := c.clientset.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return st, err
	}
	for i := range ds.Items {
		d := &ds.Items[i]
		st.templates[d.Name], st.annotations[d.Name] = &d.Spec.Template, d.Annotations[konsumeratorv1.AnnotationResources]
	}
	pods, err := c.clientset.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return st, err
	}
	for i := range pods.Items {
		st.pods[pods.Items[i].UID] = &pods.Items[i]
	}
	return st, nil
}

// compareResizeStates counts the Deployments whose pod template changed (or that went or came), the restarts
// (pods gone or replaced, container restarts) and the pods of before that run with every container at the new
// size.
func compareResizeStates(before, after resizeState, minCPU resource.Quantity) (templateChanges, restarts, resized int) {
	for name, tmpl := range before.templates {
		if at, ok := after.templates[name]; !ok || !equality.Semantic.DeepEqual(at, tmpl) {
			templateChanges++
		}
	}
	for name := range after.templates {
		if _, ok := before.templates[name]; !ok {
			templateChanges++
		}
	}
	for uid, p := range before.pods {
		ap, ok := after.pods[uid]
		if !ok {
			restarts++
			continue
		}
		restarts += int(restartCount(ap) - restartCount(p))
		if len(podTargets(ap, minCPU)) == 0 && len(ap.Spec.Containers) > 0 {
			resized++
		}
	}
	for uid := range after.pods {
		if _, ok := before.pods[uid]; !ok {
			restarts++
		}
	}
	return templateChanges, restarts, resized
}

// resizeWatch closes done when every pod it follows has been seen with its new resources in its spec.
type resizeWatch struct {
	done      chan struct{}
	first, at time.Time
	err       error

	mu      sync.Mutex
	pending map[types.UID]bool
	total   int
}

func (rw *resizeWatch) progress() string {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return fmt.Sprintf("%d of %d pods have the new resources in their spec", rw.total-len(rw.pending), rw.total)
}

// watchResized starts watching the pods before the decision is made, so that no change is missed.
func (c *cluster) watchResized(ctx context.Context, namespace, consumer string, pods map[types.UID]*corev1.Pod, minCPU resource.Quantity) (*resizeWatch, error) {
	w, err := c.clientset.CoreV1().Pods(namespace).Watch(ctx, metav1.ListOptions{
		LabelSelector: konsumeratorv1.LabelConsumer + "=" + consumer})
	if err != nil {
		return nil, fmt.Errorf("watching the pods of %s: %w", namespace, err)
	}
	rw := &resizeWatch{done: make(chan struct{}), pending: map[types.UID]bool{}, total: len(pods)}
	for uid := range pods {
		rw.pending[uid] = true
	}
	go func() {
		defer w.Stop()
		defer close(rw.done)
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				rw.err = apierrors.FromObject(ev.Object)
				return
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			rw.mu.Lock()
			if rw.pending[p.UID] && len(podTargets(p, minCPU)) == 0 {
				delete(rw.pending, p.UID)
				if rw.first.IsZero() {
					rw.first = time.Now()
				}
			}
			left := len(rw.pending)
			rw.mu.Unlock()
			if left == 0 {
				rw.at = time.Now()
				return
			}
		}
		rw.err = fmt.Errorf("the watch of %s ended before the pods were resized: %w", namespace, errors.Join(ctx.Err(), errors.New(rw.progress())))
	}()
	return rw, nil
}

// recordWatch notes when instance Deployments show another resources annotation than before the decision.
type recordWatch struct {
	w      watch.Interface
	done   chan struct{}
	before map[string]string
	mu     sync.Mutex
	seen   map[string]time.Time
}

func (c *cluster) watchRecords(ctx context.Context, namespace, consumer string, before map[string]string) (*recordWatch, error) {
	w, err := c.clientset.AppsV1().Deployments(namespace).Watch(ctx, metav1.ListOptions{
		LabelSelector: konsumeratorv1.LabelConsumer + "=" + consumer})
	if err != nil {
		return nil, fmt.Errorf("watching the Deployments of %s: %w", namespace, err)
	}
	rw := &recordWatch{w: w, done: make(chan struct{}), before: before, seen: map[string]time.Time{}}
	go func() {
		defer close(rw.done)
		for ev := range w.ResultChan() {
			d, ok := ev.Object.(*appsv1.Deployment)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			v, had := rw.before[d.Name]
			rw.mu.Lock()
			if _, noted := rw.seen[d.Name]; !noted && had && d.Annotations[konsumeratorv1.AnnotationResources] != v {
				rw.seen[d.Name] = time.Now()
			}
			rw.mu.Unlock()
		}
	}()
	return rw, nil
}

// stop ends the watch and returns how many Deployments changed their record, and the first and last change
// after start.
func (rw *recordWatch) stop(start time.Time) (n int, first, last time.Duration) {
	rw.w.Stop()
	<-rw.done
	for _, t := range rw.seen {
		d := t.Sub(start)
		if n == 0 || d < first {
			first = d
		}
		last = max(last, d)
		n++
	}
	return n, first, last
}

// clearPods deletes every pod of a namespace at once: no kubelet would confirm a graceful deletion.
func (c *cluster) clearPods(ctx context.Context, namespace string) error {
	err := c.client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(namespace), client.GracePeriodSeconds(0))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting the pods of %s: %w", namespace, err)
	}
	return nil
}

// clearResize deletes what a resize run made: the control plane has no garbage collector.
func (c *cluster) clearResize(ctx context.Context, namespace string) error {
	if err := c.clear(ctx, namespace); err != nil {
		return err
	}
	if err := c.client.DeleteAllOf(ctx, &appsv1.ReplicaSet{}, client.InNamespace(namespace)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting the ReplicaSets of %s: %w", namespace, err)
	}
	return c.clearPods(ctx, namespace)
}

// registerNode makes the Node the pods run on, with room for any resize the scenario asks for: the API server
// checks a resize against the node's allocatable resources.
func (c *cluster) registerNode(ctx context.Context) error {
	nodes := c.clientset.CoreV1().Nodes()
	node, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: benchNode}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("registering Node %s: %w", benchNode, err)
	}
	node.Status.Allocatable = corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("100k"), corev1.ResourceMemory: resource.MustParse("100Ti"),
		corev1.ResourcePods: resource.MustParse("100k"),
	}
	node.Status.Capacity = node.Status.Allocatable
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}}
	if _, err := nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("reporting Node %s: %w", benchNode, err)
	}
	return nil
}
