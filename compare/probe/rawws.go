package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"

	"github.com/ssevsws/ssevsws/compare/probe/internal/wire"
	"github.com/ssevsws/ssevsws/ws"
)

// nextWS reads one WebSocket frame from the server (never masked, never
// fragmented by this server).
func (c *RawConn) nextWS() (RawMsg, error) {
	f, err := wire.ReadFrame(c.br, &c.buf)
	c.down += int64(f.N)
	if err != nil {
		return RawMsg{}, err
	}
	if !f.Fin || f.Op == wire.OpContinuation {
		return RawMsg{}, errors.New("fragmented message")
	}
	m := RawMsg{Kind: MsgOther, Wire: f.N, Data: f.Payload}
	switch f.Op {
	case wire.OpText:
		switch string(wire.JSONString(f.Payload, "type")) {
		case ws.TypeTick:
			m.Kind, m.Seq = MsgTick, wire.JSONInt(f.Payload, "seq")
		case ws.TypeHello:
			m.Kind = MsgHello
		case ws.TypeEcho:
			m.Kind = MsgEcho
		case ws.TypeGap:
			m.Kind, m.Seq, m.To = MsgGap, wire.JSONInt(f.Payload, "from"), wire.JSONInt(f.Payload, "to")
		case ws.TypeError:
			m.Kind = MsgError
		}
	case wire.OpClose:
		code, reason := wire.CloseCode(f.Payload)
		return m, &CloseError{Code: code, Reason: reason}
	case wire.OpPing: // answer with a pong carrying the same payload
		if _, err := c.writeWS(wire.OpPong, f.Payload); err != nil {
			return m, err
		}
	case wire.OpPong:
	default:
		return m, fmt.Errorf("unexpected frame opcode %d", f.Op)
	}
	return m, nil
}

// CloseError is a WebSocket close frame from the server.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("server closed the WebSocket: %d %s", e.Code, e.Reason)
}

// writeWS writes one client frame, masked as RFC 6455 requires of every
// client, and returns its size on the wire.
func (c *RawConn) writeWS(op byte, payload []byte) (int, error) {
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], mrand.Uint32())
	b := wire.AppendFrame(c.wbuf[:0], op, payload, key)
	c.wbuf = b
	if _, err := c.nc.Write(b); err != nil {
		return 0, err
	}
	c.up += int64(len(b))
	return len(b), nil
}
