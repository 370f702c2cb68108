package compare_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/ws"
)

// Both transports carry the same clock: the same seq comes with the same
// time on each.
func TestBothTransportsCarryTheSameTicks(t *testing.T) {
	ts := comparetest.Start(t, comparetest.Fast(), "127.0.0.1:0")
	sseLog, wsLog := runBoth(t, ts, 5)
	// Each client starts at the tick current when it connected; wait until
	// both have seen the same later tick, then compare every common one.
	sseSeqs, _ := sseLog.snapshot()
	wsSeqs, _ := wsLog.snapshot()
	target := max(sseSeqs[len(sseSeqs)-1], wsSeqs[len(wsSeqs)-1]) + 2
	sseLog.waitFor(t, "SSE past target", pastSeq(target))
	wsLog.waitFor(t, "WS past target", pastSeq(target))

	sseLog.mu.Lock()
	defer sseLog.mu.Unlock()
	wsLog.mu.Lock()
	defer wsLog.mu.Unlock()
	common := 0
	for seq, wsTime := range wsLog.times {
		sseTime, ok := sseLog.times[seq]
		if !ok {
			continue
		}
		common++
		if sseTime != wsTime {
			t.Errorf("tick %d: SSE time %q, WebSocket time %q", seq, sseTime, wsTime)
		}
		if want := ts.Clock().TimeOf(seq).Format(compare.TimeLayout); wsTime != want {
			t.Errorf("tick %d: time %q, want %q (seq × interval)", seq, wsTime, want)
		}
	}
	if common < 3 {
		t.Errorf("only %d ticks seen on both transports", common)
	}
	comparetest.CheckNoLoss(t, "sse", sseLog.seqs)
	comparetest.CheckNoLoss(t, "ws", wsLog.seqs)
}

// Chat goes up and its echo comes back: on the same socket for WebSocket,
// through POST /chat and the event stream for SSE.
func TestChatEchoBothWays(t *testing.T) {
	ts := comparetest.Start(t, comparetest.Fast(), "127.0.0.1:0")
	const text = `<b>hi</b> "quoted" ünïcode`

	t.Run("ws", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := ws.Dial(ctx, ts.URL("ws", "/ws"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		if err := conn.Chat(ctx, text); err != nil {
			t.Fatal(err)
		}
		for {
			m, err := conn.Read(ctx)
			if err != nil {
				t.Fatalf("no echo: %v", err)
			}
			if m.Type == ws.TypeEcho {
				if m.Text != text {
					t.Errorf("echo %q, want %q", m.Text, text)
				}
				return
			}
		}
	})

	t.Run("sse", func(t *testing.T) {
		log, _ := runSSE(t, ts)
		var client string
		log.waitFor(t, "hello", func(_ []int64, other []string) bool {
			for _, o := range other {
				if data, ok := strings.CutPrefix(o, "hello:"); ok {
					var h struct{ Client string }
					json.Unmarshal([]byte(data), &h)
					client = h.Client
					return true
				}
			}
			return false
		})
		body, _ := json.Marshal(map[string]string{"client": client, "text": text})
		resp, err := http.Post(ts.URL("http", "/chat"), "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST /chat: %d, want 202", resp.StatusCode)
		}
		want, _ := json.Marshal(map[string]string{"text": text})
		log.waitFor(t, "echo on the stream", func(_ []int64, other []string) bool {
			for _, o := range other {
				if o == "echo:"+string(want) {
					return true
				}
			}
			return false
		})
		if got := ts.Stats().SSE.Chats; got != 1 {
			t.Errorf("stats: %d SSE chats, want 1", got)
		}
	})
	http.DefaultClient.CloseIdleConnections()
}

// POST /drop closes every connection of one transport; both Go clients come
// back by themselves and, resuming from their last id, lose no tick.
func TestDropThenResumeLosesNothing(t *testing.T) {
	ts := comparetest.Start(t, comparetest.Fast(), "127.0.0.1:0")
	sseLog, wsLog := runBoth(t, ts, 3)

	dropEach(t, ts)
	after := ts.Stats().Seq + 5
	resumedWithoutLoss(t, "after the drop", after, sseLog, wsLog)
	st := ts.Stats()
	if st.SSE.Resumes < 1 || st.WS.Resumes < 1 {
		t.Errorf("stats: resumes sse=%d ws=%d, want at least 1 each", st.SSE.Resumes, st.WS.Resumes)
	}
	if st.SSE.Dropped != 1 || st.WS.Dropped != 1 {
		t.Errorf("stats: dropped sse=%d ws=%d, want 1 each", st.SSE.Dropped, st.WS.Dropped)
	}
	http.DefaultClient.CloseIdleConnections()
}

