package compare_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

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
	first := ts.Stats().Seq
	feed, err := ts.SubscribeWS(fmt.Sprint(first - 10))
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
	select {
	case <-feed.Done():
		t.Fatalf("ended while being replayed to: %v", feed.Err())
	default:
	}
	want := first + int64(3*cfg.QueueSize)
	if len(seqs) == 0 || seqs[0] != first-9 || seqs[len(seqs)-1] != want {
		t.Errorf("backlog %s, want %d..%d", comparetest.Seqs(seqs), first-9, want)
	}
	comparetest.CheckNoLoss(t, "backlog", seqs)

	// Then it is live: the next tick comes through its queue.
	ts.PublishNext()
	select {
	case msg := <-feed.Live():
		if got := decodeTick(t, msg); got != want+1 {
			t.Errorf("first live tick %d, want %d", got, want+1)
		}
	case <-feed.Done():
		t.Fatalf("ended: %v", feed.Err())
	}
}

func decodeTick(t *testing.T, msg []byte) int64 {
	t.Helper()
	var m ws.Message
	if err := json.Unmarshal(msg, &m); err != nil || m.Type != ws.TypeTick {
		t.Fatalf("%s: want a tick", msg)
	}
	return m.Seq
}

// A live client whose queue is full when a tick comes is dropped as too
// slow and counted, at once: publishing never waits for it.
func TestFullQueueDropsClient(t *testing.T) {
	cfg := comparetest.Fast()
	cfg.Interval = time.Hour // the test publishes
	cfg.QueueSize = 4
	ts := comparetest.Start(t, cfg, "127.0.0.1:0")
	feed, err := ts.SubscribeWS("")
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Close()
	for range feed.Backlog() { // the current tick; then it is live
	}
	for range cfg.QueueSize {
		ts.PublishNext()
	}
	select {
	case <-feed.Done():
		t.Fatalf("dropped with a queue that still had room: %v", feed.Err())
	default:
	}
	ts.PublishNext() // one more than the queue holds, and nobody reads
	select {
	case <-feed.Done():
	default:
		t.Fatal("a client with a full queue was not dropped")
	}
	if err := feed.Err(); !strings.Contains(err.Error(), "too slow") {
		t.Errorf("dropped with %v, want the too-slow close", err)
	}
	if got := ts.Stats().WS.SlowDropped; got != 1 {
		t.Errorf("slow_dropped %d, want 1", got)
	}
}
