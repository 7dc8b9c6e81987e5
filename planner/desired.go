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

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// instanceParts are the values of one instance the diff compares, cheap to compute for every instance: maps and
// env lists are only built for the objects that are written.
type instanceParts struct {
	ie       instanceEnv
	hash     string
	state    string
	since    string
	replicas int32
}

func (pl *planner) parts(in *instance) instanceParts {
	p := instanceParts{
		ie: instanceEnv{
			cache:         pl.envCache,
			partitionKey:  pl.st.partitionEnvKey,
			partitions:    in.partitions(),
			numPartitions: pl.numPartitionsText,
			instance:      strconv.Itoa(int(in.index)),
			numInstances:  pl.numInstancesText,
		},
		state:    string(in.state.state),
		since:    in.state.raw,
		replicas: pl.desiredReplicas(),
	}
	in.hash = pl.specHash(in, p.ie.partitions)
	p.hash = in.hash.String()
	if p.since == "" || in.state.since.IsZero() {
		t := in.state.since
		if t.IsZero() {
			t = pl.now
		}
		p.since = t.UTC().Format(time.RFC3339)
	}
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
	return containerEnv(dst, pl.tmpl.Template.Spec.Containers[i].Env, &p.ie, in.decided[i])
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
	copy(out[13:21], pl.decidedDigest(in.decided))
	out[21] = '-'
	hex.Encode(out[22:], dep[:4])
	full := string(out[:])
	return specHash{pod: full[:12], resources: full[13:21], deployment: full[22:], full: full}
}

// decidedDigest is resourcesDigest of the template containers, cached for sizes shared between instances.
func (pl *planner) decidedDigest(res []corev1.ResourceRequirements) string {
	if len(res) == 0 {
		return resourcesDigest(pl.names, res)
	}
	if d, ok := pl.digestMemo[&res[0]]; ok {
		return d
	}
	d := resourcesDigest(pl.names, res)
	pl.digestMemo[&res[0]] = d
	return d
}

// selectorFor is the template's selector with the instance label added, so one instance's pods are selectable
// on their own. The selector is immutable: a live object's selector that still selects the desired pods is kept
// (Deployments made by the original Konsumerator have no instance label in it), so only a selector that no
// longer matches forces a delete and create.
func (pl *planner) selectorFor(in *instance) *metav1.LabelSelector {
	if in.observed != nil && in.observed.Spec.Selector != nil && pl.selects(in.observed.Spec.Selector, in) {
		return in.observed.Spec.Selector.DeepCopy()
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

func (pl *planner) newSelector(in *instance) *metav1.LabelSelector {
	sel := &metav1.LabelSelector{MatchLabels: make(map[string]string, len(pl.selector)+1)}
	for k, v := range pl.selector {
		sel.MatchLabels[k] = v
	}
	sel.MatchLabels[konsumeratorv1.LabelInstance] = in.name
	if t := pl.tmpl.Selector; t != nil {
		for _, e := range t.MatchExpressions {
			sel.MatchExpressions = append(sel.MatchExpressions, *e.DeepCopy())
		}
	}
	return sel
}

// desiredDeployment is the full object the operator owns for the instance.
func (pl *planner) desiredDeployment(in *instance, p instanceParts) *appsv1.Deployment {
	spec := pl.tmpl.DeepCopy()
	replicas := p.replicas
	spec.Replicas = &replicas
	spec.Selector = pl.selectorFor(in)
	spec.Template.Labels = pl.podLabels(in)
	spec.Template.CreationTimestamp = metav1.Time{}
	for i := range spec.Template.Spec.Containers {
		c := &spec.Template.Spec.Containers[i]
		c.Env = pl.env(nil, in, &p, i)
		c.Resources = *in.decided[i].DeepCopy()
	}
	labels := map[string]string{}
	for _, k := range ownedLabels {
		labels[k] = pl.label(in, k)
	}
	annotations := map[string]string{}
	for _, k := range ownedAnnotations {
		annotations[k] = p.annotation(k)
	}
	t, f := true, true
	return &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        in.name,
			Namespace:   pl.st.namespace,
			Labels:      labels,
			Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         pl.s.Owner.APIVersion,
				Kind:               string(pl.s.Owner.Kind),
				Name:               pl.s.Owner.Name,
				UID:                pl.s.Owner.UID,
				Controller:         &t,
				BlockOwnerDeletion: &f,
			}},
		},
		Spec: *spec,
	}
}

// ApplyConfiguration converts a typed Deployment into the apply configuration the applier sends. The JSON round
// trip is exact for the fields set; status and empty creation timestamps are dropped so that the operator claims
// nothing it does not set.
func ApplyConfiguration(d *appsv1.Deployment) *appsv1ac.DeploymentApplyConfiguration {
	raw, err := json.Marshal(d)
	if err != nil {
		return nil
	}
	ac := &appsv1ac.DeploymentApplyConfiguration{}
	if err := json.Unmarshal(raw, ac); err != nil || ac.Spec == nil {
		return nil
	}
	ac.Status = nil
	ac.CreationTimestamp = nil
	if st := ac.Spec.Strategy; st != nil && st.Type == nil && st.RollingUpdate == nil {
		ac.Spec.Strategy = nil // an empty strategy (the template's zero value) claims nothing
	}
	if ac.Spec.Template != nil && ac.Spec.Template.ObjectMetaApplyConfiguration != nil {
		ac.Spec.Template.CreationTimestamp = nil
	}
	return ac
}
