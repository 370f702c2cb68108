//go:build !js

package web_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ssevsws/ssevsws/compare"
)

// The stage (issue 12): on a 1280×720 projector both panels show what a
// class watches without scrolling, aligned with each other whatever
// happens, and the presenter's keys work. These checks run inside TestPage
// (page_test.go), on its one tab and server.

const stageW, stageH = 1280, 720

// stageFields are the fields of each panel the stage must show: the tick,
// the state badge, the server's box of the diagram (it names the instance
// the stream is on), the counters a class is told to watch, Drop and
// Reconnect, the chat box, and the reconnect timeline (its newest entry is
// checked apart, once there is one).
var stageFields = []string{"seq", "state", "diagram-server", "lost", "duplicates", "replayed", "reconnects",
	"drop", "silent", "reconnect", "chat-input", "chat-send", "chat-status", "timeline"}

// setViewport makes the tab's viewport w×h CSS pixels, as a projector's
// full-screen browser would have.
func (p *page) setViewport(t *testing.T, w, h int64) {
	t.Helper()
	p.run(t, fmt.Sprintf("viewport %d×%d", w, h), chromedp.EmulateViewport(w, h))
}

// showView switches the page to a view by its tab.
func (p *page) showView(t *testing.T, view string) {
	t.Helper()
	p.eval(t, "show view "+view, fmt.Sprintf(`document.getElementById("tab-%s").click(), true`, view), nil)
	p.waitJS(t, "view "+view, 5*time.Second, fmt.Sprintf(`document.getElementById("main").dataset.view === %q`, view))
}

// stageProblemsJS defines window.__stageProblems(fields): what is wrong
// with the stage as it is now: an essential field (of both panels) outside
// the viewport or not shown, a page that needs scrolling, a badge or value
// that is cut or wraps, text under 16 px, and parts of the two panels out
// of line with each other.
const stageProblemsJS = `window.__stageProblems = (FIELDS) => {
	const problems = [];
	window.scrollTo(0, 0);
	const W = innerWidth, H = innerHeight;
	const doc = document.documentElement;
	if (doc.scrollHeight > H + 1) problems.push("the page is " + doc.scrollHeight + " px tall: the stage needs scrolling at " + W + "×" + H);
	if (doc.scrollWidth > W + 1) problems.push("the page is " + doc.scrollWidth + " px wide at " + W + " px");
	const box = (el) => el.getBoundingClientRect();
	const inView = (what, el) => {
		if (!el) { problems.push(what + ": missing"); return; }
		const r = box(el);
		if (r.width === 0 || r.height === 0) problems.push(what + ": not shown");
		else if (r.left < 0 || r.top < 0 || r.right > W + 0.5 || r.bottom > H + 0.5) {
			problems.push(what + ": at " + [r.left, r.top, r.right, r.bottom].map(Math.round).join(",") + ", outside the " + W + "×" + H + " viewport");
		}
	};
	for (const name of ["sse", "ws"]) {
		for (const f of FIELDS) inView(name + " " + f, document.getElementById(name + "-" + f));
		const tl = document.getElementById(name + "-timeline");
		const li = tl.firstElementChild;
		if (li) {
			inView(name + " newest timeline entry", li);
			if (box(li).bottom > box(tl).bottom + 1) problems.push(name + ": the newest timeline entry is cut by its slot");
		}
		// Values must show whole, on one line, inside their panel: not
		// cut, not wrapped. Inline values are cut by their line's box.
		const panel = box(document.querySelector('[data-panel="' + name + '"]'));
		for (const f of ["state", "seq", "time", "delay"]) {
			const el = document.getElementById(name + "-" + f);
			const clip = f === "state" ? el : el.parentElement;
			if (clip.scrollWidth > clip.clientWidth + 1) problems.push(name + " " + f + " is cut: " + clip.textContent);
			if (el.getClientRects().length > 1 || box(el).height > 2.2 * parseFloat(getComputedStyle(el).fontSize)) problems.push(name + " " + f + " wraps: " + el.textContent);
			if (box(el).right > panel.right || box(el).left < panel.left) problems.push(name + " " + f + " sticks out of its panel");
		}
	}
	// The two panels' parts line up, row by row.
	const parts = (n) => [...document.querySelector('[data-panel="' + n + '"]').children];
	const a = parts("sse"), b = parts("ws");
	const top = (el) => box(el).top;
	if (Math.abs(top(a[0].parentElement) - top(b[0].parentElement)) > 1) problems.push("the panels' tops differ");
	a.forEach((el, i) => {
		if (el.getClientRects().length && b[i].getClientRects().length && Math.abs(top(el) - top(b[i])) > 1) {
			problems.push("part " + el.dataset.part + ": sse at " + top(el) + ", ws at " + top(b[i]));
		}
	});
	// No text the class must read under 16 px (SVG text at its drawn size).
	for (const el of document.body.querySelectorAll("*")) {
		const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== "");
		if (!own || !el.checkVisibility()) continue;
		const r = box(el);
		if (r.bottom <= 0 || r.top >= H || r.width === 0) continue;
		let size = parseFloat(getComputedStyle(el).fontSize);
		if (el instanceof SVGElement) {
			const svg = el.ownerSVGElement;
			size *= box(svg).width / svg.viewBox.baseVal.width;
		}
		if (size < 15.9) problems.push(JSON.stringify(el.textContent.trim().slice(0, 40)) + " is " + size.toFixed(1) + " px");
	}
	return problems;
}, true`

