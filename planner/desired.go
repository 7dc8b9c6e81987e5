package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// instanceParts are the values of one instance the diff compares, cheap to compute for every instance: maps and
// env lists are only built for the objects that are written.
type instanceParts struct {
	ie       instanceEnv
	hash     string
	state    string
	since    string
	replicas int32
	// resources is the value of AnnotationResources (updateMode InPlace).
	resources string
	// marginSince is the value of AnnotationScaleDownMarginSince, "" for none.
	marginSince string
}

func (pl *planner) parts(in *instance) instanceParts {
	p := instanceParts{
		ie: instanceEnv{
			cache:         pl.memo.env,
			partitionKey:  pl.st.partitionEnvKey,
			partitions:    in.partitions(),
			numPartitions: pl.numPartitionsText,
			instance:      strconv.Itoa(int(in.index)),
			numInstances:  pl.numInstancesText,
			// In place, a CPU limit changes under a running process: GOMAXPROCS is left to the runtime, which
			// follows the cgroup limit (Go 1.25+); a template that pins it keeps it until its next rollout.
			noProcs: pl.inPlace && !(in.tmplIsLive && in.liveProcs),
		},
		state:    string(in.state.state),
		since:    in.state.raw,
		replicas: pl.desiredReplicas(),
	}
	in.hash = pl.specHash(in, p.ie.partitions)
	if pl.inPlace {
		p.resources = pl.memo.resourcesText(in.decided, func() string { return encodeResources(pl.names, in.decided) })
	}
	p.hash = in.hash.String()
	if p.since == "" || in.state.since.IsZero() {
		t := in.state.since
		if t.IsZero() {
			t = pl.now
		}
		p.since = t.UTC().Format(time.RFC3339)
	}
	p.marginSince = in.state.marginText()
	return p
}

// label is the value of one of the Deployment labels the operator sets.
func (pl *planner) label(in *instance, k string) string {
	if k == konsumeratorv1.LabelConsumer {
		return pl.ownerLabel
	}
	return in.name
}

// annotation is the value of one of the annotations the operator sets.
func (p *instanceParts) annotation(k string) string {
	switch k {
	case konsumeratorv1.AnnotationPartition:
		return p.ie.partitions
	case konsumeratorv1.AnnotationSpecHash:
		return p.hash
	case konsumeratorv1.AnnotationScalingStatus:
		return p.state
	}
	return p.since
}

// env is container i's desired env, appended to dst.
func (pl *planner) env(dst []corev1.EnvVar, in *instance, p *instanceParts, i int) []corev1.EnvVar {
	return containerEnv(dst, pl.tmpl.Template.Spec.Containers[i].Env, &p.ie, in.tmplRes[i])
}

// specHash hashes everything the operator sets on the instance (the scaling-state annotations excepted).
func (pl *planner) specHash(in *instance, partitions string) specHash {
	var buf [256]byte
	h := hasher{buf: buf[:0]}
	h.str(hashVersion)
	h.str(pl.podDigest)
	h.str(in.name)
	h.str(pl.ownerLabel)
	h.str(pl.st.partitionEnvKey)
	h.str(partitions)
	h.num(int64(pl.st.numPartitions))
	h.num(int64(in.index))
	h.num(int64(len(pl.insts)))
	pod := sha256.Sum256(h.buf)

	var dbuf [128]byte
	d := hasher{buf: dbuf[:0]}
	d.str(hashVersion)
	d.str(pl.depDigest)
	d.str(in.name)
	d.str(pl.ownerLabel)
	d.num(int64(pl.desiredReplicas()))
	dep := sha256.Sum256(d.buf)

	// One string for the whole value; the parts are slices of it.
	var out [12 + 1 + 8 + 1 + 8]byte
	hex.Encode(out[:12], pod[:6])
	out[12] = '-'
	copy(out[13:21], pl.decidedDigest(in.tmplRes))
	out[21] = '-'
	hex.Encode(out[22:], dep[:4])
	full := string(out[:])
	return specHash{pod: full[:12], resources: full[13:21], deployment: full[22:], full: full}
}

// decidedDigest is resourcesDigest of the template containers, cached for sizes shared between instances.
func (pl *planner) decidedDigest(res []corev1.ResourceRequirements) string {
	return pl.memo.digest(res, func() string { return resourcesDigest(pl.names, res) })
}

// selectorFor is the template's selector with the instance label added, so one instance's pods are selectable
// on their own. The selector is immutable: a live object's selector that still selects the desired pods is kept
// (Deployments made by the original Konsumerator have no instance label in it), so only a selector that no
// longer matches forces a delete and create.
func (pl *planner) selectorFor(in *instance) *metav1ac.LabelSelectorApplyConfiguration {
	if in.observed != nil && in.observed.Spec.Selector != nil && pl.selects(in.observed.Spec.Selector, in) {
		return selectorApply(in.observed.Spec.Selector)
	}
	return pl.newSelector(in)
}

