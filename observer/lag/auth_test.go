package lag

import (
	"context"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/model"
)

// secretMap is a SecretGetter over "namespace/name/key" entries that a test can change between fetches.
type secretMap struct {
	mu     sync.Mutex
	values map[string]string
}

func (m *secretMap) set(namespace, name, key, value string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.values == nil {
		m.values = map[string]string{}
	}
	m.values[namespace+"/"+name+"/"+key] = value
}

func (m *secretMap) GetSecretKey(_ context.Context, namespace, name, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.values[namespace+"/"+name+"/"+key]
	if !ok {
		return nil, fmt.Errorf("secrets %q not found", name)
	}
	return []byte(v), nil
}

func selector(name, key string) corev1.SecretKeySelector {
	return corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}
}

func caPEM(f *fakeProm) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.Certificate().Raw}))
}

func requireHeader(want string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Header.Get("Authorization") == want }
}

func tlsSpec(f *fakeProm) *konsumeratorv1.PrometheusAutoscalerSpec {
	spec := fakeSpec(f.URL)
	ca := selector("prometheus-ca", "ca.crt")
	spec.TLS = &konsumeratorv1.PrometheusTLS{CASecret: &ca}
	return spec
}

func TestBearerTokenFromASecretOverTLS(t *testing.T) {
	fake := newFakePromTLS(t, goodReplies(), requireHeader("Bearer s3cret"))
	secrets := &secretMap{}
	secrets.set(testKey.Namespace, "prometheus-ca", "ca.crt", caPEM(fake))
	secrets.set(testKey.Namespace, "prometheus-token", "token", "s3cret\n") // as kubectl --from-file keeps it
	tc := newTestCache(t, func(o *Options) { o.Secrets = secrets })
	spec := tlsSpec(fake)
	token := selector("prometheus-token", "token")
	spec.BearerTokenSecret = &token

	got := tc.sample(t, spec, 3)

	want := &model.MetricsSample{Time: tc.clock.Now(), Partitions: goodPartitions}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sample (-want +got):\n%s", diff)
	}
}

func TestBasicAuthFromSecrets(t *testing.T) {
	fake := newFakePromTLS(t, goodReplies(), func(r *http.Request) bool {
		user, pass, ok := r.BasicAuth()
		return ok && user == "konsumerator" && pass == "pa55"
	})
	secrets := &secretMap{}
	secrets.set(testKey.Namespace, "prometheus-ca", "ca.crt", caPEM(fake))
	secrets.set(testKey.Namespace, "prometheus-basic", "username", "konsumerator")
	secrets.set(testKey.Namespace, "prometheus-basic", "password", "pa55")
	tc := newTestCache(t, func(o *Options) { o.Secrets = secrets })
	spec := tlsSpec(fake)
	spec.BasicAuth = &konsumeratorv1.BasicAuth{
		Username: selector("prometheus-basic", "username"),
		Password: selector("prometheus-basic", "password"),
	}

	got := tc.sample(t, spec, 3)

	if diff := cmp.Diff(goodPartitions, got.Partitions); diff != "" || got.Error != "" {
		t.Errorf("Error = %q; partitions (-want +got):\n%s", got.Error, diff)
	}
}

func TestARotatedSecretIsUsedFromTheNextFetch(t *testing.T) {
	var mu sync.Mutex
	accepted := "Bearer old"
	fake := newFakePromTLS(t, goodReplies(), func(r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		return r.Header.Get("Authorization") == accepted
	})
	secrets := &secretMap{}
	secrets.set(testKey.Namespace, "prometheus-ca", "ca.crt", caPEM(fake))
	secrets.set(testKey.Namespace, "prometheus-token", "token", "old")
	tc := newTestCache(t, func(o *Options) { o.Secrets = secrets })
	spec := tlsSpec(fake)
	token := selector("prometheus-token", "token")
	spec.BearerTokenSecret = &token
	if got := tc.sample(t, spec, 3); got.Error != "" {
		t.Fatalf("Error = %q with the old token", got.Error)
	}

	// Prometheus' side rotates first: the old token is refused.
	mu.Lock()
	accepted = "Bearer new"
	mu.Unlock()
	tc.clock.Advance(time.Minute)
	got := tc.sample(t, spec, 3)
	if want := "offset, production and consumption queries failed on every address (" + fake.URL +
		": unauthorized (HTTP 401))"; got.Error != want {
		t.Fatalf("Error = %q, want %q", got.Error, want)
	}
	if n := testutil.ToFloat64(tc.in.requestErrors.WithLabelValues(fake.URL, "offset", string(reasonUnauthorized))); n != 1 {
		t.Errorf("request_errors_total{reason=unauthorized} = %v, want 1", n)
	}

	// Then the Secret is updated: the next fetch uses it, with no restart and no spec change.
	secrets.set(testKey.Namespace, "prometheus-token", "token", "new")
	tc.clock.Advance(time.Minute)
	got = tc.sample(t, spec, 3)
	if got.Error != "" || !got.Time.Equal(tc.clock.Now()) {
		t.Errorf("after the Secret changed: Error = %q, time = %v; want a fresh read", got.Error, got.Time)
	}
	if n := tc.provider.clientCount(); n != 2 {
		t.Errorf("%d HTTP clients, want 2 (one per distinct credentials)", n)
	}

	// The client for the old token is closed once nobody has used it for a while.
	tc.clock.Advance(2 * clientIdleTTL)
	tc.sample(t, spec, 3)
	if n := tc.provider.clientCount(); n != 1 {
		t.Errorf("%d HTTP clients long after the rotation, want 1", n)
	}
}

