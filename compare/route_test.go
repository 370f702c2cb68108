package compare_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
)

// memRouter is a broker in memory, shared by servers in one test: what
// compare/broker does over NATS, without it, so that these tests check
// the server's side of routing alone.
type memRouter struct {
	mu   sync.Mutex
	held map[string]func(compare.Chat) compare.ChatAnswer
	down bool
}

func newMemRouter() *memRouter {
	return &memRouter{held: map[string]func(compare.Chat) compare.ChatAnswer{}}
}

func (m *memRouter) Hold(client string, deliver func(compare.Chat) compare.ChatAnswer) func() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.held[client] = deliver
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.held, client)
	}
}

func (m *memRouter) Route(_ context.Context, c compare.Chat) (compare.ChatAnswer, error) {
	m.mu.Lock()
	deliver, down := m.held[c.Client], m.down
	m.mu.Unlock()
	switch {
	case down:
		return compare.ChatAnswer{}, compare.ErrBrokerDown
	case deliver == nil:
		return compare.ChatAnswer{}, compare.ErrUnknownClient
	}
	return deliver(c), nil
}

func (m *memRouter) Up() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.down
}

func (m *memRouter) holding() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.held)
}

func (m *memRouter) setDown(down bool) {
	m.mu.Lock()
	m.down = down
	m.mu.Unlock()
}

// chatReply is the body of POST /chat.
type chatReply struct {
	Queued      bool   `json:"queued"`
	Error       string `json:"error"`
	TakenBy     string `json:"taken_by"`
	DeliveredBy string `json:"delivered_by"`
	RefusedBy   string `json:"refused_by"`
	Via         string `json:"via"`
}

