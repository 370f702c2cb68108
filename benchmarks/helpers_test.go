package benchmarks

import (
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
)

// quietConfig is a server that says nothing unless asked: the clock ticks
// once an hour (benchmarks publish ticks themselves with PublishNext), no
// SSE keep-alive comments, no WebSocket pings, no chat rate limit. Nothing
// but what a benchmark measures goes over the wire.
func quietConfig() compare.Config {
	return compare.Config{
		Interval:     time.Hour,
		Heartbeat:    -1,
		PingInterval: time.Hour,
		ChatRate:     -1,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// server is a compare.Server on a loopback port, in this process.
type server struct {
	*compare.Server
	tg *compare.Target
}

// startServer serves cfg on 127.0.0.1 until the benchmark or test ends.
func startServer(tb testing.TB, cfg compare.Config) *server {
	tb.Helper()
	if _, err := compare.RaiseFileLimit(); err != nil {
		tb.Logf("open file limit: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return serveOn(tb, cfg, ln)
}

// waitOpen waits until the server has want open connections of transport t.
func (s *server) waitOpen(tb testing.TB, t compare.Transport, want int64) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := s.Stats()
		got := st.SSE.Open
		if t == compare.WS {
			got = st.WS.Open
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: %d connections open, want %d", t.Name(), got, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// p50 is the median of samples.
func p50(samples []time.Duration) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// name is a sub-benchmark name in the house style: transport=sse.
func name(t compare.Transport) string { return "transport=" + string(t) }
