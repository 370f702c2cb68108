//go:build !js

package web_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/web/browsertest"
)

// TestPageLiveness drives the page's watchdogs (static/watchdog.js) in
// headless Chromium, against real servers with a short heartbeat (issue
// 10). Each subtest starts its own server, so TestPage's long scenes never
// run under a short watchdog. The tests wait on page state, never on
// sleeps; the only timing asserted is the lower bound a watchdog cannot
// beat (it may not give up before its limit).
func TestPageLiveness(t *testing.T) {
	exe := browsertest.Require(t)
	p := newPage(t, exe)
	p.setViewport(t, stageW, stageH)
	t.Run("KeepAlive", func(t *testing.T) { testKeepAlive(t, p) })
	t.Run("GoSilent", func(t *testing.T) { testGoSilent(t, p) })
	p.checkConsole(t, "at the end")
}

// openPage loads the page from srv and waits for both panels to tick. It
// leaves the page (about:blank) when the test ends, before the server stops.
func (p *page) openPage(t *testing.T, srv *testServer) {
	t.Helper()
	p.run(t, "load the page", chromedp.Navigate(srv.url()+"/"))
	t.Cleanup(func() { _ = chromedp.Run(p.ctx, chromedp.Navigate("about:blank")) })
	p.waitJS(t, "both panels open with a tick", 20*time.Second, `(() => {
		const s = window.ssevsws && window.ssevsws.snapshot();
		return !!s && s.sse.state === "open" && s.ws.state === "open" && s.sse.seq !== null && s.ws.seq !== null;
	})()`)
}

// testKeepAlive: ticks further apart than the heartbeat. The WebSocket
// panel gets {"type":"keepalive"} between ticks: they feed its watchdog
// (2 × heartbeat) but are no events, no log lines and no "unknown type".
// The SSE panel never sees the server's keep-alive comments, so its
// watchdog waits 2 × the tick interval: it must not fire between ticks.
func testKeepAlive(t *testing.T, p *page) {
	const interval, heartbeat = 1500 * time.Millisecond, 400 * time.Millisecond
	srv := startServerWith(t, func(c *compare.Config) { c.Interval, c.Heartbeat = interval, heartbeat })
	p.openPage(t, srv)
	p.waitJS(t, "4 keep-alives and 3 ticks on each panel", 30*time.Second, `(() => {
		const s = ssevsws.snapshot();
		return s.ws.keepalives >= 4 && s.sse.ticks >= 3 && s.ws.ticks >= 3;
	})()`)
	var got struct {
		SSE, WS struct {
			Events, Ticks, Keepalives, Reconnects, Episodes int
			WatchdogMs, IntervalMs, HeartbeatMs             int64
			Watchdog                                        string
			Warnings                                        []string
		}
	}
	p.eval(t, "read both panels", `(() => {
		const s = ssevsws.snapshot();
		const one = (n) => ({Events: s[n].events, Ticks: s[n].ticks, Keepalives: s[n].keepalives,
			Reconnects: s[n].reconnects, Episodes: s[n].episodes.length, WatchdogMs: s[n].watchdogMs,
			IntervalMs: s[n].intervalMs, HeartbeatMs: s[n].heartbeatMs,
			Watchdog: document.getElementById(n + "-watchdog").textContent,
			Warnings: [...document.querySelectorAll("#" + n + "-log li")]
				.filter((li) => li.dataset.kind === "warn" || li.dataset.kind === "error" || /keep-?alive|unknown/i.test(li.textContent))
				.map((li) => li.textContent)});
		return {SSE: one("sse"), WS: one("ws")};
	})()`, &got)
	t.Logf("after %d ws keep-alives: ws watchdog %q, sse watchdog %q", got.WS.Keepalives, got.WS.Watchdog, got.SSE.Watchdog)
	hb, iv := heartbeat.Milliseconds(), interval.Milliseconds()
	if got.WS.HeartbeatMs != hb || got.SSE.HeartbeatMs != hb {
		t.Errorf("heartbeat from the hellos: sse %d, ws %d; want %d", got.SSE.HeartbeatMs, got.WS.HeartbeatMs, hb)
	}
	if got.WS.WatchdogMs != 2*hb || got.WS.Watchdog != fmt.Sprintf("%d ms (2 × heartbeat %d ms)", 2*hb, hb) {
		t.Errorf("ws watchdog %d ms (%q); want 2 × heartbeat = %d ms", got.WS.WatchdogMs, got.WS.Watchdog, 2*hb)
	}
	if got.SSE.IntervalMs != iv || got.SSE.WatchdogMs != 2*iv || got.SSE.Watchdog != fmt.Sprintf("%d ms (2 × tick interval %d ms)", 2*iv, iv) {
		t.Errorf("sse watchdog %d ms (%q, interval seen %d ms); want 2 × the tick interval = %d ms: EventSource cannot see the keep-alive comments",
			got.SSE.WatchdogMs, got.SSE.Watchdog, got.SSE.IntervalMs, 2*iv)
	}
	for name, g := range map[string]struct {
		Events, Ticks, Keepalives, Reconnects, Episodes int
		WatchdogMs, IntervalMs, HeartbeatMs             int64
		Watchdog                                        string
		Warnings                                        []string
	}{"sse": got.SSE, "ws": got.WS} {
		// One connection: its hello, then ticks. A keep-alive is no event.
		if g.Reconnects != 0 || g.Episodes != 0 {
			t.Errorf("%s: %d reconnects, %d timeline episodes; want none (a watchdog fired on a healthy connection)", name, g.Reconnects, g.Episodes)
		}
		if g.Events != g.Ticks+1 {
			t.Errorf("%s: %d events for %d ticks and one hello; keep-alives must not count as events", name, g.Events, g.Ticks)
		}
		for _, w := range g.Warnings {
			t.Errorf("%s log: %q; want no warning and no line about keep-alives", name, w)
		}
	}
	if got.SSE.Keepalives != 0 {
		t.Errorf("sse: %d keep-alives seen; want 0 (comments never reach a script)", got.SSE.Keepalives)
	}
}

