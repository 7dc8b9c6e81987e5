package builder_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
)

func TestConsumer(t *testing.T) {
	w := builder.Consumer("c").Partitions(12).PerInstance(5).Prometheus(50000, "100M").
		Policy("busybox", builder.Resources("cpu=100m,memory=100M"), builder.Resources("cpu=2,memory=1G")).
		GlobalMax(builder.Resources("cpu=20"))
	c := w.Obj()
	if c.Spec.NumPartitions != 12 || *c.Spec.NumPartitionsPerInstance != 5 || c.Spec.Name != "c" {
		t.Errorf("spec: %+v", c.Spec)
	}
	if p := c.Spec.Autoscaler.Prometheus; *p.RatePerCore != 50000 || p.RamPerCore.String() != "100M" {
		t.Errorf("prometheus: %+v", p)
	}
	pol := c.Spec.ResourcePolicy.ContainerPolicies[0]
	if q := pol.MaxAllowed["cpu"]; q.Cmp(resource.MustParse("2")) != 0 {
		t.Errorf("policy: %+v", pol)
	}
	// Obj returns a copy: changing it or the builder afterwards does not leak.
	c.Spec.NumPartitions = 1
	if w.Obj().Spec.NumPartitions != 12 {
		t.Error("Obj shares state with the builder")
	}
}

func TestSnapshot(t *testing.T) {
	c := builder.Consumer("c").Annotation(konsumeratorv1.AnnotationDisableAutoscaler, "").Obj()
	s := builder.Snapshot(c).
		Deployments(builder.Deployment("c-1").ControlledByConsumer(c).Obj(), builder.Deployment("c-0").Obj()).
		Metrics(builder.Sample(builder.Epoch).Partition(1, 1, 2, 3).Partition(0, 4, 5, 6).Obj()).
		Now(builder.Epoch.Add(time.Minute)).Obj()
	if got := []string{s.Deployments[0].Name, s.Deployments[1].Name}; !cmp.Equal(got, []string{"c-0", "c-1"}) {
		t.Errorf("deployments not sorted: %v", got)
	}
	if p := s.Metrics.Partitions; p[0].Partition != 0 || *p[1].MessagesBehind != 3 {
		t.Errorf("sample not sorted: %+v", p)
	}
	if s.Owner.UID != c.UID || s.Owner.Kind != "Consumer" || s.Owner.Annotations == nil {
		t.Errorf("owner: %+v", s.Owner)
	}
	if ref := s.Deployments[1].OwnerReferences[0]; ref.UID != c.UID || !*ref.Controller {
		t.Errorf("owner reference: %+v", ref)
	}
}

func TestResourcesPanicsOnGarbage(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	builder.Resources("cpu")
}
