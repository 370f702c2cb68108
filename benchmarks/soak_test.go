package benchmarks

import (
	"fmt"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// soakEnv sets how long BenchmarkSoak holds its connections (a Go duration);
// soakClientsEnv replaces its default of 10,000 connections (half SSE, half
// WebSocket); soakServersEnv spreads the server over that many processes.
const (
	soakEnv        = "SSEVSWS_SOAK"
	soakClientsEnv = "SSEVSWS_SOAK_CLIENTS"
	soakServersEnv = "SSEVSWS_SOAK_SERVERS"

	soakDefault        = 20 * time.Second
	soakDefaultClients = 10000
	soakInterval       = time.Second
)

// BenchmarkSoak holds N connections at once, half SSE and half WebSocket,
// on a server that ticks once a second, for a set time (20s;
// SSEVSWS_SOAK=60s for longer), and measures what happens to the ticks and
// to the server; then it holds the same load for the same time against the
// raw floor (rawFloor, a plain loop writing the same bytes to every
// socket), so that delivery can be read as a ratio to the least any server
// could do here and now. The clients are lean readers (probe.RawConn) in
// other processes, this test binary started again, so every number about
// memory, goroutines and CPU is the server's. One op is the whole soak;
// run it with -benchtime=1x.
//
//   - p50-ms, p99-ms, max-ms: delivery latency of every tick to every
//     client: the arrival time minus the tick's own time, from its payload
//     (both processes read the same wall clock). sse-p99-ms and ws-p99-ms
//     split the p99 by transport. floor-p50-ms and floor-p99-ms are the
//     floor's, p50-x-floor and p99-x-floor the ratios.
//   - ticks/s: ticks delivered per second, all clients; N ticks a second is
//     every client getting every tick.
//   - lost-ticks: ticks a client never got (a hole in its seqs);
//     closed-conns: connections that ended under the clients;
//     slow-dropped: clients the server dropped as too slow (/stats). All 0
//     when the machine keeps up. floor-lost-ticks: the floor's.
//   - rss-start-MiB, rss-end-MiB, goroutines-start, goroutines-end,
//     heap-end-MiB: the server after garbage collection, once all
//     connections are open and again after the soak. rss-KiB/conn is the
//     end RSS divided by N.
//   - server-cpu-%: the server's CPU time over the soak, as a share of one
//     core; clients-cpu-%: the same for all the load processes, which share
//     the machine's cores with the server; floor-cpu-%: the floor's. open-s:
//     time to open all N connections.
//
// The benchmark refuses to report when the server does not hold all N
// connections, and then says why they ended, as the server logged it
// (slow clients dropped, a clock loop that woke late) and as the clients
// saw it; it logs the same whenever connections drop during the soak.
// Spreading clients over several source addresses (127.0.0.1,
// 127.0.0.2, ...) keeps each at most soakPerSource (12,000), well inside
// the ~28,000 ephemeral ports one address has, and the source port is
// chosen by connect(2), not bind(2) (bindNoPort): past 14,000 from one
// address a bind-chosen port took milliseconds per dial, and failed with
// "address already in use" once earlier runs' TIME_WAIT sockets held the
// rest; the load process that failed then closed all its connections. The
// client processes hold at most soakPerProc connections each, and dial 8 at
// a time: at most 8 handshakes per process are in flight, so the listen
// queue (net.core.somaxconn, 4096) never overflows; the benchmark logs the
// system's ListenOverflows counter around the opening to show it. The server's process needs one file descriptor per
// connection, and that is where a large N stops on a machine whose hard
// limit (ulimit -Hn) is lower: the benchmark says so before it starts.
//
// Past that limit, SSEVSWS_SOAK_SERVERS=k runs the server (and then the
// floor) as k processes of this test binary, each holding N/k of the
// connections; the figures are then sums over the k (RSS, heap,
// goroutines, CPU) or over all clients (latency, ticks). The processes
// share nothing, and need not: a tick's seq is a function of wall time, so
// they all publish the same tick at the same moment, as k replicas behind
// a load balancer would.
//
// What to notice: memory grows with the number of connections, not with
// time: heap at the end is within a few percent of the start, goroutines
// are one per connection (its reader) plus one for each client the server
// is catching up with at that moment, and no tick is lost. Delivery latency is set by the burst, not by the average: the
// server uses some 14% of one core at 10,000 connections, yet every tick
// makes it write 10,000 times at once (10-14 µs of CPU each on loopback,
// most of it the write(2) and the receiver's TCP path, as for the floor)
// while the clients read on the same two cores, so the last client gets
// the tick 100-200 ms after the first. Twice the connections, twice the
// latency, for the floor as for the server: p99-x-floor says how far
// apart they are. An idle push connection costs memory, not CPU: the
// memory per connection (about 12 KiB with the fan-out engine, see
// BenchmarkIdleConn) and the process's file descriptor limit set the
// ceiling of connections; the burst sets the latency.
func BenchmarkSoak(b *testing.B) {
	dur := envDuration(b, soakEnv, soakDefault, time.Second)
	n := envInt(b, soakClientsEnv, soakDefaultClients, 2)
	k := envInt(b, soakServersEnv, 1, 1)
	label := fmt.Sprintf("clients=%d", n)
	if k > 1 {
		label += fmt.Sprintf("/servers=%d", k)
	}
	b.Run(label, func(b *testing.B) {
		for b.Loop() {
			benchSoak(b, n, k, dur)
		}
	})
}

// soakPerProc is the most connections one client process holds; its file
// descriptor limit is the same as the server's.
const soakPerProc = 12500

// soakPerSource is the most connections dialled from one source address:
// Linux gives each (source address, destination) pair about 28,000
// ephemeral ports (32768–60999), but past half of them (14,116: the kernel
// keeps one half of the range for connect, the other for bind) each new
// port costs a search of the whole half, about 1 ms even with bindNoPort,
// 3.5 ms without; so a source address takes at most 12,000.
const soakPerSource = 12000

func benchSoak(b *testing.B, n, k int, dur time.Duration) {
	limit, err := probe.RaiseFileLimit()
	if err != nil {
		b.Logf("open file limit: %v", err)
	}
	if need := uint64((n+k-1)/k + 200); limit < need {
		b.Fatalf("%d connections over %d server process(es) need about %d file descriptors in each (one per connection, plus the listener and the test's own); "+
			"the limit (RLIMIT_NOFILE, raised to the hard limit) is %d. Raise the hard limit (ulimit -Hn; it takes root with CAP_SYS_RESOURCE), "+
			"spread the server over more processes (%s) or try at most %d connections per process", n, k, need, limit, soakServersEnv, int(limit)-200)
	}
	if _, ok := cpuTime(); !ok {
		b.Skip("no process CPU time on this system")
	}
	spec := phaseSpec{sse: n / 2, ws: n - n/2, interval: soakInterval, dur: dur, mem: true}

	var real fleet
	if k == 1 {
		// The defaults, as `ssevsws serve` runs, but quiet.
		log, warns := countWarnings()
		real = localServer{startServer(b, compare.Config{Interval: soakInterval, Logger: log}), warns}
	} else if real, err = startServerProcs(k, serverSpec{Interval: soakInterval}); err != nil {
		b.Fatal(err)
	}
	p := runPhase(b, "server", real, spec)
	if err := real.close(); err != nil {
		b.Error(err)
	}

	var fl fleet
	if k == 1 {
		f, err := startFloor(soakInterval)
		if err != nil {
			b.Fatal(err)
		}
		fl = localFloor{f}
	} else if fl, err = startServerProcs(k, serverSpec{Interval: soakInterval, Floor: true}); err != nil {
		b.Fatal(err)
	}
	spec.firstSource, spec.mem = p.sources, false
	fp := runPhase(b, "floor", fl, spec)
	if err := fl.close(); err != nil {
		b.Error(err)
	}

	all := p.rep.all()
	b.Logf("server start: RSS %.0f MiB, heap %.0f MiB, %d goroutines; end: RSS %.0f MiB, heap %.0f MiB, %d goroutines",
		mib(p.memStart.RSS), mib(int64(p.memStart.Heap)), p.memStart.Goroutines, mib(p.memEnd.RSS), mib(int64(p.memEnd.Heap)), p.memEnd.Goroutines)
	reportDelivery(b, p, fp)
	b.ReportMetric(ms(all.Hist.Max), "max-ms")
	b.ReportMetric(ms(p.rep.SSE.Hist.Quantile(0.99)), "sse-p99-ms")
	b.ReportMetric(ms(p.rep.WS.Hist.Quantile(0.99)), "ws-p99-ms")
	b.ReportMetric(float64(all.Ticks)/p.wall.Seconds(), "ticks/s")
	b.ReportMetric(float64(all.Closed), "closed-conns")
	b.ReportMetric(float64(p.use.SlowDropped), "slow-dropped")
	b.ReportMetric(mib(p.memStart.RSS), "rss-start-MiB")
	b.ReportMetric(mib(p.memEnd.RSS), "rss-end-MiB")
	b.ReportMetric(float64(p.memEnd.RSS)/1024/float64(n), "rss-KiB/conn")
	b.ReportMetric(mib(int64(p.memEnd.Heap)), "heap-end-MiB")
	b.ReportMetric(float64(p.memStart.Goroutines), "goroutines-start")
	b.ReportMetric(float64(p.memEnd.Goroutines), "goroutines-end")
	b.ReportMetric(p.cpuShare(), "server-cpu-%")
	b.ReportMetric(100*float64(p.rep.CPU)/float64(p.wall), "clients-cpu-%")
	b.ReportMetric(fp.cpuShare(), "floor-cpu-%")
	b.ReportMetric(p.open.Seconds(), "open-s")
}
