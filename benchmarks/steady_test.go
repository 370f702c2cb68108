package benchmarks

import (
	"fmt"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// steadyEnv sets BenchmarkSteady's window (a Go duration, 10s by default);
// steadyClientsEnv its connections per transport (5000).
const (
	steadyEnv        = "SSEVSWS_STEADY"
	steadyClientsEnv = "SSEVSWS_STEADY_CLIENTS"

	steadyDefault        = 10 * time.Second
	steadyDefaultClients = 5000
	steadyInterval       = 100 * time.Millisecond
)

// BenchmarkSteady is the cost of a tick in the steady state at the load
// the performance figures are quoted at: 5000 clients of one transport,
// HTTP/1.1 without TLS, one tick every 100 ms, held for a window of 10 s
// ($SSEVSWS_STEADY; 20s is steadier). The same load is then held against
// the raw floor (rawFloor: a plain loop that writes the same pre-encoded
// bytes to every socket), so that every figure is also a ratio to the
// least any server could do on this machine at this moment. The clients
// are lean readers (probe.RawConn) in other processes, and the server is
// alone in this one, so its CPU time (getrusage) is the server's own. One
// op is both windows; run it with -benchtime=1x. Each transport takes
// about 40 s.
//
//   - server-ns/event, floor-ns/event: CPU time per tick a client read,
//     kernel writes included; x-floor is their ratio, the figure the
//     fan-out's design is judged by.
//   - p50-ms, p99-ms: delivery latency, the arrival time minus the tick's
//     own time (from its payload); floor-p50-ms and floor-p99-ms the
//     floor's; p50-x-floor and p99-x-floor the ratios.
//   - lost-ticks, floor-lost-ticks: holes in a client's seqs, in the
//     window; closed-conns: connections that ended; slow-dropped: clients
//     the server dropped as too slow. All 0 when the machine keeps up.
//   - server-cpu-%, floor-cpu-%: CPU time over the window, in % of one
//     core.
//
// What to notice: the floor is not free. Each loopback write runs the
// receiver's TCP path too, so the floor costs microseconds per event and
// most of the server's time is the floor's; what the design adds shows in
// x-floor. Latency is set by the burst: 5000 writes in a row, while the
// clients read on the same cores, so the p99 is of the order of the time
// the burst takes, for the floor as for the server.
func BenchmarkSteady(b *testing.B) {
	dur := envDuration(b, steadyEnv, steadyDefault, time.Second)
	n := envInt(b, steadyClientsEnv, steadyDefaultClients, 1)
	for _, t := range compare.Transports {
		b.Run(fmt.Sprintf("%s/clients=%d", name(t), n), func(b *testing.B) {
			for b.Loop() {
				benchSteady(b, t, n, dur)
			}
		})
	}
}

func benchSteady(b *testing.B, t compare.Transport, n int, dur time.Duration) {
	if limit, err := probe.RaiseFileLimit(); err != nil || limit < uint64(n+200) {
		b.Skipf("need %d open files, have %d (%v)", n+200, limit, err)
	}
	if _, ok := cpuTime(); !ok {
		b.Skip("no process CPU time on this system")
	}
	spec := phaseSpec{interval: steadyInterval, dur: dur}
	if t == compare.SSE {
		spec.sse = n
	} else {
		spec.ws = n
	}
	// The defaults, as `ssevsws serve` runs, but quiet and at 100 ms.
	s := startServer(b, compare.Config{Interval: steadyInterval, Logger: comparetest.Logger()})
	real := runPhase(b, "server", localServer{s}, spec)
	if err := s.Stop(); err != nil {
		b.Error(err)
	}
	f, err := startFloor(steadyInterval)
	if err != nil {
		b.Fatal(err)
	}
	defer f.close()
	floor := runPhase(b, "floor", localFloor{f}, spec)

	b.ReportMetric(real.cpuPerEvent(), "server-ns/event")
	b.ReportMetric(floor.cpuPerEvent(), "floor-ns/event")
	b.ReportMetric(real.cpuPerEvent()/floor.cpuPerEvent(), "x-floor")
	reportDelivery(b, real, floor)
	b.ReportMetric(float64(real.rep.all().Closed), "closed-conns")
	b.ReportMetric(float64(real.use.SlowDropped), "slow-dropped")
	b.ReportMetric(real.cpuShare(), "server-cpu-%")
	b.ReportMetric(floor.cpuShare(), "floor-cpu-%")
}

// reportDelivery reports delivery latency and lost ticks of the server's
// phase, of the floor's, and the ratios: what BenchmarkSteady and
// BenchmarkSoak have in common.
func reportDelivery(b *testing.B, real, floor phase) {
	b.ReportMetric(real.quantile(0.50), "p50-ms")
	b.ReportMetric(real.quantile(0.99), "p99-ms")
	b.ReportMetric(floor.quantile(0.50), "floor-p50-ms")
	b.ReportMetric(floor.quantile(0.99), "floor-p99-ms")
	b.ReportMetric(real.quantile(0.50)/floor.quantile(0.50), "p50-x-floor")
	b.ReportMetric(real.quantile(0.99)/floor.quantile(0.99), "p99-x-floor")
	b.ReportMetric(float64(real.rep.all().Lost), "lost-ticks")
	b.ReportMetric(float64(floor.rep.all().Lost), "floor-lost-ticks")
}
