package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/builder"
)

// The many-kafka scenario: the many scenario's Consumers in Kafka mode against one in-process kfake cluster of
// -many-kafka-brokers brokers. Each Consumer reads its own topic (one partition per instance) and its own
// consumer group, as on a platform where every team runs its own consumer group. The bench's own client (the
// "mirror") keeps every group a steady backlog behind: every mirrorEvery it produces one record to every
// partition and commits every group one record further, so that reads see a backlog, a production rate and a
// consumption rate that stay the same, and nothing is left to write once the instances exist.
//
// What the operator costs the cluster is counted on the brokers' side, by a kafkaTap on kfake's listeners: the
// connections of the operator's client ID and its requests by kind. The mirror's connections carry its own
// client ID and are left out.

const (
	// operatorClientID is the client ID of the operator's Kafka clients (observer/lag/kafka: newClient).
	operatorClientID = "konsumerator"
	// mirrorClientID is the bench's own producer and committer.
	mirrorClientID = "bench-mirror"
	// mirrorEvery is how often the mirror produces and commits; the rates are one record per partition per tick.
	mirrorEvery = 10 * time.Second
	// kafkaBacklog is every partition's backlog in records: with 0.1 record/s consumed, a lag of 100 s, under
	// the default tolerableLag of 5m.
	kafkaBacklog = 10
)

func manyKafkaTopic(i int) string { return fmt.Sprintf("many-kafka-%04d", i) }

// manyKafkaConsumer is the many scenario's Consumer i in Kafka mode: its own topic and group on the brokers.
func manyKafkaConsumer(o manyOptions, i int, brokers []string) *konsumeratorv1.Consumer {
	name := manyConsumerName(i)
	c := builder.Consumer(name).Namespace(manyNamespace(i%o.namespaces)).
		Partitions(int32(o.instances)).PerInstance(1).
		Prometheus(1000, "100M").
		Policy("busybox", builder.Resources("cpu=100m,memory=100M"), builder.Resources("cpu=2,memory=1G")).
		MinSyncPeriod(o.syncPeriod).
		Kafka(brokers, manyKafkaTopic(i), name).
		Obj()
	c.UID, c.Generation = "", 0
	return c
}

// expectedRequestsPerRead is what the design says one read of one Consumer asks the cluster
// (observer/lag/kafka: readOffsets), given the leader of each of its topic's partitions: one Metadata (kgo keeps
// an answer for a second, and a Consumer is read once a period), one ListOffsets per broker leading some of
// the partitions (kadm shards the request by leader), and one OffsetFetch to the group's coordinator (whose
// address kgo keeps, so no FindCoordinator once known). Connections are shared: every Consumer that names the
// same brokers with the same credentials uses the same client.
func expectedRequestsPerRead(leaders []int32) int {
	distinct := map[int32]bool{}
	for _, l := range leaders {
		distinct[l] = true
	}
	return 1 + len(distinct) + 1
}

// kafkaMirror is the cluster with the bench's own client on it.
type kafkaMirror struct {
	cluster *kfake.Cluster
	tap     *kafkaTap
	cl      *kgo.Client
	adm     *kadm.Client
	o       manyOptions
	// ticks is how many records every partition got beyond the backlog, and every group committed.
	ticks int64
	// busy are the spans of the ticks so far: while the mirror produces and commits, kfake's one loop serves it.
	busy   []span
	cancel context.CancelFunc
	done   sync.WaitGroup
	mu     sync.Mutex
	err    error
}

