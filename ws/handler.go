//go:build !js

package ws

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
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

// A Feed is what the server pushes to one connection. The Handler asks for
// one per connection (Handler.Subscribe) and drives it from a single writer
// goroutine, so a Feed never sees concurrent calls except Chat, which comes
// from the reader goroutine.
type Feed interface {
	// Client is the id the hello message announces.
	Client() string
	// Backlog yields the messages to send before live ones: a gap, then
	// replayed ticks, in order. It may be empty.
	Backlog() iter.Seq[[]byte]
	// Live delivers encoded messages (ticks) after the backlog.
	Live() <-chan []byte
	// Done is closed when the server ends this connection (shutdown, a drop
	// request, a client too slow to keep up).
	Done() <-chan struct{}
	// Err says why Done was closed. If it is (or wraps) a websocket.CloseError
	// the connection is closed with that code and reason, otherwise with 1011.
	Err() error
	// Chat is asked about every chat message: nil means echo it, an error
	// refuses it (for example a rate limit) with an "error" message.
	Chat(text string) error
	// Wrote reports a data message the handler has written to the socket
	// (hello, backlog, live, echo or error), for stats. IsTick tells ticks
	// from the rest.
	Wrote(msg []byte)
	// Close releases the feed; the handler calls it once, when the
	// connection ends for any reason.
	Close()
}

// A Feed may also be a WriteFailer. The handler then tells it why a data
// message (hello, backlog, live, echo) could not be written, before it
// closes the connection and calls Close: os.ErrDeadlineExceeded means the
// client took nothing for a whole WriteTimeout, so the server can count it
// as too slow rather than gone.
type WriteFailer interface {
	WriteFailed(err error)
}

// Handler serves the WebSocket endpoint: ticks down, chat up, echo down, on
// one connection.
//
// Each connection has two goroutines: the HTTP server's, which the handler
// uses as the only writer of messages, and one reader. The reader never
// writes: it hands echoes to the writer through a small channel, so message
// order on the socket is decided in one place. A third, short-lived one waits
// for each keep-alive pong (every 20 s by default), so that the writer never
// waits for the reader while the reader waits for the writer.
type Handler struct {
	// Subscribe returns the feed for a new connection. lastEventID is the raw
	// lastEventId query parameter ("" when absent); the feed decides what it
	// means. An error refuses the connection with 1013 (try again later).
	Subscribe func(r *http.Request, lastEventID string) (Feed, error)

	// OriginPatterns lists the extra origins allowed to connect, as
	// coder/websocket patterns ("localhost:3000" or "http://localhost:3000").
	// The request's own host is always allowed.
	OriginPatterns []string

	ReadLimit    int64         // largest client message; 0 means DefaultReadLimit
	PingInterval time.Duration // 0 means DefaultPingInterval
	WriteTimeout time.Duration // per message; 0 means DefaultWriteTimeout

	Logger *slog.Logger // nil means slog.Default()

	// Conns, if set, holds every hijacked connection while its session
	// runs. http.Server forgets a connection once it is hijacked, so this
	// is how a server can still cut a stuck one at shutdown.
	Conns ConnSet
}

// A ConnSet is told of each connection a Handler takes over: Add after the
// upgrade, Remove when its session has ended. Both may be called from many
// goroutines at once.
type ConnSet interface {
	Add(net.Conn)
	Remove(net.Conn)
}

// ServeHTTP upgrades the request and runs the connection until one side ends it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.logger().With("transport", "ws", "remote", r.RemoteAddr)
	hc := &hijackCapture{ResponseWriter: w}
	conn, err := websocket.Accept(hc, r, &websocket.AcceptOptions{OriginPatterns: h.OriginPatterns})
	if err != nil {
		// Accept has already answered (403 for a foreign origin, 426 or 400
		// for a request that is not a WebSocket handshake).
		log.Info("websocket handshake refused", "origin", r.Header.Get("Origin"), "err", err)
		return
	}
	conn.SetReadLimit(h.readLimit())

	feed, err := h.Subscribe(r, r.URL.Query().Get("lastEventId"))
	if err != nil {
		log.Warn("websocket refused", "err", err)
		conn.Close(websocket.StatusTryAgainLater, truncateReason(err.Error()))
		return
	}
	defer feed.Close()
	log = log.With("client", feed.Client())

	s := &session{h: h, conn: conn, nc: hc.conn, feed: feed, log: log}
	// Not a defer: this goroutine's stack is close to a size boundary
	// (8 KiB), and a deferred call in this frame pushes every idle
	// connection's stack to 16 KiB (measured with BenchmarkIdleConn).
	track := h.Conns != nil && hc.conn != nil
	if track {
		h.Conns.Add(hc.conn)
	}
	s.run()
	if track {
		h.Conns.Remove(hc.conn)
	}
}

