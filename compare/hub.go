package compare

import (
	"crypto/rand"
	"errors"
	"iter"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssevsws/ssevsws/fanout"
	"github.com/ssevsws/ssevsws/ws"
)

// Why the hub ends a subscription. Handlers turn these into what their
// protocol can say: a short retry for SSE, a close code for WebSocket.
var (
	ErrShuttingDown = errors.New("server shutting down")
	ErrDropped      = errors.New("dropped on request (/drop)")
	ErrTooSlow      = errors.New("client too slow: its send queue is full")
	ErrBehind       = errors.New("the server fell behind the clock; reconnect to resume")
)

// Errors of the SSE back channel (POST /chat).
var (
	ErrUnknownClient = errors.New("no open SSE stream has this client id")
	ErrQueueFull     = errors.New("this client's echo queue is full")
)

// RateLimitError refuses a chat message; RetryAfter says when one will pass.
type RateLimitError struct{ RetryAfter time.Duration }

func (e *RateLimitError) Error() string {
	return "chat rate limit exceeded, retry in " + e.RetryAfter.Round(time.Millisecond).String()
}

// hub fans the clock out to every connected client. It is the one place
// that knows about all connections; each connection only sees its own
// subscription.
//
// Publishing never waits for a client. Most connections are on the direct
// path: the hub encodes a tick once per transport and hands it to the
// fan-out engine (package fanout), which writes it to every socket without
// a goroutine per connection, and drops a client that falls a whole queue
// behind. The rest (SSE over HTTP/2 or TLS, which have no socket of their
// own to write to) are on the handler path: a bounded queue per
// subscription that the handler's goroutine writes out, and a client whose
// queue is full when a tick comes is dropped. Either way one stuck client
// delays no one, and memory stays bounded by (clients × queue length).
//
// Lock order: h.mu, then the engine's (fanout.Conn.Join and Finish are
// called under h.mu; the engine never calls back).
type hub struct {
	clock  *Clock
	stats  *Stats
	log    *slog.Logger
	cfg    *Config
	engine *fanout.Engine

	mu     sync.Mutex
	subs   map[string]*subscription
	queued map[string]*subscription // the live ones on the handler path, fed by publish
	last   int64                    // newest published seq
	closed bool
}

func newHub(clock *Clock, stats *Stats, cfg *Config, log *slog.Logger, engine *fanout.Engine) *hub {
	return &hub{
		clock: clock, stats: stats, cfg: cfg, log: log, engine: engine,
		subs:   make(map[string]*subscription),
		queued: make(map[string]*subscription),
		last:   clock.SeqAt(time.Now()),
	}
}

// subscription is one connected client as the hub sees it.
type subscription struct {
	h         *hub
	id        string
	transport Transport
	resume    Resume

	// The direct path: the engine writes to the socket, and finish ends
	// the connection when the hub ends the subscription (it must not block
	// or lock the hub). nil on the handler path.
	out    *fanout.Conn
	finish func(error)

	ticks  chan []byte // the handler path: encoded ticks for this transport, bounded
	echoes chan []byte // the handler path, SSE: echoes from POST /chat, bounded
	done   chan struct{}
	err    error // why done was closed; written before close(done)
	once   sync.Once

	chat tokenBucket

	release func() // ends what hold (route.go) started: chats from other instances

	live   bool        // it takes published ticks; set by goLive, under h.mu
	silent atomic.Bool // /drop?mode=silent: nothing more is written to it
}

// subscribe registers a client. lastID is the raw Last-Event-ID (or
// lastEventId query parameter). The client gets ticks from its backlog up
// to the newest published one, then live (see backlog): through out, the
// engine's connection, when out is not nil (the direct path; finish ends
// it), else through its queues (the handler path).
func (h *hub) subscribe(t Transport, lastID string, out *fanout.Conn, finish func(error)) (*subscription, error) {
	s := &subscription{
		h: h, id: rand.Text()[:16], transport: t,
		out: out, finish: finish,
		done: make(chan struct{}),
		chat: tokenBucket{rate: h.cfg.ChatRate, burst: float64(h.cfg.ChatBurst)},
	}
	if out == nil {
		s.ticks = make(chan []byte, h.cfg.QueueSize)
		if t == SSE {
			s.echoes = make(chan []byte, h.cfg.QueueSize)
		}
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrShuttingDown
	}
	h.subs[s.id] = s
	current := h.last
	h.mu.Unlock()

	plan, ok := h.clock.PlanResume(lastID, current)
	if !ok {
		h.log.Debug("last event id ignored", "transport", t, "lastEventId", lastID, "current", current)
	}
	s.resume = plan
	st := h.stats.of(t)
	st.Connects.Add(1)
	st.Open.Add(1)
	if plan.Resumed {
		st.Resumes.Add(1)
	}
	if plan.HasGap() {
		st.Gaps.Add(1)
	}
	s.release = h.hold(s)
	return s, nil
}

