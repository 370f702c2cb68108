package compare_test

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
)

// GET /metrics parses as the Prometheus text format and says what GET
// /stats says, under conventional names: ssevsws_ prefix, a transport
// label, counters ending in _total.
func TestMetricsAgreeWithStats(t *testing.T) {
	ts := comparetest.Start(t, comparetest.Fast(), "127.0.0.1:0")
	runBoth(t, ts, 3)
	client := newHTTPClient(t)
	// A second WebSocket client sends a chat, so that a chat counter moves,
	// and waits for its echo, so that the counter has moved.
	wsLog, wsClient := runWS(t, ts)
	wsLog.waitFor(t, "the chatting client's first tick", atLeastTicks(1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := wsClient.Chat(ctx, "hello metrics"); err != nil {
		t.Fatal(err)
	}
	wsLog.waitFor(t, "the echo", func(_ []int64, other []string) bool {
		return slices.ContainsFunc(other, func(s string) bool { return strings.Contains(s, "hello metrics") })
	})

	resp, err := client.Get(ts.URL("http", "/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	st := ts.Stats() // after the scrape: counters only grow, the open gauges are settled
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body.Bytes()))
	if err != nil {
		t.Fatalf("not the Prometheus text format: %v\n%s", err, body.String())
	}

	value := func(name string, labels map[string]string) (float64, bool) {
		f, ok := families[name]
		if !ok {
			return 0, false
		}
	next:
		for _, m := range f.GetMetric() {
			for k, v := range labels {
				if !hasLabel(m, k, v) {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
	for _, tr := range compare.Transports {
		c := st.Of(tr)
		l := map[string]string{"transport": string(tr)}
		for _, tt := range []struct {
			name  string
			stats int64
			exact bool // a gauge or a counter that cannot have moved since the scrape
		}{
			{"ssevsws_connections_open", c.Open, true},
			{"ssevsws_connections_accepted_total", c.Connects, true},
			{"ssevsws_resumes_total", c.Resumes, true},
			{"ssevsws_ticks_sent_total", c.Ticks, false},
			{"ssevsws_bytes_sent_total", c.Bytes, false},
			{"ssevsws_slow_clients_dropped_total", c.SlowDropped, true},
			{"ssevsws_connections_dropped_total", c.Dropped, true},
			{"ssevsws_tick_wire_bytes", int64(st.TickWireBytes.Of(tr)), true},
		} {
			got, ok := value(tt.name, l)
			switch {
			case !ok:
				t.Errorf("%s{transport=%q} missing", tt.name, tr)
			case tt.exact && int64(got) != tt.stats, !tt.exact && (int64(got) > tt.stats || got <= 0):
				t.Errorf("%s{transport=%q} = %v; /stats says %d", tt.name, tr, got, tt.stats)
			}
		}
		for result, want := range map[string]int64{"echoed": c.Chats, "refused": c.ChatRefused} {
			l := map[string]string{"transport": string(tr), "result": result}
			if got, ok := value("ssevsws_chats_total", l); !ok || int64(got) != want {
				t.Errorf("ssevsws_chats_total%v = %v (found %v); /stats says %d", l, got, ok, want)
			}
		}
	}
	if open, _ := value("ssevsws_connections_open", map[string]string{"transport": "ws"}); open != 2 {
		t.Errorf("ssevsws_connections_open{transport=ws} = %v, want the 2 WebSocket clients", open)
	}
	if echoed, _ := value("ssevsws_chats_total", map[string]string{"transport": "ws", "result": "echoed"}); echoed != 1 {
		t.Errorf(`ssevsws_chats_total{transport="ws",result="echoed"} = %v, want 1`, echoed)
	}
	if _, ok := families["go_goroutines"]; !ok {
		t.Error("no go_goroutines: the Go collector is missing")
	}
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue() == value
		}
	}
	return false
}
