// Package simulate drives the planner in a loop over simulated time, so that a Consumer's settings can be seen at
// work over hours of traffic before they are deployed: producers follow a trace, each instance consumes at a
// rate its CPU allows, Prometheus is sampled as the operator samples it, and every plan is carried out with the
// planner's pure Apply, with rollouts that take time and restarts that pause consumption.
//
// A run is a pure function of its inputs: there is no wall clock, and the only randomness (optional noise on
// the production) comes from a seed.
package simulate

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/planner"
)

// Epoch is the simulated start: a fixed time, so that runs never depend on the wall clock.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// PauseScope says who stops consuming while a restarted instance rejoins.
type PauseScope string

const (
	// PauseInstance: only the restarted instance pauses (partitions assigned statically, as konsumerator does).
	PauseInstance PauseScope = "instance"
	// PauseGroup: every instance pauses, as in a consumer-group rebalance.
	PauseGroup PauseScope = "group"
)

// Options shape the world around the planner. DefaultOptions gives the documented defaults; a zero duration
// means none (no pause, no rollout time) unless said otherwise.
type Options struct {
	// Duration of the run; zero means the trace's length, or 6h for a trace without one.
	Duration time.Duration
	// Planner decides; nil means planner.Plan. Another policy can be compared on the same traces.
	Planner func(*model.Snapshot) model.Plan
	// Container is the container whose CPU does the consuming; empty means the template's first.
	Container string
	// CapacityPerCore is messages per second per core; zero means the spec's ratePerCore.
	CapacityPerCore float64
	// Burst lets the consumer use CPU up to its limit; without it the consumer gets its request (a busy node).
	Burst bool
	// Pause is how long consumption stops after a restart (the rebalance), and PauseScope for whom.
	Pause      time.Duration
	PauseScope PauseScope
	// RolloutTime is how long a Deployment is in flight after its pod template changes.
	RolloutTime time.Duration
	// ScrapeInterval and RateWindow are Prometheus's: offsets are scraped every interval, rates are rate()
	// over the window.
	ScrapeInterval, RateWindow time.Duration
	// SyncPeriod is how often the operator looks without an event; zero means the spec's minSyncPeriod.
	SyncPeriod time.Duration
	// MaxRolloutsInFlight and MetricsStaleAfter are the operator flags of the same names (0: their defaults).
	MaxRolloutsInFlight int
	MetricsStaleAfter   time.Duration
	// Gaps are added to the trace's own.
	Gaps []Gap
	// Noise varies each partition's production by up to ±Noise (0.1 = 10 %), a new draw every minute, from Seed.
	Noise float64
	Seed  uint64
	// Step is the resolution of the consumer model; RecordEvery of the timeline (0: the sync period).
	Step, RecordEvery time.Duration
	// KeepDecisions records every plan action that writes or is held back (for decisions.txt).
	KeepDecisions bool
}

// DefaultOptions are the defaults of `konsumerator simulate`.
func DefaultOptions() Options {
	return Options{
		PauseScope:     PauseInstance,
		Pause:          30 * time.Second,
		RolloutTime:    time.Minute,
		ScrapeInterval: 15 * time.Second,
		RateWindow:     2 * time.Minute,
		Step:           time.Second,
	}
}

// Run simulates a Consumer under a trace.
func Run(c *konsumeratorv1.Consumer, tr *Trace, o Options) (*Result, error) {
	sim, err := newSim(c, tr, o)
	if err != nil {
		return nil, err
	}
	sim.run()
	return sim.res, nil
}

// ProfileOf is what the built-in scenarios scale to for a Consumer under these options.
func ProfileOf(c *konsumeratorv1.Consumer, o Options) (Profile, error) {
	spec := planner.WithDefaults(c.Spec)
	p := Profile{NumPartitions: spec.NumPartitions, PerInstance: max(1, *spec.NumPartitionsPerInstance), CeilingCores: 1}
	p.RatePerCore = o.CapacityPerCore
	if sz := spec.Autoscaler.Sizing(); p.RatePerCore <= 0 && sz != nil && sz.RatePerCore != nil {
		p.RatePerCore = float64(*sz.RatePerCore)
	}
	if p.RatePerCore <= 0 {
		return p, errors.New("the Consumer has no ratePerCore: give the consumer's capacity per core")
	}
	name, err := consumerContainer(&spec, o.Container)
	if err != nil {
		return p, err
	}
	if rp := spec.ResourcePolicy; rp != nil {
		for _, cp := range rp.ContainerPolicies {
			if q, ok := cp.MaxAllowed[corev1.ResourceCPU]; ok && cp.ContainerName == name && q.MilliValue() > 0 {
				p.CeilingCores = float64(q.MilliValue()) / 1000
				break
			}
		}
	}
	return p, nil
}

