package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/observer/lag/promtest"
)

// The many scenario: a platform's worth of small consumer groups on one operator. C Consumers of I instances
// each, spread over S namespaces, each Consumer with its own three Prometheus queries (its own series, selected
// by a label) against one real Prometheus that scrapes one exporter the bench serves with every Consumer's
// series. The values never change, so once the instances exist nothing is left to write.

// manyOptions size the many scenario.
type manyOptions struct {
	consumers, instances, namespaces int
	// syncPeriod is every Consumer's minSyncPeriod: how often its Prometheus queries may run.
	syncPeriod time.Duration
	// periods is the length of the steady window, in sync periods.
	periods int
	runs    int
	// createFirst creates the Consumers before the operator starts.
	createFirst bool
	// kafkaBrokers is the many-kafka scenario's brokers.
	kafkaBrokers int
}

// queriesPerRead is what the design promises a Consumer costs its Prometheus per sync period with one address:
// the three instant queries of one read (offset, production, consumption), at most once per minSyncPeriod
// (observer/lag: Samples, provider.fetch).
const queriesPerRead = 3

// manyResult is what one run of the many scenario measured.
type manyResult struct {
	o manyOptions
	// baseline is the bare client's time for the same instance applies; converge runs from the first Consumer
	// create until the last instance exists.
	baseline, converge, createConsumers time.Duration
	// writes are the API server's writes from the first Consumer create until one sync period after the
	// converge; notFound counts the Deployment reads that answered 404 in the same span.
	writes   writeCounts
	notFound float64
	// steadyWrites are the writes in the steady window, steadyWindow its length.
	steadyWrites writeCounts
	steadyWindow time.Duration
	// queries are Prometheus's own count of instant queries in the steady window; peakQueriesPerSecond the most
	// in any one second of it.
	queries, peakQueriesPerSecond float64
	// reconciles and queueWait (mean seconds an item waited in the work queue) in the steady window.
	reconciles, queueWait float64
	peakRSS               int64
	cpuTotal, cpuSteady   float64
	// failedScrapes counts the exporter's scrapes that failed from the converge to the end of the steady window.
	failedScrapes float64
	// rssEnd, fileRSSEnd and heapInUse are the operator's RSS, the part of it mapped from its executable, and its
	// Go heap in use at the end of the steady window.
	rssEnd, fileRSSEnd, heapInUse float64
	// serverTime is where the API server's time went from the first create until two periods after the converge
	// (the bench's own requests included).
	serverTime []requestTime
	// baselineServerTime is the same for the baseline's applies.
	baselineServerTime []requestTime
	// baselineCPU and convergeCPU are the CPU of the bench and every program it runs over the baseline and the
	// converge: on a machine of a few cores the API server, etcd, the metrics source, the operator and the bench
	// share them.
	baselineCPU, convergeCPU cpuWindow
}

func (r manyResult) queriesPerConsumerPerPeriod() float64 {
	periods := r.steadyWindow.Seconds() / r.o.syncPeriod.Seconds()
	return r.queries / float64(r.o.consumers) / periods
}

func (r manyResult) String() string {
	return fmt.Sprintf("baseline %.2fs, converged in %.2fs (%.2fx; Consumers created in %.2fs); writes: %s; 404 reads: %g; "+
		"steady %.0fs: failed scrapes %g, writes %s, %g queries (%.2f per Consumer per period, peak %g/s, mean %.1f/s), %g reconciles, queue wait %.3fs; "+
		"peak RSS %s MiB (at the end %s MiB, %s MiB of it the executable's pages, Go heap in use %s MiB), CPU %.2fs (steady %.2fs); "+
		"API server's time, baseline: %s; converge: %s; CPU by program, baseline: %s; converge: %s",
		r.baseline.Seconds(), r.converge.Seconds(), r.converge.Seconds()/r.baseline.Seconds(), r.createConsumers.Seconds(),
		r.writes, r.notFound, r.steadyWindow.Seconds(), r.failedScrapes, r.steadyWrites, r.queries, r.queriesPerConsumerPerPeriod(),
		r.peakQueriesPerSecond, r.queries/r.steadyWindow.Seconds(), r.reconciles, r.queueWait,
		mib(float64(r.peakRSS)), mib(r.rssEnd), mib(r.fileRSSEnd), mib(r.heapInUse), r.cpuTotal, r.cpuSteady,
		serverTimeText(r.baselineServerTime), serverTimeText(r.serverTime), r.baselineCPU, r.convergeCPU)
}

