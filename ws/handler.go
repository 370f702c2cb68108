//go:build !js

package ws

import (
	"bufio"
	"bytes"
	"errors"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/ssevsws/ssevsws/fanout"
)

// Defaults for the zero values of Handler's limits.
const (
	DefaultReadLimit    = 4 << 10          // bytes in one client message
	DefaultPingInterval = 20 * time.Second // well under the 60 s idle timeout of common proxies
	DefaultWriteTimeout = 10 * time.Second // a client that cannot take a message in this long is gone
)

// closeHandshakeTimeout bounds how long the server waits for a client to
// answer its close frame.
const closeHandshakeTimeout = time.Second

// A Feed is what the server pushes to one connection besides what it
// broadcasts. The Handler asks for one per connection (Handler.Subscribe).
type Feed interface {
	// Client is the id the hello message announces.
	Client() string
	// Backlog yields the messages to send before live ones: a gap, then
	// replayed ticks, in order. It may be empty. The handler writes each
	// and waits until the socket has taken it before asking for the next,
	// so a long backlog never piles up in memory. Live messages, which the
	// server writes through Peer.Conn, must start where the backlog ends.
	Backlog() iter.Seq[[]byte]
	// Chat is asked about every chat message: nil means echo it, an error
	// refuses it (for example a rate limit) with an "error" message.
	Chat(text string) error
	// Wrote reports a message the handler has written (hello, backlog,
	// echo or error), for stats. Live messages are the server's to count.
	Wrote(msg []byte)
	// Close releases the feed; the handler calls it once, when the
	// connection has ended for any reason.
	Close()
}

// A Feed may also be a WriteFailer. When the engine dropped the client as
// too slow (it fell behind by a whole queue, or took nothing for a whole
// WriteTimeout), the handler says so, with an error that is
// fanout.ErrTooSlow, before it calls Close: so that the server can count it
// as too slow rather than gone. Other endings are not reported.
type WriteFailer interface {
	WriteFailed(err error)
}

// A Feed may also be a Greeter: its Hello is the connection's first
// message instead of the plain {"type":"hello","client":Client()}.
type Greeter interface {
	Hello() Message
}

// Handler serves the WebSocket endpoint: ticks down, chat up, echo down, on
// one connection.
//
// A connection has one goroutine of its own, its reader. Everything written
// to it goes through its fanout.Conn: the hello and backlog (written by
// ServeHTTP, which then returns), echoes (written by the reader), the
// server's live messages (broadcast by a fanout.Engine, with no goroutine
// per connection), and coder/websocket's control frames (ping, pong, close,
// which it writes through fanout.Conn.NetConn). So they are written in the
// order they are decided, and never interleaved. A keep-alive ping goes out
// every PingInterval from a timer, and a client that does not answer it
// within WriteTimeout is closed.
type Handler struct {
	// Subscribe returns the feed for a new connection. lastEventID is the raw
	// lastEventId query parameter ("" when absent); the feed decides what it
	// means. p is the connection: the server writes live messages to
	// p.Conn() (framed with AppendFrame, usually by joining broadcasts)
	// and ends it with p.End. An error refuses the connection with 1013
	// (try again later).
	Subscribe func(r *http.Request, lastEventID string, p *Peer) (Feed, error)

	// Engine writes every connection's frames. nil means an Engine of the
	// Handler's own, started on first use with WriteTimeout, whose worker
	// lives as long as the process.
	Engine *fanout.Engine

	// Instance names this server instance in the hello, so that a client
	// behind a load balancer can tell which one holds its connection.
	// Empty: the hello names none.
	Instance string

	// OriginPatterns lists the extra origins allowed to connect, as
	// coder/websocket patterns ("localhost:3000" or "http://localhost:3000").
	// The request's own host is always allowed.
	OriginPatterns []string

	ReadLimit    int64         // largest client message; 0 means DefaultReadLimit
	PingInterval time.Duration // 0 means DefaultPingInterval
	WriteTimeout time.Duration // per write of a client that is behind; 0 means DefaultWriteTimeout
	PongTimeout  time.Duration // how long a ping waits for its pong; 0 means WriteTimeout

	Logger *slog.Logger // nil means slog.Default()

	// Conns, if set, holds every hijacked connection while its session
	// runs. http.Server forgets a connection once it is hijacked, so this
	// is how a server can still cut a stuck one at shutdown.
	Conns ConnSet

	defaultEngine sync.Once
}

// A ConnSet is told of each connection a Handler takes over: Add after the
// upgrade, Remove when its session has ended. Both may be called from many
// goroutines at once.
type ConnSet interface {
	Add(net.Conn)
	Remove(net.Conn)
}

// Peer is the server's handle on one connection, given to Subscribe.
type Peer struct{ s *session }

// Conn is where the connection's frames go: Join it to the server's
// broadcasts, or Write frames made with AppendFrame.
func (p *Peer) Conn() *fanout.Conn { return p.s.out }

// End closes the connection from the server's side, with err's close code
// and reason if err is (or wraps) a websocket.CloseError, else with 1011.
// It returns at once; the close handshake runs in its own goroutine. Only
// the first End (or ending of any kind) counts.
func (p *Peer) End(err error) { p.s.endFromServer(serverEnding(err)) }

