//go:build !js

package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The numbers a class will ask about must agree with the server's own
// (issue 12): one tick on the wire as GET /stats defines it, the Measure
// table as the server formats it, a refused chat in one line, and the
// latency chart telling the tick sent at connect from a live latency.
// These run inside TestPage (page_test.go).

// testTickWireBytes checks the Cost view's "one tick on the wire" against
// the server's tick_wire_bytes: the page shows that figure, it does not
// work one out.
func testTickWireBytes(t *testing.T, p *page, srv *testServer) {
	p.waitJS(t, "the per-tick figures", 10*time.Second,
		`!document.querySelector('[data-stat="sse.tick-wire"]').textContent.startsWith("-")`)
	var got struct{ SSE, WS string }
	p.eval(t, "read the per-tick figures", `({
		SSE: document.querySelector('[data-stat="sse.tick-wire"]').textContent,
		WS: document.querySelector('[data-stat="ws.tick-wire"]').textContent})`, &got)
	want := srv.stats().TickWireBytes
	if got.SSE != fmt.Sprintf("%d B", want.SSE) || got.WS != fmt.Sprintf("%d B", want.WS) {
		t.Errorf("one tick on the wire: the page shows SSE %q, WebSocket %q; /stats says %d B and %d B",
			got.SSE, got.WS, want.SSE, want.WS)
	}
	// The old "bytes ÷ ticks" row divided every byte (hellos, echoes,
	// other tabs) by ticks: a number that drifted. It must not come back.
	var divided int
	p.eval(t, "look for a per-tick division", `document.querySelectorAll('[data-stat$=".per-tick"]').length`, &divided)
	if divided != 0 {
		t.Errorf("the page still shows a bytes ÷ ticks figure (%d cells)", divided)
	}
	t.Logf("one tick on the wire: SSE %s, WebSocket %s", got.SSE, got.WS)
}

// checkMeasureText checks that the Measure table shows every value as the
// server wrote it (the text ssevsws compare prints): "0" lost ticks, not
// "0.00"; a whole number of goroutines without decimals.
func checkMeasureText(t *testing.T, p *page, rows []struct{ Key, SSE, WS, Ratio string }) {
	t.Helper()
	var rep struct {
		Rows []struct {
			Key                        string
			SSE, WS                    *float64
			SSEText, WSText, RatioText string
		}
	}
	p.eval(t, "read the report", `(() => {
		const r = ssevsws.snapshot().measure;
		return {Rows: r.rows.map((x) => ({Key: x.key, SSE: x.sse, WS: x.ws, SSEText: x.sse_text, WSText: x.ws_text, RatioText: x.ratio_text}))};
	})()`, &rep)
	if len(rep.Rows) != len(rows) {
		t.Fatalf("the report has %d rows, the table %d", len(rep.Rows), len(rows))
	}
	for i, r := range rep.Rows {
		row := rows[i]
		if row.Key != r.Key || row.SSE != r.SSEText || row.WS != r.WSText || row.Ratio != r.RatioText {
			t.Errorf("row %s shows %q | %q | %q; the server wrote %q | %q | %q",
				r.Key, row.SSE, row.WS, row.Ratio, r.SSEText, r.WSText, r.RatioText)
		}
		for _, v := range []struct {
			x    *float64
			text string
		}{{r.SSE, row.SSE}, {r.WS, row.WS}} {
			if r.Key == "idle_goroutines" && v.x != nil && *v.x == float64(int64(*v.x)) && strings.Contains(v.text, ".") {
				t.Errorf("goroutines per connection %v shown as %q, want a whole number", *v.x, v.text)
			}
		}
		if r.Key == "lost_ticks" && (row.SSE != "0" || row.WS != "0") {
			t.Errorf("lost ticks shown as %q and %q, want \"0\" (as ssevsws compare prints it)", row.SSE, row.WS)
		}
	}
}