func manyNamespace(i int) string    { return fmt.Sprintf("many-%03d", i) }
func manyConsumerName(i int) string { return fmt.Sprintf("group-%04d", i) }

// Series of the many exporter: one of each per partition of each Consumer, told apart by the label group.
const (
	manyLagSeries         = "bench_many_lag"
	manyProductionSeries  = "bench_many_production_rate"
	manyConsumptionSeries = "bench_many_consumption_rate"
)

// manyConsumer is Consumer i: I partitions, one per instance, sized by its own Prometheus queries within a
// policy whose minimum its steady load stays under, so the resources never change.
func manyConsumer(o manyOptions, i int, prometheusURL string) *konsumeratorv1.Consumer {
	name := manyConsumerName(i)
	c := builder.Consumer(name).Namespace(manyNamespace(i%o.namespaces)).
		Partitions(int32(o.instances)).PerInstance(1).
		Prometheus(1000, "100M").
		Policy("busybox", builder.Resources("cpu=100m,memory=100M"), builder.Resources("cpu=2,memory=1G")).
		MinSyncPeriod(o.syncPeriod).
		Obj()
	c.UID, c.Generation = "", 0
	p := c.Spec.Autoscaler.Prometheus
	p.Address = []string{prometheusURL}
	q := func(series string) konsumeratorv1.PrometheusQuery {
		return konsumeratorv1.PrometheusQuery{
			Query:          fmt.Sprintf("max(%s{group=%q}) by (partition)", series, name),
			PartitionLabel: "partition",
		}
	}
	p.Offset, p.Production, p.Consumption = q(manyLagSeries), q(manyProductionSeries), q(manyConsumptionSeries)
	return c
}

// serveManySeries gives every partition of every Consumer a lag of 100 messages and production equal to
// consumption (50/s): a load the policy's minimum covers, steady for as long as the run lasts.
func serveManySeries(e *promtest.Exporter, o manyOptions) {
	for i := range o.consumers {
		for p := range o.instances {
			labels := map[string]string{"group": manyConsumerName(i), "partition": fmt.Sprint(p)}
			e.SetGauge(manyLagSeries, labels, 100)
			e.SetGauge(manyProductionSeries, labels, 50)
			e.SetGauge(manyConsumptionSeries, labels, 50)
		}
	}
}

