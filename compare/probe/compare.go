package probe

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"time"

	"github.com/ssevsws/ssevsws/compare"
)

// Options tune Compare.
type Options struct {
	// Target is a running server to measure. nil: Compare starts one in
	// this process (InProcessConfig), which also lets it measure idle
	// memory, something only the server's own process can see.
	Target *Target
	// Clients is how many idle connections Idle opens per transport
	// (in-process only). 0 means 1000.
	Clients int
	// Duration bounds each timed probe on each transport. 0 means 2s.
	Duration time.Duration
	// ChatPace is the least time between two chat messages against
	// Target: 0 means 250ms (a server's default limit is 5 per second),
	// negative none. The in-process server has no limit: no pace.
	ChatPace time.Duration
	// Reconnect tunes the reconnecting clients.
	Reconnect ReconnectOptions
	// Progress, if set, is called as each step starts.
	Progress func(Step)
}

// Step is one probe on one transport, as Compare starts it.
type Step struct {
	N, Of    int           // this is step N (1-based) of Of
	Name     string        // "connect SSE"
	Expected time.Duration // roughly how long it will take
}

// InProcessConfig is the server Compare starts when it has no Target: the
// defaults, except a 100ms tick so that the reconnect probe gets many
// samples, a 250ms retry: (the page's WebSocket backoff starts at 250ms
// too), no jitter on the retry: after /drop (the reconnect probe's row shows
// the protocol's wait, not a spread; the storm probe measures the spread)
// and no chat rate limit so that round trips can follow each other.
func InProcessConfig() compare.Config {
	return compare.Config{
		Interval:    100 * time.Millisecond,
		Retry:       250 * time.Millisecond,
		RetryJitter: -1,
		ChatRate:    -1,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// Report is the result of Compare: the side-by-side table (Rows) and every
// probe's full result (Results). Its JSON is what `ssevsws compare -json`
// prints and what POST /measure answers, so scripts may rely on its fields.
type Report struct {
	Date       time.Time                      `json:"date"`
	Go         string                         `json:"go"`
	OS         string                         `json:"os"`
	Arch       string                         `json:"arch"`
	CPUs       int                            `json:"cpus"`
	Server     string                         `json:"server"` // "in-process" or the target's URL
	IntervalMS int64                          `json:"interval_ms"`
	Clients    int                            `json:"clients"`
	Duration   string                         `json:"duration"`
	Rows       []Row                          `json:"rows"`
	Results    map[compare.Transport]*Results `json:"results"`
	Notes      []string                       `json:"notes,omitempty"`

	// Instance and Broker are what the server's /stats says of them: its
	// name, and its broker when it routes SSE chat between instances.
	Instance string                  `json:"instance,omitempty"`
	Broker   *compare.BrokerSnapshot `json:"broker,omitempty"`
}

// Row is one line of the table. A value is nil where it could not be
// measured (idle memory of a server in another process).
type Row struct {
	Key   string   `json:"key"`   // stable name for scripts: "connect_p50"
	Label string   `json:"label"` // what the table shows: "connect p50"
	Unit  string   `json:"unit"`  // "ms", "µs", "B", "KiB", "" for counts
	SSE   *float64 `json:"sse"`
	WS    *float64 `json:"ws"`
	Ratio *float64 `json:"ratio"` // SSE ÷ WebSocket
	Note  string   `json:"note,omitempty"`

	// The same values as text, by format and formatRatio, so that the CLI
	// and the page print one number one way.
	SSEText   string `json:"sse_text"`
	WSText    string `json:"ws_text"`
	RatioText string `json:"ratio_text"`
}

// Results holds every probe's result for one transport.
type Results struct {
	Connect   ConnectResult   `json:"connect"`
	RoundTrip RoundTripResult `json:"round_trip"`
	Reconnect ReconnectResult `json:"reconnect"`
	Idle      *IdleResult     `json:"idle,omitempty"` // in-process only
}

// Measure is Compare with these options, in the shape of
// compare.Config.Measure: that is how a server's POST /measure runs the
// probes without the server package importing this one.
func (o Options) Measure(ctx context.Context) (any, error) {
	return Compare(ctx, o)
}

// Compare runs every probe on both transports, one after the other, and
// builds the report.
func Compare(ctx context.Context, opts Options) (*Report, error) {
	if opts.Clients <= 0 {
		opts.Clients = 1000
	}
	if opts.Duration <= 0 {
		opts.Duration = 2 * time.Second
	}
	rep := &Report{
		Date: time.Now().UTC(), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		CPUs: runtime.NumCPU(), Duration: opts.Duration.String(),
		Results: map[compare.Transport]*Results{compare.SSE: {}, compare.WS: {}},
	}

	tg := opts.Target
	var srv *compare.Server
	if tg == nil {
		var err error
		var stop func()
		srv, tg, stop, err = startInProcess(opts.Clients)
		if err != nil {
			return nil, err
		}
		defer stop()
		rep.Server = "in-process"
		rep.Clients = opts.Clients
		opts.ChatPace = 0
	} else {
		rep.Server = tg.Base.String()
		if opts.ChatPace == 0 {
			opts.ChatPace = 250 * time.Millisecond
		}
		opts.ChatPace = max(opts.ChatPace, 0)
		rep.Notes = append(rep.Notes, "idle memory needs the server's own process: run without -url to measure it")
	}
	defer tg.Close()
	st, err := tg.Stats(ctx)
	if err != nil {
		return nil, err
	}
	rep.IntervalMS = st.IntervalMS
	rep.Instance, rep.Broker = st.Instance, st.Broker
	if note := brokerNote(st); note != "" {
		rep.Notes = append(rep.Notes, note)
	}

	budget := Budget{Duration: opts.Duration, Min: 5}
	type step struct {
		name     string
		expected time.Duration
		run      func(t compare.Transport, r *Results) error
	}
	steps := []step{
		{"connect", opts.Duration, func(t compare.Transport, r *Results) (err error) {
			r.Connect, err = Connect(ctx, tg, t, budget)
			return err
		}},
		{"round trip", opts.Duration, func(t compare.Transport, r *Results) (err error) {
			r.RoundTrip, err = RoundTrip(ctx, tg, t, budget, opts.ChatPace)
			return err
		}},
		{"reconnect", opts.Duration + time.Duration(st.IntervalMS)*time.Millisecond*2, func(t compare.Transport, r *Results) (err error) {
			r.Reconnect, err = Reconnect(ctx, tg, t, Budget{Duration: opts.Duration, Min: 3}, opts.Reconnect)
			return err
		}},
	}
	if srv != nil {
		steps = append(steps, step{"idle", time.Duration(opts.Clients)*300*time.Microsecond + 2*time.Second,
			func(t compare.Transport, r *Results) error {
				res, err := Idle(ctx, srv, tg, t, opts.Clients)
				r.Idle = &res
				return err
			}})
	}
	n := 0
	for _, s := range steps {
		for _, t := range compare.Transports {
			n++
			if opts.Progress != nil {
				opts.Progress(Step{N: n, Of: 2 * len(steps), Name: s.name + " " + t.Name(), Expected: s.expected})
			}
			if err := s.run(t, rep.Results[t]); err != nil {
				return nil, fmt.Errorf("%s %s: %w", s.name, t.Name(), err)
			}
		}
	}
	rep.Rows = rows(rep.Results, srv != nil)
	if opts.ChatPace > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("round trips were %v apart, to stay under the server's chat rate limit: "+
			"an isolated message also pays for waking an idle server", opts.ChatPace))
	}
	return rep, nil
}

