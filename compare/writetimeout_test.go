package compare_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// A stuck client whose queue is too long to fill before the write timeout
// (with the defaults: 64 ticks of 1s against 10s) is dropped by the write
// timeout, and counted as too slow all the same, once.
func TestStuckClientDroppedByWriteTimeoutIsCounted(t *testing.T) {
	cfg := comparetest.Fast()
	cfg.Interval = 5 * time.Millisecond
	cfg.QueueSize = 10000 // 50s of ticks: the queue cannot fill during the test
	cfg.WriteTimeout = 300 * time.Millisecond
	cfg.Heartbeat = -1
	ts := serveSmallBuffers(t, cfg)
	tg, err := probe.NewTarget(ts.URL("http", "/"))
	if err != nil {
		t.Fatal(err)
	}
	tg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(1024)
		}
		return c, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tr := range compare.Transports {
		c, err := probe.DialRaw(ctx, tg, tr, "") // reads up to the first tick, then never again
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	start := time.Now()
	for {
		st := ts.Stats()
		if st.SSE.SlowDropped >= 1 && st.WS.SlowDropped >= 1 && st.SSE.Open == 0 && st.WS.Open == 0 {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("stuck clients not dropped and counted within 5s: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if st := ts.Stats(); st.SSE.SlowDropped != 1 || st.WS.SlowDropped != 1 {
		t.Errorf("slow_dropped sse=%d ws=%d, want 1 each: one stuck client is one drop", st.SSE.SlowDropped, st.WS.SlowDropped)
	}
}
