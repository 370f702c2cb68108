//go:build !js

package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/broker"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/web/browsertest"
)

// Several instances (issue 11): each panel names the instance its stream
// is on, and what became of a chat: an SSE chat's hop from the instance
// that took its POST to the one that holds the stream (on the spot, or
// through the broker), a WebSocket chat that never left its instance.
// testHopLocal runs inside TestPage, on its one server named "A";
// TestPageInstances puts the shipped nginx-two.conf in front of two.

// instanceName is what TestPage names its server (compare.Config.Instance).
const instanceName = "A"

// hopJS reads a panel's instance and the last chat's outcome.
const hopJS = `((name) => {
	const s = ssevsws.snapshot()[name];
	const label = document.getElementById(name + "-diagram-server");
	const chip = label.querySelector(".server-instance").getBoundingClientRect();
	const box = label.parentNode.querySelectorAll("rect.node")[1].getBoundingClientRect();
	const hop = document.getElementById(name + "-chat-hop");
	return {Instance: s.instance, Chip: label.querySelector(".server-instance").textContent, ChipName: label.dataset.instance,
		Fact: document.getElementById(name + "-instance").textContent,
		ChipCut: chip.width === 0 || chip.left < box.left + 2 || chip.right > box.right - 2,
		Status: document.getElementById(name + "-chat-status").textContent,
		Refused: document.getElementById(name + "-chat-status").dataset.kind === "error",
		HopText: hop.textContent, Via: hop.dataset.via,
		Hop: s.hop && {Via: s.hop.via, TakenBy: s.hop.takenBy, DeliveredBy: s.hop.deliveredBy, Text: s.hop.text}};
})`

// chatOutcome is hopJS's answer.
type chatOutcome struct {
	Instance, Chip, ChipName, Fact string
	ChipCut, Refused               bool
	Status, HopText, Via           string
	Hop                            *struct{ Via, TakenBy, DeliveredBy, Text string }
}

// chatHop sends text from a panel's chat box and waits until the page
// knows what became of it: echoed with a hop to show (an SSE 202 names the
// hop, a WebSocket echo implies it), or refused. It returns the outcome.
func (p *page) chatHop(t *testing.T, name, text string) chatOutcome {
	t.Helper()
	p.chat(t, name, text, true)
	p.waitJS(t, name+" chat answered", 20*time.Second, fmt.Sprintf(`(() => {
		const s = ssevsws.snapshot().%[1]s;
		const status = document.getElementById("%[1]s-chat-status").textContent;
		const echoed = [...document.querySelectorAll('#%[1]s-log li[data-kind="echo"] .msg')]
			.some((e) => e.textContent === "echo " + %[2]s);
		const refused = document.getElementById("%[1]s-chat-status").dataset.kind === "error";
		return (s.hop !== null && echoed) || refused;
	})()`, name, jsString(text)))
	var got chatOutcome
	p.eval(t, "read the hop", hopJS+"("+jsString(name)+")", &got)
	t.Logf("%s chat %q: status %q, hop %q (stream on %s)", name, text, got.Status, got.HopText, got.Instance)
	return got
}

// checkChip fails the test unless a panel names instance: in the server's
// box of its diagram (on the stage), whole and inside the box, and in its
// facts (the Log view).
func checkChip(t *testing.T, name string, got chatOutcome, instance string) {
	t.Helper()
	want := "instance " + instance
	if got.Instance != instance || got.ChipName != instance || got.Chip != want || got.ChipCut || got.Fact != want {
		t.Errorf("%s: instance %q; the diagram's server box says %q (data-instance %q, outside the box %v), the facts %q; want %q, inside the box",
			name, got.Instance, got.Chip, got.ChipName, got.ChipCut, got.Fact, want)
	}
}

// testHopLocal: one server, named A. Both panels name it; an SSE chat is
// taken and delivered by A, with no broker hop; a WebSocket chat came up
// and back on A.
func testHopLocal(t *testing.T, p *page) {
	p.setViewport(t, stageW, stageH)
	p.showView(t, "stage")
	sse := p.chatHop(t, "sse", "one instance, sse")
	checkChip(t, "sse", sse, instanceName)
	if want := "POST → instance A → your stream"; sse.HopText != want || sse.Via != "local" || sse.Hop == nil ||
		sse.Hop.TakenBy != instanceName || sse.Hop.DeliveredBy != instanceName {
		t.Errorf("sse: hop %q (via %q, %+v), want %q via local, taken and delivered by A", sse.HopText, sse.Via, sse.Hop, want)
	}
	ws := p.chatHop(t, "ws", "one instance, ws")
	checkChip(t, "ws", ws, instanceName)
	if want := "chat up and back on instance A: it never left the socket"; ws.HopText != want || ws.Via != "socket" {
		t.Errorf("ws: hop %q (via %q), want %q", ws.HopText, ws.Via, want)
	}
	p.checkStageWith(t, "hops shown", "chat-hop")
}

