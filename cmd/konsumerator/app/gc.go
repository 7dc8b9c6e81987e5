package app

import (
	"math"
	"os"
	"runtime/debug"
	"strconv"
)

// DefaultGCPercent is the garbage collector's target when the environment has no GOGC: a collection starts once
// the heap has grown by half of what the last one left, instead of Go's default of all of it (GOGC=100).
//
// Why: the operator's live heap is small and mostly its cache, and a decision briefly holds two generations of
// the objects it changes (the pass's snapshot and the cache's answers to its writes). At Go's default the heap
// then grows to twice that before it is collected, and the memory a process has touched stays resident. 50
// holds the peak of resizing 1,000 pods about 10 MiB lower for more collector CPU while the cache churns, and
// little at rest (figures: docs/benchmarks.md, the resize scenario); Prometheus makes the same trade with 75.
const DefaultGCPercent = 50

// gcSetting is the collector target the operator runs with and where it comes from.
type gcSetting struct {
	// GOGC is the value as GOGC spells it: a percentage, or "off".
	GOGC string
	// Source is "environment" (GOGC set, which the Go runtime has applied) or "default" (DefaultGCPercent).
	Source string
}

// applyGCPercent sets DefaultGCPercent unless the environment sets GOGC, which the runtime has read at start
// and which stands, "off" included. An empty GOGC is unset, as it is for the runtime.
func applyGCPercent(lookup func(string) (string, bool), setPercent func(int) int) gcSetting {
	if v, ok := lookup("GOGC"); ok && v != "" {
		return gcSetting{GOGC: v, Source: "environment"}
	}
	setPercent(DefaultGCPercent)
	return gcSetting{GOGC: "50", Source: "default"}
}

// setGCPercent is applyGCPercent on the process.
func setGCPercent() gcSetting { return applyGCPercent(os.LookupEnv, debug.SetGCPercent) }

// memoryLimitText is the runtime's soft memory limit (GOMEMLIMIT) in bytes, "none" when there is none.
func memoryLimitText() string {
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
		return strconv.FormatInt(limit, 10)
	}
	return "none"
}
