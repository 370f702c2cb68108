package compare

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"os"
	"time"

	"github.com/coder/websocket"

	"github.com/ssevsws/ssevsws/ws"
)

// wsFeed shows a hub subscription to the ws.Handler.
type wsFeed struct {
	sub   *subscription
	stats *Counters
}

var (
	_ ws.Feed        = wsFeed{}
	_ ws.WriteFailer = wsFeed{}
)

// subscribeWS is the ws.Handler's Subscribe.
func (s *Server) subscribeWS(_ *http.Request, lastEventID string) (ws.Feed, error) {
	sub, err := s.hub.subscribe(WS, lastEventID)
	if err != nil {
		return nil, err
	}
	return wsFeed{sub: sub, stats: s.stats.of(WS)}, nil
}

func (f wsFeed) Client() string        { return f.sub.id }
func (f wsFeed) Live() <-chan []byte   { return f.sub.ticks }
func (f wsFeed) Done() <-chan struct{} { return f.sub.done }
func (f wsFeed) Close()                { f.sub.close() }

func (f wsFeed) Backlog() iter.Seq[[]byte] {
	return f.sub.backlog(func(from, to int64) []byte { return ws.AppendGap(nil, from, to) }, wsTick)
}

// wsTick encodes t as a WebSocket message, with room for the longest seq
// and time up front: one allocation.
func wsTick(t Tick) []byte {
	return ws.AppendTick(make([]byte, 0, 64+len(t.Time)), t.Seq, t.Time)
}

// Err turns the hub's reason into the close code a client can act on.
func (f wsFeed) Err() error {
	switch err := f.sub.err; {
	case errors.Is(err, ErrShuttingDown):
		return websocket.CloseError{Code: websocket.StatusGoingAway, Reason: "server shutting down"}
	case errors.Is(err, ErrDropped):
		return websocket.CloseError{Code: websocket.StatusGoingAway, Reason: "dropped on request (/drop)"}
	case errors.Is(err, ErrBehind):
		return websocket.CloseError{Code: websocket.StatusTryAgainLater, Reason: "server fell behind the clock; reconnect to resume"}
	case errors.Is(err, ErrTooSlow):
		return websocket.CloseError{Code: websocket.StatusPolicyViolation, Reason: "too slow: send queue full"}
	default:
		return err
	}
}

// WriteFailed drops a client that took nothing for a whole write timeout
// as too slow, and counts it.
func (f wsFeed) WriteFailed(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		f.sub.writeTimedOut()
	}
}

func (f wsFeed) Chat(string) error {
	if err := f.sub.chat.take(time.Now()); err != nil {
		f.stats.ChatRefused.Add(1)
		return err
	}
	f.stats.Chats.Add(1)
	return nil
}

func (f wsFeed) Wrote(msg []byte) {
	f.stats.Bytes.Add(int64(len(msg)))
	if ws.IsTick(msg) {
		f.stats.Ticks.Add(1)
	}
}

// wsWireBytes is what a server's WebSocket message costs on the wire: the
// payload and its frame header (RFC 6455, 5.2), unmasked as server frames
// are: 2 bytes up to 125 bytes of payload, 4 up to 65535, else 10.
func wsWireBytes(msg []byte) int {
	switch n := len(msg); {
	case n <= 125:
		return n + 2
	case n <= 0xFFFF:
		return n + 4
	default:
		return n + 10
	}
}