func consumerContainer(spec *konsumeratorv1.ConsumerSpec, name string) (string, error) {
	cs := spec.DeploymentTemplate.Template.Spec.Containers
	if len(cs) == 0 {
		return "", errors.New("the deployment template has no containers")
	}
	if name == "" {
		return cs[0].Name, nil
	}
	for _, c := range cs {
		if c.Name == name {
			return name, nil
		}
	}
	return "", fmt.Errorf("the deployment template has no container %q", name)
}

// instState is what the simulator keeps about one Deployment by name, across plans.
type instState struct {
	pausedUntil, rolloutUntil time.Duration
	restarts                  int
	// interval accumulators for the timeline
	produced, consumed, maxLag float64
	restartsInInterval         int
}

// live is one Deployment as the consumer model reads it after a plan is carried out.
type live struct {
	name           string
	index          int
	parts          []int32
	request, limit float64 // consumer container CPU, cores
	podCPU         float64 // CPU requested by the whole instance (all containers, all replicas), cores
	replicas       float64
	state          string
	st             *instState
}

type sim struct {
	o       Options
	c       *konsumeratorv1.Consumer
	tr      *Trace
	plan    func(*model.Snapshot) model.Plan
	s       *model.Snapshot
	res     *Result
	perCore float64
	toler   time.Duration
	period  time.Duration
	gaps    []Gap
	resizes []Resize
	maxP    int32 // partitions the run ever has
	topic   int32 // partitions the topic has now

	prod, cons, rate []float64
	took             []float64 // consumed by each partition in the last step
	lastRequeue      time.Duration
	owner            []int // instance (index into lives) reading each partition, -1 for none
	claims           []int // how many instances claim each partition
	prom             prometheus
	sample           *model.MetricsSample
	lastQuery        time.Duration
	queried          bool

	lives  []live
	states map[string]*instState

	heldRollout, heldBudget bool
	lagHist                 []int64 // seconds of lag, one bucket per second, last bucket open
	fill                    []fillItem
}

type fillItem struct {
	p      int32
	demand float64
}

