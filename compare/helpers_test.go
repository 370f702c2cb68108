package compare_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/sse"
	"github.com/ssevsws/ssevsws/ws"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// seqLog records the tick seqs a client receives and wakes waiters on each.
type seqLog struct {
	mu      sync.Mutex
	seqs    []int64
	times   map[int64]string
	arrived []time.Time // when each tick in seqs was handed to the client's handler
	other   []string    // non-tick events, "type:payload"
	changed chan struct{}
}

func newSeqLog() *seqLog {
	return &seqLog{times: map[int64]string{}, changed: make(chan struct{}, 1)}
}

func (l *seqLog) addTick(seq int64, time string) {
	l.mu.Lock()
	l.seqs = append(l.seqs, seq)
	l.times[seq] = time
	l.arrived = append(l.arrived, timeNow())
	l.mu.Unlock()
	l.notify()
}

func (l *seqLog) addOther(s string) {
	l.mu.Lock()
	l.other = append(l.other, s)
	l.mu.Unlock()
	l.notify()
}

// timeNow is time.Now, which addTick cannot call: its parameter is named time.
var timeNow = time.Now

// count is how many ticks have been received so far.
func (l *seqLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seqs)
}

// arrival is when the i-th tick (from 0) was received; ok is false while
// it has not been.
func (l *seqLog) arrival(i int) (at time.Time, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i >= len(l.arrived) {
		return time.Time{}, false
	}
	return l.arrived[i], true
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
			t.Fatalf("timed out waiting for %s; got ticks %v, other events %q", what, comparetest.Seqs(seqs), other)
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

// resumedWithoutLoss waits until the SSE and the WebSocket client have both
// received a tick after seq, then checks that neither lost or repeated one.
func resumedWithoutLoss(t *testing.T, when string, after int64, sseLog, wsLog *seqLog) {
	t.Helper()
	sseLog.waitFor(t, "SSE ticks "+when, pastSeq(after))
	wsLog.waitFor(t, "WS ticks "+when, pastSeq(after))
	sseSeqs, _ := sseLog.snapshot()
	wsSeqs, _ := wsLog.snapshot()
	comparetest.CheckNoLoss(t, "sse", sseSeqs)
	comparetest.CheckNoLoss(t, "ws", wsSeqs)
}

// runSSE runs the Go EventSource-like client against ts until the test ends.
func runSSE(t *testing.T, ts *comparetest.Server) (*seqLog, *sse.Client) {
	t.Helper()
	return runSSEWith(t, ts, nil)
}

// runSSEWith is runSSE with setup (if not nil) applied to the client before
// it runs: for a test that dials through a proxy or watches OnError. setup
// also gets the log the client will fill, for its callbacks to read.
func runSSEWith(t *testing.T, ts *comparetest.Server, setup func(*sse.Client, *seqLog)) (*seqLog, *sse.Client) {
	t.Helper()
	log := newSeqLog()
	c := &sse.Client{URL: ts.URL("http", "/sse"), HTTPClient: newHTTPClient(t)}
	if setup != nil {
		setup(c, log)
	}
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
			if ev.Type == compare.EventHello {
				c.SetWatchdog(2 * compare.HelloHeartbeat(ev.Data)) // as the page does
			}
			log.addOther(ev.Type + ":" + ev.Data)
		})
	})
	return log, c
}

// runWS runs the reconnecting WebSocket client against ts until the test ends.
func runWS(t *testing.T, ts *comparetest.Server) (*seqLog, *ws.Client) {
	t.Helper()
	return runWSWith(t, ts, nil)
}

// runWSWith is runWS with setup (if not nil) applied to the client before
// it runs, as runSSEWith.
func runWSWith(t *testing.T, ts *comparetest.Server, setup func(*ws.Client, *seqLog)) (*seqLog, *ws.Client) {
	t.Helper()
	log := newSeqLog()
	c := &ws.Client{URL: ts.URL("ws", "/ws"), MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	if setup != nil {
		setup(c, log)
	}
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
func runBoth(t *testing.T, ts *comparetest.Server, n int) (sseLog, wsLog *seqLog) {
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

// dropEach drops each transport's connections with POST /drop and checks
// that the server answered 200 and dropped exactly one of each.
func dropEach(t *testing.T, ts *comparetest.Server) {
	t.Helper()
	for _, tr := range []string{"sse", "ws"} {
		resp, err := http.Post(ts.URL("http", "/drop?transport="+tr), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Dropped int }
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || got.Dropped != 1 {
			t.Fatalf("drop %s: status %d, dropped %d; want 200 and 1", tr, resp.StatusCode, got.Dropped)
		}
	}
}
