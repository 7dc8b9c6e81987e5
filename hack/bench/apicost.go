package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/applier"
	"github.com/konsumerator/konsumerator/observer"
)

// The api-cost scenario: what one request of each kind a new Consumer costs the API server (and etcd) in CPU,
// each kind sent n times by 16 workers with nothing else running. It says where the many scenario's converge
// spends the API server: a Consumer is a custom resource, stored as JSON and checked against its schema on
// every write, so its writes cost several times a Deployment's. The status is written both ways a controller
// may write it, server-side apply and a JSON merge patch, to tell the object's cost from the patch's.

// apiCostWorkers is how many requests of a kind are in flight at once (the operator's reconciles).
const apiCostWorkers = 16

// apiCostNamespace holds the scenario's objects; it is cleared after.
const apiCostNamespace = "api-cost"

// apiCostRow is one kind of request.
type apiCostRow struct {
	kind string
	n    int
	cpu  cpuWindow
}

// perRequestMs is a program's CPU per request, in milliseconds.
func (r apiCostRow) perRequestMs(program string) float64 {
	return r.cpu.cpu[program] * 1000 / float64(r.n)
}

// measureAPICost sends n requests of each kind, one kind after the other, and reads the CPU of every program
// around each kind.
func measureAPICost(ctx context.Context, c *cluster, n int) (rows []apiCostRow, err error) {
	if err := c.createNamespace(ctx, apiCostNamespace); err != nil {
		return nil, err
	}
	defer func() {
		if clearErr := c.clear(ctx, apiCostNamespace); clearErr != nil && err == nil {
			err = clearErr
		}
	}()
	// n Consumers of 5 instances as the many scenario makes them, and the first n of their instances.
	const perConsumer = 5
	mo := manyOptions{instances: perConsumer, namespaces: 1, syncPeriod: 30 * time.Second}
	consumers := make([]*konsumeratorv1.Consumer, n)
	for i := range consumers {
		consumers[i] = manyConsumer(mo, i, "http://127.0.0.1:9")
		consumers[i].Namespace = apiCostNamespace
	}
	instances, err := instanceApplies(consumers[:(n+perConsumer-1)/perConsumer])
	if err != nil {
		return nil, err
	}
	instances = instances[:n]
	httpClient, err := rest.HTTPClientFor(c.env.Config)
	if err != nil {
		return nil, err
	}
	names, err := observer.NewTableNames(c.env.Config, httpClient)
	if err != nil {
		return nil, err
	}
	status := func(message string) konsumeratorv1.ConsumerStatus {
		five, zero, gen, now := int32(5), int32(0), int64(1), metav1.Now()
		var conds []metav1.Condition
		for _, t := range []string{konsumeratorv1.ConditionReady, konsumeratorv1.ConditionMetricsAvailable,
			konsumeratorv1.ConditionRolloutComplete, konsumeratorv1.ConditionRolloutHealthy, konsumeratorv1.ConditionConflicts} {
			conds = append(conds, metav1.Condition{Type: t, Status: metav1.ConditionTrue, Reason: "Bench", Message: message,
				LastTransitionTime: now, ObservedGeneration: 1})
		}
		return konsumeratorv1.ConsumerStatus{ObservedGeneration: &gen, Expected: &five, Running: &five, Paused: &zero,
			Missing: &zero, Lagging: &zero, Outdated: &zero, Failing: &zero, LastSyncTime: &now, Conditions: conds}
	}
	statusWriter := applier.ConsumerStatusWriter{Client: c.client, FieldManager: "bench-status"}
	kinds := []struct {
		name string
		send func(i int) error
	}{
		{"instance Deployment, server-side apply that creates it", func(i int) error {
			return c.client.Apply(ctx, &detached{instances[i].Desired}, client.FieldOwner("bench-api-cost"), client.ForceOwnership)
		}},
		{"instance Deployment, server-side apply of one changed annotation", func(i int) error {
			// The whole object again with one more annotation (an apply that left fields out would remove them);
			// the apply configuration is changed in place, as nothing applies it after this kind.
			changed := &detached{instances[i].Desired}
			changed.WithAnnotations(map[string]string{"bench.konsumerator.lwolf.org/touch": "1"})
			return c.client.Apply(ctx, changed, client.FieldOwner("bench-api-cost"), client.ForceOwnership)
		}},
		{"page of Deployment names (Table, limit 100)", func(int) error {
			_, _, err := names.DeploymentNames(ctx, apiCostNamespace, 100, "")
			return err
		}},
		{"Consumer create", func(i int) error { return c.client.Create(ctx, consumers[i]) }},
		{"Consumer status, server-side apply, first", func(i int) error {
			return statusWriter.WriteStatus(ctx, consumers[i], status("first"))
		}},
		{"Consumer status, server-side apply, a message changed", func(i int) error {
			return statusWriter.WriteStatus(ctx, consumers[i], status("second"))
		}},
		{"Consumer status, JSON merge patch, a message changed", func(i int) error {
			raw, err := json.Marshal(map[string]any{"status": status("third")})
			if err != nil {
				return err
			}
			return c.client.Status().Patch(ctx, consumers[i], client.RawPatch(types.MergePatchType, raw))
		}},
		{"Event create", func(i int) error {
			return c.client.Create(ctx, &corev1.Event{
				ObjectMeta:     metav1.ObjectMeta{Namespace: apiCostNamespace, Name: fmt.Sprintf("api-cost-%d", i)},
				InvolvedObject: corev1.ObjectReference{Kind: "Consumer", Namespace: apiCostNamespace, Name: consumers[i].Name},
				Reason:         "InstancesCreated", Message: "created 5 instances", Type: corev1.EventTypeNormal,
				Count: 1, FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Source: corev1.EventSource{Component: "bench"},
			})
		}},
	}
	for _, k := range kinds {
		before, err := readCPUByProgram()
		if err != nil {
			return nil, err
		}
		start := time.Now()
		var failed atomic.Value
		forEach(ctx, apiCostWorkers, n, func(i int) {
			if err := k.send(i); err != nil {
				failed.CompareAndSwap(nil, err)
			}
		})
		wall := time.Since(start)
		if err, _ := failed.Load().(error); err != nil {
			return nil, fmt.Errorf("%s: %w", k.name, err)
		}
		after, err := readCPUByProgram()
		if err != nil {
			return nil, err
		}
		rows = append(rows, apiCostRow{kind: k.name, n: n, cpu: cpuWindow{wall.Seconds(), after.since(before)}})
		progress("api-cost: %s: %d in %.2fs, %s", k.name, n, wall.Seconds(), rows[len(rows)-1].cpu)
	}
	return rows, nil
}

func reportAPICost(w io.Writer, rows []apiCostRow) {
	fmt.Fprintf(w, "\napi-cost: CPU per request of the API server and etcd, %d requests of each kind, %d in flight, nothing else running\n\n",
		rows[0].n, apiCostWorkers)
	table := [][]string{{"request", "wall s", "kube-apiserver ms", "etcd ms", "bench ms"}}
	for _, r := range rows {
		table = append(table, []string{r.kind, fmt.Sprintf("%.2f", r.cpu.wallSeconds),
			fmt.Sprintf("%.1f", r.perRequestMs("kube-apiserver")), fmt.Sprintf("%.1f", r.perRequestMs("etcd")),
			fmt.Sprintf("%.1f", r.perRequestMs(benchProgram))})
	}
	writeTableLeft(w, table, 1)
}
