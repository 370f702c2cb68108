//go:build !js

package ws

import (
	"errors"
	"testing"
	"time"
)

// The Client's watchdog: a connection on which nothing arrives for twice
// the hello's heartbeat_ms is abandoned (ErrStalled), and the Client comes
// back with the last tick it saw. Keep-alive messages feed the watchdog and
// never reach the handler.
func TestClientWatchdogAbandonsASilentConnection(t *testing.T) {
	const heartbeat = 250 * time.Millisecond
	f1 := newFeed("one", tick(1))
	f1.heartbeatMS = heartbeat.Milliseconds()
	f2 := newFeed("two", tick(2))
	ts := startServer(t, &Handler{}, f1, f2)
	r := runClient(t, &Client{URL: ts.url})

	r.expect(t, Message{Type: TypeHello, Client: "one", HeartbeatMS: heartbeat.Milliseconds()})
	r.expect(t, tickMsg(1))
	// Keep-alives for four watchdog periods, at a fifth of a heartbeat:
	// the connection stays.
	for range 40 {
		f1.push(t, KeepAlive)
		time.Sleep(heartbeat / 5) // pacing the server, not waiting for a result
	}
	if _, errs := r.counts(); len(errs) != 0 {
		t.Fatalf("a connection fed with keep-alives was abandoned: %v", errs)
	}
	// Then silence, with the socket open: abandoned within the watchdog.
	silent := time.Now()
	select {
	case err := <-r.failed:
		if !errors.Is(err, ErrStalled) {
			t.Fatalf("connection ended with %v, want ErrStalled", err)
		}
		if took := time.Since(silent); took < heartbeat {
			t.Errorf("abandoned after %v of silence, before the watchdog (2 × %v)", took, heartbeat)
		}
	case <-timeAfter(t):
		t.Fatal("a silent connection was not abandoned")
	}
	// The next message is the new connection's hello: no keep-alive was
	// handed to the handler.
	r.expect(t, Message{Type: TypeHello, Client: "two"})
	if f2.lastEventID != "1" {
		t.Errorf("redial sent lastEventId=%q, want 1", f2.lastEventID)
	}
	r.expect(t, tickMsg(2))
}
