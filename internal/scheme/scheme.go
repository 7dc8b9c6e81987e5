// Package scheme is the one runtime.Scheme of the operator: the built-in types and the Consumer API.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// New returns a scheme with the built-in types and the Consumer API.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := konsumeratorv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}
