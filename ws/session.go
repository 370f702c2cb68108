//go:build !js

package ws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/ssevsws/ssevsws/fanout"
)

// session is one connection after the upgrade. Its only goroutine is the
// reader; the server ends it with Peer.End, the client by closing, the
// engine by closing the socket (a client too slow).
type session struct {
	h    *Handler
	conn *websocket.Conn
	out  *fanout.Conn
	nc   net.Conn // the socket, for the close watchdog's read deadline
	log  *slog.Logger
	feed Feed // set by start

	// ctx is the reader's and the pings'; cancelled when the session ends.
	// The request's context must not be used after Accept hijacked the
	// connection.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	ended   bool           // an ending is decided: the first one counts
	stopped bool           // the reader is done: no more pings or closers
	ping    *time.Timer    // the next keep-alive ping
	helpers sync.WaitGroup // the server's close handshake and the ping in flight
}

func newSession(h *Handler, conn *websocket.Conn, out *fanout.Conn, nc net.Conn, log *slog.Logger) *session {
	ctx, cancel := context.WithCancel(context.Background())
	return &session{h: h, conn: conn, out: out, nc: nc, log: log, ctx: ctx, cancel: cancel}
}

// ending says why a session ends and how to close the socket.
type ending struct {
	code   websocket.StatusCode // 0: close at once, no close handshake to do
	reason string
	err    error // for the log
}

// start writes the hello and the backlog, then hands the connection to its
// reader. A write that fails has closed the socket, so the reader ends at
// once and reports why.
func (s *session) start(feed Feed) {
	s.feed = feed
	s.mu.Lock() // a server's End may already be logging from its goroutine
	s.log = s.log.With("client", feed.Client())
	s.mu.Unlock()
	if s.h.Conns != nil {
		s.h.Conns.Add(s.nc)
	}
	hello := Message{Type: TypeHello, Client: feed.Client(), Instance: s.h.Instance}
	if g, ok := feed.(Greeter); ok {
		hello = g.Hello()
	}
	if err := s.send(Encode(hello)); err == nil {
		for msg := range feed.Backlog() {
			if s.send(msg) != nil {
				break
			}
		}
	}
	go s.read()
}

// send writes one message of the handler's own and waits until the socket
// has taken it.
func (s *session) send(msg []byte) error {
	if err := s.out.Write(AppendFrame(nil, msg)); err != nil {
		return err
	}
	if err := s.out.Flush(); err != nil {
		return err
	}
	s.feed.Wrote(msg)
	return nil
}

// read is the session's goroutine: it answers client messages until the
// connection ends, ends the session as the reason requires, and releases
// the feed.
func (s *session) read() {
	s.armPing()
	end := s.readLoop()
	if cause := s.out.Err(); cause != nil && end.code == 0 && !errors.Is(cause, fanout.ErrClosed) {
		end.err = cause // the engine closed the socket (too slow): say why, not "use of closed connection"
	}
	if s.decide() {
		if end.code != 0 {
			s.closeWith(end)
		} else {
			s.closeNow(end)
		}
	}
	s.finish()
}

// readLoop decodes client messages and writes the answers until the
// connection ends or a message breaks the protocol.
func (s *session) readLoop() ending {
	for {
		typ, data, err := s.conn.Read(s.ctx)
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
		switch err := s.out.Write(AppendFrame(nil, reply)); {
		case errors.Is(err, fanout.ErrSealed):
			// The server has said its last words (a close frame on its
			// way) or is keeping silent: read on, answer nothing.
		case err != nil:
			return ending{err: err}
		default:
			s.feed.Wrote(reply)
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

func (s *session) logger() *slog.Logger {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log
}

// decide claims the session's ending: true for the first caller only.
func (s *session) decide() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.ended = true
	return true
}

// endFromServer closes with end's code in a goroutine of its own: the close
// handshake waits for the client's answer, which the reader reads.
func (s *session) endFromServer(end ending) {
	s.mu.Lock()
	if s.ended || s.stopped {
		s.mu.Unlock()
		return
	}
	s.ended = true
	s.helpers.Add(1)
	s.mu.Unlock()
	s.out.Seal() // no data frame may follow the close frame
	go func() {
		defer s.helpers.Done()
		s.closeWith(end)
	}()
}

// armPing sets the timer for the next keep-alive ping.
func (s *session) armPing() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.ended {
		return
	}
	if s.ping == nil {
		s.ping = time.AfterFunc(s.h.pingInterval(), s.keepAlive)
	} else {
		s.ping.Reset(s.h.pingInterval())
	}
}

// keepAlive runs on the ping timer: a ping, and a client whose pong does
// not come within the pong timeout is gone. The pong is read by the
// reader (coder/websocket matches it to the ping).
func (s *session) keepAlive() {
	s.mu.Lock()
	if s.stopped || s.ended {
		s.mu.Unlock()
		return
	}
	s.helpers.Add(1)
	s.mu.Unlock()
	defer s.helpers.Done()
	ctx, cancel := context.WithTimeout(s.ctx, s.h.pongTimeout())
	err := s.conn.Ping(ctx)
	cancel()
	if err != nil {
		if s.decide() {
			s.closeNow(ending{err: fmt.Errorf("keep-alive ping: %w", err)})
		}
		return
	}
	s.armPing()
}

// closeWith closes with a close handshake. A client that never answers the
// close frame must not hold the connection, or a server shutdown, for
// coder/websocket's 5 s close handshake: cancelling the reader's context
// ends a read of the reader's; but if the close handshake got to read first,
// that read runs on coder/websocket's own context, and only a deadline on
// the socket ends it.
func (s *session) closeWith(end ending) {
	s.out.Seal()
	s.logger().Info("closing", "code", int(end.code), "reason", end.reason, "err", end.err)
	watchdog := time.AfterFunc(closeHandshakeTimeout, func() {
		s.cancel()
		s.nc.SetReadDeadline(time.Now())
	})
	s.conn.Close(end.code, end.reason)
	watchdog.Stop()
	s.out.Close(end.err)
}

// closeNow closes at once, with no close handshake to do, and logs it at
// the level it deserves.
func (s *session) closeNow(end ending) {
	if websocket.CloseStatus(end.err) != -1 || errors.Is(end.err, context.Canceled) {
		s.logger().Debug("closed by client", "code", int(websocket.CloseStatus(end.err)))
	} else {
		s.logger().Info("connection lost", "err", end.err)
	}
	s.conn.CloseNow()
	s.out.Close(end.err)
}

// finish runs once the reader is done: it waits for the close handshake
// and a ping in flight, and releases the feed.
func (s *session) finish() {
	s.mu.Lock()
	s.stopped = true
	if s.ping != nil {
		s.ping.Stop()
	}
	s.mu.Unlock()
	s.cancel()
	s.helpers.Wait()
	s.out.Close(nil)
	if err := s.out.Err(); errors.Is(err, fanout.ErrTooSlow) {
		if wf, ok := s.feed.(WriteFailer); ok {
			wf.WriteFailed(err)
		}
	}
	if s.h.Conns != nil {
		s.h.Conns.Remove(s.nc)
	}
	s.feed.Close()
}
