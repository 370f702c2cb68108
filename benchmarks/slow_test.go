package benchmarks

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// BenchmarkSlowConsumer shows that one stuck client does not slow down the
// others. An in-process server ticks every 100ms to 1000 SSE and 1000
// WebSocket clients that read every tick (in another process, as in
// BenchmarkSoak). The benchmark measures their delivery latency for 5s,
// then opens one more SSE and one more WebSocket client that never read a
// byte, with socket buffers shrunk so that they back up within seconds
// instead of hours (see stuckBuffer), and measures the healthy clients
// again until the server has dropped both stuck ones. The server's write
// timeout is 2s here (the default is 10s).
//
//   - p50-before-ms, p99-before-ms: the healthy clients' delivery latency
//     (arrival minus the tick's own time) without stuck clients.
//   - p50-after-ms, p99-after-ms: the same while the stuck clients are
//     connected; p99-shift-ms is the difference.
//   - stuck-dropped: stuck clients the server dropped and counted as too
//     slow in /stats (slow_dropped): 2.
//   - drop-after-s: from the moment the stuck clients stopped reading until
//     the server had closed both. It is the time their kernel buffers take
//     to fill up (until then the server cannot tell a stuck client from a
//     slow one) plus the write timeout.
//   - heap-growth-B, goroutine-growth: the server's heap (after garbage
//     collection) and goroutines after the drop, minus before the stuck
//     clients came: what a stuck client leaves behind.
//   - lost-ticks: ticks the healthy clients never got: 0.
//
// The benchmark refuses to report if the stuck clients are not dropped,
// not counted, or not closed within 15s (about 6s for the buffers to fill,
// plus the write timeout, plus a margin), or if a healthy one is dropped.
//
// What to notice: the p99 barely moves, because the server never waits for
// a client: each tick goes into every client's own bounded queue without
// blocking, and only that client's own goroutine waits on its socket. A
// client is dropped when its queue is full or, as here, when it has taken
// nothing for a whole write timeout, whichever comes first (with the
// defaults, a 1s tick, 64 queued ticks and a 10s write timeout, it is
// always the timeout). A stuck client costs at most its queue (pointers to
// tick bytes every client shares) and a blocked goroutine, and nothing once
// it is dropped. Most of drop-after-s is the kernel's buffers filling up.
func BenchmarkSlowConsumer(b *testing.B) {
	b.Run("clients=2000", func(b *testing.B) {
		for b.Loop() {
			benchSlowConsumer(b, 1000, 1000)
		}
	})
}

// slowWindow is how long the healthy clients are measured without stuck
// clients; slowLimit is how long the stuck clients may take to be dropped.
const (
	slowWindow = 5 * time.Second
	slowLimit  = 15 * time.Second
)

