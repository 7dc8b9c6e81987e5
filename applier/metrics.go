package applier

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/konsumerator/konsumerator/model"
)

// Metrics are the applier's counters. They are created once per process and registered on the registry the
// operator exposes.
type Metrics struct {
	Actions   *prometheus.CounterVec
	Conflicts *prometheus.CounterVec
	Errors    *prometheus.CounterVec
}

// NewMetrics creates the applier's metrics and registers them on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "konsumerator_actions_total",
			Help: "Writes carried out on instance Deployments, by action (create, update, delete) and result.",
		}, []string{"action", "result"}),
		Conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "konsumerator_apply_conflicts_total",
			Help: "Fields of instance Deployments found owned by another field manager, by Consumer and manager.",
		}, []string{"namespace", "consumer", "manager"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "konsumerator_apply_errors_total",
			Help: "Failed writes to the API server, by reason.",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.Actions, m.Conflicts, m.Errors)
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
