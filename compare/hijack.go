package compare

import (
	"net"
	"sync"
)

// hijacked is the set of connections taken over by the WebSocket handler
// (its ws.ConnSet). http.Server forgets a connection once it is hijacked,
// so without this set Shutdown could not cut a WebSocket whose client is
// stuck.
type hijacked struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (hj *hijacked) Add(c net.Conn) {
	hj.mu.Lock()
	defer hj.mu.Unlock()
	if hj.conns == nil {
		hj.conns = make(map[net.Conn]struct{})
	}
	hj.conns[c] = struct{}{}
}

func (hj *hijacked) Remove(c net.Conn) {
	hj.mu.Lock()
	defer hj.mu.Unlock()
	delete(hj.conns, c)
}

// closeAll closes every connection in the set and says how many there were.
func (hj *hijacked) closeAll() int {
	hj.mu.Lock()
	defer hj.mu.Unlock()
	for c := range hj.conns {
		c.Close()
	}
	return len(hj.conns)
}
