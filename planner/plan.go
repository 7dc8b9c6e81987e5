// Package planner turns a model.Snapshot into a model.Plan: partition assignment, resource prediction, env
// injection, the desired Deployments, the diff against what is observed, and the owner's status. It is a pure
// function: no I/O, no clock (Snapshot.Now is the only time), no randomness, so the same snapshot always gives a
// byte-identical plan and every decision can be tested from files.
package planner

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// Plan computes the plan for one owner. It never panics: bad input gives a condition and no destructive action.
func Plan(s *model.Snapshot) (p model.Plan) {
	defer func() {
		if r := recover(); r != nil {
			p = safeFailedPlan(s, fmt.Sprintf("the planner failed on this input: %v", r))
		}
	}()
	return plan(s)
}

// safeFailedPlan is failedPlan for input that already made the planner fail: should it fail again, the plan
// carries no actions at all, so nothing is written.
func safeFailedPlan(s *model.Snapshot, message string) (p model.Plan) {
	defer func() {
		if recover() != nil {
			p = model.Plan{}
		}
	}()
	if s == nil {
		s = &model.Snapshot{}
	}
	return failedPlan(s, konsumeratorv1.ReasonPlannerError, truncate(message, maxMessage))
}

// plan is Plan without the safety net, so that tests and the fuzzer see any panic.
func plan(s *model.Snapshot) model.Plan { return planWith(s, true) }

// planWith plans with the memo switched on or off; the plan is the same either way.
func planWith(s *model.Snapshot, memoize bool) model.Plan {
	if s == nil {
		return failedPlan(&model.Snapshot{}, konsumeratorv1.ReasonInvalidSpec, "no snapshot")
	}
	st, reason, msg := newSettings(s)
	if st == nil {
		return failedPlan(s, reason, msg)
	}
	pl := newPlanner(s, st, newMemo(memoize))
	pl.classify()
	pl.size()
	pl.applyBudget()
	pl.diff()
	pl.gate()
	pl.limitRollouts()
	pl.planDeletes()
	return pl.finish()
}

// planner holds the working state of one plan.
type planner struct {
	s     *model.Snapshot
	st    *settings
	now   time.Time
	view  metricsView
	tmpl  *appsv1.DeploymentSpec
	names []string // template container names

	podDigest, depDigest string
	ownerLabel           string
	selector             map[string]string
	// What every desired object shares, made at the first one (a plan that writes nothing needs none): the
	// template as an apply configuration, the owner reference, a copy of the namespace to point to.
	desiredSpec     *appsv1ac.DeploymentSpecApplyConfiguration
	desiredSpecDone bool
	ownerRef        metav1ac.OwnerReferenceApplyConfiguration
	namespace       *string

	insts     []*instance
	surplus   []*appsv1.Deployment // ours, name not expected
	untouched []model.Action       // actions for Deployments that are not expected instances

	budget budgetOutcome

	maxRollouts, inFlight int
	held                  bool // some change waits for the rollout budget

	memo memo // values instances share, computed once; decides nothing

	inPlace bool     // updateMode InPlace: resources reach running pods by resize
	pods    podIndex // the pods of each instance Deployment's newest ReplicaSet, by the Deployment's UID
	allPods podIndex // the pods of all its ReplicaSets

	failureThreshold int         // instances that may fail on the current template before its rollout halts
	failed           []*instance // instances failing on the current template
	halted           bool        // the rollout of the current template is halted

	podLabelKeys   []string        // sorted keys of the desired pod labels
	allAuto        bool            // every container is sized by the autoscaler
	containerPaths []containerPath // per template container, built once

	numPartitionsText, numInstancesText string
}

// containerPath are the field paths of one container in change lines.
type containerPath struct{ container, resources, env string }

// instance is one expected instance Deployment and everything decided about it, its fields grouped by the
// steps of plan() that write them.
type instance struct {
	index         int32
	name          string
	rng           Range
	partitionList string // rng.String(), computed once

	observedState // classify, observe: what the cluster shows
	loadState     // load: what the metrics say
	sizeState     // size, applyBudget: the resources decided and the hysteresis
	outcome       // diff, limitRollouts: the action
}

