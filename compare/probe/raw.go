package probe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/ws"
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

	chunked   bool   // SSE: the body uses HTTP/1.1 chunked encoding
	buf       []byte // payload of the message being parsed
	data      []byte // SSE: the joined data lines of an event
	wbuf      []byte // frames and requests being written
	body      []byte // chat message being sent; POST /chat answer
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

// wsGUID is the constant RFC 6455 mixes into Sec-WebSocket-Accept.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

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
		var nonce [16]byte
		rand.Read(nonce[:])
		var key [24]byte
		base64.StdEncoding.Encode(key[:], nonce[:])
		h := sha1.New()
		h.Write(key[:])
		h.Write([]byte(wsGUID))
		base64.StdEncoding.Encode(accept[:], h.Sum(nil))
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

	head, err := readHead(c.br)
	c.handshake.Response = head.n
	c.down += int64(head.n)
	if err != nil {
		return err
	}
	c.handshake.Head = time.Since(start)
	switch c.t {
	case compare.SSE:
		if head.status != 200 {
			return fmt.Errorf("GET %s: HTTP %d", u.Path, head.status)
		}
		if !head.eventStream {
			return fmt.Errorf("GET %s: Content-Type is not text/event-stream", u.Path)
		}
		c.chunked = head.chunked
	case compare.WS:
		if head.status != 101 {
			return fmt.Errorf("GET %s: HTTP %d instead of 101 Switching Protocols", u.Path, head.status)
		}
		if string(head.accept) != string(accept[:]) {
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
			c.client = string(jsonString(m.Data, "client"))
		}
		c.handshake.Setup += m.Wire
	}
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
	c.br, c.buf, c.data, c.wbuf, c.queue = nil, nil, nil, nil, nil
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
		c.writeWS(0x8, []byte{0x03, 0xe9}) // 1001
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

// nextSSE reads one SSE frame: one chunk of the chunked body (the server
// flushes every frame, and every flush is one chunk), or, for a body that
// is not chunked, lines up to a blank line.
func (c *RawConn) nextSSE() (RawMsg, error) {
	var block []byte
	wire := 0
	if c.chunked {
		line, err := c.br.ReadSlice('\n')
		wire += len(line)
		if err != nil {
			c.down += int64(wire)
			return RawMsg{}, err
		}
		size, err := parseChunkSize(line)
		if err != nil {
			return RawMsg{}, err
		}
		if size == 0 { // the last chunk: the server ended the stream
			for {
				line, err := c.br.ReadSlice('\n')
				wire += len(line)
				if err != nil || len(bytes.TrimRight(line, "\r\n")) == 0 {
					break
				}
			}
			c.down += int64(wire)
			return RawMsg{}, io.EOF
		}
		if size > 1<<20 {
			return RawMsg{}, fmt.Errorf("chunk of %d bytes: too large", size)
		}
		c.buf = grow(c.buf, size+2)
		if _, err := io.ReadFull(c.br, c.buf[:size+2]); err != nil {
			return RawMsg{}, err
		}
		if string(c.buf[size:size+2]) != "\r\n" {
			return RawMsg{}, errors.New("chunk does not end with CRLF")
		}
		wire += size + 2
		block = c.buf[:size]
	} else {
		c.buf = c.buf[:0]
		for {
			line, err := c.br.ReadSlice('\n')
			wire += len(line)
			if err != nil {
				c.down += int64(wire)
				return RawMsg{}, err
			}
			c.buf = append(c.buf, line...)
			if len(bytes.TrimRight(line, "\r\n")) == 0 || line[0] == ':' && len(c.buf) == len(line) {
				break // a blank line, or a comment on its own
			}
		}
		block = c.buf
	}
	c.down += int64(wire)
	c.queue = parseSSE(c.queue[:0], &c.data, block)
	m := c.queue[0]
	c.queue = c.queue[1:]
	m.Wire = wire // the bytes are the chunk's: they go to its first event
	return m, nil
}

