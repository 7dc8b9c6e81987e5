package planner

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// The spec hash has three parts, "<pod>-<resources>-<deployment>":
//
//   - pod: the pod template without resources, plus everything the operator injects that does not depend on
//     resources (labels, partition env, instance env);
//   - resources: every container's requests and limits, as set (GOMAXPROCS and GOMEMLIMIT follow from them);
//   - deployment: the rest of the Deployment spec (strategy, selector, replicas…) and the instance's labels.
//
// A change of the first two restarts pods; a change of the last does not. Keeping the resources part apart also
// tells whether the resources on a live object are the ones the operator set, so a manual edit is caught.
// Every part is SHA-256 over a length-prefixed encoding of canonical texts (JSON with sorted map keys, canonical
// quantities), which does not depend on Go's map order or version.
const hashVersion = "v1"

type hasher struct{ buf []byte }

func (h *hasher) str(s string) {
	h.buf = binary.AppendUvarint(h.buf, uint64(len(s)))
	h.buf = append(h.buf, s...)
}

func (h *hasher) num(v int64) { h.buf = binary.AppendVarint(h.buf, v) }

func (h *hasher) sum(n int) string {
	s := sha256.Sum256(h.buf)
	return hex.EncodeToString(s[:n/2])
}

// digestJSON is the SHA-256 of v's JSON: encoding/json writes struct fields in declaration order and map keys
// sorted, so equal values give equal bytes.
func digestJSON(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		return "unhashable"
	}
	s := sha256.Sum256(raw)
	return string(s[:])
}

// templateDigests computes, once per plan, the digests of the parts of the template shared by all instances.
func templateDigests(spec *appsv1.DeploymentSpec) (pod, deployment string) {
	tmpl := spec.Template.DeepCopy()
	for i := range tmpl.Spec.InitContainers {
		tmpl.Spec.InitContainers[i].Resources = corev1.ResourceRequirements{}
	}
	for i := range tmpl.Spec.Containers {
		tmpl.Spec.Containers[i].Resources = corev1.ResourceRequirements{}
	}
	rest := spec.DeepCopy()
	rest.Template = corev1.PodTemplateSpec{}
	rest.Replicas = nil
	return digestJSON(tmpl), digestJSON(rest)
}

// resourcesDigest hashes named containers' resources; names and resources are in the given order.
func resourcesDigest(names []string, res []corev1.ResourceRequirements) string {
	h := hasher{buf: make([]byte, 0, 256)}
	h.str(hashVersion)
	for i, name := range names {
		h.str(name)
		writeList(&h, effectiveRequests(res[i]))
		h.str("|")
		writeList(&h, res[i].Limits)
	}
	return h.sum(8)
}

// writeList writes cpu and memory first (no allocation in the common case), then any other resource sorted.
func writeList(h *hasher, l corev1.ResourceList) {
	common := 0
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := l[name]; ok {
			h.str(string(name))
			h.quantity(&q)
			common++
		}
	}
	if len(l) == common {
		return
	}
	keys := make([]string, 0, len(l))
	for k := range l {
		if k != corev1.ResourceCPU && k != corev1.ResourceMemory {
			keys = append(keys, string(k))
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		q := l[corev1.ResourceName(k)]
		h.str(k)
		h.quantity(&q)
	}
}

// specHash is the value of AnnotationSpecHash.
type specHash struct{ pod, resources, deployment, full string }

func (s specHash) String() string {
	if s.full != "" {
		return s.full
	}
	return s.pod + "-" + s.resources + "-" + s.deployment
}

// parseSpecHash splits an annotation value; ok is false for anything not written by this planner.
func parseSpecHash(v string) (specHash, bool) {
	if len(v) != 12+1+8+1+8 || v[12] != '-' || v[21] != '-' || strings.Count(v, "-") != 2 {
		return specHash{}, false
	}
	return specHash{pod: v[:12], resources: v[13:21], deployment: v[22:], full: v}, true
}

// effectiveRequests are the requests as the API server stores them: a resource with a limit and no request gets
// the limit as its request. Hashing these keeps the hash of a live object equal to the hash of what was applied.
func effectiveRequests(r corev1.ResourceRequirements) corev1.ResourceList {
	missing := false
	for name := range r.Limits {
		if _, ok := r.Requests[name]; !ok {
			missing = true
			break
		}
	}
	if !missing {
		return r.Requests
	}
	out := make(corev1.ResourceList, len(r.Limits)+len(r.Requests))
	for k, v := range r.Limits {
		out[k] = v
	}
	for k, v := range r.Requests {
		out[k] = v
	}
	return out
}

// quantity writes a quantity's value independent of how it is written: "1Gi", "1073741824" and "1024Mi" are the same.
// (String is not enough: a binary-format quantity that is not a multiple of 1Ki prints as plain digits but
// parses back as decimal "100M".)
func (h *hasher) quantity(q *resource.Quantity) {
	m := q.MilliValue()
	if resource.NewMilliQuantity(m, resource.DecimalSI).Cmp(*q) == 0 {
		var buf [24]byte
		b := strconv.AppendInt(buf[:0], m, 10)
		h.buf = binary.AppendUvarint(h.buf, uint64(len(b)+1))
		h.buf = append(append(h.buf, b...), 'm')
		return
	}
	h.str(q.AsDec().String())
}
