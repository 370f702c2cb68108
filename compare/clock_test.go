package compare_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/sse"
	"github.com/ssevsws/ssevsws/ws"
)

func TestSeqIsAFunctionOfWallTime(t *testing.T) {
	c := compare.NewClock(200*time.Millisecond, time.Minute)
	at := time.Date(2026, 11, 25, 10, 0, 0, 450e6, time.UTC)
	seq := c.SeqAt(at)
	if want := at.UnixMilli() / 200; seq != want {
		t.Fatalf("SeqAt = %d, want unixMillis/interval = %d", seq, want)
	}
	if got, want := c.TimeOf(seq), time.Date(2026, 11, 25, 10, 0, 0, 400e6, time.UTC); !got.Equal(want) {
		t.Errorf("TimeOf(%d) = %v, want the start of its interval %v", seq, got, want)
	}
	// Another clock (a restarted server) agrees.
	if other := compare.NewClock(200*time.Millisecond, time.Hour); other.SeqAt(at) != seq {
		t.Error("two clocks with the same interval disagree on a seq")
	}
}

// A tick says the same thing on both transports, and each encoding the hub
// sends is exactly what DESIGN.md gives.
func TestTickEncodings(t *testing.T) {
	c := compare.NewClock(time.Second, time.Minute)
	tick := c.Tick(1764064800)
	if tick.Time != "2025-11-25T10:00:00.000Z" {
		t.Fatalf("time %q", tick.Time)
	}
	sseFrame, wsMsg := compare.SSETick(tick), compare.WSTick(tick)
	wantSSE := "id: 1764064800\nevent: tick\ndata: {\"seq\":1764064800,\"time\":\"2025-11-25T10:00:00.000Z\"}\n\n"
	if string(sseFrame) != wantSSE {
		t.Errorf("SSE frame\n%q\nwant\n%q", sseFrame, wantSSE)
	}
	wantWS := `{"type":"tick","seq":1764064800,"time":"2025-11-25T10:00:00.000Z"}`
	if string(wsMsg) != wantWS {
		t.Errorf("WS message %s, want %s", wsMsg, wantWS)
	}

	// A spec-following parser reads the SSE frame back as one tick event
	// whose id is the seq and whose data is the WS message minus its type.
	ev, err := sse.NewReader(strings.NewReader(string(sseFrame))).Next()
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "tick" || ev.ID != "1764064800" {
		t.Errorf("parsed SSE event type %q id %q", ev.Type, ev.ID)
	}
	var fromSSE, fromWS ws.Message
	json.Unmarshal([]byte(ev.Data), &fromSSE)
	json.Unmarshal(wsMsg, &fromWS)
	fromWS.Type = ""
	if fromSSE != fromWS {
		t.Errorf("payloads differ: SSE %+v, WS %+v", fromSSE, fromWS)
	}
}

// The hub encodes every tick once per transport: each encoding costs its
// one buffer, and appending to a buffer with room costs nothing.
func TestTickEncodingAllocatesOnlyItsBuffers(t *testing.T) {
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = compare.AppendSSETick(buf[:0], 1764064800, "2025-11-25T10:00:00.000Z") }); n != 0 {
		t.Errorf("AppendSSETick allocates %v times per call with room in dst", n)
	}
	tick := compare.NewClock(time.Second, time.Minute).Tick(1764064800)
	for name, encode := range map[string]func(compare.Tick) []byte{"SSE": compare.SSETick, "WS": compare.WSTick} {
		if n := testing.AllocsPerRun(100, func() { buf = encode(tick) }); n != 1 {
			t.Errorf("encoding a tick for %s allocates %v times, want once: its buffer", name, n)
		}
	}
}

func TestPlanResume(t *testing.T) {
	c := compare.NewClock(time.Second, time.Minute) // window: 60 ticks
	const now = 1000
	none := compare.Resume{GapFrom: 1, GapTo: 0, From: now, To: now}
	tests := []struct {
		lastID string
		want   compare.Resume
		ok     bool
	}{
		{"", none, true}, // new client: the current tick at once
		{"990", compare.Resume{Resumed: true, GapFrom: 1, GapTo: 0, From: 991, To: now}, true},     // replay 991..1000
		{"999", compare.Resume{Resumed: true, GapFrom: 1, GapTo: 0, From: 1000, To: now}, true},    // one missed
		{"1000", compare.Resume{Resumed: true, GapFrom: 1, GapTo: 0, From: 1001, To: now}, true},   // up to date: nothing
		{"941", compare.Resume{Resumed: true, GapFrom: 1, GapTo: 0, From: 942, To: now}, true},     // window's first tick
		{"940", compare.Resume{Resumed: true, GapFrom: 1, GapTo: 0, From: 941, To: now}, true},     // just inside
		{"939", compare.Resume{Resumed: true, GapFrom: 940, GapTo: 940, From: 941, To: now}, true}, // one tick too old
		{"100", compare.Resume{Resumed: true, GapFrom: 101, GapTo: 940, From: 941, To: now}, true}, // gap, then window
		{"0", compare.Resume{Resumed: true, GapFrom: 1, GapTo: 940, From: 941, To: now}, true},
		{"1001", none, false}, // future
		{"99999999999999999999", none, false},
		{"-5", none, false},
		{"+5", none, false},
		{" 5", none, false},
		{"5 ", none, false},
		{"0x10", none, false},
		{"abc", none, false},
		{"1e3", none, false},
	}
	for _, tt := range tests {
		got, ok := c.PlanResume(tt.lastID, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("PlanResume(%q) = %+v, %v; want %+v, %v", tt.lastID, got, ok, tt.want, tt.ok)
		}
		if got.HasGap() && got.GapTo != got.From-1 {
			t.Errorf("PlanResume(%q): gap %d..%d does not end right before the replay from %d", tt.lastID, got.GapFrom, got.GapTo, got.From)
		}
	}
}

// A gap is an event without id, so it cannot move Last-Event-ID.
func TestSSEGapFrame(t *testing.T) {
	if got, want := string(compare.SSEGap(101, 940)), "event: gap\ndata: {\"from\":101,\"to\":940}\n\n"; got != want {
		t.Errorf("gap frame %q, want %q", got, want)
	}
}
