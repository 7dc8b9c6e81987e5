package applier

import (
	"context"
	"errors"
	"regexp"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// Conflict is one field of one object that another field manager owns.
type Conflict = model.Conflict

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

func conflictFields(conflicts []Conflict) []string {
	fields := make([]string, 0, len(conflicts))
	for _, c := range conflicts {
		fields = append(fields, c.Field)
	}
	return fields
}

// audit records every conflict: one structured log line each, a metric, and one Warning Event per pass.
func (a *Applier) audit(ctx context.Context, owner client.Object, s *model.Snapshot, conflicts []Conflict) {
	if len(conflicts) == 0 {
		return
	}
	log := logr.FromContextOrDiscard(ctx)
	for _, c := range conflicts {
		log.Info("field owned by another manager", "object", c.Object, "field", c.Field, "manager", c.Manager,
			"policy", string(a.conflictPolicy()), "dryRun", a.Options.DryRun)
		if a.Metrics != nil && !a.Options.DryRun {
			a.Metrics.Conflicts.WithLabelValues(s.Owner.Namespace, s.Owner.Name, c.Manager).Inc()
		}
	}
	if a.Events != nil && !a.Options.DryRun {
		a.Events.Eventf(owner, nil, corev1.EventTypeWarning, konsumeratorv1.EventFieldConflict, "Apply", "%s",
			model.ConflictMessage(conflicts, a.conflictPolicy()))
	}
}