// A restart is a new process with no memory of its clients: because a seq
// is a function of wall time, the new server re-creates every tick the
// clients missed while it was down.
func TestRestartResumesWithoutLoss(t *testing.T) {
	first := comparetest.Start(t, comparetest.Fast(), "127.0.0.1:0")
	addr := first.Addr
	sseLog, wsLog := runBoth(t, first, 3)

	first.Stop() // an unclean stop fails the test when it ends (Start checks)
	down := first.Stats().Seq
	// Stay down for several ticks so that there is something to replay.
	time.Sleep(5 * comparetest.Fast().Interval)

	second := comparetest.Start(t, comparetest.Fast(), addr)
	after := second.Stats().Seq + 3
	resumedWithoutLoss(t, "from the new server", after, sseLog, wsLog)
	if after-down < 5 {
		t.Errorf("the server was down for only %d ticks; the test proves little", after-down)
	}
	st := second.Stats()
	if st.SSE.Resumes != 1 || st.WS.Resumes != 1 {
		t.Errorf("new server's stats: resumes sse=%d ws=%d, want 1 each", st.SSE.Resumes, st.WS.Resumes)
	}
}

// A client that stops reading fills its queue and is dropped and counted;
// meanwhile a healthy client keeps getting every tick on time.
func TestStuckClientIsDroppedWithoutDelayingOthers(t *testing.T) {
	cfg := comparetest.Fast()
	// Fast ticks fill a stuck client's small buffers within a second or
	// two; then its write times out and it is dropped. The queue is long so
	// that a clock loop woken late on a busy machine publishes its missed
	// ticks instead of resyncing (more than half a queue, 1.28 s, late),
	// which would end the stuck clients as "behind" rather than as too
	// slow. The full-queue path is TestFullQueueDropsClient's.
	cfg.Interval = 10 * time.Millisecond
	cfg.QueueSize = 256
	cfg.WriteTimeout = 500 * time.Millisecond
	// Small socket buffers make a client that does not read back up in a
	// fraction of a second instead of after megabytes.
	ts := serveSmallBuffers(t, cfg)

	healthy, _ := runSSE(t, ts)
	healthyWS, _ := runWS(t, ts)
	healthy.waitFor(t, "healthy SSE client", atLeastTicks(1))
	healthyWS.waitFor(t, "healthy WS client", atLeastTicks(1))

	dialStuckSSE(t, ts)
	dialStuckWS(t, ts)

	deadline := time.After(10 * time.Second)
	for st := ts.Stats(); st.SSE.SlowDropped < 1 || st.WS.SlowDropped < 1; st = ts.Stats() {
		select {
		case <-deadline:
			t.Fatalf("stuck clients not dropped: stats %+v", st)
		case <-healthy.changed: // wait for the next tick, then look again
		}
	}
	after := ts.Stats().Seq + 10
	resumedWithoutLoss(t, "after the drop (healthy clients)", after, healthy, healthyWS)
	// The stuck connections' handlers may still be blocked in a write; the
	// write deadline frees them.
	for st := ts.Stats(); st.SSE.Open != 1 || st.WS.Open != 1; st = ts.Stats() {
		select {
		case <-deadline:
			t.Fatalf("open connections sse=%d ws=%d; want only the healthy one of each", st.SSE.Open, st.WS.Open)
		case <-healthy.changed:
		}
	}
}

// dialStuckSSE opens /sse with a small read buffer and never reads: with
// smallBuffers on the server, its stream backs up at once. It is closed when
// the test ends.
func dialStuckSSE(t *testing.T, ts *comparetest.Server) {
	t.Helper()
	stuck, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stuck.Close() })
	stuck.(*net.TCPConn).SetReadBuffer(1024)
	stuck.Write([]byte("GET /sse HTTP/1.1\r\nHost: " + ts.Addr + "\r\n\r\n"))
}

// dialStuckWS completes a WebSocket handshake and never reads, like
// dialStuckSSE.
func dialStuckWS(t *testing.T, ts *comparetest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stuck, _, err := websocket.Dial(ctx, ts.URL("ws", "/ws"), &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				c.(*net.TCPConn).SetReadBuffer(1024)
			}
			return c, err
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stuck.CloseNow() })
}

// A client stuck in a write (it reads nothing, its buffers are full) must
// not hold a shutdown for its whole write timeout: after stuckGrace the
// server cuts it, and the shutdown succeeds well within its deadline.
func TestShutdownCutsStuckClients(t *testing.T) {
	cfg := comparetest.Fast()
	cfg.Interval = 5 * time.Millisecond
	cfg.QueueSize = 100000 // the queues cannot fill: only the write timeout would end them
	cfg.WriteTimeout = time.Minute
	cfg.Heartbeat = -1
	ts := serveSmallBuffers(t, cfg)
	dialStuckSSE(t, ts)
	dialStuckWS(t, ts)

	// Both are stuck once they are behind: their sockets' buffers are full
	// and a write to each is blocked (for its one-minute timeout).
	for deadline := time.Now().Add(10 * time.Second); ; {
		st := ts.Stats()
		if st.SSE.Open == 1 && st.WS.Open == 1 && st.SSE.Behind == 1 && st.WS.Behind == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stuck clients' streams never backed up: %+v", st)
		}
		time.Sleep(cfg.Interval)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with stuck clients: %v", err)
	}
	if took := time.Since(start); took > compare.StuckGrace+6*time.Second { // far from the 1 min write timeout
		t.Errorf("shutdown took %v with stuck clients, want about stuckGrace (%v)", took, compare.StuckGrace)
	}
	if st := ts.Stats(); st.SSE.Open != 0 || st.WS.Open != 0 {
		t.Errorf("after shutdown: open sse=%d ws=%d, want 0", st.SSE.Open, st.WS.Open)
	}
}

