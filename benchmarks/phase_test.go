package benchmarks

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// phaseSpec is one steady load: sse + ws connections held for dur against
// a fleet that ticks every interval.
type phaseSpec struct {
	sse, ws  int
	interval time.Duration
	dur      time.Duration
	// firstSource: when the load needs explicit source addresses (more
	// connections than soakPerSource), they start at
	// 127.0.0.(firstSource+1). A phase that follows another starts after
	// the addresses the first used: their ports wait out TIME_WAIT.
	firstSource int
	mem         bool // snapshot the fleet's memory before and after the window
}

// phase is what runPhase measured.
type phase struct {
	rep              loadReport    // what the clients saw in the window
	wall             time.Duration // the window
	open             time.Duration // to open every connection
	use              serverUsage   // CPU and slow drops in the window; open connections at its end
	memStart, memEnd probe.MemSnapshot
	sources          int // source addresses used
}

// cpuPerEvent is the fleet's CPU time per tick a client read, in ns.
func (p phase) cpuPerEvent() float64 {
	return float64(p.use.CPU) / float64(max(p.rep.all().Ticks, 1))
}

// cpuShare is the fleet's CPU time over the window, in % of one core.
func (p phase) cpuShare() float64 { return 100 * float64(p.use.CPU) / float64(p.wall) }

// quantile is the delivery latency quantile q of every tick, in ms.
func (p phase) quantile(q float64) float64 { return ms(p.rep.all().Hist.Quantile(q)) }

// runPhase opens spec's connections to fl, spread evenly over its
// processes, from load processes of at most soakPerProc connections each;
// waits until fl holds them all and the ticks flow; then measures a window
// of spec.dur that starts and ends halfway between two ticks, so that no
// tick's writes straddle an edge. It closes the load processes, not fl.
func runPhase(b *testing.B, what string, fl fleet, spec phaseSpec) phase {
	b.Helper()
	var p phase
	lp, sources, open := openPhase(b, what, fl, spec)
	p.sources, p.open = sources, open
	defer func() {
		if err := lp.close(); err != nil {
			b.Error(err)
		}
	}()

	// Let a few ticks go by: the first after a crowd connects are not
	// the steady state.
	time.Sleep(max(time.Second, 3*spec.interval))
	var err error
	if spec.mem {
		if p.memStart, err = fl.mem(); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC() // this process's garbage of earlier phases, not in the window
	sleepToMidTick(spec.interval)
	if err := lp.window(); err != nil {
		b.Fatal(err)
	}
	u0, err := fl.usage()
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	// Say when connections drop, as they drop.
	last := u0
	for end := t0.Add(spec.dur); time.Now().Before(end); {
		time.Sleep(min(time.Second, time.Until(end)))
		u, err := fl.usage()
		if err != nil {
			b.Fatal(err)
		}
		if u.SSE != last.SSE || u.WS != last.WS || u.SlowDropped != last.SlowDropped {
			b.Logf("%s %5.1fs: open sse=%d ws=%d, slow dropped %d; the server warned %v", what, time.Since(t0).Seconds(), u.SSE, u.WS, u.SlowDropped-u0.SlowDropped, u.Warnings)
		}
		last = u
	}
	u1, err := fl.usage()
	if err != nil {
		b.Fatal(err)
	}
	if p.rep, err = lp.report(); err != nil {
		b.Fatal(err)
	}
	p.wall = time.Since(t0)
	p.use = serverUsage{SSE: u1.SSE, WS: u1.WS, CPU: u1.CPU - u0.CPU, SlowDropped: u1.SlowDropped - u0.SlowDropped}
	if spec.mem {
		if p.memEnd, err = fl.mem(); err != nil {
			b.Fatal(err)
		}
	}
	for _, t := range compare.Transports {
		if r := p.rep.of(t); r.Ticks > 0 || r.Closed > 0 {
			b.Logf("%s %-9s %d ticks, p50 %.2fms p99 %.2fms max %.1fms, lost %d, closed %d",
				what, t.Name(), r.Ticks, ms(r.Hist.Quantile(0.5)), ms(r.Hist.Quantile(0.99)), ms(r.Hist.Max), r.Lost, r.Closed)
		}
	}
	b.Logf("%s: %.0f ns of CPU per delivered tick, %.1f%% of one core", what, p.cpuPerEvent(), p.cpuShare())
	if len(p.rep.Why) > 0 || len(u1.Warnings) > 0 {
		b.Logf("%s: connections ended under the clients with %v; the server warned %v", what, p.rep.Why, u1.Warnings)
	}
	return p
}

// openPhase opens spec's connections to fl, spread evenly over its
// processes, from load processes of at most soakPerProc connections each,
// and waits until fl holds them all. It returns the load processes (the
// caller closes them), the source addresses it used and the time it took.
func openPhase(b *testing.B, what string, fl fleet, spec phaseSpec) (lp *loadProcs, sources int, open time.Duration) {
	b.Helper()
	urls := fl.urls()
	k, n := len(urls), spec.sse+spec.ws
	lps, errs := make([]*loadProcs, k), make([]error, k)
	var wg sync.WaitGroup
	start := time.Now()
	over0 := listenOverflows()
	// Say how the opening goes, every 10 s, while it goes.
	done := make(chan struct{})
	var progress sync.WaitGroup
	progress.Go(func() {
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if u, err := fl.usage(); err == nil {
					b.Logf("%s: %5.0fs: %d of %d connections open", what, time.Since(start).Seconds(), u.SSE+u.WS, n)
				}
			}
		}
	})
	for i, u := range urls {
		sse := spec.sse*(i+1)/k - spec.sse*i/k
		ws := spec.ws*(i+1)/k - spec.ws*i/k
		var src []string
		if n > soakPerSource {
			m := (sse + ws + soakPerSource - 1) / soakPerSource
			src = loopbackSources(spec.firstSource+sources, m)
			sources += m
		}
		wg.Go(func() { lps[i], errs[i] = startLoadFrom(u, sse, ws, soakPerProc, src) })
	}
	wg.Wait()
	close(done)
	progress.Wait()
	lp = &loadProcs{}
	for _, l := range lps {
		if l != nil {
			lp.procs = append(lp.procs, l.procs...)
		}
	}
	if err := errors.Join(errs...); err != nil {
		lp.close()
		b.Fatalf("%s: opening %d connections: %v", what, n, err)
	}
	for deadline := time.Now().Add(30*time.Second + time.Duration(n)*time.Millisecond); ; {
		u, err := fl.usage()
		if err != nil {
			lp.close()
			b.Fatal(err)
		}
		if u.SSE == int64(spec.sse) && u.WS == int64(spec.ws) {
			break
		}
		if time.Now().After(deadline) {
			rep, _ := lp.report()
			lp.close()
			b.Fatalf("%s does not hold all %d connections: open sse=%d ws=%d, want %d and %d; %d dropped as too slow; the server warned %v; the clients saw them end with %v",
				what, n, u.SSE, u.WS, spec.sse, spec.ws, u.SlowDropped, u.Warnings, rep.Why)
		}
		time.Sleep(50 * time.Millisecond)
	}
	open = time.Since(start)
	b.Logf("%s: %d connections open in %.1fs (%.0f/s) over %d source address(es), %d client process(es) and %d server process(es)",
		what, n, open.Seconds(), float64(n)/open.Seconds(), max(1, sources), len(lp.procs), k)
	if over0 >= 0 {
		b.Logf("%s: listen queue overflows on this machine while opening (TcpExtListenOverflows): %d", what, listenOverflows()-over0)
	}
	return lp, sources, open
}

