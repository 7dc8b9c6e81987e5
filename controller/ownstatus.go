package controller

import (
	"encoding/json"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// writtenStatuses remembers, per owner, the status this operator last wrote and the version of the owner it was
// written over. A pass that comes before the cache has seen that write (its watch event still on the way, as
// when the API server is busy) then starts from the status the API server holds, not from the one the write
// replaced: it would otherwise write the same status again, and announce the same condition changes again.
// An entry lives until the cache holds another version of the owner.
type writtenStatuses struct {
	mu      sync.Mutex
	byOwner map[types.NamespacedName]writtenStatus
}

type writtenStatus struct {
	over   string // resourceVersion of the owner the status was written over
	status konsumeratorv1.ConsumerStatus
}

// current is the status a pass starts from, given the owner's cached version and status.
func (w *writtenStatuses) current(key types.NamespacedName, cachedVersion string, cached konsumeratorv1.ConsumerStatus) konsumeratorv1.ConsumerStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.byOwner[key]
	if !ok {
		return cached
	}
	if e.over == cachedVersion {
		return *e.status.DeepCopy()
	}
	delete(w.byOwner, key) // the cache has caught up (or someone else wrote since): it is the truth again
	return cached
}

// record notes a status written over the owner's cachedVersion. It keeps the status as the API server stores
// it (through JSON: times in whole seconds), so that a pass starting from it sees what the cache will hold.
func (w *writtenStatuses) record(key types.NamespacedName, cachedVersion string, status konsumeratorv1.ConsumerStatus) {
	stored := status
	if raw, err := json.Marshal(status); err == nil {
		var decoded konsumeratorv1.ConsumerStatus
		if json.Unmarshal(raw, &decoded) == nil {
			stored = decoded
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byOwner == nil {
		w.byOwner = map[types.NamespacedName]writtenStatus{}
	}
	w.byOwner[key] = writtenStatus{over: cachedVersion, status: stored}
}

func (w *writtenStatuses) forget(key types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.byOwner, key)
}
