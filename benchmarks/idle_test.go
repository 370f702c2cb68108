package benchmarks

import (
	"context"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// idleConns is how many connections BenchmarkIdleConn holds at once: enough
// that per-connection costs dwarf the noise of a garbage-collected heap.
const idleConns = 1000

// BenchmarkIdleConn holds 1000 idle connections open on an in-process server
// and measures, once the server has settled and the garbage is collected,
// what each one costs it:
//
//   - heap-B/conn: live heap. stack-B/conn: goroutine stacks.
//   - goroutines/conn: goroutines the server keeps per connection.
//   - rss-B/conn: resident memory of the process (Linux only): what the
//     operating system really gives the server.
//
// One op is one connection: ns/op is the time to open one while opening the
// crowd, allocs/op and B/op what it allocated over its life (open, idle,
// close), client and server together. The benchmark refuses to report if the
// server does not hold every connection.
//
// transport=tcp is the floor, and reports the same metrics: a bare TCP
// connection held by one goroutine blocked in Read, the least a Go server
// that notices a client leaving can spend (its socket, its netpoll entry
// and one goroutine's stack). Read sse and ws's rss-B/conn against tcp's:
// the difference is what the transport and the server's design add. The
// clients are in the same process, so every number includes the
// client end of the socket (a few hundred bytes of heap, no goroutine), and
// none includes the kernel's socket buffers, which are not in RSS.
//
// What to notice: an SSE connection costs little more than the floor (about
// 5 KB against 4.8): once its header is out, the fan-out engine writes to its
// socket and net/http's buffers and goroutines are gone; what is left is one
// small goroutine that waits for the client to hang up. A WebSocket costs
// about twice that: coder/websocket's state, a small read buffer and the
// goroutine that reads chat messages and control frames. Neither protocol
// needs memory per idle connection for itself. Before the engine both cost
// some 33 KB: net/http's 4 KiB read and write buffers and two goroutine
// stacks (see the README's costs section).
func BenchmarkIdleConn(b *testing.B) {
	for _, t := range []compare.Transport{compare.SSE, compare.WS, "tcp"} {
		b.Run(name(t)+"/clients=1000", func(b *testing.B) {
			if limit, err := probe.RaiseFileLimit(); err != nil || limit < 2*idleConns+100 {
				b.Skipf("need %d open files, have %d (%v)", 2*idleConns+100, limit, err)
			}
			var s *server
			if t != "tcp" {
				s = startServer(b, quietConfig())
			}
			var sum probe.PerConn
			rssKnown := true
			var open time.Duration
			var m0, m1 runtime.MemStats
			b.ReportAllocs()
			runtime.ReadMemStats(&m0)
			for b.Loop() {
				var res probe.IdleResult
				var err error
				if t == "tcp" {
					res, err = idleTCP(idleConns)
				} else {
					res, err = probe.Idle(context.Background(), s.Server.Server, s.tg, t, idleConns)
				}
				if err != nil {
					b.Fatal(err)
				}
				sum.Heap += res.Heap
				sum.Stack += res.Stack
				sum.Goroutines += res.Goroutines
				sum.RSS += res.RSS
				rssKnown = rssKnown && res.RSS != -1 // -1: unknown (not Linux)
				open += res.Open
			}
			runtime.ReadMemStats(&m1)
			n := float64(b.N)
			conns := n * idleConns
			b.ReportMetric(float64(open)/conns, "ns/op")
			b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/conns, "allocs/op")
			b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/conns, "B/op")
			b.ReportMetric(sum.Heap/n, "heap-B/conn")
			b.ReportMetric(sum.Stack/n, "stack-B/conn")
			b.ReportMetric(sum.Goroutines/n, "goroutines/conn")
			if rssKnown { // even when negative: tcp's is near 0, and noise is a result too
				b.ReportMetric(sum.RSS/n, "rss-B/conn")
			}
		})
	}
}

// idleTCP is probe.Idle for bare TCP: n connections, each held on the server
// side by one goroutine blocked in Read.
func idleTCP(n int) (probe.IdleResult, error) {
	res := probe.IdleResult{Transport: "tcp", Conns: n}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	defer ln.Close()
	var wg sync.WaitGroup
	accepted := make(chan net.Conn, n)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
			wg.Go(func() {
				var b [1]byte
				c.Read(b[:]) // until the client closes
				c.Close()
			})
		}
	})
	before := probe.TakeMemSnapshot()
	start := time.Now()
	clients := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
		ln.Close()
		wg.Wait()
	}()
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return res, err
		}
		clients = append(clients, c)
	}
	for range n {
		<-accepted // the server holds them all
	}
	res.Open = time.Since(start)
	after := probe.TakeMemSnapshot()
	res.PerConn = probe.PerConnection(before, after, n)
	return res, nil
}