// checkStageWith is checkStage with more fields that must be in view.
func (p *page) checkStageWith(t *testing.T, when string, more ...string) {
	t.Helper()
	fields := append(append([]string{}, stageFields...), more...)
	var problems []string
	p.eval(t, "define the stage check", stageProblemsJS, nil)
	p.eval(t, "check the stage "+when, "window.__stageProblems("+jsonJS(fields)+")", &problems)
	for _, pr := range problems {
		t.Errorf("%s: %s", when, pr)
	}
}

// jsonJS is v as a JavaScript literal.
func jsonJS(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// inView fails the test unless the element with this id is shown inside
// the viewport.
func (p *page) inView(t *testing.T, id string) {
	t.Helper()
	var r struct{ Left, Top, Right, Bottom, W, H float64 }
	p.eval(t, "where is #"+id, fmt.Sprintf(`(() => {
		const r = document.getElementById(%q).getBoundingClientRect();
		return {Left: r.left, Top: r.top, Right: r.right, Bottom: r.bottom, W: innerWidth, H: innerHeight};
	})()`, id), &r)
	if r.Right-r.Left == 0 || r.Bottom-r.Top == 0 || r.Left < 0 || r.Top < 0 || r.Right > r.W+0.5 || r.Bottom > r.H+0.5 {
		t.Errorf("#%s at %.0f,%.0f,%.0f,%.0f: not shown inside the %.0f×%.0f viewport", id, r.Left, r.Top, r.Right, r.Bottom, r.W, r.H)
	}
}

// pair is two in-process instances, A and B, with nginx-two.conf in front.
type pair struct {
	a, b  *comparetest.Server
	proxy string
	// stopBroker stops the embedded NATS server (nil without a broker).
	stopBroker func()
	routers    []*broker.Router
}

// of is the server named instance.
func (pr *pair) of(instance string) *comparetest.Server {
	if instance == "A" {
		return pr.a
	}
	return pr.b
}

// startPair starts instances A and B, sharing an embedded NATS broker if
// withBroker, and nginx in front of them.
func startPair(t *testing.T, withBroker bool) *pair {
	t.Helper()
	comparetest.RequireNginx(t) // before anything starts: skip (or fail under CI) at once
	pr := &pair{}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var url string
	if withBroker {
		ns, err := broker.Embed("127.0.0.1:0", quiet)
		if err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		pr.stopBroker = func() { once.Do(ns.Shutdown) }
		t.Cleanup(pr.stopBroker)
		url = ns.URL()
	}
	start := func(name string) *comparetest.Server {
		cfg := compare.Config{Interval: tickInterval, Retry: sseRetry, Instance: name, Logger: comparetest.Logger()}
		if withBroker {
			r, err := broker.Connect(broker.Config{URL: url, Instance: name, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(r.Close) // after the server has stopped: its streams released what they held
			cfg.Router = r
			pr.routers = append(pr.routers, r)
		}
		return comparetest.Start(t, cfg, "127.0.0.1:0")
	}
	pr.a, pr.b = start("A"), start("B")
	pr.proxy = startNginxTwo(t, pr.a.Addr, pr.b.Addr)
	return pr
}

// other is the instance that is not name.
func other(name string) string {
	if name == "A" {
		return "B"
	}
	return "A"
}

// openThrough loads the page through nginx and waits for both panels to
// tick; it leaves the page when the test ends, before the servers stop.
func (p *page) openThrough(t *testing.T, pr *pair) {
	t.Helper()
	p.run(t, "load the page through nginx", chromedp.Navigate("http://"+pr.proxy+"/"))
	t.Cleanup(func() { _ = chromedp.Run(p.ctx, chromedp.Navigate("about:blank")) })
	p.waitJS(t, "both panels open with a tick and an instance", 20*time.Second, `(() => {
		const s = window.ssevsws && window.ssevsws.snapshot();
		return !!s && s.sse.state === "open" && s.ws.state === "open" && s.sse.seq !== null && s.ws.seq !== null &&
			s.sse.instance !== null && s.ws.instance !== null;
	})()`)
}

// checkHolder fails the test unless the instance a panel names is the one
// that holds its connection: that server counts it open, the other not.
func checkHolder(t *testing.T, pr *pair, transport compare.Transport, instance string) {
	t.Helper()
	if instance != "A" && instance != "B" {
		t.Fatalf("%s: the panel names instance %q, want A or B", transport, instance)
	}
	waitFor(t, fmt.Sprintf("%s open on instance %s only", transport, instance), 10*time.Second, func() bool {
		return pr.of(instance).Stats().Of(transport).Open == 1 && pr.of(other(instance)).Stats().Of(transport).Open == 0
	})
}

// TestPageInstances serves the page through the shipped nginx-two.conf in
// front of two instances, A and B, round-robin. With the broker, an SSE
// chat that lands on the other instance shows the broker hop, one that
// lands on the stream's own shows none, a WebSocket chat never leaves its
// instance, a stream dropped and resumed on the other instance says so,
// and with the broker stopped the page shows the server's 503 and its
// Retry-After. Without the broker, a chat that lands on the other instance
// is a 404 the page explains. nginx's turn is shared with the page's other
// requests (GET /stats every 2 s), so each case sends chats until it is
// seen, a bounded number of times.
func TestPageInstances(t *testing.T) {
	exe := browsertest.Require(t)
	comparetest.RequireNginx(t)
	p := newPage(t, exe)
	p.setViewport(t, stageW, stageH)
	t.Run("Broker", func(t *testing.T) { testInstancesBroker(t, p) })
	t.Run("NoBroker", func(t *testing.T) { testInstancesNoBroker(t, p) })
}

// maxChats bounds the chats sent to see one kind of answer. Round-robin
// alternates the two instances; only a /stats read in between can make
// two chats in a row land on the same one.
const maxChats = 8

func testInstancesBroker(t *testing.T, p *page) {
	pr := startPair(t, true)
	p.openThrough(t, pr)
	var on struct{ SSE, WS string }
	p.eval(t, "the panels' instances", `({SSE: ssevsws.snapshot().sse.instance, WS: ssevsws.snapshot().ws.instance})`, &on)
	checkHolder(t, pr, compare.SSE, on.SSE)
	checkHolder(t, pr, compare.WS, on.WS)

	// SSE chats until one went through the broker and one did not.
	var viaBroker, local bool
	for i := 1; i <= maxChats && !(viaBroker && local); i++ {
		got := p.chatHop(t, "sse", fmt.Sprintf("through nginx %d", i))
		checkChip(t, "sse", got, on.SSE)
		if got.Hop == nil {
			t.Fatalf("sse chat %d: no hop shown (status %q)", i, got.Status)
		}
		switch got.Via {
		case "broker":
			viaBroker = true
			want := fmt.Sprintf("POST → instance %s → broker → instance %s → your stream", other(on.SSE), on.SSE)
			if got.HopText != want || got.Hop.TakenBy != other(on.SSE) || got.Hop.DeliveredBy != on.SSE {
				t.Errorf("sse chat %d via the broker: hop %q (%+v), want %q", i, got.HopText, got.Hop, want)
			}
		case "local":
			local = true
			if want := fmt.Sprintf("POST → instance %s → your stream", on.SSE); got.HopText != want {
				t.Errorf("sse chat %d taken by the stream's instance: hop %q, want %q", i, got.HopText, want)
			}
		default:
			t.Fatalf("sse chat %d: hop via %q", i, got.Via)
		}
		if i == 1 || got.Via == "broker" {
			p.checkStageWith(t, "hop via "+got.Via)
			p.inView(t, "sse-chat-hop")
		}
		if got.Via == "broker" {
			p.saveShot(t, "instances-broker.png")
		}
	}
	if !viaBroker || !local {
		t.Fatalf("after %d SSE chats through nginx: broker hop seen %v, local %v; round-robin should give both", maxChats, viaBroker, local)
	}

	ws := p.chatHop(t, "ws", "through nginx, ws")
	if want := fmt.Sprintf("chat up and back on instance %s: it never left the socket", on.WS); ws.HopText != want {
		t.Errorf("ws: hop %q, want %q", ws.HopText, want)
	}

	testResumeElsewhere(t, p, pr, on.SSE)

	// The broker goes down: a chat that lands on the other instance gets
	// the server's 503 with its Retry-After; one that lands on the
	// stream's own instance is still delivered; ticks go on.
	pr.stopBroker()
	waitFor(t, "both routers to see the broker gone", 15*time.Second, func() bool {
		return !pr.routers[0].Up() && !pr.routers[1].Up()
	})
	var seq int64
	p.eval(t, "seq", `ssevsws.snapshot().sse.seq`, &seq)
	var down bool
	for i := 1; i <= maxChats && !down; i++ {
		got := p.chatHop(t, "sse", fmt.Sprintf("broker down %d", i))
		if !got.Refused {
			continue // taken by the stream's own instance: no broker needed
		}
		down = true
		if !strings.HasPrefix(got.Status, "chat refused: 503 Service Unavailable (retry after 2 s): chat broker down") ||
			got.HopText != "" {
			t.Errorf("broker down: status %q, hop %q; want the 503, its Retry-After and the server's words, no hop", got.Status, got.HopText)
		}
	}
	if !down {
		t.Fatalf("after %d SSE chats with the broker down, none was refused; round-robin should send some to the other instance", maxChats)
	}
	p.waitJS(t, "ticks go on", 10*time.Second, fmt.Sprintf(`ssevsws.snapshot().sse.seq >= %d + 3`, seq))
	p.checkStageWith(t, "broker down")
	p.saveShot(t, "instances-broker-down.png")
	p.dropConsole(t, "503")
	p.checkConsole(t, "two instances, broker")
}

// testResumeElsewhere drops the page's SSE stream on the instance that
// holds it until it comes back on the other one (nginx's next turn): the
// chip follows, the episode says "resumed on instance B", nothing lost.
func testResumeElsewhere(t *testing.T, p *page, pr *pair, on string) {
	for i := 1; ; i++ {
		before := p.episodes(t, "sse")
		res, err := http.Post(pr.of(on).URL("http", "/drop?transport=sse"), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("POST /drop on instance %s: %s", on, res.Status)
		}
		p.waitResumed(t, "sse", before, 20*time.Second)
		var got struct {
			Instance, Chip string
			Lost           int
			Ep             struct {
				Instance, InstanceFrom *string
				Lost                   int
			}
			Head, LiInstance string
		}
		p.eval(t, "read the episode", `(() => {
			const s = ssevsws.snapshot().sse;
			const li = document.querySelector("#sse-timeline li");
			return {Instance: s.instance, Chip: document.querySelector("#sse-diagram-server .server-instance").textContent, Lost: s.lost,
				Ep: s.episodes[s.episodes.length - 1], Head: li.querySelector(".ep-head").textContent,
				LiInstance: li.dataset.instance};
		})()`, &got)
		if got.Lost != 0 || got.Ep.Lost != 0 {
			t.Errorf("drop %d: %d lost (episode %d), want 0", i, got.Lost, got.Ep.Lost)
		}
		if got.Instance == on {
			if got.Ep.Instance != nil || got.LiInstance != "" {
				t.Errorf("drop %d: back on instance %s, yet the episode says it moved (data-instance %q)", i, on, got.LiInstance)
			}
			if i == maxChats {
				t.Fatalf("after %d drops the stream always came back on instance %s", i, on)
			}
			continue
		}
		to := other(on)
		if got.Instance != to || got.Chip != "instance "+to || got.Ep.Instance == nil || *got.Ep.Instance != to ||
			got.Ep.InstanceFrom == nil || *got.Ep.InstanceFrom != on || got.LiInstance != to ||
			!strings.Contains(got.Head, "resumed on instance "+to) {
			t.Errorf("drop %d: resumed on %q (chip %q, data-instance %q, head %q); want instance %s, from %s, said in the head",
				i, got.Instance, got.Chip, got.LiInstance, got.Head, to, on)
		}
		checkHolder(t, pr, compare.SSE, to)
		t.Logf("drop %d: %s", i, got.Head)
		p.checkStageWith(t, "resumed on the other instance")
		return
	}
}

func testInstancesNoBroker(t *testing.T, p *page) {
	pr := startPair(t, false)
	p.openThrough(t, pr)
	var on string
	p.eval(t, "the stream's instance", `ssevsws.snapshot().sse.instance`, &on)
	checkHolder(t, pr, compare.SSE, on)
	for i := 1; ; i++ {
		got := p.chatHop(t, "sse", fmt.Sprintf("no broker %d", i))
		if !got.Refused {
			if got.Via != "local" {
				t.Errorf("no broker, chat %d delivered: hop via %q, want local", i, got.Via)
			}
			if i == maxChats {
				t.Fatalf("after %d SSE chats without a broker, none was refused; round-robin should send some to the other instance", i)
			}
			continue
		}
		o := other(on)
		wantStatus := fmt.Sprintf("404: instance %s does not hold your stream (no broker)", o)
		wantHop := fmt.Sprintf("POST → instance %s ✕ · your stream is on instance %s", o, on)
		if got.Status != wantStatus || got.HopText != wantHop {
			t.Errorf("no broker: status %q, hop %q; want %q, %q", got.Status, got.HopText, wantStatus, wantHop)
		}
		p.checkStageWith(t, "404 without broker")
		p.inView(t, "sse-chat-hop")
		p.saveShot(t, "instances-no-broker.png")
		break
	}
	p.dropConsole(t, "404")
	p.checkConsole(t, "two instances, no broker")
}
