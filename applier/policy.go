package applier

import (
	"fmt"

	"github.com/konsumerator/konsumerator/model"
)

// ConflictPolicy says what to do with fields another field manager has taken. The planner reads it too.
type ConflictPolicy = model.ConflictPolicy

const (
	ConflictForce   = model.ConflictForce
	ConflictRespect = model.ConflictRespect
)

// ParseConflictPolicy reads a --conflict-policy value.
func ParseConflictPolicy(s string) (ConflictPolicy, error) {
	switch p := ConflictPolicy(s); p {
	case ConflictForce, ConflictRespect:
		return p, nil
	}
	return "", fmt.Errorf("unknown conflict policy %q: want force or respect", s)
}