// selects reports whether a live selector is non-empty and matches the desired pod labels.
func (pl *planner) selects(sel *metav1.LabelSelector, in *instance) bool {
	if len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 {
		return false
	}
	if len(sel.MatchExpressions) == 0 {
		for k, v := range sel.MatchLabels {
			if pl.podLabel(in, k) != v {
				return false
			}
		}
		return true
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set(pl.podLabels(in)))
}

// podLabel is one desired pod label ("" when absent).
func (pl *planner) podLabel(in *instance, k string) string {
	switch k {
	case konsumeratorv1.LabelConsumer:
		return pl.ownerLabel
	case konsumeratorv1.LabelInstance:
		return in.name
	}
	return pl.tmpl.Template.Labels[k]
}

// podLabels are the template's labels plus the operator's.
func (pl *planner) podLabels(in *instance) map[string]string {
	out := make(map[string]string, len(pl.tmpl.Template.Labels)+2)
	for k, v := range pl.tmpl.Template.Labels {
		out[k] = v
	}
	out[konsumeratorv1.LabelConsumer] = pl.ownerLabel
	out[konsumeratorv1.LabelInstance] = in.name
	return out
}

func (pl *planner) newSelector(in *instance) *metav1ac.LabelSelectorApplyConfiguration {
	sel := &metav1ac.LabelSelectorApplyConfiguration{MatchLabels: make(map[string]string, len(pl.selector)+1)}
	for k, v := range pl.selector {
		sel.MatchLabels[k] = v
	}
	sel.MatchLabels[konsumeratorv1.LabelInstance] = in.name
	if t := pl.tmpl.Selector; t != nil {
		sel.MatchExpressions = requirementsApply(t.MatchExpressions)
	}
	return sel
}

// selectorApply copies a live selector into an apply configuration, with the fields JSON would carry (key and
// operator always, values when there are any), so that nothing in the plan refers to the snapshot's maps.
func selectorApply(sel *metav1.LabelSelector) *metav1ac.LabelSelectorApplyConfiguration {
	out := &metav1ac.LabelSelectorApplyConfiguration{MatchExpressions: requirementsApply(sel.MatchExpressions)}
	if len(sel.MatchLabels) > 0 {
		out.MatchLabels = make(map[string]string, len(sel.MatchLabels))
		for k, v := range sel.MatchLabels {
			out.MatchLabels[k] = v
		}
	}
	return out
}

func requirementsApply(rs []metav1.LabelSelectorRequirement) []metav1ac.LabelSelectorRequirementApplyConfiguration {
	if len(rs) == 0 {
		return nil
	}
	out := make([]metav1ac.LabelSelectorRequirementApplyConfiguration, len(rs))
	for i := range rs {
		r := rs[i].DeepCopy()
		out[i] = metav1ac.LabelSelectorRequirementApplyConfiguration{Key: &r.Key, Operator: &r.Operator}
		if len(r.Values) > 0 {
			out[i].Values = r.Values
		}
	}
	return out
}

// templateApply converts the template's Deployment spec into an apply configuration, once per plan. The JSON
// round trip is exact for the fields set; the empty creation timestamp and an empty strategy (the template's
// zero values) are dropped so that the operator claims nothing it does not set. nil when the template does not
// convert, in which case no desired object is built.
func templateApply(spec *appsv1.DeploymentSpec) *appsv1ac.DeploymentSpecApplyConfiguration {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil
	}
	ac := &appsv1ac.DeploymentSpecApplyConfiguration{}
	if err := json.Unmarshal(raw, ac); err != nil || ac.Template == nil || ac.Template.Spec == nil {
		return nil
	}
	if st := ac.Strategy; st != nil && st.Type == nil && st.RollingUpdate == nil {
		ac.Strategy = nil
	}
	if ac.Template.ObjectMetaApplyConfiguration != nil {
		ac.Template.CreationTimestamp = nil
	}
	return ac
}

