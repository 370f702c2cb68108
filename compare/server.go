package compare

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssevsws/ssevsws/fanout"
)

// Config is everything the server can be told. The zero value of each field
// means its default; DefaultConfig spells them out.
type Config struct {
	Interval  time.Duration // time between ticks; a whole number of milliseconds
	Heartbeat time.Duration // SSE keep-alive comment after this much silence; negative turns it off
	Retry     time.Duration // the SSE retry field: how long browsers wait before reconnecting
	Replay    time.Duration // how far back a returning client gets missed ticks; at least 60s

	// Origins are the extra origins (besides the page's own) allowed to use
	// /sse, /chat, /stats and /ws, as browsers send them:
	// "http://localhost:3000".
	Origins []string

	// DropToken authorises POST /drop from addresses other than loopback.
	// Empty: New makes a random one (see Server.DropToken).
	DropToken string

	MaxConns      int // open SSE and WebSocket connections in all; 0: no cap
	MaxConnsPerIP int // open SSE and WebSocket connections per client IP; 0: no cap

	ReadLimit     int64         // largest WebSocket message from a client, bytes
	ChatBodyLimit int64         // largest POST /chat body, bytes
	QueueSize     int           // per-client queue of ticks (and of echoes) not yet written
	WriteTimeout  time.Duration // one write to one client; past it the client is dropped
	HeaderTimeout time.Duration // a client must send its request headers within this (slowloris)
	PingInterval  time.Duration // WebSocket keep-alive ping
	PongTimeout   time.Duration // a WebSocket client that does not answer a ping within this is gone
	ChatRate      float64       // chat messages per second per connection; negative: unlimited
	ChatBurst     int           // chat messages allowed at once
	ShutdownRetry time.Duration // the retry field SSE clients get at shutdown: "come back soon"

	// RetryJitter spreads reconnections: an SSE stream that the server
	// ends (shutdown, /drop) gets a retry field of its own, ShutdownRetry
	// (or Retry, after /drop) plus a random part of up to RetryJitter, so
	// that thousands of EventSources do not all come back in the same
	// millisecond. Negative turns it off.
	RetryJitter time.Duration

	// Measure runs the measurement behind POST /measure and returns what
	// the page shows, encoded as JSON. The server only guards it (access,
	// one at a time, cut by shutdown); the binary wires in the measurement
	// client (compare/probe), which this package does not import. nil:
	// POST /measure answers 501.
	Measure func(ctx context.Context) (any, error)

	// Instance names this server in both transports' hellos, in /stats and
	// in the answers of POST /chat, so that several behind one address can
	// be told apart. Empty: nothing names it. (The binary and comparetest
	// default it to the listen address.)
	Instance string

	// Router carries SSE chats to the instance that holds the stream when
	// it is not this one (route.go); the binary wires in compare/broker.
	// nil: one instance, a chat for a stream it does not hold is a 404.
	Router Router
	// RouteTimeout bounds a routed chat: past it POST /chat answers 503.
	RouteTimeout time.Duration

	Logger *slog.Logger // nil: slog.Default()
}

// DefaultConfig returns the defaults that New fills in for zero fields.
func DefaultConfig() Config {
	return Config{
		Interval:      time.Second,
		Heartbeat:     15 * time.Second,
		Retry:         2 * time.Second,
		Replay:        5 * time.Minute,
		ReadLimit:     4 << 10,
		ChatBodyLimit: 4 << 10,
		QueueSize:     64,
		WriteTimeout:  10 * time.Second,
		HeaderTimeout: 10 * time.Second,
		PingInterval:  20 * time.Second,
		PongTimeout:   10 * time.Second,
		ChatRate:      5,
		ChatBurst:     10,
		ShutdownRetry: 250 * time.Millisecond,
		RetryJitter:   time.Second,
		RouteTimeout:  DefaultRouteTimeout,
	}
}

// Check reports what New would refuse in c, without starting anything: a
// program can refuse a bad configuration before it takes a port or starts
// a broker.
func (c Config) Check() error {
	_, err := c.withDefaults()
	return err
}

