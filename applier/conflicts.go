package applier

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"regexp"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

var conflictManager = regexp.MustCompile(`conflict with "([^"]*)"`)

// fieldConflicts reads the field-ownership conflicts of a server-side apply error. A 409 without
// FieldManagerConflict causes is a plain optimistic-lock conflict and gives none.
func fieldConflicts(err error, object string) []Conflict {
	var status apierrors.APIStatus
	if err == nil || !errors.As(err, &status) || !apierrors.IsConflict(err) {
		return nil
	}
	details := status.Status().Details
	if details == nil {
		return nil
	}
	var out []Conflict
	for _, c := range details.Causes {
		if c.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		manager := c.Message
		if m := conflictManager.FindStringSubmatch(c.Message); m != nil {
			manager = m[1]
		}
		out = append(out, Conflict{Object: object, Manager: manager, Field: c.Field})
	}
	return out
}

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

// yield removes from the object to apply the fields that are left to other managers: those already recorded on
// the observed Deployment and those in the object's own annotation. The annotation is kept on the object so that
// the planner does not count those fields as drift.
func yield(obj *unstructured.Unstructured, observed *appsv1.Deployment) {
	if observed != nil {
		addYielded(obj, splitFields(observed.Annotations[konsumeratorv1.AnnotationYieldedFields]))
	}
	for _, f := range splitFields(obj.GetAnnotations()[konsumeratorv1.AnnotationYieldedFields]) {
		removeField(obj.Object, f)
	}
}

func addYielded(obj *unstructured.Unstructured, fields []string) {
	if len(fields) == 0 {
		return
	}
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	set := map[string]bool{}
	for _, f := range append(splitFields(annotations[konsumeratorv1.AnnotationYieldedFields]), fields...) {
		set[f] = true
	}
	all := make([]string, 0, len(set))
	for f := range set {
		all = append(all, f)
	}
	sort.Strings(all)
	annotations[konsumeratorv1.AnnotationYieldedFields] = strings.Join(all, ",")
	obj.SetAnnotations(annotations)
}

func splitFields(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// removeField deletes a field named by a server-side apply path such as
// .spec.template.spec.containers[name="busybox"].resources.requests.cpu from obj. Map keys may contain dots
// (annotation names), so each step takes the longest key that exists. It reports whether anything was removed.
func removeField(obj map[string]any, path string) bool {
	_, removed := removeFrom(obj, path)
	return removed
}

func removeFrom(cur any, rest string) (any, bool) {
	switch {
	case strings.HasPrefix(rest, "."):
		m, ok := cur.(map[string]any)
		if !ok {
			return cur, false
		}
		rest = rest[1:]
		for _, end := range boundaries(rest) {
			key := rest[:end]
			child, ok := m[key]
			if !ok {
				continue
			}
			if end == len(rest) {
				delete(m, key)
				return m, true
			}
			if next, removed := removeFrom(child, rest[end:]); removed {
				if next == nil {
					delete(m, key)
				} else {
					m[key] = next
				}
				return m, true
			}
		}
	case strings.HasPrefix(rest, "["):
		list, ok := cur.([]any)
		if !ok {
			return cur, false
		}
		end := closingBracket(rest)
		if end < 0 {
			return cur, false
		}
		keys, ok := parseKeys(rest[1:end])
		if !ok {
			return cur, false
		}
		for i, item := range list {
			if !matches(item, keys) {
				continue
			}
			if end+1 == len(rest) {
				return append(list[:i:i], list[i+1:]...), true
			}
			if next, removed := removeFrom(item, rest[end+1:]); removed {
				list[i] = next
				return list, true
			}
		}
	}
	return cur, false
}

// boundaries are the lengths of the candidate keys at the start of rest, longest first.
func boundaries(rest string) []int {
	var out []int
	for i := 0; i < len(rest); i++ {
		if rest[i] == '.' || rest[i] == '[' {
			out = append(out, i)
		}
	}
	out = append(out, len(rest))
	sort.Sort(sort.Reverse(sort.IntSlice(out)))
	return out
}

func closingBracket(s string) int {
	inString := false
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && inString:
			i++
		case s[i] == '"':
			inString = !inString
		case s[i] == ']' && !inString:
			return i
		}
	}
	return -1
}

// parseKeys reads name="value",port=80 (values are JSON).
func parseKeys(s string) (map[string]any, bool) {
	keys := map[string]any{}
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, false
		}
		name := s[:eq]
		s = s[eq+1:]
		end := len(s)
		inString := false
		for i := 0; i < len(s); i++ {
			if s[i] == '\\' && inString {
				i++
				continue
			}
			if s[i] == '"' {
				inString = !inString
			}
			if s[i] == ',' && !inString {
				end = i
				break
			}
		}
		var v any
		if err := json.Unmarshal([]byte(s[:end]), &v); err != nil {
			return nil, false
		}
		keys[name] = v
		s = strings.TrimPrefix(s[end:], ",")
	}
	return keys, len(keys) > 0
}

func matches(item any, keys map[string]any) bool {
	m, ok := item.(map[string]any)
	if !ok {
		return false
	}
	for k, want := range keys {
		got, ok := m[k]
		if !ok {
			return false
		}
		// JSON numbers decode as float64 while objects converted from Go carry int64.
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if string(gb) != string(wb) {
			return false
		}
	}
	return true
}
