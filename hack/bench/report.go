package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/konsumerator/konsumerator/cmd/konsumerator/app"
)

// scenario is one instance count with one number of unrelated Deployments, over all runs.
type scenario struct {
	instances, unrelated int
	runs                 []runResult
}

func (s scenario) median(f func(runResult) float64) float64 {
	values := make([]float64, 0, len(s.runs))
	for _, r := range s.runs {
		values = append(values, f(r))
	}
	return median(values)
}

func (s scenario) baseline() float64 {
	return s.median(func(r runResult) float64 { return r.baseline.Seconds() })
}
func (s scenario) converge() float64 {
	return s.median(func(r runResult) float64 { return r.converge.Seconds() })
}
func (s scenario) ratio() float64 {
	return s.median(func(r runResult) float64 { return r.converge.Seconds() / r.baseline.Seconds() })
}
func (s scenario) deploymentWrites() float64 {
	return s.median(func(r runResult) float64 { return r.createWrites.of("deployments") })
}
func (s scenario) statusWrites() float64 {
	return s.median(func(r runResult) float64 { return r.createWrites.of("consumers/status") })
}
func (s scenario) eventWrites() float64 {
	return s.median(func(r runResult) float64 { return r.createWrites.of("events") })
}
func (s scenario) steadyPerReconcile() float64 {
	return s.median(func(r runResult) float64 { return r.steadyWrites / max(r.steadyReconciles, 1) })
}
func (s scenario) peakRSS() float64 {
	return s.median(func(r runResult) float64 { return float64(r.peakRSS) })
}
func (s scenario) cpu() float64 { return s.median(func(r runResult) float64 { return r.cpuSeconds }) }
func (s scenario) planCreate() float64 {
	return s.median(func(r runResult) float64 { return ms(r.planCreate) })
}
func (s scenario) planSteady() float64 {
	return s.median(func(r runResult) float64 { return ms(r.planSteady) })
}

// environment is what the reader needs to judge the figures.
type environment struct {
	loadBefore, loadAfter string
	took                  time.Duration
}

func report(w io.Writer, rows []scenario, resizeRows []resizeScenario, manyRows []manyResult,
	manyKafkaRows []manyKafkaResult, apiCostRows []apiCostRow, o options, env environment) {
	runs := o.runs
	if len(rows) == 0 && len(resizeRows) == 0 {
		runs = o.many.runs
	}
	fmt.Fprintf(w, "\nkonsumerator bench: medians of %d run(s); %d CPUs, %s memory; load average %s before, %s after; %s in all\n",
		runs, runtime.NumCPU(), memTotal(), env.loadBefore, env.loadAfter, env.took.Round(time.Second))
	if len(o.operatorArgs) > 0 {
		fmt.Fprintf(w, "operator flags: %s\n", strings.Join(o.operatorArgs, " "))
	}
	if len(o.operatorEnv) > 0 {
		fmt.Fprintf(w, "operator environment: %s\n", strings.Join(o.operatorEnv, " "))
	}
	fmt.Fprintf(w, "operator garbage collector: %s\n", gcSettingText(o.operatorEnv, os.LookupEnv))
	if len(rows) > 0 {
		reportCreate(w, rows, o)
	}
	if len(resizeRows) > 0 {
		reportResize(w, resizeRows, o)
	}
	if len(manyRows) > 0 {
		reportMany(w, manyRows, o)
	}
	if len(manyKafkaRows) > 0 {
		reportManyKafka(w, manyKafkaRows, o)
	}
	if len(apiCostRows) > 0 {
		reportAPICost(w, apiCostRows)
	}
}

func reportCreate(w io.Writer, rows []scenario, o options) {
	fmt.Fprintf(w, "\ncreate: a new Consumer of N instances\n")
	fmt.Fprintf(w, "baseline: the same N server-side applies from a bare client with %d workers; ratio = converge / baseline (median of per-run ratios)\n", o.baselineWorkers)
	fmt.Fprintln(w)
	header := []string{"instances", "unrelated", "baseline s", "converge s", "ratio", "deployment writes",
		"status writes", "event writes", "writes/reconcile (steady)", "peak RSS MiB", "CPU s", "plan create ms CPU", "plan steady ms CPU"}
	table := [][]string{header}
	for _, s := range rows {
		table = append(table, []string{
			fmt.Sprint(s.instances), fmt.Sprint(s.unrelated),
			fmt.Sprintf("%.2f", s.baseline()), fmt.Sprintf("%.2f", s.converge()), fmt.Sprintf("%.2fx", s.ratio()),
			fmt.Sprintf("%g", s.deploymentWrites()), fmt.Sprintf("%g", s.statusWrites()), fmt.Sprintf("%g", s.eventWrites()),
			fmt.Sprintf("%g", s.steadyPerReconcile()),
			mib(s.peakRSS()), fmt.Sprintf("%.2f", s.cpu()),
			fmt.Sprintf("%.2f", s.planCreate()), fmt.Sprintf("%.2f", s.planSteady()),
		})
	}
	writeTable(w, table)

	fmt.Fprintln(w, "\ntargets (read from the figures above, not asserted):")
	for _, line := range createTargets(rows) {
		fmt.Fprintln(w, "  "+line)
	}
}

