package applier

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// Metrics are the applier's counters. They are created once per process and registered on the registry the
// operator exposes.
type Metrics struct {
	Actions   *prometheus.CounterVec
	Conflicts *prometheus.CounterVec
	Errors    *prometheus.CounterVec
	// Resizes counts pods/resize calls by outcome (the Resize* words of the API package).
	Resizes *prometheus.CounterVec
	// Restarts counts instances whose pods a successful write restarts, by reason (the Restart* words).
	Restarts *prometheus.CounterVec
}

// NewMetrics creates the applier's metrics and registers them on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "konsumerator_actions_total",
			Help: "Writes carried out on instance Deployments and their pods, by action (create, update, resize, delete) and result.",
		}, []string{"action", "result"}),
		Conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "konsumerator_apply_conflicts_total",
			Help: "Fields of instance Deployments found owned by another field manager, by Consumer and manager.",
		}, []string{"namespace", "consumer", "manager"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "konsumerator_apply_errors_total",
			Help: "Failed writes to the API server, by reason.",
		}, []string{"reason"}),
		Resizes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "konsumerator_inplace_resizes_total",
			Help: "In-place resizes of running pods (pods/resize), by outcome: applied, failed, gone (the pod was deleted or replaced first).",
		}, []string{"outcome"}),
		Restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "konsumerator_instance_restarts_total",
			Help: "Instances whose pods a write of the operator restarted, by reason.",
		}, []string{"reason"}),
	}
	// Every series exists from the start, so that increase() sees the first one.
	for _, outcome := range []string{konsumeratorv1.ResizeApplied, konsumeratorv1.ResizeFailed, konsumeratorv1.ResizeGone} {
		m.Resizes.WithLabelValues(outcome)
	}
	for _, reason := range restartReasons() {
		m.Restarts.WithLabelValues(reason)
	}
	if reg != nil {
		reg.MustRegister(m.Actions, m.Conflicts, m.Errors, m.Resizes, m.Restarts)
	}
	return m
}

// Forget drops the series of a deleted Consumer.
func (m *Metrics) Forget(namespace, consumer string) {
	m.Conflicts.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "consumer": consumer})
}

// countAction counts one write and, when it failed, why. A nil Metrics counts nothing.
func (m *Metrics) countAction(kind model.ActionKind, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
		m.Errors.WithLabelValues(errorReason(err)).Inc()
	}
	m.Actions.WithLabelValues(string(kind), result).Inc()
}

// countResults counts the resizes tried and the instances restarted by a pass (not a dry run: nothing happened).
// An instance counts once however many of its pods a resize restarts.
func (m *Metrics) countResults(outcomes []Outcome) {
	if m == nil {
		return
	}
	restarted := map[string]bool{}
	for _, o := range outcomes {
		a := o.Action
		switch {
		case a.Kind == model.ActionResize && o.Result == ResultResized:
			m.Resizes.WithLabelValues(konsumeratorv1.ResizeApplied).Inc()
			if a.Restart && a.Resize != nil && !restarted[a.Resize.Deployment] {
				restarted[a.Resize.Deployment] = true
				m.Restarts.WithLabelValues(restartReason(a, konsumeratorv1.RestartContainerPolicy)).Inc()
			}
		case a.Kind == model.ActionResize && o.Result == ResultGone:
			m.Resizes.WithLabelValues(konsumeratorv1.ResizeGone).Inc()
		case a.Kind == model.ActionResize && o.Result == ResultFailed:
			m.Resizes.WithLabelValues(konsumeratorv1.ResizeFailed).Inc()
		case a.Kind == model.ActionUpdate && o.Result == ResultConfigured && a.Restart && !restarted[a.Name]:
			// A create starts pods; it restarts none.
			restarted[a.Name] = true
			m.Restarts.WithLabelValues(restartReason(a, konsumeratorv1.RestartTemplateChanged)).Inc()
		}
	}
}

// restartReason is the action's reason for restarting, or def when the plan names none.
func restartReason(a model.Action, def string) string {
	if a.RestartReason != "" {
		return a.RestartReason
	}
	return def
}

// restartReasons are the reasons a restart can have, sorted.
func restartReasons() []string {
	out := []string{konsumeratorv1.RestartTemplateChanged, konsumeratorv1.RestartResources, konsumeratorv1.RestartContainerPolicy}
	for r := range fallbackReasons {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}
