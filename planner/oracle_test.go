package planner

import (
	"bytes"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// The planner used to build each desired object as a typed Deployment (a deep copy of the template) and turn it
// into an apply configuration by a JSON round trip. That path is kept here as the oracle the direct build is
// held to: the applier must receive exactly what it received before.

// desiredMismatch plans s and returns, for the first create or update whose desired object serialises
// differently from the oracle's, a description; "" when every one is the same.
func desiredMismatch(s *model.Snapshot) string {
	st, _, _ := newSettings(s)
	if st == nil {
		return ""
	}
	pl := newPlanner(s, st, newMemo(true))
	pl.classify()
	pl.size()
	pl.applyBudget()
	pl.diff()
	pl.limitRollouts()
	for _, in := range pl.insts {
		if in.action.Desired == nil {
			continue
		}
		got, _ := json.Marshal(in.action.Desired)
		parts := pl.parts(in)
		want, _ := json.Marshal(oracleApplyConfiguration(pl.oracleDeployment(in, parts)))
		if !bytes.Equal(got, want) {
			return fmt.Sprintf("%s:\n got %s\nwant %s", in.name, got, want)
		}
	}
	return ""
}

func (pl *planner) oracleDeployment(in *instance, p instanceParts) *appsv1.Deployment {
	spec := pl.tmpl.DeepCopy()
	replicas := p.replicas
	spec.Replicas = &replicas
	spec.Selector = pl.oracleSelector(in)
	spec.Template.Labels = pl.podLabels(in)
	spec.Template.CreationTimestamp = metav1.Time{}
	for i := range spec.Template.Spec.Containers {
		c := &spec.Template.Spec.Containers[i]
		c.Env = pl.env(nil, in, &p, i)
		c.Resources = *in.tmplRes[i].DeepCopy()
	}
	labels := map[string]string{}
	for _, k := range ownedLabels {
		labels[k] = pl.label(in, k)
	}
	annotations := map[string]string{}
	for _, k := range ownedAnnotations {
		annotations[k] = p.annotation(k)
	}
	if pl.inPlace {
		annotations[konsumeratorv1.AnnotationResources] = p.resources
	}
	if in.floorsText != "" {
		annotations[konsumeratorv1.AnnotationMemoryFloor] = in.floorsText
	}
	if p.marginSince != "" {
		annotations[konsumeratorv1.AnnotationScaleDownMarginSince] = p.marginSince
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

func (pl *planner) oracleSelector(in *instance) *metav1.LabelSelector {
	if in.observed != nil && in.observed.Spec.Selector != nil && pl.selects(in.observed.Spec.Selector, in) {
		return in.observed.Spec.Selector.DeepCopy()
	}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{}}
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

func oracleApplyConfiguration(d *appsv1.Deployment) *appsv1ac.DeploymentApplyConfiguration {
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
		ac.Spec.Strategy = nil
	}
	if ac.Spec.Template != nil && ac.Spec.Template.ObjectMetaApplyConfiguration != nil {
		ac.Spec.Template.CreationTimestamp = nil
	}
	return ac
}
