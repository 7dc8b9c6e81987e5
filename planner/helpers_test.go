package planner_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/planner"
)

// settle plans and fake-applies until a plan writes nothing, then marks every Deployment as rolled out and
// available: the world as it is after the operator has done its work and the deployment controller caught up.
func settle(t testing.TB, s *model.Snapshot) *model.Snapshot {
	t.Helper()
	for i := 0; i < 50; i++ {
		p := planner.Plan(s)
		if !p.Changed() {
			return available(s)
		}
		s = planner.Apply(s, p)
	}
	t.Fatalf("no steady state after 50 passes")
	return nil
}

// available gives every Deployment a finished rollout.
func available(s *model.Snapshot) *model.Snapshot {
	out := *s
	out.Deployments = make([]appsv1.Deployment, len(s.Deployments))
	for i := range s.Deployments {
		out.Deployments[i] = *builder.From(&s.Deployments[i]).Available().Obj()
	}
	return &out
}

// later returns a copy of s at now+d with a new metrics sample (nil for none).
func later(s *model.Snapshot, d time.Duration, m *model.MetricsSample) *model.Snapshot {
	out := *s
	out.Now = s.Now.Add(d)
	out.Metrics = m
	return &out
}

// withSpec returns a copy of s with another spec (and generation + 1).
func withSpec(s *model.Snapshot, c *konsumeratorv1.Consumer) *model.Snapshot {
	out := *s
	out.Spec = *c.Spec.DeepCopy()
	out.Owner.Generation++
	return &out
}

// edit returns a copy of s with the named Deployment changed.
func edit(s *model.Snapshot, name string, f func(*builder.DeploymentWrapper) *builder.DeploymentWrapper) *model.Snapshot {
	out := *s
	out.Deployments = append([]appsv1.Deployment(nil), s.Deployments...)
	for i := range out.Deployments {
		if out.Deployments[i].Name == name {
			out.Deployments[i] = *f(builder.From(&out.Deployments[i])).Obj()
		}
	}
	return &out
}

// setState stamps a hysteresis state on the named Deployment, as an earlier pass would have.
func setState(s *model.Snapshot, name string, state planner.ScalingState, since time.Time) *model.Snapshot {
	return edit(s, name, func(w *builder.DeploymentWrapper) *builder.DeploymentWrapper {
		return w.Annotation(konsumeratorv1.AnnotationScalingStatus, string(state)).
			Annotation(konsumeratorv1.AnnotationScalingStatusChange, since.UTC().Format(time.RFC3339))
	})
}

// render is the golden form of a plan: the text, the conditions, the status and, for the named actions, the
// desired objects.
func render(t testing.TB, p model.Plan, desiredOf ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("== plan\n")
	b.WriteString(planner.Text(p))
	b.WriteString("== conditions\n")
	b.WriteString(planner.StatusText(p))
	st := p.Status.DeepCopy()
	st.Conditions = nil
	raw, err := yaml.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString("== status\n")
	b.Write(raw)
	for _, name := range desiredOf {
		for _, a := range p.Actions {
			if a.Name != name {
				continue
			}
			raw, err := yaml.Marshal(a.Desired)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "== desired %s\n", name)
			b.Write(raw)
		}
	}
	return b.String()
}
