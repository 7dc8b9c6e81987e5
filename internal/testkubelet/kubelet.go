// Package testkubelet plays the node agent for Pods in a control plane that has none (envtest): it registers a
// Node, starts the Pods bound to it, reports the resources of their containers as a kubelet does, and answers
// in-place resizes (the pods/resize subresource) the way a kubelet would — carried out, left pending as
// Infeasible or Deferred, stuck in progress, or failed — as a test tells it. It also kills containers, e.g. for
// being out of memory. Everything it writes goes through the API server, so what the operator reads is what a
// real kubelet would have written.
package testkubelet

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// Answer is how the kubelet responds to a pending resize.
type Answer string

const (
	// Accept carries the resize out: the containers run on with the new resources, restart count unchanged.
	Accept Answer = "Accept"
	// Infeasible leaves the resize pending: the node can never fit it.
	Infeasible Answer = "Infeasible"
	// Deferred leaves the resize pending: the node cannot fit it now.
	Deferred Answer = "Deferred"
	// InProgress starts the resize and never finishes it.
	InProgress Answer = "InProgress"
	// Error starts the resize and reports that it failed.
	Error Answer = "Error"
)

// Kubelet is one fake node agent.
type Kubelet struct {
	Client kubernetes.Interface
	// Node is the name of the Node it registers and serves.
	Node string
	// Answer decides each pending resize; nil accepts every one.
	Answer func(pod *corev1.Pod) Answer
	// Now stamps conditions and container start times; nil is time.Now.
	Now func() time.Time
}

func (k *Kubelet) now() metav1.Time {
	if k.Now != nil {
		return metav1.NewTime(k.Now())
	}
	return metav1.Now()
}

// RegisterNode creates the Node with the given allocatable CPU and memory. The API server checks a resize against
// the allocatable resources of the pod's Node, so a resize beyond them is refused at admission.
func (k *Kubelet) RegisterNode(ctx context.Context, cpu, memory string) error {
	node, err := k.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: k.Node}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("registering Node %s: %w", k.Node, err)
	}
	node.Status.Allocatable = corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory),
		corev1.ResourcePods: resource.MustParse("1000"),
	}
	node.Status.Capacity = node.Status.Allocatable
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}}
	if _, err := k.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("reporting Node %s: %w", k.Node, err)
	}
	return nil
}

// Sync makes one pass over the pods of a namespace, as a kubelet's sync loop would: it binds unscheduled pods to
// its Node, starts pods that do not run yet, and answers every resize that is pending.
func (k *Kubelet) Sync(ctx context.Context, namespace string) error {
	pods, err := k.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.DeletionTimestamp != nil {
			continue
		}
		if pod.Spec.NodeName == "" {
			if err := k.bind(ctx, pod); err != nil {
				return err
			}
			if pod, err = k.Client.CoreV1().Pods(namespace).Get(ctx, pod.Name, metav1.GetOptions{}); err != nil {
				return err
			}
		}
		if pod.Spec.NodeName != k.Node {
			continue
		}
		switch {
		case pod.Status.Phase != corev1.PodRunning:
			err = k.start(ctx, pod)
		case resizePending(pod):
			err = k.answer(ctx, pod)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (k *Kubelet) bind(ctx context.Context, pod *corev1.Pod) error {
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target: corev1.ObjectReference{Kind: "Node", Name: k.Node}}
	if err := k.Client.CoreV1().Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("binding %s to %s: %w", pod.Name, k.Node, err)
	}
	return nil
}

// start reports the pod running with every container started at the resources of its spec.
func (k *Kubelet) start(ctx context.Context, pod *corev1.Pod) error {
	now := k.now()
	pod.Status.Phase = corev1.PodRunning
	pod.Status.StartTime = &now
	pod.Status.ObservedGeneration = pod.Generation
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}
	pod.Status.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, Ready: true, Started: ptr.To(true),
			State:     corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
			Resources: c.Resources.DeepCopy(), AllocatedResources: c.Resources.Requests.DeepCopy(),
		})
	}
	return k.writeStatus(ctx, pod)
}

// resizePending reports whether the spec asks for resources the containers do not run with.
func resizePending(pod *corev1.Pod) bool {
	for _, c := range pod.Spec.Containers {
		st := containerStatus(pod, c.Name)
		if st == nil || st.Resources == nil || !equality.Semantic.DeepEqual(*st.Resources, c.Resources) {
			return true
		}
	}
	return false
}

func (k *Kubelet) answer(ctx context.Context, pod *corev1.Pod) error {
	answer := Accept
	if k.Answer != nil {
		answer = k.Answer(pod)
	}
	switch answer {
	case Accept:
		for _, c := range pod.Spec.Containers {
			if st := containerStatus(pod, c.Name); st != nil {
				st.Resources, st.AllocatedResources = c.Resources.DeepCopy(), c.Resources.Requests.DeepCopy()
			}
		}
		pod.Status.ObservedGeneration = pod.Generation
		dropCondition(pod, corev1.PodResizePending)
		dropCondition(pod, corev1.PodResizeInProgress)
	case Infeasible, Deferred:
		k.setCondition(pod, corev1.PodResizePending, string(answer), "the node "+k.Node+" cannot fit the requested resources")
		dropCondition(pod, corev1.PodResizeInProgress)
	case InProgress:
		k.setCondition(pod, corev1.PodResizeInProgress, "", "")
	case Error:
		k.setCondition(pod, corev1.PodResizeInProgress, string(Error), "the container runtime failed to resize")
	default:
		return fmt.Errorf("unknown answer %q", answer)
	}
	return k.writeStatus(ctx, pod)
}

// Kill ends a container as the kubelet does when it is killed (e.g. reason "OOMKilled", exit code 137) and starts
// it again: the restart count grows and the last state says why.
func (k *Kubelet) Kill(ctx context.Context, namespace, podName, container, reason string, exitCode int32) error {
	pod, err := k.Client.CoreV1().Pods(namespace).Get(ctx, podName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	st := containerStatus(pod, container)
	if st == nil {
		return fmt.Errorf("pod %s has no container %s", podName, container)
	}
	now := k.now()
	started := now
	if st.State.Running != nil {
		started = st.State.Running.StartedAt
	}
	st.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		Reason: reason, ExitCode: exitCode, StartedAt: started, FinishedAt: now}}
	st.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
	st.RestartCount++
	return k.writeStatus(ctx, pod)
}

func (k *Kubelet) writeStatus(ctx context.Context, pod *corev1.Pod) error {
	if _, err := k.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("writing the status of %s: %w", pod.Name, err)
	}
	return nil
}

func (k *Kubelet) setCondition(pod *corev1.Pod, t corev1.PodConditionType, reason, message string) {
	for i := range pod.Status.Conditions {
		if c := &pod.Status.Conditions[i]; c.Type == t {
			if c.Reason != reason {
				c.Reason, c.Message, c.LastTransitionTime = reason, message, k.now()
			}
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue,
		Reason: reason, Message: message, LastTransitionTime: k.now()})
}

func dropCondition(pod *corev1.Pod, t corev1.PodConditionType) {
	kept := pod.Status.Conditions[:0]
	for _, c := range pod.Status.Conditions {
		if c.Type != t {
			kept = append(kept, c)
		}
	}
	pod.Status.Conditions = kept
}

func containerStatus(pod *corev1.Pod, name string) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == name {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}