// sleepToMidTick sleeps until halfway between two ticks of the grid.
func sleepToMidTick(interval time.Duration) {
	now := time.Now()
	mid := now.Truncate(interval).Add(interval / 2)
	if !mid.After(now) {
		mid = mid.Add(interval)
	}
	time.Sleep(time.Until(mid))
}

// envDuration is the Go duration in environment variable name, at least
// least; def when it is not set.
func envDuration(b *testing.B, name string, def, least time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < least {
		b.Fatalf("%s=%q: want a Go duration of at least %v, such as 60s", name, v, least)
	}
	return d
}

// envInt is the number in environment variable name, at least least; def
// when it is not set.
func envInt(b *testing.B, name string, def, least int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	k, err := strconv.Atoi(v)
	if err != nil || k < least {
		b.Fatalf("%s=%q: want a whole number, at least %d", name, v, least)
	}
	return k
}

// listenOverflows is the system's count of connections a full listen queue
// turned away (TcpExt ListenOverflows in /proc/net/netstat, as nstat shows
// it), or -1 where it cannot be read. A client whose SYN is dropped so
// retransmits it 1 s, 3 s, 7 s later: the sign of a crowd dialling faster
// than the server accepts.
func listenOverflows() int64 {
	data, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return -1
	}
	lines := strings.Split(string(data), "\n")
	for i := 0; i+1 < len(lines); i++ {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != "TcpExt:" || len(values) != len(names) {
			continue
		}
		for j, name := range names {
			if name == "ListenOverflows" {
				v, err := strconv.ParseInt(values[j], 10, 64)
				if err != nil {
					return -1
				}
				return v
			}
		}
	}
	return -1
}
