package probe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/ssevsws/ssevsws/compare"
)

// MemSnapshot is this process's memory and goroutines at one moment, after
// garbage collection: what is left is what is really held.
type MemSnapshot struct {
	Heap       uint64 // bytes of live heap objects (MemStats.HeapAlloc after GC)
	Stack      uint64 // bytes of goroutine stacks (MemStats.StackInuse)
	Goroutines int
	RSS        int64 // resident set size in bytes, from /proc/self/status; -1 where unknown
}

// TakeMemSnapshot waits until the number of goroutines has stopped changing
// (handlers have parked), collects garbage, returns freed memory to the
// operating system so that RSS means something, and reads the numbers.
func TakeMemSnapshot() MemSnapshot {
	settleGoroutines(2 * time.Second)
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return MemSnapshot{Heap: ms.HeapAlloc, Stack: ms.StackInuse, Goroutines: runtime.NumGoroutine(), RSS: readRSS()}
}

// settleGoroutines waits, up to max, until runtime.NumGoroutine gives the
// same answer several times in a row.
func settleGoroutines(max time.Duration) {
	deadline := time.Now().Add(max)
	last, same := -1, 0
	for same < 5 && time.Now().Before(deadline) {
		n := runtime.NumGoroutine()
		if n == last {
			same++
		} else {
			last, same = n, 0
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readRSS reads VmRSS from /proc/self/status (Linux); -1 elsewhere.
func readRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			kb, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// PerConn is the difference between two snapshots, per connection.
type PerConn struct {
	Heap       float64 `json:"heap_bytes"`
	Stack      float64 `json:"stack_bytes"`
	Goroutines float64 `json:"goroutines"`
	RSS        float64 `json:"rss_bytes"` // -1 where RSS cannot be read
}

// PerConnection divides the growth from before to after by n connections.
func PerConnection(before, after MemSnapshot, n int) PerConn {
	f := float64(n)
	p := PerConn{
		Heap:       (float64(after.Heap) - float64(before.Heap)) / f,
		Stack:      (float64(after.Stack) - float64(before.Stack)) / f,
		Goroutines: float64(after.Goroutines-before.Goroutines) / f,
		RSS:        -1,
	}
	if before.RSS >= 0 && after.RSS >= 0 {
		// RSS moves by pages, and the collector returns freed ones: a
		// growth below zero is a cost too small for this many connections
		// to show, not a saving.
		p.RSS = max(0, float64(after.RSS-before.RSS)/f)
	}
	return p
}

// IdleResult is what idle connections cost the server.
type IdleResult struct {
	Transport compare.Transport `json:"transport"`
	Conns     int               `json:"conns"`
	Open      time.Duration     `json:"open_ns"` // time to open them all
	PerConn
}

// Crowd is many idle RawConns: each has had its first tick, none holds a
// goroutine or a buffer on the client side.
type Crowd struct {
	Conns []*RawConn
}

// OpenCrowd opens n connections of transport t, with a few dialling at once.
func OpenCrowd(ctx context.Context, tg *Target, t compare.Transport, n int) (*Crowd, error) {
	cr := &Crowd{Conns: make([]*RawConn, n)}
	const workers = 4
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan int)
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range workers {
		wg.Go(func() {
			for i := range next {
				c, err := DialRaw(ctx, tg, t, "")
				if err == nil {
					err = c.Idle()
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("connection %d: %w", i, err))
					mu.Unlock()
					cancel()
					continue
				}
				cr.Conns[i] = c
			}
		})
	}
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 || ctx.Err() != nil {
		cr.Close()
		return nil, errors.Join(append(errs, ctx.Err())...)
	}
	return cr, nil
}

// Close closes every connection.
func (cr *Crowd) Close() {
	for _, c := range cr.Conns {
		if c != nil {
			c.Close()
		}
	}
}

// Idle measures what n idle connections of transport t cost srv, which
// must run in this process (memory is measured from inside): heap, stacks,
// goroutines and RSS per connection, after garbage collection. It refuses to
// report unless the server holds every one of the n connections.
//
// The clients live in the same process, so the numbers include the client
// end of each socket: a few hundred bytes of heap and no goroutine (see
// RawConn.Idle). The kernel's socket buffers are not in the process's RSS.
func Idle(ctx context.Context, srv *compare.Server, tg *Target, t compare.Transport, n int) (IdleResult, error) {
	res := IdleResult{Transport: t, Conns: n}
	if limit, err := RaiseFileLimit(); err == nil && uint64(2*n+64) > limit {
		return res, fmt.Errorf("probe: %d connections need %d file descriptors in this process (client and server ends); the limit is %d", n, 2*n+64, limit)
	}
	open0 := settledOpen(srv, t) // connections of earlier probes may still be closing
	before := TakeMemSnapshot()
	start := time.Now()
	cr, err := OpenCrowd(ctx, tg, t, n)
	if err != nil {
		return res, err
	}
	defer func() {
		cr.Close()
		waitOpen(context.WithoutCancel(ctx), srv, t, open0, 10*time.Second)
	}()
	res.Open = time.Since(start)
	if err := waitOpen(ctx, srv, t, open0+int64(n), 5*time.Second); err != nil {
		return res, fmt.Errorf("probe: the server does not hold all %d %s connections: %w", n, t.Name(), err)
	}
	after := TakeMemSnapshot()
	if got := srv.Stats().Of(t).Open; got != open0+int64(n) {
		return res, fmt.Errorf("probe: the server holds %d %s connections, want %d", got-open0, t.Name(), n)
	}
	res.PerConn = PerConnection(before, after, n)
	return res, nil
}

// settledOpen waits, up to 5s, until srv's number of open connections of
// transport t has not changed for 100ms, and returns it.
func settledOpen(srv *compare.Server, t compare.Transport) int64 {
	last, since := srv.Stats().Of(t).Open, time.Now()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		if n := srv.Stats().Of(t).Open; n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= 100*time.Millisecond {
			break
		}
	}
	return last
}

// waitOpen is srv.WaitOpen within timeout.
func waitOpen(ctx context.Context, srv *compare.Server, t compare.Transport, want int64, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return srv.WaitOpen(ctx, t, want)
}