// serveSmallBuffers serves cfg on a loopback port with smallBuffers, until
// the test ends.
func serveSmallBuffers(t *testing.T, cfg compare.Config) *comparetest.Server {
	t.Helper()
	ln, err := comparetest.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return comparetest.Serve(t, cfg, smallBuffers{ln})
}

// smallBuffers shrinks the server side's send buffer of every connection.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(1024)
	}
	return c, err
}

// Shutdown tells SSE clients to come back soon and ends their streams,
// closes WebSockets with 1001, and leaves no goroutine behind.
func TestShutdownEndsEveryConnection(t *testing.T) {
	cfg := comparetest.Fast()
	cfg.ShutdownRetry = 123 * time.Millisecond
	ts := comparetest.Start(t, cfg, "127.0.0.1:0")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := ws.Dial(ctx, ts.URL("ws", "/ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if m, err := conn.Read(ctx); err != nil || m.Type != ws.TypeHello {
		t.Fatalf("first message %+v, %v; want hello", m, err)
	}

	client := newHTTPClient(t)
	resp, err := client.Get(ts.URL("http", "/sse"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := bufio.NewReader(resp.Body)
	if line, _ := body.ReadString('\n'); line != "retry: 30\n" {
		t.Fatalf("first line %q, want the configured retry", line)
	}

	ts.Stop() // an unclean stop fails the test when it ends (Start checks)

	// The SSE stream ends with the short retry, then EOF.
	rest := readAll(t, body)
	if !strings.HasSuffix(rest, "retry: 123\n\n") {
		t.Errorf("stream did not end with the shutdown retry; its tail: %q", tail(rest, 80))
	}
	// The WebSocket is closed with 1001.
	for {
		_, err := conn.Read(ctx)
		if err != nil {
			if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
				t.Errorf("websocket closed with %v (%v), want 1001", code, err)
			}
			break
		}
	}
	// New connections are not served any more.
	if _, err := client.Get(ts.URL("http", "/healthz")); err == nil {
		t.Error("the server still accepts connections after Shutdown")
	}
}

func readAll(t *testing.T, r *bufio.Reader) string {
	b, err := io.ReadAll(r)
	if err != nil {
		t.Errorf("reading the rest of the stream: %v", err)
	}
	return string(b)
}

func tail(s string, n int) string { return s[max(0, len(s)-n):] }

func TestCatchUpFrom(t *testing.T) {
	for _, tt := range []struct {
		next, current int64
		from          int64
		resync        bool
	}{
		{10, 10, 10, false}, // on time
		{10, 12, 10, false}, // a little late: publish the three in order
		{10, 41, 10, false}, // 32 late: still within half a queue of 64
		{10, 42, 42, true},  // 33 late: reconnect, then the current tick
		{10, 1e6, 1e6, true},
	} {
		from, resync := compare.CatchUpFrom(tt.next, tt.current, 64)
		if from != tt.from || resync != tt.resync {
			t.Errorf("catchUpFrom(%d, %d, 64) = %d, %v; want %d, %v", tt.next, tt.current, from, resync, tt.from, tt.resync)
		}
	}
}

// When the clock loop wakes far too late, every client is asked to come back
// (SSE: a short retry; WebSocket: 1013) and resumes by the replay rule: no
// tick lost, and nobody counted as a slow client.
func TestResyncAfterStallLosesNothing(t *testing.T) {
	ts := comparetest.Start(t, comparetest.Fast(), "127.0.0.1:0")
	sseLog, wsLog := runBoth(t, ts, 3)

	ts.Resync(100, ts.Stats().Seq)
	after := ts.Stats().Seq + 5
	resumedWithoutLoss(t, "after the resync", after, sseLog, wsLog)
	st := ts.Stats()
	if st.SSE.Resumes < 1 || st.WS.Resumes < 1 {
		t.Errorf("stats: resumes sse=%d ws=%d, want at least 1 each", st.SSE.Resumes, st.WS.Resumes)
	}
	if st.SSE.SlowDropped != 0 || st.WS.SlowDropped != 0 {
		t.Errorf("stats: slow_dropped sse=%d ws=%d, want 0", st.SSE.SlowDropped, st.WS.SlowDropped)
	}
	http.DefaultClient.CloseIdleConnections()
}
