package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/sse"
	"github.com/ssevsws/ssevsws/ws"
)

// stormFleet is the storm's crowd: many clients of one transport, each the
// repository's own reconnecting client (sse.Client, as a browser's
// EventSource behaves; ws.Client, what a WebSocket page must write), so that
// what comes back after the restart is their real policy and not a
// benchmark's idea of it.
type stormFleet struct {
	t       compare.Transport
	clients []*stormClient
	tr      *http.Transport
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	// fixed makes the WebSocket clients wait their backoff's full,
	// unjittered value (see gate): ws.Client always jitters, and this is
	// what it would do without.
	fixed                  bool
	minBackoff, maxBackoff time.Duration

	errors      atomic.Int64 // OnError calls since countFrom
	failedDials atomic.Int64 // of which dial errors (connection refused)
	stopped     atomic.Int64 // clients whose Run returned before Close
	firstStop   atomic.Pointer[error]
}

// stormClient is one client of the fleet and what it saw: every tick's seq
// (for lost and duplicated ticks) and when it first ticked on a connection
// opened after the restart began.
type stormClient struct {
	f *stormFleet

	mu        sync.Mutex
	opens     int       // connections opened
	fails     int       // OnError calls since the last open: ws.Client's failures in a row
	lastErrAt time.Time // the latest OnError
	ticks     int
	lastSeq   int64
	lost, dup int64
	mark      int       // opens when the restart began; -1 before
	resumedAt time.Time // first tick on a connection opened after mark
}

// newStormFleet starts n clients of t against base, a few hundred at a time
// (a crowd that arrives at once is the storm itself, not its setup), and
// returns once every one has had a tick.
func newStormFleet(ctx context.Context, base stormURLs, t compare.Transport, n int, fixed bool, minBackoff time.Duration, timeout time.Duration) (*stormFleet, error) {
	runCtx, cancel := context.WithCancel(context.Background())
	f := &stormFleet{t: t, cancel: cancel, fixed: fixed, minBackoff: minBackoff, maxBackoff: 10 * time.Second,
		tr: &http.Transport{MaxIdleConnsPerHost: -1}}
	hc := &http.Client{Transport: f.tr}
	const batch = 200
	for i := range n {
		c := &stormClient{f: f, mark: -1}
		f.clients = append(f.clients, c)
		f.wg.Go(func() { f.ran(c.run(runCtx, base, hc)) })
		if (i+1)%batch == 0 || i == n-1 {
			err := f.waitAll(ctx, timeout, func(c *stormClient) bool { return c.ticks > 0 })
			if err != nil {
				f.close()
				return nil, fmt.Errorf("probe: storm: %d %s clients connecting: %w", i+1, t.Name(), err)
			}
		}
	}
	return f, nil
}

// stormURLs is the storm server's address as each transport dials it.
type stormURLs struct{ sse, ws string }

func (f *stormFleet) ran(err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	f.stopped.Add(1)
	f.firstStop.CompareAndSwap(nil, &err)
}

// run is one client's life: Run until the fleet closes.
func (c *stormClient) run(ctx context.Context, base stormURLs, hc *http.Client) error {
	switch c.f.t {
	case compare.SSE:
		cl := &sse.Client{URL: base.sse, HTTPClient: hc, OnOpen: c.opened, OnError: c.failed}
		return cl.Run(ctx, func(ev sse.Event) {
			if ev.Type == compare.EventTick {
				if seq, err := strconv.ParseInt(ev.ID, 10, 64); err == nil {
					c.tick(seq)
				}
			}
		})
	default:
		gated := &http.Client{Transport: gate{c: c, rt: hc.Transport}}
		cl := &ws.Client{URL: base.ws, DialOptions: &websocket.DialOptions{HTTPClient: gated},
			MinBackoff: c.f.minBackoff, MaxBackoff: c.f.maxBackoff, OnOpen: c.opened, OnError: c.failed}
		return cl.Run(ctx, func(m ws.Message) {
			if m.Type == ws.TypeTick {
				c.tick(m.Seq)
			}
		})
	}
}

