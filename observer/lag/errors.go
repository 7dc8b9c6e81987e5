package lag

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// failureReason is the reason label of konsumerator_prometheus_request_errors_total: a small fixed set.
type failureReason string

const (
	reasonTimeout      failureReason = "timeout"
	reasonCanceled     failureReason = "canceled"
	reasonUnreachable  failureReason = "unreachable"
	reasonTLS          failureReason = "tls"
	reasonUnauthorized failureReason = "unauthorized"
	reasonBadQuery     failureReason = "bad_query"
	reasonClientError  failureReason = "client_error"
	reasonServerError  failureReason = "server_error"
	reasonBadResponse  failureReason = "bad_response"
	reasonThrottled    failureReason = "throttled"
	// The operator's own refusals: an answer over the size limit, an address or a redirect it does not call.
	reasonTooLarge failureReason = "too_large"
	reasonDenied   failureReason = "denied"
	reasonRedirect failureReason = "redirect"
)

// maxServerMessage bounds how much of Prometheus' own error message is quoted. The message comes from whatever
// answers at the address, so it is also cleaned of anything but printable text (see excerpt).
const maxServerMessage = 120

// requestFailure describes a failed request. text goes into the sample and must read the same for the same
// failure every time (no ports, durations or timestamps), or the condition made from it flaps; detail is the
// raw error, for the log only.
type requestFailure struct {
	reason failureReason
	text   string
	detail string
}

func classify(ctx context.Context, err error, status int) *requestFailure {
	f := &requestFailure{detail: err.Error()}
	var apiErr *promv1.Error
	isAPIErr := errors.As(err, &apiErr)
	var recordHeader tls.RecordHeaderError
	var syntax *json.SyntaxError
	var unmarshalType *json.UnmarshalTypeError

	var denied *AddressDeniedError
	var redirect *RedirectError
	tooLarge, isTooLarge := isTooLarge(err)

	cert := CertificateText(err)
	switch {
	case isTooLarge:
		f.reason, f.text = reasonTooLarge, tooLarge.Error()
	case errors.As(err, &denied):
		f.reason, f.text = reasonDenied, denied.Error()
	case errors.As(err, &redirect):
		f.reason, f.text = reasonRedirect, redirect.Error()
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) ||
		(isAPIErr && apiErr.Type == promv1.ErrTimeout):
		f.reason, f.text = reasonTimeout, "timed out"
	case errors.Is(err, context.Canceled) || (isAPIErr && apiErr.Type == promv1.ErrCanceled):
		f.reason, f.text = reasonCanceled, "canceled"
	case cert != "":
		f.reason, f.text = reasonTLS, cert
	case errors.As(err, &recordHeader) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		f.reason, f.text = reasonTLS, "TLS: the server does not speak TLS"
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		f.reason, f.text = reasonUnauthorized, fmt.Sprintf("unauthorized (HTTP %d)", status)
	case isAPIErr && (apiErr.Type == promv1.ErrBadData || apiErr.Type == promv1.ErrExec) && status/100 == 4:
		f.reason = reasonBadQuery
		f.text = fmt.Sprintf("query rejected (HTTP %d): %s", status, excerpt(apiErr.Msg, maxServerMessage))
	case status/100 == 4:
		f.reason, f.text = reasonClientError, fmt.Sprintf("HTTP %d", status)
	case status/100 == 5:
		f.reason, f.text = reasonServerError, fmt.Sprintf("HTTP %d", status)
	case (isAPIErr && apiErr.Type == promv1.ErrBadResponse) || errors.As(err, &syntax) ||
		errors.As(err, &unmarshalType) || (status/100 == 2):
		// A 2xx status that still failed means the body could not be understood.
		f.reason, f.text = reasonBadResponse, "unparsable response"
	case status != 0:
		f.reason, f.text = reasonBadResponse, fmt.Sprintf("unexpected HTTP %d", status)
	default:
		// No HTTP status at all: the connection could not be made or broke. The raw error names ephemeral
		// ports, so it stays in the log.
		f.reason, f.text = reasonUnreachable, "unreachable"
	}
	return f
}

// undecodableResultTypeRE matches the Prometheus client's error for a result type it has no Go type for (it
// decodes vectors, matrices and scalars only); the JSON decoder it uses wraps the message in its own text.
var undecodableResultTypeRE = regexp.MustCompile(`unexpected value type "([a-z]{1,32})"`)

// undecodableResultType returns the name of a result type the client could not decode.
func undecodableResultType(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	var apiErr *promv1.Error
	if errors.As(err, &apiErr) {
		return "", false
	}
	m := undecodableResultTypeRE.FindStringSubmatch(err.Error())
	if m == nil {
		return "", false
	}
	return m[1], true
}

// statusRecorder carries the HTTP status of a response back to the caller: the Prometheus client folds it into
// its error types, but "401" and "503" call for different fixes and must be told apart.
type statusRecorder struct{ status atomic.Int32 }

func (r *statusRecorder) code() int { return int(r.status.Load()) }

type statusRecorderKey struct{}

func withStatusRecorder(ctx context.Context, r *statusRecorder) context.Context {
	return context.WithValue(ctx, statusRecorderKey{}, r)
}

type statusRoundTripper struct{ next http.RoundTripper }

func (rt statusRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.next.RoundTrip(req)
	if resp != nil {
		if r, ok := req.Context().Value(statusRecorderKey{}).(*statusRecorder); ok {
			r.status.Store(int32(resp.StatusCode))
		}
	}
	return resp, err
}

// CertificateText is the fixed text of a certificate that failed verification, "" for any other error: the same
// words whichever source met it.
func CertificateText(err error) string {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verification *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknownAuthority):
		return "TLS: certificate signed by an unknown authority"
	case errors.As(err, &hostname):
		return "TLS: certificate is not valid for the server name"
	case errors.As(err, &invalid):
		return "TLS: certificate is not valid"
	case errors.As(err, &verification):
		return "TLS: certificate verification failed"
	}
	return ""
}
