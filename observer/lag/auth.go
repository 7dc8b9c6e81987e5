package lag

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
)

// SecretGetter reads one key of a Secret. It keeps this package free of any Kubernetes client: the operator
// passes an adapter over its client, tests pass a map.
type SecretGetter interface {
	// GetSecretKey returns the value of key in the Secret namespace/name. A missing Secret or key is an error.
	GetSecretKey(ctx context.Context, namespace, name, key string) ([]byte, error)
}

// SecretGetterFunc adapts a function to SecretGetter.
type SecretGetterFunc func(ctx context.Context, namespace, name, key string) ([]byte, error)

func (f SecretGetterFunc) GetSecretKey(ctx context.Context, namespace, name, key string) ([]byte, error) {
	return f(ctx, namespace, name, key)
}

// credentials are the resolved secrets and TLS settings for one Consumer. They are read again on every fetch,
// so a rotated Secret is used from the next fetch on without a restart.
type credentials struct {
	bearerToken        string
	username, password string
	hasBasicAuth       bool
	caBundle           []byte
	serverName         string
	insecureSkipVerify bool
}

// fingerprint identifies credentials in the client cache without keeping the secrets themselves as map keys.
func (c credentials) fingerprint() string {
	h := sha256.New()
	for _, part := range [][]byte{
		[]byte(c.bearerToken), []byte(c.username), []byte(c.password), c.caBundle, []byte(c.serverName),
		{boolByte(c.hasBasicAuth), boolByte(c.insecureSkipVerify)},
	} {
		// Length-prefixing keeps ("ab","c") and ("a","bc") apart.
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// tlsFingerprint identifies what of the credentials shapes a connection (not the tokens and passwords, which go
// into each request), so that clients with different tokens for one server share its connections.
func (c credentials) tlsFingerprint() string {
	h := sha256.New()
	for _, part := range [][]byte{c.caBundle, []byte(c.serverName), {boolByte(c.insecureSkipVerify)}} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// errNoSecretGetter is returned when a spec names a Secret but the cache was built without a SecretGetter.
var errNoSecretGetter = errors.New("the operator was started without access to Secrets")

func resolveCredentials(ctx context.Context, secrets SecretGetter, namespace string,
	spec *konsumeratorv1.PrometheusAutoscalerSpec) (credentials, error) {
	var creds credentials
	read := func(what string, sel *corev1.SecretKeySelector) (value []byte, found bool, err error) {
		if sel == nil {
			return nil, false, nil
		}
		if secrets == nil {
			return nil, false, fmt.Errorf("%s: Secret %s key %q: %w", what, sel.Name, sel.Key, errNoSecretGetter)
		}
		value, err = secrets.GetSecretKey(ctx, namespace, sel.Name, sel.Key)
		if err != nil {
			if sel.Optional != nil && *sel.Optional {
				return nil, false, nil
			}
			return nil, false, fmt.Errorf("%s: Secret %s key %q: %w", what, sel.Name, sel.Key, err)
		}
		return value, true, nil
	}

	if token, found, err := read("bearerTokenSecret", spec.BearerTokenSecret); err != nil {
		return creds, err
	} else if found {
		creds.bearerToken = string(trimNewline(token))
	}
	if spec.BasicAuth != nil {
		user, userFound, err := read("basicAuth.username", &spec.BasicAuth.Username)
		if err != nil {
			return creds, err
		}
		pass, passFound, err := read("basicAuth.password", &spec.BasicAuth.Password)
		if err != nil {
			return creds, err
		}
		if userFound || passFound {
			creds.hasBasicAuth = true
			creds.username = string(trimNewline(user))
			creds.password = string(trimNewline(pass))
		}
	}
	if spec.TLS != nil {
		ca, found, err := read("tls.caSecret", spec.TLS.CASecret)
		if err != nil {
			return creds, err
		}
		if found {
			if !x509.NewCertPool().AppendCertsFromPEM(ca) {
				return creds, fmt.Errorf("tls.caSecret: Secret %s key %q holds no PEM certificate",
					spec.TLS.CASecret.Name, spec.TLS.CASecret.Key)
			}
			creds.caBundle = ca
		}
		creds.serverName = spec.TLS.ServerName
		creds.insecureSkipVerify = spec.TLS.InsecureSkipVerify
	}
	return creds, nil
}

// trimNewline drops the line ending that `kubectl create secret --from-file` keeps from a file made with echo;
// sent in a header it would make the credentials wrong in a way that is hard to see.
func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func (c credentials) tlsConfig() *tls.Config {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.serverName,
		InsecureSkipVerify: c.insecureSkipVerify, //nolint:gosec // the user asked for it explicitly in the spec
	}
	if len(c.caBundle) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(c.caBundle)
		cfg.RootCAs = pool
	}
	return cfg
}

// authRoundTripper adds the Consumer's credentials to every request.
type authRoundTripper struct {
	creds credentials
	next  http.RoundTripper
}

func (rt authRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case rt.creds.bearerToken != "":
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", "Bearer "+rt.creds.bearerToken)
	case rt.creds.hasBasicAuth:
		req = req.Clone(req.Context())
		req.SetBasicAuth(rt.creds.username, rt.creds.password)
	}
	return rt.next.RoundTrip(req)
}
