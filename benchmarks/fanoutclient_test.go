package benchmarks

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// sinkTimeout bounds a round of the fan-out's clients.
const sinkTimeout = 30 * time.Second

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
	// The benchmark accepts the floor's connections while they are
	// dialled; the process says ready once it has dialled them all.
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
	probe.RaiseFileLimit()
	tg, err := probe.NewTarget(server)
	if err != nil {
		return fail(err)
	}
	crowd, err := probe.OpenCrowd(context.Background(), tg, t, n)
	if err != nil {
		return fail(err)
	}
	sinks := map[byte]*probe.Sink{'r': probe.NewSink(n), 'f': probe.NewSink(n)}
	for _, c := range crowd.Conns {
		nc, err := c.NetConn()
		if err != nil {
			return fail(err)
		}
		sinks['r'].Add(nc)
	}
	for range n {
		c, err := net.Dial("tcp", floorAddr)
		if err != nil {
			return fail(err)
		}
		sinks['f'].Add(c)
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
		sinks[which].Expect(size)
		fmt.Fprintln(out, "go")
		if err := sinks[which].Wait(sinkTimeout); err != nil {
			return fail(err)
		}
		fmt.Fprintln(out, "done")
	}
	fmt.Fprintf(out, "totals %d %d\n", sinks['r'].Total(), sinks['f'].Total())
	sinks['r'].Close()
	sinks['f'].Close()
	return 0
}
