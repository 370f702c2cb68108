package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ssevsws/ssevsws/compare/probe"
)

// pageMeasurement is what the page's Measure button (POST /measure) runs:
// every probe of ssevsws compare against a second, in-process server, with
// short probes and a small crowd so that it answers within seconds.
var pageMeasurement = probe.Options{Clients: 200, Duration: 500 * time.Millisecond}

// runCompare is `ssevsws compare`: it runs the probes of package compare/probe on
// both transports, against a server it starts in this process or against
// -url, and prints one side-by-side table, or the same as JSON with -json.
// The exit code is 0 when every probe ran, 1 when one failed, 2 for bad
// usage.
func runCompare(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if getenv(probe.SweepClientEnv) != "" {
		// This is -sweep's client process, started by a sweep in another
		// ssevsws: see probe.Sweep.
		if err := probe.RunSweepClient(os.Stdin, stdout); err != nil {
			fmt.Fprintln(stderr, "ssevsws compare: sweep client process:", err)
			return 1
		}
		return 0
	}
	fs := flag.NewFlagSet("ssevsws compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: ssevsws compare [flags]

Measures SSE and WebSocket the same way and prints them side by side:
connect time and handshake bytes, first tick, bytes per tick, idle memory
per connection, chat round trip, and resume after a dropped connection.

Without -url it starts a server in this process (tick 100ms, retry 250ms, no
chat rate limit); only then can it measure idle memory, which is seen from
inside the server's process. With -url it measures a running server; note
that it drops that server's connections (POST /drop) to time the resume,
every page's included, as the page's drop button does.

With -sweep it measures the cost curve instead: server CPU time per
delivered tick and RSS per idle connection, from 100 to 10,000 clients
(-sweep-clients), for each transport and for a raw write(2) floor, with the
clients in a second process; it prints a table (or -json) and draws the
chart as an SVG file (-svg). Linux only; 10,000 clients take a few minutes.

With -storm it restarts an in-process server under -storm-clients clients
of each transport, with and without jittered reconnects, and prints how
they come back: time until all resumed, peak accepts per second, failed
dials, lost and duplicated ticks.

Flags:
`)
		fs.PrintDefaults()
	}
	target := fs.String("url", "", "measure the running server at `URL` (http://host:port) instead of one in this process")
	clients := fs.Int("clients", 1000, "idle connections per transport for the memory probe (in-process only)")
	duration := fs.Duration("duration", 2*time.Second, "how long each probe runs on each transport")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of a table")
	token := fs.String("token", "", "drop `token` of the -url server, needed unless it is on loopback (default $SSEVSWS_DROP_TOKEN)")
	pace := fs.Duration("pace", 250*time.Millisecond, "with -url, the least time between two chat messages, to stay under the server's chat rate limit (5 per second by default)")
	insecure := fs.Bool("insecure", false, "with an https:// -url, accept any certificate (such as the self-signed one of ssevsws -tls)")
	sweep := fs.Bool("sweep", false, "measure the cost curve (CPU per tick, memory per connection) over -sweep-clients instead of the probes")
	sweepClients := fs.String("sweep-clients", "100,300,1000,3000,10000", "with -sweep, the client `counts` to measure, comma-separated")
	svg := fs.String("svg", defaultSweepSVG, "with -sweep, write the chart to this `file` (\"\": no chart)")
	storm := fs.Bool("storm", false, "restart a server under a crowd of clients, with and without jitter, instead of the probes")
	stormClients := fs.Int("storm-clients", 2000, "with -storm, clients per transport")
	stormJitter := fs.Duration("storm-jitter", probe.StormOptions{}.WithDefaults().Jitter, "with -storm, the spread of the SSE retry: in the runs with jitter")
	stormPause := fs.Duration("storm-pause", 0, "with -storm, how long no server listens between the old one's shutdown and the new one (a process restarting)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "ssevsws compare: "+format+" (see -h)\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	if *clients < 1 {
		return usage("-clients %d: must be at least 1", *clients)
	}
	if *duration <= 0 {
		return usage("-duration %v: must be positive", *duration)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *storm {
		for _, name := range []string{"url", "clients", "duration", "token", "pace", "insecure", "sweep", "sweep-clients", "svg"} {
			if set[name] {
				return usage("-%s does not go with -storm", name)
			}
		}
		if *stormClients < 1 || *stormJitter <= 0 || *stormPause < 0 {
			return usage("-storm-clients %d, -storm-jitter %v, -storm-pause %v: must be positive (the pause may be 0)", *stormClients, *stormJitter, *stormPause)
		}
		return runStorm(ctx, probe.StormOptions{Clients: *stormClients, Jitter: *stormJitter, Pause: *stormPause}, *asJSON, stdout, stderr)
	}
	for _, name := range []string{"storm-clients", "storm-jitter", "storm-pause"} {
		if set[name] {
			return usage("-%s needs -storm", name)
		}
	}
	if *sweep {
		for _, name := range []string{"url", "clients", "token", "pace", "insecure"} {
			if set[name] {
				return usage("-%s does not go with -sweep", name)
			}
		}
		counts, err := parseCounts(*sweepClients)
		if err != nil {
			return usage("-sweep-clients %q: %v", *sweepClients, err)
		}
		return runSweep(ctx, probe.SweepOptions{Clients: counts, Window: *duration}, *asJSON, *svg, stdout, stderr)
	}
	for _, name := range []string{"sweep-clients", "svg"} {
		if set[name] {
			return usage("-%s needs -sweep", name)
		}
	}
	opts := probe.Options{Clients: *clients, Duration: *duration}
	if *target != "" {
		u := *target
		if !strings.Contains(u, "://") {
			u = "http://" + u
		}
		tg, err := probe.NewTarget(u)
		if err != nil {
			return usage("-url: %v", err)
		}
		tg.DropToken = *token
		if tg.DropToken == "" {
			tg.DropToken = getenv("SSEVSWS_DROP_TOKEN")
		}
		if *insecure {
			tg.TLSConfig = &tls.Config{InsecureSkipVerify: true}
		}
		opts.Target = tg
		opts.ChatPace = *pace
		if *pace <= 0 {
			opts.ChatPace = -1 // none
		}
	}

	return measure(ctx, "", *asJSON, stdout, stderr, func(progress func(probe.Step)) (*probe.Report, error) {
		opts.Progress = progress
		return probe.Compare(ctx, opts)
	}, nil, printTable)
}

// measure runs one of compare's measurements (mode "", "-sweep" or
// "-storm") with its progress on stderr, hands the report to done (if not
// nil: the sweep writes its chart there), and prints it: JSON, or the
// table print makes. It returns the exit code.
func measure[R any](ctx context.Context, mode string, asJSON bool, stdout, stderr io.Writer,
	run func(progress func(probe.Step)) (R, error), done func(R) error, print func(io.Writer, R)) int {
	p := newProgress(stderr)
	rep, err := run(p.step)
	p.finish()
	if err == nil && done != nil {
		err = done(rep)
	}
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "ssevsws compare: interrupted")
		} else {
			fmt.Fprintf(stderr, "ssevsws compare%s: %v\n", strings.TrimSuffix(" "+mode, " "), err)
		}
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "ssevsws compare:", err)
			return 1
		}
		return 0
	}
	print(stdout, rep)
	return 0
}

// defaultSweepSVG is where -sweep draws its chart unless -svg says
// otherwise: a chart is the point of a sweep, so it is drawn unless asked
// not to be, in the current directory, under a name that says what it is.
const defaultSweepSVG = "ssevsws-cost.svg"

// runSweep is `ssevsws compare -sweep`: probe.Sweep, with this binary as
// its client process, then the table (or JSON) and the chart.
func runSweep(ctx context.Context, opts probe.SweepOptions, asJSON bool, svg string, stdout, stderr io.Writer) int {
	opts.ClientProcess = func() (*exec.Cmd, error) { return probe.SweepClientCommand("compare") }
	chart := func(rep *probe.SweepReport) error {
		if svg == "" {
			return nil
		}
		if err := writeSweepSVG(svg, rep); err != nil {
			return err
		}
		fmt.Fprintln(stderr, "ssevsws compare -sweep: chart written to", svg)
		return nil
	}
	return measure(ctx, "-sweep", asJSON, stdout, stderr, func(progress func(probe.Step)) (*probe.SweepReport, error) {
		opts.Progress = progress
		return probe.Sweep(ctx, opts)
	}, chart, printSweep)
}

// writeSweepSVG writes the chart to a file, which it removes again if the
// chart cannot be written whole.
func writeSweepSVG(path string, rep *probe.SweepReport) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = probe.WriteSweepSVG(f, rep)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// parseCounts reads -sweep-clients: positive counts, comma-separated.
func parseCounts(s string) ([]int, error) {
	var counts []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a count of clients", f)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// printSweep prints the sweep as one table: a row per count and transport,
// the server's CPU per tick beside its floor's and their ratio, then the
// memory per connection of each.
func printSweep(w io.Writer, rep *probe.SweepReport) {
	fmt.Fprintf(w, "ssevsws compare -sweep: in-process server, clients in a second process; %s %s/%s, %d CPUs; %s\n",
		rep.Go, rep.OS, rep.Arch, rep.CPUs, rep.Date.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "CPU timed for %s per count and transport, and again for its floor; %s in all\n\n", rep.Window, rep.Wall)
	cells := [][]string{{"clients", "transport", "CPU ns/tick", "floor ns/tick", "× floor", "RSS KiB/conn", "floor KiB/conn"}}
	for _, r := range rep.Rows {
		cells = append(cells, []string{strconv.Itoa(r.Clients), r.Transport.Name(),
			fmt.Sprintf("%.0f", r.CPU), fmt.Sprintf("%.0f", r.FloorCPU), fmt.Sprintf("%.2f×", r.XFloor),
			fmt.Sprintf("%.1f", r.RSS/1024), fmt.Sprintf("%.1f", r.FloorRSS/1024)})
	}
	writeNotedCells(w, cells, []string{
		"CPU ns/tick: the server process's CPU time (user + system) per tick per client, kernel writes included",
		"floor: a plain loop that write(2)s the same bytes to as many plain sockets, in the same process",
		"RSS KiB/conn: growth of the server process's RSS per idle connection, after GC",
	})
}

// writeCells prints a table: the first column to the left, the others to
// the right, so that digits line up.
func writeCells(w io.Writer, cells [][]string) {
	width := make([]int, len(cells[0]))
	for _, row := range cells {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, row := range cells {
		fmt.Fprintf(w, "%s%s", row[0], strings.Repeat(" ", width[0]-utf8.RuneCountInString(row[0])))
		for i := 1; i < len(row); i++ {
			fmt.Fprintf(w, "   %s%s", strings.Repeat(" ", width[i]-utf8.RuneCountInString(row[i])), row[i])
		}
		fmt.Fprintln(w)
	}
}

// printTable prints the report as one table: a row per measure, columns
// SSE, WebSocket and their ratio, then what the numbers mean.
func printTable(w io.Writer, rep *probe.Report) {
	fmt.Fprintf(w, "ssevsws compare: %s server, tick %dms; %s %s/%s, %d CPUs; %s\n",
		rep.Server, rep.IntervalMS, rep.Go, rep.OS, rep.Arch, rep.CPUs, rep.Date.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "each probe ran %s per transport", rep.Duration)
	if rep.Clients > 0 {
		fmt.Fprintf(w, "; %d idle connections per transport", rep.Clients)
	}
	fmt.Fprint(w, "\n\n")

	cells := [][]string{{"", "SSE", "WebSocket", "SSE ÷ WS"}}
	var notes []string
	for _, r := range rep.Rows {
		cells = append(cells, []string{r.Label, r.SSEText, r.WSText, r.RatioText})
		if r.Note != "" {
			notes = append(notes, r.Label+": "+r.Note)
		}
	}
	writeNotedCells(w, cells, append(notes, rep.Notes...))
}

// writeNotedCells writes a table, then a blank line and each note indented
// under it: how every mode of compare ends its output.
func writeNotedCells(w io.Writer, cells [][]string, notes []string) {
	writeCells(w, cells)
	fmt.Fprintln(w)
	for _, n := range notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
}

// progress shows how far Compare is: a bar redrawn in place on a terminal,
// one plain line per step otherwise (a log, a pipe, a CI job).
type progress struct {
	w   io.Writer
	tty bool

	mu      sync.Mutex
	cur     probe.Step
	started time.Time
	stop    chan struct{}
	done    chan struct{}
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, tty: isTerminal(w)}
	if p.tty {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.redraw()
	}
	return p
}

// isTerminal reports whether w is a character device, such as a terminal,
// that understands a carriage return.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *progress) step(s probe.Step) {
	p.mu.Lock()
	p.cur, p.started = s, time.Now()
	p.mu.Unlock()
	if !p.tty {
		fmt.Fprintf(p.w, "ssevsws compare: %d/%d %s (about %s)\n", s.N, s.Of, s.Name, s.Expected.Round(100*time.Millisecond))
	}
}

func (p *progress) redraw() {
	defer close(p.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			fmt.Fprint(p.w, "\r\033[K")
			return
		case <-t.C:
		}
		p.mu.Lock()
		s, started := p.cur, p.started
		p.mu.Unlock()
		if s.Of == 0 {
			continue
		}
		// Within a step, time elapsed over time expected, never quite done.
		within := 0.0
		if s.Expected > 0 {
			within = min(0.99, float64(time.Since(started))/float64(s.Expected))
		}
		frac := (float64(s.N-1) + within) / float64(s.Of)
		const width = 30
		full := int(frac * width)
		fmt.Fprintf(p.w, "\r\033[K[%s%s] %3.0f%%  %d/%d %s", strings.Repeat("#", full), strings.Repeat(".", width-full),
			100*frac, s.N, s.Of, s.Name)
	}
}

// finish removes the bar.
func (p *progress) finish() {
	if p.tty {
		close(p.stop)
		<-p.done
	}
}
