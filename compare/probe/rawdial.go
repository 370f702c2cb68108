package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe/internal/wire"
)

// Handshake is what it took to open a RawConn: from the start of the dial
// until the first tick.
type Handshake struct {
	Head      time.Duration `json:"head_ns"`        // until the end of the response head (200 or 101): the connection is open
	FirstTick time.Duration `json:"first_tick_ns"`  // until the first tick was read
	Request   int           `json:"request_bytes"`  // bytes up: the request
	Response  int           `json:"response_bytes"` // bytes down: the response head (status line and headers)
	Setup     int           `json:"setup_bytes"`    // bytes down after the head and before the first tick (SSE: retry and hello; WebSocket: hello)
	Tick      int           `json:"tick_bytes"`     // bytes down of the first tick
	Seq       int64         `json:"seq"`            // seq of the first tick
}

// Bytes is the HTTP handshake on the wire: request plus response head.
func (h Handshake) Bytes() int { return h.Request + h.Response }

// ToFirstTick is every byte, both ways, from the dial to the first tick
// included.
func (h Handshake) ToFirstTick() int { return h.Request + h.Response + h.Setup + h.Tick }

// DialRaw opens a connection of transport t to tg and reads up to the first
// tick. lastEventID, if not empty, resumes after that tick (SSE: the
// Last-Event-ID header; WebSocket: ?lastEventId=), so the first tick read is
// the first one replayed or, if none is missing, the next live one.
func DialRaw(ctx context.Context, tg *Target, t compare.Transport, lastEventID string) (*RawConn, error) {
	if t != compare.SSE && t != compare.WS {
		return nil, fmt.Errorf("probe: unknown transport %q", t)
	}
	start := time.Now()
	nc, err := tg.dial(ctx)
	if err != nil {
		return nil, err
	}
	c := &RawConn{tg: tg, t: t, nc: nc, br: bufio.NewReaderSize(nc, 4096)}
	if err := c.open(ctx, start, lastEventID); err != nil {
		nc.Close()
		return nil, fmt.Errorf("probe: %s handshake: %w", t.Name(), err)
	}
	return c, nil
}

// open sends the request a browser would send, minus every optional
// header, checks the answer, and reads up to the first tick, timing the
// head and the tick from start.
func (c *RawConn) open(ctx context.Context, start time.Time, lastEventID string) error {
	stop := c.watch(ctx)
	defer stop()

	u := c.tg.url(string(c.t))
	var accept [28]byte
	b := c.wbuf[:0]
	switch c.t {
	case compare.SSE:
		b = append(b, "GET "...)
		b = append(b, u.RequestURI()...)
		b = append(b, " HTTP/1.1\r\nHost: "...)
		b = append(b, c.tg.Base.Host...)
		b = append(b, "\r\nAccept: text/event-stream\r\n"...)
		if lastEventID != "" {
			b = append(b, "Last-Event-ID: "...)
			b = append(b, lastEventID...)
			b = append(b, "\r\n"...)
		}
	case compare.WS:
		key := wire.NewKey()
		accept = wire.AcceptKey(key[:])
		b = append(b, "GET "...)
		b = append(b, u.RequestURI()...)
		if lastEventID != "" {
			b = append(b, "?lastEventId="...)
			b = append(b, lastEventID...)
		}
		b = append(b, " HTTP/1.1\r\nHost: "...)
		b = append(b, c.tg.Base.Host...)
		b = append(b, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "...)
		b = append(b, key[:]...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	c.wbuf = b
	if _, err := c.nc.Write(b); err != nil {
		return err
	}
	c.up += int64(len(b))
	c.handshake.Request = len(b)

	head, err := wire.ReadHead(c.br)
	c.handshake.Response = head.N
	c.down += int64(head.N)
	if err != nil {
		return err
	}
	c.handshake.Head = time.Since(start)
	switch c.t {
	case compare.SSE:
		if head.Status != 200 {
			return fmt.Errorf("GET %s: HTTP %d", u.Path, head.Status)
		}
		if !head.EventStream {
			return fmt.Errorf("GET %s: Content-Type is not text/event-stream", u.Path)
		}
		c.chunked = head.Chunked
	case compare.WS:
		if head.Status != 101 {
			return fmt.Errorf("GET %s: HTTP %d instead of 101 Switching Protocols", u.Path, head.Status)
		}
		if string(head.Accept) != string(accept[:]) {
			return errors.New("wrong Sec-WebSocket-Accept")
		}
	}

	for {
		m, err := c.next()
		if err != nil {
			return err
		}
		switch m.Kind {
		case MsgTick:
			c.handshake.FirstTick = time.Since(start)
			c.handshake.Tick = m.Wire
			c.handshake.Seq = m.Seq
			return nil
		case MsgHello:
			c.client = string(wire.JSONString(m.Data, "client"))
		}
		c.handshake.Setup += m.Wire
	}
}
