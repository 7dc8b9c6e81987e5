package simulate

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Result is what a run adds up to.
type Result struct {
	Trace, Description string
	Consumer           string
	Duration           time.Duration
	Options            Options
	SyncPeriod         time.Duration
	RatePerCore        float64
	TolerableLag       time.Duration

	// Partitions has the lag figures of every partition the run had.
	Partitions []PartitionStats
	// P99Lag and MaxLag are over every partition and every second, to the second.
	P99Lag, MaxLag time.Duration
	MaxLagAt       time.Duration
	MaxLagPart     int32
	// CoreHours is the CPU requested by every container of every instance, integrated over the run.
	CoreHours, PeakCores float64
	// Restarts counts plan actions that restart pods (creates after the start, updates of the pod template or
	// resources); InitialCreates the instances created at the start.
	Restarts, InitialCreates int
	RestartsByInstance       map[string]int
	RestartTimes             []RestartEvent
	// InPlaceResizes counts pods resized in place (updateMode InPlace).
	InPlaceResizes int
	// RolloutHeld is the time during which some change waited for the rollout budget; BudgetHeld the time the
	// global budget cut or held a demand.
	RolloutHeld, BudgetHeld time.Duration
	// Unowned and DoubleOwned are partition-time without a consumer, or read by more than one instance.
	Unowned, DoubleOwned time.Duration
	Plans                int
	Instances            []string
	Timeline             []Row
	Decisions            []string
	Events               []string

	coreSeconds float64
}

// PartitionStats are one partition's lag figures.
type PartitionStats struct {
	Partition int32
	// Observed is how long the partition existed; Under how much of it its lag was under tolerableLag.
	Observed, Under time.Duration
	MaxLag          time.Duration
	MaxLagAt        time.Duration
}

// Share is the part of the partition's time with its lag under tolerableLag.
func (p PartitionStats) Share() float64 {
	if p.Observed <= 0 {
		return 1
	}
	return float64(p.Under) / float64(p.Observed)
}

// RestartEvent is one restart.
type RestartEvent struct {
	At       time.Duration
	Instance string
}

// Row is one instance over one timeline interval ending at At: rates are averages over the interval, MaxLag
// (seconds) the worst of its partitions, resources and state as at the end.
type Row struct {
	At                      time.Duration
	Instance                string
	Production, Consumption float64
	Backlog                 float64
	MaxLag                  float64
	CPURequest, CPULimit    float64
	PodCPU                  float64
	State                   string
	Restarts                int
}

func (sm *sim) finishResult() {
	r := sm.res
	r.CoreHours = r.coreSeconds / 3600
	var total int64
	for _, n := range sm.lagHist {
		total += n
	}
	var cum int64
	for b, n := range sm.lagHist {
		cum += n
		if float64(cum) >= 0.99*float64(total) {
			r.P99Lag = time.Duration(b) * time.Second
			break
		}
	}
	for _, p := range r.Partitions {
		if p.MaxLag > r.MaxLag {
			r.MaxLag, r.MaxLagAt, r.MaxLagPart = p.MaxLag, p.MaxLagAt, p.Partition
		}
	}
	if r.MaxLag != time.Duration(math.MaxInt64) {
		r.MaxLag = r.MaxLag.Truncate(time.Second)
	}
	for _, l := range sm.lives {
		r.Instances = append(r.Instances, l.name)
	}
}

// worst is the partition with the smallest share of time under tolerableLag (the first of equals).
func (r *Result) worst() (PartitionStats, float64) {
	var w PartitionStats
	ws := 2.0
	var under, observed time.Duration
	for _, p := range r.Partitions {
		if p.Observed == 0 {
			continue
		}
		under += p.Under
		observed += p.Observed
		if s := p.Share(); s < ws {
			w, ws = p, s
		}
	}
	all := 1.0
	if observed > 0 {
		all = float64(under) / float64(observed)
	}
	return w, all
}

func lagText(d time.Duration) string {
	if d == time.Duration(math.MaxInt64) {
		return "never caught up"
	}
	return d.String()
}

func pct(f float64) string {
	return strconv.FormatFloat(100*math.Floor(f*10000)/10000, 'f', 2, 64) + "%"
}

