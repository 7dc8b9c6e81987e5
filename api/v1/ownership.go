package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// IsControlledBy reports whether obj's controller owner reference points at the owner with this UID. It is the
// one test of "ours": the operator reads, writes and deletes only objects for which it holds. Labels are only
// filters; an object with our labels but another controller is never touched.
func IsControlledBy(obj metav1.Object, owner types.UID) bool {
	ref := metav1.GetControllerOfNoCopy(obj)
	return ref != nil && ref.UID == owner
}