// stageFieldsJS is stageFields as a JavaScript array.
func stageFieldsJS() string {
	b, _ := json.Marshal(stageFields)
	return string(b)
}

// checkStage fails the test for every problem __stageProblems finds.
func (p *page) checkStage(t *testing.T, when string) {
	t.Helper()
	var problems []string
	p.eval(t, "define the stage check", stageProblemsJS, nil)
	p.eval(t, "check the stage "+when, "window.__stageProblems("+stageFieldsJS()+")", &problems)
	for _, pr := range problems {
		t.Errorf("%s: %s", when, pr)
	}
}

// The alignment recorder measures both panels at every change the page
// makes to them (a MutationObserver runs before the browser paints), so a
// state held for a few milliseconds, such as reconnecting, is measured too;
// the first time it sees each pair of states it also runs the whole stage
// check (__stageProblems).
const startAlignRecorderJS = `(() => {
	const P = (n) => document.querySelector('[data-panel="' + n + '"]');
	const top = (el) => el.getBoundingClientRect().top;
	const chat = (n) => P(n).querySelector('[data-field="chat-form"]');
	const rec = {n: 0, panels: 0, chats: 0, parts: 0, chatMin: 1e9, chatMax: -1e9, states: {}, worst: "", problems: []};
	const measure = () => {
		const a = P("sse"), b = P("ws");
		rec.n++;
		const state = a.dataset.state + "/" + b.dataset.state;
		if (!rec.states[state]) {
			for (const pr of window.__stageProblems(FIELDS)) rec.problems.push(state + ": " + pr);
		}
		rec.states[state] = (rec.states[state] || 0) + 1;
		const d = Math.abs(top(a) - top(b));
		const c = Math.abs(top(chat("sse")) - top(chat("ws")));
		if (d > rec.panels) rec.panels = d;
		if (c > rec.chats) { rec.chats = c; rec.worst = state; }
		for (const t of [top(chat("sse")), top(chat("ws"))]) {
			rec.chatMin = Math.min(rec.chatMin, t);
			rec.chatMax = Math.max(rec.chatMax, t);
		}
		[...a.children].forEach((el, i) => {
			const twin = b.children[i];
			if (el.getClientRects().length && twin.getClientRects().length) {
				rec.parts = Math.max(rec.parts, Math.abs(top(el) - top(twin)));
			}
		});
	};
	const mo = new MutationObserver(measure);
	for (const n of ["sse", "ws"]) mo.observe(P(n), {subtree: true, childList: true, attributes: true, characterData: true});
	measure();
	window.__align = {rec, stop: () => mo.disconnect()};
	return true;
})()`

// alignRecord is what the recorder saw.
type alignRecord struct {
	N                    int
	Panels, Chats, Parts float64
	ChatMin, ChatMax     float64
	States               map[string]int
	Worst                string
	Problems             []string
}

