package benchmarks

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// rawFloor is the raw floor of a steady load: a server that streams the
// same ticks as the real one, on the same wall-clock grid, to clients that
// cannot tell the difference, and does the least any server can to do it.
// After a minimal handshake (for SSE a 200 head announcing a chunked event
// stream; for WebSocket a 101 with the Sec-WebSocket-Accept, computed by
// hand) a connection has no goroutine, no queue and no deadline: one loop
// encodes each tick once per transport and write(2)s the same bytes to
// every socket in turn. BenchmarkSteady and BenchmarkSoak run their load
// against it in the same run, and report the server as a ratio to it:
// on loopback a write also runs the receiver's TCP path, so the floor is
// most of a tick's cost, and it moves with the machine.
//
// The loop waits for a socket that cannot take a tick (the benchmarks'
// clients always read), and drops a connection whose write fails.
type rawFloor struct {
	ln    net.Listener
	clock *compare.Clock // nil: a paced floor, which publishes when told
	stop  chan struct{}
	wg    sync.WaitGroup

	mu     sync.Mutex // held for a whole tick's loop, and to add a connection
	conns  [2][]net.Conn
	frames [2][]byte // the newest tick, encoded for each transport
	last   int64     // its seq
	hands  map[net.Conn]bool
}

// floorIndex is a transport's place in rawFloor's arrays.
func floorIndex(t compare.Transport) int {
	if t == compare.SSE {
		return 0
	}
	return 1
}

// startFloor serves the floor on 127.0.0.1 with a tick every interval.
func startFloor(interval time.Duration) (*rawFloor, error) {
	clock := compare.NewClock(interval, compare.MinReplay)
	f, err := listenFloor(clock.Tick(clock.SeqAt(time.Now())))
	if err != nil {
		return nil, err
	}
	f.clock = clock
	f.wg.Go(f.run)
	return f, nil
}

// startPacedFloor serves the floor on 127.0.0.1 without a clock: a
// connection gets first, then whatever publishTick publishes, when the
// caller publishes it (BenchmarkSteady, which paces the floor and the
// server in turn).
func startPacedFloor(first compare.Tick) (*rawFloor, error) { return listenFloor(first) }

func listenFloor(first compare.Tick) (*rawFloor, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &rawFloor{ln: ln, stop: make(chan struct{}), hands: map[net.Conn]bool{}}
	f.encode(first)
	f.wg.Go(f.accept)
	return f, nil
}

// URL is the floor's root URL, for probe.NewTarget and the load processes.
func (f *rawFloor) URL() string { return "http://" + f.ln.Addr().String() + "/" }

// open is how many connections of each transport the floor holds.
func (f *rawFloor) open() (sse, ws int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(len(f.conns[0])), int64(len(f.conns[1]))
}

func (f *rawFloor) encode(tick compare.Tick) {
	for _, t := range compare.Transports {
		f.frames[floorIndex(t)] = probe.WireTick(t, tick)
	}
	f.last = tick.Seq
}

func (f *rawFloor) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.hands[c] = true // so that close can cut a handshake short
		f.mu.Unlock()
		f.wg.Go(func() { f.handshake(c) })
	}
}

// handshake reads the request, answers it, and hands the connection to
// the loop with the newest tick, as the real server sends the current tick
// first. Nothing of the connection is left running once it returns.
func (f *rawFloor) handshake(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	t, head, err := floorHandshake(bufio.NewReaderSize(c, 1024))
	c.SetReadDeadline(time.Time{})
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.hands[c] { // closed meanwhile
		return
	}
	delete(f.hands, c)
	if err == nil {
		i := floorIndex(t)
		_, err = c.Write(append(head, f.frames[i]...))
		if err == nil {
			f.conns[i] = append(f.conns[i], c)
			return
		}
	}
	c.Close()
}

// floorHandshake reads an SSE or WebSocket request and returns the
// response head for it.
func floorHandshake(br *bufio.Reader) (compare.Transport, []byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return "", nil, err
	}
	var t compare.Transport
	switch {
	case bytes.HasPrefix(line, []byte("GET /sse")):
		t = compare.SSE
	case bytes.HasPrefix(line, []byte("GET /ws")):
		t = compare.WS
	default:
		return "", nil, fmt.Errorf("floor: request %q", line)
	}
	var key []byte
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return "", nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		if name, value, _ := bytes.Cut(line, []byte(":")); bytes.EqualFold(name, []byte("Sec-WebSocket-Key")) {
			key = append(key, bytes.TrimSpace(value)...)
		}
	}
	if t == compare.SSE {
		return t, []byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"), nil
	}
	if len(key) == 0 {
		return "", nil, errors.New("floor: WebSocket request without a key")
	}
	sum := sha1.Sum(append(key, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"...))
	return t, []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"), nil
}

// run publishes a tick at the start of every interval, as the real
// server's clock does: it sleeps until the next tick's own time, and
// publishes every tick it missed if it wakes late.
func (f *rawFloor) run() {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		f.mu.Lock()
		next := f.last + 1
		f.mu.Unlock()
		timer.Reset(time.Until(f.clock.TimeOf(next)))
		select {
		case <-f.stop:
			return
		case now := <-timer.C:
			for seq := next; seq <= f.clock.SeqAt(now); seq++ {
				f.publish(seq)
			}
		}
	}
}

// publish publishes tick seq of the floor's clock.
func (f *rawFloor) publish(seq int64) { f.publishTick(f.clock.Tick(seq)) }

// publishTick is the floor's whole fan-out: encode once, write to each
// socket. It returns once every socket has the tick.
func (f *rawFloor) publishTick(tick compare.Tick) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.encode(tick)
	for i := range f.conns {
		frame, kept := f.frames[i], f.conns[i][:0]
		for _, c := range f.conns[i] {
			if _, err := c.Write(frame); err != nil {
				c.Close()
				continue
			}
			kept = append(kept, c)
		}
		clear(f.conns[i][len(kept):])
		f.conns[i] = kept
	}
}

// lastSeq is the seq of the newest tick the floor published.
func (f *rawFloor) lastSeq() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// close stops the floor and closes every connection.
func (f *rawFloor) close() {
	f.ln.Close()
	close(f.stop)
	f.mu.Lock()
	for c := range f.hands {
		c.Close()
	}
	clear(f.hands)
	for i := range f.conns {
		for _, c := range f.conns[i] {
			c.Close()
		}
		f.conns[i] = nil
	}
	f.mu.Unlock()
	f.wg.Wait()
}
