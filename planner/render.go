package planner

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/konsumerator/konsumerator/model"
)

// Text renders a plan for logs and the CLI: one line per action, "kind  Deployment/namespace/name  reason (load)", the
// changed fields indented below it, then a summary line. The output depends only on the plan.
func Text(p model.Plan) string {
	var b strings.Builder
	for _, a := range p.Actions {
		reason := a.Reason
		if a.Load != "" {
			reason += " (" + a.Load + ")" // the numbers behind a sizing decision, as its Event has them
		}
		kind := "Deployment"
		if a.Kind == model.ActionResize || a.Kind == model.ActionDeletePod {
			kind = "Pod"
		}
		if a.RestartReason != "" && a.Kind != model.ActionSkip {
			reason += " [restart: " + a.RestartReason + "]"
		}
		fmt.Fprintf(&b, "%-9s %s/%s/%s  %s\n", a.Kind, kind, a.Namespace, a.Name, reason)
		for _, c := range a.Changes {
			fmt.Fprintf(&b, "          ~ %s\n", c)
		}
	}
	b.WriteString(Summary(p))
	b.WriteByte('\n')
	return b.String()
}

// Summary is one line: how many actions of each kind, and the status counts.
func Summary(p model.Plan) string {
	st := p.Status
	resized := ""
	if n := p.Count(model.ActionResize); n > 0 {
		resized = fmt.Sprintf(", %d pod resize", n)
	}
	if n := p.Count(model.ActionDeletePod); n > 0 {
		resized += fmt.Sprintf(", %d stuck pod delete", n)
	}
	return fmt.Sprintf("plan: %d create, %d update, %d delete, %d unchanged, %d skip%s; "+
		"expected=%d running=%d paused=%d missing=%d lagging=%d outdated=%d; requeueAfter=%s",
		p.Count(model.ActionCreate), p.Count(model.ActionUpdate), p.Count(model.ActionDelete),
		p.Count(model.ActionUnchanged), p.Count(model.ActionSkip), resized,
		deref(st.Expected), deref(st.Running), deref(st.Paused), deref(st.Missing), deref(st.Lagging),
		deref(st.Outdated), time.Duration(p.RequeueAfter))
}

// StatusText renders the conditions, one line each, for humans.
func StatusText(p model.Plan) string {
	var b strings.Builder
	for _, c := range p.Status.Conditions {
		fmt.Fprintf(&b, "condition %s=%s reason=%s: %s\n", c.Type, c.Status, c.Reason, c.Message)
	}
	return b.String()
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// YAML renders the whole plan, desired objects included.
func YAML(p model.Plan) ([]byte, error) { return yaml.Marshal(p) }

// JSON renders the whole plan, desired objects included.
func JSON(p model.Plan) ([]byte, error) { return json.MarshalIndent(p, "", "  ") }
