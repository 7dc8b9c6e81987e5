package planner

import (
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
)

// memo keeps what many instances of one plan share, so that it is computed once per plan: instances' sizes are
// quantised by cpuIncrement, so a thousand instances have a handful of distinct sizes, env texts and hashes.
// It decides nothing: switched off, every lookup computes afresh and the plan is byte-identical (a test holds
// it to that). Cached values are shared between instances and never changed.
type memo struct {
	on        bool
	sizes     map[sizeKey][]corev1.ResourceRequirements
	fallback  map[bool][]corev1.ResourceRequirements
	digests   map[*corev1.ResourceRequirements]string // resourcesDigest by the first element of a sizes slice
	texts     map[*corev1.ResourceRequirements]string // AnnotationResources values, the same way
	resources map[*corev1.ResourceRequirements]*corev1ac.ResourceRequirementsApplyConfiguration
	// podTargets are the pods' resize targets by their contents (podTargetKey).
	podTargets map[string]corev1.ResourceRequirements
	env        *envCache // GOMAXPROCS and GOMEMLIMIT texts; nil formats every time

	scratch []corev1.EnvVar               // reused for the env of one container at a time
	current []corev1.ResourceRequirements // backing store of every instance's current resources
}

type sizeKey struct {
	estimate int64
	critical bool
}

func newMemo(on bool) memo {
	if !on {
		return memo{}
	}
	return memo{
		on:       true,
		sizes:    map[sizeKey][]corev1.ResourceRequirements{},
		fallback: map[bool][]corev1.ResourceRequirements{},
		digests:  map[*corev1.ResourceRequirements]string{},
		env:      newEnvCache(),
	}
}

// cached returns m[k], computing and storing it when absent; with the memo off it only computes.
func cached[K comparable, V any](on bool, m map[K]V, k K, compute func() V) V {
	if !on {
		return compute()
	}
	if v, ok := m[k]; ok {
		return v
	}
	v := compute()
	m[k] = v
	return v
}

func (m *memo) targetSizes(k sizeKey, compute func() []corev1.ResourceRequirements) []corev1.ResourceRequirements {
	return cached(m.on, m.sizes, k, compute)
}

func (m *memo) fallbackSizes(useMax bool, compute func() []corev1.ResourceRequirements) []corev1.ResourceRequirements {
	return cached(m.on, m.fallback, useMax, compute)
}

// digest caches by the address of res[0]: the sizes slices are shared and never changed.
func (m *memo) digest(res []corev1.ResourceRequirements, compute func() string) string {
	if len(res) == 0 {
		return compute()
	}
	return cached(m.on, m.digests, &res[0], compute)
}

// resourcesText caches the AnnotationResources value of a sizes slice by its first element, like digest.
func (m *memo) resourcesText(res []corev1.ResourceRequirements, compute func() string) string {
	if len(res) == 0 {
		return compute()
	}
	if m.on && m.texts == nil {
		m.texts = map[*corev1.ResourceRequirements]string{}
	}
	return cached(m.on, m.texts, &res[0], compute)
}

// resourcesApply is container i's decided resources as an apply configuration, shared by every instance with
// the same decided slice.
func (m *memo) resourcesApply(decided []corev1.ResourceRequirements, i int) *corev1ac.ResourceRequirementsApplyConfiguration {
	if m.on && m.resources == nil { // made at first use: a plan that writes nothing needs none
		m.resources = map[*corev1.ResourceRequirements]*corev1ac.ResourceRequirementsApplyConfiguration{}
	}
	return cached(m.on, m.resources, &decided[i], func() *corev1ac.ResourceRequirementsApplyConfiguration {
		return resourcesApply(decided[i])
	})
}

// podTarget returns a resize target equal to r: the first one of the plan with its contents. The pods of a
// Consumer usually all get one target, and a plan that resizes 1,000 pods then holds one pair of lists instead
// of a thousand (3 MB of the operator's heap while the resizes go out).
func (m *memo) podTarget(r corev1.ResourceRequirements) corev1.ResourceRequirements {
	if !m.on || len(r.Claims) > 0 {
		return r
	}
	if m.podTargets == nil { // made at first use: most plans resize nothing
		m.podTargets = map[string]corev1.ResourceRequirements{}
	}
	return cached(m.on, m.podTargets, podTargetKey(r), func() corev1.ResourceRequirements { return r })
}

// podTargetKey writes r's lists out, names in order, quantities canonical; a nil list and an empty one differ,
// as they do in the patch.
func podTargetKey(r corev1.ResourceRequirements) string {
	var b strings.Builder
	for _, l := range []corev1.ResourceList{r.Requests, r.Limits} {
		if l == nil {
			b.WriteString("nil")
		}
		for _, name := range slices.Sorted(maps.Keys(l)) {
			q := l[name]
			b.WriteString(string(name))
			b.WriteByte('=')
			b.WriteString(q.String())
			b.WriteByte(' ')
		}
		b.WriteByte('|')
	}
	return b.String()
}

// envBuffer is the buffer to build one container's env in: the reused scratch, or nil with the memo off.
func (m *memo) envBuffer() *[]corev1.EnvVar {
	if !m.on {
		return new([]corev1.EnvVar)
	}
	return &m.scratch
}

// reserveCurrent allocates the current resources of every instance at once.
func (m *memo) reserveCurrent(n int) {
	if m.on {
		m.current = make([]corev1.ResourceRequirements, n)
	}
}

// currentSlot is instance index's share of the current resources, n containers long.
func (m *memo) currentSlot(index, n int) []corev1.ResourceRequirements {
	if !m.on {
		return make([]corev1.ResourceRequirements, n)
	}
	return m.current[index*n : (index+1)*n : (index+1)*n]
}
