package compare

import (
	"encoding/json"
	"strconv"

	"github.com/ssevsws/ssevsws/sse"
)

// The events of GET /sse, as WebSocket's messages are listed in
// ws/message.go. The sse package carries any event and knows none of
// these; this file is the one place that says what the demo sends and how
// it is encoded. The JSON in data is the same as in the WebSocket message
// of the same name, without its "type": the SSE event name says it.
const (
	EventHello = "hello" // first event: {"client":"<id>"}, the id POST /chat must name
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
	return len(strconv.FormatInt(int64(len(frame)), 16)) + 2 + len(frame) + 2
}

// isSSETick tells a tick frame from the other frames a stream gets (gap,
// echo): only ticks carry an id.
func isSSETick(frame []byte) bool { return len(frame) > 3 && string(frame[:3]) == "id:" }

// sseHello is the first event of a stream: the client id for POST /chat.
func sseHello(client string) sse.Event {
	data, _ := json.Marshal(struct {
		Client string `json:"client"`
	}{client})
	return sse.Event{Type: EventHello, Data: string(data)}
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