// observedState is what the live object of this name tells.
type observedState struct {
	observed *appsv1.Deployment // ours (controller reference to the owner); nil when missing
	blocked  *appsv1.Deployment // not ours but holding the name

	ann     liveAnnotations               // the live values of the annotations the operator sets
	current []corev1.ResourceRequirements // per template container (zero value when absent): the decision in effect
	// templateLive are the resources in the live pod template, per template container; the same slice as current
	// unless updateMode InPlace reads current from AnnotationResources.
	templateLive []corev1.ResourceRequirements

	deleting  bool // the object with this name is being deleted
	frozen    bool // the autoscaler is disabled for it (owner or object annotation)
	inFlight  bool // the observed rollout is in progress
	available bool
	// failure says why the instance's pods fail ("pod demo-0-x: consumer CrashLoopBackOff"), "" when they do not.
	failure     string
	failingPods int
	// floors are the memory floors of out-of-memory kills (AnnotationMemoryFloor), floorsText its new value, and
	// oomNotes the kills counted in this pass.
	floors     map[string]memoryFloor
	floorsText string
	oomNotes   []string
}

// liveAnnotations are the live values of ownedAnnotations, read once; "" when absent, which has says.
type liveAnnotations struct {
	partition, scalingStatus, scalingStatusChange, specHash, resources, memoryFloor, marginSince string
	has                                                                                          struct{ partition, scalingStatus, scalingStatusChange, specHash, resources, memoryFloor, marginSince bool }
}

// get is the live value of one of ownedAnnotations and whether the object has it.
func (a *liveAnnotations) get(key string) (string, bool) {
	switch key {
	case konsumeratorv1.AnnotationPartition:
		return a.partition, a.has.partition
	case konsumeratorv1.AnnotationScalingStatus:
		return a.scalingStatus, a.has.scalingStatus
	case konsumeratorv1.AnnotationScalingStatusChange:
		return a.scalingStatusChange, a.has.scalingStatusChange
	case konsumeratorv1.AnnotationSpecHash:
		return a.specHash, a.has.specHash
	case konsumeratorv1.AnnotationResources:
		return a.resources, a.has.resources
	}
	return "", false
}

// loadState is the load of the instance's partitions.
type loadState struct {
	hasData  bool
	estimate int64 // CPU request estimate, millicores
	// rate, production and behind are the instance's required rate, production and backlog (messages/s and
	// messages), partitions without data counted like the busiest.
	rate, production, behind float64
	// consumption is what the instance's partitions were read at; consumptionKnown says whether every partition
	// with data had the figure.
	consumption      float64
	consumptionKnown bool
	// perCore is the rate one core processes as this instance is sized: ratePerCore, or less when the instance
	// is seen reading slower than that (observedPerCore).
	perCore  float64
	maxLag   time.Duration
	lagging  bool
	critical bool
}

// sizeState is the resources decided for the instance and the hysteresis state that goes with them; a change
// limitRollouts holds back gets its observed state back.
type sizeState struct {
	decided  []corev1.ResourceRequirements
	scaleDir direction
	state    scalingState // read from the annotations by observe, then moved by the hysteresis
	ripens   time.Time
	sizeNote string
	// costNote says why countOwnCost kept the size against the load, when it did.
	costNote string
	// holdDown: a scale-down by restart whose wait runs while its step does not yet give back downMargin;
	// bigStep: its step gives back more than bigStep of the CPU.
	holdDown, bigStep bool
	changing          bool // resources set from metrics in this pass: shares the global budget
	oomBump           bool // memory raised at once after an out-of-memory kill
	// liveIsDecided: the live containers are the template's, in order, with exactly the decided resources (in
	// updateMode InPlace: recorded in AnnotationResources).
	liveIsDecided bool
	// tmplRes are the resources the desired pod template carries: the decided ones, or in updateMode InPlace the
	// live template's (tmplIsLive) while no rollout happens anyway.
	tmplRes    []corev1.ResourceRequirements
	tmplIsLive bool
	liveProcs  bool // a live template container sets GOMAXPROCS
	// resourcesNote, when set, says why the template's resources change in updateMode InPlace.
	resourcesNote string
}

