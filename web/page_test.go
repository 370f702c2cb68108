//go:build !js

package web_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/web/browsertest"
)

// The page tests drive the real page in headless Chromium against a real
// server on 127.0.0.1, through the hooks listed at the top of
// static/index.html. They wait on DOM conditions, never on fixed sleeps.
// They run on a 1280×720 viewport, a projector's, where the stage must fit
// without scrolling: stage_test.go checks that (fit, alignment, the keys).
// Their plumbing lives beside this file: server_test.go (the server, which
// can be restarted on its address), pagehelpers_test.go (the Chromium tab)
// and screenshot_test.go (the screenshots, and the PNG shrinker for
// web/screenshot.png).
//
// Every run saves screenshots of the stage (live, reconnecting, resumed
// after a restart, light and dark; 1920×1080; 800 px wide) under
// $TMPDIR/ssevsws-screenshots, or $SSEVSWS_SCREENSHOTS (the log prints the
// paths). Set SSEVSWS_SCREENSHOT=web/screenshot.png to also write the
// README's one there, with web/screenshot.sources beside it
// (TestScreenshotCurrent in sources_test.go holds the two together).

const (
	tickInterval = 100 * time.Millisecond
	sseRetry     = 300 * time.Millisecond

	// httpPerServer is how many HTTP/1.1 connections Chromium keeps to one
	// server (scheme, host, port); ownHeld is how many of them the page
	// holds itself: its EventSource. Its WebSocket is not counted
	// (measured with Chromium 156: with both panels open 5 of 8 extra
	// EventSources open, on a page without streams 6 of 8).
	httpPerServer = 6
	ownHeld       = 1
	extras        = 8
)

