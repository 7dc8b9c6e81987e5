package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/observer/lag"
)

const topic, group = "orders", "orders-consumer"

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// cluster is a kfake cluster with a client that writes records and commits offsets as a real consumer would.
type cluster struct {
	*kfake.Cluster
	addrs []string
	cl    *kgo.Client
	adm   *kadm.Client
}

func newCluster(t *testing.T, partitions int32, clientOpts []kgo.Opt, opts ...kfake.Opt) *cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.RecordPartitioner(kgo.ManualPartitioner())}, clientOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &cluster{Cluster: c, addrs: c.ListenAddrs(), cl: cl, adm: kadm.NewClient(cl)}
}

func (c *cluster) produce(t *testing.T, partition int32, n int) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Value: []byte("x")}
	}
	if err := c.cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatalf("producing: %v", err)
	}
}

func (c *cluster) commit(t *testing.T, at map[int32]int64) {
	t.Helper()
	offsets := make(kadm.Offsets)
	for p, o := range at {
		offsets.AddOffset(topic, p, o, -1)
	}
	resp, err := c.adm.CommitOffsets(t.Context(), group, offsets)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("committing: %v", err)
	}
}

func spec(brokers []string) *konsumeratorv1.KafkaAutoscalerSpec {
	one := int64(100)
	return &konsumeratorv1.KafkaAutoscalerSpec{
		Brokers:       brokers,
		Topic:         topic,
		ConsumerGroup: group,
		MinSyncPeriod: &metav1.Duration{Duration: time.Minute},
		SizingSettings: konsumeratorv1.SizingSettings{
			RatePerCore: &one, RamPerCore: resource.MustParse("1Gi"),
		},
	}
}

type testSamples struct {
	*lag.Samples[*konsumeratorv1.KafkaAutoscalerSpec]
	src   *source
	clock *fakeClock
	reg   *prometheus.Registry
}

var testKey = lag.Key{Namespace: "team-a", Name: "orders", UID: "uid-1"}

func newTestSamples(t *testing.T, mutate func(*Options)) testSamples {
	t.Helper()
	clock := &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	reg := prometheus.NewRegistry()
	opts := Options{Registerer: reg, Clock: clock.Now, RequestTimeout: 3 * time.Second}
	if mutate != nil {
		mutate(&opts)
	}
	src, err := newSource(opts)
	if err != nil {
		t.Fatal(err)
	}
	return testSamples{Samples: lag.NewSamples[*konsumeratorv1.KafkaAutoscalerSpec](src, src.shared, clock.Now),
		src: src, clock: clock, reg: reg}
}

func (ts testSamples) sample(t *testing.T, s *konsumeratorv1.KafkaAutoscalerSpec, n int32) *model.MetricsSample {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return ts.Sample(ctx, testKey, s, n)
}

func f(v float64) *float64 { return &v }

