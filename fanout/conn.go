package fanout

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// Why a connection was closed, as Conn.Err reports it.
var (
	// ErrTooSlow: the client fell behind by more than Config.MaxQueue
	// frames, or took nothing for a whole Config.WriteTimeout.
	ErrTooSlow = errors.New("fanout: client too slow")
	// ErrClosed: Close was called without a reason, or Finish completed.
	ErrClosed = errors.New("fanout: connection closed")
	// ErrSealed is Write's refusal after Seal. The connection stays open.
	ErrSealed = errors.New("fanout: connection sealed: only its own frames go out")
	// ErrFull is Offer's refusal: the connection is behind with a full
	// queue. It stays open.
	ErrFull = errors.New("fanout: connection's queue is full")
)

// Conn is one connection as the Engine writes to it. Create it with
// Engine.Add. All its methods are safe for concurrent use.
type Conn struct {
	e    *Engine
	sh   *shard
	nc   net.Conn
	raw  *rawWriter // nil: no direct writes, every frame takes the slow path
	kind int

	// Under sh.mu.
	idx  int   // position in sh.conns; -1 when not in it
	from int64 // the first broadcast seq it takes
	left bool  // left the broadcasts for good: Join does nothing

	mu        sync.Mutex
	queue     [][]byte      // frames (or their rests) waiting behind the socket, oldest first
	caughtUp  chan struct{} // non-nil while behind: a catch-up goroutine owns the socket; closed when it is done
	finishing bool          // close once the queue is written
	sealed    bool          // Write refuses: only the owner's own frames (NetConn) go out
	err       error         // why it closed; nil while open
	lastWrite int64         // monotonic nanoseconds of the newest write, for the keep-alive

	keepAlive *time.Timer // nil without a keep-alive
	kaIdle    time.Duration
	kaFrame   []byte
}

// Write writes p to the connection after everything written before, without
// waiting: straight to the socket when nothing is queued and the socket
// takes it all, else (the rest of it) into the queue that a goroutine of the
// connection's own writes out. p must not be changed afterwards: it may sit
// in the queue (broadcast frames are shared, never copied).
//
// It fails when the connection is closed (Err's reason) or has just been
// closed because its queue overflowed (ErrTooSlow), and after Seal, with
// ErrSealed (the connection stays open).
func (c *Conn) Write(p []byte) error {
	return c.write(p, now())
}

// Seal leaves the broadcasts and makes Write (and Offer) refuse with
// ErrSealed from now on, while writes through NetConn still go out: for a
// protocol whose last words are a frame of the library's own, such as
// WebSocket's close frame, after which no data frame may follow.
func (c *Conn) Seal() {
	c.leave()
	c.mu.Lock()
	c.sealed = true
	c.mu.Unlock()
}

// WriteAndSeal writes p as the connection's own last words (like a write
// through NetConn) and seals it in the same step: no frame written by
// anyone else can come between p and the seal. It is for a close frame
// that a library writes by itself, such as coder/websocket answering a
// client's close.
func (c *Conn) WriteAndSeal(p []byte) error {
	c.mu.Lock()
	if c.err != nil || c.finishing {
		err := c.errLocked()
		c.mu.Unlock()
		return err
	}
	c.lastWrite = now()
	err := c.writeLocked(p)
	c.sealed = true
	c.mu.Unlock()
	c.leave()
	if err != nil {
		c.Close(err)
	}
	return err
}

// Offer is Write for a frame the connection can do without, such as a
// chat echo: when the connection is behind with a full queue, Offer
// refuses it with ErrFull and the connection stays open, where Write would
// close it as too slow.
func (c *Conn) Offer(p []byte) error {
	return c.writeAt(p, now(), true)
}

func (c *Conn) write(p []byte, at int64) error {
	return c.writeAt(p, at, false)
}

// writeAt is Write, and Offer when offer is set.
func (c *Conn) writeAt(p []byte, at int64, offer bool) error {
	return c.writeAtAs(p, at, offer, false)
}

// writeAtAs is writeAt that, for the owner's own frames (own: NetConn's
// Write), ignores the seal.
func (c *Conn) writeAtAs(p []byte, at int64, offer, own bool) error {
	c.mu.Lock()
	if c.err != nil || c.finishing {
		err := c.errLocked()
		c.mu.Unlock()
		return err
	}
	if c.sealed && !own {
		c.mu.Unlock()
		return ErrSealed
	}
	if offer && c.caughtUp != nil && len(c.queue) >= c.e.cfg.MaxQueue {
		c.mu.Unlock()
		return ErrFull
	}
	c.lastWrite = at
	err := c.writeLocked(p)
	c.mu.Unlock()
	if err != nil {
		c.Close(err)
	}
	return err
}

// writeLocked is Write under c.mu. An error means the connection must be
// closed with it (outside the lock).
func (c *Conn) writeLocked(p []byte) error {
	if c.caughtUp == nil && c.raw != nil {
		n, err := c.raw.writeNow(p)
		if err != nil {
			return err
		}
		if n == len(p) {
			return nil // the fast path: the whole delivery
		}
		p = p[n:]
	}
	if c.caughtUp != nil && len(c.queue) >= c.e.cfg.MaxQueue {
		return fmt.Errorf("%w: %d frames behind", ErrTooSlow, len(c.queue))
	}
	c.queue = append(c.queue, p)
	if c.caughtUp == nil {
		c.caughtUp = make(chan struct{})
		c.e.behind[c.kind].Add(1)
		go c.catchUp()
	}
	return nil
}