// Summary is the run in a few lines of stable text.
func (r *Result) Summary() string {
	var b strings.Builder
	o := r.Options
	fmt.Fprintf(&b, "trace %s: %s\n", r.Trace, r.Description)
	fmt.Fprintf(&b, "consumer %s: %d instances, ratePerCore %s\n", r.Consumer, len(r.Instances), num(r.RatePerCore))
	at := "its request"
	if o.Burst {
		at = "up to its limit"
	}
	fmt.Fprintf(&b, "model: %s in steps of %s; container %s consumes %s msg/s per core at %s; a restart pauses the %s for %s and rolls out in %s; scrape %s, rate window %s, sync %s\n",
		r.Duration, o.Step, o.Container, num(r.RatePerCore), at, o.PauseScope, o.Pause, o.RolloutTime, o.ScrapeInterval, o.RateWindow, r.SyncPeriod)
	if o.Noise > 0 {
		fmt.Fprintf(&b, "noise: ±%s per partition per minute, seed %d\n", pct(o.Noise), o.Seed)
	}
	for _, e := range r.Events {
		fmt.Fprintf(&b, "event: %s\n", e)
	}
	b.WriteString("\n")
	w, all := r.worst()
	if r.TolerableLag > 0 {
		fmt.Fprintf(&b, "lag under tolerableLag (%s): worst partition %s (partition %d), all partitions %s\n",
			r.TolerableLag, pct(w.Share()), w.Partition, pct(all))
	} else {
		b.WriteString("lag under tolerableLag: the Consumer sets no tolerableLag\n")
	}
	fmt.Fprintf(&b, "lag: p99 %s, max %s (partition %d at %s)\n", r.P99Lag, lagText(r.MaxLag), r.MaxLagPart, clock(r.MaxLagAt))
	fmt.Fprintf(&b, "CPU requested: %.2f core-hours (mean %.2f cores, peak %.2f cores)\n",
		r.CoreHours, r.CoreHours/math.Max(r.Duration.Hours(), 1e-9), r.PeakCores)
	fmt.Fprintf(&b, "restarts: %d (%s), in-place resizes: %d\n", r.Restarts, r.restartList(), r.InPlaceResizes)
	fmt.Fprintf(&b, "held by the rollout budget: %s; held by the global budget: %s\n", r.RolloutHeld, r.BudgetHeld)
	fmt.Fprintf(&b, "partition-time without a consumer: %s; read by two instances: %s\n", r.Unowned, r.DoubleOwned)
	fmt.Fprintf(&b, "plans: %d\n", r.Plans)
	return b.String()
}

func (r *Result) restartList() string {
	names := append([]string(nil), r.Instances...)
	for n := range r.RestartsByInstance {
		if !contains(names, n) {
			names = append(names, n)
		}
	}
	sort.SliceStable(names, func(i, j int) bool { return instanceIndex(names[i]) < instanceIndex(names[j]) })
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, strconv.Itoa(r.RestartsByInstance[n]))
	}
	return "per instance " + strings.Join(parts, " ")
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TableHeader and TableRow print runs as one Markdown table.
const TableHeader = "| scenario | lag < tolerableLag (worst partition) | p99 lag | max lag | CPU core-hours | restarts | held by rollout budget |\n" +
	"|---|---:|---:|---:|---:|---:|---:|\n"

func (r *Result) TableRow() string {
	w, _ := r.worst()
	share := "n/a"
	if r.TolerableLag > 0 {
		share = pct(w.Share())
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %.1f | %d | %s |\n", r.Trace, share, r.P99Lag, lagText(r.MaxLag),
		r.CoreHours, r.Restarts, r.RolloutHeld)
}

// WriteTimeline writes the timeline as CSV, one row per instance per interval.
func (r *Result) WriteTimeline(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"time_s", "time", "instance", "production", "consumption", "backlog", "max_lag_s",
		"cpu_request", "cpu_limit", "pod_cpu_request", "state", "restarts"})
	for _, row := range r.Timeline {
		_ = cw.Write([]string{strconv.FormatInt(int64(row.At/time.Second), 10), clock(row.At), row.Instance,
			num(row.Production), num(row.Consumption), num(row.Backlog), lagNum(row.MaxLag),
			num(row.CPURequest), num(row.CPULimit), num(row.PodCPU), row.State, strconv.Itoa(row.Restarts)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteDecisions writes the plan actions that wrote or were held, one per line with its changes indented.
func (r *Result) WriteDecisions(w io.Writer) error {
	for _, d := range r.Decisions {
		if _, err := fmt.Fprintln(w, d); err != nil {
			return err
		}
	}
	return nil
}

func num(f float64) string { return strconv.FormatFloat(math.Round(f*1000)/1000, 'f', -1, 64) }

func lagNum(f float64) string {
	if math.IsInf(f, 1) {
		return "inf"
	}
	return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64)
}

// clock prints an offset from the start as h:mm:ss.
func clock(d time.Duration) string {
	s := int64(d / time.Second)
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}
