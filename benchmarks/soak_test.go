package benchmarks

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// soakEnv sets how long BenchmarkSoak holds its connections (a Go duration);
// soakClientsEnv replaces its default of 10,000 connections (half SSE, half
// WebSocket).
const (
	soakEnv        = "SSEVSWS_SOAK"
	soakClientsEnv = "SSEVSWS_SOAK_CLIENTS"

	soakDefault        = 20 * time.Second
	soakDefaultClients = 10000
)

// BenchmarkSoak holds N connections at once, half SSE and half WebSocket,
// on an in-process server that ticks once a second, for a set time (20s;
// SSEVSWS_SOAK=60s for longer), and measures what happens to the ticks and
// to the server. The clients are lean readers (probe.RawConn) in other
// processes, this test binary started again, so every number about memory,
// goroutines and CPU is the server's. One op is the whole soak; run it with
// -benchtime=1x.
//
//   - p50-ms, p99-ms, max-ms: delivery latency of every tick to every
//     client: the arrival time minus the tick's own time, from its payload
//     (both processes read the same wall clock). sse-p99-ms and ws-p99-ms
//     split the p99 by transport.
//   - ticks/s: ticks delivered per second, all clients; N ticks a second is
//     every client getting every tick.
//   - lost-ticks: ticks a client never got (a hole in its seqs);
//     closed-conns: connections that ended under the clients;
//     slow-dropped: clients the server dropped as too slow (/stats). All 0
//     when the machine keeps up.
//   - rss-start-MiB, rss-end-MiB, goroutines-start, goroutines-end,
//     heap-end-MiB: the server process after garbage collection, once all
//     connections are open and again after the soak. rss-KiB/conn is the
//     end RSS divided by N.
//   - server-cpu-%: the server's CPU time over the soak, as a share of one
//     core; clients-cpu-%: the same for all the load processes, which share
//     the machine's cores with the server. open-s: time to open all N
//     connections.
//
// The benchmark refuses to report when the server does not hold all N
// connections. Spreading clients over several source addresses
// (127.0.0.1, 127.0.0.2, ...) keeps each under the ~28,000 ephemeral ports
// one address has; the client processes hold at most soakPerProc
// connections each. The server's process needs one file descriptor per
// connection, and that is where a large N stops on a machine whose hard
// limit (ulimit -Hn) is lower: the benchmark says so before it starts.
//
// What to notice: memory grows with the number of connections, not with
// time: goroutines and heap at the end equal the start, RSS is within a
// few percent, and no tick is lost. Delivery latency is set by the burst,
// not by the average: the server uses some 15% of one core at 10,000
// connections, yet every tick makes it write 10,000 times at once (about
// 15 µs of CPU each, waking a goroutine included) while the clients read
// on the same two cores, so the last client gets the tick some 100 ms
// after the first. Twice the connections, twice the latency. An idle push
// connection costs memory, not CPU: the memory per connection (about
// 35 KiB, see BenchmarkIdleConn) and the process's file descriptor limit
// set the ceiling before the CPU does.
func BenchmarkSoak(b *testing.B) {
	dur := soakDefault
	if v := os.Getenv(soakEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			b.Fatalf("%s=%q: want a Go duration of at least 1s, such as 60s", soakEnv, v)
		}
		dur = d
	}
	n := soakDefaultClients
	if v := os.Getenv(soakClientsEnv); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 2 {
			b.Fatalf("%s=%q: want a number of connections, at least 2", soakClientsEnv, v)
		}
		n = k
	}
	b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
		for b.Loop() {
			benchSoak(b, n, dur)
		}
	})
}

// soakPerProc is the most connections one client process holds; its file
// descriptor limit is the same as the server's.
const soakPerProc = 12500

// soakPerSource is the most connections dialled from one source address:
// Linux gives each (source address, destination) pair about 28,000
// ephemeral ports (32768–60999), and a margin keeps clear of the edge.
const soakPerSource = 20000

