package controller

import (
	"strings"
	"sync"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/konsumerator/konsumerator/model"
)

// DefaultMaxInstanceSeries is how many instances get per-instance series unless --metrics-max-instances says
// otherwise. With one container an instance has five series, which cost about 3 KiB of the operator's heap and
// 650 bytes of every scrape: 31 MiB and 6.3 MB at this cap (measured with ten Consumers of 1,000 instances).
const DefaultMaxInstanceSeries = 10000

// instanceLabels name one instance. The instance is labelled deployment, as kube-state-metrics labels its
// Deployment series, so the two join; "instance" is the label Prometheus gives every scrape target.
var instanceLabels = []string{"namespace", "consumer", "deployment"}

// InstanceMetrics are the per-instance series, published from each plan's figures (model.Plan.Instances). Their
// number is bounded: at most Max instances have series, the first come keeping theirs; the others are counted
// in Dropped. The series of an instance go when a plan no longer names it, and all of an owner's go with it.
type InstanceMetrics struct {
	Lag      *prometheus.GaugeVec
	Lagging  *prometheus.GaugeVec
	State    *prometheus.GaugeVec
	Requests *prometheus.GaugeVec
	Dropped  prometheus.Gauge
	// Max is the most instances with series, over all owners; 0 or less gives none at all.
	Max int

	mu        sync.Mutex
	owners    map[ownerKey]*ownerSeries
	published int // instances with series
	dropped   int // instances without series because of Max
	warned    bool
}

type ownerKey struct{ namespace, name string }

// ownerSeries are the instances of one owner that have series, and how many of its instances have none.
type ownerSeries struct {
	instances map[string]*publishedInstance
	dropped   int
}

// publishedInstance remembers the label values of an instance's series, so that each can be deleted exactly:
// a partial-match delete walks every series of the metric.
type publishedInstance struct {
	state    string
	requests []requestKey
	lag      bool
}

type requestKey struct{ container, resource string }

func newInstanceMetrics(max int) *InstanceMetrics {
	return &InstanceMetrics{
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "konsumerator_instance_lag_seconds",
			Help: "Time the instance's worst partition takes to work off its backlog at the current throughput (+Inf: nothing is consumed); no series while unknown.",
		}, instanceLabels),
		Lagging: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "konsumerator_instance_lagging",
			Help: "1 when the instance's lag reaches tolerableLag, else 0; keeps its last value while the lag is unknown.",
		}, instanceLabels),
		State: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "konsumerator_instance_scaling_state",
			Help: "1 for the instance's scaling state (running, pending_scale_up, pending_scale_down); one series per instance.",
		}, append(instanceLabels[:3:3], "state")),
		Requests: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "konsumerator_instance_resource_requests",
			Help: "Requests of each container of the instance as the operator decided them: cpu in cores, memory in bytes.",
		}, append(instanceLabels[:3:3], "container", "resource")),
		Dropped: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "konsumerator_instance_metrics_dropped",
			Help: "Instances that have no per-instance series because --metrics-max-instances is reached.",
		}),
		Max:    max,
		owners: map[ownerKey]*ownerSeries{},
	}
}

func (m *InstanceMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Lag, m.Lagging, m.State, m.Requests, m.Dropped}
}

