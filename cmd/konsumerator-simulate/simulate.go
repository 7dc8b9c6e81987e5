package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/konsumerator/konsumerator/internal/consumerfile"
	"github.com/konsumerator/konsumerator/simulate"
)

const simulateUsage = `Usage: konsumerator simulate -f CONSUMER.yaml [--scenario NAME|all | --trace FILE.csv] [--duration 6h] [--out DIR] [flags]
       konsumerator-simulate ...  (the program that konsumerator simulate runs; the same flags)

Runs the planner in a loop over simulated time against a trace of production, with a consumer whose throughput
follows the CPU it is given, and prints what it adds up to: lag against tolerableLag, CPU core-hours, restarts.
No cluster, no Prometheus, no clock: the same inputs give the same output.

Input:
  -f, --consumer           a Consumer manifest (konsumerator.lwolf.org/v1 or v1alpha1); "-" reads standard input
  --scenario               a built-in scenario, or all (the default when there is no --trace):
%s  --trace                  a CSV trace instead: header time,partition,production[,backlog]; time as an offset
                           (90s), Unix seconds or RFC 3339; production in messages/s, interpolated linearly;
                           backlog (optional) on a partition's first row only
  --duration               how long to simulate (default: the trace's length, 6h for a scenario)
Output:
  --out                    directory for summary.txt, timeline.csv, decisions.txt and the picture (per scenario
                           with --scenario all); without it only the summary is printed
  --format                 picture format: png (default) or svg
Consumer model:
  --container              the container whose CPU consumes (default: the template's first)
  --capacity-per-core      messages/s one core processes (default: the spec's ratePerCore)
  --burst                  the consumer may use CPU up to its limit (default: only its request, a busy node)
  --pause                  consumption stops this long after a restart, the rebalance (default 30s)
  --pause-scope            instance (default) or group: who pauses when one instance restarts
  --rollout-time           a changed Deployment is in flight this long (default 1m)
  --noise                  vary each partition's production by up to this fraction, a new draw each minute (default 0)
  --seed                   seed of the noise (default 1)
Metrics and operator:
  --scrape-interval        Prometheus scrape interval (default 15s)
  --rate-window            the rate() window of the production and consumption queries (default 2m)
  --sync-period            how often the operator plans without an event (default: the spec's minSyncPeriod)
  --gap                    FROM+LENGTH[:query|scrape], e.g. 1h+20m:query, repeatable: no metrics for a while
                           (query: Prometheus does not answer; scrape, the default: the exporter is not scraped)
  --max-rollouts-in-flight the operator's rollout budget (default: a tenth of the instances, at least 1)
  --metrics-stale-after    the operator's staleness limit (default: 3 x minSyncPeriod)
  --step                   resolution of the consumer model (default 1s)
  --record-every           timeline resolution (default: the sync period)
`

type gapFlags []simulate.Gap

func (g *gapFlags) String() string { return fmt.Sprint(*g) }

func (g *gapFlags) Set(v string) error {
	spec, kind, _ := strings.Cut(v, ":")
	from, length, ok := strings.Cut(spec, "+")
	if !ok {
		return fmt.Errorf("gap %q: want FROM+LENGTH[:query|scrape], e.g. 1h+20m:query", v)
	}
	f, err1 := time.ParseDuration(from)
	l, err2 := time.ParseDuration(length)
	if err1 != nil || err2 != nil || f < 0 || l <= 0 {
		return fmt.Errorf("gap %q: FROM and LENGTH are durations, LENGTH positive", v)
	}
	k := simulate.GapScrape
	switch kind {
	case "", "scrape":
	case "query":
		k = simulate.GapQuery
	default:
		return fmt.Errorf("gap %q: the kind is query or scrape", v)
	}
	*g = append(*g, simulate.Gap{From: f, To: f + l, Kind: k})
	return nil
}

