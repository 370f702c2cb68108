package compare

import (
	"crypto/subtle"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gorilla/mux"
	"github.com/rs/cors"

	"github.com/ssevsws/ssevsws/web"
	"github.com/ssevsws/ssevsws/ws"
)

// routes builds the router:
//
//	GET  /        the page (and its assets)
//	GET  /sse     the clock as Server-Sent Events
//	GET  /ws      the clock as WebSocket messages, chat echo on the same socket
//	POST /chat    the SSE back channel: the echo arrives on the client's stream
//	GET  /stats   counters per transport, JSON
//	GET  /metrics the same counters in the Prometheus text format
//	POST /drop    close one transport's connections (loopback or token only)
//	POST /measure run Config.Measure, 501 without one (same rule as /drop)
//	GET  /healthz liveness
//
// CORS (rs/cors) covers the endpoints a page from another origin may read:
// /sse, /chat, /stats and /metrics. /ws checks origins itself: browsers do not apply
// CORS to WebSocket, they send Origin and leave the decision to the server.
func (s *Server) routes() http.Handler {
	r := mux.NewRouter()
	// route registers h for methods only, each wrapped by wrap (rs/cors on
	// the CORS endpoints). OPTIONS never reaches h: it is answered with the
	// Allow header alone, and on the CORS endpoints a preflight (OPTIONS
	// with Access-Control-Request-Method) is answered by rs/cors. A plain
	// OPTIONS must not open a stream past the connection cap, drop
	// connections or queue a chat.
	route := func(wrap func(http.Handler) http.Handler, path string, h http.Handler, methods ...string) {
		r.Handle(path, wrap(h)).Methods(methods...)
		r.Handle(path, wrap(allowOnly(methods))).Methods(http.MethodOptions)
		// Any other method on a known path is a 405, not the page's 404.
		r.Handle(path, methodNotAllowed(methods))
	}
	handle := func(path string, h http.Handler, methods ...string) {
		route(func(h http.Handler) http.Handler { return h }, path, h, methods...)
	}

	allowed := make(map[string]bool, len(s.cfg.Origins))
	for _, o := range s.cfg.Origins {
		allowed[strings.ToLower(o)] = true
	}
	c := cors.New(cors.Options{
		// Not AllowedOrigins: rs/cors takes an empty list to mean "every
		// origin", but without -origins no other origin may read these.
		AllowOriginFunc: func(origin string) bool { return allowed[strings.ToLower(origin)] },
		AllowedMethods:  []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:  []string{"Content-Type", "Last-Event-ID", "Cache-Control"},
		MaxAge:          600,
	})
	wsh := &ws.Handler{
		Subscribe:      s.subscribeWS,
		Instance:       s.cfg.Instance,
		Engine:         s.engine,
		OriginPatterns: s.cfg.Origins, // "scheme://host:port" patterns match exactly that origin
		ReadLimit:      s.cfg.ReadLimit,
		PingInterval:   s.cfg.PingInterval,
		PongTimeout:    s.cfg.PongTimeout,
		WriteTimeout:   s.cfg.WriteTimeout,
		Logger:         s.log,
		Conns:          &s.hijacked, // so that Shutdown can cut a stuck one
	}

	route(c.Handler, "/sse", s.limit.limited(http.HandlerFunc(s.serveSSE)), http.MethodGet)
	route(c.Handler, "/chat", http.HandlerFunc(s.serveChat), http.MethodPost)
	route(c.Handler, "/stats", http.HandlerFunc(s.serveStats), http.MethodGet)
	route(c.Handler, "/metrics", s.metricsHandler(), http.MethodGet) // the same counters, for Prometheus
	handle("/ws", s.limit.limited(wsh), http.MethodGet)              // refused before the upgrade, with a status
	handle("/drop", http.HandlerFunc(s.serveDrop), http.MethodPost)
	handle("/measure", http.HandlerFunc(s.serveMeasure), http.MethodPost)
	handle("/healthz", http.HandlerFunc(s.serveHealth), http.MethodGet, http.MethodHead)
	r.PathPrefix("/").Handler(web.Handler()).Methods(http.MethodGet, http.MethodHead)

	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	})
	return r
}

// allowOnly answers a plain OPTIONS request: 204 with the methods the path
// takes, and nothing else happens.
func allowOnly(methods []string) http.Handler {
	allow := strings.Join(slices.Concat(methods, []string{http.MethodOptions}), ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		w.WriteHeader(http.StatusNoContent)
	})
}

// methodNotAllowed answers 405 with the Allow header a client needs.
func methodNotAllowed(methods []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", strings.Join(methods, ", "))
		httpError(w, http.StatusMethodNotAllowed, r.Method+" not allowed on "+r.URL.Path+"; use "+strings.Join(methods, " or "))
	})
}

func (s *Server) serveStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	if s.hub.isClosed() {
		httpError(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// serveDrop is POST /drop?transport=sse|ws[&mode=close|silent]. It closes
// that transport's connections so that a class can watch both reconnect,
// or (mode=silent, silence.go) makes them silent so that a class can watch
// each client's watchdog notice. It is allowed from
// loopback, or from anywhere with the token the server prints at start
// (Authorization: Bearer <token>), and never from a page of a foreign origin.
func (s *Server) serveDrop(w http.ResponseWriter, r *http.Request) {
	if !s.dropAllowed(r) {
		httpError(w, http.StatusForbidden, "drop is allowed without the token only on this machine, as http://localhost:<port> or a loopback address; else send the token printed at start (Authorization: Bearer <token>, or open the page as /?token=<token>)")
		return
	}
	t := Transport(r.URL.Query().Get("transport"))
	if t != SSE && t != WS {
		httpError(w, http.StatusBadRequest, "transport must be sse or ws")
		return
	}
	switch mode := r.URL.Query().Get("mode"); mode {
	case "", "close":
		n := s.hub.drop(t)
		s.log.Info("dropped connections on request", "transport", t, "dropped", n, "remote", r.RemoteAddr)
		writeJSON(w, http.StatusOK, map[string]int{"dropped": n})
	case "silent":
		d := s.silentFor()
		n := s.hub.silence(t, d)
		s.log.Info("silenced connections on request", "transport", t, "silenced", n, "close_after", d, "remote", r.RemoteAddr)
		writeJSON(w, http.StatusOK, map[string]int64{"silenced": int64(n), "close_after_ms": d.Milliseconds()})
	default:
		httpError(w, http.StatusBadRequest, "mode must be close (the default) or silent")
	}
}

func (s *Server) dropAllowed(r *http.Request) bool {
	// A simple cross-origin POST needs no preflight, so without this check
	// any web page could drop a teacher's connections through the browser.
	if o := r.Header.Get("Origin"); o != "" && !s.sameOrAllowedOrigin(r, o) {
		return false
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.DropToken)) == 1
	}
	// Without the token: a loopback peer that also asked for a loopback
	// name. A loopback peer alone is not enough: with DNS rebinding a
	// foreign page reaches 127.0.0.1 under its own name, and then its
	// Origin and Host agree with each other.
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback() && isLoopbackName(r.Host)
}

// isLoopbackName reports whether a Host header names this machine's
// loopback: localhost (or a name under .localhost) or a loopback address.
func isLoopbackName(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func (s *Server) sameOrAllowedOrigin(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, o := range s.cfg.Origins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// httpError answers with a JSON error body, so every client, the page
// included, can show the reason next to the status.
func httpError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
