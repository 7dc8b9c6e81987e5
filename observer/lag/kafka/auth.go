package kafka

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	corev1 "k8s.io/api/core/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/observer/lag"
)

// credentials are the resolved TLS and SASL settings of one Consumer. They are read again on every read, so a
// rotated Secret is used from the next read on (with a client of its own: the fingerprint changes).
type credentials struct {
	tls         *tls.Config // nil: plain TCP
	sasl        sasl.Mechanism
	fingerprint string
}

var errNoSecretGetter = errors.New("the operator was started without access to Secrets")

func resolveCredentials(ctx context.Context, secrets lag.SecretGetter, namespace string,
	spec *konsumeratorv1.KafkaAutoscalerSpec) (credentials, error) {
	var creds credentials
	h := sha256.New()
	mix := func(parts ...[]byte) {
		for _, part := range parts {
			// Length-prefixing keeps ("ab","c") and ("a","bc") apart.
			fmt.Fprintf(h, "%d:", len(part))
			h.Write(part)
		}
	}
	read := func(what string, sel *corev1.SecretKeySelector) ([]byte, bool, error) {
		if sel == nil {
			return nil, false, nil
		}
		if secrets == nil {
			return nil, false, fmt.Errorf("%s: Secret %s key %q: %w", what, sel.Name, sel.Key, errNoSecretGetter)
		}
		v, err := secrets.GetSecretKey(ctx, namespace, sel.Name, sel.Key)
		if err != nil {
			if sel.Optional != nil && *sel.Optional {
				return nil, false, nil
			}
			return nil, false, fmt.Errorf("%s: Secret %s key %q: %w", what, sel.Name, sel.Key, err)
		}
		return v, true, nil
	}

	if t := spec.TLS; t != nil {
		cfg := &tls.Config{
			MinVersion:         tls.VersionTLS12,
			ServerName:         t.ServerName,
			InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // the user asked for it explicitly in the spec
		}
		ca, found, err := read("tls.caSecret", t.CASecret)
		if err != nil {
			return creds, err
		}
		if found {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(ca) {
				return creds, fmt.Errorf("tls.caSecret: Secret %s key %q holds no PEM certificate", t.CASecret.Name, t.CASecret.Key)
			}
			cfg.RootCAs = pool
		}
		cert, certFound, err := read("tls.certSecret", t.CertSecret)
		if err != nil {
			return creds, err
		}
		key, keyFound, err := read("tls.keySecret", t.KeySecret)
		if err != nil {
			return creds, err
		}
		if certFound && keyFound {
			pair, err := tls.X509KeyPair(cert, key)
			if err != nil {
				return creds, errors.New("tls.certSecret and tls.keySecret do not hold a PEM certificate and its key")
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		creds.tls = cfg
		mix([]byte("tls"), ca, cert, key, []byte(t.ServerName), []byte(fmt.Sprint(t.InsecureSkipVerify)))
	}

	if sa := spec.SASL; sa != nil {
		user, _, err := read("sasl.username", &sa.Username)
		if err != nil {
			return creds, err
		}
		pass, _, err := read("sasl.password", &sa.Password)
		if err != nil {
			return creds, err
		}
		u, p := string(trimNewline(user)), string(trimNewline(pass))
		switch sa.Mechanism {
		case konsumeratorv1.SASLPlain:
			creds.sasl = plain.Auth{User: u, Pass: p}.AsMechanism()
		case konsumeratorv1.SASLScramSHA256:
			creds.sasl = scram.Auth{User: u, Pass: p}.AsSha256Mechanism()
		case konsumeratorv1.SASLScramSHA512:
			creds.sasl = scram.Auth{User: u, Pass: p}.AsSha512Mechanism()
		default:
			return creds, fmt.Errorf("sasl.mechanism %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", sa.Mechanism)
		}
		mix([]byte("sasl"), []byte(sa.Mechanism), []byte(u), []byte(p))
	}
	creds.fingerprint = hex.EncodeToString(h.Sum(nil))
	return creds, nil
}

// trimNewline drops the line ending that `kubectl create secret --from-file` keeps from a file made with echo.
func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
