package observer

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/randfill"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/internal/scheme"
)

// podFields are the fields of a Pod the planner reads, as JSON paths ("[]" for every element of a list): what
// the cache and the snapshot keep of a pod, and nothing else.
var podFields = []string{
	"metadata.name", "metadata.namespace", "metadata.uid", "metadata.resourceVersion", "metadata.labels",
	"metadata.ownerReferences", "metadata.deletionTimestamp",
	"spec.nodeName",
	"spec.containers[].name", "spec.containers[].resources", "spec.containers[].resizePolicy",
	"spec.initContainers[].name", "spec.initContainers[].resources", "spec.initContainers[].resizePolicy",
	"status.phase", "status.qosClass",
	"status.conditions[].type", "status.conditions[].status", "status.conditions[].reason",
	"status.conditions[].message", "status.conditions[].lastTransitionTime",
	"status.containerStatuses[].name", "status.containerStatuses[].ready", "status.containerStatuses[].started",
	"status.containerStatuses[].restartCount", "status.containerStatuses[].state",
	"status.containerStatuses[].lastState", "status.containerStatuses[].resources",
	"status.containerStatuses[].allocatedResources",
}

// filledPod is a pod with every field set to something, so that a field the transform forgets to drop shows.
func filledPod(seed int64) *corev1.Pod {
	f := randfill.New().NilChance(0).NumElements(1, 2).RandSource(rand.NewSource(seed)).Funcs(
		func(q *resource.Quantity, c randfill.Continue) {
			*q = *resource.NewMilliQuantity(int64(1+c.Intn(100000)), resource.DecimalSI)
		},
		func(t *metav1.Time, c randfill.Continue) {
			*t = metav1.NewTime(time.Unix(int64(c.Intn(1<<30)), 0).UTC())
		},
		func(f *metav1.FieldsV1, c randfill.Continue) { f.Raw = []byte(`{"f:spec":{}}`) },
		func(l *corev1.ResourceList, c randfill.Continue) {
			*l = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(fmt.Sprintf("%dm", 1+c.Intn(4000))),
				corev1.ResourceMemory: resource.MustParse(fmt.Sprintf("%dMi", 1+c.Intn(4000)))}
		},
	)
	var p corev1.Pod
	f.Fill(&p)
	return &p
}

// project keeps the parts of a JSON value at the given paths (all of them when keep is nil), and drops nulls,
// empty strings and empty objects, which say nothing.
func project(v any, path string, keep []string) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, child := range t {
			p := k
			if path != "" {
				p = path + "." + k
			}
			switch {
			case keeps(keep, p):
				if c := project(child, p, nil); c != nil {
					out[k] = c
				}
			case keep == nil || under(keep, p):
				if c := project(child, p, keep); c != nil {
					out[k] = c
				}
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		var out []any
		for _, child := range t {
			if c := project(child, path+"[]", keep); c != nil {
				out = append(out, c)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case string:
		if t == "" {
			return nil
		}
	}
	return v
}

func keeps(keep []string, p string) bool {
	for _, k := range keep {
		if k == p {
			return true
		}
	}
	return false
}

func under(keep []string, p string) bool {
	for _, k := range keep {
		if strings.HasPrefix(k, p+".") || strings.HasPrefix(k, p+"[]") {
			return true
		}
	}
	return false
}

func asJSON(t *testing.T, v any) any {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

// TestPodTransformKeepsExactlyWhatThePlannerReads: for pods with every field set, the transform's result is the
// pod projected on podFields — every listed field kept as it was, nothing else.
func TestPodTransformKeepsExactlyWhatThePlannerReads(t *testing.T) {
	for seed := range int64(20) {
		pod := filledPod(seed)
		before := asJSON(t, pod)
		out, err := (&Transforms{}).Pod(pod)
		require.NoError(t, err)
		got := project(asJSON(t, out), "", nil)
		want := project(before, "", podFields)
		require.Equal(t, want, got, "seed %d", seed)
		require.Equal(t, before, asJSON(t, pod), "seed %d: the transform changed its input", seed)
		again, err := (&Transforms{}).Pod(out)
		require.NoError(t, err)
		require.Equal(t, got, project(asJSON(t, again), "", nil), "seed %d: the transform is idempotent", seed)
	}
	// A field the list does not name is really dropped: the projection sees them in the filled pod.
	full := project(asJSON(t, filledPod(1)), "", nil).(map[string]any)
	assert.Contains(t, full["spec"], "volumes")
	assert.Contains(t, full["metadata"], "annotations")

	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}
	same, err := (&Transforms{}).Pod(other)
	require.NoError(t, err)
	assert.Same(t, other, same, "anything else passes through")
}

// TestReplicaSetTransformKeepsItsIdentityAndRevision: of a ReplicaSet's metadata the cache keeps what ties pods
// to instances, and the revision.
func TestReplicaSetTransformKeepsItsIdentityAndRevision(t *testing.T) {
	rs := &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		ObjectMeta: metav1.ObjectMeta{Name: "c-0-abc", Namespace: "ns", UID: "rs-uid", ResourceVersion: "7",
			Labels:          map[string]string{konsumeratorv1.LabelConsumer: "c"},
			Annotations:     map[string]string{revisionAnnotation: "3", konsumeratorv1.AnnotationResources: strings.Repeat("x", 1000)},
			OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: "c-0", UID: "d-uid", Controller: ptr.To(true)}},
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager"}},
			Generation:      3,
		}}
	out, err := TransformReplicaSet(rs)
	require.NoError(t, err)
	want := rs.DeepCopy()
	want.Annotations = map[string]string{revisionAnnotation: "3"}
	want.ManagedFields, want.Generation = nil, 0
	assert.Equal(t, want, out)
}

