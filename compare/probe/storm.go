package probe

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/ssevsws/ssevsws/compare"
)

// StormOptions tune Storm and StormRun.
type StormOptions struct {
	// Clients is how many clients of each transport are connected when the
	// server restarts. 0 means 2000.
	Clients int
	// Jitter is the server's RetryJitter in the SSE runs with jitter: each
	// stream the shutdown ends gets retry: ShutdownRetry plus a random part
	// of up to this. 0 means compare's default (1s).
	Jitter time.Duration
	// ShutdownRetry is the retry: every SSE client gets at the shutdown,
	// before the jitter. 0 means compare's default (250ms).
	ShutdownRetry time.Duration
	// WSBackoff is the WebSocket client's first wait after a lost
	// connection (ws.Client.MinBackoff, doubling after each failure). 0
	// means 250ms, what the page uses.
	WSBackoff time.Duration
	// Interval is the server's tick. 0 means 100ms: enough ticks missed
	// during the restart to show that they are replayed.
	Interval time.Duration
	// Pause is how long the address stays closed after the old server's
	// Shutdown has returned, before the new server listens: a process
	// exiting and its successor starting. 0: at once. The longer, the
	// more redials find no server (failed dials).
	Pause time.Duration
	// Timeout bounds the wait for every client to connect, and again for
	// every client to resume. 0 means 60s.
	Timeout time.Duration
	// Progress, if set, is called as each run starts.
	Progress func(Step)
}

// WithDefaults returns o with every zero field set to its default.
func (o StormOptions) WithDefaults() StormOptions {
	d := compare.DefaultConfig()
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	if o.Clients <= 0 {
		o.Clients = 2000
	}
	set(&o.Jitter, d.RetryJitter)
	set(&o.ShutdownRetry, d.ShutdownRetry)
	set(&o.WSBackoff, 250*time.Millisecond)
	set(&o.Interval, 100*time.Millisecond)
	set(&o.Timeout, 60*time.Second)
	return o
}

// StormCase is one run of the storm: a transport, with or without jitter.
type StormCase struct {
	Transport compare.Transport `json:"transport"`
	// Jitter: for SSE, the server's RetryJitter (StormOptions.Jitter) or
	// none; for WebSocket, ws.Client's own jittered backoff, or that same
	// backoff waited in full (ws.Client always jitters; the probe holds
	// each redial until the unjittered wait has passed).
	Jitter bool `json:"jitter"`
}

// Name is how tables and benchmarks call the case: "SSE, jitter off".
func (c StormCase) Name() string {
	return c.Transport.Name() + ", jitter " + map[bool]string{false: "off", true: "on"}[c.Jitter]
}

// StormCases are the four runs of Storm, in the table's order.
var StormCases = []StormCase{{compare.SSE, false}, {compare.SSE, true}, {compare.WS, false}, {compare.WS, true}}

// StormResult is one restart with its clients of one transport.
type StormResult struct {
	StormCase
	Clients int `json:"clients"`
	// FirstWait is what each client waits after its connection ends, before
	// it redials, when nothing fails: SSE the retry: the shutdown sent, WS
	// its backoff; Spread is the random part of it (0 without jitter), so
	// that the clients come back over [FirstWait-Spread, FirstWait].
	FirstWait time.Duration `json:"first_wait_ns"`
	Spread    time.Duration `json:"spread_ns"`
	// Shutdown is how long the old server's Shutdown took; Down is from
	// its start until the new server listened on the same address.
	Shutdown time.Duration `json:"shutdown_ns"`
	Down     time.Duration `json:"down_ns"`
	// Resume is, per client, from the start of the shutdown until its
	// first tick on a new connection; Resume.Max is when the last client
	// was back.
	Resume Summary `json:"resume"`
	// PeakAccepts is the new server's busiest 100 ms of accepted
	// connections, scaled to per second; Accepts is every 100 ms from the
	// start of the shutdown until the last client was back.
	PeakAccepts float64 `json:"peak_accepts_per_s"`
	Accepts     []int   `json:"accepts_per_100ms"`
	// FailedDials are the redials refused while no server listened
	// (dial errors seen by the clients' OnError); Errors is every OnError
	// call from the start of the shutdown, one per client for the
	// connection the shutdown closed included.
	FailedDials int64 `json:"failed_dials"`
	Errors      int64 `json:"errors"`
	// Lost and Duplicated are ticks never received, or received twice, by
	// any client over the whole run (must both be 0).
	Lost       int64 `json:"lost_ticks"`
	Duplicated int64 `json:"duplicated_ticks"`
}

// acceptBucket is the width of the accepts-per-second histogram: short
// enough to see a storm's spike, long enough to hold more than a handful.
const acceptBucket = 100 * time.Millisecond

