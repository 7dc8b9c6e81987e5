package observer

import (
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// maxInternedLists bounds the lists an Interner remembers. Sizes are decided in steps, so a cluster's instances
// share a few hundred at most; a table that fills up starts again empty, and the objects already cached keep
// the maps they hold.
const maxInternedLists = 4096

// Interner shares one map among the equal ResourceLists of the objects the cache holds. A Go map costs about
// 700 bytes however few entries it has (room for eight), a pod carries five lists (its container's requests and
// limits, and the kubelet's copy of each and of what it allocated) and an instance's Deployment two, and the
// pods of an instance, usually all the instances of a Consumer, have the same ones. Sharing is safe for the
// same reason snapshots may share the cache's objects: nothing writes them (the planner's fuzzed invariant and
// the applier's checked tests), and a reader that asks the cache for a copy gets maps of its own.
type Interner struct {
	mu    sync.Mutex
	lists map[string]corev1.ResourceList
}

// List returns a list equal to l, the one already seen when there is one. Equal means the same names with the
// same quantities as the API server writes them (canonical), so that nothing a reader can see changes.
func (in *Interner) List(l corev1.ResourceList) corev1.ResourceList {
	if len(l) == 0 {
		return l
	}
	key := listKey(l)
	in.mu.Lock()
	defer in.mu.Unlock()
	if shared, ok := in.lists[key]; ok {
		return shared
	}
	if in.lists == nil || len(in.lists) >= maxInternedLists {
		in.lists = make(map[string]corev1.ResourceList)
	}
	in.lists[key] = l
	return l
}

// Requirements interns both lists of r (its claims are left as they are: they are rare and small).
func (in *Interner) Requirements(r corev1.ResourceRequirements) corev1.ResourceRequirements {
	r.Requests = in.List(r.Requests)
	r.Limits = in.List(r.Limits)
	return r
}

// listKey is l written out in the order of its names, each quantity in its canonical form.
func listKey(l corev1.ResourceList) string {
	names := make([]corev1.ResourceName, 0, len(l))
	for name := range l {
		names = append(names, name)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, name := range names {
		q := l[name]
		b.WriteString(string(name))
		b.WriteByte('=')
		b.WriteString(q.String())
		b.WriteByte(' ')
	}
	return b.String()
}
