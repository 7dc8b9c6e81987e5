package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// median of the values; the mean of the two middle ones for an even count. NaN-free input is assumed.
func median(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	s := slices.Clone(values)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// parseSizes reads a list like "100,1000".
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("instance count %q: want a positive integer", part)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no instance count in %q", s)
	}
	return out, nil
}

// mib formats bytes as MiB with one decimal.
func mib(bytes float64) string { return fmt.Sprintf("%.1f", bytes/(1<<20)) }

// The scenarios -scenarios chooses from.
const (
	scenarioCreate = "create"
	scenarioResize = "resize"
	scenarioMany   = "many"
	// scenarioManyKafka is the many scenario in Kafka mode.
	scenarioManyKafka = "many-kafka"
	// scenarioAPICost is the API server's CPU per request of each kind a new Consumer costs.
	scenarioAPICost = "api-cost"
)

// parseScenarios reads a list like "create,resize".
func parseScenarios(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		switch part = strings.TrimSpace(part); part {
		case "":
		case scenarioCreate, scenarioResize, scenarioMany, scenarioManyKafka, scenarioAPICost:
			out[part] = true
		default:
			return nil, fmt.Errorf("unknown scenario %q: want %s, %s, %s, %s or %s", part, scenarioCreate, scenarioResize,
				scenarioMany, scenarioManyKafka, scenarioAPICost)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scenario in %q", s)
	}
	return out, nil
}
