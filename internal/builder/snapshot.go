package builder

import (
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// Epoch is the fixed "now" of builders: tests never read the wall clock.
var Epoch = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// SampleWrapper builds a metrics sample.
type SampleWrapper struct{ s model.MetricsSample }

// Sample starts an empty sample read at t.
func Sample(t time.Time) *SampleWrapper { return &SampleWrapper{s: model.MetricsSample{Time: t}} }

// Obj returns a copy of the sample with partitions sorted and de-duplicated (the last value set wins), as the
// observer delivers them.
func (w *SampleWrapper) Obj() *model.MetricsSample {
	out := w.s
	out.Partitions = append([]model.PartitionMetrics(nil), w.s.Partitions...)
	out.Problems = append([]string(nil), w.s.Problems...)
	return &out
}

// Partition sets the figures of one partition: production and consumption rate (messages/s) and messages behind.
func (w *SampleWrapper) Partition(p int32, production, consumption, behind float64) *SampleWrapper {
	return w.PartitionPtr(p, &production, &consumption, &behind)
}

// PartitionPtr sets one partition with optional figures (nil: no data for that figure).
func (w *SampleWrapper) PartitionPtr(p int32, production, consumption, behind *float64) *SampleWrapper {
	pm := model.PartitionMetrics{Partition: p, ProductionRate: production, ConsumptionRate: consumption,
		MessagesBehind: behind}
	for i := range w.s.Partitions {
		switch {
		case w.s.Partitions[i].Partition == p:
			w.s.Partitions[i] = pm
			return w
		case w.s.Partitions[i].Partition > p:
			w.s.Partitions = append(w.s.Partitions[:i], append([]model.PartitionMetrics{pm}, w.s.Partitions[i:]...)...)
			return w
		}
	}
	w.s.Partitions = append(w.s.Partitions, pm)
	return w
}

// Uniform sets partitions 0..n-1 to the same figures.
func (w *SampleWrapper) Uniform(n int32, production, consumption, behind float64) *SampleWrapper {
	for p := int32(0); p < n; p++ {
		w.Partition(p, production, consumption, behind)
	}
	return w
}

// Error sets the error of the latest read.
func (w *SampleWrapper) Error(e string) *SampleWrapper { w.s.Error = e; return w }

// Problems sets the data problems.
func (w *SampleWrapper) Problems(p ...string) *SampleWrapper { w.s.Problems = p; return w }

// SnapshotWrapper builds a model.Snapshot.
type SnapshotWrapper struct{ s model.Snapshot }

// Snapshot starts a snapshot of a Consumer at Epoch, without Deployments or metrics.
func Snapshot(c *konsumeratorv1.Consumer) *SnapshotWrapper {
	return &SnapshotWrapper{s: model.Snapshot{
		Now:    Epoch,
		Owner:  OwnerOf(c),
		Spec:   *c.Spec.DeepCopy(),
		Status: *c.Status.DeepCopy(),
	}}
}

// Obj returns the snapshot with Deployments sorted by name.
func (w *SnapshotWrapper) Obj() *model.Snapshot {
	out := w.s
	out.Deployments = make([]appsv1.Deployment, len(w.s.Deployments))
	for i := range w.s.Deployments {
		w.s.Deployments[i].DeepCopyInto(&out.Deployments[i])
	}
	sortDeployments(out.Deployments)
	return &out
}

// Now sets the snapshot time.
func (w *SnapshotWrapper) Now(t time.Time) *SnapshotWrapper { w.s.Now = t; return w }

// Deployments adds observed Deployments.
func (w *SnapshotWrapper) Deployments(ds ...*appsv1.Deployment) *SnapshotWrapper {
	for _, d := range ds {
		w.s.Deployments = append(w.s.Deployments, *d.DeepCopy())
	}
	return w
}

// Metrics sets the metrics sample.
func (w *SnapshotWrapper) Metrics(m *model.MetricsSample) *SnapshotWrapper { w.s.Metrics = m; return w }

// Options sets the operator options.
func (w *SnapshotWrapper) Options(o model.Options) *SnapshotWrapper { w.s.Options = o; return w }

// Status sets the owner's current status.
func (w *SnapshotWrapper) Status(st konsumeratorv1.ConsumerStatus) *SnapshotWrapper {
	w.s.Status = *st.DeepCopy()
	return w
}

// SpecError sets the spec error (guest mode: the ConfigMap could not be read).
func (w *SnapshotWrapper) SpecError(e string) *SnapshotWrapper { w.s.SpecError = e; return w }

// GuestOwner makes the owner a guest-mode ConfigMap of the same name and UID.
func (w *SnapshotWrapper) GuestOwner() *SnapshotWrapper {
	w.s.Owner.APIVersion, w.s.Owner.Kind = "v1", model.OwnerConfigMap
	return w
}

func sortDeployments(ds []appsv1.Deployment) {
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].Name < ds[j].Name })
}
