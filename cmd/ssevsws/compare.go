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

	p := newProgress(stderr)
	opts.Progress = p.step
	rep, err := probe.Compare(ctx, opts)
	p.finish()
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "ssevsws compare: interrupted")
		} else {
			fmt.Fprintln(stderr, "ssevsws compare:", err)
		}
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "ssevsws compare:", err)
			return 1
		}
		return 0
	}
	printTable(stdout, rep)
	return 0
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

	// Labels to the left, numbers to the right, so that digits line up.
	cells := [][4]string{{"", "SSE", "WebSocket", "SSE ÷ WS"}}
	for _, r := range rep.Rows {
		cells = append(cells, [4]string{r.Label, r.SSEText, r.WSText, r.RatioText})
	}
	var width [4]int
	for _, row := range cells {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, row := range cells {
		fmt.Fprintf(w, "%s%s", row[0], strings.Repeat(" ", width[0]-utf8.RuneCountInString(row[0])))
		for i := 1; i < 4; i++ {
			fmt.Fprintf(w, "   %s%s", strings.Repeat(" ", width[i]-utf8.RuneCountInString(row[i])), row[i])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	for _, r := range rep.Rows {
		if r.Note != "" {
			fmt.Fprintf(w, "  %s: %s\n", r.Label, r.Note)
		}
	}
	for _, n := range rep.Notes {
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
