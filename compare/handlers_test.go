package compare

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ssevsws/ssevsws/sse"
	"github.com/ssevsws/ssevsws/ws"
)

// Every bad request gets a clear status and a JSON error that says why.
func TestBadHTTPInput(t *testing.T) {
	ts := startServer(t, fastConfig(), "127.0.0.1:0")
	client := newHTTPClient(t)
	tests := []struct {
		name, method, path, contentType, origin, body string
		status                                        int
		allow                                         string // expected Allow header, for 405
	}{
		{"chat unknown client", "POST", "/chat", "application/json", "", `{"client":"nobody","text":"hi"}`, 404, ""},
		{"chat malformed JSON", "POST", "/chat", "application/json", "", `{"client":`, 400, ""},
		{"chat not an object", "POST", "/chat", "application/json", "", `"hi"`, 400, ""},
		{"chat two objects", "POST", "/chat", "application/json", "", `{"client":"a","text":"b"}{}`, 400, ""},
		{"chat empty text", "POST", "/chat", "application/json", "", `{"client":"a","text":""}`, 400, ""},
		{"chat no client", "POST", "/chat", "application/json", "", `{"text":"hi"}`, 400, ""},
		{"chat wrong content type", "POST", "/chat", "text/plain", "", `{"client":"a","text":"b"}`, 415, ""},
		{"chat over the size limit", "POST", "/chat", "application/json", "", `{"client":"a","text":"` + strings.Repeat("x", 5000) + `"}`, 413, ""},
		{"chat wrong method", "GET", "/chat", "", "", "", 405, "POST"},
		{"sse wrong method", "POST", "/sse", "", "", "", 405, "GET"},
		{"stats wrong method", "DELETE", "/stats", "", "", "", 405, "GET"},
		{"drop wrong method", "GET", "/drop?transport=sse", "", "", "", 405, "POST"},
		{"drop unknown transport", "POST", "/drop?transport=smoke", "", "", "", 400, ""},
		{"drop without transport", "POST", "/drop", "", "", "", 400, ""},
		{"drop from a foreign page", "POST", "/drop?transport=sse", "", "http://evil.example", "", 403, ""},
		{"unknown endpoint", "GET", "/nope", "", "", "", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, ts.url("http", tt.path), strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.status, body)
			}
			if tt.allow != "" && !strings.Contains(resp.Header.Get("Allow"), tt.allow) {
				t.Errorf("Allow %q, want it to name %s", resp.Header.Get("Allow"), tt.allow)
			}
			var e struct{ Error string }
			if tt.status != 404 || tt.path != "/nope" {
				if json.Unmarshal(body, &e) != nil || e.Error == "" {
					t.Errorf("body %q: want {\"error\": \"<why>\"}", body)
				}
			}
		})
	}
}

// A Last-Event-ID the server cannot use is ignored, never an error status:
// EventSource would stop reconnecting for good after one.
func TestUnusableLastEventIDStartsFresh(t *testing.T) {
	ts := startServer(t, fastConfig(), "127.0.0.1:0")
	client := newHTTPClient(t)
	for _, id := range []string{"abc", "-1", "+3", "1e9", "99999999999999", "18446744073709551616"} {
		t.Run(id, func(t *testing.T) {
			req, _ := http.NewRequest("GET", ts.url("http", "/sse"), nil)
			req.Header.Set("Last-Event-ID", id)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			before := ts.Stats().Seq
			rd := sse.NewReader(resp.Body)
			for _, want := range []string{"hello", "tick"} {
				ev, err := rd.Next()
				if err != nil || ev.Type != want {
					t.Fatalf("got %+v, %v; want a %s event (no gap)", ev, err, want)
				}
				if want == "tick" {
					var tk struct{ Seq int64 }
					json.Unmarshal([]byte(ev.Data), &tk)
					if tk.Seq < before || tk.Seq > before+1 {
						t.Errorf("first tick %d, want the current one (%d)", tk.Seq, before)
					}
				}
			}
			if ts.Stats().SSE.Resumes != 0 {
				t.Error("an unusable id counted as a resume")
			}
		})
	}
}

