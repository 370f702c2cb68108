package benchmarks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe"
)

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

// closeReasons counts why connections ended under a load process, since it
// started (a window does not reset them), by closeReason.
type closeReasons struct {
	mu  sync.Mutex
	why map[string]int64
}

func (c *closeReasons) add(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.why == nil {
		c.why = map[string]int64{}
	}
	r := closeReason(err)
	if _, ok := c.why[r]; !ok && len(c.why) >= 8 {
		r = "other"
	}
	c.why[r]++
}

func (c *closeReasons) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.why)
}

// closeReason is err without the addresses that make every connection's
// error unique: "EOF", "connection reset by peer", "probe: ...".
func closeReason(err error) string {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF: the server closed"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, "->"); i >= 0 { // "read tcp A->B: read: why"
		if j := strings.Index(msg[i:], ": "); j >= 0 {
			msg = msg[i+j+2:]
		}
	}
	return msg[:min(len(msg), 120)]
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
	if limit, err := probe.RaiseFileLimit(); err != nil || limit < uint64(sp.SSE+sp.WS+100) {
		return fail(fmt.Errorf("%d connections need %d open files, the limit is %d (%v)", sp.SSE+sp.WS, sp.SSE+sp.WS+100, limit, err))
	}
	var targets []*probe.Target
	for i := range max(1, len(sp.Sources)) {
		tg, err := probe.NewTarget(sp.URL)
		if err != nil {
			return fail(err)
		}
		if len(sp.Sources) > 0 {
			ip := net.ParseIP(sp.Sources[i])
			if ip == nil {
				return fail(fmt.Errorf("source address %q", sp.Sources[i]))
			}
			tg.Dialer.LocalAddr = &net.TCPAddr{IP: ip}
			bindNoPort(&tg.Dialer)
		}
		targets = append(targets, tg)
	}

	var (
		states  = map[compare.Transport]*loadState{compare.SSE: {}, compare.WS: {}}
		quit    atomic.Bool
		readers sync.WaitGroup
		mu      sync.Mutex
		conns   []*probe.RawConn
		grid    atomic.Pointer[tickGrid] // set by "w SEQ T ...": when each tick was due
		why     closeReasons
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
	read := func(c *probe.RawConn, st *loadState) {
		last := c.Handshake().Seq // the tick of the connect: not a live delivery
		for {
			m, err := c.Next(context.Background())
			if err != nil {
				if !quit.Load() {
					st.closed.Add(1)
					why.add(err)
				}
				return
			}
			if m.Kind != probe.MsgTick || m.Seq <= last {
				continue
			}
			now := time.Now()
			at, timed := tickTime(m.Data)
			if g := grid.Load(); g != nil {
				at, timed = g.due(m.Seq), true
			}
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
				c, err := probe.DialRaw(dctx, targets[j.i%len(targets)], j.t, "")
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
		switch cmd := in.Text(); {
		case cmd == "w" || strings.HasPrefix(cmd, "w "):
			if cmd != "w" { // else the grid, if any, stays
				g := &tickGrid{}
				var t0, step int64
				if _, err := fmt.Sscanf(cmd, "w %d %d %d %d %d", &g.seq, &t0, &step, &g.run, &g.skip); err != nil || step <= 0 || g.run <= 0 || g.skip < 0 {
					closeAll()
					return fail(fmt.Errorf("bad command %q", cmd))
				}
				g.at, g.step = time.Unix(0, t0), time.Duration(step)
				grid.Store(g)
			}
			for _, st := range states {
				st.reset()
			}
			cpu0, _ = cpuTime()
			reply("ok")
		case cmd == "r":
			cpu, _ := cpuTime()
			js, _ := json.Marshal(loadReport{SSE: states[compare.SSE].counts(), WS: states[compare.WS].counts(), CPU: cpu - cpu0, Why: why.snapshot()})
			reply(string(js))
		case cmd == "q":
			closeAll()
			reply("bye")
			return 0
		default:
			closeAll()
			return fail(fmt.Errorf("bad command %q", cmd))
		}
	}
	closeAll()
	return 0
}

// tickGrid says when each tick was due, for a server whose ticks are
// published by the benchmark rather than by its clock (BenchmarkSteady):
// from tick seq on, which was due at at, ticks come one per step in runs of
// run, and skip steps pass between two runs (another server's turn), so
// tick seq+j was due at at + step·(j/run·(run+skip) + j%run), whatever time
// its payload says.
type tickGrid struct {
	seq       int64
	at        time.Time
	step      time.Duration
	run, skip int64
}

func (g *tickGrid) due(seq int64) time.Time {
	j := seq - g.seq
	slot := j/g.run*(g.run+g.skip) + j%g.run
	return g.at.Add(time.Duration(slot) * g.step)
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