// desired is the full object the operator owns for the instance, as the apply configuration the applier sends.
// It is assembled from pl.desiredSpec, whose parts it shares: only the per-instance parts (metadata, replicas,
// selector, pod labels, each container's env and resources) are new. The plan's desired objects are read-only.
func (pl *planner) desired(in *instance, p *instanceParts) *appsv1ac.DeploymentApplyConfiguration {
	if !pl.desiredSpecDone {
		pl.desiredSpec, pl.desiredSpecDone = templateApply(pl.tmpl), true
		pl.ownerRef = ownerReference(&pl.s.Owner)
		ns := pl.st.namespace
		pl.namespace = &ns
	}
	t := pl.desiredSpec
	if t == nil {
		return nil
	}
	o := &desiredObject{spec: *t, template: *t.Template, pod: *t.Template.Spec}
	o.replicas, o.name = p.replicas, in.name // copies: the plan must not keep the planner's state alive
	o.spec.Replicas = &o.replicas
	o.spec.Selector = pl.selectorFor(in)
	if t.Template.ObjectMetaApplyConfiguration != nil {
		o.podMeta = *t.Template.ObjectMetaApplyConfiguration
	}
	o.podMeta.Labels = pl.podLabels(in)
	o.template.ObjectMetaApplyConfiguration = &o.podMeta
	o.pod.Containers = make([]corev1ac.ContainerApplyConfiguration, len(t.Template.Spec.Containers))
	for i := range o.pod.Containers {
		c := t.Template.Spec.Containers[i]
		c.Env = pl.envApply(in, p, i, c.Env)
		c.Resources = pl.memo.resourcesApply(in.tmplRes, i)
		o.pod.Containers[i] = c
	}
	o.template.Spec = &o.pod
	o.spec.Template = &o.template

	o.meta.Name = &o.name
	if pl.st.namespace != "" { // omitted when empty, as JSON omits it
		o.meta.Namespace = pl.namespace
	}
	o.meta.Labels = make(map[string]string, len(ownedLabels))
	for _, k := range ownedLabels {
		o.meta.Labels[k] = pl.label(in, k)
	}
	o.meta.Annotations = make(map[string]string, len(ownedAnnotations)+1)
	for _, k := range ownedAnnotations {
		o.meta.Annotations[k] = p.annotation(k)
	}
	if pl.inPlace {
		o.meta.Annotations[konsumeratorv1.AnnotationResources] = p.resources
	}
	if in.floorsText != "" {
		o.meta.Annotations[konsumeratorv1.AnnotationMemoryFloor] = in.floorsText
	}
	if p.marginSince != "" {
		o.meta.Annotations[konsumeratorv1.AnnotationScaleDownMarginSince] = p.marginSince
	}
	o.owner[0] = pl.ownerRef
	o.meta.OwnerReferences = o.owner[:]
	o.d.Kind, o.d.APIVersion = &kindDeployment, &apiVersionApps
	o.d.ObjectMetaApplyConfiguration = &o.meta
	o.d.Spec = &o.spec
	return &o.d
}

// desiredObject holds the parts of one desired object that are its own, so that they take one allocation.
type desiredObject struct {
	d        appsv1ac.DeploymentApplyConfiguration
	meta     metav1ac.ObjectMetaApplyConfiguration
	owner    [1]metav1ac.OwnerReferenceApplyConfiguration
	spec     appsv1ac.DeploymentSpecApplyConfiguration
	template corev1ac.PodTemplateSpecApplyConfiguration
	podMeta  metav1ac.ObjectMetaApplyConfiguration
	pod      corev1ac.PodSpecApplyConfiguration
	replicas int32
	name     string
}

// Shared by every desired object, like the template's parts.
var kindDeployment, apiVersionApps = "Deployment", "apps/v1"

// ownerReference is the controller reference every instance carries; its fields are always written (JSON has
// no omitempty on them), blocking the owner's deletion until the instances are gone.
func ownerReference(o *model.Owner) metav1ac.OwnerReferenceApplyConfiguration {
	kind := string(o.Kind)
	return *metav1ac.OwnerReference().WithAPIVersion(o.APIVersion).WithKind(kind).WithName(o.Name).WithUID(o.UID).
		WithController(true).WithBlockOwnerDeletion(true)
}

// envApply is container i's desired env as apply configurations, in containerEnv's order: the operator's
// variables, then the template's own (tmplEnv, shared) less those the operator sets.
func (pl *planner) envApply(in *instance, p *instanceParts, i int, tmplEnv []corev1ac.EnvVarApplyConfiguration) []corev1ac.EnvVarApplyConfiguration {
	buf := pl.memo.envBuffer()
	*buf = operatorEnv((*buf)[:0], &p.ie, in.tmplRes[i])
	ours := *buf
	user := pl.tmpl.Template.Spec.Containers[i].Env
	out := make([]corev1ac.EnvVarApplyConfiguration, len(ours), len(ours)+len(user))
	strs := make([]string, 2*len(ours)) // one allocation for the names and values the pointers refer to
	for j := range ours {
		strs[2*j], strs[2*j+1] = ours[j].Name, ours[j].Value
		out[j].Name = &strs[2*j]
		if ours[j].Value != "" { // omitted when empty, as JSON omits it
			out[j].Value = &strs[2*j+1]
		}
	}
	for j := range user {
		if !hasEnv(ours, user[j].Name) {
			out = append(out, tmplEnv[j])
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// resourcesApply is one container's resources as an apply configuration, with the fields JSON would carry: the
// lists when not empty (shared, read-only), a claim's name always and its request when set.
func resourcesApply(r corev1.ResourceRequirements) *corev1ac.ResourceRequirementsApplyConfiguration {
	out := &corev1ac.ResourceRequirementsApplyConfiguration{}
	if len(r.Limits) > 0 {
		out.Limits = &r.Limits
	}
	if len(r.Requests) > 0 {
		out.Requests = &r.Requests
	}
	for i := range r.Claims {
		c := corev1ac.ResourceClaimApplyConfiguration{Name: &r.Claims[i].Name}
		if r.Claims[i].Request != "" {
			c.Request = &r.Claims[i].Request
		}
		out.Claims = append(out.Claims, c)
	}
	return out
}
