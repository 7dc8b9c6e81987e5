package planner

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// maxPartitions bounds numPartitions as the API does, so that garbage input cannot make the planner allocate
// without limit.
const maxPartitions = 100000

// maxMilli caps CPU figures (in millicores) so that arithmetic on absurd rates cannot overflow.
const maxMilli = int64(1) << 40

// settings is the spec with defaults applied and every number made safe to compute with.
type settings struct {
	spec      konsumeratorv1.ConsumerSpec
	namespace string
	name      string

	numPartitions int32
	perInstance   int32

	partitionEnvKey string

	autoscale        bool
	pendingUp        time.Duration
	pendingDown      time.Duration
	staleAfter       time.Duration
	ratePerCore      float64
	ramPerCoreBytes  int64
	cpuIncrementMill int64
	tolerableLag     time.Duration // 0: nothing counts as lagging
	criticalLag      time.Duration // 0: no critical lag
	recovery         time.Duration
	fallbackMax      bool
	memFormat        resource.Format

	policies map[string]containerPolicy
	budget   map[corev1.ResourceName]int64 // global maxAllowed in milli-units (cpu) or bytes (memory)

	// frozen is set by the owner's disable-autoscaler annotation.
	frozen bool

	// unknownPolicies are container policies naming no container of the template: accepted, as the original
	// did, but reported, since a typo there silently leaves a container unbounded.
	unknownPolicies []string
}

// containerPolicy is a container's policy in plain numbers; a missing bound is absent from the map.
type containerPolicy struct {
	off bool
	min map[corev1.ResourceName]int64
	max map[corev1.ResourceName]int64
}

// scaled returns a quantity in the unit the planner computes with: millicores for cpu, bytes (rounded up) for
// everything else.
func scaled(name corev1.ResourceName, q resource.Quantity) int64 {
	if name == corev1.ResourceCPU {
		return q.MilliValue()
	}
	return q.Value()
}

// quantity builds a canonical quantity; memory is written in the format of ramPerCore (100M stays decimal,
// 1Gi stays binary) so that the numbers read like the spec.
func (st *settings) quantity(name corev1.ResourceName, v int64) resource.Quantity {
	if name == corev1.ResourceCPU {
		return *resource.NewMilliQuantity(v, resource.DecimalSI)
	}
	format := st.memFormat
	if v%1024 != 0 {
		format = resource.DecimalSI // plain digits would read back as decimal anyway
	}
	return *resource.NewQuantity(v, format)
}

// newSettings validates the spec; a non-empty reason and message explain why nothing can be planned.
func newSettings(s *model.Snapshot) (*settings, string, string) {
	if s.SpecError != "" {
		return nil, konsumeratorv1.ReasonInvalidSpec, truncate(s.SpecError, maxMessage)
	}
	spec := WithDefaults(s.Spec)
	st := &settings{spec: spec, name: spec.Name, partitionEnvKey: spec.PartitionEnvKey, memFormat: resource.BinarySI}

	st.namespace = s.Owner.Namespace
	if spec.Namespace != "" && spec.Namespace != s.Owner.Namespace {
		return nil, konsumeratorv1.ReasonNamespaceMismatch, fmt.Sprintf(
			"spec.namespace %q differs from the owner's namespace %q: instances must live beside their owner",
			spec.Namespace, s.Owner.Namespace)
	}
	if problems := validateSpec(&spec); len(problems) > 0 {
		return nil, konsumeratorv1.ReasonInvalidSpec, summarize("invalid spec", problems, 5)
	}
	st.numPartitions = spec.NumPartitions
	st.perInstance = *spec.NumPartitionsPerInstance
	if st.perInstance < 1 {
		st.perInstance = 1
	}
	st.policies = policiesOf(spec.ResourcePolicy)
	if rp := spec.ResourcePolicy; rp != nil {
		for _, cp := range rp.ContainerPolicies {
			if findContainer(spec.DeploymentTemplate.Template.Spec.Containers, cp.ContainerName) == nil {
				st.unknownPolicies = append(st.unknownPolicies, cp.ContainerName)
			}
		}
		sort.Strings(st.unknownPolicies)
	}
	if rp := spec.ResourcePolicy; rp != nil && rp.GlobalPolicy != nil {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := rp.GlobalPolicy.MaxAllowed[name]; ok {
				if st.budget == nil {
					st.budget = map[corev1.ResourceName]int64{}
				}
				st.budget[name] = max(0, scaled(name, q))
			}
		}
	}
	_, st.frozen = s.Owner.Annotations[konsumeratorv1.AnnotationDisableAutoscaler]
	st.readAutoscaler(spec.Autoscaler, s.Options)
	return st, "", ""
}