// parseSSE splits one chunk into events. The server writes one event per
// chunk; a chunk with several gives several messages (the first carries the
// chunk's bytes, the others none). A chunk with no event (a retry field, a
// comment) gives one MsgOther.
func parseSSE(out []RawMsg, scratch *[]byte, block []byte) []RawMsg {
	var typ, id []byte
	buf, start := (*scratch)[:0], 0
	hasData := false
	for len(block) > 0 {
		i := bytes.IndexByte(block, '\n')
		line := block
		if i >= 0 {
			line, block = block[:i], block[i+1:]
		} else {
			block = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			if hasData {
				out = append(out, sseMsg(typ, id, buf[start:]))
				start = len(buf) // keep the bytes: out refers to them
			}
			typ, id, hasData = nil, nil, false
			continue
		}
		if line[0] == ':' {
			continue
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(name) {
		case "event":
			typ = value
		case "id":
			id = value
		case "data":
			if hasData {
				buf = append(buf, '\n')
			}
			buf = append(buf, value...)
			hasData = true
		}
	}
	*scratch = buf[:0]
	if len(out) == 0 {
		out = append(out, RawMsg{Kind: MsgOther})
	}
	return out
}

func sseMsg(typ, id, data []byte) RawMsg {
	m := RawMsg{Kind: MsgOther, Data: data}
	switch string(typ) {
	case compare.EventTick:
		m.Kind = MsgTick
		m.Seq = parseDigits(id)
	case compare.EventHello:
		m.Kind = MsgHello
	case compare.EventEcho:
		m.Kind = MsgEcho
	case compare.EventGap:
		m.Kind = MsgGap
		m.Seq, m.To = jsonInt(data, "from"), jsonInt(data, "to")
	}
	return m
}

// nextWS reads one WebSocket frame from the server (never masked, never
// fragmented by this server).
func (c *RawConn) nextWS() (RawMsg, error) {
	var h [8]byte
	if _, err := io.ReadFull(c.br, h[:2]); err != nil {
		return RawMsg{}, err
	}
	fin, op := h[0]&0x80 != 0, h[0]&0x0f
	if h[1]&0x80 != 0 {
		return RawMsg{}, errors.New("masked frame from the server")
	}
	n, wire := int(h[1]&0x7f), 2
	switch n {
	case 126:
		if _, err := io.ReadFull(c.br, h[:2]); err != nil {
			return RawMsg{}, err
		}
		n, wire = int(binary.BigEndian.Uint16(h[:2])), 4
	case 127:
		if _, err := io.ReadFull(c.br, h[:8]); err != nil {
			return RawMsg{}, err
		}
		n64 := binary.BigEndian.Uint64(h[:8])
		if n64 > 1<<20 {
			return RawMsg{}, fmt.Errorf("frame of %d bytes: too large", n64)
		}
		n, wire = int(n64), 10
	}
	c.buf = grow(c.buf, n)
	payload := c.buf[:n]
	if _, err := io.ReadFull(c.br, payload); err != nil {
		return RawMsg{}, err
	}
	wire += n
	c.down += int64(wire)
	if !fin || op == 0 {
		return RawMsg{}, errors.New("fragmented message")
	}
	m := RawMsg{Kind: MsgOther, Wire: wire, Data: payload}
	switch op {
	case 1: // text
		switch string(jsonString(payload, "type")) {
		case ws.TypeTick:
			m.Kind, m.Seq = MsgTick, jsonInt(payload, "seq")
		case ws.TypeHello:
			m.Kind = MsgHello
		case ws.TypeEcho:
			m.Kind = MsgEcho
		case ws.TypeGap:
			m.Kind, m.Seq, m.To = MsgGap, jsonInt(payload, "from"), jsonInt(payload, "to")
		case ws.TypeError:
			m.Kind = MsgError
		}
	case 8: // close
		code := 1005
		if n >= 2 {
			code = int(binary.BigEndian.Uint16(payload))
		}
		return m, &CloseError{Code: code, Reason: string(payload[min(n, 2):])}
	case 9: // ping: answer with a pong carrying the same payload
		if _, err := c.writeWS(0xA, payload); err != nil {
			return m, err
		}
	case 10: // pong
	default:
		return m, fmt.Errorf("unexpected frame opcode %d", op)
	}
	return m, nil
}

// CloseError is a WebSocket close frame from the server.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("server closed the WebSocket: %d %s", e.Code, e.Reason)
}