func newSim(c *konsumeratorv1.Consumer, tr *Trace, o Options) (*sim, error) {
	if c == nil || tr == nil || tr.Production == nil {
		return nil, errors.New("a Consumer and a trace are needed")
	}
	d := DefaultOptions()
	if o.Step <= 0 {
		o.Step = d.Step
	}
	if o.ScrapeInterval <= 0 {
		o.ScrapeInterval = d.ScrapeInterval
	}
	if o.RateWindow <= 0 {
		o.RateWindow = d.RateWindow
	}
	if o.PauseScope == "" {
		o.PauseScope = PauseInstance
	}
	if o.PauseScope != PauseInstance && o.PauseScope != PauseGroup {
		return nil, fmt.Errorf("pause scope %q: want %s or %s", o.PauseScope, PauseInstance, PauseGroup)
	}
	if o.Noise < 0 || o.Noise > 1 || math.IsNaN(o.Noise) {
		return nil, errors.New("noise must be in [0, 1]")
	}
	if o.Pause < 0 || o.RolloutTime < 0 {
		return nil, errors.New("pause and rollout time must not be negative")
	}
	spec := planner.WithDefaults(c.Spec)
	prof, err := ProfileOf(c, o)
	if err != nil {
		return nil, err
	}
	if o.Container, err = consumerContainer(&spec, o.Container); err != nil {
		return nil, err
	}
	if tr.Partitions > spec.NumPartitions {
		return nil, fmt.Errorf("the trace has data for partition %d, but the Consumer has %d partitions (0-%d)",
			tr.Partitions-1, spec.NumPartitions, spec.NumPartitions-1)
	}
	if spec.NumPartitions < 1 {
		return nil, errors.New("the Consumer has no partitions")
	}
	period := o.SyncPeriod
	if period <= 0 {
		period = planner.DefaultMinSyncPeriod
		if d := spec.Autoscaler.MinSyncPeriod(); d != nil && d.Duration > 0 {
			period = d.Duration
		}
	}
	if o.Duration <= 0 {
		o.Duration = tr.Length
		if o.Duration <= 0 {
			o.Duration = 6 * time.Hour
		}
	}
	if o.RecordEvery <= 0 {
		o.RecordEvery = period
	}
	for _, v := range []*time.Duration{&period, &o.ScrapeInterval, &o.RateWindow, &o.RecordEvery, &o.Pause, &o.RolloutTime, &o.Duration} {
		*v = roundUp(*v, o.Step)
	}
	if o.Duration/o.Step > 50_000_000 {
		return nil, fmt.Errorf("%s in steps of %s is too long a run", o.Duration, o.Step)
	}
	sm := &sim{o: o, c: c, tr: tr, plan: o.Planner, period: period, perCore: prof.RatePerCore,
		states: map[string]*instState{}, lagHist: make([]int64, 24*3600+1)}
	if sm.plan == nil {
		sm.plan = planner.Plan
	}
	if sz := spec.Autoscaler.Sizing(); sz != nil && sz.TolerableLag != nil {
		sm.toler = sz.TolerableLag.Duration
	}
	sm.gaps = append(append([]Gap(nil), tr.Gaps...), o.Gaps...)
	sm.resizes = append([]Resize(nil), tr.Resizes...)
	sort.SliceStable(sm.resizes, func(i, j int) bool { return sm.resizes[i].At < sm.resizes[j].At })
	sm.topic, sm.maxP = spec.NumPartitions, spec.NumPartitions
	for _, r := range sm.resizes {
		if r.NumPartitions < 1 || r.NumPartitions > maxTracePartitions {
			return nil, fmt.Errorf("resize at %s to %d partitions: want [1, %d]", r.At, r.NumPartitions, maxTracePartitions)
		}
		sm.maxP = max(sm.maxP, r.NumPartitions)
	}
	sm.prod, sm.cons, sm.rate, sm.took = make([]float64, sm.maxP), make([]float64, sm.maxP), make([]float64, sm.maxP), make([]float64, sm.maxP)
	sm.owner, sm.claims = make([]int, sm.maxP), make([]int, sm.maxP)
	sm.prom = prometheus{interval: o.ScrapeInterval, window: o.RateWindow}

	ns := c.Namespace
	if ns == "" {
		ns = "default"
	}
	apiVersion := c.APIVersion
	if apiVersion == "" {
		apiVersion = konsumeratorv1.GroupVersion.String()
	}
	sm.s = &model.Snapshot{Now: Epoch, Spec: *c.Spec.DeepCopy(), Status: *c.Status.DeepCopy(),
		Owner: model.Owner{APIVersion: apiVersion, Kind: model.OwnerConsumer, Namespace: ns, Name: c.Name,
			UID: types.UID("simulated-" + c.Name), Generation: max(1, c.Generation), Annotations: c.Annotations},
		Options: model.Options{MaxRolloutsInFlight: o.MaxRolloutsInFlight, MetricsStaleAfter: model.Duration(o.MetricsStaleAfter)}}
	sm.res = &Result{Trace: tr.Name, Description: tr.Description, Consumer: ns + "/" + c.Name,
		Duration: o.Duration, Options: o, SyncPeriod: period, RatePerCore: prof.RatePerCore, TolerableLag: sm.toler,
		Partitions: make([]PartitionStats, sm.maxP), RestartsByInstance: map[string]int{}}
	for p := int32(0); p < sm.maxP; p++ {
		sm.res.Partitions[p].Partition = p
	}
	return sm, nil
}

func roundUp(d, step time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return (d + step - 1) / step * step
}