// measureMany does one run of the many scenario.
func measureMany(ctx context.Context, c *cluster, bin, dir string, o options) (res manyResult, err error) {
	mo := o.many
	res.o = mo
	promBin, err := promtest.Binary()
	if err != nil {
		return res, err
	}
	exp, err := promtest.StartExporter()
	if err != nil {
		return res, err
	}
	defer exp.Stop()
	serveManySeries(exp, mo)
	prom, err := promtest.StartPrometheus(promBin, []string{exp.Addr}, 2*time.Minute)
	if err != nil {
		return res, err
	}
	defer prom.Stop()
	if err := prom.WaitForSeries(ctx, fmt.Sprintf("count(%s) >= %d", manyConsumptionSeries, mo.consumers*mo.instances),
		1, 2*time.Minute); err != nil {
		return res, err
	}
	progress("many: Prometheus has the %d series of %d Consumers", 3*mo.consumers*mo.instances, mo.consumers)

	consumers := make([]*konsumeratorv1.Consumer, mo.consumers)
	for i := range consumers {
		consumers[i] = manyConsumer(mo, i, prom.URL)
	}
	// Prometheus's own count of instant queries over the steady window, and the most in any one second of it.
	var queriesBefore, last, peak, queries, failed float64
	probe := manyProbe{
		start: func(ctx context.Context, _ *operator) (err error) {
			queriesBefore, err = prometheusQueries(ctx, prom.URL)
			last = queriesBefore
			return err
		},
		second: func(ctx context.Context) error {
			q, err := prometheusQueries(ctx, prom.URL)
			if err != nil {
				return err
			}
			peak = max(peak, q-last)
			last = q
			return nil
		},
		end: func(ctx context.Context, _ *operator, window time.Duration) (err error) {
			queries = last - queriesBefore
			// A scrape of the exporter that fails (its timeout is 1 s, and 15,000 series on a busy machine may
			// take longer) marks every series stale: reads then find no data, and the Consumers' status says so.
			// Counted here so that such writes are not taken for the operator's.
			failed, err = failedScrapes(ctx, prom.URL, window+2*mo.syncPeriod)
			return err
		},
	}
	res, err = runMany(ctx, c, bin, o, "many", logPath(dir, mo.consumers*mo.instances, 0, 0), consumers, probe)
	res.queries, res.peakQueriesPerSecond, res.failedScrapes = queries, peak, failed
	return res, err
}

// manyProbe measures a source's side of the many scenario: told when the steady window starts, polled once a
// second in it, and told when it ends (after the last poll, before the operator's figures are read).
type manyProbe struct {
	start  func(ctx context.Context, op *operator) error
	second func(ctx context.Context) error
	end    func(ctx context.Context, op *operator, window time.Duration) error
}

