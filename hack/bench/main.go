// Command bench measures how fast the operator converges a large Consumer, what it writes and what it costs,
// against a real kube-apiserver and etcd (envtest, from the binaries hack/tools.sh caches), with the operator
// running as its own process exactly as `konsumerator run` does in a cluster.
//
// For each instance count N it creates a Consumer with N partitions, one per instance and no autoscaler (so the
// plan is create-only and needs no metrics), and reports the median over -runs of:
//
//   - the wall time from creating the Consumer until every instance exists with the planned spec, and the same
//     N server-side applies from a bare client with -baseline-workers workers, in the same run;
//   - the write requests the API server received (apiserver_request_total by resource and verb);
//   - the writes per reconcile once nothing changes (reconciles triggered by touching an annotation);
//   - the operator's peak RSS (VmHWM) and CPU time;
//   - the planner's time for the create-only plan and for the steady plan of the same Consumer;
//
// first in an empty cluster, then with -unrelated Deployments that have nothing to do with the operator.
//
// The resize scenario gives each of the N instances of an autoscaled Consumer (updateMode InPlace) a running pod
// — the bench plays the Deployment and ReplicaSet controllers and the kubelet, which envtest does not run — and
// then makes one decision that resizes every pod: it raises the container policy's minimum cpu of a Consumer
// whose metrics never arrive. It reports the wall time until every pod's spec has the new resources against
// the same N pods/resize patches from a bare client, the writes (resizes, Deployment writes, template changes),
// the restarts, and the operator's peak RSS with the pods in its cache.
//
// The many scenario runs -many-consumers small Consumers against one Prometheus (many.go); many-kafka runs the
// same Consumers in Kafka mode against one in-process kfake cluster, and counts on the brokers' side the
// connections the operator opens and its requests per Consumer per sync period (manykafka.go).
//
//	go run ./hack/bench                       # both scenarios: N = 100 and 1,000, 3 runs, 10,000 unrelated Deployments
//	go run ./hack/bench -quick                # one run of N = 100 each, with 1,000 unrelated Deployments
//	go run ./hack/bench -scenarios resize -n 1000 -runs 2
//	go run ./hack/bench -n 1000 -runs 5 -operator-args='--kube-api-qps=-1'
//	go run ./hack/bench -scenarios many-kafka -many-consumers 300
//
// It takes minutes, so it is a program and not a test; nothing in it asserts timings.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"
)

type options struct {
	scenarios       map[string]bool
	sizes           []int
	runs            int
	unrelated       int
	baselineWorkers int
	touches         int
	operatorArgs    []string
	operatorEnv     []string
	keep            bool
	convergeTimeout time.Duration
	many            manyOptions
}

