package benchmarks

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// steadyEnv sets BenchmarkSteady's time on the server (a Go duration, 10s
// by default), and as much on the floor; steadyClientsEnv its connections
// per transport (5000).
const (
	steadyEnv        = "SSEVSWS_STEADY"
	steadyClientsEnv = "SSEVSWS_STEADY_CLIENTS"

	steadyDefault        = 10 * time.Second
	steadyDefaultClients = 5000
	steadyInterval       = 100 * time.Millisecond

	// steadyRun is the ticks of one window, on one side; the windows
	// alternate, server, floor, server, ..., at least steadyPairs of each.
	steadyRun   = 5
	steadyPairs = 10

	// steadyPaused is the server's own interval: so long that its clock
	// never ticks while the benchmark runs, and the benchmark publishes
	// every tick itself (PublishNext).
	steadyPaused = 10000 * time.Hour
)

// BenchmarkSteady is the cost of a tick in the steady state at the load
// the performance figures are quoted at: 5000 clients of one transport,
// HTTP/1.1 without TLS, one tick every 100 ms. The same load is held
// against the raw floor (rawFloor: a plain loop that writes the same
// pre-encoded bytes to every socket), so that every figure is also a ratio
// to the least any server could do on this machine at this moment. The
// clients are lean readers (probe.RawConn) in other processes, so the CPU
// time this process spends (getrusage) is the server's, or the floor's.
// One op is the whole run; run it with -benchtime=1x. Each transport takes
// about 30 s.
//
// Why the windows alternate: this machine is shared, and the CPU time a
// loopback write costs drifts with what else runs on it, by 10-20 % from
// one second to the next. Measured one after the other (10 s of server,
// then 10 s of floor), x-floor moved between 0.98 and 1.15 from run to run
// with nothing changed; in alternating 2 s windows, one pair's ratio still
// ranged over 0.75-1.45. So both are set up at once, the server with its
// 5000 clients and the floor with 5000 more (in load processes of their
// own), and the ticks of one 100 ms grid go to one or the other in turn:
// 5 ticks (0.5 s) from the server while the floor is silent, one idle
// slot, 5 from the floor while the server is silent, one idle slot, and so
// on, for $SSEVSWS_STEADY of ticks each (10s by default: 20 windows each;
// at least 10). Every window is then measured within a second of two of
// the other side's, and the ratios are taken window by window. In the idle
// slot after a window the benchmark collects what that window's clients
// saw, so that its own work stays out of every window.
//
// To silence the server between its windows, its own clock is set to an
// interval far longer than the run, and the benchmark publishes each of its
// ticks (PublishNext) on its slot of the grid, as it does the floor's. A
// tick's payload then carries that clock's time, not the moment it was
// due; so the load processes are told the schedule (tickGrid), and
// delivery latency is still the arrival time minus the moment the tick was
// due, for the server as for the floor. A publish that runs late delays the
// next one, whichever side it is on, and that shows in both latencies.
//
//   - server-ns/event, floor-ns/event: CPU time of this process per tick
//     written to a client, kernel writes included, over all the windows of
//     that side, each from just before its first publish until its last
//     returned. x-floor is the median, over every two adjacent windows
//     (server then floor, floor then server), of the server's window's CPU
//     per event over the floor's: the figure the fan-out's design is
//     judged by.
//   - p50-ms, p99-ms: delivery latency over all the server's windows;
//     floor-p50-ms and floor-p99-ms the floor's over its windows in
//     between. p50-x-floor and p99-x-floor are medians over adjacent
//     windows too, of the ratio of their p50s (p99s): one stall of the
//     machine lands in one window, and would decide a ratio taken over
//     them all.
//   - lost-ticks, floor-lost-ticks: holes in a client's seqs;
//     closed-conns: connections that ended; slow-dropped: clients the
//     server dropped as too slow. All 0 when the machine keeps up.
//   - server-cpu-%, floor-cpu-%: CPU time over that side's share of the
//     grid (its windows' ticks × 100 ms), in % of one core.
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
	// This process holds both ends' server sides: n to the server, n to
	// the floor.
	if limit, err := probe.RaiseFileLimit(); err != nil || limit < uint64(2*n+200) {
		b.Skipf("need %d open files, have %d (%v)", 2*n+200, limit, err)
	}
	if _, ok := cpuTime(); !ok {
		b.Skip("no process CPU time on this system")
	}
	spec := phaseSpec{interval: steadyInterval}
	if t == compare.SSE {
		spec.sse = n
	} else {
		spec.ws = n
	}
	// The defaults, as `ssevsws serve` runs, but quiet, and with a clock
	// that waits for the benchmark.
	log, warns := countWarnings()
	s := startServer(b, compare.Config{Interval: steadyPaused, Logger: log})
	f, err := startPacedFloor(s.Clock().Tick(s.Stats().Seq))
	if err != nil {
		b.Fatal(err)
	}
	defer f.close()
	sides := [2]steadySide{
		{what: "server", publish: func() { s.PublishNext() }, next: func() int64 { return s.Stats().Seq + 1 },
			open: func() int64 { return s.Stats().Of(t).Open }},
		{what: "floor", publish: func() { f.publishTick(s.Clock().Tick(f.lastSeq() + 1)) }, next: func() int64 { return f.lastSeq() + 1 },
			open: func() int64 { sse, ws := f.open(); return sse + ws }},
	}
	fleets := [2]fleet{localServer{s, warns}, localFloor{f}}
	for i := range sides {
		lp, _, _ := openPhase(b, sides[i].what, fleets[i], spec)
		sides[i].lp = lp
		defer func() {
			if err := lp.close(); err != nil {
				b.Error(err)
			}
		}()
	}

	// A second or so of ticks, not counted: the first after a crowd
	// connects are not the steady state.
	iv := steadyInterval
	pairs := max(steadyPairs, int(dur/(steadyRun*iv)))
	runSchedule(b, sides[:], iv, 1+int(time.Second/(2*steadyRun*iv)))
	runtime.GC() // the garbage of opening, not in a window
	st0 := s.Stats()
	wins := runSchedule(b, sides[:], iv, pairs)
	st1 := s.Stats()

	if w := warns.counts(); len(w) > 0 {
		b.Logf("server warned %v", w)
	}
	var ph [2]phase
	for i := range sides {
		for _, w := range wins[i] {
			ph[i].rep.SSE = ph[i].rep.SSE.merge(w.rep.SSE)
			ph[i].rep.WS = ph[i].rep.WS.merge(w.rep.WS)
			ph[i].rep.Why = w.rep.Why // since the start: the last says all
			ph[i].use.CPU += w.cpu
			ph[i].wall += steadyRun * iv
		}
		all := ph[i].rep.all()
		if want := int64(pairs * steadyRun * n); all.Ticks != want {
			b.Logf("%s: %d ticks read, want %d (lost %d, closed %d)", sides[i].what, all.Ticks, want, all.Lost, all.Closed)
		}
		if len(ph[i].rep.Why) > 0 {
			b.Logf("%s: connections ended under the clients with %v", sides[i].what, ph[i].rep.Why)
		}
		b.Logf("%s: %d ticks, p50 %.2fms p99 %.2fms max %.1fms, lost %d, closed %d; %.0f ns of CPU per delivered tick, %.1f%% of one core",
			sides[i].what, all.Ticks, ms(all.Hist.Quantile(0.5)), ms(all.Hist.Quantile(0.99)), ms(all.Hist.Max), all.Lost, all.Closed, ph[i].cpuPerEvent(), ph[i].cpuShare())
	}
	real, floor := ph[0], ph[1]
	real.use.SlowDropped = slowDropped(st0, st1)
	// Every two adjacent windows, server then floor and floor then server:
	// a drift of the machine's speed tilts the one as much as the other.
	var cpu, p50, p99 []float64
	for k := range pairs {
		for _, j := range []int{k, k + 1} {
			if j == pairs {
				break
			}
			r, f := wins[0][j], wins[1][k]
			cpu = append(cpu, r.perEvent()/f.perEvent())
			p50 = append(p50, float64(r.quantile(0.50))/float64(f.quantile(0.50)))
			p99 = append(p99, float64(r.quantile(0.99))/float64(f.quantile(0.99)))
		}
	}
	for _, x := range [][]float64{cpu, p50, p99} {
		slices.Sort(x)
	}
	for _, x := range []struct {
		what string
		r    []float64
	}{{"x-floor", cpu}, {"p50-x-floor", p50}, {"p99-x-floor", p99}} {
		b.Logf("%s over %d adjacent windows: min %.3f, quartiles %.3f %.3f %.3f, max %.3f",
			x.what, len(x.r), x.r[0], quantile(x.r, 0.25), median(x.r), quantile(x.r, 0.75), x.r[len(x.r)-1])
	}

	b.ReportMetric(real.cpuPerEvent(), "server-ns/event")
	b.ReportMetric(floor.cpuPerEvent(), "floor-ns/event")
	b.ReportMetric(median(cpu), "x-floor")
	b.ReportMetric(real.quantile(0.50), "p50-ms")
	b.ReportMetric(real.quantile(0.99), "p99-ms")
	b.ReportMetric(floor.quantile(0.50), "floor-p50-ms")
	b.ReportMetric(floor.quantile(0.99), "floor-p99-ms")
	// One stall of the machine lands in one window, and would decide the
	// ratio of the p99s over all of them.
	b.ReportMetric(median(p50), "p50-x-floor")
	b.ReportMetric(median(p99), "p99-x-floor")
	b.ReportMetric(float64(real.rep.all().Lost), "lost-ticks")
	b.ReportMetric(float64(floor.rep.all().Lost), "floor-lost-ticks")
	b.ReportMetric(float64(real.rep.all().Closed), "closed-conns")
	b.ReportMetric(float64(real.use.SlowDropped), "slow-dropped")
	b.ReportMetric(real.cpuShare(), "server-cpu-%")
	b.ReportMetric(floor.cpuShare(), "floor-cpu-%")
}

