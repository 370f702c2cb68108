package compare_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/ws"
)

// A client whose last id is older than the window gets a gap first, then
// the whole window, then live ticks.
func TestResumeOlderThanWindowSendsGap(t *testing.T) {
	ts := comparetest.Start(t, comparetest.Fast(), "127.0.0.1:0")
	window := ts.Clock().Window()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	current := ts.Stats().Seq
	last := current - window - 10
	conn, err := ws.Dial(ctx, ts.URL("ws", fmt.Sprintf("/ws?lastEventId=%d", last)), nil)
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

// CORS lets the configured origins read /sse, /chat and /stats and nobody else.
func TestCORS(t *testing.T) {
	cfg := comparetest.Fast()
	cfg.Origins = []string{"http://localhost:3000"}
	ts := comparetest.Start(t, cfg, "127.0.0.1:0")
	client := newHTTPClient(t)
	get := func(origin string) *http.Response {
		req, _ := http.NewRequest("GET", ts.URL("http", "/stats"), nil)
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
	req, _ := http.NewRequest("OPTIONS", ts.URL("http", "/chat"), nil)
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
	ts := comparetest.Start(t, comparetest.Fast(), "127.0.0.1:0")
	client := newHTTPClient(t)
	for _, path := range []string{"/stats", "/sse"} {
		req, _ := http.NewRequest("GET", ts.URL("http", path), nil)
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

// POST /chat is rate limited per client (429 with Retry-After), and a
// stream that does not take its echoes fills up (503), without touching
// other clients.
func TestChatLimits(t *testing.T) {
	cfg := comparetest.Fast()
	cfg.Interval = time.Hour // keep ticks out of the queues, however slow the machine
	cfg.QueueSize = 2
	cfg.ChatRate = 0.01 // no token comes back while the test runs, however slow the machine
	cfg.ChatBurst = 3
	ts := serveSmallBuffers(t, cfg)
	client := newHTTPClient(t)

	// A raw stream that reads its hello and then nothing more.
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(1024)
	fmt.Fprintf(conn, "GET /sse HTTP/1.1\r\nHost: %s\r\n\r\n", ts.Addr)
	br := bufio.NewReader(conn)
	var id string
	for id == "" {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if data, ok := strings.CutPrefix(line, `data: {"client":`); ok {
			var hello struct{ Client string }
			json.Unmarshal([]byte(`{"client":`+data), &hello)
			id = hello.Client
		}
	}

	post := func(text string) *http.Response {
		body := fmt.Sprintf(`{"client":%q,"text":%q}`, id, text)
		resp, err := client.Post(ts.URL("http", "/chat"), "application/json", strings.NewReader(body))
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
	if !ts.SetChatRate(id, 0) {
		t.Fatalf("client %s is not open", id)
	}
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

// A library user may call Shutdown before Serve: Serve must still close the
// listener it was given, or the port stays taken.
func TestServeAfterShutdownClosesListener(t *testing.T) {
	srv, err := compare.New(comparetest.Fast())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		t.Fatalf("Serve after Shutdown: %v, want http.ErrServerClosed", err)
	}
	again, err := net.Listen("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("the port is still taken: %v", err)
	}
	again.Close()
}

// Serve started in a goroutine and Shutdown called at once (as the binary
// does when a signal comes right after start) must not leave Serve
// accepting for ever: whichever runs first, Serve returns.
func TestShutdownRacingServeEndsServe(t *testing.T) {
	for i := range 200 {
		srv, err := compare.New(comparetest.Fast())
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		if err := srv.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-served:
			if err != http.ErrServerClosed {
				t.Fatalf("try %d: Serve returned %v, want http.ErrServerClosed", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("try %d: Serve still running 10 s after Shutdown returned", i)
		}
	}
}
