package controller

import (
	"strings"
	"sync"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/konsumerator/konsumerator/model"
)

// DefaultMaxInstanceSeries is how many instances get per-instance series unless --metrics-max-instances says
// otherwise. With one container an instance has five series: about 200 bytes of the operator's heap between
// scrapes, and per scrape about 1.8 KiB allocated and 650 bytes of text (BenchmarkInstanceSeriesMemory, ten
// Consumers of 1,000 instances).
const DefaultMaxInstanceSeries = 10000

// instanceLabels name one instance. The instance is labelled deployment, as kube-state-metrics labels its
// Deployment series, so the two join; "instance" is the label Prometheus gives every scrape target.
var instanceLabels = []string{"namespace", "consumer", "deployment"}

// InstanceMetrics are the per-instance series, published from each plan's figures (model.Plan.Instances). Their
// number is bounded: at most Max instances have series, the first come keeping theirs; the others are counted
// in Dropped. The series of an instance go when a plan no longer names it, and all of an owner's go with it.
//
// The values are kept in a compact table and turned into series only when scraped (a prometheus.Collector):
// a gauge vector keeps every series as a prepared protobuf with its own copy of each label, about 3 KiB per
// instance, which at 5,000 instances was a third of the operator's heap.
type InstanceMetrics struct {
	Dropped prometheus.Gauge
	// Max is the most instances with series, over all owners; 0 or less gives none at all.
	Max int

	lag, lagging, state, requests *prometheus.Desc

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

// publishedInstance is what one instance's series say.
type publishedInstance struct {
	lag        float64
	hasLag     bool // no series while the lag is unknown
	lagging    bool
	hasLagging bool // an unknown lagging keeps its last value
	state      string
	requests   []publishedRequest
}

type publishedRequest struct {
	container, resource string
	value               float64
}

func newInstanceMetrics(max int) *InstanceMetrics {
	return &InstanceMetrics{
		lag: prometheus.NewDesc("konsumerator_instance_lag_seconds",
			"Time the instance's worst partition takes to work off its backlog at the current throughput (+Inf: nothing is consumed); no series while unknown.",
			instanceLabels, nil),
		lagging: prometheus.NewDesc("konsumerator_instance_lagging",
			"1 when the instance's lag reaches tolerableLag, else 0; keeps its last value while the lag is unknown.",
			instanceLabels, nil),
		state: prometheus.NewDesc("konsumerator_instance_scaling_state",
			"1 for the instance's scaling state (running, pending_scale_up, pending_scale_down); one series per instance.",
			append(instanceLabels[:3:3], "state"), nil),
		requests: prometheus.NewDesc("konsumerator_instance_resource_requests",
			"Requests of each container of the instance as the operator decided them: cpu in cores, memory in bytes.",
			append(instanceLabels[:3:3], "container", "resource"), nil),
		Dropped: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "konsumerator_instance_metrics_dropped",
			Help: "Instances that have no per-instance series because --metrics-max-instances is reached.",
		}),
		Max:    max,
		owners: map[ownerKey]*ownerSeries{},
	}
}

func (m *InstanceMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m, m.Dropped}
}

// Describe implements prometheus.Collector.
func (m *InstanceMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.lag
	ch <- m.lagging
	ch <- m.state
	ch <- m.requests
}

// Collect implements prometheus.Collector: the series of every published instance, made at scrape time. A
// scrape holds every series at once, so they share their label pairs: an owner's namespace and name, an
// instance's name, and each state, container and resource once per scrape.
func (m *InstanceMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pairs := labelPairs{}
	for key, o := range m.owners {
		namespace, consumer := pairs.get("namespace", key.namespace), pairs.get("consumer", key.name)
		for dep, p := range o.instances {
			deployment := newLabelPair("deployment", dep)
			// Label pairs in name order, as the registry compares them with the descriptor's.
			instance := []*dto.LabelPair{consumer, deployment, namespace}
			if p.hasLag {
				ch <- &gaugeSample{m.lag, instance, p.lag}
			}
			if p.hasLagging {
				ch <- &gaugeSample{m.lagging, instance, boolValue(p.lagging)}
			}
			if p.state != "" {
				ch <- &gaugeSample{m.state, []*dto.LabelPair{consumer, deployment, namespace, pairs.get("state", p.state)}, 1}
			}
			for _, r := range p.requests {
				ch <- &gaugeSample{m.requests, []*dto.LabelPair{consumer, pairs.get("container", r.container), deployment,
					namespace, pairs.get("resource", r.resource)}, r.value}
			}
		}
	}
}

// gaugeSample is one series of a scrape; its label pairs are shared and never changed.
type gaugeSample struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	value  float64
}

func (g *gaugeSample) Desc() *prometheus.Desc { return g.desc }

func (g *gaugeSample) Write(out *dto.Metric) error {
	out.Label = g.labels
	out.Gauge = &dto.Gauge{Value: &g.value}
	return nil
}

// labelPairs interns the label pairs of one scrape.
type labelPairs map[[2]string]*dto.LabelPair

func (l labelPairs) get(name, value string) *dto.LabelPair {
	k := [2]string{name, value}
	p := l[k]
	if p == nil {
		p = newLabelPair(name, value)
		l[k] = p
	}
	return p
}

func newLabelPair(name, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: &name, Value: &value}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
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
		for _, p := range o.instances {
			p.hasLag = false
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
	for dep := range o.instances {
		if !keep[dep] {
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
		setInstance(f, p, failed[f.Name])
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

// setInstance sets what one instance's series say. writeFailed leaves the state and the requests as they are:
// the write that would have changed them did not happen.
func setInstance(f *model.InstanceFigures, p *publishedInstance, writeFailed bool) {
	p.hasLag = f.Lag != nil
	if p.hasLag {
		p.lag = *f.Lag
	}
	// An unknown lagging keeps its last value, as the Consumer's LAGGING count does: unknown is not "not lagging".
	if f.Lagging != nil {
		p.lagging, p.hasLagging = *f.Lagging, true
	}
	if writeFailed {
		return
	}
	p.state = strings.ToLower(f.ScalingState)
	p.requests = p.requests[:0]
	for _, r := range f.Requests {
		p.requests = append(p.requests, publishedRequest{r.Container, string(r.Resource), r.Value})
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
	m.published -= len(o.instances)
	m.dropped -= o.dropped
	m.Dropped.Set(float64(m.dropped))
	delete(m.owners, key)
}
