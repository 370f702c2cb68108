package benchmarks

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// serverEnv, when set, makes the test binary a server process (see
// TestMain): the real server, or the raw floor, as its serverSpec (JSON)
// says. BenchmarkSoak starts several when one process's file limit cannot
// hold all its connections. They need nothing from each other: a tick's seq
// is a function of wall time, so every process publishes the same ticks at
// the same moments without a broker.
const serverEnv = "SSEVSWS_BENCH_SERVER"

type serverSpec struct {
	Interval time.Duration `json:"interval_ns"`
	Floor    bool          `json:"floor"` // the raw floor instead of the real server
}

// serverUsage is what a server process reports of itself on "u".
type serverUsage struct {
	SSE         int64         `json:"sse"` // open connections
	WS          int64         `json:"ws"`
	CPU         time.Duration `json:"cpu_ns"` // the process's CPU time so far
	SlowDropped int64         `json:"slow_dropped"`
	// Warnings the server logged since it started, by message (and
	// reason): why it dropped clients, if it did (warnCounter).
	Warnings map[string]int64 `json:"warnings,omitempty"`
}

func (u serverUsage) add(o serverUsage) serverUsage {
	w := addCounts(maps.Clone(u.Warnings), o.Warnings)
	return serverUsage{SSE: u.SSE + o.SSE, WS: u.WS + o.WS, CPU: u.CPU + o.CPU, SlowDropped: u.SlowDropped + o.SlowDropped, Warnings: w}
}

// warnCounter is a slog.Handler that counts a server's warnings and errors
// by message and reason ("dropping slow client (write timed out)", "clock
// loop woke late; ..."), and forgets the rest: a benchmark's server logs
// nothing, yet can say why it let clients go.
type warnCounter struct {
	mu sync.Mutex
	n  map[string]int64
}

// countWarnings is a logger for a benchmark's server, and what it counts.
func countWarnings() (*slog.Logger, *warnCounter) {
	w := &warnCounter{n: map[string]int64{}}
	return slog.New(w), w
}

func (w *warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (w *warnCounter) Handle(_ context.Context, r slog.Record) error {
	key := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "reason" {
			key += " (" + a.Value.String() + ")"
		}
		return true
	})
	w.mu.Lock()
	w.n[key]++
	w.mu.Unlock()
	return nil
}

func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnCounter) WithGroup(string) slog.Handler      { return w }

func (w *warnCounter) counts() map[string]int64 {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.n) == 0 {
		return nil
	}
	return maps.Clone(w.n)
}

// fleet is the server side of a load phase (runPhase): the real server or
// the floor, in this process or in server processes. Every figure is the
// sum over its processes.
type fleet interface {
	urls() []string // one root URL per process
	usage() (serverUsage, error)
	mem() (probe.MemSnapshot, error) // after garbage collection
	close() error
}

// localServer is the real server in this process; warns, if not nil,
// counts what it logged.
type localServer struct {
	*server
	warns *warnCounter
}

func (l localServer) urls() []string { return []string{l.URL("http", "/")} }
func (l localServer) mem() (probe.MemSnapshot, error) {
	return probe.TakeMemSnapshot(), nil
}
func (l localServer) close() error { return l.Stop() }
func (l localServer) usage() (serverUsage, error) {
	cpu, _ := cpuTime()
	st := l.Stats()
	return serverUsage{SSE: st.SSE.Open, WS: st.WS.Open, CPU: cpu, SlowDropped: st.SSE.SlowDropped + st.WS.SlowDropped, Warnings: l.warns.counts()}, nil
}

// localFloor is the raw floor in this process.
type localFloor struct{ *rawFloor }

func (l localFloor) urls() []string { return []string{l.URL()} }
func (l localFloor) mem() (probe.MemSnapshot, error) {
	return probe.TakeMemSnapshot(), nil
}
func (l localFloor) close() error { l.rawFloor.close(); return nil }
func (l localFloor) usage() (serverUsage, error) {
	cpu, _ := cpuTime()
	sse, ws := l.open()
	return serverUsage{SSE: sse, WS: ws, CPU: cpu}, nil
}

