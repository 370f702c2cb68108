package fanout

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestWriteOrder: a connection's own writes (an echo, from another
// goroutine) and broadcasts, big enough to queue often, arrive whole, each
// stream in order, exactly once: no frame's bytes interleave another's.
func TestWriteOrder(t *testing.T) {
	e := newEngine(t, Config{Workers: 2, MaxQueue: 1 << 12, WriteTimeout: time.Minute})
	s, cl := tcpPair(t)
	if err := s.SetWriteBuffer(8 << 10); err != nil { // big frames queue often
		t.Fatal(err)
	}
	c := add(t, e, s, 0)
	c.Join(0)
	frames := frameReader(t, cl)
	const n = 250
	var queued atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			if err := c.Write(frame('E', i, 1+i*977%30000)); err != nil {
				t.Errorf("echo %d: %v", i, err)
				return
			}
			if behind(c) {
				queued.Add(1)
			}
		}
	})
	for i := range n {
		e.Broadcast(int64(i), [][]byte{frame('B', i, 1+i*613%40000)}, nil)
	}
	wg.Wait()
	e.Sync()
	c.Finish(nil)
	next := map[byte]int{}
	for {
		got := <-frames
		if got.err == io.EOF {
			break
		}
		if got.err != nil {
			t.Fatalf("after %v: %v", next, got.err)
		}
		if got.f.seq != next[got.f.tag] {
			t.Fatalf("got %v, want %c%d next", got.f, got.f.tag, next[got.f.tag])
		}
		next[got.f.tag]++
	}
	if next['B'] != n || next['E'] != n || len(next) != 2 {
		t.Errorf("got %v frames of each tag, want %d B and %d E", next, n, n)
	}
	t.Logf("the connection was behind after %d of %d echoes", queued.Load(), n)
	if queued.Load() == 0 {
		t.Error("never behind: the slow path was not exercised")
	}
}

// TestTooSlowQueueFull: a client that stops reading gets its frames queued
// while the others get every frame as it comes; MaxQueue frames more and it
// is closed with ErrTooSlow, not before, and the others carry on.
func TestTooSlowQueueFull(t *testing.T) {
	const maxQueue = 8
	e := newEngine(t, Config{Workers: 2, MaxQueue: maxQueue, WriteTimeout: time.Minute})
	var healthy []<-chan frameOrErr
	for range 2 {
		s, cl := tcpPair(t)
		add(t, e, s, 0).Join(0)
		healthy = append(healthy, frameReader(t, cl))
	}
	s, _ := stuckPair(t) // its client never reads
	stuck := add(t, e, s, 1)
	stuck.Join(0)

	const size = 64 << 10
	var took int // frames the stuck connection took (wrote or queued)
	wasBehind := false
	seq := 0
	for ; ; seq++ {
		if seq > 100 {
			t.Fatal("the stuck connection was never closed")
		}
		f := frame('B', seq, size)
		n := syncBroadcast(e, seq, f, f)
		if n[0] != 2 {
			t.Fatalf("broadcast %d taken by %d healthy connections, want 2", seq, n[0])
		}
		// The healthy ones get it now, whatever the stuck one is doing.
		for _, h := range healthy {
			expectFrames(t, h, []parsed{{'B', seq, size}}, false)
		}
		if n[1] == 0 {
			break
		}
		if err := stuck.Err(); err != nil {
			t.Fatalf("took frame %d but closed: %v", seq, err)
		}
		took++
		wasBehind = wasBehind || behind(stuck)
	}
	err := stuck.Err()
	t.Logf("the stuck connection took %d frames, then: %v", took, err)
	if !errors.Is(err, ErrTooSlow) || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Err = %v, want ErrTooSlow for a full queue", err)
	}
	if !wasBehind {
		t.Error("the stuck connection was never behind")
	}
	// MaxQueue frames waiting, plus what the small kernel buffers took
	// (about 3), plus the batch the catch-up goroutine is writing: the rest
	// of one frame, or up to MaxQueue if it was slow to start (busy
	// machine).
	if took < maxQueue || took > 2*maxQueue+4 {
		t.Errorf("closed after taking %d frames, want MaxQueue (%d) to 2*MaxQueue + what the kernel takes", took, maxQueue)
	}
	if err := stuck.Flush(); !errors.Is(err, ErrTooSlow) {
		t.Errorf("Flush = %v, want ErrTooSlow", err)
	}
	for range 3 {
		seq++
		f := frame('B', seq, size)
		if n := syncBroadcast(e, seq, f, f); n != [maxKinds]int{2, 0} {
			t.Errorf("broadcast %d taken by %v, want the 2 healthy only", seq, n)
		}
		for _, h := range healthy {
			expectFrames(t, h, []parsed{{'B', seq, size}}, false)
		}
	}
}