// A client whose last id is older than the window gets a gap first, then
// the whole window, then live ticks.
func TestResumeOlderThanWindowSendsGap(t *testing.T) {
	ts := startServer(t, fastConfig(), "127.0.0.1:0")
	window := ts.Clock().window
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	current := ts.Stats().Seq
	last := current - window - 10
	conn, err := ws.Dial(ctx, ts.url("ws", fmt.Sprintf("/ws?lastEventId=%d", last)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	read := func() ws.Message {
		m, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := read(); m.Type != ws.TypeHello {
		t.Fatalf("first %+v, want hello", m)
	}
	gap := read()
	if gap.Type != ws.TypeGap || gap.From != last+1 {
		t.Fatalf("second %+v, want a gap from %d", gap, last+1)
	}
	next := gap.To + 1
	for i := int64(0); i < window+5; i++ {
		m := read()
		if m.Type != ws.TypeTick || m.Seq != next {
			t.Fatalf("got %+v, want tick %d", m, next)
		}
		next++
	}
	if got := ts.Stats().WS.Gaps; got != 1 {
		t.Errorf("stats: %d gaps, want 1", got)
	}
}

// WebSocket bad input: each gets the close code or status that says why.
func TestBadWebSocketInput(t *testing.T) {
	cfg := fastConfig()
	cfg.Origins = []string{"http://allowed.example:3000"}
	ts := startServer(t, cfg, "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	closeCode := func(t *testing.T, send func(*ws.Conn) error) websocket.StatusCode {
		conn, err := ws.Dial(ctx, ts.url("ws", "/ws"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		if err := send(conn); err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := conn.Read(ctx); err != nil {
				return websocket.CloseStatus(err)
			}
		}
	}
	t.Run("oversized message", func(t *testing.T) {
		big := `{"type":"chat","text":"` + strings.Repeat("x", 5000) + `"}`
		if code := closeCode(t, func(c *ws.Conn) error { return c.WriteRaw(ctx, []byte(big)) }); code != websocket.StatusMessageTooBig {
			t.Errorf("close code %v, want 1009", code)
		}
	})
	t.Run("malformed JSON", func(t *testing.T) {
		if code := closeCode(t, func(c *ws.Conn) error { return c.WriteRaw(ctx, []byte(`{"type":`)) }); code != websocket.StatusInvalidFramePayloadData {
			t.Errorf("close code %v, want 1007", code)
		}
	})
	t.Run("unknown type", func(t *testing.T) {
		if code := closeCode(t, func(c *ws.Conn) error { return c.WriteRaw(ctx, []byte(`{"type":"shout"}`)) }); code != websocket.StatusUnsupportedData {
			t.Errorf("close code %v, want 1003", code)
		}
	})
	for _, tt := range []struct {
		origin string
		ok     bool
	}{
		{"http://evil.example", false},
		{"http://allowed.example:3000", true},
		{"https://allowed.example:3000", false}, // another scheme is another origin
		{"http://" + ts.addr, true},             // same origin
	} {
		t.Run("origin "+tt.origin, func(t *testing.T) {
			conn, err := ws.Dial(ctx, ts.url("ws", "/ws"), &websocket.DialOptions{
				HTTPHeader: http.Header{"Origin": {tt.origin}},
			})
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				conn.CloseNow()
				return
			}
			var he *ws.HandshakeError
			if !errorsAs(err, &he) || he.StatusCode != http.StatusForbidden {
				if conn != nil {
					conn.CloseNow()
				}
				t.Fatalf("got %v, want a 403 handshake error", err)
			}
		})
	}
}

// CORS lets the configured origins read /sse, /chat and /stats and nobody else.
func TestCORS(t *testing.T) {
	cfg := fastConfig()
	cfg.Origins = []string{"http://localhost:3000"}
	ts := startServer(t, cfg, "127.0.0.1:0")
	client := newHTTPClient(t)
	get := func(origin string) *http.Response {
		req, _ := http.NewRequest("GET", ts.url("http", "/stats"), nil)
		req.Header.Set("Origin", origin)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if got := get("http://localhost:3000").Header.Get("Access-Control-Allow-Origin"); got != "http://localhost:3000" {
		t.Errorf("allowed origin: Access-Control-Allow-Origin %q", got)
	}
	if got := get("http://evil.example").Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("foreign origin: Access-Control-Allow-Origin %q, want none", got)
	}
	req, _ := http.NewRequest("OPTIONS", ts.url("http", "/chat"), nil)
	req.Header.Set("Origin", "http://localhost:3000")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" ||
		!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "content-type") {
		t.Errorf("preflight for POST /chat: %d %v", resp.StatusCode, resp.Header)
	}
}

// Without -origins no other origin may read anything: rs/cors would take an
// empty list for "every origin", so the server must not hand it one.
func TestCORSDefaultAllowsNoOtherOrigin(t *testing.T) {
	ts := startServer(t, fastConfig(), "127.0.0.1:0")
	client := newHTTPClient(t)
	for _, path := range []string{"/stats", "/sse"} {
		req, _ := http.NewRequest("GET", ts.url("http", path), nil)
		req.Header.Set("Origin", "http://evil.example")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("GET %s from a foreign origin: Access-Control-Allow-Origin %q, want none", path, got)
		}
	}
}

// POST /drop from another machine needs the token.
func TestDropNeedsLoopbackOrToken(t *testing.T) {
	srv, err := New(Config{DropToken: "s3cret", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	for _, tt := range []struct {
		remote, auth string
		status       int
	}{
		{"203.0.113.7:5555", "", 403},
		{"203.0.113.7:5555", "Bearer wrong", 403},
		{"203.0.113.7:5555", "Bearer s3cret", 200},
		{"127.0.0.1:5555", "", 200},
		{"[::1]:5555", "", 200},
		{"127.0.0.1:5555", "Bearer wrong", 403}, // a wrong token is wrong from anywhere
	} {
		req := httptest.NewRequest("POST", "/drop?transport=ws", nil)
		req.RemoteAddr = tt.remote
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != tt.status {
			t.Errorf("from %s with %q: %d, want %d (%s)", tt.remote, tt.auth, rec.Code, tt.status, rec.Body)
		}
	}
}

// POST /chat is rate limited per client (429 with Retry-After), and a
// stream that does not take its echoes fills up (503), without touching
// other clients.
func TestChatLimits(t *testing.T) {
	cfg := fastConfig()
	cfg.Interval = time.Second // keep ticks out of the queues
	cfg.QueueSize = 2
	cfg.ChatRate = 1
	cfg.ChatBurst = 3
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := serveOn(t, srv, smallBuffers{ln})
	client := newHTTPClient(t)

	// A raw stream that reads its hello and then nothing more.
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(1024)
	fmt.Fprintf(conn, "GET /sse HTTP/1.1\r\nHost: %s\r\n\r\n", ts.addr)
	br := bufio.NewReader(conn)
	var id string
	for id == "" {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if data, ok := strings.CutPrefix(line, `data: {"client":"`); ok {
			id = strings.TrimSuffix(strings.TrimSpace(data), `"}`)
		}
	}

	post := func(text string) *http.Response {
		body := fmt.Sprintf(`{"client":%q,"text":%q}`, id, text)
		resp, err := client.Post(ts.url("http", "/chat"), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	big := strings.Repeat("x", 3000) // fills the small socket buffers quickly
	var statuses []int
	for i := 0; i < 4; i++ {
		statuses = append(statuses, post(big).StatusCode)
	}
	if statuses[0] != 202 || statuses[3] != 429 {
		t.Errorf("statuses %v: want 202 first and 429 once the burst of 3 is spent", statuses)
	}
	if resp := post("again"); resp.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After: %d %v", resp.StatusCode, resp.Header)
	}

	// Unlimited rate, same stuck stream: the bounded echo queue fills.
	srv.hub.mu.Lock()
	srv.hub.subs[id].chat.rate = 0
	srv.hub.mu.Unlock()
	got503 := false
	for i := 0; i < 100 && !got503; i++ {
		got503 = post(big).StatusCode == http.StatusServiceUnavailable
	}
	if !got503 {
		t.Error("a stream that takes no echoes never answered 503")
	}
	if st := ts.Stats(); st.SSE.ChatRefused < 2 {
		t.Errorf("stats: %d refused chats, want the 429s and 503 counted", st.SSE.ChatRefused)
	}
}
