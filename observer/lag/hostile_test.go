package lag

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	corev1 "k8s.io/api/core/v1"
)

// These tests play a metrics source run by someone who wants to hurt the operator. Every server listens on
// loopback; no test sends a packet anywhere else.

func TestAnswerOverTheLimitIsRefusedWithAClearError(t *testing.T) {
	t.Parallel()
	big := vectorJSON(part("0", "1"), part("1", "2"), part("2", "3"))
	f := newFakeProm(t, map[string]reply{fakeOffsetQuery: {body: big}})
	tc := newTestCache(t, func(o *Options) { o.MaxResponseBytes = int64(len(big) - 1) })
	got := tc.sample(t, fakeSpec(f.URL), 3)
	want := "offset query failed on every address (" + f.URL + ": answer larger than the operator's limit of " +
		formatBytes(int64(len(big)-1)) + ")"
	if got.Error != want {
		t.Errorf("error:\n got %q\nwant %q", got.Error, want)
	}
	if n := requestErrors(t, tc, reasonTooLarge); n != 1 {
		t.Errorf("too_large errors counted: %v, want 1", n)
	}

	// An answer of exactly the limit is fine.
	tc = newTestCache(t, func(o *Options) { o.MaxResponseBytes = int64(len(big)) })
	if got := tc.sample(t, fakeSpec(f.URL), 3); got.Error != "" || len(got.Partitions) != 3 {
		t.Errorf("an answer of exactly the limit: %+v", got)
	}
}

func TestLimitedBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		body          string
		contentLength int64
		limit         int64
		wantErr       bool
	}{
		{name: "under the limit", body: "abc", contentLength: -1, limit: 4},
		{name: "exactly the limit", body: "abcd", contentLength: -1, limit: 4},
		{name: "one byte over", body: "abcde", contentLength: -1, limit: 4, wantErr: true},
		{name: "announced over the limit, nothing read", body: "", contentLength: 5, limit: 4, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read := &countingReader{r: strings.NewReader(tc.body)}
			rt := limitRoundTripper{limit: tc.limit, next: roundTripperFunc(func(*http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Body: io.NopCloser(read), ContentLength: tc.contentLength}, nil
			})}
			resp, err := rt.RoundTrip(httptest.NewRequest(http.MethodGet, "http://127.0.0.1/", nil))
			var got []byte
			if err == nil {
				got, err = io.ReadAll(resp.Body)
			}
			if _, tooLarge := isTooLarge(err); tooLarge != tc.wantErr {
				t.Fatalf("err = %v, want a too-large error: %v", err, tc.wantErr)
			}
			if int64(len(got)) > tc.limit || read.n > tc.limit+1 {
				t.Errorf("kept %d bytes and read %d with a limit of %d", len(got), read.n, tc.limit)
			}
		})
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestSlowDripEndsAtTheTimeout(t *testing.T) {
	t.Parallel()
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for {
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(50 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	}))
	s.Config.ErrorLog = quietLog
	s.Start()
	t.Cleanup(s.Close)
	tc := newTestCache(t, func(o *Options) { o.RequestTimeout = time.Second })
	start := time.Now()
	got := tc.sample(t, fakeSpec(s.URL), 1)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a slow drip held the fetch for %s with a timeout of 1s", took)
	}
	if !strings.Contains(got.Error, s.URL+": timed out") {
		t.Errorf("error = %q, want a timeout", got.Error)
	}
}

func TestRedirectToAnotherHostIsNotFollowed(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int64
	var leaked atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		leaked.Store(r.Header.Get("Authorization"))
		_, _ = w.Write([]byte(vectorJSON(part("0", "1"))))
	}))
	t.Cleanup(other.Close)
	// The same server under another host name is another host as far as redirects go.
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, otherURL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)

	spec := fakeSpec(redirector.URL)
	spec.BearerTokenSecret = secretRef("prom", "token")
	tc := newTestCache(t, func(o *Options) {
		secrets := &secretMap{}
		secrets.set("team-a", "prom", "token", "s3cret")
		o.Secrets = secrets
	})
	got := tc.sample(t, spec, 1)
	if !strings.Contains(got.Error, "redirected to another host, which the operator does not follow") {
		t.Errorf("error = %q, want the redirect refused", got.Error)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the other host got %d requests (Authorization %q)", n, leaked.Load())
	}
	if n := requestErrors(t, tc, reasonRedirect); n != 3 {
		t.Errorf("redirect errors counted: %v, want 3", n)
	}
}

