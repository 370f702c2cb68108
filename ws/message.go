package ws

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Message types on the wire. Every message is a JSON text frame with a "type"
// field; the other fields depend on the type.
const (
	TypeHello = "hello" // server → client, first message: {"type":"hello","client":"<id>","instance":"<name>","heartbeat_ms":N}
	TypeTick  = "tick"  // server → client: {"type":"tick","seq":N,"time":"<RFC 3339, ms, UTC>"}
	TypeGap   = "gap"   // server → client: {"type":"gap","from":A,"to":B}, ticks that cannot be replayed
	TypeEcho  = "echo"  // server → client: {"type":"echo","text":"..."}, the answer to a chat
	TypeError = "error" // server → client: {"type":"error","text":"..."}, a refused chat; the socket stays open
	TypeChat  = "chat"  // client → server: {"type":"chat","text":"..."}

	// TypeKeepAlive is what the server sends after heartbeat_ms with
	// nothing else to send: {"type":"keepalive"}. A browser's script cannot
	// see WebSocket ping frames, so this is what keeps its watchdog fed,
	// as SSE's keep-alive comment does for a client that reads the stream.
	TypeKeepAlive = "keepalive"
)

// KeepAlive is the keep-alive message, encoded.
var KeepAlive = []byte(`{"type":"keepalive"}`)

// Message is any message of the protocol, decoded. Fields that a type does
// not use are left zero.
type Message struct {
	Type   string `json:"type"`
	Client string `json:"client,omitempty"` // hello
	// HeartbeatMS, in the hello, is the longest the server stays silent:
	// it sends a keep-alive after that long without a message. A client
	// that hears nothing for twice that treats the connection as dead.
	HeartbeatMS int64  `json:"heartbeat_ms,omitempty"`
	Seq         int64  `json:"seq,omitempty"`  // tick
	Time        string `json:"time,omitempty"` // tick
	From        int64  `json:"from,omitempty"` // gap
	To          int64  `json:"to,omitempty"`   // gap
	Text        string `json:"text,omitempty"` // chat, echo, error

	// Instance (hello) names the server instance that holds the
	// connection, for clients behind a load balancer.
	Instance string `json:"instance,omitempty"`
}

// ErrUnknownType is returned by DecodeChat for a well-formed message whose
// type the server does not accept from clients.
var ErrUnknownType = errors.New("ws: unknown message type")

// ErrEmptyChat is returned by DecodeChat for a chat message without text.
var ErrEmptyChat = errors.New("ws: chat text is empty")

// DecodeChat decodes a client → server message. Its errors tell the handler
// which close code or answer to give: a *json.SyntaxError or other decode
// error means malformed data, ErrUnknownType a type the server does not take,
// ErrEmptyChat a chat to refuse without closing.
func DecodeChat(data []byte) (text string, err error) {
	var m *Message // stays nil for JSON null, which is not a message either
	if err := json.Unmarshal(data, &m); err != nil {
		return "", fmt.Errorf("ws: malformed message: %w", err)
	}
	if m == nil {
		return "", errors.New("ws: malformed message: not a JSON object")
	}
	if m.Type != TypeChat {
		return "", fmt.Errorf("%w %q", ErrUnknownType, m.Type)
	}
	if m.Text == "" {
		return "", ErrEmptyChat
	}
	return m.Text, nil
}

// AppendTick appends a tick message to dst. It is written by hand, not with
// encoding/json, because the server encodes every tick once and shares the
// bytes among all connections: this is the hot path of the fan-out, and it
// allocates nothing when dst has room. time must be JSON-safe (the clock's
// RFC 3339 string is).
func AppendTick(dst []byte, seq int64, time string) []byte {
	dst = append(dst, tickPrefix...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `,"time":"`...)
	dst = append(dst, time...)
	return append(dst, `"}`...)
}

// tickPrefix is how every message made by AppendTick begins.
const tickPrefix = `{"type":"tick","seq":`

// IsTick reports whether msg is a tick made by AppendTick. It is a prefix
// test, cheap enough to run on every message the server writes for stats.
func IsTick(msg []byte) bool {
	return len(msg) >= len(tickPrefix) && string(msg[:len(tickPrefix)]) == tickPrefix
}

// AppendGap appends a gap message: the ticks from..to (inclusive) are older
// than the server's replay window and will never arrive.
func AppendGap(dst []byte, from, to int64) []byte {
	dst = append(dst, `{"type":"gap","from":`...)
	dst = strconv.AppendInt(dst, from, 10)
	dst = append(dst, `,"to":`...)
	dst = strconv.AppendInt(dst, to, 10)
	return append(dst, '}')
}

// Encode encodes any message with encoding/json, which escapes text safely.
// It is used for the messages that carry user or server strings (hello,
// echo, error, chat), where the convenience is worth more than the speed.
func Encode(m Message) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		// Message has only strings and integers: Marshal cannot fail.
		panic("ws: encoding a Message failed: " + err.Error())
	}
	return b
}