// startAlign starts the alignment recorder.
func (p *page) startAlign(t *testing.T) {
	t.Helper()
	p.eval(t, "define the stage check", stageProblemsJS, nil)
	p.eval(t, "record alignment", strings.Replace(startAlignRecorderJS, "FIELDS", stageFieldsJS(), 1), nil)
}

// stopAlign stops the recorder and checks what it saw: the panels' tops,
// their chat boxes and every other part at the same height as their twin
// (within 1 px) in every state, the chat boxes never moving, and the
// states the caller expects (e.g. "reconnecting/open") seen at least once.
func (p *page) stopAlign(t *testing.T, when string, wantStates ...string) {
	t.Helper()
	var r alignRecord
	p.eval(t, "read the alignment recorder", `(() => { window.__align.stop(); return window.__align.rec; })()`, &r)
	t.Logf("%s: %d measurements, states %v; largest differences: panels %.1f px, chat boxes %.1f px, parts %.1f px; chat boxes between %.1f and %.1f px",
		when, r.N, r.States, r.Panels, r.Chats, r.Parts, r.ChatMin, r.ChatMax)
	if r.Panels > 1 || r.Chats > 1 || r.Parts > 1 {
		t.Errorf("%s: the panels went out of line (tops %.1f px, chat boxes %.1f px (at %s), parts %.1f px apart); want at most 1 px",
			when, r.Panels, r.Chats, r.Worst, r.Parts)
	}
	if r.ChatMax-r.ChatMin > 1 {
		t.Errorf("%s: the chat boxes moved by %.1f px: something above them reflowed", when, r.ChatMax-r.ChatMin)
	}
	for _, s := range wantStates {
		if r.States[s] == 0 {
			t.Errorf("%s: never measured in state %s (sse/ws), saw %v", when, s, r.States)
		}
	}
	for _, pr := range r.Problems {
		t.Errorf("%s, in state %s", when, pr)
	}
}

// testStage checks the stage at 1280×720 with both panels live.
func testStage(t *testing.T, p *page) {
	p.setViewport(t, stageW, stageH)
	p.showView(t, "stage")
	p.checkStage(t, "live")
	p.saveShot(t, "live.png")
}

// testReconnecting holds the SSE panel away from its server for a while
// and checks the stage meanwhile. Reconnecting: the browser holds
// EventSource's new request (DevTools' Fetch interception) until the test
// lets it through; the panel then resumes with 0 lost. Closed: the browser
// blocks the request, EventSource gives up for good (as after an error
// status), and "Reconnect now" brings it back. Nothing on the stage moves.
func testReconnecting(t *testing.T, p *page, srv *testServer) {
	p.setViewport(t, stageW, stageH)
	p.showView(t, "stage")
	paused := make(chan fetch.RequestID, 16)
	chromedp.ListenTarget(p.ctx, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			select {
			case paused <- e.RequestID:
			default:
			}
		}
	})

	before := p.episodes(t, "sse")
	p.startAlign(t)
	p.run(t, "hold /sse", fetch.Enable().WithPatterns([]*fetch.RequestPattern{
		{URLPattern: "*/sse*", RequestStage: fetch.RequestStageRequest}}))
	p.run(t, "click Drop", chromedp.Click("#sse-drop", chromedp.ByQuery))
	var held fetch.RequestID
	select {
	case held = <-paused:
	case <-time.After(15 * time.Second):
		t.Fatal("EventSource did not try to reconnect")
	}
	p.waitJS(t, "sse reconnecting", 5*time.Second, `ssevsws.snapshot().sse.state === "reconnecting"`)
	p.checkStage(t, "sse reconnecting")
	p.saveShot(t, "reconnecting.png")
	p.run(t, "let /sse through", fetch.ContinueRequest(held), fetch.Disable())
	p.waitResumed(t, "sse", before, 15*time.Second)
	p.stopAlign(t, "sse held, then resumed", "reconnecting/open", "open/open")

	p.run(t, "network domain", network.Enable())
	defer p.run(t, "unblock", network.SetBlockedURLs([]string{}))
	p.startAlign(t)
	p.run(t, "block /sse", network.SetBlockedURLs([]string{"*/sse", "*/sse?*"}))
	p.run(t, "click Drop", chromedp.Click("#sse-drop", chromedp.ByQuery))
	p.waitJS(t, "sse closed", 15*time.Second, `ssevsws.snapshot().sse.state === "closed"`)
	p.checkStage(t, "sse closed")
	p.run(t, "unblock /sse", network.SetBlockedURLs([]string{}))
	p.run(t, "click Reconnect now", chromedp.Click("#sse-reconnect", chromedp.ByQuery))
	p.waitResumed(t, "sse", before, 15*time.Second)
	p.stopAlign(t, "sse blocked, closed, reconnected", "closed/open", "open/open")

	var lost int
	p.eval(t, "lost", `ssevsws.snapshot().sse.lost`, &lost)
	if lost != 0 {
		t.Errorf("sse: %d ticks lost across the held and the blocked reconnect, want 0", lost)
	}
	p.checkStage(t, "sse open again")
	// The browser logs the blocked request; that is the experiment.
	p.dropConsole(t, "ERR_BLOCKED_BY_CLIENT")
}