// gate holds a WebSocket client's redial, when the fleet is fixed, until
// its backoff's full value has passed since the failure: ws.Client waits a
// random point in the upper half of that value, so waiting for the rest
// turns it into the unjittered backoff that many hand-written reconnect
// loops use (setTimeout(connect, 250), doubling). The first dial, and every
// dial of a jittered fleet, goes through untouched.
type gate struct {
	c  *stormClient
	rt http.RoundTripper
}

func (g gate) RoundTrip(req *http.Request) (*http.Response, error) {
	f := g.c.f
	g.c.mu.Lock()
	fails, at := g.c.fails, g.c.lastErrAt
	g.c.mu.Unlock()
	if f.fixed && fails > 0 {
		d := f.minBackoff
		for i := 1; i < fails && d < f.maxBackoff; i++ {
			d *= 2
		}
		if err := sleep(req.Context(), time.Until(at.Add(min(d, f.maxBackoff)))); err != nil {
			return nil, err
		}
	}
	return g.rt.RoundTrip(req)
}

func (c *stormClient) opened() {
	c.mu.Lock()
	c.opens++
	c.fails = 0
	c.mu.Unlock()
}

// failed counts every reconnect the client is about to make, and the dial
// errors among them: a connection refused while no server listens.
func (c *stormClient) failed(err error) {
	c.mu.Lock()
	c.fails++
	c.lastErrAt = time.Now()
	c.mu.Unlock()
	c.f.errors.Add(1)
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "dial" {
		c.f.failedDials.Add(1)
	}
}

func (c *stormClient) tick(seq int64) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ticks > 0 {
		switch {
		case seq > c.lastSeq+1:
			c.lost += seq - c.lastSeq - 1
		case seq <= c.lastSeq:
			c.dup++
		}
	}
	c.ticks++
	c.lastSeq = max(c.lastSeq, seq)
	if c.mark >= 0 && c.opens > c.mark && c.resumedAt.IsZero() {
		c.resumedAt = now
	}
}

// markRestart notes, for every client, which connection it is on as the
// restart begins, and counts errors from now on.
func (f *stormFleet) markRestart() {
	for _, c := range f.clients {
		c.mu.Lock()
		c.mark = c.opens
		c.mu.Unlock()
	}
	f.errors.Store(0)
	f.failedDials.Store(0)
}

// waitAll waits until cond, called with each client's lock held, holds for
// every client. It polls: a notification per tick from thousands of clients
// would cost more than a look every 20ms, and the times it waits for are
// each client's own timestamps, not the moment the poll sees them.
func (f *stormFleet) waitAll(ctx context.Context, timeout time.Duration, cond func(c *stormClient) bool) error {
	deadline := time.Now().Add(timeout)
	for {
		missing := 0
		for _, c := range f.clients {
			c.mu.Lock()
			if !cond(c) {
				missing++
			}
			c.mu.Unlock()
		}
		if missing == 0 {
			return nil
		}
		if f.stopped.Load() > 0 {
			return fmt.Errorf("%d clients stopped: %w", f.stopped.Load(), *f.firstStop.Load())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d clients not there after %v", missing, len(f.clients), timeout)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// close stops every client and waits for them.
func (f *stormFleet) close() {
	f.cancel()
	f.wg.Wait()
	f.tr.CloseIdleConnections()
}

// seen sums what the clients saw: lost and duplicated ticks, and each
// one's resume time after start.
func (f *stormFleet) seen(start time.Time) (lost, dup int64, resumes []time.Duration) {
	for _, c := range f.clients {
		c.mu.Lock()
		lost += c.lost
		dup += c.dup
		if !c.resumedAt.IsZero() {
			resumes = append(resumes, c.resumedAt.Sub(start))
		}
		c.mu.Unlock()
	}
	return lost, dup, resumes
}
