// Package demo runs the whole picture on one machine: a local cluster (internal/cluster), the synthetic lag
// exporter (internal/exporter), a real Prometheus scraping it, the operator as a separate process, and the demo
// Consumer of config/samples/demo. `make demo` runs it until Ctrl-C; the end-to-end test drives the same thing.
package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/cluster"
	"github.com/konsumerator/konsumerator/internal/exporter"
	"github.com/konsumerator/konsumerator/internal/gobuild"
	"github.com/konsumerator/konsumerator/internal/testenv"
	"github.com/konsumerator/konsumerator/observer/lag/promtest"
)

// ConsumerFile is the demo Consumer, relative to the checkout.
const ConsumerFile = "config/samples/demo/consumer.yaml"

// OperatorBinaryEnv names a variable pointing at a built konsumerator binary, so that make can pass the one it
// built; without it the demo builds one.
const OperatorBinaryEnv = "KONSUMERATOR_BIN"

// Scenario is the load the demo simulates for the demo Consumer: partitions 2 and 3 (instance demo-1) get a
// spike of four times the steady production, more than demo-1 reads at its steady size.
//
// The synthetic consumer reads PerCore messages per second per core of the CPU its pod has, the demo
// Consumer's ratePerCore: the operator's model of the consumer is right, so what it decides is what happens.
// The steady 12.5 messages/s per partition ask for 300m per instance (25 messages/s plus a second of backlog
// over the one-minute recoveryTime, rounded up to 100m), far from any rounding edge, so the instances the spike
// does not touch never change; at 300m an instance reads up to 30 messages/s.
func Scenario() exporter.Scenario {
	return exporter.Scenario{
		NumPartitions: 6,
		Steady:        12.5,
		Lagging:       []int32{2, 3},
		Spike:         50,
		Latency:       time.Second,
		PerCore:       100,
	}
}

// Timeline is the scenario `make demo` repeats: long enough in each phase to see the operator wait for its
// pending durations and act, and the spike long enough that demo-1 works its backlog off while the spike
// still lasts, because it was given the CPU to.
func Timeline() []exporter.Step {
	return []exporter.Step{
		{Phase: exporter.Steady, For: 45 * time.Second},
		{Phase: exporter.Spike, For: time.Minute},
		{Phase: exporter.Recovery, For: 2 * time.Minute},
	}
}

// Options shape a demo run.
type Options struct {
	// Progress receives what the demo is doing; nil discards it.
	Progress io.Writer
	// OperatorLog receives the operator's log as it is written (it is also kept in logs/konsumerator.log).
	OperatorLog io.Writer
	// Dir keeps the kubeconfig and logs; a temporary directory, removed on Stop, when empty.
	Dir string
	// PageAddress is where the demo page listens (default 127.0.0.1:0, a free loopback port).
	PageAddress string
	// MetricsAddress is where the operator serves its metrics, in plain HTTP (default: a free loopback port,
	// chosen once, so that an operator started again serves at the same address).
	MetricsAddress string
	// OnOperatorRestart, when set, is told each time the operator exited and is about to be started again.
	OnOperatorRestart func(exit error, after time.Duration)
	// OperatorArgs are added to the operator's command line (`konsumerator run`), e.g. its rollout flags.
	OperatorArgs []string
	// Kafka also runs a Kafka-mode Consumer (KafkaConsumer) next to the Prometheus one, reading the offsets of
	// an in-process Kafka cluster that mirrors the exporter (KafkaMirror).
	Kafka bool
}

// Demo is a running demo.
type Demo struct {
	Cluster    *cluster.Cluster
	Exporter   *exporter.Exporter
	Prometheus *promtest.Prometheus
	// Operator is started again whenever it exits, as the kubelet would restart the operator's Pod.
	Operator *cluster.Supervised
	// Page serves the plots and the table a person looks at (Page.URL).
	Page *Page
	// MetricsURL is the operator's metrics endpoint, http://host:port/metrics; the demo's Prometheus scrapes it.
	MetricsURL string
	// Consumer is the demo Consumer as it was created.
	Consumer *konsumeratorv1.Consumer
	// Kafka and KafkaConsumer are set with Options.Kafka.
	Kafka         *KafkaMirror
	KafkaConsumer *konsumeratorv1.Consumer
}