func benchSlowConsumer(b *testing.B, nSSE, nWS int) {
	cfg := compare.Config{
		Interval:     100 * time.Millisecond,
		WriteTimeout: 2 * time.Second,
		Heartbeat:    -1,        // nothing but ticks on the wire
		PingInterval: time.Hour, // no WebSocket pings either
		Logger:       comparetest.Logger(),
	}
	s := startServerOn(b, cfg, func(ln net.Listener) net.Listener { return stuckListener{ln} })
	lp, err := startLoad(s.URL("http", "/"), nSSE, nWS, soakPerProc, soakPerSource)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := lp.close(); err != nil {
			b.Error(err)
		}
	}()
	if err := s.holds(int64(nSSE), int64(nWS), 30*time.Second); err != nil {
		b.Fatal(err)
	}

	b.StopTimer()
	memBefore := probe.TakeMemSnapshot()
	b.StartTimer()
	st0 := s.Stats()
	if err := lp.window(); err != nil {
		b.Fatal(err)
	}
	time.Sleep(slowWindow)
	before, err := lp.report()
	if err != nil {
		b.Fatal(err)
	}

	// The stuck clients: each reads up to its first tick, then never again.
	if err := lp.window(); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	stuck, err := openStuck(*s.tg)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		for _, c := range stuck {
			c.Close()
		}
	}()
	healthy := map[compare.Transport]int64{compare.SSE: int64(nSSE), compare.WS: int64(nWS)}
	var counted, closed [2]time.Duration // per transport, in the order of compare.Transports; 0 until it happens
	for {
		st := s.Stats()
		now := time.Since(start)
		for i, t := range compare.Transports {
			c, c0, want := st.Of(t), st0.Of(t), healthy[t]
			if counted[i] == 0 && c.SlowDropped > c0.SlowDropped {
				counted[i] = now
			}
			if closed[i] == 0 && c.Open == want {
				closed[i] = now
			}
		}
		if counted[0] > 0 && counted[1] > 0 && closed[0] > 0 && closed[1] > 0 {
			break
		}
		if now > slowLimit {
			b.Fatalf("after %v: stuck clients counted as slow_dropped at sse=%v ws=%v, closed at sse=%v ws=%v (0: not yet); stats %+v",
				slowLimit, counted[0], counted[1], closed[0], closed[1], st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	dropAfter := max(counted[0], counted[1], closed[0], closed[1])
	after, err := lp.report()
	if err != nil {
		b.Fatal(err)
	}
	st1 := s.Stats()
	b.StopTimer()
	memAfter := probe.TakeMemSnapshot()
	b.StartTimer()

	dropped := slowDropped(st0, st1)
	if dropped != 2 {
		b.Fatalf("%d clients dropped as too slow, want exactly the 2 stuck ones", dropped)
	}
	if c := before.all().Closed + after.all().Closed; c != 0 {
		b.Fatalf("%d healthy connections ended", c)
	}
	for i, t := range compare.Transports {
		b.Logf("%-9s before: p50 %.2fms p99 %.2fms; with a stuck client: p50 %.2fms p99 %.2fms; stuck one counted after %.2fs, closed after %.2fs",
			t.Name(), ms(before.of(t).Hist.Quantile(0.5)), ms(before.of(t).Hist.Quantile(0.99)),
			ms(after.of(t).Hist.Quantile(0.5)), ms(after.of(t).Hist.Quantile(0.99)), counted[i].Seconds(), closed[i].Seconds())
	}
	p99b, p99a := before.all().Hist.Quantile(0.99), after.all().Hist.Quantile(0.99)
	b.ReportMetric(ms(before.all().Hist.Quantile(0.5)), "p50-before-ms")
	b.ReportMetric(ms(p99b), "p99-before-ms")
	b.ReportMetric(ms(after.all().Hist.Quantile(0.5)), "p50-after-ms")
	b.ReportMetric(ms(p99a), "p99-after-ms")
	b.ReportMetric(ms(p99a-p99b), "p99-shift-ms")
	b.ReportMetric(float64(dropped), "stuck-dropped")
	b.ReportMetric(dropAfter.Seconds(), "drop-after-s")
	b.ReportMetric(float64(int64(memAfter.Heap)-int64(memBefore.Heap)), "heap-growth-B")
	b.ReportMetric(float64(memAfter.Goroutines-memBefore.Goroutines), "goroutine-growth")
	b.ReportMetric(float64(before.all().Lost+after.all().Lost), "lost-ticks")
}

// stuckBuffer is the socket buffer size asked for at both ends of a stuck
// client's connection: its receive buffer, and the server's send buffer
// (stuckListener). Linux makes them a few KiB, so that a client that stops
// reading backs up after a few dozen ticks. With the default buffers it
// would take hours: on loopback Linux grows a socket's send buffer to
// tcp_wmem's maximum (4 MiB) at once, and the server's writes only block,
// and the write timeout only starts, once that is full.
const stuckBuffer = 1024

// stuckSource is the address stuck clients dial from, so that the
// server's listener can tell them from the others.
var stuckSource = net.IPv4(127, 0, 0, 2)

// stuckListener shrinks the server's send buffer for connections from
// stuckSource. Every other connection is left as it is.
type stuckListener struct{ net.Listener }

func (l stuckListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		if a, ok := tc.RemoteAddr().(*net.TCPAddr); ok && a.IP.Equal(stuckSource) {
			tc.SetWriteBuffer(stuckBuffer)
		}
	}
	return c, err
}

// openStuck opens one SSE and one WebSocket client that read up to their
// first tick and then stop reading. tg is a copy of the server's Target,
// changed to dial from stuckSource with a shrunk receive buffer.
func openStuck(tg probe.Target) ([]*probe.RawConn, error) {
	tg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: stuckSource}}
		c, err := d.DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(stuckBuffer)
		}
		return c, err
	}
	var conns []*probe.RawConn
	for _, t := range compare.Transports {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := probe.DialRaw(ctx, &tg, t, "")
		cancel()
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("stuck %s client: %w", t.Name(), err)
		}
		conns = append(conns, c)
	}
	return conns, nil
}
