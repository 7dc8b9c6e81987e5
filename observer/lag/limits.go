package lag

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultMaxResponseBytes bounds one answer of a metrics source.
//
// The largest legitimate answer is one series per partition. A series as kafka_exporter writes it, with the
// labels Kubernetes service discovery adds (consumergroup, topic, partition, instance, job, namespace, pod,
// service), is 300-400 bytes of JSON; 4 MiB holds more than 10,000 of them, and about three times as many
// when the query aggregates them away (sum by (partition)). That is more partitions than a topic the operator
// manages is likely to have, and little enough that the three queries of a fetch, read at once, cannot take
// a noticeable part of the operator's memory. For larger topics, raise --metrics-source-max-response-bytes to
// numPartitions × the size of one series (curl the query and divide by the number of series).
const DefaultMaxResponseBytes = 4 << 20

// maxResponseHeaderBytes bounds the headers of an answer; Go's default is 10 MiB, far more than Prometheus sends.
const maxResponseHeaderBytes = 64 << 10

// maxRedirects bounds the redirects followed on the same host (a path prefix added by a proxy, say).
const maxRedirects = 3

// ResponseTooLargeError is the error of reading an answer past the size limit.
type ResponseTooLargeError struct{ Limit int64 }

func (e *ResponseTooLargeError) Error() string {
	return "answer larger than the operator's limit of " + formatBytes(e.Limit)
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

// limitRoundTripper makes every answer's body fail once more than limit bytes are read from it. The Prometheus
// client reads the whole body into one buffer before decoding it, so this is the only place where its size can
// be bounded: the client stops at the error and never holds more than the limit.
type limitRoundTripper struct {
	limit int64
	next  http.RoundTripper
}

func (rt limitRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.next.RoundTrip(req)
	if err != nil || resp == nil {
		return resp, err
	}
	if resp.ContentLength > rt.limit {
		// Announced as too large: not a byte of it is read.
		resp.Body.Close()
		return nil, &ResponseTooLargeError{Limit: rt.limit}
	}
	resp.Body = &limitedBody{body: resp.Body, left: rt.limit, limit: rt.limit}
	return resp, nil
}

type limitedBody struct {
	body  io.ReadCloser
	left  int64
	limit int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, &ResponseTooLargeError{Limit: b.limit}
	}
	// One byte past the limit tells an answer of exactly the limit from a larger one.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.body.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n + int(b.left), &ResponseTooLargeError{Limit: b.limit}
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.body.Close() }

// RedirectError is the error of a redirect the operator does not follow.
type RedirectError struct{ reason string }

func (e *RedirectError) Error() string { return e.reason }

// checkRedirect follows a redirect only to the same scheme and host. The Consumer's credentials are added to
// every request by authRoundTripper, so a redirect elsewhere would hand them to whatever host the answer names,
// and it would get around the address policy's host patterns.
func checkRedirect(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	switch {
	case req.URL.Scheme != first.Scheme || !strings.EqualFold(req.URL.Host, first.Host):
		return &RedirectError{reason: "redirected to another host, which the operator does not follow"}
	case len(via) > maxRedirects:
		return &RedirectError{reason: fmt.Sprintf("more than %d redirects", maxRedirects)}
	}
	return nil
}

// excerpt makes remote text fit to quote in a status: control and other unprintable characters become spaces,
// runs of spaces become one, and the text is cut at n bytes on a character boundary.
func excerpt(s string, n int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) || unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			if b.Len()+1 > n {
				return b.String() + "..."
			}
			b.WriteByte(' ')
			space = false
		}
		if b.Len()+utf8.RuneLen(r) > n {
			return b.String() + "..."
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isTooLarge and friends let classify tell the operator's own refusals from the server's failures.
func isTooLarge(err error) (*ResponseTooLargeError, bool) {
	var e *ResponseTooLargeError
	return e, errors.As(err, &e)
}

// Excerpt is excerpt for other sources: remote text made fit to quote in a status.
func Excerpt(s string, n int) string { return excerpt(s, n) }
