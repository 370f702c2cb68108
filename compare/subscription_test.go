package compare_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"

	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/ws"
)

// A client that resumes is replayed to from the clock, not from its queue:
// however long the replay takes (a slow client, a busy machine), the ticks
// published meanwhile neither overflow its queue nor get it dropped as too
// slow, and it still gets every tick once, in order, then live ones.
func TestLongReplayIsNotDroppedAsSlow(t *testing.T) {
	cfg := comparetest.Fast()
	cfg.Interval = time.Hour // the test publishes
	cfg.Replay = 100 * cfg.Interval
	cfg.QueueSize = 4
	ts := comparetest.Start(t, cfg, "127.0.0.1:0")
	server, client := socketPair(t)
	first := ts.Stats().Seq
	feed, err := ts.SubscribeDirect(server, fmt.Sprint(first-10))
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Close()

	// Three queues' worth of ticks while the backlog is not yet written.
	for range 3 * cfg.QueueSize {
		ts.PublishNext()
	}
	var seqs []int64
	for msg := range feed.Backlog() {
		seqs = append(seqs, decodeTick(t, msg))
	}
	if err := feed.Ended(); err != nil {
		t.Fatalf("ended while being replayed to: %v", err)
	}
	want := first + int64(3*cfg.QueueSize)
	if len(seqs) == 0 || seqs[0] != first-9 || seqs[len(seqs)-1] != want {
		t.Errorf("backlog %s, want %d..%d", comparetest.Seqs(seqs), first-9, want)
	}
	comparetest.CheckNoLoss(t, "backlog", seqs)

	// Then it is live: the next tick is the first the engine writes to its
	// socket, and the only one.
	ts.PublishNext()
	if got := decodeTick(t, readFrame(t, client)); got != want+1 {
		t.Errorf("first live tick %d, want %d", got, want+1)
	}
	if err := feed.Ended(); err != nil {
		t.Fatalf("ended: %v", err)
	}
}

// socketPair is a connected pair of loopback TCP sockets.
func socketPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return server, client
}

// readFrame reads one unmasked WebSocket frame of up to 125 bytes (a tick)
// and returns its payload.
func readFrame(t *testing.T, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	head := make([]byte, 2)
	if _, err := io.ReadFull(c, head); err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	if head[0] != 0x81 || head[1] > 125 {
		t.Fatalf("frame header % x: want a final text frame of at most 125 bytes", head)
	}
	payload := make([]byte, head[1])
	if _, err := io.ReadFull(c, payload); err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	return payload
}

func decodeTick(t *testing.T, msg []byte) int64 {
	t.Helper()
	var m ws.Message
	if err := json.Unmarshal(msg, &m); err != nil || m.Type != ws.TypeTick {
		t.Fatalf("%s: want a tick", msg)
	}
	return m.Seq
}

// A live client that takes nothing is dropped as too slow and counted once
// its socket's buffers and then its queue are full: publishing never waits
// for it (each PublishNext returns once every client has its tick written
// or queued), and a client on the same server that reads gets every tick.
func TestFullQueueDropsClient(t *testing.T) {
	cfg := comparetest.Fast()
	cfg.Interval = time.Hour // the test publishes
	cfg.QueueSize = 4
	ts := serveSmallBuffers(t, cfg)
	dialStuckWS(t, ts)
	healthy, _ := runWS(t, ts)
	if err := ts.WaitOpen(t.Context(), compare.WS, 2); err != nil {
		t.Fatal(err)
	}
	// Small buffers hold a few hundred ticks; the queue then 4 more.
	const most = 5000
	last := int64(0)
	for i := 0; i < most && ts.Stats().WS.SlowDropped == 0; i++ {
		last = ts.PublishNext()
		// The healthy client has its small buffers too: it reads each
		// tick before the next, as a client keeping up would.
		healthy.waitFor(t, "the healthy client", pastSeq(last-1))
	}
	if err := ts.WaitOpen(t.Context(), compare.WS, 1); err != nil {
		t.Fatalf("the stuck client is still open after %d ticks: %v", most, err)
	}
	if got := ts.Stats().WS.SlowDropped; got != 1 {
		t.Errorf("slow_dropped %d, want 1", got)
	}
	seqs, _ := healthy.snapshot()
	comparetest.CheckNoLoss(t, "the healthy client", seqs)
}
