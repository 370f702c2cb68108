package benchmarks

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/broker"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// BenchmarkChatHop is the chat round trip across instances: two ssevsws
// servers in this process (A and B) and the NATS server they share,
// embedded, all in one run.
//
//   - path=sse-local: the SSE stream is on A and POST /chat goes to A, as
//     with one instance (or a lucky balancer): no broker hop.
//   - path=sse-broker: the stream is on A, POST /chat goes to B, which
//     sends it through NATS to A, which queues the echo and answers B,
//     which answers 202. Two more network hops and one more JSON answer.
//   - path=ws: the chat goes up A's socket and the echo comes back on it;
//     however many instances there are, it never leaves A.
//
// ns/op and p50-ns: from the first byte of the chat until the echo has
// been read. What to notice: the broker costs SSE chat a hop per message,
// and WebSocket chat nothing; ticks cross no broker on either transport.
func BenchmarkChatHop(b *testing.B) {
	ns, err := broker.Embed("127.0.0.1:0", comparetest.Logger())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(ns.Shutdown)
	a := startInstance(b, "A", ns.URL())
	other := startInstance(b, "B", ns.URL())

	for _, p := range []struct {
		name   string
		t      compare.Transport
		postTo *server
	}{
		{"sse-local", compare.SSE, a},
		{"sse-broker", compare.SSE, other},
		{"ws", compare.WS, a},
	} {
		b.Run("path="+p.name, func(b *testing.B) {
			tg := streamOnPostTo(b, a, p.postTo)
			ctx := context.Background()
			c, err := probe.DialRaw(ctx, tg, p.t, "")
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if _, err := c.RoundTrip(ctx, probe.ChatText); err != nil { // opens SSE's back channel
				b.Fatal(err)
			}
			samples := make([]time.Duration, 0, 1<<16)
			for b.Loop() {
				rt, err := c.RoundTrip(ctx, probe.ChatText)
				if err != nil {
					b.Fatal(err)
				}
				samples = append(samples, rt.Time)
			}
			b.ReportMetric(float64(probe.Summarize(samples).P50), "p50-ns")
		})
	}
	if r := other.Stats().Broker.Routed; r.Delivered == 0 || r.BrokerDown+r.UnknownClient+r.Refused > 0 {
		b.Errorf("B routed %+v: every chat should have been delivered through the broker", r)
	}
}

// startInstance is a quiet server named name whose router uses the broker
// at url; the router closes after the server has stopped.
func startInstance(b *testing.B, name, url string) *server {
	b.Helper()
	r, err := broker.Connect(broker.Config{URL: url, Instance: name, Logger: comparetest.Logger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.Close) // registered before the server's: runs after it
	cfg := quietConfig()
	cfg.Instance, cfg.Router = name, r
	return startServer(b, cfg)
}

// streamOnPostTo is a Target whose first connection (the stream, or the
// WebSocket) goes to stream and every later one (SSE's back channel) to
// post: a balancer that put the POST on another instance.
func streamOnPostTo(b *testing.B, stream, post *server) *probe.Target {
	tg, err := probe.NewTarget(stream.URL("http", "/"))
	if err != nil {
		b.Fatal(err)
	}
	var dials atomic.Int64
	var d net.Dialer
	tg.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		addr := stream.Addr
		if dials.Add(1) > 1 {
			addr = post.Addr
		}
		return d.DialContext(ctx, network, addr)
	}
	b.Cleanup(tg.Close)
	return tg
}