// The figures the planner sizes from, measured against a real Kafka protocol implementation: the backlog of
// each read, the rates from the change between reads, and no rates (no data, not zero) on the first read.
func TestBacklogAndRatesFromOffsets(t *testing.T) {
	c := newCluster(t, 3, nil)
	for p := range int32(3) {
		c.produce(t, p, 100)
	}
	c.commit(t, map[int32]int64{0: 40, 1: 100})
	ts := newTestSamples(t, nil)
	s := spec(c.addrs)

	first := ts.sample(t, s, 3)
	want := &model.MetricsSample{
		Time: ts.clock.Now(),
		Partitions: []model.PartitionMetrics{
			{Partition: 0, MessagesBehind: f(60)},
			{Partition: 1, MessagesBehind: f(0)},
			{Partition: 2},
		},
		Problems: []string{"group orders-consumer has committed no offset for partitions 2: their backlog is unknown"},
	}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Fatalf("first read (-want +got):\n%s", diff)
	}

	ts.clock.Advance(time.Minute)
	c.produce(t, 0, 60)
	c.produce(t, 1, 120)
	c.commit(t, map[int32]int64{0: 100, 1: 220, 2: 10})
	second := ts.sample(t, s, 3)
	want = &model.MetricsSample{
		Time: ts.clock.Now(),
		Partitions: []model.PartitionMetrics{
			{Partition: 0, MessagesBehind: f(60), ProductionRate: f(1), ConsumptionRate: f(1)},
			{Partition: 1, MessagesBehind: f(0), ProductionRate: f(2), ConsumptionRate: f(2)},
			// The first read had no commit here: a backlog and a production rate, no consumption rate yet.
			{Partition: 2, MessagesBehind: f(90), ProductionRate: f(0)},
		},
		// The cache marks the first read with rates: no scale-down is started on it.
		AfterGap: true,
	}
	if diff := cmp.Diff(want, second); diff != "" {
		t.Fatalf("second read (-want +got):\n%s", diff)
	}

	// Rates are measured over the window (four sync periods), from its oldest read: 3 minutes later, 90 more
	// records on partition 0 are (60+90)/240s from the first read... the first read is 4 minutes old by then.
	for range 3 {
		ts.clock.Advance(time.Minute)
		c.produce(t, 0, 30)
		ts.sample(t, s, 3)
	}
	got := ts.sample(t, s, 3) // within the period: the cached sample
	// Reads at 0, 1, 2, 3, 4 minutes; at 4 the oldest read in the window is the one at 0 (240 s back).
	if p := got.Partitions[0].ProductionRate; p == nil || *p != 150.0/240 {
		t.Errorf("partition 0 production rate %v, want %v (150 records over the 4-minute window)", deref(p), 150.0/240)
	}
	if c := got.Partitions[0].ConsumptionRate; c == nil || *c != 60.0/240 {
		t.Errorf("partition 0 consumption rate %v, want %v", deref(c), 60.0/240)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestTopicWithAnotherPartitionCount(t *testing.T) {
	c := newCluster(t, 4, nil)
	for p := range int32(4) {
		c.produce(t, p, 10)
	}
	c.commit(t, map[int32]int64{0: 10, 1: 10, 2: 10, 3: 0})
	ts := newTestSamples(t, nil)

	got := ts.sample(t, spec(c.addrs), 2)
	if len(got.Partitions) != 2 || got.Partitions[1].Partition != 1 {
		t.Errorf("partitions %+v, want 0 and 1 only: the extra partitions are not read as anything", got.Partitions)
	}
	wantProblem := "topic orders has 4 partitions, numPartitions is 2: partitions 2 to 3 are not read"
	if !cmp.Equal(got.Problems, []string{wantProblem}) {
		t.Errorf("problems %q, want %q", got.Problems, wantProblem)
	}

	// Partitions added to the topic after the spec was written: the other way round.
	ts2 := newTestSamples(t, nil)
	got = ts2.sample(t, spec(c.addrs), 6)
	if len(got.Partitions) != 4 {
		t.Errorf("%d partitions, want the 4 the topic has", len(got.Partitions))
	}
	wantProblem = "topic orders has 4 partitions, numPartitions is 6: partitions 4 to 5 have no data"
	if !cmp.Equal(got.Problems, []string{wantProblem}) {
		t.Errorf("problems %q, want %q", got.Problems, wantProblem)
	}
}

func TestPartitionsAddedMidRun(t *testing.T) {
	defer func(d time.Duration) { metadataMinAge = d }(metadataMinAge)
	metadataMinAge = 10 * time.Millisecond
	c := newCluster(t, 2, nil)
	c.commit(t, map[int32]int64{0: 0, 1: 0})
	ts := newTestSamples(t, nil)
	s := spec(c.addrs)
	if got := ts.sample(t, s, 2); len(got.Problems) != 0 {
		t.Fatalf("problems before the change: %q", got.Problems)
	}
	if _, err := c.adm.UpdatePartitions(t.Context(), 3, topic); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	ts.clock.Advance(time.Minute)
	got := ts.sample(t, s, 2)
	want := []string{"topic orders has 3 partitions, numPartitions is 2: partitions 2 to 2 are not read"}
	if !cmp.Equal(got.Problems, want) {
		t.Errorf("problems %q, want %q", got.Problems, want)
	}
}

func TestGroupWithNoCommitsAndGroupDeleted(t *testing.T) {
	c := newCluster(t, 2, nil)
	c.produce(t, 0, 5)
	ts := newTestSamples(t, nil)
	s := spec(c.addrs)

	got := ts.sample(t, s, 2)
	want := &model.MetricsSample{
		Time:       ts.clock.Now(),
		Partitions: []model.PartitionMetrics{{Partition: 0}, {Partition: 1}},
		Problems: []string{"group orders-consumer has committed no offset for topic orders (a new group, a deleted one, " +
			"or the wrong name): backlogs unknown"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("a group that never committed (-want +got):\n%s", diff)
	}

	c.commit(t, map[int32]int64{0: 5, 1: 0})
	ts.clock.Advance(time.Minute)
	if got := ts.sample(t, s, 2); got.Partitions[0].MessagesBehind == nil || len(got.Problems) != 0 {
		t.Fatalf("after commits: %+v", got)
	}
	resp, err := c.adm.DeleteGroups(t.Context(), group)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	ts.clock.Advance(time.Minute)
	got = ts.sample(t, s, 2)
	if got.Error != "" || got.Partitions[0].MessagesBehind != nil || len(got.Problems) != 1 ||
		!strings.Contains(got.Problems[0], "has committed no offset") {
		t.Errorf("after the group was deleted: %+v", got)
	}
}

func TestMissingTopic(t *testing.T) {
	c := newCluster(t, 1, nil)
	ts := newTestSamples(t, nil)
	s := spec(c.addrs)
	s.Topic = "nope"
	got := ts.sample(t, s, 1)
	want := "Kafka at " + c.addrs[0] + ": topic nope does not exist"
	if got.Error != want {
		t.Errorf("Error %q, want %q", got.Error, want)
	}
	if n := testutil.ToFloat64(ts.src.in.readErrors.WithLabelValues(string(reasonNotFound))); n != 1 {
		t.Errorf("%v read errors with reason not_found, want 1", n)
	}
}

// A broker that goes away mid-run: the last good values stay with their time, the error says why, and it reads
// the same on every failed read (the condition made from it does not flap).
func TestBrokerDownKeepsTheLastGoodValues(t *testing.T) {
	c := newCluster(t, 2, nil)
	c.produce(t, 0, 10)
	c.commit(t, map[int32]int64{0: 4, 1: 0})
	ts := newTestSamples(t, func(o *Options) { o.RequestTimeout = time.Second })
	s := spec(c.addrs)
	good := ts.sample(t, s, 2)
	if good.Error != "" || good.Partitions[0].MessagesBehind == nil {
		t.Fatalf("first read: %+v", good)
	}

	c.Close()
	ts.clock.Advance(time.Minute)
	down := ts.sample(t, s, 2)
	if down.Error == "" || !down.Time.Equal(good.Time) || !cmp.Equal(down.Partitions, good.Partitions) {
		t.Fatalf("during the outage: %+v, want the last good values with an Error", down)
	}
	if !strings.HasPrefix(down.Error, "Kafka at "+c.addrs[0]+": ") {
		t.Errorf("Error %q does not name the brokers", down.Error)
	}
	ts.clock.Advance(time.Minute)
	again := ts.sample(t, s, 2)
	if again.Error != down.Error {
		t.Errorf("the error changed between two failed reads: %q then %q", down.Error, again.Error)
	}
	t.Logf("error during the outage: %s", down.Error)
}

func TestAddressPolicyAppliesToBrokers(t *testing.T) {
	c := newCluster(t, 1, nil)
	deny, err := lag.ParseAddressRules("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestSamples(t, func(o *Options) { o.AddressPolicy = &lag.AddressPolicy{Deny: deny} })
	got := ts.sample(t, spec(c.addrs), 1)
	want := "Kafka at " + c.addrs[0] + ": address not allowed by the operator's address policy (denied: 127.0.0.0/8)"
	if got.Error != want {
		t.Errorf("Error %q, want %q", got.Error, want)
	}
}

// The metadata names the brokers the client then talks to. A cluster that names an address the policy denies
// does not get a connection to it.
func TestBrokersFromMetadataGoThroughThePolicy(t *testing.T) {
	c := newCluster(t, 1, nil)
	c.commit(t, map[int32]int64{0: 0})
	// Allow the bootstrap address by name only: the broker advertises itself as 127.0.0.1, which no rule allows.
	host, _, _ := net.SplitHostPort(c.addrs[0])
	_ = host
	allow, err := lag.ParseAddressRules("localhost")
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestSamples(t, func(o *Options) { o.AddressPolicy = &lag.AddressPolicy{Allow: allow} })
	_, port, _ := net.SplitHostPort(c.addrs[0])
	got := ts.sample(t, spec([]string{"localhost:" + port}), 1)
	if !strings.Contains(got.Error, "address not allowed") {
		t.Errorf("Error %q, want the advertised broker refused by the policy", got.Error)
	}
}

func TestOneClientPerBrokerSetClosedWithTheLastConsumer(t *testing.T) {
	c := newCluster(t, 1, nil)
	ts := newTestSamples(t, nil)
	s := spec(c.addrs)
	other := lag.Key{Namespace: "team-b", Name: "payments", UID: "uid-2"}
	ts.sample(t, s, 1)
	ts.Sample(t.Context(), other, s, 1)
	if n := testutil.ToFloat64(gauge(t, ts.reg, "konsumerator_kafka_clients")); n != 1 {
		t.Fatalf("%v clients for two Consumers of one cluster, want 1", n)
	}
	ts.Forget(testKey)
	if n := testutil.ToFloat64(gauge(t, ts.reg, "konsumerator_kafka_clients")); n != 1 {
		t.Fatalf("%v clients after one of two Consumers went, want 1", n)
	}
	ts.Forget(lag.Key{Namespace: other.Namespace, Name: other.Name})
	if n := testutil.ToFloat64(gauge(t, ts.reg, "konsumerator_kafka_clients")); n != 0 {
		t.Fatalf("%v clients after both went, want 0", n)
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	return collectorFunc(func(ch chan<- prometheus.Metric) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, "", nil, nil), prometheus.GaugeValue,
					mf.GetMetric()[0].GetGauge().GetValue())
			}
		}
	})
}