// outcome is what the plan does with the instance.
type outcome struct {
	hash     specHash
	action   model.Action
	restart  bool // the update changes the pod template
	upToDate bool // after this plan the object matches the spec
	recreate bool // deleted now because an immutable field changes
	priority int  // rollout priority, lower first
	resize   resizePlan
	// podChange: the update changes the pod template beyond resources (image, env, a repartition).
	podChange bool
	haltHeld  bool // held because the rollout is halted
	// stuck deletes pods stuck on a node that is gone; stuckWake is when the next one becomes stuck.
	stuck     []model.Action
	stuckWake time.Time
}

// partitions is the instance's partition list, "0,1,2".
func (in *instance) partitions() string {
	if in.partitionList == "" {
		in.partitionList = in.rng.String()
	}
	return in.partitionList
}

func newPlanner(s *model.Snapshot, st *settings, m memo) *planner {
	pl := &planner{s: s, st: st, now: s.Now, tmpl: &st.spec.DeploymentTemplate, memo: m}
	if a := st.spec.Autoscaler; a != nil && st.autoscale && a.UpdateMode != konsumeratorv1.UpdateRestart {
		pl.inPlace = true
	}
	pl.pods, pl.allPods = newPodIndex(s)
	pl.view = metricsView{reason: konsumeratorv1.ReasonNoMetrics}
	if st.autoscale {
		pl.view = viewMetrics(st, s.Metrics, s.Now)
	}
	pl.allAuto = true
	for _, c := range pl.tmpl.Template.Spec.Containers {
		pl.names = append(pl.names, c.Name)
		path := "spec.template.spec.containers[" + c.Name + "]"
		pl.containerPaths = append(pl.containerPaths, containerPath{container: path, resources: path + ".resources", env: path + ".env"})
		pl.allAuto = pl.allAuto && st.autoscaled(c.Name)
	}
	pl.podDigest, pl.depDigest = templateDigests(pl.tmpl)
	pl.podLabelKeys = sortedKeys(pl.tmpl.Template.Labels)
	for _, k := range []string{konsumeratorv1.LabelConsumer, konsumeratorv1.LabelInstance} {
		if _, dup := pl.tmpl.Template.Labels[k]; !dup {
			pl.podLabelKeys = append(pl.podLabelKeys, k)
		}
	}
	sort.Strings(pl.podLabelKeys)
	pl.ownerLabel = konsumeratorv1.LabelValue(s.Owner.Name)
	pl.selector = map[string]string{}
	if sel := pl.tmpl.Selector; sel != nil {
		for k, v := range sel.MatchLabels {
			pl.selector[k] = v
		}
	}
	ranges := Assign(st.numPartitions, st.perInstance)
	pl.insts = make([]*instance, len(ranges))
	slab := make([]instance, len(ranges)) // one allocation for all instances
	pl.numPartitionsText, pl.numInstancesText = strconv.Itoa(int(st.numPartitions)), strconv.Itoa(len(ranges))
	pl.memo.reserveCurrent(len(ranges) * len(pl.names))
	for i, r := range ranges {
		slab[i] = instance{index: int32(i), name: konsumeratorv1.InstanceName(st.name, int32(i)), rng: r}
		pl.insts[i] = &slab[i]
	}
	return pl
}

// heldRequeue is how soon a plan with changes held back by the rollout budget is made again at the latest.
const heldRequeue = time.Minute