// backlog yields what the client gets before live ticks: the gap, if any,
// then every replayed tick, encoded for the subscription's transport.
//
// A client being replayed to is not fed by publish: on a busy machine a
// long replay (a whole window is thousands of ticks) could outlast its
// queue, and the client would be dropped as too slow while merely catching
// up. Instead, when the replay reaches the end of its plan, the backlog
// asks the hub for the ticks published meanwhile and re-creates them from
// the clock too, until none are left; then, under the hub's lock, the
// subscription goes live, so that every tick after that comes through the
// queue: none twice, none missing. It stops early if the subscription ends.
func (s *subscription) backlog(gap func(from, to int64) []byte, tick func(Tick) []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		r := s.resume
		if r.HasGap() && !yield(gap(r.GapFrom, r.GapTo)) {
			return
		}
		// to is the last tick the client will have had when the inner loop
		// ends: its own last id when the plan replays nothing (To < From).
		for from, to := r.From, r.To; ; {
			for seq := from; seq <= to; seq++ {
				if s.ended() || s.silent.Load() || !yield(tick(s.h.clock.Tick(seq))) {
					return
				}
			}
			last := s.h.goLive(s, to)
			if last == to {
				return
			}
			from, to = to+1, last
		}
	}
}

// goLive makes s live if sent, the last tick its backlog sent, is the
// newest published one, and otherwise returns the newest, which the backlog
// must send first. Live, s takes every tick after sent: from the engine's
// broadcasts (the direct path) or through its queue (the handler path).
func (h *hub) goLive(s *subscription, sent int64) (last int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last > sent {
		return h.last
	}
	if _, open := h.subs[s.id]; !open || s.silent.Load() {
		return sent // ended or silenced meanwhile: nothing to join
	}
	s.live = true
	if s.out != nil {
		s.out.Join(sent + 1)
	} else {
		h.queued[s.id] = s
	}
	return sent
}

// ended reports whether the subscription has ended.
func (s *subscription) ended() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// end closes the subscription for reason err, once; later calls do nothing.
func (s *subscription) end(err error) bool {
	ended := false
	s.once.Do(func() {
		s.err = err
		close(s.done)
		ended = true
	})
	return ended
}

// writeTimedOut ends s because a write to its client timed out: the client
// took nothing for a whole WriteTimeout. It is dropped and counted as too
// slow, as a full queue would be, unless the hub has already ended it (and
// then counted it, if it was for a full queue).
func (s *subscription) writeTimedOut() {
	if s.end(ErrTooSlow) {
		s.h.stats.of(s.transport).SlowDropped.Add(1)
		s.h.log.Warn("dropping slow client", "transport", s.transport, "client", s.id, "reason", "write timed out")
	}
}

// tooSlow ends s because the engine closed its connection as too slow
// (fanout.ErrTooSlow: a whole queue behind, or a write timed out), and
// counts it, unless the hub has already ended it.
func (s *subscription) tooSlow(why error) {
	if s.end(ErrTooSlow) {
		s.h.stats.of(s.transport).SlowDropped.Add(1)
		s.h.log.Warn("dropping slow client", "transport", s.transport, "client", s.id, "reason", why)
	}
}

// close is called when the connection has ended: by its handler when it
// returns, or by the reader of a connection on the direct path.
func (s *subscription) close() {
	s.h.mu.Lock()
	delete(s.h.subs, s.id)
	delete(s.h.queued, s.id)
	s.h.mu.Unlock()
	s.release()
	if s.end(nil) && s.silent.Load() {
		// The client gave up on a silent connection before the server
		// closed it: its watchdog fired.
		s.h.stats.of(s.transport).Stalls.Add(1)
		s.h.log.Info("client left a silent connection: a stall detected", "transport", s.transport, "client", s.id)
	}
	s.h.stats.of(s.transport).Open.Add(-1)
}

// publish hands tick seq to every live subscription without waiting. The
// tick is encoded once per transport and per path, and the same bytes go to
// every client: through the engine for the direct path (a chunk of the
// HTTP/1.1 body for SSE, a frame for WebSocket), through their queues for
// the handler path. A subscription still replaying is not live: its
// backlog catches up from the clock.
func (h *hub) publish(seq int64) {
	tick := h.clock.Tick(seq)
	sseChunk, sseFrame := sseTickChunk(tick)
	wsFrame, wsMsg := wsTickFrame(tick)
	frames := make([][]byte, 2)
	frames[kindSSE], frames[ws.KindFrame] = sseChunk, wsFrame
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = seq
	for id, s := range h.queued {
		select {
		case s.ticks <- sseFrame:
		default:
			delete(h.subs, id)
			delete(h.queued, id)
			if s.end(ErrTooSlow) {
				h.stats.of(s.transport).SlowDropped.Add(1)
				h.log.Warn("dropping slow client", "transport", s.transport, "client", id, "queue", cap(s.ticks))
			}
		}
	}
	h.engine.Broadcast(seq, frames, func(took []int) {
		h.stats.sse.tookTicks(took[kindSSE], len(sseFrame))
		h.stats.ws.tookTicks(took[ws.KindFrame], len(wsMsg))
	})
}