// startKafkaMirror starts the cluster with every Consumer's topic, produces the backlog, commits every group at
// its start, and keeps producing and committing until stop.
func startKafkaMirror(ctx context.Context, o manyOptions) (*kafkaMirror, error) {
	topics := make([]string, o.consumers)
	for i := range topics {
		topics[i] = manyKafkaTopic(i)
	}
	tap := newKafkaTap()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(o.kafkaBrokers), kfake.SeedTopics(int32(o.instances), topics...),
		kfake.ListenFn(tap.listen))
	if err != nil {
		return nil, fmt.Errorf("starting the Kafka cluster: %w", err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ClientID(mirrorClientID),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0), kgo.MaxBufferedRecords(100_000))
	if err != nil {
		cluster.Close()
		return nil, err
	}
	m := &kafkaMirror{cluster: cluster, tap: tap, cl: cl, adm: kadm.NewClient(cl), o: o}
	if err := m.produce(ctx, kafkaBacklog); err == nil {
		err = m.commit(ctx)
	}
	if err != nil {
		m.stop()
		return nil, fmt.Errorf("the Kafka mirror: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.done.Add(1)
	go m.run(runCtx)
	return m, nil
}

func (m *kafkaMirror) addrs() []string { return m.cluster.ListenAddrs() }

func (m *kafkaMirror) run(ctx context.Context) {
	defer m.done.Done()
	tick := time.NewTicker(mirrorEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		start := time.Now()
		err := m.produce(ctx, 1)
		if err == nil {
			m.ticks++
			err = m.commit(ctx)
		}
		m.mu.Lock()
		m.busy = append(m.busy, span{start, time.Now()})
		if err != nil && ctx.Err() == nil && m.err == nil {
			m.err = err
		}
		m.mu.Unlock()
	}
}

// produce writes n records to every partition of every topic.
func (m *kafkaMirror) produce(ctx context.Context, n int) error {
	recs := make([]*kgo.Record, 0, m.o.consumers*m.o.instances*n)
	for i := range m.o.consumers {
		for p := range int32(m.o.instances) {
			for range n {
				recs = append(recs, &kgo.Record{Topic: manyKafkaTopic(i), Partition: p, Value: []byte("m")})
			}
		}
	}
	return m.cl.ProduceSync(ctx, recs...).FirstErr()
}

// commit commits every group's offset at ticks on every partition: kafkaBacklog records behind the end.
func (m *kafkaMirror) commit(ctx context.Context) error {
	var failed atomic.Value
	forEach(ctx, 16, m.o.consumers, func(i int) {
		offsets := make(kadm.Offsets)
		for p := range int32(m.o.instances) {
			offsets.AddOffset(manyKafkaTopic(i), p, m.ticks, -1)
		}
		resp, err := m.adm.CommitOffsets(ctx, manyConsumerName(i), offsets)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			failed.CompareAndSwap(nil, fmt.Errorf("committing group %s: %w", manyConsumerName(i), err))
		}
	})
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	return ctx.Err()
}

// busySpans are the spans of the mirror's ticks so far.
func (m *kafkaMirror) busySpans() []span {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.busy)
}

// span is a stretch of time.
type span struct{ from, to time.Time }

func (s span) overlaps(o span) bool { return s.from.Before(o.to) && o.from.Before(s.to) }

// secondCount is the requests counted in one poll of the steady window, over the span since the previous one.
type secondCount struct {
	span
	requests float64
}

// quietPeak is the most requests per second among the polls that overlap none of the busy spans nor the second
// after one (when what waited for the busy loop is served); ok is false if every poll overlapped one.
func quietPeak(polls []secondCount, busy []span) (peak float64, ok bool) {
	for _, p := range polls {
		quiet := true
		for _, b := range busy {
			if p.overlaps(span{b.from, b.to.Add(time.Second)}) {
				quiet = false
				break
			}
		}
		if quiet {
			peak, ok = max(peak, p.requests/p.to.Sub(p.from).Seconds()), true
		}
	}
	return peak, ok
}

// longestSpan is the longest of the spans that overlap window.
func longestSpan(spans []span, window span) time.Duration {
	var longest time.Duration
	for _, s := range spans {
		if s.overlaps(window) {
			longest = max(longest, s.to.Sub(s.from))
		}
	}
	return longest
}

// Err is the first error the mirror met while running.
func (m *kafkaMirror) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

func (m *kafkaMirror) stop() {
	if m.cancel != nil {
		m.cancel()
	}
	m.done.Wait()
	m.cl.Close()
	m.cluster.Close()
}

// meanExpectedRequestsPerRead is expectedRequestsPerRead over every Consumer's topic, with kfake's leaders.
func (m *kafkaMirror) meanExpectedRequestsPerRead() float64 {
	total := 0
	for i := range m.o.consumers {
		leaders := make([]int32, m.o.instances)
		for p := range leaders {
			leaders[p] = m.cluster.LeaderFor(manyKafkaTopic(i), int32(p))
		}
		total += expectedRequestsPerRead(leaders)
	}
	return float64(total) / float64(m.o.consumers)
}

