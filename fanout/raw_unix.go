//go:build unix

package fanout

import (
	"net"
	"syscall"
)

// rawWriter writes to one socket directly. Its write function is made once
// per connection: a closure made per write would escape to the heap (the
// RawConn takes it as a func value), three allocations per delivery.
type rawWriter struct {
	rc    syscall.RawConn
	write func(fd uintptr) bool

	// The call's input and results, under the connection's lock.
	p   []byte
	n   int
	err error
}

// newRawWriter is nc's raw writer if the Engine can write to it directly.
func newRawWriter(nc net.Conn) *rawWriter {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil // TLS, a pipe, a wrapper: the slow path
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &rawWriter{rc: rc}
	w.write = w.writeFD
	return w
}

// writeNow writes as much of p as the socket takes without waiting: one
// write(2) on a non-blocking socket (Go opens every socket non-blocking),
// a second only after a short one, which then says EAGAIN. RawConn.Write
// holds the socket's write lock and fails if it is closed or its write
// deadline has passed.
func (w *rawWriter) writeNow(p []byte) (n int, err error) {
	w.p, w.n, w.err = p, 0, nil
	werr := w.rc.Write(w.write)
	n, err = w.n, w.err
	w.p, w.err = nil, nil
	if err == nil {
		err = werr
	}
	return n, err
}

func (w *rawWriter) writeFD(fd uintptr) bool {
	for w.n < len(w.p) {
		m, e := syscall.Write(int(fd), w.p[w.n:])
		if m > 0 {
			w.n += m
		}
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return true
		case e != nil:
			w.err = e
			return true
		case m <= 0:
			return true
		}
	}
	return true
}
