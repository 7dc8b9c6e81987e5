package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"k8s.io/apimachinery/pkg/types"
)

// metadataMinAge is how long kgo reuses a metadata answer (a variable for tests, which read faster than the
// shortest sync period).
var metadataMinAge = time.Second

// errTooManyConns is the error of a dial beyond MaxConnsPerClient.
var errTooManyConns = errors.New("too many connections to the brokers of one cluster")

// buildError is a client that could not be built: settings kgo refuses (a broker address it cannot parse).
type buildError struct{ err error }

func (e *buildError) Error() string { return e.err.Error() }
func (e *buildError) Unwrap() error { return e.err }

// client is one kgo client, shared by every Consumer that names the same brokers with the same credentials.
type client struct {
	key   string
	kgo   *kgo.Client
	adm   *kadm.Client
	users map[types.NamespacedName]bool
	conns atomic.Int32
}

// pool keeps one client per set of brokers and credentials, reused across reads and Consumers, and closes a
// client when the last Consumer using it goes (deleted, or moved to other brokers or credentials).
type pool struct {
	mu      sync.Mutex
	byKey   map[string]*client
	byOwner map[types.NamespacedName]*client
}

func newPool() *pool {
	return &pool{byKey: map[string]*client{}, byOwner: map[types.NamespacedName]*client{}}
}

type buildFunc func(brokers []string, creds credentials, conns *atomic.Int32) (*kgo.Client, error)

func (p *pool) acquire(owner types.NamespacedName, brokers []string, creds credentials, build buildFunc) (*client, error) {
	key := fingerprint(sortedUnique(brokers)) + "/" + creds.fingerprint
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.byOwner[owner]; c != nil && c.key == key {
		return c, nil
	}
	c := p.byKey[key]
	if c == nil {
		c = &client{key: key, users: map[types.NamespacedName]bool{}}
		cl, err := build(brokers, creds, &c.conns)
		if err != nil {
			return nil, &buildError{err: err}
		}
		c.kgo, c.adm = cl, kadm.NewClient(cl)
		p.byKey[key] = c
	}
	if old := p.byOwner[owner]; old != nil {
		p.drop(owner, old)
	}
	c.users[owner] = true
	p.byOwner[owner] = c
	return c, nil
}

func (p *pool) release(owner types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.byOwner[owner]; c != nil {
		p.drop(owner, c)
	}
}

func (p *pool) drop(owner types.NamespacedName, c *client) {
	delete(c.users, owner)
	delete(p.byOwner, owner)
	if len(c.users) == 0 {
		delete(p.byKey, c.key)
		// Close waits for requests in flight; nobody is to wait for that.
		go c.kgo.Close()
	}
}

func (p *pool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.byKey)
}

// newClient builds a kgo client whose every bound comes from the operator, none from the Consumer.
func (s *source) newClient(brokers []string, creds credentials, conns *atomic.Int32) (*kgo.Client, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(sortedUnique(brokers)...),
		kgo.Dialer(s.dialer(creds.tls, conns)),
		kgo.ClientID("konsumerator"),
		kgo.RequestTimeoutOverhead(s.timeout),
		kgo.RetryTimeout(s.timeout),
		kgo.RequestRetries(2),
		kgo.BrokerMaxReadBytes(s.maxBytes),
		// kgo wants the fetch limits under the read limit; nothing is fetched.
		kgo.FetchMaxBytes(s.maxBytes),
		kgo.FetchMaxPartitionBytes(s.maxBytes),
		kgo.ConnIdleTimeout(2 * time.Minute),
		// The two requests of one read share a metadata answer; the next read (a sync period later) asks again,
		// so that added partitions are seen.
		kgo.MetadataMinAge(metadataMinAge),
	}
	if creds.sasl != nil {
		opts = append(opts, kgo.SASL(creds.sasl))
	}
	return kgo.NewClient(opts...)
}

// dialer connects to a broker (a bootstrap one or one the metadata names) after the address policy allowed its
// host name and each IP it resolves to, within the client's connection limit, with TLS when the spec asks.
func (s *source) dialer(tlsConfig *tls.Config, conns *atomic.Int32) func(ctx context.Context, network, host string) (net.Conn, error) {
	return func(ctx context.Context, network, host string) (net.Conn, error) {
		hostAllowed, err := s.policy.CheckHost(host)
		if err != nil {
			return nil, err
		}
		if conns.Add(1) > MaxConnsPerClient {
			conns.Add(-1)
			return nil, errTooManyConns
		}
		d := &net.Dialer{Timeout: s.timeout, KeepAlive: 30 * time.Second, Control: s.policy.DialControl(hostAllowed)}
		conn, err := d.DialContext(ctx, network, host)
		if err != nil {
			conns.Add(-1)
			return nil, err
		}
		if tlsConfig != nil {
			cfg := tlsConfig.Clone()
			if cfg.ServerName == "" {
				cfg.ServerName, _, _ = net.SplitHostPort(host)
			}
			tc := tls.Client(conn, cfg)
			hctx, cancel := context.WithTimeout(ctx, s.timeout)
			err := tc.HandshakeContext(hctx)
			cancel()
			if err != nil {
				conn.Close()
				conns.Add(-1)
				return nil, err
			}
			conn = tc
		}
		return &countedConn{Conn: conn, conns: conns}, nil
	}
}

// countedConn gives its slot back when it is closed.
type countedConn struct {
	net.Conn
	conns *atomic.Int32
	once  sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.conns.Add(-1) })
	return c.Conn.Close()
}
