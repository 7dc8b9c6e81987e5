package planner

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

const none = "<none>"

// diff compares every expected instance with what is observed and decides create, update, unchanged or skip.
func (pl *planner) diff() {
	for _, in := range pl.insts {
		pl.diffOne(in)
	}
}

func (pl *planner) diffOne(in *instance) {
	pl.planStuckPods(in)
	base := model.Action{Phase: model.PhaseApply, Namespace: pl.st.namespace, Name: in.name, Instance: in.index}
	switch {
	case in.blocked != nil:
		base.Kind, base.UID = model.ActionSkip, in.blocked.UID
		base.Reason = "a Deployment not controlled by this owner holds the name: not touched"
		in.action = base
		return
	case in.deleting:
		base.Kind = model.ActionSkip
		base.Reason = "waiting for the previous Deployment of this name to be deleted"
		in.action = base
		return
	}
	pl.templateResources(in)
	parts := pl.parts(in)
	if in.observed == nil {
		base.Kind = model.ActionCreate
		base.Reason = fmt.Sprintf("new instance for partitions %s; %s", rangeText(in.rng), in.sizeNote)
		base.Desired = pl.desired(in, &parts)
		in.action, in.upToDate = base, true
		return
	}
	base.UID = in.observed.UID
	if sel := in.observed.Spec.Selector; sel == nil || !pl.selects(sel, in) {
		base.Kind, base.Phase = model.ActionDelete, model.PhaseDelete
		base.Reason = "the selector no longer matches the pods and is immutable: deleted now, created again in the next pass"
		in.action, in.recreate, in.restart = base, true, true
		in.priority = priorityDrift
		return
	}
	ch := pl.changes(in, parts)
	restartReason := konsumeratorv1.RestartTemplateChanged
	if !pl.inPlace {
		if ch.resources && !ch.pod {
			restartReason = konsumeratorv1.RestartResources
		}
	} else if in.tmplIsLive && ch.pod {
		// A rollout happens anyway: the template catches up with the decided resources, no extra restart.
		pl.rollTemplate(in, &parts, &ch)
	} else if in.tmplIsLive {
		in.resize = pl.planResizes(in)
		if in.resize.fallback != "" {
			pl.rollTemplate(in, &parts, &ch)
			restartReason = in.resize.fallback
		}
	}
	if len(ch.lines) == 0 && len(in.resize.actions) > 0 {
		base.Kind = model.ActionUnchanged
		base.Reason = fmt.Sprintf("up to date; %d pod(s) not at the decided resources: resized in place", len(in.resize.actions))
		base.InPlace = true
		in.action, in.upToDate = base, true
		pl.budgetResizes(in)
		return
	}
	if len(ch.lines) == 0 {
		base.Kind = model.ActionUnchanged
		base.Reason = "up to date"
		if in.sizeNote != "" && in.sizeNote != "resources match the load" {
			base.Reason = "up to date; " + in.sizeNote
		}
		if in.resize.waiting > 0 {
			base.Reason += fmt.Sprintf("; %d pod(s) resizing in place", in.resize.waiting)
		}
		in.action, in.upToDate = base, true
		return
	}
	base.Kind = model.ActionUpdate
	base.Changes = ch.lines
	base.Reason = ch.reason(in)
	base.Desired = pl.desired(in, &parts)
	base.Restart = ch.pod || ch.resources
	in.podChange = ch.pod
	if base.Restart {
		base.RestartReason = restartReason
	}
	if in.inPlaceDecision() && !base.Restart {
		base.InPlace = true
		base.Reason = pl.inPlaceReason(in)
	}
	if in.oomBump {
		base.OutOfMemory = strings.Join(in.oomNotes, "; ")
	}
	base.Pending = in.state.state != StateRunning
	if ch.resources || base.Pending {
		base.Load = pl.loadText(in) // the numbers matter to sizing decisions only
	}
	if ch.resources || base.InPlace {
		base.Resources = pl.resourceChanges(in)
	}
	in.action, in.upToDate, in.restart = base, true, base.Restart
	if base.InPlace {
		pl.budgetResizes(in)
		return
	}
	switch {
	case !in.restart:
	case ch.resources && in.scaleDir == dirUp && (in.critical || in.oomBump):
		in.priority = priorityCritical
	case pl.reassigned(in):
		in.priority = priorityReassigned
	case ch.resources && in.scaleDir == dirUp:
		in.priority = priorityScaleUp
	case ch.resources && in.scaleDir == dirDown && !ch.pod:
		in.priority = priorityScaleDown
	default:
		in.priority = priorityDrift
	}
}

