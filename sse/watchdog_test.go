package sse

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A stream that goes silent but stays open (a dead path: no FIN, no RST)
// is abandoned once nothing has arrived for the watchdog's time, and the
// client comes back with its last event id. The first stream sets the
// watchdog from its own first event, as ssevsws's hello does.
func TestClientWatchdogAbandonsASilentStream(t *testing.T) {
	const watchdog = 300 * time.Millisecond
	var conns atomic.Int32
	lastIDs := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lastIDs <- r.Header.Get("Last-Event-ID")
		s, _ := Open(w, r, Config{Retry: 10 * time.Millisecond})
		if conns.Add(1) == 1 {
			s.Send(Event{Type: "hello", Data: "300"})
			s.Send(Event{ID: "7", Data: "tick"})
		} else {
			s.Send(Event{ID: "8", Data: "tick"})
		}
		<-r.Context().Done() // silent, and open, until the client leaves
	}))
	defer srv.Close()

	c := &Client{URL: srv.URL}
	var sawHello atomic.Bool
	events, errs, _ := runClient(t, context.Background(), c)
	// SetWatchdog from the handler: runClient's handler only forwards, so
	// set it as soon as the hello shows up.
	for ev := range events {
		if ev.Type == "hello" && !sawHello.Swap(true) {
			c.SetWatchdog(watchdog)
		}
		if ev.ID == "7" {
			break
		}
	}
	silentSince := time.Now()
	select {
	case err := <-errs:
		if !errors.Is(err, ErrStalled) {
			t.Fatalf("connection ended with %v, want ErrStalled", err)
		}
		if took := time.Since(silentSince); took < watchdog/2 {
			t.Errorf("gave up after %v of silence, before the watchdog's %v", took, watchdog)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a silent stream was not abandoned")
	}
	if first, again := <-lastIDs, <-lastIDs; first != "" || again != "7" {
		t.Errorf("Last-Event-ID %q then %q, want none then 7", first, again)
	}
	select {
	case ev := <-events:
		if ev.ID != "8" {
			t.Errorf("after the reconnect got %+v, want the event with id 8", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing after the reconnect")
	}
}

// Bytes that are not events (keep-alive comments) feed the watchdog: a
// stream that has only comments for many watchdog periods stays open.
func TestClientWatchdogFedByComments(t *testing.T) {
	const watchdog = 200 * time.Millisecond
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := Open(w, r, Config{Heartbeat: watchdog / 8})
		s.Send(Event{ID: "1", Data: "only event"})
		for {
			select {
			case <-s.HeartbeatDue():
				s.Heartbeat()
			case <-stop:
				return
			case <-r.Context().Done():
				return
			}
		}
	}))
	defer srv.Close()
	defer close(stop)
	c := &Client{URL: srv.URL, Watchdog: watchdog}
	events, errs, _ := runClient(t, context.Background(), c)
	<-events
	select {
	case err := <-errs:
		t.Fatalf("a stream with keep-alive comments was abandoned: %v", err)
	case <-time.After(8 * watchdog):
	}
}
