package model

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// ActionKind is what happens to one object.
type ActionKind string

const (
	ActionCreate    ActionKind = "create"
	ActionUpdate    ActionKind = "update"
	ActionDelete    ActionKind = "delete"
	ActionUnchanged ActionKind = "unchanged"
	// ActionSkip is a change that is due but held back (rollout budget, a foreign object in the way, frozen).
	ActionSkip ActionKind = "skip"
	// ActionResize changes the resources of one running pod through pods/resize (updateMode InPlace).
	ActionResize ActionKind = "resize"
	// ActionDeletePod deletes a pod stuck on a node that is gone (opt-in), with its UID as a precondition and no
	// grace period (its kubelet will never confirm), so that its ReplicaSet replaces it.
	ActionDeletePod ActionKind = "delete-pod"
)

// Phase orders the writes of a plan: every write of a phase is done before the next phase starts.
type Phase int

const (
	// PhaseResize goes first: in-place resizes (and deletes of stuck pods) reach the running pods at the speed
	// of one write each, ahead of the writes that record the decision on the Deployments. A resize does not wait
	// for its record: the decision is derived again from the same inputs on the next pass (the pending state it
	// came from is on the Deployment already), so an operator stopped between the two finds the pods at the
	// decided size and writes only the record.
	PhaseResize Phase = 0
	// PhaseApply creates and updates instances (and records in-place decisions on them).
	PhaseApply Phase = 1
	// PhaseDelete comes after every create and update, so that no partition is left without a consumer when
	// old instances are deleted.
	PhaseDelete Phase = 2
)

func (p Phase) String() string {
	switch p {
	case PhaseResize:
		return "resize"
	case PhaseApply:
		return "apply"
	case PhaseDelete:
		return "delete"
	}
	return fmt.Sprintf("phase %d", int(p))
}

// Plan is the whole decision for one owner.
type Plan struct {
	// SnapshotDigest is the Digest of the snapshot the plan was made from.
	SnapshotDigest string `json:"snapshotDigest"`
	// Actions has one entry per instance Deployment (expected or observed), sorted by phase, then name.
	Actions []Action `json:"actions"`
	// Status is the owner's status as it will be once the plan is carried out.
	Status konsumeratorv1.ConsumerStatus `json:"status"`
	// RequeueAfter is when the owner should be looked at again even if nothing changes (e.g. a pending scale
	// decision ripens). Zero means the default sync period.
	RequeueAfter Duration `json:"requeueAfter,omitempty"`
	// Instances are the figures of the expected instances that exist after the plan, in instance order, for the
	// operator's per-instance metrics; nil when the plan could not look at the instances (a spec it cannot
	// use), so nothing new is known of them. Not part of the recorded plan: they restate what the snapshot and
	// the actions hold, and a plan with no usable number (an infinite lag) must still serialise.
	Instances []InstanceFigures `json:"-"`
}

// InstanceFigures are what a plan knows of one instance once it is carried out: figures for people and
// dashboards, never read back by a decision.
type InstanceFigures struct {
	Name string
	// Lag is how long the instance's worst partition takes to work off its backlog, in seconds; +Inf when
	// nothing is consumed. Nil when unknown: no usable sample, or no data for any of its partitions.
	Lag *float64
	// Lagging is whether Lag reaches tolerableLag; nil when unknown. False without an autoscaler.
	Lagging *bool
	// ScalingState is the instance's scaling-status after the plan: RUNNING, PENDING_SCALE_UP or
	// PENDING_SCALE_DOWN.
	ScalingState string
	// Requests are the CPU and memory requests decided for each container, in the template's order (in
	// updateMode InPlace what the pods are resized to, which the template may not have yet).
	Requests []ContainerRequest
}

// ContainerRequest is one resource request of one container, as a number: cores for cpu, bytes for memory.
type ContainerRequest struct {
	Container string
	Resource  corev1.ResourceName
	Value     float64
}