// runMany is the many scenario once the metrics source serves every Consumer: the bare-client baseline into
// the scenario's namespaces, the operator's converge, two settling periods, and the steady window, with the
// writes, reconciles, memory and CPU of each. The source's own figures are the probe's.
func runMany(ctx context.Context, c *cluster, bin string, o options, name, logFile string,
	consumers []*konsumeratorv1.Consumer, probe manyProbe) (res manyResult, err error) {
	mo := o.many
	res.o = mo
	for s := range mo.namespaces {
		if err := c.createNamespace(ctx, manyNamespace(s)); err != nil {
			return res, err
		}
	}
	clearAll := func() error {
		for s := range mo.namespaces {
			if err := c.clear(ctx, manyNamespace(s)); err != nil {
				return err
			}
		}
		return nil
	}

	// Baseline: the same instance applies from a bare client, into the same namespaces, then deleted.
	beforeBaseline, err := c.requests(ctx)
	if err != nil {
		return res, err
	}
	cpuBeforeBaseline, err := readCPUByProgram()
	if err != nil {
		return res, err
	}
	if res.baseline, err = c.manyBaseline(ctx, consumers, o.baselineWorkers); err != nil {
		return res, err
	}
	cpuAfterBaseline, err := readCPUByProgram()
	if err != nil {
		return res, err
	}
	res.baselineCPU = cpuWindow{res.baseline.Seconds(), cpuAfterBaseline.since(cpuBeforeBaseline)}
	afterBaseline, err := c.requests(ctx)
	if err != nil {
		return res, err
	}
	res.baselineServerTime = busiest(requestTimes(beforeBaseline), requestTimes(afterBaseline), 3)
	if err := clearAll(); err != nil {
		return res, err
	}
	defer func() {
		if clearErr := clearAll(); clearErr != nil && err == nil {
			err = clearErr
		}
	}()

	want := mo.consumers * mo.instances
	seen, err := c.watchInstances(ctx, want)
	if err != nil {
		return res, err
	}
	before, err := c.requests(ctx)
	if err != nil {
		return res, err
	}
	createConsumers := func() error {
		t := time.Now()
		var failed atomic.Value
		forEach(ctx, 16, len(consumers), func(i int) {
			if err := c.client.Create(ctx, consumers[i]); err != nil {
				failed.CompareAndSwap(nil, err)
			}
		})
		res.createConsumers = time.Since(t)
		if err, _ := failed.Load().(error); err != nil {
			return fmt.Errorf("creating the Consumers: %w", err)
		}
		return nil
	}
	// With createFirst the Consumers exist before the operator starts and the converge is timed from its start
	// (the operator's own work, like the baseline's); otherwise from the first create, with the operator running.
	if mo.createFirst {
		if err := createConsumers(); err != nil {
			return res, err
		}
	}
	start := time.Now()
	cpuAtStart, err := readCPUByProgram()
	if err != nil {
		return res, err
	}
	op, err := startOperator(ctx, bin, c.kubeconfig, logFile, o.operatorArgs, o.operatorEnv)
	if err != nil {
		return res, err
	}
	defer op.stop()
	if !mo.createFirst {
		start = time.Now()
		if cpuAtStart, err = readCPUByProgram(); err != nil {
			return res, err
		}
		if err := createConsumers(); err != nil {
			return res, err
		}
	}
	select {
	case <-seen.done:
		if seen.err != nil {
			return res, seen.err
		}
		res.converge = seen.at.Sub(start)
		cpuAtEnd, err := readCPUByProgram()
		if err != nil {
			return res, err
		}
		// Read just after the last instance was seen: the few milliseconds since count too.
		res.convergeCPU = cpuWindow{time.Since(start).Seconds(), cpuAtEnd.since(cpuAtStart)}
	case <-time.After(o.convergeTimeout):
		return res, fmt.Errorf("not converged after %s: %d of %d instances", o.convergeTimeout, seen.count.Load(), want)
	case <-ctx.Done():
		return res, ctx.Err()
	}
	progress("%s: %d instances of %d Consumers in %.2fs; waiting two sync periods (%s each) for the Consumers to settle in their slots",
		name, want, mo.consumers, res.converge.Seconds(), mo.syncPeriod)
	// Every Consumer has been read and reconciled again within two more periods (the first period after a read
	// may be up to twice as long, to move the Consumer to its own slot): what is written by then is the cost of
	// the converge; from then on nothing should be.
	if err := sleepCtx(ctx, 2*mo.syncPeriod+mo.syncPeriod/5); err != nil {
		return res, err
	}
	afterCreate, err := c.requests(ctx)
	if err != nil {
		return res, err
	}
	res.writes = apiserverWrites(afterCreate).since(apiserverWrites(before))
	res.writes.remove("consumers POST", float64(mo.consumers)) // the bench's own creates
	res.serverTime = busiest(requestTimes(before), requestTimes(afterCreate), 8)
	res.notFound = notFoundReads(afterCreate, "deployments") - notFoundReads(before, "deployments")

	// Steady window: writes, the source's figures, reconciles and the operator's CPU over whole sync periods.
	opBefore, err := op.metrics(ctx)
	if err != nil {
		return res, err
	}
	cpuBefore, err := cpuSeconds(op.pid())
	if err != nil {
		return res, err
	}
	if err := probe.start(ctx, op); err != nil {
		return res, err
	}
	windowStart := time.Now()
	window := time.Duration(mo.periods) * mo.syncPeriod
	for time.Since(windowStart) < window {
		if err := sleepCtx(ctx, time.Second); err != nil {
			return res, err
		}
		if err := probe.second(ctx); err != nil {
			return res, err
		}
	}
	res.steadyWindow = time.Since(windowStart)
	if err := probe.end(ctx, op, res.steadyWindow); err != nil {
		return res, err
	}
	afterSteady, err := c.requests(ctx)
	if err != nil {
		return res, err
	}
	res.steadyWrites = apiserverWrites(afterSteady).since(apiserverWrites(afterCreate))
	opAfter, err := op.metrics(ctx)
	if err != nil {
		return res, err
	}
	cpuAfter, err := cpuSeconds(op.pid())
	if err != nil {
		return res, err
	}
	res.cpuSteady, res.cpuTotal = cpuAfter-cpuBefore, cpuAfter
	rec := func(s []sample) float64 {
		v, _ := sum(s, "controller_runtime_reconcile_total", map[string]string{"controller": "consumer"})
		return v
	}
	res.reconciles = rec(opAfter) - rec(opBefore)
	waitSum := func(s []sample) (float64, float64) {
		total, _ := sum(s, "workqueue_queue_duration_seconds_sum", map[string]string{"name": "consumer"})
		count, _ := sum(s, "workqueue_queue_duration_seconds_count", map[string]string{"name": "consumer"})
		return total, count
	}
	s0, n0 := waitSum(opBefore)
	s1, n1 := waitSum(opAfter)
	if n1 > n0 {
		res.queueWait = (s1 - s0) / (n1 - n0)
	}
	res.heapInUse, _ = sum(opAfter, "go_memstats_heap_inuse_bytes", nil)
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
	res.peakRSS, err = peakRSSBytes(op.pid())
	return res, err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// requests reads the API server's request counters, all of them.
func (c *cluster) requests(ctx context.Context) ([]sample, error) {
	raw, err := c.clientset.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the API server's /metrics: %w", err)
	}
	all, err := parseText(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing the API server's /metrics: %w", err)
	}
	out := all[:0]
	for _, s := range all {
		switch s.name {
		case "apiserver_request_total", "apiserver_request_duration_seconds_sum", "apiserver_request_duration_seconds_count":
			out = append(out, s)
		}
	}
	return out, nil
}