// production is the trace's rate with the optional noise: a pure function of partition and time.
func (sm *sim) production(p int32, at time.Duration) float64 {
	r := sm.tr.Production(p, at)
	if !(r > 0) || math.IsInf(r, 0) {
		return 0
	}
	if sm.o.Noise > 0 {
		u := float64(splitmix(sm.o.Seed^uint64(p)*0x9e3779b97f4a7c15^uint64(at/time.Minute)*0xbf58476d1ce4e5b9)>>11) / (1 << 53)
		r *= 1 + sm.o.Noise*(2*u-1)
	}
	return r
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (sm *sim) inGap(kind GapKind, at time.Duration) bool {
	for _, g := range sm.gaps {
		if g.Kind == kind && g.covers(at) {
			return true
		}
	}
	return false
}

// prefill gives Prometheus a history before the start, as if the producers and the consumer had run steadily at
// the start's rates, so that the first sample is complete.
func (sm *sim) prefill() {
	for p := int32(0); p < sm.topic; p++ {
		sm.prod[p] = sm.tr.Backlog[p]
	}
	for at := -sm.o.RateWindow - sm.o.ScrapeInterval; at < 0; at += sm.o.ScrapeInterval {
		s := scrape{at: at, prod: make([]float64, sm.maxP), cons: make([]float64, sm.maxP), exists: make([]bool, sm.maxP)}
		for p := int32(0); p < sm.topic; p++ {
			r := sm.production(p, 0) * at.Seconds()
			s.prod[p], s.cons[p], s.exists[p] = sm.prod[p]+r, r, true
		}
		sm.prom.record(s)
	}
}

func (sm *sim) scrapeNow(at time.Duration) {
	if sm.inGap(GapScrape, at) {
		sm.prom.fail()
		return
	}
	s := scrape{at: at, prod: make([]float64, sm.maxP), cons: make([]float64, sm.maxP), exists: make([]bool, sm.maxP)}
	copy(s.prod, sm.prod)
	copy(s.cons, sm.cons)
	for p := int32(0); p < sm.topic; p++ {
		s.exists[p] = true
	}
	sm.prom.record(s)
}

// refresh reads metrics the way the observer's cache does: at most once per sync period; a failed read keeps
// the previous values and says why.
func (sm *sim) refresh(at time.Duration) {
	if sm.queried && at-sm.lastQuery < sm.period {
		return
	}
	sm.queried, sm.lastQuery = true, at
	if sm.inGap(GapQuery, at) {
		prev := model.MetricsSample{}
		if sm.sample != nil {
			prev = *sm.sample
		}
		prev.Error = "simulated: Prometheus does not answer"
		sm.sample = &prev
		return
	}
	next := sm.prom.query(Epoch.Add(at), at, sm.topic)
	next.AfterGap = model.FollowsGap(sm.sample, next) // as the observer's cache marks it
	sm.sample = next
}

func (sm *sim) run() {
	o := sm.o
	sm.prefill()
	sm.scrapeNow(0)
	sm.refresh(0)
	sm.settle()
	next := sm.reconcileAfter(0, sm.lastRequeue)
	resize := 0
	for t := time.Duration(0); t <= o.Duration; t += o.Step {
		if t > 0 && t%o.ScrapeInterval == 0 {
			sm.scrapeNow(t)
		}
		event := false
		for resize < len(sm.resizes) && sm.resizes[resize].At <= t {
			r := sm.resizes[resize]
			sm.topic = r.NumPartitions
			sm.s.Spec.NumPartitions = r.NumPartitions
			sm.s.Owner.Generation++
			sm.res.Events = append(sm.res.Events, fmt.Sprintf("%s topic and Consumer: %d partitions", clock(t), r.NumPartitions))
			resize++
			event = true
		}
		if sm.finishRollouts(t) {
			event = true // the Deployment's status changes: a watch event
		}
		if t > 0 && (event || t >= next) {
			sm.refresh(t)
			requeue := sm.reconcile(t)
			next = sm.reconcileAfter(t, requeue)
		}
		if t > 0 && t%o.RecordEvery == 0 {
			sm.record(t)
		}
		if t == o.Duration {
			break
		}
		sm.advance(t)
	}
	sm.finishResult()
}

// reconcileAfter is when the operator looks again without an event: the sync period, or sooner when a pending
// decision ripens.
func (sm *sim) reconcileAfter(t time.Duration, requeue time.Duration) time.Duration {
	d := sm.period
	if requeue > 0 && requeue < d {
		d = requeue
	}
	return t + roundUp(d, sm.o.Step)
}

// settle creates the instances at the start and lets them settle, as if the operator had been running: no
// restart is counted and nothing pauses.
func (sm *sim) settle() {
	sm.s.Now = Epoch
	sm.s.Metrics = sm.sample
	for i := 0; i < 20; i++ {
		p := sm.plan(sm.s)
		sm.lastRequeue = time.Duration(p.RequeueAfter)
		if !p.Changed() {
			break
		}
		sm.res.Plans++
		sm.res.InitialCreates += p.Count(model.ActionCreate)
		sm.s = planner.Apply(sm.s, p)
	}
	for i := range sm.s.Deployments {
		setAvailable(&sm.s.Deployments[i])
	}
	sm.s = builder.WithPods(sm.s)
	sm.rebuild()
}

// startPods gives Deployments created since the last pass their ReplicaSet and running pods, at the template's
// resources, as the controllers and the kubelet would. (Pods of changed templates are replaced by Apply.)
func (sm *sim) startPods() {
	has := map[types.UID]bool{}
	for i := range sm.s.ReplicaSets {
		for _, ref := range sm.s.ReplicaSets[i].OwnerReferences {
			has[ref.UID] = true
		}
	}
	for i := range sm.s.Deployments {
		d := &sm.s.Deployments[i]
		if has[d.UID] {
			continue
		}
		rs := builder.ReplicaSetFor(d, 1)
		sm.s.ReplicaSets = append(sm.s.ReplicaSets, rs)
		for r := int32(0); r < replicas(d); r++ {
			sm.s.Pods = append(sm.s.Pods, *builder.PodFor(d, &rs, rs.Name+"-"+strconv.Itoa(int(r))))
		}
	}
	kept := sm.s.Pods[:0]
	alive := map[string]bool{}
	for i := range sm.s.Deployments {
		alive[sm.s.Deployments[i].Name] = true
	}
	for _, p := range sm.s.Pods {
		if alive[p.Labels[konsumeratorv1.LabelInstance]] {
			kept = append(kept, p)
		}
	}
	sm.s.Pods = kept
}

// reconcile makes one plan at t, carries it out and starts the rollouts and pauses it causes. It returns the
// plan's RequeueAfter.
func (sm *sim) reconcile(t time.Duration) time.Duration {
	sm.s.Now = Epoch.Add(t)
	sm.s.Metrics = sm.sample
	p := sm.plan(sm.s)
	sm.res.Plans++
	sm.heldRollout, sm.heldBudget = false, false
	restarted := map[string]bool{}
	for _, a := range p.Actions {
		switch {
		case a.Kind == model.ActionSkip && a.Instance >= 0:
			// In the simulator no foreign object holds a name and no delete lingers, so a held instance waits
			// for the rollout budget.
			sm.heldRollout = true
		case a.Kind == model.ActionCreate || a.Kind == model.ActionUpdate && a.Restart:
			restarted[a.Name] = true
		case a.Kind == model.ActionResize:
			sm.res.InPlaceResizes++
			if a.Restart { // the container restarts by its resizePolicy
				restarted[a.Resize.Deployment] = true
			}
		}
		if sm.o.KeepDecisions && (a.Writes() || a.Kind == model.ActionSkip) {
			line := fmt.Sprintf("%s %-7s %s: %s", clock(t), a.Kind, a.Name, a.Reason)
			if len(a.Changes) > 0 {
				line += "\n        " + strings.Join(a.Changes, "\n        ")
			}
			sm.res.Decisions = append(sm.res.Decisions, line)
		}
	}
	if c := meta.FindStatusCondition(p.Status.Conditions, konsumeratorv1.ConditionResourceBudget); c != nil && c.Reason != konsumeratorv1.ReasonWithinBudget {
		sm.heldBudget = true
	}
	if !p.Changed() {
		sm.s.Status = *p.Status.DeepCopy()
		return time.Duration(p.RequeueAfter)
	}
	sm.s = planner.Apply(sm.s, p)
	sm.startPods()
	for _, name := range slices.Sorted(maps.Keys(restarted)) {
		st := sm.state(name)
		st.rolloutUntil = t + sm.o.RolloutTime
		st.restarts++
		st.restartsInInterval++
		sm.res.Restarts++
		sm.res.RestartsByInstance[name]++
		sm.res.RestartTimes = append(sm.res.RestartTimes, RestartEvent{At: t, Instance: name})
		switch sm.o.PauseScope {
		case PauseGroup:
			for i := range sm.s.Deployments {
				o := sm.state(sm.s.Deployments[i].Name)
				o.pausedUntil = max(o.pausedUntil, t+sm.o.Pause)
			}
		default:
			st.pausedUntil = max(st.pausedUntil, t+sm.o.Pause)
		}
	}
	for i := range sm.s.Deployments {
		d := &sm.s.Deployments[i]
		if t < sm.state(d.Name).rolloutUntil {
			setRollingOut(d)
		} else {
			setAvailable(d)
		}
	}
	sm.rebuild()
	return time.Duration(p.RequeueAfter)
}

func (sm *sim) state(name string) *instState {
	st, ok := sm.states[name]
	if !ok {
		st = &instState{}
		sm.states[name] = st
	}
	return st
}

// finishRollouts marks Deployments whose rollout time has passed as rolled out, and reports whether any was.
func (sm *sim) finishRollouts(t time.Duration) bool {
	done := false
	for i := range sm.s.Deployments {
		d := &sm.s.Deployments[i]
		if st := sm.state(d.Name); st.rolloutUntil > 0 && t >= st.rolloutUntil {
			st.rolloutUntil = 0
			setAvailable(d)
			done = true
		}
	}
	return done
}

// setAvailable is the status the deployment controller writes once a rollout is complete; the planner reads
// observedGeneration, updatedReplicas, unavailableReplicas (in flight) and availableReplicas (running).
func setAvailable(d *appsv1.Deployment) {
	n := replicas(d)
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n,
		ReadyReplicas: n, AvailableReplicas: n}
}

