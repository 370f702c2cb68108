package probe

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/ssevsws/ssevsws/compare/probe/internal/wire"
)

// floorServer is the sweep's floor: the least a server can do to send a
// tick to N clients. It answers each connection's request with the least
// head the client accepts (SSE: 200 with a chunked event stream; WebSocket:
// 101 with the accept key), keeps the socket's descriptor and nothing else
// (no goroutine, no buffer), and publishes by one plain loop of write(2)
// calls of the same pre-encoded bytes, one per socket.
type floorServer struct {
	ln net.Listener

	mu       sync.Mutex
	conns    []net.Conn
	fds      []uintptr
	changed  chan struct{} // closed and replaced when conns grows
	err      error         // the accept loop's end
	accepted sync.WaitGroup
}

func newFloorServer() (*floorServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &floorServer{ln: ln, changed: make(chan struct{})}
	f.accepted.Go(f.acceptLoop)
	return f, nil
}

func (f *floorServer) addr() string { return f.ln.Addr().String() }

// acceptLoop takes connections one at a time, answering each request
// before the next accept: the handshake is not what the floor measures.
func (f *floorServer) acceptLoop() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			f.mu.Lock()
			f.err = err
			close(f.changed)
			f.mu.Unlock()
			return
		}
		fd, err := floorHandshake(c)
		if err != nil {
			c.Close()
			continue // the client will say so
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.fds = append(f.fds, fd)
		close(f.changed)
		f.changed = make(chan struct{})
		f.mu.Unlock()
	}
}

// floorHandshake reads a request head and answers it: a WebSocket upgrade
// (it has Sec-WebSocket-Key) with 101, anything else with an SSE head. It
// returns the socket's descriptor.
func floorHandshake(c net.Conn) (uintptr, error) {
	br := bufio.NewReaderSize(c, 512)
	var key []byte
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if k, ok := bytes.CutPrefix(line, []byte("Sec-WebSocket-Key:")); ok {
			key = bytes.Clone(bytes.TrimSpace(k))
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
	}
	resp := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
	if key != nil {
		accept := wire.AcceptKey(key)
		resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
			string(accept[:]) + "\r\n\r\n"
	}
	if _, err := c.Write([]byte(resp)); err != nil {
		return 0, err
	}
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return 0, err
	}
	var fd uintptr
	if err := rc.Control(func(d uintptr) { fd = d }); err != nil {
		return 0, err
	}
	return fd, nil
}

// wait waits until the floor holds n connections.
func (f *floorServer) wait(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		got, changed, err := len(f.conns), f.changed, f.err
		f.mu.Unlock()
		switch {
		case got >= n:
			return nil
		case err != nil:
			return fmt.Errorf("the floor holds %d connections, want %d: %w", got, n, err)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("the floor holds %d connections, want %d: %w", got, n, context.Cause(ctx))
		}
	}
}

// publish writes frame to every connection: one write(2) per socket, on
// the descriptor itself. A socket that does not take the whole frame at
// once (never, while the clients keep up) gets the rest through the
// net.Conn, which waits.
func (f *floorServer) publish(frame []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, fd := range f.fds {
		n, err := writeFD(fd, frame)
		if err != nil || n < len(frame) {
			f.conns[i].Write(frame[max(n, 0):])
		}
	}
}

// closeAll closes every connection the floor holds.
func (f *floorServer) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
	f.conns, f.fds = nil, nil
}

// close stops accepting and closes every connection.
func (f *floorServer) close() {
	f.ln.Close()
	f.accepted.Wait()
	f.closeAll()
}
