package sse

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// runClient starts c.Run in the background. Events and OnError errors come
// out on channels; done yields Run's result. At the end of the test Run is
// stopped and waited for, so that nothing outlives the test.
func runClient(t *testing.T, ctx context.Context, c *Client) (events <-chan Event, connErrs <-chan error, done <-chan error) {
	evc, errc, donec := make(chan Event, 16), make(chan error, 16), make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	finished := make(chan struct{})
	c.OnError = func(err error) { errc <- err }
	go func() {
		defer close(finished)
		donec <- c.Run(ctx, func(ev Event) { evc <- ev })
	}()
	t.Cleanup(func() {
		cancel()
		within(t, finished)
	})
	return evc, errc, donec
}

type arrival struct {
	header http.Header
	at     time.Time
}

func TestClientReconnects(t *testing.T) {
	const retry = 50 * time.Millisecond
	arrivals := make(chan arrival, 8)
	closed := make(chan time.Time, 8)
	var conns atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrivals <- arrival{r.Header.Clone(), time.Now()}
		switch conns.Add(1) {
		case 1: // two events, then the server ends the response
			s, _ := Open(w, r, Config{Retry: retry})
			s.Send(Event{ID: "1", Type: "tick", Data: "one"})
			s.Send(Event{ID: "2", Type: "tick", Data: "two"})
		case 2: // an id without data still moves the last event ID
			s, _ := Open(w, r, Config{})
			s.WriteFrame([]byte("id: 3\n\n"))
		default: // stay open until the client leaves
			s, _ := Open(w, r, Config{})
			s.Send(Event{Data: "three"})
			<-r.Context().Done()
		}
		closed <- time.Now()
	}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithCancel(t.Context())
	opened := make(chan struct{}, 8)
	c := &Client{
		URL:          srv.URL,
		HTTPClient:   srv.Client(),
		Header:       http.Header{"X-Test": {"yes"}},
		DefaultRetry: time.Hour, // the test only ends if the server's retry is used
		OnOpen:       func() { opened <- struct{}{} },
	}
	events, connErrs, done := runClient(t, ctx, c)

	first := within(t, arrivals)
	for name, want := range map[string]string{
		"Accept": "text/event-stream", "Cache-Control": "no-cache", "X-Test": "yes", "Last-Event-ID": "",
	} {
		if got := first.header.Get(name); got != want {
			t.Errorf("first request %s: %q, want %q", name, got, want)
		}
	}
	within(t, opened)
	for _, want := range []Event{{ID: "1", Type: "tick", Data: "one"}, {ID: "2", Type: "tick", Data: "two"}} {
		if ev := within(t, events); ev != want {
			t.Errorf("got %q, want %q", ev, want)
		}
	}
	if c.CurrentLastEventID() != "2" {
		t.Errorf("CurrentLastEventID() = %q, want 2", c.CurrentLastEventID())
	}

	// Reconnections: after the server's retry (not sooner, and not much
	// later), with the latest last event ID. The retry outlives the
	// connection that sent it.
	for _, wantID := range []string{"2", "3"} {
		end := within(t, closed)
		if err := within(t, connErrs); err != io.EOF {
			t.Errorf("OnError(%v), want io.EOF for a clean end", err)
		}
		next := within(t, arrivals)
		within(t, opened)
		if waited := next.at.Sub(end); waited < retry || waited > retry+time.Second {
			t.Errorf("reconnected after %v, want about %v", waited, retry)
		}
		if got := next.header.Get("Last-Event-ID"); got != wantID {
			t.Errorf("Last-Event-ID %q, want %q", got, wantID)
		}
	}
	// An event without id: on the new connection keeps the resumed id.
	if ev := within(t, events); ev != (Event{ID: "3", Type: "message", Data: "three"}) {
		t.Errorf("got %q", ev)
	}

	cancel()
	if err := within(t, done); !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
}

func TestClientStopsWhileWaiting(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Open(w, r, Config{}) // and end at once
	}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithCancel(t.Context())
	c := &Client{URL: srv.URL, HTTPClient: srv.Client(), DefaultRetry: time.Hour}
	_, connErrs, done := runClient(t, ctx, c)
	within(t, connErrs) // the connection ended; Run now waits an hour
	cancel()
	if err := within(t, done); !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
}

func TestClientStopsWhileReading(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := Open(w, r, Config{})
		s.Send(Event{Data: "hello"})
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithCancel(t.Context())
	c := &Client{URL: srv.URL, HTTPClient: srv.Client()}
	events, _, done := runClient(t, ctx, c)
	within(t, events)
	cancel()
	if err := within(t, done); !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
}

