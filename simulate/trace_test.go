package simulate_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/konsumerator/konsumerator/simulate"
)

func TestParseCSV(t *testing.T) {
	tr, err := simulate.ParseCSV(strings.NewReader(
		"time,partition,production,backlog\n0s,0,100,5000\n10m,0,300,\n0s,1,50,\n"), "t.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p    int32
		at   time.Duration
		want float64
	}{{0, 0, 100}, {0, 5 * time.Minute, 200}, {0, time.Hour, 300}, {1, time.Hour, 50}, {2, 0, 0}} {
		if got := tr.Production(c.p, c.at); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("partition %d at %s: %v, want %v", c.p, c.at, got, c.want)
		}
	}
	if tr.Backlog[0] != 5000 || tr.Length != 10*time.Minute || tr.Partitions != 2 {
		t.Errorf("backlog %v, length %s, partitions %d", tr.Backlog, tr.Length, tr.Partitions)
	}
	unix, err := simulate.ParseCSV(strings.NewReader("time,partition,production\n1767225600,0,1\n1767225660.5,0,2\n"), "u.csv")
	if err != nil || unix.Length != 60500*time.Millisecond {
		t.Fatalf("unix seconds: %v, %v", err, unix)
	}
}

// TestParseCSVErrors: every bad input is refused with a message that names the line and what is wrong.
func TestParseCSVErrors(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"empty", "", "empty trace"},
		{"header only", "time,partition,production\n", "no rows"},
		{"wrong header", "t,p,rate\n0s,0,1\n", `t.csv:1: header "t,p,rate"`},
		{"extra column", "time,partition,production,lag\n", "want time,partition,production"},
		{"field count", "time,partition,production\n0s,0\n", "t.csv:2: 2 fields, want 3"},
		{"bad time", "time,partition,production\nsoon,0,1\n", `t.csv:2: time "soon"`},
		{"negative offset", "time,partition,production\n-5s,0,1\n", "must not be negative"},
		{"mixed forms", "time,partition,production\n0s,0,1\n1767225600,1,1\n", "use one form"},
		{"bad partition", "time,partition,production\n0s,x,1\n", `t.csv:2: partition "x"`},
		{"negative partition", "time,partition,production\n0s,-1,1\n", "want an integer in [0, 100000)"},
		{"huge partition", "time,partition,production\n0s,100000,1\n", "want an integer"},
		{"bad production", "time,partition,production\n0s,0,lots\n", `production "lots": not a number`},
		{"negative production", "time,partition,production\n0s,0,-1\n", "must not be negative"},
		{"NaN production", "time,partition,production\n0s,0,NaN\n", "must be finite"},
		{"Inf production", "time,partition,production\n0s,0,+Inf\n", "must be finite"},
		{"out of order", "time,partition,production\n1m,0,1\n30s,0,1\n", "t.csv:3: partition 0: time \"30s\" is not after"},
		{"duplicate time", "time,partition,production\n1m,0,1\n1m,0,2\n", "is not after"},
		{"late backlog", "time,partition,production,backlog\n0s,0,1,\n1m,0,1,10\n", "t.csv:3: backlog on a row that is not partition 0's first"},
		{"bad backlog", "time,partition,production,backlog\n0s,0,1,-3\n", `backlog "-3": must not be negative`},
		{"bad quoting", "time,partition,production\n\"0s,0,1\n", "t.csv"},
		{"too long", "time,partition,production\n0,0,1\n40000000,0,1\n", "spans more than"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := simulate.ParseCSV(strings.NewReader(c.in), "t.csv")
			if err == nil {
				t.Fatalf("accepted:\n%s", c.in)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

// TestTraceBeyondConsumer: a trace with more partitions than the Consumer is refused, not half replayed.
func TestTraceBeyondConsumer(t *testing.T) {
	tr, err := simulate.ParseCSV(strings.NewReader("time,partition,production\n0s,100,1\n"), "t.csv")
	if err != nil {
		t.Fatal(err)
	}
	_, err = simulate.Run(sample(t), tr, simulate.DefaultOptions())
	if err == nil || !strings.Contains(err.Error(), "partition 100, but the Consumer has 100 partitions (0-99)") {
		t.Fatalf("error %v", err)
	}
}

// FuzzParseCSV: any input is either refused with an error or gives a trace whose rates are finite and not
// negative at any time.
func FuzzParseCSV(f *testing.F) {
	f.Add("time,partition,production\n0s,0,100\n10m,0,300\n")
	f.Add("time,partition,production,backlog\n1767225600,0,1,5\n1767225660,1,2,\n")
	f.Add("time,partition,production\n2026-01-01T00:00:00Z,3,1e6\n")
	f.Fuzz(func(t *testing.T, in string) {
		tr, err := simulate.ParseCSV(strings.NewReader(in), "f.csv")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.csv") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if tr.Partitions < 1 || tr.Length < 0 {
			t.Fatalf("partitions %d, length %s", tr.Partitions, tr.Length)
		}
		for p := int32(0); p < min(tr.Partitions, 4); p++ {
			for _, at := range []time.Duration{0, tr.Length / 3, tr.Length, tr.Length + time.Hour} {
				if r := tr.Production(p, at); math.IsNaN(r) || math.IsInf(r, 0) || r < 0 {
					t.Fatalf("partition %d at %s: rate %v", p, at, r)
				}
			}
		}
		for p, b := range tr.Backlog {
			if p < 0 || p >= tr.Partitions || math.IsNaN(b) || math.IsInf(b, 0) || b < 0 {
				t.Fatalf("backlog %d: %v", p, b)
			}
		}
	})
}