// setRollingOut is the status while the new pods are not yet available.
func setRollingOut(d *appsv1.Deployment) {
	n := replicas(d)
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: 0,
		UnavailableReplicas: n}
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// rebuild reads the Deployments as the consumer model needs them: who reads which partition with how much CPU.
func (sm *sim) rebuild() {
	sm.lives = sm.lives[:0]
	podsOf := map[string][]*corev1.Pod{}
	for i := range sm.s.Pods {
		if p := &sm.s.Pods[i]; p.DeletionTimestamp == nil {
			podsOf[p.Labels[konsumeratorv1.LabelInstance]] = append(podsOf[p.Labels[konsumeratorv1.LabelInstance]], p)
		}
	}
	for i := range sm.s.Deployments {
		d := &sm.s.Deployments[i]
		l := live{name: d.Name, st: sm.state(d.Name), replicas: float64(replicas(d)),
			state: d.Annotations[konsumeratorv1.AnnotationScalingStatus], index: instanceIndex(d.Name)}
		for _, f := range strings.Split(d.Annotations[konsumeratorv1.AnnotationPartition], ",") {
			if p, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32); err == nil && p >= 0 && int32(p) < sm.maxP {
				l.parts = append(l.parts, int32(p))
			}
		}
		// What the pods have: in place, resources change under running pods; the template is what new pods
		// start with.
		containers := d.Spec.Template.Spec.Containers
		if pods := podsOf[d.Name]; len(pods) > 0 {
			containers, l.replicas = pods[0].Spec.Containers, float64(len(pods))
		}
		for _, c := range containers {
			req, lim := cpuOf(c.Resources)
			l.podCPU += req * l.replicas
			if c.Name == sm.o.Container {
				l.request, l.limit = req, lim
			}
		}
		sm.lives = append(sm.lives, l)
	}
	sort.SliceStable(sm.lives, func(i, j int) bool {
		if sm.lives[i].index != sm.lives[j].index {
			return sm.lives[i].index < sm.lives[j].index
		}
		return sm.lives[i].name < sm.lives[j].name
	})
	for p := range sm.owner {
		sm.owner[p], sm.claims[p] = -1, 0
	}
	for i := range sm.lives {
		for _, p := range sm.lives[i].parts {
			if sm.claims[p] == 0 {
				sm.owner[p] = i
			}
			sm.claims[p]++
		}
	}
}