// episodes counts a panel's reconnect episodes so far.
func (p *page) episodes(t *testing.T, name string) int {
	t.Helper()
	var n int
	p.eval(t, "count episodes", fmt.Sprintf(`ssevsws.snapshot().%s.episodes.length`, name), &n)
	return n
}

// waitResumed waits until a panel's newest episode, after the first
// `before`, has resumed.
func (p *page) waitResumed(t *testing.T, name string, before int, timeout time.Duration) {
	t.Helper()
	p.waitJS(t, name+" resumed", timeout, fmt.Sprintf(`(() => {
		const e = ssevsws.snapshot().%s.episodes;
		return e.length > %d && e[e.length - 1].phase === "resumed";
	})()`, name, before))
}

// testShortcuts presses the presenter's keys: S and W drop a transport
// (the server's dropped counter says so), C and V open a chat box; and a
// key typed into a chat box stays text.
func testShortcuts(t *testing.T, p *page, srv *testServer) {
	p.setViewport(t, stageW, stageH)
	p.showView(t, "stage")
	// Each control shows its key in a <kbd> and declares it.
	var marks map[string]string
	p.eval(t, "read the key marks", `(() => {
		const out = {};
		for (const el of document.querySelectorAll("[aria-keyshortcuts]")) {
			const kbd = el.querySelector("kbd") || el.closest("form, section")?.querySelector("label kbd");
			out[el.id] = el.getAttribute("aria-keyshortcuts") + "=" + (kbd ? kbd.textContent : "");
		}
		return out;
	})()`, &marks)
	for id, want := range map[string]string{"sse-drop": "S=S", "ws-drop": "W=W", "sse-chat-input": "C=C", "ws-chat-input": "V=V",
		"sse-silent": "Shift+S=Shift+S", "ws-silent": "Shift+W=Shift+W", "tab-stage": "1=1", "tab-cost": "4=4"} {
		if marks[id] != want {
			t.Errorf("#%s: aria-keyshortcuts=<kbd> is %q, want %q", id, marks[id], want)
		}
	}

	for _, c := range []struct {
		key, name string
		transport compare.Transport
	}{{"s", "sse", compare.SSE}, {"w", "ws", compare.WS}} {
		// A drop while a reconnect is still under way would count as the
		// same outage: start from a settled panel.
		p.waitJS(t, c.name+" settled", 15*time.Second, fmt.Sprintf(`(() => {
			const e = ssevsws.snapshot().%s.episodes;
			return e.length === 0 || e[e.length - 1].phase === "resumed";
		})()`, c.name))
		dropped := srv.stats().Of(c.transport).Dropped
		episodes := p.episodes(t, c.name)
		// Typed into a chat box, the key is text, not a shortcut.
		p.run(t, "type the key into a chat box",
			chromedp.Evaluate(`document.getElementById("sse-chat-input").value = ""`, nil),
			chromedp.SendKeys("#sse-chat-input", c.key+c.key, chromedp.ByQuery))
		var typed string
		p.eval(t, "read the chat box", `document.getElementById("sse-chat-input").value`, &typed)
		if typed != c.key+c.key {
			t.Errorf("typing %q in the chat box gave %q", c.key+c.key, typed)
		}
		p.run(t, "clear and leave the box (Escape)",
			chromedp.Evaluate(`document.getElementById("sse-chat-input").value = ""`, nil),
			chromedp.KeyEvent(kb.Escape))
		if n := srv.stats().Of(c.transport).Dropped; n != dropped {
			t.Fatalf("typing %q in a chat box dropped %s (%d → %d)", c.key, c.name, dropped, n)
		}
		var active string
		p.eval(t, "focus", `document.activeElement ? document.activeElement.id : ""`, &active)
		if active == "sse-chat-input" {
			t.Fatalf("Escape did not leave the chat box")
		}
		p.run(t, "press "+c.key, chromedp.KeyEvent(c.key))
		waitFor(t, fmt.Sprintf("the server to count a drop of %s after the key %s", c.name, c.key), 10*time.Second, func() bool {
			return srv.stats().Of(c.transport).Dropped > dropped
		})
		p.waitResumed(t, c.name, episodes, 15*time.Second)
	}

	// C and V put the focus in a panel's chat box, from any view; Enter sends.
	for _, c := range []struct{ key, name string }{{"c", "sse"}, {"v", "ws"}} {
		p.showView(t, "cost")
		p.run(t, "press "+c.key, chromedp.KeyEvent(c.key))
		var got struct{ Active, View string }
		p.eval(t, "focus", `({Active: document.activeElement.id, View: document.getElementById("main").dataset.view})`, &got)
		if got.Active != c.name+"-chat-input" || got.View != "stage" {
			t.Fatalf("after the key %s: focus on #%s in view %s; want #%s-chat-input on the stage", c.key, got.Active, got.View, c.name)
		}
		text := "sent with the key " + c.key
		p.run(t, "type and send", chromedp.KeyEvent(text), chromedp.KeyEvent(kb.Enter))
		p.waitEcho(t, c.name, text)
	}
	// A chat box that holds text is sent by its key at once.
	p.run(t, "prepare a chat and leave the box",
		chromedp.SendKeys("#ws-chat-input", "prepared", chromedp.ByQuery),
		chromedp.KeyEvent(kb.Escape),
		chromedp.KeyEvent("v"))
	p.waitEcho(t, "ws", "prepared")
	p.run(t, "leave the box", chromedp.KeyEvent(kb.Escape))
}

