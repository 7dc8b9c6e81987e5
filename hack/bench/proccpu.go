package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// cpuByProgram is CPU time in seconds by program: the bench itself and every program it started (kube-apiserver,
// etcd, Prometheus, the operator), by command name. On a machine of a few cores they all share the same cores, so
// a window's wall time is at least their CPU over the cores: the figures say who spent the window.
type cpuByProgram map[string]float64

// benchProgram is the name the bench's own CPU is listed under.
const benchProgram = "bench"

// readCPUByProgram reads /proc for the bench and its children.
func readCPUByProgram() (cpuByProgram, error) {
	self := os.Getpid()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
	}
	out := cpuByProgram{}
	for _, path := range stats {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue // the process ended between the listing and the read
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		name, ppid, err := parseNameAndParent(string(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if pid != self && ppid != self {
			continue
		}
		if pid == self {
			name = benchProgram
		}
		cpu, err := parseCPUSeconds(string(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out[name] += cpu
	}
	return out, nil
}

// parseNameAndParent reads the command name (field 2, in parentheses, which it may itself hold) and the parent's
// pid (field 4) of a /proc/<pid>/stat line.
func parseNameAndParent(stat string) (string, int, error) {
	open, end := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return "", 0, fmt.Errorf("no command name in /proc stat")
	}
	fields := strings.Fields(stat[end+1:])
	if len(fields) < 2 {
		return "", 0, fmt.Errorf("/proc stat has %d fields after the command name", len(fields))
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return "", 0, fmt.Errorf("parent pid %q: %w", fields[1], err)
	}
	return stat[open+1 : end], ppid, nil
}

// since is the CPU spent by each program between before and c.
func (c cpuByProgram) since(before cpuByProgram) cpuByProgram {
	out := cpuByProgram{}
	for name, v := range c {
		out[name] = v - before[name]
	}
	return out
}

func (c cpuByProgram) total() float64 {
	var t float64
	for _, v := range c {
		t += v
	}
	return t
}

// cpuWindow is the CPU of every program over one timed window.
type cpuWindow struct {
	wallSeconds float64
	cpu         cpuByProgram
}

// String reads e.g. "kube-apiserver 20.1 s, bench 5.5 s, etcd 3.5 s: 29.1 of the 34.6 core-seconds of 2 CPUs in 17.3 s".
func (w cpuWindow) String() string {
	names := make([]string, 0, len(w.cpu))
	for name := range w.cpu {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		if w.cpu[a] != w.cpu[b] {
			if w.cpu[a] > w.cpu[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = fmt.Sprintf("%s %.1f s", name, w.cpu[name])
	}
	return fmt.Sprintf("%s: %.1f of the %.1f core-seconds of %d CPUs in %.1f s", strings.Join(parts, ", "),
		w.cpu.total(), w.wallSeconds*float64(runtime.NumCPU()), runtime.NumCPU(), w.wallSeconds)
}

// writeCPUTable prints, for the baseline and the converge, the median CPU of each program over the runs, their
// total and the core-seconds the machine had in the window's median wall time.
func writeCPUTable(w io.Writer, rows []manyResult) {
	windows := []struct {
		name string
		of   func(manyResult) cpuWindow
	}{
		{"baseline", func(r manyResult) cpuWindow { return r.baselineCPU }},
		{"converge", func(r manyResult) cpuWindow { return r.convergeCPU }},
	}
	seen := map[string]bool{}
	for _, r := range rows {
		for _, win := range windows {
			for name := range win.of(r).cpu {
				seen[name] = true
			}
		}
	}
	names := slices.Sorted(maps.Keys(seen))
	header := append([]string{"window", "wall s", "core-seconds available"}, names...)
	table := [][]string{append(header, "all programs")}
	for _, win := range windows {
		m := func(f func(cpuWindow) float64) float64 {
			return manyMedian(rows, func(r manyResult) float64 { return f(win.of(r)) })
		}
		wall := m(func(c cpuWindow) float64 { return c.wallSeconds })
		row := []string{win.name, fmt.Sprintf("%.1f", wall), fmt.Sprintf("%.1f", wall*float64(runtime.NumCPU()))}
		for _, name := range names {
			row = append(row, fmt.Sprintf("%.1f", m(func(c cpuWindow) float64 { return c.cpu[name] })))
		}
		table = append(table, append(row, fmt.Sprintf("%.1f", m(func(c cpuWindow) float64 { return c.cpu.total() }))))
	}
	fmt.Fprintf(w, "\nCPU seconds by program (the bench and what it started; medians of %d run(s)):\n", len(rows))
	writeTableLeft(w, table, 1)
}
