package main

import (
	"context"
	"fmt"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/observer"
	"github.com/konsumerator/konsumerator/planner"
)

// runResult is what one run measured.
type runResult struct {
	baseline, converge time.Duration
	// createWrites are the writes from creating the Consumer until the operator was idle again.
	createWrites writeCounts
	// steadyWrites are the operator's writes during steadyReconciles reconciles of an unchanged world.
	steadyWrites, steadyReconciles float64
	peakRSS                        int64
	cpuSeconds                     float64
	planCreate, planSteady         time.Duration
	steadyPlanWrites               int
}

func (r runResult) String() string {
	return fmt.Sprintf("baseline %.2fs, converged in %.2fs (%.2fx); writes: %s; steady: %g writes in %g reconciles; "+
		"peak RSS %s MiB, CPU %.2fs; plan CPU %.2fms create, %.2fms steady (%d writes)",
		r.baseline.Seconds(), r.converge.Seconds(), r.converge.Seconds()/r.baseline.Seconds(), r.createWrites,
		r.steadyWrites, r.steadyReconciles, mib(float64(r.peakRSS)), r.cpuSeconds,
		ms(r.planCreate), ms(r.planSteady), r.steadyPlanWrites)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// touchAnnotation is changed to make the operator reconcile a Consumer whose spec did not change: the planner
// ignores it, so a correct operator writes nothing.
const touchAnnotation = "bench.konsumerator.lwolf.org/touch"

// measure does one run: the baseline, then the operator on a fresh Consumer in a fresh namespace.
func measure(ctx context.Context, c *cluster, bin, dir string, o options, n, unrelated, run int) (res runResult, err error) {
	baselineNS := fmt.Sprintf("baseline-n%d-u%d-r%d", n, unrelated, run)
	if err := c.createNamespace(ctx, baselineNS); err != nil {
		return res, err
	}
	if res.baseline, err = c.baseline(ctx, baselineNS, n, o.baselineWorkers); err != nil {
		return res, err
	}
	if err := c.clear(ctx, baselineNS); err != nil {
		return res, err
	}

	ns := fmt.Sprintf("bench-n%d-u%d-r%d", n, unrelated, run)
	if err := c.createNamespace(ctx, ns); err != nil {
		return res, err
	}
	defer func() {
		if clearErr := c.clear(ctx, ns); clearErr != nil && err == nil {
			err = clearErr
		}
	}()
	op, err := startOperator(ctx, bin, c.kubeconfig, logPath(dir, n, unrelated, run), o.operatorArgs, o.operatorEnv)
	if err != nil {
		return res, err
	}
	defer op.stop()

	// Converge: from creating the Consumer until every instance is there as planned.
	consumer := benchConsumer(ns, n)
	created := make(chan struct{})
	var desired map[string]*appsv1.Deployment
	cv, err := c.watchConvergence(ctx, ns, func() map[string]*appsv1.Deployment { <-created; return desired })
	if err != nil {
		return res, err
	}
	before, err := c.writes(ctx)
	if err != nil {
		return res, err
	}
	start := time.Now()
	if err := c.client.Create(ctx, consumer); err != nil {
		return res, fmt.Errorf("creating the Consumer: %w", err)
	}
	desired, _, err = desiredInstances(consumer)
	close(created)
	if err != nil {
		return res, err
	}
	select {
	case <-cv.done:
		if cv.err != nil {
			return res, cv.err
		}
		res.converge = cv.at.Sub(start)
	case <-time.After(o.convergeTimeout):
		return res, fmt.Errorf("not converged after %s: %s", o.convergeTimeout, c.describeInstances(ctx, ns, desired))
	case <-ctx.Done():
		return res, ctx.Err()
	}
	reconciles, err := op.waitIdle(ctx, 1, time.Second, 2*time.Minute)
	if err != nil {
		return res, err
	}
	afterCreate, err := c.writes(ctx)
	if err != nil {
		return res, err
	}
	res.createWrites = afterCreate.since(before)
	reconcilesAfterCreate := reconciles

	// Steady state: reconciles of a world that does not change.
	for i := range o.touches {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"%d"}}}`, touchAnnotation, i)
		if err := c.client.Patch(ctx, consumer, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			return res, fmt.Errorf("touching the Consumer: %w", err)
		}
		if reconciles, err = op.waitIdle(ctx, reconciles+1, 500*time.Millisecond, time.Minute); err != nil {
			return res, err
		}
	}
	afterSteady, err := c.writes(ctx)
	if err != nil {
		return res, err
	}
	steady := afterSteady.since(afterCreate)
	// Events count here: an unchanged world deserves no Event either.
	res.steadyWrites = steady.of("deployments") + steady.of("consumers/status") + steady.of("events")
	res.steadyReconciles = reconciles - reconcilesAfterCreate

	if res.peakRSS, err = peakRSSBytes(op.pid()); err != nil {
		return res, err
	}
	if res.cpuSeconds, err = cpuSeconds(op.pid()); err != nil {
		return res, err
	}
	res.planCreate, res.planSteady, res.steadyPlanWrites, err = timePlanner(ctx, c, consumer)
	return res, err
}

// timePlanner measures the planner's CPU time on the Consumer as the operator sees it now (every instance in
// place) and with no instance at all (the create-only plan of the converge phase). The snapshot is read the way
// the observer reads it; the median of several plans is returned.
func timePlanner(ctx context.Context, c *cluster, consumer *konsumeratorv1.Consumer) (create, steady time.Duration, steadyWrites int, err error) {
	var current konsumeratorv1.Consumer
	if err := c.client.Get(ctx, client.ObjectKeyFromObject(consumer), &current); err != nil {
		return 0, 0, 0, err
	}
	o := &observer.Observer{Cache: c.client, Live: c.client}
	s, err := o.Snapshot(ctx, observer.FromConsumer(&current))
	if err != nil {
		return 0, 0, 0, err
	}
	p := planner.Plan(s)
	for _, a := range p.Actions {
		if a.Writes() {
			steadyWrites++
		}
	}
	steady = cpuTimeOf(func() { planner.Plan(s) })
	empty := *s
	empty.Deployments = nil
	empty.Status = konsumeratorv1.ConsumerStatus{}
	create = cpuTimeOf(func() { planner.Plan(&empty) })
	return create, steady, steadyWrites, nil
}

// cpuTimeOf is the median CPU time of the bench process per call of f. On a shared machine the wall time of a
// call mostly measures the neighbours; CPU time (garbage collection included) measures the planner.
func cpuTimeOf(f func()) time.Duration {
	const calls = 21
	f() // warm up
	var took []float64
	for range calls {
		start := processCPU()
		f()
		took = append(took, float64(processCPU()-start))
	}
	return time.Duration(median(took))
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