// notFoundReads counts the GETs of a resource that answered 404.
func notFoundReads(samples []sample, resource string) float64 {
	v, _ := sum(samples, "apiserver_request_total", map[string]string{"verb": "GET", "resource": resource, "code": "404", "subresource": ""})
	return v
}

// prometheusQueries is Prometheus's own count of instant queries served so far.
func prometheusQueries(ctx context.Context, base string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("reading Prometheus's metrics: %w", err)
	}
	defer resp.Body.Close()
	samples, err := parseText(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("parsing Prometheus's metrics: %w", err)
	}
	v, ok := sum(samples, "prometheus_http_requests_total", map[string]string{"handler": "/api/v1/query"})
	if !ok {
		return 0, nil // none served yet
	}
	return v, nil
}

// failedScrapes asks Prometheus how many of its scrapes of the exporter failed in the last window.
func failedScrapes(ctx context.Context, base string, window time.Duration) (float64, error) {
	q := fmt.Sprintf(`sum(count_over_time(up{job="exporter"}[%ds]) - sum_over_time(up{job="exporter"}[%ds]))`,
		int(window.Seconds()), int(window.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("asking Prometheus for failed scrapes: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("asking Prometheus for failed scrapes: %w", err)
	}
	if len(body.Data.Result) == 0 {
		return 0, nil
	}
	v, _ := body.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(v, 64)
}

// instanceWatch counts the instances that exist, over all namespaces, and closes done when want exist.
type instanceWatch struct {
	done  chan struct{}
	at    time.Time
	err   error
	count atomic.Int64
}

func (c *cluster) watchInstances(ctx context.Context, want int) (*instanceWatch, error) {
	w, err := c.clientset.AppsV1().Deployments("").Watch(ctx, metav1.ListOptions{LabelSelector: konsumeratorv1.LabelConsumer})
	if err != nil {
		return nil, fmt.Errorf("watching Deployments: %w", err)
	}
	iw := &instanceWatch{done: make(chan struct{})}
	go func() {
		defer w.Stop()
		defer close(iw.done)
		seen := map[string]bool{}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				iw.err = apierrors.FromObject(ev.Object)
				return
			}
			d, ok := ev.Object.(*appsv1.Deployment)
			if !ok || !strings.HasPrefix(d.Namespace, "many-") || metav1.GetControllerOfNoCopy(d) == nil {
				continue
			}
			key := d.Namespace + "/" + d.Name
			switch ev.Type {
			case watch.Added, watch.Modified:
				seen[key] = true
			case watch.Deleted:
				delete(seen, key)
			}
			iw.count.Store(int64(len(seen)))
			if len(seen) >= want {
				iw.at = time.Now()
				return
			}
		}
		iw.err = fmt.Errorf("the watch of instances ended at %d of %d: %w", len(seen), want, ctx.Err())
	}()
	return iw, nil
}