func benchSoak(b *testing.B, n int, dur time.Duration) {
	limit, err := probe.RaiseFileLimit()
	if err != nil {
		b.Logf("open file limit: %v", err)
	}
	if need := uint64(n + 200); limit < need {
		b.Fatalf("%d connections need about %d file descriptors in the server's process (one per connection, plus the listener and the test's own); "+
			"the limit (RLIMIT_NOFILE, raised to the hard limit) is %d. Raise the hard limit (ulimit -Hn; it takes root with CAP_SYS_RESOURCE) "+
			"or try at most %d connections", n, need, limit, int(limit)-200)
	}
	if _, ok := cpuTime(); !ok {
		b.Skip("no process CPU time on this system")
	}
	cfg := compare.Config{ // the defaults, as `ssevsws serve` runs, but quiet
		Interval: time.Second,
		Logger:   comparetest.Logger(),
	}
	s := startServer(b, cfg)

	nSSE, nWS := n/2, n-n/2
	start := time.Now()
	lp, err := startLoad(s.URL("http", "/"), nSSE, nWS, soakPerProc, soakPerSource)
	if err != nil {
		b.Fatalf("opening %d connections: %v", n, err)
	}
	defer func() {
		if err := lp.close(); err != nil {
			b.Error(err)
		}
	}()
	if err := s.holds(int64(nSSE), int64(nWS), 30*time.Second); err != nil {
		b.Fatalf("the server does not hold all %d connections: %v", n, err)
	}
	openTime := time.Since(start)
	b.Logf("%d connections open in %.1fs over %d source address(es) and %d client process(es)",
		n, openTime.Seconds(), max(1, len(lp.sources)), len(lp.procs))

	b.StopTimer() // the snapshots collect garbage: not part of the op
	memStart := probe.TakeMemSnapshot()
	st0 := s.Stats()
	b.StartTimer()
	if err := lp.window(); err != nil {
		b.Fatal(err)
	}
	cpu0, _ := cpuTime()
	t0 := time.Now()
	// Say when connections drop, as they drop.
	check := time.NewTicker(time.Second)
	last := st0
	for end := time.After(dur); end != nil; {
		select {
		case <-check.C:
			st := s.Stats()
			if st.SSE.Open != last.SSE.Open || st.WS.Open != last.WS.Open || st.SSE.SlowDropped != last.SSE.SlowDropped || st.WS.SlowDropped != last.WS.SlowDropped {
				b.Logf("%5.1fs: open sse=%d ws=%d, slow dropped sse=%d ws=%d", time.Since(t0).Seconds(),
					st.SSE.Open, st.WS.Open, st.SSE.SlowDropped, st.WS.SlowDropped)
			}
			last = st
		case <-end:
			end = nil
		}
	}
	check.Stop()
	wall := time.Since(t0)
	cpu1, _ := cpuTime()
	rep, err := lp.report()
	if err != nil {
		b.Fatal(err)
	}
	st1 := s.Stats()
	b.StopTimer()
	memEnd := probe.TakeMemSnapshot()
	b.StartTimer()

	all := rep.all()
	slow := slowDropped(st0, st1)
	b.Logf("start: RSS %.0f MiB, heap %.0f MiB, %d goroutines; end: RSS %.0f MiB, heap %.0f MiB, %d goroutines",
		mib(memStart.RSS), mib(int64(memStart.Heap)), memStart.Goroutines, mib(memEnd.RSS), mib(int64(memEnd.Heap)), memEnd.Goroutines)
	for _, t := range compare.Transports {
		r := rep.of(t)
		b.Logf("%-9s %d ticks, p50 %.2fms p99 %.2fms max %.1fms, lost %d, closed %d",
			t.Name(), r.Ticks, ms(r.Hist.Quantile(0.5)), ms(r.Hist.Quantile(0.99)), ms(r.Hist.Max), r.Lost, r.Closed)
	}
	b.ReportMetric(ms(all.Hist.Quantile(0.50)), "p50-ms")
	b.ReportMetric(ms(all.Hist.Quantile(0.99)), "p99-ms")
	b.ReportMetric(ms(all.Hist.Max), "max-ms")
	b.ReportMetric(ms(rep.SSE.Hist.Quantile(0.99)), "sse-p99-ms")
	b.ReportMetric(ms(rep.WS.Hist.Quantile(0.99)), "ws-p99-ms")
	b.ReportMetric(float64(all.Ticks)/wall.Seconds(), "ticks/s")
	b.ReportMetric(float64(all.Lost), "lost-ticks")
	b.ReportMetric(float64(all.Closed), "closed-conns")
	b.ReportMetric(float64(slow), "slow-dropped")
	b.ReportMetric(mib(memStart.RSS), "rss-start-MiB")
	b.ReportMetric(mib(memEnd.RSS), "rss-end-MiB")
	b.ReportMetric(float64(memEnd.RSS)/1024/float64(n), "rss-KiB/conn")
	b.ReportMetric(mib(int64(memEnd.Heap)), "heap-end-MiB")
	b.ReportMetric(float64(memStart.Goroutines), "goroutines-start")
	b.ReportMetric(float64(memEnd.Goroutines), "goroutines-end")
	b.ReportMetric(100*float64(cpu1-cpu0)/float64(wall), "server-cpu-%")
	b.ReportMetric(100*float64(rep.CPU)/float64(wall), "clients-cpu-%")
	b.ReportMetric(openTime.Seconds(), "open-s")
}
