package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/broker"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/sse"
	"github.com/ssevsws/ssevsws/ws"
)

// These tests run the shipped nginx-two.conf, in a real nginx, in front of
// two real ssevsws processes: Experiment 6 of the README, checked. nginx
// hands requests to the two instances in turn (round-robin, one worker),
// so of the POST /chat requests after a stream's GET, every other one lands
// on the instance that does not hold the stream.

// instanceArgs are both instances' flags besides their name and broker:
// the same clock, so that they agree on every tick.
var instanceArgs = []string{"-interval", "100ms", "-retry", "100ms", "-log", "info"}

// chatsPerTest is how many chats each transport sends through nginx.
const chatsPerTest = 20

// chatPace keeps chats to one instance's stream within its chat rate
// limit (5 per second after a burst of 10): a 429 would put a request of
// its own into nginx's turn.
func chatPace(i int) {
	def := compare.DefaultConfig()
	if i >= def.ChatBurst {
		time.Sleep(time.Duration(float64(time.Second)/def.ChatRate) + 10*time.Millisecond)
	}
}

// startInstance starts instance name with the given broker flags.
func startInstance(t *testing.T, name string, brokerArgs ...string) *proc {
	t.Helper()
	args := append([]string{"-instance", name}, instanceArgs...)
	return startProc(t, append(args, brokerArgs...)...)
}

var embeddedURL = regexp.MustCompile(`embedded NATS broker listening"? url=(nats://\S+)`)

// startPair starts instance A, which embeds the broker, and instance B,
// which connects to it; or, without broker, two plain instances.
func startPair(t *testing.T, withBroker bool) (a, b *proc) {
	t.Helper()
	if !withBroker {
		return startInstance(t, "A"), startInstance(t, "B")
	}
	a = startInstance(t, "A", "-broker-embed", "127.0.0.1:0")
	m := embeddedURL.FindStringSubmatch(a.log.String())
	if m == nil {
		t.Fatalf("instance A did not log its embedded broker's URL:\n%s", a.log)
	}
	return a, startInstance(t, "B", "-broker", m[1])
}

// startNginxTwo runs nginx-two.conf in front of a and b and returns its
// address.
func startNginxTwo(t *testing.T, a, b *proc) string {
	t.Helper()
	conf, err := os.ReadFile("nginx-two.conf")
	if err != nil {
		t.Fatal(err)
	}
	return comparetest.Nginx(t, string(conf), "127.0.0.1:8081",
		"server 127.0.0.1:8080;", "server "+a.Addr+";",
		"server 127.0.0.1:8082;", "server "+b.Addr+";",
		"proxy_read_timeout 60s;", fmt.Sprintf("proxy_read_timeout %ds;", int(nginxReadTimeout.Seconds())))
}

// rawStream is one SSE stream read in the test's goroutine.
type rawStream struct {
	rd    *sse.Reader
	conn  net.Conn
	hello struct{ Client, Instance string }
	seqs  []int64 // ticks read so far
}

// openRawStream opens GET /sse through addr and reads its hello.
func openRawStream(t *testing.T, addr string) *rawStream {
	t.Helper()
	body, conn := openStream(t, addr, nil)
	s := &rawStream{rd: sse.NewReader(body), conn: conn}
	ev := s.next(t)
	if ev.Type != compare.EventHello || json.Unmarshal([]byte(ev.Data), &s.hello) != nil || s.hello.Instance == "" {
		t.Fatalf("first event %+v: want a hello that names the instance", ev)
	}
	return s
}

func (s *rawStream) next(t *testing.T) sse.Event {
	t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	ev, err := s.rd.Next()
	if err != nil {
		t.Fatalf("stream on %s: %v (ticks so far %s)", s.hello.Instance, err, comparetest.Seqs(s.seqs))
	}
	if ev.Type == compare.EventTick {
		seq, _ := strconv.ParseInt(ev.ID, 10, 64)
		s.seqs = append(s.seqs, seq)
	}
	return ev
}

// echoes reads until it has seen the echo of every text in want.
func (s *rawStream) echoes(t *testing.T, want map[string]bool) {
	t.Helper()
	for len(want) > 0 {
		if ev := s.next(t); ev.Type == compare.EventEcho {
			var e struct{ Text string }
			json.Unmarshal([]byte(ev.Data), &e)
			delete(want, e.Text)
		}
	}
}

// ticks reads n more ticks.
func (s *rawStream) ticks(t *testing.T, n int) {
	t.Helper()
	for want := len(s.seqs) + n; len(s.seqs) < want; {
		s.next(t)
	}
}

// chatResult is an answer to POST /chat.
type chatResult struct {
	Status     int
	RetryAfter string
	TakenBy    string `json:"taken_by"`
	Delivered  string `json:"delivered_by"`
	Via        string `json:"via"`
	Error      string `json:"error"`
}

