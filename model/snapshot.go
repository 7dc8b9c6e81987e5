// Package model holds the plain data that flows through one reconcile: the Snapshot the observer makes, and the
// Plan the planner computes from it. It has no behaviour beyond small helpers and imports no client code, so a
// snapshot can be written to a file and replayed offline into the same plan.
package model

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// Snapshot is everything one planning decision depends on. It is immutable by convention: the planner reads it
// and never changes it.
type Snapshot struct {
	// Now is the time the snapshot was taken; the planner has no other clock.
	Now time.Time `json:"now"`
	// Owner is the object the instances belong to: a Consumer, or a ConfigMap in guest mode.
	Owner Owner `json:"owner"`
	// Spec is the owner's Consumer spec as read (for a Consumer, with the API server's defaults applied).
	Spec konsumeratorv1.ConsumerSpec `json:"spec"`
	// SpecError, when not empty, says why the owner's spec could not be read (guest mode: bad YAML, a spec that
	// fails validation). The planner then changes nothing and reports it.
	SpecError string `json:"specError,omitempty"`
	// Status is the owner's current status; conditions keep their transition times when they do not change.
	Status konsumeratorv1.ConsumerStatus `json:"status"`
	// Deployments are the Deployments controlled by the owner, plus any Deployment not controlled by it whose
	// name is one of the expected instance names (so that it can be reported, never touched). Sorted by name.
	Deployments []appsv1.Deployment `json:"deployments,omitempty"`
	// ReplicaSets and Pods are those of the instance Deployments (updateMode InPlace only), trimmed to what the
	// planner reads: a pod is an instance's when its controller is a ReplicaSet whose controller is the
	// instance's Deployment. Sorted by name.
	ReplicaSets []metav1.PartialObjectMetadata `json:"replicaSets,omitempty"`
	Pods        []corev1.Pod                   `json:"pods,omitempty"`
	// Metrics is the latest cached sample for the owner, nil when there has never been one.
	Metrics *MetricsSample `json:"metrics,omitempty"`
	// Options are operator-wide settings that shape decisions.
	Options Options `json:"options"`
}

// OwnerKind says where the Consumer spec comes from.
type OwnerKind string

const (
	OwnerConsumer  OwnerKind = "Consumer"
	OwnerConfigMap OwnerKind = "ConfigMap"
)