func (st *settings) readAutoscaler(a *konsumeratorv1.AutoscalerSpec, opts model.Options) {
	// The one place sizing settings are read, whatever the source.
	p := a.Sizing()
	if p == nil {
		return
	}
	st.autoscale = true
	st.pendingUp = nonNegative(a.PendingScaleUpDuration.Duration)
	st.pendingDown = nonNegative(a.PendingScaleDownDuration.Duration)
	minSync := DefaultMinSyncPeriod
	if d := a.MinSyncPeriod(); d != nil && d.Duration > 0 {
		minSync = d.Duration
	}
	st.staleAfter = time.Duration(opts.MetricsStaleAfter)
	if st.staleAfter <= 0 {
		st.staleAfter = DefaultStaleFactor * minSync
	}
	st.ratePerCore = 1
	if p.RatePerCore != nil && *p.RatePerCore > 0 {
		st.ratePerCore = float64(*p.RatePerCore)
	}
	st.ramPerCoreBytes = max(0, p.RamPerCore.Value())
	if p.RamPerCore.Format == resource.DecimalSI {
		st.memFormat = resource.DecimalSI
	}
	st.cpuIncrementMill = p.CpuIncrement.MilliValue()
	if st.cpuIncrementMill <= 0 {
		st.cpuIncrementMill = 100
	}
	if p.TolerableLag != nil {
		st.tolerableLag = nonNegative(p.TolerableLag.Duration)
	}
	if p.CriticalLag != nil {
		st.criticalLag = nonNegative(p.CriticalLag.Duration)
	}
	if p.RecoveryTime != nil {
		st.recovery = nonNegative(p.RecoveryTime.Duration)
	}
	st.fallbackMax = p.FallbackStrategy != nil && *p.FallbackStrategy == konsumeratorv1.FallbackStrategyMax
}

func nonNegative(d time.Duration) time.Duration { return max(0, d) }

// validateSpec catches what the API server would reject, for specs that never passed through it (guest mode,
// offline plans) and for garbage: each problem is one stable text.
func validateSpec(spec *konsumeratorv1.ConsumerSpec) []string {
	var problems []string
	if spec.NumPartitions < 1 || spec.NumPartitions > maxPartitions {
		problems = append(problems, fmt.Sprintf("numPartitions must be in [1, %d]", maxPartitions))
	}
	if k := spec.NumPartitionsPerInstance; k != nil && *k < 1 {
		problems = append(problems, "numPartitionsPerInstance must be at least 1")
	}
	if errs := validation.IsDNS1123Label(spec.Name); len(errs) > 0 || len(spec.Name) > 57 {
		problems = append(problems, "name must be a DNS label of at most 57 characters")
	}
	if len(spec.DeploymentTemplate.Template.Spec.Containers) == 0 {
		problems = append(problems, "deploymentTemplate has no containers")
	}
	seen := map[string]bool{}
	for _, c := range spec.DeploymentTemplate.Template.Spec.Containers {
		if c.Name == "" || seen[c.Name] {
			problems = append(problems, "container names must be set and unique")
			break
		}
		seen[c.Name] = true
		for name, req := range c.Resources.Requests {
			if lim, ok := c.Resources.Limits[name]; ok && req.Cmp(lim) > 0 {
				problems = append(problems, fmt.Sprintf("container %s: the %s request is above its limit", c.Name, name))
			}
		}
	}
	if r := spec.DeploymentTemplate.Replicas; r != nil && *r < 0 {
		problems = append(problems, "replicas must not be negative")
	}
	if sel := spec.DeploymentTemplate.Selector; sel != nil {
		labels := spec.DeploymentTemplate.Template.Labels
		for k, v := range sel.MatchLabels {
			if labels[k] != v {
				problems = append(problems, "selector.matchLabels must match the template's labels")
				break
			}
		}
	}
	if errs := validation.IsEnvVarName(spec.PartitionEnvKey); len(errs) > 0 {
		problems = append(problems, "partitionEnvKey must be a valid environment variable name")
	}
	for _, own := range []string{konsumeratorv1.EnvNumPartitions, konsumeratorv1.EnvInstance,
		konsumeratorv1.EnvNumInstances, konsumeratorv1.EnvGOMAXPROCS, konsumeratorv1.EnvGOMEMLIMIT} {
		if spec.PartitionEnvKey == own {
			problems = append(problems, "partitionEnvKey must not be one of the variables the operator sets itself")
		}
	}
	if a := spec.Autoscaler; a != nil && slices.Contains(konsumeratorv1.AutoscalerTypes, a.Mode) {
		if p := a.Sizing(); p == nil {
			problems = append(problems, fmt.Sprintf("autoscaler.%s is required when mode is %s", a.Mode, a.Mode))
		} else if p.RamPerCore.Sign() <= 0 {
			problems = append(problems, "ramPerCore must be positive")
		}
	}
	sort.Strings(problems)
	return problems
}

func policiesOf(rp *konsumeratorv1.ResourcePolicy) map[string]containerPolicy {
	out := map[string]containerPolicy{}
	if rp == nil {
		return out
	}
	for _, cp := range rp.ContainerPolicies {
		if _, dup := out[cp.ContainerName]; dup {
			continue // the API makes names unique; the first one wins otherwise
		}
		p := containerPolicy{
			off: cp.Mode != nil && *cp.Mode == konsumeratorv1.ContainerScalingModeOff,
			min: map[corev1.ResourceName]int64{},
			max: map[corev1.ResourceName]int64{},
		}
		for name, q := range cp.MinAllowed {
			p.min[name] = max(0, scaled(name, q))
		}
		for name, q := range cp.MaxAllowed {
			if v := scaled(name, q); v > 0 {
				p.max[name] = v
			}
		}
		out[cp.ContainerName] = p
	}
	return out
}

const maxMessage = 512

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// summarize joins at most limit items after a prefix, saying how many were left out.
func summarize(prefix string, items []string, limit int) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteString(": ")
	for i, it := range items {
		if i == limit {
			fmt.Fprintf(&b, " (and %d more)", len(items)-limit)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(truncate(it, 200))
	}
	return b.String()
}

// finite reports whether f is a usable number.
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
