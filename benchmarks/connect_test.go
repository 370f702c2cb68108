package benchmarks

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// BenchmarkConnect measures opening one connection, from the start of the
// TCP dial until the first tick has been read, then closing it: the cost a
// page pays on every load and every reconnect.
//
//   - ns/op and p50-ns: dial, HTTP handshake, hello, first tick. A new
//     connection gets the current tick at once, so the clock's interval
//     plays no part.
//   - handshake-B: the HTTP request and the response head, both ways, on
//     the wire. first-tick-B: every byte both ways up to and including the
//     first tick (SSE adds a retry: field and a hello event, WebSocket a
//     hello message).
//   - allocs/op, B/op: both ends, client and server, in this process.
//     server-allocs/op: the server's share, once the client's own
//     allocations (measured apart, see clientAllocs) are taken away.
//
// What to notice: the two handshakes cost about the same. WebSocket's
// request is longer (Upgrade, Sec-WebSocket-Key) and its answer shorter
// (101 has no Content-Type or Cache-Control), and once it is switched there
// is no HTTP left, while SSE stays an ordinary HTTP response. The client
// here is a hand-written minimal one; a browser sends hundreds of bytes more
// headers (User-Agent, Accept-Language, cookies) on both.
func BenchmarkConnect(b *testing.B) {
	for _, t := range compare.Transports {
		b.Run(name(t), func(b *testing.B) {
			s := startServer(b, quietConfig())
			client := clientAllocs(b, s, t)
			ctx := context.Background()
			var hs probe.Handshake
			var samples []time.Duration
			var m0, m1 runtime.MemStats
			b.ReportAllocs()
			runtime.ReadMemStats(&m0)
			for b.Loop() {
				start := time.Now()
				var err error
				hs, err = probe.ConnectOnce(ctx, s.tg, t)
				if err != nil {
					b.Fatal(err)
				}
				samples = append(samples, time.Since(start))
			}
			// Let the server finish with the last connections so that their
			// teardown is counted too.
			s.waitOpen(b, t, 0)
			runtime.ReadMemStats(&m1)
			n := float64(b.N)
			b.ReportMetric(float64(probe.Summarize(samples).P50), "p50-ns")
			b.ReportMetric(float64(hs.Bytes()), "handshake-B")
			b.ReportMetric(float64(hs.ToFirstTick()), "first-tick-B")
			b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/n-client, "server-allocs/op")
		})
	}
}

var clientAllocsCache sync.Map // compare.Transport → float64

// clientAllocs is how many allocations one probe.ConnectOnce makes on the
// client side. It is measured in two parts that together are exactly the
// client's work, with no server in the same process to blur the count:
//
//   - the client's protocol code, against an in-memory connection that
//     plays back a server's answer recorded from s;
//   - a real TCP dial and close, against a listener that never accepts (the
//     kernel completes the TCP handshake by itself).
func clientAllocs(b *testing.B, s *server, t compare.Transport) float64 {
	if v, ok := clientAllocsCache.Load(t); ok {
		return v.(float64)
	}
	tape := record(b, s, t)
	tg := *s.tg
	tg.DialContext = func(context.Context, string, string) (net.Conn, error) { return tape.play(), nil }
	ctx := context.Background()
	protocol := testing.AllocsPerRun(200, func() {
		if _, err := probe.ConnectOnce(ctx, &tg, t); err != nil {
			b.Fatal(err)
		}
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var d net.Dialer
	dial := testing.AllocsPerRun(200, func() {
		c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	})
	clientAllocsCache.Store(t, protocol+dial)
	return protocol + dial
}

// tape is a server's answer to one connection, up to the first tick.
type tape struct {
	answer []byte
	conns  []*tapeConn // made in advance, so that playing allocates nothing
}

// record connects to s once and keeps what the server sent.
func record(b *testing.B, s *server, t compare.Transport) *tape {
	var rec recorder
	tg := *s.tg
	tg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		rec.Conn = nc
		return &rec, err
	}
	if _, err := probe.ConnectOnce(context.Background(), &tg, t); err != nil {
		b.Fatal(err)
	}
	tp := &tape{answer: rec.read.Bytes()}
	for range 256 {
		tp.conns = append(tp.conns, &tapeConn{tape: tp, answer: make([]byte, 0, len(tp.answer))})
	}
	return tp
}

// play returns a connection that answers like the recorded server.
func (tp *tape) play() net.Conn {
	c := tp.conns[0]
	tp.conns = append(tp.conns[1:], c)
	c.answer = append(c.answer[:0], tp.answer...)
	c.off, c.asked = 0, false
	return c
}

type recorder struct {
	net.Conn
	read bytes.Buffer
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.read.Write(p[:n])
	return n, err
}

// tapeConn is an in-memory connection that plays a tape. For WebSocket it
// puts the right Sec-WebSocket-Accept for the client's key into the answer,
// as the server would.
type tapeConn struct {
	tape   *tape
	answer []byte
	off    int
	asked  bool
}

var acceptHeader = []byte("Sec-Websocket-Accept: ")

func (c *tapeConn) Write(p []byte) (int, error) {
	if key := bytes.Index(p, []byte("Sec-WebSocket-Key: ")); key >= 0 {
		k := p[key+len("Sec-WebSocket-Key: "):]
		k = k[:bytes.IndexByte(k, '\r')]
		var in [128]byte
		n := copy(in[:], k)
		n += copy(in[n:], "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
		sum := sha1.Sum(in[:n])
		if i := bytes.Index(c.answer, acceptHeader); i >= 0 {
			base64.StdEncoding.Encode(c.answer[i+len(acceptHeader):], sum[:])
		}
	}
	c.asked = true
	return len(p), nil
}

func (c *tapeConn) Read(p []byte) (int, error) {
	if !c.asked {
		return 0, io.ErrNoProgress
	}
	if c.off == len(c.answer) {
		return 0, io.EOF
	}
	n := copy(p, c.answer[c.off:])
	c.off += n
	return n, nil
}

func (c *tapeConn) Close() error                     { return nil }
func (c *tapeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *tapeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *tapeConn) SetDeadline(time.Time) error      { return nil }
func (c *tapeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *tapeConn) SetWriteDeadline(time.Time) error { return nil }