// Start brings everything up and creates the demo Consumer once Prometheus has data for every partition (so
// that the first plan already sees the steady load). On error, whatever was started is stopped.
func Start(ctx context.Context, opts Options) (d *Demo, err error) {
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	consumer, err := LoadConsumer(filepath.Join(testenv.RepoRoot(), ConsumerFile))
	if err != nil {
		return nil, err
	}
	scenario := Scenario()
	if consumer.Spec.NumPartitions != scenario.NumPartitions {
		return nil, fmt.Errorf("%s has %d partitions, the scenario %d", ConsumerFile, consumer.Spec.NumPartitions, scenario.NumPartitions)
	}

	d = &Demo{}
	c, err := cluster.Start(ctx, cluster.Options{Dir: opts.Dir, Progress: progress})
	if err != nil {
		return nil, err
	}
	d.Cluster = c
	defer func() {
		if err != nil {
			_ = d.Stop()
			d = nil
		}
	}()

	fmt.Fprintln(progress, "demo: starting the synthetic exporter and Prometheus")
	if d.Exporter, err = exporter.Start(scenario); err != nil {
		return d, err
	}
	c.OnStop(func() error { d.Exporter.Stop(); return nil })
	bin, err := promtest.Binary()
	if err != nil {
		return d, err
	}
	metricsAddr := opts.MetricsAddress
	if metricsAddr == "" || strings.HasSuffix(metricsAddr, ":0") {
		if metricsAddr, err = promtest.FreeAddress(); err != nil {
			return d, err
		}
	}
	d.MetricsURL = "http://" + metricsAddr + "/metrics"
	// Prometheus scrapes the operator too, so the dashboard's queries can be tried on the demo.
	if d.Prometheus, err = promtest.StartPrometheus(bin, []string{d.Exporter.Addr, metricsAddr}, 2*time.Minute); err != nil {
		return d, err
	}
	c.OnStop(func() error { d.Prometheus.Stop(); return nil })
	prom := consumer.Spec.Autoscaler.Prometheus
	if err := WaitForData(ctx, d.Prometheus, consumer, 2*time.Minute); err != nil {
		return d, err
	}

	fmt.Fprintln(progress, "demo: building and starting the operator")
	operator, err := OperatorBinary(ctx, c.Dir)
	if err != nil {
		return d, err
	}
	args := append([]string{"run",
		// Plain HTTP on loopback, so that curl and the demo's Prometheus can read it without a token: a
		// cluster's operator keeps the default, HTTPS for callers the API server vouches for.
		"--metrics-bind-address=" + metricsAddr, "--metrics-secure=false", "--health-probe-bind-address=0",
		"--zap-encoder=console", "--zap-time-encoding=rfc3339"}, opts.OperatorArgs...)
	d.Operator, err = c.StartSupervised("konsumerator", opts.OperatorLog, []string{"KUBECONFIG=" + c.Kubeconfig},
		opts.OnOperatorRestart, operator, args...)
	if err != nil {
		return d, err
	}

	prom.Address = []string{d.Prometheus.URL}
	fmt.Fprintf(progress, "demo: creating Consumer %s/%s (Prometheus at %s)\n", consumer.Namespace, consumer.Name, d.Prometheus.URL)
	created := consumer.DeepCopy()
	if err := c.Client.Create(ctx, created); err != nil {
		return d, fmt.Errorf("creating the demo Consumer: %w", err)
	}
	d.Consumer = created
	// From now on the topic is read by the Consumer's pods only, as fast as their CPU allows.
	followCtx, stopFollowing := context.WithCancel(context.WithoutCancel(ctx))
	c.OnStop(func() error { stopFollowing(); return nil })
	go d.follow(followCtx, created)

	if opts.Kafka {
		if d.Kafka, err = StartKafkaMirror(d.Exporter, consumer.Spec.NumPartitions); err != nil {
			return d, err
		}
		c.OnStop(func() error { d.Kafka.Stop(); return nil })
		if err := c.Client.Create(ctx, kafkaNamespace()); err != nil {
			return d, fmt.Errorf("creating namespace %s: %w", KafkaNamespace, err)
		}
		kc := KafkaConsumer(consumer, d.Kafka.Addrs)
		fmt.Fprintf(progress, "demo: creating Consumer %s/%s (Kafka at %s)\n", kc.Namespace, kc.Name, d.Kafka.Addrs[0])
		if err := c.Client.Create(ctx, kc); err != nil {
			return d, fmt.Errorf("creating the Kafka-mode Consumer: %w", err)
		}
		d.KafkaConsumer = kc
	}

	addr := opts.PageAddress
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if d.Page, err = StartPage(context.WithoutCancel(ctx), addr, time.Second, d.Sample); err != nil {
		return d, err
	}
	c.OnStop(func() error { d.Page.Stop(); return nil })
	return d, nil
}

// RateWindow is the range of the demo Consumer's rate() queries. Until Prometheus has scraped for that long, a
// rate extrapolates from part of the window and reads low, and instances would start too small.
const RateWindow = 10 * time.Second

// WaitForData waits until every query of the Consumer answers for every partition and Prometheus has scraped
// the exporter for longer than RateWindow, so that the first plan already sees the steady load.
func WaitForData(ctx context.Context, p *promtest.Prometheus, c *konsumeratorv1.Consumer, timeout time.Duration) error {
	prom := c.Spec.Autoscaler.Prometheus
	queries := []string{prom.Offset.Query, prom.Production.Query, prom.Consumption.Query,
		// Answers only once there are samples older than the window.
		fmt.Sprintf("%s offset %ds", exporter.ProductionOffsetMetric, int(RateWindow.Seconds())+2)}
	for _, q := range queries {
		if err := p.WaitForSeries(ctx, q, int(c.Spec.NumPartitions), timeout); err != nil {
			return err
		}
	}
	return nil
}

// Stop tears everything down: the operator, Prometheus and the exporter, then the cluster.
func (d *Demo) Stop() error {
	if d.Cluster == nil {
		return nil
	}
	return d.Cluster.Stop()
}

// LoadConsumer reads a Consumer manifest.
func LoadConsumer(path string) (*konsumeratorv1.Consumer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c konsumeratorv1.Consumer
	if err := yaml.UnmarshalStrict(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.Spec.Autoscaler == nil || c.Spec.Autoscaler.Prometheus == nil {
		return nil, fmt.Errorf("%s: the demo needs a Prometheus autoscaler", path)
	}
	return &c, nil
}

// OperatorBinary returns $KONSUMERATOR_BIN, or builds the operator into dir (the Go build cache makes later
// builds quick).
func OperatorBinary(ctx context.Context, dir string) (string, error) {
	if bin := os.Getenv(OperatorBinaryEnv); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("%s=%s: %w", OperatorBinaryEnv, bin, err)
		}
		return bin, nil
	}
	out := filepath.Join(dir, "konsumerator")
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", gobuild.Args(out)...)
	cmd.Dir = testenv.RepoRoot()
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the operator: %w\n%s", err, stderr.String())
	}
	return out, nil
}
