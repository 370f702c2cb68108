package benchmarks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
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
// to the server. The clients are lean readers (compare.RawConn) in other
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
	limit, err := compare.RaiseFileLimit()
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
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	s := startServer(b, cfg)

	nSSE, nWS := n/2, n-n/2
	start := time.Now()
	lp, err := startLoad(s.tg.Base.String(), nSSE, nWS, soakPerProc, soakPerSource)
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
	memStart := compare.TakeMemSnapshot()
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
	memEnd := compare.TakeMemSnapshot()
	b.StartTimer()

	all := rep.all()
	slow := st1.SSE.SlowDropped + st1.WS.SlowDropped - st0.SSE.SlowDropped - st0.WS.SlowDropped
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

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mib(n int64) float64        { return float64(n) / (1 << 20) }

// holds waits until the server has exactly sse and ws connections open.
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

// ---- latency histogram ----

// hist counts durations in buckets: 10µs wide below 1ms, 100µs wide below
// 100ms, 1ms wide below 1s, 10ms wide below 10s, and one for everything
// longer. A quantile is read as its bucket's upper bound: at most 10% high
// (at 100µs, 1ms... up to 10s), never low. Adding is one atomic increment,
// so every reader goroutine can add to one shared hist.
type hist struct {
	counts [histBuckets]atomic.Int64
	max    atomic.Int64
}

// histTiers are the bucket widths: each tier is 900 or so buckets wide and
// ends where the next, ten times coarser, begins.
var histTiers = []struct{ end, width int64 }{ // microseconds
	{1_000, 10}, {100_000, 100}, {1_000_000, 1_000}, {10_000_000, 10_000},
}

const histBuckets = 100 + 990 + 900 + 900 + 1

func histBucket(d time.Duration) int {
	us := max(d.Microseconds(), 0)
	i, start := 0, int64(0)
	for _, t := range histTiers {
		if us < t.end {
			return i + int((us-start)/t.width)
		}
		i += int((t.end - start) / t.width)
		start = t.end
	}
	return histBuckets - 1
}

// histUpper is the upper bound of bucket i.
func histUpper(i int) time.Duration {
	start := int64(0)
	for _, t := range histTiers {
		n := int((t.end - start) / t.width)
		if i < n {
			return time.Duration(start+int64(i+1)*t.width) * time.Microsecond
		}
		i -= n
		start = t.end
	}
	return time.Duration(1<<63 - 1)
}

func (h *hist) add(d time.Duration) {
	h.counts[histBucket(d)].Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

func (h *hist) reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.max.Store(0)
}

// snapshot copies the counts, for the report to the benchmark.
func (h *hist) snapshot() histCounts {
	c := histCounts{Max: time.Duration(h.max.Load())}
	for i := range h.counts {
		if v := h.counts[i].Load(); v != 0 {
			c.Buckets = append(c.Buckets, [2]int64{int64(i), v})
		}
	}
	return c
}

// histCounts is a hist as the client process reports it: the buckets that
// are not empty, as (index, count) pairs, and the largest sample.
type histCounts struct {
	Buckets [][2]int64    `json:"buckets"`
	Max     time.Duration `json:"max_ns"`
}

// merge adds o's counts to c's.
func (c histCounts) merge(o histCounts) histCounts {
	sum := map[int64]int64{}
	for _, b := range c.Buckets {
		sum[b[0]] += b[1]
	}
	for _, b := range o.Buckets {
		sum[b[0]] += b[1]
	}
	out := histCounts{Max: max(c.Max, o.Max)}
	for i := range int64(histBuckets) {
		if v := sum[i]; v != 0 {
			out.Buckets = append(out.Buckets, [2]int64{i, v})
		}
	}
	return out
}

// N is the number of samples.
func (c histCounts) N() int64 {
	var n int64
	for _, b := range c.Buckets {
		n += b[1]
	}
	return n
}