// StormRun connects opts.Clients clients of c.Transport to a server in this
// process, waits until every one is ticking, then restarts the server as an
// operator would: Shutdown (SSE streams end with retry:, WebSockets with
// 1001), then a new compare.Server listening on the same address. It
// measures how the crowd comes back: how long until every client has a
// tick on a new connection, how fast the new server had to accept, how
// many redials found no server, and whether any tick was lost or repeated
// (the new server replays what the crowd missed, from its wall-time clock).
func StormRun(ctx context.Context, c StormCase, opts StormOptions) (StormResult, error) {
	opts = opts.WithDefaults()
	res := StormResult{StormCase: c, Clients: opts.Clients}
	if _, err := RaiseFileLimit(); err != nil && opts.Clients > 200 {
		return res, fmt.Errorf("probe: storm: cannot raise the open file limit for %d connections: %w", opts.Clients, err)
	}
	cfg := compare.Config{
		Interval:      opts.Interval,
		Retry:         opts.ShutdownRetry,
		ShutdownRetry: opts.ShutdownRetry,
		RetryJitter:   -1,
		ChatRate:      -1,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	res.FirstWait = opts.ShutdownRetry
	switch {
	case c.Transport == compare.SSE && c.Jitter:
		cfg.RetryJitter = opts.Jitter
		res.FirstWait += opts.Jitter
		res.Spread = opts.Jitter
	case c.Transport == compare.WS:
		res.FirstWait = opts.WSBackoff
		if c.Jitter {
			res.Spread = opts.WSBackoff / 2
		}
	}

	old, err := startStormServer(cfg, "127.0.0.1:0", 0)
	if err != nil {
		return res, err
	}
	addr := old.ln.Addr().String()
	base := stormURLs{sse: "http://" + addr + "/sse", ws: "ws://" + addr + "/ws"}
	f, err := newStormFleet(ctx, base, c.Transport, opts.Clients, !c.Jitter, opts.WSBackoff, opts.Timeout)
	if err != nil {
		old.stop()
		return res, err
	}
	servers := []*stormServer{old}
	defer func() {
		f.close()
		for _, s := range servers {
			s.stop()
		}
	}()
	clock := old.srv.Clock()
	// Every client live, on a tick published after they all connected.
	live := clock.SeqAt(time.Now()) + 1
	if err := f.waitAll(ctx, opts.Timeout, func(c *stormClient) bool { return c.lastSeq >= live }); err != nil {
		return res, fmt.Errorf("probe: storm: %s clients live: %w", c.Transport.Name(), err)
	}

	f.markRestart()
	start := time.Now()
	old.stop()
	res.Shutdown = time.Since(start)
	if err := sleep(ctx, opts.Pause); err != nil {
		return res, err
	}
	neu, err := startStormServer(cfg, addr, 5*time.Second)
	if err != nil {
		return res, fmt.Errorf("probe: storm: the new server: %w", err)
	}
	servers = append(servers, neu)
	res.Down = time.Since(start)
	if err := f.waitAll(ctx, opts.Timeout, func(c *stormClient) bool { return !c.resumedAt.IsZero() }); err != nil {
		return res, fmt.Errorf("probe: storm: %s clients resuming: %w", c.Transport.Name(), err)
	}
	// One live tick more for everyone shows that the replayed ticks and
	// the live ones meet without a hole.
	next := clock.SeqAt(time.Now()) + 1
	if err := f.waitAll(ctx, opts.Timeout, func(c *stormClient) bool { return c.lastSeq >= next }); err != nil {
		return res, fmt.Errorf("probe: storm: %s clients after resuming: %w", c.Transport.Name(), err)
	}

	var resumes []time.Duration
	res.Lost, res.Duplicated, resumes = f.seen(start)
	res.Resume = Summarize(resumes)
	res.Errors, res.FailedDials = f.errors.Load(), f.failedDials.Load()
	res.Accepts = buckets(neu.ln.times(), start, res.Resume.Max)
	if len(res.Accepts) > 0 {
		res.PeakAccepts = float64(slices.Max(res.Accepts)) * float64(time.Second/acceptBucket)
	}
	return res, nil
}

// buckets counts the times in each acceptBucket from start to end.
func buckets(times []time.Time, start time.Time, end time.Duration) []int {
	out := make([]int, end/acceptBucket+1)
	for _, at := range times {
		if i := int(at.Sub(start) / acceptBucket); i >= 0 && i < len(out) {
			out[i]++
		}
	}
	return out
}

// stormServer is one life of the storm's server.
type stormServer struct {
	srv    *compare.Server
	ln     *acceptLog
	served chan error
	once   sync.Once
}

// startStormServer serves cfg on addr. A restarted server may find its
// address not free yet for a moment: it tries again for up to retryFor.
func startStormServer(cfg compare.Config, addr string, retryFor time.Duration) (*stormServer, error) {
	srv, err := compare.New(cfg)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(retryFor)
	ln, err := net.Listen("tcp", addr)
	for err != nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		ln, err = net.Listen("tcp", addr)
	}
	if err != nil {
		srv.Shutdown(context.Background())
		return nil, err
	}
	s := &stormServer{srv: srv, ln: &acceptLog{Listener: ln}, served: make(chan error, 1)}
	go func() { s.served <- srv.Serve(s.ln) }()
	return s, nil
}

// stop shuts the server down (once) and waits until it no longer serves.
// Its error is not the storm's: connections still open at the deadline are
// cut, which is what a restart does.
func (s *stormServer) stop() {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.srv.Shutdown(ctx)
		<-s.served
	})
}

// acceptLog is a listener that notes when it accepted each connection: the
// storm as the server's accept loop sees it, before any HTTP.
type acceptLog struct {
	net.Listener
	mu sync.Mutex
	at []time.Time
}

func (l *acceptLog) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		now := time.Now()
		l.mu.Lock()
		l.at = append(l.at, now)
		l.mu.Unlock()
	}
	return c, err
}

func (l *acceptLog) times() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.at)
}