// testChatRefused uses up the SSE panel's chat allowance (POST /chat is
// rate-limited per connection), then sends one more from the chat box: the
// page must say why, with the server's one retry time, once.
func testChatRefused(t *testing.T, p *page) {
	p.setViewport(t, stageW, stageH)
	p.showView(t, "stage")
	p.waitJS(t, "sse open", 10*time.Second, `ssevsws.snapshot().sse.client !== null`)
	// The last chat goes through the chat box at once, in the same script:
	// the allowance refills at a few chats a second. A starved browser can
	// still be slow enough that a token is back by then and the chat is
	// echoed; then the test tries again.
	refused := `[...document.querySelectorAll('#sse-log li[data-kind="error"] .msg')].some((e) => e.textContent.startsWith("chat refused"))`
	for try := 1; ; try++ {
		text := fmt.Sprintf("one too many %d", try)
		var accepted int
		p.eval(t, "use up the chat allowance, then chat", fmt.Sprintf(`(async () => {
			const client = ssevsws.snapshot().sse.client;
			let ok = 0;
			for (let i = 0; i < 50; i++) {
				const res = await fetch("/chat", {method: "POST", headers: {"Content-Type": "application/json"},
					body: JSON.stringify({client, text: "burst " + i})});
				if (res.status === 202) ok++;
				if (res.status === 429) break;
			}
			document.getElementById("sse-chat-input").value = %q;
			document.getElementById("sse-chat-form").requestSubmit();
			return ok;
		})()`, text), &accepted)
		t.Logf("try %d: %d chats accepted before the first 429", try, accepted)
		echoed := fmt.Sprintf(`[...document.querySelectorAll('#sse-log li[data-kind="echo"]')].some((e) => e.textContent.includes(%q))`, text)
		p.waitJS(t, "the refusal or the echo", 10*time.Second, refused+" || "+echoed)
		var isRefused bool
		p.eval(t, "refused?", refused, &isRefused)
		if isRefused {
			break
		}
		if try == 3 {
			t.Fatal("the chat box's chat was echoed three times: the allowance refilled before it each time")
		}
	}
	var got struct{ Log, Status string }
	p.eval(t, "read the refusal", `({
		Log: [...document.querySelectorAll('#sse-log li[data-kind="error"] .msg')].find((e) => e.textContent.startsWith("chat refused")).textContent,
		Status: document.getElementById("sse-chat-status").textContent})`, &got)
	const want = "chat refused: 429 Too Many Requests: chat rate limit exceeded (retry after 1 s)"
	if got.Log != want {
		t.Errorf("the log says %q, want %q", got.Log, want)
	}
	if got.Status != want {
		t.Errorf("under the chat box: %q, want %q", got.Status, want)
	}
	if n := strings.Count(strings.ToLower(got.Log), "retry"); n != 1 {
		t.Errorf("%q names a retry time %d times, want once", got.Log, n)
	}
	p.dropConsole(t, "429")
}

// testLatencyChart checks that the tick each new connection gets at once
// (the current tick, up to an interval old) is marked as such on the chart
// and left out of the live latencies the summary gives.
func testLatencyChart(t *testing.T, p *page) {
	p.showView(t, "latency")
	defer p.showView(t, "stage")
	for _, name := range []string{"sse", "ws"} {
		var got struct {
			Chart struct{ Live, Replayed, Connect int }
			Lat   struct {
				Count, Connect int
				Median, Max    *float64
				ConnectLatest  *float64
			}
			Summary string
			Legend  bool
		}
		p.waitJS(t, name+" live ticks on the chart", 10*time.Second, fmt.Sprintf(`ssevsws.snapshot().%s.chart.live >= 3`, name))
		p.eval(t, "read the chart", fmt.Sprintf(`(() => {
			const s = ssevsws.snapshot().%[1]s;
			return {Chart: s.chart, Lat: {Count: s.latency.count, Connect: s.latency.connect, Median: s.latency.median,
				Max: s.latency.max, ConnectLatest: s.latency.connectLatest},
				Summary: document.getElementById("%[1]s-latency-summary").textContent,
				Legend: document.querySelector("#%[1]s-chart ~ .legend .lg-connect") !== null};
		})()`, name), &got)
		// One connection so far, opened without a last id: one tick at connect.
		if got.Chart.Connect != 1 {
			t.Errorf("%s: %d ticks marked as sent at connect, want 1 (one connection so far)", name, got.Chart.Connect)
		}
		if got.Lat.Count != got.Chart.Live || got.Lat.Connect != got.Chart.Connect {
			t.Errorf("%s: the summary counts %d live ticks of %d (and %d at connect): the tick at connect must not count as live",
				name, got.Lat.Count, got.Chart.Live, got.Lat.Connect)
		}
		if !strings.Contains(got.Summary, "sent at connect") || !strings.Contains(got.Summary, "not counted") {
			t.Errorf("%s: summary %q does not set the tick sent at connect apart", name, got.Summary)
		}
		if !got.Legend {
			t.Errorf("%s: the chart's legend has no entry for the tick sent at connect", name)
		}
		t.Logf("%s: %s", name, got.Summary)
	}
}