// MinReplay is the shortest replay window New accepts: a minute covers a
// server restart and a browser's reconnect with room to spare.
const MinReplay = 60 * time.Second

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	setDuration := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setDuration(&c.Interval, d.Interval)
	setDuration(&c.Heartbeat, d.Heartbeat)
	setDuration(&c.Retry, d.Retry)
	setDuration(&c.Replay, d.Replay)
	setDuration(&c.WriteTimeout, d.WriteTimeout)
	setDuration(&c.HeaderTimeout, d.HeaderTimeout)
	setDuration(&c.PingInterval, d.PingInterval)
	setDuration(&c.PongTimeout, d.PongTimeout)
	setDuration(&c.ShutdownRetry, d.ShutdownRetry)
	setDuration(&c.RetryJitter, d.RetryJitter)
	if c.RetryJitter < 0 {
		c.RetryJitter = 0 // off
	}
	setDuration(&c.RouteTimeout, d.RouteTimeout)
	if c.ReadLimit == 0 {
		c.ReadLimit = d.ReadLimit
	}
	if c.ChatBodyLimit == 0 {
		c.ChatBodyLimit = d.ChatBodyLimit
	}
	if c.QueueSize == 0 {
		c.QueueSize = d.QueueSize
	}
	if c.ChatRate == 0 {
		c.ChatRate = d.ChatRate
	}
	if c.ChatBurst == 0 {
		c.ChatBurst = d.ChatBurst
	}
	if c.Heartbeat < 0 {
		c.Heartbeat = 0 // off
	}
	if c.ChatRate < 0 {
		c.ChatRate = 0 // unlimited
	}

	var errs []error
	if c.Interval < time.Millisecond || c.Interval%time.Millisecond != 0 {
		errs = append(errs, fmt.Errorf("interval %v: must be a whole number of milliseconds, at least 1ms", c.Interval))
	}
	if c.Replay < MinReplay {
		errs = append(errs, fmt.Errorf("replay %v: must be at least %v", c.Replay, MinReplay))
	}
	if c.RouteTimeout < 0 {
		errs = append(errs, fmt.Errorf("route timeout %v: must be positive", c.RouteTimeout))
	}
	if c.Retry < time.Millisecond {
		errs = append(errs, fmt.Errorf("retry %v: must be at least 1ms", c.Retry))
	}
	for _, v := range []struct {
		name string
		n    int64
	}{{"read limit", c.ReadLimit}, {"chat body limit", c.ChatBodyLimit}, {"queue size", int64(c.QueueSize)}, {"chat burst", int64(c.ChatBurst)}} {
		if v.n < 1 {
			errs = append(errs, fmt.Errorf("%s %d: must be positive", v.name, v.n))
		}
	}
	if c.MaxConns < 0 || c.MaxConnsPerIP < 0 {
		errs = append(errs, fmt.Errorf("connection caps %d and %d: must not be negative (0: no cap)", c.MaxConns, c.MaxConnsPerIP))
	}
	for _, o := range c.Origins {
		if err := checkOrigin(o); err != nil {
			errs = append(errs, err)
		}
	}
	return c, errors.Join(errs...)
}

// checkOrigin accepts what a browser sends as Origin: scheme://host[:port],
// nothing more.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.User != nil || strings.ContainsAny(u.Host, "*?[") {
		return fmt.Errorf("origin %q: want scheme://host[:port], as a browser sends it (e.g. http://localhost:3000)", o)
	}
	return nil
}

// Server is the demo: one clock, both transports, one http.Handler.
type Server struct {
	cfg   Config
	log   *slog.Logger
	clock *Clock
	stats Stats
	hub   *hub
	limit *connLimit
	mux   http.Handler

	measuring atomic.Bool // a POST /measure is running

	stopClock chan struct{}
	clockDone chan struct{}
	inFlight  inFlight // requests being served, WebSockets included
	hijacked  hijacked // connections taken over (WebSocket, SSE on the direct path), which http.Server forgets
	engine    *fanout.Engine

	mu           sync.Mutex
	http         *http.Server // set by Serve
	shuttingDown bool         // set by Shutdown; with http, under mu
	shutOnce     sync.Once
}

// New checks cfg and starts the clock. Call Shutdown to stop it.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.DropToken == "" {
		cfg.DropToken = rand.Text()
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		clock:     NewClock(cfg.Interval, cfg.Replay),
		stopClock: make(chan struct{}),
		clockDone: make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.engine = fanout.New(fanout.Config{WriteTimeout: cfg.WriteTimeout, MaxQueue: cfg.QueueSize})
	s.hub = newHub(s.clock, &s.stats, &s.cfg, s.log, s.engine)
	s.limit = &connLimit{max: cfg.MaxConns, maxPerIP: cfg.MaxConnsPerIP}
	s.mux = s.routes()
	go func() {
		defer close(s.clockDone)
		s.hub.run(s.stopClock)
	}()
	return s, nil
}

// Config returns the configuration in force, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// DropToken is the token that authorises POST /drop from any address.
func (s *Server) DropToken() string { return s.cfg.DropToken }

// Clock returns the server's clock.
func (s *Server) Clock() *Clock { return s.clock }

// Handler serves every endpoint. It counts requests in flight so that
// Shutdown can wait for WebSockets too, which http.Server forgets about once
// they are hijacked.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inFlight.enter()
		defer s.inFlight.leave()
		s.mux.ServeHTTP(w, r)
	})
}

