package simulate

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Trace is what producers do: messages per second per partition over simulated time, an optional backlog at
// the start, and events of the world around the consumer (metrics gaps, partitions added).
type Trace struct {
	// Name names the trace in the summary: a scenario's name or a file's.
	Name string
	// Description is one line on what the trace shows.
	Description string
	// Production is the rate of partition p at an offset from the start. It must be pure: the simulator may
	// call it in any order, and the same arguments must give the same rate.
	Production func(p int32, at time.Duration) float64
	// Backlog is the backlog of a partition at the start, in messages.
	Backlog map[int32]float64
	// Length is how long the trace has data; zero when it goes on for ever. The default duration of a run.
	Length time.Duration
	// Gaps are periods without metrics.
	Gaps []Gap
	// Resizes grow (or shrink) the topic; the Consumer's numPartitions follows at the same moment.
	Resizes []Resize
	// Partitions is how many partitions the trace has data for (0: any); a Consumer with fewer is refused.
	Partitions int32
}

// GapKind says what is missing during a gap.
type GapKind string

const (
	// GapQuery: Prometheus does not answer. The operator keeps the last sample, which goes stale.
	GapQuery GapKind = "query"
	// GapScrape: the exporter is not scraped. Prometheus answers, but the series have no fresh points, and
	// after the gap the rate() windows are only partly filled.
	GapScrape GapKind = "scrape"
)

// Gap is a period without metrics, [From, To).
type Gap struct {
	From, To time.Duration
	Kind     GapKind
}

func (g Gap) covers(at time.Duration) bool { return at >= g.From && at < g.To }

// Resize changes the number of partitions at a moment.
type Resize struct {
	At            time.Duration
	NumPartitions int32
}

// point is one row of a CSV trace.
type point struct {
	at   time.Duration
	rate float64
}

// Limits of a CSV trace, so that a bad file gives an error rather than exhausting memory.
const (
	maxTracePartitions = 100000
	maxTraceRows       = 10_000_000
	maxTraceLength     = 366 * 24 * time.Hour
)

