package compare_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare/comparetest"
)

// POST /drop?mode=silent: the server stops writing to one transport's
// connections but keeps them open, as a dead path would. Each Go client's
// watchdog (twice the hello's heartbeat) notices, the client reconnects
// and resumes with nothing lost or repeated, and /stats counts the stall:
// the client left before the server closed the silent connection.
func TestSilentDropIsNoticedByTheWatchdogs(t *testing.T) {
	cfg := comparetest.Fast()
	cfg.Heartbeat = 200 * time.Millisecond // watchdogs at 400 ms; silent for 1 s
	ts := comparetest.Start(t, cfg, "127.0.0.1:0")
	sseLog, _ := runSSE(t, ts)
	wsLog, _ := runWS(t, ts)
	sseLog.waitFor(t, "SSE ticks", atLeastTicks(3))
	wsLog.waitFor(t, "WS ticks", atLeastTicks(3))

	for _, tr := range []string{"sse", "ws"} {
		resp, err := http.Post(ts.URL("http", "/drop?transport="+tr+"&mode=silent"), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Silenced     int   `json:"silenced"`
			CloseAfterMS int64 `json:"close_after_ms"`
		}
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || got.Silenced != 1 || got.CloseAfterMS != time.Second.Milliseconds() {
			t.Fatalf("silent drop %s: status %d, %+v; want 200, 1 silenced, closed after 1000 ms", tr, resp.StatusCode, got)
		}
	}
	after := ts.Stats().Seq
	resumedWithoutLoss(t, "after the silence", after, sseLog, wsLog)
	deadline := time.After(10 * time.Second)
	for st := ts.Stats(); st.SSE.Stalls != 1 || st.WS.Stalls != 1; st = ts.Stats() {
		select {
		case <-deadline:
			t.Fatalf("stalls sse=%d ws=%d, want 1 each (the clients left the silent connections first)", st.SSE.Stalls, st.WS.Stalls)
		case <-sseLog.changed:
		}
	}
	if st := ts.Stats(); st.SSE.Open != 1 || st.WS.Open != 1 {
		t.Errorf("open sse=%d ws=%d after the resume, want 1 each", st.SSE.Open, st.WS.Open)
	}
}

// A mode /drop does not know is refused, and drops nothing.
func TestDropModeUnknown(t *testing.T) {
	ts := comparetest.Start(t, comparetest.Fast(), "127.0.0.1:0")
	resp, err := http.Post(ts.URL("http", "/drop?transport=sse&mode=loud"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("mode=loud: %d, want 400", resp.StatusCode)
	}
}
