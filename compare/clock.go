package compare

import (
	"strconv"
	"time"
)

// Clock turns wall time into tick numbers. A tick's seq is
// unixMillis / intervalMillis, so every server instance, and the same server
// after a restart, agrees on ids without sharing any state. That is what
// makes "zero lost ticks across a restart" possible: a missed tick is not
// stored anywhere, it is recomputed from its seq.
type Clock struct {
	interval time.Duration // a whole number of milliseconds
	window   int64         // ticks a returning client can get back
}

// NewClock returns a clock with the given tick interval and replay window.
// The interval must be a positive whole number of milliseconds (Config
// checks that before calling).
func NewClock(interval, replay time.Duration) *Clock {
	return &Clock{interval: interval, window: max(1, int64(replay/interval))}
}

// SeqAt is the seq of the tick that was current at t.
func (c *Clock) SeqAt(t time.Time) int64 {
	return t.UnixMilli() / c.interval.Milliseconds()
}

// TimeOf is the moment tick seq started: the "time" every client sees.
func (c *Clock) TimeOf(seq int64) time.Time {
	return time.UnixMilli(seq * c.interval.Milliseconds()).UTC()
}

// Tick is one tick, as every transport carries it. The clock knows no wire
// format: each endpoint encodes a tick its own way (sseTick in ssemsg.go,
// wsTick in ws.go), and the hub encodes each tick once per transport so
// that fan-out to any number of clients copies no bytes.
type Tick struct {
	Seq  int64
	Time string // RFC 3339 with milliseconds, UTC
}

// timeLayout is RFC 3339 with exactly three fractional digits.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// Tick is tick seq.
func (c *Clock) Tick(seq int64) Tick {
	return Tick{Seq: seq, Time: c.TimeOf(seq).Format(timeLayout)}
}

// Resume is what a connecting client gets before live ticks.
type Resume struct {
	Resumed bool  // the client gave a usable last id
	GapFrom int64 // ticks GapFrom..GapTo are outside the window: sent as a gap
	GapTo   int64 // (no gap when GapTo < GapFrom)
	From    int64 // ticks From..To are replayed, in order
	To      int64 // (none when To < From)
}

// HasGap reports whether the client missed ticks that cannot be replayed.
func (r Resume) HasGap() bool { return r.GapTo >= r.GapFrom }

// PlanResume decides what a client that last saw lastID gets, when current
// is the newest tick already published. lastID is the raw Last-Event-ID: a
// value that is not a non-negative integer, or lies in the future, counts as
// absent (ok is then false) and never as an error, because a browser's
// EventSource gives up for good on an error status.
func (c *Clock) PlanResume(lastID string, current int64) (plan Resume, ok bool) {
	none := Resume{GapFrom: 1, GapTo: 0, From: current, To: current}
	if lastID == "" {
		return none, true
	}
	last, valid := parseSeq(lastID)
	if !valid || last > current {
		return none, false
	}
	plan = Resume{Resumed: true, GapFrom: 1, GapTo: 0, From: last + 1, To: current}
	if first := current - c.window + 1; plan.From < first {
		plan.GapFrom, plan.GapTo, plan.From = plan.From, first-1, first
	}
	return plan, true
}

// parseSeq accepts only plain decimal digits: no sign, no spaces, no hex.
func parseSeq(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
