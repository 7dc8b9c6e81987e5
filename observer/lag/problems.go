package lag

import (
	"fmt"
	"sort"
)

// ProblemKind is a fixed category of trouble met while reading metrics. It is the value of the problem label of
// konsumerator_metrics_problems_total, so the set must stay small and fixed.
type ProblemKind string

const (
	// ProblemMissingPartitionLabel: a series has no partition label.
	ProblemMissingPartitionLabel ProblemKind = "missing_partition_label"
	// ProblemInvalidPartitionLabel: the partition label is not a whole number.
	ProblemInvalidPartitionLabel ProblemKind = "invalid_partition_label"
	// ProblemPartitionOutOfRange: the partition is not in [0, numPartitions).
	ProblemPartitionOutOfRange ProblemKind = "partition_out_of_range"
	// ProblemDuplicatePartition: more than one series names the same partition, so none of them is trusted.
	ProblemDuplicatePartition ProblemKind = "duplicate_partition"
	// ProblemInvalidValue: the value is NaN or infinite.
	ProblemInvalidValue ProblemKind = "invalid_value"
	// ProblemNegativeValue: a backlog or a rate below zero.
	ProblemNegativeValue ProblemKind = "negative_value"
	// ProblemUnexpectedResultType: the query returned a range vector, a scalar or a string.
	ProblemUnexpectedResultType ProblemKind = "unexpected_result_type"
	// ProblemEmptyResult: the query returned no series on any address.
	ProblemEmptyResult ProblemKind = "empty_result"
	// ProblemReplicaFailed: an address failed while another one answered.
	ProblemReplicaFailed ProblemKind = "replica_failed"
	// ProblemFetchFailed: a query failed on every address; the sample keeps the last good values.
	ProblemFetchFailed ProblemKind = "fetch_failed"
	// ProblemCredentialsUnavailable: a Secret named for authentication or TLS could not be read or used.
	ProblemCredentialsUnavailable ProblemKind = "credentials_unavailable"
)

// MaxProblems bounds the problem texts in a sample; the rest are summed up in one last line, so that a
// Consumer with thousands of bad series still gets a short, readable status.
const MaxProblems = 10

// Problems collects what was wrong with the data of one read, for every source: the texts go into the sample,
// the kinds into konsumerator_metrics_problems_total.
type Problems = problemSet

// NewProblems returns an empty set.
func NewProblems() *Problems { return newProblemSet() }

// Add records one problem; the same text twice counts once.
func (ps *problemSet) Add(kind ProblemKind, format string, args ...any) {
	ps.add(kind, format, args...)
}

// List returns the texts sorted, at most MaxProblems of them followed by a line counting the rest.
func (ps *problemSet) List() []string { return ps.list() }

// problemSet collects problem texts without duplicates, remembering the kind of each for the metrics and logs.
type problemSet struct {
	texts map[string]ProblemKind
}

func newProblemSet() *problemSet {
	return &problemSet{texts: map[string]ProblemKind{}}
}

func (ps *problemSet) add(kind ProblemKind, format string, args ...any) {
	ps.texts[fmt.Sprintf(format, args...)] = kind
}

func (ps *problemSet) merge(other *problemSet) {
	for text, kind := range other.texts {
		ps.texts[text] = kind
	}
}

func (ps *problemSet) empty() bool { return len(ps.texts) == 0 }

// list returns the texts sorted, at most MaxProblems of them followed by a line counting the rest.
func (ps *problemSet) list() []string {
	if len(ps.texts) == 0 {
		return nil
	}
	all := make([]string, 0, len(ps.texts))
	for text := range ps.texts {
		all = append(all, text)
	}
	sort.Strings(all)
	if len(all) <= MaxProblems {
		return all
	}
	rest := len(all) - MaxProblems
	out := append(all[:MaxProblems:MaxProblems], fmt.Sprintf("and %d more problems", rest))
	return out
}

// byKind groups the texts by kind, each group sorted, for one log line per kind.
func (ps *problemSet) byKind() map[ProblemKind][]string {
	out := map[ProblemKind][]string{}
	for text, kind := range ps.texts {
		out[kind] = append(out[kind], text)
	}
	for _, texts := range out {
		sort.Strings(texts)
	}
	return out
}

// byKindCounts returns each kind present once, for the per-fetch problem counter.
func (ps *problemSet) byKindCounts() []ProblemKind {
	seen := map[ProblemKind]bool{}
	var kinds []ProblemKind
	for _, kind := range ps.texts {
		if !seen[kind] {
			seen[kind] = true
			kinds = append(kinds, kind)
		}
	}
	return kinds
}

// Problems only a Kafka source meets (the label values stay one fixed set for all sources).
const (
	// ProblemPartitionCountMismatch: the topic has another number of partitions than numPartitions.
	ProblemPartitionCountMismatch ProblemKind = "partition_count_mismatch"
	// ProblemNoCommittedOffset: the group has committed no offset for a partition, so its backlog is unknown.
	ProblemNoCommittedOffset ProblemKind = "no_committed_offset"
	// ProblemPartitionError: the broker answered with an error for one partition.
	ProblemPartitionError ProblemKind = "partition_error"
	// ProblemOffsetMovedBack: an end or committed offset went backwards between two reads (a topic made anew, an
	// offset reset), so no rate is given for it until the next read.
	ProblemOffsetMovedBack ProblemKind = "offset_moved_back"
)