func TestCredentialProblemsAreErrors(t *testing.T) {
	fake := newFakePromTLS(t, goodReplies(), nil)
	ca := caPEM(fake)

	tests := []struct {
		name      string
		secrets   SecretGetter
		mutate    func(*konsumeratorv1.PrometheusAutoscalerSpec)
		wantError string
	}{
		{
			name:    "missing token Secret",
			secrets: secretsWith(map[string]string{"prometheus-ca/ca.crt": ca}),
			mutate: func(s *konsumeratorv1.PrometheusAutoscalerSpec) {
				token := selector("prometheus-token", "token")
				s.BearerTokenSecret = &token
			},
			wantError: `credentials for Prometheus: bearerTokenSecret: Secret prometheus-token key "token": secrets "prometheus-token" not found`,
		},
		{
			name:    "missing basic-auth password",
			secrets: secretsWith(map[string]string{"prometheus-ca/ca.crt": ca, "basic/username": "u"}),
			mutate: func(s *konsumeratorv1.PrometheusAutoscalerSpec) {
				s.BasicAuth = &konsumeratorv1.BasicAuth{Username: selector("basic", "username"), Password: selector("basic", "password")}
			},
			wantError: `credentials for Prometheus: basicAuth.password: Secret basic key "password": secrets "basic" not found`,
		},
		{
			name:      "a CA Secret without a certificate",
			secrets:   secretsWith(map[string]string{"prometheus-ca/ca.crt": "not a certificate"}),
			wantError: `credentials for Prometheus: tls.caSecret: Secret prometheus-ca key "ca.crt" holds no PEM certificate`,
		},
		{
			name:      "no SecretGetter configured",
			secrets:   nil,
			wantError: `credentials for Prometheus: tls.caSecret: Secret prometheus-ca key "ca.crt": the operator was started without access to Secrets`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCache(t, func(o *Options) { o.Secrets = tt.secrets })
			spec := tlsSpec(fake)
			if tt.mutate != nil {
				tt.mutate(spec)
			}

			got := tc.sample(t, spec, 3)

			if diff := cmp.Diff(&model.MetricsSample{Error: tt.wantError}, got); diff != "" {
				t.Errorf("sample (-want +got):\n%s", diff)
			}
			if n := testutil.ToFloat64(tc.in.problems.WithLabelValues(testKey.Namespace, testKey.Name,
				string(ProblemCredentialsUnavailable))); n != 1 {
				t.Errorf("problems_total{problem=credentials_unavailable} = %v, want 1", n)
			}
			if n := fake.requests.Load(); n != 0 {
				t.Errorf("%d requests sent without the credentials the spec asks for, want 0", n)
			}
		})
	}
}

func TestAnOptionalSecretThatIsMissingSendsNoCredentials(t *testing.T) {
	fake := newFakePromTLS(t, goodReplies(), requireHeader(""))
	tc := newTestCache(t, func(o *Options) {
		o.Secrets = secretsWith(map[string]string{"prometheus-ca/ca.crt": caPEM(fake)})
	})
	spec := tlsSpec(fake)
	optional := true
	token := selector("prometheus-token", "token")
	token.Optional = &optional
	spec.BearerTokenSecret = &token

	if got := tc.sample(t, spec, 3); got.Error != "" {
		t.Errorf("Error = %q, want a read without credentials", got.Error)
	}
}