// instanceIndex is the number after the last dash of an instance name, for ordering (name-10 after name-9).
func instanceIndex(name string) int {
	i := strings.LastIndexByte(name, '-')
	n, err := strconv.Atoi(name[i+1:])
	if err != nil {
		return math.MaxInt32
	}
	return n
}

// cpuOf is a container's CPU request and limit in cores; a missing request is the limit, as the API server
// defaults it.
func cpuOf(r corev1.ResourceRequirements) (req, lim float64) {
	if q, ok := r.Limits[corev1.ResourceCPU]; ok {
		lim = float64(q.MilliValue()) / 1000
	}
	if q, ok := r.Requests[corev1.ResourceCPU]; ok {
		req = float64(q.MilliValue()) / 1000
	} else {
		req = lim
	}
	return req, lim
}

// advance runs producers and consumers over [t, t+step).
func (sm *sim) advance(t time.Duration) {
	dt := sm.o.Step.Seconds()
	for p := int32(0); p < sm.topic; p++ {
		sm.rate[p] = sm.production(p, t)
		sm.prod[p] += sm.rate[p] * dt
		sm.took[p] = 0
	}
	cores := 0.0
	for i := range sm.lives {
		l := &sm.lives[i]
		cores += l.podCPU
		capacity := l.request
		if sm.o.Burst && l.limit > capacity {
			capacity = l.limit
		}
		capacity *= sm.perCore * l.replicas * dt
		if t < l.st.pausedUntil {
			capacity = 0
		}
		sm.fill = sm.fill[:0]
		for _, p := range l.parts {
			if p < sm.topic && sm.owner[p] == i {
				sm.fill = append(sm.fill, fillItem{p: p, demand: sm.prod[p] - sm.cons[p]})
				l.st.produced += sm.rate[p] * dt
			}
		}
		// Water-filling: the consumer fetches from every partition with a backlog, so capacity is shared
		// evenly and what a partition does not need goes to the others.
		sort.Slice(sm.fill, func(a, b int) bool { return sm.fill[a].demand < sm.fill[b].demand })
		left := capacity
		for k, f := range sm.fill {
			share := left / float64(len(sm.fill)-k)
			take := max(0, min(f.demand, share))
			sm.cons[f.p] += take
			sm.took[f.p] = take
			left -= take
			l.st.consumed += take
		}
	}
	sm.res.coreSeconds += cores * sm.o.Step.Seconds()
	sm.res.PeakCores = max(sm.res.PeakCores, cores)
	if sm.heldRollout {
		sm.res.RolloutHeld += sm.o.Step
	}
	if sm.heldBudget {
		sm.res.BudgetHeld += sm.o.Step
	}
	for p := int32(0); p < sm.topic; p++ {
		ps := &sm.res.Partitions[p]
		ps.Observed += sm.o.Step
		switch sm.claims[p] {
		case 0:
			sm.res.Unowned += sm.o.Step
		case 1:
		default:
			sm.res.DoubleOwned += sm.o.Step
		}
		lag := sm.lag(p, dt)
		if sm.toler <= 0 || lag < sm.toler.Seconds() {
			ps.Under += sm.o.Step
		}
		if lag > ps.MaxLag.Seconds() {
			ps.MaxLag = secs(lag)
			ps.MaxLagAt = t + sm.o.Step
		}
		b := len(sm.lagHist) - 1
		if lag < float64(b) {
			b = int(lag)
		}
		sm.lagHist[b]++
		if i := sm.owner[p]; i >= 0 {
			sm.lives[i].st.maxLag = max(sm.lives[i].st.maxLag, lag)
		}
	}
}

