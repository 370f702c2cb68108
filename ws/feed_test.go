//go:build !js

package ws

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/ssevsws/ssevsws/fanout"
)

// testTimeout bounds every wait in these tests, so that a bug shows as a
// failure with a message instead of a hung test binary.
const testTimeout = 10 * time.Second

// fakeFeed is a Feed the test drives by hand.
type fakeFeed struct {
	id      string
	backlog [][]byte

	heartbeatMS int64 // announced in the hello, if not 0

	// Set by the test server's Subscribe before the handler sees the feed.
	lastEventID string
	query       url.Values

	mu          sync.Mutex
	peer        *Peer    // the connection, from Subscribe
	backlogDone bool     // Backlog has yielded everything: live messages may go
	pending     [][]byte // pushed before the backlog was done, in order
	chatErrs    []error  // results of the successive Chat calls; nil once used up
	chats       []string
	wrote       [][]byte
	writeFails  []error // WriteFailed's arguments

	closes    atomic.Int32
	closed    chan struct{} // closed by the first Close
	lateCalls atomic.Int32  // Chat or Wrote calls after Close
}

func newFeed(id string, backlog ...[]byte) *fakeFeed {
	return &fakeFeed{
		id:      id,
		backlog: backlog,
		closed:  make(chan struct{}),
	}
}

func (f *fakeFeed) Client() string { return f.id }

// Hello is the plain hello, with heartbeatMS when the test sets one.
func (f *fakeFeed) Hello() Message {
	return Message{Type: TypeHello, Client: f.id, HeartbeatMS: f.heartbeatMS}
}

// Backlog yields the backlog; once the handler has written all of it, the
// live messages pushed meanwhile go out, and later pushes go straight to the
// connection.
func (f *fakeFeed) Backlog() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for _, m := range f.backlog {
			if !yield(m) {
				break
			}
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.backlogDone = true
		for _, m := range f.pending {
			// An error means the connection is gone: the test will see it.
			_ = f.peer.Conn().Write(AppendFrame(nil, m))
		}
		f.pending = nil
	}
}

func (f *fakeFeed) setPeer(p *Peer) { f.mu.Lock(); f.peer = p; f.mu.Unlock() }
func (f *fakeFeed) getPeer() *Peer  { f.mu.Lock(); defer f.mu.Unlock(); return f.peer }
func (f *fakeFeed) wroteMessages() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.wrote)
}
func (f *fakeFeed) chatTexts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.chats)
}
func (f *fakeFeed) closeCount() int           { return int(f.closes.Load()) }
func (f *fakeFeed) setChatErrs(errs ...error) { f.mu.Lock(); f.chatErrs = errs; f.mu.Unlock() }

// push sends m as a live message, as a server does: written to the peer's
// connection, after the whole backlog. Pushed before the backlog is written
// (even before the connection exists), it waits for it.
func (f *fakeFeed) push(t *testing.T, m []byte) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.backlogDone {
		f.pending = append(f.pending, m)
		return
	}
	if err := f.peer.Conn().Write(AppendFrame(nil, m)); err != nil {
		t.Fatalf("feed %s: live write: %v", f.id, err)
	}
}

// end makes the server end the connection with err as the reason, as a
// server does on shutdown or a drop request. The feed must have been handed
// out (the client has its hello).
func (f *fakeFeed) end(err error) { f.getPeer().End(err) }

func (f *fakeFeed) Chat(text string) error {
	if f.closes.Load() > 0 {
		f.lateCalls.Add(1)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chats = append(f.chats, text)
	if len(f.chatErrs) == 0 {
		return nil
	}
	err := f.chatErrs[0]
	f.chatErrs = f.chatErrs[1:]
	return err
}

func (f *fakeFeed) Wrote(msg []byte) {
	if f.closes.Load() > 0 {
		f.lateCalls.Add(1)
	}
	f.mu.Lock()
	f.wrote = append(f.wrote, bytes.Clone(msg))
	f.mu.Unlock()
}

// WriteFailed makes every fakeFeed a WriteFailer.
func (f *fakeFeed) WriteFailed(err error) {
	if f.closes.Load() > 0 {
		f.lateCalls.Add(1)
	}
	f.mu.Lock()
	f.writeFails = append(f.writeFails, err)
	f.mu.Unlock()
}

func (f *fakeFeed) writeFailures() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.writeFails)
}

func (f *fakeFeed) Close() {
	if f.closes.Add(1) == 1 {
		close(f.closed)
	}
}

// waitClosed waits until the handler has released the feed.
func (f *fakeFeed) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-f.closed:
	case <-time.After(testTimeout):
		t.Fatalf("feed %s: Close not called within %v", f.id, testTimeout)
	}
}