func main() {
	var (
		o            options
		sizes        string
		scenarios    string
		operatorArgs string
		operatorEnv  string
		quick        bool
	)
	flag.StringVar(&scenarios, "scenarios", "create,resize", "scenarios to run, comma separated: create, resize, many, many-kafka, api-cost (the API server's CPU per request of each kind; -many-consumers requests of each)")
	flag.StringVar(&sizes, "n", "100,1000", "instance counts to measure, comma separated")
	flag.IntVar(&o.runs, "runs", 3, "runs per instance count; the table shows medians")
	flag.IntVar(&o.unrelated, "unrelated", 10000, "unrelated Deployments for the second set of create runs (0: skip that set)")
	flag.IntVar(&o.baselineWorkers, "baseline-workers", 8, "concurrent applies of the bare-client baseline")
	flag.IntVar(&o.touches, "touches", 3, "reconciles triggered at steady state to count their writes")
	flag.StringVar(&operatorArgs, "operator-args", "", "extra flags for `konsumerator run`, space separated")
	flag.StringVar(&operatorEnv, "operator-env", "", "extra environment of the operator alone, space separated NAME=VALUE (e.g. GOGC=50; the API server and Prometheus keep theirs)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (operator logs, kubeconfig) after the run")
	flag.DurationVar(&o.convergeTimeout, "converge-timeout", 5*time.Minute, "give up on a run that has not converged (or resized) by then")
	flag.IntVar(&o.many.consumers, "many-consumers", 1000, "many: Consumers")
	flag.IntVar(&o.many.instances, "many-instances", 5, "many: instances (and partitions) of each Consumer")
	flag.IntVar(&o.many.namespaces, "many-namespaces", 50, "many: namespaces the Consumers are spread over")
	flag.DurationVar(&o.many.syncPeriod, "many-sync-period", 30*time.Second, "many: every Consumer's minSyncPeriod")
	flag.IntVar(&o.many.periods, "many-periods", 3, "many: sync periods of the steady window")
	flag.BoolVar(&o.many.createFirst, "many-create-first", false, "many: create the Consumers before the operator starts and time the converge from its start (false: from the first create, the operator running)")
	flag.IntVar(&o.many.kafkaBrokers, "many-kafka-brokers", 3, "many-kafka: brokers of the kfake cluster")
	flag.IntVar(&o.many.runs, "many-runs", 1, "many: runs (each takes minutes; the table shows medians)")
	flag.BoolVar(&quick, "quick", false, "a quick check: -n 100 -runs 1 -unrelated 1000 -touches 2; many and many-kafka: 100 Consumers in 10 namespaces, 10s periods")
	flag.Parse()
	if quick {
		sizes, o.runs, o.unrelated, o.touches = "100", 1, 1000, 2
		o.many.consumers, o.many.namespaces, o.many.syncPeriod = 100, 10, 10*time.Second
	}
	var err error
	if o.sizes, err = parseSizes(sizes); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if o.scenarios, err = parseScenarios(scenarios); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if o.runs < 1 || o.baselineWorkers < 1 || o.touches < 1 {
		fmt.Fprintln(os.Stderr, "-runs, -baseline-workers and -touches must be at least 1")
		os.Exit(2)
	}
	if m := o.many; m.consumers < 1 || m.instances < 1 || m.namespaces < 1 || m.periods < 1 || m.runs < 1 || m.kafkaBrokers < 1 || m.syncPeriod < time.Second {
		fmt.Fprintln(os.Stderr, "-many-consumers, -many-instances, -many-namespaces, -many-periods and -many-kafka-brokers must be at least 1, -many-sync-period at least 1s")
		os.Exit(2)
	}
	o.operatorArgs = strings.Fields(operatorArgs)
	o.operatorEnv = strings.Fields(operatorEnv)
	for _, kv := range o.operatorEnv {
		if name, _, ok := strings.Cut(kv, "="); !ok || name == "" {
			fmt.Fprintf(os.Stderr, "-operator-env: %q is not NAME=VALUE\n", kv)
			os.Exit(2)
		}
	}

	// envtest logs through controller-runtime; the bench reports on its own.
	crlog.SetLogger(logr.Discard())
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (err error) {
	dir, err := os.MkdirTemp("", "konsumerator-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if o.keep || err != nil {
			fmt.Fprintln(os.Stderr, "work directory kept:", dir)
			return
		}
		os.RemoveAll(dir)
	}()

	started := time.Now()
	loadBefore := loadAverage()
	progress("building the operator")
	bin, err := buildOperator(dir)
	if err != nil {
		return err
	}
	progress("starting kube-apiserver and etcd")
	c, err := startCluster(dir)
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := c.stop(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()

	// The first Consumer a fresh control plane sees takes about 2 s longer to reach the operator, whatever its
	// size (the API server starts serving the new resource's watches); one unmeasured run keeps that out of
	// the figures.
	progress("warming up with one unmeasured run")
	if _, err := measure(ctx, c, bin, dir, o, 10, 0, 0); err != nil {
		return fmt.Errorf("warm-up run: %w", err)
	}

	var rows []scenario
	var resizeRows []resizeScenario
	createRuns := func(unrelated int) error {
		for _, n := range o.sizes {
			sc := scenario{instances: n, unrelated: unrelated}
			for r := 1; r <= o.runs; r++ {
				res, err := measure(ctx, c, bin, dir, o, n, unrelated, r)
				if err != nil {
					return fmt.Errorf("N=%d unrelated=%d run %d: %w", n, unrelated, r, err)
				}
				progress("N=%d unrelated=%d run %d/%d: %s", n, unrelated, r, o.runs, res)
				sc.runs = append(sc.runs, res)
			}
			rows = append(rows, sc)
		}
		return nil
	}
	if o.scenarios[scenarioCreate] {
		if err := createRuns(0); err != nil {
			return err
		}
	}
	// The resize scenario runs before the unrelated Deployments exist, so that its memory figure is the pods'.
	if o.scenarios[scenarioResize] {
		if err := c.registerNode(ctx); err != nil {
			return err
		}
		for _, n := range o.sizes {
			sc := resizeScenario{instances: n}
			for r := 1; r <= o.runs; r++ {
				res, err := measureResize(ctx, c, bin, dir, o, n, r)
				if err != nil {
					return fmt.Errorf("resize N=%d run %d: %w", n, r, err)
				}
				progress("resize N=%d run %d/%d: %s", n, r, o.runs, res)
				sc.runs = append(sc.runs, res)
			}
			resizeRows = append(resizeRows, sc)
		}
	}
	// The many scenario runs before the unrelated Deployments exist too; it has its own namespaces.
	var manyRows []manyResult
	if o.scenarios[scenarioMany] {
		for r := 1; r <= o.many.runs; r++ {
			res, err := measureMany(ctx, c, bin, dir, o)
			if err != nil {
				return fmt.Errorf("many run %d: %w", r, err)
			}
			progress("many run %d/%d: %s", r, o.many.runs, res)
			manyRows = append(manyRows, res)
		}
	}
	var manyKafkaRows []manyKafkaResult
	if o.scenarios[scenarioManyKafka] {
		for r := 1; r <= o.many.runs; r++ {
			res, err := measureManyKafka(ctx, c, bin, dir, o, r)
			if err != nil {
				return fmt.Errorf("many-kafka run %d: %w", r, err)
			}
			progress("many-kafka run %d/%d: %s", r, o.many.runs, res)
			manyKafkaRows = append(manyKafkaRows, res)
		}
	}
	var apiCostRows []apiCostRow
	if o.scenarios[scenarioAPICost] {
		if apiCostRows, err = measureAPICost(ctx, c, o.many.consumers); err != nil {
			return fmt.Errorf("api-cost: %w", err)
		}
	}
	if o.scenarios[scenarioCreate] && o.unrelated > 0 {
		progress("creating %d unrelated Deployments", o.unrelated)
		t := time.Now()
		if err := c.ensureUnrelated(ctx, o.unrelated); err != nil {
			return err
		}
		progress("created them in %s", time.Since(t).Round(time.Millisecond))
		if err := createRuns(o.unrelated); err != nil {
			return err
		}
	}
	report(os.Stdout, rows, resizeRows, manyRows, manyKafkaRows, apiCostRows, o, environment{
		loadBefore: loadBefore, loadAfter: loadAverage(), took: time.Since(started),
	})
	return nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// loadAverage is the 1, 5 and 15 minute load average, to tell in the report whether the machine was busy.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// logPath names the operator log of one run.
func logPath(dir string, n, unrelated, run int) string {
	return filepath.Join(dir, fmt.Sprintf("operator-n%d-u%d-r%d.log", n, unrelated, run))
}
