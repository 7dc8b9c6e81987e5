// Package metrics reads the lag of a Consumer's partitions from Prometheus and keeps it in a shared cache, so
// that the observer can put a model.MetricsSample into every snapshot without asking Prometheus on every
// reconcile.
//
// It only reports: which partitions have which figures, what was wrong with the data, and why a read failed.
// It never fills a gap with a guess (no zeros for missing or bad values); deciding what to do without data is
// the planner's job.
//
// The pieces:
//   - The provider (internal) runs the three instant queries of a PrometheusAutoscalerSpec against all of its addresses, picks
//     the best answer per query, validates every series and turns the result into a MetricsSample. HTTP
//     clients are built once per distinct address and credentials and reused.
//   - Cache, the only entry point, asks the provider at most once per minSyncPeriod per Consumer, shares one fetch between concurrent
//     callers, keeps the last good values when a fetch fails, and exposes the age of each sample as a metric.
package lag
