package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe/internal/wire"
)

// SweepClientEnv, set to anything in a process's environment, tells a
// binary that knows about it (ssevsws, and the tests that run Sweep) to be
// Sweep's client process: to call RunSweepClient on its standard input
// and output and exit, instead of doing what its arguments say.
const SweepClientEnv = "SSEVSWS_SWEEP_CLIENT"

// SweepClientCommand is the usual SweepOptions.ClientProcess: this very
// binary, started again with args and SweepClientEnv set, its standard
// error shared with this process's.
func SweepClientCommand(args ...string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), SweepClientEnv+"=1")
	cmd.Stderr = os.Stderr
	return cmd, nil
}

// The client process is driven one line at a time:
//
//	→ "dial server|floor T N HOST:PORT"  open N clients of transport T
//	← "ok"                               all N have their first tick (server) or head (floor)
//	→ "expect SIZE"                      each client gets SIZE more bytes
//	← "go"                               ready: publish
//	← "done"                             every client has its bytes
//	→ "close"                            close every client
//	← "total BYTES"                      bytes they read since they opened, over all rounds
//
// and it exits at the end of its input. A failure is one line, "error: "
// and why, after which the process exits.

// RunSweepClient is Sweep's client process: it reads commands from in and
// answers on out (see above) until in ends. Its clients are as lean as a
// client can be: after the handshake each is a socket and a goroutine that
// reads into a small buffer and counts, so that the process keeps up with
// the server on a machine they share.
func RunSweepClient(in io.Reader, out io.Writer) error {
	fail := func(err error) error {
		fmt.Fprintf(out, "error: %v\n", err)
		return err
	}
	limit, _ := RaiseFileLimit()
	var sk *Sink
	defer func() {
		if sk != nil {
			sk.Close()
		}
	}()
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 5 && f[0] == "dial" && sk == nil:
			n, err := strconv.Atoi(f[3])
			if err != nil || n < 1 {
				return fail(fmt.Errorf("bad count %q", f[3]))
			}
			if uint64(n+sweepSpareFDs) > limit {
				return fail(fmt.Errorf("%d clients need %d open files, the limit is %d", n, n+sweepSpareFDs, limit))
			}
			if sk, err = dialSweepClients(f[1], compare.Transport(f[2]), n, f[4]); err != nil {
				return fail(err)
			}
			fmt.Fprintln(out, "ok")
		case len(f) == 2 && f[0] == "expect" && sk != nil:
			size, err := strconv.Atoi(f[1])
			if err != nil || size < 1 {
				return fail(fmt.Errorf("bad size %q", f[1]))
			}
			sk.Expect(size)
			fmt.Fprintln(out, "go")
			if err := sk.Wait(30 * time.Second); err != nil {
				return fail(err)
			}
			fmt.Fprintln(out, "done")
		case len(f) == 1 && f[0] == "close" && sk != nil:
			sk.Close()
			fmt.Fprintf(out, "total %d\n", sk.Total())
			sk = nil
		default:
			return fail(fmt.Errorf("unexpected command %q", sc.Text()))
		}
	}
	return sc.Err()
}

// dialSweepClients opens n clients of transport t: to the server ("server"),
// probe's own RawConns read up to their first tick; to the floor
// ("floor"), a request and its response head.
func dialSweepClients(kind string, t compare.Transport, n int, addr string) (*Sink, error) {
	if t != compare.SSE && t != compare.WS {
		return nil, fmt.Errorf("unknown transport %q", t)
	}
	sk := NewSink(n)
	switch kind {
	case "server":
		tg, err := NewTarget("http://" + addr)
		if err != nil {
			return nil, err
		}
		defer tg.Close()
		crowd, err := OpenCrowd(context.Background(), tg, t, n)
		if err != nil {
			return nil, err
		}
		for _, c := range crowd.Conns {
			nc, err := c.NetConn()
			if err != nil {
				crowd.Close()
				sk.Close()
				return nil, err
			}
			sk.Add(nc)
		}
	case "floor":
		for range n {
			nc, err := dialFloor(t, addr)
			if err != nil {
				sk.Close()
				return nil, err
			}
			sk.Add(nc)
		}
	default:
		return nil, fmt.Errorf("unknown kind of server %q", kind)
	}
	return sk, nil
}

// dialFloor opens one connection to the floor: the request a browser
// would send, minus every optional header, and the answer's head.
func dialFloor(t compare.Transport, addr string) (net.Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	req := "GET /sse HTTP/1.1\r\nHost: " + addr + "\r\nAccept: text/event-stream\r\n\r\n"
	if t == compare.WS {
		key := wire.NewKey()
		req = "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + string(key[:]) + "\r\n\r\n"
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return nil, err
	}
	// The floor sends nothing after the head until the first round, so
	// the reader holds nothing that the Sink would miss.
	head, err := wire.ReadHead(bufio.NewReaderSize(nc, 512))
	if err == nil && head.Status != 200 && head.Status != 101 {
		err = fmt.Errorf("floor answered HTTP %d", head.Status)
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return nc, nil
}

// sweepClient is the client process as Sweep drives it.
type sweepClient struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	stop func() bool // stops killing the process when the context ends
}

func startSweepClient(ctx context.Context, mk func() (*exec.Cmd, error)) (*sweepClient, error) {
	cmd, err := mk()
	if err != nil {
		return nil, fmt.Errorf("probe: sweep client process: %w", err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("probe: sweep client process: %w", err)
	}
	// An interrupted sweep kills the process, which ends any read of its
	// answers at once.
	stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
	return &sweepClient{cmd: cmd, in: in, out: bufio.NewReader(out), stop: stop}, nil
}

// do sends a command made of words and reads the answer, which must be
// want.
func (c *sweepClient) do(ctx context.Context, want string, words ...string) error {
	if _, err := io.WriteString(c.in, strings.Join(words, " ")+"\n"); err != nil {
		return c.failed(ctx, err)
	}
	return c.reply(ctx, want)
}

// reply reads one answer, which must be want.
func (c *sweepClient) reply(ctx context.Context, want string) error {
	line, err := c.line(ctx)
	if err == nil && line != want {
		err = fmt.Errorf("client process said %q, want %q", line, want)
	}
	return err
}

func (c *sweepClient) line(ctx context.Context) (string, error) {
	line, err := c.out.ReadString('\n')
	if err != nil {
		return "", c.failed(ctx, err)
	}
	line = strings.TrimSuffix(line, "\n")
	if msg, ok := strings.CutPrefix(line, "error: "); ok {
		return "", fmt.Errorf("client process: %s", msg)
	}
	return line, nil
}

// failed explains a broken pipe: the sweep was interrupted, or the process
// died.
func (c *sweepClient) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return fmt.Errorf("client process: %w", err)
}

// closeAll closes every client and returns the bytes they read.
func (c *sweepClient) closeAll(ctx context.Context) (int64, error) {
	if _, err := io.WriteString(c.in, "close\n"); err != nil {
		return 0, c.failed(ctx, err)
	}
	line, err := c.line(ctx)
	if err != nil {
		return 0, err
	}
	n, ok := strings.CutPrefix(line, "total ")
	total, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil {
		return 0, fmt.Errorf("client process said %q, want a total", line)
	}
	return total, nil
}

// close ends the process's input and waits for it to exit; with kill, it
// kills it first, and the way it ended is no error.
func (c *sweepClient) close(kill bool) error {
	c.stop()
	if kill {
		c.cmd.Process.Kill()
	}
	c.in.Close()
	err := c.cmd.Wait()
	if kill {
		return nil
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("probe: sweep client process: %w", err)
	}
	return err
}
