package probe

import (
	"context"
	"time"

	"github.com/ssevsws/ssevsws/compare"
)

// ConnectResult is what opening connections of one transport costs.
type ConnectResult struct {
	Transport compare.Transport `json:"transport"`
	// Head is the time from the start of the dial until the response head
	// (200 for SSE, 101 for WebSocket) was read: the connection is open.
	Head Summary `json:"head"`
	// FirstTick is the time from the start of the dial until the first
	// tick was read. A new connection gets the current tick at once, so
	// this is the connection's set-up cost, not the clock's interval.
	FirstTick Summary `json:"first_tick"`
	// Bytes is the wire bytes of one connection (the last one opened; they
	// do not vary from one connection to the next).
	Bytes Handshake `json:"bytes"`
}

// ConnectOnce opens one connection of transport t, reads up to its first tick
// and closes it. It is one sample of Connect.
func ConnectOnce(ctx context.Context, tg *Target, t compare.Transport) (Handshake, error) {
	c, err := DialRaw(ctx, tg, t, "")
	if err != nil {
		return Handshake{}, err
	}
	c.Close()
	return c.Handshake(), nil
}

// Connect opens connections of transport t one after another, within
// budget, and summarises how long each took to open and to deliver its
// first tick.
func Connect(ctx context.Context, tg *Target, t compare.Transport, budget Budget) (ConnectResult, error) {
	res := ConnectResult{Transport: t}
	var head, first []time.Duration
	start := time.Now()
	for budget.more(len(head), start) {
		hs, err := ConnectOnce(ctx, tg, t)
		if err != nil {
			return res, err
		}
		head = append(head, hs.Head)
		first = append(first, hs.FirstTick)
		res.Bytes = hs
	}
	res.Head, res.FirstTick = Summarize(head), Summarize(first)
	return res, nil
}