// TestTooSlowWriteTimeout: a client that takes nothing for WriteTimeout is
// closed with ErrTooSlow (and os.ErrDeadlineExceeded) though its queue is
// far from full.
func TestTooSlowWriteTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	e := newEngine(t, Config{Workers: 1, MaxQueue: 1000, WriteTimeout: timeout})
	s, _ := stuckPair(t)
	c := add(t, e, s, 0)
	start := time.Now()
	for i := range 12 { // 768 KiB: the kernel's buffers take about 170 KB
		if err := c.Write(frame('W', i, 64<<10)); err != nil {
			if errors.Is(err, ErrTooSlow) {
				break // timed out already: the machine is very busy
			}
			t.Fatal(err)
		}
	}
	err := c.Flush() // returns once the catch-up goroutine gives up
	elapsed := time.Since(start)
	if !errors.Is(err, ErrTooSlow) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Flush = %v, want ErrTooSlow and os.ErrDeadlineExceeded", err)
	}
	if got := c.Err(); got != err {
		t.Errorf("Err = %v, Flush = %v", got, err)
	}
	if elapsed < timeout {
		t.Errorf("closed after %v, before the write timeout %v", elapsed, timeout)
	}
	if err := c.Write([]byte("x")); !errors.Is(err, ErrTooSlow) {
		t.Errorf("Write after = %v, want ErrTooSlow", err)
	}
}

// TestCatchUp: a client that falls behind and then reads gets every frame
// in order, and the connection returns to the fast path: Flush is nil, no
// catch-up goroutine is left, and later frames are written directly.
func TestCatchUp(t *testing.T) {
	e := newEngine(t, Config{Workers: 1, MaxQueue: 64, WriteTimeout: time.Minute})
	s, cl := stuckPair(t)
	c := add(t, e, s, 0)
	c.Join(0)
	sent := fillUntilBehind(t, e, c, 0, 10)
	frames := frameReader(t, cl) // the client reads from now on
	expectFrames(t, frames, sent, false)
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if behind(c) {
		t.Fatal("still behind after Flush")
	}
	for seq := len(sent); seq < len(sent)+5; seq++ {
		if n := syncBroadcast(e, seq, frame('B', seq, 100)); n[0] != 1 {
			t.Fatalf("broadcast %d not taken: %v", seq, c.Err())
		}
		if behind(c) {
			t.Fatal("a small frame to a drained socket was queued: not back on the fast path")
		}
		expectFrames(t, frames, []parsed{{'B', seq, 100}}, false)
	}
}

// TestFinish: Finish writes its last frame after everything queued, then
// closes (the peer sees EOF), leaves the broadcasts at once, and later
// writes fail.
func TestFinish(t *testing.T) {
	t.Run("behind", func(t *testing.T) {
		e := newEngine(t, Config{Workers: 1, WriteTimeout: time.Minute})
		s, cl := stuckPair(t)
		c := add(t, e, s, 0)
		c.Join(0)
		sent := fillUntilBehind(t, e, c, 0, 3)
		c.Finish(frame('L', 0, 1000))
		c.Finish(frame('L', 1, 1000)) // no effect
		if err := c.Write(frame('W', 0, 10)); !errors.Is(err, ErrClosed) {
			t.Errorf("Write after Finish = %v, want ErrClosed", err)
		}
		if joined(c) {
			t.Error("still joined after Finish")
		}
		if n := syncBroadcast(e, len(sent), frame('B', len(sent), 10)); n[0] != 0 {
			t.Error("a broadcast after Finish was taken")
		}
		if err := c.Err(); err != nil {
			t.Fatalf("closed before its queue was written: %v", err)
		}
		frames := frameReader(t, cl)
		expectFrames(t, frames, append(sent, parsed{'L', 0, 1000}), true)
		if err := c.Err(); err != ErrClosed {
			t.Errorf("Err = %v, want ErrClosed", err)
		}
	})
	t.Run("direct", func(t *testing.T) {
		e := newEngine(t, Config{Workers: 1})
		s, cl := tcpPair(t)
		c := add(t, e, s, 0)
		if err := c.Write([]byte("first,")); err != nil {
			t.Fatal(err)
		}
		c.Finish([]byte("last"))
		if err := c.Err(); err != ErrClosed { // nothing was queued: closed now
			t.Errorf("Err = %v, want ErrClosed", err)
		}
		if r := <-readAll(cl); r.err != nil || string(r.data) != "first,last" {
			t.Errorf("got %q, %v; want \"first,last\" then EOF", r.data, r.err)
		}
	})
}