func TestTLSVerification(t *testing.T) {
	fake := newFakePromTLS(t, goodReplies(), nil)
	secrets := secretsWith(map[string]string{"prometheus-ca/ca.crt": caPEM(fake)})

	tests := []struct {
		name     string
		tls      func(ca *corev1.SecretKeySelector) *konsumeratorv1.PrometheusTLS
		wantFail string
	}{
		{"system roots do not know the test CA", func(*corev1.SecretKeySelector) *konsumeratorv1.PrometheusTLS { return nil },
			"TLS: certificate signed by an unknown authority"},
		{"the CA from the Secret", func(ca *corev1.SecretKeySelector) *konsumeratorv1.PrometheusTLS {
			return &konsumeratorv1.PrometheusTLS{CASecret: ca}
		}, ""},
		{"a server name the certificate has", func(ca *corev1.SecretKeySelector) *konsumeratorv1.PrometheusTLS {
			return &konsumeratorv1.PrometheusTLS{CASecret: ca, ServerName: "example.com"}
		}, ""},
		{"a server name the certificate does not have", func(ca *corev1.SecretKeySelector) *konsumeratorv1.PrometheusTLS {
			return &konsumeratorv1.PrometheusTLS{CASecret: ca, ServerName: "prometheus.monitoring.svc"}
		}, "TLS: certificate is not valid for the server name"},
		{"verification turned off", func(*corev1.SecretKeySelector) *konsumeratorv1.PrometheusTLS {
			return &konsumeratorv1.PrometheusTLS{InsecureSkipVerify: true}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCache(t, func(o *Options) { o.Secrets = secrets })
			spec := fakeSpec(fake.URL)
			ca := selector("prometheus-ca", "ca.crt")
			spec.TLS = tt.tls(&ca)

			got := tc.sample(t, spec, 3)

			if tt.wantFail == "" {
				if diff := cmp.Diff(goodPartitions, got.Partitions); diff != "" || got.Error != "" {
					t.Errorf("Error = %q; partitions (-want +got):\n%s", got.Error, diff)
				}
				return
			}
			if !strings.Contains(got.Error, fake.URL+": "+tt.wantFail) {
				t.Errorf("Error = %q, want it to say %q", got.Error, tt.wantFail)
			}
			if n := testutil.ToFloat64(tc.in.requestErrors.WithLabelValues(fake.URL, "offset", string(reasonTLS))); n != 1 {
				t.Errorf("request_errors_total{reason=tls} = %v, want 1", n)
			}
		})
	}
}

func TestPlainHTTPToATLSServerAndBack(t *testing.T) {
	tlsFake := newFakePromTLS(t, goodReplies(), nil)
	plainFake := newFakeProm(t, goodReplies())
	tc := newTestCache(t, nil)

	got := tc.sample(t, fakeSpec(strings.Replace(plainFake.URL, "http://", "https://", 1)), 3)
	if !strings.Contains(got.Error, "TLS: the server does not speak TLS") {
		t.Errorf("https to a plain server: Error = %q", got.Error)
	}
	got = tc.sample(t, fakeSpec(strings.Replace(tlsFake.URL, "https://", "http://", 1)), 3)
	if !strings.Contains(got.Error, "HTTP 400") {
		t.Errorf("http to a TLS server: Error = %q", got.Error)
	}
}

// secretsWith serves "name/key" entries in the test Consumer's namespace.
func secretsWith(entries map[string]string) *secretMap {
	m := &secretMap{}
	for k, v := range entries {
		name, key, _ := strings.Cut(k, "/")
		m.set(testKey.Namespace, name, key, v)
	}
	return m
}

// Many Consumers with their own tokens for one Prometheus share one connection pool: reading all of them opens
// as many connections as queries run at once, not a pool per Consumer, and every request still carries its
// own Consumer's token.
func TestClientsOfOneServerShareTheirConnections(t *testing.T) {
	const consumers = 50
	var conns atomic.Int64
	var wrongToken atomic.Int64
	f := &fakeProm{replies: goodReplies(), auth: func(r *http.Request) bool {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer token-") {
			wrongToken.Add(1)
		}
		return true
	}}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.Config.ErrorLog = quietLog
	f.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	f.StartTLS()
	t.Cleanup(f.Close)

	secrets := &secretMap{}
	secrets.set(testKey.Namespace, "prometheus-ca", "ca.crt", caPEM(f))
	tc := newTestCache(t, func(o *Options) { o.Secrets = secrets })
	for i := range consumers {
		name := fmt.Sprintf("token-%d", i)
		secrets.set(testKey.Namespace, name, "token", name)
		spec := tlsSpec(f)
		token := selector(name, "token")
		spec.BearerTokenSecret = &token
		key := Key{Namespace: testKey.Namespace, Name: fmt.Sprintf("c-%d", i), UID: types.UID(fmt.Sprintf("uid-%d", i))}
		if got := tc.Sample(t.Context(), key, spec, 3); got.Error != "" {
			t.Fatalf("%s: %s", key.Name, got.Error)
		}
	}
	if n := tc.provider.clientCount(); n != consumers {
		t.Errorf("%d clients, want one per token (%d)", n, consumers)
	}
	if n := tc.provider.transportCount(); n != 1 {
		t.Errorf("%d transports, want 1 for one server", n)
	}
	// One read runs its 3 queries at once; reads one after another reuse those connections (a connection may be
	// handed back a moment after the next read starts, hence twice that). A pool per client would open 3 each.
	if n := conns.Load(); n > 6 {
		t.Errorf("%d connections for %d Consumers read one after another, want at most 6", n, consumers)
	}
	if n := wrongToken.Load(); n != 0 {
		t.Errorf("%d requests without their Consumer's token", n)
	}
}