// run publishes a tick at the start of every interval until stop is closed.
// It sleeps until the next tick's own start time rather than using a
// time.Ticker, so ticks stay on the wall-clock grid that defines their seq.
// If it wakes late it publishes every tick it missed, in order.
func (h *hub) run(stop <-chan struct{}) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		h.mu.Lock()
		next := h.last + 1
		h.mu.Unlock()
		timer.Reset(time.Until(h.clock.TimeOf(next)))
		select {
		case <-stop:
			return
		case now := <-timer.C:
			current := h.clock.SeqAt(now)
			from, resync := catchUpFrom(next, current, h.cfg.QueueSize)
			if resync {
				h.resync(current-next+1, current-1)
			}
			for seq := from; seq <= current; seq++ {
				h.publish(seq)
			}
		}
	}
}

// deliverEcho queues a chat echo on an SSE client's stream.
func (h *hub) deliverEcho(client string, frame []byte) error {
	h.mu.Lock()
	s, ok := h.subs[client]
	h.mu.Unlock()
	if !ok || s.transport != SSE {
		return ErrUnknownClient
	}
	if err := s.chat.take(time.Now()); err != nil {
		return err
	}
	if s.silent.Load() {
		return nil // accepted, and lost in the silence, as on a dead path
	}
	if s.out != nil {
		switch err := s.out.Offer(sseChunk(frame)); {
		case err == nil:
			return nil
		case errors.Is(err, fanout.ErrFull):
			return ErrQueueFull
		default:
			return ErrUnknownClient // closed meanwhile
		}
	}
	select {
	case s.echoes <- frame:
		return nil
	default:
		return ErrQueueFull
	}
}

// drop ends every subscription of transport t and says how many.
func (h *hub) drop(t Transport) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.endLocked(ErrDropped, func(s *subscription) bool { return s.transport == t })
	h.stats.of(t).Dropped.Add(int64(n))
	return n
}

// endLocked ends, for reason, every subscription that match accepts (all
// of them when match is nil), and says how many it ended. h.mu is held.
func (h *hub) endLocked(reason error, match func(*subscription) bool) int {
	n := 0
	for id, s := range h.subs {
		if match != nil && !match(s) {
			continue
		}
		delete(h.subs, id)
		delete(h.queued, id)
		if s.end(reason) {
			n++
			if s.finish != nil {
				s.finish(reason)
			}
		}
	}
	return n
}

// catchUpFrom says, when the clock loop wakes at tick current while tick
// next was due, which ticks to publish (from..current) and whether the live
// clients must reconnect first. A few ticks late (a GC pause, a busy
// machine) are published in order. More than half a queue late (the machine
// slept, the process stalled, the wall clock jumped) they are not: that
// burst would fill every queue and drop every client as too slow, or skip
// ticks past the window without a gap. The clients reconnect instead and
// resume by the replay rule, which sends a gap where it must.
func catchUpFrom(next, current int64, queue int) (from int64, resync bool) {
	if current-next+1 > int64(queue)/2 {
		return current, true
	}
	return next, false
}

// resync ends every subscription with ErrBehind, after the clock loop woke
// missed ticks late, and moves the last published tick to last (the tick
// before the one about to be published), so that a client that subscribes
// before that publish gets the ticks up to last replayed, not skipped.
func (h *hub) resync(missed, last int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = max(h.last, last)
	n := h.endLocked(ErrBehind, nil)
	h.log.Warn("clock loop woke late; clients will reconnect and resume", "missed_ticks", missed, "clients", n)
}

// shutdown refuses new subscriptions and ends every open one.
func (h *hub) shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	h.endLocked(ErrShuttingDown, nil)
}

// tokenBucket limits chat messages per connection: rate per second, up to
// burst at once. It is small enough to write here rather than add a
// dependency for it.
type tokenBucket struct {
	rate, burst float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// take spends one token, or says how long until one is there.
func (b *tokenBucket) take(now time.Time) error {
	if b.rate <= 0 {
		return nil // unlimited
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last.IsZero() {
		b.tokens = b.burst
	} else {
		b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return nil
	}
	wait := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
	return &RateLimitError{RetryAfter: wait}
}

func (h *hub) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

func (h *hub) lastSeq() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}