// TestClose: Close records its reason, closes the socket at once (what is
// queued is dropped, the catch-up goroutine ends) and later writes fail
// with the reason.
func TestClose(t *testing.T) {
	e := newEngine(t, Config{Workers: 1, WriteTimeout: time.Minute})
	t.Run("reason", func(t *testing.T) {
		s, cl := tcpPair(t)
		c := add(t, e, s, 0)
		c.Join(0)
		if err := c.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		reason := errors.New("kicked")
		c.Close(reason)
		c.Close(errors.New("second")) // only the first counts
		if err := c.Err(); err != reason {
			t.Errorf("Err = %v, want %v", err, reason)
		}
		if err := c.Write([]byte("x")); err != reason {
			t.Errorf("Write after Close = %v, want %v", err, reason)
		}
		if n := syncBroadcast(e, 0, []byte("b")); n[0] != 0 {
			t.Error("a closed connection took a broadcast")
		}
		if r := <-readAll(cl); r.err != nil || string(r.data) != "hello" {
			t.Errorf("peer got %q, %v; want \"hello\" then EOF", r.data, r.err)
		}
	})
	t.Run("nil", func(t *testing.T) {
		s, _ := tcpPair(t)
		c := add(t, e, s, 0)
		c.Close(nil)
		if err := c.Err(); err != ErrClosed {
			t.Errorf("Err = %v, want ErrClosed", err)
		}
	})
	t.Run("behind", func(t *testing.T) {
		s, cl := stuckPair(t)
		c := add(t, e, s, 0)
		c.Join(0)
		fillUntilBehind(t, e, c, 0, 2)
		reason := errors.New("kicked")
		c.Close(reason)
		// The catch-up goroutine, blocked writing for up to a minute, ends now.
		if err := c.Flush(); err != reason {
			t.Errorf("Flush = %v, want %v", err, reason)
		}
		if behind(c) {
			t.Error("still behind after Close")
		}
		// The peer sees the connection end (EOF or a reset) without waiting
		// for the write timeout.
		if _, err := io.Copy(io.Discard, cl); err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("peer: %v", err)
		}
	})
}

// TestKeepAlive: the keep-alive frame is written after idle of silence,
// and again after each further idle, but not while broadcasts are more
// frequent than idle.
func TestKeepAlive(t *testing.T) {
	const idle = 300 * time.Millisecond
	e := newEngine(t, Config{Workers: 1})
	s, cl := tcpPair(t)
	c := add(t, e, s, 0)
	c.Join(0)
	type line struct {
		text string
		at   time.Time
	}
	lines := make(chan line, 100)
	ctx := t.Context()
	go func() {
		sc := bufio.NewScanner(cl)
		for sc.Scan() {
			select {
			case lines <- line{sc.Text(), time.Now()}:
			case <-ctx.Done():
				return
			}
		}
		close(lines)
	}()

	// Busy: a broadcast every idle/4. A keep-alive written between
	// broadcasts i-1 and i arrives between their frames; it is allowed
	// only if the writes could have been idle apart: gap[i] bounds that,
	// from before the Broadcast of i-1 to after the Sync of i.
	const busy = 12
	var gaps []time.Duration
	prev := time.Now() // the keep-alive's clock starts in KeepAlive
	c.KeepAlive(idle, []byte(":\n"))
	c.KeepAlive(time.Second, []byte("!\n")) // no effect: once only
	var lastBefore time.Time
	for seq := range busy {
		time.Sleep(idle / 4) // pacing, not synchronisation
		before := time.Now()
		e.Broadcast(int64(seq), [][]byte{[]byte("b" + strconv.Itoa(seq) + "\n")}, nil)
		e.Sync()
		gaps = append(gaps, time.Since(prev))
		prev, lastBefore = before, before
	}
	checked := 0
	for seq := 0; seq < busy; {
		l := <-lines
		switch l.text {
		case ":":
			if gaps[seq] < idle {
				t.Fatalf("keep-alive before b%d, though the writes were at most %v apart", seq, gaps[seq])
			}
			t.Logf("keep-alive before b%d: the machine was busy (%v)", seq, gaps[seq])
		case "b" + strconv.Itoa(seq):
			if gaps[seq] < idle {
				checked++
			}
			seq++
		default:
			t.Fatalf("got %q, want b%d", l.text, seq)
		}
	}
	if checked == 0 {
		t.Skip("the machine is too busy to pace broadcasts within idle")
	}

	// Silent: a keep-alive after idle, then another.
	for i := range 2 {
		l, ok := <-lines
		if !ok || l.text != ":" {
			t.Fatalf("got %q (%v), want keep-alive %d", l.text, ok, i)
		}
		if i == 0 && l.at.Sub(lastBefore) < idle {
			t.Errorf("keep-alive %v after the last broadcast, before idle (%v)", l.at.Sub(lastBefore), idle)
		}
	}
}

