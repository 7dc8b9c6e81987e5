// Package v1 contains the Consumer API of group konsumerator.lwolf.org, version v1 (the storage version).
//
// Version v1alpha1 is served with exactly the same schema (the CRD generator copies it), so manifests written
// for the original Konsumerator in either version apply unchanged and no conversion webhook is needed.
//
// +kubebuilder:object:generate=true
// +groupName=konsumerator.lwolf.org
package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the storage version.
	GroupVersion = schema.GroupVersion{Group: "konsumerator.lwolf.org", Version: "v1"}

	// SchemeBuilder registers the Consumer types.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