// Action is what happens to one object, and why.
type Action struct {
	Kind      ActionKind `json:"action"`
	Phase     Phase      `json:"phase"`
	Namespace string     `json:"namespace"`
	Name      string     `json:"name"`
	// UID is the observed object's UID; a delete is made with it as a precondition.
	UID types.UID `json:"uid,omitempty"`
	// Instance is the instance index, or -1 for a Deployment that is not an expected instance.
	Instance int32 `json:"instance"`
	// Reason is one human line: why this action.
	Reason string `json:"reason"`
	// Changes names the fields that change, e.g. "spec.template.spec.containers[busybox].resources.requests.cpu
	// 100m->300m". Empty for create, delete and unchanged.
	Changes []string `json:"changes,omitempty"`
	// Restart is true when the change replaces the instance's pods (pod template or resources), or, for a
	// resize, when a container's resizePolicy restarts it.
	Restart bool `json:"restart,omitempty"`
	// RestartReason is why pods restart (one of the Restart* words of the API package); empty without a restart.
	RestartReason string `json:"restartReason,omitempty"`
	// InPlace is true on an instance's update whose resource change reaches its pods by resize actions, not by
	// the pod template.
	InPlace bool `json:"inPlace,omitempty"`
	// Resources are the request changes of the containers the autoscaler sizes, before and after, for the
	// Event that explains a resize.
	Resources []ResourceChange `json:"resources,omitempty"`
	// Load is the figures behind a sizing decision, e.g. "lag 12s above tolerableLag 10s"; empty without
	// fresh data for the instance.
	Load string `json:"load,omitempty"`
	// OutOfMemory, on a decision that raises memory at once after containers were killed for running out of
	// it, says which kills and the numbers, for its Event.
	OutOfMemory string `json:"outOfMemory,omitempty"`
	// Pending is true when the instance waits in a PENDING_SCALE_UP or PENDING_SCALE_DOWN state after this action.
	Pending bool `json:"pending,omitempty"`
	// Desired is the full object the operator owns, for create and update (server-side apply). The desired
	// objects of one plan share their common parts (the template's, and equal resources): read-only.
	Desired *appsv1ac.DeploymentApplyConfiguration `json:"desired,omitempty"`
	// Resize is the new resources of a pod's containers, for a resize; Name and UID are the pod's.
	Resize *PodResize `json:"resize,omitempty"`
}

// PodResize is one pods/resize call: all containers of a pod change together.
type PodResize struct {
	// Deployment is the instance the pod belongs to.
	Deployment string `json:"deployment"`
	// Containers are the containers that change, in the pod's order, each at its index in the pod spec (the
	// call checks the name at that index, and the pod's UID, before it changes anything).
	Containers []ContainerResize `json:"containers"`
}

// ContainerResize is the new resources of one container of a pod.
type ContainerResize struct {
	Index     int                         `json:"index"`
	Name      string                      `json:"name"`
	Resources corev1.ResourceRequirements `json:"resources"`
}

// Writes reports whether the action sends a write to the API server.
func (a Action) Writes() bool {
	return a.Kind == ActionCreate || a.Kind == ActionUpdate || a.Kind == ActionDelete || a.Kind == ActionResize ||
		a.Kind == ActionDeletePod
}

// Changed reports whether any action of the plan writes.
func (p *Plan) Changed() bool {
	for _, a := range p.Actions {
		if a.Writes() {
			return true
		}
	}
	return false
}

// Count returns how many actions are of the given kind.
func (p *Plan) Count(kind ActionKind) int {
	n := 0
	for _, a := range p.Actions {
		if a.Kind == kind {
			n++
		}
	}
	return n
}

// ResourceChange is one resource request of one container, before and after an action, as quantities print.
type ResourceChange struct {
	Container string `json:"container"`
	Resource  string `json:"resource"`
	From      string `json:"from"`
	To        string `json:"to"`
}
