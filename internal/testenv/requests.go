package testenv

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/client-go/rest"
)

// Requests counts the requests a client sends, so tests can prove that a pass wrote nothing.
type Requests struct {
	mu        sync.Mutex
	writes    []string
	reads     int
	forbidden []string
}

// Counting returns a copy of cfg whose clients report their requests to the returned counter.
func Counting(cfg *rest.Config) (*rest.Config, *Requests) {
	r := &Requests{}
	c := rest.CopyConfig(cfg)
	c.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			r.record(req)
			resp, err := rt.RoundTrip(req)
			if err == nil && resp.StatusCode == http.StatusForbidden {
				r.mu.Lock()
				r.forbidden = append(r.forbidden, req.Method+" "+req.URL.Path)
				r.mu.Unlock()
			}
			return resp, err
		})
	})
	return c, r
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func (r *Requests) record(req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		r.reads++
		return
	}
	// A server-side dry run persists nothing.
	if req.URL.Query().Get("dryRun") != "" {
		return
	}
	// Events record what happened; they are not writes to the objects the operator manages.
	if strings.Contains(req.URL.Path, "/events") {
		return
	}
	r.writes = append(r.writes, req.Method+" "+req.URL.Path)
}

// Writes returns the writes seen since the last Reset, as "METHOD path".
func (r *Requests) Writes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.writes...)
}

// Reset forgets what was counted.
func (r *Requests) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes, r.reads = nil, 0
}

// Forbidden returns every request the API server refused with 403, since the counter was made.
func (r *Requests) Forbidden() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.forbidden...)
}

// CountingBytes returns a copy of cfg whose clients add the size of every answer's body to the returned counter.
func CountingBytes(cfg *rest.Config) (*rest.Config, *atomic.Int64) {
	var n atomic.Int64
	c := rest.CopyConfig(cfg)
	c.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if err == nil {
				resp.Body = countedBody{ReadCloser: resp.Body, n: &n}
			}
			return resp, err
		})
	})
	return c, &n
}

type countedBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countedBody) Read(p []byte) (int, error) {
	k, err := b.ReadCloser.Read(p)
	b.n.Add(int64(k))
	return k, err
}
