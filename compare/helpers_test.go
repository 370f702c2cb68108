package compare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ssevsws/ssevsws/sse"
	"github.com/ssevsws/ssevsws/ws"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testLogger keeps test output quiet unless SSEVSWS_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("SSEVSWS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testServer is a Server on a real loopback listener.
type testServer struct {
	*Server
	addr string // host:port
}

func (ts *testServer) url(scheme, path string) string { return scheme + "://" + ts.addr + path }

// fastConfig is a configuration with short intervals so tests run quickly.
func fastConfig() Config {
	return Config{
		Interval:      20 * time.Millisecond,
		Retry:         30 * time.Millisecond,
		ShutdownRetry: 30 * time.Millisecond,
		Logger:        testLogger(),
	}
}

// startServer serves cfg on addr ("127.0.0.1:0" for any port) and shuts the
// server down when the test ends.
func startServer(t *testing.T, cfg Config, addr string) *testServer {
	t.Helper()
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	// Re-listening on the port of a server that just stopped can race with
	// the kernel releasing it; a few quick attempts cover that.
	for attempt := 0; ; attempt++ {
		ln, err = net.Listen("tcp", addr)
		if err == nil || attempt == 20 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		srv.Shutdown(context.Background())
		t.Fatal(err)
	}
	return serveOn(t, srv, ln)
}

func serveOn(t *testing.T, srv *Server, ln net.Listener) *testServer {
	t.Helper()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	ts := &testServer{Server: srv, addr: ln.Addr().String()}
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// stop shuts the server down and checks that it stopped in time.
func (ts *testServer) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// seqLog records the tick seqs a client receives and wakes waiters on each.
type seqLog struct {
	mu      sync.Mutex
	seqs    []int64
	times   map[int64]string
	other   []string // non-tick events, "type:payload"
	changed chan struct{}
}

func newSeqLog() *seqLog {
	return &seqLog{times: map[int64]string{}, changed: make(chan struct{}, 1)}
}

func (l *seqLog) addTick(seq int64, time string) {
	l.mu.Lock()
	l.seqs = append(l.seqs, seq)
	l.times[seq] = time
	l.mu.Unlock()
	l.notify()
}

func (l *seqLog) addOther(s string) {
	l.mu.Lock()
	l.other = append(l.other, s)
	l.mu.Unlock()
	l.notify()
}

func (l *seqLog) notify() {
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

func (l *seqLog) snapshot() ([]int64, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seqs), slices.Clone(l.other)
}

// waitFor waits until cond holds for what was received, or fails the test.
func (l *seqLog) waitFor(t *testing.T, what string, cond func(seqs []int64, other []string) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		seqs, other := l.snapshot()
		if cond(seqs, other) {
			return
		}
		select {
		case <-l.changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; got ticks %v, other events %q", what, summarize(seqs), other)
		}
	}
}

// atLeastTicks is a waitFor condition: n ticks received.
func atLeastTicks(n int) func([]int64, []string) bool {
	return func(seqs []int64, _ []string) bool { return len(seqs) >= n }
}

// pastSeq is a waitFor condition: a tick after seq received.
func pastSeq(seq int64) func([]int64, []string) bool {
	return func(seqs []int64, _ []string) bool { return len(seqs) > 0 && seqs[len(seqs)-1] > seq }
}

// checkNoLoss fails unless seqs is strictly consecutive: no tick missing,
// none repeated, none out of order.
func checkNoLoss(t *testing.T, who string, seqs []int64) {
	t.Helper()
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Errorf("%s: tick %d followed by %d (lost or repeated ticks); all: %v", who, seqs[i-1], seqs[i], summarize(seqs))
			return
		}
	}
}

// resumedWithoutLoss waits until the SSE and the WebSocket client have both
// received a tick after seq, then checks that neither lost or repeated one.
func resumedWithoutLoss(t *testing.T, when string, after int64, sseLog, wsLog *seqLog) {
	t.Helper()
	sseLog.waitFor(t, "SSE ticks "+when, pastSeq(after))
	wsLog.waitFor(t, "WS ticks "+when, pastSeq(after))
	sseSeqs, _ := sseLog.snapshot()
	wsSeqs, _ := wsLog.snapshot()
	checkNoLoss(t, "sse", sseSeqs)
	checkNoLoss(t, "ws", wsSeqs)
}

// summarize prints a seq list compactly: runs of consecutive seqs as a..b.
func summarize(seqs []int64) string {
	var b strings.Builder
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		if i == j {
			fmt.Fprint(&b, seqs[i])
		} else {
			fmt.Fprintf(&b, "%d..%d", seqs[i], seqs[j])
		}
		i = j + 1
	}
	return "[" + b.String() + "]"
}

// runSSE runs the Go EventSource-like client against ts until the test ends.
func runSSE(t *testing.T, ts *testServer) (*seqLog, *sse.Client) {
	t.Helper()
	log := newSeqLog()
	c := &sse.Client{URL: ts.url("http", "/sse"), HTTPClient: newHTTPClient(t)}
	runUntilCleanup(t, func(ctx context.Context) error {
		return c.Run(ctx, func(ev sse.Event) {
			if ev.Type == "tick" {
				var tk struct {
					Seq  int64  `json:"seq"`
					Time string `json:"time"`
				}
				if err := json.Unmarshal([]byte(ev.Data), &tk); err != nil {
					t.Errorf("sse tick %q: %v", ev.Data, err)
				}
				if ev.ID != fmt.Sprint(tk.Seq) {
					t.Errorf("sse tick id %q, seq %d: they must be equal", ev.ID, tk.Seq)
				}
				log.addTick(tk.Seq, tk.Time)
				return
			}
			log.addOther(ev.Type + ":" + ev.Data)
		})
	})
	return log, c
}

// runWS runs the reconnecting WebSocket client against ts until the test ends.
func runWS(t *testing.T, ts *testServer) (*seqLog, *ws.Client) {
	t.Helper()
	log := newSeqLog()
	c := &ws.Client{URL: ts.url("ws", "/ws"), MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	runUntilCleanup(t, func(ctx context.Context) error {
		return c.Run(ctx, func(m ws.Message) {
			if m.Type == ws.TypeTick {
				log.addTick(m.Seq, m.Time)
				return
			}
			b, _ := json.Marshal(m)
			log.addOther(m.Type + ":" + string(b))
		})
	})
	return log, c
}

// runBoth runs the Go SSE and WebSocket clients against ts and waits until
// each has received n ticks.
func runBoth(t *testing.T, ts *testServer, n int) (sseLog, wsLog *seqLog) {
	t.Helper()
	sseLog, _ = runSSE(t, ts)
	wsLog, _ = runWS(t, ts)
	sseLog.waitFor(t, fmt.Sprintf("%d SSE ticks", n), atLeastTicks(n))
	wsLog.waitFor(t, fmt.Sprintf("%d WS ticks", n), atLeastTicks(n))
	return sseLog, wsLog
}

// runUntilCleanup runs f in a goroutine and, when the test ends, cancels it
// and waits for it, so that no client outlives its test.
func runUntilCleanup(t *testing.T, f func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("client ended with %v", err)
		}
	})
}

// newHTTPClient is a client of the test's own, whose idle connections are
// closed at the end so the leak check sees no transport goroutines.
func newHTTPClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