func postChat(t *testing.T, client *http.Client, ts *comparetest.Server, id, text string) (int, http.Header, chatReply) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"client": id, "text": text})
	resp, err := client.Post(ts.URL("http", "/chat"), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r chatReply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("POST /chat: %d, body not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, resp.Header, r
}

// hello waits for the hello among a client's events and decodes it.
func hello(t *testing.T, log *seqLog, prefix string) (h struct{ Client, Instance string }) {
	t.Helper()
	log.waitFor(t, "hello", func(_ []int64, other []string) bool {
		for _, o := range other {
			if data, ok := strings.CutPrefix(o, prefix); ok {
				return json.Unmarshal([]byte(data), &h) == nil
			}
		}
		return false
	})
	return h
}

// Both hellos and /stats name the instance, and a chat to the stream's own
// instance says so: taken and delivered by it, no broker hop.
func TestInstanceIsNamed(t *testing.T) {
	cfg := comparetest.Fast()
	cfg.Instance = "A"
	ts := comparetest.Start(t, cfg, "127.0.0.1:0")
	sseLog, _ := runSSE(t, ts)
	wsLog, _ := runWS(t, ts)
	sh, wh := hello(t, sseLog, "hello:"), hello(t, wsLog, "hello:")
	if sh.Instance != "A" || wh.Instance != "A" {
		t.Errorf("hellos name instances %q (SSE) and %q (WebSocket), want A", sh.Instance, wh.Instance)
	}
	if got := ts.Stats().Instance; got != "A" {
		t.Errorf("/stats instance %q, want A", got)
	}
	if ts.Stats().Broker != nil {
		t.Error("/stats has a broker part without a Router")
	}
	status, _, r := postChat(t, newHTTPClient(t), ts, sh.Client, "hi")
	if status != 202 || r != (chatReply{Queued: true, TakenBy: "A", DeliveredBy: "A", Via: "local"}) {
		t.Errorf("POST /chat: %d %+v; want 202, taken and delivered by A, local", status, r)
	}
}

// comparetest names a server after its address when the config does not.
func TestInstanceDefaultsToAddress(t *testing.T) {
	ts := comparetest.Start(t, comparetest.Fast(), "127.0.0.1:0")
	if got := ts.Stats().Instance; got != ts.Addr {
		t.Errorf("/stats instance %q, want the address %s", got, ts.Addr)
	}
}

// With a Router, an SSE stream is held while it is open (a WebSocket never
// is: its chat needs no routing); a chat for a stream on another instance
// goes through the Router, and its answer, or the broker's failure, is the
// caller's answer. /metrics says what /stats says about it.
func TestChatThroughRouter(t *testing.T) {
	router := newMemRouter()
	start := func(name string) *comparetest.Server {
		cfg := comparetest.Fast()
		cfg.Instance, cfg.Router = name, router
		cfg.ChatRate, cfg.ChatBurst = 0.001, 2 // two chats, then 429 for the rest of the test
		return comparetest.Start(t, cfg, "127.0.0.1:0")
	}
	a, b := start("A"), start("B")
	client := newHTTPClient(t)
	sseLog, _ := runSSE(t, a)
	runWS(t, a)
	runWS(t, b)
	h := hello(t, sseLog, "hello:")
	if err := comparetest.WaitOpen(b.Server, compare.WS, 1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := router.holding(); n != 1 {
		t.Errorf("the router holds %d clients; want 1, the SSE stream", n)
	}

	for _, tt := range []struct {
		what   string
		down   bool
		id     string
		status int
		want   chatReply
		retry  bool
	}{
		{"delivered", false, h.Client, 202, chatReply{Queued: true, TakenBy: "B", DeliveredBy: "A", Via: "broker"}, false},
		{"local", false, h.Client, 202, chatReply{Queued: true, TakenBy: "A", DeliveredBy: "A", Via: "local"}, false},
		{"refused", false, h.Client, 429, chatReply{Error: "chat rate limit exceeded", TakenBy: "B", RefusedBy: "A", Via: "broker"}, true},
		{"unknown", false, "NOSUCHCLIENT", 404, chatReply{Error: "no instance holds an open SSE stream with this client id", TakenBy: "B", Via: "broker"}, false},
		{"broker down", true, h.Client, 503, chatReply{TakenBy: "B", Via: "broker"}, true},
	} {
		router.setDown(tt.down)
		ts := b
		if tt.what == "local" {
			ts = a
		}
		status, header, r := postChat(t, client, ts, tt.id, tt.what)
		if tt.down {
			if !strings.Contains(r.Error, "broker down") {
				t.Errorf("%s: error %q does not say the broker is down", tt.what, r.Error)
			}
			r.Error = ""
		}
		if status != tt.status || r != tt.want || (header.Get("Retry-After") != "") != tt.retry {
			t.Errorf("%s: %d %+v Retry-After %q; want %d %+v, Retry-After: %v", tt.what, status, r, header.Get("Retry-After"), tt.status, tt.want, tt.retry)
		}
	}
	router.setDown(false)

	st := b.Stats()
	want := compare.RoutedSnapshot{Delivered: 1, Refused: 1, UnknownClient: 1, BrokerDown: 1}
	if st.Broker == nil || !st.Broker.Up || st.Broker.Routed != want {
		t.Errorf("B's /stats broker %+v; want up, routed %+v", st.Broker, want)
	}
	if a.Stats().SSE.Chats != 2 {
		t.Errorf("A echoed %d SSE chats, want 2 (one taken by B)", a.Stats().SSE.Chats)
	}
	checkBrokerMetrics(t, client, b, st)
}

// checkBrokerMetrics scrapes ts's /metrics and checks the broker's
// metrics against st, its /stats taken after the last chat.
func checkBrokerMetrics(t *testing.T, client *http.Client, ts *comparetest.Server, st compare.StatsSnapshot) {
	t.Helper()
	resp, err := client.Get(ts.URL("http", "/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	up := families["ssevsws_broker_up"]
	if up == nil || len(up.GetMetric()) != 1 || up.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Errorf("ssevsws_broker_up: %v; want one gauge at 1", up)
	}
	routed := families["ssevsws_chats_routed_total"]
	if routed == nil {
		t.Fatal("no ssevsws_chats_routed_total")
	}
	for result, n := range st.Broker.Routed.ByResult() {
		found := false
		for _, m := range routed.GetMetric() {
			if hasLabel(m, "result", result) {
				found = true
				if got := m.GetCounter().GetValue(); int64(got) != n {
					t.Errorf("ssevsws_chats_routed_total{result=%q} = %v; /stats says %d", result, got, n)
				}
			}
		}
		if !found {
			t.Errorf("ssevsws_chats_routed_total{result=%q} missing", result)
		}
	}
}