// manyKafkaResult is one run of the many-kafka scenario: the many scenario's figures and the cluster's.
type manyKafkaResult struct {
	manyResult
	// expectedPerRead is the design's requests per read, averaged over the Consumers' topics.
	expectedPerRead float64
	// run is the operator's connections and requests from its start to the end of the steady window; steady
	// the same in the steady window; peakRequestsPerSecond the most requests in any one second of it.
	run, steady           tapCounts
	peakRequestsPerSecond float64
	// quietPeak is the most requests per second away from the mirror's ticks (quietOK: some second was);
	// longestTick the longest tick of the mirror in the steady window.
	quietPeak   float64
	quietOK     bool
	longestTick time.Duration
	// peakReadsPerSecond is the most reads in any one second of the steady window by the operator's own count
	// (polled with the brokers' count): requests that bunch on the brokers' side while the operator's reads do
	// not are bunched by the serving, not by the reading.
	peakReadsPerSecond float64
	// reads and readErrors are the operator's own count of reads (konsumerator_kafka_reads_total) and failed
	// reads in the steady window; clients its konsumerator_kafka_clients at the end.
	reads, readErrors, clients float64
	// conns are the operator's connections; steadyFrom is when the steady window started.
	conns      []connRecord
	steadyFrom time.Time
}

func (r manyKafkaResult) periods() float64 {
	return r.steadyWindow.Seconds() / r.o.syncPeriod.Seconds()
}

// requestsPerConsumerPerPeriod is the operator's requests of the given kinds (all without kinds) in the steady
// window, per Consumer per sync period.
func (r manyKafkaResult) requestsPerConsumerPerPeriod(keys ...int16) float64 {
	var n int64
	if len(keys) == 0 {
		n = r.steady.total()
	}
	for _, k := range keys {
		n += r.steady.requests[k]
	}
	return float64(n) / float64(r.o.consumers) / r.periods()
}

func (r manyKafkaResult) readsPerConsumerPerPeriod() float64 {
	return r.reads / float64(r.o.consumers) / r.periods()
}

func (r manyKafkaResult) requestsPerRead() float64 {
	if r.reads == 0 {
		return 0
	}
	return float64(r.steady.total()) / r.reads
}

func (r manyKafkaResult) String() string {
	return fmt.Sprintf("baseline %.2fs, converged in %.2fs (%.2fx; Consumers created in %.2fs); writes: %s; 404 reads: %g; "+
		"steady %.0fs: writes %s, %g reads (%.2f per Consumer per period, %g failed), %d requests (%.2f per Consumer per period: %s; peak %g/s, away from the mirror's ticks %.0f/s, longest tick %.1fs; peak reads %g/s by the operator's count), "+
		"connections opened %d (%d in the steady window), open at the end %d, operator clients %g; %g reconciles, queue wait %.3fs; "+
		"peak RSS %s MiB (at the end %s MiB, Go heap in use %s MiB), CPU %.2fs (steady %.2fs)",
		r.baseline.Seconds(), r.converge.Seconds(), r.converge.Seconds()/r.baseline.Seconds(), r.createConsumers.Seconds(),
		r.writes, r.notFound, r.steadyWindow.Seconds(), r.steadyWrites, r.reads, r.readsPerConsumerPerPeriod(), r.readErrors,
		r.steady.total(), r.requestsPerConsumerPerPeriod(), requestsByKind(r.steady), r.peakRequestsPerSecond, r.quietPeak,
		r.longestTick.Seconds(), r.peakReadsPerSecond,
		r.run.opened, r.steady.opened, r.run.open(), r.clients, r.reconciles, r.queueWait,
		mib(float64(r.peakRSS)), mib(r.rssEnd), mib(r.heapInUse), r.cpuTotal, r.cpuSteady)
}

