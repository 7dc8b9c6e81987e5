package applier

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

func stripped(t *testing.T, desired *appsv1ac.DeploymentApplyConfiguration, fields ...string) map[string]any {
	t.Helper()
	before, err := json.Marshal(desired)
	require.NoError(t, err)
	cfg, err := withoutFields(desired, fields)
	require.NoError(t, err)
	after, err := json.Marshal(desired)
	require.NoError(t, err)
	assert.JSONEq(t, string(before), string(after), "the plan's object must not change")
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cfg)
	require.NoError(t, err)
	return m
}

func richDeployment() *appsv1ac.DeploymentApplyConfiguration {
	d := desiredDeployment("inst-0")
	d.WithAnnotations(map[string]string{konsumeratorv1.AnnotationSpecHash: "x", "keep": "y"}).
		Spec.WithReplicas(1)
	d.Spec.Template.Spec.Containers[0].WithResources(corev1ac.ResourceRequirements().WithRequests(corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}))
	d.Spec.Template.Spec.WithContainers(corev1ac.Container().WithName("b").WithImage("busybox").
		WithPorts(corev1ac.ContainerPort().WithContainerPort(80).WithProtocol(corev1.ProtocolTCP)))
	return d
}

func field(t *testing.T, m map[string]any, path ...string) (any, bool) {
	t.Helper()
	v, found, err := unstructured.NestedFieldNoCopy(m, path...)
	require.NoError(t, err)
	return v, found
}

func container(t *testing.T, m map[string]any, i int) map[string]any {
	t.Helper()
	cs, _ := field(t, m, "spec", "template", "spec", "containers")
	return cs.([]any)[i].(map[string]any)
}

// Fields are named as the API server names them in a conflict; the object's own field set finds them, whatever
// dots, quotes or commas their keys hold.
func TestWithoutFields(t *testing.T) {
	for _, tc := range []struct {
		field string
		check func(t *testing.T, m map[string]any)
	}{
		{".spec.replicas", func(t *testing.T, m map[string]any) {
			_, found := field(t, m, "spec", "replicas")
			assert.False(t, found)
		}},
		{`.spec.template.spec.containers[name="main"].resources.requests.cpu`, func(t *testing.T, m map[string]any) {
			assert.Equal(t, map[string]any{"memory": "1Gi"}, container(t, m, 0)["resources"].(map[string]any)["requests"])
		}},
		{".metadata.annotations.konsumerator.lwolf.org/spec-hash", func(t *testing.T, m map[string]any) {
			a, _ := field(t, m, "metadata", "annotations")
			assert.NotContains(t, a, konsumeratorv1.AnnotationSpecHash)
			assert.Contains(t, a, "keep")
		}},
		{`.spec.template.spec.containers[name="b"].ports[containerPort=80,protocol="TCP"]`, func(t *testing.T, m map[string]any) {
			assert.Empty(t, container(t, m, 1)["ports"])
			assert.Equal(t, "busybox", container(t, m, 1)["image"])
		}},
		{`.spec.template.spec.containers[name="zzz"].image`, func(t *testing.T, m map[string]any) {
			assert.Equal(t, "busybox", container(t, m, 0)["image"], "a field the object does not set removes nothing")
		}},
		{"garbage[", func(t *testing.T, m map[string]any) {
			_, found := field(t, m, "spec", "replicas")
			assert.True(t, found)
		}},
	} {
		t.Run(tc.field, func(t *testing.T) {
			m := stripped(t, richDeployment(), tc.field)
			tc.check(t, m)
			a, _ := field(t, m, "metadata", "annotations")
			assert.Equal(t, tc.field, a.(map[string]any)[konsumeratorv1.AnnotationYieldedFields], "the annotation lists what was yielded")
		})
	}
}

func TestWithoutFieldsKeepsEarlierYieldedFields(t *testing.T) {
	d := richDeployment()
	d.Annotations[konsumeratorv1.AnnotationYieldedFields] = ".spec.replicas"
	m := stripped(t, d, `.spec.template.spec.containers[name="b"].ports[containerPort=80,protocol="TCP"]`, ".spec.replicas")
	a, _ := field(t, m, "metadata", "annotations")
	assert.Equal(t, `.spec.replicas,.spec.template.spec.containers[name="b"].ports[containerPort=80,protocol="TCP"]`,
		a.(map[string]any)[konsumeratorv1.AnnotationYieldedFields])
	_, found := field(t, m, "spec", "replicas")
	assert.False(t, found)
}

func TestWithUIDLeavesThePlanAlone(t *testing.T) {
	d := desiredDeployment("inst-0")
	u := withUID(d, "uid-1")
	require.NotNil(t, u.UID)
	assert.Equal(t, "uid-1", string(*u.UID))
	assert.Nil(t, d.UID)
	assert.Same(t, d.Spec, u.Spec, "only the metadata is copied")
}
