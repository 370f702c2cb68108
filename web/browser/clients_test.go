//go:build js && wasm

package browser_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/web/browser"
	"github.com/ssevsws/ssevsws/ws"
)

// esClient is a browser EventSource whose events are recorded.
type esClient struct {
	*recorder
	es *browser.EventSource
}

// openEventSource opens the browser's EventSource on url, records every
// event and closes it when the test ends.
func openEventSource(t *testing.T, url string) *esClient {
	t.Helper()
	es, err := browser.NewEventSource(url, "hello", "tick", "echo", "gap")
	if err != nil {
		t.Fatal(err)
	}
	c := &esClient{recorder: newRecorder("EventSource " + url), es: es}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range es.Events() {
			rec := record{kind: ev.Type, data: ev.Data, id: ev.LastEventID, state: ev.ReadyState, at: ev.At}
			if ev.Type == "tick" {
				var tk struct {
					Seq  int64  `json:"seq"`
					Time string `json:"time"`
				}
				if err := json.Unmarshal([]byte(ev.Data), &tk); err != nil {
					rec.kind = "bad tick"
				}
				rec.seq, rec.time = tk.Seq, tk.Time
			}
			c.add(rec)
		}
	}()
	t.Cleanup(func() {
		es.Close()
		<-done
	})
	return c
}

// wsConn is one ws.Conn (coder/websocket in the browser) whose messages
// are recorded; a read error is recorded as "closed".
type wsConn struct {
	*recorder
	conn *ws.Conn
}

func dialWS(t *testing.T, url string) *wsConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	conn, err := ws.Dial(ctx, wsURL(url), nil)
	if err != nil {
		t.Fatalf("WebSocket dial %s: %v", url, err)
	}
	c := &wsConn{recorder: newRecorder("WebSocket " + url), conn: conn}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			// No deadline on the read: in the browser, coder/websocket
			// closes the socket when a read's context ends.
			m, err := conn.Read(context.Background())
			if err != nil {
				c.add(record{kind: "closed", data: err.Error()})
				return
			}
			c.add(messageRecord(m))
		}
	}()
	t.Cleanup(func() {
		conn.Close() // 1000; an error only says it was closed already
		<-done
	})
	return c
}

func messageRecord(m ws.Message) record {
	r := record{kind: m.Type, seq: m.Seq, time: m.Time}
	switch m.Type {
	case ws.TypeHello:
		r.data = m.Client
	case ws.TypeEcho, ws.TypeError:
		r.data = m.Text
	case ws.TypeGap:
		r.data = fmt.Sprintf("%d..%d", m.From, m.To)
	}
	return r
}

// runWSClient runs the reconnecting ws.Client in the browser until the test
// ends, recording its messages and its OnOpen/OnError notices.
func runWSClient(t *testing.T, url string, minBackoff, maxBackoff time.Duration) *recorder {
	t.Helper()
	rec := newRecorder("ws.Client " + url)
	c := &ws.Client{
		URL:        wsURL(url),
		MinBackoff: minBackoff,
		MaxBackoff: maxBackoff,
		OnOpen:     func() { rec.add(record{kind: "open"}) },
		OnError:    func(err error) { rec.add(record{kind: "error", data: err.Error()}) },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, func(m ws.Message) { rec.add(messageRecord(m)) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("ws.Client.Run ended with %v; want context.Canceled", err)
		}
	})
	return rec
}

// watchWebSockets installs a browser.WebSocketWatch for the test. At the end
// it closes the sockets left open (see WebSocketWatch.CloseOpen) and says
// how many there were.
func watchWebSockets(t *testing.T) *browser.WebSocketWatch {
	w := browser.WatchWebSockets()
	t.Cleanup(func() {
		if n := w.CloseOpen(); n > 0 {
			t.Logf("closed %d WebSocket(s) left open (coder/websocket's CloseNow asks the browser for code 1001, which it refuses)", n)
		}
		w.Stop()
	})
	return w
}

// waitClose waits for the browser's close event of a watched socket on url.
func waitClose(t *testing.T, w *browser.WebSocketWatch, url string) browser.WebSocketClose {
	t.Helper()
	want := wsURL(url)
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	var seen []string
	for {
		select {
		case c := <-w.Closes():
			if strings.HasPrefix(c.URL, want) {
				return c
			}
			seen = append(seen, fmt.Sprintf("%s %d", c.URL, c.Code))
		case <-deadline.C:
			t.Fatalf("no close event for %s within %v; closes seen: %q", want, waitTimeout, seen)
		}
	}
}

func wsURL(httpURL string) string { return "ws" + strings.TrimPrefix(httpURL, "http") }