// waitFor polls cond (in Go) until it is true.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out after %v", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testStack checks that at 800 px the panels stack, WebSocket under SSE,
// and that at 1920×1080 the stage, charts included, still fits.
func testStack(t *testing.T, p *page) {
	defer p.setViewport(t, stageW, stageH)
	p.showView(t, "stage")
	const probe = `(() => {
		const a = document.querySelector('[data-panel="sse"]').getBoundingClientRect();
		const b = document.querySelector('[data-panel="ws"]').getBoundingClientRect();
		return {SameRow: Math.abs(a.top - b.top) < 2 && a.right <= b.left, Stacked: b.top >= a.bottom && Math.abs(a.left - b.left) < 2};
	})()`
	var narrow, wide struct{ SameRow, Stacked bool }
	p.setViewport(t, 800, 1000)
	p.eval(t, "narrow layout", probe, &narrow)
	p.saveFullShot(t, "narrow-800.png")
	if !narrow.Stacked {
		t.Error("at 800 px the panels are not stacked (WebSocket under SSE)")
	}
	p.setViewport(t, 1920, 1080)
	p.eval(t, "wide layout", probe, &wide)
	if !wide.SameRow {
		t.Error("at 1920 px the panels are not side by side")
	}
	p.checkStage(t, "at 1920×1080")
	var charts bool
	p.eval(t, "charts on the large stage", `document.getElementById("sse-chart").checkVisibility() && document.getElementById("ws-chart").checkVisibility()`, &charts)
	if !charts {
		t.Error("at 1920×1080 the stage has room for the latency charts but does not show them")
	}
	p.saveShot(t, "wide-1920x1080.png")
}
