package lag

import (
	"fmt"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	prommodel "github.com/prometheus/common/model"
)

func vec(ss ...*prommodel.Sample) prommodel.Vector { return prommodel.Vector(ss) }

func smp(labels map[string]string, v float64) *prommodel.Sample {
	m := prommodel.Metric{}
	for k, val := range labels {
		m[prommodel.LabelName(k)] = prommodel.LabelValue(val)
	}
	return &prommodel.Sample{Metric: m, Value: prommodel.SampleValue(v)}
}

func p(partition string, v float64) *prommodel.Sample {
	return smp(map[string]string{"partition": partition, "topic": "t"}, v)
}

func TestParseAnswerKeepsOnlyValuesItCanVouchFor(t *testing.T) {
	tests := []struct {
		name         string
		value        prommodel.Value
		wantValues   map[int32]float64
		wantProblems []string
	}{
		{
			name:       "floats stay floats",
			value:      vec(p("0", 1.5), p("1", 0), p("2", 1e12+0.25)),
			wantValues: map[int32]float64{0: 1.5, 1: 0, 2: 1e12 + 0.25},
		},
		{
			name:         "series without the partition label is dropped",
			value:        vec(p("0", 1), smp(map[string]string{"topic": "t"}, 5)),
			wantValues:   map[int32]float64{0: 1},
			wantProblems: []string{`offset query: series without label "partition"`},
		},
		{
			name:         "an empty partition label counts as missing",
			value:        vec(p("", 5)),
			wantValues:   map[int32]float64{},
			wantProblems: []string{`offset query: series without label "partition"`},
		},
		{
			name:       "non-integer partition labels are dropped",
			value:      vec(p("abc", 1), p("1.5", 2), p("+3", 3), p("0x1", 4), p("99999999999", 5), p("2", 6)),
			wantValues: map[int32]float64{2: 6},
			wantProblems: []string{
				`offset query: label partition="+3" is not a partition number`,
				`offset query: label partition="0x1" is not a partition number`,
				`offset query: label partition="1.5" is not a partition number`,
				`offset query: label partition="99999999999" is not a partition number`,
				`offset query: label partition="abc" is not a partition number`,
			},
		},
		{
			name:       "partitions outside the range are dropped",
			value:      vec(p("-1", 1), p("4", 2), p("3", 3)),
			wantValues: map[int32]float64{3: 3},
			wantProblems: []string{
				"offset query: partition -1 is outside [0, 4)",
				"offset query: partition 4 is outside [0, 4)",
			},
		},
		{
			name: "duplicate series for a partition drop every one of them",
			value: vec(p("1", 10), smp(map[string]string{"partition": "1", "pod": "b"}, 20),
				smp(map[string]string{"partition": "01"}, 30), p("2", 7)),
			wantValues:   map[int32]float64{2: 7},
			wantProblems: []string{"offset query: partition 1 has 3 series"},
		},
		{
			name:       "NaN, infinities and negative values are dropped, never zeroed",
			value:      vec(p("0", math.NaN()), p("1", math.Inf(1)), p("2", math.Inf(-1)), p("3", -0.5)),
			wantValues: map[int32]float64{},
			wantProblems: []string{
				"offset query: partition 0 has value NaN",
				"offset query: partition 1 has value +Inf",
				"offset query: partition 2 has value -Inf",
				"offset query: partition 3 has a negative value",
			},
		},
		{
			name:         "a matrix is not an answer",
			value:        prommodel.Matrix{&prommodel.SampleStream{Metric: prommodel.Metric{"partition": "0"}}},
			wantValues:   map[int32]float64{},
			wantProblems: []string{"offset query: result is a matrix, want an instant vector"},
		},
		{
			name:         "a scalar is not an answer",
			value:        &prommodel.Scalar{Value: 3},
			wantValues:   map[int32]float64{},
			wantProblems: []string{"offset query: result is a scalar, want an instant vector"},
		},
		{
			name:         "a string is not an answer",
			value:        &prommodel.String{Value: "x"},
			wantValues:   map[int32]float64{},
			wantProblems: []string{"offset query: result is a string, want an instant vector"},
		},
		{
			name:         "no result at all is not an answer",
			value:        nil,
			wantValues:   map[int32]float64{},
			wantProblems: []string{"offset query: result is a nothing, want an instant vector"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseAnswer(QueryOffset, "partition", answer{value: tt.value}, 4)
			if diff := cmp.Diff(tt.wantValues, got.values); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantProblems, got.problems.list()); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseAnswerNamesTheLabelAndQuotesLongValuesBounded(t *testing.T) {
	long := "a-very-long-label-value-that-goes-on-and-on-and-on"
	got := parseAnswer(QueryProduction, "kafka_partition", answer{value: vec(smp(map[string]string{"kafka_partition": long}, 1))}, 4)
	want := []string{`production query: label kafka_partition="a-very-long-label-value-that-goe..." is not a partition number`}
	if diff := cmp.Diff(want, got.problems.list()); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestProblemListIsSortedAndBounded(t *testing.T) {
	ps := newProblemSet()
	for i := 24; i >= 0; i-- {
		ps.add(ProblemInvalidValue, "offset query: partition %02d has value NaN", i)
	}
	ps.add(ProblemInvalidValue, "offset query: partition %02d has value NaN", 3) // a repeat counts once
	got := ps.list()
	want := make([]string, 0, MaxProblems+1)
	for i := 0; i < MaxProblems; i++ {
		want = append(want, fmt.Sprintf("offset query: partition %02d has value NaN", i))
	}
	want = append(want, "and 15 more problems")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// FuzzParseAnswer checks the promises of parseAnswer for any label and value: every kept value is a finite,
// non-negative number for a partition in range, and whatever is not kept is explained.
func FuzzParseAnswer(f *testing.F) {
	f.Add("0", 1.5, "1", 2.0, int32(4))
	f.Add("3", math.NaN(), "3", 1.0, int32(4))
	f.Add("-1", -1.0, "abc", math.Inf(1), int32(1))
	f.Add("01", 0.0, "1", 0.0, int32(2))
	f.Add("2147483648", 1.0, "", 1.0, int32(0))
	f.Fuzz(func(t *testing.T, label1 string, value1 float64, label2 string, value2 float64, numPartitions int32) {
		got := parseAnswer(QueryOffset, "partition", answer{value: vec(p(label1, value1), p(label2, value2))}, numPartitions)
		for partition, v := range got.values {
			if partition < 0 || partition >= numPartitions {
				t.Errorf("kept partition %d outside [0, %d)", partition, numPartitions)
			}
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Errorf("kept value %v for partition %d", v, partition)
			}
		}
		if len(got.values) < 2 && got.problems.empty() {
			t.Errorf("two series, %d kept, and no problem explains the rest", len(got.values))
		}
		if len(got.problems.list()) > MaxProblems+1 {
			t.Errorf("%d problem lines, want at most %d", len(got.problems.list()), MaxProblems+1)
		}
	})
}