// lag is the planner's own measure, from the true figures of the last step: the backlog over the faster of
// production and consumption; infinite when a backlog does not move at all.
func (sm *sim) lag(p int32, dt float64) float64 {
	behind := sm.prod[p] - sm.cons[p]
	if behind < 1 {
		return 0
	}
	speed := max(sm.rate[p], sm.took[p]/dt)
	if speed <= 0 {
		return math.Inf(1)
	}
	return behind / speed
}

func secs(s float64) time.Duration {
	if math.IsInf(s, 1) || s > 1e9 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(s * float64(time.Second))
}

// record closes one timeline interval ending at t: a row per instance.
func (sm *sim) record(t time.Duration) {
	iv := sm.o.RecordEvery.Seconds()
	for i := range sm.lives {
		l := &sm.lives[i]
		row := Row{At: t, Instance: l.name, Production: l.st.produced / iv, Consumption: l.st.consumed / iv,
			MaxLag: l.st.maxLag, CPURequest: l.request, CPULimit: l.limit, PodCPU: l.podCPU, State: l.state,
			Restarts: l.st.restartsInInterval}
		for _, p := range l.parts {
			if p < sm.topic && sm.owner[p] == i {
				row.Backlog += sm.prod[p] - sm.cons[p]
			}
		}
		sm.res.Timeline = append(sm.res.Timeline, row)
		l.st.produced, l.st.consumed, l.st.maxLag, l.st.restartsInInterval = 0, 0, 0, 0
	}
}
