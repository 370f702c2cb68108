package benchmarks

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// These tests pin down, byte for byte, what one tick costs on the wire, so
// that the wire-B numbers of the benchmarks can be checked by hand. They
// speak HTTP and WebSocket themselves instead of using probe.RawConn, and
// build the expected bytes from DESIGN.md, not from the server's encoders.

// tickJSON is the tick payload DESIGN.md gives: {"seq":N,"time":"<RFC 3339
// with ms, UTC>"}, the WebSocket message adding "type" in front.
func tickJSON(seq int64, interval time.Duration, typ bool) string {
	t := time.UnixMilli(seq * interval.Milliseconds()).UTC().Format("2006-01-02T15:04:05.000Z")
	if typ {
		return fmt.Sprintf(`{"type":"tick","seq":%d,"time":%q}`, seq, t)
	}
	return fmt.Sprintf(`{"seq":%d,"time":%q}`, seq, t)
}

// A WebSocket tick is one unmasked text frame: FIN + opcode 1, then the
// payload length in one byte (payloads up to 125 bytes), then the payload.
// Wire bytes = payload + 2.
func TestWireWebSocketTickIsPayloadPlusTwo(t *testing.T) {
	s := startServer(t, quietConfig())
	conn, br := handshakeWS(t, s)
	defer conn.Close()

	seq := s.PublishNext()
	payload := tickJSON(seq, time.Hour, true)
	if len(payload) > 125 {
		t.Fatalf("payload of %d bytes: the one-byte length no longer applies", len(payload))
	}
	want := append([]byte{0x81, byte(len(payload))}, payload...)
	got := readExactly(t, conn, br, len(want))
	if !bytes.Equal(got, want) {
		t.Fatalf("tick on the wire\n%q\nwant\n%q", got, want)
	}
	if len(got) != len(payload)+2 {
		t.Errorf("tick is %d bytes on the wire, want payload %d + 2", len(got), len(payload))
	}
}

// An SSE tick is the event DESIGN.md gives (id, event: tick, data, blank
// line), and over HTTP/1.1 the server's flush wraps it in one chunk of the
// chunked transfer coding: the size in hex, CRLF, the event, CRLF.
// Wire bytes = event + len(hex size) + 4.
func TestWireSSETickIsOneChunkedEvent(t *testing.T) {
	s := startServer(t, quietConfig())
	conn, br := handshakeSSE(t, s)
	defer conn.Close()

	seq := s.PublishNext()
	event := "id: " + strconv.FormatInt(seq, 10) + "\nevent: tick\ndata: " + tickJSON(seq, time.Hour, false) + "\n\n"
	hexSize := strconv.FormatInt(int64(len(event)), 16)
	want := hexSize + "\r\n" + event + "\r\n"
	got := readExactly(t, conn, br, len(want))
	if string(got) != want {
		t.Fatalf("tick on the wire\n%q\nwant\n%q", got, want)
	}
	if len(got) != len(event)+len(hexSize)+4 {
		t.Errorf("tick is %d bytes on the wire, want event %d + %d", len(got), len(event), len(hexSize)+4)
	}
}

// The probes' own client counts the same bytes as the tests above: what
// probe.RawConn reports as a tick's Wire is what is on the wire.
func TestRawConnCountsWhatIsOnTheWire(t *testing.T) {
	s := startServer(t, quietConfig())
	for _, tr := range compare.Transports {
		t.Run(name(tr), func(t *testing.T) {
			var counted countingConn
			tg := *s.tg
			tg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				counted.Conn = nc
				return &counted, err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := probe.DialRaw(ctx, &tg, tr, "")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			hs := c.Handshake()
			if up, down := c.Bytes(); up != counted.up || down != counted.down {
				t.Errorf("RawConn counted %d up, %d down; the socket carried %d up, %d down", up, down, counted.up, counted.down)
			}
			if int64(hs.ToFirstTick()) != counted.up+counted.down {
				t.Errorf("handshake to first tick %d bytes; socket %d", hs.ToFirstTick(), counted.up+counted.down)
			}
			seq := s.PublishNext()
			m, err := c.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind != probe.MsgTick || m.Seq != seq {
				t.Fatalf("got kind %d seq %d, want tick %d", m.Kind, m.Seq, seq)
			}
			want := len(tickJSON(seq, time.Hour, true)) + 2
			if tr == compare.SSE {
				ev := len("id: \nevent: tick\ndata: \n\n") + len(strconv.FormatInt(seq, 10)) + len(tickJSON(seq, time.Hour, false))
				want = ev + len(strconv.FormatInt(int64(ev), 16)) + 4
			}
			if m.Wire != want {
				t.Errorf("tick counted as %d bytes, want %d", m.Wire, want)
			}
			if _, down := c.Bytes(); down != counted.down {
				t.Errorf("after the tick RawConn counted %d down; the socket carried %d", down, counted.down)
			}
		})
	}
}

// countingConn counts the bytes that cross a connection.
type countingConn struct {
	net.Conn
	up, down int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.down += int64(n)
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.up += int64(n)
	return n, err
}

// handshakeWS opens /ws by hand and reads up to the first tick, so that the
// next bytes on the connection are the next tick.
func handshakeWS(t *testing.T, s *server) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn := dial(t, s)
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n", s.Addr, key)
	br := bufio.NewReader(conn)
	head := readHead(t, br)
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if !strings.HasPrefix(head, "HTTP/1.1 101 ") || !strings.Contains(head, base64.StdEncoding.EncodeToString(sum[:])) {
		t.Fatalf("handshake answer:\n%s", head)
	}
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatal(err)
		}
		if h[1] > 125 {
			t.Fatalf("unexpected frame header % x", h)
		}
		payload := make([]byte, h[1])
		if _, err := io.ReadFull(br, payload); err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(payload, []byte(`{"type":"tick"`)) {
			return conn, br
		}
	}
}

// handshakeSSE opens /sse by hand and reads up to the first tick.
func handshakeSSE(t *testing.T, s *server) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn := dial(t, s)
	fmt.Fprintf(conn, "GET /sse HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", s.Addr)
	br := bufio.NewReader(conn)
	head := readHead(t, br)
	if !strings.HasPrefix(head, "HTTP/1.1 200 ") || !strings.Contains(head, "Transfer-Encoding: chunked") {
		t.Fatalf("answer:\n%s", head)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		size, err := strconv.ParseInt(strings.TrimSpace(line), 16, 32)
		if err != nil {
			t.Fatalf("chunk size line %q", line)
		}
		chunk := make([]byte, size+2)
		if _, err := io.ReadFull(br, chunk); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(chunk, []byte("\nevent: tick\n")) {
			return conn, br
		}
	}
}

func dial(t *testing.T, s *server) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn
}

func readHead(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		head.WriteString(line)
		if line == "\r\n" {
			return head.String()
		}
	}
}

// readExactly reads n bytes, then checks that nothing more arrives for a
// moment: the tick must be exactly n bytes, not n and then some.
func readExactly(t *testing.T, conn net.Conn, br *bufio.Reader, n int) []byte {
	t.Helper()
	if br.Buffered() > 0 {
		t.Fatalf("%d bytes arrived before the tick", br.Buffered())
	}
	got := make([]byte, n)
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatalf("reading the tick: %v (got %q)", err, got)
	}
	conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if extra, _ := br.ReadByte(); br.Buffered() > 0 || extra != 0 {
		t.Errorf("more bytes after the tick: %q", extra)
	}
	return got
}
