package e2e

import (
	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// The control plane's own start-up messages are not what these tests report; the operator logs to its file.
func init() { ctrllog.SetLogger(logr.Discard()) }
