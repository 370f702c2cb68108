package compare

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/ssevsws/ssevsws/sse"
)

// The events of GET /sse, as WebSocket's messages are listed in
// ws/message.go. The sse package carries any event and knows none of
// these; this file is the one place that says what the demo sends and how
// it is encoded. The JSON in data is the same as in the WebSocket message
// of the same name, without its "type": the SSE event name says it.
const (
	EventHello = "hello" // first event: {"client":"<id>","instance":"<name>","heartbeat_ms":N}, the id POST /chat must name
	EventTick  = "tick"  // id: <seq>, data {"seq":N,"time":"<RFC 3339, ms, UTC>"}
	EventGap   = "gap"   // {"from":A,"to":B}: ticks older than the replay window
	EventEcho  = "echo"  // {"text":"..."}: the answer to a POST /chat
)

// AppendSSETick appends tick seq as an SSE frame: id, event: tick, data,
// blank line. It is written by hand because the hub encodes each tick once
// and shares the bytes among every stream; time must be JSON-safe (the
// clock's RFC 3339 string is).
func AppendSSETick(dst []byte, seq int64, time string) []byte {
	dst = append(dst, "id: "...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, "\nevent: "+EventTick+"\ndata: {\"seq\":"...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `,"time":"`...)
	dst = append(dst, time...)
	return append(dst, "\"}\n\n"...)
}

// sseTick encodes t for SSE streams, with room for the longest seq and
// time up front: one allocation instead of one per append that outgrows
// the buffer.
func sseTick(t Tick) []byte {
	return AppendSSETick(make([]byte, 0, 96+len(t.Time)), t.Seq, t.Time)
}

// sseWireBytes is what an SSE frame costs on an HTTP/1.1 connection: the
// server flushes each frame as one chunk, "<hex length>\r\n<frame>\r\n".
// HTTP/2 frames it differently (a 9-byte DATA frame header); the figure the
// page, /stats and ssevsws compare show is the HTTP/1.1 one, the protocol
// both transports share.
func sseWireBytes(frame []byte) int {
	return hexLen(len(frame)) + 2 + len(frame) + 2
}

// hexLen is how many hex digits n takes.
func hexLen(n int) int {
	digits := 1
	for ; n >= 16; n >>= 4 {
		digits++
	}
	return digits
}

// isSSETick tells a tick frame from the other frames a stream gets (gap,
// echo): only ticks carry an id.
func isSSETick(frame []byte) bool { return len(frame) > 3 && string(frame[:3]) == "id:" }

// sseHello is the first event of a stream: the client id for POST /chat,
// the instance that holds the stream, and the longest the server stays
// silent (heartbeat_ms, omitted when the keep-alive is off): a client that
// hears nothing, not even a keep-alive comment, for twice that may give the
// connection up for dead.
func sseHello(client, instance string, heartbeat time.Duration) sse.Event {
	data, _ := json.Marshal(struct {
		Client      string `json:"client"`
		Instance    string `json:"instance,omitempty"`
		HeartbeatMS int64  `json:"heartbeat_ms,omitempty"`
	}{client, instance, heartbeat.Milliseconds()})
	return sse.Event{Type: EventHello, Data: string(data)}
}

// HelloHeartbeat reads heartbeat_ms from the data of a stream's hello
// event, for a client's watchdog: 0 when the hello names none (the server's
// keep-alive is off) or is not a hello.
func HelloHeartbeat(data string) time.Duration {
	var hello struct {
		HeartbeatMS int64 `json:"heartbeat_ms"`
	}
	if json.Unmarshal([]byte(data), &hello) != nil || hello.HeartbeatMS <= 0 {
		return 0
	}
	return time.Duration(hello.HeartbeatMS) * time.Millisecond
}

// sseGap encodes a gap: ticks from..to are older than the replay window.
// Like the echo it carries no id: an id would move the browser's
// Last-Event-ID past ticks the client never got.
func sseGap(from, to int64) []byte {
	data := `{"from":` + strconv.FormatInt(from, 10) + `,"to":` + strconv.FormatInt(to, 10) + `}`
	frame, _ := sse.AppendEvent(nil, sse.Event{Type: EventGap, Data: data})
	return frame
}

// sseEcho encodes the echo of a chat text as an SSE event with no id:
// echoes are not part of the resumable clock stream.
func sseEcho(text string) []byte {
	data, _ := json.Marshal(struct {
		Text string `json:"text"`
	}{text})
	frame, _ := sse.AppendEvent(nil, sse.Event{Type: EventEcho, Data: string(data)})
	return frame
}

// sseChunk frames an SSE frame as one HTTP/1.1 chunk, as net/http's
// chunked writer would: "<hex length>\r\n<frame>\r\n". Streams on the
// engine's direct path were hijacked after their header, so the server
// frames their body itself: each tick once, for every such stream.
func sseChunk(frame []byte) []byte {
	out := make([]byte, 0, sseWireBytes(frame))
	out = strconv.AppendInt(out, int64(len(frame)), 16)
	out = append(out, '\r', '\n')
	out = append(out, frame...)
	return append(out, '\r', '\n')
}

// sseTickChunk encodes t for SSE streams twice over in one buffer: chunk
// is the HTTP/1.1 chunk the direct path writes, frame the SSE frame inside
// it, which the handler path writes (net/http chunks it itself). The frame
// is encoded after room for the longest chunk header, and the header is put
// right before it: one allocation, no copy.
func sseTickChunk(t Tick) (chunk, frame []byte) {
	const room = 16 + 2 // hex digits of an int64, CRLF
	buf := AppendSSETick(make([]byte, room, room+96+len(t.Time)+2), t.Seq, t.Time)
	n := len(buf) - room
	start := room - 2 - hexLen(n)
	head := strconv.AppendInt(buf[start:start], int64(n), 16)
	_ = append(head, '\r', '\n') // into the room, up to the frame
	buf = append(buf, '\r', '\n')
	return buf[start:], buf[room : room+n]
}

// sseLastChunk ends a chunked body: a client reads it as the end of the
// stream, and an EventSource reconnects after its retry time.
var sseLastChunk = []byte("0\r\n\r\n")