type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(chan<- *prometheus.Desc)    {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

func secrets(values map[string]string) lag.SecretGetter {
	return lag.SecretGetterFunc(func(_ context.Context, namespace, name, key string) ([]byte, error) {
		v, ok := values[namespace+"/"+name+"/"+key]
		if !ok {
			return nil, fmt.Errorf("secrets %q not found", name)
		}
		return []byte(v), nil
	})
}

func TestSASL(t *testing.T) {
	for _, mechanism := range []konsumeratorv1.KafkaSASLMechanism{konsumeratorv1.SASLPlain,
		konsumeratorv1.SASLScramSHA256, konsumeratorv1.SASLScramSHA512} {
		t.Run(string(mechanism), func(t *testing.T) {
			c := newCluster(t, 1,
				[]kgo.Opt{kgo.SASL(scram.Auth{User: "admin", Pass: "admin-pass"}.AsSha256Mechanism())},
				kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "admin", "admin-pass"),
				kfake.Superuser(string(mechanism), "reader", "s3cret"))
			c.produce(t, 0, 7)
			c.commit(t, map[int32]int64{0: 2})

			s := spec(c.addrs)
			s.SASL = &konsumeratorv1.KafkaSASL{
				Mechanism: mechanism,
				Username:  corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "kafka"}, Key: "user"},
				Password:  corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "kafka"}, Key: "pass"},
			}
			ts := newTestSamples(t, func(o *Options) {
				o.Secrets = secrets(map[string]string{"team-a/kafka/user": "reader\n", "team-a/kafka/pass": "s3cret"})
			})
			got := ts.sample(t, s, 1)
			if got.Error != "" || got.Partitions[0].MessagesBehind == nil || *got.Partitions[0].MessagesBehind != 5 {
				t.Fatalf("with the right password: %+v", got)
			}

			wrong := newTestSamples(t, func(o *Options) {
				o.Secrets = secrets(map[string]string{"team-a/kafka/user": "reader", "team-a/kafka/pass": "wrong"})
			})
			got = wrong.sample(t, s, 1)
			// Kafka answers SASL_AUTHENTICATION_FAILED (and the text says so); kfake hangs up.
			want := "Kafka at " + c.addrs[0] + ": the broker closed the connection (wrong SASL credentials?)"
			if got.Error != want {
				t.Errorf("Error %q, want %q", got.Error, want)
			}

			missing := newTestSamples(t, func(o *Options) { o.Secrets = secrets(nil) })
			got = missing.sample(t, s, 1)
			if !strings.HasPrefix(got.Error, `credentials for Kafka: sasl.username: Secret kafka key "user"`) {
				t.Errorf("Error %q, want the missing Secret named", got.Error)
			}
		})
	}
}