// Owner identifies the object that controls the instances.
type Owner struct {
	APIVersion  string            `json:"apiVersion"`
	Kind        OwnerKind         `json:"kind"`
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	UID         types.UID         `json:"uid"`
	Generation  int64             `json:"generation"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Options are operator-wide settings, from flags, that the planner takes into account.
type Options struct {
	// MaxRolloutsInFlight bounds how many instances may be restarting (pod template changed, rollout not yet
	// complete) at once. Zero means the default: a tenth of the instances, at least one.
	MaxRolloutsInFlight int `json:"maxRolloutsInFlight,omitempty"`
	// MetricsStaleAfter is the age from which a metrics sample is not used. Zero means the default: three
	// times the Consumer's minSyncPeriod.
	MetricsStaleAfter Duration `json:"metricsStaleAfter,omitempty"`
	// ConflictPolicy is the operator's --conflict-policy. Under ConflictRespect, fields listed in an instance's
	// yielded-fields annotation belong to another field manager and are not drift.
	ConflictPolicy ConflictPolicy `json:"conflictPolicy,omitempty"`
	// RolloutFailureThreshold is how many instances may fail on a new template before its rollout halts. Zero
	// means the default, 1.
	RolloutFailureThreshold int `json:"rolloutFailureThreshold,omitempty"`
	// UnschedulableAfter is how long a pod may stay unschedulable before its instance counts as failed. Zero
	// means the default, five minutes.
	UnschedulableAfter Duration `json:"unschedulableAfter,omitempty"`
	// StuckPodAfter is how long a pod may stay in phase Unknown, or terminating past its deadline, before it is
	// deleted so its ReplicaSet replaces it. Zero: never (the default).
	StuckPodAfter Duration `json:"stuckPodAfter,omitempty"`
}

// ConflictPolicy says who wins a field that another field manager took.
type ConflictPolicy string

const (
	// ConflictForce takes the fields back: the Consumer is the source of truth (the default).
	ConflictForce ConflictPolicy = "force"
	// ConflictRespect leaves the fields to the other manager and reports them.
	ConflictRespect ConflictPolicy = "respect"
)

// MetricsSample is one reading of the three Prometheus queries for all partitions of one Consumer.
type MetricsSample struct {
	// Time is when the values were read. Zero when no read has ever succeeded.
	Time time.Time `json:"time"`
	// Partitions holds one entry per partition that has at least one value, sorted by partition, no duplicates.
	// A partition absent here has no data at all.
	Partitions []PartitionMetrics `json:"partitions,omitempty"`
	// Error is why the latest attempt to read failed (all addresses down, timeouts). Empty when it succeeded.
	// The values above then come from the last successful read.
	Error string `json:"error,omitempty"`
	// Problems lists what was wrong in the data that was read (a series without a partition label, a
	// partition out of range, NaN values): stable texts, sorted, bounded in number.
	Problems []string `json:"problems,omitempty"`
	// AfterGap says the rate windows of this sample may reach back into a time without data: the read before it
	// failed, or lacked a rate this one has. Such rates read low (the window is only partly filled), so the planner
	// starts no scale-down on them.
	AfterGap bool `json:"afterGap,omitempty"`
}

// FollowsGap reports whether a successful read, next, follows a read without data: prev failed, or lacks a rate
// that next has. A first read (prev nil) follows nothing.
func FollowsGap(prev, next *MetricsSample) bool {
	if prev == nil || next == nil || next.Error != "" {
		return false
	}
	if prev.Error != "" {
		return true
	}
	had := make(map[int32][2]bool, len(prev.Partitions))
	for _, p := range prev.Partitions {
		had[p.Partition] = [2]bool{p.ProductionRate != nil, p.ConsumptionRate != nil}
	}
	for _, p := range next.Partitions {
		h, ok := had[p.Partition]
		if !ok && (p.ProductionRate != nil || p.ConsumptionRate != nil) ||
			p.ProductionRate != nil && !h[0] || p.ConsumptionRate != nil && !h[1] {
			return true
		}
	}
	return false
}

// PartitionMetrics are the figures for one partition. A nil field has no data.
type PartitionMetrics struct {
	Partition int32 `json:"partition"`
	// ProductionRate is messages produced per second.
	ProductionRate *float64 `json:"productionRate,omitempty"`
	// ConsumptionRate is messages consumed per second.
	ConsumptionRate *float64 `json:"consumptionRate,omitempty"`
	// MessagesBehind is the backlog in messages.
	MessagesBehind *float64 `json:"messagesBehind,omitempty"`
}

// Digest is a short, stable fingerprint of the snapshot, logged with every plan so that a plan can be traced
// back to what it was made from. Deployments are most of a snapshot: one read from the API server is identified
// by its UID and resourceVersion, which the server changes with every change of the object; one without a
// resourceVersion (a test, a file written by hand) is hashed in its generated protobuf encoding, deterministic
// (map keys sorted) and far cheaper than JSON. The rest is hashed as JSON.
func (s *Snapshot) Digest() string {
	rest := *s
	rest.Deployments, rest.Pods, rest.ReplicaSets = nil, nil, nil
	raw, err := json.Marshal(&rest)
	if err != nil {
		return "unmarshalable"
	}
	h := sha256.New()
	h.Write(raw)
	var size [binary.MaxVarintLen64]byte
	for i := range s.Deployments {
		d := &s.Deployments[i]
		var pb []byte
		if d.ResourceVersion != "" {
			pb = []byte(d.Namespace + "/" + d.Name + "/" + string(d.UID) + "/" + d.ResourceVersion)
		} else if pb, err = d.Marshal(); err != nil {
			return "unmarshalable"
		}
		h.Write(size[:binary.PutUvarint(size[:], uint64(len(pb)))])
		h.Write(pb)
	}
	for i := range s.ReplicaSets {
		if err := writeIdentity(h, &s.ReplicaSets[i].ObjectMeta, &s.ReplicaSets[i]); err != nil {
			return "unmarshalable"
		}
	}
	for i := range s.Pods {
		if err := writeIdentity(h, &s.Pods[i].ObjectMeta, &s.Pods[i]); err != nil {
			return "unmarshalable"
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// writeIdentity writes an object read from the API server by its identity and resourceVersion, and one without
// a resourceVersion as JSON.
func writeIdentity(h hash.Hash, m *metav1.ObjectMeta, obj any) error {
	var raw []byte
	if m.ResourceVersion != "" {
		raw = []byte(m.Namespace + "/" + m.Name + "/" + string(m.UID) + "/" + m.ResourceVersion)
	} else {
		var err error
		if raw, err = json.Marshal(obj); err != nil {
			return err
		}
	}
	var size [binary.MaxVarintLen64]byte
	h.Write(size[:binary.PutUvarint(size[:], uint64(len(raw)))])
	h.Write(raw)
	return nil
}
