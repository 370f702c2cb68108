package fanout

import (
	"sync/atomic"
	"testing"
	"time"
)

// gated hides the socket's SyscallConn (so every write takes the slow
// path) and holds the first call that clears the write deadline until
// released, to widen a window in catchUp that a descheduled goroutine opens
// on a busy machine.
type gated struct {
	hidden
	clearing atomic.Bool
	cleared  chan struct{} // the first clearing call has begun
	release  chan struct{}
	set      chan struct{} // a deadline was set
}

func (g *gated) SetWriteDeadline(t time.Time) error {
	if t.IsZero() && g.clearing.CompareAndSwap(false, true) {
		close(g.cleared)
		<-g.release
	} else if !t.IsZero() {
		g.set <- struct{}{}
	}
	return g.Conn.SetWriteDeadline(t)
}

// A catch-up goroutine that is ending clears the write deadline before it
// hands the connection back (under c.mu). If it cleared it after, a write
// in between would start the next catch-up goroutine, which sets its
// deadline and blocks, and the old one would then clear that deadline: a
// client that takes nothing would never be closed with ErrTooSlow.
func TestEndingCatchUpKeepsTheNextDeadline(t *testing.T) {
	const timeout = 200 * time.Millisecond
	e := newEngine(t, Config{Workers: 1, MaxQueue: 1000, WriteTimeout: timeout})
	s, _ := stuckPair(t) // its client never reads
	g := &gated{hidden: hidden{s}, cleared: make(chan struct{}), release: make(chan struct{}), set: make(chan struct{}, 100)}
	c := add(t, e, g, 0)
	if err := c.Write([]byte("small")); err != nil { // catch-up goroutine 1
		t.Fatal(err)
	}
	<-g.set     // 1 set its deadline,
	<-g.cleared // wrote "small" and handed the connection back; it is about to clear the deadline
	wrote := make(chan error, 1)
	go func() { wrote <- c.Write(make([]byte, 1<<20)) }() // more than the kernel takes
	select {
	case <-g.set: // catch-up goroutine 2 set its deadline, is blocked writing
	case <-time.After(time.Second): // or the Write waits for the clearing: fixed
	}
	close(g.release) // 1 clears the deadline
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	flushed := make(chan error, 1)
	go func() { flushed <- c.Flush() }()
	select {
	case err := <-flushed:
		t.Logf("closed: %v", err)
	case <-time.After(20 * timeout):
		t.Errorf("a client that took nothing for %v is still open: its write has no deadline", 20*timeout)
		c.Close(nil)
		<-flushed
	}
}
