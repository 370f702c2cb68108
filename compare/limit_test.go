package compare_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/ws"
)

// At the cap, a new SSE stream gets 503 with Retry-After and a new
// WebSocket is refused with 503 before the upgrade; a freed slot is usable.
func TestConnectionCap(t *testing.T) {
	cfg := comparetest.Fast()
	cfg.MaxConns = 2
	ts := comparetest.Start(t, cfg, "127.0.0.1:0")
	client := newHTTPClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	open := func() *http.Response {
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL("http", "/sse"), nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	first := open()
	defer first.Body.Close()
	conn, err := ws.Dial(ctx, ts.URL("ws", "/ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp := open(); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("third stream: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		resp.Body.Close()
	}
	var he *ws.HandshakeError
	if c, err := ws.Dial(ctx, ts.URL("ws", "/ws"), nil); !errors.As(err, &he) || he.StatusCode != http.StatusServiceUnavailable {
		if c != nil {
			c.CloseNow()
		}
		t.Errorf("third connection as WebSocket: %v; want a 503 handshake refusal", err)
	}

	conn.Close()
	// The slot frees when the server's handler returns; wait for that.
	for ts.Stats().WS.Open != 0 {
		select {
		case <-ctx.Done():
			t.Fatal("closed WebSocket still counted as open")
		case <-time.After(5 * time.Millisecond):
		}
	}
	again := open()
	defer again.Body.Close()
	if again.StatusCode != http.StatusOK {
		t.Errorf("after a connection closed: %d, want 200", again.StatusCode)
	}
}

func TestConnectionCapPerIP(t *testing.T) {
	acquire := compare.ConnLimitPerIP(1)
	take := func(remote string) (func(), int) {
		req := httptest.NewRequest("GET", "/sse", nil)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		release, ok := acquire(rec, req)
		if !ok {
			return nil, rec.Code
		}
		return release, 200
	}
	releaseA, code := take("192.0.2.1:1000")
	if code != 200 {
		t.Fatalf("first from A: %d", code)
	}
	if _, code := take("192.0.2.1:1001"); code != 503 {
		t.Errorf("second from A: %d, want 503", code)
	}
	if _, code := take("192.0.2.2:1000"); code != 200 {
		t.Errorf("first from B: %d, want 200", code)
	}
	releaseA()
	releaseA() // releasing twice must not free a second slot
	if _, code := take("192.0.2.1:1002"); code != 200 {
		t.Errorf("A after release: %d, want 200", code)
	}
	if _, code := take("192.0.2.1:1003"); code != 503 {
		t.Errorf("A again: %d, want 503 (double release freed two slots)", code)
	}
}