// postChat sends POST /chat to url (an instance's or nginx's /chat).
func postChat(t *testing.T, client *http.Client, url, id, text string) chatResult {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"client": id, "text": text})
	resp, err := client.Post(url, "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r chatResult
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("POST %s: %d, body not JSON: %v", url, resp.StatusCode, err)
	}
	r.Status, r.RetryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	return r
}

func httpClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// wsChats opens a WebSocket through proxy, sends n chats on it and waits
// for every echo; it returns the instance its hello named.
func wsChats(t *testing.T, proxy string, n int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := ws.Dial(ctx, "ws://"+proxy+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	instance := ""
	for instance == "" {
		m, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == ws.TypeHello {
			if instance = m.Instance; instance == "" {
				t.Fatal("the WebSocket hello names no instance")
			}
		}
	}
	echoed := make(chan error, 1)
	go func() {
		for got := 0; got < n; {
			m, err := conn.Read(ctx)
			if err != nil {
				echoed <- fmt.Errorf("after %d echoes: %w", got, err)
				return
			}
			if m.Type == ws.TypeEcho {
				got++
			}
			if m.Type == ws.TypeError {
				echoed <- fmt.Errorf("chat refused: %s", m.Text)
				return
			}
		}
		echoed <- nil
	}()
	for i := range n {
		chatPace(i)
		if err := conn.Chat(ctx, fmt.Sprintf("ws %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-echoed; err != nil {
		t.Fatalf("WebSocket chat through nginx (on instance %s): %v", instance, err)
	}
	return instance
}

// With the broker, every SSE chat through nginx echoes on the stream,
// half of them (the ones nginx hands to the other instance) through the
// broker; every WebSocket chat echoes, never leaving its instance.
func TestNginxTwoInstancesWithBroker(t *testing.T) {
	a, b := startPair(t, true)
	proxy := startNginxTwo(t, a, b)
	client := httpClient(t)

	s := openRawStream(t, proxy)
	want := map[string]bool{}
	viaBroker := 0
	for i := range chatsPerTest {
		chatPace(i)
		text := fmt.Sprintf("sse %d", i)
		r := postChat(t, client, "http://"+proxy+"/chat", s.hello.Client, text)
		if r.Status != 202 || r.Delivered != s.hello.Instance {
			t.Fatalf("chat %d through nginx: %+v; want 202 delivered by %s, the stream's instance", i, r, s.hello.Instance)
		}
		if r.Via == "broker" {
			viaBroker++
			if r.TakenBy == s.hello.Instance {
				t.Errorf("chat %d: via the broker, but taken by the stream's own instance: %+v", i, r)
			}
		}
		want[text] = true
	}
	s.echoes(t, want)
	// nginx's round-robin alternates: the stream's GET went to one
	// instance, the chats to the other and back, each half of the time.
	if viaBroker != chatsPerTest/2 {
		t.Errorf("%d of %d chats crossed the broker; round-robin over two instances sends half of them to the other", viaBroker, chatsPerTest)
	}
	wsChats(t, proxy, chatsPerTest)
	comparetest.CheckNoLoss(t, "the SSE stream through nginx", s.seqs)
}

// Without a broker, the SSE chats nginx hands to the instance that does
// not hold the stream are 404s, exactly half of them; WebSocket chat does
// not care. A dropped SSE stream that nginx reconnects to the other
// instance resumes there with nothing lost: ticks need no broker.
func TestNginxTwoInstancesWithoutBroker(t *testing.T) {
	a, b := startPair(t, false)
	proxy := startNginxTwo(t, a, b)
	client := httpClient(t)

	s := openRawStream(t, proxy)
	want := map[string]bool{}
	notFound := 0
	for i := range chatsPerTest {
		chatPace(i)
		text := fmt.Sprintf("sse %d", i)
		switch r := postChat(t, client, "http://"+proxy+"/chat", s.hello.Client, text); {
		case r.Status == 404 && r.TakenBy != s.hello.Instance:
			notFound++
		case r.Status == 202 && r.Delivered == s.hello.Instance && r.Via == "local":
			want[text] = true
		default:
			t.Errorf("chat %d through nginx: %+v; want 202 from the stream's instance %s or 404 from the other", i, r, s.hello.Instance)
		}
	}
	if notFound != chatsPerTest/2 {
		t.Errorf("%d of %d chats were 404; round-robin over two instances sends half of them to the one without the stream", notFound, chatsPerTest)
	}
	s.echoes(t, want)
	s.conn.Close()
	wsChats(t, proxy, chatsPerTest)

	resumeOnTheOtherInstance(t, proxy, map[string]*proc{"A": a, "B": b}, client)
}

// resumeOnTheOtherInstance runs the Go SSE client through nginx and drops
// its stream on the instance that holds it until nginx has reconnected it
// to the other one; it must resume there with no tick lost.
func resumeOnTheOtherInstance(t *testing.T, proxy string, procs map[string]*proc, client *http.Client) {
	t.Helper()
	type event struct {
		instance string // a hello's
		seq      int64  // a tick's
	}
	events := make(chan event, 4096)
	ctx, cancel := context.WithCancel(context.Background())
	tr := &http.Transport{}
	c := &sse.Client{URL: "http://" + proxy + "/sse", HTTPClient: &http.Client{Transport: tr}}
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, func(ev sse.Event) {
			switch ev.Type {
			case compare.EventHello:
				var h struct{ Instance string }
				json.Unmarshal([]byte(ev.Data), &h)
				events <- event{instance: h.Instance}
			case compare.EventTick:
				seq, _ := strconv.ParseInt(ev.ID, 10, 64)
				events <- event{seq: seq}
			}
		})
	}()
	defer func() {
		cancel()
		<-done
		tr.CloseIdleConnections()
	}()

	var seqs []int64
	var on []string // instances, one per connection
	// wait reads events until cond holds.
	wait := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			select {
			case ev := <-events:
				if ev.instance != "" {
					on = append(on, ev.instance)
				} else {
					seqs = append(seqs, ev.seq)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("%s: not within 15s; connections on %v, ticks %s", what, on, comparetest.Seqs(seqs))
			}
		}
	}
	wait("first stream and 3 ticks", func() bool { return len(on) == 1 && len(seqs) >= 3 })
	for attempt := 1; on[len(on)-1] == on[0]; attempt++ {
		if attempt > 5 {
			t.Fatalf("nginx reconnected the stream to %v; never to the other instance", on)
		}
		holder := procs[on[len(on)-1]]
		resp, err := client.Post(holder.URL("/drop?transport=sse"), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		n := len(on)
		wait("the reconnect", func() bool { return len(on) > n })
	}
	n := len(seqs)
	wait("3 ticks after the reconnect", func() bool { return len(seqs) >= n+3 })
	comparetest.CheckNoLoss(t, fmt.Sprintf("the Go SSE client across instances %v", on), seqs)
	if st := procs[on[len(on)-1]].stats(t, client); st.SSE.Resumes < 1 {
		t.Errorf("instance %s counted no resume: the Last-Event-ID did not reach it", st.Instance)
	}
}

// The broker (NATS in this test's process) stops: a chat that must cross
// instances answers 503 within the route timeout, saying the broker is
// down; ticks and WebSocket chat go on. It starts again at the same
// address: chats cross again without restarting either instance.
func TestNginxTwoInstancesBrokerFails(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // registered first: runs after every other cleanup
	ns, err := broker.Embed("127.0.0.1:0", comparetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	natsAddr, running := ns.Addr(), true
	t.Cleanup(func() {
		if running {
			ns.Shutdown()
		}
	})
	a := startInstance(t, "A", "-broker", ns.URL())
	b := startInstance(t, "B", "-broker", ns.URL())
	procs := map[string]*proc{"A": a, "B": b}
	proxy := startNginxTwo(t, a, b)
	client := httpClient(t)

	s := openRawStream(t, proxy)
	other := procs["A"]
	if s.hello.Instance == "A" {
		other = procs["B"]
	}
	chat := func(text string) chatResult { return postChat(t, client, other.URL("/chat"), s.hello.Client, text) }
	if r := chat("before"); r.Status != 202 || r.Via != "broker" {
		t.Fatalf("chat to the other instance before the broker stops: %+v", r)
	}
	s.echoes(t, map[string]bool{"before": true})

	ns.Shutdown()
	running = false
	start := time.Now()
	r := chat("while down")
	if took := time.Since(start); took > compare.DefaultRouteTimeout+time.Second {
		t.Errorf("the answer took %v; the stated route timeout is %v", took, compare.DefaultRouteTimeout)
	}
	if r.Status != 503 || r.RetryAfter == "" || !strings.Contains(r.Error, "broker down") {
		t.Errorf("chat while the broker is down: %+v; want 503 with Retry-After, saying the broker is down", r)
	}
	s.ticks(t, 5)
	wsChats(t, proxy, 1)

	var ns2 *broker.Server
	for attempt := 1; ; attempt++ {
		if ns2, err = broker.Embed(natsAddr, comparetest.Logger()); err == nil || attempt == 20 {
			break
		}
		time.Sleep(50 * time.Millisecond) // until the kernel lets go of the port
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns2.Shutdown)
	// Both routers reconnect by themselves; the holder's restored
	// subscription can reach the broker just after the other's request, so
	// the first chat may still find no one.
	deadline := time.Now().Add(20 * time.Second)
	for r = chat("after"); r.Status != 202; r = chat("after") {
		if time.Now().After(deadline) {
			t.Fatalf("chats do not cross again after the broker came back: %+v", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.echoes(t, map[string]bool{"after": true})
	comparetest.CheckNoLoss(t, "the SSE stream through the broker's outage", s.seqs)
	s.conn.Close()
}
