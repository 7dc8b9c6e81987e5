package applier

import (
	"encoding/json"

	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
)

// detached sends a desired object as it is but keeps the API server's answer out of it. The client decodes the
// answer of an apply into the object it was given; the planner's desired objects share parts with one another
// (the converted pod template, resources of equal size), so an answer decoded into one would rewrite the others
// — from several workers at once. The answer is not needed: the next pass observes the object anyway.
type detached struct {
	*appsv1ac.DeploymentApplyConfiguration
}

func (d *detached) MarshalJSON() ([]byte, error) { return json.Marshal(d.DeploymentApplyConfiguration) }

// UnmarshalJSON drops the answer.
func (d *detached) UnmarshalJSON([]byte) error { return nil }