// TestNetConn: NetConn reads from the socket, writes a copy of the
// caller's buffer through the Conn (in order with the broadcasts, queued
// when behind), and Close finishes the Conn.
func TestNetConn(t *testing.T) {
	e := newEngine(t, Config{Workers: 1, WriteTimeout: time.Minute})
	s, cl := stuckPair(t)
	c := add(t, e, s, 0)
	c.Join(0)
	nc := c.NetConn()
	if _, err := cl.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(nc, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("NetConn read %q, %v", buf, err)
	}
	sent := fillUntilBehind(t, e, c, 0, 1)
	p := frame('N', 0, 100)
	if n, err := nc.Write(p); n != len(p) || err != nil {
		t.Fatalf("NetConn.Write = %d, %v", n, err)
	}
	for i := range p { // a library reuses its buffer
		p[i] = 0xFF
	}
	seq := len(sent)
	if n := syncBroadcast(e, seq, frame('B', seq, 10)); n[0] != 1 {
		t.Fatal("broadcast not taken")
	}
	if err := nc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write([]byte("x")); err == nil {
		t.Error("NetConn.Write after Close succeeded")
	}
	if err := c.Err(); err != nil {
		t.Fatalf("closed before its queue was written: %v", err)
	}
	want := append(sent, parsed{'N', 0, 100}, parsed{'B', seq, 10})
	expectFrames(t, frameReader(t, cl), want, true)
	if err := c.Err(); err != ErrClosed {
		t.Errorf("Err = %v, want ErrClosed", err)
	}
}

// hidden hides the socket's SyscallConn, as a TLS connection would.
type hidden struct{ net.Conn }

// TestNoRawSocket: a connection without a raw socket takes the slow path
// for every frame and still gets all of them in order, then has no
// goroutine left.
func TestNoRawSocket(t *testing.T) {
	// Every frame queues; a big MaxQueue keeps a catch-up goroutine slow to
	// be scheduled (busy machine) from counting as a slow client.
	e := newEngine(t, Config{Workers: 2, MaxQueue: 1 << 10})
	s, cl := tcpPair(t)
	c := add(t, e, hidden{s}, 0)
	if c.Direct() {
		t.Fatal("Direct without a raw socket")
	}
	c.Join(0)
	frames := frameReader(t, cl)
	var want []parsed
	for i := range 40 {
		size := 1 + i*4099%50000
		if n := syncBroadcast(e, i, frame('B', i, size)); n[0] != 1 {
			t.Fatalf("broadcast %d: %v", i, c.Err())
		}
		if err := c.Write(frame('W', i, i)); err != nil {
			t.Fatal(err)
		}
		want = append(want, parsed{'B', i, size}, parsed{'W', i, i})
	}
	expectFrames(t, frames, want, false)
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if behind(c) {
		t.Error("a catch-up goroutine is left after Flush")
	}
	c.Finish(frame('L', 0, 3))
	expectFrames(t, frames, []parsed{{'L', 0, 3}}, true)
}
