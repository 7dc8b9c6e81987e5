package planner

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// In updateMode InPlace the decided resources live in AnnotationResources and reach running pods through
// pods/resize; the pod template keeps the size pods start with ("the template lags") until a rollout that
// happens anyway — a template change, a repartition, or a fallback below — carries the decided resources into it.
// A resize is not safe, or not possible, when it would change the pod's QoS class or remove a request or limit
// (the API server refuses both), when the pod runs where resizes are not supported, or when the kubelet reports
// it Infeasible, Deferred or in progress for too long, or failed: the instance then restarts with the decided
// resources in its template, under the rollout budget, and the action says why.

// Bounds on a resize the kubelet has not carried out, the same as the Vertical Pod Autoscaler's in-place updater.
const (
	resizeDeferredBound   = 5 * time.Minute
	resizeInProgressBound = time.Hour
)

// revisionAnnotation is the Deployment controller's revision of a ReplicaSet.
const revisionAnnotation = "deployment.kubernetes.io/revision"

// encodeResources is the value of AnnotationResources: container name to requests and limits, JSON with sorted
// keys and canonical quantities, so equal decisions give equal texts.
func encodeResources(names []string, res []corev1.ResourceRequirements) string {
	m := make(map[string]corev1.ResourceRequirements, len(names))
	for i, name := range names {
		if i < len(res) {
			m[name] = corev1.ResourceRequirements{Requests: canonicalList(res[i].Requests), Limits: canonicalList(res[i].Limits)}
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return ""
	}
	return string(raw)
}

func canonicalList(l corev1.ResourceList) corev1.ResourceList {
	if len(l) == 0 {
		return nil
	}
	out := make(corev1.ResourceList, len(l))
	for k, q := range l {
		out[k] = resource.MustParse(q.String())
	}
	return out
}

// maxResourcesAnnotation bounds what is parsed: the annotation of a Deployment is not trusted to be small.
const maxResourcesAnnotation = 16 << 10

// decodeResources reads AnnotationResources for the template's containers; ok is false when the value is not one
// the planner wrote for these containers (absent, garbled, a container missing), and the template's resources
// then stand for the decision.
func decodeResources(v string, names []string) ([]corev1.ResourceRequirements, bool) {
	if v == "" || len(v) > maxResourcesAnnotation {
		return nil, false
	}
	var m map[string]corev1.ResourceRequirements
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return nil, false
	}
	out := make([]corev1.ResourceRequirements, len(names))
	for i, name := range names {
		r, ok := m[name]
		if !ok {
			return nil, false
		}
		out[i] = r
	}
	return out, true
}

// podIndex finds the pods of each instance: a pod belongs to a Deployment when its controller is a ReplicaSet
// whose controller is that Deployment. newPodIndex gives those of the newest ReplicaSet (pods of older ones, a
// rollout under way, are left to the rollout) and, apart, all of them.
type podIndex map[types.UID][]*corev1.Pod

func newPodIndex(s *model.Snapshot) (newest, all podIndex) {
	if len(s.Pods) == 0 {
		return nil, nil
	}
	type rsInfo struct {
		deployment types.UID
		revision   string
	}
	rsByUID := make(map[types.UID]rsInfo, len(s.ReplicaSets))
	latest := map[types.UID]int64{}
	for i := range s.ReplicaSets {
		rs := &s.ReplicaSets[i]
		ref := controllerOf(rs.OwnerReferences)
		if ref == nil || ref.Kind != "Deployment" {
			continue
		}
		rev := rs.Annotations[revisionAnnotation]
		rsByUID[rs.UID] = rsInfo{deployment: ref.UID, revision: rev}
		if n, ok := parseRevision(rev); ok && n > latest[ref.UID] {
			latest[ref.UID] = n
		}
	}
	newest, all = podIndex{}, podIndex{}
	for i := range s.Pods {
		p := &s.Pods[i]
		ref := controllerOf(p.OwnerReferences)
		if ref == nil || ref.Kind != "ReplicaSet" {
			continue
		}
		rs, ok := rsByUID[ref.UID]
		if !ok {
			continue
		}
		all[rs.deployment] = append(all[rs.deployment], p)
		if n, ok := parseRevision(rs.revision); ok && n < latest[rs.deployment] {
			continue
		}
		newest[rs.deployment] = append(newest[rs.deployment], p)
	}
	for _, idx := range []podIndex{newest, all} {
		for _, pods := range idx {
			sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
		}
	}
	return newest, all
}

