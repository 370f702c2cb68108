package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/ws"
)

// The sweep draws the cost curve: what one delivered tick costs the
// server's CPU, and what one idle connection costs its memory, from a
// hundred clients to ten thousand, for each transport and for the least a
// server could do with the same bytes (the floor).
//
// Why two processes: at ten thousand clients the client side, reading, is
// as busy as the server, and on a two-core machine a single process could
// not tell whose CPU time was whose; nor could it hold 10,000 server ends
// and 10,000 client ends within one process's file limit. So the server
// stays in this process, as Compare's does (compare.Server in process, its
// CPU time from getrusage and its RSS from /proc/self, the same way Idle
// reads it), and every client lives in a child process that does nothing
// but dial, read and count bytes (RunSweepClient). The parent drives the
// child one line at a time over its standard input and output, so that a
// round of ticks is timed from the publish to the moment the child says
// that every client has all of its bytes.
//
// Why the floor: a write(2) on loopback also runs the receiver's TCP path,
// so its cost depends on the machine. The floor is a plain loop in this
// process that write(2)s the same pre-encoded tick to N plain sockets (for
// SSE the pre-chunked event after a minimal HTTP header, for WebSocket the
// unmasked frame after a real handshake), measured the same way right after
// the server; read the server's figure as a multiple of it (x-floor).
//
// Sides of a point are measured one after the other, never at once: at
// 10,000 clients the server's and the floor's sockets together would pass
// this process's file limit.

// DefaultSweepClients are the client counts Sweep measures unless told
// otherwise: roughly evenly spaced on a log scale.
var DefaultSweepClients = []int{100, 300, 1000, 3000, 10000}

// ErrSweepUnsupported is Sweep's answer where it cannot read a process's
// memory (RSS from /proc) or CPU time: anywhere but Linux.
var ErrSweepUnsupported = errors.New("probe: the sweep reads the server's CPU time and RSS from the kernel (/proc, getrusage): Linux only")

// SweepOptions tune Sweep.
type SweepOptions struct {
	// Clients are the client counts, in the order measured. nil:
	// DefaultSweepClients.
	Clients []int
	// Window is how long CPU time is measured at each count, on each
	// transport and again for its floor. 0 means 2s.
	Window time.Duration
	// MinRounds is the least number of ticks timed in a window, however
	// long they take. 0 means 5.
	MinRounds int
	// ClientProcess makes the command that runs the clients: a process
	// that calls RunSweepClient on its standard input and output (see
	// SweepClientCommand). Sweep sets its Stdin and Stdout and starts it.
	ClientProcess func() (*exec.Cmd, error)
	// Progress, if set, is called as each step starts.
	Progress func(Step)
}

// SweepReport is the result of Sweep. Its JSON is what
// `ssevsws compare -sweep -json` prints.
type SweepReport struct {
	Date    time.Time  `json:"date"`
	Go      string     `json:"go"`
	OS      string     `json:"os"`
	Arch    string     `json:"arch"`
	CPUs    int        `json:"cpus"`
	Window  string     `json:"window"`  // CPU measuring time per transport, count and side
	Clients []int      `json:"clients"` // the counts, as measured
	Rows    []SweepRow `json:"rows"`    // one per count and transport, in that order
	Wall    string     `json:"wall"`    // how long the whole sweep took
}

// SweepRow is one transport at one client count: the server and its floor.
type SweepRow struct {
	Transport compare.Transport `json:"transport"`
	Clients   int               `json:"clients"`
	TickBytes int               `json:"tick_bytes"` // one tick on the wire, framing included; the floor writes the same

	CPU      float64 `json:"cpu_ns_per_event"`       // server CPU time (user + system) per tick per client
	FloorCPU float64 `json:"floor_cpu_ns_per_event"` // the floor's, for the same bytes
	XFloor   float64 `json:"x_floor"`                // CPU ÷ FloorCPU

	RSS      float64 `json:"rss_bytes_per_conn"`       // server RSS growth per idle connection
	FloorRSS float64 `json:"floor_rss_bytes_per_conn"` // the floor's: a socket and its Go descriptor

	Rounds      int `json:"rounds"`       // ticks timed on the server
	FloorRounds int `json:"floor_rounds"` // ticks timed on the floor
}

// SweepSeries names the lines of the chart and their order, for the legend
// and for tests.
var SweepSeries = []string{"SSE", "WebSocket", "floor, SSE bytes", "floor, WS bytes"}