// catchUp is the slow path: the goroutine a connection has while it is
// behind. It writes the queue out, blocking, each frame within the write
// timeout, and ends once the queue is empty (the connection is back on the
// fast path) or the connection is closed.
func (c *Conn) catchUp() {
	var batch [][]byte
	for {
		c.mu.Lock()
		if c.err != nil || len(c.queue) == 0 {
			// Direct writes check the deadline too: clear it before the
			// fast path writes again (under the lock: a new catch-up may
			// set its own as soon as the lock is free).
			c.nc.SetWriteDeadline(time.Time{})
			done := c.caughtUp
			c.caughtUp = nil
			finished := c.err == nil && c.finishing
			c.mu.Unlock()
			c.e.behind[c.kind].Add(-1)
			close(done)
			if finished {
				c.Close(ErrClosed)
			}
			return
		}
		batch = append(batch[:0], c.queue...)
		clear(c.queue)
		c.queue = c.queue[:0]
		c.mu.Unlock()

		// One frame at a time, each within the write timeout: a client that
		// reads slowly but steadily is not "too slow", one that takes
		// nothing for a whole timeout is.
		for _, frame := range batch {
			c.nc.SetWriteDeadline(time.Now().Add(c.e.cfg.WriteTimeout))
			if _, err := c.nc.Write(frame); err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					err = fmt.Errorf("%w: took nothing for %v: %w", ErrTooSlow, c.e.cfg.WriteTimeout, err)
				}
				c.Close(err)
				break
			}
		}
		clear(batch) // let the frames go
	}
}

// Flush waits until everything written so far is on the socket (in the
// kernel's buffers), or the connection is closed; it returns Err. It is
// for a writer that must not run ahead of its client, such as a replay of
// thousands of events: Flush after each keeps its queue short.
func (c *Conn) Flush() error {
	c.mu.Lock()
	ch := c.caughtUp
	c.mu.Unlock()
	if ch != nil {
		<-ch
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Finish writes last (if not nil) after everything else, leaves the
// broadcasts, and closes the connection once all of it is written (or
// could not be: ErrTooSlow). It does not wait. Later writes fail.
func (c *Conn) Finish(last []byte) {
	c.leave()
	c.mu.Lock()
	if c.err != nil || c.finishing {
		c.mu.Unlock()
		return
	}
	var err error
	if last != nil {
		err = c.writeLocked(last)
	}
	c.finishing = true
	closeNow := err != nil || c.caughtUp == nil
	c.mu.Unlock()
	if err == nil {
		err = ErrClosed
	}
	if closeNow {
		c.Close(err)
	}
}

// Close closes the connection now, dropping whatever is queued, and
// records reason (ErrClosed if nil) as Err. Only the first call counts.
func (c *Conn) Close(reason error) {
	if reason == nil {
		reason = ErrClosed
	}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = reason
	clear(c.queue)
	c.queue = nil
	ka := c.keepAlive
	c.mu.Unlock()
	if ka != nil {
		ka.Stop()
	}
	c.leave()
	// A TLS connection would first send close_notify, with a deadline of
	// seconds, to a socket that may be full: close the socket under it,
	// so that a worker closing a slow client never waits.
	if tc, ok := c.nc.(interface{ NetConn() net.Conn }); ok {
		tc.NetConn().Close()
	} else {
		c.nc.Close()
	}
}

// Err says why the connection was closed, or nil while it is open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Conn) errLocked() error {
	if c.err != nil {
		return c.err
	}
	return ErrClosed // finishing
}

// Direct reports whether the connection has a raw socket the Engine
// writes to without a goroutine (the fast path). Connections without one
// (TLS) take the slow path for every frame.
func (c *Conn) Direct() bool { return c.raw != nil }

// Join makes the connection take every broadcast whose seq is from or
// later. Call it at most once, under the same lock as the caller's
// Broadcast, so that every seq is either before from (the caller wrote it
// some other way) or taken here. It does nothing once the connection has
// left (Finish, Close).
func (c *Conn) Join(from int64) {
	sh := c.sh
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if c.left || c.idx >= 0 {
		return
	}
	c.from = from
	c.idx = len(sh.conns)
	sh.conns = append(sh.conns, c)
}

// leave takes the connection out of its shard's broadcasts for good.
func (c *Conn) leave() {
	sh := c.sh
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c.left = true
	if c.idx < 0 {
		return
	}
	last := len(sh.conns) - 1
	moved := sh.conns[last]
	sh.conns[c.idx] = moved
	moved.idx = c.idx
	sh.conns[last] = nil
	sh.conns = sh.conns[:last]
	c.idx = -1
}

// KeepAlive writes frame whenever nothing has been written for idle, so
// that proxies with an idle timeout keep the connection (an SSE comment, for
// example). One timer per connection, no goroutine. Call it at most once.
func (c *Conn) KeepAlive(idle time.Duration, frame []byte) {
	if idle <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil || c.keepAlive != nil {
		return
	}
	c.kaIdle, c.kaFrame = idle, frame
	c.lastWrite = now()
	c.keepAlive = time.AfterFunc(idle, c.keepAliveDue)
}

// keepAliveDue runs on the keep-alive timer: it writes the keep-alive frame
// if the connection has been idle long enough, and sets the timer for when
// it next could be.
func (c *Conn) keepAliveDue() {
	c.mu.Lock()
	if c.err != nil || c.finishing {
		c.mu.Unlock()
		return
	}
	t := now()
	wait := c.kaIdle - time.Duration(t-c.lastWrite)
	c.mu.Unlock()
	if wait <= 0 {
		if c.write(c.kaFrame, t) != nil {
			return
		}
		wait = c.kaIdle
	}
	c.keepAlive.Reset(wait)
}

// epoch makes now monotonic: time.Since reads the monotonic clock.
var epoch = time.Now()

func now() int64 { return int64(time.Since(epoch)) }