// ServeHTTP upgrades the request, writes the hello and the backlog, and
// returns, leaving the connection to its reader and to the server's
// broadcasts.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.logger().With("transport", "ws", "remote", r.RemoteAddr)
	hc := &hijackCapture{ResponseWriter: w, engine: h.engine()}
	conn, err := websocket.Accept(hc, r, &websocket.AcceptOptions{OriginPatterns: h.OriginPatterns})
	if err != nil {
		// Accept has already answered (403 for a foreign origin, 426 or 400
		// for a request that is not a WebSocket handshake).
		log.Info("websocket handshake refused", "origin", r.Header.Get("Origin"), "err", err)
		if hc.out != nil {
			hc.out.Close(err)
		}
		return
	}
	if hc.out == nil { // the engine is closed: the server is shutting down
		hc.conn.SetReadDeadline(time.Now().Add(closeHandshakeTimeout))
		conn.Close(websocket.StatusTryAgainLater, "server shutting down")
		return
	}
	conn.SetReadLimit(h.readLimit())

	s := newSession(h, conn, hc.out, hc.conn, log)
	feed, err := h.Subscribe(r, r.URL.Query().Get("lastEventId"), &Peer{s})
	if err != nil {
		log.Warn("websocket refused", "err", err)
		s.closeWith(ending{code: websocket.StatusTryAgainLater, reason: truncateReason(err.Error()), err: err})
		s.out.Close(err)
		return
	}
	s.start(feed)
}

// hijackCapture passes the ResponseWriter to websocket.Accept and gives it,
// instead of the hijacked connection, the engine's view of it: reads go to
// the socket, writes through the engine (see fanout.Conn.NetConn). The
// buffered writer coder/websocket gets is small: it only writes control
// frames, 125 bytes of payload at most. So is the reader, unless net/http's
// holds bytes the client has already sent.
type hijackCapture struct {
	http.ResponseWriter
	engine *fanout.Engine
	conn   net.Conn     // the hijacked socket
	out    *fanout.Conn // nil if the engine refused it
}

// closeSeals is the connection coder/websocket writes its control frames
// to. A close frame seals the engine's connection as it is written: after
// it no data frame may follow (RFC 6455, 5.5.1), and coder/websocket
// writes one by itself when it answers a client's close or refuses a
// message (1009, over the read limit), before the session knows.
type closeSeals struct {
	net.Conn
	out *fanout.Conn
}

func (c closeSeals) Write(p []byte) (int, error) {
	const opcodeClose = 0x8
	if len(p) == 0 || p[0]&0x0f != opcodeClose {
		return c.Conn.Write(p)
	}
	if err := c.out.WriteAndSeal(bytes.Clone(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// controlFrameBuffer fits the largest control frame: a 14-byte header and
// 125 bytes of payload.
const controlFrameBuffer = 256

func (h *hijackCapture) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return c, rw, err
	}
	h.conn = c
	out, err := h.engine.Add(c, KindFrame)
	if err != nil {
		return c, rw, nil // Accept completes; ServeHTTP sees no out and refuses
	}
	h.out = out
	nc := closeSeals{out.NetConn(), out}
	br := rw.Reader
	if br.Buffered() == 0 {
		// net/http's 4 KiB reader holds nothing the client sent: a small
		// one does as well for chat messages and control frames, and an
		// idle connection keeps 4 KB less.
		br = bufio.NewReaderSize(nc, readBuffer)
	}
	return nc, bufio.NewReadWriter(br, bufio.NewWriterSize(nc, controlFrameBuffer)), nil
}

// readBuffer is the size of a connection's read buffer: a chat message of
// up to the read limit is read through it in several calls.
const readBuffer = 512

func (h *hijackCapture) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// KindFrame is the kind (see fanout.Engine.Add) of the connections a
// Handler adds to its Engine: a broadcast's frame at this index must be a
// frame made with AppendFrame. It is 1, so that a server can broadcast the
// same event to SSE connections as kind 0.
const KindFrame = 1

func (h *Handler) engine() *fanout.Engine {
	h.defaultEngine.Do(func() {
		if h.Engine == nil {
			h.Engine = fanout.New(fanout.Config{WriteTimeout: h.writeTimeout()})
		}
	})
	return h.Engine
}

// serverEnding turns the feed's reason into a close code: the feed's own
// CloseError when it has one, 1011 otherwise.
func serverEnding(err error) ending {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ending{code: ce.Code, reason: ce.Reason, err: err}
	}
	return ending{code: websocket.StatusInternalError, reason: "internal error", err: err}
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

func (h *Handler) readLimit() int64 {
	if h.ReadLimit > 0 {
		return h.ReadLimit
	}
	return DefaultReadLimit
}

func (h *Handler) pingInterval() time.Duration {
	if h.PingInterval > 0 {
		return h.PingInterval
	}
	return DefaultPingInterval
}

func (h *Handler) pongTimeout() time.Duration {
	if h.PongTimeout > 0 {
		return h.PongTimeout
	}
	return h.writeTimeout()
}

func (h *Handler) writeTimeout() time.Duration {
	if h.WriteTimeout > 0 {
		return h.WriteTimeout
	}
	return DefaultWriteTimeout
}

// truncateReason keeps a close reason within the 123 bytes a close frame
// allows, cutting at a UTF-8 boundary.
func truncateReason(s string) string {
	const max = 123
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
