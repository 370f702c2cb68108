//go:build !js

package ws

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// clientRun runs a Client in the background and records what it reports.
type clientRun struct {
	c      *Client
	cancel context.CancelFunc
	msgs   chan Message
	done   chan error // Run's result
	failed chan error // every OnError

	mu     sync.Mutex
	opens  int
	errors []error
}

// runClient starts c.Run with tiny backoffs (unless c sets its own) and
// callbacks that record into the returned clientRun.
func runClient(t *testing.T, c *Client) *clientRun {
	t.Helper()
	if c.MinBackoff == 0 {
		c.MinBackoff = 5 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 20 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(testContext(t))
	r := &clientRun{c: c, cancel: cancel, msgs: make(chan Message, 64), done: make(chan error, 1), failed: make(chan error, 64)}
	c.OnOpen = func() { r.mu.Lock(); r.opens++; r.mu.Unlock() }
	c.OnError = func(err error) {
		r.mu.Lock()
		r.errors = append(r.errors, err)
		r.mu.Unlock()
		select {
		case r.failed <- err:
		default:
		}
	}
	go func() {
		r.done <- c.Run(ctx, func(m Message) { r.msgs <- m })
	}()
	t.Cleanup(func() {
		cancel()
		r.wait(t) // Run must not outlive the test (nor its server)
	})
	return r
}

func (r *clientRun) expect(t *testing.T, want Message) {
	t.Helper()
	select {
	case m := <-r.msgs:
		if m != want {
			t.Fatalf("handler got %+v, want %+v", m, want)
		}
	case err := <-r.done:
		t.Fatalf("Run returned %v while waiting for %+v", err, want)
	case <-timeAfter(t):
		t.Fatalf("handler did not get %+v", want)
	}
}

// wait returns Run's result; it may be called more than once.
func (r *clientRun) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-timeAfter(t):
		t.Fatalf("Run did not return within %v", testTimeout)
		return nil
	}
}

func (r *clientRun) counts() (opens int, errs []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.opens, append([]error(nil), r.errors...)
}

func TestClientResumesAfterServerClose(t *testing.T) {
	f1 := newFeed("one", tick(10), tick(11))
	f2 := newFeed("two", tick(12))
	ts := startServer(t, &Handler{}, f1, f2)
	r := runClient(t, &Client{URL: ts.url})

	r.expect(t, Message{Type: TypeHello, Client: "one"})
	r.expect(t, tickMsg(10))
	r.expect(t, tickMsg(11))
	if seq, ok := r.c.LastSeq(); seq != 11 || !ok {
		t.Fatalf("LastSeq = %d, %v; want 11, true", seq, ok)
	}
	// Only ticks move the resume point: an echo after tick 11 must not.
	if err := r.c.Chat(testContext(t), "between ticks"); err != nil {
		t.Fatal(err)
	}
	r.expect(t, Message{Type: TypeEcho, Text: "between ticks"})
	if seq, ok := r.c.LastSeq(); seq != 11 || !ok {
		t.Fatalf("LastSeq after an echo = %d, %v; want 11, true", seq, ok)
	}
	if f1.query.Has("lastEventId") {
		t.Errorf("first dial sent lastEventId=%q without a tick seen", f1.lastEventID)
	}

	f1.end(websocket.CloseError{Code: websocket.StatusGoingAway, Reason: "restarting"})
	r.expect(t, Message{Type: TypeHello, Client: "two"})
	if f2.lastEventID != "11" {
		t.Errorf("redial sent lastEventId=%q, want 11 (the last tick seen)", f2.lastEventID)
	}
	opens, errs := r.counts()
	if opens != 2 {
		t.Errorf("OnOpen called %d times, want 2", opens)
	}
	if len(errs) != 1 || websocket.CloseStatus(errs[0]) != websocket.StatusGoingAway {
		t.Errorf("OnError got %v, want one error with close status 1001", errs)
	}
	r.expect(t, tickMsg(12))
	if seq, _ := r.c.LastSeq(); seq != 12 {
		t.Errorf("LastSeq = %d after tick 12", seq)
	}

	// Cancelling while connected ends Run with ctx's error, not a
	// connection error, and without an OnError call.
	r.cancel()
	if err := r.wait(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	if _, errs := r.counts(); len(errs) != 1 {
		t.Errorf("OnError called for the cancellation: %v", errs[1:])
	}
	f2.waitClosed(t)
	if n := ts.requests.Load(); n != 2 {
		t.Errorf("%d dials, want 2", n)
	}
}

func TestClientRetriesServerErrors(t *testing.T) {
	f := newFeed("c")
	ts := startServer(t, &Handler{}, f)
	ts.refuse.Store(3) // 503, 503, 503, then the upgrade
	r := runClient(t, &Client{URL: ts.url, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond})

	r.expect(t, Message{Type: TypeHello, Client: "c"})
	opens, errs := r.counts()
	if opens != 1 {
		t.Errorf("OnOpen called %d times, want 1", opens)
	}
	if len(errs) != 3 {
		t.Fatalf("OnError got %d errors (%v), want 3", len(errs), errs)
	}
	for _, err := range errs {
		var he *HandshakeError
		if !errors.As(err, &he) || he.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("OnError got %v, want a *HandshakeError with 503", err)
		}
	}
	if n := ts.requests.Load(); n != 4 {
		t.Errorf("%d dials, want 4", n)
	}
	r.cancel()
	if err := r.wait(t); !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
}