// createTargets compares the figures with the goals of the scale work.
func createTargets(rows []scenario) []string {
	var out []string
	byKey := map[[2]int]scenario{}
	for _, s := range rows {
		byKey[[2]int{s.instances, s.unrelated}] = s
	}
	for _, s := range rows {
		label := fmt.Sprintf("N=%d unrelated=%d", s.instances, s.unrelated)
		if s.instances >= 1000 {
			out = append(out, fmt.Sprintf("%s: converge within 1.5x the baseline: %.2fx, %s", label, s.ratio(), verdict(s.ratio() <= 1.5)))
		}
		okWrites := s.deploymentWrites() == float64(s.instances) && s.statusWrites() <= 2
		out = append(out, fmt.Sprintf("%s: exactly N instance writes and at most 2 status writes: %g and %g, %s",
			label, s.deploymentWrites(), s.statusWrites(), verdict(okWrites)))
		out = append(out, fmt.Sprintf("%s: 0 writes per reconcile at steady state: %g, %s",
			label, s.steadyPerReconcile(), verdict(s.steadyPerReconcile() == 0)))
		if s.instances >= 1000 {
			rss := s.peakRSS() / (1 << 20)
			out = append(out, fmt.Sprintf("%s: peak RSS under 80 MiB: %.1f MiB, %s", label, rss, verdict(rss < 80)))
			out = append(out, fmt.Sprintf("%s: planner under 5 ms: %.2f ms create, %.2f ms steady, %s",
				label, s.planCreate(), s.planSteady(), verdict(s.planCreate() < 5 && s.planSteady() < 5)))
		}
		if s.unrelated > 0 {
			if empty, ok := byKey[[2]int{s.instances, 0}]; ok {
				growth := s.peakRSS()/empty.peakRSS() - 1
				out = append(out, fmt.Sprintf("%s: peak RSS grows at most 10%% with the unrelated Deployments: %+.1f%%, %s",
					label, 100*growth, verdict(growth <= 0.10)))
			}
		}
	}
	return out
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// resizeScenario is one instance count of the resize scenario, over all runs.
type resizeScenario struct {
	instances int
	runs      []resizeResult
}

func (s resizeScenario) median(f func(resizeResult) float64) float64 {
	values := make([]float64, 0, len(s.runs))
	for _, r := range s.runs {
		values = append(values, f(r))
	}
	return median(values)
}

// worst is the largest value over the runs: one restart in one run is one too many.
func (s resizeScenario) worst(f func(resizeResult) float64) float64 {
	out := 0.0
	for _, r := range s.runs {
		out = max(out, f(r))
	}
	return out
}

func (s resizeScenario) baseline() float64 {
	return s.median(func(r resizeResult) float64 { return r.baseline.Seconds() })
}
func (s resizeScenario) resize() float64 {
	return s.median(func(r resizeResult) float64 { return r.resize.Seconds() })
}
func (s resizeScenario) records() float64 {
	return s.median(func(r resizeResult) float64 { return r.records.Seconds() })
}
func (s resizeScenario) ratio() float64 { return s.median(resizeResult.ratio) }
func (s resizeScenario) ratioWithRecords() float64 {
	return s.median(resizeResult.ratioWithRecords)
}
func (s resizeScenario) recorded() float64 {
	return s.median(func(r resizeResult) float64 { return float64(r.recorded) })
}
func (s resizeScenario) resizeWrites() float64 {
	return s.median(func(r resizeResult) float64 { return r.resizeWrites() })
}
func (s resizeScenario) deploymentWrites() float64 {
	return s.median(func(r resizeResult) float64 { return r.deploymentWrites() })
}
func (s resizeScenario) statusWrites() float64 {
	return s.median(func(r resizeResult) float64 { return r.writes.of("consumers/status") })
}
func (s resizeScenario) eventWrites() float64 {
	return s.median(func(r resizeResult) float64 { return r.writes.of("events") })
}
func (s resizeScenario) otherWrites() float64 {
	return s.worst(func(r resizeResult) float64 { return r.otherWrites() })
}
func (s resizeScenario) templateChanges() float64 {
	return s.worst(func(r resizeResult) float64 { return float64(r.templateChanges) })
}
func (s resizeScenario) restarts() float64 {
	return s.worst(func(r resizeResult) float64 { return float64(r.restarts) })
}
func (s resizeScenario) notResized() float64 {
	return s.worst(func(r resizeResult) float64 { return float64(r.pods - r.resized) })
}
func (s resizeScenario) settleWrites() float64 {
	return s.worst(func(r resizeResult) float64 { return r.settleWrites.total() })
}
func (s resizeScenario) peakRSS() float64 {
	return s.median(func(r resizeResult) float64 { return float64(r.endUsage.peakRSS) })
}
func (s resizeScenario) peakRSSStart() float64 {
	return s.median(func(r resizeResult) float64 { return float64(r.startUsage.peakRSS) })
}
func (s resizeScenario) liveHeapEnd() float64 {
	return s.median(func(r resizeResult) float64 { return r.liveHeapEnd })
}
func (s resizeScenario) peakRSSInstances() float64 {
	return s.median(func(r resizeResult) float64 { return float64(r.instancesUsage.peakRSS) })
}
func (s resizeScenario) peakRSSPods() float64 {
	return s.median(func(r resizeResult) float64 { return float64(r.podsUsage.peakRSS) })
}
func (s resizeScenario) rssEnd() float64 {
	return s.median(func(r resizeResult) float64 { return r.rssEnd })
}
func (s resizeScenario) fileRSSEnd() float64 {
	return s.median(func(r resizeResult) float64 { return r.fileRSSEnd })
}
func (s resizeScenario) heapEnd() float64 {
	return s.median(func(r resizeResult) float64 { return r.heapEnd })
}
func (s resizeScenario) cpu() float64 {
	return s.median(func(r resizeResult) float64 { return r.endUsage.cpu })
}

// decisionCPU is the operator's CPU time from the decision to the end of the run.
func (s resizeScenario) decisionCPU() float64 {
	return s.median(func(r resizeResult) float64 { return r.endUsage.cpu - r.podsUsage.cpu })
}

func reportResize(w io.Writer, rows []resizeScenario, o options) {
	fmt.Fprintf(w, "\nresize: one decision (the policy's minimum cpu %s -> %s) resizes the running pod of each of N instances in place\n",
		resizeMinCPUBefore, resizeMinCPUAfter)
	fmt.Fprintf(w, "baseline: the same N pods/resize patches from a bare client with %d workers; ratio = resize / baseline (median of per-run ratios)\n", o.baselineWorkers)
	fmt.Fprintf(w, "records: the same client then applies the N Deployments with the new decision recorded, the write the operator makes after its resizes; ratio with records = resize / (baseline + records)\n")
	fmt.Fprintln(w, "template changes, restarts, pods not resized, other writes and writes after the kubelet: the worst run; the rest: medians")
	fmt.Fprintln(w)
	table := [][]string{{"instances", "baseline s", "records s", "resize s", "ratio", "ratio with records", "resize writes",
		"deployment writes", "template changes", "restarts", "not resized", "status writes", "event writes", "other writes",
		"writes after kubelet", "peak RSS MiB", "CPU s"}}
	memory := [][]string{{"instances", "peak RSS MiB: started", "+ instances", "+ pods", "+ resize", "RSS idle at end MiB", "of it executable MiB",
		"Go heap in use MiB", "heap left by last GC MiB", "CPU s: whole run", "decision"}}
	for _, s := range rows {
		table = append(table, []string{
			fmt.Sprint(s.instances),
			fmt.Sprintf("%.2f", s.baseline()), fmt.Sprintf("%.2f", s.records()), fmt.Sprintf("%.2f", s.resize()),
			fmt.Sprintf("%.2fx", s.ratio()), fmt.Sprintf("%.2fx", s.ratioWithRecords()),
			fmt.Sprintf("%g", s.resizeWrites()), fmt.Sprintf("%g", s.deploymentWrites()),
			fmt.Sprintf("%g", s.templateChanges()), fmt.Sprintf("%g", s.restarts()), fmt.Sprintf("%g", s.notResized()),
			fmt.Sprintf("%g", s.statusWrites()), fmt.Sprintf("%g", s.eventWrites()), fmt.Sprintf("%g", s.otherWrites()),
			fmt.Sprintf("%g", s.settleWrites()), mib(s.peakRSS()), fmt.Sprintf("%.2f", s.cpu()),
		})
		memory = append(memory, []string{fmt.Sprint(s.instances), mib(s.peakRSSStart()), mib(s.peakRSSInstances()),
			mib(s.peakRSSPods()), mib(s.peakRSS()), mib(s.rssEnd()), mib(s.fileRSSEnd()), mib(s.heapEnd()), mib(s.liveHeapEnd()),
			fmt.Sprintf("%.2f", s.cpu()), fmt.Sprintf("%.2f", s.decisionCPU())})
	}
	writeTableLeft(w, table, 1)
	fmt.Fprintln(w, "\nthe operator's memory and CPU by phase: peak RSS once started (caches synced, nothing to do), once the instances exist, once each has its running pod, and at the end (the whole run);")
	fmt.Fprintln(w, "idle at the end: RSS and the part of it that is the executable's own pages, Go heap in use, and the heap the last garbage collection left; CPU of the whole run and from the decision on")
	fmt.Fprintln(w)
	writeTableLeft(w, memory, 1)

	fmt.Fprintln(w, "\ntargets (read from the figures above, not asserted):")
	for _, line := range resizeTargets(rows) {
		fmt.Fprintln(w, "  "+line)
	}
}

// resizeTargets compares the figures with the goals of in-place resizing.
func resizeTargets(rows []resizeScenario) []string {
	var out []string
	for _, s := range rows {
		label := fmt.Sprintf("resize N=%d", s.instances)
		n := float64(s.instances)
		if s.instances >= 1000 {
			out = append(out, fmt.Sprintf("%s: within 1.5x the bare client: %.2fx, %s", label, s.ratio(), verdict(s.ratio() <= 1.5)))
		}
		out = append(out, fmt.Sprintf("%s: exactly one resize per pod, every pod resized: %g resizes, %g not resized, %s",
			label, s.resizeWrites(), s.notResized(), verdict(s.resizeWrites() == n && s.notResized() == 0)))
		out = append(out, fmt.Sprintf("%s: 0 template writes and 0 restarts: %g and %g, %s",
			label, s.templateChanges(), s.restarts(), verdict(s.templateChanges() == 0 && s.restarts() == 0)))
		out = append(out, fmt.Sprintf("%s: one instance write per instance, the recorded decision: %g writes, %g records, %s",
			label, s.deploymentWrites(), s.recorded(), verdict(s.deploymentWrites() == n && s.recorded() == n)))
		out = append(out, fmt.Sprintf("%s: nothing else written, nothing once the kubelet is done: %g and %g, %s",
			label, s.otherWrites(), s.settleWrites(), verdict(s.otherWrites() == 0 && s.settleWrites() == 0)))
		if s.instances >= 1000 {
			rss := s.peakRSS() / (1 << 20)
			out = append(out, fmt.Sprintf("%s: peak RSS with the pods in the cache at most 100 MiB: %.1f MiB, %s", label, rss, verdict(rss <= 100)))
		}
	}
	return out
}

// writeTable prints a Markdown table with aligned columns, readable as text and pasteable into the docs.
func writeTable(w io.Writer, rows [][]string) { writeTableLeft(w, rows, 2) }

// writeTableLeft is writeTable with the first left columns aligned left, the others right.
func writeTableLeft(w io.Writer, rows [][]string, left int) {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], len(cell))
		}
	}
	line := func(cells []string) {
		parts := make([]string, len(cells))
		for i, c := range cells {
			if i < left {
				parts[i] = fmt.Sprintf("%-*s", widths[i], c)
			} else {
				parts[i] = fmt.Sprintf("%*s", widths[i], c)
			}
		}
		fmt.Fprintln(w, "| "+strings.Join(parts, " | ")+" |")
	}
	line(rows[0])
	sep := make([]string, len(widths))
	for i, n := range widths {
		if i < left {
			sep[i] = strings.Repeat("-", n)
		} else {
			sep[i] = strings.Repeat("-", n-1) + ":"
		}
	}
	line(sep)
	for _, r := range rows[1:] {
		line(r)
	}
}

// memTotal is the machine's memory from /proc/meminfo.
func memTotal() string {
	raw, err := readFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(raw, "\n") {
		if rest, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%g kB", &kb); err == nil {
				return fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	return "unknown"
}

// gcSettingText says which GOGC the operator ran with, as the operator decides it (app.DefaultGCPercent unless
// its environment sets GOGC): the figures of memory and CPU depend on it.
func gcSettingText(operatorEnv []string, lookup func(string) (string, bool)) string {
	from := "the bench's environment"
	for _, kv := range slices.Backward(operatorEnv) { // the last one is what the operator gets
		if name, value, _ := strings.Cut(kv, "="); name == "GOGC" {
			lookup = func(string) (string, bool) { return value, true }
			from = "-operator-env"
			break
		}
	}
	if v, ok := app.EnvironmentGOGC(lookup); ok {
		return "GOGC=" + v + " (" + from + ")"
	}
	return fmt.Sprintf("GOGC=%d (the operator's default)", app.DefaultGCPercent)
}
