package compare_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/ws"
)

// The hub encodes a tick once per transport into one buffer that holds
// both what the engine writes (a chunk, a frame) and, inside it, what the
// handler path and the stats use (the SSE frame, the WebSocket message).
// Both must be byte for byte what the plain encoders make, for every size
// of seq and time.
func TestTickFramesInOneBuffer(t *testing.T) {
	long := make([]byte, 70000) // a frame header of 10 bytes, a chunk length of 5 hex digits
	for i := range long {
		long[i] = 'x'
	}
	for _, tick := range []compare.Tick{
		{Seq: 0, Time: ""},
		{Seq: 1, Time: time.Now().UTC().Format(compare.TimeLayout)},
		{Seq: 1 << 62, Time: "2026-12-02T03:00:00.000Z"},
		{Seq: 42, Time: string(long[:200])},
		{Seq: 43, Time: string(long)},
	} {
		t.Run(fmt.Sprint(tick.Seq, "/", len(tick.Time)), func(t *testing.T) {
			chunk, frame := compare.SSETickChunk(tick)
			if want := compare.SSETick(tick); !bytes.Equal(frame, want) {
				t.Errorf("SSE frame %q, want %q", frame, want)
			}
			if want := compare.SSEChunk(compare.SSETick(tick)); !bytes.Equal(chunk, want) {
				t.Errorf("SSE chunk %q, want %q", chunk, want)
			}
			wsFrame, msg := compare.WSTickFrame(tick)
			if want := compare.WSTick(tick); !bytes.Equal(msg, want) {
				t.Errorf("WebSocket message %q, want %q", msg, want)
			}
			if want := ws.AppendFrame(nil, compare.WSTick(tick)); !bytes.Equal(wsFrame, want) {
				t.Errorf("WebSocket frame % x, want % x", wsFrame[:12], want[:12])
			}
		})
	}
}
