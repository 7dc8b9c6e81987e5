package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicksPerSecond is USER_HZ, the unit of utime and stime in /proc/<pid>/stat; Linux fixes it at 100 for
// user space on every architecture it runs on.
const clockTicksPerSecond = 100

// peakRSSBytes reads VmHWM, the peak resident set size, from /proc/<pid>/status.
func peakRSSBytes(pid int) (int64, error) { return statusKB(pid, "VmHWM") }

// rssBytes reads VmRSS, the resident set size now, from /proc/<pid>/status.
func rssBytes(pid int) (int64, error) { return statusKB(pid, "VmRSS") }

// fileRSSBytes reads RssFile, the resident pages mapped from files, from /proc/<pid>/status: for the operator,
// a static binary that maps no other file, the pages of its own executable. They are part of every RSS figure
// and do not depend on what the operator holds.
func fileRSSBytes(pid int) (int64, error) { return statusKB(pid, "RssFile") }

// statusKB reads one "Field:   1234 kB" line of /proc/<pid>/status, in bytes.
func statusKB(pid int, field string) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseStatusKB(string(raw), field)
}

func parseVmHWM(status string) (int64, error) { return parseStatusKB(status, "VmHWM") }

// parseStatusKB reads a "Field:   1234 kB" line of /proc/<pid>/status, in bytes.
func parseStatusKB(status, field string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		rest, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("unexpected %s line %q", field, line)
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s %q: %w", field, fields[0], err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no %s in /proc status", field)
}

// cpuSeconds reads the user and system CPU time of a process from /proc/<pid>/stat.
func cpuSeconds(pid int) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseCPUSeconds(string(raw))
}

func parseCPUSeconds(stat string) (float64, error) {
	// The command name (field 2) is in parentheses and may hold spaces and parentheses: count fields from the
	// last closing one. utime and stime are fields 14 and 15 of the whole line.
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("no command name in /proc stat")
	}
	fields := strings.Fields(stat[end+1:])
	// fields[0] is field 3 (state), so field n is fields[n-3].
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc stat has %d fields after the command name", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu ticks %q: %w", f, err)
		}
		ticks += n
	}
	return float64(ticks) / clockTicksPerSecond, nil
}

func readFile(path string) (string, error) {
	raw, err := os.ReadFile(path)
	return string(raw), err
}