// EventSource gives up for good on any answer that is not a stream.
func TestClientFinalErrors(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
	}{
		{"204 No Content", http.StatusNoContent, ""},
		{"500", http.StatusInternalServerError, "text/plain; charset=utf-8"},
		{"404 event stream", http.StatusNotFound, "text/event-stream"},
		{"200 wrong type", http.StatusOK, "text/html"},
		{"200 no type", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var requests atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				w.Header()["Content-Type"] = []string{tt.contentType} // no sniffing
				w.WriteHeader(tt.status)
			}))
			t.Cleanup(srv.Close)

			c := &Client{URL: srv.URL, HTTPClient: srv.Client(), DefaultRetry: time.Millisecond}
			_, connErrs, done := runClient(t, t.Context(), c)
			err := within(t, done)
			se, ok := errors.AsType[*StatusError](err)
			if !ok || se.StatusCode != tt.status || se.ContentType != tt.contentType {
				t.Fatalf("Run returned %v, want a StatusError{%d, %q}", err, tt.status, tt.contentType)
			}
			if requests.Load() != 1 || len(connErrs) != 0 {
				t.Errorf("%d requests, %d OnError calls; want 1 and 0", requests.Load(), len(connErrs))
			}
			t.Log(err)
		})
	}
}

func TestClientAcceptsCharset(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "Text/Event-Stream; charset=utf-8")
		io.WriteString(w, "data: ok\n\n")
	}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithCancel(t.Context())
	events, _, done := runClient(t, ctx, &Client{URL: srv.URL, HTTPClient: srv.Client(), DefaultRetry: time.Hour})
	if ev := within(t, events); ev.Data != "ok" {
		t.Errorf("got %q", ev)
	}
	cancel()
	within(t, done)
}

// Like EventSource, the client keeps trying while the server is down.
func TestClientRetriesNetworkErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // nobody listens there any more

	ctx, cancel := context.WithCancel(t.Context())
	c := &Client{URL: url, DefaultRetry: time.Millisecond}
	_, connErrs, done := runClient(t, ctx, c)
	for range 3 {
		if err := within(t, connErrs); err == nil {
			t.Error("OnError(nil)")
		}
	}
	cancel()
	if err := within(t, done); !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
}

// What every request would fail on is refused before the first one, not
// retried for ever.
func TestClientRefusesWhatCannotBeSent(t *testing.T) {
	for _, c := range []*Client{
		{URL: "http://[::1"},
		{URL: "localhost:8080/sse"}, // "localhost" would be the scheme
		{URL: "/sse"},
		{URL: "ftp://localhost/sse"},
		{URL: "http:///sse"},
		{URL: "http://localhost/sse", Header: http.Header{"X-Bad": {"a\x01b"}}},
		{URL: "http://localhost/sse", LastEventID: "4\x7f2"},
	} {
		err := c.Run(t.Context(), func(Event) { t.Error("an event") })
		if err == nil {
			t.Errorf("Run accepted %+v", c)
			continue
		}
		if _, ok := errors.AsType[*StatusError](err); ok {
			t.Errorf("%+v: got a StatusError: %v", c, err)
		}
	}
}

// finalAfterOne serves body as an event stream and counts the requests;
// the test checks that the client gave up after the first.
func finalAfterOne(t *testing.T, body string) (*Client, *atomic.Int32) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return &Client{URL: srv.URL, HTTPClient: srv.Client(), DefaultRetry: time.Millisecond}, &requests
}

// An id with a control character is a valid id, but net/http cannot send it
// back: reconnecting without it would silently skip events, so Run stops.
func TestClientUnsendableIDIsFinal(t *testing.T) {
	c, requests := finalAfterOne(t, "id: a\x01b\ndata: x\n\n")
	events, _, done := runClient(t, t.Context(), c)
	if ev := within(t, events); ev.ID != "a\x01b" {
		t.Errorf("event id %q", ev.ID)
	}
	if err := within(t, done); !errors.Is(err, ErrUnsendableID) {
		t.Errorf("Run returned %v, want ErrUnsendableID", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// An event over the reader's limits would come again on every resume.
func TestClientOversizedEventIsFinal(t *testing.T) {
	c, requests := finalAfterOne(t, "id: 1\ndata: "+strings.Repeat("x", DefaultMaxLineSize+1)+"\n\n")
	_, _, done := runClient(t, t.Context(), c)
	if err := within(t, done); !errors.Is(err, ErrLineTooLong) {
		t.Errorf("Run returned %v, want ErrLineTooLong", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// Like EventSource.close(): once ctx is done, no event is dispatched, not
// even those already read into the buffer.
func TestClientNoEventAfterCancel(t *testing.T) {
	c, _ := finalAfterOne(t, strings.Repeat("data: x\n\n", 100))
	ctx, cancel := context.WithCancel(t.Context())
	handled := 0
	err := c.Run(ctx, func(Event) { handled++; cancel() })
	if !errors.Is(err, context.Canceled) || handled != 1 {
		t.Errorf("Run returned %v after %d events, want context.Canceled after 1", err, handled)
	}
}

func TestClientCurrentLastEventID(t *testing.T) {
	c := &Client{LastEventID: "41"}
	if got := c.CurrentLastEventID(); got != "41" {
		t.Errorf("before Run: %q, want 41", got)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := Open(w, r, Config{})
		s.Send(Event{ID: LastEventID(r) + "+1", Data: "x"})
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	c.URL, c.HTTPClient = srv.URL, srv.Client()

	ctx, cancel := context.WithCancel(t.Context())
	events, _, done := runClient(t, ctx, c)
	within(t, events)
	if got := c.CurrentLastEventID(); got != "41+1" { // read from this goroutine while Run runs
		t.Errorf("got %q, want 41+1", got)
	}
	cancel()
	within(t, done)
}
