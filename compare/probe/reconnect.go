package probe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/sse"
	"github.com/ssevsws/ssevsws/ws"
)

// ReconnectOptions tune Reconnect.
type ReconnectOptions struct {
	// WSBackoff is the WebSocket client's first wait after a lost
	// connection (ws.Client.MinBackoff; it waits a random time between half
	// of it and all of it). 0 means 250ms, what the page uses. The SSE
	// client waits what the server's retry: field says, as EventSource does.
	WSBackoff time.Duration
}

// ReconnectSample is one drop and resume.
type ReconnectSample struct {
	// Wait is from the moment the client saw its connection end until it
	// sent its new request: the reconnect policy (SSE: the server's
	// retry:; WebSocket: the client's backoff), not the transport's cost.
	Wait time.Duration `json:"wait_ns"`
	// Resume is from the moment the client saw its connection end until
	// the first tick on the new connection: Wait, plus the new handshake,
	// plus the replay of what was missed.
	Resume time.Duration `json:"resume_ns"`
}

// ReconnectResult is how one transport comes back from dropped connections.
type ReconnectResult struct {
	Transport  compare.Transport `json:"transport"`
	Drops      int               `json:"drops"`
	Wait       Summary           `json:"wait"`
	Resume     Summary           `json:"resume"`
	Lost       int64             `json:"lost_ticks"`       // ticks never received (must be 0)
	Duplicated int64             `json:"duplicated_ticks"` // ticks received twice (must be 0)
}

// Reconnector is one client of the repository's own reconnecting clients
// (sse.Client, which behaves like a browser's EventSource, or ws.Client,
// which does what a WebSocket page must do by hand), watched while the
// server drops it again and again. It records every tick's seq, so it can
// tell whether a tick was lost or repeated across the drops.
type Reconnector struct {
	tg       *Target
	t        compare.Transport
	interval time.Duration
	tr       *http.Transport
	cancel   context.CancelFunc
	done     chan error

	mu      sync.Mutex
	changed chan struct{}
	opens   int               // connections opened so far
	ticks   int               // ticks received so far
	lastSeq int64             // seq of the newest tick
	lastAt  time.Time         // when it arrived
	firstAt map[int]time.Time // connection number → its first tick's arrival
	lossAt  []time.Time       // when the client saw a connection end
	reqAt   []time.Time       // when the client sent a request
	lost    int64
	dup     int64
}

// NewReconnector starts a client of transport t and waits for its first
// tick.
func NewReconnector(ctx context.Context, tg *Target, t compare.Transport, opts ReconnectOptions) (*Reconnector, error) {
	st, err := tg.Stats(ctx)
	if err != nil {
		return nil, err
	}
	r := &Reconnector{
		tg: tg, t: t, interval: time.Duration(st.IntervalMS) * time.Millisecond,
		tr: tg.transport(), done: make(chan error, 1),
		changed: make(chan struct{}, 1), firstAt: map[int]time.Time{},
	}
	hc := &http.Client{Transport: requestRecorder{rt: r.tr, r: r}}
	runCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	switch t {
	case compare.SSE:
		c := &sse.Client{URL: tg.url("sse").String(), HTTPClient: hc,
			OnOpen: r.opened, OnError: r.failed}
		go func() {
			r.done <- c.Run(runCtx, func(ev sse.Event) {
				if ev.Type == compare.EventTick {
					seq, err := strconv.ParseInt(ev.ID, 10, 64)
					if err == nil {
						r.tick(seq)
					}
				}
			})
		}()
	case compare.WS:
		u := tg.url("ws")
		u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
		backoff := opts.WSBackoff
		if backoff <= 0 {
			backoff = 250 * time.Millisecond
		}
		c := &ws.Client{URL: u.String(), DialOptions: &websocket.DialOptions{HTTPClient: hc},
			MinBackoff: backoff, MaxBackoff: 10 * time.Second,
			OnOpen: r.opened, OnError: r.failed}
		go func() {
			r.done <- c.Run(runCtx, func(m ws.Message) {
				if m.Type == ws.TypeTick {
					r.tick(m.Seq)
				}
			})
		}()
	default:
		cancel()
		return nil, fmt.Errorf("probe: unknown transport %q", t)
	}
	if err := r.waitFor(ctx, 10*time.Second, func() bool { return r.ticks > 0 }); err != nil {
		r.Close()
		return nil, fmt.Errorf("probe: %s client: no first tick: %w", t.Name(), err)
	}
	return r, nil
}

// requestRecorder notes when the client sends a request (a new connection's
// handshake), which ends the reconnect wait.
type requestRecorder struct {
	rt http.RoundTripper
	r  *Reconnector
}

func (rr requestRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	rr.r.mu.Lock()
	rr.r.reqAt = append(rr.r.reqAt, time.Now())
	rr.r.mu.Unlock()
	return rr.rt.RoundTrip(req)
}

func (r *Reconnector) opened() {
	r.mu.Lock()
	r.opens++
	r.mu.Unlock()
	r.notify()
}