// brokerNote says what the broker adds to the numbers when the server
// under test has one: its round trips here are local (every probe talks to
// the one URL), but an SSE chat that a balancer hands to another instance
// takes a hop through the broker (benchmarks' BenchmarkChatHop measures
// it), and a WebSocket chat never does.
func brokerNote(st compare.StatsSnapshot) string {
	b := st.Broker
	if b == nil {
		return ""
	}
	state := "up"
	if !b.Up {
		state = "DOWN"
	}
	return fmt.Sprintf("instance %s routes SSE chat through a broker (%s; %d chats routed so far): the SSE round trip above "+
		"is local; a POST /chat that lands on another instance adds a broker hop (go test -bench=ChatHop ./benchmarks/), "+
		"a WebSocket chat never leaves its instance", st.Instance, state, b.Routed.Delivered)
}

// startInProcess starts InProcessConfig on a loopback port. It is not
// comparetest.Run, which does the same for tests, because this is product
// code: comparetest imports package testing.
func startInProcess(clients int) (*compare.Server, *Target, func(), error) {
	if _, err := RaiseFileLimit(); err != nil && clients > 400 {
		return nil, nil, nil, fmt.Errorf("probe: cannot raise the open file limit for %d connections: %w", clients, err)
	}
	srv, err := compare.New(InProcessConfig())
	if err != nil {
		return nil, nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Shutdown(context.Background())
		return nil, nil, nil, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	tg, err := NewTarget("http://" + ln.Addr().String())
	if err != nil {
		panic(err) // cannot happen: the address is a listener's
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-served // http.ErrServerClosed, or an accept error nobody could act on now
	}
	return srv, tg, stop, nil
}

// rows builds the table from the results.
func rows(res map[compare.Transport]*Results, idle bool) []Row {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	type def struct {
		key, label, unit, note string
		v                      func(r *Results) (float64, bool)
	}
	always := func(f func(r *Results) float64) func(r *Results) (float64, bool) {
		return func(r *Results) (float64, bool) { return f(r), true }
	}
	idleV := func(f func(p PerConn) float64) func(r *Results) (float64, bool) {
		return func(r *Results) (float64, bool) {
			if r.Idle == nil {
				return 0, false
			}
			v := f(r.Idle.PerConn)
			return v, v >= 0
		}
	}
	defs := []def{
		{"connect_p50", "connect p50", "ms", "dial to response head (200 / 101)", always(func(r *Results) float64 { return ms(r.Connect.Head.P50) })},
		{"connect_p99", "connect p99", "ms", "", always(func(r *Results) float64 { return ms(r.Connect.Head.P99) })},
		{"handshake_bytes", "handshake bytes", "B", "request + response head, on the wire", always(func(r *Results) float64 { return float64(r.Connect.Bytes.Bytes()) })},
		{"first_tick_p50", "first tick latency p50", "ms", "dial to first tick", always(func(r *Results) float64 { return ms(r.Connect.FirstTick.P50) })},
		{"tick_wire_bytes", "wire bytes per tick", "B", "SSE: chunk framing + event; WS: 2-byte frame header + JSON", always(func(r *Results) float64 { return float64(r.Connect.Bytes.Tick) })},
		{"idle_rss", "idle memory per connection (RSS)", "KiB", "server process, after GC", idleV(func(p PerConn) float64 {
			if p.RSS < 0 {
				return -1
			}
			return p.RSS / 1024
		})},
		{"idle_heap", "idle heap + stacks per connection", "KiB", "", idleV(func(p PerConn) float64 { return (p.Heap + p.Stack) / 1024 })},
		{"idle_goroutines", "goroutines per connection", "", "", idleV(func(p PerConn) float64 { return p.Goroutines })},
		{"round_trip_p50", "round trip p50", "µs", "chat up, echo down", always(func(r *Results) float64 { return us(r.RoundTrip.Time.P50) })},
		{"round_trip_p99", "round trip p99", "µs", "", always(func(r *Results) float64 { return us(r.RoundTrip.Time.P99) })},
		{"round_trip_bytes", "round trip bytes", "B", "up + down; SSE: POST /chat + 202 + echo", always(func(r *Results) float64 { return float64(r.RoundTrip.Up + r.RoundTrip.Down) })},
		{"reconnect_wait_p50", "reconnect wait p50", "ms", "SSE: server's retry:; WS: client's backoff", always(func(r *Results) float64 { return ms(r.Reconnect.Wait.P50) })},
		{"resume_p50", "resume time p50", "ms", "connection lost to first resumed tick", always(func(r *Results) float64 { return ms(r.Reconnect.Resume.P50) })},
		{"lost_ticks", "lost ticks", "", "across all drops; must be 0", always(func(r *Results) float64 { return float64(r.Reconnect.Lost) })},
	}
	var out []Row
	for _, d := range defs {
		if !idle && d.key == "idle_heap" || !idle && d.key == "idle_goroutines" {
			continue
		}
		row := Row{Key: d.key, Label: d.label, Unit: d.unit, Note: d.note}
		if v, ok := d.v(res[compare.SSE]); ok {
			row.SSE = &v
		}
		if v, ok := d.v(res[compare.WS]); ok {
			row.WS = &v
		}
		if row.SSE != nil && row.WS != nil && *row.WS != 0 {
			r := *row.SSE / *row.WS
			row.Ratio = &r
		}
		if !idle && d.key == "idle_rss" {
			row.Note = "n/a: needs the in-process server"
		}
		row.SSEText, row.WSText, row.RatioText = format(row.SSE, row.Unit), format(row.WS, row.Unit), formatRatio(row.Ratio)
		out = append(out, row)
	}
	return out
}
