package probe

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ssevsws/ssevsws/compare"
)

// ChatText is the chat message the round-trip probes send.
const ChatText = "round trip"

// RoundTripResult is what a chat message and its echo cost on one
// transport: directionality. WebSocket sends it up the socket the ticks come
// down; SSE, which only goes down, needs a second request (POST /chat) and
// brings the echo back on the stream.
type RoundTripResult struct {
	Transport compare.Transport `json:"transport"`
	Time      Summary           `json:"time"`
	Up        int               `json:"up_bytes"`   // bytes up per round trip (median)
	Down      int               `json:"down_bytes"` // bytes down per round trip (median)
	Refused   int               `json:"refused"`    // messages the server refused (rate limit): waited for, not counted
}

// RoundTrip opens one connection of transport t and sends chat
// messages one at a time, each after the echo of the previous one, within
// budget. pace is the least time between two messages: a server with the
// default chat rate limit (5 per second) needs 200ms or more; the in-process
// server has no limit. The first round trip, which for SSE also opens the
// back channel's connection, is not counted.
func RoundTrip(ctx context.Context, tg *Target, t compare.Transport, budget Budget, pace time.Duration) (RoundTripResult, error) {
	res := RoundTripResult{Transport: t}
	c, err := DialRaw(ctx, tg, t, "")
	if err != nil {
		return res, err
	}
	defer c.Close()

	var times []time.Duration
	var ups, downs []int
	start := time.Now()
	warm := false
	for budget.more(len(times), start) {
		next := time.Now().Add(pace)
		s, err := c.RoundTrip(ctx, ChatText)
		var refused *ChatRefusedError
		if errors.As(err, &refused) {
			res.Refused++
			if res.Refused > 50 {
				return res, err
			}
			if err := sleep(ctx, max(refused.RetryAfter, 250*time.Millisecond)); err != nil {
				return res, err
			}
			continue
		}
		if err != nil {
			return res, err
		}
		if warm {
			times = append(times, s.Time)
			ups = append(ups, s.Up)
			downs = append(downs, s.Down)
		}
		warm = true
		if err := sleep(ctx, time.Until(next)); err != nil {
			return res, err
		}
	}
	res.Time = Summarize(times)
	res.Up, res.Down = median(ups), median(downs)
	return res, nil
}

func median(v []int) int {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
