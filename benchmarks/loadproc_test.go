package benchmarks

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
)

// loadEnv, when set, makes the test binary a load process instead of a test
// run: it holds the connections its value describes (a loadSpec as JSON)
// and records when each tick arrives (TestMain in main_test.go sends such a
// process to runLoadProcess, in loadclient_test.go).
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
	// Why connections ended under the clients since the processes
	// started, whatever the window: "EOF: the server closed" and so on.
	Why map[string]int64 `json:"why,omitempty"`
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
//	→ "w"              start a window: forget what was seen so far (the
//	← "ok"             schedule below, if one was given, stays)
//	→ "w SEQ T STEP RUN SKIP"  the same, and from now on tick SEQ was due
//	← "ok"             at T (Unix ns), the next ones one per STEP (ns) in
//	                   runs of RUN, SKIP steps apart (tickGrid), whatever
//	                   their payloads say
//	→ "r"              report
//	← a loadReport as one line of JSON
//	→ "q"              close every connection and quit
//	← "bye"
type loadProcs struct {
	procs   []*loadProc
	sources []string
}

type loadProc struct {
	what   string // "load process", in errors
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *comparetest.LogBuffer
}

// startLoad starts enough load processes for nSSE + nWS connections to url,
// at most perProc each, dialling from enough loopback source addresses for
// at most perSource connections each, and waits until they are all open.
func startLoad(url string, nSSE, nWS, perProc, perSource int) (*loadProcs, error) {
	var sources []string
	if k := (nSSE + nWS + perSource - 1) / perSource; k > 1 {
		sources = loopbackSources(0, k)
	}
	return startLoadFrom(url, nSSE, nWS, perProc, sources)
}

// loopbackSources is k source addresses from 127.0.0.(first+1) on.
func loopbackSources(first, k int) []string {
	var s []string
	for i := range k {
		s = append(s, fmt.Sprintf("127.0.0.%d", first+i+1))
	}
	return s
}

// startLoadFrom is startLoad dialling from the given source addresses in
// turn (none: the system picks).
func startLoadFrom(url string, nSSE, nWS, perProc int, sources []string) (*loadProcs, error) {
	n := nSSE + nWS
	lp := &loadProcs{sources: sources}
	p := max(1, (n+perProc-1)/perProc)
	first := 0
	for i := range p {
		spec := loadSpec{URL: url, SSE: nSSE*(i+1)/p - nSSE*i/p, WS: nWS*(i+1)/p - nWS*i/p, Sources: lp.sources, First: first}
		first += spec.SSE + spec.WS
		js, _ := json.Marshal(spec)
		pr, err := startHelper("load process", loadEnv+"="+string(js))
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

// startHelper starts this test binary again as a helper process, with env
// (NAME=value) telling TestMain which one; what names it in errors.
func startHelper(what, env string) (*loadProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), env)
	pr := &loadProc{what: what, cmd: cmd, stderr: &comparetest.LogBuffer{}}
	cmd.Stderr = pr.stderr
	if pr.in, err = cmd.StdinPipe(); err == nil {
		var out io.ReadCloser
		if out, err = cmd.StdoutPipe(); err == nil {
			pr.out = bufio.NewReaderSize(out, 64<<10)
			err = cmd.Start()
		}
	}
	if err != nil {
		return nil, err
	}
	return pr, nil
}

// read reads one line; with want set, it must be want.
func (p *loadProc) read(want string) (string, error) {
	line, err := p.out.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("%s: %w; it said:\n%s", p.what, err, p.stderr.Tail(2048))
	}
	line = strings.TrimSuffix(line, "\n")
	if want != "" && line != want {
		return "", fmt.Errorf("%s said %q, want %q", p.what, line, want)
	}
	return line, nil
}

func (p *loadProc) say(cmd string) error {
	if _, err := io.WriteString(p.in, cmd+"\n"); err != nil {
		return fmt.Errorf("%s: %w; it said:\n%s", p.what, err, p.stderr.Tail(2048))
	}
	return nil
}

// window makes every process forget what it has seen so far.
func (lp *loadProcs) window() error { return lp.command("w") }

// gridWindow is window, and says when each tick from seq on was due: the
// first at at, then one every step, in runs of run ticks with skip steps
// between two runs (tickGrid). That is the delivery latency of ticks the
// benchmark publishes itself (BenchmarkSteady), whose payload's time is
// not when they were due.
func (lp *loadProcs) gridWindow(seq int64, at time.Time, step time.Duration, run, skip int) error {
	return lp.command(fmt.Sprintf("w %d %d %d %d %d", seq, at.UnixNano(), int64(step), run, skip))
}

func (lp *loadProcs) command(cmd string) error {
	for _, p := range lp.procs {
		if err := p.say(cmd); err != nil {
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
		sum.Why = addCounts(sum.Why, r.Why)
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
			errs = append(errs, fmt.Errorf("load process %d of %d: %w; it said:\n%s", i+1, len(lp.procs), err, p.stderr.Tail(2048)))
		}
	}
	lp.procs = nil
	return errors.Join(errs...)
}

// The load process holds its connections from the source addresses it is
// given, reads every tick and reports them. (A quick test: go test runs it,
// no -bench needed.)
func TestLoadProcess(t *testing.T) {
	cfg := quietConfig()
	cfg.Interval = 20 * time.Millisecond
	cfg.QueueSize = 500 // 10 s of ticks: a clock loop late on a busy machine does not resync
	rec := &sourceListener{seen: map[string]int{}}
	s := startServerOn(t, cfg, func(ln net.Listener) net.Listener { rec.Listener = ln; return rec })
	lp, err := startLoad(s.URL("http", "/"), 3, 5, 4, 3) // 2 processes, 3 source addresses
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

// addCounts adds b's counts to a's, and returns a (made if nil and b is
// not empty).
func addCounts(a, b map[string]int64) map[string]int64 {
	for k, v := range b {
		if a == nil {
			a = map[string]int64{}
		}
		a[k] += v
	}
	return a
}

// A tick's due time follows the schedule BenchmarkSteady gives the load
// processes: runs of ticks one step apart, and skipped steps between runs.
func TestTickGrid(t *testing.T) {
	at := time.Unix(1000, 0)
	g := &tickGrid{seq: 50, at: at, step: 100 * time.Millisecond, run: 5, skip: 7}
	for _, c := range []struct {
		seq  int64
		slot int64
	}{{50, 0}, {51, 1}, {54, 4}, {55, 12}, {59, 16}, {60, 24}} {
		if got, want := g.due(c.seq), at.Add(time.Duration(c.slot)*100*time.Millisecond); !got.Equal(want) {
			t.Errorf("tick %d due at %v, want %v (slot %d)", c.seq, got, want, c.slot)
		}
	}
}