// serverProcs is k server processes, driven one line at a time:
//
//	← "url URL"       serving
//	→ "u"             usage
//	← a serverUsage as JSON
//	→ "m"             memory, after garbage collection
//	← a probe.MemSnapshot as JSON
//	→ "q"             stop
//	← "bye"
type serverProcs struct {
	procs []*loadProc
	roots []string
}

func startServerProcs(k int, spec serverSpec) (*serverProcs, error) {
	js, _ := json.Marshal(spec)
	sp := &serverProcs{}
	for range k {
		pr, err := startHelper("server process", serverEnv+"="+string(js))
		if err != nil {
			sp.close()
			return nil, err
		}
		sp.procs = append(sp.procs, pr)
	}
	for _, pr := range sp.procs {
		line, err := pr.read("")
		if url, ok := strings.CutPrefix(line, "url "); err == nil && ok {
			sp.roots = append(sp.roots, url)
			continue
		} else if err == nil {
			err = fmt.Errorf("server process said %q, want its URL", line)
		}
		return nil, errors.Join(err, sp.close())
	}
	return sp, nil
}

func (sp *serverProcs) urls() []string { return sp.roots }

// ask sends cmd to every process and decodes each one's JSON answer.
func ask[T any](sp *serverProcs, cmd string) ([]T, error) {
	for _, p := range sp.procs {
		if err := p.say(cmd); err != nil {
			return nil, err
		}
	}
	var out []T
	for _, p := range sp.procs {
		line, err := p.read("")
		if err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			return nil, fmt.Errorf("server process said %.100q: %w", line, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func (sp *serverProcs) usage() (serverUsage, error) {
	us, err := ask[serverUsage](sp, "u")
	var sum serverUsage
	for _, u := range us {
		sum = sum.add(u)
	}
	return sum, err
}

func (sp *serverProcs) mem() (probe.MemSnapshot, error) {
	ms, err := ask[probe.MemSnapshot](sp, "m")
	var sum probe.MemSnapshot
	for _, m := range ms {
		sum.Heap += m.Heap
		sum.Stack += m.Stack
		sum.Goroutines += m.Goroutines
		sum.RSS += m.RSS
	}
	return sum, err
}

func (sp *serverProcs) close() error {
	var errs []error
	for i, p := range sp.procs {
		if p.say("q") == nil {
			p.read("bye")
		}
		p.in.Close()
		if err := p.cmd.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("server process %d of %d: %w; it said:\n%s", i+1, len(sp.procs), err, p.stderr.Tail(2048)))
		}
	}
	sp.procs = nil
	return errors.Join(errs...)
}

// runServerProcess is a server process; spec is serverEnv's value.
func runServerProcess(spec string, stdin io.Reader, stdout io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "server process:", err)
		return 1
	}
	var sp serverSpec
	if err := json.Unmarshal([]byte(spec), &sp); err != nil {
		return fail(err)
	}
	if _, err := probe.RaiseFileLimit(); err != nil {
		return fail(err)
	}
	var fl fleet
	if sp.Floor {
		f, err := startFloor(sp.Interval)
		if err != nil {
			return fail(err)
		}
		fl = localFloor{f}
	} else {
		// The defaults, as `ssevsws serve` runs, but quiet.
		log, warns := countWarnings()
		s, err := comparetest.Run(compare.Config{Interval: sp.Interval, Logger: log}, "127.0.0.1:0")
		if err != nil {
			return fail(err)
		}
		fl = localServer{&server{Server: s}, warns}
	}
	out := bufio.NewWriter(stdout)
	reply := func(s string) {
		out.WriteString(s + "\n")
		out.Flush()
	}
	reply("url " + fl.urls()[0])
	in := bufio.NewScanner(stdin)
	for in.Scan() {
		var v any
		var err error
		switch in.Text() {
		case "u":
			v, err = fl.usage()
		case "m":
			v, err = fl.mem()
		case "q":
			err := fl.close()
			reply("bye")
			if err != nil {
				return fail(err)
			}
			return 0
		default:
			fl.close()
			return fail(fmt.Errorf("bad command %q", in.Text()))
		}
		if err != nil {
			fl.close()
			return fail(err)
		}
		js, _ := json.Marshal(v)
		reply(string(js))
	}
	fl.close()
	return 0
}
