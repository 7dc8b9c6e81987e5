package main

import (
	"encoding/binary"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// frame is one request as a client writes it: size, key, version, correlation ID, client ID, body.
func frame(key int16, clientID *string, body int) []byte {
	b := make([]byte, 4, 64)
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, 3)
	b = binary.BigEndian.AppendUint32(b, 42)
	if clientID == nil {
		b = binary.BigEndian.AppendUint16(b, 0xffff) // -1: null
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(len(*clientID)))
		b = append(b, *clientID...)
	}
	b = append(b, make([]byte, body)...)
	binary.BigEndian.PutUint32(b[:4], uint32(len(b)-4))
	return b
}

type seen struct {
	key int16
	id  string
}

func TestFrameReaderWhereverTheStreamIsCut(t *testing.T) {
	id, empty := "konsumerator", ""
	var stream []byte
	stream = append(stream, frame(int16(kmsg.ApiVersions), &id, 5)...)
	stream = append(stream, frame(int16(kmsg.Metadata), &id, 0)...) // ends with its client ID
	stream = append(stream, frame(int16(kmsg.ListOffsets), nil, 300)...)
	stream = append(stream, frame(int16(kmsg.OffsetFetch), &empty, 0)...) // ends with its fixed header
	stream = append(stream, frame(int16(kmsg.OffsetFetch), &id, 70000)...)
	want := []seen{{18, id}, {3, id}, {2, ""}, {9, ""}, {9, id}}

	// Every chunk size, from a byte at a time to the whole stream at once.
	for _, chunk := range []int{1, 2, 3, 5, 13, 14, 15, 64, 1000, len(stream)} {
		var got []seen
		f := frameReader{onRequest: func(key int16, clientID string) { got = append(got, seen{key, clientID}) }}
		for i := 0; i < len(stream); i += chunk {
			f.feed(stream[i:min(i+chunk, len(stream))])
		}
		if len(got) != len(want) {
			t.Fatalf("chunks of %d: %d requests %v, want %v", chunk, len(got), got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("chunks of %d: request %d is %v, want %v", chunk, i, got[i], want[i])
			}
		}
		if f.skip != 0 || len(f.head) != 0 {
			t.Errorf("chunks of %d: left mid-frame (skip %d, head %d bytes)", chunk, f.skip, len(f.head))
		}
	}
}

func TestFrameReaderShortFrame(t *testing.T) {
	// A frame shorter than a request header (size 2: a key, nothing else) is reported and skipped; the next
	// frame is read as usual.
	id := "x"
	stream := append([]byte{0, 0, 0, 2, 0, 1}, frame(int16(kmsg.Metadata), &id, 3)...)
	var got []seen
	f := frameReader{onRequest: func(key int16, clientID string) { got = append(got, seen{key, clientID}) }}
	f.feed(stream)
	if len(got) != 2 || got[0] != (seen{1, ""}) || got[1] != (seen{3, "x"}) {
		t.Errorf("requests %v", got)
	}
}

func TestTapCounts(t *testing.T) {
	before := tapCounts{opened: 3, closed: 1, requests: map[int16]int64{3: 10, 2: 20}}
	after := tapCounts{opened: 4, closed: 1, requests: map[int16]int64{3: 15, 2: 20, 9: 7}}
	d := after.since(before)
	if d.opened != 1 || d.closed != 0 || d.total() != 12 || d.requests[2] != 0 || d.requests[9] != 7 {
		t.Errorf("since = %+v", d)
	}
	if after.open() != 3 {
		t.Errorf("open = %d", after.open())
	}
	if got := requestsByKind(d); got != "OffsetFetch=7 Metadata=5" {
		t.Errorf("by kind %q", got)
	}
	if got := requestName(-7); got != "key -7" {
		t.Errorf("unknown key named %q", got)
	}
}

// TestKafkaTapCountsWhatTheBrokersSee runs a kgo client against a kfake cluster on the tap: the tap sees the
// client's connections under its client ID, and every request kfake's own Control hook sees.
func TestKafkaTapCountsWhatTheBrokersSee(t *testing.T) {
	tap := newKafkaTap()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(5, "orders"), kfake.ListenFn(tap.listen))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var mu sync.Mutex
	control := map[int16]int64{}
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		control[req.Key()]++
		mu.Unlock()
		return nil, nil, false // count only: kfake handles the request as usual
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ClientID("reader"))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	offsets := make(kadm.Offsets)
	offsets.AddOffset("orders", 0, 0, -1)
	if _, err := adm.CommitOffsets(t.Context(), "g", offsets); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := adm.ListEndOffsets(t.Context(), "orders"); err != nil {
			t.Fatal(err)
		}
		if _, err := adm.FetchOffsetsForTopics(t.Context(), "g", "orders"); err != nil {
			t.Fatal(err)
		}
	}
	got := tap.snapshot("reader")
	t.Logf("connections %d, requests %s", got.opened, requestsByKind(got))
	mu.Lock()
	defer mu.Unlock()
	for k, v := range control {
		if got.requests[k] != v {
			t.Errorf("%s: the tap counted %d, kfake's Control %d", requestName(k), got.requests[k], v)
		}
	}
	if got.total() == 0 || got.requests[int16(kmsg.ListOffsets)] == 0 || got.requests[int16(kmsg.OffsetFetch)] != 3 {
		t.Errorf("requests %s", requestsByKind(got))
	}
	if got.opened < 1 || got.opened > 6 || got.closed != 0 {
		t.Errorf("connections opened %d, closed %d", got.opened, got.closed)
	}
	conns := tap.connections("reader")
	if len(conns) != got.opened {
		t.Errorf("%d connection records for %d connections", len(conns), got.opened)
	}
	var recorded int64
	for _, r := range conns {
		recorded += tapCounts{requests: r.requests}.total()
		if r.broker == "" || r.opened.IsZero() || !r.closed.IsZero() {
			t.Errorf("connection record %+v", r)
		}
	}
	if recorded != got.total() {
		t.Errorf("the connection records hold %d requests, the counts %d", recorded, got.total())
	}
	if other := tap.snapshot("kgo"); other.opened != 0 || other.total() != 0 {
		t.Errorf("another client ID counted: %+v", other)
	}
	cl.Close()
	deadline := time.Now().Add(5 * time.Second)
	for tap.snapshot("reader").open() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if open := tap.snapshot("reader").open(); open != 0 {
		t.Errorf("%d connections still open after the client closed", open)
	}
}