// session is one live connection.
type session struct {
	h    *Handler
	conn *websocket.Conn
	nc   net.Conn // the hijacked connection under conn, for write deadlines
	feed Feed
	log  *slog.Logger

	pinging sync.WaitGroup // the keep-alive ping in flight, if any
}

// run is the writer: hello, backlog, then live messages, echoes and pings
// until the feed ends, the reader stops or a write fails.
func (s *session) run() {
	// The request context must not be used after Accept hijacked the
	// connection; this one lives exactly as long as the session.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	outbox := make(chan []byte, 8) // echoes and refusals from the reader
	readDone := make(chan ending, 1)
	readerGone := make(chan struct{})
	go func() {
		defer close(readerGone)
		end := s.read(ctx, outbox)
		readDone <- end
		if end.code != 0 {
			// A message broke the protocol and the writer is about to
			// close with end.code: keep reading, so that the client's
			// answer to the close frame is read, and the watchdog
			// below can cut a client off that never answers.
			s.drain(ctx)
		}
	}()

	end, _ := s.push(ctx, outbox, readDone)
	// A client that never answers our close frame must not hold the
	// connection, or a server shutdown, for coder/websocket's 5 s close
	// handshake. Cancelling the reader's context ends a read of the
	// reader's; but if the close handshake got to read first (the reader
	// was between its last message and drain), that read runs on
	// coder/websocket's own context, and only a deadline on the socket
	// ends it.
	watchdog := time.AfterFunc(closeHandshakeTimeout, func() {
		cancel()
		if s.nc != nil {
			s.nc.SetReadDeadline(time.Now())
		}
	})
	s.close(end)
	watchdog.Stop()
	cancel()
	<-readerGone     // closing the connection has ended the reader
	s.pinging.Wait() // and the cancelled context a ping in flight
}

// drain reads and drops client messages until the connection ends.
func (s *session) drain(ctx context.Context) {
	for {
		if _, _, err := s.conn.Read(ctx); err != nil {
			return
		}
	}
}

// ending says why a session ends and how to close the socket.
type ending struct {
	code   websocket.StatusCode // 0: close at once, no close handshake to do
	reason string
	err    error // for the log
}