// instanceApplies are the applies that create the Consumers' instances, Consumer after Consumer: the objects the
// planner makes for them without metrics (the same objects, whatever the sizing says), each Consumer given a
// made-up UID for its instances' owner references.
func instanceApplies(consumers []*konsumeratorv1.Consumer) ([]*model.Action, error) {
	var applies []*model.Action
	for i, consumer := range consumers {
		cc := consumer.DeepCopy()
		cc.UID = types.UID(fmt.Sprintf("00000000-0000-0000-0000-%012d", i))
		cc.Spec.Autoscaler = nil
		_, plan, err := desiredInstances(cc)
		if err != nil {
			return nil, err
		}
		for j := range plan.Actions {
			if plan.Actions[j].Kind == model.ActionCreate {
				applies = append(applies, &plan.Actions[j])
			}
		}
	}
	return applies, nil
}

// manyBaseline applies every Consumer's instances from a bare client with workers in flight: the same objects
// the planner makes for them, with a made-up owner UID.
func (c *cluster) manyBaseline(ctx context.Context, consumers []*konsumeratorv1.Consumer, workers int) (time.Duration, error) {
	applies, err := instanceApplies(consumers)
	if err != nil {
		return 0, err
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

func manyMedian(rows []manyResult, f func(manyResult) float64) float64 {
	values := make([]float64, 0, len(rows))
	for _, r := range rows {
		values = append(values, f(r))
	}
	return median(values)
}

func reportMany(w io.Writer, rows []manyResult, o options) {
	mo := rows[0].o
	fmt.Fprintf(w, "\nmany: %d Consumers x %d instances in %d namespaces, each with its own 3 Prometheus queries (minSyncPeriod %s) against one Prometheus\n",
		mo.consumers, mo.instances, mo.namespaces, mo.syncPeriod)
	from := "from the first Consumer create, the operator running"
	if mo.createFirst {
		from = "from the operator's start, the Consumers created before"
	}
	fmt.Fprintf(w, "baseline: the same %d server-side applies from a bare client with %d workers; converge timed %s; steady window: %d sync periods after two settling periods; medians of %d run(s)\n\n",
		mo.consumers*mo.instances, o.baselineWorkers, from, mo.periods, len(rows))
	m := func(f func(manyResult) float64) float64 { return manyMedian(rows, f) }
	header := []string{"consumers", "instances", "baseline s", "converge s", "ratio", "deployment writes",
		"status writes", "event writes", "404 reads", "queries/consumer/period", "peak queries/s", "failed scrapes", "steady writes",
		"queue wait s", "peak RSS MiB", "RSS end MiB", "of it executable MiB", "heap in use MiB", "CPU s", "CPU s/period (steady)"}
	table := [][]string{header}
	row := []string{
		fmt.Sprint(mo.consumers), fmt.Sprint(mo.consumers * mo.instances),
		fmt.Sprintf("%.2f", m(func(r manyResult) float64 { return r.baseline.Seconds() })),
		fmt.Sprintf("%.2f", m(func(r manyResult) float64 { return r.converge.Seconds() })),
		fmt.Sprintf("%.2fx", m(func(r manyResult) float64 { return r.converge.Seconds() / r.baseline.Seconds() })),
		fmt.Sprintf("%g", m(func(r manyResult) float64 { return r.writes.of("deployments") })),
		fmt.Sprintf("%g", m(func(r manyResult) float64 { return r.writes.of("consumers/status") })),
		fmt.Sprintf("%g", m(func(r manyResult) float64 { return r.writes.of("events") })),
		fmt.Sprintf("%g", m(func(r manyResult) float64 { return r.notFound })),
		fmt.Sprintf("%.2f", m(manyResult.queriesPerConsumerPerPeriod)),
		fmt.Sprintf("%g", m(func(r manyResult) float64 { return r.peakQueriesPerSecond })),
		fmt.Sprintf("%g", m(func(r manyResult) float64 { return r.failedScrapes })),
		fmt.Sprintf("%g", m(func(r manyResult) float64 { return steadyOperatorWrites(r.steadyWrites) })),
		fmt.Sprintf("%.3f", m(func(r manyResult) float64 { return r.queueWait })),
		mib(m(func(r manyResult) float64 { return float64(r.peakRSS) })),
		mib(m(func(r manyResult) float64 { return r.rssEnd })),
		mib(m(func(r manyResult) float64 { return r.fileRSSEnd })),
		mib(m(func(r manyResult) float64 { return r.heapInUse })),
		fmt.Sprintf("%.1f", m(func(r manyResult) float64 { return r.cpuTotal })),
		fmt.Sprintf("%.2f", m(func(r manyResult) float64 {
			return r.cpuSteady / (r.steadyWindow.Seconds() / r.o.syncPeriod.Seconds())
		})),
	}
	table = append(table, row)
	writeTable(w, table)
	writeCPUTable(w, rows)

	fmt.Fprintln(w, "\ntargets (read from the figures above, not asserted):")
	ratio := m(func(r manyResult) float64 { return r.converge.Seconds() / r.baseline.Seconds() })
	fmt.Fprintf(w, "  converge within 2x the baseline: %.2fx, %s\n", ratio, verdict(ratio <= 2))
	dw := m(func(r manyResult) float64 { return r.writes.of("deployments") })
	sw := m(func(r manyResult) float64 { return r.writes.of("consumers/status") })
	fmt.Fprintf(w, "  exactly one write per instance, at most 2 status writes per Consumer: %g for %d, %g for %d Consumers, %s\n",
		dw, mo.consumers*mo.instances, sw, mo.consumers, verdict(dw == float64(mo.consumers*mo.instances) && sw <= float64(2*mo.consumers)))
	q := m(manyResult.queriesPerConsumerPerPeriod)
	fmt.Fprintf(w, "  %d Prometheus queries per Consumer per sync period (one read of 3 queries, one address): %.2f, %s\n",
		queriesPerRead, q, verdict(q >= queriesPerRead*0.95 && q <= queriesPerRead*1.05))
	sw0 := m(func(r manyResult) float64 { return steadyOperatorWrites(r.steadyWrites) })
	fmt.Fprintf(w, "  0 writes at steady state: %g, %s\n", sw0, verdict(sw0 == 0))
	rss := m(func(r manyResult) float64 { return float64(r.peakRSS) }) / (1 << 20)
	fmt.Fprintf(w, "  operator peak RSS at most 150 MiB: %.1f MiB, %s\n", rss, verdict(rss <= 150))
	for i, r := range rows {
		fmt.Fprintf(w, "  run %d: writes %s; steady writes %s\n", i+1, r.writes, r.steadyWrites)
	}
}

// steadyOperatorWrites are the writes that can only come from the operator: instances, status, Events.
func steadyOperatorWrites(w writeCounts) float64 {
	return w.of("deployments") + w.of("consumers/status") + w.of("events") + w.of("consumers")
}