// writeWS writes one masked client frame.
func (c *RawConn) writeWS(op byte, payload []byte) (int, error) {
	n := len(payload)
	b := append(c.wbuf[:0], 0x80|op)
	switch {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], mrand.Uint32())
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, payload...)
	for i := range b[start:] {
		b[start+i] ^= key[i&3]
	}
	c.wbuf = b
	if _, err := c.nc.Write(b); err != nil {
		return 0, err
	}
	c.up += int64(len(b))
	return len(b), nil
}

// ChatRefusedError is a chat message the server did not take: rate limited
// or queue full (SSE: 429 or 503; WebSocket: an error message).
type ChatRefusedError struct {
	Status     int // SSE: the HTTP status; WebSocket: 0
	Text       string
	RetryAfter time.Duration // SSE: from Retry-After
}

func (e *ChatRefusedError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("chat refused: HTTP %d %s", e.Status, e.Text)
	}
	return "chat refused: " + e.Text
}

// RoundTripSample is one chat round trip.
type RoundTripSample struct {
	Time time.Duration // from the first byte of the chat message up until its echo was read
	Up   int           // bytes up: the WebSocket frame, or the POST /chat request
	Down int           // bytes down: the echo, plus for SSE the POST's 202 answer
}

// RoundTrip sends text up and waits for its echo: on this socket for
// WebSocket; for SSE as POST /chat on a second, kept-alive connection, with
// the echo coming back on the stream. Ticks that arrive meanwhile are read
// and left out of the byte counts.
func (c *RawConn) RoundTrip(ctx context.Context, text string) (RoundTripSample, error) {
	if c.t == compare.SSE && c.post == nil {
		post, err := c.tg.dial(ctx)
		if err != nil {
			return RoundTripSample{}, err
		}
		c.post, c.postBR = post, bufio.NewReaderSize(post, 1024)
	}
	stop := c.watch(ctx)
	defer stop()

	start := time.Now()
	var s RoundTripSample
	var err error
	if c.t == compare.WS {
		b := append(c.body[:0], `{"type":"chat","text":`...)
		b = appendJSONString(b, text)
		b = append(b, '}')
		c.body = b
		s.Up, err = c.writeWS(1, b)
	} else {
		s.Up, s.Down, err = c.postChat(text)
	}
	if err != nil {
		return s, err
	}
	for {
		m, err := c.next()
		if err != nil {
			return s, err
		}
		switch m.Kind {
		case MsgEcho:
			s.Down += m.Wire
			s.Time = time.Since(start)
			return s, nil
		case MsgError:
			return s, &ChatRefusedError{Text: string(jsonString(m.Data, "text"))}
		}
	}
}