// testGoSilent: Go silent on each panel (Shift+S for SSE, the button for
// WebSocket). The server writes nothing more to those connections but
// keeps them open for 3 heartbeats; each panel's watchdog must give up
// after 2, reconnect with its last id (a new EventSource with
// ?lastEventId=, a redial with ?lastEventId=) and resume with 0 lost and
// 0 duplicated; the timeline tells the stall, and the stage does not move.
func testGoSilent(t *testing.T, p *page) {
	const heartbeat = 500 * time.Millisecond // watchdogs 1000 ms; the server closes after 1500 ms
	srv := startServerWith(t, func(c *compare.Config) { c.Heartbeat = heartbeat })
	limit := 2 * heartbeat.Milliseconds()

	var mu sync.Mutex
	var urls []string
	chromedp.ListenTarget(p.ctx, func(ev any) {
		var url string
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent: // fetch, EventSource
			url = e.Request.URL
		case *network.EventWebSocketCreated:
			url = e.URL
		}
		if strings.Contains(url, "/sse") || strings.Contains(url, "/ws") {
			mu.Lock()
			urls = append(urls, url)
			mu.Unlock()
		}
	})
	p.run(t, "network events", network.Enable())
	p.openPage(t, srv)
	p.showView(t, "stage")
	p.waitJS(t, "both watchdogs armed", 10*time.Second, fmt.Sprintf(
		`(() => { const s = ssevsws.snapshot(); return s.sse.watchdogMs === %d && s.ws.watchdogMs === %d; })()`, limit, limit))
	before := srv.stats()
	episodes := map[string]int{"sse": p.episodes(t, "sse"), "ws": p.episodes(t, "ws")}

	p.startAlign(t)
	p.eval(t, "leave any text field", `document.activeElement && document.activeElement.blur(), true`, nil)
	p.run(t, "press Shift+S, click Go silent on WebSocket",
		chromedp.KeyEvent("S", chromedp.KeyModifiers(input.ModifierShift)),
		chromedp.Click("#ws-silent", chromedp.ByQuery))
	for _, name := range []string{"sse", "ws"} {
		p.waitJS(t, name+" stalled and resumed", 20*time.Second, fmt.Sprintf(`(() => {
			const e = ssevsws.snapshot().%s.episodes;
			return e.length > %d && e[e.length - 1].phase === "resumed";
		})()`, name, episodes[name]))
	}
	p.stopAlign(t, "go silent → stalled → reconnect → resumed", "open/open")
	p.checkStage(t, "both resumed after a stall")
	p.saveShot(t, "silent-resumed.png")

	after := srv.stats()
	for _, c := range []struct {
		name, path string
		transport  compare.Transport
	}{{"sse", "/sse", compare.SSE}, {"ws", "/ws", compare.WS}} {
		name := c.name
		p.waitJS(t, name+": three live ticks after", 10*time.Second, fmt.Sprintf(`(() => {
			const s = ssevsws.snapshot().%s;
			const e = s.episodes[s.episodes.length - 1];
			return s.seq >= e.firstSeq + e.replayed + 3;
		})()`, name))
		var got struct {
			Lost, Duplicates int
			Ep               struct {
				Kind, Phase, By, Cause    string
				DetectMs, ResumeMs, GapMs float64
				LastSeq, FirstSeq         int64
				Replayed, Lost, Attempts  int
			}
			DOM struct{ Kind, Phase, DetectMs, Text string }
			Log []string
		}
		p.eval(t, "read the panel", fmt.Sprintf(`(() => {
			const s = ssevsws.snapshot().%[1]s;
			const e = s.episodes[s.episodes.length - 1];
			const li = document.querySelector("#%[1]s-timeline li");
			return {Lost: s.lost, Duplicates: s.duplicates,
				Ep: {Kind: e.kind, Phase: e.phase, By: e.by, Cause: e.cause, DetectMs: e.detectMs, ResumeMs: e.resumeMs,
					GapMs: e.gapMs, LastSeq: e.lastSeq, FirstSeq: e.firstSeq, Replayed: e.replayed, Lost: e.lost, Attempts: e.attempts},
				DOM: {Kind: li.dataset.kind, Phase: li.dataset.phase, DetectMs: li.dataset.detectMs || "", Text: li.textContent},
				Log: [...document.querySelectorAll("#%[1]s-log li .msg")].map((m) => m.textContent)};
		})()`, name), &got)
		t.Logf("%s: detected after %.0f ms (watchdog %d ms = 2 × heartbeat %v), resumed %.0f ms later, %d ticks replayed; timeline: %s",
			name, got.Ep.DetectMs, limit, heartbeat, got.Ep.ResumeMs, got.Ep.Replayed, got.DOM.Text)

		wantCause := fmt.Sprintf("watchdog: nothing for %d ms (2 × heartbeat %d ms)", limit, heartbeat.Milliseconds())
		// A stall episode, not a drop: the watchdog gave up before the
		// server closed the connection (at 3 heartbeats).
		if got.Ep.Kind != "stall" || got.Ep.Cause != wantCause || got.Ep.By != "page" {
			t.Errorf("%s: episode kind %q, cause %q, by %q; want a stall, cause %q, by page (the watchdog before the server's close)",
				name, got.Ep.Kind, got.Ep.Cause, got.Ep.By, wantCause)
		}
		if got.Ep.DetectMs < float64(limit) {
			t.Errorf("%s: the watchdog gave up %.0f ms after the last message; want not before its limit, %d ms", name, got.Ep.DetectMs, limit)
		}
		if got.Lost != 0 || got.Duplicates != 0 || got.Ep.Lost != 0 {
			t.Errorf("%s: lost %d (episode %d), duplicates %d; want 0", name, got.Lost, got.Ep.Lost, got.Duplicates)
		}
		if got.Ep.FirstSeq != got.Ep.LastSeq+1 {
			t.Errorf("%s: first tick after the stall %d, last before %d; want the next seq", name, got.Ep.FirstSeq, got.Ep.LastSeq)
		}
		if got.Ep.Replayed < 1 {
			t.Errorf("%s: %d ticks replayed; the silence lasted %d+ ms of 100 ms ticks, want them replayed", name, got.Ep.Replayed, limit)
		}
		if got.DOM.Kind != "stall" || got.DOM.Phase != "resumed" || got.DOM.DetectMs == "" {
			t.Errorf("%s: timeline <li> data-kind=%q data-phase=%q data-detect-ms=%q", name, got.DOM.Kind, got.DOM.Phase, got.DOM.DetectMs)
		}
		for _, step := range []string{"silent 0 ms", "stalled +", "reconnect +", "resumed +", "detected after ", "lost 0", "Go silent"} {
			if !strings.Contains(got.DOM.Text, step) {
				t.Errorf("%s: the timeline says %q; want %q in it", name, got.DOM.Text, step)
			}
		}
		if !slicesContainsPrefix(got.Log, "go silent: the server stopped writing to 1 connection(s)") {
			t.Errorf("%s: no log line for Go silent in %q", name, got.Log)
		}
		if n := after.Of(c.transport).Resumes - before.Of(c.transport).Resumes; n != 1 {
			t.Errorf("%s: the server counted %d resumes; want 1 (the new connection sent the last id)", name, n)
		}
		// What the browser asked for: the new connection names the last
		// seq in its URL. For SSE only the browser's own retry sends the
		// Last-Event-ID header; a new EventSource object must use the query.
		want := fmt.Sprintf("%s?lastEventId=%d", c.path, got.Ep.LastSeq)
		mu.Lock()
		seen := slicesContainsSuffix(urls, want)
		all := append([]string(nil), urls...)
		mu.Unlock()
		if !seen {
			t.Errorf("%s: the browser never requested …%s; requests seen: %q", name, want, all)
		}
	}
	// A WebSocket's close frame reaches the server even when the server
	// writes nothing: it counts the stall. An abandoned EventSource is
	// only counted when Chromium closes its socket (it may keep a cancelled
	// response open a while to reuse it), so that count is only logged.
	waitFor(t, "the server to count the WebSocket stall", 10*time.Second, func() bool {
		return srv.stats().WS.Stalls > before.WS.Stalls
	})
	p.waitJS(t, "the /stats table shows the stall", 10*time.Second,
		`Number(document.querySelector('[data-stat="ws.stalls"]').textContent) >= 1`)
	st := srv.stats()
	t.Logf("server: stalls sse %d, ws %d; dropped (closed by the server after the silence) sse %d, ws %d",
		st.SSE.Stalls, st.WS.Stalls, st.SSE.Dropped, st.WS.Dropped)
	p.checkConsole(t, "after going silent")
}

func slicesContainsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func slicesContainsSuffix(list []string, suffix string) bool {
	for _, s := range list {
		if strings.HasSuffix(s, suffix) {
			return true
		}
	}
	return false
}