// steadySide is the server or the floor, with its clients, as
// BenchmarkSteady paces it.
type steadySide struct {
	what    string
	publish func()       // publish the next tick, and return once it is written
	next    func() int64 // the seq publish will publish
	open    func() int64 // connections open
	lp      *loadProcs
}

// steadyWindow is one window of one side: its CPU time, the events it was
// to deliver (its open connections × its ticks), and what its clients saw.
type steadyWindow struct {
	cpu    time.Duration
	events int64
	rep    loadReport
}

func (w steadyWindow) perEvent() float64 { return float64(w.cpu) / float64(max(w.events, 1)) }

func (w steadyWindow) quantile(q float64) time.Duration { return w.rep.all().Hist.Quantile(q) }

// runSchedule publishes pairs × 2 windows of steadyRun ticks on the grid of
// interval iv, from the next slot at least two intervals away: the first
// side's window, an idle slot, the second's, an idle slot, and so on. It
// tells each side's load processes that schedule first (tickGrid). It
// measures the CPU time of this process over each window, from just before
// its first publish until its last returned; in the idle slot after it, it
// collects what that side's clients saw (and starts their next window),
// so that this process spends the time on it outside every window.
func runSchedule(b *testing.B, sides []steadySide, iv time.Duration, pairs int) [2][]steadyWindow {
	b.Helper()
	const run = steadyRun
	first := time.Now().Truncate(iv).Add(2 * iv)
	for i := range sides {
		at := first.Add(time.Duration(i*(run+1)) * iv)
		if err := sides[i].lp.gridWindow(sides[i].next(), at, iv, run, run+2); err != nil {
			b.Fatal(err)
		}
	}
	var wins [2][]steadyWindow
	slot := first
	for range pairs {
		for i := range sides {
			w := steadyWindow{events: sides[i].open() * run}
			time.Sleep(time.Until(slot))
			c0, _ := cpuTime()
			for k := range run {
				if k > 0 {
					time.Sleep(time.Until(slot))
				}
				sides[i].publish()
				slot = slot.Add(iv)
			}
			c1, _ := cpuTime()
			w.cpu = c1 - c0
			// The idle slot: wait for the window's ticks to be read,
			// until shortly before the next window.
			time.Sleep(time.Until(slot))
			for until := slot.Add(iv - 10*time.Millisecond); ; time.Sleep(5 * time.Millisecond) {
				var err error
				if w.rep, err = sides[i].lp.report(); err != nil {
					b.Fatal(err)
				}
				if w.rep.all().Ticks >= w.events || time.Now().After(until) {
					break
				}
			}
			if err := sides[i].lp.window(); err != nil {
				b.Fatal(err)
			}
			slot = slot.Add(iv)
			wins[i] = append(wins[i], w)
		}
	}
	return wins
}

// median of sorted xs.
func median(xs []float64) float64 { return quantile(xs, 0.5) }

// quantile q of sorted xs, interpolated.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	pos := q * float64(len(xs)-1)
	i := int(pos)
	if i+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	return xs[i] + (pos-float64(i))*(xs[i+1]-xs[i])
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
