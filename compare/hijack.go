package compare

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// hijacked is the set of connections taken over by WebSocket handlers.
// http.Server forgets a connection once it is hijacked, so without this set
// Shutdown could not cut a WebSocket whose client is stuck.
type hijacked struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// track serves h with Hijack intercepted: the connection is in the set from
// the hijack until h returns.
func (hj *hijacked) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w, set: hj}
		defer tw.forget()
		h.ServeHTTP(tw, r)
	})
}

// closeAll closes every tracked connection and says how many there were.
func (hj *hijacked) closeAll() int {
	hj.mu.Lock()
	defer hj.mu.Unlock()
	for c := range hj.conns {
		c.Close()
	}
	return len(hj.conns)
}

// trackingWriter is the ResponseWriter a tracked handler sees.
type trackingWriter struct {
	http.ResponseWriter
	set  *hijacked
	conn net.Conn
}

func (tw *trackingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(tw.ResponseWriter).Hijack()
	if err == nil {
		tw.set.mu.Lock()
		if tw.set.conns == nil {
			tw.set.conns = make(map[net.Conn]struct{})
		}
		tw.set.conns[c] = struct{}{}
		tw.set.mu.Unlock()
		tw.conn = c
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the writer's other methods.
func (tw *trackingWriter) Unwrap() http.ResponseWriter { return tw.ResponseWriter }

func (tw *trackingWriter) forget() {
	if tw.conn == nil {
		return
	}
	tw.set.mu.Lock()
	delete(tw.set.conns, tw.conn)
	tw.set.mu.Unlock()
}
