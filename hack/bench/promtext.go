package main

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// sample is one line of the Prometheus text exposition format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseText reads the Prometheus text exposition format (what /metrics of the API server and of the operator
// serve). It keeps samples only; comments and type lines are skipped.
func parseText(r io.Reader) ([]sample, error) {
	var out []sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		s, err := parseSample(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func parseSample(text string) (sample, error) {
	s := sample{labels: map[string]string{}}
	end := strings.IndexAny(text, "{ \t")
	if end <= 0 {
		return s, fmt.Errorf("no value in %q", text)
	}
	s.name, text = text[:end], text[end:]
	if strings.HasPrefix(text, "{") {
		rest, err := parseLabels(text[1:], s.labels)
		if err != nil {
			return s, fmt.Errorf("%s: %w", s.name, err)
		}
		text = rest
	}
	// The value may be followed by a timestamp.
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return s, fmt.Errorf("%s: no value", s.name)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, fmt.Errorf("%s: value %q: %w", s.name, fields[0], err)
	}
	s.value = v
	return s, nil
}

// parseLabels reads `name="value",...}` into into and returns what follows the closing brace.
func parseLabels(text string, into map[string]string) (string, error) {
	for {
		text = strings.TrimLeft(text, " \t,")
		if strings.HasPrefix(text, "}") {
			return text[1:], nil
		}
		eq := strings.IndexByte(text, '=')
		if eq <= 0 || len(text) < eq+2 || text[eq+1] != '"' {
			return "", fmt.Errorf("bad label in %q", text)
		}
		name := strings.TrimSpace(text[:eq])
		text = text[eq+2:]
		var value strings.Builder
		closed := false
		for i := 0; i < len(text); i++ {
			c := text[i]
			if c == '\\' && i+1 < len(text) {
				i++
				switch text[i] {
				case 'n':
					value.WriteByte('\n')
				default:
					value.WriteByte(text[i])
				}
				continue
			}
			if c == '"' {
				text, closed = text[i+1:], true
				break
			}
			value.WriteByte(c)
		}
		if !closed {
			return "", fmt.Errorf("unterminated value of label %s", name)
		}
		into[name] = value.String()
	}
}

// writeVerbs are the verbs of apiserver_request_total that change something. The API server reports a create as
// POST, an update as PUT and a server-side apply as APPLY; CREATE and UPDATE are kept in case a version names
// them by the Kubernetes verb instead of the HTTP method.
var writeVerbs = map[string]bool{
	"POST": true, "PUT": true, "PATCH": true, "APPLY": true, "DELETE": true, "DELETECOLLECTION": true,
	"CREATE": true, "UPDATE": true,
}

// writeCounts are the API server's write requests so far, as "resource[/subresource] VERB" → count. Dry runs
// persist nothing and are left out.
type writeCounts map[string]float64

func apiserverWrites(samples []sample) writeCounts {
	out := writeCounts{}
	for _, s := range samples {
		if s.name != "apiserver_request_total" || !writeVerbs[s.labels["verb"]] || s.labels["dry_run"] != "" {
			continue
		}
		out[writeKey(s.labels["resource"], s.labels["subresource"], s.labels["verb"])] += s.value
	}
	return out
}

func writeKey(resource, subresource, verb string) string {
	if subresource != "" {
		resource += "/" + subresource
	}
	return resource + " " + verb
}

// since returns what was written after before was taken.
func (w writeCounts) since(before writeCounts) writeCounts {
	out := writeCounts{}
	for k, v := range w {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// of sums the counts of one resource (e.g. "deployments" or "consumers/status") over all verbs.
func (w writeCounts) of(resource string) float64 {
	total := 0.0
	for k, v := range w {
		if strings.HasPrefix(k, resource+" ") {
			total += v
		}
	}
	return total
}

// total sums every count.
func (w writeCounts) total() float64 {
	t := 0.0
	for _, v := range w {
		t += v
	}
	return t
}

// remove takes n writes of a key away (writes that are not the operator's), dropping the key at zero.
func (w writeCounts) remove(key string, n float64) {
	if w[key] -= n; w[key] <= 0 {
		delete(w, key)
	}
}

// String lists the counts sorted by key, e.g. "consumers/status APPLY=1 deployments APPLY=1000".
func (w writeCounts) String() string {
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%g", k, w[k]))
	}
	return strings.Join(parts, " ")
}

// sum adds the values of the samples called name whose labels include match.
func sum(samples []sample, name string, match map[string]string) (float64, bool) {
	total, found := 0.0, false
next:
	for _, s := range samples {
		if s.name != name {
			continue
		}
		for k, v := range match {
			if s.labels[k] != v {
				continue next
			}
		}
		total += s.value
		found = true
	}
	return total, found
}

// requestTime is the API server's own time spent serving one kind of request: how many, and their summed
// durations (apiserver_request_duration_seconds).
type requestTime struct {
	key     string // "resource[/subresource] VERB"
	count   float64
	seconds float64
}

// requestTimes are the API server's request durations so far by kind, long-running watches left out.
func requestTimes(samples []sample) map[string]requestTime {
	out := map[string]requestTime{}
	for _, s := range samples {
		var seconds bool
		switch s.name {
		case "apiserver_request_duration_seconds_sum":
			seconds = true
		case "apiserver_request_duration_seconds_count":
		default:
			continue
		}
		if v := s.labels["verb"]; v == "WATCH" || v == "WATCHLIST" || v == "CONNECT" {
			continue
		}
		k := writeKey(s.labels["resource"], s.labels["subresource"], s.labels["verb"])
		t := out[k]
		t.key = k
		if seconds {
			t.seconds += s.value
		} else {
			t.count += s.value
		}
		out[k] = t
	}
	return out
}

// busiest returns the kinds of request that took the API server the most time between before and after, most
// first, at most n.
func busiest(before, after map[string]requestTime, n int) []requestTime {
	var out []requestTime
	for k, a := range after {
		b := before[k]
		if d := (requestTime{key: k, count: a.count - b.count, seconds: a.seconds - b.seconds}); d.count > 0 {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seconds > out[j].seconds })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// serverTimeText says where the API server's time went: "deployments APPLY 5000 × 21.3 ms = 106.5 s; …".
func serverTimeText(times []requestTime) string {
	parts := make([]string, len(times))
	for i, t := range times {
		parts[i] = fmt.Sprintf("%s %.0f × %.1f ms = %.1f s", t.key, t.count, 1000*t.seconds/t.count, t.seconds)
	}
	return strings.Join(parts, "; ")
}
