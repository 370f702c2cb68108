package probe

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
)

func probeTarget(t *testing.T, ts *comparetest.Server) *Target {
	t.Helper()
	tg, err := NewTarget("http://" + ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tg.Close)
	return tg
}

func probeCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Every probe runs against a real server on both transports and reports
// numbers that make sense: bytes counted, no tick lost, two goroutines per
// connection.
func TestProbes(t *testing.T) {
	cfg := comparetest.Fast()
	cfg.ChatRate = -1
	ts := comparetest.Start(t, cfg, "127.0.0.1:0")
	tg := probeTarget(t, ts)
	ctx := probeCtx(t)
	for _, tr := range compare.Transports {
		t.Run(string(tr), func(t *testing.T) {
			c, err := Connect(ctx, tg, tr, Budget{Min: 3})
			if err != nil {
				t.Fatal(err)
			}
			if c.Head.N != 3 || c.Head.P50 <= 0 || c.FirstTick.P50 < c.Head.P50 {
				t.Errorf("connect: head %+v, first tick %+v", c.Head, c.FirstTick)
			}
			if b := c.Bytes; b.Request < 50 || b.Response < 50 || b.Tick < 50 || b.Setup < 20 {
				t.Errorf("connect bytes %+v", b)
			}

			rt, err := RoundTrip(ctx, tg, tr, Budget{Min: 3}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if rt.Time.N != 3 || rt.Up == 0 || rt.Down == 0 || rt.Refused != 0 {
				t.Errorf("round trip %+v", rt)
			}

			rc, err := Reconnect(ctx, tg, tr, Budget{Min: 2}, ReconnectOptions{WSBackoff: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if rc.Drops != 2 || rc.Lost != 0 || rc.Duplicated != 0 || rc.Resume.P50 < rc.Wait.P50 {
				t.Errorf("reconnect %+v", rc)
			}

			idle, err := Idle(ctx, ts.Server, tg, tr, 50)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(idle.Goroutines-1) > 0.1 || idle.Heap < 1000 || idle.Stack < 1000 {
				t.Errorf("idle %+v", idle)
			}
		})
	}
}

// A refused chat message is waited for and not counted.
func TestRoundTripWaitsOutTheRateLimit(t *testing.T) {
	cfg := comparetest.Fast()
	cfg.ChatRate, cfg.ChatBurst = 2, 2 // a token every 500 ms: the third quick chat is refused
	ts := comparetest.Start(t, cfg, "127.0.0.1:0")
	rt, err := RoundTrip(probeCtx(t), probeTarget(t, ts), compare.WS, Budget{Min: 4}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rt.Refused == 0 || rt.Time.N != 4 {
		t.Errorf("round trip %+v: want some refused, 4 counted", rt)
	}
}

func TestDropNeedsLoopbackOrTokenForProbes(t *testing.T) {
	ts := comparetest.Start(t, comparetest.Fast(), "127.0.0.1:0")
	tg := probeTarget(t, ts)
	tg.DropToken = "wrong"
	if _, err := tg.Drop(probeCtx(t), compare.SSE); err == nil {
		t.Error("drop with a wrong token succeeded")
	}
}

func TestNewTarget(t *testing.T) {
	for _, bad := range []string{"", "localhost:8080", "ftp://x", "http://", "http://h/?q=1", "http://u@h/"} {
		if _, err := NewTarget(bad); err == nil {
			t.Errorf("NewTarget(%q) accepted", bad)
		}
	}
	tg, err := NewTarget("https://example.org/demo")
	if err != nil {
		t.Fatal(err)
	}
	if got := tg.url("sse").String(); got != "https://example.org/demo/sse" {
		t.Errorf("url %q", got)
	}
	if got := tg.hostPort(); got != "example.org:443" {
		t.Errorf("hostPort %q", got)
	}
}

func TestSummarize(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i))
	}
	sum := Summarize(s)
	if sum != (Summary{N: 100, Min: 1, P50: 50, P90: 90, P99: 99, Max: 100}) {
		t.Errorf("got %+v", sum)
	}
	if s[0] != 100 {
		t.Error("Summarize sorted its argument")
	}
	if (Summarize(nil) != Summary{}) {
		t.Error("empty")
	}
}

func TestBudget(t *testing.T) {
	start := time.Now()
	if !(Budget{}).more(0, start) || (Budget{}).more(1, start) {
		t.Error("zero budget: want exactly one")
	}
	if (Budget{Duration: time.Hour, Max: 3}).more(3, start) {
		t.Error("max ignored")
	}
	if !(Budget{Duration: time.Hour}).more(10, start) {
		t.Error("duration ignored")
	}
	var refused *ChatRefusedError
	if !errors.As(error(&ChatRefusedError{Text: "x"}), &refused) {
		t.Error("ChatRefusedError")
	}
}

// What the probe counts on the wire for one tick is what the server says a
// tick costs in GET /stats (tick_wire_bytes): the CLI, the page and the
// README show one figure, defined once.
func TestTickWireBytesAgreeWithStats(t *testing.T) {
	cfg := comparetest.Fast()
	cfg.Interval = time.Hour // the first tick is the only one: its seq is /stats' seq
	ts := comparetest.Start(t, cfg, "127.0.0.1:0")
	tg := probeTarget(t, ts)
	for _, tr := range compare.Transports {
		hs, err := ConnectOnce(probeCtx(t), tg, tr)
		if err != nil {
			t.Fatal(err)
		}
		st := ts.Stats()
		want := st.TickWireBytes.Of(tr)
		if hs.Tick != want || want == 0 {
			t.Errorf("%s: the probe read %d bytes for one tick, /stats says %d", tr.Name(), hs.Tick, want)
		}
	}
}