// certificates makes a CA and a server certificate for 127.0.0.1 signed by it.
func certificates(t *testing.T) (caPEM []byte, server tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kafka"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestTLS(t *testing.T) {
	caPEM, server := certificates(t)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	c := newCluster(t, 1, []kgo.Opt{kgo.DialTLSConfig(&tls.Config{RootCAs: pool})},
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{server}}))
	c.produce(t, 0, 3)
	c.commit(t, map[int32]int64{0: 1})

	s := spec(c.addrs)
	s.TLS = &konsumeratorv1.KafkaTLS{CASecret: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "kafka"}, Key: "ca.crt"}}
	ts := newTestSamples(t, func(o *Options) { o.Secrets = secrets(map[string]string{"team-a/kafka/ca.crt": string(caPEM)}) })
	got := ts.sample(t, s, 1)
	if got.Error != "" || got.Partitions[0].MessagesBehind == nil || *got.Partitions[0].MessagesBehind != 2 {
		t.Fatalf("over TLS with the CA: %+v", got)
	}

	s.TLS = &konsumeratorv1.KafkaTLS{} // the system's CAs, which did not sign the broker's certificate
	got = newTestSamples(t, nil).sample(t, s, 1)
	if want := "Kafka at " + c.addrs[0] + ": TLS: certificate signed by an unknown authority"; got.Error != want {
		t.Errorf("Error %q, want %q", got.Error, want)
	}

	s.TLS = nil // plain TCP to a TLS listener
	got = newTestSamples(t, nil).sample(t, s, 1)
	if got.Error == "" {
		t.Errorf("plain TCP to a TLS broker read %+v", got)
	}
	t.Logf("plain TCP to a TLS broker: %s", got.Error)
}

