// Package observer turns the cluster into a model.Snapshot: the owner of a consumer group, the Deployments it
// controls, the latest cached metrics sample, and the time. It reads and never decides.
package observer

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// MetricsSource hands out the latest metrics sample of an owner from a shared cache. It may refresh the cache,
// at most once per minSyncPeriod, and returns nil when there is no sample at all.
type MetricsSource interface {
	Sample(ctx context.Context, owner model.Owner, spec *konsumeratorv1.ConsumerSpec) *model.MetricsSample
}

// Observer builds snapshots.
type Observer struct {
	// Cache reads the informer cache, which holds only Deployments, ReplicaSets (metadata) and Pods (trimmed by
	// Transforms.Pod) labelled as managed.
	Cache client.Reader
	// Live reads the API server directly. It is used only for expected instance names that the cache does not
	// hold, to find a Deployment with that name that is not ours (or lost our label). Many missing names are
	// first narrowed down by one list of the namespace's names.
	Live client.Reader
	// Names lists the names of a namespace's Deployments (TableNames); nil lists them as metadata through Live.
	Names NameLister
	// Metrics is nil when no metrics provider is configured.
	Metrics MetricsSource
	Options model.Options
	Now     func() time.Time
	// LiveReadWorkers bounds concurrent live reads.
	LiveReadWorkers int
}

// Owned is an owner as read from the cluster: its snapshot identity and spec, before Deployments and metrics.
type Owned struct {
	Owner     model.Owner
	Spec      konsumeratorv1.ConsumerSpec
	SpecError string
	Status    konsumeratorv1.ConsumerStatus
}

// FromConsumer reads the owner fields of a Consumer.
func FromConsumer(c *konsumeratorv1.Consumer) Owned {
	return Owned{
		Owner: model.Owner{
			APIVersion:  konsumeratorv1.GroupVersion.String(),
			Kind:        model.OwnerConsumer,
			Namespace:   c.Namespace,
			Name:        c.Name,
			UID:         c.UID,
			Generation:  c.Generation,
			Annotations: c.Annotations,
		},
		Spec:   *c.Spec.DeepCopy(),
		Status: *c.Status.DeepCopy(),
	}
}

// Snapshot completes an owner with its Deployments, their ReplicaSets and Pods (unless the spec is unreadable),
// its metrics sample and the time.
func (o *Observer) Snapshot(ctx context.Context, owned Owned) (*model.Snapshot, error) {
	deployments, err := o.deployments(ctx, owned)
	if err != nil {
		return nil, err
	}
	s := &model.Snapshot{
		Now:         o.now(),
		Owner:       owned.Owner,
		Spec:        owned.Spec,
		SpecError:   owned.SpecError,
		Status:      owned.Status,
		Deployments: deployments,
		Options:     o.Options,
	}
	if readsPods(owned) {
		if s.ReplicaSets, s.Pods, err = o.podsOf(ctx, owned, deployments); err != nil {
			return nil, err
		}
	}
	if o.Metrics != nil && owned.SpecError == "" && owned.Spec.Autoscaler != nil {
		s.Metrics = o.Metrics.Sample(ctx, owned.Owner, &owned.Spec)
	}
	return s, nil
}

func (o *Observer) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

