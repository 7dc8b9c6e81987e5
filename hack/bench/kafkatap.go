package main

import (
	"encoding/binary"
	"maps"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaTap counts, on the broker side of an in-process kfake cluster, the connections each Kafka client opens
// and the requests it sends, by kind. kfake takes its listener from kfake.ListenFn; the tap wraps it, and reads
// the request framing of every byte the brokers read (size, API key, client ID: the request header), so that
// nothing the clients send is changed. A connection belongs to the client ID of its first request (kgo sends
// the same one on all of a client's connections); one that never sent a request belongs to nobody.
type kafkaTap struct {
	mu      sync.Mutex
	clients map[string]*tapCounts
	// conns are the connections that sent a request, by client ID, in the order they did.
	conns map[string][]*connRecord
}

// connRecord is one connection's life: the broker address it reached, when its first request came and when it
// was closed (zero while open), and its requests by kind.
type connRecord struct {
	broker         string
	opened, closed time.Time
	requests       map[int16]int64
}

// tapCounts are one client ID's figures since the tap started.
type tapCounts struct {
	// opened and closed count its connections.
	opened, closed int
	requests       map[int16]int64
}

func newKafkaTap() *kafkaTap {
	return &kafkaTap{clients: map[string]*tapCounts{}, conns: map[string][]*connRecord{}}
}

// connections copies the records of one client ID's connections.
func (t *kafkaTap) connections(clientID string) []connRecord {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]connRecord, 0, len(t.conns[clientID]))
	for _, r := range t.conns[clientID] {
		c := *r
		c.requests = maps.Clone(r.requests)
		out = append(out, c)
	}
	return out
}

// listen is kfake's ListenFn.
func (t *kafkaTap) listen(network, address string) (net.Listener, error) {
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return &tapListener{Listener: ln, tap: t}, nil
}

func (t *kafkaTap) counts(clientID string) *tapCounts {
	c := t.clients[clientID]
	if c == nil {
		c = &tapCounts{requests: map[int16]int64{}}
		t.clients[clientID] = c
	}
	return c
}

// snapshot copies one client ID's figures.
func (t *kafkaTap) snapshot(clientID string) tapCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := tapCounts{requests: map[int16]int64{}}
	if c := t.clients[clientID]; c != nil {
		out.opened, out.closed = c.opened, c.closed
		for k, v := range c.requests {
			out.requests[k] = v
		}
	}
	return out
}

// total is the requests of every kind.
func (c tapCounts) total() int64 {
	var n int64
	for _, v := range c.requests {
		n += v
	}
	return n
}

// since is the change from an earlier snapshot: connections opened and closed, and requests, in between.
func (c tapCounts) since(before tapCounts) tapCounts {
	out := tapCounts{opened: c.opened - before.opened, closed: c.closed - before.closed, requests: map[int16]int64{}}
	for k, v := range c.requests {
		if d := v - before.requests[k]; d != 0 {
			out.requests[k] = d
		}
	}
	return out
}

// open is the connections open at the snapshot (of a snapshot since the tap started).
func (c tapCounts) open() int { return c.opened - c.closed }

// requestName is the Kafka name of a request kind (ListOffsets), or its key.
func requestName(key int16) string {
	if name := kmsg.NameForKey(key); name != "" && name != "Unknown" {
		return name
	}
	return "key " + strconv.Itoa(int(key))
}

type tapListener struct {
	net.Listener
	tap *kafkaTap
}

func (l *tapListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &tapConn{Conn: conn, tap: l.tap}
	tc.frames.onRequest = tc.request
	return tc, nil
}

// tapConn is one client connection as the broker sees it.
type tapConn struct {
	net.Conn
	tap    *kafkaTap
	frames frameReader
	// client is the client ID of the connection's first request; owned says it has been counted as opened.
	client    string
	owned     bool
	record    *connRecord
	closeOnce sync.Once
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.frames.feed(p[:n])
	return n, err
}

// request counts one request; it runs on the broker's reading goroutine of the connection.
func (c *tapConn) request(key int16, clientID string) {
	c.tap.mu.Lock()
	defer c.tap.mu.Unlock()
	if !c.owned {
		c.client, c.owned = clientID, true
		c.tap.counts(clientID).opened++
		c.record = &connRecord{broker: c.LocalAddr().String(), opened: time.Now(), requests: map[int16]int64{}}
		c.tap.conns[clientID] = append(c.tap.conns[clientID], c.record)
	}
	c.tap.counts(c.client).requests[key]++
	c.record.requests[key]++
}

func (c *tapConn) Close() error {
	c.closeOnce.Do(func() {
		c.tap.mu.Lock()
		defer c.tap.mu.Unlock()
		if c.owned {
			c.tap.counts(c.client).closed++
			c.record.closed = time.Now()
		}
	})
	return c.Conn.Close()
}

// frameReader follows Kafka's request framing through a byte stream cut anywhere: a 4-byte size, then the
// request of that many bytes, whose header starts with the API key (2 bytes), the version (2), the correlation
// ID (4) and the client ID (a 2-byte length, -1 for null, and the bytes). It reports each request's key and
// client ID and skips the rest.
type frameReader struct {
	onRequest func(key int16, clientID string)
	// head collects the frame's first bytes until the header up to the client ID is complete.
	head []byte
	// skip is what is left of the current frame once its header was reported.
	skip int
}

// headerBytes is the size and the fixed part of the request header: size, key, version, correlation ID,
// client ID length.
const headerBytes = 4 + 2 + 2 + 4 + 2

func (f *frameReader) feed(p []byte) {
	for {
		if f.skip > 0 {
			if len(p) == 0 {
				return
			}
			n := min(len(p), f.skip)
			f.skip -= n
			p = p[n:]
			continue
		}
		if need := f.headerLen(); len(f.head) < need {
			if len(p) == 0 {
				return
			}
			n := min(len(p), need-len(f.head))
			f.head = append(f.head, p[:n]...)
			p = p[n:]
			continue
		}
		f.emit()
	}
}

// headerLen is how many of the frame's first bytes are its header, as far as the bytes in head tell: the size
// first, then the fixed part, then the client ID; never more than the frame (a frame shorter than a header is
// never a valid request, and ends where its size says).
func (f *frameReader) headerLen() int {
	if len(f.head) < 4 {
		return 4
	}
	need := headerBytes
	if len(f.head) >= headerBytes {
		if l := int16(binary.BigEndian.Uint16(f.head[12:14])); l > 0 {
			need += int(l)
		}
	}
	return min(need, 4+f.size())
}

func (f *frameReader) size() int { return int(binary.BigEndian.Uint32(f.head[:4])) }

// emit reports the request whose header is in head and skips the rest of its frame.
func (f *frameReader) emit() {
	h := f.head
	var key int16 = -1
	if len(h) >= 6 {
		key = int16(binary.BigEndian.Uint16(h[4:6]))
	}
	var clientID string
	if len(h) > headerBytes {
		clientID = string(h[headerBytes:])
	}
	f.onRequest(key, clientID)
	f.skip = 4 + f.size() - len(h)
	f.head = f.head[:0]
}