// Sweep measures the cost curve (see the comment at the top of this file):
// for each count in opts.Clients and each transport, the server's CPU time
// per delivered tick and RSS per idle connection, and the floor's.
func Sweep(ctx context.Context, opts SweepOptions) (*SweepReport, error) {
	if runtime.GOOS != "linux" || readRSS() < 0 {
		return nil, ErrSweepUnsupported
	}
	if _, ok := cpuTime(); !ok {
		return nil, ErrSweepUnsupported
	}
	if opts.Clients == nil {
		opts.Clients = DefaultSweepClients
	}
	if len(opts.Clients) == 0 || slices.Min(opts.Clients) < 1 {
		return nil, fmt.Errorf("probe: sweep client counts %v: want at least one, each at least 1", opts.Clients)
	}
	if opts.Window <= 0 {
		opts.Window = 2 * time.Second
	}
	if opts.MinRounds <= 0 {
		opts.MinRounds = 5
	}
	if opts.ClientProcess == nil {
		return nil, errors.New("probe: Sweep needs SweepOptions.ClientProcess")
	}
	most := slices.Max(opts.Clients)
	if limit, err := RaiseFileLimit(); err != nil {
		return nil, fmt.Errorf("probe: cannot raise the open file limit for %d clients: %w", most, err)
	} else if limit < uint64(most+sweepSpareFDs) {
		return nil, fmt.Errorf("probe: %d clients need %d open files in the server's process (and as many in the clients'), the limit is %d",
			most, most+sweepSpareFDs, limit)
	}

	start := time.Now()
	rep := &SweepReport{
		Date: start.UTC(), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		CPUs: runtime.NumCPU(), Window: opts.Window.String(), Clients: slices.Clone(opts.Clients),
	}
	sw, err := startSweeper(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer sw.stop(true)

	// A few connections of each kind first, not counted: the first ones a
	// process serves allocate what every later one reuses (pools, the
	// runtime's first spans), which would be charged to the first count.
	for _, t := range compare.Transports {
		for _, floor := range []bool{false, true} {
			if _, err := sw.side(ctx, t, min(10, slices.Min(opts.Clients)), floor, 0, 1); err != nil {
				return nil, fmt.Errorf("probe: sweep, warming up %s: %w", t.Name(), err)
			}
		}
	}
	step := 0
	for _, n := range opts.Clients {
		for _, t := range compare.Transports {
			row := SweepRow{Transport: t, Clients: n}
			for _, floor := range []bool{false, true} {
				step++
				if opts.Progress != nil {
					name := fmt.Sprintf("%s, %d clients", t.Name(), n)
					if floor {
						name = fmt.Sprintf("floor (%s bytes), %d clients", t.Name(), n)
					}
					opts.Progress(Step{N: step, Of: 4 * len(opts.Clients), Name: name,
						Expected: opts.Window + time.Duration(n)*300*time.Microsecond + time.Second})
				}
				m, err := sw.side(ctx, t, n, floor, opts.Window, opts.MinRounds)
				if err != nil {
					side := t.Name()
					if floor {
						side = "floor for " + side
					}
					return nil, fmt.Errorf("probe: sweep, %s, %d clients: %w", side, n, err)
				}
				row.TickBytes = m.tickBytes
				if floor {
					row.FloorCPU, row.FloorRSS, row.FloorRounds = m.cpu, m.rss, m.rounds
				} else {
					row.CPU, row.RSS, row.Rounds = m.cpu, m.rss, m.rounds
				}
			}
			if row.FloorCPU > 0 {
				row.XFloor = row.CPU / row.FloorCPU
			}
			rep.Rows = append(rep.Rows, row)
		}
	}
	if err := sw.stop(false); err != nil {
		return nil, err
	}
	rep.Wall = time.Since(start).Round(100 * time.Millisecond).String()
	return rep, nil
}

// sweepSpareFDs is what the server's process needs besides one descriptor
// per client: listeners, pipes, the binary's own files.
const sweepSpareFDs = 200

// SweepConfig is the server Sweep measures: the defaults, except a clock
// so slow (a day) that it never ticks during a sweep (the sweep publishes
// every tick itself, with PublishNext), no keep-alives that would put
// other bytes on the wire, and no chat limit.
func SweepConfig() compare.Config {
	return compare.Config{
		Interval:     24 * time.Hour,
		Heartbeat:    -1,
		PingInterval: 24 * time.Hour,
		ChatRate:     -1,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// sweeper holds what lives for a whole sweep: the server, the floor and
// the client process.
type sweeper struct {
	srv    *compare.Server
	tg     *Target
	floor  *floorServer
	client *sweepClient
	served chan error
	done   bool
}

func startSweeper(ctx context.Context, opts SweepOptions) (*sweeper, error) {
	srv, err := compare.New(SweepConfig())
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Shutdown(context.Background())
		return nil, err
	}
	sw := &sweeper{srv: srv, served: make(chan error, 1)}
	go func() { sw.served <- srv.Serve(ln) }()
	sw.tg, _ = NewTarget("http://" + ln.Addr().String()) // a listener's address always parses
	if sw.floor, err = newFloorServer(); err == nil {
		sw.client, err = startSweepClient(ctx, opts.ClientProcess)
	}
	if err != nil {
		sw.stop(true)
		return nil, err
	}
	return sw, nil
}

// stop ends the client process (kill: at once, without waiting for it to
// finish what it does), the floor and the server; the first call reports
// the client process's failure, later ones nothing.
func (sw *sweeper) stop(kill bool) error {
	if sw.done {
		return nil
	}
	sw.done = true
	var err error
	if sw.client != nil {
		err = sw.client.close(kill)
	}
	if sw.floor != nil {
		sw.floor.close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sw.srv.Shutdown(ctx)
	<-sw.served
	sw.tg.Close()
	return err
}

// sideResult is one side (server or floor) of one point.
type sideResult struct {
	cpu, rss  float64
	rounds    int
	tickBytes int
}

// side measures the server (or, with floor, the floor) with n clients of
// transport t: RSS growth while the child opens them, then CPU time per
// tick over at least window and minRounds ticks, then it closes them and
// waits until the server has let go of every one.
func (sw *sweeper) side(ctx context.Context, t compare.Transport, n int, floor bool, window time.Duration, minRounds int) (sideResult, error) {
	var res sideResult
	kind, addr := "server", sw.tg.Base.Host
	if floor {
		kind, addr = "floor", sw.floor.addr()
	}
	before := TakeMemSnapshot()
	if err := sw.client.do(ctx, "ok", "dial", kind, string(t), strconv.Itoa(n), addr); err != nil {
		return res, err
	}
	if floor {
		if err := sw.floor.wait(ctx, n); err != nil {
			return res, err
		}
	} else if err := waitOpen(ctx, sw.srv, t, int64(n), 10*time.Second); err != nil {
		return res, fmt.Errorf("the server does not hold all %d connections: %w", n, err)
	}
	after := TakeMemSnapshot()
	res.rss = PerConnection(before, after, n).RSS

	var cpu time.Duration
	var sent int64 // bytes each client must have read, warm-up included
	round := func() (time.Duration, error) {
		tick := sw.srv.Clock().Tick(sw.srv.Stats().Seq + 1)
		frame := WireTick(t, tick)
		res.tickBytes = len(frame)
		sent += int64(len(frame))
		if err := sw.client.do(ctx, "go", "expect", strconv.Itoa(len(frame))); err != nil {
			return 0, err
		}
		c0, _ := cpuTime()
		if floor {
			sw.floor.publish(frame)
		} else {
			sw.srv.PublishNext()
		}
		if err := sw.client.reply(ctx, "done"); err != nil {
			return 0, err
		}
		c1, _ := cpuTime()
		return c1 - c0, nil
	}
	// Two rounds to warm up, not counted: the first writes on new
	// connections may allocate what later ones reuse.
	for range 2 {
		if _, err := round(); err != nil {
			return res, err
		}
	}
	for start := time.Now(); res.rounds < minRounds || time.Since(start) < window; res.rounds++ {
		d, err := round()
		if err != nil {
			return res, err
		}
		cpu += d
	}
	res.cpu = float64(cpu) / float64(res.rounds) / float64(n)

	total, err := sw.client.closeAll(ctx)
	if err != nil {
		return res, err
	}
	if want := sent * int64(n); total != want {
		return res, fmt.Errorf("the clients read %d bytes, want exactly %d: something else was on the wire", total, want)
	}
	if floor {
		sw.floor.closeAll()
	} else if err := waitOpen(ctx, sw.srv, t, 0, 10*time.Second); err != nil {
		return res, fmt.Errorf("the server does not let go of its connections: %w", err)
	}
	return res, nil
}

// WireTick is tick as transport t puts it on an HTTP/1.1 connection: for
// SSE one chunk of the chunked body, for WebSocket one unmasked text frame
// (a tick is always shorter than 126 bytes, so its header is 2 bytes).
// The floors (here and in the benchmarks) write exactly these bytes, and
// the clients count them.
func WireTick(t compare.Transport, tick compare.Tick) []byte {
	if t == compare.SSE {
		event := compare.AppendSSETick(nil, tick.Seq, tick.Time)
		b := strconv.AppendInt(nil, int64(len(event)), 16)
		b = append(b, "\r\n"...)
		b = append(b, event...)
		return append(b, "\r\n"...)
	}
	msg := ws.AppendTick(nil, tick.Seq, tick.Time)
	return append([]byte{0x81, byte(len(msg))}, msg...)
}
