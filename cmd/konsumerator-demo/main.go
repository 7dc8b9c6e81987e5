// Command konsumerator-demo runs the operator against a local cluster on loopback, with a real Prometheus
// scraping a synthetic exporter whose load goes through a steady phase, a lag spike and a recovery, over and
// over, until Ctrl-C; then it tears everything down. `make demo` runs it; docs/demo.md explains what to watch.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/konsumerator/konsumerator/internal/cluster"
	"github.com/konsumerator/konsumerator/internal/demo"
	"github.com/konsumerator/konsumerator/internal/exporter"
)

func main() {
	// The control plane's start-up messages would only clutter the demo's output; the operator logs on its own.
	ctrllog.SetLogger(logr.Discard())
	os.Exit(run())
}

func run() (code int) {
	dir := flag.String("dir", "", "keep the kubeconfig and the components' logs in this directory (default: a temporary one, removed on exit)")
	quiet := flag.Bool("quiet", false, "do not print the operator's log (it is still written to <dir>/logs/konsumerator.log)")
	pageAddr := flag.String("page-address", "127.0.0.1:0", "where the demo page listens (default: a free loopback port)")
	metricsAddr := flag.String("metrics-address", "127.0.0.1:0", "where the operator serves its metrics, in plain HTTP (default: a free loopback port)")
	withKafka := flag.Bool("kafka", false, "also run Consumer demo-kafka/demo-kafka in kafka mode, reading the same offsets from an in-process Kafka cluster")
	flag.Parse()

	// The first Ctrl-C starts the teardown; the handler stays installed so a second one cannot cut it short
	// and leave processes behind.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var operatorLog *demo.PrefixWriter
	if !*quiet {
		operatorLog = &demo.PrefixWriter{Prefix: "operator | ", Out: os.Stdout}
	}
	opts := demo.Options{Progress: os.Stdout, Dir: *dir, PageAddress: *pageAddr, MetricsAddress: *metricsAddr,
		Kafka: *withKafka,
		OnOperatorRestart: func(exit error, after time.Duration) {
			fmt.Printf("demo: the operator exited (%v); starting it again in %s, as its Deployment would\n", exit, after)
		}}
	if operatorLog != nil {
		opts.OperatorLog = operatorLog
	}
	d, err := demo.Start(ctx, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		return 1
	}
	defer func() {
		fmt.Println("demo: tearing down")
		if err := d.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "demo: teardown: %v\n", err)
			code = 1
		}
		cluster.ReapExited()
		if left := cluster.LiveChildren(); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "demo: processes left behind: %v\n", left)
			code = 1
		} else {
			fmt.Println("demo: stopped; no process left behind")
		}
	}()

	kubeconfig := d.Cluster.Kubeconfig
	fmt.Printf(`
demo: running.

Demo page: %s (lag per partition, CPU per instance, scaling states, live)

In another terminal:

  export KUBECONFIG=%s
  kubectl get consumers -w
  kubectl get deploy -l konsumerator.lwolf.org/consumer -w
  kubectl get deploy -o custom-columns='NAME:.metadata.name,PARTITIONS:.metadata.annotations.konsumerator\.lwolf\.org/partition,SCALING:.metadata.annotations.konsumerator\.lwolf\.org/scaling-status,DECIDED:.metadata.annotations.konsumerator\.lwolf\.org/resources'
  kubectl get pods -o custom-columns='NAME:.metadata.name,UID:.metadata.uid,CPU:.spec.containers[0].resources.requests.cpu,RESTARTS:.status.containerStatuses[0].restartCount'
  kubectl get events --field-selector involvedObject.kind=Consumer
  kill %d      # the operator: the demo starts it again, as its Deployment would

Operator metrics: %s (plain HTTP; per instance: curl -s %s | grep '^konsumerator_instance_')
Prometheus (HTTP API only, no web UI; it scrapes the operator too): curl -sG '%s/api/v1/query' --data-urlencode 'query=%s'
Logs: %s
Scenario: steady %s, lag spike on partitions 2 and 3 (instance demo-1) %s, recovery %s, repeated. Ctrl-C stops.
Consumer model: each pod reads %g messages/s per core of the CPU it has (reads= below), from %s after its
container starts (nothing while it restarts); production is %g/s per partition, %g/s on 2 and 3 in the spike.

`, d.Page.URL, kubeconfig, d.Operator.Current().Pid(), d.MetricsURL, d.MetricsURL, d.Prometheus.URL, "konsumerator_instance_lag_seconds",
		d.Cluster.Dir+"/logs", demo.Timeline()[0].For, demo.Timeline()[1].For, demo.Timeline()[2].For,
		d.Exporter.PerCore(), demo.RejoinTime, demo.Scenario().Steady, demo.Scenario().Spike)

	go d.Exporter.Cycle(ctx, demo.Timeline(), func(ph exporter.Phase) {
		fmt.Printf("demo: --- scenario phase: %s ---\n", ph)
	})
	if d.KafkaConsumer != nil {
		fmt.Printf("Kafka mode: Consumer %s/%s reads the same offsets from Kafka at %s (kubectl get consumers -A)\n\n",
			d.KafkaConsumer.Namespace, d.KafkaConsumer.Name, d.Kafka.Addrs[0])
	}
	last, lastKafka, pid := "", "", d.Operator.Current().Pid()
	var prev demo.State
	const lagEvery = 6 * time.Second
	lastLag, lagAt := "", time.Time{}
	ticker := time.NewTicker(2 * time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0
		case <-ticker.C:
			if p := d.Operator.Current().Pid(); p != pid {
				fmt.Printf("demo: the operator runs again (pid %d)\n", p)
				pid = p
			}
			st, err := d.Observe(ctx)
			if err != nil {
				continue
			}
			// How each resize reached the pod: in place (same pod, no restart) or by a new pod.
			for _, line := range st.Changes(prev) {
				fmt.Printf("demo: %s\n", line)
			}
			prev = st
			// One line whenever something a person would notice changes.
			if s := st.Summary(); s != last {
				fmt.Printf("demo: %s\n", s)
				last = s
			}
			if d.KafkaConsumer != nil {
				if st, err := d.ObserveConsumer(ctx, d.KafkaConsumer); err == nil {
					if s := st.Summary(); s != lastKafka {
						fmt.Printf("demo (kafka mode): %s\n", s)
						lastKafka = s
					}
				}
			}
			// The lag in figures every few seconds while it moves: the backlog growing, then worked off.
			if time.Since(lagAt) >= lagEvery {
				if l := demo.LagSummary(demo.Lags(st, d.Exporter.Figures())); l != lastLag {
					fmt.Printf("demo: %s\n", l)
					lastLag = l
				}
				lagAt = time.Now()
			}
		}
	}
}
