package benchmarks

import (
	"context"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// BenchmarkRoundTrip sends a chat message up and waits for its echo to
// come down, one at a time: directionality.
//
//   - transport=ws: the message goes up the same socket the ticks come down
//     and the echo comes back on it. One frame each way.
//   - transport=sse: the stream only goes down, so the message goes up as
//     POST /chat on a second (kept-alive) connection, is answered 202, and
//     the echo comes back on the stream.
//
// ns/op and p50-ns: from the first byte of the message until the echo has
// been read. up-B/op and down-B/op: bytes on the wire per round trip,
// framing and HTTP headers included. allocs/op and B/op count both ends: the
// client is a hand-written minimal one, so most of them are the server's.
//
// What to notice: the bytes. A WebSocket round trip is two small frames; an
// SSE one is a whole HTTP request and response plus the echo event, several
// times more bytes and about twice the time. For one message per second
// neither matters; for a chat, a game or a cursor it does, and that is the
// case for WebSocket.
func BenchmarkRoundTrip(b *testing.B) {
	for _, t := range compare.Transports {
		b.Run(name(t), func(b *testing.B) {
			s := startServer(b, quietConfig())
			ctx := context.Background()
			c, err := probe.DialRaw(ctx, s.tg, t, "")
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if _, err := c.RoundTrip(ctx, probe.ChatText); err != nil { // opens SSE's back channel
				b.Fatal(err)
			}
			var up, down int
			samples := make([]time.Duration, 0, 1<<16)
			b.ReportAllocs()
			for b.Loop() {
				rt, err := c.RoundTrip(ctx, probe.ChatText)
				if err != nil {
					b.Fatal(err)
				}
				up, down = rt.Up, rt.Down
				samples = append(samples, rt.Time)
			}
			b.ReportMetric(float64(probe.Summarize(samples).P50), "p50-ns")
			b.ReportMetric(float64(up), "up-B/op")
			b.ReportMetric(float64(down), "down-B/op")
		})
	}
}