// Rollout priorities, most urgent first.
const (
	priorityCritical = iota
	// A partition that moves between instances must move in one pass: were the instance that gives it up
	// updated and the one that takes it held back, nobody would consume it.
	priorityReassigned
	priorityScaleUp
	priorityDrift
	priorityScaleDown
)

func rangeText(r Range) string {
	if r.Count == 1 {
		return fmt.Sprint(r.First)
	}
	return fmt.Sprintf("%d-%d", r.First, r.First+r.Count-1)
}

// changeSet is what differs between the live object and the desired one, in the fields the operator owns.
type changeSet struct {
	lines     []string
	pod       bool // the pod template changes (other than resources)
	resources bool // container resources change
	replicas  bool
	spec      bool // Deployment spec fields other than the pod template and replicas
	meta      bool // labels or annotations of the Deployment only
	specHash  bool
	// yielded are fields left to another field manager (conflict policy respect): not drift.
	yielded []string
}

// add records a difference unless the field was yielded, and reports whether it did.
func (c *changeSet) add(path string, from, to string) bool {
	for _, y := range c.yielded {
		if path == y || strings.HasPrefix(path, y+".") || strings.HasPrefix(path, y+"[") {
			return false
		}
	}
	c.lines = append(c.lines, path+": "+from+" -> "+to)
	return true
}

func (c *changeSet) reason(in *instance) string {
	var why []string
	if c.resources {
		note := in.sizeNote
		if note == "" || note == "resources match the load" || strings.HasPrefix(note, "up to date") {
			note = "differ from what the operator sets"
		}
		if in.resourcesNote != "" {
			note = in.resourcesNote
		}
		why = append(why, "resources: "+note)
	}
	if c.pod {
		why = append(why, "pod template differs from the spec")
	}
	if c.replicas {
		why = append(why, "replicas differ from the spec")
	}
	if c.specHash && !c.pod && !c.resources && !c.replicas {
		why = append(why, "Deployment spec differs from the spec")
	}
	if len(why) == 0 {
		if in.sizeNote != "" && in.sizeNote != "resources match the load" {
			why = append(why, in.sizeNote)
		} else {
			why = append(why, "metadata differs from the spec")
		}
	}
	out := strings.Join(why, "; ")
	if !c.pod && !c.resources {
		out += " (no restart)"
	}
	return out
}

// changes lists the owned fields whose live value differs from the desired one, as "path: live -> desired".
func (pl *planner) changes(in *instance, p instanceParts) changeSet {
	var c changeSet
	d := in.observed
	if yielded, ok := d.Annotations[konsumeratorv1.AnnotationYieldedFields]; ok {
		if pl.s.Options.ConflictPolicy == model.ConflictRespect {
			c.yielded = yieldedPaths(yielded)
		} else {
			// Under the force policy yielded fields are taken back: the annotation goes and the fields are applied.
			c.add("metadata.annotations["+konsumeratorv1.AnnotationYieldedFields+"]", strconv.Quote(yielded), none)
			c.meta = true
		}
	}
	for _, k := range ownedLabels {
		if v, ok := d.Labels[k]; !ok || v != pl.label(in, k) {
			c.meta = c.add("metadata.labels["+k+"]", valueOr(v, ok), strconv.Quote(pl.label(in, k))) || c.meta
		}
	}
	for _, k := range ownedAnnotations {
		if v, ok := in.ann.get(k); !ok || v != p.annotation(k) {
			c.meta = c.add("metadata.annotations["+k+"]", valueOr(v, ok), strconv.Quote(p.annotation(k))) || c.meta
		}
	}
	switch {
	case pl.inPlace && (!in.ann.has.resources || in.ann.resources != p.resources):
		before := len(c.lines)
		pl.annotationResourceLines(&c, in, in.ann.resources)
		c.meta = c.meta || len(c.lines) > before
	case !pl.inPlace && in.ann.has.resources:
		c.meta = c.add("metadata.annotations["+konsumeratorv1.AnnotationResources+"]", "set", none) || c.meta
	}
	if in.ann.marginSince != p.marginSince {
		c.meta = c.add("metadata.annotations["+konsumeratorv1.AnnotationScaleDownMarginSince+"]", valueOr(in.ann.marginSince, in.ann.has.marginSince),
			valueOr(p.marginSince, p.marginSince != "")) || c.meta
	}
	if in.ann.memoryFloor != in.floorsText {
		c.meta = c.add("metadata.annotations["+konsumeratorv1.AnnotationMemoryFloor+"]", valueOr(in.ann.memoryFloor, in.ann.has.memoryFloor),
			valueOr(in.floorsText, in.floorsText != "")) || c.meta
	}
	if old, ok := parseSpecHash(in.ann.specHash); !ok || old != in.hash {
		c.specHash = true
		c.pod = c.pod || !ok || old.pod != in.hash.pod
		c.resources = c.resources || (ok && old.resources != in.hash.resources)
		c.spec = ok && old.deployment != in.hash.deployment
	}
	if live := replicasOf(d); live != p.replicas {
		c.replicas = c.add("spec.replicas", fmt.Sprint(live), fmt.Sprint(p.replicas))
	}
	pl.templateLabelChanges(&c, in)
	pl.containerChanges(&c, in, &p)
	return c
}

