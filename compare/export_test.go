package compare

import (
	"iter"
	"net"
	"net/http"

	"github.com/ssevsws/ssevsws/fanout"

	"github.com/ssevsws/ssevsws/ws"
)

// This file is compiled only with the package's tests. It lets the external
// tests (package compare_test) reach the few internals they check, as
// net/http's export_test.go does: the tests live outside the package so that
// they can use compare/comparetest and compare/probe, which import compare.
// Each name here is there for a test that cannot see the behaviour from the
// outside; nothing else should be added.

// The hub's per-transport tick encoders, the gap frame and the catch-up
// rule, checked byte for byte and case by case.
var (
	SSETick      = sseTick
	WSTick       = wsTick
	SSEGap       = sseGap
	SSEChunk     = sseChunk
	SSETickChunk = sseTickChunk
	WSTickFrame  = wsTickFrame
	CatchUpFrom  = catchUpFrom
)

// TimeLayout is the format of a tick's time; StuckGrace bounds how long a
// shutdown waits for stuck clients before cutting them.
const (
	TimeLayout = timeLayout
	StuckGrace = stuckGrace
)

// Window is how many ticks a returning client can get back.
func (c *Clock) Window() int64 { return c.window }

// ConnLimitPerIP is the acquire of a cap of n streams per client IP and no
// overall cap: the per-IP rule cannot be reached over loopback, where every
// client has the same address.
func ConnLimitPerIP(n int) func(http.ResponseWriter, *http.Request) (release func(), ok bool) {
	return (&connLimit{maxPerIP: n}).acquire
}

// Resync is what the clock loop does when it wakes missed ticks late, with
// last the newest tick already published; tests call it instead of
// stalling the loop.
func (s *Server) Resync(missed, last int64) { s.hub.resync(missed, last) }

// SetMeasuring marks a POST /measure as running (or not), so a test can
// see the 409 of a second one without racing a real measurement.
func (s *Server) SetMeasuring(on bool) { s.measuring.Store(on) }

// SetChatRate changes the chat rate limit of one open client (0: none), so
// that a test can fill its echo queue instead of hitting the limit. It
// reports whether the client is open.
func (s *Server) SetChatRate(client string, rate float64) bool {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	sub, ok := s.hub.subs[client]
	if ok {
		sub.chat.rate = rate
	}
	return ok
}

// ClientLeft is clientLeft: whether a failed stream write only means the
// client closed its end.
var ClientLeft = clientLeft

// DirectSub is a WebSocket subscription on the direct path over a socket
// the test holds the other end of, with no handler: the test drives its
// backlog and reads what the engine writes.
type DirectSub struct {
	sub *subscription
	out *fanout.Conn
}

// SubscribeDirect subscribes as a WebSocket connection would, writing to
// conn through the engine.
func (s *Server) SubscribeDirect(conn net.Conn, lastID string) (*DirectSub, error) {
	out, err := s.engine.Add(conn, ws.KindFrame)
	if err != nil {
		return nil, err
	}
	sub, err := s.hub.subscribe(WS, lastID, out, func(err error) { out.Close(err) })
	if err != nil {
		out.Close(err)
		return nil, err
	}
	return &DirectSub{sub: sub, out: out}, nil
}

// Backlog is the WebSocket feed's backlog: messages, not yet framed.
func (d *DirectSub) Backlog() iter.Seq[[]byte] { return wsFeed{sub: d.sub}.Backlog() }

// Ended says why the hub ended the subscription, or nil while it has not.
func (d *DirectSub) Ended() error {
	if !d.sub.ended() {
		return nil
	}
	return d.sub.err
}

// Close closes the connection and ends the subscription.
func (d *DirectSub) Close() {
	d.out.Close(nil)
	d.sub.close()
}