func TestRedirectOnTheSameHostIsFollowed(t *testing.T) {
	t.Parallel()
	f := newFakeProm(t, map[string]reply{})
	// A proxy in front of Prometheus that moved it under a path prefix.
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/query", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/prom/api/v1/query?"+r.URL.RawQuery, http.StatusFound)
	})
	target, _ := url.Parse(f.URL)
	mux.HandleFunc("/prom/", func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = strings.TrimPrefix(r.URL.Path, "/prom")
		r.URL.Scheme, r.URL.Host, r.RequestURI = target.Scheme, target.Host, ""
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
	proxy := httptest.NewServer(mux)
	t.Cleanup(proxy.Close)
	tc := newTestCache(t, nil)
	if got := tc.sample(t, fakeSpec(proxy.URL), 1); got.Error != "" {
		t.Errorf("a redirect on the same host: %q", got.Error)
	}
}

func TestLinkLocalAddressIsRefusedBeforeAnyPacket(t *testing.T) {
	t.Parallel()
	tc := newTestCache(t, nil)
	// Refused from the URL alone: no connection is attempted, so nothing is routed there.
	got := tc.sample(t, fakeSpec("http://169.254.169.254/latest/meta-data/"), 1)
	want := "http://169.254.169.254/latest/meta-data/: address not allowed by the operator's address policy (denied: 169.254.0.0/16)"
	if !strings.Contains(got.Error, want) {
		t.Errorf("error = %q, want it to contain %q", got.Error, want)
	}
	if n := requestErrors(t, tc, reasonDenied); n != 3 {
		t.Errorf("denied errors counted: %v, want 3", n)
	}
	for _, address := range []string{"169.254.169.254:80", "[fe80::1%25lo]:80", "[::ffff:169.254.169.254]:80", "[fd00:ec2::254]:80"} {
		address, _ = url.PathUnescape(address)
		if err := DefaultAddressPolicy().dialControl(false)("tcp", address, nil); err == nil {
			t.Errorf("the dial check let %s through", address)
		}
	}
	if err := DefaultAddressPolicy().dialControl(false)("tcp", "127.0.0.1:9090", nil); err != nil {
		t.Errorf("the dial check refused loopback: %v", err)
	}
}

// TestDeniedIPBehindANameIsRefusedAtDialTime: the name is only resolved when dialing, so the check must happen
// there; a server on the denied address sees no connection at all.
func TestDeniedIPBehindANameIsRefusedAtDialTime(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(vectorJSON(part("0", "1"))))
	}))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	deny, err := ParseAddressRules("127.0.0.0/8, ::1/128")
	if err != nil {
		t.Fatal(err)
	}
	tc := newTestCache(t, func(o *Options) { o.AddressPolicy = &AddressPolicy{Deny: deny} })
	byName := strings.Replace(s.URL, "127.0.0.1", "localhost", 1)
	got := tc.sample(t, fakeSpec(byName), 1)
	if !strings.Contains(got.Error, "address not allowed by the operator's address policy (denied: 127.0.0.0/8)") &&
		!strings.Contains(got.Error, "address not allowed by the operator's address policy (denied: ::1/128)") {
		t.Errorf("error = %q, want the dialed address refused", got.Error)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the server saw %d connections", n)
	}
}

func TestGarbageTLSIsAClearError(t *testing.T) {
	t.Parallel()
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
				junk := make([]byte, 1<<20)
				_, _ = rand.Read(junk)
				_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				_, _ = c.Write(junk)
			}()
		}
	}()
	tc := newTestCache(t, func(o *Options) { o.RequestTimeout = 2 * time.Second })
	address := "https://" + l.Addr().String()
	got := tc.sample(t, fakeSpec(address), 1)
	if !strings.Contains(got.Error, address+": TLS:") {
		t.Errorf("error = %q, want a TLS error", got.Error)
	}
}

// TestRemoteTextIsQuotedShortAndClean: what a server says in its error ends up in the Consumer's status, so it
// is cut short and cleaned of control characters and line breaks.
func TestRemoteTextIsQuotedShortAndClean(t *testing.T) {
	t.Parallel()
	msg := "parse error:\n\x1b[31mBEGIN \u202eevil\r\n" + strings.Repeat("A", 10_000)
	body := `{"status":"error","errorType":"bad_data","error":` + jsonString(msg) + `}`
	f := newFakeProm(t, map[string]reply{fakeOffsetQuery: {status: http.StatusBadRequest, body: body}})
	tc := newTestCache(t, nil)
	got := tc.sample(t, fakeSpec(f.URL), 1)
	if !strings.Contains(got.Error, "query rejected (HTTP 400): parse error: [31mBEGIN evil AAAA") {
		t.Errorf("error = %q", got.Error)
	}
	if strings.ContainsAny(got.Error, "\n\r\x1b\u202e") || len(got.Error) > 400 {
		t.Errorf("the error quotes too much or unclean text (%d bytes): %q", len(got.Error), got.Error)
	}
}