func (r *Reconnector) failed(error) {
	r.mu.Lock()
	r.lossAt = append(r.lossAt, time.Now())
	r.mu.Unlock()
	r.notify()
}

func (r *Reconnector) tick(seq int64) {
	now := time.Now()
	r.mu.Lock()
	if r.ticks > 0 {
		switch {
		case seq > r.lastSeq+1:
			r.lost += seq - r.lastSeq - 1
		case seq <= r.lastSeq:
			r.dup++
		}
	}
	if _, ok := r.firstAt[r.opens]; !ok {
		r.firstAt[r.opens] = now
	}
	r.ticks++
	r.lastSeq, r.lastAt = max(r.lastSeq, seq), now
	r.mu.Unlock()
	r.notify()
}

func (r *Reconnector) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// waitFor waits until cond, called with r.mu held, is true.
func (r *Reconnector) waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-r.changed:
		case err := <-r.done:
			r.done <- err
			return fmt.Errorf("client stopped: %w", err)
		case <-deadline.C:
			return errors.New("timed out")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Cycle drops the client once and waits until it has its first tick on a
// new connection.
//
// The drop is timed to come shortly before a tick is due, so that the
// client is away when that tick is published (unless it comes back within a
// tenth of an interval): the first tick on the new connection is then
// replayed, and comes right after the handshake, instead of being the next
// live tick, up to an interval later.
func (r *Reconnector) Cycle(ctx context.Context) (ReconnectSample, error) {
	var s ReconnectSample
	r.mu.Lock()
	ticks := r.ticks
	r.mu.Unlock()
	if err := r.waitFor(ctx, r.interval+10*time.Second, func() bool { return r.ticks > ticks }); err != nil {
		return s, fmt.Errorf("probe: %s: waiting for a tick: %w", r.t.Name(), err)
	}
	r.mu.Lock()
	tickAt, opens := r.lastAt, r.opens
	r.mu.Unlock()
	margin := min(r.interval/10, 20*time.Millisecond)
	if err := sleep(ctx, time.Until(tickAt.Add(r.interval-margin))); err != nil {
		return s, err
	}
	dropAt := time.Now()
	n, err := r.tg.Drop(ctx, r.t)
	if err != nil {
		return s, err
	}
	if n == 0 {
		return s, fmt.Errorf("probe: %s: POST /drop closed no connection", r.t.Name())
	}
	err = r.waitFor(ctx, 30*time.Second, func() bool {
		_, ok := r.firstAt[opens+1]
		return r.opens > opens && ok
	})
	if err != nil {
		return s, fmt.Errorf("probe: %s: waiting for the client to resume: %w", r.t.Name(), err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var loss, req time.Time
	for _, at := range r.lossAt {
		if !at.Before(dropAt) {
			loss = at
			break
		}
	}
	for _, at := range r.reqAt {
		if !at.Before(loss) {
			req = at
			break
		}
	}
	if loss.IsZero() || req.IsZero() {
		return s, fmt.Errorf("probe: %s: the client came back without seeing its connection end", r.t.Name())
	}
	s.Wait = req.Sub(loss)
	s.Resume = r.firstAt[opens+1].Sub(loss)
	r.lossAt, r.reqAt = r.lossAt[:0], r.reqAt[:0]
	return s, nil
}

// Lost returns the ticks lost and the ticks received twice so far.
func (r *Reconnector) Lost() (lost, duplicated int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lost, r.dup
}

// Close stops the client.
func (r *Reconnector) Close() error {
	r.cancel()
	err := <-r.done
	r.tr.CloseIdleConnections()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// Reconnect drops a client of transport t again and again (POST
// /drop), within budget, and measures how it comes back and whether it
// lost any tick. POST /drop closes every connection of that transport on the
// server, not only the probe's.
func Reconnect(ctx context.Context, tg *Target, t compare.Transport, budget Budget, opts ReconnectOptions) (ReconnectResult, error) {
	res := ReconnectResult{Transport: t}
	r, err := NewReconnector(ctx, tg, t, opts)
	if err != nil {
		return res, err
	}
	var waits, resumes []time.Duration
	start := time.Now()
	for budget.more(len(waits), start) {
		s, err := r.Cycle(ctx)
		if err != nil {
			r.Close()
			return res, err
		}
		waits, resumes = append(waits, s.Wait), append(resumes, s.Resume)
	}
	// A last tick after the last resume shows that live ticks follow the
	// replayed ones without a hole.
	r.mu.Lock()
	ticks := r.ticks
	r.mu.Unlock()
	werr := r.waitFor(ctx, r.interval+10*time.Second, func() bool { return r.ticks > ticks })
	cerr := r.Close()
	res.Drops = len(waits)
	res.Wait, res.Resume = Summarize(waits), Summarize(resumes)
	res.Lost, res.Duplicated = r.Lost()
	return res, errors.Join(werr, cerr)
}
