package probe

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe/internal/wire"
)

// RawConn is a hand-written client of /sse or /ws. It sends the fewest bytes
// a valid client may send and parses the answer itself, for three reasons:
//
//   - the probes measure the transport and the server, not a client library
//     (a Go HTTP client and coder/websocket's dialer cost very different
//     amounts, and neither is what a browser runs);
//   - it knows exactly how many bytes every message takes on the wire,
//     framing included: HTTP/1.1 chunk headers for SSE, frame headers and
//     masks for WebSocket;
//   - an idle RawConn holds no goroutine and, after Idle, no buffer, so
//     thousands of them in the server's own process barely disturb the
//     server's memory figures.
//
// A RawConn is not safe for concurrent use.
type RawConn struct {
	tg *Target
	t  compare.Transport
	nc net.Conn
	br *bufio.Reader

	chunked   bool         // SSE: the body uses HTTP/1.1 chunked encoding
	buf       []byte       // payload of the message being parsed
	data      []byte       // SSE: the joined data lines of an event
	events    []wire.Event // SSE: the events of the chunk being parsed
	wbuf      []byte       // frames and requests being written
	body      []byte       // chat message being sent; POST /chat answer
	queue     []RawMsg
	client    string // the id from hello
	handshake Handshake
	up, down  int64

	post   net.Conn // SSE: the back channel for POST /chat, kept alive
	postBR *bufio.Reader
}

// MsgKind says what a message read by RawConn.Next is.
type MsgKind uint8

const (
	MsgOther MsgKind = iota // nothing the demo shows: retry field, keep-alive comment, ping, pong
	MsgHello                // the first message: names the client
	MsgTick                 // a clock tick
	MsgEcho                 // the echo of a chat message
	MsgGap                  // ticks the server can no longer replay
	MsgError                // WebSocket: a refused chat message
)

// RawMsg is one message as RawConn.Next read it.
type RawMsg struct {
	Kind MsgKind
	Seq  int64  // tick: its seq; gap: the first missed seq
	To   int64  // gap: the last missed seq
	Wire int    // bytes it took on the wire, framing included
	Data []byte // JSON payload (SSE data, WebSocket message); valid until the next call to Next
}

// Handshake returns what opening the connection took.
func (c *RawConn) Handshake() Handshake { return c.handshake }

// Client returns the id the server's hello gave this connection.
func (c *RawConn) Client() string { return c.client }

// Transport returns the connection's transport.
func (c *RawConn) Transport() compare.Transport { return c.t }

// Bytes returns the bytes written and read so far on the wire, the SSE back
// channel included.
func (c *RawConn) Bytes() (up, down int64) { return c.up, c.down }

// Next reads the next message. It answers WebSocket pings by itself (the
// ping is still returned, as MsgOther). The end of the stream, or a close
// frame, is an error.
func (c *RawConn) Next(ctx context.Context) (RawMsg, error) {
	stop := c.watch(ctx)
	defer stop()
	return c.next()
}

func (c *RawConn) next() (RawMsg, error) {
	if len(c.queue) > 0 {
		m := c.queue[0]
		c.queue = c.queue[1:]
		return m, nil
	}
	if c.br == nil {
		c.br = bufio.NewReaderSize(c.nc, 4096)
	}
	if c.t == compare.SSE {
		return c.nextSSE()
	}
	return c.nextWS()
}

// Idle releases the connection's read and write buffers, so that a crowd of
// idle connections costs the client almost nothing; the next call to Next
// allocates them again. Messages already read ahead into the buffer (a live
// tick right behind the first one) are read and dropped first.
func (c *RawConn) Idle() error {
	if c.br != nil && c.br.Buffered() > 0 {
		c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		for c.br.Buffered() > 0 {
			if _, err := c.next(); err != nil {
				return fmt.Errorf("probe: reading ahead: %w", err)
			}
		}
		c.nc.SetReadDeadline(time.Time{})
	}
	c.br, c.buf, c.data, c.events, c.wbuf, c.queue = nil, nil, nil, nil, nil, nil
	return nil
}

// NetConn hands over the socket, for callers that count bytes themselves
// (the fan-out benchmark), after Idle: what it reads next starts with a
// whole message.
func (c *RawConn) NetConn() (net.Conn, error) {
	if err := c.Idle(); err != nil {
		return nil, err
	}
	return c.nc, nil
}

// Close closes the connection as a closed tab does: WebSocket first sends
// a close frame with 1001 (going away), SSE just closes the socket (and the
// back channel), which is all an EventSource can do. It does not wait for
// the server's answer.
func (c *RawConn) Close() error {
	if c.post != nil {
		c.post.Close()
	}
	if c.t == compare.WS {
		c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		c.writeWS(wire.OpClose, []byte{0x03, 0xe9}) // 1001
	}
	return c.nc.Close()
}

// watch applies ctx to the socket(s): its deadline, and its cancellation.
func (c *RawConn) watch(ctx context.Context) func() {
	dl, _ := ctx.Deadline() // zero: no deadline
	c.nc.SetDeadline(dl)
	if c.post != nil {
		c.post.SetDeadline(dl)
	}
	if ctx.Done() == nil {
		return func() {}
	}
	stop := context.AfterFunc(ctx, func() {
		past := time.Unix(1, 0)
		c.nc.SetDeadline(past)
		if c.post != nil {
			c.post.SetDeadline(past)
		}
	})
	return func() { stop() }
}