// deployments returns the owner's Deployments and any other Deployment that has an expected instance name.
func (o *Observer) deployments(ctx context.Context, owned Owned) ([]appsv1.Deployment, error) {
	var list appsv1.DeploymentList
	if err := o.Cache.List(ctx, &list,
		client.InNamespace(owned.Owner.Namespace),
		client.MatchingLabels{konsumeratorv1.LabelConsumer: konsumeratorv1.LabelValue(owned.Owner.Name)},
		// The snapshot shares the cache's objects rather than copying them: a copy of every instance on every
		// pass was most of what a reconcile of 1,000 instances allocated. Safe because nothing writes a
		// snapshot: the planner's fuzzed invariant "the planner changed its input", and the applier's tests
		// (checkedApplier) compare every snapshot before and after.
		client.UnsafeDisableDeepCopy,
	); err != nil {
		return nil, fmt.Errorf("listing Deployments: %w", err)
	}
	byName := make(map[string]appsv1.Deployment, len(list.Items))
	for _, d := range list.Items {
		// The label is only a filter; the controller reference decides what is ours.
		if konsumeratorv1.IsControlledBy(&d, owned.Owner.UID) {
			byName[d.Name] = d
		}
	}

	if owned.SpecError == "" {
		var missing []string
		perInstance := int32(1)
		if owned.Spec.NumPartitionsPerInstance != nil {
			perInstance = *owned.Spec.NumPartitionsPerInstance
		}
		for i := range konsumeratorv1.NumInstances(owned.Spec.NumPartitions, perInstance) {
			name := konsumeratorv1.InstanceName(owned.Spec.Name, i)
			if _, ok := byName[name]; !ok {
				missing = append(missing, name)
			}
		}
		found, err := o.readLive(ctx, owned.Owner.Namespace, missing)
		if err != nil {
			return nil, err
		}
		for _, d := range found {
			byName[d.Name] = d
		}
	}

	out := make([]appsv1.Deployment, 0, len(byName))
	for _, d := range byName {
		// A shallow copy: its maps and slices are the cache's (see the list above). Field ownership is the
		// applier's business (the cache strips it; a live read does not) and would make recorded snapshots
		// several times larger; clearing it changes only this copy.
		d.ManagedFields = nil
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// liveListAbove is the number of missing names from which one list of the namespace's names is cheaper than a
// read of each name: a new Consumer of 1,000 instances would otherwise cost 1,000 reads before its first write.
const liveListAbove = 32

// liveProbeLimit is the size of the one page of names asked for when fewer names are missing: a namespace that
// fits in it (most do) says in one request which names exist, so a new Consumer of 5 instances costs one list
// instead of 5 reads that each answer 404; a larger namespace costs that page and then a read per name.
const liveProbeLimit = 128

// defaultLiveReadWorkers bounds concurrent live reads when LiveReadWorkers is not set.
const defaultLiveReadWorkers = 8

// readLive gets the named Deployments from the API server, skipping those that do not exist.
func (o *Observer) readLive(ctx context.Context, namespace string, names []string) ([]appsv1.Deployment, error) {
	if len(names) == 0 || o.Live == nil {
		return nil, nil
	}
	switch {
	case len(names) > liveListAbove:
		existing, _, err := o.existingNames(ctx, namespace, 0)
		if err != nil {
			return nil, err
		}
		names = slices.DeleteFunc(names, func(name string) bool { return !existing[name] })
	case len(names) > 1:
		existing, complete, err := o.existingNames(ctx, namespace, liveProbeLimit)
		if err != nil {
			return nil, err
		}
		if complete {
			names = slices.DeleteFunc(names, func(name string) bool { return !existing[name] })
		}
	}
	// One read per name, at most LiveReadWorkers at once; the first failure cancels the reads not yet done.
	got := make([]*appsv1.Deployment, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cmp.Or(max(o.LiveReadWorkers, 0), defaultLiveReadWorkers))
	for i, name := range names {
		g.Go(func() error {
			var d appsv1.Deployment
			err := o.Live.Get(gctx, types.NamespacedName{Namespace: namespace, Name: name}, &d)
			switch {
			case err == nil:
				got[i] = &d
			case !apierrors.IsNotFound(err):
				return fmt.Errorf("reading Deployment %s/%s: %w", namespace, name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var found []appsv1.Deployment
	for _, d := range got {
		if d != nil {
			found = append(found, *d)
		}
	}
	return found, nil
}

// existingNames lists the names of the Deployments of a namespace, metadata only and in pages, so that the cost
// stays small however many Deployments the namespace holds. With a limit it reads one page of that size only,
// and complete says whether that page held the whole namespace.
func (o *Observer) existingNames(ctx context.Context, namespace string, limit int64) (names map[string]bool, complete bool, err error) {
	var lister NameLister = MetadataNames{Reader: o.Live}
	if o.Names != nil {
		lister = o.Names
	}
	names = map[string]bool{}
	pageSize := int64(500)
	if limit > 0 {
		pageSize = limit
	}
	cont := ""
	for {
		page, next, err := lister.DeploymentNames(ctx, namespace, pageSize, cont)
		if err != nil {
			return nil, false, fmt.Errorf("listing Deployments of %s: %w", namespace, err)
		}
		for _, name := range page {
			names[name] = true
		}
		if next == "" {
			// A server (or test client) that ignores the limit answers whole: more items than asked for is a
			// whole namespace too.
			return names, true, nil
		}
		if limit > 0 {
			return names, false, nil
		}
		cont = next
	}
}