func parseRevision(v string) (int64, bool) {
	var n int64
	if v == "" || len(v) > 18 {
		return 0, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func controllerOf(refs []metav1.OwnerReference) *metav1.OwnerReference {
	for i := range refs {
		if refs[i].Controller != nil && *refs[i].Controller {
			return &refs[i]
		}
	}
	return nil
}

// resizePlan is what the pods of one instance need to reach the decided resources.
type resizePlan struct {
	actions []model.Action
	// fallback, when not empty, is why the instance must restart instead (a Restart* word), and fallbackNote the
	// line that says it with the pod and numbers.
	fallback, fallbackNote string
	// restartReason is RestartContainerPolicy when a resize restarts a container.
	restartReason string
	// waiting counts pods whose resize the kubelet has not finished; wake is when one of them reaches its bound.
	waiting int
	wake    time.Time
}

// planResizes decides, pod by pod, how the instance's running pods get the decided resources.
func (pl *planner) planResizes(in *instance) resizePlan {
	var rp resizePlan
	for _, pod := range pl.pods[in.observed.UID] {
		if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning {
			continue // a pod that is not running yet is resized once it runs
		}
		if pl.planPod(in, pod, &rp); rp.fallback != "" {
			rp.actions = nil
			return rp
		}
	}
	return rp
}

// planPod adds the resize one pod needs, or the reason it cannot be resized.
func (pl *planner) planPod(in *instance, pod *corev1.Pod, rp *resizePlan) {
	// The targets of every container first: the QoS class is the whole pod's.
	var wants []model.ContainerResize
	heldMemory := false
	for i, name := range pl.names {
		if j := podContainer(pod.Spec.Containers, name); j >= 0 {
			want := pl.podTarget(in, i, pod.Spec.Containers[j].Resources)
			heldMemory = heldMemory || !sameQuantity(want.Limits, in.decided[i].Limits, corev1.ResourceMemory)
			wants = append(wants, model.ContainerResize{Index: j, Name: name, Resources: want})
		}
	}
	keptBurstable := pl.keepBurstable(pod, wants)
	resize := &model.PodResize{Deployment: in.name}
	var lines []string
	restarts := false
	for _, w := range wants {
		c := &pod.Spec.Containers[w.Index]
		if sameRequirements(c.Resources, w.Resources) {
			continue
		}
		if removesResource(c.Resources, w.Resources) {
			rp.fallback = konsumeratorv1.RestartResizeRemovesResource
			rp.fallbackNote = fmt.Sprintf("pod %s: the resize would remove a request or limit of %s, which pods/resize refuses", pod.Name, w.Name)
			return
		}
		if !reportsResources(pod, w.Name) {
			rp.fallback = konsumeratorv1.RestartResizeUnsupported
			rp.fallbackNote = fmt.Sprintf("pod %s: container %s reports no resources, so its node does not resize in place", pod.Name, w.Name)
			return
		}
		resize.Containers = append(resize.Containers, w)
		lines = append(lines, resizeLines(w.Name, c.Resources, w.Resources)...)
		restarts = restarts || restartsOnResize(c, c.Resources, w.Resources)
	}
	if len(resize.Containers) == 0 {
		pl.checkPending(pod, rp)
		return
	}
	if from, to := podQoS(pod, nil), podQoS(pod, resize.Containers); from != to {
		rp.fallback = konsumeratorv1.RestartQoSChange
		rp.fallbackNote = fmt.Sprintf("pod %s: the resize would change its QoS class from %s to %s", pod.Name, from, to)
		return
	}
	a := model.Action{Kind: model.ActionResize, Phase: model.PhaseResize, Namespace: pl.st.namespace, Name: pod.Name,
		UID: pod.UID, Instance: in.index, Changes: lines, Resize: resize,
		Reason: "resized in place to the decided resources, no restart"}
	var notes []string
	if heldMemory {
		notes = append(notes, "memory is not lowered below the size the pod started with: the lower value waits for the next rollout")
	}
	if keptBurstable {
		notes = append(notes, "a cpu request is kept 1m under its limit so the pod stays Burstable (pods/resize cannot change the QoS class)")
	}
	if len(notes) > 0 {
		a.Reason = "resized in place, no restart; " + strings.Join(notes, "; ")
	}
	if restarts {
		a.Restart, a.RestartReason = true, konsumeratorv1.RestartContainerPolicy
		a.Reason = "resized in place; a container's resizePolicy restarts it"
		rp.restartReason = konsumeratorv1.RestartContainerPolicy
	}
	rp.actions = append(rp.actions, a)
}

// keepBurstable: a Burstable pod whose targets have every request equal to its limit would become Guaranteed, which
// pods/resize refuses, so the sizing would turn every scale to the policy's maximum into a restart. One cpu request
// kept 1m under its limit keeps the class, at no cost worth a restart, unless that goes under the container's
// minAllowed cpu (the class change is then a restart). It reports whether it changed a target.
func (pl *planner) keepBurstable(pod *corev1.Pod, wants []model.ContainerResize) bool {
	if podQoS(pod, nil) != corev1.PodQOSBurstable || podQoS(pod, wants) != corev1.PodQOSGuaranteed {
		return false
	}
	for i := range wants {
		r := &wants[i].Resources
		lim, ok := r.Limits[corev1.ResourceCPU]
		if !ok || lim.MilliValue() <= 1 || lim.MilliValue()-1 < pl.st.policies[wants[i].Name].min[corev1.ResourceCPU] {
			continue
		}
		req := effectiveRequests(*r)[corev1.ResourceCPU]
		if req.Cmp(lim) != 0 {
			continue
		}
		r.Requests = copyList(effectiveRequests(*r))
		r.Requests[corev1.ResourceCPU] = *resource.NewMilliQuantity(lim.MilliValue()-1, resource.DecimalSI)
		return true
	}
	return false
}

// checkPending looks at a pod already asked for the decided resources: a resize the kubelet cannot do, or has not
// done within its bound, turns into a restart.
func (pl *planner) checkPending(pod *corev1.Pod, rp *resizePlan) {
	for _, c := range pod.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		age := pl.now.Sub(c.LastTransitionTime.Time)
		switch {
		case c.Type == corev1.PodResizePending && c.Reason == corev1.PodReasonInfeasible:
			rp.fallback = konsumeratorv1.RestartResizeInfeasible
			rp.fallbackNote = fmt.Sprintf("pod %s: the kubelet reports the resize infeasible: %s", pod.Name, truncate(c.Message, 200))
		case c.Type == corev1.PodResizePending && age >= resizeDeferredBound:
			rp.fallback = konsumeratorv1.RestartResizeDeferred
			rp.fallbackNote = fmt.Sprintf("pod %s: the resize has been deferred for %s (bound %s)", pod.Name, age.Round(time.Second), resizeDeferredBound)
		case c.Type == corev1.PodResizeInProgress && c.Reason == corev1.PodReasonError:
			rp.fallback = konsumeratorv1.RestartResizeError
			rp.fallbackNote = fmt.Sprintf("pod %s: the kubelet failed the resize: %s", pod.Name, truncate(c.Message, 200))
		case c.Type == corev1.PodResizeInProgress && age >= resizeInProgressBound:
			rp.fallback = konsumeratorv1.RestartResizeInProgress
			rp.fallbackNote = fmt.Sprintf("pod %s: the resize has been in progress for %s (bound %s)", pod.Name, age.Round(time.Second), resizeInProgressBound)
		case c.Type == corev1.PodResizePending:
			rp.waiting++
			rp.wakeAt(c.LastTransitionTime.Add(resizeDeferredBound))
		case c.Type == corev1.PodResizeInProgress:
			rp.waiting++
			rp.wakeAt(c.LastTransitionTime.Add(resizeInProgressBound))
		}
		if rp.fallback != "" {
			return
		}
	}
}

func (rp *resizePlan) wakeAt(t time.Time) {
	if rp.wake.IsZero() || t.Before(rp.wake) {
		rp.wake = t
	}
}

// podTarget is what container i of a running pod is resized to: the decided resources for cpu and memory, the
// pod's own values for anything else (pods/resize changes nothing else). Memory is not lowered in place below
// what the template starts pods with: the process sized itself at start (GOMEMLIMIT is fixed then), and a limit
// under that invites an out-of-memory kill. The lower memory waits for the next rollout, which carries it.
func (pl *planner) podTarget(in *instance, i int, live corev1.ResourceRequirements) corev1.ResourceRequirements {
	want := in.decided[i]
	start := in.tmplRes[i]
	reqMem, limMem := effectiveRequests(want)[corev1.ResourceMemory], want.Limits[corev1.ResourceMemory]
	if sl, ok := start.Limits[corev1.ResourceMemory]; ok {
		if wl, ok := want.Limits[corev1.ResourceMemory]; ok && wl.Cmp(sl) < 0 {
			reqMem, limMem = effectiveRequests(start)[corev1.ResourceMemory], sl
		}
	}
	out := corev1.ResourceRequirements{Requests: copyList(live.Requests), Limits: copyList(live.Limits), Claims: live.Claims}
	set := func(l *corev1.ResourceList, name corev1.ResourceName, q resource.Quantity, ok bool) {
		if !ok {
			delete(*l, name)
			return
		}
		if *l == nil {
			*l = corev1.ResourceList{}
		}
		(*l)[name] = q
	}
	reqs, lims := effectiveRequests(want), want.Limits
	c, ok := reqs[corev1.ResourceCPU]
	set(&out.Requests, corev1.ResourceCPU, c, ok)
	c, ok = lims[corev1.ResourceCPU]
	set(&out.Limits, corev1.ResourceCPU, c, ok)
	_, ok = reqs[corev1.ResourceMemory]
	set(&out.Requests, corev1.ResourceMemory, reqMem, ok)
	_, ok = lims[corev1.ResourceMemory]
	set(&out.Limits, corev1.ResourceMemory, limMem, ok)
	if len(out.Requests) == 0 {
		out.Requests = nil
	}
	if len(out.Limits) == 0 {
		out.Limits = nil
	}
	return pl.memo.podTarget(out)
}

func copyList(l corev1.ResourceList) corev1.ResourceList {
	if l == nil {
		return nil
	}
	out := make(corev1.ResourceList, len(l))
	for k, v := range l {
		out[k] = v
	}
	return out
}

func sameRequirements(a, b corev1.ResourceRequirements) bool {
	return sameList(effectiveRequests(a), effectiveRequests(b)) && sameList(a.Limits, b.Limits)
}

// removesResource: the resize drops a cpu or memory request or limit the pod has.
func removesResource(live, want corev1.ResourceRequirements) bool {
	for _, pair := range [2][2]corev1.ResourceList{{effectiveRequests(live), effectiveRequests(want)}, {live.Limits, want.Limits}} {
		for _, name := range commonNames {
			if _, had := pair[0][name]; had {
				if _, has := pair[1][name]; !has {
					return true
				}
			}
		}
	}
	return false
}

// reportsResources: the container's status carries its resources, which a node that resizes in place reports
// (the API server refuses to resize a running container that shows none).
func reportsResources(pod *corev1.Pod, name string) bool {
	for i := range pod.Status.ContainerStatuses {
		if cs := &pod.Status.ContainerStatuses[i]; cs.Name == name {
			return cs.Resources != nil
		}
	}
	return false
}

// restartsOnResize: the container's resizePolicy restarts it for a resource that changes.
func restartsOnResize(c *corev1.Container, live, want corev1.ResourceRequirements) bool {
	for _, p := range c.ResizePolicy {
		if p.RestartPolicy != corev1.RestartContainer {
			continue
		}
		name := p.ResourceName
		lr, wr := effectiveRequests(live), effectiveRequests(want)
		if !sameQuantity(lr, wr, name) || !sameQuantity(live.Limits, want.Limits, name) {
			return true
		}
	}
	return false
}

func sameQuantity(a, b corev1.ResourceList, name corev1.ResourceName) bool {
	qa, oka := a[name]
	qb, okb := b[name]
	return oka == okb && (!oka || qa.Cmp(qb) == 0)
}

func podContainer(cs []corev1.Container, name string) int {
	for i := range cs {
		if cs[i].Name == name {
			return i
		}
	}
	return -1
}

// podQoS is the pod's QoS class, as the API server computes it from cpu and memory, with the given containers'
// resources replaced.
func podQoS(pod *corev1.Pod, replaced []model.ContainerResize) corev1.PodQOSClass {
	all := make([]corev1.ResourceRequirements, 0, len(pod.Spec.InitContainers)+len(pod.Spec.Containers))
	for i := range pod.Spec.InitContainers {
		all = append(all, pod.Spec.InitContainers[i].Resources)
	}
	for i := range pod.Spec.Containers {
		r := pod.Spec.Containers[i].Resources
		for _, c := range replaced {
			if c.Index == i {
				r = c.Resources
			}
		}
		all = append(all, r)
	}
	any, guaranteed := false, true
	for _, r := range all {
		req := effectiveRequests(r)
		for _, name := range commonNames {
			q, hasReq := req[name]
			l, hasLim := r.Limits[name]
			any = any || hasReq && !q.IsZero() || hasLim && !l.IsZero()
			guaranteed = guaranteed && hasLim && hasReq && q.Cmp(l) == 0
		}
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// resizeLines are the change lines of one container's resize, cpu then memory, requests then limits.
func resizeLines(container string, live, want corev1.ResourceRequirements) []string {
	var c changeSet
	resourceChanges(&c, "spec.containers["+container+"].resources", live, want)
	return c.lines
}

// annotationResourceLines are the change lines of AnnotationResources, field by field, for people to read.
func (pl *planner) annotationResourceLines(c *changeSet, in *instance, live string) {
	path := "metadata.annotations[" + konsumeratorv1.AnnotationResources + "]"
	old, ok := decodeResources(live, pl.names)
	if !ok {
		text := none
		if live != "" {
			text = "unreadable"
		}
		c.add(path, text, strconv.Quote(encodeResources(pl.names, in.decided)))
		return
	}
	before := len(c.lines)
	for i, name := range pl.names {
		resourceChanges(c, path+"["+name+"]", old[i], in.decided[i])
	}
	if len(c.lines) == before {
		// Equal values written differently: the text is rewritten in its canonical form.
		c.add(path, "non-canonical", "canonical")
	}
}

// templateResources chooses what the desired pod template carries. In updateMode InPlace a live template whose
// resources are the ones the operator last wrote (the resources part of its spec hash) keeps them: pods are
// resized instead. Anything else — a new instance, updateMode Restart, a template edited by hand or made by
// another tool — gets the decided resources.
func (pl *planner) templateResources(in *instance) {
	in.tmplRes, in.tmplIsLive, in.liveProcs = pl.startResources(in.decided), false, false
	if !pl.inPlace || in.observed == nil || !sameNames(in.observed.Spec.Template.Spec.Containers, pl.names) {
		return
	}
	h, ok := parseSpecHash(in.ann.specHash)
	if !ok || h.resources != resourcesDigest(pl.names, in.templateLive) {
		return
	}
	in.tmplRes, in.tmplIsLive = in.templateLive, true
	for _, c := range in.observed.Spec.Template.Spec.Containers {
		in.liveProcs = in.liveProcs || findEnv(c.Env, konsumeratorv1.EnvGOMAXPROCS) != nil
	}
}

// startResources are the resources a pod template starts pods with in updateMode InPlace: the decided ones, but a
// pod that would start Guaranteed (every request at its limit, as at the policy's maximum) keeps one cpu request 1m
// under its limit, so that it is Burstable and its later scale-downs can be done in place (pods/resize cannot
// change the QoS class).
func (pl *planner) startResources(decided []corev1.ResourceRequirements) []corev1.ResourceRequirements {
	if !pl.inPlace {
		return decided
	}
	pod := &corev1.Pod{Spec: *pl.tmpl.Template.Spec.DeepCopy()}
	wants := make([]model.ContainerResize, 0, len(pl.names))
	for i := range pl.names {
		if i < len(decided) && i < len(pod.Spec.Containers) {
			pod.Spec.Containers[i].Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{}}
			wants = append(wants, model.ContainerResize{Index: i, Name: pl.names[i], Resources: decided[i]})
		}
	}
	if podQoS(pod, wants) != corev1.PodQOSGuaranteed {
		return decided
	}
	// As from a Burstable pod: keepBurstable changes the first cpu request at its limit.
	pod.Spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1m")}}
	if !pl.keepBurstable(pod, wants) {
		return decided
	}
	out := make([]corev1.ResourceRequirements, len(decided))
	copy(out, decided)
	for _, w := range wants {
		out[w.Index] = w.Resources
	}
	return out
}

// rollTemplate gives the template the decided resources, for a rollout that happens anyway or one an in-place
// resize falls back to, and diffs again; the pods it replaces need no resize.
func (pl *planner) rollTemplate(in *instance, p *instanceParts, ch *changeSet) {
	in.tmplRes, in.tmplIsLive = pl.startResources(in.decided), false
	if in.resize.fallback != "" {
		in.resourcesNote = "restart to reach the decided resources, " + in.resize.fallbackNote
	} else {
		in.resourcesNote = "the template takes the decided resources with this rollout"
	}
	in.resize.actions = nil
	*p = pl.parts(in)
	*ch = pl.changes(in, *p)
}

// inPlaceDecision: the instance's resources reach its pods in place in this plan: a new decision is recorded,
// or pods are resized to the one recorded.
func (in *instance) inPlaceDecision() bool {
	return in.tmplIsLive && (len(in.resize.actions) > 0 || !sameSizes(in.current, in.decided))
}

// inPlaceReason is the action's reason for a decision carried out in place.
func (pl *planner) inPlaceReason(in *instance) string {
	note := in.sizeNote
	if note == "" || note == "resources match the load" || strings.HasPrefix(note, "up to date") {
		note = "recorded resources differ from the decided ones"
	}
	n := len(in.resize.actions)
	switch {
	case in.resize.restartReason != "":
		return fmt.Sprintf("resources: %s; resized in place (%d pod(s)), containers restart by their resizePolicy", note, n)
	case n > 0:
		return fmt.Sprintf("resources: %s; resized in place (%d pod(s), no restart)", note, n)
	case in.resize.waiting > 0:
		return fmt.Sprintf("resources: %s; in place, %d pod(s) resizing (no restart)", note, in.resize.waiting)
	}
	return fmt.Sprintf("resources: %s; recorded for in-place resize, no running pod to resize (no restart)", note)
}

// budgetResizes makes resizes that restart containers (resizePolicy RestartContainer) wait for the rollout
// budget like any restart; other resizes restart nothing and need no budget.
func (pl *planner) budgetResizes(in *instance) {
	if in.resize.restartReason == "" {
		return
	}
	in.restart = true
	switch {
	case in.scaleDir == dirUp && in.critical:
		in.priority = priorityCritical
	case in.scaleDir == dirUp:
		in.priority = priorityScaleUp
	case in.scaleDir == dirDown:
		in.priority = priorityScaleDown
	default:
		in.priority = priorityDrift
	}
}