// Serve serves on ln until Shutdown; it then returns http.ErrServerClosed.
//
// There is a ReadHeaderTimeout (a client that never finishes its headers is
// cut) but no WriteTimeout: it would end every stream after that long.
// Streams get a deadline per write instead (Config.WriteTimeout).
func (s *Server) Serve(ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.HeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.mu.Lock()
	if s.http != nil {
		s.mu.Unlock()
		return errors.New("compare: Serve called twice")
	}
	if s.shuttingDown { // Shutdown came first: it cannot have closed ln
		s.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	// Set under the lock Shutdown reads it under: either Shutdown sees hs
	// and shuts it down (http.Server.Serve then returns at once, even if
	// it starts later), or Serve sees shuttingDown above.
	s.http = hs
	s.mu.Unlock()
	return hs.Serve(ln)
}

// stuckGrace is how long Shutdown lets connections end by themselves. A
// healthy client is gone within milliseconds (SSE) or one close handshake
// (WebSocket, at most a second); one still there is stuck in a write that
// only its write timeout would end, or in a long request, and is cut.
const stuckGrace = 2 * time.Second

// Shutdown stops the server gracefully: it stops accepting, tells SSE
// clients to come back soon and ends their streams, closes WebSockets with
// 1001 and stops the clock. It gives every connection stuckGrace to end,
// then cuts those left (a client that reads nothing would otherwise hold
// the shutdown for its whole write timeout), and waits for every handler
// to return, or for ctx: past ctx's deadline it returns an error that says
// how many were still running.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.shutOnce.Do(func() {
		s.mu.Lock()
		s.shuttingDown = true
		hs := s.http
		s.mu.Unlock()
		shutdownDone := make(chan error, 1)
		if hs != nil {
			// http.Server.Shutdown closes the listener at once, then waits
			// for requests in flight. A stream ends only when the hub ends
			// it, so Shutdown runs beside hub.shutdown, not before it. A
			// request that slips in between gets a stream that only says
			// "come back soon" (serveSSE) or a 1013 "try again later" close (WebSocket).
			hs.SetKeepAlivesEnabled(false)
			go func() { shutdownDone <- hs.Shutdown(ctx) }()
		} else {
			shutdownDone <- nil
		}
		s.hub.shutdown()
		close(s.stopClock)
		<-s.clockDone

		graceCtx, cancel := context.WithTimeout(ctx, stuckGrace)
		n, _ := s.inFlight.wait(graceCtx)
		cancel()
		if n > 0 {
			// http.Server.Close cuts the connections it knows; the
			// WebSockets it forgot at the hijack are cut here.
			if hs != nil {
				hs.Close()
			}
			taken := s.hijacked.closeAll()
			s.log.Info("cut connections still open after the shutdown grace", "grace", stuckGrace, "requests", n, "taken_over", taken)
		}
		if n, werr := s.inFlight.wait(ctx); werr != nil {
			err = fmt.Errorf("compare: %d connections still open at the shutdown deadline: %w", n, werr)
		}
		if e := <-shutdownDone; e != nil && err == nil {
			err = e
		}
		s.engine.Close()
	})
	return err
}

// Stats returns the counters of both transports.
func (s *Server) Stats() StatsSnapshot {
	seq := s.hub.lastSeq()
	tick := s.clock.Tick(seq)
	var broker *BrokerSnapshot
	if s.cfg.Router != nil {
		broker = &BrokerSnapshot{Up: s.cfg.Router.Up(), Routed: s.stats.routed.snapshot()}
	}
	return StatsSnapshot{
		Instance:      s.cfg.Instance,
		Broker:        broker,
		IntervalMS:    s.cfg.Interval.Milliseconds(),
		Seq:           seq,
		SSE:           s.snapshot(SSE),
		WS:            s.snapshot(WS),
		TickWireBytes: TickBytes{SSE: sseWireBytes(sseTick(tick)), WS: wsWireBytes(wsTick(tick))},
	}
}

// snapshot is one transport's counters, with how many of its clients are
// behind now, which the engine knows.
func (s *Server) snapshot(t Transport) CountersSnapshot {
	c := s.stats.of(t).Snapshot()
	c.Behind = s.engine.Behind(t.kind())
	return c
}

// inFlight counts requests being served. Unlike a sync.WaitGroup it may be
// entered while someone waits, which happens when a request arrives during
// Shutdown.
type inFlight struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops to 0 while someone waits
}

func (f *inFlight) enter() {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
}

func (f *inFlight) leave() {
	f.mu.Lock()
	f.n--
	if f.n == 0 && f.zero != nil {
		close(f.zero)
		f.zero = nil
	}
	f.mu.Unlock()
}

// wait returns when no request is in flight, or with ctx's error and how
// many still are.
func (f *inFlight) wait(ctx context.Context) (int, error) {
	for {
		f.mu.Lock()
		if f.n == 0 {
			f.mu.Unlock()
			return 0, nil
		}
		if f.zero == nil {
			f.zero = make(chan struct{})
		}
		zero := f.zero
		f.mu.Unlock()
		select {
		case <-zero:
		case <-ctx.Done():
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.n, ctx.Err()
		}
	}
}
