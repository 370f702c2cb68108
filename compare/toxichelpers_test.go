package compare_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ssevsws/ssevsws/compare/comparetest"
)

// This file runs toxiproxy (github.com/Shopify/toxiproxy/v2) inside the test
// process: a real TCP proxy between a Go client and the server whose
// "toxics" delay, throttle, slice, swallow or reset what crosses it, as the
// networks of the report did. Its HTTP API is not started; tests
// call the proxy's Go API directly.
//
// Toxiproxy leaves a goroutine blocked for ever when data reaches a link
// that can no longer pass it on: a client that closed first, or a toxic
// that has closed its connection (reset_peer) while the server still
// writes. So the tests end a proxied connection from the server's side
// first, while the client still reads (stopServerFirst), and let a toxic
// close a connection only while the server is quiet on it: what is in
// flight drains to the end and every goroutine of the proxy returns, as
// goleak checks.

// startProxy starts a toxiproxy proxy from a free loopback port to
// upstream; it stops, closing its connections, when the test ends.
func startProxy(t *testing.T, name, upstream string) *toxiproxy.Proxy {
	t.Helper()
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(api, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("toxiproxy %s: %v", name, err)
	}
	t.Cleanup(p.Stop)
	return p
}

// toxic is one toxic as toxiproxy's API takes it. Stream is "downstream"
// (server to client) or "upstream" (client to server).
type toxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Toxicity   float32        `json:"toxicity"` // 0 means 1, unless Never
	Attributes map[string]any `json:"attributes"`
	Never      bool           `json:"-"` // in the chain, never applied (toxicity 0)
}

// addToxics adds toxics to p, on its open connections and on every new one.
func addToxics(t *testing.T, p *toxiproxy.Proxy, toxics ...toxic) {
	t.Helper()
	for _, tx := range toxics {
		if tx.Toxicity == 0 && !tx.Never {
			tx.Toxicity = 1
		}
		b, _ := json.Marshal(tx)
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(string(b))); err != nil {
			t.Fatalf("toxic %s on %s: %v", tx.Name, p.Name, err)
		}
	}
}

// both is tx on both streams: a path that fails fails both ways.
func both(tx toxic) []toxic {
	up, down := tx, tx
	up.Name, up.Stream = tx.Name+"_up", "upstream"
	down.Name, down.Stream = tx.Name+"_down", "downstream"
	return []toxic{up, down}
}

// route is where a test's client connects: whatever address its URL names,
// each new connection goes to the proxy the route points at now. A test can
// so break the path of the open connection and give the next one another
// path, as a dead NAT entry does: the old flow is gone, a new flow gets a
// new entry.
type route struct {
	mu      sync.Mutex
	to      string
	last    *clockedConn
	open    int           // connections neither ended nor closed
	changed chan struct{} // a connection ended or was closed
}

func newRoute(p *toxiproxy.Proxy) *route {
	return &route{to: p.Listen, changed: make(chan struct{}, 1)}
}

// via sends new connections to p.
func (r *route) via(p *toxiproxy.Proxy) {
	r.mu.Lock()
	r.to = p.Listen
	r.mu.Unlock()
}

// dial is a DialContext for http.Transport.
func (r *route) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	r.mu.Lock()
	to := r.to
	r.mu.Unlock()
	c, err := (&net.Dialer{}).DialContext(ctx, network, to)
	if err != nil {
		return nil, err
	}
	cc := &clockedConn{Conn: c, r: r}
	r.mu.Lock()
	r.last = cc
	r.open++
	r.mu.Unlock()
	return cc, nil
}

// ended counts one connection out, once.
func (r *route) ended(c *clockedConn) {
	c.once.Do(func() {
		r.mu.Lock()
		r.open--
		r.mu.Unlock()
		select {
		case r.changed <- struct{}{}:
		default:
		}
	})
}

// waitDrained waits until no connection through r is open: each has read
// the end the proxy passed on, or was closed by its client. A client that
// is reconnecting opens short-lived ones, which the wait sees end.
func (r *route) waitDrained(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		r.mu.Lock()
		open := r.open
		r.mu.Unlock()
		if open == 0 {
			return
		}
		select {
		case <-r.changed:
		case <-deadline:
			t.Errorf("%d proxied connections still open %v after the server stopped", open, within)
			return
		}
	}
}

// current is the connection dialled last.
func (r *route) current() *clockedConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// httpClient is an HTTP client that dials through r; its idle connections
// are closed when the test ends.
func (r *route) httpClient(t *testing.T) *http.Client {
	tr := &http.Transport{DialContext: r.dial}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// wsOptions are dial options for a WebSocket client dialling through r.
func (r *route) wsOptions(t *testing.T) *websocket.DialOptions {
	return &websocket.DialOptions{HTTPClient: r.httpClient(t)}
}

// clockedConn remembers when a read last brought bytes: the client's
// watchdog cannot have heard anything later than that.
// It also tells its route when it has ended.
type clockedConn struct {
	net.Conn
	r        *route
	once     sync.Once
	mu       sync.Mutex
	lastRead time.Time
}

func (c *clockedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.lastRead = time.Now()
		c.mu.Unlock()
	}
	if err != nil {
		c.r.ended(c)
	}
	return n, err
}

func (c *clockedConn) Close() error {
	c.r.ended(c)
	return c.Conn.Close()
}

func (c *clockedConn) lastByte() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastRead
}

// connError is one error a client reported through OnError: why a
// connection ended, when, and how many ticks the client had by then.
type connError struct {
	err   error
	at    time.Time
	ticks int
}

// errorLog collects a client's OnError reports.
type errorLog struct {
	ch chan connError
}

func newErrorLog() *errorLog { return &errorLog{ch: make(chan connError, 64)} }

// add records err; it never blocks the client (a full log drops reports:
// a test reads the first few only).
func (e *errorLog) add(err error, ticks int) {
	select {
	case e.ch <- connError{err: err, at: time.Now(), ticks: ticks}:
	default:
	}
}

// next waits for the next report, or fails the test after within.
func (e *errorLog) next(t *testing.T, who string, within time.Duration) connError {
	t.Helper()
	select {
	case ce := <-e.ch:
		return ce
	case <-time.After(within):
		t.Fatalf("%s: no connection error within %v", who, within)
		return connError{}
	}
}

// stopServerFirst stops ts when the test ends, before the clients and the
// proxies registered earlier (cleanups run last-registered first), and
// waits until every connection through routes has ended at its client:
// each proxied connection so ends from the server's side, and what a toxic
// still holds drains to a client that is still reading (see the top of
// this file).
func stopServerFirst(t *testing.T, ts *comparetest.Server, routes ...*route) {
	t.Cleanup(func() {
		ts.StopChecked(t)
		for _, r := range routes {
			r.waitDrained(t, 10*time.Second)
		}
	})
}
