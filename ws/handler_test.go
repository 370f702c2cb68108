//go:build !js

package ws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/ssevsws/ssevsws/fanout"
)

func TestHandlerHelloBacklogLiveEcho(t *testing.T) {
	f := newFeed("client-7", AppendGap(nil, 1, 3), tick(4), tick(5))
	// A live tick is ready before the connection even exists: it must still
	// come after the whole backlog.
	f.push(t, tick(6))
	ts := startServer(t, &Handler{}, f)
	c := ts.dial(t, nil)

	var got, gotOwn []Message // all received; those the handler wrote itself
	readWant := func(want Message, live bool) {
		t.Helper()
		m := read(t, c)
		if m != want {
			t.Fatalf("message %d: got %+v, want %+v", len(got), m, want)
		}
		got = append(got, m)
		if !live {
			gotOwn = append(gotOwn, m)
		}
	}
	readWant(Message{Type: TypeHello, Client: "client-7"}, false)
	readWant(Message{Type: TypeGap, From: 1, To: 3}, false)
	readWant(tickMsg(4), false)
	readWant(tickMsg(5), false)
	readWant(tickMsg(6), true)
	f.push(t, tick(7))
	readWant(tickMsg(7), true)

	// Chat goes up and its echo comes back on the same socket, in between
	// live ticks.
	if err := c.Chat(testContext(t), "hello <world>"); err != nil {
		t.Fatal(err)
	}
	readWant(Message{Type: TypeEcho, Text: "hello <world>"}, false)
	f.push(t, tick(8))
	readWant(tickMsg(8), true)

	if err := c.Close(); err != nil {
		t.Errorf("client Close: %v", err)
	}
	f.waitClosed(t)

	if chats := f.chatTexts(); len(chats) != 1 || chats[0] != "hello <world>" {
		t.Errorf("Feed.Chat saw %q, want [hello <world>]", chats)
	}
	if f.lastEventID != "" {
		t.Errorf("Subscribe got lastEventID %q without one in the URL", f.lastEventID)
	}
	// Wrote saw exactly what the client received of the handler's own
	// messages (hello, backlog, echo; live ones are the server's to count),
	// in order.
	wrote := f.wroteMessages()
	if len(wrote) != len(gotOwn) {
		t.Fatalf("Wrote saw %d messages, the client received %d from the handler:\n%q", len(wrote), len(gotOwn), wrote)
	}
	for i, b := range wrote {
		var m Message
		if err := json.Unmarshal(b, &m); err != nil || m != gotOwn[i] {
			t.Errorf("Wrote message %d = %s, client received %+v", i, b, gotOwn[i])
		}
		if IsTick(b) != (gotOwn[i].Type == TypeTick) {
			t.Errorf("IsTick(%s) = %v", b, IsTick(b))
		}
	}
}

