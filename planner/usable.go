package planner

import (
	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// Usable reports whether a spec passes the planner's first step (settings): the observer asks before reading a
// metrics source, so that a spec that gets a plan changing nothing (InvalidSpec, NamespaceMismatch) reads
// nothing either.
func Usable(owner model.Owner, spec *konsumeratorv1.ConsumerSpec) bool {
	_, reason, _ := newSettings(&model.Snapshot{Owner: owner, Spec: *spec})
	return reason == ""
}
