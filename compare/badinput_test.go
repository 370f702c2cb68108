package compare_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/sse"
	"github.com/ssevsws/ssevsws/ws"
)

// badInput is one thing a client can get wrong, and the answer it must get.
// try returns what happened as a short string ("413", "close 1009", "fresh
// stream", "cut"), so that the table reads as a list of promises.
type badInput struct {
	name string
	try  func(t *testing.T, ts *comparetest.Server) string
	want string
}

// TestBadInput sends every kind of bad input to every endpoint and checks
// the status or close code that says why. None may panic or leave a
// goroutine behind (TestMain's leak check runs after the whole package).
func TestBadInput(t *testing.T) {
	cfg := comparetest.Fast()
	cfg.HeaderTimeout = time.Second
	cfg.DropToken = "s3cret"
	// No request here may get as far as measuring; without a Measure the
	// server would answer 501 before the access rule could say 403.
	cfg.Measure = func(context.Context) (any, error) {
		t.Error("a bad request to POST /measure started a measurement")
		return nil, errors.New("not measured in this test")
	}
	ts := comparetest.Start(t, cfg, "127.0.0.1:0")
	future := strconv.FormatInt(ts.Stats().Seq+1000, 10)
	big := `{"type":"chat","text":"` + strings.Repeat("x", 5000) + `"}`

	tests := []badInput{
		// /sse: a Last-Event-ID the server cannot use starts a fresh stream,
		// never an error status (EventSource would give up for good).
		{"sse non-numeric Last-Event-ID", lastEventID("abc"), "fresh stream"},
		{"sse negative Last-Event-ID", lastEventID("-1"), "fresh stream"},
		{"sse signed Last-Event-ID", lastEventID("+3"), "fresh stream"},
		{"sse huge Last-Event-ID", lastEventID("18446744073709551616"), "fresh stream"},
		{"sse future Last-Event-ID", lastEventID(future), "fresh stream"},
		{"sse wrong method", request("POST", "/sse", "", "", "", ""), "405 Allow: GET"},
		{"sse plain OPTIONS opens no stream", request("OPTIONS", "/sse", "", "", "", ""), "204 Allow: GET, OPTIONS"},

		// /ws
		{"ws oversized message", wsSend(websocket.MessageText, big), "close 1009"},
		{"ws malformed JSON", wsSend(websocket.MessageText, `{"type":`), "close 1007"},
		{"ws JSON that is not an object", wsSend(websocket.MessageText, `null`), "close 1007"},
		{"ws unknown type", wsSend(websocket.MessageText, `{"type":"shout"}`), "close 1003"},
		{"ws binary message", wsSend(websocket.MessageBinary, `{"type":"chat","text":"hi"}`), "close 1003"},
		{"ws empty chat", wsSend(websocket.MessageText, `{"type":"chat","text":""}`), "error message, still open"},
		{"ws wrong origin", wsOrigin("http://evil.example"), "403"},
		{"ws not a WebSocket request", request("GET", "/ws", "", "", "", ""), "426"},

		// /chat
		{"chat unknown client", request("POST", "/chat", "application/json", "", `{"client":"nobody","text":"hi"}`, ""), "404"},
		{"chat malformed JSON", request("POST", "/chat", "application/json", "", `{"client":`, ""), "400"},
		{"chat not an object", request("POST", "/chat", "application/json", "", `"hi"`, ""), "400"},
		{"chat two objects", request("POST", "/chat", "application/json", "", `{"client":"a","text":"b"}{}`, ""), "400"},
		{"chat empty text", request("POST", "/chat", "application/json", "", `{"client":"a","text":""}`, ""), "400"},
		{"chat no client", request("POST", "/chat", "application/json", "", `{"text":"hi"}`, ""), "400"},
		{"chat wrong content type", request("POST", "/chat", "text/plain", "", `{"client":"a","text":"b"}`, ""), "415"},
		{"chat oversized body", request("POST", "/chat", "application/json", "", big, ""), "413"},
		{"chat wrong method", request("GET", "/chat", "", "", "", ""), "405 Allow: POST"},
		{"chat plain OPTIONS queues nothing", request("OPTIONS", "/chat", "application/json", "", `{"client":"a","text":"b"}`, ""), "204 Allow: POST, OPTIONS"},
		{"chat body announced, never sent", slowBody, "408"},

		// /drop
		{"drop unknown transport", request("POST", "/drop?transport=smoke", "", "", "", ""), "400"},
		{"drop without transport", request("POST", "/drop", "", "", "", ""), "400"},
		{"drop from a foreign page", request("POST", "/drop?transport=sse", "", "http://evil.example", "", ""), "403"},
		{"drop with a wrong token", request("POST", "/drop?transport=sse", "", "", "", "Bearer wrong"), "403"},
		{"drop from another machine without token", dropFrom("203.0.113.7:5555", ""), "403"},
		{"drop from another machine with token", dropFrom("203.0.113.7:5555", "Bearer s3cret"), "200"},
		{"drop wrong method", request("GET", "/drop?transport=sse", "", "", "", ""), "405 Allow: POST"},
		{"drop by plain OPTIONS", request("OPTIONS", "/drop?transport=sse", "", "", "", ""), "204 Allow: POST, OPTIONS"},
		{"drop by DNS rebinding", rebound("/drop?transport=sse"), "403"},
		{"measure by DNS rebinding", rebound("/measure"), "403"},
		{"measure by plain OPTIONS", request("OPTIONS", "/measure", "", "", "", ""), "204 Allow: POST, OPTIONS"},

		// /stats and the rest
		{"stats wrong method", request("DELETE", "/stats", "", "", "", ""), "405 Allow: GET"},
		{"unknown endpoint", request("GET", "/nope", "", "", "", ""), "404"},
		{"slowloris: headers never finished", slowloris, "cut"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.try(t, ts); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// request sends one HTTP request; the outcome is the status, plus the Allow
// header for a 405. Every error answer must carry a JSON reason.
func request(method, path, contentType, origin, body, auth string) func(*testing.T, *comparetest.Server) string {
	return func(t *testing.T, ts *comparetest.Server) string {
		req, _ := http.NewRequest(method, ts.URL("http", path), strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		// A timeout, so that an endpoint that wrongly starts a stream (a
		// plain OPTIONS /sse, say) fails the test instead of hanging it.
		client := newHTTPClient(t)
		client.Timeout = 10 * time.Second
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			return "body not read: " + err.Error()
		}
		if resp.StatusCode >= 400 && path != "/nope" && path != "/ws" {
			var e struct{ Error string }
			if json.Unmarshal(data, &e) != nil || e.Error == "" {
				t.Errorf("body %q: want {\"error\": \"<why>\"}", data)
			}
		}
		out := strconv.Itoa(resp.StatusCode)
		if resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNoContent {
			out += " Allow: " + resp.Header.Get("Allow")
		}
		return out
	}
}

// lastEventID opens /sse with that Last-Event-ID: "fresh stream" means 200,
// hello, then the current tick (no gap, no replay, not counted as a resume).
func lastEventID(id string) func(*testing.T, *comparetest.Server) string {
	return func(t *testing.T, ts *comparetest.Server) string {
		resumes := ts.Stats().SSE.Resumes
		req, _ := http.NewRequest("GET", ts.URL("http", "/sse"), nil)
		req.Header.Set("Last-Event-ID", id)
		resp, err := newHTTPClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return strconv.Itoa(resp.StatusCode)
		}
		current := ts.Stats().Seq
		rd := sse.NewReader(resp.Body)
		hello, err := rd.Next()
		if err != nil || hello.Type != "hello" {
			return "no hello"
		}
		tick, err := rd.Next()
		if err != nil || tick.Type != "tick" {
			return "then " + tick.Type
		}
		// The current tick, give or take what a busy machine delays between
		// the response head and the stats (a replay would start at least a
		// window, hundreds of ticks, away).
		if seq, _ := strconv.ParseInt(tick.ID, 10, 64); seq < current-25 || seq > current+25 {
			return "replayed from " + tick.ID
		}
		if ts.Stats().SSE.Resumes != resumes {
			return "counted as a resume"
		}
		return "fresh stream"
	}
}

// wsSend sends one message on a fresh WebSocket and reports how the server
// answered: "close N", or "error message, still open" when it refused the
// message with an error and then went on ticking.
func wsSend(typ websocket.MessageType, msg string) func(*testing.T, *comparetest.Server) string {
	return func(t *testing.T, ts *comparetest.Server) string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, ts.URL("ws", "/ws"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		if err := c.Write(ctx, typ, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		sawError := false
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				return "close " + strconv.Itoa(int(websocket.CloseStatus(err)))
			}
			var m ws.Message
			json.Unmarshal(data, &m)
			switch {
			case m.Type == ws.TypeError:
				sawError = true
			case m.Type == ws.TypeTick && sawError:
				return "error message, still open"
			}
		}
	}
}

// wsOrigin dials /ws as a page from origin would: the outcome is the status
// of a refused handshake, or "open".
func wsOrigin(origin string) func(*testing.T, *comparetest.Server) string {
	return func(t *testing.T, ts *comparetest.Server) string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := ws.Dial(ctx, ts.URL("ws", "/ws"), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
		if err != nil {
			var he *ws.HandshakeError
			if errors.As(err, &he) {
				return strconv.Itoa(he.StatusCode)
			}
			t.Fatal(err)
		}
		c.CloseNow()
		return "open"
	}
}

// dropFrom calls POST /drop as if from remote: a real socket cannot come
// from another machine here, so this one goes to the handler directly.
func dropFrom(remote, auth string) func(*testing.T, *comparetest.Server) string {
	return func(t *testing.T, ts *comparetest.Server) string {
		req := httptest.NewRequest("POST", "/drop?transport=ws", nil)
		req.RemoteAddr = remote
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		ts.Handler().ServeHTTP(rec, req)
		return strconv.Itoa(rec.Code)
	}
}

// rebound is a DNS-rebinding attack from a foreign page: the browser
// reaches 127.0.0.1 under the page's own name, so its Host and Origin agree
// and the peer is loopback. Only a loopback Host may act without the token.
func rebound(path string) func(*testing.T, *comparetest.Server) string {
	return func(t *testing.T, ts *comparetest.Server) string {
		_, port, _ := net.SplitHostPort(ts.Addr)
		req, _ := http.NewRequest("POST", ts.URL("http", path), nil)
		req.Host = "rebind.example:" + port
		req.Header.Set("Origin", "http://rebind.example:"+port)
		resp, err := newHTTPClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return strconv.Itoa(resp.StatusCode)
	}
}

// slowBody announces a chat body and sends only part of it: the server
// must answer once its HeaderTimeout has passed, not wait for ever.
func slowBody(t *testing.T, ts *comparetest.Server) string {
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"cl"))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return "no answer after 5s: " + err.Error()
	}
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}

// slowloris starts a request and never finishes its headers: the server
// must cut it after its HeaderTimeout, not hold the connection forever.
func slowloris(t *testing.T, ts *comparetest.Server) string {
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	conn.Write([]byte("GET /sse HTTP/1.1\r\nHost: x\r\nX-Slow: "))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(conn); err != nil {
		return "still open after 5s"
	}
	if took := time.Since(start); took < ts.Config().HeaderTimeout {
		return "cut too early, after " + took.String()
	}
	return "cut"
}
