package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/observer/lag"
)

// failureReason is the reason label of konsumerator_kafka_read_errors_total: a small fixed set.
type failureReason string

const (
	reasonTimeout      failureReason = "timeout"
	reasonUnreachable  failureReason = "unreachable"
	reasonTLS          failureReason = "tls"
	reasonUnauthorized failureReason = "unauthorized"
	reasonNotFound     failureReason = "not_found"
	reasonBrokerError  failureReason = "broker_error"
	reasonBadResponse  failureReason = "bad_response"
	reasonThrottled    failureReason = "throttled"
	// The operator's own refusals.
	reasonTooLarge       failureReason = "too_large"
	reasonDenied         failureReason = "denied"
	reasonTooManyConns   failureReason = "too_many_connections"
	reasonInvalidBrokers failureReason = "invalid_brokers"
)

// failure describes a failed read. text goes into the sample and must read the same for the same failure every
// time (no ports of our side, durations or offsets), or the condition made from it flaps; detail is for the log.
type failure struct {
	reason failureReason
	text   string
	detail string
}

func classify(ctx context.Context, err error, spec *konsumeratorv1.KafkaAutoscalerSpec) failure {
	f := failure{detail: err.Error()}
	var denied *lag.AddressDeniedError
	var recordHeader tls.RecordHeaderError
	var group *groupError
	isGroup := errors.As(err, &group)
	var build *buildError
	msg := err.Error()

	cert := lag.CertificateText(err)
	switch {
	case errors.As(err, &denied):
		f.reason, f.text = reasonDenied, denied.Error()
	case errors.Is(err, errTooManyConns):
		f.reason, f.text = reasonTooManyConns, fmt.Sprintf("the brokers need more than the operator's limit of %d connections", MaxConnsPerClient)
	case errors.Is(err, kerr.UnknownTopicOrPartition) && !isGroup:
		f.reason, f.text = reasonNotFound, fmt.Sprintf("topic %s does not exist", spec.Topic)
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		f.reason, f.text = reasonUnauthorized, fmt.Sprintf("not authorized to describe topic %s", spec.Topic)
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		f.reason, f.text = reasonUnauthorized, fmt.Sprintf("not authorized to read the offsets of group %s", lag.Excerpt(spec.ConsumerGroup, 64))
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		f.reason, f.text = reasonUnauthorized, "SASL authentication failed (wrong username or password)"
	case errors.Is(err, kerr.UnsupportedSaslMechanism) && spec.SASL != nil:
		f.reason, f.text = reasonUnauthorized, fmt.Sprintf("the brokers do not offer SASL mechanism %s", spec.SASL.Mechanism)
	case errors.Is(err, kerr.IllegalSaslState):
		f.reason, f.text = reasonUnauthorized, "SASL: the brokers did not expect authentication"
	case cert != "":
		f.reason, f.text = reasonTLS, cert
	case errors.As(err, &recordHeader):
		f.reason, f.text = reasonTLS, "TLS: the broker does not speak TLS"
	case strings.Contains(msg, "invalid large response size") && strings.Contains(msg, "HTTP"):
		f.reason, f.text = reasonBadResponse, "not a Kafka broker (it answered HTTP)"
	case strings.Contains(msg, "invalid large response size") && strings.Contains(msg, "TLS"):
		f.reason, f.text = reasonTLS, "TLS: the broker speaks TLS, and the spec has no tls"
	case strings.Contains(msg, "invalid large response size"):
		f.reason, f.text = reasonTooLarge, "answer larger than the operator's limit"
	case errors.As(err, &build) || strings.Contains(msg, "unable to split host") || strings.Contains(msg, "missing port"):
		f.reason, f.text = reasonInvalidBrokers, "invalid broker address"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		// Kafka answers a wrong password with SASL_AUTHENTICATION_FAILED; some servers just hang up.
		f.reason, f.text = reasonUnreachable, "the broker closed the connection"
		switch {
		case spec.SASL != nil:
			f.text += " (wrong SASL credentials?)"
		case spec.TLS == nil:
			f.text += " (does it expect TLS or SASL?)"
		}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		f.reason, f.text = reasonTimeout, "timed out"
	default:
		var ke *kerr.Error
		if errors.As(err, &ke) {
			f.reason, f.text = reasonBrokerError, "broker error "+ke.Message
		} else {
			// No answer at all: the connection could not be made or broke. The raw error names ports of ours.
			f.reason, f.text = reasonUnreachable, "unreachable"
		}
	}
	where := "Kafka at " + strings.Join(sortedUnique(spec.Brokers), ", ")
	if isGroup && f.reason != reasonUnauthorized {
		f.text = "reading the offsets of group " + lag.Excerpt(spec.ConsumerGroup, 64) + ": " + f.text
	}
	f.text = where + ": " + f.text
	return f
}