func TestClientRetriesRefusedSubscribe(t *testing.T) {
	// Subscribe refuses twice after the upgrade (1013), then succeeds.
	f := newFeed("c", tick(5))
	ts := startServer(t, &Handler{}, f)
	ts.busy.Store(2)
	r := runClient(t, &Client{URL: ts.url})
	r.expect(t, Message{Type: TypeHello, Client: "c"})
	r.expect(t, tickMsg(5))
	opens, errs := r.counts()
	if opens != 3 || len(errs) != 2 {
		t.Fatalf("OnOpen %d times, OnError %d times; want 3 and 2", opens, len(errs))
	}
	for _, err := range errs {
		if websocket.CloseStatus(err) != websocket.StatusTryAgainLater {
			t.Errorf("OnError got %v, want close status 1013", err)
		}
	}
	r.cancel()
	r.wait(t)
	f.waitClosed(t)
}

func TestClientCancelWhileWaiting(t *testing.T) {
	ts := startServer(t, &Handler{})
	ts.refuse.Store(1 << 30)
	r := runClient(t, &Client{URL: ts.url, MinBackoff: time.Hour, MaxBackoff: time.Hour})

	// Once the first attempt has failed, Run is (about to be) waiting an
	// hour before the next one; cancelling must cut that wait short.
	select {
	case <-r.failed:
	case <-timeAfter(t):
		t.Fatal("OnError not called")
	}
	r.cancel()
	if err := r.wait(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	if n := ts.requests.Load(); n != 1 {
		t.Errorf("%d dials, want 1", n)
	}
}

func TestClientForbiddenIsFinal(t *testing.T) {
	ts := startServer(t, &Handler{})
	r := runClient(t, &Client{
		URL:         ts.url,
		DialOptions: &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://evil.example"}}},
		MinBackoff:  time.Millisecond,
	})
	// No cancel: Run must give up by itself.
	err := r.wait(t)
	var he *HandshakeError
	if !errors.As(err, &he) || he.StatusCode != http.StatusForbidden {
		t.Fatalf("Run returned %v, want a *HandshakeError with 403", err)
	}
	if n := ts.requests.Load(); n != 1 {
		t.Errorf("%d dials, want exactly 1", n)
	}
	if opens, _ := r.counts(); opens != 0 {
		t.Errorf("OnOpen called %d times", opens)
	}
}

func TestClientChat(t *testing.T) {
	f := newFeed("c")
	ts := startServer(t, &Handler{}, f)
	c := &Client{URL: ts.url}
	if err := c.Chat(testContext(t), "too early"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Chat before Run = %v, want ErrNotConnected", err)
	}
	r := runClient(t, c)
	r.expect(t, Message{Type: TypeHello, Client: "c"})
	if err := c.Chat(testContext(t), "hi there"); err != nil {
		t.Fatalf("Chat while connected: %v", err)
	}
	r.expect(t, Message{Type: TypeEcho, Text: "hi there"})
	if chats := f.chatTexts(); len(chats) != 1 || chats[0] != "hi there" {
		t.Errorf("Feed.Chat saw %q", chats)
	}
	r.cancel()
	r.wait(t)
	if err := c.Chat(testContext(t), "too late"); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Chat after Run = %v, want ErrNotConnected", err)
	}
	f.waitClosed(t)
}

func TestClientResumeFrom(t *testing.T) {
	f := newFeed("c", tick(42))
	ts := startServer(t, &Handler{}, f)
	c := &Client{URL: ts.url + "?room=a&lastEventId=5"}
	c.ResumeFrom(41)
	if seq, ok := c.LastSeq(); seq != 41 || !ok {
		t.Fatalf("LastSeq after ResumeFrom(41) = %d, %v", seq, ok)
	}
	r := runClient(t, c)
	r.expect(t, Message{Type: TypeHello, Client: "c"})
	if got := f.query["lastEventId"]; len(got) != 1 || got[0] != "41" {
		t.Errorf("first dial sent lastEventId=%q, want [41]", got)
	}
	if f.query.Get("room") != "a" {
		t.Errorf("the URL's own query was lost: %v", f.query)
	}
	r.expect(t, tickMsg(42))
	r.cancel()
	r.wait(t)
	f.waitClosed(t)
}

func TestClientBackoff(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name     string
		min, max time.Duration
		failures int
		lo, hi   time.Duration
	}{
		{"first", 100 * ms, time.Second, 1, 50 * ms, 100 * ms},
		{"second doubles", 100 * ms, time.Second, 2, 100 * ms, 200 * ms},
		{"fourth", 100 * ms, time.Second, 4, 400 * ms, 800 * ms},
		{"capped", 100 * ms, time.Second, 5, 500 * ms, time.Second},
		{"capped for good", 100 * ms, time.Second, 1000, 500 * ms, time.Second},
		{"huge failure count", 100 * ms, time.Second, 1 << 40, 500 * ms, time.Second},
		{"default first", 0, 0, 1, 125 * ms, 250 * ms},
		{"default cap", 0, 0, 100, 5 * time.Second, 10 * time.Second},
		{"min above max", 2 * time.Second, time.Second, 1, 500 * ms, time.Second},
		{"tiny", 5 * ms, 20 * ms, 1, 2500 * time.Microsecond, 5 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Client{MinBackoff: tt.min, MaxBackoff: tt.max}
			lowest, highest := time.Duration(1<<63-1), time.Duration(0)
			for range 2000 {
				d := c.backoff(tt.failures)
				if d < tt.lo || d > tt.hi {
					t.Fatalf("backoff(%d) = %v, want within [%v, %v]", tt.failures, d, tt.lo, tt.hi)
				}
				lowest, highest = min(lowest, d), max(highest, d)
			}
			// Jitter: the waits spread over the range instead of all
			// clients coming back at the same instant.
			quarter := (tt.hi - tt.lo) / 4
			if lowest > tt.lo+quarter || highest < tt.hi-quarter {
				t.Errorf("2000 waits spread only over [%v, %v] of [%v, %v]", lowest, highest, tt.lo, tt.hi)
			}
		})
	}
}
