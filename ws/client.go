package ws

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// ErrNotConnected is returned by Client.Chat between two connections.
var ErrNotConnected = errors.New("ws: not connected")

// ErrStalled ends a connection on which nothing arrived for the watchdog's
// time: the server promised a message (a tick or a keep-alive) at least
// every heartbeat_ms, so the path is dead though the socket looks open (a
// NAT entry gone, a laptop that slept, a proxy that stopped forwarding).
// The Client reconnects and resumes, as after any other failure.
var ErrStalled = errors.New("ws: nothing received within the watchdog time; reconnecting")

// Client keeps a connection to a /ws URL open. A browser reconnects an
// EventSource by itself but never a WebSocket, so this is the code every
// WebSocket application has to write: redial with exponential backoff and
// jitter, and resume from the last tick seen (?lastEventId=) so that no tick
// is lost.
//
// The zero value is not usable: set URL. Run must be called once; Chat and
// LastSeq may be called from other goroutines while Run runs.
type Client struct {
	URL         string
	DialOptions *websocket.DialOptions // may be nil

	MinBackoff time.Duration // first wait after a failure; 0 means 250ms
	MaxBackoff time.Duration // cap of the doubling wait; 0 means 10s

	// Watchdog is how long a connection may stay silent before the Client
	// abandons it (ErrStalled) and reconnects. 0 means twice the hello's
	// heartbeat_ms, and no watchdog until a hello names one; negative
	// means none.
	Watchdog time.Duration

	OnOpen  func()      // called after each successful dial
	OnError func(error) // called when a connection fails or ends, before the wait

	mu      sync.Mutex
	conn    *Conn
	lastSeq int64
	hasLast bool
}

// ResumeFrom makes the next dial ask for the ticks after seq, as if a tick
// with that seq had been seen. Call it before Run to resume a session.
func (c *Client) ResumeFrom(seq int64) {
	c.mu.Lock()
	c.lastSeq, c.hasLast = seq, true
	c.mu.Unlock()
}

// LastSeq returns the seq of the last tick handed to the handler.
func (c *Client) LastSeq() (seq int64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastSeq, c.hasLast
}

// Run connects and hands every server message to handle, in the Run
// goroutine, until ctx is done; then it returns ctx's error. A handshake the
// server refuses with a 4xx status (a foreign origin, say) is final and
// returned, because dialling again cannot change the answer.
func (c *Client) Run(ctx context.Context, handle func(Message)) error {
	failures := 0
	for {
		opened, err := c.session(ctx, handle)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var he *HandshakeError
		if errors.As(err, &he) && he.StatusCode >= 400 && he.StatusCode < 500 {
			return err
		}
		if c.OnError != nil {
			c.OnError(err)
		}
		if opened {
			failures = 0
		}
		failures++
		select {
		case <-time.After(c.backoff(failures)):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// session runs one connection until it fails.
func (c *Client) session(ctx context.Context, handle func(Message)) (opened bool, err error) {
	conn, err := Dial(ctx, c.dialURL(), c.DialOptions)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.conn = nil
		c.mu.Unlock()
		conn.CloseNow()
	}()
	if c.OnOpen != nil {
		c.OnOpen()
	}
	watchdog := c.Watchdog
	for {
		m, err := c.read(ctx, conn, watchdog)
		if err != nil {
			return true, err
		}
		switch m.Type {
		case TypeKeepAlive:
			continue // it has fed the watchdog; there is nothing to show
		case TypeHello:
			if c.Watchdog == 0 && m.HeartbeatMS > 0 {
				watchdog = 2 * time.Duration(m.HeartbeatMS) * time.Millisecond
			}
		case TypeTick:
			c.mu.Lock()
			c.lastSeq, c.hasLast = m.Seq, true
			c.mu.Unlock()
		}
		handle(m)
	}
}

// read reads one message within watchdog (if > 0). Past it the read's
// context ends, which closes the connection: it is abandoned, not waited
// for.
func (c *Client) read(ctx context.Context, conn *Conn, watchdog time.Duration) (Message, error) {
	if watchdog <= 0 {
		return conn.Read(ctx)
	}
	rctx, cancel := context.WithTimeoutCause(ctx, watchdog, ErrStalled)
	defer cancel()
	m, err := conn.Read(rctx)
	if err != nil && ctx.Err() == nil && context.Cause(rctx) == ErrStalled {
		return m, fmt.Errorf("%w (%v)", ErrStalled, watchdog)
	}
	return m, err
}

// Chat sends a chat message on the current connection.
func (c *Client) Chat(ctx context.Context, text string) error {
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn == nil {
		return ErrNotConnected
	}
	return conn.Chat(ctx, text)
}

// dialURL is URL with lastEventId set to the last seen seq, if any.
func (c *Client) dialURL() string {
	seq, ok := c.LastSeq()
	if !ok {
		return c.URL
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return c.URL // Dial reports the bad URL
	}
	q := u.Query()
	q.Set("lastEventId", strconv.FormatInt(seq, 10))
	u.RawQuery = q.Encode()
	return u.String()
}

// backoff is the wait before attempt n+1 after n failures in a row:
// MinBackoff doubling up to MaxBackoff, with "equal jitter" (a random point in
// the upper half) so that clients dropped together do not return together.
func (c *Client) backoff(failures int) time.Duration {
	lo, hi := c.MinBackoff, c.MaxBackoff
	if lo <= 0 {
		lo = 250 * time.Millisecond
	}
	if hi <= 0 {
		hi = 10 * time.Second
	}
	d := lo
	for i := 1; i < failures && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}