// requestsByKind lists requests by kind, most first: "ListOffsets=3000 Metadata=1000".
func requestsByKind(c tapCounts) string {
	keys := make([]int16, 0, len(c.requests))
	for k := range c.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if c.requests[keys[i]] != c.requests[keys[j]] {
			return c.requests[keys[i]] > c.requests[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", requestName(k), c.requests[k])
	}
	return strings.Join(parts, " ")
}

// measureManyKafka does one run of the many-kafka scenario.
func measureManyKafka(ctx context.Context, c *cluster, bin, dir string, o options, run int) (res manyKafkaResult, err error) {
	mo := o.many
	res.o = mo
	mirror, err := startKafkaMirror(ctx, mo)
	if err != nil {
		return res, err
	}
	defer mirror.stop()
	res.expectedPerRead = mirror.meanExpectedRequestsPerRead()
	progress("many-kafka: %d brokers with %d topics of %d partitions, every group %d records behind",
		mo.kafkaBrokers, mo.consumers, mo.instances, kafkaBacklog)

	consumers := make([]*konsumeratorv1.Consumer, mo.consumers)
	for i := range consumers {
		consumers[i] = manyKafkaConsumer(mo, i, mirror.addrs())
	}
	kafkaReads := func(ctx context.Context, op *operator) (reads, errs, clients float64, err error) {
		s, err := op.metricsNamed(ctx, "konsumerator_kafka_reads_total", "konsumerator_kafka_read_errors_total",
			"konsumerator_kafka_clients")
		if err != nil {
			return 0, 0, 0, err
		}
		reads, _ = sum(s, "konsumerator_kafka_reads_total", nil)
		errs, _ = sum(s, "konsumerator_kafka_read_errors_total", nil)
		clients, _ = sum(s, "konsumerator_kafka_clients", nil)
		return reads, errs, clients, nil
	}
	var (
		before, last           tapCounts
		lastAt, windowFrom     time.Time
		polls                  []secondCount
		readsBefore, errBefore float64
		lastReads, peakReads   float64
		op                     *operator
		peak                   float64
		steady, atEnd          tapCounts
		reads, readErrs, cls   float64
	)
	probe := manyProbe{
		start: func(ctx context.Context, o *operator) (err error) {
			op = o
			before = mirror.tap.snapshot(operatorClientID)
			last, lastAt, windowFrom = before, time.Now(), time.Now()
			res.steadyFrom = windowFrom
			readsBefore, errBefore, _, err = kafkaReads(ctx, op)
			lastReads = readsBefore
			return err
		},
		second: func(ctx context.Context) error {
			now, at := mirror.tap.snapshot(operatorClientID), time.Now()
			n := float64(now.total() - last.total())
			peak = max(peak, n)
			polls = append(polls, secondCount{span{lastAt, at}, n})
			last, lastAt = now, at
			r, _, _, err := kafkaReads(ctx, op)
			if err != nil {
				return err
			}
			peakReads, lastReads = max(peakReads, r-lastReads), r
			return mirror.Err()
		},
		end: func(ctx context.Context, op *operator, _ time.Duration) error {
			atEnd = mirror.tap.snapshot(operatorClientID)
			steady = atEnd.since(before)
			busy := mirror.busySpans()
			res.quietPeak, res.quietOK = quietPeak(polls, busy)
			res.longestTick = longestSpan(busy, span{windowFrom, time.Now()})
			res.peakReadsPerSecond = peakReads
			// Copied here, before the operator stops and its connections close.
			res.conns = mirror.tap.connections(operatorClientID)
			r, e, n, err := kafkaReads(ctx, op)
			reads, readErrs, cls = r-readsBefore, e-errBefore, n
			return err
		},
	}
	log := filepath.Join(dir, fmt.Sprintf("operator-many-kafka-c%d-r%d.log", mo.consumers, run))
	res.manyResult, err = runMany(ctx, c, bin, o, "many-kafka", log, consumers, probe)
	res.run, res.steady, res.peakRequestsPerSecond = atEnd, steady, peak
	res.reads, res.readErrors, res.clients = reads, readErrs, cls
	if err == nil {
		err = mirror.Err()
	}
	return res, err
}

// connectionLines describe the operator's connections: the broker address, when each was opened and closed
// relative to from, and its requests by kind.
func connectionLines(conns []connRecord, from time.Time) []string {
	out := make([]string, 0, len(conns))
	for _, c := range conns {
		closed := "open at the end"
		if !c.closed.IsZero() {
			closed = fmt.Sprintf("closed at %+.1fs", c.closed.Sub(from).Seconds())
		}
		out = append(out, fmt.Sprintf("to %s, opened at %+.1fs, %s: %s", c.broker, c.opened.Sub(from).Seconds(), closed,
			requestsByKind(tapCounts{requests: c.requests})))
	}
	return out
}

func manyKafkaMedian(rows []manyKafkaResult, f func(manyKafkaResult) float64) float64 {
	values := make([]float64, 0, len(rows))
	for _, r := range rows {
		values = append(values, f(r))
	}
	return median(values)
}

// kafkaKinds are the request kinds the report has a column for; the rest are summed as "other".
var kafkaKinds = []int16{int16(kmsg.Metadata), int16(kmsg.ListOffsets), int16(kmsg.OffsetFetch),
	int16(kmsg.FindCoordinator), int16(kmsg.ApiVersions)}

// otherKinds is the requests per Consumer per period of the kinds without a column.
func otherKinds(r manyKafkaResult) float64 {
	var keys []int16
	for k := range r.steady.requests {
		if !slices.Contains(kafkaKinds, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return 0
	}
	return r.requestsPerConsumerPerPeriod(keys...)
}

func reportManyKafka(w io.Writer, rows []manyKafkaResult, o options) {
	mo := rows[0].o
	fmt.Fprintf(w, "\nmany-kafka: %d Kafka-mode Consumers x %d instances in %d namespaces, each with its own topic of %d partitions and its own group (minSyncPeriod %s), against one kfake cluster of %d brokers\n",
		mo.consumers, mo.instances, mo.namespaces, mo.instances, mo.syncPeriod, mo.kafkaBrokers)
	from := "from the first Consumer create, the operator running"
	if mo.createFirst {
		from = "from the operator's start, the Consumers created before"
	}
	fmt.Fprintf(w, "baseline: the same %d server-side applies from a bare client with %d workers; converge timed %s; steady window: %d sync periods after two settling periods; "+
		"connections and requests counted by the brokers (client ID %q); medians of %d run(s)\n\n",
		mo.consumers*mo.instances, o.baselineWorkers, from, mo.periods, operatorClientID, len(rows))
	m := func(f func(manyKafkaResult) float64) float64 { return manyKafkaMedian(rows, f) }
	table := [][]string{{"consumers", "instances", "brokers", "baseline s", "converge s", "ratio", "deployment writes",
		"status writes", "event writes", "reads/consumer/period", "requests/consumer/period", "requests/read",
		"peak requests/s", "peak away from ticks", "longest tick s", "peak reads/s (operator)", "conns opened", "conns open at end", "conns opened steady", "read errors", "steady writes",
		"queue wait s", "peak RSS MiB", "RSS end MiB", "heap in use MiB", "CPU s", "CPU s/period (steady)"}}
	table = append(table, []string{
		fmt.Sprint(mo.consumers), fmt.Sprint(mo.consumers * mo.instances), fmt.Sprint(mo.kafkaBrokers),
		fmt.Sprintf("%.2f", m(func(r manyKafkaResult) float64 { return r.baseline.Seconds() })),
		fmt.Sprintf("%.2f", m(func(r manyKafkaResult) float64 { return r.converge.Seconds() })),
		fmt.Sprintf("%.2fx", m(func(r manyKafkaResult) float64 { return r.converge.Seconds() / r.baseline.Seconds() })),
		fmt.Sprintf("%g", m(func(r manyKafkaResult) float64 { return r.writes.of("deployments") })),
		fmt.Sprintf("%g", m(func(r manyKafkaResult) float64 { return r.writes.of("consumers/status") })),
		fmt.Sprintf("%g", m(func(r manyKafkaResult) float64 { return r.writes.of("events") })),
		fmt.Sprintf("%.2f", m(manyKafkaResult.readsPerConsumerPerPeriod)),
		fmt.Sprintf("%.2f", m(func(r manyKafkaResult) float64 { return r.requestsPerConsumerPerPeriod() })),
		fmt.Sprintf("%.2f", m(manyKafkaResult.requestsPerRead)),
		fmt.Sprintf("%g", m(func(r manyKafkaResult) float64 { return r.peakRequestsPerSecond })),
		fmt.Sprintf("%.0f", m(func(r manyKafkaResult) float64 { return r.quietPeak })),
		fmt.Sprintf("%.1f", m(func(r manyKafkaResult) float64 { return r.longestTick.Seconds() })),
		fmt.Sprintf("%g", m(func(r manyKafkaResult) float64 { return r.peakReadsPerSecond })),
		fmt.Sprintf("%g", m(func(r manyKafkaResult) float64 { return float64(r.run.opened) })),
		fmt.Sprintf("%g", m(func(r manyKafkaResult) float64 { return float64(r.run.open()) })),
		fmt.Sprintf("%g", m(func(r manyKafkaResult) float64 { return float64(r.steady.opened) })),
		fmt.Sprintf("%g", m(func(r manyKafkaResult) float64 { return r.readErrors })),
		fmt.Sprintf("%g", m(func(r manyKafkaResult) float64 { return steadyOperatorWrites(r.steadyWrites) })),
		fmt.Sprintf("%.3f", m(func(r manyKafkaResult) float64 { return r.queueWait })),
		mib(m(func(r manyKafkaResult) float64 { return float64(r.peakRSS) })),
		mib(m(func(r manyKafkaResult) float64 { return r.rssEnd })),
		mib(m(func(r manyKafkaResult) float64 { return r.heapInUse })),
		fmt.Sprintf("%.1f", m(func(r manyKafkaResult) float64 { return r.cpuTotal })),
		fmt.Sprintf("%.2f", m(func(r manyKafkaResult) float64 { return r.cpuSteady / r.periods() })),
	})
	writeTable(w, table)
	many := make([]manyResult, len(rows))
	for i, r := range rows {
		many[i] = r.manyResult
	}
	writeCPUTable(w, many)

	fmt.Fprintln(w, "\nrequests per Consumer per sync period, by kind (steady window):")
	kinds := [][]string{{}, {}}
	for _, k := range kafkaKinds {
		kinds[0] = append(kinds[0], requestName(k))
		kinds[1] = append(kinds[1], fmt.Sprintf("%.2f", m(func(r manyKafkaResult) float64 { return r.requestsPerConsumerPerPeriod(k) })))
	}
	kinds[0] = append(kinds[0], "other", "all")
	kinds[1] = append(kinds[1], fmt.Sprintf("%.2f", m(otherKinds)),
		fmt.Sprintf("%.2f", m(func(r manyKafkaResult) float64 { return r.requestsPerConsumerPerPeriod() })))
	writeTable(w, kinds)

	fmt.Fprintln(w, "\ntargets (read from the figures above, not asserted):")
	ratio := m(func(r manyKafkaResult) float64 { return r.converge.Seconds() / r.baseline.Seconds() })
	fmt.Fprintf(w, "  converge within 2x the baseline: %.2fx, %s\n", ratio, verdict(ratio <= 2))
	dw := m(func(r manyKafkaResult) float64 { return r.writes.of("deployments") })
	sw := m(func(r manyKafkaResult) float64 { return r.writes.of("consumers/status") })
	// The Prometheus scenario's 2 status writes (instances missing, then all there) and one more: a first read
	// from Kafka has backlogs but no rates (no data, observer/lag/kafka), so the metrics condition changes
	// again when the second read brings them.
	fmt.Fprintf(w, "  exactly one write per instance, at most 3 status writes per Consumer (the rates come with the second read): %g for %d, %g for %d Consumers, %s\n",
		dw, mo.consumers*mo.instances, sw, mo.consumers, verdict(dw == float64(mo.consumers*mo.instances) && sw <= float64(3*mo.consumers)))
	want := m(func(r manyKafkaResult) float64 { return r.expectedPerRead })
	q := m(func(r manyKafkaResult) float64 { return r.requestsPerConsumerPerPeriod() })
	fmt.Fprintf(w, "  %.2f Kafka requests per Consumer per sync period (one read: 1 Metadata, 1 ListOffsets per leading broker, 1 OffsetFetch): %.2f, %s\n",
		want, q, verdict(q >= want*0.95 && q <= want*1.05))
	opened := m(func(r manyKafkaResult) float64 { return float64(r.run.opened) })
	openedSteady := m(func(r manyKafkaResult) float64 { return float64(r.steady.opened) })
	fmt.Fprintf(w, "  one shared client: at most 2 connections per broker over the run (its own and its bootstrap address), none opened at steady state: %g opened for %d brokers, %g in the steady window, %s\n",
		opened, mo.kafkaBrokers, openedSteady, verdict(opened <= float64(2*mo.kafkaBrokers) && openedSteady == 0))
	sw0 := m(func(r manyKafkaResult) float64 { return steadyOperatorWrites(r.steadyWrites) })
	fmt.Fprintf(w, "  0 writes at steady state: %g, %s\n", sw0, verdict(sw0 == 0))
	rss := m(func(r manyKafkaResult) float64 { return float64(r.peakRSS) }) / (1 << 20)
	fmt.Fprintf(w, "  operator peak RSS at most 150 MiB: %.1f MiB, %s\n", rss, verdict(rss <= 150))
	for i, r := range rows {
		fmt.Fprintf(w, "  run %d: writes %s; steady writes %s; steady requests %s\n", i+1, r.writes, r.steadyWrites, requestsByKind(r.steady))
		for _, l := range connectionLines(r.conns, r.steadyFrom) {
			fmt.Fprintf(w, "    operator connection %s\n", l)
		}
	}
}
