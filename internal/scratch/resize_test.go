package scratch

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/konsumerator/konsumerator/internal/testenv"
)

func TestResize(t *testing.T) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Environment.Stop()
	cs := kubernetes.NewForConfigOrDie(env.Config)
	ctx := context.Background()
	node, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Allocatable = corev1.ResourceList{"cpu": resource.MustParse("4"), "memory": resource.MustParse("8Gi"), "pods": resource.MustParse("110")}
	node.Status.Capacity = node.Status.Allocatable
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	res := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{"cpu": resource.MustParse("100m"), "memory": resource.MustParse("100M")},
		Limits:   corev1.ResourceList{"cpu": resource.MustParse("1"), "memory": resource.MustParse("100M")},
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "x", Resources: res}}}}
	pod, err = cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Image: "x", Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}, Resources: res.DeepCopy(), AllocatedResources: res.Requests}}}
	pod, err = cs.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	try := func(name, patch string) {
		p, err := cs.CoreV1().Pods("default").Patch(ctx, "p", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}, "resize")
		if err != nil {
			fmt.Printf("%s: ERROR %v\n", name, err)
			return
		}
		b, _ := yaml.Marshal(p.Spec.Containers[0].Resources)
		fmt.Printf("%s: ok gen=%d obsgen=%d\n%s status=%v\n", name, p.Generation, p.Status.ObservedGeneration, b, p.Status.Conditions)
	}
	try("cpu up", `{"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"300m"},"limits":{"cpu":"2"}}}]}}`)
	try("mem up", `{"spec":{"containers":[{"name":"c","resources":{"requests":{"memory":"200M"},"limits":{"memory":"200M"}}}]}}`)
	try("mem down", `{"spec":{"containers":[{"name":"c","resources":{"requests":{"memory":"50M"},"limits":{"memory":"50M"}}}]}}`)
	try("too big", `{"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"5"},"limits":{"cpu":"6"}}}]}}`)
	try("qos guaranteed", `{"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"2","memory":"50M"},"limits":{"cpu":"2","memory":"50M"}}}]}}`)
	try("remove limit", `{"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":null}}}]}}`)
	// a pod without status resources
	pod2 := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "x", Resources: res}}}}
	pod2, _ = cs.CoreV1().Pods("default").Create(ctx, pod2, metav1.CreateOptions{})
	pod2.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Image: "x", Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}}
	cs.CoreV1().Pods("default").UpdateStatus(ctx, pod2, metav1.UpdateOptions{})
	_, err = cs.CoreV1().Pods("default").Patch(ctx, "q", types.StrategicMergePatchType, []byte(`{"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"300m"}}}]}}`), metav1.PatchOptions{}, "resize")
	fmt.Println("no status resources:", err)
	// apply-patch resize
	_, err = cs.CoreV1().Pods("default").Patch(ctx, "p", types.ApplyPatchType, []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"400m","memory":"200M"},"limits":{"cpu":"2","memory":"200M"}}}]}}`), metav1.PatchOptions{FieldManager: "k"}, "resize")
	fmt.Println("apply resize:", err)
}