func TestHandlerPassesLastEventID(t *testing.T) {
	f := newFeed("c")
	ts := startServer(t, &Handler{}, f)
	c, err := Dial(testContext(t), ts.url+"?lastEventId=41&other=x", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	expectMessage(t, c, Message{Type: TypeHello, Client: "c"})
	if f.lastEventID != "41" {
		t.Errorf("Subscribe got lastEventID %q, want 41", f.lastEventID)
	}
	c.Close()
	f.waitClosed(t)
}

func TestHandlerChatRefusedKeepsSocketOpen(t *testing.T) {
	f := newFeed("c")
	f.setChatErrs(errors.New("rate limited: slow down"))
	ts := startServer(t, &Handler{}, f)
	c := ts.dial(t, nil)
	expectMessage(t, c, Message{Type: TypeHello, Client: "c"})

	if err := c.Chat(testContext(t), "first"); err != nil {
		t.Fatal(err)
	}
	expectMessage(t, c, Message{Type: TypeError, Text: "rate limited: slow down"})

	// The refusal did not end the connection: the next chat is echoed and
	// ticks still flow.
	if err := c.Chat(testContext(t), "second"); err != nil {
		t.Fatal(err)
	}
	expectMessage(t, c, Message{Type: TypeEcho, Text: "second"})
	f.push(t, tick(9))
	expectMessage(t, c, tickMsg(9))

	if chats := f.chatTexts(); strings.Join(chats, ",") != "first,second" {
		t.Errorf("Feed.Chat saw %q", chats)
	}
	c.Close()
	f.waitClosed(t)
	// The refusal is a data message the handler wrote, so Wrote saw it.
	var sawError bool
	for _, b := range f.wroteMessages() {
		sawError = sawError || strings.Contains(string(b), `"type":"error"`)
	}
	if !sawError {
		t.Error("Wrote did not see the error message")
	}
}

func TestHandlerEmptyChatKeepsSocketOpen(t *testing.T) {
	f := newFeed("c")
	ts := startServer(t, &Handler{}, f)
	c := ts.dial(t, nil)
	expectMessage(t, c, Message{Type: TypeHello, Client: "c"})

	if err := c.Chat(testContext(t), ""); err != nil {
		t.Fatal(err)
	}
	m := read(t, c)
	if m.Type != TypeError || m.Text == "" {
		t.Fatalf("empty chat answered with %+v, want an error message with text", m)
	}
	if err := c.Chat(testContext(t), "now with text"); err != nil {
		t.Fatal(err)
	}
	expectMessage(t, c, Message{Type: TypeEcho, Text: "now with text"})
	if chats := f.chatTexts(); len(chats) != 1 {
		t.Errorf("Feed.Chat saw %q; an empty chat must not reach it", chats)
	}
	c.Close()
	f.waitClosed(t)
}

func TestHandlerClosesOnBadMessages(t *testing.T) {
	tests := []struct {
		name  string
		send  func(ctx context.Context, c *Conn) error
		code  websocket.StatusCode
		limit int64
	}{
		{"binary", func(ctx context.Context, c *Conn) error {
			return c.c.Write(ctx, websocket.MessageBinary, Encode(Message{Type: TypeChat, Text: "x"}))
		}, websocket.StatusUnsupportedData, 0},
		{"malformed JSON", func(ctx context.Context, c *Conn) error {
			return c.WriteRaw(ctx, []byte(`{"type":"chat","text":`))
		}, websocket.StatusInvalidFramePayloadData, 0},
		{"not an object", func(ctx context.Context, c *Conn) error {
			return c.WriteRaw(ctx, []byte(`["chat","x"]`))
		}, websocket.StatusInvalidFramePayloadData, 0},
		{"null", func(ctx context.Context, c *Conn) error {
			return c.WriteRaw(ctx, []byte(`null`))
		}, websocket.StatusInvalidFramePayloadData, 0},
		{"unknown type", func(ctx context.Context, c *Conn) error {
			return c.WriteRaw(ctx, []byte(`{"type":"tick","seq":1}`))
		}, websocket.StatusUnsupportedData, 0},
		{"over the default read limit", func(ctx context.Context, c *Conn) error {
			return c.Chat(ctx, strings.Repeat("x", DefaultReadLimit))
		}, websocket.StatusMessageTooBig, 0},
		{"over a small read limit", func(ctx context.Context, c *Conn) error {
			return c.Chat(ctx, strings.Repeat("x", 100))
		}, websocket.StatusMessageTooBig, 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFeed("c")
			ts := startServer(t, &Handler{ReadLimit: tt.limit}, f)
			c := ts.dial(t, nil)
			expectMessage(t, c, Message{Type: TypeHello, Client: "c"})
			if err := tt.send(testContext(t), c); err != nil {
				t.Fatal(err)
			}
			ce := expectClose(t, c, tt.code)
			if tt.code != websocket.StatusMessageTooBig && ce.Reason == "" {
				t.Error("close frame has no reason")
			}
			f.waitClosed(t)
			if chats := f.chatTexts(); len(chats) != 0 {
				t.Errorf("Feed.Chat saw %q", chats)
			}
		})
	}
}

// The limit is the largest message that passes, not the first that fails.
func TestHandlerReadLimitBoundary(t *testing.T) {
	for _, limit := range []int64{0, 64} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			max := limit
			if max == 0 {
				max = DefaultReadLimit
			}
			f := newFeed("c")
			ts := startServer(t, &Handler{ReadLimit: limit}, f)
			c := ts.dial(t, nil)
			expectMessage(t, c, Message{Type: TypeHello, Client: "c"})
			overhead := len(Encode(Message{Type: TypeChat, Text: "y"})) - 1
			text := strings.Repeat("y", int(max)-overhead)
			if n := len(Encode(Message{Type: TypeChat, Text: text})); n != int(max) {
				t.Fatalf("test bug: message is %d bytes", n)
			}
			if err := c.Chat(testContext(t), text); err != nil {
				t.Fatal(err)
			}
			expectMessage(t, c, Message{Type: TypeEcho, Text: text})
			if err := c.Chat(testContext(t), text+"y"); err != nil {
				t.Fatal(err)
			}
			expectClose(t, c, websocket.StatusMessageTooBig)
			f.waitClosed(t)
		})
	}
}