// Quantile is the upper bound of the bucket holding the q-quantile
// (nearest rank), capped at the largest sample; 0 with no samples.
func (c histCounts) Quantile(q float64) time.Duration {
	n := c.N()
	if n == 0 {
		return 0
	}
	rank := max(int64(q*float64(n)+0.999999999), 1)
	var seen int64
	for _, b := range c.Buckets {
		if seen += b[1]; seen >= rank {
			return min(histUpper(int(b[0])), c.Max)
		}
	}
	return c.Max
}

// ---- the load: clients that read every tick, in other processes ----

// loadEnv, when set, makes the test binary a load process instead of a test
// run: it holds the connections its value describes (a loadSpec as JSON)
// and records when each tick arrives (TestMain in main_test.go sends such a
// process here).
const loadEnv = "SSEVSWS_BENCH_LOAD_CLIENTS"

// loadSpec is one load process's share of the connections.
type loadSpec struct {
	URL     string   `json:"url"`
	SSE     int      `json:"sse"`     // SSE connections
	WS      int      `json:"ws"`      // WebSocket connections
	Sources []string `json:"sources"` // source addresses, used in turn; none: the system picks
	First   int      `json:"first"`   // number of this process's first connection, so that the turns continue across processes
}

// loadCounts is what the clients of one transport saw since the window
// began.
type loadCounts struct {
	Hist   histCounts `json:"hist"`   // delivery latency of every tick
	Ticks  int64      `json:"ticks"`  // ticks read
	Lost   int64      `json:"lost"`   // holes in a connection's seqs
	Closed int64      `json:"closed"` // connections that ended
}

func (c loadCounts) merge(o loadCounts) loadCounts {
	return loadCounts{Hist: c.Hist.merge(o.Hist), Ticks: c.Ticks + o.Ticks, Lost: c.Lost + o.Lost, Closed: c.Closed + o.Closed}
}

// loadReport is both transports' loadCounts, and the CPU time the load
// processes spent since the window began.
type loadReport struct {
	SSE loadCounts    `json:"sse"`
	WS  loadCounts    `json:"ws"`
	CPU time.Duration `json:"cpu_ns"`
}

func (r loadReport) of(t compare.Transport) loadCounts {
	if t == compare.SSE {
		return r.SSE
	}
	return r.WS
}

func (r loadReport) all() loadCounts { return r.SSE.merge(r.WS) }

// loadProcs drives the load processes, one line at a time on their
// standard input and output:
//
//	← "ready"          every connection is open and has had its first tick
//	→ "w"              start a window: forget what was seen so far
//	← "ok"
//	→ "r"              report
//	← a loadReport as one line of JSON
//	→ "q"              close every connection and quit
//	← "bye"
type loadProcs struct {
	procs   []*loadProc
	sources []string
}

type loadProc struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *syncBuffer
}

// startLoad starts enough load processes for nSSE + nWS connections to url,
// at most perProc each, dialling from enough loopback source addresses for
// at most perSource connections each, and waits until they are all open.
func startLoad(url string, nSSE, nWS, perProc, perSource int) (*loadProcs, error) {
	n := nSSE + nWS
	lp := &loadProcs{}
	if k := (n + perSource - 1) / perSource; k > 1 {
		for i := range k {
			lp.sources = append(lp.sources, fmt.Sprintf("127.0.0.%d", i+1))
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p := max(1, (n+perProc-1)/perProc)
	first := 0
	for i := range p {
		spec := loadSpec{URL: url, SSE: nSSE*(i+1)/p - nSSE*i/p, WS: nWS*(i+1)/p - nWS*i/p, Sources: lp.sources, First: first}
		first += spec.SSE + spec.WS
		js, _ := json.Marshal(spec)
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), loadEnv+"="+string(js))
		pr := &loadProc{cmd: cmd, stderr: &syncBuffer{}}
		cmd.Stderr = pr.stderr
		if pr.in, err = cmd.StdinPipe(); err == nil {
			var out io.ReadCloser
			if out, err = cmd.StdoutPipe(); err == nil {
				pr.out = bufio.NewReaderSize(out, 64<<10)
				err = cmd.Start()
			}
		}
		if err != nil {
			lp.close()
			return nil, err
		}
		lp.procs = append(lp.procs, pr)
	}
	// They all dial at once; wait for each to say ready.
	for i, pr := range lp.procs {
		if _, err := pr.read("ready"); err != nil {
			// Another process may have failed first, and this one for
			// that reason: say what each of them said.
			errs := []error{fmt.Errorf("load process %d of %d: %w", i+1, len(lp.procs), err)}
			cerr := lp.close()
			return nil, errors.Join(append(errs, cerr)...)
		}
	}
	return lp, nil
}

