package benchmarks

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
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
//   - floor-ns/event/client: the same for the same bytes written to N plain
//     TCP connections, by one goroutine per connection fed through a bounded
//     channel, as the hub feeds the server's connections. Measured in the
//     same run, interleaved tick by tick with the real thing.
//   - x-floor: server-ns ÷ floor-ns, the overhead of HTTP streaming (SSE)
//     or of WebSocket framing over raw TCP, as a ratio.
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
// kernel's: one write system call per client, which raw TCP pays too. SSE
// puts about a third more bytes on the wire than WebSocket (the id and event
// lines, the chunk framing) and the time barely notices.
func BenchmarkFanout(b *testing.B) {
	for _, t := range compare.Transports {
		for _, n := range []int{1, 100, 1000, 2000} {
			b.Run(fmt.Sprintf("%s/clients=%d", name(t), n), func(b *testing.B) {
				benchFanout(b, t, n)
			})
		}
	}
}

func benchFanout(b *testing.B, t compare.Transport, n int) {
	if limit, err := compare.RaiseFileLimit(); err != nil || limit < uint64(2*n+100) {
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
	clients, err := startClients(t, n, s.tg.Base.String(), floor.ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := clients.close(); err != nil {
			b.Error(err)
		}
	}()
	if err := floor.accept(n); err != nil {
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
		frame := wireTick(t, s.Clock().Tick(s.Stats().Seq+1))
		warm += int64(len(frame))
		round('r', frame, func() { s.PublishNext() })
		round('f', frame, func() { floor.publish(frame) })
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		frame := wireTick(t, s.Clock().Tick(s.Stats().Seq+1))
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

// wireTick is tick as transport t puts it on the wire: for SSE one chunk of
// the chunked HTTP body, for WebSocket one unmasked text frame.
func wireTick(t compare.Transport, tick compare.Tick) []byte {
	if t == compare.SSE {
		b := strconv.AppendInt(nil, int64(len(tick.SSE)), 16)
		b = append(b, "\r\n"...)
		b = append(b, tick.SSE...)
		return append(b, "\r\n"...)
	}
	return append([]byte{0x81, byte(len(tick.WS))}, tick.WS...)
}

// sink is N clients (in the client process) that read and count bytes. Each round every client
// must read want more bytes; the last one to get them wakes the publisher.
type sink struct {
	n       int
	want    atomic.Int64 // bytes each client must have read by the end of this round
	pending atomic.Int64 // clients still short of want
	total   atomic.Int64 // bytes read by all clients, all rounds
	done    chan struct{}
	timeout *time.Timer
	conns   []net.Conn
	wg      sync.WaitGroup
}

func newSink(n int) *sink {
	return &sink{n: n, done: make(chan struct{}, 1), timeout: time.NewTimer(time.Hour)}
}

func (s *sink) add(nc net.Conn) {
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

// expect starts a round in which each client gets size more bytes.
func (s *sink) expect(size int) {
	s.pending.Store(int64(s.n))
	s.want.Add(int64(size))
}

// wait waits until every client has its bytes. It allocates nothing, so
// that the allocations counted around it are the server's.
func (s *sink) wait() error {
	s.timeout.Reset(30 * time.Second)
	defer s.timeout.Stop()
	select {
	case <-s.done:
		return nil
	case <-s.timeout.C:
		return fmt.Errorf("%d of %d clients did not get their %d bytes", s.pending.Load(), s.n, s.want.Load())
	}
}

func (s *sink) close() {
	for _, c := range s.conns {
		c.Close()
	}
	s.wg.Wait()
}

// tcpFloor is the least a Go server can do to send the same bytes to N
// clients the way the hub does: a bounded queue and a writer goroutine per
// connection, a non-blocking send into each queue, and one Write per tick.
type tcpFloor struct {
	ln     net.Listener
	queues []chan []byte
	mu     sync.Mutex
	wg     sync.WaitGroup
}

func newTCPFloor() (*tcpFloor, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &tcpFloor{ln: ln}, nil
}

// accept takes n connections and starts a writer for each.
func (f *tcpFloor) accept(n int) error {
	for range n {
		c, err := f.ln.Accept()
		if err != nil {
			return err
		}
		q := make(chan []byte, 64)
		f.queues = append(f.queues, q)
		f.wg.Go(func() {
			defer c.Close()
			for frame := range q {
				if _, err := c.Write(frame); err != nil {
					return
				}
			}
		})
	}
	return nil
}

func (f *tcpFloor) publish(frame []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, q := range f.queues {
		select {
		case q <- frame:
		default: // the hub drops a client here; the floor's never fall behind
		}
	}
}

func (f *tcpFloor) close() {
	f.ln.Close()
	for _, q := range f.queues {
		close(q)
	}
	f.wg.Wait()
}

// clientsEnv, when set, makes the test binary the client process of
// BenchmarkFanout (see TestMain): "transport n serverURL floorAddr".
const clientsEnv = "SSEVSWS_BENCH_FANOUT_CLIENTS"

// clientProc is the client process as the benchmark drives it, one line
// at a time on its standard input and output:
//
//	→ "r SIZE" or "f SIZE"  each real (or floor) client gets SIZE more bytes
//	← "go"                  ready: publish
//	← "done"                every client has its bytes
//	→ "q"                   quit
//	← "totals REAL FLOOR"   bytes read by all clients, over all rounds
type clientProc struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	line []byte
}

// startClients starts the client process and waits until its 2n
// connections are open: n of transport t to the server, n to the floor.
func startClients(t compare.Transport, n int, server, floor string) (*clientProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %s %s", clientsEnv, t, n, server, floor))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &clientProc{cmd: cmd, in: in, out: bufio.NewReader(out)}
	// The floor's connections wait in the listen queue until accept; the
	// process says ready once it has dialled them all.
	if err := p.read("ready"); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *clientProc) expect(which byte, size int) error {
	p.line = strconv.AppendInt(append(p.line[:0], which, ' '), int64(size), 10)
	p.line = append(p.line, '\n')
	if _, err := p.in.Write(p.line); err != nil {
		return err
	}
	return p.read("go")
}

// wait reads "done". It allocates nothing, so that the allocations counted
// around it are the server's.
func (p *clientProc) wait() error { return p.read("done") }

func (p *clientProc) read(want string) error {
	line, err := p.out.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("client process: %w", err)
	}
	if string(line[:len(line)-1]) != want {
		return fmt.Errorf("client process said %q, want %q", line, want)
	}
	return nil
}

func (p *clientProc) totals() (real, floor int64, err error) {
	if _, err := p.in.Write([]byte("q\n")); err != nil {
		return 0, 0, err
	}
	line, err := p.out.ReadString('\n')
	if err != nil {
		return 0, 0, fmt.Errorf("client process: %w", err)
	}
	_, err = fmt.Sscanf(line, "totals %d %d", &real, &floor)
	return real, floor, err
}

func (p *clientProc) close() error {
	p.in.Close()
	return p.cmd.Wait()
}

// runClientProcess is the client process: spec is clientsEnv's value.
func runClientProcess(spec string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "fan-out client process:", err)
		return 1
	}
	var t compare.Transport
	var n int
	var server, floorAddr string
	if _, err := fmt.Sscan(spec, &t, &n, &server, &floorAddr); err != nil {
		return fail(err)
	}
	compare.RaiseFileLimit()
	tg, err := compare.NewTarget(server)
	if err != nil {
		return fail(err)
	}
	crowd, err := compare.OpenCrowd(context.Background(), tg, t, n)
	if err != nil {
		return fail(err)
	}
	sinks := map[byte]*sink{'r': newSink(n), 'f': newSink(n)}
	for _, c := range crowd.Conns {
		nc, err := c.NetConn()
		if err != nil {
			return fail(err)
		}
		sinks['r'].add(nc)
	}
	for range n {
		c, err := net.Dial("tcp", floorAddr)
		if err != nil {
			return fail(err)
		}
		sinks['f'].add(c)
	}
	in := bufio.NewScanner(os.Stdin)
	out := os.Stdout
	fmt.Fprintln(out, "ready")
	for in.Scan() {
		var which byte
		var size int
		if line := in.Text(); line == "q" {
			break
		} else if _, err := fmt.Sscanf(line, "%c %d", &which, &size); err != nil || sinks[which] == nil {
			return fail(fmt.Errorf("bad command %q", line))
		}
		sinks[which].expect(size)
		fmt.Fprintln(out, "go")
		if err := sinks[which].wait(); err != nil {
			return fail(err)
		}
		fmt.Fprintln(out, "done")
	}
	fmt.Fprintf(out, "totals %d %d\n", sinks['r'].total.Load(), sinks['f'].total.Load())
	sinks['r'].close()
	sinks['f'].close()
	return 0
}