// push writes until something ends the session. fromReader reports whether
// the reader's result was consumed.
func (s *session) push(ctx context.Context, outbox <-chan []byte, readDone <-chan ending) (end ending, fromReader bool) {
	if err := s.write(ctx, Encode(Message{Type: TypeHello, Client: s.feed.Client()})); err != nil {
		return ending{err: err}, false
	}
	for msg := range s.feed.Backlog() {
		if err := s.write(ctx, msg); err != nil {
			return ending{err: err}, false
		}
	}

	// A ping waits for its pong, and the pong is read by the reader, which
	// may itself be waiting for this goroutine to take a reply from outbox.
	// So the ping waits in a goroutine of its own, one at a time, and this
	// loop goes on writing meanwhile (coder/websocket lets a Ping and a
	// Write run concurrently).
	ping := time.NewTicker(s.h.pingInterval())
	defer ping.Stop()
	pinged := make(chan error, 1)
	waiting := false // a ping is out and its pong not yet read
	for {
		select {
		case msg := <-s.feed.Live():
			if err := s.write(ctx, msg); err != nil {
				return ending{err: err}, false
			}
		case msg := <-outbox:
			if err := s.write(ctx, msg); err != nil {
				return ending{err: err}, false
			}
		case <-ping.C:
			if waiting {
				continue
			}
			waiting = true
			s.pinging.Go(func() {
				pctx, cancel := context.WithTimeout(ctx, s.h.writeTimeout())
				defer cancel()
				pinged <- s.conn.Ping(pctx)
			})
		case err := <-pinged:
			waiting = false
			if err != nil {
				return ending{err: fmt.Errorf("keep-alive ping: %w", err)}, false
			}
		case <-s.feed.Done():
			return serverEnding(s.feed.Err()), false
		case end := <-readDone:
			return end, true
		}
	}
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

// write writes one message within the write timeout.
//
// The timeout is a deadline on the socket, not a context: this is the hot
// path of the fan-out, and a context.WithTimeout per message (plus the
// context.AfterFunc coder/websocket sets up for any context that can be
// cancelled) costs about ten allocations per message per client, where a
// deadline costs none. The context passed to Write therefore cannot be
// cancelled; nothing needs to, since this goroutine is the only writer of
// data messages. The deadline is cleared afterwards, so that it cannot cut a
// later ping or close frame.
//
// A write that fails is reported to a feed that is a WriteFailer.
func (s *session) write(ctx context.Context, msg []byte) error {
	err := s.writeMsg(ctx, msg)
	if err != nil {
		if wf, ok := s.feed.(WriteFailer); ok {
			wf.WriteFailed(err)
		}
	}
	return err
}

// writeMsg is write without the report.
func (s *session) writeMsg(ctx context.Context, msg []byte) error {
	if s.nc == nil { // not hijacked through hijackCapture: fall back to a context
		ctx, cancel := context.WithTimeout(ctx, s.h.writeTimeout())
		defer cancel()
		if err := s.conn.Write(ctx, websocket.MessageText, msg); err != nil {
			return err
		}
		s.feed.Wrote(msg)
		return nil
	}
	if err := s.nc.SetWriteDeadline(time.Now().Add(s.h.writeTimeout())); err != nil {
		return err
	}
	err := s.conn.Write(context.Background(), websocket.MessageText, msg)
	s.nc.SetWriteDeadline(time.Time{})
	if err != nil {
		return err
	}
	s.feed.Wrote(msg)
	return nil
}

// hijackCapture passes the ResponseWriter to websocket.Accept and keeps the
// connection Accept hijacks, so that session.write can set deadlines on it.
type hijackCapture struct {
	http.ResponseWriter
	conn net.Conn
}

func (h *hijackCapture) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	h.conn = c
	return c, rw, err
}

func (h *hijackCapture) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// read decodes client messages until the connection ends or a message breaks
// the protocol. It never writes to the socket itself: echoes and refusals go
// to the writer through outbox, so one goroutine decides the order of
// everything the client receives.
func (s *session) read(ctx context.Context, outbox chan<- []byte) ending {
	for {
		typ, data, err := s.conn.Read(ctx)
		if err != nil {
			// The peer closed (coder/websocket has answered its close frame),
			// the message was over the read limit (coder/websocket has
			// already closed with 1009), or the connection broke.
			return ending{err: err}
		}
		if typ != websocket.MessageText {
			return ending{code: websocket.StatusUnsupportedData, reason: "binary messages are not supported; send JSON text",
				err: errors.New("binary message")}
		}
		reply, end := s.answer(data)
		if end != nil {
			return *end
		}
		select {
		case outbox <- reply:
		case <-ctx.Done():
			return ending{err: ctx.Err()}
		}
	}
}

// answer turns one client message into the message to send back, or into
// the ending for a message that breaks the protocol.
func (s *session) answer(data []byte) ([]byte, *ending) {
	text, err := DecodeChat(data)
	switch {
	case errors.Is(err, ErrUnknownType):
		return nil, &ending{code: websocket.StatusUnsupportedData, reason: truncateReason(err.Error()), err: err}
	case errors.Is(err, ErrEmptyChat):
		return Encode(Message{Type: TypeError, Text: "chat text is empty"}), nil
	case err != nil:
		return nil, &ending{code: websocket.StatusInvalidFramePayloadData, reason: "malformed JSON message", err: err}
	}
	if err := s.feed.Chat(text); err != nil {
		return Encode(Message{Type: TypeError, Text: err.Error()}), nil
	}
	return Encode(Message{Type: TypeEcho, Text: text}), nil
}

// close ends the connection as end says and logs it at the level it deserves.
func (s *session) close(end ending) {
	if end.code == 0 {
		if websocket.CloseStatus(end.err) != -1 || errors.Is(end.err, context.Canceled) {
			s.log.Debug("closed by client", "code", int(websocket.CloseStatus(end.err)))
		} else {
			s.log.Info("connection lost", "err", end.err)
		}
		s.conn.CloseNow()
		return
	}
	s.log.Info("closing", "code", int(end.code), "reason", end.reason, "err", end.err)
	s.conn.Close(end.code, end.reason)
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
