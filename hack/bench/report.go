package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
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

func report(w io.Writer, rows []scenario, o options, env environment) {
	fmt.Fprintf(w, "\nkonsumerator bench: medians of %d run(s); %d CPUs, %s memory; load average %s before, %s after; %s in all\n",
		o.runs, runtime.NumCPU(), memTotal(), env.loadBefore, env.loadAfter, env.took.Round(time.Second))
	fmt.Fprintf(w, "baseline: the same N server-side applies from a bare client with %d workers; ratio = converge / baseline (median of per-run ratios)\n", o.baselineWorkers)
	if len(o.operatorArgs) > 0 {
		fmt.Fprintf(w, "operator flags: %s\n", strings.Join(o.operatorArgs, " "))
	}
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
	for _, line := range targets(rows) {
		fmt.Fprintln(w, "  "+line)
	}
}

// targets compares the figures with the goals of the scale work.
func targets(rows []scenario) []string {
	var out []string
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
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

// writeTable prints a Markdown table with aligned columns, readable as text and pasteable into the docs.
func writeTable(w io.Writer, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], len(cell))
		}
	}
	line := func(cells []string) {
		parts := make([]string, len(cells))
		for i, c := range cells {
			if i < 2 {
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
		if i < 2 {
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