// Failures a real Kafka answers with an error code (kfake hangs up instead) read as fixed texts.
func TestClassifyBrokerErrors(t *testing.T) {
	s := spec([]string{"b:9092", "a:9092", "a:9092"})
	for _, tt := range []struct {
		err    error
		reason failureReason
		text   string
	}{
		{fmt.Errorf("authenticating: %w", kerr.SaslAuthenticationFailed), reasonUnauthorized, "SASL authentication failed (wrong username or password)"},
		{kerr.UnsupportedSaslMechanism, reasonBrokerError, "broker error UNSUPPORTED_SASL_MECHANISM"},
		{kerr.TopicAuthorizationFailed, reasonUnauthorized, "not authorized to describe topic orders"},
		{&groupError{err: kerr.GroupAuthorizationFailed}, reasonUnauthorized, "not authorized to read the offsets of group orders-consumer"},
		{&groupError{err: kerr.CoordinatorNotAvailable}, reasonBrokerError, "reading the offsets of group orders-consumer: broker error COORDINATOR_NOT_AVAILABLE"},
		{errTooManyConns, reasonTooManyConns, "the brokers need more than the operator's limit of 32 connections"},
		{fmt.Errorf("invalid large response size 1213486160 > limit 4194304; the four size bytes are 'HTTP' in ascii"), reasonBadResponse, "not a Kafka broker (it answered HTTP)"},
		{context.DeadlineExceeded, reasonTimeout, "timed out"},
	} {
		f := classify(context.Background(), tt.err, s)
		if f.reason != tt.reason || f.text != "Kafka at a:9092, b:9092: "+tt.text {
			t.Errorf("classify(%v) = %s %q, want %s %q", tt.err, f.reason, f.text, tt.reason, tt.text)
		}
	}
}

// hostileBroker accepts connections and answers every request with what answer writes.
func hostileBroker(t *testing.T, answer func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				_, _ = c.Read(buf) // the client's first request
				answer(c)
			}()
		}
	}()
	return l.Addr().String()
}

// A broker named by a Consumer cannot make the operator read a huge answer or wait beyond the timeout.
func TestHostileBrokersAreBounded(t *testing.T) {
	huge := hostileBroker(t, func(c net.Conn) {
		_, _ = c.Write([]byte{0x7f, 0xff, 0xff, 0xff}) // a 2 GiB answer announced
		_, _ = c.Write(make([]byte, 1<<20))
	})
	httpish := hostileBroker(t, func(c net.Conn) { _, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n")) })
	silent := hostileBroker(t, func(c net.Conn) { time.Sleep(10 * time.Second) })

	ts := newTestSamples(t, func(o *Options) { o.RequestTimeout = time.Second })
	for _, tt := range []struct{ addr, want string }{
		{huge, "answer larger than the operator's limit"},
		{httpish, "not a Kafka broker (it answered HTTP)"},
		{silent, "timed out"},
	} {
		start := time.Now()
		got := ts.Sample(t.Context(), lag.Key{Namespace: "x", Name: tt.addr, UID: "u"}, spec([]string{tt.addr}), 1)
		if want := "Kafka at " + tt.addr + ": " + tt.want; got.Error != want {
			t.Errorf("Error %q, want %q", got.Error, want)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: the read took %s with a 1s timeout", tt.want, d)
		}
	}
}
