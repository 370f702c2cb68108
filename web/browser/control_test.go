//go:build js && wasm

package browser_test

// The page's side of the runner's control endpoint (runner_test.go serves
// it): the servers' addresses, their stats, and what the page cannot do
// itself, such as POST /drop, whose answer carries no CORS headers.

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/web/browser"
)

// setup is the control endpoint's answer to POST /setup (runner_test.go).
type setup struct {
	Origin    string `json:"origin"`
	Allow     string `json:"allow"`
	Deny      string `json:"deny"`
	DenyOther string `json:"deny_other"`
	Default   string `json:"deny_default"`
	Interval  int64  `json:"interval_ms"`
	Retry     int64  `json:"retry_ms"`
	Heartbeat int64  `json:"heartbeat_ms"`
	ReadLimit int64  `json:"read_limit"`
}

var (
	control string // base URL of the runner's control endpoint
	srv     setup
)

// serverStats is the part of compare.StatsSnapshot the tests read.
type serverStats struct {
	Seq int64    `json:"seq"`
	SSE counters `json:"sse"`
	WS  counters `json:"ws"`
}

type counters struct {
	Connects    int64 `json:"connects"`
	Resumes     int64 `json:"resumes"`
	Chats       int64 `json:"chats"`
	Stalls      int64 `json:"stalls"`
	ChatRefused int64 `json:"chat_refused"`
}

// stats asks the runner for the Stats of server "allow" or "deny".
func stats(t *testing.T, server string) serverStats {
	t.Helper()
	var st serverStats
	ctlJSON(t, "GET", "/stats?server="+server, &st)
	return st
}

// drop asks the runner to POST /drop?transport=... to the allowing server
// and returns how many connections it closed.
func drop(t *testing.T, transport string) int {
	t.Helper()
	var r struct{ Dropped int }
	ctlJSON(t, "POST", "/drop?transport="+transport, &r)
	return r.Dropped
}

// silence asks the runner to POST /drop?transport=...&mode=silent to the
// allowing server: it stops writing to that transport's connections without
// closing them, and closes them after close_after_ms.
func silence(t *testing.T, transport string) (silenced int, closeAfter time.Duration) {
	t.Helper()
	var r struct {
		Silenced     int   `json:"silenced"`
		CloseAfterMS int64 `json:"close_after_ms"`
	}
	ctlJSON(t, "POST", "/drop?mode=silent&transport="+transport, &r)
	return r.Silenced, time.Duration(r.CloseAfterMS) * time.Millisecond
}

// ctlJSON calls the runner's control endpoint and decodes its JSON answer.
func ctlJSON(t *testing.T, method, path string, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	resp, err := browser.Fetch(ctx, browser.Request{Method: method, URL: control + path})
	if err != nil {
		t.Fatalf("control %s %s: %v", method, path, err)
	}
	if resp.Status != 200 {
		t.Fatalf("control %s %s: %d %s", method, path, resp.Status, resp.Body)
	}
	if err := json.Unmarshal(resp.Body, v); err != nil {
		t.Fatalf("control %s %s: %v in %s", method, path, err, resp.Body)
	}
}

func body(resp *browser.Response) string {
	if resp == nil {
		return ""
	}
	return fmt.Sprintf("(status %d: %s)", resp.Status, truncate(string(resp.Body), 200))
}
