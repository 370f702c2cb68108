package benchmarks

import (
	"context"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// The raw floor speaks enough of both transports for probe.RawConn: the
// current tick at once, then every tick in order on the clock's grid.
func TestFloor(t *testing.T) {
	f, err := startFloor(20 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	checkTicks(t, f.URL())
	if sse, ws := f.open(); sse != 1 || ws != 1 {
		t.Errorf("floor holds sse=%d ws=%d, want 1 and 1", sse, ws)
	}
}

// A server process, real or floor, serves, counts its connections and its
// CPU time, and stops when told.
func TestServerProcess(t *testing.T) {
	for _, floor := range []bool{false, true} {
		sp, err := startServerProcs(1, serverSpec{Interval: 20 * time.Millisecond, Floor: floor})
		if err != nil {
			t.Fatal(err)
		}
		checkTicks(t, sp.urls()[0])
		deadline := time.Now().Add(10 * time.Second)
		u, err := sp.usage()
		for err == nil && u.SSE+u.WS != 2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			u, err = sp.usage()
		}
		if err != nil || u.SSE != 1 || u.WS != 1 || u.CPU <= 0 {
			t.Errorf("floor=%v: usage %+v, %v; want one connection of each and some CPU", floor, u, err)
		}
		if m, err := sp.mem(); err != nil || m.Goroutines == 0 {
			t.Errorf("floor=%v: memory %+v, %v", floor, m, err)
		}
		if err := sp.close(); err != nil {
			t.Error(err)
		}
	}
}

// checkTicks opens one connection of each transport to root, reads three
// live ticks on each, in order, and leaves the connections open until the
// test ends.
func checkTicks(t *testing.T, root string) {
	t.Helper()
	tg, err := probe.NewTarget(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range compare.Transports {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := probe.DialRaw(ctx, tg, tr, "")
		if err != nil {
			t.Fatalf("%s: %v", tr.Name(), err)
		}
		t.Cleanup(func() { c.Close() })
		last := c.Handshake().Seq
		for range 3 {
			m, err := c.Next(ctx)
			if err != nil {
				t.Fatalf("%s: %v", tr.Name(), err)
			}
			if m.Kind != probe.MsgTick {
				continue
			}
			if m.Seq != last+1 {
				t.Errorf("%s: tick %d after %d", tr.Name(), m.Seq, last)
			}
			if _, ok := tickTime(m.Data); !ok {
				t.Errorf("%s: tick %q has no time", tr.Name(), m.Data)
			}
			last = m.Seq
		}
	}
}
