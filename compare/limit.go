package compare

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
)

// connLimit caps open streams, in total and per client IP, so that one
// runaway page (a reconnect loop in a tab, say) cannot take every file
// descriptor of the machine. A zero cap means no cap.
type connLimit struct {
	max, maxPerIP int

	mu    sync.Mutex
	open  int
	perIP map[string]int
}

// retryAfterFull is the Retry-After, in seconds, of a refusal for being full.
const retryAfterFull = 5

// acquire takes a slot for r's client, or answers 503 with Retry-After and
// returns false. Call release when the stream ends.
func (l *connLimit) acquire(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	ip := clientIP(r)
	l.mu.Lock()
	var why string
	switch {
	case l.max > 0 && l.open >= l.max:
		why = "server full: " + strconv.Itoa(l.max) + " connections open"
	case l.maxPerIP > 0 && l.perIP[ip] >= l.maxPerIP:
		why = "too many connections from " + ip + ": " + strconv.Itoa(l.maxPerIP) + " open"
	}
	if why != "" {
		l.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterFull))
		httpError(w, http.StatusServiceUnavailable, why)
		return nil, false
	}
	l.open++
	if l.perIP == nil {
		l.perIP = map[string]int{}
	}
	l.perIP[ip]++
	l.mu.Unlock()

	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.open--
			if l.perIP[ip]--; l.perIP[ip] <= 0 {
				delete(l.perIP, ip)
			}
		})
	}, true
}

// limited wraps a streaming endpoint with the cap. The slot is released
// when the handler returns, unless the handler has taken it over for a
// connection that outlives it (Server.detach).
func (l *connLimit) limited(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release, ok := l.acquire(w, r)
		if !ok {
			return
		}
		slot := &connSlot{release: release}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), connSlotKey{}, slot)))
		if !slot.taken {
			release()
		}
	})
}

// connSlot is a request's place under the cap, in its context.
type connSlot struct {
	release func()
	taken   bool // by detach: released when the connection ends
}

type connSlotKey struct{}

// detach is for a handler that hands its connection over (to the fan-out
// engine) and returns while the connection lives on: it takes over the
// request's slot under the cap, and counts the connection as in flight, so
// that Shutdown waits for it. Call done, once, when the connection ends.
func (s *Server) detach(r *http.Request) (done func()) {
	release := func() {}
	if slot, ok := r.Context().Value(connSlotKey{}).(*connSlot); ok {
		slot.taken = true
		release = slot.release
	}
	s.inFlight.enter()
	return func() {
		release()
		s.inFlight.leave()
	}
}

// clientIP is the peer's address without the port. Behind a proxy it is
// the proxy's; the cap then applies to the proxy as a whole.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