// publish sets the series of one owner's instances from its plan. figures nil means the plan could not look at
// the instances: nothing was written, so their requests and states stand, and only the lag becomes unknown.
// Instances whose write failed keep the requests they had.
func (m *InstanceMetrics) publish(log logr.Logger, namespace, name string, figures []model.InstanceFigures, failed map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := ownerKey{namespace, name}
	o := m.owners[key]
	if o == nil {
		o = &ownerSeries{instances: map[string]*publishedInstance{}}
		m.owners[key] = o
	}
	if figures == nil {
		for dep, p := range o.instances {
			if p.lag {
				m.Lag.DeleteLabelValues(namespace, name, dep)
				p.lag = false
			}
		}
		return
	}

	// The owner keeps the room it has; new instances get what is left under Max.
	room := max(0, m.Max-(m.published-len(o.instances)))
	admitted := figures[:min(len(figures), room)]
	keep := make(map[string]bool, len(admitted))
	for _, f := range admitted {
		keep[f.Name] = true
	}
	for dep, p := range o.instances {
		if !keep[dep] {
			m.deleteInstance(namespace, name, dep, p)
			delete(o.instances, dep)
			m.published--
		}
	}
	for i := range admitted {
		f := &admitted[i]
		p := o.instances[f.Name]
		if p == nil {
			if failed[f.Name] {
				continue // its create failed: it does not exist
			}
			p = &publishedInstance{}
			o.instances[f.Name] = p
			m.published++
		}
		m.setInstance(namespace, name, f, p, failed[f.Name])
	}

	m.dropped += len(figures) - len(admitted) - o.dropped
	o.dropped = len(figures) - len(admitted)
	m.Dropped.Set(float64(m.dropped))
	if o.dropped > 0 && !m.warned {
		m.warned = true
		log.Info("per-instance metrics reached --metrics-max-instances: further instances have none; konsumerator_instance_metrics_dropped counts them",
			"max", m.Max, "namespace", namespace, "consumer", name, "withoutSeries", o.dropped)
	}
	if len(o.instances) == 0 && o.dropped == 0 {
		delete(m.owners, key)
	}
}

// setInstance sets one instance's series and deletes those whose labels changed. writeFailed leaves the state
// and the requests as they are: the write that would have changed them did not happen.
func (m *InstanceMetrics) setInstance(namespace, name string, f *model.InstanceFigures, p *publishedInstance, writeFailed bool) {
	dep := f.Name
	if f.Lag != nil {
		m.Lag.WithLabelValues(namespace, name, dep).Set(*f.Lag)
		p.lag = true
	} else if p.lag {
		m.Lag.DeleteLabelValues(namespace, name, dep)
		p.lag = false
	}
	// An unknown lagging keeps its last value, as the Consumer's LAGGING count does: unknown is not "not lagging".
	if f.Lagging != nil {
		v := 0.0
		if *f.Lagging {
			v = 1
		}
		m.Lagging.WithLabelValues(namespace, name, dep).Set(v)
	}
	if writeFailed {
		return
	}
	if state := strings.ToLower(f.ScalingState); p.state != state {
		if p.state != "" {
			m.State.DeleteLabelValues(namespace, name, dep, p.state)
		}
		if state != "" {
			m.State.WithLabelValues(namespace, name, dep, state).Set(1)
		}
		p.state = state
	}
	next := make([]requestKey, len(f.Requests))
	for i, r := range f.Requests {
		next[i] = requestKey{r.Container, string(r.Resource)}
		m.Requests.WithLabelValues(namespace, name, dep, r.Container, string(r.Resource)).Set(r.Value)
	}
	for _, old := range p.requests {
		if !containsKey(next, old) {
			m.Requests.DeleteLabelValues(namespace, name, dep, old.container, old.resource)
		}
	}
	p.requests = next
}

func (m *InstanceMetrics) deleteInstance(namespace, name, dep string, p *publishedInstance) {
	m.Lag.DeleteLabelValues(namespace, name, dep)
	m.Lagging.DeleteLabelValues(namespace, name, dep)
	if p.state != "" {
		m.State.DeleteLabelValues(namespace, name, dep, p.state)
	}
	for _, r := range p.requests {
		m.Requests.DeleteLabelValues(namespace, name, dep, r.container, r.resource)
	}
}

// forget deletes every series of a deleted owner and gives its room back.
func (m *InstanceMetrics) forget(namespace, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := ownerKey{namespace, name}
	o := m.owners[key]
	if o == nil {
		return
	}
	for dep, p := range o.instances {
		m.deleteInstance(namespace, name, dep, p)
	}
	m.published -= len(o.instances)
	m.dropped -= o.dropped
	m.Dropped.Set(float64(m.dropped))
	delete(m.owners, key)
}

func containsKey(keys []requestKey, k requestKey) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}
