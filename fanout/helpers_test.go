package fanout

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// safety bounds a wait that only a failure would make long. It is never how
// a test synchronises.
const safety = 30 * time.Second

// tcpPair returns both ends of a fresh loopback TCP connection; the test's
// cleanup closes them.
func tcpPair(t testing.TB) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept() // nil on error: the Dial below fails too
		accepted <- c
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		ln.Close()
		<-accepted
		t.Fatal(err)
	}
	sc := <-accepted
	if sc == nil {
		cc.Close()
		t.Fatal("accept failed")
	}
	server, client = sc.(*net.TCPConn), cc.(*net.TCPConn)
	t.Cleanup(func() {
		server.Close()
		client.Close()
	})
	// A reader that waits for data that never comes fails instead of hanging.
	client.SetReadDeadline(time.Now().Add(safety))
	return server, client
}

// stuckPair is tcpPair with small kernel buffers on the way from server to
// client (set before any data flows), so that a client that does not read
// fills them with a few big frames. Not smaller: on loopback (MSS 64 KiB) a
// receive window below the MSS stalls the sender to zero-window probes, a
// few KB every 200ms, once the client reads again.
func stuckPair(t testing.TB) (server, client *net.TCPConn) {
	t.Helper()
	server, client = tcpPair(t)
	if err := server.SetWriteBuffer(4096); err != nil {
		t.Fatal(err)
	}
	if err := client.SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	return server, client
}

// newEngine starts an Engine that the test's cleanup closes (after the
// connections, whose cleanups are registered later).
func newEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e := New(cfg)
	t.Cleanup(e.Close)
	return e
}

// add adds nc to e; the test's cleanup closes the Conn.
func add(t testing.TB, e *Engine, nc net.Conn, kind int) *Conn {
	t.Helper()
	c, err := e.Add(nc, kind)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(nil) })
	return c
}

// behind reports whether c has a catch-up goroutine (the slow path) now.
func behind(c *Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.caughtUp != nil
}

// joined reports whether c is in its shard's list of broadcast receivers.
func joined(c *Conn) bool {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	return c.idx >= 0
}

type readResult struct {
	data []byte
	err  error
}

// readAll reads r to its end in the background.
func readAll(r io.Reader) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		data, err := io.ReadAll(r)
		ch <- readResult{data, err}
	}()
	return ch
}

// A test frame is a tag byte, a seq and a payload length (uint32 each), then
// the payload, each byte of which depends on tag, seq and position: a reader
// detects a frame that is cut short, interleaved with another, shifted or
// altered.
const frameHeader = 9

func frame(tag byte, seq, size int) []byte {
	p := make([]byte, frameHeader+size)
	p[0] = tag
	binary.BigEndian.PutUint32(p[1:], uint32(seq))
	binary.BigEndian.PutUint32(p[5:], uint32(size))
	for i := range size {
		p[frameHeader+i] = payloadByte(tag, seq, i)
	}
	return p
}

func payloadByte(tag byte, seq, i int) byte { return byte(int(tag) + seq*131 + i*7 + i>>8) }

type parsed struct {
	tag  byte
	seq  int
	size int
}

func (f parsed) String() string { return fmt.Sprintf("%c%d(%d)", f.tag, f.seq, f.size) }

// readFrame reads and checks one test frame.
func readFrame(r *bufio.Reader) (parsed, error) {
	var h [frameHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return parsed{}, err
	}
	f := parsed{h[0], int(binary.BigEndian.Uint32(h[1:])), int(binary.BigEndian.Uint32(h[5:]))}
	if f.size > 1<<20 {
		return f, fmt.Errorf("frame %v: implausible size (interleaved bytes?)", f)
	}
	for i := range f.size {
		b, err := r.ReadByte()
		if err != nil {
			return f, fmt.Errorf("frame %v cut at %d: %w", f, i, err)
		}
		if want := payloadByte(f.tag, f.seq, i); b != want {
			return f, fmt.Errorf("frame %v: byte %d is %#x, want %#x (interleaved or altered)", f, i, b, want)
		}
	}
	return f, nil
}

type frameOrErr struct {
	f   parsed
	err error // set on the last one: io.EOF at a clean end
}

// frameReader reads test frames from r in the background until an error,
// which it sends last. It stops when the test ends. Its buffer is big enough
// that it never stops reading because the test has not consumed yet.
func frameReader(t testing.TB, r io.Reader) <-chan frameOrErr {
	ch := make(chan frameOrErr, 1<<14)
	ctx := t.Context()
	go func() {
		br := bufio.NewReader(r)
		for {
			f, err := readFrame(br)
			select {
			case ch <- frameOrErr{f, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// expectFrames reads from frames exactly want, in order, then the end of
// the stream (io.EOF) if eof.
func expectFrames(t testing.TB, frames <-chan frameOrErr, want []parsed, eof bool) {
	t.Helper()
	timeout := time.After(safety)
	for i := 0; i < len(want) || eof; i++ {
		var got frameOrErr
		select {
		case got = <-frames:
		case <-timeout:
			t.Fatalf("timed out waiting for frame %d of %d", i, len(want))
		}
		switch {
		case i == len(want):
			if got.err != io.EOF {
				t.Fatalf("after the %d frames expected: got %v, %v; want EOF", len(want), got.f, got.err)
			}
			return
		case got.err != nil:
			t.Fatalf("frame %d: want %v, got error %v", i, want[i], got.err)
		case got.f != want[i]:
			t.Fatalf("frame %d: got %v, want %v", i, got.f, want[i])
		}
	}
}

// syncBroadcast broadcasts frames as seq, waits for it to be written, and
// returns how many connections of each kind took it.
func syncBroadcast(e *Engine, seq int, frames ...[]byte) (perKind [maxKinds]int) {
	ch := make(chan [maxKinds]int, len(e.shards))
	e.Broadcast(int64(seq), frames, func(n []int) { ch <- [maxKinds]int(n) })
	e.Sync()
	for range e.shards {
		n := <-ch // Sync returned: every shard has called delivered
		for k := range perKind {
			perKind[k] += n[k]
		}
	}
	return perKind
}

// fillUntilBehind broadcasts big frames (seq first, first+1, ...) to c,
// a kind-0 connection whose client does not read, until c is on the slow
// path with the kernel's buffers surely full (they take about 170 KB), then
// extra more, which queue behind. It returns the frames sent.
func fillUntilBehind(t testing.TB, e *Engine, c *Conn, first, extra int) []parsed {
	t.Helper()
	const size, fill = 64 << 10, 8 // fill frames: 512 KiB
	var sent []parsed
	send := func() {
		seq := first + len(sent)
		if n := syncBroadcast(e, seq, frame('B', seq, size)); n[0] != 1 {
			t.Fatalf("broadcast %d taken by %d connections, want 1 (Err: %v)", seq, n[0], c.Err())
		}
		sent = append(sent, parsed{'B', seq, size})
	}
	for len(sent) < fill || !behind(c) {
		if len(sent) == 64 {
			t.Fatal("the connection never fell behind")
		}
		send()
	}
	for range extra {
		send()
	}
	if !behind(c) {
		t.Fatal("a connection whose client does not read caught up")
	}
	return sent
}
