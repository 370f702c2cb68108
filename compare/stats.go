package compare

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// Counters are one transport's numbers in GET /stats. They are updated with
// atomics from every connection's goroutine and read without locks.
type Counters struct {
	Open        atomic.Int64 // connections open now
	Direct      atomic.Int64 // of those, on the engine's direct path (no goroutine writes to them); the rest are on the handler path (HTTP/2, TLS)
	Connects    atomic.Int64 // connections accepted since start
	Resumes     atomic.Int64 // of those, how many resumed from a last event id
	Gaps        atomic.Int64 // resumes older than the replay window
	Ticks       atomic.Int64 // tick messages written (or queued behind a busy socket), live and replayed
	Bytes       atomic.Int64 // message bytes written or queued (SSE: the stream's bytes; WS: message payloads)
	SlowDropped atomic.Int64 // clients dropped as too slow: their queue was full, or a write to them timed out
	Dropped     atomic.Int64 // connections closed by POST /drop
	Stalls      atomic.Int64 // connections silenced by POST /drop?mode=silent that the client gave up on first (its watchdog)
	Chats       atomic.Int64 // chat messages echoed
	ChatRefused atomic.Int64 // chat messages refused for now (rate limit, full queue); not malformed or empty ones
}

// Stats holds the counters of both transports.
type Stats struct {
	sse, ws Counters
	routed  routedCounters // SSE chats handed to the Router (route.go)
}

func (s *Stats) of(t Transport) *Counters {
	if t == SSE {
		return &s.sse
	}
	return &s.ws
}

// CountersSnapshot is Counters at one moment, as GET /stats shows them.
type CountersSnapshot struct {
	Open        int64 `json:"open"`
	Direct      int64 `json:"direct"`
	Behind      int64 `json:"behind"`
	Connects    int64 `json:"connects"`
	Resumes     int64 `json:"resumes"`
	Gaps        int64 `json:"gaps"`
	Ticks       int64 `json:"ticks"`
	Bytes       int64 `json:"bytes"`
	SlowDropped int64 `json:"slow_dropped"`
	Dropped     int64 `json:"dropped"`
	Stalls      int64 `json:"stalls"`
	Chats       int64 `json:"chats"`
	ChatRefused int64 `json:"chat_refused"`
}

// Snapshot reads every counter.
func (c *Counters) Snapshot() CountersSnapshot {
	return CountersSnapshot{
		Open: c.Open.Load(), Direct: c.Direct.Load(), Connects: c.Connects.Load(), Resumes: c.Resumes.Load(),
		Gaps: c.Gaps.Load(), Ticks: c.Ticks.Load(), Bytes: c.Bytes.Load(),
		SlowDropped: c.SlowDropped.Load(), Dropped: c.Dropped.Load(), Stalls: c.Stalls.Load(),
		Chats: c.Chats.Load(), ChatRefused: c.ChatRefused.Load(),
	}
}

// StatsSnapshot is the body of GET /stats.
type StatsSnapshot struct {
	Instance   string           `json:"instance,omitempty"` // Config.Instance
	IntervalMS int64            `json:"interval_ms"`
	Seq        int64            `json:"seq"` // newest published tick
	SSE        CountersSnapshot `json:"sse"`
	WS         CountersSnapshot `json:"ws"`

	// TickWireBytes is what one tick (the newest) costs each transport on
	// the wire over HTTP/1.1: SSE's chunk framing and id:/event:/data:
	// lines, WebSocket's frame header and JSON. It is the protocol's cost of
	// a tick, the one figure the page, ssevsws compare (which counts the
	// bytes it reads) and the README show; the counters above are what
	// this session cost, hellos, echoes and keep-alives included.
	TickWireBytes TickBytes `json:"tick_wire_bytes"`

	// Broker is there when the server has a Router: whether the broker
	// is up, and the SSE chats this instance routed through it.
	Broker *BrokerSnapshot `json:"broker,omitempty"`
}

// TickBytes is a size per transport.
type TickBytes struct {
	SSE int `json:"sse"`
	WS  int `json:"ws"`
}

// Of picks one transport's size.
func (b TickBytes) Of(t Transport) int {
	if t == SSE {
		return b.SSE
	}
	return b.WS
}

// Of picks one transport's counters.
func (s StatsSnapshot) Of(t Transport) CountersSnapshot {
	if t == SSE {
		return s.SSE
	}
	return s.WS
}

// WaitOpen waits until the server holds want open connections of transport
// t, or ctx ends. Measurements use it to know that the server has taken, or
// let go of, every connection they opened before they read its memory or
// time a fan-out: a client's dial returning says nothing about that.
func (s *Server) WaitOpen(ctx context.Context, t Transport, want int64) error {
	poll := time.NewTicker(2 * time.Millisecond)
	defer poll.Stop()
	for {
		got := s.stats.of(t).Open.Load()
		if got == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %d connections open, want %d: %w", t.Name(), got, want, context.Cause(ctx))
		case <-poll.C:
		}
	}
}

// tookTicks counts n clients that took a tick of size bytes.
func (c *Counters) tookTicks(n, size int) {
	if n > 0 {
		c.Ticks.Add(int64(n))
		c.Bytes.Add(int64(n * size))
	}
}