func TestPage(t *testing.T) {
	exe := browsertest.Require(t)
	// Named, as -instance names it: the panels show it, and the chat's hop.
	srv := startServerWith(t, func(c *compare.Config) { c.Instance = instanceName })
	p := newPage(t, exe)
	p.setViewport(t, stageW, stageH)

	p.run(t, "load the page", chromedp.Navigate(srv.url()+"/"))
	p.waitJS(t, "both panels open with a tick", 20*time.Second, `(() => {
		const s = window.ssevsws && window.ssevsws.snapshot();
		return !!s && s.sse.state === "open" && s.ws.state === "open" && s.sse.seq !== null && s.ws.seq !== null;
	})()`)
	p.checkConsole(t, "after load")

	t.Run("Stage", func(t *testing.T) { testStage(t, p) })

	t.Run("Ticks", func(t *testing.T) {
		// One tick per interval: both panels must show a new tick within
		// two intervals. Timed in the page. A single stall of a loaded
		// machine (GC, scheduling) is not the page's fault, so the
		// measurement may be taken up to three times; all are logged.
		limit := float64(2 * tickInterval.Milliseconds())
		var got struct{ SSE, WS float64 }
		for try := 1; try <= 3; try++ {
			p.eval(t, "time the next tick", fmt.Sprintf(`new Promise((resolve) => {
				const start = ssevsws.snapshot();
				const t0 = performance.now();
				const got = {};
				const check = () => {
					const s = ssevsws.snapshot();
					const now = performance.now();
					if (got.SSE === undefined && s.sse.ticks > start.sse.ticks) got.SSE = now - t0;
					if (got.WS === undefined && s.ws.ticks > start.ws.ticks) got.WS = now - t0;
					if ((got.SSE !== undefined && got.WS !== undefined) || now - t0 > %d) {
						resolve({SSE: got.SSE ?? -1, WS: got.WS ?? -1});
					} else {
						setTimeout(check, 2);
					}
				};
				check();
			})`, (10*tickInterval).Milliseconds()), &got)
			t.Logf("try %d: next tick after sse %.0f ms, ws %.0f ms", try, got.SSE, got.WS)
			if got.SSE >= 0 && got.SSE <= limit && got.WS >= 0 && got.WS <= limit {
				break
			}
		}
		if got.SSE < 0 || got.SSE > limit || got.WS < 0 || got.WS > limit {
			t.Errorf("next tick after sse %.0f ms, ws %.0f ms; want both within two intervals (%.0f ms)", got.SSE, got.WS, limit)
		}
		var first struct{ SSE, WS float64 }
		p.eval(t, "first tick", `(() => { const s = ssevsws.snapshot();
			return {SSE: s.sse.firstTickMs, WS: s.ws.firstTickMs}; })()`, &first)
		t.Logf("first tick after the first open (page still loading): sse %.0f ms, ws %.0f ms", first.SSE, first.WS)
		// Only logged: while the page is still loading, its main thread may
		// be busy for hundreds of ms (seen: 361 ms) before it handles the
		// first message, so this says more about the page load than about
		// the transport. The next-tick timing above is the assertion.
		// Text the class reads: the seq field shows the latest tick.
		var seq string
		p.run(t, "read #sse-seq", chromedp.Text("#sse-seq", &seq, chromedp.ByQuery))
		if seq == "" || seq == "-" {
			t.Errorf("#sse-seq = %q, want a tick number", seq)
		}
	})

	t.Run("LatencyChart", func(t *testing.T) { testLatencyChart(t, p) })

	for _, c := range []struct{ panel, by string }{{"sse", "browser"}, {"ws", "page"}} {
		t.Run("Drop/"+c.panel, func(t *testing.T) { testDrop(t, p, srv, c.panel, c.by) })
	}

	t.Run("Reconnecting", func(t *testing.T) { testReconnecting(t, p, srv) })
	t.Run("Shortcuts", func(t *testing.T) { testShortcuts(t, p, srv) })

	t.Run("Chat", func(t *testing.T) {
		for _, name := range []string{"sse", "ws"} {
			text := "hello from the " + name + " test ünïcode"
			p.chat(t, name, text, name == "ws") // WS by the Enter key: the form works from the keyboard
			p.waitEcho(t, name, text)
			var flow string
			p.run(t, "read the diagram's last pulse", chromedp.AttributeValue("#"+name+"-diagram", "data-flow", &flow, nil, chromedp.ByQuery))
			if flow == "" {
				t.Errorf("%s: the diagram never pulsed", name)
			}
		}
	})

	t.Run("Hop", func(t *testing.T) { testHopLocal(t, p) })

	t.Run("ChatIsText", func(t *testing.T) {
		const evil = `<img src=x onerror=alert(1)>`
		p.eval(t, "trap alert", `(() => {
			window.__xss = {alerts: 0};
			window.alert = () => { window.__xss.alerts++; };
			return true;
		})()`, nil)
		for _, name := range []string{"sse", "ws"} {
			p.chat(t, name, evil, false)
			p.waitEcho(t, name, evil)
		}
		// Give an injected element time to fail its load and run its
		// handler: wait for three more ticks, then look.
		p.waitJS(t, "three more ticks", 10*time.Second, `(() => {
			const s = ssevsws.snapshot();
			window.__xssTicks ??= s.ws.ticks;
			return s.ws.ticks >= window.__xssTicks + 3;
		})()`)
		var got struct {
			Alerts, Images, EchoLines int
		}
		p.eval(t, "look for the injection", fmt.Sprintf(`({
			Alerts: window.__xss.alerts,
			Images: document.querySelectorAll("img").length,
			EchoLines: [...document.querySelectorAll('.log li[data-kind="echo"] .msg')]
				.filter((e) => e.textContent === "echo " + %s).length,
		})`, jsString(evil)), &got)
		if got.Alerts != 0 || got.Images != 0 {
			t.Errorf("the chat text ran as markup: alert called %d times, %d <img> in the page", got.Alerts, got.Images)
		}
		if got.EchoLines != 2 {
			t.Errorf("%d log lines show the text as text, want 2 (one per panel)", got.EchoLines)
		}
	})

	t.Run("ChatRefused", func(t *testing.T) { testChatRefused(t, p) })

	t.Run("ConnectionLimit", func(t *testing.T) {
		p.showView(t, "limit")
		defer p.showView(t, "stage")
		p.waitJS(t, "own stream open", 10*time.Second, `ssevsws.snapshot().sse.state === "open"`)
		start := time.Now()
		p.run(t, "click the limit button", chromedp.Click("#limit-run", chromedp.ByQuery))
		p.waitJS(t, "the limit result", 20*time.Second,
			`document.getElementById("limit-result").dataset.state === "done"`)
		var r struct {
			Opened, Waiting, Failed, Expected string
			Protocol, Text                    string
			Closed                            int
		}
		p.eval(t, "read the limit result", `(() => {
			const d = document.getElementById("limit-result");
			return {Opened: d.dataset.opened, Waiting: d.dataset.waiting, Failed: d.dataset.failed,
				Expected: d.dataset.expected, Protocol: d.dataset.protocol, Text: d.textContent,
				Closed: document.querySelectorAll('#limit-chips li[data-closed="true"]').length};
		})()`, &r)
		want := httpPerServer - ownHeld
		if r.Protocol != "http/1.1" {
			t.Fatalf("the page came over %q, want http/1.1 (the test server speaks HTTP/1.1)", r.Protocol)
		}
		if r.Opened != fmt.Sprint(want) || r.Waiting != fmt.Sprint(extras-want) || r.Failed != "0" {
			t.Errorf("limit: opened %s, waiting %s, failed %s; want %d opened (6 per server − %d held by the page) and %d waiting",
				r.Opened, r.Waiting, r.Failed, want, ownHeld, extras-want)
		}
		if r.Expected != fmt.Sprint(want) {
			t.Errorf("the page expected %s, want %d", r.Expected, want)
		}
		if r.Closed != extras {
			t.Errorf("%d of %d extras marked closed", r.Closed, extras)
		}
		t.Logf("limit (%v): %s", time.Since(start).Round(time.Millisecond), r.Text)
		// The extras are closed again: the server sees only the page's own
		// stream. Not at once: Chromium drains a cancelled response for up
		// to 5 s (16 KB), hoping to reuse its socket, before it closes it.
		if err := comparetest.WaitOpen(srv.srv.Server, compare.SSE, 1, 15*time.Second); err != nil {
			t.Fatalf("the server did not see the extras go: %v (the page's own stream)", err)
		}
		t.Logf("the server saw the extras go after %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("StatsTable", func(t *testing.T) {
		p.waitJS(t, "the /stats table filled", 10*time.Second, `(() => {
			const v = (k) => Number(document.querySelector('[data-stat="' + k + '"]').textContent.replace(/,/g, ""));
			return v("sse.ticks") > 0 && v("ws.ticks") > 0 && v("sse.dropped") >= 1 && v("ws.dropped") >= 1;
		})()`)
	})

	t.Run("TickWireBytes", func(t *testing.T) { testTickWireBytes(t, p, srv) })

	t.Run("Measure", func(t *testing.T) {
		p.showView(t, "measure")
		defer p.showView(t, "stage")
		p.run(t, "click measure", chromedp.Click("#measure-run", chromedp.ByQuery))
		p.waitJS(t, "the measured table", 30*time.Second,
			`document.getElementById("measure").dataset.state === "done"`)
		var rows []struct{ Key, SSE, WS, Ratio string }
		p.eval(t, "read the measured table", `[...document.querySelectorAll("#measure tbody tr")].map(tr => ({
			Key: tr.dataset.key, SSE: tr.cells[1].textContent, WS: tr.cells[2].textContent, Ratio: tr.cells[3].textContent}))`, &rows)
		found := false
		for _, r := range rows {
			if r.Key == "connect_p50" {
				found = strings.HasSuffix(r.SSE, " ms") && strings.HasSuffix(r.WS, " ms")
			}
		}
		if len(rows) < 8 || !found {
			t.Errorf("measured table %+v: want a row per probe, connect p50 in ms for both", rows)
		}
		checkMeasureText(t, p, rows)
	})

	t.Run("Layout", func(t *testing.T) { testStack(t, p) })

	t.Run("Restart", func(t *testing.T) {
		// The experiment the page describes: stop the server, start it
		// again; both panels reconnect on their own and lose nothing, and
		// stay in line with each other on the stage all along.
		p.setViewport(t, stageW, stageH)
		var before struct{ SSE, WS int }
		p.eval(t, "count episodes", `(() => { const s = ssevsws.snapshot();
			return {SSE: s.sse.episodes.length, WS: s.ws.episodes.length}; })()`, &before)
		p.checkConsole(t, "before the restart")
		p.startAlign(t)
		srv.stop()
		p.waitJS(t, "both panels reconnecting", 10*time.Second,
			`(() => { const s = ssevsws.snapshot(); return s.sse.state !== "open" && s.ws.state !== "open"; })()`)
		p.checkStage(t, "both reconnecting")
		srv.start()
		p.waitJS(t, "both panels resumed", 20*time.Second, fmt.Sprintf(`(() => {
			const s = ssevsws.snapshot();
			const done = (p, n) => p.episodes.length > n && p.episodes[p.episodes.length - 1].phase === "resumed";
			return done(s.sse, %d) && done(s.ws, %d);
		})()`, before.SSE, before.WS))
		p.stopAlign(t, "server restart", "reconnecting/reconnecting", "open/open")
		p.checkStage(t, "both resumed after the restart")
		var got struct {
			SSE, WS struct {
				Lost int
				Ep   struct {
					By                string
					Lost              int
					LastSeq, FirstSeq int64
				}
			}
		}
		p.eval(t, "read both panels", `(() => {
			const s = ssevsws.snapshot();
			const one = (p) => ({Lost: p.lost, Ep: p.episodes[p.episodes.length - 1]});
			return {SSE: one(s.sse), WS: one(s.ws)};
		})()`, &got)
		for name, g := range map[string]struct {
			Lost int
			Ep   struct {
				By                string
				Lost              int
				LastSeq, FirstSeq int64
			}
		}{"sse": got.SSE, "ws": got.WS} {
			if g.Lost != 0 || g.Ep.Lost != 0 {
				t.Errorf("%s: %d lost across the restart, want 0", name, g.Ep.Lost)
			}
			if g.Ep.FirstSeq != g.Ep.LastSeq+1 {
				t.Errorf("%s: resumed at %d after %d", name, g.Ep.FirstSeq, g.Ep.LastSeq)
			}
		}
		// The new process knows the page only by the last ids it sent:
		// every connection it had from the page must have been a resume.
		st := srv.stats()
		for name, c := range map[string]compare.CountersSnapshot{"sse": st.SSE, "ws": st.WS} {
			if c.Resumes < 1 || c.Resumes != c.Connects {
				t.Errorf("%s: the restarted server counted %d connects, %d of them resumes; want all resumes", name, c.Connects, c.Resumes)
			}
		}
		// While the server was down, a redial may have been refused; the
		// browser logs that. It is the experiment, not a fault of the page.
		p.dropConsole(t, "ERR_CONNECTION_REFUSED", "WebSocket connection to")
	})

	// The last scene, for the screenshots: a chat on each panel, echoed.
	for _, name := range []string{"sse", "ws"} {
		p.chat(t, name, "hello, class", true)
		p.waitEcho(t, name, "hello, class")
	}
	p.screenshots(t)
	p.checkConsole(t, "at the end")
}

// Over HTTP/2 (what ssevsws -tls serves) every EventSource is a stream on
// one connection: the limit experiment opens all 8, and the page says why.
func TestPageHTTP2(t *testing.T) {
	exe := browsertest.Require(t)
	srv, err := compare.New(compare.Config{Interval: tickInterval, Retry: sseRetry, Logger: comparetest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		ts.Close()
	})
	// httptest's certificate is self-signed, as -tls's is.
	p := newPage(t, exe, chromedp.Flag("ignore-certificate-errors", true))
	p.run(t, "load the page", chromedp.Navigate(ts.URL+"/"))
	p.waitJS(t, "both panels open with a tick", 20*time.Second, `(() => {
		const s = window.ssevsws && window.ssevsws.snapshot();
		return !!s && s.sse.state === "open" && s.ws.state === "open" && s.sse.seq !== null && s.ws.seq !== null;
	})()`)
	p.showView(t, "limit")
	p.run(t, "click the limit button", chromedp.Click("#limit-run", chromedp.ByQuery))
	p.waitJS(t, "the limit result", 20*time.Second,
		`document.getElementById("limit-result").dataset.state === "done"`)
	var r struct{ Opened, Waiting, Expected, Protocol, Text string }
	p.eval(t, "read the limit result", `(() => {
		const d = document.getElementById("limit-result");
		return {Opened: d.dataset.opened, Waiting: d.dataset.waiting, Expected: d.dataset.expected,
			Protocol: d.dataset.protocol, Text: d.textContent};
	})()`, &r)
	if r.Protocol != "h2" || r.Opened != fmt.Sprint(extras) || r.Waiting != "0" || r.Expected != fmt.Sprint(extras) {
		t.Errorf("over HTTP/2: protocol %q, opened %s, waiting %s, expected %s; want h2, all %d open",
			r.Protocol, r.Opened, r.Waiting, r.Expected, extras)
	}
	t.Logf("limit: %s", r.Text)
	p.checkConsole(t, "over HTTP/2")
}

// testDrop presses Drop on one panel and checks the timeline: a new episode
// that reaches "resumed", reconnected by the right party, with 0 lost.
func testDrop(t *testing.T, p *page, srv *testServer, name, by string) {
	transport := compare.Transport(name) // the page names each panel by its transport's value
	resumesBefore := srv.stats().Of(transport).Resumes
	var before struct{ Episodes, Reconnects int }
	p.eval(t, "count episodes", fmt.Sprintf(`(() => { const s = ssevsws.snapshot().%s;
		return {Episodes: s.episodes.length, Reconnects: s.reconnects}; })()`, name), &before)
	// Measured at every change, the reconnecting moment included.
	p.startAlign(t)
	p.run(t, "click Drop", chromedp.Click("#"+name+"-drop", chromedp.ByQuery))
	p.waitJS(t, "the episode resumed", 15*time.Second, fmt.Sprintf(`(() => {
		const e = ssevsws.snapshot().%s.episodes;
		return e.length > %d && e[e.length - 1].phase === "resumed";
	})()`, name, before.Episodes))
	reconnecting := map[string]string{"sse": "reconnecting/open", "ws": "open/reconnecting"}[name]
	p.stopAlign(t, name+" drop → reconnecting → resumed", reconnecting, "open/open")
	p.checkStage(t, name+" resumed after Drop")
	// A few live ticks after the resume, then the numbers.
	p.waitJS(t, "three live ticks after", 10*time.Second, fmt.Sprintf(`(() => {
		const s = ssevsws.snapshot().%s;
		const e = s.episodes[s.episodes.length - 1];
		return s.seq >= e.firstSeq + e.replayed + 3;
	})()`, name))
	var got struct {
		Lost, Duplicates, Reconnects int
		Ep                           struct {
			Phase, By, Cause   string
			GapMs, ReconnectMs float64
			LastSeq, FirstSeq  int64
			Replayed, Lost     int
		}
		DOM struct{ Phase, By, Lost, Text string }
	}
	p.eval(t, "read the panel", fmt.Sprintf(`(() => {
		const s = ssevsws.snapshot().%[1]s;
		const e = s.episodes[s.episodes.length - 1];
		const li = document.querySelector("#%[1]s-timeline li");
		return {Lost: s.lost, Duplicates: s.duplicates, Reconnects: s.reconnects,
			Ep: {Phase: e.phase, By: e.by, Cause: e.cause, GapMs: e.gapMs, ReconnectMs: e.reconnectMs,
				LastSeq: e.lastSeq, FirstSeq: e.firstSeq, Replayed: e.replayed, Lost: e.lost},
			DOM: {Phase: li.dataset.phase, By: li.dataset.by, Lost: li.dataset.lost, Text: li.textContent}};
	})()`, name), &got)
	if got.Lost != 0 || got.Duplicates != 0 || got.Ep.Lost != 0 {
		t.Errorf("%s: lost %d (episode %d), duplicates %d; want 0", name, got.Lost, got.Ep.Lost, got.Duplicates)
	}
	if got.Reconnects != before.Reconnects+1 {
		t.Errorf("%s: reconnects %d, want %d", name, got.Reconnects, before.Reconnects+1)
	}
	if got.Ep.By != by || got.Ep.Cause != "Drop button" {
		t.Errorf("%s: episode by %q, cause %q; want by %q, cause %q", name, got.Ep.By, got.Ep.Cause, by, "Drop button")
	}
	// The replay is what makes the first tick come at once rather than at
	// the next live tick; that it came is asserted below (Replayed). This
	// bound only catches a server that waits for live ticks; in a starved
	// browser the first message can take a few intervals to show.
	if d := got.Ep.GapMs - got.Ep.ReconnectMs; d > float64(10*tickInterval.Milliseconds()) {
		t.Errorf("%s: first tick %.0f ms after the reconnect, want within ten intervals", name, d)
	}
	if got.Ep.FirstSeq != got.Ep.LastSeq+1 {
		t.Errorf("%s: first tick after the reconnect is %d, last before %d: the server did not resume", name, got.Ep.FirstSeq, got.Ep.LastSeq)
	}
	// A fresh connection's first tick can also be LastSeq+1 when only one
	// tick fell due; the server's count says whether the page asked to resume.
	if n := srv.stats().Of(transport).Resumes - resumesBefore; n != 1 {
		t.Errorf("%s: the server counted %d resumes for one reconnect, want 1 (the reconnect did not send the last id)", name, n)
	}
	// The SSE browser waits the retry (300 ms), the page's WebSocket code
	// its backoff (at least 125 ms): a tick falls due meanwhile either way,
	// and the first tick after the reconnect is a replayed one.
	if got.Ep.Replayed < 1 {
		t.Errorf("%s: %d ticks counted as replayed after the outage, want at least 1", name, got.Ep.Replayed)
	}
	if got.DOM.Phase != "resumed" || got.DOM.By != by || got.DOM.Lost != "0" {
		t.Errorf("%s: timeline <li> data-phase=%q data-by=%q data-lost=%q", name, got.DOM.Phase, got.DOM.By, got.DOM.Lost)
	}
	t.Logf("%s timeline: %s", name, got.DOM.Text)
}