// testServer runs a Handler on httptest. Its Subscribe hands out the feeds
// given to startServer, in order, and refuses connections once they are
// used up.
type testServer struct {
	srv      *httptest.Server
	url      string // ws://host/ws
	httpURL  string // http://host/ws
	requests atomic.Int32
	serving  sync.WaitGroup // one per running ServeHTTP
	refuse   atomic.Int64   // answer this many more requests with 503 before upgrading
	busy     atomic.Int64   // fail this many more Subscribe calls (close 1013)

	feeds      chan *fakeFeed // not yet handed out
	subscribed chan *fakeFeed // handed out, in order
	mu         sync.Mutex
	handedOut  []*fakeFeed
}

// startServer serves h (with a Subscribe of its own when h.Subscribe is nil,
// and an Engine of its own when h.Engine is nil) until the test ends. At the
// end it checks that every ServeHTTP returned, that every feed handed out was
// closed exactly once and not used after, and that no goroutine is left
// behind. ServeHTTP returns once the backlog is written and a connection
// lives on in its reader, so the end of a connection is its feed's Close.
func startServer(t *testing.T, h *Handler, feeds ...*fakeFeed) *testServer {
	t.Helper()
	ts := &testServer{
		feeds:      make(chan *fakeFeed, len(feeds)),
		subscribed: make(chan *fakeFeed, len(feeds)),
	}
	for _, f := range feeds {
		ts.feeds <- f
	}
	if h.Subscribe == nil {
		h.Subscribe = func(r *http.Request, lastEventID string, p *Peer) (Feed, error) {
			if ts.busy.Add(-1) >= 0 {
				return nil, errors.New("test server: busy")
			}
			select {
			case f := <-ts.feeds:
				f.lastEventID, f.query = lastEventID, r.URL.Query()
				f.setPeer(p)
				ts.mu.Lock()
				ts.handedOut = append(ts.handedOut, f)
				ts.mu.Unlock()
				ts.subscribed <- f
				return f, nil
			default:
				return nil, errors.New("test server: no feed left")
			}
		}
	}
	var engine *fanout.Engine // ours to close
	if h.Engine == nil {
		engine = fanout.New(fanout.Config{WriteTimeout: h.writeTimeout()})
		h.Engine = engine
	}
	logs := &syncBuffer{}
	if h.Logger == nil {
		h.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.requests.Add(1)
		if ts.refuse.Add(-1) >= 0 {
			http.Error(w, "test server: busy", http.StatusServiceUnavailable)
			return
		}
		ts.serving.Add(1)
		defer ts.serving.Done()
		h.ServeHTTP(w, r)
	}))
	ts.httpURL = ts.srv.URL + "/ws"
	ts.url = "ws" + strings.TrimPrefix(ts.httpURL, "http")
	t.Cleanup(func() {
		ended := make(chan struct{})
		go func() { ts.serving.Wait(); close(ended) }()
		select {
		case <-ended:
		case <-time.After(testTimeout):
			t.Errorf("a ServeHTTP call was still running %v after the test", testTimeout)
		}
		ts.mu.Lock()
		handedOut := slices.Clone(ts.handedOut)
		ts.mu.Unlock()
		deadline := time.After(testTimeout)
		for _, f := range handedOut {
			select {
			case <-f.closed:
			case <-deadline:
				t.Errorf("feed %s: connection still running %v after the test", f.id, testTimeout)
			}
		}
		ts.srv.Close()
		if engine != nil {
			engine.Close()
		}
		for _, f := range handedOut {
			if n := f.closeCount(); n != 1 {
				t.Errorf("feed %s: Close called %d times, want exactly 1", f.id, n)
			}
			if n := f.lateCalls.Load(); n != 0 {
				t.Errorf("feed %s: used %d times after Close", f.id, n)
			}
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
		goleak.VerifyNone(t)
	})
	return ts
}

// syncBuffer is the handler's log. (comparetest.LogBuffer does the same,
// but ws's tests cannot import it: comparetest imports compare, which
// imports ws.)
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// dial opens a Conn to the test server; the test's cleanup drops it.
func (ts *testServer) dial(t *testing.T, opts *websocket.DialOptions) *Conn {
	t.Helper()
	c, err := Dial(testContext(t), ts.url, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func read(t *testing.T, c *Conn) Message {
	t.Helper()
	m, err := c.Read(testContext(t))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return m
}

func expectMessage(t *testing.T, c *Conn, want Message) {
	t.Helper()
	if got := read(t, c); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// expectClose reads until the connection ends, skipping the messages before
// it (hello, say), and checks the close code.
func expectClose(t *testing.T, c *Conn, code websocket.StatusCode) websocket.CloseError {
	t.Helper()
	ctx := testContext(t)
	for {
		m, err := c.Read(ctx)
		if err == nil {
			t.Logf("skipping %+v before the close", m)
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("Read ended with %v, want close %v", err, code)
		}
		if ce.Code != code {
			t.Fatalf("closed with %v %q, want %v", ce.Code, ce.Reason, code)
		}
		return ce
	}
}

func tick(seq int64) []byte { return AppendTick(nil, seq, tickTime) }

func tickMsg(seq int64) Message { return Message{Type: TypeTick, Seq: seq, Time: tickTime} }

func timeAfter(t *testing.T) <-chan time.Time {
	t.Helper()
	return time.After(testTimeout)
}
