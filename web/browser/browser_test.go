//go:build js && wasm

package browser_test

// The browser tests: they run inside headless Chromium (GOOS=js
// GOARCH=wasm, through wasmbrowsertest) against real servers that the native
// runner (runner_test.go) starts. Run them with `go test ./web/browser/`;
// run directly, without the runner, they have no servers and stop at once.
//
// Each test uses the browser's own EventSource, fetch and WebSocket (the
// latter through coder/websocket and the project's ws package), so what is
// asserted is what a browser really does. Beside this file: records_test.go
// (what a client saw, and how the tests read it), clients_test.go (the
// recorded browser clients) and control_test.go (asking the runner for what
// a page cannot do itself).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/web/browser"
	"github.com/ssevsws/ssevsws/ws"
)

// waitTimeout bounds every wait for an event. Events come every 100 ms; a
// wait this long only runs out when something is broken.
const waitTimeout = 15 * time.Second

func TestMain(m *testing.M) {
	control = os.Getenv("SSEVSWS_BROWSER_CONTROL")
	if control == "" {
		fmt.Println("SSEVSWS_BROWSER_CONTROL is not set: these wasm tests need the servers that the native " +
			"runner starts. Run `go test ./web/browser/` (add -v to see each browser test).")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	resp, err := browser.Fetch(ctx, browser.Request{Method: "POST", URL: control + "/setup"})
	cancel()
	if err != nil || resp.Status != 200 {
		fmt.Printf("POST %s/setup: %v %s\n", control, err, body(resp))
		os.Exit(2)
	}
	if err := json.Unmarshal(resp.Body, &srv); err != nil {
		fmt.Printf("POST %s/setup: %v in %s\n", control, err, resp.Body)
		os.Exit(2)
	}
	fmt.Printf("page origin %s; allowing server %s; refusing servers %s (allows %s) and %s (default configuration); interval %dms, retry %dms\n",
		srv.Origin, srv.Allow, srv.Deny, srv.DenyOther, srv.Default, srv.Interval, srv.Retry)
	os.Exit(m.Run())
}

// 1. The browser's EventSource gets hello, then ticks whose lastEventId is
// the tick's seq; a WebSocket in the same page gets the same seqs with the
// same times, each within one interval of the EventSource.
func TestEventSourceTicksMatchWebSocket(t *testing.T) {
	es := openEventSource(t, srv.Allow+"/sse")
	conn := dialWS(t, srv.Allow+"/ws")

	es.waitFor(t, "EventSource: open, hello and 3 ticks", atLeastTicks(3))
	conn.waitFor(t, "WebSocket: hello and 3 ticks", atLeastTicks(3))
	target := max(es.lastSeq(), conn.lastSeq()) + 5
	es.waitFor(t, fmt.Sprintf("EventSource: tick %d", target), pastSeq(target))
	conn.waitFor(t, fmt.Sprintf("WebSocket: tick %d", target), pastSeq(target))

	evs := es.snapshot()
	if len(evs) < 2 || evs[0].kind != "open" || evs[0].state != browser.Open || evs[1].kind != "hello" {
		t.Fatalf("EventSource: first events %s; want open (readyState OPEN), then hello", describe(evs[:min(3, len(evs))]))
	}
	var hello struct{ Client string }
	if err := json.Unmarshal([]byte(evs[1].data), &hello); err != nil || hello.Client == "" || evs[1].id != "" {
		t.Errorf("EventSource: hello data %q, lastEventId %q; want {\"client\":\"<id>\"} and no id", evs[1].data, evs[1].id)
	}
	for _, e := range evs[2:] {
		if e.kind != "tick" {
			t.Errorf("EventSource: unexpected %s after hello", describe([]record{e}))
			continue
		}
		if e.id != strconv.FormatInt(e.seq, 10) {
			t.Errorf("EventSource: tick %d has lastEventId %q; want %q (the tick's seq)", e.seq, e.id, strconv.FormatInt(e.seq, 10))
		}
	}
	msgs := conn.snapshot()
	if msgs[0].kind != "hello" || msgs[0].data == "" {
		t.Errorf("WebSocket: first message %s; want hello with a client id", describe(msgs[:1]))
	}

	esTicks, wsTicks := ticksBySeq(evs), ticksBySeq(msgs)
	interval := time.Duration(srv.Interval) * time.Millisecond
	// Both transports must hand each tick over at about the same time: a
	// buffering path would hold ticks systematically, many intervals. In a
	// starved browser the two callbacks are scheduled apart now and then,
	// so the typical tick (the median) must be within one interval and
	// every tick within five.
	common, maxApart := 0, time.Duration(0)
	var apart []time.Duration
	for seq, e := range esTicks {
		w, ok := wsTicks[seq]
		if !ok {
			continue
		}
		common++
		if e.time != w.time {
			t.Errorf("tick %d: EventSource time %q, WebSocket time %q; want the same", seq, e.time, w.time)
		}
		if want := time.UnixMilli(seq * srv.Interval).UTC().Format("2006-01-02T15:04:05.000Z07:00"); e.time != want {
			t.Errorf("tick %d: time %q; want %q (seq × interval)", seq, e.time, want)
		}
		d := e.at.Sub(w.at).Abs()
		maxApart = max(maxApart, d)
		apart = append(apart, d)
		if d > 5*interval {
			t.Errorf("tick %d: EventSource and WebSocket received it %v apart; want within five intervals (%v)", seq, d, 5*interval)
		}
	}
	slices.Sort(apart)
	if len(apart) > 0 && apart[len(apart)/2] > interval {
		t.Errorf("EventSource and WebSocket received ticks a median %v apart; want within one interval (%v)", apart[len(apart)/2], interval)
	}
	t.Logf("%d ticks on both transports, received at most %v apart", common, maxApart)
	if common < 5 {
		t.Errorf("only %d ticks seen on both transports; want at least 5", common)
	}
	comparetest.CheckNoLoss(t, "EventSource", es.ticks())
	comparetest.CheckNoLoss(t, "WebSocket", conn.ticks())
}

// 2. After POST /drop?transport=sse the browser's EventSource reconnects by
// itself after about the server's retry:, sends Last-Event-ID (the server
// replays from the next seq and counts a resume), and no seq is missing or
// repeated.
func TestEventSourceReconnectsAfterDropWithLastEventID(t *testing.T) {
	es := openEventSource(t, srv.Allow+"/sse")
	es.waitFor(t, "EventSource: 3 ticks", atLeastTicks(3))
	before := stats(t, "allow")

	dropped := drop(t, "sse")
	if dropped < 1 {
		t.Fatalf("/drop?transport=sse dropped %d streams; want at least this test's", dropped)
	}
	last := es.lastSeq()
	evs := es.waitFor(t, "EventSource: error, open, then 5 more ticks", func(evs []record) bool {
		i := indexOf(evs, 0, "error")
		return i >= 0 && indexOf(evs, i, "open") >= 0 && evs[len(evs)-1].seq > last+5
	})

	errAt := indexOf(evs, 0, "error")
	openAt := indexOf(evs, errAt, "open")
	if e := evs[errAt]; e.state != browser.Connecting {
		t.Fatalf("EventSource: the drop fired error with readyState %v; want CONNECTING (the browser reconnects by itself)", e.state)
	}
	if openAt != errAt+1 {
		t.Errorf("EventSource: between error and open came %s; want nothing", describe(evs[errAt+1:openAt]))
	}
	retry := time.Duration(srv.Retry) * time.Millisecond
	const slack = 2 * time.Second
	if d := evs[openAt].at.Sub(evs[errAt].at); d < retry-10*time.Millisecond || d > retry+slack {
		t.Errorf("EventSource reopened %v after the error; want the server's retry (%v) to %v", d, retry, retry+slack)
	} else {
		t.Logf("EventSource reopened %v after the error (server's retry: %v)", d.Round(time.Millisecond), retry)
	}

	lastBefore := lastTickBefore(evs, errAt)
	firstAfter := firstTickAfter(evs, openAt)
	if lastBefore == nil || firstAfter == nil {
		t.Fatalf("no tick before the error or after the open: %s", describe(evs))
	}
	if firstAfter.seq != lastBefore.seq+1 {
		t.Errorf("EventSource: last tick before the drop %d, first after %d; want %d: the browser did not send "+
			"Last-Event-ID %q, or the server did not replay from it", lastBefore.seq, firstAfter.seq, lastBefore.seq+1, lastBefore.id)
	}
	comparetest.CheckNoLoss(t, "EventSource", es.ticks())

	after := stats(t, "allow")
	if after.SSE.Resumes < before.SSE.Resumes+1 {
		t.Errorf("server stats: sse resumes %d → %d; want one more: the reconnect carried no usable Last-Event-ID",
			before.SSE.Resumes, after.SSE.Resumes)
	}
}

// 3. The native side stops the server and starts a new one on the same port
// several ticks later; the browser's EventSource and the wasm ws.Client
// both come back and get every tick they missed.
func TestRestartOnSamePortLosesNoTick(t *testing.T) {
	watch := watchWebSockets(t)
	es := openEventSource(t, srv.Allow+"/sse")
	client := runWSClient(t, srv.Allow+"/ws", 50*time.Millisecond, 500*time.Millisecond)
	es.waitFor(t, "EventSource: 3 ticks", atLeastTicks(3))
	client.waitFor(t, "ws.Client: 3 ticks", atLeastTicks(3))

	var r struct {
		LastBefore int64 `json:"last_before"`
		FirstAfter int64 `json:"first_after"`
	}
	ctlJSON(t, "POST", "/restart", &r)
	if r.FirstAfter-r.LastBefore < 3 {
		t.Fatalf("the server was down for only %d ticks (%d → %d); the test proves little", r.FirstAfter-r.LastBefore, r.LastBefore, r.FirstAfter)
	}
	target := r.FirstAfter + 5
	evs := es.waitFor(t, fmt.Sprintf("EventSource: tick %d from the new server", target), pastSeq(target))
	msgs := client.waitFor(t, fmt.Sprintf("ws.Client: tick %d from the new server", target), pastSeq(target))

	for _, e := range evs {
		if e.kind == "error" && e.state == browser.Closed {
			t.Errorf("EventSource gave up (error with readyState CLOSED) during the restart: %s", describe(evs))
		}
	}
	for name, recs := range map[string][]record{"EventSource": evs, "ws.Client": msgs} {
		comparetest.CheckNoLoss(t, name, ticksOf(recs))
		if i := indexOf(recs, 0, "gap"); i >= 0 {
			t.Errorf("%s got a gap: %s", name, recs[i].data)
		}
		seqs := ticksOf(recs)
		if seqs[0] > r.LastBefore || seqs[len(seqs)-1] < r.FirstAfter {
			t.Errorf("%s: ticks %s do not span the outage %d..%d", name, comparetest.Seqs(seqs), r.LastBefore, r.FirstAfter)
		}
	}
	if n := count(msgs, "open"); n < 2 {
		t.Errorf("ws.Client opened %d connections; want a new one after the restart", n)
	}
	t.Logf("server down for ticks %d..%d; %d WebSockets opened in all", r.LastBefore+1, r.FirstAfter, watch.Opened())
}

// 4. The WebSocket in the browser, through coder/websocket: ticks arrive, a
// chat message is echoed on the same socket, and a message over the
// server's read limit closes the socket with 1009 (message too big).
func TestWebSocketTicksEchoAndTooBigClose(t *testing.T) {
	watch := watchWebSockets(t)
	conn := dialWS(t, srv.Allow+"/ws")
	conn.waitFor(t, "WebSocket: hello and 3 ticks", atLeastTicks(3))

	const text = `hi from wasm: <b>"quoted"</b> ünïcode ✓`
	if err := conn.conn.Chat(context.Background(), text); err != nil {
		t.Fatalf("sending a chat message: %v", err)
	}
	msgs := conn.waitFor(t, "the echo, then another tick", func(recs []record) bool {
		i := indexOf(recs, 0, "echo")
		return i >= 0 && indexOf(recs, i, "tick") >= 0
	})
	if echo := msgs[indexOf(msgs, 0, "echo")]; echo.data != text {
		t.Errorf("echo text %q; want %q", echo.data, text)
	}
	comparetest.CheckNoLoss(t, "WebSocket", ticksOf(msgs))

	big := strings.Repeat("x", int(srv.ReadLimit)) // as JSON it is over the limit
	if err := conn.conn.Chat(context.Background(), big); err != nil {
		t.Fatalf("sending %d bytes: %v", len(big), err)
	}
	conn.waitFor(t, "the socket to close after the oversized message", func(recs []record) bool {
		return indexOf(recs, 0, "closed") >= 0
	})
	c := waitClose(t, watch, srv.Allow+"/ws")
	if c.Code != 1009 {
		t.Errorf("oversized message (%d bytes, limit %d): the browser reports close code %d (%q); want 1009 (message too big)",
			len(big), srv.ReadLimit, c.Code, c.Reason)
	} else {
		t.Logf("oversized message: closed with %d %q, clean=%v", c.Code, c.Reason, c.WasClean)
	}
}

// 5. The SSE back channel from the browser: fetch POST /chat (a CORS
// request with preflight) answers 202 and the echo arrives on the page's
// EventSource, without an id of its own.
func TestSSEBackChannelWithFetch(t *testing.T) {
	es := openEventSource(t, srv.Allow+"/sse")
	evs := es.waitFor(t, "EventSource: hello and a tick", atLeastTicks(1))
	var hello struct{ Client string }
	if i := indexOf(evs, 0, "hello"); i < 0 || json.Unmarshal([]byte(evs[i].data), &hello) != nil || hello.Client == "" {
		t.Fatalf("no usable hello: %s", describe(evs))
	}

	const text = `back channel ✓ <i>"x"</i>`
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	resp, err := browser.PostJSON(ctx, srv.Allow+"/chat", map[string]string{"client": hello.Client, "text": text})
	if err != nil {
		t.Fatalf("POST /chat from the page: %v; want 202 (the server allows the page's origin)", err)
	}
	if resp.Status != 202 || resp.Type != "cors" {
		t.Fatalf("POST /chat: %d (response type %q) %s; want 202, type cors", resp.Status, resp.Type, resp.Body)
	}
	evs = es.waitFor(t, "EventSource: the echo", func(evs []record) bool { return indexOf(evs, 0, "echo") >= 0 })
	i := indexOf(evs, 0, "echo")
	var echo struct{ Text string }
	if err := json.Unmarshal([]byte(evs[i].data), &echo); err != nil || echo.Text != text {
		t.Errorf("echo data %q; want {\"text\":%q}", evs[i].data, text)
	}
	// An event without id: leaves the browser's last event ID where the
	// last tick put it.
	if prev := lastTickBefore(evs, i); prev != nil && evs[i].id != prev.id {
		t.Errorf("echo has lastEventId %q; want %q, the last tick's: the echo must carry no id", evs[i].id, prev.id)
	}
}

// 6. Origin and CORS, as the browser enforces them. Against the server that
// allows the page's origin the EventSource, fetch and the WebSocket all
// work; against one that does not, the EventSource fails for good
// (readyState CLOSED, no event), fetch is rejected and the WebSocket
// handshake is refused. Two servers refuse: one that allows some other
// origin, and one with the default configuration (no -origins), which must
// allow no other origin at all.
func TestOriginAllowedAndRefused(t *testing.T) {
	t.Run("allowed", func(t *testing.T) {
		es := openEventSource(t, srv.Allow+"/sse")
		evs := es.waitFor(t, "EventSource: open and hello", func(evs []record) bool { return indexOf(evs, 0, "hello") >= 0 })
		if evs[0].kind != "open" || evs[0].state != browser.Open {
			t.Errorf("EventSource: first event %s; want open with readyState OPEN", describe(evs[:1]))
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		resp, err := browser.Get(ctx, srv.Allow+"/stats")
		if err != nil {
			t.Fatalf("fetch GET /stats: %v; want 200", err)
		}
		if resp.Status != 200 || resp.Type != "cors" || !json.Valid(resp.Body) {
			t.Errorf("fetch GET /stats: %d, type %q, body %s; want 200, type cors, JSON", resp.Status, resp.Type, resp.Body)
		}
		conn := dialWS(t, srv.Allow+"/ws")
		conn.waitFor(t, "WebSocket: hello", func(recs []record) bool { return indexOf(recs, 0, "hello") >= 0 })
	})

	t.Run("refused_by_server_allowing_another_origin", func(t *testing.T) {
		checkRefused(t, srv.Deny, "deny")
	})
	// What `ssevsws` runs with when started without -origins.
	t.Run("refused_by_server_with_default_config", func(t *testing.T) {
		checkRefused(t, srv.Default, "deny_default")
	})
}

// checkRefused asserts that the browser refuses the page everything on the
// server at base, which does not allow the page's origin; name is the
// server's name for the control endpoint's /stats.
func checkRefused(t *testing.T, base, name string) {
	watch := watchWebSockets(t)
	es := openEventSource(t, base+"/sse")
	evs := es.waitFor(t, "EventSource: an event", func(evs []record) bool { return len(evs) > 0 })
	if e := evs[0]; e.kind != "error" || e.state != browser.Closed {
		t.Errorf("EventSource to a server that does not allow the page: first event %s; want error with readyState CLOSED",
			describe(evs))
	} else if len(evs) != 1 {
		// After CLOSED the browser dispatches nothing more: no open, no
		// hello, no tick.
		t.Errorf("EventSource events %s; want only the error", describe(evs))
	}
	if st := es.es.ReadyState(); st != browser.Closed {
		t.Errorf("EventSource readyState %v; want CLOSED: the browser must give up, not retry", st)
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var fe *browser.FetchError
	if resp, err := browser.Get(ctx, base+"/stats"); !errors.As(err, &fe) || fe.Name != "TypeError" {
		t.Errorf("fetch GET /stats: %v %s; want the browser to block it (TypeError)", err, body(resp))
	}
	if resp, err := browser.PostJSON(ctx, base+"/chat", map[string]string{"client": "x", "text": "y"}); !errors.As(err, &fe) || fe.Name != "TypeError" {
		t.Errorf("fetch POST /chat: %v %s; want the browser to block it (TypeError)", err, body(resp))
	}

	conn, err := ws.Dial(ctx, wsURL(base+"/ws"), nil)
	if err == nil {
		conn.Close()
		t.Fatal("WebSocket dial to a server that does not allow the page's origin succeeded; want it refused")
	}
	c := waitClose(t, watch, base+"/ws")
	if c.Code != 1006 || c.WasClean {
		t.Errorf("refused WebSocket: close code %d, clean %v; want 1006 and not clean (the handshake failed)", c.Code, c.WasClean)
	}

	// The refusals came from the origin rules, not from a server that is
	// down: the stream request reached the server (CORS lets a server
	// answer; the browser then hides the answer), the WebSocket handshake
	// was refused before any subscription, and the chat POST never got
	// past its preflight.
	st := stats(t, name)
	if st.SSE.Connects < 1 || st.WS.Connects != 0 || st.SSE.Chats+st.SSE.ChatRefused != 0 {
		t.Errorf("refusing server's stats: sse connects %d, ws connects %d, chats %d+%d refused; want ≥1, 0, 0",
			st.SSE.Connects, st.WS.Connects, st.SSE.Chats, st.SSE.ChatRefused)
	}
}

// 7. The ws.Client, running in the browser, after POST /drop?transport=ws:
// it waits its backoff, redials with ?lastEventId= and resumes from the
// next seq, 0 lost.
func TestWSClientReconnectsAfterDropWithBackoff(t *testing.T) {
	watchWebSockets(t)
	const minBackoff = 200 * time.Millisecond
	client := runWSClient(t, srv.Allow+"/ws", minBackoff, 2*time.Second)
	client.waitFor(t, "ws.Client: 3 ticks", atLeastTicks(3))
	before := stats(t, "allow")

	if n := drop(t, "ws"); n < 1 {
		t.Fatalf("/drop?transport=ws dropped %d connections; want at least this test's", n)
	}
	last := client.lastSeq()
	recs := client.waitFor(t, "ws.Client: error, open, then 5 more ticks", func(recs []record) bool {
		i := indexOf(recs, 1, "error")
		return i >= 0 && indexOf(recs, i, "open") >= 0 && recs[len(recs)-1].seq > last+5
	})
	errAt := indexOf(recs, 1, "error")
	openAt := indexOf(recs, errAt, "open")
	// The first wait after a connection that was open lies in
	// [MinBackoff/2, MinBackoff] ("equal jitter"), then the dial.
	const slack = 2 * time.Second
	if d := recs[openAt].at.Sub(recs[errAt].at); d < minBackoff/2 || d > minBackoff+slack {
		t.Errorf("ws.Client reconnected %v after the drop; want its backoff, %v to %v", d, minBackoff/2, minBackoff+slack)
	} else {
		t.Logf("ws.Client reconnected %v after the drop (backoff %v..%v)", d.Round(time.Millisecond), minBackoff/2, minBackoff)
	}
	lastBefore, firstAfter := lastTickBefore(recs, errAt), firstTickAfter(recs, openAt)
	if lastBefore == nil || firstAfter == nil || firstAfter.seq != lastBefore.seq+1 {
		t.Errorf("ws.Client: ticks around the reconnect %s; want the next seq first", describe(recs[max(0, errAt-2):min(len(recs), openAt+3)]))
	}
	if i := indexOf(recs, 0, "gap"); i >= 0 {
		t.Errorf("ws.Client got a gap: %s", recs[i].data)
	}
	comparetest.CheckNoLoss(t, "ws.Client", ticksOf(recs))
	if after := stats(t, "allow"); after.WS.Resumes < before.WS.Resumes+1 {
		t.Errorf("server stats: ws resumes %d → %d; want one more (?lastEventId= on the redial)", before.WS.Resumes, after.WS.Resumes)
	}
}

// 8. A silent drop (POST /drop?mode=silent) leaves the stream open and
// sends nothing more. The browser's EventSource does not notice: it stays
// OPEN and dispatches nothing, for as long as the server keeps quiet. So a
// page needs a watchdog of its own (web/static/watchdog.js is the page's;
// this test runs the same rule in Go, in the page): nothing for 2 ×
// max(heartbeat_ms, tick interval) (a script never sees the keep-alive
// comments, only events), then close the EventSource and open a new one
// with ?lastEventId=: a new object has no Last-Event-ID to send. It must
// resume at the next seq, 0 lost, 0 duplicated, across origins (CORS).
func TestEventSourceWatchdogReopensWithLastEventID(t *testing.T) {
	es := openEventSource(t, srv.Allow+"/sse")
	evs := es.waitFor(t, "EventSource: hello and 3 ticks", atLeastTicks(3))
	hello := indexOf(evs, 0, "hello")
	var h struct {
		HeartbeatMS int64 `json:"heartbeat_ms"`
	}
	_ = json.Unmarshal([]byte(evs[hello].data), &h)
	hb := time.Duration(h.HeartbeatMS) * time.Millisecond
	if hb != time.Duration(srv.Heartbeat)*time.Millisecond {
		t.Fatalf("hello %q names a heartbeat of %v; want the server's %d ms", evs[hello].data, hb, srv.Heartbeat)
	}
	limit := 2 * max(hb, time.Duration(srv.Interval)*time.Millisecond)
	before := stats(t, "allow")

	n, closeAfter := silence(t, "sse")
	if n < 1 || closeAfter <= limit {
		t.Fatalf("silent drop: %d streams silenced, closed after %v; want at least this test's, closed after more than the watchdog's %v", n, closeAfter, limit)
	}
	// The watchdog: wait until nothing has come for limit.
	var lastAt time.Time
	for {
		recs := es.snapshot()
		lastAt = recs[len(recs)-1].at
		wait := time.Until(lastAt.Add(limit))
		if wait <= 0 {
			break
		}
		select {
		case <-es.changed:
		case <-time.After(wait):
		}
	}
	detected := time.Since(lastAt)
	evs = es.snapshot()
	if st := es.es.ReadyState(); st != browser.Open || indexOf(evs, hello, "error") >= 0 {
		t.Fatalf("after %v of silence the EventSource is %v, events %s; want it still OPEN with no error: "+
			"the browser cannot tell a silent stream from a quiet one", detected, st, describe(evs[hello:]))
	}
	last := es.lastSeq()
	es.es.Close()
	t.Logf("EventSource silent for %v (watchdog %v; the server closes it after %v) and still OPEN: closed it, reopening after tick %d",
		detected.Round(time.Millisecond), limit, closeAfter, last)

	again := openEventSource(t, fmt.Sprintf("%s/sse?lastEventId=%d", srv.Allow, last))
	recs := again.waitFor(t, "the new EventSource: 5 ticks past the old one's last", pastSeq(last+5))
	seqs := ticksOf(recs)
	if seqs[0] != last+1 {
		t.Errorf("the new EventSource's first tick is %d; want %d: ?lastEventId=%d did not resume", seqs[0], last+1, last)
	}
	comparetest.CheckNoLoss(t, "EventSource before and after the watchdog", append(ticksOf(evs), seqs...))
	after := stats(t, "allow")
	if after.SSE.Resumes != before.SSE.Resumes+1 {
		t.Errorf("server stats: sse resumes %d → %d; want one more (?lastEventId= on the new EventSource)", before.SSE.Resumes, after.SSE.Resumes)
	}
	t.Logf("resumed at tick %d; server stalls (silenced streams their client gave up first) %d → %d", seqs[0], before.SSE.Stalls, after.SSE.Stalls)
}

// 9. The ws.Client in the browser, after a silent drop of its WebSocket:
// the socket stays open and quiet (a script sees no ping/pong, so the
// server's keep-alive messages are what it would hear). Its watchdog (2 ×
// the hello's heartbeat_ms) gives up with ErrStalled before the server
// closes the socket, and it redials with ?lastEventId=: 0 lost.
func TestWSClientWatchdogAfterSilentDrop(t *testing.T) {
	watchWebSockets(t)
	client := runWSClient(t, srv.Allow+"/ws", 100*time.Millisecond, time.Second)
	client.waitFor(t, "ws.Client: 3 ticks", atLeastTicks(3))
	before := stats(t, "allow")
	n, closeAfter := silence(t, "ws")
	if n < 1 {
		t.Fatalf("silent drop: %d sockets silenced; want at least this test's", n)
	}
	last := client.lastSeq()
	recs := client.waitFor(t, "ws.Client: error, open, then 5 more ticks", func(recs []record) bool {
		i := indexOf(recs, 1, "error")
		return i >= 0 && indexOf(recs, i, "open") >= 0 && recs[len(recs)-1].seq > last+5
	})
	errAt := indexOf(recs, 1, "error")
	if !strings.Contains(recs[errAt].data, ws.ErrStalled.Error()) {
		t.Errorf("ws.Client ended the silent connection with %q; want its watchdog's ErrStalled (before the server closes it after %v)", recs[errAt].data, closeAfter)
	}
	lastBefore := lastTickBefore(recs, errAt)
	if lastBefore != nil {
		t.Logf("ws.Client: watchdog fired %v after the last tick (%s)", recs[errAt].at.Sub(lastBefore.at).Round(time.Millisecond), recs[errAt].data)
	}
	if first := firstTickAfter(recs, errAt); lastBefore == nil || first == nil || first.seq != lastBefore.seq+1 {
		t.Errorf("ws.Client: ticks around the stall %s; want the next seq first", describe(recs[max(0, errAt-2):min(len(recs), errAt+4)]))
	}
	comparetest.CheckNoLoss(t, "ws.Client", ticksOf(recs))
	if after := stats(t, "allow"); after.WS.Resumes < before.WS.Resumes+1 {
		t.Errorf("server stats: ws resumes %d → %d; want one more (?lastEventId= on the redial)", before.WS.Resumes, after.WS.Resumes)
	}
}
