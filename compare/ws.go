package compare

import (
	"errors"
	"iter"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/ssevsws/ssevsws/fanout"
	"github.com/ssevsws/ssevsws/ws"
)

// wsFeed shows a hub subscription to the ws.Handler. Its live ticks do not
// go through it: the hub's broadcasts reach the connection through the
// engine (the connection joined them in the backlog's goLive).
type wsFeed struct {
	sub       *subscription
	stats     *Counters
	direct    bool
	done      func() // ends the detach: releases the connection's slot
	heartbeat time.Duration
	instance  string
}

var (
	_ ws.Feed        = wsFeed{}
	_ ws.WriteFailer = wsFeed{}
	_ ws.Greeter     = wsFeed{}
)

// subscribeWS is the ws.Handler's Subscribe. The connection outlives the
// handler (the engine writes to it, its reader reads), so it takes over the
// request's slot under the connection cap until Close.
func (s *Server) subscribeWS(r *http.Request, lastEventID string, p *ws.Peer) (ws.Feed, error) {
	sub, err := s.hub.subscribe(WS, lastEventID, p.Conn(), func(reason error) { p.End(wsCloseError(reason)) })
	if err != nil {
		return nil, err
	}
	f := wsFeed{sub: sub, stats: s.stats.of(WS), direct: p.Conn().Direct(), done: s.detach(r), heartbeat: s.cfg.Heartbeat, instance: s.cfg.Instance}
	if f.direct {
		f.stats.Direct.Add(1)
	}
	// A browser's script cannot see pings: a message it can see keeps its
	// watchdog fed when there are no ticks, as SSE's comment does.
	p.Conn().KeepAlive(s.cfg.Heartbeat, wsKeepAliveFrame)
	return f, nil
}

var wsKeepAliveFrame = ws.AppendFrame(nil, ws.KeepAlive)

// Hello is the first message: the client id, the instance that holds the
// connection, and the heartbeat its watchdog can count on.
func (f wsFeed) Hello() ws.Message {
	return ws.Message{Type: ws.TypeHello, Client: f.sub.id, Instance: f.instance, HeartbeatMS: f.heartbeat.Milliseconds()}
}

func (f wsFeed) Client() string { return f.sub.id }

func (f wsFeed) Close() {
	f.sub.close()
	if f.direct {
		f.stats.Direct.Add(-1)
	}
	f.done()
}

func (f wsFeed) Backlog() iter.Seq[[]byte] {
	return f.sub.backlog(func(from, to int64) []byte { return ws.AppendGap(nil, from, to) }, wsTick)
}

// wsTickFrame encodes t as a WebSocket frame for the engine and, inside
// it, the message: the message after room for the longest frame header,
// the header put right before it. One allocation, no copy.
func wsTickFrame(t Tick) (frame, msg []byte) {
	const room = 10
	buf := ws.AppendTick(make([]byte, room, room+64+len(t.Time)), t.Seq, t.Time)
	msg = buf[room:]
	start := room - ws.FrameHeaderLen(len(msg))
	ws.AppendFrameHeader(buf[start:start], len(msg))
	return buf[start:], msg
}

// wsTick encodes t as a WebSocket message, with room for the longest seq
// and time up front: one allocation.
func wsTick(t Tick) []byte {
	return ws.AppendTick(make([]byte, 0, 64+len(t.Time)), t.Seq, t.Time)
}

// wsCloseError turns the hub's reason into the close code a client can act on.
func wsCloseError(err error) error {
	switch {
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
	if errors.Is(err, fanout.ErrTooSlow) {
		f.sub.tooSlow(err)
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

// Wrote counts what the handler wrote itself: hello, backlog, echoes.
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
	return ws.FrameHeaderLen(len(msg)) + len(msg)
}
