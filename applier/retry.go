package applier

import (
	"context"
	"errors"
	"net"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
)

// withRetry retries what is likely to pass on a second try: throttling, server errors, timeouts and plain
// optimistic-lock conflicts. Field-ownership conflicts are decisions, not accidents, and are returned at once.
func withRetry(ctx context.Context, fn func() error) error {
	backoff := wait.Backoff{Steps: 5, Duration: 50 * time.Millisecond, Factor: 2, Jitter: 0.2, Cap: 2 * time.Second}
	return retry.OnError(backoff, func(err error) bool { return ctx.Err() == nil && transient(err) }, fn)
}

func transient(err error) bool {
	if len(fieldConflicts(err, "")) > 0 {
		return false
	}
	var netErr net.Error
	return apierrors.IsConflict(err) || apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) ||
		apierrors.IsTimeout(err) || apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) ||
		apierrors.IsUnexpectedServerError(err) || (errors.As(err, &netErr) && netErr.Timeout())
}

// errorReason is a small, fixed set of label values for the error metric.
func errorReason(err error) string {
	switch {
	case len(fieldConflicts(err, "")) > 0:
		return "field_conflict"
	case apierrors.IsConflict(err):
		return "conflict"
	case apierrors.IsInvalid(err):
		return "invalid"
	case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
		return "forbidden"
	case apierrors.IsTooManyRequests(err):
		return "throttled"
	case apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err):
		return "timeout"
	case apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsUnexpectedServerError(err):
		return "server"
	}
	return "other"
}
