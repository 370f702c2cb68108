package probe

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Sink is n clients that read and count bytes, and no more: the lightest
// reader there is, so that a measurement of what a server spends on a tick
// is not a measurement of its clients. Sweep's client process and the
// fan-out benchmarks use it. Each round every client must read a given
// number of bytes more (Expect); the last one to get them wakes Wait.
type Sink struct {
	n       int
	want    atomic.Int64 // bytes each client must have read by the end of this round
	pending atomic.Int64 // clients still short of want
	total   atomic.Int64 // bytes read by all clients, all rounds
	done    chan struct{}
	timeout *time.Timer
	conns   []net.Conn
	wg      sync.WaitGroup
}

// NewSink makes a Sink for n clients; Add each of them.
func NewSink(n int) *Sink {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &Sink{n: n, done: make(chan struct{}, 1), timeout: t}
}

// Add starts reading nc, in a goroutine of its own, until Close.
func (s *Sink) Add(nc net.Conn) {
	s.conns = append(s.conns, nc)
	s.wg.Go(func() {
		buf := make([]byte, 4096)
		var read, counted int64
		for {
			k, err := nc.Read(buf)
			if err != nil {
				return
			}
			read += int64(k)
			s.total.Add(int64(k))
			if want := s.want.Load(); read >= want && counted < want {
				counted = want
				if s.pending.Add(-1) == 0 {
					s.done <- struct{}{}
				}
			}
		}
	})
}

// Expect starts a round in which each client gets size more bytes.
func (s *Sink) Expect(size int) {
	s.pending.Store(int64(s.n))
	s.want.Add(int64(size))
}

// Wait waits until every client has its bytes of this round, or timeout.
// It allocates nothing, so that the allocations counted around it are the
// server's.
func (s *Sink) Wait(timeout time.Duration) error {
	s.timeout.Reset(timeout)
	defer s.timeout.Stop()
	select {
	case <-s.done:
		return nil
	case <-s.timeout.C:
		return fmt.Errorf("%d of %d clients did not get their %d bytes within %v", s.pending.Load(), s.n, s.want.Load(), timeout)
	}
}

// Total is the bytes all clients read, over all rounds.
func (s *Sink) Total() int64 { return s.total.Load() }

// Close closes every client and waits for its reader.
func (s *Sink) Close() {
	for _, c := range s.conns {
		c.Close()
	}
	s.wg.Wait()
	s.conns = nil
}
