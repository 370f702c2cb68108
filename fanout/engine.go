package fanout

import (
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Config's zero values.
const (
	DefaultWriteTimeout = 10 * time.Second
	DefaultMaxQueue     = 64
)

// maxKinds is how many kinds of connection one Engine serves: each
// broadcast carries one frame per kind (for example the same event as an
// SSE chunk and as a WebSocket frame).
const maxKinds = 4

// Config tunes an Engine. The zero value is usable.
type Config struct {
	// WriteTimeout bounds each frame's write while a connection is behind:
	// one that takes nothing for this long is closed with ErrTooSlow.
	WriteTimeout time.Duration
	// MaxQueue is how many frames a connection may have waiting behind its
	// socket, besides those its catch-up goroutine is writing out; one more
	// closes it with ErrTooSlow. It bounds memory per client: frames are
	// shared, so each waiting one costs a slice header.
	MaxQueue int
	// Workers is the number of shard workers. 0 means GOMAXPROCS − 1, at
	// least 1: a loopback write also runs the receiver's side of TCP, and
	// on a small machine the readers need a core as much as the writers.
	Workers int
}

// Engine delivers broadcasts to many connections. See the package doc.
type Engine struct {
	cfg    Config
	shards []*shard
	mu     sync.RWMutex // guards next and closed; read-held while handing over jobs
	next   int
	closed bool
	wg     sync.WaitGroup

	behind [maxKinds]atomic.Int64 // connections on the slow path now, by kind
}

// Behind says how many connections of a kind are behind now: on the slow
// path, with a goroutine writing out their queue.
func (e *Engine) Behind(kind int) int64 {
	if kind < 0 || kind >= maxKinds {
		return 0
	}
	return e.behind[kind].Load()
}

// New starts an Engine with cfg's workers. Call Close to stop them.
func New(cfg Config) *Engine {
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = DefaultMaxQueue
	}
	if cfg.Workers <= 0 {
		cfg.Workers = max(1, runtime.GOMAXPROCS(0)-1)
	}
	e := &Engine{cfg: cfg}
	for range cfg.Workers {
		sh := &shard{jobs: make(chan job, 64)}
		e.shards = append(e.shards, sh)
		e.wg.Go(sh.run)
	}
	return e
}

// ErrEngineClosed is Add's error after Close.
var ErrEngineClosed = errors.New("fanout: engine closed")

// Add takes nc into the Engine as a connection of the given kind (0 to 3,
// the index of its frame in a broadcast). It takes no broadcast until Join.
// nc is written to directly if it is a plain socket (a *net.TCPConn, or
// anything with a syscall.RawConn), through the slow path otherwise.
// The caller keeps reading nc; the Engine only writes, and closes it.
func (e *Engine) Add(nc net.Conn, kind int) (*Conn, error) {
	if kind < 0 || kind >= maxKinds {
		return nil, errors.New("fanout: kind out of range")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrEngineClosed
	}
	sh := e.shards[e.next%len(e.shards)]
	e.next++
	return &Conn{e: e, sh: sh, nc: nc, raw: newRawWriter(nc), kind: kind, idx: -1}, nil
}

// Broadcast hands frames[k] to every joined connection of kind k whose
// Join was at seq or before, and returns without waiting. The workers write
// in the order of the calls. When a shard is done, delivered (if not nil) is
// called from its worker with how many connections of each kind took the
// frame (wrote it, or queued it): once per shard, so it must add, not set.
// frames must not be changed afterwards.
// After Close it does nothing.
func (e *Engine) Broadcast(seq int64, frames [][]byte, delivered func(perKind []int)) {
	e.handOver(job{seq: seq, frames: frames, delivered: delivered})
}

// Sync waits until every broadcast handed over before it is written.
func (e *Engine) Sync() {
	var wg sync.WaitGroup
	wg.Add(len(e.shards))
	if !e.handOver(job{barrier: &wg}) {
		return
	}
	wg.Wait()
}

// handOver queues j on every shard, in order with earlier jobs, unless the
// Engine is closed.
func (e *Engine) handOver(j job) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return false
	}
	for _, sh := range e.shards {
		sh.jobs <- j
	}
	return true
}

// Close stops the workers after the broadcasts already handed over. It does
// not close connections: their owners do.
func (e *Engine) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	e.mu.Unlock()
	for _, sh := range e.shards {
		close(sh.jobs)
	}
	e.wg.Wait()
}

// shard is one worker's share of the connections.
type shard struct {
	jobs chan job

	mu    sync.Mutex
	conns []*Conn

	snapshot []*Conn // the worker's copy of conns, reused
}

type job struct {
	seq       int64
	frames    [][]byte
	delivered func([]int)
	barrier   *sync.WaitGroup
}

// run is the worker: for each broadcast, one Write per connection, on a
// copy of the list so that Join and leave never wait for the writes.
func (sh *shard) run() {
	for j := range sh.jobs {
		if j.barrier != nil {
			j.barrier.Done()
			continue
		}
		sh.mu.Lock()
		sh.snapshot = append(sh.snapshot[:0], sh.conns...)
		sh.mu.Unlock()
		var counts [maxKinds]int
		at := now()
		for _, c := range sh.snapshot {
			if j.seq < c.from || c.kind >= len(j.frames) || j.frames[c.kind] == nil {
				continue
			}
			if c.write(j.frames[c.kind], at) == nil {
				counts[c.kind]++
			}
		}
		clear(sh.snapshot)
		if j.delivered != nil {
			j.delivered(counts[:])
		}
	}
}
