package benchmarks

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/compare/probe"
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
		Logger:       comparetest.Logger(),
	}
}

// server is a test server in this process, with the probe.Target that
// measures it: the probes are how the benchmarks talk to the server, so
// every benchmark needs both, and the Target is built here only.
type server struct {
	*comparetest.Server
	tg *probe.Target
}

// startServer serves cfg on 127.0.0.1 until the benchmark or test ends.
func startServer(tb testing.TB, cfg compare.Config) *server {
	tb.Helper()
	return startServerOn(tb, cfg, nil)
}

// startServerOn is startServer with the listener wrapped by wrap, for
// benchmarks that watch or tune the connections the server accepts; a nil
// wrap leaves the listener as it is.
func startServerOn(tb testing.TB, cfg compare.Config, wrap func(net.Listener) net.Listener) *server {
	tb.Helper()
	// Benchmarks hold thousands of connections, client and server ends both
	// in this process.
	if _, err := probe.RaiseFileLimit(); err != nil {
		tb.Logf("open file limit: %v", err)
	}
	ln, err := comparetest.Listen("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	s := comparetest.Serve(tb, cfg, ln)
	tg, err := probe.NewTarget(s.URL("http", "/"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(tg.Close)
	return &server{Server: s, tg: tg}
}

// waitOpen waits until the server holds want connections of transport t,
// and ends the benchmark if it never does.
func (s *server) waitOpen(tb testing.TB, t compare.Transport, want int64) {
	tb.Helper()
	if err := comparetest.WaitOpen(s.Server.Server, t, want, 10*time.Second); err != nil {
		tb.Fatal(err)
	}
}

// holds waits until the server has exactly sse and ws connections open at
// the same moment: the soak and its load processes open both transports at
// once, and compare.Server.WaitOpen watches one.
func (s *server) holds(sse, ws int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st := s.Stats()
		if st.SSE.Open == sse && st.WS.Open == ws {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("open sse=%d ws=%d, want %d and %d", st.SSE.Open, st.WS.Open, sse, ws)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// slowDropped is how many clients, of both transports, the server dropped
// as too slow between two snapshots of its stats.
func slowDropped(before, after compare.StatsSnapshot) int64 {
	var n int64
	for _, t := range compare.Transports {
		n += after.Of(t).SlowDropped - before.Of(t).SlowDropped
	}
	return n
}

// name is a sub-benchmark name in the house style: transport=sse.
func name(t compare.Transport) string { return "transport=" + string(t) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mib(n int64) float64        { return float64(n) / (1 << 20) }