// postChat sends POST /chat on the back channel and reads the answer.
func (c *RawConn) postChat(text string) (up, down int, err error) {
	body := append(c.body[:0], `{"client":`...)
	body = appendJSONString(body, c.client)
	body = append(body, `,"text":`...)
	body = appendJSONString(body, text)
	body = append(body, '}')
	c.body = body

	b := append(c.wbuf[:0], "POST "...)
	b = append(b, c.tg.url("chat").RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.tg.Base.Host...)
	b = append(b, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	c.wbuf = b
	if _, err := c.post.Write(b); err != nil {
		return 0, 0, err
	}
	up = len(b)
	c.up += int64(up)

	head, err := readHead(c.postBR)
	down = head.n
	if err == nil && head.length > 0 {
		c.body = grow(c.body, head.length)
		_, err = io.ReadFull(c.postBR, c.body[:head.length])
		down += head.length
	}
	c.down += int64(down)
	if err != nil {
		return up, down, err
	}
	if head.close {
		c.post.Close()
		c.post = nil
	}
	if head.status != 202 {
		return up, down, &ChatRefusedError{Status: head.status, Text: string(jsonString(c.body[:head.length], "error")), RetryAfter: head.retryAfter}
	}
	return up, down, nil
}

// httpHead is what the probes need from a response head.
type httpHead struct {
	n           int // bytes, status line to the blank line
	status      int
	chunked     bool
	eventStream bool
	close       bool
	length      int
	accept      []byte
	retryAfter  time.Duration
}

// readHead reads a response's status line and headers.
func readHead(br *bufio.Reader) (httpHead, error) {
	var h httpHead
	line, err := br.ReadSlice('\n')
	h.n += len(line)
	if err != nil {
		return h, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return h, fmt.Errorf("not an HTTP response: %q", line)
	}
	h.status = int(parseDigits(line[9:12]))
	if h.status < 100 {
		return h, fmt.Errorf("bad status line %q", line)
	}
	for {
		line, err := br.ReadSlice('\n')
		h.n += len(line)
		if err != nil {
			return h, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return h, nil
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			h.chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Content-Type")):
			mt, _, _ := bytes.Cut(value, []byte(";"))
			h.eventStream = bytes.EqualFold(bytes.TrimSpace(mt), []byte("text/event-stream"))
		case bytes.EqualFold(name, []byte("Content-Length")):
			h.length = int(parseDigits(value))
		case bytes.EqualFold(name, []byte("Connection")):
			h.close = bytes.EqualFold(value, []byte("close"))
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Accept")):
			h.accept = append(h.accept[:0], value...)
		case bytes.EqualFold(name, []byte("Retry-After")):
			h.retryAfter = time.Duration(parseDigits(value)) * time.Second
		}
	}
}

// parseChunkSize reads "1a\r\n" or "1a;ext\r\n".
func parseChunkSize(line []byte) (int, error) {
	n, digits := 0, 0
	for _, ch := range line {
		var d int
		switch {
		case ch >= '0' && ch <= '9':
			d = int(ch - '0')
		case ch >= 'a' && ch <= 'f':
			d = int(ch-'a') + 10
		case ch >= 'A' && ch <= 'F':
			d = int(ch-'A') + 10
		default:
			d = -1
		}
		if d < 0 {
			break
		}
		if digits++; digits > 7 {
			return 0, fmt.Errorf("chunk size %q: too large", line)
		}
		n = n<<4 | d
	}
	if digits == 0 {
		return 0, fmt.Errorf("bad chunk size line %q", line)
	}
	return n, nil
}

// jsonString finds "key":"value" in a flat JSON object made by this server
// and returns value as it is on the wire, without unescaping: the ids and
// texts the probes look at are plain ASCII.
func jsonString(data []byte, key string) []byte {
	v := jsonValue(data, key)
	if len(v) < 2 || v[0] != '"' {
		return nil
	}
	end := bytes.IndexByte(v[1:], '"')
	if end < 0 {
		return nil
	}
	return v[1 : 1+end]
}

// jsonInt finds "key":123 in a flat JSON object.
func jsonInt(data []byte, key string) int64 {
	return parseDigits(jsonValue(data, key))
}

// parseDigits reads the decimal digits at the start of b; it allocates
// nothing, unlike strconv on a converted string.
func parseDigits(b []byte) int64 {
	var n int64
	for _, ch := range b {
		if ch < '0' || ch > '9' || n > (1<<62)/10 {
			break
		}
		n = n*10 + int64(ch-'0')
	}
	return n
}

func jsonValue(data []byte, key string) []byte {
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte(key))
		if j < 0 {
			return nil
		}
		j += i
		after := j + len(key)
		if j > 0 && data[j-1] == '"' && after+1 < len(data) && data[after] == '"' && data[after+1] == ':' {
			return data[after+2:]
		}
		i = after
	}
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '"' || ch == '\\':
			b = append(b, '\\', ch)
		case ch < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[ch>>4], hex[ch&15])
		default:
			b = append(b, ch)
		}
	}
	return append(b, '"')
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n, max(n, 512))
	}
	return b[:n]
}
