package lag

import (
	"math"
	"strconv"
	"strings"

	prommodel "github.com/prometheus/common/model"
)

// QueryKind names one of the three figures read per partition.
type QueryKind string

const (
	QueryOffset      QueryKind = "offset"
	QueryProduction  QueryKind = "production"
	QueryConsumption QueryKind = "consumption"
)

// queryKinds is the fixed order in which the figures are read and reported.
var queryKinds = [...]QueryKind{QueryOffset, QueryProduction, QueryConsumption}

// maxLabelValueInText bounds how much of a bad label value is quoted in a problem text.
const maxLabelValueInText = 32

// parsedAnswer is one address's answer to one query, reduced to the values that passed every check.
type parsedAnswer struct {
	values   map[int32]float64
	problems *problemSet
}

// parseAnswer validates a query result and keeps only values it can vouch for. Anything doubtful is dropped and
// described, never corrected: a partition with a bad value simply has no value for this figure.
func parseAnswer(kind QueryKind, partitionLabel string, a answer, numPartitions int32) parsedAnswer {
	out := parsedAnswer{values: map[int32]float64{}, problems: newProblemSet()}
	vector, ok := a.value.(prommodel.Vector)
	if !ok {
		typ := "nothing"
		switch {
		case a.value != nil:
			typ = a.value.Type().String()
		case a.otherType != "":
			typ = a.otherType
		}
		out.problems.add(ProblemUnexpectedResultType,
			"%s query: result is a %s, want an instant vector", kind, typ)
		return out
	}

	seen := map[int32]int{}
	for _, s := range vector {
		raw, has := s.Metric[prommodel.LabelName(partitionLabel)]
		if !has || raw == "" {
			out.problems.add(ProblemMissingPartitionLabel,
				"%s query: series without label %q", kind, partitionLabel)
			continue
		}
		partition, err := parsePartition(string(raw))
		if err != nil {
			out.problems.add(ProblemInvalidPartitionLabel,
				"%s query: label %s=%q is not a partition number", kind, partitionLabel, quoteBounded(string(raw)))
			continue
		}
		if partition < 0 || partition >= int64(numPartitions) {
			out.problems.add(ProblemPartitionOutOfRange,
				"%s query: partition %d is outside [0, %d)", kind, partition, numPartitions)
			continue
		}
		p := int32(partition)
		seen[p]++
		if seen[p] > 1 {
			continue
		}
		v := float64(s.Value)
		switch {
		case math.IsNaN(v):
			out.problems.add(ProblemInvalidValue, "%s query: partition %d has value NaN", kind, p)
		case math.IsInf(v, 1):
			out.problems.add(ProblemInvalidValue, "%s query: partition %d has value +Inf", kind, p)
		case math.IsInf(v, -1):
			out.problems.add(ProblemInvalidValue, "%s query: partition %d has value -Inf", kind, p)
		case v < 0:
			// The value itself stays out of the text: it changes from one read to the next, and the condition
			// built from these texts must not flap.
			out.problems.add(ProblemNegativeValue, "%s query: partition %d has a negative value", kind, p)
		default:
			out.values[p] = v
		}
	}
	for p, n := range seen {
		if n > 1 {
			// Which of the series is right cannot be known; taking any of them would be a guess.
			delete(out.values, p)
			out.problems.add(ProblemDuplicatePartition, "%s query: partition %d has %d series", kind, p, n)
		}
	}
	return out
}

// parsePartition accepts a plain decimal number, the way Kafka exporters write partitions.
func parsePartition(raw string) (int64, error) {
	if strings.HasPrefix(raw, "+") {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(raw, 10, 32)
}

func quoteBounded(s string) string {
	if len(s) <= maxLabelValueInText {
		return s
	}
	return s[:maxLabelValueInText] + "..."
}