// ParseCSV reads a trace with the header `time,partition,production` and an optional fourth column `backlog`.
//
//   - time is an offset from the start ("90s", "1h30m"), a Unix time in seconds ("1767225600" or with a
//     fraction, as Prometheus exports it), or RFC 3339; one file uses one form. Times are made relative to the
//     earliest one.
//   - production is messages per second, finite and not negative. Between two rows of a partition the rate is
//     interpolated linearly; before the first and after the last it stays flat.
//   - backlog, when present, is the partition's backlog at the start: allowed only on its first row.
//
// Rows of one partition must be in increasing time order. Errors name the line and the field.
func ParseCSV(r io.Reader, name string) (*Trace, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty trace: the first line must be the header time,partition,production[,backlog]", name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cols := make([]string, len(header))
	for i, h := range header {
		cols[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
	}
	withBacklog := false
	switch {
	case len(cols) == 3 && cols[0] == "time" && cols[1] == "partition" && cols[2] == "production":
	case len(cols) == 4 && cols[0] == "time" && cols[1] == "partition" && cols[2] == "production" && cols[3] == "backlog":
		withBacklog = true
	default:
		return nil, fmt.Errorf("%s:1: header %q: want time,partition,production or time,partition,production,backlog",
			name, strings.Join(header, ","))
	}
	type row struct {
		p    int32
		at   float64 // seconds, absolute in the file's time form
		rate float64
	}
	var (
		rows    []row
		form    string
		backlog = map[int32]float64{}
		last    = map[int32]float64{}
	)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != len(cols) {
			return nil, fmt.Errorf("%s:%d: %d fields, want %d (%s)", name, line, len(rec), len(cols), strings.Join(cols, ","))
		}
		if len(rows) >= maxTraceRows {
			return nil, fmt.Errorf("%s:%d: more than %d rows", name, line, maxTraceRows)
		}
		at, f, err := parseTime(strings.TrimSpace(rec[0]))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: time %q: %v", name, line, rec[0], err)
		}
		if form == "" {
			form = f
		} else if f != form {
			return nil, fmt.Errorf("%s:%d: time %q is %s, but earlier rows use %s: use one form", name, line, rec[0], f, form)
		}
		p64, err := strconv.ParseInt(strings.TrimSpace(rec[1]), 10, 32)
		if err != nil || p64 < 0 || p64 >= maxTracePartitions {
			return nil, fmt.Errorf("%s:%d: partition %q: want an integer in [0, %d)", name, line, rec[1], maxTracePartitions)
		}
		p := int32(p64)
		rate, err := parseNonNegative(rec[2])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: production %q: %v", name, line, rec[2], err)
		}
		prev, seen := last[p]
		if seen && at <= prev {
			return nil, fmt.Errorf("%s:%d: partition %d: time %q is not after the partition's previous row", name, line, p, rec[0])
		}
		if withBacklog && strings.TrimSpace(rec[3]) != "" {
			if seen {
				return nil, fmt.Errorf("%s:%d: backlog on a row that is not partition %d's first: only the backlog at the start is replayed", name, line, p)
			}
			b, err := parseNonNegative(rec[3])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: backlog %q: %v", name, line, rec[3], err)
			}
			backlog[p] = b
		}
		last[p] = at
		rows = append(rows, row{p: p, at: at, rate: rate})
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: the trace has a header but no rows", name)
	}
	start := math.Inf(1)
	for _, r := range rows {
		start = math.Min(start, r.at)
	}
	series := map[int32][]point{}
	var length time.Duration
	maxP := int32(0)
	for _, r := range rows {
		off := r.at - start
		if off > maxTraceLength.Seconds() {
			return nil, fmt.Errorf("%s: the trace spans more than %s", name, maxTraceLength)
		}
		at := time.Duration(math.Round(off * float64(time.Second)))
		series[r.p] = append(series[r.p], point{at: at, rate: r.rate})
		length = max(length, at)
		maxP = max(maxP, r.p)
	}
	t := &Trace{Name: name, Description: fmt.Sprintf("replay of %d rows for %d partitions", len(rows), len(series)),
		Backlog: backlog, Length: length, Partitions: maxP + 1}
	t.Production = seriesProduction(series)
	return t, nil
}

// parseTime reads one of the three time forms and says which it was.
func parseTime(s string) (float64, string, error) {
	if s == "" {
		return 0, "", errors.New("empty")
	}
	if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return float64(ts.UnixNano()) / 1e9, "RFC 3339", nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e12 {
			return 0, "", errors.New("a Unix time must be a non-negative number of seconds")
		}
		return f, "Unix seconds", nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, "", errors.New("want an offset (90s, 1h30m), Unix seconds or RFC 3339")
	}
	if d < 0 {
		return 0, "", errors.New("an offset must not be negative")
	}
	return d.Seconds(), "an offset", nil
}

func parseNonNegative(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	switch {
	case err != nil:
		return 0, errors.New("not a number")
	case math.IsNaN(f) || math.IsInf(f, 0):
		return 0, errors.New("must be finite")
	case f < 0:
		return 0, errors.New("must not be negative")
	}
	return f, nil
}

// seriesProduction interpolates the rows of each partition; a partition without rows produces nothing.
func seriesProduction(series map[int32][]point) func(int32, time.Duration) float64 {
	return func(p int32, at time.Duration) float64 {
		pts := series[p]
		switch {
		case len(pts) == 0:
			return 0
		case at <= pts[0].at:
			return pts[0].rate
		case at >= pts[len(pts)-1].at:
			return pts[len(pts)-1].rate
		}
		i := sort.Search(len(pts), func(i int) bool { return pts[i].at > at })
		a, b := pts[i-1], pts[i]
		f := float64(at-a.at) / float64(b.at-a.at)
		return a.rate + f*(b.rate-a.rate)
	}
}
