package benchmarks

import (
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// BenchmarkFanout publishes one tick to N connected clients over real
// loopback sockets and waits until every client has read all of its bytes.
// One op is one tick to all N clients. The clients run in a separate
// process (this test binary, started again), so that everything measured in
// this process is the server's.
//
//   - server-ns/event/client: CPU time (user + system) this process spent
//     per delivered tick per client: the server's work, kernel writes
//     included. The time a tick costs the server for one more client.
//   - floor-ns/event/client: the same for the raw floor: the same bytes
//     written to N plain TCP connections by one plain loop, one write(2) per
//     socket, no goroutine, queue or deadline per connection. That is the
//     least any server can spend to put a tick on N loopback sockets, and
//     on loopback a write also runs the receiver's TCP path, so it is most
//     of the cost. Measured in the same run, interleaved tick by tick with
//     the real thing.
//   - x-floor: server-ns ÷ floor-ns: everything the server spends beyond
//     the raw writes (HTTP streaming or WebSocket framing, the hub, a
//     goroutine per connection), as a ratio.
//   - ns/event/client: wall time from publishing until the last client had
//     its bytes, divided by N; ns/op is that wall time for all N. Clients and
//     server share the same CPUs, so this includes the clients' reading.
//   - allocs/event/client: heap allocations per delivered tick per client.
//     allocs/op and B/op are per tick to all N (the tick's encoding).
//   - wire-B/event: bytes each client read per tick, counted on the socket.
//
// What to notice: a tick costs each client a few microseconds of server
// time and no allocation, on either transport, because the tick is encoded
// once and the same bytes go to every connection. Most of that time is the
// kernel's: one write system call per client, which the floor pays too, so
// x-floor is what the design costs on top; watch it grow with N, as the
// server's per-connection work stops fitting in the caches. SSE puts about
// a third more bytes on the wire than WebSocket (the id and event lines,
// the chunk framing) and the time barely notices.
//
// clients=5000 is the load of the steady-state acceptance figures
// (BenchmarkSteady): each process, this one and the clients', holds 2N
// sockets, about 10,100 files.
func BenchmarkFanout(b *testing.B) {
	for _, t := range compare.Transports {
		for _, n := range []int{1, 100, 1000, 2000, 5000} {
			b.Run(fmt.Sprintf("%s/clients=%d", name(t), n), func(b *testing.B) {
				benchFanout(b, t, n)
			})
		}
	}
}

func benchFanout(b *testing.B, t compare.Transport, n int) {
	if limit, err := probe.RaiseFileLimit(); err != nil || limit < uint64(2*n+100) {
		b.Skipf("need %d open files, have %d (%v)", 2*n+100, limit, err)
	}
	if _, ok := cpuTime(); !ok {
		b.Skip("no process CPU time on this system")
	}
	s := startServer(b, quietConfig())
	floor, err := newTCPFloor()
	if err != nil {
		b.Fatal(err)
	}
	defer floor.close()
	// Accept while the clients dial: a listen queue (somaxconn, often
	// 4096) cannot hold them all.
	accepted := make(chan error, 1)
	go func() { accepted <- floor.accept(n) }()
	clients, err := startClients(t, n, s.URL("http", "/"), floor.ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := clients.close(); err != nil {
			b.Error(err)
		}
	}()
	if err := <-accepted; err != nil {
		b.Fatal(err)
	}
	s.waitOpen(b, t, int64(n))

	var realWall, realCPU, floorCPU time.Duration
	var allocs, bytes uint64
	var m0, m1 runtime.MemStats
	var size int64
	round := func(which byte, frame []byte, publish func()) (wall, cpu time.Duration) {
		if err := clients.expect(which, len(frame)); err != nil {
			b.Fatal(err)
		}
		c0, _ := cpuTime()
		start := time.Now()
		publish()
		if err := clients.wait(); err != nil {
			b.Fatal(err)
		}
		wall = time.Since(start)
		c1, _ := cpuTime()
		return wall, c1 - c0
	}
	runReal := func(frame []byte) {
		runtime.ReadMemStats(&m0)
		wall, cpu := round('r', frame, func() { s.PublishNext() })
		runtime.ReadMemStats(&m1)
		realWall += wall
		realCPU += cpu
		allocs += m1.Mallocs - m0.Mallocs
		bytes += m1.TotalAlloc - m0.TotalAlloc
	}
	runFloor := func(frame []byte) {
		_, cpu := round('f', frame, func() { floor.publish(frame) })
		floorCPU += cpu
	}
	// Two rounds to warm up, not counted: the first writes on new
	// connections may allocate what later ones reuse.
	var warm int64 // bytes of the warm-up rounds, per client
	for range 2 {
		frame := probe.WireTick(t, s.Clock().Tick(s.Stats().Seq+1))
		warm += int64(len(frame))
		round('r', frame, func() { s.PublishNext() })
		round('f', frame, func() { floor.publish(frame) })
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		frame := probe.WireTick(t, s.Clock().Tick(s.Stats().Seq+1))
		size += int64(len(frame))
		if i%2 == 0 { // alternate, so that neither always runs on a warmer cache
			runReal(frame)
			runFloor(frame)
		} else {
			runFloor(frame)
			runReal(frame)
		}
		i++
	}
	real, fl, err := clients.totals()
	if err != nil {
		b.Fatal(err)
	}
	real, fl = real-warm*int64(n), fl-warm*int64(n)
	if want := size * int64(n); real != want || fl != want {
		b.Fatalf("clients read %d bytes (floor: %d), want exactly %d: something else was on the wire", real, fl, want)
	}
	ops := float64(b.N)
	events := ops * float64(n)
	b.ReportMetric(float64(realWall)/ops, "ns/op")
	b.ReportMetric(float64(allocs)/ops, "allocs/op")
	b.ReportMetric(float64(bytes)/ops, "B/op")
	b.ReportMetric(float64(realCPU)/events, "server-ns/event/client")
	b.ReportMetric(float64(floorCPU)/events, "floor-ns/event/client")
	b.ReportMetric(float64(realCPU)/float64(floorCPU), "x-floor")
	b.ReportMetric(float64(realWall)/events, "ns/event/client")
	b.ReportMetric(float64(allocs)/events, "allocs/event/client")
	b.ReportMetric(float64(real)/events, "wire-B/event")
}

// tcpFloor is the raw floor of the fan-out: N plain TCP connections and one
// loop that writes the same bytes to each in turn, in the publisher's own
// goroutine. No queue, goroutine or deadline per connection: whatever a
// server does beyond this loop is its design's cost. (The loop waits for a
// socket that cannot take the bytes; the benchmark's clients always read.)
type tcpFloor struct {
	ln    net.Listener
	conns []net.Conn
}

func newTCPFloor() (*tcpFloor, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &tcpFloor{ln: ln}, nil
}

// accept takes n connections.
func (f *tcpFloor) accept(n int) error {
	for range n {
		c, err := f.ln.Accept()
		if err != nil {
			return err
		}
		f.conns = append(f.conns, c)
	}
	return nil
}

// publish writes frame to every connection, one after the other. A write
// that fails leaves that client short of its bytes, and the round fails.
func (f *tcpFloor) publish(frame []byte) {
	for _, c := range f.conns {
		c.Write(frame)
	}
}

func (f *tcpFloor) close() {
	f.ln.Close()
	for _, c := range f.conns {
		c.Close()
	}
}
