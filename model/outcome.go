package model

import (
	"fmt"
	"sort"
	"strings"
)

// Conflict is one field of one object that another field manager owns, as the API server named it in a
// FieldManagerConflict cause.
type Conflict struct {
	Object  string `json:"object"`
	Manager string `json:"manager"`
	Field   string `json:"field"`
}

// ApplyReport is what carrying out a plan did, as far as the owner's status needs to know: only the execution
// knows which writes failed and which fields another manager holds.
type ApplyReport struct {
	// Failed holds the message of every failed write, in the order of the plan's actions.
	Failed []string
	// Conflicts are the field-ownership conflicts met on the way, whatever the policy did with them.
	Conflicts []Conflict
	// Applied is true when at least one create or update went through.
	Applied bool
}

// ConflictMessage says who owns which fields and what the policy did about it. The status condition and the
// Warning Event carry the same words.
func ConflictMessage(conflicts []Conflict, policy ConflictPolicy) string {
	byManager := map[string][]string{}
	for _, c := range conflicts {
		byManager[c.Manager] = append(byManager[c.Manager], c.Object+" "+c.Field)
	}
	managers := make([]string, 0, len(byManager))
	for m := range byManager {
		managers = append(managers, m)
	}
	sort.Strings(managers)
	parts := make([]string, 0, len(managers))
	for _, m := range managers {
		sort.Strings(byManager[m])
		parts = append(parts, fmt.Sprintf("%q owns %s", m, ShortList(byManager[m], 5)))
	}
	action := "taken back (conflict policy force)"
	if policy == ConflictRespect {
		action = "left to the other manager (conflict policy respect)"
	}
	return strings.Join(parts, "; ") + ": " + action
}

// ShortList joins at most max items and says how many more there are, so that a message stays short whatever
// the number of instances.
func ShortList(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:max], ", "), len(items)-max)
}
