package controller

import (
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/applier"
	"github.com/konsumerator/konsumerator/model"
)

// Metrics are the reconciler's own metrics, beside controller-runtime's.
type Metrics struct {
	ReconcileDuration *prometheus.HistogramVec
	Panics            prometheus.Counter
	PlannedActions    *prometheus.CounterVec
	Instances         *ConsumerInstances
	// PerInstance are the series of each instance, for at most maxInstances instances.
	PerInstance *InstanceMetrics
}

// NewMetrics creates the metrics and registers them on reg (nil: not registered). maxInstances bounds the
// instances that get per-instance series: 0 gives DefaultMaxInstanceSeries, a negative number none.
func NewMetrics(reg prometheus.Registerer, maxInstances int) *Metrics {
	if maxInstances == 0 {
		maxInstances = DefaultMaxInstanceSeries
	}
	m := &Metrics{
		PerInstance: newInstanceMetrics(maxInstances),
		ReconcileDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "konsumerator_reconcile_duration_seconds",
			Help:    "Time of one reconcile (observe, plan, apply), by result.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"result"}),
		Panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "konsumerator_reconcile_panics_total",
			Help: "Reconciles that panicked; the panic is recovered and the Consumer retried.",
		}),
		PlannedActions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "konsumerator_planned_actions_total",
			Help: "Actions planned, by kind (create, update, delete, skip).",
		}, []string{"action"}),
		Instances: newConsumerInstances(),
	}
	if reg != nil {
		reg.MustRegister(m.ReconcileDuration, m.Panics, m.PlannedActions, m.Instances)
		reg.MustRegister(m.PerInstance.collectors()...)
	}
	return m
}

func (m *Metrics) observePlan(p *model.Plan) {
	for _, kind := range []model.ActionKind{model.ActionCreate, model.ActionUpdate, model.ActionDelete, model.ActionSkip,
		model.ActionResize, model.ActionDeletePod} {
		if n := p.Count(kind); n > 0 {
			m.PlannedActions.WithLabelValues(string(kind)).Add(float64(n))
		}
	}
}

func (m *Metrics) setStatus(namespace, name string, st konsumeratorv1.ConsumerStatus) {
	m.Instances.set(namespace, name, st)
}

func (m *Metrics) forget(namespace, name string) {
	m.Instances.forget(namespace, name)
	m.PerInstance.forget(namespace, name)
}

// publishInstances sets the per-instance series from the plan: the figures of what it decided, except where
// the write that carries the decision failed.
func (m *Metrics) publishInstances(log logr.Logger, namespace, name string, p *model.Plan, outcomes []applier.Outcome) {
	var failed map[string]bool
	for _, o := range outcomes {
		if o.Err != nil && o.Action.Writes() {
			if failed == nil {
				failed = map[string]bool{}
			}
			failed[o.Action.Name] = true
		}
	}
	m.PerInstance.publish(log, namespace, name, p.Instances, failed)
}
