package planner

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// gomemlimitPercent of the memory limit is given to the Go runtime as its soft limit, leaving room for memory
// the runtime does not account (stacks of cgo, the binary, page cache).
const gomemlimitPercent = 90

// GOMAXPROCS is max(1, ceil(cpu limit in cores)); ok is false without a CPU limit, in which case the variable is
// not set and the runtime's own default (the container's CPU quota since Go 1.25, else the node's CPUs) applies.
func GOMAXPROCS(r corev1.ResourceRequirements) (string, bool) {
	q, ok := r.Limits[corev1.ResourceCPU]
	if !ok {
		return "", false
	}
	cores := roundUp(q.MilliValue(), 1000) / 1000
	return strconv.FormatInt(max(1, cores), 10), true
}

// GOMEMLIMIT is 90% of the memory limit as a plain integer byte count (never exponent form, never MiB for MB);
// ok is false without a memory limit, and the variable is then not set.
func GOMEMLIMIT(r corev1.ResourceRequirements) (string, bool) {
	q, ok := r.Limits[corev1.ResourceMemory]
	if !ok {
		return "", false
	}
	limit := max(0, q.Value())
	// limit/100*p + the remainder part: no overflow even near MaxInt64
	v := limit/100*gomemlimitPercent + limit%100*gomemlimitPercent/100
	return strconv.FormatInt(v, 10), true
}

// instanceEnv holds the values of the variables that are the same for every container of an instance.
type instanceEnv struct {
	cache         *envCache
	partitionKey  string
	partitions    string
	numPartitions string
	instance      string
	numInstances  string
	noProcs       bool // GOMAXPROCS is not set
}

// containerEnv returns the container's env with the operator's variables first (so the user's variables may
// refer to them with $(NAME)), then the user's variables in their order, less those the operator sets itself.
func containerEnv(dst, user []corev1.EnvVar, ie *instanceEnv, res corev1.ResourceRequirements) []corev1.EnvVar {
	return ie.cache.containerEnv(dst, user, ie, res)
}

// envCache keeps the texts of GOMAXPROCS and GOMEMLIMIT by limit: instances share sizes, so most are formatted
// once per plan. A nil cache formats every time.
type envCache struct {
	procs map[int64]string // by CPU limit in millicores
	mem   map[int64]string // by memory limit in bytes
}

func newEnvCache() *envCache {
	return &envCache{procs: map[int64]string{}, mem: map[int64]string{}}
}

func (c *envCache) gomaxprocs(res corev1.ResourceRequirements) (string, bool) {
	q, ok := res.Limits[corev1.ResourceCPU]
	if !ok || c == nil {
		return GOMAXPROCS(res)
	}
	key := q.MilliValue()
	if v, ok := c.procs[key]; ok {
		return v, true
	}
	v, _ := GOMAXPROCS(res)
	c.procs[key] = v
	return v, true
}

func (c *envCache) gomemlimit(res corev1.ResourceRequirements) (string, bool) {
	q, ok := res.Limits[corev1.ResourceMemory]
	if !ok || c == nil {
		return GOMEMLIMIT(res)
	}
	key := q.Value()
	if v, ok := c.mem[key]; ok {
		return v, true
	}
	v, _ := GOMEMLIMIT(res)
	c.mem[key] = v
	return v, true
}

func (c *envCache) containerEnv(dst, user []corev1.EnvVar, ie *instanceEnv, res corev1.ResourceRequirements) []corev1.EnvVar {
	out := c.operatorEnv(dst[:0], ie, res)
	ours := len(out)
	for _, e := range user {
		if !hasEnv(out[:ours], e.Name) {
			out = append(out, e) // shared with the template, which nothing changes
		}
	}
	return out
}

// operatorEnv appends the variables the operator sets, in their order, to dst.
func operatorEnv(dst []corev1.EnvVar, ie *instanceEnv, res corev1.ResourceRequirements) []corev1.EnvVar {
	return ie.cache.operatorEnv(dst, ie, res)
}

func (c *envCache) operatorEnv(dst []corev1.EnvVar, ie *instanceEnv, res corev1.ResourceRequirements) []corev1.EnvVar {
	out := append(dst,
		corev1.EnvVar{Name: ie.partitionKey, Value: ie.partitions},
		corev1.EnvVar{Name: konsumeratorv1.EnvNumPartitions, Value: ie.numPartitions},
		corev1.EnvVar{Name: konsumeratorv1.EnvInstance, Value: ie.instance},
		corev1.EnvVar{Name: konsumeratorv1.EnvNumInstances, Value: ie.numInstances},
	)
	if v, ok := c.gomaxprocs(res); ok && !ie.noProcs {
		out = append(out, corev1.EnvVar{Name: konsumeratorv1.EnvGOMAXPROCS, Value: v})
	}
	if v, ok := c.gomemlimit(res); ok {
		out = append(out, corev1.EnvVar{Name: konsumeratorv1.EnvGOMEMLIMIT, Value: v})
	}
	return out
}

func hasEnv(env []corev1.EnvVar, name string) bool {
	for i := range env {
		if env[i].Name == name {
			return true
		}
	}
	return false
}
