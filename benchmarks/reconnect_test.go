package benchmarks

import (
	"context"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// BenchmarkReconnect drops a client (POST /drop) and measures how it comes
// back. The clients are the repository's own reconnecting ones: sse.Client,
// which does what a browser's EventSource does by itself, and ws.Client,
// which does what a WebSocket page has to do by hand (redial with backoff,
// resume with ?lastEventId=).
//
//   - ns/op: from the moment the client saw its connection end until the
//     first tick on the new connection. The drop comes just before a tick
//     is due, so the client misses it and that first tick is a replayed one.
//   - wait-ns/op: the part of it spent waiting before redialling. It is
//     policy, not cost: SSE waits the server's retry: (set to 20ms here),
//     the WebSocket client its own backoff (20ms, jittered to 10–20ms).
//     ns/op minus wait-ns/op is what the transport costs.
//   - lost-ticks, dup-ticks: ticks never received, or received twice, over
//     the whole run. Both must be 0, and are reported anyway.
//
// What to notice: both resume without losing a tick, because the server
// re-creates every missed tick from its seq. The difference is who decides
// when to come back: with SSE the server (retry:), with WebSocket the
// client's code.
func BenchmarkReconnect(b *testing.B) {
	for _, t := range compare.Transports {
		b.Run(name(t), func(b *testing.B) {
			cfg := quietConfig()
			cfg.Interval = 50 * time.Millisecond
			cfg.Retry = 20 * time.Millisecond
			s := startServer(b, cfg)
			ctx := context.Background()
			r, err := probe.NewReconnector(ctx, s.tg, t, probe.ReconnectOptions{WSBackoff: 20 * time.Millisecond})
			if err != nil {
				b.Fatal(err)
			}
			var resume, wait time.Duration
			for b.Loop() {
				sample, err := r.Cycle(ctx)
				if err != nil {
					r.Close()
					b.Fatal(err)
				}
				resume += sample.Resume
				wait += sample.Wait
			}
			// One more cycle's worth of ticks shows that live ticks follow
			// the replayed ones without a hole.
			time.Sleep(3 * cfg.Interval)
			if err := r.Close(); err != nil {
				b.Fatal(err)
			}
			lost, dup := r.Lost()
			n := float64(b.N)
			b.ReportMetric(float64(resume)/n, "ns/op")
			b.ReportMetric(float64(wait)/n, "wait-ns/op")
			b.ReportMetric(float64(lost), "lost-ticks")
			b.ReportMetric(float64(dup), "dup-ticks")
		})
	}
}