func runSimulate(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o := simulate.DefaultOptions()
	var consumer, scenario, trace, out, format, scope string
	var gaps gapFlags
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, simulateUsage, simulate.ScenarioHelp()) }
	for _, name := range []string{"f", "consumer"} {
		fs.StringVar(&consumer, name, "", "Consumer manifest file, - for stdin")
	}
	fs.StringVar(&scenario, "scenario", "", "built-in scenario or all")
	fs.StringVar(&trace, "trace", "", "CSV trace file")
	fs.DurationVar(&o.Duration, "duration", 0, "simulated time")
	fs.StringVar(&out, "out", "", "output directory")
	fs.StringVar(&format, "format", "png", "png or svg")
	fs.StringVar(&o.Container, "container", "", "consuming container")
	fs.Float64Var(&o.CapacityPerCore, "capacity-per-core", 0, "messages/s per core")
	fs.BoolVar(&o.Burst, "burst", false, "consume up to the CPU limit")
	fs.DurationVar(&o.Pause, "pause", o.Pause, "pause after a restart")
	fs.StringVar(&scope, "pause-scope", string(o.PauseScope), "instance or group")
	fs.DurationVar(&o.RolloutTime, "rollout-time", o.RolloutTime, "rollout time")
	fs.Float64Var(&o.Noise, "noise", 0, "production noise fraction")
	fs.Uint64Var(&o.Seed, "seed", 1, "noise seed")
	fs.DurationVar(&o.ScrapeInterval, "scrape-interval", o.ScrapeInterval, "scrape interval")
	fs.DurationVar(&o.RateWindow, "rate-window", o.RateWindow, "rate() window")
	fs.DurationVar(&o.SyncPeriod, "sync-period", 0, "sync period")
	fs.Var(&gaps, "gap", "FROM+LENGTH[:query|scrape]")
	fs.IntVar(&o.MaxRolloutsInFlight, "max-rollouts-in-flight", 0, "rollout budget")
	fs.DurationVar(&o.MetricsStaleAfter, "metrics-stale-after", 0, "metrics staleness")
	fs.DurationVar(&o.Step, "step", o.Step, "model resolution")
	fs.DurationVar(&o.RecordEvery, "record-every", 0, "timeline resolution")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	o.PauseScope, o.Gaps, o.KeepDecisions = simulate.PauseScope(scope), gaps, out != ""
	if fs.NArg() > 0 || consumer == "" || (scenario != "" && trace != "") ||
		(format != string(simulate.PNG) && format != string(simulate.SVG)) {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return 1
	}
	c, err := consumerfile.Load(consumer, stdin)
	if err != nil {
		return fail(err)
	}
	var traces []*simulate.Trace
	switch {
	case trace != "":
		f, err := os.Open(trace)
		if err != nil {
			return fail(err)
		}
		t, err := simulate.ParseCSV(f, filepath.Base(trace))
		_ = f.Close()
		if err != nil {
			return fail(err)
		}
		traces = append(traces, t)
	default:
		prof, err := simulate.ProfileOf(c, o)
		if err != nil {
			return fail(err)
		}
		names := []string{scenario}
		if scenario == "" || scenario == "all" {
			names = simulate.ScenarioNames()
		}
		for _, n := range names {
			t, err := simulate.Scenario(n, prof)
			if err != nil {
				return fail(err)
			}
			traces = append(traces, t)
		}
	}
	var table strings.Builder
	table.WriteString(simulate.TableHeader)
	for i, t := range traces {
		r, err := simulate.Run(c, t, o)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", t.Name, err))
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprint(stdout, r.Summary())
		table.WriteString(r.TableRow())
		if out != "" {
			dir := out
			if len(traces) > 1 {
				dir = filepath.Join(out, t.Name)
			}
			if err := writeResult(dir, r, simulate.Format(format)); err != nil {
				return fail(err)
			}
		}
	}
	if len(traces) > 1 {
		fmt.Fprint(stdout, "\n", table.String())
	}
	return 0
}

func writeResult(dir string, r *simulate.Result, format simulate.Format) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(r.Summary()), 0o644); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer) error{
		"timeline.csv":           r.WriteTimeline,
		"decisions.txt":          r.WriteDecisions,
		"plot." + string(format): func(w io.Writer) error { return r.WritePlot(w, format) },
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		err = write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, name), err)
		}
	}
	return nil
}