func TestHandlerFeedDone(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   websocket.StatusCode
		reason string
	}{
		{"going away", websocket.CloseError{Code: websocket.StatusGoingAway, Reason: "server shutting down"},
			websocket.StatusGoingAway, "server shutting down"},
		{"wrapped policy", fmt.Errorf("drop request: %w", websocket.CloseError{Code: websocket.StatusPolicyViolation, Reason: "too slow"}),
			websocket.StatusPolicyViolation, "too slow"},
		{"plain error", errors.New("clock broke; secret internals"), websocket.StatusInternalError, ""},
		{"nil error", nil, websocket.StatusInternalError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFeed("c", tick(1))
			ts := startServer(t, &Handler{}, f)
			c := ts.dial(t, nil)
			expectMessage(t, c, Message{Type: TypeHello, Client: "c"})
			expectMessage(t, c, tickMsg(1))
			f.end(tt.err)
			ce := expectClose(t, c, tt.code)
			if tt.reason != "" && ce.Reason != tt.reason {
				t.Errorf("close reason %q, want %q", ce.Reason, tt.reason)
			}
			if tt.err != nil && tt.code == websocket.StatusInternalError && strings.Contains(ce.Reason, "secret") {
				t.Errorf("close reason %q leaks the internal error", ce.Reason)
			}
			f.waitClosed(t)
		})
	}
}

func TestHandlerSubscribeError(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes: more than a close frame holds
	for _, msg := range []string{"too many connections", long} {
		t.Run(fmt.Sprint(len(msg), " bytes"), func(t *testing.T) {
			ts := startServer(t, &Handler{Subscribe: func(*http.Request, string, *Peer) (Feed, error) {
				return nil, errors.New(msg)
			}})
			c := ts.dial(t, nil)
			ce := expectClose(t, c, websocket.StatusTryAgainLater)
			if len(ce.Reason) > 123 || !utf8.ValidString(ce.Reason) || !strings.HasPrefix(msg, ce.Reason) || ce.Reason == "" {
				t.Errorf("close reason %q: want a non-empty valid UTF-8 prefix of the error, at most 123 bytes", ce.Reason)
			}
		})
	}
}

func TestHandlerOrigin(t *testing.T) {
	evil := &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://evil.example"}}}

	t.Run("foreign origin refused", func(t *testing.T) {
		ts := startServer(t, &Handler{OriginPatterns: []string{"localhost:3000"}}, newFeed("c"))
		c, err := Dial(testContext(t), ts.url, evil)
		if err == nil {
			c.CloseNow()
			t.Fatal("Dial with a foreign Origin succeeded")
		}
		var he *HandshakeError
		if !errors.As(err, &he) || he.StatusCode != http.StatusForbidden {
			t.Fatalf("Dial error %v (%T), want a *HandshakeError with 403", err, err)
		}
		if !strings.Contains(he.Error(), "403") {
			t.Errorf("HandshakeError text %q does not say 403", he.Error())
		}
		if len(ts.subscribed) != 0 {
			t.Error("Subscribe was called for a refused handshake")
		}
	})

	for _, pattern := range []string{"evil.example", "http://evil.example", "*.example"} {
		t.Run("allowed by "+pattern, func(t *testing.T) {
			f := newFeed("c")
			ts := startServer(t, &Handler{OriginPatterns: []string{"localhost:3000", pattern}}, f)
			c := ts.dial(t, evil)
			expectMessage(t, c, Message{Type: TypeHello, Client: "c"})
			c.Close()
			f.waitClosed(t)
		})
	}

	t.Run("same origin allowed", func(t *testing.T) {
		f := newFeed("c")
		ts := startServer(t, &Handler{}, f)
		same := &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {ts.srv.URL}}}
		c := ts.dial(t, same)
		expectMessage(t, c, Message{Type: TypeHello, Client: "c"})
		c.Close()
		f.waitClosed(t)
	})
}

func TestHandlerNotAWebSocketRequest(t *testing.T) {
	ts := startServer(t, &Handler{}, newFeed("c"))
	resp, err := http.Get(ts.httpURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("plain GET answered %s, want a 4xx", resp.Status)
	}
	if len(ts.subscribed) != 0 {
		t.Error("Subscribe was called for a plain GET")
	}
}

func TestHandlerClientVanishes(t *testing.T) {
	f := newFeed("c", tick(1))
	ts := startServer(t, &Handler{}, f)
	c := ts.dial(t, nil)
	expectMessage(t, c, Message{Type: TypeHello, Client: "c"})
	c.CloseNow() // no close handshake: a crash or a cut cable
	f.waitClosed(t)
}

// Handler.Conns holds the hijacked connection while the session runs, so
// that a server can cut it at shutdown; it is removed when the session ends.
// connSet records what a Handler tells its ConnSet.
type connSet struct {
	mu      sync.Mutex
	added   []net.Conn
	removed []net.Conn
}