// TestSnapshotHasThePodsOfTheOwnersInstances: the snapshot holds the ReplicaSets of the
// owner's Deployments and their pods, sorted by name; not those of another owner, not pods of a ReplicaSet that
// is not the owner's, not anything in another namespace.
func TestSnapshotHasThePodsOfTheOwnersInstances(t *testing.T) {
	consumer := builder.Consumer("c").Namespace("ns").Partitions(2).PerInstance(1).Prometheus(1000, "100M").InPlace().Obj()
	consumer.UID = "owner-uid"
	d0, d1 := builder.Deployment("c-0").Obj(), builder.Deployment("c-1").Obj()
	for i, d := range []*appsv1.Deployment{d0, d1} {
		d.Namespace, d.UID = "ns", types.UID(fmt.Sprintf("d%d-uid", i))
		d.Labels = map[string]string{konsumeratorv1.LabelConsumer: "c"}
		d.OwnerReferences = []metav1.OwnerReference{{APIVersion: konsumeratorv1.GroupVersion.String(), Kind: "Consumer",
			Name: "c", UID: "owner-uid", Controller: ptr.To(true)}}
	}
	label := map[string]string{konsumeratorv1.LabelConsumer: "c"}
	rs := func(name, ns string, owner types.UID) *metav1.PartialObjectMetadata {
		r := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID(name + "-uid"),
			Labels: label, Annotations: map[string]string{revisionAnnotation: "1"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "x", UID: owner, Controller: ptr.To(true)}}}}
		r.SetGroupVersionKind(ReplicaSetGVK)
		return r
	}
	pod := func(name, ns, rsName string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID(name + "-uid"), Labels: label,
			Annotations:     map[string]string{"big": strings.Repeat("x", 100)},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rsName, UID: types.UID(rsName + "-uid"), Controller: ptr.To(true)}}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "busybox", Image: "busybox"}}}}
	}
	objs := []client.Object{d0, d1,
		rs("c-1-rs", "ns", "d1-uid"), rs("c-0-rs", "ns", "d0-uid"), rs("stranger-rs", "ns", "someone-else"), rs("c-0-rs", "other-ns", "d0-uid"),
		pod("c-1-rs-b", "ns", "c-1-rs"), pod("c-0-rs-a", "ns", "c-0-rs"), pod("c-1-rs-a", "ns", "c-1-rs"),
		pod("stranger-rs-a", "ns", "stranger-rs"), pod("c-0-rs-a", "other-ns", "c-0-rs"),
	}
	cache := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(objs...).Build()
	o := &Observer{Cache: cache}

	s, err := o.Snapshot(context.Background(), FromConsumer(consumer))
	require.NoError(t, err)
	var rsNames, podNames []string
	for _, r := range s.ReplicaSets {
		rsNames = append(rsNames, r.Namespace+"/"+r.Name)
		assert.Equal(t, "ReplicaSet", r.Kind, "a recorded snapshot says what its metadata is of")
	}
	for _, p := range s.Pods {
		podNames = append(podNames, p.Namespace+"/"+p.Name)
	}
	assert.Equal(t, []string{"ns/c-0-rs", "ns/c-1-rs"}, rsNames)
	assert.Equal(t, []string{"ns/c-0-rs-a", "ns/c-1-rs-a", "ns/c-1-rs-b"}, podNames)

	// Pods tell the planner about health in every mode (failed rollouts, out-of-memory kills, stuck pods); only an
	// owner whose spec cannot be read reads none.
	for name, mutate := range map[string]func(*Owned){
		"Restart":       func(o *Owned) { o.Spec.Autoscaler.UpdateMode = konsumeratorv1.UpdateRestart },
		"no autoscaler": func(o *Owned) { o.Spec.Autoscaler = nil },
		"empty mode":    func(o *Owned) { o.Spec.Autoscaler.UpdateMode = "" },
	} {
		owned := FromConsumer(consumer)
		mutate(&owned)
		s, err := o.Snapshot(context.Background(), owned)
		require.NoError(t, err)
		assert.Len(t, s.Pods, 3, name)
		assert.Len(t, s.ReplicaSets, 2, name)
	}
	broken := FromConsumer(consumer)
	broken.SpecError = "spec: bad"
	s, err = o.Snapshot(context.Background(), broken)
	require.NoError(t, err)
	assert.Empty(t, s.Pods, "a spec that cannot be read")
}
