package benchmarks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
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
		}
		targets = append(targets, tg)
	}

	var (
		states  = map[compare.Transport]*loadState{compare.SSE: {}, compare.WS: {}}
		quit    atomic.Bool
		readers sync.WaitGroup
		mu      sync.Mutex
		conns   []*probe.RawConn
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
				}
				return
			}
			if m.Kind != probe.MsgTick || m.Seq <= last {
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
