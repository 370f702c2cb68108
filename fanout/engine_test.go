package fanout

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

// TestBroadcastFastPath: every joined connection gets its kind's frame of
// every broadcast, in order, exactly once, by direct writes; delivered adds
// up to the connections per kind, once per shard; Sync waits for all of it.
func TestBroadcastFastPath(t *testing.T) {
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			e := newEngine(t, Config{Workers: workers})
			const perKind, n = 5, 300
			type peer struct {
				c    *Conn
				kind int
				cl   net.Conn
			}
			var peers []peer
			for i := range 2 * perKind {
				s, cl := tcpPair(t)
				c := add(t, e, s, i%2)
				if !c.Direct() {
					t.Fatal("a *net.TCPConn is not written to directly")
				}
				c.Join(0)
				peers = append(peers, peer{c, i % 2, cl})
			}
			var calls atomic.Int64
			var counts [maxKinds]atomic.Int64
			delivered := func(perKind []int) {
				calls.Add(1)
				for k, m := range perKind {
					counts[k].Add(int64(m))
				}
			}
			var want [2]bytes.Buffer
			for seq := range n {
				frames := [][]byte{fmt.Appendf(nil, "a%d.", seq), fmt.Appendf(nil, "<kind1 %d>", seq)}
				want[0].Write(frames[0])
				want[1].Write(frames[1])
				e.Broadcast(int64(seq), frames, delivered)
			}
			e.Sync()
			// No wait here: Sync returns after every delivered call before it.
			if got := calls.Load(); got != int64(n*workers) {
				t.Errorf("delivered called %d times, want %d (once per broadcast per shard)", got, n*workers)
			}
			for k, wantN := range []int64{n * perKind, n * perKind, 0, 0} {
				if got := counts[k].Load(); got != wantN {
					t.Errorf("delivered counts for kind %d add up to %d, want %d", k, got, wantN)
				}
			}
			// Nobody has read yet: a few KB sit in each socket's buffers, and
			// nothing had to be queued.
			for _, p := range peers {
				if behind(p.c) {
					t.Fatal("a small frame took the slow path")
				}
			}
			results := make([]<-chan readResult, len(peers))
			for i, p := range peers {
				results[i] = readAll(p.cl)
				p.c.Finish(nil)
			}
			for i, p := range peers {
				r := <-results[i]
				if r.err != nil {
					t.Fatalf("peer %d: %v", i, r.err)
				}
				if !bytes.Equal(r.data, want[p.kind].Bytes()) {
					t.Fatalf("peer %d (kind %d) got %d bytes, not the %d expected in order:\n%.200q\nwant\n%.200q",
						i, p.kind, len(r.data), want[p.kind].Len(), r.data, want[p.kind].Bytes())
				}
			}
		})
	}
}

// TestJoin: a connection takes the broadcasts from its Join's seq on, even
// while broadcasts before it are still in the workers' queues; one that
// never joined takes none; Join after Close or Finish does nothing.
func TestJoin(t *testing.T) {
	e := newEngine(t, Config{Workers: 2})
	type peer struct {
		name string
		c    *Conn
		got  <-chan readResult
	}
	var peers []*peer
	mk := func(name string) *peer {
		s, cl := tcpPair(t)
		p := &peer{name, add(t, e, s, 0), readAll(cl)}
		peers = append(peers, p)
		return p
	}
	all, future, late, never, closed, finished := mk("all"), mk("future"), mk("late"), mk("never"), mk("closed"), mk("finished")
	all.c.Join(0)
	future.c.Join(7) // before any broadcast, from one still to come
	bcast := func(seq int) { e.Broadcast(int64(seq), [][]byte{fmt.Appendf(nil, "%d,", seq)}, nil) }
	for seq := range 5 {
		bcast(seq)
	}
	// No Sync: 0..4 may still be queued for the workers, who must skip them
	// for late all the same.
	late.c.Join(5)
	late.c.Join(0) // a second Join changes nothing
	closed.c.Close(nil)
	closed.c.Join(0)
	finished.c.Finish(nil)
	finished.c.Join(0)
	for _, p := range []*peer{closed, finished, never} {
		if joined(p.c) {
			t.Errorf("%s: in the broadcast list", p.name)
		}
	}
	for seq := 5; seq < 10; seq++ {
		bcast(seq)
	}
	e.Sync()
	for _, p := range peers {
		p.c.Finish(nil)
	}
	want := map[string]string{
		"all":    "0,1,2,3,4,5,6,7,8,9,",
		"future": "7,8,9,",
		"late":   "5,6,7,8,9,",
	}
	for _, p := range peers {
		r := <-p.got
		if r.err != nil {
			t.Errorf("%s: %v", p.name, r.err)
		}
		if string(r.data) != want[p.name] {
			t.Errorf("%s got %q, want %q", p.name, r.data, want[p.name])
		}
	}
}

// TestEngineClose: Close writes the broadcasts already handed over, stops
// the workers (no goroutine left), can be called again, and Add fails after
// it with ErrEngineClosed.
func TestEngineClose(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	e := New(Config{Workers: 3})
	s, cl := tcpPair(t)
	c, err := e.Add(s, 0)
	if err != nil {
		t.Fatal(err)
	}
	c.Join(0)
	var want []byte
	for seq := range 20 {
		f := fmt.Appendf(nil, "x%d;", seq)
		want = append(want, f...)
		e.Broadcast(int64(seq), [][]byte{f}, nil)
	}
	e.Close() // no Sync: Close itself runs what was handed over
	e.Close()
	s2, _ := tcpPair(t)
	if c2, err := e.Add(s2, 0); !errors.Is(err, ErrEngineClosed) || c2 != nil {
		t.Errorf("Add after Close = %v, %v; want nil, ErrEngineClosed", c2, err)
	}
	got := readAll(cl)
	c.Finish(nil) // a Conn outlives its Engine's workers
	if r := <-got; r.err != nil || !bytes.Equal(r.data, want) {
		t.Errorf("got %q, %v; want %q", r.data, r.err, want)
	}
	goleak.VerifyNone(t, ignore)
}

// TestAddKind: kinds outside 0..3 are refused.
func TestAddKind(t *testing.T) {
	e := newEngine(t, Config{Workers: 1})
	s, _ := tcpPair(t)
	for _, kind := range []int{-1, maxKinds} {
		if c, err := e.Add(s, kind); err == nil {
			c.Close(nil)
			t.Errorf("Add with kind %d succeeded", kind)
		}
	}
}