func (s *connSet) Add(c net.Conn)    { s.mu.Lock(); s.added = append(s.added, c); s.mu.Unlock() }
func (s *connSet) Remove(c net.Conn) { s.mu.Lock(); s.removed = append(s.removed, c); s.mu.Unlock() }

func TestHandlerConnSet(t *testing.T) {
	set := &connSet{}
	f := newFeed("c")
	ts := startServer(t, &Handler{Conns: set}, f)
	c := ts.dial(t, nil)
	expectMessage(t, c, Message{Type: TypeHello, Client: "c"})
	set.mu.Lock()
	added, removed := len(set.added), len(set.removed)
	set.mu.Unlock()
	if added != 1 || removed != 0 {
		t.Fatalf("while open: %d added, %d removed; want 1 and 0", added, removed)
	}
	c.Close()
	f.waitClosed(t)
	// feed.Close runs (deferred) after Remove: by now both have happened.
	set.mu.Lock()
	defer set.mu.Unlock()
	if len(set.removed) != 1 || set.removed[0] != set.added[0] {
		t.Errorf("after close: removed %v, want the added %v", set.removed, set.added)
	}
}

func TestTruncateReason(t *testing.T) {
	if got := truncateReason("short"); got != "short" {
		t.Fatalf("truncateReason(short) = %q", got)
	}
	exact := strings.Repeat("a", 123)
	if got := truncateReason(exact); got != exact {
		t.Fatalf("a 123-byte reason was cut to %d bytes", len(got))
	}
	// 122 ASCII bytes then a 3-byte rune: the cut must not split the rune.
	s := strings.Repeat("a", 122) + "世界"
	got := truncateReason(s)
	if len(got) > 123 || !utf8.ValidString(got) || !strings.HasPrefix(s, got) {
		t.Fatalf("truncateReason = %q (%d bytes), want a valid UTF-8 prefix of at most 123 bytes", got, len(got))
	}
	if got != strings.Repeat("a", 122) {
		t.Fatalf("truncateReason = %q, want the 122 ASCII bytes", got)
	}
}

// A client that takes nothing is dropped by the engine as too slow, once
// its queue overflows or a write times out, and the feed hears why
// (WriteFailed with fanout.ErrTooSlow) before Close. A client that reads
// everything is never reported.
func TestHandlerTooSlowClient(t *testing.T) {
	for _, tt := range []struct {
		name     string
		maxQueue int
		writes   int // at most; the writes stop at the first error
	}{
		{"queue overflows", 4, 4000},      // 1 GB: far more than any socket buffers
		{"write times out", 1 << 20, 100}, // 25 MB, then nothing: only the deadline can tell
	} {
		t.Run("reads nothing: "+tt.name, func(t *testing.T) {
			engine := fanout.New(fanout.Config{WriteTimeout: 300 * time.Millisecond, MaxQueue: tt.maxQueue})
			f := newFeed("c")
			ts := startServer(t, &Handler{Engine: engine, WriteTimeout: 300 * time.Millisecond}, f)
			t.Cleanup(engine.Close) // before startServer's checks
			c := ts.dial(t, nil)
			expectMessage(t, c, Message{Type: TypeHello, Client: "c"})
			// And now the client reads nothing: the frames fill the
			// socket's buffers, then the queue.
			frame := AppendFrame(nil, bytes.Repeat([]byte("x"), 256<<10))
			conn := f.getPeer().Conn()
			for i := 0; i < tt.writes && conn.Write(frame) == nil; i++ {
			}
			f.waitClosed(t)
			if err := conn.Err(); !errors.Is(err, fanout.ErrTooSlow) {
				t.Errorf("connection closed with %v, want fanout.ErrTooSlow", err)
			}
			fails := f.writeFailures()
			if len(fails) != 1 || !errors.Is(fails[0], fanout.ErrTooSlow) {
				t.Errorf("WriteFailed got %v, want one error wrapping fanout.ErrTooSlow", fails)
			}
		})
	}

	t.Run("keeps up", func(t *testing.T) {
		f := newFeed("c")
		ts := startServer(t, &Handler{}, f)
		c := ts.dial(t, nil)
		expectMessage(t, c, Message{Type: TypeHello, Client: "c"})
		f.push(t, tick(1))
		expectMessage(t, c, tickMsg(1))
		c.Close()
		f.waitClosed(t)
		if fails := f.writeFailures(); len(fails) != 0 {
			t.Errorf("WriteFailed got %v for a client that kept up", fails)
		}
	})
}