func TestExcerpt(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain":                "plain",
		"  a\n\tb  ":           "a b",
		"\x00\x07x":            "x",
		"héllo wörld and more": "héllo wö...",
		"abcdefghij klm":       "abcdefghij...",
		"bad \xff utf8":        "bad utf8",
	} {
		if got := excerpt(in, 10); got != want {
			t.Errorf("excerpt(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHostileSourceDoesNotStallAnother: while one Consumer's source streams an endless answer, slowly, another
// Consumer's fetches keep succeeding: every one of them returns while the hostile fetch is still in flight (a
// shared lock or slot would make them wait for it to end).
func TestHostileSourceDoesNotStallAnother(t *testing.T) {
	t.Parallel()
	hostile, _ := endlessVector(t, 64<<10)
	healthy := newFakeProm(t, goodReplies())
	tc := newTestCache(t, func(o *Options) { o.RequestTimeout = 20 * time.Second })

	done := make(chan string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		done <- tc.Sample(ctx, Key{Namespace: "evil", Name: "c", UID: "u-evil"}, fakeSpec(hostile.URL), 4).Error
	}()
	key := Key{Namespace: "good", Name: "c", UID: "u-good"}
	for i := range 5 {
		got := tc.Sample(t.Context(), key, fakeSpec(healthy.URL), 4)
		if got.Error != "" || len(got.Partitions) == 0 {
			t.Fatalf("fetch %d of the healthy Consumer: %+v", i, got)
		}
		select {
		case err := <-done:
			t.Fatalf("fetch %d of the healthy Consumer returned only after the hostile fetch ended (%s)", i, err)
		default:
		}
		tc.clock.Advance(time.Minute)
	}
	if got := <-done; got == "" {
		t.Error("the hostile Consumer's endless answer was taken")
	}
}

// FuzzPrometheusAnswer feeds arbitrary bytes, as the body of a 200 answer, through the same client, size limit
// and validation the operator uses. Nothing may panic, every value kept must be a valid figure for a partition
// in range, and every problem text must be short and printable.
func FuzzPrometheusAnswer(f *testing.F) {
	f.Add([]byte(vectorJSON(part("0", "1"), part("1", "2.5"))))
	f.Add([]byte(vectorJSON(part("0", "NaN"), part("0", "1"), part("-1", "1"), part("x", "+Inf"))))
	f.Add([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"string","result":[1,"x"]}}`))
	f.Add([]byte(`{"status":"error","errorType":"bad_data","error":"x"}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		const limit = 1 << 16
		client, err := promapi.NewClient(promapi.Config{
			Address: "http://fuzz.invalid",
			Client: &http.Client{Transport: limitRoundTripper{limit: limit, next: roundTripperFunc(
				func(*http.Request) (*http.Response, error) {
					return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
						Body: io.NopCloser(strings.NewReader(string(body))), ContentLength: -1}, nil
				})}},
		})
		if err != nil {
			t.Fatal(err)
		}
		value, _, err := promv1.NewAPI(client).Query(context.Background(), "q", time.Time{})
		if err != nil {
			if _, tooLarge := isTooLarge(err); !tooLarge && len(body) > limit {
				t.Fatalf("a body of %d bytes read past the limit of %d: %v", len(body), limit, err)
			}
			text := classify(context.Background(), err, 200).text
			checkText(t, text)
			return
		}
		const partitions = 8
		parsed := parseAnswer(QueryOffset, "partition", answer{address: "x", value: value}, partitions)
		for p, v := range parsed.values {
			if p < 0 || p >= partitions || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("kept partition %d value %v", p, v)
			}
		}
		for _, text := range parsed.problems.list() {
			checkText(t, text)
		}
	})
}

func checkText(t *testing.T, text string) {
	t.Helper()
	if len(text) > 300 {
		t.Fatalf("a text of %d bytes: %q", len(text), text)
	}
	if strings.ContainsAny(text, "\n\r\x00") {
		t.Fatalf("a text with control characters: %q", text)
	}
}

// requestErrors sums konsumerator_prometheus_request_errors_total of one reason over addresses and queries.
func requestErrors(t *testing.T, tc testCache, reason failureReason) float64 {
	t.Helper()
	families, err := tc.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range families {
		if mf.GetName() != "konsumerator_prometheus_request_errors_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == string(reason) {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

func secretRef(name, key string) *corev1.SecretKeySelector {
	s := selector(name, key)
	return &s
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