// read reads one line; with want set, it must be want.
func (p *loadProc) read(want string) (string, error) {
	line, err := p.out.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("load process: %w; it said:\n%s", err, p.stderr.tail())
	}
	line = strings.TrimSuffix(line, "\n")
	if want != "" && line != want {
		return "", fmt.Errorf("load process said %q, want %q", line, want)
	}
	return line, nil
}

func (p *loadProc) say(cmd string) error {
	if _, err := io.WriteString(p.in, cmd+"\n"); err != nil {
		return fmt.Errorf("load process: %w; it said:\n%s", err, p.stderr.tail())
	}
	return nil
}

// window makes every process forget what it has seen so far.
func (lp *loadProcs) window() error {
	for _, p := range lp.procs {
		if err := p.say("w"); err != nil {
			return err
		}
	}
	for _, p := range lp.procs {
		if _, err := p.read("ok"); err != nil {
			return err
		}
	}
	return nil
}

// report adds up what every process saw since the window began.
func (lp *loadProcs) report() (loadReport, error) {
	var sum loadReport
	for _, p := range lp.procs {
		if err := p.say("r"); err != nil {
			return sum, err
		}
	}
	for _, p := range lp.procs {
		line, err := p.read("")
		if err != nil {
			return sum, err
		}
		var r loadReport
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return sum, fmt.Errorf("load process report %.100q: %w", line, err)
		}
		sum.SSE, sum.WS = sum.SSE.merge(r.SSE), sum.WS.merge(r.WS)
		sum.CPU += r.CPU
	}
	return sum, nil
}

// close ends every process: it closes its connections and exits.
func (lp *loadProcs) close() error {
	var errs []error
	for i, p := range lp.procs {
		if p.say("q") == nil {
			p.read("bye")
		}
		p.in.Close()
		if err := p.cmd.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("load process %d of %d: %w; it said:\n%s", i+1, len(lp.procs), err, p.stderr.tail()))
		}
	}
	lp.procs = nil
	return errors.Join(errs...)
}

// syncBuffer keeps what a load process writes to its standard error.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail is the last 2 KiB written.
func (b *syncBuffer) tail() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	return s[max(0, len(s)-2048):]
}

// loadState is what a load process has seen of one transport.
//
// Readers record under the read lock, so that many of them can record at
// once; reset and counts take the write lock, so that a tick is either
// wholly before a window's start or wholly after it, and a report never
// holds a tick in one counter but not in another.
type loadState struct {
	mu                  sync.RWMutex
	hist                hist
	ticks, lost, closed atomic.Int64
}

// record counts one tick read with its delivery latency (if the tick's
// time could be read), and lost ticks missing before it.
func (s *loadState) record(lost int64, latency time.Duration, timed bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if lost > 0 {
		s.lost.Add(lost)
	}
	s.ticks.Add(1)
	if timed {
		s.hist.add(latency)
	}
}

func (s *loadState) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hist.reset()
	s.ticks.Store(0)
	s.lost.Store(0)
	s.closed.Store(0)
}

func (s *loadState) counts() loadCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return loadCounts{Hist: s.hist.snapshot(), Ticks: s.ticks.Load(), Lost: s.lost.Load(), Closed: s.closed.Load()}
}