// classify sorts the observed Deployments into expected instances (ours or blocked), surplus ones of ours, and
// others, which are ignored.
func (pl *planner) classify() {
	byName := make(map[string]*instance, len(pl.insts))
	for _, in := range pl.insts {
		byName[in.name] = in
	}
	seen := make(map[string]bool, len(pl.s.Deployments))
	for i := range pl.s.Deployments {
		d := &pl.s.Deployments[i]
		if (d.Namespace != "" && d.Namespace != pl.st.namespace) || seen[d.Name] {
			continue
		}
		seen[d.Name] = true
		ours := konsumeratorv1.IsControlledBy(d, pl.s.Owner.UID)
		in := byName[d.Name]
		switch {
		case in != nil && d.DeletionTimestamp != nil:
			in.deleting = true
		case in != nil && ours:
			in.observed = d
		case in != nil:
			in.blocked = d
		case ours && d.DeletionTimestamp != nil:
			pl.untouched = append(pl.untouched, pl.action(model.ActionUnchanged, model.PhaseDelete, d, -1,
				"being deleted: left alone"))
		case ours:
			pl.surplus = append(pl.surplus, d)
		}
	}
}

func (pl *planner) action(kind model.ActionKind, phase model.Phase, d *appsv1.Deployment, index int32, reason string) model.Action {
	return model.Action{Kind: kind, Phase: phase, Namespace: pl.st.namespace, Name: d.Name, UID: d.UID,
		Instance: index, Reason: reason}
}

// desiredReplicas is the template's replica count; the API's default is 1.
func (pl *planner) desiredReplicas() int32 {
	if r := pl.tmpl.Replicas; r != nil {
		return max(0, *r)
	}
	return 1
}

// finish assembles the plan: actions sorted by phase then name, the status, and when to look again.
func (pl *planner) finish() model.Plan {
	p := model.Plan{SnapshotDigest: pl.s.Digest(), Actions: make([]model.Action, 0, len(pl.insts)+len(pl.untouched))}
	for _, in := range pl.insts {
		p.Actions = append(p.Actions, in.action)
		p.Actions = append(p.Actions, in.resize.actions...)
		p.Actions = append(p.Actions, in.stuck...)
	}
	p.Actions = append(p.Actions, pl.untouched...)
	sortActions(p.Actions)
	p.Status = pl.status()
	p.Instances = pl.figures()
	var earliest time.Time
	for _, in := range pl.insts {
		for _, t := range [3]time.Time{in.ripens, in.resize.wake, in.stuckWake} {
			if !t.IsZero() && (earliest.IsZero() || t.Before(earliest)) {
				earliest = t
			}
		}
	}
	if !earliest.IsZero() {
		p.RequeueAfter = model.Duration(max(earliest.Sub(pl.now), time.Second))
	}
	// Rollouts finishing wake the owner up through Deployment events; this is the backstop for held changes.
	if pl.held && (p.RequeueAfter == 0 || time.Duration(p.RequeueAfter) > heldRequeue) {
		p.RequeueAfter = model.Duration(heldRequeue)
	}
	return p
}

// sortActions orders by phase, then name; names are unique within a plan, so the order is total.
func sortActions(a []model.Action) {
	sort.Slice(a, func(i, j int) bool {
		if a[i].Phase != a[j].Phase {
			return a[i].Phase < a[j].Phase
		}
		return a[i].Name < a[j].Name
	})
}

// failedPlan changes nothing: every observed Deployment is left as it is, and the status says why.
func failedPlan(s *model.Snapshot, reason, message string) model.Plan {
	p := model.Plan{SnapshotDigest: s.Digest()}
	seen := map[string]bool{}
	for i := range s.Deployments {
		d := &s.Deployments[i]
		if seen[d.Name] {
			continue
		}
		seen[d.Name] = true
		p.Actions = append(p.Actions, model.Action{Kind: model.ActionUnchanged, Phase: model.PhaseApply, Namespace: d.Namespace,
			Name: d.Name, UID: d.UID, Instance: -1, Reason: "left as is: " + reason})
	}
	sortActions(p.Actions)
	p.Status = failedStatus(s, reason, message)
	return p
}

// ownedAnnotations are the annotation keys whose values the planner sets on an instance, in this order.
var ownedAnnotations = []string{
	konsumeratorv1.AnnotationPartition,
	konsumeratorv1.AnnotationScalingStatus,
	konsumeratorv1.AnnotationScalingStatusChange,
	konsumeratorv1.AnnotationSpecHash,
}
