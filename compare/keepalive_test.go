package compare_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/sse"
	"github.com/ssevsws/ssevsws/ws"
)

// Both hellos announce the heartbeat, and when there are no ticks the
// server keeps each connection fed within it: SSE with a comment (which a
// client reading the stream sees, and EventSource does not), WebSocket with
// a keep-alive message (a browser's script cannot see pings).
func TestHelloAnnouncesTheHeartbeatAndKeepAlivesKeepIt(t *testing.T) {
	cfg := comparetest.Fast()
	cfg.Interval = time.Hour // no ticks: only keep-alives
	cfg.Heartbeat = 100 * time.Millisecond
	ts := comparetest.Start(t, cfg, "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("sse", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL("http", "/sse"), nil)
		resp, err := newHTTPClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		rd := sse.NewReader(resp.Body)
		hello, err := rd.Next()
		if err != nil || hello.Type != compare.EventHello {
			t.Fatalf("first event %+v, %v: want the hello", hello, err)
		}
		if got := compare.HelloHeartbeat(hello.Data); got != cfg.Heartbeat {
			t.Errorf("hello %q: heartbeat %v, want %v", hello.Data, got, cfg.Heartbeat)
		}
		// The current tick comes next; then nothing but comments, which a
		// Reader skips: so count the raw bytes arriving instead.
		if _, err := rd.Next(); err != nil {
			t.Fatal(err)
		}
		arrivals := make(chan time.Time, 100)
		go func() {
			buf := make([]byte, 256)
			for {
				if _, err := resp.Body.Read(buf); err != nil {
					close(arrivals)
					return
				}
				arrivals <- time.Now()
			}
		}()
		for range 5 {
			select {
			case <-arrivals:
			case <-ctx.Done():
				t.Fatal("no keep-alive comment on an idle stream")
			}
		}
	})

	t.Run("ws", func(t *testing.T) {
		c, _, err := websocket.Dial(ctx, ts.URL("ws", "/ws"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		conn := wsConn{c}
		hello := conn.read(t, ctx)
		if hello.Type != ws.TypeHello || hello.HeartbeatMS != cfg.Heartbeat.Milliseconds() {
			t.Errorf("hello %+v: want heartbeat_ms %d", hello, cfg.Heartbeat.Milliseconds())
		}
		if tick := conn.read(t, ctx); tick.Type != ws.TypeTick {
			t.Fatalf("then %+v, want the current tick", tick)
		}
		for range 5 {
			if m := conn.read(t, ctx); m.Type != ws.TypeKeepAlive {
				t.Fatalf("on an idle connection got %+v, want keep-alives", m)
			}
		}
	})
}

type wsConn struct{ c *websocket.Conn }

func (w wsConn) read(t *testing.T, ctx context.Context) ws.Message {
	t.Helper()
	_, data, err := w.c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var m ws.Message
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	return m
}