// runLoadProcess is the load process; spec is loadEnv's value.
func runLoadProcess(spec string, stdin io.Reader, stdout io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "load process:", err)
		return 1
	}
	var sp loadSpec
	if err := json.Unmarshal([]byte(spec), &sp); err != nil {
		return fail(err)
	}
	if limit, err := compare.RaiseFileLimit(); err != nil || limit < uint64(sp.SSE+sp.WS+100) {
		return fail(fmt.Errorf("%d connections need %d open files, the limit is %d (%v)", sp.SSE+sp.WS, sp.SSE+sp.WS+100, limit, err))
	}
	var targets []*compare.Target
	for i := range max(1, len(sp.Sources)) {
		tg, err := compare.NewTarget(sp.URL)
		if err != nil {
			return fail(err)
		}
		if len(sp.Sources) > 0 {
			ip := net.ParseIP(sp.Sources[i])
			if ip == nil {
				return fail(fmt.Errorf("source address %q", sp.Sources[i]))
			}
			tg.Dialer.LocalAddr = &net.TCPAddr{IP: ip}
		}
		targets = append(targets, tg)
	}

	var (
		states  = map[compare.Transport]*loadState{compare.SSE: {}, compare.WS: {}}
		quit    atomic.Bool
		readers sync.WaitGroup
		mu      sync.Mutex
		conns   []*compare.RawConn
	)
	closeAll := func() {
		quit.Store(true)
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		readers.Wait()
	}
	read := func(c *compare.RawConn, st *loadState) {
		last := c.Handshake().Seq // the tick of the connect: not a live delivery
		for {
			m, err := c.Next(context.Background())
			if err != nil {
				if !quit.Load() {
					st.closed.Add(1)
				}
				return
			}
			if m.Kind != compare.MsgTick || m.Seq <= last {
				continue
			}
			now := time.Now()
			at, timed := tickTime(m.Data)
			st.record(m.Seq-last-1, now.Sub(at), timed)
			last = m.Seq
		}
	}

	// Dial with a few workers; the first error stops everything.
	type job struct {
		i int
		t compare.Transport
	}
	jobs := make(chan job)
	ctx, cancel := context.WithCancel(context.Background())
	var (
		dialers  sync.WaitGroup
		dialErr  error
		errOnce  sync.Once
		progress atomic.Int64
	)
	for range 8 {
		dialers.Go(func() {
			for j := range jobs {
				dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
				c, err := compare.DialRaw(dctx, targets[j.i%len(targets)], j.t, "")
				dcancel()
				if err != nil {
					errOnce.Do(func() {
						dialErr = fmt.Errorf("connection %d (%s, from %s) after %d open: %w",
							j.i, j.t.Name(), targets[j.i%len(targets)].Dialer.LocalAddr, progress.Load(), err)
						cancel()
					})
					continue
				}
				progress.Add(1)
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				readers.Go(func() { read(c, states[j.t]) })
			}
		})
	}
	for k := range sp.SSE + sp.WS {
		// SSE and WebSocket in turn, then the rest of the larger share.
		t := compare.SSE
		if m := min(sp.SSE, sp.WS); k < 2*m && k%2 == 1 || k >= 2*m && sp.WS > sp.SSE {
			t = compare.WS
		}
		select {
		case jobs <- job{i: sp.First + k, t: t}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	dialers.Wait()
	cancel()
	if dialErr != nil {
		closeAll()
		return fail(dialErr)
	}

	out := bufio.NewWriter(stdout)
	reply := func(s string) {
		out.WriteString(s + "\n")
		out.Flush()
	}
	reply("ready")
	cpu0, _ := cpuTime()
	in := bufio.NewScanner(stdin)
	for in.Scan() {
		switch in.Text() {
		case "w":
			for _, st := range states {
				st.reset()
			}
			cpu0, _ = cpuTime()
			reply("ok")
		case "r":
			cpu, _ := cpuTime()
			js, _ := json.Marshal(loadReport{SSE: states[compare.SSE].counts(), WS: states[compare.WS].counts(), CPU: cpu - cpu0})
			reply(string(js))
		case "q":
			closeAll()
			reply("bye")
			return 0
		default:
			closeAll()
			return fail(fmt.Errorf("bad command %q", in.Text()))
		}
	}
	closeAll()
	return 0
}

// tickTime reads the "time" of a tick's JSON payload.
func tickTime(data []byte) (time.Time, bool) {
	_, rest, ok := bytes.Cut(data, []byte(`"time":"`))
	if !ok {
		return time.Time{}, false
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, string(rest[:end]))
	return t, err == nil
}

// The load process holds its connections from the source addresses it is
// given, reads every tick and reports them; the histogram reads quantiles
// as bucket upper bounds. (A quick test: go test runs it, no -bench needed.)
func TestLoadProcess(t *testing.T) {
	cfg := quietConfig()
	cfg.Interval = 20 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &sourceListener{Listener: ln, seen: map[string]int{}}
	s := serveOn(t, cfg, rec)
	lp, err := startLoad(s.tg.Base.String(), 3, 5, 4, 3) // 2 processes, 3 source addresses
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := lp.close(); err != nil {
			t.Error(err)
		}
	}()
	if len(lp.procs) != 2 || len(lp.sources) != 3 {
		t.Fatalf("%d processes, sources %v; want 2 and 3", len(lp.procs), lp.sources)
	}
	if err := s.holds(3, 5, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	if len(rec.seen) != 3 {
		t.Errorf("connections came from %v, want 127.0.0.1 to 127.0.0.3", rec.seen)
	}
	rec.mu.Unlock()
	if err := lp.window(); err != nil {
		t.Fatal(err)
	}
	conns := map[compare.Transport]int64{compare.SSE: 3, compare.WS: 5}
	// Ask for reports until every connection has had five ticks or so.
	var rep loadReport
	for deadline := time.Now().Add(10 * time.Second); ; {
		if rep, err = lp.report(); err != nil {
			t.Fatal(err)
		}
		if rep.SSE.Ticks >= 5*conns[compare.SSE] && rep.WS.Ticks >= 5*conns[compare.WS] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %d SSE and %d WebSocket ticks, want %d and %d",
				rep.SSE.Ticks, rep.WS.Ticks, 5*conns[compare.SSE], 5*conns[compare.WS])
		}
		time.Sleep(cfg.Interval)
	}
	for _, tr := range compare.Transports {
		r, conns := rep.of(tr), conns[tr]
		// Every tick counted is in the histogram too (each has a time).
		if r.Ticks < 5*conns || r.Hist.N() != r.Ticks || r.Lost != 0 || r.Closed != 0 {
			t.Errorf("%s: %d ticks (histogram: %d) over %d connections, %d lost, %d closed", tr.Name(), r.Ticks, r.Hist.N(), conns, r.Lost, r.Closed)
		}
		if q := r.Hist.Quantile(0.5); q <= 0 || q > time.Second {
			t.Errorf("%s: delivery p50 %v", tr.Name(), q)
		}
	}

	var h hist
	for _, d := range []time.Duration{5 * time.Microsecond, 1500 * time.Microsecond, 1550 * time.Microsecond, 250 * time.Millisecond, time.Minute} {
		h.add(d)
	}
	c := h.snapshot()
	for q, want := range map[float64]time.Duration{0: 10 * time.Microsecond, 0.2: 10 * time.Microsecond, 0.4: 1600 * time.Microsecond,
		0.6: 1600 * time.Microsecond, 0.8: 251 * time.Millisecond, 1: time.Minute} {
		if got := c.Quantile(q); got != want {
			t.Errorf("quantile %v: %v, want %v", q, got, want)
		}
	}
	for i := range histBuckets - 1 {
		if up := histUpper(i); histBucket(up-time.Microsecond) != i || histBucket(up) != i+1 {
			t.Fatalf("bucket %d ends at %v, but holds %v in %d and %v in %d", i, up,
				up-time.Microsecond, histBucket(up-time.Microsecond), up, histBucket(up))
		}
	}
	if m := c.merge(c); m.N() != 10 || m.Quantile(0.5) != 1600*time.Microsecond || m.Max != time.Minute {
		t.Errorf("merged: %d samples, p50 %v, max %v", m.N(), m.Quantile(0.5), m.Max)
	}
}

// sourceListener counts accepted connections by source address.
type sourceListener struct {
	net.Listener
	mu   sync.Mutex
	seen map[string]int
}

func (l *sourceListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		l.mu.Lock()
		l.seen[host]++
		l.mu.Unlock()
	}
	return c, err
}