func TestManyKafkaScenario(t *testing.T) {
	if got, err := parseScenarios("many,many-kafka"); err != nil || !got[scenarioManyKafka] || !got[scenarioMany] {
		t.Errorf("parseScenarios = %v, %v", got, err)
	}
	o := manyOptions{consumers: 1000, instances: 5, namespaces: 50, syncPeriod: 30 * time.Second, kafkaBrokers: 3}
	c := manyKafkaConsumer(o, 42, []string{"127.0.0.1:9092"})
	a := c.Spec.Autoscaler
	if c.Namespace != "many-042" || c.Name != "group-0042" || c.Spec.NumPartitions != 5 || c.UID != "" {
		t.Errorf("Consumer 42 is %s/%s with %d partitions, UID %q", c.Namespace, c.Name, c.Spec.NumPartitions, c.UID)
	}
	if a.Mode != konsumeratorv1.AutoscalerTypeKafka || a.Prometheus != nil || a.Kafka == nil {
		t.Fatalf("autoscaler %+v", a)
	}
	if k := a.Kafka; k.Topic != "many-kafka-0042" || k.ConsumerGroup != "group-0042" || k.Brokers[0] != "127.0.0.1:9092" ||
		k.MinSyncPeriod.Duration != 30*time.Second || *k.RatePerCore != 1000 {
		t.Errorf("kafka %+v", k)
	}

	// Leaders 1, 2, 3, 1, 2: one Metadata, three ListOffsets, one OffsetFetch.
	if n := expectedRequestsPerRead([]int32{1, 2, 3, 1, 2}); n != 5 {
		t.Errorf("expected requests per read with three leaders = %d, want 5", n)
	}
	if n := expectedRequestsPerRead([]int32{0, 0}); n != 3 {
		t.Errorf("with one leader = %d, want 3", n)
	}

	// 15,000 requests in 90 s from 1,000 Consumers read every 30 s, 3,000 reads: five per Consumer per period,
	// five per read, of which one OffsetFetch per Consumer per period.
	r := manyKafkaResult{manyResult: manyResult{o: o, steadyWindow: 90 * time.Second}, reads: 3000,
		steady: tapCounts{requests: map[int16]int64{3: 3000, 2: 9000, 9: 3000}}}
	if got := r.requestsPerConsumerPerPeriod(); got != 5 {
		t.Errorf("requests per Consumer per period = %g", got)
	}
	if got := r.requestsPerConsumerPerPeriod(int16(kmsg.OffsetFetch)); got != 1 {
		t.Errorf("OffsetFetch per Consumer per period = %g", got)
	}
	if got := r.readsPerConsumerPerPeriod(); got != 1 {
		t.Errorf("reads per Consumer per period = %g", got)
	}
	if got := r.requestsPerRead(); got != 5 {
		t.Errorf("requests per read = %g", got)
	}
	if got := otherKinds(r); got != 0 {
		t.Errorf("other kinds = %g", got)
	}
	r.steady.requests[int16(kmsg.OffsetCommit)] = 600
	if got := otherKinds(r); math.Abs(got-0.2) > 1e-9 {
		t.Errorf("other kinds with 600 OffsetCommits = %g, want 0.2", got)
	}
}

func TestQuietPeak(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	polls := []secondCount{
		{span{at(0), at(1)}, 40},
		{span{at(1), at(2)}, 300},  // during a tick
		{span{at(2), at(3)}, 200},  // the second after it
		{span{at(3), at(3.5)}, 30}, // 60/s
		{span{at(3.5), at(4.5)}, 50},
	}
	busy := []span{{at(1.2), at(1.9)}}
	if peak, ok := quietPeak(polls, busy); !ok || peak != 60 {
		t.Errorf("quiet peak = %g, %v; want 60", peak, ok)
	}
	if _, ok := quietPeak(polls[1:3], busy); ok {
		t.Error("a quiet peak among polls that all overlap a tick")
	}
	spans := []span{{at(-5), at(-3)}, {at(1), at(1.5)}, {at(10), at(10.2)}}
	if d := longestSpan(spans, span{at(0), at(11)}); d != 500*time.Millisecond {
		t.Errorf("longest span = %s, want 500ms (the one before the window does not count)", d)
	}
}

func TestConnectionLines(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	lines := connectionLines([]connRecord{
		{broker: "127.0.0.1:9092", opened: t0.Add(-30 * time.Second), requests: map[int16]int64{3: 2}},
		{broker: "127.0.0.1:9093", opened: t0.Add(2 * time.Second), closed: t0.Add(5500 * time.Millisecond),
			requests: map[int16]int64{18: 1, 2: 4}},
	}, t0)
	want := []string{
		"to 127.0.0.1:9092, opened at -30.0s, open at the end: Metadata=2",
		"to 127.0.0.1:9093, opened at +2.0s, closed at +5.5s: ListOffsets=4 ApiVersions=1",
	}
	if len(lines) != 2 || lines[0] != want[0] || lines[1] != want[1] {
		t.Errorf("lines\n%s\nwant\n%s", lines, want)
	}
}