func replicasOf(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// ownedLabels are the Deployment labels the operator sets, sorted.
var ownedLabels = []string{konsumeratorv1.LabelConsumer, konsumeratorv1.LabelInstance}

func (pl *planner) templateLabelChanges(c *changeSet, in *instance) {
	live := in.observed.Spec.Template.Labels
	for _, k := range pl.podLabelKeys {
		want := pl.podLabel(in, k)
		if v, ok := live[k]; !ok || v != want {
			c.pod = c.add("spec.template.metadata.labels["+k+"]", valueOr(v, ok), strconv.Quote(want)) || c.pod
		}
	}
}

func (pl *planner) containerChanges(c *changeSet, in *instance, p *instanceParts) {
	live := in.observed.Spec.Template.Spec.Containers
	for i, name := range pl.names {
		lc := findContainer(live, name)
		path := pl.containerPaths[i].container
		if lc == nil {
			c.pod = c.add(path, none, "added") || c.pod
			continue
		}
		skip := in.tmplIsLive || !pl.inPlace && in.liveIsDecided // the live template has tmplRes
		if !skip && resourceChanges(c, pl.containerPaths[i].resources, lc.Resources, in.tmplRes[i]) {
			c.resources = true
		}
		buf := pl.memo.envBuffer()
		*buf = pl.env(*buf, in, p, i)
		envChanges(c, pl.containerPaths[i].env, lc.Env, *buf)
	}
	for i := range live {
		if findContainer(pl.tmpl.Template.Spec.Containers, live[i].Name) == nil {
			c.pod = c.add("spec.template.spec.containers["+live[i].Name+"]", "present", "removed") || c.pod
		}
	}
}

// resourceChanges compares requests (as the API server defaults them) and limits semantically.
func resourceChanges(c *changeSet, path string, live, want corev1.ResourceRequirements) bool {
	changed := false
	for _, pair := range []struct {
		field      string
		live, want corev1.ResourceList
	}{
		{"requests", effectiveRequests(live), effectiveRequests(want)},
		{"limits", live.Limits, want.Limits},
	} {
		names := commonNames
		if !onlyCommon(pair.live) || !onlyCommon(pair.want) {
			names = unionKeys(pair.live, pair.want)
		}
		for _, name := range names {
			l, lok := pair.live[name]
			w, wok := pair.want[name]
			if !lok && !wok || lok && wok && l.Cmp(w) == 0 {
				continue
			}
			changed = c.add(path+"."+pair.field+"."+string(name), quantityText(l, lok), quantityText(w, wok)) || changed
		}
	}
	return changed
}

// envChanges compares the desired variables with the live ones of the same name; a variable the operator owns
// that the live object has but should not (GOMAXPROCS once the limit is gone) is reported too. GOMAXPROCS and
// GOMEMLIMIT follow the resources, so a change of theirs alone counts as a resources change.
func envChanges(c *changeSet, path string, live, want []corev1.EnvVar) {
	mark := func(name string) {
		if name == konsumeratorv1.EnvGOMAXPROCS || name == konsumeratorv1.EnvGOMEMLIMIT {
			c.resources = true
		} else {
			c.pod = true
		}
	}
	for i := range want {
		w := &want[i]
		l := findEnv(live, w.Name)
		switch {
		case l == nil:
			if c.add(path+"["+w.Name+"]", none, envText(w)) {
				mark(w.Name)
			}
		case l.Value != w.Value || !reflect.DeepEqual(l.ValueFrom, w.ValueFrom):
			if c.add(path+"["+w.Name+"]", envText(l), envText(w)) {
				mark(w.Name)
			}
		}
	}
	for _, name := range []string{konsumeratorv1.EnvGOMAXPROCS, konsumeratorv1.EnvGOMEMLIMIT} {
		if l := findEnv(live, name); l != nil && findEnv(want, name) == nil {
			if c.add(path+"["+name+"]", envText(l), none) {
				mark(name)
			}
		}
	}
}

func findEnv(env []corev1.EnvVar, name string) *corev1.EnvVar {
	for i := range env {
		if env[i].Name == name {
			return &env[i]
		}
	}
	return nil
}

func envText(e *corev1.EnvVar) string {
	if e.ValueFrom != nil {
		return "(valueFrom)"
	}
	return fmt.Sprintf("%q", e.Value)
}

func quantityText(q resource.Quantity, ok bool) string {
	if !ok {
		return none
	}
	return q.String()
}

func valueOr(v string, ok bool) string {
	if !ok {
		return none
	}
	return fmt.Sprintf("%q", v)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var commonNames = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}

// onlyCommon reports whether a list names no resource but cpu and memory.
func onlyCommon(l corev1.ResourceList) bool {
	for k := range l {
		if k != corev1.ResourceCPU && k != corev1.ResourceMemory {
			return false
		}
	}
	return true
}

func unionKeys(a, b corev1.ResourceList) []corev1.ResourceName {
	keys := make([]corev1.ResourceName, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// yieldedPaths turns the server-side apply paths of the yielded-fields annotation
// (.spec.template.spec.containers[name="busybox"].resources.requests.cpu) into the paths of Action.Changes
// (spec.template.spec.containers[busybox].resources.requests.cpu). A path may hold commas inside a list key,
// so the annotation is split by konsumeratorv1.YieldedFields.
func yieldedPaths(annotation string) []string {
	var out []string
	for _, f := range konsumeratorv1.YieldedFields(annotation) {
		out = append(out, rewriteListKeys(strings.TrimPrefix(f, ".")))
	}
	return out
}

// loadText is the figures behind an instance's sizing, for Events: its worst lag against tolerableLag and the
// CPU its load needs. Empty without fresh data.
func (pl *planner) loadText(in *instance) string {
	if !in.hasData {
		return ""
	}
	lag := "lag unbounded"
	if in.maxLag != infiniteLag {
		lag = "lag " + in.maxLag.Round(time.Second).String()
	}
	switch {
	case in.critical:
		lag += " above criticalLag " + pl.st.criticalLag.String()
	case in.lagging:
		lag += " above tolerableLag " + pl.st.tolerableLag.String()
	case pl.st.tolerableLag > 0:
		lag += " below tolerableLag " + pl.st.tolerableLag.String()
	}
	if in.estimate >= maxMilli {
		return lag + ", load unbounded (a backlog and no recoveryTime)"
	}
	return lag + ", load needs " + resource.NewMilliQuantity(in.estimate, resource.DecimalSI).String() + " cpu"
}

// resourceChanges lists the request changes of the containers the autoscaler sizes, cpu then memory.
func (pl *planner) resourceChanges(in *instance) []model.ResourceChange {
	var out []model.ResourceChange
	for i, name := range pl.names {
		if i >= len(in.decided) || i >= len(in.current) {
			break
		}
		from, to := effectiveRequests(in.current[i]), effectiveRequests(in.decided[i])
		for _, r := range commonNames {
			f, fok := from[r]
			w, wok := to[r]
			if fok == wok && (!fok || f.Cmp(w) == 0) {
				continue
			}
			out = append(out, model.ResourceChange{Container: name, Resource: string(r),
				From: quantityText(f, fok), To: quantityText(w, wok)})
		}
	}
	return out
}

// rewriteListKeys rewrites every list key of a server-side apply path in the form of Action.Changes: a single
// key by its bare value ([name="busybox"] → [busybox], [=value] → [value]), several keys as key=value pairs
// without quotes ([containerPort=80,protocol="TCP"] → [containerPort=80,protocol=TCP]).
func rewriteListKeys(path string) string {
	var b strings.Builder
	for {
		open := strings.IndexByte(path, '[')
		if open < 0 {
			b.WriteString(path)
			return b.String()
		}
		end := keyEnd(path, open+1)
		if end < 0 {
			b.WriteString(path)
			return b.String()
		}
		b.WriteString(path[:open+1])
		b.WriteString(listKey(path[open+1 : end]))
		b.WriteByte(']')
		path = path[end+1:]
	}
}

// keyEnd finds the closing bracket of a list key that starts at i, skipping brackets inside quoted values.
func keyEnd(s string, i int) int {
	inString := false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && c == ']':
			return i
		}
	}
	return -1
}

func listKey(key string) string {
	var pairs []string
	inString, start := false, 0
	for i := 0; i <= len(key); i++ {
		if i == len(key) || !inString && key[i] == ',' {
			pairs = append(pairs, key[start:i])
			start = i + 1
			continue
		}
		switch key[i] {
		case '\\':
			if inString {
				i++
			}
		case '"':
			inString = !inString
		}
	}
	for i, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			continue // an index ([0]) stays as it is
		}
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
		if len(pairs) == 1 {
			pairs[i] = v
		} else {
			pairs[i] = k + "=" + v
		}
	}
	return strings.Join(pairs, ",")
}
